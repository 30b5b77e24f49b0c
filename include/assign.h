/*
 * assign.h - who gets a new customer ticket (tickets.auto_assign:
 * round_robin or fewest_open among the queue's agents who are not away),
 * and agents' away times (#away [until DATE], #back).  The choice that
 * must see every instance's tickets is made in the database under a row
 * lock per queue (store_assign.h); here: the candidates from the config,
 * the date of "#away until", and the glue.  Logs nothing.
 */
#ifndef TICKD_ASSIGN_H
#define TICKD_ASSIGN_H

#include "cfg.h"
#include "common.h"

#include <glib.h>

struct store;

/*
 * assign_candidates - the agents (role agent) of cfg who serve queue as
 * agentmail_covers says (people.*.queues, else the queue named like
 * people.*.team, else every queue).  Appends their addresses (borrowed
 * from cfg) in the order of people.
 */
void assign_candidates(const struct cfg *cfg, const char *queue,
                       GPtrArray *out);

/*
 * assign_until - "YYYY-MM-DD" (as command.c checked it) -> the unix time
 * of 00:00 that day in zone tz (IANA name; NULL or unknown: UTC): the
 * agent is back from then on.  0 or -EINVAL.
 */
int assign_until(const char *date, const char *tz, gint64 *until_r);

/*
 * assign_new_ticket - inside the transaction that created ticket in
 * cfg's queue (cfg: the queue's view): with tickets.auto_assign on, pick
 * an agent (store_assign_pick) and make them the assignee.  1 and *p_r
 * (borrowed from cfg), 0 when off or nobody is available, -E.
 */
int assign_new_ticket(const struct cfg *cfg, struct store *st, gint64 ticket,
                      gint64 now, const struct cfg_person **p_r);

/*
 * assign_away - person addr is away from now until until (0: until
 * #back); with agents.away_unassign their open tickets go back to the
 * queue (*handed_back_r: how many).  assign_back - addr is back: 1 when
 * they were away, 0 when not.  -E from the store.
 */
int assign_away(const struct cfg *cfg, struct store *st, const char *addr,
                gint64 now, gint64 until, gint64 *handed_back_r);
int assign_back(struct store *st, const char *addr, gint64 now);

/*
 * assign_by_mail - a proven agent's "#away [until date]" (away; date
 * NULL: until #back) or "#back" from mail message: done, an 'away' or
 * 'back' event (no ticket), and what happened appended to answer for the
 * agent.  The date is 00:00 in report.timezone; a date not after now
 * changes nothing.  0/-E.
 */
int assign_by_mail(const struct cfg *cfg, struct store *st, const char *addr,
                   bool away, const char *date, gint64 now, gint64 message,
                   GString *answer);

#endif
