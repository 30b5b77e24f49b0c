/*
 * authres.h - pure reader of Authentication-Results header fields (RFC
 * 8601) and the verdict "did our own MTA authenticate this From domain?"
 * that decides whether an INBOX mail from an agent address may act as the
 * agent (ingest.c).  No I/O, no logging, no config file: the caller passes
 * the header values, the trusted authserv-id and the From address.
 *
 * Trust model (documented in README and tickd.conf(5)): only results under
 * the authserv-id of the organisation's own receiving MTA count; anyone
 * can add a header with another id.  We rely on that MTA removing (or
 * renaming) incoming Authentication-Results fields that claim its own id,
 * as RFC 8601 section 5 asks of it; without that a forged header with our
 * id would be believed.
 */
#ifndef TICKD_AUTHRES_H
#define TICKD_AUTHRES_H

#include "common.h"

#include <glib.h>

/* A header value longer than this (bytes) is not parsed at all. */
#define AUTHRES_MAX_VALUE 8192
/* At most this many results are read from one header; more are ignored. */
#define AUTHRES_MAX_RESULTS 32
/* At most this many fields with our authserv-id are looked at. */
#define AUTHRES_MAX_HEADERS 16

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
	char *authserv_id;  /* owned, lower case */
	GPtrArray *results; /* struct authres_result*, owned, in order */
};

/*
 * authres_parse - one Authentication-Results value (unfolded, without the
 * field name).  Comments in parentheses (nested, with \-escapes) are
 * skipped, quoted strings are unquoted, CFWS around '=', '.' and '/' is
 * allowed.  A result that does not parse is skipped, the rest is kept.
 * Returns 0 and fills *h (clear with authres_header_clear); -EINVAL when
 * there is no authserv-id, -E2BIG when value is longer than
 * AUTHRES_MAX_VALUE (then *h is untouched).
 */
int authres_parse(const char *value, struct authres_header *h);
void authres_header_clear(struct authres_header *h);

/*
 * authres_verify - do the values (n Authentication-Results field values,
 * in header order) show that from_addr's domain was authenticated by the
 * MTA called authserv_id?  Fields with any other authserv-id are ignored.
 * Authenticated means one of, in the fields with our id:
 *   dmarc=pass (and its header.from, when given, is the From domain),
 *   dkim=pass with header.d (or, without d, header.i's domain) equal to
 *     the From domain,
 *   spf=pass with smtp.mailfrom's domain equal to the From domain,
 * and no dmarc=fail among them.  Alignment is strict (equal domains,
 * case-insensitive): relaxed alignment would need the public suffix
 * list and would trust any sub-domain's signer.
 * Returns true or false and writes a short reason (ASCII, for logs and the
 * audit trail) into why (at most whylen bytes, NUL-terminated).
 */
bool authres_verify(const char *const *values, size_t n,
                    const char *authserv_id, const char *from_addr, char *why,
                    size_t whylen);

#endif
