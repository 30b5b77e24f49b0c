-- 007_perf: the state of each instance's connections for `tickctl status`.
-- The daemon writes a row when a connection changes state
-- (up -> failing -> up), never per mail, so this table stays tiny and cold.
-- An outage of the database itself is recorded once it is back.
CREATE TABLE connection_state (
	instance	text NOT NULL,		-- cfg instance name
	name		text NOT NULL,		-- database | imap-idle | smtp
	state		text NOT NULL,		-- up | failing | idle | polling
	last_error	text,
	last_error_at	timestamptz,
	since		timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (instance, name)
);
