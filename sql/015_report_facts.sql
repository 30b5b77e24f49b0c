-- 015_report_facts: NPS answers beside the CSAT ratings, and what `tickctl report` needs of each ticket, computed
-- once in C (business time walks the calendars of the config, sla.c) and
-- aggregated in SQL, so that a year over a million tickets does not move
-- every ticket to the client on every report.
--
-- A fact is valid while its ticket, SLA clock and pending clock changes
-- are as they were when it was computed and the config's calendars and
-- policies hash to report_fact_meta.fp.  Triggers in the transactions that
-- change those rows put the ticket into report_stale; the next report
-- recomputes exactly the stale tickets (store_report.c) and removes them
-- from report_stale in its own transaction, holding a share lock on the
-- ticket and clock rows so that no change slips in between.

CREATE TABLE report_fact (
	ticket_id	bigint PRIMARY KEY REFERENCES ticket(id) ON DELETE CASCADE,
	queue		text NOT NULL,
	agent		text,			-- assignee
	history		boolean NOT NULL,	-- 012: not in the report's KPIs
	-- the exact times select the tickets as the unrolled query does;
	-- the rounded seconds are what report.c counts with
	cr_t		timestamptz NOT NULL,	-- created
	rs_t		timestamptz,		-- resolved_at else closed_at
	cr		bigint NOT NULL,	-- created (unix seconds)
	fr		bigint NOT NULL,	-- first agent reply, 0 = none
	rs		bigint NOT NULL,	-- resolved_at else closed_at, 0 = open
	frt_b		bigint,			-- business seconds created -> fr
	res_b		bigint,			-- business seconds created -> rs
	met		boolean,		-- SLA met at rs; NULL = no policy
	fcr		boolean NOT NULL,
	reopened	boolean NOT NULL,
	over		bigint,			-- worst breach at rs; NULL = none
	what		smallint NOT NULL DEFAULT 0	-- 1 response, 2 resolution
);
-- a short period over a long history: the OR of these two, as 005 does
-- for the ticket table
CREATE INDEX report_fact_cr_idx ON report_fact (cr_t);
CREATE INDEX report_fact_rs_idx ON report_fact (rs_t);
CREATE INDEX report_fact_open_idx ON report_fact (cr_t) WHERE rs_t IS NULL;

CREATE TABLE report_stale (
	ticket_id	bigint PRIMARY KEY REFERENCES ticket(id) ON DELETE CASCADE
);

-- The fingerprint of the calendars and policies the facts were computed
-- with; another one makes every fact stale.
CREATE TABLE report_fact_meta (
	one		boolean PRIMARY KEY DEFAULT true CHECK (one),
	fp		bigint NOT NULL
);

CREATE FUNCTION report_stale_ticket() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO report_stale (ticket_id) VALUES (NEW.id)
		ON CONFLICT DO NOTHING;
	RETURN NULL;
END $$;

CREATE FUNCTION report_stale_clock() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'DELETE' THEN
		INSERT INTO report_stale (ticket_id) SELECT OLD.ticket_id
			WHERE EXISTS (SELECT 1 FROM ticket WHERE id = OLD.ticket_id)
			ON CONFLICT DO NOTHING;
	ELSE
		INSERT INTO report_stale (ticket_id) VALUES (NEW.ticket_id)
			ON CONFLICT DO NOTHING;
	END IF;
	RETURN NULL;
END $$;

CREATE TRIGGER report_stale_insert AFTER INSERT ON ticket
	FOR EACH ROW EXECUTE FUNCTION report_stale_ticket();
CREATE TRIGGER report_stale_update AFTER UPDATE ON ticket
	FOR EACH ROW WHEN (
		OLD.queue IS DISTINCT FROM NEW.queue OR
		OLD.assignee IS DISTINCT FROM NEW.assignee OR
		OLD.priority IS DISTINCT FROM NEW.priority OR
		OLD.created IS DISTINCT FROM NEW.created OR
		OLD.first_response_at IS DISTINCT FROM NEW.first_response_at OR
		OLD.last_customer_at IS DISTINCT FROM NEW.last_customer_at OR
		OLD.last_agent_at IS DISTINCT FROM NEW.last_agent_at OR
		OLD.resolved_at IS DISTINCT FROM NEW.resolved_at OR
		OLD.closed_at IS DISTINCT FROM NEW.closed_at OR
		OLD.reopen_count IS DISTINCT FROM NEW.reopen_count OR
		OLD.history IS DISTINCT FROM NEW.history)
	EXECUTE FUNCTION report_stale_ticket();
-- the clock fields report.c reads (STORE_REPORT_CLOCK)
CREATE TRIGGER report_stale_clock AFTER UPDATE ON sla_clock
	FOR EACH ROW WHEN (
		OLD.initialized IS DISTINCT FROM NEW.initialized OR
		OLD.status IS DISTINCT FROM NEW.status OR
		OLD.first_response_at IS DISTINCT FROM NEW.first_response_at OR
		OLD.run_since IS DISTINCT FROM NEW.run_since OR
		OLD.paused_since IS DISTINCT FROM NEW.paused_since OR
		OLD.resolution_run_secs IS DISTINCT FROM NEW.resolution_run_secs OR
		OLD.awaiting_since IS DISTINCT FROM NEW.awaiting_since OR
		OLD.response_run_secs IS DISTINCT FROM NEW.response_run_secs OR
		OLD.first_response_secs IS DISTINCT FROM NEW.first_response_secs)
	EXECUTE FUNCTION report_stale_clock();
CREATE TRIGGER report_stale_clock_row AFTER INSERT OR DELETE ON sla_clock
	FOR EACH ROW EXECUTE FUNCTION report_stale_clock();
-- a pending change makes the clock unusable until the tick replays it
CREATE TRIGGER report_stale_change AFTER INSERT OR DELETE ON sla_change
	FOR EACH ROW EXECUTE FUNCTION report_stale_clock();

INSERT INTO report_stale (ticket_id) SELECT id FROM ticket;

-- "How likely are you to recommend us?" 0-10 (csat.nps): one answer per
-- ticket, like csat_rating.
CREATE TABLE nps_rating (
	ticket_id	bigint PRIMARY KEY REFERENCES ticket(id) ON DELETE CASCADE,
	score		integer NOT NULL CHECK (score BETWEEN 0 AND 10),
	from_addr	text,
	message_id	bigint REFERENCES message(id) ON DELETE SET NULL,
	at		timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX nps_rating_at_idx ON nps_rating (at);
