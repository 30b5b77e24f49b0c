-- 009_speed: indexes for the statements that run once per mail.
-- `make bench --pg-stats` showed the last-minute count of queued automatic
-- mail (limit.c, the circuit breaker) scanning the whole outbox for every
-- new ticket: O(n) per mail, O(n^2) per run.
CREATE INDEX outbox_created_idx ON outbox (created);
-- The send-time count per recipient (limit.c) read every mail ever sent to
-- the address through outbox_rcpt_idx (rcpt, created) and filtered on
-- sent_at in the heap, three row versions per mail (queued, sending,
-- sent): a customer with years of tickets cost a heap page per old mail
-- for every acknowledgement.  This one holds only the sent version and
-- bounds the scan to the window.
CREATE INDEX outbox_sent_rcpt_idx ON outbox (rcpt, sent_at) WHERE state = 'sent';
-- The earliest lease to run out (store.c S_OUT_NEXT), by an index scan
-- that stops at its first live row instead of reading every dead entry.
CREATE INDEX outbox_lease_idx ON outbox (lease_until) WHERE state = 'sending';
-- The outbox claim (store.c S_OUT_CLAIM): pending mail oldest first, by an
-- index scan in id order that stops after a round's worth.
CREATE INDEX outbox_pending_idx ON outbox (id) WHERE state IN ('queued', 'sending');
