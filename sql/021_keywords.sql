-- 021_keywords: the ticket's state as IMAP keywords on the shared
-- mailbox's copies of its mails (keywords.c), and auto-assignment of new
-- tickets with agents' away times (assign.c).

-- Where a stored mail sits on the IMAP server: written after the COMMIT
-- that stored the mail (imap.keywords only), one row per fetched copy.
-- Not state: a lost row only means a mail without keywords.
CREATE TABLE imap_copy (
	mailbox		text NOT NULL,		-- cursor key "<queue>:<folder>"
	uidvalidity	bigint NOT NULL,
	uid		bigint NOT NULL,
	ticket_id	bigint NOT NULL REFERENCES ticket(id) ON DELETE CASCADE,
	PRIMARY KEY (mailbox, uidvalidity, uid)
);
CREATE INDEX imap_copy_ticket_idx ON imap_copy (ticket_id, mailbox);

-- Per mailbox and ticket: which keywords still have to be written
-- (dirty_since not NULL) and the $Assigned- keyword written last, so that
-- a reassignment removes it.  The pass of the mailbox's fetcher (who holds
-- its advisory lock) clears dirty_since only if nobody dirtied it again
-- meanwhile.
CREATE TABLE imap_keyword (
	mailbox		text NOT NULL,
	ticket_id	bigint NOT NULL REFERENCES ticket(id) ON DELETE CASCADE,
	dirty_since	timestamptz,
	assigned_kw	text,
	PRIMARY KEY (mailbox, ticket_id)
);
CREATE INDEX imap_keyword_dirty_idx ON imap_keyword (mailbox, dirty_since)
	WHERE dirty_since IS NOT NULL;

-- Every writer of a ticket's status or assignee (ingest, tickctl, the
-- lifecycle, plain SQL) dirties its keywords without knowing about them.
-- Without imap.keywords imap_copy is empty and this is one index probe.
CREATE FUNCTION imap_keyword_dirty() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	-- one row per mailbox: an upsert may touch a row only once
	INSERT INTO imap_keyword (mailbox, ticket_id, dirty_since)
		SELECT d.mailbox, NEW.id, clock_timestamp() FROM (SELECT
		DISTINCT c.mailbox FROM imap_copy c WHERE c.ticket_id = NEW.id) d
	ON CONFLICT (mailbox, ticket_id)
		DO UPDATE SET dirty_since = EXCLUDED.dirty_since;
	RETURN NULL;
END $$;

CREATE TRIGGER imap_keyword_dirty AFTER UPDATE OF status, assignee ON ticket
	FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR
	                   OLD.assignee IS DISTINCT FROM NEW.assignee)
	EXECUTE FUNCTION imap_keyword_dirty();

-- Agents away (#away until DATE, #back): not given new tickets by the
-- auto-assignment.  until NULL: away until #back.
CREATE TABLE agent_away (
	address		text PRIMARY KEY,	-- people.*.address, lower case
	since		timestamptz NOT NULL DEFAULT now(),
	until		timestamptz
);

-- One row per queue: the auto-assignment locks it (FOR UPDATE through the
-- upsert), so that two tickd instances assigning at once take turns and
-- count each other's tickets; last_agent is the round robin's position.
CREATE TABLE assign_state (
	queue		text PRIMARY KEY,
	last_agent	text
);

-- fewest_open counts each agent's open tickets on every new ticket;
-- unassigned tickets (all of them without auto_assign) stay out of it
CREATE INDEX ticket_assignee_open_idx ON ticket (assignee)
	WHERE assignee IS NOT NULL AND status IN ('new', 'open', 'pending');

-- A merged ticket's copies are the survivor's mails now (020_merge moves
-- the messages; merged_into is set in the same transaction): they get the
-- survivor's keywords at the next pass.  $Ticket<merged> stays on them: the
-- merged number is an alias of the survivor.
CREATE FUNCTION imap_copy_merged() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE imap_copy SET ticket_id = NEW.merged_into
		WHERE ticket_id = NEW.id;
	INSERT INTO imap_keyword (mailbox, ticket_id, dirty_since)
		SELECT d.mailbox, NEW.merged_into, clock_timestamp() FROM
		(SELECT DISTINCT c.mailbox FROM imap_copy c
		 WHERE c.ticket_id = NEW.merged_into) d
	ON CONFLICT (mailbox, ticket_id)
		DO UPDATE SET dirty_since = EXCLUDED.dirty_since;
	RETURN NULL;
END $$;

CREATE TRIGGER imap_copy_merged AFTER UPDATE OF merged_into ON ticket
	FOR EACH ROW WHEN (NEW.merged_into IS NOT NULL AND
	                   OLD.merged_into IS DISTINCT FROM NEW.merged_into)
	EXECUTE FUNCTION imap_copy_merged();
