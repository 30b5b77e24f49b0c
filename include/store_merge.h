/*
 * store_merge.h - SQL of ticket merges (store_merge.c, sql/020_merge.sql):
 * the merge itself, and the look-up by number that follows a merged
 * ticket to its survivor.  Errors as in store.h; the rules of what may be
 * merged are merge.c's.
 */
#ifndef TICKD_STORE_MERGE_H
#define TICKD_STORE_MERGE_H

#include "store_ingest.h"

/*
 * store_ticket_resolve - store_ticket_get for a number that came from
 * outside (subject tag, signed token, action or rating link): a merged
 * ticket's survivor, so t_r->id may differ from id.  One hop always
 * suffices (merge.h).  0, -ENOENT, -E.
 */
int store_ticket_resolve(struct store *st, gint64 id, struct store_ticket *t_r);

/*
 * store_merge - merge ticket `from` into `into` inside the caller's
 * transaction: both rows are locked (in id order, so two merges cannot
 * deadlock each other), merge_refusal decides, then tickd_merge moves
 * everything and records 'merged-into' / 'merged-from' events by actor
 * (msg: the mail that asked, 0 for none; at: unix seconds).
 * 0 and *mails_r (mails moved; may be NULL); -EINVAL when refused,
 * -ENOENT when a ticket does not exist, both with the reason in why
 * (whylen bytes); -E on a database error.
 */
int store_merge(struct store *st, gint64 from, gint64 into, const char *actor,
                gint64 msg, gint64 at, char *why, size_t whylen, int *mails_r);

#endif
