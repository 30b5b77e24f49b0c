/*
 * store_outbox.c - the mail tickd sends: queueing, leases, results, the
 * send limits' counts, the circuit breaker, suppressed addresses.  See
 * store_outbox.h; the statement machinery is store.c's (store_int.h).
 */
#include "store_outbox.h"

#include "store_int.h"

#include <string.h>

/*
 * A live instance holds a shared advisory lock on (STORE_INSTANCE_CLASS,
 * hash of its name) on every connection that may hold outbox leases
 * (store_instance_register).  A lease whose owner holds no such lock any
 * more belongs to a dead instance (kill -9, lost machine: PostgreSQL ends
 * its sessions) and is taken over at once instead of after the expiry.
 */
#define STORE_INSTANCE_CLASS     "29801"
#define STORE_INSTANCE_KEY(name) "(hashtext(" name ") & 2147483647)"
#define STORE_INSTANCE_ALIVE                                                   \
	"SELECT 1 FROM pg_locks k WHERE k.locktype = 'advisory' AND "          \
	"k.granted AND k.database = (SELECT oid FROM pg_database WHERE "       \
	"datname = current_database()) AND k.classid = " STORE_INSTANCE_CLASS  \
	" AND k.objsubid = 2 AND k.objid = " STORE_INSTANCE_KEY(               \
	    "outbox.leased_by") "::oid"

/*
 * A count of the repeats (the breaker's, 010) in the last minute, re-read at
 * most once a second.  Counting it afresh for every mail costs O(rate x 60)
 * rows a mail, 18,000 at 300 mails/s.  This connection's own additions since
 * the read are added at once, so one instance sees its own burst exactly and
 * other instances' within a second: the breaker stops storms, for which
 * that is noise.
 */
#define STORE_MINUTE_TTL_US G_USEC_PER_SEC

/* ---- queueing and leases ---- */

int
store_outbox_add(struct store *st, gint64 ticket, gint64 message,
                 const char *kind, const char *env_from, const char *rcpt,
                 const void *data, size_t len)
{
	return store_outbox_add_auto(st, ticket, message, kind, env_from, rcpt,
	                             data, len, NULL, false, NULL, 0);
}

int
store_outbox_add_auto(struct store *st, gint64 ticket, gint64 message,
                      const char *kind, const char *env_from, const char *rcpt,
                      const void *data, size_t len, const char *sender,
                      bool is_repeat, const char *lease_owner, int lease_secs)
{
	static const struct store_stmt stmt = {
	    "outbox add",
	    "INSERT INTO outbox (ticket_id, message_id, kind, env_from, rcpt, "
	    "data, sender, is_repeat) VALUES (NULLIF($1, 0), NULLIF($2, 0), "
	    "$3, $4, $5, $6, NULLIF($7, ''), $8::boolean)"};
	/* born leased, as store_outbox_claim would leave it: one version of
	 * the row (and of its entries in eight indexes) fewer */
	static const struct store_stmt leased = {
	    "outbox add leased",
	    "INSERT INTO outbox (ticket_id, message_id, kind, env_from, rcpt, "
	    "data, sender, is_repeat, state, leased_by, lease_until, "
	    "attempts) VALUES (NULLIF($1, 0), NULLIF($2, 0), $3, $4, $5, $6, "
	    "NULLIF($7, ''), $8::boolean, 'sending', $9, now() + "
	    "make_interval(secs => $10::int), 1)"};
	char a[24], b[24], c[24];
	const char *vals[] = {store_i64(a, ticket),
	                      store_i64(b, message),
	                      kind,
	                      env_from,
	                      rcpt,
	                      data,
	                      sender ? sender : "",
	                      is_repeat ? "true" : "false",
	                      lease_owner,
	                      store_i64(c, lease_secs)};
	int lens[10] = {0, 0, 0, 0, 0, (int)len, 0, 0, 0, 0};
	int fmts[10] = {0, 0, 0, 0, 0, 1, 0, 0, 0, 0};
	int r = lease_owner != NULL
	            ? store_send(st, &leased, 10, vals, lens, fmts)
	            : store_send(st, &stmt, 8, vals, lens, fmts);

	/* only repeats count for the breaker (store_auto_count_global) */
	if (r == 0 && is_repeat)
		st->queued.n++;
	return r;
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

/* store_outmail_row - row i of a claim. */
static struct store_outmail *
store_outmail_row(PGresult *res, int i)
{
	struct store_outmail *o = g_new0(struct store_outmail, 1);
	size_t len = 0;
	unsigned char *bin =
	    PQunescapeBytea((const unsigned char *)PQgetvalue(res, i, 5), &len);

	o->id = store_col(res, i, 0);
	o->ticket_id = store_col(res, i, 1);
	o->kind = g_strdup(PQgetvalue(res, i, 2));
	o->env_from = g_strdup(PQgetvalue(res, i, 3));
	o->rcpt = g_strdup(PQgetvalue(res, i, 4));
	o->data = g_bytes_new(bin, len);
	PQfreemem(bin);
	o->attempts = (int)store_col(res, i, 6);
	o->created = store_col(res, i, 7);
	o->is_repeat = store_bool_col(res, i, 8);
	return o;
}

int
store_outbox_claim(struct store *st, const char *owner, int lease_secs,
                   int limit, GPtrArray *out)
{
	/* Oldest first, in the order of outbox_pending_idx, so that the scan
	 * stops after $3 rows and marks the dead entries it passes (queued
	 * and sending versions of sent mail, until autovacuum comes) for the
	 * next scan to skip; a bitmap scan would read them all, every time.
	 * next_attempt <= now() holds for every claimable row (a lease is
	 * taken only when due). */
	static const struct store_stmt stmt = {
	    "outbox claim",
	    "UPDATE outbox o SET state = 'sending', leased_by = $1, "
	    "lease_until = now() + make_interval(secs => $2), attempts = "
	    "attempts + 1 FROM (SELECT id FROM outbox WHERE state IN "
	    "('queued', 'sending') AND next_attempt <= now() AND (state = "
	    "'queued' OR lease_until < now() OR NOT EXISTS "
	    "(" STORE_INSTANCE_ALIVE
	    ")) ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED) due WHERE o.id = "
	    "due.id RETURNING o.id, COALESCE(o.ticket_id, 0), o.kind, "
	    "o.env_from, o.rcpt, o.data, o.attempts, extract(epoch FROM "
	    "o.created)::bigint, o.is_repeat"};
	char a[24], b[24];
	const char *vals[] = {owner, store_i64(a, lease_secs),
	                      store_i64(b, limit)};
	int r;
	PGresult *res = store_run(st, &stmt, 3, vals, NULL, NULL, &r);

	if (res == NULL)
		return r;
	for (int i = 0; i < PQntuples(res); i++)
		g_ptr_array_add(out, store_outmail_row(res, i));
	PQclear(res);
	/* RETURNING rows come in no particular order; send oldest first. */
	g_ptr_array_sort(out, store_outmail_cmp);
	return 0;
}

int
store_outbox_mine(struct store *st, const char *owner, int margin_secs,
                  const gint64 *mids, int n, GPtrArray *out, GArray *found)
{
	/* a lease about to run out is left to end (another instance may
	 * take the mail the moment it does); store_outbox_claim takes it
	 * then */
	static const struct store_stmt stmt = {
	    "outbox mine",
	    "SELECT id, COALESCE(ticket_id, 0), kind, env_from, rcpt, data, "
	    "attempts, extract(epoch FROM created)::bigint, is_repeat, "
	    "message_id FROM outbox WHERE message_id = ANY($2::bigint[]) "
	    "AND state = 'sending' AND leased_by = $1 AND lease_until > "
	    "now() + make_interval(secs => $3::int)"};
	g_autofree char *arr = store_i64_array(mids, (size_t)n);
	char a[24];
	const char *vals[] = {owner, arr, store_i64(a, margin_secs)};
	int r;
	PGresult *res = store_run(st, &stmt, 3, vals, NULL, NULL, &r);

	if (res == NULL)
		return r;
	for (int i = 0; i < PQntuples(res); i++) {
		gint64 mid = store_col(res, i, 9);

		g_ptr_array_add(out, store_outmail_row(res, i));
		g_array_append_val(found, mid);
	}
	PQclear(res);
	g_ptr_array_sort(out, store_outmail_cmp);
	return 0;
}

int
store_instance_register(struct store *st, const char *name)
{
	const char *vals[] = {name};

	if (!store_connected(st))
		return -ENOTCONN;
	return store_query_exec(
	    st, "instance lock",
	    "SELECT pg_advisory_lock_shared(" STORE_INSTANCE_CLASS
	    ", " STORE_INSTANCE_KEY("$1::text") ")",
	    1, vals);
}

int
store_outbox_release(struct store *st, const char *owner)
{
	const char *vals[] = {owner};
	PGresult *res = store_query(st,
	                            "UPDATE outbox SET state = 'queued', "
	                            "lease_until = NULL WHERE state = "
	                            "'sending' AND (leased_by = $1 OR "
	                            "left(leased_by, length($1) + 1) = $1 "
	                            "|| '#')",
	                            1, vals);
	int n;

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		return store_fail(st, res, "release leases");
	n = (int)g_ascii_strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return n;
}

/* ---- results ---- */

int
store_outbox_sent(struct store *st, gint64 id, int code)
{
	static const struct store_stmt stmt = {
	    "outbox sent",
	    "UPDATE outbox SET state = 'sent', sent_at = now(), last_code = "
	    "$2, "
	    "lease_until = NULL WHERE id = $1 RETURNING is_repeat::int"};
	char a[24], b[24];
	const char *vals[] = {store_i64(a, id), store_i64(b, code)};
	gint64 repeat = 0;
	int r = store_int(st, &stmt, 2, vals, &repeat);

	/* a repeat counts for the breaker at once (store_sent_count_global
	 * is re-read only once a second: a burst of repeats must not slip
	 * through) */
	if (r > 0 && repeat == 1)
		st->sent.n++;
	return MIN(r, 0);
}

int
store_outbox_retry(struct store *st, gint64 id, int code, const char *err,
                   int delay_secs)
{
	static const struct store_stmt stmt = {
	    "outbox retry",
	    "UPDATE outbox SET state = 'queued', last_code = $2, "
	    "last_error = $3, next_attempt = now() + "
	    "make_interval(secs => $4), lease_until = NULL "
	    "WHERE id = $1"};
	char a[24], b[24], c[24];
	const char *vals[] = {store_i64(a, id), store_i64(b, code), err,
	                      store_i64(c, delay_secs)};

	return store_exec(st, &stmt, 4, vals);
}

int
store_outbox_failed(struct store *st, gint64 id, int code, const char *err)
{
	static const struct store_stmt stmt = {
	    "outbox failed",
	    "UPDATE outbox SET state = 'failed', last_code = $2, "
	    "last_error = $3, lease_until = NULL WHERE id = $1"};
	char a[24], b[24];
	const char *vals[] = {store_i64(a, id), store_i64(b, code), err};

	return store_exec(st, &stmt, 3, vals);
}

int
store_outbox_next_due(struct store *st, gint64 *due_r)
{
	/* two index scans that stop at their first live row (see
	 * store_outbox_claim); no row when nothing is pending: GREATEST(0,
	 * NULL) is 0, which made the idle daemon spin */
	static const struct store_stmt stmt = {
	    "outbox next due",
	    "SELECT GREATEST(0, ceil(extract(epoch FROM t - now())))::bigint "
	    "FROM (SELECT LEAST((SELECT min(next_attempt) FROM outbox WHERE "
	    "state IN ('queued', 'sending') AND state = 'queued'), (SELECT "
	    "min(lease_until) FROM outbox WHERE state = 'sending')) t) x WHERE "
	    "t IS NOT NULL"};

	return store_int(st, &stmt, 0, NULL, due_r);
}

gint64
store_outbox_backlog(struct store *st)
{
	PGresult *res;
	gint64 n;

	if (!store_connected(st))
		return -ENOTCONN;
	res = PQexec(st->conn, "SELECT count(*) FROM outbox WHERE state IN "
	                       "('queued', 'sending')");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return store_fail(st, res, "outbox backlog");
	n = store_col(res, 0, 0);
	PQclear(res);
	return n;
}

int
store_outbox_requeue(struct store *st, gint64 id, gint64 *ticket_r)
{
	char a[24];
	const char *vals[] = {store_i64(a, id)};
	PGresult *res;
	const char *state;
	int r = 0;

	if (!store_connected(st))
		return -ENOTCONN;
	/* A row another instance is sending right now is left alone: its
	 * lease decides.  Only the state we saw is changed (no race). */
	res = store_query(st,
	                  "WITH o AS (SELECT id, state, COALESCE(ticket_id, 0) "
	                  "t FROM outbox WHERE id = $1), u AS (UPDATE outbox "
	                  "SET state = 'queued', next_attempt = now(), "
	                  "lease_until = NULL FROM o WHERE outbox.id = o.id "
	                  "AND o.state IN ('failed', 'queued') RETURNING "
	                  "outbox.id) SELECT o.state, o.t, (SELECT count(*) "
	                  "FROM u) FROM o",
	                  1, vals);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return store_fail(st, res, "outbox requeue");
	if (PQntuples(res) == 0) {
		PQclear(res);
		return -ENOENT;
	}
	state = PQgetvalue(res, 0, 0);
	if (strcmp(state, "sent") == 0 || strcmp(state, "sending") == 0)
		r = -EALREADY;
	else if (strcmp(state, "suppressed") == 0)
		r = -EPERM;
	*ticket_r = store_col(res, 0, 1);
	PQclear(res);
	return r;
}

/* ---- suppressed addresses ---- */

int
store_suppressed(struct store *st, const char *addr)
{
	static const struct store_stmt stmt = {
	    "suppressed", "SELECT 1 FROM suppression WHERE addr = $1 AND "
	                  "until > now()"};
	const char *vals[] = {addr};

	return store_has_row(st, &stmt, 1, vals);
}

int
store_suppress(struct store *st, const char *addr, const char *reason, int days)
{
	static const struct store_stmt stmt = {
	    "suppress",
	    "INSERT INTO suppression (addr, reason, until) VALUES ($1, $2, "
	    "now() + make_interval(days => $3)) ON CONFLICT (addr) DO "
	    "UPDATE SET reason = $2, until = GREATEST(suppression.until, "
	    "now() + make_interval(days => $3))"};
	char a[24];
	const char *vals[] = {addr, reason, store_i64(a, days)};

	return store_exec(st, &stmt, 3, vals);
}

int
store_out_rcpt_by_msgid(struct store *st, const char *message_id, char **rcpt_r)
{
	/* the message first, then its outbox rows by outbox_message_idx
	 * (029): as a join, the generic plan merge-joined the whole index */
	static const struct store_stmt stmt = {
	    "outbox rcpt by message-id",
	    "SELECT o.rcpt FROM outbox o WHERE o.message_id = (SELECT m.id "
	    "FROM message m WHERE m.message_id = $1 AND m.direction = 'out' "
	    "ORDER BY m.id LIMIT 1) ORDER BY o.id LIMIT 1"};
	const char *vals[] = {message_id};
	int r;
	PGresult *res = store_run(st, &stmt, 1, vals, NULL, NULL, &r);

	if (res == NULL)
		return r;
	r = PQntuples(res) > 0;
	if (r)
		*rcpt_r = g_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return r;
}

/* ---- send limits ---- */

/* store_minute_count - m's count (up to cap), re-read by statement s when
 * stale. */
static gint64
store_minute_count(struct store *st, struct store_minute *m,
                   const struct store_stmt *s, int seconds, gint64 cap)
{
	gint64 now = g_get_monotonic_time();
	char a[24], b[24];
	const char *vals[] = {store_i64(a, seconds), store_i64(b, MAX(cap, 1))};
	gint64 n = 0;
	int r;

	if (m->read_at != 0 && m->seconds == seconds && m->cap == cap &&
	    now - m->read_at < STORE_MINUTE_TTL_US)
		return m->n;
	if ((r = store_int(st, s, 2, vals, &n)) < 0)
		return r;
	m->n = n;
	m->read_at = now;
	m->seconds = seconds;
	m->cap = cap;
	return n;
}

gint64
store_auto_count_global(struct store *st, int seconds, gint64 cap)
{
	/* The breaker counts only repeats, the shape of a loop (010).  Up
	 * to cap, newest first: at 500 acknowledgements a second the last
	 * minute holds tens of thousands, and a count of them all took
	 * 1.2 ms per thousand, once a second on every connection. */
	static const struct store_stmt stmt = {
	    "auto count global",
	    "SELECT count(*) FROM (SELECT FROM outbox WHERE is_repeat AND "
	    "created > now() - make_interval(secs => $1) AND state <> "
	    "'suppressed' ORDER BY created DESC LIMIT $2) c"};

	return store_minute_count(st, &st->queued, &stmt, seconds, cap);
}

gint64
store_sent_count_global(struct store *st, int seconds, gint64 cap)
{
	/* mail to our own people counts here, but not against a customer's
	 * or a ticket's allowance above (limit.c) */
	static const struct store_stmt stmt = {
	    "sent count global",
	    "SELECT count(*) FROM (SELECT FROM outbox WHERE is_repeat AND "
	    "state = 'sent' AND sent_at > now() - make_interval(secs => "
	    "$1::int) ORDER BY sent_at DESC LIMIT $2) c"};

	return store_minute_count(st, &st->sent, &stmt, seconds, cap);
}

/* STORE_COUNT_QUEUED - the automatic mails queued (not suppressed) to
 * rcpt $1 in the last $3 seconds and about ticket $2 in the last $4, each
 * count stopped at cap (SQL parameter lim), two columns. */
#define STORE_COUNT_QUEUED(lim)                                                \
	"(SELECT count(*) FROM (SELECT FROM outbox WHERE rcpt = $1 AND "       \
	"created > now() - make_interval(secs => $3::int) AND state <> "       \
	"'suppressed' ORDER BY created DESC LIMIT " lim ") r), (SELECT "       \
	"count(*) FROM (SELECT FROM outbox WHERE ticket_id = $2::bigint AND "  \
	"created > now() - make_interval(secs => $4::int) AND state <> "       \
	"'suppressed' ORDER BY created DESC LIMIT " lim ") t)"

int
store_limit_counts(struct store *st, const char *rcpt, gint64 ticket,
                   int rcpt_secs, int ticket_secs, gint64 cap, gint64 *rcpt_r,
                   gint64 *ticket_r)
{
	/* Both per-address and per-ticket counts in one statement, each
	 * subquery on its own index; not one WHERE with ($1 = 0 OR ...),
	 * whose generic plan can use no index and scanned the whole outbox
	 * for every mail.  Each count stops at cap (LIMIT): past the limit
	 * the figure decides nothing, and a customer's burst must not make
	 * every later mail of it scan the whole burst.  ORDER BY names the
	 * index each count walks, the newest first, so that LIMIT bounds the
	 * entries read as well. */
	static const struct store_stmt stmt = {
	    "limit counts queued", "SELECT " STORE_COUNT_QUEUED("$5")};
	char a[24], b[24], c[24], d[24];
	const char *vals[] = {
	    rcpt, store_i64(a, ticket), store_i64(b, rcpt_secs),
	    store_i64(c, ticket_secs), store_i64(d, MAX(cap, 1))};
	int r;
	PGresult *res = store_run(st, &stmt, 5, vals, NULL, NULL, &r);

	if (res == NULL)
		return r;
	*rcpt_r = store_col(res, 0, 0);
	*ticket_r = store_col(res, 0, 1);
	PQclear(res);
	return 0;
}

int
store_send_counts(struct store *st, const char *rcpt, gint64 ticket,
                  int rcpt_secs, int ticket_secs, gint64 cap,
                  const char *breaker, struct store_send_counts *c_r)
{
	/* Before every acknowledgement the sender sends: the sent counts
	 * (bounded as in store_limit_counts; the per-ticket one has an
	 * index of its own, 028: without it the generic plan ANDed the
	 * ticket's entries with every sent mail of the day, and the cost of
	 * each acknowledgement grew with the outbox) and the breaker, in
	 * one round trip instead of two. */
	static const struct store_stmt stmt = {
	    "send counts",
	    "SELECT (SELECT count(*) FROM (SELECT FROM outbox WHERE rcpt = $1 "
	    "AND state = 'sent' AND sent_at > now() - make_interval(secs => "
	    "$3::int) AND kind NOT IN ('escalation', 'digest') ORDER BY "
	    "sent_at DESC LIMIT $5) r), (SELECT count(*) FROM (SELECT FROM "
	    "outbox WHERE ticket_id = $2::bigint AND state = 'sent' AND "
	    "sent_at > now() - make_interval(secs => $4::int) AND kind NOT IN "
	    "('escalation', 'digest') ORDER BY sent_at DESC LIMIT $5) t), "
	    "COALESCE(b.state = 'open' AND (b.until IS NULL OR b.until > "
	    "now()), false), COALESCE(extract(epoch FROM b.until)::bigint, "
	    "0), COALESCE(b.reason, '') FROM (SELECT) one LEFT JOIN breaker b "
	    "ON b.name = $6"};
	char a[24], b[24], c[24], d[24];
	const char *vals[] = {rcpt,
	                      store_i64(a, ticket),
	                      store_i64(b, rcpt_secs),
	                      store_i64(c, ticket_secs),
	                      store_i64(d, MAX(cap, 1)),
	                      breaker};
	int r;
	PGresult *res = store_run(st, &stmt, 6, vals, NULL, NULL, &r);

	if (res == NULL)
		return r;
	memset(c_r, 0, sizeof(*c_r));
	c_r->rcpt = store_col(res, 0, 0);
	c_r->ticket = store_col(res, 0, 1);
	c_r->breaker.open = store_bool_col(res, 0, 2);
	c_r->breaker.until = store_col(res, 0, 3);
	g_strlcpy(c_r->breaker.reason, PQgetvalue(res, 0, 4),
	          sizeof(c_r->breaker.reason));
	PQclear(res);
	return 0;
}

int
store_queue_counts(struct store *st, const char *rcpt, const char *sender,
                   gint64 ticket, int rcpt_secs, int ticket_secs, gint64 cap,
                   const char *breaker, struct store_queue_counts *c_r)
{
	/* the queued counts, the sender identity's, the suppression and the
	 * breaker in one round trip: they were four, for every
	 * acknowledgement, each a wait of the serial ingest; each count
	 * stops at cap, as in store_limit_counts */
	/* clang-format off */
	static const struct store_stmt stmt = {
	    "queue counts",
	    "SELECT " STORE_COUNT_QUEUED("$7") ", (SELECT count(*) FROM "
	    "(SELECT FROM outbox WHERE sender = $5 AND created > now() - "
	    "make_interval(secs => $3::int) AND state <> 'suppressed' ORDER BY "
	    "created DESC LIMIT $7) s), EXISTS (SELECT 1 FROM suppression "
	    "WHERE addr = $1 AND until > now()), COALESCE((SELECT state = "
	    "'open' AND (until IS NULL OR until > now()) FROM breaker WHERE "
	    "name = $6), false)"};
	/* clang-format on */
	char a[24], b[24], c[24], d[24];
	const char *vals[] = {rcpt,
	                      store_i64(a, ticket),
	                      store_i64(b, rcpt_secs),
	                      store_i64(c, ticket_secs),
	                      sender,
	                      breaker,
	                      store_i64(d, MAX(cap, 1))};
	int r;
	PGresult *res = store_run(st, &stmt, 7, vals, NULL, NULL, &r);

	if (res == NULL)
		return r;
	c_r->rcpt = store_col(res, 0, 0);
	c_r->ticket = store_col(res, 0, 1);
	c_r->sender = store_col(res, 0, 2);
	c_r->suppressed = store_bool_col(res, 0, 3);
	c_r->breaker_open = store_bool_col(res, 0, 4);
	PQclear(res);
	return 0;
}

int
store_outbox_suppress(struct store *st, gint64 id, const char *why)
{
	static const struct store_stmt stmt = {
	    "outbox suppress",
	    "UPDATE outbox SET state = 'suppressed', "
	    "last_error = $2, lease_until = NULL WHERE id = $1"};
	char a[24];
	const char *vals[] = {store_i64(a, id), why};

	return store_exec(st, &stmt, 2, vals);
}

gint64
store_outbox_hold(struct store *st, int secs, const char *why)
{
	static const struct store_stmt stmt = {
	    "outbox hold",
	    "UPDATE outbox SET next_attempt = now() + "
	    "make_interval(secs => $1::int), last_error = $2 WHERE "
	    "is_repeat AND state = 'queued' AND next_attempt < now() + "
	    "make_interval(secs => $1::int)"};
	char a[24];
	const char *vals[] = {store_i64(a, secs), why};

	return store_changed(st, &stmt, 2, vals);
}

gint64
store_outbox_unhold(struct store *st)
{
	static const struct store_stmt stmt = {
	    "outbox unhold",
	    "UPDATE outbox SET next_attempt = now() WHERE state = "
	    "'queued' AND last_error LIKE 'held:%'"};

	return store_changed(st, &stmt, 0, NULL);
}

/* ---- the circuit breaker (sql/002_limits.sql) ---- */

int
store_breaker_get(struct store *st, const char *name, struct store_breaker *b_r)
{
	static const struct store_stmt stmt = {
	    "breaker get",
	    "SELECT state = 'open' AND (until IS NULL OR until > "
	    "now()), COALESCE(extract(epoch FROM until)::bigint, "
	    "0), COALESCE(reason, '') FROM breaker WHERE name = $1"};
	const char *vals[] = {name};
	int r;
	PGresult *res = store_run(st, &stmt, 1, vals, NULL, NULL, &r);

	if (res == NULL)
		return r;
	memset(b_r, 0, sizeof(*b_r));
	if (PQntuples(res) > 0) {
		b_r->open = store_bool_col(res, 0, 0);
		b_r->until = store_col(res, 0, 1);
		g_strlcpy(b_r->reason, PQgetvalue(res, 0, 2),
		          sizeof(b_r->reason));
	}
	PQclear(res);
	return 0;
}

int
store_breaker_trip(struct store *st, const char *name, int cooldown,
                   const char *reason)
{
	static const struct store_stmt stmt = {
	    "breaker trip",
	    "INSERT INTO breaker (name, state, tripped_at, until, reason, "
	    "trips) VALUES ($1, 'open', now(), CASE WHEN $2::int > 0 THEN "
	    "now() + make_interval(secs => $2::int) END, $3, 1) ON CONFLICT "
	    "(name) DO UPDATE SET state = 'open', tripped_at = now(), until "
	    "= EXCLUDED.until, reason = $3, trips = breaker.trips + 1"};
	char a[24];
	const char *vals[] = {name, store_i64(a, cooldown), reason};

	return store_exec(st, &stmt, 3, vals);
}

int
store_breaker_reset(struct store *st, const char *name, const char *actor)
{
	static const struct store_stmt stmt = {
	    "breaker reset",
	    "UPDATE breaker SET state = 'closed', until = NULL, "
	    "reset_at = now(), reset_by = $2 WHERE name = $1 "
	    "AND state = 'open'"};
	const char *vals[] = {name, actor};

	return (int)store_changed(st, &stmt, 2, vals);
}
