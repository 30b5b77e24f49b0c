/*
 * mime.c - raw mail bytes to struct mime_msg with GMime, and outgoing
 * mails back to bytes.  The only file that sees a GObject.
 *
 * Body selection follows the JMAP algorithm (RFC 8621 section 4.1.4):
 * walking the MIME tree yields the text body parts, the HTML body parts
 * and the attachments, which is also what Stalwart's mail-parser reports,
 * so its corpus can check us.  ->text is the text body parts joined (HTML
 * ones converted), ->html the HTML body parts joined.
 *
 * Every string that leaves this file went through mime_str() or
 * mime_decode(), which guarantee valid UTF-8 without NUL bytes.
 */
#include "mime.h"

#include "html.h"
#include "quote.h"

#include <gmime/gmime.h>
#include <iconv.h>
#include <libxml/parser.h>
#include <stdarg.h>
#include <string.h>
#include <uchardet/uchardet.h>

#define MIME_DEF_DEPTH       20
#define MIME_DEF_PARTS       500
#define MIME_DEF_HEADERS     500
#define MIME_DEF_TEXT        (4u << 20)
#define MIME_MAX_DEFECTS     64
#define MIME_ORIG_HEADERS    (16u << 10)
#define MIME_FILENAME_MAX    200
#define MIME_DEFECT_ITEM_MAX 60
/* HTML given to libxml2 for text: its tree of dense tags took 42 MB for
 * 2 MB ("<p>a</p><br>" x 400k), too much beside a 10 MB mail's copies
 * within tickd's 100 MB; 1 MB is far above real mail (newsletters: KBs) */
#define MIME_HTML_MAX        (1u << 20)
#define MIME_DECLARED_MAX    4    /* declared charsets kept for the chain */
#define MIME_CHARSET_LEN_MAX 40   /* longer charset= values are junk */
#define MIME_EW_TEXT_MAX     1024 /* encoded text of one encoded word */
#define MIME_GUESS_BYTES     4096 /* 8-bit header bytes given to uchardet */
#define MIME_GUESS_MIN_HIGH  4    /* fewer 8-bit bytes: no guess at all */
/* Bytes of one top-level header field that GMime sees: its decoder makes
 * ~14 bytes of word list per byte of a header (a 3.4 MB Subject cost 48
 * MB), so a hostile field is cut first; the raw mail keeps all of it. */
#define MIME_FIELD_MAX (64u << 10)
/* Bytes of a field's value decoded into mime_msg.headers. */
#define MIME_VALUE_MAX (16u << 10)
/* Top-level header fields GMime sees: each is an object (150k small
 * fields cost 140 MB); the first ones, the MTA's own, stay. */
#define MIME_FIELDS_MAX 2000
/* Body parts GMime builds: each is an object graph (100k empty parts cost
 * 215 MB); the mail is parsed up to the delimiter that opens the next. */
#define MIME_PARSE_PARTS 2000

static const char *const mime_default_fallback[] = {"utf-8", "windows-1252",
                                                    NULL};

/* State of one mime_parse call. */
struct mime_ctx {
	struct mime_limits lim; /* zero fields replaced by defaults */
	char **chain; /* owned: the charsets for undeclared 8-bit bytes */
	struct mime_msg *m;
	GMimeParserOptions *opts;
	size_t leaves;
	size_t defects_dropped;
	bool depth_hit, parts_hit, reparsing;
	GPtrArray *text_parts; /* GMimeObject*, borrowed from the tree */
	GPtrArray *html_parts;
	GPtrArray *att_parts;
	GPtrArray *open_parts; /* body candidates that run to end of mail */
	const char *boundary;  /* of the multipart being walked, borrowed */
	GPtrArray *uu_atts;    /* struct mime_attachment*, owned */
	GPtrArray *reparsed;   /* GMimeObject*, owned: see mime_reparse */
	GArray *nobound;       /* gint64 offsets: multiparts w/o boundary */
	const char *raw;       /* what GMime parsed, for those offsets */
	char *prefixed; /* owned: raw with boundary lines fixed, or NULL */
	char *clipped;  /* owned: raw with over-long fields cut, or NULL */
	GByteArray *borrowed; /* owned shell around the bytes GMime parses
	                         (not their owner): mime_borrow_end */
	size_t raw_len;
	GString *salvaged;        /* text of multiparts that had no parts */
	GMimeObject *report_part; /* delivery-status, feedback-report ... */
	GMimeObject *orig_report; /* rfc822 (headers) inside the report */
	GMimeObject *orig_any;    /* ... or anywhere near the top */
};

/*
 * Small helpers: strings
 */

/* mime_str - copy of len bytes as valid UTF-8 without NUL (g_free). */
static char *
mime_str(const char *s, size_t len)
{
	const char *nul;

	if (s == NULL)
		return g_strdup("");
	nul = memchr(s, '\0', len);
	if (nul == NULL && g_utf8_validate_len(s, len, NULL))
		return g_strndup(s, len);
	if (nul != NULL) {
		GString *g = g_string_sized_new(len);
		char *out;

		for (size_t i = 0; i < len; i++)
			if (s[i] != '\0')
				g_string_append_c(g, s[i]);
		out = g_utf8_make_valid(g->str, g->len);
		g_string_free(g, TRUE);
		return out;
	}
	return g_utf8_make_valid(s, len);
}

/* mime_line - mime_str of a header value, on one line. */
static char *
mime_line(const char *s)
{
	char *out;

	if (s == NULL)
		return NULL;
	out = mime_str(s, strlen(s));
	for (char *p = out; *p != '\0'; p++)
		if (*p == '\r' || *p == '\n')
			*p = ' ';
	return g_strstrip(out);
}

/* mime_lower - ASCII lower-case copy, or NULL. */
static char *
mime_lower(const char *s)
{
	char *out = mime_line(s);

	if (out != NULL)
		for (char *p = out; *p != '\0'; p++)
			*p = g_ascii_tolower(*p);
	return out;
}

/* mime_utf8_cut - largest length <= max that ends on a character. */
static size_t
mime_utf8_cut(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return max;
}

/* mime_newlines - CRLF and lone CR to LF, in place; returns new length. */
static size_t
mime_newlines(char *s, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\r') {
			s[o++] = '\n';
			if (i + 1 < len && s[i + 1] == '\n')
				i++;
			continue;
		}
		s[o++] = s[i];
	}
	s[o] = '\0';
	return o;
}

/*
 * Defects
 */

static void mime_defect(struct mime_ctx *c, const char *fmt, ...)
    PRINTF_LIKE(2, 3);

/* mime_defect - record what is wrong, once, at most MIME_MAX_DEFECTS. */
static void
mime_defect(struct mime_ctx *c, const char *fmt, ...)
{
	va_list ap;
	char *d, *s;

	va_start(ap, fmt);
	d = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	s = mime_line(d);
	g_free(d);
	for (guint i = 0; i < c->m->defects->len; i++) {
		if (strcmp(g_ptr_array_index(c->m->defects, i), s) == 0) {
			g_free(s);
			return;
		}
	}
	if (c->m->defects->len >= MIME_MAX_DEFECTS) {
		c->defects_dropped++;
		g_free(s);
		return;
	}
	g_ptr_array_add(c->m->defects, s);
}

/* mime_item - an untrusted string shortened and made printable. */
static char *
mime_item(const char *item)
{
	char *s = mime_line(item != NULL ? item : "");
	size_t n = mime_utf8_cut(s, strlen(s), MIME_DEFECT_ITEM_MAX);

	s[n] = '\0';
	for (char *p = s; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return s;
}

static const char *
mime_warning_name(GMimeParserWarning w)
{
	switch (w) {
	case GMIME_WARN_DUPLICATED_HEADER:
		return "duplicated header";
	case GMIME_WARN_DUPLICATED_PARAMETER:
		return "duplicated parameter";
	case GMIME_WARN_UNENCODED_8BIT_HEADER:
		return "unencoded 8-bit header";
	case GMIME_WARN_INVALID_CONTENT_TYPE:
		return "invalid content type";
	case GMIME_WARN_INVALID_RFC2047_HEADER_VALUE:
		return "invalid RFC 2047 header value";
	case GMIME_WARN_MALFORMED_MULTIPART:
		return "malformed multipart";
	case GMIME_WARN_TRUNCATED_MESSAGE:
		return "truncated message";
	case GMIME_WARN_MALFORMED_MESSAGE:
		return "malformed message";
	case GMIME_CRIT_INVALID_HEADER_NAME:
		return "invalid header name";
	case GMIME_CRIT_CONFLICTING_HEADER:
		return "conflicting header";
	case GMIME_CRIT_CONFLICTING_PARAMETER:
		return "conflicting parameter";
	case GMIME_CRIT_MULTIPART_WITHOUT_BOUNDARY:
		return "multipart without boundary";
	case GMIME_WARN_INVALID_PARAMETER:
		return "invalid parameter";
	case GMIME_WARN_INVALID_ADDRESS_LIST:
		return "invalid address list";
	case GMIME_CRIT_NESTING_OVERFLOW:
		return "nesting overflow";
	case GMIME_WARN_PART_WITHOUT_CONTENT:
		return "part without content";
	case GMIME_CRIT_PART_WITHOUT_HEADERS_OR_CONTENT:
		return "part without headers or content";
	}
	return "unknown warning";
}

static void
mime_on_warning(gint64 offset, GMimeParserWarning w, const gchar *item,
                gpointer data)
{
	struct mime_ctx *c = data;
	char *it = mime_item(item);

	if (w == GMIME_CRIT_MULTIPART_WITHOUT_BOUNDARY && !c->reparsing &&
	    c->nobound->len < 16)
		g_array_append_val(c->nobound, offset);
	if (it[0] != '\0')
		mime_defect(c, "gmime: %s '%s'", mime_warning_name(w), it);
	else
		mime_defect(c, "gmime: %s", mime_warning_name(w));
	g_free(it);
}

/*
 * Charsets
 */

struct mime_alias {
	const char *name;  /* as found in mail, lower-case */
	const char *iconv; /* what glibc iconv calls it; NULL = unknown */
};

/*
 * Misspellings and labels iconv does not know, and the supersets mail
 * clients really mean (WHATWG encoding standard): Latin-1 is sent as
 * windows-1252, GB2312 as GBK/GB18030, EUC-KR as CP949, Shift_JIS as CP932.
 */
static const struct mime_alias mime_aliases[] = {
    {"uft-8", "UTF-8"},
    {"utf8", "UTF-8"},
    {"utf-8", "UTF-8"},
    {"x-utf-8", "UTF-8"},
    {"unicode-1-1-utf-8", "UTF-8"},
    {"us-ascii", "UTF-8"},
    {"ascii", "UTF-8"},
    {"ansi_x3.4-1968", "UTF-8"},
    {"iso646-us", "UTF-8"},
    {"iso-8859-1", "WINDOWS-1252"},
    {"iso8859-1", "WINDOWS-1252"},
    {"iso_8859-1", "WINDOWS-1252"},
    {"latin1", "WINDOWS-1252"},
    {"latin-1", "WINDOWS-1252"},
    {"l1", "WINDOWS-1252"},
    {"cp819", "WINDOWS-1252"},
    {"windows-1252", "WINDOWS-1252"},
    {"cp1252", "WINDOWS-1252"},
    {"cp-1252", "WINDOWS-1252"},
    {"win-1252", "WINDOWS-1252"},
    {"x-cp1252", "WINDOWS-1252"},
    {"iso-gb2312", "GB18030"},
    {"gb2312", "GB18030"},
    {"gb_2312-80", "GB18030"},
    {"csgb2312", "GB18030"},
    {"x-gbk", "GB18030"},
    {"gbk", "GB18030"},
    {"cp936", "GB18030"},
    {"euc-cn", "GB18030"},
    {"x-euc-cn", "GB18030"},
    {"gb18030", "GB18030"},
    {"ks_c_5601-1987", "CP949"},
    {"ks_c_5601-1989", "CP949"},
    {"ks_c_5601", "CP949"},
    {"ksc5601", "CP949"},
    {"ksc_5601", "CP949"},
    {"euc-kr", "CP949"},
    {"x-euc-kr", "CP949"},
    {"windows-949", "CP949"},
    {"cp949", "CP949"},
    {"unicode-1-1-utf-7", "UTF-7"},
    {"x-unicode-1-1-utf-7", "UTF-7"},
    {"utf-7", "UTF-7"},
    {"shift_jis", "CP932"},
    {"shift-jis", "CP932"},
    {"sjis", "CP932"},
    {"x-sjis", "CP932"},
    {"ms_kanji", "CP932"},
    {"windows-31j", "CP932"},
    {"cp932", "CP932"},
    {"iso-2022-jp", "ISO-2022-JP-2"},
    {"csiso2022jp", "ISO-2022-JP-2"},
    {"euc-jp", "EUC-JP-MS"},
    {"x-euc-jp", "EUC-JP-MS"},
    {"big5", "BIG5-HKSCS"},
    {"x-big5", "BIG5-HKSCS"},
    {"cn-big5", "BIG5-HKSCS"},
    {"iso-8859-8-i", "ISO-8859-8"},
    {"iso-8859-6-i", "ISO-8859-6"},
    {"x-mac-roman", "MACINTOSH"},
    {"macintosh", "MACINTOSH"},
    {"x-unknown", NULL},
    {"unknown", NULL},
    {"unknown-8bit", NULL},
    {"x-unknown-8bit", NULL},
    {"x-user-defined", NULL},
    {"default", NULL},
    {"charset", NULL},
    {"8bit", NULL},
    {"none", NULL},
};

/*
 * mime_iconv_name - what to hand iconv for a charset label.  Returns the
 * label itself when it is not in our table; NULL for labels that say
 * nothing ("x-unknown").  *is_utf8_r is set for UTF-8 and its subsets.
 */
static const char *
mime_iconv_name(const char *label, bool *is_utf8_r)
{
	*is_utf8_r = false;
	for (size_t i = 0; i < ARRAY_SIZE(mime_aliases); i++) {
		if (g_ascii_strcasecmp(label, mime_aliases[i].name) != 0)
			continue;
		*is_utf8_r = mime_aliases[i].iconv != NULL &&
		             strcmp(mime_aliases[i].iconv, "UTF-8") == 0;
		return mime_aliases[i].iconv;
	}
	return label;
}

/*
 * Converters stay open between mails: glibc's iconv_close unloads the
 * gconv module (dlclose) when its last user goes, and loading it again for
 * every mail cost more than parsing the mail.  While one descriptor per
 * charset stays open here, GMime's own header decoding also finds its
 * modules loaded.  A descriptor is lent to one caller at a time (busy).
 */
#define MIME_ICONV_SLOTS 16

static struct mime_iconv_slot {
	char name[48];
	iconv_t cd;
	bool busy;
} mime_iconv_slots[MIME_ICONV_SLOTS];
static GMutex mime_iconv_lock;

/* mime_iconv_open - an iconv to UTF-8 from name; mime_iconv_close it. */
static iconv_t
mime_iconv_open(const char *name)
{
	struct mime_iconv_slot *free_slot = NULL;
	iconv_t cd = (iconv_t)-1;

	g_mutex_lock(&mime_iconv_lock);
	for (size_t i = 0; i < MIME_ICONV_SLOTS; i++) {
		struct mime_iconv_slot *s = &mime_iconv_slots[i];

		if (s->name[0] == '\0') {
			if (free_slot == NULL)
				free_slot = s;
			continue;
		}
		if (!s->busy && g_ascii_strcasecmp(s->name, name) == 0) {
			s->busy = true;
			cd = s->cd;
			(void)iconv(cd, NULL, NULL, NULL, NULL);
			goto out;
		}
	}
	cd = iconv_open("UTF-8", name);
	if (cd == (iconv_t)-1) {
		const char *alt = g_mime_charset_iconv_name(name);

		if (alt != NULL && g_ascii_strcasecmp(alt, name) != 0)
			cd = iconv_open("UTF-8", alt);
	}
	if (cd != (iconv_t)-1 && free_slot != NULL &&
	    strlen(name) < sizeof(free_slot->name)) {
		g_strlcpy(free_slot->name, name, sizeof(free_slot->name));
		free_slot->cd = cd;
		free_slot->busy = true;
	}
out:
	g_mutex_unlock(&mime_iconv_lock);
	return cd;
}

static void
mime_iconv_close(iconv_t cd)
{
	bool cached = false;

	g_mutex_lock(&mime_iconv_lock);
	for (size_t i = 0; i < MIME_ICONV_SLOTS && !cached; i++) {
		if (mime_iconv_slots[i].name[0] != '\0' &&
		    mime_iconv_slots[i].cd == cd) {
			mime_iconv_slots[i].busy = false;
			cached = true;
		}
	}
	g_mutex_unlock(&mime_iconv_lock);
	if (!cached)
		(void)iconv_close(cd);
}

static void
mime_iconv_flush(void)
{
	g_mutex_lock(&mime_iconv_lock);
	for (size_t i = 0; i < MIME_ICONV_SLOTS; i++) {
		if (mime_iconv_slots[i].name[0] != '\0')
			(void)iconv_close(mime_iconv_slots[i].cd);
		mime_iconv_slots[i].name[0] = '\0';
		mime_iconv_slots[i].busy = false;
	}
	g_mutex_unlock(&mime_iconv_lock);
}

/*
 * mime_iconv - convert with cd; bytes it cannot take become U+FFFD and are
 * counted in *bad_r.  Returns a GString the caller frees.
 */
static GString *
mime_iconv(iconv_t cd, const char *in, size_t len, size_t *bad_r)
{
	GString *out = g_string_sized_new(len + len / 2 + 16);
	char buf[8192];
	char *ip = (char *)in;
	size_t il = len;

	*bad_r = 0;
	while (il > 0) {
		char *op = buf;
		size_t ol = sizeof(buf);
		size_t r = iconv(cd, &ip, &il, &op, &ol);

		g_string_append_len(out, buf, op - buf);
		if (r != (size_t)-1)
			continue;
		if (errno == E2BIG)
			continue;
		/* EILSEQ, or EINVAL for a sequence cut off at the end */
		g_string_append(out, "\xef\xbf\xbd");
		(*bad_r)++;
		ip++;
		il--;
		(void)iconv(cd, NULL, NULL, NULL, NULL);
	}
	{
		char *op = buf;
		size_t ol = sizeof(buf);

		(void)iconv(cd, NULL, NULL, &op, &ol);
		g_string_append_len(out, buf, op - buf);
	}
	return out;
}

/*
 * mime_try - convert from label; returns NULL when the label is unknown
 * or (strict) when any byte did not fit.
 */
static GString *
mime_try(const char *label, const char *in, size_t len, bool strict)
{
	bool is_utf8;
	const char *name = mime_iconv_name(label, &is_utf8);
	iconv_t cd;
	GString *g;
	size_t bad;

	if (name == NULL)
		return NULL;
	if (is_utf8) {
		if (g_utf8_validate_len(in, len, NULL))
			return g_string_new_len(in, len);
		if (strict)
			return NULL;
		{
			char *v = g_utf8_make_valid(in, len);

			g = g_string_new(v);
			g_free(v);
		}
		return g;
	}
	cd = mime_iconv_open(name);
	if (cd == (iconv_t)-1)
		return NULL;
	g = mime_iconv(cd, in, len, &bad);
	mime_iconv_close(cd);
	if (strict && bad > 0) {
		g_string_free(g, TRUE);
		return NULL;
	}
	return g;
}

/*
 * mime_redecode - the declared charset did not fit (bad bytes).  Bytes
 * that are valid UTF-8 are UTF-8 under a wrong label (sisimai has UTF-8
 * sent as "ISO-2022-JP"); anything else keeps the lossy g, because a
 * single-byte fallback would turn a CJK text with one bad byte into
 * mojibake from start to end.
 */
static GString *
mime_redecode(struct mime_ctx *c, GString *g, const char *in, size_t len,
              const char *what, const char *name, size_t bad)
{
	if (g_utf8_validate_len(in, len, NULL)) {
		mime_defect(c, "%s: not %s, read as utf-8", what, name);
		g_string_free(g, TRUE);
		return g_string_new_len(in, len);
	}
	mime_defect(c, "%s: %zu bytes invalid in %s", what, bad, name);
	return g;
}

/* mime_is_utf8_text - valid UTF-8 with at least one multi-byte char. */
static bool
mime_is_utf8_text(const char *in, size_t len)
{
	bool high = false;

	for (size_t i = 0; i < len && !high; i++)
		high = (unsigned char)in[i] >= 0x80;
	return high && g_utf8_validate_len(in, len, NULL);
}

/*
 * mime_decode - bytes in charset (may be NULL) as valid UTF-8 text with LF
 * line ends and no NUL.  what names the part in defects.  g_free.
 *
 * A declared, known charset is trusted (bad bytes become U+FFFD); UTF-8
 * and ASCII labels are only trusted when the bytes agree, because 8-bit
 * Latin-1 labelled us-ascii is common.  Otherwise the fallback chain runs:
 * the first charset that converts every byte wins, the last one converts
 * lossily, and g_utf8_make_valid is the last resort.
 */
static char *
mime_decode(struct mime_ctx *c, const char *charset, const char *in, size_t len,
            const char *what)
{
	const char *const *fb = (const char *const *)c->chain;
	GString *g = NULL;
	char *out;
	size_t n;
	bool is_utf8 = false;

	if (len == 0)
		return g_strdup("");
	if (charset != NULL && charset[0] != '\0') {
		const char *name = mime_iconv_name(charset, &is_utf8);

		if (name == NULL) {
			/* "x-unknown": say nothing, use the chain */
		} else if (is_utf8) {
			if (g_utf8_validate_len(in, len, NULL))
				g = g_string_new_len(in, len);
			else if (g_ascii_strcasecmp(charset, "us-ascii") != 0)
				mime_defect(c, "%s: invalid %s", what, charset);
		} else if (strcmp(name, "WINDOWS-1252") == 0 &&
		           mime_is_utf8_text(in, len)) {
			/* Latin-1 takes any bytes, so it cannot fail; but
			 * multi-byte UTF-8 is never meant as Latin-1 */
			mime_defect(c, "%s: not %s, read as utf-8", what,
			            charset);
			g = g_string_new_len(in, len);
		} else {
			iconv_t cd = mime_iconv_open(name);
			size_t bad;

			if (cd == (iconv_t)-1) {
				char *it = mime_item(charset);

				mime_defect(c, "%s: unknown charset '%s'", what,
				            it);
				g_free(it);
			} else {
				g = mime_iconv(cd, in, len, &bad);
				mime_iconv_close(cd);
				if (bad > 0)
					g = mime_redecode(c, g, in, len, what,
					                  name, bad);
			}
		}
	}
	for (size_t i = 0; g == NULL && fb[i] != NULL; i++)
		g = mime_try(fb[i], in, len, true);
	for (size_t i = 0; g == NULL && fb[i] != NULL; i++) {
		if (fb[i + 1] != NULL)
			continue;
		g = mime_try(fb[i], in, len, false);
	}
	if (g == NULL) {
		g = g_string_new(NULL);
		out = g_utf8_make_valid(in, len);
		g_string_append(g, out);
		g_free(out);
	}
	/* UTF-16 and friends may carry NUL as text; PostgreSQL will not. */
	if (memchr(g->str, '\0', g->len) != NULL) {
		size_t o = 0;

		for (size_t i = 0; i < g->len; i++)
			if (g->str[i] != '\0')
				g->str[o++] = g->str[i];
		g_string_truncate(g, o);
	}
	if (!g_utf8_validate_len(g->str, g->len, NULL)) {
		out = g_utf8_make_valid(g->str, g->len);
		g_string_free(g, TRUE);
		g = g_string_new(out);
		g_free(out);
	}
	n = mime_newlines(g->str, g->len);
	g_string_truncate(g, n);
	return g_string_free(g, FALSE);
}

/*
 * The charset chain of one mail and header fixes
 */

/* mime_chain_add - name (an iconv name) to v unless NULL, UTF-8 or there. */
static void
mime_chain_add(GPtrArray *v, const char *label)
{
	bool is_utf8;
	const char *name = mime_iconv_name(label, &is_utf8);

	if (name == NULL || is_utf8)
		return;
	for (guint i = 0; i < v->len; i++)
		if (g_ascii_strcasecmp(g_ptr_array_index(v, i), name) == 0)
			return;
	g_ptr_array_add(v, g_strdup(name));
}

/*
 * mime_declared - up to MIME_DECLARED_MAX charset= labels of raw into v,
 * in order.  One linear pass over the bytes; Latin-1 labels are left to
 * the end of the chain, where they are anyway: they take any byte and
 * would hide a CJK header in a mail that also has a Latin-1 part.
 */
static void
mime_declared(GPtrArray *v, const char *raw, size_t len)
{
	size_t found = 0;

	for (size_t i = 0; i + 8 < len && found < MIME_DECLARED_MAX; i++) {
		char label[MIME_CHARSET_LEN_MAX + 1];
		size_t j, n = 0;
		bool is_utf8;
		const char *name;

		if ((raw[i] | 0x20) != 'c' ||
		    g_ascii_strncasecmp(raw + i, "charset=", 8) != 0)
			continue;
		j = i + 8;
		if (j < len && (raw[j] == '"' || raw[j] == '\''))
			j++;
		while (j + n < len && n < MIME_CHARSET_LEN_MAX &&
		       (g_ascii_isalnum(raw[j + n]) ||
		        strchr("-_.:+", raw[j + n]) != NULL))
			n++;
		i = j + n - 1;
		if (n == 0)
			continue;
		memcpy(label, raw + j, n);
		label[n] = '\0';
		name = mime_iconv_name(label, &is_utf8);
		if (name == NULL || is_utf8 ||
		    g_ascii_strcasecmp(name, "WINDOWS-1252") == 0 ||
		    g_ascii_strncasecmp(label, "us-ascii", 8) == 0 ||
		    g_ascii_strcasecmp(label, "ascii") == 0)
			continue;
		mime_chain_add(v, label);
		found++;
	}
}

/*
 * Multi-byte charsets uchardet may name.  Its single-byte guesses on a
 * few header bytes are noise (a Latin-1 "café" comes back as
 * ISO-8859-7 as easily as ISO-8859-1), and Windows-1252 ends the chain
 * anyway; a CJK guess it only makes on byte pairs that fit.
 */
static const char *const mime_guessable[] = {
    "GB18030", "GB2312",      "BIG5",        "SHIFT_JIS",   "EUC-JP", "EUC-KR",
    "EUC-TW",  "ISO-2022-JP", "ISO-2022-KR", "ISO-2022-CN", "UHC",    "CP949",
};

/*
 * mime_guess_bytes - the 8-bit lines of raw's top-level header block
 * and every line elsewhere with a name= parameter (attachment names), at
 * most MIME_GUESS_BYTES of them.  One pass over raw.
 */
static GString *
mime_guess_bytes(const char *raw, size_t len, size_t *high_r)
{
	GString *g = g_string_new(NULL);
	const char *p = raw, *end = raw + len;
	bool in_header = true;

	*high_r = 0;
	while (p < end && g->len < MIME_GUESS_BYTES) {
		const char *e = memchr(p, '\n', (size_t)(end - p));
		const char *le = e != NULL ? e : end;
		size_t high = 0;
		bool named = false;

		if (le == p || (le == p + 1 && *p == '\r'))
			in_header = false;
		for (const char *q = p; q < le; q++) {
			high += (unsigned char)*q >= 0x80;
			if ((*q | 0x20) == 'n' && le - q > 5 &&
			    g_ascii_strncasecmp(q, "name=", 5) == 0)
				named = true;
		}
		if (high > 0 && (in_header || named)) {
			size_t n =
			    MIN((size_t)(le - p), MIME_GUESS_BYTES - g->len);

			g_string_append_len(g, p, n);
			g_string_append_c(g, '\n');
			*high_r += high;
		}
		p = e != NULL ? e + 1 : end;
	}
	return g;
}

/*
 * mime_guess - uchardet's charset for the 8-bit header bytes of raw when
 * they are no UTF-8, it names a multi-byte charset and GLib converts them
 * from it without error; else NULL.  Static string.
 */
static const char *
mime_guess(const char *raw, size_t len)
{
	size_t high;
	GString *g = mime_guess_bytes(raw, len, &high);
	const char *out = NULL;

	if (high >= MIME_GUESS_MIN_HIGH &&
	    !g_utf8_validate_len(g->str, g->len, NULL)) {
		uchardet_t ud = uchardet_new();
		const char *cs = NULL;

		if (ud != NULL &&
		    uchardet_handle_data(ud, g->str, g->len) == 0) {
			uchardet_data_end(ud);
			cs = uchardet_get_charset(ud);
		}
		for (size_t i = 0; cs != NULL && out == NULL &&
		                   i < ARRAY_SIZE(mime_guessable);
		     i++) {
			char *u;

			if (g_ascii_strcasecmp(cs, mime_guessable[i]) != 0)
				continue;
			u = g_convert(g->str, (gssize)g->len, "UTF-8",
			              mime_guessable[i], NULL, NULL, NULL);
			if (u != NULL)
				out = mime_guessable[i];
			g_free(u);
		}
		if (ud != NULL)
			uchardet_delete(ud);
	}
	g_string_free(g, TRUE);
	return out;
}

/*
 * mime_chain - the chain for undeclared 8-bit bytes of this mail: UTF-8,
 * what the mail declares, lim.extra_charsets, uchardet's guess (only a
 * multi-byte charset the bytes convert from), the rest of
 * lim.charset_fallback (its last entry is the lossy last resort).
 */
static char **
mime_chain(const struct mime_limits *lim, const char *raw, size_t len)
{
	GPtrArray *v = g_ptr_array_new();
	const char *const *fb = lim->charset_fallback;
	const char *const *ex = lim->extra_charsets;

	g_ptr_array_add(v, g_strdup("utf-8"));
	mime_declared(v, raw, len);
	for (size_t i = 0; ex != NULL && ex[i] != NULL; i++)
		mime_chain_add(v, ex[i]);
	{
		const char *guess = mime_guess(raw, len);

		if (guess != NULL)
			mime_chain_add(v, guess);
	}
	for (size_t i = 0; fb[i] != NULL; i++)
		mime_chain_add(v, fb[i]);
	g_ptr_array_add(v, NULL);
	return (char **)g_ptr_array_free(v, FALSE);
}

/* One RFC 2047 encoded word: =?charset[*lang]?B|Q?text?= */
struct mime_ew {
	const char *end; /* just past "?=" */
	const char *cs;  /* charset, csl bytes (language cut off) */
	size_t csl;
	const char *all_cs; /* charset with *lang, all_csl bytes */
	size_t all_csl;
	char enc;        /* 'B' or 'Q' */
	const char *txt; /* encoded text, txtl bytes */
	size_t txtl;
};

/* mime_ew_at - an encoded word starts at s (before end). */
static bool
mime_ew_at(const char *s, const char *end, struct mime_ew *w)
{
	const char *p = s + 2, *q, *r;

	if (end - s < 8 || s[0] != '=' || s[1] != '?')
		return false;
	for (q = p; q < end && *q != '?'; q++)
		if ((unsigned char)*q <= ' ' || (unsigned char)*q >= 0x7f ||
		    q - p > MIME_CHARSET_LEN_MAX)
			return false;
	if (q == p || q - p > MIME_CHARSET_LEN_MAX || end - q < 5 ||
	    q[2] != '?')
		return false;
	w->all_cs = w->cs = p;
	w->all_csl = (size_t)(q - p);
	r = memchr(p, '*', (size_t)(q - p));
	w->csl = r != NULL ? (size_t)(r - p) : w->all_csl;
	w->enc = g_ascii_toupper(q[1]);
	if ((w->enc != 'B' && w->enc != 'Q') || w->csl == 0)
		return false;
	w->txt = q + 3;
	/* RFC 2047 allows 75 bytes a word; the bound keeps a value full of
	 * unclosed "=?" linear */
	for (r = w->txt; r + 1 < end && r - w->txt < MIME_EW_TEXT_MAX; r++) {
		if (*r == ' ' || *r == '\t' || *r == '\r' || *r == '\n')
			return false;
		if (r[0] == '?' && r[1] == '=')
			break;
	}
	if (r + 1 >= end || r[0] != '?' || r[1] != '=')
		return false;
	w->txtl = (size_t)(r - w->txt);
	w->end = r + 2;
	return true;
}

/* mime_ew_bytes - the decoded bytes of w appended to out. */
static void
mime_ew_bytes(const struct mime_ew *w, GByteArray *out)
{
	if (w->enc == 'B') {
		guchar *buf = g_malloc(w->txtl * 3 / 4 + 4);
		gint state = 0;
		guint save = 0;
		gsize n =
		    g_base64_decode_step(w->txt, w->txtl, buf, &state, &save);

		g_byte_array_append(out, buf, (guint)n);
		g_free(buf);
		return;
	}
	for (size_t i = 0; i < w->txtl; i++) {
		guint8 b = (guint8)w->txt[i];
		int hi, lo;

		if (b == '_') {
			b = ' ';
		} else if (b == '=' && i + 2 < w->txtl &&
		           (hi = g_ascii_xdigit_value(w->txt[i + 1])) >= 0 &&
		           (lo = g_ascii_xdigit_value(w->txt[i + 2])) >= 0) {
			b = (guint8)(hi * 16 + lo);
			i += 2;
		}
		g_byte_array_append(out, &b, 1);
	}
}

/* mime_next_word - the encoded word after blanks from q, if any. */
static bool
mime_next_word(const char *q, const char *end, struct mime_ew *w)
{
	while (q < end && (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n'))
		q++;
	return mime_ew_at(q, end, w);
}

/*
 * mime_merge_words - v with every run of adjacent encoded words of one
 * charset (only blanks between them, which RFC 2047 6.2 says to drop)
 * made one B word, so a character split across two words is decoded
 * whole.  NULL when v has no such run.  Linear in v.
 */
static char *
mime_merge_words(const char *v)
{
	const char *p = v, *scan = v, *end = v + strlen(v);
	GString *out = NULL;

	while (scan < end) {
		const char *at = strstr(scan, "=?");
		struct mime_ew w, nx;
		GByteArray *bytes;
		const char *run_end;
		char *b64;

		if (at == NULL)
			break;
		if (!mime_ew_at(at, end, &w)) {
			scan = at + 2;
			continue;
		}
		if (!mime_next_word(w.end, end, &nx) || nx.csl != w.csl ||
		    g_ascii_strncasecmp(nx.cs, w.cs, w.csl) != 0) {
			scan = w.end;
			continue;
		}
		bytes = g_byte_array_new();
		mime_ew_bytes(&w, bytes);
		do {
			mime_ew_bytes(&nx, bytes);
			run_end = nx.end;
		} while (mime_next_word(run_end, end, &nx) && nx.csl == w.csl &&
		         g_ascii_strncasecmp(nx.cs, w.cs, w.csl) == 0);
		if (out == NULL)
			out = g_string_sized_new((gsize)(end - v) + 16);
		b64 = g_base64_encode(bytes->data, bytes->len);
		g_byte_array_unref(bytes);
		g_string_append_len(out, p, at - p);
		g_string_append(out, "=?");
		g_string_append_len(out, w.all_cs, w.all_csl);
		g_string_append(out, "?B?");
		g_string_append(out, b64);
		g_string_append(out, "?=");
		g_free(b64);
		p = scan = run_end;
	}
	if (out == NULL)
		return NULL;
	g_string_append_len(out, p, end - p);
	return g_string_free(out, FALSE);
}

/*
 * mime_hdr_fix - a raw header value GMime would misread, fixed: split
 * encoded words merged, raw ISO-2022-JP (Japanese carriers write
 * subjects that way) converted to UTF-8.  NULL when nothing needs fixing.
 */
static char *
mime_hdr_fix(const char *raw)
{
	char *merged, *out = NULL;
	const char *v;
	bool esc = false, high = false;

	if (raw == NULL)
		return NULL;
	merged = mime_merge_words(raw);
	v = merged != NULL ? merged : raw;
	for (const char *p = v; *p != '\0'; p++) {
		esc |= *p == '\x1b';
		high |= (unsigned char)*p >= 0x80;
	}
	if (esc && !high) {
		GString *g = mime_try("iso-2022-jp", v, strlen(v), true);

		if (g != NULL) {
			out = g_string_free(g, FALSE);
			g_free(merged);
			return out;
		}
	}
	return merged;
}

/* mime_raw_header - the raw value of obj's first header name, or NULL. */
static const char *
mime_raw_header(GMimeObject *obj, const char *name)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(obj);
	GMimeHeader *h =
	    hl != NULL ? g_mime_header_list_get_header(hl, name) : NULL;

	return h != NULL ? g_mime_header_get_raw_value(h) : NULL;
}

/*
 * mime_fixed_value - obj's header name unfolded after mime_hdr_fix, or
 * NULL when it needs no fix (GMime's own reading is then right).
 */
static char *
mime_fixed_value(GMimeObject *obj, const char *name)
{
	char *fx = mime_hdr_fix(mime_raw_header(obj, name)), *unf;

	if (fx == NULL)
		return NULL;
	unf = g_mime_utils_header_unfold(fx);
	g_free(fx);
	return unf;
}

/*
 * Parts
 */

/* mime_type_of - lower-case "type/subtype" of obj (g_free). */
static char *
mime_type_of(GMimeObject *obj)
{
	GMimeContentType *ct = g_mime_object_get_content_type(obj);
	char *t, *l;

	if (ct == NULL)
		return g_strdup(GMIME_IS_MULTIPART(obj) ? "multipart/mixed"
		                                        : "text/plain");
	t = g_mime_content_type_get_mime_type(ct);
	l = mime_lower(t);
	g_free(t);
	return l;
}

static bool
mime_is_type(GMimeObject *obj, const char *type, const char *subtype)
{
	GMimeContentType *ct = g_mime_object_get_content_type(obj);

	if (ct == NULL)
		return g_ascii_strcasecmp(type, "text") == 0 &&
		       (subtype == NULL ||
		        g_ascii_strcasecmp(subtype, "plain") == 0);
	return g_mime_content_type_is_type(ct, type,
	                                   subtype != NULL ? subtype : "*");
}

/* mime_fix_encoding - decode CTE spellings GMime does not know. */
static void
mime_fix_encoding(GMimePart *p, GMimeDataWrapper *dw)
{
	const char *raw;
	char norm[32];
	size_t n = 0;
	GMimeContentEncoding enc = GMIME_CONTENT_ENCODING_DEFAULT;

	if (g_mime_data_wrapper_get_encoding(dw) !=
	    GMIME_CONTENT_ENCODING_DEFAULT)
		return;
	raw = g_mime_object_get_header((GMimeObject *)p,
	                               "Content-Transfer-Encoding");
	if (raw == NULL)
		return;
	for (const char *s = raw; *s != '\0' && n + 1 < sizeof(norm); s++)
		if (g_ascii_isalnum(*s))
			norm[n++] = g_ascii_tolower(*s);
	norm[n] = '\0';
	if (strcmp(norm, "quotedprintable") == 0 || strcmp(norm, "qp") == 0)
		enc = GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE;
	else if (strcmp(norm, "base64") == 0)
		enc = GMIME_CONTENT_ENCODING_BASE64;
	else if (strcmp(norm, "xuuencode") == 0 ||
	         strcmp(norm, "uuencode") == 0 || strcmp(norm, "xuue") == 0)
		enc = GMIME_CONTENT_ENCODING_UUENCODE;
	if (enc != GMIME_CONTENT_ENCODING_DEFAULT)
		g_mime_data_wrapper_set_encoding(dw, enc);
}

/*
 * mime_fix_end - dw itself (a new reference), or a wrapper of the same
 * content one byte longer where GMime cut a byte off.  In a mail that it
 * reads as CRLF, GMime takes two bytes before a boundary line as the line
 * break even when the last line ends in a bare LF ("ZWg=\n--b" in a CRLF
 * mail came out as "ZWg"), losing the last byte of the part.  The content
 * is a window on the mail's bytes, so the byte after its end shows it:
 * not a line break itself, followed by LF and "--".
 */
static GMimeDataWrapper *
mime_fix_end(GMimeDataWrapper *dw)
{
	GMimeStream *s = g_mime_data_wrapper_get_stream(dw);
	GMimeStream *sub;
	GMimeDataWrapper *fixed;
	GByteArray *buf;
	gint64 e;

	if (s == NULL || !GMIME_IS_STREAM_MEM(s))
		return g_object_ref(dw);
	buf = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(s));
	e = s->bound_end;
	if (buf == NULL || e < s->bound_start || e < 0 ||
	    (guint64)e + 3 >= buf->len || buf->data[e] == '\r' ||
	    buf->data[e] == '\n' || buf->data[e + 1] != '\n' ||
	    buf->data[e + 2] != '-' || buf->data[e + 3] != '-')
		return g_object_ref(dw);
	sub = g_mime_stream_substream(s, s->bound_start, e + 1);
	if (sub == NULL)
		return g_object_ref(dw);
	fixed = g_mime_data_wrapper_new_with_stream(
	    sub, g_mime_data_wrapper_get_encoding(dw));
	g_object_unref(sub);
	return fixed;
}

/* mime_part_bytes - decoded content of a leaf (g_byte_array_unref). */
static GByteArray *
mime_part_bytes(GMimePart *p)
{
	GMimeDataWrapper *dw = g_mime_part_get_content(p);
	GMimeStream *ms;
	GByteArray *ba;

	if (dw == NULL)
		return g_byte_array_new();
	mime_fix_encoding(p, dw);
	ms = g_mime_stream_mem_new();
	dw = mime_fix_end(dw);
	(void)g_mime_data_wrapper_write_to_stream(dw, ms);
	g_object_unref(dw);
	/* take the array: the stream frees its data even if ref'd */
	ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(ms));
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(ms), FALSE);
	g_object_unref(ms);
	return ba;
}

/* mime_object_bytes - an embedded message written out again. */
static GByteArray *
mime_object_bytes(GMimeObject *obj)
{
	GMimeStream *ms = g_mime_stream_mem_new();
	GByteArray *ba;

	(void)g_mime_object_write_to_stream(obj, NULL, ms);
	ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(ms));
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(ms), FALSE);
	g_object_unref(ms);
	return ba;
}

/*
 * Uuencoded blocks in text bodies ("begin 644 name" ... "end"), as Lotus
 * Notes and old Outlook send attachments.
 */

struct mime_span {
	const char *p;
	size_t len;
};

/* mime_next_line - the line at *pos in [s, s+len); advances *pos. */
static bool
mime_next_line(const char *s, size_t len, size_t *pos, struct mime_span *l)
{
	const char *e;

	if (*pos >= len)
		return false;
	l->p = s + *pos;
	e = memchr(l->p, '\n', len - *pos);
	l->len = e != NULL ? (size_t)(e - l->p) : len - *pos;
	*pos += l->len + (e != NULL ? 1 : 0);
	/* keep trailing blanks: in uuencode a space is a zero */
	if (l->len > 0 && l->p[l->len - 1] == '\r')
		l->len--;
	return true;
}

/* mime_uu_begin - "begin NNN name": returns the name span. */
static bool
mime_uu_begin(const struct mime_span *l, struct mime_span *name)
{
	size_t i = 6, digits = 0;

	if (l->len < 10 || memcmp(l->p, "begin ", 6) != 0)
		return false;
	while (i < l->len && l->p[i] >= '0' && l->p[i] <= '7') {
		i++;
		digits++;
	}
	if (digits < 3 || digits > 4 || i >= l->len || l->p[i] != ' ')
		return false;
	name->p = l->p + i + 1;
	name->len = l->len - i - 1;
	while (name->len > 0 && g_ascii_isspace(name->p[name->len - 1]))
		name->len--;
	return name->len > 0;
}

/* mime_uu_line - decode one body line; false if it is not uuencode. */
static bool
mime_uu_line(const struct mime_span *l, GByteArray *out, bool *end_r)
{
	size_t n, need;
	const unsigned char *p = (const unsigned char *)l->p;

	*end_r = false;
	if (l->len == 0)
		return false;
	n = (p[0] - 0x20) & 0x3f;
	if (n == 0) {
		*end_r = true; /* the "`" line before "end" */
		return true;
	}
	need = (n + 2) / 3 * 4;
	/* editors strip trailing blanks, which were zeros: tolerate that */
	if (l->len < 1 + (n * 4 + 2) / 3 || l->len > need + 3)
		return false;
	for (size_t i = 1; i < l->len && i <= need; i++)
		if (p[i] < 0x20 || p[i] > 0x60)
			return false;
	for (size_t i = 1; n > 0; i += 4) {
		unsigned char b[3];
		unsigned v[4];

		for (size_t k = 0; k < 4; k++)
			v[k] = i + k < l->len ? (p[i + k] - 0x20) & 0x3f : 0;
		b[0] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		b[1] = (unsigned char)(v[1] << 4 | v[2] >> 2);
		b[2] = (unsigned char)(v[2] << 6 | v[3]);
		g_byte_array_append(out, b, n < 3 ? n : 3);
		n = n < 3 ? 0 : n - 3;
	}
	return true;
}

/* mime_span_eq - the line is s, give or take trailing blanks. */
static bool
mime_span_eq(const struct mime_span *l, const char *s)
{
	size_t n = strlen(s), len = l->len;

	while (len > n && g_ascii_isspace(l->p[len - 1]))
		len--;
	return len == n && memcmp(l->p, s, n) == 0;
}

static bool
mime_span_prefix(const struct mime_span *l, const char *s)
{
	size_t n = strlen(s);

	return l->len >= n && memcmp(l->p, s, n) == 0;
}

static struct mime_attachment *mime_att_new(const char *name, const char *type);

/*
 * mime_uu_extract - move uuencoded blocks of body (len bytes) into
 * c->uu_atts.  Returns the remaining text as a new GString, or NULL when
 * there were none.
 */
static GString *
mime_uu_extract(struct mime_ctx *c, const char *body, size_t len)
{
	GString *rest = NULL;
	size_t pos = 0, keep_from = 0, hold = 0;
	struct mime_span l;

	if (len < 10 || g_strstr_len(body, len, "begin ") == NULL)
		return NULL;
	while (mime_next_line(body, len, &pos, &l)) {
		size_t start = (size_t)(l.p - body), after_begin = pos;
		struct mime_span name, bl;
		GByteArray *data;
		bool end = false, ok = true, closed = false;
		struct mime_attachment *a;

		/* Notes announces the file in two lines; drop those too. */
		if (mime_span_prefix(&l, "(UUEncoded file named:") ||
		    mime_span_prefix(&l, "(Its format is:")) {
			if (hold == 0)
				hold = start + 1;
			continue;
		}
		if (!mime_uu_begin(&l, &name)) {
			if (l.len > 0)
				hold = 0;
			continue;
		}
		data = g_byte_array_new();
		while (mime_next_line(body, len, &pos, &bl)) {
			if (mime_span_eq(&bl, "end")) {
				closed = true;
				break;
			}
			if (end)
				continue; /* "`" seen, tolerate junk to end */
			if (!mime_uu_line(&bl, data, &end)) {
				ok = false;
				break;
			}
		}
		if (!ok || (!closed && data->len == 0)) {
			g_byte_array_unref(data);
			pos = after_begin;
			hold = 0;
			continue;
		}
		if (!closed)
			mime_defect(c, "uuencode: block without 'end'");
		if (rest == NULL)
			rest = g_string_sized_new(len);
		g_string_append_len(rest, body + keep_from,
		                    (hold > 0 ? hold - 1 : start) - keep_from);
		keep_from = pos;
		hold = 0;
		{
			char *nm = mime_str(name.p, name.len);

			a = mime_att_new(nm, NULL);
			g_free(nm);
		}
		a->size = data->len;
		a->data = g_byte_array_free(data, FALSE);
		g_ptr_array_add(c->uu_atts, a);
	}
	if (rest != NULL)
		g_string_append_len(rest, body + keep_from, len - keep_from);
	return rest;
}

/*
 * Text of body parts
 */

/* mime_part_text - decoded text (html: its source) of a leaf part. */
static char *
mime_part_text(struct mime_ctx *c, GMimeObject *obj, bool uu)
{
	GByteArray *ba = mime_part_bytes((GMimePart *)obj);
	const char *charset =
	    g_mime_object_get_content_type_parameter(obj, "charset");
	bool is_html = mime_is_type(obj, "text", "html");
	char meta[40];
	GString *rest = NULL;
	/* an empty GByteArray may have data == NULL */
	const char *data = ba->data != NULL ? (const char *)ba->data : "";
	size_t len = ba->len;
	char *out;

	if (uu && !is_html) {
		rest = mime_uu_extract(c, data, len);
		if (rest != NULL) {
			data = rest->str;
			len = rest->len;
		}
	}
	if (len > c->lim.max_text) {
		mime_defect(c, "limit: body part cut to %zu bytes",
		            c->lim.max_text);
		len = c->lim.max_text;
	}
	if ((charset == NULL || charset[0] == '\0') && is_html &&
	    html_meta_charset(data, len, meta, sizeof(meta)))
		charset = meta;
	out = mime_decode(c, charset, data, len,
	                  is_html ? "html body" : "text body");
	if (rest != NULL)
		g_string_free(rest, TRUE);
	g_byte_array_unref(ba);
	return out;
}

/* mime_append - join body parts with a line break between them. */
static void
mime_append(GString *s, const char *t)
{
	if (t[0] == '\0')
		return;
	if (s->len > 0 && s->str[s->len - 1] != '\n')
		g_string_append_c(s, '\n');
	g_string_append(s, t);
}

/* mime_cap - truncate s to max bytes on a character boundary. */
static void
mime_cap(struct mime_ctx *c, GString *s, const char *what)
{
	size_t n;

	if (s->len <= c->lim.max_text)
		return;
	n = mime_utf8_cut(s->str, s->len, c->lim.max_text);
	g_string_truncate(s, n);
	mime_defect(c, "limit: %s cut to %zu bytes", what, n);
}

static void
mime_bodies(struct mime_ctx *c)
{
	GString *text = g_string_new(NULL), *html = NULL;
	GHashTable *done = g_hash_table_new_full(NULL, NULL, NULL, g_free);

	for (guint i = 0; i < c->html_parts->len; i++) {
		GMimeObject *obj = g_ptr_array_index(c->html_parts, i);
		char *h;

		if (!mime_is_type(obj, "text", "html"))
			continue;
		h = mime_part_text(c, obj, false);
		if (html == NULL)
			html = g_string_new(NULL);
		mime_append(html, h);
		g_hash_table_insert(done, obj, h);
	}
	for (guint i = 0; i < c->text_parts->len; i++) {
		GMimeObject *obj = g_ptr_array_index(c->text_parts, i);
		char *t;

		if (mime_is_type(obj, "text", "html")) {
			const char *h = g_hash_table_lookup(done, obj);
			char *own = NULL;

			size_t hl;

			if (h == NULL)
				h = own = mime_part_text(c, obj, false);
			hl = strlen(h);
			if (hl > MIME_HTML_MAX) {
				/* libxml2 spends ~150 bytes per element */
				hl = mime_utf8_cut(h, hl, MIME_HTML_MAX);
				mime_defect(c,
				            "limit: html cut to %zu bytes "
				            "for text",
				            hl);
			}
			t = html_to_text(h, hl);
			g_free(own);
		} else {
			t = mime_part_text(c, obj, true);
		}
		mime_append(text, t);
		g_free(t);
	}
	if (text->len == 0 && c->salvaged != NULL)
		g_string_append(text, c->salvaged->str);
	mime_cap(c, text, "text");
	g_free(c->m->text);
	c->m->text = g_string_free(text, FALSE);
	if (html != NULL && html->len > 0) {
		mime_cap(c, html, "html");
		c->m->html = g_string_free(html, FALSE);
	} else if (html != NULL) {
		g_string_free(html, TRUE);
	}
	g_hash_table_destroy(done);
}

/*
 * Attachments
 */

struct mime_ext {
	const char *type;
	const char *ext;
};

static const struct mime_ext mime_exts[] = {
    {"application/pdf", "pdf"},
    {"application/zip", "zip"},
    {"application/x-zip-compressed", "zip"},
    {"application/gzip", "gz"},
    {"application/x-gzip", "gz"},
    {"application/msword", "doc"},
    {"application/vnd.openxmlformats-officedocument.wordprocessingml."
     "document",
     "docx"},
    {"application/vnd.ms-excel", "xls"},
    {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
     "xlsx"},
    {"application/vnd.ms-powerpoint", "ppt"},
    {"application/vnd.openxmlformats-officedocument.presentationml."
     "presentation",
     "pptx"},
    {"application/rtf", "rtf"},
    {"application/json", "json"},
    {"application/xml", "xml"},
    {"application/pgp-signature", "asc"},
    {"application/pgp-encrypted", "pgp"},
    {"application/pgp-keys", "asc"},
    {"application/pkcs7-signature", "p7s"},
    {"application/x-pkcs7-signature", "p7s"},
    {"application/pkcs7-mime", "p7m"},
    {"application/x-pkcs7-mime", "p7m"},
    {"application/ics", "ics"},
    {"text/calendar", "ics"},
    {"text/plain", "txt"},
    {"text/html", "html"},
    {"text/csv", "csv"},
    {"text/xml", "xml"},
    {"text/rtf", "rtf"},
    {"text/enriched", "txt"},
    {"text/rfc822-headers", "txt"},
    {"text/x-vcard", "vcf"},
    {"text/vcard", "vcf"},
    {"image/png", "png"},
    {"image/jpeg", "jpg"},
    {"image/jpg", "jpg"},
    {"image/pjpeg", "jpg"},
    {"image/gif", "gif"},
    {"image/bmp", "bmp"},
    {"image/tiff", "tif"},
    {"image/webp", "webp"},
    {"image/svg+xml", "svg"},
    {"audio/mpeg", "mp3"},
    {"audio/mp3", "mp3"},
    {"audio/wav", "wav"},
    {"audio/basic", "au"},
    {"video/mp4", "mp4"},
    {"video/mpeg", "mpg"},
    {"message/rfc822", "eml"},
    {"message/global", "eml"},
    {"message/delivery-status", "txt"},
    {"message/global-delivery-status", "txt"},
    {"message/disposition-notification", "txt"},
    {"message/feedback-report", "txt"},
    {"application/octet-stream", "bin"},
};

static const char *
mime_ext_of(const char *type)
{
	for (size_t i = 0; i < ARRAY_SIZE(mime_exts); i++)
		if (strcmp(mime_exts[i].type, type) == 0)
			return mime_exts[i].ext;
	return strncmp(type, "text/", 5) == 0 ? "txt" : "bin";
}

/* mime_type_for_name - a content type guessed from a file name. */
static const char *
mime_type_for_name(const char *name)
{
	const char *dot = strrchr(name, '.');

	if (dot != NULL && dot[1] != '\0')
		for (size_t i = 0; i < ARRAY_SIZE(mime_exts); i++)
			if (g_ascii_strcasecmp(mime_exts[i].ext, dot + 1) == 0)
				return mime_exts[i].type;
	return "application/octet-stream";
}

/*
 * mime_clean_name - a file name safe to show and to store: no directory
 * parts, no control characters, bounded.  NULL when nothing is left.
 */
static char *
mime_clean_name(const char *raw)
{
	char *s, *base, *out;
	const char *dot;
	size_t len;

	if (raw == NULL)
		return NULL;
	s = mime_str(raw, strlen(raw));
	for (char *p = s; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
		else if (*p == '/' || *p == '\\')
			*p = '_';
	}
	g_strstrip(s);
	base = s;
	if (base[0] == '\0' || strcmp(base, ".") == 0 ||
	    strcmp(base, "..") == 0) {
		g_free(s);
		return NULL;
	}
	len = strlen(base);
	if (len <= MIME_FILENAME_MAX)
		return s;
	/* keep a short extension when shortening */
	dot = strrchr(base, '.');
	if (dot != NULL && strlen(dot) <= 10) {
		size_t el = strlen(dot);
		size_t keep = mime_utf8_cut(base, len, MIME_FILENAME_MAX - el);

		out = g_strdup_printf("%.*s%s", (int)keep, base, dot);
	} else {
		out = g_strndup(base,
		                mime_utf8_cut(base, len, MIME_FILENAME_MAX));
	}
	g_free(s);
	return out;
}

/* mime_att_new - an attachment with name (may be NULL) and type. */
static struct mime_attachment *
mime_att_new(const char *name, const char *type)
{
	struct mime_attachment *a = g_new0(struct mime_attachment, 1);

	a->filename = mime_clean_name(name);
	if (type == NULL)
		type = a->filename != NULL ? mime_type_for_name(a->filename)
		                           : "application/octet-stream";
	a->content_type = g_strdup(type);
	return a;
}

static void
mime_att_free(gpointer p)
{
	struct mime_attachment *a = p;

	if (a == NULL)
		return;
	g_free(a->filename);
	g_free(a->content_type);
	g_free(a->content_id);
	g_free(a->data);
	g_free(a);
}

/*
 * mime_param_fixed - parameter param of obj's header hdr (Content-Type or
 * Content-Disposition) when the raw header needed mime_hdr_fix, or NULL.
 */
static char *
mime_param_fixed(struct mime_ctx *c, GMimeObject *obj, const char *hdr,
                 const char *param)
{
	char *v = mime_fixed_value(obj, hdr), *out = NULL;
	const char *p = NULL;

	if (v == NULL)
		return NULL;
	if (g_ascii_strcasecmp(hdr, "Content-Type") == 0) {
		GMimeContentType *t = g_mime_content_type_parse(c->opts, v);

		if (t != NULL) {
			p = g_mime_content_type_get_parameter(t, param);
			out = p != NULL && p[0] != '\0' ? g_strdup(p) : NULL;
			g_object_unref(t);
		}
	} else {
		GMimeContentDisposition *d =
		    g_mime_content_disposition_parse(c->opts, v);

		if (d != NULL) {
			p = g_mime_content_disposition_get_parameter(d, param);
			out = p != NULL && p[0] != '\0' ? g_strdup(p) : NULL;
			g_object_unref(d);
		}
	}
	g_free(v);
	return out;
}

/*
 * What a part without a file name is, by its type: a name that tells an
 * agent more than "attachment-3.txt".
 */
static const struct {
	const char *type, *name;
} mime_type_names[] = {
    {"message/delivery-status", "delivery-report.txt"},
    {"message/global-delivery-status", "delivery-report.txt"},
    {"message/disposition-notification", "read-receipt.txt"},
    {"message/global-disposition-notification", "read-receipt.txt"},
    {"message/feedback-report", "abuse-report.txt"},
    {"text/rfc822-headers", "original-headers.txt"},
    {"message/rfc822-headers", "original-headers.txt"},
    {"message/global-headers", "original-headers.txt"},
    {"message/rfc822", "original-message.eml"},
    {"message/global", "original-message.eml"},
    {"text/calendar", "invitation.ics"},
    {"application/ics", "invitation.ics"},
    {"text/x-vcard", "contact.vcf"},
    {"text/vcard", "contact.vcf"},
};

/* mime_type_name - the name for a part of type, or NULL. */
static const char *
mime_type_name(const char *type)
{
	for (size_t i = 0; i < ARRAY_SIZE(mime_type_names); i++)
		if (strcmp(mime_type_names[i].type, type) == 0)
			return mime_type_names[i].name;
	return NULL;
}

/*
 * mime_described - a name from Content-Description (g_free), with the
 * type's extension unless it has one; NULL when there is none.
 */
static char *
mime_described(GMimeObject *obj, const char *type)
{
	const char *d = g_mime_object_get_header(obj, "Content-Description");
	char *line, *out;
	size_t n;

	if (d == NULL)
		return NULL;
	line = mime_line(d);
	n = mime_utf8_cut(line, strlen(line), 150);
	line[n] = '\0';
	g_strstrip(line);
	if (line[0] == '\0') {
		g_free(line);
		return NULL;
	}
	{
		const char *dot = strrchr(line, '.');
		bool has_ext = dot != NULL && dot[1] != '\0' &&
		               strlen(dot) <= 6 && strchr(dot, ' ') == NULL;

		out = has_ext
		          ? g_strdup(line)
		          : g_strdup_printf("%s.%s", line, mime_ext_of(type));
	}
	g_free(line);
	return out;
}

/*
 * mime_part_name - the file name of a leaf part (g_free), or NULL: the
 * filename or name parameter (re-read when its raw bytes needed a fix),
 * Content-Description, then what its type says it is.
 */
static char *
mime_part_name(struct mime_ctx *c, GMimeObject *obj, const char *type)
{
	const char *fn, *tn;
	char *name;

	name = mime_param_fixed(c, obj, "Content-Disposition", "filename");
	if (name == NULL)
		name = mime_param_fixed(c, obj, "Content-Type", "name");
	if (name != NULL)
		return name;
	fn = g_mime_part_get_filename((GMimePart *)obj);
	if (fn != NULL && fn[0] != '\0')
		return g_strdup(fn);
	name = mime_described(obj, type);
	if (name != NULL)
		return name;
	tn = mime_type_name(type);
	return tn != NULL ? g_strdup(tn) : NULL;
}

/* mime_att_from - an attachment for a leaf or message/rfc822 part. */
static struct mime_attachment *
mime_att_from(struct mime_ctx *c, GMimeObject *obj)
{
	char *type = mime_type_of(obj);
	const char *disp = g_mime_object_get_disposition(obj);
	const char *cid = g_mime_object_get_content_id(obj);
	struct mime_attachment *a;
	GByteArray *ba;

	if (GMIME_IS_MESSAGE_PART(obj)) {
		GMimeMessage *inner =
		    g_mime_message_part_get_message((GMimeMessagePart *)obj);
		const char *fn =
		    g_mime_object_get_content_disposition_parameter(obj,
		                                                    "filename");
		char *name = NULL;

		if (fn == NULL)
			fn = g_mime_object_get_content_type_parameter(obj,
			                                              "name");
		if (fn == NULL && inner != NULL &&
		    g_mime_message_get_subject(inner) != NULL) {
			char *subj =
			    mime_line(g_mime_message_get_subject(inner));
			size_t n = mime_utf8_cut(subj, strlen(subj), 150);

			if (n > 0)
				name =
				    g_strdup_printf("%.*s.eml", (int)n, subj);
			g_free(subj);
		}
		if (name == NULL && fn == NULL) {
			name = mime_described(obj, type);
			if (name == NULL && mime_type_name(type) != NULL)
				name = g_strdup(mime_type_name(type));
		}
		a = mime_att_new(name != NULL ? name : fn, type);
		g_free(name);
		a->is_message = true;
		ba = inner != NULL ? mime_object_bytes((GMimeObject *)inner)
		                   : g_byte_array_new();
	} else {
		char *name = mime_part_name(c, obj, type);

		a = mime_att_new(name, type);
		g_free(name);
		ba = mime_part_bytes((GMimePart *)obj);
	}
	a->is_inline = disp != NULL && g_ascii_strcasecmp(disp, "inline") == 0;
	a->content_id = cid != NULL && cid[0] != '\0' ? mime_line(cid) : NULL;
	a->size = ba->len;
	a->data = g_byte_array_free(ba, FALSE);
	g_free(type);
	return a;
}

/*
 * mime_names - derive missing names ("image-2.png") and make every name
 * unique ("a.txt", "a (2).txt"); compared case-insensitively because the
 * files may end up on a case-insensitive file system.
 */
static void
mime_names(GPtrArray *atts)
{
	GHashTable *seen =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

	for (guint i = 0; i < atts->len; i++) {
		struct mime_attachment *a = g_ptr_array_index(atts, i);
		char *key;

		if (a->filename == NULL) {
			const char *kind = "attachment";

			if (a->is_message)
				kind = "message";
			else if (strncmp(a->content_type, "image/", 6) == 0)
				kind = "image";
			a->filename =
			    g_strdup_printf("%s-%u.%s", kind, i + 1,
			                    mime_ext_of(a->content_type));
		}
		key = g_utf8_casefold(a->filename, -1);
		for (unsigned k = 2; g_hash_table_contains(seen, key); k++) {
			const char *dot = strrchr(a->filename, '.');
			size_t base = dot != NULL && dot != a->filename
			                  ? (size_t)(dot - a->filename)
			                  : strlen(a->filename);
			char *cand =
			    g_strdup_printf("%.*s (%u)%s", (int)base,
			                    a->filename, k, a->filename + base);

			g_free(key);
			key = g_utf8_casefold(cand, -1);
			if (!g_hash_table_contains(seen, key)) {
				g_free(a->filename);
				a->filename = cand;
				break;
			}
			g_free(cand);
		}
		g_hash_table_add(seen, key);
	}
	g_hash_table_destroy(seen);
}

static void
mime_attachments(struct mime_ctx *c)
{
	GPtrArray *atts = c->m->attachments;

	for (guint i = 0; i < c->att_parts->len; i++)
		g_ptr_array_add(
		    atts, mime_att_from(c, g_ptr_array_index(c->att_parts, i)));
	for (guint i = 0; i < c->uu_atts->len; i++) {
		/* ownership moves to m */
		g_ptr_array_add(atts, g_ptr_array_index(c->uu_atts, i));
		g_ptr_array_index(c->uu_atts, i) = NULL;
	}
	/* An image the HTML shows is inline whatever its disposition says. */
	for (guint i = 0; c->m->html != NULL && i < atts->len; i++) {
		struct mime_attachment *a = g_ptr_array_index(atts, i);
		char *ref;

		if (a->content_id == NULL || a->is_inline)
			continue;
		ref = g_strconcat("cid:", a->content_id, NULL);
		a->is_inline = strstr(c->m->html, ref) != NULL;
		g_free(ref);
	}
	mime_names(atts);
}

/*
 * The MIME tree walk (RFC 8621 4.1.4)
 */

/*
 * mime_bad_base64 - a base64 part whose content has characters outside the
 * base64 alphabet (other than white space and '=').  GMime skips them and
 * decodes the rest into noise, so such a text part is not shown as body
 * text: it becomes an attachment holding its bytes as they came (the
 * transfer encoding is set to binary), and a defect says why.
 */
static bool
mime_bad_base64(struct mime_ctx *c, GMimeObject *obj)
{
	GMimeDataWrapper *dw = g_mime_part_get_content((GMimePart *)obj);
	GMimeStream *s, *ms;
	GByteArray *ba;
	bool bad = false;

	if (dw == NULL)
		return false;
	mime_fix_encoding((GMimePart *)obj, dw);
	if (g_mime_data_wrapper_get_encoding(dw) !=
	    GMIME_CONTENT_ENCODING_BASE64)
		return false;
	s = g_mime_data_wrapper_get_stream(dw);
	if (s == NULL)
		return false;
	ms = g_mime_stream_mem_new();
	(void)g_mime_stream_reset(s);
	(void)g_mime_stream_write_to_stream(s, ms);
	(void)g_mime_stream_reset(s);
	ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(ms));
	for (guint i = 0; ba != NULL && i < ba->len && !bad; i++) {
		guchar ch = ba->data[i];

		bad = !(g_ascii_isalnum(ch) || ch == '+' || ch == '/' ||
		        ch == '=' || g_ascii_isspace(ch));
	}
	g_object_unref(ms);
	if (bad) {
		mime_defect(c, "text part with invalid base64 kept as an "
		               "attachment, undecoded");
		g_mime_data_wrapper_set_encoding(dw,
		                                 GMIME_CONTENT_ENCODING_BINARY);
	}
	return bad;
}

static bool
mime_is_inline_media(GMimeObject *obj)
{
	return mime_is_type(obj, "image", NULL) ||
	       mime_is_type(obj, "audio", NULL) ||
	       mime_is_type(obj, "video", NULL);
}

static bool
mime_is_report_part(GMimeObject *obj)
{
	return mime_is_type(obj, "message", "delivery-status") ||
	       mime_is_type(obj, "message", "global-delivery-status") ||
	       mime_is_type(obj, "message", "feedback-report") ||
	       mime_is_type(obj, "message", "disposition-notification") ||
	       mime_is_type(obj, "message", "global-disposition-notification");
}

static bool
mime_is_orig_part(GMimeObject *obj)
{
	return GMIME_IS_MESSAGE_PART(obj) ||
	       mime_is_type(obj, "text", "rfc822-headers") ||
	       mime_is_type(obj, "message", "global-headers");
}

/* mime_note_report - remember the parts classify.c needs. */
static void
mime_note_report(struct mime_ctx *c, GMimeObject *obj, size_t depth,
                 bool in_report)
{
	if (c->report_part == NULL && mime_is_report_part(obj))
		c->report_part = obj;
	if (!mime_is_orig_part(obj))
		return;
	if (in_report && c->orig_report == NULL)
		c->orig_report = obj;
	if (depth <= 1 && c->orig_any == NULL)
		c->orig_any = obj;
}

/*
 * mime_runs_to_end - the content of leaf obj (a child of a multipart) runs
 * to the end of the mail, give or take blank space: its multipart never
 * closed (no "--boundary--" line after it), so the mail was cut off or its
 * boundaries are broken.  Content GMime read from another stream (see
 * mime_reparse) does not count.
 */
static bool
mime_runs_to_end(GMimeObject *obj)
{
	GMimeDataWrapper *dw = g_mime_part_get_content((GMimePart *)obj);
	GMimeStream *s = dw != NULL ? g_mime_data_wrapper_get_stream(dw) : NULL;
	GByteArray *buf;
	gint64 e;

	if (s == NULL || !GMIME_IS_STREAM_MEM(s))
		return false;
	buf = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(s));
	if (buf == NULL)
		return false;
	e = s->bound_end < 0 ? (gint64)buf->len : s->bound_end;
	for (; e < (gint64)buf->len; e++)
		if (!g_ascii_isspace(buf->data[e]))
			return false;
	return true;
}

/*
 * mime_glued_close - the content of leaf obj (which runs to the end of the
 * mail) ends in a close delimiter of its multipart that GMime did not see:
 * glued to the last line ("text--b--", the sender left out the line break)
 * or mistyped ("--b-" on its own line).  The boundary must not occur in
 * content (RFC 2046 5.1.1), so the part is complete: its content is cut
 * before the delimiter and true returned.
 */
static bool
mime_glued_close(struct mime_ctx *c, GMimeObject *obj)
{
	GMimeDataWrapper *dw = g_mime_part_get_content((GMimePart *)obj);
	GMimeStream *s = dw != NULL ? g_mime_data_wrapper_get_stream(dw) : NULL;
	GMimeStream *sub;
	GMimeDataWrapper *cut;
	GByteArray *buf;
	size_t bl;
	gint64 e, d;
	int dashes;

	if (c->boundary == NULL || c->boundary[0] == '\0' || s == NULL ||
	    !GMIME_IS_STREAM_MEM(s))
		return false;
	buf = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(s));
	if (buf == NULL)
		return false;
	bl = strlen(c->boundary);
	e = s->bound_end < 0 ? (gint64)buf->len : s->bound_end;
	while (e > s->bound_start && g_ascii_isspace(buf->data[e - 1]))
		e--;
	/* "--" boundary, then one or two '-' (a boundary may end in '-') */
	for (d = -1, dashes = 2; dashes >= 1 && d < 0; dashes--) {
		gint64 at = e - dashes - (gint64)bl - 2;

		if (at >= s->bound_start &&
		    memcmp(buf->data + at, "--", 2) == 0 &&
		    memcmp(buf->data + at + 2, c->boundary, bl) == 0 &&
		    memcmp(buf->data + e - dashes, "--", dashes) == 0)
			d = at;
	}
	if (d < 0)
		return false;
	/* on a line of its own, the line break before it is its own too */
	if (d > s->bound_start && buf->data[d - 1] == '\n')
		d--;
	if (d > s->bound_start && buf->data[d - 1] == '\r')
		d--;
	sub = g_mime_stream_substream(s, s->bound_start, d);
	if (sub == NULL)
		return false;
	cut = g_mime_data_wrapper_new_with_stream(
	    sub, g_mime_data_wrapper_get_encoding(dw));
	g_mime_part_set_content((GMimePart *)obj, cut);
	g_object_unref(cut);
	g_object_unref(sub);
	mime_defect(c, "close delimiter glued to a line or mistyped");
	return true;
}

/* mime_is_blank - s is NULL or white space only. */
static bool
mime_is_blank(const char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		if (!g_ascii_isspace(*s))
			return false;
	return true;
}

/*
 * mime_open_parts - body candidates that run to the end of the mail (see
 * mime_runs_to_end) are moved to the attachments when a part that ended
 * properly gives body text: the complete part is the body, the cut-off one
 * is kept with its bytes (a truncated HTML alternative, the rest of a mail
 * whose boundaries went wrong).  When the open part is all the body there
 * is, it stays the body (a reply that only lacks its closing boundary must
 * not lose its text).  Stalwart files such parts as attachments always.
 */
static void
mime_open_parts(struct mime_ctx *c)
{
	GPtrArray *lists[] = {c->text_parts, c->html_parts};
	bool body = false;

	if (c->open_parts->len == 0)
		return;
	for (guint l = 0; l < G_N_ELEMENTS(lists) && !body; l++)
		for (guint i = 0; i < lists[l]->len && !body; i++) {
			GMimeObject *obj = g_ptr_array_index(lists[l], i);
			char *t;

			if (g_ptr_array_find(c->open_parts, obj, NULL))
				continue;
			t = mime_part_text(c, obj, false);
			body = !mime_is_blank(t);
			g_free(t);
		}
	if (!body)
		return;
	for (guint i = 0; i < c->open_parts->len; i++) {
		GMimeObject *obj = g_ptr_array_index(c->open_parts, i);
		bool was_body = false;

		for (guint l = 0; l < G_N_ELEMENTS(lists); l++)
			while (g_ptr_array_remove(lists[l], obj))
				was_body = true;
		if (was_body)
			g_ptr_array_add(c->att_parts, obj);
	}
	mime_defect(c, "part without closing boundary kept as an attachment");
}

static void mime_walk(struct mime_ctx *c, GMimeMultipart *mp,
                      const char *subtype, bool in_alt, GPtrArray *text,
                      GPtrArray *html, size_t depth, bool in_report);

/*
 * mime_visit_multipart - descend into a multipart below mime_visit: the
 * depth limit is checked here, before the walk, so a deep nest costs one
 * defect line and no recursion; a multipart/report names its report-type.
 */
static void
mime_visit_multipart(struct mime_ctx *c, GMimeObject *part, bool in_alt,
                     GPtrArray **text, GPtrArray **html, size_t depth,
                     bool in_report)
{
	GMimeContentType *ct = g_mime_object_get_content_type(part);
	const char *sub =
	    ct != NULL ? g_mime_content_type_get_media_subtype(ct) : NULL;
	char *lsub = mime_lower(sub != NULL ? sub : "mixed");
	bool is_report = strcmp(lsub, "report") == 0;

	if (depth + 1 > c->lim.max_depth) {
		if (!c->depth_hit)
			mime_defect(c, "limit: nesting deeper than %zu",
			            c->lim.max_depth);
		c->depth_hit = true;
		g_free(lsub);
		return;
	}
	if (is_report && c->m->report_type == NULL)
		c->m->report_type =
		    mime_lower(g_mime_object_get_content_type_parameter(
		        part, "report-type"));
	mime_walk(c, (GMimeMultipart *)part, lsub,
	          in_alt || strcmp(lsub, "alternative") == 0, *text, *html,
	          depth + 1, in_report || is_report);
	g_free(lsub);
}

/* mime_visit - one child (index i) of a multipart of the given subtype. */
static void
mime_visit(struct mime_ctx *c, GMimeObject *part, int i, const char *subtype,
           bool in_alt, GPtrArray **text, GPtrArray **html, size_t depth,
           bool in_report)
{
	const char *disp;
	bool is_plain, is_html, is_media, is_inline, named;

	if (GMIME_IS_MULTIPART(part)) {
		mime_visit_multipart(c, part, in_alt, text, html, depth,
		                     in_report);
		return;
	}
	if (c->leaves >= c->lim.max_parts) {
		if (!c->parts_hit)
			mime_defect(c, "limit: more than %zu parts",
			            c->lim.max_parts);
		c->parts_hit = true;
		return;
	}
	c->leaves++;
	mime_note_report(c, part, depth, in_report);
	if (!GMIME_IS_PART(part)) {
		/* message/rfc822 and friends: always an attachment */
		g_ptr_array_add(c->att_parts, part);
		return;
	}

	disp = g_mime_object_get_disposition(part);
	is_plain = mime_is_type(part, "text", "plain");
	is_html = mime_is_type(part, "text", "html");
	if ((is_plain || is_html) && mime_bad_base64(c, part)) {
		g_ptr_array_add(c->att_parts, part);
		return;
	}
	is_media = mime_is_inline_media(part);
	named = g_mime_part_get_filename((GMimePart *)part) != NULL;
	is_inline = (disp == NULL || g_ascii_strcasecmp(disp, "attachment")) &&
	            (is_plain || is_html || is_media) &&
	            (i == 0 ||
	             (strcmp(subtype, "related") != 0 && (is_media || !named)));

	if (!is_inline || is_media) {
		/* inline images are listed as attachments too (Stalwart) */
		g_ptr_array_add(c->att_parts, part);
		return;
	}
	if (depth > 0 && mime_runs_to_end(part) && !mime_glued_close(c, part))
		g_ptr_array_add(c->open_parts, part);
	if (strcmp(subtype, "alternative") == 0) {
		if (is_plain && *text != NULL)
			g_ptr_array_add(*text, part);
		else if (is_html && *html != NULL)
			g_ptr_array_add(*html, part);
		return;
	}
	if (in_alt) {
		if (is_plain)
			*html = NULL;
		if (is_html)
			*text = NULL;
	}
	if (*text != NULL)
		g_ptr_array_add(*text, part);
	if (*html != NULL)
		g_ptr_array_add(*html, part);
}

/* mime_raw_boundary - boundary= anywhere in a Content-Type value. */
static char *
mime_raw_boundary(const char *v)
{
	const char *p, *e;

	if (v == NULL)
		return NULL;
	for (p = v; *p != '\0'; p++)
		if (g_ascii_strncasecmp(p, "boundary=", 9) == 0)
			break;
	if (*p == '\0')
		return NULL;
	p += 9;
	if (*p == '"') {
		e = strchr(++p, '"');
		if (e == NULL)
			return NULL;
	} else {
		for (e = p; *e != '\0' && *e != ';' && !g_ascii_isspace(*e);
		     e++)
			;
	}
	return e > p && e - p <= 200 ? g_strndup(p, e - p) : NULL;
}

/*
 * mime_reparse - a multipart whose boundary GMime missed because the
 * parameter was not behind a ';' ("multipart/mixed\n\tboundary=x"), parsed
 * again from its prologue with the boundary it meant.  Returns the new
 * multipart (kept alive by c) or mp itself when that does not help.
 */
static GMimeMultipart *
mime_reparse(struct mime_ctx *c, GMimeMultipart *mp)
{
	GMimeObject *obj = (GMimeObject *)mp;
	const char *pro = g_mime_multipart_get_prologue(mp);
	char *b = NULL, *sub = NULL, *head = NULL;
	GMimeStream *cat = NULL;
	GMimeParser *p = NULL;
	GMimeObject *fixed = NULL;
	GMimeMultipart *out = mp;

	if (pro == NULL || pro[0] == '\0')
		goto out;
	/*
	 * GMime made up a boundary and rewrote the header, so look at the
	 * raw header where its warning said the Content-Type was.
	 */
	for (guint i = 0; b == NULL && i < c->nobound->len; i++) {
		gint64 off = g_array_index(c->nobound, gint64, i);
		const char *h, *e, *end = c->raw + c->raw_len;
		char *field;

		if (off < 0 || (size_t)off >= c->raw_len)
			continue;
		h = c->raw + off;
		for (e = h; e < end && e - h < 2048; e++)
			if (*e == '\n' &&
			    (e + 1 == end || (e[1] != ' ' && e[1] != '\t')))
				break;
		field = g_strndup(h, e - h);
		b = mime_raw_boundary(field);
		g_free(field);
		if (b != NULL && strstr(pro, b) == NULL) {
			g_free(b);
			b = NULL;
		}
	}
	if (b == NULL)
		goto out;
	sub = mime_type_of(obj);
	head = g_strdup_printf("Content-Type: %s; boundary=\"%s\"\n\n", sub, b);
	cat = g_mime_stream_cat_new();
	{
		GMimeStream *h =
		    g_mime_stream_mem_new_with_buffer(head, strlen(head));
		GMimeStream *bd =
		    g_mime_stream_mem_new_with_buffer(pro, strlen(pro));

		g_mime_stream_cat_add_source(GMIME_STREAM_CAT(cat), h);
		g_mime_stream_cat_add_source(GMIME_STREAM_CAT(cat), bd);
		g_object_unref(h);
		g_object_unref(bd);
	}
	p = g_mime_parser_new_with_stream(cat);
	/* offsets seen now are in cat, not in c->raw */
	c->reparsing = true;
	fixed = g_mime_parser_construct_part(p, c->opts);
	c->reparsing = false;
	if (fixed == NULL || !GMIME_IS_MULTIPART(fixed) ||
	    g_mime_multipart_get_count((GMimeMultipart *)fixed) == 0)
		goto out;
	mime_defect(c, "multipart boundary outside the parameters");
	g_ptr_array_add(c->reparsed, fixed);
	out = (GMimeMultipart *)fixed;
	fixed = NULL;
out:
	if (fixed != NULL)
		g_object_unref(fixed);
	if (p != NULL)
		g_object_unref(p);
	if (cat != NULL)
		g_object_unref(cat);
	g_free(head);
	g_free(sub);
	g_free(b);
	return out;
}

static void
mime_walk(struct mime_ctx *c, GMimeMultipart *mp, const char *subtype,
          bool in_alt, GPtrArray *text, GPtrArray *html, size_t depth,
          bool in_report)
{
	int n = g_mime_multipart_get_count(mp);
	guint text_len = text != NULL ? text->len : 0;
	guint html_len = html != NULL ? html->len : 0;
	bool alt = strcmp(subtype, "alternative") == 0;
	const char *boundary;

	if (n == 0 && (mp = mime_reparse(c, mp)) != NULL)
		n = g_mime_multipart_get_count(mp);
	if (n == 0) {
		/* No boundary or no parts: keep what text there is. */
		const char *pro = g_mime_multipart_get_prologue(mp);

		if (pro != NULL && pro[0] != '\0') {
			char *t = mime_decode(c, NULL, pro, strlen(pro),
			                      "multipart prologue");

			if (c->salvaged == NULL)
				c->salvaged = g_string_new(NULL);
			mime_append(c->salvaged, t);
			g_free(t);
			mime_defect(c, "multipart/%s without parts", subtype);
		}
		return;
	}
	boundary = c->boundary;
	c->boundary = g_mime_multipart_get_boundary(mp);
	for (int i = 0; i < n && !c->parts_hit; i++) {
		GMimeObject *part = g_mime_multipart_get_part(mp, i);

		if (part != NULL)
			mime_visit(c, part, i, subtype, in_alt, &text, &html,
			           depth, in_report);
	}
	c->boundary = boundary;
	if (!alt || text == NULL || html == NULL)
		return;
	/* Only one of the two alternatives exists: it serves for both. */
	if (text->len == text_len && html->len != html_len)
		for (guint i = html_len; i < html->len; i++)
			g_ptr_array_add(text, g_ptr_array_index(html, i));
	else if (html->len == html_len && text->len != text_len)
		for (guint i = text_len; i < text->len; i++)
			g_ptr_array_add(html, g_ptr_array_index(text, i));
}

/* mime_top - the message body: a multipart or a single part. */
static void
mime_top(struct mime_ctx *c, GMimeObject *body)
{
	GPtrArray *text = c->text_parts, *html = c->html_parts;

	mime_visit(c, body, 0, "mixed", false, &text, &html, 0, false);
}

/*
 * Reports and the mail they are about
 */

/* mime_header_block_id - Message-ID from a raw header block, or NULL. */
static char *
mime_header_block_id(const char *block)
{
	const char *p = block;

	while (p != NULL && *p != '\0') {
		if (g_ascii_strncasecmp(p, "Message-ID:", 11) == 0) {
			const char *v = p + 11, *e = v;
			char *raw, *id;

			/* unfold: continuation lines start with blanks */
			while (*e != '\0' &&
			       !(*e == '\n' && e[1] != ' ' && e[1] != '\t'))
				e++;
			raw = g_strndup(v, e - v);
			id = g_mime_utils_decode_message_id(raw);
			g_free(raw);
			if (id != NULL && id[0] != '\0')
				return id;
			g_free(id);
			return NULL;
		}
		if (*p == '\n')
			break; /* end of the header block */
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return NULL;
}

/* mime_cap_headers - at most 16 KiB, ending on a whole line. */
static void
mime_cap_headers(char *s)
{
	size_t len = strlen(s), n;
	char *nl;

	if (len <= MIME_ORIG_HEADERS)
		return;
	n = mime_utf8_cut(s, len, MIME_ORIG_HEADERS);
	s[n] = '\0';
	nl = strrchr(s, '\n');
	if (nl != NULL)
		nl[1] = '\0';
}

static void
mime_report(struct mime_ctx *c)
{
	GMimeObject *orig =
	    c->orig_report != NULL ? c->orig_report : c->orig_any;

	if (c->report_part != NULL) {
		GByteArray *ba =
		    GMIME_IS_PART(c->report_part)
		        ? mime_part_bytes((GMimePart *)c->report_part)
		        : g_byte_array_new();
		size_t len =
		    ba->len < c->lim.max_text ? ba->len : c->lim.max_text;

		c->m->report_body =
		    mime_decode(c,
		                g_mime_object_get_content_type_parameter(
		                    c->report_part, "charset"),
		                (const char *)ba->data, len, "report");
		g_byte_array_unref(ba);
	}
	if (orig == NULL)
		return;
	if (GMIME_IS_MESSAGE_PART(orig)) {
		GMimeMessage *inner =
		    g_mime_message_part_get_message((GMimeMessagePart *)orig);
		const char *id;
		char *h;

		if (inner == NULL)
			return;
		id = g_mime_message_get_message_id(inner);
		if (id != NULL && id[0] != '\0')
			c->m->original_message_id = mime_line(id);
		h = g_mime_object_get_headers((GMimeObject *)inner, NULL);
		if (h != NULL) {
			c->m->original_headers = mime_decode(
			    c, NULL, h, strlen(h), "original headers");
			mime_cap_headers(c->m->original_headers);
		}
		g_free(h);
	} else if (GMIME_IS_PART(orig)) {
		GByteArray *ba = mime_part_bytes((GMimePart *)orig);
		size_t len = ba->len < 4 * MIME_ORIG_HEADERS
		                 ? ba->len
		                 : 4 * MIME_ORIG_HEADERS;
		char *h = mime_decode(c, NULL, (const char *)ba->data, len,
		                      "original headers");
		char *id = mime_header_block_id(h);

		mime_cap_headers(h);
		c->m->original_headers = h;
		if (id != NULL)
			c->m->original_message_id = mime_line(id);
		g_free(id);
		g_byte_array_unref(ba);
	}
}

/*
 * Headers and addresses
 */

static void
mime_addr_free(gpointer p)
{
	struct mime_addr *a = p;

	if (a == NULL)
		return;
	g_free(a->name);
	g_free(a->addr);
	g_free(a);
}

static void
mime_header_free(gpointer p)
{
	struct mime_header *h = p;

	if (h == NULL)
		return;
	g_free(h->name);
	g_free(h->value);
	g_free(h);
}

/* mime_addrs - mailboxes of list into out, flattening groups. */
static void
mime_addrs(InternetAddressList *list, GPtrArray *out, int depth)
{
	int n = list != NULL ? internet_address_list_length(list) : 0;

	for (int i = 0; i < n; i++) {
		InternetAddress *ia =
		    internet_address_list_get_address(list, i);
		const char *addr, *name;
		struct mime_addr *a;

		if (INTERNET_ADDRESS_IS_GROUP(ia)) {
			if (depth < 2)
				mime_addrs(internet_address_group_get_members(
				               INTERNET_ADDRESS_GROUP(ia)),
				           out, depth + 1);
			continue;
		}
		if (!INTERNET_ADDRESS_IS_MAILBOX(ia))
			continue;
		addr = internet_address_mailbox_get_addr(
		    INTERNET_ADDRESS_MAILBOX(ia));
		if (addr == NULL || addr[0] == '\0')
			continue;
		name = internet_address_get_name(ia);
		a = g_new0(struct mime_addr, 1);
		a->addr = mime_line(addr);
		{
			char *low = g_utf8_strdown(a->addr, -1);

			g_free(a->addr);
			a->addr = low;
		}
		a->name =
		    name != NULL && name[0] != '\0' ? mime_line(name) : NULL;
		g_ptr_array_add(out, a);
	}
}

/* mime_refs - the ids of a References-like header, without <>. */
static void
mime_refs(struct mime_ctx *c, GMimeMessage *msg, const char *name,
          GPtrArray *out)
{
	const char *v = g_mime_object_get_header((GMimeObject *)msg, name);
	GMimeReferences *r;

	if (v == NULL)
		return;
	r = g_mime_references_parse(c->opts, v);
	if (r == NULL)
		return;
	for (int i = 0; i < g_mime_references_length(r); i++) {
		const char *id = g_mime_references_get_message_id(r, i);

		if (id != NULL && id[0] != '\0')
			g_ptr_array_add(out, mime_line(id));
	}
	g_mime_references_free(r);
}

/* mime_add_header - one raw field (name, folded value) decoded into m. */
static void
mime_add_header(struct mime_ctx *c, const char *name, size_t nl, const char *v,
                size_t vl)
{
	struct mime_header *h = g_new0(struct mime_header, 1);
	char *raw, *dec, *fixed;

	/* every field is decoded: bound each (the decoder's word list
	 * costs ~14 bytes per byte) */
	vl = MIN(vl, (size_t)MIME_VALUE_MAX);
	raw = g_strndup(v, vl);

	h->name = mime_str(name, nl);
	/* a NUL inside the raw value must not hide the rest of it */
	for (size_t i = 0; i < vl; i++)
		if (raw[i] == '\0')
			raw[i] = ' ';
	fixed = mime_hdr_fix(raw);
	dec = g_mime_utils_header_decode_text(c->opts,
	                                      fixed != NULL ? fixed : raw);
	g_free(fixed);
	h->value = mime_line(dec);
	g_free(dec);
	g_free(raw);
	g_ptr_array_add(c->m->headers, h);
}

/*
 * mime_headers - the top-level header fields in their order, read from
 * the raw block: GMime files Content-* under the body part, which would
 * lose them and their order.
 */
static void
mime_headers(struct mime_ctx *c)
{
	const char *p = c->raw, *end = c->raw + c->raw_len;
	const char *name = NULL, *val = NULL;
	size_t nl = 0, count = 0;

	while (p < end) {
		const char *e = memchr(p, '\n', end - p);
		const char *le = e != NULL ? e : end, *colon;

		if (le > p && le[-1] == '\r')
			le--;
		if (le == p)
			break; /* the empty line ends the header */
		if ((*p == ' ' || *p == '\t') && name != NULL) {
			p = e != NULL ? e + 1 : end;
			continue; /* folded: part of the field above */
		}
		if (name != NULL && ++count <= c->lim.max_headers)
			mime_add_header(c, name, nl, val, (size_t)(p - val));
		name = NULL;
		colon = memchr(p, ':', le - p);
		if (colon != NULL && colon > p &&
		    !(p == c->raw && le - p > 5 &&
		      memcmp(p, "From ", 5) == 0)) {
			name = p;
			nl = colon - p;
			while (nl > 0 &&
			       (name[nl - 1] == ' ' || name[nl - 1] == '\t'))
				nl--;
			val = colon + 1;
		}
		p = e != NULL ? e + 1 : end;
	}
	if (name != NULL && ++count <= c->lim.max_headers)
		mime_add_header(c, name, nl, val, (size_t)(p - val));
	if (count > c->lim.max_headers)
		mime_defect(c, "limit: %zu header fields, kept %zu", count,
		            c->lim.max_headers);
}

/*
 * mime_addr_field - the mailboxes of header name into out: GMime's list,
 * or the raw value re-read when it needed mime_hdr_fix (a display name
 * split across encoded words).
 */
static void
mime_addr_field(struct mime_ctx *c, GMimeMessage *msg, const char *name,
                InternetAddressList *parsed, GPtrArray *out)
{
	char *v = mime_fixed_value((GMimeObject *)msg, name);
	InternetAddressList *l =
	    v != NULL ? internet_address_list_parse(c->opts, v) : NULL;

	if (l != NULL && internet_address_list_length(l) > 0)
		mime_addrs(l, out, 0);
	else
		mime_addrs(parsed, out, 0);
	if (l != NULL)
		g_object_unref(l);
	g_free(v);
}

/* Characters of an addr-spec as real mailers write them, unquoted. */
static bool
mime_is_local_char(char ch)
{
	return g_ascii_isalnum(ch) || strchr(".!#$%&'*+/=?^_`{|}~-", ch) ||
	       (unsigned char)ch >= 0x80;
}

static bool
mime_is_domain_char(char ch)
{
	return g_ascii_isalnum(ch) || ch == '.' || ch == '-' ||
	       (unsigned char)ch >= 0x80;
}

#define MIME_FROM_SCAN 4096 /* bytes of a From value salvage looks at */

/*
 * mime_addr_token - the addr-spec around the '@' at v[k] (n bytes of v):
 * *s_r and *e_r delimit it, trailing dots of the domain cut.  False when
 * either side is empty.
 */
static bool
mime_addr_token(const char *v, size_t n, size_t k, size_t *s_r, size_t *e_r)
{
	size_t s = k, e = k + 1;

	while (s > 0 && mime_is_local_char(v[s - 1]))
		s--;
	while (s < k && v[s] == '.')
		s++;
	while (e < n && mime_is_domain_char(v[e]))
		e++;
	while (e > k + 1 && (v[e - 1] == '.' || v[e - 1] == '-'))
		e--;
	if (s == k || e == k + 1)
		return false;
	*s_r = s;
	*e_r = e;
	return true;
}

/* mime_addr_plain - a@b without quotes, blanks or brackets. */
static bool
mime_addr_plain(const char *a)
{
	return strchr(a, '@') != NULL && strpbrk(a, "\" \t<>[]()") == NULL;
}

/*
 * mime_name_trim - the name left of a salvaged address without the
 * brackets, quotes and "mailto:" that opened it ("John Doe [", "John Doe
 * <mailto:").  In place; returns s.
 */
static char *
mime_name_trim(char *s)
{
	size_t n;

	for (;;) {
		g_strstrip(s);
		n = strlen(s);
		if (n > 0 && strchr("([{:;,", s[n - 1]) != NULL)
			s[n - 1] = '\0';
		else if (n >= 6 && g_ascii_strcasecmp(s + n - 6, "mailto") == 0)
			s[n - 6] = '\0';
		else
			return s;
	}
}

/*
 * mime_from_parsed_ok - true when GMime's reading of the From line (v, its
 * first n bytes) is to be kept: one plain address, or several that the
 * line itself separates, or several well-formed ones with the comma missing.
 */
static bool
mime_from_parsed_ok(const GPtrArray *from, const char *v, size_t n)
{
	if (from->len == 1 &&
	    mime_addr_plain(
	        ((struct mime_addr *)g_ptr_array_index(from, 0))->addr))
		return true;
	if (from->len > 1 &&
	    (memchr(v, ',', n) != NULL || memchr(v, ';', n) != NULL))
		return true;
	if (from->len > 1) {
		/* "a@x.example b@x.example": two mailboxes, comma missing */
		bool all_good = true;

		for (guint i = 0; i < from->len && all_good; i++) {
			const struct mime_addr *f = g_ptr_array_index(from, i);
			const char *at = strchr(f->addr, '@');

			all_good = at != NULL && strchr(at, '.') != NULL;
		}
		if (all_good)
			return true;
	}
	return false;
}

/*
 * mime_from_best_token - the address-like token of v[0..n) to salvage, as
 * [*s_r, *e_r), by the rule told at mime_from_salvage. Its own step so
 * the choice can be read apart from what is built from it. False: none.
 */
static bool
mime_from_best_token(const char *v, size_t n, size_t *s_r, size_t *e_r)
{
	size_t best_s = 0, best_e = 0;
	bool found = false, best_dot = false, best_angle = false;

	for (size_t k = 0; k < n; k++) {
		size_t s, e;
		bool angle, dot;

		if (v[k] != '@' || !mime_addr_token(v, n, k, &s, &e))
			continue;
		angle = s > 0 && v[s - 1] == '<';
		dot = memchr(v + k, '.', e - k) != NULL;
		if (found && (best_angle || (!angle && best_dot && !dot)))
			continue;
		found = true;
		best_s = s;
		best_e = e;
		best_angle = angle;
		best_dot = dot;
	}
	*s_r = best_s;
	*e_r = best_e;
	return found;
}

/*
 * mime_from_salvage - a sender from a From line GMime could not read as
 * one mailbox: none at all (or one that is no plain a@b) while the line
 * holds an address, or several from a line without a comma ("Support @ Acme
 * support@acme.example", "user@host junk").  The address in angle brackets
 * wins, else the last one whose domain has a dot (a display name with an @
 * comes first), else the last one; the text before it is the name.
 */
static void
mime_from_salvage(struct mime_ctx *c)
{
	GPtrArray *from = c->m->from;
	const char *v = NULL;
	size_t n, best_s = 0, best_e = 0;
	struct mime_addr *a;

	for (guint i = 0; i < c->m->headers->len && v == NULL; i++) {
		const struct mime_header *h =
		    g_ptr_array_index(c->m->headers, i);

		if (g_ascii_strcasecmp(h->name, "From") == 0)
			v = h->value;
	}
	if (v == NULL || strchr(v, '@') == NULL)
		return;
	n = strnlen(v, MIME_FROM_SCAN);
	if (mime_from_parsed_ok(from, v, n))
		return;
	if (!mime_from_best_token(v, n, &best_s, &best_e))
		return;
	a = g_new0(struct mime_addr, 1);
	{
		char *addr = g_strndup(v + best_s, best_e - best_s);

		a->addr = g_utf8_strdown(addr, -1);
		g_free(addr);
	}
	{
		/* the name: what comes before, without quotes and brackets */
		GString *nm = g_string_new(NULL);
		char *name;

		for (size_t i = 0; i < best_s; i++)
			if (v[i] != '"' && v[i] != '<' && v[i] != '>')
				g_string_append_c(nm, v[i]);
		name = mime_name_trim(g_string_free(nm, FALSE));
		if (name[0] == '\0' || g_ascii_strcasecmp(name, a->addr) == 0) {
			g_free(name);
			name = NULL;
		}
		a->name = name != NULL ? mime_line(name) : NULL;
		g_free(name);
	}
	g_ptr_array_set_size(from, 0);
	g_ptr_array_add(from, a);
	{
		char *it = mime_item(a->addr);

		mime_defect(c, "from: salvaged '%s' from a malformed From line",
		            it);
		g_free(it);
	}
}

static void
mime_envelope(struct mime_ctx *c, GMimeMessage *msg)
{
	struct mime_msg *m = c->m;
	const char *s;
	char *fixed;
	GDateTime *dt;

	s = g_mime_message_get_message_id(msg);
	if (s != NULL && s[0] != '\0')
		m->message_id = mime_line(s);
	mime_refs(c, msg, "In-Reply-To", m->in_reply_to);
	mime_refs(c, msg, "References", m->references);
	mime_addr_field(c, msg, "From", g_mime_message_get_from(msg), m->from);
	mime_addr_field(c, msg, "Reply-To", g_mime_message_get_reply_to(msg),
	                m->reply_to);
	mime_addr_field(c, msg, "To", g_mime_message_get_to(msg), m->to);
	mime_addr_field(c, msg, "Cc", g_mime_message_get_cc(msg), m->cc);
	mime_from_salvage(c);
	s = g_mime_message_get_subject(msg);
	fixed = mime_fixed_value((GMimeObject *)msg, "Subject");
	if (fixed != NULL) {
		char *dec = g_mime_utils_header_decode_text(c->opts, fixed);

		g_free(m->subject);
		m->subject = mime_line(dec);
		g_free(dec);
		g_free(fixed);
	} else if (s != NULL) {
		g_free(m->subject);
		m->subject = mime_line(s);
	}
	dt = g_mime_message_get_date(msg);
	if (dt != NULL)
		m->date = g_date_time_to_unix(dt);
	s = g_mime_object_get_header((GMimeObject *)msg, "Content-Language");
	/* GMime files Content-* headers under the top-level part */
	if (s == NULL && g_mime_message_get_mime_part(msg) != NULL)
		s = g_mime_object_get_header(g_mime_message_get_mime_part(msg),
		                             "Content-Language");
	if (s != NULL && s[0] != '\0')
		m->language = mime_line(s);
}

/*
 * Public API
 */

void
mime_init(void)
{
	g_mime_init();
	xmlInitParser();
	/* the fallback every 8-bit header and body may need, loaded once */
	mime_iconv_close(mime_iconv_open("WINDOWS-1252"));
}

void
mime_shutdown(void)
{
	mime_iconv_flush();
	g_mime_shutdown();
}

static struct mime_msg *
mime_msg_new(void)
{
	struct mime_msg *m = g_new0(struct mime_msg, 1);

	m->in_reply_to = g_ptr_array_new_with_free_func(g_free);
	m->references = g_ptr_array_new_with_free_func(g_free);
	m->from = g_ptr_array_new_with_free_func(mime_addr_free);
	m->reply_to = g_ptr_array_new_with_free_func(mime_addr_free);
	m->to = g_ptr_array_new_with_free_func(mime_addr_free);
	m->cc = g_ptr_array_new_with_free_func(mime_addr_free);
	m->attachments = g_ptr_array_new_with_free_func(mime_att_free);
	m->headers = g_ptr_array_new_with_free_func(mime_header_free);
	m->defects = g_ptr_array_new_with_free_func(g_free);
	m->subject = g_strdup("");
	m->text = g_strdup("");
	return m;
}

void
mime_msg_free(struct mime_msg **mp)
{
	struct mime_msg *m;

	if (mp == NULL || *mp == NULL)
		return;
	m = *mp;
	g_free(m->message_id);
	g_ptr_array_unref(m->in_reply_to);
	g_ptr_array_unref(m->references);
	g_ptr_array_unref(m->from);
	g_ptr_array_unref(m->reply_to);
	g_ptr_array_unref(m->to);
	g_ptr_array_unref(m->cc);
	g_free(m->subject);
	g_free(m->text);
	g_free(m->html);
	g_free(m->text_new);
	g_free(m->language);
	g_ptr_array_unref(m->attachments);
	g_ptr_array_unref(m->headers);
	g_ptr_array_unref(m->defects);
	g_free(m->content_type);
	g_free(m->report_type);
	g_free(m->report_body);
	g_free(m->original_message_id);
	g_free(m->original_headers);
	g_free(m);
	*mp = NULL;
}

/*
 * Boundary lines that only start with the boundary ("--ab" for boundary
 * "a").  RFC 2046 5.1.1: "Boundary string comparisons must compare the
 * boundary value with the beginning of each candidate line.  An exact match
 * of the entire candidate line is not required; it is sufficient that the
 * boundary appear in its entirety following the CRLF."  GMime matches the
 * whole line (boundary and blanks), so before it parses, such a line gets
 * the text after its boundary (after "--boundary--" for a close) blanked
 * with spaces, which GMime allows there; byte offsets stay as they were.
 * The boundaries in force are tracked as GMime does: the innermost one
 * that fits wins, an outer one ends the multiparts inside it (5.1.2).
 */
#define MIME_SCAN_DEPTH 64
#define MIME_SCAN_CTYPE (8u << 10) /* bytes of a folded Content-Type */

struct mime_scan {
	char *b[MIME_SCAN_DEPTH]; /* boundaries in force, innermost last */
	size_t n;
	bool headers;   /* in a header block */
	GString *ctype; /* last Content-Type value of the block, unfolded */
	bool in_ctype;
};

/* mime_scan_block_end - a header block ended: what its body will be. */
static void
mime_scan_block_end(struct mime_scan *sc)
{
	GMimeContentType *ct = NULL;
	const char *b;

	sc->headers = false;
	if (sc->ctype->len > 0)
		ct = g_mime_content_type_parse(NULL, sc->ctype->str);
	g_string_truncate(sc->ctype, 0);
	sc->in_ctype = false;
	if (ct == NULL)
		return;
	if (g_mime_content_type_is_type(ct, "multipart", "*") &&
	    (b = g_mime_content_type_get_parameter(ct, "boundary")) != NULL &&
	    b[0] != '\0' && sc->n < MIME_SCAN_DEPTH)
		sc->b[sc->n++] = g_strdup(b);
	else if (g_mime_content_type_is_type(ct, "message", "rfc822") ||
	         g_mime_content_type_is_type(ct, "message", "global") ||
	         g_mime_content_type_is_type(ct, "message", "news"))
		sc->headers = true; /* the embedded message's header */
	g_object_unref(ct);
}

/* mime_scan_pop - drop the boundaries from index k on. */
static void
mime_scan_pop(struct mime_scan *sc, size_t k)
{
	while (sc->n > k)
		g_free(sc->b[--sc->n]);
}

/*
 * mime_scan_line - one line [p, p+len) without its line break; returns
 * the offset in the line from which it must be blanked, or 0 for none.
 */
static size_t
mime_scan_line(struct mime_scan *sc, const char *p, size_t len)
{
	size_t k, bl = 0, at;

	if (sc->headers) {
		if (len == 0) {
			mime_scan_block_end(sc);
			return 0;
		}
		if (p[0] == ' ' || p[0] == '\t') {
			if (sc->in_ctype && sc->ctype->len < MIME_SCAN_CTYPE)
				g_string_append_len(sc->ctype, p, len);
			return 0;
		}
		sc->in_ctype = len > 13 &&
		               g_ascii_strncasecmp(p, "content-type:", 13) == 0;
		if (sc->in_ctype) {
			g_string_truncate(sc->ctype, 0);
			g_string_append_len(sc->ctype, p + 13, len - 13);
		}
		return 0;
	}
	if (len < 3 || p[0] != '-' || p[1] != '-' || sc->n == 0)
		return 0;
	for (k = sc->n; k-- > 0;) {
		bl = strlen(sc->b[k]);
		if (len - 2 >= bl && memcmp(p + 2, sc->b[k], bl) == 0)
			break;
		if (k == 0)
			return 0;
	}
	at = 2 + bl;
	if (len - at >= 2 && p[at] == '-' && p[at + 1] == '-') {
		mime_scan_pop(sc, k);
		at += 2;
	} else if (len - at >= 1 && p[at] == '-') {
		/*
		 * "--b-": a mistyped close, left as it is, content to GMime
		 * too (the part before it ends there, see mime_glued_close)
		 */
		return 0;
	} else {
		mime_scan_pop(sc, k + 1);
		sc->headers = true;
	}
	for (size_t i = at; i < len; i++)
		if (p[i] != ' ' && p[i] != '\t')
			return at;
	return 0;
}

/*
 * mime_prefix_fix - raw with boundary lines blanked as above (owned by c,
 * same length), or NULL when no line needs it.
 */
static char *
mime_prefix_fix(struct mime_ctx *c, const char *raw, size_t *len_r)
{
	struct mime_scan sc = {.headers = true, .ctype = g_string_new(NULL)};
	char *out = NULL;
	size_t pos = 0, fixed = 0, len = *len_r, parts = 0;

	while (pos < len) {
		const char *nl = memchr(raw + pos, '\n', len - pos);
		size_t e = nl != NULL ? (size_t)(nl - raw) : len;
		size_t l = e - pos, at;

		if (l > 0 && raw[pos + l - 1] == '\r')
			l--;
		if (!sc.headers && sc.n > 0 && l > 2 && raw[pos] == '-' &&
		    raw[pos + 1] == '-') {
			/* a delimiter opens a part's header block */
			at = mime_scan_line(&sc, raw + pos, l);
			if (sc.headers && ++parts > MIME_PARSE_PARTS) {
				/* the rest is kept raw, not parsed */
				mime_defect(c,
				            "limit: more than %u MIME parts, "
				            "the rest not parsed",
				            MIME_PARSE_PARTS);
				*len_r = len = pos;
				break;
			}
		} else
			at = mime_scan_line(&sc, raw + pos, l);
		if (at > 0) {
			if (out == NULL)
				out = g_memdup2(raw, len);
			memset(out + pos + at, ' ', l - at);
			fixed++;
		}
		pos = e + 1;
	}
	mime_scan_pop(&sc, 0);
	g_string_free(sc.ctype, TRUE);
	if (fixed > 0)
		mime_defect(c,
		            "%zu boundary lines with text after the boundary",
		            fixed);
	return out;
}

/* mime_clip_one - append field [f, e) (name, ':', folded value) to out,
 * cut to about MIME_FIELD_MAX bytes at a space or comma.  References and
 * In-Reply-To keep their head (the thread's root) and their tail (the
 * newest ids, the ones threading looks at first). */
static void
mime_clip_one(GString *out, const char *f, const char *e)
{
	const char *colon = memchr(f, ':', (size_t)(e - f)), *v, *cut, *t;
	size_t head = MIME_FIELD_MAX - 256;
	bool refs;

	if (colon == NULL) /* not a field: the parser's business */
		colon = f;
	v = colon + 1;
	refs =
	    (colon - f == 10 &&
	     g_ascii_strncasecmp(f, "References", 10) == 0) ||
	    (colon - f == 11 && g_ascii_strncasecmp(f, "In-Reply-To", 11) == 0);
	if (refs)
		head = 1024;
	cut = v + MIN(head, (size_t)(e - v));
	for (t = cut; t > v && t > cut - 1024; t--)
		if (*t == ' ' || *t == '\t' || *t == ',' || *t == '\n')
			break;
	if (t > v && t > cut - 1024)
		cut = t + (*t == ',');
	while (cut > v && g_ascii_isspace(cut[-1]))
		cut--;
	g_string_append_len(out, f, cut - f);
	if (refs) {
		t = e - (MIME_FIELD_MAX - 2048);
		while (t < e && !g_ascii_isspace(*t))
			t++;
		while (t < e && g_ascii_isspace(*t))
			t++;
		if (t > cut) {
			g_string_append(out, "\r\n ");
			cut = e;
			while (cut > t && g_ascii_isspace(cut[-1]))
				cut--;
			g_string_append_len(out, t, cut - t);
		}
	}
	g_string_append(out, "\r\n");
}

/*
 * mime_clip_fields - raw (len bytes) with every top-level header field
 * over MIME_FIELD_MAX cut by mime_clip_one, *len_r its length; NULL (and
 * *len_r untouched) when no field is that long, the common case.  One
 * pass over the header block, a copy only for a hostile mail.
 */
static char *
mime_clip_fields(struct mime_ctx *c, const char *raw, size_t len, size_t *len_r)
{
	const char *p = raw, *end = raw + len, *f = raw, *done = raw;
	GString *out = NULL;
	size_t n = 0, fields = 0, dropped = 0;

	for (;;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *next = nl ? nl + 1 : end;
		bool blank = p == end || *p == '\n' ||
		             (*p == '\r' && p + 1 < end && p[1] == '\n');
		bool cont = !blank && (*p == ' ' || *p == '\t');

		if (!cont && p > f) { /* the field [f, p) is complete */
			if (++fields > MIME_FIELDS_MAX) {
				if (out == NULL)
					out = g_string_sized_new(len);
				g_string_append_len(out, done, f - done);
				done = p;
				dropped++;
			} else if ((size_t)(p - f) > MIME_FIELD_MAX) {
				if (out == NULL)
					out = g_string_sized_new(len);
				g_string_append_len(out, done, f - done);
				mime_clip_one(out, f, p);
				done = p;
				n++;
			}
			f = p;
		}
		if (blank || nl == NULL)
			break;
		p = next;
	}
	if (out == NULL)
		return NULL;
	g_string_append_len(out, done, end - done);
	if (n > 0)
		mime_defect(c, "limit: %zu header fields over %u bytes cut", n,
		            MIME_FIELD_MAX);
	if (dropped > 0)
		mime_defect(c, "limit: %zu header fields, %u parsed", fields,
		            MIME_FIELDS_MAX);
	*len_r = out->len;
	return g_string_free(out, FALSE);
}

/* mime_borrow_end - give the borrowed bytes back: the array forgets
 * them, nothing is freed but its shell.  After every GMime object that
 * may read the stream is gone. */
static void
mime_borrow_end(struct mime_ctx *c)
{
	if (c->borrowed == NULL)
		return;
	(void)g_byte_array_steal(c->borrowed, NULL);
	g_byte_array_unref(c->borrowed);
	c->borrowed = NULL;
}

/* mime_construct - GMime's message for len bytes at raw, or NULL. */
static GMimeMessage *
mime_construct(struct mime_ctx *c, const char *raw, size_t len)
{
	GMimeStream *s;
	GMimeParser *p;
	GMimeMessage *msg;

	g_free(c->clipped);
	c->clipped = mime_clip_fields(c, raw, len, &len);
	if (c->clipped != NULL)
		raw = c->clipped;
	g_free(c->prefixed);
	c->prefixed = mime_prefix_fix(c, raw, &len);
	if (c->prefixed != NULL)
		raw = c->prefixed;
	/* GMime reads the bytes where they are: a copy would cost a
	 * 16 MB array for a 10 MB mail (measured).  The array only wraps
	 * them (the stream is not its owner, GMime never writes to it) and
	 * outlives every GMime object of this parse (mime_borrow_end). */
	mime_borrow_end(c);
	c->borrowed = g_byte_array_new_take((guint8 *)(uintptr_t)raw, len);
	s = g_mime_stream_mem_new_with_byte_array(c->borrowed);
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(s), FALSE);
	c->raw = raw;
	c->raw_len = len;
	g_array_set_size(c->nobound, 0);
	p = g_mime_parser_new_with_stream(s);
	g_object_unref(s);
	g_mime_parser_set_format(p, GMIME_FORMAT_MESSAGE);
	msg = g_mime_parser_construct_message(p, c->opts);
	g_object_unref(p);
	return msg;
}

/*
 * mime_header_start - offset of the first line that looks like a header
 * field ("Name:"), within the first lines before any empty line; or -1.
 * Lets a mail with a stray first line (a continuation, a log line) parse.
 */
static gssize
mime_header_start(const char *raw, size_t len)
{
	const char *p = raw, *end = raw + len;

	for (int lines = 0; lines < 16 && p < end; lines++) {
		const char *e = memchr(p, '\n', end - p);
		const char *q = p;

		if (e == NULL)
			e = end;
		if (e == p || (e == p + 1 && *p == '\r'))
			return -1; /* the header block ended */
		while (q<e && * q> 0x20 && *q < 0x7f && *q != ':')
			q++;
		if (lines > 0 && q > p && q < e && *q == ':')
			return p - raw;
		p = e + 1;
	}
	return -1;
}

/*
 * mime_ctx_init - fill the limits (0 means the default) and the work arrays.
 * Kept apart from mime_parse so the parse reads as its steps; the warning
 * callback gets c, so mime_ctx_free must run before c goes out of scope.
 */
static void
mime_ctx_init(struct mime_ctx *c, struct mime_msg *m, const void *raw,
              size_t len, const struct mime_limits *lim)
{
	c->m = m;
	if (lim != NULL)
		c->lim = *lim;
	if (c->lim.max_depth == 0)
		c->lim.max_depth = MIME_DEF_DEPTH;
	if (c->lim.max_parts == 0)
		c->lim.max_parts = MIME_DEF_PARTS;
	if (c->lim.max_headers == 0)
		c->lim.max_headers = MIME_DEF_HEADERS;
	if (c->lim.max_text == 0)
		c->lim.max_text = MIME_DEF_TEXT;
	if (c->lim.charset_fallback == NULL ||
	    c->lim.charset_fallback[0] == NULL)
		c->lim.charset_fallback = mime_default_fallback;
	c->text_parts = g_ptr_array_new();
	c->html_parts = g_ptr_array_new();
	c->att_parts = g_ptr_array_new();
	c->open_parts = g_ptr_array_new();
	c->uu_atts = g_ptr_array_new_with_free_func(mime_att_free);
	c->reparsed = g_ptr_array_new_with_free_func(g_object_unref);
	c->nobound = g_array_new(FALSE, FALSE, sizeof(gint64));
	c->opts = g_mime_parser_options_new();
	c->chain =
	    mime_chain(&c->lim, raw != NULL ? raw : "", raw != NULL ? len : 0);
	/* GMime reads 8-bit header bytes with the first of these that fits */
	g_mime_parser_options_set_fallback_charsets(c->opts,
	                                            (const char **)c->chain);
	g_mime_parser_options_set_warning_callback(c->opts, mime_on_warning, c);
}

/* mime_ctx_free - release what mime_ctx_init and the parse steps took. */
static void
mime_ctx_free(struct mime_ctx *c)
{
	/* The callback must not outlive c: lazy decoding may still warn. */
	g_mime_parser_options_free(c->opts);
	g_strfreev(c->chain);
	g_ptr_array_unref(c->text_parts);
	g_ptr_array_unref(c->html_parts);
	g_ptr_array_unref(c->att_parts);
	g_ptr_array_unref(c->open_parts);
	g_ptr_array_unref(c->uu_atts);
	g_ptr_array_unref(c->reparsed);
	g_array_unref(c->nobound);
	mime_borrow_end(c);
	g_free(c->prefixed);
	g_free(c->clipped);
	if (c->salvaged != NULL)
		g_string_free(c->salvaged, TRUE);
}

struct mime_msg *
mime_parse(const void *raw, size_t len, const struct mime_limits *lim)
{
	struct mime_ctx c = {0};
	struct mime_msg *m = mime_msg_new();
	GMimeMessage *msg = NULL;
	GMimeObject *body;

	mime_ctx_init(&c, m, raw, len, lim);
	if (raw == NULL || len == 0) {
		mime_defect(&c, "empty input");
		m->unparsed = true;
		goto out;
	}
	msg = mime_construct(&c, raw, len);
	if (msg == NULL) {
		gssize start = mime_header_start(raw, len);

		if (start > 0) {
			mime_defect(&c, "skipped %zd bytes before the header",
			            start);
			msg = mime_construct(&c, (const char *)raw + start,
			                     len - start);
		}
	}
	if (msg == NULL) {
		mime_defect(&c, "not a mail: no header block");
		m->unparsed = true;
		goto out;
	}
	mime_headers(&c);
	mime_envelope(&c, msg);
	body = g_mime_message_get_mime_part(msg);
	if (body == NULL) {
		m->content_type = g_strdup("text/plain");
		goto out;
	}
	m->content_type = mime_type_of(body);
	mime_top(&c, body);
	mime_open_parts(&c);
	mime_bodies(&c);
	mime_attachments(&c);
	mime_report(&c);
out:
	if (c.defects_dropped > 0)
		g_ptr_array_add(m->defects,
		                g_strdup_printf("%zu more defects not listed",
		                                c.defects_dropped));
	if (m->content_type == NULL)
		m->content_type = g_strdup("text/plain");
	m->text_new = quote_split(m->text);
	if (msg != NULL)
		g_object_unref(msg);
	mime_ctx_free(&c);
	return m;
}

const char *
mime_header(const struct mime_msg *m, const char *name)
{
	if (m == NULL || name == NULL)
		return NULL;
	for (guint i = 0; i < m->headers->len; i++) {
		const struct mime_header *h = g_ptr_array_index(m->headers, i);

		if (g_ascii_strcasecmp(h->name, name) == 0)
			return h->value;
	}
	return NULL;
}

const struct mime_addr *
mime_first_from(const struct mime_msg *m)
{
	if (m == NULL || m->from->len == 0)
		return NULL;
	return g_ptr_array_index(m->from, 0);
}

char *
mime_quote_split(const char *text)
{
	return quote_split(text);
}

char *
mime_html_to_text(const char *html, size_t len)
{
	return html_to_text(html, len);
}

/*
 * Building mails
 */

/* mime_safe_value - a header value on one line (no header injection). */
static char *
mime_safe_value(const char *v)
{
	char *s = mime_str(v, strlen(v));

	for (char *p = s; *p != '\0'; p++)
		if (*p == '\r' || *p == '\n')
			*p = ' ';
	return s;
}

static bool
mime_safe_name(const char *n)
{
	if (n == NULL || n[0] == '\0')
		return false;
	for (const char *p = n; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
		    *p == ':')
			return false;
	return true;
}

/*
 * mime_build writes the wire form itself rather than through a
 * GMimeMessage: the object graph, its header lists and its stream
 * serialisation were a sixth of tickd's CPU per new ticket (perf, the
 * acknowledgement).  GMime still does every encoding: RFC 2047 words,
 * address lists, folding, quoted-printable and base64.
 */

/* mime_out_lines - s (LF line ends, no CR) to out with CRLF line ends. */
static void
mime_out_lines(GString *out, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\n')
			g_string_append_c(out, '\r');
		g_string_append_c(out, s[i]);
	}
}

/* mime_out_field - "name: value", value 7-bit already (encoded words),
 * folded by GMime's rules for unstructured fields (never an id: its
 * structured fold would cut a long one). */
static void
mime_out_field(GString *out, const char *name, const char *value)
{
	char *h = g_strconcat(name, ": ", value, NULL);
	char *f = g_mime_utils_unstructured_header_fold(NULL, NULL, h);

	mime_out_lines(out, f, strlen(f));
	g_free(f);
	g_free(h);
}

/* mime_out_text_field - an unstructured field from UTF-8 text: on one
 * line (no header injection), RFC 2047 words where it is not ASCII. */
static void
mime_out_text_field(GString *out, const char *name, const char *text)
{
	char *v = mime_safe_value(text);
	char *enc = g_mime_utils_header_encode_text(NULL, v, "utf-8");

	mime_out_field(out, name, enc);
	g_free(enc);
	g_free(v);
}

/* mime_out_mailbox - an address field of one mailbox (GMime quotes or
 * encodes the name as needed). */
static void
mime_out_mailbox(GString *out, GMimeFormatOptions *fo, const char *field,
                 const char *name, const char *addr)
{
	InternetAddressList *l = internet_address_list_new();
	char *n = name != NULL ? mime_safe_value(name) : NULL;
	char *a = mime_safe_value(addr);
	InternetAddress *ia = internet_address_mailbox_new(n, a);

	internet_address_list_add(l, ia);
	g_object_unref(ia);
	g_free(a);
	g_free(n);
	g_string_append(out, field);
	g_string_append(out, ": ");
	internet_address_list_encode(l, fo, out); /* (ends with CRLF) */
	g_object_unref(l);
}

/* mime_out_references - References as <id> <id>, from a blank-separated
 * list; empty ids are dropped so a stray blank makes no "<>".  Folded
 * between ids only: a fold inside one would change it. */
static void
mime_out_references(GString *out, const char *references)
{
	char *v = mime_safe_value(references);
	char **ids = g_strsplit_set(v, " \t", -1);
	size_t line = strlen("References:"), n = 0;

	for (char **id = ids; *id != NULL; id++) {
		size_t len = strlen(*id) + 2;

		if (**id == '\0')
			continue;
		if (n++ == 0)
			g_string_append(out, "References:");
		if (n > 1 && line + 1 + len > 78) {
			g_string_append(out, "\r\n");
			line = 0;
		}
		g_string_append_printf(out, " <%s>", *id);
		line += 1 + len;
	}
	if (n > 0)
		g_string_append(out, "\r\n");
	g_strfreev(ids);
	g_free(v);
}

/* mime_out_extra - the caller's name/value pairs; a name that is not a
 * header field name is skipped rather than let it inject a header. */
static void
mime_out_extra(GString *out, const char *const *extra)
{
	for (size_t i = 0;
	     extra != NULL && extra[i] != NULL && extra[i + 1] != NULL; i += 2)
		if (mime_safe_name(extra[i]))
			mime_out_text_field(out, extra[i], extra[i + 1]);
}

/* mime_out_encoding - the transfer encoding of LF text under a 7-bit
 * constraint, by GMime's rule: 7bit when it is ASCII in lines of at most
 * 998 octets, else quoted-printable, or base64 when over 17% is 8-bit. */
static GMimeContentEncoding
mime_out_encoding(const char *s, size_t len)
{
	size_t high = 0, line = 0, longest = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\n') {
			line = 0;
			continue;
		}
		if ((unsigned char)s[i] >= 0x80)
			high++;
		longest = MAX(longest, ++line);
	}
	if (high == 0 && longest <= 998)
		return GMIME_CONTENT_ENCODING_7BIT;
	if (high > len * 17 / 100)
		return GMIME_CONTENT_ENCODING_BASE64;
	return GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE;
}

/* mime_out_part - a text/subtype part in UTF-8 (its header and body, no
 * delimiter); never 7bit when the text holds the multipart boundary. */
static void
mime_out_part(GString *out, const char *subtype, const char *text,
              const char *boundary)
{
	char *lf = mime_str(text, strlen(text));
	size_t len = mime_newlines(lf, strlen(lf));
	GMimeContentEncoding enc = mime_out_encoding(lf, len);
	GMimeEncoding st;
	char *buf;
	size_t n;

	if (enc == GMIME_CONTENT_ENCODING_7BIT && boundary != NULL &&
	    strstr(lf, boundary) != NULL)
		enc = GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE; /* '=' is =3D */
	g_string_append_printf(out, "Content-Type: text/%s; charset=utf-8\r\n",
	                       subtype);
	if (enc != GMIME_CONTENT_ENCODING_7BIT) /* (7bit: the default) */
		g_string_append_printf(out, "Content-Transfer-Encoding: %s\r\n",
		                       g_mime_content_encoding_to_string(enc));
	g_string_append(out, "\r\n");
	if (enc == GMIME_CONTENT_ENCODING_7BIT) {
		mime_out_lines(out, lf, len);
	} else {
		if (enc == GMIME_CONTENT_ENCODING_BASE64) {
			/* base64 of a text keeps its canonical CRLF (RFC
			 * 2045 6.8) */
			GString *crlf = g_string_sized_new(len + len / 16 + 2);

			mime_out_lines(crlf, lf, len);
			g_free(lf);
			len = crlf->len;
			lf = g_string_free(crlf, FALSE);
		}
		g_mime_encoding_init_encode(&st, enc);
		buf = g_malloc(g_mime_encoding_outlen(&st, len) + 1);
		n = g_mime_encoding_flush(&st, lf, len, buf);
		/* the encoder's line ends are LF; the wire's CRLF */
		mime_out_lines(out, buf, n);
		if (n > 0 && buf[n - 1] != '\n')
			g_string_append(out, "\r\n");
		g_free(buf);
	}
	g_free(lf);
}

GBytes *
mime_build(const struct mime_out *o)
{
	GMimeFormatOptions *fo;
	GDateTime *dt;
	GString *out;
	char *v, *boundary = NULL;

	if (o == NULL || o->text == NULL)
		return NULL;
	fo = g_mime_format_options_new();
	g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_DOS);
	out = g_string_sized_new(1024 + strlen(o->text) * 2);
	if (o->from_addr != NULL)
		mime_out_mailbox(out, fo, "From", o->from_name, o->from_addr);
	if (o->to_addr != NULL)
		mime_out_mailbox(out, fo, "To", o->to_name, o->to_addr);
	if (o->subject != NULL)
		mime_out_text_field(out, "Subject", o->subject);
	dt = o->date != 0 ? g_date_time_new_from_unix_utc(o->date)
	                  : g_date_time_new_now_utc();
	v = g_mime_utils_header_format_date(dt);
	g_string_append_printf(out, "Date: %s\r\n", v);
	g_free(v);
	g_date_time_unref(dt);
	if (o->message_id != NULL) {
		v = mime_safe_value(o->message_id);
		g_string_append_printf(out, "Message-Id: <%s>\r\n", v);
		g_free(v);
	}
	/* ids are never folded: GMime's structured fold cuts a long one */
	if (o->in_reply_to != NULL) {
		v = mime_safe_value(o->in_reply_to);
		g_string_append_printf(out, "In-Reply-To: <%s>\r\n", v);
		g_free(v);
	}
	if (o->references != NULL)
		mime_out_references(out, o->references);
	mime_out_extra(out, o->extra);
	g_string_append(out, "MIME-Version: 1.0\r\n");
	if (o->html == NULL) {
		mime_out_part(out, "plain", o->text, NULL);
		if (!g_str_has_suffix(out->str, "\r\n"))
			g_string_append(out, "\r\n"); /* as GMime ended it */
	} else {
		/* '=' opens it: never in quoted-printable or base64 text */
		boundary =
		    g_strdup_printf("=_tickd_%08x%08x%08x", g_random_int(),
		                    g_random_int(), g_random_int());
		g_string_append_printf(
		    out,
		    "Content-Type: multipart/alternative; boundary=\"%s\"\r\n"
		    "\r\n--%s\r\n",
		    boundary, boundary);
		mime_out_part(out, "plain", o->text, boundary);
		g_string_append_printf(out, "\r\n--%s\r\n", boundary);
		mime_out_part(out, "html", o->html, boundary);
		g_string_append_printf(out, "\r\n--%s--\r\n", boundary);
		g_free(boundary);
	}
	g_mime_format_options_free(fo);
	return g_string_free_to_bytes(out);
}
