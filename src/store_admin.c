/*
 * store_admin.c - what tickctl reads and changes: ticket and status views
 * (PostgreSQL builds the JSON), the connection state for `tickctl
 * status`, erasure, retention and export.  See store_admin.h; the
 * statement machinery is store.c's (store_int.h).
 */
#include "store_admin.h"

#include "store_int.h"

#include <string.h>

/* ---- tickctl views: PostgreSQL builds the JSON ---- */

int
store_json(struct store *st, const char *sql, int n, const char *const *vals,
           GString *out, bool pretty)
{
	g_autofree char *q = pretty ? g_strdup_printf("SELECT jsonb_pretty((%s)"
	                                              "::jsonb)",
	                                              sql)
	                            : g_strdup_printf("SELECT (%s)::text", sql);
	PGresult *res = store_query(st, q, n, vals);

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return store_fail(st, res, "report");
	if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0)) {
		PQclear(res);
		return -ENOENT;
	}
	g_string_append(out, PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

#define STORE_TICKET_COLS                                                      \
	"'number', t.id, 'queue', t.queue, 'status', t.status, 'priority', "   \
	"t.priority, 'subject', t.subject, 'requester', t.requester, "         \
	"'requester_name', t.requester_name, 'assignee', t.assignee, "         \
	"'first_responder', t.first_responder, "                               \
	"'needs_review', t.needs_review, 'review_reason', t.review_reason, "   \
	"'linked_ticket', t.linked_ticket, 'merged_into', t.merged_into, "     \
	"'created', t.created, "                                               \
	"'updated', t.updated, 'first_response_at', t.first_response_at, "     \
	"'resolved_at', t.resolved_at, 'closed_at', t.closed_at, "             \
	"'reopen_count', t.reopen_count, 'message_count', (SELECT count(*) "   \
	"FROM message m WHERE m.ticket_id = t.id)"

int
store_tickets_json(struct store *st, const char *status, GString *out,
                   bool pretty)
{
	const char *vals[] = {status};

	return store_json(
	    st,
	    "SELECT COALESCE(json_agg(json_build_object(" STORE_TICKET_COLS
	    ") ORDER BY t.id), '[]') FROM "
	    "ticket t WHERE $1::text IS NULL OR t.status = $1",
	    1, vals, out, pretty);
}

/* SLA due times and breach state as of the last escalation tick (sla.c
 * does the business-time math, so the tick writes them), and every
 * escalation notice of the ticket. */
#define STORE_SLA_JSON                                                         \
	"'sla', (SELECT c.view || jsonb_build_object('evaluated_at', "         \
	"c.evaluated_at) FROM sla_clock c WHERE c.ticket_id = t.id), "         \
	"'escalations', (SELECT COALESCE(json_agg(json_build_object('rcpt', "  \
	"n.rcpt, 'kind', n.kind, 'level', n.level, 'breach_at', "              \
	"to_timestamp(n.breach_at), 'reason', n.reason, 'queued_at', "         \
	"to_timestamp(n.queued_at), 'sent_at', to_timestamp(n.sent_at)) "      \
	"ORDER BY n.id), '[]') FROM sla_notice n WHERE n.ticket_id = t.id)"

int
store_ticket_json(struct store *st, gint64 id, GString *out, bool pretty)
{
	char a[24];
	const char *vals[] = {store_i64(a, id)};

	return store_json(
	    st,
	    "SELECT json_build_object(" STORE_TICKET_COLS
	    ", 'last_customer_at', t.last_customer_at, 'last_agent_at', "
	    "t.last_agent_at, 'merged_from', (SELECT COALESCE(json_agg(a.id "
	    "ORDER BY a.id), '[]') FROM ticket a WHERE a.merged_into = t.id), "
	    "'participants', (SELECT "
	    "COALESCE(json_agg(json_build_object("
	    "'addr', p.addr, 'name', p.name, 'role', p.role) ORDER BY "
	    "p.addr), '[]') FROM participant p WHERE p.ticket_id = t.id), "
	    "'messages', (SELECT COALESCE(json_agg(json_build_object('id', "
	    "m.id, 'message_id', m.message_id, 'direction', m.direction, "
	    "'role', m.role, 'responder', m.responder, 'class', m.class, "
	    "'class_reason', "
	    "m.class_reason, 'from', m.from_addr, 'from_name', m.from_name, "
	    "'to', m.to_addrs, 'cc', m.cc_addrs, 'subject', m.subject, "
	    "'text', m.body_text, 'text_new', m.body_new, 'has_html', "
	    "m.body_html IS NOT NULL, 'date', m.sent_date, 'received', "
	    "m.received, 'source', m.source, 'unparsed', m.unparsed, "
	    "'defects', m.defects, 'size', m.size, 'attachments', (SELECT "
	    "COALESCE(json_agg(json_build_object('name', a.filename, "
	    "'type', a.content_type, 'size', a.size, 'inline', a.is_inline, "
	    "'content_id', a.content_id) ORDER BY a.id), '[]') FROM "
	    "attachment a WHERE a.message_id = m.id)) ORDER BY m.id), '[]') "
	    "FROM message m WHERE m.ticket_id = t.id), 'events', (SELECT "
	    "COALESCE(json_agg(json_build_object('at', e.at, 'actor', "
	    "e.actor, 'action', e.action, 'detail', e.detail, 'message', "
	    "e.message_id) ORDER BY e.id), '[]') FROM event e WHERE "
	    "e.ticket_id = t.id), 'outbox', (SELECT COALESCE(json_agg("
	    "json_build_object('id', o.id, 'kind', o.kind, 'rcpt', o.rcpt, "
	    "'state', o.state, 'attempts', o.attempts, 'last_code', "
	    "o.last_code, 'last_error', o.last_error, 'created', o.created, "
	    "'sent_at', o.sent_at) ORDER BY o.id), '[]') FROM outbox o "
	    "WHERE o.ticket_id = t.id), " STORE_SLA_JSON
	    ", 'history', tickd_history(t.id)) FROM ticket t "
	    "WHERE t.id = $1",
	    1, vals, out, pretty);
}

/* The circuit breaker (002_limits) for tickctl status: open or not, why,
 * until when (null: until `tickctl breaker reset`), mails held. */
#define STORE_BREAKER_JSON                                                     \
	"(SELECT json_build_object('open', COALESCE(bool_or(b.state = "        \
	"'open' AND (b.until IS NULL OR b.until > now())), false), "           \
	"'tripped_at', max(b.tripped_at), 'until', max(b.until), 'reason', "   \
	"max(b.reason), 'trips', COALESCE(max(b.trips), 0), 'reset_at', "      \
	"max(b.reset_at), 'reset_by', max(b.reset_by), 'held', (SELECT "       \
	"count(*) FROM outbox WHERE state = 'queued' AND last_error LIKE "     \
	"'held:%')) FROM breaker b WHERE b.name = 'auto')"

int
store_status_json(struct store *st, GString *out, bool pretty)
{
	return store_json(
	    st,
	    "SELECT json_build_object('mailboxes', (SELECT COALESCE("
	    "json_agg(json_build_object('mailbox', s.mailbox, "
	    "'uidvalidity', s.uidvalidity, 'last_uid', s.last_uid, "
	    "'marked_uid', s.marked_uid, 'last_fetch', s.last_fetch, "
	    "'last_ok', s.last_ok, 'lag_seconds', extract(epoch FROM now() "
	    "- s.last_ok)::bigint, 'last_error', s.last_error, "
	    "'last_error_at', s.last_error_at, 'failures', s.failures, "
	    "'quarantined', (SELECT count(*) FROM quarantine q WHERE "
	    "q.mailbox = s.mailbox)) ORDER BY s.mailbox), '[]') FROM "
	    "mailbox_state s), 'quarantine', (SELECT json_build_object("
	    "'count', count(*), 'last_error', (SELECT error FROM quarantine "
	    "ORDER BY id DESC LIMIT 1), 'last_at', max(received)) FROM "
	    "quarantine), 'needs_review', (SELECT count(*) FROM ticket WHERE "
	    "needs_review), 'rows_left_out', (SELECT json_build_object("
	    "'count', count(*), 'last_at', max(at)) FROM event "
	    "WHERE " STORE_LEFT_OUT "), 'outbox', "
	    "(SELECT json_build_object('queued', count(*) FILTER (WHERE "
	    "state IN ('queued', 'sending')), 'failed', count(*) FILTER "
	    "(WHERE state = 'failed'), 'sent', count(*) FILTER (WHERE state "
	    "= 'sent'), 'suppressed', count(*) FILTER (WHERE state = "
	    "'suppressed'), 'oldest_queued', min(created) FILTER (WHERE "
	    "state IN ('queued', 'sending')), 'last_error', (SELECT "
	    "last_error FROM outbox WHERE last_error IS NOT NULL AND state "
	    "IN ('queued', 'sending', 'failed') ORDER BY id DESC LIMIT 1)) "
	    "FROM outbox), 'tickets', (SELECT json_object_agg(status, n) "
	    "FROM (SELECT status, count(*) n FROM ticket GROUP BY status) "
	    "x), 'suppressed_addresses', (SELECT count(*) FROM suppression "
	    "WHERE until > now()), 'suppressed', (SELECT COALESCE(json_agg("
	    "json_build_object('addr', addr, 'reason', reason, 'until', "
	    "until) ORDER BY addr), '[]') FROM suppression WHERE until > "
	    "now()), 'breaker', " STORE_BREAKER_JSON ", 'connections', "
	    "(SELECT COALESCE(json_agg(c ORDER BY c.instance, c.name), "
	    "'[]') FROM connection_state c))",
	    0, NULL, out, pretty);
}

/* ---- tables for tickctl ---- */

void
store_table_init(struct store_table *t)
{
	t->cols = g_ptr_array_new_with_free_func(g_free);
	t->rows =
	    g_ptr_array_new_with_free_func((GDestroyNotify)g_ptr_array_unref);
}

void
store_table_clear(struct store_table *t)
{
	if (t->cols)
		g_ptr_array_unref(t->cols);
	if (t->rows)
		g_ptr_array_unref(t->rows);
	t->cols = t->rows = NULL;
}

int
store_rows(struct store *st, const char *sql, int n, const char *const *vals,
           struct store_table *t, GString *out, bool pretty)
{
	g_autofree char *q = NULL;
	PGresult *res;

	if (!store_connected(st))
		return -ENOTCONN;
	if (t == NULL) {
		q = g_strdup_printf("SELECT COALESCE(json_agg(row_to_json(x)), "
		                    "'[]') FROM (%s) x",
		                    sql);
		return store_json(st, q, n, vals, out, pretty);
	}
	res = store_query(st, sql, n, vals);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return store_fail(st, res, "report");
	for (int c = 0; c < PQnfields(res); c++)
		g_ptr_array_add(t->cols, g_strdup(PQfname(res, c)));
	for (int r = 0; r < PQntuples(res); r++) {
		GPtrArray *row = g_ptr_array_new_with_free_func(g_free);
		for (int c = 0; c < PQnfields(res); c++)
			g_ptr_array_add(row,
			                PQgetisnull(res, r, c)
			                    ? NULL
			                    : g_strdup(PQgetvalue(res, r, c)));
		g_ptr_array_add(t->rows, row);
	}
	PQclear(res);
	return 0;
}

#define STORE_TICKET_WHERE                                                     \
	" WHERE ($1::text IS NULL OR t.status = $1) AND ($2::text IS NULL OR " \
	"t.queue = $2) AND ($3::text IS NULL OR t.priority = $3) AND "         \
	"($4::text IS NULL OR t.assignee = lower($4) OR ($4 = '-' AND "        \
	"t.assignee IS NULL)) AND ($5::text IS NULL OR EXISTS (SELECT 1 "      \
	"FROM sla_clock c WHERE c.ticket_id = t.id AND "                       \
	"(c.view->>'breached')::boolean)) AND ($6::text IS NULL OR "           \
	"t.requester = lower($6) OR (left($6, 1) = '@' AND "                   \
	"split_part(t.requester, '@', 2) = lower(substr($6, 2))))"

int
store_tickets_list(struct store *st, const struct store_ticket_filter *f,
                   struct store_table *t, GString *out, bool pretty)
{
	const char *vals[] = {f->status,
	                      f->queue,
	                      f->priority,
	                      f->assignee,
	                      f->breached ? "t" : NULL,
	                      f->requester};

	/* --json: every column `tickets --json` always had (one object per
	 * ticket); the table: the columns that fit a terminal. */
	if (t == NULL)
		return store_json(
		    st,
		    "SELECT "
		    "COALESCE(json_agg(json_build_object(" STORE_TICKET_COLS
		    ") ORDER BY t.id), '[]') "
		    "FROM ticket t" STORE_TICKET_WHERE,
		    6, vals, out, pretty);
	return store_rows(st,
	                  "SELECT t.id AS number, t.status, t.priority, "
	                  "t.queue, COALESCE(t.assignee, '-') AS assignee, "
	                  "t.requester, to_char(t.updated, 'YYYY-MM-DD "
	                  "HH24:MI') AS updated, left(t.subject, 40) AS "
	                  "subject FROM ticket t" STORE_TICKET_WHERE
	                  " ORDER BY t.id",
	                  6, vals, t, out, pretty);
}

static const char *const store_views[] = {
    [STORE_VIEW_MAILBOXES] =
        "SELECT mailbox, uidvalidity, last_uid AS cursor, marked_uid, "
        "to_char(last_ok, 'YYYY-MM-DD HH24:MI:SS') AS last_ok, "
        "extract(epoch FROM now() - last_ok)::bigint AS lag_seconds, "
        "failures, (SELECT count(*) FROM quarantine q WHERE q.mailbox = "
        "s.mailbox) AS quarantined, left(last_error, 80) AS last_error, "
        "to_char(last_error_at, 'YYYY-MM-DD HH24:MI:SS') AS "
        "last_error_at FROM mailbox_state s ORDER BY mailbox",
    [STORE_VIEW_REVIEW] =
        "SELECT (SELECT count(*) FROM quarantine) AS quarantined_mails, "
        "(SELECT left(error, 80) FROM quarantine ORDER BY id DESC LIMIT "
        "1) AS last_quarantined, (SELECT count(*) FROM ticket WHERE "
        "needs_review) AS tickets_needing_review, (SELECT count(*) FROM "
        "event WHERE " STORE_LEFT_OUT ") AS rows_left_out",
    [STORE_VIEW_OUTBOX] =
        "SELECT count(*) FILTER (WHERE state IN ('queued', 'sending')) "
        "AS backlog, to_char(min(created) FILTER (WHERE state IN "
        "('queued', 'sending')), 'YYYY-MM-DD HH24:MI:SS') AS "
        "oldest_queued, COALESCE(extract(epoch FROM now() - "
        "min(created) FILTER (WHERE state IN ('queued', 'sending')))"
        "::bigint, 0) AS oldest_age_seconds, count(*) FILTER (WHERE "
        "state = 'failed') AS failed, count(*) FILTER (WHERE state = "
        "'suppressed') AS suppressed, count(*) FILTER (WHERE state = "
        "'sent') AS sent FROM outbox",
    [STORE_VIEW_CONNECTIONS] =
        "SELECT instance, name, state, to_char(since, 'YYYY-MM-DD "
        "HH24:MI:SS') AS since, left(last_error, 60) AS last_error FROM "
        "connection_state ORDER BY instance, name",
    [STORE_VIEW_SUPPRESSED] =
        "SELECT addr, left(reason, 60) AS reason, to_char(until, "
        "'YYYY-MM-DD HH24:MI') AS until FROM suppression WHERE until > "
        "now() ORDER BY addr",
    [STORE_VIEW_OUTBOX_PENDING] =
        "SELECT id, ticket_id AS ticket, kind, rcpt, state, attempts, "
        "to_char(next_attempt, 'YYYY-MM-DD HH24:MI:SS') AS "
        "next_attempt, last_code, left(last_error, 60) AS last_error, "
        "to_char(created, 'YYYY-MM-DD HH24:MI:SS') AS created FROM "
        "outbox WHERE state IN ('queued', 'sending', 'failed') ORDER BY "
        "id",
    [STORE_VIEW_OUTBOX_ALL] =
        "SELECT * FROM (SELECT id, ticket_id AS ticket, kind, rcpt, "
        "state, attempts, to_char(next_attempt, 'YYYY-MM-DD "
        "HH24:MI:SS') AS next_attempt, last_code, left(last_error, 60) "
        "AS last_error, to_char(created, 'YYYY-MM-DD HH24:MI:SS') AS "
        "created FROM outbox ORDER BY id DESC LIMIT 100) o ORDER BY id",
};

int
store_view(struct store *st, enum store_view v, struct store_table *t,
           GString *out, bool pretty)
{
	if ((size_t)v >= ARRAY_SIZE(store_views))
		return -EINVAL;
	return store_rows(st, store_views[v], 0, NULL, t, out, pretty);
}

/* ---- quarantine: mail that could not be stored (sql/011) ---- */

int
store_quarantine_list(struct store *st, struct store_table *t, GString *out,
                      bool pretty)
{
	return store_rows(
	    st,
	    "SELECT id, COALESCE(mailbox, source) AS mailbox, uid, "
	    "to_char(received, 'YYYY-MM-DD HH24:MI:SS') AS received, size, "
	    "left(error, 100) AS error FROM quarantine ORDER BY id",
	    0, NULL, t, out, pretty);
}

int
store_quarantine_raw(struct store *st, gint64 id, GBytes **raw_r)
{
	char a[24];
	const char *vals[] = {store_i64(a, id)};
	PGresult *res;

	if (!store_connected(st))
		return -ENOTCONN;
	/* binary result: the bytes as they came, no bytea escaping */
	res = PQexecParams(st->conn, "SELECT raw FROM quarantine WHERE id = $1",
	                   1, NULL, vals, NULL, NULL, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return store_fail(st, res, "quarantine raw");
	if (PQntuples(res) == 0) {
		PQclear(res);
		return -ENOENT;
	}
	*raw_r =
	    g_bytes_new(PQgetvalue(res, 0, 0), (gsize)PQgetlength(res, 0, 0));
	PQclear(res);
	return 0;
}

int
store_conn_state(struct store *st, const char *instance, const char *name,
                 const char *state, const char *err)
{
	const char *vals[] = {instance, name, state, err};

	if (!store_connected(st))
		return -ENOTCONN;
	return store_query_exec(
	    st, "connection state",
	    "INSERT INTO connection_state (instance, name, state, "
	    "last_error, last_error_at) VALUES ($1, $2, $3, $4, CASE WHEN "
	    "$4::text IS NULL THEN NULL ELSE now() END) ON CONFLICT "
	    "(instance, name) DO UPDATE SET state = $3, since = now(), "
	    "last_error = COALESCE($4, connection_state.last_error), "
	    "last_error_at = CASE WHEN $4::text IS NULL THEN "
	    "connection_state.last_error_at ELSE now() END",
	    4, vals);
}

int
store_ticket_assignee(struct store *st, gint64 id, char **assignee_r)
{
	char a[24];
	const char *vals[] = {store_i64(a, id)};
	PGresult *res;

	if (!store_connected(st))
		return -ENOTCONN;
	res = store_query(st, "SELECT assignee FROM ticket WHERE id = $1", 1,
	                  vals);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return store_fail(st, res, "ticket assignee");
	if (PQntuples(res) == 0) {
		PQclear(res);
		return -ENOENT;
	}
	*assignee_r =
	    PQgetisnull(res, 0, 0) ? NULL : g_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

/* ---- privacy: forget, purge, export ----
 * The erasure, retention and export logic lives in PL/pgSQL functions in
 * sql/006_queues.sql, so that it runs in one statement (one transaction)
 * and a later migration can extend it to tables added after 006. */

int
store_forget(struct store *st, const char *addr, const char *actor,
             GString *out)
{
	const char *vals[] = {addr, actor};
	g_autofree char *s = NULL;
	int r = store_text(st, "forget", "SELECT tickd_forget($1, $2)::text", 2,
	                   vals, &s);

	if (r == 0)
		g_string_append(out, s ? s : "{}");
	return r;
}

int
store_purge(struct store *st, const char *queue, int days, const char *actor,
            GString *out)
{
	char d[24];
	const char *vals[] = {queue, store_i64(d, days), actor};
	g_autofree char *s = NULL;
	int r =
	    store_text(st, "purge", "SELECT tickd_purge($1, $2::int, $3)::text",
	               3, vals, &s);

	if (r == 0)
		g_string_append(out, s ? s : "{}");
	return r;
}

int
store_export_json(struct store *st, const char *addr, GString *out)
{
	const char *vals[] = {addr};
	g_autofree char *s = NULL;
	int r = store_text(
	    st, "export", "SELECT jsonb_pretty(tickd_export($1))", 1, vals, &s);

	if (r == 0)
		g_string_append(out, s ? s : "{}");
	return r;
}

int
store_export_raw(struct store *st, const char *addr,
                 int (*fn)(gint64 id, const void *raw, size_t len, void *ud),
                 void *ud)
{
	const char *vals[] = {addr};
	const int fmts[] = {0};
	PGresult *res;
	int r = 0;

	if (!store_connected(st))
		return -ENOTCONN;
	/* binary results: raw mail is bytes, not text */
	res = PQexecParams(st->conn,
	                   "SELECT id, raw FROM message WHERE raw IS NOT NULL "
	                   "AND id IN (SELECT (m->>'id')::bigint FROM "
	                   "jsonb_array_elements(tickd_export($1)->'messages') "
	                   "m) ORDER BY id",
	                   1, NULL, vals, NULL, fmts, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return store_fail(st, res, "export raw");
	for (int i = 0; i < PQntuples(res) && r == 0; i++) {
		guint64 be;
		gint64 id;

		memcpy(&be, PQgetvalue(res, i, 0), sizeof(be));
		id = (gint64)GUINT64_FROM_BE(be);
		r = fn(id, PQgetvalue(res, i, 1),
		       (size_t)PQgetlength(res, i, 1), ud);
	}
	PQclear(res);
	return r;
}
