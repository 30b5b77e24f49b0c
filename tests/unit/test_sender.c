/* Unit tests for sender.c's pure part: the auto sizing of the SMTP
 * connections (sender_pool_*, sender_backlog), with the clock injected. */
#include "sender.h"

#include "outbox.h"
#include "test.h"

/* rounds - feed n rounds, step ms apart from *now, all with backlog b */
static int
rounds(struct sender_pool *p, int n, bool b, gint64 *now, gint64 step)
{
	int open = p->open;

	for (int i = 0; i < n; i++) {
		*now += step;
		open = sender_pool_round(p, b, *now);
	}
	return open;
}

static void
test_grow(void)
{
	struct sender_pool p;
	gint64 now = 1000000;

	sender_pool_init(&p, 4, now);
	TEST_INTEQ(p.open, 1);
	/* a backlog right at the start: a second connection at once */
	TEST_INTEQ(sender_pool_round(&p, true, now), 2);
	sender_pool_init(&p, 4, now);
	/* no backlog: stays at one */
	TEST_INTEQ(rounds(&p, 50, false, &now, 100), 1);
	/* a backlog adds one connection per SENDER_GROW_MS, not per round */
	TEST_INTEQ(sender_pool_round(&p, true, now), 2);
	TEST_INTEQ(sender_pool_round(&p, true, now + 1), 2);
	TEST_INTEQ(sender_pool_round(&p, true, now + SENDER_GROW_MS - 1), 2);
	TEST_INTEQ(sender_pool_round(&p, true, now + SENDER_GROW_MS), 3);
	now += SENDER_GROW_MS;
	/* up to the cap, never beyond */
	TEST_INTEQ(rounds(&p, 20, true, &now, SENDER_GROW_MS), 4);
	TEST_INTEQ(sender_pool_cap(&p, now), 4);
}

static void
test_idle_shrink(void)
{
	struct sender_pool p;
	gint64 now = 0;

	sender_pool_init(&p, 3, now);
	TEST_INTEQ(rounds(&p, 3, true, &now, SENDER_GROW_MS), 3);
	/* the backlog is gone: the extra ones stay a while */
	TEST_INTEQ(rounds(&p, 10, false, &now, 1000), 3);
	now += SENDER_IDLE_MS - 10000;
	TEST_INTEQ(sender_pool_round(&p, false, now), 2);
	/* one at a time: the next after another idle period */
	TEST_INTEQ(sender_pool_round(&p, false, now + 1000), 2);
	TEST_INTEQ(sender_pool_round(&p, false, now + SENDER_IDLE_MS), 1);
	/* the first connection is never closed by the pool */
	TEST_INTEQ(sender_pool_round(&p, false, now + 10 * SENDER_IDLE_MS), 1);
	/* a backlog in between resets the idle clock */
	now += 20 * SENDER_IDLE_MS;
	TEST_INTEQ(sender_pool_round(&p, true, now), 2);
	TEST_INTEQ(sender_pool_round(&p, false, now + SENDER_IDLE_MS - 1), 2);
}

static void
test_server_limit(void)
{
	struct sender_pool p;
	gint64 now = 5000;

	sender_pool_init(&p, 4, now);
	TEST_INTEQ(rounds(&p, 3, true, &now, SENDER_GROW_MS), 4);
	/* connection 4 refused while 2 worked: 2 is the limit, news once */
	TEST_CHECK(sender_pool_refused(&p, 2, now));
	TEST_INTEQ(p.open, 2);
	TEST_INTEQ(sender_pool_cap(&p, now), 2);
	TEST_CHECK(!sender_pool_refused(&p, 2, now + 10));
	/* a backlog does not go past the limit while it holds */
	TEST_INTEQ(rounds(&p, 100, true, &now, 1000), 2);
	/* after SENDER_LIMIT_MS it is tried again */
	now = p.limit_until;
	TEST_INTEQ(sender_pool_round(&p, true, now), 3);
	TEST_INTEQ(p.limit, 0);
	TEST_INTEQ(sender_pool_cap(&p, now), 4);
	/* a refusal with nobody else working still leaves one */
	TEST_CHECK(sender_pool_refused(&p, 0, now));
	TEST_INTEQ(p.open, 1);
	/* a cap below the limit: the cap wins */
	sender_pool_init(&p, 2, now);
	(void)sender_pool_refused(&p, 3, now);
	TEST_INTEQ(sender_pool_cap(&p, now), 2);
}

static void
test_backlog(void)
{
	struct outbox_stats os = {0};
	gint64 now = 1700000000;

	TEST_CHECK(!sender_backlog(&os, now));
	os.claimed = 5;
	os.sent = 5;
	os.oldest = now - SENDER_LAG_S;
	TEST_CHECK(!sender_backlog(&os, now));
	os.oldest = now - SENDER_LAG_S - 1;
	TEST_CHECK(sender_backlog(&os, now));
	os.oldest = now;
	os.claimed = 32; /* a full round: more may wait */
	TEST_CHECK(sender_backlog(&os, now));
	/* ... unless it sent nothing: the server fails, more will not help */
	os.sent = 0;
	os.retried = 32;
	os.oldest = now - 100;
	TEST_CHECK(!sender_backlog(&os, now));
}

int
main(void)
{
	static const struct test_case cases[] = {
	    {"grow", test_grow},
	    {"idle_shrink", test_idle_shrink},
	    {"server_limit", test_server_limit},
	    {"backlog", test_backlog},
	};
	return test_run("sender", cases, ARRAY_SIZE(cases));
}
