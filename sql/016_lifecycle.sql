-- 016_lifecycle: pending and resolved tickets move on by themselves
-- (lifecycle.c): pending N business days -> a reminder to the customer,
-- M more -> closed with a notice; resolved K business days -> closed.
--
-- status_since: when the ticket entered its current status, kept by a
-- trigger so that every writer (ingest, tickctl, an agent's #status, plain
-- SQL) is seen without knowing about the lifecycle.  The writer's own
-- `updated` is the instant when it sets one (ingest and tickctl pass the
-- mail's time), else now().
-- reminded_at: the pending reminder of the current stretch was queued;
-- cleared by every status change, so a customer answer (pending -> open)
-- stops the sequence and a later pending starts a fresh one.
ALTER TABLE ticket ADD COLUMN status_since timestamptz;
ALTER TABLE ticket ADD COLUMN reminded_at timestamptz;
-- A ticket pending before the upgrade starts its clock now: an upgrade
-- must not send a burst of reminders about tickets pending for months.
UPDATE ticket SET status_since = CASE WHEN status = 'pending' THEN now()
	ELSE COALESCE(closed_at, resolved_at, updated, created) END;
ALTER TABLE ticket ALTER COLUMN status_since SET DEFAULT now();

CREATE FUNCTION ticket_status_since() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'INSERT' THEN
		NEW.status_since := COALESCE(NEW.created, now());
	ELSIF NEW.status IS DISTINCT FROM OLD.status THEN
		NEW.status_since := CASE WHEN NEW.updated IS DISTINCT FROM OLD.updated
		                         THEN NEW.updated ELSE now() END;
		NEW.reminded_at := NULL;
	END IF;
	RETURN NEW;
END $$;

CREATE TRIGGER ticket_status_since BEFORE INSERT OR UPDATE ON ticket
	FOR EACH ROW EXECUTE FUNCTION ticket_status_since();

-- the lifecycle pass looks only at these
CREATE INDEX ticket_lifecycle_idx ON ticket (status_since)
	WHERE status IN ('pending', 'resolved');
