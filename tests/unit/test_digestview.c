/*
 * test_digestview.c - the managers' digest as read by a person: numbers
 * in words, the order of the "needs you" sections, a quiet day, trend
 * charts whose values are the reports' own figures and whose bars are
 * scaled to the series, and the signed action links (tampering).
 */
#include "action.h"
#include "digestview.h"
#include "report.h"
#include "test.h"

#include <string.h>

#define DAY  86400
#define T0   1764547200 /* 2025-12-01 00:00 UTC, a Monday */
#define SECR ((const unsigned char *)"0123456789abcdef-secret")
#define SLEN (sizeof("0123456789abcdef-secret") - 1)

static void
test_duration(void)
{
	const struct {
		gint64 s;
		const char *want;
	} c[] = {
	    {0, "0 s"},     {40, "40 s"},
	    {60, "1 min"},  {12 * 60 + 5, "12 min"},
	    {3600, "1 h"},  {4800, "1 h 20 min"},
	    {86400, "1 d"}, {3 * 86400 + 4 * 3600 + 59, "3 d 4 h"},
	    {-5, "-"},
	};

	for (size_t i = 0; i < G_N_ELEMENTS(c); i++) {
		g_autofree char *s = digestview_duration(c[i].s);
		TEST_STREQ(s, c[i].want);
	}
}

static void
test_pct(void)
{
	g_autofree char *a = digestview_pct(44, 48);
	g_autofree char *b = digestview_pct(0, 0);
	g_autofree char *c = digestview_pct(1, 3);

	TEST_STREQ(a, "92% of 48");
	TEST_STREQ(b, "no data (0)");
	TEST_STREQ(c, "33% of 3");
	TEST_CHECK(digestview_overloaded(12, 4));
	TEST_CHECK(!digestview_overloaded(5, 4));   /* not 1.5 x */
	TEST_CHECK(!digestview_overloaded(3, 1.5)); /* 2 x, but only +1.5 */
}

/* created tickets on the day from, every odd one resolved after 2 h (so
 * medians and % exist) */
static void
add_day(struct report *r, gint64 from, int created)
{
	for (int i = 0; i < created; i++) {
		struct report_row row = {
		    .id = from / 60 + i,
		    .queue = "support",
		    .subject = "x",
		    .priority = 1,
		    .created = from + 3600 + i,
		    .first_response = from + 4000 + i,
		    .resolved = i % 2 ? from + 3 * 3600 + i : 0,
		};
		report_add_ticket(r, &row);
	}
}

/* the report of day d (and, as the store feeds it, of the day before) */
static struct report *
day_report(struct sla_calendar *cal, gint64 from, const int *created, int d)
{
	struct report *r = NULL;
	struct report_params p = {
	    .from = from, .to = from + DAY, .default_cal = cal};

	report_new(&p, &r);
	if (d > 0)
		add_day(r, from - DAY, created[d - 1]);
	add_day(r, from, created[d]);
	report_finish(r);
	return r;
}

static struct digestview_item *
item(int kind, gint64 ticket, const char *subject, gint64 at, const char *what)
{
	struct digestview_item *it = g_new0(struct digestview_item, 1);

	it->kind = kind;
	it->ticket = ticket;
	it->customer = g_strdup("Carol Customer");
	it->subject = g_strdup(subject);
	it->holder = ticket % 2 ? g_strdup("alice@example.com") : NULL;
	it->what = g_strdup(what);
	it->at = at;
	it->link = action_link(SECR, SLEN, "example.com", "support@example.com",
	                       "Example", ticket, "#assign me\n");
	return it;
}

static void
test_render(void)
{
	struct sla_calendar *cal = report_calendar_24x7();
	static const int created[7] = {0, 3, 5, 2, 0, 4, 6};
	struct report *reps[7];
	const char *labels[7] = {"d1", "d2", "d3", "d4", "d5", "d6", "d7"};
	gint64 now = T0 + 7 * DAY + 6 * 3600;
	g_autoptr(GPtrArray) items =
	    g_ptr_array_new_with_free_func(digestview_item_free);
	g_autoptr(GPtrArray) load =
	    g_ptr_array_new_with_free_func(digestview_load_free);
	g_autoptr(GString) text = g_string_new(NULL);
	g_autoptr(GString) html = g_string_new(NULL);
	g_autoptr(GString) qt = g_string_new(NULL);
	g_autoptr(GString) qh = g_string_new(NULL);
	struct digestview v = {.title = "Daily report",
	                       .scope = "all queues",
	                       .time_note = "Times are business time.",
	                       .now = now,
	                       .n_trend = 7,
	                       .unassigned = 4};
	const char *a, *b, *c, *d, *e;
	char want[128];

	for (int i = 0; i < 7; i++) {
		reps[i] = day_report(cal, T0 + i * DAY, created, i);
		v.trend[i] = reps[i];
		v.trend_label[i] = labels[i];
	}
	/* out of order on purpose: the view sorts by section and urgency */
	g_ptr_array_add(items, item(DIGESTVIEW_WAITING, 7, "Waiting one",
	                            now - 3 * DAY - 4 * 3600, NULL));
	g_ptr_array_add(items, item(DIGESTVIEW_BAD_RATING, 5, "Rated badly",
	                            now - 3600, "Nobody & nothing <b>"));
	g_ptr_array_add(items, item(DIGESTVIEW_BREACH, 3, "Late small",
	                            now - 600, "resolution"));
	g_ptr_array_add(items, item(DIGESTVIEW_BREACH, 1, "Late big",
	                            now - 4800, "first response"));
	g_ptr_array_add(items, item(DIGESTVIEW_ESCALATION, 9, "Escalated",
	                            now - 7200, "level 1: resolution"));
	{
		struct digestview_load *l = g_new0(struct digestview_load, 1);
		l->agent = g_strdup("alice@example.com");
		l->open = 12;
		l->responses = 30;
		g_ptr_array_add(load, l);
		l = g_new0(struct digestview_load, 1);
		l->agent = g_strdup("bob@example.com");
		l->open = 2;
		l->responses = 7;
		g_ptr_array_add(load, l);
		l = g_new0(struct digestview_load, 1);
		l->agent = g_strdup("carl@example.com");
		l->open = 1;
		g_ptr_array_add(load, l);
	}
	v.items = items;
	v.load = load;
	digestview_text(&v, text);
	digestview_html(&v, html);

	/* needs you first: breaches (latest due first = most late), then
	 * ratings, escalations, waits; then trends, then workload */
	a = strstr(text->str, "#1 Late big");
	b = strstr(text->str, "#3 Late small");
	c = strstr(text->str, "#5 Rated badly");
	d = strstr(text->str, "#9 Escalated");
	e = strstr(text->str, "#7 Waiting one");
	TEST_CHECK(a && b && c && d && e);
	TEST_CHECK(a < b && b < c && c < d && d < e);
	TEST_CHECK(e < strstr(text->str, "TRENDS"));
	TEST_CHECK(strstr(text->str, "TRENDS") < strstr(text->str, "WORKLOAD"));
	TEST_CHECK(strstr(text->str, "1 h 20 min late (first response)"));
	TEST_CHECK(strstr(text->str, "waiting 3 d 4 h"));
	TEST_CHECK(strstr(text->str, "Comment: Nobody & nothing <b>"));
	TEST_CHECK(strstr(text->str, "held by alice@example.com"));
	TEST_CHECK(strstr(text->str, "nobody holds it") == NULL ||
	           strstr(text->str, "#7") != NULL);
	TEST_CHECK(strstr(text->str, "Act by mail: <mailto:support@example."
	                             "com?subject="));
	TEST_CHECK(strstr(text->str, "All quiet") == NULL);
	TEST_CHECK(strstr(text->str, "alice@example.com") &&
	           strstr(text->str, "OVERLOADED"));
	TEST_CHECK(strstr(text->str, "Unassigned backlog: 4"));
	/* business time said once, at the end */
	TEST_CHECK(strstr(text->str, "Times are business time.") ==
	           g_strrstr(text->str, "Times are business time."));
	/* the HTML: the same order, escaped, no network resources */
	a = strstr(html->str, "data-ticket=\"1\"");
	c = strstr(html->str, "data-ticket=\"5\"");
	e = strstr(html->str, "data-ticket=\"7\"");
	TEST_CHECK(a && c && e && a < c && c < e);
	TEST_CHECK(e < strstr(html->str, "id=\"trends\""));
	TEST_CHECK(strstr(html->str, "Nobody &amp; nothing &lt;b&gt;"));
	TEST_CHECK(strstr(html->str, "<b>") != NULL);
	TEST_CHECK(strstr(html->str, "http://") == NULL ||
	           strstr(html->str, "http://") ==
	               strstr(html->str, "http://www.w3.org/2000/svg"));
	TEST_CHECK(strstr(html->str, "https://") == NULL);
	TEST_CHECK(strstr(html->str, "<img") == NULL);
	TEST_CHECK(strstr(html->str, "overloaded"));
	/* trend values are the reports' figures, day by day */
	TEST_CHECK(strstr(
	    html->str, "data-kpi=\"created\" data-values=\"0,3,5,2,0,4,6\""));
	TEST_CHECK(strstr(html->str, "data-kpi=\"resolved\" data-values=\""
	                             "0,1,2,1,0,2,3\""));
	/* no data for a median on a day without resolutions: empty value */
	TEST_CHECK(strstr(html->str, "data-kpi=\"resolution_median_s\" "
	                             "data-values=\",7200,7200,7200,,7200,"
	                             "7200\""));
	/* created 6 against 4 the day before */
	TEST_CHECK(strstr(text->str, "+2 (was 4)"));
	/* bars scaled to the series' largest value: day 2 (3 of max 6)
	 * is half of the tallest bar; a day of 0 is a hairline */
	g_snprintf(want, sizeof(want),
	           "height=\"%.1f\" fill=\"#90cdf4\"><title>"
	           "d2: 3</title>",
	           28.0 * 3 / 6);
	TEST_CHECK(strstr(html->str, want) != NULL);
	TEST_CHECK(strstr(html->str, "height=\"1.5\" fill=\"#90cdf4\"><title>"
	                             "d1: 0</title>"));

	/* a quiet day: one line says so, no empty sections */
	v.items = NULL;
	v.load = NULL;
	v.unassigned = 0;
	digestview_text(&v, qt);
	digestview_html(&v, qh);
	TEST_CHECK(strstr(qt->str, "All quiet") &&
	           strstr(qh->str, "All quiet"));
	TEST_CHECK(strstr(qt->str, "In breach") == NULL);
	TEST_CHECK(strstr(qt->str, "WORKLOAD") == NULL);
	TEST_CHECK(qt->len < text->len / 2);

	for (int i = 0; i < 7; i++)
		report_free(&reps[i]);
	sla_calendar_free(&cal);
}

static void
test_action(void)
{
	g_autofree char *link =
	    action_link(SECR, SLEN, "example.com", "support@example.com",
	                "Example", 42, "#assign me\n#priority high\n");
	g_autofree char *q = NULL, *subj = NULL, *moved = NULL, *bad = NULL;
	const char *s, *amp;

	TEST_CHECK(
	    g_str_has_prefix(link, "mailto:support@example.com?subject="));
	TEST_CHECK(
	    strstr(link, "&body=%23assign%20me%0A%23priority%20high%0A"));
	s = strstr(link, "subject=") + 8;
	amp = strchr(s, '&');
	q = g_strndup(s, (gsize)(amp - s));
	subj = g_uri_unescape_string(q, NULL);
	TEST_CHECK(
	    g_str_has_prefix(subj, "[Example #42] Action: tickd.42.act."));
	TEST_INTEQ(action_match(SECR, SLEN, subj, "Example"), 42);
	/* as a reply: Re: prefix does not matter */
	{
		g_autofree char *re = g_strconcat("Re: ", subj, NULL);
		TEST_INTEQ(action_match(SECR, SLEN, re, "Example"), 42);
	}
	/* the tag moved to another ticket: the token names 42 */
	moved = g_strdup(subj);
	memcpy(strstr(moved, "#42"), "#43", 3);
	TEST_INTEQ(action_match(SECR, SLEN, moved, "Example"), -EBADMSG);
	/* one MAC digit changed */
	bad = g_strdup(subj);
	{
		char *at = strchr(bad, '@');
		at[-1] = at[-1] == '0' ? '1' : '0';
	}
	TEST_INTEQ(action_match(SECR, SLEN, bad, "Example"), -EBADMSG);
	/* another secret: forged */
	TEST_INTEQ(
	    action_match((const unsigned char *)"other", 5, subj, "Example"),
	    -EBADMSG);
	/* no token, or another kind of tickd id: not an action */
	TEST_INTEQ(action_match(SECR, SLEN, "[Example #42] hello", "Example"),
	           0);
	TEST_INTEQ(action_match(SECR, SLEN,
	                        "Rating good (tickd.42.rate-good.ab.cd@x)",
	                        "Example"),
	           0);
	TEST_CHECK(action_link(SECR, SLEN, "example.com", "s@x", "E", 0, "") ==
	           NULL);
	/* a subject of nothing but "tickd." words is no token, and quick */
	{
		GString *g = g_string_new(NULL);
		for (int i = 0; i < 20000; i++)
			g_string_append(g, "tickd.");
		TEST_INTEQ(action_match(SECR, SLEN, g->str, "Example"), 0);
		g_string_free(g, TRUE);
	}
}

int
main(void)
{
	static const struct test_case cases[] = {
	    {"duration", test_duration},
	    {"pct", test_pct},
	    {"render", test_render},
	    {"action", test_action},
	};

	return test_run("digestview", cases, G_N_ELEMENTS(cases));
}
