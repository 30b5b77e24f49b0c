#!/usr/bin/env bash
# bench_report.sh [STACK_DIR] - time `tickctl report` over 1,000,000
# generated tickets (issue 11, must-show 4).  Not part of `make check`.
#
# Uses the running test stack in STACK_DIR (tests/stack.sh start DIR), or
# starts and stops its own.  Creates a scratch database "bench_report",
# migrates it with tickctl, fills it with generate_series SQL (1M tickets
# over the last 365 days, 2M customer mails, 50k escalation events, 300k
# ratings, 20k machine mails), ANALYZEs, then times four reports: 7 days,
# 7 days for one agent, 30 days, and the whole year (all 1M tickets).
# `uptime` is printed too: the figures depend on what else runs.
# N=200000 tests/bench_report.sh makes a smaller run.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
TICKCTL=${TICKCTL:-$ROOT/build/tickctl}
N=${N:-1000000}
PSQL=/usr/lib/postgresql/15/bin/psql
OWN=
DIR=${1:-}
if [ -z "$DIR" ]; then
	DIR=$(mktemp -d /tmp/tickd-bench.XXXXXX)
	OWN=1
	"$HERE/stack.sh" start "$DIR"
fi
cleanup() {
	if [ -n "$OWN" ]; then
		"$HERE/stack.sh" stop "$DIR" || true
		rm -rf "$DIR"
	fi
}
trap cleanup EXIT
# shellcheck disable=SC1091
. "$DIR/env"
DB=bench_report
$PSQL -d postgres -qAtc "DROP DATABASE IF EXISTS $DB"
$PSQL -d postgres -qAtc "CREATE DATABASE $DB"
CONF=$DIR/bench.conf
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$DIR/bench.secret"
cat > "$CONF" <<CONF
database: { conninfo = "host=$PGHOST port=$PGPORT dbname=$DB user=$PGUSER"; };
imap: { url = "imap://127.0.0.1:1"; user = "support"; starttls = false; };
smtp: { url = "smtp://127.0.0.1:1"; from = "support@example.com"; starttls = false; };
tickets: { secret_file = "$DIR/bench.secret"; };
CONF
"$TICKCTL" -c "$CONF" migrate

echo "generating $N tickets..."
start=$(date +%s)
$PSQL -d $DB -qAt -v ON_ERROR_STOP=1 <<SQL
SET synchronous_commit = off;
INSERT INTO ticket (id, queue, subject, requester, status, priority, assignee,
    created, updated, first_response_at, last_customer_at, last_agent_at,
    resolved_at, reopen_count)
SELECT 1000 + i, CASE WHEN i % 5 = 0 THEN 'billing' ELSE 'support' END,
    'Generated ticket ' || i, 'c' || (i % 50000) || '@example.net',
    CASE WHEN i % 50 = 0 THEN 'open' ELSE 'resolved' END,
    (ARRAY['low', 'normal', 'high', 'urgent'])[1 + i % 4],
    CASE WHEN i % 13 = 0 THEN NULL ELSE 'agent' || (i % 20) || '@example.com' END,
    c, c, CASE WHEN i % 100 = 0 THEN NULL ELSE c + fr END, c,
    CASE WHEN i % 100 = 0 THEN NULL ELSE c + fr END,
    CASE WHEN i % 50 = 0 THEN NULL ELSE c + fr + res END, (i % 17 = 0)::int
FROM (SELECT i, now() - interval '365 days' + i * (interval '365 days' / $N) AS c,
             ((i::bigint * 7919) % 14400) * interval '1 second' AS fr,
             ((i::bigint * 104729) % 259200) * interval '1 second' AS res
      FROM generate_series(1, $N) i) g;
SELECT setval('ticket_number', 1000 + $N);
INSERT INTO message (ticket_id, dedupe_key, direction, role, received)
SELECT t.id, 'gen:' || t.id || ':' || k, 'in', 'customer', t.created + k * interval '1 hour'
FROM ticket t, generate_series(0, 1) k;
INSERT INTO message (ticket_id, dedupe_key, direction, role, class, received)
SELECT id, 'gen:m:' || id, 'in', 'other', 'auto-reply', created + interval '1 minute'
FROM ticket WHERE id % 50 = 7;
INSERT INTO event (ticket_id, at, actor, action, detail)
SELECT id, created + interval '5 hours', 'tickd', 'escalation', 'level ' || (1 + id % 3)
FROM ticket WHERE id % 20 = 3;
INSERT INTO csat_rating (ticket_id, rating, at)
SELECT id, (ARRAY['good', 'okay', 'bad'])[1 + id % 3], resolved_at + interval '1 hour'
FROM ticket WHERE resolved_at IS NOT NULL AND id % 10 < 3;
ANALYZE;
SQL
echo "generated in $(( $(date +%s) - start ))s:" \
	"$($PSQL -d $DB -qAtc "SELECT count(*) FROM ticket") tickets," \
	"$($PSQL -d $DB -qAtc "SELECT count(*) FROM message") messages," \
	"$($PSQL -d $DB -qAtc "SELECT count(*) FROM event") events," \
	"$($PSQL -d $DB -qAtc "SELECT count(*) FROM csat_rating") ratings"

today=$(date -u +%Y-%m-%d)
week=$(date -u -d '7 days ago' +%Y-%m-%d)
month=$(date -u -d '30 days ago' +%Y-%m-%d)
year=$(date -u -d '366 days ago' +%Y-%m-%d)
tomorrow=$(date -u -d 'tomorrow' +%Y-%m-%d)
run() {
	local t0 t1
	t0=$(date +%s.%N)
	"$TICKCTL" -c "$CONF" report "$@" > "$DIR/out.txt"
	t1=$(date +%s.%N)
	printf '%6.2fs  tickctl report %s\n' "$(echo "$t1 - $t0" | bc)" "$*"
}
run --from "$week" --to "$today"
run --from "$week" --to "$today" --agent agent3@example.com --json
run --from "$month" --to "$today"
run --from "$year" --to "$tomorrow" --json
uptime
grep -o '"created":[0-9]*,"resolved":[0-9]*,"backlog":[0-9]*' "$DIR/out.txt" | head -1
