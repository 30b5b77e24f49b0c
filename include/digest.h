/*
 * digest.h - the managers' digest mail.  On the schedules of
 * cfg report.* (daily and/or weekly: whole local days, weeks from Monday,
 * in report.timezone), the digest of the period that just ended goes to
 * every person with role manager at report.hour (for the queues in
 * their `queues` key and the tickets assigned to the people of their
 * `teams`, everything when both are unset), once per period across
 * all instances and restarts: the digest_log row (sql/005_report.sql) is
 * claimed in the same transaction that queues the mails.  Also owns the
 * report set-up that tickctl report shares, so that both give the same
 * numbers for the same period.
 */
#ifndef TICKD_DIGEST_H
#define TICKD_DIGEST_H

#include "cfg.h"
#include "common.h"
#include "report.h"
#include "sla.h"

#include <glib.h>

struct store;

/*
 * digest_period - the latest period of schedule ("daily" or "weekly")
 * whose digest is due at now: [*from_r, *to_r) ends at a local midnight
 * (a Monday for weekly) and is due at hour local time after its end.
 * Pure.  0, or -EINVAL (unknown schedule or zone).
 */
int digest_period(const char *schedule, const char *tz_id, int hour, gint64 now,
                  gint64 *from_r, gint64 *to_r);

/*
 * digest_queue_calendar - the calendar of a queue's time KPIs: that of
 * the SLA policy a normal-priority ticket of the queue gets (cfg
 * sla.policies), or NULL (the report's 24x7 UTC default) when none
 * matches.  The only place that maps a queue to a calendar.  Borrowed.
 */
const struct sla_calendar *digest_queue_calendar(const struct cfg *cfg,
                                                 const char *queue);

/*
 * digest_report - load and finish the report of [from, to) (and the
 * period before it) with cfg's calendars and SLA policies (report.h says
 * what each KPI means): time KPIs by digest_queue_calendar, SLA met by
 * each ticket's policy (cfg->sla) and its calendar.  Only when
 * sla.policies is empty, one catch-all policy from
 * report.fallback_first_response / fallback_resolution on 24x7 UTC.
 * queue/agent filter (NULL = all, and split by queue/agent); members:
 * newline-separated assignees whose tickets count besides those of
 * queue (a manager's teams, digest_scope; NULL = none).  pol is the
 * caller's storage for that fallback policy, which *r_r may borrow; cfg
 * must outlive *r_r.  unrolled: from every ticket row instead of the
 * stored facts (report.h, the reference path).  0 or -E.
 */
int digest_report(const struct cfg *cfg, struct store *st, gint64 from,
                  gint64 to, const char *queue, const char *agent,
                  const char *members, bool unrolled, struct sla_policy *pol,
                  struct report **r_r);

/* What one digest covers: the tickets of the queues or assigned to the
 * members (a ticket matching either); all NULL = the whole company.
 * Borrowed. */
struct digest_scope {
	const char *queues;  /* newline-separated queue names */
	const char *members; /* newline-separated assignee addresses */
	const char *teams;   /* the teams of members, ", " between, for
	                        the page's "For:" line */
};

/*
 * digest_render - the digest of [from, to) as a person reads it
 * (digestview.h): what needs attention now (breaches as of the last
 * tick, bad ratings and escalations of the last to - from seconds before
 * now, the longest waits) with signed action links (action.h), trends
 * over 7 buckets of to - from (8 when the period is a week or longer),
 * each bucket's figures those of digest_report for it, the workload.
 * sc: what it covers (NULL = everything).  Text and/or HTML
 * appended (NULL: not wanted).  0 or -E.  `tickctl report --html` and the
 * digest mail both come from here.
 */
int digest_render(const struct cfg *cfg, struct store *st, gint64 from,
                  gint64 to, gint64 now, const struct digest_scope *sc,
                  const char *title, GString *text, GString *html);

/* digest_render_page - `tickctl report --html`: digest_render's page
 * plus the period's own charts (digestview.h: volume by day, every KPI
 * per queue and per agent).  0 or -E. */
int digest_render_page(const struct cfg *cfg, struct store *st, gint64 from,
                       gint64 to, gint64 now, const struct digest_scope *sc,
                       const char *title, GString *html);

/* digest_compose - one manager's digest mail of [from, to) for the
 * queues in the person's `queues` and the tickets of the people in
 * their `teams` (everything when both are unset): multipart/
 * alternative, text and HTML with the same content, RFC 3834 headers.
 * cache (or NULL): rendered parts by queues and teams, so that managers
 * of the same scope cost one rendering (g_hash_table_new_full(g_str_hash,
 * g_str_equal, g_free, g_free)).  Unref; NULL with *rc_r < 0 when the
 * store failed. */
GBytes *digest_compose(const struct cfg *cfg, struct store *st, gint64 from,
                       gint64 to, const char *schedule,
                       const struct cfg_person *to_person, gint64 now,
                       GHashTable *cache, int *rc_r);

/* digest_tick - queue the due digests; the number of mails queued, or
 * -E.  Nothing when report.daily and report.weekly are off or there is
 * no manager. */
int digest_tick(const struct cfg *cfg, struct store *st, gint64 now);

#endif
