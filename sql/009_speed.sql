-- 009_speed: indexes for the statements that run once per mail (issue 9).
-- `make bench --pg-stats` showed the last-minute count of queued automatic
-- mail (limit.c, the circuit breaker) scanning the whole outbox for every
-- new ticket: O(n) per mail, O(n^2) per run.
CREATE INDEX outbox_created_idx ON outbox (created);
