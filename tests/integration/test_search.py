"""Finding things (full-text search, customer history, asking tickd by mail)
on the real servers: mail goes in through `tickctl import` or IMAP, results
are read from tickctl's output and the agents' real mailboxes."""
import json
import re
import subprocess
import uuid

from conftest import TICKD, mail


def mime_with_attachment(frm, to, subject, text, filename):
    b = "b" + uuid.uuid4().hex
    return "\r\n".join([
        "From: %s" % frm, "To: %s" % to, "Subject: %s" % subject,
        "Date: Tue, 24 Nov 2026 10:00:00 +0100",
        "Message-ID: <%s@customer.example>" % uuid.uuid4().hex,
        "MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="%s"' % b, "",
        "--" + b, "Content-Type: text/plain; charset=utf-8", "", text,
        "--" + b, "Content-Type: application/pdf",
        'Content-Disposition: attachment; filename="%s"' % filename,
        "Content-Transfer-Encoding: base64", "", "JVBERi0xLjQK", "--" + b + "--", ""])


def imp(w, raw, queue=None):
    args = ["import"] + (["--queue", queue] if queue else [])
    w.ctl(*args, input=raw.encode())


def search(w, *args):
    return json.loads(w.ctl("search", *args, "--json").stdout)


def de_world(world):
    with open(world.conf, "a") as f:
        f.write("""
queues = (
  { name = "support"; subject_tag = "Support"; language = "en"; },
  { name = "buchhaltung"; user = "%s"; subject_tag = "Buchhaltung"; language = "de"; }
);
""" % ("bh" + uuid.uuid4().hex[:8]))


def test_search_words_stems_attachments_not_quotes(world):
    de_world(world)
    sup = world.addr(world.support)
    cust, other = world.addr(world.customer), world.addr(world.customer + "o")
    imp(world, mail(cust, sup, "Printer trouble",
                    body="The flux capacitor of my printer is smoking.\n\n"
                         "On Monday someone wrote:\n> the zanzibar gateway was fine\n> yesterday\n"))
    imp(world, mail(other, sup, "Invoice wrong",
                    body="Your invoices for March double-count the capacitor.\n"))
    imp(world, mime_with_attachment(other, sup, "See scan", "Attached, as asked.\n",
                                    "quartalsbericht-2026.pdf"))
    imp(world, mail(cust, sup, "Rechnung falsch",
                    body="Die Rechnungen vom März sind doppelt gebucht.\n"), queue="buchhaltung")
    by_subject = {t["subject"]: t["number"] for t in world.tickets()}

    # a word of the customer's own text, ranked: a subject hit beats a body hit
    hits = search(world, "capacitor")
    assert [h["ticket"] for h in hits] == [by_subject["Printer trouble"], by_subject["Invoice wrong"]] \
        or [h["ticket"] for h in hits] == [by_subject["Invoice wrong"], by_subject["Printer trouble"]]
    assert all("[capacitor]" in h["snippet"] for h in hits), hits
    assert hits[0]["rank"] >= hits[1]["rank"]
    hits = search(world, "printer capacitor")
    assert [h["ticket"] for h in hits] == [by_subject["Printer trouble"]]
    # English stemming and prefix, a phrase
    assert [h["ticket"] for h in search(world, "invoice")] == [by_subject["Invoice wrong"]]
    assert [h["ticket"] for h in search(world, "invoic*")] == [by_subject["Invoice wrong"]]
    assert [h["ticket"] for h in search(world, '"flux capacitor"')] == [by_subject["Printer trouble"]]
    assert search(world, '"capacitor flux"') == []
    # a German word form in the German queue: Rechnungen / Rechnung, gebucht / buchen
    hits = search(world, "rechnungen")
    assert [h["ticket"] for h in hits] == [by_subject["Rechnung falsch"]]
    assert "[Rechnung]" in hits[0]["snippet"] and "[Rechnungen]" in hits[0]["snippet"]
    assert [h["ticket"] for h in search(world, "Rechnung", "--queue", "buchhaltung")] \
        == [by_subject["Rechnung falsch"]]
    assert search(world, "Rechnung", "--queue", "support") == []
    # an attachment name, whole or by a part of it
    assert [h["ticket"] for h in search(world, "quartalsbericht")] == [by_subject["See scan"]]
    assert [h["ticket"] for h in search(world, "quartalsbericht-2026.pdf")] == [by_subject["See scan"]]
    # an address
    assert {h["ticket"] for h in search(world, other)} == {by_subject["Invoice wrong"],
                                                          by_subject["See scan"]}
    # a word only in quoted history is not found
    assert search(world, "zanzibar") == []
    # filters
    assert search(world, "capacitor", "--status", "closed") == []
    assert len(search(world, "capacitor", "--from", "2000-01-01", "--to", "2999-01-01")) == 2
    assert search(world, "capacitor", "--to", "2000-01-01") == []
    # the table
    out = world.ctl("search", "flux").stdout.decode()
    assert out.splitlines()[0].split()[:3] == ["TICKET", "QUEUE", "STATUS"]
    assert "[flux]" in out


def test_kept_mail_is_findable(world):
    sup = world.addr(world.support)
    bounce = "\r\n".join([
        "From: MAILER-DAEMON@mx.example.net", "To: %s" % sup,
        "Subject: Undelivered Mail Returned to Sender",
        "Message-ID: <%s@mx.example.net>" % uuid.uuid4().hex,
        "Auto-Submitted: auto-replied", "Content-Type: text/plain", "",
        "This is the mail system. Your message to nobody@nowhere.example could not be"
        " delivered: mailbox unavailable.", ""])
    imp(world, bounce)
    assert world.tickets() == []
    kept = search(world, "--kept")
    assert len(kept) == 1 and kept[0]["from"] == "mailer-daemon@mx.example.net"
    hits = search(world, "--kept", "unavailable")
    assert [h["message"] for h in hits] == [kept[0]["message"]]
    assert "[unavailable]" in hits[0]["snippet"]
    # ticket search does not list mail without a ticket
    assert search(world, "unavailable") == []


def test_requester_history(world):
    sup = world.addr(world.support)
    cust, colleague = world.addr(world.customer), world.addr(world.customer + "col")
    stranger = "someone@elsewhere.example"
    for frm, subj in ((cust, "one"), (colleague, "two"), (stranger, "three"), (cust, "four")):
        imp(world, mail(frm, sup, subj))
    n = {t["subject"]: t["number"] for t in world.tickets()}
    rows = json.loads(world.ctl("tickets", "--requester", cust.upper(), "--json").stdout)
    assert [r["number"] for r in rows] == [n["one"], n["four"]]
    rows = json.loads(world.ctl("tickets", "--requester", "@" + world.domain, "--json").stdout)
    assert [r["number"] for r in rows] == [n["one"], n["two"], n["four"]]
    assert "no tickets" in world.ctl("tickets", "--requester", "@nowhere.example").stdout.decode()
    # the ticket view: the earlier ticket, its status and CSAT
    world.ctl("close", str(n["one"]))
    world.sql("INSERT INTO csat_rating (ticket_id, rating) VALUES (%d, 'bad')" % n["one"])
    h = world.ticket(n["four"])["history"]
    assert h["line"] == "1 earlier ticket (last: #%d, closed, CSAT bad)" % n["one"]
    assert h["earlier"] == 1 and h["last"] == n["one"]
    assert world.ticket(n["one"])["history"] is None
    assert "1 earlier ticket (last: #%d" % n["one"] in world.ctl("ticket", str(n["four"])).stdout.decode()


# -- asking tickd by mail ------------------------------------------------------

def test_agent_show_gets_transcript_stranger_gets_nothing(make_world):
    from conftest import imapbox
    from test_agents import AUTH, agents_world, open_ticket
    w = agents_world(make_world)
    cust = w.addr(w.customer)
    n, ack = open_ticket(w, subject="Printer on fire",
                         msgid="<first@c.example>")
    w.append(mail(cust, w.addr(w.support), "Re: [Example #%d] Printer on fire" % n,
                  body="It is the LaserJet 4000, smoke everywhere.\n",
                  headers=["In-Reply-To: %s" % ack["Message-ID"]]))
    w.once()
    bob_local = w.bob.split("@")[0]
    alice_local = w.alice.split("@")[0]
    before = imapbox.count(bob_local)

    # Bob, authenticated by our MTA, asks about the ticket by its tag
    w.append(mail(w.bob, w.addr(w.support), "[Example #%d] state?" % n,
                  msgid="<bob-show@support.example>", headers=[AUTH], body="#show\n"))
    # a stranger asks the same (and forges nothing)
    stranger = w.addr(w.customer + "evil")
    w.append(mail(stranger, w.addr(w.support), "[Example #%d] state?" % n,
                  msgid="<evil-show@x.example>", body="#show %d\n" % n))
    # Alice's From without our MTA's pass is a stranger's too
    w.append(mail(w.alice, w.addr(w.support), "[Example #%d] state?" % n,
                  msgid="<alice-forged@x.example>", body="#show\n"))
    w.once()

    got = [m for m in w.inbox(bob_local)][before:]
    assert len(got) == 1, [m["Subject"] for m in got]
    a = got[0]
    assert a["Subject"] == "[Example #%d] Answer: [Example #%d] state?" % (n, n)
    assert a["Auto-Submitted"] == "auto-replied" and a["X-Auto-Response-Suppress"] == "All"
    assert a["In-Reply-To"] == "<bob-show@support.example>"
    text = a.get_body(preferencelist=("plain",)).get_content()
    assert "Ticket #%d: Printer on fire" % n in text
    assert "Status:   new" in text and "Customer: %s" % cust in text
    assert "LaserJet 4000, smoke everywhere" in text and "please help" in text
    # nothing for the stranger, nothing for forged Alice, nothing new for the customer
    assert imapbox.count(stranger.split("@")[0]) == 0
    assert imapbox.count(alice_local) == 0
    assert imapbox.count(w.customer) == 1  # the acknowledgement only
    t = w.ticket(n)
    assert t["status"] == "new" and t["first_response_at"] is None
    # the questions are not messages of the ticket, and opened no ticket
    assert len([m for m in t["messages"] if m["direction"] == "in"]) == 2
    assert len(w.tickets()) == 1
    ev = [(e["actor"], e["action"], e["detail"]) for e in t["events"]]
    assert (w.bob, "answered", "#show by mail") in ev
    assert (stranger, "command-ignored", "#show %d: sender is not an agent" % n) in ev
    assert (w.alice, "command-ignored", "#show: agent From not authenticated") in ev
    # the question mails are kept, findable as mail without a ticket
    kept = json.loads(w.ctl("search", "--kept", "--json").stdout)
    assert len(kept) == 3


def test_agent_search_and_list_by_mail(make_world):
    from conftest import imapbox
    from test_agents import AUTH, agents_world, open_ticket
    w = agents_world(make_world)
    n1, _ = open_ticket(w, subject="Invoice for March is wrong")
    n2, _ = open_ticket(w, subject="Printer on fire")
    w.ctl("assign", str(n2), w.bob)
    bob_local = w.bob.split("@")[0]
    w.append(mail(w.bob, w.addr(w.support), "questions", msgid="<bob-q@support.example>",
                  headers=[AUTH], body="#search invoic*\n#list mine\n#list queue nosuch\n"))
    w.once()
    (a,) = w.inbox(bob_local)
    assert a["Subject"] == "Answer: questions"
    text = a.get_body(preferencelist=("plain",)).get_content()
    lines = [l for l in text.splitlines() if l.startswith("#")]
    assert lines[0].startswith("#%d  new  " % n1) and "Invoice for March" in lines[0]
    assert lines[1].startswith("#%d  new  normal  " % n2) and "Printer on fire" in lines[1]
    assert len(lines) == 2 and "No tickets." in text
    assert len(w.tickets()) == 2


def test_escalation_notice_shows_earlier_tickets(make_world):
    from test_sla import box, people, sla_conf
    w = make_world()
    pp, a = people(w, ("lead", "agent"), ("boss", "manager"))
    w.write_conf(people=pp, extra=sla_conf([(0, [a["lead"]]), (60, [a["boss"]])],
                                           first_response=60))
    cust = w.addr(w.customer)
    imp(w, mail(cust, w.addr(w.support), "Invoice 2026-100 is wrong"))
    imp(w, mail(cust, w.addr(w.support), "Invoice 2026-101 is wrong"))
    first, second = sorted(t["number"] for t in w.tickets())
    w.ctl("close", str(second))
    w.sql("INSERT INTO csat_rating (ticket_id, rating) VALUES (%d, 'bad')" % second)
    w.append(mail(cust, w.addr(w.support), "Invoice 2026-114 is wrong",
                  body="Charged twice again. I want to speak to your manager.\n"))
    w.once()
    n = max(t["number"] for t in w.tickets())
    (m,) = box(w, a["boss"])
    body = m.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "  History:  2 earlier tickets (last: #%d, closed, CSAT bad)\n" % second in body, body


def test_forget_leaves_nothing_findable(world):
    sup = world.addr(world.support)
    cust = world.addr(world.customer)
    imp(world, mail(cust, sup, "Gizmo broken", body="My quuxinator gizmo is broken.\n"))
    assert len(search(world, "quuxinator")) == 1
    assert len(search(world, cust)) == 1
    world.ctl("forget", cust)
    assert search(world, "quuxinator") == []
    assert search(world, "gizmo") == []
    assert search(world, cust) == []


def test_words_with_punctuation_and_their_phrases(world):
    """tickd cuts words itself (src/searchdoc.c) and cuts a query the same
    way: host names, versions, addresses and hyphenated words are found
    whole, as phrases, and by a part; a phrase never spans other words."""
    sup = world.addr(world.support)
    cust = world.addr(world.customer)
    imp(world, mail(cust, sup, "Upgrade broke the e-mail relay",
                    body="Since the upgrade to 5.0.2 the host db-01.example.net "
                         "refuses mail from ops@example.org, don't know why.\n"))
    for q in ("db-01.example.net", '"upgrade to 5.0.2"', "5.0.2", "e-mail",
              "ops@example.org", "example", '"e mail relay"'):
        assert len(search(world, q)) == 1, q
    # stop words are nobody's search ("don't": don, t), as in to_tsvector
    for q in ('"upgrade to 5.0.3"', '"db-01.example.org"', '"relay upgrade"',
              "don't"):
        assert search(world, q) == [], q
    # a row indexed before 023, by PostgreSQL's own parser (014), is
    # found by the same words: the words as typed are asked too
    world.sql("UPDATE message_search SET doc = tickd_search_doc(cfg, message_id)")
    for q in ("db-01.example.net", '"upgrade to 5.0.2"', "ops@example.org", "e-mail",
              "refuses"):
        assert len(search(world, q)) == 1, q


# a statement-level trigger of the test: how many index rows each INSERT
# into message_search wrote
STMT_LOG = ("CREATE TABLE stmt_log (id serial, n int); "
            "CREATE FUNCTION stmt_log() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "INSERT INTO stmt_log (n) SELECT count(*) FROM new_rows; RETURN NULL; END $$; "
            "CREATE TRIGGER stmt_log AFTER INSERT ON message_search REFERENCING NEW TABLE "
            "AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION stmt_log()")


def test_a_batch_writes_its_index_rows_at_once_and_a_search_in_it_sees_them(make_world):
    """A fetch batch keeps its mails' index rows and writes them in one
    statement before COMMIT (store_search_flush); an agent's #search in the
    same batch still finds the mails fetched before it in that batch."""
    from conftest import imapbox
    from test_agents import AUTH, agents_world
    w = agents_world(make_world)
    w.sql(STMT_LOG)
    sup = w.addr(w.support)
    words = ["zebracrossing", "quasarlamp", "ottersoap", "walrusglue", "pelicanink",
             "marmotwax", "beaverbolt", "lemurlens"]
    for i, word in enumerate(words):
        w.append(mail(w.addr(w.customer + str(i)), sup, "About the %s" % word,
                      body="My %s broke.\n" % word, msgid="<batch-idx-%d@c.example>" % i))
    w.append(mail(w.bob, sup, "questions", msgid="<bob-idx@support.example>", headers=[AUTH],
                  body="#search ottersoap\n"))
    w.once()
    tickets = {t["subject"]: t["number"] for t in w.tickets()}
    for word in words:
        hits = search(w, word)
        assert [h["ticket"] for h in hits] == [tickets["About the %s" % word]], (word, hits)
    # one statement wrote the batch's rows
    counts = [int(n) for n in w.sql("SELECT n FROM stmt_log ORDER BY id").split()]
    assert sum(counts) == int(w.sql("SELECT count(*) FROM message_search")) == len(words) + 1
    assert max(counts) >= len(words) - 1 and len(counts) <= 3, counts
    # the answer to #search, written inside the batch, names the ticket
    (a,) = [m for m in w.inbox(w.bob.split("@")[0]) if m["Subject"] == "Answer: questions"]
    text = a.get_body(preferencelist=("plain",)).get_content()
    lines = [l for l in text.splitlines() if l.startswith("#")]
    assert len(lines) == 1 and lines[0].startswith("#%d " % tickets["About the ottersoap"]), text
    assert imapbox  # (the agents' mailboxes are real: read above)


def test_an_index_row_the_server_refuses_leaves_its_mail_stored(world):
    """Hostile: a mail whose index row the server refuses (here a trigger of
    the test; in life a document past a tsvector limit) fails the batch's one
    statement.  The rows are then written one by one: that mail stays stored
    on its ticket, acknowledged and counted, with an event saying it cannot
    be found by search, and every other mail of the batch is indexed."""
    w = world
    w.sql("CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN IF NEW.doc::text LIKE "
          "'%poisonword%' THEN RAISE EXCEPTION 'refused for the test'; END IF; RETURN NEW; "
          "END $$ LANGUAGE plpgsql; CREATE TRIGGER refuse BEFORE INSERT ON message_search "
          "FOR EACH ROW EXECUTE FUNCTION refuse()")
    sup = w.addr(w.support)
    for i in range(6):
        w.append(mail(w.addr(w.customer + str(i)), sup, "Case %d" % i,
                      body=("the poisonword is here\n" if i == 3 else "plain words %d\n" % i),
                      msgid="<refuse-%d@c.example>" % i))
    p = w.once()
    err = p.stderr.decode()
    assert re.search(r"store: a message_search row \(ticket \d+, message \d+\) was left out: "
                     r"[^\n]*refused for the test", err), err[-3000:]
    assert len(w.tickets()) == 6
    assert w.sql("SELECT count(*) FROM message WHERE direction = 'in'") == "6"
    assert w.sql("SELECT count(*) FROM message_search") == "5"
    assert w.sql("SELECT count(*) FROM quarantine") == "0"
    assert w.sql("SELECT last_uid FROM mailbox_state") == "6"
    (ev,) = w.sql("SELECT m.message_id || '|' || e.detail FROM event e JOIN message m ON "
                  "m.id = e.message_id WHERE e.action = 'search-skipped'").splitlines()
    assert ev.startswith("refuse-3@c.example|") and "refused for the test" in ev, ev
    assert sorted(h["subject"] for h in search(w, "plain")) == ["Case %d" % i for i in (0, 1, 2, 4, 5)]
    assert search(w, "poisonword") == []
    assert json.loads(w.ctl("status", "--json").stdout)["rows_left_out"]["count"] == 1
    acks = sum(len(w.inbox(w.customer + str(i))) for i in range(6))
    assert acks == 6


def _search_batch(w, words, agent_subject, agent_body):
    """words: one customer mail each, then an agent's mail, all in one
    fetch batch."""
    from test_agents import AUTH
    sup = w.addr(w.support)
    for i, word in enumerate(words):
        w.append(mail(w.addr(w.customer + str(i)), sup, "About the %s" % word,
                      body="My %s broke.\n" % word, msgid="<sb-%d@c.example>" % i))
    w.append(mail(w.bob, sup, agent_subject, msgid="<bob-sb@support.example>",
                  headers=[AUTH], body=agent_body))


def test_a_mail_undone_after_a_search_takes_back_only_its_own_rows(make_world):
    """The agent's #search makes the batch write its kept rows inside the
    agent's mail's savepoint; that mail then fails for good (its answer's
    outbox row is refused by a trigger of the test) and is undone, which
    undoes those rows on the server too: they are kept again and written
    at the batch's end.  Every customer mail stays findable; the agent's
    mail is quarantined."""
    from test_agents import agents_world
    w = agents_world(make_world)
    w.sql("CREATE FUNCTION poison() RETURNS trigger AS $$ BEGIN IF position("
          "'Answer: poison' in convert_from(NEW.data, 'UTF8')) > 0 THEN RAISE EXCEPTION "
          "'poisoned for the test'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql; "
          "CREATE TRIGGER poison BEFORE INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION poison()")
    words = ["zebracrossing", "quasarlamp", "ottersoap", "walrusglue", "pelicanink"]
    _search_batch(w, words, "poison questions", "#search ottersoap\n")
    p = w.once()
    assert b"poisoned for the test" in p.stderr
    tickets = {t["subject"]: t["number"] for t in w.tickets()}
    for word in words:
        assert [h["ticket"] for h in search(w, word)] == [tickets["About the %s" % word]], word
    assert w.sql("SELECT count(*) FROM message_search") == str(len(words))
    assert w.sql("SELECT count(*) FROM participant") == str(len(words))
    assert w.sql("SELECT count(*) FROM quarantine WHERE error LIKE '%poisoned for the test%'") == "1"
    assert w.sql("SELECT count(*) FROM message WHERE message_id = 'bob-sb@support.example'") == "0"
    assert w.sql("SELECT count(*) FROM event WHERE action IN ('search-skipped', "
                 "'participant-skipped')") == "0"


def test_a_refused_row_met_by_a_search_in_the_batch_costs_a_retry_not_a_mail(make_world):
    """The #search of an agent's mail makes the batch write its kept rows,
    and the server refuses one of them (a customer's index row, a trigger of
    the test).  That is not the agent's mail's fault: it is fetched again
    (not quarantined), the batch's end leaves the refused row out, and the
    next poll answers the agent."""
    from test_agents import agents_world
    w = agents_world(make_world)
    w.sql("CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN IF NEW.doc::text LIKE "
          "'%quasarlamp%' THEN RAISE EXCEPTION 'refused for the test'; END IF; RETURN NEW; "
          "END $$ LANGUAGE plpgsql; CREATE TRIGGER refuse BEFORE INSERT ON message_search "
          "FOR EACH ROW EXECUTE FUNCTION refuse()")
    words = ["zebracrossing", "quasarlamp", "ottersoap"]
    _search_batch(w, words, "questions", "#search ottersoap\n")
    p = subprocess.run([TICKD, "-c", w.conf, "--once"], capture_output=True, timeout=120)
    err = p.stderr.decode()
    assert p.returncode in (0, 75), err[-2000:]
    assert "refused for the test" in err and "was left out" in err, err[-3000:]
    assert w.sql("SELECT count(*) FROM quarantine") == "0"
    w.once()
    tickets = {t["subject"]: t["number"] for t in w.tickets()}
    assert len(tickets) == 3
    assert search(w, "quasarlamp") == []
    assert [h["ticket"] for h in search(w, "ottersoap")] == [tickets["About the ottersoap"]]
    assert w.sql("SELECT count(*) FROM quarantine") == "0"
    (a,) = [m for m in w.inbox(w.bob.split("@")[0]) if m["Subject"] == "Answer: questions"]
    text = a.get_body(preferencelist=("plain",)).get_content()
    assert ("#%d " % tickets["About the ottersoap"]) in text, text
    assert w.sql("SELECT count(*) FROM event WHERE action = 'search-skipped'") == "1"
