/*
 * compose.c - automatic mails.  See compose.h.
 */
#include "compose.h"

#include "mime.h"
#include "thread.h"

#include <string.h>

char *
compose_tag(const struct cfg *cfg, gint64 ticket)
{
	return g_strdup_printf("[%s #%" G_GINT64_FORMAT "]",
			       cfg->tickets.subject_tag, ticket);
}

char *
compose_bounce_address(const struct cfg *cfg, gint64 ticket)
{
	const char *at = strchr(cfg->smtp.from, '@');

	if (at == NULL || at == cfg->smtp.from)
		return g_strdup("");
	/* VERP rather than <>: a bounce of an acknowledgement must reach us
	 * so that the address can be marked undeliverable (RFC 3834 5.1
	 * allows it; a null sender would make the MTA discard the bounce). */
	return g_strdup_printf("%.*s+bounce-%" G_GINT64_FORMAT "%s",
			       (int)(at - cfg->smtp.from), cfg->smtp.from,
			       ticket, at);
}

GBytes *
compose_ack(const struct cfg *cfg, const struct compose_ack *a)
{
	g_autofree char *tag = compose_tag(cfg, a->ticket);
	g_autofree char *stripped = thread_strip_subject(
		a->subject, cfg->tickets.subject_tag);
	g_autofree char *subject = NULL;
	g_autofree char *text = NULL;
	const char *extra[] = {"Auto-Submitted",
			       "auto-replied",
			       "Precedence",
			       "bulk",
			       "X-Auto-Response-Suppress",
			       "All",
			       COMPOSE_LOOP_HEADER,
			       cfg->tickets.domain,
			       NULL};
	struct mime_out o = {0};

	subject = g_strdup_printf("%s Re: %s", tag,
				  *stripped ? stripped : "(no subject)");
	text = g_strdup_printf(
		"Hello%s%s,\n\n"
		"thank you for writing to us. We have received your message "
		"and\nopened ticket #%" G_GINT64_FORMAT " for it. An agent will "
		"answer you soon.\n\n"
		"To add anything, simply reply to this mail and keep %s in "
		"the\nsubject line.\n\n"
		"Your message: %s\n\n"
		"-- \n%s\n"
		"This is an automatic reply.\n",
		a->to_name && *a->to_name ? " " : "",
		a->to_name && *a->to_name ? a->to_name : "", a->ticket, tag,
		*stripped ? stripped : "(no subject)", cfg->smtp.from_name);
	o.from_name = cfg->smtp.from_name;
	o.from_addr = cfg->smtp.from;
	o.to_name = a->to_name;
	o.to_addr = a->to_addr;
	o.subject = subject;
	o.text = text;
	o.message_id = a->message_id;
	o.in_reply_to = a->in_reply_to;
	o.references = a->references;
	o.extra = extra;
	o.date = a->now;
	return mime_build(&o);
}

/* compose_quote - up to max_lines of text, each prefixed "  > ". */
static void
compose_quote(GString *s, const char *text, int max_lines)
{
	g_auto(GStrv) lines = g_strsplit(text ? text : "", "\n", -1);
	int n = 0;

	for (int i = 0; lines[i] != NULL; i++) {
		g_strchomp(lines[i]);
		if (n == 0 && *lines[i] == '\0')
			continue;
		if (n++ >= max_lines) {
			g_string_append(s, "  > [...]\n");
			break;
		}
		/* bound the line: a 1 MB one-line mail stays readable */
		if (g_utf8_strlen(lines[i], -1) > 200) {
			g_utf8_offset_to_pointer(lines[i], 200)[0] = '\0';
			g_string_append_printf(s, "  > %s[...]\n", lines[i]);
		} else
			g_string_append_printf(s, "  > %s\n", lines[i]);
	}
	if (n == 0)
		g_string_append(s, "  (no text)\n");
}

static void
compose_esc_item_text(const struct cfg *cfg, GString *s,
		      const struct compose_esc_item *it, bool full)
{
	g_autofree char *tag = compose_tag(cfg, it->ticket);

	if (it->level > 0)
		g_string_append_printf(s, "%s %s (level %d of %d)\n", tag,
				       it->what, it->level, it->n_levels);
	else
		g_string_append_printf(s, "%s %s (immediate escalation)\n",
				       tag, it->what);
	g_string_append_printf(s, "  Subject:  %s\n", it->subject);
	g_string_append_printf(s, "  Customer: %s\n", it->customer);
	g_string_append_printf(s, "  Queue:    %s\n", it->queue);
	g_string_append_printf(s, "  Priority: %s\n", it->priority);
	g_string_append_printf(s, "  Status:   %s\n", it->status);
	g_string_append_printf(s, "  Held by:  %s\n",
			       it->assignee && *it->assignee
				       ? it->assignee
				       : "nobody (unassigned)");
	g_string_append_printf(s, "  Age:      %" G_GINT64_FORMAT
				  " business minutes\n",
			       it->age_min);
	if (it->sla)
		g_string_append_printf(s, "  SLA:      %s\n", it->sla);
	if (it->breach)
		g_string_append_printf(s, "  Breached: %s\n", it->breach);
	if (it->reason)
		g_string_append_printf(s, "  Why:      %s\n", it->reason);
	if (full) {
		g_string_append(s, "\nThe customer's last message:\n");
		compose_quote(s, it->last_text, 15);
	}
	g_string_append_c(s, '\n');
}

GBytes *
compose_escalation(const struct cfg *cfg, const struct compose_esc *e)
{
	g_autofree char *subject = NULL, *text = NULL;
	GString *s = g_string_new(NULL);
	bool high = false;
	const char *extra[] = {"Auto-Submitted",
			       "auto-generated",
			       "Precedence",
			       "bulk",
			       "X-Auto-Response-Suppress",
			       "All",
			       COMPOSE_LOOP_HEADER,
			       cfg->tickets.domain,
			       "Importance",
			       "high",
			       NULL};
	struct mime_out o = {0};

	for (size_t i = 0; i < e->n; i++)
		if (strcmp(e->items[i].priority, "high") == 0 ||
		    strcmp(e->items[i].priority, "urgent") == 0)
			high = true;
	if (!high)
		extra[8] = NULL; /* no Importance header */
	if (e->n == 1) {
		const struct compose_esc_item *it = &e->items[0];
		g_autofree char *tag = compose_tag(cfg, it->ticket);
		g_autofree char *stripped = thread_strip_subject(
			it->subject, cfg->tickets.subject_tag);

		if (it->level > 0)
			subject = g_strdup_printf("%s Escalation level %d: %s "
						  "- %s",
						  tag, it->level, it->what,
						  stripped);
		else
			subject = g_strdup_printf("%s Escalation (priority "
						  "%s): %s - %s",
						  tag, it->priority, it->what,
						  stripped);
		g_string_append(s, "A ticket needs your attention.\n\n");
		compose_esc_item_text(cfg, s, it, true);
	} else {
		subject = g_strdup_printf("Escalation digest: %zu tickets "
					  "need attention",
					  e->n);
		g_string_append_printf(s, "%zu tickets need your attention "
					  "(one digest instead of %zu "
					  "mails).\n\n",
				       e->n, e->n);
		for (size_t i = 0; i < e->n; i++)
			compose_esc_item_text(cfg, s, &e->items[i], false);
	}
	g_string_append_printf(
		s, "How to act: reply to this mail (keep the ticket tag in the "
		   "subject)\nwith a command on a line of its own, e.g.\n"
		   "  #assign alice@%s\n  #priority urgent\nor answer the "
		   "customer. An agent's reply stops the escalation.\n\n"
		   "-- \n%s\nThis is an automatic notice.\n",
		cfg->tickets.domain, cfg->smtp.from_name);
	text = g_string_free(s, FALSE);
	o.from_name = cfg->smtp.from_name;
	o.from_addr = cfg->smtp.from;
	o.to_name = e->to_name;
	o.to_addr = e->to_addr;
	o.subject = subject;
	o.text = text;
	o.message_id = e->message_id;
	o.extra = extra;
	o.date = e->now;
	return mime_build(&o);
}
