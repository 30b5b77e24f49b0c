/*
 * digestview.c - the managers' digest as a person reads it.  See
 * digestview.h.
 */
#include "digestview.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DIGESTVIEW_LIST_MAX                                                    \
	5 /* lines per "needs you" section: the first                          \
	   * screen of a phone holds the worst ones */
#define DIGESTVIEW_SVG_W 120
#define DIGESTVIEW_SVG_H 32

void
digestview_item_free(gpointer p)
{
	struct digestview_item *it = p;

	if (it == NULL)
		return;
	g_free(it->customer);
	g_free(it->subject);
	g_free(it->holder);
	g_free(it->what);
	g_free(it->link);
	g_free(it);
}

void
digestview_load_free(gpointer p)
{
	struct digestview_load *l = p;

	if (l == NULL)
		return;
	g_free(l->agent);
	g_free(l);
}

char *
digestview_duration(gint64 s)
{
	gint64 d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60;

	if (s < 0)
		return g_strdup("-");
	if (s < 60)
		return g_strdup_printf("%" G_GINT64_FORMAT " s", s);
	if (s < 3600)
		return g_strdup_printf("%" G_GINT64_FORMAT " min", m);
	if (d == 0)
		return m ? g_strdup_printf("%" G_GINT64_FORMAT
		                           " h %" G_GINT64_FORMAT " min",
		                           h, m)
		         : g_strdup_printf("%" G_GINT64_FORMAT " h", h);
	return h ? g_strdup_printf(
	               "%" G_GINT64_FORMAT " d %" G_GINT64_FORMAT " h", d, h)
	         : g_strdup_printf("%" G_GINT64_FORMAT " d", d);
}

char *
digestview_pct(gint64 num, gint64 den)
{
	if (den <= 0)
		return g_strdup("no data (0)");
	return g_strdup_printf("%.0f%% of %" G_GINT64_FORMAT,
	                       floor(100.0 * (double)num / (double)den + 0.5),
	                       den);
}

bool
digestview_overloaded(gint64 open, double mean)
{
	return (double)open > 1.5 * mean && (double)open >= mean + 3;
}

/* ---- the "needs you" sections ------------------------------------- */

static const struct {
	const char *title;
	bool newest_first; /* ratings, escalations: the latest first */
} digestview_sections[DIGESTVIEW__KINDS] = {
    [DIGESTVIEW_BREACH] = {"In breach", false},
    [DIGESTVIEW_AT_RISK] = {"About to breach", false},
    [DIGESTVIEW_BAD_RATING] = {"Bad ratings", true},
    [DIGESTVIEW_ESCALATION] = {"Escalations", true},
    [DIGESTVIEW_WAITING] = {"Waiting longest for us", false},
};

static gint
digestview_cmp(gconstpointer a, gconstpointer b)
{
	const struct digestview_item *x = *(const struct digestview_item **)a;
	const struct digestview_item *y = *(const struct digestview_item **)b;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if (x->at != y->at) {
		bool newest = digestview_sections[x->kind].newest_first;
		return (x->at < y->at) != newest ? -1 : 1;
	}
	return x->ticket < y->ticket ? -1 : x->ticket > y->ticket;
}

/* digestview_sorted - the items by section and urgency (borrowed). */
static GPtrArray *
digestview_sorted(const struct digestview *v)
{
	GPtrArray *a = g_ptr_array_new();

	for (guint i = 0; v->items != NULL && i < v->items->len; i++) {
		const struct digestview_item *it = v->items->pdata[i];
		if (it->kind >= 0 && it->kind < DIGESTVIEW__KINDS)
			g_ptr_array_add(a, v->items->pdata[i]);
	}
	g_ptr_array_sort(a, digestview_cmp);
	return a;
}

/* digestview_when - "2 h 10 min late", "due in 40 min", "3 h ago",
 * "waiting 3 d 4 h" for an item at now.  g_free. */
static char *
digestview_when(const struct digestview_item *it, gint64 now)
{
	g_autofree char *d = digestview_duration(ABS(now - it->at));

	switch (it->kind) {
	case DIGESTVIEW_BREACH:
		return g_strdup_printf("%s late", d);
	case DIGESTVIEW_AT_RISK:
		return it->at > now ? g_strdup_printf("due in %s", d)
		                    : g_strdup("due now");
	case DIGESTVIEW_WAITING:
		return g_strdup_printf("waiting %s", d);
	default:
		return g_strdup_printf("%s ago", d);
	}
}

/* digestview_meta - "Customer · held by alice · 2 h late (resolution)". */
static char *
digestview_meta(const struct digestview_item *it, gint64 now)
{
	g_autofree char *when = digestview_when(it, now);
	GString *s = g_string_new(it->customer ? it->customer : "?");

	g_string_append_printf(s, " · %s%s · %s", it->holder ? "held by " : "",
	                       it->holder ? it->holder : "nobody holds it",
	                       when);
	if ((it->kind == DIGESTVIEW_BREACH || it->kind == DIGESTVIEW_AT_RISK) &&
	    it->what != NULL)
		g_string_append_printf(s, " (%s)", it->what);
	return g_string_free(s, FALSE);
}

/* ---- trends --------------------------------------------------------- */

enum { DV_COUNT, DV_SECS, DV_PCT };

static const struct digestview_kpi {
	const char *key; /* report_metric / JSON name */
	const char *label;
	int fmt;
	int better; /* +1: up is better, -1: down is better, 0: neither */
} digestview_kpis[] = {
    {"created", "Created", DV_COUNT, 0},
    {"resolved", "Resolved", DV_COUNT, 1},
    {"backlog", "Backlog", DV_COUNT, -1},
    {"first_response_median_s", "First response (median)", DV_SECS, -1},
    {"resolution_median_s", "Resolution (median)", DV_SECS, -1},
    {"sla_met_pct", "SLA met", DV_PCT, 1},
    {"csat_pct", "CSAT satisfied", DV_PCT, 1},
    {"reopen_pct", "Reopened", DV_PCT, -1},
};

/* digestview_den - the count a percentage KPI is "of". */
static gint64
digestview_den(const struct report_kpi *k, const char *key)
{
	if (strcmp(key, "sla_met_pct") == 0)
		return k->sla_n;
	if (strcmp(key, "csat_pct") == 0)
		return k->csat_good + k->csat_okay + k->csat_bad;
	return k->resolved;
}

static const struct report_kpi *
digestview_cur(const struct report *r, bool prev)
{
	const struct report_group *g = r->groups->pdata[0];

	return prev ? &g->prev : &g->cur;
}

/* digestview_value_str - one KPI value as a person reads it. */
static char *
digestview_value_str(const struct digestview_kpi *d, const struct report_kpi *k)
{
	double v = report_metric(k, d->key);
	gint64 den = digestview_den(k, d->key);

	if (d->fmt == DV_PCT)
		return v < 0 ? g_strdup("no data")
		             : g_strdup_printf("%.0f%% of %" G_GINT64_FORMAT,
		                               floor(v + 0.5), den);
	if (v < 0)
		return g_strdup("no data");
	if (d->fmt == DV_SECS)
		return digestview_duration((gint64)v);
	return g_strdup_printf("%.0f", v);
}

/* digestview_change - "+2 (was 3)", "-5 min (was 1 h)", "+3 points (was
 * 89%)", "same as before", or "nothing to compare".  *sign_r: +1 better,
 * -1 worse, 0 neither. */
static char *
digestview_change(const struct digestview_kpi *d, const struct report *r,
                  int *sign_r)
{
	double c = report_metric(digestview_cur(r, false), d->key);
	double p = report_metric(digestview_cur(r, true), d->key);
	double diff = c - p;
	g_autofree char *was = NULL, *delta = NULL;

	*sign_r = 0;
	if (c < 0 || p < 0)
		return g_strdup("nothing to compare");
	if (fabs(diff) < 0.5)
		return g_strdup("same as before");
	*sign_r = d->better == 0 ? 0 : (diff > 0) == (d->better > 0) ? 1 : -1;
	if (d->fmt == DV_SECS) {
		g_autofree char *a = digestview_duration((gint64)fabs(diff));
		was = digestview_duration((gint64)p);
		delta = g_strdup_printf("%s%s", diff > 0 ? "+" : "-", a);
	} else if (d->fmt == DV_PCT) {
		was = g_strdup_printf("%.0f%%", floor(p + 0.5));
		delta = g_strdup_printf("%+.0f points", diff);
	} else {
		was = g_strdup_printf("%.0f", p);
		delta = g_strdup_printf("%+.0f", diff);
	}
	return g_strdup_printf("%s (was %s)", delta, was);
}

/* digestview_series - the KPI's value per bucket; returns the max. */
static double
digestview_series(const struct digestview *v, const char *key, double *vals)
{
	double max = 0;

	for (size_t i = 0; i < v->n_trend; i++) {
		vals[i] =
		    report_metric(digestview_cur(v->trend[i], false), key);
		if (vals[i] > max)
			max = vals[i];
	}
	return max;
}

static void
digestview_fmt_num(GString *out, double x, int fmt)
{
	if (x < 0)
		return; /* no data: empty */
	if (fmt == DV_PCT)
		g_string_append_printf(out, "%.1f", x);
	else
		g_string_append_printf(out, "%.0f", x);
}

static void
digestview_esc(GString *out, const char *s)
{
	g_autofree char *e = g_markup_escape_text(s ? s : "", -1);

	g_string_append(out, e);
}

/* digestview_svg - a bar per bucket, scaled to the series' largest value
 * (percentages to 100); no data draws nothing, 0 a hairline. */
static void
digestview_svg(const struct digestview *v, const struct digestview_kpi *d,
               GString *out)
{
	double vals[DIGESTVIEW_TREND_MAX];
	double max = digestview_series(v, d->key, vals);
	double slot = (double)DIGESTVIEW_SVG_W / (double)MAX(v->n_trend, 1);
	double bw = MAX(slot - 3, 2);
	const int base = DIGESTVIEW_SVG_H - 2;

	if (d->fmt == DV_PCT)
		max = 100;
	g_string_append_printf(out,
	                       "<svg xmlns=\"http://www.w3.org/2000/svg\" "
	                       "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d "
	                       "%d\" role=\"img\" data-kpi=\"%s\" "
	                       "data-values=\"",
	                       DIGESTVIEW_SVG_W, DIGESTVIEW_SVG_H,
	                       DIGESTVIEW_SVG_W, DIGESTVIEW_SVG_H, d->key);
	for (size_t i = 0; i < v->n_trend; i++) {
		if (i)
			g_string_append_c(out, ',');
		digestview_fmt_num(out, vals[i], d->fmt);
	}
	g_string_append(out, "\" style=\"display:block\"><title>");
	digestview_esc(out, d->label);
	g_string_append(out, "</title>");
	g_string_append_printf(out,
	                       "<line x1=\"0\" y1=\"%d.5\" x2=\"%d\" "
	                       "y2=\"%d.5\" stroke=\"#cbd5e0\" "
	                       "stroke-width=\"1\"/>",
	                       base, DIGESTVIEW_SVG_W, base);
	for (size_t i = 0; i < v->n_trend; i++) {
		g_autofree char *vs = NULL;
		double h;

		if (vals[i] < 0)
			continue;
		h = max > 0 ? (double)(base - 2) * vals[i] / max : 0;
		if (h < 1.5)
			h = 1.5; /* a visible hairline for 0 */
		vs = d->fmt == DV_SECS
		         ? digestview_duration((gint64)vals[i])
		         : g_strdup_printf(d->fmt == DV_PCT ? "%.1f%%" : "%.0f",
		                           vals[i]);
		g_string_append_printf(
		    out,
		    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
		    "height=\"%.1f\" fill=\"%s\"><title>",
		    slot * (double)i + 1, (double)base - h, bw, h,
		    i + 1 == v->n_trend ? "#2b6cb0" : "#90cdf4");
		digestview_esc(out, v->trend_label[i] ? v->trend_label[i] : "");
		g_string_append_printf(out, ": %s</title></rect>", vs);
	}
	g_string_append(out, "</svg>");
}

/* digestview_spark - the text part's chart: one block per bucket. */
static void
digestview_spark(const struct digestview *v, const struct digestview_kpi *d,
                 GString *out)
{
	static const char *const blocks[] = {"▁", "▂", "▃", "▄",
	                                     "▅", "▆", "▇", "█"};
	double vals[DIGESTVIEW_TREND_MAX];
	double max = digestview_series(v, d->key, vals);

	if (d->fmt == DV_PCT)
		max = 100;
	for (size_t i = 0; i < v->n_trend; i++) {
		int b;

		if (vals[i] < 0) {
			g_string_append(out, "·");
			continue;
		}
		b = max > 0 ? (int)lround(7.0 * vals[i] / max) : 0;
		g_string_append(out, blocks[CLAMP(b, 0, 7)]);
	}
}

static const char *
digestview_period_word(const struct digestview *v)
{
	if (v->n_trend == 0)
		return "period";
	return v->trend[0]->p.to - v->trend[0]->p.from >= 7 * 86400 ? "week"
	                                                            : "day";
}

/* ---- workload ------------------------------------------------------- */

static double
digestview_mean_open(const struct digestview *v)
{
	gint64 sum = 0;

	if (v->load == NULL || v->load->len == 0)
		return 0;
	for (guint i = 0; i < v->load->len; i++)
		sum += ((struct digestview_load *)v->load->pdata[i])->open;
	return (double)sum / (double)v->load->len;
}

static bool
digestview_has_load(const struct digestview *v)
{
	return (v->load != NULL && v->load->len > 0) || v->unassigned > 0;
}

/* ---- text ----------------------------------------------------------- */

/* digestview_text_trends - one sparkline line per KPI (needs n_trend > 0). */
static void
digestview_text_trends(const struct digestview *v, GString *out)
{
	g_string_append_printf(out,
	                       "\nTRENDS (last %zu %ss, oldest "
	                       "first; latest vs the %s before)\n",
	                       v->n_trend, digestview_period_word(v),
	                       digestview_period_word(v));
	for (size_t i = 0; i < ARRAY_SIZE(digestview_kpis); i++) {
		const struct digestview_kpi *d = &digestview_kpis[i];
		const struct report *last = v->trend[v->n_trend - 1];
		g_autofree char *val =
		    digestview_value_str(d, digestview_cur(last, false));
		int sign;
		g_autofree char *chg = digestview_change(d, last, &sign);

		g_string_append_printf(out, "  %-24s ", d->label);
		digestview_spark(v, d, out);
		g_string_append_printf(out, "  %s, %s\n", val, chg);
	}
}

/* digestview_text_load - open tickets and responses per agent, with the
 * backlog nobody owns (only when digestview_has_load). */
static void
digestview_text_load(const struct digestview *v, GString *out)
{
	double mean = digestview_mean_open(v);

	g_string_append(out, "\nWORKLOAD (open now; responses in "
	                     "the period)\n");
	for (guint i = 0; v->load && i < v->load->len; i++) {
		const struct digestview_load *l = v->load->pdata[i];
		g_string_append_printf(
		    out,
		    "  %-32s %4" G_GINT64_FORMAT " open %4" G_GINT64_FORMAT
		    " responses%s\n",
		    l->agent, l->open, l->responses,
		    digestview_overloaded(l->open, mean) ? "  OVERLOADED" : "");
	}
	g_string_append_printf(
	    out, "  Unassigned backlog: %" G_GINT64_FORMAT "\n", v->unassigned);
}

void
digestview_text(const struct digestview *v, GString *out)
{
	g_autoptr(GPtrArray) items = digestview_sorted(v);
	int kind = -1, shown = 0;
	guint n_kind = 0;

	g_string_append_printf(out, "%s\nFor: %s\n\n", v->title, v->scope);
	g_string_append(out, "NEEDS YOU\n");
	if (items->len == 0)
		g_string_append(out, "All quiet: nothing in breach, no bad "
		                     "ratings, no escalations, nobody "
		                     "waiting.\n");
	for (guint i = 0; i < items->len; i++) {
		const struct digestview_item *it = items->pdata[i];
		g_autofree char *meta = NULL;

		if (it->kind != kind) {
			guint n = 0;
			for (guint j = i; j < items->len; j++)
				n += ((struct digestview_item *)items->pdata[j])
				         ->kind == it->kind;
			kind = it->kind;
			n_kind = n;
			shown = 0;
			g_string_append_printf(out, "\n%s (%u)\n",
			                       digestview_sections[kind].title,
			                       n);
		}
		if (shown++ >= DIGESTVIEW_LIST_MAX) {
			if (shown == DIGESTVIEW_LIST_MAX + 1)
				g_string_append_printf(
				    out,
				    "  ... and %u more (tickctl tickets)\n",
				    n_kind - DIGESTVIEW_LIST_MAX);
			continue;
		}
		meta = digestview_meta(it, v->now);
		g_string_append_printf(
		    out, "- #%" G_GINT64_FORMAT " %s\n  %s\n", it->ticket,
		    it->subject ? it->subject : "", meta);
		if (it->kind == DIGESTVIEW_BAD_RATING)
			g_string_append_printf(
			    out, "  Comment: %s\n",
			    it->what && *it->what ? it->what : "(none)");
		if (it->kind == DIGESTVIEW_ESCALATION && it->what)
			g_string_append_printf(out, "  %s\n", it->what);
		if (it->link)
			g_string_append_printf(out, "  Act by mail: <%s>\n",
			                       it->link);
	}

	if (v->n_trend > 0)
		digestview_text_trends(v, out);
	if (digestview_has_load(v))
		digestview_text_load(v, out);
	g_string_append_printf(out,
	                       "\n%s\n-- \nThis is an automatic report "
	                       "from tickd.\n",
	                       v->time_note ? v->time_note : "");
}

/* ---- HTML ----------------------------------------------------------- */

#define DV_H2                                                                  \
	"<h2 style=\"font-size:17px;margin:20px 0 6px;padding-bottom:4px;"     \
	"border-bottom:2px solid #e2e8f0\">"

static void
digestview_html_item(const struct digestview *v,
                     const struct digestview_item *it, GString *out)
{
	g_autofree char *meta = digestview_meta(it, v->now);

	g_string_append_printf(out,
	                       "<div class=\"item\" data-kind=\"%d\" "
	                       "data-ticket=\"%" G_GINT64_FORMAT "\" "
	                       "style=\"padding:5px 0;border-top:1px solid "
	                       "#edf2f7;font-size:15px\"><b>#%" G_GINT64_FORMAT
	                       "</b> ",
	                       it->kind, it->ticket, it->ticket);
	digestview_esc(out, it->subject);
	if (it->kind == DIGESTVIEW_BAD_RATING ||
	    it->kind == DIGESTVIEW_ESCALATION) {
		g_string_append_printf(
		    out,
		    "<span style=\"display:block;margin:2px 0;padding:2px "
		    "8px;border-left:3px solid %s;font-size:14px\">",
		    it->kind == DIGESTVIEW_BAD_RATING ? "#c53030;background:"
		                                        "#fff5f5"
		                                      : "#a0aec0");
		digestview_esc(out, it->what && *it->what ? it->what
		                                          : "(no comment)");
		g_string_append(out, "</span>");
	}
	/* one small line: who, holder, how late, and the action */
	g_string_append(out, "<span style=\"display:block;color:#4a5568;"
	                     "font-size:12px\">");
	digestview_esc(out, meta);
	if (it->link) {
		g_string_append(out, " · <a style=\"color:#2b6cb0\" href=\"");
		digestview_esc(out, it->link);
		g_string_append(out, "\">assign / raise by mail</a>");
	}
	g_string_append(out, "</span></div>\n");
}

static void
digestview_html_needs(const struct digestview *v, GString *out)
{
	g_autoptr(GPtrArray) items = digestview_sorted(v);
	int kind = -1, shown = 0;
	guint n_kind = 0;

	g_string_append(out, "<section id=\"needs\">\n");
	if (items->len == 0)
		g_string_append(out,
		                "<p id=\"quiet\" style=\"font-size:15px;"
		                "padding:10px;background:#f0fff4;"
		                "border-radius:6px\">All quiet: nothing in "
		                "breach, no bad ratings, no escalations, "
		                "nobody waiting.</p>\n");
	for (guint i = 0; i < items->len; i++) {
		const struct digestview_item *it = items->pdata[i];

		if (it->kind != kind) {
			guint n = 0;
			for (guint j = i; j < items->len; j++)
				n += ((struct digestview_item *)items->pdata[j])
				         ->kind == it->kind;
			kind = it->kind;
			n_kind = n;
			shown = 0;
			g_string_append_printf(
			    out,
			    DV_H2 "<span style=\"color:%s\">%s</span> "
			          "(%u)</h2>\n",
			    kind <= DIGESTVIEW_BAD_RATING ? "#c53030" : "#222",
			    digestview_sections[kind].title, n);
		}
		if (shown++ >= DIGESTVIEW_LIST_MAX) {
			if (shown == DIGESTVIEW_LIST_MAX + 1)
				g_string_append_printf(
				    out,
				    "<p style=\"font-size:12px;color:#718096;"
				    "margin:2px 0\">... and %u more (tickctl "
				    "tickets)</p>\n",
				    n_kind - DIGESTVIEW_LIST_MAX);
			continue;
		}
		digestview_html_item(v, it, out);
	}
	g_string_append(out, "</section>\n");
}

static void
digestview_html_trends(const struct digestview *v, GString *out)
{
	const struct report *last;

	if (v->n_trend == 0)
		return;
	last = v->trend[v->n_trend - 1];
	g_string_append_printf(out,
	                       "<section id=\"trends\">\n" DV_H2
	                       "Trends</h2>\n<p style=\"font-size:12px;"
	                       "color:#718096;margin:0 0 6px\">Last %zu "
	                       "%ss, oldest first; the latest against the "
	                       "%s before.</p>\n<table role=\"presentation\" "
	                       "width=\"100%%\" cellpadding=\"0\" "
	                       "cellspacing=\"0\" style=\"border-collapse:"
	                       "collapse\">\n",
	                       v->n_trend, digestview_period_word(v),
	                       digestview_period_word(v));
	for (size_t i = 0; i < ARRAY_SIZE(digestview_kpis); i++) {
		const struct digestview_kpi *d = &digestview_kpis[i];
		g_autofree char *val =
		    digestview_value_str(d, digestview_cur(last, false));
		int sign;
		g_autofree char *chg = digestview_change(d, last, &sign);

		g_string_append(out, "<tr style=\"border-top:1px solid "
		                     "#edf2f7\"><td style=\"padding:6px 0\">"
		                     "<div style=\"font-size:13px;color:"
		                     "#4a5568\">");
		digestview_esc(out, d->label);
		g_string_append(out, "</div><div style=\"font-size:17px;"
		                     "font-weight:bold\">");
		digestview_esc(out, val);
		g_string_append_printf(out,
		                       "</div><div style=\"font-size:12px;"
		                       "color:%s\">",
		                       sign > 0   ? "#2f855a"
		                       : sign < 0 ? "#c53030"
		                                  : "#718096");
		digestview_esc(out, chg);
		g_string_append(out, "</div></td><td align=\"right\" "
		                     "style=\"padding:6px 0;width:124px\">");
		digestview_svg(v, d, out);
		g_string_append(out, "</td></tr>\n");
	}
	g_string_append(out, "</table>\n</section>\n");
}

/* ---- the report page: volume by day, per queue and per agent ---- */

#define DV_VOL_W 600 /* viewBox units; the <svg> is as wide as the page */
#define DV_VOL_H 150

/* digestview_html_volume - created (dark) and resolved (light) side by
 * side per bucket, scaled to the largest of both series. */
static void
digestview_html_volume(const struct digestview *v, GString *out)
{
	gint64 max = 1;
	double slot, bw;
	const int base = DV_VOL_H - 2;

	if (v->n_vol == 0)
		return;
	for (size_t i = 0; i < v->n_vol; i++)
		max = MAX(max, MAX(v->vol_created[i], v->vol_resolved[i]));
	slot = (double)DV_VOL_W / (double)v->n_vol;
	bw = MAX(slot / 2 - 0.5, 0.6);
	g_string_append(out, "<section id=\"volume\">\n" DV_H2
	                     "Volume by day</h2>\n<p style=\"font-size:12px;"
	                     "color:#718096;margin:0 0 6px\"><span style=\""
	                     "color:#2b6cb0\">&#9632;</span> created "
	                     "<span style=\"color:#90cdf4\">&#9632;</span> "
	                     "resolved</p>\n<svg xmlns=\"http://www.w3.org/"
	                     "2000/svg\" width=\"100%\" ");
	g_string_append_printf(out,
	                       "viewBox=\"0 0 %d %d\" preserveAspectRatio="
	                       "\"none\" role=\"img\" data-chart=\"volume\" "
	                       "style=\"display:block;height:%dpx\" "
	                       "data-labels=\"",
	                       DV_VOL_W, DV_VOL_H, DV_VOL_H);
	for (size_t i = 0; i < v->n_vol; i++) {
		if (i)
			g_string_append_c(out, ',');
		digestview_esc(out, v->vol_label[i]);
	}
	g_string_append(out, "\" data-created=\"");
	for (size_t i = 0; i < v->n_vol; i++)
		g_string_append_printf(out, "%s%" G_GINT64_FORMAT, i ? "," : "",
		                       v->vol_created[i]);
	g_string_append(out, "\" data-resolved=\"");
	for (size_t i = 0; i < v->n_vol; i++)
		g_string_append_printf(out, "%s%" G_GINT64_FORMAT, i ? "," : "",
		                       v->vol_resolved[i]);
	g_string_append(out, "\"><title>Tickets created and resolved per "
	                     "day</title>");
	g_string_append_printf(out,
	                       "<line x1=\"0\" y1=\"%d.5\" x2=\"%d\" "
	                       "y2=\"%d.5\" stroke=\"#cbd5e0\"/>",
	                       base, DV_VOL_W, base);
	for (size_t i = 0; i < v->n_vol; i++) {
		for (int k = 0; k < 2; k++) {
			gint64 n = k ? v->vol_resolved[i] : v->vol_created[i];
			double h = (double)(base - 2) * (double)n / (double)max;

			if (h < 1)
				h = 1;
			g_string_append_printf(
			    out,
			    "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" "
			    "height=\"%.2f\" fill=\"%s\"><title>",
			    slot * (double)i + (k ? bw : 0), (double)base - h,
			    bw, h, k ? "#90cdf4" : "#2b6cb0");
			digestview_esc(out, v->vol_label[i]);
			g_string_append_printf(out,
			                       ": %" G_GINT64_FORMAT
			                       " %s</title>"
			                       "</rect>",
			                       n, k ? "resolved" : "created");
		}
	}
	/* the first and the last day under the bars, as HTML: text in an
	 * SVG stretched to the page's width would be stretched too */
	g_string_append(out, "</svg>\n<div style=\"display:flex;justify-"
	                     "content:space-between;font-size:12px;color:"
	                     "#718096\"><span>");
	digestview_esc(out, v->vol_label[0]);
	g_string_append(out, "</span><span>");
	digestview_esc(out, v->vol_label[v->n_vol - 1]);
	g_string_append(out, "</span></div>\n</section>\n");
}

/* The KPIs charted per queue and per agent on the report page. */
static const struct digestview_kpi digestview_group_kpis[] = {
    {"created", "Created", DV_COUNT, 0},
    {"resolved", "Resolved", DV_COUNT, 1},
    {"backlog", "Backlog at the end", DV_COUNT, -1},
    {"backlog_age_median_s", "Backlog age (median)", DV_SECS, -1},
    {"first_response_median_s", "First response (median)", DV_SECS, -1},
    {"first_response_p90_s", "First response (p90)", DV_SECS, -1},
    {"resolution_median_s", "Resolution (median)", DV_SECS, -1},
    {"resolution_p90_s", "Resolution (p90)", DV_SECS, -1},
    {"sla_met_pct", "SLA met", DV_PCT, 1},
    {"csat_pct", "CSAT satisfied", DV_PCT, 1},
};

/* digestview_group_chart - one KPI for every group of kind: a row per
 * group with its name, a bar and the value as a person reads it. */
static void
digestview_group_chart(const struct report *r, int kind, const char *kname,
                       const struct digestview_kpi *d, GString *out)
{
	double max = d->fmt == DV_PCT ? 100 : 0;

	for (guint i = 0; d->fmt != DV_PCT && i < r->groups->len; i++) {
		const struct report_group *g = r->groups->pdata[i];

		if (g->kind == kind)
			max = MAX(max, report_metric(&g->cur, d->key));
	}
	g_string_append_printf(
	    out,
	    "<h3 style=\"font-size:14px;margin:12px 0 2px\">"
	    "%s</h3>\n<table data-chart=\"%s:%s\" "
	    "width=\"100%%\" cellpadding=\"2\" "
	    "cellspacing=\"0\" style=\"border-collapse:"
	    "collapse;font-size:13px;table-layout:fixed\">\n",
	    d->label, kname, d->key);
	for (guint i = 0; i < r->groups->len; i++) {
		const struct report_group *g = r->groups->pdata[i];
		double x;
		g_autofree char *vs = NULL;

		if (g->kind != kind)
			continue;
		x = report_metric(&g->cur, d->key);
		vs = digestview_value_str(d, &g->cur);
		g_string_append(out, "<tr data-name=\"");
		digestview_esc(out, g->name);
		g_string_append(out, "\" data-value=\"");
		digestview_fmt_num(out, x, d->fmt);
		g_string_append(out, "\"><td style=\"width:34%;overflow:hidden;"
		                     "text-overflow:ellipsis;white-space:nowrap"
		                     "\">");
		digestview_esc(out, g->name);
		g_string_append_printf(
		    out,
		    "</td><td><svg xmlns=\"http://www.w3.org/2000/svg\" "
		    "width=\"100%%\" height=\"14\" viewBox=\"0 0 100 14\" "
		    "preserveAspectRatio=\"none\" style=\"display:block\">"
		    "<rect x=\"0\" y=\"1\" width=\"100\" height=\"12\" "
		    "fill=\"#edf2f7\"/><rect x=\"0\" y=\"1\" width=\"%.2f\" "
		    "height=\"12\" fill=\"#2b6cb0\"/></svg></td><td "
		    "style=\"width:30%%;text-align:right;white-space:nowrap\">",
		    x > 0 && max > 0 ? MAX(100.0 * x / max, 1.0) : 0.0);
		digestview_esc(out, vs);
		g_string_append(out, "</td></tr>\n");
	}
	g_string_append(out, "</table>\n");
}

/* digestview_html_groups - every charted KPI per queue or per agent. */
static void
digestview_html_groups(const struct digestview *v, int kind, GString *out)
{
	const char *kname = kind == REPORT_QUEUE ? "queue" : "agent";
	bool any = false;

	for (guint i = 0; i < v->full->groups->len && !any; i++)
		any = ((const struct report_group *)v->full->groups->pdata[i])
		          ->kind == kind;
	if (!any)
		return;
	g_string_append_printf(out,
	                       "<section id=\"by-%s\">\n" DV_H2 "Per %s</h2>\n",
	                       kname, kname);
	for (size_t i = 0; i < ARRAY_SIZE(digestview_group_kpis); i++)
		digestview_group_chart(v->full, kind, kname,
		                       &digestview_group_kpis[i], out);
	g_string_append(out, "</section>\n");
}

static void
digestview_html_load(const struct digestview *v, GString *out)
{
	double mean = digestview_mean_open(v);

	if (!digestview_has_load(v))
		return;
	g_string_append(out, "<section id=\"workload\">\n" DV_H2
	                     "Workload</h2>\n<table width=\"100%\" "
	                     "cellpadding=\"4\" cellspacing=\"0\" style=\""
	                     "border-collapse:collapse;font-size:14px\">\n"
	                     "<tr style=\"color:#718096;font-size:12px\"><th "
	                     "align=\"left\">Agent</th><th align=\"right\">"
	                     "Open now</th><th align=\"right\">Responses"
	                     "</th></tr>\n");
	for (guint i = 0; v->load && i < v->load->len; i++) {
		const struct digestview_load *l = v->load->pdata[i];
		bool over = digestview_overloaded(l->open, mean);

		g_string_append(out, "<tr style=\"border-top:1px solid "
		                     "#edf2f7\"><td style=\"word-break:"
		                     "break-all\">");
		digestview_esc(out, l->agent);
		if (over)
			g_string_append(out, " <b style=\"color:#c53030\">"
			                     "overloaded</b>");
		g_string_append_printf(
		    out,
		    "</td><td align=\"right\">%" G_GINT64_FORMAT
		    "</td><td align=\"right\">%" G_GINT64_FORMAT "</td></tr>\n",
		    l->open, l->responses);
	}
	g_string_append_printf(out,
	                       "<tr style=\"border-top:1px solid #edf2f7\">"
	                       "<td><i>Unassigned backlog</i></td><td "
	                       "align=\"right\">%" G_GINT64_FORMAT
	                       "</td><td></td></tr>\n</table>\n</section>\n",
	                       v->unassigned);
}

void
digestview_html(const struct digestview *v, GString *out)
{
	g_string_append(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta "
	                     "charset=\"utf-8\"><meta name=\"viewport\" "
	                     "content=\"width=device-width, initial-scale=1\">"
	                     "<title>");
	digestview_esc(out, v->title);
	g_string_append(out, "</title></head>\n<body style=\"margin:0;"
	                     "padding:12px;font-family:-apple-system,"
	                     "'Segoe UI',Arial,Helvetica,sans-serif;color:"
	                     "#1a202c;background:#fff;line-height:1.35\">\n"
	                     "<div style=\"max-width:640px;margin:0 auto\">\n"
	                     "<h1 style=\"font-size:19px;margin:0 0 2px\">");
	digestview_esc(out, v->title);
	g_string_append(out, "</h1>\n<p style=\"font-size:13px;color:#718096;"
	                     "margin:0\">For ");
	digestview_esc(out, v->scope);
	g_string_append(out, "</p>\n");
	digestview_html_needs(v, out);
	digestview_html_trends(v, out);
	if (v->full != NULL) {
		digestview_html_volume(v, out);
		digestview_html_groups(v, REPORT_QUEUE, out);
		digestview_html_groups(v, REPORT_AGENT, out);
	}
	digestview_html_load(v, out);
	g_string_append(out, "<p style=\"font-size:12px;color:#718096;"
	                     "margin-top:20px\">");
	digestview_esc(out, v->time_note);
	g_string_append(out, " This is an automatic report from tickd.</p>\n"
	                     "</div>\n</body></html>\n");
}
