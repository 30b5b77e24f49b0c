/* Unit tests for assign.c's pure part: who serves a queue, and the day
 * "#away until DATE" ends in the report's time zone. */
#include "assign.h"

#include "test.h"

#include <string.h>

static void
test_candidates(void)
{
	char *billing[] = {"billing", NULL},
	     *both[] = {"support", "billing", NULL};
	struct cfg_person people[] = {
	    {.address = "alice@x", .role = CFG_ROLE_AGENT},
	    {.address = "boss@x", .role = CFG_ROLE_MANAGER},
	    {.address = "dave@x", .role = CFG_ROLE_AGENT, .queues = billing},
	    {.address = "bob@x", .role = CFG_ROLE_AGENT, .queues = both},
	    /* no queues: the queue named like the team */
	    {.address = "erin@x", .role = CFG_ROLE_AGENT, .team = "billing"},
	};
	g_autoptr(GPtrArray) pp = g_ptr_array_new();
	g_autoptr(GPtrArray) out = g_ptr_array_new();
	struct cfg c = {.people = pp};

	for (size_t i = 0; i < ARRAY_SIZE(people); i++)
		g_ptr_array_add(pp, &people[i]);
	assign_candidates(&c, "support", out);
	/* the order of people; no manager; dave serves billing only */
	TEST_INTEQ(out->len, 2);
	TEST_STREQ(out->pdata[0], "alice@x");
	TEST_STREQ(out->pdata[1], "bob@x");
	g_ptr_array_set_size(out, 0);
	assign_candidates(&c, "billing", out);
	TEST_INTEQ(out->len, 4);
	TEST_STREQ(out->pdata[1], "dave@x");
	TEST_STREQ(out->pdata[3], "erin@x");
	g_ptr_array_set_size(out, 0);
	assign_candidates(&c, "sales", out);
	TEST_INTEQ(out->len, 1);
}

static void
test_until(void)
{
	gint64 t = 0;

	TEST_INTEQ(assign_until("2026-12-24", "UTC", &t), 0);
	TEST_INTEQ(t, 1798070400); /* 2026-12-24T00:00:00Z */
	/* midnight in Berlin is 23:00 UTC the day before (CET) */
	TEST_INTEQ(assign_until("2026-12-24", "Europe/Berlin", &t), 0);
	TEST_INTEQ(t, 1798070400 - 3600);
	/* summer time: CEST */
	TEST_INTEQ(assign_until("2026-07-01", "Europe/Berlin", &t), 0);
	TEST_INTEQ(t, 1782864000 - 7200);
	/* an unknown zone is UTC, a date that does not exist is refused */
	TEST_INTEQ(assign_until("2026-12-24", "Nowhere/Atlantis", &t), 0);
	TEST_INTEQ(t, 1798070400);
	t = 5;
	TEST_INTEQ(assign_until("2026-02-29", "UTC", &t), -EINVAL);
	TEST_INTEQ(assign_until(NULL, "UTC", &t), -EINVAL);
	TEST_INTEQ(assign_until("tomorrow", "UTC", &t), -EINVAL);
	TEST_INTEQ(t, 5);
}

int
main(void)
{
	static const struct test_case cases[] = {
	    {"candidates", test_candidates},
	    {"until", test_until},
	};

	return test_run("assign", cases, ARRAY_SIZE(cases));
}
