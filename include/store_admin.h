/*
 * store_admin.h - what tickctl reads and changes (store_admin.c): ticket
 * and status views (as tables or JSON), the connection state that
 * `tickctl status` shows, and erasure, retention and export of a person's
 * data.  Errors as in store.h.
 */
#ifndef TICKD_STORE_ADMIN_H
#define TICKD_STORE_ADMIN_H

#include "store.h"

/* ---- tickctl views (JSON written into out) ---- */
int store_tickets_json(struct store *st, const char *status, GString *out,
                       bool pretty);
int store_ticket_json(struct store *st, gint64 id, GString *out, bool pretty);
int store_status_json(struct store *st, GString *out, bool pretty);
/*
 * store_conn_state - record that instance's connection name ("database",
 * "imap-idle", "smtp") is now in state ("up", "failing", "idle",
 * "polling"); err NULL keeps the last error.  For tickctl status; call on
 * changes only.  0 or -E.
 */
int store_conn_state(struct store *st, const char *instance, const char *name,
                     const char *state, const char *err);

/* ---- tickctl admin views and changes ---- */

/* A result as text cells, for tickctl's tables: column names and rows of
 * ncols cells each (NULL = SQL NULL).  Owned; store_table_clear frees. */
struct store_table {
	GPtrArray *cols; /* char*, owned */
	GPtrArray *rows; /* GPtrArray* of char* (owned) per row */
};
void store_table_init(struct store_table *t);
void store_table_clear(struct store_table *t);

/* Filters of `tickctl tickets`; NULL = any. */
struct store_ticket_filter {
	const char *status, *queue, *priority, *assignee;
	bool breached;         /* only tickets whose SLA clocks show a breach */
	const char *requester; /* an address, or "@domain" */
};

/* store_tickets_list - tickets matching f, oldest first; into t (table)
 * or, when t is NULL, as a JSON array into out. 0 / -E. */
int store_tickets_list(struct store *st, const struct store_ticket_filter *f,
                       struct store_table *t, GString *out, bool pretty);

/* Named admin views for `tickctl status` and `tickctl outbox`, each as a
 * table (t) or a JSON array (t NULL, out). */
enum store_view {
	STORE_VIEW_MAILBOXES,  /* cursor, last ok fetch, lag, last error */
	STORE_VIEW_OUTBOX,     /* backlog: count, oldest, failed */
	STORE_VIEW_SUPPRESSED, /* addresses that get no automatic mail now */
	STORE_VIEW_OUTBOX_PENDING, /* queued/sending/failed rows */
	STORE_VIEW_OUTBOX_ALL,     /* the newest 100 rows, any state */
	STORE_VIEW_REVIEW,         /* quarantined mails, tickets to review */
	STORE_VIEW_CONNECTIONS,    /* connection_state: smtp, database... */
};
int store_view(struct store *st, enum store_view v, struct store_table *t,
               GString *out, bool pretty);

/* store_quarantine_list - every quarantined mail (id, mailbox, uid,
 * received, size, error), oldest first; into t, or with t NULL as JSON
 * into out.  0/-E. */
int store_quarantine_list(struct store *st, struct store_table *t, GString *out,
                          bool pretty);

/* store_quarantine_raw - the raw bytes of quarantined mail id into
 * *raw_r (caller g_bytes_unref); -ENOENT, -E. */
int store_quarantine_raw(struct store *st, gint64 id, GBytes **raw_r);

/* store_ticket_assignee - the ticket's assignee into *assignee_r
 * (g_free, NULL when unassigned).  0, -ENOENT, -E. */
int store_ticket_assignee(struct store *st, gint64 id, char **assignee_r);

/* ---- privacy: forget, purge, export (sql/006_queues.sql) ---- */

/*
 * store_forget - erase one person (tickd_forget() in 006_queues.sql):
 * their address, names and texts in every table, their own tickets'
 * mails; ticket rows stay (anonymised) for the numbers, other people's
 * tickets stay readable, one 'erasure' event records that (not what) it
 * happened.  One transaction.  A JSON summary of counts into out.  0/-E.
 */
int store_forget(struct store *st, const char *addr, const char *actor,
                 GString *out);

/*
 * store_purge - retention: tickets of queue closed before now - days
 * days lose their mails' texts, raw bytes, attachments and personal
 * fields (tickd_purge()); numbers stay.  A JSON summary (tickets,
 * messages, attachments, bytes, ticket ids) into out.  0/-E.
 */
int store_purge(struct store *st, const char *queue, int days,
                const char *actor, GString *out);

/* store_export_json - everything stored about addr as one JSON document
 * (tickd_export()).  0/-E. */
int store_export_json(struct store *st, const char *addr, GString *out);

/* store_export_raw - call fn for each stored raw mail from or to addr
 * (message id, raw bytes).  Stops at fn's first non-zero return.  0/-E. */
int store_export_raw(struct store *st, const char *addr,
                     int (*fn)(gint64 id, const void *raw, size_t len,
                               void *ud),
                     void *ud);

#endif
