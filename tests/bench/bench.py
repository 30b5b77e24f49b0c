#!/usr/bin/env python3
"""bench.py - `make bench`: tickd end to end on the real servers, and the
limits underneath it, measured in the same run on the same stack.

    /usr/bin/python3 tests/bench/bench.py [--n N] [--replies R] [--out DIR] ...

Starts a private stack (tests/stack.sh: PostgreSQL 15, Dovecot, OpenSMTPD),
then:
  1. limits: pgbench INSERT of a 2 KB bytea + COMMIT (1 and 4 clients), a
     bare `curl -X "UID FETCH 1:* (BODY.PEEK[])"` of all N mails, OpenSMTPD
     accepting mails on one connection (python smtplib), IMAP APPEND rate;
  2. new tickets: N generated mails (tests/bench/gen.py) appended to INBOX
     with --append-conns IMAP connections, then tickd started; wall time
     until every mail is committed AND every acknowledgement has the SMTP
     server's 250 (outbox state 'sent'); CPU seconds of tickd and of all of
     PostgreSQL (/proc, utime+stime, exited backends through the
     postmaster's cutime/cstime); tickd's peak RSS (VmHWM) and its RSS
     sampled every second;
  3. replies: R replies threading into those tickets, same figures;
  4. latency: single mails APPENDed while tickd idles, APPEND start to the
     COMMIT of the message row (pg_xact_commit_timestamp, so
     track_commit_timestamp is switched on); once with IDLE, once with
     polling only (--poll-interval).
Writes DIR/bench.json and DIR/bench.md (a Markdown table) and prints the
table.  --n 100000 (or --soak) is the soak run: RSS every second, reported
as first/max/last and the growth over the second half; it runs the new
tickets once (no replies unless --replies, no latency samples).
"""
import argparse
import contextlib
import datetime
import imaplib
import json
import os
import random
import shutil
import signal
import smtplib
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import gen  # noqa: E402

PGBIN = "/usr/lib/postgresql/15/bin"
STACK = os.path.join(ROOT, "tests", "stack.sh")
TICKS = os.sysconf("SC_CLK_TCK")
RT_TICKETS_PER_S = 3.15  # ../shared/notes/helpdesk-anchors.md, issue 9


T0 = time.monotonic()


def log(msg):
    print("bench: [%6.1fs] %s" % (time.monotonic() - T0, msg), file=sys.stderr, flush=True)


# ---------------------------------------------------------------- /proc
def proc_cpu(pid, children=False):
    """utime+stime (+ cutime+cstime) of pid in seconds, 0 if gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    t = int(fields[11]) + int(fields[12])
    if children:
        t += int(fields[13]) + int(fields[14])
    return t / TICKS


def proc_children(root):
    """The pids of root's live children."""
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == root:
            yield int(d)


def proc_tree_cpu(root):
    """CPU of root (with its reaped children) plus its live children."""
    return proc_cpu(root, children=True) + sum(proc_cpu(p) for p in proc_children(root))


PG_KINDS = ("autovacuum worker", "checkpointer", "background writer", "walwriter",
            "autovacuum launcher", "logical replication launcher")


def pg_kinds(root):
    """{pid: (kind, CPU seconds)} of PostgreSQL's live processes (children
    of the postmaster root), the kind from the process title: one of
    PG_KINDS, else "backend"; and root itself as "postmaster+exited" with
    the CPU of its reaped children (exited backends and workers)."""
    out = {root: ("postmaster+exited", proc_cpu(root, children=True))}
    for pid in proc_children(root):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                title = f.read().decode("utf-8", "replace")
        except OSError:
            continue
        kind = next((k for k in PG_KINDS if k in title), "backend")
        out[pid] = (kind, proc_cpu(pid))
    return out


def pg_kinds_delta(k0, k1, mails, exclude=()):
    """ms of CPU per mail by kind of PostgreSQL process between two
    pg_kinds samples (a process new since k0 counts whole), less the
    processes in exclude (the bench's own polling backend)."""
    by = {}
    for pid, (kind, cpu) in k1.items():
        if pid in exclude:
            continue
        before = k0.get(pid, (kind, 0.0))[1]
        by[kind] = by.get(kind, 0.0) + cpu - before
    # A process alive at k0 and reaped since (the --existing generator's
    # backend, finishing as the run starts) moved all its CPU into the
    # postmaster's reaped children: only what it spent after k0 is the
    # run's.  (Without this, one such backend put 6.7 ms per ticket on
    # "postmaster+exited".)
    for pid, (kind, cpu) in k0.items():
        if pid not in k1 and pid not in exclude and kind != "postmaster+exited":
            by["postmaster+exited"] = by.get("postmaster+exited", 0.0) - cpu
    return {k: round(v * 1000 / mails, 3) for k, v in sorted(by.items())}


def proc_status(pid, key):
    """a kB figure from /proc/pid/status (VmRSS, VmHWM) in MB."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def pct(vals, p):
    s = sorted(vals)
    if not s:
        return None
    k = min(len(s) - 1, max(0, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


# ---------------------------------------------------------------- stack
class Stack:
    def __init__(self, d, pg_stats=False, delivery="maildir", shared_buffers=None):
        self.dir = d
        subprocess.run([STACK, "start", d], check=True,
                       env=dict(os.environ, TICKD_STACK_DELIVERY=delivery))
        self.env = {}
        with open(os.path.join(d, "env")) as f:
            for line in f:
                line = line.strip()
                if "=" in line and not line.startswith("#"):
                    k, v = line.replace("export ", "", 1).split("=", 1)
                    self.env[k] = v.strip("'\"")
        os.environ.update({k: self.env[k] for k in ("IMAP_HOST", "IMAP_PORT", "MAIL_PASSWORD",
                                                     "STACK_DIR")})
        # exact commit times for the latency figures
        self.psql("postgres", "ALTER SYSTEM SET track_commit_timestamp = on")
        if pg_stats:
            self.psql("postgres", "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
        if shared_buffers:
            self.psql("postgres", "ALTER SYSTEM SET shared_buffers = '%s'" % shared_buffers)
        subprocess.run([STACK, "stop-one", d, "pg"], check=True)
        subprocess.run([STACK, "start-one", d, "pg"], check=True)
        self.reload_env()
        if pg_stats:
            # planning is PostgreSQL's time too (a custom plan per call);
            # known once the library is loaded
            self.psql("postgres", "ALTER SYSTEM SET pg_stat_statements.track_planning = on")
            self.psql("postgres", "SELECT pg_reload_conf()")

    def reload_env(self):
        with open(os.path.join(self.dir, "env")) as f:
            for line in f:
                if line.startswith("export PG_PID="):
                    self.env["PG_PID"] = line.split("=", 1)[1].strip().strip("'\"")

    def stop(self):
        subprocess.run([STACK, "stop", self.dir])

    def psql(self, db, q, check=True):
        p = subprocess.run([PGBIN + "/psql", "-h", self.env["PGHOST"], "-p", self.env["PGPORT"],
                            "-U", self.env["PGUSER"], "-d", db, "-qAtc", q],
                           capture_output=True, text=True)
        if check and p.returncode != 0:
            raise RuntimeError("psql: %s: %s" % (q, p.stderr))
        return p.stdout.strip()

    def pg_pid(self):
        return int(self.env["PG_PID"])

    def cpu(self):
        """CPU seconds of PostgreSQL, OpenSMTPD (with the deliveries it
        forks) and Dovecot, and of the whole machine (busy, all cores)."""
        out = {}
        for k in ("PG", "SMTP", "IMAP"):
            try:
                out[k] = proc_tree_cpu(int(self.env[k + "_PID"]))
            except (KeyError, ValueError):
                out[k] = 0.0
        with open("/proc/stat") as f:
            t = [int(x) for x in f.readline().split()[1:9]]
        out["busy"] = (sum(t) - t[3] - t[4]) / TICKS
        return out

    def imap(self, user):
        m = imaplib.IMAP4(self.env["IMAP_HOST"], int(self.env["IMAP_PORT"]), timeout=60)
        m.login(user, self.env["MAIL_PASSWORD"])
        return m


def append_all(stack, user, raws, conns):
    """APPEND raws to user's INBOX over conns connections; mails/s."""
    chunks = [raws[i::conns] for i in range(conns)]
    errors = []

    def work(chunk):
        try:
            m = stack.imap(user)
            for raw in chunk:
                typ, _ = m.append("INBOX", None, None, raw)
                if typ != "OK":
                    raise RuntimeError("APPEND %s" % typ)
            m.logout()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    t0 = time.monotonic()
    ts = [threading.Thread(target=work, args=(c,)) for c in chunks]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise errors[0]
    return len(raws) / (time.monotonic() - t0)


def append_maildir(stack, user, raws):
    """Write raws straight into user's Maildir/new (Dovecot assigns UIDs on
    its next sync): loads 100,000 mails in seconds where APPEND, with an
    fsync each, takes many minutes.  Only for the soak run."""
    m = stack.imap(user)  # makes Dovecot create the Maildir
    m.select("INBOX")
    m.logout()
    base = os.path.join(stack.dir, "mail", user, "Maildir")
    st = os.stat(base)
    t0 = time.monotonic()
    for i, raw in enumerate(raws):
        name = "%d.M%dP%dQ%d.bench,S=%d" % (int(time.time()), i, os.getpid(), i, len(raw))
        tmp = os.path.join(base, "tmp", name)
        with open(tmp, "wb") as f:
            f.write(raw)
        os.chown(tmp, st.st_uid, st.st_gid)
        os.rename(tmp, os.path.join(base, "new", name))
    m = stack.imap(user)  # let Dovecot index them before tickd starts
    m.select("INBOX")
    m.logout()
    return len(raws) / (time.monotonic() - t0)


# ---------------------------------------------------------------- limits
def limit_pgbench(stack, clients, secs):
    db = "pgb"
    if stack.psql("postgres", "SELECT 1 FROM pg_database WHERE datname = 'pgb'") != "1":
        stack.psql("postgres", "CREATE DATABASE pgb")
        stack.psql(db, "CREATE TABLE b (id bigserial PRIMARY KEY, raw bytea NOT NULL)")
    script = os.path.join(stack.dir, "pgbench.sql")
    with open(script, "w") as f:
        # 2 KB of random bytes (incompressible, like mail), one row, COMMIT
        f.write("INSERT INTO b (raw) SELECT decode(string_agg(md5(random()::text), ''), 'hex') "
                "FROM generate_series(1, 128);\n")
    p = subprocess.run(["pgbench", "-n", "-h", stack.env["PGHOST"], "-p", stack.env["PGPORT"],
                        "-U", stack.env["PGUSER"], "-f", script, "-T", str(secs), "-c",
                        str(clients), "-j", str(min(clients, 2)), db],
                       capture_output=True, text=True, check=True)
    for line in p.stdout.splitlines():
        if line.startswith("tps = "):
            return float(line.split()[2])
    raise RuntimeError("pgbench: no tps in %s" % p.stdout)


def limit_curl_fetch(stack, user, n, chunk=8):
    """curl's custom FETCH on one connection.  curl 7.88 hands literals to
    its header code, which refuses more than 300 KB per response ("Too
    large response headers"), so the UIDs go in chunks of 8 (2-8 KB
    mails), one `--next` each; the connection is reused."""
    url = "imap://%s:%s/INBOX" % (stack.env["IMAP_HOST"], stack.env["IMAP_PORT"])
    cmd = ["curl", "-s", "--max-time", "600"]
    for i in range(1, n + 1, chunk):
        if i > 1:
            cmd.append("--next")
        cmd += ["--url", url, "-u", "%s:%s" % (user, stack.env["MAIL_PASSWORD"]), "-X",
                "UID FETCH %d:%d (BODY.PEEK[])" % (i, min(n, i + chunk - 1)), "-o", "/dev/null"]
    t0 = time.monotonic()
    subprocess.run(cmd, check=True)
    return n / (time.monotonic() - t0)


def limit_smtp(stack, n):
    """OpenSMTPD accepting n small mails on one connection at a time
    (it ends a session after 100 mails)."""
    msg = gen.new_mails(1, seed=99, to="sink@example.com")[0][3]
    host, port = stack.env["SMTP_HOST"], int(stack.env["SMTP_PORT"])
    t0 = time.monotonic()
    s = None
    for i in range(n):
        if i % 90 == 0:
            if s:
                s.quit()
            s = smtplib.SMTP(host, port, timeout=60)
        s.sendmail("bench@example.com", ["sink@example.com"], msg)
    s.quit()
    return n / (time.monotonic() - t0)


# ---------------------------------------------------------------- tickd
class Tickd:
    def __init__(self, stack, d, args, name="", build=None, pg_socket=None):
        """name: a second instance beside the first (its own database,
        mailbox, configuration and log), for runs side by side; build: the
        directory of its tickd and tickctl (default --build)."""
        self.stack, self.dir, self.args, self.name = stack, d, args, name
        self.build = build or args.build
        self.db = "bench" + name
        self.support = "support" + name
        stack.psql("postgres", "CREATE DATABASE %s" % self.db)
        # --pg-socket: PostgreSQL's Unix socket instead of TCP on loopback
        sock = args.pg_socket if pg_socket is None else pg_socket
        host = stack.env["PG_SOCKET_DIR"] if sock else stack.env["PGHOST"]
        self.conninfo = "host=%s port=%s dbname=%s user=%s" % (
            host, stack.env["PGPORT"], self.db, stack.env["PGUSER"])
        with open(os.path.join(d, "imap-password"), "w") as f:
            f.write(stack.env["MAIL_PASSWORD"] + "\n")
        self.conf = os.path.join(d, "tickd%s.conf" % name)
        self.search_index = True
        self.sent_base = 0  # outbox ids up to this are not the run's
        self.write_conf(idle=True, poll=60)
        self.ctl("migrate")
        self.ctl("init-secret")
        self.proc = None
        self.rss = []  # (seconds since start, MB)

    def write_conf(self, idle, poll):
        # first_run = "new": the mails appended before tickd starts stand
        # for mail arriving while it runs (the default would store them as
        # history, silently)
        e = self.stack.env
        extra = ""
        if self.args.smtp_conns:
            extra = "connections = %d;" % self.args.smtp_conns
        with open(self.conf, "w") as f:
            f.write("""
log_level = %(ll)d;
instance = "bench%(name)s";
database: { conninfo = "%(ci)s"; };
imap: { url = "imap://%(ih)s:%(ip)s"; user = "%(u)s"; password_file = "%(d)s/imap-password";
        after = "seen"; poll_interval = %(poll)d; starttls = false; idle = %(idle)s;
        timeout = 60; batch = %(batch)d; first_run = "new"; };
smtp: { url = "smtp://%(sh)s:%(sp)s"; from = "%(u)s@example.com"; from_name = "Bench Support";
        starttls = false; timeout = 60; %(extra)s };
tickets: { subject_tag = "Bench"; secret_file = "%(d)s/secret%(name)s"; search_index = %(si)s; };
limits: { per_recipient_day = 100000; per_ticket_hour = 1000; global_per_minute = 1000000; };
""" % dict(ll=self.args.log_level, ci=self.conninfo, ih=e["IMAP_HOST"], ip=e["IMAP_PORT"],
           u=self.support, d=self.dir, poll=poll, idle="true" if idle else "false",
           batch=self.args.batch, sh=e["SMTP_HOST"], sp=e["SMTP_PORT"], extra=extra,
           si="true" if self.search_index else "false", name=self.name))

    def reset_db(self):
        """An empty database again: the mails still in INBOX are new to
        tickd (its cursor lives in the database)."""
        self.stack.psql("postgres", "DROP DATABASE %s" % self.db)
        self.stack.psql("postgres", "CREATE DATABASE %s" % self.db)
        self.ctl("migrate")

    def ctl(self, *a):
        p = subprocess.run([os.path.join(self.build, "tickctl"), "-c", self.conf] + list(a),
                           capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError("tickctl %s: %s" % (a, p.stderr))
        return p.stdout

    def start(self):
        logf = open(os.path.join(self.dir, "tickd%s.log" % self.name), "ab")
        self.t_start_epoch = time.time()
        self.proc = subprocess.Popen([os.path.join(self.build, "tickd"), "-c", self.conf],
                                     stdout=logf, stderr=logf)
        self.t_start = time.monotonic()
        self.rss = []
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _sample(self):
        while not self._stop.wait(1.0):
            self.rss.append((round(time.monotonic() - self.t_start, 1),
                             round(proc_status(self.proc.pid, "VmRSS"), 2)))

    def cpu(self):
        return proc_cpu(self.proc.pid)

    def peak_rss(self):
        return proc_status(self.proc.pid, "VmHWM")

    def stop(self):
        self._stop.set()
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.returncode not in (0, -signal.SIGTERM):
            raise RuntimeError("tickd exited %s, see %s/tickd.log" % (self.proc.returncode,
                                                                        self.dir))

    def counts(self, session, failed=True):
        """Mails committed (the cursor: UIDs 1..n are the appended mails,
        and it commits with them), mails sent, and failed ones (a scan of
        the outbox: only now and then).  Cheap, because the bench runs
        this every 0.2 s on the machine it measures."""
        # (only outbox rows above sent_base: a million generated rows
        # counted five times a second cost more than tickd, --existing)
        q = ("SELECT (SELECT COALESCE(sum(last_uid), 0) FROM mailbox_state), (SELECT count(*) "
             "FROM outbox WHERE state = 'sent' AND id > %d), %s"
             % (self.sent_base, "(SELECT count(*) FROM outbox WHERE state = 'failed' AND id > %d)"
                % self.sent_base if failed else "0"))
        return [int(x) for x in session.query(q).split("|")]


class Session:
    """One psql process kept open, so that the bench's own polling runs in
    one backend whose CPU can be taken out of PostgreSQL's figure."""

    def __init__(self, stack, db):
        self.p = subprocess.Popen([PGBIN + "/psql", "-h", stack.env["PGHOST"], "-p",
                                   stack.env["PGPORT"], "-U", stack.env["PGUSER"], "-d", db,
                                   "-qAtX"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True, bufsize=1)
        self.pid = int(self.query("SELECT pg_backend_pid()"))

    def query(self, q):
        self.p.stdin.write(q + ";\n\\echo __end__\n")
        self.p.stdin.flush()
        out = []
        for line in self.p.stdout:
            if line.rstrip("\n") == "__end__":
                return "\n".join(out)
            out.append(line.rstrip("\n"))
        raise RuntimeError("psql session ended")

    def cpu(self):
        return proc_cpu(self.pid)

    def close(self):
        self.p.stdin.close()
        self.p.wait(10)


def pg_stats(stack, db, top=25):
    """the statements that took PostgreSQL's time (running them, and
    planning them: plans), most first (--pg-stats)."""
    return stack.psql(db, "SELECT round(total_exec_time + total_plan_time)::text || ' ms', calls, "
                      "round(((total_exec_time + total_plan_time) / GREATEST(calls, 1))::numeric, 3)::text "
                      "|| ' ms/call', 'plans ' || plans || ' ' || round(total_plan_time)::text "
                      "|| ' ms', left(regexp_replace(query, '\\s+', ' ', 'g'), 160) "
                      "FROM pg_stat_statements ORDER BY total_exec_time + total_plan_time DESC "
                      "LIMIT %d" % top)


def check_delivered(d, args, phase, want):
    """Every ack really left OpenSMTPD: count them in the sink Maildir."""
    if args.delivery != "maildir":
        return
    sink = os.path.join(d, "mail", "sink", "Maildir")
    got = 0
    for sub in ("new", "cur"):
        for name in os.listdir(os.path.join(sink, sub)):
            with open(os.path.join(sink, sub, name), "rb") as f:
                got += b"\nAuto-Submitted: auto-replied" in f.read(8192)
    phase["acks_delivered_total"] = got
    log("%d acknowledgements delivered into the sink Maildir in all" % got)
    if got < want:
        raise RuntimeError("only %d of %d acks delivered" % (got, want))


WAL_SQL = "SELECT wal_bytes::bigint, wal_fpi FROM pg_stat_wal"


def run_phase(stack, td, want_msgs, want_sent, timeout, mails):
    """Start tickd, wait until want_msgs inbound messages and want_sent
    sent mails; wall seconds, CPU of tickd, PostgreSQL and the mail
    servers (per mail of this phase's mails), peak RSS."""
    poll = Session(stack, td.db)
    # PostgreSQL's WAL (cluster-wide, PostgreSQL 15's pg_stat_wal): the
    # bytes and full-page images a mail costs, which a big database's
    # scattered index pages multiply after each checkpoint
    wal0 = [int(x) for x in stack.psql(td.db, WAL_SQL).split("|")]
    # this phase's rows: their commit times end it (below)
    msg_base, ob_base = (int(x) for x in stack.psql(
        td.db, "SELECT (SELECT COALESCE(max(id), 0) FROM message), "
               "(SELECT COALESCE(max(id), 0) FROM outbox)").split("|"))
    k0 = pg_kinds(stack.pg_pid())
    c0 = stack.cpu()
    own0 = poll.cpu()
    td.start()
    t0 = td.t_start
    deadline = t0 + timeout
    t_ingested = None
    polls = 0
    while True:
        if td.proc.poll() is not None:
            raise RuntimeError("tickd died (%s), see %s/tickd.log" % (td.proc.returncode, td.dir))
        polls += 1
        msgs, sent, failed = td.counts(poll, failed=polls % 25 == 0)
        if msgs >= want_msgs and t_ingested is None:
            t_ingested = time.monotonic() - t0
        if msgs >= want_msgs and sent >= want_sent:
            break
        if failed:
            raise RuntimeError("%d outbox mails failed" % failed)
        if time.monotonic() > deadline:
            raise RuntimeError("timeout: %d/%d messages, %d/%d sent" % (msgs, want_msgs, sent,
                                                                        want_sent))
        time.sleep(0.2 if want_msgs < 20000 else 1.0)
    wall_polled = time.monotonic() - t0
    # The phase ends with the COMMIT of its last mail, or of its last
    # acknowledgement's 'sent' (track_commit_timestamp is on): the poll
    # above finds that up to 0.2 s (1 s) late, a twelfth of a 5,000-reply
    # phase; the poll's own time is the fallback.
    end = stack.psql(td.db, (
        "SELECT extract(epoch FROM greatest((SELECT max(pg_xact_commit_timestamp(xmin)) "
        "FROM message WHERE id > %d AND direction = 'in'), (SELECT "
        "max(pg_xact_commit_timestamp(xmin)) FROM outbox WHERE id > %d AND state = 'sent')))")
        % (msg_base, ob_base)).strip()
    wall = wall_polled
    if end:
        wall = min(wall_polled, max(0.01, float(end) - td.t_start_epoch))
    if td.counts(poll)[2]:
        raise RuntimeError("outbox mails failed, see %s/tickd.log" % td.dir)
    # the search index's pending list (GIN fastupdate) is moved into the
    # index by an insert that overflows it, or by autovacuum: what this
    # run's mails left in it is their work too, counted here
    gin_pages = 0
    if td.search_index:
        gin_pages = int(stack.psql(td.db, "SELECT gin_clean_pending_list('message_search_doc')")
                        or 0)
    cpu = td.cpu()
    c1 = stack.cpu()
    k1 = pg_kinds(stack.pg_pid())
    poll_pid = poll.pid
    # less the bench's own polling backend, still alive so not yet reaped
    pg = c1["PG"] - c0["PG"] - (poll.cpu() - own0)
    poll.close()
    wal1 = [int(x) for x in stack.psql(td.db, WAL_SQL).split("|")]

    def ms(k):
        return round((c1[k] - c0[k]) * 1000 / mails, 3)
    rss = td.peak_rss()
    # the sender's own figures: connections used, SMTP commands per mail
    try:
        conns = json.loads(td.ctl("status", "--json"))["connections"]
        smtp = next((c["state"] for c in conns if c["name"] == "smtp-connections"), "")
    except (RuntimeError, ValueError, KeyError):
        smtp = ""
    td.stop()
    return dict(mails=mails, acks=want_sent, wall_s=round(wall, 2),
                wall_polled_s=round(wall_polled, 2), smtp_connections=smtp,
                all_committed_s=round(t_ingested, 2),
                per_s=round(mails / wall, 1), tickd_cpu_s=round(cpu, 2),
                tickd_cpu_ms_per_mail=round(cpu * 1000 / mails, 3),
                pg_cpu_s=round(pg, 2), pg_cpu_ms_per_mail=round(pg * 1000 / mails, 3),
                peak_rss_mb=round(rss, 1), rss_series=td.rss,
                wal_kb_per_mail=round((wal1[0] - wal0[0]) / 1024.0 / mails, 2),
                wal_fpi_per_mail=round((wal1[1] - wal0[1]) / mails, 2),
                gin_pending_pages_left=gin_pages,
                pg_ms_by_process=pg_kinds_delta(k0, k1, mails, (poll_pid,)),
                smtp_cpu_ms_per_mail=ms("SMTP"), imap_cpu_ms_per_mail=ms("IMAP"),
                machine_busy_pct=round((c1["busy"] - c0["busy"]) * 100 /
                                       (wall_polled * (os.cpu_count() or 1)), 1))


@contextlib.contextmanager
def deliveries_held(d):
    """OpenSMTPD accepts mail but delivers none until the block ends."""
    subprocess.run([STACK, "smtpctl", d, "pause", "mda"], check=True, capture_output=True)
    try:
        yield
    finally:
        subprocess.run([STACK, "smtpctl", d, "resume", "mda"], check=True, capture_output=True)


def run_held(stack, td, d, args, search_index):
    """One held run into an empty database, the search index on or off."""
    td.search_index = search_index
    td.write_conf(idle=True, poll=60)
    td.reset_db()
    try:
        with deliveries_held(d):
            r = run_phase(stack, td, args.n, args.n, max(600, args.n / 5), args.n)
    finally:
        td.search_index = True
        td.write_conf(idle=True, poll=60)
    subprocess.run([STACK, "wait-delivered", d, "600"], capture_output=True)
    return r


def run_search_pairs(stack, td, d, args, first):
    """What the full-text index costs (issue 21: within 10% of the rate).
    The held run with the index (first, already measured) is followed by
    two without it and one more with it: with, without, without, with.
    The speed of this machine drifts by a third between runs minutes
    apart; in that order a steady drift falls on both sides alike.  The
    last run leaves the database indexed, as the replies run wants it."""
    runs = dict(with_index=[first], without=[])
    for on in (False, False, True):
        log("new tickets, deliveries held, search index %s: running tickd" % ("on" if on else "off"))
        r = run_held(stack, td, d, args, on)
        log("search index %s: %s" % ("on" if on else "off",
                                     {k: v for k, v in r.items() if k != "rss_series"}))
        runs["with_index" if on else "without"].append(r)

    def mean(rs, k):
        return round(sum(r[k] for r in rs) / len(rs), 3)
    out = dict(runs=runs)
    for side, rs in (("with", runs["with_index"]), ("without", runs["without"])):
        out[side] = dict(per_s=mean(rs, "per_s"), tickd_ms=mean(rs, "tickd_cpu_ms_per_mail"),
                         pg_ms=mean(rs, "pg_cpu_ms_per_mail"))
    out["rate_cost_pct"] = round(100.0 * (1 - out["with"]["per_s"] / out["without"]["per_s"]), 1)
    out["cpu_ms_per_mail"] = round(out["with"]["tickd_ms"] + out["with"]["pg_ms"] -
                                   out["without"]["tickd_ms"] - out["without"]["pg_ms"], 3)
    out["search_bytes_per_mail"] = int(stack.psql(
        td.db, "SELECT pg_total_relation_size('message_search') / %d" % args.n))
    log("search index: %s" % {k: v for k, v in out.items() if k != "runs"})
    return out


def measure_side_by_side(stack, d, args, pair, want=None):
    """Start the instances of pair together; as each has committed and
    sent args.n mails, its wall time and CPU per mail (see
    run_side_by_side).  want: (messages, sent, mails) instead, the counts
    each instance must reach and the mails its CPU is divided by."""
    want_msgs, want_sent, per = want or (args.n, args.n, args.n)
    out = {}
    polls = {k: Session(stack, t.db) for k, t in pair.items()}
    own = {p.pid for p in polls.values()}
    for t in pair.values():
        t.start()
    left = dict(pair)
    deadline = time.monotonic() + max(600, args.n / 2)
    while left:
        for k, t in list(left.items()):
            if t.proc.poll() is not None:
                raise RuntimeError("tickd_%s died, see %s" % (k, d))
            msgs, sent, _ = t.counts(polls[k], failed=False)
            if msgs < want_msgs or sent < want_sent:
                continue
            wall = time.monotonic() - t.t_start
            pids = [int(x) for x in stack.psql(
                "postgres", "SELECT pid FROM pg_stat_activity WHERE datname = '%s' AND "
                "backend_type = 'client backend'" % t.db).split()]
            pg = sum(proc_cpu(p) for p in pids if p not in own)
            if t.search_index:
                c0 = polls[k].cpu()
                polls[k].query("SELECT gin_clean_pending_list('message_search_doc')")
                pg += polls[k].cpu() - c0
            out[k] = dict(wall_s=round(wall, 2), per_s=round(per / wall, 1),
                          tickd_ms=round(t.cpu() * 1000 / per, 3),
                          pg_ms=round(pg * 1000 / per, 3), backends=len(pids))
            del left[k]
        if time.monotonic() > deadline:
            raise RuntimeError("side by side: timeout")
        time.sleep(0.2)
    for t in pair.values():
        t.stop()
    for p in polls.values():
        p.close()
    return out


def run_side_by_side(stack, d, args, raws, variants, want=None):
    """Two instances at the same time, each with its own database and
    mailbox holding the same mails (raws): whatever slows this machine
    slows both, so their CPU per mail can be compared where runs minutes
    apart cannot.  variants: (name, search_index, prepare) per instance;
    prepare(tickd) fills its database first.  Per instance: tickd's CPU
    and that of its own PostgreSQL backends (pg_stat_activity by
    database), and for an indexed one the search index's pending list it
    leaves, flushed and counted.  Autovacuum is off for the run, as it
    works for both databases in one process: the pending list is then
    moved into the index by the inserts that overflow it, inside the
    backends measured.  Deliveries held.  A variant may name a fourth
    thing: the build directory of its tickd (--against)."""
    pair = {}
    for name, on, prepare, *build in variants:
        t = Tickd(stack, d, args, "_" + name, build[0] if build else None,
                  pg_socket=args.against_pg_socket if name.endswith("other") else None)
        t.search_index = on
        t.write_conf(idle=True, poll=60)
        if prepare:
            prepare(t)
        t.sent_base = int(stack.psql(t.db, "SELECT COALESCE(max(id), 0) FROM outbox"))
        append_maildir(stack, t.support, raws)
        pair[name] = t
    stack.psql("postgres", "ALTER SYSTEM SET autovacuum = off")
    stack.psql("postgres", "SELECT pg_reload_conf()")
    try:
        with deliveries_held(d):
            out = measure_side_by_side(stack, d, args, pair, want)
    finally:
        for t in pair.values():
            if t.proc and t.proc.poll() is None:
                t.proc.kill()
        stack.psql("postgres", "ALTER SYSTEM RESET autovacuum")
        stack.psql("postgres", "SELECT pg_reload_conf()")
    subprocess.run([STACK, "wait-delivered", d, "600"], capture_output=True)
    for t in pair.values():
        stack.psql("postgres", "DROP DATABASE %s" % t.db)
    return out


def side_by_side_cost(out, a, b):
    """a's CPU per mail against b's: the difference in ms and percent."""
    ta = out[a]["tickd_ms"] + out[a]["pg_ms"]
    tb = out[b]["tickd_ms"] + out[b]["pg_ms"]
    out["cpu_ms_per_mail"] = round(ta - tb, 3)
    out["cpu_cost_pct"] = round(100.0 * ta / tb - 100, 1)
    return out


def run_pair(stack, d, args, raws, what, variants, want=None):
    """run_side_by_side of the two variants, the first's cost against the
    second's (side_by_side_cost), logged as what."""
    out = side_by_side_cost(run_side_by_side(stack, d, args, raws, variants, want),
                            variants[0][0], variants[1][0])
    log("%s side by side: %s" % (what, out))
    return out


def run_search_side_by_side(stack, d, args, raws):
    """The search index's CPU: with and without it, side by side."""
    return run_pair(stack, d, args, raws, "search index",
                    (("with", True, None), ("without", False, None)))


def run_against_side_by_side(stack, d, args, raws):
    """This build against another one (--against DIR, e.g. a worktree of
    an older commit built there), side by side on the same mails: a
    change's cost or gain in CPU per ticket, which runs minutes apart on
    this machine cannot show (its speed drifts by a third)."""
    return run_pair(stack, d, args, raws, "against %s" % args.against,
                    (("this", True, None, args.build), ("other", True, None, args.against)))


def settle_clocks(stack, t):
    """The SLA tick over t's tickets until every clock is started and no
    change waits (tickctl tick): replies come a while after their tickets,
    and a running tickd's tick (each pass of its loop, at most once a
    second) has taken them by then; a phase of a few seconds at full
    speed ends with a backlog of clocks that no helpdesk has."""
    for _ in range(50):
        left = stack.psql(t.db, "SELECT (SELECT count(*) FROM sla_clock WHERE NOT initialized)"
                          " + (SELECT count(*) FROM sla_change)")
        if int(left) == 0:
            return
        t.ctl("tick")
    raise RuntimeError("the SLA tick left %s clocks unsettled" % left)


def run_against_replies_side_by_side(stack, d, args, new_raws, reply_raws):
    """The replies, this build against --against: each instance first
    takes the same new mails with its own build (acknowledgements held),
    then both take the same replies at the same time; CPU per reply."""
    def prepare(t):
        append_maildir(stack, t.support, new_raws)
        poll = Session(stack, t.db)
        try:
            with deliveries_held(d):
                t.start()
                deadline = time.monotonic() + max(600, args.n / 5)
                while True:
                    msgs, sent, _ = t.counts(poll, failed=False)
                    if msgs >= args.n and sent >= args.n:
                        break
                    if t.proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("replies side by side: the new mails did not go in")
                    time.sleep(0.2)
                t.stop()
        finally:
            poll.close()
        settle_clocks(stack, t)
    return run_pair(stack, d, args, reply_raws, "replies against %s" % args.against,
                    (("rthis", True, prepare, args.build), ("rother", True, prepare, args.against)),
                    (args.n + len(reply_raws), 0, len(reply_raws)))


def generate_existing(stack, db, n):
    """n tickets into db by one set-based SQL script (not by mail);
    seconds taken."""
    log("existing: generating %d tickets" % n)
    t0 = time.monotonic()
    subprocess.run([PGBIN + "/psql", "-h", stack.env["PGHOST"], "-p", stack.env["PGPORT"],
                    "-U", stack.env["PGUSER"], "-d", db, "-qAtX", "-v", "ON_ERROR_STOP=1",
                    "-v", "n=%d" % n, "-f", os.path.join(HERE, "existing.sql")],
                   check=True, capture_output=True)
    return time.monotonic() - t0


def run_existing_side_by_side(stack, d, args, raws):
    """What a database of args.existing tickets costs a new mail, side
    by side with an empty database: the same mails into both at once."""
    return run_pair(stack, d, args, raws, "existing",
                    (("full", True, lambda t: generate_existing(stack, t.db, args.existing)),
                     ("empty", True, None)))


def run_existing(stack, td, d, args):
    """The held run again, into a database that already holds
    args.existing tickets (generated by one set-based SQL script, not by
    mail): what the size of the tables costs a new mail."""
    td.reset_db()
    gen_s = generate_existing(stack, td.db, args.existing)
    log("existing: generated in %.0f s; new tickets, deliveries held: running tickd" % gen_s)
    if args.pg_stats:
        stack.psql(td.db, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        stack.psql(td.db, "SELECT pg_stat_statements_reset()")
    td.sent_base = int(stack.psql(td.db, "SELECT COALESCE(max(id), 0) FROM outbox"))
    try:
        with deliveries_held(d):
            r = run_phase(stack, td, args.n, args.n, max(600, args.n / 5), args.n)
    finally:
        td.sent_base = 0
    r["existing"] = args.existing
    r["generate_s"] = round(gen_s, 1)
    if args.pg_stats:
        r["pg_stats"] = pg_stats(stack, td.db)
        log("existing: PostgreSQL time by statement:\n" + r["pg_stats"])
    log("existing: %s" % {k: v for k, v in r.items() if k != "rss_series"})
    subprocess.run([STACK, "wait-delivered", d, "600"], capture_output=True)
    return r


def latency(stack, td, samples, idle, poll, gap):
    """APPEND one mail at a time while tickd idles; seconds from the
    APPEND's start to the COMMIT of the message row."""
    td.write_conf(idle=idle, poll=poll)
    td.start()
    time.sleep(3)  # logged in, IDLE entered
    mails = gen.new_mails(samples, seed=7 if idle else 8,
                          to="%s@example.com" % td.support, tag="lat%d" % int(idle))
    m = stack.imap(td.support)
    sent = {}
    rnd = random.Random(5)
    for mid, _, _, raw, _ in mails:
        t = time.time()
        m.append("INBOX", None, None, raw)
        sent[mid.strip("<>")] = t
        time.sleep(rnd.uniform(*gap))
    m.logout()
    ids = ",".join("'%s'" % k for k in sent)
    deadline = time.monotonic() + poll * 2 + 30
    while time.monotonic() < deadline:
        got = td.stack.psql(td.db, "SELECT count(*) FROM message WHERE message_id IN (%s)" % ids)
        if int(got) == len(sent):
            break
        time.sleep(0.5)
    rows = td.stack.psql(td.db, "SELECT message_id, extract(epoch FROM "
                         "pg_xact_commit_timestamp(xmin)) FROM message WHERE message_id IN "
                         "(%s)" % ids)
    td.stop()
    lat = []
    for line in rows.splitlines():
        mid, ts = line.split("|")
        lat.append(float(ts) - sent[mid])
    if len(lat) != len(sent):
        raise RuntimeError("latency: %d of %d mails committed" % (len(lat), len(sent)))
    return dict(samples=len(lat), idle=idle, poll_interval_s=poll,
                p50_ms=round(pct(lat, 50) * 1000, 1), p99_ms=round(pct(lat, 99) * 1000, 1),
                max_ms=round(max(lat) * 1000, 1), mean_ms=round(statistics.mean(lat) * 1000, 1))


def rss_summary(series):
    if not series:
        return {}
    vals = [v for _, v in series]
    half = vals[len(vals) // 2:]
    return dict(samples=len(vals), first_mb=vals[0], max_mb=max(vals), last_mb=vals[-1],
                second_half_growth_mb=round(max(half) - min(half), 2))


# ---------------------------------------------------------------- report
def machine_share(ss, held):
    """The index's CPU as a share of all the CPU a new ticket takes on this
    machine (tickd and PostgreSQL without the index, plus OpenSMTPD taking
    its acknowledgement and Dovecot serving it, from the held run): the
    rate it costs where, as here, the machine's CPU is the bound."""
    if not held:
        return "no held run to compare with"
    wo = ss["without"]
    other = held["smtp_cpu_ms_per_mail"] + held["imap_cpu_ms_per_mail"]
    total = wo["tickd_ms"] + wo["pg_ms"] + other
    return ("%.1f%% of all the CPU a ticket takes on this machine (%.2f ms, with %.2f ms of "
            "OpenSMTPD and Dovecot): the share of the rate it costs where the CPU is the bound"
            % (100.0 * ss["cpu_ms_per_mail"] / (total + ss["cpu_ms_per_mail"]), total, other))


def side_note(sd, a, b, a_as, b_as, extra=None):
    """The note of a side-by-side row: variants a and b of sd (run_pair),
    named a_as and b_as, with extra after their difference."""
    x, y = sd[a], sd[b]
    return ("tickd + its PostgreSQL backends %.2f + %.2f ms %s, %.2f + %.2f ms %s (%+.2f ms); "
            "%srates side by side %.1f and %.1f tickets/s (not comparable: the first to finish "
            "leaves the machine to the other)"
            % (x["tickd_ms"], x["pg_ms"], a_as, y["tickd_ms"], y["pg_ms"], b_as,
               sd["cpu_ms_per_mail"], extra + "; " if extra else "", x["per_s"], y["per_s"]))


def table(res):
    a, r, li = res["new"], res.get("replies"), res["limits"]
    rows = []
    b = res.get("new_deferred")
    if b:
        rows.append(("**New tickets with acknowledgement**, %d mails, OpenSMTPD delivering "
                     "after the window" % b["mails"], "%.1f tickets/s" % b["per_s"],
                     "wall %.1f s until every mail committed (%.1f s) and every ack had its "
                     "250; then all delivered; tickd %.2f ms, PostgreSQL %.2f ms, OpenSMTPD "
                     "%.2f ms CPU per ticket; WAL %.1f kB, %.2f full-page images per ticket; "
                     "machine %.0f%% busy"
                     % (b["wall_s"], b["all_committed_s"], b["tickd_cpu_ms_per_mail"],
                        b["pg_cpu_ms_per_mail"], b["smtp_cpu_ms_per_mail"],
                        b["wal_kb_per_mail"], b["wal_fpi_per_mail"], b["machine_busy_pct"])))
    sc = res.get("search_cost")
    if sc:
        w, wo = sc["runs"]["with_index"], sc["runs"]["without"]
        rows.append(("**The search index's cost**, %d new mails, deliveries held; runs with, "
                     "without, without, with `tickets.search_index`" % w[0]["mails"],
                     "%.1f%% of the rate" % sc["rate_cost_pct"],
                     "with: %s tickets/s (mean %.1f); without: %s (mean %.1f); tickd + PostgreSQL "
                     "CPU per ticket %.2f + %.2f ms with, %.2f + %.2f ms without (%+.2f ms); "
                     "message_search %d bytes per mail with its indexes"
                     % (" and ".join("%.1f" % r["per_s"] for r in w), sc["with"]["per_s"],
                        " and ".join("%.1f" % r["per_s"] for r in wo), sc["without"]["per_s"],
                        sc["with"]["tickd_ms"], sc["with"]["pg_ms"], sc["without"]["tickd_ms"],
                        sc["without"]["pg_ms"], sc["cpu_ms_per_mail"],
                        sc["search_bytes_per_mail"])))
    ss = res.get("search_side")
    if ss:
        rows.append(("**The search index's CPU**, %d new mails each, two instances side by "
                     "side, with and without the index (autovacuum off, deliveries held)"
                     % res["args"]["n"], "%+.1f%% CPU per ticket" % ss["cpu_cost_pct"],
                     side_note(ss, "with", "without", "with", "without",
                               machine_share(ss, b))))
    ag = res.get("against")
    if ag:
        rows.append(("**This build against `%s`**, side by side: the same %d new mails each "
                     "(autovacuum off, deliveries held)" % (res["args"]["against"],
                                                           res["args"]["n"]),
                     "%+.1f%% CPU per ticket" % ag["cpu_cost_pct"],
                     side_note(ag, "this", "other", "this build", "the other")))
    ar = res.get("against_replies")
    if ar:
        rows.append(("**Replies, this build against `%s`**, side by side: the same %d replies "
                     "each, to the same %d tickets (autovacuum off)"
                     % (res["args"]["against"], res["args"]["replies"], res["args"]["n"]),
                     "%+.1f%% CPU per reply" % ar["cpu_cost_pct"],
                     side_note(ar, "rthis", "rother", "this build", "the other")
                     .replace("tickets/s", "replies/s")))
    es = res.get("existing_side")
    if es:
        rows.append(("**A full database, side by side**: the same %d new mails into a database "
                     "of %d tickets and into an empty one, at the same time (autovacuum off, "
                     "deliveries held)" % (res["args"]["n"], res["args"]["existing"]),
                     "%+.1f%% CPU per ticket" % es["cpu_cost_pct"],
                     side_note(es, "full", "empty", "into the full one",
                               "into the empty database")))
    e = res.get("new_existing")
    if e:
        rows.append(("**New tickets with acknowledgement**, %d mails, deliveries held, into a "
                     "database of %d tickets" % (e["mails"], e["existing"]),
                     "%.1f tickets/s" % e["per_s"],
                     "%s; tickd %.2f ms, PostgreSQL %.2f ms CPU per ticket; WAL %.1f kB and "
                     "%.2f full-page images per ticket (%s in the empty database); peak RSS "
                     "%.1f MB; shared_buffers 2GB in this bench"
                     % ("%.0f%% of the empty database's rate" % (100.0 * e["per_s"] / b["per_s"])
                        if b else "", e["tickd_cpu_ms_per_mail"], e["pg_cpu_ms_per_mail"],
                        e["wal_kb_per_mail"], e["wal_fpi_per_mail"],
                        "%.1f kB, %.2f" % (b["wal_kb_per_mail"], b["wal_fpi_per_mail"])
                        if b else "-", e["peak_rss_mb"])))
        if b and "pg_ms_by_process" in e:
            rows.append(("PostgreSQL CPU per ticket by process, empty database → 1 M tickets",
                         "", "; ".join("%s %.3f → %.3f ms" % (k, b["pg_ms_by_process"].get(k, 0),
                                                               v)
                                       for k, v in e["pg_ms_by_process"].items())))
    rows += [("**New tickets with acknowledgement**, %d mails, OpenSMTPD delivering at the "
              "same time on the same cores" % a["mails"],
             "%.1f tickets/s" % a["per_s"],
             "wall %.1f s until every mail committed (%.1f s) and every ack had its 250; "
             "imap.batch %d, smtp.connections %s (%s); RT: %.2f/s"
             % (a["wall_s"], a["all_committed_s"], res["args"]["batch"],
                res["args"]["smtp_conns"] or "default", a.get("smtp_connections") or "-",
                RT_TICKETS_PER_S)),
            ("tickd CPU per new ticket", "%.2f ms" % a["tickd_cpu_ms_per_mail"],
             "%.1f s in all" % a["tickd_cpu_s"]),
            ("PostgreSQL CPU per new ticket", "%.2f ms" % a["pg_cpu_ms_per_mail"],
             "all PostgreSQL processes, %.1f s in all" % a["pg_cpu_s"]),
            ("tickd peak RSS (new tickets)", "%.1f MB" % a["peak_rss_mb"], "VmHWM"),
            ("OpenSMTPD CPU per acknowledgement", "%.2f ms" % a["smtp_cpu_ms_per_mail"],
             "accepting and delivering it (%s); the machine was %.0f%% busy over the run"
             % ("into a Maildir" if res["args"]["delivery"] == "maildir"
                else "through the tests' LMTP wrapper into Dovecot", a["machine_busy_pct"]))]
    if r:
        rows += [("**Replies** (follow-ups, no ack), %d mails" % r["mails"],
                  "%.1f replies/s" % r["per_s"], "wall %.2f s (the poll saw it at %.1f s)" % (r["wall_s"], r.get("wall_polled_s", r["wall_s"]))),
                 ("tickd CPU per reply", "%.2f ms" % r["tickd_cpu_ms_per_mail"], ""),
                 ("PostgreSQL CPU per reply", "%.2f ms" % r["pg_cpu_ms_per_mail"], ""),
                 ("tickd peak RSS (replies)", "%.1f MB" % r["peak_rss_mb"], "VmHWM")]
    for k, name in (("lat_idle", "IDLE"), ("lat_poll", "polling only")):
        x = res.get(k)
        if x:
            rows.append(("APPEND-to-commit latency, %s" % name,
                         "p50 %.0f ms, p99 %.0f ms" % (x["p50_ms"], x["p99_ms"]),
                         "%d single mails, poll_interval %d s, max %.0f ms"
                         % (x["samples"], x["poll_interval_s"], x["max_ms"])))
    s = res.get("rss_soak")
    if s:
        rows.append(("tickd RSS over the run (1/s)",
                     "first %.1f, max %.1f, last %.1f MB" % (s["first_mb"], s["max_mb"],
                                                             s["last_mb"]),
                     "%d samples; growth within the second half %.2f MB"
                     % (s["samples"], s["second_half_growth_mb"])))
    rows += [("*limit:* bare `curl UID FETCH 1:* (BODY.PEEK[])`", "%.0f mails/s" % li["curl_fetch"],
              "%d mails, 8 per command on one connection (curl 7.88 refuses more than "
              "300 KB per response)" % li.get("curl_fetch_mails", a["mails"])),
             ("*limit:* pgbench INSERT 2 KB bytea + COMMIT",
              "%.0f tps (1 client), %.0f tps (4)" % (li["pgbench_1"], li["pgbench_4"]),
              "fsync on"),
             ("*limit:* OpenSMTPD accepting mail, one connection", "%.0f mails/s" % li["smtp"],
              "python smtplib, new session every 90"),
             ("*limit:* Dovecot APPEND", "%.0f mails/s" % li["append"],
              "%d connections (loading the benchmark)" % res["args"]["append_conns"])]
    out = ["| measure | value | note |", "|---|---|---|"]
    out += ["| %s | %s | %s |" % row for row in rows]
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=10000, help="new mails (default 10000)")
    ap.add_argument("--replies", type=int, default=-1, help="replies (default n/2)")
    ap.add_argument("--soak", action="store_true", help="soak run (implied by --n >= 100000)")
    ap.add_argument("--idle-samples", type=int, default=100)
    ap.add_argument("--poll-samples", type=int, default=20)
    ap.add_argument("--poll-interval", type=int, default=5)
    ap.add_argument("--append-conns", type=int, default=6)
    ap.add_argument("--append", choices=("imap", "maildir"), default=None,
                    help="how the mails get into INBOX (default: imap; maildir for the soak)")
    ap.add_argument("--smtp-conns", type=int, default=0,
                    help="smtp.connections (default 0: tickd's own default, auto)")
    ap.add_argument("--batch", type=int, default=100, help="imap.batch")
    ap.add_argument("--log-level", type=int, default=5)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "bench"))
    ap.add_argument("--delivery", choices=("maildir", "lmtp"), default="maildir",
                    help="how OpenSMTPD delivers the acks (tests/stack.sh): into one Maildir "
                         "(default), or through the tests' LMTP wrapper into Dovecot")
    ap.add_argument("--pg-stats", action="store_true",
                    help="load pg_stat_statements and print where PostgreSQL's time went")
    ap.add_argument("--only-throughput", action="store_true",
                    help="skip the latency runs (profiling)")
    ap.add_argument("--keep", action="store_true", help="keep the stack directory")
    ap.add_argument("--pg-socket", action="store_true",
                    help="tickd reaches PostgreSQL over its Unix socket, not TCP on loopback")
    ap.add_argument("--against-pg-socket", action="store_true",
                    help="with --against: the other build's tickd uses the Unix socket")
    ap.add_argument("--no-search-run", action="store_true",
                    help="skip the runs that measure the search index (with, without, without, with)")
    ap.add_argument("--against", default=None, metavar="DIR",
                    help="also run this build side by side with the tickd and tickctl in DIR "
                         "(e.g. an older commit's worktree, built): the same mails into both")
    ap.add_argument("--existing", type=int, default=0,
                    help="also run the new tickets (deliveries held) into a database that "
                         "already holds this many tickets (tests/bench/existing.sql)")
    args = ap.parse_args()
    soak = args.soak or args.n >= 100000
    if args.replies < 0:
        # the soak is about memory over one long run: no second run with
        # deliveries held, no replies, no latency samples
        args.replies = 0 if soak else args.n // 2
    if args.append is None:
        args.append = "maildir" if soak else "imap"
    os.makedirs(args.out, exist_ok=True)
    d = tempfile.mkdtemp(prefix="tickd-bench-")
    res = dict(args=vars(args), started=datetime.datetime.utcnow().isoformat() + "Z",
               machine=dict(cpus=os.cpu_count(), loadavg_start=os.getloadavg()))
    # a database of a million tickets is served as one would be: with
    # shared_buffers sized for it (the test stack's default is 128 MB),
    # for the empty-database runs of the same bench too
    stack = Stack(d, args.pg_stats, args.delivery,
                  shared_buffers="2GB" if args.existing else None)
    td = None
    try:
        td = Tickd(stack, d, args)
        li = res["limits"] = {}
        log("limits: pgbench")
        li["pgbench_1"] = limit_pgbench(stack, 1, 5)
        li["pgbench_4"] = limit_pgbench(stack, 4, 5)
        log("limits: SMTP")
        li["smtp"] = limit_smtp(stack, 500)
        subprocess.run([STACK, "wait-delivered", d, "120"], capture_output=True)

        log("generating %d mails" % args.n)
        mails = gen.new_mails(args.n, seed=1, to="%s@example.com" % td.support)
        # the million-ticket run side by side needs them after the replies
        raws_kept = [m[3] for m in mails] if args.existing else None
        if args.append == "maildir":
            log("writing %d mails into the Maildir" % args.n)
            append_maildir(stack, td.support, [m[3] for m in mails])
            li["append"] = append_all(stack, "appendprobe", [m[3] for m in mails[:600]],
                                      args.append_conns)
        else:
            log("appending %d mails over %d connections" % (args.n, args.append_conns))
            li["append"] = append_all(stack, td.support, [m[3] for m in mails],
                                      args.append_conns)
        log("limits: curl UID FETCH")
        # (at most 10,000: one --next per 8 mails must fit on a command line)
        li["curl_fetch_mails"] = min(args.n, 10000)
        li["curl_fetch"] = limit_curl_fetch(stack, td.support, li["curl_fetch_mails"])

        if args.pg_stats:
            stack.psql(td.db, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            stack.psql(td.db, "SELECT pg_stat_statements_reset()")
        log("new tickets: running tickd")
        res["new"] = run_phase(stack, td, args.n, args.n, max(600, args.n / 5), args.n)
        if soak:
            res["rss_soak"] = rss_summary(res["new"]["rss_series"])
            log("soak: tickd RSS %s" % res["rss_soak"])
        log("new: %s" % {k: v for k, v in res["new"].items() if k != "rss_series"})
        if args.pg_stats:
            res["new"]["pg_stats"] = pg_stats(stack, td.db)
            log("new: PostgreSQL time by statement:\n" + res["new"]["pg_stats"])
            stack.psql(td.db, "SELECT pg_stat_statements_reset()")
        subprocess.run([STACK, "wait-delivered", d, "600"], capture_output=True)
        check_delivered(d, args, res["new"], args.n)

        if args.delivery == "maildir" and not soak:
            # The same mails again into an empty database, OpenSMTPD's
            # deliveries held until the window closes: the 250s are what
            # the figure counts, and on this machine the MTA's delivery
            # (a fork and exec of mail.maildir per mail) otherwise takes
            # more CPU than tickd and PostgreSQL together.  In production
            # the MTA relays to other hosts, or runs on one.
            log("new tickets, OpenSMTPD delivering after the window: running tickd")
            td.reset_db()
            if args.pg_stats:
                stack.psql(td.db, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            with deliveries_held(d):
                res["new_deferred"] = run_phase(stack, td, args.n, args.n,
                                                max(600, args.n / 5), args.n)
            log("new, deliveries after the window: %s"
                % {k: v for k, v in res["new_deferred"].items() if k != "rss_series"})
            subprocess.run([STACK, "wait-delivered", d, "600"], capture_output=True)
            check_delivered(d, args, res["new_deferred"], 2 * args.n)

        if (args.delivery == "maildir" and not soak and not args.no_search_run
                and res.get("new_deferred")):
            res["search_cost"] = run_search_pairs(stack, td, d, args, res["new_deferred"])
            res["search_side"] = run_search_side_by_side(stack, d, args,
                                                         [m[3] for m in mails])

        if args.against and args.delivery == "maildir" and not soak:
            res["against"] = run_against_side_by_side(stack, d, args,
                                                      [m[3] for m in mails])

        if args.replies:
            reps = gen.replies(mails, args.replies, to="%s@example.com" % td.support)
            new_raws = [m[3] for m in mails] if args.against else None
            del mails
            if args.append == "maildir":
                append_maildir(stack, td.support, [m[3] for m in reps])
            else:
                append_all(stack, td.support, [m[3] for m in reps], args.append_conns)
            settle_clocks(stack, td)
            if args.pg_stats:
                # (the run of held deliveries above is not the replies')
                stack.psql(td.db, "SELECT pg_stat_statements_reset()")
            log("replies: running tickd")
            res["replies"] = run_phase(stack, td, args.n + args.replies, args.n,
                                       max(600, args.replies / 5), args.replies)
            r = res["replies"]
            log("replies: %s" % {k: v for k, v in r.items() if k != "rss_series"})
            if args.pg_stats:
                r["pg_stats"] = pg_stats(stack, td.db)
                log("replies: PostgreSQL time by statement:\n" + r["pg_stats"])
            threads = stack.psql(td.db, "SELECT count(*) FROM ticket")
            res["replies"]["tickets_after"] = int(threads)
            if int(threads) != args.n:
                raise RuntimeError("replies made %d tickets, want %d" % (int(threads), args.n))

        if args.replies and args.against and args.delivery == "maildir" and not soak:
            res["against_replies"] = run_against_replies_side_by_side(
                stack, d, args, new_raws, [m[3] for m in reps])
            del new_raws

        if args.existing and args.delivery == "maildir" and not soak:
            res["new_existing"] = run_existing(stack, td, d, args)
            res["existing_side"] = run_existing_side_by_side(stack, d, args, raws_kept)

        if not args.only_throughput and not soak:
            log("latency: IDLE")
            res["lat_idle"] = latency(stack, td, args.idle_samples, True, 60, (0.1, 0.4))
            log("latency: polling every %d s" % args.poll_interval)
            res["lat_poll"] = latency(stack, td, args.poll_samples, False, args.poll_interval,
                                      (0.2, args.poll_interval * 0.8))
    finally:
        res["machine"]["loadavg_end"] = os.getloadavg()
        if td and td.proc and td.proc.poll() is None:
            td.proc.kill()
        if args.keep:
            log("stack kept in %s (tests/stack.sh stop %s)" % (d, d))
        else:
            shutil.copy(os.path.join(d, "tickd.log"), os.path.join(args.out, "tickd.log")) \
                if os.path.exists(os.path.join(d, "tickd.log")) else None
            stack.stop()
            shutil.rmtree(d, ignore_errors=True)
    md = table(res)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    res["markdown"] = md
    for name in ("bench.json", "bench-%s.json" % stamp):
        with open(os.path.join(args.out, name), "w") as f:
            json.dump(res, f, indent=1)
    with open(os.path.join(args.out, "bench.md"), "w") as f:
        f.write(md + "\n")
    print(md)
    log("wrote %s/bench.json and bench.md" % args.out)


if __name__ == "__main__":
    main()
