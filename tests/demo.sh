#!/bin/bash
# demo.sh - `make demo`: a private PostgreSQL + Dovecot + OpenSMTPD on
# loopback, tickd on top, three customer mails, and what came of them:
# the tickets, the acknowledgement and an escalation to the manager.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=$(mktemp -d /tmp/tickd-demo.XXXXXX)
TICKD=$ROOT/build/tickd
TICKCTL=$ROOT/build/tickctl
PY=/usr/bin/python3
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
cleanup() {
	[ -n "${PID:-}" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	"$ROOT/tests/stack.sh" stop "$DIR" >/dev/null 2>&1 || true
	rm -rf "$DIR"
}
trap cleanup EXIT

say "starting PostgreSQL, Dovecot and OpenSMTPD on 127.0.0.1 in $DIR"
"$ROOT/tests/stack.sh" start "$DIR"
. "$DIR/env"
export IMAP_HOST IMAP_PORT MAIL_PASSWORD STACK_DIR
echo "$MAIL_PASSWORD" > "$DIR/imap-password"
cat > "$DIR/tickd.conf" <<CONF
database: { conninfo = "$DATABASE_URL"; };
imap: { url = "imap://127.0.0.1:$IMAP_PORT"; user = "support";
        password_file = "$DIR/imap-password"; starttls = false;
        poll_interval = 2; };
smtp: { url = "smtp://127.0.0.1:$SMTP_PORT"; from = "support@example.com";
        from_name = "Example Support"; starttls = false; };
tickets: { subject_tag = "Example"; secret_file = "$DIR/secret"; };
people = ( { address = "mary@example.com"; name = "Mary Manager";
             role = "manager"; },
           { address = "alice@example.com"; name = "Alice Agent";
             role = "agent"; } );
calendars = ( { name = "always"; timezone = "Europe/Berlin";
  hours = { mon = "00:00-24:00"; tue = "00:00-24:00"; wed = "00:00-24:00";
            thu = "00:00-24:00"; fri = "00:00-24:00"; sat = "00:00-24:00";
            sun = "00:00-24:00"; }; } );
sla: { policies = ( { first_response = 60; next_response = 240;
                      resolution = 2400; } ); };
escalation: { batch_minutes = 15; chains = ( {
  immediate = [ "mary@example.com" ];
  levels = ( { after = 0; to = [ "alice@example.com" ]; },
             { after = 60; to = [ "mary@example.com" ]; } ); } ); };
templates: { dir = "$ROOT/conf/templates"; };
CONF
say "tickd --check-config, tickctl init-secret, tickctl migrate"
"$TICKCTL" -c "$DIR/tickd.conf" init-secret
"$TICKD" -c "$DIR/tickd.conf" --check-config
"$TICKCTL" -c "$DIR/tickd.conf" migrate

say "starting tickd (IDLE on INBOX)"
"$TICKD" -c "$DIR/tickd.conf" 2> "$DIR/tickd.log" &
PID=$!
sleep 1

say "customers write to support@example.com"
send() { "$ROOT/tests/stack.sh" send "$DIR" "$1" support@example.com "$2" >/dev/null; }
cat > "$DIR/m1.eml" <<'MAIL'
From: Carla Customer <carla@example.com>
To: support@example.com
Subject: Cannot log in
Message-ID: <demo-1@example.com>
Content-Type: text/plain; charset=utf-8

Hello, since this morning I cannot log in. The page says "account locked".
MAIL
cat > "$DIR/m2.eml" <<'MAIL'
From: Bob Buyer <bob@example.com>
To: support@example.com
Subject: Invoice 2026-114 is wrong
Message-ID: <demo-2@example.com>
Content-Type: text/plain; charset=utf-8

I was charged twice. I want to speak to your manager.
MAIL
cat > "$DIR/m3.eml" <<'MAIL'
From: Carla Customer <carla@example.com>
To: support@example.com
Subject: Automatic reply: Cannot log in
Auto-Submitted: auto-replied
Message-ID: <demo-3@example.com>

I am out of the office until Monday.
MAIL
send carla@example.com "$DIR/m1.eml"
send bob@example.com "$DIR/m2.eml"
send carla@example.com "$DIR/m3.eml"
for _ in $(seq 1 50); do
	n=$("$TICKCTL" -c "$DIR/tickd.conf" status --json | $PY -c 'import json,sys; d=json.load(sys.stdin); print(d["outbox"]["sent"])')
	[ "$n" -ge 3 ] && break
	sleep 0.2
done
"$ROOT/tests/stack.sh" wait-delivered "$DIR" 30 >/dev/null

say "tickctl tickets"
"$TICKCTL" -c "$DIR/tickd.conf" tickets --json | $PY -c '
import json, sys
for t in json.load(sys.stdin):
    print("#%-6s %-8s %-7s %-22s %s" % (t["number"], t["status"], t["priority"], t["requester"], t["subject"]))'

say "the acknowledgement in carla's mailbox"
$PY "$ROOT/tests/stack/imapbox.py" fetch --raw carla | grep -E -v '^(Received|Delivered-To|DKIM|X-Original)' | head -40

say "bob asked for a manager: the escalation notice in mary's mailbox"
$PY "$ROOT/tests/stack/imapbox.py" fetch --raw mary | grep -E -v '^(Received|Delivered-To|DKIM|X-Original)' | head -45

say "SLA state of bob's ticket (tickctl ticket N --json)"
N=$("$TICKCTL" -c "$DIR/tickd.conf" tickets --json | $PY -c 'import json,sys; print([t["number"] for t in json.load(sys.stdin) if t["requester"] == "bob@example.com"][0])')
"$TICKCTL" -c "$DIR/tickd.conf" ticket "$N" --json | $PY -c '
import json, sys
t = json.load(sys.stdin); s = t["sla"]
print("priority %s; first response due %s (breached: %s); resolution due %s" % (
    t["priority"], s["first_response"]["due"], s["first_response"]["breached"], s["resolution"]["due"]))
for e in t["escalations"]:
    print("escalation: %s to %s (%s), sent %s" % (e["kind"], e["rcpt"], e["reason"], e["sent_at"]))'

say "the out-of-office reply was stored but not answered"
$PY "$ROOT/tests/stack/imapbox.py" count carla | sed 's/^/messages in carla: /'

say "tickctl status"
"$TICKCTL" -c "$DIR/tickd.conf" status

say "stopping tickd (SIGTERM)"
kill "$PID"; wait "$PID" || true; PID=
tail -n 8 "$DIR/tickd.log"
