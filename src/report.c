/*
 * report.c - KPI math and rendering.  See report.h.
 */
#include "report.h"

#include "json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int
report_priority(const char *s)
{
	static const char *const names[] = {"low", "normal", "high", "urgent"};

	for (size_t i = 0; s != NULL && i < ARRAY_SIZE(names); i++)
		if (strcmp(s, names[i]) == 0)
			return (int)i;
	return 1;
}

struct sla_calendar *
report_calendar_24x7(void)
{
	struct sla_hours h[SLA_WEEKDAY__COUNT];
	struct sla_calendar *cal = NULL;

	for (int d = 0; d < SLA_WEEKDAY__COUNT; d++)
		h[d] = (struct sla_hours){d, 0, 24 * 60};
	if (sla_calendar_new("24x7", "UTC", h, ARRAY_SIZE(h), NULL, 0, &cal,
	                     NULL, 0) < 0)
		return NULL;
	return cal;
}

/* report_is_24x7 - every second is business time: wall time will do, and
 * is O(1) where sla_business_seconds walks the days (old backlogs). */
static bool
report_is_24x7(const struct sla_calendar *cal)
{
	if (cal->n_holidays > 0)
		return false;
	for (int d = 0; d < SLA_WEEKDAY__COUNT; d++)
		if (cal->n_hours[d] != 1 || cal->hours[d][0].start_min != 0 ||
		    cal->hours[d][0].end_min != 24 * 60)
			return false;
	return true;
}

static gint64
report_bsecs(const struct sla_calendar *cal, gint64 a, gint64 b)
{
	if (b <= a)
		return 0;
	if (report_is_24x7(cal))
		return b - a;
	return sla_business_seconds(cal, a, b);
}

gint64
report_percentile(const gint64 *v, size_t n, int p)
{
	size_t rank;

	if (n == 0)
		return -1;
	/* nearest rank: ceil(p * n / 100), at least 1 */
	rank = ((size_t)p * n + 99) / 100;
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1];
}

double
report_pct(gint64 num, gint64 den)
{
	if (den <= 0)
		return -1;
	return round(1000.0 * (double)num / (double)den) / 10.0;
}

double
report_nps(const struct report_kpi *k)
{
	gint64 n = k->nps_promoters + k->nps_passives + k->nps_detractors;

	if (n <= 0)
		return NAN;
	return round(1000.0 * (double)(k->nps_promoters - k->nps_detractors) /
	             (double)n) /
	       10.0;
}

static struct report_group *
report_group_new(int kind, const char *name)
{
	struct report_group *g = g_new0(struct report_group, 1);

	g->kind = kind;
	g->name = g_strdup(name);
	for (int k = 0; k < 2; k++) {
		g->s_frt[k] = g_array_new(FALSE, FALSE, sizeof(gint64));
		g->s_res[k] = g_array_new(FALSE, FALSE, sizeof(gint64));
		g->s_age[k] = g_array_new(FALSE, FALSE, sizeof(gint64));
	}
	return g;
}

static void
report_group_free(gpointer p)
{
	struct report_group *g = p;

	for (int k = 0; k < 2; k++) {
		if (g->s_frt[k])
			g_array_unref(g->s_frt[k]);
		if (g->s_res[k])
			g_array_unref(g->s_res[k]);
		if (g->s_age[k])
			g_array_unref(g->s_age[k]);
	}
	g_free(g->name);
	g_free(g);
}

int
report_new(const struct report_params *p, struct report **r_r)
{
	struct report *r;

	if (p == NULL || p->to <= p->from || p->default_cal == NULL)
		return -EINVAL;
	r = g_new0(struct report, 1);
	r->p = *p;
	r->prev_from = p->from - (p->to - p->from);
	r->groups = g_ptr_array_new_with_free_func(report_group_free);
	r->index = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_ptr_array_add(r->groups, report_group_new(REPORT_ALL, "all"));
	r->wall_time = report_is_24x7(p->default_cal);
	*r_r = r;
	return 0;
}

static void
report_item_clear(struct report_item *it)
{
	g_free(it->subject);
	g_free(it->queue);
	g_free(it->agent);
	memset(it, 0, sizeof(*it));
}

void
report_free(struct report **rp)
{
	struct report *r = *rp;

	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n_oldest; i++)
		report_item_clear(&r->oldest[i]);
	for (size_t i = 0; i < r->n_worst; i++)
		report_item_clear(&r->worst[i]);
	g_ptr_array_unref(r->groups);
	g_hash_table_unref(r->index);
	g_free(r);
	*rp = NULL;
}

/* report_group - the group for (kind, name), created on first use. */
static struct report_group *
report_group(struct report *r, int kind, const char *name)
{
	g_autofree char *key = NULL;
	struct report_group *g;

	if (name == NULL)
		name = kind == REPORT_AGENT ? "(unassigned)" : "(none)";
	key = g_strdup_printf("%c:%s", kind == REPORT_QUEUE ? 'q' : 'a', name);
	g = g_hash_table_lookup(r->index, key);
	if (g == NULL) {
		g = report_group_new(kind, name);
		g_ptr_array_add(r->groups, g);
		g_hash_table_insert(r->index, g_steal_pointer(&key), g);
	}
	return g;
}

/* report_groups_of - the groups a row counts in: overall, its queue and
 * its agent as the params ask.  Returns how many were written to out. */
static size_t
report_groups_of(struct report *r, const char *queue, const char *agent,
                 struct report_group *out[3])
{
	size_t n = 0;

	out[n++] = r->groups->pdata[0];
	if (r->p.by_queue)
		out[n++] = report_group(r, REPORT_QUEUE, queue);
	if (r->p.by_agent)
		out[n++] = report_group(r, REPORT_AGENT, agent);
	return n;
}

/* report_top_insert - keep the REPORT_TOP items with the largest key
 * (age or over), ties by lower ticket number. */
static void
report_top_insert(struct report_item *top, size_t *n, gint64 key, bool by_age,
                  const struct report_row *row, const char *what)
{
	size_t pos = *n;
	struct report_item it = {0};

	while (pos > 0) {
		gint64 k = by_age ? top[pos - 1].age : top[pos - 1].over;
		if (k > key || (k == key && top[pos - 1].id < row->id))
			break;
		pos--;
	}
	if (pos >= REPORT_TOP)
		return;
	if (*n == REPORT_TOP)
		report_item_clear(&top[REPORT_TOP - 1]);
	else
		(*n)++;
	memmove(&top[pos + 1], &top[pos], (*n - 1 - pos) * sizeof(*top));
	it.id = row->id;
	it.subject = g_strdup(row->subject ? row->subject : "");
	it.queue = g_strdup(row->queue ? row->queue : "");
	it.agent = g_strdup(row->agent);
	if (by_age)
		it.age = key;
	else
		it.over = key;
	g_strlcpy(it.what, what ? what : "", sizeof(it.what));
	top[pos] = it;
}

static bool
report_in(gint64 t, gint64 a, gint64 b)
{
	return t != 0 && t >= a && t < b;
}

/* report_clocks - the first-response and resolution clocks of row in
 * business seconds of cal as they stood at t (its resolution or a period
 * end), for SLA met and breaches: see report.h.  Pending time is left
 * out when the sla_clock state covers t, i.e. its current stretch (run
 * or pause) began by t, and agrees with the ticket on whether it has a
 * first reply and is resolved; otherwise elapsed business time since
 * creation. */
static void
report_clocks(const struct report_row *row, const struct sla_calendar *cal,
              gint64 t, gint64 *fr_r, gint64 *res_r)
{
	const struct sla_ticket *c = &row->clock;
	gint64 stretch = c->run_since ? c->run_since : c->paused_since;
	gint64 fr_end = row->first_response && row->first_response < t
	                    ? row->first_response
	                    : t;

	/* a clock that disagrees with the ticket (rows written around the
	 * triggers, e.g. imported history) knows less than the ticket */
	if (!row->has_clock || stretch <= 0 || stretch > t ||
	    (c->first_response_at != 0) != (row->first_response != 0) ||
	    (c->status == SLA_RESOLVED || c->status == SLA_CLOSED) !=
	        (row->resolved != 0)) {
		/* elapsed; one calendar walk when no reply came before t */
		*res_r = report_bsecs(cal, row->created, t);
		*fr_r = fr_end == t ? *res_r
		                    : report_bsecs(cal, row->created, fr_end);
		return;
	}
	*res_r = c->resolution_run_secs +
	         (c->run_since ? report_bsecs(cal, c->run_since, t) : 0);
	if (c->first_response_at != 0 && c->first_response_at <= t)
		*fr_r = c->first_response_secs;
	else if (c->first_response_at == 0 && c->awaiting_since != 0)
		*fr_r = c->response_run_secs +
		        (c->run_since
		             ? report_bsecs(
		                   cal, MAX(c->run_since, c->awaiting_since), t)
		             : 0);
	else if (c->first_response_at == 0)
		/* resolved without a reply: the response clock ran along
		 * with the resolution clock until the resolution (sla.c
		 * drops its count then) */
		*fr_r = *res_r;
	else /* the first reply came after t: elapsed time */
		*fr_r = report_bsecs(cal, row->created, fr_end);
}

/* report_sla_met - both clocks below pol's targets (0 = no target). */
static bool
report_sla_met(const struct sla_policy *pol, gint64 fr, gint64 res)
{
	return (pol->first_response_min == 0 ||
	        fr < (gint64)pol->first_response_min * 60) &&
	       (pol->resolution_min == 0 ||
	        res < (gint64)pol->resolution_min * 60);
}

/* report_cals - row's queue calendar, its SLA policy (or NULL) and the
 * policy's calendar. */
static void
report_cals(const struct report *r, const struct report_row *row,
            const struct sla_calendar **cal_r, const struct sla_policy **pol_r,
            const struct sla_calendar **pcal_r)
{
	const struct sla_calendar *cal = NULL, *pcal = NULL;
	const struct sla_policy *pol = NULL;

	if (r->p.cal_for != NULL)
		cal = r->p.cal_for(r->p.cal_ud, row->queue);
	if (cal == NULL)
		cal = r->p.default_cal;
	if (r->p.policies != NULL)
		pol = sla_policy_find(r->p.policies, r->p.n_policies,
		                      row->queue, row->priority);
	if (pol != NULL && r->p.policy_cal != NULL)
		pcal = r->p.policy_cal[pol - r->p.policies];
	if (pcal == NULL)
		pcal = cal;
	*cal_r = cal;
	*pol_r = pol;
	*pcal_r = pcal;
}

/* report_over - how far the clocks are past pol's targets for the
 * worst-breach list: *what_r 2 resolution, 1 response, 0 neither. */
static gint64
report_over(const struct sla_policy *pol, gint64 sla_fr, gint64 sla_res,
            int *what_r)
{
	gint64 over_fr = -1, over_res = -1;

	if (pol->first_response_min > 0)
		over_fr = sla_fr - (gint64)pol->first_response_min * 60;
	if (pol->resolution_min > 0)
		over_res = sla_res - (gint64)pol->resolution_min * 60;
	*what_r = 0;
	if (over_res >= 0 && over_res >= over_fr) {
		*what_r = 2;
		return over_res;
	}
	if (over_fr >= 0) {
		*what_r = 1;
		return over_fr;
	}
	return -1;
}

static void
report_worst_insert(struct report *r, const struct report_row *row, gint64 over,
                    int what)
{
	if (what == 2)
		report_top_insert(r->worst, &r->n_worst, over, false, row,
		                  "resolution");
	else if (what == 1)
		report_top_insert(r->worst, &r->n_worst, over, false, row,
		                  "response");
}

static bool
report_fcr(const struct report_row *row)
{
	return row->first_response != 0 &&
	       row->last_agent == row->first_response &&
	       row->last_customer <= row->first_response &&
	       row->reopen_count == 0;
}

void
report_fact_of(const struct report *r, const struct report_row *row,
               struct report_fact *f)
{
	const struct sla_calendar *cal, *pcal;
	const struct sla_policy *pol;
	gint64 sla_fr = 0, sla_res = 0;

	report_cals(r, row, &cal, &pol, &pcal);
	*f = (struct report_fact){
	    .frt_b = -1, .res_b = -1, .met = -1, .over = -1};
	/* as report_add_ticket computes them for the period they fall in */
	if (row->first_response != 0)
		f->frt_b = report_bsecs(cal, row->created, row->first_response);
	f->reopened = row->reopen_count > 0;
	if (row->resolved == 0)
		return;
	f->res_b = report_bsecs(cal, row->created, row->resolved);
	f->fcr = report_fcr(row);
	if (pol == NULL)
		return;
	report_clocks(row, pcal, row->resolved, &sla_fr, &sla_res);
	f->met = report_sla_met(pol, sla_fr, sla_res);
	f->over = report_over(pol, sla_fr, sla_res, &f->what);
}

int
report_add_open(struct report *r, const struct report_row *row)
{
	const struct sla_calendar *cal, *pcal;
	const struct sla_policy *pol;
	gint64 sla_fr = 0, sla_res = 0, over;
	int what;

	if (r->finished || row == NULL || row->created <= 0)
		return -EINVAL;
	/* not in the backlog at `to` by the seconds report_add_ticket
	 * tests (the caller's selection may be a second wider) */
	if (row->created >= r->p.to ||
	    (row->resolved != 0 && row->resolved < r->p.to))
		return 0;
	report_cals(r, row, &cal, &pol, &pcal);
	report_top_insert(r->oldest, &r->n_oldest, r->p.to - row->created, true,
	                  row, NULL);
	if (pol == NULL)
		return 0;
	report_clocks(row, pcal, r->p.to, &sla_fr, &sla_res);
	over = report_over(pol, sla_fr, sla_res, &what);
	report_worst_insert(r, row, over, what);
	return 0;
}

void
report_add_worst(struct report *r, const struct report_row *row, gint64 over,
                 int what)
{
	if (!r->finished && over >= 0)
		report_worst_insert(r, row, over, what);
}

/* One ticket's facts in one period [from, to) (not the stored, period-
 * independent struct report_fact of report.h). */
struct report_pfact {
	bool created, resolved, backlog, met, fcr;
	gint64 frt, res, age;   /* business seconds; -1: none */
	gint64 sla_fr, sla_res; /* SLA clock seconds */
};

/* report_facts - what the ticket counts in period k (0: the report's,
 * 1: the one before) by its calendar cal and SLA policy pol. */
static void
report_facts(const struct report *r, const struct report_row *row, int k,
             const struct sla_calendar *cal, const struct sla_policy *pol,
             const struct sla_calendar *pcal, struct report_pfact *f)
{
	gint64 pf = k == 0 ? r->p.from : r->prev_from;
	gint64 pt = k == 0 ? r->p.to : r->p.from;
	bool responded = report_in(row->first_response, pf, pt);

	memset(f, 0, sizeof(*f));
	f->created = report_in(row->created, pf, pt);
	f->resolved = report_in(row->resolved, pf, pt);
	f->backlog =
	    row->created < pt && (row->resolved == 0 || row->resolved >= pt);
	f->frt = f->res = -1;
	f->age = pt - row->created;
	if (responded)
		f->frt = report_bsecs(cal, row->created, row->first_response);
	if (pol != NULL && (f->resolved || (f->backlog && k == 0)))
		report_clocks(row, pcal, f->resolved ? row->resolved : pt,
		              &f->sla_fr, &f->sla_res);
	if (f->resolved) {
		f->res = report_bsecs(cal, row->created, row->resolved);
		f->met =
		    pol != NULL && report_sla_met(pol, f->sla_fr, f->sla_res);
		f->fcr = report_fcr(row);
	}
}

/* report_count - add the facts of period k to group g. */
static void
report_count(struct report_group *g, int k, const struct report_row *row,
             const struct report_pfact *f, bool has_policy)
{
	struct report_kpi *kp = k == 0 ? &g->cur : &g->prev;

	kp->created += f->created;
	if (f->frt >= 0)
		g_array_append_val(g->s_frt[k], f->frt);
	if (f->resolved) {
		kp->resolved++;
		g_array_append_val(g->s_res[k], f->res);
		kp->sla_n += has_policy;
		kp->sla_met += f->met;
		kp->fcr += f->fcr;
		kp->reopened += row->reopen_count > 0;
	}
	if (f->backlog) {
		kp->backlog++;
		g_array_append_val(g->s_age[k], f->age);
	}
}

/* report_rank - the report period's lists: oldest open tickets and the
 * worst SLA breaches. */
static void
report_rank(struct report *r, const struct report_row *row,
            const struct sla_policy *pol, const struct report_pfact *f)
{
	gint64 over;
	int what;

	if (f->backlog)
		report_top_insert(r->oldest, &r->n_oldest, f->age, true, row,
		                  NULL);
	if ((!f->backlog && !f->resolved) || pol == NULL)
		return;
	over = report_over(pol, f->sla_fr, f->sla_res, &what);
	report_worst_insert(r, row, over, what);
}

int
report_add_ticket(struct report *r, const struct report_row *row)
{
	const struct sla_calendar *cal, *pcal;
	const struct sla_policy *pol;
	struct report_group *gs[3];
	size_t ng;

	if (r->finished || row == NULL || row->created <= 0)
		return -EINVAL;
	report_cals(r, row, &cal, &pol, &pcal);
	ng = report_groups_of(r, row->queue, row->agent, gs);
	for (int k = 0; k < 2; k++) {
		struct report_pfact f;

		report_facts(r, row, k, cal, pol, pcal, &f);
		for (size_t i = 0; i < ng; i++)
			report_count(gs[i], k, row, &f, pol != NULL);
		if (k == 0)
			report_rank(r, row, pol, &f);
	}
	return 0;
}

int
report_add_count(struct report *r, const struct report_count *c)
{
	struct report_group *gs[3];
	size_t ng;

	if (r->finished || c == NULL || c->period < 0 || c->period > 1 ||
	    c->kind < 0 || c->kind >= REPORT_COUNT__KINDS || c->n < 0)
		return -EINVAL;
	if (c->kind == REPORT_CSAT &&
	    (c->sub < REPORT_GOOD || c->sub > REPORT_BAD))
		return -EINVAL;
	if (c->kind == REPORT_NPS && (c->sub < 0 || c->sub > 10))
		return -EINVAL;
	ng = report_groups_of(r, c->queue, c->agent, gs);
	for (size_t i = 0; i < ng; i++) {
		struct report_kpi *kp =
		    c->period == 0 ? &gs[i]->cur : &gs[i]->prev;
		switch (c->kind) {
		case REPORT_ESCALATION:
			kp->esc[CLAMP(c->sub, 1, REPORT_ESC_LEVELS) - 1] +=
			    c->n;
			break;
		case REPORT_CSAT:
			if (c->sub == REPORT_GOOD)
				kp->csat_good += c->n;
			else if (c->sub == REPORT_OKAY)
				kp->csat_okay += c->n;
			else
				kp->csat_bad += c->n;
			break;
		case REPORT_MACHINE:
			kp->machine += c->n;
			break;
		case REPORT_CUSTOMER_MAILS:
			kp->customer_mails += c->n;
			break;
		case REPORT_CONTACT_TICKETS:
			kp->contact_tickets += c->n;
			break;
		case REPORT_NPS:
			if (c->sub >= 9)
				kp->nps_promoters += c->n;
			else if (c->sub >= 7)
				kp->nps_passives += c->n;
			else
				kp->nps_detractors += c->n;
			break;
		case REPORT_THANKS:
			kp->thanks += c->n;
			break;
		case REPORT_RESPONDED:
			kp->responded += c->n;
			break;
		}
	}
	return 0;
}

/* report_select - the value of rank k (0-based) of v[lo, hi) as if
 * sorted, moving v so that v[lo, k) <= v[k] <= v[k + 1, hi): quickselect
 * with a three-way partition (many equal durations), linear on average.
 * A year's samples are a million values per group; a sort of each cost
 * more than the rest of the report together. */
static gint64
report_select(gint64 *v, size_t lo, size_t hi, size_t k)
{
	while (hi - lo > 1) {
		gint64 a = v[lo], b = v[lo + (hi - lo) / 2], c = v[hi - 1];
		gint64 piv = MAX(MIN(a, b), MIN(MAX(a, b), c)); /* median */
		size_t lt = lo, i = lo, gt = hi;

		while (i < gt) {
			if (v[i] < piv) {
				gint64 t = v[lt];
				v[lt++] = v[i];
				v[i++] = t;
			} else if (v[i] > piv) {
				gint64 t = v[--gt];
				v[gt] = v[i];
				v[i] = t;
			} else
				i++;
		}
		if (k < lt)
			hi = lt;
		else if (k >= gt)
			lo = gt;
		else
			return piv;
	}
	return v[k];
}

/* report_stats - n, the nearest-rank median and p90 of a (reordered),
 * as report_percentile of the sorted samples. */
static void
report_stats(GArray *a, gint64 *n_r, gint64 *median_r, gint64 *p90_r)
{
	gint64 *v = (gint64 *)(void *)a->data;
	size_t n = a->len;
	size_t r50 = MAX(((size_t)50 * n + 99) / 100, 1) - 1;
	size_t r90 = MAX(((size_t)90 * n + 99) / 100, 1) - 1;

	if (n_r)
		*n_r = (gint64)n;
	if (n == 0) {
		*median_r = *p90_r = -1;
		return;
	}
	*median_r = report_select(v, 0, n, r50);
	/* everything from r50 on is >= the median: p90 is among them */
	*p90_r = r90 == r50 ? *median_r : report_select(v, r50 + 1, n, r90);
}

int
report_add_part(struct report *r, const struct report_part *part)
{
	struct report_group *gs[3];
	size_t ng;

	if (r->finished || part == NULL || part->period < 0 || part->period > 1)
		return -EINVAL;
	ng = report_groups_of(r, part->queue, part->agent, gs);
	for (size_t i = 0; i < ng; i++) {
		struct report_group *g = gs[i];
		struct report_kpi *kp = part->period == 0 ? &g->cur : &g->prev;
		int k = part->period;

		kp->created += part->k.created;
		kp->resolved += part->k.resolved;
		kp->backlog += part->k.backlog;
		kp->sla_n += part->k.sla_n;
		kp->sla_met += part->k.sla_met;
		kp->fcr += part->k.fcr;
		kp->reopened += part->k.reopened;
		g_array_append_vals(g->s_frt[k], part->frt, (guint)part->n_frt);
		g_array_append_vals(g->s_res[k], part->res, (guint)part->n_res);
		g_array_append_vals(g->s_age[k], part->age, (guint)part->n_age);
	}
	return 0;
}

/* report_fp_cal - a calendar's every input to business time. */
static void
report_fp_cal(GChecksum *ck, const struct sla_calendar *cal)
{
	GString *s = g_string_new(NULL);

	if (cal != NULL) {
		g_string_append_printf(s, "cal %s|",
		                       g_time_zone_get_identifier(cal->tz));
		for (int d = 0; d < SLA_WEEKDAY__COUNT; d++)
			for (int i = 0; i < cal->n_hours[d]; i++)
				g_string_append_printf(
				    s, "%d:%d-%d,", d,
				    cal->hours[d][i].start_min,
				    cal->hours[d][i].end_min);
		for (size_t i = 0; i < cal->n_holidays; i++)
			g_string_append_printf(s, "h%" G_GINT64_FORMAT ",",
			                       cal->holidays[i]);
	}
	g_string_append(s, ";");
	g_checksum_update(ck, (const guchar *)s->str, (gssize)s->len);
	g_string_free(s, TRUE);
}

gint64
report_fingerprint(const struct report *r, const char *const *queues, size_t n)
{
	GChecksum *ck = g_checksum_new(G_CHECKSUM_SHA256);
	guint8 d[32];
	gsize dl = sizeof(d);
	guint64 fp = 0;

	/* bump the version when report_fact_of changes its definitions */
	g_checksum_update(ck, (const guchar *)"facts v1;", -1);
	report_fp_cal(ck, r->p.default_cal);
	for (size_t i = 0; i < n; i++) {
		g_checksum_update(ck, (const guchar *)queues[i], -1);
		g_checksum_update(ck, (const guchar *)"=", 1);
		report_fp_cal(ck, r->p.cal_for != NULL
		                      ? r->p.cal_for(r->p.cal_ud, queues[i])
		                      : NULL);
	}
	for (size_t i = 0; r->p.policies != NULL && i < r->p.n_policies; i++) {
		const struct sla_policy *pol = &r->p.policies[i];
		g_autofree char *t = g_strdup_printf(
		    "pol %s|%d|%d|%d;", pol->queue ? pol->queue : "(any)",
		    pol->priority, pol->first_response_min,
		    pol->resolution_min);

		g_checksum_update(ck, (const guchar *)t, -1);
		report_fp_cal(ck, r->p.policy_cal ? r->p.policy_cal[i] : NULL);
	}
	g_checksum_get_digest(ck, d, &dl);
	g_checksum_free(ck);
	for (int i = 0; i < 8; i++)
		fp = fp << 8 | d[i];
	return (gint64)(fp >> 1); /* a positive bigint */
}

/* report_group_cmp - overall first, then queues, then agents, by name:
 * the same order whichever path fed the report. */
static gint
report_group_cmp(gconstpointer a, gconstpointer b)
{
	const struct report_group *x = *(struct report_group *const *)a;
	const struct report_group *y = *(struct report_group *const *)b;

	if (x->kind != y->kind)
		return x->kind - y->kind;
	return strcmp(x->name, y->name);
}

/* report_group_stats - medians and p90 of one period's samples. */
static void
report_group_stats(GArray *frt, GArray *res, GArray *age, struct report_kpi *kp)
{
	report_stats(frt, &kp->frt_n, &kp->frt_median, &kp->frt_p90);
	report_stats(res, &kp->res_n, &kp->res_median, &kp->res_p90);
	/* for the backlog: the maximum, not a p90 */
	report_stats(age, NULL, &kp->backlog_age_median, &kp->backlog_age_max);
	kp->backlog_age_max = -1;
	for (guint i = 0; i < age->len; i++)
		kp->backlog_age_max =
		    MAX(kp->backlog_age_max, g_array_index(age, gint64, i));
}

void
report_finish(struct report *r)
{
	if (r->finished)
		return;
	g_ptr_array_sort(r->groups, report_group_cmp);
	for (guint i = 0; i < r->groups->len; i++) {
		struct report_group *g = r->groups->pdata[i];
		for (int k = 0; k < 2; k++) {
			struct report_kpi *kp = k == 0 ? &g->cur : &g->prev;
			report_group_stats(g->s_frt[k], g->s_res[k],
			                   g->s_age[k], kp);
			g_array_unref(g->s_frt[k]);
			g_array_unref(g->s_res[k]);
			g_array_unref(g->s_age[k]);
			g->s_frt[k] = g->s_res[k] = g->s_age[k] = NULL;
		}
	}
	r->finished = true;
}

/* ---- rendering ------------------------------------------------------ */

/* REPORT_F_SIGNED: a value that may be negative, NAN = no data */
enum report_fmt {
	REPORT_F_COUNT,
	REPORT_F_SECS,
	REPORT_F_PCT,
	REPORT_F_RATIO,
	REPORT_F_SIGNED
};

/* One line of the KPI table: a value and, for the bars, a scale. */
struct report_metric {
	const char *key; /* JSON / CSV name */
	const char *label;
	int fmt;
};

static const struct report_metric report_metrics[] = {
    {"created", "Tickets created", REPORT_F_COUNT},
    {"resolved", "Tickets resolved", REPORT_F_COUNT},
    {"backlog", "Backlog at period end", REPORT_F_COUNT},
    {"backlog_age_median_s", "Backlog age, median", REPORT_F_SECS},
    {"backlog_age_max_s", "Backlog age, oldest", REPORT_F_SECS},
    {"first_response_median_s", "First response, median", REPORT_F_SECS},
    {"first_response_p90_s", "First response, p90", REPORT_F_SECS},
    {"resolution_median_s", "Resolution, median", REPORT_F_SECS},
    {"resolution_p90_s", "Resolution, p90", REPORT_F_SECS},
    {"sla_met_pct", "SLA met", REPORT_F_PCT},
    {"fcr_pct", "First-contact resolution", REPORT_F_PCT},
    {"reopen_pct", "Reopened", REPORT_F_PCT},
    {"escalations", "Escalations", REPORT_F_COUNT},
    {"machine_mail", "Machine mail suppressed", REPORT_F_COUNT},
    {"csat_pct", "CSAT satisfied", REPORT_F_PCT},
    {"csat_n", "CSAT ratings", REPORT_F_COUNT},
    {"thanks", "Thank-you replies", REPORT_F_COUNT},
    {"contact_ratio", "Customer mails per ticket", REPORT_F_RATIO},
    {"nps", "NPS (promoters - detractors)", REPORT_F_SIGNED},
    {"nps_n", "NPS answers", REPORT_F_COUNT},
    {"responded", "Tickets answered (first response)", REPORT_F_COUNT},
};

/* report_none - v of a metric of format fmt says "no data". */
static bool
report_none(double v, int fmt)
{
	return isnan(v) || (v < 0 && fmt != REPORT_F_SIGNED);
}

static gint64
report_esc_total(const struct report_kpi *k)
{
	gint64 n = 0;

	for (int i = 0; i < REPORT_ESC_LEVELS; i++)
		n += k->esc[i];
	return n;
}

/* report_value - metric i of k as a double; < 0 = no data. */
static double
report_value(const struct report_kpi *k, size_t i)
{
	const char *key = report_metrics[i].key;
	gint64 csat_n = k->csat_good + k->csat_okay + k->csat_bad;

	if (strcmp(key, "created") == 0)
		return (double)k->created;
	if (strcmp(key, "resolved") == 0)
		return (double)k->resolved;
	if (strcmp(key, "backlog") == 0)
		return (double)k->backlog;
	if (strcmp(key, "backlog_age_median_s") == 0)
		return (double)k->backlog_age_median;
	if (strcmp(key, "backlog_age_max_s") == 0)
		return (double)k->backlog_age_max;
	if (strcmp(key, "first_response_median_s") == 0)
		return (double)k->frt_median;
	if (strcmp(key, "first_response_p90_s") == 0)
		return (double)k->frt_p90;
	if (strcmp(key, "resolution_median_s") == 0)
		return (double)k->res_median;
	if (strcmp(key, "resolution_p90_s") == 0)
		return (double)k->res_p90;
	if (strcmp(key, "sla_met_pct") == 0)
		return report_pct(k->sla_met, k->sla_n);
	if (strcmp(key, "fcr_pct") == 0)
		return report_pct(k->fcr, k->resolved);
	if (strcmp(key, "reopen_pct") == 0)
		return report_pct(k->reopened, k->resolved);
	if (strcmp(key, "escalations") == 0)
		return (double)report_esc_total(k);
	if (strcmp(key, "machine_mail") == 0)
		return (double)k->machine;
	if (strcmp(key, "csat_pct") == 0)
		return report_pct(k->csat_good, csat_n);
	if (strcmp(key, "csat_n") == 0)
		return (double)csat_n;
	if (strcmp(key, "thanks") == 0)
		return (double)k->thanks;
	if (strcmp(key, "responded") == 0)
		return (double)k->responded;
	if (strcmp(key, "contact_ratio") == 0)
		return k->contact_tickets > 0
		           ? round(100.0 * (double)k->customer_mails /
		                   (double)k->contact_tickets) /
		                 100.0
		           : -1;
	if (strcmp(key, "nps") == 0)
		return report_nps(k);
	if (strcmp(key, "nps_n") == 0)
		return (double)(k->nps_promoters + k->nps_passives +
		                k->nps_detractors);
	return -1;
}

double
report_metric(const struct report_kpi *k, const char *key)
{
	for (size_t i = 0; i < ARRAY_SIZE(report_metrics); i++)
		if (strcmp(report_metrics[i].key, key) == 0)
			return report_value(k, i);
	return -1;
}

/* report_fmt_value - v as the text/table/HTML show it ("-" = no data). */
static char *
report_fmt_value(double v, int fmt)
{
	gint64 s;

	if (report_none(v, fmt))
		return g_strdup("-");
	switch (fmt) {
	case REPORT_F_SECS:
		s = (gint64)v;
		return g_strdup_printf("%" G_GINT64_FORMAT "h%02dm%02ds",
		                       s / 3600, (int)(s / 60 % 60),
		                       (int)(s % 60));
	case REPORT_F_PCT:
		return g_strdup_printf("%.1f%%", v);
	case REPORT_F_SIGNED:
		return g_strdup_printf("%.1f", v);
	case REPORT_F_RATIO:
		return g_strdup_printf("%.2f", v);
	default:
		return g_strdup_printf("%.0f", v);
	}
}

static char *
report_iso(gint64 t)
{
	g_autoptr(GDateTime) d = g_date_time_new_from_unix_utc(t);

	return d ? g_date_time_format(d, "%Y-%m-%dT%H:%M:%SZ") : g_strdup("?");
}

static void
report_json_kpi(struct json *j, const struct report_kpi *k)
{
	json_obj_open(j);
	for (size_t i = 0; i < ARRAY_SIZE(report_metrics); i++) {
		double v = report_value(k, i);
		json_key(j, report_metrics[i].key);
		if (report_none(v, report_metrics[i].fmt))
			json_null(j);
		else if (report_metrics[i].fmt == REPORT_F_PCT ||
		         report_metrics[i].fmt == REPORT_F_RATIO ||
		         report_metrics[i].fmt == REPORT_F_SIGNED)
			json_double(j, v);
		else
			json_int(j, (long long)v);
	}
	json_key(j, "escalations_by_level");
	json_arr_open(j);
	for (int i = 0; i < REPORT_ESC_LEVELS; i++)
		json_int(j, k->esc[i]);
	json_arr_close(j);
	json_key(j, "first_response_n");
	json_int(j, k->frt_n);
	json_key(j, "resolution_n");
	json_int(j, k->res_n);
	json_key(j, "sla_n");
	json_int(j, k->sla_n);
	json_key(j, "sla_met");
	json_int(j, k->sla_met);
	json_key(j, "fcr");
	json_int(j, k->fcr);
	json_key(j, "reopened");
	json_int(j, k->reopened);
	json_key(j, "csat_good");
	json_int(j, k->csat_good);
	json_key(j, "csat_okay");
	json_int(j, k->csat_okay);
	json_key(j, "csat_bad");
	json_int(j, k->csat_bad);
	json_key(j, "thanks");
	json_int(j, k->thanks);
	json_key(j, "customer_mails");
	json_int(j, k->customer_mails);
	json_key(j, "contact_tickets");
	json_int(j, k->contact_tickets);
	json_obj_close(j);
}

static const char *
report_kind_name(int kind)
{
	return kind == REPORT_ALL     ? "all"
	       : kind == REPORT_QUEUE ? "queue"
	                              : "agent";
}

static void
report_json_items(struct json *j, const struct report_item *it, size_t n,
                  bool worst)
{
	json_arr_open(j);
	for (size_t i = 0; i < n; i++) {
		json_obj_open(j);
		json_key(j, "ticket");
		json_int(j, it[i].id);
		json_key(j, "subject");
		json_str(j, it[i].subject);
		json_key(j, "queue");
		json_str(j, it[i].queue);
		json_key(j, "agent");
		json_str(j, it[i].agent);
		if (worst) {
			json_key(j, "target");
			json_str(j, it[i].what);
			json_key(j, "over_s");
			json_int(j, it[i].over);
		} else {
			json_key(j, "age_s");
			json_int(j, it[i].age);
		}
		json_obj_close(j);
	}
	json_arr_close(j);
}

void
report_json(const struct report *r, GString *out, bool pretty)
{
	struct json j;
	g_autofree char *from = report_iso(r->p.from);
	g_autofree char *to = report_iso(r->p.to);
	g_autofree char *pfrom = report_iso(r->prev_from);

	json_init(&j, out, pretty);
	json_obj_open(&j);
	json_key(&j, "from");
	json_str(&j, from);
	json_key(&j, "to");
	json_str(&j, to);
	json_key(&j, "previous_from");
	json_str(&j, pfrom);
	json_key(&j, "groups");
	json_arr_open(&j);
	for (guint i = 0; i < r->groups->len; i++) {
		const struct report_group *g = r->groups->pdata[i];
		json_obj_open(&j);
		json_key(&j, "group");
		json_str(&j, report_kind_name(g->kind));
		json_key(&j, "name");
		json_str(&j, g->name);
		json_key(&j, "current");
		report_json_kpi(&j, &g->cur);
		json_key(&j, "previous");
		report_json_kpi(&j, &g->prev);
		json_obj_close(&j);
	}
	json_arr_close(&j);
	json_key(&j, "oldest_open");
	report_json_items(&j, r->oldest, r->n_oldest, false);
	json_key(&j, "worst_breaches");
	report_json_items(&j, r->worst, r->n_worst, true);
	json_obj_close(&j);
}

/* report_csv_field - RFC 4180 quoting when needed. */
static void
report_csv_field(GString *out, const char *s)
{
	if (strpbrk(s, ",\"\r\n") == NULL) {
		g_string_append(out, s);
		return;
	}
	g_string_append_c(out, '"');
	for (; *s; s++) {
		if (*s == '"')
			g_string_append_c(out, '"');
		g_string_append_c(out, *s);
	}
	g_string_append_c(out, '"');
}

void
report_csv(const struct report *r, GString *out)
{
	g_string_append(out, "group,name,period");
	for (size_t i = 0; i < ARRAY_SIZE(report_metrics); i++)
		g_string_append_printf(out, ",%s", report_metrics[i].key);
	g_string_append(out, "\r\n");
	for (guint gi = 0; gi < r->groups->len; gi++) {
		const struct report_group *g = r->groups->pdata[gi];
		for (int k = 0; k < 2; k++) {
			const struct report_kpi *kp =
			    k == 0 ? &g->cur : &g->prev;
			g_string_append_printf(out, "%s,",
			                       report_kind_name(g->kind));
			report_csv_field(out, g->name);
			g_string_append(out, k == 0 ? ",current" : ",previous");
			for (size_t i = 0; i < ARRAY_SIZE(report_metrics);
			     i++) {
				double v = report_value(kp, i);
				if (report_none(v, report_metrics[i].fmt))
					g_string_append(out, ",");
				else if (report_metrics[i].fmt ==
				             REPORT_F_PCT ||
				         report_metrics[i].fmt ==
				             REPORT_F_RATIO ||
				         report_metrics[i].fmt ==
				             REPORT_F_SIGNED)
					g_string_append_printf(out, ",%g", v);
				else
					g_string_append_printf(out, ",%.0f", v);
			}
			g_string_append(out, "\r\n");
		}
	}
}

/* report_lines - "label  current  previous" lines of one group. */
static void
report_lines(const struct report_group *g, GString *out)
{
	g_string_append_printf(out, "%-28s %12s %12s\n", "", "this period",
	                       "previous");
	for (size_t i = 0; i < ARRAY_SIZE(report_metrics); i++) {
		g_autofree char *c = report_fmt_value(report_value(&g->cur, i),
		                                      report_metrics[i].fmt);
		g_autofree char *p = report_fmt_value(report_value(&g->prev, i),
		                                      report_metrics[i].fmt);
		g_string_append_printf(out, "  %-26s %12s %12s\n",
		                       report_metrics[i].label, c, p);
	}
	for (int l = 0; l < REPORT_ESC_LEVELS; l++) {
		g_autofree char *label = NULL;

		if (g->cur.esc[l] == 0 && g->prev.esc[l] == 0)
			continue;
		label = g_strdup_printf("  escalation level %d", l + 1);
		g_string_append_printf(out,
		                       "  %-26s %12" G_GINT64_FORMAT
		                       " %12" G_GINT64_FORMAT "\n",
		                       label, g->cur.esc[l], g->prev.esc[l]);
	}
}

static void
report_items_text(const struct report *r, GString *out)
{
	g_string_append(out, "\nOldest open tickets\n");
	if (r->n_oldest == 0)
		g_string_append(out, "  none\n");
	for (size_t i = 0; i < r->n_oldest; i++) {
		g_autofree char *a =
		    report_fmt_value((double)r->oldest[i].age, REPORT_F_SECS);
		g_string_append_printf(out, "  #%" G_GINT64_FORMAT " %s %s\n",
		                       r->oldest[i].id, a,
		                       r->oldest[i].subject);
	}
	g_string_append(out, "\nWorst breaches\n");
	if (r->n_worst == 0)
		g_string_append(out, "  none\n");
	for (size_t i = 0; i < r->n_worst; i++) {
		g_autofree char *o =
		    report_fmt_value((double)r->worst[i].over, REPORT_F_SECS);
		g_string_append_printf(out,
		                       "  #%" G_GINT64_FORMAT " %s over %s "
		                       "target: %s\n",
		                       r->worst[i].id, o, r->worst[i].what,
		                       r->worst[i].subject);
	}
}

static void
report_heading(const struct report *r, const struct report_group *g,
               GString *out)
{
	if (g->kind == REPORT_ALL)
		g_string_append(out, "Overall\n");
	else
		g_string_append_printf(
		    out, "\n%s %s\n",
		    g->kind == REPORT_QUEUE ? "Queue" : "Agent", g->name);
	(void)r;
}

void
report_table(const struct report *r, GString *out)
{
	g_autofree char *from = report_iso(r->p.from);
	g_autofree char *to = report_iso(r->p.to);
	g_autofree char *pfrom = report_iso(r->prev_from);

	g_string_append_printf(
	    out,
	    "Report %s .. %s (previous from %s)\n"
	    "Times are business time h/m/s (backlog age: wall clock).\n\n",
	    from, to, pfrom);
	for (guint i = 0; i < r->groups->len; i++) {
		report_heading(r, r->groups->pdata[i], out);
		report_lines(r->groups->pdata[i], out);
	}
	report_items_text(r, out);
}
