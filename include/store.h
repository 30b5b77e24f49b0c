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
 *
 * Inside a batch the connection is in libpq pipeline mode: a call whose
 * result is only 0 or -E (an event, a participant, the cursor, an outbox
 * row...) may return 0 before the server has run it, and its failure is
 * then returned by a later call of the same mail, store_commit at the
 * latest.  So within a mail, treat any error as the mail's (roll it back)
 * and do not branch on a deferred call's success.
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
int store_cursor_set(struct store *st, const char *mailbox, gint64 uidvalidity,
                     gint64 last_uid);
int store_cursor_reset(struct store *st, const char *mailbox,
                       gint64 uidvalidity);
int store_cursor_marked(struct store *st, const char *mailbox,
                        gint64 marked_uid);
/* store_cursor_result - record a fetch outcome (err NULL = success). */
int store_cursor_result(struct store *st, const char *mailbox, const char *err);

/* ---- ingestion ---- */
struct store_ticket {
	gint64 id;
	char status[16];
	char priority[16];
	char *requester;  /* owned */
	char *subject;    /* owned */
	char *queue;      /* owned */
	gint64 closed_at; /* unix seconds or 0 */
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
	gint64 at;            /* unix seconds */
};
/* store_ticket_create - *id_r is the new ticket number. */
int store_ticket_create(struct store *st, const struct store_new_ticket *n,
                        gint64 *id_r);
/* store_ticket_touch - after a customer (customer=true) or agent mail. */
int store_ticket_touch(struct store *st, gint64 id, bool customer, gint64 at);
int store_ticket_set_status(struct store *st, gint64 id, const char *status,
                            gint64 at);
int store_ticket_set_field(struct store *st, gint64 id, const char *field,
                           const char *value);
int store_participant_add(struct store *st, gint64 ticket, const char *addr,
                          const char *name, const char *role);
/* store_participant_set - like store_participant_add, but an existing
 * row takes this role. 0/-E. */
int store_participant_set(struct store *st, gint64 ticket, const char *addr,
                          const char *name, const char *role);
/*
 * store_ticket_agent_touch - an agent's mail at `at`: last_agent_at, and
 * first_response_at unless already set; opened_by_agent (the agent's mail
 * created the ticket) clears last_customer_at, nobody waits for us.
 * 1 when this call recorded the first response, 0 when not, -ENOENT, -E.
 */
int store_ticket_agent_touch(struct store *st, gint64 id, gint64 at,
                             bool opened_by_agent);

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
/* store_event_attach - events of ticket written earlier in the current
 * transaction without a message now point at message. 0/-E. */
int store_event_attach(struct store *st, gint64 ticket, gint64 message);

/* ---- outbox ---- */
/*
 * store_outbox_add_auto - queue customer-facing automatic mail (plain
 * store_outbox_add: mail to our own people, never a repeat):
 * sender is the identity of the mail that caused it (limit_identity; NULL
 * for none), is_repeat whether that recipient or sender identity got
 * automatic mail in the last day already (only repeats count for, and are
 * held by, the circuit breaker: limit.h).
 */
int store_outbox_add_auto(struct store *st, gint64 ticket, gint64 message,
                          const char *kind, const char *env_from,
                          const char *rcpt, const void *data, size_t len,
                          const char *sender, bool is_repeat);
int store_outbox_add(struct store *st, gint64 ticket, gint64 message,
                     const char *kind, const char *env_from, const char *rcpt,
                     const void *data, size_t len);
/* store_suppressed - 1 when addr gets no automatic mail now. */
int store_suppressed(struct store *st, const char *addr);
int store_suppress(struct store *st, const char *addr, const char *reason,
                   int days);

struct store_outmail {
	gint64 id, ticket_id;
	char *kind, *env_from, *rcpt; /* owned */
	GBytes *data;                 /* owned */
	int attempts;
	gint64 created;
	bool is_repeat; /* see store_outbox_add_auto */
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
int store_outbox_retry(struct store *st, gint64 id, int code, const char *err,
                       int delay_secs);
int store_outbox_failed(struct store *st, gint64 id, int code, const char *err);
/* store_outbox_next_due - seconds until the next queued mail is due
 * (0 = now), or -1 when the outbox is empty. */
gint64 store_outbox_next_due(struct store *st);

/* ---- send limits and the circuit breaker (sql/002_limits.sql) ---- */
/* store_auto_count_global - automatic mails queued in the last seconds,
 * suppressed ones excluded; -E.  May be up to a second old for mail other
 * connections queued (this connection's own is always counted). */
gint64 store_auto_count_global(struct store *st, int seconds);
/* store_sent_count_global - mails sent in the last seconds, as stale as
 * store_auto_count_global; -E. */
gint64 store_sent_count_global(struct store *st, int seconds);
/* store_limit_counts - automatic mails to rcpt in the last rcpt_secs and
 * for ticket (0: none) in the last ticket_secs: queued and not suppressed
 * (sent false), or sent, escalation notices and digests left out (sent
 * true).  One statement: it runs for every acknowledgement.  0 or -E. */
int store_limit_counts(struct store *st, bool sent, const char *rcpt,
                       gint64 ticket, int rcpt_secs, int ticket_secs,
                       gint64 *rcpt_r, gint64 *ticket_r);
/* store_limit_counts_sender - store_limit_counts (queued) and, in the
 * same statement, the automatic mails that sender identity caused in the
 * last rcpt_secs (outbox.sender).  0 or -E. */
int store_limit_counts_sender(struct store *st, const char *rcpt,
                              const char *sender, gint64 ticket, int rcpt_secs,
                              int ticket_secs, gint64 *rcpt_r, gint64 *ticket_r,
                              gint64 *sender_r);
/* store_outbox_suppress - a leased mail will never be sent (a limit). */
int store_outbox_suppress(struct store *st, gint64 id, const char *why);
/* store_outbox_hold - push every queued mail at least secs into the future
 * with last_error why (which starts with "held:"); rows or -E. */
gint64 store_outbox_hold(struct store *st, int secs, const char *why);
/* store_outbox_unhold - held mails are due now; rows or -E. */
gint64 store_outbox_unhold(struct store *st);

struct store_breaker {
	bool open;    /* open now (cool-down not yet over) */
	gint64 until; /* unix seconds, 0 = until an admin resets it */
	char reason[160];
};
/* store_breaker_get - the breaker's state; never tripped = closed.  0/-E. */
int store_breaker_get(struct store *st, const char *name,
                      struct store_breaker *b_r);
/* store_breaker_trip - open it for cooldown seconds (0: until reset). */
int store_breaker_trip(struct store *st, const char *name, int cooldown,
                       const char *reason);
/* store_breaker_reset - close it; 1 when it was open, 0 when not, -E. */
int store_breaker_reset(struct store *st, const char *name, const char *actor);
/* store_out_rcpt_by_msgid - the recipient of the mail tickd sent with this
 * Message-ID, or NULL (not ours, or an error).  g_free. */
char *store_out_rcpt_by_msgid(struct store *st, const char *message_id);

/* ---- tickctl views (JSON written into out) ---- */
int store_tickets_json(struct store *st, const char *status, GString *out,
                       bool pretty);
int store_ticket_json(struct store *st, gint64 id, GString *out, bool pretty);
int store_status_json(struct store *st, GString *out, bool pretty);

/* ---- quarantine: mail that could not be stored (sql/011) ---- */

struct store_table;

struct store_quarantine {
	const char *mailbox; /* cursor key, or NULL (tickctl import) */
	const char *source;  /* label, never NULL */
	gint64 uidvalidity, uid;
	const char *error; /* why, UTF-8, bounded by the caller */
	const void *raw;   /* the mail as it came */
	size_t raw_len;
	gint64 received; /* unix seconds */
};

/*
 * store_quarantine_add - keep a mail that could not be stored, with the
 * error, and make the error its mailbox's last error.  1 when kept, 0
 * when these raw bytes were kept before (a fetch again), -E.  The caller
 * moves the cursor in the same transaction.
 */
int store_quarantine_add(struct store *st, const struct store_quarantine *q);

/* store_quarantine_list - every kept mail (id, mailbox, uid, received,
 * size, error), oldest first; into t, or with t NULL as JSON into out. */
int store_quarantine_list(struct store *st, struct store_table *t, GString *out,
                          bool pretty);

/* store_quarantine_raw - the raw bytes of kept mail id into *raw_r
 * (caller g_bytes_unref); -ENOENT, -E. */
int store_quarantine_raw(struct store *st, gint64 id, GBytes **raw_r);

/* ---- tickctl admin views and changes (issue 8) ---- */

/* A result as text cells, for tickctl's tables: column names and rows of
 * ncols cells each (NULL = SQL NULL).  Owned; store_table_clear frees. */
struct store_table {
	GPtrArray *cols; /* char*, owned */
	GPtrArray *rows; /* GPtrArray* of char* (owned) per row */
};
void store_table_init(struct store_table *t);
void store_table_clear(struct store_table *t);

/* Filters of `tickctl tickets`; NULL = any. */
struct store_ticket_filter {
	const char *status, *queue, *priority, *assignee;
	bool breached; /* only tickets whose SLA clocks show a breach */
};

/* store_tickets_list - tickets matching f, oldest first; into t (table)
 * or, when t is NULL, as a JSON array into out. 0 / -E. */
int store_tickets_list(struct store *st, const struct store_ticket_filter *f,
                       struct store_table *t, GString *out, bool pretty);

/* Named admin views for `tickctl status` and `tickctl outbox`, each as a
 * table (t) or a JSON array (t NULL, out). */
enum store_view {
	STORE_VIEW_MAILBOXES,  /* cursor, last ok fetch, lag, last error */
	STORE_VIEW_OUTBOX,     /* backlog: count, oldest, failed */
	STORE_VIEW_SUPPRESSED, /* addresses that get no automatic mail now */
	STORE_VIEW_OUTBOX_PENDING, /* queued/sending/failed rows */
	STORE_VIEW_OUTBOX_ALL,     /* the newest 100 rows, any state */
	STORE_VIEW_REVIEW,         /* quarantined mails, tickets to review */
};
int store_view(struct store *st, enum store_view v, struct store_table *t,
               GString *out, bool pretty);

/* store_outbox_backlog - queued or sending mails, -E. */
gint64 store_outbox_backlog(struct store *st);

/* store_outbox_requeue - make a failed (or waiting) outbox row due now.
 * Its ticket (0 if none) in *ticket_r.  0, -ENOENT, -EALREADY (already
 * sent), -EPERM (suppressed: the address must get nothing), -E. */
int store_outbox_requeue(struct store *st, gint64 id, gint64 *ticket_r);

/* store_ticket_assignee - the ticket's assignee into *assignee_r
 * (g_free, NULL when unassigned).  0, -ENOENT, -E. */
int store_ticket_assignee(struct store *st, gint64 id, char **assignee_r);
/* ---- reports and CSAT (issue 11; tables in sql/005_report.sql) ---- */
struct report;
/*
 * store_report_load - feed r (report.h) with the ticket rows and the
 * pre-counted rows for r's two periods, optionally only for one queue
 * and/or one assignee, in one REPEATABLE READ snapshot (inside the
 * caller's transaction when there is one).  Tickets stream through a
 * cursor, so memory does not grow with the row count here.
 * Escalations are event rows with action 'escalated' (escalate.c), level
 * = N of a detail starting "level N", else 1 (immediate escalations).
 * Tickets come with their sla_clock state when it is current.
 */
int store_report_load(struct store *st, struct report *r, const char *queue,
                      const char *agent);

struct store_resolved {
	gint64 id, resolved_at;
	char *requester, *requester_name, *subject, *queue; /* owned */
};
void store_resolved_free(gpointer p);
/* store_csat_due - up to limit tickets of queue resolved less than
 * max_age_secs ago with no resolution mail for this resolution and no
 * rating yet; appends struct store_resolved* (free func
 * store_resolved_free). */
int store_csat_due(struct store *st, const char *queue, int max_age_secs,
                   int limit, GPtrArray *out);
/* store_event_global - an audit event about no ticket (a forged rating). */
int store_event_global(struct store *st, const char *actor, const char *action,
                       const char *detail, gint64 message);
/* store_csat_request - claim the resolution mail of ticket's current
 * resolution: 1 ours to send, 0 already claimed (or not resolved), -E. */
int store_csat_request(struct store *st, gint64 ticket);
/* store_csat_rate - record the ticket's rating: 1 recorded, 0 the ticket
 * was already rated (nothing changed), -E. */
int store_csat_rate(struct store *st, gint64 ticket, const char *rating,
                    const char *comment, const char *from, gint64 message,
                    gint64 at);
/* store_digest_claim - claim the digest of (schedule, period): 1 ours to
 * send, 0 sent already (by us or another instance), -E. */
int store_digest_claim(struct store *st, const char *schedule, gint64 start,
                       gint64 end);

/* ---- SLA clocks and escalation (issue 7); see escalate.h ---- */

/* store_sla_lock - the transaction-scoped escalation lock: 1 = ours,
 * 0 = another instance is escalating right now, -E. */
int store_sla_lock(struct store *st);

/* One sla_clock row with what the tick needs of its ticket.  v[] holds
 * struct sla_ticket's bookkeeping in this order: status,
 * first_response_at, last_customer_at, last_agent_at, resolved_at,
 * run_since, paused_since, resolution_run_secs, awaiting_since,
 * response_run_secs, first_response_secs. */
#define STORE_SLA_NV 11
struct store_sla_row {
	gint64 ticket_id;
	char *queue; /* owned */
	char priority[16], status[16];
	gint64 created;
	bool agent_opened; /* the ticket's first message is an agent's */
	bool initialized;  /* v[] holds state (false: a new ticket) */
	gint64 v[STORE_SLA_NV];
	gint64 esc_start[3], esc_fired[3];
	char *immediate; /* owned: why to escalate at once, or NULL */
};
void store_sla_row_free(gpointer p);
/* store_sla_due - lock (FOR UPDATE SKIP LOCKED) and append up to limit
 * rows due at now (struct store_sla_row*, free func store_sla_row_free). */
int store_sla_due(struct store *st, gint64 now, int limit, GPtrArray *out);

struct store_sla_change {
	gint64 id, at;
	char kind[12];   /* customer | agent | status */
	char status[16]; /* for status */
};
/* store_sla_changes - the ticket's unprocessed changes, oldest first, at
 * most STORE_SLA_CHANGES_MAX, appended to out (GArray of struct
 * store_sla_change). */
#define STORE_SLA_CHANGES_MAX 1000
int store_sla_changes(struct store *st, gint64 ticket, GArray *out);
/* store_sla_save - write row's state back, delete the processed changes,
 * set the next check (0 = none) and the JSON view. */
int store_sla_save(struct store *st, const struct store_sla_row *row,
                   const gint64 *change_ids, size_t n_changes,
                   gint64 next_check, const char *view, gint64 now);
/* store_sla_next - the earliest next check (unix seconds), 0 = none. */
gint64 store_sla_next(struct store *st);
/* store_sla_immediate - ask the next tick to escalate ticket at once:
 * 1, or 0 when it was escalated at once before (once per ticket), -E. */
int store_sla_immediate(struct store *st, gint64 ticket, const char *reason);

int store_sla_notice_add(struct store *st, gint64 ticket, const char *rcpt,
                         const char *kind, int level, gint64 breach_at,
                         const char *reason, gint64 now);
struct store_sla_notice {
	gint64 id, ticket_id, breach_at, queued_at;
	int level;
	char *rcpt, *kind, *reason; /* owned */
};
void store_sla_notice_free(gpointer p);
/* store_sla_pending - lock and append up to limit unsent notices, oldest
 * first (struct store_sla_notice*, free func store_sla_notice_free). */
int store_sla_pending(struct store *st, int limit, GPtrArray *out);
/* store_sla_digest_times - for each address in rcpts (char*), when the
 * last notice or digest went to it (0 = never), into at_out (gint64). */
int store_sla_digest_times(struct store *st, GPtrArray *rcpts, GArray *at_out);
/* store_sla_notices_sent - mark notices ids as sent in one mail to rcpt. */
int store_sla_notices_sent(struct store *st, const gint64 *ids, size_t n,
                           const char *rcpt, gint64 now);

/* What a notice says about a ticket. */
struct store_sla_info {
	char *subject, *requester, *requester_name, *queue, *assignee;
	char *last_text; /* the last customer message's new part */
	char priority[16], status[16];
	gint64 created;
};
/* store_sla_info - 0, -ENOENT, -E; clear with store_sla_info_clear. */
int store_sla_info(struct store *st, gint64 ticket, struct store_sla_info *i_r);
void store_sla_info_clear(struct store_sla_info *i);

/* ---- issue 12: queues, templates, privacy (sql/006_queues.sql) ---- */

/* store_requester_language - the language of addr's newest other ticket
 * that has one (not ticket except), into *lang_r (g_free, NULL when
 * none).  0 / -E. */
int store_requester_language(struct store *st, const char *addr, gint64 except,
                             char **lang_r);

/*
 * store_forget - erase one person (tickd_forget() in 006_queues.sql):
 * their address, names and texts in every table, their own tickets'
 * mails; ticket rows stay (anonymised) for the numbers, other people's
 * tickets stay readable, one 'erasure' event records that (not what) it
 * happened.  One transaction.  A JSON summary of counts into out.  0/-E.
 */
int store_forget(struct store *st, const char *addr, const char *actor,
                 GString *out);

/*
 * store_purge - retention: tickets of queue closed before now - days
 * days lose their mails' texts, raw bytes, attachments and personal
 * fields (tickd_purge()); numbers stay.  A JSON summary (tickets,
 * messages, attachments, bytes, ticket ids) into out.  0/-E.
 */
int store_purge(struct store *st, const char *queue, int days,
                const char *actor, GString *out);

/* store_export_json - everything stored about addr as one JSON document
 * (tickd_export()).  0/-E. */
int store_export_json(struct store *st, const char *addr, GString *out);

/* store_export_raw - call fn for each stored raw mail from or to addr
 * (message id, raw bytes).  Stops at fn's first non-zero return.  0/-E. */
int store_export_raw(struct store *st, const char *addr,
                     int (*fn)(gint64 id, const void *raw, size_t len,
                               void *ud),
                     void *ud);

#endif
