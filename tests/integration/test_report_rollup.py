"""The per-day rollups (026_report_rollup.sql) under ticket changes: after
a first report has computed the facts and their rollups, reopen, re-resolve,
close, merge, reassign, move, rate, unrate and delete tickets, resolve one
exactly at midnight and answer one after its resolution (facts the rollups
leave out); then the reports over whole days (served by the rollups), over
odd hours (edge days from the facts) and the year must equal `--unrolled`,
and the rollups must equal the ones rebuilt from scratch."""
import datetime
import json

from test_report_facts import SLA, _generate

# the rollups as a comparable text
ROLLUPS = """SELECT string_agg(r, E'\\n' ORDER BY r) FROM (
  SELECT concat_ws('|', day, queue, agent, created, resolved, sla_n, sla_met,
      fcr, reopened, (SELECT array_agg(x ORDER BY x) FROM unnest(frt) x),
      (SELECT array_agg(x ORDER BY x) FROM unnest(res) x), csat_good,
      csat_okay, csat_bad) AS r FROM report_day
  UNION ALL
  SELECT concat_ws('|', 'cm', day, last_day, queue, agent, mails, tickets)
  FROM report_cm_day
  UNION ALL
  SELECT concat_ws('|', 'esc', day, queue, agent, level, n)
  FROM report_esc_day) s"""


def _same(world, periods):
    for args in periods:
        for fmt in (["--json"], []):
            fast = world.ctl("report", *fmt, *args).stdout
            ref = world.ctl("report", "--unrolled", *fmt, *args).stdout
            assert fast == ref, (args, fmt)
    assert world.sql("SELECT count(*) FROM report_stale") == "0"
    assert world.sql("SELECT count(*) FROM report_day_dirty") == "0"


def _rebuilt(world):
    """The rollups recomputed from every fact."""
    world.sql("""DELETE FROM report_day; DELETE FROM report_cm_day;
      DELETE FROM report_esc_day;
      INSERT INTO report_day_dirty (day) SELECT floor(extract(epoch FROM at) / 86400)
        FROM event WHERE action = 'escalated';
      INSERT INTO report_day_dirty (day) SELECT DISTINCT d FROM report_fact f
        CROSS JOIN LATERAL (VALUES (f.cr / 86400), (NULLIF(f.fr, 0) / 86400),
          (NULLIF(f.rs, 0) / 86400), (floor(extract(epoch FROM f.csat_at) / 86400)),
          (floor(extract(epoch FROM f.cm_first) / 86400))) v(d)
        WHERE d IS NOT NULL;
      SELECT report_day_flush();""")
    return world.sql(ROLLUPS)


def test_rollups_follow_ticket_changes(world):
    with open(world.conf, "a") as f:
        f.write(SLA % "us")
    to = datetime.datetime.now(datetime.timezone.utc).date()
    _generate(world, to.isoformat())
    # escalations as escalate.c writes them, a few a day, some a fraction
    # of a second around midnight (the rollups count them by the exact time)
    world.sql(f"""
      INSERT INTO event (ticket_id, at, actor, action, detail)
      SELECT id, created + interval '5 hours', 'tickd', 'escalated',
          'level ' || (1 + id % 3) || ': first_response breached -> lead@example.com'
      FROM ticket WHERE id % 9 = 2;
      INSERT INTO event (ticket_id, at, actor, action, detail)
      SELECT id, timestamptz '{to.isoformat()}' - (id % 40) * interval '1 day'
          + (CASE WHEN id % 2 = 0 THEN 1 ELSE -1 END) * interval '0.3 s', 'tickd',
          'escalated', 'immediate: urgent -> lead@example.com'
      FROM ticket WHERE id % 37 = 5;
      INSERT INTO event (ticket_id, at, actor, action, detail)
      SELECT id, created + interval '1 hour', 'tickd', 'escalation-skipped', 'nobody'
      FROM ticket WHERE id % 50 = 1;
    """)
    iso = datetime.date.isoformat
    day = datetime.timedelta(days=1)
    periods = [["--from", iso(to - 7 * day), "--to", iso(to)],
               ["--from", iso(to - 30 * day), "--to", iso(to)],
               ["--from", iso(to - 366 * day), "--to", iso(to + day)],
               ["--from", iso(to - 9 * day) + "T13:17:05Z", "--to", iso(to - day) + "T07:00:00Z"],
               ["--from", iso(to - 20 * day), "--to", iso(to), "--agent", "agent2@example.com"],
               ["--from", iso(to - 20 * day), "--to", iso(to), "--queue", "billing"]]
    _same(world, periods)
    # the rollups hold the whole days: not a comparison of two fact passes
    n_days = int(world.sql("SELECT count(DISTINCT day) FROM report_day"))
    assert n_days >= 60
    created = int(world.sql("SELECT sum(created) FROM report_day"))
    assert created > 2900
    assert int(world.sql("SELECT count(*) FROM report_fact WHERE NOT rolled AND NOT history")) > 0
    assert int(world.sql("SELECT sum(n) FROM report_esc_day")) > 300

    # changes as the daemon, the tick and an admin make them
    mid = "timestamptz '%s'" % iso(to - 5 * day)
    world.sql(f"""
      -- reopened: resolved tickets open again, counted as reopened
      UPDATE ticket SET status = 'open', resolved_at = NULL,
          reopen_count = reopen_count + 1 WHERE id BETWEEN 5100 AND 5109;
      -- resolved again a day later
      UPDATE ticket SET status = 'resolved', reopen_count = reopen_count + 1,
          resolved_at = created + interval '1 day 3 hours' WHERE id BETWEEN 5110 AND 5114;
      -- resolved on a midnight (left out of the rollups), closed
      UPDATE ticket SET status = 'resolved', resolved_at = {mid} WHERE id = 5115;
      UPDATE ticket SET status = 'closed', closed_at = now() - interval '2 hours'
          WHERE id IN (SELECT id FROM ticket WHERE status = 'open' AND id > 5200 LIMIT 4);
      -- answered after its resolution (also left out)
      UPDATE ticket SET first_response_at = resolved_at + interval '2 hours'
          WHERE id = 5120;
      -- another agent, another queue, another priority
      UPDATE ticket SET assignee = 'agent7@example.com' WHERE id BETWEEN 5130 AND 5134;
      UPDATE ticket SET assignee = NULL WHERE id = 5135;
      UPDATE ticket SET queue = 'sales' WHERE id BETWEEN 5140 AND 5142;
      UPDATE ticket SET priority = 'urgent' WHERE id = 5143;
      -- ratings given, changed, taken back
      INSERT INTO csat_rating (ticket_id, rating, at) VALUES
          (5150, 'bad', now() - interval '3 days'), (5151, 'good', {mid})
          ON CONFLICT (ticket_id) DO UPDATE SET rating = EXCLUDED.rating, at = EXCLUDED.at;
      DELETE FROM csat_rating WHERE ticket_id IN (SELECT ticket_id FROM csat_rating
          WHERE ticket_id BETWEEN 5160 AND 5190 LIMIT 3);
      -- a customer mail days later: the ticket's mails span days now
      INSERT INTO message (ticket_id, dedupe_key, direction, role, received)
          VALUES (5170, 'later:5170', 'in', 'customer', now() - interval '1 day');
      -- escalations: new ones, one taken back, and the tickets of some
      -- moved to another agent (their escalations go with them)
      INSERT INTO event (ticket_id, at, actor, action, detail)
          VALUES (5133, now() - interval '2 days', 'tickd', 'escalated',
                  'level 2: resolution breached -> lead@example.com'),
                 (5201, {mid}, 'tickd', 'escalated', 'level 4: x -> y');
      DELETE FROM event WHERE id = (SELECT min(id) FROM event WHERE action = 'escalated'
          AND ticket_id > 5300);
      UPDATE ticket SET assignee = 'agent8@example.com' WHERE id IN
          (SELECT ticket_id FROM event WHERE action = 'escalated' AND ticket_id > 5400
           ORDER BY ticket_id LIMIT 6);
      SELECT tickd_merge(5180, 5181, 'admin', NULL, now() - interval '1 day');
      SELECT tickd_merge(5182, 5183, 'admin', NULL, now() - interval '40 days');
    """)
    # a ticket deleted (purge): its fact goes with it, its days change
    world.sql("DELETE FROM ticket WHERE id = 5190")
    assert int(world.sql("SELECT count(*) FROM report_day_dirty")) > 0
    _same(world, periods)
    after = world.sql(ROLLUPS)
    # the facts the rollups leave out are there and counted
    assert world.sql("SELECT rolled FROM report_fact WHERE ticket_id = 5115") == "f"
    assert world.sql("SELECT rolled FROM report_fact WHERE ticket_id = 5120") == "f"
    assert world.sql("SELECT history FROM report_fact WHERE ticket_id = 5180") == "t"
    rep = json.loads(world.ctl("report", "--json", *periods[1]).stdout)
    names = {g["name"] for g in rep["groups"]}
    assert "agent7@example.com" in names
    assert rep["groups"][0]["current"]["reopened"] > 0
    assert rep["groups"][0]["current"]["escalations"] > 30
    assert "agent8@example.com" in names
    # rolled incrementally == rebuilt from scratch
    assert after == _rebuilt(world)
    _same(world, periods[:2])
