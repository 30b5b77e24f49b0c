/* Unit tests for history.c: the mbox splitter. */
#include "history.h"

#include "test.h"

#include <string.h>

static int
collect(const char *mail, size_t len, void *ctx)
{
	g_ptr_array_add(ctx, g_strndup(mail, len));
	return 0;
}

static GPtrArray *
split(const char *mbox)
{
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);

	TEST_INTEQ(history_mbox_split(mbox, strlen(mbox), collect, out), 0);
	return out;
}

static void
test_separators(void)
{
	g_autoptr(GPtrArray) m =
	    split("From a@b Thu Jan  1 00:00:00 2024\n"
	          "Subject: one\n\nbody one\nFrom the middle of a line? no: "
	          "not after an empty line\n\n"
	          "From c@d Fri Jan  2 00:00:00 2024\n"
	          "Subject: two\n\nbody two\n");

	TEST_INTEQ(m->len, 2);
	TEST_STREQ(m->pdata[0], "Subject: one\n\nbody one\nFrom the middle of "
	                        "a line? no: not after an empty line\n");
	TEST_STREQ(m->pdata[1], "Subject: two\n\nbody two\n");
}

static void
test_unquote(void)
{
	/* mboxrd: one '>' comes off >From and >>From, not off "> From" */
	g_autoptr(GPtrArray) m = split("From x Thu Jan  1 00:00:00 2024\n"
	                               "Subject: q\n\n>From here\n>>From "
	                               "there\n> From quote\n>Fromage\n\n");

	TEST_INTEQ(m->len, 1);
	TEST_STREQ(m->pdata[0], "Subject: q\n\nFrom here\n>From there\n> From "
	                        "quote\n>Fromage\n");
}

static void
test_crlf_and_edges(void)
{
	g_autoptr(GPtrArray) m = split("From x Thu Jan  1 00:00:00 2024\r\n"
	                               "Subject: a\r\n\r\nA\r\n\r\n"
	                               "From y Thu Jan  1 00:00:00 2024\r\n"
	                               "Subject: b\r\n\r\nB");
	g_autoptr(GPtrArray) none = split("Subject: not an mbox\n\nx\n");
	g_autoptr(GPtrArray) empty = split("From x Thu Jan  1 00:00:00 2024");

	TEST_INTEQ(m->len, 2);
	TEST_STREQ(m->pdata[0], "Subject: a\r\n\r\nA\r\n");
	TEST_STREQ(m->pdata[1], "Subject: b\r\n\r\nB");
	TEST_INTEQ(none->len, 0);
	TEST_INTEQ(empty->len, 1);
	TEST_STREQ(empty->pdata[0], "");
}

int
main(void)
{
	static const struct test_case cases[] = {
	    {"separators", test_separators},
	    {"unquote", test_unquote},
	    {"crlf_and_edges", test_crlf_and_edges},
	};
	return test_run("history", cases, ARRAY_SIZE(cases));
}
