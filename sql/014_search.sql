-- 014: full-text search on PostgreSQL's own engine, and customer history.
--
-- One row per stored inbound mail (ticket or not): its words as a
-- tsvector under the text-search configuration of its queue's language,
-- written by one INSERT ... SELECT in the mail's ingest transaction
-- (store_search_index).  Only the mail's own text is indexed (body_new:
-- quoted history is split off at ingest, quote.c), plus its subject,
-- attachment names and addresses.  A separate table rather than a column
-- of message: the message row is never rewritten for it, and the GIN
-- index is the only thing that grows.

CREATE TABLE message_search (
	message_id	bigint PRIMARY KEY REFERENCES message(id) ON DELETE CASCADE,
	ticket_id	bigint REFERENCES ticket(id) ON DELETE CASCADE,
	queue		text NOT NULL,
	cfg		regconfig NOT NULL,	-- english | german | simple
	doc		tsvector NOT NULL
);
CREATE INDEX message_search_doc ON message_search USING gin (doc);
CREATE INDEX message_search_ticket ON message_search (ticket_id);

-- tickd_search_doc - the weighted document of one message: subject and
-- attachment names (A), the mail's own text (B), addresses and names (C,
-- always 'simple': an address is not a word to stem).  Text is cut at
-- 64 kB so one huge mail costs bounded work.
CREATE FUNCTION tickd_search_doc(p_cfg regconfig, p_msg bigint)
RETURNS tsvector LANGUAGE sql STABLE AS $$
	SELECT setweight(to_tsvector(p_cfg, coalesce(m.subject, '')), 'A') ||
	       setweight(to_tsvector(p_cfg, coalesce((SELECT string_agg(
			regexp_replace(a.filename, '[._-]+', ' ', 'g') || ' ' ||
			a.filename, ' ') FROM attachment a
			WHERE a.message_id = m.id), '')), 'A') ||
	       setweight(to_tsvector(p_cfg, left(m.body_new, 65536)), 'B') ||
	       setweight(to_tsvector('simple', concat_ws(' ', m.from_addr,
			m.from_name, m.to_addrs, m.cc_addrs)), 'C')
	FROM message m WHERE m.id = p_msg
$$;

-- tickd_search_query - a user's words as a tsquery in one configuration:
-- websearch syntax ("a phrase", -not, or) for the words, and a word
-- ending in '*' as a prefix (invoic* -> 'invoic':*).  Only letters and
-- digits of a prefix word reach to_tsquery, so no input is a syntax error.
CREATE FUNCTION tickd_search_query(p_cfg regconfig, p_q text)
RETURNS tsquery LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	w text;
	plain text := '';
	q tsquery;
	pq tsquery;
BEGIN
	FOREACH w IN ARRAY regexp_split_to_array(coalesce(p_q, ''), '\s+') LOOP
		IF w ~ '^[^"]+\*$' THEN
			w := regexp_replace(w, '[^[:alnum:]]', '', 'g');
			IF w <> '' THEN
				pq := to_tsquery(p_cfg, w || ':*');
				IF pq::text = '' THEN
					pq := to_tsquery('simple', w || ':*');
				END IF;
				q := CASE WHEN q IS NULL THEN pq ELSE q && pq END;
			END IF;
		ELSE
			plain := plain || ' ' || w;
		END IF;
	END LOOP;
	IF btrim(plain) <> '' THEN
		pq := websearch_to_tsquery(p_cfg, plain);
		q := CASE WHEN q IS NULL THEN pq ELSE q && pq END;
	END IF;
	RETURN coalesce(q, ''::tsquery);
END;
$$;

-- Purge and erasure blank or rewrite message texts: the index follows, so
-- no erased word stays findable.
CREATE FUNCTION message_search_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE message_search s SET doc = tickd_search_doc(s.cfg, s.message_id)
	WHERE s.message_id = NEW.id;
	RETURN NULL;
END;
$$;
CREATE TRIGGER message_search_refresh
	AFTER UPDATE OF subject, body_new, from_addr, from_name, to_addrs,
		cc_addrs ON message
	FOR EACH ROW EXECUTE FUNCTION message_search_refresh();
CREATE FUNCTION attachment_search_refresh() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE message_search s SET doc = tickd_search_doc(s.cfg, s.message_id)
	WHERE s.message_id = OLD.message_id;
	RETURN NULL;
END;
$$;
CREATE TRIGGER attachment_search_refresh AFTER DELETE ON attachment
	FOR EACH ROW EXECUTE FUNCTION attachment_search_refresh();

-- Mail stored before this migration: indexed in its ticket's queue
-- (kept mail under the first queue name seen, english).
INSERT INTO message_search (message_id, ticket_id, queue, cfg, doc)
SELECT m.id, m.ticket_id, coalesce(t.queue, ''), 'english',
       tickd_search_doc('english', m.id)
FROM message m LEFT JOIN ticket t ON t.id = m.ticket_id
WHERE m.direction = 'in';

-- Customer history: a requester's tickets by address and by domain.
CREATE INDEX ticket_requester ON ticket (requester, id);
CREATE INDEX ticket_requester_domain ON ticket (split_part(requester, '@', 2));

-- tickd_history - "N earlier tickets (last: #1003, resolved, CSAT bad)"
-- for ticket p_id's requester: their tickets opened before this one.
-- NULL when there are none.
CREATE FUNCTION tickd_history(p_id bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT CASE WHEN h.n = 0 THEN NULL ELSE jsonb_build_object(
		'earlier', h.n, 'last', h.last, 'last_status', l.status,
		'last_csat', r.rating,
		'line', h.n || CASE WHEN h.n = 1 THEN ' earlier ticket'
				ELSE ' earlier tickets' END ||
			' (last: #' || h.last || ', ' || l.status ||
			coalesce(', CSAT ' || r.rating, '') || ')') END
	FROM ticket t
	CROSS JOIN LATERAL (SELECT count(*) n, max(e.id) last FROM ticket e
		WHERE e.requester = t.requester AND e.id < t.id
		AND t.requester NOT IN ('unknown', 'erased@invalid')) h
	LEFT JOIN ticket l ON l.id = h.last
	LEFT JOIN csat_rating r ON r.ticket_id = h.last
	WHERE t.id = p_id
$$;
