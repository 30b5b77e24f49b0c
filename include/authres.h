/*
 * authres.h - pure reader of Authentication-Results header fields (RFC
 * 8601) and the verdict "did our own MTA authenticate this From domain?"
 * that decides whether an INBOX mail from an agent address may act as the
 * agent (ingest.c).  No I/O, no logging, no config file: the caller passes
 * the header values, the trusted authserv-id and the From address.
 *
 * Trust model (documented in README and tickd.conf(5)): a sender can
 * write any Authentication-Results field he likes, in any spelling, below
 * the ones the receiving MTA prepends.  So only the topmost N fields
 * (agents.authres_fields: as many as the site's own MTA and filters add)
 * are read, from the RAW header (no RFC 2047 decoding, the field name
 * exactly "Authentication-Results" followed by the colon), trust stops at
 * the first of them with another authserv-id, and that id is compared as
 * the raw token (a quoted id or an encoded word never matches).  Any
 * dmarc=fail in a trusted field is final: every result is read (a field
 * longer than AUTHRES_MAX_VALUE fails closed), none can be pushed out.
 */
#ifndef TICKD_AUTHRES_H
#define TICKD_AUTHRES_H

#include "common.h"

#include <glib.h>

/* A field value longer than this (bytes) is not parsed: a trusted field
 * that long fails closed.  Every result of a shorter field is read. */
#define AUTHRES_MAX_VALUE 8192
/* The most topmost fields agents.authres_fields may trust. */
#define AUTHRES_MAX_FIELDS 16

/* One "method=result prop=value ..." of a header. */
struct authres_result {
	char *method;        /* owned, lower case: "dkim", "spf", "dmarc" */
	char *result;        /* owned, lower case: "pass", "fail", ... */
	char *header_d;      /* owned or NULL: header.d, lower case */
	char *header_i;      /* owned or NULL: header.i, lower case */
	char *header_from;   /* owned or NULL: header.from, lower case */
	char *smtp_mailfrom; /* owned or NULL: smtp.mailfrom, lower case */
};

struct authres_header {
	char *authserv_id;  /* owned: the raw token, as written (not unquoted,
	                       not decoded, case kept) */
	GPtrArray *results; /* struct authres_result*, owned, in order */
};

/*
 * authres_parse - one Authentication-Results value (unfolded, without the
 * field name).  Comments in parentheses (nested, with \-escapes) are
 * skipped, quoted strings are unquoted, CFWS around '=', '.' and '/' is
 * allowed.  A result that does not parse is skipped, the rest is kept.
 * The authserv-id is the raw run of characters up to white space or ';'
 * (a quoted id keeps its quotes).  Every result is kept, however many.
 * Returns 0 and fills *h (clear with authres_header_clear); -EINVAL when
 * there is no authserv-id, -E2BIG when value is longer than
 * AUTHRES_MAX_VALUE (then *h is untouched).
 */
int authres_parse(const char *value, struct authres_header *h);
void authres_header_clear(struct authres_header *h);

/*
 * authres_raw_fields - the values of the topmost max_fields fields named
 * exactly "Authentication-Results" (ASCII case-insensitive, the colon
 * right after the name: "Authentication-Results :" is another field) in
 * the header block of raw mail bytes (up to the first empty line, or
 * len).  Values are unfolded (line breaks removed, white space kept) and
 * never decoded; a NUL byte becomes a space.  A value longer than
 * AUTHRES_MAX_VALUE is appended as NULL (fails closed in
 * authres_verify).  Reads each byte at most once and stops after
 * max_fields fields.  Appends owned char* (or NULL) to out, which the
 * caller creates with g_free as its free function.
 */
void authres_raw_fields(const char *raw, size_t len, size_t max_fields,
                        GPtrArray *out);

/*
 * authres_verify - do the trusted fields show that from_addr's domain was
 * authenticated by the MTA called authserv_id?  values are the topmost n
 * Authentication-Results values, topmost first (authres_raw_fields);
 * the caller passes only as many as it trusts.  Trust stops at the first
 * field whose authserv-id is not exactly authserv_id (ASCII case aside;
 * raw token, so a quoted id or an encoded word is foreign): a
 * field of ours below a foreign one was not added by our MTA.  A NULL
 * value (too long) or one that does not parse makes the verdict false.
 * Authenticated means one of, in the trusted fields:
 *   dmarc=pass with header.from equal to the From domain,
 *   dkim=pass with header.d (or, without d, header.i's domain) equal to
 *     the From domain,
 *   spf=pass with smtp.mailfrom's domain equal to the From domain,
 * and no dmarc=fail in any of them (every result is read).  Alignment is
 * strict (equal domains, case-insensitive): relaxed alignment would need
 * the public suffix list and would trust any sub-domain's signer.
 * Returns true or false and writes a short reason (ASCII, for logs and the
 * audit trail) into why (at most whylen bytes, NUL-terminated).
 */
bool authres_verify(const char *const *values, size_t n,
                    const char *authserv_id, const char *from_addr, char *why,
                    size_t whylen);

#endif
