/*
 * store.h - PostgreSQL via libpq: the only libpq user.  Owns the
 * connection, its prepared statements (re-prepared after every reconnect,
 * since a reset loses them), transactions, migrations and every SQL text.
 * A PGresult never leaves store.c.
 *
 * Errors: -ENOTCONN when the connection is gone (transient: the caller
 * retries the WHOLE transaction later), -EAGAIN for serialization failures
 * and deadlocks, -EEXIST for a unique violation, -EPROTO for anything else
 * (logged once here with PostgreSQL's text).
 */
#ifndef TICKD_STORE_H
#define TICKD_STORE_H

#include "common.h"

#include <glib.h>

struct store;

struct store_migration {
	int version;
	const char *name;
	const char *sql;
};
/* Generated from sql/NNN_*.sql by sql/embed.sh; ends with {0,NULL,NULL}. */
extern const struct store_migration store_migrations[];

/*
 * store_open - connect.  0 and *st_r, or -ENOTCONN (the text is logged).
 * The connection is not checked for the schema; see store_schema_check.
 */
int store_open(const char *conninfo, struct store **st_r);
void store_free(struct store **st);

/* store_reconnect - drop and reopen the connection if it is bad. 0/-E. */
int store_reconnect(struct store *st);
bool store_connected(const struct store *st);
/* store_generation - changes on every (re)connect: session state such as
 * advisory locks must be taken again when it differs. */
unsigned store_generation(const struct store *st);
const char *store_error(const struct store *st);

/* store_migrate - apply missing migrations; *applied_r how many. */
int store_migrate(struct store *st, int *applied_r);
/* store_schema_check - 0 when the schema is the one this build expects,
 * -EPROTO (with a log line saying what to do) otherwise. */
int store_schema_check(struct store *st);

int store_begin(struct store *st);
int store_commit(struct store *st);
void store_rollback(struct store *st);

/*
 * Batches: several mails in ONE transaction.  Between store_batch_begin
 * and store_batch_end, store_begin/commit/rollback become SAVEPOINT /
 * RELEASE / ROLLBACK TO SAVEPOINT, so code written for one transaction per
 * mail (ingest_mail) runs unchanged, a failing mail undoes only its own
 * work, and nothing is durable before store_batch_end(st, true).
 * store_batch_end commits (commit true) or rolls back the whole batch; a
 * failed COMMIT rolls back and returns -E (the whole batch is then to be
 * fetched again; the dedupe keys make a COMMIT that did land harmless).
 * A reconnect ends a batch.  0 or -E; -EINVAL for a nested batch.
 */
int store_batch_begin(struct store *st);
int store_batch_end(struct store *st, bool commit);
bool store_in_batch(const struct store *st);

/* Session advisory locks (scale-out: one fetcher per mailbox).  1 = got
 * it, 0 = another instance holds it, -E. Lost on reconnect. */
int store_try_lock(struct store *st, const char *name);
void store_unlock(struct store *st, const char *name);

/* ---- the IMAP cursor ---- */
struct store_cursor {
	gint64 uidvalidity, last_uid, marked_uid;
};
/* 0, or -ENOENT when the mailbox was never seen. */
int store_cursor_get(struct store *st, const char *mailbox,
		     struct store_cursor *c_r);
int store_cursor_set(struct store *st, const char *mailbox,
		     gint64 uidvalidity, gint64 last_uid);
int store_cursor_reset(struct store *st, const char *mailbox,
		       gint64 uidvalidity);
int store_cursor_marked(struct store *st, const char *mailbox,
			gint64 marked_uid);
/* store_cursor_result - record a fetch outcome (err NULL = success). */
int store_cursor_result(struct store *st, const char *mailbox,
			const char *err);

/* ---- ingestion ---- */
struct store_ticket {
	gint64 id;
	char status[16];
	char priority[16];
	char *requester;   /* owned */
	char *subject;	   /* owned */
	char *queue;	   /* owned */
	gint64 closed_at;  /* unix seconds or 0 */
	gint64 resolved_at;
};
void store_ticket_clear(struct store_ticket *t);

/* store_dedupe - 1 when a message with this dedupe key exists (its ticket,
 * 0 for none, in *ticket_r), 0 when not, -E. */
int store_dedupe(struct store *st, const char *dedupe_key, gint64 *ticket_r);
/* store_ticket_by_msgids - newest ticket holding a message whose
 * Message-ID is one of ids (char*), or 0; -E on error. */
gint64 store_ticket_by_msgids(struct store *st, GPtrArray *ids);
/* store_ticket_get - 0, -ENOENT, -E. */
int store_ticket_get(struct store *st, gint64 id, struct store_ticket *t_r);
/* store_is_participant - 1 yes, 0 no, -E. */
int store_is_participant(struct store *st, gint64 ticket, const char *addr);
/* store_participant_domain - 1 when some participant has this domain. */
int store_participant_domain(struct store *st, gint64 ticket,
			     const char *domain);

struct store_new_ticket {
	const char *queue, *subject, *requester, *requester_name;
	const char *priority, *language, *review_reason;
	bool needs_review;
	gint64 linked_ticket; /* 0 = none */
	gint64 at;	      /* unix seconds */
};
/* store_ticket_create - *id_r is the new ticket number. */
int store_ticket_create(struct store *st, const struct store_new_ticket *n,
			gint64 *id_r);
/* store_ticket_touch - after a customer (customer=true) or agent mail. */
int store_ticket_touch(struct store *st, gint64 id, bool customer,
		       gint64 at);
int store_ticket_set_status(struct store *st, gint64 id, const char *status,
			    gint64 at);
int store_ticket_set_field(struct store *st, gint64 id, const char *field,
			   const char *value);
int store_participant_add(struct store *st, gint64 ticket, const char *addr,
			  const char *name, const char *role);

struct store_message {
	gint64 ticket_id;
	const char *dedupe_key, *message_id, *direction, *role, *cls;
	const char *class_reason, *source;
	const char *from_addr, *from_name, *to_addrs, *cc_addrs, *subject;
	const char *body_text, *body_new, *body_html;
	GPtrArray *defects; /* char* or NULL */
	gint64 sent_date, received;
	bool unparsed;
	const void *raw;
	size_t raw_len;
};
/* store_message_add - *id_r the new id; -EEXIST when the dedupe key is
 * taken (the transaction is then aborted: roll back and retry). */
int store_message_add(struct store *st, const struct store_message *m,
		      gint64 *id_r);
int store_attachment_add(struct store *st, gint64 message, const char *name,
			 const char *type, const char *cid, bool is_inline,
			 const void *data, size_t len, bool keep_data);
int store_event_add(struct store *st, gint64 ticket, const char *actor,
		    const char *action, const char *detail, gint64 message);

/* ---- outbox ---- */
int store_outbox_add(struct store *st, gint64 ticket, gint64 message,
		     const char *kind, const char *env_from, const char *rcpt,
		     const void *data, size_t len);
/* store_auto_count - automatic mails queued for rcpt (or for ticket when
 * rcpt is NULL) in the last seconds, suppressed ones excluded. */
gint64 store_auto_count(struct store *st, const char *rcpt, gint64 ticket,
			int seconds);
/* store_suppressed - 1 when addr gets no automatic mail now. */
int store_suppressed(struct store *st, const char *addr);
int store_suppress(struct store *st, const char *addr, const char *reason,
		   int days);

struct store_outmail {
	gint64 id, ticket_id;
	char *kind, *env_from, *rcpt; /* owned */
	GBytes *data;		      /* owned */
	int attempts;
	gint64 created;
};
void store_outmail_free(gpointer p);
/*
 * store_outbox_claim - lease up to limit due mails (queued, or sending with
 * an expired lease) to owner for lease_secs, oldest first, with FOR UPDATE
 * SKIP LOCKED so that several instances never take the same mail.
 * Appends struct store_outmail* to out (free func store_outmail_free).
 */
int store_outbox_claim(struct store *st, const char *owner, int lease_secs,
		       int limit, GPtrArray *out);
/*
 * store_conn_state - record that instance's connection name ("database",
 * "imap-idle", "smtp") is now in state ("up", "failing", "idle",
 * "polling"); err NULL keeps the last error.  For tickctl status; call on
 * changes only.  0 or -E.
 */
int store_conn_state(struct store *st, const char *instance, const char *name,
		     const char *state, const char *err);
/*
 * store_instance_register - mark this session as belonging to the live
 * instance name (a shared advisory lock, gone with the session).  Call on
 * every (re)connect of a connection that claims outbox mail: leases of an
 * instance with no such session are taken over at once.  0 or -E.
 */
int store_instance_register(struct store *st, const char *name);
/* store_outbox_release - give back leases held under owner's name (or
 * owner's sender threads' "owner#n"): at start-up they belong to our own
 * dead predecessor, after a reconnect to our own lost session.  Count or
 * -E. */
int store_outbox_release(struct store *st, const char *owner);
int store_outbox_sent(struct store *st, gint64 id, int code);
int store_outbox_retry(struct store *st, gint64 id, int code,
		       const char *err, int delay_secs);
int store_outbox_failed(struct store *st, gint64 id, int code,
			const char *err);
/* store_outbox_next_due - seconds until the next queued mail is due
 * (0 = now), or -1 when the outbox is empty. */
gint64 store_outbox_next_due(struct store *st);

/* ---- tickctl views (JSON written into out) ---- */
int store_tickets_json(struct store *st, const char *status, GString *out,
		       bool pretty);
int store_ticket_json(struct store *st, gint64 id, GString *out, bool pretty);
int store_status_json(struct store *st, GString *out, bool pretty);

#endif
