#!/bin/sh
# search_cost.sh - what the full-text index costs per mail on the store path.
#
#   tests/bench/search_cost.sh TICKCTL_WITH TICKCTL_WITHOUT [N]
#
# Starts a private PostgreSQL (tests/stack.sh), generates N mails
# (tests/bench/gen.py, default 2000) and imports them with `tickctl import`
# into a fresh database with each binary (the build with the index and one
# without, e.g. the parent commit), twice, alternating.  Prints per mail:
# tickctl CPU (user+sys), PostgreSQL backend CPU (the postmaster's reaped
# children: cutime+cstime of its /proc stat, so autovacuum is off), and
# the bytes of message_search with its indexes.  A measurement tool for
# humans, not a test: it asserts nothing.
set -eu
with=$1 without=$2 n=${3:-2000}
root=$(cd "$(dirname "$0")/../.." && pwd)
d=$(mktemp -d /tmp/search-cost.XXXXXX)
trap '"$root/tests/stack.sh" stop "$d" >/dev/null 2>&1; rm -rf "$d"' EXIT
"$root/tests/stack.sh" start "$d" >/dev/null
. "$d/env"
psql="/usr/lib/postgresql/15/bin/psql -h $PGHOST -p $PGPORT -U $PGUSER -qAt"
$psql -d postgres -c "ALTER SYSTEM SET autovacuum = off" -c "SELECT pg_reload_conf()" >/dev/null
python3 "$root/tests/bench/gen.py" --n "$n" --to support@example.com "$d/mails" >/dev/null
tick=$(getconf CLK_TCK)
pg_cpu() { awk '{print $16 + $17}' "/proc/$PG_PID/stat"; }
run() { # run LABEL TICKCTL DB
	$psql -d postgres -c "CREATE DATABASE $3"
	cat >"$d/$3.conf" <<CONF
database: { conninfo = "host=$PGHOST port=$PGPORT dbname=$3 user=$PGUSER"; };
imap: { url = "imap://127.0.0.1:1"; user = "x"; password_file = "$d/pw"; starttls = false; };
smtp: { url = "smtp://127.0.0.1:1"; from = "support@example.com"; starttls = false; };
tickets: { subject_tag = "Example"; secret_file = "$d/secret"; };
CONF
	echo pw >"$d/pw"
	[ -f "$d/secret" ] || head -c 32 /dev/urandom | base64 >"$d/secret"
	"$2" -c "$d/$3.conf" migrate >/dev/null
	p0=$(pg_cpu)
	/usr/bin/time -f "%U %S" -o "$d/time" "$2" -c "$d/$3.conf" import "$d"/mails/*.eml >/dev/null
	sleep 2 # the postmaster reaps the backend (cutime) a moment after tickctl exits
	p1=$(pg_cpu)
	idx=$($psql -d "$3" -c "SELECT coalesce(pg_total_relation_size(to_regclass('message_search')), 0)")
	msg=$($psql -d "$3" -c "SELECT pg_total_relation_size('message')")
	n_in=$($psql -d "$3" -c "SELECT count(*) FROM message WHERE direction = 'in'")
	awk -v l="$1" -v n="$n_in" -v t="$tick" -v p="$((p1 - p0))" -v idx="$idx" -v msg="$msg" \
	    '{ printf "%-8s mails %d  tickctl %.3f ms/mail  postgres %.3f ms/mail  search bytes %d (%.0f B/mail)  message bytes %d\n", l, n, ($1 + $2) * 1000 / n, p * 1000 / t / n, idx, idx / n, msg }' "$d/time"
}
run without "$without" wo1
run with "$with" w1
run without "$without" wo2
run with "$with" w2
