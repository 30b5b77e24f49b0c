/*
 * classify.h - pure loop-protection classifier: what kind of sender wrote
 * an inbound mail (a person, an auto-responder, a bounce ...).  No I/O, no
 * logging; works only on a parsed struct mime_msg.
 */
#ifndef TICKD_CLASSIFY_H
#define TICKD_CLASSIFY_H

#include "common.h"
#include "mime.h"

enum classify_class {
	CLASSIFY_HUMAN = 0,
	CLASSIFY_AUTO_REPLY, /* RFC 3834, vacation, X-Autoreply ... */
	CLASSIFY_BOUNCE,     /* DSN action failed, or a non-standard NDR */
	CLASSIFY_DELAY,      /* DSN action delayed (or only relayed etc.) */
	CLASSIFY_COMPLAINT,  /* ARF feedback-report */
	CLASSIFY_RECEIPT,    /* MDN, read receipt */
	CLASSIFY_LIST,       /* mailing list, newsletter, bulk */
	CLASSIFY_SPAM,       /* flagged by a spam filter upstream */
	CLASSIFY_OWN,        /* a mail tickd itself sent (loop) */
	CLASSIFY__COUNT
};

/*
 * What marks tickd's own mail.  Every field may be NULL (that test is then
 * skipped), and so may the whole struct.  A mail is "own" when its
 * Message-ID is tickd.<...>@own_domain, when it carries loop_header with
 * loop_value (any value when loop_value is NULL or ""), or when its From is
 * one of own_addresses together with an automatic marker (Auto-Submitted,
 * Precedence, X-Loop, X-Auto-Response-Suppress, an auto-reply header or
 * subject); From alone is not enough, agents write from it by hand.
 */
struct classify_opts {
	const char *own_domain;  /* domain of tickd's Message-IDs */
	const char *loop_header; /* name of tickd's loop header */
	const char *loop_value;  /* its value on our mails (instance id) */
	const char *const *own_addresses; /* NULL-terminated: support@... */
};

/*
 * bounce_recipient and bounce_status are set for CLASSIFY_BOUNCE (the first
 * failed recipient) and CLASSIFY_DELAY (the first delayed, else relayed or
 * delivered one), when the report names them; original_message_id for bounce,
 * delay, complaint and receipt when the mail quotes it.  reason is always set,
 * valid UTF-8.
 */
struct classify_result {
	enum classify_class cls;
	char reason[160];          /* which signal fired, for the audit trail */
	char *bounce_recipient;    /* owned or NULL: Final-Recipient addr,
	                              lower-cased like struct mime_addr */
	char *bounce_status;       /* owned or NULL: e.g. "5.1.1" */
	char *original_message_id; /* owned or NULL: id of the bounced mail,
	                              without <> */
};

/*
 * classify_msg - classify m (o may be NULL).  Overwrites every field of
 * *res without freeing what was there: clear a reused result first, and
 * call classify_result_clear when done.  Never fails: a NULL or unparsable
 * mail, or one without any machine signal, is CLASSIFY_HUMAN.
 */
void classify_msg(const struct mime_msg *m, const struct classify_opts *o,
                  struct classify_result *res);

/* classify_result_clear - free res's strings, reset it; NULL is fine. */
void classify_result_clear(struct classify_result *res);

/*
 * classify_name - "human", "auto-reply", "bounce" ...; static string,
 * "unknown" for a value out of range.
 */
const char *classify_name(enum classify_class c);

/*
 * classify_is_machine - true for every class that must never be answered
 * (all but CLASSIFY_HUMAN, out-of-range values included).
 */
bool classify_is_machine(enum classify_class c);

#endif
