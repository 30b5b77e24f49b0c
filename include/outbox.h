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

/* outbox_backoff - seconds to wait before attempt n+1 (capped, jittered). */
int outbox_backoff(int attempts);

#endif
