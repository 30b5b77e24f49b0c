/*
 * store_search.h - full-text search and customer history
 * (store_search.c, sql/014_search.sql): the per-mail index row written in
 * the ingest transaction, `tickctl search` (tickets, or stored mail
 * without a ticket), `tickctl tickets --requester`, and the "N earlier
 * tickets" line of the ticket view and of notices.  Errors as in
 * store.h.
 */
#ifndef TICKD_STORE_SEARCH_H
#define TICKD_STORE_SEARCH_H

#include "store.h"
#include "store_admin.h"

/* store_search_config - the text-search configuration for a queue's
 * language ("de", "de-AT" -> german, "en*" -> english, else simple).
 * Static string. */
const char *store_search_config(const char *language);

/* What a mail's index row is made of (borrowed strings, NULL = none). */
struct store_search_text {
	const char *subject;
	const char *const *names; /* attachment file names */
	guint n_names;
	const char *body; /* the mail's own text, without quoted history */
	const char *from_addr, *from_name, *to, *cc;
};

/*
 * store_search_index - index message msg (stored in this transaction,
 * ticket 0 = none) under queue and its language's configuration: the
 * words of t cut by searchdoc.h, the lexemes of words this process has
 * not seen yet in one statement, then the row, sent without waiting in a
 * batch.  0/-E.
 */
int store_search_index(struct store *st, gint64 msg, gint64 ticket,
                       const char *queue, const char *language,
                       const struct store_search_text *t);

/* Filters of `tickctl search`; NULL / 0 = any. */
struct store_search_filter {
	const char *words; /* websearch syntax, word* = prefix */
	const char *queue, *status;
	gint64 from, to; /* unix seconds, mail received in [from, to) */
	bool kept;       /* stored mail without a ticket instead */
	int limit;       /* rows, 1..1000 */
};

/*
 * store_search - tickets (best message per ticket) or, with f->kept,
 * ticketless mail matching f->words, best rank first, each with a
 * snippet whose matches are [bracketed]; with kept and no words the
 * newest kept mail.  Into t (table) or, t NULL, JSON into out.  0/-E.
 */
int store_search(struct store *st, const struct store_search_filter *f,
                 struct store_table *t, GString *out, bool pretty);

/*
 * store_history_line - "N earlier tickets (last: #1003, resolved, CSAT
 * bad)" for ticket id's requester into *line_r (g_free; NULL when the
 * requester has no earlier ticket).  0/-E.
 */
int store_history_line(struct store *st, gint64 id, char **line_r);

/*
 * Answers to agents' questions by mail (#show, #search, #list), as plain
 * text for the answer mail; bounded: at most STORE_ANSWER_MESSAGES
 * messages of at most 4000 characters each, at most STORE_ANSWER_LINES
 * lines.
 */
#define STORE_ANSWER_MESSAGES 30
#define STORE_ANSWER_LINES    25

/* store_transcript - ticket id's state, customer history and its mails
 * (customer, agent, internal notes; newest STORE_ANSWER_MESSAGES) appended
 * to out; a merged ticket's survivor's (020).  0, -ENOENT, -E. */
int store_transcript(struct store *st, gint64 id, GString *out);

/* store_answer_lines - one line per ticket ("#N status priority queue
 * requester subject") appended to out, and their number in *n_r.
 * what: "search" (arg: words, best first), "mine" (arg: the agent's
 * address), "breached", or "queue" (arg: the queue); the lists show
 * tickets not resolved or closed.  0/-E. */
int store_answer_lines(struct store *st, const char *what, const char *arg,
                       GString *out, int *n_r);

#endif
