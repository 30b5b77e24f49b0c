-- 010_hostile: what an outsider may not steer.
--
-- 1. Volume is not a loop.  The circuit breaker used to count ALL automatic
-- mail a minute and hold ALL of it: an outage (400 customers writing in a
-- minute) silenced every acknowledgement and every escalation notice.  A
-- loop has a shape: the same recipient, or the same sender behind many
-- addresses, getting automatic mail again and again.  Each automatic mail
-- now records the sender identity that caused it (the From address, lower
-- case, without a +tag; NULL for mail to our own people) and whether it is
-- a repeat (that recipient or that sender identity already got automatic
-- mail in the last day).  Only repeats count for the breaker, and only
-- repeats are held by it (limit.c).
ALTER TABLE outbox ADD COLUMN sender text;
ALTER TABLE outbox ADD COLUMN is_repeat boolean NOT NULL DEFAULT false;
-- the per-sender-identity count (limits.per_recipient_day, limit.c)
CREATE INDEX outbox_sender_idx ON outbox (sender, created)
	WHERE sender IS NOT NULL;
-- the breaker's per-minute counts of repeats, queued and sent
CREATE INDEX outbox_repeat_idx ON outbox (created) WHERE is_repeat;
CREATE INDEX outbox_repeat_sent_idx ON outbox (sent_at)
	WHERE is_repeat AND state = 'sent';

-- 2. tickctl forget erased every display name that anyone
-- had written beside the address (ticket.requester_name from a Reply-To,
-- participant names from To/Cc): Cc: "Hello" <victim@x> made forgetting
-- the victim turn every "hello" in unrelated mail into [erased].  Only the
-- names a person gave themselves in the From of their own inbound mails
-- (3 characters or more) are cut out of other people's mails now.  The
-- function is the 006 one (wrapped by 008 under this name) with only the
-- choice of names changed.

CREATE OR REPLACE FUNCTION tickd_forget_006(p_addr text, p_actor text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	a text := lower(btrim(p_addr));
	names text[];
	own bigint[];
	mine bigint[];
	re text;
	n_tickets int; n_msgs int; n_att int; n_other int; n_part int;
	n_out int; n_ev int; n_sup int;
BEGIN
	IF a = '' OR position('@' IN a) = 0 THEN
		RAISE EXCEPTION 'tickd_forget: % is not an address', p_addr;
	END IF;
	-- only names they gave themselves, in the From of their own mails:
	-- a name someone else wrote beside their address (Cc: "Hello"
	-- <them@x>) is not theirs, and erasing it would cut that word out
	-- of everyone's mail.  Short ones would cut words.
	SELECT coalesce(array_agg(DISTINCT n), '{}') INTO names FROM (
		SELECT btrim(from_name) n FROM message
		WHERE lower(from_addr) = a AND direction = 'in') s
	WHERE n IS NOT NULL AND length(n) >= 3 AND lower(n) <> a;
	-- whole words only: "ann" must not cut "annual", nor erika@x.com
	-- the tail of max.erika@x.com or the head of erika@x.com.au
	SELECT '(?<![[:alnum:]_.+-])(' || string_agg(tickd_re_quote(x), '|'
			ORDER BY length(x) DESC) ||
		')(?![[:alnum:]_-]|\.[[:alnum:]])'
	INTO re FROM unnest(array_append(names, a)) x;

	SELECT coalesce(array_agg(id), '{}') INTO own
	FROM ticket WHERE requester = a;
	n_tickets := cardinality(own);
	-- messages that are entirely theirs: on their tickets, or from them
	SELECT coalesce(array_agg(id), '{}') INTO mine FROM message
	WHERE ticket_id = ANY(own) OR lower(from_addr) = a;

	DELETE FROM attachment WHERE message_id = ANY(mine);
	GET DIAGNOSTICS n_att = ROW_COUNT;
	UPDATE message SET subject = '', body_text = '', body_new = '',
		body_html = NULL, raw = NULL, class_reason = NULL,
		defects = NULL,
		from_addr = CASE WHEN lower(from_addr) = a THEN NULL
			    ELSE from_addr END,
		from_name = CASE WHEN lower(from_addr) = a THEN NULL
			    ELSE from_name END,
		to_addrs = NULLIF(array_to_string(array_remove(
			tickd_addr_list(to_addrs), a), ', '), ''),
		cc_addrs = NULLIF(array_to_string(array_remove(
			tickd_addr_list(cc_addrs), a), ', '), '')
	WHERE id = ANY(mine);
	GET DIAGNOSTICS n_msgs = ROW_COUNT;

	-- other people's mails that name them: cut address and names out;
	-- the raw mail cannot be edited safely, so it goes
	UPDATE message SET
		subject = regexp_replace(subject, re, '[erased]', 'gi'),
		body_text = regexp_replace(body_text, re, '[erased]', 'gi'),
		body_new = regexp_replace(body_new, re, '[erased]', 'gi'),
		body_html = regexp_replace(body_html, re, '[erased]', 'gi'),
		from_name = regexp_replace(from_name, re, '[erased]', 'gi'),
		to_addrs = NULLIF(array_to_string(array_remove(
			tickd_addr_list(to_addrs), a), ', '), ''),
		cc_addrs = NULLIF(array_to_string(array_remove(
			tickd_addr_list(cc_addrs), a), ', '), ''),
		raw = CASE WHEN lower(encode(raw, 'escape')) ~ lower(re)
		      THEN NULL ELSE raw END
	WHERE NOT (id = ANY(mine)) AND (
		subject ~* re OR body_text ~* re OR body_new ~* re OR
		coalesce(body_html, '') ~* re OR
		coalesce(from_name, '') ~* re OR
		a = ANY(tickd_addr_list(to_addrs)) OR
		a = ANY(tickd_addr_list(cc_addrs)) OR
		(raw IS NOT NULL AND lower(encode(raw, 'escape')) ~ lower(re)));
	GET DIAGNOSTICS n_other = ROW_COUNT;

	UPDATE ticket SET requester = 'erased@invalid', requester_name = NULL,
		subject = '[erased]', review_reason = NULL, erased_at = now()
	WHERE id = ANY(own);
	UPDATE ticket SET subject = regexp_replace(subject, re, '[erased]', 'gi')
	WHERE NOT (id = ANY(own)) AND subject ~* re;

	DELETE FROM participant WHERE lower(addr) = a;
	GET DIAGNOSTICS n_part = ROW_COUNT;
	-- their tickets' other participants are other people: kept
	UPDATE participant SET name = regexp_replace(name, re, '[erased]', 'gi')
	WHERE name ~* re;

	UPDATE event SET
		actor = CASE WHEN lower(actor) = a THEN 'erased' ELSE actor END,
		detail = CASE WHEN ticket_id = ANY(own) THEN NULL
			 ELSE regexp_replace(detail, re, '[erased]', 'gi') END
	WHERE lower(actor) = a OR detail ~* re OR
		(ticket_id = ANY(own) AND detail IS NOT NULL);
	GET DIAGNOSTICS n_ev = ROW_COUNT;

	-- mails to them, and everything queued about their tickets, go; a
	-- mail not yet sent must not go out after the erasure
	DELETE FROM outbox WHERE lower(rcpt) = a OR ticket_id = ANY(own)
		OR position(convert_to(a, 'UTF8') IN data) > 0;
	GET DIAGNOSTICS n_out = ROW_COUNT;
	DELETE FROM suppression WHERE lower(addr) = a;
	GET DIAGNOSTICS n_sup = ROW_COUNT;

	INSERT INTO event (ticket_id, actor, action, detail)
	VALUES (NULL, p_actor, 'erasure',
		format('personal data of one person erased: %s tickets '
		       'anonymised, %s messages blanked, %s edited',
		       n_tickets, n_msgs, n_other));
	RETURN jsonb_build_object('tickets', n_tickets, 'messages', n_msgs,
		'attachments', n_att, 'messages_edited', n_other,
		'participants', n_part, 'events', n_ev, 'outbox', n_out,
		'suppression', n_sup);
END
$$;
