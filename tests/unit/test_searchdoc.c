/* Unit tests for searchdoc.c: words and positions as to_tsvector numbers
 * them, the server asked only for letter words, tsvector text quoted, and
 * queries cut the same way as documents. */
#include "searchdoc.h"

#include "test.h"

#include <string.h>

static char *
doc_of(const char *text, char weight, bool simple)
{
	struct searchdoc *d = searchdoc_new();
	char *s;

	searchdoc_add(d, text, strlen(text), weight, simple);
	s = searchdoc_tsvector(d);
	searchdoc_free(d);
	return s;
}

static void
test_simple_positions(void)
{
	g_autofree char *s = doc_of("Token expired, token EXPIRED!", 'B', true);
	g_autofree char *e = doc_of("", 'B', true);

	/* lexemes in PostgreSQL's order, every position, weight after */
	TEST_STREQ(s, "'expired':2B,4B 'token':1B,3B");
	TEST_STREQ(e, "");
}

static void
test_letter_words_need_lexemes(void)
{
	struct searchdoc *d = searchdoc_new();
	GPtrArray *w;
	char *s;

	searchdoc_add(d, "The invoices of session 8c09786b", 32, 'A', false);
	w = searchdoc_words(d);
	/* words with a digit are their own lexeme; the rest are asked for */
	TEST_INTEQ(w->len, 4);
	TEST_STREQ(w->pdata[0], "the");
	TEST_STREQ(w->pdata[1], "invoices");
	TEST_STREQ(w->pdata[3], "session");
	g_ptr_array_unref(w);
	/* unresolved words are left out until resolved */
	s = searchdoc_tsvector(d);
	TEST_STREQ(s, "'8c09786b':5A");
	g_free(s);
	searchdoc_resolve(d, "the", ""); /* a stop word keeps its position */
	searchdoc_resolve(d, "invoices", "invoic");
	searchdoc_resolve(d, "of", "");
	searchdoc_resolve(d, "session", "session\x1fsess");
	searchdoc_resolve(d, "nothere", "x");
	w = searchdoc_words(d);
	TEST_INTEQ(w->len, 0);
	g_ptr_array_unref(w);
	s = searchdoc_tsvector(d);
	TEST_STREQ(s, "'8c09786b':5A 'invoic':2A 'sess':4A 'session':4A");
	g_free(s);
	TEST_INTEQ(searchdoc_positions(d), 5);
	searchdoc_free(d);
}

static void
test_unicode_and_stray_bytes(void)
{
	/* German letters are letters; a stray byte and punctuation split */
	g_autofree char *s = doc_of("R\xc3\xbc"
	                            "ckerstattung\xff"
	                            "Gr\xc3\xbc\xc3\x9f"
	                            "e e-mail",
	                            'B', true);

	TEST_STREQ(s, "'e':3B 'gr\xc3\xbc\xc3\x9f"
	              "e':2B 'mail':4B 'r\xc3\xbc"
	              "ckerstattung':1B");
	TEST_CHECK(g_utf8_validate(s, -1, NULL));
}

static void
test_quote_and_merge(void)
{
	struct searchdoc *d = searchdoc_new();
	char *s;

	searchdoc_add(d, "dont invoices invoice", 21, 'D', false);
	searchdoc_resolve(d, "dont",
	                  "it's\x1f"
	                  "b\\c");
	/* words that stem alike are one lexeme with the positions of both */
	searchdoc_resolve(d, "invoices", "invoic");
	searchdoc_resolve(d, "invoice", "invoic");
	s = searchdoc_tsvector(d);
	TEST_STREQ(s, "'b\\\\c':1 'invoic':2,3 'it''s':1");
	g_free(s);
	searchdoc_free(d);
}

static void
test_binary(void)
{
	struct searchdoc *d = searchdoc_new();
	GBytes *b;
	gsize n;
	const guint8 *p;
	/* tsvector_send: 2 entries; "ab" NUL, 1 position (A, 2); "x" NUL,
	 * 2 positions (D 1, B 3) */
	static const guint8 want[] = {0, 0,   0, 2, 'a', 'b', 0, 0,    1, 0xc0,
	                              2, 'x', 0, 0, 2,   0,   1, 0x80, 3};

	searchdoc_add(d, "x", 1, 'D', true);
	searchdoc_add(d, "ab", 2, 'A', true);
	searchdoc_add(d, "X", 1, 'B', true);
	b = searchdoc_binary(d);
	p = g_bytes_get_data(b, &n);
	TEST_INTEQ(n, sizeof(want));
	TEST_CHECK(n == sizeof(want) && memcmp(p, want, n) == 0);
	g_bytes_unref(b);
	searchdoc_free(d);
}

static void
test_bounds(void)
{
	g_autofree char *longw = g_strnfill(SEARCHDOC_MAX_WORD + 1, 'a');
	g_autofree char *text = g_strconcat(longw, " ok", NULL);
	g_autofree char *s = doc_of(text, 'C', true);
	GString *many = g_string_new(NULL);
	struct searchdoc *d = searchdoc_new();
	GPtrArray *words;
	char *v;

	/* a word too long is skipped but keeps its position */
	TEST_STREQ(s, "'ok':2C");
	/* positions stop at PostgreSQL's limit; a word keeps 255 */
	for (int i = 0; i < SEARCHDOC_MAX_POS + 10; i++)
		g_string_append(many, "x ");
	searchdoc_add(d, many->str, many->len, 'B', true);
	TEST_INTEQ(searchdoc_positions(d), SEARCHDOC_MAX_POS);
	v = searchdoc_tsvector(d);
	TEST_CHECK(g_str_has_prefix(v, "'x':1B,2B,"));
	TEST_CHECK(g_str_has_suffix(v, ",255B"));
	g_free(v);
	searchdoc_free(d);
	g_string_free(many, TRUE);

	/* distinct words stop with the positions: a table of at most
	 * SEARCHDOC_MAX_POS words, however many a mail has */
	d = searchdoc_new();
	many = g_string_new(NULL);
	for (int i = 0; i < SEARCHDOC_MAX_POS + 5000; i++)
		g_string_append_printf(many, "q%c%c%c%c ", 'a' + i / 17576 % 26,
		                       'a' + i / 676 % 26, 'a' + i / 26 % 26,
		                       'a' + i % 26);
	searchdoc_add(d, many->str, many->len, 'B', false);
	words = searchdoc_words(d);
	TEST_INTEQ(words->len, SEARCHDOC_MAX_POS);
	g_ptr_array_unref(words);
	searchdoc_free(d);
	g_string_free(many, TRUE);
	/* the string hash is the byte hash, the same within a process */
	TEST_CHECK(searchdoc_str_hash("invoice") ==
	           searchdoc_hash("invoice", 7));
	TEST_CHECK(searchdoc_hash("invoice", 7) !=
	           searchdoc_hash("invoicf", 7));
}

/* A document of thousands of distinct words, each more often than a word
 * keeps positions in itself: every word and position is found again. */
static void
test_many_words(void)
{
	GString *text = g_string_new(NULL), *want = g_string_new(NULL);
	struct searchdoc *d = searchdoc_new();
	g_autoptr(GPtrArray) words = NULL;
	char *v;
	int n = 0;

	for (int rep = 0; rep < 8; rep++)
		for (int i = 0; i < 1500; i++) /* "ba", "bb" ... letters only */
			g_string_append_printf(text, "z%c%c%c ", 'a' + i / 676,
			                       'a' + i / 26 % 26, 'a' + i % 26);
	searchdoc_add(d, text->str, text->len, 'B', false);
	words = searchdoc_words(d);
	TEST_INTEQ(words->len, 1500);
	TEST_STREQ(words->pdata[0], "zaaa");
	TEST_STREQ(words->pdata[1499], "zcfr");
	for (guint i = 0; i < words->len; i++) {
		char *lex = g_strdup_printf("%s\x1f%c", (char *)words->pdata[i],
		                            (char)(i % 2 ? 'x' : 'y'));
		searchdoc_resolve(d, words->pdata[i], lex);
		g_free(lex);
	}
	v = searchdoc_tsvector(d);
	/* 'y' (every even word) keeps its first 255 positions, then the
	 * first word, with all 8 of its own (more than it keeps inline) */
	g_string_append(want, "'y'");
	for (int k = 0; k < SEARCHDOC_MAX_POSITIONS; k++)
		g_string_append_printf(want, "%c%dB", k ? ',' : ':', 2 * k + 1);
	g_string_append(want, " 'zaaa'");
	for (int r = 0; r < 8; r++)
		g_string_append_printf(want, "%c%dB", r ? ',' : ':',
		                       r * 1500 + 1);
	g_string_append(want, " 'zaab':2B,");
	TEST_CHECK(strstr(v, want->str) != NULL);
	TEST_CHECK(g_str_has_suffix(v, " 'zcfr':1500B,3000B,4500B,6000B,7500B,"
	                               "9000B,10500B,12000B"));
	for (const char *p = v; (p = strchr(p, ':')) != NULL; p++)
		n++;
	/* 1,500 words and 'x' and 'y', each a lexeme of many words */
	TEST_INTEQ(n, 1502);
	g_free(v);
	searchdoc_free(d);
	g_string_free(text, TRUE);
	g_string_free(want, TRUE);
}

static void
test_query(void)
{
	g_autofree char *a = searchdoc_query("invoice_march.pdf -spam \"e-mail "
	                                     "bug\" invoic* a*b");
	g_autofree char *b = searchdoc_query("alice@example.com 5.0");
	g_autofree char *c = searchdoc_query("R\xc3\xbc"
	                                     "ckerstattung?\xff");

	TEST_STREQ(a, "invoice march pdf -spam \"e mail bug\" invoic* a b");
	TEST_STREQ(b, "alice example com 5 0");
	TEST_STREQ(c, "R\xc3\xbc"
	              "ckerstattung  ");
	TEST_CHECK(searchdoc_query(NULL) == NULL);
}

int
main(void)
{
	static const struct test_case cases[] = {
	    {"simple positions", test_simple_positions},
	    {"letter words need lexemes", test_letter_words_need_lexemes},
	    {"unicode and stray bytes", test_unicode_and_stray_bytes},
	    {"quote and merge", test_quote_and_merge},
	    {"binary", test_binary},
	    {"bounds", test_bounds},
	    {"many words", test_many_words},
	    {"query", test_query},
	};
	return test_run("searchdoc", cases, G_N_ELEMENTS(cases));
}
