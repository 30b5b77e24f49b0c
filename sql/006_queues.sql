-- 006_queues: retention purge, erasure (right to be forgotten) and export
-- (right of access).  The logic is in functions so that each
-- runs as one statement in one transaction; a later migration that adds a
-- table holding personal data must CREATE OR REPLACE them to cover it.

ALTER TABLE ticket ADD COLUMN purged_at timestamptz;	-- retention ran
ALTER TABLE ticket ADD COLUMN erased_at timestamptz;	-- requester erased
CREATE INDEX ticket_purge_idx ON ticket (queue, closed_at)
	WHERE status = 'closed' AND purged_at IS NULL;
CREATE INDEX message_from_idx ON message (lower(from_addr));
CREATE INDEX event_actor_idx ON event (actor);

-- A literal for a regular expression: every metacharacter escaped.
CREATE FUNCTION tickd_re_quote(s text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT regexp_replace(s, '([.^$|()\[\]{}*+?\\])', '\\\1', 'g')
$$;

-- The addresses in a "a@x, b@y" list, lower case.
CREATE FUNCTION tickd_addr_list(s text) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN s IS NULL OR s = '' THEN '{}'::text[]
	       ELSE regexp_split_to_array(lower(btrim(s)), '\s*,\s*') END
$$;

-- tickd_forget - erase one person.  Their own tickets (requester) keep
-- their rows (queue, status, priority, timestamps: the numbers) but lose
-- every text, address, raw mail and attachment; elsewhere their mails are
-- blanked and their address and names are cut out of other mails' text
-- and headers; participant, suppression and outbox rows for them go.  One
-- 'erasure' event says that it happened, not whom it concerned.
CREATE FUNCTION tickd_forget(p_addr text, p_actor text) RETURNS jsonb
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
	-- every name this address went by (short ones would cut words)
	SELECT coalesce(array_agg(DISTINCT n), '{}') INTO names FROM (
		SELECT btrim(requester_name) n FROM ticket WHERE requester = a
		UNION SELECT btrim(name) FROM participant WHERE lower(addr) = a
		UNION SELECT btrim(from_name) FROM message
			WHERE lower(from_addr) = a) s
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

-- tickd_purge - retention for one queue: tickets closed more than p_days
-- days ago lose mails, raw bytes, attachments and personal fields; the
-- ticket rows (queue, status, priority, timestamps) and message rows
-- (direction, role, class, dates, size) stay for the reports.
CREATE FUNCTION tickd_purge(p_queue text, p_days int, p_actor text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	ids bigint[];
	n_msgs int; n_att int; att_bytes bigint; raw_bytes bigint;
BEGIN
	IF p_days <= 0 THEN
		RETURN jsonb_build_object('queue', p_queue, 'tickets', 0);
	END IF;
	-- SKIP LOCKED: tickd's daily job and a tickctl purge at the same
	-- time each take other tickets, none is purged twice
	SELECT coalesce(array_agg(id ORDER BY id), '{}') INTO ids FROM (
		SELECT id FROM ticket
		WHERE queue = p_queue AND status = 'closed'
			AND purged_at IS NULL
			AND closed_at < now() - make_interval(days => p_days)
		FOR UPDATE SKIP LOCKED) s;
	IF cardinality(ids) = 0 THEN
		RETURN jsonb_build_object('queue', p_queue, 'tickets', 0,
			'ids', '[]'::jsonb, 'messages', 0, 'attachments', 0,
			'bytes', 0);
	END IF;
	SELECT count(*), coalesce(sum(octet_length(raw)), 0)
	INTO n_msgs, raw_bytes FROM message WHERE ticket_id = ANY(ids);
	SELECT count(*), coalesce(sum(coalesce(octet_length(data), 0)), 0)
	INTO n_att, att_bytes FROM attachment
	WHERE message_id IN (SELECT id FROM message WHERE ticket_id = ANY(ids));
	DELETE FROM attachment
	WHERE message_id IN (SELECT id FROM message WHERE ticket_id = ANY(ids));
	UPDATE message SET subject = '', body_text = '', body_new = '',
		body_html = NULL, raw = NULL, from_addr = NULL,
		from_name = NULL, to_addrs = NULL, cc_addrs = NULL,
		class_reason = NULL, defects = NULL
	WHERE ticket_id = ANY(ids);
	-- customers in the audit trail become anonymous; agents stay
	UPDATE event e SET actor = 'customer', detail = NULL
	WHERE e.ticket_id = ANY(ids) AND (
		e.actor IN (SELECT requester FROM ticket WHERE id = e.ticket_id)
		OR e.actor IN (SELECT addr FROM participant p
			       WHERE p.ticket_id = e.ticket_id
			       AND p.role <> 'agent'));
	UPDATE event SET detail = NULL
	WHERE ticket_id = ANY(ids) AND action NOT IN ('created', 'status');
	DELETE FROM participant WHERE ticket_id = ANY(ids);
	UPDATE outbox SET data = ''::bytea, rcpt = '', last_error = NULL
	WHERE ticket_id = ANY(ids) AND state IN ('sent', 'failed', 'suppressed');
	UPDATE ticket SET requester = 'purged@invalid', requester_name = NULL,
		subject = '', review_reason = NULL, purged_at = now()
	WHERE id = ANY(ids);
	INSERT INTO event (ticket_id, actor, action, detail)
	SELECT t, p_actor, 'purged',
		format('retention %s days: mails, attachments and raw bytes '
		       'deleted', p_days)
	FROM unnest(ids) t;
	RETURN jsonb_build_object('queue', p_queue, 'tickets', cardinality(ids),
		'ids', to_jsonb(ids), 'messages', n_msgs, 'attachments', n_att,
		'bytes', raw_bytes + att_bytes);
END
$$;

-- tickd_export - everything stored about one person: their tickets, the
-- mails from and to them and on their tickets (internal notes excluded),
-- their participations, audit events they caused, suppression and outbox
-- rows (without the bytes; the raw mails are exported as .eml files).
CREATE FUNCTION tickd_export(p_addr text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
WITH a AS (SELECT lower(btrim(p_addr)) AS a),
t AS (
	SELECT t.* FROM ticket t, a WHERE t.requester = a.a
	   OR t.id IN (SELECT ticket_id FROM participant p
		       WHERE lower(p.addr) = a.a)),
m AS (
	SELECT m.* FROM message m, a
	WHERE lower(m.from_addr) = a.a
	   OR a.a = ANY(tickd_addr_list(m.to_addrs))
	   OR a.a = ANY(tickd_addr_list(m.cc_addrs))
	   OR (m.role <> 'note' AND m.ticket_id IN
		(SELECT id FROM ticket WHERE requester = a.a)))
SELECT jsonb_build_object(
	'address', (SELECT a FROM a),
	'exported_at', now(),
	'tickets', coalesce((SELECT jsonb_agg(jsonb_build_object(
		'id', id, 'queue', queue, 'subject', subject, 'status', status,
		'priority', priority,
		-- someone else's ticket they were on: not that person's data
		'requester', CASE WHEN requester = (SELECT a FROM a)
			THEN requester END,
		'requester_name', CASE WHEN requester = (SELECT a FROM a)
			THEN requester_name END,
		'language', language,
		'created', created, 'updated', updated,
		'first_response_at', first_response_at,
		'resolved_at', resolved_at, 'closed_at', closed_at)
		ORDER BY id) FROM t), '[]'::jsonb),
	'messages', coalesce((SELECT jsonb_agg(jsonb_build_object(
		'id', id, 'ticket', ticket_id, 'direction', direction,
		'role', role, 'from', from_addr, 'from_name', from_name,
		'to', to_addrs, 'cc', cc_addrs, 'subject', subject,
		'sent_date', sent_date, 'received', received,
		'text', body_text, 'has_raw', raw IS NOT NULL,
		'attachments', coalesce((SELECT jsonb_agg(jsonb_build_object(
			'filename', at.filename, 'content_type',
			at.content_type, 'size', at.size) ORDER BY at.id)
			FROM attachment at WHERE at.message_id = m.id),
			'[]'::jsonb))
		ORDER BY id) FROM m), '[]'::jsonb),
	'participations', coalesce((SELECT jsonb_agg(jsonb_build_object(
		'ticket', ticket_id, 'address', addr, 'name', name,
		'role', role) ORDER BY ticket_id)
		FROM participant, a WHERE lower(addr) = a.a), '[]'::jsonb),
	'events', coalesce((SELECT jsonb_agg(jsonb_build_object(
		'ticket', ticket_id, 'at', at, 'action', action,
		'detail', detail) ORDER BY id)
		FROM event, a WHERE lower(actor) = a.a), '[]'::jsonb),
	'suppression', coalesce((SELECT jsonb_agg(jsonb_build_object(
		'reason', reason, 'until', until, 'created', created))
		FROM suppression, a WHERE lower(addr) = a.a), '[]'::jsonb),
	'outbox', coalesce((SELECT jsonb_agg(jsonb_build_object(
		'id', id, 'ticket', ticket_id, 'kind', kind, 'state', state,
		'created', created, 'sent_at', sent_at) ORDER BY id)
		FROM outbox, a WHERE lower(rcpt) = a.a), '[]'::jsonb))
$$;
