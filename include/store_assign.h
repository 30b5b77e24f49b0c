/*
 * store_assign.h - the rows of the auto-assignment and of agents' away
 * times (assign.c; sql/021_keywords.sql: assign_state, agent_away).  The
 * statement machinery is store.c's.
 */
#ifndef TICKD_STORE_ASSIGN_H
#define TICKD_STORE_ASSIGN_H

#include "store.h"

/*
 * store_assign_pick - inside the caller's transaction: lock queue's
 * assign_state row (held to its end, so two instances take turns and
 * count each other's tickets), then among cands (n addresses, in config
 * order) those not away at now, the one with the fewest tickets new,
 * open or pending when fewest (else 0 each), ties and round robin in
 * turn after the one picked last; it becomes the one picked last.
 * *addr_r (g_free) or NULL when nobody is available.  0/-E.
 */
int store_assign_pick(struct store *st, const char *queue, bool fewest,
                      const char *const *cands, size_t n, gint64 now,
                      char **addr_r);

/* store_away_set - addr is away from now until until (0: until #back).
 * 0/-E. */
int store_away_set(struct store *st, const char *addr, gint64 now,
                   gint64 until);

/* store_away_clear - addr is back: 1 when they were away (an until in
 * the past counts as back already: 0), 0 when not, -E. */
int store_away_clear(struct store *st, const char *addr, gint64 now);

/*
 * store_away_unassign - addr's tickets new, open or pending lose their
 * assignee, an 'unassigned' event each (actor addr).  The number of
 * tickets, or -E.
 */
gint64 store_away_unassign(struct store *st, const char *addr);

#endif
