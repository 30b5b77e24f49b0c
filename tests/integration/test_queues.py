"""On real servers: several mailboxes (queues) in one tickd, each
with its own tag, From address and template set; the acknowledgement in
the customer's language; a queue with a wrong password does not stop the
others and shows up in `tickctl status`; template errors are
--check-config errors with file:line."""
import os
import re
import shutil
import subprocess
import time
import uuid

import pytest

from conftest import ROOT, TICKD, mail

TEMPLATES = os.path.join(ROOT, "conf", "templates")

BILLING_EN = """Subject: {{tag}} Billing: {{subject}}

Dear {{customer_name|customer}},

the billing team has your message as ticket #{{ticket}} ({{queue}}).
"""

BILLING_DE = """Subject: {{tag}} Buchhaltung: {{subject}}

Sehr geehrte/r {{customer_name|Kundin, Kunde}},

die Buchhaltung hat Ihre Nachricht als Ticket #{{ticket}} erfasst.
"""


def setup_queues(world, billing_password_ok=True, billing_template_de=BILLING_DE, extra=""):
    """Two queues on the test Dovecot: the world's support mailbox and a
    billing mailbox, each with its own tag, sender and template set."""
    billing = "bill" + uuid.uuid4().hex[:8]
    tdir = os.path.join(world.dir, "templates")
    shutil.copytree(TEMPLATES, tdir)
    for lang, text in (("en", BILLING_EN), ("de", billing_template_de)):
        os.makedirs(os.path.join(tdir, "billing", lang))
        with open(os.path.join(tdir, "billing", lang, "ack.txt"), "w") as f:
            f.write(text)
    pw = os.path.join(world.dir, "billing-password")
    with open(pw, "w") as f:
        f.write((world.stack["MAIL_PASSWORD"] if billing_password_ok else "wrong-password") + "\n")
    with open(world.conf, "a") as f:
        f.write("""
templates: { dir = "%(tdir)s"; };
queues = (
  { name = "support"; subject_tag = "Support"; template_set = "default"; language = "en"; },
  { name = "billing"; user = "%(billing)s"; password_file = "%(pw)s"; subject_tag = "Billing";
    from = "%(billing)s@example.com"; from_name = "Example Billing"; template_set = "billing";
    language = "en"; retention_days = 30; }%(extra)s
);
""" % dict(tdir=tdir, billing=billing, pw=pw, extra=extra))
    return billing, tdir


def run_once(world):
    p = subprocess.run([TICKD, "-c", world.conf, "--once"], capture_output=True, timeout=300)
    subprocess.run([os.path.join(ROOT, "tests", "stack.sh"), "wait-delivered",
                    world.stack["STACK_DIR"], "60"], check=True, capture_output=True)
    return p


def wait_inbox(world, user, n, timeout=30):
    end = time.time() + timeout
    while True:
        got = world.inbox(user)
        if len(got) >= n or time.time() > end:
            return got
        time.sleep(0.5)


def body(msg):
    part = msg.get_body(preferencelist=("plain",))
    return part.get_content()


def test_two_queues_own_tags_templates_and_languages(world):
    import imapbox
    billing, _ = setup_queues(world)
    en_cust = "en" + uuid.uuid4().hex[:8]
    de_cust = "de" + uuid.uuid4().hex[:8]
    de2_cust = "dx" + uuid.uuid4().hex[:8]
    # English customer writes to support; a German one (Content-Language)
    # to billing; another German one (Accept-Language only) to support
    # (with billing on Cc: another queue's address is ours, not a participant)
    world.append(mail('"Ann English" <%s>' % world.addr(en_cust), world.addr(world.support),
                      "Cannot log in", headers=["Cc: Billing <%s@example.com>" % billing]))
    imapbox.append(billing, "INBOX", mail(
        '"Dieter Deutsch" <%s>' % world.addr(de_cust), "%s@example.com" % billing,
        "Rechnung doppelt", body="Hallo,\nich habe zweimal bezahlt.\n",
        headers=["Content-Language: de-DE"]))
    world.append(mail('"Doris Deutsch" <%s>' % world.addr(de2_cust), world.addr(world.support),
                      "Passwort vergessen", headers=["Accept-Language: de-CH, de;q=0.9, en;q=0.5"]))
    p = run_once(world)
    assert p.returncode == 0, p.stderr.decode()[-2000:]

    tickets = {t["requester"]: t for t in world.tickets()}
    assert tickets[world.addr(en_cust)]["queue"] == "support"
    assert tickets[world.addr(de_cust)]["queue"] == "billing"
    assert tickets[world.addr(de2_cust)]["queue"] == "support"

    parts = [p["addr"] for p in world.ticket(tickets[world.addr(en_cust)]["number"])["participants"]]
    assert parts == [world.addr(en_cust)], parts

    (en_ack,) = wait_inbox(world, en_cust, 1)
    n = tickets[world.addr(en_cust)]["number"]
    assert en_ack["Subject"] == "[Support #%d] Re: Cannot log in" % n
    assert "thank you for writing to us" in body(en_ack)
    assert "Hello Ann English," in body(en_ack)
    assert en_ack["From"].addresses[0].addr_spec == world.addr(world.support)
    assert en_ack["Auto-Submitted"] == "auto-replied"  # RFC 3834 stays in C
    assert en_ack.get_body(preferencelist=("html",)) is not None  # en/ack.html

    (de_ack,) = wait_inbox(world, de_cust, 1)
    m = tickets[world.addr(de_cust)]["number"]
    assert de_ack["Subject"] == "[Billing #%d] Buchhaltung: Rechnung doppelt" % m
    assert "die Buchhaltung hat Ihre Nachricht als Ticket #%d erfasst" % m in body(de_ack)
    assert "Dieter Deutsch" in body(de_ack)
    assert de_ack["From"].addresses[0].addr_spec == "%s@example.com" % billing
    assert de_ack["From"].addresses[0].display_name == "Example Billing"
    assert de_ack["Auto-Submitted"] == "auto-replied"
    assert de_ack["Precedence"] == "bulk"

    (de2_ack,) = wait_inbox(world, de2_cust, 1)
    k = tickets[world.addr(de2_cust)]["number"]
    assert de2_ack["Subject"] == "[Support #%d] Re: Passwort vergessen" % k
    assert "vielen Dank für Ihre Nachricht" in body(de2_ack)

    # a follow-up by the billing customer threads by the billing tag
    imapbox.append(billing, "INBOX", mail(
        '"Dieter Deutsch" <%s>' % world.addr(de_cust), "%s@example.com" % billing,
        "Re: [Billing #%d] Rechnung doppelt" % m, body="Noch etwas.\n"))
    assert run_once(world).returncode == 0
    assert len(world.tickets()) == 3
    assert world.sql("SELECT count(*) FROM message WHERE ticket_id = %d AND direction = 'in'" % m) == "2"


def test_previous_language_wins(world):
    import imapbox
    billing, _ = setup_queues(world)
    cust = "pl" + uuid.uuid4().hex[:8]
    imapbox.append(billing, "INBOX", mail(world.addr(cust), "%s@example.com" % billing,
                                          "Frage 1", headers=["Content-Language: de"]))
    assert run_once(world).returncode == 0
    # second ticket, no language headers: German from the first one
    imapbox.append(billing, "INBOX", mail(world.addr(cust), "%s@example.com" % billing, "Frage 2"))
    assert run_once(world).returncode == 0
    acks = wait_inbox(world, cust, 2)
    assert len(acks) == 2
    assert all("die Buchhaltung" in body(a) for a in acks), [body(a) for a in acks]


def test_wrong_billing_password_does_not_stop_support(world):
    import imapbox
    # billing: wrong password; "down": nothing listens on its port
    billing, _ = setup_queues(world, billing_password_ok=False, extra=(
        ',\n  { name = "down"; url = "imap://127.0.0.1:1"; user = "x"; }'))
    cust = "wp" + uuid.uuid4().hex[:8]
    imapbox.append(billing, "INBOX", mail(world.addr(cust), "%s@example.com" % billing, "stuck"))
    world.append(mail(world.addr(cust), world.addr(world.support), "Support still works"))
    p = run_once(world)
    assert p.returncode == 75, p.stderr.decode()[-2000:]  # EX_TEMPFAIL: billing failed
    tickets = world.tickets()
    assert [t["subject"] for t in tickets] == ["Support still works"]
    assert len(wait_inbox(world, cust, 1)) == 1

    st = world.ctl("status").stdout.decode()
    lines = {l.split()[0]: l for l in st.splitlines()
             if l.startswith(("support:", "billing:", "down:"))}
    assert "billing:INBOX" in lines and "support:INBOX" in lines, st
    assert "Login denied" in lines["billing:INBOX"], st
    assert "AUTHENTICATIONFAILED" in lines["billing:INBOX"], st
    assert "Login denied" not in lines["support:INBOX"], st
    assert "down:INBOX" in lines and "onnect" in lines["down:INBOX"], st
    # the configured queues are listed too
    assert st.startswith("queues:\nQUEUE "), st
    assert re.search(r"^billing +%s +INBOX +Billing +yes +billing/en +30 days$" % billing, st, re.M), st
    assert re.search(r"^support +%s +INBOX +Support +yes +default/en +-$" % world.support, st, re.M), st
    import json
    js = json.loads(world.ctl("status", "--json").stdout)
    boxes = {b["mailbox"]: b for b in js["mailboxes"]}
    assert boxes["billing:INBOX"]["last_error"] and boxes["billing:INBOX"]["failures"] >= 1
    assert boxes["support:INBOX"]["failures"] == 0
    assert boxes["down:INBOX"]["failures"] >= 1

    # the daemon keeps serving support while billing keeps failing
    d = world.start()
    try:
        world.append(mail(world.addr(cust), world.addr(world.support), "Second one"))
        end = time.time() + 30
        while time.time() < end and len(world.tickets()) < 2:
            time.sleep(0.5)
        assert sorted(t["subject"] for t in world.tickets()) == ["Second one", "Support still works"]
        assert d.poll() is None
    finally:
        d.terminate()
        d.wait(timeout=30)
    assert world.sql("SELECT count(*) FROM ticket WHERE queue = 'billing'") == "0"


def test_check_config_reports_template_error_at_file_line(world):
    _, tdir = setup_queues(world, billing_template_de=BILLING_DE.replace(
        "Ticket #{{ticket}}", "Ticket #{{ticket}} für {{kunde}}"))
    p = subprocess.run([TICKD, "--check-config", "-c", world.conf], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode != 0
    where = os.path.join(tdir, "billing", "de", "ack.txt")
    assert "%s:5: unknown variable '{{kunde}}'" % where in p.stderr, p.stderr
    # and tickd refuses to start with it rather than sending empty mail
    p = subprocess.run([TICKD, "-c", world.conf, "--once"], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 78, p.stderr  # EX_CONFIG


def test_check_config_queue_without_ack_template(world):
    _, tdir = setup_queues(world)
    shutil.rmtree(os.path.join(tdir, "billing"))
    p = subprocess.run([TICKD, "--check-config", "-c", world.conf], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode != 0
    assert "queue 'billing': template set 'billing' has no ack.txt" in p.stderr, p.stderr
    assert p.stderr.startswith(world.conf + ":"), p.stderr


def test_single_mailbox_config_still_one_queue(world):
    # no `queues` list, no templates dir: the old keys are one queue named
    # by tickets.queue and the built-in acknowledgement text is used
    cust = "sq" + uuid.uuid4().hex[:8]
    world.append(mail(world.addr(cust), world.addr(world.support), "Old style"))
    world.once()
    (t,) = world.tickets()
    assert t["queue"] == "support"
    (ack,) = wait_inbox(world, cust, 1)
    assert ack["Subject"] == "[Example #%d] Re: Old style" % t["number"]
    assert "thank you for writing to us" in body(ack)


def test_import_into_a_queue(world):
    setup_queues(world)
    cust = "im" + uuid.uuid4().hex[:8]
    raw = mail(world.addr(cust), "billing@example.com", "Piped in",
               headers=["Content-Language: de"]).encode()
    out = world.ctl("import", "--queue", "billing", input=raw).stdout.decode()
    assert "new ticket" in out
    (t,) = world.tickets()
    assert t["queue"] == "billing"
    ack = world.sql("SELECT convert_from(data, 'UTF8') FROM outbox WHERE ticket_id = %d" % t["number"])
    assert "[Billing #%d]" % t["number"] in ack
    assert world.ctl("import", "--queue", "nosuch", input=raw, check=False).returncode == 64
    # without --queue: the first queue
    world.ctl("import", input=mail(world.addr(cust), world.addr(world.support), "Other").encode())
    assert sorted(t["queue"] for t in world.tickets()) == ["billing", "support"]
