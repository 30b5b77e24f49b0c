/*
 * forward.c - whose mail a forwarded mail is.  See forward.h.
 *
 * A forward block is a marker line ("---------- Forwarded message
 * ---------", "-----Original Message-----", "Begin forwarded message:",
 * their German forms) followed by a header block ("From: ...", "Date:
 * ...", "Subject: ...", "To: ..."), or Outlook's header block alone
 * ("From:" with "Sent:" and "Subject:" below it).  The text above it is
 * the forwarder's note, the text below the header block is the forwarded
 * mail's.  The first block counts: a forward of a forward is the
 * forwarder's view of it, and #requester can name someone else.
 */
#include "forward.h"

#include <string.h>

/* Lines of blank space allowed between a marker and its header block. */
#define FORWARD_BLANKS 3
/* Bytes of a date value read. */
#define FORWARD_DATE_MAX 200

/* A marker line's words (lower case, dashes and ':' cut) and its style. */
static const struct {
	const char *words;
	const char *style;
	bool bare;  /* recognised without the dashes around it */
	bool reply; /* replies quote this way too (forward.reply_like) */
} forward_markers[] = {
    {"forwarded message", "forwarded message", false, false},
    {"original message", "original message", false, true},
    {"begin forwarded message", "apple mail", true, false},
    {"weitergeleitete nachricht", "weitergeleitete nachricht", false, false},
    {"urspr\xc3\xbc"
     "ngliche nachricht",
     "urspruengliche nachricht", false, true},
    {"original-nachricht", "original-nachricht", false, true},
    {"anfang der weitergeleiteten nachricht", "apple mail", true, false},
    {"beginn der weitergeleiteten nachricht", "apple mail", true, false},
    {"message transf\xc3\xa9r\xc3\xa9", "message transfere", false, false},
    {"message d'origine", "message d'origine", false, true},
};

enum forward_label {
	FL_NONE,
	FL_FROM,
	FL_DATE,
	FL_SENT, /* Outlook's date label */
	FL_SUBJECT,
	FL_OTHER, /* To, Cc, Reply-To: read past, may wrap */
};

static const struct {
	const char *name;
	enum forward_label label;
} forward_labels[] = {
    {"from", FL_FROM},        {"von", FL_FROM},
    {"de", FL_FROM},          {"date", FL_DATE},
    {"sent", FL_SENT},        {"datum", FL_DATE},
    {"gesendet", FL_SENT},    {"envoy\xc3\xa9", FL_SENT},
    {"subject", FL_SUBJECT},  {"betreff", FL_SUBJECT},
    {"objet", FL_SUBJECT},    {"to", FL_OTHER},
    {"an", FL_OTHER},         {"cc", FL_OTHER},
    {"kopie", FL_OTHER},      {"reply-to", FL_OTHER},
    {"antwort an", FL_OTHER}, {"\xc3\xa0", FL_OTHER},
};

/* What a header block held (borrowed spans of the text). */
struct forward_block {
	const char *from, *date, *subject;
	size_t from_len, date_len, subject_len;
	bool sent; /* the date line was Outlook's "Sent:"/"Gesendet:" */
	int labels;
	const char *body; /* where the forwarded text starts */
};

/* forward_cut - clip s in place to at most max bytes at a UTF-8 boundary. */
static void
forward_cut(char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return;
	while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
		max--;
	s[max] = '\0';
}

/* forward_trim - the span [*a, *b) without white space at either end. */
static void
forward_trim(const char **a, const char **b)
{
	while (*a < *b && g_ascii_isspace(**a))
		(*a)++;
	while (*b > *a && g_ascii_isspace((*b)[-1]))
		(*b)--;
}

/* forward_dup - a trimmed, UTF-8-valid, clipped copy of [a, b). */
static char *
forward_dup(const char *a, const char *b, size_t max)
{
	char *s;

	forward_trim(&a, &b);
	s = g_utf8_make_valid(a, b - a);
	forward_cut(s, max);
	return s;
}

/*
 * forward_marker - the style of a marker line [a, b), or NULL.  Dashes,
 * underscores, stars and a trailing ':' around the words are cut; words
 * other than Apple Mail's sentence need at least two dashes or
 * underscores around them, so prose that says "original message" is none.
 */
static const char *
forward_marker(const char *a, const char *b, bool *reply_r)
{
	const char *p = a, *q = b;
	size_t dashes = 0, n;
	char buf[64];

	forward_trim(&p, &q);
	if (q - p > 80)
		return NULL;
	while (p < q && strchr("-_*= \t", *p) != NULL) {
		dashes += *p == '-' || *p == '_';
		p++;
	}
	while (q > p && strchr("-_*=: \t", q[-1]) != NULL) {
		q--;
		dashes += *q == '-' || *q == '_';
	}
	n = (size_t)(q - p);
	if (n == 0 || n >= sizeof(buf))
		return NULL;
	for (size_t i = 0; i < n; i++)
		buf[i] = g_ascii_tolower(p[i]);
	buf[n] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(forward_markers); i++)
		if (strcmp(buf, forward_markers[i].words) == 0 &&
		    (forward_markers[i].bare || dashes >= 2)) {
			*reply_r = forward_markers[i].reply;
			return forward_markers[i].style;
		}
	return NULL;
}

/* forward_separator - Outlook's "________________________________". */
static bool
forward_separator(const char *a, const char *b)
{
	forward_trim(&a, &b);
	if (b - a < 10)
		return false;
	for (; a < b; a++)
		if (*a != '_')
			return false;
	return true;
}

/*
 * forward_label - the label of a header block line [a, b) ("From:",
 * "*Von:*", "Subject :"), and where its value starts (*value_r, past
 * stars and blanks).  FL_NONE when the line is no such line.
 */
static enum forward_label
forward_label(const char *a, const char *b, const char **value_r)
{
	const char *p = a, *colon, *e;
	char buf[24];
	size_t n = 0;

	while (p < b && (*p == '*' || *p == ' ' || *p == '\t'))
		p++;
	colon = memchr(p, ':', (size_t)(b - p));
	if (colon == NULL || colon - p > 20 || colon == p)
		return FL_NONE;
	e = colon;
	while (e > p && (e[-1] == '*' || e[-1] == ' ' || e[-1] == '\t'))
		e--;
	for (const char *s = p; s < e; s++) {
		if (n + 1 >= sizeof(buf))
			return FL_NONE;
		buf[n++] = g_ascii_tolower(*s);
	}
	buf[n] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(forward_labels); i++)
		if (strcmp(buf, forward_labels[i].name) == 0) {
			p = colon + 1;
			while (p < b && (*p == '*' || *p == ' ' || *p == '\t'))
				p++;
			*value_r = p;
			return forward_labels[i].label;
		}
	return FL_NONE;
}

/* forward_line_end - the end of the line at p (its '\n' or end). */
static const char *
forward_line_end(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	return nl ? nl : end;
}

/* forward_blank - [a, b) is white space only. */
static bool
forward_blank(const char *a, const char *b)
{
	forward_trim(&a, &b);
	return a == b;
}

/*
 * forward_block - read the header block starting at p (blank lines
 * before it allowed): at most FORWARD_HEADER_LINES lines, each at most
 * FORWARD_LINE_MAX bytes; the first label of a kind counts.  Fills *hb
 * (hb->body: where the text below starts).
 */
static void
forward_block(const char *p, const char *end, struct forward_block *hb)
{
	enum forward_label last = FL_NONE;
	int lines = 0, blanks = 0;

	memset(hb, 0, sizeof(*hb));
	while (p < end && lines < FORWARD_HEADER_LINES) {
		const char *e = forward_line_end(p, end), *v = NULL;
		enum forward_label l;

		if (e - p > FORWARD_LINE_MAX)
			break;
		if (forward_blank(p, e)) {
			if (hb->labels > 0 || ++blanks > FORWARD_BLANKS)
				break;
			p = e < end ? e + 1 : e;
			continue;
		}
		lines++;
		if ((l = forward_label(p, e, &v)) == FL_NONE) {
			/* a wrapped To/Cc list goes on; anything else is
			 * the forwarded text */
			if (last != FL_OTHER)
				break;
		} else {
			const char *ve = e;
			forward_trim(&v, &ve);
			hb->labels++;
			if (l == FL_FROM && hb->from == NULL) {
				hb->from = v;
				hb->from_len = (size_t)(ve - v);
			} else if ((l == FL_DATE || l == FL_SENT) &&
			           hb->date == NULL) {
				hb->date = v;
				hb->date_len = (size_t)(ve - v);
				hb->sent = l == FL_SENT;
			} else if (l == FL_SUBJECT && hb->subject == NULL) {
				hb->subject = v;
				hb->subject_len = (size_t)(ve - v);
			}
			last = l;
		}
		p = e < end ? e + 1 : e;
	}
	hb->body = p;
}

/* forward_addr_ok - one '@', a dot in the domain, no blank or special
 * character, printable ASCII, at most FORWARD_ADDR_MAX bytes. */
static bool
forward_addr_ok(const char *a)
{
	const char *at = strchr(a, '@');
	size_t n = strlen(a);

	if (n == 0 || n > FORWARD_ADDR_MAX || at == NULL || at == a ||
	    strchr(at + 1, '@') != NULL || strchr(at + 1, '.') == NULL ||
	    at[1] == '.' || a[n - 1] == '.')
		return false;
	for (const char *s = a; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f ||
		    strchr("<>()[]\\,;:\"", *s) != NULL)
			return false;
	return true;
}

/* forward_name - a display name from [a, b): quotes and stars cut;
 * NULL when nothing is left or it is an address. */
static char *
forward_name(const char *a, const char *b)
{
	char *s;

	forward_trim(&a, &b);
	while (a < b && (*a == '"' || *a == '\'' || *a == '*' || *a == '('))
		a++;
	while (b > a && (b[-1] == '"' || b[-1] == '\'' || b[-1] == '*' ||
	                 b[-1] == ')' || b[-1] == ','))
		b--;
	forward_trim(&a, &b);
	if (a == b || memchr(a, '@', (size_t)(b - a)) != NULL)
		return NULL;
	s = g_utf8_make_valid(a, b - a);
	forward_cut(s, FORWARD_NAME_MAX);
	return s;
}

char *
forward_addr(const char *value, char **name_r)
{
	const char *v = value ? value : "", *end = v + strlen(v);
	const char *a = NULL, *b = NULL, *lt, *mt;
	const char *na = v, *nb = v;
	char *addr;

	if (name_r)
		*name_r = NULL;
	if (end - v > FORWARD_LINE_MAX)
		return NULL;
	if ((lt = strrchr(v, '<')) != NULL && strchr(lt, '>') != NULL) {
		a = lt + 1;
		b = strchr(lt, '>');
		nb = lt;
	} else if ((mt = strstr(v, "[mailto:")) != NULL &&
	           strchr(mt, ']') != NULL) {
		a = mt + 8;
		b = strchr(mt, ']');
		nb = mt;
	} else {
		/* a bare address, its name (if any) in parentheses after */
		const char *at = strchr(v, '@');
		if (at == NULL)
			return NULL;
		a = b = at;
		while (a > v && !g_ascii_isspace(a[-1]))
			a--;
		while (*b && !g_ascii_isspace(*b) && *b != '(')
			b++;
		na = b;
		nb = end;
		while (a < b && strchr("<\"'*", *a) != NULL)
			a++;
		while (b > a && strchr(">\"'*,;.", b[-1]) != NULL)
			b--;
	}
	addr = g_ascii_strdown(a, b - a);
	g_strstrip(addr);
	if (!forward_addr_ok(addr)) {
		g_free(addr);
		return NULL;
	}
	if (name_r)
		*name_r = forward_name(na, nb);
	return addr;
}

bool
forward_subject_prefixed(const char *subject)
{
	g_autofree char *cut = forward_subject(subject);
	g_autofree char *all = g_utf8_make_valid(subject ? subject : "", -1);

	g_strstrip(all);
	forward_cut(all, FORWARD_SUBJECT_MAX);
	return strcmp(cut, all) != 0;
}

char *
forward_subject(const char *subject)
{
	static const char *const pre[] = {"fwd", "fw", "wg", "tr", "vs"};
	const char *s = subject ? subject : "";
	char *out;

	for (bool again = true; again;) {
		again = false;
		while (g_ascii_isspace(*s))
			s++;
		for (size_t i = 0; i < ARRAY_SIZE(pre) && !again; i++) {
			size_t n = strlen(pre[i]);
			const char *p = s + n;
			if (g_ascii_strncasecmp(s, pre[i], n) != 0)
				continue;
			if (*p == '[' || *p == '(') { /* "Fwd[2]:" */
				const char *q = p + 1;
				while (g_ascii_isdigit(*q))
					q++;
				if (q > p + 1 && (*q == ']' || *q == ')'))
					p = q + 1;
			}
			while (*p == ' ')
				p++;
			if (*p == ':') {
				s = p + 1;
				again = true;
			}
		}
	}
	out = g_utf8_make_valid(s, -1);
	g_strstrip(out);
	forward_cut(out, FORWARD_SUBJECT_MAX);
	return out;
}

/* ---- dates ---- */

static const struct {
	const char *name;
	int month;
} forward_months[] = {
    {"january", 1},
    {"februar", 2},
    {"february", 2},
    {"march", 3},
    {"m\xc3\xa4rz", 3},
    {"mrz", 3},
    {"maerz", 3},
    {"april", 4},
    {"may", 5},
    {"mai", 5},
    {"june", 6},
    {"juni", 6},
    {"july", 7},
    {"juli", 7},
    {"august", 8},
    {"september", 9},
    {"october", 10},
    {"oktober", 10},
    {"november", 11},
    {"december", 12},
    {"dezember", 12},
    {"januar", 1},
    {"j\xc3\xa4nner", 1},
    {"janvier", 1},
    {"mars", 3},
    {"d\xc3\xa9"
     "cembre",
     12},
};

static const struct {
	const char *name;
	int minutes;
} forward_zones[] = {
    {"gmt", 0},    {"utc", 0},    {"ut", 0},     {"cet", 60},   {"mez", 60},
    {"cest", 120}, {"mesz", 120}, {"bst", 60},   {"wet", 0},    {"west", 60},
    {"eet", 120},  {"eest", 180}, {"est", -300}, {"edt", -240}, {"cst", -360},
    {"cdt", -300}, {"mst", -420}, {"mdt", -360}, {"pst", -480}, {"pdt", -420},
};

struct forward_when {
	int y, mo, d, h, mi, s;
	bool time, zone, am, pm, gmt;
	int off; /* seconds east of UTC when zone */
};

/* forward_month - a month name or an abbreviation of at least three
 * letters ("Dez", "Sept", "Mär"); 0 when it is none. */
static int
forward_month(const char *w, size_t n)
{
	if (n < 3)
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(forward_months); i++)
		if (strlen(forward_months[i].name) >= n &&
		    strncmp(forward_months[i].name, w, n) == 0)
			return forward_months[i].month;
	return 0;
}

/* forward_word - a word of a date (lower case, n bytes). */
static void
forward_word(struct forward_when *w, const char *s, size_t n)
{
	int m;

	w->gmt = false;
	/* after the time only: German "am 1. Dezember" is no a.m. */
	if (n == 2 && w->time &&
	    (memcmp(s, "am", 2) == 0 || memcmp(s, "pm", 2) == 0)) {
		w->am = s[0] == 'a';
		w->pm = s[0] == 'p';
		return;
	}
	if (w->mo == 0 && (m = forward_month(s, n)) > 0) {
		w->mo = m;
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(forward_zones); i++)
		if (strlen(forward_zones[i].name) == n &&
		    memcmp(forward_zones[i].name, s, n) == 0) {
			w->gmt = forward_zones[i].minutes == 0 && s[0] != 'w';
			if (!w->zone) {
				w->zone = true;
				w->off = forward_zones[i].minutes * 60;
			}
			return;
		}
}

/* forward_nums - up to 3 numbers of a token split at sep into v; how
 * many there were (more than 3, or none: 0). */
static int
forward_nums(const char *s, size_t n, char sep, long v[3], size_t len[3])
{
	int k = 0;

	for (size_t i = 0; i < n && k < 3;) {
		size_t j = i;
		long x = 0;
		while (j < n && g_ascii_isdigit(s[j]) && j - i < 6)
			x = x * 10 + (s[j++] - '0');
		if (j == i)
			return 0;
		v[k] = x;
		len[k++] = j - i;
		if (j < n && s[j] != sep)
			return 0;
		i = j + 1;
	}
	return k;
}

/* forward_number - a run of digits and inner separators. */
static void
forward_number(struct forward_when *w, const char *s, size_t n)
{
	long v[3] = {0};
	size_t len[3] = {0};
	int k;

	if (memchr(s, ':', n) != NULL) {
		if (!w->time && (k = forward_nums(s, n, ':', v, len)) >= 2) {
			w->time = true;
			w->h = (int)v[0];
			w->mi = (int)v[1];
			w->s = k == 3 ? (int)v[2] : 0;
		}
		return;
	}
	if (w->y != 0)
		return;
	if ((k = forward_nums(s, n, '.', v, len)) == 3) { /* 01.12.2026 */
		w->d = (int)v[0];
		w->mo = (int)v[1];
		w->y = (int)(len[2] == 2 ? 2000 + v[2] : v[2]);
	} else if ((k = forward_nums(s, n, '/', v, len)) == 3) {
		/* Outlook's US "12/1/2026"; a first number over 12 is a day */
		bool us = v[0] <= 12;
		w->mo = (int)(us ? v[0] : v[1]);
		w->d = (int)(us ? v[1] : v[0]);
		w->y = (int)(len[2] == 2 ? 2000 + v[2] : v[2]);
	} else if ((k = forward_nums(s, n, '-', v, len)) == 3 && len[0] == 4) {
		w->y = (int)v[0];
		w->mo = (int)v[1];
		w->d = (int)v[2];
	} else if (forward_nums(s, n, '\0', v, len) == 1) {
		if (len[0] == 4)
			w->y = (int)v[0];
		else if (w->d == 0 && v[0] >= 1 && v[0] <= 31)
			w->d = (int)v[0];
	}
}

/* forward_offset - "+0100", "-05:00", "+1" at s (n bytes, after the
 * sign); the bytes read, 0 when it is none. */
static size_t
forward_offset(struct forward_when *w, const char *s, size_t n, int sign)
{
	size_t i = 0, d = 0;
	int h = 0, m = 0;

	while (i < n && g_ascii_isdigit(s[i]) && d < 4) {
		d++;
		i++;
	}
	if (d == 4) {
		h = (s[0] - '0') * 10 + (s[1] - '0');
		m = (s[2] - '0') * 10 + (s[3] - '0');
	} else if (d == 1 || d == 2) {
		h = d == 1 ? s[0] - '0' : (s[0] - '0') * 10 + (s[1] - '0');
		if (i + 2 < n && s[i] == ':' && g_ascii_isdigit(s[i + 1]) &&
		    g_ascii_isdigit(s[i + 2])) {
			m = (s[i + 1] - '0') * 10 + (s[i + 2] - '0');
			i += 3;
		}
	} else {
		return 0;
	}
	if (h > 14 || m > 59)
		return 0;
	if (!w->zone || w->gmt) { /* "GMT+1": the offset, not GMT's */
		w->zone = true;
		w->off = sign * (h * 3600 + m * 60);
	}
	return i;
}

/* forward_alpha - a letter of a word: ASCII letters and every byte of a
 * multi-byte UTF-8 character ("März"). */
static bool
forward_alpha(unsigned char c)
{
	return g_ascii_isalpha(c) || c >= 0x80;
}

bool
forward_date(const char *str, int default_offset, gint64 *t_r)
{
	struct forward_when w = {0};
	char s[FORWARD_DATE_MAX + 1];
	size_t n, i = 0;
	GTimeZone *tz;
	GDateTime *dt;

	if (str == NULL)
		return false;
	n = strnlen(str, FORWARD_DATE_MAX);
	for (size_t k = 0; k < n; k++)
		s[k] = g_ascii_tolower(str[k]);
	s[n] = '\0';
	while (i < n) {
		size_t j = i;
		unsigned char c = (unsigned char)s[i];

		if (forward_alpha(c)) {
			while (j < n && forward_alpha((unsigned char)s[j]))
				j++;
			forward_word(&w, s + i, j - i);
		} else if (g_ascii_isdigit(c)) {
			while (j < n &&
			       (g_ascii_isdigit(s[j]) ||
			        (strchr(".:/-", s[j]) != NULL && s[j] != '\0' &&
			         j + 1 < n && g_ascii_isdigit(s[j + 1]))))
				j++;
			forward_number(&w, s + i, j - i);
			w.gmt = false;
		} else if ((c == '+' || c == '-') && i + 1 < n &&
		           g_ascii_isdigit(s[i + 1]) &&
		           (w.gmt || i == 0 || !g_ascii_isalnum(s[i - 1]))) {
			j = i + 1 +
			    forward_offset(&w, s + i + 1, n - i - 1,
			                   c == '+' ? 1 : -1);
			w.gmt = false;
		} else {
			j = i + 1;
		}
		i = j;
	}
	if (w.y < 1970 || w.y > 9999 || w.mo < 1 || w.mo > 12 || w.d < 1)
		return false;
	if (w.pm && w.h >= 1 && w.h < 12)
		w.h += 12;
	else if (w.am && w.h == 12)
		w.h = 0;
	tz = g_time_zone_new_offset(w.zone ? w.off : default_offset);
	dt = g_date_time_new(tz, w.y, w.mo, w.d, w.h, w.mi, w.s);
	g_time_zone_unref(tz);
	if (dt == NULL)
		return false;
	*t_r = g_date_time_to_unix(dt);
	g_date_time_unref(dt);
	return true;
}

int
forward_zone_offset(const char *date)
{
	const char *p = NULL;
	size_t n;

	if (date == NULL || (n = strnlen(date, FORWARD_DATE_MAX)) < 5)
		return 0;
	/* the last "+hhmm" / "-hhmm": a "(CET)" comment may follow */
	for (size_t i = 0; i + 5 <= n; i++)
		if ((date[i] == '+' || date[i] == '-') &&
		    (i == 0 || date[i - 1] == ' ') &&
		    g_ascii_isdigit(date[i + 1]) &&
		    g_ascii_isdigit(date[i + 2]) &&
		    g_ascii_isdigit(date[i + 3]) &&
		    g_ascii_isdigit(date[i + 4]) &&
		    (i + 5 == n || !g_ascii_isdigit(date[i + 5])))
			p = date + i;
	if (p == NULL)
		return 0;
	{
		int h = (p[1] - '0') * 10 + (p[2] - '0');
		int m = (p[3] - '0') * 10 + (p[4] - '0');
		if (h > 14 || m > 59)
			return 0;
		return (*p == '-' ? -1 : 1) * (h * 3600 + m * 60);
	}
}

/* ---- the whole ---- */

/* forward_fill - *f from a header block hb found at marker line start
 * mark (the note is the text above it). */
static void
forward_fill(const char *text, const char *mark, const struct forward_block *hb,
             const char *end, const char *style, const char *subject,
             int default_offset, struct forward *f)
{
	f->kind = FORWARD_INLINE;
	f->style = style;
	if (hb->from != NULL) {
		g_autofree char *v = g_strndup(hb->from, hb->from_len);
		f->addr = forward_addr(v, &f->name);
		if (f->addr == NULL) /* Exchange writes the name alone */
			f->name = forward_name(v, v + strlen(v));
	}
	if (hb->subject != NULL) {
		g_autofree char *v = g_strndup(hb->subject, hb->subject_len);
		f->subject = forward_subject(v);
	} else {
		f->subject = forward_subject(subject);
	}
	if (hb->date != NULL) {
		g_autofree char *v = g_strndup(hb->date, hb->date_len);
		if (!forward_date(v, default_offset, &f->date))
			f->date = 0;
	}
	f->text = forward_dup(hb->body, end, (size_t)(end - hb->body));
	f->note = forward_dup(text, mark, FORWARD_NOTE_MAX);
}

int
forward_parse_text(const char *text, const char *subject, int default_offset,
                   struct forward *f)
{
	const char *t = text ? text : "", *end = t + strlen(t);
	const char *scan_end = t + MIN((size_t)(end - t), FORWARD_SCAN_BYTES);

	memset(f, 0, sizeof(*f));
	for (const char *p = t; p < scan_end;) {
		const char *e = forward_line_end(p, end), *next = e + (e < end);
		const char *style = NULL, *v = NULL;
		struct forward_block hb;
		bool reply = true; /* Outlook's blocks quote replies too */

		if ((style = forward_marker(p, e, &reply)) != NULL ||
		    forward_separator(p, e)) {
			forward_block(next, end, &hb);
			if (hb.labels > 0 && (style != NULL || hb.from)) {
				forward_fill(t, p, &hb, end,
				             style ? style : "outlook", subject,
				             default_offset, f);
				f->reply_like = reply;
				return 1;
			}
		} else if (forward_label(p, e, &v) == FL_FROM) {
			/* Outlook's block without a marker: From, Sent
			 * and Subject together, nothing less */
			forward_block(p, end, &hb);
			if (hb.from && hb.date && hb.sent && hb.subject) {
				forward_fill(t, p, &hb, end, "outlook", subject,
				             default_offset, f);
				f->reply_like = true;
				return 1;
			}
		}
		p = next;
	}
	return 0;
}

int
forward_parse_msg(const struct mime_msg *m, const struct mime_limits *lim,
                  struct forward *f)
{
	int off = forward_zone_offset(mime_header(m, "Date"));

	if (forward_parse_text(m->text, m->subject, off, f))
		return 1;
	for (guint i = 0; m->attachments && i < m->attachments->len; i++) {
		const struct mime_attachment *a = m->attachments->pdata[i];
		struct mime_msg *in;
		const struct mime_addr *from;

		if (!a->is_message ||
		    strcmp(a->content_type, "message/rfc822") != 0)
			continue;
		/* only the first attached mail: one forward, one ticket */
		if (a->size == 0 || a->size > FORWARD_ATTACHED_MAX)
			return 0;
		in = mime_parse(a->data, a->size, lim);
		if (in->unparsed) {
			mime_msg_free(&in);
			return 0;
		}
		f->kind = FORWARD_ATTACHED;
		f->style = "attached";
		if ((from = mime_first_from(in)) != NULL &&
		    forward_addr_ok(from->addr)) {
			f->addr = g_strdup(from->addr);
			if (from->name && *from->name) {
				f->name = g_strdup(from->name);
				forward_cut(f->name, FORWARD_NAME_MAX);
			}
		}
		f->subject =
		    forward_subject(*in->subject ? in->subject : m->subject);
		f->date = in->date;
		f->text = g_strdup(in->text);
		f->note = forward_dup(m->text, m->text + strlen(m->text),
		                      FORWARD_NOTE_MAX);
		f->language = g_strdup(in->language);
		if (in->message_id &&
		    strlen(in->message_id) <= FORWARD_MSGID_MAX)
			f->message_id = g_strdup(in->message_id);
		mime_msg_free(&in);
		return 1;
	}
	return 0;
}

void
forward_clear(struct forward *f)
{
	g_free(f->addr);
	g_free(f->name);
	g_free(f->subject);
	g_free(f->text);
	g_free(f->note);
	g_free(f->language);
	g_free(f->message_id);
	memset(f, 0, sizeof(*f));
}
