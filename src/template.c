/*
 * template.c - mail templates.  See template.h.
 *
 * A template is compiled at load time into a list of segments (literal
 * text or a variable with its fallback), so rendering cannot fail on
 * syntax: everything that could go wrong was reported by --check-config.
 */
#include "template.h"

#include <stdarg.h>
#include <string.h>

/* Largest template file read; a template is a short letter. */
#define TEMPLATE_MAX_FILE (256 * 1024)

const char *const template_vars[] = {
    "ticket",
    "tag",
    "subject",
    "customer_name",
    "customer_address",
    "queue",
    "first_response_due",
    "opens_at",
    "agent_name",
    "from_name",
    "status",
    NULL,
};

struct template_seg {
	char *text; /* literal, or the fallback of a variable */
	char *var;  /* NULL for a literal */
};

struct template_part {
	GPtrArray *subject; /* struct template_seg*, NULL without Subject: */
	GPtrArray *body;    /* struct template_seg* */
};

struct template
{
	char *set, *lang, *name;
	struct template_part text, html;
	bool has_text, has_html;
};

struct template_lib {
	GHashTable *by_key; /* "set/lang/name" -> struct template* */
	GPtrArray *all;     /* struct template*, owned, in load order */
};

static void
template_seg_free(gpointer p)
{
	struct template_seg *s = p;

	g_free(s->text);
	g_free(s->var);
	g_free(s);
}

static void
template_part_clear(struct template_part *p)
{
	if (p->subject)
		g_ptr_array_unref(p->subject);
	if (p->body)
		g_ptr_array_unref(p->body);
	p->subject = p->body = NULL;
}

static void
template_free(gpointer p)
{
	struct template *t = p;

	g_free(t->set);
	g_free(t->lang);
	g_free(t->name);
	template_part_clear(&t->text);
	template_part_clear(&t->html);
	g_free(t);
}

struct template_lib *
template_lib_new(void)
{
	struct template_lib *lib = g_new0(struct template_lib, 1);

	lib->by_key =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	lib->all = g_ptr_array_new_with_free_func(template_free);
	return lib;
}

void
template_lib_free(struct template_lib **lp)
{
	struct template_lib *lib = *lp;

	if (lib == NULL)
		return;
	g_hash_table_unref(lib->by_key);
	g_ptr_array_unref(lib->all);
	g_free(lib);
	*lp = NULL;
}

static bool
template_var_known(const char *name)
{
	for (size_t i = 0; template_vars[i] != NULL; i++)
		if (strcmp(template_vars[i], name) == 0)
			return true;
	return false;
}

static void PRINTF_LIKE(4, 5)
    template_error(GPtrArray *errors, const char *file, unsigned line,
                   const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_ptr_array_add(errors, g_strdup_printf("%s:%u: %s", file, line, msg));
	g_free(msg);
}

/*
 * template_compile - segments of one piece of text that starts at line
 * first_line of file.  Appends errors; returns the segments (also when
 * there were errors, so that every problem of a file is reported).
 */
static GPtrArray *
template_compile(const char *file, unsigned first_line, const char *s,
                 GPtrArray *errors)
{
	GPtrArray *segs = g_ptr_array_new_with_free_func(template_seg_free);
	GString *lit = g_string_new(NULL);
	unsigned line = first_line;

	while (*s) {
		const char *open = strstr(s, "{{"), *close, *nl, *bar;
		struct template_seg *seg;
		g_autofree char *inner = NULL;

		if (open == NULL) {
			g_string_append(lit, s);
			break;
		}
		for (const char *p = s; p < open; p++)
			line += *p == '\n';
		g_string_append_len(lit, s, open - s);
		close = strstr(open + 2, "}}");
		nl = strchr(open + 2, '\n');
		if (close == NULL || (nl != NULL && nl < close)) {
			template_error(errors, file, line,
			               "'{{' without '}}' on the same line");
			s = open + 2;
			continue;
		}
		inner = g_strndup(open + 2, close - open - 2);
		bar = strchr(inner, '|');
		seg = g_new0(struct template_seg, 1);
		if (bar != NULL) {
			seg->text = g_strdup(bar + 1);
			seg->var = g_strstrip(g_strndup(inner, bar - inner));
		} else {
			seg->var = g_strstrip(g_strdup(inner));
		}
		if (!template_var_known(seg->var)) {
			g_autofree char *known =
			    g_strjoinv(", ", (char **)template_vars);
			template_error(errors, file, line,
			               "unknown variable '{{%s}}' (known: %s)",
			               seg->var, known);
			template_seg_free(seg);
		} else {
			if (lit->len) {
				struct template_seg *l =
				    g_new0(struct template_seg, 1);
				l->text = g_strdup(lit->str);
				g_ptr_array_add(segs, l);
				g_string_truncate(lit, 0);
			}
			g_ptr_array_add(segs, seg);
		}
		s = close + 2;
	}
	if (lit->len) {
		struct template_seg *l = g_new0(struct template_seg, 1);
		l->text = g_strdup(lit->str);
		g_ptr_array_add(segs, l);
	}
	g_string_free(lit, TRUE);
	return segs;
}

/* template_is_header - "Name: value" with a header-like name. */
static bool
template_is_header(const char *line)
{
	const char *p = line;

	if (!g_ascii_isalpha(*p))
		return false;
	while (g_ascii_isalnum(*p) || *p == '-')
		p++;
	return *p == ':';
}

/* template_crlf - CRLF files from Windows editors: the mail gets CRLF
 * anyway.  A copy of text with LF line ends; g_free. */
static char *
template_crlf(const char *text, size_t len)
{
	char *copy = g_strndup(text, len);

	for (char *r = copy, *w = copy;; r++) {
		if (*r == '\r' && r[1] == '\n')
			continue;
		*w++ = *r;
		if (*r == '\0')
			break;
	}
	return copy;
}

/* template_slot - the template set/lang/name, created when new. */
static struct template *
template_slot(struct template_lib *lib, const char *set, const char *lang,
              const char *name)
{
	g_autofree char *key = g_strdup_printf("%s/%s/%s", set, lang, name);
	struct template *t = g_hash_table_lookup(lib->by_key, key);

	if (t == NULL) {
		t = g_new0(struct template, 1);
		t->set = g_strdup(set);
		t->lang = g_strdup(lang);
		t->name = g_strdup(name);
		g_ptr_array_add(lib->all, t);
		g_hash_table_insert(lib->by_key, g_steal_pointer(&key), t);
	}
	return t;
}

/* template_headers - the header block of text (cut into lines in place)
 * up to the first empty line: only Subject: is allowed.  The text after
 * it, or NULL when the block never ends; *line counts the lines read. */
static char *
template_headers(char *text, const char *file, unsigned *line,
                 struct template_part *part, GPtrArray *errors)
{
	for (char *p = text;;) {
		char *eol = strchr(p, '\n');
		char *colon;

		if (eol == NULL) {
			template_error(errors, file, *line,
			               "headers must end with an empty line "
			               "before the text");
			return NULL;
		}
		*eol = '\0';
		if (*p == '\0') {
			(*line)++;
			return eol + 1;
		}
		colon = strchr(p, ':');
		if (!template_is_header(p) || colon == NULL)
			template_error(errors, file, *line,
			               "expected 'Header: value' or an empty "
			               "line, got '%.40s'",
			               p);
		else if (g_ascii_strncasecmp(p, "Subject:", 8) != 0)
			template_error(errors, file, *line,
			               "unknown header '%.*s' (only Subject: "
			               "is allowed; tickd writes the others)",
			               (int)(colon - p), p);
		else if (part->subject)
			template_error(errors, file, *line,
			               "Subject: given twice");
		else
			part->subject = template_compile(
			    file, *line, g_strstrip(colon + 1), errors);
		p = eol + 1;
		(*line)++;
	}
}

int
template_lib_parse(struct template_lib *lib, const char *file, const char *set,
                   const char *lang, const char *name, bool is_html,
                   const char *text, size_t len, GPtrArray *errors)
{
	guint nerr = errors->len;
	g_autofree char *copy = NULL;
	g_autofree char *trim = NULL;
	struct template *t;
	struct template_part *part;
	char *body;
	unsigned line = 1;

	if (memchr(text, '\0', len) != NULL ||
	    !g_utf8_validate(text, (gssize)len, NULL)) {
		template_error(errors, file, 1, "not valid UTF-8 text");
		return -EINVAL;
	}
	copy = template_crlf(text, len);
	t = template_slot(lib, set, lang, name);
	part = is_html ? &t->html : &t->text;
	template_part_clear(part);
	body = copy;
	if (template_is_header(copy) &&
	    (body = template_headers(copy, file, &line, part, errors)) == NULL)
		return -EINVAL;
	trim = g_strstrip(g_strdup(body));
	if (*trim == '\0')
		template_error(errors, file, line,
		               "the template text is empty");
	part->body = template_compile(file, line, body, errors);
	if (is_html)
		t->has_html = true;
	else
		t->has_text = true;
	return errors->len > nerr ? -EINVAL : 0;
}

/* template_name_ok - a directory or file name we accept. */
static bool
template_name_ok(const char *s, bool lang)
{
	if (*s == '\0' || strlen(s) > 64)
		return false;
	for (const char *p = s; *p; p++)
		if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_' &&
		    (lang || *p != '.'))
			return false;
	return true;
}

static void
template_load_lang(struct template_lib *lib, const char *dir, const char *set,
                   const char *lang, GPtrArray *errors)
{
	g_autofree char *path = g_build_filename(dir, set, lang, NULL);
	GDir *d = g_dir_open(path, 0, NULL);
	const char *fn;

	if (d == NULL)
		return;
	while ((fn = g_dir_read_name(d)) != NULL) {
		g_autofree char *file = g_build_filename(path, fn, NULL);
		g_autofree char *data = NULL, *name = NULL;
		gsize len = 0;
		bool html;
		GError *e = NULL;

		if (g_str_has_suffix(fn, ".txt"))
			html = false;
		else if (g_str_has_suffix(fn, ".html"))
			html = true;
		else
			continue; /* README, editor backups */
		name = g_strndup(fn, strlen(fn) - (html ? 5 : 4));
		if (!template_name_ok(name, false)) {
			template_error(errors, file, 0,
			               "bad template name '%s'", name);
			continue;
		}
		if (!g_file_get_contents(file, &data, &len, &e)) {
			template_error(errors, file, 0, "cannot read: %s",
			               e->message);
			g_error_free(e);
			continue;
		}
		if (len > TEMPLATE_MAX_FILE) {
			template_error(errors, file, 0, "larger than %d bytes",
			               TEMPLATE_MAX_FILE);
			continue;
		}
		(void)template_lib_parse(lib, file, set, lang, name, html, data,
		                         len, errors);
	}
	g_dir_close(d);
}

int
template_lib_load(const char *dir, struct template_lib **lib_r,
                  GPtrArray *errors)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	struct template_lib *lib;
	guint nerr = errors->len;
	const char *set;

	if (d == NULL)
		return -ENOENT;
	lib = template_lib_new();
	while ((set = g_dir_read_name(d)) != NULL) {
		g_autofree char *sp = g_build_filename(dir, set, NULL);
		GDir *ld;
		const char *lang;

		if (!g_file_test(sp, G_FILE_TEST_IS_DIR) || *set == '.')
			continue;
		if (!template_name_ok(set, false)) {
			template_error(errors, sp, 0,
			               "bad template set name '%s'", set);
			continue;
		}
		if ((ld = g_dir_open(sp, 0, NULL)) == NULL)
			continue;
		while ((lang = g_dir_read_name(ld)) != NULL) {
			g_autofree char *lp = g_build_filename(sp, lang, NULL);
			if (!g_file_test(lp, G_FILE_TEST_IS_DIR) ||
			    *lang == '.')
				continue;
			if (!template_name_ok(lang, true)) {
				template_error(errors, lp, 0,
				               "bad language name '%s' (use "
				               "a tag such as en or de-AT)",
				               lang);
				continue;
			}
			template_load_lang(lib, dir, set, lang, errors);
		}
		g_dir_close(ld);
	}
	g_dir_close(d);
	/* an .html part without its .txt is an error: text is required */
	for (guint i = 0; i < lib->all->len; i++) {
		const struct template *t = lib->all->pdata[i];
		if (t->has_html && !t->has_text) {
			g_autofree char *f = g_build_filename(
			    dir, t->set, t->lang, t->name, NULL);
			template_error(errors, f, 0,
			               "%s.html needs a %s.txt beside it",
			               t->name, t->name);
		}
	}
	if (errors->len > nerr) {
		template_lib_free(&lib);
		return -EINVAL;
	}
	*lib_r = lib;
	return 0;
}

static const struct template *
template_get(const struct template_lib *lib, const char *set, const char *lang,
             const char *name)
{
	g_autofree char *key = NULL;
	const struct template *t;

	if (lib == NULL || set == NULL || lang == NULL || name == NULL)
		return NULL;
	key = g_strdup_printf("%s/%s/%s", set, lang, name);
	t = g_hash_table_lookup(lib->by_key, key);
	return t && t->has_text ? t : NULL;
}

bool
template_has(const struct template_lib *lib, const char *set, const char *lang,
             const char *name)
{
	return template_get(lib, set, lang, name) != NULL;
}

bool
template_has_set(const struct template_lib *lib, const char *set,
                 const char *name)
{
	for (guint i = 0; lib && i < lib->all->len; i++) {
		const struct template *t = lib->all->pdata[i];
		if (t->has_text && strcmp(t->set, set) == 0 &&
		    strcmp(t->name, name) == 0)
			return true;
	}
	return false;
}

/* template_match - the language of set/name for one tag ("de-DE"):
 * exact (case-insensitive), then the primary subtag. */
static const char *
template_match(const struct template_lib *lib, const char *set,
               const char *name, const char *tag)
{
	g_autofree char *t = g_strstrip(g_strdup(tag));
	char *dash;

	if (*t == '\0' || strcmp(t, "*") == 0)
		return NULL;
	for (int pass = 0; pass < 2; pass++) {
		for (guint i = 0; i < lib->all->len; i++) {
			const struct template *tp = lib->all->pdata[i];
			if (tp->has_text && strcmp(tp->set, set) == 0 &&
			    strcmp(tp->name, name) == 0 &&
			    g_ascii_strcasecmp(tp->lang, t) == 0)
				return tp->lang;
		}
		if ((dash = strchr(t, '-')) == NULL)
			break;
		*dash = '\0';
	}
	return NULL;
}

struct template_q {
	char *tag;
	double q;
	int pos;
};

static gint
template_q_cmp(gconstpointer a, gconstpointer b)
{
	const struct template_q *x = *(struct template_q *const *)a;
	const struct template_q *y = *(struct template_q *const *)b;

	if (x->q != y->q)
		return x->q > y->q ? -1 : 1;
	return x->pos - y->pos;
}

static void
template_q_free(gpointer p)
{
	struct template_q *q = p;

	g_free(q->tag);
	g_free(q);
}

/* template_match_list - the best language of a header value such as
 * "de-DE, en;q=0.8" (bounded: at most 32 entries looked at). */
static const char *
template_match_list(const struct template_lib *lib, const char *set,
                    const char *name, const char *value)
{
	g_auto(GStrv) parts = NULL;
	g_autoptr(GPtrArray) qs = NULL;
	const char *r = NULL;

	if (value == NULL || *value == '\0')
		return NULL;
	parts = g_strsplit(value, ",", 33);
	qs = g_ptr_array_new_with_free_func(template_q_free);
	for (int i = 0; parts[i] != NULL && i < 32; i++) {
		struct template_q *q = g_new0(struct template_q, 1);
		char *semi = strchr(parts[i], ';');

		q->q = 1.0;
		q->pos = i;
		if (semi != NULL) {
			const char *qv = strstr(semi, "q=");
			*semi = '\0';
			if (qv != NULL)
				q->q = g_ascii_strtod(qv + 2, NULL);
		}
		q->tag = g_strstrip(g_strdup(parts[i]));
		if (q->q <= 0)
			template_q_free(q);
		else
			g_ptr_array_add(qs, q);
	}
	g_ptr_array_sort(qs, template_q_cmp);
	for (guint i = 0; i < qs->len && r == NULL; i++)
		r = template_match(lib, set, name,
		                   ((struct template_q *)qs->pdata[i])->tag);
	return r;
}

const char *
template_choose_lang(const struct template_lib *lib, const char *set,
                     const char *name, const char *previous,
                     const char *content_language, const char *accept_language,
                     const char *queue_default)
{
	const char *r;

	if (lib == NULL || set == NULL || name == NULL)
		return NULL;
	if ((r = template_match_list(lib, set, name, previous)) != NULL ||
	    (r = template_match_list(lib, set, name, content_language)) !=
	        NULL ||
	    (r = template_match_list(lib, set, name, accept_language)) !=
	        NULL ||
	    (r = template_match_list(lib, set, name, queue_default)) != NULL ||
	    (r = template_match(lib, set, name, "en")) != NULL)
		return r;
	for (guint i = 0; i < lib->all->len; i++) {
		const struct template *t = lib->all->pdata[i];
		if (t->has_text && strcmp(t->set, set) == 0 &&
		    strcmp(t->name, name) == 0)
			return t->lang;
	}
	return NULL;
}

static const char *
template_value(const struct template_var *vars, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(vars[i].name, name) == 0)
			return vars[i].value;
	return NULL;
}

static void
template_append_html(GString *s, const char *v)
{
	g_autofree char *e = g_markup_escape_text(v, -1);

	g_string_append(s, e);
}

static char *
template_fill(const GPtrArray *segs, const struct template_var *vars, size_t n,
              bool html, bool one_line)
{
	GString *s = g_string_new(NULL);

	for (guint i = 0; i < segs->len; i++) {
		const struct template_seg *seg = segs->pdata[i];
		const char *v;

		if (seg->var == NULL) {
			g_string_append(s, seg->text);
			continue;
		}
		v = template_value(vars, n, seg->var);
		if (v == NULL || *v == '\0')
			v = seg->text ? seg->text : "";
		if (html)
			template_append_html(s, v);
		else
			g_string_append(s, v);
	}
	if (one_line)
		for (char *p = s->str; *p; p++)
			if (*p == '\n' || *p == '\r' || *p == '\t')
				*p = ' ';
	return g_string_free(s, FALSE);
}

int
template_render(const struct template_lib *lib, const char *set,
                const char *lang, const char *name,
                const struct template_var *vars, size_t n,
                struct template_out *out)
{
	const struct template *t = template_get(lib, set, lang, name);

	memset(out, 0, sizeof(*out));
	if (t == NULL)
		return -ENOENT;
	if (t->text.subject)
		out->subject = g_strstrip(
		    template_fill(t->text.subject, vars, n, false, true));
	out->text = template_fill(t->text.body, vars, n, false, false);
	if (t->has_html)
		out->html = template_fill(t->html.body, vars, n, true, false);
	return 0;
}

void
template_out_clear(struct template_out *o)
{
	g_free(o->subject);
	g_free(o->text);
	g_free(o->html);
	memset(o, 0, sizeof(*o));
}
