/*
 * store_sla.h - SLA clocks and escalation notices (store_sla.c): the
 * escalation lock, due clocks and their changes, saving a clock's state,
 * notices and digests to agents.  The clock math is sla.h's; escalate.c
 * drives the tick.  Errors as in store.h.
 */
#ifndef TICKD_STORE_SLA_H
#define TICKD_STORE_SLA_H

#include "sla.h"
#include "store.h"

/* store_sla_lock - the transaction-scoped escalation lock: 1 = ours,
 * 0 = another instance is escalating right now, -E. */
int store_sla_lock(struct store *st);

/* One sla_clock row with what the tick needs of its ticket. */
struct store_sla_row {
	gint64 ticket_id;
	char *queue; /* owned */
	char priority[16], status[16];
	gint64 created;
	bool agent_opened; /* the ticket's first message is an agent's */
	bool initialized;  /* clock holds state (false: a new ticket) */
	/* the stored clock: created is the ticket's, priority is not
	 * stored (0; the tick sets it from the ticket's priority) */
	struct sla_ticket clock;
	gint64 esc_start[3], esc_fired[3];
	char *immediate; /* owned: why to escalate at once, or NULL */
};
void store_sla_row_free(gpointer p);
/* store_sla_due - lock (FOR UPDATE SKIP LOCKED) and append up to limit
 * rows due at now (struct store_sla_row*, free func store_sla_row_free). */
int store_sla_due(struct store *st, gint64 now, int limit, GPtrArray *out);

struct store_sla_change {
	gint64 id, at;
	char kind[12];   /* customer | agent | status */
	char status[16]; /* for status */
};
/* store_sla_changes - the ticket's unprocessed changes, oldest first, at
 * most STORE_SLA_CHANGES_MAX, appended to out (GArray of struct
 * store_sla_change). */
#define STORE_SLA_CHANGES_MAX 1000
int store_sla_changes(struct store *st, gint64 ticket, GArray *out);
/* store_sla_save - write row's state back, delete the processed changes,
 * set the next check (0 = none) and the JSON view. */
int store_sla_save(struct store *st, const struct store_sla_row *row,
                   const gint64 *change_ids, size_t n_changes,
                   gint64 next_check, const char *view, gint64 now);
/* store_sla_next - the earliest next check (unix seconds), 0 = none. */ /* store_sla_next
                                                                          * -
                                                                          * the
                                                                          * earliest
                                                                          * next
                                                                          * check:
                                                                          * 1
                                                                          * and
                                                                          * *at_r
                                                                          * (unix
                                                                          * seconds),
                                                                          * 0
                                                                          * when
                                                                          * no
                                                                          * clock
                                                                          * has
                                                                          * one,
                                                                          * -E.
                                                                          */
int store_sla_next(struct store *st, gint64 *at_r);
/* store_sla_immediate - ask the next tick to escalate ticket at once:
 * 1, or 0 when it was escalated at once before (once per ticket), -E. */
int store_sla_immediate(struct store *st, gint64 ticket, const char *reason);

/* store_sla_warning_once - record that ticket's clock target (a name,
 * e.g. "first_response") started at clock_start was warned about at now:
 * 1 when this is the first time, 0 when it was warned about before, -E. */
int store_sla_warning_once(struct store *st, gint64 ticket, const char *target,
                           gint64 clock_start, gint64 now);

int store_sla_notice_add(struct store *st, gint64 ticket, const char *rcpt,
                         const char *kind, int level, gint64 breach_at,
                         const char *reason, gint64 now);
struct store_sla_notice {
	gint64 id, ticket_id, breach_at, queued_at;
	int level;
	char *rcpt, *kind, *reason; /* owned */
};
void store_sla_notice_free(gpointer p);
/* store_sla_pending - lock and append up to limit unsent notices, oldest
 * first (struct store_sla_notice*, free func store_sla_notice_free). */
int store_sla_pending(struct store *st, int limit, GPtrArray *out);
/* store_sla_digest_times - for each address in rcpts (char*), when the
 * last notice or digest went to it (0 = never), into at_out (gint64). */
int store_sla_digest_times(struct store *st, GPtrArray *rcpts, GArray *at_out);
/* store_sla_notices_sent - mark notices ids as sent in one mail to rcpt. */
int store_sla_notices_sent(struct store *st, const gint64 *ids, size_t n,
                           const char *rcpt, gint64 now);

/* What a notice says about a ticket. */
struct store_sla_info {
	char *subject, *requester, *requester_name, *queue, *assignee;
	char *last_text; /* the last customer message's new part */
	char *history;   /* "N earlier tickets (last: ...)", "" for none */
	char priority[16], status[16];
	gint64 created;
};
/* store_sla_info - 0, -ENOENT, -E; clear with store_sla_info_clear. */
int store_sla_info(struct store *st, gint64 ticket, struct store_sla_info *i_r);
void store_sla_info_clear(struct store_sla_info *i);

#endif
