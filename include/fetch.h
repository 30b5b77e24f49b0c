/*
 * fetch.h - one poll of one IMAP mailbox: read the cursor, STATUS, UID
 * SEARCH above the cursor, fetch each new mail and hand it to ingest.c
 * (which commits the mail together with the cursor), then, only after the
 * commit, flag or move it on the server.  A UIDVALIDITY change resets the
 * cursor and re-scans; the dedupe keys make that import nothing twice.
 */
#ifndef TICKD_FETCH_H
#define TICKD_FETCH_H

#include "cfg.h"
#include "imap.h"

#include <signal.h>

struct outbox_hand;

struct store;

struct fetch_mailbox {
	const char *key;    /* cursor key "queue:folder" */
	const char *folder; /* IMAP mailbox name */
	bool sent;          /* agents' Sent folder */
	/* called after every COMMIT of fetched mail (NULL: none), e.g. to
	 * wake the outbox senders while a long fetch goes on */
	void (*on_commit)(void *ctx);
	void *on_commit_ctx;
	/* automatic mail (acknowledgements, notices ...) for the sender
	 * threads as it is queued (outbox_queue_handed; NULL: queued for
	 * any sender to claim) */
	const struct outbox_hand *hand;
};

struct fetch_stats {
	int fetched, new_tickets, follow_ups, duplicates, other;
	int quarantined; /* could not be stored: kept for review, passed */
};

/*
 * fetch_mailbox - poll mb once.  0 when done (also when nothing was new),
 * -E on the first IMAP or store failure (already logged and recorded in
 * mailbox_state for tickctl status; retry later with backoff).  Stops
 * between mails when *stop becomes non-zero.
 */
int fetch_mailbox(const struct cfg *cfg, struct store *st, struct imap *im,
                  const struct fetch_mailbox *mb, struct fetch_stats *stats,
                  volatile sig_atomic_t *stop);

#endif
