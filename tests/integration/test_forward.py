"""An agent forwards a customer's mail to the support address (issue 20,
must-show 1): inline as the mail clients write it, or attached as
message/rfc822.  The ticket is the customer's (requester, name, original
subject and date), the agent is recorded as forwarder and their words
above the forward are an internal note.  A stranger's forward, or one
whose agent From is not proven, is an ordinary mail of its sender.  On the
real servers: mail goes in by IMAP, outcomes are read from tickctl's JSON
and the real mailboxes."""
import datetime
import email.utils
import re
import uuid

from conftest import imapbox, mail
from test_agents import AUTH, agents_world, events, inbound

# Tue, 1 Dec 2026 09:00 UTC, written as the forwarder's client shows it
ORIG_DATE = "2026-12-01T09:00:00+00:00"


def customer_addr(w):
    return w.addr(w.customer + "real")


def inline_forward(w, frm, msgid, headers=(), top=""):
    """Bob's Gmail-style inline forward of the customer's mail."""
    body = (top + "Hi team, this customer wrote to me directly; "
            "can someone take it?\n\n"
            "---------- Forwarded message ---------\n"
            "From: Rita Real <%s>\n"
            "Date: Tue, Dec 1, 2026 at 10:00 AM\n"
            "Subject: Printer prints blank pages\n"
            "To: Bob Builder <%s>\n\n"
            "Hello Bob,\nour printer prints only blank pages since "
            "Monday.\n\nRita\n" % (customer_addr(w), w.bob))
    raw = mail(frm, w.addr(w.support), "Fwd: Printer prints blank pages",
               msgid=msgid, body=body, headers=list(headers))
    # the forwarder's client writes dates in its own zone, +0100 (now: an
    # old Date would keep the acknowledgement back, limits.max_mail_age)
    now = datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=1)))
    return re.sub(r"^Date: .*$", "Date: " + email.utils.format_datetime(now), raw,
                  count=1, flags=re.M)


def attached_forward(w, frm, msgid, headers=(), inner_id=None):
    """Bob's forward with the customer's mail attached (Thunderbird's
    "Forward as Attachment")."""
    inner = "\r\n".join([
        "From: Otto Original <%s>" % customer_addr(w),
        "To: %s" % w.bob,
        "Subject: Invoice 4711 is wrong",
        "Date: Tue, 01 Dec 2026 10:00:00 +0100",
        "Message-ID: %s" % (inner_id or "<orig-%s@customer.example>" % uuid.uuid4().hex),
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "", "The invoice 4711 charges us twice.", ""])
    body = ("--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            "Please check his invoice, he called me too.\r\n"
            "--b1\r\nContent-Type: message/rfc822\r\n"
            "Content-Disposition: attachment; filename=\"orig.eml\"\r\n\r\n"
            + inner + "\r\n--b1--\r\n")
    h = ["From: %s" % frm, "To: %s" % w.addr(w.support),
         "Subject: Fwd: Invoice 4711 is wrong",
         "Date: %s" % email.utils.formatdate(), "Message-ID: %s" % msgid,
         "MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="b1"']
    return "\r\n".join(h + list(headers)) + "\r\n\r\n" + body


def only_ticket(w):
    (t,) = w.tickets()
    return w.ticket(t["number"])


def assert_customers_ticket(w, t, name, subject, note):
    cust = customer_addr(w)
    assert t["requester"] == cust and t["requester_name"] == name
    assert t["subject"] == subject
    assert t["status"] == "new" and t["first_response_at"] is None
    (m,) = inbound(t)
    # the customer's mail, as the customer wrote it
    assert m["role"] == "customer" and m["from"] == cust and m["from_name"] == name
    assert m["subject"] == subject
    assert note not in m["text"]
    assert m["date"].replace(" ", "T").startswith("2026-12-01T09:00:00")
    (fw,) = events(t, "forwarded")
    assert fw["actor"] == w.bob and cust in fw["detail"] and fw["message"] == m["id"]
    # the agent's words: an internal note by the agent, never the customer's
    (n,) = events(t, "note")
    assert n["actor"] == w.bob and n["detail"] == note and n["message"] == m["id"]
    roles = {p["addr"]: p["role"] for p in t["participants"]}
    assert roles[cust] == "requester" and roles[w.bob] == "agent"
    # tickets.forward_acknowledge defaults to off: nobody was mailed
    assert not [o for o in t["outbox"] if o["kind"] == "ack"]
    return m


def test_inline_forward_is_the_customers_ticket(make_world):
    w = agents_world(make_world)
    w.append(inline_forward(w, w.bob, "<fwd-inline@support.example>", [AUTH],
                            top="#priority high\n#assign me\n\n"))
    w.once()
    t = only_ticket(w)
    m = assert_customers_ticket(
        w, t, "Rita Real", "Printer prints blank pages",
        "Hi team, this customer wrote to me directly; can someone take it?")
    assert m["text"].startswith("Hello Bob,\nour printer prints only blank pages")
    # the forwarder's commands ran, as the forwarder's
    assert t["priority"] == "high" and t["assignee"] == w.bob
    assert {e["actor"] for e in events(t, "assigned") + events(t, "priority")} == {w.bob}
    assert not events(t, "command-ignored") and not events(t, "command-rejected")
    # no acknowledgement to anyone (the agent's mail is never acknowledged,
    # and forward_acknowledge is off)
    assert imapbox.count(w.customer + "real") == 0
    assert imapbox.count(w.support + "bob") == 0

    # the customer answers the agent's reply later with the tag: her ticket
    w.append(mail(customer_addr(w), w.addr(w.support),
                  "Re: [Example #%d] Printer prints blank pages" % t["number"],
                  body="Still blank.\n"))
    w.once()
    assert len(w.tickets()) == 1
    assert len(inbound(w.ticket(t["number"]))) == 2


def test_attached_forward_is_the_customers_ticket(make_world):
    w = agents_world(make_world)
    w.append(attached_forward(w, w.bob, "<fwd-att@support.example>", [AUTH],
                              inner_id="<orig-4711@customer.example>"))
    w.once()
    t = only_ticket(w)
    m = assert_customers_ticket(w, t, "Otto Original", "Invoice 4711 is wrong",
                                "Please check his invoice, he called me too.")
    assert m["text"].startswith("The invoice 4711 charges us twice.")
    assert [a["type"] for a in m["attachments"]] == ["message/rfc822"]
    # the customer's own Message-ID: his mail client threads to it
    assert m["message_id"] == "orig-4711@customer.example"
    (fw,) = events(t, "forwarded")
    assert "message/rfc822" in fw["detail"]

    # Alice forwards the same mail too: no second ticket, her forward is
    # recorded on the first
    w.append(attached_forward(w, w.alice, "<fwd-att2@support.example>", [AUTH],
                              inner_id="<orig-4711@customer.example>"))
    w.once()
    t = only_ticket(w)
    assert len(inbound(t)) == 2
    assert [e["actor"] for e in events(t, "forwarded")] == [w.bob, w.alice]


def test_requester_command_overrides_the_guess(make_world):
    w = agents_world(make_world)
    other = w.addr(w.customer + "boss")
    w.append(inline_forward(w, w.bob, "<fwd-req@support.example>", [AUTH],
                            top="#requester <%s>\n\n" % other.upper()))
    w.once()
    t = only_ticket(w)
    assert t["requester"] == other and t["requester_name"] is None
    (m,) = inbound(t)
    assert m["from"] == other and m["role"] == "customer"
    (fw,) = events(t, "forwarded")
    assert "#requester" in fw["detail"]
    assert customer_addr(w) not in {p["addr"] for p in t["participants"]}


def test_forward_acknowledgement_is_a_queue_setting(make_world):
    w = agents_world(make_world, tickets_extra="forward_acknowledge = true;")
    w.append(inline_forward(w, w.bob, "<fwd-ack@support.example>", [AUTH]))
    w.once()
    t = only_ticket(w)
    assert t["requester"] == customer_addr(w)
    acks = w.inbox(w.customer + "real")
    assert len(acks) == 1
    assert "[Example #%d]" % t["number"] in acks[0]["Subject"]
    assert "Printer prints blank pages" in acks[0]["Subject"]
    # the ack goes to the customer, never to the forwarding agent
    assert imapbox.count(w.support + "bob") == 0


def test_strangers_forward_is_an_ordinary_mail(make_world):
    w = agents_world(make_world)
    stranger = w.addr(w.customer + "evil")
    # a stranger forwards "the customer's" mail, with a #requester too
    w.append(inline_forward(w, stranger, "<fwd-evil@evil.example>",
                            top="#requester %s\n\n" % customer_addr(w)))
    w.once()
    t = only_ticket(w)
    assert t["requester"] == stranger
    assert t["subject"] == "Fwd: Printer prints blank pages"
    (m,) = inbound(t)
    assert m["from"] == stranger and m["role"] == "customer"
    assert "---------- Forwarded message ---------" in m["text"]
    assert not events(t, "forwarded") and not events(t, "note")
    (ign,) = events(t, "command-ignored")
    assert ign["detail"].startswith("#requester")
    assert customer_addr(w) not in {p["addr"] for p in t["participants"]}
    # the stranger gets the ordinary acknowledgement, the customer nothing
    assert imapbox.count(w.customer + "evil") == 1
    assert imapbox.count(w.customer + "real") == 0


def test_forged_agent_forward_is_an_ordinary_mail(make_world):
    w = agents_world(make_world)
    # Bob's address in From, but no Authentication-Results of our MTA
    w.append(attached_forward(w, w.bob, "<fwd-forged@evil.example>"))
    w.once()
    t = only_ticket(w)
    assert t["requester"] == w.bob
    assert t["subject"] == "Fwd: Invoice 4711 is wrong"
    assert not events(t, "forwarded") and events(t, "agent-unauthenticated")
    assert customer_addr(w) not in {p["addr"] for p in t["participants"]}
    assert imapbox.count(w.customer + "real") == 0


def test_forward_without_usable_sender_stays_the_agents(make_world):
    w = agents_world(make_world)
    # Exchange wrote only the name; the agent forgot #requester
    body = ("see below\n\n-----Original Message-----\nFrom: Rita Real\n"
            "Sent: Tuesday, December 1, 2026 10:00 AM\nSubject: Help\n\nHelp me.\n")
    w.append(mail(w.bob, w.addr(w.support), "FW: Help", body=body,
                  msgid="<fwd-noaddr@support.example>", headers=[AUTH]))
    w.once()
    t = only_ticket(w)
    assert t["requester"] == w.bob
    (u,) = events(t, "forward-unresolved")
    assert "#requester" in u["detail"]
    assert not events(t, "forwarded")


def test_outlook_reply_quoting_the_customer_is_no_forward(make_world):
    w = agents_world(make_world)
    # Outlook quotes a reply exactly as it forwards; without FW:/WG: in
    # the subject (or a #requester) it stays the agent's own mail
    body = ("Alice, can you check this?\n\n-----Original Message-----\n"
            "From: Rita Real <%s>\nSent: Tuesday, December 1, 2026 10:00 AM\n"
            "To: Bob <%s>\nSubject: Help\n\nHelp me.\n" % (customer_addr(w), w.bob))
    w.append(mail(w.bob, w.addr(w.support), "RE: Help", body=body,
                  msgid="<reply-like@support.example>", headers=[AUTH]))
    w.once()
    t = only_ticket(w)
    assert t["requester"] == w.bob
    assert not events(t, "forwarded") and not events(t, "forward-unresolved")
    assert customer_addr(w) not in {p["addr"] for p in t["participants"]}
