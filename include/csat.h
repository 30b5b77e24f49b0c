/*
 * csat.h - customer satisfaction by mail.  Owns the rating
 * tokens, the resolution mail with its mailto: rating links, the
 * recognition of a rating reply in ingest and the daemon tick that queues
 * resolution mails.  The tables are csat_rating and csat_request
 * (sql/005_report.sql); SQL lives in store.c.
 *
 * A rating token is a thread.c signed id of kind "rate-good", "rate-okay"
 * or "rate-bad":  tickd.N.rate-good.NONCE.MAC@domain.  It travels in the
 * Subject of the mailto: link, so the customer's reply proves it came from
 * our mail; a ticket number alone rates nothing.  One rating per ticket:
 * a second one (any token) and a forged one are ignored and recorded as
 * events ('csat-repeated', 'csat-forged').  A rating reply never threads
 * into its ticket, so it never reopens it or moves a clock.
 */
#ifndef TICKD_CSAT_H
#define TICKD_CSAT_H

#include "cfg.h"
#include "common.h"

#include <glib.h>

struct store;

/* Ratings: the values of report.h's enum report_rating. */
#define CSAT_GOOD 1
#define CSAT_OKAY 2
#define CSAT_BAD  3
/* An NPS answer 0-10 (csat.nps) travels as rating CSAT_NPS(score). */
#define CSAT_NPS(score) (100 + (score))
/* csat_nps_score - the 0-10 answer of rating, -1 when not an NPS one. */
int csat_nps_score(int rating);

/* csat_rating_name - "good", "okay", "bad", or NULL when out of range. */
const char *csat_rating_name(int rating);

/* csat_token - a new signed token rating ticket with rating.  g_free;
 * NULL for a bad rating. */
char *csat_token(const struct cfg *cfg, gint64 ticket, int rating);

/*
 * csat_match - look for a rating token in subject (pure).  Returns the
 * ticket (> 0) and sets *rating_r for a valid token, 0 when there is no
 * token of ours (or one of another kind: not a rating), -EBADMSG when a
 * token is there but its MAC or rating is wrong (forged or mangled).
 */
gint64 csat_match(const struct cfg *cfg, const char *subject, int *rating_r);

struct csat_mail {
	gint64 ticket;
	const char *to_addr, *to_name;
	const char *subject;    /* the ticket's subject */
	const char *message_id; /* ours, signed, without <> */
	gint64 now;
};

/* csat_compose_resolution - the resolution mail: text and HTML parts,
 * three mailto: links to smtp.from whose subjects carry fresh tokens,
 * RFC 3834 headers.  Unref the GBytes. */
GBytes *csat_compose_resolution(const struct cfg *cfg,
                                const struct csat_mail *m);

/*
 * csat_record - inside ingest's transaction, after the rating mail was
 * stored as message msg: record rating for ticket (> 0), or for ticket
 * <= 0 (forged token, unknown ticket) an event 'csat-forged'.  A ticket
 * rated before gets an event 'csat-repeated' and keeps its first rating.
 * comment: the customer's new text (trimmed, at most 2000 bytes kept).
 * 0 or -E (store.h).
 */
int csat_record(struct store *st, gint64 ticket, int rating, const char *from,
                const char *comment, gint64 msg, gint64 now);

/*
 * csat_tick - queue the resolution mail for tickets of cfg's queue newly
 * resolved (no mail for this resolution yet, none rated) when
 * csat.enabled; one transaction per ticket; the csat_request row makes
 * several instances send each mail once.  Loop rules apply: suppressed
 * addresses and limits.per_recipient_day get no mail (an event says
 * why).  Returns the number of mails queued, or -E.
 */
int csat_tick(const struct cfg *cfg, struct store *st, gint64 now);

#endif
