-- 011_quarantine: mail that could not be stored is set aside, never a wall.
-- When ingesting one mail fails for a reason that will not go away by
-- itself (a value PostgreSQL refuses, a constraint, a bug), tickd keeps
-- its raw bytes and the error here, in the same transaction that moves the
-- IMAP cursor past it, so the mails behind it go on.  Transient failures
-- (connection lost, serialization, disk full) are still retried.
CREATE TABLE quarantine (
	id		bigserial PRIMARY KEY,
	mailbox		text,			-- cursor key "queue:folder"; NULL: tickctl import
	source		text NOT NULL,		-- "support:INBOX", "tickctl import"
	uidvalidity	bigint,
	uid		bigint,
	-- one mail is kept once however often it is fetched again
	raw_sha256	text NOT NULL UNIQUE,
	error		text NOT NULL,
	size		integer NOT NULL,
	raw		bytea NOT NULL,
	received	timestamptz NOT NULL DEFAULT now()
);
-- tickctl status counts them per mailbox
CREATE INDEX quarantine_mailbox_idx ON quarantine (mailbox, id);
-- tickctl status counts the tickets flagged for review (a mail cut to
-- tickd's bounds, unparsable, without sender): few, so a small index
CREATE INDEX ticket_review_idx ON ticket (id) WHERE needs_review;
