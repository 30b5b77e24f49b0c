/*
 * test_csat.c - rating tokens (signed, kind, forgery), the resolution
 * mail's links and headers, and the digest periods (daily/weekly, local
 * midnight, due hour, DST).
 */
#include "csat.h"
#include "digest.h"
#include "mime.h"
#include "thread.h"
#include "test.h"

#include <string.h>

static struct cfg *
cfg_new(void)
{
	struct cfg *c = g_new0(struct cfg, 1);

	c->tickets.secret =
	    (unsigned char *)g_strdup("0123456789abcdef-secret");
	c->tickets.secret_len = strlen((char *)c->tickets.secret);
	c->tickets.domain = g_strdup("example.com");
	c->tickets.subject_tag = g_strdup("Example");
	c->smtp.from = g_strdup("support@example.com");
	c->smtp.from_name = g_strdup("Example Support");
	return c;
}

static void
cfg_del(struct cfg *c)
{
	g_free(c->tickets.secret);
	g_free(c->tickets.domain);
	g_free(c->tickets.subject_tag);
	g_free(c->smtp.from);
	g_free(c->smtp.from_name);
	g_free(c);
}

static void
test_tokens(void)
{
	struct cfg *c = cfg_new();
	int rating = 0;

	for (int r = CSAT_GOOD; r <= CSAT_BAD; r++) {
		g_autofree char *tok = csat_token(c, 1042, r);
		g_autofree char *subj = g_strdup_printf(
		    "Rating %s for ticket 1042 (%s)", csat_rating_name(r), tok);
		g_autofree char *re = g_strdup_printf("Re: %s", subj);

		TEST_CHECK(g_str_has_prefix(tok, "tickd.1042.rate-"));
		rating = 0;
		TEST_INTEQ(csat_match(c, subj, &rating), 1042);
		TEST_INTEQ(rating, r);
		rating = 0;
		TEST_INTEQ(csat_match(c, re, &rating), 1042);
		TEST_INTEQ(rating, r);
	}
	TEST_CHECK(csat_token(c, 1042, 0) == NULL);
	TEST_CHECK(csat_token(c, 0, CSAT_GOOD) == NULL);
	TEST_STREQ(csat_rating_name(CSAT_OKAY), "okay");
	TEST_CHECK(csat_rating_name(4) == NULL);

	/* no token; another kind of signed id is not a rating */
	TEST_INTEQ(csat_match(c, "Re: [Example #1042] thanks", &rating), 0);
	TEST_INTEQ(csat_match(c, NULL, &rating), 0);
	{
		g_autofree char *ack =
		    thread_make_msgid(c->tickets.secret, c->tickets.secret_len,
		                      7, "ack", "example.com");
		TEST_INTEQ(csat_match(c, ack, &rating), 0);
	}
	/* forged: changed MAC, changed ticket, changed rating, other key */
	{
		g_autofree char *tok = csat_token(c, 1042, CSAT_BAD);
		char *at = strchr(tok, '@');
		g_autofree char *other = NULL;
		struct cfg *c2 = cfg_new();

		g_autofree char *t2 = g_strdup(tok);
		t2[at - tok - 1] = t2[at - tok - 1] == '0' ? '1' : '0';
		TEST_INTEQ(csat_match(c, t2, &rating), -EBADMSG);
		g_free(t2);
		t2 = g_strdup(tok);
		t2[9] = t2[9] == '3' ? '4' : '3'; /* tickd.104X */
		TEST_INTEQ(csat_match(c, t2, &rating), -EBADMSG);
		g_free(t2);
		t2 = g_strdup(tok);
		memcpy(strstr(t2, "rate-bad"), "rate-bat", 8);
		TEST_INTEQ(csat_match(c, t2, &rating), -EBADMSG);
		g_free(c2->tickets.secret);
		c2->tickets.secret =
		    (unsigned char *)g_strdup("another key!!!!!");
		c2->tickets.secret_len = 16;
		other = csat_token(c2, 1042, CSAT_GOOD);
		TEST_INTEQ(csat_match(c, other, &rating), -EBADMSG);
		cfg_del(c2);
	}
	/* a signed kind "rate-xyz" we never hand out is forged too */
	{
		g_autofree char *odd =
		    thread_make_msgid(c->tickets.secret, c->tickets.secret_len,
		                      5, "rate-great", "example.com");
		TEST_INTEQ(csat_match(c, odd, &rating), -EBADMSG);
	}
	cfg_del(c);
}

static void
test_resolution_mail(void)
{
	struct cfg *c = cfg_new();
	struct csat_mail m = {
	    .ticket = 1042,
	    .to_addr = "carla@customer.example",
	    .to_name = "Carla <C>",
	    .subject = "Re: [Example #1042] Printer <on> fire",
	    .message_id = "tickd.1042.resolved.00.x@example.com",
	    .now = 1767225600,
	};
	g_autoptr(GBytes) wire = csat_compose_resolution(c, &m);
	gsize len;
	const char *data = g_bytes_get_data(wire, &len);
	struct mime_msg *mm = mime_parse(data, len, NULL);
	const char *p;
	int n = 0, rating = 0;

	TEST_STREQ(mm->subject, "[Example #1042] Resolved: Printer <on> fire");
	TEST_STREQ(mime_header(mm, "Auto-Submitted"), "auto-generated");
	TEST_STREQ(mime_header(mm, "Precedence"), "bulk");
	TEST_CHECK(mime_header(mm, "X-Tickd-Loop") != NULL);
	TEST_CHECK(mm->html != NULL &&
	           strstr(mm->html, "Printer &lt;on&gt; fire") != NULL);
	/* three mailto links whose subjects carry valid tokens */
	for (p = strstr(mm->text, "<mailto:"); p;
	     p = strstr(p + 1, "<mailto:")) {
		g_autofree char *link = g_strndup(p + 1, strcspn(p + 1, ">"));
		const char *q = strstr(link, "?subject=");
		g_autofree char *subj = NULL;

		TEST_CHECK(
		    g_str_has_prefix(link, "mailto:support@example.com?"));
		if (q == NULL)
			continue;
		subj = g_uri_unescape_segment(q + 9, strchr(q, '&'), NULL);
		TEST_INTEQ(csat_match(c, subj, &rating), 1042);
		TEST_INTEQ(rating, n + 1);
		n++;
	}
	TEST_INTEQ(n, 3);
	mime_msg_free(&mm);
	cfg_del(c);
}

static gint64
utc(int y, int mo, int d, int h, int mi)
{
	g_autoptr(GDateTime) t = g_date_time_new_utc(y, mo, d, h, mi, 0);

	return g_date_time_to_unix(t);
}

static void
test_periods(void)
{
	gint64 f, t;

	/* Tue 2026-11-24 09:00 UTC, due at 07:00: yesterday */
	TEST_INTEQ(
	    digest_period("daily", "UTC", 7, utc(2026, 11, 24, 9, 0), &f, &t),
	    0);
	TEST_INTEQ(f, utc(2026, 11, 23, 0, 0));
	TEST_INTEQ(t, utc(2026, 11, 24, 0, 0));
	/* before 07:00 the latest due one is the day before yesterday */
	TEST_INTEQ(
	    digest_period("daily", "UTC", 7, utc(2026, 11, 24, 6, 59), &f, &t),
	    0);
	TEST_INTEQ(f, utc(2026, 11, 22, 0, 0));
	/* weekly: Monday .. Monday */
	TEST_INTEQ(
	    digest_period("weekly", "UTC", 7, utc(2026, 11, 24, 9, 0), &f, &t),
	    0);
	TEST_INTEQ(f, utc(2026, 11, 16, 0, 0));
	TEST_INTEQ(t, utc(2026, 11, 23, 0, 0));
	/* Monday 06:00, due 07:00: still the week before */
	TEST_INTEQ(
	    digest_period("weekly", "UTC", 7, utc(2026, 11, 23, 6, 0), &f, &t),
	    0);
	TEST_INTEQ(t, utc(2026, 11, 16, 0, 0));
	/* Berlin, the 23-hour day 2026-03-29: local midnights */
	TEST_INTEQ(digest_period("daily", "Europe/Berlin", 0,
	                         utc(2026, 3, 30, 12, 0), &f, &t),
	           0);
	TEST_INTEQ(f, utc(2026, 3, 28, 23, 0));
	TEST_INTEQ(t, utc(2026, 3, 29, 22, 0));
	TEST_INTEQ(t - f, 23 * 3600);
	TEST_INTEQ(digest_period("hourly", "UTC", 7, 0, &f, &t), -EINVAL);
	TEST_INTEQ(digest_period("daily", "Mars/Olympus", 7, 0, &f, &t),
	           -EINVAL);
}

/* NPS answers ride the rating tokens: signed, the score bound to the MAC;
 * the mail asks only with csat.nps. */
static void
test_nps(void)
{
	struct cfg *c = cfg_new();
	int rating = 0;
	struct csat_mail m = {.ticket = 1042,
	                      .to_addr = "cust@example.net",
	                      .subject = "Printer",
	                      .message_id = "<x@example.com>",
	                      .now = 1767225600};
	GBytes *wire;

	for (int s = 0; s <= 10; s++) {
		g_autofree char *tok = csat_token(c, 1042, CSAT_NPS(s));
		g_autofree char *subj = g_strdup_printf(
		    "Recommend %d for ticket 1042 (%s)", s, tok);

		rating = 0;
		TEST_INTEQ(csat_match(c, subj, &rating), 1042);
		TEST_INTEQ(csat_nps_score(rating), s);
	}
	TEST_INTEQ(csat_nps_score(CSAT_GOOD), -1);
	TEST_CHECK(csat_token(c, 1042, CSAT_NPS(11)) == NULL);
	{
		/* a 9 turned into a 10, or the MAC of another ticket */
		g_autofree char *tok = csat_token(c, 1042, CSAT_NPS(9));
		const char *p = strstr(tok, "nps9");
		g_autofree char *ten = NULL;
		g_autofree char *other = csat_token(c, 1043, CSAT_NPS(9));
		g_autofree char *swap = NULL;

		TEST_CHECK(p != NULL);
		if (p != NULL)
			ten = g_strdup_printf("%.*snps10%s", (int)(p - tok),
			                      tok, p + 4);
		TEST_INTEQ(csat_match(c, ten, &rating), -EBADMSG);
		swap = g_strdup_printf("tickd.1042%s", strchr(other + 6, '.'));
		TEST_INTEQ(csat_match(c, swap, &rating), -EBADMSG);
	}
	/* the question only with csat.nps */
	wire = csat_compose_resolution(c, &m);
	TEST_CHECK(g_strstr_len(g_bytes_get_data(wire, NULL),
	                        (gssize)g_bytes_get_size(wire),
	                        "rate-nps") == NULL);
	g_bytes_unref(wire);
	c->csat.nps = true;
	wire = csat_compose_resolution(c, &m);
	TEST_CHECK(g_strstr_len(g_bytes_get_data(wire, NULL),
	                        (gssize)g_bytes_get_size(wire),
	                        "rate-nps10") != NULL);
	TEST_CHECK(g_strstr_len(g_bytes_get_data(wire, NULL),
	                        (gssize)g_bytes_get_size(wire),
	                        "recommend us") != NULL);
	g_bytes_unref(wire);
	cfg_del(c);
}

int
main(void)
{
	static const struct test_case cases[] = {
	    {"tokens", test_tokens},
	    {"resolution_mail", test_resolution_mail},
	    {"periods", test_periods},
	    {"nps", test_nps},
	};
	mime_init();
	return test_run("csat", cases, ARRAY_SIZE(cases));
}
