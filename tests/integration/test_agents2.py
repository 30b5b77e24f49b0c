"""Agents who work from their own mailbox, the rest of it, on the real
servers: no notice for a thank-you that keeps a ticket resolved, new-ticket
notices only to the team of the ticket's queue, SLA warnings at
warn_percent (time injected with `tickctl tick --at`), IDLE on every
queue's mailbox and on Sent, and a real mail client (s-nail) answering a
notice."""
import datetime
import os
import shutil
import signal
import subprocess
import time
import uuid

from conftest import ROOT, TICKD, imapbox, mail
from test_agents import AUTHSERV, agents_world, open_ticket
from test_queues import setup_queues


def subjects(w, local):
    return [m["Subject"] for m in w.inbox(local)]


def resolve(w, n):
    w.sql("UPDATE ticket SET status = 'resolved', resolved_at = now(), updated = now() "
          "WHERE id = %d" % n)


def check_rfc3834(m):
    assert m["Auto-Submitted"] == "auto-generated"
    assert m["X-Auto-Response-Suppress"] == "All"
    assert m["Precedence"] == "bulk"


# -- a thank-you is not a reopen: the assignee hears nothing --------------------

def test_thank_you_on_resolved_ticket_sends_assignee_no_notice(make_world):
    w = agents_world(make_world)
    cust = w.addr(w.customer)
    a, _ = open_ticket(w, subject="VPN down")
    b, _ = open_ticket(w, subject="Mail down")
    for n in (a, b):
        w.ctl("assign", str(n), w.bob)
        resolve(w, n)
    w.append(mail(cust, w.addr(w.support), "Re: [Example #%d] VPN down" % a,
                  body="Thanks, that fixed it!\n"))
    w.append(mail(cust, w.addr(w.support), "Re: [Example #%d] Mail down" % b,
                  body="Thanks, but it still fails.\n"))
    w.once()
    assert w.ticket(a)["status"] == "resolved"
    assert w.ticket(b)["status"] == "open"
    # one notice, about the reopened ticket only
    assert subjects(w, w.support + "bob") == [
        "[Example #%d] Mail down (the customer wrote again)" % b]


# -- new-ticket notices go to the team of the ticket's queue ----------------------

def test_new_ticket_notice_only_to_people_covering_the_queue(make_world):
    w = make_world()
    bill_agent = w.addr(w.support + "bill")
    sup_agent = w.addr(w.support + "sup")
    default_agent = w.addr(w.support + "dflt")
    w.write_conf(people=", ".join([
        # by team name = queue name
        '{ address = "%s"; name = "Bill"; team = "billing"; notify = [ "new-ticket" ]; }'
        % bill_agent,
        # by an explicit queue list (its team says nothing then)
        '{ address = "%s"; name = "Sue"; team = "L1"; queues = [ "support" ]; '
        'notify = [ "new-ticket" ]; }' % sup_agent,
        # new-ticket is off by default
        '{ address = "%s"; name = "Dee"; }' % default_agent]))
    billing, _ = setup_queues(w)
    cust = w.addr(w.customer)
    imapbox.append(billing, "INBOX", mail(cust, billing + "@example.com", "Invoice wrong"))
    w.append(mail(cust, w.addr(w.support), "Printer broken"))
    w.once()
    by = {t["subject"]: t for t in w.tickets()}
    assert by["Invoice wrong"]["queue"] == "billing" and by["Printer broken"]["queue"] == "support"
    bill = w.inbox(w.support + "bill")
    sup = w.inbox(w.support + "sup")
    assert [m["Subject"] for m in bill] == [
        "[Billing #%d] Invoice wrong (new ticket)" % by["Invoice wrong"]["number"]]
    assert [m["Subject"] for m in sup] == [
        "[Support #%d] Printer broken (new ticket)" % by["Printer broken"]["number"]]
    check_rfc3834(bill[0])
    assert w.inbox(w.support + "dflt") == []


def test_check_config_names_unknown_notify_event(make_world):
    w = make_world()
    w.write_conf(people='{ address = "%s"; notify = [ "sla-warnings" ]; }'
                 % w.addr(w.support + "x"))
    p = subprocess.run([TICKD, "-c", w.conf, "--check-config"], capture_output=True, timeout=60)
    err = (p.stdout + p.stderr).decode()
    assert p.returncode != 0
    assert "unknown event 'sla-warnings'" in err and "sla-warning" in err, err


# -- SLA warnings at warn_percent ----------------------------------------------

SLA = """
calendars = ( { name = "always"; timezone = "UTC";
                hours = { mon = "00:00-24:00"; tue = "00:00-24:00"; wed = "00:00-24:00";
                          thu = "00:00-24:00"; fri = "00:00-24:00"; sat = "00:00-24:00";
                          sun = "00:00-24:00"; }; } );
sla: { policies = ( { calendar = "always"; first_response = 60; next_response = 60;
                      resolution = 6000; warn_percent = 50; } ); };
agents: { authserv_id = "%s"; };
""" % AUTHSERV


def created(w, n):
    return int(datetime.datetime.fromisoformat(w.ticket(n)["created"]).timestamp())


def tick(w, at):
    out = w.ctl("tick", "--at", str(at)).stdout.decode()
    assert out.startswith("tick: "), out
    return out


def test_sla_warning_once_to_assignee_or_the_team(make_world):
    w = make_world(sent_mailbox="Sent", extra=SLA)
    team = w.addr(w.support + "team")
    other = w.addr(w.support + "other")
    owner = w.addr(w.support + "owner")
    quiet = w.addr(w.support + "quiet")
    w.write_conf(people=", ".join([
        '{ address = "%s"; name = "Tea"; team = "support"; notify = [ "sla-warning" ]; }' % team,
        '{ address = "%s"; name = "Otto"; team = "L3"; notify = [ "sla-warning" ]; }' % other,
        '{ address = "%s"; name = "Owen"; team = "L3"; '
        'notify = [ "sla-warning", "assigned" ]; }' % owner,
        # the default notify list has no sla-warning
        '{ address = "%s"; name = "Quinn"; team = "support"; }' % quiet]))
    cust = w.addr(w.customer)
    w.append(mail(cust, w.addr(w.support), "Unassigned one", body="Nobody has me.\n"))
    w.append(mail(cust, w.addr(w.support), "Owned one", body="Owen has me.\n"))
    w.once()
    by = {t["subject"]: t["number"] for t in w.tickets()}
    free, owned = by["Unassigned one"], by["Owned one"]
    w.ctl("assign", str(owned), owner)
    t0 = max(created(w, free), created(w, owned))

    # before 50% of the first-response target: nothing
    tick(w, t0 + 20 * 60)
    w.once()
    for local in ("team", "other", "owner", "quiet"):
        assert w.inbox(w.support + local) == [], local

    # past 50%: one warning each, to the assignee or else the queue's team
    tick(w, t0 + 35 * 60)
    w.once()
    got = w.inbox(w.support + "team")
    assert len(got) == 1, [m["Subject"] for m in got]
    m = got[0]
    assert m["Subject"].startswith("[Example #%d] Unassigned one (SLA warning: first response due "
                                   % free), m["Subject"]
    check_rfc3834(m)
    text = m.get_body(("plain",)).get_content()
    assert "50% of the first_response target (60 business minutes" in text
    assert "Nobody has me." in text
    (o,) = w.inbox(w.support + "owner")
    assert "[Example #%d] Owned one (SLA warning" % owned in o["Subject"]
    check_rfc3834(o)
    assert w.inbox(w.support + "other") == [] and w.inbox(w.support + "quiet") == []
    assert imapbox.count(w.customer) == 2  # the two acknowledgements, nothing else
    ev = [e for e in w.ticket(free)["events"] if e["action"] == "sla-warning"]
    assert len(ev) == 1 and ev[0]["detail"].startswith("first response due"), ev

    # once per ticket and clock: later ticks (and a breach) add no warning
    tick(w, t0 + 40 * 60)
    tick(w, t0 + 59 * 60)
    w.once()
    assert len(w.inbox(w.support + "team")) == 1
    assert len(w.inbox(w.support + "owner")) == 1
    assert len([e for e in w.ticket(free)["events"] if e["action"] == "sla-warning"]) == 1


# -- IDLE on every queue's mailbox and on Sent ---------------------------------

def wait_for(pred, what, timeout=30):
    """pred() until it is true or the deadline passes (a bound, not a
    measurement: the poll interval in these tests is an hour)."""
    end = time.time() + timeout
    while True:
        v = pred()
        if v:
            return v
        assert time.time() < end, "timed out waiting for " + what
        time.sleep(0.2)


def idle_state(w):
    return w.sql("SELECT state FROM connection_state WHERE name = 'imap-idle'")


def stop(p):
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=60) == 0


def two_queue_daemon(make_world, imap_extra):
    """support and billing queues, each with INBOX and Sent, polled once an
    hour: only a doorbell can make new mail arrive within the test."""
    w = make_world(sent_mailbox="Sent", idle="true", poll_interval=3600,
                   imap_extra=imap_extra)
    billing, _ = setup_queues(w)
    cust = w.addr(w.customer)
    w.append(mail(cust, w.addr(w.support), "Printer on fire", msgid="<p1@c.example>"))
    w.once()
    (t,) = w.tickets()
    return w, billing, t["number"]


def test_idle_on_second_queue_and_sent_folder(make_world):
    w, billing, n = two_queue_daemon(make_world, "idle_fallback_poll = 3600;")
    cust = w.addr(w.customer)
    p = w.start()
    try:
        # four folders, four doorbells ("idle 3/4" would name the ones short)
        wait_for(lambda: idle_state(w) == "idle", "four IDLE connections")
        # the doorbells start after the first pass, and each start looks
        # once more: once mail in the last folder (billing's Sent) is in,
        # that look is over, and later mail comes only through IDLE
        w2 = w.addr(w.customer + "w")
        imapbox.append(billing, "Sent", mail(billing + "@example.com", w2, "Warm-up",
                                             body="Hello from billing.\n"))
        wait_for(lambda: any(t["requester"] == w2 for t in w.tickets()), "the warm-up mail")

        # a customer writes to the second queue
        imapbox.append(billing, "INBOX", mail(cust, billing + "@example.com", "Invoice wrong"))
        bt = wait_for(lambda: [t for t in w.tickets() if t["subject"] == "Invoice wrong"],
                      "the billing ticket")
        assert bt[0]["queue"] == "billing"

        # an agent answers from the first queue's shared Sent folder
        w.append(mail('"Example Support" <%s>' % w.addr(w.support), cust,
                      "Re: [Example #%d] Printer on fire" % n, msgid="<a1@support.example>",
                      headers=["In-Reply-To: <p1@c.example>"], body="Please unplug it.\n"),
                 mailbox="Sent")
        t = wait_for(lambda: (lambda t: t if t["first_response_at"] else None)(w.ticket(n)),
                     "the agent's reply from Sent")
        assert [m["role"] for m in t["messages"] if m["direction"] == "in"] == [
            "customer", "agent"]
        assert p.poll() is None
    finally:
        stop(p)


def test_folders_over_idle_max_are_polled_at_the_fallback_interval(make_world):
    w, billing, n = two_queue_daemon(make_world, "idle_max = 1; idle_fallback_poll = 2;")
    cust = w.addr(w.customer)
    p = w.start()
    try:
        # the one doorbell is the first queue's INBOX; the rest is polled
        wait_for(lambda: idle_state(w) == "idle 1/4", "one IDLE connection")
        imapbox.append(billing, "INBOX", mail(cust, billing + "@example.com", "Invoice wrong"))
        wait_for(lambda: [t for t in w.tickets() if t["subject"] == "Invoice wrong"],
                 "the billing ticket by the fallback poll")
        w.append(mail(cust, w.addr(w.support), "Second one"))
        wait_for(lambda: [t for t in w.tickets() if t["subject"] == "Second one"],
                 "the INBOX ticket")
    finally:
        stop(p)


# -- a real mail client: bob answers a notice with s-nail -----------------------

SNAIL = shutil.which("s-nail")


def snail(w, user, commands, frm, headers=()):
    """Run s-nail in batch mode on user's INBOX (IMAP, the test Dovecot),
    sending by SMTP to the test OpenSMTPD; commands go to its stdin."""
    home = os.path.join(w.dir, "snail-" + user)
    os.makedirs(home, exist_ok=True)
    st = w.stack
    # -:s: Debian's /etc/s-nail.rc (quote, indentprefix "> "), no user rc
    args = [SNAIL, "-#", "-:s", "-S", "v15-compat", "-S", "ttycharset=utf-8",
            "-S", "mta=smtp://%s:%s" % (st["SMTP_HOST"], st["SMTP_PORT"]),
            "-S", "smtp-auth=none", "-S", "from=%s" % frm,
            "-S", "password-%s@%s:%s=%s" % (user, st["IMAP_HOST"], st["IMAP_PORT"],
                                            st["MAIL_PASSWORD"]),
            "-S", "imap-auth=login", "-S", "sendwait"]
    for h in headers:
        args += ["-C", h]
    args += ["-f", "imap://%s@%s:%s/INBOX" % (user, st["IMAP_HOST"], st["IMAP_PORT"])]
    p = subprocess.run(args, input=commands.encode(), capture_output=True, timeout=120,
                       env=dict(os.environ, HOME=home, LC_ALL="C.UTF-8"))
    assert p.returncode == 0, (p.returncode, p.stdout.decode()[-2000:], p.stderr.decode()[-2000:])
    subprocess.run([os.path.join(ROOT, "tests", "stack.sh"), "wait-delivered",
                    st["STACK_DIR"], "60"], check=True, capture_output=True)
    return p


def test_agent_answers_a_notice_with_s_nail(make_world):
    assert SNAIL, "s-nail is missing (tests/deps.sh installs it)"
    w = agents_world(make_world)
    cust = w.addr(w.customer)
    n, _ = open_ticket(w, msgid="<q1@c.example>")
    w.ctl("assign", str(n), w.bob)
    w.append(mail(cust, w.addr(w.support), "Re: [Example #%d] Printer on fire" % n,
                  msgid="<q2@c.example>", headers=["In-Reply-To: <q1@c.example>"],
                  body="It is still burning!\n"))
    w.once()
    (notice,) = w.inbox(w.support + "bob")
    assert "(the customer wrote again)" in notice["Subject"]
    before = imapbox.count(w.customer)

    # bob opens his INBOX in s-nail and replies to the notice's sender (the
    # support address); s-nail quotes the notice.  The header stands for
    # what the organisation's MTA adds to its own users' mail.
    snail(w, w.support + "bob", "Reply 1\nPlease pull the plug first.\n~.\nquit\n",
          "Bob Builder <%s>" % w.bob,
          headers=["Authentication-Results: %s; dkim=pass header.d=example.com" % AUTHSERV])
    # what s-nail sent: a reply to the notice, threaded by its Message-ID
    (sent,) = [m for m in w.inbox(w.support) if m["From"] and w.bob in m["From"]]
    assert notice["Message-ID"] in sent["In-Reply-To"]
    assert "\n> It is still burning!" in sent.get_content()  # quoted by the client
    w.once()

    mails = w.inbox(w.customer)
    assert len(mails) == before + 1
    r = mails[-1]
    assert w.addr(w.support) in r["From"] and "Bob Builder via Example Support" in r["From"]
    assert r["Subject"].startswith("Re: [Example #%d]" % n)
    assert r["In-Reply-To"] == "<q2@c.example>"
    body = r.get_content()
    assert "Please pull the plug first." in body
    # no notice text, no quote of it, no signature of the notice
    assert "still burning" not in body and "automatic notice" not in body, body
    assert "> " not in body, body
    t = w.ticket(n)
    assert t["first_responder"] == w.bob and t["first_response_at"] is not None
