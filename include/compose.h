/*
 * compose.h - the mails tickd writes on its own (acknowledgements and
 * escalation notices and digests; the CSAT and managers' digest mails are
 * csat.c's and digest.c's): subject, text and the RFC 3834 headers that
 * every automatic mail carries.  Returns wire bytes built by mime.c.
 */
#ifndef TICKD_COMPOSE_H
#define TICKD_COMPOSE_H

#include "cfg.h"
#include "common.h"

#include <glib.h>

/* The header tickd puts on everything it sends, to recognise its echo. */
#define COMPOSE_LOOP_HEADER "X-Tickd-Loop"

struct compose_ack {
	gint64 ticket;
	const char *to_addr, *to_name;
	const char *subject;     /* the customer's subject, decoded */
	const char *in_reply_to; /* customer's Message-ID or NULL */
	const char *references;  /* customer's References + id, or NULL */
	const char *message_id;  /* ours, signed, without <> */
	gint64 now;
	/* language choice and template variables; NULL = none */
	const char *prev_language;    /* the customer's earlier language */
	const char *content_language; /* Content-Language of the mail */
	const char *accept_language;  /* Accept-Language of the mail */
	/* what the SLA clock promises (escalate_ack_times): the first
	 * response due (0: no policy) and, outside business hours or on a
	 * holiday, the next opening (0: open now).  Written in tz (the
	 * customer's zone where known, else the queue calendar's; NULL:
	 * UTC) and in the template's language.  With opens_at the
	 * "ack-closed" template is used when the set has one. */
	gint64 first_response_due;
	gint64 opens_at;
	GTimeZone *tz;
	const char **language_r; /* if set: the language written (owned
	                           by cfg's templates or static) */
};

/* compose_ack - the acknowledgement for a new ticket, from the queue's
 * "ack" template (templates/<set>/<lang>/ack.txt) when cfg has templates,
 * else the built-in English text.  The RFC 3834 headers are added here,
 * never by a template.  Unref the GBytes. */
GBytes *compose_ack(const struct cfg *cfg, const struct compose_ack *a);

struct template_var;
struct template_out;
/*
 * compose_template - render template name of cfg's queue (its
 * template_set) in the language template_choose_lang picks from the
 * customer's previous language, Content-Language, Accept-Language and the
 * queue default.  For every mail tickd writes (ack, notices, digests...):
 * 0 and *out (template_out_clear), -ENOENT without such a template or
 * -ENODATA when it rendered empty; then the caller uses its built-in
 * text.  *language_r (optional) the language used, owned by cfg.
 */
int compose_template(const struct cfg *cfg, const char *name, gint64 ticket,
                     const char *prev_language, const char *content_language,
                     const char *accept_language,
                     const struct template_var *vars, size_t n,
                     struct template_out *out, const char **language_r);

/*
 * compose_auto_headers - the headers every automatic mail carries, as
 * mime_out.extra pairs: Auto-Submitted (RFC 3834: "auto-replied" for an
 * answer to a mail, "auto-generated" otherwise), Precedence: bulk,
 * X-Auto-Response-Suppress: All and the loop header; with importance,
 * also "Importance: <importance>".  Returns a->h; a and the strings
 * passed in must outlive the mime_build call.
 */
struct compose_auto {
	const char *h[11];
};
const char *const *compose_auto_headers(const struct cfg *cfg,
                                        const char *auto_submitted,
                                        const char *importance,
                                        struct compose_auto *a);

/* compose_when - t as "Monday 09:00 (2026-12-07 CET)" in tz (NULL: UTC),
 * the weekday in lang ("en", "de", "fr", "es"; others: English).  g_free.
 */
char *compose_when(gint64 t, GTimeZone *tz, const char *lang);

/* An answer to an agent's question by mail (#show, #search, #list). */
struct compose_answer {
	const char *to_addr, *to_name;
	const char *subject;     /* the whole subject line */
	const char *text;        /* the answer */
	const char *in_reply_to; /* the question's Message-ID or NULL */
	const char *message_id;  /* ours, signed, without <> */
	gint64 now;
};
/* compose_answer - the answer mail, Auto-Submitted: auto-replied and the
 * other loop headers (RFC 3834).  Unref the GBytes. */
GBytes *compose_answer(const struct cfg *cfg, const struct compose_answer *a);

/* compose_tag - "[Tag #N]" for cfg's subject tag.  g_free. */
char *compose_tag(const struct cfg *cfg, gint64 ticket);

/* compose_bounce_address - the VERP envelope sender for automatic mail
 * about ticket (so a bounce comes back to us, tagged), or "" when
 * smtp.from has no usable local part.  g_free. */
char *compose_bounce_address(const struct cfg *cfg, gint64 ticket);

/* One ticket in an escalation notice or digest; strings borrowed. */
struct compose_esc_item {
	gint64 ticket;
	const char *what;    /* "first response breached", "customer asks
	                        for a manager" */
	int level, n_levels; /* level 0: immediate escalation */
	const char *reason;  /* the priority rule that matched, or NULL */
	const char *subject, *customer, *queue, *priority, *status;
	const char *assignee;  /* "" or NULL: nobody */
	const char *sla;       /* "first response within 60 business min" */
	const char *breach;    /* when it was breached, formatted, or NULL */
	gint64 age_min;        /* business minutes since the ticket opened */
	const char *last_text; /* the last customer message's new part */
	const char *history;   /* the customer's "N earlier tickets (...)"
	                          or NULL/"": none */
};

struct compose_esc {
	const char *to_addr, *to_name;
	const struct compose_esc_item *items;
	size_t n; /* 1: a notice about one ticket; more: a digest */
	const char *message_id; /* ours, signed, without <> */
	gint64 now;
};

/*
 * compose_escalation - an escalation notice (n == 1) or digest (n > 1) to
 * an internal person: Auto-Submitted: auto-generated and the other loop
 * headers, Importance: high when a ticket in it is high or urgent.
 * Unref the GBytes.
 */
GBytes *compose_escalation(const struct cfg *cfg, const struct compose_esc *e);

#endif
