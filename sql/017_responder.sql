-- 017_responder: who answered.  Replies in the shared mailbox's Sent
-- folder are From the support address, so the assignee says nothing about
-- who did the work.  Each agent message records the person it is
-- attributed to (Sender:, the agent's own From, a support+name@
-- sub-address or a configured identity; NULL: the team), the ticket its
-- first responder, and ticket_response one row per (ticket, person) with
-- that person's first response: `tickctl report --agent` counts those.
ALTER TABLE message ADD COLUMN responder text;
ALTER TABLE ticket ADD COLUMN first_responder text;
CREATE TABLE ticket_response (
	ticket_id	bigint NOT NULL REFERENCES ticket(id) ON DELETE CASCADE,
	responder	text NOT NULL,
	first_at	timestamptz NOT NULL,
	msg_id		bigint,			-- the message row of that response
	PRIMARY KEY (ticket_id, responder)
);
-- the report's per-period count
CREATE INDEX ticket_response_at_idx ON ticket_response (first_at);
