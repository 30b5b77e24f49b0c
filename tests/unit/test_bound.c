/* Unit tests for bound.c: every value of a hostile mail cut to its bound
 * before it reaches an index or a key, the raw bytes untouched, and what
 * was cut said in one line. */
#include "bound.h"

#include "mime.h"
#include "test.h"

#include <string.h>

static void
test_utf8(void)
{
	char s[] = "ab\xc3\xa4\xc3\xa4"; /* "abää" */

	TEST_CHECK(!bound_utf8(NULL, 3));
	TEST_CHECK(!bound_utf8(s, 6));
	/* 3 bytes would split the first ä: back to "ab" */
	TEST_CHECK(bound_utf8(s, 3));
	TEST_STREQ(s, "ab");
	TEST_CHECK(g_utf8_validate(s, -1, NULL));
}

static void
test_msgid_and_key(void)
{
	g_autofree char *big = g_strnfill(4096, 'x');
	g_autofree char *big2 = g_strnfill(4097, 'x');
	char small[] = "abc@example.org";
	bool rep;
	char *h, *h2, *k;

	TEST_CHECK(bound_msgid(small, &rep) == small && !rep);
	h = bound_msgid(big, &rep);
	TEST_CHECK(rep && h != big);
	TEST_CHECK(strlen(h) <= BOUND_MSGID);
	TEST_CHECK(g_str_has_prefix(h, "sha256."));
	/* equal ids hash equally (threading still works), others do not */
	h2 = bound_msgid(big2, NULL);
	TEST_CHECK(strcmp(h, h2) != 0);
	g_free(h2);
	h2 = bound_msgid(big, NULL);
	TEST_STREQ(h, h2);
	g_free(h2);

	k = bound_dedupe_key(big, "raw", 3);
	TEST_CHECK(strlen(k) <= 4 + BOUND_MSGID);
	TEST_CHECK(g_str_has_prefix(k, "mid:sha256."));
	TEST_STREQ(k + 4, h);
	g_free(k);
	g_free(h);
	k = bound_dedupe_key(small, "raw", 3);
	TEST_STREQ(k, "mid:abc@example.org");
	g_free(k);
	k = bound_dedupe_key(NULL, "raw", 3);
	TEST_CHECK(g_str_has_prefix(k, "sha256:") && strlen(k) == 7 + 64);
	g_free(k);
	k = bound_dedupe_key("", "raw", 3);
	TEST_CHECK(g_str_has_prefix(k, "sha256:"));
	g_free(k);
}

static struct mime_msg *
parse(const GString *g)
{
	return mime_parse(g->str, g->len, NULL);
}

/* the must-show mail: a 4 KB Message-ID and a 4 KB From */
static void
test_poisoned_mail(void)
{
	GString *g = g_string_new(NULL);
	struct mime_msg *m;
	char *why;
	bool suspect;
	g_autofree char *local = g_strnfill(4096, 'a');
	g_autofree char *id = g_strnfill(4096, 'i');

	g_string_append_printf(g,
	                       "From: Evil <%s@evil.example>\r\n"
	                       "To: support@example.com, %s@x.example, "
	                       "Bob <bob@example.com>\r\n"
	                       "Message-ID: <%s@evil.example>\r\n"
	                       "Subject: hi\r\n\r\nbody\r\n",
	                       local, local, id);
	m = parse(g);
	TEST_CHECK(m->message_id != NULL && strlen(m->message_id) > 4096);
	why = bound_msg(m, &suspect);
	TEST_CHECK(why != NULL && suspect);
	TEST_CHECK(strstr(why, "Message-ID over 250 bytes hashed") != NULL);
	TEST_CHECK(strstr(why, "1 From address over 254 bytes dropped") !=
	           NULL);
	TEST_CHECK(strstr(why, "1 To address over 254 bytes dropped") != NULL);
	TEST_CHECK(strlen(m->message_id) <= BOUND_MSGID);
	TEST_INTEQ(m->from->len, 0);
	TEST_CHECK(mime_first_from(m) == NULL);
	/* the others stay, in their order */
	TEST_INTEQ(m->to->len, 2);
	TEST_STREQ(((struct mime_addr *)m->to->pdata[0])->addr,
	           "support@example.com");
	TEST_STREQ(((struct mime_addr *)m->to->pdata[1])->addr,
	           "bob@example.com");
	g_free(why);
	mime_msg_free(&m);
	g_string_free(g, TRUE);
}

/* a pathological header block: every list cut, subject clipped */
static void
test_lists_and_texts(void)
{
	GString *g = g_string_new("From: A <a@example.org>\r\nReferences:");
	struct mime_msg *m;
	char *why;
	bool suspect;

	for (int i = 0; i < 2000; i++)
		g_string_append_printf(g, " <r%d@x.example>\r\n", i);
	g_string_append(g, "Cc: ");
	for (int i = 0; i < 1000; i++)
		g_string_append_printf(g, "%sC%d <c%d@x.example>",
		                       i ? ",\r\n " : "", i, i);
	g_string_append(g, "\r\nSubject: ");
	for (int i = 0; i < 10000; i++)
		g_string_append(g, "Re: \xc3\xa4");
	g_string_append(g, "\r\nContent-Language: ");
	for (int i = 0; i < 100; i++)
		g_string_append(g, "de-");
	g_string_append(g, "\r\n\r\nhi\r\n");
	m = parse(g);
	TEST_INTEQ(m->references->len, 2000);
	why = bound_msg(m, &suspect);
	TEST_CHECK(why != NULL && !suspect);
	TEST_INTEQ(m->references->len, BOUND_REFS);
	/* the root and the newest */
	TEST_STREQ(m->references->pdata[0], "r0@x.example");
	TEST_STREQ(m->references->pdata[BOUND_REFS - 1], "r1999@x.example");
	TEST_STREQ(m->references->pdata[1], "r1951@x.example");
	TEST_INTEQ(m->cc->len, BOUND_RCPTS);
	TEST_STREQ(((struct mime_addr *)m->cc->pdata[BOUND_RCPTS - 1])->addr,
	           "c199@x.example");
	TEST_CHECK(strlen(m->subject) <= BOUND_SUBJECT);
	TEST_CHECK(g_utf8_validate(m->subject, -1, NULL));
	TEST_CHECK(strlen(m->language) <= BOUND_LANGUAGE);
	TEST_CHECK(strstr(why, "2000 References, kept 50") != NULL);
	TEST_CHECK(strstr(why, "1000 Cc addresses, kept 200") != NULL);
	TEST_CHECK(strstr(why, "Subject clipped") != NULL);
	g_free(why);
	mime_msg_free(&m);
	g_string_free(g, TRUE);
}

static void
test_normal_mail_untouched(void)
{
	GString *g = g_string_new("From: Carla <carla@customer.example>\r\n"
	                          "To: support@example.com\r\n"
	                          "Message-ID: <1@customer.example>\r\n"
	                          "References: <a@x> <b@x>\r\n"
	                          "Subject: Re: Login\r\n\r\nhi\r\n");
	struct mime_msg *m = parse(g);
	bool suspect;

	TEST_CHECK(bound_msg(m, &suspect) == NULL && !suspect);
	TEST_STREQ(m->message_id, "1@customer.example");
	TEST_INTEQ(m->references->len, 2);
	TEST_STREQ(mime_first_from(m)->addr, "carla@customer.example");
	mime_msg_free(&m);
	g_string_free(g, TRUE);
}

int
main(void)
{
	static const struct test_case cases[] = {
	    {"utf8", test_utf8},
	    {"msgid and key", test_msgid_and_key},
	    {"poisoned mail", test_poisoned_mail},
	    {"lists and texts", test_lists_and_texts},
	    {"normal mail untouched", test_normal_mail_untouched},
	};

	mime_init();
	return test_run("bound", cases, ARRAY_SIZE(cases));
}
