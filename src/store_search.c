/*
 * store_search.c - full-text search and customer history on PostgreSQL's
 * own engine (sql/014_search.sql: message_search, tickd_search_doc,
 * tickd_search_query, tickd_history).  See store_search.h.
 */
#include "store_search.h"

#include "store_int.h"

#include "searchdoc.h"

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

/* Distinct words whose lexemes a process keeps: the vocabulary of a
 * support mailbox; when full the cache starts again (bounded memory). */
#define STORE_LEXCACHE_MAX 50000

static void
store_search_gstring_free(gpointer s)
{
	g_string_free(s, TRUE);
}

/* store_search_lexemes - the lexemes of d's letter words under cfg: from
 * the cache, the rest in one statement (the server's own dictionaries,
 * sql/023_speed.sql tickd_search_lexemes), then cached. */
static int
store_search_lexemes(struct store *st, struct searchdoc *d, const char *cfg)
{
	static const struct store_stmt stmt = {
	    "search lexemes",
	    "SELECT i, lexeme FROM tickd_search_lexemes($1::regconfig, "
	    "$2::text[])"};
	g_autoptr(GPtrArray) words = searchdoc_words(d);
	g_autoptr(GPtrArray) miss = g_ptr_array_new();
	g_autoptr(GPtrArray) lex = NULL;
	g_autoptr(GString) key = g_string_sized_new(64);
	g_autofree char *arr = NULL;
	PGresult *res;
	int r;

	/* keyed by a stranger's words, kept across mails: a hash they
	 * cannot aim (g_str_hash's collisions can be computed offline) */
	if (st->lexcache == NULL)
		st->lexcache = g_hash_table_new_full(
		    searchdoc_str_hash, g_str_equal, g_free, g_free);
	for (guint i = 0; i < words->len; i++) {
		const char *hit;
		/* not g_string_printf: this runs for every distinct word */
		g_string_assign(key, cfg);
		g_string_append_c(key, '\x1f');
		g_string_append(key, words->pdata[i]);
		if ((hit = g_hash_table_lookup(st->lexcache, key->str)) != NULL)
			searchdoc_resolve(d, words->pdata[i], hit);
		else
			g_ptr_array_add(miss, words->pdata[i]);
	}
	if (miss->len == 0)
		return 0;
	arr = store_text_array(miss);
	res =
	    store_run(st, &stmt, 2, (const char *[]){cfg, arr}, NULL, NULL, &r);
	if (res == NULL)
		return r;
	lex = g_ptr_array_new_with_free_func(store_search_gstring_free);
	for (guint i = 0; i < miss->len; i++)
		g_ptr_array_add(lex, g_string_new(NULL));
	for (int row = 0; row < PQntuples(res); row++) {
		gint64 i = store_col(res, row, 0);
		GString *s;
		if (i < 1 || i > (gint64)miss->len)
			continue;
		s = lex->pdata[i - 1];
		if (s->len)
			g_string_append_c(s, SEARCHDOC_SEP);
		g_string_append(s, PQgetvalue(res, row, 1));
	}
	PQclear(res);
	if (g_hash_table_size(st->lexcache) + miss->len > STORE_LEXCACHE_MAX)
		g_hash_table_remove_all(st->lexcache);
	for (guint i = 0; i < miss->len; i++) {
		const GString *s = lex->pdata[i];
		searchdoc_resolve(d, miss->pdata[i], s->str);
		g_hash_table_insert(
		    st->lexcache,
		    g_strdup_printf("%s\x1f%s", cfg,
		                    (const char *)miss->pdata[i]),
		    g_strdup(s->str));
	}
	return 0;
}

int
store_search_index(struct store *st, gint64 msg, gint64 ticket,
                   const char *queue, const char *language,
                   const struct store_search_text *t)
{
	/* The words are cut here (searchdoc.h: PostgreSQL's own parser cost
	 * more than the rest of a new ticket); the server stems each distinct
	 * word once per process and stores the tsvector as text.  Weights
	 * and parts as tickd_search_doc: subject and attachment names A, the
	 * mail's own text B (at most 64 kB), addresses and names C.  The
	 * addresses' words are stemmed too: a query is cut and stemmed
	 * under the queue's configuration as a whole, so "alice@example.com"
	 * asks for alice, exampl and com. */
	const char *cfg = store_search_config(language);
	bool simple = strcmp(cfg, "simple") == 0;
	const char *const addrs[] = {t->from_addr, t->from_name, t->to, t->cc};
	struct searchdoc *d = searchdoc_new();
	g_autoptr(GBytes) doc = NULL;
	char a[24], b[24];
	int r = 0;

	if (t->subject)
		searchdoc_add(d, t->subject, strlen(t->subject), 'A', simple);
	for (guint i = 0; i < t->n_names; i++)
		if (t->names[i])
			searchdoc_add(d, t->names[i], strlen(t->names[i]), 'A',
			              simple);
	if (t->body)
		searchdoc_add(d, t->body, MIN(strlen(t->body), 65536), 'B',
		              simple);
	for (size_t i = 0; i < G_N_ELEMENTS(addrs); i++)
		if (addrs[i])
			searchdoc_add(d, addrs[i], strlen(addrs[i]), 'C',
			              simple);
	if (!simple)
		r = store_search_lexemes(st, d, cfg);
	if (r == 0) {
		gsize len;
		const char *vals[] = {store_i64(a, msg), store_i64(b, ticket),
		                      queue ? queue : "", cfg, NULL};
		int lens[5] = {0};

		/* the tsvector goes in binary (searchdoc_binary): the
		 * server's text input parsed it for as long as the GIN index
		 * took to insert it; in a batch with the batch's other rows,
		 * one statement (store_keep.c) */
		doc = searchdoc_binary(d);
		vals[4] = g_bytes_get_data(doc, &len);
		lens[4] = (int)len;
		r = store_keep(st, STORE_KEEP_SEARCH, vals, lens);
	}
	searchdoc_free(d);
	return r;
}

/* The query in each configuration a queue can use: a mail matches when
 * the words match under its own queue's configuration.  $1 is the query
 * cut as searchdoc.h cuts documents; $8, when it differs, the words as
 * typed, OR-ed in: rows indexed before 023 by PostgreSQL's own parser
 * (014) keep host names and addresses as one token. */
#define STORE_SEARCH_Q                                                         \
	"WITH q AS (SELECT c.cfg, CASE WHEN $8::text IS NULL THEN "            \
	"tickd_search_query(c.cfg, $1) ELSE tickd_search_query(c.cfg, $1) || " \
	"tickd_search_query(c.cfg, $8) END AS q FROM "                         \
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
    "to_timestamp($5)) AND $6::boolean AND ($8::text IS NULL OR true) "
    "ORDER BY m.id DESC LIMIT $7";

int
store_search(struct store *st, const struct store_search_filter *f,
             struct store_table *t, GString *out, bool pretty)
{
	char a[24], b[24], c[24];
	int limit = f->limit > 0 && f->limit <= 1000 ? f->limit : 20;
	/* the user's words cut as the documents were (searchdoc.h) */
	g_autofree char *words = searchdoc_query(f->words);
	const char *vals[] = {words,
	                      f->queue,
	                      f->status,
	                      f->from ? store_i64(a, f->from) : NULL,
	                      f->to ? store_i64(b, f->to) : NULL,
	                      f->kept ? "t" : "f",
	                      store_i64(c, limit),
	                      g_strcmp0(words, f->words) ? f->words : NULL};
	const char *sql = !f->kept                ? store_search_tickets
	                  : f->words && *f->words ? store_search_kept
	                                          : store_search_kept_all;

	if (!f->kept && (f->words == NULL || *f->words == '\0'))
		return -EINVAL;
	return store_rows(st, sql, 8, vals, t, out, pretty);
}

int
store_history_line(struct store *st, gint64 id, char **line_r)
{
	static const struct store_stmt stmt = {
	    "history line", "SELECT tickd_history($1::bigint)->>'line'"};
	char a[24];
	const char *vals[] = {store_i64(a, id)};

	return store_text_of(st, &stmt, 1, vals, line_r);
}

int
store_transcript(struct store *st, gint64 id, GString *out)
{
	char a[24];
	const char *vals[] = {store_i64(a, id)};
	g_autofree char *text = NULL;
	int r = store_text(
	    st, "transcript",
	    "SELECT format(E'Ticket #%s: %s\\nStatus:   %s, priority %s, "
	    "queue %s\\nCustomer: %s%s\\nHistory:  %s\\nAssigned: %s\\n"
	    "Opened:   %s, updated %s\\n\\n', t.id, t.subject, t.status, "
	    "t.priority, t.queue, t.requester, coalesce(' (' || "
	    "t.requester_name || ')', ''), coalesce(tickd_history(t.id)->>"
	    "'line', 'no earlier tickets'), coalesce(t.assignee, 'nobody'), "
	    "to_char(t.created, 'YYYY-MM-DD HH24:MI TZ'), to_char(t.updated, "
	    "'YYYY-MM-DD HH24:MI TZ')) || coalesce((SELECT string_agg("
	    "format(E'--- %s, %s, %s ---\\n%s\\n\\n', to_char(m.received, "
	    "'YYYY-MM-DD HH24:MI'), CASE m.role WHEN 'note' THEN 'internal "
	    "note' ELSE m.role END, coalesce(m.from_addr, '?'), CASE WHEN "
	    "length(m.body_new) > 4000 THEN left(m.body_new, 4000) || "
	    "E'\\n[...]' ELSE m.body_new END), '' ORDER BY m.id) FROM (SELECT "
	    "* FROM message WHERE ticket_id = t.id AND direction = 'in' AND "
	    "role IN ('customer', 'agent', 'note') ORDER BY id DESC "
	    "LIMIT " G_STRINGIFY(
	        STORE_ANSWER_MESSAGES) ") m), '(no messages)') FROM "
	                               "ticket t WHERE t.id = (SELECT "
	                               "COALESCE(merged_into, id) FROM "
	                               "ticket WHERE id = $1)",
	    1, vals, &text);

	if (r < 0)
		return r;
	if (text == NULL)
		return -ENOENT;
	g_string_append(out, text);
	return 0;
}

#define STORE_ANSWER_LINE                                                      \
	"format('#%s  %s  %s  %s  %s  %s', t.id, t.status, t.priority, "       \
	"t.queue, t.requester, left(t.subject, 60))"

int
store_answer_lines(struct store *st, const char *what, const char *arg,
                   GString *out, int *n_r)
{
	const char *vals[] = {what, arg};
	g_autofree char *text = NULL;
	gint64 n;
	int r;

	/* #search: the same ranked query as tickctl search */
	if (strcmp(what, "search") == 0) {
		struct store_search_filter f = {.words = arg,
		                                .limit = STORE_ANSWER_LINES};
		struct store_table t;
		store_table_init(&t);
		r = store_search(st, &f, &t, NULL, false);
		for (guint i = 0; r == 0 && i < t.rows->len; i++) {
			GPtrArray *row = t.rows->pdata[i];
			/* ticket, queue, status, requester, rank, subject */
			g_string_append_printf(
			    out, "#%s  %s  %s  %s  %s\n", (char *)row->pdata[0],
			    (char *)row->pdata[2], (char *)row->pdata[1],
			    (char *)row->pdata[3],
			    row->pdata[5] ? (char *)row->pdata[5] : "");
		}
		*n_r = r == 0 ? (int)t.rows->len : 0;
		store_table_clear(&t);
		return r;
	}
	r = store_text(
	    st, "answer lines",
	    "SELECT count(*) || E'\\n' || coalesce(string_agg(l, E'\\n' "
	    "ORDER BY id), '') FROM (SELECT t.id, " STORE_ANSWER_LINE " AS l "
	    "FROM ticket t WHERE t.status NOT IN ('resolved', 'closed') AND "
	    "CASE $1::text WHEN 'mine' THEN t.assignee = lower($2) WHEN "
	    "'queue' THEN t.queue = $2 WHEN 'breached' THEN EXISTS (SELECT 1 "
	    "FROM sla_clock c WHERE c.ticket_id = t.id AND (c.view->>"
	    "'breached')::boolean) ELSE false END ORDER BY t.id "
	    "LIMIT " G_STRINGIFY(STORE_ANSWER_LINES) ") x",
	    2, vals, &text);
	if (r < 0)
		return r;
	n = g_ascii_strtoll(text ? text : "0", NULL, 10);
	*n_r = (int)n;
	if (text && strchr(text, '\n') && n > 0)
		g_string_append_printf(out, "%s\n", strchr(text, '\n') + 1);
	return 0;
}
