"""SLA clocks and escalation on real servers.

The SLA is 1 business minute on a 24x7 calendar, so the tests wait real
minutes (no fake clock in the daemon); each waits only until the instant
that matters, measured from the ticket's creation time in the database."""
import datetime
import os
import signal
import subprocess
import time

from conftest import ROOT, TICKD, mail


def people(w, *specs):
    """people = (...) entries and the addresses, unique per world."""
    out, addrs = [], {}
    for local, role in specs:
        a = w.addr("%s%s" % (local, w.support))
        addrs[local] = a
        out.append('{ address = "%s"; name = "%s"; role = "%s"; }' % (a, local.title(), role))
    return ", ".join(out), addrs


def box(w, addr):
    return w.inbox(addr.split("@")[0])


def sla_conf(levels, first_response=1, immediate=None, batch_minutes=1):
    lv = ", ".join('{ after = %d; to = [ %s ]; }' % (after, ", ".join('"%s"' % t for t in to))
                   for after, to in levels)
    imm = "immediate = [ %s ];" % ", ".join('"%s"' % a for a in immediate) if immediate else ""
    return """
calendars = ( { name = "always"; timezone = "UTC";
                hours = { mon = "00:00-24:00"; tue = "00:00-24:00"; wed = "00:00-24:00";
                          thu = "00:00-24:00"; fri = "00:00-24:00"; sat = "00:00-24:00";
                          sun = "00:00-24:00"; }; } );
sla: { policies = ( { calendar = "always"; first_response = %d; next_response = 60;
                      resolution = 600; warn_percent = 50; } ); };
escalation: { batch_minutes = %d; chains = ( { %s levels = ( %s ); } ); };
""" % (first_response, batch_minutes, imm, lv)


def created(w, n):
    t = w.ticket(n)["created"]
    return datetime.datetime.fromisoformat(t).timestamp()


def sleep_until(t):
    d = t - time.time()
    if d > 0:
        time.sleep(d)


def slow_ticket(make_world):
    """A world whose lead gets every escalation (first response 60
    minutes) and one customer's ticket in it: (world, people, number)."""
    w = make_world()
    pp, a = people(w, ("lead", "agent"))
    w.write_conf(people=pp, extra=sla_conf([(0, [a["lead"]])], first_response=60))
    w.append(mail(w.addr(w.customer), w.addr(w.support), "Slow", body="It is slow.\n"))
    w.once()
    return w, a, w.tickets()[0]["number"]


def check_loop_headers(m):
    assert m["Auto-Submitted"] == "auto-generated"
    assert m["Precedence"] == "bulk"
    assert m["X-Auto-Response-Suppress"] == "All"
    assert m["X-Tickd-Loop"] == "example.com"


def test_unanswered_ticket_escalates_level_by_level_until_agent_replies(make_world):
    w = make_world()
    pp, a = people(w, ("lead", "agent"), ("boss", "manager"), ("director", "manager"),
                   ("alice", "agent"))
    # level 3 exists only to show that the chain stops after the reply
    # our MTA (agents.authserv_id) vouches for the agents' INBOX mail
    w.write_conf(people=pp, extra=sla_conf(
        [(0, [a["lead"]]), (1, [a["boss"]]), (2, [a["director"]])])
        + 'agents: { authserv_id = "mx.example.com"; };')
    cust = w.addr(w.customer)
    w.append(mail(cust, w.addr(w.support), "Printer offline", body="It does not print.\n"))
    w.once()
    n = w.tickets()[0]["number"]
    t0 = created(w, n)
    t = w.ticket(n)
    assert t["priority"] == "normal"
    assert t["sla"]["first_response"]["state"] == "running"
    assert t["sla"]["first_response"]["breached"] is False
    assert t["sla"]["breached"] is False
    assert datetime.datetime.fromisoformat(t["sla"]["first_response"]["due"]).timestamp() == t0 + 60
    assert box(w, a["lead"]) == []

    # the breach: one notice to the team lead, nobody else
    sleep_until(t0 + 61)
    w.once()
    lead = box(w, a["lead"])
    assert len(lead) == 1
    m = lead[0]
    assert "[Example #%d]" % n in m["Subject"] and "Escalation level 1" in m["Subject"]
    assert "first response breached" in m["Subject"]
    check_loop_headers(m)
    body = m.get_body(("plain",)).get_content()
    assert cust in body and "Priority: normal" in body and "It does not print." in body
    assert "first response within 1 business minute" in body and "#assign" in body
    assert box(w, a["boss"]) == [] and box(w, a["director"]) == []
    t = w.ticket(n)
    assert t["sla"]["first_response"]["breached"] is True and t["sla"]["breached"] is True
    # a second tick in the same minute sends nothing more
    w.once()
    assert len(box(w, a["lead"])) == 1 and box(w, a["boss"]) == []

    # level 2, one business minute after the breach: the manager
    sleep_until(t0 + 121)
    w.once()
    boss = box(w, a["boss"])
    assert len(boss) == 1 and "Escalation level 2" in boss[0]["Subject"]
    check_loop_headers(boss[0])
    assert len(box(w, a["lead"])) == 1 and box(w, a["director"]) == []

    # an agent replies: the chain stops, level 3 never fires
    # (to the customer, support in Cc: a reply; an agents-only mail would be
    # internal and stop nothing)
    w.append(mail(a["alice"], cust, "Re: [Example #%d] Printer offline" % n,
                  body="Please switch it off and on again.\n",
                  headers=["Cc: %s" % w.addr(w.support),
                           "Authentication-Results: mx.example.com; dmarc=pass "
                           "header.from=example.com"]))
    w.once()
    sleep_until(t0 + 185)
    w.once()
    assert box(w, a["director"]) == []
    assert len(box(w, a["lead"])) == 1 and len(box(w, a["boss"])) == 1
    t = w.ticket(n)
    assert t["first_response_at"] is not None
    assert t["sla"]["first_response"]["state"] == "done"
    assert t["sla"]["first_response"]["breached"] is True  # it was late
    esc = [e for e in t["events"] if e["action"] == "escalated"]
    assert [e["detail"].split(":")[0] for e in esc] == ["level 1", "level 2"], esc
    assert [(x["rcpt"], x["level"]) for x in t["escalations"]] == [(a["lead"], 1), (a["boss"], 2)]
    assert all(x["sent_at"] for x in t["escalations"])


def test_speak_to_your_manager_escalates_at_once_with_priority_high(make_world):
    w = make_world()
    pp, a = people(w, ("lead", "agent"), ("boss", "manager"))
    w.write_conf(people=pp, extra=sla_conf([(0, [a["lead"]]), (60, [a["boss"]])],
                                           first_response=60))
    cust = w.addr(w.customer)
    w.append(mail('"Bob Buyer" <%s>' % cust, w.addr(w.support), "Invoice 2026-114 is wrong",
                  body="I was charged twice. I want to speak to your manager.\n"))
    w.once()
    n = w.tickets()[0]["number"]
    t = w.ticket(n)
    assert t["priority"] == "high"
    boss = box(w, a["boss"])
    assert len(boss) == 1, [m["Subject"] for m in boss]
    m = boss[0]
    assert "[Example #%d]" % n in m["Subject"] and "priority high" in m["Subject"]
    assert m["Importance"] == "high"
    check_loop_headers(m)
    body = m.get_body(("plain",)).get_content()
    assert "Priority: high" in body and "Bob Buyer <%s>" % cust in body
    assert "speak to your manager" in body
    # the lead (level 1 of the SLA chain) is not bothered: nothing breached
    assert box(w, a["lead"]) == []
    actions = [e["action"] for e in t["events"]]
    assert "priority" in actions and "escalated" in actions
    # the rule's events name the mail that matched (written with it, not
    # attached afterwards: the ticket is born high)
    first = t["events"][0]["message"]
    assert first
    rule = {e["action"]: e for e in t["events"]
            if e["action"] in ("priority", "escalation-requested")}
    assert rule["priority"]["detail"].startswith("normal -> high (rule "), rule
    assert rule["priority"]["message"] == first, rule
    assert rule["escalation-requested"]["message"] == first, rule
    assert [(x["rcpt"], x["kind"]) for x in t["escalations"]] == [(a["boss"], "immediate")]
    # the customer got the acknowledgement only
    assert len(w.inbox(w.customer)) == 1
    # once per ticket: another tick and a follow-up asking again add nothing
    w.append(mail(cust, w.addr(w.support), "Re: [Example #%d] Invoice" % n,
                  body="Any news? I still want to speak to your manager!\n"))
    w.once()
    w.once()
    assert len(box(w, a["boss"])) == 1
    assert len(w.ticket(n)["escalations"]) == 1


def test_german_keyword_and_vip_raise_priority_without_storm(make_world):
    w = make_world()
    pp, a = people(w, ("lead", "agent"), ("boss", "manager"))
    w.write_conf(people=pp, extra=sla_conf([(0, [a["lead"]])], first_response=60))
    cust = w.addr(w.customer)
    w.append(mail(cust, w.addr(w.support), "Rechnung",
                  body="Ich möchte mich bei Ihrem Vorgesetzten beschweren. Beschwerde!\n"))
    w.append(mail(w.addr(w.customer + "x"), w.addr(w.support), "Question",
                  body="Could you check this?\n", headers=["Importance: high"]))
    w.append(mail(w.addr(w.customer + "y"), w.addr(w.support), "Hello",
                  body="Our management team said hi.\n"))
    w.once()
    by_subject = {t["subject"]: t for t in w.tickets()}
    assert by_subject["Rechnung"]["priority"] == "high"
    assert by_subject["Question"]["priority"] == "high"
    assert by_subject["Hello"]["priority"] == "normal"  # "management" is not "manager"
    boss = box(w, a["boss"])
    assert len(boss) == 1 and "#%d]" % by_subject["Rechnung"]["number"] in boss[0]["Subject"]


def test_fifty_breaches_in_one_minute_make_one_digest_per_manager(make_world):
    """The running daemon (not --once): it wakes up at the breaches by
    itself, and hold_seconds lets the burst gather into one digest."""
    w = make_world()
    pp, a = people(w, ("boss", "manager"), ("chief", "manager"))
    w.write_conf(people=pp, per_recipient_day=100,
                 extra=sla_conf([(0, [a["boss"], a["chief"]])], batch_minutes=15)
                 .replace("batch_minutes = 15;", "batch_minutes = 15; hold_seconds = 20;"))
    for i in range(50):
        w.append(mail(w.addr("%s%d" % (w.customer, i)), w.addr(w.support), "Problem %d" % i))
    d = w.start()
    try:
        deadline = time.time() + 60
        while time.time() < deadline and int(w.sql("SELECT count(*) FROM ticket")) < 50:
            time.sleep(0.5)
        tickets = w.tickets()
        assert len(tickets) == 50
        created_at = [datetime.datetime.fromisoformat(t["created"]).timestamp() for t in tickets]
        assert max(created_at) - min(created_at) < 20  # "in the same minute"
        # the breaches are at created + 60 s; wait for the digests
        deadline = max(created_at) + 60 + 20 + 60
        while time.time() < deadline:
            if int(w.sql("SELECT count(*) FROM outbox WHERE kind IN ('escalation', 'digest') "
                         "AND state = 'sent'")) >= 2:
                break
            time.sleep(1)
        time.sleep(5)  # anything extra would be queued by now
    finally:
        d.send_signal(signal.SIGTERM)
        d.wait(timeout=30)
    subprocess.run([os.path.join(ROOT, "tests", "stack.sh"), "wait-delivered",
                    w.stack["STACK_DIR"], "60"], check=True, capture_output=True)
    for who in ("boss", "chief"):
        got = box(w, a[who])
        assert len(got) == 1, (who, [m["Subject"] for m in got])
        m = got[0]
        assert m["Subject"] == "Escalation digest: 50 tickets need attention"
        check_loop_headers(m)
        body = m.get_body(("plain",)).get_content()
        for t in tickets:
            assert "[Example #%d] first response breached" % t["number"] in body
    # every ticket records its level-1 notice to both managers
    t = w.ticket(tickets[7]["number"])
    assert sorted(x["rcpt"] for x in t["escalations"]) == sorted([a["boss"], a["chief"]])
    assert int(w.sql("SELECT count(*) FROM sla_notice")) == 100
    assert int(w.sql("SELECT count(*) FROM outbox WHERE kind IN ('escalation', 'digest')")) == 2
    # nothing more within the batch window
    w.once()
    assert len(box(w, a["boss"])) == 1 and len(box(w, a["chief"])) == 1


def test_concurrent_instances_send_each_notice_once(make_world):
    """Three daemons tick at the same moment on one database: the
    escalation lock lets one of them queue the notices, none twice."""
    w = make_world()
    pp, a = people(w, ("lead", "agent"), ("boss", "manager"))
    w.write_conf(people=pp, per_recipient_day=100,
                 extra=sla_conf([(0, [a["lead"]])], first_response=60, batch_minutes=15))
    for i in range(20):
        raw = mail(w.addr("%s%d" % (w.customer, i)), w.addr(w.support), "Bill %d" % i,
                   body="This is a complaint. I want to speak to your manager.\n")
        w.ctl("import", input=raw.encode())
    assert int(w.sql("SELECT count(*) FROM sla_clock WHERE immediate IS NOT NULL")) == 20
    confs = []
    for i in range(3):
        c = os.path.join(w.dir, "tickd%d.conf" % i)
        with open(w.conf) as f, open(c, "w") as g:
            g.write(f.read() + '\ninstance = "it-%d";\n' % i)
        confs.append(c)
    procs = [subprocess.Popen([TICKD, "-c", c, "--once"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE) for c in confs]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()[-2000:]
    subprocess.run([os.path.join(ROOT, "tests", "stack.sh"), "wait-delivered",
                    w.stack["STACK_DIR"], "60"], check=True, capture_output=True)
    assert int(w.sql("SELECT count(*) FROM sla_notice WHERE kind = 'immediate'")) == 20
    assert int(w.sql("SELECT count(*) FROM sla_notice WHERE sent_at IS NULL")) == 0
    assert int(w.sql("SELECT count(*) FROM outbox WHERE kind IN ('escalation', 'digest')")) == 1
    boss = box(w, a["boss"])
    assert len(boss) == 1 and boss[0]["Subject"] == "Escalation digest: 20 tickets need attention"
    assert box(w, a["lead"]) == []


def test_pending_pauses_the_clocks_in_the_daemon(make_world):
    """A status change by any writer of the ticket row (here plain SQL, as
    an agent's #status or tickctl would do) pauses and resumes the clocks."""
    w, a, n = slow_ticket(make_world)
    ts = lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
    s0 = w.ticket(n)["sla"]
    assert s0["first_response"]["state"] == "running"
    w.sql("UPDATE ticket SET status = 'pending', updated = now() WHERE id = %d" % n)
    w.once()
    s1 = w.ticket(n)["sla"]
    assert s1["first_response"]["state"] == "paused" and s1["first_response"]["due"] is None
    assert s1["resolution"]["state"] == "paused"
    time.sleep(4)
    w.sql("UPDATE ticket SET status = 'open', updated = now() WHERE id = %d" % n)
    w.once()
    s2 = w.ticket(n)["sla"]
    assert s2["first_response"]["state"] == "running"
    shift = ts(s2["first_response"]["due"]) - ts(s0["first_response"]["due"])
    assert 3 <= shift <= 10, shift  # the pause does not count
    assert ts(s2["resolution"]["due"]) - ts(s0["resolution"]["due"]) == shift
    assert box(w, a["lead"]) == []


def test_a_follow_up_while_an_answer_is_awaited_writes_no_clock_change(make_world):
    """sql/032: a customer's mail while the response clock already runs
    changes no clock, so it writes no change for the tick; in every other
    case (a change of the ticket not yet replayed, an answered or resolved
    ticket) it is written, and the tick restarts the response clock."""
    w, _, n = slow_ticket(make_world)
    clock = lambda: w.sql("SELECT initialized, awaiting_since, next_check FROM sla_clock "
                          "WHERE ticket_id = %d" % n)
    changes = lambda: w.sql("SELECT count(*) FROM sla_change WHERE ticket_id = %d" % n)
    t0 = int(created(w, n))
    before = clock()
    assert before.startswith("t|%d|" % t0) and changes() == "0"
    due = w.ticket(n)["sla"]["first_response"]["due"]
    customer = "UPDATE ticket SET updated = to_timestamp(%d), last_customer_at = to_timestamp(%d) " \
               "WHERE id = %d"
    agent = "UPDATE ticket SET updated = to_timestamp(%d), last_agent_at = to_timestamp(%d), " \
            "first_response_at = COALESCE(first_response_at, to_timestamp(%d)) WHERE id = %d"

    # awaited, nothing pending: no change, the clock and its due time as they were
    w.sql(customer % (t0 + 5, t0 + 5, n))
    assert changes() == "0" and clock() == before
    assert w.sql("SELECT extract(epoch FROM last_customer_at)::bigint FROM ticket "
                 "WHERE id = %d" % n) == str(t0 + 5)
    w.ctl("tick")
    assert w.ticket(n)["sla"]["first_response"]["due"] == due

    # an agent's answer not yet replayed: the follow-up after it is written,
    # and the replay restarts the response clock at the follow-up
    w.sql(agent % (t0 + 10, t0 + 10, t0 + 10, n))
    w.sql(customer % (t0 + 20, t0 + 20, n))
    assert changes() == "2"
    w.ctl("tick")
    assert changes() == "0" and clock().startswith("t|%d|" % (t0 + 20))

    # answered and replayed: nobody waits, so the next follow-up is written
    w.sql(agent % (t0 + 30, t0 + 30, t0 + 30, n))
    w.ctl("tick")
    assert clock().startswith("t|0|") and changes() == "0"
    w.sql(customer % (t0 + 40, t0 + 40, n))
    assert changes() == "1"
    w.ctl("tick")
    assert clock().startswith("t|%d|" % (t0 + 40))

    # resolved: the clock waits for nobody; a mail on it is written
    w.sql("UPDATE ticket SET status = 'resolved', resolved_at = to_timestamp(%d), "
          "updated = to_timestamp(%d) WHERE id = %d" % (t0 + 50, t0 + 50, n))
    w.ctl("tick")
    assert clock().startswith("t|0|") and changes() == "0"
    w.sql(customer % (t0 + 60, t0 + 60, n))
    assert changes() == "1"
