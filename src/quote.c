/*
 * quote.c - cut the quoted history and signature off a reply.
 *
 * The text is looked at line by line (views into the caller's string, no
 * copies).  The first line that starts a quote (attribution, Outlook
 * header block, "Original Message" separator, signature) ends the new
 * text; a block of ">" lines at the very end does too.  Everything is
 * linear in the size of the text.
 */
#include "quote.h"

#include <glib.h>
#include <string.h>

struct quote_line {
	const char *p; /* start of the line in the text */
	size_t len;    /* without the line end */
	const char *t; /* trimmed start */
	size_t tlen;   /* trimmed length */
};

/* Lines looked at: a reply's quote starts long before this; a mail of
 * millions of short lines ("#a") would otherwise cost 32 bytes of index
 * per line (128 MB for 4 MB of text).  Past it, everything is new text. */
#define QUOTE_MAX_LINES 50000

/* Markers that sit on their own line between dashes. */
static const char *const quote_separators[] = {
    "original message",       "ursprüngliche nachricht", "original-nachricht",
    "message d'origine",      "mensaje original",        "messaggio originale",
    "oorspronkelijk bericht", "originalmeddelande",      "alkuperäinen viesti",
    "původní zpráva",         "wiadomość oryginalna",
};

/* Attribution lines: prefix, a word that must appear, required ending. */
struct quote_attr {
	const char *prefix;
	const char *word;
	const char *suffix;
};

static const struct quote_attr quote_attrs[] = {
    {"On ", NULL, "wrote:"},    {"Le ", NULL, "a écrit :"},
    {"Le ", NULL, "a écrit:"},  {"Am ", "schrieb", ":"},
    {"El ", NULL, "escribió:"}, {"Il ", NULL, "ha scritto:"},
    {"Op ", "schreef", ":"},    {"Den ", "skrev", ":"},
    {"Em ", NULL, "escreveu:"},
};

/* Outlook header blocks: the From line and the Sent line that follows. */
static const char *const quote_from_words[] = {"From", "Von",  "De",  "Van",
                                               "Da",   "Från", "Fra", "Od"};
static const char *const quote_sent_words[] = {
    "Sent",    "Date",      "Gesendet", "Datum", "Envoyé",  "Enviado",
    "Inviato", "Verzonden", "Skickat",  "Sendt", "Wysłano", "Enviada"};

static const char *const quote_forward_marks[] = {
    "forwarded message", "begin forwarded message", "weitergeleitete",
    "message transféré", "mensaje reenviado",       "doorgestuurd bericht"};

static bool
quote_is_blank(const struct quote_line *l)
{
	return l->tlen == 0;
}

/* quote_has_ci - ASCII-case-insensitive substring test on a line view. */
static bool
quote_has_ci(const char *s, size_t len, const char *needle)
{
	size_t nl = strlen(needle);

	for (size_t i = 0; i + nl <= len; i++)
		if (g_ascii_strncasecmp(s + i, needle, nl) == 0)
			return true;
	return false;
}

static bool
quote_ends_with(const char *s, size_t len, const char *suffix)
{
	size_t sl = strlen(suffix);

	return len >= sl && memcmp(s + len - sl, suffix, sl) == 0;
}

/* quote_is_separator - "-----Original Message-----" and its cousins. */
static bool
quote_is_separator(const struct quote_line *l)
{
	const char *s = l->t;
	size_t len = l->tlen;

	if (len < 8 || (s[0] != '-' && s[0] != '_' && s[0] != '='))
		return false;
	while (len > 0 && (*s == '-' || *s == '_' || *s == '=' || *s == ' ')) {
		s++;
		len--;
	}
	while (len > 0 && (s[len - 1] == '-' || s[len - 1] == '_' ||
	                   s[len - 1] == '=' || s[len - 1] == ' '))
		len--;
	for (size_t i = 0; i < ARRAY_SIZE(quote_separators); i++) {
		size_t sl = strlen(quote_separators[i]);

		if (len == sl &&
		    g_ascii_strncasecmp(s, quote_separators[i], sl) == 0)
			return true;
	}
	return false;
}

static bool
quote_is_signature(const struct quote_line *l)
{
	return (l->len == 3 && memcmp(l->p, "-- ", 3) == 0) ||
	       (l->len == 2 && memcmp(l->p, "--", 2) == 0);
}

/*
 * quote_attr_match - does s (one line, or two joined) read like an
 * attribution?  Bounded length keeps a long paragraph from matching.
 */
static bool
quote_attr_match(const char *s, size_t len)
{
	if (len > 400)
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(quote_attrs); i++) {
		const struct quote_attr *a = &quote_attrs[i];
		size_t pl = strlen(a->prefix);

		if (len <= pl || memcmp(s, a->prefix, pl) != 0)
			continue;
		if (!quote_ends_with(s, len, a->suffix))
			continue;
		if (a->word != NULL && !quote_has_ci(s, len, a->word))
			continue;
		return true;
	}
	return false;
}

/* quote_attribution - lines (1 or 2) of an attribution at i, else 0. */
static size_t
quote_attribution(const struct quote_line *lines, size_t n, size_t i)
{
	const struct quote_line *l = &lines[i];
	char buf[420];

	if (l->tlen < 4 || l->t[0] == '>')
		return 0;
	if (quote_attr_match(l->t, l->tlen))
		return 1;
	/* Gmail wraps long attributions: "On ..., Name <addr>\nwrote:" */
	if (i + 1 < n && !quote_is_blank(&lines[i + 1]) &&
	    lines[i + 1].t[0] != '>' &&
	    l->tlen + 1 + lines[i + 1].tlen < sizeof(buf)) {
		memcpy(buf, l->t, l->tlen);
		buf[l->tlen] = ' ';
		memcpy(buf + l->tlen + 1, lines[i + 1].t, lines[i + 1].tlen);
		if (quote_attr_match(buf, l->tlen + 1 + lines[i + 1].tlen))
			return 2;
	}
	return 0;
}

/* quote_field - line starts with one of words followed by ':'. */
static bool
quote_field(const struct quote_line *l, const char *const *words, size_t n)
{
	const char *s = l->t;
	size_t len = l->tlen;

	/* "*From:* x" when the text came from bold HTML */
	while (len > 0 && *s == '*') {
		s++;
		len--;
	}
	for (size_t i = 0; i < n; i++) {
		size_t wl = strlen(words[i]);
		size_t k = wl;

		if (len <= wl || memcmp(s, words[i], wl) != 0)
			continue;
		while (k < len && (s[k] == ' ' || s[k] == '*'))
			k++;
		if (k < len && s[k] == ':')
			return true;
	}
	return false;
}

/* quote_after_forward - the From: block belongs to a forwarded mail. */
static bool
quote_after_forward(const struct quote_line *lines, size_t i)
{
	for (size_t back = 1; back <= 3 && back <= i; back++) {
		const struct quote_line *l = &lines[i - back];

		for (size_t k = 0; k < ARRAY_SIZE(quote_forward_marks); k++)
			if (quote_has_ci(l->t, l->tlen, quote_forward_marks[k]))
				return true;
	}
	return false;
}

/* quote_outlook - an Outlook-style header block starts at line i. */
static bool
quote_outlook(const struct quote_line *lines, size_t n, size_t i)
{
	if (!quote_field(&lines[i], quote_from_words,
	                 ARRAY_SIZE(quote_from_words)))
		return false;
	for (size_t k = i + 1; k < n && k <= i + 4; k++)
		if (quote_field(&lines[k], quote_sent_words,
		                ARRAY_SIZE(quote_sent_words)))
			return !quote_after_forward(lines, i);
	return false;
}

static bool
quote_is_rule(const struct quote_line *l)
{
	if (l->tlen < 10)
		return false;
	for (size_t i = 0; i < l->tlen; i++)
		if (l->t[i] != '_' && l->t[i] != '-')
			return false;
	return true;
}

/* quote_lines - split text into line views. */
static GArray *
quote_lines(const char *text, bool *whole_r)
{
	GArray *a = g_array_new(FALSE, FALSE, sizeof(struct quote_line));
	const char *p = text;

	while (*p != '\0' && a->len < QUOTE_MAX_LINES) {
		struct quote_line l;
		const char *e = strchr(p, '\n');
		size_t len = e != NULL ? (size_t)(e - p) : strlen(p);

		l.p = p;
		l.len = len;
		if (l.len > 0 && p[l.len - 1] == '\r')
			l.len--;
		l.t = p;
		l.tlen = l.len;
		while (l.tlen > 0 && g_ascii_isspace(*l.t)) {
			l.t++;
			l.tlen--;
		}
		while (l.tlen > 0 && g_ascii_isspace(l.t[l.tlen - 1]))
			l.tlen--;
		g_array_append_val(a, l);
		if (e == NULL) {
			p += len;
			break;
		}
		p = e + 1;
	}
	*whole_r = *p == '\0';
	return a;
}

/* quote_trimmed - copy [s, s+len) without surrounding whitespace. */
static char *
quote_trimmed(const char *s, size_t len)
{
	while (len > 0 && g_ascii_isspace(*s)) {
		s++;
		len--;
	}
	while (len > 0 && g_ascii_isspace(s[len - 1]))
		len--;
	return g_strndup(s, len);
}

/*
 * quote_cut - index of the first line that is not new text (n if none);
 * *is_quote_r tells an attribution or ">" block from a signature etc.
 */
static size_t
quote_cut(const struct quote_line *lines, size_t n, bool whole,
          bool *is_quote_r)
{
	size_t last = n, q;

	*is_quote_r = false;
	for (size_t i = 0; i < n; i++) {
		const struct quote_line *l = &lines[i];

		if (quote_is_blank(l))
			continue;
		if (quote_attribution(lines, n, i) > 0) {
			*is_quote_r = true;
			return i;
		}
		if (quote_is_separator(l) || quote_is_signature(l))
			return i;
		if (quote_outlook(lines, n, i)) {
			/* Outlook Web puts a rule of underscores above */
			size_t k = i;

			while (k > 0 && quote_is_blank(&lines[k - 1]))
				k--;
			if (k > 0 && quote_is_rule(&lines[k - 1]))
				return k - 1;
			return i;
		}
	}

	/* A block of ">" lines that runs to the end of the text (not
	 * looked for when the lines stop before the text's end). */
	if (!whole)
		return n;
	while (last > 0 && quote_is_blank(&lines[last - 1]))
		last--;
	if (last == 0 || lines[last - 1].t[0] != '>')
		return n;
	q = last - 1;
	while (q > 0 &&
	       (quote_is_blank(&lines[q - 1]) || lines[q - 1].t[0] == '>'))
		q--;
	while (q < last && quote_is_blank(&lines[q]))
		q++;
	*is_quote_r = true;
	/* "Someone wrote:" in a form we did not recognise above */
	if (q > 0) {
		size_t a = q;

		while (a > 0 && quote_is_blank(&lines[a - 1]))
			a--;
		if (a > 0 && lines[a - 1].tlen < 200 &&
		    quote_ends_with(lines[a - 1].t, lines[a - 1].tlen, ":"))
			return a - 1;
	}
	return q;
}

/* quote_below - the answer written under a quote (bottom-posting). */
static char *
quote_below(const struct quote_line *lines, size_t n, size_t cut)
{
	size_t i = cut + quote_attribution(lines, n, cut);
	GArray *rest = NULL;
	char *out;
	size_t end;
	bool dummy, whole;

	while (i < n && (quote_is_blank(&lines[i]) || lines[i].t[0] == '>'))
		i++;
	if (i == n || i == cut)
		return g_strdup("");
	/* The part below may end in a signature or another quote. */
	rest = quote_lines(lines[i].p, &whole);
	end = quote_cut((const struct quote_line *)rest->data, rest->len, whole,
	                &dummy);
	if (end < rest->len)
		out = quote_trimmed(
		    lines[i].p,
		    g_array_index(rest, struct quote_line, end).p - lines[i].p);
	else
		out = quote_trimmed(lines[i].p, strlen(lines[i].p));
	g_array_free(rest, TRUE);
	return out;
}

/*
 * quote_lead - first line after a quote that opens the text (an answer
 * written below the quote): an optional attribution, then ">" lines.
 * Returns 0 when the text does not open with a quote.
 */
static size_t
quote_lead(const struct quote_line *lines, size_t n, size_t cut)
{
	size_t i = 0, a;

	while (i < cut && quote_is_blank(&lines[i]))
		i++;
	if (i == cut)
		return 0;
	a = quote_attribution(lines, n, i);
	if (a == 0 && lines[i].t[0] != '>' &&
	    quote_ends_with(lines[i].t, lines[i].tlen, ":") && i + 1 < cut &&
	    lines[i + 1].t[0] == '>')
		a = 1; /* "Bob wrote:" in a form we do not know */
	/* mailx/s-nail: "Name <addr> wrote:", a blank line, the quote */
	if (a == 0 && lines[i].t[0] != '>' && lines[i].tlen < 400 &&
	    quote_ends_with(lines[i].t, lines[i].tlen, "wrote:"))
		a = 1;
	i += a;
	while (a > 0 && i < cut && quote_is_blank(&lines[i]))
		i++;
	if (i >= cut || lines[i].t[0] != '>')
		return 0;
	while (i < cut && (quote_is_blank(&lines[i]) || lines[i].t[0] == '>'))
		i++;
	return i;
}

char *
quote_split(const char *text)
{
	GArray *a;
	const struct quote_line *lines;
	const char *from, *to;
	size_t cut, lead;
	bool is_quote, whole;
	char *out;

	if (text == NULL)
		return g_strdup("");
	a = quote_lines(text, &whole);
	lines = (const struct quote_line *)a->data;
	cut = quote_cut(lines, a->len, whole, &is_quote);
	lead = quote_lead(lines, a->len, cut);
	from = lead < a->len ? lines[lead].p : text + strlen(text);
	to = cut < a->len ? lines[cut].p : text + strlen(text);
	out = quote_trimmed(from, to > from ? (size_t)(to - from) : 0);
	if (out[0] == '\0' && is_quote && cut < a->len) {
		g_free(out);
		out = quote_below(lines, a->len, cut);
	}
	if (out[0] == '\0') {
		/* a forward without a word of its own, a lone signature:
		 * what was sent is the best guess at what is new */
		g_free(out);
		out = quote_trimmed(text, strlen(text));
	}
	g_array_free(a, TRUE);
	return out;
}
