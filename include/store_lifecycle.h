/*
 * store_lifecycle.h - the rows of the lifecycle pass (lifecycle.c):
 * pending and resolved tickets and their status_since / reminded_at
 * (sql/016_lifecycle.sql).  The statement machinery is store.c's.
 */
#ifndef TICKD_STORE_LIFECYCLE_H
#define TICKD_STORE_LIFECYCLE_H

#include "store.h"

struct store_life_row {
	gint64 id;
	gint64 status_since, reminded_at; /* unix seconds; 0 = not reminded */
	bool pending;                     /* else resolved */
	char *queue, *requester, *requester_name, *subject, *language; /* owned;
	                                          name, language may be NULL */
};
void store_life_row_free(gpointer p);

/* store_life_due - up to limit pending or resolved tickets in their
 * status since at least min_age seconds before now, oldest first, locked
 * (FOR UPDATE SKIP LOCKED: another instance skips them); appends struct
 * store_life_row* (free func store_life_row_free).  Inside a transaction.
 * 0/-E. */
int store_life_due(struct store *st, gint64 now, gint64 min_age, int limit,
                   GPtrArray *out);

/* store_life_reminded - the pending reminder of ticket id was queued at. */
int store_life_reminded(struct store *st, gint64 id, gint64 at);

#endif
