-- 033_status_since_when: ticket_status_since (016) is called only when it
-- would change the row.
--
-- It fired for every INSERT and every UPDATE of a ticket, and did nothing
-- for an UPDATE that leaves the status alone: a customer's follow-up, an
-- agent's answer, an assignment.  A PL/pgSQL call on the ticket's wide row
-- cost 6 us of such an UPDATE's 89 (pgbench, 60 follow-up UPDATEs per
-- transaction in a pipeline, on a database the benchmark left).  Now the
-- condition under which the function acts is the trigger's WHEN, which
-- PostgreSQL tests without calling it; for a BEFORE trigger it is tested
-- just before the function would run (after history_ticket_revive, as
-- before: triggers fire in name order), so the outcome is the same.
-- An INSERT that already carries the value the function would set (ingest
-- passes status_since = created) calls nothing either; any other INSERT,
-- e.g. one that leaves status_since to its default, is set as before.
DROP TRIGGER ticket_status_since ON ticket;

CREATE TRIGGER ticket_status_since BEFORE INSERT ON ticket FOR EACH ROW
	WHEN (NEW.status_since IS DISTINCT FROM COALESCE(NEW.created, now()))
	EXECUTE FUNCTION ticket_status_since();

CREATE TRIGGER ticket_status_since_change BEFORE UPDATE ON ticket
	FOR EACH ROW WHEN (NEW.status IS DISTINCT FROM OLD.status)
	EXECUTE FUNCTION ticket_status_since();
