/*
 * escalate.h - the daemon side of SLAs and escalation.  Applies
 * the priority rules to a new customer mail (inside ingest's
 * transaction), and on every tick: replays the tickets' changes into
 * their SLA clocks (sla.c does the math), fires escalation levels, and
 * batches the notices into one mail (or digest) per addressee per
 * escalation.batch_minutes, queued in the outbox in the same transaction
 * as the notice rows and audit events.  Owns no state between calls; all
 * of it is in the database (store.c).  Logs (notice per escalation).
 */
#ifndef TICKD_ESCALATE_H
#define TICKD_ESCALATE_H

#include "cfg.h"
#include "common.h"

struct store;

/* What the priority rules say about one mail. */
struct escalate_match {
	int priority;     /* enum cfg_priority, -1 when no rule matched */
	bool escalate;    /* some matching rule escalates at once */
	char reason[160]; /* "rule 'churn risk': \"manager\"" (first match) */
};

/*
 * escalate_rules_match - pure: which of cfg's priority rules match a mail
 * from from (address), with subject and new text (either may be NULL),
 * and the raw Importance / X-Priority header values (NULL if absent).
 * Keywords match case-insensitively (Unicode case folding) at word
 * starts, and end at a word end unless they end in '*'.  Only the first
 * 64 KiB of text are looked at.  Returns the number of matching rules
 * and fills *m_r (always written).
 */
int escalate_rules_match(const struct cfg *cfg, const char *from,
                         const char *subject, const char *text,
                         const char *importance, const char *x_priority,
                         struct escalate_match *m_r);

/*
 * escalate_born_priority - the priority (static name) a new ticket opened
 * by a mail that matched m starts with, NULL: the default ("normal").
 * Set in its INSERT, so that a priority rule costs no second write of the
 * ticket row (nor of its SLA clock).
 */
const char *escalate_born_priority(const struct escalate_match *m);

/*
 * escalate_on_mail - ingest's hook for a customer's mail (message row
 * msg) on ticket, whose priority rules matched as m says: raise the
 * ticket's priority (never lower it) and, for an escalating rule, ask the
 * next tick for an immediate notice; both go into the audit trail, as
 * events of msg.  born: this mail opened the ticket with
 * escalate_born_priority(m) already, so only the events are written.
 * Runs inside the caller's transaction.  *raised_r (static) is the new
 * priority when it raised it, else left alone.  0 or -E from store.
 */
int escalate_on_mail(struct store *st, gint64 ticket, gint64 msg,
                     const struct escalate_match *m, bool born,
                     const char **raised_r);

/* escalate_queue_calendar - the business calendar of queue: the one
 * of its SLA policy (normal priority), else the one tickets.calendar
 * names, else NULL (no calendar: every hour counts).  Borrowed from cfg. */
const struct sla_calendar *
escalate_queue_calendar(const struct cfg *cfg, const char *queue, int priority);

/*
 * escalate_ack_times - what the acknowledgement of a new ticket of queue
 * with priority (a name), created at now, can promise: *due_r the first
 * response due by the matching SLA policy (0: no policy), *opens_r the
 * next opening of the queue's calendar when now is outside its business
 * hours or on a holiday (0: open now, or no calendar), *tz_r the
 * calendar's zone (borrowed from cfg, NULL: no calendar).  The calendar is
 * the policy's, else the one tickets.calendar names.  Pure; never fails.
 */
void escalate_ack_times(const struct cfg *cfg, const char *queue,
                        const char *priority, gint64 now, gint64 *due_r,
                        gint64 *opens_r, GTimeZone **tz_r);

/*
 * escalate_tick - one escalation pass at now (unix seconds), in its own
 * transaction: at most escalation.tick_limit tickets and their notices.
 * Two instances never send the same notice (a transaction-scoped
 * advisory lock plus FOR UPDATE SKIP LOCKED on the rows).  *next_r (may
 * be NULL) is when to run again: unix seconds, 0 = no timer (only a
 * ticket change makes work).  Returns the number of mails queued (>= 0),
 * or -E from store (nothing was committed).
 */
int escalate_tick(const struct cfg *cfg, struct store *st, gint64 now,
                  gint64 *next_r);

#endif
