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

/*
 * The tickets a report or digest covers: those of the queues in Q or
 * assigned to one of the people in M (both newline-separated, a
 * manager's queues and the members of their teams); both NULL: every
 * ticket.  Q, M: parameter references; QC, AC: the queue and assignee
 * columns.
 */
#define STORE_SCOPE(Q, M, QC, AC)                                              \
	"((" Q "::text IS NULL AND " M "::text IS NULL) OR " QC " = "          \
	"ANY(string_to_array(" Q ", E'\\n')) OR " AC " = "                     \
	"ANY(string_to_array(" M ", E'\\n')))"

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
#define STORE_REPORT_ROW                                                       \
	"SELECT t.id, t.queue, t.assignee, t.subject, t.priority, "            \
	"extract(epoch FROM t.created)::bigint, COALESCE(extract(epoch "       \
	"FROM t.first_response_at)::bigint, 0), COALESCE(extract(epoch "       \
	"FROM t.last_customer_at)::bigint, 0), COALESCE(extract(epoch FROM "   \
	"t.last_agent_at)::bigint, 0), COALESCE(extract(epoch FROM "           \
	"COALESCE(t.resolved_at, t.closed_at))::bigint, 0), "                  \
	"t.reopen_count, " STORE_REPORT_CLOCK " FROM ticket t LEFT JOIN "      \
	"sla_clock c ON c.ticket_id = t.id LEFT JOIN (SELECT DISTINCT "        \
	"ticket_id FROM sla_change) pc ON pc.ticket_id = t.id "
#define STORE_REPORT_TICKETS                                                   \
	STORE_REPORT_ROW                                                       \
	"WHERE t.created < to_timestamp($2) AND NOT t.history "                \
	"AND t.merged_into IS NULL "                                           \
	"AND ((t.resolved_at IS NULL AND t.closed_at IS NULL) OR "             \
	"COALESCE(t.resolved_at, t.closed_at) >= to_timestamp($1)) "           \
	"AND " STORE_SCOPE(                                                    \
	    "$3", "$5", "t.queue",                                             \
	    "t.assignee") " AND ($4::text IS NULL OR t.assignee = $4)"

/*
 * Pre-counted rows: kind, sub, period (0 current, 1 previous), queue,
 * assignee, n.  Escalations as escalate.c writes them: one event with
 * action 'escalated' per fired level, detail "level N: ..." (a priority
 * rule's immediate one, "immediate: ...", is level 1); not the
 * 'escalation-requested' / 'escalation-skipped' events.  The LIKE lets
 * the partial index of 005_report.sql serve the scan; each event looks
 * its ticket up by key (the LATERAL ... OFFSET 0): a year's escalations
 * are a few per cent of the tickets, and the hash join the planner chose
 * read every ticket (a third of the year report over 1M tickets once
 * the KPIs came from the rollups).  Machine mail is
 * inbound mail stored with role 'other' (classify said machine), except
 * rating replies (class 'rating').  Customer mails are counted per
 * (period, ticket) first, then per queue/assignee: a hash aggregate
 * instead of a sort for count(DISTINCT ticket).  Kind 5 is grouped by
 * the responder, not the assignee.  $1..$3:
 * the previous period's start, the current one's start, its end; $4
 * queue(s), newline-separated, $5 assignee (NULL: any), $6 members
 * (STORE_SCOPE).  Kinds 3 and 4 (customer mails) come first, as a WITH
 * of one of two forms: STORE_CM_UNROLLED from every mail (the reference
 * path), STORE_CM_FACTS from the facts' per-ticket mail columns (022).
 */
#define STORE_SCOPE4 STORE_SCOPE("$4", "$6", "t.queue", "t.assignee")
/* clang-format off */
#define STORE_CM_UNROLLED                                                      \
	"WITH cm AS (SELECT x.p, t.queue, t.assignee, sum(x.n) AS mails, "     \
	"count(*) AS tickets FROM (SELECT m.ticket_id, CASE WHEN m.received "  \
	">= to_timestamp($2) THEN 0 ELSE 1 END AS p, count(*) AS n FROM "      \
	"message m WHERE m.direction = 'in' AND m.role = 'customer' AND "      \
	"m.received >= to_timestamp($1) AND m.received < to_timestamp($3) "    \
	"GROUP BY 1, 2) x JOIN ticket t ON t.id = x.ticket_id WHERE "          \
	STORE_SCOPE4 " AND ($5::text IS NULL OR "                              \
	"t.assignee = $5) GROUP BY 1, 2, 3) "
/* a fact's customer mails in [A, B) */
#define STORE_CM_N(A, B)                                                       \
	"CASE WHEN f.cm_n = 0 THEN 0 WHEN f.cm_first >= to_timestamp(" A ") "  \
	"AND f.cm_last < to_timestamp(" B ") THEN f.cm_n WHEN f.cm_last < "    \
	"to_timestamp(" A ") OR f.cm_first >= to_timestamp(" B ") THEN 0 "     \
	"ELSE (SELECT count(*) FROM message m WHERE m.ticket_id = "            \
	"f.ticket_id AND m.direction = 'in' AND m.role = 'customer' AND "      \
	"m.received >= to_timestamp(" A ") AND m.received < to_timestamp(" B   \
	")) END"
/* the partial days: [$1, $7), [$8, $9), [$10, $3) */
#define STORE_GAP(A, B, X, LO, HI) "(" X " >= " LO A ") AND " X " < " HI B "))"
#define STORE_GAPS(X, LO, HI)                                                  \
	STORE_GAP("$1::bigint", "$7::bigint", X, LO, HI)                       \
	" OR " STORE_GAP("$8::bigint", "$9::bigint", X, LO,                    \
	                 HI) " OR " STORE_GAP("$10::bigint", "$3::bigint", X,  \
	                                      LO, HI)
#define STORE_TS_MARGIN_LO "to_timestamp(-1 + "
#define STORE_TS_MARGIN_HI "to_timestamp(1 + "
#define STORE_TS           "to_timestamp("
#define STORE_NUM          "("
/* an escalation's level as escalate.c writes it (005_report.sql) */
#define STORE_ESC_LEVEL \
	"LEAST(COALESCE(substring(e.detail FROM '^level ([0-9]{1,6})')::int, " \
	"1), 99)"
/* 1: ratings, 1 good, 2 okay, 3 bad */
#define STORE_CSAT_UNROLLED                                                    \
	"UNION ALL SELECT 1, CASE r.rating WHEN 'good' THEN 1 WHEN 'okay' "    \
	"THEN 2 ELSE 3 END, CASE WHEN r.at >= to_timestamp($2) THEN 0 ELSE 1 " \
	"END, t.queue, t.assignee, count(*) FROM csat_rating r JOIN ticket t " \
	"ON t.id = r.ticket_id WHERE r.at >= to_timestamp($1) AND r.at < "     \
	"to_timestamp($3) AND " STORE_SCOPE4 " AND "                           \
	"($5::text IS NULL OR t.assignee = $5) GROUP BY 2, 3, 4, 5 "
/* 0: escalations by level (EXTRA: more conditions on e) */
#define STORE_COUNTS_ESC(EXTRA) \
	"SELECT 0, " STORE_ESC_LEVEL ", CASE WHEN e.at >= " \
	"to_timestamp($2) THEN 0 ELSE 1 END, t.queue, t.assignee, count(*) " \
	"FROM event e CROSS JOIN LATERAL (SELECT t.queue, t.assignee FROM " \
	"ticket t WHERE t.id = e.ticket_id OFFSET 0) t WHERE e.action " \
	"LIKE 'escalat%' AND e.action = 'escalated' AND e.at >= " \
	"to_timestamp($1) AND e.at < to_timestamp($3) AND " STORE_SCOPE4 " AND ($5::text IS NULL OR t.assignee = $5) " \
	EXTRA "GROUP BY 2, 3, 4, 5 "
#define STORE_COUNTS_REST \
	/* 2: machine mail, with or without a ticket */ \
	"UNION ALL SELECT 2, 0, CASE WHEN m.received >= to_timestamp($2) " \
	"THEN 0 ELSE 1 END, t.queue, t.assignee, count(*) FROM message m " \
	"LEFT JOIN ticket t ON t.id = m.ticket_id WHERE m.direction = 'in' " \
	"AND m.role = 'other' AND m.class <> 'rating' AND m.received >= " \
	"to_timestamp($1) AND m.received < to_timestamp($3) AND " \
	"(($4::text IS NULL AND $5::text IS NULL AND $6::text IS NULL) OR (t.id IS NOT NULL AND " \
	"" STORE_SCOPE4 " AND ($5::text IS NULL OR " \
	"t.assignee = $5))) GROUP BY 2, 3, 4, 5 " \

/* 3, 4: customer mails, tickets they came in on */
#define STORE_COUNTS_CM \
	"UNION ALL SELECT 3, 0, p, queue, assignee, mails FROM cm " \
	"UNION ALL SELECT 4, 0, p, queue, assignee, tickets FROM cm "
#define STORE_COUNTS_B \
	/* 5: NPS answers by score */ \
	"UNION ALL SELECT 5, n.score, CASE WHEN n.at >= to_timestamp($2) " \
	"THEN 0 ELSE 1 END, t.queue, t.assignee, count(*) FROM nps_rating n " \
	"JOIN ticket t ON t.id = n.ticket_id WHERE n.at >= to_timestamp($1) " \
	"AND n.at < to_timestamp($3) AND " STORE_SCOPE4 " " \
	"AND ($5::text IS NULL OR t.assignee = $5) GROUP BY 2, 3, 4, 5 " \
	/* 6: thank-you replies that kept a ticket resolved (ingest) */ \
	"UNION ALL SELECT 6, 0, CASE WHEN e.at >= to_timestamp($2) THEN 0 " \
	"ELSE 1 END, t.queue, t.assignee, count(*) FROM event e JOIN ticket " \
	"t ON t.id = e.ticket_id WHERE e.action = 'thanks' AND e.at >= " \
	"to_timestamp($1) AND e.at < to_timestamp($3) AND " STORE_SCOPE4 " AND ($5::text IS NULL OR t.assignee = $5) " \
	"GROUP BY 2, 3, 4, 5 " \
	/* 7: first responses per responder (017_responder.sql), counted \
	 * for the person who answered, whoever is assigned */ \
	"UNION ALL SELECT 7, 0, CASE WHEN r.first_at >= to_timestamp($2) " \
	"THEN 0 ELSE 1 END, t.queue, r.responder, count(*) FROM " \
	"ticket_response r JOIN ticket t ON t.id = r.ticket_id WHERE " \
	"r.first_at >= to_timestamp($1) AND r.first_at < to_timestamp($3) " \
	"AND " STORE_SCOPE4 " AND ($5::text IS NULL OR " \
	"r.responder = $5) GROUP BY 2, 3, 4, 5 "
static const char store_report_counts_unrolled[] =
	STORE_CM_UNROLLED STORE_COUNTS_ESC("") STORE_COUNTS_REST
	STORE_COUNTS_CM STORE_COUNTS_B STORE_CSAT_UNROLLED;
/* the fast path's kinds 1, 3 and 4 come with its KPIs (store_kpi_sql),
 * its escalations in the whole days $7..$10 (store_kpi_sql) from
 * report_esc_day (store_report_rollups): here only those in the partial
 * days at the periods' edges */
static const char store_report_counts_facts[] =
	STORE_COUNTS_ESC("AND (" STORE_GAPS("e.at", STORE_TS, STORE_TS) ") ")
	STORE_COUNTS_REST STORE_COUNTS_B;
/* clang-format on */

#define STORE_REPORT_FETCH 20000

/* store_report_parse - ticket row i of STORE_REPORT_ROW (strings
 * borrowed from res). */
static void
store_report_parse(PGresult *res, int i, struct report_row *row)
{
	gint64 *tv[] = {&row->created, &row->first_response,
	                &row->last_customer, &row->last_agent, &row->resolved};
	gint64 *cv[] = {
	    &row->clock.first_response_at,  &row->clock.run_since,
	    &row->clock.paused_since,       &row->clock.resolution_run_secs,
	    &row->clock.awaiting_since,     &row->clock.response_run_secs,
	    &row->clock.first_response_secs};

	*row = (struct report_row){
	    .id = store_col(res, i, 0),
	    .queue = PQgetvalue(res, i, 1),
	    .agent = PQgetisnull(res, i, 2) ? NULL : PQgetvalue(res, i, 2),
	    .subject = PQgetvalue(res, i, 3),
	    .priority = report_priority(PQgetvalue(res, i, 4)),
	    .reopen_count = (int)store_col(res, i, 10),
	};
	for (int c = 0; c < 5; c++)
		*tv[c] = store_col(res, i, 5 + c);
	/* the SLA clock (STORE_REPORT_CLOCK) */
	row->has_clock = store_bool_col(res, i, 11);
	row->clock.created = row->created;
	row->clock.priority = row->priority;
	row->clock.status = (int)store_col(res, i, 12);
	for (size_t c = 0; c < ARRAY_SIZE(cv); c++)
		*cv[c] = store_col(res, i, 13 + (int)c);
}

/* What to do with each batch of ticket rows of a cursor. */
typedef int (*store_report_batch_fn)(struct store *st, PGresult *res, void *ud);

/* store_report_cursor - the rows of sql (a STORE_REPORT_ROW query)
 * through a cursor, STORE_REPORT_FETCH at a time, so that memory does
 * not grow with the row count. */
static int
store_report_cursor(struct store *st, const char *sql, int n,
                    const char *const *vals, store_report_batch_fn fn, void *ud)
{
	g_autofree char *decl = g_strconcat(
	    "DECLARE tickd_report NO SCROLL CURSOR FOR ", sql, NULL);
	PGresult *res;
	int rc = 0;

	if ((rc = store_query_exec(st, "report", decl, n, vals)) < 0)
		return rc;
	for (;;) {
		int rows;

		res = PQexec(st->conn,
		             "FETCH " G_STRINGIFY(
		                 STORE_REPORT_FETCH) " FROM tickd_report");
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			return store_fail(st, res, "report");
		rows = PQntuples(res);
		rc = fn(st, res, ud);
		PQclear(res);
		if (rc < 0)
			return rc;
		if (rows < STORE_REPORT_FETCH)
			break;
	}
	return store_cmd(st, "CLOSE tickd_report");
}

static int
store_report_add_rows(struct store *st, PGresult *res, void *ud)
{
	int rc = 0;

	(void)st;
	for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
		struct report_row row;

		store_report_parse(res, i, &row);
		rc = report_add_ticket(ud, &row);
	}
	return rc;
}

static int
store_report_add_open(struct store *st, PGresult *res, void *ud)
{
	int rc = 0;

	(void)st;
	for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
		struct report_row row;

		store_report_parse(res, i, &row);
		rc = report_add_open(ud, &row);
	}
	return rc;
}

/* store_report_fetch_tickets - every ticket row (the unrolled path). */
static int
store_report_fetch_tickets(struct store *st, struct report *r,
                           const char *const *vals)
{
	return store_report_cursor(st, STORE_REPORT_TICKETS, 5, vals,
	                           store_report_add_rows, r);
}

/* store_report_days - the whole UTC days [*s_r, *e_r) inside [from, to);
 * both from when there are none. */
static void
store_report_days(gint64 from, gint64 to, gint64 *s_r, gint64 *e_r)
{
	const gint64 day = 86400;
	gint64 s =
	    from >= 0 ? (from + day - 1) / day * day : -(-from / day * day);
	gint64 e = to >= 0 ? to / day * day : -((-to + day - 1) / day * day);

	if (e <= s)
		s = e = from;
	*s_r = s;
	*e_r = e;
}

/* store_report_served - r's whole days as text parameters: [0], [1) of
 * the previous period, [2], [3) of the current one ($7..$10 of
 * store_kpi_sql and store_report_counts_facts). */
static void
store_report_served(const struct report *r, char buf[4][24], const char *out[4])
{
	gint64 days[4];

	store_report_days(r->prev_from, r->p.from, &days[0], &days[1]);
	store_report_days(r->p.from, r->p.to, &days[2], &days[3]);
	for (int i = 0; i < 4; i++)
		out[i] = store_i64(buf[i], days[i]);
}

/* store_report_fetch_counts - the pre-counted rows into r. */
static int
store_report_fetch_counts(struct store *st, struct report *r,
                          const char *const *vals)
{
	char buf[4][24];
	const char *v[10];
	PGresult *res;
	int rc = 0;

	memcpy(v, vals, 6 * sizeof(*v));
	store_report_served(r, buf, v + 6);
	res = store_query(st,
	                  r->p.unrolled ? store_report_counts_unrolled
	                                : store_report_counts_facts,
	                  r->p.unrolled ? 6 : 10, v);

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

/* ---- the fast path: stored facts (015_report_facts.sql) ---- */

/* Facts of one batch: parallel number arrays as SQL array literals. */
struct store_fact_batch {
	const struct report *r;
	GString *col[8]; /* id frt_b res_b met fcr reopened over what */
	gint64 done;     /* facts written */
};

/* store_report_fact_batch - facts of a batch of stale tickets, written
 * and struck from report_stale in one statement.  The ticket columns come
 * from the ticket row itself (locked, same snapshot), so only numbers
 * travel. */
static int
store_report_fact_batch(struct store *st, PGresult *res, void *ud)
{
	static const char sql[] =
	    "WITH v AS (SELECT * FROM unnest($1::bigint[], $2::bigint[], "
	    "$3::bigint[], $4::int[], $5::int[], $6::int[], $7::bigint[], "
	    "$8::int[]) AS v(id, frt_b, res_b, met, fcr, reopened, over, "
	    "what)), d AS (DELETE FROM report_stale s USING v WHERE "
	    "s.ticket_id = v.id) INSERT INTO report_fact (ticket_id, queue, "
	    "agent, history, cr_t, rs_t, cr, fr, rs, frt_b, res_b, met, fcr, "
	    "reopened, over, what, cm_first, cm_last, cm_n, csat, csat_at) "
	    "SELECT t.id, t.queue, t.assignee, "
	    /* a merged ticket (020) is counted in its survivor */
	    "t.history OR t.merged_into IS NOT NULL, "
	    "t.created, COALESCE(t.resolved_at, t.closed_at), extract(epoch "
	    "FROM t.created)::bigint, COALESCE(extract(epoch FROM "
	    "t.first_response_at)::bigint, 0), COALESCE(extract(epoch FROM "
	    "COALESCE(t.resolved_at, t.closed_at))::bigint, 0), "
	    "NULLIF(v.frt_b, -1), NULLIF(v.res_b, -1), NULLIF(v.met, "
	    "-1)::boolean, v.fcr::boolean, v.reopened::boolean, "
	    "NULLIF(v.over, -1), v.what, cm.f, cm.l, cm.n, CASE r.rating WHEN "
	    "'good' THEN 1 WHEN 'okay' THEN 2 WHEN 'bad' THEN 3 END, r.at "
	    "FROM v JOIN ticket t ON t.id = v.id LEFT JOIN csat_rating r ON "
	    "r.ticket_id = t.id CROSS JOIN LATERAL (SELECT min(m.received) AS "
	    "f, max(m.received) AS l, count(*) AS n FROM message m WHERE "
	    "m.ticket_id = t.id AND m.direction = 'in' AND m.role = "
	    "'customer') cm "
	    "ON CONFLICT (ticket_id) DO UPDATE SET queue = EXCLUDED.queue, "
	    "agent = EXCLUDED.agent, history = EXCLUDED.history, cr_t = "
	    "EXCLUDED.cr_t, rs_t = "
	    "EXCLUDED.rs_t, cr = EXCLUDED.cr, fr = EXCLUDED.fr, rs = "
	    "EXCLUDED.rs, frt_b = EXCLUDED.frt_b, res_b = EXCLUDED.res_b, "
	    "met = EXCLUDED.met, fcr = EXCLUDED.fcr, reopened = "
	    "EXCLUDED.reopened, over = EXCLUDED.over, what = EXCLUDED.what, "
	    "cm_first = EXCLUDED.cm_first, cm_last = EXCLUDED.cm_last, cm_n = "
	    "EXCLUDED.cm_n, csat = EXCLUDED.csat, csat_at = EXCLUDED.csat_at";
	struct store_fact_batch *b = ud;
	const char *vals[8];
	int n = PQntuples(res);

	if (n == 0)
		return 0;
	for (int c = 0; c < 8; c++)
		g_string_assign(b->col[c], "{");
	for (int i = 0; i < n; i++) {
		struct report_row row;
		struct report_fact f;
		gint64 v[8];

		store_report_parse(res, i, &row);
		if (row.created <= 0)
			return -EINVAL; /* as report_add_ticket refuses it */
		report_fact_of(b->r, &row, &f);
		v[0] = row.id;
		v[1] = f.frt_b;
		v[2] = f.res_b;
		v[3] = f.met;
		v[4] = f.fcr;
		v[5] = f.reopened;
		v[6] = f.over;
		v[7] = f.what;
		for (int c = 0; c < 8; c++)
			g_string_append_printf(b->col[c], "%s%" G_GINT64_FORMAT,
			                       i ? "," : "", v[c]);
	}
	for (int c = 0; c < 8; c++) {
		g_string_append_c(b->col[c], '}');
		vals[c] = b->col[c]->str;
	}
	b->done += n;
	return store_query_exec(st, "report facts", sql, 8, vals);
}

/* store_report_refresh - bring the facts up to date: all of them stale
 * when the config's fingerprint changed, then the stale tickets computed
 * in C.  The share locks make a concurrent change of a ticket or its
 * clock wait for our COMMIT (its trigger then marks it stale again), or
 * fail this snapshot if it came first (never a fact from an old row). */
static int
store_report_refresh(struct store *st, struct report *r)
{
	char fp[24];
	const char *v[] = {store_i64(fp, r->fact_fp)};
	struct store_fact_batch b = {.r = r};
	PGresult *res;
	int rc;

	res = store_query(st, "SELECT fp FROM report_fact_meta", 0, NULL);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return store_fail(st, res, "report");
	rc = PQntuples(res) == 1 && store_col(res, 0, 0) == r->fact_fp;
	PQclear(res);
	if (!rc &&
	    ((rc = store_cmd(st, "DELETE FROM report_fact")) < 0 ||
	     (rc = store_cmd(st, "INSERT INTO report_stale SELECT id FROM "
	                         "ticket ON CONFLICT DO NOTHING")) < 0 ||
	     (rc = store_query_exec(
	          st, "report",
	          "INSERT INTO report_fact_meta (fp) VALUES "
	          "($1) ON CONFLICT (one) DO UPDATE SET fp = $1",
	          1, v)) < 0))
		return rc;
	/* usually nothing changed since the last report */
	res = store_query(st, "SELECT EXISTS (SELECT 1 FROM report_stale)", 0,
	                  NULL);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return store_fail(st, res, "report");
	rc = store_bool_col(res, 0, 0);
	PQclear(res);
	if (!rc)
		return 0;
	if ((rc =
	         store_query_exec(st, "report",
	                          "SELECT 1 FROM sla_clock c JOIN "
	                          "report_stale s ON s.ticket_id = c.ticket_id "
	                          "FOR SHARE OF c",
	                          0, NULL)) < 0)
		return rc;
	for (int c = 0; c < 8; c++)
		b.col[c] = g_string_new(NULL);
	rc = store_report_cursor(st,
	                         STORE_REPORT_ROW "JOIN report_stale s ON "
	                                          "s.ticket_id = t.id FOR "
	                                          "SHARE OF t",
	                         0, NULL, store_report_fact_batch, &b);
	for (int c = 0; c < 8; c++)
		g_string_free(b.col[c], TRUE);
	/* after many new facts (the first report, a new calendar) the
	 * planner's idea of the table is from before them: the aggregates
	 * below would be planned for an empty table */
	if (rc == 0 && b.done >= STORE_REPORT_FETCH)
		rc = store_cmd(st, "ANALYZE report_fact");
	return rc;
}

/* store_report_flush - recompute the rollups of the days whose facts
 * changed (026_report_rollup.sql), after store_report_refresh; usually
 * there are none. */
static int
store_report_flush(struct store *st)
{
	PGresult *res = store_query(
	    st, "SELECT EXISTS (SELECT 1 FROM report_day_dirty)", 0, NULL);
	bool dirty;

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return store_fail(st, res, "report");
	dirty = store_bool_col(res, 0, 0);
	PQclear(res);
	if (!dirty)
		return 0;
	return store_query_exec(st, "report", "SELECT report_day_flush()", 0,
	                        NULL);
}

/*
 * The per-ticket KPIs from the facts, both periods ($1 previous start, $2
 * current start, $3 end; $4 queue, $5 assignee), per (queue, assignee):
 * the same tickets as STORE_REPORT_TICKETS (exact times), the same tests
 * as report_add_ticket (rounded seconds).  One hash aggregate, no sort:
 * the sums and the samples (unsorted arrays) go to report_add_part, and
 * report_finish takes the medians and p90 by the same nearest-rank code
 * as the unrolled path.  Sorting the samples in C costs a fraction of
 * what percentile_disc over GROUPING SETS cost (three sorts of every row
 * per sample, measured in tests/bench_report.sh).
 *
 * The inner query tells once per fact in which period it was created,
 * answered and resolved (pc, pf, pr: 0 current, 1 previous, NULL
 * neither) and whether it is in the backlog at either end (b0, b1); the
 * OFFSET 0 keeps the planner from pasting those expressions (and sel's
 * timestamps, the customer mails' CASE) into each of the thirty
 * aggregates that read them, which evaluated them once per aggregate for
 * each of a year's million facts.
 */
#define STORE_KPI_PERIOD(K, B, T)                                              \
	"count(*) FILTER (WHERE sel AND pc = " K "), "                         \
	"count(*) FILTER (WHERE sel AND pr = " K "), "                         \
	"count(*) FILTER (WHERE sel AND " B "), "                              \
	"count(*) FILTER (WHERE sel AND pr = " K " AND met IS NOT NULL), "     \
	"count(*) FILTER (WHERE sel AND pr = " K " AND met), "                 \
	"count(*) FILTER (WHERE sel AND pr = " K " AND fcr), "                 \
	"count(*) FILTER (WHERE sel AND pr = " K " AND reopened), "            \
	"array_agg(frt_b) FILTER (WHERE sel AND pf = " K " AND frt_b IS NOT "  \
	"NULL), array_agg(res_b) FILTER (WHERE sel AND pr = " K " AND res_b "  \
	"IS NOT NULL), array_agg(" T " - cr) FILTER (WHERE sel AND " B ")"
#define STORE_KPI_COLS 10 /* per period */
/* the period of a rounded second X (0 = none) */
#define STORE_KPI_IN(X)                                                        \
	"CASE WHEN " X " = 0 THEN NULL WHEN " X " >= $2::bigint AND " X        \
	" < $3::bigint THEN 0 WHEN " X " >= $1::bigint AND " X                 \
	" < $2::bigint THEN 1 END"
/* in the backlog at T */
#define STORE_KPI_BACKLOG(T) "(f.cr < " T " AND (f.rs = 0 OR f.rs >= " T "))"
/* the tickets of the KPIs: those of STORE_REPORT_TICKETS */
#define STORE_KPI_SEL                                                          \
	"(f.cr_t < to_timestamp($3) AND (f.rs_t IS NULL OR f.rs_t >= "         \
	"to_timestamp($1)) AND NOT f.history)"
/* customer mails in the two periods (history tickets too, as
 * STORE_CM_UNROLLED counts them) */
#define STORE_KPI_CM                                                           \
	"(f.cm_n > 0 AND f.cm_last >= to_timestamp($1) AND f.cm_first < "      \
	"to_timestamp($3))"
/* the rating's value in the current period (1..3), + 3 in the previous */
#define STORE_KPI_CS                                                           \
	"CASE WHEN f.csat_at >= to_timestamp($2) AND f.csat_at < "             \
	"to_timestamp($3) THEN f.csat WHEN f.csat_at >= to_timestamp($1) AND " \
	"f.csat_at < to_timestamp($2) THEN f.csat + 3 END"
/*
 * With the rollups (026_report_rollup.sql) this pass reads only what they
 * do not hold: $7..$10 are the whole UTC days of the previous period
 * [$7, $8) and of the current one [$9, $10) (empty: both equal), whose
 * events of rolled facts, ratings and customer mails store_report_rollups
 * adds; here an event counts only outside them.  STORE_KPI_CAND finds,
 * by index, every fact with anything left to count: the facts the rollups
 * leave out, events in the partial days at the periods' edges (the exact
 * times with a second of margin around the rounded ones), the backlog at
 * either period's end, ratings in the partial days and customer mails
 * that straddle a boundary or touch a partial day.  Any other fact adds
 * nothing here, so the OR only has to find a superset of them.
 */
#define STORE_SERVED(X)                                                        \
	"((" X " >= $7::bigint AND " X " < $8::bigint) OR (" X                 \
	" >= $9::bigint AND " X " < $10::bigint))"
#define STORE_SERVED_T(X)                                                      \
	"((" X " >= to_timestamp($7::bigint) AND " X                           \
	" < to_timestamp($8::bigint)) OR (" X " >= to_timestamp($9::bigint) "  \
	"AND " X " < to_timestamp($10::bigint)))"
/* the customer mails of a fact lie in one period's whole days */
#define STORE_CM_SERVED                                                        \
	"((f.cm_first >= to_timestamp($7::bigint) AND f.cm_last < "            \
	"to_timestamp($8::bigint)) OR (f.cm_first >= "                         \
	"to_timestamp($9::bigint) "                                            \
	"AND f.cm_last < to_timestamp($10::bigint)))"
/* report_fact_span_idx and report_fact_cm_span_idx */
#define STORE_SPAN                                                             \
	"(CASE WHEN f.rs <> 0 AND f.rs < f.cr THEN 'empty'::int8range ELSE "   \
	"int8range(f.cr, NULLIF(f.rs, 0)) END)"
#define STORE_CM_SPAN "tstzrange(f.cm_first, f.cm_last, '[]')"
#define STORE_CM_GAP(A, B)                                                     \
	"(f.cm_n > 0 AND " STORE_CM_SPAN " && tstzrange(to_timestamp(" A       \
	"), to_timestamp(" B "), '[)'))"
#define STORE_CM_AT(P)                                                         \
	"(f.cm_n > 0 AND " STORE_CM_SPAN " @> to_timestamp(" P "))"
/* clang-format off */
#define STORE_KPI_CAND                                                         \
	"((NOT f.rolled AND NOT f.history AND f.cr_t < to_timestamp($3)) OR "  \
	STORE_GAPS("f.cr_t", STORE_TS_MARGIN_LO, STORE_TS_MARGIN_HI) " OR "    \
	STORE_GAPS("f.rs_t", STORE_TS_MARGIN_LO, STORE_TS_MARGIN_HI) " OR "    \
	STORE_GAPS("f.fr", STORE_NUM, STORE_NUM) " OR " STORE_SPAN             \
	" @> ($3::bigint - 1) OR " STORE_SPAN " @> ($2::bigint - 1) OR "       \
	STORE_GAPS("f.csat_at", STORE_TS, STORE_TS) " OR "                     \
	STORE_CM_GAP("$1::bigint", "$7::bigint") " OR "                        \
	STORE_CM_GAP("$8::bigint", "$9::bigint") " OR "                        \
	STORE_CM_GAP("$10::bigint", "$3::bigint") " OR "                       \
	STORE_CM_AT("$1::bigint") " OR " STORE_CM_AT("$2::bigint") " OR "      \
	STORE_CM_AT("$3::bigint") ")"
/* clang-format on */
/* the period of an event at rounded second X, NULL when a rollup has it */
#define STORE_KPI_EV(X)                                                        \
	"CASE WHEN f.rolled AND " STORE_SERVED(                                \
	    X) " THEN NULL ELSE " STORE_KPI_IN(X) " END"
/* clang-format off */
static const char store_kpi_sql[] =
	"SELECT queue, agent, count(*) FILTER (WHERE sel), "
	STORE_KPI_PERIOD("0", "b0", "$3::bigint") ", "
	STORE_KPI_PERIOD("1", "b1", "$2::bigint") ", "
	/* 3, 4: customer mails and their tickets per period */
	"sum(n0), count(*) FILTER (WHERE n0 > 0), sum(n1), "
	"count(*) FILTER (WHERE n1 > 0), "
	/* 1: ratings per period and value */
	"count(*) FILTER (WHERE cs = 1), count(*) FILTER (WHERE cs = 2), "
	"count(*) FILTER (WHERE cs = 3), count(*) FILTER (WHERE cs = 4), "
	"count(*) FILTER (WHERE cs = 5), count(*) FILTER (WHERE cs = 6)"
	" FROM (SELECT f.queue, f.agent, f.cr, f.frt_b, f.res_b, "
	"f.met, f.fcr, f.reopened, " STORE_KPI_SEL " AS sel, "
	STORE_KPI_EV("f.cr") " AS pc, " STORE_KPI_EV("f.fr") " AS pf, "
	STORE_KPI_EV("f.rs") " AS pr, " STORE_KPI_BACKLOG("$3::bigint")
	" AS b0, " STORE_KPI_BACKLOG("$2::bigint") " AS b1, CASE WHEN "
	STORE_SERVED_T("f.csat_at") " THEN NULL ELSE " STORE_KPI_CS " END "
	"AS cs, CASE WHEN " STORE_KPI_CM " AND NOT " STORE_CM_SERVED " THEN "
	STORE_CM_N("$2", "$3") " ELSE 0 END "
	"AS n0, CASE WHEN " STORE_KPI_CM " AND NOT " STORE_CM_SERVED " THEN "
	STORE_CM_N("$1", "$2") " ELSE 0 END AS n1 FROM report_fact f WHERE "
	STORE_KPI_CAND " AND " STORE_SCOPE("$4", "$6", "f.queue", "f.agent")
	" AND ($5::text IS NULL OR f.agent = $5) OFFSET 0) f "
	"GROUP BY queue, agent";
/* clang-format on */

/* store_int_array - the numbers of a bigint[] in text form ("{1,2}",
 * NULL elements skipped; an SQL NULL is an empty array) into a. */
static void
store_int_array(PGresult *res, int i, int c, GArray *a)
{
	const char *p = PQgetvalue(res, i, c);

	g_array_set_size(a, 0);
	if (PQgetisnull(res, i, c) || *p++ != '{')
		return;
	while (*p != '\0' && *p != '}') {
		char *end;
		gint64 v = g_ascii_strtoll(p, &end, 10);

		if (end != p)
			g_array_append_val(a, v);
		else
			end += strcspn(end, ",}"); /* NULL */
		p = *end == ',' ? end + 1 : end;
	}
}

/* store_report_kpi_counts - the customer mails, their tickets and the
 * ratings of row i of store_kpi_sql as report_count rows (only those
 * not 0: the unrolled path has no row for nothing). */
static int
store_report_kpi_counts(struct report *r, PGresult *res, int i)
{
	const int c = 3 + 2 * STORE_KPI_COLS;
	struct report_count cnt = {
	    .queue = PQgetvalue(res, i, 0),
	    .agent = PQgetisnull(res, i, 1) ? NULL : PQgetvalue(res, i, 1),
	};
	int rc = 0;

	for (int k = 0; k < 2 && rc == 0; k++) {
		cnt.period = k;
		cnt.sub = 0;
		if (store_col(res, i, c + 2 * k + 1) == 0)
			continue;
		cnt.kind = REPORT_CUSTOMER_MAILS;
		cnt.n = store_col(res, i, c + 2 * k);
		if ((rc = report_add_count(r, &cnt)) < 0)
			break;
		cnt.kind = REPORT_CONTACT_TICKETS;
		cnt.n = store_col(res, i, c + 2 * k + 1);
		rc = report_add_count(r, &cnt);
	}
	for (int k = 0; k < 6 && rc == 0; k++) {
		cnt.kind = REPORT_CSAT;
		cnt.period = k / 3;
		cnt.sub = REPORT_GOOD + k % 3;
		cnt.n = store_col(res, i, c + 4 + k);
		if (cnt.n > 0)
			rc = report_add_count(r, &cnt);
	}
	return rc;
}

static int
store_report_kpis(struct store *st, struct report *r, const char *const *vals)
{
	PGresult *res = store_query(st, store_kpi_sql, 10, vals);
	GArray *a[3];
	int rc = 0;

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return store_fail(st, res, "report");
	for (int k = 0; k < 3; k++)
		a[k] = g_array_new(FALSE, FALSE, sizeof(gint64));
	for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
		/* a group only mails or ratings put here has no KPI row in
		 * the unrolled path: nothing of it but those counts */
		for (int k = 0; k < 2 && rc == 0 && store_col(res, i, 2) > 0;
		     k++) {
			int c = 3 + k * STORE_KPI_COLS;
			struct report_part part = {
			    .queue = PQgetvalue(res, i, 0),
			    .agent = PQgetisnull(res, i, 1)
			                 ? NULL
			                 : PQgetvalue(res, i, 1),
			    .period = k,
			    .k =
			        {
			            .created = store_col(res, i, c),
			            .resolved = store_col(res, i, c + 1),
			            .backlog = store_col(res, i, c + 2),
			            .sla_n = store_col(res, i, c + 3),
			            .sla_met = store_col(res, i, c + 4),
			            .fcr = store_col(res, i, c + 5),
			            .reopened = store_col(res, i, c + 6),
			        },
			};

			for (int s = 0; s < 3; s++)
				store_int_array(res, i, c + 7 + s, a[s]);
			part.frt = (const gint64 *)(void *)a[0]->data;
			part.n_frt = a[0]->len;
			part.res = (const gint64 *)(void *)a[1]->data;
			part.n_res = a[1]->len;
			part.age = (const gint64 *)(void *)a[2]->data;
			part.n_age = a[2]->len;
			rc = report_add_part(r, &part);
		}
		if (rc == 0)
			rc = store_report_kpi_counts(r, res, i);
	}
	for (int k = 0; k < 3; k++)
		g_array_unref(a[k]);
	PQclear(res);
	return rc;
}

/* The rollups of the whole days [$1, $2) (previous period) and [$3, $4)
 * (current), $5 queue, $6 assignee, $7 members: per day and (queue,
 * assignee) the counts and samples of the events of rolled facts and the
 * ratings; then the customer mails of the facts whose first and last
 * mail lie in one period's whole days, per (period, queue, assignee);
 * then the escalations per (period, queue, assignee, level). */
#define STORE_ROLLUP_DAYS(D)                                                   \
	"((" D " >= $1::bigint / 86400 AND " D " < $2::bigint / 86400) OR "    \
	"(" D " >= $3::bigint / 86400 AND " D " < $4::bigint / 86400))"
#define STORE_ROLLUP_SCOPE                                                     \
	STORE_SCOPE("$5", "$7", "d.queue", "d.agent")                          \
	" AND ($6::text IS NULL OR d.agent = $6)"
static const char store_rollup_sql[] =
    "SELECT CASE WHEN d.day >= $3::bigint / 86400 THEN 0 ELSE 1 END, "
    "d.queue, d.agent, d.created, d.resolved, d.sla_n, d.sla_met, d.fcr, "
    "d.reopened, d.frt, d.res, d.csat_good, d.csat_okay, d.csat_bad "
    "FROM report_day d WHERE " STORE_ROLLUP_DAYS(
        "d.day") " AND " STORE_ROLLUP_SCOPE;
static const char store_rollup_cm_sql[] =
    "SELECT CASE WHEN d.day >= $3::bigint / 86400 THEN 0 ELSE 1 END, "
    "d.queue, d.agent, sum(d.mails), sum(d.tickets) FROM report_cm_day d "
    "WHERE ((d.day >= $1::bigint / 86400 AND d.last_day < $2::bigint / "
    "86400) OR (d.day >= $3::bigint / 86400 AND d.last_day < $4::bigint / "
    "86400)) AND " STORE_ROLLUP_SCOPE " GROUP BY 1, 2, 3";
static const char store_rollup_esc_sql[] =
    "SELECT CASE WHEN d.day >= $3::bigint / 86400 THEN 0 ELSE 1 END, "
    "d.queue, d.agent, d.level, sum(d.n) FROM report_esc_day d WHERE "
    "" STORE_ROLLUP_DAYS("d.day") " AND " STORE_ROLLUP_SCOPE
                                  " GROUP BY 1, 2, 3, 4";

/* store_report_rollups - the rollups' share of the KPIs into r (vals as
 * for store_rollup_sql). */
static int
store_report_rollups(struct store *st, struct report *r,
                     const char *const *vals)
{
	PGresult *res = store_query(st, store_rollup_sql, 7, vals);
	GArray *a[2];
	int rc = 0;

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return store_fail(st, res, "report");
	for (int k = 0; k < 2; k++)
		a[k] = g_array_new(FALSE, FALSE, sizeof(gint64));
	for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
		struct report_part part = {
		    .queue = PQgetvalue(res, i, 1),
		    .agent =
		        PQgetisnull(res, i, 2) ? NULL : PQgetvalue(res, i, 2),
		    .period = (int)store_col(res, i, 0),
		    .k =
		        {
		            .created = store_col(res, i, 3),
		            .resolved = store_col(res, i, 4),
		            .sla_n = store_col(res, i, 5),
		            .sla_met = store_col(res, i, 6),
		            .fcr = store_col(res, i, 7),
		            .reopened = store_col(res, i, 8),
		        },
		};
		struct report_count cnt = {
		    .kind = REPORT_CSAT,
		    .period = part.period,
		    .queue = part.queue,
		    .agent = part.agent,
		};

		store_int_array(res, i, 9, a[0]);
		store_int_array(res, i, 10, a[1]);
		part.frt = (const gint64 *)(void *)a[0]->data;
		part.n_frt = a[0]->len;
		part.res = (const gint64 *)(void *)a[1]->data;
		part.n_res = a[1]->len;
		/* a day only ratings put here adds no KPI part (the ratings
		 * alone make the group, as their count rows do unrolled) */
		if (part.k.created > 0 || part.k.resolved > 0 || part.n_frt > 0)
			rc = report_add_part(r, &part);
		for (int c = 0; c < 3 && rc == 0; c++) {
			cnt.sub = REPORT_GOOD + c;
			cnt.n = store_col(res, i, 11 + c);
			if (cnt.n > 0)
				rc = report_add_count(r, &cnt);
		}
	}
	for (int k = 0; k < 2; k++)
		g_array_unref(a[k]);
	PQclear(res);
	if (rc < 0)
		return rc;
	res = store_query(st, store_rollup_cm_sql, 7, vals);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return store_fail(st, res, "report");
	for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
		struct report_count cnt = {
		    .kind = REPORT_CUSTOMER_MAILS,
		    .period = (int)store_col(res, i, 0),
		    .queue = PQgetvalue(res, i, 1),
		    .agent =
		        PQgetisnull(res, i, 2) ? NULL : PQgetvalue(res, i, 2),
		    .n = store_col(res, i, 3),
		};

		if (store_col(res, i, 4) == 0)
			continue;
		if ((rc = report_add_count(r, &cnt)) == 0) {
			cnt.kind = REPORT_CONTACT_TICKETS;
			cnt.n = store_col(res, i, 4);
			rc = report_add_count(r, &cnt);
		}
	}
	PQclear(res);
	if (rc < 0)
		return rc;
	res = store_query(st, store_rollup_esc_sql, 7, vals);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return store_fail(st, res, "report");
	for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
		struct report_count cnt = {
		    .kind = REPORT_ESCALATION,
		    .period = (int)store_col(res, i, 0),
		    .queue = PQgetvalue(res, i, 1),
		    .agent =
		        PQgetisnull(res, i, 2) ? NULL : PQgetvalue(res, i, 2),
		    .sub = (int)store_col(res, i, 3),
		    .n = store_col(res, i, 4),
		};

		rc = report_add_count(r, &cnt);
	}
	PQclear(res);
	return rc;
}

/* store_report_worst - the worst breaches among the tickets resolved in
 * the period ($1 start, $2 end, $3 queue, $4 assignee). */
static int
store_report_worst(struct store *st, struct report *r, const char *const *vals)
{
	PGresult *res = store_query(
	    st,
	    "SELECT f.ticket_id, t.subject, f.queue, f.agent, f.over, f.what "
	    "FROM report_fact f JOIN ticket t ON t.id = f.ticket_id WHERE "
	    "f.rs <> 0 AND f.rs >= $1::bigint AND f.rs < $2::bigint AND "
	    /* the index; the rounded seconds decide */
	    "f.rs_t >= to_timestamp($1::bigint - 1) AND f.rs_t < "
	    "to_timestamp($2::bigint + 1) AND "
	    "f.over IS NOT NULL AND f.cr_t < to_timestamp($2) AND NOT "
	    "f.history AND " STORE_SCOPE(
	        "$3", "$5", "f.queue",
	        "f.agent") " AND ($4::text IS NULL OR "
	                   "f.agent = $4) "
	                   "ORDER BY f.over DESC, f.ticket_id "
	                   "LIMIT " G_STRINGIFY(REPORT_TOP),
	    5, vals);

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return store_fail(st, res, "report");
	for (int i = 0; i < PQntuples(res); i++) {
		struct report_row row = {
		    .id = store_col(res, i, 0),
		    .subject = PQgetvalue(res, i, 1),
		    .queue = PQgetvalue(res, i, 2),
		    .agent =
		        PQgetisnull(res, i, 3) ? NULL : PQgetvalue(res, i, 3),
		};

		report_add_worst(r, &row, store_col(res, i, 4),
		                 (int)store_col(res, i, 5));
	}
	PQclear(res);
	return 0;
}

/* store_report_fast - the facts path: refresh, aggregate in SQL, the
 * backlog at `to` (its clocks at `to`, the oldest) through C. */
static int
store_report_fast(struct store *st, struct report *r, const char *queue,
                  const char *agent, const char *members)
{
	char a[24], b[24], c[24], d[4][24];
	const char *kv[10] = {store_i64(a, r->prev_from),
	                      store_i64(b, r->p.from),
	                      store_i64(c, r->p.to),
	                      queue,
	                      agent,
	                      members};
	const char *dv[] = {NULL, NULL, NULL, NULL, queue, agent, members};
	const char *wv[] = {kv[1], kv[2], queue, agent, members};
	const char *ov[] = {kv[2], queue, agent, members};
	int rc;

	store_report_served(r, d, dv);
	memcpy(kv + 6, dv, 4 * sizeof(*kv));
	if ((rc = store_report_refresh(st, r)) < 0 ||
	    (rc = store_report_flush(st)) < 0 ||
	    (rc = store_report_rollups(st, r, dv)) < 0 ||
	    (rc = store_report_kpis(st, r, kv)) < 0 ||
	    (rc = store_report_worst(st, r, wv)) < 0)
		return rc;
	return store_report_cursor(
	    st,
	    /* a second of margin: report_add_open tests the rounded
	     * seconds, as report_add_ticket does */
	    STORE_REPORT_ROW
	    "WHERE t.created < to_timestamp($1::bigint + 1) AND "
	    "((t.resolved_at IS NULL AND t.closed_at IS NULL) "
	    "OR COALESCE(t.resolved_at, t.closed_at) >= "
	    "to_timestamp($1::bigint - 1)) AND NOT t.history AND "
	    "t.merged_into IS NULL AND " STORE_SCOPE(
	        "$2", "$4", "t.queue",
	        "t.assignee") " AND ($3::text IS NULL OR t.assignee = $3)",
	    4, ov, store_report_add_open, r);
}

int
store_report_load(struct store *st, struct report *r, const char *queue,
                  const char *agent, const char *members)
{
	char a[24], b[24], c[24];
	const char *tv[] = {store_i64(a, r->prev_from), store_i64(b, r->p.to),
	                    queue, agent, members};
	const char *cv[] = {
	    tv[0], store_i64(c, r->p.from), tv[1], queue, agent, members};
	bool own_tx =
	    st->conn != NULL && PQtransactionStatus(st->conn) == PQTRANS_IDLE;
	int rc;

	if (!store_connected(st))
		return -ENOTCONN;
	/* one snapshot for every query; a cursor needs a transaction; the
	 * fast path writes the facts it had to compute */
	if (own_tx &&
	    (rc = store_cmd(st, r->p.unrolled ? "BEGIN ISOLATION LEVEL "
	                                        "REPEATABLE READ READ ONLY"
	                                      : "BEGIN ISOLATION LEVEL "
	                                        "REPEATABLE READ")) < 0)
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
	if ((rc = r->p.unrolled
	              ? store_report_fetch_tickets(st, r, tv)
	              : store_report_fast(st, r, queue, agent, members)) < 0)
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

/* Tickets created and resolved per bucket of $1 (ascending bounds,
 * width_bucket: [b[i-1], b[i]) is bucket i), from the facts and by the
 * rounded seconds, as the report's created and resolved; $2/$3 the
 * first and last bound; $4 queues, $5 members (STORE_SCOPE).  The exact
 * times with a second of margin let the indexes of 015 serve. */
static const char store_volume_sql[] =
    "SELECT 0, width_bucket(cr, $1::bigint[]), count(*) FROM report_fact "
    "WHERE cr_t >= to_timestamp($2::bigint - 1) AND cr_t < "
    "to_timestamp($3::bigint + 1) AND cr >= $2::bigint AND cr < $3::bigint "
    "AND NOT history AND " STORE_SCOPE(
        "$4", "$5", "queue",
        "agent") " GROUP BY 2 UNION ALL SELECT 1, width_bucket(rs, "
                 "$1::bigint[]), "
                 "count(*) FROM report_fact WHERE rs_t >= "
                 "to_timestamp($2::bigint - 1) "
                 "AND rs_t < to_timestamp($3::bigint + 1) AND rs <> 0 AND rs "
                 ">= "
                 "$2::bigint AND rs < $3::bigint AND NOT history "
                 "AND " STORE_SCOPE("$4", "$5", "queue", "agent") " GROUP BY 2";

int
store_report_volume(struct store *st, const char *queues, const char *members,
                    const gint64 *bounds, size_t n, gint64 *created,
                    gint64 *resolved)
{
	g_autoptr(GString) arr = g_string_new("{");
	char a[24], b[24];
	const char *vals[5];
	PGresult *res;

	if (!store_connected(st))
		return -ENOTCONN;
	if (n == 0)
		return 0;
	for (size_t i = 0; i <= n; i++)
		g_string_append_printf(arr, "%s%" G_GINT64_FORMAT, i ? "," : "",
		                       bounds[i]);
	g_string_append_c(arr, '}');
	vals[0] = arr->str;
	vals[1] = store_i64(a, bounds[0]);
	vals[2] = store_i64(b, bounds[n]);
	vals[3] = queues;
	vals[4] = members;
	memset(created, 0, n * sizeof(*created));
	memset(resolved, 0, n * sizeof(*resolved));
	res = store_query(st, store_volume_sql, 5, vals);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return store_fail(st, res, "report volume");
	for (int i = 0; i < PQntuples(res); i++) {
		gint64 k = store_col(res, i, 1);

		if (k < 1 || k > (gint64)n)
			continue; /* cannot happen: the WHERE bounds it */
		if (store_col(res, i, 0) == 0)
			created[k - 1] = store_col(res, i, 2);
		else
			resolved[k - 1] = store_col(res, i, 2);
	}
	PQclear(res);
	return 0;
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
	    /* by key (OFFSET 0: the status test after it), not a walk of
	     * ticket_lifecycle_idx, which the generic plan chose */
	    "INSERT INTO csat_request (ticket_id, resolved_at) SELECT id, "
	    "resolved_at FROM (SELECT id, resolved_at, status FROM ticket "
	    "WHERE id = $1 OFFSET 0) t WHERE status = 'resolved' "
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
store_nps_rate(struct store *st, gint64 ticket, int score, const char *from,
               gint64 message, gint64 at)
{
	static const struct store_stmt stmt = {
	    "nps rate", "INSERT INTO nps_rating (ticket_id, score, from_addr, "
	                "message_id, at) VALUES ($1, $2, $3, NULLIF($4, 0), "
	                "to_timestamp($5)) ON CONFLICT DO NOTHING RETURNING 1"};
	char a[24], b[24], c[24], d[24];
	const char *vals[] = {store_i64(a, ticket), store_i64(b, score), from,
	                      store_i64(c, message), store_i64(d, at)};

	return store_has_row(st, &stmt, 5, vals);
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
#define STORE_DIGEST_QUEUES STORE_SCOPE("$1", "$4", "t.queue", "t.assignee")
#define STORE_DIGEST_WHO    "COALESCE(t.requester_name, t.requester)"

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
store_digest_needs(struct store *st, const char *queues, const char *members,
                   gint64 since, gint64 until, GPtrArray *out)
{
	char a[24], b[24];
	const char *vals[] = {queues, store_i64(a, since), store_i64(b, until),
	                      members};
	PGresult *res;

	if (!store_connected(st))
		return -ENOTCONN;
	res = store_query(st, store_digest_needs_sql, 4, vals);
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
store_digest_load(struct store *st, const char *queues, const char *members,
                  gint64 from, gint64 to, GPtrArray *out, gint64 *unassigned_r)
{
	char a[24], b[24];
	const char *vals[] = {queues, store_i64(a, from), store_i64(b, to),
	                      members};
	PGresult *res;

	*unassigned_r = 0;
	if (!store_connected(st))
		return -ENOTCONN;
	res = store_query(st, store_digest_load_sql, 4, vals);
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
