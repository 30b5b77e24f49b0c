/*
 * report.h - pure KPI math for manager reports: per period, overall, per
 * queue and per agent, this period versus the previous one of the same
 * length.  No I/O, no libpq, never reads the clock: store.c feeds rows
 * (one per ticket, plus pre-counted event/message/rating rows) and the
 * caller renders the result as a terminal table, JSON or CSV here, or
 * as the managers' digest (digestview.h).  Owns struct report and everything
 * inside it.
 *
 * Definitions (period [from, to), times in unix seconds).  Two calendars
 * are at work: the queue's calendar (params.cal_for, else default_cal)
 * measures the time KPIs, and the calendar of the ticket's SLA policy
 * (params.policy_cal, else the queue's) measures SLA met and breaches,
 * the same calendar the SLA clocks (sla.c, escalate.c) run on.
 *  - created: tickets with created in the period.
 *  - resolved: tickets whose resolution (resolved_at, else closed_at) is
 *    in the period.  A reopened ticket counts when it is resolved again.
 *  - backlog: tickets created before `to` and not resolved before `to`;
 *    backlog age is wall-clock age at `to` (how long customers waited).
 *  - first response time: business seconds (queue's calendar) created ->
 *    first agent reply, for tickets whose first reply is in the period.
 *    Elapsed time: pending time is NOT subtracted (what the customer
 *    waited in business hours).
 *  - resolution time: business seconds (queue's calendar) created ->
 *    resolution, for tickets resolved in the period; likewise elapsed.
 *    Medians and p90 use the nearest-rank rule: the value at rank
 *    ceil(p/100 * n) of the sorted sample (so the median of an even
 *    sample is the lower middle value).
 *  - SLA met %: of the tickets resolved in the period that have a policy
 *    (sla_policy_find by queue and priority over params.policies), those
 *    whose first-response clock AND resolution clock stayed below the
 *    policy's targets (clock < target; 0 = no target).  The clocks are
 *    business seconds in the policy's calendar with pending time taken
 *    out, as sla.c counts them: from report_row.clock (the ticket's
 *    sla_clock row) when it is known, its current stretch began by the
 *    resolution and it agrees with the ticket on first reply and
 *    resolved state; otherwise (no clock row, changes the tick has not
 *    replayed yet, history written around the triggers) elapsed business
 *    time since creation, which is never more lenient.  The
 *    first-response clock stops at the first agent reply, or at the
 *    resolution of a ticket resolved without one (then it ran as long as
 *    the resolution clock).  Next-response targets are not part of SLA
 *    met (sla_clock keeps no history of them; their breaches show as
 *    escalations).
 *  - worst breaches: tickets resolved in the period or open at `to`,
 *    by how far their first-response or resolution clock (as for SLA
 *    met, measured at the resolution or at `to`) is past its target.
 *  - FCR %: resolved tickets with exactly one agent reply (last agent
 *    reply == first reply), no customer mail after it, never reopened.
 *  - reopen %: resolved tickets with reopen_count > 0.
 *  - escalations per level, machine mail, CSAT and customer mails come as
 *    struct report_count rows counted in SQL (see store.h for the
 *    contract: events with action 'escalated' written in the period,
 *    level = the number after a leading "level " in event.detail, else 1:
 *    escalate.c writes "level N: <target> breached -> <addressees>" and,
 *    for a priority rule's immediate escalation to level 1, "immediate:
 *    ...").  'escalation-requested' and 'escalation-skipped' (nobody to
 *    notify) are not escalations.
 *  - CSAT % = good / (good + okay + bad) of ratings given in the period.
 *  - NPS = 100 * (promoters - detractors) / answers given in the period
 *    (answers 9-10 promote, 0-6 detract), one decimal, -100..100.
 *  - contact ratio = customer mails received in the period / distinct
 *    tickets they belong to.
 */
#ifndef TICKD_REPORT_H
#define TICKD_REPORT_H

#include "common.h"
#include "sla.h"

#include <glib.h>

#define REPORT_ESC_LEVELS 8 /* levels 1..8; deeper ones count as 8 */
#define REPORT_TOP        5 /* oldest open tickets, worst breaches */

/* Priorities as ticket.priority text maps them (sla.h: bigger = urgent). */
int report_priority(const char *s);

/* One ticket.  Strings are borrowed for the duration of the call. */
struct report_row {
	gint64 id;
	const char *queue;
	const char *agent; /* assignee, NULL = unassigned */
	const char *subject;
	int priority;          /* report_priority */
	gint64 created;        /* unix seconds */
	gint64 first_response; /* 0 = no agent reply yet */
	gint64 last_customer;  /* 0 = none */
	gint64 last_agent;     /* 0 = none */
	gint64 resolved;       /* resolved_at, else closed_at; 0 = open */
	int reopen_count;
	/* The ticket's SLA clock state (sla_clock, replayed by escalate.c
	 * up to every change of the ticket), or has_clock false when there
	 * is none or it is behind (changes not replayed yet).  Read: status,
	 * first_response_at, run_since, paused_since, resolution_run_secs,
	 * awaiting_since, response_run_secs, first_response_secs. */
	bool has_clock;
	struct sla_ticket clock;
};

enum report_count_kind {
	REPORT_ESCALATION = 0,  /* sub = level 1.. */
	REPORT_CSAT,            /* sub = enum report_rating */
	REPORT_MACHINE,         /* machine mail stored and not answered */
	REPORT_CUSTOMER_MAILS,  /* customer mails received */
	REPORT_CONTACT_TICKETS, /* distinct tickets of those mails */
	REPORT_NPS,             /* sub = the 0-10 answer */
	REPORT_THANKS,          /* thank-you replies that kept a ticket
	                           resolved: a positive signal beside CSAT */
	REPORT_RESPONDED,       /* tickets a person first answered in the
	                           period; agent = the responder */
	REPORT_COUNT__KINDS
};

enum report_rating { REPORT_GOOD = 1, REPORT_OKAY = 2, REPORT_BAD = 3 };

/* A pre-counted row: n things of kind/sub in period (0 = this one,
 * 1 = previous) for tickets of queue/agent (NULLs are fine). */
struct report_count {
	int kind;
	int sub;
	int period;
	const char *queue;
	const char *agent;
	gint64 n;
};

/* The KPIs of one group over one period.  Times in seconds; -1 = no data. */
struct report_kpi {
	gint64 created, resolved, backlog;
	gint64 backlog_age_median, backlog_age_max;
	gint64 frt_n, frt_median, frt_p90;
	gint64 res_n, res_median, res_p90;
	gint64 sla_n, sla_met;
	gint64 fcr, reopened;
	gint64 esc[REPORT_ESC_LEVELS]; /* [0] = level 1 */
	gint64 machine;
	gint64 csat_good, csat_okay, csat_bad;
	gint64 thanks;
	gint64 customer_mails, contact_tickets;
	gint64 nps_promoters, nps_passives, nps_detractors; /* 9-10, 7-8, 0-6 */
	gint64 responded; /* REPORT_RESPONDED */
};

enum report_group_kind { REPORT_ALL = 0, REPORT_QUEUE, REPORT_AGENT };

struct report_group {
	int kind;   /* enum report_group_kind */
	char *name; /* "all", the queue, the agent or "(unassigned)" */
	struct report_kpi cur, prev;
	/* private: samples until report_finish */
	GArray *s_frt[2], *s_res[2], *s_age[2];
};

/* A ticket for the digest's lists. */
struct report_item {
	gint64 id;
	char *subject, *queue, *agent;
	gint64 age;    /* oldest open: wall seconds at `to` */
	gint64 over;   /* worst breaches: business seconds over target */
	char what[16]; /* "response" or "resolution" */
};

struct report_params {
	gint64 from, to; /* the period; the previous is [2*from-to, from) */
	/* the calendar of a queue (borrowed) for the time KPIs; NULL or a
	 * NULL answer means default_cal */
	const struct sla_calendar *(*cal_for)(void *ud, const char *queue);
	void *cal_ud;
	const struct sla_calendar *default_cal; /* required */
	const struct sla_policy *policies;      /* borrowed, may be NULL */
	/* policy_cal[i] is the calendar of policies[i] (borrowed); a NULL
	 * array or entry means the ticket's queue calendar */
	const struct sla_calendar *const *policy_cal;
	size_t n_policies;
	bool by_queue, by_agent; /* also split per queue / per agent */
	/* compute from every ticket row (report_add_ticket) instead of the
	 * stored facts: the reference the fast path is compared with */
	bool unrolled;
};

struct report {
	struct report_params p;
	gint64 prev_from;
	GPtrArray *groups; /* struct report_group*, [0] = overall */
	struct report_item oldest[REPORT_TOP], worst[REPORT_TOP];
	size_t n_oldest, n_worst;
	bool finished;
	bool wall_time;    /* default_cal is 24x7 without holidays */
	GHashTable *index; /* private: "q:name" / "a:name" -> group */
	/* report_fingerprint of the config, set by the caller before
	 * store_report_load (the stored facts' validity) */
	gint64 fact_fp;
};

/* report_new - an empty report; p is copied (its pointers borrowed).
 * -EINVAL (and *r_r unset) for to <= from or no default calendar. */
int report_new(const struct report_params *p, struct report **r_r);
void report_free(struct report **r);

/* report_add_ticket - account one ticket (any ticket: rows outside both
 * periods are ignored).  0 or -EINVAL (finished report, bad row). */
int report_add_ticket(struct report *r, const struct report_row *row);
/* report_add_count - 0 or -EINVAL (unknown kind or period). */
int report_add_count(struct report *r, const struct report_count *c);
/* report_finish - compute medians/p90; call once, before rendering. */
void report_finish(struct report *r);

/*
 * The fast path (store_report.c): what report_add_ticket derives from one
 * ticket that does not depend on the period, computed once per ticket in
 * C and aggregated in SQL; the backlog's clocks at `to` and the top lists
 * come back through report_add_open and report_add_worst.
 */
struct report_fact {
	gint64 frt_b; /* business seconds created -> first reply, -1 none */
	gint64 res_b; /* business seconds created -> resolution, -1 open */
	int met;      /* SLA met at the resolution: 1, 0, -1 no policy/open */
	bool fcr, reopened;
	gint64 over; /* worst breach at the resolution, -1 none */
	int what;    /* 1 "response", 2 "resolution" (with over) */
};
/* report_fact_of - row's fact under r's calendars and policies. */
void report_fact_of(const struct report *r, const struct report_row *row,
                    struct report_fact *f);
/* report_fingerprint - a hash of every input of report_fact_of besides
 * the row: the default calendar, the calendar of each of the n queue
 * names, the policies and their calendars. */
gint64 report_fingerprint(const struct report *r, const char *const *queues,
                          size_t n);
/* The per-ticket KPIs of the tickets of one (queue, agent) in one
 * period as SQL summed them (created, resolved, backlog, sla_n, sla_met,
 * fcr, reopened of k) and their samples: business seconds to the first
 * reply of those answered in the period, to the resolution of those
 * resolved in it, wall-clock age at the period's end of its backlog, in
 * any order. */
struct report_part {
	const char *queue, *agent; /* agent NULL = unassigned */
	int period;                /* 0 current, 1 previous */
	struct report_kpi k;
	const gint64 *frt, *res, *age;
	size_t n_frt, n_res, n_age;
};
/* report_add_part - add part to the groups it belongs to (overall, its
 * queue, its agent as r splits); report_finish computes the medians and
 * p90 from the samples as for report_add_ticket's.  0 or -EINVAL. */
int report_add_part(struct report *r, const struct report_part *part);
/* report_add_open - a ticket in the backlog at `to`: only the oldest and
 * worst-breach lists (its counts come through report_add_part); a row not
 * in that backlog is ignored.  0 or -EINVAL. */
int report_add_open(struct report *r, const struct report_row *row);
/* report_add_worst - a ticket resolved in the period with its fact's
 * breach (over >= 0) for the worst-breach list; row needs id, subject,
 * queue and agent. */
void report_add_worst(struct report *r, const struct report_row *row,
                      gint64 over, int what);

/* report_percentile - nearest-rank p-th percentile of sorted v[0..n), -1
 * when n == 0. */
gint64 report_percentile(const gint64 *v, size_t n, int p);
/* report_pct - 100 * num / den rounded to one decimal, -1 when den == 0. */
double report_pct(gint64 num, gint64 den);
/* report_nps - the NPS of k's answers (report.h's definition), NAN when
 * there are none (it may be negative). */
double report_nps(const struct report_kpi *k);
/* report_calendar_24x7 - every day 00:00-24:00 UTC: the calendar of a
 * queue without one (the SLA clocks use the same).  sla_calendar_free it. */
struct sla_calendar *report_calendar_24x7(void);

/* report_metric - the value of a KPI by its JSON name ("created",
 * "sla_met_pct", ...) exactly as report_json writes it; < 0 = no data or
 * no such key.  For renderers outside this file (digestview.c). */
double report_metric(const struct report_kpi *k, const char *key);

/* Renderers (append to out). */
void report_json(const struct report *r, GString *out, bool pretty);
void report_csv(const struct report *r, GString *out);
void report_table(const struct report *r, GString *out);
/* The managers' digest (text and HTML) is digestview.h's. */

#endif
