"""Threading that cannot be hijacked, agents who work by mail, Message-ID
dedupe, on the real servers: mail goes in by IMAP
(INBOX and the shared mailbox's Sent folder), what customers and agents
would receive is read from their real mailboxes."""
import os
import re
import time

import pytest

from conftest import ROOT, imapbox, mail

CHATWOOT = os.path.join(ROOT, "..", "shared", "corpora", "chatwoot", "spec", "fixtures", "files")


# The organisation's MTA (agents.authserv_id) vouches for the agents' domain:
# INBOX mail from an agent address acts as the agent's only with this.
AUTHSERV = "mx.example.com"
AUTH = "Authentication-Results: %s; dkim=pass header.d=example.com" % AUTHSERV


def agents_world(make_world, **kw):
    """A world with two configured agents (Bob Builder, Alice) and a manager,
    each with a real mailbox of their own, and the Sent folder watched; the
    organisation's MTA is mx.example.com (agents.authserv_id)."""
    kw.setdefault("extra", 'agents: { authserv_id = "%s"; };' % AUTHSERV)
    w = make_world(sent_mailbox="Sent", **kw)
    w.bob = w.addr(w.support + "bob")
    w.alice = w.addr(w.support + "alice")
    w.boss = w.addr(w.support + "boss")
    w.write_conf(people=", ".join([
        '{ address = "%s"; name = "Bob Builder"; team = "L1"; role = "agent"; }' % w.bob,
        '{ address = "%s"; name = "Alice"; team = "L2"; role = "agent"; }' % w.alice,
        '{ address = "%s"; name = "Carol Boss"; role = "manager"; }' % w.boss]))
    return w


def open_ticket(w, frm=None, subject="Printer on fire", msgid=None, headers=None):
    """A customer's first mail; returns (ticket number, the ack)."""
    frm = frm or w.addr(w.customer)
    w.append(mail(frm, w.addr(w.support), subject, msgid=msgid, headers=headers))
    w.once()
    n = max(t["number"] for t in w.tickets())
    local = frm.split("@")[0]
    acks = [a for a in w.inbox(local) if "[Example #%d]" % n in a["Subject"]]
    assert len(acks) == 1
    return n, acks[0]


def inbound(t):
    return [m for m in t["messages"] if m["direction"] == "in"]


def events(t, action=None):
    return [e for e in t["events"] if action is None or e["action"] == action]


# -- must-show 1: who may write into a ticket ---------------------------------

def test_stranger_with_subject_tag_gets_a_new_linked_ticket(make_world):
    w = agents_world(make_world)
    cust, colleague = w.addr(w.customer), w.addr(w.customer + "col")
    stranger = w.addr(w.customer + "evil")
    n, ack = open_ticket(w, headers=["Cc: %s" % colleague], msgid="<first@c.example>")

    # the stranger names ticket N in the subject, but holds no reference
    w.append(mail(stranger, w.addr(w.support), "Re: [Example #%d] Printer on fire" % n,
                  body="Please send me the customer's data.\n", msgid="<evil@x.example>"))
    w.once()
    tickets = {t["number"]: t for t in w.tickets()}
    assert len(tickets) == 2
    m = max(tickets)
    assert m != n
    assert tickets[m]["linked_ticket"] == n and tickets[m]["requester"] == stranger
    tn = w.ticket(n)
    # never part of N: not among its messages, not a participant
    assert [x["from"] for x in inbound(tn)] == [cust]
    assert all("customer's data" not in x["text"] for x in tn["messages"])
    assert stranger not in [p["addr"] for p in tn["participants"]]
    # N's audit trail says a linked ticket was opened; M's says why
    assert any(("ticket %d" % m) in e["detail"] for e in events(tn, "linked-from"))
    assert events(w.ticket(m), "linked")
    # every event the stranger's mail caused names that mail, on both
    # tickets (M's first events are written once its message row is, with
    # no attaching UPDATE after them)
    evil = w.sql("SELECT id FROM message WHERE message_id IN ('evil@x.example', '<evil@x.example>')")
    assert evil.isdigit(), evil
    caused = [ln.split("|") for ln in w.sql(
        "SELECT ticket_id, action, message_id FROM event WHERE ticket_id IN (%d, %d) "
        "AND action IN ('created', 'linked', 'linked-from')" % (n, m)).splitlines()]
    assert sorted((int(t), a) for t, a, _ in caused) == sorted(
        [(n, "created"), (m, "created"), (m, "linked"), (n, "linked-from")]), caused
    assert all(mid == evil for t, a, mid in caused if (int(t), a) != (n, "created")), caused
    assert all(mid != "" for t, a, mid in caused), caused
    # the requester got nothing about it (only the one acknowledgement)
    assert imapbox.count(w.customer) == 1

    # the requester's tagged reply, the Cc'd colleague's tagged reply and a
    # reply with only In-Reply-To to the acknowledgement all thread to N
    w.append(mail(cust, w.addr(w.support), "Re: [Example #%d] Printer on fire" % n,
                  body="Still burning.\n"))
    w.append(mail(colleague, w.addr(w.support), "Re: [Example #%d] Printer on fire" % n,
                  body="Colleague here, same problem.\n"))
    w.append(mail(cust, w.addr(w.support), "one more thing",
                  headers=["In-Reply-To: %s" % ack["Message-ID"]], body="Only In-Reply-To.\n"))
    w.once()
    assert len(w.tickets()) == 2
    texts = [x["text"] for x in inbound(w.ticket(n))]
    assert len(texts) == 4
    assert texts[1].startswith("Still burning.")
    assert texts[2].startswith("Colleague here")
    assert texts[3].startswith("Only In-Reply-To.")
    assert imapbox.count(w.customer) == 1  # no second acknowledgement


# -- must-show 2: a forged token does not thread ------------------------------

def test_forged_token_does_not_thread(make_world):
    w = agents_world(make_world)
    n, ack = open_ticket(w)
    good = ack["Message-ID"].strip("<>")
    mm = re.match(r"tickd\.(\d+)\.ack\.([0-9a-f]+)\.([0-9a-f]{20})@(.+)$", good)
    assert mm and int(mm.group(1)) == n
    mac = mm.group(3)
    flipped = mac[:-1] + ("0" if mac[-1] != "0" else "1")
    forged = "<tickd.%d.ack.%s.%s@%s>" % (n, mm.group(2), flipped, mm.group(4))
    cut = "<tickd.%d.ack.%s.%s@%s>" % (n, mm.group(2), mac[:12], mm.group(4))
    stranger = w.addr(w.customer + "evil")
    w.append(mail(stranger, w.addr(w.support), "re: your ticket",
                  headers=["In-Reply-To: %s" % forged, "References: %s" % forged],
                  body="forged\n"))
    w.append(mail(stranger, w.addr(w.support), "re: your ticket again",
                  headers=["In-Reply-To: %s" % cut], body="truncated\n"))
    w.once()
    tn = w.ticket(n)
    assert len(inbound(tn)) == 1
    others = [t for t in w.tickets() if t["number"] != n]
    assert len(others) == 2
    for t in others:
        assert t["requester"] == stranger and t["linked_ticket"] is None
    # the genuine token still threads, from anyone who holds it
    w.append(mail(stranger, w.addr(w.support), "re: your ticket",
                  headers=["In-Reply-To: <%s>" % good], body="genuine\n"))
    w.once()
    assert [x["text"].strip() for x in inbound(w.ticket(n))][-1] == "genuine"


# -- must-show 3: an agent's reply in the Sent folder ------------------------

def test_agent_reply_in_sent_folder_records_first_response_and_sends_nothing(make_world):
    w = agents_world(make_world)
    cust = w.addr(w.customer)
    n, ack = open_ticket(w, msgid="<q1@c.example>")
    before = w.ticket(n)
    assert before["status"] == "new" and before["first_response_at"] is None
    outbox_before = w.sql("SELECT count(*) FROM outbox")

    # what a mail client puts into the shared mailbox's Sent folder
    w.append(mail('"Example Support" <%s>' % w.addr(w.support), cust,
                  "Re: [Example #%d] Printer on fire" % n, msgid="<a1@support.example>",
                  headers=["In-Reply-To: <q1@c.example>", "References: <q1@c.example>",
                           "Cc: %s" % w.bob],
                  body="Hello,\nplease unplug it.\n"), mailbox="Sent")
    w.once()
    t = w.ticket(n)
    assert len(w.tickets()) == 1
    assert t["status"] == "open"
    assert t["first_response_at"] is not None
    replies = [x for x in inbound(t) if x["message_id"] == "a1@support.example"]
    assert len(replies) == 1 and replies[0]["role"] == "agent"
    assert replies[0]["source"].endswith("Sent")
    fr = events(t, "first-response")
    assert len(fr) == 1 and fr[0]["message"] == replies[0]["id"]
    assert [e["detail"] for e in events(t, "status")] == ["new -> open"]
    # the customer it went to stays the requester; nothing is sent to anyone
    assert t["requester"] == cust
    roles = {p["addr"]: p["role"] for p in t["participants"]}
    assert roles[cust] == "requester"
    assert w.sql("SELECT count(*) FROM outbox") == outbox_before
    assert imapbox.count(w.customer) == 1  # the acknowledgement only
    assert imapbox.count(w.support + "bob") == 0
    assert imapbox.count(w.support) == 1  # the customer's mail only

    # a second agent reply moves last_agent_at, never the first response
    w.append(mail(w.addr(w.support), cust, "Re: [Example #%d] Printer on fire" % n,
                  msgid="<a2@support.example>", headers=["In-Reply-To: <a1@support.example>"],
                  body="Any news?\n"), mailbox="Sent")
    w.once()
    t2 = w.ticket(n)
    assert t2["first_response_at"] == t["first_response_at"]
    assert len(events(t2, "first-response")) == 1
    assert [x["role"] for x in inbound(t2)] == ["customer", "agent", "agent"]
    assert w.sql("SELECT last_agent_at >= first_response_at FROM ticket WHERE id = %d" % n) == "t"
    assert w.sql("SELECT count(*) FROM outbox") == outbox_before
    assert imapbox.count(w.customer) == 1


def test_agent_new_mail_from_sent_folder_opens_ticket_for_customer(make_world):
    """An agent writes first (not a reply): a ticket for the first outside
    recipient, status open, no acknowledgement to anyone."""
    w = agents_world(make_world)
    cust = w.addr(w.customer)
    w.append(mail(w.bob, '"Carla" <%s>' % cust, "Your contract renewal",
                  msgid="<out1@support.example>", body="Hi Carla,\nyour contract ends soon.\n"),
             mailbox="Sent")
    w.once()
    (t,) = w.tickets()
    t = w.ticket(t["number"])
    assert t["requester"] == cust and t["status"] == "open"
    # nobody waits for an answer to the agent's own mail
    assert t["last_customer_at"] is None and t["last_agent_at"] is not None
    assert t["first_response_at"] is not None
    assert inbound(t)[0]["role"] == "agent"
    assert events(t, "created")[0]["actor"] == w.bob
    roles = {p["addr"]: p["role"] for p in t["participants"]}
    assert roles == {cust: "requester", w.bob: "agent"}
    assert w.sql("SELECT count(*) FROM outbox") == "0"
    assert imapbox.count(w.customer) == 0
    # the customer's answer threads to it and is the customer's
    w.append(mail(cust, w.addr(w.support), "Re: Your contract renewal",
                  headers=["In-Reply-To: <out1@support.example>"], body="Thanks!\n"))
    w.once()
    t2 = w.ticket(t["number"])
    assert [x["role"] for x in inbound(t2)] == ["agent", "customer"]
    assert len(w.tickets()) == 1


# -- must-show 4: commands by mail --------------------------------------------

def test_agent_commands_change_ticket_and_audit_trail(make_world):
    w = agents_world(make_world)
    n, ack = open_ticket(w, msgid="<q1@c.example>")
    # Alice answers from her own client with the support address in Cc
    w.append(mail(w.alice, w.addr(w.customer), "Re: [Example #%d] Printer on fire" % n,
                  headers=["Cc: %s" % w.addr(w.support), "In-Reply-To: <q1@c.example>", AUTH],
                  msgid="<alice1@support.example>",
                  body="#status resolved\n#assign bob\n#priority high\n#frobnicate now\n"
                       "#status later\n\nHello,\nit is fixed.\n"))
    w.once()
    t = w.ticket(n)
    assert t["status"] == "resolved" and t["resolved_at"] is not None
    assert t["assignee"] == w.bob
    assert t["priority"] == "high"
    msg = [x for x in inbound(t) if x["message_id"] == "alice1@support.example"][0]
    assert msg["role"] == "agent"
    # the command block is cut from the text a customer would see
    assert msg["text"].startswith("Hello,\nit is fixed.") or msg["text"].startswith("Hello,\r\nit is")
    assert "#status" not in msg["text"] and "#assign" not in msg["text_new"]
    trail = [(e["actor"], e["action"], e["detail"]) for e in t["events"] if e["message"] == msg["id"]]
    assert (w.alice, "status", "new -> resolved") in trail
    assert (w.alice, "assigned", w.bob) in trail
    assert (w.alice, "priority", "normal -> high") in trail
    assert any(a == w.alice and b == "first-response" for a, b, c in trail)
    assert any(b == "command-unknown" and "#frobnicate" in c for a, b, c in trail)
    assert any(b == "command-rejected" and "#status later" in c for a, b, c in trail)
    assert all(e["at"] for e in t["events"])
    # agents' mail is never acknowledged; alice gets one answer about the
    # two commands that were not done (agents.confirm = errors), bob a
    # notice that the ticket is his
    assert imapbox.count(w.customer) == 1
    told = w.inbox(w.support + "alice")
    assert len(told) == 1 and "command not done" in told[0]["Subject"]
    assert "#frobnicate now" in told[0].get_content()
    assert [m["Subject"] for m in w.inbox(w.support + "bob")] == [
        "[Example #%d] Printer on fire (assigned to you)" % n]

    # a #note: an internal message, visible as such
    w.append(mail(w.bob, w.addr(w.support), "Re: [Example #%d] Printer on fire" % n,
                  msgid="<bob-note@support.example>", headers=[AUTH],
                  body="#note\nCustomer is a VIP, handle with care.\n"))
    w.once()
    t = w.ticket(n)
    note = [x for x in t["messages"] if x["message_id"] == "bob-note@support.example"][0]
    assert note["role"] == "note"
    assert note["text"].startswith("Customer is a VIP")
    assert any(e["action"] == "note" and e["actor"] == w.bob and e["message"] == note["id"]
               for e in t["events"])
    assert t["status"] == "resolved"  # a note moves nothing
    assert imapbox.count(w.customer) == 1

    # #assign by name, by "me", and an unknown person
    w.append(mail(w.boss, w.addr(w.support), "[Example #%d] reassign" % n,
                  headers=[AUTH], body="#assign Alice\n#status pending\n"))
    w.once()
    t = w.ticket(n)
    assert t["assignee"] == w.alice and t["status"] == "pending"
    w.append(mail(w.bob, w.addr(w.support), "[Example #%d] mine" % n,
                  headers=[AUTH], body="#assign me\n#assign nobody@else.example\n"))
    w.once()
    t = w.ticket(n)
    assert t["assignee"] == w.bob
    assert any(e["action"] == "command-rejected" and "nobody@else.example" in e["detail"]
               for e in t["events"])


def test_internal_agent_mail_is_not_a_response(make_world):
    """An agent's mail to the support address only, or a #note, changes
    what its commands say, but answers nobody: no first response."""
    w = agents_world(make_world)
    n, ack = open_ticket(w)
    w.append(mail(w.boss, w.addr(w.support), "[Example #%d] escalate" % n,
                  headers=[AUTH], body="#priority urgent\n#assign bob\n\nBob, please look.\n"))
    w.append(mail(w.bob, w.addr(w.support), "[Example #%d] note" % n,
                  headers=[AUTH], body="#note looked at it, need logs\n"))
    w.once()
    t = w.ticket(n)
    assert t["priority"] == "urgent" and t["assignee"] == w.bob
    assert t["status"] == "new" and t["first_response_at"] is None
    assert [x["role"] for x in inbound(t)] == ["customer", "agent", "note"]
    assert inbound(t)[2]["text"].startswith("looked at it, need logs")
    assert t["last_agent_at"] is None and t["last_customer_at"] is not None
    assert not events(t, "first-response")
    assert imapbox.count(w.customer) == 1


def test_customer_commands_change_nothing(make_world):
    w = agents_world(make_world)
    cust = w.addr(w.customer)
    # (#priority low: the word "urgent" would raise the priority through the
    # SLA keyword rules, which is right for a customer's text)
    body = "#status resolved\n#assign bob\n#priority low\n\nPlease help.\n"
    w.append(mail(cust, w.addr(w.support), "Hijack attempt", msgid="<c1@c.example>", body=body))
    w.once()
    (t,) = w.tickets()
    n = t["number"]
    w.append(mail(cust, w.addr(w.support), "Re: [Example #%d] Hijack attempt" % n,
                  body="#status closed\n#note\nmore\n"))
    w.once()
    t = w.ticket(n)
    assert t["status"] == "new"
    assert t["assignee"] is None and t["priority"] == "normal"
    assert t["first_response_at"] is None
    assert [x["role"] for x in inbound(t)] == ["customer", "customer"]
    # the customer's text is kept as written
    assert inbound(t)[0]["text"].startswith("#status resolved")
    ignored = events(t, "command-ignored")
    assert len(ignored) == 5
    assert all(e["actor"] == cust for e in ignored)
    assert "#assign bob" in ignored[1]["detail"]
    actions = {e["action"] for e in t["events"]}
    assert not actions & {"status", "assigned", "priority", "note", "first-response"}
    # the acknowledgement went out as usual, once
    assert imapbox.count(w.customer) == 1


# -- must-show 5: dedupe ------------------------------------------------------

def test_same_mail_twice_and_inbox_plus_sent_is_one_message(make_world):
    w = agents_world(make_world)
    cust = w.addr(w.customer)
    n, ack = open_ticket(w, msgid="<q1@c.example>")
    # a customer's follow-up delivered twice
    again = mail(cust, w.addr(w.support), "Re: [Example #%d] x" % n, msgid="<twice@c.example>")
    w.append(again)
    w.append(again)
    w.once()
    # Bob answers and Bccs the shared mailbox: one copy in INBOX, and the
    # shared mailbox's Sent folder holds the client's copy (with Bcc)
    reply = dict(msgid="<bob-r1@support.example>", headers=["In-Reply-To: <q1@c.example>", AUTH],
                 body="#status pending\nHello,\nwhich model is it?\n")
    w.append(mail(w.bob, cust, "Re: [Example #%d] Printer on fire" % n, **reply))
    w.once()
    w.append(mail(w.bob, cust, "Re: [Example #%d] Printer on fire" % n,
                  **dict(reply, headers=reply["headers"] + ["Bcc: %s" % w.addr(w.support)])),
             mailbox="Sent")
    w.once()
    # and the other order: Sent first, then the Bcc copy in INBOX
    reply2 = dict(msgid="<bob-r2@support.example>", headers=["In-Reply-To: <twice@c.example>", AUTH],
                  body="Hello again.\n")
    w.append(mail(w.bob, cust, "Re: [Example #%d] Printer on fire" % n, **reply2), mailbox="Sent")
    w.once()
    w.append(mail(w.bob, cust, "Re: [Example #%d] Printer on fire" % n, **reply2))
    w.once()
    t = w.ticket(n)
    ids = [x["message_id"] for x in inbound(t)]
    assert ids == ["q1@c.example", "twice@c.example", "bob-r1@support.example",
                   "bob-r2@support.example"]
    assert [x["role"] for x in inbound(t)] == ["customer", "customer", "agent", "agent"]
    assert w.sql("SELECT count(*) FROM message WHERE direction = 'in'") == "4"
    # the command ran once, not once per copy
    assert [e["detail"] for e in events(t, "status")] == ["new -> pending"]
    assert len(events(t, "first-response")) == 1
    assert imapbox.count(w.customer) == 1


# -- must-show 6: the chatwoot corpus threading cases -------------------------

P78 = "<4e6e35f5a38b4_479f13bb90078178@small-app-01.mail>"


def corpus(name):
    with open(os.path.join(CHATWOOT, name), "rb") as f:
        return f.read()


def parent(w, msgid):
    """What the helpdesk sent Sony first: an agent's new mail in Sent."""
    return mail(w.addr(w.support), '"Sony Mathew" <sony@chatwoot.com>',
                "Discussion: Let's debate these attachments", msgid=msgid,
                body="Hello Sony,\nlet us discuss.\n")


# name -> (parents to ingest first, how the child must reach them)
CHATWOOT_CASES = {
    # In-Reply-To (twice the same id) names our mail
    "reply.eml": ([P78], "In-Reply-To"),
    # In-Reply-To names nothing we know; the References list does
    "references.eml": (["<test-reference-id>"], "References"),
    # In-Reply-To names the customer's own earlier mail (reply.eml),
    # which itself opened the ticket
    "in_reply_to.eml": (["reply.eml"], "In-Reply-To"),
    # two ids in In-Reply-To: the second one is ours
    "multiple_in_reply_to.eml": (["<4e6e35f5a38b4_479f13bb90078131@small-app-01.mail>"], "In-Reply-To"),
}


@pytest.mark.parametrize("name", sorted(CHATWOOT_CASES))
def test_chatwoot_threading_cases(make_world, name):
    parents, _ = CHATWOOT_CASES[name]
    # the corpus mails are dated 2020: let the age guard acknowledge them
    w = agents_world(make_world,
                     limits_extra="max_mail_age = %d;" % (20000 * 86400))
    for p in parents:
        if p.endswith(".eml"):
            w.append(corpus(p))
        else:
            w.append(parent(w, p), mailbox="Sent")
        w.once()
    (t,) = w.tickets()
    n = t["number"]
    w.append(corpus(name))
    w.once()
    assert len(w.tickets()) == 1, w.tickets()
    t = w.ticket(n)
    child = inbound(t)[-1]
    assert child["from"] == "sony@chatwoot.com" and child["role"] == "customer"
    assert len(inbound(t)) == len(parents) + 1
    # a customer's reply to an agent's mail is a customer follow-up: no ack
    assert w.sql("SELECT count(*) FROM outbox WHERE ticket_id = %d" % n) == (
        "1" if parents[0].endswith(".eml") else "0")


@pytest.mark.parametrize("name", sorted(CHATWOOT_CASES))
def test_chatwoot_threading_cases_without_parents_are_new_tickets(make_world, name):
    """The control: the same mail with nothing it refers to opens a ticket
    (so the threading above is the parents' doing, not a subject match)."""
    w = agents_world(make_world)
    w.append(parent(w, "<unrelated@support.example>"), mailbox="Sent")
    w.once()
    w.append(corpus(name))
    w.once()
    assert len(w.tickets()) == 2


# -- reopen and link: in the audit trail too ----------------------------------

@pytest.mark.parametrize("reopen_days", [14, 0])
def test_follow_up_on_closed_ticket_reopens_or_links(make_world, reopen_days):
    w = agents_world(make_world, reopen_days=reopen_days)
    cust = w.addr(w.customer)
    n, ack = open_ticket(w, msgid="<q1@c.example>")
    w.append(mail(w.bob, cust, "Re: [Example #%d] Printer on fire" % n,
                  headers=["In-Reply-To: <q1@c.example>"], msgid="<close@support.example>",
                  body="#status closed\nDone.\n"), mailbox="Sent")
    w.once()
    assert w.ticket(n)["status"] == "closed"
    if reopen_days == 0:
        time.sleep(1.2)  # "more than 0 days ago" needs a second to pass
    w.append(mail(cust, w.addr(w.support), "Re: [Example #%d] Printer on fire" % n,
                  headers=["In-Reply-To: <close@support.example>"], msgid="<again@c.example>",
                  body="It is on fire again.\n"))
    w.once()
    t = w.ticket(n)
    if reopen_days:
        assert len(w.tickets()) == 1
        assert t["status"] == "open" and t["reopen_count"] == 1
        again = inbound(t)[-1]
        assert again["message_id"] == "again@c.example"
        (ev,) = events(t, "reopened")
        assert ev["actor"] == cust and ev["detail"] == "closed" and ev["message"] == again["id"]
    else:
        assert t["status"] == "closed" and len(inbound(t)) == 2
        (m,) = [x for x in w.tickets() if x["number"] != n]
        assert m["linked_ticket"] == n
        tm = w.ticket(m["number"])
        assert "reopen_days" in events(tm, "linked")[0]["detail"]
        assert events(tm, "linked")[0]["message"] == inbound(tm)[0]["id"]
        assert events(t, "linked-from")
    # every event of a mail points at the message it came from
    created = events(w.ticket(n), "created")[0]
    assert created["message"] == inbound(w.ticket(n))[0]["id"]
