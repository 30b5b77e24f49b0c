/*
 * forward.h - pure parser of a forwarded mail: finds, in the text of a
 * mail an agent forwarded to the support address, whose mail it is (the
 * original sender's address and name, subject, date and text) and the
 * agent's own words above it.  Inline forward blocks as Gmail, Outlook,
 * Thunderbird and Apple Mail write them (English and German, some French),
 * or the mail attached as message/rfc822 (parsed with mime.h).  Owns only
 * what it returns; no I/O, no config, no logging, never reads the clock:
 * whether the sender may forward at all is the caller's (ingest.c) call.
 *
 * Every value is bounded (see the FORWARD_* limits) and every scan is
 * linear in the text: the marker is looked for in the first
 * FORWARD_SCAN_BYTES, the header block is at most FORWARD_HEADER_LINES
 * lines of at most FORWARD_LINE_MAX bytes.
 */
#ifndef TICKD_FORWARD_H
#define TICKD_FORWARD_H

#include "common.h"
#include "mime.h"

#include <glib.h>

/* The forward marker must start within this many bytes of the text. */
#define FORWARD_SCAN_BYTES (64 * 1024)
/* Lines of the forwarded header block read at most ("From:", "Date:"...). */
#define FORWARD_HEADER_LINES 16
/* A header block line longer than this ends the block. */
#define FORWARD_LINE_MAX 998
/* Bounds of what is returned (bytes; addresses are dropped, not cut). */
#define FORWARD_ADDR_MAX    254
#define FORWARD_NAME_MAX    200
#define FORWARD_SUBJECT_MAX 998
#define FORWARD_NOTE_MAX    8000
#define FORWARD_MSGID_MAX   250
/* An attached mail larger than this is not parsed (the mail stays whole). */
#define FORWARD_ATTACHED_MAX (8 * 1024 * 1024)

enum forward_kind {
	FORWARD_NONE,
	FORWARD_INLINE,   /* a forward block in the text */
	FORWARD_ATTACHED, /* a message/rfc822 attachment */
};

struct forward {
	enum forward_kind kind;
	const char *style; /* static: which client's block it was */
	char *addr;        /* owned or NULL: the original sender, lower case,
	                      at most FORWARD_ADDR_MAX bytes, one '@' */
	char *name;        /* owned or NULL: their display name */
	char *subject;     /* owned, never NULL: original subject without
	                      Fwd:/WG:/FW: prefixes ("" when none) */
	gint64 date;       /* unix seconds, 0 when none could be read */
	char *text;        /* owned, never NULL: the forwarded mail's text */
	char *note;        /* owned, never NULL: the forwarder's own words
	                      above the forward, trimmed, at most
	                      FORWARD_NOTE_MAX bytes */
	char *language;    /* owned or NULL: an attached mail's
	                      Content-Language */
	char *message_id;  /* owned or NULL: an attached mail's Message-ID
	                      (without <>; dropped over FORWARD_MSGID_MAX) */
	/* the block is one replies quote with too ("-----Original
	 * Message-----", Outlook's From/Sent block): only the subject's
	 * FW:/WG: tells a forward (forward_subject_prefixed) */
	bool reply_like;
};

/*
 * forward_parse_text - the first forward block in text (UTF-8, NULL is
 * ""), with subject being the forwarding mail's own subject (used, its
 * Fwd:/WG: cut, when the block has no Subject line).  Dates without a
 * zone are read at default_offset seconds east of UTC (the forwarder's
 * client wrote them in its own zone: pass the offset of the forwarding
 * mail's Date).  1 and *f filled (clear with forward_clear), or 0 and *f
 * zeroed when there is no forward block.  A block without a readable
 * address still counts (f->addr NULL: the caller needs #requester).
 */
int forward_parse_text(const char *text, const char *subject,
                       int default_offset, struct forward *f);

/*
 * forward_parse_msg - a forward in the parsed mail m: an inline block in
 * m->text (forward_parse_text), else m's first attached message/rfc822 of
 * at most FORWARD_ATTACHED_MAX bytes, parsed with lim (its sender,
 * subject, date and text; m->text is then the note).  1/0 as above.
 */
int forward_parse_msg(const struct mime_msg *m, const struct mime_limits *lim,
                      struct forward *f);

/* forward_clear - free what *f owns and zero it; a zeroed *f is fine. */
void forward_clear(struct forward *f);

/*
 * forward_date - the instant a forward block's date line names: RFC 5322
 * ("Mon, 1 Dec 2026 10:00:00 +0100"), Gmail ("Mon, Dec 1, 2026 at 10:00
 * AM", "Mo., 1. Dez. 2026 um 10:00 Uhr"), Outlook ("Monday, December 1,
 * 2026 10:00 AM", "Montag, 1. Dezember 2026 10:00", "01.12.2026 10:00",
 * "12/1/2026 10:00 AM"), Apple Mail ("1 December 2026 at 10:00:00 CET",
 * "... GMT+1"), ISO "2026-12-01 10:00".  Without a zone, default_offset.
 * Only the first 200 bytes are read.  true and *t_r, or false.
 */
bool forward_date(const char *s, int default_offset, gint64 *t_r);

/*
 * forward_zone_offset - seconds east of UTC of an RFC 5322 Date value's
 * "+hhmm"/"-hhmm" zone; 0 when there is none (or "-0000").
 */
int forward_zone_offset(const char *date);

/*
 * forward_subject - subject without leading Fwd:/Fw:/FW:/WG:/TR:/VS:
 * prefixes (any number, any case, "Fwd[2]:" too), trimmed and cut to
 * FORWARD_SUBJECT_MAX bytes.  g_free.
 */
char *forward_subject(const char *subject);

/* forward_subject_prefixed - subject starts with a forward prefix that
 * forward_subject cuts ("Fwd:", "FW:", "WG:"...). */
bool forward_subject_prefixed(const char *subject);

/*
 * forward_addr - the address in a From value as forward blocks write it:
 * "Name <a@b>", "Name [mailto:a@b]", "a@b", "a@b (Name)"; lower case and
 * checked (one '@', a dot in the domain, no space or special character,
 * at most FORWARD_ADDR_MAX bytes), else NULL.  The display name into
 * *name_r (g_free, NULL when none) when name_r is not NULL.  g_free.
 */
char *forward_addr(const char *value, char **name_r);

#endif
