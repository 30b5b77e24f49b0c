/*
 * store_int.h - what the store files (store.c and store_<domain>.c) share
 * and nothing else sees: the connection struct, statement descriptors and
 * the helpers that run them.  Private to src/ so that a PGresult never
 * leaves the store files and libpq stays out of every other module.
 *
 * A statement is a `static const struct store_stmt` beside the one
 * function that runs it.  It is prepared on a connection the first time it
 * runs there; a reconnect forgets what was prepared (a reset loses
 * prepared statements, SQLSTATE 26000 otherwise), so the next use
 * prepares again.  Adding a query means editing that one function.
 */
#ifndef TICKD_STORE_INT_H
#define TICKD_STORE_INT_H

#include "store.h"

#include <libpq-fe.h>

/* A statement: its name (for the log) and its SQL text. */
struct store_stmt {
	const char *name;
	const char *sql;
};

/*
 * A count of all automatic mail in the last minute, re-read at most once a
 * second (store_outbox.c).  This connection's own additions since the read
 * are added at once.
 */
struct store_minute {
	gint64 n;
	gint64 read_at; /* g_get_monotonic_time(), 0: never read */
	int seconds;
	gint64 cap;
};

/* the tables store_keep.c keeps rows of, in the order it writes them;
 * at most STORE_KEEP_COLS columns */
enum store_keep_table {
	STORE_KEEP_SEARCH,
	STORE_KEEP_PARTICIPANT,
	STORE_KEEP_TOUCH, /* a customer's mail on a ticket: an UPDATE */
	STORE_KEEP_EVENT, /* last: a refused row of the others is an event */
	STORE_KEEP_N
};
#define STORE_KEEP_COLS 5
#define STORE_KEEP_ALL  ((1u << STORE_KEEP_N) - 1)
/* the events of the rows store_keep.c left out (its refused actions;
 * sql/030_left_out.sql and 034 index them for tickctl status) */
#define STORE_LEFT_OUT                                                         \
	"action IN ('search-skipped', 'participant-skipped', "                 \
	"'touch-skipped')"
/* STORE_TOUCH_BLIND opens a statement that names ticket but reads nothing
 * a kept touch writes (the ticket's updated and last_customer_at, and its
 * triggers' sla_change, sla_clock, report_stale and live_since) and writes
 * nothing of a ticket with a kept touch: kept touches are not written
 * before it.  STORE_TICKET_COLUMNS are such; so is a new ticket's INSERT. */
#define STORE_TOUCH_BLIND "/* touch-blind */ "

/* the elements PostgreSQL assumes an array parameter has when it plans
 * a statement for any parameters (estimate_array_length) */
#define STORE_ARRAY_GUESS 10

/* message ids drawn per round trip in a batch (store_message_id) */
#define STORE_MID_POOL 32

struct store {
	PGconn *conn;
	char *conninfo;
	/* struct store_stmt* -> its server-side number on this connection;
	 * emptied on every (re)connect */
	GHashTable *prepared;
	unsigned generation;
	bool batch;     /* store_batch_begin: a mail is a savepoint */
	bool lazy;      /* store_lazy_commit */
	bool pipe;      /* in libpq pipeline mode (a batch), see store_send */
	int deferred;   /* commands sent in pipeline mode, results unread */
	guint64 sent_n; /* statements sent or run, ever (store_mark) */
	/* Mails committed in a batch without waiting (store_mail_commit):
	 * each is numbered (commit_seq); the results of the newest, while
	 * not read yet, are the first unsettled_n (> 0: it ends with its
	 * RELEASE) of the deferred ones.  failed_seq: the newest that failed
	 * as it was read, undone; stale: that failure is not claimed yet
	 * (store_mail_fate), and until it is, every statement fails with
	 * -ESTALE. */
	bool careful; /* store_batch_careful: each mail settled at once */
	bool stale;
	/* an event of a ticket was written without its message since the
	 * mail began (store_mail_begin): store_event_attach has work */
	bool loose_events;
	int unsettled_n;
	guint64 commit_seq, failed_seq;
	/* message ids drawn for this batch (store_message_add in pipeline
	 * mode), mid_pool[mid_next .. mid_n); emptied at every batch's end */
	gint64 mid_pool[STORE_MID_POOL];
	int mid_next, mid_n;
	gint64 planned_at; /* store_replan */
	gint64 plan_ttl;
	struct store_minute queued; /* store_auto_count_global */
	struct store_minute sent;   /* store_sent_count_global */
	/* store_search_index: "cfg\x1fword" -> its quoted lexemes ("" for a
	 * stop word), at most STORE_LEXCACHE_MAX entries; NULL until used */
	GHashTable *lexcache;
	/* store_keep.c: rows a batch keeps for one statement per table */
	GPtrArray *keep_rows[STORE_KEEP_N];
	/* rows kept and not written, per table */
	guint keep_left[STORE_KEEP_N];
	gsize keep_bytes;       /* their bytes */
	bool keep_busy;         /* store_keep_flush is running */
	GHashTable *keep_reads; /* store_keep_reads_stmt's answers */
	/* store_mail_begin in a batch numbers each mail (mail_no); in_mail
	 * while it is open; unsettled_mail: the one store_mail_commit left
	 * unread */
	guint64 mail_no, unsettled_mail;
	bool in_mail;
	/* a failure of store_query before it ran anything (it returns only
	 * a PGresult): what store_fail returns for its NULL result */
	int query_r;
	char err[256];
};

/* store_message_id - a new message id from this batch's pool, drawn
 * from the sequence STORE_MID_POOL at a time, so that the insert of a
 * message need not wait for its RETURNING id.  0 or -E. */
int store_message_id(struct store *st, gint64 *id_r);

/*
 * Set-based ingest (store_keep.c): rows of a fetch batch that nothing in
 * the batch reads back, written one statement per table (the touches: one
 * UPDATE of the tickets).
 *
 * store_keep - one row of table k: vals (and lens of the binary one, the
 * search document) as the table's one-row statement takes them ($1..$n, in
 * store_keep.c).  In a batch kept (copied) until store_keep_flush; else
 * sent at once, as store_send.  0/-E (in a batch: only from a flush when
 * the kept bytes grew past their bound).
 *
 * store_keep_flush - write every kept row: one statement per table.
 * Called before COMMIT (store_batch_end).  store_keep_flush_some - the
 * same for the tables (bits 1u << k) only: by store_run, store_send and
 * store_query before any statement that reads a kept table
 * (store_keep_reads), so that the batch reads what it wrote, and the
 * other tables' rows stay for a larger set.  Between
 * mails, in a savepoint: when a statement fails, the rows go one at a
 * time and a row the server refuses is logged and left out (with an
 * event), the rest written.  Inside a mail (a reader in it), without one:
 * a refused row fails the flush with -EAGAIN, so that the mail is fetched
 * again rather than blamed, and the batch's end finds the row.  0, or -E
 * when the batch cannot go on.
 *
 * store_keep_forget - the mails numbered from_mail and later were undone:
 * their rows go, and rows of other mails that were written while one of
 * them was open are kept again (the server undid them too).  0: all.
 */
int store_keep(struct store *st, enum store_keep_table k,
               const char *const *vals, const int *lens);
int store_keep_flush(struct store *st);
int store_keep_flush_some(struct store *st, unsigned tables);
void store_keep_forget(struct store *st, guint64 from_mail);
/* store_keep_reads - the kept tables sql reads, one bit (1u << k) each:
 * those it names (STORE_KEEP_TOUCH: ticket and what its triggers write,
 * unless sql opens with STORE_TOUCH_BLIND), all for tickd_merge, which
 * moves their rows.  store_keep_reads_stmt - those of them with rows kept
 * and not written, which store_keep_flush_some is then given (s's answer
 * remembered); store_keep_reads_sql - the same of SQL text (store_query).
 * store_keep_free - at store_free. */
unsigned store_keep_reads(const char *sql);
unsigned store_keep_reads_stmt(struct store *st, const struct store_stmt *s);
unsigned store_keep_reads_sql(const struct store *st, const char *sql);
void store_keep_free(struct store *st);
/* store_keep_ticket - some row of table k of ticket (its first column) is
 * kept and not written yet. */
bool store_keep_ticket(const struct store *st, enum store_keep_table k,
                       gint64 ticket);
/* store_exec_unordered - store_exec of s, which names a kept table but
 * needs none of the kept rows written before it. */
int store_exec_unordered(struct store *st, const struct store_stmt *s, int n,
                         const char *const *vals);

/* store_fail - the errno for a failed result (PQclears it), logged once
 * here with what and PostgreSQL's text. */
int store_fail(struct store *st, PGresult *res, const char *what);
void store_set_err(struct store *st, const char *what);

/*
 * store_run - execute statement s with text parameters (binary where
 * fmts[i] is 1) and wait for its result.  Returns the result (caller
 * PQclears) or NULL with *r_r set to the -errno.
 */
PGresult *store_run(struct store *st, const struct store_stmt *s, int n,
                    const char *const *vals, const int *lens, const int *fmts,
                    int *r_r);
/*
 * store_run2 - statements a then b, sent back to back and waited for once
 * (one round trip in pipeline mode; one after the other without it).  0
 * with both results in res_r (caller PQclears both), or -E with none.
 */
int store_run2(struct store *st, const struct store_stmt *a, int na,
               const char *const *va, const struct store_stmt *b, int nb,
               const char *const *vb, PGresult *res_r[2]);
/* store_one_row - store_run for a statement whose first row is wanted:
 * NULL with *r_r -ENOENT when it returned none. */
PGresult *store_one_row(struct store *st, const struct store_stmt *s, int n,
                        const char *const *vals, int *r_r);
/* store_send - statement s for its effect only: deferred in pipeline mode
 * (its failure is returned by a later call), else run at once.  0 or -E. */
int store_send(struct store *st, const struct store_stmt *s, int n,
               const char *const *vals, const int *lens, const int *fmts);
/* store_wait - the results of every statement store_send deferred: 0, or
 * the first failure (-E, as store_send's would have been). */
int store_wait(struct store *st);
/* store_exec - store_send with text parameters. */
int store_exec(struct store *st, const struct store_stmt *s, int n,
               const char *const *vals);
/* store_int - the first column of the first row as a number into *v_r:
 * 1 when there is a row whose value is not NULL, 0 when not (*v_r
 * untouched), -E. */
int store_int(struct store *st, const struct store_stmt *s, int n,
              const char *const *vals, gint64 *v_r);
/* store_int_of - the same of a result in hand (PQclears it). */
int store_int_of(PGresult *res, gint64 *v_r);
/* store_ticket_row - a struct store_ticket from the first row of res
 * (columns id, status, priority, requester, subject, queue, closed_at,
 * resolved_at as epoch seconds); PQclears res. */
struct store_ticket;
void store_ticket_row(PGresult *res, struct store_ticket *t_r);
/* the columns store_ticket_row reads, of a ticket aliased t */
#define STORE_TICKET_COLUMNS                                                   \
	"t.id, t.status, t.priority, t.requester, t.subject, t.queue, "        \
	"COALESCE(extract(epoch FROM t.closed_at)::bigint, 0), "               \
	"COALESCE(extract(epoch FROM t.resolved_at)::bigint, 0)"
/* store_text_of - the first column of s's first row as a new string into
 * *out_r (NULL for no row or NULL), 0 or -E.  A prepared statement:
 * store_text plans its SQL for every call. */
int store_text_of(struct store *st, const struct store_stmt *s, int n,
                  const char *const *vals, char **out_r);
/* store_has_row - run s; 1 when it returned a row, 0 when none, -E. */
int store_has_row(struct store *st, const struct store_stmt *s, int n,
                  const char *const *vals);
/* store_changed - run s (an UPDATE): the number of rows it changed, -E. */
gint64 store_changed(struct store *st, const struct store_stmt *s, int n,
                     const char *const *vals);

/*
 * Unprepared SQL, for statements built at run time and one-off admin
 * queries.  store_query: PQexecParams, also in pipeline mode; returns
 * what PQexecParams would (the caller checks and PQclears).
 * store_query_exec: 0, or -E with what in the log.  store_cmd: plain SQL
 * without parameters or rows (deferred in pipeline mode).
 */
PGresult *store_query(struct store *st, const char *sql, int n,
                      const char *const *vals);
int store_query_exec(struct store *st, const char *what, const char *sql, int n,
                     const char *const *vals);
int store_cmd(struct store *st, const char *sql);
/* store_text - sql's first cell of the first row into *out_r (g_free;
 * NULL for SQL NULL or no row). 0/-E. */
int store_text(struct store *st, const char *what, const char *sql, int n,
               const char *const *vals, char **out_r);

/* store_json - run a one-row, one-column json query into out (pretty:
 * jsonb_pretty); -ENOENT when it returned no row or NULL.  store_rows -
 * one query either into t (text cells) or, with t NULL, as a JSON array
 * of row objects into out: one SQL text serves both (store_admin.c). */
struct store_table;
int store_json(struct store *st, const char *sql, int n,
               const char *const *vals, GString *out, bool pretty);
int store_rows(struct store *st, const char *sql, int n,
               const char *const *vals, struct store_table *t, GString *out,
               bool pretty);

/* store_i64 - decimal text of v in buf (a libpq text parameter). */
const char *store_i64(char buf[24], gint64 v);
/* store_text_array - a PostgreSQL text[] literal of strs (char*, NULL
 * for a NULL element). g_free. */
char *store_text_array(GPtrArray *strs);
/* store_i64_array - "{1,2,3}" for a bigint[] parameter.  g_free. */
char *store_i64_array(const gint64 *v, size_t n);
/* store_col - a number cell, 0 for NULL. */
gint64 store_col(const PGresult *res, int row, int col);
/* store_bool_col - a boolean cell ('t'). */
bool store_bool_col(const PGresult *res, int row, int col);
/* store_strdup_col - a text cell, g_strdup'ed; NULL for SQL NULL. */
char *store_strdup_col(const PGresult *res, int row, int col);

#endif
