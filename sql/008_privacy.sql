-- 008_privacy: erasure, retention and access also cover the tables that
-- 002-005 brought (built in parallel with 006): a rating's comment is the
-- customer's own text, and its from_addr their address.  The 006 functions
-- are kept under a new name and wrapped, so their logic stays in one place.

ALTER FUNCTION tickd_forget(text, text) RENAME TO tickd_forget_006;
CREATE FUNCTION tickd_forget(p_addr text, p_actor text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	a text := lower(btrim(p_addr));
	n int;
BEGIN
	-- first: the 006 part anonymises ticket.requester, which finds them
	UPDATE csat_rating SET comment = NULL, from_addr = NULL
	WHERE lower(from_addr) = a
	   OR ticket_id IN (SELECT id FROM ticket WHERE requester = a);
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN tickd_forget_006(p_addr, p_actor) ||
		jsonb_build_object('ratings', n);
END $$;

ALTER FUNCTION tickd_purge(text, int, text) RENAME TO tickd_purge_006;
CREATE FUNCTION tickd_purge(p_queue text, p_days int, p_actor text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	res jsonb := tickd_purge_006(p_queue, p_days, p_actor);
BEGIN
	-- the rating itself stays for the reports; its text and sender go
	UPDATE csat_rating SET comment = NULL, from_addr = NULL
	WHERE ticket_id IN (SELECT (jsonb_array_elements_text(
		coalesce(res->'ids', '[]'::jsonb)))::bigint);
	RETURN res;
END $$;

ALTER FUNCTION tickd_export(text) RENAME TO tickd_export_006;
CREATE FUNCTION tickd_export(p_addr text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
SELECT tickd_export_006(p_addr) || jsonb_build_object('ratings',
	coalesce((SELECT jsonb_agg(jsonb_build_object('ticket', r.ticket_id,
		'rating', r.rating, 'comment', r.comment, 'at', r.at)
		ORDER BY r.ticket_id)
	FROM csat_rating r LEFT JOIN ticket t ON t.id = r.ticket_id
	WHERE lower(r.from_addr) = lower(btrim(p_addr))
	   OR t.requester = lower(btrim(p_addr))), '[]'::jsonb))
$$;
