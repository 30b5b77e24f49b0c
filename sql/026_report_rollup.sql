-- 026_report_rollup: per-day rollups of the report facts (015, 022), so
-- that a long period reads whole days from here instead of aggregating
-- every fact: a year over a million tickets was one pass over a million
-- facts (tests/bench_report.sh).  A report (store_report.c) takes the
-- whole UTC days inside each of its two periods from the rollups and only
-- the rest from the facts: the events in the partial days at the edges,
-- the facts the rollups leave out (below), the backlog at each period's
-- end (by report_fact_span_idx) and the customer mails that straddle a
-- boundary (by report_fact_cm_span_idx).
--
-- A rollup row holds exactly the aggregate of the facts of its day, so
-- it cannot drift: the statement triggers on report_fact put every day a
-- fact was or is counted on into report_day_dirty, and report_day_flush()
-- (called by the report after its refresh of the facts, in the same
-- transaction) recomputes those days from the facts.  A fact deleted
-- with its ticket marks its days dirty the same way.

-- Which facts the point-event rollups (created, answered, resolved) may
-- hold: not history, and times in order (first reply and resolution not
-- before creation, first reply not after the resolution) with the
-- resolution not on a midnight.  For such a fact an event on a whole day
-- inside the periods implies that the report selects the ticket at all
-- (STORE_KPI_SEL: created before `to`, resolved after the previous
-- period's start, compared with the exact times, where the events count
-- by the rounded seconds); the few others are read from the facts.
ALTER TABLE report_fact ADD COLUMN rolled boolean GENERATED ALWAYS AS (
	NOT history AND (fr = 0 OR fr >= cr) AND
	(rs = 0 OR (rs >= cr AND rs >= fr AND rs % 86400 <> 0))) STORED;

-- the facts left out of the rollups, and the edge days' first replies
CREATE INDEX report_fact_unrolled_idx ON report_fact (cr_t)
	WHERE NOT rolled AND NOT history;
CREATE INDEX report_fact_fr_idx ON report_fact (fr);
-- the backlog at T: cr < T <= rs (or open), by the rounded seconds
CREATE INDEX report_fact_span_idx ON report_fact USING gist ((CASE WHEN
	rs <> 0 AND rs < cr THEN 'empty'::int8range ELSE int8range(cr,
	NULLIF(rs, 0)) END));
-- customer mails from first to last: those across a period's boundary
CREATE INDEX report_fact_cm_span_idx ON report_fact USING gist
	((tstzrange(cm_first, cm_last, '[]'))) WHERE cm_n > 0;
CREATE INDEX report_fact_cm_first_idx ON report_fact (cm_first)
	WHERE cm_n > 0;

-- Per UTC day (unix seconds / 86400) and (queue, assignee): tickets
-- created (by cr), first replies (by fr: their business seconds), and
-- resolutions (by rs: count, SLA, FCR, reopened, business seconds) of
-- the rolled facts; ratings (by csat_at) of every fact.
CREATE TABLE report_day (
	day		integer NOT NULL,
	queue		text NOT NULL,
	agent		text,
	created		bigint NOT NULL,
	resolved	bigint NOT NULL,
	sla_n		bigint NOT NULL,
	sla_met		bigint NOT NULL,
	fcr		bigint NOT NULL,
	reopened	bigint NOT NULL,
	frt		bigint[] NOT NULL,	-- frt_b of the first replies
	res		bigint[] NOT NULL,	-- res_b of the resolutions
	csat_good	bigint NOT NULL,
	csat_okay	bigint NOT NULL,
	csat_bad	bigint NOT NULL
);
CREATE INDEX report_day_idx ON report_day (day);

-- Customer mails per (first mail's day, last mail's day, queue,
-- assignee) of every fact with some: a report counts a row whose days
-- both lie in one period's whole days.
CREATE TABLE report_cm_day (
	day		integer NOT NULL,
	last_day	integer NOT NULL,
	queue		text NOT NULL,
	agent		text,
	mails		bigint NOT NULL,
	tickets		bigint NOT NULL
);
CREATE INDEX report_cm_day_idx ON report_cm_day (day);

-- Escalations (event action 'escalated', level as store_report.c reads
-- it) per day of the event and (queue, assignee) of its ticket.
CREATE TABLE report_esc_day (
	day		integer NOT NULL,
	queue		text NOT NULL,
	agent		text,
	level		integer NOT NULL,
	n		bigint NOT NULL
);
CREATE INDEX report_esc_day_idx ON report_esc_day (day);

-- The days to recompute; no key: an escalation stored by the tick adds a
-- row without waiting for another transaction's (report_day_flush reads
-- them DISTINCT and deletes the ones its snapshot saw).
CREATE TABLE report_day_dirty (
	day		integer NOT NULL
);

-- the days a set of facts counts on
CREATE FUNCTION report_fact_days() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP IN ('UPDATE', 'DELETE') THEN
		INSERT INTO report_day_dirty (day)
		SELECT DISTINCT d FROM old_rows f CROSS JOIN LATERAL (VALUES
			(f.cr / 86400), (NULLIF(f.fr, 0) / 86400), (NULLIF(f.rs, 0) / 86400),
			(floor(extract(epoch FROM f.csat_at) / 86400)),
			(floor(extract(epoch FROM f.cm_first) / 86400))) v(d)
		WHERE d IS NOT NULL;
	END IF;
	-- a ticket's escalations count for its queue and assignee
	IF TG_OP = 'UPDATE' THEN
		INSERT INTO report_day_dirty (day)
		SELECT DISTINCT floor(extract(epoch FROM e.at) / 86400)
		FROM old_rows o JOIN new_rows n ON n.ticket_id = o.ticket_id
		JOIN event e ON e.ticket_id = o.ticket_id AND
			e.action = 'escalated'
		WHERE o.queue IS DISTINCT FROM n.queue OR
			o.agent IS DISTINCT FROM n.agent;
	END IF;
	IF TG_OP IN ('UPDATE', 'INSERT') THEN
		INSERT INTO report_day_dirty (day)
		SELECT DISTINCT d FROM new_rows f CROSS JOIN LATERAL (VALUES
			(f.cr / 86400), (NULLIF(f.fr, 0) / 86400), (NULLIF(f.rs, 0) / 86400),
			(floor(extract(epoch FROM f.csat_at) / 86400)),
			(floor(extract(epoch FROM f.cm_first) / 86400))) v(d)
		WHERE d IS NOT NULL;
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER report_fact_days_insert AFTER INSERT ON report_fact
	REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION report_fact_days();
CREATE TRIGGER report_fact_days_update AFTER UPDATE ON report_fact
	REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION report_fact_days();
CREATE TRIGGER report_fact_days_delete AFTER DELETE ON report_fact
	REFERENCING OLD TABLE AS old_rows
	FOR EACH STATEMENT EXECUTE FUNCTION report_fact_days();

CREATE FUNCTION report_esc_days() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP <> 'INSERT' AND OLD.action = 'escalated' THEN
		INSERT INTO report_day_dirty (day)
		VALUES (floor(extract(epoch FROM OLD.at) / 86400));
	END IF;
	IF TG_OP <> 'DELETE' AND NEW.action = 'escalated' THEN
		INSERT INTO report_day_dirty (day)
		VALUES (floor(extract(epoch FROM NEW.at) / 86400));
	END IF;
	RETURN NULL;
END $$;
-- only escalations: every other event costs nothing
CREATE TRIGGER report_esc_insert AFTER INSERT ON event FOR EACH ROW
	WHEN (NEW.action = 'escalated') EXECUTE FUNCTION report_esc_days();
CREATE TRIGGER report_esc_update AFTER UPDATE ON event FOR EACH ROW
	WHEN (OLD.action = 'escalated' OR NEW.action = 'escalated')
	EXECUTE FUNCTION report_esc_days();
CREATE TRIGGER report_esc_delete AFTER DELETE ON event FOR EACH ROW
	WHEN (OLD.action = 'escalated') EXECUTE FUNCTION report_esc_days();

-- report_day_flush - recompute the dirty days from the facts.  The
-- second of margin on the exact times lets their indexes find the facts
-- of a day by the rounded seconds.
CREATE FUNCTION report_day_flush() RETURNS void LANGUAGE sql AS $$
DELETE FROM report_day r USING report_day_dirty d WHERE r.day = d.day;
DELETE FROM report_cm_day r USING report_day_dirty d WHERE r.day = d.day;
DELETE FROM report_esc_day r USING report_day_dirty d WHERE r.day = d.day;
INSERT INTO report_day (day, queue, agent, created, resolved, sla_n,
	sla_met, fcr, reopened, frt, res, csat_good, csat_okay, csat_bad)
SELECT day, queue, agent, count(*) FILTER (WHERE k = 0),
	count(*) FILTER (WHERE k = 2),
	count(*) FILTER (WHERE k = 2 AND met IS NOT NULL),
	count(*) FILTER (WHERE k = 2 AND met),
	count(*) FILTER (WHERE k = 2 AND fcr),
	count(*) FILTER (WHERE k = 2 AND reopened),
	COALESCE(array_agg(v) FILTER (WHERE k = 1 AND v IS NOT NULL), '{}'),
	COALESCE(array_agg(v) FILTER (WHERE k = 2 AND v IS NOT NULL), '{}'),
	count(*) FILTER (WHERE k = 3 AND v = 1),
	count(*) FILTER (WHERE k = 3 AND v = 2),
	count(*) FILTER (WHERE k = 3 AND v = 3)
FROM (
	SELECT d.day, f.queue, f.agent, 0 AS k, NULL::bigint AS v,
		NULL::boolean AS met, false AS fcr, false AS reopened
	FROM (SELECT DISTINCT day FROM report_day_dirty) d JOIN report_fact f ON f.cr_t >=
		to_timestamp(d.day::bigint * 86400 - 1) AND f.cr_t <
		to_timestamp((d.day + 1)::bigint * 86400 + 1) AND
		f.cr / 86400 = d.day AND f.rolled
	UNION ALL
	SELECT d.day, f.queue, f.agent, 1, f.frt_b, NULL, false, false
	FROM (SELECT DISTINCT day FROM report_day_dirty) d JOIN report_fact f ON f.fr >=
		d.day::bigint * 86400 AND f.fr < (d.day + 1)::bigint * 86400
		AND f.rolled
	UNION ALL
	SELECT d.day, f.queue, f.agent, 2, f.res_b, f.met, f.fcr, f.reopened
	FROM (SELECT DISTINCT day FROM report_day_dirty) d JOIN report_fact f ON f.rs_t >=
		to_timestamp(d.day::bigint * 86400 - 1) AND f.rs_t <
		to_timestamp((d.day + 1)::bigint * 86400 + 1) AND
		f.rs <> 0 AND f.rs / 86400 = d.day AND f.rolled
	UNION ALL
	SELECT d.day, f.queue, f.agent, 3, f.csat, NULL, false, false
	FROM (SELECT DISTINCT day FROM report_day_dirty) d JOIN report_fact f ON f.csat_at >=
		to_timestamp(d.day::bigint * 86400) AND f.csat_at <
		to_timestamp((d.day + 1)::bigint * 86400) AND
		f.csat_at IS NOT NULL
) x GROUP BY day, queue, agent;
INSERT INTO report_cm_day (day, last_day, queue, agent, mails, tickets)
SELECT d.day, floor(extract(epoch FROM f.cm_last) / 86400), f.queue,
	f.agent, sum(f.cm_n), count(*)
FROM (SELECT DISTINCT day FROM report_day_dirty) d JOIN report_fact f ON f.cm_n > 0 AND
	f.cm_first >= to_timestamp(d.day::bigint * 86400) AND
	f.cm_first < to_timestamp((d.day + 1)::bigint * 86400)
GROUP BY 1, 2, 3, 4;
INSERT INTO report_esc_day (day, queue, agent, level, n)
SELECT d.day, t.queue, t.assignee, LEAST(COALESCE(substring(e.detail FROM
	'^level ([0-9]{1,6})')::int, 1), 99), count(*)
FROM (SELECT DISTINCT day FROM report_day_dirty) d JOIN event e ON
	e.action LIKE 'escalat%' AND e.action = 'escalated' AND
	e.at >= to_timestamp(d.day::bigint * 86400) AND
	e.at < to_timestamp((d.day + 1)::bigint * 86400)
JOIN ticket t ON t.id = e.ticket_id
GROUP BY 1, 2, 3, 4;
DELETE FROM report_day_dirty;
$$;

-- the rollups of the facts and escalations there are (the next report
-- computes the stale facts and flushes their days)
INSERT INTO report_day_dirty (day)
SELECT DISTINCT floor(extract(epoch FROM at) / 86400) FROM event
WHERE action LIKE 'escalat%' AND action = 'escalated';
INSERT INTO report_day_dirty (day)
SELECT DISTINCT d FROM report_fact f CROSS JOIN LATERAL (VALUES
	(f.cr / 86400), (NULLIF(f.fr, 0) / 86400), (NULLIF(f.rs, 0) / 86400),
	(floor(extract(epoch FROM f.csat_at) / 86400)),
	(floor(extract(epoch FROM f.cm_first) / 86400))) v(d)
WHERE d IS NOT NULL;
