/*
 * digest.c - the managers' digest mail.  See digest.h.
 */
#include "digest.h"

#include "compose.h"
#include "log.h"
#include "mime.h"
#include "store.h"
#include "store_outbox.h"
#include "store_report.h"

#include <string.h>

int
digest_period(const char *schedule, const char *tz_id, int hour, gint64 now,
              gint64 *from_r, gint64 *to_r)
{
	g_autoptr(GTimeZone) tz = NULL;
	g_autoptr(GDateTime) n = NULL, local = NULL, end = NULL, due = NULL;
	g_autoptr(GDateTime) start = NULL;
	bool weekly;

	if (schedule == NULL || tz_id == NULL || hour < 0 || hour > 23)
		return -EINVAL;
	if (strcmp(schedule, "daily") == 0)
		weekly = false;
	else if (strcmp(schedule, "weekly") == 0)
		weekly = true;
	else
		return -EINVAL;
	if ((tz = g_time_zone_new_identifier(tz_id)) == NULL)
		return -EINVAL;
	n = g_date_time_new_from_unix_utc(now);
	local = g_date_time_to_timezone(n, tz);
	/* the latest period end (local midnight; Monday for weekly) <= now */
	end = g_date_time_new(tz, g_date_time_get_year(local),
	                      g_date_time_get_month(local),
	                      g_date_time_get_day_of_month(local), 0, 0, 0);
	if (weekly) {
		GDateTime *m = g_date_time_add_days(
		    end, 1 - g_date_time_get_day_of_week(local));
		g_date_time_unref(end);
		end = m;
	}
	/* due at hour local time on the end's day (DST-safe: wall time) */
	due = g_date_time_new(tz, g_date_time_get_year(end),
	                      g_date_time_get_month(end),
	                      g_date_time_get_day_of_month(end), hour, 0, 0);
	if (g_date_time_to_unix(due) > now) {
		GDateTime *e = g_date_time_add_days(end, weekly ? -7 : -1);
		g_date_time_unref(end);
		end = e;
	}
	start = g_date_time_add_days(end, weekly ? -7 : -1);
	*from_r = g_date_time_to_unix(start);
	*to_r = g_date_time_to_unix(end);
	return 0;
}

/* digest_calendar - the 24x7 UTC calendar, built once (read-only after):
 * what escalate.c's clocks use for tickets without a policy. */
static const struct sla_calendar *
digest_calendar(void)
{
	static struct sla_calendar *cal;

	if (cal == NULL)
		cal = report_calendar_24x7();
	return cal;
}

const struct sla_calendar *
digest_queue_calendar(const struct cfg *cfg, const char *queue)
{
	const struct sla_policy *p = sla_policy_find(
	    cfg->sla.policies, cfg->sla.n_policies, queue, CFG_PRIO_NORMAL);

	return p ? cfg->sla.policy_cal[p - cfg->sla.policies] : NULL;
}

static const struct sla_calendar *
digest_cal_for(void *ud, const char *queue)
{
	return digest_queue_calendar(ud, queue);
}

int
digest_report(const struct cfg *cfg, struct store *st, gint64 from, gint64 to,
              const char *queue, const char *agent, struct sla_policy *pol,
              struct report **r_r)
{
	struct report *r = NULL;
	int rc;
	struct report_params p = {
	    .from = from,
	    .to = to,
	    .cal_for = digest_cal_for,
	    .cal_ud = (void *)cfg,
	    .default_cal = digest_calendar(),
	    .policies = cfg->sla.policies,
	    .policy_cal = cfg->sla.policy_cal,
	    .n_policies = cfg->sla.n_policies,
	    .by_queue = queue == NULL,
	    .by_agent = agent == NULL,
	};

	memset(pol, 0, sizeof(*pol));
	if (cfg->sla.n_policies == 0) {
		/* no SLA configured: the documented fallback targets, on the
		 * 24x7 calendar the clocks run on then */
		pol->priority = SLA_ANY_PRIORITY;
		pol->first_response_min = cfg->report.fallback_first_response;
		pol->resolution_min = cfg->report.fallback_resolution;
		p.policies = pol;
		p.policy_cal = NULL;
		p.n_policies = 1;
	}
	if (p.default_cal == NULL)
		return -ENOMEM;
	if ((rc = report_new(&p, &r)) < 0)
		return rc;
	if ((rc = store_report_load(st, r, queue, agent)) < 0) {
		report_free(&r);
		return rc;
	}
	report_finish(r);
	*r_r = r;
	return 0;
}

static char *
digest_title(const struct cfg *cfg, const struct report *r,
             const char *schedule)
{
	g_autoptr(GDateTime) f = g_date_time_new_from_unix_utc(r->p.from);
	g_autoptr(GDateTime) t = g_date_time_new_from_unix_utc(r->p.to - 1);
	g_autoptr(GTimeZone) tz =
	    g_time_zone_new_identifier(cfg->report.timezone);
	g_autoptr(GDateTime) fl = NULL, tl = NULL;
	g_autofree char *fs = NULL, *ts = NULL;

	if (tz == NULL)
		tz = g_time_zone_new_utc();
	fl = g_date_time_to_timezone(f, tz);
	tl = g_date_time_to_timezone(t, tz);
	fs = g_date_time_format(fl, "%Y-%m-%d");
	ts = g_date_time_format(tl, "%Y-%m-%d");
	if (strcmp(schedule, "weekly") == 0)
		return g_strdup_printf("[%s] Weekly support report %s .. %s",
		                       cfg->tickets.subject_tag, fs, ts);
	return g_strdup_printf("[%s] Daily support report %s",
	                       cfg->tickets.subject_tag, fs);
}

GBytes *
digest_compose(const struct cfg *cfg, const struct report *r,
               const char *schedule, const char *to_addr, const char *to_name,
               gint64 now)
{
	g_autofree char *title = digest_title(cfg, r, schedule);
	g_autofree char *h =
	    g_compute_checksum_for_string(G_CHECKSUM_SHA256, to_addr, -1);
	g_autofree char *msgid = NULL;
	g_autoptr(GString) text = g_string_new(NULL);
	g_autoptr(GString) html = g_string_new(NULL);
	struct compose_auto hdrs;
	struct mime_out o = {0};

	/* the same id for the same digest and manager: a resend after a
	 * crash between the 250 and the outbox update is recognisable */
	msgid = g_strdup_printf("tickd-digest.%s.%" G_GINT64_FORMAT ".%.16s@%s",
	                        schedule, r->p.from, h, cfg->tickets.domain);
	report_text(r, title, text);
	report_html(r, title, html);
	o.from_name = cfg->smtp.from_name;
	o.from_addr = cfg->smtp.from;
	o.to_name = to_name;
	o.to_addr = to_addr;
	o.subject = title;
	o.text = text->str;
	o.html = html->str;
	o.message_id = msgid;
	o.extra = compose_auto_headers(cfg, "auto-generated", NULL, &hdrs);
	o.date = now;
	return mime_build(&o);
}

/* digest_send - claim and queue one schedule's digest. */
static int
digest_send(const struct cfg *cfg, struct store *st, const char *schedule,
            gint64 now, GPtrArray *managers)
{
	struct report *r = NULL;
	struct sla_policy pol;
	gint64 from, to;
	int rc, queued = 0;

	rc = digest_period(schedule, cfg->report.timezone, cfg->report.hour,
	                   now, &from, &to);
	if (rc < 0)
		return rc;
	if ((rc = store_begin(st)) < 0)
		return rc;
	if ((rc = store_digest_claim(st, schedule, from, to)) <= 0)
		goto out; /* sent before, by us or another instance */
	if ((rc = digest_report(cfg, st, from, to, NULL, NULL, &pol, &r)) < 0)
		goto out;
	for (guint i = 0; i < managers->len; i++) {
		const struct cfg_person *p = managers->pdata[i];
		g_autoptr(GBytes) wire =
		    digest_compose(cfg, r, schedule, p->address, p->name, now);
		gsize len;
		const void *data = g_bytes_get_data(wire, &len);

		rc = store_outbox_add(st, 0, 0, "digest", cfg->smtp.from,
		                      p->address, data, len);
		if (rc < 0)
			goto out;
		queued++;
	}
out:
	report_free(&r);
	if (rc < 0) {
		store_rollback(st);
		return rc;
	}
	if ((rc = store_commit(st)) < 0)
		return rc;
	if (queued > 0)
		log_notice("digest: queued the %s digest for %d manager(s)",
		           schedule, queued);
	return queued;
}

int
digest_tick(const struct cfg *cfg, struct store *st, gint64 now)
{
	g_autoptr(GPtrArray) managers = g_ptr_array_new();
	int r, total = 0;

	if (!cfg->report.daily && !cfg->report.weekly)
		return 0;
	for (guint i = 0; i < cfg->people->len; i++) {
		const struct cfg_person *p = cfg->people->pdata[i];
		if (p->role == CFG_ROLE_MANAGER)
			g_ptr_array_add(managers, (gpointer)p);
	}
	if (managers->len == 0)
		return 0;
	if (cfg->report.daily) {
		if ((r = digest_send(cfg, st, "daily", now, managers)) < 0)
			return r;
		total += r;
	}
	if (cfg->report.weekly) {
		if ((r = digest_send(cfg, st, "weekly", now, managers)) < 0)
			return r;
		total += r;
	}
	return total;
}
