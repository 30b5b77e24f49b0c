/*
 * thread.c - subject tags and signed Message-IDs.  See thread.h.
 */
#include "thread.h"

#include <string.h>

#define THREAD_MAC_HEX 20

gint64
thread_subject_ticket(const char *subject, const char *tag)
{
	size_t taglen = strlen(tag);

	if (subject == NULL || taglen == 0)
		return 0;
	for (const char *p = strchr(subject, '['); p; p = strchr(p + 1, '[')) {
		const char *q = p + 1;
		gint64 n = 0;
		int digits = 0;

		while (*q == ' ')
			q++;
		if (g_ascii_strncasecmp(q, tag, taglen) != 0)
			continue;
		q += taglen;
		while (*q == ' ')
			q++;
		if (*q++ != '#')
			continue;
		while (*q == ' ')
			q++;
		/* 15 digits keep N far from overflow and from bigint's end. */
		for (; g_ascii_isdigit(*q) && digits < 15; q++, digits++)
			n = n * 10 + (*q - '0');
		while (*q == ' ')
			q++;
		if (digits > 0 && *q == ']' && n > 0)
			return n;
	}
	return 0;
}

/* thread_prefix_len - length of one reply/forward prefix at s, or 0. */
static size_t
thread_prefix_len(const char *s)
{
	static const char *const prefixes[] = {
	    "re", "aw", "sv",   "vs",  "fwd", "fw",  "wg",
	    "tr", "rv", "antw", "odp", "ynt", "res",
	};
	for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++) {
		size_t n = strlen(prefixes[i]);
		const char *q = s + n;

		if (g_ascii_strncasecmp(s, prefixes[i], n) != 0)
			continue;
		/* "Re[2]:" and "Re(2):" as some clients count replies */
		if (*q == '[' || *q == '(') {
			char close = *q == '[' ? ']' : ')';
			q++;
			while (g_ascii_isdigit(*q))
				q++;
			if (*q++ != close)
				continue;
		}
		while (*q == ' ')
			q++;
		if (*q == ':' || (q[0] == '\xef' && q[1] == '\xbc' &&
		                  q[2] == '\x9a')) /* fullwidth colon */
			return (size_t)(q - s) + (*q == ':' ? 1 : 3);
	}
	return 0;
}

/* thread_tag_len - length of a leading "[tag #N]" at s, or 0.  Looks
 * only at the bracket itself: thread_subject_ticket would scan the whole
 * rest of the subject for every tag stripped (quadratic on a subject of
 * ten thousand tags). */
static size_t
thread_tag_len(const char *s, const char *tag)
{
	const char *end;
	g_autofree char *one = NULL;

	if (s[0] != '[' || tag == NULL || *tag == '\0' ||
	    g_ascii_strncasecmp(s + 1, tag, strlen(tag)) != 0 ||
	    (end = strchr(s, ']')) == NULL)
		return 0;
	one = g_strndup(s, (gsize)(end - s + 1));
	return thread_subject_ticket(one, tag) > 0 ? (size_t)(end - s + 1) : 0;
}

char *
thread_strip_subject(const char *subject, const char *tag)
{
	const char *p = subject ? subject : "", *e;
	size_t n;

	/* a cursor that only moves forward: linear in the subject */
	for (;;) {
		while (g_ascii_isspace(*p))
			p++;
		if ((n = thread_prefix_len(p)) > 0 ||
		    (n = thread_tag_len(p, tag)) > 0) {
			p += n;
			continue;
		}
		break;
	}
	e = p + strlen(p);
	while (e > p && g_ascii_isspace(e[-1]))
		e--;
	return g_strndup(p, (gsize)(e - p));
}

static char *
thread_mac(const unsigned char *secret, size_t secret_len, const char *data)
{
	GHmac *h = g_hmac_new(G_CHECKSUM_SHA256, secret, secret_len);
	char *hex;

	g_hmac_update(h, (const guchar *)data, (gssize)strlen(data));
	hex = g_strndup(g_hmac_get_string(h), THREAD_MAC_HEX);
	g_hmac_unref(h);
	return hex;
}

char *
thread_make_msgid(const unsigned char *secret, size_t secret_len, gint64 ticket,
                  const char *kind, const char *domain)
{
	char nonce[17];
	g_autofree char *signed_part = NULL;
	g_autofree char *mac = NULL;

	/* The nonce keeps ids unique; it need not be secret, the MAC is. */
	g_snprintf(nonce, sizeof(nonce), "%08x%08x", g_random_int(),
	           g_random_int());
	signed_part =
	    g_strdup_printf("%" G_GINT64_FORMAT ".%s.%s", ticket, kind, nonce);
	mac = thread_mac(secret, secret_len, signed_part);
	return g_strdup_printf("tickd.%s.%s@%s", signed_part, mac, domain);
}

gint64
thread_msgid_ticket(const unsigned char *secret, size_t secret_len,
                    const char *msgid)
{
	const char *at, *p, *last_dot;
	g_autofree char *signed_part = NULL;
	g_autofree char *mac = NULL;
	gint64 n = 0;
	int digits = 0;

	if (msgid == NULL || strncmp(msgid, "tickd.", 6) != 0)
		return 0;
	at = strchr(msgid, '@');
	if (at == NULL)
		return -EBADMSG;
	p = msgid + 6;
	for (; g_ascii_isdigit(*p) && digits < 15; p++, digits++)
		n = n * 10 + (*p - '0');
	if (digits == 0 || *p != '.' || n <= 0)
		return -EBADMSG;
	/* signed part = from the number up to the last '.' before '@' */
	last_dot = NULL;
	for (const char *q = p; q < at; q++)
		if (*q == '.')
			last_dot = q;
	if (last_dot == NULL || last_dot == p ||
	    at - last_dot - 1 != THREAD_MAC_HEX)
		return -EBADMSG;
	signed_part = g_strndup(msgid + 6, (gsize)(last_dot - (msgid + 6)));
	mac = thread_mac(secret, secret_len, signed_part);
	/* Constant-time compare: the MAC is the whole defence here. */
	unsigned diff = 0;
	for (int i = 0; i < THREAD_MAC_HEX; i++)
		diff |= (unsigned)(g_ascii_tolower(last_dot[1 + i]) ^ mac[i]);
	return diff == 0 ? n : -EBADMSG;
}

int
thread_token_next(const char **pos, size_t max, char **tok_r)
{
	const char *p, *end;

	for (p = strstr(*pos, "tickd."); p != NULL;
	     p = strstr(p + 1, "tickd.")) {
		for (end = p; *end && (size_t)(end - p) <= max &&
		              !strchr(" \t\r\n()[]<>\"',;", *end);
		     end++)
			;
		if ((size_t)(end - p) > max)
			continue;
		*pos = p + 1;
		*tok_r = g_strndup(p, (gsize)(end - p));
		return 1;
	}
	return 0;
}
