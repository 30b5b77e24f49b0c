-- 022_reports2: the customer mails and the CSAT rating of each ticket in
-- its report fact, so that the report's "customer mails", "tickets they
-- came in on" (the contact ratio) and ratings need not group every mail
-- of the period by ticket and join a million tickets (the larger half of
-- a year's report over 1M tickets, tests/bench_report.sh): one scan of
-- the facts counts them.  store_report.c counts a ticket whose
-- customer mails all lie inside a period from these columns and looks at
-- the mails themselves only for the few whose mails straddle a period's
-- start or end.
--
-- The columns are valid while the fact is (015): a customer mail stored,
-- moved to another ticket or deleted marks its ticket(s) stale here,
-- even when the ticket row itself did not change (two mails in one
-- second leave last_customer_at as it was).

ALTER TABLE report_fact
	ADD COLUMN cm_first timestamptz,	-- first customer mail received
	ADD COLUMN cm_last timestamptz,		-- last one
	ADD COLUMN cm_n integer NOT NULL DEFAULT 0,	-- how many
	-- csat_rating: 1 good, 2 okay, 3 bad (report.h), when
	ADD COLUMN csat smallint,
	ADD COLUMN csat_at timestamptz;
-- a short period over a long history: the tickets mailed since its start
CREATE INDEX report_fact_cm_idx ON report_fact (cm_last) WHERE cm_n > 0;
CREATE INDEX report_fact_csat_idx ON report_fact (csat_at)
	WHERE csat_at IS NOT NULL;

CREATE FUNCTION report_stale_message() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP <> 'INSERT' AND OLD.ticket_id IS NOT NULL THEN
		INSERT INTO report_stale (ticket_id) SELECT OLD.ticket_id
			WHERE EXISTS (SELECT 1 FROM ticket WHERE id = OLD.ticket_id)
			ON CONFLICT DO NOTHING;
	END IF;
	IF TG_OP <> 'DELETE' AND NEW.ticket_id IS NOT NULL THEN
		INSERT INTO report_stale (ticket_id) VALUES (NEW.ticket_id)
			ON CONFLICT DO NOTHING;
	END IF;
	RETURN NULL;
END $$;

-- only customer mail: agent replies, notices and machine mail cost nothing
CREATE TRIGGER report_stale_message AFTER INSERT ON message
	FOR EACH ROW WHEN (NEW.direction = 'in' AND NEW.role = 'customer')
	EXECUTE FUNCTION report_stale_message();
CREATE TRIGGER report_stale_message_move AFTER UPDATE OF ticket_id, received,
		role, direction ON message
	FOR EACH ROW WHEN ((OLD.direction = 'in' AND OLD.role = 'customer') OR
		(NEW.direction = 'in' AND NEW.role = 'customer'))
	EXECUTE FUNCTION report_stale_message();
CREATE TRIGGER report_stale_message_delete AFTER DELETE ON message
	FOR EACH ROW WHEN (OLD.direction = 'in' AND OLD.role = 'customer')
	EXECUTE FUNCTION report_stale_message();

-- a rating given, changed or taken back (forget, purge)
CREATE TRIGGER report_stale_csat AFTER INSERT OR UPDATE OR DELETE
	ON csat_rating FOR EACH ROW EXECUTE FUNCTION report_stale_message();

-- the worst breaches of a long period: the largest first, not a sort of
-- every fact resolved in it
CREATE INDEX report_fact_over_idx ON report_fact (over DESC, ticket_id)
	WHERE over IS NOT NULL;

-- machine mail stored (the report's "machine mail suppressed"): a few in
-- a hundred mails; without this a year's count reads every mail
CREATE INDEX message_machine_idx ON message (received)
	WHERE direction = 'in' AND role = 'other';

-- every fact lacks the new columns until computed again
INSERT INTO report_stale (ticket_id) SELECT id FROM ticket
	ON CONFLICT DO NOTHING;
