/*
 * template.h - the texts of the mails tickd writes, as files an admin can
 * edit: <dir>/<set>/<lang>/<name>.txt (required) and <name>.html
 * (optional), e.g. templates/default/de/ack.txt.  Pure apart from reading
 * the directory once, at config load: every file is parsed and checked
 * then, so an unknown {{variable}}, an unterminated {{, a bad header or
 * invalid UTF-8 is a "file:line: message" config error and never a crash
 * or an empty mail at run time.
 *
 * File format: optional header lines at the top ("Subject: ...") ended by
 * an empty line, then the body.  {{name}} inserts a variable, {{name|text}}
 * inserts text when the variable is empty.  In .html files values are
 * HTML-escaped.  The RFC 3834 headers are not the templates' business:
 * compose.c adds them.
 *
 * Owns: struct template_lib (every set, language and template loaded).
 */
#ifndef TICKD_TEMPLATE_H
#define TICKD_TEMPLATE_H

#include "common.h"

#include <glib.h>

struct template_lib;

/* The variables a template may use; anything else is a config error. */
extern const char *const template_vars[];

struct template_var {
	const char *name, *value; /* value NULL = empty */
};

struct template_out {
	char *subject; /* NULL when the template has no Subject: line */
	char *text;    /* never NULL after a successful render */
	char *html;    /* NULL without a .html file */
};

/*
 * template_lib_load - read every <set>/<lang>/<name>.{txt,html} below dir.
 * 0 and *lib_r (free with template_lib_free), or -EINVAL with one
 * "file:line: message" per problem appended to errors (g_free'd strings),
 * -ENOENT when dir does not exist (nothing appended).
 */
int template_lib_load(const char *dir, struct template_lib **lib_r,
                      GPtrArray *errors);
void template_lib_free(struct template_lib **lib);

/* template_lib_new - an empty library (free with template_lib_free), for
 * template_lib_parse in unit tests. */
struct template_lib *template_lib_new(void);
/* template_lib_parse - add one file's text under set/lang/name (is_html
 * for the .html part); file is what errors name.  0 / -EINVAL.  For
 * template_lib_load and unit tests. */
int template_lib_parse(struct template_lib *lib, const char *file,
                       const char *set, const char *lang, const char *name,
                       bool is_html, const char *text, size_t len,
                       GPtrArray *errors);

/* template_has - a text template set/lang/name exists. */
bool template_has(const struct template_lib *lib, const char *set,
                  const char *lang, const char *name);
/* template_has_set - set has name in some language. */
bool template_has_set(const struct template_lib *lib, const char *set,
                      const char *name);

/*
 * template_choose_lang - the language to write name of set in: the first
 * of previous (the customer's earlier language), content_language and
 * accept_language (header values, "de-DE, en;q=0.8"; q-values honoured)
 * that the set has (exact tag, then its primary subtag), else
 * queue_default, else "en", else any.  Any argument may be NULL.  Returns
 * a string owned by lib, or NULL when the set has no such template.
 */
const char *template_choose_lang(const struct template_lib *lib,
                                 const char *set, const char *name,
                                 const char *previous,
                                 const char *content_language,
                                 const char *accept_language,
                                 const char *queue_default);

/*
 * template_render - fill set/lang/name with vars (n entries).  0 and *out
 * (clear with template_out_clear), -ENOENT when there is no such
 * template.  Newlines in values are flattened in the subject.
 */
int template_render(const struct template_lib *lib, const char *set,
                    const char *lang, const char *name,
                    const struct template_var *vars, size_t n,
                    struct template_out *out);
void template_out_clear(struct template_out *o);

#endif
