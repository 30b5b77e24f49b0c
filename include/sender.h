/*
 * sender.h - the outbox senders of the running daemon: smtp.connections
 * threads, each with its own PostgreSQL connection and its own SMTP
 * connection, each draining the outbox through outbox_drain().  They run
 * beside the fetch loop, so acknowledgements go out while mail is still
 * being ingested, and several SMTP connections get past one MTA session's
 * speed.  The leases (FOR UPDATE SKIP LOCKED) keep two threads, or two
 * instances, from sending the same mail.
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
 * sender_start - n threads (n >= 1).  NULL (logged) if no thread could be
 * started; the caller then drains synchronously.
 */
struct sender *sender_start(const struct cfg *cfg, int n);

/* sender_kick - new mail may be due: wake the sleeping senders. */
void sender_kick(struct sender *s);

/*
 * sender_stop - ask every thread to stop after the mail it is sending,
 * wait for them, free; NULL-safe, sets *s NULL.
 */
void sender_stop(struct sender **s);

struct sender_state {
	int threads;
	int db_up;        /* threads with a working database connection */
	int smtp_failing; /* threads in SMTP backoff */
	long long sent, retried, failed; /* since start */
	char last_error[256];            /* "" when none */
};

/* sender_state - a consistent snapshot for status reports. */
void sender_state(struct sender *s, struct sender_state *out);

#endif
