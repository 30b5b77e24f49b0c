/*
 * csat.c - customer satisfaction by mail.  See csat.h.
 */
#include "csat.h"

#include "compose.h"
#include "log.h"
#include "mime.h"
#include "outbox.h"
#include "thread.h"
#include "store.h"
#include "store_ingest.h"
#include "store_outbox.h"
#include "store_report.h"

#include <string.h>

#define CSAT_COMMENT_MAX 2000
#define CSAT_TOKEN_MAX   200 /* longer "tickd." words are not ours */
#define CSAT_BATCH       50  /* resolution mails per tick */

static const char *const csat_names[] = {NULL, "good", "okay", "bad"};

const char *
csat_rating_name(int rating)
{
	if (rating < CSAT_GOOD || rating > CSAT_BAD)
		return NULL;
	return csat_names[rating];
}

int
csat_nps_score(int rating)
{
	return rating >= CSAT_NPS(0) && rating <= CSAT_NPS(10)
	           ? rating - CSAT_NPS(0)
	           : -1;
}

char *
csat_token(const struct cfg *cfg, gint64 ticket, int rating)
{
	g_autofree char *kind = NULL;

	if (ticket <= 0)
		return NULL;
	/* "rate-nps7": a rating kind, so csat_match sees it */
	if (csat_nps_score(rating) >= 0)
		kind = g_strdup_printf("rate-nps%d", csat_nps_score(rating));
	else if (csat_rating_name(rating) != NULL)
		kind = g_strconcat("rate-", csat_rating_name(rating), NULL);
	else
		return NULL;
	return thread_make_msgid(cfg->tickets.secret, cfg->tickets.secret_len,
	                         ticket, kind, cfg->tickets.domain);
}

gint64
csat_match(const struct cfg *cfg, const char *subject, int *rating_r)
{
	const char *pos = subject, *kind, *dot;
	g_autofree char *tok = NULL;
	gint64 t;

	if (subject == NULL)
		return 0;
	while (thread_token_next(&pos, CSAT_TOKEN_MAX, &tok) == 1) {
		kind = strchr(tok + 6, '.');
		if (kind == NULL || !g_str_has_prefix(kind + 1, "rate-")) {
			g_clear_pointer(&tok, g_free);
			continue; /* another kind of tickd id: not a rating */
		}
		t = thread_msgid_ticket(cfg->tickets.secret,
		                        cfg->tickets.secret_len, tok);
		if (t <= 0)
			return -EBADMSG;
		kind += 6;
		dot = strchr(kind, '.');
		if (dot && (dot - kind == 4 || dot - kind == 5) &&
		    strncmp(kind, "nps", 3) == 0) {
			/* nps0..nps10, exactly as csat_token writes them */
			int s = kind[3] - '0';

			if (dot - kind == 5)
				s = kind[3] == '1' && kind[4] == '0' ? 10 : -1;
			if (s < 0 || s > 10)
				return -EBADMSG;
			*rating_r = CSAT_NPS(s);
			return t;
		}
		for (int r = CSAT_GOOD; dot && r <= CSAT_BAD; r++)
			if ((size_t)(dot - kind) == strlen(csat_names[r]) &&
			    strncmp(kind, csat_names[r],
			            (size_t)(dot - kind)) == 0) {
				*rating_r = r;
				return t;
			}
		return -EBADMSG; /* signed, but not a rating we hand out */
	}
	return 0;
}

/* csat_link - "mailto:support@x?subject=..." for one rating.  g_free. */
static char *
csat_link(const struct cfg *cfg, gint64 ticket, int rating)
{
	g_autofree char *tok = csat_token(cfg, ticket, rating);
	g_autofree char *what =
	    csat_nps_score(rating) >= 0
	        ? g_strdup_printf("Recommend %d", csat_nps_score(rating))
	        : g_strconcat("Rating ", csat_rating_name(rating), NULL);
	g_autofree char *subj = g_strdup_printf(
	    "%s for ticket %" G_GINT64_FORMAT " (%s)", what, ticket, tok);
	g_autofree char *esubj = g_uri_escape_string(subj, NULL, FALSE);
	g_autofree char *ebody =
	    g_uri_escape_string("Any comment (optional):\n\n", NULL, FALSE);

	return g_strdup_printf("mailto:%s?subject=%s&body=%s", cfg->smtp.from,
	                       esubj, ebody);
}

#define CSAT_NPS_QUESTION                                                      \
	"How likely are you to recommend us to a friend or colleague? "        \
	"(0 = not at all, 10 = extremely likely)"

/* csat_nps_text / csat_nps_html - the 0-10 question with its links. */
static void
csat_nps_text(const struct cfg *cfg, gint64 ticket, GString *text)
{
	g_string_append(text, CSAT_NPS_QUESTION ":\n\n");
	for (int s = 0; s <= 10; s++) {
		g_autofree char *l = csat_link(cfg, ticket, CSAT_NPS(s));

		g_string_append_printf(text, "  %d: <%s>\n\n", s, l);
	}
}

static void
csat_nps_html(const struct cfg *cfg, gint64 ticket, GString *html)
{
	g_string_append(html, "<p>" CSAT_NPS_QUESTION
	                      "</p>\n<table role=\"presentation\" "
	                      "cellpadding=\"6\" cellspacing=\"2\"><tr>");
	for (int s = 0; s <= 10; s++) {
		g_autofree char *l = csat_link(cfg, ticket, CSAT_NPS(s));
		g_autofree char *href = g_markup_escape_text(l, -1);

		g_string_append_printf(html,
		                       "<td style=\"background:%s;border-"
		                       "radius:4px\"><a href=\"%s\" style=\""
		                       "color:#fff;text-decoration:none;"
		                       "font-weight:bold\">%d</a></td>",
		                       s >= 9   ? "#2f855a"
		                       : s >= 7 ? "#b7791f"
		                                : "#c53030",
		                       href, s);
	}
	g_string_append(html, "</tr></table>\n");
}

/* The rating buttons, indexed by enum csat_rating (0 is unused). */
static const char *const csat_labels[] = {NULL, "Good", "Okay", "Bad"};
static const char *const csat_colours[] = {NULL, "#2f855a", "#b7791f",
                                           "#c53030"};

/* csat_resolution_text - the plain part of the resolution mail; links[r]
 * is the rating link for r (the html part offers the same ones). */
static void
csat_resolution_text(const struct cfg *cfg, const struct csat_mail *m,
                     const char *stripped, char *const *links, GString *text)
{
	g_string_append_printf(
	    text,
	    "Hello%s%s,\n\n"
	    "we have resolved your ticket #%" G_GINT64_FORMAT ": %s\n\n"
	    "If anything is still open, simply reply to this mail.\n\n"
	    "How did we do? One click sends us your rating (your mail "
	    "program\nopens a prepared mail; add a comment if you like):\n\n",
	    m->to_name && *m->to_name ? " " : "",
	    m->to_name && *m->to_name ? m->to_name : "", m->ticket, stripped);
	for (int r = CSAT_GOOD; r <= CSAT_BAD; r++)
		g_string_append_printf(text, "  %s: <%s>\n\n", csat_labels[r],
		                       links[r]);
	if (cfg->csat.nps)
		csat_nps_text(cfg, m->ticket, text);
	g_string_append_printf(text, "-- \n%s\nThis is an automatic mail.\n",
	                       cfg->smtp.from_name);
}

/* csat_resolution_html - the html part; name and esc_subj come escaped. */
static void
csat_resolution_html(const struct cfg *cfg, const struct csat_mail *m,
                     const char *name, const char *esc_subj, char *const *links,
                     GString *html)
{
	g_string_append_printf(
	    html,
	    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><meta "
	    "name=\"viewport\" content=\"width=device-width, "
	    "initial-scale=1\"><title>Ticket #%" G_GINT64_FORMAT
	    " resolved</title></head>\n<body style=\"font-family:Arial,"
	    "Helvetica,sans-serif;color:#222\">\n<div style=\"max-width:"
	    "600px;margin:0 auto;padding:8px\">\n<p>Hello%s%s,</p>\n<p>we "
	    "have resolved your ticket #%" G_GINT64_FORMAT ": %s</p>\n<p>If "
	    "anything is still open, simply reply to this mail.</p>\n<p>How "
	    "did we do?</p>\n<table role=\"presentation\" cellpadding=\"8\" "
	    "cellspacing=\"4\"><tr>",
	    m->ticket, *name ? " " : "", name, m->ticket, esc_subj);
	for (int r = CSAT_GOOD; r <= CSAT_BAD; r++) {
		g_autofree char *href = g_markup_escape_text(links[r], -1);
		g_string_append_printf(html,
		                       "<td style=\"background:%s;border-"
		                       "radius:4px\"><a href=\"%s\" style=\""
		                       "color:#fff;text-decoration:none;"
		                       "font-weight:bold\">%s</a></td>",
		                       csat_colours[r], href, csat_labels[r]);
	}
	g_string_append(html, "</tr></table>\n");
	if (cfg->csat.nps)
		csat_nps_html(cfg, m->ticket, html);
	g_string_append_printf(html,
	                       "<p style=\"font-size:12px;"
	                       "color:#666\">-- <br>%s<br>This is an "
	                       "automatic mail.</p>\n</div>\n</body></html>\n",
	                       cfg->smtp.from_name);
}

GBytes *
csat_compose_resolution(const struct cfg *cfg, const struct csat_mail *m)
{
	g_autofree char *tag = compose_tag(cfg, m->ticket);
	g_autofree char *stripped =
	    thread_strip_subject(m->subject, cfg->tickets.subject_tag);
	g_autofree char *subject = NULL;
	g_autofree char *esc_subj = NULL;
	g_autofree char *name = NULL;
	char *links[CSAT_BAD + 1] = {NULL};
	struct compose_auto hdrs;
	GString *text = g_string_new(NULL);
	GString *html = g_string_new(NULL);
	struct mime_out o = {0};
	GBytes *wire;

	if (!*stripped) {
		g_free(stripped);
		stripped = g_strdup("(no subject)");
	}
	subject = g_strdup_printf("%s Resolved: %s", tag, stripped);
	esc_subj = g_markup_escape_text(stripped, -1);
	name = g_markup_escape_text(m->to_name && *m->to_name ? m->to_name : "",
	                            -1);
	for (int r = CSAT_GOOD; r <= CSAT_BAD; r++)
		links[r] = csat_link(cfg, m->ticket, r);

	csat_resolution_text(cfg, m, stripped, links, text);
	csat_resolution_html(cfg, m, name, esc_subj, links, html);

	o.from_name = cfg->smtp.from_name;
	o.from_addr = cfg->smtp.from;
	o.to_name = m->to_name;
	o.to_addr = m->to_addr;
	o.subject = subject;
	o.text = text->str;
	o.html = html->str;
	o.message_id = m->message_id;
	o.extra = compose_auto_headers(cfg, "auto-generated", NULL, &hdrs);
	o.date = m->now;
	wire = mime_build(&o);
	for (int r = CSAT_GOOD; r <= CSAT_BAD; r++)
		g_free(links[r]);
	g_string_free(text, TRUE);
	g_string_free(html, TRUE);
	return wire;
}

int
csat_record(struct store *st, gint64 ticket, int rating, const char *from,
            const char *comment, gint64 msg, gint64 now)
{
	g_autofree char *c = NULL;
	g_autofree char *score = NULL;
	int r;

	if (ticket > 0 && csat_nps_score(rating) >= 0) {
		score = g_strdup_printf("%d", csat_nps_score(rating));
		r = store_nps_rate(st, ticket, csat_nps_score(rating), from,
		                   msg, now);
		if (r < 0)
			return r;
		log_info("csat: ticket %" G_GINT64_FORMAT " NPS answer %s%s",
		         ticket, score,
		         r == 0 ? " ignored (answered before)" : "");
		return store_event_add(st, ticket, from ? from : "?",
		                       r ? "nps-rated" : "nps-repeated", score,
		                       msg);
	}
	if (ticket <= 0 || csat_rating_name(rating) == NULL) {
		log_notice("csat: forged or unknown rating token from '%s' "
		           "ignored",
		           from ? from : "?");
		return store_event_global(st, from ? from : "?", "csat-forged",
		                          "rating token invalid; ignored", msg);
	}
	if (comment != NULL) {
		c = g_utf8_make_valid(comment, -1);
		g_strstrip(c);
		/* the prefilled prompt is not a comment */
		if (g_str_has_prefix(c, "Any comment (optional):"))
			memmove(c, c + 23, strlen(c + 23) + 1);
		g_strstrip(c);
		if (strlen(c) > CSAT_COMMENT_MAX) {
			const char *cut = c + CSAT_COMMENT_MAX;
			cut = g_utf8_find_prev_char(c, cut + 1);
			c[cut ? cut - c : 0] = '\0';
		}
	}
	r = store_csat_rate(st, ticket, csat_rating_name(rating),
	                    c && *c ? c : NULL, from, msg, now);
	if (r < 0)
		return r;
	if (r == 0) {
		log_info("csat: ticket %" G_GINT64_FORMAT " was rated "
		         "before; '%s' ignored",
		         ticket, csat_rating_name(rating));
		return store_event_add(st, ticket, from ? from : "?",
		                       "csat-repeated",
		                       csat_rating_name(rating), msg);
	}
	log_info("csat: ticket %" G_GINT64_FORMAT " rated '%s'", ticket,
	         csat_rating_name(rating));
	return store_event_add(st, ticket, from ? from : "?", "csat-rated",
	                       csat_rating_name(rating), msg);
}

/* csat_send_one - one ticket's resolution mail, in its own transaction. */
static int
csat_send_one(const struct cfg *cfg, struct store *st,
              const struct store_resolved *t, gint64 now, bool *queued_r)
{
	g_autofree char *msgid = NULL;
	g_autoptr(GBytes) wire = NULL;
	const char *why = NULL;
	gint64 mid = 0, n, none; /* (no ticket count wanted) */
	int r;

	if ((r = store_begin(st)) < 0)
		return r;
	if ((r = store_csat_request(st, t->id)) <= 0)
		goto done; /* another instance took it, or it moved on */
	if ((r = store_suppressed(st, t->requester)) != 0) {
		if (r < 0)
			goto fail;
		why = "address is suppressed after a bounce or complaint";
	} else if ((r = store_limit_counts(st, t->requester, 0, 86400, 0,
	                                   cfg->limits.per_recipient_day, &n,
	                                   &none)) < 0) {
		goto fail;
	} else if (n >= cfg->limits.per_recipient_day) {
		why = "limits.per_recipient_day reached";
	}
	if (why != NULL) {
		r = store_event_add(st, t->id, "tickd",
		                    "resolution-mail-suppressed", why, 0);
		goto done;
	}
	msgid = thread_make_msgid(cfg->tickets.secret, cfg->tickets.secret_len,
	                          t->id, "resolved", cfg->tickets.domain);
	struct csat_mail m = {
	    .ticket = t->id,
	    .to_addr = t->requester,
	    .to_name = t->requester_name,
	    .subject = t->subject,
	    .message_id = msgid,
	    .now = now,
	};
	wire = csat_compose_resolution(cfg, &m);
	if ((r = outbox_queue(cfg, st, t->id, "resolution", "resolution mail",
	                      t->requester, msgid, wire, now, NULL, false,
	                      &mid)) < 0)
		goto fail;
	r = store_event_add(st, t->id, "tickd", "resolution-mail", t->requester,
	                    mid);
	if (r == 0)
		*queued_r = true;
done:
	if (r < 0)
		goto fail;
	return store_commit(st);
fail:
	store_rollback(st);
	return r;
}

int
csat_tick(const struct cfg *cfg, struct store *st, gint64 now)
{
	g_autoptr(GPtrArray) due =
	    g_ptr_array_new_with_free_func(store_resolved_free);
	int r, queued = 0;

	if (!cfg->csat.enabled)
		return 0;
	/* one queue today: csat.enabled is tickets.queue's switch */
	if ((r = store_csat_due(st, cfg->tickets.queue, cfg->csat.max_age,
	                        CSAT_BATCH, due)) < 0)
		return r;
	for (guint i = 0; i < due->len; i++) {
		const struct store_resolved *t = due->pdata[i];
		bool q = false;

		if ((r = csat_send_one(cfg, st, t, now, &q)) < 0)
			return r;
		queued += q;
	}
	if (queued > 0)
		log_info("csat: queued %d resolution mail(s)", queued);
	return queued;
}
