-- 018_agents2: SLA warnings to agents.  One row per ticket and clock
-- target (first_response, next_response, resolution) and the instant that
-- clock started (a next-response clock starts again with each unanswered
-- customer mail): the warning at sla.policies.*.warn_percent is sent once
-- per such clock, also when several instances tick or a tick is repeated.
CREATE TABLE sla_warning (
	ticket_id	bigint NOT NULL REFERENCES ticket(id) ON DELETE CASCADE,
	target		text NOT NULL,
	clock_start	bigint NOT NULL,	-- unix seconds, sla_clock.start
	warned_at	bigint NOT NULL,	-- unix seconds of the tick
	PRIMARY KEY (ticket_id, target, clock_start)
);
