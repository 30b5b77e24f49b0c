/* Unit tests for template.c: parsing and its file:line errors, rendering
 * with fallbacks and HTML escaping, the language choice, loading a
 * directory, and the shipped conf/templates. */
#include "template.h"

#include "test.h"

#include <glib/gstdio.h>
#include <string.h>

static GPtrArray *
errs(void)
{
	return g_ptr_array_new_with_free_func(g_free);
}

static int
parse(struct template_lib *lib, const char *lang, const char *text,
      GPtrArray *e)
{
	return template_lib_parse(lib, "t/ack.txt", "default", lang, "ack",
	                          false, text, strlen(text), e);
}

static void
test_render_basic(void)
{
	struct template_lib *lib = template_lib_new();
	g_autoptr(GPtrArray) e = errs();
	struct template_out o;
	const struct template_var v[] = {
	    {"ticket", "1042"},
	    {"tag", "[Ex #1042]"},
	    {"subject", "Printer\nbroken"},
	    {"customer_name", NULL},
	};

	TEST_INTEQ(parse(lib, "en",
	                 "Subject: {{tag}} Re: {{subject}}\n\n"
	                 "Hello {{ customer_name |there}},\n#{{ticket}} "
	                 "{{agent_name}}.\n",
	                 e),
	           0);
	TEST_INTEQ(e->len, 0);
	TEST_INTEQ(
	    template_render(lib, "default", "en", "ack", v, ARRAY_SIZE(v), &o),
	    0);
	TEST_STREQ(o.subject, "[Ex #1042] Re: Printer broken");
	TEST_STREQ(o.text, "Hello there,\n#1042 .\n");
	TEST_CHECK(o.html == NULL);
	template_out_clear(&o);
	TEST_INTEQ(
	    template_render(lib, "default", "fr", "ack", v, ARRAY_SIZE(v), &o),
	    -ENOENT);
	template_lib_free(&lib);
	TEST_CHECK(lib == NULL);
}

static void
test_html_escaped(void)
{
	struct template_lib *lib = template_lib_new();
	g_autoptr(GPtrArray) e = errs();
	struct template_out o;
	const struct template_var v[] = {{"customer_name", "<b>&Eve</b>"}};
	const char *html = "<p>Hi {{customer_name}}</p>\n";

	TEST_INTEQ(parse(lib, "en", "Hi {{customer_name}}\n", e), 0);
	TEST_INTEQ(template_lib_parse(lib, "t/ack.html", "default", "en", "ack",
	                              true, html, strlen(html), e),
	           0);
	TEST_INTEQ(template_render(lib, "default", "en", "ack", v, 1, &o), 0);
	TEST_STREQ(o.text, "Hi <b>&Eve</b>\n");
	TEST_STREQ(o.html, "<p>Hi &lt;b&gt;&amp;Eve&lt;/b&gt;</p>\n");
	TEST_CHECK(o.subject == NULL);
	template_out_clear(&o);
	template_lib_free(&lib);
}

static void
test_errors_have_lines(void)
{
	struct template_lib *lib = template_lib_new();
	g_autoptr(GPtrArray) e = errs();

	TEST_INTEQ(parse(lib, "en",
	                 "Subject: {{tag}}\n\nline 3\nline 4 {{ticket_nr}}\n",
	                 e),
	           -EINVAL);
	TEST_INTEQ(e->len, 1);
	TEST_CHECK(e->len > 0 &&
	           g_str_has_prefix(e->pdata[0], "t/ack.txt:4: unknown "
	                                         "variable '{{ticket_nr}}'"));
	g_ptr_array_set_size(e, 0);

	/* an unknown variable in the subject is on line 1 */
	TEST_INTEQ(parse(lib, "en", "Subject: {{nope}}\n\nx\n", e), -EINVAL);
	TEST_CHECK(e->len == 1 &&
	           g_str_has_prefix(e->pdata[0], "t/ack.txt:1: "));
	g_ptr_array_set_size(e, 0);

	TEST_INTEQ(parse(lib, "en", "a\nb {{ticket\n}}\n", e), -EINVAL);
	TEST_CHECK(e->len == 1 &&
	           strstr(e->pdata[0], "t/ack.txt:2: '{{' without") != NULL);
	g_ptr_array_set_size(e, 0);

	TEST_INTEQ(parse(lib, "en", "Subject: x\nFrom: evil@x\n\nbody\n", e),
	           -EINVAL);
	TEST_CHECK(e->len == 1 &&
	           strstr(e->pdata[0], "t/ack.txt:2: unknown header 'From'") !=
	               NULL);
	g_ptr_array_set_size(e, 0);

	TEST_INTEQ(parse(lib, "en", "Subject: x\n\n  \n", e), -EINVAL);
	TEST_CHECK(e->len == 1 && strstr(e->pdata[0], "empty") != NULL);
	g_ptr_array_set_size(e, 0);

	TEST_INTEQ(parse(lib, "en", "Subject: only headers", e), -EINVAL);
	TEST_INTEQ(e->len, 1);
	g_ptr_array_set_size(e, 0);

	TEST_INTEQ(template_lib_parse(lib, "t/ack.txt", "default", "en", "ack",
	                              false, "a\xff\xfe", 3, e),
	           -EINVAL);
	TEST_CHECK(e->len == 1 && strstr(e->pdata[0], "UTF-8") != NULL);
	g_ptr_array_set_size(e, 0);

	/* two problems in one file: both reported */
	TEST_INTEQ(parse(lib, "en", "{{a}}\n{{b}}\n", e), -EINVAL);
	TEST_INTEQ(e->len, 2);
	template_lib_free(&lib);
}

static void
test_crlf_and_plain_body(void)
{
	struct template_lib *lib = template_lib_new();
	g_autoptr(GPtrArray) e = errs();
	struct template_out o;
	const struct template_var v[] = {{"queue", "billing"}};

	/* no header block: "Dear customer: ..." is not a header either */
	TEST_INTEQ(parse(lib, "en", "Queue {{queue}}\r\nbye\r\n", e), 0);
	TEST_INTEQ(template_render(lib, "default", "en", "ack", v, 1, &o), 0);
	TEST_STREQ(o.text, "Queue billing\nbye\n");
	template_out_clear(&o);
	template_lib_free(&lib);
}

static void
test_choose_lang(void)
{
	struct template_lib *lib = template_lib_new();
	g_autoptr(GPtrArray) e = errs();

	TEST_INTEQ(parse(lib, "en", "en\n", e), 0);
	TEST_INTEQ(parse(lib, "de", "de\n", e), 0);
	TEST_INTEQ(parse(lib, "de-AT", "at\n", e), 0);

	/* the customer's previous language wins over headers */
	TEST_STREQ(
	    template_choose_lang(lib, "default", "ack", "de", "en", NULL, "en"),
	    "de");
	/* Content-Language, with region fallback to the primary tag */
	TEST_STREQ(template_choose_lang(lib, "default", "ack", NULL, "de-DE",
	                                NULL, "en"),
	           "de");
	TEST_STREQ(template_choose_lang(lib, "default", "ack", NULL, "de-at",
	                                NULL, "en"),
	           "de-AT");
	/* Accept-Language by q-value, unknown languages skipped */
	TEST_STREQ(template_choose_lang(lib, "default", "ack", NULL, NULL,
	                                "fr-FR, fr;q=0.9, en;q=0.5, de;q=0.8",
	                                "en"),
	           "de");
	TEST_STREQ(template_choose_lang(lib, "default", "ack", NULL, NULL,
	                                "de;q=0, *", "en"),
	           "en");
	/* the queue's default, then English, then anything */
	TEST_STREQ(
	    template_choose_lang(lib, "default", "ack", "fr", "it", NULL, "de"),
	    "de");
	TEST_STREQ(
	    template_choose_lang(lib, "default", "ack", NULL, NULL, NULL, "fr"),
	    "en");
	TEST_CHECK(template_choose_lang(lib, "other", "ack", NULL, NULL, NULL,
	                                "en") == NULL);
	TEST_CHECK(template_choose_lang(lib, "default", "digest", "de", NULL,
	                                NULL, "en") == NULL);
	TEST_CHECK(template_has(lib, "default", "de", "ack"));
	TEST_CHECK(!template_has(lib, "default", "fr", "ack"));
	TEST_CHECK(template_has_set(lib, "default", "ack"));
	TEST_CHECK(!template_has_set(lib, "billing", "ack"));
	template_lib_free(&lib);
}

static void
write_file(const char *dir, const char *rel, const char *text)
{
	g_autofree char *p = g_build_filename(dir, rel, NULL);
	g_autofree char *d = g_path_get_dirname(p);

	g_mkdir_with_parents(d, 0700);
	TEST_CHECK(g_file_set_contents(p, text, -1, NULL));
}

static void
rm_rf(const char *path)
{
	GDir *d = g_dir_open(path, 0, NULL);
	const char *n;

	if (d != NULL) {
		while ((n = g_dir_read_name(d)) != NULL) {
			g_autofree char *c = g_build_filename(path, n, NULL);
			rm_rf(c);
		}
		g_dir_close(d);
	}
	g_remove(path);
}

static void
test_load_dir(void)
{
	g_autofree char *dir = g_dir_make_tmp("tmpl-XXXXXX", NULL);
	g_autoptr(GPtrArray) e = errs();
	struct template_lib *lib = NULL;
	g_autofree char *bad = NULL;

	write_file(dir, "billing/en/ack.txt", "Subject: {{tag}}\n\nHi\n");
	write_file(dir, "billing/en/README", "not a template\n");
	write_file(dir, "billing/de/ack.txt", "Subject: {{tag}}\n\nHallo\n");
	TEST_INTEQ(template_lib_load(dir, &lib, e), 0);
	TEST_INTEQ(e->len, 0);
	TEST_CHECK(template_has(lib, "billing", "de", "ack"));
	template_lib_free(&lib);

	write_file(dir, "billing/fr/ack.txt",
	           "Subject: {{tag}}\n\nBonjour\n{{costumer_name}}\n");
	write_file(dir, "billing/fr/notice.html", "<p>x</p>\n");
	TEST_INTEQ(template_lib_load(dir, &lib, e), -EINVAL);
	TEST_CHECK(lib == NULL);
	TEST_INTEQ(e->len, 2);
	bad = g_strdup_printf("%s/billing/fr/ack.txt:4: unknown variable "
	                      "'{{costumer_name}}'",
	                      dir);
	TEST_CHECK((e->len > 0 && g_str_has_prefix(e->pdata[0], bad)) ||
	           (e->len > 1 && g_str_has_prefix(e->pdata[1], bad)));
	TEST_INTEQ(template_lib_load("/nonexistent/tickd", &lib, e), -ENOENT);
	rm_rf(dir);
}

static void
test_shipped_templates(void)
{
	g_autoptr(GPtrArray) e = errs();
	struct template_lib *lib = NULL;
	struct template_out o;
	const struct template_var v[] = {{"ticket", "7"},
	                                 {"tag", "[S #7]"},
	                                 {"subject", "Rechnung"},
	                                 {"customer_name", "Erika"},
	                                 {"from_name", "Support"}};

	TEST_INTEQ(template_lib_load("conf/templates", &lib, e), 0);
	for (guint i = 0; i < e->len; i++)
		fprintf(stderr, "%s\n", (char *)e->pdata[i]);
	TEST_CHECK(template_has(lib, "default", "en", "ack"));
	TEST_CHECK(template_has(lib, "default", "de", "ack"));
	TEST_INTEQ(
	    template_render(lib, "default", "de", "ack", v, ARRAY_SIZE(v), &o),
	    0);
	TEST_STREQ(o.subject, "[S #7] Re: Rechnung");
	TEST_CHECK(o.text && strstr(o.text, "Hallo Erika,") != NULL);
	TEST_CHECK(o.text && strstr(o.text, "#7") != NULL);
	template_out_clear(&o);
	template_lib_free(&lib);
}

int
main(void)
{
	static const struct test_case cases[] = {
	    {"render basic", test_render_basic},
	    {"html escaped", test_html_escaped},
	    {"errors have lines", test_errors_have_lines},
	    {"crlf and plain body", test_crlf_and_plain_body},
	    {"choose language", test_choose_lang},
	    {"load a directory", test_load_dir},
	    {"shipped templates", test_shipped_templates},
	};

	return test_run("template", cases, ARRAY_SIZE(cases));
}
