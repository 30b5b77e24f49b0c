/*
 * store_keep.c - set-based ingest: the rows of a fetch batch that nothing
 * in the batch reads back (search index rows, events, participants, and
 * the UPDATE of a ticket for a customer's mail, its "touch") are kept here
 * and written one statement per table, from arrays, before the batch's
 * COMMIT or before any statement that reads the table.  See store_int.h.
 *
 * Why: PostgreSQL's cost of a one-row INSERT is mostly the statement's
 * own (executor start, the table's CHECKs parsed again, its indexes
 * opened): measured on the search index, 0.174 ms a row one by one and
 * 0.076 ms a row sixty at a time; a reply's touch 0.079 ms alone and
 * 0.031 ms sixty at a time (pgbench, pipelined, on a benchmark's database).
 *
 * What keeps it exact:
 * - rows are tagged with their mail (st->mail_no): a mail undone (its
 *   savepoint rolled back) takes its kept rows with it;
 * - rows written while a mail was open (a reader came: flushed inside its
 *   savepoint) stay in memory, marked with that mail, until the batch
 *   ends: should that mail be undone, the server undid them too, and the
 *   other mails' rows among them are kept again;
 * - a statement that names a kept table runs after the kept rows are
 *   written, so it reads (and orders ids) as if each row had been
 *   written at once;
 * - between mails (the batch's end), when a set statement fails, each row
 *   is tried alone in its own savepoint: a row the server refuses (no row
 *   tickd writes should be; it would be a bug or a schema change) is
 *   logged and left out, with an event, and the batch goes on: one mail
 *   never stops the mailbox.  Inside a mail (a reader came) there is no
 *   savepoint of its own: a refusal there is -EAGAIN, that mail is
 *   fetched again, and the batch's end finds the row.
 */
#include "store_int.h"

#include "bound.h"
#include "log.h"
#include "store_ingest.h"

#include <string.h>

/* Unwritten bytes a batch keeps before it writes them; a batch is at
 * most 60 mails (fetch.c) and 8 MB of mail anyway. */
#define STORE_KEEP_BYTES (4u << 20)

/* TSVECTOROID (pg_type.h, a server header): the element type a binary
 * tsvector[] parameter names */
#define STORE_TSVECTOR_OID 3614u

struct store_keep_def {
	const char *table;       /* a statement naming it reads it */
	const char *const *also; /* so does one naming these, NULL: none */
	struct store_stmt one, set;
	int n;               /* parameters of one (columns of set) */
	int binary;          /* the binary parameter (the last), -1: none */
	unsigned elem_oid;   /* its element type */
	int ticket, msg;     /* parameters naming them, -1: none */
	const char *refused; /* the event for a refused row, NULL: none */
};

/* what a touch's triggers write (sla_ticket_update, report_stale_update,
 * history_ticket_clock) */
static const char *const store_keep_touch_also[] = {"sla_change", "sla_clock",
                                                    "report_stale", NULL};

static const struct store_keep_def store_keep_defs[STORE_KEEP_N] = {
    [STORE_KEEP_SEARCH] =
        {"message_search",
         NULL,
         {"search index",
          "INSERT INTO message_search (message_id, ticket_id, queue, cfg, "
          "doc) VALUES ($1, NULLIF($2, 0)::bigint, $3, $4::regconfig, "
          "$5::tsvector)"},
         {"search index rows",
          "INSERT INTO message_search (message_id, ticket_id, queue, cfg, "
          "doc) SELECT m, NULLIF(t, 0), q, c::regconfig, d FROM "
          "unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], "
          "$5::tsvector[]) AS u(m, t, q, c, d)"},
         5,
         4,
         STORE_TSVECTOR_OID,
         1,
         0,
         "search-skipped"},
    [STORE_KEEP_PARTICIPANT] =
        {"participant",
         NULL,
         {"participant add",
          "INSERT INTO participant (ticket_id, addr, name, role) "
          "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING"},
         {"participant rows",
          "INSERT INTO participant (ticket_id, addr, name, role) "
          "SELECT t, a, n, r FROM unnest($1::bigint[], $2::text[], "
          "$3::text[], $4::text[]) AS u(t, a, n, r) ON CONFLICT DO "
          "NOTHING"},
         4,
         -1,
         0,
         0,
         -1,
         "participant-skipped"},
    /* a ticket at most once in a set (store_ticket_touch): an UPDATE
     * changes a row once per statement */
    [STORE_KEEP_TOUCH] =
        {"ticket",
         store_keep_touch_also,
         {"ticket touch customer",
          "UPDATE ticket SET updated = to_timestamp($2), "
          "last_customer_at = to_timestamp($2) WHERE id = $1"},
         {"ticket touches",
          "UPDATE ticket t SET updated = to_timestamp(u.at), "
          "last_customer_at = to_timestamp(u.at) FROM unnest($1::bigint[], "
          "$2::bigint[]) AS u(id, at) WHERE t.id = u.id"},
         2,
         -1,
         0,
         0,
         -1,
         "touch-skipped"},
    /* last: a refused row of the others is said by an event */
    [STORE_KEEP_EVENT] =
        {"event",
         NULL,
         {"event add", "INSERT INTO event (ticket_id, actor, action, detail, "
                       "message_id) VALUES ($1, $2, $3, $4, NULLIF($5, 0))"},
         {"event rows",
          "INSERT INTO event (ticket_id, actor, action, detail, "
          "message_id) SELECT t, a, c, d, NULLIF(m, 0) FROM "
          "unnest($1::bigint[], $2::text[], $3::text[], $4::text[], "
          "$5::bigint[]) AS u(t, a, c, d, m)"},
         5,
         -1,
         0,
         0,
         4,
         NULL},
};

/* store_keep_fmts - the parameter formats of d's statements: the binary
 * parameter, where d has one, is the last (the search document). */
static const int *
store_keep_fmts(const struct store_keep_def *d)
{
	static const int binary_last[STORE_KEEP_COLS] = {0, 0, 0, 0, 1};

	return d->binary == STORE_KEEP_COLS - 1 ? binary_last : NULL;
}

struct store_keep_row {
	guint64 mail;       /* st->mail_no when kept */
	guint64 written_in; /* the mail open when it was written, 0: none */
	bool written;
	char *vals[STORE_KEEP_COLS]; /* owned; NULL: SQL NULL */
	int lens[STORE_KEEP_COLS];   /* of the binary parameter */
};

static void
store_keep_row_free(gpointer p)
{
	struct store_keep_row *row = p;

	for (int i = 0; i < STORE_KEEP_COLS; i++)
		g_free(row->vals[i]);
	g_free(row);
}

static gsize
store_keep_size(const struct store_keep_def *d,
                const struct store_keep_row *row)
{
	gsize n = 0;

	for (int i = 0; i < d->n; i++)
		n += i == d->binary ? (gsize)row->lens[i]
		                    : (row->vals[i] ? strlen(row->vals[i]) : 0);
	return n;
}

/* store_keep_mark - a row written (written true) or to be written again
 * (false), the counts kept in step. */
static void
store_keep_mark(struct store *st, const struct store_keep_def *d,
                struct store_keep_row *row, bool written)
{
	gsize size = store_keep_size(d, row);
	guint *left = &st->keep_left[d - store_keep_defs];

	if (row->written == written)
		return;
	row->written = written;
	row->written_in = written && st->in_mail ? st->mail_no : 0;
	*left += written ? -1 : 1;
	st->keep_bytes += written ? -size : size;
}

int
store_keep(struct store *st, enum store_keep_table k, const char *const *vals,
           const int *lens)
{
	const struct store_keep_def *d = &store_keep_defs[k];
	struct store_keep_row *row;
	int r;

	if (!st->batch) {
		return store_send(st, &d->one, d->n, vals, lens,
		                  store_keep_fmts(d));
	}
	row = g_new0(struct store_keep_row, 1);
	row->mail = st->mail_no;
	row->written = true; /* (counted by store_keep_mark below) */
	for (int i = 0; i < d->n; i++) {
		if (vals[i] == NULL)
			continue;
		if (i == d->binary) {
			row->vals[i] = g_memdup2(vals[i], (gsize)lens[i]);
			row->lens[i] = lens[i];
		} else
			row->vals[i] = g_strdup(vals[i]);
	}
	if (st->keep_rows[k] == NULL)
		st->keep_rows[k] =
		    g_ptr_array_new_with_free_func(store_keep_row_free);
	g_ptr_array_add(st->keep_rows[k], row);
	store_keep_mark(st, d, row, false);
	if (st->keep_bytes > STORE_KEEP_BYTES && (r = store_keep_flush(st)) < 0)
		return r;
	return 0;
}

void
store_keep_forget(struct store *st, guint64 from_mail)
{
	for (int k = 0; k < STORE_KEEP_N; k++) {
		const struct store_keep_def *d = &store_keep_defs[k];
		GPtrArray *rows = st->keep_rows[k];

		if (rows == NULL)
			continue;
		if (from_mail == 0) {
			g_ptr_array_set_size(rows, 0);
			continue;
		}
		for (guint i = rows->len; i-- > 0;) {
			struct store_keep_row *row = rows->pdata[i];

			if (row->mail >= from_mail) {
				store_keep_mark(st, d, row, true);
				g_ptr_array_remove_index(rows, i);
			} else if (row->written && row->written_in != 0 &&
			           row->written_in >= from_mail)
				/* undone with the mail it was written in */
				store_keep_mark(st, d, row, false);
		}
	}
	if (from_mail == 0) {
		st->keep_bytes = 0;
		memset(st->keep_left, 0, sizeof(st->keep_left));
	}
}

/* store_keep_word - sql names word as a whole identifier. */
static bool
store_keep_word(const char *sql, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = sql; (p = strstr(p, word)) != NULL; p += n) {
		bool before =
		    p > sql && (g_ascii_isalnum(p[-1]) || p[-1] == '_');
		bool after = g_ascii_isalnum(p[n]) || p[n] == '_';

		if (!before && !after)
			return true;
	}
	return false;
}

unsigned
store_keep_reads(const char *sql)
{
	bool blind = g_str_has_prefix(sql, STORE_TOUCH_BLIND);
	unsigned reads = 0;

	/* tickd_merge moves every row of a ticket (sql/020_merge.sql) */
	if (store_keep_word(sql, "tickd_merge"))
		return STORE_KEEP_ALL;
	for (int k = 0; k < STORE_KEEP_N; k++) {
		const struct store_keep_def *d = &store_keep_defs[k];
		bool named = store_keep_word(sql, d->table);

		for (int i = 0; !named && d->also && d->also[i]; i++)
			named = store_keep_word(sql, d->also[i]);
		if (named && !(blind && k == STORE_KEEP_TOUCH))
			reads |= 1u << k;
	}
	return reads;
}

/* store_keep_unwritten - the tables with rows kept and not written. */
static unsigned
store_keep_unwritten(const struct store *st)
{
	unsigned m = 0;

	for (int k = 0; k < STORE_KEEP_N; k++)
		if (st->keep_left[k] > 0)
			m |= 1u << k;
	return m;
}

unsigned
store_keep_reads_sql(const struct store *st, const char *sql)
{
	unsigned left = store_keep_unwritten(st);

	if (left == 0 || st->keep_busy)
		return 0;
	return store_keep_reads(sql) & left;
}

/* store_keep_text_array - column c of the n rows as a text[] literal
 * (store_text_array).  g_free. */
static char *
store_keep_text_array(gpointer *rows, guint n, int c)
{
	g_autoptr(GPtrArray) col = g_ptr_array_sized_new(n);

	for (guint i = 0; i < n; i++)
		g_ptr_array_add(
		    col, ((const struct store_keep_row *)rows[i])->vals[c]);
	return store_text_array(col);
}

/* store_keep_binary_array - column c of rows as one binary array of
 * elem_oid (array_recv's form: one dimension, no nulls, the element type,
 * then each element's length and bytes, all in network order). */
static GByteArray *
store_keep_binary_array(gpointer *rows, guint n, int c, unsigned elem_oid)
{
	GByteArray *b = g_byte_array_sized_new(20 + 4 * n);
	const guint32 head[5] = {GUINT32_TO_BE(1), 0, GUINT32_TO_BE(elem_oid),
	                         GUINT32_TO_BE(n), GUINT32_TO_BE(1)};

	g_byte_array_append(b, (const guint8 *)head, sizeof(head));
	for (guint i = 0; i < n; i++) {
		const struct store_keep_row *row = rows[i];
		guint32 len = GUINT32_TO_BE((guint32)row->lens[c]);

		g_byte_array_append(b, (const guint8 *)&len, sizeof(len));
		g_byte_array_append(b, (const guint8 *)row->vals[c],
		                    (guint)row->lens[c]);
	}
	return b;
}

/* store_keep_refused - say that row of d was left out (why: the server's
 * error): the log, and an event on its ticket unless d is the events'. */
static int
store_keep_refused(struct store *st, const struct store_keep_def *d,
                   const struct store_keep_row *row)
{
	/* the error may quote the mail's words: one line, bounded */
	g_autofree char *why = g_utf8_make_valid(store_error(st), -1);
	gint64 ticket = 0, msg = 0;
	char a[24], b[24];
	const char *vals[STORE_KEEP_COLS] = {NULL, "tickd", d->refused, why,
	                                     NULL};

	g_strdelimit(why, "\r\n\t", ' ');
	bound_utf8(why, 200);
	if (d->ticket >= 0 && row->vals[d->ticket])
		ticket = g_ascii_strtoll(row->vals[d->ticket], NULL, 10);
	if (d->msg >= 0 && row->vals[d->msg])
		msg = g_ascii_strtoll(row->vals[d->msg], NULL, 10);
	log_err("store: a %s row (ticket %" G_GINT64_FORMAT
	        ", message %" G_GINT64_FORMAT ") was left out: %s",
	        d->table, ticket, msg, why);
	if (d->refused == NULL)
		return 0;
	/* (kept with the events, written after this table's rows) */
	vals[0] = ticket > 0 ? store_i64(a, ticket) : NULL;
	vals[4] = store_i64(b, msg);
	return store_keep(st, STORE_KEEP_EVENT, vals, NULL);
}

/* store_keep_each - the unwritten rows of d one at a time, each in its
 * own savepoint, after the set statement failed.  0, or -E when the
 * batch cannot go on. */
static int
store_keep_each(struct store *st, const struct store_keep_def *d,
                GPtrArray *rows)
{
	int r, r_one;

	for (guint i = 0; i < rows->len; i++) {
		struct store_keep_row *row = rows->pdata[i];

		if (row->written)
			continue;
		if ((r = store_cmd(st, "SAVEPOINT tickd_keep")) < 0)
			return r;
		PQclear(store_run(st, &d->one, d->n,
		                  (const char *const *)row->vals, row->lens,
		                  store_keep_fmts(d), &r));
		r_one = r;
		if (r != 0 && r != -EPROTO && r != -EEXIST)
			return r;
		if (r != 0 && (r = store_cmd(st, "ROLLBACK TO SAVEPOINT "
		                                 "tickd_keep")) < 0)
			return r;
		if ((r = store_cmd(st, "RELEASE SAVEPOINT tickd_keep")) < 0)
			return r;
		/* (its error is still store_error's: said before the next) */
		if (r_one != 0 && (r = store_keep_refused(st, d, row)) < 0)
			return r;
		store_keep_mark(st, d, row, true);
	}
	return 0;
}

/* store_keep_set - the unwritten rows of table d in one statement (sent
 * without waiting in a batch: its failure comes with the next wait),
 * the rows appended to todo.  0/-E. */
static int
store_keep_set(struct store *st, const struct store_keep_def *d,
               GPtrArray *rows, GPtrArray *todo)
{
	g_autoptr(GByteArray) bin = NULL;
	char *vals[STORE_KEEP_COLS] = {NULL};
	int lens[STORE_KEEP_COLS] = {0};
	guint from = todo->len;
	int r;

	for (guint i = 0; i < rows->len; i++)
		if (!((struct store_keep_row *)rows->pdata[i])->written)
			g_ptr_array_add(todo, rows->pdata[i]);
	if (todo->len == from)
		return 0;
	/* (this table's rows: todo holds the tables before it too) */
	for (int c = 0; c < d->n; c++)
		if (c == d->binary) {
			bin = store_keep_binary_array(todo->pdata + from,
			                              todo->len - from, c,
			                              d->elem_oid);
			vals[c] = (char *)bin->data;
			lens[c] = (int)bin->len;
		} else
			vals[c] = store_keep_text_array(todo->pdata + from,
			                                todo->len - from, c);
	r = store_send(st, &d->set, d->n, (const char *const *)vals, lens,
	               store_keep_fmts(d));
	for (int c = 0; c < d->n; c++)
		if (c != d->binary)
			g_free(vals[c]);
	return r;
}

/* store_keep_sets - the unwritten rows of the tables (bits 1u << k), one
 * statement each, and wait for them: the rows written are then marked
 * (all or none).  0/-E. */
static int
store_keep_sets(struct store *st, unsigned tables)
{
	g_autoptr(GPtrArray) todo = g_ptr_array_new();
	guint ends[STORE_KEEP_N];
	int r = 0;

	for (int k = 0; k < STORE_KEEP_N && r == 0; k++) {
		if (st->keep_rows[k] != NULL && (tables & 1u << k))
			r = store_keep_set(st, &store_keep_defs[k],
			                   st->keep_rows[k], todo);
		ends[k] = todo->len;
	}
	if (r == 0)
		r = store_wait(st);
	if (r < 0)
		return r;
	for (int k = 0, i = 0; k < STORE_KEEP_N; k++)
		for (; i < (int)ends[k]; i++)
			store_keep_mark(st, &store_keep_defs[k], todo->pdata[i],
			                true);
	return 0;
}

int
store_keep_flush(struct store *st)
{
	return store_keep_flush_some(st, STORE_KEEP_ALL);
}

int
store_keep_flush_some(struct store *st, unsigned tables)
{
	int r;

	if (st->keep_busy || (store_keep_unwritten(st) & tables) == 0)
		return 0;
	st->keep_busy = true;
	if (st->in_mail) {
		/* Inside a mail's savepoint: no savepoint of its own (a
		 * batch's mails already use most of the 64 subtransactions
		 * PostgreSQL keeps in its cache).  Should a row be refused,
		 * this mail is undone and fetched again later (transient),
		 * and the batch's end finds that row. */
		r = store_keep_sets(st, tables);
		if (r == -EPROTO || r == -EEXIST)
			r = -EAGAIN;
		goto out;
	}
	if ((r = store_cmd(st, "SAVEPOINT tickd_keep")) < 0)
		goto out;
	if ((r = store_keep_sets(st, tables)) == 0) {
		r = store_cmd(st, "RELEASE SAVEPOINT tickd_keep");
		goto out;
	}
	if (r != -EPROTO && r != -EEXIST)
		goto out;
	/* a row refused, one mail's most likely: find it, write the rest
	 * (the events last: a refused row of another table adds one) */
	if ((r = store_cmd(st, "ROLLBACK TO SAVEPOINT tickd_keep")) < 0 ||
	    (r = store_cmd(st, "RELEASE SAVEPOINT tickd_keep")) < 0)
		goto out;
	for (int k = 0; k < STORE_KEEP_N && r == 0; k++)
		if (st->keep_rows[k] != NULL && (tables & 1u << k))
			r = store_keep_each(st, &store_keep_defs[k],
			                    st->keep_rows[k]);
out:
	st->keep_busy = false;
	/* (refusals said by events: kept, and written now if the events
	 * are among the tables) */
	if (r == 0 && (store_keep_unwritten(st) & tables) != 0)
		r = store_keep_flush_some(st, tables);
	return r;
}

bool
store_keep_ticket(const struct store *st, enum store_keep_table k,
                  gint64 ticket)
{
	const GPtrArray *rows = st->keep_rows[k];
	char t[24];

	if (rows == NULL || st->keep_left[k] == 0)
		return false;
	store_i64(t, ticket);
	for (guint i = 0; i < rows->len; i++) {
		const struct store_keep_row *row = rows->pdata[i];

		if (!row->written && row->vals[0] &&
		    strcmp(row->vals[0], t) == 0)
			return true;
	}
	return false;
}

int
store_exec_unordered(struct store *st, const struct store_stmt *s, int n,
                     const char *const *vals)
{
	bool busy = st->keep_busy;
	int r;

	st->keep_busy = true; /* (no flush now) */
	r = store_exec(st, s, n, vals);
	st->keep_busy = busy;
	return r;
}

void
store_keep_free(struct store *st)
{
	for (int k = 0; k < STORE_KEEP_N; k++)
		if (st->keep_rows[k] != NULL)
			g_ptr_array_free(st->keep_rows[k], TRUE);
	if (st->keep_reads != NULL)
		g_hash_table_destroy(st->keep_reads);
}

unsigned
store_keep_reads_stmt(struct store *st, const struct store_stmt *s)
{
	unsigned left = store_keep_unwritten(st);
	gpointer v;

	if (left == 0 || st->keep_busy)
		return 0;
	if (st->keep_reads == NULL)
		st->keep_reads =
		    g_hash_table_new(g_direct_hash, g_direct_equal);
	/* the tables it reads, with a bit above them so that none is not
	 * NULL */
	v = g_hash_table_lookup(st->keep_reads, s);
	if (v == NULL) {
		v = GUINT_TO_POINTER(store_keep_reads(s->sql) |
		                     1u << STORE_KEEP_N);
		g_hash_table_insert(st->keep_reads, (gpointer)s, v);
	}
	return GPOINTER_TO_UINT(v) & left;
}
