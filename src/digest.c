/*
 * digest.c - the managers' digest mail.  See digest.h.
 */
#include "digest.h"

#include "action.h"
#include "compose.h"
#include "digestview.h"
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
              const char *queue, const char *agent, const char *members,
              bool unrolled, struct sla_policy *pol, struct report **r_r)
{
	struct report *r = NULL;
	g_autoptr(GPtrArray) names = g_ptr_array_new();
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
	    .by_queue = queue == NULL && members == NULL,
	    .by_agent = agent == NULL,
	    .unrolled = unrolled,
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
	for (guint i = 0; cfg->queues != NULL && i < cfg->queues->len; i++)
		g_ptr_array_add(
		    names, ((struct cfg_queue *)cfg->queues->pdata[i])->name);
	r->fact_fp = report_fingerprint(r, (const char *const *)names->pdata,
	                                names->len);
	if ((rc = store_report_load(st, r, queue, agent, members)) < 0) {
		report_free(&r);
		return rc;
	}
	report_finish(r);
	*r_r = r;
	return 0;
}

static char *
digest_title(const struct cfg *cfg, gint64 from, gint64 to,
             const char *schedule)
{
	g_autoptr(GDateTime) f = g_date_time_new_from_unix_utc(from);
	g_autoptr(GDateTime) t = g_date_time_new_from_unix_utc(to - 1);
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

/* digest_bounds - the trend buckets: n periods of to - from each, the
 * last one [from, to).  Whole days step in local days of tz (a DST day
 * is 23 or 25 hours, as the digest's own period is); other lengths in
 * seconds.  bounds[0..n]. */
static void
digest_bounds(GTimeZone *tz, gint64 from, gint64 to, size_t n, gint64 *bounds)
{
	gint64 len = to - from;
	gint64 days = (len + 43200) / 86400;
	g_autoptr(GDateTime) end = g_date_time_new_from_unix_utc(to);
	g_autoptr(GDateTime) lend =
	    end ? g_date_time_to_timezone(end, tz) : NULL;
	bool local = days >= 1 && ABS(len - days * 86400) <= 3600 && lend;

	for (size_t k = 0; k <= n; k++) {
		if (local) {
			g_autoptr(GDateTime) b = g_date_time_add_days(
			    lend, -(gint)(days * (gint64)k));
			bounds[n - k] = g_date_time_to_unix(b);
		} else
			bounds[n - k] = to - len * (gint64)k;
	}
}

static char *
digest_label(GTimeZone *tz, gint64 from, bool weekly)
{
	g_autoptr(GDateTime) d = g_date_time_new_from_unix_utc(from);
	g_autoptr(GDateTime) l = d ? g_date_time_to_timezone(d, tz) : NULL;

	if (l == NULL)
		return g_strdup("?");
	return g_date_time_format(l, weekly ? "week of %d %b" : "%a %d %b");
}

static gint
digest_load_cmp(gconstpointer a, gconstpointer b)
{
	const struct digestview_load *x = *(const struct digestview_load **)a;
	const struct digestview_load *y = *(const struct digestview_load **)b;

	if (x->open != y->open)
		return x->open > y->open ? -1 : 1;
	return strcmp(x->agent, y->agent);
}

/* digest_time_note - how the times are measured, said once. */
static char *
digest_time_note(const struct cfg *cfg, const char *queues)
{
	g_autofree char *first = NULL;
	const struct sla_calendar *cal;

	if (queues != NULL)
		first = g_strndup(queues, strcspn(queues, "\n"));
	cal = digest_queue_calendar(cfg, first ? first : cfg->tickets.queue);
	if (cal == NULL)
		return g_strdup("Response and resolution times run round the "
		                "clock (no SLA calendar); waiting and lateness "
		                "are wall-clock time.");
	return g_strdup_printf("Response and resolution times are business "
	                       "time of the calendar '%s'; SLA met follows "
	                       "each ticket's SLA policy; waiting and "
	                       "lateness are wall-clock time.",
	                       cal->name);
}

/* digest_link_items - give each listed ticket its "assign it to me" mail
 * link; without a token secret there is no signed link, so none is shown. */
static void
digest_link_items(const struct cfg *cfg, GPtrArray *items)
{
	for (guint i = 0; i < items->len; i++) {
		struct digestview_item *it = items->pdata[i];
		if (cfg->tickets.secret_len > 0)
			it->link = action_link(
			    cfg->tickets.secret, cfg->tickets.secret_len,
			    cfg->tickets.domain, cfg->smtp.from,
			    cfg->tickets.subject_tag, it->ticket,
			    "#assign me\n#priority high\n\n");
	}
}

/* digest_add_idle_agents - a zero row for each agent with nothing open, so
 * the company-wide workload shows every agent and not only the busy ones. */
static void
digest_add_idle_agents(const struct cfg *cfg, GPtrArray *load)
{
	for (guint i = 0; i < cfg->people->len; i++) {
		const struct cfg_person *p = cfg->people->pdata[i];
		bool seen = false;

		if (p->role != CFG_ROLE_AGENT)
			continue;
		for (guint k = 0; k < load->len && !seen; k++)
			seen = g_ascii_strcasecmp(
			           ((struct digestview_load *)load->pdata[k])
			               ->agent,
			           p->address) == 0;
		if (!seen) {
			struct digestview_load *l =
			    g_new0(struct digestview_load, 1);
			l->agent = g_strdup(p->address);
			g_ptr_array_add(load, l);
		}
	}
}

/* digest_scope_label - "all queues", "queue billing", "queues a, b",
 * "team L1", "queue billing and team L1".  g_free. */
static char *
digest_scope_label(const struct digest_scope *sc)
{
	GString *out = g_string_new(NULL);

	if (sc != NULL && sc->queues != NULL) {
		g_auto(GStrv) q = g_strsplit(sc->queues, "\n", -1);
		g_autofree char *j = g_strjoinv(", ", q);

		g_string_append_printf(out, "%s %s", q[1] ? "queues" : "queue",
		                       j);
	}
	if (sc != NULL && sc->members != NULL && sc->teams != NULL)
		g_string_append_printf(
		    out, "%s%s %s", out->len ? " and " : "",
		    strchr(sc->teams, ',') ? "teams" : "team", sc->teams);
	if (out->len == 0)
		g_string_append(out, "all queues");
	return g_string_free(out, FALSE);
}

/* The report page's volume chart: local days of the report's zone from
 * `from` (the first may be partial) to `to`, weeks when that is more than
 * DIGEST_VOL_DAYS days. */
#define DIGEST_VOL_DAYS 92
#define DIGEST_VOL_MAX  (DIGEST_VOL_DAYS + 2)

struct digest_volume {
	gint64 bounds[DIGEST_VOL_MAX + 1];
	gint64 created[DIGEST_VOL_MAX], resolved[DIGEST_VOL_MAX];
	char *label[DIGEST_VOL_MAX];
	size_t n;
};

static void
digest_volume_clear(struct digest_volume *vol)
{
	for (size_t i = 0; i < vol->n; i++)
		g_free(vol->label[i]);
	vol->n = 0;
}

/* digest_volume_load - the buckets of [from, to) and their counts. */
static int
digest_volume_load(GTimeZone *tz, struct store *st,
                   const struct digest_scope *sc, gint64 from, gint64 to,
                   struct digest_volume *vol)
{
	int step = to - from > DIGEST_VOL_DAYS * (gint64)86400 ? 7 : 1;
	gint64 b = from;

	vol->n = 0;
	while (b < to && vol->n < DIGEST_VOL_MAX) {
		g_autoptr(GDateTime) u = g_date_time_new_from_unix_utc(b);
		g_autoptr(GDateTime) l =
		    u ? g_date_time_to_timezone(u, tz) : NULL;
		g_autoptr(GDateTime) day = NULL, next = NULL;
		gint64 e;

		if (l == NULL)
			return -EINVAL;
		day = g_date_time_new(tz, g_date_time_get_year(l),
		                      g_date_time_get_month(l),
		                      g_date_time_get_day_of_month(l), 0, 0, 0);
		next = day ? g_date_time_add_days(day, step) : NULL;
		if (next == NULL)
			return -EINVAL;
		e = MIN(g_date_time_to_unix(next), to);
		if (e <= b)
			e = b + 86400; /* a zone that skips midnight */
		vol->bounds[vol->n] = b;
		vol->label[vol->n] = g_date_time_format(l, "%Y-%m-%d");
		vol->n++;
		b = MIN(e, to);
	}
	vol->bounds[vol->n] = b;
	return store_report_volume(st, sc ? sc->queues : NULL,
	                           sc ? sc->members : NULL, vol->bounds, vol->n,
	                           vol->created, vol->resolved);
}

static int digest_render_view(const struct cfg *cfg, struct store *st,
                              gint64 from, gint64 to, gint64 now,
                              const struct digest_scope *sc, const char *title,
                              GString *text, GString *html, bool full);

int
digest_render(const struct cfg *cfg, struct store *st, gint64 from, gint64 to,
              gint64 now, const struct digest_scope *sc, const char *title,
              GString *text, GString *html)
{
	return digest_render_view(cfg, st, from, to, now, sc, title, text, html,
	                          false);
}

int
digest_render_page(const struct cfg *cfg, struct store *st, gint64 from,
                   gint64 to, gint64 now, const struct digest_scope *sc,
                   const char *title, GString *html)
{
	return digest_render_view(cfg, st, from, to, now, sc, title, NULL, html,
	                          true);
}

static int
digest_render_view(const struct cfg *cfg, struct store *st, gint64 from,
                   gint64 to, gint64 now, const struct digest_scope *sc,
                   const char *title, GString *text, GString *html, bool full)
{
	const char *queues = sc ? sc->queues : NULL;
	const char *members = sc ? sc->members : NULL;
	struct report *reps[DIGESTVIEW_TREND_MAX] = {NULL};
	struct sla_policy pols[DIGESTVIEW_TREND_MAX];
	char *labels[DIGESTVIEW_TREND_MAX] = {NULL};
	gint64 bounds[DIGESTVIEW_TREND_MAX + 1];
	g_autoptr(GPtrArray) items =
	    g_ptr_array_new_with_free_func(digestview_item_free);
	g_autoptr(GPtrArray) load =
	    g_ptr_array_new_with_free_func(digestview_load_free);
	g_autoptr(GTimeZone) tz = g_time_zone_new_identifier(
	    cfg->report.timezone ? cfg->report.timezone : "UTC");
	g_autofree char *note = digest_time_note(cfg, queues);
	g_autofree char *scope = NULL;
	bool weekly = to - from >= 6 * 86400;
	size_t n = weekly ? 8 : 7;
	struct digestview v = {.title = title, .now = now};
	struct report *whole = NULL;
	struct sla_policy wpol;
	struct digest_volume *vol = NULL;
	int rc = 0;

	if (tz == NULL)
		tz = g_time_zone_new_utc();
	digest_bounds(tz, from, to, n, bounds);
	for (size_t i = 0; i < n && rc == 0; i++) {
		rc = digest_report(cfg, st, bounds[i], bounds[i + 1], queues,
		                   NULL, members, false, &pols[i], &reps[i]);
		labels[i] = digest_label(tz, bounds[i], weekly);
		v.trend[i] = reps[i];
		v.trend_label[i] = labels[i];
	}
	v.n_trend = n;
	/* "since the last digest": the same length back from now */
	if (rc == 0)
		rc = store_digest_needs(st, queues, members, now - (to - from),
		                        now, items);
	if (rc == 0)
		rc = store_digest_load(st, queues, members, from, to, load,
		                       &v.unassigned);
	/* the report page: the period itself per queue and agent (its
	 * facts refreshed by that load), and its volume per day */
	if (rc == 0 && full)
		rc = digest_report(cfg, st, from, to, queues, NULL, members,
		                   false, &wpol, &whole);
	if (rc == 0 && full) {
		vol = g_new0(struct digest_volume, 1);
		rc = digest_volume_load(tz, st, sc, from, to, vol);
		v.full = whole;
		v.vol_created = vol->created;
		v.vol_resolved = vol->resolved;
		v.vol_label = (const char *const *)vol->label;
		v.n_vol = vol->n;
	}
	if (rc < 0)
		goto out;
	digest_link_items(cfg, items);
	/* every agent of the whole company shows, also with nothing open */
	if (queues == NULL && members == NULL)
		digest_add_idle_agents(cfg, load);
	g_ptr_array_sort(load, digest_load_cmp);
	scope = digest_scope_label(sc);
	v.scope = scope;
	v.time_note = note;
	v.items = items;
	v.load = load;
	if (text)
		digestview_text(&v, text);
	if (html)
		digestview_html(&v, html);
out:
	for (size_t i = 0; i < n; i++) {
		report_free(&reps[i]);
		g_free(labels[i]);
	}
	report_free(&whole);
	if (vol != NULL) {
		digest_volume_clear(vol);
		g_free(vol);
	}
	return rc;
}

/* digest_person_scope - the queues and teams a manager's digest covers
 * (people.*.queues, people.*.teams); neither: the whole company.  The
 * strings are the caller's to g_free. */
static void
digest_person_scope(const struct cfg *cfg, const struct cfg_person *p,
                    char **queues_r, char **members_r, char **teams_r)
{
	GString *m = NULL;

	*queues_r = *members_r = *teams_r = NULL;
	if (p->queues != NULL && p->queues[0] != NULL)
		*queues_r = g_strjoinv("\n", p->queues);
	for (size_t i = 0; p->teams != NULL && p->teams[i] != NULL; i++) {
		g_autofree char *who = cfg_team_members(cfg, p->teams[i]);

		if (who == NULL)
			continue; /* cfg refuses a team nobody is in */
		if (m == NULL)
			m = g_string_new(who);
		else
			g_string_append_printf(m, "\n%s", who);
	}
	if (m != NULL) {
		*members_r = g_string_free(m, FALSE);
		*teams_r = g_strjoinv(", ", p->teams);
	}
}

GBytes *
digest_compose(const struct cfg *cfg, struct store *st, gint64 from, gint64 to,
               const char *schedule, const struct cfg_person *to_person,
               gint64 now, GHashTable *cache, int *rc_r)
{
	g_autofree char *title = digest_title(cfg, from, to, schedule);
	g_autofree char *h = g_compute_checksum_for_string(
	    G_CHECKSUM_SHA256, to_person->address, -1);
	g_autofree char *msgid = NULL;
	g_autofree char *queues = NULL, *members = NULL, *teams = NULL;
	g_autofree char *tkey = NULL, *hkey = NULL;
	g_autoptr(GString) text = g_string_new(NULL);
	g_autoptr(GString) html = g_string_new(NULL);
	const char *ct, *ch;
	struct digest_scope sc;
	struct compose_auto hdrs;
	struct mime_out o = {0};

	digest_person_scope(cfg, to_person, &queues, &members, &teams);
	sc = (struct digest_scope){
	    .queues = queues, .members = members, .teams = teams};
	/* queue names and team names hold no newline or unit separator */
	tkey = g_strdup_printf("t:%s\x1f%s", queues ? queues : "",
	                       teams ? teams : "");
	hkey = g_strdup_printf("h:%s\x1f%s", queues ? queues : "",
	                       teams ? teams : "");
	ct = cache ? g_hash_table_lookup(cache, tkey) : NULL;
	ch = cache ? g_hash_table_lookup(cache, hkey) : NULL;
	*rc_r = 0;
	if (ct != NULL && ch != NULL) {
		/* managers of the same queues and teams get the same page */
		g_string_assign(text, ct);
		g_string_assign(html, ch);
	} else {
		*rc_r = digest_render(cfg, st, from, to, now, &sc, title, text,
		                      html);
		if (*rc_r < 0)
			return NULL;
		if (cache != NULL) {
			g_hash_table_insert(cache, g_steal_pointer(&tkey),
			                    g_strdup(text->str));
			g_hash_table_insert(cache, g_steal_pointer(&hkey),
			                    g_strdup(html->str));
		}
	}
	/* the same id for the same digest and manager: a resend after a
	 * crash between the 250 and the outbox update is recognisable */
	msgid = g_strdup_printf("tickd-digest.%s.%" G_GINT64_FORMAT ".%.16s@%s",
	                        schedule, from, h, cfg->tickets.domain);
	o.from_name = cfg->smtp.from_name;
	o.from_addr = cfg->smtp.from;
	o.to_name = to_person->name;
	o.to_addr = to_person->address;
	o.subject = title;
	o.text = text->str;
	o.html = html->str;
	o.message_id = msgid;
	o.extra = compose_auto_headers(cfg, "auto-generated", NULL, &hdrs);
	o.date = now;
	return mime_build(&o);
}

/* digest_send - claim and queue one schedule's digest: one mail per
 * manager, each for the queues that manager is responsible for. */
static int
digest_send(const struct cfg *cfg, struct store *st, const char *schedule,
            gint64 now, GPtrArray *managers)
{
	g_autoptr(GHashTable) cache =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
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
	for (guint i = 0; i < managers->len; i++) {
		const struct cfg_person *p = managers->pdata[i];
		g_autoptr(GBytes) wire = digest_compose(
		    cfg, st, from, to, schedule, p, now, cache, &rc);
		gsize len;
		const void *data;

		if (wire == NULL)
			goto out;
		data = g_bytes_get_data(wire, &len);
		rc = store_outbox_add(st, 0, 0, "digest", cfg->smtp.from,
		                      p->address, data, len);
		if (rc < 0)
			goto out;
		queued++;
	}
out:
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
