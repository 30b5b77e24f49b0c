-- 020_merge: two tickets about one problem become one (`tickctl merge A B`,
-- an agent's "#merge B").  The merged ticket's mails, participants,
-- events, outbox rows, search rows and first responses move to the
-- survivor; the merged ticket stays as a closed row whose number is an
-- alias: merged_into names the survivor, and every look-up by number
-- (subject tag, signed token, digest action link, rating link) follows it
-- one hop (store_merge.c).  A survivor is never itself merged
-- (merge.c refuses it, tickd_merge re-points older aliases), so one hop is
-- always enough.
ALTER TABLE ticket ADD COLUMN merged_into bigint
	REFERENCES ticket(id) ON DELETE SET NULL;
ALTER TABLE ticket ADD COLUMN merged_at timestamptz;
ALTER TABLE ticket ADD CONSTRAINT ticket_merged_not_self
	CHECK (merged_into IS DISTINCT FROM id);
-- the aliases of a survivor, re-pointed when it is merged in turn
CREATE INDEX ticket_merged_into_idx ON ticket (merged_into)
	WHERE merged_into IS NOT NULL;

-- tickd_merge - move ticket p_from into p_into, in the caller's
-- transaction, both rows locked and checked by the caller (store_merge:
-- merge.c's rules).  p_msg is the mail that asked (NULL: tickctl).
-- Returns the number of mails moved.
CREATE FUNCTION tickd_merge(p_from bigint, p_into bigint, p_actor text,
                            p_msg bigint, p_at timestamptz)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
	n_msg integer;
BEGIN
	IF p_from = p_into OR EXISTS (SELECT 1 FROM ticket WHERE id IN
	   (p_from, p_into) AND merged_into IS NOT NULL) THEN
		RAISE EXCEPTION 'tickd_merge: % into % breaks the one-hop rule',
			p_from, p_into USING ERRCODE = 'check_violation';
	END IF;
	-- the mails (attachments ride with their message) and their search
	-- rows, found from now on under the survivor and its queue
	UPDATE message SET ticket_id = p_into WHERE ticket_id = p_from;
	GET DIAGNOSTICS n_msg = ROW_COUNT;
	UPDATE message_search SET ticket_id = p_into,
		queue = (SELECT queue FROM ticket WHERE id = p_into)
		WHERE ticket_id = p_from;
	-- who may write by tag: the union, and only that (a stranger to
	-- both stays one).  The survivor keeps its one requester; the merged
	-- ticket's requester is on it as cc.
	INSERT INTO participant (ticket_id, addr, name, role)
		SELECT p_into, addr, name,
		       CASE WHEN role = 'requester' THEN 'cc' ELSE role END
		FROM participant WHERE ticket_id = p_from
		ON CONFLICT (ticket_id, addr) DO NOTHING;
	DELETE FROM participant WHERE ticket_id = p_from;
	-- the audit trail and the mail sent or queued about it (the
	-- per-ticket send limit counts both tickets' mail from now on)
	UPDATE event SET ticket_id = p_into WHERE ticket_id = p_from;
	UPDATE outbox SET ticket_id = p_into WHERE ticket_id = p_from;
	-- first responses per person (the report's "responded"): one row per
	-- person on the survivor, the earlier one, so no ticket counts twice
	INSERT INTO ticket_response (ticket_id, responder, first_at, msg_id)
		SELECT p_into, responder, first_at, msg_id
		FROM ticket_response WHERE ticket_id = p_from
		ON CONFLICT (ticket_id, responder) DO UPDATE
		SET first_at = EXCLUDED.first_at, msg_id = EXCLUDED.msg_id
		WHERE EXCLUDED.first_at < ticket_response.first_at;
	DELETE FROM ticket_response WHERE ticket_id = p_from;
	-- one rating per ticket: the survivor's own wins, else the merged
	-- ticket's moves with it (a later rating link of either is then a
	-- repeat).  csat_request stays: it records the mail that went out.
	UPDATE csat_rating SET ticket_id = p_into WHERE ticket_id = p_from
		AND NOT EXISTS (SELECT 1 FROM csat_rating WHERE ticket_id = p_into);
	UPDATE nps_rating SET ticket_id = p_into WHERE ticket_id = p_from
		AND NOT EXISTS (SELECT 1 FROM nps_rating WHERE ticket_id = p_into);
	-- a customer who waited for an answer on the merged ticket waits on
	-- the survivor now: its response clock starts at the merge (unless
	-- one runs already, sla_on_customer_message), as for a mail
	INSERT INTO sla_change (ticket_id, at, kind)
		SELECT p_into, extract(epoch FROM p_at)::bigint, 'customer'
		FROM ticket a WHERE a.id = p_from
		AND a.status IN ('new', 'open') AND a.last_customer_at IS NOT NULL
		AND (a.last_agent_at IS NULL OR a.last_customer_at > a.last_agent_at)
		AND EXISTS (SELECT 1 FROM sla_clock WHERE ticket_id = p_into);
	UPDATE sla_clock SET next_check = now() WHERE ticket_id = p_into;
	-- the merged ticket is closed and its SLA clock stops for good: no
	-- tick, escalation or lifecycle step looks at it again
	UPDATE ticket SET merged_into = p_into, merged_at = p_at,
		status = 'closed', closed_at = COALESCE(closed_at, p_at),
		updated = p_at WHERE id = p_from;
	DELETE FROM sla_notice WHERE ticket_id = p_from AND sent_at IS NULL;
	DELETE FROM sla_change WHERE ticket_id = p_from;
	DELETE FROM sla_clock WHERE ticket_id = p_from;
	-- tickets merged into p_from before now point at p_into: one hop
	UPDATE ticket SET merged_into = p_into WHERE merged_into = p_from;
	UPDATE ticket SET updated = GREATEST(updated, p_at) WHERE id = p_into;
	INSERT INTO event (ticket_id, at, actor, action, detail, message_id)
	VALUES (p_from, p_at, p_actor, 'merged-into',
	        'merged into ' || p_into, p_msg),
	       (p_into, p_at, p_actor, 'merged-from',
	        p_from || ' merged into this ticket (' || n_msg || ' mails)',
	        p_msg);
	-- the report leaves the merged ticket out (store_report.c)
	INSERT INTO report_stale (ticket_id) VALUES (p_from), (p_into)
		ON CONFLICT DO NOTHING;
	RETURN n_msg;
END $$;

-- tickd_history (014) without merged tickets: a merged ticket is part of
-- its survivor, not an "earlier ticket" of the customer.
CREATE OR REPLACE FUNCTION tickd_history(p_id bigint) RETURNS jsonb
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
		AND e.merged_into IS NULL
		AND t.requester NOT IN ('unknown', 'erased@invalid')) h
	LEFT JOIN ticket l ON l.id = h.last
	LEFT JOIN csat_rating r ON r.ticket_id = h.last
	WHERE t.id = p_id
$$;
