/*
 * store_keywords.h - the rows behind the IMAP keywords (keywords.c):
 * where each fetched mail sits on the server (imap_copy) and which
 * tickets' keywords are due per mailbox (imap_keyword, dirtied by a
 * trigger on every status or assignee change; sql/021_keywords.sql).
 * The statement machinery is store.c's.
 */
#ifndef TICKD_STORE_KEYWORDS_H
#define TICKD_STORE_KEYWORDS_H

#include "store.h"

/* UIDs of one ticket's copies a pass writes at most (the newest). */
#define STORE_KW_MAX_UIDS 1000

/* One ticket whose keywords are due in a mailbox. */
struct store_kw_row {
	gint64 ticket;
	char *status;      /* owned */
	char *assignee;    /* owned, NULL: nobody */
	char *assigned_kw; /* owned, NULL: no $Assigned- keyword written */
	char *dirty_since; /* owned: the marker store_kw_done compares */
	gint64 uidvalidity;
	GArray *uids; /* owned, uint32_t: copies under that UIDVALIDITY */
};
void store_kw_row_free(gpointer p);

/* One fetched mail: its UID and ticket, and whether the ticket's
 * keywords are due now (history mail is only recorded: its keywords come
 * with the ticket's next change). */
struct store_kw_copy {
	uint32_t uid;
	gint64 ticket; /* 0: none (skipped) */
	bool due;
};

/*
 * store_kw_copies - after the COMMIT that stored them: n fetched mails
 * of mailbox (cursor key) under uidvalidity.  One statement, autocommit.
 * 0/-E.
 */
int store_kw_copies(struct store *st, const char *mailbox, gint64 uidvalidity,
                    const struct store_kw_copy *c, size_t n);

/*
 * store_kw_due - up to limit tickets whose keywords are due in mailbox,
 * oldest first, with their state and their copies under the mailbox's
 * current UIDVALIDITY; appends struct store_kw_row* (free func
 * store_kw_row_free).  0/-E.
 */
int store_kw_due(struct store *st, const char *mailbox, int limit,
                 GPtrArray *out);

/*
 * store_kw_done - the keywords of row were written (assigned_kw: the
 * $Assigned- keyword now on the copies, NULL none); the ticket stays due
 * if it changed again since row was read.  0/-E.
 */
int store_kw_done(struct store *st, const char *mailbox,
                  const struct store_kw_row *row, const char *assigned_kw);

/*
 * store_kw_forget - the copies uids (n) of mailbox under uidvalidity are
 * not there any more (moved away).  0/-E.
 */
int store_kw_forget(struct store *st, const char *mailbox, gint64 uidvalidity,
                    const uint32_t *uids, size_t n);

#endif
