/*
 * fuzz_authres.c - libFuzzer target for the Authentication-Results reader
 * (include/authres.h, public API only).  The input is read twice: as raw
 * mail bytes through authres_raw_fields, whose values then go through
 * authres_verify as ingest.c passes them, and as header values, one a
 * line, each through authres_parse and all of them through
 * authres_verify.  Everything is freed, so LeakSanitizer reports any
 * leak.
 *
 * Besides the sanitizers it checks the contract: authres_raw_fields
 * returns at most max_fields values, none longer than AUTHRES_MAX_VALUE;
 * a parsed header has an authserv-id and lower-case method, result and
 * domain properties; the verdict's reason is NUL-terminated within its
 * buffer.
 */
#include "authres.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_lower(const char *s, bool may_be_null)
{
	if (!s) {
		if (!may_be_null)
			abort();
		return;
	}
	for (; *s; s++)
		if (g_ascii_isupper(*s))
			abort();
}

static void
verify(const char *const *values, size_t n)
{
	char why[128];

	memset(why, 'x', sizeof(why));
	(void)authres_verify(values, n, "mx.example.com", "agent@example.com",
	                     why, sizeof(why));
	if (!memchr(why, '\0', sizeof(why)))
		abort();
	(void)authres_verify(values, n, "mx.example.com", "not an address", why,
	                     sizeof(why));
}

static void
raw_fields(const uint8_t *data, size_t size)
{
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);

	authres_raw_fields((const char *)data, size, 4, out);
	if (out->len > 4)
		abort();
	for (guint i = 0; i < out->len; i++) {
		const char *v = g_ptr_array_index(out, i);

		if (v && strlen(v) > AUTHRES_MAX_VALUE)
			abort();
	}
	verify((const char *const *)out->pdata, out->len);
	g_ptr_array_unref(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = g_strndup((const char *)data, size);
	char **values = g_strsplit(text, "\n", AUTHRES_MAX_FIELDS + 4);
	size_t n = g_strv_length(values);

	raw_fields(data, size);
	for (size_t i = 0; i < n; i++) {
		struct authres_header h = {0};

		if (authres_parse(values[i], &h) != 0)
			continue;
		if (!h.authserv_id || !h.authserv_id[0] || !h.results)
			abort();
		for (guint j = 0; j < h.results->len; j++) {
			const struct authres_result *res =
			    g_ptr_array_index(h.results, j);

			check_lower(res->method, false);
			check_lower(res->result, false);
			check_lower(res->header_d, true);
			check_lower(res->header_from, true);
		}
		authres_header_clear(&h);
	}
	verify((const char *const *)values, n);
	g_strfreev(values);
	g_free(text);
	return 0;
}
