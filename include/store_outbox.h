/*
 * store_outbox.h - the mail tickd sends (store_outbox.c): queueing,
 * leases (claim, release, instance liveness), results, the send limits'
 * counts, the circuit breaker and suppressed addresses.  Errors as in
 * store.h.
 */
#ifndef TICKD_STORE_OUTBOX_H
#define TICKD_STORE_OUTBOX_H

#include "store.h"

/* ---- queueing, leases, results ---- */
/*
 * store_outbox_add_auto - queue customer-facing automatic mail (plain
 * store_outbox_add: mail to our own people, never a repeat):
 * sender is the identity of the mail that caused it (limit_identity; NULL
 * for none), is_repeat whether that recipient or sender identity got
 * automatic mail in the last day already (only repeats count for, and are
 * held by, the circuit breaker: limit.h).  lease_owner non-NULL: the mail
 * is born leased to that sender session ("instance#n") for lease_secs, as
 * store_outbox_claim would lease it, to be taken with store_outbox_mine.
 */
int store_outbox_add_auto(struct store *st, gint64 ticket, gint64 message,
                          const char *kind, const char *env_from,
                          const char *rcpt, const void *data, size_t len,
                          const char *sender, bool is_repeat,
                          const char *lease_owner, int lease_secs);
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
 * store_outbox_mine - of the mails whose message rows are mids[0..n-1],
 * those born leased to owner (store_outbox_add_auto), committed, still
 * leased to it and for more than margin_secs: no write, the lease is
 * there already.  Appends struct store_outmail* to out, oldest first, and
 * their message rows (gint64) to found.  0 or -E.
 */
int store_outbox_mine(struct store *st, const char *owner, int margin_secs,
                      const gint64 *mids, int n, GPtrArray *out, GArray *found);
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
/*
 * store_outbox_next_due - when the next queued mail is due: 1 and
 * *due_r seconds from now (0 = now), 0 when nothing is queued or being
 * sent (*due_r untouched), -E (the database failed: retry, never read it
 * as an empty outbox).
 */
int store_outbox_next_due(struct store *st, gint64 *due_r);
/* store_outbox_backlog - queued or sending mails, -E. */
gint64 store_outbox_backlog(struct store *st);
/* store_outbox_requeue - make a failed (or waiting) outbox row due now.
 * Its ticket (0 if none) in *ticket_r.  0, -ENOENT, -EALREADY (already
 * sent), -EPERM (suppressed: the address must get nothing), -E. */
int store_outbox_requeue(struct store *st, gint64 id, gint64 *ticket_r);

/* ---- send limits and the circuit breaker (sql/002_limits.sql) ---- */
/* store_auto_count_global - repeated automatic mails queued in the last
 * seconds, suppressed ones excluded, counted up to cap (at least 1: the
 * limit the figure is compared with); -E.  May be up to a second old for
 * mail other connections queued (this connection's own is always
 * counted, also past cap). */
gint64 store_auto_count_global(struct store *st, int seconds, gint64 cap);
/* store_sent_count_global - repeats sent in the last seconds, up to cap,
 * as stale as store_auto_count_global; -E. */
gint64 store_sent_count_global(struct store *st, int seconds, gint64 cap);
/* store_limit_counts - automatic mails to rcpt in the last rcpt_secs and
 * for ticket (0: none) in the last ticket_secs, queued and not
 * suppressed.  Each count stops at cap (at least 1): the largest limit it
 * is compared with.  0 or -E. */
int store_limit_counts(struct store *st, const char *rcpt, gint64 ticket,
                       int rcpt_secs, int ticket_secs, gint64 cap,
                       gint64 *rcpt_r, gint64 *ticket_r);
/* What an automatic mail about to be queued is checked against, read in
 * one statement (limit_check_queue, every acknowledgement). */
struct store_queue_counts {
	gint64 rcpt, ticket, sender; /* store_limit_counts (queued), and the
	                                mails sender identity caused */
	bool suppressed;             /* rcpt is suppressed (store_suppressed) */
	bool breaker_open;           /* store_breaker_get(breaker).open */
};
/* store_queue_counts - rcpt's mails in the last rcpt_secs, ticket's (0:
 * none) in the last ticket_secs, sender identity's in the last
 * rcpt_secs (each count stopping at cap, as store_limit_counts'), whether
 * rcpt is suppressed and breaker is open.  0 or -E. */
int store_queue_counts(struct store *st, const char *rcpt, const char *sender,
                       gint64 ticket, int rcpt_secs, int ticket_secs,
                       gint64 cap, const char *breaker,
                       struct store_queue_counts *c_r);
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
/* What an automatic mail about to be sent is checked against, read in one
 * statement (limit_check_send, every acknowledgement). */
struct store_send_counts {
	gint64 rcpt, ticket;          /* sent to rcpt, about ticket (escalation
	                                 notices and digests left out) */
	struct store_breaker breaker; /* store_breaker_get(breaker) */
};
/* store_send_counts - mails sent to rcpt in the last rcpt_secs and about
 * ticket (0: none) in the last ticket_secs, each count stopping at cap
 * (as store_limit_counts'), and the breaker's state.  0 or -E. */
int store_send_counts(struct store *st, const char *rcpt, gint64 ticket,
                      int rcpt_secs, int ticket_secs, gint64 cap,
                      const char *breaker, struct store_send_counts *c_r);
/* store_breaker_trip - open it for cooldown seconds (0: until reset). */
int store_breaker_trip(struct store *st, const char *name, int cooldown,
                       const char *reason);
/* store_breaker_reset - close it; 1 when it was open, 0 when not, -E. */
int store_breaker_reset(struct store *st, const char *name, const char *actor);
/* store_out_rcpt_by_msgid - the recipient of the mail tickd sent with this
 * Message-ID: 1 and *rcpt_r (g_free), 0 when it is not ours, -E. */
int store_out_rcpt_by_msgid(struct store *st, const char *message_id,
                            char **rcpt_r);

#endif
