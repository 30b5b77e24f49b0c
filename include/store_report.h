/*
 * store_report.h - the numbers (store_report.c): the rows of a report
 * (report.h) in one snapshot, CSAT requests and ratings, digest claims.
 * Tables in sql/005_report.sql.  Errors as in store.h.
 */
#ifndef TICKD_STORE_REPORT_H
#define TICKD_STORE_REPORT_H

#include "store.h"

struct report;
/*
 * store_report_load - feed r (report.h) with the ticket rows and the
 * pre-counted rows for r's two periods, optionally only for some queues
 * (queue: one name, or several separated by newlines) or the tickets
 * assigned to some people (members: addresses, newline-separated; a
 * ticket matching either counts), and/or one assignee, in one
 * REPEATABLE READ snapshot (inside the
 * caller's transaction when there is one).  Tickets stream through a
 * cursor, so memory does not grow with the row count here.
 * Escalations are event rows with action 'escalated' (escalate.c), level
 * = N of a detail starting "level N", else 1 (immediate escalations).
 * Tickets come with their sla_clock state when it is current.
 */
int store_report_load(struct store *st, struct report *r, const char *queue,
                      const char *agent, const char *members);

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
/* store_csat_request - claim the resolution mail of ticket's current
 * resolution: 1 ours to send, 0 already claimed (or not resolved), -E. */
int store_csat_request(struct store *st, gint64 ticket);
/* store_csat_rate - record the ticket's rating: 1 recorded, 0 the ticket
 * was already rated (nothing changed), -E. */
int store_csat_rate(struct store *st, gint64 ticket, const char *rating,
                    const char *comment, const char *from, gint64 message,
                    gint64 at);
/* store_nps_rate - record the ticket's 0-10 NPS answer: 1 recorded, 0
 * the ticket was answered before (nothing changed), -E. */
int store_nps_rate(struct store *st, gint64 ticket, int score, const char *from,
                   gint64 message, gint64 at);
/* store_digest_claim - claim the digest of (schedule, period): 1 ours to
 * send, 0 sent already (by us or another instance), -E. */
int store_digest_claim(struct store *st, const char *schedule, gint64 start,
                       gint64 end);

/*
 * store_report_volume - tickets created and resolved in each of the n
 * buckets [bounds[i], bounds[i + 1]) (ascending unix seconds, n + 1
 * bounds) into created[n] and resolved[n], counted as the report counts
 * them (stored facts, which a store_report_load just before brought up
 * to date); queues/members as for store_digest_needs.  0 or -E.
 */
int store_report_volume(struct store *st, const char *queues,
                        const char *members, const gint64 *bounds, size_t n,
                        gint64 *created, gint64 *resolved);

/* ---- the managers' digest lists (digest.c, digestview.h) ---- */
/*
 * store_digest_needs - append struct digestview_item* (the caller frees
 * them with digestview_item_free) to out: open tickets whose SLA target
 * is breached or warned as of the tick's last evaluation (kind BREACH /
 * AT_RISK, at = due, what = the target), bad ratings and escalations in
 * [since, until) (at = when; what = comment / detail), the 5 open
 * tickets whose customer waits longest for us (at = since when).  queues:
 * newline-separated queue names, members: newline-separated assignees, a
 * ticket matching either is listed; both NULL = all.  0 or -E.
 */
int store_digest_needs(struct store *st, const char *queues,
                       const char *members, gint64 since, gint64 until,
                       GPtrArray *out);
/*
 * store_digest_load - the workload: struct digestview_load* per agent
 * (open tickets now; agent mails stored in [from, to)) appended to out
 * (digestview_load_free), open unassigned tickets in *unassigned_r.
 * queues and members as above.  0 or -E.
 */
int store_digest_load(struct store *st, const char *queues, const char *members,
                      gint64 from, gint64 to, GPtrArray *out,
                      gint64 *unassigned_r);

#endif
