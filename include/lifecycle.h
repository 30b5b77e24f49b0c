/*
 * lifecycle.h - pending and resolved tickets move on by themselves, in
 * business days of the ticket queue's calendar (escalate_queue_calendar;
 * without one, calendar days):
 *   pending tickets.pending_remind_days -> a reminder to the customer
 *     ("we are waiting for your answer"), event 'pending-reminder';
 *   tickets.pending_close_days after the reminder -> closed with a
 *     closing notice, event 'auto-closed';
 *   resolved tickets.resolved_close_days -> closed, no mail, event
 *     'auto-closed'.
 * Each mail is a template (pending-reminder, pending-close) in the
 * customer's language, through the outbox and the send limits, with the
 * RFC 3834 headers.  A customer answer moves the ticket to open (ingest),
 * which clears the reminder (016_lifecycle.sql): the sequence stops.
 * Owns no state: everything is in the ticket rows.
 */
#ifndef TICKD_LIFECYCLE_H
#define TICKD_LIFECYCLE_H

#include "cfg.h"
#include "common.h"

struct store;
struct sla_calendar;

/* lifecycle_add_days - the instant n business days of cal after from: the
 * same wall-clock time on the n-th following day that has business hours
 * (a holiday or weekend does not count).  cal NULL: n * 86400 later.
 * Pure. */
gint64 lifecycle_add_days(const struct sla_calendar *cal, gint64 from, int n);

/* lifecycle_tick - one pass at now (unix seconds) in its own transaction:
 * the steps above for up to LIFECYCLE_BATCH due tickets.  Safe with
 * several instances (rows are locked, others skip them).  The number of
 * tickets moved on, or -E (store). */
#define LIFECYCLE_BATCH 500
int lifecycle_tick(const struct cfg *cfg, struct store *st, gint64 now);

#endif
