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

	/* one entry a distinct word, every position of it, weight after */
	TEST_STREQ(s, "'token':1B,3B 'expired':2B,4B");
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
	searchdoc_resolve(d, "invoices", "'invoic'");
	searchdoc_resolve(d, "of", "");
	searchdoc_resolve(d, "session", "'session' 'sess'");
	searchdoc_resolve(d, "nothere", "'x'");
	w = searchdoc_words(d);
	TEST_INTEQ(w->len, 0);
	g_ptr_array_unref(w);
	s = searchdoc_tsvector(d);
	TEST_STREQ(s, "'invoic':2A 'session':4A 'sess':4A '8c09786b':5A");
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

	TEST_STREQ(s, "'r\xc3\xbc"
	              "ckerstattung':1B 'gr\xc3\xbc\xc3\x9f"
	              "e':2B "
	              "'e':3B 'mail':4B");
	TEST_CHECK(g_utf8_validate(s, -1, NULL));
}

static void
test_quote(void)
{
	g_autoptr(GString) q = g_string_new(NULL);

	searchdoc_quote(q, "it's\\");
	TEST_STREQ(q->str, "'it''s\\\\'");
	/* a quoted lexeme with a doubled quote is one token to the writer */
	{
		struct searchdoc *d = searchdoc_new();
		char *s;
		searchdoc_add(d, "dont", 4, 'D', false);
		searchdoc_resolve(d, "dont", "'it''s' 'b\\\\c'");
		s = searchdoc_tsvector(d);
		TEST_STREQ(s, "'it''s':1 'b\\\\c':1");
		g_free(s);
		searchdoc_free(d);
	}
}

static void
test_bounds(void)
{
	g_autofree char *longw = g_strnfill(SEARCHDOC_MAX_WORD + 1, 'a');
	g_autofree char *text = g_strconcat(longw, " ok", NULL);
	g_autofree char *s = doc_of(text, 'C', true);
	GString *many = g_string_new(NULL);
	struct searchdoc *d = searchdoc_new();
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
	    {"quote", test_quote},
	    {"bounds", test_bounds},
	    {"query", test_query},
	};
	return test_run("searchdoc", cases, G_N_ELEMENTS(cases));
}
