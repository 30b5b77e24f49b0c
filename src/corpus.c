/*
 * corpus.c - `tickctl corpus-report` and `tickctl parse`: the real parse
 * path (mime_parse, then classify_msg) over test corpora and single files.
 *
 * A corpus is a top-level folder below DIR.  Files are taken in sorted
 * order so that two runs can be diffed; licences, READMEs, expected-result
 * files (.json, GMime structure dumps) are skipped by name or content and
 * counted as such.  Files that begin with an mbox "From " line (other than
 * .eml/.msg/.txt, which hold one message by convention) are split.
 */
#include "corpus.h"

#include "json.h"

#include "classify.h"
#include "mime.h"

#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define CORPUS_MAX_FILE (64u << 20)

struct corpus_stats {
	char *name; /* owned */
	size_t files, messages, parsed, defects, unparsed, invalid, skipped;
	gint64 cpu_us, max_us;
	size_t classes[CLASSIFY__COUNT];
};

struct corpus_run {
	const char *root;
	FILE *json; /* per-message results, or NULL */
	bool json_first;
	GPtrArray *stats; /* struct corpus_stats*, in order of appearance */
	int rc;
};

/*
 * JSON output
 */

/* corpus_json_str - s as a JSON string (json_escape's rules), or null. */
static void
corpus_json_str(FILE *f, const char *s)
{
	g_autoptr(GString) g = NULL;

	if (s == NULL) {
		fputs("null", f);
		return;
	}
	g = g_string_sized_new(strlen(s) + 2);
	json_escape(g, s);
	fwrite(g->str, 1, g->len, f);
}

static void
corpus_json_key(FILE *f, const char *key, bool first)
{
	if (!first)
		fputc(',', f);
	corpus_json_str(f, key);
	fputc(':', f);
}

static void
corpus_json_strv(FILE *f, const GPtrArray *a)
{
	fputc('[', f);
	for (guint i = 0; i < a->len; i++) {
		if (i > 0)
			fputc(',', f);
		corpus_json_str(f, g_ptr_array_index(a, i));
	}
	fputc(']', f);
}

static void
corpus_json_addrs(FILE *f, const GPtrArray *a)
{
	fputc('[', f);
	for (guint i = 0; i < a->len; i++) {
		const struct mime_addr *ad = g_ptr_array_index(a, i);

		if (i > 0)
			fputc(',', f);
		fputc('{', f);
		corpus_json_key(f, "name", true);
		corpus_json_str(f, ad->name);
		corpus_json_key(f, "addr", false);
		corpus_json_str(f, ad->addr);
		fputc('}', f);
	}
	fputc(']', f);
}

static void
corpus_json_atts(FILE *f, const GPtrArray *a)
{
	fputc('[', f);
	for (guint i = 0; i < a->len; i++) {
		const struct mime_attachment *at = g_ptr_array_index(a, i);

		if (i > 0)
			fputc(',', f);
		fputc('{', f);
		corpus_json_key(f, "filename", true);
		corpus_json_str(f, at->filename);
		corpus_json_key(f, "content_type", false);
		corpus_json_str(f, at->content_type);
		corpus_json_key(f, "content_id", false);
		corpus_json_str(f, at->content_id);
		corpus_json_key(f, "is_inline", false);
		fputs(at->is_inline ? "true" : "false", f);
		corpus_json_key(f, "is_message", false);
		fputs(at->is_message ? "true" : "false", f);
		corpus_json_key(f, "size", false);
		fprintf(f, "%zu", at->size);
		fputc('}', f);
	}
	fputc(']', f);
}

/* corpus_json_full - every field of m, for `tickctl parse --json`. */
static void
corpus_json_full(FILE *f, const char *path, const struct mime_msg *m,
                 const struct classify_result *cr)
{
	fputc('{', f);
	corpus_json_key(f, "path", true);
	corpus_json_str(f, path);
	corpus_json_key(f, "unparsed", false);
	fputs(m->unparsed ? "true" : "false", f);
	corpus_json_key(f, "message_id", false);
	corpus_json_str(f, m->message_id);
	corpus_json_key(f, "in_reply_to", false);
	corpus_json_strv(f, m->in_reply_to);
	corpus_json_key(f, "references", false);
	corpus_json_strv(f, m->references);
	corpus_json_key(f, "from", false);
	corpus_json_addrs(f, m->from);
	corpus_json_key(f, "reply_to", false);
	corpus_json_addrs(f, m->reply_to);
	corpus_json_key(f, "to", false);
	corpus_json_addrs(f, m->to);
	corpus_json_key(f, "cc", false);
	corpus_json_addrs(f, m->cc);
	corpus_json_key(f, "subject", false);
	corpus_json_str(f, m->subject);
	corpus_json_key(f, "date", false);
	fprintf(f, "%lld", (long long)m->date);
	corpus_json_key(f, "language", false);
	corpus_json_str(f, m->language);
	corpus_json_key(f, "content_type", false);
	corpus_json_str(f, m->content_type);
	corpus_json_key(f, "text", false);
	corpus_json_str(f, m->text);
	corpus_json_key(f, "text_new", false);
	corpus_json_str(f, m->text_new);
	corpus_json_key(f, "html", false);
	corpus_json_str(f, m->html);
	corpus_json_key(f, "attachments", false);
	corpus_json_atts(f, m->attachments);
	corpus_json_key(f, "report_type", false);
	corpus_json_str(f, m->report_type);
	corpus_json_key(f, "report_body", false);
	corpus_json_str(f, m->report_body);
	corpus_json_key(f, "original_message_id", false);
	corpus_json_str(f, m->original_message_id);
	corpus_json_key(f, "original_headers", false);
	corpus_json_str(f, m->original_headers);
	corpus_json_key(f, "headers", false);
	fputc('[', f);
	for (guint i = 0; i < m->headers->len; i++) {
		const struct mime_header *h = g_ptr_array_index(m->headers, i);

		if (i > 0)
			fputc(',', f);
		fputc('[', f);
		corpus_json_str(f, h->name);
		fputc(',', f);
		corpus_json_str(f, h->value);
		fputc(']', f);
	}
	fputc(']', f);
	corpus_json_key(f, "defects", false);
	corpus_json_strv(f, m->defects);
	corpus_json_key(f, "class", false);
	corpus_json_str(f, classify_name(cr->cls));
	corpus_json_key(f, "class_reason", false);
	corpus_json_str(f, cr->reason);
	fputc('}', f);
}

/* corpus_json_brief - what corpus_compare.py needs for one message. */
static void
corpus_json_brief(struct corpus_run *r, const char *path, size_t index,
                  const struct mime_msg *m, const struct classify_result *cr)
{
	FILE *f = r->json;

	fputs(r->json_first ? "[\n" : ",\n", f);
	r->json_first = false;
	fputc('{', f);
	corpus_json_key(f, "path", true);
	corpus_json_str(f, path);
	corpus_json_key(f, "index", false);
	fprintf(f, "%zu", index);
	corpus_json_key(f, "unparsed", false);
	fputs(m->unparsed ? "true" : "false", f);
	corpus_json_key(f, "subject", false);
	corpus_json_str(f, m->subject);
	corpus_json_key(f, "content_type", false);
	corpus_json_str(f, m->content_type);
	corpus_json_key(f, "text", false);
	corpus_json_str(f, m->text);
	corpus_json_key(f, "html", false);
	fputs(m->html != NULL ? "true" : "false", f);
	corpus_json_key(f, "attachments", false);
	fprintf(f, "%u", m->attachments->len);
	corpus_json_key(f, "names", false);
	fputc('[', f);
	for (guint i = 0; i < m->attachments->len; i++) {
		const struct mime_attachment *a =
		    g_ptr_array_index(m->attachments, i);

		if (i > 0)
			fputc(',', f);
		corpus_json_str(f, a->filename);
	}
	fputc(']', f);
	corpus_json_key(f, "types", false);
	fputc('[', f);
	for (guint i = 0; i < m->attachments->len; i++) {
		const struct mime_attachment *a =
		    g_ptr_array_index(m->attachments, i);

		if (i > 0)
			fputc(',', f);
		corpus_json_str(f, a->content_type);
	}
	fputc(']', f);
	corpus_json_key(f, "defects", false);
	corpus_json_strv(f, m->defects);
	corpus_json_key(f, "class", false);
	corpus_json_str(f, classify_name(cr->cls));
	fputc('}', f);
}

/*
 * Contract check: what PostgreSQL and the other modules rely on.
 */

static bool
corpus_ok(const char *s, bool may_be_null)
{
	if (s == NULL)
		return may_be_null;
	return g_utf8_validate(s, -1, NULL);
}

static bool
corpus_ok_strv(const GPtrArray *a)
{
	for (guint i = 0; i < a->len; i++)
		if (!corpus_ok(g_ptr_array_index(a, i), false))
			return false;
	return true;
}

static bool
corpus_ok_addrs(const GPtrArray *a)
{
	for (guint i = 0; i < a->len; i++) {
		const struct mime_addr *ad = g_ptr_array_index(a, i);

		if (!corpus_ok(ad->name, true) || !corpus_ok(ad->addr, false))
			return false;
	}
	return true;
}

/* corpus_valid - every string of m valid UTF-8, never-NULL ones set. */
static bool
corpus_valid(const struct mime_msg *m)
{
	if (!corpus_ok(m->message_id, true) ||
	    !corpus_ok_strv(m->in_reply_to) || !corpus_ok_strv(m->references) ||
	    !corpus_ok_addrs(m->from) || !corpus_ok_addrs(m->reply_to) ||
	    !corpus_ok_addrs(m->to) || !corpus_ok_addrs(m->cc) ||
	    !corpus_ok(m->subject, false) || !corpus_ok(m->text, false) ||
	    !corpus_ok(m->html, true) || !corpus_ok(m->text_new, false) ||
	    !corpus_ok(m->language, true) || !corpus_ok_strv(m->defects) ||
	    !corpus_ok(m->content_type, false) ||
	    !corpus_ok(m->report_type, true) ||
	    !corpus_ok(m->report_body, true) ||
	    !corpus_ok(m->original_message_id, true) ||
	    !corpus_ok(m->original_headers, true))
		return false;
	for (guint i = 0; i < m->attachments->len; i++) {
		const struct mime_attachment *a =
		    g_ptr_array_index(m->attachments, i);

		if (!corpus_ok(a->filename, false) ||
		    !corpus_ok(a->content_type, false) ||
		    !corpus_ok(a->content_id, true) ||
		    (a->size > 0 && a->data == NULL))
			return false;
	}
	for (guint i = 0; i < m->headers->len; i++) {
		const struct mime_header *h = g_ptr_array_index(m->headers, i);

		if (!corpus_ok(h->name, false) || !corpus_ok(h->value, false))
			return false;
	}
	return true;
}

/*
 * Files
 */

/* corpus_skip_name - licences, docs and expected results, not mail. */
static bool
corpus_skip_name(const char *name)
{
	static const char *const prefixes[] = {
	    "README",  "Readme",      "readme", "LICENSE", "LICENCE",
	    "COPYING", "MIT-LICENSE", "NOTICE", "SOURCE",  "."};
	static const char *const suffixes[] = {".json", ".tsv", ".md"};

	for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++)
		if (g_str_has_prefix(name, prefixes[i]))
			return true;
	for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++)
		if (g_str_has_suffix(name, suffixes[i]))
			return true;
	return false;
}

/* corpus_skip_content - GMime's expected structure dumps. */
static bool
corpus_skip_content(const char *data, size_t len)
{
	return len >= 16 &&
	       g_ascii_strncasecmp(data, "message offsets:", 16) == 0;
}

static gint64
corpus_cpu_us(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
		return 0;
	return (gint64)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static struct corpus_stats *
corpus_stats_for(struct corpus_run *r, const char *name)
{
	struct corpus_stats *s;

	for (guint i = 0; i < r->stats->len; i++) {
		s = g_ptr_array_index(r->stats, i);
		if (strcmp(s->name, name) == 0)
			return s;
	}
	s = g_new0(struct corpus_stats, 1);
	s->name = g_strdup(name);
	g_ptr_array_add(r->stats, s);
	return s;
}

static void
corpus_stats_free(gpointer p)
{
	struct corpus_stats *s = p;

	g_free(s->name);
	g_free(s);
}

/* corpus_one - parse one message and count it. */
static void
corpus_one(struct corpus_run *r, struct corpus_stats *s, const char *path,
           size_t index, const char *raw, size_t len)
{
	struct classify_opts co = {0};
	struct classify_result cr = {0};
	struct mime_msg *m;
	gint64 t0 = corpus_cpu_us(), dt;

	m = mime_parse(raw, len, NULL);
	dt = corpus_cpu_us() - t0;
	s->cpu_us += dt;
	if (dt > s->max_us)
		s->max_us = dt;
	s->messages++;
	if (m->unparsed)
		s->unparsed++;
	else
		s->parsed++;
	if (m->defects->len > 0)
		s->defects++;
	if (!corpus_valid(m)) {
		s->invalid++;
		fprintf(stderr, "corpus: contract broken by '%s' #%zu\n", path,
		        index);
		r->rc = 1;
	}
	classify_msg(m, &co, &cr);
	if (cr.cls < CLASSIFY__COUNT)
		s->classes[cr.cls]++;
	if (r->json != NULL)
		corpus_json_brief(r, path, index, m, &cr);
	classify_result_clear(&cr);
	mime_msg_free(&m);
}

/* corpus_is_from_line - the data at p starts with "From ". */
static bool
corpus_is_from_line(const char *p, const char *end)
{
	return end - p >= 5 && memcmp(p, "From ", 5) == 0;
}

/*
 * corpus_is_envelope - an mbox separator line: "From " and a sender,
 * then nothing ("From - ") or a date with a time.  The shape, not a
 * blank line before it, tells it from a body line "From the desk of ...",
 * since mboxo files do not always have the blank line.
 */
static bool
corpus_is_envelope(const char *p, const char *end)
{
	const char *e = memchr(p, '\n', end - p), *q = p + 5;

	if (!corpus_is_from_line(p, end))
		return false;
	if (e == NULL)
		e = end;
	while (q < e && *q != ' ' && *q != '\t')
		q++;
	while (q < e && (*q == ' ' || *q == '\t' || *q == '\r'))
		q++;
	if (q == e)
		return true;
	for (; q + 5 <= e; q++)
		if (g_ascii_isdigit(q[0]) && g_ascii_isdigit(q[1]) &&
		    q[2] == ':' && g_ascii_isdigit(q[3]) &&
		    g_ascii_isdigit(q[4]))
			return true;
	return false;
}

/*
 * corpus_mbox - split data at envelope "From " lines and parse each
 * message without its separator line.
 */
static void
corpus_mbox(struct corpus_run *r, struct corpus_stats *s, const char *path,
            const char *data, size_t len)
{
	const char *end = data + len, *p = data;
	size_t index = 0;

	while (p < end) {
		const char *body = memchr(p, '\n', end - p), *line, *stop = end;

		body = body != NULL ? body + 1 : end;
		for (line = body; line < end;) {
			const char *nl = memchr(line, '\n', end - line);

			if (corpus_is_envelope(line, end)) {
				stop = line;
				break;
			}
			line = nl != NULL ? nl + 1 : end;
		}
		corpus_one(r, s, path, index++, body, stop - body);
		p = stop;
	}
}

static void
corpus_file(struct corpus_run *r, const char *full, const char *rel,
            const char *corpus_name)
{
	struct corpus_stats *s = corpus_stats_for(r, corpus_name);
	const char *base = strrchr(rel, '/');
	gchar *data = NULL;
	gsize len = 0;
	GError *err = NULL;

	base = base != NULL ? base + 1 : rel;
	if (corpus_skip_name(base)) {
		s->skipped++;
		return;
	}
	if (!g_file_get_contents(full, &data, &len, &err)) {
		fprintf(stderr, "corpus: read '%s': %s\n", rel, err->message);
		g_error_free(err);
		r->rc = 1;
		return;
	}
	if (len > CORPUS_MAX_FILE || corpus_skip_content(data, len)) {
		s->skipped++;
		g_free(data);
		return;
	}
	s->files++;
	if (corpus_is_envelope(data, data + len) &&
	    !g_str_has_suffix(base, ".eml") &&
	    !g_str_has_suffix(base, ".msg") && !g_str_has_suffix(base, ".txt"))
		corpus_mbox(r, s, rel, data, len);
	else
		corpus_one(r, s, rel, 0, data, len);
	g_free(data);
}

static gint
corpus_cmp(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* corpus_walk - every file below dir (rel: its path below the root). */
static void
corpus_walk(struct corpus_run *r, const char *dir, const char *rel, int depth)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
	const char *n;

	if (d == NULL) {
		fprintf(stderr, "corpus: cannot open '%s'\n", dir);
		r->rc = 1;
		goto out;
	}
	while ((n = g_dir_read_name(d)) != NULL)
		g_ptr_array_add(names, g_strdup(n));
	g_dir_close(d);
	g_ptr_array_sort(names, corpus_cmp);
	for (guint i = 0; i < names->len; i++) {
		const char *name = g_ptr_array_index(names, i);
		char *full = g_build_filename(dir, name, NULL);
		char *sub = rel[0] != '\0' ? g_build_filename(rel, name, NULL)
		                           : g_strdup(name);

		if (g_file_test(full, G_FILE_TEST_IS_SYMLINK)) {
			/* a corpus never needs links; avoid loops */
		} else if (g_file_test(full, G_FILE_TEST_IS_DIR)) {
			if (depth < 32 && strcmp(name, "LICENSES") != 0 &&
			    name[0] != '.')
				corpus_walk(r, full, sub, depth + 1);
		} else if (g_file_test(full, G_FILE_TEST_IS_REGULAR)) {
			char *top = g_strdup(sub);
			char *slash = strchr(top, '/');

			if (slash != NULL)
				*slash = '\0';
			if (slash != NULL || !corpus_skip_name(name))
				corpus_file(r, full, sub,
				            slash != NULL ? top : ".");
			g_free(top);
		}
		g_free(full);
		g_free(sub);
	}
out:
	g_ptr_array_unref(names);
}

static void
corpus_print_stats(const char *name, const struct corpus_stats *s)
{
	printf("%s: files=%zu messages=%zu parsed=%zu defects=%zu "
	       "unparsed=%zu invalid-utf8=%zu skipped=%zu avg-us=%lld "
	       "max-ms=%.1f classes:",
	       name, s->files, s->messages, s->parsed, s->defects, s->unparsed,
	       s->invalid, s->skipped,
	       s->messages > 0 ? (long long)(s->cpu_us / (gint64)s->messages)
	                       : 0LL,
	       s->max_us / 1000.0);
	for (int c = 0; c < CLASSIFY__COUNT; c++)
		if (s->classes[c] > 0)
			printf(" %s=%zu", classify_name((enum classify_class)c),
			       s->classes[c]);
	putchar('\n');
}

static int
corpus_report(int argc, char **argv)
{
	struct corpus_run r = {0};
	struct corpus_stats total = {0};
	const char *json_path = NULL;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0 && i + 1 < argc)
			json_path = argv[++i];
		else if (argv[i][0] == '-')
			goto usage;
		else if (r.root == NULL)
			r.root = argv[i];
		else
			goto usage;
	}
	if (r.root == NULL)
		goto usage;
	if (json_path != NULL) {
		r.json = fopen(json_path, "w");
		if (r.json == NULL) {
			fprintf(stderr, "corpus: cannot write '%s'\n",
			        json_path);
			return 1;
		}
	}
	r.json_first = true;
	r.stats = g_ptr_array_new_with_free_func(corpus_stats_free);
	corpus_walk(&r, r.root, "", 0);

	for (guint i = 0; i < r.stats->len; i++) {
		const struct corpus_stats *s = g_ptr_array_index(r.stats, i);

		corpus_print_stats(s->name, s);
		total.files += s->files;
		total.messages += s->messages;
		total.parsed += s->parsed;
		total.defects += s->defects;
		total.unparsed += s->unparsed;
		total.invalid += s->invalid;
		total.skipped += s->skipped;
		total.cpu_us += s->cpu_us;
		if (s->max_us > total.max_us)
			total.max_us = s->max_us;
		for (int c = 0; c < CLASSIFY__COUNT; c++)
			total.classes[c] += s->classes[c];
	}
	corpus_print_stats("total", &total);
	if (r.json != NULL) {
		fputs(r.json_first ? "[]\n" : "\n]\n", r.json);
		if (fclose(r.json) != 0) {
			fprintf(stderr, "corpus: write '%s' failed\n",
			        json_path);
			r.rc = 1;
		}
	}
	g_ptr_array_unref(r.stats);
	return r.rc;
usage:
	fprintf(stderr, "usage: tickctl corpus-report DIR [--json FILE]\n");
	return 2;
}

/* corpus_print_addrs - "Name <addr>, ..." for the human view. */
static void
corpus_print_addrs(const char *label, const GPtrArray *a)
{
	if (a->len == 0)
		return;
	printf("%s:", label);
	for (guint i = 0; i < a->len; i++) {
		const struct mime_addr *ad = g_ptr_array_index(a, i);

		printf("%s %s%s<%s>", i > 0 ? "," : "",
		       ad->name != NULL ? ad->name : "",
		       ad->name != NULL ? " " : "", ad->addr);
	}
	putchar('\n');
}

static void
corpus_print_human(const char *path, const struct mime_msg *m,
                   const struct classify_result *cr)
{
	printf("== %s\n", path);
	if (m->unparsed)
		printf("UNPARSED\n");
	printf("subject: %s\n", m->subject);
	corpus_print_addrs("from", m->from);
	corpus_print_addrs("to", m->to);
	corpus_print_addrs("cc", m->cc);
	printf("date: %lld\n", (long long)m->date);
	if (m->message_id != NULL)
		printf("message-id: %s\n", m->message_id);
	for (guint i = 0; i < m->in_reply_to->len; i++)
		printf("in-reply-to: %s\n",
		       (const char *)g_ptr_array_index(m->in_reply_to, i));
	printf("content-type: %s\n", m->content_type);
	if (m->report_type != NULL)
		printf("report-type: %s\n", m->report_type);
	if (m->original_message_id != NULL)
		printf("original-message-id: %s\n", m->original_message_id);
	printf("class: %s (%s)\n", classify_name(cr->cls), cr->reason);
	printf("html: %s\n", m->html != NULL ? "yes" : "no");
	printf("attachments: %u\n", m->attachments->len);
	for (guint i = 0; i < m->attachments->len; i++) {
		const struct mime_attachment *a =
		    g_ptr_array_index(m->attachments, i);

		printf("  %s (%s, %zu bytes%s%s)\n", a->filename,
		       a->content_type, a->size, a->is_inline ? ", inline" : "",
		       a->is_message ? ", message" : "");
	}
	for (guint i = 0; i < m->defects->len; i++)
		printf("defect: %s\n",
		       (const char *)g_ptr_array_index(m->defects, i));
	printf("--- text_new\n%s\n--- text\n%s\n", m->text_new, m->text);
}

static int
corpus_parse(int argc, char **argv)
{
	bool json = false;
	int nfiles = 0, done = 0, rc = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else
			nfiles++;
	}
	if (nfiles == 0) {
		fprintf(stderr, "usage: tickctl parse FILE... [--json]\n");
		return 2;
	}
	if (json && nfiles > 1)
		fputs("[\n", stdout);
	for (int i = 1; i < argc; i++) {
		struct classify_opts co = {0};
		struct classify_result cr = {0};
		struct mime_msg *m;
		gchar *data;
		gsize len;
		GError *err = NULL;

		if (strcmp(argv[i], "--json") == 0)
			continue;
		if (!g_file_get_contents(argv[i], &data, &len, &err)) {
			fprintf(stderr, "parse: read '%s': %s\n", argv[i],
			        err->message);
			g_error_free(err);
			rc = 1;
			continue;
		}
		m = mime_parse(data, len, NULL);
		g_free(data);
		classify_msg(m, &co, &cr);
		if (!corpus_valid(m)) {
			fprintf(stderr, "parse: contract broken by '%s'\n",
			        argv[i]);
			rc = 1;
		}
		if (json) {
			if (done++ > 0)
				fputs(",\n", stdout);
			corpus_json_full(stdout, argv[i], m, &cr);
		} else {
			corpus_print_human(argv[i], m, &cr);
		}
		classify_result_clear(&cr);
		mime_msg_free(&m);
	}
	if (json)
		fputs(nfiles > 1 ? "\n]\n" : "\n", stdout);
	return rc;
}

int
corpus_main(int argc, char **argv)
{
	int rc = 2;

	if (argc < 1 || argv[0] == NULL)
		fprintf(stderr, "corpus: no subcommand\n");
	else if (strcmp(argv[0], "corpus-report") == 0)
		rc = corpus_report(argc, argv);
	else if (strcmp(argv[0], "parse") == 0)
		rc = corpus_parse(argc, argv);
	else
		fprintf(stderr, "corpus: unknown subcommand '%s'\n", argv[0]);
	fflush(stdout);
	/* The CLI exits after one subcommand; leave a clean heap. */
	mime_shutdown();
	return rc;
}
