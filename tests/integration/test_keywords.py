"""The ticket's state as IMAP keywords on the shared mailbox's copies of its
mails, read back from Dovecot (imap.keywords): written after the COMMIT,
updated when the status or assignee changes from anywhere, and never state
(\\Seen and the ticket are what tickd decides, whatever the keywords say)."""
import re

from conftest import imapbox, mail

AUTHSERV = "mx.example.com"


def kw_world(make_world, mode="all", **kw):
    kw.setdefault("imap_extra", 'keywords = "%s";' % mode)
    w = make_world(sent_mailbox="Sent",
                   extra='agents: { authserv_id = "%s"; };' % AUTHSERV, **kw)
    w.bob = w.addr(w.support + "bob")
    w.alice = w.addr(w.support + "alice")
    w.write_conf(people=", ".join([
        '{ address = "%s"; name = "Bob Builder"; }' % w.bob,
        '{ address = "%s"; name = "Alice Archer"; }' % w.alice]))
    return w


def flags(w, msgid, mailbox="INBOX"):
    """The flags of the copy of msgid in the shared mailbox's folder."""
    for m in imapbox.fetch(w.support, mailbox):
        if msgid.encode() in m["raw"]:
            return set(m["flags"])
    raise AssertionError("%s not in %s" % (msgid, mailbox))


def kws(fl):
    return {f for f in fl if f.startswith("$")}


def test_keywords_follow_the_ticket(make_world):
    w = kw_world(make_world)
    q = "<kw-1@customer.example>"
    w.append(mail(w.addr(w.customer), w.addr(w.support), "Printer on fire", msgid=q))
    w.once()
    n = w.tickets()[0]["number"]
    # after ingest: the INBOX copy carries the ticket and its state, and
    # \Seen is there because imap.after = seen says so, not as state
    assert kws(flags(w, q)) == {"$Ticket%d" % n, "$New"}
    assert "\\Seen" in flags(w, q)
    # the customer writes again: two copies of the ticket in INBOX
    q2 = "<kw-1b@customer.example>"
    w.append(mail(w.addr(w.customer), w.addr(w.support), "Re: [Example #%d] Printer on fire" % n,
                  msgid=q2, headers=["In-Reply-To: %s" % q]))
    w.once()
    assert len(w.tickets()) == 1
    assert kws(flags(w, q2)) == {"$Ticket%d" % n, "$New"}
    # an agent's reply from the Sent folder sets the ticket pending: both
    # copies show it, the old state keyword is gone
    r = "<kw-r1@support.example>"
    w.append(mail('"Example Support" <%s>' % w.addr(w.support), w.addr(w.customer),
                  "Re: [Example #%d] Printer on fire" % n, msgid=r,
                  body="#status pending\nPlease unplug it.\n",
                  headers=["In-Reply-To: %s" % q, "References: %s" % q,
                           "Sender: Bob Builder <%s>" % w.bob]), mailbox="Sent")
    w.once()
    assert w.ticket(n)["status"] == "pending"
    assert kws(flags(w, q)) == {"$Ticket%d" % n, "$Pending"}
    assert kws(flags(w, r, "Sent")) == {"$Ticket%d" % n, "$Pending"}
    assert kws(flags(w, q2)) == {"$Ticket%d" % n, "$Pending"}
    # tickctl (another process, no IMAP) changes assignee and status; the
    # daemon's next poll brings the keywords up to date
    w.ctl("assign", str(n), w.bob)
    w.once()
    assert kws(flags(w, q)) == {"$Ticket%d" % n, "$Pending", "$Assigned-%sbob" % w.support}
    w.ctl("assign", str(n), w.alice)
    w.ctl("close", str(n))
    w.once()
    assert kws(flags(w, q)) == {"$Ticket%d" % n, "$Closed", "$Assigned-%salice" % w.support}
    assert kws(flags(w, r, "Sent")) == kws(flags(w, q))
    # nothing is due any more: a pass writes nothing
    assert w.sql("SELECT count(*) FROM imap_keyword WHERE dirty_since IS NOT NULL") == "0"


def test_merged_ticket_copies_show_the_survivor(make_world):
    w = kw_world(make_world)
    qa, qb = "<kw-ma@customer.example>", "<kw-mb@customer.example>"
    w.append(mail(w.addr(w.customer), w.addr(w.support), "Printer broken", msgid=qa))
    w.append(mail(w.addr(w.customer), w.addr(w.support), "Printer still broken", msgid=qb))
    w.once()
    a, b = sorted(t["number"] for t in w.tickets())
    w.ctl("assign", str(b), w.bob)
    w.ctl("merge", str(a), str(b))
    w.once()
    # A's mail is B's now: B's number, state and agent; A's number stays
    # on it as the alias it is
    assert kws(flags(w, qa)) == {"$Ticket%d" % a, "$Ticket%d" % b, "$New",
                                 "$Assigned-%sbob" % w.support}
    assert kws(flags(w, qb)) == {"$Ticket%d" % b, "$New", "$Assigned-%sbob" % w.support}


def test_state_mode_and_keywords_are_not_state(make_world):
    w = kw_world(make_world, mode="state", after="none")
    q = "<kw-2@customer.example>"
    w.append(mail(w.addr(w.customer), w.addr(w.support), "Invoice wrong", msgid=q))
    w.once()
    n = w.tickets()[0]["number"]
    # "state": no per-ticket keyword; after = none: \Seen stays unset
    assert kws(flags(w, q)) == {"$New"}
    assert "\\Seen" not in flags(w, q)
    # a human (or a hostile client) sets other keywords and removes ours:
    # the ticket does not change, and tickd does not fight back until the
    # ticket changes again
    m = imapbox.connect(w.support)
    try:
        m.select("INBOX")
        m.uid("STORE", "1:*", "+FLAGS", "($Resolved $Ticket9999)")
        m.uid("STORE", "1:*", "-FLAGS", "($New)")
    finally:
        m.logout()
    w.once()
    t = w.ticket(n)
    assert t["status"] == "new" and len(w.tickets()) == 1
    assert kws(flags(w, q)) == {"$Resolved", "$Ticket9999"}
    w.ctl("assign", str(n), w.bob)
    w.once()
    # the next change writes the state again and removes the stale one;
    # what tickd never writes ($Ticket9999 in "state" mode) is left alone
    assert kws(flags(w, q)) == {"$New", "$Assigned-%sbob" % w.support, "$Ticket9999"}


def test_closed_tickets_move_to_a_folder(make_world):
    w = kw_world(make_world, mode="state", imap_extra='keywords = "state"; closed_move_to = "Closed";')
    imapbox.create_mailbox(w.support, "Closed")
    qa, qb = "<kw-ca@customer.example>", "<kw-cb@customer.example>"
    w.append(mail(w.addr(w.customer), w.addr(w.support), "One", msgid=qa))
    w.append(mail(w.addr(w.customer), w.addr(w.support), "Two", msgid=qb))
    w.once()
    a, b = sorted(t["number"] for t in w.tickets())
    w.ctl("close", str(a))
    w.once()
    # the closed ticket's mail is in Closed, with its keywords; the open
    # one's stays; the ticket is what it was
    assert kws(flags(w, qa, "Closed")) == {"$Closed"}
    assert [m for m in imapbox.fetch(w.support) if qa.encode() in m["raw"]] == []
    assert kws(flags(w, qb)) == {"$New"}
    assert w.ticket(a)["status"] == "closed" and w.ticket(b)["status"] == "new"
    assert w.sql("SELECT count(*) FROM imap_copy WHERE ticket_id = %d" % a) == "0"


def test_off_by_default_writes_nothing(make_world):
    w = make_world()
    q = "<kw-3@customer.example>"
    w.append(mail(w.addr(w.customer), w.addr(w.support), "Hello", msgid=q))
    w.once()
    assert kws(flags(w, q)) == set()
    assert w.sql("SELECT count(*) FROM imap_copy") == "0"


def test_hostile_assignee_name_is_an_atom(make_world):
    """An address's local part may hold what IMAP would read as syntax;
    only atom characters reach the wire, at most 32 of them."""
    w = kw_world(make_world, mode="state")
    odd = '"x)(\\\\*y%s"@example.com' % ("z" * 60)
    q = "<kw-4@customer.example>"
    w.append(mail(w.addr(w.customer), w.addr(w.support), "Hi", msgid=q))
    w.once()
    n = w.tickets()[0]["number"]
    w.sql("UPDATE ticket SET assignee = '%s' WHERE id = %d" % (odd.replace("'", "''"), n))
    w.once()
    got = [f for f in kws(flags(w, q)) if f.startswith("$Assigned-")]
    assert len(got) == 1 and re.fullmatch(r"\$Assigned-[a-z0-9._-]{1,32}", got[0]), got
    assert got[0] == "$Assigned-xy" + "z" * 30
