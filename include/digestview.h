/*
 * digestview.h - the managers' digest as a person reads it (pure: no I/O,
 * no clock, no config; `now` and everything shown is passed in).  Renders
 * one digest, in this order, as plain text and as one self-contained HTML
 * page (inline CSS and inline SVG only, no network resource; one column
 * from 390 px to 1280 px wide):
 *  1. "Needs you": tickets in breach, about to breach, bad ratings with
 *     the customer's comment, escalations, the tickets waiting longest
 *     for us; each line with its action link (a mailto: built by the
 *     caller, action.h).  Empty sections are left out; with none at all
 *     one line says the day was quiet.
 *  2. Trends: created, resolved, backlog, first response and resolution
 *     medians, SLA met, CSAT and reopen per bucket (7 days or 8 weeks),
 *     each a small SVG bar chart with the latest value and its change
 *     against the bucket before.  Values are report_metric() of the
 *     overall group of each bucket's report, i.e. what `tickctl report
 *     --json` says for that bucket; bars are scaled to the largest value
 *     of the series (percentages to 100), so a previous 0 never makes a
 *     bar full width.  Each <svg> carries data-kpi and data-values (comma
 *     separated, empty = no data) so the figures can be checked.
 *  3. With `full` (the report page): volume by day, a bar chart of
 *     tickets created and resolved per bucket (the <svg> carries
 *     data-chart="volume", data-labels, data-created, data-resolved),
 *     then per queue and per agent one chart per KPI of the period
 *     (created, resolved, backlog, backlog age, first response and
 *     resolution median and p90, SLA met, CSAT): a table with
 *     data-chart="queue:KEY" / "agent:KEY", one row per group with
 *     data-name and data-value (report_metric, as --json; empty = no
 *     data) and an inline SVG bar scaled to the largest value (100 for
 *     percentages).
 *  4. Workload: open tickets and responses per agent, who is overloaded
 *     (open > 1.5 x the agents' mean and at least 3 over it), the
 *     unassigned backlog.
 * Durations read "1 h 20 min" / "3 d 4 h", percentages "92% of 48", and
 * the calendar the times are measured in is stated once, at the end.
 * Owns struct digestview_item / digestview_load values it is given to
 * free (digestview_item_free, digestview_load_free); borrows the rest.
 */
#ifndef TICKD_DIGESTVIEW_H
#define TICKD_DIGESTVIEW_H

#include "common.h"
#include "report.h"

#include <glib.h>

enum digestview_kind {
	DIGESTVIEW_BREACH = 0, /* at = when the target was due */
	DIGESTVIEW_AT_RISK,    /* at = when it will be due */
	DIGESTVIEW_BAD_RATING, /* at = when rated; what = comment */
	DIGESTVIEW_ESCALATION, /* at = when escalated; what = detail */
	DIGESTVIEW_WAITING,    /* at = since when the customer waits */
	DIGESTVIEW__KINDS
};

struct digestview_item {
	int kind;
	gint64 ticket;
	char *customer; /* name, else address */
	char *subject;
	char *holder; /* assignee; NULL = nobody */
	char *what;   /* breach: the target; rating: comment; esc.: detail */
	gint64 at;
	char *link; /* mailto: action link, or NULL */
};
void digestview_item_free(gpointer p);

struct digestview_load {
	char *agent; /* address */
	gint64 open, responses;
};
void digestview_load_free(gpointer p);

#define DIGESTVIEW_TREND_MAX 12

struct digestview {
	const char *title;     /* plain text */
	const char *scope;     /* "all queues", "queue billing", ... */
	const char *time_note; /* how times are measured, said once */
	gint64 now;
	GPtrArray *items; /* struct digestview_item*, any order */
	/* the trend buckets, oldest first; the last is the digest's period */
	const struct report *trend[DIGESTVIEW_TREND_MAX];
	const char *trend_label[DIGESTVIEW_TREND_MAX]; /* "Mon 30", ... */
	size_t n_trend;
	GPtrArray *load; /* struct digestview_load*, may be NULL */
	gint64 unassigned;
	/* `tickctl report --html` only (NULL / 0 in the digest mail): the
	 * period's own report split per queue and per agent, and tickets
	 * created / resolved per day (per week over long periods) */
	const struct report *full;
	const gint64 *vol_created, *vol_resolved; /* n_vol each */
	const char *const *vol_label;             /* "2026-12-01" */
	size_t n_vol;
};

/* digestview_duration - "40 s", "12 min", "1 h 20 min", "3 d 4 h";
 * "-" for a negative value.  g_free. */
char *digestview_duration(gint64 secs);
/* digestview_pct - "92% of 48" (whole percent of den); "no data (0)"
 * when den is 0.  g_free. */
char *digestview_pct(gint64 num, gint64 den);
/* digestview_overloaded - open > 1.5 x mean and open >= mean + 3. */
bool digestview_overloaded(gint64 open, double mean);

void digestview_text(const struct digestview *v, GString *out);
void digestview_html(const struct digestview *v, GString *out);

#endif
