/*
 * searchdoc.c - a mail's words as tsvector text.  See searchdoc.h.
 */
#include "searchdoc.h"

#include <string.h>

/* One distinct word of the document (per dictionary kind). */
struct searchdoc_word {
	char *key;     /* kind ('s' simple, 'w' stemmed) + word; owned */
	char *word;    /* lower case, no kind prefix: key + 1 */
	char *lexemes; /* SEARCHDOC_SEP-joined; "" stop word; NULL unknown */
	guint16 *pos;  /* PostgreSQL's WordEntryPos: weight << 14 | position */
	int npos;
};

/* One lexeme of the output, before equal lexemes are merged. */
struct searchdoc_lex {
	const char *s;
	size_t len;
	const struct searchdoc_word *w;
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

	g_free(w->key);
	g_free(w->lexemes);
	g_free(w->pos);
	g_free(w);
}

struct searchdoc *
searchdoc_new(void)
{
	struct searchdoc *d = g_new0(struct searchdoc, 1);

	/* keys belong to the words (d->order frees them) */
	d->index = g_hash_table_new(g_str_hash, g_str_equal);
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

/* searchdoc_quote - lexeme (len bytes) as tsvector text: 'x' with ' and
 * \ doubled. */
static void
searchdoc_quote(GString *s, const char *lexeme, size_t len)
{
	g_string_append_c(s, '\'');
	for (const char *p = lexeme; p < lexeme + len; p++) {
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
	g_string_set_size(d->key, len + 1);
	d->key->str[0] = simple ? 's' : 'w';
	if (ascii) {
		char *k = d->key->str + 1;
		for (size_t i = 0; i < len; i++)
			k[i] = p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i];
	} else {
		g_string_truncate(d->key, 1);
		char *lower = g_utf8_strdown(p, (gssize)len);
		g_string_append(d->key, lower);
		g_free(lower);
	}
	w = g_hash_table_lookup(d->index, d->key->str);
	if (w == NULL) {
		w = g_new0(struct searchdoc_word, 1);
		w->key = g_strndup(d->key->str, d->key->len);
		w->word = w->key + 1;
		/* a digit's word, or any word of a simple part, is its own
		 * lexeme (the 'simple' dictionary: lower case) */
		if (simple)
			w->lexemes = g_strdup(w->word);
		g_hash_table_insert(d->index, w->key, w);
		g_ptr_array_add(d->order, w);
	}
	if (w->npos >= SEARCHDOC_MAX_POSITIONS)
		return;
	if ((w->npos & (w->npos - 1)) == 0) /* 0, 1, 2, 4 ...: grow */
		w->pos = g_renew(guint16, w->pos, w->npos ? w->npos * 2 : 1);
	w->pos[w->npos++] = (guint16)(('D' - weight) << 14 | d->pos);
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

static int
searchdoc_lex_cmp(gconstpointer pa, gconstpointer pb)
{
	const struct searchdoc_lex *a = pa, *b = pb;
	int c = memcmp(a->s, b->s, MIN(a->len, b->len));

	/* PostgreSQL's order (tsCompareString): bytes, then the shorter */
	if (c == 0 && a->len != b->len)
		c = a->len < b->len ? -1 : 1;
	return c;
}

static int
searchdoc_pos_cmp(gconstpointer pa, gconstpointer pb)
{
	int a = *(const guint16 *)pa & 0x3fff,
	    b = *(const guint16 *)pb & 0x3fff;

	return (a > b) - (a < b);
}

/* searchdoc_entries - every lexeme of a resolved word with positions, in
 * PostgreSQL's order (equal lexemes of different words next to each
 * other).  Free with g_array_unref. */
static GArray *
searchdoc_entries(const struct searchdoc *d)
{
	GArray *out = g_array_new(FALSE, FALSE, sizeof(struct searchdoc_lex));

	for (guint i = 0; i < d->order->len; i++) {
		const struct searchdoc_word *w = d->order->pdata[i];
		const char *p = w->lexemes, *e;

		if (p == NULL || *p == '\0' || w->npos == 0)
			continue;
		for (;; p = e + 1) {
			struct searchdoc_lex l = {p, 0, w};
			e = strchr(p, SEARCHDOC_SEP);
			l.len = e ? (size_t)(e - p) : strlen(p);
			if (l.len > 0 && l.len <= SEARCHDOC_MAX_WORD)
				g_array_append_val(out, l);
			if (e == NULL)
				break;
		}
	}
	g_array_sort(out, searchdoc_lex_cmp);
	return out;
}

/* searchdoc_merge - the positions of entries [i, j) (one lexeme) in
 * order, at most SEARCHDOC_MAX_POSITIONS, into pos; their number. */
static int
searchdoc_merge(const GArray *ents, guint i, guint j,
                guint16 pos[SEARCHDOC_MAX_POSITIONS])
{
	g_autofree guint16 *all = NULL;
	int n = 0;

	if (j == i + 1) {
		const struct searchdoc_word *w =
		    g_array_index(ents, struct searchdoc_lex, i).w;
		memcpy(pos, w->pos, w->npos * sizeof(*pos));
		return w->npos;
	}
	/* words that stem alike: each position is one word's, never two */
	for (guint k = i; k < j; k++)
		n += g_array_index(ents, struct searchdoc_lex, k).w->npos;
	all = g_new(guint16, n);
	n = 0;
	for (guint k = i; k < j; k++) {
		const struct searchdoc_word *w =
		    g_array_index(ents, struct searchdoc_lex, k).w;
		memcpy(all + n, w->pos, w->npos * sizeof(*all));
		n += w->npos;
	}
	qsort(all, n, sizeof(*all), searchdoc_pos_cmp);
	n = MIN(n, SEARCHDOC_MAX_POSITIONS);
	memcpy(pos, all, n * sizeof(*pos));
	return n;
}

/* searchdoc_each - f(lexeme, len, positions, n, data) for each distinct
 * lexeme in PostgreSQL's order. */
static void
searchdoc_each(const struct searchdoc *d,
               void (*f)(const char *, size_t, const guint16 *, int, void *),
               void *data)
{
	GArray *ents = searchdoc_entries(d);
	guint16 pos[SEARCHDOC_MAX_POSITIONS];

	for (guint i = 0, j; i < ents->len; i = j) {
		const struct searchdoc_lex *a =
		    &g_array_index(ents, struct searchdoc_lex, i);
		for (j = i + 1;
		     j < ents->len &&
		     searchdoc_lex_cmp(
		         a, &g_array_index(ents, struct searchdoc_lex, j)) == 0;
		     j++)
			;
		f(a->s, a->len, pos, searchdoc_merge(ents, i, j, pos), data);
	}
	g_array_unref(ents);
}

static void
searchdoc_text_one(const char *lex, size_t len, const guint16 *pos, int n,
                   void *data)
{
	GString *s = data;

	if (s->len)
		g_string_append_c(s, ' ');
	searchdoc_quote(s, lex, len);
	for (int k = 0; k < n; k++) {
		int w = pos[k] >> 14;
		g_string_append_printf(s, "%c%d", k ? ',' : ':',
		                       pos[k] & 0x3fff);
		if (w)
			g_string_append_c(s, (char)('D' - w));
	}
}

char *
searchdoc_tsvector(const struct searchdoc *d)
{
	GString *s = g_string_new(NULL);

	searchdoc_each(d, searchdoc_text_one, s);
	return g_string_free(s, FALSE);
}

struct searchdoc_bin {
	GByteArray *b;
	guint32 n;
};

static void
searchdoc_bin_one(const char *lex, size_t len, const guint16 *pos, int n,
                  void *data)
{
	struct searchdoc_bin *x = data;
	guint16 be = GUINT16_TO_BE((guint16)n);

	g_byte_array_append(x->b, (const guint8 *)lex, (guint)len);
	g_byte_array_append(x->b, (const guint8 *)"", 1);
	g_byte_array_append(x->b, (const guint8 *)&be, 2);
	for (int k = 0; k < n; k++) {
		be = GUINT16_TO_BE(pos[k]);
		g_byte_array_append(x->b, (const guint8 *)&be, 2);
	}
	x->n++;
}

GBytes *
searchdoc_binary(const struct searchdoc *d)
{
	struct searchdoc_bin x = {g_byte_array_new(), 0};
	guint32 be;

	/* tsvector_send's format: entries, then per lexeme its bytes, a NUL,
	 * the number of positions and each (weight << 14 | position), all
	 * big-endian; lexemes sorted and unique, positions ascending */
	g_byte_array_append(x.b, (const guint8 *)"\0\0\0\0", 4);
	searchdoc_each(d, searchdoc_bin_one, &x);
	be = GUINT32_TO_BE(x.n);
	memcpy(x.b->data, &be, 4);
	return g_byte_array_free_to_bytes(x.b);
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
