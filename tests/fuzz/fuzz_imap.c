/*
 * fuzz_imap.c - libFuzzer target for the IMAP response parser
 * (src/imap_parse.c) on what a hostile server could send.  The input is
 * read twice: as a stream of responses on a connection, the way imap.c's
 * range reader walks them (untagged kinds, FETCH items with literals read
 * through the in-memory source, resp-codes, capability lists, tagged
 * replies), and as the untagged reply of one easy-handle request (STATUS,
 * SEARCH, FETCH precheck, CAPABILITY).  A small body cap makes the
 * oversized-literal path run too.
 *
 * Besides the sanitizers it checks the parser's output contract: a parsed
 * BODY[] never exceeds the cap, SEARCH results are ascending and inside
 * the window, STATUS never yields UIDVALIDITY or UIDNEXT 0, a capability
 * list is " NAME NAME " in upper case.
 */
#include "imap_parse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BODY_CAP 4096

static void
check_caps(const char *caps, size_t size)
{
	size_t n = strlen(caps);

	if (n >= size || (n > 0 && (caps[0] != ' ' || caps[n - 1] != ' ')))
		abort();
	for (size_t i = 0; i < n; i++)
		if (g_ascii_islower(caps[i]))
			abort();
}

/* stream - the responses on a connection, until the first error. */
static void
stream(const uint8_t *data, size_t size)
{
	char err[256], caps[256];
	struct imap_parse_mem m;
	GByteArray *body = g_byte_array_new();
	const char *l;
	size_t len;

	imap_parse_mem_init(&m, data, size, err, sizeof(err));
	while (imap_parse_mem_line(&m, &l, &len) == 0) {
		struct imap_fetch_item it;
		struct imap_cur k;
		uint32_t v = 0;
		uint64_t n;
		int r = 0;

		(void)imap_parse_line_literal(l, len, &n);
		if (l[0] != '*' || l[1] != ' ') {
			(void)imap_parse_tagged(l, "t0123456789abcdef.1");
			continue;
		}
		imap_cur_init(&k, l, len, 2, &m.src, err, sizeof(err));
		switch (imap_parse_untagged(&k)) {
		case IMAP_UNTAGGED_FETCH:
			if (imap_parse_getc(&k) != ' ')
				break;
			g_byte_array_set_size(body, 0);
			r = imap_parse_fetch(&k, &it, body, BODY_CAP);
			if (r >= 0 && body->len > BODY_CAP)
				abort();
			if (r == IMAP_PARSE_BIG && !it.body_big)
				abort();
			if (r == 0 && it.has_uid && it.uid == 0)
				abort();
			break;
		case IMAP_UNTAGGED_OK: {
			char flags[64];
			bool found = false;

			r = imap_parse_uidvalidity(&k, &v);
			if (r == 0)
				r = imap_parse_uidnext(&k, &v);
			if (r == 0)
				r = imap_parse_permflags(&k, flags,
				                         sizeof(flags), &found);
			if (r == 0 && found)
				check_caps(flags, sizeof(flags));
			if (r == 0)
				(void)imap_parse_has_flag(flags, "\\*");
			break;
		}
		case IMAP_UNTAGGED_CAPABILITY:
			imap_parse_caps(k.s + k.p, caps, sizeof(caps));
			check_caps(caps, sizeof(caps));
			break;
		case IMAP_UNTAGGED_OTHER:
			r = imap_parse_skip_rest(&k);
			break;
		default:
			break;
		}
		if (r != 0) /* the connection would be dropped here */
			break;
	}
	imap_parse_mem_clear(&m);
	g_byte_array_unref(body);
}

/* reply_copy - the easy handle's reply buffer: lines end in '\n'. */
static GByteArray *
reply_copy(const uint8_t *data, size_t size)
{
	GByteArray *b = g_byte_array_sized_new((guint)size + 1);

	g_byte_array_append(b, data, (guint)size);
	if (size == 0 || data[size - 1] != '\n')
		g_byte_array_append(b, (const guint8 *)"\n", 1);
	return b;
}

static void
replies(const uint8_t *data, size_t size)
{
	char err[256], caps[256];
	struct imap_parse_status st;
	struct imap_fetch_item it;
	int r;
	GArray *u = g_array_new(FALSE, FALSE, sizeof(uint32_t));
	GByteArray *b;

	b = reply_copy(data, size);
	if (imap_parse_status_reply(b, &st, err, sizeof(err)) == 0 &&
	    (st.uidvalidity == 0 || st.uidnext == 0))
		abort();
	g_byte_array_unref(b);

	b = reply_copy(data, size);
	if (imap_parse_search_reply(b, 10, 5000, 64, u, err, sizeof(err)) ==
	    0) {
		if (u->len > 64)
			abort();
		for (guint i = 0; i < u->len; i++) {
			uint32_t x = g_array_index(u, uint32_t, i);

			if (x < 10 || x > 5000 ||
			    (i > 0 && x < g_array_index(u, uint32_t, i - 1)))
				abort();
		}
	}
	g_byte_array_unref(b);

	b = reply_copy(data, size);
	if (imap_parse_fetch_reply(b, 7, &it, err, sizeof(err)) == 0 &&
	    (!it.has_uid || it.uid != 7))
		abort();
	g_byte_array_unref(b);

	b = reply_copy(data, size);
	if (imap_parse_caps_reply(b, caps, sizeof(caps), err, sizeof(err)) > 0)
		check_caps(caps, sizeof(caps));
	g_byte_array_unref(b);

	b = reply_copy(data, size);
	r = imap_parse_sync_failed(b, err, sizeof(err));
	if (r != 0 && r != 1 && r != -EPROTO)
		abort();
	g_byte_array_unref(b);
	g_array_unref(u);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	stream(data, size);
	replies(data, size);
	s = g_strndup((const char *)data, size);
	(void)imap_parse_tagged_err(s);
	g_free(s);
	return 0;
}
