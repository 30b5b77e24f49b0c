/*
 * fuzz_forward.c - libFuzzer target for the forward parser
 * (include/forward.h, public API only): the input as the text of an
 * agent's forward (forward_parse_text), as a date, an address and a
 * subject, and as a whole mail (mime_parse, then forward_parse_msg, which
 * also parses an attached message/rfc822).  Everything is freed, so
 * LeakSanitizer reports any leak.
 *
 * Besides the sanitizers it checks the contract: 1 or 0; with 1 the
 * subject, text and note are never NULL, every string is valid UTF-8 and
 * within its bound, an address has one '@' and no upper case; with 0
 * nothing is returned.
 */
#include "forward.h"
#include "mime.h"

#include <glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_str(const char *s, size_t max, bool may_be_null)
{
	if (s == NULL) {
		if (!may_be_null)
			abort();
		return;
	}
	if (!g_utf8_validate(s, -1, NULL) || strlen(s) > max)
		abort();
}

static void
fuzz_addr(const char *a)
{
	const char *at;

	if (a == NULL)
		return;
	fuzz_str(a, FORWARD_ADDR_MAX, false);
	if ((at = strchr(a, '@')) == NULL || strchr(at + 1, '@') != NULL)
		abort();
	for (const char *s = a; *s; s++)
		if (g_ascii_isupper(*s) || (unsigned char)*s <= 0x20)
			abort();
}

static void
fuzz_check(int r, struct forward *f)
{
	if (r == 0) {
		if (f->kind != FORWARD_NONE || f->addr || f->text || f->note)
			abort();
		return;
	}
	if (r != 1 || f->kind == FORWARD_NONE || f->style == NULL)
		abort();
	fuzz_addr(f->addr);
	fuzz_str(f->name, FORWARD_NAME_MAX, true);
	fuzz_str(f->subject, FORWARD_SUBJECT_MAX, false);
	fuzz_str(f->text, SIZE_MAX, false);
	fuzz_str(f->note, FORWARD_NOTE_MAX, false);
	fuzz_str(f->language, SIZE_MAX, true);
	fuzz_str(f->message_id, FORWARD_MSGID_MAX, true);
	forward_clear(f);
	if (f->addr || f->text)
		abort();
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
	struct mime_limits lim = {.max_depth = 8,
	                          .max_parts = 64,
	                          .max_headers = 64,
	                          .max_text = 256u << 10};
	/* what ingest hands it: UTF-8 text (mime.c makes it so) */
	char *raw = g_strndup((const char *)data, size);
	char *text = g_utf8_make_valid(raw, -1);
	int off = size > 0 ? ((int)data[0] - 128) * 60 : 0;
	struct forward f;
	struct mime_msg *m;
	char *s, *name = NULL;
	gint64 t;

	fuzz_check(forward_parse_text(text, text, off, &f), &f);
	(void)forward_date(raw, off, &t);
	s = forward_addr(text, &name);
	fuzz_addr(s);
	fuzz_str(name, FORWARD_NAME_MAX, true);
	g_free(s);
	g_free(name);
	s = forward_subject(text);
	fuzz_str(s, FORWARD_SUBJECT_MAX, false);
	g_free(s);
	(void)forward_zone_offset(raw);

	m = mime_parse(data, size, &lim);
	fuzz_check(forward_parse_msg(m, &lim, &f), &f);
	mime_msg_free(&m);
	g_free(text);
	g_free(raw);
	return 0;
}
