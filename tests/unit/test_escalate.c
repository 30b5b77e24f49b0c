/* Unit tests for the SLA/escalation config (cfg.c: calendars, policies,
 * priority rules, chains, errors as file:line), the priority rules
 * (escalate_rules_match) and the notice/digest mails (compose.c). */
#include "cfg.h"
#include "compose.h"
#include "escalate.h"
#include "mime.h"

#include "test.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *dir; /* the scratch directory (testutil.h) */

#define BASE_CONF                                                              \
	"database: { conninfo = \"dbname=x\"; };\n"                            \
	"imap: { url = \"imap://127.0.0.1:1\"; user = \"s\";\n"                \
	"        starttls = false; };\n"                                       \
	"smtp: { url = \"smtp://127.0.0.1:2\"; from = \"s@e.com\"; };\n"       \
	"tickets: { secret_file = \"%s/secret\"; };\n" /* line 5 */            \
	"people = ( { address = \"lead@e.com\"; role = \"agent\"; },\n"        \
	"  { address = \"boss@e.com\"; name = \"Boss\"; role = \"manager\"; "  \
	"} );\n"
/* extra text starts on line 8 */

#define GOOD_SLA                                                               \
	"calendars = ( { name = \"eu\"; timezone = \"Europe/Berlin\";\n"       \
	"  hours = { mon = \"09:00-17:00\"; fri = \"09:00-12:00, "             \
	"13:00-17:00\"; };\n"                                                  \
	"  holidays = [ \"2026-12-25\", \"2026-12-26\" ]; },\n"                \
	"  { name = \"us\"; timezone = \"America/New_York\";\n"                \
	"    hours = { tue = \"08:00-16:00\"; }; } );\n"                       \
	"sla: { policies = (\n"                                                \
	"  { queue = \"support\"; priority = \"high\"; calendar = \"us\";\n"   \
	"    first_response = 30; resolution = 480; },\n"                      \
	"  { first_response = 60; next_response = 120; warn_percent = 75; } "  \
	"); };\n"                                                              \
	"escalation: { batch_minutes = 5; chains = ( { queue = \"support\";\n" \
	"  levels = ( { after = 0; to = [ \"lead@e.com\" ]; },\n"              \
	"             { after = 60; to = [ \"Boss@E.com\", \"lead@e.com\" ]; " \
	"} ); } ); };\n"

/* load - *c_r on success (or NULL) and the errors joined by '\n'. */
static char *
load(const char *extra, struct cfg **c_r)
{
	return testutil_load(BASE_CONF, extra, c_r);
}

static void
test_good_sla_config(void)
{
	struct cfg *c = NULL;
	char *e = load(GOOD_SLA, &c);
	const struct cfg_chain *ch;
	const struct sla_calendar *eu;

	TEST_STREQ(e, "");
	g_free(e);
	if (c == NULL)
		return;
	TEST_INTEQ(c->sla.calendars->len, 2);
	eu = c->sla.calendars->pdata[0];
	TEST_STREQ(eu->name, "eu");
	TEST_INTEQ(eu->n_holidays, 2);
	TEST_INTEQ(eu->n_hours[SLA_FRI], 2);
	TEST_INTEQ(eu->n_hours[SLA_SAT], 0);
	TEST_INTEQ(c->sla.n_policies, 2);
	TEST_STREQ(c->sla.policies[0].queue, "support");
	TEST_INTEQ(c->sla.policies[0].priority, CFG_PRIO_HIGH);
	TEST_STREQ(c->sla.policy_cal[0]->name, "us");
	/* no calendar named: the first one */
	TEST_STREQ(c->sla.policy_cal[1]->name, "eu");
	TEST_CHECK(c->sla.policies[1].queue == NULL);
	TEST_INTEQ(c->sla.policies[1].priority, SLA_ANY_PRIORITY);
	TEST_INTEQ(c->sla.policies[1].warn_pct, 75);
	TEST_INTEQ(c->sla.policies[0].warn_pct, 80); /* default */
	TEST_INTEQ(c->sla.batch_minutes, 5);
	TEST_INTEQ(c->sla.hold_seconds, 0);
	TEST_INTEQ(c->sla.chains->len, 1);
	ch = c->sla.chains->pdata[0];
	TEST_INTEQ(ch->chain.n_levels, 2);
	TEST_INTEQ(ch->chain.level[1].after_min, 60);
	TEST_STREQ(ch->chain.level[1].to[0], "boss@e.com"); /* lower-cased */
	TEST_STREQ(ch->chain.level[1].to[1], "lead@e.com");
	TEST_CHECK(ch->chain.level[1].to[2] == NULL);
	TEST_CHECK(ch->immediate == NULL);
	/* without priority_rules: the default set (3 rules) */
	TEST_INTEQ(c->sla.rules->len, 3);
	cfg_free(&c);
}

static void
test_sla_config_errors(void)
{
	char *e =
	    load("calendars = ( { name = \"eu\"; timezone = "
	         "\"Europe/Berlinn\";\n"                        /* 8 */
	         "  hours = { mon = \"09:00-17:00\"; }; },\n"   /* 9 */
	         "  { name = \"x\"; timezone = \"UTC\";\n"      /* 10 */
	         "    hours = { mon = \"17:00-09:00\"; }; },\n" /* 11 */
	         "  { name = \"y\"; timezone = \"UTC\"; hours = { mon = "
	         "\"9-5\"; }; } );\n"                                  /* 12 */
	         "sla: { policies = ( { calendar = \"nope\";\n"        /* 13 */
	         "  first_response = 10; },\n"                         /* 14 */
	         "  { calendar = \"x\"; frist_response = 5; } ); };\n" /* 15 */
	         "escalation: { chains = ( { levels = (\n"             /* 16 */
	         "  { after = 0; to = [ \"lead@e.com\",\n"             /* 17 */
	         "                     \"ghost@e.com\" ]; },\n"        /* 18 */
	         "  { after = -5; to = [ \"boss@e.com\" ]; } );\n"     /* 19 */
	         "  immediate = [ \"nobody@e.com\" ]; } ); };\n"       /* 20 */
	         "priority_rules = ( { name = \"vip\"; priority = \"huge\"; } "
	         ");\n", /* 21 */
	         NULL);

	TEST_CHECK(
	    testutil_has(e, "t.conf:8: calendars: calendar 'eu': unknown time "
	                    "zone 'Europe/Berlinn'"));
	TEST_CHECK(testutil_has(e, "t.conf:11: calendars: 'x' hours.mon:"));
	TEST_CHECK(testutil_has(e, "t.conf:12: calendars: 'y' hours.mon:"));
	TEST_CHECK(testutil_has(
	    e, "t.conf:13: sla.policies: unknown calendar 'nope'"));
	TEST_CHECK(testutil_has(e, "t.conf:15: unknown setting "
	                           "'sla.policies.*.frist_response'"));
	TEST_CHECK(testutil_has(e, "t.conf:18: escalation.chains.levels.to: "
	                           "'ghost@e.com' is not in people"));
	TEST_CHECK(
	    testutil_has(e, "t.conf:19: escalation.chains.levels.after: -5 is "
	                    "out of range"));
	TEST_CHECK(testutil_has(e, "t.conf:20: escalation.chains.immediate: "
	                           "'nobody@e.com' is not in people"));
	TEST_CHECK(
	    testutil_has(e, "t.conf:21: priority_rules: priority 'huge'"));
	TEST_CHECK(testutil_has(e,
	                        "t.conf:21: priority_rules: 'vip' needs from, "
	                        "keywords or importance_high"));
	TEST_CHECK(strstr(e, "lead@e.com' is not") == NULL);
	g_free(e);

	/* levels out of order */
	e = load("escalation: { chains = ( { levels = (\n"
	         "  { after = 60; to = [ \"lead@e.com\" ]; },\n"
	         "  { after = 0; to = [ \"boss@e.com\" ]; } ); } ); };\n",
	         NULL);
	TEST_CHECK(testutil_has(e, "t.conf:8: escalation.chains: "));
	g_free(e);
}

static struct escalate_match
match(const struct cfg *c, const char *from, const char *subject,
      const char *text, const char *imp, const char *xp, int *n_r)
{
	struct escalate_match m;

	*n_r = escalate_rules_match(c, from, subject, text, imp, xp, &m);
	return m;
}

static void
test_default_rules(void)
{
	struct cfg *c = NULL;
	char *e = load("", &c);
	struct escalate_match m;
	int n;

	TEST_STREQ(e, "");
	g_free(e);
	if (c == NULL)
		return;
	m = match(c, "a@x.com", "Invoice wrong",
	          "I was charged twice. I want to speak to your manager.", NULL,
	          NULL, &n);
	TEST_INTEQ(n, 1);
	TEST_INTEQ(m.priority, CFG_PRIO_HIGH);
	TEST_CHECK(m.escalate);
	TEST_STREQ(m.reason, "rule 'churn risk': \"speak to your manager\"");
	/* case and German: umlauts fold, '*' takes any ending */
	m = match(c, "a@x.com", "KÜNDIGUNG meines Vertrags", "", NULL, NULL,
	          &n);
	TEST_CHECK(n == 1 && m.escalate);
	m = match(c, "a@x.com", "Rechnung",
	          "Ich möchte Ihren Vorgesetzten sprechen!", NULL, NULL, &n);
	TEST_CHECK(n == 1 && m.escalate);
	m = match(c, "a@x.com", "Re: Bestellung", "Das ist eine BESCHWERDE.",
	          NULL, NULL, &n);
	TEST_CHECK(n == 1 && m.escalate);
	/* raise only: refund / dringend, no immediate escalation */
	m = match(c, "a@x.com", "Refund please", "", NULL, NULL, &n);
	TEST_CHECK(n == 1 && !m.escalate && m.priority == CFG_PRIO_HIGH);
	TEST_STREQ(m.reason, "rule 'urgent': \"refund\"");
	m = match(c, "a@x.com", "", "Bitte DRINGEND antworten", NULL, NULL, &n);
	TEST_CHECK(n == 1 && !m.escalate);
	m = match(c, "a@x.com", "Urgent: I will cancel my subscription", "",
	          NULL, NULL, &n);
	TEST_INTEQ(n, 2);
	TEST_CHECK(m.escalate);
	/* the escalating rule is named even though it matched second */
	TEST_STREQ(m.reason, "rule 'churn risk': \"cancel my\"");
	/* word boundaries: not inside other words */
	m = match(c, "a@x.com", "Management report",
	          "our managers said the refunded amount is wrong; "
	          "unurgent",
	          NULL, NULL, &n);
	TEST_INTEQ(n, 0);
	TEST_INTEQ(m.priority, -1);
	TEST_CHECK(!m.escalate);
	TEST_STREQ(m.reason, "");
	/* headers */
	m = match(c, "a@x.com", "Hi", "hello", " High", NULL, &n);
	TEST_CHECK(n == 1 && !m.escalate && m.priority == CFG_PRIO_HIGH);
	TEST_STREQ(m.reason, "rule 'importance header': \"Importance: high\"");
	m = match(c, "a@x.com", "Hi", "hello", "normal", "1 (Highest)", &n);
	TEST_INTEQ(n, 1);
	m = match(c, "a@x.com", "Hi", "hello", "low", "3 (Normal)", &n);
	TEST_INTEQ(n, 0);
	/* NULL and invalid UTF-8 are fine */
	m = match(c, NULL, NULL, "\xff\xfe manager \xc3", NULL, NULL, &n);
	TEST_CHECK(n == 1 && m.escalate);
	cfg_free(&c);
}

static void
test_custom_rules(void)
{
	struct cfg *c = NULL;
	char *e = load(
	    "priority_rules = (\n"
	    "  { name = \"vip\"; from = [ \"CEO@big.example\", "
	    "\"@vip.example\" ]; priority = \"urgent\"; },\n"
	    "  { name = \"legal\"; keywords = [ \"Anwalt\", \"lawsuit\" ]; "
	    "escalate = true; } );\n",
	    &c);
	struct escalate_match m;
	int n;

	TEST_STREQ(e, "");
	g_free(e);
	if (c == NULL)
		return;
	TEST_INTEQ(c->sla.rules->len, 2); /* replaces the defaults */
	m = match(c, "ceo@BIG.example", "hello", "", NULL, NULL, &n);
	TEST_CHECK(n == 1 && m.priority == CFG_PRIO_URGENT && !m.escalate);
	m = match(c, "anyone@vip.example", "hello", "", NULL, NULL, &n);
	TEST_CHECK(n == 1 && m.priority == CFG_PRIO_URGENT);
	/* a domain rule is not a suffix match on other domains */
	m = match(c, "x@notvip.example", "hello", "", NULL, NULL, &n);
	TEST_INTEQ(n, 0);
	m = match(c, "x@a.example", "", "Mein ANWALT meldet sich.", NULL, NULL,
	          &n);
	TEST_CHECK(n == 1 && m.escalate && m.priority == CFG_PRIO_HIGH);
	/* defaults are gone: "manager" alone does nothing here */
	m = match(c, "x@a.example", "", "your manager", NULL, NULL, &n);
	TEST_INTEQ(n, 0);
	/* VIP + keyword: the higher priority wins, escalation kept */
	m = match(c, "ceo@big.example", "lawsuit", "", NULL, NULL, &n);
	TEST_CHECK(n == 2 && m.priority == CFG_PRIO_URGENT && m.escalate);
	cfg_free(&c);
}

static bool
wire_has(GBytes *b, const char *needle)
{
	gsize len;
	const char *d = g_bytes_get_data(b, &len);
	g_autofree char *raw = g_strndup(d, len);
	g_autoptr(GRegex) fold = g_regex_new("\r?\n[ \t]+", 0, 0, NULL);
	char *body = strstr(raw, "\r\n\r\n");
	g_autofree char *head = NULL, *s = NULL;

	/* unfold the header lines (RFC 5322 2.2.3), keep the body */
	if (body == NULL)
		body = raw + strlen(raw);
	head = g_regex_replace_literal(fold, raw, body - raw, 0, " ", 0, NULL);
	s = g_strconcat(head, body, NULL);

	if (strstr(s, needle) == NULL) {
		fprintf(stderr, "  missing '%s' in:\n%s\n", needle, s);
		return false;
	}
	return true;
}

static void
test_compose(void)
{
	struct cfg *c = NULL;
	char *e = load("", &c);
	struct compose_esc_item it[2] = {
	    {.ticket = 1042,
	     .what = "first response breached",
	     .level = 1,
	     .n_levels = 3,
	     .subject = "Printer offline",
	     .customer = "Carla <carla@x.com>",
	     .queue = "support",
	     .priority = "normal",
	     .status = "new",
	     .assignee = "",
	     .sla = "first response within 60 business minutes",
	     .breach = "2026-11-24 10:00 CET",
	     .age_min = 75,
	     .last_text = "It does not print."},
	    {.ticket = 1043,
	     .what = "escalated by a priority rule",
	     .subject = "Invoice",
	     .customer = "bob@x.com",
	     .queue = "support",
	     .priority = "high",
	     .status = "new",
	     .assignee = "alice@e.com",
	     .reason = "rule 'churn risk': \"manager\"",
	     .last_text = ""},
	};
	struct compose_esc ce = {.to_addr = "boss@e.com",
	                         .to_name = "Boss",
	                         .items = it,
	                         .n = 1,
	                         .message_id =
	                             "tickd.1042.escalation.1.2@e.com",
	                         .now = 1795510800};
	GBytes *b;

	TEST_STREQ(e, "");
	g_free(e);
	if (c == NULL)
		return;
	b = compose_escalation(c, &ce);
	TEST_CHECK(wire_has(b, "Subject: [Ticket #1042] Escalation level 1: "
	                       "first response breached - Printer offline"));
	TEST_CHECK(wire_has(b, "Auto-Submitted: auto-generated"));
	TEST_CHECK(wire_has(b, "Precedence: bulk"));
	TEST_CHECK(wire_has(b, "X-Auto-Response-Suppress: All"));
	TEST_CHECK(wire_has(b, "X-Tickd-Loop: e.com"));
	TEST_CHECK(wire_has(b, "Held by:  nobody (unassigned)"));
	TEST_CHECK(wire_has(b, "  > It does not print."));
	TEST_CHECK(wire_has(b, "Age:      75 business minutes"));
	{
		gsize len;
		const char *d = g_bytes_get_data(b, &len);
		g_autofree char *s = g_strndup(d, len);
		TEST_CHECK(strstr(s, "Importance:") == NULL);
	}
	g_bytes_unref(b);

	ce.items = &it[1];
	b = compose_escalation(c, &ce);
	TEST_CHECK(wire_has(b,
	                    "Subject: [Ticket #1043] Escalation (priority "
	                    "high): escalated by a priority rule - Invoice"));
	TEST_CHECK(wire_has(b, "Importance: high"));
	TEST_CHECK(wire_has(b, "Held by:  alice@e.com"));
	TEST_CHECK(wire_has(b, "(no text)"));
	g_bytes_unref(b);

	ce.items = it;
	ce.n = 2;
	b = compose_escalation(c, &ce);
	TEST_CHECK(wire_has(b, "Subject: Escalation digest: 2 tickets need "
	                       "attention"));
	TEST_CHECK(wire_has(b, "[Ticket #1042] first response breached (level "
	                       "1 of 3)"));
	TEST_CHECK(wire_has(b, "[Ticket #1043] escalated by a priority rule "
	                       "(immediate escalation)"));
	TEST_CHECK(wire_has(b, "Auto-Submitted: auto-generated"));
	TEST_CHECK(wire_has(b, "Importance: high"));
	g_bytes_unref(b);
	cfg_free(&c);
}

int
main(void)
{
	static const struct test_case cases[] = {
	    {"good_sla_config", test_good_sla_config},
	    {"sla_config_errors", test_sla_config_errors},
	    {"default_rules", test_default_rules},
	    {"custom_rules", test_custom_rules},
	    {"compose", test_compose},
	};
	int rc;

	dir = testutil_dir_make("esc");
	if (dir == NULL)
		return 2;
	mime_init();
	rc = test_run("escalate", cases, ARRAY_SIZE(cases));
	testutil_dir_remove();
	return rc;
}
