#!/usr/bin/env python3
"""Self-test of tests/stack.sh: real PostgreSQL, Dovecot and OpenSMTPD on 127.0.0.1.

  python3 tests/stack/selftest.py          (as root; takes about a minute)

Prints one line per check and ends with "N passed, N failed".
"""
import imaplib
import os
import select
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
STACK = os.path.join(os.path.dirname(HERE), "stack.sh")
sys.path.insert(0, HERE)
import imapbox  # noqa: E402

PASSED = []
FAILED = []


def check(name, cond, detail=""):
    if cond:
        PASSED.append(name)
        print("ok   %s" % name, flush=True)
    else:
        FAILED.append(name)
        print("FAIL %s %s" % (name, detail), flush=True)


def sh(*args, check_rc=True, timeout=120, **kw):
    r = subprocess.run([STACK] + list(args), capture_output=True, text=True, timeout=timeout, **kw)
    if check_rc and r.returncode != 0:
        raise RuntimeError("stack.sh %s -> %d\n%s%s" % (" ".join(args), r.returncode, r.stdout, r.stderr))
    return r


def load_env(d):
    env = {}
    with open(os.path.join(d, "env")) as f:
        for line in f:
            if line.startswith("export "):
                k, v = line[7:].strip().split("=", 1)
                env[k] = v.strip("'")
    return env


def use(env):
    for k in ("IMAP_HOST", "IMAP_PORT", "MAIL_PASSWORD", "STACK_DIR"):
        os.environ[k] = env[k]


def psql(env, sql):
    return subprocess.run(
        ["/usr/lib/postgresql/15/bin/psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql],
        capture_output=True, text=True, timeout=30,
        env=dict(os.environ, PGHOST=env["PGHOST"], PGPORT=env["PGPORT"], PGUSER=env["PGUSER"],
                 PGDATABASE=env["PGDATABASE"], PGCONNECT_TIMEOUT="3"))


def mail(subject, frm="customer@example.org", to="customer@example.com", body="hello\n"):
    return ("From: %s\nTo: %s\nSubject: %s\nMessage-ID: <%s.%f@example.org>\n\n%s"
            % (frm, to, subject, subject.replace(" ", "-"), time.time(), body)).encode()


def smtp_send(env, frm, to, data):
    s = smtplib.SMTP("127.0.0.1", int(env["SMTP_PORT"]), timeout=10)
    try:
        return s.sendmail(frm, to, data.replace(b"\n", b"\r\n"))
    finally:
        s.quit()


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", int(port)), timeout=2).close()
        return True
    except OSError:
        return False


def procs_mentioning(*needles):
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % p, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
            with open("/proc/%s/stat" % p) as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    continue
        except OSError:
            continue
        if any(n in cmd for n in needles):
            out.append((int(p), cmd))
    return out


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, ValueError):
        return False


def main():
    if os.geteuid() != 0:
        sys.exit("selftest: run as root")
    base = tempfile.mkdtemp(prefix="stack-selftest.")
    da, db = os.path.join(base, "a"), os.path.join(base, "b")
    # a long path: sockets must still work (unix socket path limit)
    dl = os.path.join(base, "x" * 70, "long")
    try:
        run(base, da, db, dl)
    finally:
        for d in (da, db, dl):
            sh("stop", d, check_rc=False)
        shutil.rmtree(base, ignore_errors=True)
    print("%d passed, %d failed" % (len(PASSED), len(FAILED)))
    return 1 if FAILED else 0


def run(base, da, db, dl):
    # ---- two stacks started at the same moment
    t0 = time.monotonic()
    pa = subprocess.Popen([STACK, "start", da], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    pb = subprocess.Popen([STACK, "start", db], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    oa, ob = pa.communicate(120)[0], pb.communicate(120)[0]
    dt = time.monotonic() - t0
    check("two concurrent starts succeed", pa.returncode == 0 and pb.returncode == 0, oa + ob)
    print("     (both started in %.1fs)" % dt)
    ea, eb = load_env(da), load_env(db)
    ports_a = {ea[k] for k in ("PGPORT", "IMAP_PORT", "LMTP_PORT", "SMTP_PORT")}
    ports_b = {eb[k] for k in ("PGPORT", "IMAP_PORT", "LMTP_PORT", "SMTP_PORT")}
    check("stacks use 8 distinct ports", len(ports_a | ports_b) == 8, (ports_a, ports_b))
    for k in ("STACK_DIR", "PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "DATABASE_URL", "IMAP_HOST",
              "IMAP_PORT", "LMTP_PORT", "SMTP_PORT", "MAIL_PASSWORD", "PG_PID", "IMAP_PID", "SMTP_PID"):
        check("env has %s" % k, ea.get(k), ea)
    check("DATABASE_URL", ea["DATABASE_URL"] == "host=127.0.0.1 port=%s dbname=tickd user=tickd" % ea["PGPORT"])

    # ---- all listeners on 127.0.0.1 only
    ss = subprocess.run(["ss", "-Htlnp"], capture_output=True, text=True).stdout
    for port in ports_a:
        lines = [l for l in ss.splitlines() if (":%s " % port) in l]
        check("port %s listens on 127.0.0.1 only" % port,
              lines and all("127.0.0.1:%s" % port in l for l in lines), lines)

    # ---- PostgreSQL
    r = psql(ea, "select current_user, current_database(), current_setting('fsync'), "
                 "current_setting('listen_addresses')")
    check("psql works as tickd/tickd, fsync on", r.stdout.strip() == "tickd|tickd|on|127.0.0.1", r.stdout + r.stderr)
    r = psql(ea, "select datdba::regrole from pg_database where datname='tickd'")
    check("database tickd owned by tickd", r.stdout.strip() == "tickd", r.stdout + r.stderr)
    psql(ea, "create table t(x int); insert into t values (42)")

    # ---- SMTP -> LMTP -> IMAP
    use(ea)
    smtp_send(ea, "customer@example.org", ["customer@example.com"], mail("first mail", body="line1\nline2\n"))
    smtp_send(ea, "", ["customer@example.com"], mail("null sender"))
    r = sh("wait-delivered", da, "20", check_rc=False)
    check("wait-delivered returns 0", r.returncode == 0, r.stderr)
    check("customer INBOX has 2", imapbox.count("customer") == 2)
    check("customer@example.com is the same mailbox", imapbox.count("customer@example.com") == 2)
    msgs = imapbox.fetch("customer")
    first = [m for m in msgs if b"Subject: first mail" in m["raw"]]
    check("mail content intact", first and first[0]["raw"].endswith(b"\r\n\r\nline1\r\nline2\r\n"),
          first and first[0]["raw"][-60:])
    check("exactly one Return-Path", first and first[0]["raw"].count(b"Return-Path:") == 1
          and b"Return-Path: <customer@example.org>" in first[0]["raw"])
    check("mailboxes INBOX/Sent/Processed exist",
          {"INBOX", "Sent", "Processed"} <= set(imapbox.list_mailboxes("newuser")))
    check("other stack does not see it", (use(eb), imapbox.count("customer"))[1] == 0)
    use(ea)

    # ---- plus addressing
    smtp_send(ea, "x@example.org", ["support+t77@example.com"], mail("plus"))
    sh("wait-delivered", da, "20")
    check("support+t77 lands in support INBOX", imapbox.count("support") == 1)

    # ---- nosuch -> 250 at SMTP time, then DSN to the envelope sender
    t1 = time.monotonic()
    refused = smtp_send(ea, "support+b123@example.com", ["nosuch@example.com"],
                        mail("[#123] ack", frm="support@example.com", to="nosuch@example.com"))
    check("nosuch accepted at SMTP time", refused == {})
    sh("wait-delivered", da, "20")
    dt = time.monotonic() - t1
    msgs = imapbox.fetch("support")
    dsn = [m for m in msgs if b"message/delivery-status" in m["raw"]]
    check("DSN arrives in support INBOX (%.1fs)" % dt, len(dsn) == 1 and dt < 10, [m["raw"][:300] for m in msgs])
    if dsn:
        raw = dsn[0]["raw"]
        check("DSN: null sender, to support+b123, Final-Recipient nosuch",
              b"Return-Path: <>" in raw and b"Delivered-To: support+b123@example.com" in raw
              and b"Final-Recipient: rfc822; nosuch@example.com" in raw and b"Action: failed" in raw, raw)
    check("LMTP rejects nosuchfoo with 550", lmtp_code(ea, "nosuchfoo@example.com") == 550)
    check("LMTP accepts anybody@x", lmtp_code(ea, "anybody@x.example") == 250)

    # ---- deliver / imapbox
    p = os.path.join(base, "m.eml")
    with open(p, "wb") as f:
        f.write(mail("delivered directly"))
    sh("deliver", da, "agent", p)
    check("deliver via LMTP", imapbox.count("agent") == 1)
    imapbox.append("agent", "Sent", mail("sent copy"))
    check("imapbox append", imapbox.count("agent", "Sent") == 1)
    imapbox.create_mailbox("agent", "Archive/2026")
    check("imapbox create-mailbox", "Archive/2026" in imapbox.list_mailboxes("agent"))
    imapbox.delete_mailbox("agent", "Archive/2026")
    check("imapbox delete-mailbox", "Archive/2026" not in imapbox.list_mailboxes("agent"))
    r = subprocess.run([sys.executable, os.path.join(HERE, "imapbox.py"), "count", "agent", "Sent"],
                       capture_output=True, text=True, env=dict(os.environ))
    check("imapbox CLI count", r.stdout.strip() == "1", r.stdout + r.stderr)
    r = subprocess.run([sys.executable, os.path.join(HERE, "imapbox.py"), "fetch", "agent"],
                       capture_output=True, text=True, env=dict(os.environ))
    check("imapbox CLI fetch json", r.returncode == 0 and '"raw_base64"' in r.stdout, r.stderr)
    check("wrong password rejected", login_fails(ea, "agent", "nope"))

    # ---- IDLE and MOVE
    m = imaplib.IMAP4("127.0.0.1", int(ea["IMAP_PORT"]))
    m.login("idler", "pw")
    m.select("INBOX")
    tag = m._new_tag().decode()
    m.send(("%s IDLE\r\n" % tag).encode())
    m.readline()  # + idling
    with open(p, "wb") as f:
        f.write(mail("wake up"))
    t2 = time.monotonic()
    sh("deliver", da, "idler", p)
    got = b""
    sock = m.socket()
    while time.monotonic() - t2 < 5 and b"EXISTS" not in got:
        if select.select([sock], [], [], 0.2)[0]:
            got += sock.recv(4096)
    check("IDLE reports EXISTS (%.2fs)" % (time.monotonic() - t2), b"EXISTS" in got, got)
    m.send(b"DONE\r\n")
    m.readline()
    typ, _ = m.uid("MOVE", "1", "Processed")
    check("UID MOVE to Processed", typ == "OK")
    m.logout()
    check("moved", imapbox.count("idler", "Processed") == 1 and imapbox.count("idler") == 0)

    # ---- stop-one / start-one pg
    sh("stop-one", da, "pg")
    r = psql(ea, "select 1")
    check("pg down after stop-one", r.returncode != 0)
    check("pg port closed", not port_open(ea["PGPORT"]))
    sh("start-one", da, "pg")
    r = psql(ea, "select x from t")
    check("pg back on same port with data", r.stdout.strip() == "42", r.stdout + r.stderr)
    check("env PG_PID updated", load_env(da)["PG_PID"] not in ("", ea["PG_PID"]))

    # ---- stop-one imap: mail queues in smtpd, start-one imap delivers it
    sh("stop-one", da, "imap")
    check("imap port closed", not port_open(ea["IMAP_PORT"]) and not port_open(ea["LMTP_PORT"]))
    smtp_send(ea, "customer@example.org", ["queued@example.com"], mail("while imap down"))
    r = sh("wait-delivered", da, "2", check_rc=False)
    check("wait-delivered times out while Dovecot is down", r.returncode == 1, r.stderr)
    sh("start-one", da, "imap")
    t3 = time.monotonic()
    sh("wait-delivered", da, "30")
    check("queued mail delivered after start-one imap (%.1fs)" % (time.monotonic() - t3),
          imapbox.count("queued") == 1)
    check("old mail still there after Dovecot restart", imapbox.count("customer") == 2)

    # ---- stop-one smtp (queue survives)
    sh("stop-one", da, "imap")
    smtp_send(ea, "customer@example.org", ["queued2@example.com"], mail("queued across smtpd restart"))
    sh("stop-one", da, "smtp")
    check("smtp port closed", not port_open(ea["SMTP_PORT"]))
    check("no smtpd left after stop-one smtp", not procs_mentioning(os.path.join(da, "smtpd")))
    sh("start-one", da, "smtp")
    sh("start-one", da, "imap")
    sh("wait-delivered", da, "60")
    check("mail queued before smtpd restart gets delivered", imapbox.count("queued2") == 1)
    smtp_send(ea, "customer@example.org", ["after@example.com"], mail("after restart"))
    sh("wait-delivered", da, "20")
    check("smtp back on same port", imapbox.count("after") == 1)
    r = sh("smtpctl", da, "show", "queue", check_rc=False)
    check("smtpctl via nsenter works", r.returncode == 0 and r.stdout.strip() == "", r.stdout + r.stderr)

    # ---- 100 mails per session limit (documented OpenSMTPD behaviour)
    s = smtplib.SMTP("127.0.0.1", int(ea["SMTP_PORT"]), timeout=10)
    code = None
    for i in range(101):
        try:
            s.sendmail("x@example.org", ["bulk@example.com"], mail("bulk %d" % i).replace(b"\n", b"\r\n"))
        except smtplib.SMTPException as e:
            code = (i, getattr(e, "smtp_code", None) or str(e))
            break
    try:
        s.quit()
    except Exception:
        pass
    check("101st mail in one SMTP session is refused (452)", code and code[0] == 100, code)
    sh("wait-delivered", da, "60")
    check("100 bulk mails delivered", imapbox.count("bulk") == 100)

    # ---- long DIR path
    r = sh("start", dl, check_rc=False)
    check("start with a long DIR path", r.returncode == 0, r.stdout + r.stderr)
    if r.returncode == 0:
        el = load_env(dl)
        use(el)
        smtp_send(el, "a@example.org", ["customer@example.com"], mail("long"))
        sh("wait-delivered", dl, "20")
        check("long DIR stack delivers", imapbox.count("customer") == 1)
        use(ea)

    # ---- stop: no processes, no mounts, idempotent
    pids = [int(ea[k]) for k in ("PG_PID", "IMAP_PID", "SMTP_PID")] + \
           [int(eb[k]) for k in ("PG_PID", "IMAP_PID", "SMTP_PID")]
    for d in (da, db, dl):
        r = sh("stop", d, check_rc=False)
        check("stop %s" % os.path.basename(d), r.returncode == 0, r.stderr)
    time.sleep(0.2)
    check("no stack processes left", not [p for p in pids if alive(p)]
          and not procs_mentioning(da, db, dl), procs_mentioning(da, db, dl))
    mounts = subprocess.run("cat /proc/[0-9]*/mountinfo 2>/dev/null | grep -c %s" % base,
                            shell=True, capture_output=True, text=True).stdout.strip()
    check("no mounts left", mounts == "0", mounts)
    names = ["tickd-stack-%s/" % e["IMAP_PORT"] for e in (ea, eb)]
    check("no Dovecot children of these stacks left", not procs_mentioning(*names), procs_mentioning(*names))
    r = sh("stop", da, check_rc=False)
    check("stop is idempotent", r.returncode == 0, r.stderr)
    r = sh("stop", os.path.join(base, "never-created"), check_rc=False)
    check("stop of a missing DIR is fine", r.returncode == 0, r.stderr)

    # ---- stop after a start killed half-way
    dk = os.path.join(base, "killed")
    p = subprocess.Popen([STACK, "start", dk], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.7)
    p.send_signal(signal.SIGKILL)
    p.wait()
    r = sh("stop", dk, check_rc=False)
    time.sleep(0.2)
    check("stop after a start killed half-way", r.returncode == 0 and not procs_mentioning(dk), r.stderr)
    # and restart in the same DIR works
    r = sh("start", dk, check_rc=False)
    check("start again in that DIR", r.returncode == 0, r.stdout + r.stderr)
    sh("stop", dk, check_rc=False)
    check("and stop", not procs_mentioning(dk))


def lmtp_code(env, rcpt):
    lm = smtplib.LMTP("127.0.0.1", int(env["LMTP_PORT"]))
    try:
        lm.ehlo_or_helo_if_needed()
        lm.mail("a@example.org")
        code, _ = lm.rcpt(rcpt)
        lm.rset()
        return code
    finally:
        lm.quit()


def login_fails(env, user, pw):
    m = imaplib.IMAP4("127.0.0.1", int(env["IMAP_PORT"]))
    try:
        m.login(user, pw)
        return False
    except imaplib.IMAP4.error:
        return True
    finally:
        try:
            m.logout()
        except Exception:
            pass


if __name__ == "__main__":
    sys.exit(main())
