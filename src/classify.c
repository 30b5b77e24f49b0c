/*
 * classify.c - loop protection: decides who wrote an inbound mail (a
 * person, an auto-responder, an MTA reporting a bounce or delay, an ARF or
 * MDN report, a list server, a spam filter, or tickd itself).  See
 * classify.h for the contract.
 *
 * Pure module: it reads only the parsed struct mime_msg (headers arrive
 * unfolded and RFC 2047-decoded), does no I/O, keeps no state and never
 * logs.  Every test is a bounded case-insensitive comparison over at most a
 * few KiB, so one mail costs microseconds; no regex is compiled.
 *
 * Precedence (first match wins): own > report structure (bounce, delay,
 * complaint, receipt, then non-standard NDR shapes) > auto-reply > spam >
 * list > human.  The reason string names the signal that decided.
 */
#include "classify.h"

#include <stdarg.h>
#include <string.h>

#include <glib.h>

/* Bytes of body text searched for NDR wording: MTAs put it at the top. */
#define NDR_TEXT_WINDOW 4096
/* Bytes of text/original headers searched for the bounced Message-ID. */
#define MSGID_TEXT_WINDOW 65536
/* Bytes of the subject that are case-folded for the OOO/bounce checks. */
#define SUBJECT_WINDOW 256
/* Bytes of a header value quoted in a reason string. */
#define REASON_VALUE_MAX 60

/* ------------------------------------------------------------------ */
/* small string helpers (ASCII case-insensitive, bounded)              */
/* ------------------------------------------------------------------ */

static bool
is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static const char *
skip_ws(const char *s)
{
	while (*s != '\0' && is_ws(*s))
		s++;
	return s;
}

/*
 * first_token - the first word of a header value: leading blanks skipped,
 * ends at blank, ';', ',' or '(' so that parameters ("; x=y") and RFC 5322
 * comments ("(vacation)") are ignored.  Returns its length, *start set.
 */
static size_t
first_token(const char *v, const char **start)
{
	const char *s = skip_ws(v), *e = s;

	while (*e != '\0' && !is_ws(*e) && *e != ';' && *e != ',' && *e != '(')
		e++;
	*start = s;
	return (size_t)(e - s);
}

static bool
token_is(const char *v, const char *word)
{
	const char *s;
	size_t n = first_token(v, &s);

	return n == strlen(word) && g_ascii_strncasecmp(s, word, n) == 0;
}

static bool
ci_prefix(const char *s, const char *prefix)
{
	return g_ascii_strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* lc - ASCII lower case, inline: the hot loops call it per byte. */
static inline char
lc(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c + ('a' - 'A')) : c;
}

/* ci_eq - a[0..n) equals the lower-case ASCII needle b[0..n), any case. */
static inline bool
ci_eq(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (lc(a[i]) != b[i])
			return false;
	return true;
}

/*
 * ci_find - first occurrence of needle (lower-case ASCII, matched in any
 * case) in hay[0..len), or NULL.  hay need not be NUL-terminated.
 */
static const char *
ci_find(const char *hay, size_t len, const char *needle)
{
	size_t n = strlen(needle);

	if (n == 0 || n > len)
		return NULL;
	for (size_t i = 0; i + n <= len; i++)
		if (lc(hay[i]) == needle[0] && ci_eq(hay + i, needle, n))
			return hay + i;
	return NULL;
}

/* utf8_clip_len - largest length <= max that does not split a character. */
static size_t
utf8_clip_len(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);

	if (n <= max)
		return n;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

/*
 * clip - copy at most REASON_VALUE_MAX bytes of an untrusted value for a
 * reason string: cut on a character boundary (the reason is stored as
 * PostgreSQL text, so it must stay valid UTF-8) and blank out control
 * characters so that one audit line stays one line.
 */
static void
clip(char *dst, size_t dstsz, const char *src)
{
	size_t n;

	if (src == NULL)
		src = "";
	src = skip_ws(src);
	n = utf8_clip_len(src, MIN(dstsz - 1, (size_t)REASON_VALUE_MAX));
	memcpy(dst, src, n);
	dst[n] = '\0';
	while (n > 0 && is_ws(dst[n - 1]))
		dst[--n] = '\0';
	for (char *p = dst; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
}

static void reason_set(struct classify_result *res, const char *fmt, ...)
    PRINTF_LIKE(2, 3);

static void
reason_set(struct classify_result *res, const char *fmt, ...)
{
	va_list ap;
	const char *end;

	va_start(ap, fmt);
	g_vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
	va_end(ap);
	/* Truncation may have split a character: cut before it. */
	if (!g_utf8_validate(res->reason, -1, &end))
		res->reason[end - res->reason] = '\0';
}

/* ------------------------------------------------------------------ */
/* addresses and ids                                                   */
/* ------------------------------------------------------------------ */

static bool
is_addr_char(char c)
{
	return g_ascii_isalnum(c) || strchr(".!#$%&'*+/=?^_`{|}~-", c) ||
	       ((unsigned char)c & 0x80);
}

/*
 * addr_dup - a recipient as found in "rfc822; <user@host>", "<user@host>"
 * or "user@host": type prefix, blanks and angle brackets removed, lower-
 * cased like struct mime_addr.  NULL unless it looks like local@domain.
 */
static char *
addr_dup(const char *s, size_t n)
{
	const char *e = s + n, *semi, *at;

	semi = memchr(s, ';', n);
	if (semi != NULL && memchr(s, '@', (size_t)(semi - s)) == NULL)
		s = semi + 1;
	while (s < e && is_ws(*s))
		s++;
	while (e > s && is_ws(e[-1]))
		e--;
	if (s < e && *s == '<') {
		const char *gt = memchr(s, '>', (size_t)(e - s));

		s++;
		e = gt != NULL ? gt : e;
	} else if (e > s && e[-1] == '>' &&
	           memchr(s, '<', (size_t)(e - s)) == NULL) {
		e--; /* "rfc822; user@host>" (seen from mopera.net) */
	}
	while (s < e && is_ws(*s))
		s++;
	while (e > s && is_ws(e[-1]))
		e--;
	at = memchr(s, '@', (size_t)(e - s));
	if (at == NULL || at == s || at + 1 >= e)
		return NULL;
	for (const char *p = s; p < e; p++)
		if ((unsigned char)*p <= ' ' || *p == '<' || *p == '>' ||
		    *p == 0x7f)
			return NULL;
	return g_ascii_strdown(s, e - s);
}

/*
 * addr_in_line - the first local@domain written anywhere in one line of
 * prose ("<a@b>:", "  a@b", "Name (a@b)"), or NULL.
 */
static char *
addr_in_line(const char *line, size_t n)
{
	const char *at = memchr(line, '@', n), *s, *e;

	if (at == NULL)
		return NULL;
	s = at;
	while (s > line && is_addr_char(s[-1]))
		s--;
	e = at + 1;
	while (e < line + n && (g_ascii_isalnum(*e) || *e == '.' || *e == '-' ||
	                        ((unsigned char)*e & 0x80)))
		e++;
	while (e > at + 1 && e[-1] == '.')
		e--;
	return addr_dup(s, (size_t)(e - s));
}

/*
 * msgid_dup - the id in a Message-ID value: the text inside the first <>,
 * or the first blank-free word when the brackets were lost.  NULL when
 * there is nothing id-like.
 */
static char *
msgid_dup(const char *v, size_t n)
{
	const char *s = v, *e = v + n, *lt, *gt;

	lt = memchr(s, '<', n);
	if (lt != NULL) {
		gt = memchr(lt, '>', (size_t)(e - lt));
		if (gt == NULL)
			return NULL;
		s = lt + 1;
		e = gt;
	} else {
		while (s < e && is_ws(*s))
			s++;
		const char *w = s;
		while (w < e && !is_ws(*w))
			w++;
		e = w;
	}
	if (e <= s || e - s > 995)
		return NULL;
	for (const char *p = s; p < e; p++)
		if ((unsigned char)*p <= ' ' || *p == '<' || *p == 0x7f)
			return NULL;
	return g_strndup(s, (size_t)(e - s));
}

/*
 * line_field - value of the first line "name: value" in text[0..len)
 * (name matched at line start after optional blanks and ">" quote marks,
 * any case).  Returns the value start and sets *vlen to the rest of that
 * line, or NULL.  Matching at line start keeps "Original-Message-ID:"
 * from answering a search for "Message-ID:".
 */
static const char *
line_field(const char *text, size_t len, const char *name, size_t *vlen)
{
	size_t nl = strlen(name);
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *q = p, *le = eol != NULL ? eol : end;

		while (q < le && (*q == ' ' || *q == '\t' || *q == '>'))
			q++;
		if ((size_t)(le - q) > nl &&
		    g_ascii_strncasecmp(q, name, nl) == 0) {
			const char *c = q + nl;

			while (c < le && (*c == ' ' || *c == '\t'))
				c++;
			if (c < le && *c == ':') {
				c++;
				while (le > c && is_ws(le[-1]))
					le--;
				*vlen = (size_t)(le - c);
				return c;
			}
		}
		if (eol == NULL)
			break;
		p = eol + 1;
	}
	return NULL;
}

/* msgid_from_text - "Message-ID: <...>" line in a bounded text window. */
static char *
msgid_from_text(const char *text, const char *name)
{
	const char *v;
	size_t vlen;

	if (text == NULL)
		return NULL;
	v = line_field(text, strnlen(text, MSGID_TEXT_WINDOW), name, &vlen);
	return v != NULL ? msgid_dup(v, vlen) : NULL;
}

/*
 * original_id - Message-ID of the mail a report or NDR is about: what
 * mime.c took from the attached message/rfc822 or text/rfc822-headers part,
 * else a Message-ID line in those headers, in the report fields (MDNs
 * carry Original-Message-ID) or in the body text where NDRs without MIME
 * structure quote the original.
 */
static char *
original_id(const struct mime_msg *m)
{
	char *id;

	if (m->original_message_id != NULL && *m->original_message_id != '\0')
		return msgid_dup(m->original_message_id,
		                 strlen(m->original_message_id));
	if ((id = msgid_from_text(m->original_headers, "Message-ID")) != NULL)
		return id;
	if ((id = msgid_from_text(m->report_body, "Original-Message-ID")) !=
	    NULL)
		return id;
	return msgid_from_text(m->text, "Message-ID");
}

/*
 * status_code - copy of an RFC 3463 enhanced status "c.s.d" (class 2, 4 or
 * 5) at the start of v, or NULL.  The digit-boundary rules keep an IP
 * address such as 192.0.2.135 from passing as "2.0.2".
 */
static char *
status_code(const char *v, size_t n)
{
	size_t i = 0, dots = 0, run = 0;

	if (n == 0 || (v[0] != '2' && v[0] != '4' && v[0] != '5'))
		return NULL;
	for (i = 0; i < n; i++) {
		if (g_ascii_isdigit(v[i])) {
			if (++run > 3)
				return NULL;
		} else if (v[i] == '.' && run > 0 && dots < 2 && i + 1 < n &&
		           g_ascii_isdigit(v[i + 1])) {
			dots++;
			run = 0;
		} else {
			break;
		}
	}
	if (dots != 2 || (i < n && (g_ascii_isalnum(v[i]) || v[i] == '.')))
		return NULL;
	return g_strndup(v, i);
}

/* status_in_text - the first enhanced status of class cls in the text. */
static char *
status_in_text(const char *t, size_t len, char cls)
{
	for (size_t i = 0; i + 5 <= len; i++) {
		if (t[i] != cls || t[i + 1] != '.')
			continue;
		if (i > 0 && (g_ascii_isalnum(t[i - 1]) || t[i - 1] == '.'))
			continue;
		char *s = status_code(t + i, len - i);
		if (s != NULL)
			return s;
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* one pass over the top-level headers                                 */
/* ------------------------------------------------------------------ */

/* What the header pass found.  Pointers are borrowed from the mime_msg. */
struct classify_sig {
	const char *auto_submitted; /* first value other than "no" */
	const char *autoreply_name; /* X-Autoreply and friends */
	const char *autoreply_value;
	const char *prec_auto;      /* Precedence: auto_reply */
	const char *prec_auto_name; /* "Precedence" or "X-Precedence" */
	const char *prec_list;      /* Precedence: bulk|list|junk */
	const char *prec_list_name;
	bool prec_any;       /* any Precedence at all */
	const char *ms_name; /* Exchange rule/auto-reply header */
	const char *ms_value;
	const char *failed_rcpts; /* X-Failed-Recipients */
	const char *return_path;  /* the first Return-Path */
	const char *spam_name;    /* X-Spam-Flag / X-Spam-Status */
	const char *spam_value;
	const char *list_name; /* List-Id and friends */
	const char *list_value;
	const char *list_sender_name; /* Sender/Return-Path of a list */
	const char *list_sender;
	bool x_loop;          /* X-Loop, X-No-Loop, X-OTRS-Loop */
	bool x_suppress;      /* X-Auto-Response-Suppress */
	const char *own_loop; /* our loop header with our value */
};

enum classify_hdr {
	HDR_AUTO_SUBMITTED,
	HDR_AUTOREPLY,
	HDR_PRECEDENCE,
	HDR_MS_AUTO,
	HDR_FAILED_RCPTS,
	HDR_RETURN_PATH,
	HDR_SPAM_FLAG,
	HDR_SPAM_STATUS,
	HDR_LIST,
	HDR_SENDER,
	HDR_LOOP,
	HDR_SUPPRESS,
};

static const struct {
	const char *name;
	enum classify_hdr id;
} classify_hdrs[] = {
    {"Auto-Submitted", HDR_AUTO_SUBMITTED},
    /* osTicket's and FreeScout's list of auto-responder markers. */
    {"X-Autoreply", HDR_AUTOREPLY},
    {"X-Autorespond", HDR_AUTOREPLY},
    {"X-Autoresponse", HDR_AUTOREPLY},
    {"X-Autoresponder", HDR_AUTOREPLY},
    {"X-AutoReply-From", HDR_AUTOREPLY},
    {"X-Mail-Autoreply", HDR_AUTOREPLY},
    {"X-Autogenerated", HDR_AUTOREPLY},
    {"X-AMAZON-MAIL-RELAY-TYPE", HDR_AUTOREPLY},
    {"Precedence", HDR_PRECEDENCE},
    {"X-Precedence", HDR_PRECEDENCE},
    /*
     * Exchange stamps these on mail made by an inbox rule (OOF, rule
     * replies and forwards) or by a transport agent, never on mail a
     * person sent.  X-MS-Exchange-Transport-Rules-Loop is left out: a
     * disclaimer rule stamps it on ordinary mail too.
     */
    {"X-MS-Exchange-Inbox-Rules-Loop", HDR_MS_AUTO},
    {"X-MS-Exchange-Generated-Message-Source", HDR_MS_AUTO},
    {"X-Failed-Recipients", HDR_FAILED_RCPTS},
    {"Return-Path", HDR_RETURN_PATH},
    {"X-Spam-Flag", HDR_SPAM_FLAG},
    {"X-Spam-Status", HDR_SPAM_STATUS},
    /* RFC 2369/2919 plus the pre-RFC list-server headers. */
    {"List-Id", HDR_LIST},
    {"List-Unsubscribe", HDR_LIST},
    {"List-Post", HDR_LIST},
    {"List-Help", HDR_LIST},
    {"List-Subscribe", HDR_LIST},
    {"List-Owner", HDR_LIST},
    {"List-Archive", HDR_LIST},
    {"Mailing-List", HDR_LIST},
    {"X-Mailing-List", HDR_LIST},
    {"X-BeenThere", HDR_LIST},
    {"X-Mailman-Version", HDR_LIST},
    {"Sender", HDR_SENDER},
    {"X-Loop", HDR_LOOP},
    {"X-No-Loop", HDR_LOOP},
    {"X-OTRS-Loop", HDR_LOOP},
    {"X-Auto-Response-Suppress", HDR_SUPPRESS},
};

/* hdr_name_is - header names compare case-insensitively, blanks ignored. */
static bool
hdr_name_is(const char *have, const char *want)
{
	size_t n = strlen(want);

	if (g_ascii_strncasecmp(have, want, n) != 0)
		return false;
	return *skip_ws(have + n) == '\0';
}

/*
 * bare_addr - the address of a Sender/Return-Path value ("Name <a@b>",
 * "<a@b>", "a@b") as a pointer into v and a length.
 */
static size_t
bare_addr(const char *v, const char **start)
{
	const char *lt = strrchr(v, '<'), *e;

	if (lt != NULL) {
		*start = lt + 1;
		e = strchr(lt, '>');
		return e != NULL ? (size_t)(e - lt - 1) : strlen(lt + 1);
	}
	return first_token(v, start);
}

/*
 * list_local_part - true for the envelope/Sender shapes of list servers:
 * owner-LIST@ (majordomo, listserv), LIST-owner@ and LIST-request@
 * (ezmlm, Mailman), LIST-bounces@ and its VERP form LIST-bounces+x=y@.
 */
static bool
list_local_part(const char *v)
{
	const char *s, *at;
	size_t n = bare_addr(v, &s), l;

	at = memchr(s, '@', n);
	if (at == NULL)
		return false;
	l = (size_t)(at - s);
	if (l > 6 && g_ascii_strncasecmp(s, "owner-", 6) == 0)
		return true;
	if (ci_find(s, l, "-bounces+") != NULL)
		return true;
	static const char *const suffix[] = {"-bounces", "-request", "-owner"};
	for (size_t i = 0; i < G_N_ELEMENTS(suffix); i++) {
		size_t k = strlen(suffix[i]);

		if (l > k && g_ascii_strncasecmp(at - k, suffix[i], k) == 0)
			return true;
	}
	return false;
}

/* is_negative - "no", "false", "0", "off": a marker header switched off. */
static bool
is_negative(const char *v)
{
	return token_is(v, "no") || token_is(v, "false") || token_is(v, "0") ||
	       token_is(v, "off");
}

/* sig_autoreply - the first X-Autoreply-like header that does not say no. */
static void
sig_autoreply(struct classify_sig *s, const char *name, const char *v)
{
	if (s->autoreply_name != NULL || is_negative(v))
		return;
	/* Amazon WorkMail stamps the relay type on every mail; only
	 * "notification" is its auto-responder. */
	if (g_ascii_strcasecmp(name, "X-AMAZON-MAIL-RELAY-TYPE") == 0 &&
	    !token_is(v, "notification"))
		return;
	s->autoreply_name = name;
	s->autoreply_value = v;
}

/* sig_precedence - Precedence: auto_reply and bulk/list/junk are told
 * apart, the first of each kind kept; any value at all is noted too. */
static void
sig_precedence(struct classify_sig *s, const char *name, const char *v)
{
	if (*skip_ws(v) != '\0')
		s->prec_any = true;
	if (s->prec_auto == NULL &&
	    (token_is(v, "auto_reply") || token_is(v, "auto-reply"))) {
		s->prec_auto = v;
		s->prec_auto_name = name;
	} else if (s->prec_list == NULL &&
	           (token_is(v, "bulk") || token_is(v, "list") ||
	            token_is(v, "junk"))) {
		s->prec_list = v;
		s->prec_list_name = name;
	}
}

static void
sig_header(struct classify_sig *s, enum classify_hdr id, const char *name,
           const char *v)
{
	switch (id) {
	case HDR_AUTO_SUBMITTED:
		/*
		 * RFC 3834: any value but "no" marks automatic mail.  Only the
		 * first word counts, so "no (manual)" and "auto-replied;
		 * owner-email=x" parse; an empty value is not "no".
		 */
		if (s->auto_submitted == NULL && !token_is(v, "no"))
			s->auto_submitted = v;
		break;
	case HDR_AUTOREPLY:
		sig_autoreply(s, name, v);
		break;
	case HDR_PRECEDENCE:
		sig_precedence(s, name, v);
		break;
	case HDR_MS_AUTO:
		if (s->ms_name == NULL) {
			s->ms_name = name;
			s->ms_value = v;
		}
		break;
	case HDR_FAILED_RCPTS:
		if (s->failed_rcpts == NULL && *skip_ws(v) != '\0')
			s->failed_rcpts = v;
		break;
	case HDR_RETURN_PATH:
		/* The final MDA prepends the authoritative one. */
		if (s->return_path == NULL)
			s->return_path = v;
		if (s->list_sender == NULL && list_local_part(v)) {
			s->list_sender_name = name;
			s->list_sender = v;
		}
		break;
	case HDR_SPAM_FLAG:
	case HDR_SPAM_STATUS:
		/* SpamAssassin: "YES" / "Yes, score=7.1 ..." */
		if (s->spam_name == NULL && token_is(v, "yes")) {
			s->spam_name = name;
			s->spam_value = v;
		}
		break;
	case HDR_LIST:
		if (s->list_name == NULL) {
			s->list_name = name;
			s->list_value = v;
		}
		break;
	case HDR_SENDER:
		if (s->list_sender == NULL && list_local_part(v)) {
			s->list_sender_name = name;
			s->list_sender = v;
		}
		break;
	case HDR_LOOP:
		s->x_loop = true;
		break;
	case HDR_SUPPRESS:
		s->x_suppress = true;
		break;
	}
}

/* value_eq - v equals want after trimming blanks (loop instance ids). */
static bool
value_eq(const char *v, const char *want)
{
	const char *s = skip_ws(v);
	size_t n = strlen(s), w = strlen(want);

	while (n > 0 && is_ws(s[n - 1]))
		n--;
	return n == w && memcmp(s, want, n) == 0;
}

static void
sig_collect(const struct mime_msg *m, const struct classify_opts *o,
            struct classify_sig *s)
{
	const char *lh =
	    o != NULL && o->loop_header != NULL && *o->loop_header != '\0'
	        ? o->loop_header
	        : NULL;

	memset(s, 0, sizeof(*s));
	if (m->headers == NULL)
		return;
	for (guint i = 0; i < m->headers->len; i++) {
		const struct mime_header *h = g_ptr_array_index(m->headers, i);
		const char *v;

		if (h == NULL || h->name == NULL)
			continue;
		v = h->value != NULL ? h->value : "";
		if (lh != NULL && s->own_loop == NULL &&
		    hdr_name_is(h->name, lh) &&
		    (o->loop_value == NULL || *o->loop_value == '\0' ||
		     value_eq(v, o->loop_value)))
			s->own_loop = v;
		/* Cheap filter: every name in the table starts with one of
		 * these letters. */
		if (h->name[0] == '\0' ||
		    strchr("alprsxmALPRSXM", h->name[0]) == NULL)
			continue;
		for (size_t k = 0; k < G_N_ELEMENTS(classify_hdrs); k++) {
			if (hdr_name_is(h->name, classify_hdrs[k].name)) {
				sig_header(s, classify_hdrs[k].id,
				           classify_hdrs[k].name, v);
				break;
			}
		}
	}
}

/* ------------------------------------------------------------------ */
/* subject                                                             */
/* ------------------------------------------------------------------ */

/*
 * subject_fold - NFC-normalised, case-folded copy of the first
 * SUBJECT_WINDOW bytes of the subject, with corporate gateway tags such as
 * "[EXTERNAL]" in front removed.  g_free.
 */
static char *
subject_fold(const char *subject)
{
	const char *s = skip_ws(subject != NULL ? subject : "");
	char *nfc, *fold;

	for (int i = 0; i < 3 && *s == '[' && !ci_prefix(s, "[spam"); i++) {
		const char *e = strchr(s, ']');

		if (e == NULL || e - s > 30)
			break;
		s = skip_ws(e + 1);
	}
	nfc = g_utf8_normalize(s, (gssize)utf8_clip_len(s, SUBJECT_WINDOW),
	                       G_NORMALIZE_NFC);
	if (nfc == NULL)
		return g_strdup("");
	fold = g_utf8_casefold(nfc, -1);
	g_free(nfc);
	return fold;
}

enum classify_subj_mode {
	SUBJ_DELIM, /* at the start, then ':' '-' '(' ... or the end */
	SUBJ_WORD,  /* at the start, then any non-letter */
	SUBJ_TAIL,  /* anywhere, then only '.', '(' or the end */
	SUBJ_ANY,   /* anywhere (scripts without word spacing) */
};

/*
 * Out-of-office / auto-reply subjects, NFC and case-folded.  Outlook and
 * Exchange put a localised prefix with a colon in front of the original
 * subject ("Automatic reply: ...", "Réponse automatique : ..."), so most
 * entries must be followed by a delimiter: "Auto reply not working" or
 * "Absence de réponse à mon ticket" from a person stay human.  Gmail,
 * Outlook and Exchange also send RFC 3834 / Exchange headers, which are
 * checked first; the subject is the fallback for the rest.
 */
static const struct {
	const char *text;
	enum classify_subj_mode mode;
} classify_ooo[] = {
    /* English */
    {"automatic reply", SUBJ_DELIM},
    {"automatic response", SUBJ_DELIM},
    {"auto reply", SUBJ_DELIM},
    {"auto-reply", SUBJ_DELIM},
    {"autoreply", SUBJ_DELIM},
    {"auto response", SUBJ_DELIM},
    {"auto-response", SUBJ_DELIM},
    {"autoresponse", SUBJ_DELIM},
    {"out of office autoreply", SUBJ_DELIM}, /* Exchange 2003 */
    {"out of office", SUBJ_DELIM},
    {"out of the office", SUBJ_DELIM},
    {"away from the office", SUBJ_WORD},
    {"away from my desk", SUBJ_WORD},
    {"away from", SUBJ_DELIM},
    {"vacation reply", SUBJ_DELIM},
    {"on vacation", SUBJ_DELIM},
    {"vacation", SUBJ_DELIM},
    {"is out of the office", SUBJ_TAIL}, /* Lotus Notes */
    {"is out of office", SUBJ_TAIL},
    /* German */
    {"automatische antwort", SUBJ_DELIM},
    {"abwesenheitsnotiz", SUBJ_DELIM},
    {"automatische abwesenheitsnotiz", SUBJ_DELIM},
    {"abwesenheit", SUBJ_DELIM},
    {"abwesend", SUBJ_DELIM},
    /* French */
    {"réponse automatique", SUBJ_DELIM},
    {"reponse automatique", SUBJ_DELIM},
    {"absence", SUBJ_DELIM},
    {"absent", SUBJ_DELIM},
    {"absente", SUBJ_DELIM},
    /* Spanish */
    {"respuesta automática", SUBJ_DELIM},
    {"respuesta automatica", SUBJ_DELIM},
    {"fuera de la oficina", SUBJ_DELIM},
    {"fuera de oficina", SUBJ_DELIM},
    /* Dutch */
    {"automatisch antwoord", SUBJ_DELIM},
    {"afwezig", SUBJ_DELIM},
    {"afwezigheid", SUBJ_DELIM},
    /* Italian */
    {"risposta automatica", SUBJ_DELIM},
    {"fuori sede", SUBJ_DELIM},
    {"fuori ufficio", SUBJ_DELIM},
    /* Portuguese */
    {"resposta automática", SUBJ_DELIM},
    {"resposta automatica", SUBJ_DELIM},
    {"ausente", SUBJ_DELIM},
    {"fora do escritório", SUBJ_DELIM},
    /* Swedish, Danish, Norwegian */
    {"autosvar", SUBJ_DELIM},
    {"automatisk svar", SUBJ_DELIM},
    {"automatiskt svar", SUBJ_DELIM},
    {"frånvaro", SUBJ_DELIM},
    {"frånvarande", SUBJ_DELIM},
    {"fravær", SUBJ_DELIM},
    {"fraværsmelding", SUBJ_DELIM},
    {"fraværende", SUBJ_DELIM},
    /* Finnish, Polish, Czech, Hungarian, Turkish, Russian */
    {"automaattinen vastaus", SUBJ_DELIM},
    {"automatyczna odpowiedź", SUBJ_DELIM},
    {"odpowiedź automatyczna", SUBJ_DELIM},
    {"automatická odpověď", SUBJ_DELIM},
    {"automatikus válasz", SUBJ_DELIM},
    {"otomatik yanıt", SUBJ_DELIM},
    {"автоматический ответ", SUBJ_DELIM},
    /* Japanese, Chinese, Korean: no word spacing, match anywhere */
    {"自動応答", SUBJ_ANY},
    {"自動返信", SUBJ_ANY},
    {"自动回复", SUBJ_ANY},
    {"自動回覆", SUBJ_ANY},
    {"자동 회신", SUBJ_ANY},
    {"자동 응답", SUBJ_ANY},
};

/* subj_follow_ok - what follows a matched phrase fits the mode. */
static bool
subj_follow_ok(const char *rest, enum classify_subj_mode mode)
{
	gunichar c;

	if (mode == SUBJ_ANY)
		return true;
	if (mode == SUBJ_WORD)
		return *rest == '\0' ||
		       !g_unichar_isalnum(g_utf8_get_char(rest));
	rest = skip_ws(rest);
	if (*rest == '\0')
		return true;
	c = g_utf8_get_char(rest);
	if (mode == SUBJ_TAIL)
		return c == '.' || c == '(';
	/* ':' '：' (fullwidth) '-' '–' '—' '(' '[' '/' ',' '!' '.' */
	return c == ':' || c == 0xFF1A || c == '-' || c == 0x2013 ||
	       c == 0x2014 || c == '(' || c == '[' || c == '/' || c == ',' ||
	       c == '!' || c == '.';
}

static const char *
subject_ooo(const char *fold)
{
	for (size_t i = 0; i < G_N_ELEMENTS(classify_ooo); i++) {
		const char *t = classify_ooo[i].text, *hit;
		enum classify_subj_mode mode = classify_ooo[i].mode;
		size_t n = strlen(t);

		if (mode == SUBJ_ANY || mode == SUBJ_TAIL) {
			hit = strstr(fold, t);
			if (hit != NULL && subj_follow_ok(hit + n, mode))
				return t;
		} else if (strncmp(fold, t, n) == 0 &&
		           subj_follow_ok(fold + n, mode)) {
			return t;
		}
	}
	return NULL;
}

/*
 * Words MTAs put in the subjects of non-delivery reports.  Only used near
 * the start of the subject (subject_word) and only together with a
 * postmaster sender or the null Return-Path, so a person's "question about
 * returned mail" stays human.
 */
static const char *const classify_ndr_subj[] = {
    "undeliverable",
    "undelivered",
    "returned mail",
    "returned to sender",
    "delivery status notification",
    "delivery failure",
    "delivery failed",
    "delivery has failed",
    "failed delivery",
    "failure notice",
    "non delivery",
    "non-delivery",
    "nondeliverable",
    "not delivered",
    "could not be delivered",
    "mail system error",
    "delivery notification",
    "bounce",
    "rejected",
    "unzustellbar",
    "nicht zustellbar",
    "non remis",
    "non distribuable",
    "no se puede entregar",
    "non recapitabile",
    "onbestelbaar",
    "kan niet worden bezorgd",
    "olevererbart",
    "ikke leveret",
    "未配達",
    "配信不能",
    "送信できません",
};

/* Subjects of delay warnings: machine mail, but no failure yet. */
static const char *const classify_delay_subj[] = {
    "delayed",
    "delay)", /* Delivery Status Notification (Delay) */
    "could not send message for past",
    "still being retried",
    "warning: message",
    "not yet been delivered",
    "verzögert",
};

/* Reply prefixes: what follows them echoes the subject of another mail. */
static const char *const classify_reply_prefix[] = {
    "re", "aw", "sv", "antw", "odp", "ynt", "r", "auto", "réf", "ref",
};

static bool
subject_is_reply(const char *fold)
{
	for (size_t i = 0; i < G_N_ELEMENTS(classify_reply_prefix); i++) {
		size_t n = strlen(classify_reply_prefix[i]);

		if (strncmp(fold, classify_reply_prefix[i], n) == 0 &&
		    *skip_ws(fold + n) == ':')
			return true;
	}
	return false;
}

/*
 * subject_word - a word from list near the start of the subject.  MTAs put
 * their wording first ("Undeliverable: <original>"); further back it is
 * the echoed subject of some other mail, which proves nothing.  (Replies
 * and forwards are excluded by the caller.)
 */
static const char *
subject_word(const char *fold, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *hit = strstr(fold, list[i]);

		if (hit != NULL && hit - fold < 40)
			return list[i];
	}
	return NULL;
}

/*
 * subject_is_forward - "Fwd:", "Fw:", "WG:", "TR:", "RV:", "VS:", "I:",
 * "Doorst:": a person passing mail on, so NDR wording in the body is a
 * quote, not an MTA speaking.
 */
static bool
subject_is_forward(const char *fold)
{
	static const char *const fwd[] = {"fwd",
	                                  "fw",
	                                  "wg",
	                                  "tr",
	                                  "rv",
	                                  "vs",
	                                  "i",
	                                  "enc",
	                                  "doorst",
	                                  "vb",
	                                  "weitergeleitet"};

	for (size_t i = 0; i < G_N_ELEMENTS(fwd); i++) {
		size_t n = strlen(fwd[i]);

		if (strncmp(fold, fwd[i], n) == 0 && *skip_ws(fold + n) == ':')
			return true;
	}
	return false;
}

/* ------------------------------------------------------------------ */
/* delivery-status reports (RFC 3464)                                  */
/* ------------------------------------------------------------------ */

enum classify_act { ACT_NONE, ACT_FAILED, ACT_DELAYED, ACT_OK };

/* One per-recipient block while it is being read. */
struct classify_dsn_block {
	const char *rcpt, *orcpt, *action, *status;
	size_t rcpt_n, orcpt_n, action_n, status_n;
};

struct classify_dsn {
	int n_failed, n_delayed, n_ok;
	enum classify_act first_act; /* of the block kept below */
	char *rcpt;                  /* first failed (else delayed, ok) */
	char *status;
	char action[16]; /* action word of that block, for the reason */
};

static enum classify_act
dsn_act(const struct classify_dsn_block *b)
{
	if (b->action != NULL) {
		const char *a = b->action;
		size_t n = b->action_n;

		if (n >= 6 && g_ascii_strncasecmp(a, "failed", 6) == 0)
			return ACT_FAILED;
		if (n >= 7 && g_ascii_strncasecmp(a, "delayed", 7) == 0)
			return ACT_DELAYED;
		if ((n >= 9 && g_ascii_strncasecmp(a, "delivered", 9) == 0) ||
		    (n >= 7 && g_ascii_strncasecmp(a, "relayed", 7) == 0) ||
		    (n >= 8 && g_ascii_strncasecmp(a, "expanded", 8) == 0))
			return ACT_OK;
	}
	/* No or an unknown action ("expired"): the status class decides,
	 * and without one it is a failure, like classes.tsv counts it. */
	if (b->status != NULL && b->status_n > 0) {
		if (b->status[0] == '2')
			return ACT_OK;
		if (b->status[0] == '4')
			return ACT_DELAYED;
	}
	if (b->action == NULL && b->status == NULL)
		return ACT_NONE;
	return ACT_FAILED;
}

/* dsn_rank - which block's details to keep: failures first. */
static int
dsn_rank(enum classify_act a)
{
	return a == ACT_FAILED ? 3 : a == ACT_DELAYED ? 2 : a == ACT_OK ? 1 : 0;
}

static void
dsn_flush(struct classify_dsn *d, struct classify_dsn_block *b)
{
	enum classify_act a = dsn_act(b);

	if (a == ACT_NONE ||
	    (b->rcpt == NULL && b->orcpt == NULL && b->action == NULL)) {
		/* The per-message block (Reporting-MTA ...) has none. */
		memset(b, 0, sizeof(*b));
		return;
	}
	if (a == ACT_FAILED)
		d->n_failed++;
	else if (a == ACT_DELAYED)
		d->n_delayed++;
	else
		d->n_ok++;
	if (dsn_rank(a) > dsn_rank(d->first_act)) {
		const char *r = b->rcpt != NULL ? b->rcpt : b->orcpt;
		size_t rn = b->rcpt != NULL ? b->rcpt_n : b->orcpt_n;
		const char *tok;
		size_t tn;

		g_free(d->rcpt);
		g_free(d->status);
		d->rcpt = r != NULL ? addr_dup(r, rn) : NULL;
		d->status = b->status != NULL
		                ? status_code(b->status, b->status_n)
		                : NULL;
		d->first_act = a;
		d->action[0] = '\0';
		if (b->action != NULL) {
			char tmp[16];

			tn = MIN(b->action_n, sizeof(tmp) - 1);
			memcpy(tmp, b->action, tn);
			tmp[tn] = '\0';
			tn = first_token(tmp, &tok);
			tn = MIN(tn, sizeof(d->action) - 1);
			for (size_t i = 0; i < tn; i++)
				d->action[i] = g_ascii_isalpha(tok[i])
				                   ? g_ascii_tolower(tok[i])
				                   : '?';
			d->action[tn] = '\0';
		}
	}
	memset(b, 0, sizeof(*b));
}

/*
 * dsn_parse - read the per-recipient fields of a message/delivery-status
 * body.  Blocks are separated by blank lines; a second Final-Recipient in
 * one block also starts a new one, because some MTAs omit the blank line.
 */
static void
dsn_parse(const char *body, struct classify_dsn *d)
{
	struct classify_dsn_block b;
	const char *p = body, *end = body + strnlen(body, 256 * 1024);

	memset(&b, 0, sizeof(b));
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *le = eol != NULL ? eol : end, *c;
		const char *ls = p;

		p = eol != NULL ? eol + 1 : end;
		while (le > ls && is_ws(le[-1]))
			le--;
		if (le == ls) {
			dsn_flush(d, &b);
			continue;
		}
		if (*ls == ' ' || *ls == '\t')
			continue; /* folded continuation of a field */
		c = memchr(ls, ':', (size_t)(le - ls));
		if (c == NULL)
			continue;
		size_t nl = (size_t)(c - ls);
		const char *v = c + 1;
		while (v < le && is_ws(*v))
			v++;
		size_t vn = (size_t)(le - v);

#define DSN_IS(name)                                                           \
	(nl == sizeof(name) - 1 && g_ascii_strncasecmp(ls, name, nl) == 0)
		if (DSN_IS("Final-Recipient")) {
			if (b.rcpt != NULL &&
			    (b.action != NULL || b.status != NULL))
				dsn_flush(d, &b);
			b.rcpt = v;
			b.rcpt_n = vn;
		} else if (DSN_IS("Original-Recipient")) {
			b.orcpt = v;
			b.orcpt_n = vn;
		} else if (DSN_IS("Action")) {
			b.action = v;
			b.action_n = vn;
		} else if (DSN_IS("Status")) {
			b.status = v;
			b.status_n = vn;
		}
#undef DSN_IS
	}
	dsn_flush(d, &b);
}

/* dsn_fields_present - report_body text that holds DSN fields. */
static bool
dsn_fields_present(const char *body)
{
	size_t n = strnlen(body, 8192), vl;

	return line_field(body, n, "Action", &vl) != NULL ||
	       line_field(body, n, "Final-Recipient", &vl) != NULL;
}

/* ------------------------------------------------------------------ */
/* the classes                                                         */
/* ------------------------------------------------------------------ */

static void
result_set(struct classify_result *res, enum classify_class cls)
{
	res->cls = cls;
}

static bool
classify_own(const struct mime_msg *m, const struct classify_opts *o,
             const struct classify_sig *s, const char *ooo,
             struct classify_result *res)
{
	char v[REASON_VALUE_MAX + 1];

	if (o == NULL)
		return false;
	/* tickd.<...>@<own_domain>: only our own generator writes these. */
	if (o->own_domain != NULL && *o->own_domain != '\0' &&
	    m->message_id != NULL && ci_prefix(m->message_id, "tickd.")) {
		const char *at = strrchr(m->message_id, '@');

		if (at != NULL &&
		    g_ascii_strcasecmp(at + 1, o->own_domain) == 0) {
			clip(v, sizeof(v), m->message_id);
			reason_set(res, "own Message-ID <%s>", v);
			result_set(res, CLASSIFY_OWN);
			return true;
		}
	}
	if (s->own_loop != NULL) {
		clip(v, sizeof(v), s->own_loop);
		reason_set(res, "own loop header %s: %s", o->loop_header, v);
		result_set(res, CLASSIFY_OWN);
		return true;
	}
	/*
	 * Our own address alone is not enough: agents may write from it by
	 * hand.  With any automatic marker it is our auto-mail coming back.
	 */
	if (o->own_addresses == NULL || m->from == NULL)
		return false;
	const char *marker = s->auto_submitted != NULL   ? "Auto-Submitted"
	                     : s->autoreply_name != NULL ? s->autoreply_name
	                     : s->prec_any               ? "Precedence"
	                     : s->ms_name != NULL        ? s->ms_name
	                     : s->x_loop                 ? "X-Loop"
	                     : s->x_suppress ? "X-Auto-Response-Suppress"
	                     : ooo != NULL   ? "out-of-office subject"
	                                     : NULL;
	if (marker == NULL)
		return false;
	for (guint i = 0; i < m->from->len; i++) {
		const struct mime_addr *a = g_ptr_array_index(m->from, i);

		if (a == NULL || a->addr == NULL)
			continue;
		for (const char *const *p = o->own_addresses; *p != NULL; p++) {
			if (g_ascii_strcasecmp(a->addr, *p) == 0) {
				clip(v, sizeof(v), a->addr);
				reason_set(res, "own address From %s with %s",
				           v, marker);
				result_set(res, CLASSIFY_OWN);
				return true;
			}
		}
	}
	return false;
}

static char *ndr_prose_rcpt(const struct mime_msg *m,
                            const struct classify_opts *o);
static bool rcpt_plausible(const struct mime_msg *m,
                           const struct classify_opts *o, const char *addr);

/*
 * report_prose_rcpt - the first plausible address in a delivery-status
 * part that holds prose instead of fields (some InterMail versions).
 */
static char *
report_prose_rcpt(const struct mime_msg *m, const struct classify_opts *o)
{
	const char *p = m->report_body;
	const char *end = p + strnlen(p, NDR_TEXT_WINDOW);

	for (int i = 0; p < end && i < 30; i++) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *le = eol != NULL ? eol : end;
		char *a = addr_in_line(p, (size_t)(le - p));

		if (a != NULL && rcpt_plausible(m, o, a))
			return a;
		g_free(a);
		p = le + 1;
	}
	return NULL;
}

/*
 * classify_dsn - a delivery-status report: bounce when any recipient
 * failed (or none is listed), delay when all were delayed, relayed,
 * expanded or delivered.  When the report has no usable recipient field
 * (trimmed or broken reports), X-Failed-Recipients, the report prose or
 * the NDR prose of the text part name it.
 */
static void
classify_dsn(const struct mime_msg *m, const struct classify_opts *o,
             const struct classify_sig *s, const char *where,
             struct classify_result *res)
{
	struct classify_dsn d;
	bool fields;

	memset(&d, 0, sizeof(d));
	if (m->report_body != NULL)
		dsn_parse(m->report_body, &d);
	fields = d.first_act != ACT_NONE;
	if (d.n_failed > 0 || (d.n_delayed == 0 && d.n_ok == 0))
		result_set(res, CLASSIFY_BOUNCE);
	else
		result_set(res, CLASSIFY_DELAY);
	if (!fields)
		reason_set(res, "%s delivery-status without recipient fields",
		           where);
	else
		reason_set(res, "%s delivery-status action=%s status=%s", where,
		           d.action[0] != '\0' ? d.action : "none",
		           d.status != NULL ? d.status : "none");
	if (d.rcpt == NULL && s->failed_rcpts != NULL) {
		const char *e = strchr(s->failed_rcpts, ',');

		d.rcpt = addr_dup(s->failed_rcpts,
		                  e != NULL ? (size_t)(e - s->failed_rcpts)
		                            : strlen(s->failed_rcpts));
	}
	if (d.rcpt == NULL && !fields && m->report_body != NULL)
		d.rcpt = report_prose_rcpt(m, o);
	if (d.rcpt == NULL && !fields)
		d.rcpt = ndr_prose_rcpt(m, o);
	if (d.status == NULL && !fields && m->text != NULL)
		d.status = status_in_text(
		    m->text, strnlen(m->text, 2 * NDR_TEXT_WINDOW),
		    res->cls == CLASSIFY_BOUNCE ? '5' : '4');
	res->bounce_recipient = d.rcpt;
	res->bounce_status = d.status;
	res->original_message_id = original_id(m);
}

/* report_field - a short field value from report_body for the reason. */
static void
report_field(const struct mime_msg *m, const char *name, char *v, size_t vsz)
{
	const char *f;
	size_t n;
	char tmp[REASON_VALUE_MAX + 1];

	v[0] = '\0';
	if (m->report_body == NULL)
		return;
	f = line_field(m->report_body, strnlen(m->report_body, 8192), name, &n);
	if (f == NULL)
		return;
	n = MIN(n, sizeof(tmp) - 1);
	memcpy(tmp, f, n);
	tmp[n] = '\0';
	clip(v, vsz, tmp);
}

/*
 * classify_report_typed - a multipart/report that names its report-type:
 * the type alone decides the class (DSN, complaint, receipt, or any other
 * machine report), so this always classifies.
 */
static void
classify_report_typed(const struct mime_msg *m, const struct classify_opts *o,
                      const struct classify_sig *s, const char *rt,
                      struct classify_result *res)
{
	const char *where = "multipart/report";
	char v[REASON_VALUE_MAX + 1];
	const char *tok;
	size_t n = first_token(rt, &tok);
	char type[48];

	n = MIN(n, sizeof(type) - 1);
	memcpy(type, tok, n);
	type[n] = '\0';
	if (g_ascii_strcasecmp(type, "delivery-status") == 0) {
		classify_dsn(m, o, s, where, res);
		return;
	}
	if (g_ascii_strcasecmp(type, "feedback-report") == 0) {
		report_field(m, "Feedback-Type", v, sizeof(v));
		result_set(res, CLASSIFY_COMPLAINT);
		reason_set(res,
		           "multipart/report feedback-report "
		           "feedback-type=%s",
		           v[0] != '\0' ? v : "none");
		res->original_message_id = original_id(m);
		return;
	}
	if (g_ascii_strcasecmp(type, "disposition-notification") == 0) {
		report_field(m, "Disposition", v, sizeof(v));
		result_set(res, CLASSIFY_RECEIPT);
		reason_set(res,
		           "multipart/report disposition-notification "
		           "disposition=%s",
		           v[0] != '\0' ? v : "none");
		res->original_message_id = original_id(m);
		return;
	}
	/*
	 * Another report type (RFC 6522 allows new ones): still a
	 * machine talking.  Not a bounce, nothing failed; the
	 * auto-reply class means "do not answer" without side effects.
	 */
	clip(v, sizeof(v), type);
	result_set(res, CLASSIFY_AUTO_REPLY);
	reason_set(res, "multipart/report report-type=%s", v);
}

/*
 * classify_report - multipart/report (RFC 6522) by report-type, or a
 * report part found without that wrapper.  False when m is no report.
 */
static bool
classify_report(const struct mime_msg *m, const struct classify_opts *o,
                const struct classify_sig *s, struct classify_result *res)
{
	const char *rt = m->report_type;
	char v[REASON_VALUE_MAX + 1];

	if (rt != NULL) {
		classify_report_typed(m, o, s, rt, res);
		return true;
	}
	if (m->content_type != NULL &&
	    g_ascii_strcasecmp(m->content_type, "multipart/report") == 0) {
		/* Without a report-type: the report part decides, and a
		 * bare multipart/report is treated as the DSN it nearly always
		 * is. */
		if (m->report_body == NULL ||
		    dsn_fields_present(m->report_body)) {
			classify_dsn(m, o, s,
			             "multipart/report (no report-type)", res);
			return true;
		}
	}
	if (m->report_body != NULL) {
		size_t n = strnlen(m->report_body, 8192), vl;

		/* A report part in another multipart (old MTAs do that). */
		if (line_field(m->report_body, n, "Feedback-Type", &vl)) {
			report_field(m, "Feedback-Type", v, sizeof(v));
			result_set(res, CLASSIFY_COMPLAINT);
			reason_set(res, "feedback-report part feedback-type=%s",
			           v);
			res->original_message_id = original_id(m);
			return true;
		}
		if (line_field(m->report_body, n, "Disposition", &vl)) {
			report_field(m, "Disposition", v, sizeof(v));
			result_set(res, CLASSIFY_RECEIPT);
			reason_set(res,
			           "disposition-notification part "
			           "disposition=%s",
			           v);
			res->original_message_id = original_id(m);
			return true;
		}
		if (dsn_fields_present(m->report_body)) {
			classify_dsn(m, o, s, "message/delivery-status part",
			             res);
			return true;
		}
	}
	return false;
}

/*
 * Body wording of non-standard NDRs, matched at the start of a line (after
 * blanks) within the first NDR_TEXT_WINDOW bytes; a "> " quote does not
 * match, so a person quoting a bounce stays human.
 */
static const char *const classify_ndr_body[] = {
    "hi. this is the qmail-send program", /* qmail */
    "this is the qmail-send program",     /* qmail */
    "----- the following addresses had permanent fatal errors",
    "----- the following addresses have delivery notifications",
    "----- transcript of session follows -----",         /* sendmail */
    "delivery has failed to these recipients or groups", /* Exchange */
    "your message did not reach some or all of the intended recipients",
    "the following recipient(s) cannot be reached", /* Exchange 03 */
    "your message couldn't be delivered",           /* Office 365 */
    "this is the mail system at host",              /* Postfix */
    "i'm sorry to have to inform you that your message could not",
    "this message was created automatically by mail delivery software",
    "a message that you sent could not be delivered to one or more",
    "delivery to the following recipient failed permanently", /* Gmail */
    "delivery to the following recipients failed",
    "this is a delivery status notification", /* Courier */
};

/* Wording that turns an NDR into a delay warning. */
static const char *const classify_delay_body[] = {
    "this is a warning only",         /* Postfix */
    "this is a warning message only", /* sendmail */
    "you do not need to resend your message",
    "warning: message still undelivered",
    "has not yet been delivered",
    "delivery to the following recipient has been delayed",
    "will be retried",
    "will continue to try",
    "no action is required on your part",
};

/* addr_listed - addr is one of the mime_addr entries of a. */
static bool
addr_listed(const GPtrArray *a, const char *addr)
{
	for (guint i = 0; a != NULL && i < a->len; i++) {
		const struct mime_addr *x = g_ptr_array_index(a, i);

		if (x != NULL && x->addr != NULL &&
		    g_ascii_strcasecmp(x->addr, addr) == 0)
			return true;
	}
	return false;
}

/*
 * rcpt_plausible - can an address found in NDR prose be the failed
 * recipient?  ingest suppresses that address, so the NDR's own From, To
 * and Cc (that is us), our own addresses and the MTA role accounts that
 * prose mentions ("contact postmaster@...") are refused.
 */
static bool
rcpt_plausible(const struct mime_msg *m, const struct classify_opts *o,
               const char *addr)
{
	if (ci_prefix(addr, "postmaster@") || ci_prefix(addr, "mailer-daemon@"))
		return false;
	if (addr_listed(m->from, addr) || addr_listed(m->to, addr) ||
	    addr_listed(m->cc, addr))
		return false;
	if (o != NULL && o->own_addresses != NULL)
		for (const char *const *p = o->own_addresses; *p != NULL; p++)
			if (g_ascii_strcasecmp(*p, addr) == 0)
				return false;
	return true;
}

/*
 * ndr_rcpt_after - the failed recipient that NDR prose lists after its
 * marker: the first plausible address on one of the next 30 lines.
 */
static char *
ndr_rcpt_after(const struct mime_msg *m, const struct classify_opts *o,
               const char *marker, const char *end)
{
	const char *p = memchr(marker, '\n', (size_t)(end - marker));

	for (int i = 0; p != NULL && p < end && i < 30; i++) {
		const char *ls = p + 1;
		const char *eol = memchr(ls, '\n', (size_t)(end - ls));
		const char *le = eol != NULL ? eol : end;
		char *a = addr_in_line(ls, (size_t)(le - ls));

		if (a != NULL && rcpt_plausible(m, o, a))
			return a;
		g_free(a);
		p = eol;
	}
	return NULL;
}

/*
 * ndr_first_marker - the first line of text[0..len) that starts (after
 * blanks) with NDR wording.  One pass over the line starts, so a 4 KiB
 * window costs a few hundred comparisons, not a search per phrase.
 */
static const char *
ndr_first_marker(const char *text, size_t len, const char **which)
{
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *nl;

		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		for (size_t i = 0;
		     p < end && i < G_N_ELEMENTS(classify_ndr_body); i++) {
			const char *w = classify_ndr_body[i];
			size_t n = strlen(w);

			if (lc(*p) == w[0] && (size_t)(end - p) >= n &&
			    ci_eq(p, w, n)) {
				*which = w;
				return p;
			}
		}
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return NULL;
}

/* ndr_prose_rcpt - the failed recipient named in NDR prose, or NULL. */
static char *
ndr_prose_rcpt(const struct mime_msg *m, const struct classify_opts *o)
{
	const char *text = m->text != NULL ? m->text : "", *which;
	size_t len = strnlen(text, NDR_TEXT_WINDOW);
	const char *at = ndr_first_marker(text, len, &which);

	return at != NULL ? ndr_rcpt_after(m, o, at, text + len) : NULL;
}

/* mailer_from - what kind of MTA identity the From header shows. */
enum classify_mailer { MAILER_NONE, MAILER_WEAK, MAILER_STRONG };

static enum classify_mailer
mailer_from(const struct mime_msg *m, const char **what)
{
	enum classify_mailer best = MAILER_NONE;

	if (m->from != NULL) {
		for (guint i = 0; i < m->from->len; i++) {
			const struct mime_addr *a =
			    g_ptr_array_index(m->from, i);
			const char *addr = a != NULL && a->addr ? a->addr : "";
			const char *name = a != NULL && a->name ? a->name : "";

			/*
			 * Nobody writes mail as MAILER-DAEMON or under
			 * sendmail's/Postfix's display name; a postmaster is
			 * often a person, so it counts only with more.
			 */
			if (ci_prefix(addr, "mailer-daemon@") ||
			    g_ascii_strcasecmp(addr, "mailer-daemon") == 0) {
				*what = "From MAILER-DAEMON";
				return MAILER_STRONG;
			}
			if (ci_find(name, strlen(name),
			            "mail delivery subsystem") ||
			    ci_find(name, strlen(name),
			            "mail delivery system")) {
				*what = "From Mail Delivery System";
				return MAILER_STRONG;
			}
			if (ci_prefix(addr, "postmaster@") ||
			    g_ascii_strcasecmp(addr, "postmaster") == 0) {
				*what = "From postmaster";
				best = MAILER_WEAK;
			}
		}
	}
	if (best == MAILER_NONE && (m->from == NULL || m->from->len == 0) &&
	    m->headers != NULL) {
		/* An unparsable From ("MAILER-DAEMON (Mail Delivery System)").
		 */
		for (guint i = 0; i < m->headers->len; i++) {
			const struct mime_header *h =
			    g_ptr_array_index(m->headers, i);

			if (h == NULL || h->name == NULL || h->value == NULL ||
			    !hdr_name_is(h->name, "From"))
				continue;
			size_t n = strnlen(h->value, 512);
			if (ci_find(h->value, n, "mailer-daemon") ||
			    ci_find(h->value, n, "mail delivery s")) {
				*what = "From MAILER-DAEMON";
				return MAILER_STRONG;
			}
			break;
		}
	}
	return best;
}

/* empty_return_path - "Return-Path: <>": the null envelope sender. */
static bool
empty_return_path(const char *rp)
{
	const char *s;

	if (rp == NULL)
		return false;
	s = skip_ws(rp);
	if (*s == '\0')
		return true;
	if (*s != '<')
		return false;
	s = skip_ws(s + 1);
	return *s == '>';
}

/*
 * ndr_recipient - who failed, for a mail classify_ndr has found to be an
 * NDR: Exim/Gmail say so in a header, the rest in prose after the marker
 * (marker_at, may be NULL) or in a Final-Recipient line.  Newly allocated,
 * or NULL when no plausible address is found.
 */
static char *
ndr_recipient(const struct mime_msg *m, const struct classify_opts *o,
              const struct classify_sig *s, const char *marker_at,
              const char *text, size_t tlen)
{
	char *rcpt = NULL;

	if (s->failed_rcpts != NULL) {
		const char *e = strchr(s->failed_rcpts, ',');
		size_t n = e != NULL ? (size_t)(e - s->failed_rcpts)
		                     : strlen(s->failed_rcpts);

		rcpt = addr_dup(s->failed_rcpts, n);
	}
	if (rcpt == NULL && marker_at != NULL)
		rcpt = ndr_rcpt_after(m, o, marker_at, text + tlen);
	if (rcpt == NULL) {
		size_t vl;
		const char *v = line_field(text, tlen, "Final-Recipient", &vl);
		char *a = v != NULL ? addr_dup(v, vl) : NULL;

		if (a != NULL && !rcpt_plausible(m, o, a))
			g_clear_pointer(&a, g_free);
		rcpt = a;
	}
	return rcpt;
}

/*
 * classify_ndr - bounces and delay warnings without a delivery-status
 * report: X-Failed-Recipients (Exim, Gmail), NDR wording in the body
 * (qmail, old sendmail, Exchange, Postfix, Exim), or an MTA sender
 * together with an NDR subject or the null Return-Path.
 */
static bool
classify_ndr(const struct mime_msg *m, const struct classify_opts *o,
             const struct classify_sig *s, const char *fold, const char *ooo,
             struct classify_result *res)
{
	const char *text = m->text != NULL ? m->text : "";
	size_t tlen = strnlen(text, NDR_TEXT_WINDOW);
	const char *marker = NULL, *marker_at = NULL, *what = NULL;
	const char *subj_ndr, *subj_delay, *delay_body = NULL;
	enum classify_mailer mailer = mailer_from(m, &what);
	bool null_rp = empty_return_path(s->return_path);
	/* NDR wording under "Fwd:" or "Re:" is a person quoting a bounce:
	 * no MTA puts those in front of its report. */
	bool forward = subject_is_forward(fold) || subject_is_reply(fold);
	char why[96];

	/* An auto-reply echoing "delivery failed" is not an NDR. */
	subj_ndr = ooo != NULL ? NULL
	                       : subject_word(fold, classify_ndr_subj,
	                                      G_N_ELEMENTS(classify_ndr_subj));
	subj_delay = ooo != NULL
	                 ? NULL
	                 : subject_word(fold, classify_delay_subj,
	                                G_N_ELEMENTS(classify_delay_subj));
	if (!forward)
		marker_at = ndr_first_marker(text, tlen, &marker);

	if (s->failed_rcpts != NULL) {
		char v[REASON_VALUE_MAX + 1];

		clip(v, sizeof(v), s->failed_rcpts);
		g_snprintf(why, sizeof(why), "X-Failed-Recipients: %s", v);
	} else if (marker != NULL) {
		g_snprintf(why, sizeof(why), "NDR text \"%s\"", marker);
	} else if (mailer == MAILER_STRONG) {
		g_snprintf(why, sizeof(why), "%s", what);
	} else if (mailer == MAILER_WEAK && !forward && ooo == NULL &&
	           (subj_ndr != NULL || subj_delay != NULL || null_rp)) {
		g_snprintf(why, sizeof(why), "%s with %s", what,
		           null_rp ? "Return-Path <>" : "NDR subject");
	} else if (null_rp && !forward &&
	           (subj_ndr != NULL || subj_delay != NULL)) {
		g_snprintf(why, sizeof(why),
		           "Return-Path <> with subject \"%s\"",
		           subj_delay != NULL ? subj_delay : subj_ndr);
	} else {
		return false;
	}

	/* Only now, as it is an NDR: is it just a warning? */
	for (size_t i = 0; i < G_N_ELEMENTS(classify_delay_body); i++)
		if (ci_find(text, tlen, classify_delay_body[i]) != NULL) {
			delay_body = classify_delay_body[i];
			break;
		}
	/* A warning that delivery is still being tried: no failure yet. */
	bool delay =
	    s->failed_rcpts == NULL &&
	    (delay_body != NULL ||
	     (subj_delay != NULL && (marker == NULL || subj_ndr == NULL)));
	result_set(res, delay ? CLASSIFY_DELAY : CLASSIFY_BOUNCE);
	reason_set(res, "%s %s",
	           delay ? "delay warning:" : "non-standard NDR:", why);

	/* Who failed: Exim/Gmail say so in a header, the rest in prose. */
	res->bounce_recipient = ndr_recipient(m, o, s, marker_at, text, tlen);
	res->bounce_status = status_in_text(
	    text, strnlen(text, 2 * NDR_TEXT_WINDOW), delay ? '4' : '5');
	res->original_message_id = original_id(m);
	return true;
}

/* ------------------------------------------------------------------ */
/* notices that are no DSN: providers, carriers, gateways, ARF variants */
/* ------------------------------------------------------------------ */

/* Bytes of body text searched for a provider's JSON event. */
#define EVENT_TEXT_WINDOW 16384

/*
 * json_value - the value after key in t[0..len): the key in quotes (plain
 * or backslash-escaped, as in an SNS envelope's "Message" string), a
 * colon, then a string value copied into v (at most vsz-1 bytes, only
 * [A-Za-z0-9_.@+-]).  Returns the byte after the key or NULL.
 */
static const char *
json_value(const char *t, size_t len, const char *key, char *v, size_t vsz)
{
	char lkey[32];
	size_t kl = g_strlcpy(lkey, key, sizeof(lkey));
	const char *p = t, *end = t + len;

	v[0] = '\0';
	if (kl >= sizeof(lkey))
		return NULL;
	for (size_t i = 0; i < kl; i++)
		lkey[i] = g_ascii_tolower(lkey[i]);
	while (p < end) {
		const char *hit = ci_find(p, (size_t)(end - p), lkey);
		const char *q;
		size_t n = 0;

		if (hit == NULL)
			return NULL;
		q = hit + kl;
		p = q;
		/* a key, not a word in a value: a quote right before/after */
		if (hit == t || (hit[-1] != '"' && hit[-1] != '\'') ||
		    q >= end || (*q != '"' && *q != '\\' && *q != '\''))
			continue;
		while (q < end && (*q == '"' || *q == '\\' || *q == '\'' ||
		                   *q == ' ' || *q == '\t'))
			q++;
		if (q >= end || *q != ':')
			continue;
		q++;
		while (q < end && (*q == '"' || *q == '\\' || *q == '\'' ||
		                   *q == ' ' || *q == '\t' || *q == '['))
			q++;
		while (q + n < end && n + 1 < vsz &&
		       (g_ascii_isalnum(q[n]) || strchr("_.@+-", q[n]) != NULL))
			n++;
		memcpy(v, q, n);
		v[n] = '\0';
		return hit + kl;
	}
	return NULL;
}

/*
 * What a provider's event says, by the value of its type key: Amazon SES
 * through SNS ("notificationType" / "eventType"), SendGrid and Mailgun
 * ("event"), Postmark ("RecordType").
 */
static const struct {
	const char *value;
	enum classify_class cls;
} classify_events[] = {
    {"bounce", CLASSIFY_BOUNCE},
    {"bounced", CLASSIFY_BOUNCE},
    {"hardbounce", CLASSIFY_BOUNCE},
    {"failed", CLASSIFY_BOUNCE},  /* Mailgun */
    {"dropped", CLASSIFY_BOUNCE}, /* SendGrid */
    {"reject", CLASSIFY_BOUNCE},
    {"rejected", CLASSIFY_BOUNCE},
    {"complaint", CLASSIFY_COMPLAINT},
    {"complained", CLASSIFY_COMPLAINT},
    {"spamreport", CLASSIFY_COMPLAINT},
    {"spamcomplaint", CLASSIFY_COMPLAINT},
    {"deliverydelay", CLASSIFY_DELAY},
    {"deferred", CLASSIFY_DELAY},
    {"delivery", CLASSIFY_AUTO_REPLY},
    {"delivered", CLASSIFY_AUTO_REPLY},
};

static const char *const classify_event_keys[] = {
    "notificationType",
    "eventType",
    "RecordType",
    "event",
};

/* Keys that name the recipient an event is about. */
static const char *const classify_event_rcpt[] = {
    "emailAddress",
    "recipient",
    "email",
    "Email",
};

/*
 * classify_provider - a mail-sending provider's bounce/complaint/delivery
 * event: a JSON body (SNS "AWS Notification Message", webhook-to-mail
 * relays), or an SNS sender.  The body must start with '{' or come from
 * SNS, so prose mentioning "event" never counts.
 */
static bool
classify_provider(const struct mime_msg *m, const char *fold,
                  struct classify_result *res)
{
	const char *text = skip_ws(m->text != NULL ? m->text : "");
	size_t tlen;
	const struct mime_addr *f = mime_first_from(m);
	bool sns = (f != NULL && f->addr != NULL &&
	            (g_str_has_suffix(f->addr, "@sns.amazonaws.com") ||
	             g_str_has_suffix(f->addr, ".amazonses.com"))) ||
	           strncmp(fold, "aws notification message", 24) == 0;
	char v[40], key_used[24] = "";
	enum classify_class cls = CLASSIFY_HUMAN;

	if (!sns && *text != '{' && *text != '[')
		return false;
	tlen = strnlen(text, EVENT_TEXT_WINDOW);
	for (size_t k = 0;
	     k < G_N_ELEMENTS(classify_event_keys) && cls == CLASSIFY_HUMAN;
	     k++) {
		if (json_value(text, tlen, classify_event_keys[k], v,
		               sizeof(v)) == NULL)
			continue;
		for (size_t i = 0; i < G_N_ELEMENTS(classify_events); i++)
			if (g_ascii_strcasecmp(v, classify_events[i].value) ==
			    0) {
				cls = classify_events[i].cls;
				g_strlcpy(key_used, classify_event_keys[k],
				          sizeof(key_used));
				break;
			}
	}
	if (cls == CLASSIFY_HUMAN)
		return false;
	result_set(res, cls);
	reason_set(res, "provider notification %s=%s", key_used, v);
	if (cls == CLASSIFY_BOUNCE || cls == CLASSIFY_DELAY ||
	    cls == CLASSIFY_COMPLAINT) {
		for (size_t k = 0; k < G_N_ELEMENTS(classify_event_rcpt) &&
		                   res->bounce_recipient == NULL;
		     k++) {
			char a[256];

			/* only SNS's word suppresses an address: anyone can
			 * write JSON into a mail */
			if (sns && cls != CLASSIFY_COMPLAINT &&
			    json_value(text, tlen, classify_event_rcpt[k], a,
			               sizeof(a)) != NULL)
				res->bounce_recipient = addr_dup(a, strlen(a));
		}
		if (cls != CLASSIFY_COMPLAINT &&
		    json_value(text, tlen, "status", v, sizeof(v)) != NULL)
			res->bounce_status = status_code(v, strlen(v));
	}
	return true;
}

/*
 * text_has_unquoted - phrase (case-insensitive ASCII, or UTF-8 as is) in
 * t[0..len) on a line that does not start with '>': a person quoting a
 * notice does not make it one.
 */
static const char *
text_has_unquoted(const char *t, size_t len, const char *phrase)
{
	const char *p = t, *end = t + len;

	while (p < end) {
		const char *hit = ci_find(p, (size_t)(end - p), phrase), *ls;

		if (hit == NULL)
			return NULL;
		ls = hit;
		while (ls > t && ls[-1] != '\n')
			ls--;
		ls = skip_ws(ls);
		if (*ls != '>')
			return hit;
		/* a quoted line: on to the next line, each line looked at once
		 */
		p = memchr(hit, '\n', (size_t)(end - hit));
		if (p == NULL)
			break;
	}
	return NULL;
}

/* line_quoted - the line of text holding at starts with '>'. */
static bool
line_quoted(const char *text, const char *at)
{
	while (at > text && at[-1] != '\n')
		at--;
	while (*at == ' ' || *at == '\t')
		at++;
	return *at == '>';
}

/*
 * ARF complaints without the RFC 5965 wrapper: the machine-readable part
 * sent as text/plain (its fields then sit in the body), Yahoo's and AOL's
 * human-readable preamble, Microsoft's JMRP.
 */
static const char *const classify_arf_text[] = {
    "this is an email abuse report",
    "this is an abuse report for an email message",
    "this message is a complaint about",
    "a complaint was received about",
};

static bool
classify_arf_variant(const struct mime_msg *m, const char *fold,
                     struct classify_result *res)
{
	const char *text = m->text != NULL ? m->text : "";
	size_t tlen = strnlen(text, NDR_TEXT_WINDOW), vl;
	const char *ft = line_field(text, tlen, "Feedback-Type", &vl);
	char v[REASON_VALUE_MAX + 1];

	if (subject_is_forward(fold) || subject_is_reply(fold))
		return false;
	if (ft != NULL && !line_quoted(text, ft) &&
	    (line_field(text, tlen, "User-Agent", &vl) != NULL ||
	     line_field(text, tlen, "Version", &vl) != NULL)) {
		char tmp[REASON_VALUE_MAX + 1];
		size_t n;

		(void)line_field(text, tlen, "Feedback-Type", &vl);
		n = MIN(vl, sizeof(tmp) - 1);
		memcpy(tmp, ft, n);
		tmp[n] = '\0';
		clip(v, sizeof(v), tmp);
		reason_set(res, "ARF fields in the text feedback-type=%s", v);
	} else if (mime_header(m, "X-HmXmrOriginalRecipient") != NULL) {
		reason_set(res, "Microsoft JMRP complaint "
		                "(X-HmXmrOriginalRecipient)");
	} else {
		const char *hit = NULL;

		/* the wording counts only with the reported mail attached */
		if (m->original_message_id == NULL)
			return false;
		for (size_t i = 0;
		     i < G_N_ELEMENTS(classify_arf_text) && hit == NULL; i++)
			if (text_has_unquoted(text, tlen, classify_arf_text[i]))
				hit = classify_arf_text[i];
		if (hit == NULL)
			return false;
		reason_set(res, "abuse report \"%s\" with the original mail",
		           hit);
	}
	result_set(res, CLASSIFY_COMPLAINT);
	res->original_message_id = original_id(m);
	return true;
}

/* Local parts nobody reads: mail from them is a machine talking. */
static const char *const classify_noreply[] = {
    "noreply",       "no-reply",     "no_reply",     "no.reply",
    "donotreply",    "do-not-reply", "do_not_reply", "do.not.reply",
    "mailer-daemon", "mail-daemon",  "mdaemon",      "quarantine",
};

/* noreply_sender - the From local part says nobody reads replies. */
static const char *
noreply_sender(const struct mime_msg *m)
{
	const struct mime_addr *f = mime_first_from(m);

	if (f == NULL || f->addr == NULL)
		return NULL;
	for (size_t i = 0; i < G_N_ELEMENTS(classify_noreply); i++) {
		size_t n = strlen(classify_noreply[i]);

		if (g_ascii_strncasecmp(f->addr, classify_noreply[i], n) == 0 &&
		    (f->addr[n] == '@' || f->addr[n] == '+' ||
		     f->addr[n] == '-' || f->addr[n] == '.'))
			return classify_noreply[i];
	}
	return NULL;
}

/*
 * Mail-security gateways (Proofpoint, Mimecast, Sophos, Barracuda, Trend
 * Micro, Cisco) reporting a mail they held or refused; and Japanese
 * carriers' error notices.  Wording in the subject or an unquoted line.
 */
static const char *const classify_block_words[] = {
    "message blocked",
    "message was blocked",
    "has been blocked",
    "was blocked by",
    "message quarantined",
    "has been quarantined",
    "was quarantined",
    "held in quarantine",
    "blocked by our",
    "blocked by the recipient's",
    "content filter",
    "policy violation",
    "could not be delivered because it",
    "メールエラー通知",
    "エラー通知",
    "配信エラー",
    "送信エラー",
    "配送エラー",
    "配信できませんでした",
    "送信できませんでした",
    "配送できませんでした",
    "お届けできませんでした",
    "届けることができませんでした",
    "届きませんでした",
    "宛先不明",
};

/* Words of a delivery topic for the no-reply rule of thumb. */
static const char *const classify_delivery_words[] = {
    "deliver", "bounce",    "returned mail", "mail error",
    "blocked", "quarantin", "rejected",      "zustell",
    "remise",  "entrega",   "consegna",      "配信",
    "配送",    "送信",      "不達",          "未達",
};

/* first_word - the first of list in fold or the unquoted text window. */
static const char *
first_word(const char *fold, const char *text, size_t tlen,
           const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strstr(fold, list[i]) != NULL ||
		    text_has_unquoted(text, tlen, list[i]) != NULL)
			return list[i];
	return NULL;
}

/*
 * classify_notice - machine notices with no DSN: provider events, ARF
 * variants, a gateway's or carrier's notice from a machine sender (no-
 * reply, postmaster, MAILER-DAEMON, Return-Path <>), and the rule of
 * thumb that a no-reply sender writing about a delivery is never
 * answered.  Forwards and replies stay with the person sending them.
 */
static bool
classify_notice(const struct mime_msg *m, const struct classify_opts *o,
                const struct classify_sig *s, const char *fold, const char *ooo,
                struct classify_result *res)
{
	const char *text = m->text != NULL ? m->text : "";
	size_t tlen = strnlen(text, NDR_TEXT_WINDOW);
	const char *what = NULL, *word, *nr;
	bool machine;

	if (classify_provider(m, fold, res) ||
	    classify_arf_variant(m, fold, res))
		return true;
	/* an out-of-office echoing "blocked" or "delivery" stays one */
	if (ooo != NULL || subject_is_forward(fold) || subject_is_reply(fold))
		return false;
	nr = noreply_sender(m);
	machine = nr != NULL || empty_return_path(s->return_path) ||
	          mailer_from(m, &what) != MAILER_NONE;
	if (!machine)
		return false;
	word = first_word(fold, text, tlen, classify_block_words,
	                  G_N_ELEMENTS(classify_block_words));
	if (word != NULL) {
		result_set(res, CLASSIFY_BOUNCE);
		reason_set(res, "blocked/failed notice \"%s\" from %s", word,
		           nr != NULL     ? nr
		           : what != NULL ? what
		                          : "Return-Path <>");
		res->bounce_recipient = ndr_prose_rcpt(m, o);
		res->original_message_id = original_id(m);
		return true;
	}
	if (nr == NULL)
		return false;
	word = first_word(fold, text, tlen, classify_delivery_words,
	                  G_N_ELEMENTS(classify_delivery_words));
	if (word == NULL)
		return false;
	result_set(res, CLASSIFY_AUTO_REPLY);
	reason_set(res, "%s sender about a delivery (\"%s\")", nr, word);
	return true;
}

static bool
classify_auto(const struct classify_sig *s, const char *ooo,
              struct classify_result *res)
{
	char v[REASON_VALUE_MAX + 1];

	if (s->auto_submitted != NULL) {
		clip(v, sizeof(v), s->auto_submitted);
		reason_set(res, "Auto-Submitted: %s", v);
	} else if (s->autoreply_name != NULL) {
		clip(v, sizeof(v), s->autoreply_value);
		reason_set(res, "%s: %s", s->autoreply_name, v);
	} else if (s->prec_auto != NULL) {
		clip(v, sizeof(v), s->prec_auto);
		reason_set(res, "%s: %s", s->prec_auto_name, v);
	} else if (s->ms_name != NULL) {
		clip(v, sizeof(v), s->ms_value);
		reason_set(res, "%s: %s", s->ms_name, v);
	} else if (ooo != NULL) {
		reason_set(res, "out-of-office subject \"%s\"", ooo);
	} else {
		return false;
	}
	result_set(res, CLASSIFY_AUTO_REPLY);
	return true;
}

/* subject_spam - "[SPAM]", "***SPAM***", "*****SPAM*****" in front. */
static bool
subject_spam(const char *subject)
{
	const char *s = skip_ws(subject != NULL ? subject : "");
	size_t stars = 0;

	if (ci_prefix(s, "[spam]"))
		return true;
	while (s[stars] == '*')
		stars++;
	return stars >= 3 && ci_prefix(s + stars, "spam") &&
	       s[stars + 4] == '*';
}

static bool
classify_spam(const struct mime_msg *m, const struct classify_sig *s,
              struct classify_result *res)
{
	char v[REASON_VALUE_MAX + 1];

	if (s->spam_name != NULL) {
		clip(v, sizeof(v), s->spam_value);
		reason_set(res, "%s: %s", s->spam_name, v);
	} else if (subject_spam(m->subject)) {
		clip(v, sizeof(v), m->subject);
		reason_set(res, "spam-tagged subject \"%s\"", v);
	} else {
		return false;
	}
	result_set(res, CLASSIFY_SPAM);
	return true;
}

static bool
classify_list(const struct classify_sig *s, struct classify_result *res)
{
	char v[REASON_VALUE_MAX + 1];

	if (s->list_name != NULL) {
		clip(v, sizeof(v), s->list_value);
		reason_set(res, "%s: %s", s->list_name, v);
	} else if (s->prec_list != NULL) {
		clip(v, sizeof(v), s->prec_list);
		reason_set(res, "%s: %s", s->prec_list_name, v);
	} else if (s->list_sender != NULL) {
		clip(v, sizeof(v), s->list_sender);
		reason_set(res, "%s: %s", s->list_sender_name, v);
	} else {
		return false;
	}
	result_set(res, CLASSIFY_LIST);
	return true;
}

/* ------------------------------------------------------------------ */
/* public                                                              */
/* ------------------------------------------------------------------ */

void
classify_msg(const struct mime_msg *m, const struct classify_opts *o,
             struct classify_result *res)
{
	struct classify_sig s;
	char *fold;
	const char *ooo;

	res->cls = CLASSIFY_HUMAN;
	res->reason[0] = '\0';
	res->bounce_recipient = NULL;
	res->bounce_status = NULL;
	res->original_message_id = NULL;
	if (m == NULL) {
		reason_set(res, "no message");
		return;
	}
	sig_collect(m, o, &s);
	fold = subject_fold(m->subject);
	ooo = subject_ooo(fold);

	if (classify_own(m, o, &s, ooo, res) ||
	    classify_report(m, o, &s, res) ||
	    classify_ndr(m, o, &s, fold, ooo, res) ||
	    classify_notice(m, o, &s, fold, ooo, res) ||
	    classify_auto(&s, ooo, res) || classify_spam(m, &s, res) ||
	    classify_list(&s, res))
		goto out;
	reason_set(res, "no machine signal");
out:
	g_free(fold);
}

void
classify_result_clear(struct classify_result *res)
{
	if (res == NULL)
		return;
	g_clear_pointer(&res->bounce_recipient, g_free);
	g_clear_pointer(&res->bounce_status, g_free);
	g_clear_pointer(&res->original_message_id, g_free);
	res->cls = CLASSIFY_HUMAN;
	res->reason[0] = '\0';
}

const char *
classify_name(enum classify_class c)
{
	static const char *const names[CLASSIFY__COUNT] = {
	    [CLASSIFY_HUMAN] = "human",
	    [CLASSIFY_AUTO_REPLY] = "auto-reply",
	    [CLASSIFY_BOUNCE] = "bounce",
	    [CLASSIFY_DELAY] = "delay",
	    [CLASSIFY_COMPLAINT] = "complaint",
	    [CLASSIFY_RECEIPT] = "receipt",
	    [CLASSIFY_LIST] = "list",
	    [CLASSIFY_SPAM] = "spam",
	    [CLASSIFY_OWN] = "own",
	};

	if ((unsigned)c >= CLASSIFY__COUNT)
		return "unknown";
	return names[c];
}

bool
classify_is_machine(enum classify_class c)
{
	/* Out-of-range values fail safe: never answer what we cannot name. */
	return c != CLASSIFY_HUMAN;
}
