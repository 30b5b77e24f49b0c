-- 002_limits: the global circuit breaker for automatic mail.  One row per
-- breaker (only 'auto' today), shared by every tickd instance on this
-- database.  The breaker is open while state = 'open' and (until IS NULL or
-- until > now()): a cool-down closes it by itself (until), an admin closes
-- it at once with `tickctl breaker reset`.  While it is open, automatic mail
-- stays queued in the outbox (held, never dropped).
CREATE TABLE breaker (
	name		text PRIMARY KEY,
	state		text NOT NULL DEFAULT 'closed'
			CHECK (state IN ('open', 'closed')),
	tripped_at	timestamptz,
	until		timestamptz,		-- NULL: until an admin resets it
	reason		text,
	trips		integer NOT NULL DEFAULT 0,
	reset_at	timestamptz,
	reset_by	text
);

-- Counting sent mail per minute (the breaker) and per ticket/recipient
-- (the send-side limits) looks at sent_at.
CREATE INDEX outbox_sent_idx ON outbox (sent_at) WHERE state = 'sent';
