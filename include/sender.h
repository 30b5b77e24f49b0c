/*
 * sender.h - the outbox senders of the running daemon: threads, each with
 * its own PostgreSQL connection and its own SMTP connection (re-used
 * across mails, see smtp.h), each draining the outbox through
 * outbox_drain().  They run beside the fetch loop, so ingest never waits
 * for SMTP, and several SMTP connections get past one MTA session's
 * speed.  The leases (FOR UPDATE SKIP LOCKED) keep two threads, or two
 * instances, from sending the same mail.
 *
 * smtp.connections = N: N threads, all sending.  "auto" (0):
 * smtp.max_connections threads, of which the pool (below) lets the first
 * `open` send; the others are parked with no connection open.  Each
 * round reports whether due mail waits beyond what the open connections
 * drain; an extra connection the server refuses while others work sets
 * the server's limit for a while.  tickctl status shows the row
 * "smtp-connections" of connection_state: open, cap, limit, and SMTP
 * commands (round trips) per mail sent.
 *
 * Mail queued by the fetch loop is handed to a worker as it is queued
 * (sender_take): born leased to that worker's session, it is sent after
 * the COMMIT (sender_wake) without a claim, the write that would lease
 * it.  A worker claims only when mail may wait for one: after
 * sender_kick, after mail sender_take did not take, after a full claim,
 * and at least once a second while it runs (another instance's lease
 * running out, a retry come due).
 *
 * A sender that finds the outbox empty sleeps until sender_kick(), the
 * next due mail, or 60 s, whichever comes first.  A failing database or
 * SMTP server is retried with capped exponential backoff and jitter; a
 * kick does not cut a backoff short.
 *
 * Owns its threads, connections and its copy of nothing: cfg is borrowed
 * and must outlive the senders (stop them before freeing or swapping it).
 * tickd --once does not use this (loop.c drains synchronously).
 */
#ifndef TICKD_SENDER_H
#define TICKD_SENDER_H

#include "cfg.h"

struct sender;
struct smtp;

/* sender_smtp_new - an SMTP client for cfg's server (smtp.*): each sender
 * thread's, and the one tickd --once drains with.  smtp_free it. */
struct smtp *sender_smtp_new(const struct cfg *cfg);

/*
 * sender_start - n threads (n >= 1), or with n 0 (smtp.connections
 * "auto") smtp.max_connections threads sized by the pool.  NULL (logged)
 * if no thread could be started; the caller then drains synchronously.
 */
struct sender *sender_start(const struct cfg *cfg, int n);

/*
 * sender_take - struct outbox_hand's take() (ctx: the struct sender):
 * hand the mail with message row mid, being queued in the caller's open
 * transaction, to an open worker that is connected and not backing off,
 * in turn, unless each holds SENDER_HAND_MAX such mails already.  owner
 * (n bytes) gets the worker's lease name.  After the COMMIT, sender_wake:
 * the worker then sends it without claiming it (one write fewer).
 */
bool sender_take(void *ctx, gint64 mid, char *owner, size_t n);

/* sender_kick - new mail may be due: wake the sleeping senders to claim
 * it. */
void sender_kick(struct sender *s);

/* sender_wake - mail handed with sender_take was committed: wake the
 * senders to send it (and to claim what sender_take did not take). */
void sender_wake(struct sender *s);

/*
 * sender_stop - ask every thread to stop after the mail it is sending,
 * wait for them, free; NULL-safe, sets *s NULL.
 */
void sender_stop(struct sender **s);

/* ---- auto sizing, pure: times in ms of any monotonic clock ---- */

#define SENDER_GROW_MS  250    /* at most one more connection this often */
#define SENDER_IDLE_MS  60000  /* no backlog this long: one fewer */
#define SENDER_LIMIT_MS 600000 /* a server's limit is held this long */
#define SENDER_LAG_S    2      /* a mail queued longer is a backlog */

struct sender_pool {
	int cap;            /* smtp.max_connections */
	int open;           /* connections sending, 1..cap */
	int limit;          /* the server's limit as found; 0 = none */
	gint64 limit_until; /* limit is forgotten then (tried again) */
	gint64 changed;     /* when open last changed */
	gint64 busy;        /* when a round last found a backlog */
};

struct outbox_stats;

/* sender_pool_init - one connection open, at most cap. */
void sender_pool_init(struct sender_pool *p, int cap, gint64 now);

/* sender_backlog - does a round's outcome say mail waits: it sent, and
 * it was full (SENDER_ROUND leased) or its oldest mail was queued more
 * than SENDER_LAG_S before now_s (unix seconds)? */
bool sender_backlog(const struct outbox_stats *os, gint64 now_s);

/* sender_pool_round - after a round: one more connection on a backlog
 * (at most one per SENDER_GROW_MS, within the cap and the server's
 * limit), one fewer after SENDER_IDLE_MS without one.  Returns open. */
int sender_pool_round(struct sender_pool *p, bool backlog, gint64 now);

/* sender_pool_refused - a new connection was refused while working
 * others worked: hold working as the server's limit for SENDER_LIMIT_MS,
 * open cut down to it.  True when that is news (log it once). */
bool sender_pool_refused(struct sender_pool *p, int working, gint64 now);

/* sender_pool_cap - the most connections allowed now. */
int sender_pool_cap(const struct sender_pool *p, gint64 now);

struct sender_state {
	int threads;
	int open;           /* connections allowed to send now */
	int limit;          /* the server's limit as found; 0 = none */
	long long commands; /* SMTP commands sent (round trips) */
	int db_up;          /* threads with a working database connection */
	int smtp_failing;   /* threads in SMTP backoff */
	long long sent, retried, failed; /* since start */
	char last_error[256];            /* "" when none */
};

/* sender_state - a consistent snapshot for status reports. */
void sender_state(struct sender *s, struct sender_state *out);

#endif
