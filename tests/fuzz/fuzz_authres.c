/*
 * fuzz_authres.c - libFuzzer target for the Authentication-Results reader
 * (include/authres.h, public API only): the input is header values, one a
 * line, each through authres_parse, then all of them through
 * authres_verify as the fields of one mail.  Everything is freed, so
 * LeakSanitizer reports any leak.
 *
 * Besides the sanitizers it checks the contract: a parsed header has an
 * authserv-id and lower-case method and result names, the verdict's
 * reason is a NUL-terminated string within its buffer.
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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = g_strndup((const char *)data, size);
	char **values = g_strsplit(text, "\n", AUTHRES_MAX_HEADERS + 4);
	size_t n = g_strv_length(values);
	char why[128];

	for (size_t i = 0; i < n; i++) {
		struct authres_header h = {0};

		if (authres_parse(values[i], &h) != 0)
			continue;
		check_lower(h.authserv_id, false);
		if (!h.results || h.results->len > AUTHRES_MAX_RESULTS)
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
	memset(why, 'x', sizeof(why));
	(void)authres_verify((const char *const *)values, n, "mx.example.com",
	                     "agent@example.com", why, sizeof(why));
	if (!memchr(why, '\0', sizeof(why)))
		abort();
	(void)authres_verify((const char *const *)values, n, "mx.example.com",
	                     "not an address", why, sizeof(why));
	g_strfreev(values);
	g_free(text);
	return 0;
}
