/* Unit tests for keywords.c's pure part: the names written as IMAP
 * keywords and what a write removes. */
#include "keywords.h"

#include "test.h"

#include <string.h>

static void
test_atom(void)
{
	char b[KEYWORDS_MAX_NAME + 1];
	g_autofree char *longname = g_strnfill(100, 'a');

	keywords_name("Bob.Builder@example.com", b, sizeof(b));
	TEST_STREQ(b, "bob.builder");
	/* IMAP syntax, spaces, 8-bit bytes and a backslash are dropped */
	keywords_name("x) (\\*%\"]{y\xc3\xa9z@example.com", b, sizeof(b));
	TEST_STREQ(b, "xyz");
	keywords_name(longname, b, sizeof(b));
	TEST_INTEQ(strlen(b), KEYWORDS_MAX_NAME);
	keywords_name("@example.com", b, sizeof(b));
	TEST_STREQ(b, "");
	keywords_name(NULL, b, sizeof(b));
	TEST_STREQ(b, "");
}

static void
test_for(void)
{
	struct keywords_set k;

	keywords_for(1042, "pending", "bob@example.com", &k);
	TEST_STREQ(k.ticket, "$Ticket1042");
	TEST_STREQ(k.state, "$Pending");
	TEST_STREQ(k.assigned, "$Assigned-bob");
	keywords_for(G_MAXINT64, "weird", NULL, &k);
	TEST_STREQ(k.ticket, "$Ticket9223372036854775807");
	TEST_CHECK(k.state == NULL);
	TEST_STREQ(k.assigned, "");
	/* an assignee of nothing but syntax gets no keyword at all */
	keywords_for(1, "new", "()@x", &k);
	TEST_STREQ(k.state, "$New");
	TEST_STREQ(k.assigned, "");
}

static bool
has(const char **v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

static void
test_stale(void)
{
	struct keywords_set k;
	const char *del[KEYWORDS_MAX_STALE];
	size_t n;

	keywords_for(7, "closed", "alice@example.com", &k);
	n = keywords_stale(&k, "$Assigned-bob", del);
	TEST_INTEQ(n, 5);
	TEST_CHECK(has(del, n, "$Open") && has(del, n, "$New") &&
	           has(del, n, "$Pending") && has(del, n, "$Resolved"));
	TEST_CHECK(!has(del, n, "$Closed"));
	TEST_CHECK(has(del, n, "$Assigned-bob"));
	/* the keyword written before is the current one: kept */
	n = keywords_stale(&k, "$assigned-ALICE", del);
	TEST_INTEQ(n, 4);
	TEST_CHECK(!has(del, n, "$assigned-ALICE"));
	/* unknown status: every state keyword goes */
	keywords_for(7, "merged", NULL, &k);
	n = keywords_stale(&k, NULL, del);
	TEST_INTEQ(n, 5);
}

int
main(void)
{
	static const struct test_case cases[] = {
	    {"atom", test_atom},
	    {"for", test_for},
	    {"stale", test_stale},
	};

	return test_run("keywords", cases, ARRAY_SIZE(cases));
}
