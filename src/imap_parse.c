/*
 * imap_parse.c - IMAP response syntax (RFC 3501 section 9) over a cursor.
 * See imap_parse.h for the contract.  Nothing here reads a socket: the
 * bytes after a literal come from the caller's struct imap_parse_src.
 */
#include "imap_parse.h"

#include "log.h"

#include <stdlib.h>
#include <string.h>

void
imap_cur_init(struct imap_cur *k, const char *s, size_t len, size_t p,
              const struct imap_parse_src *src, char *err, size_t errlen)
{
	*k = (struct imap_cur){s, len, p, src, err, errlen};
}

int
imap_parse_bad(const struct imap_cur *k, const char *what)
{
	char q[96];

	if (k->err && k->errlen > 0)
		g_snprintf(k->err, k->errlen, "%s at '%s'", what,
		           log_quote(k->s + MIN(k->p, k->len), q, sizeof(q)));
	return -EPROTO;
}

int
imap_parse_peek(const struct imap_cur *k)
{
	return k->p < k->len ? (unsigned char)k->s[k->p] : -1;
}

int
imap_parse_getc(struct imap_cur *k)
{
	return k->p < k->len ? (unsigned char)k->s[k->p++] : -1;
}

int
imap_parse_u64(struct imap_cur *k, uint64_t *v_r)
{
	uint64_t v = 0;
	size_t start = k->p;

	while (k->p < k->len && g_ascii_isdigit(k->s[k->p])) {
		unsigned int d = (unsigned int)(k->s[k->p] - '0');

		if (v > (UINT64_MAX - d) / 10)
			return imap_parse_bad(k, "number too large");
		v = v * 10 + d;
		k->p++;
	}
	if (k->p == start)
		return imap_parse_bad(k, "number expected");
	*v_r = v;
	return 0;
}

int
imap_parse_u32(struct imap_cur *k, uint32_t *v_r)
{
	uint64_t v;
	int r = imap_parse_u64(k, &v);

	if (r < 0)
		return r;
	if (v > UINT32_MAX)
		return imap_parse_bad(k, "number over 32 bits");
	*v_r = (uint32_t)v;
	return 0;
}

void
imap_parse_word(struct imap_cur *k, char *buf, size_t size)
{
	size_t n = 0;
	bool toolong = false;

	while (k->p < k->len && g_ascii_isalpha(k->s[k->p])) {
		if (n + 1 < size)
			buf[n++] = k->s[k->p];
		else
			toolong = true;
		k->p++;
	}
	buf[toolong ? 0 : n] = '\0';
}

int
imap_parse_name(struct imap_cur *k, char *buf, size_t size)
{
	size_t n = 0;
	bool br = false;

	while (k->p < k->len) {
		char ch = k->s[k->p];

		if (!br && (ch == ' ' || ch == '(' || ch == ')'))
			break;
		if (ch == '[')
			br = true;
		else if (ch == ']')
			br = false;
		if (n + 1 >= size)
			return imap_parse_bad(k, "item name too long");
		buf[n++] = ch;
		k->p++;
	}
	buf[n] = '\0';
	if (n == 0 || br)
		return imap_parse_bad(k, "item name expected");
	return 0;
}

bool
imap_parse_line_literal(const char *s, size_t len, uint64_t *n_r)
{
	size_t i;
	uint64_t n = 0;

	if (len < 3 || s[len - 1] != '}')
		return false;
	i = len - 1;
	while (i > 0 && g_ascii_isdigit(s[i - 1]))
		i--;
	if (i == 0 || s[i - 1] != '{' || i == len - 1 || len - 1 - i > 18)
		return false;
	for (; i < len - 1; i++)
		n = n * 10 + (uint64_t)(s[i] - '0');
	*n_r = n;
	return true;
}

/* next_line - after a literal, the line that continues the response. */
static int
next_line(struct imap_cur *k)
{
	const char *s = NULL;
	size_t len = 0;
	int r;

	if (!k->src)
		return imap_parse_bad(k, "literal where none can be read");
	r = k->src->line(k->src->ctx, &s, &len);
	if (r < 0)
		return r;
	k->s = s;
	k->len = len;
	k->p = 0;
	return 0;
}

/* literal - "{n}" at k, which must end the line. */
static int
literal(struct imap_cur *k, uint64_t *n_r)
{
	uint64_t n;
	int r;

	if (imap_parse_getc(k) != '{')
		return imap_parse_bad(k, "literal expected");
	r = imap_parse_u64(k, &n);
	if (r < 0)
		return r;
	if (imap_parse_getc(k) != '}' || k->p != k->len)
		return imap_parse_bad(k, "bad literal");
	if (!k->src)
		return imap_parse_bad(k, "literal where none can be read");
	*n_r = n;
	return 0;
}

/* read_literal - n bytes into dst (NULL: drained), then the next line. */
static int
read_literal(struct imap_cur *k, uint64_t n, GByteArray *dst)
{
	int r = k->src->literal(k->src->ctx, n, dst);

	if (r < 0)
		return r;
	return next_line(k);
}

/* quoted - a quoted string; unescaped into dst when dst is set. */
static int
quoted(struct imap_cur *k, GByteArray *dst)
{
	k->p++; /* the opening quote */
	for (;;) {
		int ch = imap_parse_getc(k);

		if (ch < 0)
			return imap_parse_bad(k, "unterminated string");
		if (ch == '"')
			return 0;
		if (ch == '\\' && (ch = imap_parse_getc(k)) < 0)
			return imap_parse_bad(k, "unterminated string");
		if (dst) {
			guint8 b = (guint8)ch;

			g_byte_array_append(dst, &b, 1);
		}
	}
}

/* skip - one value of any shape; small literals are drained. */
static int
skip(struct imap_cur *k, int depth)
{
	uint64_t n;
	int r, ch;

	if (depth > IMAP_PARSE_MAX_DEPTH)
		return imap_parse_bad(k, "lists nested too deep");
	switch (imap_parse_peek(k)) {
	case '(':
		k->p++;
		if (imap_parse_peek(k) == ')') {
			k->p++;
			return 0;
		}
		for (;;) {
			r = skip(k, depth + 1);
			if (r < 0)
				return r;
			ch = imap_parse_getc(k);
			if (ch == ')')
				return 0;
			if (ch != ' ')
				return imap_parse_bad(k, "bad list");
		}
	case '"':
		return quoted(k, NULL);
	case '{':
		r = literal(k, &n);
		if (r < 0)
			return r;
		if (n > IMAP_PARSE_MAX_SMALL_LIT)
			return imap_parse_bad(k, "unexpected large literal");
		return read_literal(k, n, NULL);
	case -1:
	case ' ':
	case ')':
		return imap_parse_bad(k, "value expected");
	default:
		while (k->p < k->len && !strchr(" ()", k->s[k->p]))
			k->p++;
		return 0;
	}
}

int
imap_parse_skip(struct imap_cur *k)
{
	return skip(k, 0);
}

int
imap_parse_skip_rest(struct imap_cur *k)
{
	uint64_t n;
	int r;

	while (imap_parse_line_literal(k->s, k->len, &n)) {
		if (n > IMAP_PARSE_MAX_SMALL_LIT)
			return imap_parse_bad(k, "unexpected large literal");
		if (!k->src)
			return imap_parse_bad(k, "literal where none can be "
			                         "read");
		r = read_literal(k, n, NULL);
		if (r < 0)
			return r;
	}
	return 0;
}

/* flags - "(\Seen \Answered ...)": only \Seen matters here. */
static int
flags(struct imap_cur *k, struct imap_fetch_item *it)
{
	if (imap_parse_getc(k) != '(')
		return imap_parse_bad(k, "flag list expected");
	while (imap_parse_peek(k) != ')') {
		size_t start = k->p;

		while (k->p < k->len && !strchr(" ()", k->s[k->p]))
			k->p++;
		if (k->p == start)
			return imap_parse_bad(k, "bad flag list");
		if (k->p - start == 5 &&
		    g_ascii_strncasecmp(k->s + start, "\\Seen", 5) == 0)
			it->seen = true;
		if (imap_parse_peek(k) == ' ')
			k->p++;
	}
	k->p++;
	return 0;
}

static bool
is_body(const char *name)
{
	return g_ascii_strcasecmp(name, "BODY[]") == 0 ||
	       g_ascii_strncasecmp(name, "BODY[]<", 7) == 0;
}

/* body - the value of BODY[]: into body when it fits in cap; a bigger
 * literal is left unread (IMAP_PARSE_BIG).  body NULL: drain a small
 * one, refuse a large one (we did not ask for it). */
static int
body(struct imap_cur *k, struct imap_fetch_item *it, GByteArray *dst,
     size_t cap)
{
	uint64_t n;
	int r;

	switch (imap_parse_peek(k)) {
	case '{':
		r = literal(k, &n);
		if (r < 0)
			return r;
		if (!dst && n > IMAP_PARSE_MAX_SMALL_LIT)
			return imap_parse_bad(k, "unrequested BODY[] literal");
		if (dst && n > cap) {
			/* Never allocate or read what the wire announces
			 * beyond the cap: leave it, the caller drops the
			 * connection. */
			it->body_big = true;
			it->body_len = n;
			return IMAP_PARSE_BIG;
		}
		return read_literal(k, n, dst);
	case '"':
		r = quoted(k, dst);
		if (r < 0)
			return r;
		if (dst && dst->len > cap) {
			it->body_big = true;
			it->body_len = dst->len;
			return IMAP_PARSE_BIG;
		}
		return 0;
	default:
		if (k->len - k->p >= 3 &&
		    g_ascii_strncasecmp(k->s + k->p, "NIL", 3) == 0) {
			k->p += 3;
			it->body_nil = true;
			return 0;
		}
		return imap_parse_bad(k, "bad BODY[] value");
	}
}

int
imap_parse_fetch(struct imap_cur *k, struct imap_fetch_item *it,
                 GByteArray *dst, size_t cap)
{
	char name[128];
	int r, ch;

	memset(it, 0, sizeof(*it));
	if (imap_parse_getc(k) != '(')
		return imap_parse_bad(k, "FETCH without '('");
	for (bool first = true;; first = false) {
		if (first && imap_parse_peek(k) == ')') { /* "()" */
			k->p++;
			break;
		}
		r = imap_parse_name(k, name, sizeof(name));
		if (r < 0)
			return r;
		if (imap_parse_getc(k) != ' ')
			return imap_parse_bad(k, "FETCH item without value");
		if (g_ascii_strcasecmp(name, "UID") == 0) {
			r = imap_parse_u32(k, &it->uid);
			if (r == 0 && it->uid == 0)
				r = imap_parse_bad(k, "UID 0");
			it->has_uid = true;
		} else if (g_ascii_strcasecmp(name, "RFC822.SIZE") == 0) {
			r = imap_parse_u64(k, &it->size);
			it->has_size = true;
		} else if (is_body(name)) {
			if (it->has_body)
				return imap_parse_bad(k, "BODY[] twice");
			it->has_body = true;
			r = body(k, it, dst, cap);
			if (r == IMAP_PARSE_BIG)
				return r;
		} else if (g_ascii_strcasecmp(name, "FLAGS") == 0) {
			r = flags(k, it);
		} else {
			r = skip(k, 0);
		}
		if (r < 0)
			return r;
		ch = imap_parse_getc(k);
		if (ch == ')')
			break;
		if (ch != ' ')
			return imap_parse_bad(k, "junk between FETCH items");
	}
	if (k->p != k->len)
		return imap_parse_bad(k, "junk after FETCH");
	return 0;
}

int
imap_parse_untagged(struct imap_cur *k)
{
	char word[32];
	uint32_t num;
	int r;

	if (g_ascii_isdigit(imap_parse_peek(k))) {
		r = imap_parse_u32(k, &num);
		if (r < 0)
			return r;
		if (imap_parse_getc(k) != ' ')
			return imap_parse_bad(k, "bad untagged response");
		imap_parse_word(k, word, sizeof(word));
		if (g_ascii_strcasecmp(word, "FETCH") == 0)
			return IMAP_UNTAGGED_FETCH;
		if (g_ascii_strcasecmp(word, "EXISTS") == 0 ||
		    g_ascii_strcasecmp(word, "RECENT") == 0 ||
		    g_ascii_strcasecmp(word, "EXPUNGE") == 0)
			return IMAP_UNTAGGED_CHANGE;
		return IMAP_UNTAGGED_OTHER;
	}
	imap_parse_word(k, word, sizeof(word));
	if (g_ascii_strcasecmp(word, "OK") == 0)
		return IMAP_UNTAGGED_OK;
	if (g_ascii_strcasecmp(word, "NO") == 0 ||
	    g_ascii_strcasecmp(word, "BAD") == 0 ||
	    g_ascii_strcasecmp(word, "PREAUTH") == 0)
		return IMAP_UNTAGGED_REFUSAL;
	if (g_ascii_strcasecmp(word, "BYE") == 0)
		return IMAP_UNTAGGED_BYE;
	if (g_ascii_strcasecmp(word, "CAPABILITY") == 0)
		return IMAP_UNTAGGED_CAPABILITY;
	return IMAP_UNTAGGED_OTHER;
}

/* ok_code_u32 - the response code " [<code> n]" (code with its brackets
 * and spaces, e.g. " [UIDNEXT ") after "* OK", if it is there. */
static int
ok_code_u32(struct imap_cur *k, const char *code, uint32_t *v_r)
{
	size_t n = strlen(code);

	if (k->len - MIN(k->p, k->len) < n ||
	    g_ascii_strncasecmp(k->s + k->p, code, n) != 0)
		return 0;
	k->p += n;
	return imap_parse_u32(k, v_r);
}

int
imap_parse_uidvalidity(struct imap_cur *k, uint32_t *v_r)
{
	return ok_code_u32(k, " [UIDVALIDITY ", v_r);
}

int
imap_parse_uidnext(struct imap_cur *k, uint32_t *v_r)
{
	return ok_code_u32(k, " [UIDNEXT ", v_r);
}

/* permflag_char - may c be part of a flag name?  RFC 3501 atom-char
 * minus the list and code delimiters; a backslash only leads a system flag. */
static bool
permflag_char(int c)
{
	return c > 0x20 && c < 0x7f && !strchr("(){%*\"\\]", c);
}

int
imap_parse_permflags(struct imap_cur *k, char *flags, size_t size,
                     bool *found_r)
{
	size_t o = 0;

	if (size < 2)
		return -EINVAL;
	if (k->len - MIN(k->p, k->len) < 18 ||
	    g_ascii_strncasecmp(k->s + k->p, " [PERMANENTFLAGS (", 18) != 0)
		return 0;
	k->p += 18;
	flags[o++] = ' ';
	for (;;) {
		size_t start = k->p, n;
		int c = imap_parse_peek(k);

		if (c == ')')
			break;
		if (c == '\\')
			k->p++;
		if (imap_parse_peek(k) == '*' && c == '\\')
			k->p++; /* "\*": new keywords may be created */
		else
			while (permflag_char(imap_parse_peek(k)))
				k->p++;
		n = k->p - start;
		if (n == 0 || (n == 1 && c == '\\'))
			return imap_parse_bad(k, "bad PERMANENTFLAGS");
		/* a list longer than flags is cut at a name: what is cut
		 * off reads as "not permitted", the safe side */
		if (o + n + 2 < size) {
			for (size_t i = start; i < k->p; i++)
				flags[o++] = g_ascii_toupper(k->s[i]);
			flags[o++] = ' ';
		}
		c = imap_parse_peek(k);
		if (c == ' ')
			k->p++;
		else if (c != ')')
			return imap_parse_bad(k, "bad PERMANENTFLAGS");
	}
	k->p++;
	if (imap_parse_getc(k) != ']')
		return imap_parse_bad(k, "PERMANENTFLAGS without ']'");
	flags[o] = '\0';
	*found_r = true;
	return 0;
}

bool
imap_parse_has_flag(const char *flags, const char *flag)
{
	char want[IMAP_PARSE_MAX_FLAG + 3];
	size_t n = strlen(flag);

	if (n == 0 || n > IMAP_PARSE_MAX_FLAG)
		return false;
	want[0] = ' ';
	for (size_t i = 0; i < n; i++)
		want[i + 1] = g_ascii_toupper(flag[i]);
	want[n + 1] = ' ';
	want[n + 2] = '\0';
	return strstr(flags, want) != NULL;
}

void
imap_parse_caps(const char *s, char *caps, size_t size)
{
	size_t o = 0;

	if (size < 2) {
		if (size)
			caps[0] = '\0';
		return;
	}
	caps[o++] = ' ';
	while (*s && *s != ']') {
		const char *e;

		while (*s == ' ')
			s++;
		for (e = s; *e && *e != ' ' && *e != ']'; e++)
			;
		if (e == s || o + (size_t)(e - s) + 2 >= size)
			break;
		for (; s < e; s++)
			caps[o++] = g_ascii_toupper(*s);
		caps[o++] = ' ';
	}
	caps[o] = '\0';
}

bool
imap_parse_has_cap(const char *caps, const char *cap)
{
	char want[64];

	g_snprintf(want, sizeof(want), " %s ", cap);
	return strstr(caps, want) != NULL;
}

int
imap_parse_tagged_err(const char *text)
{
	static const struct {
		const char *code;
		int r;
	} codes[] = {
	    {"[NONEXISTENT]", -ENOENT},
	    {"[TRYCREATE]", -ENOENT},
	    {"[AUTHENTICATIONFAILED]", -EACCES},
	    {"[AUTHORIZATIONFAILED]", -EACCES},
	    {"[NOPERM]", -EACCES},
	    {"[UNAVAILABLE]", -EAGAIN},
	    {"[INUSE]", -EAGAIN},
	    {"[SERVERBUG]", -EAGAIN},
	    {"[LIMIT]", -EAGAIN},
	    {"[OVERQUOTA]", -EAGAIN},
	    {"[EXPUNGEISSUED]", -EAGAIN},
	};
	const char *sp = strchr(text, ' ');
	const char *verb = sp ? sp + 1 : text;

	for (size_t i = 0; i < ARRAY_SIZE(codes); i++)
		if (strstr(text, codes[i].code))
			return codes[i].r;
	/* Dovecot 2.3 answers STATUS/SELECT of a missing mailbox with a
	 * bare "NO Mailbox doesn't exist: X", without [NONEXISTENT] */
	if (g_ascii_strncasecmp(verb, "NO ", 3) == 0 &&
	    (strstr(text, "doesn't exist") || strstr(text, "does not exist")))
		return -ENOENT;
	/* BAD: we sent something the server does not understand, and
	 * sending it again will not help.  A plain NO may pass. */
	if (g_ascii_strncasecmp(verb, "BAD", 3) == 0)
		return -EPROTO;
	return -EIO;
}

int
imap_parse_tagged(const char *line, const char *tag)
{
	size_t taglen = strlen(tag);
	const char *t;

	if (taglen == 0 || strncmp(line, tag, taglen) != 0 ||
	    line[taglen] != ' ')
		return 0;
	t = line + taglen + 1;
	if (g_ascii_strncasecmp(t, "OK", 2) == 0 &&
	    (t[2] == ' ' || t[2] == '\0'))
		return 1;
	/* a NO/BAD leaves the connection usable */
	return imap_parse_tagged_err(line);
}

char *
imap_parse_reply_next(GByteArray *reply, size_t *pos, size_t *len_r, int *r,
                      char *err, size_t errlen)
{
	char *s, *nl;
	size_t len;

	*r = 0;
	if (*pos >= reply->len)
		return NULL;
	s = (char *)reply->data + *pos;
	nl = memchr(s, '\n', reply->len - *pos);
	if (!nl) /* the transport ends every reply with '\n' */
		return NULL;
	len = (size_t)(nl - s);
	*pos += len + 1;
	*nl = '\0';
	if (len > 0 && s[len - 1] == '\r')
		s[--len] = '\0';
	if (strlen(s) != len) {
		g_strlcpy(err, "NUL byte in a reply line", errlen);
		*r = -EPROTO;
		return NULL;
	}
	*len_r = len;
	return s;
}

int
imap_parse_sync_failed(GByteArray *reply, char *err, size_t errlen)
{
	size_t pos = 0, len;
	char *l;
	int r;

	while (
	    (l = imap_parse_reply_next(reply, &pos, &len, &r, err, errlen))) {
		if (len >= 4 && g_ascii_strncasecmp(l, "* NO", 4) == 0 &&
		    (l[4] == '\0' || l[4] == ' ') &&
		    g_ascii_strncasecmp(l + 4, " [ALERT]", 8) != 0)
			return 1;
	}
	return r;
}

/* status_list - the "(NAME n ...)" of one STATUS line, o at its '('. */
static int
status_list(struct imap_cur *k, struct imap_parse_status *st, bool got[3])
{
	int r;

	while (imap_parse_peek(k) != ')') {
		char name[32];
		uint64_t v = 0;

		r = imap_parse_name(k, name, sizeof(name));
		if (r == 0 && imap_parse_getc(k) != ' ')
			r = imap_parse_bad(k, "bad STATUS");
		if (r == 0)
			r = imap_parse_u64(k, &v);
		if (r < 0)
			return r;
		if (v > UINT32_MAX)
			v = 0; /* makes the caller's check fail */
		if (g_ascii_strcasecmp(name, "UIDVALIDITY") == 0)
			st->uidvalidity = (uint32_t)v, got[0] = true;
		else if (g_ascii_strcasecmp(name, "UIDNEXT") == 0)
			st->uidnext = (uint32_t)v, got[1] = true;
		else if (g_ascii_strcasecmp(name, "MESSAGES") == 0)
			st->messages = (uint32_t)v, got[2] = true;
		if (imap_parse_peek(k) == ' ')
			k->p++;
		else if (imap_parse_peek(k) != ')')
			return imap_parse_bad(k, "bad STATUS");
	}
	return 0;
}

int
imap_parse_status_reply(GByteArray *reply, struct imap_parse_status *st_r,
                        char *err, size_t errlen)
{
	struct imap_parse_status st = {0};
	bool got[3] = {false, false, false};
	size_t pos = 0, len;
	char *l;
	int r;

	while (
	    (l = imap_parse_reply_next(reply, &pos, &len, &r, err, errlen))) {
		/* the name may contain '(' too: the list is the last one */
		const char *o = strrchr(l, '(');
		struct imap_cur k;

		if (g_ascii_strncasecmp(l, "* STATUS ", 9) != 0 || !o)
			continue;
		imap_cur_init(&k, o, strlen(o), 1, NULL, err, errlen);
		r = status_list(&k, &st, got);
		if (r < 0)
			return r;
	}
	if (r < 0)
		return r;
	if (!got[0] || !got[1] || !got[2] || st.uidvalidity == 0 ||
	    st.uidnext == 0) {
		g_strlcpy(err,
		          "STATUS reply without UIDVALIDITY, UIDNEXT and "
		          "MESSAGES",
		          errlen);
		return -EPROTO;
	}
	*st_r = st;
	return 0;
}

int
imap_parse_cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int
imap_parse_search_reply(GByteArray *reply, uint32_t lo, uint32_t hi, size_t max,
                        GArray *found, char *err, size_t errlen)
{
	size_t pos = 0, len, start = found->len;
	char *l;
	int r;

	while (
	    (l = imap_parse_reply_next(reply, &pos, &len, &r, err, errlen))) {
		struct imap_cur k;

		if (g_ascii_strncasecmp(l, "* SEARCH", 8) != 0 ||
		    (len > 8 && l[8] != ' '))
			continue; /* unsolicited EXISTS and the like */
		imap_cur_init(&k, l, len, 8, NULL, err, errlen);
		while (imap_parse_getc(&k) == ' ') {
			uint32_t u;

			/* "(MODSEQ n)", or a trailing space */
			if (imap_parse_peek(&k) == '(' ||
			    imap_parse_peek(&k) < 0)
				break;
			r = imap_parse_u32(&k, &u);
			if (r < 0)
				return r;
			/* "n:*" always matches the highest UID, and a
			 * sloppy server may answer outside the window */
			if (u < lo || u > hi)
				continue;
			if (found->len - start >= max) {
				g_strlcpy(err,
				          "more SEARCH results than messages",
				          errlen);
				return -EPROTO;
			}
			g_array_append_val(found, u);
		}
	}
	if (r < 0)
		return r;
	/* RFC 3501 does not promise order.  An array nothing was ever
	 * appended to has data NULL, and NULL + 0 is undefined. */
	if (found->len > start)
		qsort(found->data + start * sizeof(uint32_t),
		      found->len - start, sizeof(uint32_t), imap_parse_cmp_u32);
	return 0;
}

int
imap_parse_fetch_reply(GByteArray *reply, uint32_t uid,
                       struct imap_fetch_item *it_r, char *err, size_t errlen)
{
	size_t pos = 0, len;
	char *l;
	int r;

	while (
	    (l = imap_parse_reply_next(reply, &pos, &len, &r, err, errlen))) {
		struct imap_cur k;
		struct imap_fetch_item it;
		uint32_t seq;
		char word[16];

		if (l[0] != '*' || l[1] != ' ' || !g_ascii_isdigit(l[2]))
			continue;
		imap_cur_init(&k, l, len, 2, NULL, err, errlen);
		r = imap_parse_u32(&k, &seq);
		if (r < 0 || imap_parse_getc(&k) != ' ')
			continue;
		imap_parse_word(&k, word, sizeof(word));
		if (g_ascii_strcasecmp(word, "FETCH") != 0 ||
		    imap_parse_getc(&k) != ' ')
			continue;
		r = imap_parse_fetch(&k, &it, NULL, 0);
		if (r < 0)
			return r;
		if (it.has_uid && it.uid == uid) {
			*it_r = it;
			return 0;
		}
	}
	if (r < 0)
		return r;
	g_snprintf(err, errlen, "no message with UID %u", uid);
	return -ENOENT;
}

int
imap_parse_caps_reply(GByteArray *reply, char *caps, size_t size, char *err,
                      size_t errlen)
{
	size_t pos = 0, len;
	char *l;
	int r, found = 0;

	while ((l = imap_parse_reply_next(reply, &pos, &len, &r, err, errlen)))
		if (g_ascii_strncasecmp(l, "* CAPABILITY ", 13) == 0) {
			imap_parse_caps(l + 13, caps, size);
			found = 1;
		}
	return r < 0 ? r : found;
}

/* mem_literal - the source's literal: n bytes of the buffer. */
static int
mem_literal(void *ctx, uint64_t n, GByteArray *dst)
{
	struct imap_parse_mem *m = ctx;

	if (n > m->len - m->pos) {
		g_strlcpy(m->err, "literal cut short", m->errlen);
		m->pos = m->len;
		return -ECONNRESET;
	}
	if (dst)
		g_byte_array_append(dst, m->buf + m->pos, (guint)n);
	m->pos += (size_t)n;
	return 0;
}

static int
mem_line(void *ctx, const char **s_r, size_t *len_r)
{
	int r = imap_parse_mem_line(ctx, s_r, len_r);

	if (r == -ENODATA) {
		g_strlcpy(((struct imap_parse_mem *)ctx)->err,
		          "response cut short",
		          ((struct imap_parse_mem *)ctx)->errlen);
		return -ECONNRESET;
	}
	return r;
}

void
imap_parse_mem_init(struct imap_parse_mem *m, const void *buf, size_t len,
                    char *err, size_t errlen)
{
	*m = (struct imap_parse_mem){
	    .buf = buf, .len = len, .err = err, .errlen = errlen};
	m->src = (struct imap_parse_src){mem_literal, mem_line, m};
	m->line = g_string_new(NULL);
}

int
imap_parse_mem_line(struct imap_parse_mem *m, const char **s_r, size_t *len_r)
{
	const guint8 *s = m->buf + m->pos, *nl;
	size_t avail = m->len - m->pos, len;

	if (avail == 0)
		return -ENODATA;
	nl = memchr(s, '\n', avail);
	len = nl ? (size_t)(nl - s) : avail;
	m->pos += nl ? len + 1 : len;
	if (len > 0 && s[len - 1] == '\r')
		len--;
	if (len > IMAP_PARSE_MAX_LINE || memchr(s, '\0', len)) {
		g_strlcpy(m->err, "response line too long or with a NUL byte",
		          m->errlen);
		return -EPROTO;
	}
	g_string_truncate(m->line, 0);
	g_string_append_len(m->line, (const char *)s, (gssize)len);
	*s_r = m->line->str;
	*len_r = len;
	return 0;
}

void
imap_parse_mem_clear(struct imap_parse_mem *m)
{
	if (m->line)
		g_string_free(m->line, TRUE);
	m->line = NULL;
}
