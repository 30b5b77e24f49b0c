/*
 * lifecycle.c - pending and resolved tickets move on by themselves.  See
 * lifecycle.h.
 */
#include "lifecycle.h"

#include "compose.h"
#include "escalate.h"
#include "limit.h"
#include "log.h"
#include "mime.h"
#include "outbox.h"
#include "sla.h"
#include "store.h"
#include "store_ingest.h"
#include "store_lifecycle.h"
#include "store_outbox.h"
#include "template.h"
#include "thread.h"

#include <string.h>

/* A calendar with no business day in ten years ends the search. */
#define LIFECYCLE_DAY_GUARD 3660

/* lifecycle_business_day - does the local day of d have business time? */
static bool
lifecycle_business_day(const struct sla_calendar *cal, GDateTime *d)
{
	g_autoptr(GDateTime) start = g_date_time_new(
	    cal->tz, g_date_time_get_year(d), g_date_time_get_month(d),
	    g_date_time_get_day_of_month(d), 0, 0, 0);
	g_autoptr(GDateTime) end = NULL;

	if (start == NULL || (end = g_date_time_add_days(start, 1)) == NULL)
		return false;
	return sla_business_seconds(cal, g_date_time_to_unix(start),
	                            g_date_time_to_unix(end)) > 0;
}

gint64
lifecycle_add_days(const struct sla_calendar *cal, gint64 from, int n)
{
	g_autoptr(GDateTime) u = NULL;
	GDateTime *d;
	gint64 t;
	int got = 0;

	if (cal == NULL)
		return from + (gint64)n * 86400;
	if ((u = g_date_time_new_from_unix_utc(from)) == NULL ||
	    (d = g_date_time_to_timezone(u, cal->tz)) == NULL)
		return from + (gint64)n * 86400;
	for (int guard = 0; got < n && guard < LIFECYCLE_DAY_GUARD; guard++) {
		GDateTime *next = g_date_time_add_days(d, 1);

		g_date_time_unref(d);
		if ((d = next) == NULL)
			return G_MAXINT64;
		if (lifecycle_business_day(cal, d))
			got++;
	}
	t = got < n ? G_MAXINT64 : g_date_time_to_unix(d);
	g_date_time_unref(d);
	return t;
}

/* lifecycle_text - the built-in English text when the set has no
 * template.  g_free. */
static char *
lifecycle_text(const char *name, const struct store_life_row *t,
               const char *from_name)
{
	const char *who = t->requester_name && *t->requester_name
	                      ? t->requester_name
	                      : "there";

	if (strcmp(name, "pending-reminder") == 0)
		return g_strdup_printf(
		    "Hello %s,\n\nwe are waiting for your answer on ticket "
		    "#%" G_GINT64_FORMAT
		    " (%s).\nSimply reply to this mail; if we hear nothing, "
		    "we will close the ticket\nin a few days.\n\n-- \n%s\n"
		    "This is an automatic mail.\n",
		    who, t->id, t->subject, from_name);
	return g_strdup_printf(
	    "Hello %s,\n\nwe have not heard from you, so we have closed "
	    "ticket #%" G_GINT64_FORMAT " (%s).\nIf you still need help, "
	    "simply reply to this mail.\n\n-- \n%s\nThis is an automatic "
	    "mail.\n",
	    who, t->id, t->subject, from_name);
}

/* lifecycle_compose - the reminder or closing notice (template name) for
 * t, in the customer's language.  Unref. */
static GBytes *
lifecycle_compose(const struct cfg *cfg, const struct store_life_row *t,
                  const char *name, const char *msgid, gint64 now)
{
	g_autofree char *tag = compose_tag(cfg, t->id);
	g_autofree char *stripped =
	    thread_strip_subject(t->subject, cfg->tickets.subject_tag);
	g_autofree char *num = g_strdup_printf("%" G_GINT64_FORMAT, t->id);
	g_autofree char *subject = NULL, *text = NULL;
	const struct template_var vars[] = {
	    {"ticket", num},
	    {"tag", tag},
	    {"subject", *stripped ? stripped : NULL},
	    {"customer_name", t->requester_name},
	    {"customer_address", t->requester},
	    {"queue", t->queue},
	    {"from_name", cfg->smtp.from_name},
	    {"status",
	     strcmp(name, "pending-close") == 0 ? "closed" : "pending"},
	};
	struct template_out tout = {0};
	struct compose_auto hdrs;
	struct mime_out o = {0};
	GBytes *wire;

	if (compose_template(cfg, name, t->id, t->language, NULL, NULL, vars,
	                     ARRAY_SIZE(vars), &tout, NULL) == 0) {
		text = g_strdup(tout.text);
		o.html = tout.html;
		if (tout.subject)
			subject = g_strdup(tout.subject);
	} else {
		text = lifecycle_text(name, t, cfg->smtp.from_name);
	}
	if (subject == NULL)
		subject = g_strdup_printf(
		    "%s Re: %s", tag, *stripped ? stripped : "(no subject)");
	o.from_name = cfg->smtp.from_name;
	o.from_addr = cfg->smtp.from;
	o.to_name = t->requester_name;
	o.to_addr = t->requester;
	o.subject = subject;
	o.text = text;
	o.message_id = msgid;
	o.extra = compose_auto_headers(cfg, "auto-generated", NULL, &hdrs);
	o.date = now;
	wire = mime_build(&o);
	template_out_clear(&tout);
	return wire;
}

/* lifecycle_mail - queue the reminder or closing notice for t unless the
 * address is suppressed or a send limit says no (then an event says
 * why); the sequence goes on either way.  0/-E. */
static int
lifecycle_mail(const struct cfg *cfg, struct store *st,
               const struct store_life_row *t, const char *name, gint64 now)
{
	g_autofree char *msgid = NULL;
	g_autofree char *who = limit_identity(t->requester);
	g_autoptr(GBytes) wire = NULL;
	const char *why = NULL;
	bool repeat = false;
	gint64 mid = 0;
	int r;

	if ((r = limit_check_queue(cfg, st, t->id, t->requester, who, true,
	                           &repeat, &why)) != LIMIT_SEND) {
		if (r < 0)
			return r;
		if (r == LIMIT_HOLD)
			why = NULL; /* queued all the same, sent later */
	}
	if (why != NULL)
		return store_event_add(st, t->id, "tickd",
		                       "lifecycle-suppressed", why, 0);
	msgid = thread_make_msgid(cfg->tickets.secret, cfg->tickets.secret_len,
	                          t->id, name, cfg->tickets.domain);
	wire = lifecycle_compose(cfg, t, name, msgid, now);
	return outbox_queue(cfg, st, t->id, name,
	                    strcmp(name, "pending-reminder") == 0
	                        ? "pending reminder"
	                        : "closing notice",
	                    t->requester, msgid, wire, now, who, repeat, &mid);
}

/* lifecycle_close - status closed at now, and why. */
static int
lifecycle_close(struct store *st, gint64 id, const char *why, gint64 now)
{
	int r = store_ticket_set_status(st, id, "closed", now);

	if (r == 0)
		r = store_event_add(st, id, "tickd", "auto-closed", why, 0);
	if (r == 0)
		log_info("lifecycle: ticket %" G_GINT64_FORMAT " closed: %s",
		         id, why);
	return r;
}

/* lifecycle_one - the step due for t at now, if any: 1 moved, 0 not
 * due, -E. */
static int
lifecycle_one(const struct cfg *cfg, struct store *st,
              const struct store_life_row *t, gint64 now)
{
	const struct cfg_queue *q = cfg_queue_by_name(cfg, t->queue);
	const struct cfg *qc = q ? q->view : cfg;
	const struct cfg_tickets *k = &cfg->tickets;
	const struct sla_calendar *cal =
	    escalate_queue_calendar(cfg, t->queue, CFG_PRIO_NORMAL);
	g_autofree char *why = NULL;
	int r;

	if (!t->pending) {
		if (k->resolved_close_days <= 0 ||
		    now < lifecycle_add_days(cal, t->status_since,
		                             k->resolved_close_days))
			return 0;
		why = g_strdup_printf("resolved for %d business day(s)",
		                      k->resolved_close_days);
		r = lifecycle_close(st, t->id, why, now);
		return r < 0 ? r : 1;
	}
	if (t->reminded_at == 0) {
		if (k->pending_remind_days <= 0 ||
		    now < lifecycle_add_days(cal, t->status_since,
		                             k->pending_remind_days))
			return 0;
		why = g_strdup_printf("pending for %d business day(s)",
		                      k->pending_remind_days);
		if ((r = lifecycle_mail(qc, st, t, "pending-reminder", now)) <
		        0 ||
		    (r = store_life_reminded(st, t->id, now)) < 0 ||
		    (r = store_event_add(st, t->id, "tickd", "pending-reminder",
		                         why, 0)) < 0)
			return r;
		log_info("lifecycle: ticket %" G_GINT64_FORMAT
		         " reminder queued: %s",
		         t->id, why);
		return 1;
	}
	if (k->pending_close_days <= 0 ||
	    now <
	        lifecycle_add_days(cal, t->reminded_at, k->pending_close_days))
		return 0;
	why = g_strdup_printf("no answer %d business day(s) after the reminder",
	                      k->pending_close_days);
	if ((r = lifecycle_mail(qc, st, t, "pending-close", now)) < 0 ||
	    (r = lifecycle_close(st, t->id, why, now)) < 0)
		return r;
	return 1;
}

int
lifecycle_tick(const struct cfg *cfg, struct store *st, gint64 now)
{
	g_autoptr(GPtrArray) rows =
	    g_ptr_array_new_with_free_func(store_life_row_free);
	const struct cfg_tickets *k = &cfg->tickets;
	int days = G_MAXINT, r, moved = 0;

	if (k->pending_remind_days > 0)
		days = MIN(days, k->pending_remind_days);
	if (k->resolved_close_days > 0)
		days = MIN(days, k->resolved_close_days);
	if (days == G_MAXINT)
		return 0;
	if ((r = store_begin(st)) < 0)
		return r;
	if ((r = store_life_due(st, now, (gint64)days * 86400, LIFECYCLE_BATCH,
	                        rows)) < 0)
		goto fail;
	for (guint i = 0; i < rows->len; i++) {
		if ((r = lifecycle_one(cfg, st, rows->pdata[i], now)) < 0)
			goto fail;
		moved += r;
	}
	if ((r = store_commit(st)) < 0)
		goto fail;
	return moved;
fail:
	store_rollback(st);
	log_warning("lifecycle: pass failed: %s", store_error(st));
	return r;
}
