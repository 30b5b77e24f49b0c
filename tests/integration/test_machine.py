"""Machine mail and loop protection on the real servers.

Must show 2: a real OpenSMTPD DSN of an acknowledgement lands on its ticket.
Must show 3: two marker-less auto-responders (Python code reading the
customer's real mailbox and answering over SMTP) are stopped.
Must show 4: every automatic mail tickd sent that any of these tests finds in
a real mailbox carries the RFC 3834 headers and the loop header.
Must show 1 (corpus: no acknowledgement for machine mail) runs the real
ingest path (`tickctl import`) over ../shared/corpora.
Plus: per-ticket limit, circuit breaker (admin reset and cool-down),
complaints, list/spam by config, our own echo, class in `tickctl ticket`."""
import collections
import email
import email.policy
import email.utils
import json
import os
import smtplib
import subprocess
import time
import uuid

import pytest

from conftest import ROOT, imapbox, mail

CORPORA = os.path.join(ROOT, "..", "shared", "corpora")

# Mailboxes the tests of this module used: the last test checks every
# automatic mail in all of them (must show 4).
USED = set()

AUTO_HEADERS = {"Auto-Submitted": ("auto-replied", "auto-generated"),
                "Precedence": ("bulk",),
                "X-Auto-Response-Suppress": ("All",)}


def use(*users):
    USED.update(u.lower() for u in users)


def smtp_send(world, env_from, rcpt, raw):
    """Send raw (str) through the stack's OpenSMTPD, like any outside MTA."""
    with smtplib.SMTP(world.stack["SMTP_HOST"], int(world.stack["SMTP_PORT"]), timeout=30) as s:
        s.sendmail(env_from, [rcpt], raw.encode())


def wait_count(user, n, secs=30):
    deadline = time.time() + secs
    while time.time() < deadline:
        c = imapbox.count(user)
        if c >= n:
            return c
        time.sleep(0.3)
    return imapbox.count(user)


def events(t, action):
    return [e for e in t["events"] if e["action"] == action]


def status(world):
    return json.loads(world.ctl("status", "--json").stdout)


# ---------------------------------------------------------------- must show 2
def test_real_dsn_of_acknowledgement_lands_on_its_ticket(world):
    bad_local = "nosuch" + world.customer
    bad = world.addr(bad_local)
    use(world.support)
    world.append(mail(bad, world.addr(world.support), "Where is my parcel",
                      msgid="<parcel-1@customer.example>"))
    world.once()
    tickets = world.tickets()
    assert len(tickets) == 1
    n = tickets[0]["number"]
    t = world.ticket(n)
    assert [o["rcpt"] for o in t["outbox"]] == [bad]
    assert t["outbox"][0]["state"] == "sent"
    # OpenSMTPD accepted the ack, Dovecot refused it, OpenSMTPD sent a
    # DSN to the VERP envelope sender support+bounce-N@, i.e. the support
    # INBOX: the customer mail plus the DSN.
    assert wait_count(world.support, 2) == 2
    dsn = [m for m in world.inbox(world.support) if "MAILER-DAEMON" in str(m["From"]).upper()]
    assert len(dsn) == 1, [str(m["From"]) for m in world.inbox(world.support)]
    # it came back through the VERP address of this ticket
    raw = [m["raw"] for m in imapbox.fetch(world.support) if b"MAILER-DAEMON" in m["raw"].upper()][0]
    assert (b"%s+bounce-%d@" % (world.support.encode(), n)) in raw

    world.once()
    tickets = world.tickets()
    assert len(tickets) == 1, "the DSN made a ticket: %s" % tickets
    t = world.ticket(n)
    inbound = [m for m in t["messages"] if m["direction"] == "in"]
    assert [m["class"] for m in inbound] == ["human", "bounce"]
    assert t["status"] == "new"  # a bounce never reopens or touches status
    b = events(t, "bounce")
    assert len(b) == 1 and b[0]["detail"].startswith(bad)
    assert world.sql("SELECT count(*) FROM suppression WHERE addr = '%s' AND until > now()" % bad) == "1"
    # nothing more went to the bouncing address
    assert world.sql("SELECT count(*) FROM outbox WHERE rcpt = '%s'" % bad) == "1"
    assert world.sql("SELECT count(*) FROM message WHERE ticket_id IS NULL") == "0"

    # the same address writes again: a new ticket, but no acknowledgement
    world.append(mail(bad, world.addr(world.support), "Parcel again"))
    world.once()
    t2 = [x for x in world.tickets() if x["number"] != n]
    assert len(t2) == 1
    t2 = world.ticket(t2[0]["number"])
    assert t2["outbox"] == []
    assert "suppressed" in events(t2, "ack-suppressed")[0]["detail"]
    assert world.sql("SELECT count(*) FROM outbox WHERE rcpt = '%s'" % bad) == "1"
    # and OpenSMTPD sent nothing else: still only the mail and the DSN
    assert imapbox.count(world.support) == 3


def test_forged_bounce_suppresses_nobody(world):
    """A customer threads a 'bounce' into his own ticket claiming that mail
    to vip@ failed (X-Failed-Recipients, even quoting the Message-ID of his
    own acknowledgement): tickd never mailed vip@, so nobody is suppressed;
    the claim is recorded on the ticket."""
    cust = world.addr(world.customer)
    vip = world.addr("vip" + uuid.uuid4().hex[:6])
    use(world.support, world.customer)
    world.append(mail(cust, world.addr(world.support), "Order 7"))
    world.once()
    n = world.tickets()[0]["number"]
    ack = world.inbox(world.customer)[0]
    forged = mail("Mail Delivery System <MAILER-DAEMON@customer.example>",
                  "%s+bounce-%d@example.com" % (world.support, n),
                  "Undelivered Mail Returned to Sender [Example #%d]" % n,
                  headers=["In-Reply-To: %s" % ack["Message-ID"],
                           "References: %s" % ack["Message-ID"],
                           "Auto-Submitted: auto-replied",
                           "X-Failed-Recipients: %s" % vip],
                  body=("This is the mail system.\n\nI'm sorry to have to inform you that "
                        "your message could not be delivered to one or more recipients.\n\n"
                        "<%s>: host mx said: 550 5.1.1 user unknown\n\n"
                        "Message-ID: %s\n" % (vip, ack["Message-ID"])))
    world.append(forged)
    world.once()
    t = world.ticket(n)
    inbound = [m for m in t["messages"] if m["direction"] == "in"]
    assert [m["class"] for m in inbound] == ["human", "bounce"], inbound
    assert events(t, "bounce") == []
    (ev,) = events(t, "bounce-unproven")
    assert ev["detail"].startswith(vip) and "nobody suppressed" in ev["detail"]
    assert world.sql("SELECT count(*) FROM suppression") == "0"
    # vip@ writes: acknowledged as anyone else
    world.append(mail(vip, world.addr(world.support), "Hello from vip"))
    world.once()
    assert world.sql("SELECT state FROM outbox WHERE rcpt = '%s'" % vip) == "sent"


# ---------------------------------------------------------------- must show 3
class Responder:
    """A marker-less auto-responder living in a real mailbox: it answers
    every mail it has not answered yet, over SMTP, like a person would."""

    def __init__(self, world, user, keep_thread):
        self.world, self.user, self.keep = world, user, keep_thread
        self.answered = set()
        self.sent = 0

    def step(self):
        n = 0
        for m in self.world.inbox(self.user):
            mid = m["Message-ID"]
            if mid in self.answered:
                continue
            self.answered.add(mid)
            frm = self.world.addr(self.user)
            to = self.world.addr(self.world.support)
            if self.keep:
                refs = ((m["References"] or "") + " " + mid).strip()
                raw = mail(frm, to, "Re: " + str(m["Subject"]),
                           body="Thanks for your message, I will read it later.\n",
                           headers=["In-Reply-To: %s" % mid, "References: %s" % refs])
            else:
                raw = mail(frm, to, "Note %s" % uuid.uuid4().hex[:8],
                           body="Thanks for your message, I will read it later.\n")
            smtp_send(self.world, frm, to, raw)
            n += 1
        self.sent += n
        return n


def run_loop(world, responder, rounds=12):
    """Alternate tickd and the responder until nobody sends anything."""
    for _ in range(rounds):
        world.once()
        if responder.step() == 0:
            return True
        subprocess.run([os.path.join(ROOT, "tests", "stack.sh"), "wait-delivered",
                        world.stack["STACK_DIR"], "60"], check=True, capture_output=True)
    return False


def test_responder_keeping_subject_and_references_ends_after_3_mails(world):
    use(world.support, world.customer)
    r = Responder(world, world.customer, keep_thread=True)
    world.append(mail(world.addr(world.customer), world.addr(world.support), "Invoice 42 is wrong"))
    assert run_loop(world, r), "the loop did not end"
    to_support = imapbox.count(world.support)
    to_customer = imapbox.count(world.customer)
    total = to_support + to_customer
    assert total <= 3, (to_support, to_customer)
    assert (to_support, to_customer) == (2, 1)  # mail, auto-answer; one ack
    tickets = world.tickets()
    assert len(tickets) == 1 and tickets[0]["message_count"] == 3
    t = world.ticket(tickets[0]["number"])
    # the answer looks human and threads as a follow-up: never acknowledged
    assert [m["class"] for m in t["messages"] if m["direction"] == "in"] == ["human", "human"]
    assert len(t["outbox"]) == 1


def test_responder_with_fresh_subjects_is_stopped_by_per_recipient_limit(make_world):
    world = make_world(per_recipient_day=3)
    use(world.support, world.customer)
    r = Responder(world, world.customer, keep_thread=False)
    world.append(mail(world.addr(world.customer), world.addr(world.support), "Hello there"))
    assert run_loop(world, r), "the loop did not end"
    acks = imapbox.count(world.customer)
    assert acks == 3, acks  # at most per_recipient_day, and the limit did fire
    assert r.sent == 3
    tickets = world.tickets()
    assert len(tickets) == 4  # each fresh answer looks like a new ticket
    suppressed = [e for t in tickets for e in events(world.ticket(t["number"]), "ack-suppressed")]
    assert len(suppressed) == 1 and suppressed[0]["detail"] == "limits.per_recipient_day reached"
    assert imapbox.count(world.support) == 4


# ------------------------------------------------------- per-ticket limit
def test_per_ticket_hour_limit_suppresses_at_send_time(make_world):
    world = make_world(per_ticket_hour=2)
    use(world.support, world.customer)
    world.append(mail(world.addr(world.customer), world.addr(world.support), "Limit me"))
    world.once()
    n = world.tickets()[0]["number"]
    assert imapbox.count(world.customer) == 1
    # three more automatic mails about the same ticket (as notices would
    # be queued): copies of the acknowledgement's bytes
    world.sql("INSERT INTO outbox (ticket_id, message_id, kind, env_from, rcpt, data) "
              "SELECT ticket_id, message_id, 'notice', env_from, rcpt, data FROM outbox, "
              "generate_series(1, 3) WHERE ticket_id = %d" % n)
    world.once()
    t = world.ticket(n)
    states = collections.Counter(o["state"] for o in t["outbox"])
    assert states == {"sent": 2, "suppressed": 2}, states
    assert imapbox.count(world.customer) == 2
    ev = events(t, "send-suppressed")
    assert len(ev) == 2 and all("limits.per_ticket_hour reached" in e["detail"] for e in ev)
    assert all(o["last_error"] == "limits.per_ticket_hour reached"
               for o in t["outbox"] if o["state"] == "suppressed")


# ------------------------------------------------------- circuit breaker
def _repeat_storm(world):
    """Four customers are acknowledged (first mails: never held), then each
    writes again with a fresh subject: four repeats, the loop's shape.  A
    fifth, new customer writes at the same time."""
    custs = ["%s%d" % (world.customer, i) for i in range(4)]
    new = world.customer + "new"
    use(world.support, new, *custs)
    for c in custs:
        world.append(mail(world.addr(c), world.addr(world.support), "Storm %s" % c))
    world.once()
    assert sum(imapbox.count(c) for c in custs) == 4
    assert status(world)["breaker"]["open"] is False
    for c in custs:
        world.append(mail(world.addr(c), world.addr(world.support), "Again %s" % c))
    world.append(mail(world.addr(new), world.addr(world.support), "First time"))
    return custs, new


def test_breaker_holds_only_repeats_until_admin_reset(make_world):
    world = make_world(global_per_minute=3, breaker_cooldown=0)
    custs, new = _repeat_storm(world)
    world.once()
    st = status(world)
    print("status breaker:", json.dumps(st["breaker"]))
    assert st["breaker"]["open"] is True
    assert st["breaker"]["until"] is None  # admin reset only
    assert st["breaker"]["trips"] == 1
    assert st["breaker"]["held"] == 4, st
    assert "limits.global_per_minute is 3" in st["breaker"]["reason"]
    # the four repeats are queued (held), none dropped, none delivered;
    # the new customer's first acknowledgement went out at once
    assert world.sql("SELECT state, count(*) FROM outbox WHERE is_repeat GROUP BY state") == \
        "queued|4"
    assert sum(imapbox.count(c) for c in custs) == 4
    assert imapbox.count(new) == 1
    tickets = world.tickets()
    ev = [e for t in tickets for e in world.ticket(t["number"])["events"]]
    assert len([e for e in ev if e["action"] == "breaker-tripped"]) == 1
    assert len([e for e in ev if e["action"] == "ack-held"]) == 1  # the 4th repeat
    # tickd runs again: still no repeat goes out
    world.once()
    assert sum(imapbox.count(c) for c in custs) == 4
    # the admin resets it: the held mail goes out, but only 3 repeats a
    # minute: the 4th trips the breaker again at send time and stays queued
    out = world.ctl("breaker", "reset").stdout.decode()
    assert "was open" in out
    assert status(world)["breaker"]["open"] is False
    world.once()
    assert sum(imapbox.count(c) for c in custs) == 7
    st = status(world)
    assert st["breaker"]["open"] is True and st["breaker"]["trips"] == 2
    assert world.sql("SELECT state, count(*) FROM outbox GROUP BY state ORDER BY 1") == \
        "queued|1\nsent|8"
    # with a higher limit and another reset, the last held ack is sent
    world.write_conf(global_per_minute=100)
    world.ctl("breaker", "reset")
    world.once()
    assert sum(imapbox.count(c) for c in custs) == 8
    assert world.sql("SELECT count(*) FROM outbox WHERE state <> 'sent'") == "0"


def test_breaker_closes_after_cooldown(make_world):
    world = make_world(global_per_minute=3, breaker_cooldown=3)
    custs, new = _repeat_storm(world)
    world.once()
    st = status(world)
    assert st["breaker"]["open"] is True and st["breaker"]["until"] is not None
    assert sum(imapbox.count(c) for c in custs) == 4 and imapbox.count(new) == 1
    time.sleep(4)
    assert status(world)["breaker"]["open"] is False
    # held mail was put aside only until the cool-down's end
    assert world.sql("SELECT count(*) FROM outbox WHERE state = 'queued' AND next_attempt <= now()") == "4"
    world.once()
    assert sum(imapbox.count(c) for c in custs) == 7  # 3 repeats a minute again


# ------------------------------------------------------- other classes
def test_complaint_suppresses_the_complaining_recipient(world):
    cust = world.addr(world.customer)
    use(world.support, world.customer)
    world.append(mail(cust, world.addr(world.support), "Question"))
    world.once()
    n = world.tickets()[0]["number"]
    ack = world.inbox(world.customer)[0]
    boundary = "arf-" + uuid.uuid4().hex
    arf = "\r\n".join([
        "From: feedback@isp.example", "To: %s" % world.addr(world.support),
        "Subject: Complaint about message", "Message-ID: <%s@isp.example>" % uuid.uuid4().hex,
        "Date: %s" % email.utils.formatdate(), "MIME-Version: 1.0",
        'Content-Type: multipart/report; report-type=feedback-report; boundary="%s"' % boundary,
        "", "--" + boundary, "Content-Type: text/plain", "",
        "This is an email abuse report.", "",
        "--" + boundary, "Content-Type: message/feedback-report", "",
        "Feedback-Type: abuse", "User-Agent: isp-fbl/1.0", "Version: 1",
        "Original-Rcpt-To: %s" % cust, "",
        "--" + boundary, "Content-Type: text/rfc822-headers", "",
        "From: %s" % ack["From"], "To: %s" % cust, "Subject: %s" % ack["Subject"],
        "Message-ID: %s" % ack["Message-ID"], "",
        "--" + boundary + "--", ""])
    world.append(arf)
    world.once()
    assert len(world.tickets()) == 1
    t = world.ticket(n)
    inbound = [m for m in t["messages"] if m["direction"] == "in"]
    assert [m["class"] for m in inbound] == ["human", "complaint"]
    c = events(t, "complaint")
    assert len(c) == 1 and c[0]["detail"].startswith(cust + " suppressed")
    assert world.sql("SELECT reason FROM suppression WHERE addr = '%s'" % cust) == "complaint"
    world.append(mail(cust, world.addr(world.support), "Another question"))
    world.once()
    assert imapbox.count(world.customer) == 1  # no second acknowledgement


@pytest.mark.parametrize("header,cls,key", [
    ("List-Id: <news.lists.example>", "list", "list_mail"),
    ("X-Spam-Flag: YES", "spam", "spam_mail")])
def test_list_and_spam_ticket_or_drop_by_config(make_world, header, cls, key):
    for mode in ("ticket", "drop"):
        world = make_world(tickets_extra='%s = "%s";' % (key, mode))
        use(world.support, world.customer)
        world.append(mail(world.addr(world.customer), world.addr(world.support),
                          "Weekly news", headers=[header]))
        world.once()
        assert imapbox.count(world.customer) == 0  # never acknowledged
        got = world.sql("SELECT COALESCE(ticket_id, 0) > 0, class FROM message")
        if mode == "ticket":
            assert got == "t|%s" % cls
            t = world.ticket(world.tickets()[0]["number"])
            assert t["messages"][0]["class"] == cls and t["outbox"] == []
        else:
            assert got == "f|%s" % cls and world.tickets() == []


def test_list_mail_setting_is_checked(world):
    world.write_conf(tickets_extra='list_mail = "maybe";')
    p = world.ctl("status", check=False)
    assert p.returncode != 0
    assert 'tickets.list_mail: expected "ticket" or "drop", not \'maybe\'' in p.stderr.decode()


def test_own_echo_is_dropped_and_logged_once(world):
    use(world.support, world.customer)
    world.append(mail(world.addr(world.customer), world.addr(world.support), "Echo source"))
    world.once()
    # our acknowledgement comes back to the support mailbox through some
    # forwarder that gave it a new Message-ID (the same id would simply be
    # a duplicate of the stored outgoing message): the loop header says
    # it is ours
    ack = imapbox.fetch(world.customer)[0]["raw"]
    head, body = ack.split(b"\r\n\r\n", 1)
    lines = [l for l in head.split(b"\r\n") if not l.lower().startswith(b"message-id:")]
    lines.append(b"Message-ID: <fwd-%s@forwarder.example>" % uuid.uuid4().hex.encode())
    world.append(b"\r\n".join(lines) + b"\r\n\r\n" + body)
    p = world.once()
    log = p.stderr.decode()
    assert log.count("dropped our own mail") == 1, log[-2000:]
    assert len(world.tickets()) == 1
    assert world.sql("SELECT class, ticket_id IS NULL FROM message WHERE direction = 'in' "
                     "ORDER BY id") == "human|f\nown|t"
    p = world.once()
    assert "dropped our own mail" not in p.stderr.decode()
    assert imapbox.count(world.customer) == 1


def test_auto_reply_appends_without_reopening_or_ack(world):
    cust = world.addr(world.customer)
    use(world.support, world.customer)
    world.append(mail(cust, world.addr(world.support), "Broken"))
    world.once()
    n = world.tickets()[0]["number"]
    ack = world.inbox(world.customer)[0]
    world.sql("UPDATE ticket SET status = 'pending' WHERE id = %d" % n)
    world.append(mail(cust, world.addr(world.support), "Out of office: " + str(ack["Subject"]),
                      headers=["Auto-Submitted: auto-replied", "In-Reply-To: %s" % ack["Message-ID"]]))
    world.once()
    t = world.ticket(n)
    assert [m["class"] for m in t["messages"] if m["direction"] == "in"] == ["human", "auto-reply"]
    assert t["status"] == "pending"
    assert imapbox.count(world.customer) == 1


# ---------------------------------------------------------------- must show 1
def _corpus_rows():
    rows = collections.defaultdict(set)
    with open(os.path.join(CORPORA, "classes.tsv"), encoding="utf-8") as f:
        next(f)
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) >= 2:
                rows[p[0]].add(p[1])
    return rows


# Reviewed disagreements (tests/classes_compare.py REVIEWED has the reasons).
HUMAN_FORWARD_OF_BOUNCE = "sisimai/maildir/err/make-test-36.eml"
REAL_BOUNCE_IN_NOT = "sisimai/maildir/not/rb-issue-368-bug.eml"


@pytest.mark.skipif(not os.path.isdir(CORPORA), reason="no ../shared/corpora")
def test_corpus_machine_mail_gets_no_acknowledgement(make_world):
    # the corpora are years old: without this the age guard alone would
    # keep every acknowledgement back and the test would prove nothing
    world = make_world(limits_extra="max_mail_age = %d;" % (20000 * 86400))
    rows = _corpus_rows()
    machine = sorted(p for p, c in rows.items()
                     if c & {"bounce", "dsn-delayed", "arf-complaint", "auto-reply"})
    sis_err = sorted("sisimai/maildir/err/" + f for f in os.listdir(os.path.join(CORPORA, "sisimai/maildir/err")))
    sis_not = sorted("sisimai/maildir/not/" + f for f in os.listdir(os.path.join(CORPORA, "sisimai/maildir/not")))
    files = sorted(set(machine) | set(sis_err) | set(sis_not))
    p = world.ctl("import", "--json", *[os.path.join(CORPORA, f) for f in files])
    res = {}
    for line in p.stdout.decode().splitlines():
        r = json.loads(line)
        res[os.path.relpath(r["file"], CORPORA)] = r
    assert sorted(res) == files

    acked = [f for f in machine if res[f]["acknowledged"]]
    # the one machine-labelled file we classify human is a person's forward
    assert acked == [HUMAN_FORWARD_OF_BOUNCE], acked
    human = [f for f in machine if res[f]["class"] == "human"]
    assert human == [HUMAN_FORWARD_OF_BOUNCE], human
    # every ack in the database belongs to a file we call human: that one
    # and sisimai's two not/ mails written by people
    acked_all = sorted(f for f in files if res[f]["acknowledged"])
    assert all(res[f]["class"] == "human" for f in acked_all), acked_all
    assert set(acked_all) - set(machine) <= set(sis_not), acked_all
    assert world.sql("SELECT string_agg(ticket_id::text, ',' ORDER BY ticket_id) FROM outbox") == \
        ",".join(str(t) for t in sorted(res[f]["ticket"] for f in acked_all))
    # no machine file made a ticket (list/spam aside, none are in this set)
    assert all(res[f]["result"] in ("kept without ticket", "duplicate", "follow-up")
               for f in machine if f != HUMAN_FORWARD_OF_BOUNCE), \
        {f: res[f]["result"] for f in machine}

    err_bounce = [f for f in sis_err if res[f]["class"] == "bounce"]
    not_bounce = [f for f in sis_not if res[f]["class"] == "bounce"]
    print("sisimai/maildir/err: %d/%d bounce; sisimai/maildir/not: %d/%d bounce"
          % (len(err_bounce), len(sis_err), len(not_bounce), len(sis_not)))
    assert len(sis_err) == 37 and len(sis_not) == 3
    assert sorted(set(sis_err) - set(err_bounce)) == [HUMAN_FORWARD_OF_BOUNCE]
    assert not_bounce == [REAL_BOUNCE_IN_NOT]
    # and the class is what the database stored
    stored = world.sql("SELECT class, count(*) FROM message WHERE direction = 'in' GROUP BY class "
                       "ORDER BY class")
    assert "bounce|" in stored


FIXTURES = os.path.join(ROOT, "tests", "unit", "fixtures")

# Machine notices without a DSN (tests/unit/test_classify.c has each rule).
NOTICES = {"ses_sns_bounce.eml": "bounce", "ses_sns_complaint_json.eml": "complaint",
           "sendgrid_event.eml": "bounce", "mailgun_event.eml": "bounce",
           "postmark_spam.eml": "complaint", "carrier_jp_error.eml": "bounce",
           "gateway_blocked.eml": "bounce", "arf_text_plain.eml": "complaint",
           "arf_jmrp.eml": "complaint", "arf_abuse_text.eml": "complaint",
           "noreply_delivery.eml": "auto-reply"}


def test_provider_carrier_gateway_notices_get_no_acknowledgement(world):
    files = [os.path.join(FIXTURES, "classify", f) for f in sorted(NOTICES)]
    p = world.ctl("import", "--json", *files)
    res = {os.path.basename(r["file"]): r
           for r in map(json.loads, p.stdout.decode().splitlines())}
    assert {f: res[f]["class"] for f in NOTICES} == NOTICES
    assert [f for f in NOTICES if res[f]["acknowledged"]] == []
    assert world.sql("SELECT count(*) FROM outbox") == "0"
    # about no ticket of ours: kept, no ticket made, nobody suppressed
    assert {res[f]["result"] for f in NOTICES} == {"kept without ticket"}
    assert world.sql("SELECT count(*) FROM ticket") == "0"
    assert world.sql("SELECT count(*) FROM suppression") == "0"


def test_raw_8bit_subjects_and_salvaged_sender_on_the_ticket(make_world):
    world = make_world(extra='mime: { fallback_charsets = [ "shift_jis" ]; };')
    # raw GB2312 read by the charset its text part declares, raw Shift_JIS
    # by mime.fallback_charsets (two bytes: too few to guess from)
    gb = os.path.join(FIXTURES, "mime", "raw-gb2312-header.eml")
    sj = ("From: Doe John john.doe@customer.example\r\nTo: %s\r\n"
          "Subject: Re: \x8c\x8f #12\r\nMessage-ID: <sj-%s@customer.example>\r\n\r\n"
          "hello\r\n" % (world.addr(world.support), uuid.uuid4().hex)).encode("latin-1")
    world.ctl("import", gb)
    world.ctl("import", input=sj)
    got = world.sql("SELECT string_agg(subject || '|' || coalesce(from_addr, ''), ';' "
                    "ORDER BY id) FROM message WHERE direction = 'in'")
    assert got == "转发：关于发票的问题|zhang.wei@example.cn;Re: 件 #12|john.doe@customer.example"


# ---------------------------------------------------------------- must show 4
def test_every_automatic_mail_carries_rfc3834_and_loop_headers(world):
    # this test's own traffic, so that it checks something when run alone
    use(world.support, world.customer)
    world.append(mail(world.addr(world.customer), world.addr(world.support), "Headers please"))
    world.once()
    checked = 0
    supports = {u for u in USED if u.startswith("support")}
    for user in sorted(USED):
        for m in imapbox.fetch(user):
            msg = email.message_from_bytes(m["raw"], policy=email.policy.default)
            mid = str(msg["Message-ID"] or "")
            frm = msg["From"].addresses[0].username.lower() if msg["From"] else ""
            if frm in supports and user not in supports:
                # what customers got from support: nothing escapes the filter
                assert mid.startswith("<tickd."), (user, mid)
            if not mid.startswith("<tickd."):
                continue  # not tickd's (customers, responders, MAILER-DAEMON)
            for h, ok in AUTO_HEADERS.items():
                assert str(msg[h]) in ok, (user, mid, h, msg[h])
            assert msg["X-Tickd-Loop"] == "example.com", (user, mid)
            checked += 1
    print("automatic mails checked: %d in %d mailboxes" % (checked, len(USED)))
    assert checked >= 1
