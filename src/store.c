/*
 * store.c - the connection: connect and reconnect, the error map,
 * transactions, fetch batches and libpq pipeline mode, advisory locks,
 * migrations, the schema check, and the machinery that prepares and runs
 * the statements of the domain files (store_int.h).  See store.h.
 */
#include "store_int.h"

#include "log.h"

#include <stdlib.h>
#include <string.h>

#define STORE_PLAN_TTL_MIN_US G_USEC_PER_SEC
#define STORE_PLAN_TTL_MAX_US (60 * G_USEC_PER_SEC)

/*
 * store_not_the_mail - SQLSTATE classes that are the server's or the
 * schema's trouble, never one mail's: retried (transient), so that a full
 * disk or a broken migration stops the mailbox instead of quarantining
 * every mail.  53: disk full, out of memory, too many connections; 58:
 * I/O error; 42: undefined table/column (statements take mail values
 * only as parameters); 0A, 3D, 3F, 28, 55: feature, database, schema,
 * authorization, object state.
 */
static bool
store_not_the_mail(const char *state)
{
	static const char *const classes[] = {"53", "58", "42", "0A",
	                                      "3D", "3F", "28", "55"};

	for (size_t i = 0; i < ARRAY_SIZE(classes); i++)
		if (strncmp(state, classes[i], 2) == 0)
			return true;
	return false;
}

const char *
store_i64(char buf[24], gint64 v)
{
	g_snprintf(buf, 24, "%" G_GINT64_FORMAT, v);
	return buf;
}

void
store_set_err(struct store *st, const char *what)
{
	const char *e = st->conn ? PQerrorMessage(st->conn) : "no connection";

	g_snprintf(st->err, sizeof(st->err), "%s: %s", what, e);
	g_strchomp(st->err);
}

const char *
store_error(const struct store *st)
{
	return st->err;
}

unsigned
store_generation(const struct store *st)
{
	return st->generation;
}

bool
store_connected(const struct store *st)
{
	return st->conn != NULL && PQstatus(st->conn) == CONNECTION_OK;
}

int
store_fail(struct store *st, PGresult *res, const char *what)
{
	const char *state =
	    res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorMessage(res) : "";
	int r;

	/* the result's own text: in pipeline mode the connection's may be
	 * another command's, or empty */
	if (res == NULL && st->query_r < 0) {
		/* store_query's own failure, said when it happened */
		r = st->query_r;
		st->query_r = 0;
		return r;
	}
	if (msg[0] != '\0') {
		g_snprintf(st->err, sizeof(st->err), "%s: %s", what, msg);
		g_strchomp(st->err);
	} else
		store_set_err(st, what);
	if (PQstatus(st->conn) != CONNECTION_OK ||
	    (state && strncmp(state, "08", 2) == 0) ||
	    (state && strncmp(state, "57P", 3) == 0))
		r = -ENOTCONN;
	else if (state &&
	         (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
	          store_not_the_mail(state)))
		r = -EAGAIN;
	else if (state && strcmp(state, "23505") == 0)
		r = -EEXIST;
	else
		r = -EPROTO;
	if (r != -EEXIST)
		log_err("store: %s: %s", what, st->err + strlen(what) + 2);
	PQclear(res);
	return r;
}

static void
store_notice_ignore(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

/* store_lazy_set - a lazy session's setting, on its new connection.  Not
 * a failure of the connection when refused: its commits then wait for
 * the disk, as every other session's (store_fail logged why). */
static void
store_lazy_set(struct store *st)
{
	if (st->lazy)
		(void)store_cmd(st, "SET synchronous_commit = off");
}

static int
store_connect(struct store *st)
{
	if (st->conn != NULL)
		PQfinish(st->conn);
	g_hash_table_remove_all(st->prepared);
	st->queued.read_at = st->sent.read_at = 0;
	st->planned_at = g_get_monotonic_time();
	st->plan_ttl = STORE_PLAN_TTL_MIN_US;
	st->generation++;
	st->mid_next = st->mid_n = 0;
	st->stale = false;
	st->unsettled_n = 0;
	st->batch = false; /* a lost connection took the batch with it */
	st->pipe = false;
	st->deferred = 0;
	store_keep_forget(st, 0);
	st->in_mail = false;
	/* Our defaults first, so that the admin's conninfo overrides them:
	 * never hang forever on a dead host, notice a dead peer in ~1 min. */
	const char *const keys[] = {"connect_timeout",
	                            "keepalives_idle",
	                            "keepalives_interval",
	                            "keepalives_count",
	                            "application_name",
	                            "dbname",
	                            NULL};
	const char *const vals[] = {"10",    "30",         "10", "3",
	                            "tickd", st->conninfo, NULL};
	st->conn = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(st->conn) != CONNECTION_OK) {
		store_set_err(st, "connect");
		return -ENOTCONN;
	}
	/* Notices ("relation already exists, skipping") are not errors. */
	PQsetNoticeProcessor(st->conn, store_notice_ignore, NULL);
	st->err[0] = '\0';
	store_lazy_set(st);
	return 0;
}

int
store_open(const char *conninfo, struct store **st_r)
{
	struct store *st = g_new0(struct store, 1);
	int r;

	st->conninfo = g_strdup(conninfo);
	st->prepared = g_hash_table_new(g_direct_hash, g_direct_equal);
	r = store_connect(st);
	if (r < 0) {
		log_err("store: connect: %s", st->err + 9);
		store_free(&st);
		return r;
	}
	*st_r = st;
	return 0;
}

void
store_free(struct store **stp)
{
	struct store *st = *stp;

	if (st == NULL)
		return;
	if (st->conn)
		PQfinish(st->conn);
	g_hash_table_destroy(st->prepared);
	if (st->lexcache)
		g_hash_table_destroy(st->lexcache);
	store_keep_free(st);
	g_free(st->conninfo);
	g_free(st);
	*stp = NULL;
}

void
store_lazy_commit(struct store *st)
{
	st->lazy = true;
	if (store_connected(st))
		store_lazy_set(st);
}

int
store_reconnect(struct store *st)
{
	if (store_connected(st))
		return 0;
	return store_connect(st);
}

/*
 * Pipeline mode (libpq 14+), only inside a batch (store_batch_begin).  A
 * statement whose rows the caller does not look at (store_send: events,
 * participants, the cursor, the outbox, SAVEPOINT) is sent and not waited
 * for; the next statement whose result is needed first reads the queued
 * results in order.  The end of a mail is not waited for either, unless
 * the batch is careful (store_mail_commit, store_mail_fate).  A new ticket
 * waits three times (a trace of the waiting statements over 2,000 new
 * tickets: it was 12 before the message ids were drawn ahead, the
 * acknowledgement's checks made one statement and the mail's end left to
 * the next mail).
 *
 * An error of a deferred statement is returned by that next call.  In a
 * batch every caller treats any error alike (store_rollback of the mail),
 * and the transaction was doomed by the error anyway, so nothing that
 * worked before can go wrong silently.  After an error the server skips
 * everything up to a sync point, which store_pipe_sync supplies.
 * STORE_PIPE_MAX bounds what is queued: with a blocking socket, a client
 * that only writes while the server's replies pile up could deadlock.
 */
#define STORE_PIPE_MAX 256

/* store_pipe_next - the (last) result of the next queued command, or NULL
 * when the connection broke.  Caller PQclears. */
static PGresult *
store_pipe_next(struct store *st)
{
	PGresult *res, *last = NULL;

	while ((res = PQgetResult(st->conn)) != NULL) {
		PQclear(last);
		last = res;
	}
	return last;
}

/* store_pipe_sync - a sync point: read what is left up to it, so that the
 * server accepts commands again after an error. */
static void
store_pipe_sync(struct store *st)
{
	PGresult *res;
	ExecStatusType es;

	st->deferred = 0;
	if (PQpipelineSync(st->conn) != 1)
		return;
	for (;;) {
		if ((res = PQgetResult(st->conn)) == NULL) {
			if (PQstatus(st->conn) != CONNECTION_OK)
				return;
			continue; /* the end of one command's results */
		}
		es = PQresultStatus(res);
		PQclear(res);
		if (es == PGRES_PIPELINE_SYNC)
			return;
	}
}

/*
 * store_pipe_drain_n - read the results of all deferred commands, in
 * order.  The last n (0, 1 or 2) are handed over as they are in keep[0 ..
 * n) (the caller PQclears them, also when they failed; NULL when not
 * read).  0, or the first failure (-E) among the others; after any
 * failure the pipeline has been synced.
 */
static int store_pipe_undo(struct store *st);

static int
store_pipe_drain_n(struct store *st, PGresult **keep, int n)
{
	PGresult *res;
	ExecStatusType es;
	bool failed = false, prev_failed = false, prev;
	bool settling = st->unsettled_n > 0;
	int r = 0;

	for (int i = 0; i < n; i++)
		keep[i] = NULL;
	if (st->deferred == 0)
		return 0;
	if (PQsendFlushRequest(st->conn) != 1 || PQflush(st->conn) != 0) {
		store_set_err(st, "pipeline");
		st->deferred = 0;
		st->unsettled_n = 0; /* (the batch is gone with them) */
		return -ENOTCONN;
	}
	while (st->deferred > 0) {
		res = store_pipe_next(st);
		es = PQresultStatus(res);
		st->deferred--;
		/* the first results may be the unsettled mail's */
		prev = st->unsettled_n > 0;
		if (prev)
			st->unsettled_n--;
		if (es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK) {
			failed = true;
			prev_failed = prev_failed || prev;
		}
		if (st->deferred < n)
			keep[n - 1 - st->deferred] = res;
		else if (r == 0 && es != PGRES_COMMAND_OK &&
		         es != PGRES_TUPLES_OK)
			r = store_fail(st, res, "query");
		else
			PQclear(res);
	}
	if (failed)
		store_pipe_sync(st);
	if (settling && prev_failed) { /* (all of it read: deferred >= n) */
		for (int i = 0; i < n; i++)
			g_clear_pointer(&keep[i], PQclear);
		return store_pipe_undo(st);
	}
	return r;
}

/* store_pipe_drain - store_pipe_drain_n of the last result (into *last_r)
 * or of none (last_r NULL). */
static int
store_pipe_drain(struct store *st, PGresult **last_r)
{
	return store_pipe_drain_n(st, last_r, last_r != NULL);
}

/*
 * store_pipe_undo - the unsettled mail failed: the server skipped the
 * rest of it up to the sync (its RELEASE too), and whatever the next
 * mail sent behind it: the mail's savepoint is the newest, and undoing it
 * undoes exactly that mail.  -ESTALE, and stale until claimed
 * (store_mail_fate); -ENOTCONN when even that failed.  (The error stays
 * in store_error: the undo only overwrites it if it fails.)
 */
static int
store_pipe_undo(struct store *st)
{
	int r;

	st->failed_seq = st->commit_seq;
	/* its kept rows, and the next mail's: the server skipped those */
	store_keep_forget(st, st->unsettled_mail);
	if ((r = store_cmd(st, "ROLLBACK TO SAVEPOINT tickd_one")) < 0 ||
	    (r = store_cmd(st, "RELEASE SAVEPOINT tickd_one")) < 0 ||
	    (r = store_pipe_drain(st, NULL)) < 0)
		return -ENOTCONN;
	st->stale = true;
	return -ESTALE;
}

/* store_gate - nothing runs while a failed mail's fate is unclaimed. */
static int
store_gate(struct store *st)
{
	if (!st->stale)
		return 0;
	g_strlcpy(st->err, "the mail before failed as it was committed",
	          sizeof(st->err));
	return -ESTALE;
}

/* store_pipe_queued - count a command just sent (sent is PQsend*'s
 * return); 0 or -ENOTCONN. */
static int
store_pipe_queued(struct store *st, int sent)
{
	if (sent != 1) {
		store_set_err(st, "pipeline");
		return -ENOTCONN;
	}
	st->deferred++;
	st->sent_n++;
	return st->deferred >= STORE_PIPE_MAX ? store_pipe_drain(st, NULL) : 0;
}

/*
 * store_query - PQexecParams, also in pipeline mode (waits for the
 * result).  Returns what PQexecParams would (NULL or a failed result when
 * it failed; the caller checks and PQclears).
 */
PGresult *
store_query(struct store *st, const char *sql, int n, const char *const *vals)
{
	PGresult *res;
	unsigned kept;

	if ((st->query_r = store_gate(st)) < 0)
		return NULL;
	if ((kept = store_keep_reads_sql(st, sql)) != 0 &&
	    (st->query_r = store_keep_flush_some(st, kept)) < 0)
		return NULL;
	if (!st->pipe) {
		st->sent_n++;
		return PQexecParams(st->conn, sql, n, NULL, vals, NULL, NULL,
		                    0);
	}
	/* (a failure of what was queued before is this call's errno) */
	if ((st->query_r = store_pipe_drain(st, NULL)) < 0 ||
	    (st->query_r = store_pipe_queued(
	         st, PQsendQueryParams(st->conn, sql, n, NULL, vals, NULL, NULL,
	                               0))) < 0)
		return NULL;
	if ((st->query_r = store_pipe_drain(st, &res)) < 0) {
		PQclear(res);
		return NULL;
	}
	return res;
}

int
store_query_exec(struct store *st, const char *what, const char *sql, int n,
                 const char *const *vals)
{
	PGresult *res = store_query(st, sql, n, vals);
	ExecStatusType es = PQresultStatus(res);

	if (es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK)
		return store_fail(st, res, what);
	PQclear(res);
	return 0;
}

int
store_cmd(struct store *st, const char *sql)
{
	PGresult *res;

	if (store_gate(st) < 0)
		return -ESTALE;
	if (st->pipe)
		return store_pipe_queued(st, PQsendQueryParams(st->conn, sql, 0,
		                                               NULL, NULL, NULL,
		                                               NULL, 0));
	st->sent_n++;
	res = PQexec(st->conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK)
		return store_fail(st, res, sql);
	PQclear(res);
	return 0;
}

/*
 * store_replan - drop this connection's cached plans now and then.
 * PostgreSQL keeps a prepared statement's generic plan until the table's
 * statistics change, and autovacuum may not analyze for a minute or more:
 * plans made while the tables were small (a fresh install's first flood)
 * would seq-scan the outbox and message tables for every mail.  Re-planned
 * after 1, 2, 4 ... seconds, then every STORE_PLAN_TTL_MAX_US; a re-plan
 * costs a few ms, and the prepared statements stay.
 */
static void
store_replan(struct store *st)
{
	gint64 now = g_get_monotonic_time();

	if (now - st->planned_at < st->plan_ttl)
		return;
	/* (not in a failed transaction: it would fail too) */
	if (PQtransactionStatus(st->conn) != PQTRANS_IDLE &&
	    PQtransactionStatus(st->conn) != PQTRANS_INTRANS)
		return;
	st->planned_at = now;
	st->plan_ttl = MIN(st->plan_ttl * 2, STORE_PLAN_TTL_MAX_US);
	(void)store_cmd(st, "DISCARD PLANS"); /* (only ever slower without) */
}

/*
 * store_prepare - statement s prepared on this connection, its server-side
 * name into name (once per connection: the names are numbered in the
 * order of first use; in pipeline mode after the queue is read, so that a
 * failed PREPARE is told apart from a failed deferred statement).
 */
static int
store_prepare(struct store *st, const struct store_stmt *s, char name[16])
{
	gpointer no = g_hash_table_lookup(st->prepared, s);
	PGresult *res;
	int r;

	if (no != NULL) {
		g_snprintf(name, 16, "s%u", GPOINTER_TO_UINT(no));
		return 0;
	}
	g_snprintf(name, 16, "s%u", g_hash_table_size(st->prepared) + 1);
	if (st->pipe) {
		if ((r = store_pipe_drain(st, NULL)) < 0 ||
		    (r = store_pipe_queued(
		         st, PQsendPrepare(st->conn, name, s->sql, 0, NULL))) <
		        0)
			return r;
		if ((r = store_pipe_drain(st, NULL)) < 0)
			return r;
	} else {
		res = PQprepare(st->conn, name, s->sql, 0, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			return store_fail(st, res, s->name);
		PQclear(res);
	}
	g_hash_table_insert(
	    st->prepared, (gpointer)s,
	    GUINT_TO_POINTER(g_hash_table_size(st->prepared) + 1));
	return 0;
}

/*
 * store_before - what must come before statement s: nothing while a
 * failed mail is unclaimed (store_gate), and the kept rows of the tables
 * s reads written (a batch reads what it kept as if written).  0 or -E.
 */
static int
store_before(struct store *st, const struct store_stmt *s)
{
	unsigned kept;
	int r;

	if ((r = store_gate(st)) < 0)
		return r;
	if ((kept = store_keep_reads_stmt(st, s)) != 0 &&
	    (r = store_keep_flush_some(st, kept)) < 0)
		return r;
	return 0;
}

PGresult *
store_run(struct store *st, const struct store_stmt *s, int n,
          const char *const *vals, const int *lens, const int *fmts, int *r_r)
{
	char name[16];
	PGresult *res;
	ExecStatusType es;

	if (st->conn == NULL || PQstatus(st->conn) != CONNECTION_OK) {
		store_set_err(st, s->name);
		*r_r = -ENOTCONN;
		return NULL;
	}
	st->query_r = 0; /* (store_fail of a NULL result: not store_query's) */
	if ((*r_r = store_before(st, s)) < 0)
		return NULL;
	store_replan(st);
	if ((*r_r = store_prepare(st, s, name)) < 0)
		return NULL;
	if (st->pipe) {
		if ((*r_r = store_pipe_queued(
		         st, PQsendQueryPrepared(st->conn, name, n, vals, lens,
		                                 fmts, 0))) < 0 ||
		    (*r_r = store_pipe_drain(st, &res)) < 0) {
			PQclear(res);
			return NULL;
		}
	} else {
		st->sent_n++;
		res = PQexecPrepared(st->conn, name, n, vals, lens, fmts, 0);
	}
	es = PQresultStatus(res);
	if (es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK) {
		*r_r = store_fail(st, res, s->name);
		return NULL;
	}
	*r_r = 0;
	return res;
}

int
store_run2(struct store *st, const struct store_stmt *a, int na,
           const char *const *va, const struct store_stmt *b, int nb,
           const char *const *vb, PGresult *res_r[2])
{
	const struct store_stmt *s[2] = {a, b};
	char name[2][16];
	int r;

	res_r[0] = res_r[1] = NULL;
	if (!st->pipe) {
		if ((res_r[0] = store_run(st, a, na, va, NULL, NULL, &r)) !=
		        NULL &&
		    (res_r[1] = store_run(st, b, nb, vb, NULL, NULL, &r)) ==
		        NULL)
			g_clear_pointer(&res_r[0], PQclear);
		return res_r[1] != NULL ? 0 : r;
	}
	if (PQstatus(st->conn) != CONNECTION_OK) {
		store_set_err(st, a->name);
		return -ENOTCONN;
	}
	st->query_r = 0;
	/* everything either needs sent before the two, which go out back to
	 * back: their results are the last two the drain reads */
	if ((r = store_before(st, a)) < 0 || (r = store_before(st, b)) < 0)
		return r;
	store_replan(st);
	if ((r = store_prepare(st, a, name[0])) < 0 ||
	    (r = store_prepare(st, b, name[1])) < 0)
		return r;
	if (st->deferred + 2 >= STORE_PIPE_MAX &&
	    (r = store_pipe_drain(st, NULL)) < 0)
		return r;
	if ((r = store_pipe_queued(st, PQsendQueryPrepared(st->conn, name[0],
	                                                   na, va, NULL, NULL,
	                                                   0))) < 0 ||
	    (r = store_pipe_queued(st, PQsendQueryPrepared(st->conn, name[1],
	                                                   nb, vb, NULL, NULL,
	                                                   0))) < 0 ||
	    (r = store_pipe_drain_n(st, res_r, 2)) < 0)
		goto fail;
	for (int i = 0; i < 2; i++) {
		ExecStatusType es = PQresultStatus(res_r[i]);

		if (es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK) {
			r = store_fail(st, g_steal_pointer(&res_r[i]),
			               s[i]->name);
			goto fail;
		}
	}
	return 0;
fail:
	g_clear_pointer(&res_r[0], PQclear);
	g_clear_pointer(&res_r[1], PQclear);
	return r;
}

guint64
store_mark(const struct store *st)
{
	return st->sent_n;
}

int
store_send(struct store *st, const struct store_stmt *s, int n,
           const char *const *vals, const int *lens, const int *fmts)
{
	char name[16];
	int r;

	if (!st->pipe) {
		PQclear(store_run(st, s, n, vals, lens, fmts, &r));
		return r;
	}
	if (PQstatus(st->conn) != CONNECTION_OK) {
		store_set_err(st, s->name);
		return -ENOTCONN;
	}
	if ((r = store_before(st, s)) < 0 ||
	    (r = store_prepare(st, s, name)) < 0)
		return r;
	return store_pipe_queued(
	    st, PQsendQueryPrepared(st->conn, name, n, vals, lens, fmts, 0));
}

int
store_wait(struct store *st)
{
	return st->pipe ? store_pipe_drain(st, NULL) : 0;
}

int
store_exec(struct store *st, const struct store_stmt *s, int n,
           const char *const *vals)
{
	return store_send(st, s, n, vals, NULL, NULL);
}

int
store_int(struct store *st, const struct store_stmt *s, int n,
          const char *const *vals, gint64 *v_r)
{
	int r;
	PGresult *res = store_run(st, s, n, vals, NULL, NULL, &r);

	return res == NULL ? r : store_int_of(res, v_r);
}

int
store_int_of(PGresult *res, gint64 *v_r)
{
	int r = PQntuples(res) > 0 && !PQgetisnull(res, 0, 0);

	if (r)
		*v_r = store_col(res, 0, 0);
	PQclear(res);
	return r;
}

PGresult *
store_one_row(struct store *st, const struct store_stmt *s, int n,
              const char *const *vals, int *r_r)
{
	PGresult *res = store_run(st, s, n, vals, NULL, NULL, r_r);

	if (res != NULL && PQntuples(res) == 0) {
		PQclear(res);
		*r_r = -ENOENT;
		return NULL;
	}
	return res;
}

int
store_has_row(struct store *st, const struct store_stmt *s, int n,
              const char *const *vals)
{
	int r;
	PGresult *res = store_run(st, s, n, vals, NULL, NULL, &r);

	if (res == NULL)
		return r;
	r = PQntuples(res) > 0;
	PQclear(res);
	return r;
}

gint64
store_changed(struct store *st, const struct store_stmt *s, int n,
              const char *const *vals)
{
	int r;
	PGresult *res = store_run(st, s, n, vals, NULL, NULL, &r);
	gint64 v;

	if (res == NULL)
		return r;
	v = g_ascii_strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return v;
}

int
store_text(struct store *st, const char *what, const char *sql, int n,
           const char *const *vals, char **out_r)
{
	PGresult *res;

	*out_r = NULL;
	if (!store_connected(st))
		return -ENOTCONN;
	res = store_query(st, sql, n, vals);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return store_fail(st, res, what);
	if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
		*out_r = g_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

int
store_text_of(struct store *st, const struct store_stmt *s, int n,
              const char *const *vals, char **out_r)
{
	int r;
	PGresult *res = store_run(st, s, n, vals, NULL, NULL, &r);

	*out_r = NULL;
	if (res == NULL)
		return r;
	if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
		*out_r = g_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

char *
store_text_array(GPtrArray *strs)
{
	GString *s = g_string_new("{");

	for (guint i = 0; i < strs->len; i++) {
		if (i)
			g_string_append_c(s, ',');
		if (strs->pdata[i] == NULL) {
			g_string_append(s, "NULL");
			continue;
		}
		g_string_append_c(s, '"');
		for (const char *p = strs->pdata[i]; *p; p++) {
			if (*p == '"' || *p == '\\')
				g_string_append_c(s, '\\');
			g_string_append_c(s, *p);
		}
		g_string_append_c(s, '"');
	}
	g_string_append_c(s, '}');
	return g_string_free(s, FALSE);
}

char *
store_i64_array(const gint64 *v, size_t n)
{
	GString *s = g_string_new("{");

	for (size_t i = 0; i < n; i++)
		g_string_append_printf(s, "%s%" G_GINT64_FORMAT, i ? "," : "",
		                       v[i]);
	g_string_append_c(s, '}');
	return g_string_free(s, FALSE);
}

gint64
store_col(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return 0;
	return g_ascii_strtoll(PQgetvalue(res, row, col), NULL, 10);
}

bool
store_bool_col(const PGresult *res, int row, int col)
{
	return strcmp(PQgetvalue(res, row, col), "t") == 0;
}

char *
store_strdup_col(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return NULL;
	return g_strdup(PQgetvalue(res, row, col));
}

/* store_top_only - a top-level transaction call inside a batch is a bug:
 * it would commit or undo other mails' work. */
static int
store_top_only(struct store *st, const char *what)
{
	if (!st->batch)
		return 0;
	g_snprintf(st->err, sizeof(st->err), "%s inside a fetch batch", what);
	log_err("store: %s", st->err);
	return -EINVAL;
}

int
store_message_id(struct store *st, gint64 *id_r)
{
	static const struct store_stmt stmt = {
	    "message ids",
	    "SELECT nextval(pg_get_serial_sequence('message', 'id')) FROM "
	    "generate_series(1, $1::int)"};
	char a[24];
	const char *vals[] = {store_i64(a, STORE_MID_POOL)};
	PGresult *res;
	int r;

	if (st->mid_next >= st->mid_n) {
		if ((res = store_run(st, &stmt, 1, vals, NULL, NULL, &r)) ==
		    NULL)
			return r;
		st->mid_n = MIN(PQntuples(res), STORE_MID_POOL);
		for (int i = 0; i < st->mid_n; i++)
			st->mid_pool[i] = store_col(res, i, 0);
		st->mid_next = 0;
		PQclear(res);
		if (st->mid_n == 0)
			return -EPROTO;
	}
	*id_r = st->mid_pool[st->mid_next++];
	return 0;
}

int
store_begin(struct store *st)
{
	int r = store_top_only(st, "BEGIN");

	return r < 0 ? r : store_cmd(st, "BEGIN");
}

int
store_commit(struct store *st)
{
	int r = store_top_only(st, "COMMIT");

	return r < 0 ? r : store_cmd(st, "COMMIT");
}

void
store_rollback(struct store *st)
{
	if (!store_connected(st) || store_top_only(st, "ROLLBACK") < 0)
		return;
	(void)store_cmd(st, "ROLLBACK");
}

int
store_mail_begin(struct store *st)
{
	int r;

	st->loose_events = false;
	/* (in a batch, deferred: the unsettled mail before it is read with
	 * this mail's first wait) */
	if (!st->batch)
		return store_cmd(st, "BEGIN");
	st->mail_no++;
	if ((r = store_cmd(st, "SAVEPOINT tickd_one")) == 0)
		st->in_mail = true;
	return r;
}

int
store_mail_commit(struct store *st)
{
	int r;

	if (!st->batch)
		return store_cmd(st, "COMMIT");
	st->in_mail = false;
	if ((r = store_cmd(st, "RELEASE SAVEPOINT tickd_one")) < 0)
		return r;
	/* (a mail that never waited has not read the one before it: its
	 * results would pass for this mail's) */
	if (st->careful || !st->pipe || st->unsettled_n > 0)
		/* every deferred statement's fate is known here */
		return store_pipe_drain(st, NULL);
	/* Sent, not waited for: the server runs the mail's last statements
	 * while the caller parses the next mail, whose first wait reads
	 * them (store_pipe_drain). */
	if (PQsendFlushRequest(st->conn) != 1 || PQflush(st->conn) != 0) {
		store_set_err(st, "pipeline");
		return -ENOTCONN;
	}
	st->commit_seq++;
	st->unsettled_n = st->deferred;
	st->unsettled_mail = st->mail_no;
	return 0;
}

guint64
store_mail_seq(const struct store *st)
{
	return st->commit_seq;
}

int
store_mail_fate(struct store *st, guint64 seq)
{
	int r;

	if (seq == st->commit_seq && st->unsettled_n > 0 &&
	    (r = store_pipe_drain(st, NULL)) < 0 && r != -ESTALE)
		return r;
	if (seq == st->failed_seq && st->stale) {
		st->stale = false;
		return -ESTALE;
	}
	return 0;
}

void
store_batch_careful(struct store *st, bool careful)
{
	st->careful = careful;
}

void
store_mail_rollback(struct store *st)
{
	if (!store_connected(st))
		return;
	if (!st->batch) {
		(void)store_cmd(st, "ROLLBACK");
		return;
	}
	st->in_mail = false;
	store_keep_forget(st, st->mail_no);
	if (st->stale) /* its savepoint went with the mail before */
		return;
	/* In a batch only this mail's work goes; the mails before it stay.
	 * (Two commands: the extended protocol of pipeline mode takes one
	 * statement per command.) */
	(void)store_pipe_drain(st, NULL);
	(void)store_cmd(st, "ROLLBACK TO SAVEPOINT tickd_one");
	(void)store_cmd(st, "RELEASE SAVEPOINT tickd_one");
	(void)store_pipe_drain(st, NULL);
}

int
store_batch_begin(struct store *st)
{
	int r;

	if (st->batch)
		return -EINVAL;
	if ((r = store_cmd(st, "BEGIN")) < 0)
		return r;
	st->batch = true;
	st->careful = true; /* unless the owner settles: store_batch_careful */
	st->pipe = PQenterPipelineMode(st->conn) == 1;
	return 0;
}

/* store_pipe_end - leave pipeline mode, the queue read and synced (so that
 * PQtransactionStatus is true again). */
static void
store_pipe_end(struct store *st)
{
	if (!st->pipe)
		return;
	st->pipe = false;
	if (!store_connected(st))
		return;
	(void)store_pipe_drain(st, NULL);
	store_pipe_sync(st);
	(void)PQexitPipelineMode(st->conn);
}

int
store_batch_end(struct store *st, bool commit)
{
	int r = 0;

	if (!st->batch)
		return 0;
	/* (the owner learns each mail's fate first: a failed mail here
	 * fails the batch) */
	if (st->unsettled_n > 0 && store_pipe_drain(st, NULL) == -ESTALE)
		commit = false;
	if (st->stale) {
		commit = false;
		r = -ESTALE;
	}
	st->stale = false;
	st->unsettled_n = 0;
	st->in_mail = false; /* (a mail whose begin failed) */
	/* the rows the batch kept, one statement a table */
	if (commit && (r = store_keep_flush(st)) < 0)
		commit = false;
	store_keep_forget(st, 0);
	store_pipe_end(st);
	st->batch = false;
	/* ids unused now stay unused: a pool kept across batches would hand
	 * a later mail a smaller id than another instance's earlier one */
	st->mid_next = st->mid_n = 0;
	/* COMMIT of a transaction in error "succeeds" as a ROLLBACK: never
	 * let that pass for a commit. */
	if (commit && store_connected(st) &&
	    PQtransactionStatus(st->conn) == PQTRANS_INERROR) {
		g_strlcpy(st->err, "batch: transaction in error, rolled back",
		          sizeof(st->err));
		log_err("store: %s", st->err);
		r = -EPROTO;
	} else if (commit)
		r = store_cmd(st, "COMMIT");
	if (!commit || r < 0)
		store_rollback(st);
	return r;
}

bool
store_in_batch(const struct store *st)
{
	return st->batch;
}

int
store_try_lock(struct store *st, const char *name)
{
	const char *vals[] = {name};
	PGresult *res;
	int got;

	if (!store_connected(st))
		return -ENOTCONN;
	res = store_query(
	    st, "SELECT pg_try_advisory_lock(hashtext('tickd:' || $1))", 1,
	    vals);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return store_fail(st, res, "advisory lock");
	got = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return got;
}

void
store_unlock(struct store *st, const char *name)
{
	const char *vals[] = {name};

	if (!store_connected(st))
		return;
	PQclear(store_query(
	    st, "SELECT pg_advisory_unlock(hashtext('tickd:' || $1))", 1,
	    vals));
}

/* ---- migrations ---- */

int
store_migrate(struct store *st, int *applied_r)
{
	int r, applied = 0;

	/* Two tickctl migrate at once: the second waits, then finds all done.
	 */
	r = store_cmd(st, "CREATE TABLE IF NOT EXISTS schema_version ("
	                  "version integer PRIMARY KEY, name text NOT NULL, "
	                  "applied timestamptz NOT NULL DEFAULT now())");
	if (r < 0)
		return r;
	for (const struct store_migration *m = store_migrations; m->sql; m++) {
		char v[24];
		const char *vals[] = {store_i64(v, m->version), m->name};
		PGresult *res;
		bool done;

		if ((r = store_begin(st)) < 0)
			return r;
		if ((r = store_cmd(st, "LOCK TABLE schema_version IN EXCLUSIVE "
		                       "MODE")) < 0)
			goto fail;
		res = store_query(st,
		                  "SELECT 1 FROM schema_version "
		                  "WHERE version = $1",
		                  1, vals);
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			r = store_fail(st, res, "migrate");
			goto fail;
		}
		done = PQntuples(res) > 0;
		PQclear(res);
		if (!done) {
			if ((r = store_cmd(st, m->sql)) < 0)
				goto fail;
			res =
			    store_query(st,
			                "INSERT INTO schema_version (version, "
			                "name) VALUES ($1, $2)",
			                2, vals);
			if (PQresultStatus(res) != PGRES_COMMAND_OK) {
				r = store_fail(st, res, "migrate");
				goto fail;
			}
			PQclear(res);
			applied++;
			log_notice("store: migrate '%s': applied", m->name);
		}
		if ((r = store_commit(st)) < 0)
			goto fail;
	}
	*applied_r = applied;
	return 0;
fail:
	store_rollback(st);
	return r;
}

int
store_schema_check(struct store *st)
{
	int want = 0, missing = 0, first_missing = 0;
	PGresult *res;
	gint64 have;

	for (const struct store_migration *m = store_migrations; m->sql; m++)
		want = m->version;
	res = PQexec(st->conn, "SELECT max(version) FROM schema_version");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		PQclear(res);
		log_err("store: schema check: no schema_version table; run "
		        "'tickctl migrate'");
		return -EPROTO;
	}
	have = PQgetisnull(res, 0, 0)
	           ? 0
	           : g_ascii_strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	if (have > want) {
		log_err("store: schema check: database is at version "
		        "%" G_GINT64_FORMAT
		        ", this tickd knows only up to %d; run the newer tickd",
		        have, want);
		return -EPROTO;
	}
	/* Not only the newest: migrations developed side by side may land
	 * in any order, so every one this build has must be applied. */
	for (const struct store_migration *m = store_migrations; m->sql; m++) {
		char v[24];
		const char *vals[] = {store_i64(v, m->version)};

		res = store_query(st,
		                  "SELECT 1 FROM schema_version "
		                  "WHERE version = $1",
		                  1, vals);
		if (PQresultStatus(res) == PGRES_TUPLES_OK &&
		    PQntuples(res) == 0 && missing++ == 0)
			first_missing = m->version;
		PQclear(res);
	}
	if (missing > 0) {
		log_err("store: schema check: %d migration(s) missing, the "
		        "first is %d; run 'tickctl migrate'",
		        missing, first_missing);
		return -EPROTO;
	}
	return 0;
}
