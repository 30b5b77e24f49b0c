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
 * Every outbox mail counts as automatic: tickd sends nothing else today.
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
	gint64 global_minute; /* all automatic mail, last 60 s */
	bool breaker_open;
};

/*
 * limit_decide - the verdict for one more automatic mail.  *why_r gets a
 * static reason for the audit trail (NULL for LIMIT_SEND); *trip_r is set
 * true when this mail is the one over limits.global_per_minute (the caller
 * opens the breaker).  A limit of N allows N mails; 0 allows none.
 */
enum limit_verdict limit_decide(const struct cfg_limits *l,
                                const struct limit_counts *c, bool *trip_r,
                                const char **why_r);

/*
 * limit_check_queue - before queueing an automatic mail about ticket to
 * rcpt: counts queued mail (suppressed excluded), opens the breaker when
 * this mail is over the global limit.  LIMIT_* or -E.  Call inside the
 * transaction that queues the mail.
 */
int limit_check_queue(const struct cfg *cfg, struct store *st, gint64 ticket,
                      const char *rcpt, const char **why_r);

/*
 * limit_check_send - before sending leased outbox mail o: counts SENT mail,
 * so limits hold whoever queued the mail.  On LIMIT_SUPPRESS the row is
 * marked 'suppressed' and an event added; on LIMIT_HOLD the lease is given
 * back until the cool-down ends (at most LIMIT_HOLD_SECS), with last_error
 * "held: ...".  LIMIT_* or -E.
 */
int limit_check_send(const struct cfg *cfg, struct store *st,
                     const struct store_outmail *o, const char **why_r);

/*
 * limit_outbox_gate - before claiming outbox mail: 1 when the breaker is
 * open (queued mail due before the cool-down ends, at most LIMIT_HOLD_SECS
 * from now, is put aside until then and marked held), 0 when mail may go,
 * -E.
 */
int limit_outbox_gate(const struct cfg *cfg, struct store *st);

/* limit_breaker_reset - an admin closes the breaker; held mail is due at
 * once.  1 when it was open, 0 when not, -E. */
int limit_breaker_reset(struct store *st, const char *actor);

#endif
