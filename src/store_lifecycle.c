/*
 * store_lifecycle.c - the rows of the lifecycle pass.  See
 * store_lifecycle.h; the statement machinery is store.c's (store_int.h).
 */
#include "store_lifecycle.h"

#include "store_int.h"

void
store_life_row_free(gpointer p)
{
	struct store_life_row *r = p;

	g_free(r->queue);
	g_free(r->requester);
	g_free(r->requester_name);
	g_free(r->subject);
	g_free(r->language);
	g_free(r);
}

int
store_life_due(struct store *st, gint64 now, gint64 min_age, int limit,
               GPtrArray *out)
{
	/* min_age: the shortest timer in calendar seconds (a business day
	 * is never shorter than a day), so the partial index of 016 keeps
	 * the scan to tickets that may be due */
	static const struct store_stmt stmt = {
	    "lifecycle due",
	    "SELECT id, status = 'pending', extract(epoch FROM "
	    "status_since)::bigint, COALESCE(extract(epoch FROM "
	    "reminded_at)::bigint, 0), queue, requester, requester_name, "
	    "subject, language FROM ticket WHERE status IN ('pending', "
	    "'resolved') AND status_since <= to_timestamp($1::bigint - "
	    "$2::bigint) "
	    "ORDER BY "
	    "status_since LIMIT $3 FOR UPDATE SKIP LOCKED"};
	char a[24], b[24], c[24];
	const char *vals[] = {store_i64(a, now), store_i64(b, min_age),
	                      store_i64(c, limit)};
	int r;
	PGresult *res = store_run(st, &stmt, 3, vals, NULL, NULL, &r);

	if (res == NULL)
		return r;
	for (int i = 0; i < PQntuples(res); i++) {
		struct store_life_row *t = g_new0(struct store_life_row, 1);
		t->id = store_col(res, i, 0);
		t->pending = store_bool_col(res, i, 1);
		t->status_since = store_col(res, i, 2);
		t->reminded_at = store_col(res, i, 3);
		t->queue = g_strdup(PQgetvalue(res, i, 4));
		t->requester = g_strdup(PQgetvalue(res, i, 5));
		t->requester_name = store_strdup_col(res, i, 6);
		t->subject = g_strdup(PQgetvalue(res, i, 7));
		t->language = store_strdup_col(res, i, 8);
		g_ptr_array_add(out, t);
	}
	PQclear(res);
	return 0;
}

int
store_life_reminded(struct store *st, gint64 id, gint64 at)
{
	static const struct store_stmt stmt = {
	    "lifecycle reminded",
	    "UPDATE ticket SET reminded_at = to_timestamp($2) WHERE id = $1"};
	char a[24], b[24];
	const char *vals[] = {store_i64(a, id), store_i64(b, at)};

	return store_exec(st, &stmt, 2, vals);
}
