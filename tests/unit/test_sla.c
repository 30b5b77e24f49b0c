/*
 * test_sla.c - SLA calendars, clocks, escalation and digests.  Every
 * instant is injected; expectations are literal unix timestamps worked out
 * by hand (wall time in the comment, checked with TZ=... date -d).
 */
#include "sla.h"
#include "test.h"

#include <glib.h>

#define MIN_ 60
#define HOUR 3600

/* ---- calendar fixtures ----------------------------------------------- */

static struct sla_calendar *
mkcal(const char *tz, const struct sla_hours *h, size_t n,
      const char *const *hol, size_t n_hol)
{
	struct sla_calendar *cal = NULL;
	char err[256] = "";
	int r;

	r = sla_calendar_new("test", tz, h, n, hol, n_hol, &cal, err,
	                     sizeof(err));
	if (r != 0)
		fprintf(stderr, "mkcal %s: %s\n", tz, err);
	TEST_INTEQ(r, 0);
	return cal;
}

/* Mon-Fri 09:00-17:00 in tz, optional holidays. */
static struct sla_calendar *
office(const char *tz, const char *const *hol, size_t n_hol)
{
	struct sla_hours h[5];

	for (int d = SLA_MON; d <= SLA_FRI; d++)
		h[d] = (struct sla_hours){d, 9 * 60, 17 * 60};
	return mkcal(tz, h, 5, hol, n_hol);
}

/* Every day 00:00-24:00. */
static struct sla_calendar *
always(const char *tz)
{
	struct sla_hours h[7];

	for (int d = SLA_MON; d <= SLA_SUN; d++)
		h[d] = (struct sla_hours){d, 0, 24 * 60};
	return mkcal(tz, h, 7, NULL, 0);
}

/* ---- construction and validation ------------------------------------- */

static void
test_calendar_validation(void)
{
	struct sla_calendar *sentinel = (struct sla_calendar *)&test_passed;
	struct sla_calendar *cal = sentinel;
	struct sla_hours mon = {SLA_MON, 9 * 60, 17 * 60};
	struct sla_hours overlap[2] = {{SLA_TUE, 9 * 60, 12 * 60},
	                               {SLA_TUE, 11 * 60, 13 * 60}};
	struct sla_hours touch[2] = {{SLA_TUE, 12 * 60, 13 * 60},
	                             {SLA_TUE, 9 * 60, 12 * 60}};
	struct sla_hours inverted = {SLA_WED, 17 * 60, 9 * 60};
	struct sla_hours too_late = {SLA_WED, 9 * 60, 24 * 60 + 1};
	struct sla_hours bad_day = {7, 9 * 60, 17 * 60};
	struct sla_hours nine[9];
	const char *bad_dates[] = {"2025-02-30", "2025-2-03",  "2025-12-01x",
	                           "abcd-ef-gh", "2025-13-01", "",
	                           "1969-12-31"};
	const char *dup[] = {"2025-12-25", "2024-02-29", "2025-12-25"};
	char err[256];

	err[0] = '\0';
	TEST_INTEQ(sla_calendar_new("eu", "Europe/Berlinn", &mon, 1, NULL, 0,
	                            &cal, err, sizeof(err)),
	           -EINVAL);
	TEST_CHECK(cal == sentinel); /* _r untouched on failure */
	TEST_CHECK(strstr(err, "unknown time zone 'Europe/Berlinn'") != NULL);

	TEST_INTEQ(sla_calendar_new("eu", NULL, &mon, 1, NULL, 0, &cal, err,
	                            sizeof(err)),
	           -EINVAL);
	TEST_INTEQ(sla_calendar_new("eu", "", &mon, 1, NULL, 0, &cal, NULL, 0),
	           -EINVAL);
	TEST_INTEQ(sla_calendar_new("eu", "UTC", NULL, 0, NULL, 0, &cal, err,
	                            sizeof(err)),
	           -EINVAL);
	TEST_CHECK(strstr(err, "no business hours") != NULL);

	TEST_INTEQ(sla_calendar_new("eu", "UTC", overlap, 2, NULL, 0, &cal, err,
	                            sizeof(err)),
	           -EINVAL);
	TEST_STREQ(err, "calendar 'eu': tue: intervals 09:00-12:00 and "
	                "11:00-13:00 overlap");
	TEST_INTEQ(sla_calendar_new("eu", "UTC", &inverted, 1, NULL, 0, &cal,
	                            err, sizeof(err)),
	           -EINVAL);
	TEST_CHECK(strstr(err, "inverted") != NULL);
	TEST_INTEQ(sla_calendar_new("eu", "UTC", &too_late, 1, NULL, 0, &cal,
	                            err, sizeof(err)),
	           -EINVAL);
	TEST_INTEQ(sla_calendar_new("eu", "UTC", &bad_day, 1, NULL, 0, &cal,
	                            err, sizeof(err)),
	           -EINVAL);
	for (int i = 0; i < 9; i++)
		nine[i] = (struct sla_hours){SLA_FRI, i * 60, i * 60 + 30};
	TEST_INTEQ(sla_calendar_new("eu", "UTC", nine, 9, NULL, 0, &cal, err,
	                            sizeof(err)),
	           -EINVAL);
	for (size_t i = 0; i < ARRAY_SIZE(bad_dates); i++) {
		err[0] = '\0';
		TEST_INTEQ(sla_calendar_new("eu", "UTC", &mon, 1, &bad_dates[i],
		                            1, &cal, err, sizeof(err)),
		           -EINVAL);
		TEST_CHECK(strstr(err, "not a date") != NULL);
	}
	TEST_CHECK(cal == sentinel);

	/* Touching intervals, unsorted input, leap day, duplicate day. */
	TEST_INTEQ(sla_calendar_new("eu", "Europe/Berlin", touch, 2, dup, 3,
	                            &cal, err, sizeof(err)),
	           0);
	TEST_CHECK(cal != sentinel && cal != NULL);
	TEST_STREQ(cal->name, "eu");
	TEST_INTEQ(cal->n_hours[SLA_TUE], 2);
	TEST_INTEQ(cal->hours[SLA_TUE][0].start_min, 9 * 60);
	TEST_INTEQ(cal->n_holidays, 2);
	TEST_INTEQ(cal->holidays[0], 19782); /* 2024-02-29 = 1709164800/86400 */
	TEST_INTEQ(cal->holidays[1], 20447); /* 2025-12-25 = 1766620800/86400 */
	sla_calendar_free(&cal);
	TEST_CHECK(cal == NULL);
	sla_calendar_free(&cal); /* NULL is fine */
}

static void
test_hours_parse(void)
{
	struct sla_hours h[4];
	size_t n = 99;
	char err[128];

	TEST_INTEQ(sla_hours_parse(SLA_THU, " 09:00-12:00, 13:00-17:30", h, 4,
	                           &n, err, sizeof(err)),
	           0);
	TEST_INTEQ(n, 2);
	TEST_INTEQ(h[0].weekday, SLA_THU);
	TEST_INTEQ(h[0].start_min, 540);
	TEST_INTEQ(h[0].end_min, 720);
	TEST_INTEQ(h[1].start_min, 780);
	TEST_INTEQ(h[1].end_min, 1050);
	TEST_INTEQ(
	    sla_hours_parse(SLA_SUN, "00:00-24:00", h, 4, &n, err, sizeof(err)),
	    0);
	TEST_INTEQ(n, 1);
	TEST_INTEQ(h[0].end_min, 1440);
	TEST_INTEQ(sla_hours_parse(SLA_SAT, "closed", h, 4, &n, NULL, 0), 0);
	TEST_INTEQ(n, 0);
	n = 99;
	TEST_INTEQ(sla_hours_parse(SLA_SAT, "", h, 4, &n, NULL, 0), 0);
	TEST_INTEQ(n, 0);

	n = 99;
	TEST_INTEQ(
	    sla_hours_parse(SLA_MON, "9:00-12:00", h, 4, &n, err, sizeof(err)),
	    -EINVAL);
	TEST_STREQ(err, "mon: bad hours '9:00-12:00' (want HH:MM-HH:MM[,...])");
	TEST_INTEQ(sla_hours_parse(SLA_MON, "17:00-09:00", h, 4, &n, NULL, 0),
	           -EINVAL);
	TEST_INTEQ(sla_hours_parse(SLA_MON, "09:00-24:01", h, 4, &n, NULL, 0),
	           -EINVAL);
	TEST_INTEQ(sla_hours_parse(SLA_MON, "09:60-10:00", h, 4, &n, NULL, 0),
	           -EINVAL);
	TEST_INTEQ(sla_hours_parse(SLA_MON, "09:00-12:00;13:00-14:00", h, 4, &n,
	                           NULL, 0),
	           -EINVAL);
	TEST_INTEQ(sla_hours_parse(SLA_MON, "09:00-12:00,13:00-14:00", h, 1, &n,
	                           NULL, 0),
	           -EINVAL);
	TEST_INTEQ(sla_hours_parse(8, "09:00-12:00", h, 4, &n, NULL, 0),
	           -EINVAL);
	TEST_INTEQ(n, 99); /* _r untouched on failure */

	TEST_INTEQ(sla_weekday_parse("Mon"), SLA_MON);
	TEST_INTEQ(sla_weekday_parse("SUNDAY"), SLA_SUN);
	TEST_INTEQ(sla_weekday_parse("mo"), -EINVAL);
	TEST_INTEQ(sla_weekday_parse(NULL), -EINVAL);
}

/* ---- business-time arithmetic ---------------------------------------- */

static void
test_within_day(void)
{
	struct sla_calendar *eu = office("Europe/Berlin", NULL, 0);

	/* Wed 2025-01-15 10:00 -> 11:30 CET */
	TEST_INTEQ(sla_business_minutes(eu, 1736931600, 1736937000), 90);
	/* Wed 08:00 -> 10:00: the hour before opening does not count */
	TEST_INTEQ(sla_business_minutes(eu, 1736924400, 1736931600), 60);
	/* Wed 16:30 -> 18:00: only until 17:00 */
	TEST_INTEQ(sla_business_minutes(eu, 1736955000, 1736960400), 30);
	TEST_INTEQ(sla_business_seconds(eu, 1736955000, 1736955000), 0);
	TEST_INTEQ(sla_business_seconds(eu, 1736960400, 1736955000), 0);

	/* Wed 10:00 + 90 min = Wed 11:30 */
	TEST_INTEQ(sla_add_business(eu, 1736931600, 90), 1736937000);
	/* Wed 16:00 + 60 min = Wed 17:00 (the close, not Thu 09:00) */
	TEST_INTEQ(sla_add_business(eu, 1736953200, 60), 1736956800);
	/* Wed 16:00 + 61 min = Thu 2025-01-16 09:01 */
	TEST_INTEQ(sla_add_business(eu, 1736953200, 61), 1737014460);
	/* Wed 08:00 + 60 min = Wed 10:00 (starts at opening) */
	TEST_INTEQ(sla_add_business(eu, 1736924400, 60), 1736931600);
	TEST_INTEQ(sla_add_business(eu, 1736924400, 0), 1736924400);

	TEST_CHECK(sla_is_business_time(eu, 1736931600));  /* Wed 10:00 */
	TEST_CHECK(!sla_is_business_time(eu, 1736924400)); /* Wed 08:00 */
	TEST_CHECK(!sla_is_business_time(eu, 1736956800)); /* Wed 17:00 */
	TEST_CHECK(sla_is_business_time(eu, 1736956799));  /* 16:59:59 */
	sla_calendar_free(&eu);
}

static void
test_weekend(void)
{
	struct sla_calendar *eu = office("Europe/Berlin", NULL, 0);

	/* Fri 2025-01-17 16:00 -> Mon 2025-01-20 10:00 CET: 60 + 60 */
	TEST_INTEQ(sla_business_minutes(eu, 1737126000, 1737363600), 120);
	TEST_INTEQ(sla_add_business(eu, 1737126000, 120), 1737363600);
	/* Sat 2025-01-18 12:00 + 30 min = Mon 2025-01-20 09:30 */
	TEST_INTEQ(sla_add_business(eu, 1737198000, 30), 1737361800);
	TEST_INTEQ(sla_business_seconds(eu, 1737198000, 1737361800), 1800);
	sla_calendar_free(&eu);
}

static void
test_holiday(void)
{
	/* Easter 2025: Good Friday 04-18, Easter Monday 04-21 */
	const char *hol[] = {"2025-04-21", "2025-04-18"};
	struct sla_calendar *eu = office("Europe/Berlin", hol, 2);

	/* Thu 2025-04-17 16:00 -> Tue 2025-04-22 10:00 CEST: 60 + 60 */
	TEST_INTEQ(sla_business_minutes(eu, 1744898400, 1745308800), 120);
	TEST_INTEQ(sla_add_business(eu, 1744898400, 120), 1745308800);
	/* Fri 2025-04-18 10:00 CEST is a holiday */
	TEST_CHECK(!sla_is_business_time(eu, 1744963200));
	sla_calendar_free(&eu);
}

static void
test_dst_berlin(void)
{
	struct sla_hours wk[2] = {{SLA_SAT, 8 * 60, 16 * 60},
	                          {SLA_SUN, 8 * 60, 16 * 60}};
	struct sla_hours night = {SLA_SUN, 1 * 60, 5 * 60};
	struct sla_calendar *c24 = always("Europe/Berlin");
	struct sla_calendar *we = mkcal("Europe/Berlin", wk, 2, NULL, 0);
	struct sla_calendar *ni = mkcal("Europe/Berlin", &night, 1, NULL, 0);

	/* Spring, Sun 2025-03-30 02:00 CET -> 03:00 CEST. */
	/* Sat 03-29 12:00 CET -> Mon 03-31 12:00 CEST: 47 real hours */
	TEST_INTEQ(sla_business_minutes(c24, 1743246000, 1743415200), 2820);
	TEST_INTEQ(sla_add_business(c24, 1743246000, 2820), 1743415200);
	/* Sat 12:00-16:00 CET (240) + Sun 08:00-09:00 CEST (60) */
	TEST_INTEQ(sla_business_minutes(we, 1743246000, 1743318000), 300);
	/* Sat 15:00 CET + 120 min = Sun 2025-03-30 09:00 CEST */
	TEST_INTEQ(sla_add_business(we, 1743256800, 120), 1743318000);
	/* Sun 01:00 CET (00:00Z) -> 05:00 CEST (03:00Z): 3 real hours */
	TEST_INTEQ(sla_business_minutes(ni, 1743246000, 1743372000), 180);

	/* Autumn, Sun 2025-10-26 03:00 CEST -> 02:00 CET. */
	/* Sat 10-25 12:00 CEST -> Mon 10-27 12:00 CET: 49 real hours */
	TEST_INTEQ(sla_business_minutes(c24, 1761386400, 1761562800), 2940);
	TEST_INTEQ(sla_add_business(c24, 1761386400, 2940), 1761562800);
	/* Sat 12:00-16:00 CEST (240) + Sun 08:00-09:00 CET (60) */
	TEST_INTEQ(sla_business_minutes(we, 1761386400, 1761465600), 300);
	/* Sat 15:00 CEST + 120 min = Sun 2025-10-26 09:00 CET */
	TEST_INTEQ(sla_add_business(we, 1761397200, 120), 1761465600);
	/* Sun 01:00 CEST (23:00Z) -> 05:00 CET (04:00Z): 5 real hours */
	TEST_INTEQ(sla_business_minutes(ni, 1761386400, 1761519600), 300);

	sla_calendar_free(&c24);
	sla_calendar_free(&we);
	sla_calendar_free(&ni);
}

static void
test_dst_new_york(void)
{
	struct sla_hours night = {SLA_SUN, 30, 4 * 60};
	struct sla_calendar *us = office("America/New_York", NULL, 0);
	struct sla_calendar *c24 = always("America/New_York");
	struct sla_calendar *ni = mkcal("America/New_York", &night, 1, NULL, 0);

	/* Spring, Sun 2025-03-09 02:00 EST -> 03:00 EDT. */
	/* Fri 03-07 16:00 EST -> Mon 03-10 10:00 EDT: 60 + 60 */
	TEST_INTEQ(sla_business_minutes(us, 1741381200, 1741615200), 120);
	TEST_INTEQ(sla_add_business(us, 1741381200, 120), 1741615200);
	/* Sat 03-08 12:00 EST -> Sun 03-09 12:00 EDT: 23 real hours */
	TEST_INTEQ(sla_business_minutes(c24, 1741453200, 1741536000), 1380);
	/* Sun 00:30 EST (05:30Z) -> 04:00 EDT (08:00Z): 2.5 real hours */
	TEST_INTEQ(sla_business_minutes(ni, 1741496400, 1741579200), 150);

	/* Autumn, Sun 2025-11-02 02:00 EDT -> 01:00 EST. */
	/* Fri 10-31 16:00 EDT -> Mon 11-03 10:00 EST: 60 + 60 */
	TEST_INTEQ(sla_business_minutes(us, 1761940800, 1762182000), 120);
	TEST_INTEQ(sla_add_business(us, 1761940800, 120), 1762182000);
	/* Sat 11-01 12:00 EDT -> Sun 11-02 12:00 EST: 25 real hours */
	TEST_INTEQ(sla_business_minutes(c24, 1762012800, 1762102800), 1500);
	TEST_INTEQ(sla_add_business(c24, 1762012800, 1500), 1762102800);
	/* Sun 00:30 EDT (04:30Z) -> 04:00 EST (09:00Z): 4.5 real hours */
	TEST_INTEQ(sla_business_minutes(ni, 1762056000, 1762146000), 270);

	sla_calendar_free(&us);
	sla_calendar_free(&c24);
	sla_calendar_free(&ni);
}

/* Zones whose clocks change at local midnight, and the overlap rule. */
static void
test_dst_midnight(void)
{
	struct sla_hours night = {SLA_SUN, 90, 3 * 60};
	struct sla_calendar *hav = always("America/Havana");
	struct sla_calendar *ni = mkcal("America/New_York", &night, 1, NULL, 0);

	/* Havana, Sun 2025-11-02 01:00 CDT -> 00:00 CST: midnight happens
	 * twice.  From the first 00:30 (CDT, 04:30Z) to the second 00:30
	 * (CST, 05:30Z) is one real hour, all of it business on 24x7. */
	TEST_INTEQ(sla_business_seconds(hav, 1762057800, 1762061400), 3600);
	TEST_INTEQ(sla_add_business(hav, 1762057800, 60), 1762061400);
	/* Havana, Sun 2025-03-09 00:00 CST -> 01:00 CDT: midnight does not
	 * exist.  Sat 03-08 12:00 CST (17:00Z) -> Sun 12:00 CDT (16:00Z). */
	TEST_INTEQ(sla_business_minutes(hav, 1741453200, 1741536000), 1380);

	/* New York Sun 01:30-03:00 on 2025-11-02: 01:30 happens twice;
	 * the documented rule takes the later one, 01:30 EST (06:30Z), to
	 * 03:00 EST (08:00Z): 90 min.  Sun 00:00 EDT -> Mon 00:00 EST. */
	TEST_INTEQ(sla_business_minutes(ni, 1762056000, 1762146000), 90);
	sla_calendar_free(&hav);
	sla_calendar_free(&ni);
}

static void
test_split_day(void)
{
	struct sla_hours h[10];
	struct sla_calendar *eu;

	for (int d = SLA_MON; d <= SLA_FRI; d++) {
		h[2 * d] = (struct sla_hours){d, 9 * 60, 12 * 60};
		h[2 * d + 1] = (struct sla_hours){d, 13 * 60, 17 * 60};
	}
	eu = mkcal("Europe/Berlin", h, 10, NULL, 0);
	/* Wed 2025-01-15 11:30 + 60 = 13:30 (lunch 12-13 skipped) */
	TEST_INTEQ(sla_add_business(eu, 1736937000, 60), 1736944200);
	/* Wed 11:30 + 30 = 12:00 (the lunch break's start) */
	TEST_INTEQ(sla_add_business(eu, 1736937000, 30), 1736938800);
	/* Wed 12:30 (lunch) + 30 = 13:30 */
	TEST_INTEQ(sla_add_business(eu, 1736940600, 30), 1736944200);
	/* Wed 11:00 -> 14:00 = 60 + 60 */
	TEST_INTEQ(sla_business_minutes(eu, 1736935200, 1736946000), 120);
	/* Wed 10:00 -> Thu 09:01: 2h + 4h + 1 min */
	TEST_INTEQ(sla_business_minutes(eu, 1736931600, 1737014460), 361);
	TEST_CHECK(!sla_is_business_time(eu, 1736940600)); /* 12:30 */
	sla_calendar_free(&eu);
}

static void
test_24x7(void)
{
	struct sla_calendar *utc = always("UTC");

	/* 2023-11-14 22:13:20Z + 1 day */
	TEST_INTEQ(sla_add_business(utc, 1700000000, 1440), 1700086400);
	TEST_INTEQ(sla_business_seconds(utc, 1700000000, 1700086400), 86400);
	TEST_INTEQ(sla_business_seconds(utc, 1700000000, 1700000007), 7);
	TEST_CHECK(sla_is_business_time(utc, 1700000000));
	sla_calendar_free(&utc);
}

/* add and minutes-between are inverses: for every start and length, the
 * due time has exactly that much business time before it, and one
 * second earlier it has one second less (it is the earliest such t). */
static void
test_add_inverse(void)
{
	struct sla_calendar *cals[4];
	const gint64 starts[] = {
	    1736924400, /* Wed 2025-01-15 08:00 CET */
	    1737126000, /* Fri 2025-01-17 16:00 CET */
	    1743246000, /* Sat 2025-03-29 12:00 CET, DST next night */
	    1761386400, /* Sat 2025-10-25 12:00 CEST, DST next night */
	    1741381200, /* Fri 2025-03-07 16:00 EST (21:00Z) */
	    1761940800, /* Fri 2025-10-31 16:00 EDT (20:00Z) */
	};
	const gint64 mins[] = {1, 59, 61, 479, 480, 481, 1500, 2881, 14400};
	int bad = 0;

	cals[0] = office("Europe/Berlin", NULL, 0);
	cals[1] = office("America/New_York", NULL, 0);
	cals[2] = always("Europe/Berlin");
	cals[3] = always("America/New_York");
	for (size_t c = 0; c < ARRAY_SIZE(cals); c++)
		for (size_t s = 0; s < ARRAY_SIZE(starts); s++)
			for (size_t m = 0; m < ARRAY_SIZE(mins); m++) {
				gint64 due = sla_add_business(
				    cals[c], starts[s], mins[m]);

				if (sla_business_seconds(cals[c], starts[s],
				                         due) != mins[m] * 60 ||
				    sla_business_seconds(cals[c], starts[s],
				                         due - 1) !=
				        mins[m] * 60 - 1)
					bad++;
			}
	TEST_INTEQ(bad, 0);
	for (size_t c = 0; c < ARRAY_SIZE(cals); c++)
		sla_calendar_free(&cals[c]);
}

/* walked - business seconds of [a, b) in 12-hour steps: no step spans a
 * whole local day, so none is served from the memo of whole days. */
static gint64
walked(const struct sla_calendar *cal, gint64 a, gint64 b)
{
	gint64 total = 0;

	for (gint64 t = a; t < b; t += 12 * HOUR)
		total += sla_business_seconds(cal, t, MIN(t + 12 * HOUR, b));
	return total;
}

/* The memo of whole days (a year's report asks for the same days for
 * every open ticket) gives exactly the day walk's answer: spans of up to
 * two years across DST changes, holidays and a split day, asked in an
 * order that makes the memo grow on both sides and start over. */
static void
test_memo(void)
{
	const char *const hol[] = {"2025-12-24", "2025-12-25", "2026-01-01",
	                           "2026-03-29"};
	struct sla_hours split[10];
	struct sla_calendar *cals[5];
	GRand *rnd = g_rand_new_with_seed(21);
	const gint64 t0 = 1735689600; /* 2025-01-01T00:00Z */
	int bad = 0, n = 0;

	for (int d = SLA_MON; d <= SLA_FRI; d++) {
		split[2 * d] = (struct sla_hours){d, 8 * 60, 12 * 60};
		split[2 * d + 1] = (struct sla_hours){d, 13 * 60, 24 * 60};
	}
	cals[0] = office("Europe/Berlin", hol, ARRAY_SIZE(hol));
	cals[1] = office("America/New_York", NULL, 0);
	cals[2] = always("Europe/Berlin");
	cals[3] = mkcal("Europe/Berlin", split, ARRAY_SIZE(split), NULL, 0);
	cals[4] = always("Australia/Lord_Howe"); /* 30-minute DST */
	for (size_t c = 0; c < ARRAY_SIZE(cals); c++) {
		for (int i = 0; i < 30; i++) {
			/* the second half: far from the first, a new memo */
			gint64 base = i < 20 ? t0 : t0 + 45 * 366 * 86400LL;
			gint64 a = base +
			           g_rand_int_range(rnd, 0, 730) * 86400LL +
			           g_rand_int_range(rnd, 0, 86400);
			gint64 b = a + g_rand_int_range(rnd, 0, 730) * 86400LL +
			           g_rand_int_range(rnd, 0, 86400);

			n++;
			if (sla_business_seconds(cals[c], a, b) !=
			    walked(cals[c], a, b))
				bad++;
		}
	}
	TEST_INTEQ(n, 150);
	TEST_INTEQ(bad, 0);
	/* a whole non-DST week of office hours, served from the memo */
	TEST_INTEQ(sla_business_seconds(cals[0], 1736121600, 1736726400),
	           5 * 8 * HOUR); /* Mon 2025-01-06 01:00 CET, a week */
	g_rand_free(rnd);
	for (size_t c = 0; c < ARRAY_SIZE(cals); c++)
		sla_calendar_free(&cals[c]);
}

static void
test_efficiency(void)
{
	struct sla_calendar *eu = office("Europe/Berlin", NULL, 0);
	gint64 t0, due = 0;

	/* Mon 2025-01-06 09:00 + 30 business days (6 weeks of 5 x 8h) =
	 * Fri 2025-02-14 17:00 CET */
	TEST_INTEQ(sla_add_business(eu, 1736150400, 30 * 480), 1739548800);
	TEST_INTEQ(sla_business_minutes(eu, 1736150400, 1739548800), 14400);

	/* The loop walks days: 1000 such due times take well under a
	 * second even under ASan; a minute-stepping loop (43,200 zone
	 * lookups each) would take tens of seconds. */
	t0 = g_get_monotonic_time();
	for (int i = 0; i < 1000; i++)
		due += sla_add_business(eu, 1736150400 + i, 30 * 480);
	TEST_CHECK(g_get_monotonic_time() - t0 < 2 * G_USEC_PER_SEC);
	TEST_CHECK(due > 0);
	sla_calendar_free(&eu);
}

/* ---- ticket clocks --------------------------------------------------- */

static const struct sla_policy pol = {
    .queue = "support",
    .priority = SLA_ANY_PRIORITY,
    .first_response_min = 60,
    .next_response_min = 120,
    .resolution_min = 480,
    .warn_pct = 80,
};

static void
eval(const struct sla_calendar *cal, const struct sla_ticket *t, gint64 now,
     struct sla_result *ev)
{
	TEST_INTEQ(sla_evaluate(&pol, cal, t, now, ev), 0);
}

static void
test_clocks_pause(void)
{
	struct sla_calendar *eu = office("Europe/Berlin", NULL, 0);
	struct sla_ticket t;
	struct sla_result ev;
	const struct sla_clock *fr = &ev.clock[SLA_FIRST_RESPONSE];
	const struct sla_clock *nr = &ev.clock[SLA_NEXT_RESPONSE];
	const struct sla_clock *rs = &ev.clock[SLA_RESOLUTION];

	/* Created Mon 2025-01-13 09:00 CET. */
	sla_ticket_init(&t, 1736755200, 2);
	eval(eu, &t, 1736755200, &ev);
	TEST_INTEQ(fr->state, SLA_CLOCK_RUNNING);
	TEST_INTEQ(fr->due, 1736758800);     /* Mon 10:00 */
	TEST_INTEQ(fr->warn_at, 1736758080); /* Mon 09:48 (80% of 60) */
	TEST_INTEQ(nr->state, SLA_CLOCK_OFF);
	TEST_INTEQ(rs->due, 1736784000);     /* Mon 17:00 */
	TEST_INTEQ(rs->warn_at, 1736778240); /* Mon 15:24 (80% of 480) */
	TEST_INTEQ(ev.next_change, 1736758080);

	/* Mon 09:30 pending (waiting on the customer), no reply. */
	TEST_INTEQ(sla_on_status_change(&t, eu, SLA_PENDING, 1736757000), 0);
	TEST_INTEQ(t.resolution_run_secs, 1800);
	TEST_INTEQ(t.response_run_secs, 1800);
	/* Mon 12:00: frozen, nothing will change by itself. */
	eval(eu, &t, 1736766000, &ev);
	TEST_INTEQ(fr->state, SLA_CLOCK_PAUSED);
	TEST_INTEQ(fr->elapsed_secs, 1800);
	TEST_INTEQ(fr->due, SLA_NEVER);
	TEST_CHECK(!fr->breached);
	TEST_INTEQ(rs->state, SLA_CLOCK_PAUSED);
	TEST_INTEQ(rs->elapsed_secs, 1800);
	TEST_INTEQ(ev.next_change, SLA_NEVER);

	/* Mon 14:00 open again: 30 min used, 4.5 h of pause don't count. */
	TEST_INTEQ(sla_on_status_change(&t, eu, SLA_OPEN, 1736773200), 0);
	eval(eu, &t, 1736773200, &ev);
	TEST_INTEQ(fr->due, 1736775000);     /* Mon 14:30 */
	TEST_INTEQ(fr->warn_at, 1736774280); /* Mon 14:18 */
	TEST_INTEQ(rs->due, 1736857800);     /* Tue 13:30: 180 + 270 min */
	TEST_INTEQ(rs->warn_at, 1736852040); /* Tue 11:54: 180 + 174 min */
	TEST_INTEQ(ev.next_change, 1736774280);
	/* One second before due vs at due. */
	eval(eu, &t, 1736774999, &ev); /* Mon 14:29:59 */
	TEST_CHECK(!fr->breached && fr->warning);
	TEST_INTEQ(ev.next_change, 1736775000);
	eval(eu, &t, 1736775000, &ev); /* Mon 14:30 */
	TEST_CHECK(fr->breached);
	TEST_INTEQ(fr->due, 1736775000);
	TEST_INTEQ(ev.next_change, 1736852040);

	/* Mon 14:20 first reply: 30 + 20 business minutes. */
	TEST_INTEQ(sla_on_agent_reply(&t, eu, 1736774400), 0);
	TEST_INTEQ(t.first_response_at, 1736774400);
	TEST_INTEQ(t.first_response_secs, 3000);
	eval(eu, &t, 1736774400, &ev);
	TEST_INTEQ(fr->state, SLA_CLOCK_DONE);
	TEST_CHECK(!fr->breached && fr->warning);
	TEST_INTEQ(nr->state, SLA_CLOCK_OFF);

	/* Mon 16:00 customer writes: next response 120 min. */
	TEST_INTEQ(sla_on_customer_message(&t, 1736780400), 0);
	eval(eu, &t, 1736780400, &ev);
	TEST_INTEQ(nr->state, SLA_CLOCK_RUNNING);
	TEST_INTEQ(nr->start, 1736780400);
	TEST_INTEQ(nr->due, 1736845200);     /* Tue 10:00: 60 + 60 */
	TEST_INTEQ(nr->warn_at, 1736843760); /* Tue 09:36: 60 + 36 */
	/* Mon 16:30 "any news?" does not push the deadline back. */
	TEST_INTEQ(sla_on_customer_message(&t, 1736782200), 0);
	TEST_INTEQ(t.last_customer_at, 1736782200);
	eval(eu, &t, 1736782200, &ev);
	TEST_INTEQ(nr->due, 1736845200);

	/* Tue 09:30 pending, Tue 10:30 open: NR ran 60 + 30 min, RES ran
	 * 30 + 180 + 30 min. */
	TEST_INTEQ(sla_on_status_change(&t, eu, SLA_PENDING, 1736843400), 0);
	TEST_INTEQ(t.response_run_secs, 5400);
	TEST_INTEQ(t.resolution_run_secs, 14400);
	TEST_INTEQ(sla_on_status_change(&t, eu, SLA_OPEN, 1736847000), 0);
	eval(eu, &t, 1736847000, &ev);
	TEST_INTEQ(nr->due, 1736848800);     /* Tue 11:00 */
	TEST_INTEQ(nr->warn_at, 1736847360); /* Tue 10:36 */
	TEST_INTEQ(rs->due, 1736861400);     /* Tue 14:30 */
	TEST_INTEQ(rs->warn_at, 1736855640); /* Tue 12:54 */
	TEST_INTEQ(ev.next_change, 1736847360);

	/* Tue 11:00 resolved: clocks stop, the response clock ends. */
	TEST_INTEQ(sla_on_status_change(&t, eu, SLA_RESOLVED, 1736848800), 0);
	TEST_INTEQ(t.resolved_at, 1736848800);
	eval(eu, &t, 1736861400, &ev); /* Tue 14:30 */
	TEST_INTEQ(rs->state, SLA_CLOCK_DONE);
	TEST_INTEQ(rs->elapsed_secs, 16200);
	TEST_CHECK(!rs->breached && !rs->warning);
	TEST_INTEQ(nr->state, SLA_CLOCK_OFF);
	TEST_INTEQ(ev.next_change, SLA_NEVER);

	/* Tue 13:00 reopened: 210 min of resolution left -> Tue 16:30. */
	TEST_INTEQ(sla_on_status_change(&t, eu, SLA_OPEN, 1736856000), 0);
	TEST_INTEQ(t.resolved_at, 0);
	eval(eu, &t, 1736856000, &ev);
	TEST_INTEQ(rs->due, 1736868600);
	sla_calendar_free(&eu);
}

static void
test_ticket_invalid(void)
{
	struct sla_calendar *eu = office("Europe/Berlin", NULL, 0);
	struct sla_ticket t, copy;
	struct sla_result ev, ev0;

	sla_ticket_init(&t, 1736755200, 2);
	copy = t;
	TEST_INTEQ(sla_on_status_change(&t, eu, 9, 1736757000), -EINVAL);
	TEST_CHECK(memcmp(&t, &copy, sizeof(t)) == 0);
	TEST_INTEQ(sla_on_status_change(&t, eu, SLA_OPEN, 1736757000), 0);
	TEST_INTEQ(sla_on_status_change(&t, eu, SLA_OPEN, 1736758000), 0);
	TEST_INTEQ(t.run_since, 1736755200); /* same stretch still */

	/* A DB row saying pending but with a running stretch. */
	t.status = SLA_PENDING;
	memset(&ev0, 0x5a, sizeof(ev0));
	ev = ev0;
	TEST_INTEQ(sla_evaluate(&pol, eu, &t, 1736758000, &ev), -EINVAL);
	TEST_CHECK(memcmp(&ev, &ev0, sizeof(ev)) == 0);
	TEST_INTEQ(sla_on_agent_reply(&t, eu, 1736758000), -EINVAL);
	TEST_INTEQ(sla_on_customer_message(&t, 1736758000), -EINVAL);
	t.status = SLA_OPEN;
	t.created = 0;
	TEST_INTEQ(sla_evaluate(&pol, eu, &t, 1736758000, &ev), -EINVAL);
	sla_calendar_free(&eu);
}

/* ---- policies -------------------------------------------------------- */

static void
test_policy(void)
{
	const struct sla_policy tab[] = {
	    {NULL, SLA_ANY_PRIORITY, 480, 480, 4800, 80},
	    {"billing", SLA_ANY_PRIORITY, 240, 240, 2400, 80},
	    {NULL, 4, 30, 60, 480, 50},
	    {"billing", 4, 15, 30, 240, 50},
	};
	struct sla_policy p = tab[0];
	char err[128];

	TEST_INTEQ(sla_policy_find(tab, 4, "billing", 4)->first_response_min,
	           15);
	TEST_INTEQ(sla_policy_find(tab, 4, "billing", 2)->first_response_min,
	           240);
	TEST_INTEQ(sla_policy_find(tab, 4, "sales", 4)->first_response_min, 30);
	TEST_INTEQ(sla_policy_find(tab, 4, "sales", 1)->first_response_min,
	           480);
	TEST_INTEQ(sla_policy_find(tab, 4, NULL, 1)->first_response_min, 480);
	TEST_CHECK(sla_policy_find(tab + 1, 1, "sales", 1) == NULL);

	TEST_INTEQ(sla_policy_check(&p, err, sizeof(err)), 0);
	p.warn_pct = 100;
	TEST_INTEQ(sla_policy_check(&p, err, sizeof(err)), -EINVAL);
	p.warn_pct = 80;
	p.resolution_min = -1;
	TEST_INTEQ(sla_policy_check(&p, err, sizeof(err)), -EINVAL);
}

/* ---- escalation ------------------------------------------------------ */

static const char *const leads[] = {"lead@example.com", NULL};
static const char *const mgrs[] = {"manager@example.com", NULL};
static const char *const dirs[] = {"director@example.com", NULL};

static struct sla_chain
chain3(int immediate_priority)
{
	struct sla_chain c = {.queue = "support",
	                      .n_levels = 3,
	                      .immediate_priority = immediate_priority};

	c.level[0] = (struct sla_esc_level){0, leads};
	c.level[1] = (struct sla_esc_level){60, mgrs};
	c.level[2] = (struct sla_esc_level){240, dirs};
	return c;
}

/* esc - evaluate + escalation at now; stores the new state into *st. */
static struct sla_esc_result
esc(const struct sla_chain *c, const struct sla_calendar *cal,
    const struct sla_ticket *t, struct sla_esc_state *st, gint64 now)
{
	struct sla_result ev;
	struct sla_esc_result out;

	memset(&out, 0, sizeof(out));
	TEST_INTEQ(sla_evaluate(&pol, cal, t, now, &ev), 0);
	TEST_INTEQ(sla_escalation_due(c, cal, t, &ev, st, now, &out), 0);
	*st = out.state;
	return out;
}

static void
test_escalation_levels(void)
{
	struct sla_calendar *eu = office("Europe/Berlin", NULL, 0);
	struct sla_chain c = chain3(0);
	struct sla_esc_state st = {{0}, {0}};
	struct sla_esc_result r;
	struct sla_ticket t;

	sla_ticket_init(&t, 1736755200, 2); /* Mon 2025-01-13 09:00 CET */

	r = esc(&c, eu, &t, &st, 1736758799); /* Mon 09:59:59 */
	TEST_INTEQ(r.n_fire, 0);
	TEST_INTEQ(r.next_at, SLA_NEVER); /* no breach yet */

	r = esc(&c, eu, &t, &st, 1736758800); /* Mon 10:00, FR breached */
	TEST_INTEQ(r.n_fire, 1);
	TEST_INTEQ(r.fire[0].kind, SLA_ESC_RESPONSE);
	TEST_INTEQ(r.fire[0].level, 1);
	TEST_INTEQ(r.fire[0].breach_at, 1736758800);
	TEST_INTEQ(r.next_at, 1736762400); /* Mon 11:00 */
	TEST_INTEQ(st.start[SLA_ESC_RESPONSE], 1736755200);
	TEST_INTEQ(st.fired[SLA_ESC_RESPONSE], 1);

	/* The next cron run in the same minute: nothing again (RT's bug). */
	r = esc(&c, eu, &t, &st, 1736758800);
	TEST_INTEQ(r.n_fire, 0);
	TEST_INTEQ(r.next_at, 1736762400);

	r = esc(&c, eu, &t, &st, 1736762400); /* Mon 11:00 */
	TEST_INTEQ(r.n_fire, 1);
	TEST_INTEQ(r.fire[0].level, 2);
	TEST_INTEQ(r.next_at, 1736773200); /* Mon 14:00 = 10:00 + 240 */

	/* Daemon asleep until 16:00: level 3 fires once, late. */
	r = esc(&c, eu, &t, &st, 1736780400);
	TEST_INTEQ(r.n_fire, 1);
	TEST_INTEQ(r.fire[0].level, 3);
	TEST_INTEQ(st.fired[SLA_ESC_RESPONSE], 7);
	TEST_INTEQ(r.next_at, SLA_NEVER);
	r = esc(&c, eu, &t, &st, 1736780700); /* Mon 16:05 */
	TEST_INTEQ(r.n_fire, 0);

	/* Mon 17:00 the resolution target breaches too: its own chain. */
	r = esc(&c, eu, &t, &st, 1736784000);
	TEST_INTEQ(r.n_fire, 1);
	TEST_INTEQ(r.fire[0].kind, SLA_ESC_RESOLUTION);
	TEST_INTEQ(r.fire[0].level, 1);
	TEST_INTEQ(r.fire[0].breach_at, 1736784000);
	TEST_INTEQ(r.next_at, 1736845200); /* Tue 10:00: +60 business min */

	/* Several levels overdue at once fire together. */
	memset(&st, 0, sizeof(st));
	r = esc(&c, eu, &t, &st, 1736845200); /* Tue 10:00 */
	TEST_INTEQ(r.n_fire, 5);              /* response 1-3, resolution 1-2 */
	TEST_INTEQ(st.fired[SLA_ESC_RESPONSE], 7);
	TEST_INTEQ(st.fired[SLA_ESC_RESOLUTION], 3);
	TEST_INTEQ(r.next_at, 1736856000); /* Tue 13:00: 17:00 + 240 */
	sla_calendar_free(&eu);
}

static void
test_escalation_stops(void)
{
	struct sla_calendar *eu = office("Europe/Berlin", NULL, 0);
	struct sla_chain c = chain3(0);
	struct sla_esc_state st = {{0}, {0}};
	struct sla_esc_result r;
	struct sla_ticket t;

	/* Agent reply after the breach stops the chain. */
	sla_ticket_init(&t, 1736755200, 2);   /* Mon 09:00 */
	r = esc(&c, eu, &t, &st, 1736758800); /* 10:00: level 1 */
	TEST_INTEQ(r.n_fire, 1);
	TEST_INTEQ(sla_on_agent_reply(&t, eu, 1736760600), 0); /* 10:30 */
	r = esc(&c, eu, &t, &st, 1736762400); /* 11:00: no level 2 */
	TEST_INTEQ(r.n_fire, 0);
	TEST_INTEQ(r.next_at, SLA_NEVER);

	/* A new customer message is a new response breach: Mon 14:00 +
	 * 120 min = 16:00, level 1 again (fresh cycle). */
	TEST_INTEQ(sla_on_customer_message(&t, 1736773200), 0);
	r = esc(&c, eu, &t, &st, 1736780400);
	TEST_INTEQ(r.n_fire, 1);
	TEST_INTEQ(r.fire[0].kind, SLA_ESC_RESPONSE);
	TEST_INTEQ(r.fire[0].level, 1);
	TEST_INTEQ(r.fire[0].breach_at, 1736780400);
	TEST_INTEQ(st.start[SLA_ESC_RESPONSE], 1736773200);
	TEST_INTEQ(st.fired[SLA_ESC_RESPONSE], 1);

	/* A reply before the resolution breach does not stop that chain:
	 * Mon 17:00 resolution breach (the 10:30 reply came before). */
	TEST_INTEQ(sla_on_agent_reply(&t, eu, 1736782200), 0); /* 16:30 */
	r = esc(&c, eu, &t, &st, 1736784000);
	TEST_INTEQ(r.n_fire, 1);
	TEST_INTEQ(r.fire[0].kind, SLA_ESC_RESOLUTION);
	TEST_INTEQ(sla_on_agent_reply(&t, eu, 1736842500), 0); /* Tue 09:15 */
	r = esc(&c, eu, &t, &st, 1736845200); /* Tue 10:00: stopped */
	TEST_INTEQ(r.n_fire, 0);

	/* Pending after the breach stops it for good, even after reopen. */
	memset(&st, 0, sizeof(st));
	sla_ticket_init(&t, 1736755200, 2);
	r = esc(&c, eu, &t, &st, 1736758800); /* 10:00: level 1 */
	TEST_INTEQ(r.n_fire, 1);
	TEST_INTEQ(sla_on_status_change(&t, eu, SLA_PENDING, 1736759700), 0);
	r = esc(&c, eu, &t, &st, 1736762400); /* 11:00 while pending */
	TEST_INTEQ(r.n_fire, 0);
	TEST_INTEQ(sla_on_status_change(&t, eu, SLA_OPEN, 1736764200), 0);
	r = esc(&c, eu, &t, &st, 1736780400); /* 16:00: level 2 was 11:00 */
	TEST_INTEQ(r.n_fire, 0);
	TEST_INTEQ(r.next_at, SLA_NEVER);
	/* The resolution clock ran 75 min before the pause; 405 more from
	 * 11:30 is Tue 10:15 - a breach in this stretch, so it escalates. */
	r = esc(&c, eu, &t, &st, 1736846100); /* Tue 10:15 */
	TEST_INTEQ(r.n_fire, 1);
	TEST_INTEQ(r.fire[0].kind, SLA_ESC_RESOLUTION);
	TEST_INTEQ(r.fire[0].breach_at, 1736846100);

	/* Resolve stops everything. */
	memset(&st, 0, sizeof(st));
	sla_ticket_init(&t, 1736755200, 2);
	r = esc(&c, eu, &t, &st, 1736758800); /* 10:00: level 1 */
	TEST_INTEQ(r.n_fire, 1);
	TEST_INTEQ(sla_on_status_change(&t, eu, SLA_RESOLVED, 1736760600), 0);
	r = esc(&c, eu, &t, &st, 1736784000); /* 17:00 */
	TEST_INTEQ(r.n_fire, 0);
	TEST_INTEQ(r.next_at, SLA_NEVER);
	sla_calendar_free(&eu);
}

/*
 * Escalation levels count business time too: a breach before a long
 * weekend with holidays (Berlin, Easter 2025), and a ticket paused over
 * the weekend of New York's spring DST change.
 */
static void
test_escalation_business_time(void)
{
	const char *hol[] = {"2025-04-18", "2025-04-21"};
	struct sla_calendar *eu = office("Europe/Berlin", hol, 2);
	struct sla_calendar *us = office("America/New_York", NULL, 0);
	struct sla_chain c = chain3(0);
	struct sla_esc_state st = {{0}, {0}};
	struct sla_esc_result r;
	struct sla_ticket t;

	/* Thu 2025-04-17 16:30 CEST: 30 business minutes left that day;
	 * Good Friday, the weekend and Easter Monday do not count. */
	sla_ticket_init(&t, 1744900200, 2);
	r = esc(&c, eu, &t, &st, 1744970400); /* Fri 04-18 12:00 */
	TEST_INTEQ(r.n_fire, 0);
	r = esc(&c, eu, &t, &st, 1745229600); /* Mon 04-21 12:00 */
	TEST_INTEQ(r.n_fire, 0);
	r = esc(&c, eu, &t, &st, 1745306999); /* Tue 04-22 09:29:59 */
	TEST_INTEQ(r.n_fire, 0);
	r = esc(&c, eu, &t, &st, 1745307000); /* Tue 09:30: breach */
	TEST_INTEQ(r.n_fire, 1);
	TEST_INTEQ(r.fire[0].level, 1);
	TEST_INTEQ(r.fire[0].breach_at, 1745307000);
	TEST_INTEQ(r.next_at, 1745310600); /* Tue 10:30 */
	r = esc(&c, eu, &t, &st, 1745310600);
	TEST_INTEQ(r.n_fire, 1);
	TEST_INTEQ(r.fire[0].level, 2);
	TEST_INTEQ(r.next_at, 1745321400); /* Tue 13:30 */

	/* Fri 2025-03-07 16:00 EST created, 16:15 pending (15 min used),
	 * Mon 03-10 11:00 EDT open again: 45 min left -> breach 11:45 EDT,
	 * the weekend's lost hour changes nothing. */
	memset(&st, 0, sizeof(st));
	sla_ticket_init(&t, 1741381200, 2);
	TEST_INTEQ(sla_on_status_change(&t, us, SLA_PENDING, 1741382100), 0);
	r = esc(&c, us, &t, &st, 1741536000); /* Sun 03-09 12:00 EDT */
	TEST_INTEQ(r.n_fire, 0);
	TEST_INTEQ(r.next_at, SLA_NEVER);
	TEST_INTEQ(sla_on_status_change(&t, us, SLA_OPEN, 1741618800), 0);
	r = esc(&c, us, &t, &st, 1741618800); /* Mon 11:00 EDT */
	TEST_INTEQ(r.n_fire, 0);
	r = esc(&c, us, &t, &st, 1741621500); /* Mon 11:45 EDT */
	TEST_INTEQ(r.n_fire, 1);
	TEST_INTEQ(r.fire[0].breach_at, 1741621500);
	TEST_INTEQ(r.next_at, 1741625100); /* 12:45 EDT */
	/* each level once: the same instant again fires nothing */
	r = esc(&c, us, &t, &st, 1741621500);
	TEST_INTEQ(r.n_fire, 0);
	r = esc(&c, us, &t, &st, 1741625100);
	TEST_INTEQ(r.n_fire, 1);
	TEST_INTEQ(r.fire[0].level, 2);
	TEST_INTEQ(r.next_at, 1741635900); /* 15:45 EDT: + 240 */
	/* the reply stops the chain: no level 3 */
	TEST_INTEQ(sla_on_agent_reply(&t, us, 1741626000), 0);
	r = esc(&c, us, &t, &st, 1741639500); /* 16:45 EDT */
	TEST_INTEQ(r.n_fire, 0);
	sla_calendar_free(&eu);
	sla_calendar_free(&us);
}

static void
test_escalation_immediate(void)
{
	struct sla_calendar *eu = office("Europe/Berlin", NULL, 0);
	struct sla_chain c = chain3(4);
	struct sla_esc_state st = {{0}, {0}};
	struct sla_esc_result r;
	struct sla_ticket t;

	/* Urgent (4 >= 4): level 1 at creation, Mon 09:00. */
	sla_ticket_init(&t, 1736755200, 4);
	r = esc(&c, eu, &t, &st, 1736755200);
	TEST_INTEQ(r.n_fire, 1);
	TEST_INTEQ(r.fire[0].kind, SLA_ESC_IMMEDIATE);
	TEST_INTEQ(r.fire[0].level, 1);
	TEST_INTEQ(r.fire[0].breach_at, 1736755200);
	TEST_INTEQ(st.fired[SLA_ESC_IMMEDIATE], 1);
	r = esc(&c, eu, &t, &st, 1736757000); /* 09:30: once only */
	TEST_INTEQ(r.n_fire, 0);
	/* The real breach at 10:00 is a separate event. */
	r = esc(&c, eu, &t, &st, 1736758800);
	TEST_INTEQ(r.n_fire, 1);
	TEST_INTEQ(r.fire[0].kind, SLA_ESC_RESPONSE);

	/* Urgent but set pending before the daemon looks: nothing while
	 * pending, level 1 once it is open again and still unanswered. */
	memset(&st, 0, sizeof(st));
	sla_ticket_init(&t, 1736755200, 4);
	TEST_INTEQ(sla_on_status_change(&t, eu, SLA_PENDING, 1736755500), 0);
	r = esc(&c, eu, &t, &st, 1736757000); /* 09:30 */
	TEST_INTEQ(r.n_fire, 0);
	TEST_INTEQ(st.fired[SLA_ESC_IMMEDIATE], 0);
	TEST_INTEQ(sla_on_status_change(&t, eu, SLA_OPEN, 1736758800), 0);
	r = esc(&c, eu, &t, &st, 1736758800); /* 10:00 */
	TEST_INTEQ(r.n_fire, 1);
	TEST_INTEQ(r.fire[0].kind, SLA_ESC_IMMEDIATE);

	/* Priority 3: no immediate escalation. */
	memset(&st, 0, sizeof(st));
	sla_ticket_init(&t, 1736755200, 3);
	r = esc(&c, eu, &t, &st, 1736755200);
	TEST_INTEQ(r.n_fire, 0);

	/* Urgent but already answered when the daemon looks. */
	sla_ticket_init(&t, 1736755200, 4);
	TEST_INTEQ(sla_on_agent_reply(&t, eu, 1736755800), 0); /* 09:10 */
	r = esc(&c, eu, &t, &st, 1736756100);                  /* 09:15 */
	TEST_INTEQ(r.n_fire, 0);
	sla_calendar_free(&eu);
}

static void
test_chain_check(void)
{
	struct sla_chain c = chain3(0);
	struct sla_esc_state st = {{0}, {0}};
	struct sla_esc_result out;
	struct sla_calendar *eu = office("Europe/Berlin", NULL, 0);
	struct sla_ticket t;
	struct sla_result ev;
	char err[128];

	TEST_INTEQ(sla_chain_check(&c, err, sizeof(err)), 0);
	c.level[2].after_min = 30; /* before level 2 */
	TEST_INTEQ(sla_chain_check(&c, err, sizeof(err)), -EINVAL);
	TEST_STREQ(err, "escalation level 3: fires before level 2");
	sla_ticket_init(&t, 1736755200, 2);
	TEST_INTEQ(sla_evaluate(&pol, eu, &t, 1736758800, &ev), 0);
	out.n_fire = 77;
	TEST_INTEQ(sla_escalation_due(&c, eu, &t, &ev, &st, 1736758800, &out),
	           -EINVAL);
	TEST_INTEQ(out.n_fire, 77);
	c = chain3(0);
	c.level[1].to = NULL;
	TEST_INTEQ(sla_chain_check(&c, err, sizeof(err)), -EINVAL);
	sla_calendar_free(&eu);
}

/* ---- digests --------------------------------------------------------- */

static void
test_digest(void)
{
	/* Times are UTC: 1736758800 = 2025-01-13 09:00:00Z. */
	struct sla_notice q[] = {
	    {"Boss@example.com", 101, 1736758800}, /* 09:00:00 */
	    {"mgr@example.com", 102, 1736758810},  /* 09:00:10 */
	    {"boss@example.com", 103, 1736758820}, /* 09:00:20 */
	    {"boss@EXAMPLE.com", 104, 1736758840}, /* 09:00:40 */
	};
	struct sla_digest_sent sent[] = {
	    {"boss@example.com", 1736758680}, /* 08:58:00 */
	    {"other@example.com", 1736758000},
	};
	struct sla_notice lone = {"new@example.com", 105, 1736758800};
	struct sla_digest_sent sent2[] = {
	    {"boss@example.com", 1736758680},
	    {"mgr@example.com", 1736758870}, /* 09:01:10 */
	};
	int g[4] = {9, 9, 9, 9};
	gint64 next = 0;

	/* 09:00:40, batch 10 min, hold 60 s: nobody yet. boss is due at
	 * max(09:00:00 + 60 s, 08:58 + 10 min) = 09:08:00, mgr at
	 * 09:00:10 + 60 s = 09:01:10. */
	TEST_INTEQ(
	    sla_digest_plan(q, 4, sent, 2, 600, 60, 1736758840, g, &next), 0);
	TEST_INTEQ(g[0], -1);
	TEST_INTEQ(g[1], -1);
	TEST_INTEQ(g[3], -1);
	TEST_INTEQ(next, 1736758870); /* 09:01:10 */

	/* 09:01:10: mgr's digest goes, boss waits for 09:08:00. */
	TEST_INTEQ(
	    sla_digest_plan(q, 4, sent, 2, 600, 60, 1736758870, g, &next), 1);
	TEST_INTEQ(g[0], -1);
	TEST_INTEQ(g[1], 0);
	TEST_INTEQ(g[2], -1);
	TEST_INTEQ(g[3], -1);
	TEST_INTEQ(next, 1736759280); /* 09:08:00 */

	/* 09:08:00: boss gets all three in one digest. */
	TEST_INTEQ(
	    sla_digest_plan(q, 4, sent2, 2, 600, 60, 1736759280, g, &next), 1);
	TEST_INTEQ(g[0], 0);
	TEST_INTEQ(g[2], 0);
	TEST_INTEQ(g[3], 0);
	TEST_INTEQ(g[1], -1); /* mgr: new window until 09:11:10 */
	TEST_INTEQ(next, 1736759470);

	/* No hold and no history: the first notice goes at once. */
	TEST_INTEQ(
	    sla_digest_plan(&lone, 1, NULL, 0, 600, 0, 1736758800, g, &next),
	    1);
	TEST_INTEQ(g[0], 0);
	TEST_INTEQ(next, SLA_NEVER);

	/* Bad input: outputs untouched. */
	g[0] = 9;
	next = 5;
	lone.to = NULL;
	TEST_INTEQ(
	    sla_digest_plan(&lone, 1, NULL, 0, 600, 0, 1736758800, g, &next),
	    -EINVAL);
	TEST_INTEQ(g[0], 9);
	TEST_INTEQ(next, 5);
}

int
main(void)
{
	static const struct test_case cases[] = {
	    {"calendar_validation", test_calendar_validation},
	    {"hours_parse", test_hours_parse},
	    {"within_day", test_within_day},
	    {"weekend", test_weekend},
	    {"holiday", test_holiday},
	    {"dst_berlin", test_dst_berlin},
	    {"dst_new_york", test_dst_new_york},
	    {"dst_midnight", test_dst_midnight},
	    {"split_day", test_split_day},
	    {"24x7", test_24x7},
	    {"add_inverse", test_add_inverse},
	    {"memo", test_memo},
	    {"efficiency", test_efficiency},
	    {"clocks_pause", test_clocks_pause},
	    {"ticket_invalid", test_ticket_invalid},
	    {"policy", test_policy},
	    {"escalation_levels", test_escalation_levels},
	    {"escalation_stops", test_escalation_stops},
	    {"escalation_business_time", test_escalation_business_time},
	    {"escalation_immediate", test_escalation_immediate},
	    {"chain_check", test_chain_check},
	    {"digest", test_digest},
	};

	return test_run("sla", cases, ARRAY_SIZE(cases));
}
