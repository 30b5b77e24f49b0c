-- 005_report: customer ratings (CSAT), the resolution mails asked for,
-- the digest log, and the indexes that keep `tickctl report` fast over
-- millions of tickets.

-- One rating per ticket: the primary key makes a second rating a no-op.
CREATE TABLE csat_rating (
	ticket_id	bigint PRIMARY KEY REFERENCES ticket(id) ON DELETE CASCADE,
	rating		text NOT NULL CHECK (rating IN ('good', 'okay', 'bad')),
	comment		text,
	from_addr	text,
	message_id	bigint REFERENCES message(id) ON DELETE SET NULL,
	at		timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX csat_rating_at_idx ON csat_rating (at);

-- One resolution mail per resolution (a ticket reopened and resolved
-- again has a new resolved_at): whoever inserts the row sends the mail,
-- so several instances never send it twice.
CREATE TABLE csat_request (
	ticket_id	bigint NOT NULL REFERENCES ticket(id) ON DELETE CASCADE,
	resolved_at	timestamptz NOT NULL,
	created		timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (ticket_id, resolved_at)
);

-- One digest per schedule and period, whichever instance gets there first.
CREATE TABLE digest_log (
	schedule	text NOT NULL,		-- daily | weekly
	period_start	timestamptz NOT NULL,
	period_end	timestamptz NOT NULL,
	recipients	integer NOT NULL DEFAULT 0,
	created		timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (schedule, period_start)
);

-- Report scans: tickets created / resolved in a period, the backlog.
CREATE INDEX ticket_created_idx ON ticket (created);
CREATE INDEX ticket_resolution_idx ON ticket ((COALESCE(resolved_at, closed_at)));
CREATE INDEX ticket_unresolved_idx ON ticket (created)
	WHERE resolved_at IS NULL AND closed_at IS NULL;
-- The tick's "resolved, no resolution mail yet".
CREATE INDEX ticket_resolved_idx ON ticket (resolved_at)
	WHERE status = 'resolved';
CREATE INDEX event_escalation_idx ON event (at)
	WHERE action LIKE 'escalat%';
CREATE INDEX message_inbound_idx ON message (received, role)
	WHERE direction = 'in';
