/*
 * ingest.c - raw mail -> committed ticket change.  See ingest.h.
 *
 * One mail's database work is the list ingest_steps, run by ingest_tx in
 * one transaction (a savepoint of the caller's fetch batch): dedupe first
 * (a mail seen before changes nothing but the cursor), then find the
 * ticket, then write.  Everything a crash could tear apart (message,
 * ticket, outbox, cursor) commits at once; IMAP side effects happen in the
 * caller, after COMMIT.
 */
#include "ingest.h"

#include "agentmail.h"
#include "assign.h"
#include "authres.h"
#include "bound.h"
#include "classify.h"
#include "action.h"
#include "command.h"
#include "compose.h"
#include "csat.h"
#include "limit.h"
#include "escalate.h"
#include "forward.h"
#include "log.h"
#include "mime.h"
#include "outbox.h"
#include "thread.h"
#include "store.h"
#include "store_ingest.h"
#include "store_outbox.h"
#include "thanks.h"
#include "store_search.h"
#include "store_merge.h"

#include <string.h>

/* A Sender field longer than this names nobody (bounded before use). */
#define INGEST_ADDR_MAX 998

/* How far into an oversized mail we look for its header block. */
#define INGEST_HEADER_SCAN (256 * 1024)

/* What the steps of one mail's transaction learn (reset for a retry). */
struct ingest_tx {
	gint64 ticket;   /* 0 until found or created */
	gint64 linked;   /* the ticket a new one is linked to, 0: none */
	gint64 msg;      /* the message row */
	const char *how; /* how the ticket was found (static), NULL */
	bool new_ticket;
	/* a new ticket's priority (static) as this mail left it so far: set
	 * at its creation, raised by a priority rule; NULL: read it */
	const char *priority;
	/* the priority rules a customer's mail matched (escalate.h), read
	 * once: before a new ticket's INSERT, which takes its priority */
	struct escalate_match rules;
	bool rules_read;
	/* a new ticket's requester (borrowed from the mail; NULL: no ticket
	 * created), and the language of their newest earlier ticket (owned,
	 * NULL: none), read with the creation */
	const char *requester;
	char *prev_lang;
	/* the person an #assign of this mail assigned (borrowed), NULL */
	const struct cfg_person *assigned;
	/* what the agent's commands did not do, and did, one line each, for
	 * the answer (agents.confirm); clipped */
	char cmd_failed[1024], cmd_done[1024];
	/* an agent's mail: when it was written (ingest_agent_time), and the
	 * newest customer mail on the ticket was written after that */
	gint64 agent_at;
	bool stale;
	bool thanks;       /* a thank-you that left a resolved ticket alone */
	gint64 merge_into; /* an agent's #merge N: N, run after the rest */
	/* the thread look-up by Message-ID, answered with the dedupe
	 * (store_dedupe_and_thread): pre_found 1 with pre (owned), 0; it is
	 * the thread step's while store_mark is pre_mark (0: none asked) */
	int pre_found;
	struct store_ticket pre;
	guint64 pre_mark;
};

struct ingest_ctx {
	const struct cfg *cfg;
	struct store *st;
	const struct ingest_source *src;
	const void *raw;
	size_t len;
	gint64 now;
	struct mime_msg *m;
	struct classify_result cr;
	char *dedupe_key;
	const struct mime_addr *from; /* borrowed from m, may be NULL */
	bool is_agent;
	/* the person an agent's mail is attributed to (ingest_responder),
	 * borrowed from cfg; NULL: the team's, or not an agent's mail */
	const struct cfg_person *responder;
	/* a proven agent's reply to a notice tickd sent that agent: it goes
	 * on to the customer (ingest_step_relay_proof) */
	bool relay;
	bool agent_unauth;   /* From is an agent's, but not authenticated */
	char agent_why[160]; /* authres_verify's reason for either verdict */
	bool oversized;
	struct command_list cmds; /* the "#status ..." block at the top */
	bool rating;              /* a CSAT rating reply (csat.c) */
	char *bounded; /* owned or NULL: what bound_msg cut from the mail */
	bool suspect;  /* bound_msg: values no honest client writes */
	struct ingest_tx tx; /* what the steps of ingest_tx learn */
	gint64 date;  /* the mail's Date clamped to now; now without one */
	bool history; /* see ingest_source.history_before */
	/* owned or NULL: a proven agent's forward, now the customer's mail
	 * (ingest_forward); fwd_why (static): why a forward block was found
	 * but the mail stays the agent's */
	struct ingest_fwd *fwd;
	const char *fwd_why;
};

/* A proven agent's forward of a customer's mail (ingest_forward). */
struct ingest_fwd {
	struct forward f;              /* what forward.c read */
	struct mime_addr customer;     /* owned: the requester */
	const struct mime_addr *agent; /* borrowed from m: the forwarder */
	bool by_command;               /* #requester named the customer */
};

void
ingest_log(const char *summary)
{
	log_info("ingest: %s", summary);
}

const char *
ingest_kind_name(enum ingest_kind k)
{
	switch (k) {
	case INGEST_NEW_TICKET:
		return "new ticket";
	case INGEST_FOLLOW_UP:
		return "follow-up";
	case INGEST_DUPLICATE:
		return "duplicate";
	case INGEST_UNATTACHED:
		return "kept without ticket";
	case INGEST_DROPPED:
		return "dropped";
	case INGEST_QUARANTINED:
		return "quarantined";
	}
	return "?";
}

static bool ingest_is_other_queue(const struct cfg *cfg, const char *addr);

/* ingest_is_own - an address of the support mailbox itself (with any
 * +detail), which is never a requester or participant. */
static bool
ingest_is_own(const struct cfg *cfg, const char *addr)
{
	const char *own[] = {cfg->smtp.from, cfg->imap.user};

	for (size_t i = 0; i < ARRAY_SIZE(own); i++) {
		const char *o = own[i], *oat, *aat, *plus;
		size_t local;

		if (o == NULL || addr == NULL || (oat = strchr(o, '@')) == NULL)
			continue;
		if ((aat = strchr(addr, '@')) == NULL)
			continue;
		if (g_ascii_strcasecmp(oat, aat) != 0)
			continue;
		plus = memchr(addr, '+', (size_t)(aat - addr));
		local = (size_t)((plus ? plus : aat) - addr);
		if (local == (size_t)(oat - o) &&
		    g_ascii_strncasecmp(addr, o, local) == 0)
			return true;
	}
	return ingest_is_other_queue(cfg, addr);
}

/* ingest_is_other_queue - an address of another queue (billing@ on Cc of
 * a mail to support@) is ours too, never a participant. */
static bool
ingest_is_other_queue(const struct cfg *cfg, const char *addr)
{
	for (guint i = 0; cfg->queues && i < cfg->queues->len; i++) {
		const struct cfg_queue *q = cfg->queues->pdata[i];
		struct cfg other;

		if (q->view == cfg)
			continue;
		other = *q->view;
		other.queues = NULL; /* one level: no recursion */
		if (ingest_is_own(&other, addr))
			return true;
	}
	return false;
}

/* ingest_join_addrs - "a@x, b@y" of a list of struct mime_addr. */
static char *
ingest_join_addrs(GPtrArray *list)
{
	GString *s = g_string_new(NULL);

	for (guint i = 0; list && i < list->len; i++) {
		const struct mime_addr *a = list->pdata[i];
		if (s->len)
			g_string_append(s, ", ");
		g_string_append(s, a->addr);
	}
	return g_string_free(s, s->len == 0);
}

/* ingest_never_answer - belt and braces beside classify: RFC 3834 says
 * never auto-answer a null Return-Path or the postmaster's robots. */
static bool
ingest_never_answer(const struct ingest_ctx *x, const char *rcpt)
{
	const char *rp = mime_header(x->m, "Return-Path");
	static const char *const robots[] = {
	    "mailer-daemon@", "postmaster@",   "noreply@", "no-reply@",
	    "donotreply@",    "do-not-reply@", "bounce@",  "bounces@",
	};

	if (rp != NULL) {
		g_autofree char *t = g_strstrip(g_strdup(rp));
		if (strcmp(t, "<>") == 0 || *t == '\0')
			return true;
	}
	for (size_t i = 0; i < ARRAY_SIZE(robots); i++)
		if (g_ascii_strncasecmp(rcpt, robots[i], strlen(robots[i])) ==
		    0)
			return true;
	return false;
}

/* ingest_refs - In-Reply-To, References and (for reports) the original
 * Message-ID: every id that can tie this mail to a ticket.  Borrowed. */
static GPtrArray *
ingest_refs(const struct ingest_ctx *x)
{
	GPtrArray *ids = g_ptr_array_new();

	for (guint i = 0; i < x->m->in_reply_to->len; i++)
		g_ptr_array_add(ids, x->m->in_reply_to->pdata[i]);
	/* newest reference last in the header: look at it first */
	for (guint i = x->m->references->len; i > 0; i--)
		g_ptr_array_add(ids, x->m->references->pdata[i - 1]);
	if (x->cr.original_message_id)
		g_ptr_array_add(ids, x->cr.original_message_id);
	else if (x->m->original_message_id)
		g_ptr_array_add(ids, x->m->original_message_id);
	return ids;
}

/* ingest_authorized - may the sender write into ticket t on the strength
 * of the subject tag alone?  Requester, participants, agents, and with
 * tickets.trust_same_domain the participants' domains. 1/0/-E. */
static int
ingest_authorized(struct ingest_ctx *x, gint64 t)
{
	const char *at;
	int r;

	if (x->is_agent)
		return 1;
	if (x->from == NULL)
		return 0;
	r = store_is_participant(x->st, t, x->from->addr);
	if (r != 0)
		return r;
	if (x->cfg->tickets.trust_same_domain &&
	    (at = strchr(x->from->addr, '@')) != NULL)
		return store_participant_domain(x->st, t, at + 1);
	return 0;
}

/*
 * ingest_find_ticket - the ticket this mail belongs to, or 0.  *linked_r
 * is set when the subject names a ticket the sender may not write into
 * (the new ticket gets linked to it instead: no hijacking).
 */
/* ingest_found - tk's id; its row into *tk_r when wanted, else cleared */
static gint64
ingest_found(struct store_ticket *tk, struct store_ticket *tk_r)
{
	gint64 t = tk->id;

	if (tk_r != NULL)
		*tk_r = *tk; /* (ownership moves) */
	else
		store_ticket_clear(tk);
	return t;
}

static gint64
ingest_find_ticket(struct ingest_ctx *x, gint64 *linked_r, const char **how_r,
                   struct store_ticket *tk_r)
{
	g_autoptr(GPtrArray) refs = ingest_refs(x);
	struct store_ticket tk;
	gint64 t, n;
	int r;

	for (guint i = 0; i < refs->len; i++) {
		t = thread_msgid_ticket(x->cfg->tickets.secret,
		                        x->cfg->tickets.secret_len,
		                        refs->pdata[i]);
		if (t > 0) {
			/* a merged ticket's number leads to its survivor */
			if ((r = store_ticket_resolve(x->st, t, &tk)) == 0) {
				*how_r = "signed reference";
				return ingest_found(&tk, tk_r);
			}
			if (r != -ENOENT)
				return r;
		}
	}
	if (x->tx.pre_mark != 0 && store_mark(x->st) == x->tx.pre_mark) {
		/* answered with the dedupe, and nothing ran since */
		r = x->tx.pre_found;
		tk = x->tx.pre;
		memset(&x->tx.pre, 0, sizeof(x->tx.pre)); /* (moves) */
		x->tx.pre_mark = 0;
	} else if ((r = store_ticket_by_msgids(x->st, refs, &tk)) < 0)
		return r;
	if (r > 0) {
		*how_r = "reference";
		return ingest_found(&tk, tk_r);
	}
	n = thread_subject_ticket(x->m->subject, x->cfg->tickets.subject_tag);
	if (n > 0) {
		r = store_ticket_resolve(x->st, n, &tk);
		if (r == -ENOENT)
			return 0;
		if (r < 0)
			return r;
		/* the survivor's participants decide: merging lets nobody
		 * in who was on neither ticket */
		n = tk.id;
		store_ticket_clear(&tk);
		r = ingest_authorized(x, n);
		if (r < 0)
			return r;
		if (r > 0) {
			*how_r = "subject tag";
			return n;
		}
		*linked_r = n;
	}
	return 0;
}

static const char *
ingest_role(const struct ingest_ctx *x)
{
	if (classify_is_machine(x->cr.cls) || x->rating)
		return "other";
	if (x->is_agent && x->cmds.note)
		return "note";
	return x->is_agent ? "agent" : "customer";
}

/* ingest_store_message - the message row and its attachments. */
static int
ingest_store_message(struct ingest_ctx *x, gint64 ticket, gint64 *id_r)
{
	g_autofree char *to = ingest_join_addrs(x->m->to);
	g_autofree char *cc = ingest_join_addrs(x->m->cc);
	struct store_message sm = {
	    .ticket_id = ticket,
	    .dedupe_key = x->dedupe_key,
	    .message_id = x->m->message_id,
	    .direction = "in",
	    .role = ingest_role(x),
	    .cls = x->rating ? "rating" : classify_name(x->cr.cls),
	    .class_reason = x->cr.reason[0] ? x->cr.reason : NULL,
	    .source = x->src->label,
	    .from_addr = x->from ? x->from->addr : NULL,
	    .from_name = x->from ? x->from->name : NULL,
	    .to_addrs = to,
	    .cc_addrs = cc,
	    .subject = x->m->subject,
	    .body_text = x->m->text,
	    .body_new = x->m->text_new,
	    .body_html = x->m->html,
	    .defects = x->m->defects,
	    .sent_date = x->m->date,
	    /* history arrived when it was sent, as far as we know: the
	     * report's mail counts then see it in its own period */
	    .received = x->history ? x->date : x->now,
	    .unparsed = x->m->unparsed,
	    .raw = x->raw,
	    .raw_len = x->len,
	};
	int r = store_message_add(x->st, &sm, id_r);

	if (r < 0)
		return r;
	for (guint i = 0; i < x->m->attachments->len; i++) {
		const struct mime_attachment *a = x->m->attachments->pdata[i];
		r = store_attachment_add(x->st, *id_r, a->filename,
		                         a->content_type, a->content_id,
		                         a->is_inline, a->data, a->size, true);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ingest_search_index - the full-text row of message msg: the same
 * texts ingest_store_message stored, cut into words here (searchdoc.h). */
static int
ingest_search_index(struct ingest_ctx *x, gint64 msg, gint64 ticket)
{
	if (!x->cfg->tickets.search_index)
		return 0;

	g_autofree char *to = ingest_join_addrs(x->m->to);
	g_autofree char *cc = ingest_join_addrs(x->m->cc);
	g_autoptr(GPtrArray) names = g_ptr_array_new();
	struct store_search_text t = {
	    .subject = x->m->subject,
	    .body = x->m->text_new,
	    .from_addr = x->from ? x->from->addr : NULL,
	    .from_name = x->from ? x->from->name : NULL,
	    .to = to,
	    .cc = cc,
	};

	for (guint i = 0; i < x->m->attachments->len; i++) {
		const struct mime_attachment *a = x->m->attachments->pdata[i];
		if (a->filename)
			g_ptr_array_add(names, a->filename);
	}
	t.names = (const char *const *)names->pdata;
	t.n_names = names->len;
	return store_search_index(x->st, msg, ticket, x->cfg->tickets.queue,
	                          x->cfg->tickets.language, &t);
}

/* ingest_add_participants - requester/sender and everyone on To/Cc who is
 * not the support mailbox itself. */
static int
ingest_add_participants(struct ingest_ctx *x, gint64 t, bool new_ticket)
{
	GPtrArray *lists[] = {x->m->to, x->m->cc};
	int r;

	if (x->from && !ingest_is_own(x->cfg, x->from->addr)) {
		r = store_participant_add(
		    x->st, t, x->from->addr, x->from->name,
		    x->is_agent ? "agent" : (new_ticket ? "requester" : "cc"));
		if (r < 0)
			return r;
	}
	for (size_t l = 0; l < ARRAY_SIZE(lists); l++)
		for (guint i = 0; lists[l] && i < lists[l]->len; i++) {
			const struct mime_addr *a = lists[l]->pdata[i];
			if (ingest_is_own(x->cfg, a->addr))
				continue;
			r = store_participant_add(
			    x->st, t, a->addr, a->name,
			    cfg_person(x->cfg, a->addr) ? "agent" : "cc");
			if (r < 0)
				return r;
		}
	return 0;
}

/* ingest_date_zone - the sender's zone as the offset of its Date header
 * ("... +0100"), NULL when there is none or it is "-0000" (RFC 5322:
 * local zone unknown).  Only a fixed offset: a mail does not say which
 * region's DST rules apply.  g_time_zone_unref. */
static GTimeZone *
ingest_date_zone(const char *date)
{
	g_auto(GStrv) tok = NULL;
	const char *p = NULL;
	int h, m;

	if (date == NULL || strlen(date) > 200)
		return NULL;
	/* the last "+hhmm" / "-hhmm" word: a "(CET)" comment may follow */
	tok = g_strsplit_set(date, " \t\r\n", -1);
	for (size_t i = 0; tok[i] != NULL; i++)
		if ((tok[i][0] == '+' || tok[i][0] == '-') &&
		    strlen(tok[i]) == 5 &&
		    strspn(tok[i] + 1, "0123456789") == 4)
			p = tok[i];
	if (p == NULL || strcmp(p, "-0000") == 0)
		return NULL;
	h = (p[1] - '0') * 10 + (p[2] - '0');
	m = (p[3] - '0') * 10 + (p[4] - '0');
	if (h > 14 || m > 59)
		return NULL;
	return g_time_zone_new_offset((*p == '-' ? -1 : 1) *
	                              (h * 3600 + m * 60));
}

/* ingest_ack_times - the SLA clock's promises for the acknowledgement of
 * ticket t (escalate_ack_times), in the customer's zone when the Date
 * header tells it, else the calendar's; *tz_r holds the customer's zone
 * for a->tz.  0/-E. */
static int
ingest_ack_times(struct ingest_ctx *x, gint64 t, struct compose_ack *a,
                 GTimeZone **tz_r)
{
	struct store_ticket tk = {0};
	GTimeZone *cal_tz = NULL;
	int r;

	/* a new ticket's priority is known: no round trip */
	if (x->tx.priority == NULL && (r = store_ticket_get(x->st, t, &tk)) < 0)
		return r;
	escalate_ack_times(x->cfg, x->cfg->tickets.queue,
	                   x->tx.priority ? x->tx.priority : tk.priority,
	                   x->now, &a->first_response_due, &a->opens_at,
	                   &cal_tz);
	store_ticket_clear(&tk);
	*tz_r = ingest_date_zone(mime_header(x->m, "Date"));
	a->tz = *tz_r ? *tz_r : cal_tz;
	return 0;
}

/* ingest_ack_wire - the acknowledgement of ticket t to `to` as it goes
 * on the wire (compose.c), in the requester's language.  0/-E. */
static int
ingest_ack_wire(struct ingest_ctx *x, gint64 t, const struct mime_addr *to,
                const char *msgid, GBytes **wire_r)
{
	g_autofree char *refs = NULL, *prev_lang = NULL;
	g_autoptr(GTimeZone) cust_tz = NULL;
	struct compose_ack a = {
	    .ticket = t,
	    .to_addr = to->addr,
	    .to_name = to->name,
	    .subject = x->m->subject,
	    .in_reply_to = x->m->message_id,
	    .message_id = msgid,
	    .now = x->now,
	};
	int r;

	if (x->m->message_id) {
		GString *s = g_string_new(NULL);
		for (guint i = 0; i < x->m->references->len && i < 20; i++)
			g_string_append_printf(
			    s, "%s ", (char *)x->m->references->pdata[i]);
		g_string_append(s, x->m->message_id);
		refs = g_string_free(s, FALSE);
	}
	a.references = refs;
	if ((r = ingest_ack_times(x, t, &a, &cust_tz)) < 0)
		return r;
	if (x->tx.requester != NULL && x->tx.ticket == t &&
	    g_ascii_strcasecmp(to->addr, x->tx.requester) == 0)
		prev_lang = g_strdup(x->tx.prev_lang);
	else if ((r = store_requester_language(x->st, to->addr, t,
	                                       &prev_lang)) < 0)
		return r;
	a.prev_language = prev_lang;
	a.content_language = x->m->language;
	a.accept_language = mime_header(x->m, "Accept-Language");
	*wire_r = compose_ack(x->cfg, &a);
	return 0;
}

/* ingest_ack - queue the acknowledgement for new ticket t, unless a loop
 * rule or a send limit says no (then the audit trail says why). */
/* ingest_too_old - the mail's own date is older than limits.
 * max_mail_age: no automatic mail about it. */
static bool
ingest_too_old(const struct ingest_ctx *x)
{
	return x->now - x->date > x->cfg->limits.max_mail_age;
}

static int
ingest_ack(struct ingest_ctx *x, gint64 t, bool *acked_r)
{
	const struct cfg *cfg = x->cfg;
	const struct mime_addr *to = x->from;
	g_autofree char *msgid = NULL;
	const char *why = NULL, *held = NULL;
	g_autoptr(GBytes) wire = NULL;
	gint64 mid = 0;
	bool repeat = false;
	int r;

	/* a forward's Reply-To is the agent's, not the customer's */
	if (x->fwd == NULL && x->m->reply_to && x->m->reply_to->len > 0)
		to = x->m->reply_to->pdata[0];
	if (!(x->fwd ? cfg->tickets.forward_acknowledge
	             : cfg->tickets.acknowledge) ||
	    to == NULL || x->is_agent || x->m->unparsed ||
	    classify_is_machine(x->cr.cls))
		return 0;
	if (ingest_too_old(x)) {
		/* a restored backup, a re-synced folder, a UIDVALIDITY reset:
		 * whatever the cursor says, nobody is mailed about the past */
		g_autofree char *d = g_strdup_printf(
		    "mail dated %" G_GINT64_FORMAT " s ago, older than "
		    "limits.max_mail_age (%d s)",
		    x->now - x->date, cfg->limits.max_mail_age);
		log_notice("ingest: no acknowledgement for ticket "
		           "%" G_GINT64_FORMAT ": %s",
		           t, d);
		return store_event_add(x->st, t, "tickd", "ack-skipped-age", d,
		                       0);
	}
	if (ingest_is_own(cfg, to->addr) || ingest_never_answer(x, to->addr))
		why = "sender is a robot or null Return-Path";
	else if (x->suspect)
		why = "mail has values over tickd's bounds; kept for review";
	else if ((r = limit_check_queue(cfg, x->st, t, to->addr,
	                                x->from ? x->from->addr : NULL, true,
	                                &repeat, &why)) != LIMIT_SEND) {
		if (r < 0)
			return r;
		if (r == LIMIT_HOLD) { /* queued all the same, sent later */
			held = why;
			why = NULL;
		}
	}
	if (why != NULL) {
		log_notice(
		    "ingest: acknowledgement for ticket %" G_GINT64_FORMAT
		    " suppressed: %s",
		    t, why);
		return store_event_add(x->st, t, "tickd", "ack-suppressed", why,
		                       0);
	}

	msgid = thread_make_msgid(cfg->tickets.secret, cfg->tickets.secret_len,
	                          t, "ack", cfg->tickets.domain);
	if ((r = ingest_ack_wire(x, t, to, msgid, &wire)) < 0)
		return r;
	{
		/* the sender identity: limits count per From as well as per
		 * recipient (one From, many Reply-To is one sender) */
		g_autofree char *who =
		    limit_identity(x->from ? x->from->addr : to->addr);

		r = outbox_queue_handed(cfg, x->st, t, "ack", "acknowledgement",
		                        to->addr, msgid, wire, x->now, who,
		                        repeat, x->src->hand, &mid);
	}
	if (r == 0 && held != NULL)
		r = store_event_add(x->st, t, "tickd", "ack-held", held, mid);
	if (r == 0)
		*acked_r = true;
	return r;
}

/* ingest_is_thanks - a customer's reply that only thanks or confirms
 * (thanks.c), without a new attachment, when the config lets it keep a
 * resolved ticket resolved. */
static bool
ingest_is_thanks(const struct ingest_ctx *x)
{
	if (!x->cfg->tickets.thanks_keeps_resolved || x->m->unparsed ||
	    x->oversized || (x->m->attachments && x->m->attachments->len > 0))
		return false;
	return thanks_only(x->m->text_new);
}

/* ingest_followup - what a follow-up does to the ticket's status.
 * Returns the ticket to use: t, or 0 when a new linked ticket is due
 * (closed longer than tickets.reopen_days ago).  known: t's row when the
 * look-up brought it (id 0: not). */
static gint64
ingest_followup(struct ingest_ctx *x, gint64 t,
                const struct store_ticket *known, gint64 *linked_r)
{
	struct store_ticket tk;
	int r = 0;
	bool customer = !x->is_agent && !classify_is_machine(x->cr.cls);

	/* the row the look-up brought along, else one round trip */
	if (known->id == t) {
		tk =
		    *known; /* (its strings copied: known stays the caller's) */
		tk.requester = g_strdup(known->requester);
		tk.subject = g_strdup(known->subject);
		tk.queue = g_strdup(known->queue);
	} else if ((r = store_ticket_get(x->st, t, &tk)) < 0)
		return r;
	if (classify_is_machine(x->cr.cls) || x->is_agent) {
		/* machine mail never reopens, never resets a clock; an
		 * agent's mail is done by ingest_agent_apply */
		store_ticket_clear(&tk);
		return t;
	}
	if (customer && (strcmp(tk.status, "closed") == 0 ||
	                 strcmp(tk.status, "resolved") == 0)) {
		gint64 since = tk.closed_at ? tk.closed_at : tk.resolved_at;
		if (x->now - since >
		    (gint64)x->cfg->tickets.reopen_days * 86400) {
			*linked_r = t;
			store_ticket_clear(&tk);
			return 0;
		}
		if (ingest_is_thanks(x)) {
			/* stored and recorded (ingest_step_thanks), but no
			 * reopen and no clock: nobody waits for an answer */
			x->tx.thanks = true;
			store_ticket_clear(&tk);
			return t;
		}
		r = store_ticket_set_status(x->st, t, "open", x->now);
		if (r == 0)
			r = store_event_add(x->st, t,
			                    x->from ? x->from->addr : "?",
			                    "reopened", tk.status, 0);
	} else if (customer && strcmp(tk.status, "pending") == 0) {
		r = store_ticket_set_status(x->st, t, "open", x->now);
		if (r == 0)
			r = store_event_add(x->st, t,
			                    x->from ? x->from->addr : "?",
			                    "status", "pending -> open", 0);
	}
	store_ticket_clear(&tk);
	if (r < 0)
		return r;
	r = store_ticket_touch(x->st, t, customer, x->now);
	return r < 0 ? r : t;
}

/* ingest_requester - who a new ticket is for: the sender, or for an
 * agent's first mail to a customer, the first outside recipient. */
static const struct mime_addr *
ingest_requester(const struct ingest_ctx *x)
{
	GPtrArray *lists[] = {x->m->to, x->m->cc};

	if (!x->is_agent)
		return x->from;
	for (size_t l = 0; l < ARRAY_SIZE(lists); l++)
		for (guint i = 0; lists[l] && i < lists[l]->len; i++) {
			const struct mime_addr *a = lists[l]->pdata[i];
			if (!ingest_is_own(x->cfg, a->addr) &&
			    cfg_person(x->cfg, a->addr) == NULL)
				return a;
		}
	return x->from;
}

/* ---- agents: first response, status, #commands, audit trail ---- */

/* ingest_commands - parse the command block; an agent's is cut from the
 * text customers would see (the raw mail keeps it). */
static void
ingest_commands(struct ingest_ctx *x)
{
	struct command_list n;

	command_parse(x->m->text, &x->cmds);
	if (!x->is_agent || classify_is_machine(x->cr.cls) ||
	    (x->cmds.cmds->len == 0 && x->cmds.rejected->len == 0))
		return;
	command_parse(x->m->text_new, &n);
	g_free(x->m->text);
	x->m->text = g_strdup(x->cmds.text);
	g_free(x->m->text_new);
	x->m->text_new = g_steal_pointer(&n.text);
	command_list_clear(&n);
}

/* ingest_to_customer - the mail went to someone outside: not the support
 * mailbox, not a configured agent or manager.  Only such a mail answers
 * the customer; an agents-only mail (or a #note) is internal. */
static bool
ingest_to_customer(const struct ingest_ctx *x)
{
	GPtrArray *lists[] = {x->m->to, x->m->cc};

	if (x->relay) /* to us, but it goes on to the customer */
		return true;
	for (size_t l = 0; l < ARRAY_SIZE(lists); l++)
		for (guint i = 0; lists[l] && i < lists[l]->len; i++) {
			const struct mime_addr *a = lists[l]->pdata[i];
			if (!ingest_is_own(x->cfg, a->addr) &&
			    cfg_person(x->cfg, a->addr) == NULL)
				return true;
		}
	return false;
}

/* ingest_actor - who did it, for the audit trail. */
static const char *
ingest_actor(const struct ingest_ctx *x)
{
	if (x->fwd) /* the forwarder ran the commands, not the customer */
		return x->fwd->agent->addr;
	return x->from ? x->from->addr : "unknown";
}

/*
 * ingest_assignee - the agent or manager "#assign arg" names: an address,
 * "me", a name, or the local part / first name of exactly one person.
 * NULL with *why_r when nobody or several match.
 */
static const struct cfg_person *
ingest_assignee(const struct ingest_ctx *x, const char *arg, const char **why_r)
{
	const GPtrArray *people = x->cfg->people;
	const struct cfg_person *hit = NULL;
	g_autofree char *a = g_strdup(arg);
	size_t len = strlen(a);
	int n = 0;

	if (len > 2 && a[0] == '<' && a[len - 1] == '>') {
		a[len - 1] = '\0';
		memmove(a, a + 1, len - 1);
	}
	if (g_ascii_strcasecmp(a, "me") == 0) {
		/* a Sent-folder reply is From support@: its responder */
		if (x->responder)
			return x->responder;
		if (x->from && (hit = cfg_person(x->cfg, x->from->addr)))
			return hit;
		*why_r = "'me' needs a mail from a configured agent address";
		return NULL;
	}
	if (strchr(a, '@') != NULL) {
		if ((hit = cfg_person(x->cfg, a)) == NULL)
			*why_r = "no agent or manager has this address";
		return hit;
	}
	for (guint i = 0; i < people->len; i++) {
		const struct cfg_person *p = people->pdata[i];
		if (g_ascii_strcasecmp(p->name, a) == 0)
			return p;
	}
	for (guint i = 0; i < people->len; i++) {
		const struct cfg_person *p = people->pdata[i];
		const char *at = strchr(p->address, '@');
		const char *sp = strchr(p->name, ' ');
		size_t al = strlen(a);
		if ((at && (size_t)(at - p->address) == al &&
		     g_ascii_strncasecmp(p->address, a, al) == 0) ||
		    (sp && (size_t)(sp - p->name) == al &&
		     g_ascii_strncasecmp(p->name, a, al) == 0)) {
			if (hit != p)
				n++;
			hit = p;
		}
	}
	if (n == 1)
		return hit;
	*why_r = n ? "several agents match; use the address"
	           : "no agent or manager with this address or name";
	return NULL;
}

/* ingest_cmd_note - one line of the answer to an agent's commands. */
static void
ingest_cmd_note(char *buf, size_t size, const char *line, const char *what)
{
	g_autofree char *l = g_strdup_printf("%s: %s\n", line, what);

	g_strlcat(buf, l, size);
}

/* ingest_set_status - status cur -> to (cur is updated), one event. */
static int
ingest_set_status(struct ingest_ctx *x, gint64 t, gint64 msg, char cur[16],
                  const char *to)
{
	g_autofree char *d = NULL;
	int r;

	if (strcmp(cur, to) == 0) {
		d = g_strdup_printf("#status %s: already %s", to, cur);
		return store_event_add(x->st, t, ingest_actor(x),
		                       "command-noop", d, msg);
	}
	d = g_strdup_printf("%s -> %s", cur, to);
	if ((r = store_ticket_set_status(x->st, t, to, x->now)) < 0)
		return r;
	g_strlcpy(cur, to, 16);
	ingest_cmd_note(x->tx.cmd_done, sizeof(x->tx.cmd_done), "#status", d);
	return store_event_add(x->st, t, ingest_actor(x), "status", d, msg);
}

/* ingest_agent_command - carry out one command of an agent's mail. */
static int
ingest_agent_command(struct ingest_ctx *x, gint64 t, gint64 msg,
                     const struct command *c, char status[16],
                     char priority[16])
{
	const char *who = ingest_actor(x), *why = NULL;
	const struct cfg_person *p;
	g_autofree char *d = NULL;
	int r;

	switch (c->kind) {
	case COMMAND_STATUS:
		/* a status that ends the conversation, written before the
		 * customer's newer mail, must not bury that mail */
		if (x->tx.stale && strcmp(c->arg, "open") != 0) {
			why = "written before the customer's newer mail; the "
			      "ticket stays as it is";
			ingest_cmd_note(x->tx.cmd_failed,
			                sizeof(x->tx.cmd_failed), c->line, why);
			d = g_strdup_printf("%s: %s", c->line, why);
			return store_event_add(x->st, t, who, "command-stale",
			                       d, msg);
		}
		return ingest_set_status(x, t, msg, status, c->arg);
	case COMMAND_PRIORITY:
		if (strcmp(priority, c->arg) == 0) {
			d = g_strdup_printf("%s: already %s", c->line,
			                    priority);
			return store_event_add(x->st, t, who, "command-noop", d,
			                       msg);
		}
		d = g_strdup_printf("%s -> %s", priority, c->arg);
		r = store_ticket_set_field(x->st, t, "priority", c->arg);
		if (r < 0)
			return r;
		g_strlcpy(priority, c->arg, 16);
		ingest_cmd_note(x->tx.cmd_done, sizeof(x->tx.cmd_done), c->line,
		                d);
		return store_event_add(x->st, t, who, "priority", d, msg);
	case COMMAND_ASSIGN:
		if ((p = ingest_assignee(x, c->arg, &why)) == NULL) {
			ingest_cmd_note(x->tx.cmd_failed,
			                sizeof(x->tx.cmd_failed), c->line, why);
			d = g_strdup_printf("%s: %s", c->line, why);
			return store_event_add(x->st, t, who,
			                       "command-rejected", d, msg);
		}
		r = store_ticket_set_field(x->st, t, "assignee", p->address);
		if (r < 0)
			return r;
		x->tx.assigned = p;
		ingest_cmd_note(x->tx.cmd_done, sizeof(x->tx.cmd_done), c->line,
		                "assigned");
		return store_event_add(x->st, t, who, "assigned", p->address,
		                       msg);
	case COMMAND_NOTE:
		return store_event_add(x->st, t, who, "note",
		                       "internal note: never sent to the "
		                       "customer",
		                       msg);
	case COMMAND_MERGE:
		/* after every other command (ingest_merge): they are about
		 * this ticket, which a merge closes */
		x->tx.merge_into = g_ascii_strtoll(c->arg, NULL, 10);
		return 0;
	case COMMAND_REQUESTER:
		/* names whose mail a forward is; anywhere else it would
		 * hand a ticket to someone who never wrote */
		why = x->fwd_why ? x->fwd_why
		                 : "no forwarded mail in this mail to the "
		                   "support address";
		ingest_cmd_note(x->tx.cmd_failed, sizeof(x->tx.cmd_failed),
		                c->line, why);
		d = g_strdup_printf("%s: %s", c->line, why);
		return store_event_add(x->st, t, who, "command-rejected", d,
		                       msg);
	case COMMAND_SHOW:
	case COMMAND_SEARCH:
	case COMMAND_LIST:
	case COMMAND_AWAY:
	case COMMAND_BACK:
		/* a reply is not a question: answers go to a mail that only
		 * asks, so that nothing a reply does is mistaken for one */
		d = g_strdup_printf("%s: ask in a mail of questions only",
		                    c->line);
		return store_event_add(x->st, t, who, "command-rejected", d,
		                       msg);
	}
	return -EINVAL;
}

/*
 * ingest_subaddress_person - the person a reply From the support address
 * with a +detail names (support+alice@: alice's local part or first name,
 * exactly one person), or NULL.
 */
static const struct cfg_person *
ingest_subaddress_person(const struct ingest_ctx *x, const char *addr)
{
	const char *plus = strchr(addr, '+'), *at = strchr(addr, '@'), *why;
	g_autofree char *tag = NULL;

	if (plus == NULL || at == NULL || plus > at || at - plus < 2 ||
	    !ingest_is_own(x->cfg, addr))
		return NULL;
	tag = g_strndup(plus + 1, (gsize)(at - plus - 1));
	if (g_ascii_strcasecmp(tag, "me") == 0)
		return NULL;
	return ingest_assignee(x, tag, &why);
}

/*
 * ingest_responder - who wrote an agent's mail.  An INBOX (or imported)
 * mail acts as an agent's only with its From proven, so it is that
 * person's.  A Sent-folder mail was written by one of the mailbox's users
 * (ingest_is_agent), who often all send as support@: its Sender (send on
 * behalf), else its From as a person's address or identity, else a
 * support+name@ sub-address; NULL means the team.  Only the Sent folder's
 * Sender is believed: in INBOX anyone writes any Sender.
 */
static const struct cfg_person *
ingest_responder(const struct ingest_ctx *x)
{
	const struct cfg_person *p = NULL;
	const char *sender;

	if (!x->is_agent || x->from == NULL)
		return NULL;
	if (!x->src->sent_folder)
		return cfg_person(x->cfg, x->from->addr);
	sender = mime_header(x->m, "Sender");
	if (sender != NULL && strlen(sender) <= INGEST_ADDR_MAX) {
		g_autofree char *addr = NULL, *name = NULL;
		if (cfg_address_split(sender, &addr, &name) == 0)
			p = cfg_person_identity(x->cfg, addr);
	}
	if (p == NULL)
		p = cfg_person_identity(x->cfg, x->from->addr);
	if (p == NULL)
		p = ingest_subaddress_person(x, x->from->addr);
	return p;
}

/*
 * ingest_record_responder - a reply to the customer on ticket t (message
 * msg) by x->responder: recorded on the message, the ticket and as that
 * person's first response; with agents.assign_on_first_reply a ticket
 * nobody is assigned takes its first responder.
 */
static int
ingest_record_responder(struct ingest_ctx *x, gint64 t, gint64 msg)
{
	const struct cfg_person *p = x->responder;
	int r;

	if (p == NULL)
		return 0;
	r = store_responder_record(x->st, t, msg, p->address, x->now);
	if (r > 0)
		r = store_event_add(x->st, t, ingest_actor(x), "responded",
		                    p->address, msg);
	if (r < 0 || !x->cfg->agents.assign_on_first_reply)
		return r;
	if ((r = store_ticket_assign_if_none(x->st, t, p->address)) <= 0)
		return r;
	return store_event_add(x->st, t, ingest_actor(x), "assigned",
	                       p->address, msg);
}

/*
 * ingest_agent_time - when an agent's mail was written: its own Date,
 * clamped between the mail it answers (or the ticket's creation) and its
 * arrival, since the Sent folder may be read late (after an outage, by
 * the poll) and a client's clock or a forged Date must not move a
 * response before its question or into the future.  Also whether the
 * ticket's newest customer mail came after it (tx.stale).  0/-E.
 */
static int
ingest_agent_time(struct ingest_ctx *x, gint64 t)
{
	gint64 floor_at = 0, last_customer = 0, at = x->m->date;
	int r;

	r = store_agent_time_bounds(x->st, t, x->m->in_reply_to, &floor_at,
	                            &last_customer);
	if (r < 0)
		return r;
	if (at <= 0 || at > x->now)
		at = x->now;
	if (at < floor_at)
		at = MIN(floor_at, x->now);
	x->tx.agent_at = at;
	x->tx.stale = last_customer > at;
	return 0;
}

/*
 * ingest_merge - an agent's "#merge N": ticket t (this mail's, the mail
 * already on it) into N.  The steps after this one work on N; a reply
 * to a notice about t is not relayed (its customer may not be N's).  A
 * refusal is a command-rejected event and a line of the answer.
 */
static int
ingest_merge(struct ingest_ctx *x, gint64 t, gint64 msg)
{
	g_autofree char *d = NULL;
	char why[160];
	int r, n = 0;

	r = store_merge(x->st, t, x->tx.merge_into, ingest_actor(x), msg,
	                x->now, why, sizeof(why), &n);
	if (r == -EINVAL || r == -ENOENT) {
		ingest_cmd_note(x->tx.cmd_failed, sizeof(x->tx.cmd_failed),
		                "#merge", why);
		d = g_strdup_printf("#merge %" G_GINT64_FORMAT ": %s",
		                    x->tx.merge_into, why);
		return store_event_add(x->st, t, ingest_actor(x),
		                       "command-rejected", d, msg);
	}
	if (r < 0)
		return r;
	d = g_strdup_printf("merged into %" G_GINT64_FORMAT " (%d mails)",
	                    x->tx.merge_into, n);
	ingest_cmd_note(x->tx.cmd_done, sizeof(x->tx.cmd_done), "#merge", d);
	x->tx.ticket = x->tx.merge_into;
	if (x->relay) {
		x->relay = false;
		return store_event_add(x->st, x->tx.ticket, ingest_actor(x),
		                       "relay-skipped",
		                       "the mail merged its ticket", msg);
	}
	return 0;
}

/*
 * ingest_agent_apply - an agent's mail on ticket t.  A reply to the
 * customer (an outside recipient, not a #note) records the first response
 * and last_agent_at and moves new -> open unless a #status says otherwise;
 * an internal mail changes only what its commands say.  Then each command
 * in the mail's order.  Rejected and unknown commands are only
 * recorded.  For a ticket the agent's mail opened, the customer it was
 * written to is the requester (never acknowledged: agents' mail is not).
 */
static int
ingest_agent_apply(struct ingest_ctx *x, gint64 t, gint64 msg, bool new_ticket)
{
	const char *who = ingest_actor(x);
	const struct mime_addr *req;
	struct store_ticket tk;
	char status[16], priority[16];
	bool status_cmd = false, reply = !x->cmds.note && ingest_to_customer(x);
	int r = 0;

	if (new_ticket && (req = ingest_requester(x)) != NULL &&
	    req != x->from &&
	    (r = store_participant_set(x->st, t, req->addr, req->name,
	                               "requester")) < 0)
		return r;
	if ((r = ingest_agent_time(x, t)) < 0)
		return r;
	if (reply)
		r = store_ticket_agent_touch(x->st, t, x->tx.agent_at,
		                             new_ticket);
	if (r > 0)
		r = store_event_add(
		    x->st, t, who, "first-response",
		    x->responder ? x->responder->address : x->src->label, msg);
	if (r < 0)
		return r;
	if ((r = store_ticket_get(x->st, t, &tk)) < 0)
		return r;
	g_strlcpy(status, tk.status, sizeof(status));
	g_strlcpy(priority, tk.priority, sizeof(priority));
	store_ticket_clear(&tk);

	for (guint i = 0; i < x->cmds.cmds->len; i++) {
		const struct command *c = x->cmds.cmds->pdata[i];
		/* a stale status is not run (ingest_agent_command) */
		if (c->kind == COMMAND_STATUS &&
		    !(x->tx.stale && strcmp(c->arg, "open") != 0))
			status_cmd = true;
	}
	if (reply && !status_cmd && strcmp(status, "new") == 0 &&
	    (r = ingest_set_status(x, t, msg, status, "open")) < 0)
		return r;
	for (guint i = 0; i < x->cmds.cmds->len; i++) {
		r = ingest_agent_command(x, t, msg, x->cmds.cmds->pdata[i],
		                         status, priority);
		if (r < 0)
			return r;
	}
	if (x->tx.merge_into > 0 && (r = ingest_merge(x, t, msg)) < 0)
		return r;
	for (guint i = 0; i < x->cmds.rejected->len; i++) {
		const struct command_reject *j = x->cmds.rejected->pdata[i];
		g_autofree char *d =
		    g_strdup_printf("%s: %s", j->line, j->reason);
		ingest_cmd_note(x->tx.cmd_failed, sizeof(x->tx.cmd_failed),
		                j->line,
		                j->unknown ? "unknown command" : j->reason);
		r = store_event_add(x->st, t, who,
		                    j->unknown ? "command-unknown"
		                               : "command-rejected",
		                    d, msg);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ingest_commands_ignored - commands in a non-agent's mail are never run,
 * only recorded.  "#word" lines that name no command are just text. */
static int
ingest_commands_ignored(struct ingest_ctx *x, gint64 t, gint64 msg)
{
	const char *why = x->agent_unauth ? "agent From not authenticated"
	                                  : "sender is not an agent";
	int r;

	for (guint i = 0; i < x->cmds.cmds->len; i++) {
		const struct command *c = x->cmds.cmds->pdata[i];
		g_autofree char *d = g_strdup_printf("%s: %s", c->line, why);
		r = store_event_add(x->st, t, ingest_actor(x),
		                    "command-ignored", d, msg);
		if (r < 0)
			return r;
	}
	for (guint i = 0; i < x->cmds.rejected->len; i++) {
		const struct command_reject *j = x->cmds.rejected->pdata[i];
		g_autofree char *d = NULL;
		if (j->unknown)
			continue;
		d = g_strdup_printf("%s: %s", j->line, why);
		r = store_event_add(x->st, t, ingest_actor(x),
		                    "command-ignored", d, msg);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * ingest_forward_commands - the forwarder's commands on the customer's
 * ticket t (#assign me, #priority, #status): run as an agent's, with the
 * forwarder as actor; #requester was used already, the forward's note is
 * an internal note anyway.
 */
static int
ingest_forward_commands(struct ingest_ctx *x, gint64 t, gint64 msg)
{
	struct store_ticket tk;
	char status[16], priority[16];
	int r;

	if ((r = store_ticket_get(x->st, t, &tk)) < 0)
		return r;
	g_strlcpy(status, tk.status, sizeof(status));
	g_strlcpy(priority, tk.priority, sizeof(priority));
	store_ticket_clear(&tk);
	for (guint i = 0; i < x->cmds.cmds->len; i++) {
		const struct command *c = x->cmds.cmds->pdata[i];
		if (c->kind == COMMAND_REQUESTER || c->kind == COMMAND_NOTE)
			continue;
		if ((r = ingest_agent_command(x, t, msg, c, status, priority)) <
		    0)
			return r;
	}
	for (guint i = 0; i < x->cmds.rejected->len; i++) {
		const struct command_reject *j = x->cmds.rejected->pdata[i];
		g_autofree char *d =
		    g_strdup_printf("%s: %s", j->line, j->reason);
		r = store_event_add(x->st, t, ingest_actor(x),
		                    j->unknown ? "command-unknown"
		                               : "command-rejected",
		                    d, msg);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * ingest_people_hook - after the message row of a mail on ticket t: an
 * agent's reply is applied, anyone else's commands are recorded and
 * ignored, the ticket a new one was linked to learns of it, and every
 * event this mail caused points at its message.
 */
static int
ingest_people_hook(struct ingest_ctx *x, gint64 t, gint64 msg, bool new_ticket,
                   gint64 linked)
{
	int r = 0;

	if (t <= 0)
		return 0;
	if (!classify_is_machine(x->cr.cls) && x->agent_unauth)
		r = store_event_add(x->st, t, ingest_actor(x),
		                    "agent-unauthenticated", x->agent_why, msg);
	if (r == 0 && !classify_is_machine(x->cr.cls))
		r = x->is_agent ? ingest_agent_apply(x, t, msg, new_ticket)
		    : x->fwd    ? ingest_forward_commands(x, t, msg)
		                : ingest_commands_ignored(x, t, msg);
	if (r == 0 && !classify_is_machine(x->cr.cls) && x->cmds.excess > 0) {
		/* one line for all of them, however many (400k "#a" lines
		 * once wrote 400k events) */
		g_autofree char *d = g_strdup_printf(
		    "%zu more command lines after the first %d ignored",
		    x->cmds.excess, COMMAND_MAX_LINES);
		r = store_event_add(x->st, t, ingest_actor(x),
		                    "command-ignored", d, msg);
	}
	if (r == 0 && new_ticket && linked > 0) {
		g_autofree char *d = g_strdup_printf("ticket %" G_GINT64_FORMAT
		                                     " was opened with a link "
		                                     "to this one (from %s)",
		                                     t, ingest_actor(x));
		r = store_event_add(x->st, linked, "tickd", "linked-from", d,
		                    msg);
	}
	if (r == 0)
		r = store_event_attach(x->st, t, msg);
	return r;
}

/* ingest_rating - a CSAT rating reply: stored and recorded (csat.c),
 * never threaded, so it neither reopens its ticket nor moves a clock. */
static int
ingest_rating(struct ingest_ctx *x, gint64 t, int rating,
              struct ingest_outcome *out)
{
	struct store_ticket tk;
	gint64 msg = 0;
	int r;

	x->rating = true;
	if (t > 0 && (r = store_ticket_resolve(x->st, t, &tk)) < 0) {
		if (r != -ENOENT)
			return r;
		t = 0; /* validly signed, but the ticket is gone */
	} else if (t > 0) {
		t = tk.id; /* a merged ticket's rating is its survivor's */
		store_ticket_clear(&tk);
	}
	if (t < 0)
		t = 0;
	if ((r = ingest_store_message(x, t, &msg)) < 0)
		return r;
	out->kind = t > 0 ? INGEST_FOLLOW_UP : INGEST_UNATTACHED;
	out->ticket = t;
	out->message = msg;
	return csat_record(x->st, t, rating, x->from ? x->from->addr : NULL,
	                   x->m->text_new, msg, x->now);
}

/* ingest_machine_ticket - may machine mail that threads nowhere open a
 * ticket?  Only list and spam-flagged mail, and only with
 * tickets.list_mail / tickets.spam_mail = "ticket" (the default). */
static bool
ingest_machine_ticket(const struct ingest_ctx *x)
{
	if (x->cr.cls == CLASSIFY_LIST)
		return !x->cfg->tickets.list_drop;
	if (x->cr.cls == CLASSIFY_SPAM)
		return !x->cfg->tickets.spam_drop;
	return false;
}

/*
 * ingest_complaint - an ARF complaint about a mail of ticket t: the person
 * who complained (the recipient of the mail tickd sent with the quoted
 * Message-ID) gets no more automatic mail.  Only a complaint that quotes a
 * mail tickd sent suppresses anyone, so a forged report cannot silence an
 * arbitrary address.
 */
static int
ingest_complaint(struct ingest_ctx *x, gint64 t, gint64 msg)
{
	const char *orig = x->cr.original_message_id;
	g_autofree char *rcpt = NULL, *d = NULL;
	int r;

	if (orig != NULL &&
	    (r = store_out_rcpt_by_msgid(x->st, orig, &rcpt)) < 0)
		return r;
	if (rcpt == NULL)
		return store_event_add(x->st, t, "tickd", "complaint",
		                       "quotes no mail tickd sent; nobody "
		                       "suppressed",
		                       msg);
	if ((r = store_suppress(x->st, rcpt, "complaint",
	                        x->cfg->limits.suppress_days)) < 0)
		return r;
	d = g_strdup_printf("%s suppressed (%s)", rcpt, x->cr.reason);
	return store_event_add(x->st, t, "tickd", "complaint", d, msg);
}

/*
 * ingest_bounce - a bounce on ticket t suppresses the failed address only
 * when it proves that it bounced OUR mail to that address: the report
 * quotes the Message-ID of a mail tickd sent to exactly that recipient
 * (tickd's ids carry an HMAC token; only that recipient and its MTA have
 * seen it).  A ticket number, a VERP address or an X-Failed-Recipients
 * line anyone can write ("your mail to vip@ bounced", threaded into the
 * sender's own ticket) is recorded on the ticket and suppresses nobody.
 */
static int
ingest_bounce(struct ingest_ctx *x, gint64 t, gint64 msg)
{
	const char *who = x->cr.bounce_recipient;
	const char *orig = x->cr.original_message_id;
	const char *status = x->cr.bounce_status ? x->cr.bounce_status : "";
	g_autofree char *rcpt = NULL, *d = NULL;
	int r;

	if (orig != NULL &&
	    (r = store_out_rcpt_by_msgid(x->st, orig, &rcpt)) < 0)
		return r;
	if (rcpt == NULL || g_ascii_strcasecmp(rcpt, who) != 0) {
		d = g_strdup_printf("%s %s: names no mail tickd sent to that "
		                    "address; nobody suppressed",
		                    who, status);
		return store_event_add(x->st, t, "tickd", "bounce-unproven", d,
		                       msg);
	}
	if ((r = store_suppress(x->st, who, "bounce",
	                        x->cfg->limits.suppress_days)) < 0)
		return r;
	d = g_strdup_printf("%s %s", who, status);
	return store_event_add(x->st, t, "tickd", "bounce", d, msg);
}

/*
 * The steps of one mail's database work, in this order, between
 * store_mail_begin and store_mail_commit (ingest_tx).  A step returns
 * INGEST_STEP_NEXT to go on, INGEST_STEP_DONE when the mail is fully
 * handled (only the cursor is left), or -E (the mail's work is rolled
 * back).  A new feature adds a step here.
 */
#define INGEST_STEP_NEXT 0
#define INGEST_STEP_DONE 1

/* ingest_step_dedupe - a mail seen before changes nothing but the
 * cursor. */
static int
ingest_step_dedupe(struct ingest_ctx *x, struct ingest_outcome *out)
{
	struct ingest_tx *tx = &x->tx;
	g_autoptr(GPtrArray) refs = ingest_refs(x);
	gint64 dup_ticket = 0;
	int r;

	/* A mail that names earlier mail is threaded by it (unless a signed
	 * reference or an action link decides first): the look-up goes with
	 * the dedupe, one wait for both (a reply waited twice). */
	if (refs->len > 0 && x->cr.cls != CLASSIFY_OWN) {
		r = store_dedupe_and_thread(x->st, x->dedupe_key, refs,
		                            &dup_ticket, &tx->pre_found,
		                            &tx->pre);
		/* (at least the two sent: never 0) */
		tx->pre_mark = r >= 0 ? store_mark(x->st) : 0;
	} else
		r = store_dedupe(x->st, x->dedupe_key, &dup_ticket);

	if (r <= 0)
		return r;
	out->kind = INGEST_DUPLICATE;
	out->ticket = dup_ticket;
	return INGEST_STEP_DONE;
}

/* ingest_unattached - store the mail on no ticket, as kind. */
static int
ingest_unattached(struct ingest_ctx *x, struct ingest_outcome *out,
                  enum ingest_kind kind)
{
	int r;

	out->kind = kind;
	if ((r = ingest_store_message(x, 0, &out->message)) < 0)
		return r;
	/* kept mail is findable too (tickctl search --kept) */
	if (kind != INGEST_DROPPED &&
	    (r = ingest_search_index(x, out->message, 0)) < 0)
		return r;
	return INGEST_STEP_DONE;
}

/* ingest_step_own - our own mail coming back: kept raw, nothing else. */
static int
ingest_step_own(struct ingest_ctx *x, struct ingest_outcome *out)
{
	if (x->cr.cls != CLASSIFY_OWN)
		return INGEST_STEP_NEXT;
	return ingest_unattached(x, out, INGEST_DROPPED);
}

/* ingest_step_rating - a CSAT rating reply (never threaded). */
static int
ingest_step_rating(struct ingest_ctx *x, struct ingest_outcome *out)
{
	int rating = 0, r;
	gint64 t;

	if (classify_is_machine(x->cr.cls) || x->is_agent || x->history ||
	    (t = csat_match(x->cfg, x->m->subject, &rating)) == 0)
		return INGEST_STEP_NEXT;
	if ((r = ingest_rating(x, t, rating, out)) < 0)
		return r;
	return INGEST_STEP_DONE;
}

/*
 * ingest_step_action - a mail carrying a digest action token (action.h):
 * its ticket is the one to act on when the token is valid, names the
 * subject's ticket, the ticket exists and the sender is a proven agent or
 * manager; the agent's commands then run as for any agent mail on it.
 * Otherwise the mail is kept without a ticket, an event says why, and
 * nothing changes (a tampered link does nothing).
 */
static int
ingest_step_action(struct ingest_ctx *x, struct ingest_outcome *out)
{
	const char *why = NULL;
	char q[96];
	gint64 act;
	int r;

	/* imported history is a record: old links act on nothing */
	if (classify_is_machine(x->cr.cls) || x->history ||
	    (act = action_match(x->cfg->tickets.secret,
	                        x->cfg->tickets.secret_len, x->m->subject,
	                        x->cfg->tickets.subject_tag)) == 0)
		return INGEST_STEP_NEXT;
	if (act < 0)
		why = "action token invalid or moved to another ticket";
	else if (!x->is_agent)
		why = x->agent_unauth ? "agent From not authenticated"
		                      : "sender is not an agent or manager";
	else {
		struct store_ticket tk;
		if ((r = store_ticket_resolve(x->st, act, &tk)) == 0) {
			x->tx.ticket = tk.id; /* a merged one's survivor */
			store_ticket_clear(&tk);
			x->tx.how = "action token";
			return INGEST_STEP_NEXT;
		}
		if (r != -ENOENT)
			return r;
		why = "the ticket is gone";
	}
	log_notice("ingest: action mail from '%s' ignored: %s",
	           log_quote(x->from ? x->from->addr : "?", q, sizeof(q)), why);
	if ((r = ingest_unattached(x, out, INGEST_UNATTACHED)) < 0)
		return r;
	r = store_event_global(x->st, x->from ? x->from->addr : "?",
	                       act < 0 ? "action-forged" : "action-refused",
	                       why, out->message);
	return r < 0 ? r : INGEST_STEP_DONE;
}

/* ingest_answer_one - the text answering one question into s; *ticket_r
 * the ticket a #show is about (0 when none). */
static int
ingest_answer_one(struct ingest_ctx *x, const struct command *c, gint64 t,
                  GString *s, gint64 *ticket_r)
{
	int n = 0, r;

	g_string_append_printf(s, "> %s\n\n", c->line);
	switch (c->kind) {
	case COMMAND_SHOW:
		if (c->arg)
			t = g_ascii_strtoll(c->arg, NULL, 10);
		if (t <= 0) {
			g_string_append(s,
			                "Which ticket? Keep the ticket tag "
			                "in the subject or write #show N.\n\n");
			return 0;
		}
		r = store_transcript(x->st, t, s);
		if (r == -ENOENT)
			g_string_append_printf(
			    s, "There is no ticket #%" G_GINT64_FORMAT ".\n\n",
			    t);
		else if (r < 0)
			return r;
		else
			*ticket_r = t;
		return 0;
	case COMMAND_SEARCH:
		r = store_answer_lines(x->st, "search", c->arg, s, &n);
		break;
	case COMMAND_AWAY:
	case COMMAND_BACK:
		return assign_by_mail(x->cfg, x->st, x->from->addr,
		                      c->kind == COMMAND_AWAY, c->arg, x->now,
		                      x->tx.msg, s);
	case COMMAND_LIST:
		if (strcmp(c->arg, "mine") == 0)
			r = store_answer_lines(x->st, "mine", x->from->addr, s,
			                       &n);
		else if (strcmp(c->arg, "breached") == 0)
			r = store_answer_lines(x->st, "breached", NULL, s, &n);
		else
			r = store_answer_lines(x->st, "queue", c->arg + 6, s,
			                       &n);
		break;
	default:
		return 0;
	}
	if (r < 0)
		return r;
	if (n == 0)
		g_string_append(s, "No tickets.\n");
	else if (n >= STORE_ANSWER_LINES)
		g_string_append_printf(s, "(the first %d; narrow it down)\n",
		                       STORE_ANSWER_LINES);
	g_string_append_c(s, '\n');
	return 0;
}

/* ingest_answer - a proven agent's questions: one answer mail to the
 * agent alone, through the send limits, recorded on the ticket shown. */
static int
ingest_answer(struct ingest_ctx *x, gint64 t, struct ingest_outcome *out)
{
	const struct cfg *cfg = x->cfg;
	const struct cfg_person *p = cfg_person(cfg, x->from->addr);
	g_autoptr(GString) s = g_string_new(NULL);
	g_autofree char *msgid = NULL, *subject = NULL, *tag = NULL;
	g_autoptr(GBytes) wire = NULL;
	const char *why = NULL;
	gint64 shown = 0, about, mid = 0;
	bool repeat = false;
	int r;

	for (guint i = 0; i < x->cmds.cmds->len; i++)
		if ((r = ingest_answer_one(x, x->cmds.cmds->pdata[i], t, s,
		                           &shown)) < 0)
			return r;
	about = shown;
	r = limit_check_queue(cfg, x->st, about, p->address, p->address, false,
	                      &repeat, &why);
	if (r < 0)
		return r;
	if (r == LIMIT_SUPPRESS) {
		g_autofree char *d = g_strdup_printf(
		    "answer to %s suppressed: %s", p->address, why);
		return about ? store_event_add(x->st, about, "tickd",
		                               "answer-suppressed", d,
		                               out->message)
		             : store_event_global(x->st, "tickd",
		                                  "answer-suppressed", d,
		                                  out->message);
	}
	tag = compose_tag(cfg, about);
	subject = about ? g_strdup_printf("%s Answer: %s", tag, x->m->subject)
	                : g_strdup_printf("Answer: %s", x->m->subject);
	msgid = thread_make_msgid(cfg->tickets.secret, cfg->tickets.secret_len,
	                          about, "answer", cfg->tickets.domain);
	struct compose_answer a = {
	    .to_addr = p->address,
	    .to_name = p->name,
	    .subject = subject,
	    .text = s->str,
	    .in_reply_to = x->m->message_id,
	    .message_id = msgid,
	    .now = x->now,
	};
	wire = compose_answer(cfg, &a);
	{
		g_autofree char *who = limit_identity(p->address);
		r = outbox_queue_handed(cfg, x->st, about, "answer",
		                        "answer to an agent", p->address, msgid,
		                        wire, x->now, who, repeat, x->src->hand,
		                        &mid);
	}
	if (r == 0 && about)
		r = store_event_add(x->st, about, p->address, "answered",
		                    "#show by mail", out->message);
	return r;
}

/*
 * ingest_step_question - a mail whose command block only asks (#show,
 * #search, #list) is not a reply: it is kept without a ticket, changes
 * no ticket, and only a proven agent who is a configured person gets an
 * answer.  Anyone else's question is recorded as command-ignored on the
 * ticket it named (or as a global event) and never answered.
 */
static int
ingest_step_question(struct ingest_ctx *x, struct ingest_outcome *out)
{
	gint64 linked = 0, t;
	const char *how = NULL;
	bool agent;
	int r;

	if (!x->cmds.question || classify_is_machine(x->cr.cls))
		return INGEST_STEP_NEXT;
	if ((t = ingest_find_ticket(x, &linked, &how, NULL)) < 0)
		return (int)t;
	agent = x->is_agent && x->from && cfg_person(x->cfg, x->from->addr);
	if ((r = ingest_unattached(x, out, INGEST_UNATTACHED)) < 0)
		return r;
	x->tx.msg = out->message; /* what #away/#back events point at */
	if (agent) {
		r = ingest_answer(x, t, out);
	} else {
		gint64 named = t > 0 ? t : linked;
		const char *why = x->agent_unauth
		                      ? "agent From not authenticated"
		                      : "sender is not an agent";
		for (guint i = 0; r >= 0 && i < x->cmds.cmds->len; i++) {
			const struct command *c = x->cmds.cmds->pdata[i];
			g_autofree char *d =
			    g_strdup_printf("%s: %s", c->line, why);
			r = named > 0
			        ? store_event_add(x->st, named, ingest_actor(x),
			                          "command-ignored", d,
			                          out->message)
			        : store_event_global(x->st, ingest_actor(x),
			                             "command-ignored", d,
			                             out->message);
		}
	}
	return r < 0 ? r : INGEST_STEP_DONE;
}

/* ingest_step_thread - the ticket the mail belongs to (0: none yet), and
 * what a follow-up does to it. */
static int
ingest_step_thread(struct ingest_ctx *x, struct ingest_outcome *out)
{
	struct ingest_tx *tx = &x->tx;
	struct store_ticket tk = {0};
	gint64 t;

	(void)out;
	if (tx->ticket > 0)
		return INGEST_STEP_NEXT; /* an action link named it */
	t = ingest_find_ticket(x, &tx->linked, &tx->how, &tk);
	if (t > 0 && !x->history) /* history never reopens or touches */
		t = ingest_followup(x, t, &tk, &tx->linked);
	store_ticket_clear(&tk);
	if (t < 0)
		return (int)t;
	tx->ticket = t;
	return INGEST_STEP_NEXT;
}

/*
 * ingest_merged_same - ticket nt was merged into this mail's ticket and
 * has the same customer, so a notice about nt answers this ticket's
 * customer (another customer's notice is not relayed to this one).
 * 1/0/-E.
 */
static int
ingest_merged_same(struct ingest_ctx *x, gint64 nt)
{
	struct store_ticket was = {0}, now = {0};
	int r;

	if ((r = store_ticket_get(x->st, nt, &was)) == 0 &&
	    (r = store_ticket_resolve(x->st, nt, &now)) == 0)
		r = now.id == x->tx.ticket && now.id != nt &&
		    g_ascii_strcasecmp(was.requester, now.requester) == 0;
	store_ticket_clear(&was);
	store_ticket_clear(&now);
	return r == -ENOENT ? 0 : r;
}

/*
 * ingest_step_relay_proof - is this a reply to a notice that goes on to
 * the customer?  Only an agent's INBOX (or imported) mail, i.e. one whose
 * From is proven (ingest_is_agent), that names in In-Reply-To or
 * References a signed Message-ID of tickd's for this ticket that was sent
 * to this very agent: a notice forwarded to someone else, or a guessed
 * id, relays nothing.  A notice about a ticket merged into this one
 * counts when both tickets have the same customer.
 */
static int
ingest_step_relay_proof(struct ingest_ctx *x, struct ingest_outcome *out)
{
	const struct cfg *cfg = x->cfg;
	GPtrArray *lists[] = {x->m->in_reply_to, x->m->references};
	gint64 checked = 0;
	int r, same = 0;

	(void)out;
	if (!x->is_agent || x->src->sent_folder || x->from == NULL ||
	    x->tx.ticket <= 0 || x->tx.new_ticket ||
	    classify_is_machine(x->cr.cls))
		return INGEST_STEP_NEXT;
	for (size_t l = 0; l < ARRAY_SIZE(lists); l++)
		for (guint i = 0; lists[l] && i < lists[l]->len && i < 20;
		     i++) {
			const char *id = lists[l]->pdata[i];
			g_autofree char *rcpt = NULL;
			gint64 nt = thread_msgid_ticket(
			    cfg->tickets.secret, cfg->tickets.secret_len, id);
			if (nt != x->tx.ticket && nt > 0 && nt != checked) {
				checked = nt; /* once per ticket named */
				if ((same = ingest_merged_same(x, nt)) < 0)
					return same;
			}
			if (nt != x->tx.ticket && (nt <= 0 || !same))
				continue;
			if ((r = store_out_rcpt_by_msgid(x->st, id, &rcpt)) < 0)
				return r;
			if (r > 0 &&
			    g_ascii_strcasecmp(rcpt, x->from->addr) == 0) {
				x->relay = true;
				return INGEST_STEP_NEXT;
			}
		}
	return INGEST_STEP_NEXT;
}

/* ingest_blank - nothing but white space. */
static bool
ingest_blank(const char *s)
{
	for (; s && *s; s++)
		if (!g_ascii_isspace(*s))
			return false;
	return true;
}

/*
 * ingest_step_relay - a proven reply to a notice (not a #note) goes to
 * the requester from the support address: the agent's new text without
 * the quoted notice or the command block, threaded to the customer's
 * last mail, with a signed Message-ID so the customer's answer threads.
 */
static int
ingest_step_relay(struct ingest_ctx *x, struct ingest_outcome *out)
{
	const struct cfg *cfg = x->cfg;
	struct store_notice_info ni;
	g_autofree char *msgid = NULL, *label = NULL;
	g_autoptr(GBytes) wire = NULL;
	gint64 t = x->tx.ticket, mid = 0;
	int r;

	(void)out;
	if (!x->relay || x->cmds.note)
		return INGEST_STEP_NEXT;
	if ((r = store_notice_info(x->st, t, &ni)) < 0)
		return r;
	if (ni.requester == NULL || *ni.requester == '\0' ||
	    ingest_blank(x->m->text_new)) {
		store_notice_info_clear(&ni);
		return store_event_add(
		    x->st, t, ingest_actor(x), "relay-skipped",
		    "no requester or no new text", x->tx.msg);
	}
	msgid = thread_make_msgid(cfg->tickets.secret, cfg->tickets.secret_len,
	                          t, "reply", cfg->tickets.domain);
	{
		struct agentmail_relay rl = {
		    .ticket = t,
		    .agent_name =
		        x->responder ? x->responder->name : x->from->addr,
		    .to_addr = ni.requester,
		    .subject = ni.subject,
		    .text = x->m->text_new,
		    .in_reply_to = ni.last_msgid,
		    .message_id = msgid,
		    .now = x->now,
		};
		wire = agentmail_relay(cfg, &rl);
	}
	label = g_strdup_printf("reply by %s", ingest_actor(x));
	r = outbox_queue_handed(cfg, x->st, t, "relay", label, ni.requester,
	                        msgid, wire, x->now, NULL, false, x->src->hand,
	                        &mid);
	if (r == 0)
		r = store_event_add(x->st, t, ingest_actor(x), "relayed",
		                    ni.requester, mid);
	store_notice_info_clear(&ni);
	return r;
}

/* ingest_step_machine - an auto-reply or bounce that threads nowhere is
 * kept, but never becomes a ticket (RT makes every DSN a ticket). */
static int
ingest_step_machine(struct ingest_ctx *x, struct ingest_outcome *out)
{
	if (x->tx.ticket != 0 || !classify_is_machine(x->cr.cls) ||
	    ingest_machine_ticket(x))
		return INGEST_STEP_NEXT;
	return ingest_unattached(x, out, INGEST_UNATTACHED);
}

/* ingest_rules - whether the mail is one priority rules apply to
 * (customer mail, not old mail: its managers' notice would be about the
 * past), and if so which matched (x->tx.rules, read once). */
static bool
ingest_rules(struct ingest_ctx *x)
{
	if (x->history || x->is_agent || classify_is_machine(x->cr.cls) ||
	    ingest_too_old(x))
		return false;
	if (!x->tx.rules_read)
		escalate_rules_match(
		    x->cfg, x->from ? x->from->addr : NULL, x->m->subject,
		    x->m->text_new, mime_header(x->m, "Importance"),
		    mime_header(x->m, "X-Priority"), &x->tx.rules);
	x->tx.rules_read = true;
	return true;
}

/* ingest_step_new_ticket - a mail that threads nowhere opens a ticket. */
static int
ingest_step_new_ticket(struct ingest_ctx *x, struct ingest_outcome *out)
{
	struct ingest_tx *tx = &x->tx;
	const struct mime_addr *req = ingest_requester(x);
	struct store_new_ticket nt = {
	    .queue = x->cfg->tickets.queue,
	    .subject = *x->m->subject ? x->m->subject : "(no subject)",
	    .requester = req ? req->addr : "unknown",
	    .requester_name = req ? req->name : NULL,
	    .language = x->m->language,
	    .linked_ticket = tx->linked,
	    .at = x->history ? x->date : x->now,
	    .history = x->history,
	    /* closed now: tickets.reopen_days and retention_days count
	     * from the import, not from the old mail */
	    .closed_at = x->now,
	};
	g_autofree char *reason = NULL;
	int r;

	(void)out;
	if (tx->ticket != 0)
		return INGEST_STEP_NEXT;
	if (x->m->unparsed || req == NULL || x->oversized || x->suspect) {
		nt.needs_review = true;
		reason = g_strdup_printf(
		    "%s%s%s",
		    x->oversized     ? "mail over tickets.max_mail_size"
		    : x->m->unparsed ? "mail could not be parsed"
		    : req == NULL    ? "mail has no sender address"
		                     : "mail over tickd's bounds",
		    x->suspect ? ": " : "", x->suspect ? x->bounded : "");
		nt.review_reason = reason;
	}
	if (ingest_rules(x))
		nt.priority = escalate_born_priority(&x->tx.rules);
	if ((r = store_ticket_create(x->st, &nt, &tx->ticket, &tx->prev_lang)) <
	    0)
		return r;
	tx->new_ticket = true;
	tx->priority = nt.priority ? nt.priority : "normal";
	tx->requester = nt.requester;
	return INGEST_STEP_NEXT; /* its events follow its message */
}

/* ingest_born_events - a new ticket's first events, written once its
 * message row is (ingest_step_message), so that they name it from the
 * start: no store_event_attach UPDATE for a new ticket. */
static int
ingest_born_events(struct ingest_ctx *x)
{
	struct ingest_tx *tx = &x->tx;
	int r;

	/* (tx->requester: the address ingest_step_new_ticket chose, or
	 * "unknown") */
	r = store_event_add(
	    x->st, tx->ticket,
	    x->is_agent && x->from ? x->from->addr : tx->requester,
	    x->history ? "history" : "created", x->src->label, tx->msg);
	if (r == 0 && tx->linked)
		r = store_event_add(x->st, tx->ticket, "tickd", "linked",
		                    tx->how
		                        ? "follow-up to a ticket closed more "
		                          "than tickets.reopen_days ago"
		                        : "subject named a ticket the sender "
		                          "may not write into",
		                    tx->msg);
	return r;
}

/* ingest_step_message - the message row and its attachments, and what
 * bound_msg cut from the mail (one event). */
static int
ingest_step_message(struct ingest_ctx *x, struct ingest_outcome *out)
{
	int r;

	(void)out;
	if ((r = ingest_store_message(x, x->tx.ticket, &x->tx.msg)) < 0)
		return r;
	if (x->tx.new_ticket && (r = ingest_born_events(x)) < 0)
		return r;
	if (x->bounded != NULL)
		r = store_event_add(x->st, x->tx.ticket, "tickd", "bounded",
		                    x->bounded, x->tx.msg);
	return r;
}

/* ingest_step_assign - a new customer ticket to an agent of the queue
 * (tickets.auto_assign, assign.h), who then gets the assigned notice. */
static int
ingest_step_assign(struct ingest_ctx *x, struct ingest_outcome *out)
{
	const struct cfg_person *p = NULL;
	int r;

	(void)out;
	if (!x->tx.new_ticket || x->history || x->is_agent ||
	    classify_is_machine(x->cr.cls) ||
	    x->cfg->tickets.auto_assign == CFG_ASSIGN_OFF)
		return INGEST_STEP_NEXT;
	/* an agent's forward that says #assign: that is who gets it */
	for (guint i = 0; x->fwd && i < x->cmds.cmds->len; i++)
		if (((const struct command *)x->cmds.cmds->pdata[i])->kind ==
		    COMMAND_ASSIGN)
			return INGEST_STEP_NEXT;
	r = assign_new_ticket(x->cfg, x->st, x->tx.ticket, x->now, &p);
	if (r <= 0)
		return r;
	x->tx.assigned = p;
	return store_event_add(x->st, x->tx.ticket, "tickd", "assigned",
	                       p->address, x->tx.msg);
}

/* ingest_step_search - the message's full-text index row (one statement,
 * computed in SQL from the rows just written; store_search.h). */
static int
ingest_step_search(struct ingest_ctx *x, struct ingest_outcome *out)
{
	(void)out;
	return ingest_search_index(x, x->tx.msg, x->tx.ticket);
}

/* ingest_step_thanks - a thank-you on a resolved ticket: an event that
 * the report counts beside CSAT (see ingest_is_thanks). */
static int
ingest_step_thanks(struct ingest_ctx *x, struct ingest_outcome *out)
{
	(void)out;
	if (!x->tx.thanks)
		return INGEST_STEP_NEXT;
	return store_event_add(x->st, x->tx.ticket,
	                       x->from ? x->from->addr : "?", "thanks",
	                       "kept resolved", x->tx.msg);
}

/* ingest_step_participants - who is on the ticket (not for machines). */
static int
ingest_step_participants(struct ingest_ctx *x, struct ingest_outcome *out)
{
	(void)out;
	if (classify_is_machine(x->cr.cls))
		return INGEST_STEP_NEXT;
	return ingest_add_participants(x, x->tx.ticket, x->tx.new_ticket);
}

/* ingest_step_history - history (ingest_source.history_before) is a
 * record, not work: stored, threaded, on its participants, and nothing
 * more (no priority rule, suppression, acknowledgement, #command). */
static int
ingest_step_history(struct ingest_ctx *x, struct ingest_outcome *out)
{
	struct ingest_tx *tx = &x->tx;
	int r;

	if (!x->history)
		return INGEST_STEP_NEXT;
	out->kind = tx->new_ticket ? INGEST_NEW_TICKET : INGEST_FOLLOW_UP;
	out->ticket = tx->ticket;
	out->message = tx->msg;
	if ((r = store_event_attach(x->st, tx->ticket, tx->msg)) < 0)
		return r;
	return INGEST_STEP_DONE;
}

/* ingest_step_priority - priority rules (VIPs, "speak to your manager"):
 * a new ticket got its priority at birth (ingest_step_new_ticket). */
static int
ingest_step_priority(struct ingest_ctx *x, struct ingest_outcome *out)
{
	(void)out;
	if (!ingest_rules(x))
		return INGEST_STEP_NEXT;
	return escalate_on_mail(x->st, x->tx.ticket, x->tx.msg, &x->tx.rules,
	                        x->tx.new_ticket, &x->tx.priority);
}

/* ingest_step_bounce - see ingest_bounce. */
static int
ingest_step_bounce(struct ingest_ctx *x, struct ingest_outcome *out)
{
	(void)out;
	if (x->cr.cls != CLASSIFY_BOUNCE || !x->cr.bounce_recipient)
		return INGEST_STEP_NEXT;
	return ingest_bounce(x, x->tx.ticket, x->tx.msg);
}

/* ingest_step_complaint - see ingest_complaint. */
static int
ingest_step_complaint(struct ingest_ctx *x, struct ingest_outcome *out)
{
	(void)out;
	if (x->cr.cls != CLASSIFY_COMPLAINT)
		return INGEST_STEP_NEXT;
	return ingest_complaint(x, x->tx.ticket, x->tx.msg);
}

/* ingest_step_ack - a new ticket's acknowledgement. */
static int
ingest_step_ack(struct ingest_ctx *x, struct ingest_outcome *out)
{
	if (!x->tx.new_ticket)
		return INGEST_STEP_NEXT;
	return ingest_ack(x, x->tx.ticket, &out->acknowledged);
}

/* ingest_step_people - agents' commands, links, events (see
 * ingest_people_hook), and the outcome. */
static int
ingest_step_people(struct ingest_ctx *x, struct ingest_outcome *out)
{
	struct ingest_tx *tx = &x->tx;
	int r = ingest_people_hook(x, tx->ticket, tx->msg, tx->new_ticket,
	                           tx->linked);

	out->kind = tx->new_ticket ? INGEST_NEW_TICKET : INGEST_FOLLOW_UP;
	out->ticket = tx->ticket;
	out->message = tx->msg;
	return r;
}

/* ingest_step_responder - who answered the customer (an agent's reply,
 * not a note): see ingest_record_responder. */
static int
ingest_step_responder(struct ingest_ctx *x, struct ingest_outcome *out)
{
	(void)out;
	if (x->tx.ticket <= 0 || !x->is_agent || x->responder == NULL ||
	    classify_is_machine(x->cr.cls) || x->cmds.note ||
	    !ingest_to_customer(x))
		return INGEST_STEP_NEXT;
	return ingest_record_responder(x, x->tx.ticket, x->tx.msg);
}

/* ingest_notice - queue a notice about event on ticket t to person p
 * with text (the customer's new words).  Mail to people is never limited
 * or held (limit.h), so no limit is asked. */
static int
ingest_notice_note(struct ingest_ctx *x, gint64 t, const struct cfg_person *p,
                   const char *event, const struct store_notice_info *ni,
                   const char *text, const char *note)
{
	const struct cfg *cfg = x->cfg;
	g_autofree char *msgid =
	    thread_make_msgid(cfg->tickets.secret, cfg->tickets.secret_len, t,
	                      "notice", cfg->tickets.domain);
	g_autofree char *label =
	    g_strdup_printf("notice to %s: %s", p->address, event);
	struct agentmail_notice n = {
	    .ticket = t,
	    .event = event,
	    .to_addr = p->address,
	    .to_name = p->name,
	    .subject = ni->subject,
	    .status = ni->status,
	    .priority = ni->priority,
	    .customer = ni->requester,
	    .by =
	        strcmp(event, AGENTMAIL_ASSIGNED) == 0 ? ingest_actor(x) : NULL,
	    .note = note,
	    .text = text,
	    .message_id = msgid,
	    .now = x->now,
	};
	g_autoptr(GBytes) wire = agentmail_notice(cfg, &n);
	gint64 mid = 0;

	return outbox_queue_handed(cfg, x->st, t, "notice", label, p->address,
	                           msgid, wire, x->now, NULL, false,
	                           x->src->hand, &mid);
}

static int
ingest_notice(struct ingest_ctx *x, gint64 t, const struct cfg_person *p,
              const char *event, const struct store_notice_info *ni,
              const char *text)
{
	return ingest_notice_note(x, t, p, event, ni, text, NULL);
}

/*
 * ingest_step_notices - tell agents (people.*.notify, agentmail.h): the
 * person an #assign named (not who assigned themselves), with the
 * customer's newest text; the assignee when the customer wrote again,
 * with this mail's new text only (not after a thank-you that kept the
 * ticket resolved); whoever wants new tickets of this queue
 * (agentmail_covers).  Machine mail and rating replies tell nobody.
 */
/* ingest_notice_due - could ingest_step_notices tell anybody?  (What
 * the ticket's assignee wants is only known from the ticket: then any
 * person who wants customer replies makes it so.) */
static bool
ingest_notice_due(const struct ingest_ctx *x, const struct cfg_person *self,
                  bool customer)
{
	const struct cfg_person *p;

	if (x->tx.assigned && x->tx.assigned != self &&
	    agentmail_wants(x->tx.assigned, AGENTMAIL_ASSIGNED))
		return true;
	for (guint i = 0; customer && i < x->cfg->people->len; i++) {
		p = x->cfg->people->pdata[i];
		if (x->tx.new_ticket
		        ? agentmail_wants(p, AGENTMAIL_NEW_TICKET) &&
		              agentmail_covers(p, x->cfg->tickets.queue)
		        : !x->tx.thanks &&
		              agentmail_wants(p, AGENTMAIL_CUSTOMER_REPLY))
			return true;
	}
	return false;
}

static int
ingest_step_notices(struct ingest_ctx *x, struct ingest_outcome *out)
{
	const struct cfg_person *p, *self = NULL;
	struct store_notice_info ni;
	gint64 t = x->tx.ticket;
	bool customer = strcmp(ingest_role(x), "customer") == 0;
	int r = 0;

	(void)out;
	if (t <= 0 || classify_is_machine(x->cr.cls) || x->rating ||
	    x->m->unparsed)
		return INGEST_STEP_NEXT;
	if ((x->is_agent || x->fwd) && x->from) /* a forward: its agent */
		self = x->responder ? x->responder
		                    : cfg_person(x->cfg, ingest_actor(x));
	if (!(x->tx.assigned && x->tx.assigned != self) && !customer)
		return INGEST_STEP_NEXT;
	if (!ingest_notice_due(x, self, customer))
		return INGEST_STEP_NEXT; /* (nobody to tell: no round trip) */
	if ((r = store_notice_info(x->st, t, &ni)) < 0)
		return r;
	if (x->tx.assigned && x->tx.assigned != self &&
	    agentmail_wants(x->tx.assigned, AGENTMAIL_ASSIGNED))
		r = ingest_notice(x, t, x->tx.assigned, AGENTMAIL_ASSIGNED, &ni,
		                  ni.last_text);
	/* a thank-you left the ticket resolved: nobody is asked to act */
	if (r == 0 && customer && !x->tx.new_ticket && !x->tx.thanks &&
	    (p = cfg_person(x->cfg, ni.assignee)) != NULL &&
	    agentmail_wants(p, AGENTMAIL_CUSTOMER_REPLY))
		r = ingest_notice(x, t, p, AGENTMAIL_CUSTOMER_REPLY, &ni,
		                  x->m->text_new);
	for (guint i = 0;
	     r == 0 && customer && x->tx.new_ticket && i < x->cfg->people->len;
	     i++) {
		p = x->cfg->people->pdata[i];
		if (agentmail_wants(p, AGENTMAIL_NEW_TICKET) &&
		    agentmail_covers(p, x->cfg->tickets.queue))
			r = ingest_notice(x, t, p, AGENTMAIL_NEW_TICKET, &ni,
			                  x->m->text_new);
	}
	store_notice_info_clear(&ni);
	return r;
}

/*
 * ingest_step_confirm - answer a proven agent's commands (agents.confirm:
 * "errors", the default, only when one was not done; "all" always;
 * "none" never): one short mail to the person, never to the shared
 * support address.  Anyone else's commands are only recorded
 * (ingest_commands_ignored): tickd answers no stranger.
 */
static int
ingest_step_confirm(struct ingest_ctx *x, struct ingest_outcome *out)
{
	const struct cfg *cfg = x->cfg;
	const struct cfg_person *p = x->responder;
	const struct ingest_tx *tx = &x->tx;
	g_autofree char *msgid = NULL, *label = NULL;
	g_autoptr(GBytes) wire = NULL;
	gint64 mid = 0;
	struct agentmail_confirm c = {0};

	(void)out;
	if (tx->ticket <= 0 || !x->is_agent || p == NULL ||
	    classify_is_machine(x->cr.cls) ||
	    cfg->agents.confirm == CFG_CONFIRM_NONE ||
	    (tx->cmd_failed[0] == '\0' &&
	     (cfg->agents.confirm != CFG_CONFIRM_ALL ||
	      tx->cmd_done[0] == '\0')))
		return INGEST_STEP_NEXT;
	msgid = thread_make_msgid(cfg->tickets.secret, cfg->tickets.secret_len,
	                          tx->ticket, "confirm", cfg->tickets.domain);
	c.ticket = tx->ticket;
	c.to_addr = p->address;
	c.to_name = p->name;
	c.subject = x->m->subject;
	c.failed = tx->cmd_failed;
	c.done = tx->cmd_done;
	c.in_reply_to = x->m->message_id;
	c.message_id = msgid;
	c.now = x->now;
	wire = agentmail_confirm(cfg, &c);
	label = g_strdup_printf("answer to %s's commands", p->address);
	return outbox_queue_handed(cfg, x->st, tx->ticket, "confirm", label,
	                           p->address, msgid, wire, x->now, NULL, false,
	                           x->src->hand, &mid);
}

/*
 * ingest_step_collision - two people answered the same customer mail
 * within agents.collision_window: an event, and a notice to both saying
 * who holds the ticket (#assign me before answering is the claim).
 */
static int
ingest_step_collision(struct ingest_ctx *x, struct ingest_outcome *out)
{
	const struct cfg *cfg = x->cfg;
	const struct cfg_person *me = x->responder, *two[2];
	g_autofree char *other = NULL, *d = NULL, *claim = NULL;
	struct store_notice_info ni;
	gint64 t = x->tx.ticket;
	int r;

	(void)out;
	if (t <= 0 || !x->is_agent || me == NULL ||
	    cfg->agents.collision_window <= 0 ||
	    classify_is_machine(x->cr.cls) || x->cmds.note ||
	    !ingest_to_customer(x))
		return INGEST_STEP_NEXT;
	r = store_collision(x->st, t, x->tx.msg, me->address,
	                    x->now - cfg->agents.collision_window, &other);
	if (r <= 0)
		return r;
	d = g_strdup_printf("%s and %s answered the same customer mail", other,
	                    me->address);
	if ((r = store_event_add(x->st, t, ingest_actor(x), "collision", d,
	                         x->tx.msg)) < 0)
		return r;
	if ((r = store_notice_info(x->st, t, &ni)) < 0)
		return r;
	claim = g_strdup_printf("%s.\nClaimed by: %s (\"#assign me\" before "
	                        "answering claims a ticket)",
	                        d, ni.assignee ? ni.assignee : "nobody");
	two[0] = cfg_person(cfg, other);
	two[1] = me;
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(two); i++) {
		if (two[i] == NULL)
			continue;
		r = ingest_notice_note(x, t, two[i], AGENTMAIL_COLLISION, &ni,
		                       ni.last_text, claim);
	}
	store_notice_info_clear(&ni);
	return r;
}

/* ---- an agent's forward of a customer's mail (forward.h) ---- */

/* ingest_replies_to_us - In-Reply-To names a mail tickd signed: a reply
 * in a ticket's thread (to a notice, say), not a forward of new mail. */
static bool
ingest_replies_to_us(const struct ingest_ctx *x)
{
	for (guint i = 0; i < x->m->in_reply_to->len; i++)
		if (thread_msgid_ticket(x->cfg->tickets.secret,
		                        x->cfg->tickets.secret_len,
		                        x->m->in_reply_to->pdata[i]) > 0)
			return true;
	return false;
}

/* ingest_has_command - a command of kind k is in the mail's block. */
static bool
ingest_has_command(const struct ingest_ctx *x, enum command_kind k)
{
	for (guint i = 0; i < x->cmds.cmds->len; i++)
		if (((const struct command *)x->cmds.cmds->pdata[i])->kind == k)
			return true;
	return false;
}

/* ingest_fwd_requester - whose mail the forward is: #requester, else the
 * address forward.c read; never the support address or one of the team
 * (g_free), else NULL and *why_r. */
static char *
ingest_fwd_requester(struct ingest_ctx *x, struct ingest_fwd *w,
                     const char **why_r)
{
	char *addr = NULL;

	for (guint i = 0; i < x->cmds.cmds->len; i++) {
		const struct command *c = x->cmds.cmds->pdata[i];
		if (c->kind == COMMAND_REQUESTER && addr == NULL) {
			w->by_command = true;
			if ((addr = forward_addr(c->arg, NULL)) == NULL) {
				*why_r = "#requester: not a mail address";
				return NULL;
			}
		}
	}
	if (addr == NULL && w->f.addr != NULL)
		addr = g_strdup(w->f.addr);
	if (addr == NULL)
		*why_r = "no sender address in the forwarded mail; write "
		         "#requester ADDRESS at the top";
	else if (!bound_addr_ok(addr) || ingest_is_own(x->cfg, addr) ||
	         ingest_is_other_queue(x->cfg, addr) ||
	         cfg_person(x->cfg, addr) != NULL)
		*why_r = "the forwarded mail is from a support address or "
		         "from one of the team; write #requester ADDRESS";
	else
		return addr;
	g_free(addr);
	return NULL;
}

/*
 * ingest_forward - a proven agent's mail (INBOX or import: the From is
 * authenticated, ingest_is_agent) to the support address and nobody
 * outside, not a reply in a ticket's thread, holding a forwarded mail
 * (inline block or message/rfc822): from here on it is that customer's
 * mail (sender, name, subject, date, text); the agent's words above the
 * forward become an internal note (ingest_step_forward).  Anyone else's
 * forward is an ordinary mail of its sender: a stranger cannot open a
 * ticket in someone else's name.
 */
static void
ingest_forward(struct ingest_ctx *x)
{
	struct mime_limits lim = {
	    .extra_charsets =
	        (const char *const *)x->cfg->mime_fallback_charsets,
	};
	struct mime_msg *m = x->m;
	struct ingest_fwd *w;
	char *addr;

	if (!x->is_agent || x->src->sent_folder || x->from == NULL ||
	    m->unparsed || x->oversized || classify_is_machine(x->cr.cls) ||
	    x->cmds.question || ingest_to_customer(x) ||
	    ingest_replies_to_us(x))
		return;
	w = g_new0(struct ingest_fwd, 1);
	/* Outlook quotes a reply the way it forwards: a reply to colleagues
	 * that quotes the customer is no forward, unless the subject (FW:,
	 * WG:) or a #requester says so */
	if (!forward_parse_msg(m, &lim, &w->f) ||
	    (w->f.reply_like && !forward_subject_prefixed(m->subject) &&
	     !ingest_has_command(x, COMMAND_REQUESTER)) ||
	    (addr = ingest_fwd_requester(x, w, &x->fwd_why)) == NULL) {
		forward_clear(&w->f);
		g_free(w);
		return;
	}
	w->customer.addr = addr;
	if (w->f.addr && strcmp(w->f.addr, addr) == 0)
		w->customer.name = g_steal_pointer(&w->f.name);
	w->agent = x->from;
	g_free(m->subject);
	m->subject = g_steal_pointer(&w->f.subject);
	g_free(m->text);
	m->text = g_steal_pointer(&w->f.text);
	g_free(m->text_new);
	m->text_new = mime_quote_split(m->text);
	/* the HTML is the agent's forward, not the customer's mail */
	g_clear_pointer(&m->html, g_free);
	if (w->f.date > 0 && w->f.date <= x->now)
		m->date = w->f.date;
	if (w->f.language) {
		g_free(m->language);
		m->language = g_steal_pointer(&w->f.language);
	}
	/* an attached mail's own id: the acknowledgement threads to it in
	 * the customer's client, and a second forward of it (or the
	 * customer's answer to it) threads to this ticket; the dedupe key
	 * stays the forward's */
	if (w->f.message_id) {
		g_free(m->message_id);
		m->message_id = g_steal_pointer(&w->f.message_id);
	}
	x->from = &w->customer;
	x->is_agent = false;
	x->fwd = w;
}

/* ingest_fwd_free - what ingest_forward allocated. */
static void
ingest_fwd_free(struct ingest_fwd **w)
{
	if (*w == NULL)
		return;
	forward_clear(&(*w)->f);
	g_free((*w)->customer.addr);
	g_free((*w)->customer.name);
	g_clear_pointer(w, g_free);
}

/*
 * ingest_step_forward - a forward's ticket records who forwarded it
 * (event "forwarded", the agent a participant) and the agent's words
 * (event "note", as tickctl note writes it).  A forward block that named
 * nobody usable is an event on the agent's own mail.
 */
static int
ingest_step_forward(struct ingest_ctx *x, struct ingest_outcome *out)
{
	const struct ingest_fwd *w = x->fwd;
	gint64 t = x->tx.ticket, msg = x->tx.msg;
	g_autofree char *d = NULL;
	char when[32] = "";
	int r;

	(void)out;
	if (w == NULL)
		return x->fwd_why == NULL || t <= 0
		           ? INGEST_STEP_NEXT
		           : store_event_add(x->st, t, ingest_actor(x),
		                             "forward-unresolved", x->fwd_why,
		                             msg);
	if (w->f.date > 0) {
		g_autoptr(GDateTime) dt =
		    g_date_time_new_from_unix_utc(x->m->date);
		g_autofree char *s =
		    dt ? g_date_time_format(dt, "%Y-%m-%d %H:%M UTC") : NULL;
		if (s)
			g_snprintf(when, sizeof(when), ", written %s", s);
	}
	d = g_strdup_printf(
	    "forward of %s's mail (%s, %s)%s%s%s", w->customer.addr,
	    w->f.kind == FORWARD_ATTACHED ? "message/rfc822" : "inline",
	    w->f.style, when,
	    w->by_command ? ", requester named by #requester" : "",
	    x->cfg->tickets.forward_acknowledge
	        ? ""
	        : "; not acknowledged (tickets.forward_acknowledge)");
	r = store_event_add(x->st, t, w->agent->addr, "forwarded", d, msg);
	if (r == 0)
		r = store_participant_add(x->st, t, w->agent->addr,
		                          w->agent->name, "agent");
	if (r == 0 && *w->f.note != '\0')
		r = store_event_add(x->st, t, w->agent->addr, "note", w->f.note,
		                    msg);
	return r;
}

typedef int ingest_step_fn(struct ingest_ctx *x, struct ingest_outcome *out);

static ingest_step_fn *const ingest_steps[] = {
    ingest_step_dedupe,       /* seen before: only the cursor moves */
    ingest_step_own,          /* our own mail back: kept raw */
    ingest_step_rating,       /* a CSAT rating reply */
    ingest_step_action,       /* a manager's signed action link */
    ingest_step_question,     /* #show/#search/#list: kept, answered */
    ingest_step_thread,       /* which ticket, follow-up status */
    ingest_step_relay_proof,  /* a proven reply to an agent's notice */
    ingest_step_machine,      /* machine mail threading nowhere: kept */
    ingest_step_new_ticket,   /* or a new ticket */
    ingest_step_message,      /* the message row, attachments */
    ingest_step_forward,      /* a forward: forwarder and note */
    ingest_step_assign,       /* a new ticket's agent (auto_assign) */
    ingest_step_thanks,       /* a thank-you: recorded, not reopened */
    ingest_step_search,       /* its full-text index row */
    ingest_step_participants, /* who is on the ticket */
    ingest_step_history,      /* history: nothing more */
    ingest_step_priority,     /* priority rules, immediate escalation */
    ingest_step_bounce,       /* a proven bounce suppresses its rcpt */
    ingest_step_complaint,    /* so does a complaint about our mail */
    ingest_step_ack,          /* a new ticket's acknowledgement */
    ingest_step_people,       /* agents' commands, links, events */
    ingest_step_responder,    /* who answered the customer */
    ingest_step_collision,    /* and whether someone else did too */
    ingest_step_notices,      /* notices to agents (agentmail.h) */
    ingest_step_relay,        /* which goes on to the customer */
    ingest_step_confirm,      /* answers to an agent's commands */
};

/*
 * ingest_cursor_commit - the mail's last write: the IMAP cursor past it
 * (imported mail has none; a fetch batch moves it once, batch_cursor),
 * then the end of its transaction or savepoint.
 * 0 or -E; the caller rolls back.
 */
static int
ingest_cursor_commit(struct ingest_ctx *x)
{
	int r;

	if (x->src->mailbox != NULL && !x->src->batch_cursor &&
	    (r = store_cursor_set(x->st, x->src->mailbox, x->src->uidvalidity,
	                          x->src->uid)) < 0)
		return r;
	return store_mail_commit(x->st);
}

/*
 * ingest_tx - one mail's database work: a transaction of its own, or
 * inside a fetch batch a savepoint (store_mail_begin); the steps, then the
 * IMAP cursor, which moves on for every mail, handled or not.
 */
static int
ingest_tx(struct ingest_ctx *x, struct ingest_outcome *out)
{
	int r = 0;

	memset(out, 0, sizeof(*out));
	g_free(x->tx.prev_lang);
	store_ticket_clear(&x->tx.pre);
	memset(&x->tx, 0, sizeof(x->tx));
	if ((r = store_mail_begin(x->st)) < 0)
		return r;
	for (size_t i = 0; i < ARRAY_SIZE(ingest_steps); i++)
		if ((r = ingest_steps[i](x, out)) != INGEST_STEP_NEXT)
			break;
	if (r < 0)
		goto fail;
	if ((r = ingest_cursor_commit(x)) < 0)
		goto fail;
	return 0;
fail:
	store_mail_rollback(x->st);
	return r;
}

/* ingest_bound_report - what a bounce or report names comes from the
 * mail's body, past bound_msg: the same bounds (an over-long recipient
 * suppresses nobody; an over-long id is looked up in its hashed form). */
static void
ingest_bound_report(struct ingest_ctx *x)
{
	bool hashed;
	char *id;

	if (x->cr.bounce_recipient != NULL &&
	    !bound_addr_ok(x->cr.bounce_recipient))
		g_clear_pointer(&x->cr.bounce_recipient, g_free);
	bound_utf8(x->cr.bounce_status, 32);
	id = bound_msgid(x->cr.original_message_id, &hashed);
	if (hashed) {
		g_free(x->cr.original_message_id);
		x->cr.original_message_id = id;
	}
}

/*
 * ingest_quarantine - ingest_tx failed with err for a reason a retry will
 * not cure: keep the raw bytes and the error for review and move the
 * cursor past the mail, in one transaction (in a batch: this mail's
 * savepoint), so the mails behind it go on.  0 (out says so), or -E when
 * even that failed (then the mailbox stops and tickctl status says why).
 */
static int
ingest_quarantine(struct ingest_ctx *x, int err, struct ingest_outcome *out)
{
	g_autofree char *why = g_utf8_make_valid(store_error(x->st), -1);
	struct store_quarantine q = {
	    .mailbox = x->src->mailbox,
	    .source = x->src->label,
	    .uidvalidity = x->src->uidvalidity,
	    .uid = x->src->uid,
	    .error = why,
	    .raw = x->raw,
	    .raw_len = x->len,
	    .received = x->now,
	};
	int r;

	/* the error may quote the mail's values: a line, not a kilobyte */
	g_strdelimit(why, "\r\n\t", ' ');
	bound_utf8(why, sizeof(out->error) - 1);
	if (*why == '\0') {
		g_free(why);
		why = g_strdup(g_strerror(-err));
	}
	q.error = why;
	memset(out, 0, sizeof(*out));
	if ((r = store_mail_begin(x->st)) < 0)
		return r;
	if ((r = store_quarantine_add(x->st, &q)) < 0)
		goto fail;
	if ((r = ingest_cursor_commit(x)) < 0)
		goto fail;
	out->kind = INGEST_QUARANTINED;
	g_strlcpy(out->error, why, sizeof(out->error));
	/* said now (the store error is in the log above); the summary line
	 * follows once it is committed */
	log_warning("ingest: %s uid %" G_GINT64_FORMAT " is quarantined "
	            "(%zu bytes kept for review; tickctl quarantine)",
	            x->src->label, x->src->uid, x->len);
	return 0;
fail:
	store_mail_rollback(x->st);
	log_err("ingest: %s uid %" G_GINT64_FORMAT " could not be quarantined "
	        "either: %s",
	        x->src->label, x->src->uid, store_error(x->st));
	return r;
}

/* ingest_parse - parse, or for an oversized mail only its header block. */
static void
ingest_parse(struct ingest_ctx *x)
{
	size_t n = x->len;

	if ((gint64)x->len > x->cfg->tickets.max_mail_size) {
		const char *p = x->raw;
		size_t scan = MIN(x->len, (size_t)INGEST_HEADER_SCAN);
		x->oversized = true;
		n = scan;
		for (size_t i = 0; i + 1 < scan; i++)
			if (p[i] == '\n' &&
			    (p[i + 1] == '\n' ||
			     (p[i + 1] == '\r' && i + 2 < scan &&
			      p[i + 2] == '\n'))) {
				n = i + 1;
				break;
			}
	}
	{
		struct mime_limits lim = {
		    .extra_charsets =
		        (const char *const *)x->cfg->mime_fallback_charsets,
		};

		x->m = mime_parse(x->raw, n, &lim);
	}
	if (x->oversized) {
		g_free(x->m->text);
		x->m->text = g_strdup_printf(
		    "[tickd: this mail is %zu bytes, over the limit of "
		    "%" G_GINT64_FORMAT
		    " (tickets.max_mail_size); its body and attachments "
		    "were not parsed. The raw mail is kept.]",
		    x->len, x->cfg->tickets.max_mail_size);
		g_free(x->m->text_new);
		x->m->text_new = g_strdup(x->m->text);
		g_ptr_array_add(x->m->defects, g_strdup("oversized"));
	}
}

/*
 * ingest_is_agent - does this mail act as an agent's?  The shared
 * mailbox's Sent folder: yes (only its users can write there).  Other
 * mail from a configured person's address: only when its From is proven,
 * since a From header is free to forge; by default that proof is an
 * aligned pass in the Authentication-Results our own MTA (agents.
 * authserv_id) added (authres.c).  A signed reference proves nothing
 * about the sender (customers receive those Message-IDs), so threading
 * never makes a mail an agent's.  A forged or unproven agent From is
 * handled as a customer's mail; its commands are recorded as ignored.
 */
static bool
ingest_is_agent(struct ingest_ctx *x)
{
	const struct cfg *cfg = x->cfg;
	g_autoptr(GPtrArray) ar = NULL;
	char q[96];

	if (x->src->sent_folder)
		return true;
	if (x->from == NULL || cfg_person(cfg, x->from->addr) == NULL)
		return false;
	if (cfg->agents.trust_from == CFG_TRUST_HEADER)
		return true;
	if (x->m->from->len != 1) {
		/* DMARC and our alignment check speak of one From domain */
		g_strlcpy(x->agent_why, "several From addresses",
		          sizeof(x->agent_why));
	} else {
		/* the raw header, never GMime's decoded values: only the
		 * topmost fields, as our own MTA wrote them, prove anything */
		ar = g_ptr_array_new_with_free_func(g_free);
		authres_raw_fields(x->raw, x->len,
		                   (size_t)cfg->agents.authres_fields, ar);
		if (authres_verify((const char *const *)ar->pdata, ar->len,
		                   cfg->agents.authserv_id, x->from->addr,
		                   x->agent_why, sizeof(x->agent_why)))
			return true;
	}
	x->agent_unauth = true;
	log_notice("ingest: %s uid %" G_GINT64_FORMAT " from agent '%s' "
	           "not authenticated (%s): handled as a customer's mail",
	           x->src->label, x->src->uid,
	           log_quote(x->from->addr, q, sizeof(q)), x->agent_why);
	return false;
}

int
ingest_mail(const struct cfg *cfg, struct store *st, const void *raw,
            size_t len, const struct ingest_source *src, gint64 now,
            struct ingest_outcome *out)
{
	struct ingest_ctx x = {.cfg = cfg,
	                       .st = st,
	                       .src = src,
	                       .raw = raw,
	                       .len = len,
	                       .now = now};
	const char *own[] = {cfg->smtp.from, NULL};
	struct classify_opts co = {
	    .own_domain = cfg->tickets.domain,
	    .loop_header = COMPOSE_LOOP_HEADER,
	    .loop_value = cfg->tickets.domain,
	    .own_addresses = own,
	};
	char q[96];
	int r;

	ingest_parse(&x);
	/* before anything reads the mail's values: nothing over its bound
	 * reaches an index, a key, a loop or a log line */
	x.bounded = bound_msg(x.m, &x.suspect);
	classify_msg(x.m, &co, &x.cr);
	ingest_bound_report(&x);
	x.from = mime_first_from(x.m);
	/* a Date in the future (a wrong clock, a forgery) counts as now */
	x.date = x.m->date > 0 && x.m->date < now ? x.m->date : now;
	x.history = src->history_before != 0 && x.date < src->history_before;
	x.is_agent = ingest_is_agent(&x);
	x.responder = ingest_responder(&x);
	ingest_commands(&x);
	x.dedupe_key = bound_dedupe_key(x.m->message_id, raw, len);
	ingest_forward(&x);
	if (x.bounded != NULL)
		log_notice("ingest: %s uid %" G_GINT64_FORMAT " cut to tickd's "
		           "bounds%s: %s",
		           src->label, src->uid,
		           x.suspect ? " (kept for review)" : "", x.bounded);

	r = ingest_tx(&x, out);
	if (r == -EEXIST) /* another instance stored it first: now a dup */
		r = ingest_tx(&x, out);
	/* (-ESTALE: the mail before it failed as it was committed,
	 * store_mail_fate: not this mail's fault) */
	if (r < 0 && r != -ESTALE && !err_is_transient(r))
		r = ingest_quarantine(&x, r, out);
	out->cls = classify_name(x.cr.cls);
	out->history = x.history;
	out->machine = classify_is_machine(x.cr.cls);
	if (r == 0) {
		g_snprintf(out->summary, sizeof(out->summary),
		           "%s uid %" G_GINT64_FORMAT
		           " '%s': %s %" G_GINT64_FORMAT " (%s)%s%s%s%s",
		           src->label, src->uid,
		           log_quote(x.m->message_id, q, sizeof(q)),
		           ingest_kind_name(out->kind), out->ticket,
		           classify_name(x.cr.cls),
		           out->acknowledged ? ", acknowledged" : "",
		           x.history ? ", history" : "",
		           out->kind == INGEST_QUARANTINED ? ": " : "",
		           out->kind == INGEST_QUARANTINED ? out->error : "");
		if (!store_in_batch(
		        st)) /* else the batch's owner, after COMMIT */
			ingest_log(out->summary);
	}
	if (r == 0 && out->kind == INGEST_DROPPED)
		log_notice("ingest: dropped our own mail '%s' (%s)", q,
		           x.cr.reason);
	g_free(x.tx.prev_lang);
	store_ticket_clear(&x.tx.pre);
	classify_result_clear(&x.cr);
	command_list_clear(&x.cmds);
	ingest_fwd_free(&x.fwd);
	mime_msg_free(&x.m);
	g_free(x.dedupe_key);
	g_free(x.bounded);
	return r;
}
