/*
 * store_ingest.c - what one mail writes and reads: the IMAP cursor,
 * dedupe, tickets, participants, the message, attachments, events.  See
 * store_ingest.h; the statement machinery is store.c's (store_int.h).
 */
#include "store_ingest.h"

#include "store_int.h"

#include <string.h>

/* ---- the IMAP cursor ---- */

int
store_cursor_get(struct store *st, const char *mailbox,
                 struct store_cursor *c_r)
{
	static const struct store_stmt stmt = {
	    "cursor get", "SELECT uidvalidity, last_uid, marked_uid, "
	                  "history_uid FROM mailbox_state WHERE mailbox = $1"};
	const char *vals[] = {mailbox};
	int r;
	PGresult *res = store_one_row(st, &stmt, 1, vals, &r);

	if (res == NULL)
		return r;
	c_r->uidvalidity = store_col(res, 0, 0);
	c_r->last_uid = store_col(res, 0, 1);
	c_r->marked_uid = store_col(res, 0, 2);
	c_r->history_uid = store_col(res, 0, 3);
	PQclear(res);
	return 0;
}

int
store_cursor_set(struct store *st, const char *mailbox, gint64 uidvalidity,
                 gint64 last_uid)
{
	static const struct store_stmt stmt = {
	    "cursor set",
	    "INSERT INTO mailbox_state (mailbox, uidvalidity, last_uid) "
	    "VALUES ($1, $2, $3) ON CONFLICT (mailbox) DO UPDATE SET "
	    "uidvalidity = $2, last_uid = GREATEST(CASE WHEN "
	    "mailbox_state.uidvalidity = $2 THEN mailbox_state.last_uid "
	    "ELSE 0 END, $3), updated = now()"};
	char a[24], b[24];
	const char *vals[] = {mailbox, store_i64(a, uidvalidity),
	                      store_i64(b, last_uid)};

	return store_exec(st, &stmt, 3, vals);
}

int
store_cursor_reset(struct store *st, const char *mailbox, gint64 uidvalidity)
{
	static const struct store_stmt stmt = {
	    "cursor reset",
	    "INSERT INTO mailbox_state (mailbox, uidvalidity) VALUES ($1, $2) "
	    "ON CONFLICT (mailbox) DO UPDATE SET uidvalidity = $2, "
	    "last_uid = 0, marked_uid = 0, history_uid = 0, updated = now()"};
	char a[24];
	const char *vals[] = {mailbox, store_i64(a, uidvalidity)};

	return store_exec(st, &stmt, 2, vals);
}

/* 012_history: a mailbox's first poll */
int
store_cursor_first(struct store *st, const char *mailbox, gint64 uidvalidity,
                   gint64 last_uid, gint64 history_uid)
{
	static const struct store_stmt stmt = {
	    "cursor first",
	    "INSERT INTO mailbox_state (mailbox, uidvalidity, last_uid, "
	    "marked_uid, history_uid) VALUES ($1, $2, $3, $3, $4) ON "
	    "CONFLICT (mailbox) DO UPDATE SET uidvalidity = $2, last_uid = "
	    "$3, marked_uid = $3, history_uid = $4, updated = now()"};
	char a[24], b[24], c[24];
	const char *vals[] = {mailbox, store_i64(a, uidvalidity),
	                      store_i64(b, last_uid),
	                      store_i64(c, history_uid)};

	return store_exec(st, &stmt, 4, vals);
}

int
store_cursor_marked(struct store *st, const char *mailbox, gint64 marked_uid)
{
	static const struct store_stmt stmt = {
	    "cursor marked", "UPDATE mailbox_state SET marked_uid = "
	                     "GREATEST(marked_uid, $2) WHERE mailbox = $1"};
	char a[24];
	const char *vals[] = {mailbox, store_i64(a, marked_uid)};

	return store_exec(st, &stmt, 2, vals);
}

int
store_cursor_result(struct store *st, const char *mailbox, const char *err)
{
	static const struct store_stmt ok = {
	    "cursor fetch ok",
	    "UPDATE mailbox_state SET last_fetch = now(), "
	    "last_ok = now(), failures = 0 WHERE mailbox = $1"};
	static const struct store_stmt failed = {
	    "cursor fetch error",
	    "INSERT INTO mailbox_state (mailbox, uidvalidity, last_fetch, "
	    "last_error, last_error_at, failures) VALUES ($1, 0, now(), $2, "
	    "now(), 1) ON CONFLICT (mailbox) DO UPDATE SET last_fetch = "
	    "now(), last_error = $2, last_error_at = now(), failures = "
	    "mailbox_state.failures + 1"};
	const char *vals[] = {mailbox, err};

	return err ? store_exec(st, &failed, 2, vals)
	           : store_exec(st, &ok, 1, vals);
}

/* STORE_REQUESTER_LANG - the language of the newest ticket that has one
 * among the newest 50 of requester addr (SQL) that also match SQL
 * condition and: a bound, whatever one address sends.  The requester is
 * compared as a range and the order names it, so that only
 * ticket_requester (requester, id) gives the order: with "requester =",
 * the generic plan, once one address held nearly every ticket, walked the
 * primary key backward for a new address and read the whole table
 * (test_bounds.py); ordered by created, it walked ticket_created_idx
 * (20,500 rows, 7.9 ms, for every new ticket). */
/* clang-format off */
#define STORE_REQUESTER_LANG(addr, and)                                        \
	"SELECT language FROM (SELECT language, created, id FROM ticket "      \
	"WHERE requester >= " addr " AND requester <= " addr and " "           \
	"ORDER BY requester DESC, id DESC LIMIT 50) s WHERE language <> '' "   \
	"ORDER BY created DESC, id DESC LIMIT 1"
/* clang-format on */

/* ---- tickets ---- */

void
store_ticket_clear(struct store_ticket *t)
{
	g_free(t->requester);
	g_free(t->subject);
	g_free(t->queue);
	memset(t, 0, sizeof(*t));
}

static const struct store_stmt store_dedupe_stmt = {
    "dedupe", "SELECT COALESCE(ticket_id, 0) FROM message WHERE "
              "dedupe_key = $1"};

int
store_dedupe(struct store *st, const char *dedupe_key, gint64 *ticket_r)
{
	const char *vals[] = {dedupe_key};

	return store_int(st, &store_dedupe_stmt, 1, vals, ticket_r);
}

/* MATERIALIZED: a generic plan guesses ~900 matches for ANY($1) and would
 * walk message_pkey backwards through every message instead of looking
 * the few ids up in message_msgid_idx.  The newest message decides, also
 * when it has no ticket (then: none), and its ticket's row comes along
 * (store_ticket_get's columns). */
static const struct store_stmt store_msgids_stmt = {
    "ticket by message-ids", STORE_TOUCH_BLIND
    "WITH m AS MATERIALIZED (SELECT id, ticket_id FROM "
    "message WHERE message_id = ANY($1::text[]) AND message_id <> "
    "' '), n AS (SELECT "
    "ticket_id FROM m ORDER BY id DESC LIMIT 1) "
    "SELECT " STORE_TICKET_COLUMNS " FROM n JOIN ticket t ON t.id = "
    "n.ticket_id"};

/* store_msgids_param - ids as the look-up's parameter (g_free it).
 * PostgreSQL's generic plan takes an array parameter for 10 elements
 * (estimate_array_length): a custom plan for 2 looked cheaper, so every
 * call was planned anew (0.11 ms a reply, more than running it:
 * pg_stat_statements with track_planning).  Padded to 10, no custom plan
 * looks cheaper and the generic one is kept.  The pad, " ", is never a
 * stored id (ids are stripped, mime_line; tickd's own have no space) and
 * the SQL excludes it. */
static char *
store_msgids_param(GPtrArray *ids)
{
	g_autoptr(GPtrArray) padded = NULL;

	if (ids->len < STORE_ARRAY_GUESS) {
		padded = g_ptr_array_sized_new(STORE_ARRAY_GUESS);
		for (guint i = 0; i < ids->len; i++)
			g_ptr_array_add(padded, ids->pdata[i]);
		while (padded->len < STORE_ARRAY_GUESS)
			g_ptr_array_add(padded, (char *)" ");
		ids = padded;
	}
	return store_text_array(ids);
}

int
store_ticket_by_msgids(struct store *st, GPtrArray *ids,
                       struct store_ticket *t_r)
{
	g_autofree char *arr = NULL;
	const char *vals[1];
	int r;
	PGresult *res;

	if (ids == NULL || ids->len == 0)
		return 0;
	arr = store_msgids_param(ids);
	vals[0] = arr;
	if ((res = store_one_row(st, &store_msgids_stmt, 1, vals, &r)) == NULL)
		return r == -ENOENT ? 0 : r;
	store_ticket_row(res, t_r);
	return 1;
}

int
store_dedupe_and_thread(struct store *st, const char *dedupe_key,
                        GPtrArray *ids, gint64 *ticket_r, int *found_r,
                        struct store_ticket *t_r)
{
	g_autofree char *arr = store_msgids_param(ids);
	const char *va[] = {arr}, *vb[] = {dedupe_key};
	PGresult *res[2];
	int r;

	*found_r = 0;
	if ((r = store_run2(st, &store_msgids_stmt, 1, va, &store_dedupe_stmt,
	                    1, vb, res)) < 0)
		return r;
	if (PQntuples(res[0]) > 0) {
		store_ticket_row(res[0], t_r); /* (PQclears it) */
		*found_r = 1;
	} else
		PQclear(res[0]);
	return store_int_of(res[1], ticket_r);
}

int
store_ticket_get(struct store *st, gint64 id, struct store_ticket *t_r)
{
	static const struct store_stmt stmt = {
	    "ticket get", STORE_TOUCH_BLIND "SELECT " STORE_TICKET_COLUMNS
	                                    " FROM ticket t WHERE t.id = $1"};
	char a[24];
	const char *vals[] = {store_i64(a, id)};
	int r;
	PGresult *res = store_one_row(st, &stmt, 1, vals, &r);

	if (res == NULL)
		return r;
	store_ticket_row(res, t_r);
	return 0;
}

void
store_ticket_row(PGresult *res, struct store_ticket *t_r)
{
	memset(t_r, 0, sizeof(*t_r));
	t_r->id = store_col(res, 0, 0);
	g_strlcpy(t_r->status, PQgetvalue(res, 0, 1), sizeof(t_r->status));
	g_strlcpy(t_r->priority, PQgetvalue(res, 0, 2), sizeof(t_r->priority));
	t_r->requester = g_strdup(PQgetvalue(res, 0, 3));
	t_r->subject = g_strdup(PQgetvalue(res, 0, 4));
	t_r->queue = g_strdup(PQgetvalue(res, 0, 5));
	t_r->closed_at = store_col(res, 0, 6);
	t_r->resolved_at = store_col(res, 0, 7);
	PQclear(res);
}

int
store_ticket_create(struct store *st, const struct store_new_ticket *n,
                    gint64 *id_r, char **prev_lang_r)
{
	/* status_since as ticket_status_since would set it: the trigger
	 * is then not called (033).  Touch-blind: a new ticket has no kept
	 * touch, and the requester's language is read from columns no
	 * touch changes. */
	static const struct store_stmt stmt = {
	    "ticket create", STORE_TOUCH_BLIND
	    "INSERT INTO ticket (queue, subject, requester, requester_name, "
	    "priority, language, needs_review, review_reason, "
	    "linked_ticket, created, updated, last_customer_at, "
	    "status_since, history, status, closed_at) VALUES ($1, $2, $3, $4, "
	    "$5, $6, $7, $8, NULLIF($9, 0), to_timestamp($10), "
	    "to_timestamp($10), to_timestamp($10), to_timestamp($10), $11, "
	    "CASE WHEN $11 THEN 'closed' ELSE 'new' END, CASE WHEN $11 THEN "
	    "to_timestamp($12) END) RETURNING id, "
	    /* store_requester_language's answer in the same round trip (the
	     * sub-select does not see the row being inserted) */
	    "(" STORE_REQUESTER_LANG("lower($3)", "") ")"};
	char a[24], b[24], c[24];
	const char *vals[] = {n->queue,
	                      n->subject,
	                      n->requester,
	                      n->requester_name,
	                      n->priority ? n->priority : "normal",
	                      n->language,
	                      n->needs_review ? "t" : "f",
	                      n->review_reason,
	                      store_i64(a, n->linked_ticket),
	                      store_i64(b, n->at),
	                      n->history ? "t" : "f",
	                      store_i64(c, n->closed_at)};
	int r;
	PGresult *res = store_one_row(st, &stmt, 12, vals, &r);

	if (res == NULL)
		return r == -ENOENT ? -EPROTO : r; /* RETURNING has a row */
	*id_r = store_col(res, 0, 0);
	*prev_lang_r =
	    PQgetisnull(res, 0, 1) ? NULL : g_strdup(PQgetvalue(res, 0, 1));
	PQclear(res);
	return 0;
}

int
store_ticket_touch(struct store *st, gint64 id, bool customer, gint64 at)
{
	static const struct store_stmt by_agent = {
	    "ticket touch agent",
	    "UPDATE ticket SET updated = to_timestamp($2), last_agent_at = "
	    "to_timestamp($2), first_response_at = "
	    "COALESCE(first_response_at, to_timestamp($2)) WHERE id = $1"};
	char a[24], b[24];
	const char *vals[] = {store_i64(a, id), store_i64(b, at)};
	int r;

	if (!customer)
		return store_exec(st, &by_agent, 2, vals);
	/* A customer's mail is kept and written with the batch's others
	 * (store_keep.c); a second one of the same ticket in the batch
	 * waits for the first to be written: one UPDATE per ticket, the
	 * triggers fired once for each mail, in the order of the mails. */
	if (store_keep_ticket(st, STORE_KEEP_TOUCH, id) &&
	    (r = store_keep_flush(st)) < 0)
		return r;
	return store_keep(st, STORE_KEEP_TOUCH, vals, NULL);
}

int
store_ticket_set_status(struct store *st, gint64 id, const char *status,
                        gint64 at)
{
	static const struct store_stmt stmt = {
	    "ticket set status",
	    "UPDATE ticket SET status = $2, updated = to_timestamp($3), "
	    "resolved_at = CASE WHEN $2 = 'resolved' THEN to_timestamp($3) "
	    "WHEN $2 IN ('new', 'open', 'pending') THEN NULL ELSE "
	    "resolved_at END, closed_at = CASE WHEN $2 = 'closed' THEN "
	    "to_timestamp($3) WHEN $2 IN ('new', 'open', 'pending') THEN "
	    "NULL ELSE closed_at END, reopen_count = reopen_count + CASE "
	    "WHEN status IN ('resolved', 'closed') AND $2 IN ('open', "
	    "'new', 'pending') THEN 1 ELSE 0 END WHERE id = $1"};
	char a[24], b[24];
	const char *vals[] = {store_i64(a, id), status, store_i64(b, at)};

	return store_exec(st, &stmt, 3, vals);
}

int
store_ticket_set_field(struct store *st, gint64 id, const char *field,
                       const char *value)
{
	/* Only these columns can be set by name; never SQL from input.
	 * Prepared, so that in a batch they are not waited for. */
	static const struct store_stmt set_priority = {
	    "set priority", "UPDATE ticket SET priority = $2, updated = now() "
	                    "WHERE id = $1"};
	static const struct store_stmt set_assignee = {
	    "set assignee", "UPDATE ticket SET assignee = $2, updated = now() "
	                    "WHERE id = $1"};
	static const struct store_stmt set_language = {
	    "set language", "UPDATE ticket SET language = $2 WHERE id = $1"};
	char a[24];
	const char *vals[] = {store_i64(a, id), value};
	const struct store_stmt *stmt;

	if (strcmp(field, "priority") == 0)
		stmt = &set_priority;
	else if (strcmp(field, "assignee") == 0)
		stmt = &set_assignee;
	else if (strcmp(field, "language") == 0)
		stmt = &set_language;
	else
		return -EINVAL;
	return store_exec(st, stmt, 2, vals);
}

int
store_ticket_agent_touch(struct store *st, gint64 id, gint64 at,
                         bool opened_by_agent)
{
	/* The row lock in "old" makes "was this the first response"
	 * exact even with two instances ingesting agent mail at once. */
	static const struct store_stmt stmt = {
	    "ticket agent touch",
	    "WITH old AS (SELECT id, first_response_at FROM ticket WHERE "
	    "id = $1 FOR UPDATE) UPDATE ticket t SET updated = "
	    "to_timestamp($2), last_agent_at = to_timestamp($2), "
	    "first_response_at = COALESCE(t.first_response_at, "
	    "to_timestamp($2)), last_customer_at = CASE WHEN $3::boolean "
	    "THEN NULL ELSE t.last_customer_at END FROM old WHERE t.id = "
	    "old.id RETURNING (old.first_response_at IS NULL)::int"};
	char a[24], b[24];
	const char *vals[] = {store_i64(a, id), store_i64(b, at),
	                      opened_by_agent ? "t" : "f"};
	gint64 first = 0;
	int r = store_int(st, &stmt, 3, vals, &first);

	if (r == 0)
		return -ENOENT;
	return r < 0 ? r : first > 0;
}

int
store_responder_record(struct store *st, gint64 ticket, gint64 msg,
                       const char *who, gint64 at)
{
	/* One statement: the message learns its responder, the ticket its
	 * first one, and ticket_response this person's first response on
	 * it (the primary key makes "first" exact across instances). */
	static const struct store_stmt stmt = {
	    "responder record",
	    "WITH m AS (UPDATE message SET responder = $3 WHERE id = $2), "
	    "t AS (UPDATE ticket SET first_responder = COALESCE("
	    "first_responder, $3) WHERE id = $1) "
	    "INSERT INTO ticket_response (ticket_id, responder, first_at, "
	    "msg_id) VALUES ($1, $3, to_timestamp($4), $2) ON CONFLICT DO "
	    "NOTHING RETURNING 1"};
	char a[24], b[24], c[24];
	const char *vals[] = {store_i64(a, ticket), store_i64(b, msg), who,
	                      store_i64(c, at)};

	return store_has_row(st, &stmt, 4, vals);
}

int
store_ticket_assign_if_none(struct store *st, gint64 ticket, const char *who)
{
	static const struct store_stmt stmt = {
	    "ticket assign if none",
	    "UPDATE ticket SET assignee = $2 WHERE id = $1 AND (assignee IS "
	    "NULL OR assignee = '')"};
	char a[24];
	const char *vals[] = {store_i64(a, ticket), who};
	gint64 n = store_changed(st, &stmt, 2, vals);

	return n < 0 ? (int)n : n > 0;
}

int
store_notice_info(struct store *st, gint64 ticket, struct store_notice_info *n)
{
	/* the customer's newest words as ingest cut them (body_new): a
	 * notice carries them, never the quoted history */
	static const struct store_stmt stmt = {
	    "notice info",
	    "SELECT t.assignee, t.status, t.priority, t.subject, t.requester, "
	    "(SELECT m.body_new FROM message m WHERE m.ticket_id = t.id AND "
	    "m.role = 'customer' ORDER BY m.id DESC LIMIT 1), (SELECT "
	    "m.message_id FROM message m WHERE m.ticket_id = t.id AND m.role "
	    "= 'customer' ORDER BY m.id DESC LIMIT 1) FROM ticket t WHERE "
	    "t.id = $1"};
	char a[24];
	const char *vals[] = {store_i64(a, ticket)};
	char **f[] = {&n->assignee,  &n->status,    &n->priority,  &n->subject,
	              &n->requester, &n->last_text, &n->last_msgid};
	int r;
	PGresult *res = store_one_row(st, &stmt, 1, vals, &r);

	memset(n, 0, sizeof(*n));
	if (res == NULL)
		return r;
	for (size_t i = 0; i < ARRAY_SIZE(f); i++)
		*f[i] = store_strdup_col(res, 0, (int)i);
	PQclear(res);
	return 0;
}

void
store_notice_info_clear(struct store_notice_info *n)
{
	g_free(n->assignee);
	g_free(n->status);
	g_free(n->priority);
	g_free(n->subject);
	g_free(n->requester);
	g_free(n->last_text);
	g_free(n->last_msgid);
	memset(n, 0, sizeof(*n));
}

int
store_collision(struct store *st, gint64 ticket, gint64 msg, const char *who,
                gint64 since, char **other_r)
{
	/* "the same customer mail": both replies came after the ticket's
	 * newest customer message (ids: the order of arrival, finer than
	 * received's seconds); only who's first reply to it counts, so one
	 * collision is reported once */
	static const struct store_stmt stmt = {
	    "collision",
	    "WITH lc AS (SELECT COALESCE(max(id), 0) AS id FROM message "
	    "WHERE ticket_id = $1 AND role = 'customer') SELECT m.responder "
	    "FROM message m, lc WHERE m.ticket_id = $1 AND m.role = 'agent' "
	    "AND m.id <> $2 AND m.responder IS NOT NULL AND m.responder <> $3 "
	    "AND m.id > lc.id AND m.received >= to_timestamp($4) AND NOT "
	    "EXISTS (SELECT 1 FROM message o WHERE o.ticket_id = $1 AND "
	    "o.role = 'agent' AND o.id <> $2 AND o.responder = $3 AND o.id > "
	    "lc.id) ORDER BY m.id DESC LIMIT 1"};
	char a[24], b[24], c[24];
	const char *vals[] = {store_i64(a, ticket), store_i64(b, msg), who,
	                      store_i64(c, since)};
	int r;
	PGresult *res = store_run(st, &stmt, 4, vals, NULL, NULL, &r);

	*other_r = NULL;
	if (res == NULL)
		return r;
	r = PQntuples(res) > 0;
	if (r)
		*other_r = g_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return r;
}

int
store_agent_time_bounds(struct store *st, gint64 ticket, GPtrArray *answers,
                        gint64 *floor_r, gint64 *last_customer_r)
{
	/* whole seconds on both sides: a Date has no fraction.  The answered
	 * mails are found by Message-ID (at most 20, each on
	 * message_msgid_idx); "ticket_id + 0" keeps the generic plan off
	 * message_ticket_idx, which read every message of the ticket: 20,000
	 * rows, 5 ms, for each agent reply to a ticket that long (a loop, or
	 * years of one customer). */
	static const struct store_stmt stmt = {
	    "agent time bounds",
	    "SELECT GREATEST(floor(extract(epoch FROM t.created)), COALESCE(("
	    "SELECT floor(extract(epoch FROM max(m.received))) FROM message m "
	    "WHERE m.message_id = ANY($2::text[]) AND m.ticket_id + 0 = t.id), "
	    "0))::bigint, COALESCE(floor(extract(epoch FROM "
	    "t.last_customer_at)), 0)::bigint FROM ticket t WHERE t.id = $1"};
	g_autoptr(GPtrArray) ids = g_ptr_array_new();
	g_autofree char *arr = NULL;
	char a[24];
	const char *vals[2];
	int r;
	PGresult *res;

	/* bounded: a mail may list thousands of ids */
	for (guint i = 0; answers && i < answers->len && i < 20; i++)
		g_ptr_array_add(ids, answers->pdata[i]);
	arr = store_text_array(ids);
	vals[0] = store_i64(a, ticket);
	vals[1] = arr;
	if ((res = store_one_row(st, &stmt, 2, vals, &r)) == NULL)
		return r;
	*floor_r = store_col(res, 0, 0);
	*last_customer_r = store_col(res, 0, 1);
	PQclear(res);
	return 0;
}

int
store_requester_language(struct store *st, const char *addr, gint64 except,
                         char **lang_r)
{
	/* prepared: as plain SQL it was planned for every new ticket, and
	 * the planning cost eight times the query (pg_stat_statements) */
	static const struct store_stmt stmt = {
	    "requester language",
	    STORE_REQUESTER_LANG("lower($1)", " AND id <> $2")};
	char e[24];
	const char *vals[] = {addr, store_i64(e, except)};

	return store_text_of(st, &stmt, 2, vals, lang_r);
}

/* ---- participants ---- */

int
store_is_participant(struct store *st, gint64 ticket, const char *addr)
{
	static const struct store_stmt stmt = {
	    "is participant",
	    "SELECT 1 FROM participant WHERE ticket_id = $1 AND "
	    "addr = $2"};
	char a[24];
	const char *vals[] = {store_i64(a, ticket), addr};

	return store_has_row(st, &stmt, 2, vals);
}

int
store_participant_domain(struct store *st, gint64 ticket, const char *domain)
{
	static const struct store_stmt stmt = {
	    "participant domain",
	    "SELECT 1 FROM participant WHERE ticket_id = $1 AND "
	    "role <> 'agent' AND split_part(addr, '@', 2) = $2 "
	    "LIMIT 1"};
	char a[24];
	const char *vals[] = {store_i64(a, ticket), domain};

	return store_has_row(st, &stmt, 2, vals);
}

/* store_participant - a participant row by s (add or set). */
static int
store_participant(struct store *st, const struct store_stmt *s, gint64 ticket,
                  const char *addr, const char *name, const char *role)
{
	char a[24];
	const char *vals[] = {store_i64(a, ticket), addr, name, role};

	return store_exec(st, s, 4, vals);
}

int
store_participant_add(struct store *st, gint64 ticket, const char *addr,
                      const char *name, const char *role)
{
	char a[24];
	const char *vals[] = {store_i64(a, ticket), addr, name, role};

	/* in a batch one statement with the batch's others (store_keep.c) */
	return store_keep(st, STORE_KEEP_PARTICIPANT, vals, NULL);
}

int
store_participant_set(struct store *st, gint64 ticket, const char *addr,
                      const char *name, const char *role)
{
	static const struct store_stmt stmt = {
	    "participant set",
	    "INSERT INTO participant (ticket_id, addr, name, role) "
	    "VALUES ($1, $2, $3, $4) ON CONFLICT (ticket_id, addr) "
	    "DO UPDATE SET role = $4"};

	return store_participant(st, &stmt, ticket, addr, name, role);
}

/* ---- quarantine: mail that could not be stored (sql/011) ---- */

int
store_quarantine_add(struct store *st, const struct store_quarantine *q)
{
	/* kept once per raw mail; the mailbox's last error says why, for
	 * tickctl status */
	static const struct store_stmt stmt = {
	    "quarantine add",
	    "WITH q AS (INSERT INTO quarantine (mailbox, source, uidvalidity, "
	    "uid, raw_sha256, error, size, raw, received) VALUES ($1, $2, $3, "
	    "$4, encode(sha256($8), 'hex'), $5, $6, $8, to_timestamp($7)) ON "
	    "CONFLICT (raw_sha256) DO NOTHING RETURNING id), s AS (UPDATE "
	    "mailbox_state SET last_error = $5, last_error_at = now() WHERE "
	    "mailbox = $1) SELECT count(*) FROM q"};
	char a[24], b[24], c[24], d[24];
	const char *vals[8] = {q->mailbox,
	                       q->source,
	                       q->mailbox ? store_i64(a, q->uidvalidity) : NULL,
	                       q->mailbox ? store_i64(b, q->uid) : NULL,
	                       q->error,
	                       store_i64(c, (gint64)q->raw_len),
	                       store_i64(d, q->received),
	                       q->raw};
	int lens[8] = {0, 0, 0, 0, 0, 0, 0, (int)q->raw_len};
	int fmts[8] = {0, 0, 0, 0, 0, 0, 0, 1};
	int r;
	PGresult *res = store_run(st, &stmt, 8, vals, lens, fmts, &r);

	if (res == NULL)
		return r;
	r = store_col(res, 0, 0) > 0;
	PQclear(res);
	return r;
}

/* ---- the message, its attachments, events ---- */

int
store_message_add(struct store *st, const struct store_message *m, gint64 *id_r)
{
	static const struct store_stmt stmt = {
	    "message add",
	    "INSERT INTO message (ticket_id, dedupe_key, message_id, "
	    "direction, role, class, class_reason, source, from_addr, "
	    "from_name, to_addrs, cc_addrs, subject, body_text, body_new, "
	    "body_html, defects, sent_date, received, unparsed, size, raw) "
	    "VALUES (NULLIF($1, 0), $2, $3, $4, $5, $6, $7, $8, $9, $10, "
	    "$11, $12, $13, "
	    "$14, $15, $16, $17::text[], to_timestamp(NULLIF($18, 0)), "
	    "to_timestamp($19), $20, $21, $22) "
	    "ON CONFLICT (dedupe_key) DO NOTHING RETURNING id"};
	static const struct store_stmt deferred = {
	    "message add id",
	    "INSERT INTO message (ticket_id, dedupe_key, message_id, "
	    "direction, role, class, class_reason, source, from_addr, "
	    "from_name, to_addrs, cc_addrs, subject, body_text, body_new, "
	    "body_html, defects, sent_date, received, unparsed, size, raw, id) "
	    "VALUES (NULLIF($1, 0), $2, $3, $4, $5, $6, $7, $8, $9, $10, "
	    "$11, $12, $13, "
	    "$14, $15, $16, $17::text[], to_timestamp(NULLIF($18, 0)), "
	    "to_timestamp($19), $20, $21, $22, $23)"};
	char a[24], b[24], c[24], d[24], e[24];
	g_autofree char *defects = NULL;
	const char *vals[23];
	int lens[23] = {0}, fmts[23] = {0};
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
	if (st->pipe) {
		/* in a batch: the id drawn beforehand, the insert not waited
		 * for; a taken dedupe key fails it (-EEXIST, from a later
		 * call of this mail) instead of returning no row */
		if ((r = store_message_id(st, id_r)) < 0)
			return r;
		vals[22] = store_i64(e, *id_r);
		return store_send(st, &deferred, 23, vals, lens, fmts);
	}
	res = store_run(st, &stmt, 22, vals, lens, fmts, &r);
	if (res == NULL)
		return r;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return -EEXIST;
	}
	*id_r = store_col(res, 0, 0);
	PQclear(res);
	return 0;
}

int
store_attachment_add(struct store *st, gint64 message, const char *name,
                     const char *type, const char *cid, bool is_inline,
                     const void *data, size_t len, bool keep_data)
{
	static const struct store_stmt stmt = {
	    "attachment add",
	    "INSERT INTO attachment (message_id, filename, "
	    "content_type, content_id, is_inline, size, data) VALUES "
	    "($1, $2, $3, $4, $5, $6, $7)"};
	char a[24], b[24];
	const char *vals[] = {store_i64(a, message),
	                      name,
	                      type,
	                      cid,
	                      is_inline ? "t" : "f",
	                      store_i64(b, (gint64)len),
	                      keep_data ? data : NULL};
	int lens[7] = {0, 0, 0, 0, 0, 0, (int)len};
	int fmts[7] = {0, 0, 0, 0, 0, 0, 1};

	return store_send(st, &stmt, 7, vals, lens, fmts);
}

/* An event written before its mail's message row: at once, in the
 * mail's own savepoint, where store_event_attach finds it.  After the
 * kept events of its ticket (in order), not after every kept row. */
static const struct store_stmt store_event_loose = {
    "event loose",
    "INSERT INTO event (ticket_id, actor, action, detail, message_id) "
    "VALUES ($1, $2, $3, $4, NULLIF($5, 0))"};

int
store_event_add(struct store *st, gint64 ticket, const char *actor,
                const char *action, const char *detail, gint64 message)
{
	char a[24], b[24];
	const char *vals[] = {store_i64(a, ticket), actor, action, detail,
	                      store_i64(b, message)};
	int r;

	if (message <= 0) {
		st->loose_events = true;
		if (store_keep_ticket(st, STORE_KEEP_EVENT, ticket) &&
		    (r = store_keep_flush(st)) < 0)
			return r;
		return store_exec_unordered(st, &store_event_loose, 5, vals);
	}
	return store_keep(st, STORE_KEEP_EVENT, vals, NULL);
}

int
store_event_global(struct store *st, const char *actor, const char *action,
                   const char *detail, gint64 message)
{
	char a[24];
	const char *vals[] = {NULL, actor, action, detail,
	                      store_i64(a, message)};

	return store_keep(st, STORE_KEEP_EVENT, vals, NULL);
}

int
store_event_attach(struct store *st, gint64 ticket, gint64 message)
{
	/* Events written earlier for this mail, before the message row
	 * existed, get the message that caused them: those of the same
	 * (sub)transaction as the message row, since in a fetch batch each
	 * mail has its own savepoint, whose xid is not the top-level
	 * pg_current_xact_id().  Skipped when the mail wrote none (a new
	 * ticket writes its first events after its message): an UPDATE of
	 * nothing still costs a statement. */
	static const struct store_stmt stmt = {
	    "event attach",
	    "UPDATE event SET message_id = $2 WHERE ticket_id = $1 AND "
	    "message_id IS NULL AND xmin = (SELECT m.xmin FROM message m "
	    "WHERE m.id = $2)"};
	char a[24], b[24];
	const char *vals[] = {store_i64(a, ticket), store_i64(b, message)};

	if (!st->loose_events)
		return 0;
	/* (only rows store_event_loose wrote: never kept ones) */
	return store_exec_unordered(st, &stmt, 2, vals);
}
