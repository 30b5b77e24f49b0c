"""The first day (issue 24): tickd starts on a mailbox that already holds
years of mail, and a team brings the archive of its old helpdesk.

Old mail is history: stored, threaded, counted in customer history, never
answered.  Whatever the cursor says (a UIDVALIDITY reset, a re-synced
folder), no automatic mail goes out about a mail older than
limits.max_mail_age."""
import email.utils
import json
import os
import pty
import resource
import re
import select
import subprocess
import sys
import time
import uuid

from conftest import TICKCTL, TICKD, imapbox, mail

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "bench"))
import gen  # noqa: E402

DAY = 86400
TICKS = os.sysconf("SC_CLK_TCK")


def _pg_cpu(pid):
    """CPU seconds of the postmaster and its live backends."""
    def one(p, children=False):
        try:
            with open("/proc/%d/stat" % p) as f:
                x = f.read().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(x[11]) + int(x[12]) + (int(x[13]) + int(x[14]) if children else 0)) / TICKS
    total = one(pid, True)
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        total += one(int(d))
            except (OSError, ValueError, IndexError):
                pass
    return total


def old_mail(frm, to, subject, age, msgid=None, headers=None, body="Hello,\nplease help.\n"):
    """A customer mail whose Date is age seconds ago."""
    raw = mail(frm, to, subject, msgid=msgid, headers=headers, body=body)
    return re.sub(r"(?m)^Date: .*$", "Date: " + email.utils.formatdate(time.time() - age),
                  raw, count=1)


def append_many(user, mailbox, raws):
    m = imapbox.connect(user)
    try:
        for raw in raws:
            if isinstance(raw, str):
                raw = raw.encode()
            m.append(imapbox.quote(mailbox), None, None, re.sub(rb"\r?\n", b"\r\n", raw))
    finally:
        m.logout()


def history_world(make_world, **kw):
    return make_world(first_run="history", **kw)


def test_full_mailbox_on_first_start_is_history_and_a_reply_reopens(make_world):
    """Must-shows 1 and 2: 300 mails of the last two years in INBOX before
    the first start: nothing leaves tickd, all 300 are closed history; a
    customer's reply to one threads to it as a live follow-up (reopened, no
    acknowledgement); a new mail afterwards is a new ticket, acknowledged."""
    w = history_world(make_world)
    cust = w.addr(w.customer)
    support = w.addr(w.support)
    mails = gen.new_mails(300, seed=24, to=support, tag="fd", span=730 * DAY)
    # five of the old conversations are our customer's, whose mailbox we read
    raws = []
    for i, (msgid, addr, subj, raw, name) in enumerate(mails):
        if i % 60 == 0:
            raw = raw.replace(addr.encode(), cust.encode())
        raws.append(raw)
    append_many(w.support, "INBOX", raws)

    # before the first start: how many wait and what will happen to them
    st = w.ctl("status").stdout.decode()
    assert re.search(r"support:INBOX: not polled yet, 300 mails wait; first run: history: "
                     r"stored as closed history, nothing sent", st), st
    p = subprocess.run([TICKD, "-c", w.conf, "--check-config"], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0 and p.stdout.rstrip().endswith("; first run: history"), p.stdout

    w.once()
    assert w.sql("SELECT count(*) FROM message WHERE direction = 'in'") == "300"
    assert w.sql("SELECT count(*) FROM ticket") == "300"
    assert w.sql("SELECT count(*) FROM ticket WHERE history AND status = 'closed' "
                 "AND live_since IS NULL") == "300"
    # no mail left tickd: nothing queued at all, the customer got nothing
    assert w.sql("SELECT count(*) FROM outbox") == "0"
    assert imapbox.count(w.customer) == 0
    assert w.sql("SELECT count(*) FROM sla_clock") == "0"
    assert w.sql("SELECT count(*) FROM event WHERE action = 'history'") == "300"
    # created at the old mail's date, not today
    assert w.sql("SELECT count(*) FROM ticket WHERE created < now() - interval '1 year'") != "0"
    assert "first run" not in w.ctl("status").stdout.decode()  # done
    # had it been interrupted at uid 120, status would say so (and the
    # rest would still be history: the boundary is in the database)
    w.sql("UPDATE mailbox_state SET last_uid = 120")
    st = w.ctl("status").stdout.decode()
    assert "support:INBOX: first run going on, uid 120 of 300; history" in st, st
    w.once()
    assert w.sql("SELECT count(*) FROM ticket WHERE NOT history") == "0"
    assert w.sql("SELECT last_uid FROM mailbox_state") == "300"

    # the customer answers the oldest of their conversations
    omid = mails[0][0]
    t0 = w.sql("SELECT ticket_id FROM message WHERE message_id = '%s'" % omid.strip("<>"))
    w.append(mail(cust, support, "Re: " + mails[0][2], body="This is still not solved.\n",
                  headers=["In-Reply-To: %s" % omid, "References: %s" % omid]))
    w.once()
    t = w.ticket(int(t0))
    assert t["status"] == "open", t["status"]
    assert len(t["messages"]) == 2
    assert any(e["action"] == "reopened" for e in t["events"]), t["events"]
    assert w.sql("SELECT live_since IS NOT NULL FROM ticket WHERE id = %s" % t0) == "t"
    assert w.sql("SELECT count(*) FROM outbox") == "0"  # no ack of the old mail
    assert imapbox.count(w.customer) == 0
    # live again: its SLA clock starts now, not two years ago
    w.once()
    assert w.sql("SELECT count(*) FROM sla_clock WHERE ticket_id = %s" % t0) == "1"
    assert w.sql("SELECT count(*) FROM sla_notice") == "0"

    # must-show 2: after the first run a new mail is a new ticket, acked
    w.append(mail(cust, support, "A brand new question", msgid="<fd-new@customer.example>"))
    w.once()
    new = [x for x in w.tickets() if x["subject"] == "A brand new question"]
    assert len(new) == 1 and new[0]["status"] == "new"
    assert w.sql("SELECT history FROM ticket WHERE id = %d" % new[0]["number"]) == "f"
    acks = imapbox.wait_count(w.customer, "INBOX", 1)
    got = w.inbox(w.customer)
    assert len(got) == 1 and got[0]["In-Reply-To"] == "<fd-new@customer.example>", acks

    # reports: history tickets are not "created" in the period
    # (a few of the 300 are dated within the last week)
    recent = w.sql("SELECT count(*) FROM ticket WHERE history AND created > now() - "
                   "interval '7 days'")
    assert int(recent) >= 1
    day = 86400
    rep = json.loads(w.ctl("report", "--json", "--from",
                           time.strftime("%Y-%m-%d", time.gmtime(time.time() - 7 * day)),
                           "--to", time.strftime("%Y-%m-%d", time.gmtime(time.time() + day))
                           ).stdout)
    cur = rep["groups"][0]["current"]
    assert (cur["created"], cur["backlog"]) == (1, 1), cur


def test_first_run_skip_and_age(make_world):
    """first_run = "skip" leaves present mail alone; first_run_age lets
    recent mail through as new (the age guard still decides about acks)."""
    w = make_world(first_run="skip")
    cust = w.addr(w.customer)
    w.append(old_mail(cust, w.addr(w.support), "old one", 100 * DAY))
    w.once()
    assert w.sql("SELECT count(*) FROM message") == "0"
    assert w.sql("SELECT last_uid, marked_uid FROM mailbox_state") == "1|1"
    w.append(mail(cust, w.addr(w.support), "after the start"))
    w.once()
    assert [t["subject"] for t in w.tickets()] == ["after the start"]
    assert imapbox.wait_count(w.customer, "INBOX", 1) == 1

    w2 = make_world(first_run="history")
    with open(w2.conf) as f:
        conf = f.read()
    with open(w2.conf, "w") as f:
        f.write(conf.replace('first_run = "history";', 'first_run = "history"; first_run_age = %d;'
                             % (2 * DAY)))
    c2 = w2.addr(w2.customer)
    w2.append(old_mail(c2, w2.addr(w2.support), "last month", 30 * DAY))
    w2.append(old_mail(c2, w2.addr(w2.support), "this morning", 3600))
    w2.once()
    rows = w2.sql("SELECT subject, history, status FROM ticket ORDER BY subject")
    assert rows == "last month|t|closed\nthis morning|f|new", rows
    assert imapbox.wait_count(w2.customer, "INBOX", 1) == 1


def test_uidvalidity_reset_with_old_mail_acknowledges_nothing(make_world):
    """Must-show 3: the folder is re-created (new UIDVALIDITY) holding old
    mail tickd never saw and mail it did: nothing is acknowledged, and each
    skipped acknowledgement is an event."""
    w = history_world(make_world, mailbox="Support")
    imapbox.create_mailbox(w.support, "Support")
    cust = w.addr(w.customer)
    support = w.addr(w.support)
    w.once()  # first poll of an empty folder
    live = mail(cust, support, "live question", msgid="<uv-live@customer.example>")
    w.append(live)
    w.once()
    assert imapbox.wait_count(w.customer, "INBOX", 1) == 1
    before = w.sql("SELECT uidvalidity FROM mailbox_state")

    imapbox.delete_mailbox(w.support, "Support")
    imapbox.create_mailbox(w.support, "Support")
    olds = [old_mail(cust, support, "restored %d" % i, age)
            for i, age in enumerate([4 * DAY, 40 * DAY, 400 * DAY, 900 * DAY])]
    # no Message-ID: deduped by its bytes only, so it is new to tickd too
    olds.append(re.sub(r"(?m)^Message-ID: .*\r\n", "",
                       old_mail(cust, support, "restored without id", 10 * DAY)))
    append_many(w.support, "Support", [live] + olds)
    w.once()
    assert w.sql("SELECT uidvalidity FROM mailbox_state") != before
    assert w.sql("SELECT count(*) FROM message WHERE direction = 'in'") == "6"
    # stored as live tickets (the reset is no first run), but silent
    assert w.sql("SELECT count(*) FROM ticket WHERE NOT history") == "6"
    assert w.sql("SELECT count(*) FROM outbox") == "1"  # the live one's, from before
    assert w.sql("SELECT count(*) FROM event WHERE action = 'ack-skipped-age'") == "5"
    time.sleep(1)
    assert imapbox.count(w.customer) == 1

    # a Date in the future counts as now: acknowledged
    future = re.sub(r"(?m)^Date: .*$", "Date: " + email.utils.formatdate(time.time() + 400 * DAY),
                    mail(cust, support, "from the future"), count=1)
    w.append(future)
    w.once()
    assert imapbox.wait_count(w.customer, "INBOX", 2) == 2


def _mboxrd(raws):
    out = []
    for raw in raws:
        body = raw.replace(b"\r\n", b"\n")
        body = re.sub(rb"(?m)^(>*From )", rb">\1", body)
        if not body.endswith(b"\n"):
            body += b"\n"
        out.append(b"From MAILER-DAEMON Thu Jan  1 00:00:00 2024\n" + body + b"\n")
    return b"".join(out)


def _run_pty(argv, timeout=600):
    """Run argv with stdout and stderr on a pseudo-terminal; its output."""
    master, slave = pty.openpty()
    p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    out = b""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        r, _, _ = select.select([master], [], [], 1.0)
        if r:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        elif p.poll() is not None:
            break
    p.wait(timeout=60)
    os.close(master)
    return p.returncode, out.decode("utf-8", "replace")


def test_import_history_mbox_10000(make_world, tmp_path):
    """Must-show 4: `tickctl import --history` of a 10,000-mail mbox on a
    terminal shows a progress line; everything is closed history, nothing
    is sent; a second run imports 0."""
    w = make_world()
    support = w.addr(w.support)
    mails = gen.new_mails(9998, seed=2024, to=support, tag="arch", span=3 * 365 * DAY)
    raws = [m[3] for m in mails]
    # mboxrd quoting: a body line "From ..." and one that was ">From ..."
    raws.append(old_mail(w.addr(w.customer), support, "quoting", 500 * DAY,
                         msgid="<quoting@customer.example>",
                         body="Hello,\nFrom here on it fails.\n>From the log: error\nBye\n"
                         ).encode())
    raws.append(("From: MAILER-DAEMON@mx.example.net\r\nTo: %s\r\nSubject: Undelivered Mail "
                 "Returned to Sender\r\nDate: %s\r\nMessage-ID: <bounce-1@mx.example.net>\r\n"
                 "Auto-Submitted: auto-replied\r\nContent-Type: text/plain\r\n\r\n"
                 "This is the mail system. Your mail could not be delivered.\r\n"
                 % (support, email.utils.formatdate(time.time() - 200 * DAY))).encode())
    box = tmp_path / "archive.mbox"
    box.write_bytes(_mboxrd(raws))

    pg_pid = int(w.stack.get("PG_PID", "0") or 0)
    pg0 = _pg_cpu(pg_pid) if pg_pid else 0.0
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    rc, out = _run_pty([TICKCTL, "-c", w.conf, "import", "--history", str(box)])
    secs = time.monotonic() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    pg1 = _pg_cpu(pg_pid) if pg_pid else 0.0
    ctl_cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    assert rc == 0, out[-3000:]
    assert "\r\x1b[Kimport: " in out and "/10000 mails (" in out and ", ETA " in out, out[-2000:]
    m = re.search(r"import --history: 10000 mails in ([\d.]+) s \((\d+)/s\): (\d+) imported, "
                  r"0 duplicates, (\d+) machine mail, 0 failed", out)
    assert m, out[-2000:]
    assert int(m.group(3)) + int(m.group(4)) == 10000 and int(m.group(4)) >= 1
    print("import --history: 10000 mails in %.1f s wall, %s/s by tickctl's own count; "
          "CPU per mail: tickctl %.2f ms, PostgreSQL %.2f ms (%.0f mails per CPU-second "
          "of both); load average %s"
          % (secs, m.group(2), ctl_cpu * 1e3 / 10000, (pg1 - pg0) * 1e3 / 10000,
             10000 / max(ctl_cpu + pg1 - pg0, 1e-9), os.getloadavg()))
    assert w.sql("SELECT count(*) FROM message WHERE direction = 'in'") == "10000"
    assert w.sql("SELECT count(*) FROM ticket WHERE NOT history OR status <> 'closed'") == "0"
    assert w.sql("SELECT count(*) FROM outbox") == "0"
    assert w.sql("SELECT count(*) FROM sla_clock") == "0"
    body = w.sql("SELECT body_text FROM message WHERE message_id = 'quoting@customer.example'")
    assert "\nFrom here on it fails.\n>From the log: error\n" in body, body
    assert w.sql("SELECT count(*) FROM message WHERE message_id = 'bounce-1@mx.example.net' "
                 "AND ticket_id IS NULL") == "1"

    # resumable: a second run (not on a terminal: no progress line) stores 0
    p = subprocess.run([TICKCTL, "-c", w.conf, "import", "--history", str(box)],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    assert "\x1b[K" not in p.stderr and "\x1b[K" not in p.stdout
    assert re.search(r": 0 imported, 10000 duplicates, 0 machine mail, 0 failed", p.stdout), p.stdout
    assert w.sql("SELECT count(*) FROM message WHERE direction = 'in'") == "10000"


def test_import_history_maildir_and_files(make_world, tmp_path):
    """A Maildir (cur/ and new/) and single files; a broken path is an
    error before anything is imported; --json gives the summary."""
    w = make_world()
    cust = w.addr(w.customer)
    support = w.addr(w.support)
    md = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (md / sub).mkdir(parents=True)
    (md / "cur" / "1600000000.1.host:2,S").write_text(old_mail(cust, support, "md one", 300 * DAY))
    (md / "new" / "1600000001.2.host").write_text(old_mail(cust, support, "md two", 200 * DAY))
    single = tmp_path / "one.eml"
    single.write_text(old_mail(cust, support, "single", 100 * DAY))
    p = w.ctl("import", "--history", str(md), str(tmp_path / "missing"), check=False)
    assert p.returncode == 66 and w.sql("SELECT count(*) FROM message") == "0"
    p = w.ctl("import", "--history", "--json", str(md), str(single))
    s = json.loads(p.stdout)
    assert (s["total"], s["imported"], s["duplicates"], s["failed"]) == (3, 3, 0, 0), s
    rows = w.sql("SELECT subject, status, history FROM ticket ORDER BY subject")
    assert rows == "md one|closed|t\nmd two|closed|t\nsingle|closed|t", rows
    assert w.sql("SELECT count(*) FROM outbox") == "0"
    # a live mail of that customer afterwards threads by reference and is
    # a follow-up: the history ticket reopens, still nothing is sent
    mid = w.sql("SELECT message_id FROM message WHERE subject = 'single'")
    w.append(mail(cust, support, "Re: single", headers=["In-Reply-To: <%s>" % mid]))
    w.once()
    assert w.sql("SELECT status FROM ticket WHERE subject = 'single'") == "open"
    assert w.sql("SELECT count(*) FROM outbox") == "0"
