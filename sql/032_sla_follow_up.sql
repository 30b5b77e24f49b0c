-- 032_sla_follow_up: a customer's follow-up while an answer is awaited
-- changes no SLA clock, so it writes no change for the tick to replay.
--
-- sla_on_customer_message (sla.c) starts the response clock only when
-- nobody waits (awaiting_since = 0); otherwise it sets nothing but the
-- clock's copy of last_customer_at, which no evaluation reads (the ticket's
-- own last_customer_at is written as before).  Before, every follow-up
-- wrote an sla_change row (its report_stale mark with it), moved the
-- clock's next_check (a new entry in two indexes) and made the tick read,
-- rewrite and delete them again.
--
-- The shortcut is taken only when the stored clock is current: initialized,
-- awaiting, and no change of the ticket waiting to be replayed (one of this
-- transaction's own included).  One statement reads both, so it sees one
-- snapshot; and no other change of this ticket can be written meanwhile,
-- since every change comes through an UPDATE of the ticket row this
-- statement holds.  In every other case the change is written as before.
CREATE OR REPLACE FUNCTION sla_ticket_update() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	changed boolean := false;
	waits boolean;
BEGIN
	IF NEW.status IS DISTINCT FROM OLD.status THEN
		INSERT INTO sla_change (ticket_id, at, kind, status) VALUES
			(NEW.id, extract(epoch FROM NEW.updated)::bigint,
			 'status', NEW.status);
		changed := true;
	END IF;
	IF NEW.last_customer_at IS DISTINCT FROM OLD.last_customer_at AND
	   NEW.last_customer_at IS NOT NULL THEN
		IF NOT changed THEN
			SELECT c.initialized AND c.awaiting_since <> 0 AND
			       NOT EXISTS (SELECT 1 FROM sla_change s
			                   WHERE s.ticket_id = NEW.id)
			INTO waits FROM sla_clock c WHERE c.ticket_id = NEW.id;
		END IF;
		IF waits IS NOT TRUE THEN
			INSERT INTO sla_change (ticket_id, at, kind) VALUES
				(NEW.id, extract(epoch FROM NEW.last_customer_at)::bigint,
				 'customer');
			changed := true;
		END IF;
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
