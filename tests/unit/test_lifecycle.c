/* Unit tests for lifecycle.c's business-day arithmetic: weekends and
 * holidays do not count, the wall-clock time is kept across DST. */
#include "lifecycle.h"

#include "sla.h"
#include "test.h"

static gint64
at(const char *iso)
{
	g_autoptr(GDateTime) d = g_date_time_new_from_iso8601(iso, NULL);
	return d ? g_date_time_to_unix(d) : -1;
}

static struct sla_calendar *
office(void)
{
	struct sla_hours h[5];
	const char *hol[] = {"2026-12-24", "2026-12-25"};
	struct sla_calendar *cal = NULL;

	for (int d = 0; d < 5; d++)
		h[d] = (struct sla_hours){d, 9 * 60, 17 * 60};
	if (sla_calendar_new("office", "Europe/Berlin", h, 5, hol, 2, &cal,
	                     NULL, 0) < 0)
		return NULL;
	return cal;
}

static void
test_business_days(void)
{
	struct sla_calendar *cal = office();

	TEST_CHECK(cal != NULL);
	if (cal == NULL)
		return;
	/* Monday + 2 = Wednesday, same time */
	TEST_CHECK(lifecycle_add_days(cal, at("2026-12-07T10:00:00+01:00"),
	                              2) == at("2026-12-09T10:00:00+01:00"));
	/* Friday + 1 = Monday; Thursday + 3 = Tuesday */
	TEST_CHECK(lifecycle_add_days(cal, at("2026-12-11T10:00:00+01:00"),
	                              1) == at("2026-12-14T10:00:00+01:00"));
	TEST_CHECK(lifecycle_add_days(cal, at("2026-12-10T10:00:00+01:00"),
	                              3) == at("2026-12-15T10:00:00+01:00"));
	/* Wednesday 23rd + 1: 24th and 25th are holidays -> Monday 28th */
	TEST_CHECK(lifecycle_add_days(cal, at("2026-12-23T10:00:00+01:00"),
	                              1) == at("2026-12-28T10:00:00+01:00"));
	/* a Saturday start counts from the next business day */
	TEST_CHECK(lifecycle_add_days(cal, at("2026-12-05T23:00:00+01:00"),
	                              1) == at("2026-12-07T23:00:00+01:00"));
	/* across the DST change the wall-clock time stays */
	TEST_CHECK(lifecycle_add_days(cal, at("2026-03-27T10:00:00+01:00"),
	                              1) == at("2026-03-30T10:00:00+02:00"));
	/* no calendar: plain days */
	TEST_CHECK(lifecycle_add_days(NULL, 1000, 2) == 1000 + 2 * 86400);
	TEST_CHECK(lifecycle_add_days(cal, at("2026-12-07T10:00:00+01:00"),
	                              0) == at("2026-12-07T10:00:00+01:00"));
	sla_calendar_free(&cal);
}

int
main(void)
{
	static const struct test_case cases[] = {
	    {"business days", test_business_days},
	};

	return test_run("lifecycle", cases, ARRAY_SIZE(cases));
}
