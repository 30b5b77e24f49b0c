/*
 * html.c - HTML to plain text for mail bodies (libxml2 HTML parser).
 *
 * The output model: text is appended to a GString while two pieces of
 * state wait to be written until the next visible character arrives: a
 * pending space (collapsed whitespace) and a number of pending line breaks
 * (a block boundary asks for 1, a paragraph for 2).  Nothing trailing is
 * ever written, so the result needs no clean-up pass except a final trim.
 */
#include "html.h"

#include <glib.h>
#include <libxml/HTMLparser.h>
#include <libxml/tree.h>
#include <limits.h>
#include <string.h>

/* What an element does to the text flow. */
enum html_kind {
	HTML_INLINE = 0,
	HTML_SKIP,  /* drop the element and everything inside it */
	HTML_LINE,  /* starts and ends a line */
	HTML_PARA,  /* separated by a blank line */
	HTML_BR,    /* forced line break */
	HTML_LI,    /* a line starting with "- " */
	HTML_CELL,  /* table cell: a space between cells */
	HTML_PRE,   /* paragraph with whitespace kept */
	HTML_ANCHOR /* link: "text <url>" */
};

struct html_elem {
	const char *name;
	enum html_kind kind;
};

/* Sorted by name for bsearch. */
static const struct html_elem html_elems[] = {
    {"a", HTML_ANCHOR},      {"address", HTML_PARA},
    {"applet", HTML_SKIP},   {"article", HTML_LINE},
    {"aside", HTML_LINE},    {"blockquote", HTML_PARA},
    {"body", HTML_LINE},     {"br", HTML_BR},
    {"button", HTML_SKIP},   {"caption", HTML_LINE},
    {"center", HTML_LINE},   {"dd", HTML_LINE},
    {"details", HTML_LINE},  {"dir", HTML_PARA},
    {"div", HTML_LINE},      {"dl", HTML_PARA},
    {"dt", HTML_LINE},       {"embed", HTML_SKIP},
    {"fieldset", HTML_LINE}, {"figcaption", HTML_LINE},
    {"figure", HTML_PARA},   {"footer", HTML_LINE},
    {"form", HTML_LINE},     {"frameset", HTML_SKIP},
    {"h1", HTML_PARA},       {"h2", HTML_PARA},
    {"h3", HTML_PARA},       {"h4", HTML_PARA},
    {"h5", HTML_PARA},       {"h6", HTML_PARA},
    {"head", HTML_SKIP},     {"header", HTML_LINE},
    {"hr", HTML_PARA},       {"iframe", HTML_SKIP},
    {"li", HTML_LI},         {"listing", HTML_PRE},
    {"main", HTML_LINE},     {"map", HTML_SKIP},
    {"menu", HTML_PARA},     {"nav", HTML_LINE},
    {"object", HTML_SKIP},   {"ol", HTML_PARA},
    {"option", HTML_SKIP},   {"p", HTML_PARA},
    {"plaintext", HTML_PRE}, {"pre", HTML_PRE},
    {"script", HTML_SKIP},   {"section", HTML_LINE},
    {"select", HTML_SKIP},   {"style", HTML_SKIP},
    {"summary", HTML_LINE},  {"svg", HTML_SKIP},
    {"table", HTML_LINE},    {"tbody", HTML_LINE},
    {"td", HTML_CELL},       {"template", HTML_SKIP},
    {"textarea", HTML_SKIP}, {"tfoot", HTML_LINE},
    {"th", HTML_CELL},       {"thead", HTML_LINE},
    {"title", HTML_SKIP},    {"tr", HTML_LINE},
    {"ul", HTML_PARA},       {"xmp", HTML_PRE},
};

/* An open <a> whose text started at offset start of the output. */
struct html_link {
	const xmlNode *node;
	size_t start;
	char *href; /* owned, whitespace removed */
};

struct html_out {
	GString *s;
	unsigned nl;   /* line breaks owed before the next text */
	bool space;    /* a space owed before the next text */
	unsigned pre;  /* inside <pre>: keep whitespace */
	GArray *links; /* struct html_link, innermost last */
};

static int
html_elem_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct html_elem *)elem)->name);
}

static enum html_kind
html_kind_of(const xmlNode *n)
{
	const struct html_elem *e;

	if (n->type != XML_ELEMENT_NODE || n->name == NULL)
		return HTML_INLINE;
	e = bsearch(n->name, html_elems, ARRAY_SIZE(html_elems),
	            sizeof(html_elems[0]), html_elem_cmp);
	return e != NULL ? e->kind : HTML_INLINE;
}

/* html_break - owe at least n line breaks (nothing at the very start). */
static void
html_break(struct html_out *o, unsigned n)
{
	if (o->s->len == 0)
		return;
	if (o->nl < n)
		o->nl = n;
	o->space = false;
}

/* html_flush - write what is owed before visible text. */
static void
html_flush(struct html_out *o)
{
	if (o->nl > 0) {
		unsigned have = 0;

		/* Trailing blanks on a line are noise; drop them. */
		while (o->s->len > 0 && (o->s->str[o->s->len - 1] == ' ' ||
		                         o->s->str[o->s->len - 1] == '\t'))
			g_string_truncate(o->s, o->s->len - 1);
		for (size_t i = o->s->len; i > 0 && o->s->str[i - 1] == '\n';
		     i--)
			have++;
		for (; have < o->nl && have < 2; have++)
			g_string_append_c(o->s, '\n');
		o->nl = 0;
		o->space = false;
	} else if (o->space) {
		if (o->s->len > 0 && o->s->str[o->s->len - 1] != '\n' &&
		    o->s->str[o->s->len - 1] != ' ')
			g_string_append_c(o->s, ' ');
		o->space = false;
	}
}

static bool
html_is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	       c == '\v';
}

/* html_text - append a text node, collapsing whitespace unless in <pre>. */
static void
html_text(struct html_out *o, const char *t)
{
	const unsigned char *p = (const unsigned char *)t;

	if (o->pre > 0) {
		if (*p == '\0')
			return;
		html_flush(o);
		for (; *p != '\0'; p++) {
			if (*p == '\r') {
				if (p[1] != '\n')
					g_string_append_c(o->s, '\n');
				continue;
			}
			/* U+00A0 reads as a plain space in text. */
			if (p[0] == 0xc2 && p[1] == 0xa0) {
				g_string_append_c(o->s, ' ');
				p++;
				continue;
			}
			g_string_append_c(o->s, (char)*p);
		}
		return;
	}
	while (*p != '\0') {
		const unsigned char *run;

		if (html_is_space(*p)) {
			o->space = true;
			p++;
			continue;
		}
		if (p[0] == 0xc2 && p[1] == 0xa0) {
			o->space = true;
			p += 2;
			continue;
		}
		html_flush(o);
		run = p;
		while (*p != '\0' && !html_is_space(*p) &&
		       !(p[0] == 0xc2 && p[1] == 0xa0))
			p++;
		g_string_append_len(o->s, (const char *)run, p - run);
	}
}

/* html_href - the link target worth showing, or NULL. */
static char *
html_href(const xmlNode *n)
{
	xmlChar *v = xmlGetProp(n, (const xmlChar *)"href");
	GString *h;
	char *out = NULL;

	if (v == NULL)
		return NULL;
	h = g_string_sized_new(xmlStrlen(v));
	for (const xmlChar *p = v; *p != '\0'; p++)
		if (!html_is_space(*p))
			g_string_append_c(h, (char)*p);
	if (h->len == 0 || h->str[0] == '#' ||
	    g_ascii_strncasecmp(h->str, "javascript:", 11) == 0 ||
	    g_ascii_strncasecmp(h->str, "cid:", 4) == 0 ||
	    g_ascii_strncasecmp(h->str, "data:", 5) == 0)
		goto out;
	out = g_string_free(h, FALSE);
	h = NULL;
out:
	if (h != NULL)
		g_string_free(h, TRUE);
	xmlFree(v);
	return out;
}

/* html_same_target - the link text already says where it goes. */
static bool
html_same_target(const char *text, size_t len, const char *href)
{
	const char *h = href;
	size_t hl;

	while (len > 0 && html_is_space((unsigned char)*text)) {
		text++;
		len--;
	}
	while (len > 0 && html_is_space((unsigned char)text[len - 1]))
		len--;
	if (len == 0)
		return true; /* image-only links: the URL alone is noise */
	if (g_ascii_strncasecmp(h, "mailto:", 7) == 0)
		h += 7;
	hl = strlen(h);
	if (len == hl && g_ascii_strncasecmp(text, h, hl) == 0)
		return true;
	/* "example.com/x" shown for "https://example.com/x/" */
	if (strstr(h, "://") != NULL)
		h = strstr(h, "://") + 3;
	hl = strlen(h);
	if (hl > 0 && h[hl - 1] == '/')
		hl--;
	if (len > 0 && text[len - 1] == '/')
		len--;
	return len == hl && g_ascii_strncasecmp(text, h, hl) == 0;
}

/* html_enter - open element n; returns false to skip its children. */
static bool
html_enter(struct html_out *o, const xmlNode *n)
{
	if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
		if (n->content != NULL)
			html_text(o, (const char *)n->content);
		return false;
	}
	if (n->type != XML_ELEMENT_NODE)
		return n->type == XML_DOCUMENT_NODE ||
		       n->type == XML_HTML_DOCUMENT_NODE;

	switch (html_kind_of(n)) {
	case HTML_SKIP:
		return false;
	case HTML_LINE:
		html_break(o, 1);
		break;
	case HTML_PARA:
		html_break(o, 2);
		break;
	case HTML_PRE:
		html_break(o, 2);
		o->pre++;
		break;
	case HTML_BR:
		if (o->s->len > 0)
			o->nl++;
		o->space = false;
		break;
	case HTML_LI:
		html_break(o, 1);
		html_flush(o);
		g_string_append(o->s, "- ");
		break;
	case HTML_CELL:
		o->space = true;
		break;
	case HTML_ANCHOR: {
		struct html_link l = {n, 0, html_href(n)};

		if (l.href == NULL)
			break;
		html_flush(o);
		l.start = o->s->len;
		g_array_append_val(o->links, l);
		break;
	}
	case HTML_INLINE:
		break;
	}
	return true;
}

/* html_leave - close element n after its children. */
static void
html_leave(struct html_out *o, const xmlNode *n)
{
	if (n->type != XML_ELEMENT_NODE)
		return;
	switch (html_kind_of(n)) {
	case HTML_LINE:
	case HTML_LI:
		html_break(o, 1);
		break;
	case HTML_PARA:
		html_break(o, 2);
		break;
	case HTML_PRE:
		if (o->pre > 0)
			o->pre--;
		html_break(o, 2);
		break;
	case HTML_CELL:
		o->space = true;
		break;
	case HTML_ANCHOR: {
		struct html_link *l;

		if (o->links->len == 0)
			break;
		l = &g_array_index(o->links, struct html_link,
		                   o->links->len - 1);
		if (l->node != n)
			break;
		if (!html_same_target(o->s->str + l->start,
		                      o->s->len - l->start, l->href)) {
			html_flush(o);
			g_string_append_printf(o->s, " <%s>", l->href);
		}
		g_free(l->href);
		g_array_set_size(o->links, o->links->len - 1);
		break;
	}
	default:
		break;
	}
}

/* html_walk - depth-first over the tree without recursion. */
static void
html_walk(struct html_out *o, const xmlNode *root)
{
	const xmlNode *n = root;

	while (n != NULL) {
		if (html_enter(o, n) && n->children != NULL) {
			n = n->children;
			continue;
		}
		for (;;) {
			html_leave(o, n);
			if (n == root)
				return;
			if (n->next != NULL) {
				n = n->next;
				break;
			}
			n = n->parent;
			if (n == NULL)
				return;
		}
	}
}

char *
html_to_text(const char *html, size_t len)
{
	struct html_out o = {0};
	htmlDocPtr doc = NULL;
	char *clean = NULL;
	const char *end;

	if (html == NULL || len == 0)
		return g_strdup("");
	/* libxml2 would switch to Latin-1 on the first bad byte. */
	if (!g_utf8_validate_len(html, len, &end) || memchr(html, 0, len)) {
		GString *s = g_string_sized_new(len);

		for (size_t i = 0; i < len; i++)
			if (html[i] != '\0')
				g_string_append_c(s, html[i]);
		clean = g_utf8_make_valid(s->str, s->len);
		g_string_free(s, TRUE);
		html = clean;
		len = strlen(clean);
	}
	if (len > INT_MAX)
		len = INT_MAX;
	/*
	 * XML_PARSE_HUGE lifts libxml2's depth limit of 256, past which it
	 * drops all text; our walk and xmlFreeDoc do not recurse, and the
	 * caller bounds the size (mime.c: MIME_HTML_MAX).
	 */
	doc = htmlReadMemory(html, (int)len, NULL, "UTF-8",
	                     HTML_PARSE_RECOVER | HTML_PARSE_NOERROR |
	                         HTML_PARSE_NOWARNING | HTML_PARSE_NONET |
	                         HTML_PARSE_IGNORE_ENC | HTML_PARSE_COMPACT |
	                         XML_PARSE_HUGE);
	o.s = g_string_sized_new(len / 2 + 16);
	o.links = g_array_new(FALSE, FALSE, sizeof(struct html_link));
	if (doc != NULL)
		html_walk(&o, (const xmlNode *)doc);
	for (guint i = 0; i < o.links->len; i++)
		g_free(g_array_index(o.links, struct html_link, i).href);
	g_array_free(o.links, TRUE);
	if (doc != NULL)
		xmlFreeDoc(doc);
	g_free(clean);

	while (o.s->len > 0 && g_ascii_isspace(o.s->str[o.s->len - 1]))
		g_string_truncate(o.s, o.s->len - 1);
	/* libxml2 re-encodes what it was given, but stay defensive. */
	if (!g_utf8_validate_len(o.s->str, o.s->len, NULL)) {
		char *v = g_utf8_make_valid(o.s->str, o.s->len);

		g_string_free(o.s, TRUE);
		return v;
	}
	return g_string_free(o.s, FALSE);
}

/* html_find_meta - the next "<meta" (any case) in [p, end), or NULL. */
static const char *
html_find_meta(const char *p, const char *end)
{
	for (; p + 5 <= end; p++)
		if (*p == '<' && g_ascii_strncasecmp(p + 1, "meta", 4) == 0)
			return p;
	return NULL;
}

bool
html_meta_charset(const char *html, size_t len, char *out, size_t outlen)
{
	const char *end, *p = html;

	/* an empty part may come as (NULL, 0): no pointer arithmetic on it */
	if (html == NULL || len == 0)
		return false;
	end = html + (len < 2048 ? len : 2048);
	while ((p = html_find_meta(p, end)) != NULL) {
		const char *c, *q = memchr(p, '>', end - p);
		size_t cl = 0;

		if (q == NULL)
			return false;
		for (c = p; c + 8 <= q; c++)
			if (g_ascii_strncasecmp(c, "charset=", 8) == 0)
				break;
		if (c + 8 <= q) {
			c += 8;
			while (c < q && (*c == '"' || *c == '\'' || *c == ' '))
				c++;
			while (c + cl < q &&
			       (g_ascii_isalnum(c[cl]) || c[cl] == '-' ||
			        c[cl] == '_' || c[cl] == '.' || c[cl] == ':'))
				cl++;
			if (cl > 0 && cl < outlen) {
				for (size_t i = 0; i < cl; i++)
					out[i] = g_ascii_tolower(c[i]);
				out[cl] = '\0';
				return true;
			}
		}
		p = q + 1;
	}
	return false;
}
