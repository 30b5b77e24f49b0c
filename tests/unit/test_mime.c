/*
 * test_mime.c - mime_parse, mime_build, mime_quote_split and
 * mime_html_to_text against hand-written mails in
 * tests/unit/fixtures/mime/ (run from the repo root).  Every expectation
 * was worked out by hand from the fixture, not copied from our output.
 */
#include "html.h"
#include "mime.h"
#include "test.h"

#include <glib.h>
#include <string.h>

#define FIXTURES "tests/unit/fixtures/mime/"

/* parse_fixture - parse a fixture with default limits; NULL if missing. */
static struct mime_msg *
parse_fixture(const char *name)
{
	char *path = g_strconcat(FIXTURES, name, NULL);
	char *data = NULL;
	gsize len = 0;
	struct mime_msg *m = NULL;

	if (g_file_get_contents(path, &data, &len, NULL))
		m = mime_parse(data, len, NULL);
	else
		fprintf(stderr, "missing fixture %s\n", path);
	g_free(data);
	g_free(path);
	return m;
}

static bool
has_defect(const struct mime_msg *m, const char *needle)
{
	for (guint i = 0; i < m->defects->len; i++)
		if (strstr(g_ptr_array_index(m->defects, i), needle) != NULL)
			return true;
	return false;
}

static const struct mime_attachment *
att(const struct mime_msg *m, guint i)
{
	return i < m->attachments->len ? g_ptr_array_index(m->attachments, i)
	                               : NULL;
}

static const char *
strv(const GPtrArray *a, guint i)
{
	return i < a->len ? g_ptr_array_index(a, i) : NULL;
}

/* Every string must be valid UTF-8: PostgreSQL takes it as it is. */
static bool
all_valid(const struct mime_msg *m)
{
	bool ok = g_utf8_validate(m->subject, -1, NULL) &&
	          g_utf8_validate(m->text, -1, NULL) &&
	          g_utf8_validate(m->text_new, -1, NULL) &&
	          (m->html == NULL || g_utf8_validate(m->html, -1, NULL));

	for (guint i = 0; ok && i < m->headers->len; i++) {
		const struct mime_header *h = g_ptr_array_index(m->headers, i);

		ok = g_utf8_validate(h->value, -1, NULL);
	}
	for (guint i = 0; ok && i < m->attachments->len; i++)
		ok = g_utf8_validate(att(m, i)->filename, -1, NULL);
	return ok;
}

static void
test_iso2022jp(void)
{
	struct mime_msg *m = parse_fixture("iso2022jp.eml");

	TEST_CHECK(m != NULL);
	if (m == NULL)
		return;
	TEST_CHECK(!m->unparsed);
	TEST_STREQ(m->subject, "会議の件");
	TEST_STREQ(m->text, "山田様\nお世話になっております。\n"
	                    "明日の会議は十時からです。\n");
	TEST_STREQ(mime_first_from(m)->name, "田中");
	TEST_STREQ(mime_first_from(m)->addr, "tanaka@example.jp");
	TEST_INTEQ(m->date, 1704762000); /* 2024-01-09 10:00 +0900 */
	TEST_STREQ(m->message_id, "jp1@example.jp");
	TEST_STREQ(m->content_type, "text/plain");
	TEST_CHECK(m->html == NULL);
	TEST_INTEQ(m->defects->len, 0);
	mime_msg_free(&m);
	TEST_CHECK(m == NULL);
}

static void
test_latin1_header(void)
{
	struct mime_msg *m = parse_fixture("latin1-subject.eml");

	TEST_CHECK(m != NULL);
	if (m == NULL)
		return;
	TEST_STREQ(m->subject, "Café crème brûlée");
	TEST_STREQ(mime_header(m, "subject"), "Café crème brûlée");
	TEST_STREQ(mime_first_from(m)->name, "François Müller");
	/* lower-cased */
	TEST_STREQ(mime_first_from(m)->addr, "f.mueller@example.com");
	/* no charset and 8-bit: windows-1252 from the fallback chain */
	TEST_STREQ(m->text, "Bonjour, la crème est brûlée.\n");
	TEST_CHECK(has_defect(m, "unencoded 8-bit header"));
	TEST_INTEQ(m->date, 1704871800);
	mime_msg_free(&m);
}

static void
test_charset_aliases(void)
{
	struct mime_msg *m = parse_fixture("charsets.eml");

	TEST_CHECK(m != NULL);
	if (m == NULL)
		return;
	TEST_STREQ(m->subject, "안녕하세요");    /* ks_c_5601-1987 */
	TEST_STREQ(m->text, "Grüße aus Köln\n"); /* charset=uft-8 */
	mime_msg_free(&m);

	/* misspelled and legacy labels on bodies */
	{
		static const struct {
			const char *charset, *body, *want;
		} bodies[] = {
		    {"iso-gb2312", "\xc4\xe3\xba\xc3\xca\xc0\xbd\xe7",
		     "你好世界"},
		    {"ks_c_5601-1987",
		     "\xbe\xc8\xb3\xe7\xc7\xcf\xbc\xbc\xbf\xe4", "안녕하세요"},
		    {"unicode-1-1-utf-7", "Gr+APwA3w-e", "Grüße"},
		    {"UFT-8", "K\xc3\xb6ln", "Köln"},
		};

		for (size_t i = 0; i < ARRAY_SIZE(bodies); i++) {
			char *raw = g_strdup_printf(
			    "Subject: c\nContent-Type: text/plain; "
			    "charset=%s\n\n%s",
			    bodies[i].charset, bodies[i].body);
			struct mime_msg *b = mime_parse(raw, strlen(raw), NULL);

			TEST_STREQ(b->text, bodies[i].want);
			TEST_CHECK(!has_defect(b, "charset"));
			mime_msg_free(&b);
			g_free(raw);
		}
	}

	/* x-unknown, Latin-1 bytes and a NUL */
	m = parse_fixture("unknown-charset.eml");
	TEST_CHECK(m != NULL);
	if (m == NULL)
		return;
	TEST_STREQ(m->text, "Straße und Plätze\n");
	mime_msg_free(&m);
}

static void
test_charset_mislabelled(void)
{
	/* UTF-8 labelled Latin-1 or ISO-2022-JP: the bytes win */
	static const char l1[] = "Subject: t\nContent-Type: text/plain; "
	                         "charset=iso-8859-1\n\nGrüße\n";
	static const char jp[] = "Subject: t\nContent-Type: text/plain; "
	                         "charset=iso-2022-jp\n\n日本\n";
	/* real Latin-1 stays Latin-1 */
	static const char real[] = "Subject: t\nContent-Type: text/plain; "
	                           "charset=iso-8859-1\n\nGr\xfc\xdf"
	                           "e\n";
	struct mime_msg *m;

	m = mime_parse(l1, sizeof(l1) - 1, NULL);
	TEST_STREQ(m->text, "Grüße\n");
	TEST_CHECK(has_defect(m, "read as utf-8"));
	mime_msg_free(&m);
	m = mime_parse(jp, sizeof(jp) - 1, NULL);
	TEST_STREQ(m->text, "日本\n");
	mime_msg_free(&m);
	m = mime_parse(real, sizeof(real) - 1, NULL);
	TEST_STREQ(m->text, "Grüße\n");
	TEST_CHECK(!has_defect(m, "read as utf-8"));
	mime_msg_free(&m);
}

static void
test_charset_fallback_option(void)
{
	static const char raw[] = "Subject: t\n\n\xe1\xe2\n";
	static const char hdr[] = "Subject: \xe1\xe2\n\nx\n";
	static const char *const greek[] = {"utf-8", "iso-8859-7", NULL};
	struct mime_limits lim = {0};
	struct mime_msg *m;

	m = mime_parse(raw, sizeof(raw) - 1, NULL);
	TEST_STREQ(m->text, "áâ\n");
	mime_msg_free(&m);

	lim.charset_fallback = greek;
	m = mime_parse(raw, sizeof(raw) - 1, &lim);
	TEST_STREQ(m->text, "αβ\n");
	mime_msg_free(&m);

	/* the chain serves raw 8-bit headers too: 0xe1 0xe2 is "áâ" in
	   windows-1252 and "αβ" in iso-8859-7 */
	m = mime_parse(hdr, sizeof(hdr) - 1, NULL);
	TEST_STREQ(m->subject, "áâ");
	mime_msg_free(&m);
	m = mime_parse(hdr, sizeof(hdr) - 1, &lim);
	TEST_STREQ(m->subject, "αβ");
	TEST_STREQ(m->text, "x\n");
	mime_msg_free(&m);
}

static void
test_rfc2231_names(void)
{
	struct mime_msg *m = parse_fixture("rfc2231.eml");

	TEST_CHECK(m != NULL);
	if (m == NULL)
		return;
	TEST_STREQ(m->text, "See attachment.");
	TEST_CHECK(strchr(m->text, '\r') == NULL); /* CRLF mail, LF text */
	TEST_INTEQ(m->attachments->len, 4);
	if (m->attachments->len != 4)
		goto out;
	TEST_STREQ(att(m, 0)->filename,
	           "Überweisung März 2024 – Bestätigung.pdf");
	TEST_STREQ(att(m, 0)->content_type, "application/pdf");
	TEST_INTEQ(att(m, 0)->size, 14);
	TEST_CHECK(memcmp(att(m, 0)->data, "%PDF-1.4 fake\n", 14) == 0);
	/* no name: derived from position and type */
	TEST_STREQ(att(m, 1)->filename, "image-2.png");
	TEST_INTEQ(att(m, 1)->size, 12);
	TEST_STREQ(att(m, 2)->filename, "notes.txt");
	/* the same name in other case is made unique */
	TEST_STREQ(att(m, 3)->filename, "NOTES (2).txt");
	TEST_CHECK(memcmp(att(m, 3)->data, "two", 3) == 0);
out:
	mime_msg_free(&m);
}

static void
test_html_only(void)
{
	struct mime_msg *m = parse_fixture("html-only.eml");

	TEST_CHECK(m != NULL);
	if (m == NULL)
		return;
	TEST_STREQ(m->content_type, "text/html");
	TEST_CHECK(m->html != NULL && strstr(m->html, "<h1>Hello") != NULL);
	TEST_STREQ(m->text, "Hello & welcome\n"
	                    "\n"
	                    "Café été time\n"
	                    "\n"
	                    "Line one\n"
	                    "Line two\n"
	                    "\n"
	                    "- first\n"
	                    "- second\n"
	                    "\n"
	                    "Read the docs <https://example.com/docs> or visit "
	                    "example.com.\n"
	                    "\n"
	                    "a b");
	TEST_CHECK(strstr(m->text, "alert") == NULL);
	TEST_CHECK(strstr(m->text, "color") == NULL);
	mime_msg_free(&m);
}

static void
test_forward(void)
{
	struct mime_msg *m = parse_fixture("forward.eml");
	const struct mime_attachment *a;

	TEST_CHECK(m != NULL);
	if (m == NULL)
		return;
	TEST_STREQ(m->text, "Please look at this.");
	TEST_INTEQ(m->attachments->len, 1);
	a = att(m, 0);
	TEST_CHECK(a != NULL);
	if (a == NULL)
		goto out;
	TEST_CHECK(a->is_message);
	TEST_STREQ(a->filename, "Printer broken.eml");
	TEST_STREQ(a->content_type, "message/rfc822");
	TEST_CHECK(a->size > 0 &&
	           g_strstr_len((const char *)a->data, a->size,
	                        "The printer on floor 2 is broken.") != NULL);
	TEST_CHECK(g_strstr_len((const char *)a->data, a->size,
	                        "Message-ID: <inner-1@example.org>") != NULL);
	/* outside reports: the first attached mail, documented in mime.h */
	TEST_STREQ(m->original_message_id, "inner-1@example.org");
	TEST_CHECK(m->report_type == NULL && m->report_body == NULL);
out:
	mime_msg_free(&m);
}

static void
test_reply_outlook(void)
{
	struct mime_msg *m = parse_fixture("reply-outlook.eml");

	TEST_CHECK(m != NULL);
	if (m == NULL)
		return;
	TEST_STREQ(m->text_new, "Thanks, that fixed it.\n\nDave");
	TEST_CHECK(strstr(m->text, "Please restart the client.") != NULL);
	TEST_INTEQ(m->in_reply_to->len, 1);
	TEST_STREQ(strv(m->in_reply_to, 0), "ticket-42@helpdesk.example.com");
	TEST_INTEQ(m->references->len, 2);
	TEST_STREQ(strv(m->references, 0), "first@example.com");
	TEST_STREQ(strv(m->references, 1), "ticket-42@helpdesk.example.com");
	mime_msg_free(&m);
}

static void
test_reply_gmail(void)
{
	struct mime_msg *m = parse_fixture("reply-gmail.eml");

	TEST_CHECK(m != NULL);
	if (m == NULL)
		return;
	/* the attribution is wrapped over two lines */
	TEST_STREQ(m->text_new,
	           "It still does not work.\nSame error as before.");
	TEST_STREQ(strv(m->in_reply_to, 0), "ticket-43@helpdesk.example.com");
	mime_msg_free(&m);
}

static void
test_dsn(void)
{
	struct mime_msg *m = parse_fixture("dsn.eml");

	TEST_CHECK(m != NULL);
	if (m == NULL)
		return;
	TEST_STREQ(m->content_type, "multipart/report");
	TEST_STREQ(m->report_type, "delivery-status");
	TEST_CHECK(m->report_body != NULL &&
	           strstr(m->report_body, "Action: failed\nStatus: 5.1.1") !=
	               NULL);
	/* folded Message-ID in the text/rfc822-headers part */
	TEST_STREQ(m->original_message_id, "ticket-44.1@helpdesk.example.com");
	TEST_CHECK(m->original_headers != NULL &&
	           g_str_has_prefix(m->original_headers,
	                            "From: support@example.com\n"));
	TEST_STREQ(m->text, "I'm sorry to have to inform you that your "
	                    "message could not\n"
	                    "be delivered to one or more recipients.");
	TEST_STREQ(mime_header(m, "AUTO-SUBMITTED"), "auto-replied");
	TEST_STREQ(mime_first_from(m)->addr, "mailer-daemon@mx.example.com");
	mime_msg_free(&m);
}

static void
test_uuencode(void)
{
	struct mime_msg *m = parse_fixture("uuencode.eml");
	const struct mime_attachment *a;

	TEST_CHECK(m != NULL);
	if (m == NULL)
		return;
	TEST_INTEQ(m->attachments->len, 1);
	a = att(m, 0);
	TEST_CHECK(a != NULL);
	if (a == NULL)
		goto out;
	TEST_STREQ(a->filename, "hello.txt");
	TEST_STREQ(a->content_type, "text/plain");
	TEST_INTEQ(a->size, 17);
	TEST_CHECK(a->size == 17 &&
	           memcmp(a->data, "Hello, uuencode!\n", 17) == 0);
	/* the block and Notes' announcement lines leave the text */
	TEST_STREQ(m->text, "Here is the log.\n\n(See attached file: "
	                    "hello.txt)\n\n\nBye.\n");
out:
	mime_msg_free(&m);
}

static void
test_empty_and_junk(void)
{
	static const unsigned char junk[] = {0x00, 0xff, 0xfe, 0x01, 0x80,
	                                     0x9c, 0x00, 0x00, 0x7f, 0xc3};
	struct mime_msg *m = mime_parse("", 0, NULL);

	TEST_CHECK(m->unparsed);
	TEST_STREQ(m->subject, "");
	TEST_STREQ(m->text, "");
	TEST_STREQ(m->text_new, "");
	TEST_CHECK(m->defects->len > 0);
	TEST_CHECK(m->html == NULL && m->message_id == NULL);
	TEST_INTEQ(m->attachments->len, 0);
	mime_msg_free(&m);

	m = mime_parse(junk, sizeof(junk), NULL);
	TEST_CHECK(m->unparsed);
	TEST_STREQ(m->subject, "");
	TEST_STREQ(m->text, "");
	TEST_CHECK(m->defects->len > 0);
	TEST_CHECK(all_valid(m));
	mime_msg_free(&m);

	mime_msg_free(&m); /* NULL is fine */
	mime_msg_free(NULL);
}

static void
test_first_line_junk(void)
{
	/* a leading continuation line made GMime give up; we skip it */
	static const char raw[] = "   \nSubject: still a mail\nFrom: a@b.c"
	                          "\n\nbody\n";
	struct mime_msg *m = mime_parse(raw, sizeof(raw) - 1, NULL);

	TEST_CHECK(!m->unparsed);
	TEST_STREQ(m->subject, "still a mail");
	TEST_STREQ(m->text, "body\n");
	TEST_CHECK(has_defect(m, "skipped"));
	mime_msg_free(&m);
}

static void
test_limits(void)
{
	GString *s = g_string_new("Subject: deep\nContent-Type: "
	                          "multipart/mixed; boundary=\"b0\"\n\n");
	struct mime_limits lim = {0};
	struct mime_msg *m;

	for (int i = 1; i < 30; i++)
		g_string_append_printf(s,
		                       "--b%d\nContent-Type: multipart/mixed; "
		                       "boundary=\"b%d\"\n\n",
		                       i - 1, i);
	g_string_append(s, "--b29\nContent-Type: text/plain\n\ndeep text\n");
	m = mime_parse(s->str, s->len, NULL);
	TEST_CHECK(has_defect(m, "limit: nesting deeper than 20"));
	TEST_CHECK(strstr(m->text, "deep text") == NULL);
	TEST_CHECK(!m->unparsed);
	mime_msg_free(&m);

	lim.max_depth = 40;
	m = mime_parse(s->str, s->len, &lim);
	TEST_CHECK(!has_defect(m, "limit:"));
	TEST_STREQ(m->text, "deep text\n");
	mime_msg_free(&m);
	g_string_free(s, TRUE);

	s = g_string_new("Subject: many\nX-A: 1\nX-B: 2\nX-C: 3\nX-D: 4\n"
	                 "Content-Type: multipart/mixed; boundary=\"z\"\n\n");
	for (int i = 0; i < 6; i++)
		g_string_append_printf(s,
		                       "--z\nContent-Type: application/"
		                       "octet-stream\n\npart %d\n",
		                       i);
	g_string_append(s, "--z--\n");
	memset(&lim, 0, sizeof(lim));
	lim.max_parts = 4;
	lim.max_headers = 3;
	m = mime_parse(s->str, s->len, &lim);
	TEST_INTEQ(m->attachments->len, 4);
	TEST_INTEQ(m->headers->len, 3);
	TEST_CHECK(has_defect(m, "limit: more than 4 parts"));
	TEST_CHECK(has_defect(m, "limit: 6 header fields, kept 3"));
	mime_msg_free(&m);
	g_string_free(s, TRUE);

	memset(&lim, 0, sizeof(lim));
	lim.max_text = 8;
	m = mime_parse("Subject: t\n\nüüüüü more\n",
	               strlen("Subject: t\n\nüüüüü more\n"), &lim);
	TEST_CHECK(strlen(m->text) <= 8);
	TEST_STREQ(m->text, "üüüü"); /* cut on a character boundary */
	TEST_CHECK(has_defect(m, "limit:"));
	mime_msg_free(&m);
}

/*
 * A mail over the size limit.  tickets.max_mail_size (25 MB) is enforced by
 * ingest.c, which then parses only the header block; the parse module's own
 * bound is max_text (4 MiB of body text by default).  Both paths are checked
 * here: the header block alone gives a complete, empty-bodied description,
 * and a 5 MiB body is cut (not dropped) with a defect, its attachment kept.
 */
static void
test_size_limit(void)
{
	static const char head[] =
	    "From: Big Sender <big@example.com>\r\n"
	    "To: support@example.com\r\n"
	    "Subject: =?utf-8?q?gro=C3=9Fe_Datei?=\r\n"
	    "Message-ID: <big-1@example.com>\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=\"BIG\"\r\n"
	    "\r\n";
	GString *s = g_string_new(head);
	struct mime_msg *m;
	size_t body = 5u << 20;
	bool all_x = true;

	g_string_append(s, "--BIG\r\nContent-Type: text/plain; "
	                   "charset=us-ascii\r\n\r\n");
	for (size_t i = 0; i < body / 64; i++)
		g_string_append(s,
		                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		                "xxxxxxxxxxxxxxx\r\n");
	g_string_append(s, "--BIG\r\nContent-Type: application/octet-stream; "
	                   "name=\"data.bin\"\r\nContent-Transfer-Encoding: "
	                   "base64\r\n\r\nAAECAw==\r\n--BIG--\r\n");

	/* what ingest.c parses of a mail over tickets.max_mail_size */
	m = mime_parse(s->str, strlen(head), NULL);
	TEST_CHECK(!m->unparsed);
	TEST_STREQ(m->subject, "große Datei");
	TEST_STREQ(mime_first_from(m)->addr, "big@example.com");
	TEST_STREQ(m->message_id, "big-1@example.com");
	TEST_STREQ(m->text, "");
	TEST_INTEQ(m->attachments->len, 0);
	mime_msg_free(&m);

	/*
	 * The whole mail: 5 MiB of text is cut to max_text (4 MiB) of the
	 * decoded CRLF lines, 63 bytes each, whose CRs then go: 4194304 bytes
	 * hold 66576 whole lines (and 16 x), so 4194304 - 66576 = 4127728.
	 */
	m = mime_parse(s->str, s->len, NULL);
	TEST_INTEQ(strlen(m->text), 4127728);
	for (const char *p = m->text; *p != '\0' && all_x; p++)
		all_x = *p == 'x' || *p == '\n';
	TEST_CHECK(all_x);
	TEST_CHECK(has_defect(m, "limit: body part cut to 4194304 bytes"));
	TEST_INTEQ(m->attachments->len, 1);
	TEST_STREQ(att(m, 0)->filename, "data.bin");
	TEST_INTEQ(att(m, 0)->size, 4);
	TEST_CHECK(att(m, 0)->size == 4 &&
	           memcmp(att(m, 0)->data, "\x00\x01\x02\x03", 4) == 0);
	TEST_CHECK(all_valid(m));
	mime_msg_free(&m);
	g_string_free(s, TRUE);
}

/*
 * GMime reads "ZWg=\n--b" in a CRLF mail as if the line ended in CRLF and
 * cut the '=' (Dovecot's test mail, Stalwart thirdparty/001): the last byte
 * of a part before a bare-LF boundary line must survive.
 */
static void
test_bare_lf_before_boundary(void)
{
	static const char raw[] =
	    "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
	    "--b\r\nContent-Type: text/plain\r\n\r\nZWg=\n"
	    "--b\r\nContent-Type: text/plain\r\n\r\nxyz\n--b--\r\n";
	static const char crlf[] =
	    "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
	    "--b\r\nContent-Type: text/plain\r\n\r\nZWg=\r\n"
	    "--b\r\nContent-Type: text/plain\r\n\r\nxyz\r\n--b--\r\n";
	struct mime_msg *m;

	m = mime_parse(raw, sizeof(raw) - 1, NULL);
	TEST_STREQ(m->text, "ZWg=\nxyz");
	mime_msg_free(&m);
	m = mime_parse(crlf, sizeof(crlf) - 1, NULL);
	TEST_STREQ(m->text, "ZWg=\nxyz");
	mime_msg_free(&m);
}

/*
 * A text part whose base64 holds characters outside the alphabet is not
 * decoded into noise in the body: it becomes an attachment with its bytes
 * as they came (Dovecot's test mail, Stalwart thirdparty/002).
 */
static void
test_invalid_base64_text(void)
{
	static const char raw[] =
	    "Content-Type: multipart/mixed; boundary=foo\n\n"
	    "--foo\nContent-Type: text/plain; charset=utf-8\n"
	    "Content-Transfer-Encoding: base64\n\n"
	    "ecO2dMOkIHZhYW4uCg==\n"
	    "--foo\nContent-Type: text/plain; charset=utf-8\n"
	    "Content-Transfer-Encoding: base64\n\n?garbage\n--foo--\n";
	struct mime_msg *m = mime_parse(raw, sizeof(raw) - 1, NULL);

	/* "ecO2dMOkIHZhYW4uCg==" is base64 of "yötä vaan.\n" */
	TEST_STREQ(m->text, "yötä vaan.\n");
	TEST_INTEQ(m->attachments->len, 1);
	TEST_STREQ(att(m, 0)->content_type, "text/plain");
	TEST_INTEQ(att(m, 0)->size, 8);
	TEST_CHECK(att(m, 0)->size == 8 &&
	           memcmp(att(m, 0)->data, "?garbage", 8) == 0);
	TEST_CHECK(has_defect(m, "invalid base64"));
	mime_msg_free(&m);
}

/*
 * Inputs the fuzzer (make fuzz) found, in tests/unit/fixtures/fuzz/mime/: each
 * must parse into a valid description.  Under SANITIZE=1 the sanitizers
 * check the rest (the first was undefined behaviour, not a crash).
 */
static void
test_fuzz_regressions(void)
{
	static const char *const names[] = {"empty-html-part.eml"};
	char meta[40];

	/* an empty text/html part: html_meta_charset got (NULL, 0) */
	TEST_CHECK(!html_meta_charset(NULL, 0, meta, sizeof(meta)));
	TEST_CHECK(!html_meta_charset("", 0, meta, sizeof(meta)));
	TEST_CHECK(html_meta_charset("<meta charset=\"KOI8-R\">", 23, meta,
	                             sizeof(meta)) &&
	           strcmp(meta, "koi8-r") == 0);
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		char *path = g_strconcat("tests/unit/fixtures/fuzz/mime/",
		                         names[i], NULL);
		char *data = NULL;
		gsize len = 0;
		struct mime_msg *m;

		TEST_CHECK(g_file_get_contents(path, &data, &len, NULL));
		m = mime_parse(data, len, NULL);
		TEST_CHECK(m != NULL && !m->unparsed && all_valid(m));
		mime_msg_free(&m);
		g_free(data);
		g_free(path);
	}
}

/* check_to - m has one To: mailbox, name <addr>. */
static void
check_to(const struct mime_msg *m, const char *name, const char *addr)
{
	TEST_INTEQ(m->to->len, 1);
	if (m->to->len == 1) {
		const struct mime_addr *to = g_ptr_array_index(m->to, 0);

		TEST_STREQ(to->name, name);
		TEST_STREQ(to->addr, addr);
	}
}

static void
test_build_roundtrip(void)
{
	static const char *const extra[] = {"Auto-Submitted",
	                                    "auto-replied",
	                                    "X-Tickd-Ticket",
	                                    "42",
	                                    "Bad:Name",
	                                    "x",
	                                    NULL};
	struct mime_out o = {
	    .from_name = "Helpdesk",
	    .from_addr = "support@example.com",
	    .to_name = "Jürgen Müller",
	    .to_addr = "j@example.de",
	    .subject = "Re: [#42] Überprüfung – ✓",
	    .text = "Grüße,\nIhr Team\n",
	    .html = "<p>Grüße</p>",
	    .message_id = "m1@helpdesk.example.com",
	    .in_reply_to = "orig@example.de",
	    .references = "a@x b@y",
	    .extra = extra,
	    .date = 1704800000,
	};
	GBytes *b = mime_build(&o);
	const char *wire;
	gsize len = 0;
	bool crlf = true, seven_bit = true;
	struct mime_msg *m;

	TEST_CHECK(b != NULL);
	if (b == NULL)
		return;
	wire = g_bytes_get_data(b, &len);
	for (gsize i = 0; i < len; i++) {
		if (wire[i] == '\n' && (i == 0 || wire[i - 1] != '\r'))
			crlf = false;
		if ((unsigned char)wire[i] > 0x7e)
			seven_bit = false;
	}
	TEST_CHECK(crlf);
	TEST_CHECK(seven_bit);
	TEST_CHECK(g_strstr_len(wire, len, "\r\nSubject: Re: [#42] =?UTF-8?") !=
	           NULL);
	TEST_CHECK(g_strstr_len(wire, len, "multipart/alternative") != NULL);
	TEST_CHECK(g_strstr_len(wire, len, "Bad:Name") == NULL);

	m = mime_parse(wire, len, NULL);
	TEST_STREQ(m->subject, "Re: [#42] Überprüfung – ✓");
	TEST_STREQ(m->message_id, "m1@helpdesk.example.com");
	TEST_STREQ(strv(m->in_reply_to, 0), "orig@example.de");
	TEST_INTEQ(m->references->len, 2);
	TEST_STREQ(strv(m->references, 1), "b@y");
	TEST_STREQ(mime_header(m, "Auto-Submitted"), "auto-replied");
	TEST_STREQ(mime_header(m, "X-Tickd-Ticket"), "42");
	TEST_STREQ(m->text, "Grüße,\nIhr Team\n");
	TEST_CHECK(m->html != NULL && strstr(m->html, "<p>Grüße</p>") != NULL);
	TEST_STREQ(mime_first_from(m)->addr, "support@example.com");
	check_to(m, "Jürgen Müller", "j@example.de");
	TEST_INTEQ(m->date, 1704800000);
	TEST_INTEQ(m->defects->len, 0);
	mime_msg_free(&m);
	g_bytes_unref(b);

	/* text alone: a single text/plain part */
	o.html = NULL;
	o.extra = NULL;
	b = mime_build(&o);
	wire = g_bytes_get_data(b, &len);
	TEST_CHECK(g_strstr_len(wire, len, "multipart") == NULL);
	m = mime_parse(wire, len, NULL);
	TEST_STREQ(m->content_type, "text/plain");
	TEST_STREQ(m->text, "Grüße,\nIhr Team\n");
	mime_msg_free(&m);
	g_bytes_unref(b);

	o.text = NULL;
	TEST_CHECK(mime_build(&o) == NULL);
}

/* wire_ok - CRLF line ends only, 7-bit, no line over 998 octets. */
static bool
wire_ok(GBytes *b)
{
	gsize len = 0;
	const char *w = g_bytes_get_data(b, &len);
	gsize line = 0;

	for (gsize i = 0; i < len; i++) {
		if (w[i] == '\n' && (i == 0 || w[i - 1] != '\r'))
			return false;
		if (w[i] == '\r' && (i + 1 == len || w[i + 1] != '\n'))
			return false;
		if ((unsigned char)w[i] > 0x7f || w[i] == '\0')
			return false;
		line = w[i] == '\n' ? 0 : line + 1;
		if (line > 999) /* (998 and the CR) */
			return false;
	}
	return true;
}

/* build_header_count - how many times "\r\nname:" opens a field. */
static int
build_header_count(GBytes *b, const char *name)
{
	gsize len = 0;
	const char *w = g_bytes_get_data(b, &len);
	char *needle = g_strdup_printf("\r\n%s:", name);
	int n = 0;

	for (const char *p = w; (p = g_strstr_len(p, w + len - p, needle)); p++)
		n++;
	g_free(needle);
	return n;
}

/* What a stranger controls in an acknowledgement (their name, the
 * subject, quoted ids) and what a template may hold (long lines, "From "
 * lines, 8-bit text, the boundary itself) must come back intact and never
 * make a header of its own. */
static void
test_build_hostile(void)
{
	GString *refs = g_string_new(NULL), *longline = g_string_new(NULL);
	char *ids[40];
	char longid[200];
	struct mime_out o = {
	    .from_name = "Help\r\nBcc: evil@example.net",
	    .from_addr = "support@example.com",
	    .to_name = "\"Quoted\", <angle>; Ünïcødé\nX-Evil: 1",
	    .to_addr = "c@example.org",
	    .subject = "a\r\nX-Injected: yes",
	    .text = "From the start\n.\nFrom here\n",
	    .message_id = "m2@helpdesk.example.com",
	    .date = 1704800000,
	};
	struct mime_msg *m;
	GBytes *b;
	gsize len;
	const char *wire;

	for (int i = 0; i < 40; i++) {
		ids[i] =
		    g_strdup_printf("%d.%s@mail.example.com", i,
		                    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
		g_string_append_printf(refs, "%s%s", i ? " \t " : "  ", ids[i]);
	}
	memset(longid, 'b', sizeof(longid));
	memcpy(longid + sizeof(longid) - 14, "@x.example.com", 14);
	longid[sizeof(longid) - 1] = '\0';
	o.references = refs->str;
	/* an id longer than a line is written whole: a fold would cut it */
	o.in_reply_to = longid;
	b = mime_build(&o);
	TEST_CHECK(wire_ok(b));
	TEST_INTEQ(build_header_count(b, "Bcc"), 0);
	TEST_INTEQ(build_header_count(b, "X-Evil"), 0);
	TEST_INTEQ(build_header_count(b, "X-Injected"), 0);
	TEST_INTEQ(build_header_count(b, "References"), 1);
	wire = g_bytes_get_data(b, &len);
	/* ASCII in short lines: 7bit, "."-lines left to SMTP's dot-stuffing */
	TEST_CHECK(g_strstr_len(wire, len, "Content-Transfer-Encoding") ==
	           NULL);
	m = mime_parse(wire, len, NULL);
	TEST_STREQ(m->subject, "a  X-Injected: yes");
	TEST_STREQ(m->text, "From the start\n.\nFrom here\n");
	TEST_STREQ(mime_first_from(m)->name, "Help  Bcc: evil@example.net");
	TEST_STREQ(mime_first_from(m)->addr, "support@example.com");
	check_to(m, "\"Quoted\", <angle>; Ünïcødé X-Evil: 1", "c@example.org");
	TEST_STREQ(strv(m->in_reply_to, 0), longid);
	/* folded between ids, never inside one */
	TEST_INTEQ(m->references->len, 40);
	for (guint i = 0; i < 40 && i < m->references->len; i++)
		TEST_STREQ(strv(m->references, i), ids[i]);
	mime_msg_free(&m);
	g_bytes_unref(b);

	/* mostly 8-bit: base64 of the CRLF text; back as it was */
	o.text = "ÄÖÜ äöü ß ✓✓✓\nzweite Zeile ëëë\n";
	o.references = NULL;
	b = mime_build(&o);
	wire = g_bytes_get_data(b, &len);
	TEST_CHECK(wire_ok(b));
	TEST_CHECK(g_strstr_len(wire, len, "base64") != NULL);
	m = mime_parse(wire, len, NULL);
	TEST_STREQ(m->text, o.text);
	mime_msg_free(&m);
	g_bytes_unref(b);

	/* a line over 998 octets: quoted-printable, soft breaks undone */
	g_string_append_c(longline, 'x');
	for (int i = 0; i < 3000; i++)
		g_string_append_c(longline, "ab "[i % 3]);
	g_string_append(longline, "\nend\n");
	o.text = longline->str;
	b = mime_build(&o);
	TEST_CHECK(wire_ok(b));
	wire = g_bytes_get_data(b, &len);
	m = mime_parse(wire, len, NULL);
	TEST_STREQ(m->text, longline->str);
	mime_msg_free(&m);
	g_bytes_unref(b);

	/* text that looks like the builder's delimiters (its boundary has 96
	 * random bits; a text holding it would be quoted-printable): the parts
	 * still split where the builder put them */
	o.text = "before\n--=_tickd_\n--=_tickd_00000000--\nafter\n";
	o.html = "<p>--=_tickd_</p>";
	b = mime_build(&o);
	TEST_CHECK(wire_ok(b));
	wire = g_bytes_get_data(b, &len);
	m = mime_parse(wire, len, NULL);
	TEST_STREQ(m->text, o.text);
	TEST_CHECK(m->html != NULL && strstr(m->html, "--=_tickd_") != NULL);
	TEST_INTEQ(m->attachments->len, 0);
	mime_msg_free(&m);
	g_bytes_unref(b);

	for (int i = 0; i < 40; i++)
		g_free(ids[i]);
	g_string_free(refs, TRUE);
	g_string_free(longline, TRUE);
}

/* parse_str - mime_parse of a NUL-terminated literal. */
static struct mime_msg *
parse_str(const char *mail)
{
	return mime_parse(mail, strlen(mail), NULL);
}

static void
test_unterminated_part(void)
{
	/* plain text complete, the HTML alternative cut off with the mail */
	struct mime_msg *m =
	    parse_str("Content-Type: multipart/alternative; boundary=b\n\n"
	              "--b\nContent-Type: text/plain\n\nHello\n"
	              "--b\nContent-Type: text/html\n\n<p>Hel");
	const struct mime_attachment *a;

	TEST_STREQ(m->text, "Hello");
	TEST_CHECK(m->html == NULL);
	TEST_CHECK(m->attachments->len == 1);
	a = att(m, 0);
	TEST_CHECK(a != NULL && strcmp(a->content_type, "text/html") == 0 &&
	           a->size == 6 && memcmp(a->data, "<p>Hel", 6) == 0);
	TEST_CHECK(has_defect(m, "without closing boundary"));
	mime_msg_free(&m);

	/* the only body is the cut-off part: it stays the body */
	m = parse_str("Content-Type: multipart/alternative; boundary=b\n\n"
	              "--b\nContent-Type: text/plain\n\nOnly text\n");
	TEST_STREQ(m->text, "Only text\n");
	TEST_CHECK(m->attachments->len == 0);
	mime_msg_free(&m);

	/* a blank complete part does not count as a body */
	m = parse_str("Content-Type: multipart/mixed; boundary=b\n\n"
	              "--b\nContent-Type: text/plain\n\n\n"
	              "--b\nContent-Type: text/plain\n\nReal text\n");
	TEST_CHECK(strstr(m->text, "Real text") != NULL);
	TEST_CHECK(m->attachments->len == 0);
	mime_msg_free(&m);
}

static void
test_glued_close(void)
{
	/* "--b--" glued to the last line: the part ends there */
	struct mime_msg *m =
	    parse_str("Content-Type: multipart/mixed; boundary=b\n\n"
	              "--b\nContent-Type: text/plain\n\nfirst\n"
	              "--b\nContent-Type: text/plain\n\nsecond--b--\n");

	TEST_STREQ(m->text, "first\nsecond");
	TEST_CHECK(m->attachments->len == 0);
	TEST_CHECK(has_defect(m, "close delimiter"));
	mime_msg_free(&m);

	/* "--b-" on its own line: a mistyped close, not text */
	m = parse_str("Content-Type: multipart/mixed; boundary=b\n\n"
	              "--b\nContent-Type: text/plain\n\nbody\n\n--b-\n\n");
	TEST_STREQ(m->text, "body\n");
	TEST_CHECK(m->attachments->len == 0);
	mime_msg_free(&m);

	/* a boundary that ends in '-' ("x-"): "hi--x---" closes it */
	m = parse_str("Content-Type: multipart/mixed; boundary=x-\n\n"
	              "--x-\nContent-Type: text/plain\n\na\n"
	              "--x-\nContent-Type: text/plain\n\nhi--x---\n");
	TEST_STREQ(m->text, "a\nhi");
	mime_msg_free(&m);

	/* "--bx" is no close of b: the text keeps it */
	m = parse_str("Content-Type: multipart/mixed; boundary=b\n\n"
	              "--b\nContent-Type: text/plain\n\nx--bx\n");
	TEST_STREQ(m->text, "x--bx\n");
	mime_msg_free(&m);
}

static void
test_boundary_prefix(void)
{
	/* "--bx" starts with boundary b: a delimiter (RFC 2046 5.1.1) */
	struct mime_msg *m =
	    parse_str("Content-Type: multipart/mixed; boundary=b\n\n"
	              "--b\nContent-Type: text/plain\n\none\n"
	              "--bx trailing words\nContent-Type: text/plain\n\ntwo\n"
	              "--b--\n");

	TEST_STREQ(m->text, "one\ntwo");
	TEST_CHECK(m->attachments->len == 0);
	TEST_CHECK(has_defect(m, "boundary lines with text after"));
	mime_msg_free(&m);

	/*
	 * outer "ab", inner "a": "--ab" inside the inner multipart is taken
	 * for the innermost boundary that fits ("a"), as an exact line is
	 */
	m = parse_str("Content-Type: multipart/mixed; boundary=ab\n\n"
	              "--ab\nContent-Type: multipart/mixed; boundary=a\n\n"
	              "--a\nContent-Type: text/plain\n\nin\n"
	              "--ab\nContent-Type: text/plain\n\nalso in\n"
	              "--a--\n--ab--\n");
	TEST_STREQ(m->text, "in\nalso in");
	mime_msg_free(&m);

	/* an outer boundary ends the inner multipart (RFC 2046 5.1.2) */
	m = parse_str("Content-Type: multipart/mixed; boundary=o\n\n"
	              "--o\nContent-Type: multipart/mixed; boundary=i\n\n"
	              "--i\nContent-Type: text/plain\n\nfirst\n"
	              "--o\nContent-Type: text/plain\n\nsecond\n--o--\n");
	TEST_STREQ(m->text, "first\nsecond");
	TEST_CHECK(!has_defect(m, "boundary lines with text after"));
	mime_msg_free(&m);

	/* a line that merely starts with "--" is content */
	m = parse_str("Content-Type: multipart/mixed; boundary=b\n\n"
	              "--b\nContent-Type: text/plain\n\n--c is not it\n"
	              "--b--\n");
	TEST_STREQ(m->text, "--c is not it");
	mime_msg_free(&m);
}

static void
test_quote_split(void)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"Nothing quoted here.\n", "Nothing quoted here."},
	    {"Fine.\n\n-----Original Message-----\nFrom: x\n", "Fine."},
	    {"Danke!\n\nVon: Support <s@x.de>\nGesendet: Montag, 8. Januar"
	     "\nAn: Max\nBetreff: Test\n\nalt\n",
	     "Danke!"},
	    {"Merci\n\nDe : Support <s@x.fr>\nEnvoyé : lundi 8 janvier\n"
	     "À : Jean\n",
	     "Merci"},
	    {"Merci beaucoup\n\nLe lun. 8 janv. 2024 à 10:00, Support "
	     "<s@x.fr> a écrit :\n> ancien\n",
	     "Merci beaucoup"},
	    {"Geht wieder.\n\nAm 08.01.2024 um 10:00 schrieb Support "
	     "<s@x.de>:\n> alt\n",
	     "Geht wieder."},
	    {"Yes.\n\n> old line\n> older line\n", "Yes."},
	    {"Best answer\n-- \nJohn Doe\nACME\n", "Best answer"},
	    {"Bob wrote:\n> question?\n\nMy answer below.\n-- \nBob\n",
	     "My answer below."},
	    /* s-nail (Debian's s-nail.rc): "%f wrote:", a blank line, the
	     * quote, the answer below it */
	    {"Support <s@x.com> wrote:\n\n> Ticket #1: new\n> \n> -- \n"
	     "> Support\nPull the plug.\n",
	     "Pull the plug."},
	    {"On Tue, Support wrote:\n\n> old\n\nNew words.\n", "New words."},
	    /* a line ending in ':' alone, a gap, then a quote: kept */
	    {"Here is the log:\n\n> error 42\n\nWhat now?\n",
	     "Here is the log:\n\n> error 42\n\nWhat now?"},
	    {"See below.\n\n---------- Forwarded message ---------\n"
	     "From: Carol <c@x>\nDate: Mon, Jan 8\nSubject: x\n\nbody\n",
	     "See below.\n\n---------- Forwarded message ---------\n"
	     "From: Carol <c@x>\nDate: Mon, Jan 8\nSubject: x\n\nbody"},
	    /* nothing of its own: the forward itself is the news */
	    {"-----Original Message-----\nFrom: Kevin\nSent: today\n\n"
	     "Printer on fire.\n",
	     "-----Original Message-----\nFrom: Kevin\nSent: today\n\n"
	     "Printer on fire."},
	    {"", ""},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *out = mime_quote_split(cases[i].in);

		TEST_STREQ(out, cases[i].want);
		g_free(out);
	}
}

static void
test_html_deep(void)
{
	GString *h = g_string_new(NULL);
	char *t;

	/* mailparser's htmllargecallstack.eml in small: no recursion */
	for (int i = 0; i < 100000; i++)
		g_string_append(h, "<div>");
	g_string_append(h, "deep &lt;text&gt;");
	t = mime_html_to_text(h->str, h->len);
	TEST_STREQ(t, "deep <text>");
	g_free(t);
	g_string_free(h, TRUE);

	t = mime_html_to_text("", 0);
	TEST_STREQ(t, "");
	g_free(t);
	/* invalid UTF-8 and a NUL in the middle */
	t = mime_html_to_text("<p>a\xff"
	                      "\x00"
	                      "b</p>",
	                      11);
	TEST_STREQ(t, "a\xef\xbf\xbd"
	              "b");
	g_free(t);
}

/* Content-Language of a plain mail: GMime files Content-* headers under
 * the top-level part, not the message (issue 12 picks the reply language
 * from it). */
static void
test_content_language(void)
{
	static const char raw[] = "From: a@b.example\r\nSubject: x\r\n"
	                          "MIME-Version: 1.0\r\n"
	                          "Content-Type: text/plain; charset=utf-8\r\n"
	                          "Content-Language: de-DE\r\n\r\nHallo\r\n";
	static const char none[] =
	    "From: a@b.example\r\nSubject: x\r\n\r\nHi\r\n";
	struct mime_msg *m = mime_parse(raw, sizeof(raw) - 1, NULL);

	TEST_STREQ(m->language, "de-DE");
	mime_msg_free(&m);
	m = mime_parse(none, sizeof(none) - 1, NULL);
	TEST_CHECK(m->language == NULL);
	mime_msg_free(&m);
}

/* Raw GB2312 in Subject and file name; the text part declares gb2312. */
static void
test_raw_declared_charset(void)
{
	struct mime_msg *m = parse_fixture("raw-gb2312-header.eml");

	TEST_CHECK(m != NULL);
	if (m == NULL)
		return;
	TEST_STREQ(m->subject, "转发：关于发票的问题");
	TEST_STREQ(mime_header(m, "Subject"), "转发：关于发票的问题");
	TEST_STREQ(mime_first_from(m)->name, "张伟");
	TEST_STREQ(m->text, "你好，请看附件。");
	TEST_INTEQ(m->attachments->len, 1);
	if (att(m, 0) != NULL)
		TEST_STREQ(att(m, 0)->filename, "报告.doc");
	TEST_CHECK(has_defect(m, "unencoded 8-bit header"));
	TEST_CHECK(all_valid(m));
	mime_msg_free(&m);
}

/* Raw Shift_JIS, nothing declared: mime.fallback_charsets decides. */
static void
test_raw_configured_charset(void)
{
	static const char *const sjis[] = {"shift_jis", NULL};
	static const char *const gb[] = {"gb18030", NULL};
	struct mime_limits lim = {0};
	char *data = NULL;
	gsize len = 0;
	struct mime_msg *m;

	TEST_CHECK(g_file_get_contents(FIXTURES "raw-sjis-undeclared.eml",
	                               &data, &len, NULL));
	if (data == NULL)
		return;
	/* two 8-bit bytes are too few to guess from: without the key they
	   are Windows-1252 noise (valid UTF-8), with it the right kanji */
	{
		static const char raw[] = "From: a@example.jp\n"
		                          "Subject: Re: \x8c\x8f #12\n\nx\n";

		m = mime_parse(raw, sizeof(raw) - 1, NULL);
		TEST_CHECK(strcmp(m->subject, "Re: 件 #12") != 0);
		TEST_CHECK(all_valid(m));
		mime_msg_free(&m);
		lim.extra_charsets = sjis;
		m = mime_parse(raw, sizeof(raw) - 1, &lim);
		TEST_STREQ(m->subject, "Re: 件 #12");
		mime_msg_free(&m);
	}
	lim.extra_charsets = sjis;
	m = mime_parse(data, len, &lim);
	TEST_STREQ(m->subject, "お問い合わせの件");
	TEST_INTEQ(m->attachments->len, 1);
	if (att(m, 0) != NULL)
		TEST_STREQ(att(m, 0)->filename, "見積書.pdf");
	TEST_STREQ(m->text, "please see the quote");
	mime_msg_free(&m);

	/* a list starting with a charset the bytes do not fit: next one */
	{
		static const char *const both[] = {"iso-2022-jp", "shift_jis",
		                                   NULL};

		lim.extra_charsets = both;
		m = mime_parse(data, len, &lim);
		TEST_STREQ(m->subject, "お問い合わせの件");
		mime_msg_free(&m);
	}
	/* a Chinese team's list on a GB18030 subject */
	{
		static const char raw[] =
		    "From: a@example.cn\nSubject: \xc4\xe3\xba\xc3\n\nx\n";

		lim.extra_charsets = gb;
		m = mime_parse(raw, sizeof(raw) - 1, &lim);
		TEST_STREQ(m->subject, "你好");
		mime_msg_free(&m);
	}
	g_free(data);
}

/*
 * Nothing declared, nothing configured: libuchardet's guess, taken only
 * for a multi-byte charset the bytes convert from.
 */
static void
test_raw_guessed_charset(void)
{
	struct mime_msg *m = parse_fixture("raw-sjis-guess.eml");

	TEST_CHECK(m != NULL);
	if (m == NULL)
		return;
	TEST_STREQ(m->subject, "お問い合わせ：見積書の件について");
	TEST_INTEQ(m->attachments->len, 1);
	if (att(m, 0) != NULL)
		TEST_STREQ(att(m, 0)->filename, "見積書.pdf");
	mime_msg_free(&m);
	/* single-byte guesses are not taken (the guesser calls "\xe1\xe2"
	   ISO-8859-7): Latin-1 headers stay Windows-1252 */
	m = parse_fixture("latin1-subject.eml");
	TEST_STREQ(m->subject, "Café crème brûlée");
	mime_msg_free(&m);
	{
		static const char raw[] = "Subject: \xe1\xe2\xe1\xe2\n\nx\n";

		m = mime_parse(raw, sizeof(raw) - 1, NULL);
		TEST_STREQ(m->subject, "áâáâ");
		mime_msg_free(&m);
	}
}

/* A raw ISO-2022-JP subject is 7-bit: escapes, no encoded word. */
static void
test_raw_iso2022jp_subject(void)
{
	struct mime_msg *m = parse_fixture("raw-iso2022jp-subject.eml");

	TEST_CHECK(m != NULL);
	if (m == NULL)
		return;
	TEST_STREQ(m->subject, "メールエラー通知");
	TEST_STREQ(mime_header(m, "Subject"), "メールエラー通知");
	TEST_STREQ(m->text, "送信されたメールは配信できませんでした。\n");
	mime_msg_free(&m);
}

/* Encoded words split in the middle of a character are decoded whole. */
static void
test_split_encoded_words(void)
{
	struct mime_msg *m = parse_fixture("split-words.eml");

	TEST_CHECK(m != NULL);
	if (m == NULL)
		return;
	TEST_STREQ(m->subject, "件名：日本語のテスト");
	TEST_STREQ(mime_first_from(m)->name, "Jürgen Groß");
	TEST_STREQ(mime_first_from(m)->addr, "jg@example.de");
	TEST_STREQ(mime_header(m, "X-Jis"), "お見積もりについて");
	TEST_STREQ(mime_header(m, "X-Q"), "Grüße");
	/* other charsets are not merged; a lone bad byte stays one char */
	TEST_CHECK(
	    g_str_has_prefix(mime_header(m, "X-Mixed"), "café crème and "));
	TEST_CHECK(g_str_has_suffix(mime_header(m, "X-Mixed"), " plain"));
	TEST_INTEQ(m->attachments->len, 1);
	if (att(m, 0) != NULL)
		TEST_STREQ(att(m, 0)->filename, "Übersicht.pdf");
	TEST_CHECK(all_valid(m));
	mime_msg_free(&m);

	/* many unclosed words (no "?=" anywhere) are text, read once each */
	{
		GString *g = g_string_new("Subject: ");
		struct mime_msg *h;

		for (int i = 0; i < 20000; i++)
			g_string_append(g, "=?utf-8?B?QUJD");
		g_string_append(g, "\n\nx\n");
		h = mime_parse(g->str, g->len, NULL);
		TEST_CHECK(g_str_has_prefix(h->subject,
		                            "=?utf-8?B?QUJD=?utf-8?B?QUJD"));
		mime_msg_free(&h);
		g_string_free(g, TRUE);
	}
}

/* From lines real mailers write: the address is never lost. */
static void
test_from_salvage(void)
{
	static const struct {
		const char *from, *addr, *name;
		bool defect;
	} cases[] = {
	    /* unbalanced quotes */
	    {"\"Doe, John <john.doe@example.com>", "john.doe@example.com",
	     "Doe, John", false},
	    {"John \"Jack\" Doe <john.doe@example.com", "john.doe@example.com",
	     "John Jack Doe", false},
	    /* display name with an @, no angle brackets */
	    {"Support @ Acme support@acme.example", "support@acme.example",
	     "Support @ Acme", true},
	    {"\"john.doe@example.com\" john.doe@example.com",
	     "john.doe@example.com", NULL, true},
	    {"Doe John john.doe@example.com", "john.doe@example.com",
	     "Doe John", true},
	    /* a bare address followed by junk */
	    {"john.doe@example.com junk", "john.doe@example.com", NULL, true},
	    {"john.doe@example.com (John Doe) junk here",
	     "john.doe@example.com", "John Doe", false},
	    /* a trailing dot */
	    {"john.doe@example.com.", "john.doe@example.com", NULL, false},
	    {"John Doe <john.doe@example.com.>", "john.doe@example.com",
	     "John Doe", false},
	    /* brackets GMime does not know, a quoted bare address */
	    {"John Doe [john.doe@example.com]", "john.doe@example.com",
	     "John Doe", true},
	    {"John Doe <mailto:john.doe@example.com>", "john.doe@example.com",
	     "John Doe", true},
	    {"\"john.doe@example.com\"", "john.doe@example.com", NULL, true},
	    /* a comma missing between two good mailboxes: both kept */
	    {"tim@example.com ann@example.com", "tim@example.com", NULL, false},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *raw = g_strdup_printf("From: %s\nTo: s@example.com\n"
		                            "Subject: t\n\nx\n",
		                            cases[i].from);
		struct mime_msg *m = mime_parse(raw, strlen(raw), NULL);
		const struct mime_addr *f = mime_first_from(m);
		int failed_before = test_failed;

		TEST_CHECK(f != NULL);
		if (f != NULL) {
			TEST_STREQ(f->addr, cases[i].addr);
			if (cases[i].name != NULL)
				TEST_STREQ(f->name, cases[i].name);
			else
				TEST_CHECK(f->name == NULL);
		}
		TEST_CHECK(has_defect(m, "from: salvaged") == cases[i].defect);
		if (test_failed != failed_before)
			fprintf(stderr, "  From: %s\n", cases[i].from);
		mime_msg_free(&m);
		g_free(raw);
	}
	/* no address at all: nothing invented */
	{
		static const char raw[] =
		    "From: Support @ Acme\nSubject: t\n\nx\n";
		struct mime_msg *m = mime_parse(raw, sizeof(raw) - 1, NULL);

		TEST_CHECK(!has_defect(m, "from: salvaged"));
		mime_msg_free(&m);
	}
	{
		struct mime_msg *m = parse_fixture("from-unbalanced.eml");

		TEST_CHECK(m != NULL && mime_first_from(m) != NULL);
		if (m != NULL && mime_first_from(m) != NULL)
			TEST_STREQ(mime_first_from(m)->addr,
			           "john.doe@example.com");
		mime_msg_free(&m);
	}
}

/* Names from the part itself before generic ones. */
static void
test_part_names(void)
{
	static const char *const want[] = {
	    "invoice-2024-117.pdf",  /* Content-Type name only */
	    "Quarterly figures.xls", /* Content-Description + type's ext */
	    "invitation.ics",        /* text/calendar */
	    "delivery-report.txt",   /* message/delivery-status */
	    "original-headers.txt",  /* text/rfc822-headers */
	    "original-message.eml",  /* message/rfc822 without a subject */
	    "attachment-7.bin",      /* nothing says more */
	};
	struct mime_msg *m = parse_fixture("part-names.eml");

	TEST_CHECK(m != NULL);
	if (m == NULL)
		return;
	TEST_INTEQ(m->attachments->len, ARRAY_SIZE(want));
	for (guint i = 0; i < ARRAY_SIZE(want) && att(m, i) != NULL; i++)
		TEST_STREQ(att(m, i)->filename, want[i]);
	mime_msg_free(&m);
}

/* hostile header fields: cut before GMime sees them (its decoder costs
 * ~14 bytes per byte), References keeping the root and the newest ids */
static void
test_huge_fields(void)
{
	GString *g = g_string_new("From: a@example.org\r\nSubject: ");
	struct mime_msg *m;
	const char *last;

	for (int i = 0; i < 200000; i++)
		g_string_append(g, "Re: [Example #1] ");
	g_string_append(g, "\r\nReferences:");
	for (int i = 0; i < 100000; i++)
		g_string_append_printf(g, " <r%d@x.example>\r\n", i);
	g_string_append(g, "X-Junk: ");
	for (int i = 0; i < 100000; i++)
		g_string_append(g, "junk ");
	g_string_append(g, "\r\n\r\nhello\r\n");
	m = mime_parse(g->str, g->len, NULL);
	TEST_CHECK(!m->unparsed);
	TEST_CHECK(strlen(m->subject) < 70000);
	TEST_CHECK(g_str_has_prefix(m->subject, "Re: [Example #1] Re:"));
	TEST_CHECK(m->references->len > 100 && m->references->len < 5000);
	TEST_STREQ(m->references->pdata[0], "r0@x.example");
	last = m->references->pdata[m->references->len - 1];
	TEST_STREQ(last, "r99999@x.example");
	TEST_CHECK(g_str_has_prefix(m->text, "hello"));
	TEST_STREQ(mime_header(m, "From"), "a@example.org");
	TEST_CHECK(strlen(mime_header(m, "X-Junk")) <= 16 * 1024);
	TEST_CHECK(m->defects->len > 0 &&
	           strstr(m->defects->pdata[0], "header fields over") != NULL);
	mime_msg_free(&m);
	g_string_free(g, TRUE);
}

/* GMime builds an object per header field and per part: a mail of 150k
 * fields or 100k parts is parsed only up to the first few thousand */
static void
test_many_fields_and_parts(void)
{
	GString *g = g_string_new("From: a@example.org\r\n");
	struct mime_msg *m;
	bool seen = false;

	for (int i = 0; i < 5000; i++)
		g_string_append_printf(g, "X-H%d: v\r\n", i);
	g_string_append(g, "\r\nhello\r\n");
	m = mime_parse(g->str, g->len, NULL);
	TEST_CHECK(!m->unparsed);
	TEST_STREQ(mime_first_from(m)->addr, "a@example.org");
	TEST_CHECK(g_str_has_prefix(m->text, "hello"));
	for (guint i = 0; i < m->defects->len; i++)
		seen |= strstr(m->defects->pdata[i], "header fields, 2000 "
		                                     "parsed") != NULL;
	TEST_CHECK(seen);
	mime_msg_free(&m);
	g_string_free(g, TRUE);

	g = g_string_new("From: a@example.org\r\nMIME-Version: 1.0\r\n"
	                 "Content-Type: multipart/mixed; boundary=\"b\""
	                 "\r\n\r\n");
	for (int i = 0; i < 5000; i++)
		g_string_append_printf(g,
		                       "--b\r\nContent-Type: text/plain\r\n"
		                       "\r\npart %d\r\n",
		                       i);
	g_string_append(g, "--b--\r\n");
	m = mime_parse(g->str, g->len, NULL);
	seen = false;
	for (guint i = 0; i < m->defects->len; i++)
		seen |= strstr(m->defects->pdata[i],
		               "more than 2000 MIME parts") != NULL;
	TEST_CHECK(seen);
	TEST_CHECK(g_str_has_prefix(m->text, "part 0"));
	mime_msg_free(&m);
	g_string_free(g, TRUE);
}

/* past QUOTE_MAX_LINES lines the text is all new: the index of a mail of
 * millions of "#a" lines stays small; a short reply is split as before */
static void
test_quote_many_lines(void)
{
	GString *g = g_string_new(NULL);
	char *out;

	for (int i = 0; i < 60000; i++)
		g_string_append(g, "#a\n");
	g_string_append(g, "On Mon, Bob wrote:\n> old\n");
	out = mime_quote_split(g->str);
	TEST_INTEQ(strlen(out), g->len - 1); /* trimmed: the last \n */
	g_free(out);
	g_string_assign(g, "new text\n\nOn Mon, Bob wrote:\n> old\n");
	out = mime_quote_split(g->str);
	TEST_STREQ(out, "new text");
	g_free(out);
	g_string_free(g, TRUE);
}

int
main(void)
{
	static const struct test_case cases[] = {
	    {"content_language", test_content_language},
	    {"iso2022jp", test_iso2022jp},
	    {"latin1_header", test_latin1_header},
	    {"charset_aliases", test_charset_aliases},
	    {"charset_mislabelled", test_charset_mislabelled},
	    {"charset_fallback_option", test_charset_fallback_option},
	    {"rfc2231_names", test_rfc2231_names},
	    {"raw_declared_charset", test_raw_declared_charset},
	    {"raw_configured_charset", test_raw_configured_charset},
	    {"raw_guessed_charset", test_raw_guessed_charset},
	    {"raw_iso2022jp_subject", test_raw_iso2022jp_subject},
	    {"split_encoded_words", test_split_encoded_words},
	    {"from_salvage", test_from_salvage},
	    {"part_names", test_part_names},
	    {"html_only", test_html_only},
	    {"forward", test_forward},
	    {"reply_outlook", test_reply_outlook},
	    {"reply_gmail", test_reply_gmail},
	    {"dsn", test_dsn},
	    {"uuencode", test_uuencode},
	    {"empty_and_junk", test_empty_and_junk},
	    {"first_line_junk", test_first_line_junk},
	    {"limits", test_limits},
	    {"size_limit", test_size_limit},
	    {"bare_lf_before_boundary", test_bare_lf_before_boundary},
	    {"invalid_base64_text", test_invalid_base64_text},
	    {"fuzz_regressions", test_fuzz_regressions},
	    {"unterminated_part", test_unterminated_part},
	    {"glued_close", test_glued_close},
	    {"boundary_prefix", test_boundary_prefix},
	    {"build_roundtrip", test_build_roundtrip},
	    {"build_hostile", test_build_hostile},
	    {"quote_split", test_quote_split},
	    {"huge_fields", test_huge_fields},
	    {"many_fields_and_parts", test_many_fields_and_parts},
	    {"quote_many_lines", test_quote_many_lines},
	    {"html_deep", test_html_deep},
	};
	int rc;

	mime_init();
	rc = test_run("mime", cases, ARRAY_SIZE(cases));
	mime_shutdown();
	return rc;
}
