/* Unit tests for thread.c: subject tags and signed Message-IDs. */
#include "thread.h"

#include "test.h"

#include <string.h>

static const unsigned char key[] = "0123456789abcdef0123456789abcdef";

static void
test_subject_tag(void)
{
	TEST_INTEQ(thread_subject_ticket("[Example #1042] Re: x", "Example"),
	           1042);
	TEST_INTEQ(thread_subject_ticket("Re: AW: [example #7] hi", "Example"),
	           7);
	TEST_INTEQ(thread_subject_ticket("Fwd: x [ Example # 12 ]", "Example"),
	           12);
	TEST_INTEQ(thread_subject_ticket("[Other #5] [Example #6]", "Example"),
	           6);
	TEST_INTEQ(thread_subject_ticket("[Example #] x", "Example"), 0);
	TEST_INTEQ(thread_subject_ticket("[Example #12a]", "Example"), 0);
	TEST_INTEQ(thread_subject_ticket("[Examples #12]", "Example"), 0);
	TEST_INTEQ(thread_subject_ticket("no tag", "Example"), 0);
	TEST_INTEQ(
	    thread_subject_ticket("[Example #99999999999999999999]", "Example"),
	    0);
}

static void
test_strip(void)
{
	char *s = thread_strip_subject("Re: AW: [Example #3] Re[2]: Login",
	                               "Example");
	TEST_STREQ(s, "Login");
	g_free(s);
	s = thread_strip_subject("SV: Fwd:  Hello ", "Example");
	TEST_STREQ(s, "Hello");
	g_free(s);
	s = thread_strip_subject("Reply needed", "Example");
	TEST_STREQ(s, "Reply needed");
	g_free(s);
	/* only a whole "[tag #N]" at the front goes, not one named later */
	s = thread_strip_subject("[Example foo] x [Example #4]", "Example");
	TEST_STREQ(s, "[Example foo] x [Example #4]");
	g_free(s);
	s = thread_strip_subject("  re : [example # 12 ]  ", "Example");
	TEST_STREQ(s, "");
	g_free(s);
}

/* 200k "Re: [Example #1] " (3.4 MB): every prefix and tag stripped in one
 * forward pass (it took ~30 s when each strip moved the rest) */
static void
test_strip_many(void)
{
	GString *g = g_string_new(NULL);
	char *s;

	for (int i = 0; i < 200000; i++)
		g_string_append(g, i % 2 ? "Re: [Example #1] " : "AW:Fwd: ");
	g_string_append(g, "Login broken");
	s = thread_strip_subject(g->str, "Example");
	TEST_STREQ(s, "Login broken");
	g_free(s);
	g_string_free(g, TRUE);
}

static void
test_msgid_roundtrip(void)
{
	char *id = thread_make_msgid(key, 32, 1042, "ack", "example.com");
	char *id2 = thread_make_msgid(key, 32, 1042, "ack", "example.com");

	TEST_CHECK(g_str_has_prefix(id, "tickd.1042.ack."));
	TEST_CHECK(g_str_has_suffix(id, "@example.com"));
	TEST_CHECK(strcmp(id, id2) != 0); /* unique per mail */
	TEST_INTEQ(thread_msgid_ticket(key, 32, id), 1042);
	/* another key: not valid */
	TEST_INTEQ(thread_msgid_ticket((const unsigned char *)"other-key-other",
	                               15, id),
	           -EBADMSG);
	g_free(id);
	g_free(id2);
}

static void
test_msgid_forged(void)
{
	char *id = thread_make_msgid(key, 32, 1042, "ack", "example.com");
	char *forged = g_strdup(id);
	char *at = strchr(forged, '@');

	/* right shape, wrong ticket number: the MAC no longer fits */
	forged[6] = '2';
	TEST_INTEQ(thread_msgid_ticket(key, 32, forged), -EBADMSG);
	/* one MAC digit changed */
	g_free(forged);
	forged = g_strdup(id);
	at = strchr(forged, '@');
	at[-1] = at[-1] == '0' ? '1' : '0';
	TEST_INTEQ(thread_msgid_ticket(key, 32, forged), -EBADMSG);
	/* truncated MAC */
	g_free(forged);
	forged = g_strdup(id);
	at = strchr(forged, '@');
	memmove(at - 1, at, strlen(at) + 1);
	TEST_INTEQ(thread_msgid_ticket(key, 32, forged), -EBADMSG);
	TEST_INTEQ(thread_msgid_ticket(key, 32, "abc@example.com"), 0);
	TEST_INTEQ(thread_msgid_ticket(key, 32, "tickd.x@example.com"),
	           -EBADMSG);
	g_free(forged);
	g_free(id);
}

/* Signed tokens in a subject: found among words, too-long words skipped,
 * and a megabyte of "tickd." (no separator) read once, not once per
 * occurrence. */
static void
test_token_next(void)
{
	const char *s = "Re: [X #7] rate (tickd.7.rate-good.ab) and tickd.x";
	const char *pos = s;
	char *tok = NULL;
	GString *big = g_string_new("");

	TEST_INTEQ(thread_token_next(&pos, 200, &tok), 1);
	TEST_STREQ(tok, "tickd.7.rate-good.ab");
	g_free(tok);
	TEST_INTEQ(thread_token_next(&pos, 200, &tok), 1);
	TEST_STREQ(tok, "tickd.x");
	g_free(tok);
	TEST_INTEQ(thread_token_next(&pos, 200, &tok), 0);
	for (int i = 0; i < 170000; i++)
		g_string_append(big, "tickd.");
	pos = big->str;
	/* only the tail, where the word left is short enough, is a token */
	TEST_INTEQ(thread_token_next(&pos, 200, &tok), 1);
	TEST_CHECK(tok != NULL && strlen(tok) <= 200 &&
	           pos > big->str + big->len - 200);
	g_free(tok);
	g_string_free(big, TRUE);
}

int
main(void)
{
	static const struct test_case cases[] = {
	    {"subject_tag", test_subject_tag},
	    {"strip", test_strip},
	    {"strip many", test_strip_many},
	    {"msgid_roundtrip", test_msgid_roundtrip},
	    {"msgid_forged", test_msgid_forged},
	    {"token_next", test_token_next},
	};
	return test_run("thread", cases, ARRAY_SIZE(cases));
}
