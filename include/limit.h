/*
 * limit.h - send limits for automatic mail (acknowledgements, notices):
 * per recipient per day, per ticket per hour, and the global circuit
 * breaker.  limit_decide is pure (unit-tested); the limit_check_* and
 * breaker functions count in the outbox through store.c and record the
 * breaker's state in the breaker table (sql/002_limits.sql), shared by
 * every instance.  Logs (warning) only when it trips the breaker.
 *
 * Suppress means "this mail is never sent" (event + outbox state
 * 'suppressed'); hold means "not now": the mail stays queued and goes out
 * once the breaker closes (cool-down over, or `tickctl breaker reset`).
 *
 * Volume is not a loop.  A loop is the same recipient, or the same sender
 * behind many addresses, getting automatic mail again and again; an
 * outage is many first-time senders at once.  So limits count per
 * recipient AND per sender identity (the From, lower case, without a
 * +tag: limit_identity), an automatic mail to a recipient or for a sender
 * identity that already had one in the last day is a "repeat", and only
 * repeats count for the breaker and are held by it.  A first
 * acknowledgement is never held; mail to our own people (escalations,
 * digests, any address in `people`) is never limited or held.
 */
#ifndef TICKD_LIMIT_H
#define TICKD_LIMIT_H

#include "cfg.h"
#include "common.h"
#include "store_outbox.h"

/* The breaker's name in the breaker table. */
#define LIMIT_BREAKER "auto"
/* At most how long a held mail waits before the outbox looks at the
 * breaker again (the daemon would otherwise spin on a due-but-held mail);
 * less when the cool-down ends sooner. */
#define LIMIT_HOLD_SECS 60

enum limit_verdict {
	LIMIT_SEND = 0,
	LIMIT_SUPPRESS, /* never send it: a per-recipient/per-ticket limit */
	LIMIT_HOLD,     /* keep it queued: the breaker is open */
};

/* What has been sent (or queued) already, not counting this mail. */
struct limit_counts {
	gint64 rcpt_day;      /* to this recipient, last 24 h */
	gint64 ticket_hour;   /* about this ticket, last hour */
	gint64 sender_day;    /* caused by this sender identity, last 24 h */
	gint64 global_minute; /* repeats, last 60 s */
	bool repeat;          /* this mail is a repeat (see above) */
	bool breaker_open;
};

/*
 * limit_decide - the verdict for one more automatic mail.  *why_r gets a
 * static reason for the audit trail (NULL for LIMIT_SEND); *trip_r is set
 * true when this mail is the repeat over limits.global_per_minute (the
 * caller opens the breaker).  A mail that is not a repeat is never held.
 * A limit of N allows N mails; 0 allows none.
 */
enum limit_verdict limit_decide(const struct cfg_limits *l,
                                const struct limit_counts *c, bool *trip_r,
                                const char **why_r);

/*
 * limit_identity - the sender identity of addr: lower case, "+tag" cut from
 * the local part (support+1042@x and support+1043@x are one sender).
 * NULL for NULL.  g_free.
 */
char *limit_identity(const char *addr);

/*
 * limit_check_queue - before queueing an automatic mail about ticket to
 * rcpt, caused by a mail of sender identity sender (limit_identity; NULL:
 * rcpt's): with suppression, LIMIT_SUPPRESS when rcpt is suppressed after
 * a bounce or complaint; counts queued mail (suppressed excluded) per
 * recipient, per sender identity and per ticket, sets *repeat_r, opens
 * the breaker when this repeat is over the limit.  LIMIT_* or -E.  Call
 * inside the transaction that queues the mail; queue it with *repeat_r.
 */
int limit_check_queue(const struct cfg *cfg, struct store *st, gint64 ticket,
                      const char *rcpt, const char *sender, bool suppression,
                      bool *repeat_r, const char **why_r);

/*
 * limit_check_send - before sending leased outbox mail o: counts SENT mail,
 * so limits hold whoever queued the mail.  Mail to our own people
 * (escalation, digest, an address in `people`) is always LIMIT_SEND; only
 * a repeat is held by the breaker.  On LIMIT_SUPPRESS the row is
 * marked 'suppressed' and an event added; on LIMIT_HOLD the lease is given
 * back until the cool-down ends (at most LIMIT_HOLD_SECS), with last_error
 * "held: ...".  LIMIT_* or -E.
 */
int limit_check_send(const struct cfg *cfg, struct store *st,
                     const struct store_outmail *o, const char **why_r);

/*
 * limit_outbox_gate - before claiming outbox mail: when the breaker is
 * open, queued repeats due before the cool-down ends (at most
 * LIMIT_HOLD_SECS from now) are put aside until then and marked held; the
 * rest may go.  1 when the breaker is open, 0 when not, -E.
 */
int limit_outbox_gate(const struct cfg *cfg, struct store *st);

/* limit_breaker_reset - an admin closes the breaker; held mail is due at
 * once.  1 when it was open, 0 when not, -E. */
int limit_breaker_reset(struct store *st, const char *actor);

#endif
