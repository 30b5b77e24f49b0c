/*
 * outbox.h - drains the outbox table through smtp.c.  Mails are leased
 * with FOR UPDATE SKIP LOCKED, so several tickd instances never send the
 * same row, and a dead instance's lease simply expires.  A mail is marked
 * sent right after the server's 250; a crash between the two can send it
 * once more (same Message-ID), never lose it.
 */
#ifndef TICKD_OUTBOX_H
#define TICKD_OUTBOX_H

#include "cfg.h"
#include "smtp.h"

struct store;

struct outbox_stats {
	int sent, retried, failed;
	int held, suppressed; /* by a send limit or the breaker (limit.h) */
	int refused;          /* no SMTP session (smtp.h -ECONNREFUSED) */
	int claimed;          /* mails leased (the sender's backlog signal) */
	gint64 oldest;        /* created (unix s) of the oldest, 0 = none */
	/* a mail the SMTP server accepted whose "sent" could not be stored
	 * (the database went away): record it after the reconnect instead of
	 * sending it again; 0 = none */
	gint64 unrecorded;
};

/*
 * outbox_queue - record an automatic mail tickd wrote (wire, with our
 * Message-ID msgid, no <>) as a system message on ticket, labelled
 * "[Tag #N] <label>" in its message list, and queue it for rcpt with the
 * ticket's VERP envelope sender, inside the caller's transaction.  sender
 * and is_repeat: see store_outbox_add_auto (limit_check_queue gives them).
 * *mid_r is the message row.  0 or -E from the store.
 */
int outbox_queue(const struct cfg *cfg, struct store *st, gint64 ticket,
                 const char *kind, const char *label, const char *rcpt,
                 const char *msgid, GBytes *wire, gint64 now,
                 const char *sender, bool is_repeat, gint64 *mid_r);

/* "instance#n" of a sender session, with room to spare */
#define OUTBOX_OWNER_MAX 160

/*
 * A sender that takes mail as it is queued (sender.h): take() names in
 * owner (n bytes) the sender session the mail with message row mid is to
 * be born leased to, and tells that session to look for it once committed
 * (outbox_drain_mine); false: queue it for anyone to claim.  Called in
 * the queueing thread.
 */
struct outbox_hand {
	bool (*take)(void *ctx, gint64 mid, char *owner, size_t n);
	void *ctx;
};

/*
 * outbox_queue_handed - outbox_queue, the mail born leased to the sender
 * session hand picks (hand NULL: outbox_queue).  It saves the claim's
 * write; should that session not send it (rolled back, gone, slow), the
 * lease runs out or goes with the session, and any sender claims it.
 */
int outbox_queue_handed(const struct cfg *cfg, struct store *st, gint64 ticket,
                        const char *kind, const char *label, const char *rcpt,
                        const char *msgid, GBytes *wire, gint64 now,
                        const char *sender, bool is_repeat,
                        const struct outbox_hand *hand, gint64 *mid_r);

/*
 * outbox_drain - send every due mail (up to max, 0 = no limit).  Stops
 * early on a transport failure (the server is down: no point hammering
 * it).  0 or -E from the store.
 */
int outbox_drain(const struct cfg *cfg, struct store *st, struct smtp *smtp,
                 int max, struct outbox_stats *stats);

/*
 * outbox_drain_as - outbox_drain with leases in owner's name (a sender
 * thread's "instance#n"; outbox_drain uses cfg->instance).
 */
int outbox_drain_as(const struct cfg *cfg, struct store *st, struct smtp *smtp,
                    const char *owner, int max, struct outbox_stats *stats);

/*
 * outbox_drain_mine - send those of the mails with message rows
 * mids[0..n-1] that are committed and born leased to owner, with lease
 * enough left (store_outbox_mine); their message rows are appended to
 * found (gint64).  0 or -E from the store.
 */
int outbox_drain_mine(const struct cfg *cfg, struct store *st,
                      struct smtp *smtp, const char *owner, const gint64 *mids,
                      int n, GArray *found, struct outbox_stats *stats);

/* outbox_backoff - seconds to wait before attempt n+1 (capped, jittered). */
int outbox_backoff(int attempts);

#endif
