/*
 * assign.c - auto-assignment and away times.  See assign.h.
 */
#include "assign.h"

#include "agentmail.h"
#include "store_assign.h"
#include "store_ingest.h"

#include <stdio.h>
#include <string.h>

void
assign_candidates(const struct cfg *cfg, const char *queue, GPtrArray *out)
{
	for (guint i = 0; i < cfg->people->len; i++) {
		const struct cfg_person *p = cfg->people->pdata[i];

		if (p->role == CFG_ROLE_AGENT && agentmail_covers(p, queue))
			g_ptr_array_add(out, p->address);
	}
}

int
assign_until(const char *date, const char *tz, gint64 *until_r)
{
	unsigned y, m, d;
	GTimeZone *z;
	GDateTime *t;

	if (date == NULL || sscanf(date, "%4u-%2u-%2u", &y, &m, &d) != 3 ||
	    !g_date_valid_dmy((GDateDay)d, (GDateMonth)m, (GDateYear)y))
		return -EINVAL;
	z = tz ? g_time_zone_new_identifier(tz) : NULL;
	if (z == NULL)
		z = g_time_zone_new_utc();
	t = g_date_time_new(z, (gint)y, (gint)m, (gint)d, 0, 0, 0);
	g_time_zone_unref(z);
	if (t == NULL)
		return -EINVAL;
	*until_r = g_date_time_to_unix(t);
	g_date_time_unref(t);
	return 0;
}

int
assign_new_ticket(const struct cfg *cfg, struct store *st, gint64 ticket,
                  gint64 now, const struct cfg_person **p_r)
{
	g_autoptr(GPtrArray) cands = g_ptr_array_new();
	g_autofree char *addr = NULL;
	const struct cfg_person *p;
	int r;

	if (cfg->tickets.auto_assign == CFG_ASSIGN_OFF)
		return 0;
	assign_candidates(cfg, cfg->tickets.queue, cands);
	r = store_assign_pick(
	    st, cfg->tickets.queue,
	    cfg->tickets.auto_assign == CFG_ASSIGN_FEWEST_OPEN,
	    (const char *const *)cands->pdata, cands->len, now, &addr);
	if (r < 0 || addr == NULL || (p = cfg_person(cfg, addr)) == NULL)
		return r;
	if ((r = store_ticket_set_field(st, ticket, "assignee", p->address)) <
	    0)
		return r;
	*p_r = p;
	return 1;
}

int
assign_away(const struct cfg *cfg, struct store *st, const char *addr,
            gint64 now, gint64 until, gint64 *handed_back_r)
{
	gint64 n = 0;
	int r;

	if ((r = store_away_set(st, addr, now, until)) < 0)
		return r;
	if (cfg->agents.away_unassign &&
	    (n = store_away_unassign(st, addr)) < 0)
		return (int)n;
	*handed_back_r = n;
	return 0;
}

int
assign_back(struct store *st, const char *addr, gint64 now)
{
	return store_away_clear(st, addr, now);
}

int
assign_by_mail(const struct cfg *cfg, struct store *st, const char *addr,
               bool away, const char *date, gint64 now, gint64 message,
               GString *answer)
{
	g_autofree char *d = NULL;
	gint64 until = 0, n = 0;
	int r;

	if (!away) {
		if ((r = assign_back(st, addr, now)) < 0)
			return r;
		g_string_append(answer, r ? "Welcome back: new tickets can be "
		                            "assigned to you again.\n\n"
		                          : "You were not away.\n\n");
		return store_event_global(st, addr, "back", NULL, message);
	}
	if (date && (assign_until(date, cfg->report.timezone, &until) < 0 ||
	             until <= now)) {
		g_string_append_printf(answer,
		                       "%s has begun already: nothing "
		                       "changed.\n\n",
		                       date);
		return 0;
	}
	if ((r = assign_away(cfg, st, addr, now, until, &n)) < 0)
		return r;
	d = date ? g_strdup_printf("until %s 00:00 %s", date,
	                           cfg->report.timezone)
	         : g_strdup("until #back");
	g_string_append_printf(answer,
	                       "You are away %s: no new tickets are assigned "
	                       "to you.\n",
	                       d);
	if (n > 0)
		g_string_append_printf(answer,
		                       "%" G_GINT64_FORMAT
		                       " of your open tickets "
		                       "went back to the queue.\n",
		                       n);
	g_string_append_c(answer, '\n');
	return store_event_global(st, addr, "away", d, message);
}
