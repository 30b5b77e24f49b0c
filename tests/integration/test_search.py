"""Finding things (full-text search, customer history, asking tickd by mail)
on the real servers: mail goes in through `tickctl import` or IMAP, results
are read from tickctl's output and the agents' real mailboxes."""
import json
import uuid

from conftest import mail


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
