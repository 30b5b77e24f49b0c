"""Volume is not a loop, on the real servers.

An outage makes many first-time customers write at once: every one of them
is acknowledged at once, and a manager's escalation in the same minute is
not held.  A loop has another shape: the same recipients, or one sender
behind many addresses, getting automatic mail again and again; limits count
per sender identity (From, without a +tag) as well as per recipient, so one
outsider with 150 Reply-To addresses gets at most limits.per_recipient_day
acknowledgements.  The breaker tests (repeats held, first mails not) are in
test_machine.py."""
import imaplib
import json
import time

from conftest import imapbox, mail
from test_sla import box, people, sla_conf


def bulk_append(w, raws):
    """APPEND many mails over one IMAP connection (one login per mail
    would be most of the test's time)."""
    m = imapbox.connect(w.support)
    try:
        for raw in raws:
            data = raw.encode("utf-8")
            imapbox._check(m.append("INBOX", None, imaplib.Time2Internaldate(time.time()), data),
                           "APPEND INBOX")
    finally:
        imapbox._logout(m)


def breaker(w):
    return json.loads(w.ctl("status", "--json").stdout)["breaker"]


def test_thousand_new_customers_in_a_minute_all_acknowledged_and_manager_hears(make_world):
    """Must show 3: 1,000 distinct new customers in one minute (default
    limits): 1,000 acknowledgements delivered without a hold, and the
    escalation due in the same minute reaches the manager."""
    w = make_world()
    pp, a = people(w, ("lead", "agent"), ("boss", "manager"))
    w.write_conf(people=pp, extra=sla_conf([(0, [a["lead"]]), (60, [a["boss"]])],
                                           first_response=60))
    custs = ["c%04d%s" % (i, w.customer) for i in range(1000)]
    raws = [mail(w.addr(c), w.addr(w.support), "Outage: site down (%d)" % i,
                 body="Your site is down since 10:00.\n") for i, c in enumerate(custs)]
    # one of them wants the manager: an immediate escalation
    raws[500] = mail(w.addr(custs[500]), w.addr(w.support), "Outage: still down",
                     body="This is the third time. I want to speak to your manager.\n")
    bulk_append(w, raws)
    t0 = time.time()
    w.once()  # fetch, queue, send; waits until OpenSMTPD delivered everything
    took = time.time() - t0
    print("1000 new tickets: tickd --once plus delivery took %.1f s" % took)
    assert w.sql("SELECT count(*) FROM ticket") == "1000"
    # every acknowledgement accepted by the SMTP server, none held, and
    # they were all queued within one minute
    assert w.sql("SELECT state, count(*) FROM outbox WHERE kind = 'ack' GROUP BY state") == \
        "sent|1000"
    assert w.sql("SELECT count(*) FROM outbox WHERE last_error LIKE 'held:%'") == "0"
    assert w.sql("SELECT count(*) FROM outbox WHERE is_repeat") == "0"
    assert float(w.sql("SELECT extract(epoch FROM max(created) - min(created)) FROM outbox "
                       "WHERE kind = 'ack'")) < 60
    b = breaker(w)
    assert b["open"] is False and b["trips"] == 0, b
    # the manager's notice: the SLA pass reads escalation.tick_limit (500)
    # clocks a tick and comes back at once when more are due, as the
    # daemon does; --once runs one tick, so run it once more
    w.once()
    esc = w.sql("SELECT kind || '|' || state FROM outbox WHERE rcpt = '%s'" % a["boss"])
    assert esc == "escalation|sent", esc
    assert float(w.sql("SELECT extract(epoch FROM (SELECT created FROM outbox WHERE rcpt = '%s')"
                       " - min(created)) FROM outbox WHERE kind = 'ack'" % a["boss"])) < 60
    boss = box(w, a["boss"])
    assert len(boss) == 1 and "priority high" in boss[0]["Subject"], [m["Subject"] for m in boss]
    # and each customer has the acknowledgement in the real mailbox
    missing = [c for c in custs if imapbox.count(c) != 1]
    assert missing == [], missing[:10]


def test_one_outsider_with_150_reply_to_gets_at_most_per_recipient_day(make_world):
    """Must show 4: one From, 150 mails with 150 different Reply-To (and,
    for half of them, a +tag on the From): at most per_recipient_day (10)
    acknowledgements; a real customer right after is acknowledged at once."""
    w = make_world()
    evil = "evil" + w.customer
    raws = []
    for i in range(150):
        frm = w.addr(evil) if i % 2 == 0 else w.addr("%s+%d" % (evil, i))
        raws.append(mail(frm, w.addr(w.support), "Question %d" % i,
                         headers=["Reply-To: %s" % w.addr("r%03d%s" % (i, w.customer))]))
    bulk_append(w, raws)
    w.once()
    assert w.sql("SELECT count(*) FROM ticket") == "150"
    acks = w.sql("SELECT count(DISTINCT rcpt) || '|' || count(*) FROM outbox WHERE kind = 'ack'")
    assert acks == "10|10", acks  # per_recipient_day, and the limit did fire
    assert w.sql("SELECT count(*) FROM event WHERE action = 'ack-suppressed' AND detail = "
                 "'limits.per_recipient_day reached for the sender'") == "140"
    assert w.sql("SELECT DISTINCT sender FROM outbox WHERE kind = 'ack'") == w.addr(evil)
    # a real customer right after: acknowledged at once
    cust = w.addr(w.customer)
    w.append(mail(cust, w.addr(w.support), "My own question"))
    w.once()
    assert w.sql("SELECT state || '|' || is_repeat FROM outbox WHERE rcpt = '%s'" % cust) == \
        "sent|false"
    assert imapbox.count(w.customer) == 1
    assert breaker(w)["open"] is False
