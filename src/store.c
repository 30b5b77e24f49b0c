/*
 * store.c - PostgreSQL access.  See store.h.
 *
 * Statements are named in one table and prepared lazily on the current
 * connection: after a reconnect every "prepared" flag is cleared, so the
 * next use prepares again (a reset loses prepared statements, SQLSTATE
 * 26000 otherwise).
 */
#include "store.h"

#include "json.h"
#include "log.h"

#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

enum store_stmt {
	S_CURSOR_GET,
	S_CURSOR_SET,
	S_CURSOR_RESET,
	S_CURSOR_MARKED,
	S_CURSOR_OK,
	S_CURSOR_ERR,
	S_DEDUPE,
	S_BY_MSGIDS,
	S_TICKET_GET,
	S_IS_PART,
	S_PART_DOMAIN,
	S_TICKET_NEW,
	S_TOUCH_CUST,
	S_TOUCH_AGENT,
	S_SET_STATUS,
	S_PART_ADD,
	S_MSG_ADD,
	S_ATT_ADD,
	S_EVENT_ADD,
	S_OUT_ADD,
	S_AUTO_RCPT,
	S_AUTO_TICKET,
	S_SUPPRESSED,
	S_SUPPRESS,
	S_OUT_CLAIM,
	S_OUT_SENT,
	S_OUT_RETRY,
	S_OUT_FAILED,
	S_OUT_NEXT,
	S__COUNT
};

/*
 * A live instance holds a shared advisory lock on (STORE_INSTANCE_CLASS,
 * hash of its name) on every connection that may hold outbox leases
 * (store_instance_register).  A lease whose owner holds no such lock any
 * more belongs to a dead instance (kill -9, lost machine: PostgreSQL ends
 * its sessions) and is taken over at once instead of after the expiry.
 */
#define STORE_INSTANCE_CLASS "29801"
#define STORE_INSTANCE_KEY(name) "(hashtext(" name ") & 2147483647)"
#define STORE_INSTANCE_ALIVE                                                   \
	"SELECT 1 FROM pg_locks k WHERE k.locktype = 'advisory' AND "          \
	"k.granted AND k.database = (SELECT oid FROM pg_database WHERE "       \
	"datname = current_database()) AND k.classid = " STORE_INSTANCE_CLASS  \
	" AND k.objsubid = 2 AND k.objid = " STORE_INSTANCE_KEY(               \
		"outbox.leased_by") "::oid"

static const char *const store_sql[S__COUNT] = {
	[S_CURSOR_GET] = "SELECT uidvalidity, last_uid, marked_uid "
			 "FROM mailbox_state WHERE mailbox = $1",
	[S_CURSOR_SET] =
		"INSERT INTO mailbox_state (mailbox, uidvalidity, last_uid) "
		"VALUES ($1, $2, $3) ON CONFLICT (mailbox) DO UPDATE SET "
		"uidvalidity = $2, last_uid = GREATEST(CASE WHEN "
		"mailbox_state.uidvalidity = $2 THEN mailbox_state.last_uid "
		"ELSE 0 END, $3), updated = now()",
	[S_CURSOR_RESET] =
		"INSERT INTO mailbox_state (mailbox, uidvalidity) VALUES ($1, $2) "
		"ON CONFLICT (mailbox) DO UPDATE SET uidvalidity = $2, "
		"last_uid = 0, marked_uid = 0, updated = now()",
	[S_CURSOR_MARKED] = "UPDATE mailbox_state SET marked_uid = "
			    "GREATEST(marked_uid, $2) WHERE mailbox = $1",
	[S_CURSOR_OK] = "UPDATE mailbox_state SET last_fetch = now(), "
			"last_ok = now(), failures = 0 WHERE mailbox = $1",
	[S_CURSOR_ERR] =
		"INSERT INTO mailbox_state (mailbox, uidvalidity, last_fetch, "
		"last_error, last_error_at, failures) VALUES ($1, 0, now(), $2, "
		"now(), 1) ON CONFLICT (mailbox) DO UPDATE SET last_fetch = "
		"now(), last_error = $2, last_error_at = now(), failures = "
		"mailbox_state.failures + 1",
	[S_DEDUPE] = "SELECT COALESCE(ticket_id, 0) FROM message WHERE "
		     "dedupe_key = $1",
	[S_BY_MSGIDS] = "SELECT ticket_id FROM message WHERE message_id = "
			"ANY($1::text[]) ORDER BY id DESC LIMIT 1",
	[S_TICKET_GET] =
		"SELECT id, status, priority, requester, subject, queue, "
		"COALESCE(extract(epoch FROM closed_at)::bigint, 0), "
		"COALESCE(extract(epoch FROM resolved_at)::bigint, 0) "
		"FROM ticket WHERE id = $1",
	[S_IS_PART] = "SELECT 1 FROM participant WHERE ticket_id = $1 AND "
		      "addr = $2",
	[S_PART_DOMAIN] = "SELECT 1 FROM participant WHERE ticket_id = $1 AND "
			  "role <> 'agent' AND split_part(addr, '@', 2) = $2 "
			  "LIMIT 1",
	[S_TICKET_NEW] =
		"INSERT INTO ticket (queue, subject, requester, requester_name, "
		"priority, language, needs_review, review_reason, "
		"linked_ticket, created, updated, last_customer_at) VALUES ($1, "
		"$2, $3, $4, $5, $6, $7, $8, NULLIF($9, 0), to_timestamp($10), "
		"to_timestamp($10), to_timestamp($10)) RETURNING id",
	[S_TOUCH_CUST] = "UPDATE ticket SET updated = to_timestamp($2), "
			 "last_customer_at = to_timestamp($2) WHERE id = $1",
	[S_TOUCH_AGENT] =
		"UPDATE ticket SET updated = to_timestamp($2), last_agent_at = "
		"to_timestamp($2), first_response_at = "
		"COALESCE(first_response_at, to_timestamp($2)) WHERE id = $1",
	[S_SET_STATUS] =
		"UPDATE ticket SET status = $2, updated = to_timestamp($3), "
		"resolved_at = CASE WHEN $2 = 'resolved' THEN to_timestamp($3) "
		"WHEN $2 IN ('new', 'open', 'pending') THEN NULL ELSE "
		"resolved_at END, closed_at = CASE WHEN $2 = 'closed' THEN "
		"to_timestamp($3) WHEN $2 IN ('new', 'open', 'pending') THEN "
		"NULL ELSE closed_at END, reopen_count = reopen_count + CASE "
		"WHEN status IN ('resolved', 'closed') AND $2 IN ('open', "
		"'new', 'pending') THEN 1 ELSE 0 END WHERE id = $1",
	[S_PART_ADD] = "INSERT INTO participant (ticket_id, addr, name, role) "
		       "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
	[S_MSG_ADD] =
		"INSERT INTO message (ticket_id, dedupe_key, message_id, "
		"direction, role, class, class_reason, source, from_addr, "
		"from_name, to_addrs, cc_addrs, subject, body_text, body_new, "
		"body_html, defects, sent_date, received, unparsed, size, raw) "
		"VALUES (NULLIF($1, 0), $2, $3, $4, $5, $6, $7, $8, $9, $10, "
		"$11, $12, $13, "
		"$14, $15, $16, $17::text[], to_timestamp(NULLIF($18, 0)), "
		"to_timestamp($19), $20, $21, $22) "
		"ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
	[S_ATT_ADD] = "INSERT INTO attachment (message_id, filename, "
		      "content_type, content_id, is_inline, size, data) VALUES "
		      "($1, $2, $3, $4, $5, $6, $7)",
	[S_EVENT_ADD] = "INSERT INTO event (ticket_id, actor, action, detail, "
			"message_id) VALUES ($1, $2, $3, $4, NULLIF($5, 0))",
	[S_OUT_ADD] = "INSERT INTO outbox (ticket_id, message_id, kind, "
		      "env_from, rcpt, data) VALUES (NULLIF($1, 0), NULLIF($2, "
		      "0), $3, $4, $5, $6)",
	[S_AUTO_RCPT] = "SELECT count(*) FROM outbox WHERE rcpt = $1 AND "
			"created > now() - make_interval(secs => $2) AND "
			"state <> 'suppressed'",
	[S_AUTO_TICKET] = "SELECT count(*) FROM outbox WHERE ticket_id = $1 "
			  "AND created > now() - make_interval(secs => $2) "
			  "AND state <> 'suppressed'",
	[S_SUPPRESSED] = "SELECT 1 FROM suppression WHERE addr = $1 AND "
			 "until > now()",
	[S_SUPPRESS] =
		"INSERT INTO suppression (addr, reason, until) VALUES ($1, $2, "
		"now() + make_interval(days => $3)) ON CONFLICT (addr) DO "
		"UPDATE SET reason = $2, until = GREATEST(suppression.until, "
		"now() + make_interval(days => $3))",
	[S_OUT_CLAIM] =
		"UPDATE outbox o SET state = 'sending', leased_by = $1, "
		"lease_until = now() + make_interval(secs => $2), attempts = "
		"attempts + 1 FROM (SELECT id FROM outbox WHERE (state = "
		"'queued' AND next_attempt <= now()) OR (state = 'sending' AND "
		"(lease_until < now() OR NOT EXISTS (" STORE_INSTANCE_ALIVE
		"))) ORDER BY id LIMIT $3 FOR "
		"UPDATE SKIP LOCKED) due WHERE o.id = due.id RETURNING o.id, "
		"COALESCE(o.ticket_id, 0), o.kind, o.env_from, o.rcpt, o.data, "
		"o.attempts, extract(epoch FROM o.created)::bigint",
	[S_OUT_SENT] = "UPDATE outbox SET state = 'sent', sent_at = now(), "
		       "last_code = $2, lease_until = NULL WHERE id = $1",
	[S_OUT_RETRY] = "UPDATE outbox SET state = 'queued', last_code = $2, "
			"last_error = $3, next_attempt = now() + "
			"make_interval(secs => $4), lease_until = NULL "
			"WHERE id = $1",
	[S_OUT_FAILED] = "UPDATE outbox SET state = 'failed', last_code = $2, "
			 "last_error = $3, lease_until = NULL WHERE id = $1",
	[S_OUT_NEXT] =
		"SELECT GREATEST(0, ceil(extract(epoch FROM min(CASE WHEN state "
		"= 'queued' THEN next_attempt ELSE lease_until END) - now())))"
		"::bigint FROM outbox WHERE state IN ('queued', 'sending') "
		/* no row (-1) when nothing is pending: GREATEST(0, NULL) is 0,
		 * which made the idle daemon spin */
		"HAVING count(*) > 0",
};

struct store {
	PGconn *conn;
	char *conninfo;
	bool prepared[S__COUNT];
	unsigned generation;
	bool batch; /* store_batch_begin: begin/commit are savepoints */
	char err[256];
};

/* store_i64 - decimal text of v in buf (a libpq text parameter). */
static const char *
store_i64(char buf[24], gint64 v)
{
	g_snprintf(buf, 24, "%" G_GINT64_FORMAT, v);
	return buf;
}

static void
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

/* store_classify - the errno for a failed result, logged once here. */
static int
store_fail(struct store *st, PGresult *res, const char *what)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE)
				: NULL;
	int r;

	store_set_err(st, what);
	if (PQstatus(st->conn) != CONNECTION_OK ||
	    (state && strncmp(state, "08", 2) == 0) ||
	    (state && strncmp(state, "57P", 3) == 0))
		r = -ENOTCONN;
	else if (state && (strcmp(state, "40001") == 0 ||
			   strcmp(state, "40P01") == 0))
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

static int
store_connect(struct store *st)
{
	if (st->conn != NULL)
		PQfinish(st->conn);
	memset(st->prepared, 0, sizeof(st->prepared));
	st->generation++;
	st->batch = false; /* a lost connection took the batch with it */
	/* Our defaults first, so that the admin's conninfo overrides them:
	 * never hang forever on a dead host, notice a dead peer in ~1 min. */
	const char *const keys[] = {"connect_timeout", "keepalives_idle",
				    "keepalives_interval", "keepalives_count",
				    "application_name", "dbname", NULL};
	const char *const vals[] = {"10", "30", "10", "3", "tickd",
				    st->conninfo, NULL};
	st->conn = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(st->conn) != CONNECTION_OK) {
		store_set_err(st, "connect");
		return -ENOTCONN;
	}
	/* Notices ("relation already exists, skipping") are not errors. */
	PQsetNoticeProcessor(st->conn, store_notice_ignore, NULL);
	st->err[0] = '\0';
	return 0;
}

int
store_open(const char *conninfo, struct store **st_r)
{
	struct store *st = g_new0(struct store, 1);
	int r;

	st->conninfo = g_strdup(conninfo);
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
	g_free(st->conninfo);
	g_free(st);
	*stp = NULL;
}

int
store_reconnect(struct store *st)
{
	if (store_connected(st))
		return 0;
	return store_connect(st);
}

/* store_cmd - run plain SQL with no parameters and no result rows. */
static int
store_cmd(struct store *st, const char *sql)
{
	PGresult *res = PQexec(st->conn, sql);

	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK)
		return store_fail(st, res, sql);
	PQclear(res);
	return 0;
}

/*
 * store_run - execute statement s with text parameters (binary where
 * fmts[i] is 1).  Returns the result (caller PQclears) or NULL with *r_r
 * set to the -errno.
 */
static PGresult *
store_run(struct store *st, enum store_stmt s, int n, const char *const *vals,
	  const int *lens, const int *fmts, int *r_r)
{
	char name[8];
	PGresult *res;
	ExecStatusType es;

	if (st->conn == NULL || PQstatus(st->conn) != CONNECTION_OK) {
		store_set_err(st, "query");
		*r_r = -ENOTCONN;
		return NULL;
	}
	g_snprintf(name, sizeof(name), "s%d", (int)s);
	if (!st->prepared[s]) {
		res = PQprepare(st->conn, name, store_sql[s], 0, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			*r_r = store_fail(st, res, "prepare");
			return NULL;
		}
		PQclear(res);
		st->prepared[s] = true;
	}
	res = PQexecPrepared(st->conn, name, n, vals, lens, fmts, 0);
	es = PQresultStatus(res);
	if (es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK) {
		*r_r = store_fail(st, res, "query");
		return NULL;
	}
	*r_r = 0;
	return res;
}

/* store_exec - store_run for statements whose rows do not matter. */
static int
store_exec(struct store *st, enum store_stmt s, int n,
	   const char *const *vals)
{
	int r;
	PGresult *res = store_run(st, s, n, vals, NULL, NULL, &r);

	PQclear(res);
	return r;
}

/* store_int - the first column of the first row as a number, def if none. */
static gint64
store_int(struct store *st, enum store_stmt s, int n, const char *const *vals,
	  gint64 def)
{
	int r;
	PGresult *res = store_run(st, s, n, vals, NULL, NULL, &r);
	gint64 v = def;

	if (res == NULL)
		return r;
	if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
		v = g_ascii_strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return v;
}

int
store_begin(struct store *st)
{
	return store_cmd(st, st->batch ? "SAVEPOINT tickd_one" : "BEGIN");
}

int
store_commit(struct store *st)
{
	return store_cmd(st, st->batch ? "RELEASE SAVEPOINT tickd_one"
				       : "COMMIT");
}

void
store_rollback(struct store *st)
{
	if (!store_connected(st))
		return;
	/* In a batch only this mail's work goes; the mails before it stay. */
	(void)store_cmd(st, st->batch ? "ROLLBACK TO SAVEPOINT tickd_one; "
					"RELEASE SAVEPOINT tickd_one"
				      : "ROLLBACK");
}

int
store_batch_begin(struct store *st)
{
	int r;

	if (st->batch)
		return -EINVAL;
	if ((r = store_cmd(st, "BEGIN")) == 0)
		st->batch = true;
	return r;
}

int
store_batch_end(struct store *st, bool commit)
{
	int r = 0;

	if (!st->batch)
		return 0;
	st->batch = false;
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
	res = PQexecParams(st->conn,
			   "SELECT pg_try_advisory_lock(hashtext('tickd:' || $1))",
			   1, NULL, vals, NULL, NULL, 0);
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
	PQclear(PQexecParams(st->conn,
			     "SELECT pg_advisory_unlock(hashtext('tickd:' || $1))",
			     1, NULL, vals, NULL, NULL, 0));
}

/* ---- migrations ---- */

int
store_migrate(struct store *st, int *applied_r)
{
	int r, applied = 0;

	/* Two tickctl migrate at once: the second waits, then finds all done. */
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
		res = PQexecParams(st->conn, "SELECT 1 FROM schema_version "
					     "WHERE version = $1",
				   1, NULL, vals, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			r = store_fail(st, res, "migrate");
			goto fail;
		}
		done = PQntuples(res) > 0;
		PQclear(res);
		if (!done) {
			if ((r = store_cmd(st, m->sql)) < 0)
				goto fail;
			res = PQexecParams(st->conn,
					   "INSERT INTO schema_version (version, "
					   "name) VALUES ($1, $2)",
					   2, NULL, vals, NULL, NULL, 0);
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
	int want = 0;
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
	if (have != want) {
		log_err("store: schema check: database is at version %" G_GINT64_FORMAT
			", this tickd needs %d; run 'tickctl migrate'%s",
			have, want,
			have > want ? " with the newer tickctl" : "");
		return -EPROTO;
	}
	return 0;
}

/* ---- cursor ---- */

int
store_cursor_get(struct store *st, const char *mailbox,
		 struct store_cursor *c_r)
{
	const char *vals[] = {mailbox};
	int r;
	PGresult *res = store_run(st, S_CURSOR_GET, 1, vals, NULL, NULL, &r);

	if (res == NULL)
		return r;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return -ENOENT;
	}
	c_r->uidvalidity = g_ascii_strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	c_r->last_uid = g_ascii_strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	c_r->marked_uid = g_ascii_strtoll(PQgetvalue(res, 0, 2), NULL, 10);
	PQclear(res);
	return 0;
}

int
store_cursor_set(struct store *st, const char *mailbox, gint64 uidvalidity,
		 gint64 last_uid)
{
	char a[24], b[24];
	const char *vals[] = {mailbox, store_i64(a, uidvalidity),
			      store_i64(b, last_uid)};

	return store_exec(st, S_CURSOR_SET, 3, vals);
}

int
store_cursor_reset(struct store *st, const char *mailbox, gint64 uidvalidity)
{
	char a[24];
	const char *vals[] = {mailbox, store_i64(a, uidvalidity)};

	return store_exec(st, S_CURSOR_RESET, 2, vals);
}

int
store_cursor_marked(struct store *st, const char *mailbox, gint64 marked_uid)
{
	char a[24];
	const char *vals[] = {mailbox, store_i64(a, marked_uid)};

	return store_exec(st, S_CURSOR_MARKED, 2, vals);
}

int
store_cursor_result(struct store *st, const char *mailbox, const char *err)
{
	const char *vals[] = {mailbox, err};

	return store_exec(st, err ? S_CURSOR_ERR : S_CURSOR_OK, err ? 2 : 1,
			  vals);
}

/* ---- ingestion ---- */

void
store_ticket_clear(struct store_ticket *t)
{
	g_free(t->requester);
	g_free(t->subject);
	g_free(t->queue);
	memset(t, 0, sizeof(*t));
}

int
store_dedupe(struct store *st, const char *dedupe_key, gint64 *ticket_r)
{
	const char *vals[] = {dedupe_key};
	gint64 t = store_int(st, S_DEDUPE, 1, vals, -1);

	if (t == -1)
		return 0;
	if (t < 0)
		return (int)t;
	*ticket_r = t;
	return 1;
}

/* store_text_array - a PostgreSQL text[] literal of ids. */
static char *
store_text_array(GPtrArray *ids)
{
	GString *s = g_string_new("{");

	for (guint i = 0; i < ids->len; i++) {
		if (i)
			g_string_append_c(s, ',');
		g_string_append_c(s, '"');
		for (const char *p = ids->pdata[i]; *p; p++) {
			if (*p == '"' || *p == '\\')
				g_string_append_c(s, '\\');
			g_string_append_c(s, *p);
		}
		g_string_append_c(s, '"');
	}
	g_string_append_c(s, '}');
	return g_string_free(s, FALSE);
}

gint64
store_ticket_by_msgids(struct store *st, GPtrArray *ids)
{
	g_autofree char *arr = NULL;
	const char *vals[1];

	if (ids == NULL || ids->len == 0)
		return 0;
	arr = store_text_array(ids);
	vals[0] = arr;
	return store_int(st, S_BY_MSGIDS, 1, vals, 0);
}

int
store_ticket_get(struct store *st, gint64 id, struct store_ticket *t_r)
{
	char a[24];
	const char *vals[] = {store_i64(a, id)};
	int r;
	PGresult *res = store_run(st, S_TICKET_GET, 1, vals, NULL, NULL, &r);

	if (res == NULL)
		return r;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return -ENOENT;
	}
	memset(t_r, 0, sizeof(*t_r));
	t_r->id = id;
	g_strlcpy(t_r->status, PQgetvalue(res, 0, 1), sizeof(t_r->status));
	g_strlcpy(t_r->priority, PQgetvalue(res, 0, 2), sizeof(t_r->priority));
	t_r->requester = g_strdup(PQgetvalue(res, 0, 3));
	t_r->subject = g_strdup(PQgetvalue(res, 0, 4));
	t_r->queue = g_strdup(PQgetvalue(res, 0, 5));
	t_r->closed_at = g_ascii_strtoll(PQgetvalue(res, 0, 6), NULL, 10);
	t_r->resolved_at = g_ascii_strtoll(PQgetvalue(res, 0, 7), NULL, 10);
	PQclear(res);
	return 0;
}

int
store_is_participant(struct store *st, gint64 ticket, const char *addr)
{
	char a[24];
	const char *vals[] = {store_i64(a, ticket), addr};

	return (int)store_int(st, S_IS_PART, 2, vals, 0);
}

int
store_participant_domain(struct store *st, gint64 ticket, const char *domain)
{
	char a[24];
	const char *vals[] = {store_i64(a, ticket), domain};

	return (int)store_int(st, S_PART_DOMAIN, 2, vals, 0);
}

int
store_ticket_create(struct store *st, const struct store_new_ticket *n,
		    gint64 *id_r)
{
	char a[24], b[24];
	const char *vals[] = {n->queue,
			      n->subject,
			      n->requester,
			      n->requester_name,
			      n->priority ? n->priority : "normal",
			      n->language,
			      n->needs_review ? "t" : "f",
			      n->review_reason,
			      store_i64(a, n->linked_ticket),
			      store_i64(b, n->at)};
	gint64 id = store_int(st, S_TICKET_NEW, 10, vals, -EPROTO);

	if (id < 0)
		return (int)id;
	*id_r = id;
	return 0;
}

int
store_ticket_touch(struct store *st, gint64 id, bool customer, gint64 at)
{
	char a[24], b[24];
	const char *vals[] = {store_i64(a, id), store_i64(b, at)};

	return store_exec(st, customer ? S_TOUCH_CUST : S_TOUCH_AGENT, 2, vals);
}

int
store_ticket_set_status(struct store *st, gint64 id, const char *status,
			gint64 at)
{
	char a[24], b[24];
	const char *vals[] = {store_i64(a, id), status, store_i64(b, at)};

	return store_exec(st, S_SET_STATUS, 3, vals);
}

int
store_ticket_set_field(struct store *st, gint64 id, const char *field,
		       const char *value)
{
	char a[24];
	const char *vals[] = {store_i64(a, id), value};
	const char *sql;
	PGresult *res;

	/* Only these columns can be set by name; never SQL from input. */
	if (strcmp(field, "priority") == 0)
		sql = "UPDATE ticket SET priority = $2, updated = now() "
		      "WHERE id = $1";
	else if (strcmp(field, "assignee") == 0)
		sql = "UPDATE ticket SET assignee = $2, updated = now() "
		      "WHERE id = $1";
	else if (strcmp(field, "language") == 0)
		sql = "UPDATE ticket SET language = $2 WHERE id = $1";
	else
		return -EINVAL;
	res = PQexecParams(st->conn, sql, 2, NULL, vals, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		return store_fail(st, res, "set field");
	PQclear(res);
	return 0;
}

int
store_participant_add(struct store *st, gint64 ticket, const char *addr,
		      const char *name, const char *role)
{
	char a[24];
	const char *vals[] = {store_i64(a, ticket), addr, name, role};

	return store_exec(st, S_PART_ADD, 4, vals);
}

int
store_message_add(struct store *st, const struct store_message *m,
		  gint64 *id_r)
{
	char a[24], b[24], c[24], d[24];
	g_autofree char *defects = NULL;
	const char *vals[22];
	int lens[22] = {0}, fmts[22] = {0};
	int r;
	PGresult *res;

	if (m->defects && m->defects->len > 0)
		defects = store_text_array(m->defects);
	vals[0] = store_i64(a, m->ticket_id);
	vals[1] = m->dedupe_key;
	vals[2] = m->message_id;
	vals[3] = m->direction;
	vals[4] = m->role;
	vals[5] = m->cls ? m->cls : "human";
	vals[6] = m->class_reason;
	vals[7] = m->source;
	vals[8] = m->from_addr;
	vals[9] = m->from_name;
	vals[10] = m->to_addrs;
	vals[11] = m->cc_addrs;
	vals[12] = m->subject ? m->subject : "";
	vals[13] = m->body_text ? m->body_text : "";
	vals[14] = m->body_new ? m->body_new : "";
	vals[15] = m->body_html;
	vals[16] = defects;
	vals[17] = store_i64(b, m->sent_date);
	vals[18] = store_i64(c, m->received);
	vals[19] = m->unparsed ? "t" : "f";
	vals[20] = store_i64(d, (gint64)m->raw_len);
	/* The raw mail goes in binary: no escaping cost, every byte kept. */
	vals[21] = m->raw;
	lens[21] = (int)m->raw_len;
	fmts[21] = 1;
	res = store_run(st, S_MSG_ADD, 22, vals, lens, fmts, &r);
	if (res == NULL)
		return r;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return -EEXIST;
	}
	*id_r = g_ascii_strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

int
store_attachment_add(struct store *st, gint64 message, const char *name,
		     const char *type, const char *cid, bool is_inline,
		     const void *data, size_t len, bool keep_data)
{
	char a[24], b[24];
	const char *vals[] = {store_i64(a, message), name, type, cid,
			      is_inline ? "t" : "f", store_i64(b, (gint64)len),
			      keep_data ? data : NULL};
	int lens[7] = {0, 0, 0, 0, 0, 0, (int)len};
	int fmts[7] = {0, 0, 0, 0, 0, 0, 1};
	int r;

	PQclear(store_run(st, S_ATT_ADD, 7, vals, lens, fmts, &r));
	return r;
}

int
store_event_add(struct store *st, gint64 ticket, const char *actor,
		const char *action, const char *detail, gint64 message)
{
	char a[24], b[24];
	const char *vals[] = {store_i64(a, ticket), actor, action, detail,
			      store_i64(b, message)};

	return store_exec(st, S_EVENT_ADD, 5, vals);
}

/* ---- outbox ---- */

int
store_outbox_add(struct store *st, gint64 ticket, gint64 message,
		 const char *kind, const char *env_from, const char *rcpt,
		 const void *data, size_t len)
{
	char a[24], b[24];
	const char *vals[] = {store_i64(a, ticket), store_i64(b, message),
			      kind, env_from, rcpt, data};
	int lens[6] = {0, 0, 0, 0, 0, (int)len};
	int fmts[6] = {0, 0, 0, 0, 0, 1};
	int r;

	PQclear(store_run(st, S_OUT_ADD, 6, vals, lens, fmts, &r));
	return r;
}

gint64
store_auto_count(struct store *st, const char *rcpt, gint64 ticket,
		 int seconds)
{
	char a[24], b[24];
	const char *vals[2];

	vals[0] = rcpt ? rcpt : store_i64(a, ticket);
	vals[1] = store_i64(b, seconds);
	return store_int(st, rcpt ? S_AUTO_RCPT : S_AUTO_TICKET, 2, vals, 0);
}

int
store_suppressed(struct store *st, const char *addr)
{
	const char *vals[] = {addr};

	return (int)store_int(st, S_SUPPRESSED, 1, vals, 0);
}

int
store_suppress(struct store *st, const char *addr, const char *reason,
	       int days)
{
	char a[24];
	const char *vals[] = {addr, reason, store_i64(a, days)};

	return store_exec(st, S_SUPPRESS, 3, vals);
}

void
store_outmail_free(gpointer p)
{
	struct store_outmail *o = p;

	g_free(o->kind);
	g_free(o->env_from);
	g_free(o->rcpt);
	if (o->data)
		g_bytes_unref(o->data);
	g_free(o);
}

static gint
store_outmail_cmp(gconstpointer a, gconstpointer b)
{
	const struct store_outmail *x = *(struct store_outmail *const *)a;
	const struct store_outmail *y = *(struct store_outmail *const *)b;

	return x->id < y->id ? -1 : x->id > y->id;
}

int
store_outbox_claim(struct store *st, const char *owner, int lease_secs,
		   int limit, GPtrArray *out)
{
	char a[24], b[24];
	const char *vals[] = {owner, store_i64(a, lease_secs),
			      store_i64(b, limit)};
	int r;
	PGresult *res = store_run(st, S_OUT_CLAIM, 3, vals, NULL, NULL, &r);

	if (res == NULL)
		return r;
	for (int i = 0; i < PQntuples(res); i++) {
		struct store_outmail *o = g_new0(struct store_outmail, 1);
		size_t len = 0;
		unsigned char *bin = PQunescapeBytea(
			(const unsigned char *)PQgetvalue(res, i, 5), &len);

		o->id = g_ascii_strtoll(PQgetvalue(res, i, 0), NULL, 10);
		o->ticket_id = g_ascii_strtoll(PQgetvalue(res, i, 1), NULL, 10);
		o->kind = g_strdup(PQgetvalue(res, i, 2));
		o->env_from = g_strdup(PQgetvalue(res, i, 3));
		o->rcpt = g_strdup(PQgetvalue(res, i, 4));
		o->data = g_bytes_new(bin, len);
		PQfreemem(bin);
		o->attempts = (int)g_ascii_strtoll(PQgetvalue(res, i, 6), NULL,
						   10);
		o->created = g_ascii_strtoll(PQgetvalue(res, i, 7), NULL, 10);
		g_ptr_array_add(out, o);
	}
	PQclear(res);
	/* RETURNING rows come in no particular order; send oldest first. */
	g_ptr_array_sort(out, store_outmail_cmp);
	return 0;
}

int
store_conn_state(struct store *st, const char *instance, const char *name,
		 const char *state, const char *err)
{
	const char *vals[] = {instance, name, state, err};
	PGresult *res;

	if (!store_connected(st))
		return -ENOTCONN;
	res = PQexecParams(
		st->conn,
		"INSERT INTO connection_state (instance, name, state, "
		"last_error, last_error_at) VALUES ($1, $2, $3, $4, CASE WHEN "
		"$4::text IS NULL THEN NULL ELSE now() END) ON CONFLICT "
		"(instance, name) DO UPDATE SET state = $3, since = now(), "
		"last_error = COALESCE($4, connection_state.last_error), "
		"last_error_at = CASE WHEN $4::text IS NULL THEN "
		"connection_state.last_error_at ELSE now() END",
		4, NULL, vals, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		return store_fail(st, res, "connection state");
	PQclear(res);
	return 0;
}

int
store_instance_register(struct store *st, const char *name)
{
	const char *vals[] = {name};
	PGresult *res;

	if (!store_connected(st))
		return -ENOTCONN;
	res = PQexecParams(st->conn,
			   "SELECT pg_advisory_lock_shared(" STORE_INSTANCE_CLASS
			   ", " STORE_INSTANCE_KEY("$1::text") ")",
			   1, NULL, vals, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return store_fail(st, res, "instance lock");
	PQclear(res);
	return 0;
}

int
store_outbox_release(struct store *st, const char *owner)
{
	const char *vals[] = {owner};
	PGresult *res = PQexecParams(st->conn,
				     "UPDATE outbox SET state = 'queued', "
				     "lease_until = NULL WHERE state = "
				     "'sending' AND (leased_by = $1 OR "
				     "left(leased_by, length($1) + 1) = $1 "
				     "|| '#')",
				     1, NULL, vals, NULL, NULL, 0);
	int n;

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		return store_fail(st, res, "release leases");
	n = (int)g_ascii_strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return n;
}

int
store_outbox_sent(struct store *st, gint64 id, int code)
{
	char a[24], b[24];
	const char *vals[] = {store_i64(a, id), store_i64(b, code)};

	return store_exec(st, S_OUT_SENT, 2, vals);
}

int
store_outbox_retry(struct store *st, gint64 id, int code, const char *err,
		   int delay_secs)
{
	char a[24], b[24], c[24];
	const char *vals[] = {store_i64(a, id), store_i64(b, code), err,
			      store_i64(c, delay_secs)};

	return store_exec(st, S_OUT_RETRY, 4, vals);
}

int
store_outbox_failed(struct store *st, gint64 id, int code, const char *err)
{
	char a[24], b[24];
	const char *vals[] = {store_i64(a, id), store_i64(b, code), err};

	return store_exec(st, S_OUT_FAILED, 3, vals);
}

gint64
store_outbox_next_due(struct store *st)
{
	return store_int(st, S_OUT_NEXT, 0, NULL, -1);
}

/* ---- tickctl views: PostgreSQL builds the JSON ---- */

/* store_json - run a one-row, one-column json query into out. */
static int
store_json(struct store *st, const char *sql, int n, const char *const *vals,
	   GString *out, bool pretty)
{
	g_autofree char *q = pretty ? g_strdup_printf("SELECT jsonb_pretty((%s)"
						      "::jsonb)",
						      sql)
				    : g_strdup_printf("SELECT (%s)::text", sql);
	PGresult *res = PQexecParams(st->conn, q, n, NULL, vals, NULL, NULL, 0);

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

#define STORE_TICKET_COLS                                                   \
	"'number', t.id, 'queue', t.queue, 'status', t.status, 'priority', " \
	"t.priority, 'subject', t.subject, 'requester', t.requester, "       \
	"'requester_name', t.requester_name, 'assignee', t.assignee, "       \
	"'needs_review', t.needs_review, 'review_reason', t.review_reason, " \
	"'linked_ticket', t.linked_ticket, 'created', t.created, "           \
	"'updated', t.updated, 'first_response_at', t.first_response_at, "  \
	"'resolved_at', t.resolved_at, 'closed_at', t.closed_at, "           \
	"'reopen_count', t.reopen_count, 'message_count', (SELECT count(*) " \
	"FROM message m WHERE m.ticket_id = t.id)"

int
store_tickets_json(struct store *st, const char *status, GString *out,
		   bool pretty)
{
	const char *vals[] = {status};

	return store_json(st,
			  "SELECT COALESCE(json_agg(json_build_object("
			  STORE_TICKET_COLS ") ORDER BY t.id), '[]') FROM "
			  "ticket t WHERE $1::text IS NULL OR t.status = $1",
			  1, vals, out, pretty);
}

int
store_ticket_json(struct store *st, gint64 id, GString *out, bool pretty)
{
	char a[24];
	const char *vals[] = {store_i64(a, id)};

	return store_json(
		st,
		"SELECT json_build_object(" STORE_TICKET_COLS
		", 'participants', (SELECT COALESCE(json_agg(json_build_object("
		"'addr', p.addr, 'name', p.name, 'role', p.role) ORDER BY "
		"p.addr), '[]') FROM participant p WHERE p.ticket_id = t.id), "
		"'messages', (SELECT COALESCE(json_agg(json_build_object('id', "
		"m.id, 'message_id', m.message_id, 'direction', m.direction, "
		"'role', m.role, 'class', m.class, 'class_reason', "
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
		"WHERE o.ticket_id = t.id)) FROM ticket t WHERE t.id = $1",
		1, vals, out, pretty);
}

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
		"'last_error_at', s.last_error_at, 'failures', s.failures) "
		"ORDER BY s.mailbox), '[]') FROM mailbox_state s), 'outbox', "
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
		"WHERE until > now()), 'connections', (SELECT COALESCE(json_agg("
		"c ORDER BY c.instance, c.name), '[]') FROM connection_state c))",
		0, NULL, out, pretty);
}
