/*
 * cfg.c - libconfig -> struct cfg.  See cfg.h.
 *
 * Lookups go through small typed getters that record "file:line: message"
 * for a wrong type or range and fall back to the default, so one pass
 * reports every problem.  A table of known keys catches typos ("pol_
 * interval"), which libconfig itself happily accepts.
 */
#include "cfg.h"

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
	"smtp.max_attempt_age", "smtp.connections",
	"tickets", "tickets.subject_tag", "tickets.queue", "tickets.domain",
	"tickets.secret_file", "tickets.acknowledge",
	"tickets.trust_same_domain", "tickets.reopen_days",
	"tickets.max_mail_size",
	"limits", "limits.per_recipient_day", "limits.per_ticket_hour",
	"limits.global_per_minute", "limits.suppress_days",
	"people", "people.*", "people.*.address", "people.*.name",
	"people.*.team", "people.*.role",
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

	c->imap.url = cfg_str(&x, "imap.url", NULL, true);
	c->imap.user = cfg_str(&x, "imap.user", NULL, true);
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
	c->smtp.connections = (int)cfg_int(&x, "smtp.connections", 1, 1, 16);
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

	c->limits.per_recipient_day =
		(int)cfg_int(&x, "limits.per_recipient_day", 10, 0, 100000);
	c->limits.per_ticket_hour =
		(int)cfg_int(&x, "limits.per_ticket_hour", 5, 0, 100000);
	c->limits.global_per_minute =
		(int)cfg_int(&x, "limits.global_per_minute", 100, 0, 1000000);
	c->limits.suppress_days =
		(int)cfg_int(&x, "limits.suppress_days", 30, 0, 3650);

	cfg_load_people(&x, c);
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
