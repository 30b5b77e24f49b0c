"""Tickets that look after themselves: immediate notices to every manager,
the SLA promise in the acknowledgement, out-of-hours acknowledgements,
thank-you replies, pending/resolved tickets moving on by themselves.

Days are never waited for: `tickctl import --at` and `tickctl tick --at`
act at an injected instant (the daemon uses the real clock)."""
import os
import shutil

from conftest import ROOT, mail
from test_sla import box, people, sla_conf

TEMPLATES = os.path.join(ROOT, "conf", "templates")

OFFICE = """
calendars = ( { name = "office"; timezone = "Europe/Berlin";
                hours = { mon = "09:00-17:00"; tue = "09:00-17:00"; wed = "09:00-17:00";
                          thu = "09:00-17:00"; fri = "09:00-17:00"; };
                holidays = [ "2026-12-24", "2026-12-25" ]; } );
sla: { policies = ( { calendar = "office"; first_response = 60; next_response = 240;
                      resolution = 2400; } ); };
"""


def with_templates(w):
    tdir = os.path.join(w.dir, "templates")
    shutil.copytree(TEMPLATES, tdir)
    return 'templates: { dir = "%s"; };\n' % tdir


def body(m):
    return m.get_body(("plain",)).get_content()


def imp(w, raw, at, date=None):
    """Import raw as if it arrived at `at`; its Date becomes `date`, else
    `at` (limits.max_mail_age: no automatic mail about old mail)."""
    import datetime
    import email.utils
    import re
    d = date or email.utils.format_datetime(datetime.datetime.fromisoformat(at))
    raw = re.sub(r"(?m)^Date: [^\r\n]*", lambda m: "Date: " + d, raw, count=1)
    return w.ctl("import", "--at", at, input=raw.encode())


def test_speak_to_your_manager_notifies_every_manager_once(make_world):
    w = make_world()
    pp, a = people(w, ("lead", "agent"), ("boss", "manager"), ("chief", "manager"))
    w.write_conf(people=pp, extra=sla_conf([(0, [a["lead"]])], first_response=60))
    cust = w.addr(w.customer)
    w.append(mail(cust, w.addr(w.support), "Invoice wrong",
                  body="I was charged twice. I want to speak to your manager.\n"))
    w.once()
    n = w.tickets()[0]["number"]
    for who in ("boss", "chief"):
        got = box(w, a[who])
        assert len(got) == 1, (who, [m["Subject"] for m in got])
        assert "[Example #%d]" % n in got[0]["Subject"]
        assert got[0]["Auto-Submitted"] == "auto-generated"
    assert box(w, a["lead"]) == []
    # once each: another tick and the customer asking again add nothing
    w.append(mail(cust, w.addr(w.support), "Re: [Example #%d] Invoice wrong" % n,
                  body="I still want to speak to your manager!\n"))
    w.once()
    w.once()
    assert len(box(w, a["boss"])) == 1 and len(box(w, a["chief"])) == 1
    t = w.ticket(n)
    assert sorted((x["rcpt"], x["kind"]) for x in t["escalations"]) == \
        sorted([(a["boss"], "immediate"), (a["chief"], "immediate")])


def test_ack_names_first_response_due_in_customer_zone(make_world):
    w = make_world()
    w.write_conf(extra=with_templates(w) + OFFICE)
    tpl = os.path.join(w.dir, "templates", "default", "en", "ack.txt")
    with open(tpl) as f:
        text = f.read()
    with open(tpl, "w") as f:
        f.write(text.replace("An agent will answer you soon.",
                             "An agent will answer you by {{first_response_due|soon}}."))
    cust = w.addr(w.customer)
    # Tuesday 2026-12-08 10:00 Berlin = 09:00 UTC; the customer writes
    # from New York (-0500): due at 11:00 Berlin = 05:00 in New York
    raw = mail(cust, w.addr(w.support), "Login broken")
    imp(w, raw, "2026-12-08T10:00:00+01:00", date="Tue, 08 Dec 2026 04:00:00 -0500")
    w.once()
    got = w.inbox(w.customer)
    assert len(got) == 1
    assert "answer you by Tuesday 05:00 (2026-12-08 UTC-05:00)" in body(got[0]), body(got[0])
    # no zone in the Date header ("-0000"): the calendar's
    raw = mail(w.addr(w.customer + "b"), w.addr(w.support), "Other")
    imp(w, raw, "2026-12-08T10:00:00+01:00", date="Tue, 08 Dec 2026 09:00:00 -0000")
    w.once()
    got = w.inbox(w.customer + "b")
    assert "answer you by Tuesday 11:00 (2026-12-08 CET)" in body(got[0]), body(got[0])


def test_saturday_night_gets_out_of_hours_ack_naming_monday(make_world):
    w = make_world()
    w.write_conf(extra=with_templates(w) + OFFICE)
    de = w.addr(w.customer + "de")
    en = w.addr(w.customer + "en")
    sat = "Sat, 05 Dec 2026 23:00:00 +0100"
    imp(w, mail(de, w.addr(w.support), "Drucker defekt", body="Er druckt nicht.\n",
                headers=["Content-Language: de"]), "2026-12-05T23:00:00+01:00", date=sat)
    imp(w, mail(en, w.addr(w.support), "Printer broken"), "2026-12-05T23:00:00+01:00",
        date=sat)
    # a mail in business hours gets the ordinary acknowledgement
    imp(w, mail(w.addr(w.customer + "day"), w.addr(w.support), "Question"),
        "2026-12-07T10:00:00+01:00")
    w.once()
    d = w.inbox(w.customer + "de")
    assert len(d) == 1
    assert d[0]["Auto-Submitted"] == "auto-replied"
    assert "ab Montag 09:00 (07.12.2026" in body(d[0]), body(d[0])
    e = w.inbox(w.customer + "en")
    assert len(e) == 1 and "open again on Monday 09:00 (2026-12-07" in body(e[0]), body(e[0])
    day = w.inbox(w.customer + "day")
    assert len(day) == 1 and "closed" not in body(day[0])
    assert "An agent will answer you soon." in body(day[0])


def test_christmas_eve_is_a_holiday(make_world):
    w = make_world()
    w.write_conf(extra=with_templates(w) + OFFICE)
    # Thursday 2026-12-24 11:00 is a weekday, but a holiday: closed until
    # the next working day after the 25th, Monday 28th
    imp(w, mail(w.addr(w.customer), w.addr(w.support), "Help"), "2026-12-24T11:00:00+01:00")
    w.once()
    got = w.inbox(w.customer)
    assert len(got) == 1 and "open again on Monday 09:00 (2026-12-28" in body(got[0]), body(got[0])


def resolve(w, n):
    w.sql("UPDATE ticket SET status = 'resolved', resolved_at = now(), updated = now() "
          "WHERE id = %d" % n)


def test_thank_you_keeps_resolved_but_still_fails_reopens(make_world):
    import datetime
    import json
    w = make_world()
    cust, other = w.addr(w.customer), w.addr(w.customer + "b")
    w.append(mail(cust, w.addr(w.support), "VPN down"))
    w.append(mail(other, w.addr(w.support), "Mail down"))
    w.once()
    by = {t["subject"]: t["number"] for t in w.tickets()}
    a, b = by["VPN down"], by["Mail down"]
    resolve(w, a)
    resolve(w, b)
    w.append(mail(cust, w.addr(w.support), "Re: [Example #%d] VPN down" % a,
                  body="Thanks, that fixed it!\n\nOn Tue, Support wrote:\n> Is it still broken?\n"))
    w.append(mail(other, w.addr(w.support), "Re: [Example #%d] Mail down" % b,
                  body="Thanks, but it still fails\n"))
    w.once()
    ta, tb = w.ticket(a), w.ticket(b)
    assert ta["status"] == "resolved", ta["status"]
    assert [e["action"] for e in ta["events"]].count("thanks") == 1
    assert "reopened" not in [e["action"] for e in ta["events"]]
    assert len([m for m in ta["messages"] if m["direction"] == "in"]) == 2  # stored
    assert tb["status"] == "open"
    assert "reopened" in [e["action"] for e in tb["events"]]
    assert "thanks" not in [e["action"] for e in tb["events"]]
    # up to tomorrow: tickctl cuts "now" to the whole second
    now = datetime.datetime.now(datetime.timezone.utc)
    today = now.date().isoformat()
    tomorrow = (now + datetime.timedelta(days=1)).date().isoformat()
    rep = json.loads(w.ctl("report", "--json", "--from", today, "--to", tomorrow).stdout)
    assert rep["groups"][0]["current"]["thanks"] == 1, rep["groups"][0]


def test_thanks_keeps_resolved_can_be_switched_off(make_world):
    w = make_world(tickets_extra="thanks_keeps_resolved = false;")
    cust = w.addr(w.customer)
    w.append(mail(cust, w.addr(w.support), "VPN down"))
    w.once()
    n = w.tickets()[0]["number"]
    resolve(w, n)
    w.append(mail(cust, w.addr(w.support), "Re: [Example #%d] VPN down" % n,
                  body="Vielen Dank, es funktioniert wieder!\n"))
    w.once()
    t = w.ticket(n)
    assert t["status"] == "open" and "thanks" not in [e["action"] for e in t["events"]]


def tick(w, at):
    out = w.ctl("tick", "--at", at).stdout.decode()
    return int(out.split()[1])


def test_status_since_is_set_when_the_status_changes_and_only_then(make_world):
    """status_since (the lifecycle's clock) is the ticket's birth, then the
    instant of each status change; an UPDATE that keeps the status keeps it,
    and the reminder mark with it (033: the trigger's WHEN decides)."""
    w = make_world()
    came = "2026-12-07T09:30:00+01:00"
    imp(w, mail(w.addr(w.customer), w.addr(w.support), "Drucker"), came)
    n = w.tickets()[0]["number"]
    at = lambda: w.sql("SELECT status_since = created, extract(epoch FROM status_since)::bigint, "
                       "reminded_at IS NULL FROM ticket WHERE id = %d" % n)
    # ingest passes status_since with the mail's time
    assert at() == "t|%d|t" % 1796632200
    # a row written without it (plain SQL, a default) gets created too
    other = w.sql("INSERT INTO ticket (queue, subject, requester, created, updated) VALUES "
                  "('default', 'x', 'a@example.org', '2026-12-01T08:00:00Z', "
                  "'2026-12-01T08:00:00Z') RETURNING id")
    assert w.sql("SELECT extract(epoch FROM status_since)::bigint FROM ticket WHERE id = %s"
                 % other) == "1796112000"
    # a follow-up, an assignment: the status stays, so do status_since and the mark
    w.sql("UPDATE ticket SET reminded_at = now() WHERE id = %d" % n)
    w.sql("UPDATE ticket SET updated = '2026-12-08T10:00:00Z', last_customer_at = "
          "'2026-12-08T10:00:00Z', assignee = 'ann' WHERE id = %d" % n)
    assert at() == "t|%d|f" % 1796632200
    # a status change with the writer's time: that time, the mark cleared
    w.sql("UPDATE ticket SET status = 'pending', updated = '2026-12-09T10:00:00Z' WHERE id = %d" % n)
    assert at() == "f|%d|t" % 1796810400
    # a status change without one: now()
    w.sql("UPDATE ticket SET reminded_at = now() WHERE id = %d" % n)
    w.sql("UPDATE ticket SET status = 'open' WHERE id = %d" % n)
    assert w.sql("SELECT status_since > now() - interval '1 hour' AND reminded_at IS NULL "
                 "FROM ticket WHERE id = %d" % n) == "t"


def test_pending_reminder_close_and_answer_stops_it_in_business_days(make_world):
    """Calendar Mon-Fri 9-17 Berlin; pending 2 business days -> reminder,
    3 more -> closed with a notice; resolved 5 -> closed, no mail."""
    w = make_world(tickets_extra="pending_remind_days = 2; pending_close_days = 3; "
                                 "resolved_close_days = 5;")
    w.write_conf(extra=with_templates(w) + OFFICE)
    # the mails come at 09:30, the agents set pending / resolved at 10:00
    mon, came = "2026-12-07T10:00:00+01:00", "2026-12-07T09:30:00+01:00"
    quiet, answers, done = (w.addr(w.customer + s) for s in ("q", "a", "d"))
    imp(w, mail(quiet, w.addr(w.support), "Drucker", headers=["Content-Language: de"]), came)
    imp(w, mail(answers, w.addr(w.support), "Scanner"), came)
    imp(w, mail(done, w.addr(w.support), "Fax"), came)
    by = {t["subject"]: t["number"] for t in w.tickets()}
    q, a, d = by["Drucker"], by["Scanner"], by["Fax"]
    w.sql("UPDATE ticket SET status = 'pending', updated = '%s' WHERE id IN (%d, %d)" % (mon, q, a))
    w.sql("UPDATE ticket SET status = 'resolved', resolved_at = '%s', updated = '%s' "
          "WHERE id = %d" % (mon, mon, d))
    # Tuesday: one business day; Wednesday 09:59 not yet
    assert tick(w, "2026-12-08T10:00:00+01:00") == 0
    assert tick(w, "2026-12-09T09:59:00+01:00") == 0
    # Wednesday 10:00: two business days -> both pending get a reminder, once
    assert tick(w, "2026-12-09T10:00:00+01:00") == 2
    assert tick(w, "2026-12-09T11:00:00+01:00") == 0
    # the customer of `a` answers on Thursday: open again, sequence stopped
    imp(w, mail(answers, w.addr(w.support), "Re: [Example #%d] Scanner" % a,
                body="Here is the log you asked for.\n"), "2026-12-10T10:00:00+01:00")
    assert w.ticket(a)["status"] == "open"
    # the weekend does not count: Friday 12:00 is 2 business days after
    # the reminder, resolved `d` is at 4 of 5
    assert tick(w, "2026-12-11T12:00:00+01:00") == 0
    # Monday 14th 10:00: 3 business days after the reminder -> `q` closed
    # with a notice; `d` resolved 5 business days -> closed silently
    assert tick(w, "2026-12-14T10:00:00+01:00") == 2
    assert tick(w, "2026-12-21T10:00:00+01:00") == 0
    w.once()
    tq, ta, td = w.ticket(q), w.ticket(a), w.ticket(d)
    assert tq["status"] == "closed" and td["status"] == "closed" and ta["status"] == "open"
    acts = lambda t: [e["action"] for e in t["events"]]
    assert acts(tq).count("pending-reminder") == 1 and acts(tq).count("auto-closed") == 1
    assert acts(ta).count("pending-reminder") == 1 and "auto-closed" not in acts(ta)
    assert "pending-reminder" not in acts(td) and acts(td).count("auto-closed") == 1
    # mails: ack, reminder, closing notice, in German, RFC 3834 headers
    got = w.inbox(w.customer + "q")
    assert len(got) == 3, [m["Subject"] for m in got]
    rem = [m for m in got if "wir warten auf Ihre Antwort" in body(m)]
    clo = [m for m in got if m["Subject"].startswith("[Example #%d] Geschlossen" % q)]
    assert len(rem) == 1 and len(clo) == 1
    for m in rem + clo:
        assert m["Auto-Submitted"] == "auto-generated" and m["Precedence"] == "bulk"
        assert m["X-Auto-Response-Suppress"] == "All"
    assert len(w.inbox(w.customer + "a")) == 2  # ack, reminder; no close
    assert "we are waiting for your answer" in body(w.inbox(w.customer + "a")[1]) or \
        "we are waiting for your answer" in body(w.inbox(w.customer + "a")[0])
    assert len(w.inbox(w.customer + "d")) == 1  # the ack only
