/* Unit tests for forward.c: the inline forward blocks of Gmail, Outlook,
 * Thunderbird and Apple Mail in English and German, the attached
 * message/rfc822, the dates they write, and the bounds. */
#include "forward.h"

#include "mime.h"
#include "test.h"

#include <string.h>

/* 2026-12-01 09:00 UTC, i.e. 10:00 at +0100 */
#define T0900 1796115600
#define CET   3600

struct inline_case {
	const char *what;
	const char *text;
	const char *addr, *name, *subject;
	gint64 date; /* 0: none expected */
	const char *note, *body_start;
};

static const struct inline_case inline_cases[] = {
    {"gmail en",
     "Please look at this one.\n\n"
     "---------- Forwarded message ---------\n"
     "From: Alice Buyer <Alice@Customer.example>\n"
     "Date: Tue, Dec 1, 2026 at 10:00 AM\n"
     "Subject: Printer broken\n"
     "To: <bob@support.example>\n\n"
     "My printer is broken.\n",
     "alice@customer.example", "Alice Buyer", "Printer broken", T0900,
     "Please look at this one.", "My printer is broken."},
    {"gmail de",
     "Bitte anschauen.\n\n"
     "---------- Weitergeleitete Nachricht ---------\n"
     "Von: Anna Kunde <anna@kunde.example>\n"
     "Date: Di., 1. Dez. 2026 um 10:00 Uhr\n"
     "Subject: Drucker kaputt\n"
     "To: <bob@support.example>\n\n"
     "Mein Drucker ist kaputt.\n",
     "anna@kunde.example", "Anna Kunde", "Drucker kaputt", T0900,
     "Bitte anschauen.", "Mein Drucker ist kaputt."},
    {"thunderbird en",
     "FYI\r\n\r\n"
     "-------- Forwarded Message --------\r\n"
     "Subject: \tFwd: Invoice wrong\r\n"
     "Date: \tTue, 1 Dec 2026 10:00:00 +0100\r\n"
     "From: \t\"Carl Client\" <carl@client.example>\r\n"
     "To: \tbob@support.example\r\n"
     "\r\n"
     "The invoice is wrong.\r\n",
     "carl@client.example", "Carl Client", "Invoice wrong", T0900, "FYI",
     "The invoice is wrong."},
    {"thunderbird old",
     "-------- Original Message --------\n"
     "Subject: Login fails\n"
     "Date: Tue, 01 Dec 2026 09:00:00 GMT\n"
     "From: dana@client.example\n"
     "To: bob@support.example\n\n"
     "Cannot log in.\n",
     "dana@client.example", NULL, "Login fails", T0900, "", "Cannot log in."},
    {"thunderbird de",
     "Siehe unten\n\n"
     "-------- Weitergeleitete Nachricht --------\n"
     "Betreff: \tRechnung falsch\n"
     "Datum: \tTue, 1 Dec 2026 10:00:00 +0100\n"
     "Von: \tEmil Kunde <emil@kunde.example>\n"
     "An: \tbob@support.example\n\n"
     "Die Rechnung stimmt nicht.\n",
     "emil@kunde.example", "Emil Kunde", "Rechnung falsch", T0900,
     "Siehe unten", "Die Rechnung stimmt nicht."},
    {"apple mail en",
     "Can you help her?\n\n"
     "Begin forwarded message:\n\n"
     "From: Fay Client <fay@client.example>\n"
     "Subject: VPN down\n"
     "Date: 1 December 2026 at 10:00:00 GMT+1\n"
     "To: Bob <bob@support.example>\n\n"
     "The VPN is down.\n",
     "fay@client.example", "Fay Client", "VPN down", T0900, "Can you help her?",
     "The VPN is down."},
    {"apple mail de",
     "Anfang der weitergeleiteten Nachricht:\n\n"
     "Von: Gerd Kunde <gerd@kunde.example>\n"
     "Betreff: WG: VPN weg\n"
     "Datum: 1. Dezember 2026 um 10:00:00 MEZ\n"
     "An: Bob <bob@support.example>\n\n"
     "Das VPN ist weg.\n",
     "gerd@kunde.example", "Gerd Kunde", "VPN weg", T0900, "",
     "Das VPN ist weg."},
    {"outlook en",
     "Customer called too.\n\n"
     "-----Original Message-----\n"
     "From: Hal Client [mailto:hal@client.example]\n"
     "Sent: Tuesday, December 1, 2026 10:00 AM\n"
     "To: Bob <bob@support.example>\n"
     "Subject: Disk full\n\n"
     "The disk is full.\n",
     "hal@client.example", "Hal Client", "Disk full", T0900,
     "Customer called too.", "The disk is full."},
    {"outlook de",
     "-----Urspr\xc3\xbcngliche Nachricht-----\n"
     "Von: Ina Kunde <ina@kunde.example>\n"
     "Gesendet: Dienstag, 1. Dezember 2026 10:00\n"
     "An: Bob <bob@support.example>\n"
     "Betreff: Platte voll\n\n"
     "Die Platte ist voll.\n",
     "ina@kunde.example", "Ina Kunde", "Platte voll", T0900, "",
     "Die Platte ist voll."},
    {"outlook separator",
     "Over to you.\n\n"
     "________________________________\n"
     "From: Jo Client <jo@client.example>\n"
     "Sent: 12/1/2026 10:00 AM\n"
     "To: Bob <bob@support.example>;\n"
     " Eve <eve@support.example>\n"
     "Subject: Mail lost\n\n"
     "My mail is lost.\n",
     "jo@client.example", "Jo Client", "Mail lost", T0900, "Over to you.",
     "My mail is lost."},
    {"outlook without marker",
     "Please handle.\n\n"
     "From: Kim Client <kim@client.example>\n"
     "Sent: Tuesday, December 1, 2026 10:00 AM\n"
     "To: Bob <bob@support.example>\n"
     "Subject: RE: Quota\n\n"
     "Quota again.\n",
     "kim@client.example", "Kim Client", "RE: Quota", T0900, "Please handle.",
     "Quota again."},
    {"outlook de numeric",
     "-----Urspr\xc3\xbcngliche Nachricht-----\n"
     "Von: lea@kunde.example\n"
     "Gesendet: 01.12.2026 10:00\n"
     "Betreff: Drucker\n\n"
     "Text\n",
     "lea@kunde.example", NULL, "Drucker", T0900, "", "Text"},
    {"gmail html converted",
     "---------- Forwarded message ---------\n"
     "*From:* Max Client <max@client.example>\n"
     "*Date:* Tue, Dec 1, 2026 at 10:00 AM\n"
     "*Subject:* Broken\n"
     "*To:* bob@support.example\n\n"
     "It is broken.\n",
     "max@client.example", "Max Client", "Broken", T0900, "", "It is broken."},
};

static void
test_forward_inline(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(inline_cases); i++) {
		const struct inline_case *c = &inline_cases[i];
		struct forward f;
		int r = forward_parse_text(c->text, "Fwd: outer", CET, &f);

		if (r != 1) {
			fprintf(stderr, "  no forward found: %s\n", c->what);
			TEST_CHECK(r == 1);
			continue;
		}
		TEST_INTEQ(f.kind, FORWARD_INLINE);
		TEST_STREQ(f.addr, c->addr);
		if (c->name)
			TEST_STREQ(f.name, c->name);
		else
			TEST_CHECK(f.name == NULL);
		TEST_STREQ(f.subject, c->subject);
		if (f.date != c->date)
			fprintf(stderr, "  date of %s\n", c->what);
		TEST_INTEQ(f.date, c->date);
		TEST_STREQ(f.note, c->note);
		TEST_CHECK(
		    strncmp(f.text, c->body_start, strlen(c->body_start)) == 0);
		TEST_CHECK(f.style != NULL);
		forward_clear(&f);
	}
}

static void
test_forward_not(void)
{
	static const char *const texts[] = {
	    "",
	    "Hello, please reset my password.\n",
	    /* prose that mentions the words, no dashes */
	    "The original message was lost.\nFrom: me\n",
	    /* a marker with no header block below it */
	    "---------- Forwarded message ---------\n\nJust text.\n",
	    /* a From line alone is no Outlook block */
	    "From: Kim Client <kim@client.example>\nSubject: x\n\nbody\n",
	    /* an Outlook-like block without Sent */
	    "From: Kim <kim@client.example>\nTo: a@b.example\nSubject: x\n",
	};
	struct forward f;

	for (size_t i = 0; i < ARRAY_SIZE(texts); i++) {
		TEST_INTEQ(forward_parse_text(texts[i], "x", 0, &f), 0);
		TEST_CHECK(f.addr == NULL && f.text == NULL);
	}
	TEST_INTEQ(forward_parse_text(NULL, NULL, 0, &f), 0);
}

static void
test_forward_no_address(void)
{
	/* Exchange writes the sender's name alone: a forward all the same,
	 * the caller asks for #requester; no Subject: the outer one */
	struct forward f;
	int r = forward_parse_text("-----Original Message-----\n"
	                           "From: Nora Client\n"
	                           "Sent: Tuesday, December 1, 2026 10:00\n"
	                           "\nText\n",
	                           "FW: WG: Fwd[2]: Server down", 0, &f);

	TEST_INTEQ(r, 1);
	TEST_CHECK(f.addr == NULL);
	TEST_STREQ(f.name, "Nora Client");
	TEST_STREQ(f.subject, "Server down");
	TEST_INTEQ(f.date, T0900 + 3600);
	forward_clear(&f);
}

static void
test_forward_first_block(void)
{
	/* a forward of a forward: the first block is the one forwarded */
	struct forward f;
	int r = forward_parse_text(
	    "note\n---------- Forwarded message ---------\n"
	    "From: Outer <outer@client.example>\nSubject: A\n\n"
	    "middle\n---------- Forwarded message ---------\n"
	    "From: Inner <inner@client.example>\nSubject: B\n\ninner\n",
	    "", 0, &f);

	TEST_INTEQ(r, 1);
	TEST_STREQ(f.addr, "outer@client.example");
	TEST_STREQ(f.subject, "A");
	TEST_CHECK(strstr(f.text, "inner@client.example") != NULL);
	forward_clear(&f);
}

static void
test_forward_reply_like(void)
{
	/* Outlook quotes replies as it forwards; Gmail's marker is only a
	 * forward's */
	struct forward f;

	TEST_INTEQ(forward_parse_text(inline_cases[7].text, "", 0, &f), 1);
	TEST_CHECK(f.reply_like);
	forward_clear(&f);
	TEST_INTEQ(forward_parse_text(inline_cases[10].text, "", 0, &f), 1);
	TEST_CHECK(f.reply_like);
	forward_clear(&f);
	TEST_INTEQ(forward_parse_text(inline_cases[0].text, "", 0, &f), 1);
	TEST_CHECK(!f.reply_like);
	forward_clear(&f);
	TEST_INTEQ(forward_parse_text(inline_cases[5].text, "", 0, &f), 1);
	TEST_CHECK(!f.reply_like);
	forward_clear(&f);

	TEST_CHECK(forward_subject_prefixed("FW: Disk full"));
	TEST_CHECK(forward_subject_prefixed(" wg:Platte voll"));
	TEST_CHECK(forward_subject_prefixed("Fwd[2]: x"));
	TEST_CHECK(!forward_subject_prefixed("RE: Disk full"));
	TEST_CHECK(!forward_subject_prefixed("Forward planning"));
	TEST_CHECK(!forward_subject_prefixed(""));
	TEST_CHECK(!forward_subject_prefixed(NULL));
}

static void
test_forward_dates(void)
{
	static const struct {
		const char *s;
		int def;
		gint64 want;
	} d[] = {
	    {"Tue, 1 Dec 2026 10:00:00 +0100", 0, T0900},
	    {"Tue, 1 Dec 2026 10:00:00 +0100 (CET)", 0, T0900},
	    {"Tue, 1 Dec 2026 04:00:00 -0500", 0, T0900},
	    {"Tue, Dec 1, 2026 at 10:00 AM", CET, T0900},
	    {"Tue, Dec 1, 2026 at 3:00 PM", 0, T0900 + 6 * 3600},
	    {"Tue, Dec 1, 2026 at 12:30 AM", 0, T0900 - 9 * 3600 + 1800},
	    {"Di., 1. Dez. 2026 um 10:00 Uhr", CET, T0900},
	    {"Dienstag, 1. Dezember 2026 10:00", CET, T0900},
	    {"Tuesday, December 1, 2026 10:00 AM", CET, T0900},
	    {"01.12.2026 10:00", CET, T0900},
	    {"12/1/2026 10:00 AM", CET, T0900},
	    {"13/1/2026 10:00", 0, 1768298400},
	    {"1 December 2026 at 10:00:00 CET", 0, T0900},
	    {"1. Dezember 2026 um 11:00:00 MESZ", 0, T0900},
	    {"December 1, 2026 at 10:00:00 AM GMT+1", 0, T0900},
	    {"December 1, 2026 at 10:00:00 AM GMT+01:00", 0, T0900},
	    {"2026-12-01 10:00", CET, T0900},
	    {"1. M\xc3\xa4rz 2026 10:00", 0, 1772359200},
	    {"am 1. Dezember 2026 um 12:00", 0, T0900 + 3 * 3600},
	};
	static const char *const bad[] = {
	    "",
	    "yesterday",
	    "10:00",
	    "31 Feb 2026 10:00",
	    "1 Dec 1960 10:00",
	    "Tue, 1 Dec 2026 25:00",
	    "Dec 2026",
	};
	gint64 t;

	for (size_t i = 0; i < ARRAY_SIZE(d); i++) {
		t = 0;
		if (!forward_date(d[i].s, d[i].def, &t) || t != d[i].want)
			fprintf(stderr,
			        "  date '%s': got %" G_GINT64_FORMAT "\n",
			        d[i].s, t);
		TEST_INTEQ(t, d[i].want);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		TEST_CHECK(!forward_date(bad[i], 0, &t));
	TEST_CHECK(!forward_date(NULL, 0, &t));
	TEST_INTEQ(forward_zone_offset("Tue, 1 Dec 2026 10:00:00 +0100"), 3600);
	TEST_INTEQ(forward_zone_offset("Tue, 1 Dec 2026 10:00:00 -0530 (X)"),
	           -(5 * 3600 + 1800));
	TEST_INTEQ(forward_zone_offset("Tue, 1 Dec 2026 10:00:00 GMT"), 0);
	TEST_INTEQ(forward_zone_offset(NULL), 0);
}

static void
test_forward_subject_addr(void)
{
	g_autofree char *s1 = forward_subject("Fwd: FW: WG: Printer");
	g_autofree char *s2 = forward_subject("  fwd[3]: tr: VS: x ");
	g_autofree char *s3 = forward_subject("Re: Fwd: kept");
	g_autofree char *s4 = forward_subject("Forward planning");
	char *name = NULL, *a;

	TEST_STREQ(s1, "Printer");
	TEST_STREQ(s2, "x");
	TEST_STREQ(s3, "Re: Fwd: kept");
	TEST_STREQ(s4, "Forward planning");

	a = forward_addr("\"Doe, Jane\" <Jane.Doe@Example.COM>", &name);
	TEST_STREQ(a, "jane.doe@example.com");
	TEST_STREQ(name, "Doe, Jane");
	g_free(a);
	g_free(name);
	a = forward_addr("jane@example.com (Jane Doe)", &name);
	TEST_STREQ(a, "jane@example.com");
	TEST_STREQ(name, "Jane Doe");
	g_free(a);
	g_free(name);
	a = forward_addr("jane@example.com <jane@example.com>", &name);
	TEST_STREQ(a, "jane@example.com");
	TEST_CHECK(name == NULL);
	g_free(a);
	g_free(name);
	static const char *const bad[] = {
	    "Jane Doe",           "<jane@localhost>",    "<a@b@c.example>",
	    "<@example.com>",     "<jane@.example>",     "<ja ne@example.com>",
	    "<jäne@example.com>", "<jane@example.com.>",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		a = forward_addr(bad[i], NULL);
		if (a)
			fprintf(stderr, "  accepted '%s'\n", bad[i]);
		TEST_CHECK(a == NULL);
		g_free(a);
	}
	{
		/* 255 bytes: dropped, never cut */
		g_autofree char *l = g_strnfill(300, 'a');
		g_autofree char *v = NULL;
		l[240] = '@';
		memcpy(l + 250, ".example", 8);
		l[258] = '\0';
		v = g_strdup_printf("<%s>", l);
		TEST_CHECK(forward_addr(v, NULL) == NULL);
	}
}

static void
test_forward_bounds(void)
{
	struct forward f;
	GString *s = g_string_new(NULL);
	gint64 t0;

	/* a marker past FORWARD_SCAN_BYTES is not looked for */
	for (size_t i = 0; s->len <= FORWARD_SCAN_BYTES; i++)
		g_string_append(s, "just some text of the note\n");
	g_string_append(s, "---------- Forwarded message ---------\n"
	                   "From: a@client.example\n\nx\n");
	TEST_INTEQ(forward_parse_text(s->str, "", 0, &f), 0);

	/* 200k "From:" lines (each a possible Outlook block) and 100k
	 * markers without a block: linear, bounded by the scan */
	g_string_truncate(s, 0);
	for (int i = 0; i < 200000; i++)
		g_string_append(s, "From: a@client.example\n");
	for (int i = 0; i < 100000; i++)
		g_string_append(s, "-----Original Message-----\n");
	t0 = g_get_monotonic_time();
	TEST_INTEQ(forward_parse_text(s->str, "", 0, &f), 0);
	/* not a timing test: a quadratic scan would take minutes */
	TEST_CHECK(g_get_monotonic_time() - t0 < 10 * G_USEC_PER_SEC);

	/* a long note is cut at a character boundary */
	g_string_truncate(s, 0);
	for (int i = 0; i < 5000; i++)
		g_string_append(s, "\xc3\xa4\xc3\xa4\xc3\xa4 ");
	g_string_append(s, "\n---------- Forwarded message ---------\n"
	                   "From: a@client.example\n\nx\n");
	TEST_INTEQ(forward_parse_text(s->str, "", 0, &f), 1);
	TEST_CHECK(strlen(f.note) <= FORWARD_NOTE_MAX);
	TEST_CHECK(g_utf8_validate(f.note, -1, NULL));
	forward_clear(&f);

	/* a header line over FORWARD_LINE_MAX ends the block */
	g_string_truncate(s, 0);
	g_string_append(s, "---------- Forwarded message ---------\n"
	                   "Subject: ");
	for (int i = 0; i < 2000; i++)
		g_string_append_c(s, 'x');
	g_string_append(s, "\nFrom: a@client.example\n\nx\n");
	TEST_INTEQ(forward_parse_text(s->str, "", 0, &f), 0);
	g_string_free(s, TRUE);
}

static void
test_forward_attached(void)
{
	static const char raw[] =
	    "From: Bob Agent <bob@support.example>\r\n"
	    "To: support@support.example\r\n"
	    "Subject: Fwd: Screen flickers\r\n"
	    "Date: Wed, 2 Dec 2026 10:00:00 +0100\r\n"
	    "Message-ID: <fwd1@support.example>\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
	    "--b\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n\r\n"
	    "She called me about it.\r\n"
	    "--b\r\n"
	    "Content-Type: message/rfc822\r\n"
	    "Content-Disposition: attachment; filename=\"orig.eml\"\r\n\r\n"
	    "From: =?utf-8?q?J=C3=BCrgen_Kunde?= <Juergen@Kunde.example>\r\n"
	    "To: bob@support.example\r\n"
	    "Subject: Screen flickers\r\n"
	    "Date: Tue, 1 Dec 2026 10:00:00 +0100\r\n"
	    "Message-ID: <orig1@kunde.example>\r\n"
	    "Content-Language: de\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n\r\n"
	    "Mein Bildschirm flackert.\r\n"
	    "--b--\r\n";
	struct mime_msg *m = mime_parse(raw, sizeof(raw) - 1, NULL);
	struct forward f;

	TEST_INTEQ(forward_parse_msg(m, NULL, &f), 1);
	TEST_INTEQ(f.kind, FORWARD_ATTACHED);
	TEST_STREQ(f.addr, "juergen@kunde.example");
	TEST_STREQ(f.name, "J\xc3\xbcrgen Kunde");
	TEST_STREQ(f.subject, "Screen flickers");
	TEST_INTEQ(f.date, T0900);
	TEST_STREQ(f.note, "She called me about it.");
	TEST_CHECK(strstr(f.text, "Bildschirm flackert") != NULL);
	TEST_STREQ(f.language, "de");
	TEST_STREQ(f.message_id, "orig1@kunde.example");
	forward_clear(&f);
	mime_msg_free(&m);

	/* a plain mail: no forward */
	{
		static const char plain[] =
		    "From: a@b.example\r\nSubject: hi\r\n\r\nhello\r\n";
		m = mime_parse(plain, sizeof(plain) - 1, NULL);
	}
	TEST_INTEQ(forward_parse_msg(m, NULL, &f), 0);
	mime_msg_free(&m);
}

int
main(void)
{
	static const struct test_case cases[] = {
	    {"inline blocks of four clients, en and de", test_forward_inline},
	    {"no forward", test_forward_not},
	    {"a block without an address", test_forward_no_address},
	    {"the first block counts", test_forward_first_block},
	    {"reply-like blocks", test_forward_reply_like},
	    {"dates", test_forward_dates},
	    {"subjects and addresses", test_forward_subject_addr},
	    {"bounds and linear scans", test_forward_bounds},
	    {"attached message/rfc822", test_forward_attached},
	};
	int rc;

	mime_init();
	rc = test_run("forward", cases, ARRAY_SIZE(cases));
	mime_shutdown();
	return rc;
}
