/* Unit tests for agentmail.c's choices: which events a person wants by
 * default, and whose queue a ticket's queue is (new-ticket and SLA-warning
 * notices). */
#include "agentmail.h"

#include "test.h"

static void
test_agentmail_wants(void)
{
	char *warn[] = {"sla-warning", NULL};
	char *none[] = {"none", NULL};
	struct cfg_person dflt = {.address = "a@x"};
	struct cfg_person w = {.address = "b@x", .notify = warn};
	struct cfg_person n = {.address = "c@x", .notify = none};

	TEST_CHECK(agentmail_wants(&dflt, AGENTMAIL_ASSIGNED));
	TEST_CHECK(agentmail_wants(&dflt, AGENTMAIL_CUSTOMER_REPLY));
	/* both opt-in: a team would hear of every ticket otherwise */
	TEST_CHECK(!agentmail_wants(&dflt, AGENTMAIL_NEW_TICKET));
	TEST_CHECK(!agentmail_wants(&dflt, AGENTMAIL_SLA_WARNING));
	TEST_CHECK(agentmail_wants(&w, AGENTMAIL_SLA_WARNING));
	TEST_CHECK(!agentmail_wants(&w, AGENTMAIL_ASSIGNED));
	TEST_CHECK(!agentmail_wants(&n, AGENTMAIL_SLA_WARNING));
	TEST_CHECK(!agentmail_wants(NULL, AGENTMAIL_ASSIGNED));
}

static void
test_agentmail_covers(void)
{
	char *billing[] = {"billing", NULL};
	char *empty[] = {NULL};
	struct cfg_person all = {.address = "a@x"};
	struct cfg_person team = {.address = "b@x", .team = "billing"};
	struct cfg_person other = {.address = "c@x", .team = "L1"};
	struct cfg_person list = {
	    .address = "d@x", .team = "support", .queues = billing};
	struct cfg_person emptyl = {.address = "e@x", .queues = empty};

	/* neither team nor queues: a one-queue site, every queue */
	TEST_CHECK(agentmail_covers(&all, "support"));
	TEST_CHECK(agentmail_covers(&all, "billing"));
	/* a team named like the queue */
	TEST_CHECK(agentmail_covers(&team, "billing"));
	TEST_CHECK(!agentmail_covers(&team, "support"));
	/* a team that is no queue's name covers none */
	TEST_CHECK(!agentmail_covers(&other, "support"));
	/* the queue list wins over the team */
	TEST_CHECK(agentmail_covers(&list, "billing"));
	TEST_CHECK(!agentmail_covers(&list, "support"));
	TEST_CHECK(agentmail_covers(&emptyl, "support"));
	TEST_CHECK(!agentmail_covers(NULL, "support"));
	TEST_CHECK(!agentmail_covers(&all, NULL));
}

int
main(void)
{
	static const struct test_case cases[] = {
	    {"wants: defaults and lists", test_agentmail_wants},
	    {"covers: queues, team, all", test_agentmail_covers},
	};

	return test_run("agentmail", cases, ARRAY_SIZE(cases));
}
