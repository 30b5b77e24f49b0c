-- existing.sql - a helpdesk's past for `make bench --existing N`: N
-- tickets over the last 365 days, each with its customer mail, its
-- acknowledgement (a message and a sent outbox row), a requester, an
-- event and a search row, written set-based (psql -v n=N).  The
-- requesters (50,000 of them, @past.example) are not the benchmark's new
-- customers; the figure is what the size of the tables costs a new mail.
SET synchronous_commit = off;
-- no triggers and no foreign-key checks while generating (the rows are
-- consistent by construction): a row trigger per row made 100,000
-- tickets take a minute; the SLA clocks the trigger would write are
-- written below
SET session_replication_role = replica;
INSERT INTO ticket (id, queue, subject, requester, status, priority,
    created, updated, first_response_at, last_customer_at, last_agent_at,
    resolved_at, closed_at)
SELECT 1000 + i, 'support', 'Past ticket ' || i,
    'c' || (i % 50000) || '@past.example',
    CASE WHEN i % 50 = 0 THEN 'open' ELSE 'closed' END, 'normal',
    c, c, c + interval '2 hours', c, c + interval '2 hours',
    CASE WHEN i % 50 = 0 THEN NULL ELSE c + interval '1 day' END,
    CASE WHEN i % 50 = 0 THEN NULL ELSE c + interval '5 days' END
FROM (SELECT i, now() - interval '365 days' - interval '1 hour'
                + i * (interval '365 days' / :n) AS c
      FROM generate_series(1, :n) i) g;
SELECT setval('ticket_number', 1000 + :n);
INSERT INTO message (ticket_id, dedupe_key, message_id, direction, role,
    from_addr, subject, body_text, body_new, received, size)
SELECT t.id, 'past:' || t.id, '<past.' || t.id || '@past.example>', 'in',
    'customer', t.requester, t.subject,
    'Hello, the invoice ' || t.id || ' is wrong. Regards',
    'Hello, the invoice ' || t.id || ' is wrong. Regards', t.created, 60
FROM ticket t;
INSERT INTO message (ticket_id, dedupe_key, message_id, direction, role,
    from_addr, subject, received, size)
SELECT t.id, 'past:ack:' || t.id, '<ack.' || t.id || '@example.com>', 'out',
    'system', 'support@example.com', 'Re: ' || t.subject, t.created, 600
FROM ticket t;
INSERT INTO message_search (message_id, ticket_id, queue, cfg, doc)
SELECT m.id, m.ticket_id, 'support', 'english',
    array_to_tsvector(ARRAY['past', 'ticket', 'invoic', 'wrong', 'hello',
                            m.ticket_id::text])
FROM message m WHERE m.direction = 'in' AND m.dedupe_key LIKE 'past:%';
INSERT INTO participant (ticket_id, addr, role)
SELECT id, requester, 'requester' FROM ticket;
INSERT INTO event (ticket_id, at, actor, action, detail)
SELECT id, created, 'tickd', 'created', 'from ' || requester FROM ticket;
INSERT INTO outbox (ticket_id, kind, env_from, rcpt, data, state, attempts,
    next_attempt, created, sent_at, last_code)
SELECT id, 'ack', 'support@example.com', requester, '\x00'::bytea, 'sent',
    1, created, created, created, 250
FROM ticket;
-- the SLA clocks as escalate.c leaves them: closed tickets never looked
-- at again, open ones next in a month (not during the run)
INSERT INTO sla_clock (ticket_id, initialized, next_check)
SELECT id, true, CASE WHEN status = 'closed' THEN NULL
                      ELSE now() + interval '30 days' END
FROM ticket;
RESET session_replication_role;
VACUUM ANALYZE;
-- the generator's own dirty pages written now, not by the checkpointer
-- during the run: a database that holds a million tickets has long
-- written them, and their write-back is no cost of the new mail
CHECKPOINT;
