-- 012_history: mail from before tickd (a full mailbox on the first poll,
-- `tickctl import --history` of an old helpdesk's archive) is stored as
-- history: closed tickets that were never answered by tickd, with no SLA
-- clock, no acknowledgement and no place in the report's ticket KPIs.
--
-- ticket.history marks such a ticket for good.  live_since is set when a
-- live mail (or an agent) reopens it: from then on it is a live ticket
-- whose SLA clock starts at live_since, not at the old mail's date (which
-- would be a breach before anyone saw it).
ALTER TABLE ticket ADD COLUMN history boolean NOT NULL DEFAULT false;
ALTER TABLE ticket ADD COLUMN live_since timestamptz;

-- The first poll of a mailbox records UIDNEXT here: mail below it (in the
-- same UIDVALIDITY) was there before tickd and is history.  Kept across
-- polls so that an interrupted first run of 50,000 mails goes on as it
-- began; a UIDVALIDITY reset sets it back to 0 (the age guard is then what
-- keeps old mail silent).
ALTER TABLE mailbox_state ADD COLUMN history_uid bigint NOT NULL DEFAULT 0;

-- No clock for history tickets.
CREATE OR REPLACE FUNCTION sla_ticket_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NOT NEW.history THEN
		INSERT INTO sla_clock (ticket_id, next_check) VALUES (NEW.id, now());
	END IF;
	RETURN NULL;
END $$;

-- A history ticket becomes live when it is opened again.
CREATE FUNCTION history_ticket_revive() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF OLD.history AND OLD.live_since IS NULL AND
	   NEW.status IN ('new', 'open', 'pending') THEN
		NEW.live_since := NEW.updated;
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER history_ticket_revive BEFORE UPDATE ON ticket
	FOR EACH ROW WHEN (OLD.history) EXECUTE FUNCTION history_ticket_revive();

-- ... and gets its clock then; the changes of this same UPDATE (status,
-- customer mail) are written by sla_ticket_update and replayed on it.
CREATE FUNCTION history_ticket_clock() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO sla_clock (ticket_id, next_check) VALUES (NEW.id, now())
		ON CONFLICT (ticket_id) DO NOTHING;
	RETURN NULL;
END $$;
CREATE TRIGGER history_ticket_clock AFTER UPDATE ON ticket
	FOR EACH ROW WHEN (OLD.live_since IS NULL AND NEW.live_since IS NOT NULL)
	EXECUTE FUNCTION history_ticket_clock();
