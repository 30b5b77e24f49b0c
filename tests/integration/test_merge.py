"""Merging two tickets about one problem (issue 20, must-show 2), on the real
servers: mail goes in by IMAP, the acknowledgements are read from the
customers' real mailboxes, outcomes from tickctl's JSON.

Merge A into B: A's mails, participants, events and search rows move to B,
A is closed with its SLA clock gone and stays an alias, so replies to A's
acknowledgement and A's subject tag land on B; a stranger with A's tag still
gets a ticket of their own; `tickctl report` counts one ticket; an agent's
"#merge N" does the same, a non-agent's does nothing."""
import datetime
import json

from conftest import mail
from test_agents import AUTH, agents_world, events, inbound, open_ticket


def report_created(w):
    """(created, backlog) of today; up to tomorrow, so that a ticket of
    this very second counts (tickctl cuts "now" to the second)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    tomorrow = (now + datetime.timedelta(days=1)).date().isoformat()
    args = ["report", "--json", "--from", now.date().isoformat(), "--to", tomorrow]
    rep = json.loads(w.ctl(*args).stdout)
    # the per-ticket facts (015) and the full computation agree
    ref = json.loads(w.ctl(*args, "--unrolled").stdout)
    assert rep["groups"] == ref["groups"]
    cur = rep["groups"][0]["current"]
    return cur["created"], cur["backlog"]


def merge_refused(w, a, b, code, text):
    p = w.ctl("merge", str(a), str(b), check=False)
    assert p.returncode == code, (a, b, p.returncode, p.stderr)
    assert text in p.stderr.decode(), p.stderr


def test_merge_threads_to_survivor_and_keeps_strangers_out(make_world):
    w = agents_world(make_world)
    cust, col = w.addr(w.customer), w.addr(w.customer + "col")
    stranger = w.addr(w.customer + "evil")
    a, ack_a = open_ticket(w, frm=cust, subject="Printer on fire", msgid="<a1@c.example>")
    w.append(mail(cust, w.addr(w.support), "Printer on fire", msgid="<a1x@c.example>",
                  body="The zebrafrobnicator error shows again.\n",
                  headers=["In-Reply-To: <a1@c.example>"]))
    b, ack_b = open_ticket(w, frm=col, subject="Printing broken", msgid="<b1@c.example>")
    assert a != b
    assert report_created(w) == (2, 2)
    assert w.sql("SELECT count(*) FROM sla_clock WHERE ticket_id = %d" % a) == "1"

    # two customer mails and the acknowledgement
    n_a = len(w.ticket(a)["messages"])
    assert n_a == 3
    p = w.ctl("merge", str(a), str(b))
    assert ("ticket %d merged into %d (3 mails moved" % (a, b)) in p.stdout.decode()

    ta, tb = w.ticket(a), w.ticket(b)
    # A: a closed alias holding nothing but the audit event
    assert ta["merged_into"] == b and ta["status"] == "closed"
    assert ta["messages"] == [] and ta["participants"] == []
    assert [(e["action"], e["detail"]) for e in ta["events"]] == [
        ("merged-into", "merged into %d" % b)]
    assert ta["events"][0]["actor"].startswith("tickctl")
    # B: both conversations, both people (B keeps its one requester)
    assert tb["merged_into"] is None and tb["merged_from"] == [a]
    assert sorted(m["message_id"] for m in inbound(tb)) == [
        "a1@c.example", "a1x@c.example", "b1@c.example"]
    roles = {x["addr"]: x["role"] for x in tb["participants"]}
    assert roles[col] == "requester" and roles[cust] == "cc"
    assert tb["requester"] == col
    (mf,) = events(tb, "merged-from")
    assert mf["detail"] == "%d merged into this ticket (3 mails)" % a
    # A's history and its acknowledgement moved with it
    assert len(events(tb, "created")) == 2
    assert [o["kind"] for o in tb["outbox"]].count("ack") == 2
    # the merged ticket's SLA clock stops for good
    assert w.sql("SELECT count(*) FROM sla_clock WHERE ticket_id = %d" % a) == "0"
    # A's customer waited for an answer: that wait goes on on B's clock
    assert w.sql("SELECT count(*) FROM sla_change WHERE ticket_id = %d AND kind = 'customer'"
                 % b) == "1"
    # its words are found under B
    hits = json.loads(w.ctl("search", "zebrafrobnicator", "--json").stdout)
    assert [h["ticket"] for h in hits] == [b]
    # the report counts one ticket, created and in the backlog
    assert report_created(w) == (1, 1)

    # a reply to A's acknowledgement (its signed Message-ID) lands on B
    w.append(mail(cust, w.addr(w.support), "Re: " + ack_a["Subject"], msgid="<a2@c.example>",
                  headers=["In-Reply-To: %s" % ack_a["Message-ID"]],
                  body="Still on fire.\n"))
    # A's tag alone, from A's requester (now a participant of B), too
    w.append(mail(cust, w.addr(w.support), "Re: [Example #%d] Printer on fire" % a,
                  msgid="<a3@c.example>", body="Any news?\n"))
    w.once()
    assert len(w.tickets()) == 2
    tb = w.ticket(b)
    got = {m["message_id"]: m for m in inbound(tb)}
    assert {"a2@c.example", "a3@c.example"} <= set(got)
    assert w.ticket(a)["messages"] == []

    # a stranger with A's tag does not get in: a new ticket, linked to
    # the survivor, and the stranger is on neither ticket
    w.append(mail(stranger, w.addr(w.support), "Re: [Example #%d] Printer on fire" % a,
                  msgid="<evil@x.example>", body="Send me their data.\n"))
    w.once()
    tickets = {t["number"]: t for t in w.tickets()}
    assert len(tickets) == 3
    (c,) = set(tickets) - {a, b}
    assert tickets[c]["requester"] == stranger and tickets[c]["linked_ticket"] == b
    tb = w.ticket(b)
    assert "evil@x.example" not in [m["message_id"] for m in tb["messages"]]
    assert stranger not in [x["addr"] for x in tb["participants"]]
    assert stranger not in [x["addr"] for x in w.ticket(a)["participants"]]
    # B and the stranger's ticket: A is not counted
    assert report_created(w) == (2, 2)

    # tickctl's changes by A's number change B, and say so
    p = w.ctl("note", str(a), "called", "the", "customer")
    assert ("ticket %d was merged into %d; changing %d" % (a, b, b)) in p.stderr.decode()
    assert events(w.ticket(b), "note")[-1]["detail"] == "called the customer"
    assert not events(w.ticket(a), "note")

    # what is refused, and why
    merge_refused(w, b, b, 65, "ticket %d cannot be merged into itself" % b)
    merge_refused(w, a, c, 65, "ticket %d was already merged into %d" % (a, b))
    merge_refused(w, c, a, 65, "ticket %d was merged into %d; merge into %d instead" % (a, b, b))
    merge_refused(w, b, a, 65, "merging back would make a loop")
    merge_refused(w, c, 99999, 66, "no ticket 99999")
    # nothing moved by a refusal
    assert len(inbound(w.ticket(c))) == 1 and w.ticket(c)["merged_into"] is None

    # merging the survivor later takes its alias along: still one hop
    w.ctl("merge", str(b), str(c))
    assert w.ticket(a)["merged_into"] == c and w.ticket(b)["merged_into"] == c
    assert w.ticket(c)["merged_from"] == [a, b]
    w.append(mail(cust, w.addr(w.support), "Re: " + ack_a["Subject"], msgid="<a4@c.example>",
                  headers=["In-Reply-To: %s" % ack_a["Message-ID"]], body="Hello?\n"))
    w.once()
    assert "a4@c.example" in [m["message_id"] for m in inbound(w.ticket(c))]
    assert report_created(w) == (1, 1)


def test_merge_command_by_agent_and_not_by_others(make_world):
    w = agents_world(make_world)
    cust = w.addr(w.customer)
    a, ack_a = open_ticket(w, frm=cust, subject="VPN down", msgid="<va@c.example>")
    b, _ = open_ticket(w, frm=cust, subject="VPN still down", msgid="<vb@c.example>")

    # the customer (a participant of both) writes "#merge": recorded,
    # never run
    w.append(mail(cust, w.addr(w.support), "Re: [Example #%d] VPN down" % a,
                  msgid="<cm@c.example>", body="#merge %d\n\nSame thing.\n" % b))
    # a forged agent From without our MTA's pass: not run either
    w.append(mail(w.bob, w.addr(w.support), "Re: [Example #%d] VPN down" % a,
                  msgid="<forged@evil.example>",
                  headers=["In-Reply-To: %s" % ack_a["Message-ID"]],
                  body="#merge %d\n" % b))
    w.once()
    ta = w.ticket(a)
    assert ta["merged_into"] is None and ta["status"] != "closed"
    assert not events(ta, "merged-into") and not events(w.ticket(b), "merged-from")
    ign = [e["detail"] for e in events(ta, "command-ignored")]
    assert "#merge %d: sender is not an agent" % b in ign
    assert "#merge %d: agent From not authenticated" % b in ign
    assert len(w.tickets()) == 2

    # Bob, proven by our MTA, merges A into B with an internal mail
    w.append(mail(w.bob, w.addr(w.support), "Re: [Example #%d] VPN down" % a,
                  msgid="<bobmerge@support.example>", headers=[AUTH],
                  body="#merge #%d\n\nSame outage as the other one.\n" % b))
    w.once()
    ta, tb = w.ticket(a), w.ticket(b)
    assert ta["merged_into"] == b and ta["status"] == "closed"
    (mi,) = events(ta, "merged-into")
    assert mi["actor"] == w.bob
    (mf,) = events(tb, "merged-from")
    assert mf["actor"] == w.bob
    # the mail that asked is on the survivor, with every earlier one
    ids = [m["message_id"] for m in tb["messages"]]
    assert {"va@c.example", "vb@c.example", "cm@c.example", "forged@evil.example",
            "bobmerge@support.example"} <= set(ids)
    (bm,) = [m for m in tb["messages"] if m["message_id"] == "bobmerge@support.example"]
    assert bm["role"] == "agent" and bm["text"].startswith("Same outage")
    assert mi["message"] == bm["id"] and mf["message"] == bm["id"]
    assert report_created(w) == (1, 1)
    # A's requester wrote both: B's history does not count A as an
    # earlier ticket (it is part of B)
    assert tb["history"] is None

    # "#show A" answers with the survivor
    bob_local = w.bob.split("@")[0]
    before = len(w.inbox(bob_local))
    w.append(mail(w.bob, w.addr(w.support), "state?", msgid="<bobshow@support.example>",
                  headers=[AUTH], body="#show %d\n" % a))
    w.once()
    (ans,) = w.inbox(bob_local)[before:]
    text = ans.get_body(preferencelist=("plain",)).get_content()
    assert "Ticket #%d: VPN still down" % b in text and "Same outage" in text

    # a refused #merge (into the merged ticket: a loop) is recorded as
    # rejected with the reason, and changes nothing
    w.append(mail(w.bob, w.addr(w.support), "Re: [Example #%d] VPN still down" % b,
                  msgid="<bobloop@support.example>", headers=[AUTH],
                  body="#merge %d\n\nOops.\n" % a))
    w.once()
    tb = w.ticket(b)
    assert tb["merged_into"] is None and w.ticket(a)["merged_into"] == b
    rej = [e["detail"] for e in events(tb, "command-rejected")]
    assert rej == ["#merge %d: ticket %d was merged into %d; merging back would make a loop"
                   % (a, a, b)]
    # and Bob is told why (agents.confirm = errors)
    (conf,) = w.inbox(bob_local)[before + 1:]
    text = conf.get_body(preferencelist=("plain",)).get_content()
    assert "merging back would make a loop" in text


def test_answer_to_a_notice_about_the_merged_ticket(make_world):
    """Bob got a notice about A's customer mail; A is merged into B before
    he answers.  When A and B are the same customer's, the answer reaches
    that customer, on B; when B is another customer's, it reaches nobody
    (it would go to B's customer)."""
    from test_team import answer, notices, team_world

    w = team_world(make_world)
    cust, col = w.addr(w.customer), w.addr(w.customer + "col")

    def notified(frm, subject):
        n, _ = open_ticket(w, frm=frm, subject=subject)
        w.ctl("assign", str(n), w.bob)
        w.append(mail(frm, w.addr(w.support), "Re: [Example #%d] %s" % (n, subject),
                      body="It is still burning!\n"))
        w.once()
        (notice,) = notices(w, w.support + "bob", n)
        return n, notice

    a, notice_a = notified(cust, "Printer on fire")
    b, _ = open_ticket(w, frm=cust, subject="Printer smokes")
    w.ctl("merge", str(a), str(b))
    before = len(w.inbox(w.customer))
    answer(w, w.bob, notice_a, "Please pull the plug first.\n")
    got = w.inbox(w.customer)[before:]
    assert len(got) == 1 and "pull the plug" in got[0].get_content()
    assert "[Example #%d]" % b in got[0]["Subject"]
    assert [e["detail"] for e in events(w.ticket(b), "relayed")] == [cust]

    # another customer's ticket as survivor: nothing is relayed to anyone
    c, notice_c = notified(cust, "Scanner jams")
    d, _ = open_ticket(w, frm=col, subject="Scanner broken")
    w.ctl("merge", str(c), str(d))
    before_c, before_d = len(w.inbox(w.customer)), len(w.inbox(w.customer + "col"))
    answer(w, w.bob, notice_c, "Open the lid.\n")
    assert len(w.inbox(w.customer)) == before_c
    assert len(w.inbox(w.customer + "col")) == before_d
    td = w.ticket(d)
    assert not events(td, "relayed")
    # the answer itself is kept on the survivor, as the agent's mail
    assert any("Open the lid" in m["text"] for m in td["messages"] if m["role"] == "agent")
