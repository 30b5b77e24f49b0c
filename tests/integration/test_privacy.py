"""On real servers: `tickctl forget` (erasure), `tickctl export`
(access) and retention (`tickctl purge` and tickd's daily job).  The
erasure test greps a full pg_dump of the test database."""
import email.utils
import json
import os
import subprocess
import time
import uuid

from conftest import mail

PG_DUMP = "/usr/lib/postgresql/15/bin/pg_dump"


def pg_dump(world):
    p = subprocess.run([PG_DUMP, "-h", world.stack["PGHOST"], "-p", world.stack["PGPORT"],
                        "-U", world.stack["PGUSER"], world.db], capture_output=True, check=True)
    return p.stdout.decode("utf-8", "replace")


def with_attachment(frm, to, subject, text, fname, data):
    b = "b" + uuid.uuid4().hex
    return "\r\n".join([
        "From: %s" % frm, "To: %s" % to, "Subject: %s" % subject,
        "Date: %s" % email.utils.formatdate(),
        "Message-ID: <%s@customer.example>" % uuid.uuid4().hex,
        "MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="%s"' % b, "",
        "--" + b, "Content-Type: text/plain; charset=utf-8", "", text,
        "--" + b, "Content-Type: application/octet-stream",
        'Content-Disposition: attachment; filename="%s"' % fname, "", data,
        "--" + b + "--", ""])


def test_forget_erases_one_person_everywhere(make_world):
    world = make_world(people='{ address = "alice.agent@example.com"; name = "Alice Agent"; }',
                       extra='agents: { authserv_id = "mx.example.com"; };')
    local = "erika" + uuid.uuid4().hex[:8]
    erika = world.addr(local)
    name_first, name_last = "Erika", "Mustermann%s" % uuid.uuid4().hex[:4]
    secret = "SECRET%s" % uuid.uuid4().hex[:10]
    other = world.addr("otto" + uuid.uuid4().hex[:8])
    frm = '"%s %s" <%s>' % (name_first, name_last, erika)
    support = world.addr(world.support)

    world.append(mail(frm, support, "Invoice %s wrong" % secret,
                      body="My IBAN is %s-1, %s %s\n" % (secret, name_first, name_last)))
    world.append(with_attachment(frm, support, "Second %s" % secret, "see scan %s-2" % secret,
                                 "scan-%s.pdf" % secret, "%s-attachment" % secret))
    world.append(mail(frm, support, "Third question", body="Call me at %s-3.\n" % secret))
    # another customer's ticket, with Erika on Cc and her name in the text
    world.append(mail('"Otto Other" <%s>' % other, support, "Otto's printer jam",
                      body="Printer jams. My colleague %s %s knows.\n" % (name_first, name_last),
                      headers=["Cc: %s" % frm]))
    world.once()
    tickets = {t["subject"]: t for t in world.tickets()}
    assert len(tickets) == 4
    first = tickets["Invoice %s wrong" % secret]["number"]
    # an agent answers her first ticket, quoting her
    world.append(mail('"Alice Agent" <alice.agent@example.com>', erika,
                      "Re: [Example #%d] Invoice %s wrong" % (first, secret),
                      body="Dear %s,\n> My IBAN is %s-1\nfixed.\n" % (name_first, secret),
                      headers=["Cc: %s" % support,
                               "Authentication-Results: mx.example.com; dmarc=pass "
                               "header.from=example.com"]))
    world.once()
    world.sql("INSERT INTO suppression (addr, reason, until) VALUES ('%s', 'bounce', now() + "
              "interval '1 day')" % erika)
    world.ctl("close", str(first))
    # her rating of an earlier resolution, with a comment in her words
    world.sql("INSERT INTO csat_rating (ticket_id, rating, comment, from_addr) VALUES "
              "(%d, 'bad', 'Rated by %s: %s-4', '%s')" % (first, name_last, secret, erika))
    # a mail of hers that tickd could not store, kept for review (011)
    world.sql("INSERT INTO quarantine (mailbox, source, raw_sha256, error, size, raw) VALUES "
              "('support:INBOX', 'support:INBOX', 'x', 'test', 60, convert_to('From: %s\r\n"
              "Subject: %s-5\r\n\r\nhi\r\n', 'UTF8'))" % (erika.upper(), secret))
    world.sql("INSERT INTO quarantine (mailbox, source, raw_sha256, error, size, raw) VALUES "
              "('support:INBOX', 'support:INBOX', 'y', 'test', 9, 'someone else'::bytea)")
    dump = pg_dump(world)
    assert erika in dump and secret in dump and name_last in dump  # the test can see them

    # access: the export has her tickets, mails and raw .eml files
    out = os.path.join(world.dir, "export")
    world.ctl("export", erika, "-o", out)
    data = json.load(open(os.path.join(out, "data.json")))
    assert data["address"] == erika
    assert sorted(t["id"] for t in data["tickets"]) == sorted(
        tickets[s]["number"] for s in tickets)  # 3 own + Otto's (she was on Cc)
    texts = "\n".join(m["text"] for m in data["messages"])
    assert "%s-1" % secret in texts and "%s-3" % secret in texts
    assert any(a["filename"] == "scan-%s.pdf" % secret for m in data["messages"]
               for a in m["attachments"])
    emls = [f for f in os.listdir(out) if f.endswith(".eml")]
    assert len(emls) >= 5, emls  # 3 mails, Otto's (Cc), the agent's reply, acks
    assert oct(os.stat(os.path.join(out, "data.json")).st_mode & 0o777) == "0o600"
    js = json.loads(world.ctl("export", erika).stdout)
    assert len(js["tickets"]) == 4
    assert [q["error"] for q in js["quarantined"]] == ["test"]  # hers only
    assert [r["comment"] for r in js["ratings"]] == ["Rated by %s: %s-4" % (name_last, secret)]

    p = world.ctl("forget", erika)
    assert b"erased" in p.stdout
    assert world.sql("SELECT count(*) FROM quarantine") == "1"  # someone else's stays

    dump = pg_dump(world)
    low = dump.lower()
    for needle in (erika, local, name_last, secret):
        assert needle.lower() not in low, needle
        # bytea columns are dumped as hex
        assert needle.encode().hex() not in low, needle
    # the numbers stay: four tickets, her three anonymised, statuses kept
    assert world.sql("SELECT count(*) FROM ticket") == "4"
    assert world.sql("SELECT count(*) FROM ticket WHERE erased_at IS NOT NULL") == "3"
    assert world.sql("SELECT status FROM ticket WHERE id = %d" % first) == "closed"
    assert world.sql("SELECT count(*) FROM message WHERE ticket_id = %d" % first) == "3"  # mail, ack, reply
    assert len(world.tickets()) == 4
    # one audit record that an erasure happened, without the address
    ev = world.sql("SELECT actor || '|' || detail FROM event WHERE action = 'erasure'")
    assert ev.count("\n") == 0 and "erasure" not in ev.split("|")[0] and erika not in ev
    assert ev.startswith("tickctl")
    # Otto's ticket is intact apart from her
    otto = world.ticket(tickets["Otto's printer jam"]["number"])
    assert otto["subject"] == "Otto's printer jam"
    assert otto["requester"] == other
    body = world.sql("SELECT body_text FROM message WHERE from_addr = '%s'" % other)
    assert body.startswith("Printer jams. My colleague [erased] knows."), body
    assert world.sql("SELECT count(*) FROM participant WHERE addr = '%s'" % other) == "1"
    # and the export of the address finds nothing any more
    js = json.loads(world.ctl("export", erika).stdout)
    assert js["tickets"] == [] and js["messages"] == [] and js["ratings"] == []
    # the rating still counts in reports, without her words
    assert world.sql("SELECT rating || '|' || coalesce(comment, '-') FROM csat_rating") == "bad|-"


def test_forget_cuts_whole_words_only(world):
    """Her address and name go from other people's mails; an address or a
    word that merely contains them stays."""
    ann = world.addr("ann")
    world.ctl("import", input=mail('"Ann Lee" <%s>' % ann, world.addr(world.support), "Hi").encode())
    bob = world.addr("bob" + uuid.uuid4().hex[:6])
    text = ("Ann Lee said: write to %s, not max.%s or %s.au.\n"
            "Annual report by Ann Leeward.\n" % (ann, ann, ann))
    world.ctl("import", input=mail(bob, world.addr(world.support), "Report", body=text).encode())
    world.ctl("forget", ann)
    body = world.sql("SELECT body_text FROM message WHERE from_addr = '%s'" % bob)
    assert body == ("[erased] said: write to [erased], not max.%s or %s.au.\n"
                    "Annual report by Ann Leeward." % (ann, ann)), body  # sql() strips


def test_forget_uses_only_names_the_person_gave_themselves(world):
    """A name someone else wrote beside her address (Cc: "Hello" <her>) is
    not hers: forgetting her must not erase every "hello"; the name in the
    From of her own mail is hers and goes."""
    sup = world.addr(world.support)
    vic = world.addr("vic" + uuid.uuid4().hex[:6])
    eve = world.addr("eve" + uuid.uuid4().hex[:6])
    carl = world.addr("carl" + uuid.uuid4().hex[:6])
    world.ctl("import", input=mail('"Eve" <%s>' % eve, sup, "Poison",
                                   headers=['Cc: "Hello" <%s>, "Help Desk" <%s>' % (vic, vic)],
                                   body="nothing\n").encode())
    world.ctl("import", input=mail('"Victoria Quill" <%s>' % vic, sup, "My order").encode())
    text = "Hello, the Help Desk knows. Victoria Quill too.\n"
    world.ctl("import", input=mail(carl, sup, "Hello there", body=text).encode())
    world.ctl("forget", vic)
    body = world.sql("SELECT body_text FROM message WHERE from_addr = '%s'" % carl)
    assert body == "Hello, the Help Desk knows. [erased] too.", body
    assert world.sql("SELECT subject FROM ticket WHERE requester = '%s'" % carl) == "Hello there"
    # her address is gone from Eve's mail; Eve's own name stays
    assert world.sql("SELECT coalesce(cc_addrs, '-') || '|' || from_name FROM message "
                     "WHERE from_addr = '%s'" % eve) == "-|Eve"
    assert world.sql("SELECT count(*) FROM participant WHERE addr = '%s'" % vic) == "0"


def test_forget_refuses_agents_and_bad_addresses(make_world):
    world = make_world(people='{ address = "alice.agent@example.com"; name = "Alice"; }')
    assert world.ctl("forget", "alice.agent@example.com", check=False).returncode == 65
    assert world.ctl("forget", "not-an-address", check=False).returncode == 64


def make_ticket(world, who, subject, attach=False):
    frm = world.addr(who)
    if attach:
        world.append(with_attachment(frm, world.addr(world.support), subject, "text of " + subject,
                                     "f.bin", "payload"))
    else:
        world.append(mail(frm, world.addr(world.support), subject, body="text of %s\n" % subject))


def test_purge_removes_only_tickets_closed_longer_than_retention(world):
    with open(world.conf, "a") as f:
        f.write('queues = ( { name = "support"; retention_days = 30; } );\n')
    subjects = ["old closed", "recent closed", "old open", "old resolved", "old other queue"]
    for i, s in enumerate(subjects):
        make_ticket(world, "pc%d%s" % (i, uuid.uuid4().hex[:6]), s, attach=(i == 0))
    world.once()
    ids = {t["subject"]: t["number"] for t in world.tickets()}
    assert len(ids) == 5
    sq = world.sql

    def age(subject, status, days, queue="support"):
        sq("UPDATE ticket SET status = '%s', queue = '%s', created = now() - interval '%d days', "
           "closed_at = CASE WHEN '%s' = 'closed' THEN now() - interval '%d days' END, "
           "resolved_at = now() - interval '%d days' WHERE id = %d"
           % (status, queue, days + 1, status, days, days, ids[subject]))
    age("old closed", "closed", 31)
    age("recent closed", "closed", 29)
    age("old open", "open", 100)
    age("old resolved", "resolved", 100)
    age("old other queue", "closed", 100, queue="billing")
    old = ids["old closed"]
    before = {t: sq("SELECT md5(string_agg(coalesce(body_text, '') || coalesce(encode(raw, 'hex'), ''),"
                    " ',' ORDER BY id)) FROM message WHERE ticket_id = %d" % ids[t]) for t in ids}
    assert sq("SELECT count(*) FROM attachment a JOIN message m ON m.id = a.message_id "
              "WHERE m.ticket_id = %d" % old) == "1"

    # quarantined mail of the queue: the old one goes, the recent one and
    # another queue's stay
    for key, days in (("q-old", 31), ("q-new", 29), ("q-billing", 100)):
        sq("INSERT INTO quarantine (mailbox, source, raw_sha256, error, size, raw, received) "
           "VALUES ('%s:INBOX', 'x', '%s', 'test', 1, 'x'::bytea, now() - interval '%d days')"
           % ("billing" if key == "q-billing" else "support", key, days))

    out = json.loads(world.ctl("purge", "--json").stdout)
    assert sq("SELECT string_agg(raw_sha256, ',' ORDER BY raw_sha256) FROM quarantine") \
        == "q-billing,q-new"
    assert len(out) == 1 and out[0]["queue"] == "support" and out[0]["quarantined"] == 1
    assert out[0]["ids"] == [old] and out[0]["tickets"] == 1
    assert out[0]["messages"] == 2 and out[0]["attachments"] == 1 and out[0]["bytes"] > 0

    # the purged ticket: no text, raw bytes, attachments or people left
    assert sq("SELECT count(*) FROM message WHERE ticket_id = %d AND (raw IS NOT NULL OR "
              "body_text <> '' OR from_addr IS NOT NULL)" % old) == "0"
    assert sq("SELECT count(*) FROM attachment a JOIN message m ON m.id = a.message_id "
              "WHERE m.ticket_id = %d" % old) == "0"
    assert sq("SELECT count(*) FROM participant WHERE ticket_id = %d" % old) == "0"
    # ... but its numbers for reports
    row = sq("SELECT status, queue, priority, created < now(), closed_at IS NOT NULL, "
             "requester, purged_at IS NOT NULL, (SELECT count(*) FROM message WHERE ticket_id = "
             "%d) FROM ticket WHERE id = %d" % (old, old))
    assert row == "closed|support|normal|t|t|purged@invalid|t|2", row
    assert sq("SELECT count(*) FROM event WHERE ticket_id = %d AND action = 'purged'" % old) == "1"
    # nothing else changed
    for t in ids:
        if t != "old closed":
            after = sq("SELECT md5(string_agg(coalesce(body_text, '') || coalesce(encode(raw, "
                       "'hex'), ''), ',' ORDER BY id)) FROM message WHERE ticket_id = %d" % ids[t])
            assert after == before[t], t
    assert sq("SELECT count(*) FROM ticket WHERE purged_at IS NOT NULL") == "1"
    # a second run finds nothing
    again = json.loads(world.ctl("purge", "--json").stdout)
    assert again[0]["tickets"] == 0

    # tickd's daily job does the same on start
    age("recent closed", "closed", 40)
    d = world.start()
    try:
        end = time.time() + 30
        while time.time() < end and sq("SELECT purged_at IS NOT NULL FROM ticket WHERE id = %d"
                                       % ids["recent closed"]) != "t":
            time.sleep(0.5)
    finally:
        d.terminate()
        d.wait(timeout=30)
    assert sq("SELECT purged_at IS NOT NULL FROM ticket WHERE id = %d" % ids["recent closed"]) == "t"
    log = open(os.path.join(world.dir, "tickd.log")).read()
    assert "retention purge of queue 'support' (30 days)" in log
    assert sq("SELECT count(*) FROM ticket WHERE purged_at IS NOT NULL") == "2"
