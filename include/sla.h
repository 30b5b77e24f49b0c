/*
 * sla.h - pure SLA arithmetic: business-hours calendars, per-ticket SLA
 * clocks (first response, next response, resolution) with pauses while
 * pending, escalation chains and digest batching of manager notices.
 * Owns only struct sla_calendar (and its GTimeZone); everything else is
 * plain data the caller keeps (config, database rows).  No I/O, no
 * logging, never reads the clock: every instant is passed in as gint64
 * unix seconds.  Time zones and DST come from GLib's GTimeZone.
 *
 * Vocabulary.  A "business second" is a real second that falls inside a
 * calendar's business hours.  Business hours are wall-clock intervals of
 * the calendar's zone, so a 23- or 25-hour DST day keeps its wall-clock
 * hours: 08:00-16:00 is 8 real hours whatever the offset, and 00:00-24:00
 * on a 25-hour day is 25 real hours.  A wall time that does not exist
 * (spring gap) means the first instant after the gap; one that occurs
 * twice (autumn overlap) means its later occurrence - GLib's rule.
 * Instants are clamped to 1970-01-01 .. 9999-12-31.
 */
#ifndef TICKD_SLA_H
#define TICKD_SLA_H

#include "common.h"

#include <glib.h>

/* "No such instant": a due time that is never reached, nothing to wait for. */
#define SLA_NEVER G_MAXINT64

/* Per weekday; more is a config error (-EINVAL). */
#define SLA_DAY_MAX_INTERVALS 8

/* Escalation levels per chain; fired levels are a bitmask in a guint32. */
#define SLA_ESC_MAX_LEVELS 8

/* struct sla_policy.priority wildcard. */
#define SLA_ANY_PRIORITY (-1)

/* ---- calendars ------------------------------------------------------- */

enum sla_weekday {
	SLA_MON = 0,
	SLA_TUE,
	SLA_WED,
	SLA_THU,
	SLA_FRI,
	SLA_SAT,
	SLA_SUN,
	SLA_WEEKDAY__COUNT
};

/* One business interval on one weekday, [start_min, end_min) local time. */
struct sla_hours {
	int weekday;   /* enum sla_weekday */
	int start_min; /* minutes after local midnight, 0..1439 */
	int end_min;   /* exclusive, start_min < end_min <= 1440 (24:00) */
};

struct sla_day_memo;

/*
 * Read-only after sla_calendar_new; members are public so that a status
 * page can show them.  Free with sla_calendar_free.  The one exception
 * is memo: sla.c's private memo of the business seconds of whole local
 * days, filled on demand under its own lock (so a calendar stays
 * shareable between threads); it never changes a result, only how often
 * GTimeZone is asked.
 */
struct sla_calendar {
	char *name;    /* owned */
	GTimeZone *tz; /* owned (one reference) */
	struct sla_hours hours[SLA_WEEKDAY__COUNT][SLA_DAY_MAX_INTERVALS];
	int n_hours[SLA_WEEKDAY__COUNT]; /* per weekday, sorted, disjoint */
	gint64 *holidays; /* owned: local days since 1970-01-01, sorted */
	size_t n_holidays;
	struct sla_day_memo *memo; /* private, owned */
};

/*
 * sla_calendar_new - build a calendar from plain data (what a config file
 * holds).  tz_id is an IANA name ("Europe/Berlin", "UTC"); it is required
 * because an empty id would silently mean the host's zone.  hours may list
 * the weekdays in any order; intervals on one weekday may touch but not
 * overlap.  A 24x7 calendar is 00:00-24:00 on all seven days.  holidays
 * are local dates "YYYY-MM-DD" (duplicates are merged); a holiday has no
 * business hours.  At least one interval is required, otherwise no due
 * time would ever exist.
 * Returns 0 and sets *cal_r (caller frees with sla_calendar_free), or
 * -EINVAL with a reason in err (err may be NULL) for an unknown zone, a
 * weekday out of range, an inverted, out-of-range or overlapping
 * interval, more than SLA_DAY_MAX_INTERVALS a day, or a bad date.  Copies
 * everything: the arguments may be freed afterwards.
 */
int sla_calendar_new(const char *name, const char *tz_id,
                     const struct sla_hours *hours, size_t n_hours,
                     const char *const *holidays, size_t n_holidays,
                     struct sla_calendar **cal_r, char *err, size_t errlen);

/* sla_calendar_free - free *cal (NULL is fine) and set *cal = NULL. */
void sla_calendar_free(struct sla_calendar **cal);

/*
 * sla_weekday_parse - "mon".."sun" (any case, or full English names) ->
 * enum sla_weekday, or -EINVAL.
 */
int sla_weekday_parse(const char *s);

/*
 * sla_hours_parse - parse one weekday's hours for the config module:
 * "09:00-12:00,13:00-17:00" (spaces allowed), "00:00-24:00", or "" /
 * "closed" for none.  Writes the intervals to out[0..max) with weekday
 * set, and their number to *n_r.  0, or -EINVAL with a reason in err
 * (bad syntax, inverted interval, more than max); out is not used then.
 * Overlaps are checked by sla_calendar_new.
 */
int sla_hours_parse(int weekday, const char *spec, struct sla_hours *out,
                    size_t max, size_t *n_r, char *err, size_t errlen);

/*
 * sla_business_seconds - business seconds in [from, to); 0 if to <= from.
 * sla_business_minutes is the same, rounded down to whole minutes.
 * Cost grows with the number of calendar days spanned (a few GTimeZone
 * lookups per business day, ~10 us for six weeks), never with the number
 * of minutes - so do not pass SLA_NEVER as to.  Spans of a week or more
 * take whole days from the calendar's memo once they have been asked for
 * (an array read per day; only the days at the edges ask GTimeZone).
 */
gint64 sla_business_seconds(const struct sla_calendar *cal, gint64 from,
                            gint64 to);
gint64 sla_business_minutes(const struct sla_calendar *cal, gint64 from,
                            gint64 to);

/*
 * sla_add_business_seconds - the earliest instant t >= from with
 * sla_business_seconds(cal, from, t) == secs: the due time of a target of
 * secs business seconds started at from.  secs <= 0 gives from.  A target
 * that ends exactly at the close of business is due at the close (Friday
 * 17:00), not at the next opening.  SLA_NEVER if the calendar has no
 * business time in the next 100 years (e.g. every remaining day is a
 * holiday).  sla_add_business takes minutes.
 */
gint64 sla_add_business_seconds(const struct sla_calendar *cal, gint64 from,
                                gint64 secs);
gint64 sla_add_business(const struct sla_calendar *cal, gint64 from,
                        gint64 minutes);

/* sla_is_business_time - true if the second starting at t is business. */
bool sla_is_business_time(const struct sla_calendar *cal, gint64 t);

/* ---- policies -------------------------------------------------------- */

/*
 * Targets in business minutes; 0 means "no target" (that clock is off).
 * warn_pct: warn when this share of a target has elapsed (1..99), 0 = no
 * warning.  queue is borrowed from the config (NULL = any queue).
 */
struct sla_policy {
	const char *queue;
	int priority; /* SLA_ANY_PRIORITY or the exact priority */
	int first_response_min;
	int next_response_min; /* after each unanswered customer message */
	int resolution_min;
	int warn_pct;
};

/* sla_policy_check - 0, or -EINVAL with a reason (negative or > 1 year). */
int sla_policy_check(const struct sla_policy *p, char *err, size_t errlen);

/*
 * sla_policy_find - the most specific policy for (queue, priority): exact
 * queue and priority, then exact queue with any priority, then any queue
 * with the exact priority, then the catch-all; the first of equals wins.
 * Returns a pointer into tab (borrowed), or NULL if nothing matches.
 */
const struct sla_policy *sla_policy_find(const struct sla_policy *tab, size_t n,
                                         const char *queue, int priority);

/* ---- ticket clock state ---------------------------------------------- */

/* Values are stable: they may be stored as integers. */
enum sla_status {
	SLA_NEW = 0,
	SLA_OPEN = 1,
	SLA_PENDING = 2,  /* waiting on the customer: clocks pause */
	SLA_RESOLVED = 3, /* clocks stop; a reopen resumes them */
	SLA_CLOSED = 4,
};

/*
 * What the SLA needs to know about one ticket: plain integers, one DB row.
 * The facts are set by sla_ticket_init and the sla_on_* helpers, which are
 * the only writers of the bookkeeping part.
 *
 * Why "run" seconds rather than "paused" seconds: keeping the business
 * time a clock has run before the current stretch makes every breach
 * instant exact even after pauses (the breach of the current stretch is
 * run_since + the rest of the target), and a breach that happened before
 * a pause is recognisable (run secs already >= target), which is what
 * stops its escalation chain for good.
 */
struct sla_ticket {
	gint64 created;           /* first customer message */
	int priority;             /* bigger = more urgent */
	int status;               /* enum sla_status */
	gint64 first_response_at; /* first agent reply, 0 = none yet */
	gint64 last_customer_at;  /* latest customer message */
	gint64 last_agent_at;     /* latest agent reply, 0 = none */
	gint64 resolved_at;       /* entered RESOLVED/CLOSED, 0 while not */

	/* bookkeeping: exactly one of run_since / paused_since is nonzero */
	gint64 run_since;    /* start of the current running stretch */
	gint64 paused_since; /* start of the current pending/resolved stretch */
	gint64 resolution_run_secs; /* business secs run before the stretch */
	gint64 awaiting_since;      /* oldest unanswered customer msg, 0=none */
	gint64 response_run_secs;   /* business secs the response clock ran
	                               before the stretch, since awaiting */
	gint64 first_response_secs; /* business secs to the first reply */
};

/*
 * sla_ticket_init - a NEW ticket created by a customer message at created:
 * the first-response and resolution clocks start at created.  (For a
 * ticket opened by an agent, set awaiting_since = 0 afterwards: no one is
 * waiting for a response.)  Never fails.
 */
void sla_ticket_init(struct sla_ticket *t, gint64 created, int priority);

/*
 * sla_on_status_change - the ticket's status becomes new_status at now.
 * PENDING, RESOLVED and CLOSED pause every clock (the business time spent
 * there does not count); NEW and OPEN resume them.  Entering RESOLVED or
 * CLOSED also stops the response clock (nothing is awaited any more) and
 * sets resolved_at; leaving them clears it.  Same status: no change.
 * 0, or -EINVAL (unknown status, inconsistent t); t unchanged then.
 */
int sla_on_status_change(struct sla_ticket *t, const struct sla_calendar *cal,
                         int new_status, gint64 now);

/*
 * sla_on_customer_message - a customer wrote at now.  Starts the response
 * clock unless one is already running: a customer's second "any news?"
 * does not push the deadline back.  Does not change the status: if the
 * workflow reopens a pending ticket, call sla_on_status_change too (in
 * either order).  0, or -EINVAL for an inconsistent t (t unchanged).
 */
int sla_on_customer_message(struct sla_ticket *t, gint64 now);

/*
 * sla_on_agent_reply - an agent replied to the customer at now: stops the
 * response clock; the first reply also records first_response_at and the
 * business seconds it took.  0, or -EINVAL (t unchanged).
 */
int sla_on_agent_reply(struct sla_ticket *t, const struct sla_calendar *cal,
                       gint64 now);

/* ---- evaluation ------------------------------------------------------ */

enum sla_target {
	SLA_FIRST_RESPONSE = 0,
	SLA_NEXT_RESPONSE,
	SLA_RESOLUTION,
	SLA_TARGET__COUNT
};

enum sla_clock_state {
	SLA_CLOCK_OFF = 0, /* no target, or nothing to measure */
	SLA_CLOCK_RUNNING,
	SLA_CLOCK_PAUSED, /* ticket pending: frozen */
	SLA_CLOCK_DONE,   /* answered / resolved; breached says if late */
};

struct sla_clock {
	int state;           /* enum sla_clock_state */
	bool warning;        /* warning point reached (now or when stopped) */
	bool breached;       /* target reached: elapsed >= target */
	gint64 start;        /* clock start; identifies a breach */
	gint64 target_secs;  /* business seconds */
	gint64 elapsed_secs; /* business seconds run, pauses excluded */
	/*
	 * RUNNING only, else SLA_NEVER: the instant the clock reaches its
	 * target (due) or warning point (warn_at) in the current running
	 * stretch - in the future, or in the past when already reached.
	 * SLA_NEVER too when it was reached before the last pause: that
	 * breach's instant is not kept and its escalation is over.
	 */
	gint64 due;
	gint64 warn_at;
};

struct sla_result {
	struct sla_clock clock[SLA_TARGET__COUNT];
	/* earliest instant > now at which the result changes by itself;
	 * SLA_NEVER when only an event (reply, status change) can change it */
	gint64 next_change;
};

/*
 * sla_evaluate - the SLA clocks of t under policy p and calendar cal at
 * now.  A response clock is FIRST_RESPONSE until the first agent reply,
 * NEXT_RESPONSE afterwards, and measures from the oldest unanswered
 * customer message.  A reply before due is on time; at due the target is
 * breached.  0 and *out_r filled, or -EINVAL for an inconsistent ticket
 * (e.g. a DB row with created == 0 or both stretch fields set).
 */
int sla_evaluate(const struct sla_policy *p, const struct sla_calendar *cal,
                 const struct sla_ticket *t, gint64 now,
                 struct sla_result *out_r);

/* ---- escalation ------------------------------------------------------ */

/* Addressees are borrowed from the config, NULL-terminated. */
struct sla_esc_level {
	int after_min; /* business minutes after the breach */
	const char *const *to;
};

/*
 * An escalation chain (per queue).  Levels are ordered by after_min
 * (non-decreasing); level 1 is usually 0 (at the breach).
 * immediate_priority > 0: a ticket with priority >= it escalates to level
 * 1 as soon as a customer is waiting on it (once per ticket), without
 * waiting for a breach.  0 turns that rule off.
 */
struct sla_chain {
	const char *queue; /* borrowed; NULL = any queue */
	struct sla_esc_level level[SLA_ESC_MAX_LEVELS];
	size_t n_levels;
	int immediate_priority;
};

/* sla_chain_check - 0, or -EINVAL with a reason. */
int sla_chain_check(const struct sla_chain *c, char *err, size_t errlen);

enum sla_esc_kind {
	SLA_ESC_RESPONSE = 0, /* first or next response breach */
	SLA_ESC_RESOLUTION,
	SLA_ESC_IMMEDIATE, /* priority rule, level 1 only */
	SLA_ESC__COUNT
};

/*
 * Per-ticket escalation memory: six integers for the DB, all 0 for a new
 * ticket.  start[k] is the clock start of the breach that fired[k]
 * belongs to (a new response cycle is a new breach); bit i of fired[k]
 * means level i + 1 has fired for it.
 */
struct sla_esc_state {
	gint64 start[SLA_ESC__COUNT];
	guint32 fired[SLA_ESC__COUNT];
};

struct sla_esc_fire {
	int kind;         /* enum sla_esc_kind */
	int level;        /* 1-based: notify chain->level[level - 1].to */
	gint64 breach_at; /* the breach (IMMEDIATE: since when waiting) */
};

struct sla_esc_result {
	struct sla_esc_state state; /* persist this with the notices */
	struct sla_esc_fire fire[SLA_ESC__COUNT * SLA_ESC_MAX_LEVELS];
	size_t n_fire;
	gint64 next_at; /* next instant a level becomes due, or SLA_NEVER */
};

/*
 * sla_escalation_due - which levels must fire now for t, given ev (from
 * sla_evaluate at the same now) and st (the stored state).  A breach
 * escalates while its clock runs: level k fires once, at breach +
 * level[k].after_min business minutes.  Nothing fires while the ticket is
 * pending or resolved; a breach stops escalating for good once an agent
 * replied after it, or once the ticket was pending/resolved after it.
 * Levels that came due while the daemon was down fire together.
 * Write out_r->state back in the same transaction as the notices, so that
 * each level is sent exactly once.  Wake again at min(ev->next_change,
 * out_r->next_at).  0, or -EINVAL (bad chain or ticket; *out_r unset).
 */
int sla_escalation_due(const struct sla_chain *chain,
                       const struct sla_calendar *cal,
                       const struct sla_ticket *t, const struct sla_result *ev,
                       const struct sla_esc_state *st, gint64 now,
                       struct sla_esc_result *out_r);

/* ---- digest batching ------------------------------------------------- */

/* One pending notice for one addressee; strings borrowed. */
struct sla_notice {
	const char *to;
	gint64 ticket_id;
	gint64 queued_at;
};

/* When the last digest went to an addressee. */
struct sla_digest_sent {
	const char *to;
	gint64 at;
};

/*
 * sla_digest_plan - batch notices into one digest per addressee (compared
 * ASCII case-insensitively).  An addressee's pending notices all go out
 * together, now, once both
 *   now >= last digest to them + batch_secs   (one digest per window) and
 *   now >= their oldest notice + hold_secs    (let a burst gather)
 * hold: 0 sends the first notice of a quiet spell at once.
 * group_r[i] (caller's array of n) is set to the digest number 0.. for
 * notices to send now, in order of first appearance, or -1 for notices
 * held; *next_at_r to the earliest instant a held digest is due, or
 * SLA_NEVER.  Returns the number of digests to send now (>= 0), or
 * -EINVAL (NULL addressee, negative window); outputs unset then.
 */
int sla_digest_plan(const struct sla_notice *notices, size_t n,
                    const struct sla_digest_sent *sent, size_t n_sent,
                    gint64 batch_secs, gint64 hold_secs, gint64 now,
                    int *group_r, gint64 *next_at_r);

#endif
