/*
 * fuzz_searchdoc.c - libFuzzer target for the search tokenizer
 * (include/searchdoc.h, public API only): the input as a mail's text and
 * as a user's query.  Everything is freed, so LeakSanitizer reports any
 * leak.
 *
 * Besides the sanitizers it checks the contract: positions never pass
 * SEARCHDOC_MAX_POS, the tsvector text is valid UTF-8 when every word is
 * resolved, and a query is valid UTF-8 no longer than its input.
 */
#include "searchdoc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = g_strndup((const char *)data, size);
	struct searchdoc *d = searchdoc_new();
	GPtrArray *words;
	char *v, *q;

	searchdoc_add(d, (const char *)data, size, 'B', size & 1);
	if (searchdoc_positions(d) > SEARCHDOC_MAX_POS)
		abort();
	words = searchdoc_words(d);
	for (guint i = 0; i < words->len; i++)
		searchdoc_resolve(d, words->pdata[i], i & 1 ? "" : "x'y\x1fz");
	g_ptr_array_unref(words);
	v = searchdoc_tsvector(d);
	if (!g_utf8_validate(v, -1, NULL))
		abort();
	g_bytes_unref(searchdoc_binary(d));
	q = searchdoc_query(text);
	if (strlen(q) > strlen(text) || !g_utf8_validate(q, -1, NULL))
		abort();
	g_free(q);
	g_free(v);
	searchdoc_free(d);
	g_free(text);
	return 0;
}
