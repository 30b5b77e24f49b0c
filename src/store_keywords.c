/*
 * store_keywords.c - the rows behind the IMAP keywords.  See
 * store_keywords.h; the statement machinery is store.c's (store_int.h).
 */
#include "store_keywords.h"

#include "store_int.h"

#include <stdlib.h>

void
store_kw_row_free(gpointer p)
{
	struct store_kw_row *r = p;

	g_free(r->status);
	g_free(r->assignee);
	g_free(r->assigned_kw);
	g_free(r->dirty_since);
	if (r->uids)
		g_array_unref(r->uids);
	g_free(r);
}

int
store_kw_copies(struct store *st, const char *mailbox, gint64 uidvalidity,
                const struct store_kw_copy *c, size_t n)
{
	/* the join with ticket skips a ticket purged meanwhile; a UID
	 * seen again (a re-fetch) moves to the ticket named last */
	static const struct store_stmt stmt = {
	    "keyword copies",
	    "WITH v AS (SELECT DISTINCT ON (v.uid) v.uid, v.ticket, v.due "
	    "FROM unnest($3::bigint[], $4::bigint[], $5::boolean[]) AS "
	    "v(uid, ticket, due) JOIN ticket t ON t.id = v.ticket), "
	    "ins AS (INSERT INTO imap_copy (mailbox, uidvalidity, uid, "
	    "ticket_id) SELECT $1, $2, uid, ticket FROM v ON CONFLICT "
	    "(mailbox, uidvalidity, uid) DO UPDATE SET ticket_id = "
	    "EXCLUDED.ticket_id) "
	    "INSERT INTO imap_keyword (mailbox, ticket_id, dirty_since) "
	    "SELECT $1, d.ticket, clock_timestamp() FROM (SELECT DISTINCT "
	    "ticket FROM v WHERE due) d ON CONFLICT (mailbox, ticket_id) DO "
	    "UPDATE SET dirty_since = EXCLUDED.dirty_since"};
	GString *u = g_string_new("{"), *t = g_string_new("{"),
	        *d = g_string_new("{");
	char a[24];
	int r;

	for (size_t i = 0; i < n; i++) {
		if (c[i].ticket <= 0)
			continue;
		if (u->len > 1) {
			g_string_append_c(u, ',');
			g_string_append_c(t, ',');
			g_string_append_c(d, ',');
		}
		g_string_append_printf(u, "%u", c[i].uid);
		g_string_append_printf(t, "%" G_GINT64_FORMAT, c[i].ticket);
		g_string_append_c(d, c[i].due ? 't' : 'f');
	}
	g_string_append_c(u, '}');
	g_string_append_c(t, '}');
	g_string_append_c(d, '}');
	if (u->len == 2) {
		r = 0;
	} else {
		const char *vals[] = {mailbox, store_i64(a, uidvalidity),
		                      u->str, t->str, d->str};
		r = store_exec(st, &stmt, 5, vals);
	}
	g_string_free(u, TRUE);
	g_string_free(t, TRUE);
	g_string_free(d, TRUE);
	return r;
}

/* kw_uids - "3,5,9" into an array of uint32_t. */
static GArray *
kw_uids(const char *s)
{
	GArray *a = g_array_new(FALSE, FALSE, sizeof(uint32_t));

	while (s && *s) {
		char *end;
		guint64 v = g_ascii_strtoull(s, &end, 10);

		if (end == s)
			break;
		if (v > 0 && v <= G_MAXUINT32) {
			uint32_t u = (uint32_t)v;
			g_array_append_val(a, u);
		}
		s = *end == ',' ? end + 1 : end;
	}
	return a;
}

int
store_kw_due(struct store *st, const char *mailbox, int limit, GPtrArray *out)
{
	static const struct store_stmt stmt = {
	    "keywords due",
	    "SELECT k.ticket_id, t.status, t.assignee, k.assigned_kw, "
	    "k.dirty_since::text, ms.uidvalidity, (SELECT string_agg(s.uid::"
	    "text, ',') FROM (SELECT c.uid FROM imap_copy c WHERE c.mailbox "
	    "= k.mailbox AND c.ticket_id = k.ticket_id AND c.uidvalidity = "
	    "ms.uidvalidity ORDER BY c.uid DESC LIMIT " G_STRINGIFY(
	        STORE_KW_MAX_UIDS) ") s) "
	                           "FROM imap_keyword k JOIN ticket t ON t.id "
	                           "= "
	                           "k.ticket_id JOIN mailbox_state ms ON "
	                           "ms.mailbox = k.mailbox WHERE k.mailbox = "
	                           "$1 "
	                           "AND k.dirty_since IS NOT NULL ORDER BY "
	                           "k.dirty_since LIMIT $2"};
	char a[24];
	const char *vals[] = {mailbox, store_i64(a, limit)};
	int r;
	PGresult *res = store_run(st, &stmt, 2, vals, NULL, NULL, &r);

	if (res == NULL)
		return r;
	for (int i = 0; i < PQntuples(res); i++) {
		struct store_kw_row *k = g_new0(struct store_kw_row, 1);

		k->ticket = store_col(res, i, 0);
		k->status = g_strdup(PQgetvalue(res, i, 1));
		k->assignee = store_strdup_col(res, i, 2);
		k->assigned_kw = store_strdup_col(res, i, 3);
		k->dirty_since = g_strdup(PQgetvalue(res, i, 4));
		k->uidvalidity = store_col(res, i, 5);
		k->uids = kw_uids(PQgetvalue(res, i, 6));
		g_ptr_array_add(out, k);
	}
	PQclear(res);
	return 0;
}

int
store_kw_forget(struct store *st, const char *mailbox, gint64 uidvalidity,
                const uint32_t *uids, size_t n)
{
	static const struct store_stmt stmt = {
	    "keyword copies gone",
	    "DELETE FROM imap_copy WHERE mailbox = $1 AND uidvalidity = $2 "
	    "AND uid = ANY ($3::bigint[])"};
	GString *u = g_string_new("{");
	char a[24];
	int r;

	for (size_t i = 0; i < n; i++)
		g_string_append_printf(u, "%s%u", i ? "," : "", uids[i]);
	g_string_append_c(u, '}');
	{
		const char *vals[] = {mailbox, store_i64(a, uidvalidity),
		                      u->str};
		r = store_exec(st, &stmt, 3, vals);
	}
	g_string_free(u, TRUE);
	return r;
}

int
store_kw_done(struct store *st, const char *mailbox,
              const struct store_kw_row *row, const char *assigned_kw)
{
	static const struct store_stmt stmt = {
	    "keywords done",
	    "UPDATE imap_keyword SET assigned_kw = $4, dirty_since = CASE "
	    "WHEN dirty_since = $3::timestamptz THEN NULL ELSE dirty_since "
	    "END WHERE mailbox = $1 AND ticket_id = $2"};
	char a[24];
	const char *vals[] = {mailbox, store_i64(a, row->ticket),
	                      row->dirty_since, assigned_kw};

	return store_exec(st, &stmt, 4, vals);
}
