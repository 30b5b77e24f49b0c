"""`tickctl report` from the stored per-ticket facts (015_report_facts.sql)
equals the unrolled computation (`--unrolled`: every ticket through
report_add_ticket) on generated history: business-hours calendars, SLA
policies and clocks, sub-second times at the period edges, open, closed
and reopened tickets; after changes to tickets and clocks (the triggers
mark them stale) and after a change of the calendars (the fingerprint)."""
import datetime
import json

SLA = """
calendars = (
  { name = "eu"; timezone = "Europe/Berlin";
    hours = { mon = "08:00-18:00"; tue = "08:00-18:00"; wed = "08:00-18:00";
              thu = "08:00-18:00"; fri = "08:00-16:00"; };
    holidays = [ "2026-01-01", "2026-05-01", "2026-12-25" ]; },
  { name = "us"; timezone = "America/New_York";
    hours = { mon = "09:00-17:00"; tue = "09:00-17:00"; wed = "09:00-17:00";
              thu = "09:00-17:00"; fri = "09:00-17:00"; }; } );
sla: { policies = (
  { priority = "urgent"; calendar = "us"; first_response = 60; resolution = 480; },
  { queue = "billing"; calendar = "%s"; first_response = 240; resolution = 2880; },
  { calendar = "eu"; first_response = 480; resolution = 4800; } ); };
"""

N = 3000


def _generate(world, to):
    # like tests/bench_report.sh, over 60 days before `to`, with
    # fractions of seconds, some tickets exactly around the period edges
    world.sql(f"""
    INSERT INTO ticket (id, queue, subject, requester, status, priority, assignee,
        created, updated, first_response_at, last_customer_at, last_agent_at,
        resolved_at, closed_at, reopen_count)
    SELECT 5000 + i, (ARRAY['support', 'billing', 'sales'])[1 + i % 3],
        'Generated ' || i, 'c' || (i % 500) || '@example.net',
        CASE WHEN i % 23 = 0 THEN 'open' WHEN i % 29 = 0 THEN 'closed' ELSE 'resolved' END,
        (ARRAY['low', 'normal', 'high', 'urgent'])[1 + i % 4],
        CASE WHEN i % 7 = 0 THEN NULL ELSE 'agent' || (i % 5) || '@example.com' END,
        c, c, CASE WHEN i % 31 = 0 THEN NULL ELSE c + fr END,
        c + CASE WHEN i % 11 = 0 THEN fr * 2 ELSE interval '0' END,
        CASE WHEN i % 31 = 0 THEN NULL WHEN i % 13 = 0 THEN c + fr * 3 ELSE c + fr END,
        CASE WHEN i % 23 = 0 OR i % 29 = 0 THEN NULL ELSE c + fr + res END,
        CASE WHEN i % 29 = 0 THEN c + fr + res END, (i % 17 = 0)::int
    FROM (SELECT i, timestamptz '{to}' - interval '60 days'
                     + i * (interval '60 days' / {N}) + (i % 10) * interval '0.1 s' AS c,
                 ((i::bigint * 7919) % 144000) * interval '1 second' AS fr,
                 ((i::bigint * 104729) % 1259200) * interval '1 second' AS res
          FROM generate_series(1, {N}) i) g;
    -- around the edges: 0.3 s before and after midnight of `to` and of
    -- the start of the previous week
    INSERT INTO ticket (id, queue, subject, requester, status, priority, created, updated,
        resolved_at) VALUES
      (9001, 'support', 'edge a', 'e@example.net', 'open', 'normal',
       timestamptz '{to}' - interval '0.3 s', now(), NULL),
      (9002, 'support', 'edge b', 'e@example.net', 'resolved', 'normal',
       timestamptz '{to}' - interval '10 days', now(),
       timestamptz '{to}' - interval '14 days' - interval '0.3 s' + interval '10 days'),
      (9003, 'billing', 'edge c', 'e@example.net', 'resolved', 'high',
       timestamptz '{to}' - interval '20 days', now(),
       timestamptz '{to}' - interval '14 days' - interval '0.4 s');
    -- mail from before tickd (012_history): in no ticket KPI
    INSERT INTO ticket (id, queue, subject, requester, status, priority, created, updated,
        first_response_at, resolved_at, history) VALUES
      (9004, 'support', 'history', 'h@example.net', 'closed', 'normal',
       timestamptz '{to}' - interval '3 days', now(), timestamptz '{to}' - interval '2 days',
       timestamptz '{to}' - interval '1 day', true);
    -- SLA clocks as escalate.c would leave them, for every other one
    UPDATE sla_clock c SET initialized = true, status = 3,
        first_response_at = extract(epoch FROM t.first_response_at)::bigint,
        resolved_at = extract(epoch FROM t.resolved_at)::bigint,
        paused_since = extract(epoch FROM t.resolved_at)::bigint,
        resolution_run_secs = extract(epoch FROM t.resolved_at - t.created)::bigint / 3,
        first_response_secs = extract(epoch FROM t.first_response_at - t.created)::bigint / 3
    FROM ticket t WHERE t.id = c.ticket_id AND t.resolved_at IS NOT NULL
        AND t.first_response_at IS NOT NULL AND t.id % 2 = 0;
    -- a pending change makes a clock unusable
    INSERT INTO sla_change (ticket_id, at, kind)
        SELECT id, extract(epoch FROM created)::bigint, 'customer' FROM ticket WHERE id % 97 = 0;
    INSERT INTO message (ticket_id, dedupe_key, direction, role, received)
        SELECT id, 'gen:' || id, 'in', 'customer', created FROM ticket;
    INSERT INTO csat_rating (ticket_id, rating, at)
        SELECT id, (ARRAY['good', 'okay', 'bad'])[1 + id % 3], resolved_at
        FROM ticket WHERE resolved_at IS NOT NULL AND id % 10 < 3;
    """)


def _compare(world, periods):
    checked = 0
    for args in periods:
        for fmt in (["--json"], ["--csv"], []):
            fast = world.ctl("report", *fmt, *args).stdout
            ref = world.ctl("report", "--unrolled", *fmt, *args).stdout
            assert fast == ref, (args, fmt)
            checked += 1
    assert world.sql("SELECT count(*) FROM report_stale") == "0"
    return checked


def test_facts_equal_unrolled(world):
    with open(world.conf, "a") as f:
        f.write(SLA % "us")
    to = datetime.datetime.now(datetime.timezone.utc).date()
    _generate(world, to.isoformat())
    assert int(world.sql("SELECT count(*) FROM report_stale")) == N + 4
    week = (to - datetime.timedelta(days=7)).isoformat()
    month = (to - datetime.timedelta(days=30)).isoformat()
    year = (to - datetime.timedelta(days=366)).isoformat()
    periods = [["--from", week, "--to", to.isoformat()],
               ["--from", month, "--to", to.isoformat()],
               ["--from", year, "--to", (to + datetime.timedelta(days=1)).isoformat()],
               ["--from", month, "--to", to.isoformat(), "--queue", "billing"],
               ["--from", month, "--to", to.isoformat(), "--agent", "agent3@example.com"]]
    assert _compare(world, periods) == 15
    assert int(world.sql("SELECT count(*) FROM report_fact")) == N + 4
    month_json = world.ctl("report", "--json", *periods[1]).stdout
    rep = json.loads(month_json)
    cur = rep["groups"][0]["current"]
    # not a comparison of two empty reports
    assert cur["resolved"] > 1000 and cur["sla_met_pct"] > 0 and cur["backlog"] > 10
    assert cur["first_response_median_s"] > 0 and rep["worst_breaches"]
    assert {g["name"] for g in rep["groups"]} >= {"billing", "sales", "(unassigned)"}

    # changes in the transactions of the daemon and the tick: the triggers
    # make exactly those tickets stale
    world.sql("""
      UPDATE ticket SET status = 'resolved', resolved_at = now() - interval '1 hour',
          updated = now() WHERE id IN (SELECT id FROM ticket WHERE status = 'open' LIMIT 5);
      UPDATE ticket SET assignee = 'agent9@example.com' WHERE id IN (5010, 5011);
      UPDATE sla_clock SET resolution_run_secs = resolution_run_secs + 99999
          WHERE ticket_id IN (5002, 5004);
      DELETE FROM sla_change WHERE ticket_id = 5044;
      UPDATE sla_clock SET next_check = now() WHERE ticket_id = 5006;
    """)
    stale = world.sql("SELECT string_agg(ticket_id::text, ',' ORDER BY ticket_id) FROM report_stale")
    assert "5002" in stale and "5010" in stale and "5044" in stale
    assert "5006" not in stale.split(",")
    assert _compare(world, periods[:3]) == 9
    month_json = world.ctl("report", "--json", *periods[1]).stdout
    assert b"agent9@example.com" in world.ctl("report", "--csv", *periods[1]).stdout

    # customer mails and ratings (022): a mail or rating stored, moved or
    # deleted makes its ticket stale even when the ticket row stays as it
    # was; tickets whose mails straddle a period's start or end are
    # counted mail by mail
    wk = "timestamptz '%s'" % week
    world.sql(f"""
      INSERT INTO message (ticket_id, dedupe_key, direction, role, received)
        SELECT id, 'edge:' || id || ':' || k, 'in', 'customer',
            {wk} + k * interval '1 hour' + interval '0.2 s'
        FROM ticket, generate_series(-2, 1) k WHERE id BETWEEN 5100 AND 5109;
      INSERT INTO message (ticket_id, dedupe_key, direction, role, received)
        VALUES (5200, 'late:5200', 'in', 'customer', {wk} + interval '2 days'),
               (5201, 'agent:5201', 'out', 'agent', {wk} + interval '2 days');
      DELETE FROM message WHERE dedupe_key = 'gen:5300';
      UPDATE message SET ticket_id = 5302 WHERE dedupe_key = 'gen:5301';
      INSERT INTO csat_rating (ticket_id, rating, at)
        VALUES (5303, 'bad', {wk} + interval '1 day') ON CONFLICT (ticket_id) DO UPDATE
        SET rating = 'bad', at = EXCLUDED.at;
      DELETE FROM csat_rating WHERE ticket_id = 5310;
    """)
    stale = world.sql("SELECT string_agg(ticket_id::text, ',' ORDER BY ticket_id) "
                      "FROM report_stale").split(",")
    for t in ("5100", "5109", "5200", "5300", "5301", "5302", "5303", "5310"):
        assert t in stale, (t, stale)
    assert "5201" not in stale  # an agent's mail changes no fact
    periods.append(["--from", week, "--to", to.isoformat(), "--queue", "support\nsales"])
    assert _compare(world, periods) == 18
    wk_json = json.loads(world.ctl("report", "--json", *periods[0]).stdout)
    # not vacuous: mails on both sides of the week's start were counted
    assert wk_json["groups"][0]["current"]["customer_mails"] > 20
    assert wk_json["groups"][0]["previous"]["customer_mails"] > 20
    month_json = world.ctl("report", "--json", *periods[1]).stdout

    # another calendar for billing: every fact is computed again
    with open(world.conf) as f:
        conf = f.read()
    with open(world.conf, "w") as f:
        f.write(conf.replace('queue = "billing"; calendar = "us"',
                             'queue = "billing"; calendar = "eu"'))
    assert _compare(world, periods[:2]) == 6
    # the new calendar counts: billing's business times changed
    assert world.ctl("report", "--json", *periods[1]).stdout != month_json
