-- 025_quarantine_privacy: erasure, access and retention cover quarantined
-- mail too.  A mail that could not be stored (011) keeps its raw bytes for
-- review; they hold the sender's address and words like any stored mail.
-- Which person a raw mail is about: its bytes name their address (ASCII
-- case folded; an address outside ASCII is not found this way).  The
-- quarantine is small (poisoned mail only), so a scan is fine.
CREATE FUNCTION tickd_quarantine_of(p_addr text) RETURNS SETOF quarantine
LANGUAGE sql STABLE AS $$
	SELECT * FROM quarantine
	WHERE strpos(lower(encode(raw, 'escape')), lower(btrim(p_addr))) > 0
$$;

ALTER FUNCTION tickd_forget(text, text) RENAME TO tickd_forget_008;
CREATE FUNCTION tickd_forget(p_addr text, p_actor text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	-- first: the checks (an address, not one of the team) and the rest
	res jsonb := tickd_forget_008(p_addr, p_actor);
	n int;
BEGIN
	DELETE FROM quarantine WHERE id IN (
		SELECT id FROM tickd_quarantine_of(p_addr));
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN res || jsonb_build_object('quarantined', n);
END $$;

ALTER FUNCTION tickd_export(text) RENAME TO tickd_export_008;
CREATE FUNCTION tickd_export(p_addr text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
SELECT tickd_export_008(p_addr) || jsonb_build_object('quarantined',
	coalesce((SELECT jsonb_agg(jsonb_build_object('id', q.id,
		'received', q.received, 'source', q.source, 'error', q.error,
		'size', q.size, 'raw_base64', encode(q.raw, 'base64'))
		ORDER BY q.id) FROM tickd_quarantine_of(p_addr) q), '[]'::jsonb))
$$;

-- retention: a queue's quarantined mail goes after its retention_days
-- (the cursor key is "queue:folder"; tickctl import's has no mailbox and
-- stays until reviewed or forgotten)
ALTER FUNCTION tickd_purge(text, int, text) RENAME TO tickd_purge_008;
CREATE FUNCTION tickd_purge(p_queue text, p_days int, p_actor text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	res jsonb := tickd_purge_008(p_queue, p_days, p_actor);
	n int := 0;
BEGIN
	IF p_days > 0 THEN
		DELETE FROM quarantine
		WHERE split_part(mailbox, ':', 1) = p_queue
			AND received < now() - make_interval(days => p_days);
		GET DIAGNOSTICS n = ROW_COUNT;
	END IF;
	RETURN res || jsonb_build_object('quarantined', n);
END $$;
