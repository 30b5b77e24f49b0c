/*
 * agentmail.c - notices to agents.  See agentmail.h.
 */
#include "agentmail.h"

#include "compose.h"
#include "mime.h"
#include "thread.h"

#include <string.h>

/* What a notice shows of the customer's text at most (bytes): a notice
 * is a pointer to the ticket, not a copy of a 25 MB mail. */
#define AGENTMAIL_TEXT_MAX (16 * 1024)

bool
agentmail_wants(const struct cfg_person *p, const char *event)
{
	if (p == NULL)
		return false;
	if (p->notify == NULL)
		return strcmp(event, AGENTMAIL_ASSIGNED) == 0 ||
		       strcmp(event, AGENTMAIL_CUSTOMER_REPLY) == 0;
	for (char **e = p->notify; *e; e++)
		if (g_ascii_strcasecmp(*e, event) == 0)
			return true;
	return false;
}

bool
agentmail_covers(const struct cfg_person *p, const char *queue)
{
	if (p == NULL || queue == NULL)
		return false;
	if (p->queues != NULL && p->queues[0] != NULL)
		return g_strv_contains((const char *const *)p->queues, queue);
	if (p->team != NULL && *p->team != '\0')
		return strcmp(p->team, queue) == 0;
	return true;
}

GBytes *
agentmail_notice(const struct cfg *cfg, const struct agentmail_notice *n)
{
	g_autofree char *tag = compose_tag(cfg, n->ticket);
	g_autofree char *stripped = thread_strip_subject(
	    n->subject ? n->subject : "", cfg->tickets.subject_tag);
	g_autofree char *subject = NULL, *text = NULL;
	const char *what;
	struct compose_auto hdrs;
	struct mime_out o = {0};
	GString *b = g_string_new(NULL);
	GBytes *wire;

	if (n->what != NULL)
		what = n->what;
	else if (strcmp(n->event, AGENTMAIL_ASSIGNED) == 0)
		what = "assigned to you";
	else if (strcmp(n->event, AGENTMAIL_CUSTOMER_REPLY) == 0)
		what = "the customer wrote again";
	else if (strcmp(n->event, AGENTMAIL_COLLISION) == 0)
		what = "two agents answered";
	else
		what = "new ticket";
	subject = g_strdup_printf("%s %s (%s)", tag,
	                          *stripped ? stripped : "(no subject)", what);
	text = g_utf8_make_valid(n->text ? n->text : "", -1);
	if (strlen(text) > AGENTMAIL_TEXT_MAX) {
		const char *end =
		    g_utf8_find_prev_char(text, text + AGENTMAIL_TEXT_MAX + 1);
		text[end ? end - text : AGENTMAIL_TEXT_MAX] = '\0';
	}
	g_string_append_printf(b, "Ticket #%" G_GINT64_FORMAT ": %s\n",
	                       n->ticket, what);
	if (n->by && *n->by)
		g_string_append_printf(b, "Assigned by: %s\n", n->by);
	if (n->note && *n->note)
		g_string_append_printf(b, "%s\n", n->note);
	g_string_append_printf(b, "Customer: %s\nStatus: %s, priority %s\n\n",
	                       n->customer ? n->customer : "-",
	                       n->status ? n->status : "-",
	                       n->priority ? n->priority : "-");
	g_string_append(b, text);
	if (b->len && b->str[b->len - 1] != '\n')
		g_string_append_c(b, '\n');
	g_string_append_printf(b,
	                       "\n-- \n%s\nThis is an automatic notice "
	                       "about ticket #%" G_GINT64_FORMAT ".\n",
	                       cfg->smtp.from_name, n->ticket);

	o.from_name = cfg->smtp.from_name;
	o.from_addr = cfg->smtp.from;
	o.to_name = n->to_name;
	o.to_addr = n->to_addr;
	o.subject = subject;
	o.text = b->str;
	o.message_id = n->message_id;
	o.extra = compose_auto_headers(cfg, "auto-generated", NULL, &hdrs);
	o.date = n->now;
	wire = mime_build(&o);
	g_string_free(b, TRUE);
	return wire;
}

char *
agentmail_relay_name(const struct cfg *cfg, const char *agent_name)
{
	GString *s = g_string_new(cfg->agents.relay_from_name
	                              ? cfg->agents.relay_from_name
	                              : "{agent} via {support}");

	g_string_replace(s, "{agent}", agent_name ? agent_name : "", 0);
	g_string_replace(s, "{support}", cfg->smtp.from_name, 0);
	return g_string_free(s, FALSE);
}

GBytes *
agentmail_relay(const struct cfg *cfg, const struct agentmail_relay *r)
{
	g_autofree char *tag = compose_tag(cfg, r->ticket);
	g_autofree char *stripped = thread_strip_subject(
	    r->subject ? r->subject : "", cfg->tickets.subject_tag);
	g_autofree char *subject = g_strdup_printf("Re: %s %s", tag, stripped);
	g_autofree char *name = agentmail_relay_name(cfg, r->agent_name);
	g_autofree char *text = g_utf8_make_valid(r->text ? r->text : "", -1);
	struct mime_out o = {0};

	o.from_name = name;
	o.from_addr = cfg->smtp.from;
	o.to_addr = r->to_addr;
	o.subject = subject;
	o.text = text;
	o.message_id = r->message_id;
	o.in_reply_to = r->in_reply_to;
	o.references = r->in_reply_to;
	o.date = r->now;
	return mime_build(&o);
}

GBytes *
agentmail_confirm(const struct cfg *cfg, const struct agentmail_confirm *c)
{
	g_autofree char *tag = compose_tag(cfg, c->ticket);
	g_autofree char *stripped = thread_strip_subject(
	    c->subject ? c->subject : "", cfg->tickets.subject_tag);
	g_autofree char *subject = g_strdup_printf(
	    "%s %s: %s", tag, *c->failed ? "command not done" : "commands done",
	    *stripped ? stripped : "(no subject)");
	struct compose_auto hdrs;
	struct mime_out o = {0};
	GString *b = g_string_new(NULL);
	GBytes *wire;

	if (*c->failed)
		g_string_append_printf(
		    b, "Not done on ticket #%" G_GINT64_FORMAT ":\n\n%s\n",
		    c->ticket, c->failed);
	if (*c->done)
		g_string_append_printf(b, "Done:\n\n%s\n", c->done);
	g_string_append_printf(b,
	                       "-- \n%s\nCommands: #status, #priority, "
	                       "#assign, #note at the top of the mail.\n",
	                       cfg->smtp.from_name);
	o.from_name = cfg->smtp.from_name;
	o.from_addr = cfg->smtp.from;
	o.to_name = c->to_name;
	o.to_addr = c->to_addr;
	o.subject = subject;
	o.text = b->str;
	o.message_id = c->message_id;
	o.in_reply_to = c->in_reply_to;
	o.references = c->in_reply_to;
	o.extra = compose_auto_headers(cfg, "auto-replied", NULL, &hdrs);
	o.date = c->now;
	wire = mime_build(&o);
	g_string_free(b, TRUE);
	return wire;
}
