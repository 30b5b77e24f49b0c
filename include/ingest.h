/*
 * ingest.h - one raw mail in, one committed database change out.  The
 * single path for IMAP, the Sent folder and `tickctl import`: parse
 * (mime), classify, thread (with the hijack check), store the raw bytes,
 * the message, the ticket change, the acknowledgement in the outbox and
 * the IMAP cursor, all in ONE transaction.  A mail that cannot be parsed
 * is still stored, as a ticket flagged for review.
 */
#ifndef TICKD_INGEST_H
#define TICKD_INGEST_H

#include "cfg.h"
#include "common.h"

struct outbox_hand;

struct store;

struct ingest_source {
	const char *label;   /* "support:INBOX", "tickctl import" */
	const char *mailbox; /* cursor key, or NULL (no cursor) */
	gint64 uidvalidity;
	gint64 uid;
	/* The caller moves the cursor once for its whole batch (fetch.c,
	 * just before COMMIT: one statement a batch instead of one a mail;
	 * a batch is one transaction, so the cursor still commits with
	 * exactly the mails it passes).  false: each mail moves it. */
	bool batch_cursor;
	bool sent_folder; /* the shared mailbox's Sent: agents' replies */
	/* A mail whose date (its Date, clamped to now; now without one) is
	 * before history_before is history: stored, threaded and counted in
	 * customer history, but closed and silent (no acknowledgement, SLA
	 * clock, escalation, reopening, status change, #command, bounce or
	 * complaint suppression).  0: live mail; G_MAXINT64: all of it
	 * (tickctl import --history). */
	gint64 history_before;
	/* automatic mail goes to a sender thread as it is queued
	 * (outbox_queue_handed); NULL: queued for any sender to claim */
	const struct outbox_hand *hand;
};

enum ingest_kind {
	INGEST_NEW_TICKET,
	INGEST_FOLLOW_UP,
	INGEST_DUPLICATE,
	INGEST_UNATTACHED,  /* machine mail kept without a ticket */
	INGEST_DROPPED,     /* our own echo: kept raw, logged once */
	INGEST_QUARANTINED, /* could not be stored: raw bytes and error kept
	                       in the quarantine, the cursor moved on */
};

struct ingest_outcome {
	enum ingest_kind kind;
	gint64 ticket;  /* 0 when none */
	gint64 message; /* 0 for duplicates */
	bool acknowledged;
	bool history;      /* stored as history (see history_before) */
	bool machine;      /* classify said machine mail */
	const char *cls;   /* classify_name() of the mail; static */
	char summary[320]; /* what was stored, the text of ingest_log */
	char error[256];   /* INGEST_QUARANTINED: why, clipped */
};

/*
 * ingest_mail - everything above, committed (inside a fetch batch:
 * with the batch).  Retries the transaction once on a dedupe race with
 * another instance.  0 and *out, or -E from store (transient: nothing was
 * committed, fetch the mail again later).  A non-transient failure
 * (err_is_transient false) is no -E: the mail is quarantined (raw bytes
 * and error, cursor moved on; out->kind INGEST_QUARANTINED, out->error
 * says why) so that one mail never stops the mailbox; -E only when even
 * that failed.
 * now is the time to record (unix seconds; injected for tests).
 */
int ingest_mail(const struct cfg *cfg, struct store *st, const void *raw,
                size_t len, const struct ingest_source *src, gint64 now,
                struct ingest_outcome *out);

/*
 * ingest_log - log what a mail did (out->summary) once it is durable:
 * ingest_mail logs it itself, except inside a fetch batch (store.h),
 * whose owner logs the batch's summaries after its COMMIT, so that the
 * log never tells of a ticket that was rolled back.
 */
void ingest_log(const char *summary);

/* ingest_kind_name - "new", "follow-up", ...; static. */
const char *ingest_kind_name(enum ingest_kind k);

#endif
