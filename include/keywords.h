/*
 * keywords.h - the ticket's state as IMAP keywords on the shared
 * mailbox's copies of its mails ("$Ticket1042 $Pending $Assigned-bob"),
 * so that agents see it in any mail client's tag view.  Keywords are
 * never state: they are written after the COMMIT that made the state, by
 * the fetcher of the mailbox (who holds its advisory lock), and a failed
 * STORE changes nothing but the keywords.  Which copies and which tickets
 * are due is in the database (store_keywords.h): a trigger dirties a
 * ticket on every status or assignee change, whoever makes it.
 *
 * The names are pure functions of the ticket (unit-tested); the pass is
 * glue between store and imap and logs nothing itself (imap logs its
 * failures once).
 */
#ifndef TICKD_KEYWORDS_H
#define TICKD_KEYWORDS_H

#include "cfg.h"
#include "common.h"
#include "imap.h"
#include "store_keywords.h"

#include <glib.h>

/* Bytes of a person's name in "$Assigned-<name>". */
#define KEYWORDS_MAX_NAME 32
/* Tickets one pass writes at most per mailbox (the rest: next pass). */
#define KEYWORDS_PASS_MAX 200

/* A ticket's keywords. */
struct keywords_set {
	char ticket[32];                       /* "$Ticket1042" */
	const char *state;                     /* static: "$Open" ... */
	char assigned[KEYWORDS_MAX_NAME + 16]; /* "$Assigned-bob" or "" */
};

/*
 * keywords_name - the part of addr (a person's address) before '@',
 * lower case, with only letters, digits, '-', '_' and '.' kept, at most
 * KEYWORDS_MAX_NAME bytes, into buf (size > KEYWORDS_MAX_NAME); "" when
 * nothing is left.  What a config or a mail wrote never reaches the wire
 * as more than an atom.
 */
void keywords_name(const char *addr, char *buf, size_t size);

/*
 * keywords_for - the keywords of ticket (> 0) in status ("new", "open",
 * "pending", "resolved", "closed"; anything else: no state keyword) with
 * assignee (address or NULL).
 */
void keywords_for(gint64 ticket, const char *status, const char *assignee,
                  struct keywords_set *out);

/*
 * keywords_stale - what to remove when k is written: every other state
 * keyword and old_assigned (the $Assigned- keyword written before, NULL)
 * unless it is k's.  Pointers into k, static strings or old_assigned,
 * at most KEYWORDS_MAX_STALE, into del; returns how many.
 */
#define KEYWORDS_MAX_STALE 8
size_t keywords_stale(const struct keywords_set *k, const char *old_assigned,
                      const char **del);

/*
 * keywords_on - does cfg want the pass: imap.keywords or
 * imap.closed_move_to (closed tickets' INBOX mail moved there by it).
 */
bool keywords_on(const struct cfg *cfg);

/*
 * keywords_note - remember one ingested mail for keywords_record (only
 * with keywords_on and a ticket): copies is a GArray of struct
 * store_kw_copy.
 */
void keywords_note(const struct cfg *cfg, GArray *copies, uint32_t uid,
                   gint64 ticket, bool history);

/*
 * keywords_record - after the COMMIT of the mails in copies: where they
 * sit (store_kw_copies); empties copies.  0/-E (nothing but keywords
 * depends on it).
 */
int keywords_record(struct store *st, const char *mailbox, gint64 uidvalidity,
                    GArray *copies);

/*
 * keywords_pass - write the due keywords of mailbox (cursor key) whose
 * IMAP name is folder, up to KEYWORDS_PASS_MAX tickets, as
 * cfg->imap.keywords says ("state": no $Ticket<N>); with
 * imap.closed_move_to, a closed ticket's copies in the queue's inbox
 * (folder is cfg->imap.mailbox) are then moved there and forgotten.  A mailbox
 * that keeps no keywords (PERMANENTFLAGS) or whose UIDVALIDITY changed gets its
 * due tickets cleared (they are due again at their next change). 0, or the
 * first -E of store or imap (the rest waits for the next pass).
 */
int keywords_pass(const struct cfg *cfg, struct store *st, struct imap *im,
                  const char *mailbox, const char *folder);

#endif
