"""An agent's From address is not enough to act as the agent
(non-negotiable 3): INBOX mail from an agent address runs its #commands only
when the Authentication-Results header of the organisation's own MTA
(agents.authserv_id) shows an aligned pass.  On the real servers: mail goes
in by IMAP, outcomes are read from tickctl's JSON and the real mailboxes."""
import subprocess

from conftest import TICKD, imapbox, mail
from test_agents import AUTHSERV, agents_world, events, inbound, open_ticket


def hijack(w, n, frm, headers=(), msgid=None):
    """A mail that names ticket n, holds its signed reference and tries to
    close it and take it over."""
    return mail(frm, w.addr(w.support), "Re: [Example #%d] Printer on fire" % n,
                msgid=msgid, headers=list(headers),
                body="#status closed\n#assign %s\n#priority low\n\nDone here.\n" % frm)


def ticket_untouched(t):
    assert t["status"] == "new" and t["assignee"] is None and t["priority"] == "normal"
    assert t["first_response_at"] is None and t["last_agent_at"] is None
    assert not {e["action"] for e in t["events"]} & {
        "status", "assigned", "priority", "note", "first-response"}


def test_forged_agent_from_does_not_run_commands(make_world):
    w = agents_world(make_world)
    n, ack = open_ticket(w, msgid="<q1@c.example>")
    # the stranger knows the ticket number AND holds the signed token (it
    # is in the acknowledgement every customer gets), and writes Bob's
    # address into From; no Authentication-Results at all
    w.append(hijack(w, n, w.bob, msgid="<forged1@evil.example>",
                    headers=["In-Reply-To: %s" % ack["Message-ID"]]))
    w.once()
    t = w.ticket(n)
    ticket_untouched(t)
    (m,) = [x for x in inbound(t) if x["message_id"] == "forged1@evil.example"]
    assert m["role"] == "customer"  # never "agent"
    # the command lines are kept as written, not cut like an agent's
    assert m["text"].startswith("#status closed")
    ign = [e for e in events(t, "command-ignored") if e["message"] == m["id"]]
    assert [e["detail"] for e in ign] == [
        "#status closed: agent From not authenticated",
        "#assign %s: agent From not authenticated" % w.bob,
        "#priority low: agent From not authenticated"]
    assert all(e["actor"] == w.bob for e in ign)
    (why,) = [e for e in events(t, "agent-unauthenticated") if e["message"] == m["id"]]
    assert why["detail"] == "no Authentication-Results from %s on top" % AUTHSERV
    # Bob is not made an agent participant by the forgery
    roles = {p["addr"]: p["role"] for p in t["participants"]}
    assert roles.get(w.bob) != "agent"

    # with the subject tag alone the forged agent may not even write into
    # N (a real agent could): a new ticket linked to N, commands ignored
    w.append(hijack(w, n, w.alice, msgid="<forged2@evil.example>"))
    w.once()
    assert len(inbound(w.ticket(n))) == 2
    (o,) = [x for x in w.tickets() if x["number"] != n]
    assert o["linked_ticket"] == n and o["requester"] == w.alice
    to = w.ticket(o["number"])
    assert to["status"] == "new" and to["assignee"] is None
    assert len(events(to, "command-ignored")) == 3
    assert w.ticket(n)["status"] == "new"


def test_authenticated_agent_runs_commands(make_world):
    w = agents_world(make_world)
    n, ack = open_ticket(w, msgid="<q1@c.example>")
    # what our MTA writes: a comment, a version, several results; the
    # aligned spf pass is the one that counts (dkim is for another domain)
    ar = ("Authentication-Results: %s 1 (tickd test MTA);\r\n"
          "\tdkim=pass (2048-bit key) header.d=mailer.example.net header.s=s1;\r\n"
          "\tspf=pass (sender is authorised) smtp.mailfrom=bob@example.com;\r\n"
          "\tdmarc=none header.from=example.com" % AUTHSERV)
    w.append(mail(w.bob, w.addr(w.customer), "Re: [Example #%d] Printer on fire" % n,
                  msgid="<bob-ok@support.example>",
                  headers=["Cc: %s" % w.addr(w.support), "In-Reply-To: <q1@c.example>", ar],
                  body="#status pending\n#assign me\n#priority high\n\nWhich model?\n"))
    w.once()
    t = w.ticket(n)
    assert t["status"] == "pending" and t["assignee"] == w.bob and t["priority"] == "high"
    assert t["first_response_at"] is not None
    (m,) = [x for x in inbound(t) if x["message_id"] == "bob-ok@support.example"]
    assert m["role"] == "agent" and m["text"].startswith("Which model?")
    trail = [(e["actor"], e["action"], e["detail"]) for e in t["events"]
             if e["message"] == m["id"]]
    assert (w.bob, "status", "new -> pending") in trail
    assert (w.bob, "assigned", w.bob) in trail
    assert (w.bob, "priority", "normal -> high") in trail
    assert not events(t, "command-ignored") and not events(t, "agent-unauthenticated")
    assert imapbox.count(w.customer) == 1  # the acknowledgement only


def test_pass_from_foreign_or_unaligned_authserv_does_not_count(make_world):
    w = agents_world(make_world)
    n, ack = open_ticket(w, msgid="<q1@c.example>")
    cases = [
        # anyone can add a header naming another authserv-id
        ("foreign1", ["Authentication-Results: mx.evil.example; dmarc=pass "
                      "header.from=example.com; dkim=pass header.d=example.com"],
         "no Authentication-Results from %s on top" % AUTHSERV),
        # our MTA's pass, but for the forger's own domain
        ("unaligned", ["Authentication-Results: %s; dkim=pass header.d=evil.example; "
                       "spf=pass smtp.mailfrom=x@evil.example" % AUTHSERV],
         "no aligned pass for example.com from %s" % AUTHSERV),
        # a pass hidden in a comment is no pass
        ("comment", ["Authentication-Results: %s; dkim=fail (dkim=pass "
                     "header.d=example.com) header.d=example.com" % AUTHSERV],
         "no aligned pass for example.com from %s" % AUTHSERV),
        # an aligned spf pass, but our MTA's DMARC verdict overrides it
        ("dmarcfail", ["Authentication-Results: %s; spf=pass smtp.mailfrom=example.com; "
                       "dmarc=fail header.from=example.com" % AUTHSERV],
         "dmarc=fail from %s" % AUTHSERV),
    ]
    for tag, headers, _ in cases:
        w.append(hijack(w, n, w.alice, headers=headers + ["In-Reply-To: %s" % ack["Message-ID"]],
                        msgid="<%s@evil.example>" % tag))
    w.once()
    t = w.ticket(n)
    ticket_untouched(t)
    for tag, _, why in cases:
        (m,) = [x for x in inbound(t) if x["message_id"] == "%s@evil.example" % tag]
        assert m["role"] == "customer", tag
        ev = [e["detail"] for e in t["events"] if e["message"] == m["id"]]
        assert why in ev, (tag, ev)
        assert sum(d.endswith(": agent From not authenticated") for d in ev) == 3, (tag, ev)
    # the real Alice, authenticated, still can
    w.append(mail(w.alice, w.addr(w.support), "Re: [Example #%d] Printer on fire" % n,
                  headers=["Authentication-Results: %s; dmarc=pass header.from=example.com"
                           % AUTHSERV],
                  body="#status closed\n"))
    w.once()
    assert w.ticket(n)["status"] == "closed"


def forged_variants():
    """(tag, header lines at the very top of the mail, the reason recorded).
    MTA_* is what our own MTA prepends; everything else the sender wrote."""
    pass_ = "dmarc=pass header.from=example.com"
    mta_none = "Authentication-Results: %s; spf=none smtp.mailfrom=evil.example; " \
               "dmarc=none header.from=example.com" % AUTHSERV
    junk = "".join(";\r\n\tdkim=fail header.d=junk%d.evil.example header.s=s" % i
                   for i in range(40))
    mta_junk = ("Authentication-Results: %s;\r\n\tdkim=pass header.d=example.com%s;"
                "\r\n\tdmarc=fail (p=reject) header.from=example.com" % (AUTHSERV, junk))
    not_ours = "no Authentication-Results from %s on top" % AUTHSERV
    no_pass = "no aligned pass for example.com from %s" % AUTHSERV
    return [
        # the id as an RFC 2047 encoded word: GMime would decode it, tickd
        # reads the raw field and compares the raw token
        ("encoded", ["Authentication-Results: =?us-ascii?q?%s?=; %s" % (AUTHSERV, pass_)],
         not_ours),
        # a space before the colon: a field of another name; over our
        # MTA's own field it hides nothing either
        ("spaced", ["Authentication-Results : %s; %s" % (AUTHSERV, pass_)], not_ours),
        ("spacedtop", ["Authentication-Results : %s; %s" % (AUTHSERV, pass_), mta_none],
         no_pass),
        ("quoted", ['Authentication-Results: "%s"; %s' % (AUTHSERV, pass_)], not_ours),
        # below our MTA's own field: only the topmost is ours
        ("below", [mta_none, "Authentication-Results: %s; %s" % (AUTHSERV, pass_)], no_pass),
        # 40 results the sender provoked before our MTA's dmarc=fail
        ("junk40", [mta_junk], "dmarc=fail from %s" % AUTHSERV),
    ]


def test_forged_authentication_results_variants_change_nothing(make_world):
    """Must show 2 of the hostile-input issue: every forged variant leaves
    the ticket untouched and records no agent action; the genuine agent (our
    MTA's own topmost field, dmarc=pass) still works."""
    w = agents_world(make_world)
    n, ack = open_ticket(w, msgid="<q1@c.example>")
    cases = forged_variants()
    for tag, top, _ in cases:
        raw = hijack(w, n, w.bob, headers=["In-Reply-To: %s" % ack["Message-ID"]],
                     msgid="<%s@evil.example>" % tag)
        w.append("\r\n".join(top) + "\r\n" + raw)
    w.once()
    t = w.ticket(n)
    ticket_untouched(t)
    for tag, _, why in cases:
        (m,) = [x for x in inbound(t) if x["message_id"] == "%s@evil.example" % tag]
        assert m["role"] == "customer", tag
        ev = [(e["action"], e["detail"]) for e in t["events"] if e["message"] == m["id"]]
        assert ("agent-unauthenticated", why) in ev, (tag, ev)
        assert sum(a == "command-ignored" for a, _ in ev) == 3, (tag, ev)
    roles = {p["addr"]: p["role"] for p in t["participants"]}
    assert roles.get(w.bob) != "agent"
    assert imapbox.count(w.customer) == 1  # the acknowledgement only

    # the genuine agent: our MTA's field on top (a forged fail below it
    # is not ours either and changes nothing)
    genuine = ["Authentication-Results: %s; dkim=pass header.d=example.com;\r\n"
               "\tdmarc=pass (p=reject) header.from=example.com" % AUTHSERV,
               "Authentication-Results: %s; dmarc=fail header.from=example.com" % AUTHSERV]
    w.append("\r\n".join(genuine) + "\r\n" + mail(
        w.bob, w.addr(w.customer), "Re: [Example #%d] Printer on fire" % n,
        msgid="<bob-real@support.example>",
        headers=["Cc: %s" % w.addr(w.support), "In-Reply-To: <q1@c.example>"],
        body="#status pending\n#priority high\n\nWhich model?\n"))
    w.once()
    t = w.ticket(n)
    assert t["status"] == "pending" and t["priority"] == "high"
    assert t["first_response_at"] is not None
    (m,) = [x for x in inbound(t) if x["message_id"] == "bob-real@support.example"]
    assert m["role"] == "agent"


def test_authres_fields_is_checked(make_world):
    w = agents_world(make_world, extra='agents: { authserv_id = "%s"; authres_fields = 2; };'
                     % AUTHSERV)
    p = subprocess.run([TICKD, "-c", w.conf, "--check-config"], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    # with two trusted fields (OpenDKIM, then OpenDMARC), a pass in the
    # second counts; a forged one in the third does not
    n, ack = open_ticket(w, msgid="<q1@c.example>")
    top = ["Authentication-Results: %s; dmarc=none header.from=example.com" % AUTHSERV,
           "Authentication-Results: %s; dkim=fail header.d=example.com" % AUTHSERV,
           "Authentication-Results: %s; dmarc=pass header.from=example.com" % AUTHSERV]
    w.append("\r\n".join(top) + "\r\n" + hijack(w, n, w.bob, msgid="<third@evil.example>",
                                                 headers=["In-Reply-To: %s" % ack["Message-ID"]]))
    w.once()
    ticket_untouched(w.ticket(n))
    w.append("\r\n".join(top[1:]) + "\r\n" + mail(
        w.bob, w.addr(w.support), "Re: [Example #%d] Printer on fire" % n,
        headers=["In-Reply-To: <q1@c.example>"], body="#status closed\n"))
    w.once()
    assert w.ticket(n)["status"] == "closed"
    w.write_conf(extra='agents: { authserv_id = "%s"; authres_fields = 0; };' % AUTHSERV)
    p = subprocess.run([TICKD, "-c", w.conf, "--check-config"], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 1 and "tickd.conf:" in p.stderr and "authres_fields" in p.stderr, \
        p.stderr


def test_without_authserv_id_only_sent_folder_acts_as_agent(make_world):
    """The safe default: no agents.authserv_id means no INBOX mail can prove
    an agent's From; the Sent folder still works.  --check-config says so."""
    w = agents_world(make_world, extra="")
    n, ack = open_ticket(w, msgid="<q1@c.example>")
    # even a genuine-looking pass is not believed: which MTA wrote it?
    w.append(hijack(w, n, w.bob, headers=[
        "Authentication-Results: %s; dmarc=pass header.from=example.com" % AUTHSERV,
        "In-Reply-To: %s" % ack["Message-ID"]], msgid="<noid@evil.example>"))
    w.once()
    t = w.ticket(n)
    ticket_untouched(t)
    ev = [e["detail"] for e in t["events"] if e["action"] == "agent-unauthenticated"]
    assert ev == ["no authserv-id configured"]
    # the shared mailbox's Sent folder is trusted: only its users write there
    w.append(mail(w.addr(w.support), w.addr(w.customer), "Re: [Example #%d] Printer on fire" % n,
                  headers=["In-Reply-To: <q1@c.example>"], body="#status pending\nWhich model?\n"),
             mailbox="Sent")
    w.once()
    assert w.ticket(n)["status"] == "pending"

    p = subprocess.run([TICKD, "-c", w.conf, "--check-config"], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    assert "3 people; warning: agents.authserv_id is not set" in p.stdout, p.stdout
    p = subprocess.run([TICKD, "-c", w.conf, "--once"], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0
    assert "loop: agents.authserv_id is not set" in p.stderr, p.stderr[-2000:]


def test_trust_from_header_is_the_explicit_unsafe_opt_out(make_world):
    w = agents_world(make_world, extra='agents: { trust_from = "header"; };')
    n, ack = open_ticket(w, msgid="<q1@c.example>")
    w.append(hijack(w, n, w.bob))
    w.once()
    assert w.ticket(n)["status"] == "closed"  # exactly the hole it opens
    p = subprocess.run([TICKD, "-c", w.conf, "--check-config"], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0 and 'warning: agents.trust_from = "header"' in p.stdout, p.stdout
    w.write_conf(extra='agents: { authserv_id = "mx.example.com"; trust_from = "maybe"; };')
    p = subprocess.run([TICKD, "-c", w.conf, "--check-config"], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 1
    assert "agents.trust_from: expected \"authenticated\" or \"header\", not 'maybe'" in p.stderr
    w.write_conf(extra='agents: { authserv_id = "mx.example.com; dkim=pass"; };')
    p = subprocess.run([TICKD, "-c", w.conf, "--check-config"], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 1 and "agents.authserv_id: 'mx.example.com; dkim=pass' is not" in p.stderr
    w.write_conf(extra='agents: { authserv_id = "mx.example.com"; };')
    p = subprocess.run([TICKD, "-c", w.conf, "--check-config"], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0 and "(agents authenticated by mx.example.com)" in p.stdout, p.stdout
