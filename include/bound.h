/*
 * bound.h - length bounds on every value a mail brings along, applied to a
 * parsed mail (struct mime_msg) before any of it reaches an index, a key,
 * a per-mail loop or a log line.  PostgreSQL refuses btree keys over ~2.7
 * KB, so one 4 KB Message-ID or From would otherwise fail its INSERT.  The
 * raw mail keeps every byte; only the parsed copy is cut.  Pure: no I/O,
 * no logging, no config; owns nothing but what it returns.
 */
#ifndef TICKD_BOUND_H
#define TICKD_BOUND_H

#include "common.h"
#include "mime.h"

#include <glib.h>

/* An address longer than this is no address (RFC 5321 4.5.3.1.3: a
 * path is at most 256 octets with its <>): dropped, never truncated, so
 * nothing is ever sent to a truncated (someone else's) address. */
#define BOUND_ADDR 254
/* A Message-ID (or reference, Content-ID) longer than this is replaced by
 * a SHA-256 form of the whole id: unique as the original, still equal
 * for every mail that quotes the same long id, and small in an index. */
#define BOUND_MSGID    250
#define BOUND_NAME     200 /* display names */
#define BOUND_SUBJECT  998 /* RFC 5322 2.1.1: a line */
#define BOUND_LANGUAGE 35  /* a BCP 47 tag with a region and a script */
#define BOUND_FILENAME 255 /* attachment names (a file name on disk) */
#define BOUND_CTYPE    255 /* RFC 6838: 127 + '/' + 127 */
/* References kept: the first (the thread's root) and the newest 49 */
#define BOUND_REFS 50
/* In-Reply-To ids kept */
#define BOUND_IN_REPLY 8
/* To and Cc addresses kept, each: every one becomes a participant row */
#define BOUND_RCPTS 200

/*
 * bound_utf8 - clip s in place to at most max bytes, at a UTF-8 character
 * boundary (s must be valid UTF-8).  true when it was clipped.  NULL is
 * fine (false).
 */
bool bound_utf8(char *s, size_t max);

/*
 * bound_msgid - id itself (borrowed back) when it is at most BOUND_MSGID
 * bytes, else a new "sha256.<64 hex>@long-id.invalid" (g_free) derived
 * from all of id.  *replaced_r (may be NULL) says which.
 */
char *bound_msgid(char *id, bool *replaced_r);

/*
 * bound_dedupe_key - the message's unique key: "mid:<id>" for a Message-ID
 * (bounded with bound_msgid first: at most 4 + BOUND_MSGID bytes), or
 * "sha256:<hex of the raw bytes>" without one.  g_free.
 */
char *bound_dedupe_key(const char *msgid, const void *raw, size_t len);

/* bound_addr_ok - addr is not NULL and at most BOUND_ADDR bytes. */
bool bound_addr_ok(const char *addr);

/*
 * bound_msg - apply every bound above to m in place: ids hashed, lists
 * shortened, over-long addresses dropped from their lists (an over-long
 * From leaves the mail without a sender), names, subject, language and
 * attachment names clipped.  Returns what was cut as one short line
 * ("From address over 254 bytes dropped; 100000 References, kept 50"),
 * g_free, or NULL when the mail was within every bound.  *suspect_r is
 * set when something no honest mail client writes was found (an address
 * dropped, the Message-ID hashed): such a mail is kept for review and
 * never answered.  Long lists and texts alone are not suspect (long
 * threads do carry many References).  Linear in the size of m.
 */
char *bound_msg(struct mime_msg *m, bool *suspect_r);

#endif
