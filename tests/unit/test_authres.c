/* Unit tests for authres.c: reading Authentication-Results fields as
 * real MTAs write them (and as forgers would), and the verdict on
 * whether an agent's From domain was authenticated by our own MTA. */
#include "authres.h"

#include "test.h"

#include <string.h>

static const struct authres_result *
res(const struct authres_header *h, guint i)
{
	return i < h->results->len ? h->results->pdata[i] : NULL;
}

static void
test_parse_opendkim_style(void)
{
	struct authres_header h = {0};

	TEST_INTEQ(authres_parse("mx.Example.com; dkim=pass (2048-bit key; "
	                         "unprotected) header.d=Example.com "
	                         "header.i=@example.com header.b=\"abc/DEF=\"",
	                         &h),
	           0);
	TEST_STREQ(h.authserv_id, "mx.Example.com"); /* raw, as written */
	TEST_INTEQ(h.results->len, 1);
	TEST_STREQ(res(&h, 0)->method, "dkim");
	TEST_STREQ(res(&h, 0)->result, "pass");
	TEST_STREQ(res(&h, 0)->header_d, "example.com");
	TEST_STREQ(res(&h, 0)->header_i, "@example.com");
	TEST_CHECK(res(&h, 0)->smtp_mailfrom == NULL);
	authres_header_clear(&h);
}

static void
test_parse_several_results(void)
{
	struct authres_header h = {0};

	/* Gmail-like: version, three results, reasons, comments everywhere */
	TEST_INTEQ(
	    authres_parse("mx.google.com 1 (the one);\r\n"
	                  "       dkim=pass header.i=@example.org header.s=s1;"
	                  "\r\n       spf=pass (google.com: domain of "
	                  "bob@example.org designates 192.0.2.1 as permitted"
	                  " sender) smtp.mailfrom=bob@example.org;\r\n"
	                  "       dmarc = pass (p=REJECT sp=REJECT dis=NONE) "
	                  "header.from=example.org;"
	                  " iprev reason=\"no; PTR\" policy.iprev=192.0.2.1",
	                  &h),
	    0);
	TEST_STREQ(h.authserv_id, "mx.google.com");
	TEST_INTEQ(h.results->len, 3); /* "iprev reason=..." lacks =result */
	TEST_STREQ(res(&h, 0)->header_i, "@example.org");
	TEST_STREQ(res(&h, 1)->method, "spf");
	TEST_STREQ(res(&h, 1)->smtp_mailfrom, "bob@example.org");
	TEST_STREQ(res(&h, 2)->method, "dmarc");
	TEST_STREQ(res(&h, 2)->result, "pass");
	TEST_STREQ(res(&h, 2)->header_from, "example.org");
	authres_header_clear(&h);

	TEST_INTEQ(authres_parse("mx.example.com; iprev=pass reason=\"a;b\" "
	                         "policy.iprev=192.0.2.1; auth/1 = pass "
	                         "smtp . auth = bob",
	                         &h),
	           0);
	TEST_INTEQ(h.results->len, 2);
	TEST_STREQ(res(&h, 0)->method, "iprev");
	TEST_STREQ(res(&h, 1)->method, "auth");
	TEST_STREQ(res(&h, 1)->result, "pass");
	authres_header_clear(&h);
}

static void
test_parse_quotes_and_comments(void)
{
	struct authres_header h = {0};

	/* ';' and '(' inside quotes are data; nested comments with escapes
	 * hide what looks like a result */
	TEST_INTEQ(authres_parse("\"mx.example.com\"; spf=pass "
	                         "smtp.mailfrom=\"odd;(local)\"@example.com "
	                         "(nested (comment \\) dkim=pass) still);"
	                         "dkim=fail header.d=example.com",
	                         &h),
	           0);
	/* the id is the raw token: quotes stay (it is not our MTA's) */
	TEST_STREQ(h.authserv_id, "\"mx.example.com\"");
	TEST_INTEQ(h.results->len, 2);
	TEST_STREQ(res(&h, 0)->smtp_mailfrom, "odd;(local)@example.com");
	TEST_STREQ(res(&h, 1)->method, "dkim");
	TEST_STREQ(res(&h, 1)->result, "fail");
	authres_header_clear(&h);

	/* "none" and an empty tail */
	TEST_INTEQ(authres_parse("mx.example.com; none", &h), 0);
	TEST_INTEQ(h.results->len, 0);
	authres_header_clear(&h);
	TEST_INTEQ(authres_parse("mx.example.com", &h), 0);
	TEST_INTEQ(h.results->len, 0);
	authres_header_clear(&h);
}

static void
test_parse_rejects(void)
{
	struct authres_header h = {0};
	GString *big = g_string_new("mx.example.com;");

	TEST_INTEQ(authres_parse("", &h), -EINVAL);
	TEST_INTEQ(authres_parse("  (only a comment) ; dkim=pass", &h),
	           -EINVAL);
	/* a result where the authserv-id should be: not our format */
	TEST_INTEQ(authres_parse("dkim=pass header.d=example.com", &h),
	           -EINVAL);
	TEST_INTEQ(authres_parse(NULL, &h), -EINVAL);
	TEST_CHECK(h.authserv_id == NULL && h.results == NULL);
	/* garbage results are skipped, the good one is kept */
	TEST_INTEQ(authres_parse("mx.example.com; =pass; dkim; spf=pass "
	                         "smtp.mailfrom; dmarc=pass",
	                         &h),
	           0);
	TEST_INTEQ(h.results->len, 1);
	TEST_STREQ(res(&h, 0)->method, "dmarc");
	authres_header_clear(&h);
	/* a property given twice with different values is ambiguous */
	TEST_INTEQ(authres_parse("mx.example.com; dkim=pass header.d=evil.test"
	                         " header.d=example.com",
	                         &h),
	           0);
	TEST_INTEQ(h.results->len, 0);
	authres_header_clear(&h);
	/* bounded: too long is not parsed; every result of a shorter
	 * field is read, however many */
	while (big->len <= AUTHRES_MAX_VALUE)
		g_string_append(big, " dkim=none;");
	TEST_INTEQ(authres_parse(big->str, &h), -E2BIG);
	g_string_truncate(big, 0);
	g_string_append(big, "mx.example.com");
	for (int i = 0; i < 42; i++)
		g_string_append(big, "; dkim=none");
	TEST_INTEQ(authres_parse(big->str, &h), 0);
	TEST_INTEQ(h.results->len, 42);
	authres_header_clear(&h);
	g_string_free(big, TRUE);
}

static bool
verify1(const char *v, const char *from, char *why, size_t n)
{
	const char *vals[] = {v};

	return authres_verify(vals, 1, "mx.example.com", from, why, n);
}

static void
test_verify_passes(void)
{
	char why[128];

	TEST_CHECK(verify1("mx.example.com; dmarc=pass header.from=example.com",
	                   "bob@example.com", why, sizeof(why)));
	TEST_STREQ(why, "dmarc=pass for example.com by mx.example.com");
	TEST_CHECK(verify1("mx.example.com; dmarc=pass header.from=example.com",
	                   "bob@Example.COM", why, sizeof(why)));
	TEST_CHECK(verify1("MX.example.com; dkim=pass header.d=EXAMPLE.com.",
	                   "bob@example.com", why, sizeof(why)));
	TEST_STREQ(why, "dkim=pass, aligned for example.com by mx.example.com");
	TEST_CHECK(verify1("mx.example.com; dkim=pass header.i=bob@example.com",
	                   "bob@example.com", why, sizeof(why)));
	TEST_CHECK(
	    verify1("mx.example.com; spf=pass smtp.mailfrom=x@example.com",
	            "bob@example.com", why, sizeof(why)));
	TEST_CHECK(verify1("mx.example.com; spf=pass smtp.mailfrom=example.com",
	                   "bob@example.com", why, sizeof(why)));
	/* a second trusted field of ours (OpenDKIM, then OpenDMARC) */
	{
		const char *two[] = {"mx.example.com; dmarc=pass "
		                     "header.from=example.com",
		                     "mx.example.com; dkim=fail"};
		TEST_CHECK(authres_verify(two, 2, "mx.example.com",
		                          "bob@example.com", why, sizeof(why)));
	}
	/* one failing method beside an aligned pass does not matter ... */
	TEST_CHECK(verify1("mx.example.com; spf=fail smtp.mailfrom=example.com;"
	                   " dkim=pass header.d=example.com",
	                   "bob@example.com", why, sizeof(why)));
}

static void
test_verify_fails(void)
{
	char why[128];
	const char *two[] = {
	    "evil.test; dkim=pass header.d=example.com",
	    "mx.example.com; spf=softfail smtp.mailfrom=example.com",
	};

	/* ... but the MTA's DMARC failure does */
	TEST_CHECK(!verify1("mx.example.com; dkim=pass header.d=example.com; "
	                    "dmarc=fail header.from=example.com",
	                    "bob@example.com", why, sizeof(why)));
	TEST_STREQ(why, "dmarc=fail from mx.example.com");
	/* passes that are not aligned with the From domain */
	TEST_CHECK(!verify1("mx.example.com; dkim=pass header.d=evil.test",
	                    "bob@example.com", why, sizeof(why)));
	TEST_STREQ(why, "no aligned pass for example.com from mx.example.com");
	TEST_CHECK(
	    !verify1("mx.example.com; dkim=pass header.d=mail.example.com",
	             "bob@example.com", why, sizeof(why)));
	TEST_CHECK(
	    !verify1("mx.example.com; dkim=pass header.d=example.com.evil",
	             "bob@example.com", why, sizeof(why)));
	TEST_CHECK(!verify1("mx.example.com; dkim=pass", "bob@example.com", why,
	                    sizeof(why)));
	TEST_CHECK(!verify1("mx.example.com; spf=pass smtp.mailfrom=evil.test",
	                    "bob@example.com", why, sizeof(why)));
	TEST_CHECK(!verify1("mx.example.com; spf=pass smtp.helo=example.com",
	                    "bob@example.com", why, sizeof(why)));
	TEST_CHECK(!verify1("mx.example.com; dmarc=pass header.from=evil.test",
	                    "bob@example.com", why, sizeof(why)));
	/* dmarc=pass says nothing about our From without header.from */
	TEST_CHECK(!verify1("mx.example.com; dmarc=pass", "bob@example.com",
	                    why, sizeof(why)));
	TEST_CHECK(!verify1("mx.example.com; dkim=neutral header.d=example.com",
	                    "bob@example.com", why, sizeof(why)));
	/* a pass hidden in a comment or a quoted string is no pass */
	TEST_CHECK(!verify1("mx.example.com; none (dmarc=pass)",
	                    "bob@example.com", why, sizeof(why)));
	TEST_CHECK(!verify1("mx.example.com; auth=pass smtp.auth=\"x; "
	                    "dmarc=pass\"",
	                    "bob@example.com", why, sizeof(why)));
	/* a pass from someone else's authserv-id counts for nothing */
	TEST_CHECK(!authres_verify(two, 2, "mx.example.com", "bob@example.com",
	                           why, sizeof(why)));
	TEST_STREQ(why, "no Authentication-Results from mx.example.com on top");
	TEST_CHECK(!authres_verify(two, 1, "mx.example.com", "bob@example.com",
	                           why, sizeof(why)));
	TEST_STREQ(why, "no Authentication-Results from mx.example.com on top");
	/* nothing to go on */
	TEST_CHECK(!authres_verify(NULL, 0, "mx.example.com", "bob@example.com",
	                           why, sizeof(why)));
	TEST_CHECK(
	    !verify1("mx.example.com; dmarc=pass", "bob", why, sizeof(why)));
	TEST_STREQ(why, "From has no domain");
	TEST_CHECK(
	    !authres_verify(two, 2, "", "bob@example.com", why, sizeof(why)));
	/* a tiny reason buffer is still terminated */
	TEST_CHECK(!verify1("x", "bob@example.com", why, 5));
	TEST_STREQ(why, "no A");
}

/* raw_verify - authres_raw_fields over a raw header block, then
 * authres_verify on the topmost n, as ingest.c does. */
static bool
raw_verify(const char *raw, size_t n, char *why, size_t whylen)
{
	g_autoptr(GPtrArray) f = g_ptr_array_new_with_free_func(g_free);

	authres_raw_fields(raw, strlen(raw), n, f);
	return authres_verify((const char *const *)f->pdata, f->len,
	                      "mx.example.com", "agent@example.com", why,
	                      whylen);
}

#define GENUINE_PASS                                                           \
	"Authentication-Results: mx.example.com; dkim=pass "                   \
	"header.d=example.com;\r\n\tdmarc=pass header.from=example.com\r\n"
#define GENUINE_NONE                                                           \
	"Authentication-Results: mx.example.com; dkim=none; dmarc=none "       \
	"header.from=example.com\r\n"

static void
test_raw_fields(void)
{
	g_autoptr(GPtrArray) f = g_ptr_array_new_with_free_func(g_free);
	const char *raw =
	    "Received: from a\r\n"
	    "Authentication-Results: mx.example.com; dkim=pass\r\n"
	    "  header.d=example.com\r\n"
	    "authentication-results:mx.example.com; spf=none\n"
	    "Authentication-Results : mx.example.com; spaced\r\n"
	    "X-Authentication-Results: mx.example.com; x\r\n"
	    "Authentication-Results: mx.example.com; a\0b\r\n"
	    "\r\n"
	    "Authentication-Results: mx.example.com; body\r\n";

	/* raw has a NUL: pass the length */
	authres_raw_fields(raw, 290, 16, f);
	TEST_INTEQ(f->len, 3);
	/* unfolded (the line break goes, the white space stays), not
	 * decoded; the spaced name and the X- field are other fields; the
	 * body is not the header */
	TEST_STREQ(f->pdata[0],
	           " mx.example.com; dkim=pass  header.d=example.com");
	TEST_STREQ(f->pdata[1], "mx.example.com; spf=none");
	TEST_STREQ(f->pdata[2], " mx.example.com; a b");
	/* only the topmost max_fields */
	g_ptr_array_set_size(f, 0);
	authres_raw_fields(raw, strlen(raw), 1, f);
	TEST_INTEQ(f->len, 1);
	/* an over-long field is NULL, i.e. fails closed */
	{
		GString *big = g_string_new("Authentication-Results: "
		                            "mx.example.com; dmarc=pass "
		                            "header.from=example.com");
		char why[128];

		while (big->len <= 2 * AUTHRES_MAX_VALUE)
			g_string_append(big, "\r\n\tdkim=none");
		g_string_append(big, "\r\n\r\n");
		g_ptr_array_set_size(f, 0);
		authres_raw_fields(big->str, big->len, 1, f);
		TEST_INTEQ(f->len, 1);
		TEST_CHECK(f->pdata[0] == NULL);
		TEST_CHECK(!raw_verify(big->str, 1, why, sizeof(why)));
		TEST_CHECK(strstr(why, "is over") != NULL);
		g_string_free(big, TRUE);
	}
}

/* Every forged variant of the hijack report, each with and without the
 * MTA's own field on top; the genuine field still works. */
static void
test_forged_variants(void)
{
	char why[160];
	GString *junk;

	/* the genuine agent: our MTA's field on top, forged ones below
	 * change nothing */
	TEST_CHECK(raw_verify(GENUINE_PASS "Subject: hi\r\n\r\nbody", 1, why,
	                      sizeof(why)));
	TEST_STREQ(why, "dkim=pass, aligned for example.com by mx.example.com");

	/* 1. the id as an RFC 2047 encoded word: never decoded */
	TEST_CHECK(!raw_verify("Authentication-Results: "
	                       "=?us-ascii?q?mx.example.com?=; dmarc=pass "
	                       "header.from=example.com\r\n\r\n",
	                       1, why, sizeof(why)));
	TEST_STREQ(why, "no Authentication-Results from mx.example.com on top");
	TEST_CHECK(!raw_verify(GENUINE_NONE
	                       "Authentication-Results: "
	                       "=?us-ascii?q?mx.example.com?=; dmarc=pass "
	                       "header.from=example.com\r\n\r\n",
	                       2, why, sizeof(why)));
	/* 2. a space before the colon: not an Authentication-Results field */
	TEST_CHECK(!raw_verify("Authentication-Results : mx.example.com; "
	                       "dmarc=pass header.from=example.com\r\n\r\n",
	                       1, why, sizeof(why)));
	TEST_STREQ(why, "no Authentication-Results from mx.example.com on top");
	TEST_CHECK(!raw_verify(
	    "Authentication-Results\t: mx.example.com; "
	    "dmarc=pass header.from=example.com\r\n" GENUINE_NONE "\r\n",
	    1, why, sizeof(why)));
	TEST_STREQ(why, "no aligned pass for example.com from mx.example.com");
	/* 3. a quoted id */
	TEST_CHECK(!raw_verify("Authentication-Results: \"mx.example.com\"; "
	                       "dmarc=pass header.from=example.com\r\n\r\n",
	                       1, why, sizeof(why)));
	TEST_STREQ(why, "no Authentication-Results from mx.example.com on top");
	/* 4. below the MTA's own field: only the topmost is trusted ... */
	TEST_CHECK(!raw_verify(GENUINE_NONE
	                       "Authentication-Results: mx.example.com; "
	                       "dmarc=pass header.from=example.com\r\n\r\n",
	                       1, why, sizeof(why)));
	TEST_STREQ(why, "no aligned pass for example.com from mx.example.com");
	/* ... and with more trusted, a field of ours below a foreign one is
	 * still not ours */
	TEST_CHECK(!raw_verify(GENUINE_NONE
	                       "Authentication-Results: evil.test; none\r\n"
	                       "Authentication-Results: mx.example.com; "
	                       "dmarc=pass header.from=example.com\r\n\r\n",
	                       3, why, sizeof(why)));
	TEST_STREQ(why, "no aligned pass for example.com from mx.example.com");
	/* no field of our MTA at all: the forger's is on top, but foreign */
	TEST_CHECK(!raw_verify("Authentication-Results: evil.test; none\r\n"
	                       "Authentication-Results: mx.example.com; "
	                       "dmarc=pass header.from=example.com\r\n\r\n",
	                       16, why, sizeof(why)));
	/* 5. ~40 junk results the sender provoked before the MTA's own
	 * dmarc=fail: every result is read, the fail is final */
	junk = g_string_new("Authentication-Results: mx.example.com;\r\n"
	                    "\tdkim=pass header.d=example.com;\r\n");
	for (int i = 0; i < 40; i++)
		g_string_append_printf(
		    junk, "\tdkim=fail header.d=junk%d.test;\r\n", i);
	g_string_append(junk, "\tdmarc=fail header.from=example.com\r\n\r\n");
	TEST_CHECK(junk->len < AUTHRES_MAX_VALUE);
	TEST_CHECK(!raw_verify(junk->str, 1, why, sizeof(why)));
	TEST_STREQ(why, "dmarc=fail from mx.example.com");
	g_string_free(junk, TRUE);
	/* a dmarc=fail in the second trusted field beats a pass in the
	 * first */
	TEST_CHECK(!raw_verify(GENUINE_PASS
	                       "Authentication-Results: mx.example.com; "
	                       "dmarc=fail header.from=example.com\r\n\r\n",
	                       2, why, sizeof(why)));
	TEST_STREQ(why, "dmarc=fail from mx.example.com");
}

int
main(void)
{
	static const struct test_case cases[] = {
	    {"parse opendkim style", test_parse_opendkim_style},
	    {"parse several results", test_parse_several_results},
	    {"parse quotes and comments", test_parse_quotes_and_comments},
	    {"parse rejects and bounds", test_parse_rejects},
	    {"verify passes", test_verify_passes},
	    {"verify fails", test_verify_fails},
	    {"raw fields", test_raw_fields},
	    {"forged variants", test_forged_variants},
	};

	return test_run("authres", cases, ARRAY_SIZE(cases));
}
