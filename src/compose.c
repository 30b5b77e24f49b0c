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

/* compose_ack_template - the queue's ack template in the customer's
 * language.  0, or -ENOENT/-ENODATA (the built-in text is used then). */
static int
compose_ack_template(const struct cfg *cfg, const struct compose_ack *a,
                     const char *tag, const char *stripped,
                     struct template_out *out)
{
	g_autofree char *num = g_strdup_printf("%" G_GINT64_FORMAT, a->ticket);
	const struct template_var vars[] = {
	    {"ticket", num},
	    {"tag", tag},
	    {"subject", *stripped ? stripped : NULL},
	    {"customer_name", a->to_name},
	    {"customer_address", a->to_addr},
	    {"queue", cfg->tickets.queue},
	    {"first_response_due", a->first_response_due},
	    {"agent_name", NULL},
	    {"from_name", cfg->smtp.from_name},
	    {"status", "new"},
	};

	return compose_template(cfg, "ack", a->ticket, a->prev_language,
	                        a->content_language, a->accept_language, vars,
	                        ARRAY_SIZE(vars), out, a->language_r);
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
	o.extra = extra;
	o.date = a->now;
	wire = mime_build(&o);
	template_out_clear(&tout);
	return wire;
}
