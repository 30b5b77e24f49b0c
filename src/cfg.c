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
	"database", "database.conninfo", "instance", "log_level",
	"imap", "imap.url", "imap.user", "imap.password_file", "imap.mailbox",
	"imap.sent_mailbox", "imap.after", "imap.move_to",
	"imap.poll_interval", "imap.starttls", "imap.idle", "imap.timeout",
	"imap.batch",
	"smtp", "smtp.url", "smtp.user", "smtp.password_file", "smtp.from",
	"smtp.from_name", "smtp.starttls", "smtp.timeout",
	"smtp.max_attempt_age",
	"tickets", "tickets.subject_tag", "tickets.queue", "tickets.domain",
	"tickets.secret_file", "tickets.acknowledge",
	"tickets.trust_same_domain", "tickets.reopen_days",
	"tickets.max_mail_size",
	"limits", "limits.per_recipient_day", "limits.per_ticket_hour",
	"limits.global_per_minute", "limits.suppress_days",
	"people", "people.*", "people.*.address", "people.*.name",
	"people.*.team", "people.*.role",
	/* issue 12: templates, queues, retention */
	"templates", "templates.dir", "tickets.template_set",
	"tickets.language", "tickets.retention_days", "tickets.calendar",
	"tickets.sla",
	"queues", "queues.*", "queues.*.name", "queues.*.url", "queues.*.user",
	"queues.*.password_file", "queues.*.mailbox", "queues.*.sent_mailbox",
	"queues.*.subject_tag", "queues.*.acknowledge", "queues.*.template_set",
	"queues.*.language", "queues.*.from", "queues.*.from_name",
	"queues.*.calendar", "queues.*.sla", "queues.*.retention_days",
};

static void PRINTF_LIKE(3, 4)
cfg_error(struct cfg_ctx *x, const config_setting_t *s, const char *fmt, ...)
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
	g_ptr_array_add(x->errors, g_strdup_printf("%s:%u: %s", file, line, msg));
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
cfg_int(struct cfg_ctx *x, const char *path, gint64 def, gint64 min,
	gint64 max)
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
			  "%s: %" G_GINT64_FORMAT " is out of range (%" G_GINT64_FORMAT
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
cfg_secret(struct cfg_ctx *x, const char *path, const char *file,
	   char **out, size_t *len_out)
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
			cfg_error(x, e, "people: entry %d needs address = "
					"\"name@domain\"", i + 1);
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
			  "%s: '%s' must start with %s or %s", key, url,
			  plain, tls);
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
			g_ptr_array_add(errors,
					g_strdup_printf("%s:0: cannot read: %s",
							path,
							g_strerror(errno)));
		else
			g_ptr_array_add(
				errors,
				g_strdup_printf("%s:%d: %s",
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
	c->imap.poll_interval = (int)cfg_int(&x, "imap.poll_interval", 60, 1,
					     86400);
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
	c->smtp.max_attempt_age = (int)cfg_int(&x, "smtp.max_attempt_age",
					       5 * 86400, 60, 30 * 86400);
	cfg_check_url(&x, "smtp.url", c->smtp.url, "smtp://", "smtps://");
	cfg_secret(&x, "smtp.password_file", c->smtp.password_file,
		   &c->smtp.password, NULL);
	if (c->smtp.from != NULL && *c->smtp.from &&
	    strchr(c->smtp.from, '@') == NULL)
		cfg_error(&x, config_lookup(&lc, "smtp.from"),
			  "smtp.from: '%s' is not an address", c->smtp.from);

	c->tickets.subject_tag = cfg_str(&x, "tickets.subject_tag", "Ticket",
					 false);
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
	c->tickets.reopen_days = (int)cfg_int(&x, "tickets.reopen_days", 14, 0,
					      3650);
	c->tickets.max_mail_size = cfg_int(&x, "tickets.max_mail_size",
					   25 * 1024 * 1024, 1024,
					   (gint64)1 << 31);
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

	cfg_load_people(&x, c);
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
	g_ptr_array_unref(c->people);
	g_free(c->tickets.template_set);
	g_free(c->tickets.language);
	g_free(c->tickets.calendar);
	g_free(c->tickets.sla);
	g_free(c->templates_dir);
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
