/*
 * fuzz_mime.c - libFuzzer target for the parse module: the whole of
 * mime_parse (MIME tree, charsets, attachments, reports, HTML to text, quote
 * split) on the input as a mail, then html_to_text and quote_split on the
 * same bytes directly, so that the converters also see input no MIME part
 * would hand them.  Everything is freed, so LeakSanitizer reports any leak.
 *
 * Besides the sanitizers it checks the module's output contract: every
 * string is valid UTF-8 without NUL, text and text_new are never NULL.
 */
#include "html.h"
#include "mime.h"
#include "quote.h"

#include <glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_check(const char *s, bool may_be_null)
{
	if (s == NULL) {
		if (!may_be_null)
			abort();
		return;
	}
	if (!g_utf8_validate(s, -1, NULL))
		abort();
}

static void
fuzz_check_msg(const struct mime_msg *m)
{
	fuzz_check(m->subject, false);
	fuzz_check(m->text, false);
	fuzz_check(m->text_new, false);
	fuzz_check(m->html, true);
	fuzz_check(m->content_type, false);
	fuzz_check(m->report_body, true);
	fuzz_check(m->original_headers, true);
	for (guint i = 0; i < m->headers->len; i++) {
		const struct mime_header *h = g_ptr_array_index(m->headers, i);

		fuzz_check(h->name, false);
		fuzz_check(h->value, false);
	}
	for (guint i = 0; i < m->attachments->len; i++) {
		const struct mime_attachment *a =
		    g_ptr_array_index(m->attachments, i);

		fuzz_check(a->filename, false);
		fuzz_check(a->content_type, false);
		if (a->size > 0 && a->data == NULL)
			abort();
	}
	for (guint i = 0; i < m->from->len; i++) {
		const struct mime_addr *a = g_ptr_array_index(m->from, i);

		fuzz_check(a->name, true);
		fuzz_check(a->addr, false);
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	mime_init();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* small limits so that the bounds themselves get exercised */
	static const char *const fallback[] = {"utf-8", "windows-1252", NULL};
	/* multi-byte and stateful charsets in the chain, as a Japanese or
	 * Chinese team configures them (mime.fallback_charsets) */
	static const char *const extra[] = {"shift_jis", "gb18030",
	                                    "iso-2022-jp", NULL};
	struct mime_limits lim = {.max_depth = 8,
	                          .max_parts = 64,
	                          .max_headers = 64,
	                          .max_text = 256u << 10,
	                          .charset_fallback = fallback,
	                          .extra_charsets = extra};
	struct mime_msg *m = mime_parse(data, size, &lim);
	char *s, *t;

	fuzz_check_msg(m);
	mime_msg_free(&m);
	if (m != NULL)
		abort();

	/* the converters on the raw bytes, as text that is NUL-terminated */
	s = g_strndup((const char *)data, size);
	t = html_to_text((const char *)data, size);
	fuzz_check(t, false);
	g_free(t);
	if (g_utf8_validate(s, -1, NULL)) {
		t = quote_split(s);
		fuzz_check(t, false);
		g_free(t);
	}
	g_free(s);
	return 0;
}
