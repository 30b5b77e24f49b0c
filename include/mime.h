/*
 * mime.h - the only GMime user.  Turns the raw bytes of one mail into an
 * owned, plain-C description (struct mime_msg) and builds the mails tickd
 * sends.  No GObject ever leaves mime.c.
 *
 * Every string in a mime_msg is valid UTF-8 without NUL bytes (PostgreSQL
 * text accepts it as is); undecodable bytes went through the charset
 * fallback chain or became U+FFFD.  Parsing never fails on bad input: what
 * is wrong is listed in ->defects and the caller still stores the raw mail.
 *
 * 8-bit header bytes (raw GB2312 or Shift_JIS subjects and file names)
 * are read with the first charset that takes every byte of: UTF-8, the
 * charsets the mail declares (its charset= parameters, in order),
 * lim->extra_charsets, libuchardet's guess (a multi-byte charset the
 * bytes convert from, nothing else), then the rest of
 * lim->charset_fallback; raw
 * ISO-2022-JP escapes in a header are read as ISO-2022-JP.  Adjacent
 * encoded words of one charset are decoded together (RFC 2047 6.2:
 * mailers split words in the middle of a multi-byte character).
 *
 * From salvage: when GMime finds no mailbox in a From line that plainly
 * holds an address (unbalanced quotes, "Name user@host" without angle
 * brackets, an address followed by junk), the address is recovered from
 * the text and a "from: salvaged" defect is recorded.
 *
 * Broken multiparts: a boundary line may carry text after the boundary
 * (RFC 2046 5.1.1); a body part that runs to the end of the mail (its
 * multipart never closed) is an attachment when complete parts give body
 * text, and stays the body when it is all the body there is.
 */
#ifndef TICKD_MIME_H
#define TICKD_MIME_H

#include "common.h"

#include <glib.h>

/* An address as written in a header; addr is lower-cased, never NULL. */
struct mime_addr {
	char *name; /* owned, display name or NULL */
	char *addr; /* owned, "local@domain" lower-cased */
};

struct mime_header {
	char *name;  /* owned, as in the mail */
	char *value; /* owned, RFC 2047-decoded UTF-8, unfolded */
};

struct mime_attachment {
	char *filename; /* owned, never NULL (derived from type if absent) */
	char *content_type;  /* owned, lower-case "type/subtype" */
	char *content_id;    /* owned or NULL, without <> */
	bool is_inline;      /* Content-Disposition inline, or cid-referenced */
	bool is_message;     /* a message/rfc822 attached as a whole */
	size_t size;         /* decoded size in bytes */
	unsigned char *data; /* owned, decoded bytes (size of them) */
};

/* Bounds on work done for one hostile mail.  Zero fields take defaults. */
struct mime_limits {
	size_t max_depth;   /* MIME nesting, default 20 */
	size_t max_parts;   /* leaf parts, default 500 */
	size_t max_headers; /* top-level header fields kept, default 500 */
	size_t max_text;    /* bytes of text/html body kept, default 4 MiB */
	const char *const *charset_fallback; /* NULL-terminated; default
	                                        {"utf-8","windows-1252"} */
	/*
	 * NULL-terminated or NULL: charsets (mime.fallback_charsets, e.g.
	 * {"gb18030","shift_jis"}) for 8-bit header bytes, attachment names
	 * and undeclared text, tried after UTF-8 and the charsets the mail
	 * itself declares and before the rest of charset_fallback.
	 */
	const char *const *extra_charsets;
};

struct mime_msg {
	char *message_id;       /* owned or NULL, without <> */
	GPtrArray *in_reply_to; /* char* ids without <>, owned */
	GPtrArray *references;  /* char* ids without <>, owned, in order */
	GPtrArray *from;        /* struct mime_addr*, mailboxes only */
	GPtrArray *reply_to;    /* struct mime_addr* */
	GPtrArray *to;          /* struct mime_addr* */
	GPtrArray *cc;          /* struct mime_addr* */
	char *subject;          /* owned, decoded, never NULL ("" if none) */
	gint64 date;            /* unix seconds, 0 if missing/unparsable */
	char *text;             /* owned, body text, never NULL; from
	                           text/plain or converted from HTML */
	char *html;             /* owned or NULL: the HTML body as UTF-8 */
	char *text_new;         /* owned, never NULL: the part of text the
	                           sender wrote now (quotes/signature cut) */
	char *language;         /* owned or NULL: Content-Language */
	GPtrArray *attachments; /* struct mime_attachment* */
	GPtrArray *headers;     /* struct mime_header*, top level, in order */
	GPtrArray *defects;     /* char*, short descriptions, owned */
	bool unparsed;          /* GMime could not build a message at all */

	/* What loop protection (classify.c) needs from reports. */
	char *content_type;        /* owned, top-level "type/subtype" lower */
	char *report_type;         /* owned or NULL: multipart/report's param */
	char *report_body;         /* owned or NULL: text of the
	                              message/delivery-status, feedback-report
	                              or disposition-notification part */
	char *original_message_id; /* owned or NULL: Message-ID of the mail a
	                              report or bounce is about, from its
	                              message/rfc822 or text/rfc822-headers
	                              part (outside multipart/report: the
	                              first such part near the top, so a
	                              forwarded mail has one too) */
	char *original_headers;    /* owned or NULL: that part's header
	                              block, UTF-8, at most 16 KiB */
};

/* mime_init - call once from main before any other mime_ call. */
void mime_init(void);

/*
 * mime_shutdown - release GMime's global state and mime.c's cached charset
 * converters at exit (after the last mime_ call), so leak checkers see a
 * clean heap.  Optional.
 */
void mime_shutdown(void);

/*
 * mime_parse - parse raw (len bytes, need not be NUL-terminated).  Always
 * returns a new mime_msg (caller frees with mime_msg_free); when the bytes
 * are not a mail at all, ->unparsed is set and ->defects says why.
 */
struct mime_msg *mime_parse(const void *raw, size_t len,
                            const struct mime_limits *lim);

/* mime_msg_free - free *m and set it to NULL; NULL is fine. */
void mime_msg_free(struct mime_msg **m);

/*
 * mime_header - value of the first top-level header called name (case-
 * insensitive), borrowed from m, or NULL when absent.
 */
const char *mime_header(const struct mime_msg *m, const char *name);

/* mime_first_from - the first From mailbox, or NULL. Borrowed. */
const struct mime_addr *mime_first_from(const struct mime_msg *m);

/*
 * mime_quote_split - the part of a reply the sender wrote now: text above
 * "On ... wrote:", "-----Original Message-----", Outlook From:/Sent:
 * blocks, Von:/De:/Le ... a écrit, ">" quoting and a "-- " signature.
 * Returns a new string (g_free); the whole text when nothing is quoted.
 */
char *mime_quote_split(const char *text);

/* mime_html_to_text - readable text from HTML (libxml2).  g_free. */
char *mime_html_to_text(const char *html, size_t len);

/* An outgoing mail.  All strings borrowed, UTF-8; NULL means "leave out". */
struct mime_out {
	const char *from_name, *from_addr;
	const char *to_name, *to_addr;
	const char *subject;
	const char *text;         /* text/plain part, required */
	const char *html;         /* optional text/html alternative */
	const char *message_id;   /* without <> */
	const char *in_reply_to;  /* without <> */
	const char *references;   /* space-separated, each without <> */
	const char *const *extra; /* NULL-terminated name, value pairs */
	gint64 date;              /* unix seconds */
};

/*
 * mime_build - the wire form of o with CRLF line ends, RFC 2047 headers and
 * a 7-bit-safe transfer encoding.  Returns a GBytes the caller unrefs.
 */
GBytes *mime_build(const struct mime_out *o);

#endif
