/*
 * searchdoc.h - a mail's words as PostgreSQL tsvector text, tokenized
 * here instead of by the server (pure; no I/O).
 *
 * Why: PostgreSQL's default text-search parser (to_tsvector) costs about
 * 0.25 us a byte (measured: 0.6-0.8 ms for a 3 KB mail body), more than
 * everything else the ingest transaction does for a new ticket.  tickd
 * splits the text into words itself in one linear pass, numbers their
 * positions as to_tsvector does, and needs from the server only the
 * stemmed form (lexeme) of each distinct letter word, which the caller
 * caches (store_search.c) so that a known word costs nothing.
 *
 * A word is a maximal run of Unicode letters and digits (GLib's
 * g_unichar_isalnum); everything else separates words.  A word longer
 * than SEARCHDOC_MAX_WORD bytes is skipped (base64, junk) but still takes
 * a position.  Positions run from 1 across every part added, up to
 * SEARCHDOC_MAX_POS (PostgreSQL's limit); a word keeps at most
 * SEARCHDOC_MAX_POSITIONS of them (PostgreSQL's limit).  Words with a
 * digit, and every word of a "simple" part, are their own lexeme in
 * lower case (the 'simple' dictionary, as the english and german
 * configurations map numbers); other words need a lexeme from the
 * server's dictionary (searchdoc_words / searchdoc_resolve).
 *
 * Queries go through searchdoc_query, which cuts a user's words the same
 * way, so that a query and a document always agree on what a word is.
 */
#ifndef TICKD_SEARCHDOC_H
#define TICKD_SEARCHDOC_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

#define SEARCHDOC_MAX_WORD      256
#define SEARCHDOC_MAX_POS       16383
#define SEARCHDOC_MAX_POSITIONS 255
/* separates the lexemes of one word in searchdoc_resolve */
#define SEARCHDOC_SEP '\x1f'

struct searchdoc;

/* searchdoc_new - an empty document; free with searchdoc_free. */
struct searchdoc *searchdoc_new(void);
void searchdoc_free(struct searchdoc *d);

/*
 * searchdoc_add - add text (UTF-8; invalid bytes separate words; NULL is
 * nothing) under weight 'A', 'B', 'C' or 'D'.  simple: every word is its
 * own lower-case lexeme (addresses).  Linear in len.
 */
void searchdoc_add(struct searchdoc *d, const char *text, size_t len,
                   char weight, bool simple);

/*
 * searchdoc_words - the distinct lower-case words that need a lexeme from
 * the server's dictionary and have none yet, in the order first seen.
 * Returns a new array of borrowed strings (valid until the next add or
 * free); free the array with g_ptr_array_unref.
 */
GPtrArray *searchdoc_words(struct searchdoc *d);

/*
 * searchdoc_resolve - the lexemes of word (as returned by
 * searchdoc_words): zero or more joined by SEARCHDOC_SEP ("" for a stop
 * word).  Unknown words are ignored.
 */
void searchdoc_resolve(struct searchdoc *d, const char *word,
                       const char *lexemes);

/*
 * searchdoc_tsvector - the document as tsvector input text
 * ("'lex':1A,4B 'other':2A"), lexemes in PostgreSQL's order, equal
 * lexemes of different words merged; words still without lexemes are left
 * out.  Returns a new string (g_free); "" for no words.
 */
char *searchdoc_tsvector(const struct searchdoc *d);

/*
 * searchdoc_binary - the same as tsvector's binary format (tsvector_send),
 * which the server reads without parsing text: send it as a binary
 * parameter.  Returns new bytes (g_bytes_unref).
 */
GBytes *searchdoc_binary(const struct searchdoc *d);

/*
 * searchdoc_hash - FNV-1a over len bytes from a seed drawn once per
 * process, then MurmurHash3's finalizer: a hash of a stranger's words that
 * the stranger cannot aim (see searchdoc.c).  searchdoc_str_hash is the
 * same for a NUL-terminated string, as a GHashFunc, for other tables keyed
 * by a mail's words.
 */
guint32 searchdoc_hash(const char *p, size_t len);
guint searchdoc_str_hash(gconstpointer s);

/* searchdoc_positions - positions used so far (the next word's - 1). */
int searchdoc_positions(const struct searchdoc *d);

/*
 * searchdoc_query - a user's search words cut as documents are: every
 * character that is not a letter or digit becomes a space, except the
 * websearch syntax that tickd_search_query reads ('"' for phrases, '-'
 * before a word for NOT, '*' after a word for a prefix).  Returns a new
 * string (g_free), at most as long as q; NULL for NULL.
 */
char *searchdoc_query(const char *q);

#endif
