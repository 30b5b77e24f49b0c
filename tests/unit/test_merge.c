/* Unit tests for merge.c: which merges are refused, and that the reason
 * names the tickets (the one-hop rule: no merge into a merged ticket, no
 * ticket merged twice, no loop). */
#include "merge.h"

#include "test.h"

#include <string.h>

static const char *
refusal(gint64 from, bool from_exists, gint64 from_into, gint64 into,
        bool into_exists, gint64 into_into, char *buf, size_t size)
{
	struct merge_side f = {from, from_exists, from_into};
	struct merge_side t = {into, into_exists, into_into};

	return merge_refusal(&f, &t, buf, size);
}

static void
test_allowed(void)
{
	char buf[160];

	TEST_CHECK(refusal(1001, true, 0, 1002, true, 0, buf, sizeof(buf)) ==
	           NULL);
	/* either direction, and into a smaller number */
	TEST_CHECK(refusal(1002, true, 0, 1001, true, 0, buf, sizeof(buf)) ==
	           NULL);
}

static void
test_refused(void)
{
	char buf[160];
	const char *why;

	why = refusal(1001, true, 0, 1001, true, 0, buf, sizeof(buf));
	TEST_STREQ(why, "ticket 1001 cannot be merged into itself");
	TEST_CHECK(why == buf);

	why = refusal(1001, true, 1005, 1002, true, 0, buf, sizeof(buf));
	TEST_STREQ(why, "ticket 1001 was already merged into 1005");

	why = refusal(1001, true, 0, 1002, true, 1005, buf, sizeof(buf));
	TEST_STREQ(why, "ticket 1002 was merged into 1005; merge into 1005 "
	                "instead (no chains)");

	/* B was merged into A: A into B would point back at itself */
	why = refusal(1001, true, 0, 1002, true, 1001, buf, sizeof(buf));
	TEST_STREQ(why, "ticket 1002 was merged into 1001; merging back "
	                "would make a loop");

	why = refusal(1001, false, 0, 1002, true, 0, buf, sizeof(buf));
	TEST_STREQ(why, "no ticket 1001");
	why = refusal(1001, true, 0, 1002, false, 0, buf, sizeof(buf));
	TEST_STREQ(why, "no ticket 1002");
	why = refusal(0, false, 0, 1002, true, 0, buf, sizeof(buf));
	TEST_STREQ(why, "ticket numbers must be positive");
	why = refusal(1001, true, 0, -5, false, 0, buf, sizeof(buf));
	TEST_STREQ(why, "ticket numbers must be positive");
	/* self comes before existence: the clearer message */
	why = refusal(4242, false, 0, 4242, false, 0, buf, sizeof(buf));
	TEST_STREQ(why, "ticket 4242 cannot be merged into itself");
}

static void
test_small_buffer(void)
{
	char buf[12];
	const char *why =
	    refusal(1001, true, 1005, 1002, true, 0, buf, sizeof(buf));

	TEST_CHECK(why == buf);
	TEST_INTEQ(strlen(buf), sizeof(buf) - 1);
}

int
main(void)
{
	static const struct test_case cases[] = {
	    {"allowed", test_allowed},
	    {"refused", test_refused},
	    {"small buffer", test_small_buffer},
	};

	return test_run("merge", cases, ARRAY_SIZE(cases));
}
