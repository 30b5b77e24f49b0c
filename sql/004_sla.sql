-- 004_sla: SLA clocks, escalation notices and digests.
--
-- The clock state of one ticket is the plain integers of sla.h's struct
-- sla_ticket (unix seconds), so the C side can replay events exactly.
-- Tickets created before this migration are not tracked: starting their
-- clocks at their creation time would escalate every old ticket at once.

CREATE TABLE sla_clock (
	ticket_id	bigint PRIMARY KEY REFERENCES ticket(id) ON DELETE CASCADE,
	initialized	boolean NOT NULL DEFAULT false,
	status		integer NOT NULL DEFAULT 0,
	first_response_at bigint NOT NULL DEFAULT 0,
	last_customer_at bigint NOT NULL DEFAULT 0,
	last_agent_at	bigint NOT NULL DEFAULT 0,
	resolved_at	bigint NOT NULL DEFAULT 0,
	run_since	bigint NOT NULL DEFAULT 0,
	paused_since	bigint NOT NULL DEFAULT 0,
	resolution_run_secs bigint NOT NULL DEFAULT 0,
	awaiting_since	bigint NOT NULL DEFAULT 0,
	response_run_secs bigint NOT NULL DEFAULT 0,
	first_response_secs bigint NOT NULL DEFAULT 0,
	-- struct sla_esc_state: per kind (response, resolution, immediate)
	esc_start	bigint[] NOT NULL DEFAULT '{0,0,0}',
	esc_fired	bigint[] NOT NULL DEFAULT '{0,0,0}',
	-- a priority rule asked for immediate escalation (cleared when queued)
	immediate	text,
	-- when the tick must look again; NULL = only an event changes anything
	next_check	timestamptz,
	-- what tickctl ticket N --json shows: due times and breach state as of
	-- evaluated_at (written by the tick)
	view		jsonb,
	evaluated_at	timestamptz
);
CREATE INDEX sla_clock_due_idx ON sla_clock (next_check)
	WHERE next_check IS NOT NULL;

-- Changes the clocks must replay, in order.  Written by triggers so that
-- every writer of a ticket (ingest, agent #commands, tickctl) is seen
-- without each of them knowing about SLAs; consumed by the tick.
CREATE TABLE sla_change (
	id		bigserial PRIMARY KEY,
	ticket_id	bigint NOT NULL REFERENCES ticket(id) ON DELETE CASCADE,
	at		bigint NOT NULL,
	kind		text NOT NULL CHECK (kind IN ('customer', 'agent', 'status')),
	status		text
);
CREATE INDEX sla_change_ticket_idx ON sla_change (ticket_id, id);

-- One pending or sent escalation for one addressee; batched into digests.
CREATE TABLE sla_notice (
	id		bigserial PRIMARY KEY,
	ticket_id	bigint NOT NULL REFERENCES ticket(id) ON DELETE CASCADE,
	rcpt		text NOT NULL,
	kind		text NOT NULL,	-- first_response | next_response | resolution | immediate
	level		integer NOT NULL,
	breach_at	bigint NOT NULL,
	reason		text,
	queued_at	bigint NOT NULL,
	sent_at		bigint		-- NULL while pending
);
CREATE INDEX sla_notice_pending_idx ON sla_notice (rcpt, id)
	WHERE sent_at IS NULL;
CREATE INDEX sla_notice_ticket_idx ON sla_notice (ticket_id, id);

-- When the last notice or digest went to an addressee.
CREATE TABLE sla_digest (
	rcpt		text PRIMARY KEY,
	last_at		bigint NOT NULL
);

CREATE FUNCTION sla_ticket_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO sla_clock (ticket_id, next_check) VALUES (NEW.id, now());
	RETURN NULL;
END $$;

CREATE FUNCTION sla_ticket_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	changed boolean := false;
BEGIN
	IF NEW.status IS DISTINCT FROM OLD.status THEN
		INSERT INTO sla_change (ticket_id, at, kind, status) VALUES
			(NEW.id, extract(epoch FROM NEW.updated)::bigint,
			 'status', NEW.status);
		changed := true;
	END IF;
	IF NEW.last_customer_at IS DISTINCT FROM OLD.last_customer_at AND
	   NEW.last_customer_at IS NOT NULL THEN
		INSERT INTO sla_change (ticket_id, at, kind) VALUES
			(NEW.id, extract(epoch FROM NEW.last_customer_at)::bigint,
			 'customer');
		changed := true;
	END IF;
	IF NEW.last_agent_at IS DISTINCT FROM OLD.last_agent_at AND
	   NEW.last_agent_at IS NOT NULL THEN
		INSERT INTO sla_change (ticket_id, at, kind) VALUES
			(NEW.id, extract(epoch FROM NEW.last_agent_at)::bigint,
			 'agent');
		changed := true;
	END IF;
	IF changed OR NEW.priority IS DISTINCT FROM OLD.priority OR
	   NEW.queue IS DISTINCT FROM OLD.queue THEN
		UPDATE sla_clock SET next_check = now() WHERE ticket_id = NEW.id;
	END IF;
	RETURN NULL;
END $$;

CREATE TRIGGER sla_ticket_insert AFTER INSERT ON ticket
	FOR EACH ROW EXECUTE FUNCTION sla_ticket_insert();
CREATE TRIGGER sla_ticket_update AFTER UPDATE ON ticket
	FOR EACH ROW EXECUTE FUNCTION sla_ticket_update();
