/* Unit tests for cfg.c: good config, and broken ones reported as
 * file:line: message (every problem, not only the first). */
#include "cfg.h"

#include "test.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct cfg *load_cfg_text(const char *text);

static const char *dir; /* the scratch directory (testutil.h) */

#define BASE_CONF                                                              \
	"database: { conninfo = \"dbname=x\"; };\n"             /* 1 */        \
	"imap: { url = \"imap://127.0.0.1:1\"; user = \"s\";\n" /* 2 */        \
	"        starttls = false; };\n"                        /* 3 */        \
	"smtp: { url = \"smtp://127.0.0.1:2\"; from = \"s@e.com\"; };\n"       \
	"tickets: { secret_file = \"%s/secret\"; };\n" /* 5 */

/* load - errors joined by '\n', "" when the config loaded. */
static char *
load(const char *extra)
{
	return testutil_load(BASE_CONF, extra, NULL);
}

static void
test_good(void)
{
	char *path = testutil_write_conf(BASE_CONF,
	                                 "people = ( { address = \"A@E.com\"; "
	                                 "role = \"manager\"; } );\n");
	GPtrArray *errs = g_ptr_array_new_with_free_func(g_free);
	struct cfg *c = NULL;

	TEST_INTEQ(cfg_load(path, true, &c, errs), 0);
	TEST_INTEQ(errs->len, 0);
	if (c != NULL) {
		TEST_STREQ(c->imap.mailbox, "INBOX");
		TEST_INTEQ(c->imap.poll_interval, 60);
		TEST_STREQ(c->tickets.domain, "e.com");
		TEST_INTEQ(c->tickets.secret_len, 32);
		TEST_CHECK(cfg_person(c, "a@e.com") != NULL);
		TEST_CHECK(cfg_person(c, "a@e.com")->role == CFG_ROLE_MANAGER);
		TEST_CHECK(cfg_person(c, "b@e.com") == NULL);
	}
	cfg_free(&c);
	g_ptr_array_unref(errs);
	g_free(path);
}

static void
test_broken(void)
{
	char *e;

	e = load("imap2: { x = 1; };\n");
	TEST_CHECK(testutil_has(e, "t.conf:6: unknown setting 'imap2'"));
	g_free(e);
	e = load("limits: { per_recipient_day = \"ten\"; };\n");
	TEST_CHECK(
	    testutil_has(e, "t.conf:6: limits.per_recipient_day: expected a "
	                    "whole number"));
	g_free(e);
	e = load("limits: { per_ticket_hour = 5000000000L; };\n");
	TEST_CHECK(
	    testutil_has(e, "t.conf:6: limits.per_ticket_hour: 5000000000 is "
	                    "out of range"));
	g_free(e);
	e = load("limits: { breaker_cooldown = -1; };\n");
	TEST_CHECK(
	    testutil_has(e, "t.conf:6: limits.breaker_cooldown: -1 is out of "
	                    "range"));
	g_free(e);
	e = load("tickets2 = 1;\nlimits: { pol = 3; };\n");
	TEST_CHECK(testutil_has(e, "t.conf:6: unknown setting 'tickets2'"));
	TEST_CHECK(testutil_has(e, "t.conf:7: unknown setting 'limits.pol'"));
	g_free(e);
	e = load("people = ( { name = \"x\"; } );\n");
	TEST_CHECK(testutil_has(e, "t.conf:6: people: entry 1 needs address"));
	g_free(e);
	e = load("imap: { };\n"); /* a second imap group: libconfig error */
	TEST_CHECK(testutil_has(e, "t.conf:6: duplicate setting name"));
	g_free(e);
	e = load("x = ;\n");
	TEST_CHECK(testutil_has(e, "t.conf:6: syntax error"));
	g_free(e);
}

/* A person listed twice (addresses compare case-insensitively)
 * is an error on the second entry's line; every problem is reported in
 * one pass, in file order. */
static void
test_people_and_all_errors(void)
{
	char *e;

	e = load("people = (\n"
	         "  { address = \"a@e.com\"; },\n"
	         "  { address = \"A@E.com\"; role = \"manager\"; }\n"
	         ");\n");
	TEST_CHECK(
	    testutil_has(e, "t.conf:8: people: 'A@E.com' is listed twice"));
	TEST_CHECK(strchr(e, '\n') == NULL); /* only that one */
	g_free(e);
	e = load("people = ( { address = \"b@e.com\"; role = \"boss\"; } );\n"
	         "imap: { after = \"delete\"; };\n");
	/* a second imap group is a libconfig error: first problem only */
	TEST_CHECK(testutil_has(e, "t.conf:7: duplicate setting name"));
	g_free(e);
	e = load("people = ( { address = \"b@e.com\"; role = \"boss\"; } );\n"
	         "log_level = 9;\nlimits: { suppress_days = true; };\n");
	TEST_CHECK(testutil_has(e,
	                        "t.conf:6: people: role 'boss' is not agent or "
	                        "manager"));
	TEST_CHECK(
	    testutil_has(e, "t.conf:7: log_level: 9 is out of range (3..7)"));
	TEST_CHECK(
	    testutil_has(e, "t.conf:8: limits.suppress_days: expected a whole "
	                    "number"));
	g_free(e);
}

/* load_cfg - the loaded config (NULL on errors) for extra. */
static struct cfg *
load_cfg(const char *extra)
{
	struct cfg *c;

	g_free(testutil_load(BASE_CONF, extra, &c));
	return c;
}

/* agents.authserv_id / trust_from: the safe default warns, a set id does
 * not, trusting the From header warns, bad values are errors. */
static void
test_agents(void)
{
	const char *pp = "people = ( { address = \"a@e.com\"; } );\n";
	g_autofree char *p2 =
	    g_strconcat(pp, "agents: { authserv_id = \"mx.e.com\"; };\n", NULL);
	g_autofree char *p3 =
	    g_strconcat(pp, "agents: { trust_from = \"header\"; };\n", NULL);
	struct cfg *c;
	char *e;

	c = load_cfg("");
	TEST_CHECK(c && c->agents.authserv_id == NULL &&
	           c->agents.trust_from == CFG_TRUST_AUTHENTICATED);
	TEST_CHECK(c && cfg_agents_warning(c) == NULL); /* nobody to warn of */
	cfg_free(&c);
	c = load_cfg(pp);
	TEST_CHECK(c && cfg_agents_warning(c) &&
	           strstr(cfg_agents_warning(c), "authserv_id is not set"));
	cfg_free(&c);
	c = load_cfg(p2);
	TEST_CHECK(c && cfg_agents_warning(c) == NULL);
	TEST_STREQ(c ? c->agents.authserv_id : NULL, "mx.e.com");
	cfg_free(&c);
	c = load_cfg(p3);
	TEST_CHECK(c && c->agents.trust_from == CFG_TRUST_HEADER);
	TEST_CHECK(c && cfg_agents_warning(c) &&
	           strstr(cfg_agents_warning(c), "trust_from"));
	cfg_free(&c);
	e = load("agents: { authserv_id = \"mx.e.com; x\";\n"
	         "  trust_from = \"maybe\"; mode = 1; };\n");
	TEST_CHECK(
	    testutil_has(e, "t.conf:6: agents.authserv_id: 'mx.e.com; x' is "
	                    "not a host name"));
	TEST_CHECK(
	    testutil_has(e, "t.conf:7: agents.trust_from: expected "
	                    "\"authenticated\" or \"header\", not 'maybe'"));
	TEST_CHECK(testutil_has(e, "t.conf:7: unknown setting 'agents.mode'"));
	g_free(e);
}

/* mime.fallback_charsets: a list iconv knows, else file:line. */
static void
test_mime_charsets(void)
{
	struct cfg *c;
	char *e;

	c = load_cfg("");
	TEST_CHECK(c && c->mime_fallback_charsets == NULL);
	cfg_free(&c);
	c = load_cfg("mime: { fallback_charsets = [ \"gb18030\", "
	             "\"shift_jis\" ]; };\n");
	TEST_CHECK(c && c->mime_fallback_charsets != NULL);
	if (c && c->mime_fallback_charsets) {
		TEST_STREQ(c->mime_fallback_charsets[0], "gb18030");
		TEST_STREQ(c->mime_fallback_charsets[1], "shift_jis");
		TEST_CHECK(c->mime_fallback_charsets[2] == NULL);
	}
	cfg_free(&c);
	e = load("mime: {\n  fallback_charsets = [ \"gb18030\",\n"
	         "    \"no-such-charset\" ]; };\n");
	TEST_CHECK(testutil_has(e, "t.conf:8: mime.fallback_charsets: unknown "
	                           "charset 'no-such-charset'"));
	g_free(e);
	e = load("mime: { fallback_charsets = \"gb18030\"; };\n");
	TEST_CHECK(
	    testutil_has(e, "t.conf:6: mime.fallback_charsets: expected"));
	g_free(e);
}

static void
test_missing_secret(void)
{
	char *p = g_strdup_printf("%s/secret", dir);
	char *e;

	unlink(p);
	e = load("");
	TEST_CHECK(
	    testutil_has(e, "t.conf:5: tickets.secret_file: cannot read"));
	g_free(e);
	g_file_set_contents(p, "0123456789abcdef0123456789abcdef\n", -1, NULL);
	g_free(p);
}

/* the queues list, the implicit queue, template errors */
static void
test_queues(void)
{
	char *path = testutil_write_conf(
	    BASE_CONF,
	    "queues = (\n"                 /* 6 */
	    "  { name = \"support\"; },\n" /* 7 */
	    "  { name = \"billing\"; user = \"b\"; subject_tag = \"Bill\";\n"
	    "    from = \"b@e.com\"; acknowledge = false;\n" /* 9 */
	    "    retention_days = 30; language = \"de\"; sla = \"gold\"; }\n"
	    ");\n");
	GPtrArray *errs = g_ptr_array_new_with_free_func(g_free);
	struct cfg *c = NULL;
	const struct cfg_queue *q;
	char *e, *tdir, *tf;

	TEST_INTEQ(cfg_load(path, true, &c, errs), 0);
	TEST_INTEQ(errs->len, 0);
	if (c != NULL) {
		TEST_INTEQ(c->queues->len, 2);
		q = cfg_queue_by_name(c, "billing");
		TEST_CHECK(q != NULL);
		if (q != NULL) {
			TEST_STREQ(q->view->imap.user, "b");
			TEST_STREQ(q->view->imap.url, "imap://127.0.0.1:1");
			TEST_STREQ(q->view->tickets.subject_tag, "Bill");
			TEST_STREQ(q->view->tickets.queue, "billing");
			TEST_STREQ(q->view->smtp.from, "b@e.com");
			TEST_CHECK(!q->view->tickets.acknowledge);
			TEST_INTEQ(q->view->tickets.retention_days, 30);
			TEST_STREQ(q->view->tickets.language, "de");
			TEST_STREQ(q->view->tickets.sla, "gold");
		}
		q = cfg_queue_by_name(c, "support");
		TEST_CHECK(q != NULL && strcmp(q->view->imap.user, "s") == 0 &&
		           strcmp(q->view->tickets.subject_tag, "Ticket") ==
		               0 &&
		           q->view->tickets.acknowledge);
		TEST_CHECK(c->templates == NULL); /* no templates/ beside it */
	}
	cfg_free(&c);

	/* without a list: one queue named by tickets.queue */
	e = load("");
	TEST_STREQ(e, "");
	g_free(e);
	g_free(path);
	path = testutil_write_conf(BASE_CONF, "");
	TEST_INTEQ(cfg_load(path, true, &c, errs), 0);
	if (c != NULL) {
		TEST_INTEQ(c->queues->len, 1);
		TEST_CHECK(cfg_queue_by_name(c, "support") != NULL);
	}
	cfg_free(&c);

	e = load(
	    "queues = ( { name = \"a\"; }, { name = \"a\"; },\n"
	    "  { name = \"Bad Name\"; }, { name = \"c\"; colour = 1; },\n"
	    "  { name = \"d\"; password_file = \"/nonexistent/pw\"; } );\n");
	TEST_CHECK(testutil_has(e, "t.conf:6: queues: 'a' is listed twice"));
	TEST_CHECK(testutil_has(e, "t.conf:7: queues: entry 3 needs name"));
	TEST_CHECK(
	    testutil_has(e, "t.conf:7: unknown setting 'queues.*.colour'"));
	TEST_CHECK(testutil_has(e,
	                        "t.conf:8: queues.password_file: cannot read "
	                        "'/nonexistent/pw'"));
	TEST_CHECK(testutil_has(
	    e, "t.conf:8: queues: 'd' reads the same mailbox as 'a'"));
	g_free(e);

	/* a template error is a config error at the template's file:line */
	tdir = g_strdup_printf("%s/tpl/default/en", dir);
	g_mkdir_with_parents(tdir, 0700);
	tf = g_strdup_printf("%s/ack.txt", tdir);
	g_file_set_contents(tf, "Subject: {{tag}}\n\nHi {{nmae}}\n", -1, NULL);
	g_free(tdir);
	tdir = g_strdup_printf("templates: { dir = \"%s/tpl\"; };\n", dir);
	e = load(tdir);
	g_free(tdir);
	tdir = g_strdup_printf("%s:3: unknown variable '{{nmae}}'", tf);
	TEST_CHECK(testutil_has(e, tdir));
	g_free(e);
	g_free(tdir);
	/* fixed, but the queue's set has no ack template */
	g_file_set_contents(tf, "Hi {{customer_name}}\n", -1, NULL);
	tdir =
	    g_strdup_printf("templates: { dir = \"%s/tpl\"; };\n"
	                    "queues = ( { name = \"s\"; },\n"
	                    "  { name = \"q\"; template_set = \"vip\"; } );\n",
	                    dir);
	e = load(tdir);
	TEST_CHECK(
	    testutil_has(e, "t.conf:8: queue 'q': template set 'vip' has no "
	                    "ack.txt"));
	TEST_CHECK(strstr(e, "queue 's'") == NULL);
	g_free(e);
	g_free(tdir);
	e = load("templates: { dir = \"/nonexistent/tpl\"; };\n");
	TEST_CHECK(testutil_has(
	    e, "t.conf:6: templates.dir: '/nonexistent/tpl' is not "
	       "a readable directory"));
	g_free(e);
	unlink(tf);
	g_free(tf);
	tf = g_strdup_printf("%s/tpl/default/en", dir);
	rmdir(tf);
	g_free(tf);
	tf = g_strdup_printf("%s/tpl/default", dir);
	rmdir(tf);
	g_free(tf);
	tf = g_strdup_printf("%s/tpl", dir);
	rmdir(tf);
	g_free(tf);
	g_ptr_array_unref(errs);
	g_free(path);
}

/* First run and the age guard: defaults, a queue's own rule, bad
 * values as file:line errors. */
static void
test_first_run(void)
{
	char *path =
	    testutil_write_conf(BASE_CONF, "limits: { max_mail_age = 7200; };\n"
	                                   "queues = ( { name = \"a\"; },\n"
	                                   "  { name = \"b\"; user = \"b\"; "
	                                   "first_run = \"skip\"; } );\n");
	GPtrArray *errs = g_ptr_array_new_with_free_func(g_free);
	struct cfg *c = NULL;
	char *e;

	TEST_INTEQ(cfg_load(path, true, &c, errs), 0);
	if (c != NULL) {
		TEST_INTEQ(c->imap.first_run, CFG_FIRST_HISTORY);
		TEST_INTEQ(c->imap.first_run_age, 0);
		TEST_INTEQ(c->limits.max_mail_age, 7200);
		TEST_INTEQ(cfg_queue_by_name(c, "a")->view->imap.first_run,
		           CFG_FIRST_HISTORY);
		TEST_INTEQ(cfg_queue_by_name(c, "b")->view->imap.first_run,
		           CFG_FIRST_SKIP);
		TEST_STREQ(cfg_first_run_name(CFG_FIRST_NEW), "new");
	}
	cfg_free(&c);
	g_free(path);
	path = testutil_write_conf(BASE_CONF, "");
	TEST_INTEQ(cfg_load(path, true, &c, errs), 0);
	if (c != NULL)
		TEST_INTEQ(c->limits.max_mail_age, 3 * 86400);
	cfg_free(&c);
	e = load("imap2 = 1;\nqueues = ( { name = \"a\"; first_run = "
	         "\"all\"; } );\nlimits: { max_mail_age = 10; };\n");
	TEST_CHECK(
	    testutil_has(e, "t.conf:7: queues: first_run 'all' is not history, "
	                    "new or skip"));
	TEST_CHECK(testutil_has(
	    e, "t.conf:8: limits.max_mail_age: 10 is out of range"));
	g_free(e);
	g_ptr_array_unref(errs);
	g_free(path);
}

/* load_smtp - errors of the base config with this smtp group instead. */
static char *
load_smtp(const char *smtp, const char *extra)
{
	char *path = g_strdup_printf("%s/t.conf", dir);
	char *text = g_strdup_printf(
	    "database: { conninfo = \"dbname=x\"; };\n"
	    "imap: { url = \"imap://127.0.0.1:1\"; user = \"s\"; };\n"
	    "tickets: { secret_file = \"%s/secret\"; };\n"
	    "smtp: { url = \"smtp://127.0.0.1:2\"; %s };\n" /* 4 */
	    "%s",
	    dir, smtp, extra);
	GPtrArray *errs = g_ptr_array_new_with_free_func(g_free);
	struct cfg *c = NULL;
	char *out;

	g_file_set_contents(path, text, -1, NULL);
	if (cfg_load(path, true, &c, errs) == 0) {
		out = g_strdup("");
		cfg_free(&c);
	} else {
		g_ptr_array_add(errs, NULL);
		out = g_strjoinv("\n", (char **)errs->pdata);
	}
	g_ptr_array_unref(errs);
	g_free(text);
	g_free(path);
	return out;
}

/* smtp.connections: "auto" (the default, 0) or 1..16; anything else is
 * file:line: what is wrong */
static void
test_smtp_connections(void)
{
	char *path = testutil_write_conf(BASE_CONF, "");
	GPtrArray *errs = g_ptr_array_new_with_free_func(g_free);
	struct cfg *c = NULL;
	char *e;

	TEST_INTEQ(cfg_load(path, true, &c, errs), 0);
	if (c != NULL) {
		TEST_INTEQ(c->smtp.connections, 0);
		TEST_INTEQ(c->smtp.max_connections, 4);
	}
	cfg_free(&c);
	g_free(path);
	g_ptr_array_unref(errs);
	e = load_smtp("from = \"s@e.com\"; connections = \"auto\";", "");
	TEST_STREQ(e, "");
	g_free(e);
	e = load_smtp("from = \"s@e.com\"; connections = 1;", "");
	TEST_STREQ(e, "");
	g_free(e);
	e = load_smtp("from = \"s@e.com\"; connections = \"many\";", "");
	TEST_CHECK(testutil_has(e, "t.conf:4: smtp.connections: expected "
	                           "\"auto\" or 1..16, not 'many'"));
	g_free(e);
	e = load_smtp("from = \"s@e.com\"; connections = 0;", "");
	TEST_CHECK(testutil_has(e, "t.conf:4: smtp.connections: 0 is out of "
	                           "range (1..16)"));
	g_free(e);
	e = load_smtp("from = \"s@e.com\"; max_connections = 17;", "");
	TEST_CHECK(testutil_has(e, "t.conf:4: smtp.max_connections: 17 is "
	                           "out of range (1..16)"));
	g_free(e);
}

static void
test_address_split(void)
{
	static const struct {
		const char *in, *addr, *name; /* addr NULL: refused */
	} cases[] = {
	    {"s@e.com", "s@e.com", NULL},
	    {"  s@e.com ", "s@e.com", NULL},
	    {"Example Support <support@example.com>", "support@example.com",
	     "Example Support"},
	    {"\"Support, Example\" <s@e.com>", "s@e.com", "Support, Example"},
	    {"<s@e.com>", "s@e.com", NULL},
	    {"Name<s@e.com>", "s@e.com", "Name"},
	    {"support", NULL, NULL},
	    {"support@", NULL, NULL},
	    {"@e.com", NULL, NULL},
	    {"a@b@c", NULL, NULL},
	    {"a b@e.com", NULL, NULL},
	    {"Name <s@e.com", NULL, NULL},
	    {"Name <s@e.com> x", NULL, NULL},
	    {"Name <Other <s@e.com>>", NULL, NULL},
	    {"Na\r\nBcc: x <s@e.com>", NULL, NULL},
	    {"Name <>", NULL, NULL},
	    {"Jörg <jörg@e.com>", NULL, NULL}, /* no SMTPUTF8 */
	    {"Jörg <joerg@e.com>", "joerg@e.com", "Jörg"},
	    {"\"Weird\" Name\" <a@e.com>", NULL, NULL},
	    {"", NULL, NULL},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *addr = NULL, *name = NULL;
		int r = cfg_address_split(cases[i].in, &addr, &name);

		if (cases[i].addr == NULL) {
			if (r != -EINVAL)
				fprintf(stderr, "  accepted '%s'\n",
				        cases[i].in);
			TEST_INTEQ(r, -EINVAL);
			continue;
		}
		TEST_INTEQ(r, 0);
		TEST_STREQ(addr, cases[i].addr);
		if (cases[i].name == NULL)
			TEST_CHECK(name == NULL);
		else
			TEST_STREQ(name, cases[i].name);
		g_free(addr);
		g_free(name);
	}
}

/* Every address key takes "Name <addr>" (the name fills the matching
 * name key when that is not set) or is refused at its line: a config
 * that checks fine can send. */
static void
test_addresses(void)
{
	struct cfg *c;
	const struct cfg_queue *q;
	char *e;

	c = load_cfg_text("smtp: { url = \"smtp://127.0.0.1:2\";\n"
	                  "  from = \"Example Support <Support@Example.com>\"; "
	                  "};\n"
	                  "people = ( { address = \"Alice A <A@E.com>\"; },\n"
	                  "  { address = \"Bob <b@e.com>\"; name = \"Robert\"; "
	                  "role = \"manager\"; } );\n"
	                  "queues = ( { name = \"support\"; },\n"
	                  "  { name = \"billing\"; user = \"b\";\n"
	                  "    from = \"Billing Team <billing@e.com>\"; },\n"
	                  "  { name = \"sales\"; user = \"c\";\n"
	                  "    from = \"Sales <sales@e.com>\"; "
	                  "from_name = \"Our Sales\"; } );\n"
	                  "escalation: { chains = ( { immediate = [ \"Bob "
	                  "<b@e.com>\" ];\n"
	                  "  levels = ( { after = 0; to = [ \"Alice "
	                  "<a@e.com>\" ]; } ); } ); };\n"
	                  "priority_rules = ( { name = \"vip\";\n"
	                  "  from = [ \"Big Boss <Boss@Customer.example>\", "
	                  "\"@vip.example\" ]; } );\n");
	TEST_CHECK(c != NULL);
	if (c == NULL)
		return;
	TEST_STREQ(c->smtp.from, "Support@Example.com");
	TEST_STREQ(c->smtp.from_name, "Example Support");
	TEST_STREQ(c->tickets.domain, "example.com");
	TEST_STREQ(cfg_person(c, "a@e.com")->name, "Alice A");
	TEST_STREQ(cfg_person(c, "b@e.com")->name, "Robert"); /* set: kept */
	q = cfg_queue_by_name(c, "support");
	TEST_STREQ(q->from, "Support@Example.com");
	TEST_STREQ(q->view->smtp.from, "Support@Example.com");
	TEST_STREQ(q->from_name, "Example Support");
	q = cfg_queue_by_name(c, "billing");
	TEST_STREQ(q->from, "billing@e.com");
	TEST_STREQ(q->view->smtp.from_name, "Billing Team");
	q = cfg_queue_by_name(c, "sales");
	TEST_STREQ(q->from, "sales@e.com");
	TEST_STREQ(q->from_name, "Our Sales");
	{
		const struct cfg_chain *ch = c->sla.chains->pdata[0];
		const struct cfg_rule *r = c->sla.rules->pdata[0];

		TEST_STREQ(ch->immediate[0], "b@e.com");
		TEST_STREQ(ch->to[0][0], "a@e.com");
		TEST_STREQ(r->from[0], "boss@customer.example");
		TEST_STREQ(r->from[1], "@vip.example");
	}
	cfg_free(&c);

	/* from_name given: the address's name does not replace it */
	c = load_cfg_text("smtp: { url = \"smtp://127.0.0.1:2\";\n"
	                  "  from_name = \"Help\"; from = \"X <s@e.com>\"; "
	                  "};\n");
	TEST_STREQ(c ? c->smtp.from_name : NULL, "Help");
	TEST_STREQ(c ? c->smtp.from : NULL, "s@e.com");
	cfg_free(&c);

	/* refused, each at its own line */
	e = load_smtp("from = \"Example Support <support@>\";",
	              "people = ( { address = \"Alice <alice>\"; } );\n"
	              "queues = ( { name = \"q\"; from = \"Q <q@e.com\"; },\n"
	              "  { name = \"r\"; user = \"r\"; from = \"r\"; } );\n"
	              "escalation: { chains = ( { immediate = [ \"boss\" ];\n"
	              "  levels = ( { to = [ \"A <a@e.com> x\" ]; } ); } "
	              "); };\n"
	              "priority_rules = ( { from = [ \"vip.example\" ]; } "
	              ");\n");
	TEST_CHECK(
	    testutil_has(e, "t.conf:4: smtp.from: 'Example Support <support@>' "
	                    "is not an address"));
	TEST_CHECK(
	    testutil_has(e, "t.conf:5: people.address: 'Alice <alice>' is not "
	                    "an address"));
	TEST_CHECK(testutil_has(e,
	                        "t.conf:6: queues.from: 'Q <q@e.com' is not an "
	                        "address"));
	TEST_CHECK(
	    testutil_has(e, "t.conf:7: queues.from: 'r' is not an address"));
	TEST_CHECK(
	    testutil_has(e, "t.conf:8: escalation.chains.immediate: 'boss' is "
	                    "not an address"));
	TEST_CHECK(testutil_has(e, "t.conf:9: escalation.chains.levels.to: 'A "
	                           "<a@e.com> x' is not an address"));
	TEST_CHECK(
	    testutil_has(e, "t.conf:10: priority_rules.from: 'vip.example' is "
	                    "not an address or @domain"));
	TEST_CHECK(strstr(e, "needs address") == NULL); /* reported once */
	g_free(e);
	/* an empty address is no address either */
	e = load_smtp("from = \"s@e.com\";",
	              "queues = ( { name = \"q\"; from = \"\"; } );\n");
	TEST_CHECK(
	    testutil_has(e, "t.conf:5: queues.from: '' is not an address"));
	g_free(e);
}

/* load_cfg_text - load the base database/imap/tickets groups + text. */
static struct cfg *
load_cfg_text(const char *text)
{
	char *path = g_strdup_printf("%s/t.conf", dir);
	char *all = g_strdup_printf(
	    "database: { conninfo = \"dbname=x\"; };\n"
	    "imap: { url = \"imap://127.0.0.1:1\"; user = \"s\"; };\n"
	    "tickets: { secret_file = \"%s/secret\"; };\n%s",
	    dir, text);
	GPtrArray *errs = g_ptr_array_new_with_free_func(g_free);
	struct cfg *c = NULL;

	g_file_set_contents(path, all, -1, NULL);
	if (cfg_load(path, true, &c, errs) < 0) {
		for (guint i = 0; i < errs->len; i++)
			fprintf(stderr, "  %s\n", (char *)errs->pdata[i]);
		c = NULL;
	}
	g_ptr_array_unref(errs);
	g_free(all);
	g_free(path);
	return c;
}

/* doc_mentions - does the file at path mention the key as a regex? */
static bool
doc_mentions(const char *text, const char *pattern)
{
	return g_regex_match_simple(pattern, text, G_REGEX_MULTILINE, 0);
}

/* Every key of the table is in the man page (spelled as in error
 * messages: "queues.*.from") and set or shown in the example config. */
static void
test_keys_documented(void)
{
	g_autofree char *man = NULL, *example = NULL;
	const char *key;
	size_t i = 0, n = 0;

	TEST_CHECK(g_file_get_contents("conf/tickd.conf.5", &man, NULL, NULL));
	TEST_CHECK(g_file_get_contents("conf/tickd.conf.example", &example,
	                               NULL, NULL));
	if (man == NULL || example == NULL)
		return;
	while ((key = cfg_keys_next(&i)) != NULL) {
		const char *leaf = strrchr(key, '.');
		g_autofree char *qk = g_regex_escape_string(key, -1);
		g_autofree char *man_re = g_strdup_printf(
		    "^\\.[BIR]{1,2} (.*[^a-z_.])?%s(?![a-z_.*])", qk);
		g_autofree char *ex_re = NULL;

		n++;
		if (!doc_mentions(man, man_re)) {
			fprintf(stderr,
			        "  conf/tickd.conf.5: no .B line "
			        "names '%s'\n",
			        key);
			TEST_CHECK(false);
		}
		leaf = leaf ? leaf + 1 : key;
		if (strcmp(leaf, "*") == 0)
			continue; /* a list index has no name to write */
		ex_re = g_strdup_printf("(^|[^a-z_.])%s\\s*[=:]", leaf);
		if (!doc_mentions(example, ex_re)) {
			fprintf(stderr,
			        "  conf/tickd.conf.example: '%s' is "
			        "not shown\n",
			        key);
			TEST_CHECK(false);
		}
	}
	TEST_CHECK(n > 100);
}

int
main(void)
{
	static const struct test_case cases[] = {
	    {"good", test_good},
	    {"broken", test_broken},
	    {"missing_secret", test_missing_secret},
	    {"people_and_all_errors", test_people_and_all_errors},
	    {"agents", test_agents},
	    {"mime_charsets", test_mime_charsets},
	    {"queues", test_queues},
	    {"first_run", test_first_run},
	    {"smtp_connections", test_smtp_connections},
	    {"address_split", test_address_split},
	    {"addresses", test_addresses},
	    {"keys_documented", test_keys_documented},
	};
	int rc;

	dir = testutil_dir_make("cfg");
	if (dir == NULL)
		return 2;
	rc = test_run("cfg", cases, ARRAY_SIZE(cases));
	testutil_dir_remove();
	return rc;
}
