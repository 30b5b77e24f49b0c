/*
 * store_report.c - the numbers: the rows of a report (report.h) in one
 * snapshot, CSAT requests and ratings, digest claims.  See
 * store_report.h; the statement machinery is store.c's (store_int.h).
 */
#include "store_report.h"

#include "digestview.h"
#include "report.h"
#include "store_int.h"

#include <string.h>

/* The SLA clock (004_sla.sql) next to each ticket: usable when the tick
 * has initialised it and replayed every change (no sla_change row left);
 * the changes table holds only the unreplayed ones, so it hashes small.
 * Column 11 says usable, 12.. are the fields report.c reads (the cursor
 * moves every byte of them for every ticket: no more). */
#define STORE_REPORT_CLOCK                                                     \
	"COALESCE(c.initialized AND pc.ticket_id IS NULL, false), "            \
	"COALESCE(c.status, 0), COALESCE(c.first_response_at, 0), "            \
	"COALESCE(c.run_since, 0), COALESCE(c.paused_since, 0), "              \
	"COALESCE(c.resolution_run_secs, 0), COALESCE(c.awaiting_since, 0), "  \
	"COALESCE(c.response_run_secs, 0), COALESCE(c.first_response_secs, 0)"
/*
 * The ticket rows of a report: everything created before `to` that was
 * not resolved before the previous period began (created or resolved in
 * either period, or in the backlog at either end).  The OR of the two
 * partial/expression indexes of 005_report.sql keeps a short period over
 * a large history an index scan.
 */
#define STORE_REPORT_TICKETS                                                   \
	"SELECT t.id, t.queue, t.assignee, t.subject, t.priority, "            \
	"extract(epoch FROM t.created)::bigint, COALESCE(extract(epoch "       \
	"FROM t.first_response_at)::bigint, 0), COALESCE(extract(epoch "       \
	"FROM t.last_customer_at)::bigint, 0), COALESCE(extract(epoch FROM "   \
	"t.last_agent_at)::bigint, 0), COALESCE(extract(epoch FROM "           \
	"COALESCE(t.resolved_at, t.closed_at))::bigint, 0), "                  \
	"t.reopen_count, " STORE_REPORT_CLOCK " FROM ticket t LEFT JOIN "      \
	"sla_clock c ON c.ticket_id = t.id LEFT JOIN (SELECT DISTINCT "        \
	"ticket_id FROM sla_change) pc ON pc.ticket_id = t.id "                \
	"WHERE t.created < to_timestamp($2) AND NOT t.history "                \
	"AND ((t.resolved_at IS NULL AND t.closed_at IS NULL) OR "             \
	"COALESCE(t.resolved_at, t.closed_at) >= to_timestamp($1)) AND "       \
	"($3::text IS NULL OR t.queue = ANY(string_to_array($3, E'\\n'))) "    \
	"AND ($4::text IS NULL OR "                                            \
	"t.assignee = $4)"

/*
 * Pre-counted rows: kind, sub, period (0 current, 1 previous), queue,
 * assignee, n.  Escalations as escalate.c writes them: one event with
 * action 'escalated' per fired level, detail "level N: ..." (a priority
 * rule's immediate one, "immediate: ...", is level 1); not the
 * 'escalation-requested' / 'escalation-skipped' events.  The LIKE lets
 * the partial index of 005_report.sql serve the scan.  Machine mail is
 * inbound mail stored with role 'other' (classify said machine), except
 * rating replies (class 'rating').  Customer mails are counted per
 * (period, ticket) first, then per queue/assignee: a hash aggregate
 * instead of a sort for count(DISTINCT ticket).  $1..$3:
 * the previous period's start, the current one's start, its end; $4
 * queue(s), newline-separated, $5 assignee (NULL: any).
 */
/* the queue filter: one queue name or several, newline-separated */
#define STORE_QUEUE_IN4 "t.queue = ANY(string_to_array($4, E'\\n'))"
/* clang-format off */
static const char store_report_counts[] =
	"WITH cm AS (SELECT x.p, t.queue, t.assignee, sum(x.n) AS mails, "
	"count(*) AS tickets FROM (SELECT m.ticket_id, CASE WHEN m.received "
	">= to_timestamp($2) THEN 0 ELSE 1 END AS p, count(*) AS n FROM "
	"message m WHERE m.direction = 'in' AND m.role = 'customer' AND "
	"m.received >= to_timestamp($1) AND m.received < to_timestamp($3) "
	"GROUP BY 1, 2) x JOIN ticket t ON t.id = x.ticket_id WHERE "
	"($4::text IS NULL OR " STORE_QUEUE_IN4 ") AND ($5::text IS NULL OR "
	"t.assignee = $5) GROUP BY 1, 2, 3) "
	/* 0: escalations by level */
	"SELECT 0, LEAST(COALESCE(substring(e.detail FROM "
	"'^level ([0-9]{1,6})')::int, 1), 99), CASE WHEN e.at >= "
	"to_timestamp($2) THEN 0 ELSE 1 END, t.queue, t.assignee, count(*) "
	"FROM event e JOIN ticket t ON t.id = e.ticket_id WHERE e.action "
	"LIKE 'escalat%' AND e.action = 'escalated' AND e.at >= "
	"to_timestamp($1) AND e.at < to_timestamp($3) AND ($4::text IS NULL "
	"OR " STORE_QUEUE_IN4 ") AND ($5::text IS NULL OR t.assignee = $5) "
	"GROUP BY 2, 3, 4, 5 "
	/* 1: ratings, 1 good, 2 okay, 3 bad */
	"UNION ALL SELECT 1, CASE r.rating WHEN 'good' THEN 1 WHEN 'okay' "
	"THEN 2 ELSE 3 END, CASE WHEN r.at >= to_timestamp($2) THEN 0 ELSE 1 "
	"END, t.queue, t.assignee, count(*) FROM csat_rating r JOIN ticket t "
	"ON t.id = r.ticket_id WHERE r.at >= to_timestamp($1) AND r.at < "
	"to_timestamp($3) AND ($4::text IS NULL OR " STORE_QUEUE_IN4 ") AND "
	"($5::text IS NULL OR t.assignee = $5) GROUP BY 2, 3, 4, 5 "
	/* 2: machine mail, with or without a ticket */
	"UNION ALL SELECT 2, 0, CASE WHEN m.received >= to_timestamp($2) "
	"THEN 0 ELSE 1 END, t.queue, t.assignee, count(*) FROM message m "
	"LEFT JOIN ticket t ON t.id = m.ticket_id WHERE m.direction = 'in' "
	"AND m.role = 'other' AND m.class <> 'rating' AND m.received >= "
	"to_timestamp($1) AND m.received < to_timestamp($3) AND "
	"(($4::text IS NULL AND $5::text IS NULL) OR (t.id IS NOT NULL AND "
	"($4::text IS NULL OR " STORE_QUEUE_IN4 ") AND ($5::text IS NULL OR "
	"t.assignee = $5))) GROUP BY 2, 3, 4, 5 "
	/* 3, 4: customer mails, tickets they came in on */
	"UNION ALL SELECT 3, 0, p, queue, assignee, mails FROM cm "
	"UNION ALL SELECT 4, 0, p, queue, assignee, tickets FROM cm "
	/* 5: thank-you replies that kept a ticket resolved (ingest) */
	"UNION ALL SELECT 5, 0, CASE WHEN e.at >= to_timestamp($2) THEN 0 "
	"ELSE 1 END, t.queue, t.assignee, count(*) FROM event e JOIN ticket "
	"t ON t.id = e.ticket_id WHERE e.action = 'thanks' AND e.at >= "
	"to_timestamp($1) AND e.at < to_timestamp($3) AND ($4::text IS NULL "
	"OR " STORE_QUEUE_IN4 ") AND ($5::text IS NULL OR t.assignee = $5) "
	"GROUP BY 2, 3, 4, 5";
/* clang-format on */

#define STORE_REPORT_FETCH 20000

/* store_report_row - ticket row i of STORE_REPORT_TICKETS into r. */
static int
store_report_row(PGresult *res, int i, struct report *r)
{
	struct report_row row = {
	    .id = store_col(res, i, 0),
	    .queue = PQgetvalue(res, i, 1),
	    .agent = PQgetisnull(res, i, 2) ? NULL : PQgetvalue(res, i, 2),
	    .subject = PQgetvalue(res, i, 3),
	    .priority = report_priority(PQgetvalue(res, i, 4)),
	    .reopen_count = (int)store_col(res, i, 10),
	};
	gint64 *tv[] = {&row.created, &row.first_response, &row.last_customer,
	                &row.last_agent, &row.resolved};
	gint64 *cv[] = {
	    &row.clock.first_response_at,  &row.clock.run_since,
	    &row.clock.paused_since,       &row.clock.resolution_run_secs,
	    &row.clock.awaiting_since,     &row.clock.response_run_secs,
	    &row.clock.first_response_secs};

	for (int c = 0; c < 5; c++)
		*tv[c] = store_col(res, i, 5 + c);
	/* the SLA clock (STORE_REPORT_CLOCK) */
	row.has_clock = store_bool_col(res, i, 11);
	row.clock.created = row.created;
	row.clock.priority = row.priority;
	row.clock.status = (int)store_col(res, i, 12);
	for (size_t c = 0; c < ARRAY_SIZE(cv); c++)
		*cv[c] = store_col(res, i, 13 + (int)c);
	return report_add_ticket(r, &row);
}

/* store_report_fetch_tickets - the ticket rows through a cursor, so that
 * memory does not grow with the row count. */
static int
store_report_fetch_tickets(struct store *st, struct report *r,
                           const char *const *vals)
{
	PGresult *res;
	int rc = 0;

	if ((rc = store_query_exec(st, "report",
	                           "DECLARE tickd_report NO SCROLL CURSOR "
	                           "FOR " STORE_REPORT_TICKETS,
	                           4, vals)) < 0)
		return rc;
	for (;;) {
		int n;

		res = PQexec(st->conn,
		             "FETCH " G_STRINGIFY(
		                 STORE_REPORT_FETCH) " FROM tickd_report");
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			return store_fail(st, res, "report");
		n = PQntuples(res);
		for (int i = 0; i < n && rc == 0; i++)
			rc = store_report_row(res, i, r);
		PQclear(res);
		if (rc < 0)
			return rc;
		if (n < STORE_REPORT_FETCH)
			break;
	}
	return store_cmd(st, "CLOSE tickd_report");
}

/* store_report_fetch_counts - the pre-counted rows into r. */
static int
store_report_fetch_counts(struct store *st, struct report *r,
                          const char *const *vals)
{
	PGresult *res = store_query(st, store_report_counts, 5, vals);
	int rc = 0;

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return store_fail(st, res, "report");
	for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
		struct report_count cnt = {
		    .kind = (int)store_col(res, i, 0),
		    .sub = (int)store_col(res, i, 1),
		    .period = (int)store_col(res, i, 2),
		    .queue =
		        PQgetisnull(res, i, 3) ? NULL : PQgetvalue(res, i, 3),
		    .agent =
		        PQgetisnull(res, i, 4) ? NULL : PQgetvalue(res, i, 4),
		    .n = store_col(res, i, 5),
		};
		rc = report_add_count(r, &cnt);
	}
	PQclear(res);
	return rc;
}

int
store_report_load(struct store *st, struct report *r, const char *queue,
                  const char *agent)
{
	char a[24], b[24], c[24];
	const char *tv[] = {store_i64(a, r->prev_from), store_i64(b, r->p.to),
	                    queue, agent};
	const char *cv[] = {tv[0], store_i64(c, r->p.from), tv[1], queue,
	                    agent};
	bool own_tx =
	    st->conn != NULL && PQtransactionStatus(st->conn) == PQTRANS_IDLE;
	int rc;

	if (!store_connected(st))
		return -ENOTCONN;
	/* one snapshot for both queries; a cursor needs a transaction */
	if (own_tx && (rc = store_cmd(st, "BEGIN ISOLATION LEVEL REPEATABLE "
	                                  "READ READ ONLY")) < 0)
		return rc;
	/* the cursor reads every row: plan for all of them, not the first
	 * 10%; let the per-ticket aggregates hash in memory; the joins to
	 * ticket of a short period are index lookups of cached pages (the
	 * default random_page_cost makes them a scan of every ticket); JIT
	 * compiling costs more than it saves on these queries */
	if ((rc = store_cmd(st, "SET LOCAL cursor_tuple_fraction = 1")) < 0 ||
	    (rc = store_cmd(st, "SET LOCAL work_mem = '64MB'")) < 0 ||
	    (rc = store_cmd(st, "SET LOCAL random_page_cost = 1.1")) < 0 ||
	    (rc = store_cmd(st, "SET LOCAL jit = off")) < 0)
		goto out;
	if ((rc = store_report_fetch_tickets(st, r, tv)) < 0)
		goto out;
	rc = store_report_fetch_counts(st, r, cv);
out:
	if (own_tx) {
		if (rc == 0)
			rc = store_cmd(st, "COMMIT");
		else
			store_rollback(st);
	}
	return rc;
}

/* ---- CSAT and digests ---- */

void
store_resolved_free(gpointer p)
{
	struct store_resolved *t = p;

	g_free(t->requester);
	g_free(t->requester_name);
	g_free(t->subject);
	g_free(t->queue);
	g_free(t);
}

int
store_csat_due(struct store *st, const char *queue, int max_age_secs, int limit,
               GPtrArray *out)
{
	/* resolved, not too long ago, no resolution mail
	 * for this resolution yet, not rated */
	static const struct store_stmt stmt = {
	    "csat due",
	    "SELECT t.id, extract(epoch FROM t.resolved_at)::bigint, "
	    "t.requester, t.requester_name, t.subject, t.queue FROM ticket "
	    "t WHERE t.status = 'resolved' AND t.resolved_at > now() - "
	    "make_interval(secs => $1) AND NOT EXISTS (SELECT 1 FROM "
	    "csat_request c WHERE c.ticket_id = t.id AND c.resolved_at = "
	    "t.resolved_at) AND NOT EXISTS (SELECT 1 FROM csat_rating r "
	    "WHERE r.ticket_id = t.id) AND t.queue = $3 ORDER BY "
	    "t.resolved_at LIMIT $2"};
	char a[24], b[24];
	const char *vals[] = {store_i64(a, max_age_secs), store_i64(b, limit),
	                      queue};
	int r;
	PGresult *res = store_run(st, &stmt, 3, vals, NULL, NULL, &r);

	if (res == NULL)
		return r;
	for (int i = 0; i < PQntuples(res); i++) {
		struct store_resolved *t = g_new0(struct store_resolved, 1);
		t->id = store_col(res, i, 0);
		t->resolved_at = store_col(res, i, 1);
		t->requester = g_strdup(PQgetvalue(res, i, 2));
		t->requester_name = store_strdup_col(res, i, 3);
		t->subject = g_strdup(PQgetvalue(res, i, 4));
		t->queue = g_strdup(PQgetvalue(res, i, 5));
		g_ptr_array_add(out, t);
	}
	PQclear(res);
	return 0;
}

int
store_csat_request(struct store *st, gint64 ticket)
{
	static const struct store_stmt stmt = {
	    "csat request",
	    "INSERT INTO csat_request (ticket_id, resolved_at) SELECT id, "
	    "resolved_at FROM ticket WHERE id = $1 AND status = 'resolved' "
	    "ON CONFLICT DO NOTHING RETURNING 1"};
	char a[24];
	const char *vals[] = {store_i64(a, ticket)};

	return store_has_row(st, &stmt, 1, vals);
}

int
store_csat_rate(struct store *st, gint64 ticket, const char *rating,
                const char *comment, const char *from, gint64 message,
                gint64 at)
{
	static const struct store_stmt stmt = {
	    "csat rate",
	    "INSERT INTO csat_rating (ticket_id, rating, comment, "
	    "from_addr, message_id, at) VALUES ($1, $2, $3, $4, NULLIF($5, "
	    "0), to_timestamp($6)) ON CONFLICT DO NOTHING RETURNING 1"};
	char a[24], b[24], c[24];
	const char *vals[] = {
	    store_i64(a, ticket),  rating,          comment, from,
	    store_i64(b, message), store_i64(c, at)};

	return store_has_row(st, &stmt, 6, vals);
}

int
store_digest_claim(struct store *st, const char *schedule, gint64 start,
                   gint64 end)
{
	static const struct store_stmt stmt = {
	    "digest claim",
	    "INSERT INTO digest_log (schedule, period_start, period_end) "
	    "VALUES ($1, to_timestamp($2), to_timestamp($3)) ON CONFLICT "
	    "DO NOTHING RETURNING 1"};
	char a[24], b[24];
	const char *vals[] = {schedule, store_i64(a, start), store_i64(b, end)};

	return store_has_row(st, &stmt, 3, vals);
}

/* ---- the digest's "needs you" and workload lists ------------------- */

/* $1: queues (newline-separated) or NULL for all */
#define STORE_DIGEST_QUEUES                                                    \
	"($1::text IS NULL OR t.queue = ANY(string_to_array($1, E'\\n')))"
#define STORE_DIGEST_WHO "COALESCE(t.requester_name, t.requester)"

/*
 * Breached / warned SLA targets of open tickets as of the tick's last
 * evaluation (sla_clock.view, escalate.c), one row per ticket (its most
 * urgent target); bad ratings and escalations in [$2, $3); the tickets
 * whose customer waits longest (no agent reply since their last mail).
 */
static const char store_digest_needs_sql[] =
    "(SELECT kind, id, who, subject, assignee, target, due FROM (SELECT "
    "DISTINCT ON (t.id) CASE WHEN k.value->>'breached' = 'true' THEN 0 "
    "ELSE 1 END AS kind, t.id, " STORE_DIGEST_WHO " AS who, t.subject, "
    "t.assignee, replace(k.key, '_', ' ') AS target, extract(epoch FROM "
    "(k.value->>'due')::timestamptz)::bigint AS due FROM ticket t JOIN "
    "sla_clock c ON c.ticket_id = t.id CROSS JOIN LATERAL jsonb_each("
    "c.view) k WHERE t.status IN ('new', 'open') AND k.key IN "
    "('first_response', 'next_response', 'resolution') AND "
    "jsonb_typeof(k.value) = 'object' AND (k.value->>'breached' = 'true' "
    "OR k.value->>'warning' = 'true') AND k.value->>'due' IS NOT NULL "
    /* a reply the clock has not replayed yet settles a first response */
    "AND NOT (k.key = 'first_response' AND t.first_response_at IS NOT "
    "NULL) AND " STORE_DIGEST_QUEUES
    " ORDER BY t.id, 1, 7) b ORDER BY 1, 7 LIMIT 100) "
    "UNION ALL (SELECT 2, t.id, " STORE_DIGEST_WHO ", t.subject, "
    "t.assignee, COALESCE(r.comment, ''), extract(epoch FROM r.at)::bigint "
    "FROM csat_rating r JOIN ticket t ON t.id = r.ticket_id WHERE "
    "r.rating = 'bad' AND r.at >= to_timestamp($2) AND r.at < "
    "to_timestamp($3) AND " STORE_DIGEST_QUEUES " ORDER BY r.at DESC "
    "LIMIT 100) UNION ALL (SELECT 3, t.id, " STORE_DIGEST_WHO ", "
    "t.subject, t.assignee, replace(split_part(e.detail, ' ->', 1), '_', "
    "' '), extract(epoch FROM e.at)::bigint FROM event e JOIN ticket t ON t.id "
    "= e.ticket_id "
    "WHERE e.action LIKE 'escalat%' AND e.action = 'escalated' AND e.at >= "
    "to_timestamp($2) AND e.at < to_timestamp($3) AND " STORE_DIGEST_QUEUES
    " ORDER BY e.at DESC LIMIT 100) UNION ALL (SELECT 4, "
    "t.id, " STORE_DIGEST_WHO
    ", t.subject, t.assignee, NULL, extract(epoch FROM "
    "CASE WHEN t.last_agent_at IS NULL OR t.last_customer_at IS NULL THEN "
    "t.created ELSE t.last_customer_at END)::bigint FROM ticket t WHERE "
    "t.status IN ('new', 'open') AND (t.last_agent_at IS NULL OR "
    "t.last_customer_at > t.last_agent_at) AND " STORE_DIGEST_QUEUES
    " ORDER BY 7, 2 LIMIT 5)";

int
store_digest_needs(struct store *st, const char *queues, gint64 since,
                   gint64 until, GPtrArray *out)
{
	char a[24], b[24];
	const char *vals[] = {queues, store_i64(a, since), store_i64(b, until)};
	PGresult *res;

	if (!store_connected(st))
		return -ENOTCONN;
	res = store_query(st, store_digest_needs_sql, 3, vals);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return store_fail(st, res, "digest needs");
	for (int i = 0; i < PQntuples(res); i++) {
		struct digestview_item *it = g_new0(struct digestview_item, 1);

		it->kind = (int)store_col(res, i, 0);
		it->ticket = store_col(res, i, 1);
		it->customer = g_strdup(PQgetvalue(res, i, 2));
		it->subject = g_strdup(PQgetvalue(res, i, 3));
		it->holder = PQgetisnull(res, i, 4)
		                 ? NULL
		                 : g_strdup(PQgetvalue(res, i, 4));
		it->what = PQgetisnull(res, i, 5)
		               ? NULL
		               : g_strdup(PQgetvalue(res, i, 5));
		it->at = store_col(res, i, 6);
		g_ptr_array_add(out, it);
	}
	PQclear(res);
	return 0;
}

/* Open tickets per assignee now (NULL = unassigned); agent mails stored
 * in [$2, $3) per sender. */
static const char store_digest_load_sql[] =
    "SELECT 0, t.assignee, count(*) FROM ticket t WHERE t.status IN "
    "('new', 'open', 'pending') AND " STORE_DIGEST_QUEUES " GROUP BY 2 "
    "UNION ALL SELECT 1, lower(m.from_addr), count(*) FROM message m JOIN "
    "ticket t ON t.id = m.ticket_id WHERE m.role = 'agent' AND "
    "m.from_addr IS NOT NULL AND m.received >= to_timestamp($2) AND "
    "m.received < to_timestamp($3) AND " STORE_DIGEST_QUEUES " GROUP BY 2";

/* store_digest_load_row - the row of agent in out, made on first use. */
static struct digestview_load *
store_digest_load_row(GPtrArray *out, const char *agent)
{
	struct digestview_load *l;

	for (guint i = 0; i < out->len; i++) {
		l = out->pdata[i];
		if (g_ascii_strcasecmp(l->agent, agent) == 0)
			return l;
	}
	l = g_new0(struct digestview_load, 1);
	l->agent = g_ascii_strdown(agent, -1);
	g_ptr_array_add(out, l);
	return l;
}

int
store_digest_load(struct store *st, const char *queues, gint64 from, gint64 to,
                  GPtrArray *out, gint64 *unassigned_r)
{
	char a[24], b[24];
	const char *vals[] = {queues, store_i64(a, from), store_i64(b, to)};
	PGresult *res;

	*unassigned_r = 0;
	if (!store_connected(st))
		return -ENOTCONN;
	res = store_query(st, store_digest_load_sql, 3, vals);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return store_fail(st, res, "digest workload");
	for (int i = 0; i < PQntuples(res); i++) {
		gint64 n = store_col(res, i, 2);
		bool open = (int)store_col(res, i, 0) == 0;

		if (PQgetisnull(res, i, 1)) {
			if (open)
				*unassigned_r = n;
			continue;
		}
		if (open)
			store_digest_load_row(out, PQgetvalue(res, i, 1))
			    ->open = n;
		else
			store_digest_load_row(out, PQgetvalue(res, i, 1))
			    ->responses = n;
	}
	PQclear(res);
	return 0;
}
