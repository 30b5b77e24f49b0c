/*
 * store.h - PostgreSQL via libpq, the core: the connection (prepared
 * statements are re-prepared after every reconnect, since a reset loses
 * them), transactions, fetch batches, advisory locks, migrations.  The
 * queries are in one file per domain, each with its own header:
 * store_ingest.h (cursor, tickets, messages, events), store_outbox.h
 * (queue, leases, limits, breaker, suppression), store_sla.h (clocks,
 * notices), store_report.h (report, CSAT, digest), store_admin.h (tickctl
 * views, forget/purge/export, connection state).  libpq and PGresult never
 * leave the store files.
 *
 * Errors: -ENOTCONN when the connection is gone (transient: the caller
 * retries the WHOLE transaction later), -EAGAIN for serialization failures
 * and deadlocks, -EEXIST for a unique violation, -EPROTO for anything else
 * (logged once here with PostgreSQL's text).
 */
#ifndef TICKD_STORE_H
#define TICKD_STORE_H

#include "common.h"

#include <glib.h>

struct store;

struct store_migration {
	int version;
	const char *name;
	const char *sql;
};
/* Generated from sql/NNN_*.sql by sql/embed.sh; ends with {0,NULL,NULL}. */
extern const struct store_migration store_migrations[];

/*
 * store_open - connect.  0 and *st_r, or -ENOTCONN (the text is logged).
 * The connection is not checked for the schema; see store_schema_check.
 */
int store_open(const char *conninfo, struct store **st_r);
void store_free(struct store **st);

/*
 * store_lazy_commit - this session's commits do not wait for the WAL to
 * reach the disk (synchronous_commit = off, set again on every
 * reconnect).  For the sender's bookkeeping only: a crash of the database
 * server (not of tickd) may lose its last ~0.6 s of commits, which for a
 * "sent" mark means the mail is sent again, as a 250 lost before its
 * mark always could be.  Mail the fetcher imports never commits lazily.
 */
void store_lazy_commit(struct store *st);

/* store_reconnect - drop and reopen the connection if it is bad. 0/-E. */
int store_reconnect(struct store *st);
bool store_connected(const struct store *st);
/* store_generation - changes on every (re)connect: session state such as
 * advisory locks must be taken again when it differs. */
unsigned store_generation(const struct store *st);
const char *store_error(const struct store *st);

/* store_migrate - apply missing migrations; *applied_r how many. */
int store_migrate(struct store *st, int *applied_r);
/* store_schema_check - 0 when the schema is the one this build expects,
 * -EPROTO (with a log line saying what to do) otherwise. */
int store_schema_check(struct store *st);

/*
 * A top-level transaction: BEGIN, COMMIT, ROLLBACK.  -EINVAL (and
 * nothing done) inside a fetch batch, whose transaction belongs to the
 * batch (store_mail_* are the per-mail calls).
 */
int store_begin(struct store *st);
int store_commit(struct store *st);
void store_rollback(struct store *st);

/*
 * One mail's database work (ingest): outside a batch its own transaction
 * (BEGIN / COMMIT / ROLLBACK); inside a batch a savepoint (SAVEPOINT /
 * RELEASE / ROLLBACK TO SAVEPOINT): a failing mail undoes only its own
 * work, and nothing is durable before store_batch_end(st, true).
 * store_mail_commit in a batch also reads every deferred result of the
 * mail (pipeline mode, below).  0 or -E.
 */
int store_mail_begin(struct store *st);
int store_mail_commit(struct store *st);
void store_mail_rollback(struct store *st);

/*
 * Batches (fetch.c): several mails in ONE transaction, each between
 * store_mail_begin and store_mail_commit/rollback.  store_batch_end
 * commits (commit true) or rolls back the whole batch; a failed COMMIT
 * rolls back and returns -E (the whole batch is then to be fetched again;
 * the dedupe keys make a COMMIT that did land harmless).  A reconnect ends
 * a batch.  0 or -E; -EINVAL for a nested batch.
 *
 * Inside a batch a mail's participant, event and search-index rows are
 * kept and written at the batch's end, one statement per table
 * (store_keep.c; a statement that reads those tables has them written
 * first).  A row the server refuses there is left out, logged and said by
 * an event; its mail stays.
 *
 * Inside a batch the connection is in libpq pipeline mode: a call whose
 * result is only 0 or -E (an event, a participant, the cursor, an outbox
 * row...) may return 0 before the server has run it, and its failure is
 * then returned by a later call of the same mail, store_mail_commit at
 * the latest.  So within a mail, treat any error as the mail's (roll it back)
 * and do not branch on a deferred call's success.
 *
 * After store_batch_careful(st, false) (each batch starts careful),
 * store_mail_commit in a batch does not wait either: it sends the mail's
 * end, and the server works through it while the caller parses the next
 * mail; the next mail's first wait reads it.  Its fate: store_mail_seq
 * right after its store_mail_commit numbers it; store_mail_fate(st, seq),
 * after the next mail (or before store_batch_end), is 0 when all its work
 * landed; -ESTALE when a statement of it failed and its work has been
 * undone (its savepoint rolled back; the mails before it stay;
 * store_error says what failed): ingest it again with
 * store_batch_careful(st, true), where store_mail_commit waits for every
 * result as before, so that the failure is the mail's own to handle
 * (retry or quarantine).  Until that failure is claimed, every statement
 * fails with -ESTALE, the next mail's too (ingest it again after); a
 * failure left unclaimed at store_batch_end fails the batch.
 */
int store_batch_begin(struct store *st);
guint64 store_mail_seq(const struct store *st);
int store_mail_fate(struct store *st, guint64 seq);
void store_batch_careful(struct store *st, bool careful);
int store_batch_end(struct store *st, bool commit);
bool store_in_batch(const struct store *st);

/*
 * store_mark - a number that changes whenever a statement is sent to or
 * run on st through the store modules.  A look-up answered ahead
 * (store_dedupe_and_thread) still holds while it is unchanged: nothing
 * of this session ran since.
 */
guint64 store_mark(const struct store *st);

/* Session advisory locks (scale-out: one fetcher per mailbox).  1 = got
 * it, 0 = another instance holds it, -E. Lost on reconnect. */
int store_try_lock(struct store *st, const char *name);
void store_unlock(struct store *st, const char *name);

#endif
