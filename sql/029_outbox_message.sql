-- 029_outbox_message: the outbox row of a message tickd sent, found from
-- the message.
--
-- A bounce or an ARF complaint suppresses an address only when it quotes
-- the Message-ID of a mail tickd sent to it, and an agent's reply to a
-- notice is relayed only when it answers a mail tickd sent to that agent
-- (ingest.c); both ask who that mail went to, through outbox.message_id.
-- Without an index there, each question read the whole outbox: 8 ms and
-- 24,000 rows at 24,000 sent mails, up to 40 times for one agent reply,
-- and once for every bounce a stranger cares to send.  It also serves the
-- ON DELETE SET NULL of outbox_message_id_fkey when retention or
-- tickctl forget deletes messages.
CREATE INDEX outbox_message_idx ON outbox (message_id)
	WHERE message_id IS NOT NULL;
