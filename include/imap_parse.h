/*
 * imap_parse.h - the IMAP response parser (RFC 3501 section 9): untagged
 * responses, FETCH items and their literals, STATUS, SEARCH, CAPABILITY,
 * tagged replies and their response codes.  Pure: no socket, no libcurl,
 * no logging.  Owns nothing beyond what the caller hands in; the bytes it
 * reads are untrusted and every number, name, list depth and literal it
 * accepts is bounded here.
 *
 * A response that continues after a literal ("{n}" ends the line) needs
 * more bytes than the line: the parser asks its struct imap_parse_src
 * for them, so the same code runs over a live connection (imap.c) and
 * over a buffer (the unit tests and the fuzzer).  Without a source a
 * literal is -EPROTO.
 *
 * Returns: 0 or a negative errno, -EPROTO for bytes that are not the IMAP
 * we asked for, with the reason in the cursor's err buffer ("what at
 * '<excerpt>'"); an error from the source is passed on as it is (the
 * source describes it).  A cursor is left where parsing stopped.
 */
#ifndef TICKD_IMAP_PARSE_H
#define TICKD_IMAP_PARSE_H

#include "common.h"

#include <glib.h>

/* The longest response line, the longest literal accepted anywhere but
 * in BODY[] (nothing we ask for has one), and how deep lists may nest. */
#define IMAP_PARSE_MAX_LINE      ((size_t)64 * 1024)
#define IMAP_PARSE_MAX_SMALL_LIT ((size_t)64 * 1024)
#define IMAP_PARSE_MAX_DEPTH     16

/*
 * Where the bytes after a literal come from.  literal: exactly n bytes
 * into dst (NULL: discard; the parser has checked n against its cap);
 * line: the line that continues the response after them, *s_r borrowed
 * until the next call, NUL-terminated, without CRLF.  Both return 0 or
 * -E and describe their own failure.
 */
struct imap_parse_src {
	int (*literal)(void *ctx, uint64_t n, GByteArray *dst);
	int (*line)(void *ctx, const char **s_r, size_t *len_r);
	void *ctx;
};

/* A cursor over one response.  s is borrowed (replaced by the source's
 * line after a literal); err receives the reason of a failure. */
struct imap_cur {
	const char *s;
	size_t len, p;
	const struct imap_parse_src *src; /* borrowed; NULL: one line only */
	char *err;                        /* borrowed, errlen bytes */
	size_t errlen;
};

/* imap_cur_init - a cursor at offset p of s[0..len). */
void imap_cur_init(struct imap_cur *k, const char *s, size_t len, size_t p,
                   const struct imap_parse_src *src, char *err, size_t errlen);

/* What one FETCH response said (only the items tickd asks for). */
struct imap_fetch_item {
	uint32_t uid;
	uint64_t size;     /* RFC822.SIZE */
	uint64_t body_len; /* announced literal length when body_big */
	bool has_uid, has_size, has_body, body_nil, body_big, seen;
};

/* imap_parse_fetch's positive return: BODY[] over the cap, left unread. */
#define IMAP_PARSE_BIG 1

/*
 * imap_parse_bad - record "what at '<excerpt of the rest>'" in k->err;
 * returns -EPROTO.  For callers' own syntax checks on a cursor.
 */
int imap_parse_bad(const struct imap_cur *k, const char *what);

/* imap_parse_peek / imap_parse_getc - the next byte (getc consumes it),
 * -1 at the end of the line. */
int imap_parse_peek(const struct imap_cur *k);
int imap_parse_getc(struct imap_cur *k);

/* imap_parse_u64 / imap_parse_u32 - a number; -EPROTO if none or if it
 * does not fit.  *v_r written only on success. */
int imap_parse_u64(struct imap_cur *k, uint64_t *v_r);
int imap_parse_u32(struct imap_cur *k, uint32_t *v_r);

/* imap_parse_word - letters only ("FETCH", "EXISTS" ...) into buf; ""
 * if none or if too long for buf (then no word we know). */
void imap_parse_word(struct imap_cur *k, char *buf, size_t size);

/* imap_parse_name - an item name, brackets included ("BODY[]<0>"). */
int imap_parse_name(struct imap_cur *k, char *buf, size_t size);

/*
 * imap_parse_line_literal - does the line end in "{n}" (n at most 18
 * digits)?  Then a literal of n bytes follows it: true and *n_r.
 */
bool imap_parse_line_literal(const char *s, size_t len, uint64_t *n_r);

/* imap_parse_skip - one value of any shape (atom, string, list, small
 * literal: drained through the source). */
int imap_parse_skip(struct imap_cur *k);

/* imap_parse_skip_rest - the rest of a response we do not use: small
 * literals that end its lines are drained through the source. */
int imap_parse_skip_rest(struct imap_cur *k);

/*
 * imap_parse_fetch - the parenthesised list of "* n FETCH (...)" at k,
 * items in any order, into *it.  BODY[] goes into body when it fits in
 * cap bytes; a bigger literal is left unread and IMAP_PARSE_BIG returned
 * (it->body_big, it->body_len).  body NULL: a small BODY[] is drained, a
 * large one refused.  0, IMAP_PARSE_BIG or -E.
 */
int imap_parse_fetch(struct imap_cur *k, struct imap_fetch_item *it,
                     GByteArray *body, size_t cap);

/* Untagged responses by what tickd does with them. */
enum imap_untagged {
	IMAP_UNTAGGED_OTHER = 0, /* skip it (imap_parse_skip_rest) */
	IMAP_UNTAGGED_FETCH,     /* "* n FETCH": k at the ' ' after FETCH */
	IMAP_UNTAGGED_CHANGE,    /* "* n EXISTS|RECENT|EXPUNGE" */
	IMAP_UNTAGGED_OK,        /* "* OK ...": resp-text, never a literal */
	IMAP_UNTAGGED_REFUSAL,   /* "* NO", "* BAD", "* PREAUTH" */
	IMAP_UNTAGGED_BYE,
	IMAP_UNTAGGED_CAPABILITY, /* k at the list */
};

/*
 * imap_parse_untagged - classify the untagged response whose "* " k has
 * passed; k is left after its keyword.  The kind (>= 0) or -EPROTO for
 * "* n" without a keyword after one space.
 */
int imap_parse_untagged(struct imap_cur *k);

/*
 * imap_parse_uidvalidity - after "* OK": the " [UIDVALIDITY n]" code if
 * it is there (*v_r written), else nothing.  0 or -EPROTO.
 */
int imap_parse_uidvalidity(struct imap_cur *k, uint32_t *v_r);

/* imap_parse_uidnext - the same for " [UIDNEXT n]" (SELECT, EXAMINE). */
int imap_parse_uidnext(struct imap_cur *k, uint32_t *v_r);

/* The longest flag name imap_parse_has_flag looks up. */
#define IMAP_PARSE_MAX_FLAG 64

/*
 * imap_parse_permflags - after "* OK": the " [PERMANENTFLAGS (...)]"
 * code if it is there (RFC 3501 7.1): its flags as " \SEEN $LABEL1 \* "
 * in upper case into flags (size bytes, at least 2) and *found_r = true;
 * else nothing (0, k unmoved).  A list longer than size is cut at a name
 * (what is cut off reads as not permitted).  0 or -EPROTO.
 * imap_parse_has_flag - is flag (any case; "\*" for "new keywords may be
 * created") in such a string?
 */
int imap_parse_permflags(struct imap_cur *k, char *flags, size_t size,
                         bool *found_r);
bool imap_parse_has_flag(const char *flags, const char *flag);

/*
 * imap_parse_caps - a capability list (text after "CAPABILITY ", up to
 * the end or ']') as " CAP1 CAP2 " in upper case into caps; a list
 * longer than size is cut at a name.  imap_parse_has_cap - is cap (upper
 * case) in such a string?
 */
void imap_parse_caps(const char *s, char *caps, size_t size);
bool imap_parse_has_cap(const char *caps, const char *cap);

/*
 * imap_parse_tagged_err - the errno of a tagged NO/BAD line ("tag NO
 * [CODE] text"), by its RFC 5530 code: -ENOENT, -EACCES, -EAGAIN for
 * those that pass, -EPROTO for BAD, -EIO otherwise.
 */
int imap_parse_tagged_err(const char *text);

/*
 * imap_parse_tagged - is line the tagged reply to tag?  0 if not; 1 for
 * OK; for NO/BAD, imap_parse_tagged_err's errno.
 */
int imap_parse_tagged(const char *line, const char *tag);

/*
 * imap_parse_reply_next - the next line of a reply buffer (lines ending
 * in '\n'; the last one must), NUL-terminated in place and without CR:
 * NULL at the end, or on a NUL byte inside a line (*r = -EPROTO, err set).
 * *pos starts at 0.  The line is borrowed from reply.
 */
char *imap_parse_reply_next(GByteArray *reply, size_t *pos, size_t *len_r,
                            int *r, char *err, size_t errlen);

/* What a STATUS reply said. */
struct imap_parse_status {
	uint32_t uidvalidity, uidnext, messages;
};

/*
 * imap_parse_status_reply - the "* STATUS name (...)" in reply (other
 * lines are ignored).  -EPROTO unless UIDVALIDITY, UIDNEXT and MESSAGES
 * all came, UIDVALIDITY and UIDNEXT non-zero.  The reply is modified in
 * place (lines NUL-terminated).
 */
int imap_parse_status_reply(GByteArray *reply, struct imap_parse_status *st_r,
                            char *err, size_t errlen);

/*
 * imap_parse_sync_failed - did reply (to a NOOP) hold an untagged NO that
 * is not an [ALERT]?  The server could not bring the session's view of
 * its selected mailbox up to date (Dovecot, after the mailbox was deleted
 * and created again under the session: "* NO Internal error"); the view
 * stays stale until the session ends.  1 yes, 0 no, -EPROTO (NUL byte).
 * The reply is modified in place (lines NUL-terminated).
 */
int imap_parse_sync_failed(GByteArray *reply, char *err, size_t errlen);

/*
 * imap_parse_search_reply - the UIDs of "* SEARCH" lines in reply that
 * lie in [lo, hi], appended to found (GArray of uint32_t) in ascending
 * order.  -EPROTO for more than max of them or for a bad number; found
 * may then hold part of them.
 */
int imap_parse_search_reply(GByteArray *reply, uint32_t lo, uint32_t hi,
                            size_t max, GArray *found, char *err,
                            size_t errlen);

/*
 * imap_parse_fetch_reply - the FETCH response in reply that names UID
 * uid (FETCH lines of other mail are ignored; no literal may occur) into
 * *it_r.  -ENOENT if none does ("no message with UID n"), -EPROTO.
 */
int imap_parse_fetch_reply(GByteArray *reply, uint32_t uid,
                           struct imap_fetch_item *it_r, char *err,
                           size_t errlen);

/*
 * imap_parse_caps_reply - the last "* CAPABILITY" line of reply into
 * caps as imap_parse_caps does: 1 found, 0 none, -EPROTO (NUL byte).
 */
int imap_parse_caps_reply(GByteArray *reply, char *caps, size_t size, char *err,
                          size_t errlen);

/*
 * An in-memory source: the lines and literals of responses held in a
 * buffer, with the bounds of the live connection (lines of at most
 * IMAP_PARSE_MAX_LINE bytes, no NUL).  For replaying recorded server
 * output: the unit tests and the fuzzer.  imap_parse_mem_init - buf
 * (borrowed, must outlive m); failures are described in err.
 * imap_parse_mem_line - the next line (*s_r borrowed until the next
 * call): 0, -ENODATA at the end of buf, -EPROTO for a bad line; a
 * literal cut short by the end of buf is -ECONNRESET, as an EOF is on a
 * connection.  imap_parse_mem_clear - frees what m owns.
 */
struct imap_parse_mem {
	struct imap_parse_src src; /* hand &m->src to imap_cur_init */
	const guint8 *buf;         /* borrowed */
	size_t len, pos;
	GString *line; /* owned: the current line */
	char *err;     /* borrowed, errlen bytes */
	size_t errlen;
};

void imap_parse_mem_init(struct imap_parse_mem *m, const void *buf, size_t len,
                         char *err, size_t errlen);
int imap_parse_mem_line(struct imap_parse_mem *m, const char **s_r,
                        size_t *len_r);
void imap_parse_mem_clear(struct imap_parse_mem *m);

/* imap_parse_cmp_u32 - qsort comparator of uint32_t. */
int imap_parse_cmp_u32(const void *a, const void *b);

#endif
