/*
 * store_search.c - full-text search and customer history on PostgreSQL's
 * own engine (sql/014_search.sql: message_search, tickd_search_doc,
 * tickd_search_query, tickd_history).  See store_search.h.
 */
#include "store_search.h"

#include "store_int.h"

#include <string.h>

const char *
store_search_config(const char *language)
{
	if (language == NULL)
		return "simple";
	if (g_ascii_strncasecmp(language, "de", 2) == 0 &&
	    (language[2] == '\0' || language[2] == '-' || language[2] == '_'))
		return "german";
	if (g_ascii_strncasecmp(language, "en", 2) == 0 &&
	    (language[2] == '\0' || language[2] == '-' || language[2] == '_'))
		return "english";
	return "simple";
}

int
store_search_index(struct store *st, gint64 msg, gint64 ticket,
                   const char *queue, const char *language)
{
	/* One statement computed in SQL from the rows just written: nothing
	 * crosses the wire twice, and in a batch it is not waited for. */
	static const struct store_stmt stmt = {
	    "search index",
	    "INSERT INTO message_search (message_id, ticket_id, queue, cfg, "
	    "doc) VALUES ($1, NULLIF($2, 0)::bigint, $3, $4::regconfig, "
	    "tickd_search_doc($4::regconfig, $1))"};
	char a[24], b[24];
	const char *vals[] = {store_i64(a, msg), store_i64(b, ticket),
	                      queue ? queue : "",
	                      store_search_config(language)};

	return store_exec(st, &stmt, 4, vals);
}

/* The query in each configuration a queue can use: a mail matches when
 * the words match under its own queue's configuration. */
#define STORE_SEARCH_Q                                                         \
	"WITH q AS (SELECT c.cfg, tickd_search_query(c.cfg, $1) AS q FROM "    \
	"unnest('{english,german,simple}'::regconfig[]) c(cfg)), "             \
	"hits AS (SELECT s.message_id, s.ticket_id, s.cfg, q.q, "              \
	"ts_rank_cd(s.doc, q.q) AS rank FROM message_search s JOIN q ON "      \
	"q.cfg = s.cfg JOIN message m ON m.id = s.message_id WHERE s.doc @@ "  \
	"q.q AND ($2::text IS NULL OR s.queue = $2) AND ($4::bigint IS NULL "  \
	"OR m.received >= to_timestamp($4)) AND ($5::bigint IS NULL OR "       \
	"m.received < to_timestamp($5)) AND (s.ticket_id IS NULL) = "          \
	"$6::boolean) "

/* ts_headline only for the rows shown (it re-parses the text). */
#define STORE_SEARCH_SNIPPET                                                   \
	"regexp_replace(ts_headline(x.cfg, concat_ws(' | ', m.subject, "       \
	"(SELECT string_agg(a.filename, ' ') FROM attachment a WHERE "         \
	"a.message_id = m.id), left(m.body_new, 8192)), x.q, 'MaxWords=16, "   \
	"MinWords=6, MaxFragments=2, FragmentDelimiter=\" ... \", "            \
	"StartSel=[, StopSel=]'), '\\s+', ' ', 'g') AS snippet"

static const char store_search_tickets[] = STORE_SEARCH_Q
    "SELECT x.ticket, x.queue, x.status, x.requester, x.rank, "
    "left(x.subject, 40) AS subject, " STORE_SEARCH_SNIPPET
    " FROM (SELECT DISTINCT ON (b.rank, b.ticket_id) b.ticket_id AS "
    "ticket, t.queue, t.status, t.requester, t.subject, "
    "round(b.rank::numeric, 4) AS rank, b.message_id, b.cfg, b.q FROM "
    "(SELECT DISTINCT ON (h.ticket_id) * FROM hits h ORDER BY "
    "h.ticket_id, h.rank DESC, h.message_id DESC) b JOIN ticket t ON t.id "
    "= b.ticket_id WHERE ($3::text IS NULL OR t.status = $3) ORDER BY "
    "b.rank DESC, b.ticket_id DESC LIMIT $7) x JOIN message m ON m.id = "
    "x.message_id ORDER BY x.rank DESC, x.ticket DESC";

static const char store_search_kept[] = STORE_SEARCH_Q
    "SELECT x.message_id AS message, to_char(m.received, 'YYYY-MM-DD "
    "HH24:MI') AS received, m.from_addr AS from, m.class, x.rank, "
    "left(m.subject, 40) AS subject, " STORE_SEARCH_SNIPPET
    " FROM (SELECT h.message_id, round(h.rank::numeric, 4) AS rank, "
    "h.cfg, h.q FROM hits h WHERE $3::text IS NULL ORDER BY h.rank DESC, "
    "h.message_id DESC LIMIT $7) x JOIN message m ON m.id = x.message_id "
    "ORDER BY x.rank DESC, x.message_id DESC";

/* `tickctl search --kept` without words: what tickd chose not to answer,
 * newest first. */
static const char store_search_kept_all[] =
    "SELECT m.id AS message, to_char(m.received, 'YYYY-MM-DD HH24:MI') "
    "AS received, m.from_addr AS from, m.class, left(m.class_reason, 40) "
    "AS reason, left(m.subject, 40) AS subject FROM message m WHERE "
    "m.ticket_id IS NULL AND m.direction = 'in' AND ($1::text IS NULL OR "
    "true) AND ($2::text IS NULL OR EXISTS (SELECT 1 FROM message_search "
    "s WHERE s.message_id = m.id AND s.queue = $2)) AND "
    "$3::text IS NULL AND ($4::bigint IS NULL OR m.received >= "
    "to_timestamp($4)) AND ($5::bigint IS NULL OR m.received < "
    "to_timestamp($5)) AND $6::boolean ORDER BY m.id DESC LIMIT $7";

int
store_search(struct store *st, const struct store_search_filter *f,
             struct store_table *t, GString *out, bool pretty)
{
	char a[24], b[24], c[24];
	int limit = f->limit > 0 && f->limit <= 1000 ? f->limit : 20;
	const char *vals[] = {f->words,
	                      f->queue,
	                      f->status,
	                      f->from ? store_i64(a, f->from) : NULL,
	                      f->to ? store_i64(b, f->to) : NULL,
	                      f->kept ? "t" : "f",
	                      store_i64(c, limit)};
	const char *sql = !f->kept                ? store_search_tickets
	                  : f->words && *f->words ? store_search_kept
	                                          : store_search_kept_all;

	if (!f->kept && (f->words == NULL || *f->words == '\0'))
		return -EINVAL;
	return store_rows(st, sql, 7, vals, t, out, pretty);
}

int
store_history_line(struct store *st, gint64 id, char **line_r)
{
	char a[24];
	const char *vals[] = {store_i64(a, id)};

	*line_r = NULL;
	return store_text(st, "history",
	                  "SELECT tickd_history($1::bigint)->>'line'", 1, vals,
	                  line_r);
}
