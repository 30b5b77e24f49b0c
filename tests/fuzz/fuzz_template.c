/*
 * fuzz_template.c - libFuzzer target for the mail templates
 * (include/template.h): the input as the text of one template file (the
 * .txt part, then the same bytes as the .html part), each rendered with
 * every variable set when it parses, and the first line as an
 * Accept-Language value for template_choose_lang.  Templates are admin
 * input, but a bad file must be a config error, never a crash.
 *
 * Besides the sanitizers it checks the contract: a parse either succeeds
 * or names an error; a successful render has text, and subject and text
 * are valid UTF-8.
 */
#include "template.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_utf8(const char *s, bool may_be_null)
{
	if (!s) {
		if (!may_be_null)
			abort();
		return;
	}
	if (!g_utf8_validate(s, -1, NULL))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct template_lib *lib = template_lib_new();
	GPtrArray *errors = g_ptr_array_new_with_free_func(g_free);
	struct template_var vars[32];
	struct template_out out = {0};
	size_t n = 0;
	char *first;
	int r;

	for (; template_vars[n] && n < G_N_ELEMENTS(vars); n++)
		vars[n] = (struct template_var){template_vars[n],
		                                "V\xc3\xa4l <&> {{x}}\n"};
	r = template_lib_parse(lib, "ack.txt", "default", "en", "ack", false,
	                       (const char *)data, size, errors);
	if ((r < 0) != (errors->len > 0))
		abort();
	if (r == 0) {
		(void)template_lib_parse(lib, "ack.html", "default", "en",
		                         "ack", true, (const char *)data, size,
		                         errors);
		if (template_render(lib, "default", "en", "ack", vars, n,
		                    &out) != 0)
			abort();
		check_utf8(out.text, false);
		check_utf8(out.subject, true);
		template_out_clear(&out);
	}
	first = g_strndup((const char *)data, size);
	first[strcspn(first, "\n")] = '\0';
	(void)template_choose_lang(lib, "default", "ack", NULL, first, first,
	                           "de");
	g_free(first);
	g_ptr_array_unref(errors);
	template_lib_free(&lib);
	return 0;
}
