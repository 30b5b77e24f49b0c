/*
 * store_ingest.h - what one mail writes and reads (store_ingest.c): the
 * IMAP cursor, dedupe, tickets, participants, the message and its
 * attachments, events.  Errors as in store.h.
 */
#ifndef TICKD_STORE_INGEST_H
#define TICKD_STORE_INGEST_H

#include "store.h"

/* ---- the IMAP cursor ---- */
struct store_cursor {
	gint64 uidvalidity, last_uid, marked_uid;
	gint64 history_uid; /* mail below this UID was there at the first
	                       poll (imap.first_run); 0 = none */
};
/* 0, or -ENOENT when the mailbox was never seen. */
int store_cursor_get(struct store *st, const char *mailbox,
                     struct store_cursor *c_r);
int store_cursor_set(struct store *st, const char *mailbox, gint64 uidvalidity,
                     gint64 last_uid);
int store_cursor_reset(struct store *st, const char *mailbox,
                       gint64 uidvalidity);
/* store_cursor_first - a mailbox's first poll: the cursor at last_uid
 * (marked too: nothing below it is touched on the server), history_uid as
 * in struct store_cursor. */
int store_cursor_first(struct store *st, const char *mailbox,
                       gint64 uidvalidity, gint64 last_uid, gint64 history_uid);
int store_cursor_marked(struct store *st, const char *mailbox,
                        gint64 marked_uid);
/* store_cursor_result - record a fetch outcome (err NULL = success). */
int store_cursor_result(struct store *st, const char *mailbox, const char *err);

/* ---- ingestion ---- */
struct store_ticket {
	gint64 id;
	char status[16];
	char priority[16];
	char *requester;  /* owned */
	char *subject;    /* owned */
	char *queue;      /* owned */
	gint64 closed_at; /* unix seconds or 0 */
	gint64 resolved_at;
};
void store_ticket_clear(struct store_ticket *t);

/* store_dedupe - 1 when a message with this dedupe key exists (its ticket,
 * 0 for none, in *ticket_r), 0 when not, -E. */
int store_dedupe(struct store *st, const char *dedupe_key, gint64 *ticket_r);
/* store_ticket_by_msgids - the ticket of the newest message whose
 * Message-ID is one of ids (char*): 1 and *t_r (as store_ticket_get,
 * store_ticket_clear it: the row comes with the look-up, one round trip),
 * 0 when none, -E. */
int store_ticket_by_msgids(struct store *st, GPtrArray *ids,
                           struct store_ticket *t_r);
/*
 * store_dedupe_and_thread - store_ticket_by_msgids(ids) and store_dedupe
 * (in that order) in one round trip: the dedupe's answer is returned as
 * store_dedupe's; the look-up's as store_ticket_by_msgids' in *found_r
 * (1 and *t_r, or 0).  The look-up is this mail's thread step's if the
 * mail gets there with store_mark(st) as it was at the return: nothing
 * ran since but the dedupe, which writes nothing.
 */
int store_dedupe_and_thread(struct store *st, const char *dedupe_key,
                            GPtrArray *ids, gint64 *ticket_r, int *found_r,
                            struct store_ticket *t_r);
/* store_ticket_get - 0, -ENOENT, -E. */
int store_ticket_get(struct store *st, gint64 id, struct store_ticket *t_r);
/* store_is_participant - 1 yes, 0 no, -E. */
int store_is_participant(struct store *st, gint64 ticket, const char *addr);
/* store_participant_domain - 1 when some participant has this domain. */
int store_participant_domain(struct store *st, gint64 ticket,
                             const char *domain);

struct store_new_ticket {
	const char *queue, *subject, *requester, *requester_name;
	const char *priority, *language, *review_reason;
	bool needs_review;
	gint64 linked_ticket; /* 0 = none */
	gint64 at;            /* unix seconds */
	/* history (012_history): stored closed at closed_at, without an
	 * SLA clock, outside the report's ticket KPIs */
	bool history;
	gint64 closed_at;
};
/* store_ticket_create - *id_r is the new ticket number; *prev_lang_r
 * (g_free, NULL: none) what store_requester_language would say of the
 * requester now, read in the same statement.  0/-E. */
int store_ticket_create(struct store *st, const struct store_new_ticket *n,
                        gint64 *id_r, char **prev_lang_r);
/* store_ticket_touch - after a customer (customer=true) or agent mail.  A
 * customer's, in a batch, is kept and written with the batch's other
 * touches in one statement (store_keep.c). */
int store_ticket_touch(struct store *st, gint64 id, bool customer, gint64 at);
int store_ticket_set_status(struct store *st, gint64 id, const char *status,
                            gint64 at);
int store_ticket_set_field(struct store *st, gint64 id, const char *field,
                           const char *value);
int store_participant_add(struct store *st, gint64 ticket, const char *addr,
                          const char *name, const char *role);
/* store_participant_set - like store_participant_add, but an existing
 * row takes this role. 0/-E. */
int store_participant_set(struct store *st, gint64 ticket, const char *addr,
                          const char *name, const char *role);
/*
 * store_responder_record - agent message msg on ticket was written by
 * person who (an address of people): the message's responder, the
 * ticket's first responder unless it has one, and who's first response
 * on the ticket at `at` unless recorded.  1 when this was who's first
 * response on the ticket, 0 when not, -E.
 */
int store_responder_record(struct store *st, gint64 ticket, gint64 msg,
                           const char *who, gint64 at);
/* store_ticket_assign_if_none - ticket's assignee becomes who unless it
 * has one.  1 when it did, 0 when not, -E. */
int store_ticket_assign_if_none(struct store *st, gint64 ticket,
                                const char *who);
/* What a notice to an agent shows of a ticket (agentmail.h); each
 * field owned, NULL when the column is. */
struct store_notice_info {
	char *assignee, *status, *priority, *subject, *requester;
	char *last_text;  /* the newest customer message's new text */
	char *last_msgid; /* and its Message-ID (without <>) */
};
/* store_notice_info - 0 and *n (store_notice_info_clear), -ENOENT, -E. */
int store_notice_info(struct store *st, gint64 ticket,
                      struct store_notice_info *n);
void store_notice_info_clear(struct store_notice_info *n);
/* store_collision - another person than who answered the customer's
 * newest mail on ticket since `since` (other than message msg), and this
 * is who's first answer to it: 1 and *other_r (g_free), 0, -E. */
int store_collision(struct store *st, gint64 ticket, gint64 msg,
                    const char *who, gint64 since, char **other_r);
/* store_agent_time_bounds - for an agent's mail on ticket answering the
 * Message-IDs answers (char*, the first 20 count): *floor_r the later of
 * the ticket's creation and those mails' arrival, *last_customer_r the
 * ticket's last_customer_at (0: none), unix seconds.  0/-ENOENT/-E. */
int store_agent_time_bounds(struct store *st, gint64 ticket, GPtrArray *answers,
                            gint64 *floor_r, gint64 *last_customer_r);
/*
 * store_ticket_agent_touch - an agent's mail at `at`: last_agent_at, and
 * first_response_at unless already set; opened_by_agent (the agent's mail
 * created the ticket) clears last_customer_at, nobody waits for us.
 * 1 when this call recorded the first response, 0 when not, -ENOENT, -E.
 */
int store_ticket_agent_touch(struct store *st, gint64 id, gint64 at,
                             bool opened_by_agent);

struct store_message {
	gint64 ticket_id;
	const char *dedupe_key, *message_id, *direction, *role, *cls;
	const char *class_reason, *source;
	const char *from_addr, *from_name, *to_addrs, *cc_addrs, *subject;
	const char *body_text, *body_new, *body_html;
	GPtrArray *defects; /* char* or NULL */
	gint64 sent_date, received;
	bool unparsed;
	const void *raw;
	size_t raw_len;
};
/* store_message_add - *id_r the new id; -EEXIST when the dedupe key is
 * taken (the transaction is then aborted: roll back and retry).  In a
 * batch the insert is deferred (store.h): the -EEXIST then comes from a
 * later call of the same mail, store_mail_commit at the latest. */
int store_message_add(struct store *st, const struct store_message *m,
                      gint64 *id_r);
int store_attachment_add(struct store *st, gint64 message, const char *name,
                         const char *type, const char *cid, bool is_inline,
                         const void *data, size_t len, bool keep_data);
int store_event_add(struct store *st, gint64 ticket, const char *actor,
                    const char *action, const char *detail, gint64 message);
/* store_event_attach - events of ticket written earlier in the current
 * transaction without a message now point at message (nothing is sent
 * when this mail wrote none: store_event_add with message 0 since
 * store_mail_begin). 0/-E. */
int store_event_attach(struct store *st, gint64 ticket, gint64 message);
/* store_event_global - an audit event about no ticket (a forged rating). */
int store_event_global(struct store *st, const char *actor, const char *action,
                       const char *detail, gint64 message);

/* ---- quarantine: mail that could not be stored (sql/011) ---- */

struct store_quarantine {
	const char *mailbox; /* cursor key, or NULL (tickctl import) */
	const char *source;  /* label, never NULL */
	gint64 uidvalidity, uid;
	const char *error; /* why, UTF-8, bounded by the caller */
	const void *raw;   /* the mail as it came */
	size_t raw_len;
	gint64 received; /* unix seconds */
};

/*
 * store_quarantine_add - keep a mail that could not be stored, with the
 * error, and make the error its mailbox's last error.  1 when kept, 0
 * when these raw bytes were kept before (a fetch again), -E.  The caller
 * moves the cursor in the same transaction.
 */
int store_quarantine_add(struct store *st, const struct store_quarantine *q);

/* store_requester_language - the language of addr's newest other ticket
 * that has one (not ticket except), among addr's 50 newest tickets (a
 * bound whatever one address sends), into *lang_r (g_free, NULL when
 * none).  0 / -E. */
int store_requester_language(struct store *st, const char *addr, gint64 except,
                             char **lang_r);

#endif
