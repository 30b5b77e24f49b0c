/*
 * test_report.c - KPI math on a generated history whose KPIs are computed
 * by hand below, in a Mon-Fri 09:00-17:00 UTC calendar with a holiday on
 * Wednesday 2026-03-04 (business-time edge cases: weekend, holiday,
 * Friday-evening tickets, a ticket older than the report, DST).
 *
 * Period: Mon 2026-03-02 .. Mon 2026-03-09 (previous: from 2026-02-23).
 * Policy: first response 240 min, resolution 2880 min (business).
 */
#include "digest.h"
#include "report.h"
#include "test.h"

#include <math.h>

static gint64
at(int mon, int day, int h, int m)
{
	g_autoptr(GDateTime) d = g_date_time_new_utc(2026, mon, day, h, m, 0);

	return g_date_time_to_unix(d);
}

static struct sla_calendar *
office(void)
{
	struct sla_hours h[5];
	const char *hol[] = {"2026-03-04"};
	struct sla_calendar *cal = NULL;

	for (int d = 0; d < 5; d++)
		h[d] = (struct sla_hours){d, 9 * 60, 17 * 60};
	if (sla_calendar_new("office", "UTC", h, 5, hol, 1, &cal, NULL, 0) < 0)
		return NULL;
	return cal;
}

/* The history.  Hand-computed business seconds in the comments. */
static void
history(struct report *r)
{
	struct report_row rows[] = {
	    /* 1: Fri 16:00 -> reply Mon 10:00: 1h Fri + 1h Mon = 7200;
	     * resolved Mon 11:00: 10800.  FCR.  In the backlog at the
	     * previous period's end (age 2d8h = 201600 wall). */
	    {.id = 1,
	     .queue = "support",
	     .agent = "alice",
	     .subject = "Fri evening",
	     .priority = 1,
	     .created = at(2, 27, 16, 0),
	     .first_response = at(3, 2, 10, 0),
	     .last_customer = at(2, 27, 16, 0),
	     .last_agent = at(3, 2, 10, 0),
	     .resolved = at(3, 2, 11, 0)},
	    /* 2: Tue 16:30 -> Thu 09:30 across the Wednesday holiday:
	     * 30m + 30m = 3600; resolved Thu 12:00: 30m + 3h = 12600;
	     * customer wrote again after the reply: not FCR. */
	    {.id = 2,
	     .queue = "support",
	     .agent = "bob",
	     .subject = "Holiday",
	     .priority = 1,
	     .created = at(3, 3, 16, 30),
	     .first_response = at(3, 5, 9, 30),
	     .last_customer = at(3, 5, 10, 0),
	     .last_agent = at(3, 5, 9, 30),
	     .resolved = at(3, 5, 12, 0)},
	    /* 3: Saturday, open, unanswered: 0 business seconds, no
	     * breach; backlog age at Mar 9 00:00: 1d14h = 136800. */
	    {.id = 3,
	     .queue = "support",
	     .agent = NULL,
	     .subject = "Weekend",
	     .priority = 1,
	     .created = at(3, 7, 10, 0),
	     .last_customer = at(3, 7, 10, 0)},
	    /* 4: Mon 09:00, reply 09:05 = 300; resolved Fri 17:00 = 4
	     * business days (Wed is a holiday) = 115200; reopened. */
	    {.id = 4,
	     .queue = "support",
	     .agent = "alice",
	     .subject = "Reopened",
	     .priority = 2,
	     .created = at(3, 2, 9, 0),
	     .first_response = at(3, 2, 9, 5),
	     .last_customer = at(3, 4, 8, 0),
	     .last_agent = at(3, 6, 16, 0),
	     .resolved = at(3, 6, 17, 0),
	     .reopen_count = 1},
	    /* 5: previous period only: 600 and 7200, FCR. */
	    {.id = 5,
	     .queue = "support",
	     .agent = "alice",
	     .subject = "Last week",
	     .priority = 1,
	     .created = at(2, 23, 10, 0),
	     .first_response = at(2, 23, 10, 10),
	     .last_customer = at(2, 23, 10, 0),
	     .last_agent = at(2, 23, 10, 10),
	     .resolved = at(2, 23, 12, 0)},
	    /* 6: Mon Jan 5 09:00, never answered: in both backlogs.
	     * Business time to Mar 9: 44 days (45 weekdays - holiday)
	     * * 8h = 1267200, over the response target by 1252800. */
	    {.id = 6,
	     .queue = "support",
	     .agent = "bob",
	     .subject = "Forgotten",
	     .priority = 1,
	     .created = at(1, 5, 9, 0),
	     .last_customer = at(1, 5, 9, 0)},
	    /* 7: closed without a reply (closed_at only) at 14:00:
	     * resolution 18000; the response clock ran until then, past
	     * its 14400 target: SLA not met, a response breach by 3600. */
	    {.id = 7,
	     .queue = "billing",
	     .agent = "alice",
	     .subject = "Spam-ish",
	     .priority = 0,
	     .created = at(3, 5, 9, 0),
	     .last_customer = at(3, 5, 9, 0),
	     .resolved = at(3, 5, 14, 0)},
	    /* 8: far outside both periods: ignored. */
	    {.id = 8,
	     .queue = "support",
	     .agent = "bob",
	     .subject = "Ancient",
	     .priority = 1,
	     .created = at(1, 5, 9, 0),
	     .first_response = at(1, 5, 9, 1),
	     .last_agent = at(1, 5, 9, 1),
	     .resolved = at(1, 6, 9, 0)},
	};
	struct report_count counts[] = {
	    {REPORT_ESCALATION, 2, 0, "support", "bob", 3},
	    {REPORT_ESCALATION, 1, 1, "support", "bob", 1},
	    {REPORT_CSAT, REPORT_GOOD, 0, "support", "alice", 2},
	    {REPORT_CSAT, REPORT_BAD, 0, "support", "bob", 1},
	    {REPORT_CSAT, REPORT_OKAY, 1, "support", "alice", 1},
	    {REPORT_MACHINE, 0, 0, NULL, NULL, 5},
	    {REPORT_CUSTOMER_MAILS, 0, 0, "support", "alice", 6},
	    {REPORT_CONTACT_TICKETS, 0, 0, "support", "alice", 4},
	};
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++)
		TEST_INTEQ(report_add_ticket(r, &rows[i]), 0);
	for (size_t i = 0; i < ARRAY_SIZE(counts); i++)
		TEST_INTEQ(report_add_count(r, &counts[i]), 0);
}

static struct sla_policy policy = {
    .queue = NULL,
    .priority = SLA_ANY_PRIORITY,
    .first_response_min = 240,
    .resolution_min = 2880,
};

static struct report *
build(struct sla_calendar *cal, bool split)
{
	struct report_params p = {
	    .from = at(3, 2, 0, 0),
	    .to = at(3, 9, 0, 0),
	    .default_cal = cal,
	    .policies = &policy,
	    .n_policies = 1,
	    .by_queue = split,
	    .by_agent = split,
	};
	struct report *r = NULL;

	TEST_INTEQ(report_new(&p, &r), 0);
	history(r);
	report_finish(r);
	return r;
}

static const struct report_group *
group(const struct report *r, int kind, const char *name)
{
	for (guint i = 0; i < r->groups->len; i++) {
		const struct report_group *g = r->groups->pdata[i];
		if (g->kind == kind && strcmp(g->name, name) == 0)
			return g;
	}
	return NULL;
}

static void
test_percentile(void)
{
	gint64 v[] = {300, 3600, 7200};
	gint64 ten[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};

	TEST_INTEQ(report_percentile(v, 0, 50), -1);
	TEST_INTEQ(report_percentile(v, 1, 90), 300);
	TEST_INTEQ(report_percentile(v, 3, 50), 3600);
	TEST_INTEQ(report_percentile(v, 3, 90), 7200);
	TEST_INTEQ(report_percentile(v, 2, 50), 300); /* lower middle */
	TEST_INTEQ(report_percentile(ten, 10, 90), 9);
	TEST_INTEQ(report_percentile(ten, 10, 91), 10);
	TEST_CHECK(report_pct(1, 3) == 33.3);
	TEST_CHECK(report_pct(2, 3) == 66.7);
	TEST_CHECK(report_pct(0, 0) < 0);
}

static void
test_overall(void)
{
	struct sla_calendar *cal = office();
	struct report *r = build(cal, false);
	const struct report_kpi *c =
	    &((struct report_group *)r->groups->pdata[0])->cur;
	const struct report_kpi *p =
	    &((struct report_group *)r->groups->pdata[0])->prev;

	TEST_INTEQ(r->groups->len, 1);
	TEST_INTEQ(c->created, 4);
	TEST_INTEQ(c->resolved, 4);
	TEST_INTEQ(c->backlog, 2);
	TEST_INTEQ(c->backlog_age_median, 136800);
	TEST_INTEQ(c->backlog_age_max, 63 * 86400 - 9 * 3600);
	TEST_INTEQ(c->frt_n, 3);
	TEST_INTEQ(c->frt_median, 3600);
	TEST_INTEQ(c->frt_p90, 7200);
	TEST_INTEQ(c->res_n, 4);
	TEST_INTEQ(c->res_median, 12600); /* 10800 12600 18000 115200 */
	TEST_INTEQ(c->res_p90, 115200);
	TEST_INTEQ(c->sla_n, 4);
	TEST_INTEQ(c->sla_met, 3);
	TEST_INTEQ(c->fcr, 1);
	TEST_INTEQ(c->reopened, 1);
	TEST_INTEQ(c->esc[1], 3);
	TEST_INTEQ(c->esc[0], 0);
	TEST_INTEQ(c->machine, 5);
	TEST_INTEQ(c->csat_good, 2);
	TEST_INTEQ(c->csat_bad, 1);
	TEST_INTEQ(c->customer_mails, 6);
	TEST_INTEQ(c->contact_tickets, 4);

	TEST_INTEQ(p->created, 2);
	TEST_INTEQ(p->resolved, 1);
	TEST_INTEQ(p->backlog, 2);
	TEST_INTEQ(p->backlog_age_median, 201600);
	TEST_INTEQ(p->backlog_age_max, 56 * 86400 - 9 * 3600);
	TEST_INTEQ(p->frt_median, 600);
	TEST_INTEQ(p->frt_p90, 600);
	TEST_INTEQ(p->res_median, 7200);
	TEST_INTEQ(p->sla_met, 1);
	TEST_INTEQ(p->fcr, 1);
	TEST_INTEQ(p->reopened, 0);
	TEST_INTEQ(p->esc[0], 1);
	TEST_INTEQ(p->csat_okay, 1);

	/* lists: oldest open first; breaches #6 and #7 (response) */
	TEST_INTEQ(r->n_oldest, 2);
	TEST_INTEQ(r->oldest[0].id, 6);
	TEST_INTEQ(r->oldest[1].id, 3);
	TEST_INTEQ(r->n_worst, 2);
	TEST_INTEQ(r->worst[0].id, 6);
	TEST_INTEQ(r->worst[0].over, 1267200 - 14400);
	TEST_STREQ(r->worst[0].what, "response");
	TEST_INTEQ(r->worst[1].id, 7);
	TEST_INTEQ(r->worst[1].over, 3600);
	TEST_STREQ(r->worst[1].what, "response");
	report_free(&r);
	TEST_CHECK(r == NULL);
	sla_calendar_free(&cal);
}

static void
test_groups(void)
{
	struct sla_calendar *cal = office();
	struct report *r = build(cal, true);
	const struct report_group *alice = group(r, REPORT_AGENT, "alice");
	const struct report_group *bob = group(r, REPORT_AGENT, "bob");
	const struct report_group *none =
	    group(r, REPORT_AGENT, "(unassigned)");
	const struct report_group *billing = group(r, REPORT_QUEUE, "billing");
	const struct report_group *support = group(r, REPORT_QUEUE, "support");

	TEST_CHECK(alice && bob && none && billing && support);
	if (!(alice && bob && none && billing && support))
		goto out;
	/* alice: #4 and #7 created; #1, #4, #7 resolved */
	TEST_INTEQ(alice->cur.created, 2);
	TEST_INTEQ(alice->cur.resolved, 3);
	TEST_INTEQ(alice->cur.res_median, 18000); /* 10800 18000 115200 */
	TEST_INTEQ(alice->cur.csat_good, 2);
	TEST_INTEQ(alice->prev.resolved, 1);
	TEST_INTEQ(bob->cur.resolved, 1);
	TEST_INTEQ(bob->cur.backlog, 1);
	TEST_INTEQ(bob->cur.esc[1], 3);
	TEST_INTEQ(none->cur.backlog, 1);
	TEST_INTEQ(billing->cur.resolved, 1);
	TEST_INTEQ(billing->cur.sla_met, 0);
	TEST_INTEQ(support->cur.resolved, 3);
	TEST_INTEQ(support->cur.sla_met, 3);
	/* machine mail without a ticket counts overall and in "(none)" */
	TEST_CHECK(group(r, REPORT_QUEUE, "(none)") != NULL);
out:
	report_free(&r);
	sla_calendar_free(&cal);
}

/* 24x7 calendars: business time is wall time, also across a DST change
 * (the 23-hour day of 2026-03-29 in Berlin), and the O(1) shortcut agrees
 * with sla_business_seconds. */
static void
test_24x7_dst(void)
{
	struct sla_hours h[7];
	struct sla_calendar *berlin = NULL, *utc = report_calendar_24x7();
	struct report *r = NULL;
	gint64 c = at(3, 28, 12, 0), res = at(3, 29, 12, 0);
	struct report_row row = {.id = 1,
	                         .queue = "q",
	                         .subject = "dst",
	                         .created = c,
	                         .first_response = c + 60,
	                         .last_agent = c + 60,
	                         .last_customer = c,
	                         .resolved = res};

	for (int d = 0; d < 7; d++)
		h[d] = (struct sla_hours){d, 0, 24 * 60};
	TEST_INTEQ(sla_calendar_new("b", "Europe/Berlin", h, 7, NULL, 0,
	                            &berlin, NULL, 0),
	           0);
	TEST_CHECK(utc != NULL);
	TEST_INTEQ(sla_business_seconds(berlin, c, res), 86400);
	struct report_params p = {.from = at(3, 23, 0, 0),
	                          .to = at(3, 30, 0, 0),
	                          .default_cal = berlin};
	TEST_INTEQ(report_new(&p, &r), 0);
	TEST_INTEQ(report_add_ticket(r, &row), 0);
	report_finish(r);
	TEST_INTEQ(((struct report_group *)r->groups->pdata[0])->cur.res_median,
	           86400);
	TEST_INTEQ(((struct report_group *)r->groups->pdata[0])->cur.sla_n, 0);
	/* a finished report takes no more rows */
	TEST_INTEQ(report_add_ticket(r, &row), -EINVAL);
	report_free(&r);
	sla_calendar_free(&berlin);
	sla_calendar_free(&utc);
}

static void
test_bad_input(void)
{
	struct sla_calendar *cal = report_calendar_24x7();
	struct report_params p = {.from = 10, .to = 10, .default_cal = cal};
	struct report *r = NULL;
	struct report_count bad = {REPORT_CSAT, 7, 0, NULL, NULL, 1};

	TEST_INTEQ(report_new(&p, &r), -EINVAL);
	TEST_CHECK(r == NULL);
	p.to = 20;
	p.default_cal = NULL;
	TEST_INTEQ(report_new(&p, &r), -EINVAL);
	p.default_cal = cal;
	TEST_INTEQ(report_new(&p, &r), 0);
	TEST_INTEQ(report_add_count(r, &bad), -EINVAL);
	bad.kind = 99;
	TEST_INTEQ(report_add_count(r, &bad), -EINVAL);
	report_free(&r);
	sla_calendar_free(&cal);
}

static void
test_render(void)
{
	struct sla_calendar *cal = office();
	struct report *r = build(cal, true);
	g_autoptr(GString) j = g_string_new(NULL);
	g_autoptr(GString) csv = g_string_new(NULL);
	g_autoptr(GString) txt = g_string_new(NULL);

	report_json(r, j, false);
	TEST_CHECK(strstr(j->str, "\"from\":\"2026-03-02T00:00:00Z\"") != NULL);
	TEST_CHECK(strstr(j->str, "\"created\":4,\"resolved\":4,\"backlog\":2,"
	                          "\"backlog_age_median_s\":136800,") != NULL);
	TEST_CHECK(strstr(j->str, "\"sla_met_pct\":75") != NULL);
	TEST_CHECK(strstr(j->str, "\"csat_pct\":66.7") != NULL);
	TEST_CHECK(strstr(j->str, "\"contact_ratio\":1.5") != NULL);
	TEST_CHECK(
	    strstr(j->str, "\"escalations_by_level\":[0,3,0,0,0,0,0,0]") !=
	    NULL);
	report_csv(r, csv);
	TEST_CHECK(g_str_has_prefix(csv->str, "group,name,period,created,"));
	TEST_CHECK(strstr(csv->str, "\r\nall,all,current,4,4,2,136800,") !=
	           NULL);
	report_table(r, txt);
	TEST_CHECK(strstr(txt->str, "  First response, median         "
	                            "1h00m00s     0h10m00s\n") != NULL);
	TEST_CHECK(strstr(txt->str, "  SLA met                   "
	                            "        75.0%       100.0%\n") != NULL);
	TEST_CHECK(strstr(txt->str, "  #6 348h00m00s over response target: "
	                            "Forgotten") != NULL);
	report_free(&r);
	sla_calendar_free(&cal);
}

/* ---- the SLA configuration: queue calendars, a policy per priority, the
 * SLA clocks' pending pauses (Mon 2026-03-02 .. Mon 2026-03-09) ---- */

/* New York office hours, Mon-Fri 09:00-17:00 EST (UTC-5 until the DST
 * change on Sunday 2026-03-08): 14:00-22:00 UTC in the period. */
static struct sla_calendar *
newyork(void)
{
	struct sla_hours h[5];
	struct sla_calendar *cal = NULL;

	for (int d = 0; d < 5; d++)
		h[d] = (struct sla_hours){d, 9 * 60, 17 * 60};
	if (sla_calendar_new("ny", "America/New_York", h, 5, NULL, 0, &cal,
	                     NULL, 0) < 0)
		return NULL;
	return cal;
}

struct cals {
	struct sla_calendar *office, *ny, *utc;
};

/* support -> office, us -> ny, anything else -> default (24x7 UTC) */
static const struct sla_calendar *
queue_cal(void *ud, const char *queue)
{
	struct cals *c = ud;

	if (queue && strcmp(queue, "support") == 0)
		return c->office;
	if (queue && strcmp(queue, "us") == 0)
		return c->ny;
	return NULL;
}

static const struct sla_policy prio_policies[] = {
    {.priority = 3, .first_response_min = 60, .resolution_min = 480},
    {.priority = 2, .first_response_min = 120, .resolution_min = 960},
    {.priority = SLA_ANY_PRIORITY,
     .first_response_min = 240,
     .resolution_min = 2880},
};

/* The tickets; with_clock false drops B's and E's SLA clocks (a tick that
 * has not run yet), so elapsed business time counts. */
static struct report *
build_sla(struct cals *c, bool with_clock)
{
	/* urgent: 24x7 UTC; high: office; the catch-all: the queue's */
	const struct sla_calendar *pcal[] = {c->utc, c->office, NULL};
	struct report_params p = {
	    .from = at(3, 2, 0, 0),
	    .to = at(3, 9, 0, 0),
	    .cal_for = queue_cal,
	    .cal_ud = c,
	    .default_cal = c->utc,
	    .policies = prio_policies,
	    .policy_cal = pcal,
	    .n_policies = ARRAY_SIZE(prio_policies),
	    .by_queue = true,
	};
	struct sla_ticket b, d, e;
	struct report *r = NULL;

	/* B: high, office.  Tue 16:00 created, pending 16:30 .. Thu 09:00
	 * (customer writes, reopened), reply Thu 10:00, resolved 16:00.
	 * Clocks without the pending time (Wed is a holiday anyway):
	 * response 1800 + 3600 = 5400, resolution 1800 + 7h = 27000. */
	sla_ticket_init(&b, at(3, 3, 16, 0), 2);
	TEST_INTEQ(
	    sla_on_status_change(&b, c->office, SLA_PENDING, at(3, 3, 16, 30)),
	    0);
	TEST_INTEQ(sla_on_customer_message(&b, at(3, 5, 9, 0)), 0);
	TEST_INTEQ(
	    sla_on_status_change(&b, c->office, SLA_OPEN, at(3, 5, 9, 0)), 0);
	TEST_INTEQ(sla_on_agent_reply(&b, c->office, at(3, 5, 10, 0)), 0);
	TEST_INTEQ(
	    sla_on_status_change(&b, c->office, SLA_RESOLVED, at(3, 5, 16, 0)),
	    0);
	TEST_INTEQ(b.first_response_secs, 5400);
	TEST_INTEQ(b.resolution_run_secs, 27000);
	/* D: normal, support: resolved Thu 10:00 without a reply, one
	 * business hour after it came in */
	sla_ticket_init(&d, at(3, 5, 9, 0), 1);
	TEST_INTEQ(
	    sla_on_status_change(&d, c->office, SLA_RESOLVED, at(3, 5, 10, 0)),
	    0);
	/* E: urgent, sales (24x7): Sun 20:00, pending from 20:30 on */
	sla_ticket_init(&e, at(3, 8, 20, 0), 3);
	TEST_INTEQ(
	    sla_on_status_change(&e, c->utc, SLA_PENDING, at(3, 8, 20, 30)), 0);

	struct report_row rows[] = {
	    /* A: urgent, support: Mon 08:00, reply 09:30, resolved 15:00.
	     * Time KPIs (office): response 1800, resolution 21600.  SLA
	     * (24x7): response 5400 >= 3600: not met, 1800 over. */
	    {.id = 1,
	     .queue = "support",
	     .agent = "alice",
	     .subject = "A",
	     .priority = 3,
	     .created = at(3, 2, 8, 0),
	     .first_response = at(3, 2, 9, 30),
	     .last_customer = at(3, 2, 8, 0),
	     .last_agent = at(3, 2, 9, 30),
	     .resolved = at(3, 2, 15, 0)},
	    /* B (above).  Time KPIs (office, elapsed): response Tue 1h +
	     * Thu 1h = 7200, resolution 1h + 7h = 28800.  SLA: 5400 <
	     * 7200 and 27000 < 57600 with the clock; without it 7200 >=
	     * 7200: not met, a breach by 0. */
	    {.id = 2,
	     .queue = "support",
	     .agent = "bob",
	     .subject = "B",
	     .priority = 2,
	     .created = at(3, 3, 16, 0),
	     .first_response = at(3, 5, 10, 0),
	     .last_customer = at(3, 5, 9, 0),
	     .last_agent = at(3, 5, 10, 0),
	     .resolved = at(3, 5, 16, 0),
	     .has_clock = with_clock,
	     .clock = b},
	    /* C: normal, us (New York): Mon 21:00Z = 16:00 EST, reply Tue
	     * 14:30Z = 09:30 EST: 3600 + 1800 = 5400; resolved Wed 15:00Z
	     * = 10:00 EST (no holiday in NY): 1h + 8h + 1h = 36000.  The
	     * catch-all policy on the queue's calendar: met. */
	    {.id = 3,
	     .queue = "us",
	     .agent = "carol",
	     .subject = "C",
	     .priority = 1,
	     .created = at(3, 2, 21, 0),
	     .first_response = at(3, 3, 14, 30),
	     .last_customer = at(3, 2, 21, 0),
	     .last_agent = at(3, 3, 14, 30),
	     .resolved = at(3, 4, 15, 0)},
	    /* D (above): resolution 3600; no reply, but resolved before the
	     * response was due (3600 < 14400): met. */
	    {.id = 4,
	     .queue = "support",
	     .agent = "alice",
	     .subject = "D",
	     .priority = 1,
	     .created = at(3, 5, 9, 0),
	     .last_customer = at(3, 5, 9, 0),
	     .resolved = at(3, 5, 10, 0),
	     .has_clock = true,
	     .clock = d},
	    /* E (above): open at the period end.  Its clocks ran 1800 <
	     * 3600 (paused since 20:30): no breach; elapsed 4h would be
	     * 10800 over the response target. */
	    {.id = 5,
	     .queue = "sales",
	     .subject = "E",
	     .priority = 3,
	     .created = at(3, 8, 20, 0),
	     .last_customer = at(3, 8, 20, 0),
	     .has_clock = with_clock,
	     .clock = e},
	};

	TEST_INTEQ(report_new(&p, &r), 0);
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++)
		TEST_INTEQ(report_add_ticket(r, &rows[i]), 0);
	report_finish(r);
	return r;
}

static void
test_sla_config(void)
{
	struct cals c = {office(), newyork(), report_calendar_24x7()};
	struct report *r;
	const struct report_kpi *k;
	const struct report_group *support, *us;

	TEST_CHECK(c.office && c.ny && c.utc);
	if (!(c.office && c.ny && c.utc))
		goto out;
	r = build_sla(&c, true);
	k = &((struct report_group *)r->groups->pdata[0])->cur;
	TEST_INTEQ(k->created, 5);
	TEST_INTEQ(k->resolved, 4);
	TEST_INTEQ(k->backlog, 1);
	TEST_INTEQ(k->frt_n, 3); /* 1800 5400 7200 */
	TEST_INTEQ(k->frt_median, 5400);
	TEST_INTEQ(k->frt_p90, 7200);
	TEST_INTEQ(k->res_n, 4); /* 3600 21600 28800 36000 */
	TEST_INTEQ(k->res_median, 21600);
	TEST_INTEQ(k->res_p90, 36000);
	TEST_INTEQ(k->sla_n, 4);
	TEST_INTEQ(k->sla_met, 3); /* B, C, D */
	TEST_INTEQ(r->n_worst, 1);
	TEST_INTEQ(r->worst[0].id, 1);
	TEST_INTEQ(r->worst[0].over, 1800);
	TEST_STREQ(r->worst[0].what, "response");
	support = group(r, REPORT_QUEUE, "support");
	us = group(r, REPORT_QUEUE, "us");
	TEST_CHECK(support && us);
	if (support && us) {
		TEST_INTEQ(support->cur.sla_n, 3);
		TEST_INTEQ(support->cur.sla_met, 2);
		TEST_INTEQ(us->cur.frt_median, 5400);
		TEST_INTEQ(us->cur.res_median, 36000);
		TEST_INTEQ(us->cur.sla_met, 1);
	}
	report_free(&r);

	/* no clocks: elapsed business time, never more lenient */
	r = build_sla(&c, false);
	k = &((struct report_group *)r->groups->pdata[0])->cur;
	TEST_INTEQ(k->frt_median, 5400); /* time KPIs do not change */
	TEST_INTEQ(k->res_median, 21600);
	TEST_INTEQ(k->sla_met, 2); /* B misses by 0 */
	TEST_INTEQ(r->n_worst, 3);
	TEST_INTEQ(r->worst[0].id, 5);
	TEST_INTEQ(r->worst[0].over, 10800);
	TEST_INTEQ(r->worst[1].id, 1);
	TEST_INTEQ(r->worst[1].over, 1800);
	TEST_INTEQ(r->worst[2].id, 2);
	TEST_INTEQ(r->worst[2].over, 0);
	TEST_STREQ(r->worst[2].what, "response");
	report_free(&r);
out:
	sla_calendar_free(&c.office);
	sla_calendar_free(&c.ny);
	sla_calendar_free(&c.utc);
}

/* When the clock covers the instant asked about and agrees with the
 * ticket, its pending pauses count; a clock whose current stretch began
 * later (reopened after the period) or that disagrees with the ticket
 * (no first reply where the ticket has one) gives way to elapsed time. */
static void
test_clock_stale(void)
{
	struct sla_calendar *cal = office();
	struct sla_policy pol = {.priority = SLA_ANY_PRIORITY,
	                         .first_response_min = 60};
	struct report_params p = {.from = at(3, 2, 0, 0),
	                          .to = at(3, 9, 0, 0),
	                          .default_cal = cal,
	                          .policies = &pol,
	                          .n_policies = 1};
	struct sla_ticket t, open;
	struct report *r = NULL;
	struct report_row row = {.id = 1,
	                         .queue = "q",
	                         .subject = "s",
	                         .priority = 1,
	                         .created = at(3, 2, 9, 0),
	                         .first_response = at(3, 2, 11, 0),
	                         .last_agent = at(3, 2, 11, 0),
	                         .resolved = at(3, 2, 12, 0),
	                         .has_clock = true};
	const struct report_kpi *k;

	/* pending 09:10 .. 10:55, reply 11:00: the clock says 900 s (the
	 * elapsed 7200 would breach the 3600 target) */
	sla_ticket_init(&t, row.created, 1);
	TEST_INTEQ(sla_on_status_change(&t, cal, SLA_PENDING, at(3, 2, 9, 10)),
	           0);
	TEST_INTEQ(sla_on_status_change(&t, cal, SLA_OPEN, at(3, 2, 10, 55)),
	           0);
	TEST_INTEQ(sla_on_agent_reply(&t, cal, at(3, 2, 11, 0)), 0);
	TEST_INTEQ(t.first_response_secs, 900);
	open = t;
	TEST_INTEQ(sla_on_status_change(&t, cal, SLA_RESOLVED, at(3, 2, 12, 0)),
	           0);
	row.clock = t;
	TEST_INTEQ(report_new(&p, &r), 0);
	TEST_INTEQ(report_add_ticket(r, &row), 0); /* met by the clock */
	/* 2: open at the period end; the clock has been running again
	 * since Mon 9 10:00, after the end: elapsed time at the end */
	row.id = 2;
	row.resolved = 0;
	row.clock = open;
	row.clock.run_since = at(3, 9, 10, 0);
	TEST_INTEQ(report_add_ticket(r, &row), 0);
	/* 3: like 1, but the clock has no first reply: elapsed time */
	row.id = 3;
	row.resolved = at(3, 2, 12, 0);
	row.clock = t;
	row.clock.first_response_at = 0;
	TEST_INTEQ(report_add_ticket(r, &row), 0);
	report_finish(r);
	k = &((struct report_group *)r->groups->pdata[0])->cur;
	TEST_INTEQ(k->sla_n, 2);
	TEST_INTEQ(k->sla_met, 1);
	TEST_INTEQ(r->n_worst, 2);
	TEST_INTEQ(r->worst[0].id, 2);
	TEST_INTEQ(r->worst[0].over, 7200 - 3600);
	TEST_INTEQ(r->worst[1].id, 3);
	TEST_INTEQ(r->worst[1].over, 7200 - 3600);
	report_free(&r);
	sla_calendar_free(&cal);
}

/* digest_queue_calendar: the calendar of the policy a normal-priority
 * ticket of the queue gets; none without a matching policy. */
static void
test_queue_calendar(void)
{
	struct sla_calendar *o = office(), *ny = newyork();
	struct sla_policy pols[] = {
	    {.queue = "us", .priority = 3},
	    {.queue = "us", .priority = SLA_ANY_PRIORITY},
	    {.queue = "support", .priority = 1},
	};
	const struct sla_calendar *pcal[] = {o, ny, o};
	struct cfg cfg = {0};

	cfg.sla.policies = pols;
	cfg.sla.policy_cal = pcal;
	cfg.sla.n_policies = ARRAY_SIZE(pols);
	TEST_CHECK(digest_queue_calendar(&cfg, "us") == ny);
	TEST_CHECK(digest_queue_calendar(&cfg, "support") == o);
	TEST_CHECK(digest_queue_calendar(&cfg, "sales") == NULL);
	cfg.sla.n_policies = 0;
	TEST_CHECK(digest_queue_calendar(&cfg, "us") == NULL);
	sla_calendar_free(&o);
	sla_calendar_free(&ny);
}

/* NPS: promoters 9-10 minus detractors 0-6, in percent of the answers. */
static void
test_nps(void)
{
	struct report_params p = {.from = 1000,
	                          .to = 2000,
	                          .default_cal = report_calendar_24x7(),
	                          .by_queue = true,
	                          .by_agent = true};
	struct report_kpi k = {0};
	struct report *r = NULL;
	struct report_count cs[] = {
	    {REPORT_NPS, 9, 0, "support", "alice", 1},
	    {REPORT_NPS, 3, 0, "support", "alice", 1},
	    {REPORT_NPS, 10, 0, "billing", "bob", 3},
	    {REPORT_NPS, 8, 0, "billing", "bob", 1},
	    {REPORT_NPS, 0, 1, "billing", "bob", 2},
	};
	struct report_count bad = {REPORT_NPS, 11, 0, NULL, NULL, 1};
	g_autoptr(GString) json = g_string_new(NULL);

	TEST_CHECK(isnan(report_nps(&k)));
	k.nps_promoters = 1;
	k.nps_detractors = 1;
	TEST_CHECK(report_nps(&k) == 0.0);
	k.nps_promoters = 0;
	TEST_CHECK(report_nps(&k) == -100.0);
	k.nps_promoters = 2;
	k.nps_passives = 1;
	k.nps_detractors = 0;
	TEST_CHECK(report_nps(&k) == 66.7);

	TEST_INTEQ(report_new(&p, &r), 0);
	for (size_t i = 0; i < ARRAY_SIZE(cs); i++)
		TEST_INTEQ(report_add_count(r, &cs[i]), 0);
	TEST_INTEQ(report_add_count(r, &bad), -EINVAL);
	report_finish(r);
	/* all: 4 promoters, 1 passive, 1 detractor of 6 = 50 */
	TEST_CHECK(report_nps(&group(r, REPORT_ALL, "all")->cur) == 50.0);
	TEST_CHECK(report_nps(&group(r, REPORT_QUEUE, "support")->cur) == 0.0);
	TEST_CHECK(report_nps(&group(r, REPORT_AGENT, "bob")->cur) == 75.0);
	TEST_CHECK(report_nps(&group(r, REPORT_AGENT, "bob")->prev) == -100.0);
	report_json(r, json, false);
	TEST_CHECK(strstr(json->str, "\"nps\":-100.000,\"nps_n\":2") != NULL);
	TEST_CHECK(strstr(json->str, "\"nps\":0.000,\"nps_n\":2") != NULL);
	report_free(&r);
	sla_calendar_free((struct sla_calendar **)&p.default_cal);
}

/* The facts path: report_fact_of gives the per-ticket values the
 * unrolled path counts (row 1 and 2 of history()); report_add_part's
 * sums and samples make the groups' figures; the fingerprint follows the
 * calendars. */
static void
test_facts(void)
{
	struct sla_calendar *cal = office(), *cal2 = office();
	struct sla_calendar *wall = report_calendar_24x7();
	struct report_row row = {.id = 1,
	                         .queue = "support",
	                         .agent = "alice",
	                         .subject = "Fri evening",
	                         .priority = 1,
	                         .created = at(2, 27, 16, 0),
	                         .first_response = at(3, 2, 10, 0),
	                         .last_customer = at(2, 27, 16, 0),
	                         .last_agent = at(3, 2, 10, 0),
	                         .resolved = at(3, 2, 11, 0)};
	struct report_params p = {.from = at(3, 2, 0, 0),
	                          .to = at(3, 9, 0, 0),
	                          .default_cal = cal,
	                          .policies = &policy,
	                          .n_policies = 1,
	                          .by_queue = true};
	struct report *r = NULL, *r2 = NULL;
	struct report_fact f;
	const char *queues[] = {"support"};
	gint64 fp;

	TEST_INTEQ(report_new(&p, &r), 0);
	report_fact_of(r, &row, &f);
	TEST_INTEQ(f.frt_b, 7200);
	TEST_INTEQ(f.res_b, 10800);
	TEST_INTEQ(f.met, 1);
	TEST_CHECK(f.fcr && !f.reopened);
	TEST_INTEQ(f.over, -1);
	/* open, no reply: nothing but "not reopened" */
	row.first_response = row.resolved = row.last_agent = 0;
	report_fact_of(r, &row, &f);
	TEST_INTEQ(f.frt_b, -1);
	TEST_INTEQ(f.res_b, -1);
	TEST_INTEQ(f.met, -1);
	/* resolved Fri 03-06 11:00 without a reply: 1h + 8h + 8h + (holiday)
	 * + 8h + 2h = 27 business hours; the response clock ran as long,
	 * 23h past its 4h target, the resolution stayed within 48h */
	row.resolved = at(3, 6, 11, 0);
	report_fact_of(r, &row, &f);
	TEST_INTEQ(f.res_b, 27 * 3600);
	TEST_INTEQ(f.met, 0);
	TEST_INTEQ(f.what, 1);
	TEST_INTEQ(f.over, 23 * 3600);
	TEST_CHECK(!f.fcr);

	/* SQL's sums and samples per (queue, agent): each lands in the
	 * overall, queue and agent group; medians by the nearest rank */
	{
		static const gint64 frt_a[] = {300, 60, 120}, res_a[] = {900};
		static const gint64 frt_b[] = {30}, res_b[] = {100, 500};
		struct report_part pa = {.queue = "zeta",
		                         .agent = "alice",
		                         .period = 0,
		                         .k = {.created = 4, .resolved = 1},
		                         .frt = frt_a,
		                         .n_frt = 3,
		                         .res = res_a,
		                         .n_res = 1};
		struct report_part pb = {.queue = "alpha",
		                         .agent = NULL,
		                         .period = 0,
		                         .k = {.created = 3, .resolved = 2},
		                         .frt = frt_b,
		                         .n_frt = 1,
		                         .res = res_b,
		                         .n_res = 2};

		TEST_INTEQ(report_add_part(r, &pa), 0);
		TEST_INTEQ(report_add_part(r, &pb), 0);
		pb.period = 2;
		TEST_INTEQ(report_add_part(r, &pb), -EINVAL);
	}
	report_finish(r);
	TEST_INTEQ(r->groups->len, 3); /* all, alpha, zeta: by_queue only */
	TEST_STREQ(((struct report_group *)r->groups->pdata[1])->name, "alpha");
	TEST_INTEQ(group(r, REPORT_ALL, "all")->cur.created, 7);
	TEST_INTEQ(group(r, REPORT_ALL, "all")->cur.frt_n, 4);
	TEST_INTEQ(group(r, REPORT_ALL, "all")->cur.frt_median, 60);
	TEST_INTEQ(group(r, REPORT_ALL, "all")->cur.frt_p90, 300);
	TEST_INTEQ(group(r, REPORT_ALL, "all")->cur.res_median, 500);
	TEST_INTEQ(group(r, REPORT_QUEUE, "zeta")->cur.frt_median, 120);
	TEST_INTEQ(group(r, REPORT_QUEUE, "alpha")->cur.res_median, 100);
	TEST_INTEQ(group(r, REPORT_QUEUE, "zeta")->prev.res_median, -1);

	fp = report_fingerprint(r, queues, 1);
	p.default_cal = cal2; /* the same hours */
	TEST_INTEQ(report_new(&p, &r2), 0);
	TEST_INTEQ(report_fingerprint(r2, queues, 1), fp);
	report_free(&r2);
	p.default_cal = wall;
	TEST_INTEQ(report_new(&p, &r2), 0);
	TEST_CHECK(report_fingerprint(r2, queues, 1) != fp);
	report_free(&r2);
	policy.resolution_min++;
	TEST_CHECK(report_fingerprint(r, queues, 1) != fp);
	policy.resolution_min--;
	report_free(&r);
	sla_calendar_free(&cal);
	sla_calendar_free(&cal2);
	sla_calendar_free(&wall);
}

int
main(void)
{
	static const struct test_case cases[] = {
	    {"percentile", test_percentile},
	    {"overall", test_overall},
	    {"groups", test_groups},
	    {"24x7_dst", test_24x7_dst},
	    {"bad_input", test_bad_input},
	    {"render", test_render},
	    {"sla_config", test_sla_config},
	    {"clock_stale", test_clock_stale},
	    {"queue_calendar", test_queue_calendar},
	    {"facts", test_facts},
	    {"nps", test_nps},
	};
	return test_run("report", cases, ARRAY_SIZE(cases));
}
