-- 034_touch_left_out: a customer's mail on a ticket updates the ticket at
-- the batch's end too, with the batch's other such mails in one statement
-- (src/store_keep.c).  Should the server refuse one ticket's row, it is
-- left out like a search or participant row (030): the mail stays stored,
-- its ticket gets a 'touch-skipped' event, and tickctl status counts it.
DROP INDEX event_left_out_idx;
CREATE INDEX event_left_out_idx ON event (at)
	WHERE action IN ('search-skipped', 'participant-skipped', 'touch-skipped');
