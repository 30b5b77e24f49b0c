/*
 * store_sla.c - SLA clocks and escalation notices.  See store_sla.h; the
 * statement machinery is store.c's (store_int.h).
 */
#include "store_sla.h"

#include "store_int.h"

#include <string.h>

int
store_sla_lock(struct store *st)
{
	/* One escalation pass at a time across instances; released at the
	 * end of the transaction, so a dead instance never blocks it. */
	static const struct store_stmt stmt = {
	    "sla lock", "SELECT pg_try_advisory_xact_lock(hashtext("
	                "'tickd:escalate'))::int"};
	gint64 got = 0;
	int r = store_int(st, &stmt, 0, NULL, &got);

	return r < 0 ? r : got > 0;
}

void
store_sla_row_free(gpointer p)
{
	struct store_sla_row *r = p;

	g_free(r->queue);
	g_free(r->immediate);
	g_free(r);
}

/* store_sla_row - row i of store_sla_due's statement. */
static struct store_sla_row *
store_sla_row(PGresult *res, int i)
{
	struct store_sla_row *row = g_new0(struct store_sla_row, 1);
	struct sla_ticket *c = &row->clock;

	row->ticket_id = store_col(res, i, 0);
	row->queue = g_strdup(PQgetvalue(res, i, 1));
	g_strlcpy(row->priority, PQgetvalue(res, i, 2), sizeof(row->priority));
	g_strlcpy(row->status, PQgetvalue(res, i, 3), sizeof(row->status));
	row->created = c->created = store_col(res, i, 4);
	row->agent_opened = store_bool_col(res, i, 5);
	row->initialized = store_bool_col(res, i, 6);
	c->status = (int)store_col(res, i, 7);
	c->first_response_at = store_col(res, i, 8);
	c->last_customer_at = store_col(res, i, 9);
	c->last_agent_at = store_col(res, i, 10);
	c->resolved_at = store_col(res, i, 11);
	c->run_since = store_col(res, i, 12);
	c->paused_since = store_col(res, i, 13);
	c->resolution_run_secs = store_col(res, i, 14);
	c->awaiting_since = store_col(res, i, 15);
	c->response_run_secs = store_col(res, i, 16);
	c->first_response_secs = store_col(res, i, 17);
	for (int k = 0; k < 3; k++) {
		row->esc_start[k] = store_col(res, i, 18 + k);
		row->esc_fired[k] = store_col(res, i, 21 + k);
	}
	row->immediate = store_strdup_col(res, i, 24);
	return row;
}

int
store_sla_due(struct store *st, gint64 now, int limit, GPtrArray *out)
{
	/* "< now + 1": now is whole seconds, next_check has fractions */
	static const struct store_stmt stmt = {
	    "sla due",
	    /* a revived history ticket's clock starts when it became live
	     * (012_history), not at its old mail's date.  The due clocks
	     * are taken first and each ticket is read by its key (OFFSET 0
	     * keeps the LATERAL a nested loop): as one join, the generic
	     * plan hashed the whole ticket table for the few due clocks,
	     * 20,000 rows for 7 at 20,000 tickets, and a plan cache that
	     * met a backlog first (a restart after an outage) keeps it */
	    "SELECT c.ticket_id, t.queue, t.priority, t.status, t.since, "
	    "t.agent_first, c.initialized, c.status, "
	    "c.first_response_at, c.last_customer_at, c.last_agent_at, "
	    "c.resolved_at, c.run_since, c.paused_since, "
	    "c.resolution_run_secs, c.awaiting_since, c.response_run_secs, "
	    "c.first_response_secs, c.esc_start[1], c.esc_start[2], "
	    "c.esc_start[3], c.esc_fired[1], c.esc_fired[2], "
	    "c.esc_fired[3], c.immediate FROM (SELECT * FROM sla_clock "
	    "WHERE next_check < to_timestamp($1 + 1) ORDER BY next_check, "
	    "ticket_id LIMIT $2 FOR UPDATE SKIP LOCKED) c CROSS JOIN LATERAL "
	    "(SELECT t.queue, t.priority, t.status, "
	    "extract(epoch FROM COALESCE(t.live_since, t.created))::bigint "
	    "AS since, COALESCE((SELECT m.role = 'agent' FROM message m "
	    "WHERE m.ticket_id = t.id ORDER BY m.id LIMIT 1), false) AS "
	    "agent_first FROM ticket t WHERE t.id = c.ticket_id OFFSET 0) t "
	    "ORDER BY c.next_check, c.ticket_id"};
	char a[24], b[24];
	const char *vals[] = {store_i64(a, now), store_i64(b, limit)};
	int r;
	PGresult *res = store_run(st, &stmt, 2, vals, NULL, NULL, &r);

	if (res == NULL)
		return r;
	for (int i = 0; i < PQntuples(res); i++)
		g_ptr_array_add(out, store_sla_row(res, i));
	PQclear(res);
	return 0;
}

int
store_sla_changes(struct store *st, gint64 ticket, GArray *out)
{
	static const struct store_stmt stmt = {
	    "sla changes", "SELECT id, at, kind, COALESCE(status, '') FROM "
	                   "sla_change WHERE ticket_id = $1 ORDER BY id "
	                   "LIMIT " G_STRINGIFY(STORE_SLA_CHANGES_MAX)};
	char a[24];
	const char *vals[] = {store_i64(a, ticket)};
	int r;
	PGresult *res = store_run(st, &stmt, 1, vals, NULL, NULL, &r);

	if (res == NULL)
		return r;
	for (int i = 0; i < PQntuples(res); i++) {
		struct store_sla_change c = {0};

		c.id = store_col(res, i, 0);
		c.at = store_col(res, i, 1);
		g_strlcpy(c.kind, PQgetvalue(res, i, 2), sizeof(c.kind));
		g_strlcpy(c.status, PQgetvalue(res, i, 3), sizeof(c.status));
		g_array_append_val(out, c);
	}
	PQclear(res);
	return 0;
}

int
store_sla_save(struct store *st, const struct store_sla_row *row,
               const gint64 *change_ids, size_t n_changes, gint64 next_check,
               const char *view, gint64 now)
{
	static const struct store_stmt done = {
	    "sla changes done", "DELETE FROM sla_change WHERE id = "
	                        "ANY($1::bigint[])"};
	static const struct store_stmt save = {
	    "sla save",
	    "UPDATE sla_clock SET initialized = true, status = $2, "
	    "first_response_at = $3, last_customer_at = $4, last_agent_at "
	    "= $5, resolved_at = $6, run_since = $7, paused_since = $8, "
	    "resolution_run_secs = $9, awaiting_since = $10, "
	    "response_run_secs = $11, first_response_secs = $12, esc_start "
	    "= $13::bigint[], esc_fired = $14::bigint[], immediate = NULL, "
	    "next_check = CASE WHEN $15::bigint = 0 THEN NULL ELSE "
	    "to_timestamp($15::bigint) END, view = $16::jsonb, "
	    "evaluated_at = to_timestamp($17) WHERE ticket_id = $1"};
	const struct sla_ticket *c = &row->clock;
	const gint64 clock[] = {c->status,
	                        c->first_response_at,
	                        c->last_customer_at,
	                        c->last_agent_at,
	                        c->resolved_at,
	                        c->run_since,
	                        c->paused_since,
	                        c->resolution_run_secs,
	                        c->awaiting_since,
	                        c->response_run_secs,
	                        c->first_response_secs};
	char b[ARRAY_SIZE(clock)][24], a[24], nc[24], nw[24];
	g_autofree char *starts = store_i64_array(row->esc_start, 3);
	g_autofree char *fired = store_i64_array(row->esc_fired, 3);
	const char *vals[17];
	int r;

	if (n_changes > 0) {
		g_autofree char *ids = store_i64_array(change_ids, n_changes);
		const char *dv[] = {ids};
		if ((r = store_exec(st, &done, 1, dv)) < 0)
			return r;
	}
	/* $2..$12 in the order of the UPDATE's columns */
	vals[0] = store_i64(a, row->ticket_id);
	for (size_t k = 0; k < ARRAY_SIZE(clock); k++)
		vals[1 + k] = store_i64(b[k], clock[k]);
	vals[12] = starts;
	vals[13] = fired;
	vals[14] = store_i64(nc, next_check);
	vals[15] = view;
	vals[16] = store_i64(nw, now);
	return store_exec(st, &save, 17, vals);
}

int
store_sla_next(struct store *st, gint64 *at_r)
{
	static const struct store_stmt stmt = {
	    "sla next", "SELECT extract(epoch FROM min(next_check))::bigint "
	                "FROM sla_clock WHERE next_check IS NOT NULL"};

	return store_int(st, &stmt, 0, NULL, at_r);
}

int
store_sla_immediate(struct store *st, gint64 ticket, const char *reason)
{
	/* once per ticket: not when an immediate notice exists already */
	static const struct store_stmt stmt = {
	    "sla immediate", "UPDATE sla_clock SET immediate = $2, next_check "
	                     "= now() WHERE ticket_id = $1 AND immediate IS "
	                     "NULL AND NOT EXISTS (SELECT 1 FROM sla_notice n "
	                     "WHERE n.ticket_id = $1 AND n.kind = 'immediate') "
	                     "RETURNING 1"};
	char a[24];
	const char *vals[] = {store_i64(a, ticket), reason};

	return store_has_row(st, &stmt, 2, vals);
}

/* ---- notices and digests ---- */

int
store_sla_warning_once(struct store *st, gint64 ticket, const char *target,
                       gint64 clock_start, gint64 now)
{
	/* the primary key is the "once": a repeated or concurrent tick
	 * inserts nothing (018_agents2) */
	static const struct store_stmt stmt = {
	    "sla warning once",
	    "INSERT INTO sla_warning (ticket_id, target, clock_start, "
	    "warned_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING "
	    "RETURNING 1"};
	char a[24], b[24], c[24];
	const char *vals[] = {store_i64(a, ticket), target,
	                      store_i64(b, clock_start), store_i64(c, now)};

	return store_has_row(st, &stmt, 4, vals);
}

int
store_sla_notice_add(struct store *st, gint64 ticket, const char *rcpt,
                     const char *kind, int level, gint64 breach_at,
                     const char *reason, gint64 now)
{
	static const struct store_stmt stmt = {
	    "sla notice add",
	    "INSERT INTO sla_notice (ticket_id, rcpt, kind, level, "
	    "breach_at, reason, queued_at) VALUES ($1, $2, $3, $4, $5, $6, "
	    "$7)"};
	char a[24], b[24], c[24], d[24];
	const char *vals[] = {store_i64(a, ticket),
	                      rcpt,
	                      kind,
	                      store_i64(b, level),
	                      store_i64(c, breach_at),
	                      reason,
	                      store_i64(d, now)};

	return store_exec(st, &stmt, 7, vals);
}

void
store_sla_notice_free(gpointer p)
{
	struct store_sla_notice *n = p;

	g_free(n->rcpt);
	g_free(n->kind);
	g_free(n->reason);
	g_free(n);
}

int
store_sla_pending(struct store *st, int limit, GPtrArray *out)
{
	static const struct store_stmt stmt = {
	    "sla pending",
	    "SELECT id, ticket_id, rcpt, kind, level, breach_at, "
	    "COALESCE(reason, ''), queued_at FROM sla_notice WHERE sent_at "
	    "IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED"};
	char a[24];
	const char *vals[] = {store_i64(a, limit)};
	int r;
	PGresult *res = store_run(st, &stmt, 1, vals, NULL, NULL, &r);

	if (res == NULL)
		return r;
	for (int i = 0; i < PQntuples(res); i++) {
		struct store_sla_notice *n = g_new0(struct store_sla_notice, 1);

		n->id = store_col(res, i, 0);
		n->ticket_id = store_col(res, i, 1);
		n->rcpt = g_strdup(PQgetvalue(res, i, 2));
		n->kind = g_strdup(PQgetvalue(res, i, 3));
		n->level = (int)store_col(res, i, 4);
		n->breach_at = store_col(res, i, 5);
		n->reason = g_strdup(PQgetvalue(res, i, 6));
		n->queued_at = store_col(res, i, 7);
		g_ptr_array_add(out, n);
	}
	PQclear(res);
	return 0;
}

int
store_sla_digest_times(struct store *st, GPtrArray *rcpts, GArray *at_out)
{
	static const struct store_stmt stmt = {
	    "sla digest times",
	    "SELECT rcpt, last_at FROM sla_digest WHERE rcpt = "
	    "ANY($1::text[])"};
	g_autofree char *arr = store_text_array(rcpts);
	const char *vals[] = {arr};
	int r;
	PGresult *res = store_run(st, &stmt, 1, vals, NULL, NULL, &r);

	if (res == NULL)
		return r;
	g_array_set_size(at_out, rcpts->len);
	for (guint j = 0; j < rcpts->len; j++)
		g_array_index(at_out, gint64, j) = 0;
	for (int i = 0; i < PQntuples(res); i++)
		for (guint j = 0; j < rcpts->len; j++)
			if (strcmp(PQgetvalue(res, i, 0), rcpts->pdata[j]) == 0)
				g_array_index(at_out, gint64, j) =
				    store_col(res, i, 1);
	PQclear(res);
	return 0;
}

int
store_sla_notices_sent(struct store *st, const gint64 *ids, size_t n,
                       const char *rcpt, gint64 now)
{
	static const struct store_stmt sent = {
	    "sla notices sent", "UPDATE sla_notice SET sent_at = $2 WHERE id = "
	                        "ANY($1::bigint[])"};
	static const struct store_stmt digest = {
	    "sla digest set", "INSERT INTO sla_digest (rcpt, last_at) VALUES "
	                      "($1, $2) ON CONFLICT (rcpt) DO UPDATE SET "
	                      "last_at = $2"};
	g_autofree char *arr = store_i64_array(ids, n);
	char a[24];
	const char *vals[] = {arr, store_i64(a, now)};
	const char *dv[] = {rcpt, a};
	int r = store_exec(st, &sent, 2, vals);

	return r < 0 ? r : store_exec(st, &digest, 2, dv);
}

/* ---- what a notice says ---- */

void
store_sla_info_clear(struct store_sla_info *i)
{
	g_free(i->subject);
	g_free(i->requester);
	g_free(i->requester_name);
	g_free(i->queue);
	g_free(i->assignee);
	g_free(i->last_text);
	g_free(i->history);
	memset(i, 0, sizeof(*i));
}

int
store_sla_info(struct store *st, gint64 ticket, struct store_sla_info *i_r)
{
	static const struct store_stmt stmt = {
	    "sla info",
	    "SELECT t.subject, t.requester, COALESCE(t.requester_name, ''), "
	    "t.queue, t.priority, COALESCE(t.assignee, ''), t.status, "
	    "extract(epoch FROM t.created)::bigint, COALESCE((SELECT "
	    "left(m.body_new, 4000) FROM message m WHERE m.ticket_id = t.id "
	    "AND m.role = 'customer' ORDER BY m.id DESC LIMIT 1), ''), "
	    "COALESCE(tickd_history(t.id)->>'line', '') FROM ticket t WHERE "
	    "t.id = $1"};
	char a[24];
	const char *vals[] = {store_i64(a, ticket)};
	int r;
	PGresult *res = store_one_row(st, &stmt, 1, vals, &r);

	if (res == NULL)
		return r;
	memset(i_r, 0, sizeof(*i_r));
	i_r->subject = g_strdup(PQgetvalue(res, 0, 0));
	i_r->requester = g_strdup(PQgetvalue(res, 0, 1));
	i_r->requester_name = g_strdup(PQgetvalue(res, 0, 2));
	i_r->queue = g_strdup(PQgetvalue(res, 0, 3));
	g_strlcpy(i_r->priority, PQgetvalue(res, 0, 4), sizeof(i_r->priority));
	i_r->assignee = g_strdup(PQgetvalue(res, 0, 5));
	g_strlcpy(i_r->status, PQgetvalue(res, 0, 6), sizeof(i_r->status));
	i_r->created = store_col(res, 0, 7);
	i_r->last_text = g_strdup(PQgetvalue(res, 0, 8));
	i_r->history = g_strdup(PQgetvalue(res, 0, 9));
	PQclear(res);
	return 0;
}
