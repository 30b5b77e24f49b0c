"""A team of agents who work from the shared mailbox and their own: who
answered, on the real servers (mail in by IMAP, tickd --once, the ticket
and the report read back through tickctl)."""
import json
import re

from conftest import imapbox, mail

# The organisation's MTA vouches for INBOX mail from the agents' domain.
AUTHSERV = "mx.example.com"
AUTH = "Authentication-Results: %s; dkim=pass header.d=example.com" % AUTHSERV


def team_world(make_world, **kw):
    """Three agents (alice, bob, carol) with mailboxes of their own, a
    manager, and the shared mailbox's Sent folder watched."""
    extra = kw.pop("agents_extra", "")
    w = make_world(sent_mailbox="Sent",
                   extra='agents: { authserv_id = "%s"; %s };' % (AUTHSERV, extra), **kw)
    w.alice = w.addr(w.support + "alice")
    w.bob = w.addr(w.support + "bob")
    w.carol = w.addr(w.support + "carol")
    w.boss = w.addr(w.support + "boss")
    w.write_conf(people=", ".join([
        '{ address = "%s"; name = "Alice Archer"; team = "L1"; }' % w.alice,
        '{ address = "%s"; name = "Bob Builder"; team = "L1"; }' % w.bob,
        '{ address = "%s"; name = "Carol Cook"; team = "L2"; '
        'identities = [ "cc-desk@example.com" ]; }' % w.carol,
        '{ address = "%s"; name = "Mary Boss"; role = "manager"; }' % w.boss]))
    return w


def open_ticket(w, subject="Printer on fire", msgid=None):
    msgid = msgid or "<q-%s@c.example>" % subject.replace(" ", "-")
    w.append(mail(w.addr(w.customer), w.addr(w.support), subject, msgid=msgid))
    w.once()
    n = max(t["number"] for t in w.tickets())
    return n, msgid


def sent_reply(w, n, parent, frm, body="Hello,\nplease unplug it.\n", headers=None,
               msgid=None, subject="Printer on fire"):
    """What a mail client puts into the shared mailbox's Sent folder."""
    w.append(mail(frm, w.addr(w.customer), "Re: [Example #%d] %s" % (n, subject),
                  msgid=msgid, body=body,
                  headers=["In-Reply-To: %s" % parent, "References: %s" % parent]
                  + (headers or [])), mailbox="Sent")
    w.once()
    return w.ticket(n)


def report(w, agent):
    p = w.ctl("report", "--agent", agent, "--json", "--from", "2000-01-01",
              "--to", "2100-01-01")
    return json.loads(p.stdout)


def responded(rep):
    """The 'responded' figure of the report's overall group, this period."""
    groups = rep["groups"]
    g = [x for x in groups if x["group"] == "all"][0]
    return g["current"]["responded"]


# -- must-show 1: who answered ----------------------------------------------

def test_sender_of_a_shared_sent_reply_is_the_responder(make_world):
    w = team_world(make_world)
    support = '"Example Support" <%s>' % w.addr(w.support)
    n, q = open_ticket(w)
    t = sent_reply(w, n, q, support, headers=["Sender: Alice Archer <%s>" % w.alice],
                   msgid="<a1@support.example>")
    assert t["first_responder"] == w.alice
    assert t["assignee"] is None  # assign_on_first_reply is off by default
    reply = [m for m in t["messages"] if m["message_id"] == "a1@support.example"][0]
    assert reply["role"] == "agent" and reply["responder"] == w.alice
    assert [e["detail"] for e in t["events"] if e["action"] == "responded"] == [w.alice]
    # the report counts who responded, not who is assigned
    assert responded(report(w, w.alice)) == 1
    assert responded(report(w, w.bob)) == 0
    # a second reply by alice is not another first response
    sent_reply(w, n, q, support, headers=["Sender: %s" % w.alice], body="Any news?\n")
    assert responded(report(w, w.alice)) == 1
    # bob's first reply on the same ticket counts for bob; the ticket's
    # first responder stays alice
    t = sent_reply(w, n, q, support, headers=["Sender: %s" % w.bob], body="Bob here.\n")
    assert t["first_responder"] == w.alice
    assert responded(report(w, w.bob)) == 1


def test_from_identity_and_subaddress_name_the_responder(make_world):
    w = team_world(make_world, agents_extra="assign_on_first_reply = true;")
    # the agent's own From address
    n1, q1 = open_ticket(w, "Broken mouse")
    t = sent_reply(w, n1, q1, w.bob, subject="Broken mouse")
    assert t["first_responder"] == w.bob and t["assignee"] == w.bob
    # a configured identity of carol
    n2, q2 = open_ticket(w, "Broken keyboard")
    t = sent_reply(w, n2, q2, "cc-desk@example.com", subject="Broken keyboard")
    assert t["first_responder"] == w.carol and t["assignee"] == w.carol
    # a sub-address of the support address naming alice by her local part
    # ("<support>alice") or first name
    n3, q3 = open_ticket(w, "Broken screen")
    t = sent_reply(w, n3, q3, "%s+alice@example.com" % w.support, subject="Broken screen")
    assert t["first_responder"] == w.alice and t["assignee"] == w.alice
    # the plain support address: the team's reply, nobody is assigned
    n4, q4 = open_ticket(w, "Broken cable")
    t = sent_reply(w, n4, q4, w.addr(w.support), subject="Broken cable")
    assert t["first_responder"] is None and t["assignee"] is None
    assert t["first_response_at"] is not None
    # an already assigned ticket keeps its assignee
    n5, q5 = open_ticket(w, "Broken chair")
    w.ctl("assign", str(n5), w.bob)
    t = sent_reply(w, n5, q5, w.carol, subject="Broken chair")
    assert t["first_responder"] == w.carol and t["assignee"] == w.bob


def test_sender_in_inbox_mail_names_nobody(make_world):
    """Only the Sent folder's Sender is believed: an INBOX mail from a
    customer with Sender: alice is the customer's."""
    w = team_world(make_world)
    n, q = open_ticket(w)
    w.append(mail(w.addr(w.customer), w.addr(w.support), "Re: [Example #%d] Printer on fire" % n,
                  headers=["In-Reply-To: %s" % q, "Sender: %s" % w.alice], body="More.\n"))
    w.once()
    t = w.ticket(n)
    assert t["first_responder"] is None
    assert all(m["responder"] is None for m in t["messages"])
    assert responded(report(w, w.alice)) == 0


# -- must-show 2: notices to agents ------------------------------------------

def notices(w, who, n):
    """The notices about ticket n in the agent's own (Dovecot) INBOX."""
    return [m for m in w.inbox(who) if "[Example #%d]" % n in m["Subject"]]


def test_assign_and_customer_reply_notify_the_assignee(make_world):
    w = team_world(make_world)
    support = '"Example Support" <%s>' % w.addr(w.support)
    bob_local = w.support + "bob"
    n, q = open_ticket(w)
    assert notices(w, bob_local, n) == []
    # alice assigns the ticket to bob in an internal mail from Sent
    w.append(mail(support, w.bob, "Re: [Example #%d] Printer on fire" % n,
                  headers=["In-Reply-To: %s" % q, "Sender: %s" % w.alice],
                  body="#assign bob\nyours, Bob\n"), mailbox="Sent")
    w.once()
    assert w.ticket(n)["assignee"] == w.bob
    got = notices(w, bob_local, n)
    assert len(got) == 1
    no = got[0]
    assert "assigned to you" in no["Subject"]
    assert no["Auto-Submitted"] == "auto-generated"
    assert no["Precedence"] == "bulk"
    body = no.get_content()
    assert "Hello," in body and "please help." in body  # the customer's text
    assert "Status: open" in body or "Status: new" in body
    # the signed Message-ID is tickd's own (a system message on the ticket)
    mid = no["Message-ID"].strip("<>")
    t = w.ticket(n)
    assert [m for m in t["messages"] if m["message_id"] == mid and m["role"] == "system"]
    # nobody else heard of it
    assert notices(w, w.support + "alice", n) == []
    assert notices(w, w.support + "carol", n) == []

    # the customer answers, quoting the acknowledgement
    w.append(mail(w.addr(w.customer), w.addr(w.support), "Re: [Example #%d] Printer on fire" % n,
                  headers=["In-Reply-To: %s" % q],
                  body="It is still burning!\n\nOn Tue, Support wrote:\n> old quoted text\n"))
    w.once()
    got = notices(w, bob_local, n)
    assert len(got) == 2
    new = [m for m in got if m["Message-ID"] != no["Message-ID"]][0]
    assert "the customer wrote again" in new["Subject"]
    body = new.get_content()
    assert "It is still burning!" in body
    assert "old quoted text" not in body and "please help." not in body
    assert notices(w, w.support + "alice", n) == []
    assert imapbox.count(w.support + "carol") == 0


def test_notify_none_and_new_ticket_opt_in(make_world):
    w = make_world(sent_mailbox="Sent")
    w.alice = w.addr(w.support + "alice")
    w.bob = w.addr(w.support + "bob")
    w.write_conf(people=", ".join([
        '{ address = "%s"; name = "Alice"; notify = [ "new-ticket" ]; }' % w.alice,
        '{ address = "%s"; name = "Bob"; notify = [ "none" ]; }' % w.bob]))
    n, q = open_ticket(w)
    got = notices(w, w.support + "alice", n)
    assert len(got) == 1 and "new ticket" in got[0]["Subject"]
    w.ctl("assign", str(n), w.bob)
    w.append(mail(w.addr(w.customer), w.addr(w.support), "Re: [Example #%d] Printer on fire" % n,
                  headers=["In-Reply-To: %s" % q], body="Again.\n"))
    w.once()
    assert notices(w, w.support + "bob", n) == []
    assert len(notices(w, w.support + "alice", n)) == 1


# -- must-show 3: a reply to the notice is a reply to the customer -----------

def assigned_to_bob(w):
    """A ticket assigned to bob by tickctl; a customer follow-up gives bob
    one notice.  Returns (ticket, customer's first Message-ID, the notice)."""
    n, q = open_ticket(w)
    w.ctl("assign", str(n), w.bob)
    w.append(mail(w.addr(w.customer), w.addr(w.support), "Re: [Example #%d] Printer on fire" % n,
                  msgid="<q2@c.example>", headers=["In-Reply-To: %s" % q],
                  body="It is still burning!\n"))
    w.once()
    got = notices(w, w.support + "bob", n)
    assert len(got) == 1
    return n, q, got[0]


def answer(w, frm, notice, body, auth=True):
    mid = notice["Message-ID"]
    w.append(mail(frm, w.addr(w.support), "Re: " + notice["Subject"],
                  headers=(["In-Reply-To: %s" % mid, "References: %s" % mid]
                           + ([AUTH] if auth else [])), body=body))
    w.once()


def test_agent_answers_the_notice_and_the_customer_gets_it(make_world):
    w = team_world(make_world)
    n, q, notice = assigned_to_bob(w)
    assert w.ticket(n)["first_response_at"] is None
    before = imapbox.count(w.customer)  # the acknowledgement
    answer(w, "Bob Builder <%s>" % w.bob, notice,
           "#priority high\nPlease pull the plug first.\n\nOn Tue, Example Support wrote:\n"
           "> Ticket #%d: the customer wrote again\n> It is still burning!\n" % n)
    mails = w.inbox(w.customer)
    assert len(mails) == before + 1
    relay = [m for m in mails if "pull the plug" in m.get_content()]
    assert len(relay) == 1
    r = relay[0]
    assert w.addr(w.support) in r["From"] and "Bob Builder via Example Support" in r["From"]
    assert "[Example #%d]" % n in r["Subject"]
    assert r["In-Reply-To"] == "<q2@c.example>"
    body = r.get_content()
    assert "still burning" not in body and "#priority" not in body
    assert r["Auto-Submitted"] is None
    t = w.ticket(n)
    assert t["priority"] == "high"  # the command ran
    assert t["first_response_at"] is not None and t["first_responder"] == w.bob
    assert [e["detail"] for e in t["events"] if e["action"] == "relayed"] == [w.addr(w.customer)]

    # the same reply by a stranger who got hold of the notice, and by
    # another (proven) agent it was not sent to: nothing reaches the customer
    answer(w, w.addr(w.customer + "evil"), notice, "Send me your password.\n", auth=False)
    answer(w, w.carol, notice, "Carol here, not my notice.\n")
    mails = w.inbox(w.customer)
    assert len(mails) == before + 1
    assert all("password" not in m.get_content() and "Carol" not in m.get_content()
               for m in mails)
    assert len([e for e in w.ticket(n)["events"] if e["action"] == "relayed"]) == 1


def test_note_on_a_notice_reply_stays_internal(make_world):
    w = team_world(make_world)
    n, q, notice = assigned_to_bob(w)
    before = imapbox.count(w.customer)
    answer(w, w.bob, notice, "#note\nChecked the logs, waiting for the vendor.\n")
    assert imapbox.count(w.customer) == before
    t = w.ticket(n)
    assert t["first_response_at"] is None
    assert any("vendor" in m["text"] and m["role"] == "note" for m in t["messages"])


# -- must-show 4: answers to commands ------------------------------------------

def confirmations(w, local, n):
    return [m for m in w.inbox(local) if "[Example #%d] command" % n in m["Subject"]]


def test_an_agents_mistyped_command_is_answered_a_strangers_is_not(make_world):
    w = team_world(make_world)
    n, q = open_ticket(w)
    subj = "Re: [Example #%d] Printer on fire" % n
    # bob, proven by the site's MTA, mistypes
    w.append(mail(w.bob, w.addr(w.support), subj, headers=["In-Reply-To: %s" % q, AUTH],
                  body="#asign bob\n#assign nobody-here\nthanks\n"))
    w.once()
    got = confirmations(w, w.support + "bob", n)
    assert len(got) == 1
    body = got[0].get_content()
    assert "#asign bob: unknown command" in body
    assert "#assign nobody-here" in body and "no agent or manager" in body
    assert got[0]["Auto-Submitted"] == "auto-replied"
    t = w.ticket(n)
    assert t["assignee"] is None
    assert sorted(e["action"] for e in t["events"] if e["action"].startswith("command-")) == [
        "command-rejected", "command-unknown"]
    # the same lines from the customer and from a stranger: recorded, never answered
    cust_before = imapbox.count(w.customer)
    w.append(mail(w.addr(w.customer), w.addr(w.support), subj,
                  headers=["In-Reply-To: %s" % q], body="#assign nobody-here\n#asign bob\n"))
    evil = w.customer + "evil"
    w.append(mail(w.addr(evil), w.addr(w.support), subj,
                  headers=["In-Reply-To: %s" % q], body="#assign nobody-here\n#asign bob\n"))
    # and bob unproven (no Authentication-Results): a customer's mail then
    w.append(mail(w.bob, w.addr(w.support), subj, headers=["In-Reply-To: %s" % q],
                  body="#asign bob\n"))
    w.once()
    assert imapbox.count(w.customer) == cust_before
    assert all("command" not in m["Subject"] for m in w.inbox(evil))
    assert len(confirmations(w, w.support + "bob", n)) == 1
    t = w.ticket(n)
    assert len([e for e in t["events"] if e["action"] == "command-ignored"]) >= 2
    # a correct command from bob: with the default (errors) no answer
    w.append(mail(w.bob, w.addr(w.support), subj, headers=["In-Reply-To: %s" % q, AUTH],
                  body="#priority high\nok\n"))
    w.once()
    assert w.ticket(n)["priority"] == "high"
    assert len(confirmations(w, w.support + "bob", n)) == 1


def test_confirm_all_answers_done_commands_and_none_answers_nothing(make_world):
    w = team_world(make_world, agents_extra='confirm = "all";')
    n, q = open_ticket(w)
    subj = "Re: [Example #%d] Printer on fire" % n
    w.append(mail(w.bob, w.addr(w.support), subj, headers=["In-Reply-To: %s" % q, AUTH],
                  body="#priority high\nok\n"))
    w.once()
    got = confirmations(w, w.support + "bob", n)
    assert len(got) == 1 and "commands done" in got[0]["Subject"]
    assert "normal -> high" in got[0].get_content()
    w2 = team_world(make_world, agents_extra='confirm = "none";')
    n2, q2 = open_ticket(w2)
    w2.append(mail(w2.bob, w2.addr(w2.support), "Re: [Example #%d] Printer on fire" % n2,
                   headers=["In-Reply-To: %s" % q2, AUTH], body="#asign bob\n"))
    w2.once()
    assert confirmations(w2, w2.support + "bob", n2) == []


# -- must-show 5: collisions ----------------------------------------------------

def collisions(w, local, n):
    return [m for m in w.inbox(local) if "[Example #%d]" % n in m["Subject"]
            and "two agents answered" in m["Subject"]]


def test_two_agents_answering_the_same_mail_are_told_once(make_world):
    w = team_world(make_world)
    support = '"Example Support" <%s>' % w.addr(w.support)
    n, q = open_ticket(w)
    # alice claims it first; then alice and carol both answer the same mail
    w.append(mail(support, w.alice, "Re: [Example #%d] Printer on fire" % n,
                  headers=["In-Reply-To: %s" % q, "Sender: %s" % w.alice],
                  body="#assign me\nmine\n"), mailbox="Sent")
    w.once()
    sent_reply(w, n, q, support, headers=["Sender: %s" % w.alice], body="Alice: unplug it.\n")
    assert collisions(w, w.support + "alice", n) == []
    sent_reply(w, n, q, support, headers=["Sender: %s" % w.carol], body="Carol: call us.\n")
    for who in ("alice", "carol"):
        got = collisions(w, w.support + who, n)
        assert len(got) == 1, (who, w.sql("SELECT id, role, responder, received FROM message "
                                          "WHERE ticket_id = %d ORDER BY id" % n),
                               [e for e in w.ticket(n)["events"]])
        body = got[0].get_content()
        assert "Claimed by: %s" % w.alice in body
        assert got[0]["Auto-Submitted"] == "auto-generated"
    assert collisions(w, w.support + "bob", n) == []
    t = w.ticket(n)
    assert len([e for e in t["events"] if e["action"] == "collision"]) == 1
    # more replies by the same two to the same mail: no second notice
    sent_reply(w, n, q, support, headers=["Sender: %s" % w.carol], body="Carol again.\n")
    assert len(collisions(w, w.support + "carol", n)) == 1
    assert len([e for e in w.ticket(n)["events"] if e["action"] == "collision"]) == 1


def test_answers_to_different_customer_mails_are_no_collision(make_world):
    w = team_world(make_world)
    support = '"Example Support" <%s>' % w.addr(w.support)
    n, q = open_ticket(w)
    sent_reply(w, n, q, support, headers=["Sender: %s" % w.alice], body="Alice: unplug it.\n")
    w.append(mail(w.addr(w.customer), w.addr(w.support), "Re: [Example #%d] Printer on fire" % n,
                  msgid="<q2@c.example>", headers=["In-Reply-To: %s" % q], body="Done, now?\n"))
    w.once()
    sent_reply(w, n, "<q2@c.example>", support, headers=["Sender: %s" % w.carol],
               body="Carol: now plug it in.\n")
    assert collisions(w, w.support + "carol", n) == []
    assert [e for e in w.ticket(n)["events"] if e["action"] == "collision"] == []


# -- must-show 6: order and time ------------------------------------------------

def test_old_status_resolved_from_sent_does_not_bury_a_newer_customer_mail(make_world):
    import email.utils
    import time
    w = team_world(make_world)
    support = '"Example Support" <%s>' % w.addr(w.support)
    n, q = open_ticket(w)
    r0 = int(w.sql("SELECT floor(extract(epoch FROM received))::bigint FROM message "
                   "WHERE ticket_id = %d AND role = 'customer'" % n))
    written = r0 + 1  # alice writes her answer one second after the question
    while time.time() < written + 2:
        time.sleep(0.2)
    # the customer's "that did not help" arrives first (INBOX has IDLE) ...
    w.append(mail(w.addr(w.customer), w.addr(w.support), "Re: [Example #%d] Printer on fire" % n,
                  msgid="<q2@c.example>", headers=["In-Reply-To: %s" % q],
                  body="That did not help.\n"))
    w.once()
    # ... then the Sent folder is read, with alice's older resolve
    raw = mail(support, w.addr(w.customer), "Re: [Example #%d] Printer on fire" % n,
               headers=["In-Reply-To: %s" % q, "References: %s" % q, "Sender: %s" % w.alice],
               body="#status resolved\nUnplug it, then it is fixed.\n")
    raw = re.sub(r"Date: [^\r]*", "Date: " + email.utils.formatdate(written), raw, count=1)
    w.append(raw, mailbox="Sent")
    w.once()
    t = w.ticket(n)
    assert t["status"] == "open"
    stale = [e for e in t["events"] if e["action"] == "command-stale"]
    assert len(stale) == 1 and "#status resolved" in stale[0]["detail"]
    # first response time is when alice wrote, not when tickd read it
    fr = int(w.sql("SELECT extract(epoch FROM first_response_at)::bigint FROM ticket "
                   "WHERE id = %d" % n))
    assert fr == written
    # alice is told
    told = [m for m in w.inbox(w.support + "alice") if "command not done" in m["Subject"]]
    assert len(told) == 1 and "newer mail" in told[0].get_content()


def test_agent_date_is_clamped_to_question_and_arrival(make_world):
    w = team_world(make_world)
    support = '"Example Support" <%s>' % w.addr(w.support)
    n, q = open_ticket(w)
    # the question's arrival (or the ticket's creation, whichever is later)
    r0 = int(w.sql("SELECT GREATEST(floor(extract(epoch FROM m.received)), "
                   "floor(extract(epoch FROM t.created)))::bigint FROM message m "
                   "JOIN ticket t ON t.id = m.ticket_id "
                   "WHERE m.ticket_id = %d AND m.role = 'customer'" % n))
    # a client whose clock is a week late: its Date is before the question
    raw = mail(support, w.addr(w.customer), "Re: [Example #%d] Printer on fire" % n,
               headers=["In-Reply-To: %s" % q, "References: %s" % q, "Sender: %s" % w.alice],
               body="Unplug it.\n")
    raw = re.sub(r"Date: [^\r]*", "Date: Tue, 24 Nov 2026 10:00:00 +0100", raw, count=1)
    w.append(raw, mailbox="Sent")
    w.once()
    fr = int(w.sql("SELECT extract(epoch FROM first_response_at)::bigint FROM ticket "
                   "WHERE id = %d" % n))
    assert fr == r0
