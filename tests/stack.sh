#!/usr/bin/env bash
# Real-server test stack for tickd: PostgreSQL 15, Dovecot 2.3 (IMAP + LMTP) and
# OpenSMTPD 6.8, all private to one directory and listening on 127.0.0.1 only.
#
#   tests/stack.sh deps                        install the Debian packages if missing
#   tests/stack.sh start DIR                   start all three servers, write DIR/env
#   tests/stack.sh stop DIR                    stop everything (idempotent, safe after a failed start)
#   tests/stack.sh stop-one DIR pg|imap|smtp   stop one server (data and port are kept)
#   tests/stack.sh start-one DIR pg|imap|smtp  start it again on the same port with the same data
#   tests/stack.sh status DIR                  which servers are running
#   tests/stack.sh wait-delivered DIR [SECS]   wait until OpenSMTPD's queue is empty (default 60 s)
#   tests/stack.sh deliver DIR USER FILE       put a raw mail into USER's INBOX via LMTP
#   tests/stack.sh send DIR FROM TO FILE       submit a raw mail via SMTP (FROM '' = null sender)
#   tests/stack.sh smtpctl DIR ARGS...         run smtpctl against this stack's OpenSMTPD
#   tests/stack.sh flush DIR                   make OpenSMTPD retry all queued mail now
#
# TICKD_STACK_DELIVERY=maildir at start: OpenSMTPD delivers every mail into DIR/mail/sink/Maildir
# itself instead of through Dovecot's LMTP (the benchmark: cheaper, and nothing reads the mail).
#
# wait-delivered counts the envelopes in DIR/smtpd/spool (a mail is out of the queue only
# once Dovecot said 250 or the DSN for it was queued), and every 2 s asks smtpd to retry
# deferred mail now. OpenSMTPD's DSN is multipart/mixed (text/plain, message/delivery-status
# with "Status: 5.3.0", text/rfc822-headers), from MAILER-DAEMON@<hostname>, sender <>.
# OpenSMTPD closes an SMTP session after 100 mails (452 on the 101st MAIL FROM).
#
# DIR/env is a sourceable shell file: STACK_DIR PGHOST PGPORT PGUSER PGDATABASE DATABASE_URL
# IMAP_HOST IMAP_PORT LMTP_HOST LMTP_PORT SMTP_HOST SMTP_PORT MAIL_PASSWORD PG_PID IMAP_PID SMTP_PID.
#
# Mail users: any local part exists with password "pw" (user name is the local part, so
# customer and customer@example.com are the same mailbox; "+detail" is stripped), except local
# parts starting with "nosuch": Dovecot's LMTP rejects those with 550, and OpenSMTPD then bounces
# (a DSN to the envelope sender) right away; and except local parts starting with "reject", which
# OpenSMTPD refuses at RCPT TO with a 5xx (a permanent SMTP failure the sender sees at once).
#
# Must run as root (OpenSMTPD needs root, and runs in a private mount namespace so that any
# number of stacks - and a system smtpd - can coexist). PostgreSQL and the mailboxes run as the
# unprivileged system user $TICKD_STACK_USER (default tickdstack, created on first use).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
UTIL="$HERE/stack/stackutil.py"
PY=${PYTHON:-python3}
PGBIN=/usr/lib/postgresql/15/bin
SMTPD=/usr/sbin/smtpd
MAIL_LMTP=/usr/libexec/opensmtpd/mail.lmtp
STACK_USER=${TICKD_STACK_USER:-tickdstack}
PKGS=(postgresql-15 dovecot-imapd dovecot-lmtpd opensmtpd python3 python3-pytest)
LOCK=/tmp/tickd-stack.lock

die() { echo "stack.sh: $*" >&2; exit 1; }
log() { echo "stack.sh: $*" >&2; }

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit "${1:-2}"; }

# ---------------------------------------------------------------- deps
pkg_installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }

cmd_deps() {
    local missing=() p
    for p in "${PKGS[@]}"; do pkg_installed "$p" || missing+=("$p"); done
    if [ ${#missing[@]} -eq 0 ]; then
        log "deps: all installed (${PKGS[*]})"
        return 0
    fi
    [ "$(id -u)" = 0 ] || die "deps: need root to install ${missing[*]}"
    log "deps: installing ${missing[*]}"
    # Keep the packages' own system services from being started by their postinst
    # (we never use them). Only add a policy-rc.d if there is none.
    local policy=/usr/sbin/policy-rc.d added_policy=
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\n# temporary, from tickd tests/stack.sh deps\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        added_policy=1
    fi
    local rc=0
    { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y "${PKGS[@]}"; } || rc=$?
    [ -n "$added_policy" ] && rm -f "$policy"
    [ $rc -eq 0 ] || die "deps: apt-get failed ($rc)"
    stop_system_services
}

# If a postinst started the system instances anyway, stop them: they would not
# conflict with a stack (other ports, smtpd in its own namespace) but are useless.
# Only the system instances are looked at (systemd units, or the Debian pid files and
# clusters) - never other smtpd/dovecot/postgres processes, e.g. other test stacks.
stop_system_services() {
    local s pid ver name port status rest
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
        for s in opensmtpd dovecot postgresql; do
            if systemctl is-active --quiet "$s" 2>/dev/null; then
                log "deps: stopping system service $s"
                systemctl stop "$s" || true
            fi
        done
        return 0
    fi
    pid=$(cat /run/smtpd.pid 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        log "deps: stopping system opensmtpd"
        /etc/init.d/opensmtpd stop >/dev/null 2>&1 || true
    fi
    pid=$(cat /run/dovecot/master.pid 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        log "deps: stopping system dovecot"
        /etc/init.d/dovecot stop >/dev/null 2>&1 || true
    fi
    if command -v pg_lsclusters >/dev/null; then
        pg_lsclusters -h 2>/dev/null | while read -r ver name port status rest; do
            case "$status" in
                online*) log "deps: stopping system PostgreSQL cluster $ver/$name"
                         pg_ctlcluster "$ver" "$name" stop >/dev/null 2>&1 || true ;;
            esac
        done
    fi
    return 0
}

# ---------------------------------------------------------------- helpers
need_root() { [ "$(id -u)" = 0 ] || die "must run as root (OpenSMTPD needs it)"; }

need_bins() {
    local b
    for b in "$PGBIN/initdb" "$PGBIN/pg_ctl" /usr/sbin/dovecot "$SMTPD" "$MAIL_LMTP" unshare nsenter flock runuser; do
        command -v "$b" >/dev/null 2>&1 || die "missing $b - run: $0 deps"
    done
    command -v "$PY" >/dev/null || die "missing python3 - run: $0 deps"
}

ensure_user() {
    id -u "$STACK_USER" >/dev/null 2>&1 && return 0
    (
        flock 9
        if ! id -u "$STACK_USER" >/dev/null 2>&1; then
            log "creating system user $STACK_USER"
            useradd --system --user-group --create-home --home-dir "/var/lib/$STACK_USER" \
                --shell /usr/sbin/nologin --comment "tickd test stack" "$STACK_USER"
        fi
    ) 9>>"$LOCK"
}

as_user() { runuser -u "$STACK_USER" -- "$@"; }

# pid_is PID PATTERN: PID is alive (not a zombie) and its command line contains PATTERN
pid_is() {
    local pid=$1 pat=$2 cmd st
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
    st=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
    [ "$st" != Z ] || return 1
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ "$cmd" == *"$pat"* ]]
}

# wait_gone PID SECS: wait until PID is gone (or a zombie)
wait_gone() {
    local pid=$1 n=$(( $2 * 20 )) st
    while [ $n -gt 0 ]; do
        st=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 0
        [ "$st" = Z ] && return 0
        sleep 0.05
        n=$((n - 1))
    done
    return 1
}

# kill_group SIG PGID: signal the process group if any member is left
kill_group() { kill "-$1" -- "-$2" 2>/dev/null || true; }

group_alive() {
    local pg=$1 p
    for p in /proc/[0-9]*; do
        [ "$(awk '{print $5}' "$p/stat" 2>/dev/null)" = "$pg" ] || continue
        [ "$(awk '{print $3}' "$p/stat" 2>/dev/null)" = Z ] && continue
        return 0
    done
    return 1
}

wait_group_gone() {
    local pg=$1 n=$(( $2 * 10 ))
    while [ $n -gt 0 ]; do
        group_alive "$pg" || return 0
        sleep 0.1
        n=$((n - 1))
    done
    return 1
}

# The unprivileged user must reach DIR/pg, DIR/mail and the mda wrapper. DIR itself is
# made 0755; a temp parent that is not searchable (mktemp -d and pytest make 0700 dirs)
# gets o+x (search only, no listing) if it is root's and under /tmp, /var/tmp or $TMPDIR.
make_reachable() {
    chmod 755 "$DIR"
    runuser -u "$STACK_USER" -- test -x "$DIR" && return 0
    local p="" part rest=${DIR#/}
    while [ -n "$rest" ]; do
        part=${rest%%/*}
        [ "$part" = "$rest" ] && rest="" || rest=${rest#*/}
        p="$p/$part"
        runuser -u "$STACK_USER" -- test -x "$p" && continue
        case "$p" in
            /tmp/*|/var/tmp/*|"${TMPDIR:-/tmp}"/*) ;;
            *) die "$STACK_USER cannot enter $p; use a DIR under /tmp" ;;
        esac
        [ "$(stat -c %u "$p")" = 0 ] || die "$STACK_USER cannot enter $p (not root's, not changing it)"
        chmod o+x "$p"
        log "made $p searchable (o+x) for $STACK_USER"
    done
    runuser -u "$STACK_USER" -- test -x "$DIR" || die "$STACK_USER cannot enter $DIR"
}

set_dir() {
    [ -n "${1:-}" ] || usage
    DIR=$(realpath -m -- "$1")
    PORTS_FILE=$DIR/ports
}

# Unix socket paths are limited to 107 bytes: a long DIR gets its sockets in a short
# directory under /tmp (recorded in DIR/sockdir, removed by stop).
setup_rundir() {
    if [ -s "$DIR/sockdir" ]; then
        RUN=$(cat "$DIR/sockdir")
    elif [ ${#DIR} -le 60 ]; then
        RUN=$DIR/run
        echo "$RUN" >"$DIR/sockdir"
    else
        RUN=$(mktemp -d /tmp/tks.XXXXXX)
        echo "$RUN" >"$DIR/sockdir"
        echo "$DIR" >"$RUN/owner"
    fi
    mkdir -p "$RUN/pg" "$RUN/dovecot"
    chmod 755 "$RUN"
    chown "$STACK_USER:" "$RUN/pg"
}

load_ports() {
    [ -s "$PORTS_FILE" ] || die "$DIR has no stack (no $PORTS_FILE)"
    # shellcheck disable=SC1090
    . "$PORTS_FILE"
    RUN=$(cat "$DIR/sockdir" 2>/dev/null || echo "$DIR/run")
}

pg_pid()   { head -1 "$DIR/pg/data/postmaster.pid" 2>/dev/null || true; }
imap_pid() { cat "$RUN/dovecot/master.pid" 2>/dev/null || true; }
smtp_pid() { cat "$DIR/smtpd/smtpd.pid" 2>/dev/null || true; }

pg_running()   { pid_is "$(pg_pid)" "postgres"; }
imap_running() { pid_is "$(imap_pid)" "$DIR/dovecot/dovecot.conf"; }
smtp_running() { pid_is "$(smtp_pid)" "$DIR/smtpd/smtpd.conf"; }

write_env() {
    local f=$DIR/env
    {
        echo "# tickd test stack - generated by tests/stack.sh; source me"
        echo "export STACK_DIR='$DIR'"
        echo "export PGHOST=127.0.0.1"
        echo "export PGPORT=$PG_PORT"
        echo "export PGUSER=tickd"
        echo "export PGDATABASE=tickd"
        echo "export PG_SOCKET_DIR='$RUN/pg'"
        echo "export DATABASE_URL='host=127.0.0.1 port=$PG_PORT dbname=tickd user=tickd'"
        echo "export IMAP_HOST=127.0.0.1"
        echo "export IMAP_PORT=$IMAP_PORT"
        echo "export LMTP_HOST=127.0.0.1"
        echo "export LMTP_PORT=$LMTP_PORT"
        echo "export SMTP_HOST=127.0.0.1"
        echo "export SMTP_PORT=$SMTP_PORT"
        echo "export MAIL_PASSWORD=pw"
        echo "export PG_PID=$(pg_running && pg_pid)"
        echo "export IMAP_PID=$(imap_running && imap_pid)"
        echo "export SMTP_PID=$(smtp_running && smtp_pid)"
    } >"$f.tmp"
    mv -f "$f.tmp" "$f"
}

wait_port_free() {
    local port=$1 n=100
    while ! "$PY" "$UTIL" port-free "$port"; do
        n=$((n - 1))
        [ $n -gt 0 ] || die "port $port is still in use"
        sleep 0.1
    done
}

show_log() { [ -f "$1" ] && { echo "---- tail of $1" >&2; tail -n "${2:-30}" "$1" >&2; } || true; }

# ---------------------------------------------------------------- config files
write_configs() {
    local uid gid
    uid=$(id -u "$STACK_USER"); gid=$(id -g "$STACK_USER")

    # PostgreSQL: settings go to a file included at the end of postgresql.conf
    cat >"$DIR/pg/stack.conf" <<EOF
# generated by tests/stack.sh
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$RUN/pg'
fsync = on
max_connections = 200
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
log_min_messages = warning
EOF

    # Dovecot
    cat >"$DIR/dovecot/users" <<EOF
anyone:{PLAIN}pw:$uid:$gid::$DIR/mail/anyone::
EOF
    cat >"$DIR/dovecot/dovecot.conf" <<EOF
# generated by tests/stack.sh - private Dovecot instance, no system config included
protocols = imap lmtp
listen = 127.0.0.1
base_dir = $RUN/dovecot
state_dir = $DIR/dovecot/state
instance_name = tickd-stack-$IMAP_PORT
log_path = $DIR/dovecot/log
log_timestamp = "%Y-%m-%d %H:%M:%S "
auth_verbose = yes
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
# user name = local part, lower-cased ("customer@example.com" == "customer")
auth_username_format = %Ln
recipient_delimiter = +
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = $uid
last_valid_uid = $uid
mail_location = maildir:~/Maildir
mail_max_userip_connections = 1000
# IDLE notices changes via inotify; poll too, in case inotify is not available
mailbox_idle_check_interval = 1 secs

# Every local part exists with password "pw" (all are looked up as the single entry
# "anyone"), except local parts starting with "nosuch", which are looked up as "nosuch"
# - not in the file, so the user does not exist and LMTP answers 550.
passdb {
  driver = passwd-file
  args = username_format=%{if;%n;*;nosuch*;nosuch;anyone} $DIR/dovecot/users
}
userdb {
  driver = passwd-file
  args = username_format=%{if;%n;*;nosuch*;nosuch;anyone} $DIR/dovecot/users
  override_fields = home=$DIR/mail/%n
}

namespace inbox {
  inbox = yes
  separator = /
  mailbox Sent {
    auto = subscribe
    special_use = \Sent
  }
  mailbox Processed {
    auto = subscribe
  }
}

service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $IMAP_PORT
  }
  inet_listener imaps {
    port = 0
  }
  service_count = 0
  process_min_avail = 1
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $LMTP_PORT
  }
  unix_listener lmtp {
    mode = 0600
  }
}
protocol lmtp {
  postmaster_address = postmaster@example.com
}
EOF

    # OpenSMTPD. The stock "lmtp" action runs mail.lmtp, which exits EX_TEMPFAIL on
    # every error, so a 550 from Dovecot would be retried for days instead of bounced.
    # Our mda wrapper maps an LMTP 5xx to EX_NOUSER (permanent: immediate DSN) and
    # everything else to EX_TEMPFAIL (queued, retried).
    cat >"$DIR/smtpd/lmtp-deliver" <<EOF
#!/bin/sh
# generated by tests/stack.sh: OpenSMTPD mda -> Dovecot LMTP on 127.0.0.1:$LMTP_PORT
# smtpd prepends "Return-Path:" (non-null sender) and "Delivered-To:" lines; Dovecot adds
# its own, so drop smtpd's (only the first two lines can be them: the message itself
# starts with smtpd's Received: header).
err=\$( { awk 'NR <= 2 && !body && /^(Return-Path|Delivered-To): / { next } { body = 1; print }' |
        $MAIL_LMTP -d 127.0.0.1:$LMTP_PORT -f "\$SENDER" -r >/dev/null; } 2>&1 )
rc=\$?
[ \$rc -eq 0 ] && exit 0
printf '%s\n' "\$err"
case "\$err" in
  *"LMTP server error: 5"*) exit 67 ;;
esac
exit 75
EOF
    chmod 755 "$DIR/smtpd/lmtp-deliver"
    # TICKD_STACK_DELIVERY=maildir (make bench): every mail goes into one Maildir,
    # $DIR/mail/sink/Maildir, written by smtpd's own mail.maildir. The wrapper above
    # costs a shell, awk, mail.lmtp and a Dovecot LMTP session per mail: measured 7.5 ms
    # of CPU per mail on the 2 cores the benchmark shares with it, against ~4 ms.
    local action="mda \"$DIR/smtpd/lmtp-deliver\""
    if [ "${TICKD_STACK_DELIVERY:-lmtp}" = maildir ]; then
        mkdir -p "$DIR/mail/sink"
        chown "$uid:$gid" "$DIR/mail/sink"
        action="maildir \"$DIR/mail/sink/Maildir\""
    fi
    cat >"$DIR/smtpd/smtpd.conf" <<EOF
# generated by tests/stack.sh - runs in a private mount namespace where
# $DIR/smtpd/run is /run and $DIR/smtpd/spool is /var/spool/smtpd
table catchall { "@" = "$STACK_USER" }
listen on 127.0.0.1 port $SMTP_PORT
action "dovecot" $action virtual <catchall>
match from any for any rcpt-to regex "^reject" reject
match from any for any action "dovecot"
EOF
}

# ---------------------------------------------------------------- servers
start_pg() {
    if pg_running; then return 0; fi
    # DIR/pg/initialized is written once initdb and CREATE DATABASE went through
    if [ ! -f "$DIR/pg/initialized" ]; then
        rm -rf "$DIR/pg/data"
        as_user "$PGBIN/initdb" -D "$DIR/pg/data" -U tickd --auth=trust -E UTF8 \
            --locale=C.UTF-8 -N >"$DIR/pg/initdb.log" 2>&1 ||
            { show_log "$DIR/pg/initdb.log"; die "initdb failed"; }
        echo "include = '$DIR/pg/stack.conf'" >>"$DIR/pg/data/postgresql.conf"
        # trust for local sockets and 127.0.0.1 only
        cat >"$DIR/pg/data/pg_hba.conf" <<EOF
local all all trust
host  all all 127.0.0.1/32 trust
EOF
        local newdb=1
    fi
    wait_port_free "$PG_PORT"
    rm -f "$DIR/pg/data/postmaster.pid"   # only ours, and pg_running said it is dead
    as_user "$PGBIN/pg_ctl" -D "$DIR/pg/data" -l "$DIR/pg/log" -w -t 60 -s start ||
        { show_log "$DIR/pg/log"; die "PostgreSQL did not start"; }
    as_user "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 30 ||
        { show_log "$DIR/pg/log"; die "PostgreSQL not ready"; }
    if [ -n "${newdb:-}" ]; then
        as_user "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U tickd -d postgres \
            -c "CREATE DATABASE tickd OWNER tickd" >/dev/null ||
            die "could not create database tickd"
        touch "$DIR/pg/initialized"
    fi
}

stop_pg() {
    local pid
    pid=$(pg_pid)
    pid_is "$pid" postgres || return 0
    as_user "$PGBIN/pg_ctl" -D "$DIR/pg/data" -m fast -w -t 20 -s stop >/dev/null 2>&1 || true
    if ! wait_gone "$pid" 1; then
        log "PostgreSQL did not stop, killing"
        kill -QUIT "$pid" 2>/dev/null || true
        wait_gone "$pid" 3 || kill -KILL "$pid" 2>/dev/null || true
    fi
    # the postmaster is the leader of its own process group (pg_ctl setsid()s it)
    kill_group KILL "$pid"
    wait_group_gone "$pid" 5 || true
}

start_imap() {
    if imap_running; then return 0; fi
    wait_port_free "$IMAP_PORT"
    wait_port_free "$LMTP_PORT"
    /usr/sbin/dovecot -c "$DIR/dovecot/dovecot.conf" >"$DIR/dovecot/start.err" 2>&1 ||
        { cat "$DIR/dovecot/start.err" >&2; show_log "$DIR/dovecot/log"; die "Dovecot did not start"; }
    local pid n=100
    while :; do
        pid=$(imap_pid)
        [ -n "$pid" ] && break
        n=$((n - 1)); [ $n -gt 0 ] || die "Dovecot wrote no master.pid"
        sleep 0.05
    done
    "$PY" "$UTIL" wait-banner "$IMAP_PORT" "* OK" 20 "$pid" >/dev/null &&
        "$PY" "$UTIL" wait-banner "$LMTP_PORT" "220" 20 "$pid" >/dev/null ||
        { show_log "$DIR/dovecot/log"; die "Dovecot not ready"; }
}

stop_imap() {
    local pid
    pid=$(imap_pid)
    pid_is "$pid" "$DIR/dovecot/dovecot.conf" || return 0
    # SIGTERM = "doveadm stop": master stops all its children and exits
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" 10; then
        log "Dovecot did not stop, killing"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    # dovecot daemonizes with setsid(): its processes share the master's group
    kill_group KILL "$pid"
    wait_group_gone "$pid" 5 || true
}

start_smtp() {
    if smtp_running; then return 0; fi
    wait_port_free "$SMTP_PORT"
    # the mount point must exist on the host; the bind mount itself is private
    [ -d /var/spool/smtpd ] || { mkdir -p /var/spool/smtpd && chmod 711 /var/spool/smtpd; }
    mkdir -p "$DIR/smtpd/run" "$DIR/smtpd/spool"
    chmod 755 "$DIR/smtpd/run"
    chmod 711 "$DIR/smtpd/spool"
    rm -f "$DIR/smtpd/run/smtpd.sock"
    echo "==== $(date '+%F %T') start" >>"$DIR/smtpd/log"
    # setsid: own process group (stop kills it as a whole); no fork, so $! is smtpd's pid
    # after unshare and sh exec into it.
    setsid unshare -m --propagation private -- /bin/sh -c '
        mount --bind "$1" /run && mount --bind "$2" /var/spool/smtpd && exec "$3" -d -f "$4"' \
        sh "$DIR/smtpd/run" "$DIR/smtpd/spool" "$SMTPD" "$DIR/smtpd/smtpd.conf" \
        </dev/null >>"$DIR/smtpd/log" 2>&1 &
    local pid=$!
    echo "$pid" >"$DIR/smtpd/smtpd.pid"
    "$PY" "$UTIL" wait-banner "$SMTP_PORT" "220" 20 "$pid" >/dev/null ||
        { show_log "$DIR/smtpd/log"; die "OpenSMTPD not ready"; }
    # wait for the control socket too, so smtpctl/flush work right away
    local n=100
    while [ ! -S "$DIR/smtpd/run/smtpd.sock" ] && [ $n -gt 0 ]; do sleep 0.05; n=$((n - 1)); done
}

stop_smtp() {
    local pid
    pid=$(smtp_pid)
    pid_is "$pid" "$DIR/smtpd/smtpd.conf" || { rm -f "$DIR/smtpd/smtpd.pid"; return 0; }
    kill_group TERM "$pid"
    if ! wait_gone "$pid" 10; then
        log "OpenSMTPD did not stop, killing"
        kill_group KILL "$pid"
    fi
    kill_group KILL "$pid"     # stray mda children, if any
    wait_group_gone "$pid" 5 || true
    rm -f "$DIR/smtpd/smtpd.pid"
}

smtpctl_ns() {
    local pid
    pid=$(smtp_pid)
    pid_is "$pid" "$DIR/smtpd/smtpd.conf" || return 3
    nsenter -t "$pid" -m /usr/sbin/smtpctl "$@"
}

# envelopes still in the queue (incoming = being received, queue = accepted, not finished)
queue_count() {
    local n=0 q=$DIR/smtpd/spool
    [ -d "$q" ] || { echo 0; return; }
    n=$(find "$q/incoming" "$q/queue" -type f ! -name message 2>/dev/null | wc -l)
    echo "$n"
}

# ---------------------------------------------------------------- commands
cmd_start() {
    set_dir "${1:-}"
    need_root
    need_bins
    local t0ms
    t0ms=$(date +%s%N)
    ensure_user
    mkdir -p "$DIR"
    make_reachable
    if [ -s "$PORTS_FILE" ]; then
        load_ports
        if pg_running || imap_running || smtp_running; then
            die "a stack is already running in $DIR (stop it first)"
        fi
    fi

    trap 'rc=$?; if [ $rc -ne 0 ]; then log "start failed, stopping what was started (logs stay in $DIR)"; cmd_stop "$DIR" || true; fi' EXIT
    trap 'exit 130' INT TERM HUP

    mkdir -p "$DIR/pg" "$DIR/dovecot/state" "$DIR/mail" "$DIR/smtpd"
    chown "$STACK_USER:" "$DIR/pg" "$DIR/mail"
    setup_rundir
    if [ -s "$PORTS_FILE" ] && load_ports &&
        "$PY" "$UTIL" claim-ports "$DIR" "$PG_PORT" "$IMAP_PORT" "$LMTP_PORT" "$SMTP_PORT"; then
        :   # start again after stop: same ports, same data
    else
        local ports
        ports=$("$PY" "$UTIL" pick-ports "$DIR" 4) || die "no free ports"
        read -r PG_PORT IMAP_PORT LMTP_PORT SMTP_PORT <<<"$ports"
        printf 'PG_PORT=%s\nIMAP_PORT=%s\nLMTP_PORT=%s\nSMTP_PORT=%s\n' \
            "$PG_PORT" "$IMAP_PORT" "$LMTP_PORT" "$SMTP_PORT" >"$PORTS_FILE"
    fi
    write_configs

    # Dovecot and OpenSMTPD start while initdb runs
    start_imap
    start_smtp
    start_pg
    write_env
    trap - EXIT INT TERM HUP
    local ms=$(( ($(date +%s%N) - t0ms) / 1000000 ))
    echo "stack up in $DIR: pg=$PG_PORT imap=$IMAP_PORT lmtp=$LMTP_PORT smtp=$SMTP_PORT ($((ms / 1000)).$(printf %03d $((ms % 1000)))s)"
}

# Processes of this stack that no pid file knows about: e.g. an initdb or pg_ctl left
# running by a start that was SIGKILLed. Only these programs, and only when one of
# their arguments lies inside DIR.
sweep_strays() {
    local p pid exe
    for p in /proc/[0-9]*; do
        pid=${p#/proc/}
        [ "$pid" != $$ ] || continue
        exe=
        IFS= read -r -d '' exe 2>/dev/null <"$p/cmdline" || true
        case "${exe##*/}" in
            initdb|postgres|pg_ctl|dovecot|smtpd|unshare|runuser) ;;
            *) continue ;;
        esac
        if tr '\0' '\n' 2>/dev/null <"$p/cmdline" | tail -n +2 | grep -F -e "$DIR/" >/dev/null; then
            log "killing stray ${exe##*/} ($pid)"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
}

cmd_stop() {
    set_dir "${1:-}"
    [ -d "$DIR" ] || return 0
    need_root
    RUN=$(cat "$DIR/sockdir" 2>/dev/null || echo "$DIR/run")
    stop_smtp
    stop_imap
    stop_pg
    sweep_strays
    # an initdb/pg_ctl killed just now may have started nothing, or a postmaster
    stop_pg
    if [ -s "$PORTS_FILE" ]; then
        # shellcheck disable=SC1090
        . "$PORTS_FILE"
        "$PY" "$UTIL" release-ports "$DIR" "${PG_PORT:-0}" "${IMAP_PORT:-0}" "${LMTP_PORT:-0}" "${SMTP_PORT:-0}" || true
    fi
    if [ -f "$DIR/sockdir" ]; then
        RUN=$(cat "$DIR/sockdir")
        case "$RUN" in
            /tmp/tks.*) [ "$(cat "$RUN/owner" 2>/dev/null)" = "$DIR" ] && rm -rf "$RUN" ;;
        esac
        rm -f "$DIR/sockdir"
    fi
    [ -f "$DIR/env" ] && sed -i -e 's/^export \(PG\|IMAP\|SMTP\)_PID=.*/export \1_PID=/' "$DIR/env"
    return 0
}

svc_arg() {
    case "${1:-}" in
        pg|imap|smtp) ;;
        *) die "service must be pg, imap or smtp" ;;
    esac
}

cmd_stop_one() {
    set_dir "${1:-}"; svc_arg "${2:-}"
    need_root
    load_ports
    "stop_$2"
    write_env
}

cmd_start_one() {
    set_dir "${1:-}"; svc_arg "${2:-}"
    need_root
    need_bins
    load_ports
    "start_$2"
    write_env
    # mail that waited for Dovecot: retry it now instead of at smtpd's next retry time
    if [ "$2" != pg ] && smtp_running; then smtpctl_ns schedule all >/dev/null 2>&1 || true; fi
}

cmd_status() {
    set_dir "${1:-}"
    load_ports
    local s rc=0
    for s in pg imap smtp; do
        if "${s}_running"; then echo "$s running pid $("${s}_pid")"; else echo "$s stopped"; rc=1; fi
    done
    echo "queued envelopes: $(queue_count)"
    return $rc
}

cmd_wait_delivered() {
    set_dir "${1:-}"
    need_root   # the queue directories belong to smtpd's queue user, mode 700
    local timeout=${2:-60}
    load_ports
    local deadline=$((SECONDS + timeout)) empty=0 last_kick=$SECONDS n
    while :; do
        n=$(queue_count)
        if [ "$n" -eq 0 ]; then
            empty=$((empty + 1))
            [ $empty -ge 2 ] && return 0
        else
            empty=0
            # a TempFail (Dovecot was down) is retried only after 10 s and longer;
            # ask smtpd to retry now, every 2 s
            if [ $((SECONDS - last_kick)) -ge 2 ] && smtp_running; then
                smtpctl_ns schedule all >/dev/null 2>&1 || true
                last_kick=$SECONDS
            fi
        fi
        if [ $SECONDS -ge $deadline ]; then
            log "wait-delivered: $n envelope(s) still queued after ${timeout}s"
            smtp_running && smtpctl_ns show queue >&2 2>/dev/null || log "(OpenSMTPD is not running)"
            return 1
        fi
        sleep 0.1
    done
}

cmd_deliver() {
    set_dir "${1:-}"
    [ $# -eq 3 ] || die "usage: deliver DIR USER FILE"
    load_ports
    "$PY" "$UTIL" lmtp-deliver "$LMTP_PORT" "$2" "$3"
}

cmd_send() {
    set_dir "${1:-}"
    [ $# -eq 4 ] || die "usage: send DIR FROM TO[,TO...] FILE"
    load_ports
    "$PY" "$UTIL" smtp-send "$SMTP_PORT" "$2" "$3" "$4"
}

cmd_smtpctl() {
    set_dir "${1:-}"; shift
    need_root
    load_ports
    smtpctl_ns "$@" || die "smtpctl failed (is OpenSMTPD running?)"
}

main() {
    local cmd=${1:-}
    [ -n "$cmd" ] || usage
    shift
    case "$cmd" in
        deps) cmd_deps ;;
        start) cmd_start "$@" ;;
        stop) cmd_stop "$@" ;;
        stop-one) cmd_stop_one "$@" ;;
        start-one) cmd_start_one "$@" ;;
        status) cmd_status "$@" ;;
        wait-delivered) cmd_wait_delivered "$@" ;;
        deliver) cmd_deliver "$@" ;;
        send) cmd_send "$@" ;;
        smtpctl) cmd_smtpctl "$@" ;;
        flush) set_dir "${1:-}"; need_root; load_ports; smtpctl_ns schedule all ;;
        -h|--help|help) usage 0 ;;
        *) usage ;;
    esac
}

main "$@"
