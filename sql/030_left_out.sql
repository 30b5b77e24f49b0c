-- 030_left_out: the rows a batch left out, counted for tickctl status.
--
-- A fetch batch writes its participant and search-index rows at its end,
-- one statement per table (src/store_keep.c).  Should the server refuse one
-- row, the mail stays stored and that row alone is left out, with an event
-- 'search-skipped' or 'participant-skipped' on its ticket.  tickctl status
-- counts those events (rows_left_out); this index keeps that count from
-- reading every event there is.
CREATE INDEX event_left_out_idx ON event (at)
	WHERE action IN ('search-skipped', 'participant-skipped');
