-- 001_init: tickets, messages with their raw bytes, the IMAP cursor, the
-- outbox and the audit trail.  Forward-only; tickctl migrate applies each
-- numbered file once, in its own transaction, and records it.

-- Ticket numbers start at 1000 so that "#1042" looks like a ticket number
-- and not like a list index.
CREATE SEQUENCE ticket_number START 1000;

CREATE TABLE ticket (
	id		bigint PRIMARY KEY DEFAULT nextval('ticket_number'),
	queue		text NOT NULL,
	subject		text NOT NULL,
	status		text NOT NULL DEFAULT 'new'
			CHECK (status IN ('new', 'open', 'pending', 'resolved', 'closed')),
	priority	text NOT NULL DEFAULT 'normal'
			CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
	requester	text NOT NULL,		-- address, lower case
	requester_name	text,
	assignee	text,
	needs_review	boolean NOT NULL DEFAULT false,
	review_reason	text,
	linked_ticket	bigint REFERENCES ticket(id),
	language	text,
	created		timestamptz NOT NULL DEFAULT now(),
	updated		timestamptz NOT NULL DEFAULT now(),
	first_response_at timestamptz,
	last_customer_at timestamptz,
	last_agent_at	timestamptz,
	resolved_at	timestamptz,
	closed_at	timestamptz,
	reopen_count	integer NOT NULL DEFAULT 0
);
ALTER SEQUENCE ticket_number OWNED BY ticket.id;
CREATE INDEX ticket_status_idx ON ticket (status, created);
CREATE INDEX ticket_requester_idx ON ticket (requester);

-- Who may write into a ticket without a signed reference: the requester
-- and whoever was on its mails (To/Cc).
CREATE TABLE participant (
	ticket_id	bigint NOT NULL REFERENCES ticket(id) ON DELETE CASCADE,
	addr		text NOT NULL,
	name		text,
	role		text NOT NULL DEFAULT 'cc',	-- requester | cc | agent
	PRIMARY KEY (ticket_id, addr)
);
CREATE INDEX participant_addr_idx ON participant (addr);

-- ticket_id is NULL for machine mail that belongs to no ticket (a bounce
-- of nothing we sent, our own looped mail): kept, never a junk ticket.
CREATE TABLE message (
	id		bigserial PRIMARY KEY,
	ticket_id	bigint REFERENCES ticket(id) ON DELETE CASCADE,
	-- one mail is one message however often it arrives: "mid:<id>" or,
	-- without a Message-ID, "sha256:<hex of the raw bytes>"
	dedupe_key	text NOT NULL UNIQUE,
	message_id	text,			-- without <>
	direction	text NOT NULL CHECK (direction IN ('in', 'out')),
	role		text NOT NULL		-- customer | agent | note | system
			CHECK (role IN ('customer', 'agent', 'note', 'system', 'other')),
	class		text NOT NULL DEFAULT 'human',
	class_reason	text,
	source		text,			-- "support:INBOX", "tickctl import"
	from_addr	text,
	from_name	text,
	to_addrs	text,
	cc_addrs	text,
	subject		text NOT NULL DEFAULT '',
	body_text	text NOT NULL DEFAULT '',
	body_new	text NOT NULL DEFAULT '',
	body_html	text,
	sent_date	timestamptz,
	received	timestamptz NOT NULL DEFAULT now(),
	defects		text[],
	unparsed	boolean NOT NULL DEFAULT false,
	size		integer NOT NULL DEFAULT 0,
	raw		bytea			-- NULL only after retention purge
);
CREATE INDEX message_ticket_idx ON message (ticket_id, id);
CREATE INDEX message_msgid_idx ON message (message_id);

-- Attachments live in their own rows (bytea, TOASTed and compressed by
-- PostgreSQL): they ride the same transaction and backup as the mail,
-- which large objects would not (pg_dump -t, ON DELETE CASCADE).
CREATE TABLE attachment (
	id		bigserial PRIMARY KEY,
	message_id	bigint NOT NULL REFERENCES message(id) ON DELETE CASCADE,
	filename	text NOT NULL,
	content_type	text NOT NULL,
	content_id	text,
	is_inline	boolean NOT NULL DEFAULT false,
	size		integer NOT NULL,
	data		bytea
);
CREATE INDEX attachment_message_idx ON attachment (message_id);

-- The IMAP cursor.  last_uid moves in the same transaction as the mails up
-- to it; marked_uid trails it and says up to where the after-commit side
-- effect (\Seen or MOVE) was done, so a crash in between is repaired.
CREATE TABLE mailbox_state (
	mailbox		text PRIMARY KEY,	-- "<queue>:<folder>"
	uidvalidity	bigint NOT NULL,
	last_uid	bigint NOT NULL DEFAULT 0,
	marked_uid	bigint NOT NULL DEFAULT 0,
	last_fetch	timestamptz,
	last_ok		timestamptz,
	last_error	text,
	last_error_at	timestamptz,
	failures	integer NOT NULL DEFAULT 0,
	updated		timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE outbox (
	id		bigserial PRIMARY KEY,
	ticket_id	bigint REFERENCES ticket(id) ON DELETE CASCADE,
	message_id	bigint REFERENCES message(id) ON DELETE SET NULL,
	kind		text NOT NULL,		-- ack | notice | digest | ...
	env_from	text NOT NULL,		-- envelope sender ('' = <>)
	rcpt		text NOT NULL,
	data		bytea NOT NULL,
	state		text NOT NULL DEFAULT 'queued'
			CHECK (state IN ('queued', 'sending', 'sent', 'failed', 'suppressed')),
	attempts	integer NOT NULL DEFAULT 0,
	next_attempt	timestamptz NOT NULL DEFAULT now(),
	lease_until	timestamptz,
	leased_by	text,
	last_code	integer,
	last_error	text,
	created		timestamptz NOT NULL DEFAULT now(),
	sent_at		timestamptz
);
CREATE INDEX outbox_due_idx ON outbox (next_attempt, id)
	WHERE state IN ('queued', 'sending');
CREATE INDEX outbox_rcpt_idx ON outbox (rcpt, created);
CREATE INDEX outbox_ticket_idx ON outbox (ticket_id, created);

-- The audit trail: every change of a ticket, who did it and from which mail.
CREATE TABLE event (
	id		bigserial PRIMARY KEY,
	ticket_id	bigint REFERENCES ticket(id) ON DELETE CASCADE,
	at		timestamptz NOT NULL DEFAULT now(),
	actor		text NOT NULL,		-- address, "tickd" or "tickctl"
	action		text NOT NULL,
	detail		text,
	message_id	bigint REFERENCES message(id) ON DELETE SET NULL
);
CREATE INDEX event_ticket_idx ON event (ticket_id, at);

-- Addresses that get no automatic mail (hard bounces, complaints).
CREATE TABLE suppression (
	addr		text PRIMARY KEY,
	reason		text NOT NULL,
	until		timestamptz NOT NULL,
	created		timestamptz NOT NULL DEFAULT now()
);
