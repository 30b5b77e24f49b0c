"""Workload balance on the real servers: new tickets auto-assigned per queue
(tickets.auto_assign) among the queue's agents who are not away, agents
going away and coming back by mail (#away until DATE, #back), and the
report's open tickets per agent.  Must-show 7: 30 new tickets over 3
agents of whom one is away -> 15 and 15, none to the away one."""
import collections
import json
import os
import subprocess

from conftest import TICKCTL, imapbox, mail

AUTHSERV = "mx.example.com"
AUTH = "Authentication-Results: %s; dkim=pass header.d=example.com" % AUTHSERV


def aa_world(make_world, policy="fewest_open", agents_extra="", **kw):
    """Queues support (this world's INBOX) and billing (a folder nobody
    writes to); alice, bob (support only) and carol serve support, dave
    only billing, and the manager none."""
    w = make_world(tickets_extra='auto_assign = "%s";' % policy,
                   extra='agents: { authserv_id = "%s"; %s };\n'
                   'queues = ( { name = "support"; }, '
                   '{ name = "billing"; mailbox = "Billing"; } );'
                   % (AUTHSERV, agents_extra),
                   per_recipient_day=100, **kw)
    imapbox.create_mailbox(w.support, "Billing")
    w.alice = w.addr(w.support + "alice")
    w.bob = w.addr(w.support + "bob")
    w.carol = w.addr(w.support + "carol")
    w.dave = w.addr(w.support + "dave")
    w.boss = w.addr(w.support + "boss")
    w.write_conf(people=", ".join([
        '{ address = "%s"; name = "Alice Archer"; }' % w.alice,
        '{ address = "%s"; name = "Bob Builder"; queues = [ "support" ]; }' % w.bob,
        '{ address = "%s"; name = "Carol Cook"; }' % w.carol,
        '{ address = "%s"; name = "Dave Doe"; queues = [ "billing" ]; }' % w.dave,
        '{ address = "%s"; name = "Mary Boss"; role = "manager"; }' % w.boss]))
    return w


def customer_mails(w, n, start=0):
    for i in range(start, start + n):
        w.append(mail(w.addr("%scust%d" % (w.support, i)), w.addr(w.support),
                      "Problem number %d" % i, msgid="<aa-%d@c.example>" % i))


def agent_mail(w, frm, body, subject="My schedule"):
    w.append(mail(frm, w.addr(w.support), subject, body=body, headers=[AUTH]))


def by_assignee(w):
    return collections.Counter(t["assignee"] for t in w.tickets()
                               if t["requester"].startswith(w.support + "cust"))


def agent_backlog(w, agent):
    p = w.ctl("report", "--agent", agent, "--json", "--from", "2000-01-01",
              "--to", "2100-01-01")
    groups = json.loads(p.stdout)["groups"]
    return [g for g in groups if g["group"] == "all"][0]["current"]["backlog"]


def test_fewest_open_skips_the_away_agent(make_world):
    w = aa_world(make_world)
    # carol goes away by mail (a proven agent: our MTA's Authentication-
    # Results); the mail opens no ticket and she gets an answer
    agent_mail(w, w.carol, "#away until 2099-12-24\n")
    w.once()
    assert w.tickets() == []
    assert w.sql("SELECT count(*) FROM agent_away WHERE address = '%s' AND until > now()"
                 % w.carol) == "1"
    answers = [m for m in w.inbox(w.support + "carol") if "away until 2099-12-24"
               in m.get_body(preferencelist=("plain",)).get_content()]
    assert len(answers) == 1
    # must-show 7: 30 new tickets over alice, bob and (away) carol
    customer_mails(w, 30)
    w.once()
    got = by_assignee(w)
    assert got == {w.alice: 15, w.bob: 15}, got
    assert w.carol not in got and w.dave not in got and w.boss not in got
    # every one is an 'assigned' event by tickd, and the agent was told
    t = w.ticket(w.tickets()[0]["number"])
    assert [e["actor"] for e in t["events"] if e["action"] == "assigned"] == ["tickd"]
    # the report shows the open tickets per agent
    assert agent_backlog(w, w.alice) == 15
    assert agent_backlog(w, w.bob) == 15
    assert agent_backlog(w, w.carol) == 0
    # carol is back: with no open tickets she takes the next ones
    agent_mail(w, w.carol, "#back\n", subject="Back again")
    w.once()
    assert w.sql("SELECT count(*) FROM agent_away") == "0"
    customer_mails(w, 2, start=30)
    w.once()
    assert by_assignee(w)[w.carol] == 2


def test_stranger_cannot_go_away_for_an_agent(make_world):
    w = aa_world(make_world)
    # bob's address without our MTA's proof: nothing happens to bob
    w.append(mail(w.bob, w.addr(w.support), "away", body="#away\n"))
    w.once()
    assert w.sql("SELECT count(*) FROM agent_away") == "0"
    assert w.sql("SELECT count(*) FROM event WHERE action = 'command-ignored'") == "1"
    # a bad date is refused and changes nothing
    agent_mail(w, w.bob, "#away until 2026-02-30\n")
    w.once()
    assert w.sql("SELECT count(*) FROM agent_away") == "0"


def test_round_robin_and_handing_back(make_world):
    w = aa_world(make_world, policy="round_robin", agents_extra="away_unassign = true;")
    customer_mails(w, 6)
    w.once()
    order = [t["assignee"] for t in sorted(w.tickets(), key=lambda t: t["number"])]
    assert order == [w.alice, w.bob, w.carol] * 2
    # bob goes away until #back: his open tickets go back to the queue
    agent_mail(w, w.bob, "#away\n")
    w.once()
    assert by_assignee(w) == {w.alice: 2, w.carol: 2, None: 2}
    assert int(w.sql("SELECT count(*) FROM event WHERE action = 'unassigned'")) == 2
    customer_mails(w, 2, start=6)
    w.once()
    assert by_assignee(w) == {w.alice: 3, w.carol: 3, None: 2}


def test_two_importers_share_the_count(make_world):
    """Scale-out: two processes creating tickets at once take turns on the
    queue's row lock and count each other's tickets."""
    w = aa_world(make_world)
    agent_mail(w, w.carol, "#away\n")
    w.once()
    files = []
    for i in range(30):
        p = os.path.join(w.dir, "m%d.eml" % i)
        with open(p, "w") as f:
            f.write(mail(w.addr("%scust%d" % (w.support, i)), w.addr(w.support),
                         "Parallel %d" % i, msgid="<pp-%d@c.example>" % i))
        files.append(p)
    procs = [subprocess.Popen([TICKCTL, "-c", w.conf, "import"] + files[k::2],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
             for k in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    assert by_assignee(w) == {w.alice: 15, w.bob: 15}


def test_forward_with_assign_goes_to_its_agent(make_world):
    """An agent's forward is a new customer ticket: auto-assigned, unless
    the forwarder's own #assign says who takes it (no second pick, no
    notice to someone else)."""
    from test_forward import inline_forward
    w = aa_world(make_world)
    w.append(inline_forward(w, w.bob, "<fwd-a1@support.example>", [AUTH],
                            top="#assign me\n\n"))
    w.once()
    t = w.ticket(w.tickets()[0]["number"])
    assert t["assignee"] == w.bob
    assert [e["actor"] for e in t["events"] if e["action"] == "assigned"] == [w.bob]
    imapbox.expunge_all(w.support)
    w.append(inline_forward(w, w.bob, "<fwd-a2@support.example>", [AUTH])
             .replace("Printer prints blank pages", "Scanner jams"))
    w.once()
    t2 = [t for t in w.tickets() if t["subject"].startswith("Scanner")][0]
    # fewest open: alice has none, bob one
    assert t2["assignee"] == w.alice
