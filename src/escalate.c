/*
 * escalate.c - SLA clocks and escalation on the daemon's tick.  See
 * escalate.h.
 *
 * The clock state lives in sla_clock; what happened to a ticket since the
 * last tick is in sla_change, written by triggers on the ticket table
 * (004_sla.sql), so every writer of a ticket is seen without knowing about
 * SLAs.  One tick replays those changes through sla.c in order, evaluates,
 * fires due levels into sla_notice and turns pending notices into mails,
 * all in one transaction: a level is recorded as fired exactly when its
 * notice is queued.
 */
#include "escalate.h"

#include "agentmail.h"

#include "compose.h"
#include "json.h"
#include "log.h"
#include "outbox.h"
#include "sla.h"
#include "store.h"
#include "store_ingest.h"
#include "store_outbox.h"
#include "store_sla.h"
#include "thread.h"

#include <string.h>

/* Only the start of a long mail decides its priority. */
#define ESCALATE_TEXT_MAX (64 * 1024)
/* Pending notices turned into mails per tick. */
#define ESCALATE_NOTICE_LIMIT 5000
/* Retry when another instance holds the escalation lock. */
#define ESCALATE_BUSY_RETRY 30

/* escalate_fold - NFC + Unicode case folding of at most max bytes of s,
 * made valid UTF-8 first (a mail may lie about its charset).  g_free. */
static char *
escalate_fold(const char *s, size_t max)
{
	size_t len = s ? strlen(s) : 0, i = 0;
	g_autofree char *valid = NULL, *norm = NULL;

	if (len > max)
		len = max;
	/* Most mail is ASCII, where NFC changes nothing and case folding is
	 * ASCII lower case: one pass instead of three per-character Unicode
	 * passes (perf, `make bench`: the Unicode passes were about 5% of
	 * tickd's samples) */
	while (i < len && (unsigned char)s[i] < 0x80)
		i++;
	if (i == len)
		return g_ascii_strdown(s ? s : "", (gssize)len);
	valid = g_utf8_make_valid(s, (gssize)len);
	norm = g_utf8_normalize(valid, -1, G_NORMALIZE_ALL_COMPOSE);
	return g_utf8_casefold(norm ? norm : valid, -1);
}

static bool
escalate_wordchar(gunichar c)
{
	return g_unichar_isalnum(c) || c == '_';
}

/* escalate_find - kw (folded; a trailing '*' allows any word ending) in
 * hay (folded, valid UTF-8) at a word start; true when found. */
static bool
escalate_find(const char *hay, const char *kw)
{
	size_t kl = strlen(kw);
	bool prefix = kl > 0 && kw[kl - 1] == '*';
	g_autofree char *needle = g_strndup(kw, prefix ? kl - 1 : kl);
	size_t nl = strlen(needle);

	if (nl == 0)
		return false;
	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++) {
		const char *end = p + nl;

		if (p > hay && escalate_wordchar(g_utf8_get_char(
		                   g_utf8_find_prev_char(hay, p))))
			continue;
		if (!prefix && *end && escalate_wordchar(g_utf8_get_char(end)))
			continue;
		return true;
	}
	return false;
}

static bool
escalate_header_high(const char *importance, const char *x_priority)
{
	if (importance != NULL) {
		while (*importance == ' ' || *importance == '\t')
			importance++;
		if (g_ascii_strncasecmp(importance, "high", 4) == 0)
			return true;
	}
	if (x_priority != NULL) {
		while (*x_priority == ' ' || *x_priority == '\t')
			x_priority++;
		/* X-Priority: 1 (Highest) / 2 (High) */
		if (*x_priority == '1' || *x_priority == '2')
			return true;
	}
	return false;
}

int
escalate_rules_match(const struct cfg *cfg, const char *from,
                     const char *subject, const char *text,
                     const char *importance, const char *x_priority,
                     struct escalate_match *m_r)
{
	g_autofree char *fs = escalate_fold(subject, ESCALATE_TEXT_MAX);
	g_autofree char *ft = escalate_fold(text, ESCALATE_TEXT_MAX);
	g_autofree char *hay = g_strconcat(fs, "\n", ft, NULL);
	g_autofree char *addr = g_ascii_strdown(from ? from : "", -1);
	const char *at = strrchr(addr, '@');
	bool high = escalate_header_high(importance, x_priority);
	bool reason_escalates = false;
	int n = 0;

	memset(m_r, 0, sizeof(*m_r));
	m_r->priority = -1;
	for (guint i = 0; i < cfg->sla.rules->len; i++) {
		const struct cfg_rule *r = cfg->sla.rules->pdata[i];
		const char *what = NULL;

		for (int k = 0; what == NULL && r->from && r->from[k]; k++) {
			const char *f = r->from[k];
			if (f[0] == '@' ? at != NULL && strcmp(at, f) == 0
			                : strcmp(addr, f) == 0)
				what = f;
		}
		for (int k = 0; what == NULL && r->keywords && r->keywords[k];
		     k++)
			if (escalate_find(hay, r->keywords[k]))
				what = r->keywords[k];
		if (what == NULL && r->importance_high && high)
			what = "Importance: high";
		if (what == NULL)
			continue;
		n++;
		m_r->priority = MAX(m_r->priority, r->priority);
		m_r->escalate = m_r->escalate || r->escalate;
		/* name the rule that escalates, else the first that matched */
		if (m_r->reason[0] == '\0' ||
		    (r->escalate && !reason_escalates)) {
			g_snprintf(m_r->reason, sizeof(m_r->reason),
			           "rule '%s': \"%s\"", r->name, what);
			reason_escalates = r->escalate;
		}
	}
	return n;
}

const char *
escalate_born_priority(const struct escalate_match *m)
{
	return m->priority > CFG_PRIO_NORMAL ? cfg_priority_name(m->priority)
	                                     : NULL;
}

int
escalate_on_mail(struct store *st, gint64 ticket, gint64 msg,
                 const struct escalate_match *m, bool born,
                 const char **raised_r)
{
	struct store_ticket tk = {0};
	/* the priority before this mail; a new ticket's is the default,
	 * which escalate_born_priority raised */
	const char *was = cfg_priority_name(CFG_PRIO_NORMAL);
	int r = 0;

	if (m->priority < 0)
		return 0;
	if (!born) {
		if ((r = store_ticket_get(st, ticket, &tk)) < 0)
			return r;
		was = tk.priority;
	}
	if (m->priority > cfg_priority_parse(was)) {
		g_autofree char *d =
		    g_strdup_printf("%s -> %s (%s)", was,
		                    cfg_priority_name(m->priority), m->reason);
		if (!born)
			r = store_ticket_set_field(
			    st, ticket, "priority",
			    cfg_priority_name(m->priority));
		if (r == 0)
			*raised_r = cfg_priority_name(m->priority);
		if (r == 0)
			r = store_event_add(st, ticket, "tickd", "priority", d,
			                    msg);
	}
	if (r == 0 && m->escalate) {
		r = store_sla_immediate(st, ticket, m->reason);
		if (r > 0)
			r = store_event_add(st, ticket, "tickd",
			                    "escalation-requested", m->reason,
			                    msg);
	}
	store_ticket_clear(&tk);
	return r;
}

/* ---- the tick ---- */

struct escalate_tick {
	const struct cfg *cfg;
	struct store *st;
	gint64 now;
	struct sla_calendar *always; /* 24x7 UTC for tickets without policy */
	gint64 next;                 /* earliest wake-up, SLA_NEVER = none */
	int queued;                  /* mails queued */
};

static const char *const escalate_target_name[SLA_TARGET__COUNT] = {
    "first_response", "next_response", "resolution"};

static const struct sla_policy *
escalate_policy(const struct cfg *cfg, const char *queue, int prio,
                const struct sla_calendar **cal_r)
{
	const struct sla_policy *p = sla_policy_find(
	    cfg->sla.policies, cfg->sla.n_policies, queue, prio);

	if (p != NULL)
		*cal_r = cfg->sla.policy_cal[p - cfg->sla.policies];
	return p;
}

const struct sla_calendar *
escalate_queue_calendar(const struct cfg *cfg, const char *queue, int priority)
{
	const struct sla_calendar *cal = NULL;

	if (escalate_policy(cfg, queue, priority, &cal) != NULL)
		return cal;
	for (guint i = 0; cfg->tickets.calendar && cfg->sla.calendars &&
	                  i < cfg->sla.calendars->len;
	     i++) {
		const struct sla_calendar *c = cfg->sla.calendars->pdata[i];
		if (strcmp(c->name, cfg->tickets.calendar) == 0)
			return c;
	}
	return NULL;
}

void
escalate_ack_times(const struct cfg *cfg, const char *queue,
                   const char *priority, gint64 now, gint64 *due_r,
                   gint64 *opens_r, GTimeZone **tz_r)
{
	const struct sla_calendar *cal = NULL;
	const struct sla_policy *p;
	int prio = cfg_priority_parse(priority ? priority : "normal");

	*due_r = *opens_r = 0;
	*tz_r = NULL;
	prio = prio < 0 ? CFG_PRIO_NORMAL : prio;
	p = escalate_policy(cfg, queue, prio, &cal);
	if (p == NULL)
		cal = escalate_queue_calendar(cfg, queue, prio);
	if (cal == NULL)
		return;
	*tz_r = cal->tz;
	if (p != NULL && p->first_response_min > 0) {
		gint64 d = sla_add_business(cal, now, p->first_response_min);
		*due_r = d == SLA_NEVER ? 0 : d;
	}
	if (!sla_is_business_time(cal, now)) {
		/* the first business second after now starts at the opening */
		gint64 o = sla_add_business_seconds(cal, now, 1);
		*opens_r = o == SLA_NEVER ? 0 : o - 1;
	}
}

/* escalate_chain - the chain for queue: its own, else the catch-all. */
static const struct cfg_chain *
escalate_chain(const struct cfg *cfg, const char *queue)
{
	const struct cfg_chain *any = NULL;

	for (guint i = 0; i < cfg->sla.chains->len; i++) {
		const struct cfg_chain *ch = cfg->sla.chains->pdata[i];
		if (ch->queue == NULL && any == NULL)
			any = ch;
		else if (ch->queue && queue && strcmp(ch->queue, queue) == 0)
			return ch;
	}
	return any;
}

static int
escalate_status(const char *s)
{
	static const char *const names[] = {"new", "open", "pending",
	                                    "resolved", "closed"};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (strcmp(s, names[i]) == 0)
			return (int)i; /* enum sla_status has the same order */
	return -EINVAL;
}

static void
escalate_json_time(struct json *j, const char *key, gint64 t)
{
	g_autoptr(GDateTime) d = NULL;
	g_autofree char *s = NULL;

	json_key(j, key);
	if (t <= 0 || t == SLA_NEVER ||
	    (d = g_date_time_new_from_unix_utc(t)) == NULL) {
		json_null(j);
		return;
	}
	s = g_date_time_format_iso8601(d);
	json_str(j, s);
}

/* escalate_view - the JSON tickctl shows: policy, clocks, breach state. */
static char *
escalate_view(const struct sla_policy *p, const struct sla_calendar *cal,
              const struct sla_result *ev, const struct store_sla_row *row)
{
	static const char *const states[] = {"off", "running", "paused",
	                                     "done"};
	GString *out = g_string_new(NULL);
	struct json j;
	bool breached = false, warning = false;

	json_init(&j, out, false);
	json_obj_open(&j);
	json_key(&j, "policy");
	if (p == NULL) {
		json_null(&j);
	} else {
		json_obj_open(&j);
		json_key(&j, "queue");
		json_str(&j, p->queue);
		json_key(&j, "priority");
		if (p->priority == SLA_ANY_PRIORITY)
			json_str(&j, "*");
		else
			json_str(&j, cfg_priority_name(p->priority));
		json_key(&j, "calendar");
		json_str(&j, cal->name);
		json_key(&j, "first_response_min");
		json_int(&j, p->first_response_min);
		json_key(&j, "next_response_min");
		json_int(&j, p->next_response_min);
		json_key(&j, "resolution_min");
		json_int(&j, p->resolution_min);
		json_key(&j, "warn_percent");
		json_int(&j, p->warn_pct);
		json_obj_close(&j);
		for (int k = 0; ev != NULL && k < SLA_TARGET__COUNT; k++) {
			const struct sla_clock *c = &ev->clock[k];

			json_key(&j, escalate_target_name[k]);
			json_obj_open(&j);
			json_key(&j, "state");
			json_str(&j, c->state >= 0 && c->state < 4
			                 ? states[c->state]
			                 : "?");
			json_key(&j, "breached");
			json_bool(&j, c->breached);
			json_key(&j, "warning");
			json_bool(&j, c->warning);
			escalate_json_time(&j, "due", c->due);
			escalate_json_time(&j, "warn_at", c->warn_at);
			json_key(&j, "target_min");
			json_int(&j, c->target_secs / 60);
			json_key(&j, "elapsed_min");
			json_int(&j, c->elapsed_secs / 60);
			json_obj_close(&j);
			breached = breached || c->breached;
			warning = warning || c->warning;
		}
	}
	json_key(&j, "breached");
	json_bool(&j, breached);
	json_key(&j, "warning");
	json_bool(&j, warning);
	json_key(&j, "levels_fired");
	json_obj_open(&j);
	json_key(&j, "response");
	json_int(&j, (long long)row->esc_fired[SLA_ESC_RESPONSE]);
	json_key(&j, "resolution");
	json_int(&j, (long long)row->esc_fired[SLA_ESC_RESOLUTION]);
	json_obj_close(&j);
	escalate_json_time(&j, "next_change", ev ? ev->next_change : 0);
	json_obj_close(&j);
	return g_string_free(out, FALSE);
}

/* escalate_join - "a, b" of a NULL-terminated vector.  g_free. */
static char *
escalate_join(const char *const *v)
{
	return g_strjoinv(", ", (char **)v);
}

static int
escalate_fire(struct escalate_tick *x, const struct store_sla_row *row,
              const struct cfg_chain *ch, const struct sla_ticket *t,
              const struct sla_esc_fire *f)
{
	const char *kind;
	const char *const *to = ch->chain.level[f->level - 1].to;
	g_autofree char *who = escalate_join(to);
	g_autofree char *detail = NULL;
	int r = 0;

	if (f->kind == SLA_ESC_RESPONSE)
		kind = t->first_response_at == 0 ? "first_response"
		                                 : "next_response";
	else if (f->kind == SLA_ESC_RESOLUTION)
		kind = "resolution";
	else
		kind = "immediate";
	for (size_t i = 0; to[i] != NULL && r == 0; i++)
		r = store_sla_notice_add(x->st, row->ticket_id, to[i], kind,
		                         f->level, f->breach_at, NULL, x->now);
	if (r < 0)
		return r;
	/* the report counts action 'escalated' per "level N" (store.c) */
	detail =
	    g_strdup_printf("level %d: %s breached -> %s", f->level, kind, who);
	log_notice("escalate: ticket %" G_GINT64_FORMAT " %s", row->ticket_id,
	           detail);
	return store_event_add(x->st, row->ticket_id, "tickd", "escalated",
	                       detail, 0);
}

/* escalate_immediate - a priority rule asked for a notice now: to the
 * chain's immediate addressees, else the config's managers, else the
 * chain's first level. */
static int
escalate_immediate(struct escalate_tick *x, const struct store_sla_row *row,
                   const struct cfg_chain *ch)
{
	g_autoptr(GPtrArray) to = g_ptr_array_new();
	g_autofree char *who = NULL, *detail = NULL;
	int r = 0;

	if (ch && ch->immediate)
		for (size_t i = 0; ch->immediate[i]; i++)
			g_ptr_array_add(to, ch->immediate[i]);
	/* every manager: the test is on the chain's list, not on the
	 * managers gathered so far (which stopped after the first) */
	if (to->len == 0)
		for (guint i = 0; i < x->cfg->people->len; i++) {
			const struct cfg_person *p = x->cfg->people->pdata[i];
			if (p->role == CFG_ROLE_MANAGER)
				g_ptr_array_add(to, p->address);
		}
	if (to->len == 0 && ch)
		for (size_t i = 0; ch->to[0] && ch->to[0][i]; i++)
			g_ptr_array_add(to, ch->to[0][i]);
	g_ptr_array_add(to, NULL);
	if (to->len == 1) {
		log_warning("escalate: ticket %" G_GINT64_FORMAT
		            ": immediate escalation, but no manager or chain "
		            "is configured",
		            row->ticket_id);
		return store_event_add(x->st, row->ticket_id, "tickd",
		                       "escalation-skipped",
		                       "no manager or escalation chain", 0);
	}
	for (guint i = 0; to->pdata[i] != NULL && r == 0; i++)
		r = store_sla_notice_add(x->st, row->ticket_id, to->pdata[i],
		                         "immediate", 0, x->now, row->immediate,
		                         x->now);
	if (r < 0)
		return r;
	who = escalate_join((const char *const *)to->pdata);
	detail = g_strdup_printf("immediate: %s -> %s", row->immediate, who);
	log_notice("escalate: ticket %" G_GINT64_FORMAT " %s", row->ticket_id,
	           detail);
	return store_event_add(x->st, row->ticket_id, "tickd", "escalated",
	                       detail, 0);
}

/* escalate_replay - feed the ticket's recorded changes (customer mail,
 * agent reply, status) into its clocks; their ids into ids.  0 or the
 * store's error. */
static int
escalate_replay(struct escalate_tick *x, const struct store_sla_row *row,
                const struct sla_calendar *cal, struct sla_ticket *t,
                GArray *changes, GArray *ids)
{
	int r;

	if ((r = store_sla_changes(x->st, row->ticket_id, changes)) < 0)
		return r;
	for (guint i = 0; i < changes->len; i++) {
		const struct store_sla_change *c =
		    &g_array_index(changes, struct store_sla_change, i);
		int s;

		g_array_append_val(ids, c->id);
		if (strcmp(c->kind, "customer") == 0)
			r = sla_on_customer_message(t, c->at);
		else if (strcmp(c->kind, "agent") == 0)
			r = sla_on_agent_reply(t, cal, c->at);
		else if ((s = escalate_status(c->status)) >= 0)
			r = sla_on_status_change(t, cal, s, c->at);
		else
			r = -EINVAL;
		/* e.g. a change stamped before the current stretch (clock
		 * skew between instances): the clocks keep their state */
		if (r < 0)
			log_debug("escalate: ticket %" G_GINT64_FORMAT
			          ": change %s %s at %" G_GINT64_FORMAT
			          " does not fit the clock, ignored",
			          row->ticket_id, c->kind, c->status, c->at);
	}
	return 0;
}

/* escalate_levels - fire the chain's levels that are due for the
 * evaluated ticket and keep the chain state in row; the earliest next
 * level into *next.  0 or the store's error. */
static int
escalate_levels(struct escalate_tick *x, struct store_sla_row *row,
                const struct cfg_chain *ch, const struct sla_calendar *cal,
                const struct sla_ticket *t, const struct sla_result *ev,
                gint64 *next)
{
	struct sla_esc_state es;
	struct sla_esc_result er;
	int r;

	for (int k = 0; k < SLA_ESC__COUNT; k++) {
		es.start[k] = row->esc_start[k];
		es.fired[k] = (guint32)row->esc_fired[k];
	}
	if (sla_escalation_due(&ch->chain, cal, t, ev, &es, x->now, &er) < 0)
		return 0;
	for (size_t i = 0; i < er.n_fire; i++)
		if ((r = escalate_fire(x, row, ch, t, &er.fire[i])) < 0)
			return r;
	for (int k = 0; k < SLA_ESC__COUNT; k++) {
		row->esc_start[k] = er.state.start[k];
		row->esc_fired[k] = er.state.fired[k];
	}
	*next = MIN(*next, er.next_at);
	return 0;
}

static char *escalate_when(const struct sla_calendar *cal, gint64 t);

/* escalate_warn_to - who hears of a warning on a ticket: the assignee
 * when they want sla-warning notices; an unassigned ticket's team, the
 * agents whose queues cover its queue (agentmail_covers) and who want
 * them.  Borrowed pointers into to. */
static void
escalate_warn_to(const struct cfg *cfg, const char *queue, const char *assignee,
                 GPtrArray *to)
{
	const struct cfg_person *p;

	if (assignee != NULL && *assignee != '\0') {
		p = cfg_person(cfg, assignee);
		if (agentmail_wants(p, AGENTMAIL_SLA_WARNING))
			g_ptr_array_add(to, (gpointer)p);
		return;
	}
	for (guint i = 0; i < cfg->people->len; i++) {
		p = cfg->people->pdata[i];
		if (p->role == CFG_ROLE_AGENT &&
		    agentmail_wants(p, AGENTMAIL_SLA_WARNING) &&
		    agentmail_covers(p, queue))
			g_ptr_array_add(to, (gpointer)p);
	}
}

/* escalate_warn_one - the warning about clock k of a ticket: an event and
 * one notice per addressee, queued in the tick's transaction. */
static int
escalate_warn_one(struct escalate_tick *x, const struct store_sla_row *row,
                  const struct sla_policy *p, const struct sla_calendar *cal,
                  int k, const struct sla_clock *c)
{
	const struct cfg_queue *q = cfg_queue_by_name(x->cfg, row->queue);
	const struct cfg *qcfg = q ? q->view : x->cfg;
	const char *name = escalate_target_name[k];
	g_autoptr(GPtrArray) to = g_ptr_array_new();
	g_autofree char *due = escalate_when(cal, c->due);
	g_autofree char *what = NULL, *note = NULL;
	struct store_notice_info ni;
	int r;

	what = g_strdup_printf("SLA warning: %s due %s",
	                       k == SLA_RESOLUTION      ? "resolution"
	                       : k == SLA_NEXT_RESPONSE ? "next response"
	                                                : "first response",
	                       due);
	note = g_strdup_printf("SLA: %d%% of the %s target (%" G_GINT64_FORMAT
	                       " business minutes, calendar %s) is used; it "
	                       "is breached at %s.",
	                       p->warn_pct, name, c->target_secs / 60,
	                       cal->name, due);
	if ((r = store_event_add(x->st, row->ticket_id, "tickd", "sla-warning",
	                         what + strlen("SLA warning: "), 0)) < 0)
		return r;
	if ((r = store_notice_info(x->st, row->ticket_id, &ni)) < 0)
		return r == -ENOENT ? 0 : r;
	escalate_warn_to(x->cfg, row->queue, ni.assignee, to);
	for (guint i = 0; i < to->len && r == 0; i++) {
		const struct cfg_person *pp = to->pdata[i];
		g_autofree char *msgid = thread_make_msgid(
		    qcfg->tickets.secret, qcfg->tickets.secret_len,
		    row->ticket_id, "notice", qcfg->tickets.domain);
		g_autofree char *label = g_strdup_printf(
		    "notice to %s: %s", pp->address, AGENTMAIL_SLA_WARNING);
		struct agentmail_notice n = {
		    .ticket = row->ticket_id,
		    .event = AGENTMAIL_SLA_WARNING,
		    .to_addr = pp->address,
		    .to_name = pp->name,
		    .subject = ni.subject,
		    .status = ni.status,
		    .priority = ni.priority,
		    .customer = ni.requester,
		    .note = note,
		    .what = what,
		    .text = ni.last_text,
		    .message_id = msgid,
		    .now = x->now,
		};
		g_autoptr(GBytes) wire = agentmail_notice(qcfg, &n);
		gint64 mid = 0;

		r = outbox_queue(qcfg, x->st, row->ticket_id, "notice", label,
		                 pp->address, msgid, wire, x->now, NULL, false,
		                 &mid);
		if (r == 0)
			x->queued++;
	}
	store_notice_info_clear(&ni);
	return r;
}

/*
 * escalate_warnings - a running clock past sla.policies.*.warn_percent
 * and not yet breached: warn once per ticket and clock (target and
 * start; 018_agents2), before the breach, so that someone can still act.
 * A clock the tick first sees already breached gets no warning: the
 * escalation chain speaks for it.  Costs nothing while nobody has
 * sla-warning in people.*.notify.  0 or the store's error.
 */
static int
escalate_warnings(struct escalate_tick *x, const struct store_sla_row *row,
                  const struct sla_policy *p, const struct sla_calendar *cal,
                  const struct sla_result *ev)
{
	bool wanted = false;
	int r;

	/* nobody asked for warnings: no row, no event, no query */
	for (guint i = 0; i < x->cfg->people->len && !wanted; i++)
		wanted = agentmail_wants(x->cfg->people->pdata[i],
		                         AGENTMAIL_SLA_WARNING);
	if (p->warn_pct <= 0 || !wanted)
		return 0;
	for (int k = 0; k < SLA_TARGET__COUNT; k++) {
		const struct sla_clock *c = &ev->clock[k];

		if (c->state != SLA_CLOCK_RUNNING || !c->warning ||
		    c->breached || c->due == SLA_NEVER)
			continue;
		r = store_sla_warning_once(x->st, row->ticket_id,
		                           escalate_target_name[k], c->start,
		                           x->now);
		if (r == 1)
			r = escalate_warn_one(x, row, p, cal, k, c);
		if (r < 0)
			return r;
	}
	return 0;
}

/* escalate_one - replay, evaluate and fire for one locked clock row. */
static int
escalate_one(struct escalate_tick *x, struct store_sla_row *row)
{
	const struct cfg *cfg = x->cfg;
	const struct sla_calendar *cal = x->always;
	const struct sla_policy *p;
	const struct cfg_chain *ch = escalate_chain(cfg, row->queue);
	g_autoptr(GArray) changes =
	    g_array_new(FALSE, TRUE, sizeof(struct store_sla_change));
	g_autoptr(GArray) ids = g_array_new(FALSE, TRUE, sizeof(gint64));
	g_autofree char *view = NULL;
	struct sla_ticket t = {0};
	struct sla_result ev;
	bool have_ev = false;
	gint64 next = SLA_NEVER;
	int prio = cfg_priority_parse(row->priority), r;

	if (prio < 0)
		prio = CFG_PRIO_NORMAL;
	p = escalate_policy(cfg, row->queue, prio, &cal);
	if (!row->initialized) {
		sla_ticket_init(&t, row->created, prio);
		if (row->agent_opened)
			t.awaiting_since = 0; /* nobody waits for an answer */
	} else {
		t = row->clock;
	}
	t.priority = prio;
	if ((r = escalate_replay(x, row, cal, &t, changes, ids)) < 0)
		return r;
	row->clock = t;

	if (p != NULL && sla_evaluate(p, cal, &t, x->now, &ev) == 0) {
		have_ev = true;
		next = ev.next_change;
		if ((r = escalate_warnings(x, row, p, cal, &ev)) < 0)
			return r;
		if (ch != NULL &&
		    (r = escalate_levels(x, row, ch, cal, &t, &ev, &next)) < 0)
			return r;
	} else if (p != NULL) {
		log_warning("escalate: ticket %" G_GINT64_FORMAT
		            ": inconsistent SLA clock state, not evaluated",
		            row->ticket_id);
	}
	if (row->immediate != NULL && (r = escalate_immediate(x, row, ch)) < 0)
		return r;

	/* store_sla_changes is bounded: more of them wait, come back */
	if (changes->len >= STORE_SLA_CHANGES_MAX)
		next = x->now + 1;
	view = escalate_view(p, cal, have_ev ? &ev : NULL, row);
	if (next != SLA_NEVER && next <= x->now)
		next = x->now + 1;
	r = store_sla_save(x->st, row, (const gint64 *)(void *)ids->data,
	                   ids->len, next == SLA_NEVER ? 0 : next, view,
	                   x->now);
	if (r == 0 && next != SLA_NEVER)
		x->next = MIN(x->next, next);
	return r;
}

/* escalate_when - t formatted in cal's zone.  g_free. */
static char *
escalate_when(const struct sla_calendar *cal, gint64 t)
{
	g_autoptr(GDateTime) u = g_date_time_new_from_unix_utc(t);
	g_autoptr(GDateTime) l = NULL;

	if (u == NULL)
		return g_strdup("?");
	l = g_date_time_to_timezone(u, cal->tz);
	return g_date_time_format(l ? l : u, "%Y-%m-%d %H:%M %Z");
}

static const char *
escalate_what(const char *kind)
{
	if (strcmp(kind, "first_response") == 0)
		return "first response breached";
	if (strcmp(kind, "next_response") == 0)
		return "next response breached";
	if (strcmp(kind, "resolution") == 0)
		return "resolution breached";
	return "escalated by a priority rule";
}

/* escalate_item - fill one notice line; strings go to pool (g_free). */
static int
escalate_item(struct escalate_tick *x, const struct store_sla_notice *n,
              GHashTable *infos, GPtrArray *pool, struct compose_esc_item *it)
{
	struct store_sla_info *info = g_hash_table_lookup(infos, &n->ticket_id);
	const struct sla_calendar *cal = x->always;
	const struct sla_policy *p;
	const struct cfg_chain *ch;
	int r, prio;

	if (info == NULL) {
		info = g_new0(struct store_sla_info, 1);
		if ((r = store_sla_info(x->st, n->ticket_id, info)) < 0) {
			g_free(info);
			return r;
		}
		g_hash_table_insert(
		    infos, g_memdup2(&n->ticket_id, sizeof(gint64)), info);
	}
	prio = MAX(cfg_priority_parse(info->priority), 0);
	p = escalate_policy(x->cfg, info->queue, prio, &cal);
	ch = escalate_chain(x->cfg, info->queue);
	memset(it, 0, sizeof(*it));
	it->ticket = n->ticket_id;
	it->what = escalate_what(n->kind);
	it->level = n->level;
	it->n_levels = ch ? (int)ch->chain.n_levels : 0;
	it->reason = *n->reason ? n->reason : NULL;
	it->subject = info->subject;
	it->customer = info->requester;
	if (*info->requester_name) {
		char *c = g_strdup_printf("%s <%s>", info->requester_name,
		                          info->requester);
		g_ptr_array_add(pool, c);
		it->customer = c;
	}
	it->queue = info->queue;
	it->priority = info->priority;
	it->status = info->status;
	it->assignee = info->assignee;
	it->last_text = info->last_text;
	it->history = info->history;
	it->age_min = sla_business_minutes(cal, info->created, x->now);
	if (p != NULL) {
		int min = strcmp(n->kind, "next_response") == 0
		              ? p->next_response_min
		          : strcmp(n->kind, "resolution") == 0
		              ? p->resolution_min
		              : p->first_response_min;
		const char *what =
		    strcmp(n->kind, "next_response") == 0 ? "next response"
		    : strcmp(n->kind, "resolution") == 0  ? "resolution"
		                                          : "first response";
		char *s =
		    g_strdup_printf("%s within %d business minute%s "
		                    "(calendar %s)",
		                    what, min, min == 1 ? "" : "s", cal->name);
		g_ptr_array_add(pool, s);
		it->sla = s;
	}
	if (strcmp(n->kind, "immediate") != 0) {
		char *s = escalate_when(cal, n->breach_at);
		g_ptr_array_add(pool, s);
		it->breach = s;
	}
	return 0;
}

static void
escalate_info_free(gpointer p)
{
	store_sla_info_clear(p);
	g_free(p);
}

/* escalate_send - one mail to rcpt about notices idx[0..n). */
static int
escalate_send(struct escalate_tick *x, GPtrArray *pending, const int *idx,
              size_t n, GHashTable *infos)
{
	const struct cfg *cfg = x->cfg;
	const struct store_sla_notice *first = pending->pdata[idx[0]];
	const struct cfg_person *person = cfg_person(cfg, first->rcpt);
	g_autoptr(GPtrArray) pool = g_ptr_array_new_with_free_func(g_free);
	g_autofree struct compose_esc_item *items =
	    g_new0(struct compose_esc_item, n);
	g_autofree gint64 *ids = g_new0(gint64, n);
	g_autofree char *msgid = NULL, *env = NULL;
	g_autoptr(GBytes) wire = NULL;
	gint64 ticket = n == 1 ? first->ticket_id : 0;
	const void *data;
	gsize len;
	int r;

	for (size_t i = 0; i < n; i++) {
		const struct store_sla_notice *no = pending->pdata[idx[i]];
		if ((r = escalate_item(x, no, infos, pool, &items[i])) < 0)
			return r;
		ids[i] = no->id;
	}
	/* A notice about one ticket carries its signed id, so that a reply
	 * with #assign threads into that ticket. */
	msgid = thread_make_msgid(cfg->tickets.secret, cfg->tickets.secret_len,
	                          ticket, n == 1 ? "escalation" : "digest",
	                          cfg->tickets.domain);
	struct compose_esc e = {
	    .to_addr = first->rcpt,
	    .to_name = person ? person->name : NULL,
	    .items = items,
	    .n = n,
	    .message_id = msgid,
	    .now = x->now,
	};
	wire = compose_escalation(cfg, &e);
	data = g_bytes_get_data(wire, &len);
	env = compose_bounce_address(cfg, ticket);
	r = store_outbox_add(x->st, ticket, 0, n == 1 ? "escalation" : "digest",
	                     env, first->rcpt, data, len);
	if (r == 0)
		r = store_sla_notices_sent(x->st, ids, n, first->rcpt, x->now);
	if (r == 0) {
		x->queued++;
		log_notice("escalate: %s to '%s' about %zu notice(s)",
		           n == 1 ? "notice" : "digest", first->rcpt, n);
	}
	return r;
}

/* escalate_digests - turn pending notices into mails: one per addressee
 * per escalation.batch_minutes (sla_digest_plan decides). */
static int
escalate_digests(struct escalate_tick *x)
{
	g_autoptr(GPtrArray) pending =
	    g_ptr_array_new_with_free_func(store_sla_notice_free);
	g_autoptr(GPtrArray) rcpts = g_ptr_array_new();
	g_autoptr(GArray) times = g_array_new(FALSE, TRUE, sizeof(gint64));
	g_autoptr(GHashTable) infos = g_hash_table_new_full(
	    g_int64_hash, g_int64_equal, g_free, escalate_info_free);
	g_autofree struct sla_notice *notices = NULL;
	g_autofree struct sla_digest_sent *sent = NULL;
	g_autofree int *group = NULL, *idx = NULL;
	size_t n_sent = 0;
	gint64 next_at = SLA_NEVER;
	int nd, r;

	r = store_sla_pending(x->st, ESCALATE_NOTICE_LIMIT, pending);
	if (r < 0 || pending->len == 0)
		return r;
	notices = g_new0(struct sla_notice, pending->len);
	for (guint i = 0; i < pending->len; i++) {
		const struct store_sla_notice *n = pending->pdata[i];
		bool seen = false;

		notices[i].to = n->rcpt;
		notices[i].ticket_id = n->ticket_id;
		notices[i].queued_at = n->queued_at;
		for (guint k = 0; k < rcpts->len && !seen; k++)
			seen = strcmp(rcpts->pdata[k], n->rcpt) == 0;
		if (!seen)
			g_ptr_array_add(rcpts, n->rcpt);
	}
	if ((r = store_sla_digest_times(x->st, rcpts, times)) < 0)
		return r;
	sent = g_new0(struct sla_digest_sent, rcpts->len);
	for (guint k = 0; k < rcpts->len; k++)
		if (g_array_index(times, gint64, k) > 0) {
			sent[n_sent].to = rcpts->pdata[k];
			sent[n_sent++].at = g_array_index(times, gint64, k);
		}
	group = g_new0(int, pending->len);
	idx = g_new0(int, pending->len);
	nd = sla_digest_plan(notices, pending->len, sent, n_sent,
	                     (gint64)x->cfg->sla.batch_minutes * 60,
	                     x->cfg->sla.hold_seconds, x->now, group, &next_at);
	if (nd < 0) {
		log_err("escalate: digest plan failed: %s", g_strerror(-nd));
		return 0;
	}
	/* An immediate escalation (once per ticket, by a priority rule) is
	 * not held by the batch window: it goes now, with whatever else is
	 * pending for the same addressee. */
	for (guint i = 0; i < pending->len; i++) {
		const struct store_sla_notice *a = pending->pdata[i];

		if (group[i] >= 0 || strcmp(a->kind, "immediate") != 0)
			continue;
		for (guint k = 0; k < pending->len; k++) {
			const struct store_sla_notice *b = pending->pdata[k];
			if (group[k] < 0 && strcmp(a->rcpt, b->rcpt) == 0)
				group[k] = nd;
		}
		nd++;
	}
	for (int g = 0; g < nd; g++) {
		size_t k = 0;

		for (guint i = 0; i < pending->len; i++)
			if (group[i] == g)
				idx[k++] = (int)i;
		if (k > 0 && (r = escalate_send(x, pending, idx, k, infos)) < 0)
			return r;
	}
	x->next = MIN(x->next, next_at);
	return 0;
}

int
escalate_tick(const struct cfg *cfg, struct store *st, gint64 now,
              gint64 *next_r)
{
	g_autoptr(GPtrArray) rows =
	    g_ptr_array_new_with_free_func(store_sla_row_free);
	struct sla_hours all[SLA_WEEKDAY__COUNT];
	struct escalate_tick x = {
	    .cfg = cfg, .st = st, .now = now, .next = SLA_NEVER};
	gint64 n = 0; /* the earliest next check, 0: none */
	bool in_tx = false;
	int r;

	for (int d = 0; d < SLA_WEEKDAY__COUNT; d++)
		all[d] = (struct sla_hours){d, 0, 1440};
	if (sla_calendar_new("24x7", "UTC", all, SLA_WEEKDAY__COUNT, NULL, 0,
	                     &x.always, NULL, 0) < 0)
		return -EINVAL;
	if ((r = store_begin(st)) < 0)
		goto out;
	in_tx = true;
	if ((r = store_sla_lock(st)) == 0) {
		/* another instance is escalating right now */
		x.next = now + ESCALATE_BUSY_RETRY;
		goto out;
	}
	if (r < 0 ||
	    (r = store_sla_due(st, now, cfg->sla.tick_limit, rows)) < 0)
		goto out;
	for (guint i = 0; i < rows->len && r == 0; i++)
		r = escalate_one(&x, rows->pdata[i]);
	if (r < 0 || (r = escalate_digests(&x)) < 0)
		goto out;
	if ((r = store_sla_next(st, &n)) < 0)
		goto out;
	if ((r = store_commit(st)) < 0)
		goto out;
	in_tx = false;
	if (n > 0)
		x.next = MIN(x.next, n);
	/* a full batch means more are due: come back at once */
	if (rows->len >= (guint)cfg->sla.tick_limit)
		x.next = now;
	r = x.queued;
out:
	if (in_tx)
		store_rollback(st);
	if (r >= 0 && next_r)
		*next_r = x.next == SLA_NEVER ? 0 : x.next;
	sla_calendar_free(&x.always);
	return r;
}
