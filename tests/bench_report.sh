#!/usr/bin/env bash
# bench_report.sh [STACK_DIR] - time `tickctl report` over 1,000,000
# generated tickets.  Not part of `make check`.
#
# Uses the running test stack in STACK_DIR (tests/stack.sh start DIR), or
# starts and stops its own.  Creates a scratch database "bench_report",
# migrates it with tickctl, fills it with generate_series SQL (1M tickets
# over the last 365 days, 2M customer mails, 50k escalation events, 300k
# ratings, 20k machine mails, SLA clocks for half the resolved tickets),
# ANALYZEs, builds the report facts (and their per-day rollups, 026), then
# times four reports: 7 days, 7 days for one agent, 30
# days, and the whole year (all 1M tickets); then 30 days and the year
# again with business-hours calendars and SLA policies per priority.
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
# the same with business-hours calendars and a policy per priority: every
# KPI walks the calendar (sla_business_seconds) instead of wall time
SLACONF=$DIR/bench-sla.conf
cat "$CONF" - > "$SLACONF" <<'CONF'
calendars = (
  { name = "eu"; timezone = "Europe/Berlin";
    hours = { mon = "08:00-18:00"; tue = "08:00-18:00"; wed = "08:00-18:00";
              thu = "08:00-18:00"; fri = "08:00-16:00"; };
    holidays = [ "2026-01-01", "2026-05-01", "2026-12-25" ]; },
  { name = "us"; timezone = "America/New_York";
    hours = { mon = "09:00-17:00"; tue = "09:00-17:00"; wed = "09:00-17:00";
              thu = "09:00-17:00"; fri = "09:00-17:00"; }; } );
sla: { policies = (
  { priority = "urgent"; calendar = "us"; first_response = 60; resolution = 480; },
  { queue = "billing"; calendar = "us"; first_response = 240; resolution = 2880; },
  { calendar = "eu"; first_response = 480; resolution = 4800; } ); };
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
SELECT id, created + interval '5 hours', 'tickd', 'escalated',
    'level ' || (1 + id % 3) || ': first_response breached -> lead@example.com'
FROM ticket WHERE id % 20 = 3;
-- the SLA clocks escalate.c would have left: resolved tickets replayed
-- (every other one), the rest never ticked
UPDATE sla_clock c SET initialized = true, status = 3,
    first_response_at = extract(epoch FROM t.first_response_at)::bigint,
    last_customer_at = extract(epoch FROM t.created)::bigint,
    last_agent_at = extract(epoch FROM t.first_response_at)::bigint,
    resolved_at = extract(epoch FROM t.resolved_at)::bigint,
    paused_since = extract(epoch FROM t.resolved_at)::bigint,
    resolution_run_secs = extract(epoch FROM t.resolved_at - t.created)::bigint / 3,
    first_response_secs = extract(epoch FROM t.first_response_at - t.created)::bigint / 3
FROM ticket t WHERE t.id = c.ticket_id AND t.resolved_at IS NOT NULL
    AND t.first_response_at IS NOT NULL AND t.id % 2 = 0;
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
# each report twice: from the stored facts (015_report_facts.sql) and
# --unrolled (every ticket through report_add_ticket, the computation
# before the facts); the two outputs must be identical
run() {
	local t0 t1 t2 conf=${RUNCONF:-$CONF}
	t0=$(date +%s.%N)
	"$TICKCTL" -c "$conf" report "$@" > "$DIR/out.txt"
	t1=$(date +%s.%N)
	"$TICKCTL" -c "$conf" report --unrolled "$@" > "$DIR/out-unrolled.txt"
	t2=$(date +%s.%N)
	printf '%6.2fs (unrolled %6.2fs)  tickctl report %s%s\n' \
		"$(echo "$t1 - $t0" | bc)" "$(echo "$t2 - $t1" | bc)" "$*" \
		"${RUNCONF:+ (SLA calendars)}"
	if ! cmp -s "$DIR/out.txt" "$DIR/out-unrolled.txt"; then
		echo "DIFFERENT results: facts vs unrolled" >&2
		diff "$DIR/out.txt" "$DIR/out-unrolled.txt" | head -20 >&2
		exit 1
	fi
}
# the facts of every generated ticket, computed once (what the reports
# after an import or a config change pay; later reports compute only the
# tickets changed since)
build() {
	local t0 t1 conf=${RUNCONF:-$CONF}
	t0=$(date +%s.%N)
	"$TICKCTL" -c "$conf" report --from "$week" --to "$today" > /dev/null
	t1=$(date +%s.%N)
	printf '%6.2fs  facts of %s stale tickets computed%s\n' \
		"$(echo "$t1 - $t0" | bc)" "$N" "${RUNCONF:+ (SLA calendars)}"
}
build
run --from "$week" --to "$today"
run --from "$week" --to "$today" --agent agent3@example.com --json
run --from "$month" --to "$today"
run --from "$year" --to "$tomorrow" --json
RUNCONF=$SLACONF build
RUNCONF=$SLACONF run --from "$month" --to "$today"
RUNCONF=$SLACONF run --from "$year" --to "$tomorrow" --json
echo "facts and unrolled results identical"
uptime
grep -o '"created":[0-9]*,"resolved":[0-9]*,"backlog":[0-9]*' "$DIR/out.txt" | head -1
