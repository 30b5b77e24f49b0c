/*
 * sla.c - business-hours arithmetic, SLA clocks, escalation and digest
 * batching.  Pure: no I/O, no logging, no clock.  See sla.h.
 *
 * The calendar math walks local calendar days, never minutes: for each
 * day it asks GTimeZone for the instants of that day's interval ends, so
 * a DST day costs the same as any other and a 30-business-day due time is
 * ~40 iterations.  Days without hours (weekends, holidays) cost no
 * GTimeZone call at all.
 */
#include "sla.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECS_PER_DAY 86400
/* g_date_get_julian() of 1970-01-01 (GDate day 1 is 0001-01-01). */
#define JULIAN_UNIX_EPOCH 719163
/* 9999-12-31T23:59:59Z: GDate's last year, and far from overflow. */
#define SLA_MAX_TIME G_GINT64_CONSTANT(253402300799)
/* add_business gives up after this many days without enough hours. */
#define SLA_MAX_SCAN_DAYS (100 * 366)
/* Targets and offsets above a year of minutes are config typos. */
#define SLA_MAX_TARGET_MIN (366 * 24 * 60)

static void sla_err(char *err, size_t errlen, const char *fmt, ...)
    PRINTF_LIKE(3, 4);

static void
sla_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* floor_div - division rounding toward minus infinity (days before 1970
 * would otherwise land on the wrong day). */
static gint64
floor_div(gint64 a, gint64 b)
{
	gint64 q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

static gint64
clamp_time(gint64 t)
{
	return CLAMP(t, 0, SLA_MAX_TIME);
}

/* ---- calendar primitives --------------------------------------------- */

/* weekday_of_day - enum sla_weekday of a day number; 1970-01-01 was a
 * Thursday. */
static int
weekday_of_day(gint64 day)
{
	gint64 w = (day + SLA_THU) % 7;

	return (int)(w < 0 ? w + 7 : w);
}

/* local_day - the calendar's local date (days since 1970-01-01) of t. */
static gint64
local_day(const struct sla_calendar *cal, gint64 t)
{
	gint iv = g_time_zone_find_interval(cal->tz, G_TIME_TYPE_UNIVERSAL, t);

	return floor_div(t + g_time_zone_get_offset(cal->tz, iv), SECS_PER_DAY);
}

/*
 * local_to_unix - the instant of wall time (day, minute) in the calendar's
 * zone.  GLib moves a time in a spring gap to the end of the gap and
 * resolves an autumn overlap to the standard-time (later) occurrence.
 * Minute 1440 is the next day's 00:00, so adjacent days tile exactly.
 */
static gint64
local_to_unix(const struct sla_calendar *cal, gint64 day, int minute)
{
	gint64 local = day * SECS_PER_DAY + (gint64)minute * 60;
	gint iv =
	    g_time_zone_adjust_time(cal->tz, G_TIME_TYPE_STANDARD, &local);

	return local - g_time_zone_get_offset(cal->tz, iv);
}

static int
cmp_gint64(const void *a, const void *b)
{
	gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;

	return (x > y) - (x < y);
}

static bool
is_holiday(const struct sla_calendar *cal, gint64 day)
{
	if (cal->n_holidays == 0)
		return false;
	return bsearch(&day, cal->holidays, cal->n_holidays, sizeof(gint64),
	               cmp_gint64) != NULL;
}

/* day_hours - the day's intervals (NULL when closed or a holiday). */
static const struct sla_hours *
day_hours(const struct sla_calendar *cal, gint64 day, int *n_r)
{
	int wd = weekday_of_day(day);

	if (cal->n_hours[wd] == 0 || is_holiday(cal, day))
		return NULL;
	*n_r = cal->n_hours[wd];
	return cal->hours[wd];
}

/* day_clipped - the business seconds of local day `day` inside [from,
 * to). */
static gint64
day_clipped(const struct sla_calendar *cal, gint64 day, gint64 from, gint64 to)
{
	const struct sla_hours *h;
	gint64 total = 0;
	int n = 0;

	h = day_hours(cal, day, &n);
	for (int i = 0; i < n; i++) {
		gint64 s = local_to_unix(cal, day, h[i].start_min);
		gint64 e = local_to_unix(cal, day, h[i].end_min);

		s = MAX(s, from);
		e = MIN(e, to);
		if (e > s)
			total += e - s;
	}
	return total;
}

/* ---- the memo of whole days ------------------------------------------- */

/*
 * A report over a year of open tickets asks for the same few hundred
 * days again and again (tests/bench_report.sh: 20,000 tickets in the
 * backlog, two zone lookups per business day each, most of tickctl's
 * time).  The memo keeps, for each local day of [base, base + n), the
 * day's business seconds and the first and last instant of its hours:
 * a day that lies wholly inside [from, to) then adds its seconds from
 * the memo, exactly what day_clipped would add, as no interval of it is
 * clipped.  Days at the edges are walked as before.
 */
#define SLA_MEMO_MIN_DAYS 7          /* shorter spans walk: no memo */
#define SLA_MEMO_MAX_DAYS (40 * 366) /* ~350 KB; a wider span walks */
#define SLA_MEMO_MARGIN   64         /* days grown beyond a request */

struct sla_day_secs {
	gint64 secs;   /* business seconds of the whole day */
	gint64 lo, hi; /* first start, last end of its hours; closed: lo > hi */
};

struct sla_day_memo {
	GMutex lock;
	gint64 base;              /* the first day */
	gint64 n;                 /* days */
	struct sla_day_secs *day; /* [n], owned */
};

static void
day_fill(const struct sla_calendar *cal, gint64 day, struct sla_day_secs *d)
{
	const struct sla_hours *h;
	int n = 0;

	*d = (struct sla_day_secs){0, G_MAXINT64, G_MININT64};
	h = day_hours(cal, day, &n);
	for (int i = 0; i < n; i++) {
		gint64 s = local_to_unix(cal, day, h[i].start_min);
		gint64 e = local_to_unix(cal, day, h[i].end_min);

		d->lo = MIN(d->lo, s);
		d->hi = MAX(d->hi, e);
		if (e > s)
			d->secs += e - s;
	}
}

/* memo_cover - make m hold the days [first, last] (m locked); false when
 * they are too many. */
static bool
memo_cover(const struct sla_calendar *cal, struct sla_day_memo *m, gint64 first,
           gint64 last)
{
	gint64 lo = first, hi = last;
	struct sla_day_secs *day;
	bool keep = m->n > 0;

	if (keep && first >= m->base && last < m->base + m->n)
		return true;
	if (keep) {
		/* grow in steps: the next ticket's span is a little wider */
		lo = first < m->base ? first - SLA_MEMO_MARGIN : m->base;
		hi = last >= m->base + m->n ? last + SLA_MEMO_MARGIN
		                            : m->base + m->n - 1;
		if (hi - lo + 1 > SLA_MEMO_MAX_DAYS) {
			lo = first;
			hi = last;
			keep = false;
		}
	}
	if (hi - lo + 1 > SLA_MEMO_MAX_DAYS)
		return false;
	day = g_new(struct sla_day_secs, hi - lo + 1);
	for (gint64 d = lo; d <= hi; d++) {
		if (keep && d >= m->base && d < m->base + m->n)
			day[d - lo] = m->day[d - m->base];
		else
			day_fill(cal, d, &day[d - lo]);
	}
	g_free(m->day);
	m->day = day;
	m->base = lo;
	m->n = hi - lo + 1;
	return true;
}

gint64
sla_business_seconds(const struct sla_calendar *cal, gint64 from, gint64 to)
{
	struct sla_day_memo *m = cal->memo;
	gint64 total = 0, first, last;

	from = clamp_time(from);
	to = clamp_time(to);
	if (to <= from)
		return 0;
	/* One day of slack each side: an autumn overlap can put the start
	 * of a local day after an instant that already belongs to it. */
	first = local_day(cal, from) - 1;
	last = local_day(cal, to) + 1;
	if (m != NULL && last - first >= SLA_MEMO_MIN_DAYS &&
	    last - first < SLA_MEMO_MAX_DAYS) {
		bool done = false;

		g_mutex_lock(&m->lock);
		if (memo_cover(cal, m, first, last)) {
			for (gint64 day = first; day <= last; day++) {
				const struct sla_day_secs *d =
				    &m->day[day - m->base];

				if (from <= d->lo && d->hi <= to)
					total += d->secs;
				else
					total +=
					    day_clipped(cal, day, from, to);
			}
			done = true;
		}
		g_mutex_unlock(&m->lock);
		if (done)
			return total;
	}
	for (gint64 day = first; day <= last; day++)
		total += day_clipped(cal, day, from, to);
	return total;
}

gint64
sla_business_minutes(const struct sla_calendar *cal, gint64 from, gint64 to)
{
	return sla_business_seconds(cal, from, to) / 60;
}

gint64
sla_add_business_seconds(const struct sla_calendar *cal, gint64 from,
                         gint64 secs)
{
	gint64 first;

	from = clamp_time(from);
	if (secs <= 0)
		return from;
	first = local_day(cal, from) - 1;
	for (gint64 day = first; day <= first + SLA_MAX_SCAN_DAYS; day++) {
		const struct sla_hours *h;
		int n = 0;

		h = day_hours(cal, day, &n);
		for (int i = 0; i < n; i++) {
			gint64 s = local_to_unix(cal, day, h[i].start_min);
			gint64 e = local_to_unix(cal, day, h[i].end_min);

			s = MAX(s, from);
			if (e <= s)
				continue;
			/* Inside an interval business time is real time. */
			if (e - s >= secs)
				return s + secs;
			secs -= e - s;
		}
		if (day * SECS_PER_DAY > SLA_MAX_TIME)
			break;
	}
	return SLA_NEVER;
}

gint64
sla_add_business(const struct sla_calendar *cal, gint64 from, gint64 minutes)
{
	if (minutes > G_MAXINT64 / 60)
		return SLA_NEVER;
	return sla_add_business_seconds(cal, from, minutes * 60);
}

bool
sla_is_business_time(const struct sla_calendar *cal, gint64 t)
{
	return sla_business_seconds(cal, t, t + 1) == 1;
}

/* ---- calendar construction ------------------------------------------- */

static const char *const weekday_names[SLA_WEEKDAY__COUNT] = {
    "mon", "tue", "wed", "thu", "fri", "sat", "sun",
};
static const char *const weekday_long[SLA_WEEKDAY__COUNT] = {
    "monday", "tuesday",  "wednesday", "thursday",
    "friday", "saturday", "sunday",
};

int
sla_weekday_parse(const char *s)
{
	if (s == NULL)
		return -EINVAL;
	for (int i = 0; i < SLA_WEEKDAY__COUNT; i++)
		if (g_ascii_strcasecmp(s, weekday_names[i]) == 0 ||
		    g_ascii_strcasecmp(s, weekday_long[i]) == 0)
			return i;
	return -EINVAL;
}

/* parse_digits - exactly n ASCII digits at *p; advances *p. */
static bool
parse_digits(const char **p, int n, int *val_r)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!g_ascii_isdigit((*p)[i]))
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*val_r = v;
	return true;
}

/* parse_hhmm - "HH:MM" with 00:00..24:00 into minutes; advances *p. */
static bool
parse_hhmm(const char **p, int *min_r)
{
	const char *q = *p;
	int h, m;

	if (!parse_digits(&q, 2, &h) || *q++ != ':' || !parse_digits(&q, 2, &m))
		return false;
	if (m > 59 || h > 24 || (h == 24 && m != 0))
		return false;
	*p = q;
	*min_r = h * 60 + m;
	return true;
}

/* parse_date - strict "YYYY-MM-DD" (a real date) into a day number. */
static bool
parse_date(const char *s, gint64 *day_r)
{
	const char *p = s;
	int y, m, d;
	GDate date;

	if (!parse_digits(&p, 4, &y) || *p++ != '-' ||
	    !parse_digits(&p, 2, &m) || *p++ != '-' ||
	    !parse_digits(&p, 2, &d) || *p != '\0')
		return false;
	if (y < 1970 ||
	    !g_date_valid_dmy((GDateDay)d, (GDateMonth)m, (GDateYear)y))
		return false;
	g_date_clear(&date, 1);
	g_date_set_dmy(&date, (GDateDay)d, (GDateMonth)m, (GDateYear)y);
	*day_r = (gint64)g_date_get_julian(&date) - JULIAN_UNIX_EPOCH;
	return true;
}

static void
fmt_hhmm(int min, char *buf, size_t len)
{
	(void)snprintf(buf, len, "%02d:%02d", min / 60, min % 60);
}

int
sla_hours_parse(int weekday, const char *spec, struct sla_hours *out,
                size_t max, size_t *n_r, char *err, size_t errlen)
{
	struct sla_hours tmp[SLA_DAY_MAX_INTERVALS];
	const char *p = spec;
	size_t n = 0;

	if (weekday < 0 || weekday >= SLA_WEEKDAY__COUNT || spec == NULL) {
		sla_err(err, errlen, "bad weekday or missing hours");
		return -EINVAL;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0' || g_ascii_strcasecmp(p, "closed") == 0) {
		*n_r = 0;
		return 0;
	}
	for (;;) {
		int s, e;

		while (*p == ' ' || *p == '\t')
			p++;
		if (!parse_hhmm(&p, &s) || *p++ != '-' || !parse_hhmm(&p, &e)) {
			sla_err(err, errlen,
			        "%s: bad hours '%s' (want HH:MM-HH:MM[,...])",
			        weekday_names[weekday], spec);
			return -EINVAL;
		}
		if (s >= e) {
			sla_err(err, errlen, "%s: interval in '%s' is inverted",
			        weekday_names[weekday], spec);
			return -EINVAL;
		}
		if (n == max || n == SLA_DAY_MAX_INTERVALS) {
			sla_err(err, errlen, "%s: too many intervals in '%s'",
			        weekday_names[weekday], spec);
			return -EINVAL;
		}
		tmp[n].weekday = weekday;
		tmp[n].start_min = s;
		tmp[n].end_min = e;
		n++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		if (*p++ != ',') {
			sla_err(err, errlen, "%s: bad separator in '%s'",
			        weekday_names[weekday], spec);
			return -EINVAL;
		}
	}
	memcpy(out, tmp, n * sizeof(tmp[0]));
	*n_r = n;
	return 0;
}

static int
cmp_hours(const void *a, const void *b)
{
	const struct sla_hours *x = a, *y = b;

	return (x->start_min > y->start_min) - (x->start_min < y->start_min);
}

/*
 * sla_calendar_add_hours - file each interval under its weekday; false with
 * err set on a bad weekday, an inverted interval or a full day.  Only the
 * interval itself is checked here: overlaps need the day sorted first.
 */
static bool
sla_calendar_add_hours(struct sla_calendar *cal, const struct sla_hours *hours,
                       size_t n_hours, char *err, size_t errlen)
{
	for (size_t i = 0; i < n_hours; i++) {
		const struct sla_hours *h = &hours[i];
		int wd = h->weekday;

		if (wd < 0 || wd >= SLA_WEEKDAY__COUNT) {
			sla_err(err, errlen, "calendar '%s': bad weekday %d",
			        cal->name, wd);
			return false;
		}
		if (h->start_min < 0 || h->end_min > 24 * 60 ||
		    h->start_min >= h->end_min) {
			sla_err(err, errlen,
			        "calendar '%s': %s: interval %d-%d min is "
			        "inverted or outside 00:00-24:00",
			        cal->name, weekday_names[wd], h->start_min,
			        h->end_min);
			return false;
		}
		if (cal->n_hours[wd] == SLA_DAY_MAX_INTERVALS) {
			sla_err(err, errlen,
			        "calendar '%s': %s: more than %d intervals",
			        cal->name, weekday_names[wd],
			        SLA_DAY_MAX_INTERVALS);
			return false;
		}
		cal->hours[wd][cal->n_hours[wd]++] = *h;
	}
	return true;
}

/*
 * sla_calendar_sort_hours - sort each day's intervals and refuse overlaps,
 * so the clock arithmetic can walk a day's intervals in order.
 */
static bool
sla_calendar_sort_hours(struct sla_calendar *cal, char *err, size_t errlen)
{
	for (int wd = 0; wd < SLA_WEEKDAY__COUNT; wd++) {
		struct sla_hours *h = cal->hours[wd];

		qsort(h, (size_t)cal->n_hours[wd], sizeof(*h), cmp_hours);
		for (int i = 1; i < cal->n_hours[wd]; i++) {
			char a[16], b[16], c[16], d[16];

			/* Touching (12:00-13:00, 13:00-17:00) is fine. */
			if (h[i].start_min >= h[i - 1].end_min)
				continue;
			fmt_hhmm(h[i - 1].start_min, a, sizeof(a));
			fmt_hhmm(h[i - 1].end_min, b, sizeof(b));
			fmt_hhmm(h[i].start_min, c, sizeof(c));
			fmt_hhmm(h[i].end_min, d, sizeof(d));
			sla_err(err, errlen,
			        "calendar '%s': %s: intervals %s-%s and %s-%s "
			        "overlap",
			        cal->name, weekday_names[wd], a, b, c, d);
			return false;
		}
	}
	return true;
}

int
sla_calendar_new(const char *name, const char *tz_id,
                 const struct sla_hours *hours, size_t n_hours,
                 const char *const *holidays, size_t n_holidays,
                 struct sla_calendar **cal_r, char *err, size_t errlen)
{
	struct sla_calendar *cal;
	size_t n_days = 0;
	int r = -EINVAL;

	cal = g_new0(struct sla_calendar, 1);
	cal->name = g_strdup(name != NULL ? name : "");
	cal->memo = g_new0(struct sla_day_memo, 1);
	g_mutex_init(&cal->memo->lock);
	if (tz_id == NULL || *tz_id == '\0') {
		sla_err(err, errlen, "calendar '%s': no time zone", cal->name);
		goto out;
	}
	/* NULL for an unknown id since GLib 2.68 (no silent UTC). */
	cal->tz = g_time_zone_new_identifier(tz_id);
	if (cal->tz == NULL) {
		sla_err(err, errlen, "calendar '%s': unknown time zone '%s'",
		        cal->name, tz_id);
		goto out;
	}
	if (n_hours == 0) {
		sla_err(err, errlen, "calendar '%s': no business hours",
		        cal->name);
		goto out;
	}
	if (!sla_calendar_add_hours(cal, hours, n_hours, err, errlen) ||
	    !sla_calendar_sort_hours(cal, err, errlen))
		goto out;
	cal->holidays = g_new(gint64, n_holidays > 0 ? n_holidays : 1);
	for (size_t i = 0; i < n_holidays; i++) {
		if (holidays[i] == NULL ||
		    !parse_date(holidays[i], &cal->holidays[i])) {
			sla_err(err, errlen,
			        "calendar '%s': holiday '%s' is not a date "
			        "(want YYYY-MM-DD)",
			        cal->name, holidays[i] ? holidays[i] : "");
			goto out;
		}
	}
	qsort(cal->holidays, n_holidays, sizeof(gint64), cmp_gint64);
	for (size_t i = 0; i < n_holidays; i++)
		if (n_days == 0 ||
		    cal->holidays[n_days - 1] != cal->holidays[i])
			cal->holidays[n_days++] = cal->holidays[i];
	cal->n_holidays = n_days;
	*cal_r = cal;
	cal = NULL;
	r = 0;
out:
	sla_calendar_free(&cal);
	return r;
}

void
sla_calendar_free(struct sla_calendar **cal)
{
	if (*cal == NULL)
		return;
	if ((*cal)->tz != NULL)
		g_time_zone_unref((*cal)->tz);
	g_free((*cal)->holidays);
	g_free((*cal)->name);
	if ((*cal)->memo != NULL) {
		g_mutex_clear(&(*cal)->memo->lock);
		g_free((*cal)->memo->day);
		g_free((*cal)->memo);
	}
	g_free(*cal);
	*cal = NULL;
}

/* ---- policies -------------------------------------------------------- */

static bool
target_ok(int min)
{
	return min >= 0 && min <= SLA_MAX_TARGET_MIN;
}

int
sla_policy_check(const struct sla_policy *p, char *err, size_t errlen)
{
	if (!target_ok(p->first_response_min) ||
	    !target_ok(p->next_response_min) || !target_ok(p->resolution_min)) {
		sla_err(err, errlen,
		        "sla targets must be 0 (none) to %d minutes",
		        SLA_MAX_TARGET_MIN);
		return -EINVAL;
	}
	if (p->warn_pct < 0 || p->warn_pct > 99) {
		sla_err(err, errlen, "warning point %d%% not in 0..99",
		        p->warn_pct);
		return -EINVAL;
	}
	if (p->priority < 0 && p->priority != SLA_ANY_PRIORITY) {
		sla_err(err, errlen, "bad priority %d", p->priority);
		return -EINVAL;
	}
	return 0;
}

const struct sla_policy *
sla_policy_find(const struct sla_policy *tab, size_t n, const char *queue,
                int priority)
{
	const struct sla_policy *best = NULL;
	int best_score = -1;

	for (size_t i = 0; i < n; i++) {
		const struct sla_policy *p = &tab[i];
		int score = 0;

		if (p->queue != NULL) {
			if (queue == NULL || strcmp(p->queue, queue) != 0)
				continue;
			score += 2;
		}
		if (p->priority != SLA_ANY_PRIORITY) {
			if (p->priority != priority)
				continue;
			score += 1;
		}
		/* Strictly greater: the first of equals wins. */
		if (score > best_score) {
			best = p;
			best_score = score;
		}
	}
	return best;
}

/* ---- ticket transitions ---------------------------------------------- */

static bool
status_valid(int st)
{
	return st >= SLA_NEW && st <= SLA_CLOSED;
}

static bool
status_paused(int st)
{
	return st == SLA_PENDING || st == SLA_RESOLVED || st == SLA_CLOSED;
}

static bool
status_done(int st)
{
	return st == SLA_RESOLVED || st == SLA_CLOSED;
}

/* ticket_ok - a row the helpers can trust: one of the stretch fields set,
 * matching the status, and no negative counters. */
static bool
ticket_ok(const struct sla_ticket *t)
{
	if (t->created <= 0 || !status_valid(t->status))
		return false;
	if (status_paused(t->status))
		return t->paused_since > 0 && t->run_since == 0 &&
		       t->resolution_run_secs >= 0 && t->response_run_secs >= 0;
	return t->run_since > 0 && t->paused_since == 0 &&
	       t->resolution_run_secs >= 0 && t->response_run_secs >= 0;
}

void
sla_ticket_init(struct sla_ticket *t, gint64 created, int priority)
{
	memset(t, 0, sizeof(*t));
	t->created = created;
	t->priority = priority;
	t->status = SLA_NEW;
	t->last_customer_at = created;
	t->run_since = created;
	t->awaiting_since = created;
}

/* response_segment_start - where the response clock's current running
 * stretch began: a customer may write in the middle of a stretch. */
static gint64
response_segment_start(const struct sla_ticket *t)
{
	return MAX(t->run_since, t->awaiting_since);
}

int
sla_on_status_change(struct sla_ticket *t, const struct sla_calendar *cal,
                     int new_status, gint64 now)
{
	struct sla_ticket n;

	if (!ticket_ok(t) || !status_valid(new_status))
		return -EINVAL;
	n = *t;
	if (status_paused(new_status) && !status_paused(t->status)) {
		/* Bank the stretch that ends now. */
		n.resolution_run_secs +=
		    sla_business_seconds(cal, t->run_since, now);
		if (t->awaiting_since != 0)
			n.response_run_secs += sla_business_seconds(
			    cal, response_segment_start(t), now);
		n.run_since = 0;
		n.paused_since = MAX(now, 1);
	} else if (!status_paused(new_status) && status_paused(t->status)) {
		n.paused_since = 0;
		n.run_since = MAX(now, 1);
	}
	if (status_done(new_status)) {
		if (!status_done(t->status))
			n.resolved_at = now;
		/* Nobody waits for an answer on a resolved ticket. */
		n.awaiting_since = 0;
		n.response_run_secs = 0;
	} else {
		n.resolved_at = 0;
	}
	n.status = new_status;
	*t = n;
	return 0;
}

int
sla_on_customer_message(struct sla_ticket *t, gint64 now)
{
	if (!ticket_ok(t))
		return -EINVAL;
	t->last_customer_at = now;
	if (t->awaiting_since == 0) {
		t->awaiting_since = now;
		t->response_run_secs = 0;
	}
	return 0;
}

/* response_elapsed - business seconds the response clock has run at now. */
static gint64
response_elapsed(const struct sla_ticket *t, const struct sla_calendar *cal,
                 gint64 now)
{
	if (t->awaiting_since == 0)
		return 0;
	if (status_paused(t->status))
		return t->response_run_secs;
	return t->response_run_secs +
	       sla_business_seconds(cal, response_segment_start(t), now);
}

int
sla_on_agent_reply(struct sla_ticket *t, const struct sla_calendar *cal,
                   gint64 now)
{
	if (!ticket_ok(t))
		return -EINVAL;
	if (t->first_response_at == 0) {
		t->first_response_at = now;
		t->first_response_secs = response_elapsed(t, cal, now);
	}
	t->last_agent_at = now;
	t->awaiting_since = 0;
	t->response_run_secs = 0;
	return 0;
}

/* ---- evaluation ------------------------------------------------------ */

static void
clock_off(struct sla_clock *c)
{
	memset(c, 0, sizeof(*c));
	c->state = SLA_CLOCK_OFF;
	c->due = SLA_NEVER;
	c->warn_at = SLA_NEVER;
}

/*
 * clock_eval - fill c for a clock of target_min that started at start and
 * ran run_before business seconds before the current stretch.  seg is the
 * start of the current running stretch, or 0 while paused/stopped (state
 * says which).  The due time is exact because it is computed from seg
 * with the rest of the target, not from start plus the pauses.
 */
static void
clock_eval(const struct sla_calendar *cal, int target_min, int warn_pct,
           gint64 start, gint64 run_before, gint64 seg, int state, gint64 now,
           struct sla_clock *c)
{
	gint64 warn_secs;

	clock_off(c);
	if (target_min <= 0)
		return;
	c->state = state;
	c->start = start;
	c->target_secs = (gint64)target_min * 60;
	c->elapsed_secs = run_before;
	if (state == SLA_CLOCK_RUNNING)
		c->elapsed_secs += sla_business_seconds(cal, seg, now);
	c->breached = c->elapsed_secs >= c->target_secs;
	warn_secs = c->target_secs * warn_pct / 100;
	c->warning = warn_pct > 0 && c->elapsed_secs >= warn_secs;
	if (state != SLA_CLOCK_RUNNING)
		return;
	if (run_before < c->target_secs)
		c->due = sla_add_business_seconds(cal, seg,
		                                  c->target_secs - run_before);
	if (warn_pct > 0 && run_before < warn_secs)
		c->warn_at =
		    sla_add_business_seconds(cal, seg, warn_secs - run_before);
}

static void
next_change_min(gint64 *next, gint64 t, gint64 now)
{
	if (t != SLA_NEVER && t > now && t < *next)
		*next = t;
}

int
sla_evaluate(const struct sla_policy *p, const struct sla_calendar *cal,
             const struct sla_ticket *t, gint64 now, struct sla_result *out_r)
{
	struct sla_result res;
	bool paused;
	gint64 seg;
	int st;

	if (!ticket_ok(t))
		return -EINVAL;
	paused = status_paused(t->status);
	st = paused ? SLA_CLOCK_PAUSED : SLA_CLOCK_RUNNING;

	/* Response: one clock, first or next depending on history. */
	clock_off(&res.clock[SLA_FIRST_RESPONSE]);
	clock_off(&res.clock[SLA_NEXT_RESPONSE]);
	seg = paused ? 0 : response_segment_start(t);
	if (t->first_response_at != 0) {
		clock_eval(cal, p->first_response_min, p->warn_pct, t->created,
		           t->first_response_secs, 0, SLA_CLOCK_DONE, now,
		           &res.clock[SLA_FIRST_RESPONSE]);
		if (t->awaiting_since != 0)
			clock_eval(cal, p->next_response_min, p->warn_pct,
			           t->awaiting_since, t->response_run_secs, seg,
			           st, now, &res.clock[SLA_NEXT_RESPONSE]);
	} else if (t->awaiting_since != 0) {
		clock_eval(cal, p->first_response_min, p->warn_pct,
		           t->awaiting_since, t->response_run_secs, seg, st,
		           now, &res.clock[SLA_FIRST_RESPONSE]);
	}

	clock_eval(cal, p->resolution_min, p->warn_pct, t->created,
	           t->resolution_run_secs, paused ? 0 : t->run_since,
	           status_done(t->status) ? SLA_CLOCK_DONE : st, now,
	           &res.clock[SLA_RESOLUTION]);

	res.next_change = SLA_NEVER;
	for (int i = 0; i < SLA_TARGET__COUNT; i++) {
		next_change_min(&res.next_change, res.clock[i].due, now);
		next_change_min(&res.next_change, res.clock[i].warn_at, now);
	}
	*out_r = res;
	return 0;
}

/* ---- escalation ------------------------------------------------------ */

int
sla_chain_check(const struct sla_chain *c, char *err, size_t errlen)
{
	if (c->n_levels > SLA_ESC_MAX_LEVELS) {
		sla_err(err, errlen, "escalation: more than %d levels",
		        SLA_ESC_MAX_LEVELS);
		return -EINVAL;
	}
	if (c->immediate_priority < 0) {
		sla_err(err, errlen, "escalation: bad immediate priority %d",
		        c->immediate_priority);
		return -EINVAL;
	}
	if (c->immediate_priority > 0 && c->n_levels == 0) {
		sla_err(err, errlen,
		        "escalation: immediate priority needs a level 1");
		return -EINVAL;
	}
	for (size_t i = 0; i < c->n_levels; i++) {
		const struct sla_esc_level *l = &c->level[i];

		if (!target_ok(l->after_min)) {
			sla_err(err, errlen,
			        "escalation level %zu: after %d minutes is "
			        "out of range",
			        i + 1, l->after_min);
			return -EINVAL;
		}
		/* Sorted so the first unfired level is the next to come. */
		if (i > 0 && l->after_min < c->level[i - 1].after_min) {
			sla_err(err, errlen,
			        "escalation level %zu: fires before level %zu",
			        i + 1, i);
			return -EINVAL;
		}
		if (l->to == NULL || l->to[0] == NULL) {
			sla_err(err, errlen,
			        "escalation level %zu: no addressees", i + 1);
			return -EINVAL;
		}
	}
	return 0;
}

static void
esc_fire(struct sla_esc_result *res, int kind, int level, gint64 breach_at)
{
	struct sla_esc_fire *f = &res->fire[res->n_fire++];

	f->kind = kind;
	f->level = level;
	f->breach_at = breach_at;
}

/*
 * esc_breach - run the chain for one breach identified by (kind, id):
 * a new id means a new breach, so its fired levels start from none.
 * Levels are sorted, so the first one still in the future is the next.
 */
static void
esc_breach(const struct sla_chain *chain, const struct sla_calendar *cal,
           int kind, gint64 id, gint64 breach_at, gint64 now,
           struct sla_esc_result *res)
{
	if (res->state.start[kind] != id) {
		res->state.start[kind] = id;
		res->state.fired[kind] = 0;
	}
	for (size_t k = 0; k < chain->n_levels; k++) {
		guint32 bit = 1u << k;
		gint64 at;

		if (res->state.fired[kind] & bit)
			continue;
		at =
		    sla_add_business(cal, breach_at, chain->level[k].after_min);
		if (at > now) {
			res->next_at = MIN(res->next_at, at);
			break;
		}
		res->state.fired[kind] |= bit;
		esc_fire(res, kind, (int)k + 1, breach_at);
	}
}

/* live_breach - the breach instant of c if it breached in the current
 * running stretch and no agent has replied since; else 0. */
static gint64
live_breach(const struct sla_clock *c, const struct sla_ticket *t, gint64 now)
{
	if (c->state != SLA_CLOCK_RUNNING || c->due == SLA_NEVER ||
	    c->due > now)
		return 0;
	if (t->last_agent_at >= c->due)
		return 0;
	return c->due;
}

int
sla_escalation_due(const struct sla_chain *chain,
                   const struct sla_calendar *cal, const struct sla_ticket *t,
                   const struct sla_result *ev, const struct sla_esc_state *st,
                   gint64 now, struct sla_esc_result *out_r)
{
	struct sla_esc_result res;
	const struct sla_clock *resp;
	gint64 b;

	if (!ticket_ok(t) || sla_chain_check(chain, NULL, 0) < 0)
		return -EINVAL;
	memset(&res, 0, sizeof(res));
	res.state = *st;
	res.next_at = SLA_NEVER;
	if (status_paused(t->status) || chain->n_levels == 0)
		goto done;

	resp = &ev->clock[SLA_FIRST_RESPONSE];
	if (resp->state != SLA_CLOCK_RUNNING)
		resp = &ev->clock[SLA_NEXT_RESPONSE];
	b = live_breach(resp, t, now);
	if (b != 0)
		esc_breach(chain, cal, SLA_ESC_RESPONSE, resp->start, b, now,
		           &res);

	b = live_breach(&ev->clock[SLA_RESOLUTION], t, now);
	if (b != 0)
		esc_breach(chain, cal, SLA_ESC_RESOLUTION, t->created, b, now,
		           &res);

	/* Priority rule: level 1 only, once per ticket, while a customer
	 * waits (an agent reply clears awaiting_since). */
	if (chain->immediate_priority > 0 &&
	    t->priority >= chain->immediate_priority &&
	    t->awaiting_since != 0) {
		if (res.state.start[SLA_ESC_IMMEDIATE] != t->created) {
			res.state.start[SLA_ESC_IMMEDIATE] = t->created;
			res.state.fired[SLA_ESC_IMMEDIATE] = 0;
		}
		if (!(res.state.fired[SLA_ESC_IMMEDIATE] & 1u)) {
			res.state.fired[SLA_ESC_IMMEDIATE] |= 1u;
			esc_fire(&res, SLA_ESC_IMMEDIATE, 1, t->awaiting_since);
		}
	}
done:
	*out_r = res;
	return 0;
}

/* ---- digest batching ------------------------------------------------- */

/* Addresses compare case-insensitively: Boss@X and boss@x are one inbox. */
static guint
ci_hash(gconstpointer key)
{
	guint h = 5381;

	for (const char *p = key; *p; p++)
		h = h * 33 + (guint)g_ascii_tolower(*p);
	return h;
}

static gboolean
ci_equal(gconstpointer a, gconstpointer b)
{
	return g_ascii_strcasecmp(a, b) == 0;
}

struct digest_box {
	gint64 last_at; /* last digest sent, or G_MININT64 */
	gint64 oldest;  /* oldest pending notice */
	int group;      /* digest number if sent now, else -1 */
	bool decided;
};

int
sla_digest_plan(const struct sla_notice *notices, size_t n,
                const struct sla_digest_sent *sent, size_t n_sent,
                gint64 batch_secs, gint64 hold_secs, gint64 now, int *group_r,
                gint64 *next_at_r)
{
	GHashTable *boxes;
	gint64 next_at = SLA_NEVER;
	int groups = 0;

	if (batch_secs < 0 || hold_secs < 0)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (notices[i].to == NULL)
			return -EINVAL;
	for (size_t i = 0; i < n_sent; i++)
		if (sent[i].to == NULL)
			return -EINVAL;

	boxes = g_hash_table_new_full(ci_hash, ci_equal, g_free, g_free);
	for (size_t i = 0; i < n; i++) {
		struct digest_box *box =
		    g_hash_table_lookup(boxes, notices[i].to);

		if (box == NULL) {
			box = g_new(struct digest_box, 1);
			box->last_at = G_MININT64;
			box->oldest = notices[i].queued_at;
			box->group = -1;
			box->decided = false;
			g_hash_table_insert(boxes, g_strdup(notices[i].to),
			                    box);
		}
		box->oldest = MIN(box->oldest, notices[i].queued_at);
	}
	for (size_t i = 0; i < n_sent; i++) {
		struct digest_box *box = g_hash_table_lookup(boxes, sent[i].to);

		if (box != NULL)
			box->last_at = MAX(box->last_at, sent[i].at);
	}
	/* Walk the notices, not the table, so digest numbers follow the
	 * order of first appearance and the result is reproducible. */
	for (size_t i = 0; i < n; i++) {
		struct digest_box *box =
		    g_hash_table_lookup(boxes, notices[i].to);
		gint64 due = box->oldest + hold_secs;

		if (!box->decided) {
			box->decided = true;
			if (box->last_at != G_MININT64)
				due = MAX(due, box->last_at + batch_secs);
			if (due <= now)
				box->group = groups++;
			else
				next_at = MIN(next_at, due);
		}
		group_r[i] = box->group;
	}
	*next_at_r = next_at;
	g_hash_table_destroy(boxes);
	return groups;
}
