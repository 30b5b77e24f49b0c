-- 028_outbox_counts: the per-ticket count of sent automatic mail on an
-- index of its own.
--
-- The sender asks, before every acknowledgement, how many automatic mails
-- about its ticket went out in the last hour (limit.c).  With only
-- outbox_ticket_idx (ticket_id, created) and outbox_sent_rcpt_idx (rcpt,
-- sent_at) WHERE state = 'sent', the generic plan of that prepared
-- statement ANDed the ticket's entries with a scan of every sent mail in
-- the window: 4,000 index entries for each acknowledgement after 4,000
-- mails (EXPLAIN ANALYZE: 0.41 ms of its 0.51), and so a cost per mail
-- that grew with the day's mail.  This index answers the question from
-- the ticket's own few entries.
CREATE INDEX outbox_sent_ticket_idx ON outbox (ticket_id, sent_at)
	WHERE state = 'sent';
