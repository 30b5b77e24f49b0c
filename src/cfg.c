/*
 * cfg.c - libconfig -> struct cfg.  See cfg.h.
 *
 * Lookups go through small typed getters that record "file:line: message"
 * for a wrong type or range and fall back to the default, so one pass
 * reports every problem.  A table of known keys catches typos ("pol_
 * interval"), which libconfig itself happily accepts.
 */
#include "cfg.h"

#include "template.h"

#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <unistd.h>

struct cfg_ctx {
	config_t *lc;
	const char *path;
	GPtrArray *errors;
	bool need_secrets;
};

/* Every key tickd reads; "*" stands for a list index. */
static const char *const cfg_known[] = {
    "database",
    "database.conninfo",
    "instance",
    "log_level",
    "imap",
    "imap.url",
    "imap.user",
    "imap.password_file",
    "imap.mailbox",
    "imap.sent_mailbox",
    "imap.after",
    "imap.move_to",
    "imap.poll_interval",
    "imap.starttls",
    "imap.idle",
    "imap.timeout",
    "imap.batch",
    "smtp",
    "smtp.url",
    "smtp.user",
    "smtp.password_file",
    "smtp.from",
    "smtp.from_name",
    "smtp.starttls",
    "smtp.timeout",
    "smtp.max_attempt_age",
    "smtp.connections",
    "tickets",
    "tickets.subject_tag",
    "tickets.queue",
    "tickets.domain",
    "tickets.secret_file",
    "tickets.acknowledge",
    "tickets.trust_same_domain",
    "tickets.reopen_days",
    "tickets.max_mail_size",
    "tickets.list_mail",
    "tickets.spam_mail",
    "limits",
    "limits.per_recipient_day",
    "limits.per_ticket_hour",
    "limits.global_per_minute",
    "limits.suppress_days",
    "report",
    "report.daily",
    "report.weekly",
    "report.hour",
    "report.timezone",
    "report.fallback_first_response",
    "report.fallback_resolution",
    "csat",
    "csat.enabled",
    "csat.max_age",
    "limits.breaker_cooldown",
    "people",
    "people.*",
    "people.*.address",
    "people.*.name",
    "people.*.team",
    "people.*.role",
    "agents",
    "agents.authserv_id",
    "agents.trust_from",
    /* SLA and escalation (issue 7) */
    "calendars",
    "calendars.*",
    "calendars.*.name",
    "calendars.*.timezone",
    "calendars.*.hours",
    "calendars.*.hours.mon",
    "calendars.*.hours.tue",
    "calendars.*.hours.wed",
    "calendars.*.hours.thu",
    "calendars.*.hours.fri",
    "calendars.*.hours.sat",
    "calendars.*.hours.sun",
    "calendars.*.holidays",
    "calendars.*.holidays.*",
    "sla",
    "sla.policies",
    "sla.policies.*",
    "sla.policies.*.queue",
    "sla.policies.*.priority",
    "sla.policies.*.calendar",
    "sla.policies.*.first_response",
    "sla.policies.*.next_response",
    "sla.policies.*.resolution",
    "sla.policies.*.warn_percent",
    "priority_rules",
    "priority_rules.*",
    "priority_rules.*.name",
    "priority_rules.*.from",
    "priority_rules.*.from.*",
    "priority_rules.*.keywords",
    "priority_rules.*.keywords.*",
    "priority_rules.*.importance_high",
    "priority_rules.*.priority",
    "priority_rules.*.escalate",
    "escalation",
    "escalation.batch_minutes",
    "escalation.hold_seconds",
    "escalation.tick_limit",
    "escalation.chains",
    "escalation.chains.*",
    "escalation.chains.*.queue",
    "escalation.chains.*.immediate",
    "escalation.chains.*.immediate.*",
    "escalation.chains.*.levels",
    "escalation.chains.*.levels.*",
    "escalation.chains.*.levels.*.after",
    "escalation.chains.*.levels.*.to",
    "escalation.chains.*.levels.*.to.*",
    "mime",
    "mime.fallback_charsets",
    "mime.fallback_charsets.*",
    /* issue 12: templates, queues, retention */
    "templates",
    "templates.dir",
    "tickets.template_set",
    "tickets.language",
    "tickets.retention_days",
    "tickets.calendar",
    "tickets.sla",
    "queues",
    "queues.*",
    "queues.*.name",
    "queues.*.url",
    "queues.*.user",
    "queues.*.password_file",
    "queues.*.mailbox",
    "queues.*.sent_mailbox",
    "queues.*.subject_tag",
    "queues.*.acknowledge",
    "queues.*.template_set",
    "queues.*.language",
    "queues.*.from",
    "queues.*.from_name",
    "queues.*.calendar",
    "queues.*.sla",
    "queues.*.retention_days",
};

static void PRINTF_LIKE(3, 4)
    cfg_error(struct cfg_ctx *x, const config_setting_t *s, const char *fmt,
              ...)
{
	va_list ap;
	char *msg;
	const char *file = x->path;
	unsigned line = 1;

	if (s != NULL) {
		if (config_setting_source_file(s) != NULL)
			file = config_setting_source_file(s);
		line = config_setting_source_line(s);
	}
	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_ptr_array_add(x->errors,
	                g_strdup_printf("%s:%u: %s", file, line, msg));
	g_free(msg);
}

/* cfg_parent - the closest existing group above path, for error lines. */
static const config_setting_t *
cfg_parent(struct cfg_ctx *x, const char *path)
{
	char *p = g_strdup(path);
	const config_setting_t *s = NULL;

	for (char *dot; s == NULL && (dot = strrchr(p, '.')) != NULL;) {
		*dot = '\0';
		s = config_lookup(x->lc, p);
	}
	g_free(p);
	return s;
}

static char *
cfg_str(struct cfg_ctx *x, const char *path, const char *def, bool required)
{
	const config_setting_t *s = config_lookup(x->lc, path);

	if (s == NULL) {
		if (required)
			cfg_error(x, cfg_parent(x, path),
			          "%s: required setting is missing", path);
		return def ? g_strdup(def) : NULL;
	}
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		cfg_error(x, s, "%s: expected a string in double quotes", path);
		return def ? g_strdup(def) : NULL;
	}
	if (required && *config_setting_get_string(s) == '\0')
		cfg_error(x, s, "%s: must not be empty", path);
	return g_strdup(config_setting_get_string(s));
}

static gint64
cfg_int(struct cfg_ctx *x, const char *path, gint64 def, gint64 min, gint64 max)
{
	const config_setting_t *s = config_lookup(x->lc, path);
	gint64 v;

	if (s == NULL)
		return def;
	/* int64 lookups: config_lookup_int silently truncates (notes 5). */
	if (config_setting_type(s) == CONFIG_TYPE_INT)
		v = config_setting_get_int(s);
	else if (config_setting_type(s) == CONFIG_TYPE_INT64)
		v = config_setting_get_int64(s);
	else {
		cfg_error(x, s, "%s: expected a whole number", path);
		return def;
	}
	if (v < min || v > max) {
		cfg_error(x, s,
		          "%s: %" G_GINT64_FORMAT
		          " is out of range (%" G_GINT64_FORMAT
		          "..%" G_GINT64_FORMAT ")",
		          path, v, min, max);
		return def;
	}
	return v;
}

static bool
cfg_bool(struct cfg_ctx *x, const char *path, bool def)
{
	const config_setting_t *s = config_lookup(x->lc, path);

	if (s == NULL)
		return def;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
		cfg_error(x, s, "%s: expected true or false", path);
		return def;
	}
	return config_setting_get_bool(s);
}

/* cfg_drop - "ticket" (default) or "drop" for a class of machine mail. */
static bool
cfg_drop(struct cfg_ctx *x, const char *path)
{
	g_autofree char *v = cfg_str(x, path, "ticket", false);

	if (strcmp(v, "drop") == 0)
		return true;
	if (strcmp(v, "ticket") != 0)
		cfg_error(x, config_lookup(x->lc, path),
		          "%s: expected \"ticket\" or \"drop\", not '%s'", path,
		          v);
	return false;
}

int
cfg_read_secret(const char *name, char **data_r, size_t *len_r)
{
	g_autofree char *path = NULL;
	char *data = NULL;
	gsize len = 0;
	const char *credir = getenv("CREDENTIALS_DIRECTORY");

	if (strchr(name, '/') == NULL && credir != NULL && *credir)
		path = g_build_filename(credir, name, NULL);
	else
		path = g_strdup(name);
	if (!g_file_get_contents(path, &data, &len, NULL))
		return access(path, R_OK) == 0 ? -EIO : -errno;
	/* A secret with a NUL would be cut short by every C string user. */
	if (memchr(data, '\0', len) != NULL && len > 0) {
		g_free(data);
		return -EINVAL;
	}
	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
		data[--len] = '\0';
	*data_r = data;
	*len_r = len;
	return 0;
}

/* cfg_secret - read the credential named at path into *out. */
static void
cfg_secret(struct cfg_ctx *x, const char *path, const char *file, char **out,
           size_t *len_out)
{
	char *data;
	size_t len;
	int r;

	/* Commands that never log in do not need (or may not read) them. */
	if (file == NULL || !x->need_secrets)
		return;
	r = cfg_read_secret(file, &data, &len);
	if (r < 0) {
		cfg_error(x, config_lookup(x->lc, path),
		          "%s: cannot read '%s': %s", path, file,
		          g_strerror(-r));
		return;
	}
	*out = data;
	if (len_out != NULL)
		*len_out = len;
}

/* cfg_path_known - is this setting path (indices as "*") a known key? */
static bool
cfg_path_known(const char *path)
{
	for (size_t i = 0; i < ARRAY_SIZE(cfg_known); i++)
		if (strcmp(cfg_known[i], path) == 0)
			return true;
	return false;
}

static void
cfg_check_unknown(struct cfg_ctx *x, const config_setting_t *s,
                  const char *prefix)
{
	int n = config_setting_length(s);

	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, i);
		const char *name = config_setting_name(e);
		g_autofree char *path = NULL;

		if (name == NULL)
			path = *prefix ? g_strdup_printf("%s.*", prefix)
			               : g_strdup("*");
		else
			path = *prefix ? g_strdup_printf("%s.%s", prefix, name)
			               : g_strdup(name);
		if (!cfg_path_known(path)) {
			cfg_error(x, e, "unknown setting '%s'", path);
			continue;
		}
		if (config_setting_is_aggregate(e))
			cfg_check_unknown(x, e, path);
	}
}

static void
cfg_person_free(gpointer p)
{
	struct cfg_person *pe = p;

	g_free(pe->address);
	g_free(pe->name);
	g_free(pe->team);
	g_free(pe);
}

static void
cfg_load_people(struct cfg_ctx *x, struct cfg *c)
{
	const config_setting_t *list = config_lookup(x->lc, "people");
	int n;

	if (list == NULL)
		return;
	if (!config_setting_is_list(list)) {
		cfg_error(x, list, "people: expected a list ( {...}, {...} )");
		return;
	}
	n = config_setting_length(list);
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(list, i);
		const char *addr = NULL, *name = NULL, *team = NULL,
		           *role = NULL;
		struct cfg_person *p;

		if (!config_setting_is_group(e)) {
			cfg_error(x, e, "people: each entry must be { ... }");
			continue;
		}
		if (!config_setting_lookup_string(e, "address", &addr) ||
		    strchr(addr, '@') == NULL) {
			cfg_error(x, e,
			          "people: entry %d needs address = "
			          "\"name@domain\"",
			          i + 1);
			continue;
		}
		(void)config_setting_lookup_string(e, "name", &name);
		(void)config_setting_lookup_string(e, "team", &team);
		(void)config_setting_lookup_string(e, "role", &role);
		if (role != NULL && strcmp(role, "agent") != 0 &&
		    strcmp(role, "manager") != 0) {
			cfg_error(x, config_setting_get_member(e, "role"),
			          "people: role '%s' is not agent or manager",
			          role);
			continue;
		}
		if (cfg_person(c, addr) != NULL) {
			cfg_error(x, config_setting_get_member(e, "address"),
			          "people: '%s' is listed twice", addr);
			continue;
		}
		p = g_new0(struct cfg_person, 1);
		p->address = g_ascii_strdown(addr, -1);
		p->name = g_strdup(name ? name : addr);
		p->team = g_strdup(team);
		p->role = role && strcmp(role, "manager") == 0
		              ? CFG_ROLE_MANAGER
		              : CFG_ROLE_AGENT;
		g_ptr_array_add(c->people, p);
	}
}

/* cfg_load_agents - agents.authserv_id (a token as MTAs write it in
 * Authentication-Results) and agents.trust_from. */
static void
cfg_load_agents(struct cfg_ctx *x, struct cfg *c)
{
	g_autofree char *t =
	    cfg_str(x, "agents.trust_from", "authenticated", false);
	char *id = cfg_str(x, "agents.authserv_id", NULL, false);

	if (id != NULL && (*id == '\0' || strpbrk(id, " \t;()\"\\") != NULL)) {
		cfg_error(x, config_lookup(x->lc, "agents.authserv_id"),
		          "agents.authserv_id: '%s' is not a host name such "
		          "as \"mx.example.com\"",
		          id);
		g_clear_pointer(&id, g_free);
	}
	c->agents.authserv_id = id;
	if (strcmp(t, "authenticated") == 0)
		c->agents.trust_from = CFG_TRUST_AUTHENTICATED;
	else if (strcmp(t, "header") == 0)
		c->agents.trust_from = CFG_TRUST_HEADER;
	else
		cfg_error(x, config_lookup(x->lc, "agents.trust_from"),
		          "agents.trust_from: expected \"authenticated\" or "
		          "\"header\", not '%s'",
		          t);
}

const char *
cfg_agents_warning(const struct cfg *c)
{
	if (c->people->len == 0)
		return NULL;
	if (c->agents.trust_from == CFG_TRUST_HEADER)
		return "agents.trust_from = \"header\": anyone who writes an "
		       "agent's address into From can act as that agent "
		       "(commands, replies)";
	if (c->agents.authserv_id == NULL)
		return "agents.authserv_id is not set: INBOX mail from agent "
		       "addresses is treated as customer mail (commands "
		       "ignored); only the Sent folder acts as an agent";
	return NULL;
}

static void cfg_check_url(struct cfg_ctx *x, const char *key, const char *url,
                          const char *plain, const char *tls);

/* cfg_load_templates - templates.dir (default: "templates" beside the
 * config file; without that directory the built-in English
 * acknowledgement is used).  Every template error is a config error. */
static void
cfg_load_templates(struct cfg_ctx *x, struct cfg *c, const char *confdir)
{
	g_autofree char *dir = cfg_str(x, "templates.dir", NULL, false);
	bool given = dir != NULL;
	int r;

	if (dir == NULL)
		dir = g_build_filename(confdir, "templates", NULL);
	else if (!g_path_is_absolute(dir)) {
		char *abs = g_build_filename(confdir, dir, NULL);
		g_free(dir);
		dir = abs;
	}
	r = template_lib_load(dir, &c->templates, x->errors);
	if (r == -ENOENT && given)
		cfg_error(x, config_lookup(x->lc, "templates.dir"),
		          "templates.dir: '%s' is not a readable directory",
		          dir);
	if (r == 0)
		c->templates_dir = g_steal_pointer(&dir);
}

/* cfg_qstr - a string member of queue group e, or NULL. */
static const char *
cfg_qstr(struct cfg_ctx *x, const config_setting_t *e, const char *key)
{
	const config_setting_t *s = config_setting_get_member(e, key);

	if (s == NULL)
		return NULL;
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		cfg_error(x, s,
		          "queues: %s: expected a string in double quotes",
		          key);
		return NULL;
	}
	return config_setting_get_string(s);
}

static char *
cfg_qkeep(struct cfg_queue *q, const char *v)
{
	char *d = g_strdup(v);

	g_assert(q->nstrs < (int)ARRAY_SIZE(q->strs));
	q->strs[q->nstrs++] = d;
	return d;
}

static void
cfg_queue_free(gpointer p)
{
	struct cfg_queue *q = p;

	for (int i = 0; i < q->nstrs; i++) {
		if (q->strs[i] && q->view &&
		    q->strs[i] == q->view->imap.password)
			explicit_bzero(q->strs[i], strlen(q->strs[i]));
		g_free(q->strs[i]);
	}
	g_free(q->view);
	g_free(q->name);
	g_free(q);
}

const struct cfg_queue *
cfg_queue_by_name(const struct cfg *c, const char *name)
{
	for (guint i = 0; c->queues && name && i < c->queues->len; i++) {
		const struct cfg_queue *q = c->queues->pdata[i];
		if (strcmp(q->name, name) == 0)
			return q;
	}
	return NULL;
}

/* cfg_check_queue_templates - a queue that acknowledges needs an "ack"
 * template in its set (when templates are in use at all). */
static void
cfg_check_queue_templates(struct cfg_ctx *x, const struct cfg *c,
                          const struct cfg_queue *q, const config_setting_t *s)
{
	if (c->templates == NULL || !q->view->tickets.acknowledge)
		return;
	if (!template_has_set(c->templates, q->view->tickets.template_set,
	                      "ack"))
		cfg_error(x, s,
		          "queue '%s': template set '%s' has no ack.txt "
		          "under %s/%s/<lang>/",
		          q->name, q->view->tickets.template_set,
		          c->templates_dir, q->view->tickets.template_set);
}

/*
 * cfg_load_queues - the `queues` list, or one implicit queue made of the
 * single-mailbox keys (imap.*, tickets.queue, ...).  A queue's unset keys
 * fall back to imap.*, smtp.* and tickets.*.
 */
static void
cfg_load_queues(struct cfg_ctx *x, struct cfg *c)
{
	const config_setting_t *list = config_lookup(x->lc, "queues");
	g_autoptr(GPtrArray) elems = g_ptr_array_new(); /* setting per queue */
	int n;

	c->queues = g_ptr_array_new_with_free_func(cfg_queue_free);
	if (list == NULL) {
		struct cfg_queue *q = g_new0(struct cfg_queue, 1);
		q->name = g_strdup(c->tickets.queue);
		q->view = g_memdup2(c, sizeof(*c));
		q->view->queues = c->queues; /* borrowed */
		g_ptr_array_add(c->queues, q);
		cfg_check_queue_templates(
		    x, c, q, config_lookup(x->lc, "tickets.template_set"));
		return;
	}
	if (!config_setting_is_list(list)) {
		cfg_error(x, list, "queues: expected a list ( {...}, {...} )");
		return;
	}
	n = config_setting_length(list);
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(list, i);
		const char *name, *v, *pwfile;
		struct cfg_queue *q;
		struct cfg *w;
		int b, days;

		if (!config_setting_is_group(e)) {
			cfg_error(x, e, "queues: each entry must be { ... }");
			continue;
		}
		name = cfg_qstr(x, e, "name");
		if (name == NULL || *name == '\0' ||
		    strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") !=
		        strlen(name)) {
			cfg_error(x, e,
			          "queues: entry %d needs name = "
			          "\"lower-case letters, digits, - or _\"",
			          i + 1);
			continue;
		}
		if (cfg_queue_by_name(c, name) != NULL) {
			cfg_error(x, e, "queues: '%s' is listed twice", name);
			continue;
		}
		q = g_new0(struct cfg_queue, 1);
		q->name = g_strdup(name);
		g_ptr_array_add(elems, (gpointer)e);
		q->view = w = g_memdup2(c, sizeof(*c));
		w->queues = NULL;
		g_ptr_array_add(c->queues, q);
		w->tickets.queue = q->name;
		if ((v = cfg_qstr(x, e, "url")) != NULL)
			w->imap.url = cfg_qkeep(q, v);
		if ((v = cfg_qstr(x, e, "user")) != NULL)
			w->imap.user = cfg_qkeep(q, v);
		if ((v = cfg_qstr(x, e, "mailbox")) != NULL)
			w->imap.mailbox = cfg_qkeep(q, v);
		if ((v = cfg_qstr(x, e, "sent_mailbox")) != NULL)
			w->imap.sent_mailbox = *v ? cfg_qkeep(q, v) : NULL;
		if ((v = cfg_qstr(x, e, "subject_tag")) != NULL) {
			if (*v == '\0' || strpbrk(v, "[]#") != NULL)
				cfg_error(
				    x,
				    config_setting_get_member(e, "subject_tag"),
				    "queues: subject_tag must be "
				    "non-empty and without '[', ']' or "
				    "'#'");
			w->tickets.subject_tag = cfg_qkeep(q, v);
		}
		if ((v = cfg_qstr(x, e, "template_set")) != NULL)
			w->tickets.template_set = cfg_qkeep(q, v);
		if ((v = cfg_qstr(x, e, "language")) != NULL)
			w->tickets.language = cfg_qkeep(q, v);
		if ((v = cfg_qstr(x, e, "calendar")) != NULL)
			w->tickets.calendar = cfg_qkeep(q, v);
		if ((v = cfg_qstr(x, e, "sla")) != NULL)
			w->tickets.sla = cfg_qkeep(q, v);
		if ((v = cfg_qstr(x, e, "from")) != NULL) {
			if (strchr(v, '@') == NULL)
				cfg_error(
				    x, config_setting_get_member(e, "from"),
				    "queues: from '%s' is not an address", v);
			w->smtp.from = cfg_qkeep(q, v);
		}
		if ((v = cfg_qstr(x, e, "from_name")) != NULL)
			w->smtp.from_name = cfg_qkeep(q, v);
		if (config_setting_lookup_bool(e, "acknowledge", &b))
			w->tickets.acknowledge = b;
		else if (config_setting_get_member(e, "acknowledge"))
			cfg_error(
			    x, config_setting_get_member(e, "acknowledge"),
			    "queues: acknowledge: expected true or false");
		if (config_setting_lookup_int(e, "retention_days", &days)) {
			if (days < 0 || days > 36500)
				cfg_error(x,
				          config_setting_get_member(
				              e, "retention_days"),
				          "queues: retention_days %d is out of "
				          "range (0..36500)",
				          days);
			else
				w->tickets.retention_days = days;
		}
		if (w->imap.url == NULL || w->imap.user == NULL)
			cfg_error(x, e,
			          "queue '%s': needs url and user (or imap.url "
			          "and imap.user)",
			          name);
		else
			cfg_check_url(x, "imap.url", w->imap.url, "imap://",
			              "imaps://");
		pwfile = cfg_qstr(x, e, "password_file");
		if (pwfile != NULL && x->need_secrets) {
			char *data;
			size_t len;
			int r = cfg_read_secret(pwfile, &data, &len);
			if (r < 0)
				cfg_error(x,
				          config_setting_get_member(
				              e, "password_file"),
				          "queues: password_file: cannot read "
				          "'%s': %s",
				          pwfile, g_strerror(-r));
			else {
				w->imap.password = cfg_qkeep(q, data);
				explicit_bzero(data, len);
				g_free(data);
			}
		}
		cfg_check_queue_templates(x, c, q, e);
	}
	if (c->queues->len == 0)
		cfg_error(x, list, "queues: the list is empty");
	for (guint i = 0; i < c->queues->len; i++)
		((struct cfg_queue *)c->queues->pdata[i])->view->queues =
		    c->queues;
	/* two queues on one folder would race for the same mails */
	for (guint k = 1; k < c->queues->len; k++)
		for (guint i = 0; i < k; i++) {
			const struct cfg *
			    a = ((struct cfg_queue *)c->queues->pdata[i])->view,
			   *b = ((struct cfg_queue *)c->queues->pdata[k])->view;
			if (a->imap.url && b->imap.url && a->imap.user &&
			    b->imap.user &&
			    strcmp(a->imap.url, b->imap.url) == 0 &&
			    strcmp(a->imap.user, b->imap.user) == 0 &&
			    strcmp(a->imap.mailbox, b->imap.mailbox) == 0) {
				cfg_error(
				    x, elems->pdata[k],
				    "queues: '%s' reads the same mailbox as "
				    "'%s' (%s %s)",
				    b->tickets.queue, a->tickets.queue,
				    b->imap.user, b->imap.mailbox);
				break;
			}
		}
}

static enum cfg_after
cfg_after(struct cfg_ctx *x)
{
	g_autofree char *v = cfg_str(x, "imap.after", "seen", false);

	if (strcmp(v, "seen") == 0)
		return CFG_AFTER_SEEN;
	if (strcmp(v, "move") == 0)
		return CFG_AFTER_MOVE;
	if (strcmp(v, "none") == 0)
		return CFG_AFTER_NONE;
	cfg_error(x, config_lookup(x->lc, "imap.after"),
	          "imap.after: '%s' is not seen, move or none", v);
	return CFG_AFTER_SEEN;
}

/* cfg_url_scheme - check that url starts with one of the schemes. */
static void
cfg_check_url(struct cfg_ctx *x, const char *key, const char *url,
              const char *plain, const char *tls)
{
	if (url == NULL || *url == '\0')
		return;
	if (!g_str_has_prefix(url, plain) && !g_str_has_prefix(url, tls))
		cfg_error(x, config_lookup(x->lc, key),
		          "%s: '%s' must start with %s or %s", key, url, plain,
		          tls);
}

/* ---- SLA and escalation (issue 7) ---- */

static const char *const cfg_prio_names[] = {"low", "normal", "high", "urgent"};

int
cfg_priority_parse(const char *s)
{
	for (size_t i = 0; s != NULL && i < ARRAY_SIZE(cfg_prio_names); i++)
		if (g_ascii_strcasecmp(s, cfg_prio_names[i]) == 0)
			return (int)i;
	return -EINVAL;
}

const char *
cfg_priority_name(int prio)
{
	if (prio < 0 || prio >= (int)ARRAY_SIZE(cfg_prio_names))
		return "?";
	return cfg_prio_names[prio];
}

/*
 * The default priority rules, used when the file has no priority_rules:
 * the phrases of a customer who is about to leave escalate at once; the
 * merely urgent ones raise the priority.  A '*' at the end of a keyword
 * matches any word ending (German inflection).
 */
static const char *const cfg_default_churn[] = {"speak to your manager",
                                                "manager",
                                                "complaint",
                                                "lawyer",
                                                "cancel my",
                                                "vorgesetzte*",
                                                "ihren chef",
                                                "ihrem chef",
                                                "geschäftsführ*",
                                                "beschwerde",
                                                "anwalt",
                                                "kündig*",
                                                NULL};
static const char *const cfg_default_urgent[] = {
    "refund",   "urgent", "rückerstattung", "erstattung", "geld zurück",
    "dringend", NULL};

/* cfg_fold - what keyword matching compares: NFC, case-folded. g_free. */
static char *
cfg_fold(const char *s)
{
	g_autofree char *n = g_utf8_normalize(s, -1, G_NORMALIZE_ALL_COMPOSE);

	return g_utf8_casefold(n ? n : "", -1);
}

static void
cfg_rule_free(gpointer p)
{
	struct cfg_rule *r = p;

	g_free(r->name);
	g_strfreev(r->from);
	g_strfreev(r->keywords);
	g_free(r);
}

static void
cfg_chain_free(gpointer p)
{
	struct cfg_chain *ch = p;

	g_free(ch->queue);
	for (size_t i = 0; i < SLA_ESC_MAX_LEVELS; i++)
		g_strfreev(ch->to[i]);
	g_strfreev(ch->immediate);
	g_free(ch);
}

static void
cfg_calendar_free(gpointer p)
{
	struct sla_calendar *cal = p;

	sla_calendar_free(&cal);
}

static void
cfg_sla_free(struct cfg_sla *s)
{
	if (s->calendars)
		g_ptr_array_unref(s->calendars);
	for (size_t i = 0; i < s->n_policies; i++)
		g_free((char *)s->policies[i].queue);
	g_free(s->policies);
	g_free(s->policy_cal);
	if (s->rules)
		g_ptr_array_unref(s->rules);
	if (s->chains)
		g_ptr_array_unref(s->chains);
	memset(s, 0, sizeof(*s));
}

/* cfg_strings - a list or array of strings at member name of group e, as
 * a NULL-terminated vector (each passed through fold when set); NULL when
 * the member is missing.  Wrong types are reported. */
static char **
cfg_strings(struct cfg_ctx *x, const config_setting_t *e, const char *name,
            const char *what, char *(*fold)(const char *))
{
	const config_setting_t *a = config_setting_get_member(e, name);
	GPtrArray *v;
	int n;

	if (a == NULL)
		return NULL;
	if (!config_setting_is_array(a) && !config_setting_is_list(a)) {
		cfg_error(x, a, "%s.%s: expected [ \"...\", ... ]", what, name);
		return NULL;
	}
	v = g_ptr_array_new();
	n = config_setting_length(a);
	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(a, i);
		const char *str = config_setting_get_string(s);

		if (str == NULL || *str == '\0' ||
		    !g_utf8_validate(str, -1, NULL)) {
			cfg_error(x, s,
			          "%s.%s: entry %d must be a non-empty "
			          "UTF-8 string",
			          what, name, i + 1);
			continue;
		}
		g_ptr_array_add(v, fold ? fold(str) : g_strdup(str));
	}
	g_ptr_array_add(v, NULL);
	return (char **)g_ptr_array_free(v, FALSE);
}

/*
 * cfg_load_mime - mime.fallback_charsets: charsets for raw 8-bit header
 * bytes that are neither UTF-8 nor a charset the mail declares (a Chinese
 * or Japanese team's mail), each one iconv knows.
 */
static void
cfg_load_mime(struct cfg_ctx *x, struct cfg *c)
{
	const config_setting_t *g = config_lookup(x->lc, "mime");
	char **v;

	if (g == NULL)
		return;
	v = cfg_strings(x, g, "fallback_charsets", "mime", NULL);
	for (size_t i = 0; v != NULL && v[i] != NULL; i++) {
		GIConv cd = g_iconv_open("UTF-8", v[i]);

		if (cd == (GIConv)-1) {
			cfg_error(
			    x,
			    config_setting_get_elem(config_setting_get_member(
			                                g, "fallback_charsets"),
			                            (unsigned)i),
			    "mime.fallback_charsets: unknown charset '%s'",
			    v[i]);
			continue;
		}
		g_iconv_close(cd);
	}
	c->mime_fallback_charsets = v;
}

static char *
cfg_lower(const char *s)
{
	return g_ascii_strdown(s, -1);
}

static void
cfg_load_calendars(struct cfg_ctx *x, struct cfg_sla *sla)
{
	const config_setting_t *list = config_lookup(x->lc, "calendars");
	static const char *const days[] = {"mon", "tue", "wed", "thu",
	                                   "fri", "sat", "sun"};

	if (list == NULL)
		return;
	if (!config_setting_is_list(list)) {
		cfg_error(x, list, "calendars: expected a list ( {...}, ... )");
		return;
	}
	for (int i = 0; i < config_setting_length(list); i++) {
		const config_setting_t *e = config_setting_get_elem(list, i);
		const config_setting_t *hs;
		const char *name = NULL, *tz = NULL;
		struct sla_hours
		    hours[SLA_WEEKDAY__COUNT * SLA_DAY_MAX_INTERVALS];
		size_t nh = 0;
		g_auto(GStrv) hol = NULL;
		struct sla_calendar *cal = NULL;
		char err[256];
		bool bad = false;

		if (!config_setting_is_group(e) ||
		    !config_setting_lookup_string(e, "name", &name) ||
		    !config_setting_lookup_string(e, "timezone", &tz)) {
			cfg_error(x, e,
			          "calendars: entry %d needs name = "
			          "\"...\" and timezone = \"Area/City\"",
			          i + 1);
			continue;
		}
		hs = config_setting_get_member(e, "hours");
		if (hs == NULL || !config_setting_is_group(hs)) {
			cfg_error(x, hs ? hs : e,
			          "calendars: '%s' needs hours = { mon = "
			          "\"09:00-17:00\"; ... }",
			          name);
			continue;
		}
		for (int d = 0; d < SLA_WEEKDAY__COUNT; d++) {
			const config_setting_t *ds =
			    config_setting_get_member(hs, days[d]);
			size_t n = 0;

			if (ds == NULL)
				continue;
			if (config_setting_type(ds) != CONFIG_TYPE_STRING ||
			    sla_hours_parse(d, config_setting_get_string(ds),
			                    hours + nh, SLA_DAY_MAX_INTERVALS,
			                    &n, err, sizeof(err)) < 0) {
				cfg_error(x, ds, "calendars: '%s' hours.%s: %s",
				          name, days[d],
				          config_setting_type(ds) ==
				                  CONFIG_TYPE_STRING
				              ? err
				              : "expected \"HH:MM-HH:MM, "
				                "...\"");
				bad = true;
				continue;
			}
			nh += n;
		}
		hol = cfg_strings(x, e, "holidays", "calendars.holidays", NULL);
		if (bad)
			continue;
		for (guint j = 0; j < sla->calendars->len; j++)
			if (strcmp(((struct sla_calendar *)
			                sla->calendars->pdata[j])
			               ->name,
			           name) == 0) {
				cfg_error(x, e,
				          "calendars: '%s' is defined "
				          "twice",
				          name);
				bad = true;
			}
		if (bad)
			continue;
		if (sla_calendar_new(name, tz, hours, nh,
		                     (const char *const *)hol,
		                     hol ? g_strv_length(hol) : 0, &cal, err,
		                     sizeof(err)) < 0) {
			cfg_error(x, e, "calendars: %s", err);
			continue;
		}
		g_ptr_array_add(sla->calendars, cal);
	}
}

static const struct sla_calendar *
cfg_calendar_find(const struct cfg_sla *sla, const char *name)
{
	for (guint j = 0; j < sla->calendars->len; j++) {
		const struct sla_calendar *cal = sla->calendars->pdata[j];
		if (name == NULL || strcmp(cal->name, name) == 0)
			return cal;
	}
	return NULL;
}

/* cfg_member_int - an optional whole number member of group e. */
static int
cfg_member_int(struct cfg_ctx *x, const config_setting_t *e, const char *what,
               const char *name, int def, int min, int max)
{
	const config_setting_t *s = config_setting_get_member(e, name);
	long long v;

	if (s == NULL)
		return def;
	if (config_setting_type(s) != CONFIG_TYPE_INT &&
	    config_setting_type(s) != CONFIG_TYPE_INT64) {
		cfg_error(x, s, "%s.%s: expected a whole number", what, name);
		return def;
	}
	v = config_setting_get_int64(s);
	if (v < min || v > max) {
		cfg_error(x, s, "%s.%s: %lld is out of range (%d..%d)", what,
		          name, v, min, max);
		return def;
	}
	return (int)v;
}

static void
cfg_load_policies(struct cfg_ctx *x, struct cfg_sla *sla)
{
	const config_setting_t *list = config_lookup(x->lc, "sla.policies");
	int n;

	if (list == NULL)
		return;
	if (!config_setting_is_list(list)) {
		cfg_error(x, list, "sla.policies: expected a list ( {...} )");
		return;
	}
	n = config_setting_length(list);
	sla->policies = g_new0(struct sla_policy, MAX(n, 1));
	sla->policy_cal = g_new0(const struct sla_calendar *, MAX(n, 1));
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(list, i);
		const char *queue = NULL, *prio = NULL, *calname = NULL;
		const char *w = "sla.policies";
		struct sla_policy p = {.priority = SLA_ANY_PRIORITY};
		const struct sla_calendar *cal;
		char err[256];

		if (!config_setting_is_group(e)) {
			cfg_error(x, e,
			          "sla.policies: each entry must be "
			          "{ ... }");
			continue;
		}
		(void)config_setting_lookup_string(e, "queue", &queue);
		(void)config_setting_lookup_string(e, "calendar", &calname);
		if (config_setting_lookup_string(e, "priority", &prio) &&
		    strcmp(prio, "*") != 0 &&
		    (p.priority = cfg_priority_parse(prio)) < 0) {
			cfg_error(x, config_setting_get_member(e, "priority"),
			          "sla.policies: priority '%s' is not low, "
			          "normal, high, urgent or *",
			          prio);
			continue;
		}
		cal = cfg_calendar_find(sla, calname);
		if (cal == NULL) {
			const config_setting_t *cs =
			    config_setting_get_member(e, "calendar");
			if (calname != NULL)
				cfg_error(x, cs,
				          "sla.policies: unknown calendar "
				          "'%s'",
				          calname);
			else
				cfg_error(x, e,
				          "sla.policies: no calendars "
				          "are defined");
			continue;
		}
		p.first_response_min =
		    cfg_member_int(x, e, w, "first_response", 0, 0, 525600);
		p.next_response_min =
		    cfg_member_int(x, e, w, "next_response", 0, 0, 525600);
		p.resolution_min =
		    cfg_member_int(x, e, w, "resolution", 0, 0, 525600);
		p.warn_pct = cfg_member_int(x, e, w, "warn_percent", 80, 0, 99);
		if (sla_policy_check(&p, err, sizeof(err)) < 0) {
			cfg_error(x, e, "sla.policies: %s", err);
			continue;
		}
		p.queue = queue ? g_strdup(queue) : NULL;
		sla->policy_cal[sla->n_policies] = cal;
		sla->policies[sla->n_policies++] = p;
	}
}

static void
cfg_load_rules(struct cfg_ctx *x, struct cfg_sla *sla)
{
	const config_setting_t *list = config_lookup(x->lc, "priority_rules");

	if (list == NULL) {
		struct cfg_rule *r;

		r = g_new0(struct cfg_rule, 1);
		r->name = g_strdup("churn risk");
		r->keywords = g_new0(char *, ARRAY_SIZE(cfg_default_churn));
		for (size_t i = 0; cfg_default_churn[i]; i++)
			r->keywords[i] = cfg_fold(cfg_default_churn[i]);
		r->priority = CFG_PRIO_HIGH;
		r->escalate = true;
		g_ptr_array_add(sla->rules, r);
		r = g_new0(struct cfg_rule, 1);
		r->name = g_strdup("urgent");
		r->keywords = g_new0(char *, ARRAY_SIZE(cfg_default_urgent));
		for (size_t i = 0; cfg_default_urgent[i]; i++)
			r->keywords[i] = cfg_fold(cfg_default_urgent[i]);
		r->priority = CFG_PRIO_HIGH;
		g_ptr_array_add(sla->rules, r);
		r = g_new0(struct cfg_rule, 1);
		r->name = g_strdup("importance header");
		r->importance_high = true;
		r->priority = CFG_PRIO_HIGH;
		g_ptr_array_add(sla->rules, r);
		return;
	}
	if (!config_setting_is_list(list)) {
		cfg_error(x, list, "priority_rules: expected a list ( {...} )");
		return;
	}
	for (int i = 0; i < config_setting_length(list); i++) {
		const config_setting_t *e = config_setting_get_elem(list, i);
		const char *name = NULL, *prio = "high";
		struct cfg_rule *r;
		int b;

		if (!config_setting_is_group(e)) {
			cfg_error(x, e,
			          "priority_rules: each entry must be "
			          "{ ... }");
			continue;
		}
		r = g_new0(struct cfg_rule, 1);
		(void)config_setting_lookup_string(e, "name", &name);
		(void)config_setting_lookup_string(e, "priority", &prio);
		r->name = g_strdup_printf("%s", name ? name : "rule");
		r->from =
		    cfg_strings(x, e, "from", "priority_rules", cfg_lower);
		r->keywords =
		    cfg_strings(x, e, "keywords", "priority_rules", cfg_fold);
		if (config_setting_lookup_bool(e, "importance_high", &b))
			r->importance_high = b;
		if (config_setting_lookup_bool(e, "escalate", &b))
			r->escalate = b;
		r->priority = cfg_priority_parse(prio);
		if (r->priority < 0) {
			cfg_error(x, config_setting_get_member(e, "priority"),
			          "priority_rules: priority '%s' is not low, "
			          "normal, high or urgent",
			          prio);
			r->priority = CFG_PRIO_HIGH;
		}
		if (r->from == NULL && r->keywords == NULL &&
		    !r->importance_high)
			cfg_error(x, e,
			          "priority_rules: '%s' needs from, "
			          "keywords or importance_high",
			          r->name);
		g_ptr_array_add(sla->rules, r);
	}
}

/* cfg_check_people - every address in v must be one of the people. */
static void
cfg_check_people(struct cfg_ctx *x, const struct cfg *c,
                 const config_setting_t *arr, char **v, const char *what)
{
	for (int i = 0; v && v[i]; i++)
		if (cfg_person(c, v[i]) == NULL)
			cfg_error(
			    x,
			    config_setting_get_elem(arr, (unsigned)i)
			        ? config_setting_get_elem(arr, (unsigned)i)
			        : arr,
			    "%s: '%s' is not in people", what, v[i]);
}

static void
cfg_load_chains(struct cfg_ctx *x, struct cfg *c)
{
	const config_setting_t *list =
	    config_lookup(x->lc, "escalation.chains");
	const char *w = "escalation.chains";

	if (list == NULL)
		return;
	if (!config_setting_is_list(list)) {
		cfg_error(x, list, "%s: expected a list ( {...} )", w);
		return;
	}
	for (int i = 0; i < config_setting_length(list); i++) {
		const config_setting_t *e = config_setting_get_elem(list, i);
		const config_setting_t *lv;
		const char *queue = NULL;
		struct cfg_chain *ch;
		char err[256];
		int n;

		if (!config_setting_is_group(e) ||
		    (lv = config_setting_get_member(e, "levels")) == NULL ||
		    !config_setting_is_list(lv)) {
			cfg_error(x, e,
			          "%s: entry %d needs levels = ( { after "
			          "= 0; to = [ \"lead@...\" ]; }, ... )",
			          w, i + 1);
			continue;
		}
		n = config_setting_length(lv);
		if (n < 1 || n > SLA_ESC_MAX_LEVELS) {
			cfg_error(x, lv, "%s: 1..%d levels, not %d", w,
			          SLA_ESC_MAX_LEVELS, n);
			continue;
		}
		ch = g_new0(struct cfg_chain, 1);
		(void)config_setting_lookup_string(e, "queue", &queue);
		ch->queue = queue ? g_strdup(queue) : NULL;
		ch->immediate = cfg_strings(x, e, "immediate", w, cfg_lower);
		cfg_check_people(x, c,
		                 config_setting_get_member(e, "immediate"),
		                 ch->immediate, "escalation.chains.immediate");
		for (int l = 0; l < n; l++) {
			const config_setting_t *le =
			    config_setting_get_elem(lv, (unsigned)l);

			if (!config_setting_is_group(le)) {
				cfg_error(x, le,
				          "%s: each level must be { after "
				          "= N; to = [...]; }",
				          w);
				continue;
			}
			ch->to[l] = cfg_strings(x, le, "to",
			                        "escalation.chains."
			                        "levels",
			                        cfg_lower);
			if (ch->to[l] == NULL || ch->to[l][0] == NULL)
				cfg_error(x, le,
				          "%s: level %d needs to = [ "
				          "\"person@...\" ]",
				          w, l + 1);
			cfg_check_people(
			    x, c, config_setting_get_member(le, "to"),
			    ch->to[l], "escalation.chains.levels.to");
			ch->chain.level[l].after_min =
			    cfg_member_int(x, le, "escalation.chains.levels",
			                   "after", 0, 0, 525600);
			ch->chain.level[l].to = (const char *const *)ch->to[l];
		}
		ch->chain.n_levels = (size_t)n;
		ch->chain.queue = ch->queue;
		if (sla_chain_check(&ch->chain, err, sizeof(err)) < 0)
			cfg_error(x, e, "%s: %s", w, err);
		g_ptr_array_add(c->sla.chains, ch);
	}
}

static void
cfg_load_sla(struct cfg_ctx *x, struct cfg *c)
{
	struct cfg_sla *sla = &c->sla;

	sla->calendars = g_ptr_array_new_with_free_func(cfg_calendar_free);
	sla->rules = g_ptr_array_new_with_free_func(cfg_rule_free);
	sla->chains = g_ptr_array_new_with_free_func(cfg_chain_free);
	sla->batch_minutes =
	    (int)cfg_int(x, "escalation.batch_minutes", 15, 0, 1440);
	sla->hold_seconds =
	    (int)cfg_int(x, "escalation.hold_seconds", 0, 0, 3600);
	sla->tick_limit =
	    (int)cfg_int(x, "escalation.tick_limit", 500, 1, 100000);
	cfg_load_calendars(x, sla);
	cfg_load_policies(x, sla);
	cfg_load_rules(x, sla);
	cfg_load_chains(x, c);
}

int
cfg_load(const char *path, bool need_secrets, struct cfg **cfg_r,
         GPtrArray *errors)
{
	config_t lc;
	struct cfg_ctx x = {&lc, path, errors, need_secrets};
	struct cfg *c;
	guint nerr = errors->len;
	g_autofree char *dir = g_path_get_dirname(path);
	char *at;
	bool has_queues;

	config_init(&lc);
	/* @include is relative to the file, not to systemd's cwd "/". */
	config_set_include_dir(&lc, dir);
	if (!config_read_file(&lc, path)) {
		if (config_error_type(&lc) == CONFIG_ERR_FILE_IO)
			g_ptr_array_add(
			    errors, g_strdup_printf("%s:0: cannot read: %s",
			                            path, g_strerror(errno)));
		else
			g_ptr_array_add(
			    errors, g_strdup_printf("%s:%d: %s",
			                            config_error_file(&lc)
			                                ? config_error_file(&lc)
			                                : path,
			                            config_error_line(&lc),
			                            config_error_text(&lc)));
		bool io = config_error_type(&lc) == CONFIG_ERR_FILE_IO;
		config_destroy(&lc);
		return io ? -ENOENT : -EINVAL;
	}

	c = g_new0(struct cfg, 1);
	c->path = g_strdup(path);
	c->people = g_ptr_array_new_with_free_func(cfg_person_free);
	cfg_check_unknown(&x, config_root_setting(&lc), "");

	c->db_conninfo = cfg_str(&x, "database.conninfo", NULL, true);
	c->instance = cfg_str(&x, "instance", NULL, false);
	if (c->instance == NULL)
		c->instance = g_strdup(g_get_host_name());
	c->log_level = (int)cfg_int(&x, "log_level", 6, 3, 7);

	has_queues = config_lookup(&lc, "queues") != NULL;
	c->imap.url = cfg_str(&x, "imap.url", NULL, !has_queues);
	c->imap.user = cfg_str(&x, "imap.user", NULL, !has_queues);
	c->imap.password_file = cfg_str(&x, "imap.password_file", NULL, false);
	c->imap.mailbox = cfg_str(&x, "imap.mailbox", "INBOX", false);
	c->imap.sent_mailbox = cfg_str(&x, "imap.sent_mailbox", NULL, false);
	c->imap.after = cfg_after(&x);
	c->imap.move_to = cfg_str(&x, "imap.move_to", "Processed", false);
	c->imap.poll_interval =
	    (int)cfg_int(&x, "imap.poll_interval", 60, 1, 86400);
	c->imap.starttls = cfg_bool(&x, "imap.starttls", true);
	c->imap.idle = cfg_bool(&x, "imap.idle", true);
	c->imap.timeout = (int)cfg_int(&x, "imap.timeout", 60, 1, 3600);
	c->imap.batch = (int)cfg_int(&x, "imap.batch", 100, 1, 10000);
	cfg_check_url(&x, "imap.url", c->imap.url, "imap://", "imaps://");
	cfg_secret(&x, "imap.password_file", c->imap.password_file,
	           &c->imap.password, NULL);

	c->smtp.url = cfg_str(&x, "smtp.url", NULL, true);
	c->smtp.user = cfg_str(&x, "smtp.user", NULL, false);
	c->smtp.password_file = cfg_str(&x, "smtp.password_file", NULL, false);
	c->smtp.from = cfg_str(&x, "smtp.from", NULL, true);
	c->smtp.from_name = cfg_str(&x, "smtp.from_name", "Support", false);
	c->smtp.starttls = cfg_bool(&x, "smtp.starttls", true);
	c->smtp.timeout = (int)cfg_int(&x, "smtp.timeout", 60, 1, 3600);
	c->smtp.max_attempt_age =
	    (int)cfg_int(&x, "smtp.max_attempt_age", 5 * 86400, 60, 30 * 86400);
	c->smtp.connections = (int)cfg_int(&x, "smtp.connections", 1, 1, 16);
	cfg_check_url(&x, "smtp.url", c->smtp.url, "smtp://", "smtps://");
	cfg_secret(&x, "smtp.password_file", c->smtp.password_file,
	           &c->smtp.password, NULL);
	if (c->smtp.from != NULL && *c->smtp.from &&
	    strchr(c->smtp.from, '@') == NULL)
		cfg_error(&x, config_lookup(&lc, "smtp.from"),
		          "smtp.from: '%s' is not an address", c->smtp.from);

	c->tickets.subject_tag =
	    cfg_str(&x, "tickets.subject_tag", "Ticket", false);
	if (strpbrk(c->tickets.subject_tag, "[]#") != NULL ||
	    *c->tickets.subject_tag == '\0')
		cfg_error(&x, config_lookup(&lc, "tickets.subject_tag"),
		          "tickets.subject_tag: must be non-empty and "
		          "without '[', ']' or '#'");
	c->tickets.queue = cfg_str(&x, "tickets.queue", "support", false);
	c->tickets.domain = cfg_str(&x, "tickets.domain", NULL, false);
	if (c->tickets.domain == NULL && c->smtp.from != NULL &&
	    (at = strchr(c->smtp.from, '@')) != NULL)
		c->tickets.domain = g_ascii_strdown(at + 1, -1);
	if (c->tickets.domain == NULL)
		c->tickets.domain = g_strdup("localhost");
	c->tickets.secret_file = cfg_str(&x, "tickets.secret_file", NULL, true);
	c->tickets.acknowledge = cfg_bool(&x, "tickets.acknowledge", true);
	c->tickets.trust_same_domain =
	    cfg_bool(&x, "tickets.trust_same_domain", false);
	c->tickets.reopen_days =
	    (int)cfg_int(&x, "tickets.reopen_days", 14, 0, 3650);
	c->tickets.max_mail_size =
	    cfg_int(&x, "tickets.max_mail_size", 25 * 1024 * 1024, 1024,
	            (gint64)1 << 31);
	c->tickets.list_drop = cfg_drop(&x, "tickets.list_mail");
	c->tickets.spam_drop = cfg_drop(&x, "tickets.spam_mail");
	cfg_secret(&x, "tickets.secret_file", c->tickets.secret_file,
	           (char **)&c->tickets.secret, &c->tickets.secret_len);
	if (need_secrets && c->tickets.secret != NULL &&
	    c->tickets.secret_len < 16)
		cfg_error(&x, config_lookup(&lc, "tickets.secret_file"),
		          "tickets.secret_file: secret is shorter than 16 "
		          "bytes; run tickctl init-secret");

	c->tickets.template_set =
	    cfg_str(&x, "tickets.template_set", "default", false);
	c->tickets.language = cfg_str(&x, "tickets.language", "en", false);
	c->tickets.retention_days =
	    (int)cfg_int(&x, "tickets.retention_days", 0, 0, 36500);
	c->tickets.calendar = cfg_str(&x, "tickets.calendar", NULL, false);
	c->tickets.sla = cfg_str(&x, "tickets.sla", NULL, false);

	c->limits.per_recipient_day =
	    (int)cfg_int(&x, "limits.per_recipient_day", 10, 0, 100000);
	c->limits.per_ticket_hour =
	    (int)cfg_int(&x, "limits.per_ticket_hour", 5, 0, 100000);
	c->limits.global_per_minute =
	    (int)cfg_int(&x, "limits.global_per_minute", 100, 0, 1000000);
	c->limits.suppress_days =
	    (int)cfg_int(&x, "limits.suppress_days", 30, 0, 3650);
	c->limits.breaker_cooldown =
	    (int)cfg_int(&x, "limits.breaker_cooldown", 900, 0, 7 * 86400);

	c->report.daily = cfg_bool(&x, "report.daily", false);
	c->report.weekly = cfg_bool(&x, "report.weekly", false);
	c->report.hour = (int)cfg_int(&x, "report.hour", 7, 0, 23);
	c->report.timezone = cfg_str(&x, "report.timezone", "UTC", false);
	{
		GTimeZone *tz = g_time_zone_new_identifier(c->report.timezone);
		if (tz == NULL || *c->report.timezone == '\0')
			cfg_error(&x, config_lookup(&lc, "report.timezone"),
			          "report.timezone: unknown zone '%s'",
			          c->report.timezone);
		if (tz != NULL)
			g_time_zone_unref(tz);
	}
	c->report.fallback_first_response =
	    (int)cfg_int(&x, "report.fallback_first_response", 240, 0, 525600);
	c->report.fallback_resolution =
	    (int)cfg_int(&x, "report.fallback_resolution", 2880, 0, 525600);
	c->csat.enabled = cfg_bool(&x, "csat.enabled", false);
	c->csat.max_age =
	    (int)cfg_int(&x, "csat.max_age", 3 * 86400, 60, 365 * 86400);

	cfg_load_people(&x, c);
	cfg_load_agents(&x, c);
	cfg_load_mime(&x, c);
	cfg_load_sla(&x, c);
	cfg_load_templates(&x, c, dir);
	cfg_load_queues(&x, c);
	config_destroy(&lc);

	if (errors->len > nerr) {
		cfg_free(&c);
		return -EINVAL;
	}
	*cfg_r = c;
	return 0;
}

void
cfg_free(struct cfg **cp)
{
	struct cfg *c = *cp;

	if (c == NULL)
		return;
	g_free(c->path);
	g_free(c->db_conninfo);
	g_free(c->instance);
	g_free(c->imap.url);
	g_free(c->imap.user);
	if (c->imap.password)
		explicit_bzero(c->imap.password, strlen(c->imap.password));
	g_free(c->imap.password);
	g_free(c->imap.password_file);
	g_free(c->imap.mailbox);
	g_free(c->imap.sent_mailbox);
	g_free(c->imap.move_to);
	g_free(c->smtp.url);
	g_free(c->smtp.user);
	if (c->smtp.password)
		explicit_bzero(c->smtp.password, strlen(c->smtp.password));
	g_free(c->smtp.password);
	g_free(c->smtp.password_file);
	g_free(c->smtp.from);
	g_free(c->smtp.from_name);
	g_free(c->tickets.subject_tag);
	g_free(c->tickets.queue);
	g_free(c->tickets.domain);
	g_free(c->tickets.secret_file);
	if (c->tickets.secret)
		explicit_bzero(c->tickets.secret, c->tickets.secret_len);
	g_free(c->tickets.secret);
	g_free(c->report.timezone);
	g_ptr_array_unref(c->people);
	g_free(c->agents.authserv_id);
	cfg_sla_free(&c->sla);
	g_free(c->tickets.template_set);
	g_free(c->tickets.language);
	g_free(c->tickets.calendar);
	g_free(c->tickets.sla);
	g_free(c->templates_dir);
	g_strfreev(c->mime_fallback_charsets);
	template_lib_free(&c->templates);
	if (c->queues)
		g_ptr_array_unref(c->queues);
	g_free(c);
	*cp = NULL;
}

const struct cfg_person *
cfg_person(const struct cfg *c, const char *addr)
{
	if (addr == NULL)
		return NULL;
	for (guint i = 0; i < c->people->len; i++) {
		const struct cfg_person *p = c->people->pdata[i];
		if (g_ascii_strcasecmp(p->address, addr) == 0)
			return p;
	}
	return NULL;
}

const char *
cfg_default_path(void)
{
	const char *p = getenv("TICKD_CONF");

	return p && *p ? p : "/etc/tickd/tickd.conf";
}
