/*
 * searchdoc.c - a mail's words as tsvector text.  See searchdoc.h.
 */
#include "searchdoc.h"

#include <string.h>

/* One distinct word of the document (per dictionary kind). */
struct searchdoc_word {
	char *word;    /* lower case, no kind prefix */
	char *lexemes; /* quoted tsvector tokens; "" stop word; NULL unknown */
	GString *pos;  /* "1A,4B" */
	int npos;
};

struct searchdoc {
	GHashTable *index; /* kind char + word -> struct searchdoc_word* */
	GPtrArray *order;  /* struct searchdoc_word*, first seen first */
	GString *key;      /* scratch */
	int pos;
};

static void
searchdoc_word_free(gpointer p)
{
	struct searchdoc_word *w = p;

	g_free(w->word);
	g_free(w->lexemes);
	g_string_free(w->pos, TRUE);
	g_free(w);
}

struct searchdoc *
searchdoc_new(void)
{
	struct searchdoc *d = g_new0(struct searchdoc, 1);

	d->index = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	d->order = g_ptr_array_new_with_free_func(searchdoc_word_free);
	d->key = g_string_sized_new(64);
	return d;
}

void
searchdoc_free(struct searchdoc *d)
{
	if (d == NULL)
		return;
	g_hash_table_unref(d->index);
	g_ptr_array_unref(d->order);
	g_string_free(d->key, TRUE);
	g_free(d);
}

void
searchdoc_quote(GString *s, const char *lexeme)
{
	g_string_append_c(s, '\'');
	for (const char *p = lexeme; *p; p++) {
		if (*p == '\'' || *p == '\\')
			g_string_append_c(s, *p);
		g_string_append_c(s, *p);
	}
	g_string_append_c(s, '\'');
}

/* searchdoc_word - one word of len bytes at p (a run of letters and
 * digits, valid UTF-8): takes the next position and records it. */
static void
searchdoc_word(struct searchdoc *d, const char *p, size_t len, char weight,
               bool simple)
{
	bool ascii = true, digit = false;
	struct searchdoc_word *w;
	char num[8], *n = num + sizeof(num);

	if (d->pos >= SEARCHDOC_MAX_POS)
		return;
	d->pos++;
	if (len > SEARCHDOC_MAX_WORD)
		return;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c >= 0x80)
			ascii = false;
		else if (g_ascii_isdigit(c))
			digit = true;
	}
	if (!ascii) /* a digit of another script counts as a digit too */
		for (const char *q = p; q < p + len; q = g_utf8_next_char(q))
			if (g_unichar_isdigit(g_utf8_get_char(q)))
				digit = true;
	simple = simple || digit;
	/* the key (kind + lower-case word) is built in place: most words of
	 * a mail are already in the document and cost no allocation */
	g_string_truncate(d->key, 0);
	g_string_append_c(d->key, simple ? 's' : 'w');
	if (ascii) {
		for (size_t i = 0; i < len; i++)
			g_string_append_c(d->key, g_ascii_tolower(p[i]));
	} else {
		char *lower = g_utf8_strdown(p, (gssize)len);
		g_string_append(d->key, lower);
		g_free(lower);
	}
	w = g_hash_table_lookup(d->index, d->key->str);
	if (w == NULL) {
		w = g_new0(struct searchdoc_word, 1);
		w->word = g_strdup(d->key->str + 1);
		w->pos = g_string_sized_new(16);
		if (simple) {
			GString *q = g_string_sized_new(len + 2);
			searchdoc_quote(q, w->word);
			w->lexemes = g_string_free(q, FALSE);
		}
		g_hash_table_insert(d->index, g_strdup(d->key->str), w);
		g_ptr_array_add(d->order, w);
	}
	if (w->npos >= SEARCHDOC_MAX_POSITIONS)
		return;
	if (w->npos++ > 0)
		g_string_append_c(w->pos, ',');
	for (int v = d->pos; v > 0 || n == num + sizeof(num); v /= 10)
		*--n = (char)('0' + v % 10);
	g_string_append_len(w->pos, n, num + sizeof(num) - n);
	if (weight != 'D')
		g_string_append_c(w->pos, weight);
}

void
searchdoc_add(struct searchdoc *d, const char *text, size_t len, char weight,
              bool simple)
{
	const char *p, *end, *start = NULL;

	if (text == NULL)
		return;
	if (weight < 'A' || weight > 'D')
		weight = 'D';
	for (p = text, end = text + len; p < end;) {
		unsigned char c = (unsigned char)*p;
		size_t n = 1;
		bool in_word;

		if (c < 0x80) {
			in_word = g_ascii_isalnum(c);
		} else {
			gunichar u = g_utf8_get_char_validated(p, end - p);
			if (u == (gunichar)-1 || u == (gunichar)-2) {
				in_word = false; /* a stray byte separates */
			} else {
				in_word = g_unichar_isalnum(u);
				n = (size_t)(g_utf8_next_char(p) - p);
			}
		}
		if (in_word && start == NULL)
			start = p;
		else if (!in_word && start != NULL) {
			searchdoc_word(d, start, (size_t)(p - start), weight,
			               simple);
			start = NULL;
		}
		p += n;
	}
	if (start != NULL)
		searchdoc_word(d, start, (size_t)(end - start), weight, simple);
}

GPtrArray *
searchdoc_words(struct searchdoc *d)
{
	GPtrArray *out = g_ptr_array_new();

	for (guint i = 0; i < d->order->len; i++) {
		const struct searchdoc_word *w = d->order->pdata[i];
		if (w->lexemes == NULL)
			g_ptr_array_add(out, w->word);
	}
	return out;
}

void
searchdoc_resolve(struct searchdoc *d, const char *word, const char *lexemes)
{
	struct searchdoc_word *w;

	g_string_truncate(d->key, 0);
	g_string_append_c(d->key, 'w');
	g_string_append(d->key, word);
	w = g_hash_table_lookup(d->index, d->key->str);
	if (w == NULL || lexemes == NULL)
		return;
	g_free(w->lexemes);
	w->lexemes = g_strdup(lexemes);
}

/* searchdoc_token_end - the end of the quoted token at s ('...'). */
static const char *
searchdoc_token_end(const char *s)
{
	const char *p = s + 1;

	while (*p) {
		if (*p == '\\' && p[1]) {
			p += 2;
		} else if (*p == '\'') {
			if (p[1] != '\'')
				return p + 1;
			p += 2;
		} else {
			p++;
		}
	}
	return p;
}

char *
searchdoc_tsvector(const struct searchdoc *d)
{
	GString *s = g_string_sized_new(d->order->len * 16 + 1);

	for (guint i = 0; i < d->order->len; i++) {
		const struct searchdoc_word *w = d->order->pdata[i];
		const char *p;

		if (w->lexemes == NULL || w->npos == 0)
			continue;
		for (p = w->lexemes; *p;) {
			const char *e;
			if (*p != '\'') {
				p++;
				continue;
			}
			e = searchdoc_token_end(p);
			if (s->len)
				g_string_append_c(s, ' ');
			g_string_append_len(s, p, e - p);
			g_string_append_c(s, ':');
			g_string_append_len(s, w->pos->str, w->pos->len);
			p = e;
		}
	}
	return g_string_free(s, FALSE);
}

int
searchdoc_positions(const struct searchdoc *d)
{
	return d->pos;
}

/* searchdoc_at - the character at p (end: 0) and its length; a stray
 * byte is U+FFFD, one byte long. */
static gunichar
searchdoc_at(const char *p, const char *end, size_t *n_r)
{
	gunichar u;

	*n_r = 1;
	if (p >= end)
		return 0;
	if ((unsigned char)*p < 0x80)
		return (unsigned char)*p;
	u = g_utf8_get_char_validated(p, end - p);
	if (u == (gunichar)-1 || u == (gunichar)-2)
		return 0xFFFD;
	*n_r = (size_t)(g_utf8_next_char(p) - p);
	return u;
}

char *
searchdoc_query(const char *q)
{
	const char *p, *end;
	GString *s;

	if (q == NULL)
		return NULL;
	end = q + strlen(q);
	s = g_string_sized_new(end - q + 1);
	for (p = q; p < end;) {
		size_t n, nn;
		gunichar u = searchdoc_at(p, end, &n);
		gunichar next = searchdoc_at(p + n, end, &nn);
		char last = s->len ? s->str[s->len - 1] : ' ';
		bool last_word = s->len && last != ' ' && last != '"' &&
		                 last != '-' && last != '*';

		if (g_unichar_isalnum(u))
			g_string_append_len(s, p, n);
		else if (u == '"')
			g_string_append_c(s, '"');
		else if (u == '*' && last_word && !g_unichar_isalnum(next))
			g_string_append_c(s, '*');
		else if (u == '-' && (last == ' ' || last == '"') &&
		         g_unichar_isalnum(next))
			g_string_append_c(s, '-');
		else
			g_string_append_c(s, ' ');
		p += n;
	}
	return g_string_free(s, FALSE);
}
