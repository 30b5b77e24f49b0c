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
