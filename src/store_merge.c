/*
 * store_merge.c - SQL of ticket merges.  See store_merge.h; what moves is
 * tickd_merge() of sql/020_merge.sql, one statement, so that a merge is
 * one round trip whatever the tickets hold.
 */
#include "store_merge.h"

#include "merge.h"
#include "store_int.h"

#include <string.h>

int
store_ticket_resolve(struct store *st, gint64 id, struct store_ticket *t_r)
{
	/* store_ticket_get's columns, of the survivor */
	static const struct store_stmt stmt = {
	    "ticket resolve",
	    "SELECT " STORE_TICKET_COLUMNS " FROM ticket a JOIN ticket t ON "
	    "t.id = COALESCE(a.merged_into, a.id) WHERE a.id = $1"};
	char a[24];
	const char *vals[] = {store_i64(a, id)};
	int r;
	PGresult *res = store_one_row(st, &stmt, 1, vals, &r);

	if (res == NULL)
		return r;
	store_ticket_row(res, t_r);
	return 0;
}

/* store_merge_lock - lock both rows (id order) and fill the sides. */
static int
store_merge_lock(struct store *st, struct merge_side *from,
                 struct merge_side *into)
{
	static const struct store_stmt stmt = {
	    "merge lock",
	    "SELECT id, COALESCE(merged_into, 0) FROM ticket WHERE id IN "
	    "($1, $2) ORDER BY id FOR UPDATE"};
	char a[24], b[24];
	const char *vals[] = {store_i64(a, from->id), store_i64(b, into->id)};
	int r;
	PGresult *res = store_run(st, &stmt, 2, vals, NULL, NULL, &r);

	if (res == NULL)
		return r;
	for (int i = 0; i < PQntuples(res); i++) {
		gint64 id = store_col(res, i, 0);
		struct merge_side *s = id == from->id ? from : into;
		s->exists = true;
		s->merged_into = store_col(res, i, 1);
	}
	PQclear(res);
	return 0;
}

int
store_merge(struct store *st, gint64 from, gint64 into, const char *actor,
            gint64 msg, gint64 at, char *why, size_t whylen, int *mails_r)
{
	static const struct store_stmt stmt = {
	    "merge", "SELECT tickd_merge($1, $2, $3, NULLIF($4::bigint, 0), "
	             "to_timestamp($5))"};
	struct merge_side f = {.id = from}, t = {.id = into};
	char a[24], b[24], c[24], d[24];
	const char *vals[] = {store_i64(a, from), store_i64(b, into), actor,
	                      store_i64(c, msg), store_i64(d, at)};
	gint64 n = 0;
	int r;

	if (from > 0 && into > 0 && from != into &&
	    (r = store_merge_lock(st, &f, &t)) < 0)
		return r;
	if (merge_refusal(&f, &t, why, whylen) != NULL)
		return from != into && from > 0 && into > 0 &&
		               (!f.exists || !t.exists)
		           ? -ENOENT
		           : -EINVAL;
	if ((r = store_int(st, &stmt, 5, vals, &n)) < 0)
		return r;
	if (mails_r != NULL)
		*mails_r = (int)n;
	return 0;
}
