/* Unit tests for limit.c's pure part: limit_decide, limit_identity. */
#include "limit.h"

#include "test.h"

static const struct cfg_limits lim = {
    .per_recipient_day = 3,
    .per_ticket_hour = 2,
    .global_per_minute = 5,
    .suppress_days = 30,
    .breaker_cooldown = 60,
};

static enum limit_verdict
decide(gint64 rcpt, gint64 ticket, gint64 global, bool open, bool *trip,
       const char **why)
{
	/* a repeat: the only mail the breaker counts and holds */
	struct limit_counts c = {.rcpt_day = rcpt,
	                         .ticket_hour = ticket,
	                         .global_minute = global,
	                         .repeat = true,
	                         .breaker_open = open};
	return limit_decide(&lim, &c, trip, why);
}

static void
test_send(void)
{
	bool trip = true;
	const char *why = "x";

	TEST_INTEQ(decide(0, 0, 0, false, &trip, &why), LIMIT_SEND);
	TEST_CHECK(!trip && why == NULL);
	/* the last one each limit allows */
	TEST_INTEQ(decide(2, 1, 4, false, &trip, &why), LIMIT_SEND);
	TEST_CHECK(!trip);
}

static void
test_recipient_and_ticket(void)
{
	bool trip;
	const char *why;

	TEST_INTEQ(decide(3, 0, 0, false, &trip, &why), LIMIT_SUPPRESS);
	TEST_STREQ(why, "limits.per_recipient_day reached");
	TEST_INTEQ(decide(0, 2, 0, false, &trip, &why), LIMIT_SUPPRESS);
	TEST_STREQ(why, "limits.per_ticket_hour reached");
	/* a mail that would never go is suppressed, not held, even while
	 * the breaker is open or would trip */
	TEST_INTEQ(decide(3, 0, 99, true, &trip, &why), LIMIT_SUPPRESS);
	TEST_CHECK(!trip);
	TEST_INTEQ(decide(0, 5, 99, false, &trip, &why), LIMIT_SUPPRESS);
	TEST_CHECK(!trip);
}

static void
test_breaker(void)
{
	bool trip;
	const char *why;

	/* the 6th mail in a minute with global_per_minute = 5 trips it */
	TEST_INTEQ(decide(0, 0, 5, false, &trip, &why), LIMIT_HOLD);
	TEST_CHECK(trip);
	TEST_CHECK(strncmp(why, "held:", 5) == 0);
	/* open: everything is held, and nobody trips it again */
	TEST_INTEQ(decide(0, 0, 0, true, &trip, &why), LIMIT_HOLD);
	TEST_CHECK(!trip);
	TEST_STREQ(why, "held: circuit breaker open");
}

static void
test_zero_means_none(void)
{
	struct cfg_limits z = {0};
	struct limit_counts c = {0};
	bool trip;
	const char *why;

	TEST_INTEQ(limit_decide(&z, &c, &trip, &why), LIMIT_SUPPRESS);
	z.per_recipient_day = 1;
	z.per_ticket_hour = 1;
	c.repeat = true;
	TEST_INTEQ(limit_decide(&z, &c, &trip, &why), LIMIT_HOLD);
	TEST_CHECK(trip);
}

/* Volume is not a loop: a first mail to a recipient and sender is sent
 * however many went out this minute and even while the breaker is open;
 * one sender behind many addresses is limited as one. */
static void
test_volume_is_not_a_loop(void)
{
	struct limit_counts c = {.global_minute = 100000, .breaker_open = true};
	bool trip = true;
	const char *why = "x";

	TEST_INTEQ(limit_decide(&lim, &c, &trip, &why), LIMIT_SEND);
	TEST_CHECK(!trip && why == NULL);
	c.breaker_open = false;
	TEST_INTEQ(limit_decide(&lim, &c, &trip, &why), LIMIT_SEND);
	TEST_CHECK(!trip);
	/* the same sender identity behind a new Reply-To */
	c.sender_day = 3;
	c.repeat = true;
	TEST_INTEQ(limit_decide(&lim, &c, &trip, &why), LIMIT_SUPPRESS);
	TEST_STREQ(why, "limits.per_recipient_day reached for the sender");
	TEST_CHECK(!trip);
	c.sender_day = 2;
	TEST_INTEQ(limit_decide(&lim, &c, &trip, &why), LIMIT_HOLD);
	TEST_CHECK(trip);
}

static void
test_identity(void)
{
	char *s;

	TEST_CHECK(limit_identity(NULL) == NULL);
	TEST_STREQ((s = limit_identity("Support+1042@Other.Example")),
	           "support@other.example");
	g_free(s);
	TEST_STREQ((s = limit_identity("a+b+c@x.example")), "a@x.example");
	g_free(s);
	/* no tag, a leading '+', '+' only in the domain, no '@' */
	TEST_STREQ((s = limit_identity("bob@x.example")), "bob@x.example");
	g_free(s);
	TEST_STREQ((s = limit_identity("+x@x.example")), "+x@x.example");
	g_free(s);
	TEST_STREQ((s = limit_identity("bob@x+y.example")), "bob@x+y.example");
	g_free(s);
	TEST_STREQ((s = limit_identity("Bob+x")), "bob+x");
	g_free(s);
}

int
main(void)
{
	static const struct test_case cases[] = {
	    {"send", test_send},
	    {"recipient and ticket", test_recipient_and_ticket},
	    {"breaker", test_breaker},
	    {"zero means none", test_zero_means_none},
	    {"volume is not a loop", test_volume_is_not_a_loop},
	    {"identity", test_identity},
	};
	return test_run("limit", cases, ARRAY_SIZE(cases));
}
