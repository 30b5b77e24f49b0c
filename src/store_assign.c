/*
 * store_assign.c - the rows of the auto-assignment and the away times.
 * See store_assign.h; the statement machinery is store.c's (store_int.h).
 */
#include "store_assign.h"

#include "store_int.h"

int
store_assign_pick(struct store *st, const char *queue, bool fewest,
                  const char *const *cands, size_t n, gint64 now, char **addr_r)
{
	/* the upsert takes the row lock even when the row is there */
	static const struct store_stmt lock = {
	    "assign lock",
	    "INSERT INTO assign_state (queue) VALUES ($1) ON CONFLICT (queue) "
	    "DO UPDATE SET queue = EXCLUDED.queue"};
	/* a fresh snapshot after the lock (READ COMMITTED): the tickets
	 * the instance before us assigned are counted */
	static const struct store_stmt pick = {
	    "assign pick",
	    "WITH c AS (SELECT u.a, u.i FROM unnest($2::text[]) WITH "
	    "ORDINALITY AS u(a, i) WHERE NOT EXISTS (SELECT 1 FROM agent_away "
	    "w WHERE w.address = u.a AND (w.until IS NULL OR w.until > "
	    "to_timestamp($3::bigint)))), "
	    "s AS (SELECT last_agent FROM assign_state WHERE queue = $1), "
	    "p AS (SELECT c.a FROM c ORDER BY CASE WHEN $4::boolean THEN "
	    "(SELECT count(*) FROM ticket t WHERE t.assignee = c.a AND "
	    "t.status IN ('new', 'open', 'pending')) ELSE 0 END, "
	    "c.i <= COALESCE((SELECT c2.i FROM c c2, s WHERE c2.a = "
	    "s.last_agent), 0), c.i LIMIT 1) "
	    "UPDATE assign_state SET last_agent = p.a FROM p WHERE queue = $1 "
	    "RETURNING p.a"};
	g_autoptr(GPtrArray) v = g_ptr_array_new();
	g_autofree char *arr = NULL;
	char a[24];
	const char *lv[] = {queue};
	const char *pv[4];
	PGresult *res;
	int r;

	*addr_r = NULL;
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		g_ptr_array_add(v, (gpointer)cands[i]);
	arr = store_text_array(v);
	pv[0] = queue;
	pv[1] = arr;
	pv[2] = store_i64(a, now);
	pv[3] = fewest ? "t" : "f";
	if ((r = store_exec(st, &lock, 1, lv)) < 0)
		return r;
	if ((res = store_run(st, &pick, 4, pv, NULL, NULL, &r)) == NULL)
		return r;
	if (PQntuples(res) > 0)
		*addr_r = g_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

int
store_away_set(struct store *st, const char *addr, gint64 now, gint64 until)
{
	static const struct store_stmt stmt = {
	    "away set",
	    "INSERT INTO agent_away (address, since, until) VALUES ($1, "
	    "to_timestamp($2::bigint), CASE WHEN $3::bigint > 0 THEN "
	    "to_timestamp($3::bigint) END) ON CONFLICT (address) DO UPDATE "
	    "SET since = EXCLUDED.since, until = EXCLUDED.until"};
	char a[24], b[24];
	const char *vals[] = {addr, store_i64(a, now), store_i64(b, until)};

	return store_exec(st, &stmt, 3, vals);
}

int
store_away_clear(struct store *st, const char *addr, gint64 now)
{
	static const struct store_stmt stmt = {
	    "away clear",
	    "DELETE FROM agent_away WHERE address = $1 RETURNING until IS "
	    "NULL OR until > to_timestamp($2::bigint)"};
	char a[24];
	const char *vals[] = {addr, store_i64(a, now)};
	int r;
	PGresult *res = store_run(st, &stmt, 2, vals, NULL, NULL, &r);

	if (res == NULL)
		return r;
	r = PQntuples(res) > 0 && store_bool_col(res, 0, 0) ? 1 : 0;
	PQclear(res);
	return r;
}

gint64
store_away_unassign(struct store *st, const char *addr)
{
	static const struct store_stmt stmt = {
	    "away unassign",
	    "WITH u AS (UPDATE ticket SET assignee = NULL, updated = now() "
	    "WHERE assignee = $1 AND status IN ('new', 'open', 'pending') "
	    "RETURNING id), e AS (INSERT INTO event (ticket_id, actor, action, "
	    "detail) SELECT id, $1, 'unassigned', 'away: handed back to the "
	    "queue' FROM u) SELECT count(*) FROM u"};
	const char *vals[] = {addr};
	gint64 n = 0;
	int r;

	st->loose_events = true; /* (its events have no message) */
	r = store_int(st, &stmt, 1, vals, &n);
	return r < 0 ? r : n;
}
