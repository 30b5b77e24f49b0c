/*
 * compose.c - automatic mails.  See compose.h.
 */
#include "compose.h"

#include "log.h"
#include "mime.h"
#include "template.h"
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

int
compose_template(const struct cfg *cfg, const char *name, gint64 ticket,
                 const char *prev_language, const char *content_language,
                 const char *accept_language, const struct template_var *vars,
                 size_t n, struct template_out *out, const char **language_r)
{
	const char *set = cfg->tickets.template_set, *lang;

	memset(out, 0, sizeof(*out));
	if (cfg->templates == NULL)
		return -ENOENT;
	lang = template_choose_lang(cfg->templates, set, name, prev_language,
	                            content_language, accept_language,
	                            cfg->tickets.language);
	/* the header values are the sender's: not logged */
	log_debug("compose: %s for ticket %" G_GINT64_FORMAT
	          " in '%s' (set %s, queue default %s)",
	          name, ticket, lang ? lang : "-", set, cfg->tickets.language);
	if (lang == NULL ||
	    template_render(cfg->templates, set, lang, name, vars, n, out) < 0)
		return -ENOENT;
	/* a template of nothing but empty variables must not send an empty
	 * mail: the caller's built-in text goes instead */
	if (strspn(out->text, " \t\r\n") == strlen(out->text)) {
		log_warning("compose: template %s/%s/%s rendered empty for "
		            "ticket %" G_GINT64_FORMAT "; built-in text used",
		            set, lang, name, ticket);
		template_out_clear(out);
		return -ENODATA;
	}
	if (out->subject && *out->subject == '\0')
		g_clear_pointer(&out->subject, g_free);
	if (language_r)
		*language_r = lang;
	return 0;
}

char *
compose_when(gint64 t, GTimeZone *tz, const char *lang)
{
	static const char *const days[][7] = {
	    {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
	     "Sunday"},
	    {"Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag",
	     "Samstag", "Sonntag"},
	    {"lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi",
	     "dimanche"},
	    {"lunes", "martes", "miércoles", "jueves", "viernes", "sábado",
	     "domingo"},
	};
	static const char *const langs[] = {"en", "de", "fr", "es"};
	g_autoptr(GDateTime) u = g_date_time_new_from_unix_utc(t);
	g_autoptr(GDateTime) l = NULL;
	g_autofree char *rest = NULL, *zone = NULL;
	size_t li = 0;

	if (u == NULL)
		return g_strdup("?");
	l = tz ? g_date_time_to_timezone(u, tz) : g_date_time_ref(u);
	if (l == NULL)
		l = g_date_time_ref(u);
	for (size_t i = 0; lang && i < ARRAY_SIZE(langs); i++)
		if (g_ascii_strncasecmp(lang, langs[i], 2) == 0)
			li = i;
	/* a fixed offset has no abbreviation (GLib writes "-05:00:00"):
	 * "UTC-05:00" then */
	zone = g_date_time_format(l, "%Z");
	if (zone == NULL || *zone == '+' || *zone == '-') {
		g_free(zone);
		zone = g_date_time_format(l, "UTC%:z");
	}
	/* the date in the reader's order: 07.12.2026 in German */
	rest = g_date_time_format(l, li == 1 ? "%H:%M (%d.%m.%Y"
	                                     : "%H:%M (%Y-%m-%d");
	return g_strdup_printf("%s %s %s)",
	                       days[li][g_date_time_get_day_of_week(l) - 1],
	                       rest ? rest : "?", zone ? zone : "UTC");
}

/* compose_ack_template - the queue's ack template in the customer's
 * language ("ack-closed" outside business hours when the set has it).
 * 0, or -ENOENT/-ENODATA (the built-in text is used then). */
static int
compose_ack_template(const struct cfg *cfg, const struct compose_ack *a,
                     const char *tag, const char *stripped,
                     struct template_out *out)
{
	g_autofree char *num = g_strdup_printf("%" G_GINT64_FORMAT, a->ticket);
	g_autofree char *due = NULL, *opens = NULL;
	const char *name = "ack", *lang;

	if (a->opens_at > 0 && cfg->templates &&
	    template_has_set(cfg->templates, cfg->tickets.template_set,
	                     "ack-closed"))
		name = "ack-closed";
	/* the dates are written in the language the template will be
	 * chosen in: the same choice compose_template makes */
	lang = template_choose_lang(cfg->templates, cfg->tickets.template_set,
	                            name, a->prev_language, a->content_language,
	                            a->accept_language, cfg->tickets.language);
	if (a->first_response_due > 0)
		due = compose_when(a->first_response_due, a->tz, lang);
	if (a->opens_at > 0)
		opens = compose_when(a->opens_at, a->tz, lang);

	const struct template_var vars[] = {
	    {"ticket", num},
	    {"tag", tag},
	    {"subject", *stripped ? stripped : NULL},
	    {"customer_name", a->to_name},
	    {"customer_address", a->to_addr},
	    {"queue", cfg->tickets.queue},
	    {"first_response_due", due},
	    {"opens_at", opens},
	    {"agent_name", NULL},
	    {"from_name", cfg->smtp.from_name},
	    {"status", "new"},
	};

	return compose_template(cfg, name, a->ticket, a->prev_language,
	                        a->content_language, a->accept_language, vars,
	                        ARRAY_SIZE(vars), out, a->language_r);
}

const char *const *
compose_auto_headers(const struct cfg *cfg, const char *auto_submitted,
                     const char *importance, struct compose_auto *a)
{
	const char *h[] = {"Auto-Submitted",
	                   auto_submitted,
	                   "Precedence",
	                   "bulk",
	                   "X-Auto-Response-Suppress",
	                   "All",
	                   COMPOSE_LOOP_HEADER,
	                   cfg->tickets.domain,
	                   importance ? "Importance" : NULL,
	                   importance,
	                   NULL};

	G_STATIC_ASSERT(sizeof(h) == sizeof(a->h));
	memcpy(a->h, h, sizeof(h));
	return a->h;
}

GBytes *
compose_ack(const struct cfg *cfg, const struct compose_ack *a)
{
	g_autofree char *tag = compose_tag(cfg, a->ticket);
	g_autofree char *stripped =
	    thread_strip_subject(a->subject, cfg->tickets.subject_tag);
	g_autofree char *subject = NULL;
	g_autofree char *text = NULL;
	struct compose_auto hdrs;
	struct mime_out o = {0};
	struct template_out tout = {0};
	GBytes *wire;

	if (compose_ack_template(cfg, a, tag, stripped, &tout) == 0) {
		subject = tout.subject
		              ? g_strdup(tout.subject)
		              : g_strdup_printf("%s Re: %s", tag,
		                                *stripped ? stripped
		                                          : "(no subject)");
		text = g_strdup(tout.text);
		o.html = tout.html;
		goto build;
	}
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
	if (a->language_r)
		*a->language_r = "en";
build:
	o.from_name = cfg->smtp.from_name;
	o.from_addr = cfg->smtp.from;
	o.to_name = a->to_name;
	o.to_addr = a->to_addr;
	o.subject = subject;
	o.text = text;
	o.message_id = a->message_id;
	o.in_reply_to = a->in_reply_to;
	o.references = a->references;
	o.extra = compose_auto_headers(cfg, "auto-replied", NULL, &hdrs);
	o.date = a->now;
	wire = mime_build(&o);
	template_out_clear(&tout);
	return wire;
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
		g_string_append_printf(s, "%s %s (immediate escalation)\n", tag,
		                       it->what);
	g_string_append_printf(s, "  Subject:  %s\n", it->subject);
	g_string_append_printf(s, "  Customer: %s\n", it->customer);
	g_string_append_printf(
	    s, "  History:  %s\n",
	    it->history && *it->history ? it->history : "no earlier tickets");
	g_string_append_printf(s, "  Queue:    %s\n", it->queue);
	g_string_append_printf(s, "  Priority: %s\n", it->priority);
	g_string_append_printf(s, "  Status:   %s\n", it->status);
	g_string_append_printf(s, "  Held by:  %s\n",
	                       it->assignee && *it->assignee
	                           ? it->assignee
	                           : "nobody (unassigned)");
	g_string_append_printf(
	    s, "  Age:      %" G_GINT64_FORMAT " business minutes\n",
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
	struct compose_auto hdrs;
	struct mime_out o = {0};

	for (size_t i = 0; i < e->n; i++)
		if (strcmp(e->items[i].priority, "high") == 0 ||
		    strcmp(e->items[i].priority, "urgent") == 0)
			high = true;
	if (e->n == 1) {
		const struct compose_esc_item *it = &e->items[0];
		g_autofree char *tag = compose_tag(cfg, it->ticket);
		g_autofree char *stripped =
		    thread_strip_subject(it->subject, cfg->tickets.subject_tag);

		if (it->level > 0)
			subject =
			    g_strdup_printf("%s Escalation level %d: %s "
			                    "- %s",
			                    tag, it->level, it->what, stripped);
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
		g_string_append_printf(s,
		                       "%zu tickets need your attention "
		                       "(one digest instead of %zu "
		                       "mails).\n\n",
		                       e->n, e->n);
		for (size_t i = 0; i < e->n; i++)
			compose_esc_item_text(cfg, s, &e->items[i], false);
	}
	g_string_append_printf(
	    s,
	    "How to act: reply to this mail (keep the ticket tag in the "
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
	o.extra = compose_auto_headers(cfg, "auto-generated",
	                               high ? "high" : NULL, &hdrs);
	o.date = e->now;
	return mime_build(&o);
}

GBytes *
compose_answer(const struct cfg *cfg, const struct compose_answer *a)
{
	g_autofree char *text = g_strdup_printf(
	    "%s\n-- \n%s\nThis is an automatic answer to your question "
	    "by mail;\nonly configured agents get one.\n",
	    a->text, cfg->smtp.from_name);
	struct compose_auto hdrs;
	struct mime_out o = {
	    .from_name = cfg->smtp.from_name,
	    .from_addr = cfg->smtp.from,
	    .to_name = a->to_name,
	    .to_addr = a->to_addr,
	    .subject = a->subject,
	    .text = text,
	    .message_id = a->message_id,
	    .in_reply_to = a->in_reply_to,
	    .references = a->in_reply_to,
	    .date = a->now,
	};

	o.extra = compose_auto_headers(cfg, "auto-replied", NULL, &hdrs);
	return mime_build(&o);
}
