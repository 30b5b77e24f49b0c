/*
 * searchdoc.c - a mail's words as tsvector text.  See searchdoc.h.
 */
#include "searchdoc.h"

#include <string.h>

/* Positions a word keeps in itself: most words of a mail occur a few
 * times, and a heap array per word was a third of the cost of a document
 * (perf over the bench's mails: malloc, realloc and free). */
#define SEARCHDOC_INLINE_POS 6

/* One distinct word of the document (per dictionary kind). */
struct searchdoc_word {
	const char *key;     /* kind ('s' simple, 'w' stemmed) + word, in
	                      * d->strings */
	guint32 keylen;      /* bytes of key */
	guint32 hash;        /* searchdoc_hash(key, keylen) */
	const char *lexemes; /* SEARCHDOC_SEP-joined; "" stop word; NULL
	                      * unknown; in d->strings, or the word itself */
	guint16 *more;       /* the positions once over the inline ones;
	                      * owned */
	guint16 inl[SEARCHDOC_INLINE_POS];
	int npos, cap; /* PostgreSQL's WordEntryPos: weight << 14 | position */
};

/* One lexeme of the output, before equal lexemes are merged. */
struct searchdoc_lex {
	const char *s;
	size_t len;
	const struct searchdoc_word *w;
};

struct searchdoc {
	GArray *words;         /* struct searchdoc_word, first seen first */
	guint32 *slots;        /* open addressing: index in words + 1; 0 free */
	guint32 mask;          /* slots - 1, a power of two minus one */
	GStringChunk *strings; /* every key and lexeme, freed at once */
	GString *key;          /* scratch */
	int pos;
};

struct searchdoc *
searchdoc_new(void)
{
	struct searchdoc *d = g_new0(struct searchdoc, 1);

	d->words =
	    g_array_sized_new(FALSE, FALSE, sizeof(struct searchdoc_word), 256);
	d->mask = 511;
	d->slots = g_new0(guint32, d->mask + 1);
	d->strings = g_string_chunk_new(4096);
	d->key = g_string_sized_new(64);
	return d;
}

void
searchdoc_free(struct searchdoc *d)
{
	if (d == NULL)
		return;
	for (guint i = 0; i < d->words->len; i++)
		g_free(g_array_index(d->words, struct searchdoc_word, i).more);
	g_array_unref(d->words);
	g_free(d->slots);
	g_string_chunk_free(d->strings);
	g_string_free(d->key, TRUE);
	g_free(d);
}

static const guint16 *
searchdoc_pos(const struct searchdoc_word *w)
{
	return w->more ? w->more : w->inl;
}

/* The words are a stranger's: with a fixed hash a mail could be written
 * whose words all land in one run of slots, and every word would then
 * probe the whole run (quadratic).  The seed is not known outside the
 * process, and MurmurHash3's finalizer spreads it into the low bits that
 * pick the slot. */
guint32
searchdoc_hash(const char *p, size_t len)
{
	static gsize seed;
	guint32 h;

	if (g_once_init_enter(&seed))
		g_once_init_leave(&seed, (gsize)g_random_int() | 1);
	h = 2166136261u ^ (guint32)seed;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (guchar)p[i]) * 16777619u;
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

guint
searchdoc_str_hash(gconstpointer s)
{
	return searchdoc_hash(s, strlen(s));
}

/* searchdoc_find - the slot of key (len bytes, hash h): the word's, or
 * the free one where it would go. */
static guint32
searchdoc_find(const struct searchdoc *d, const char *key, size_t len,
               guint32 h)
{
	for (guint32 i = h & d->mask;; i = (i + 1) & d->mask) {
		const struct searchdoc_word *w;
		if (d->slots[i] == 0)
			return i;
		w = &g_array_index(d->words, struct searchdoc_word,
		                   d->slots[i] - 1);
		if (w->hash == h && w->keylen == len &&
		    memcmp(w->key, key, len) == 0)
			return i;
	}
}

/* searchdoc_grow - twice the slots, when half are taken: a probe stays
 * short (at most SEARCHDOC_MAX_POS words, so the table stays bounded). */
static void
searchdoc_grow(struct searchdoc *d)
{
	if ((d->words->len + 1) * 2 <= d->mask + 1)
		return;
	g_free(d->slots);
	d->mask = d->mask * 2 + 1;
	d->slots = g_new0(guint32, d->mask + 1);
	for (guint k = 0; k < d->words->len; k++) {
		const struct searchdoc_word *w =
		    &g_array_index(d->words, struct searchdoc_word, k);
		d->slots[searchdoc_find(d, w->key, w->keylen, w->hash)] = k + 1;
	}
}

/* searchdoc_lookup - the word of key (kind + word, len bytes), NULL if
 * the document has none. */
static struct searchdoc_word *
searchdoc_lookup(const struct searchdoc *d, const char *key, size_t len)
{
	guint32 i = searchdoc_find(d, key, len, searchdoc_hash(key, len));

	return d->slots[i] ? &g_array_index(d->words, struct searchdoc_word,
	                                    d->slots[i] - 1)
	                   : NULL;
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
	guint32 h, slot;

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
	h = searchdoc_hash(d->key->str, d->key->len);
	slot = searchdoc_find(d, d->key->str, d->key->len, h);
	if (d->slots[slot] == 0) {
		struct searchdoc_word nw = {0};
		nw.key = g_string_chunk_insert_len(d->strings, d->key->str,
		                                   (gssize)d->key->len);
		nw.keylen = (guint32)d->key->len;
		nw.hash = h;
		/* a digit's word, or any word of a simple part, is its own
		 * lexeme (the 'simple' dictionary: lower case) */
		if (simple)
			nw.lexemes = nw.key + 1;
		nw.cap = SEARCHDOC_INLINE_POS;
		g_array_append_val(d->words, nw);
		d->slots[slot] = d->words->len;
		searchdoc_grow(d);
		w = &g_array_index(d->words, struct searchdoc_word,
		                   d->words->len - 1);
	} else {
		w = &g_array_index(d->words, struct searchdoc_word,
		                   d->slots[slot] - 1);
	}
	if (w->npos >= SEARCHDOC_MAX_POSITIONS)
		return;
	if (w->npos == w->cap) { /* 6, 12, 24 ...: grow */
		w->cap *= 2;
		if (w->more == NULL)
			w->more = g_memdup2(w->inl, sizeof(w->inl));
		w->more = g_renew(guint16, w->more, w->cap);
	}
	(w->more ? w->more : w->inl)[w->npos++] =
	    (guint16)(('D' - weight) << 14 | d->pos);
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

	for (guint i = 0; i < d->words->len; i++) {
		const struct searchdoc_word *w =
		    &g_array_index(d->words, struct searchdoc_word, i);
		if (w->lexemes == NULL)
			g_ptr_array_add(out, (gpointer)(w->key + 1));
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
	w = searchdoc_lookup(d, d->key->str, d->key->len);
	if (w == NULL || lexemes == NULL)
		return;
	w->lexemes = g_string_chunk_insert(d->strings, lexemes);
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
	GArray *out = g_array_sized_new(
	    FALSE, FALSE, sizeof(struct searchdoc_lex), d->words->len);

	for (guint i = 0; i < d->words->len; i++) {
		const struct searchdoc_word *w =
		    &g_array_index(d->words, struct searchdoc_word, i);
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
		memcpy(pos, searchdoc_pos(w), w->npos * sizeof(*pos));
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
		memcpy(all + n, searchdoc_pos(w), w->npos * sizeof(*all));
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
