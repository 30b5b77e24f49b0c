/*
 * authres.c - Authentication-Results (RFC 8601) reader and the "was this
 * From domain authenticated by our MTA" verdict.  See authres.h.
 *
 * Parsing is in three passes over a bounded copy: comments become a space
 * (quoted strings are kept as they are, so a ';' or '(' inside quotes is
 * data), the rest is split at ';' outside quotes, and each piece is read
 * as "method[/version]=result [reason=v] [ptype.property=v ...]".
 */
#include "authres.h"

#include <stdio.h>
#include <string.h>

static void
authres_result_free(gpointer p)
{
	struct authres_result *r = p;

	g_free(r->method);
	g_free(r->result);
	g_free(r->header_d);
	g_free(r->header_i);
	g_free(r->header_from);
	g_free(r->smtp_mailfrom);
	g_free(r);
}

void
authres_header_clear(struct authres_header *h)
{
	g_clear_pointer(&h->authserv_id, g_free);
	g_clear_pointer(&h->results, g_ptr_array_unref);
}

/* authres_decomment - value with every comment replaced by one space and
 * quoted strings copied verbatim.  An unterminated comment runs to the
 * end (and is dropped); an unterminated quote is closed at the end. */
static GString *
authres_decomment(const char *v)
{
	GString *s = g_string_sized_new(strlen(v));
	int depth = 0;
	bool quoted = false;

	for (const char *p = v; *p; p++) {
		if (depth > 0) {
			if (*p == '\\' && p[1])
				p++;
			else if (*p == '(')
				depth++;
			else if (*p == ')' && --depth == 0)
				g_string_append_c(s, ' ');
			continue;
		}
		if (quoted) {
			g_string_append_c(s, *p);
			if (*p == '\\' && p[1])
				g_string_append_c(s, *++p);
			else if (*p == '"')
				quoted = false;
			continue;
		}
		if (*p == '(') {
			depth = 1;
			continue;
		}
		if (*p == '"')
			quoted = true;
		/* folding leftovers and tabs are plain white space */
		g_string_append_c(
		    s, (*p == '\t' || *p == '\r' || *p == '\n') ? ' ' : *p);
	}
	if (quoted)
		g_string_append_c(s, '"');
	return s;
}

/* authres_split - the pieces of s between ';' outside quotes.  The
 * strings point into s, which is cut in place. */
static GPtrArray *
authres_split(char *s)
{
	GPtrArray *parts = g_ptr_array_new();
	bool quoted = false;
	char *start = s;

	for (char *p = s; *p; p++) {
		if (quoted) {
			if (*p == '\\' && p[1])
				p++;
			else if (*p == '"')
				quoted = false;
		} else if (*p == '"') {
			quoted = true;
		} else if (*p == ';') {
			*p = '\0';
			g_ptr_array_add(parts, start);
			start = p + 1;
		}
	}
	g_ptr_array_add(parts, start);
	return parts;
}

static void
authres_skip_ws(const char **p)
{
	while (**p == ' ')
		(*p)++;
}

static bool
authres_kwchar(char c)
{
	return g_ascii_isalnum(c) || c == '-' || c == '_';
}

/* authres_keyword - a keyword (letters, digits, '-', '_'), lower-cased,
 * or NULL when there is none at *p. */
static char *
authres_keyword(const char **p)
{
	const char *s = *p;

	while (authres_kwchar(**p))
		(*p)++;
	return *p > s ? g_ascii_strdown(s, *p - s) : NULL;
}

/* authres_value - a run of non-blank characters and quoted strings
 * (unquoted: '"odd;x"@example.com' is 'odd;x@example.com'), or NULL when
 * there is none at *p. */
static char *
authres_value(const char **p)
{
	GString *q = g_string_new(NULL);
	bool any = false;

	while (**p && **p != ' ') {
		any = true;
		if (**p != '"') {
			g_string_append_c(q, *(*p)++);
			continue;
		}
		for ((*p)++; **p && **p != '"'; (*p)++) {
			if (**p == '\\' && (*p)[1])
				(*p)++;
			g_string_append_c(q, **p);
		}
		if (**p == '"')
			(*p)++;
	}
	return g_string_free(q, !any);
}

/* authres_expect - skip blanks, then the character c and blanks after. */
static bool
authres_expect(const char **p, char c)
{
	authres_skip_ws(p);
	if (**p != c)
		return false;
	(*p)++;
	authres_skip_ws(p);
	return true;
}

/* authres_set - store a property once; a second, different value for the
 * same property makes the whole result ambiguous (false). */
static bool
authres_set(char **slot, char *v)
{
	char *low = g_ascii_strdown(v, -1);
	bool ok = *slot == NULL || strcmp(*slot, low) == 0;

	g_free(v);
	if (*slot == NULL)
		*slot = low;
	else
		g_free(low);
	return ok;
}

/* authres_resinfo - one "method=result ..." piece, or NULL when it does
 * not parse (the caller skips it). */
static struct authres_result *
authres_resinfo(const char *p)
{
	struct authres_result *r = g_new0(struct authres_result, 1);
	g_autofree char *ver = NULL;

	authres_skip_ws(&p);
	if ((r->method = authres_keyword(&p)) == NULL)
		goto fail;
	authres_skip_ws(&p);
	if (*p == '/') { /* method-version */
		p++;
		authres_skip_ws(&p);
		if ((ver = authres_keyword(&p)) == NULL)
			goto fail;
	}
	if (!authres_expect(&p, '=') ||
	    (r->result = authres_keyword(&p)) == NULL)
		goto fail;
	for (;;) {
		g_autofree char *ptype = NULL, *prop = NULL;
		char *v;

		authres_skip_ws(&p);
		if (*p == '\0')
			break;
		if ((ptype = authres_keyword(&p)) == NULL)
			goto fail;
		if (strcmp(ptype, "reason") == 0) {
			if (!authres_expect(&p, '=') ||
			    (v = authres_value(&p)) == NULL)
				goto fail;
			g_free(v);
			continue;
		}
		if (!authres_expect(&p, '.') ||
		    (prop = authres_keyword(&p)) == NULL ||
		    !authres_expect(&p, '=') || (v = authres_value(&p)) == NULL)
			goto fail;
		if (strcmp(ptype, "header") == 0 && strcmp(prop, "d") == 0) {
			if (!authres_set(&r->header_d, v))
				goto fail;
		} else if (strcmp(ptype, "header") == 0 &&
		           strcmp(prop, "i") == 0) {
			if (!authres_set(&r->header_i, v))
				goto fail;
		} else if (strcmp(ptype, "header") == 0 &&
		           strcmp(prop, "from") == 0) {
			if (!authres_set(&r->header_from, v))
				goto fail;
		} else if (strcmp(ptype, "smtp") == 0 &&
		           strcmp(prop, "mailfrom") == 0) {
			if (!authres_set(&r->smtp_mailfrom, v))
				goto fail;
		} else {
			g_free(v);
		}
	}
	return r;
fail:
	authres_result_free(r);
	return NULL;
}

int
authres_parse(const char *value, struct authres_header *h)
{
	GString *clean = NULL;
	GPtrArray *parts = NULL;
	const char *p;
	char *id = NULL, *ver = NULL;
	int rc = 0;

	if (value == NULL)
		return -EINVAL;
	if (strlen(value) > AUTHRES_MAX_VALUE)
		return -E2BIG;
	clean = authres_decomment(value);
	parts = authres_split(clean->str);
	p = parts->pdata[0];
	authres_skip_ws(&p);
	/* authserv-id: the raw token as written, never unquoted or decoded,
	 * so that '"mx.example.com"' or '=?us-ascii?q?mx.example.com?=' is
	 * not our MTA's id; an optional version number follows */
	{
		const char *s = p;

		while (*p && *p != ' ')
			p++;
		if (p == s) {
			rc = -EINVAL;
			goto out;
		}
		id = g_strndup(s, p - s);
	}
	authres_skip_ws(&p);
	ver = authres_keyword(&p);
	authres_skip_ws(&p);
	if (*p != '\0') { /* more than "id [version]": not a header we read */
		rc = -EINVAL;
		goto out;
	}
	h->authserv_id = g_steal_pointer(&id);
	h->results = g_ptr_array_new_with_free_func(authres_result_free);
	for (guint i = 1; i < parts->len; i++) {
		struct authres_result *r;
		const char *s = parts->pdata[i];

		authres_skip_ws(&s);
		if (g_ascii_strncasecmp(s, "none", 4) == 0) {
			const char *e = s + 4;
			authres_skip_ws(&e);
			if (*e == '\0')
				continue;
		}
		/* no cap on the count: a dmarc=fail after any number of
		 * results the sender provoked must be seen; the value's
		 * length (AUTHRES_MAX_VALUE) bounds the work */
		if ((r = authres_resinfo(s)) != NULL)
			g_ptr_array_add(h->results, r);
	}
out:
	g_free(id);
	g_free(ver);
	g_ptr_array_unref(parts);
	g_string_free(clean, true);
	return rc;
}

/* authres_domain - the domain of an address ("a@b" or "@b") or of a bare
 * domain, without a trailing dot; borrowed pointer into s, length in
 * *len_r.  NULL when empty. */
static const char *
authres_domain(const char *s, size_t *len_r)
{
	const char *at = strrchr(s, '@');
	const char *d = at ? at + 1 : s;
	size_t n = strlen(d);

	if (n > 0 && d[n - 1] == '.')
		n--;
	if (n == 0)
		return NULL;
	*len_r = n;
	return d;
}

/* authres_aligned - is the domain of v (address or domain) exactly dom? */
static bool
authres_aligned(const char *v, const char *dom)
{
	size_t n;
	const char *d = v ? authres_domain(v, &n) : NULL;

	return d != NULL && n == strlen(dom) &&
	       g_ascii_strncasecmp(d, dom, n) == 0;
}

/* authres_is_name - is [p, p+n) "Authentication-Results" followed
 * directly by the colon? */
static bool
authres_is_name(const char *p, size_t n)
{
	static const char name[] = "Authentication-Results:";

	return n >= sizeof(name) - 1 &&
	       g_ascii_strncasecmp(p, name, sizeof(name) - 1) == 0;
}

/* authres_take - append v's text (NULL when too long) to out, free v. */
static void
authres_take(GPtrArray *out, GString *v, bool too_long)
{
	/* a NUL must not end the value early and hide the rest of it */
	for (gsize k = 0; k < v->len; k++)
		if (v->str[k] == '\0')
			v->str[k] = ' ';
	g_ptr_array_add(out, g_string_free(v, too_long)); /* NULL: too long */
}

void
authres_raw_fields(const char *raw, size_t len, size_t max_fields,
                   GPtrArray *out)
{
	const char *p = raw, *end = raw + len;
	GString *v = NULL; /* the field being collected, NULL: none */
	bool too_long = false;
	size_t found = 0;

	while (p < end) {
		const char *e = memchr(p, '\n', end - p);
		const char *le = e != NULL ? e : end;
		const char *next = e != NULL ? e + 1 : end;

		if (le > p && le[-1] == '\r')
			le--;
		if (le == p)
			break; /* the empty line ends the header */
		if (*p == ' ' || *p == '\t') {
			/* folded: unfolding removes only the line break */
			if (v != NULL && !too_long) {
				if (v->len + (le - p) > AUTHRES_MAX_VALUE)
					too_long = true;
				else
					g_string_append_len(v, p, le - p);
			}
			p = next;
			continue;
		}
		if (v != NULL) {
			authres_take(out, v, too_long);
			v = NULL;
			if (++found >= max_fields)
				return;
		}
		if (authres_is_name(p, le - p)) {
			const char *val =
			    p + sizeof("Authentication-Results:") - 1;

			too_long = (size_t)(le - val) > AUTHRES_MAX_VALUE;
			v = g_string_new(NULL);
			if (!too_long)
				g_string_append_len(v, val, le - val);
		}
		p = next;
	}
	if (v != NULL)
		authres_take(out, v, too_long);
}

bool
authres_verify(const char *const *values, size_t n, const char *authserv_id,
               const char *from_addr, char *why, size_t whylen)
{
	g_autofree char *dom = NULL;
	const char *at, *pass = NULL;
	size_t ours = 0;

	if (from_addr == NULL || (at = strrchr(from_addr, '@')) == NULL ||
	    at[1] == '\0') {
		snprintf(why, whylen, "From has no domain");
		return false;
	}
	if (authserv_id == NULL || *authserv_id == '\0') {
		snprintf(why, whylen, "no authserv-id configured");
		return false;
	}
	dom = g_ascii_strdown(at + 1, -1);
	for (size_t i = 0; i < n; i++) {
		struct authres_header h = {0};
		int r;

		if (values[i] == NULL) {
			snprintf(why, whylen,
			         "Authentication-Results field %zu is over %d "
			         "bytes",
			         i + 1, AUTHRES_MAX_VALUE);
			return false;
		}
		if ((r = authres_parse(values[i], &h)) < 0 ||
		    g_ascii_strcasecmp(h.authserv_id, authserv_id) != 0) {
			/* the topmost field is the last hop's: when it is
			 * not our MTA's, nothing below it is ours either */
			if (r == 0)
				authres_header_clear(&h);
			break;
		}
		ours++;
		for (guint j = 0; j < h.results->len; j++) {
			const struct authres_result *res = h.results->pdata[j];
			bool p = strcmp(res->result, "pass") == 0;

			if (strcmp(res->method, "dmarc") == 0 &&
			    strcmp(res->result, "fail") == 0) {
				/* the MTA's own DMARC verdict overrides
				 * any single pass beside it */
				authres_header_clear(&h);
				snprintf(why, whylen, "dmarc=fail from %s",
				         authserv_id);
				return false;
			}
			if (pass != NULL || !p)
				continue;
			if (strcmp(res->method, "dmarc") == 0 &&
			    authres_aligned(res->header_from, dom))
				pass = "dmarc=pass";
			else if (strcmp(res->method, "dkim") == 0 &&
			         authres_aligned(res->header_d ? res->header_d
			                                       : res->header_i,
			                         dom))
				pass = "dkim=pass, aligned";
			else if (strcmp(res->method, "spf") == 0 &&
			         authres_aligned(res->smtp_mailfrom, dom))
				pass = "spf=pass, aligned";
		}
		authres_header_clear(&h);
	}
	if (pass != NULL) {
		snprintf(why, whylen, "%s for %s by %s", pass, dom,
		         authserv_id);
		return true;
	}
	if (ours == 0)
		snprintf(why, whylen,
		         "no Authentication-Results from %s on top",
		         authserv_id);
	else
		snprintf(why, whylen, "no aligned pass for %s from %s", dom,
		         authserv_id);
	return false;
}
