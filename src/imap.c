/*
 * imap.c - the IMAP client operations and the IDLE doorbell.  See imap.h
 * for the contract.
 *
 * Three connections (imap_conn.c), each shaped by a pitfall of libcurl
 * 7.88 (notes c-building-blocks.md section 1):
 *  - the easy handle for STATUS (no SELECT), UID SEARCH in bounded
 *    windows, the FETCH of one UID by URL, STORE/MOVE/COPY/EXPUNGE and
 *    APPEND: what libcurl's IMAP code does safely;
 *  - the range connection, connect-only: we speak EXAMINE and UID FETCH
 *    (BODY.PEEK[]) ourselves and read literals by length
 *    (imap_parse_fetch), so nothing inside a mail is ever taken for a
 *    server response;
 *  - the IDLE connection, also connect-only, only a doorbell.
 * What the server's bytes mean is imap_parse.c's business, waiting for
 * them imap_conn.c's; this file decides what to ask and what an answer
 * means for the caller.  No libcurl here.
 */
#include "imap.h"

#include "imap_conn.h"
#include "imap_parse.h"
#include "log.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define IMAP_DEF_MAX_MESSAGE ((size_t)25 << 20)
/* UIDs per SEARCH window: <= 4096 numbers of <= 11 bytes, far below the
 * 256 KiB libcurl buffer, so no SEARCH line is ever clipped. */
#define IMAP_SEARCH_WINDOW 4096u
/* Bytes of UID set per command, so command lines stay short for any
 * server (Dovecot allows 64 KiB, some servers 8 KiB). */
#define IMAP_SET_MAX 1000
/* UIDs per range FETCH command: bounds the per-chunk arrays. */
#define IMAP_CHUNK_MAX 5000
/* Waiting for DONE / LOGOUT replies on close. */
#define IMAP_BYE_MS 2000L
/* Reconnects in one imap_fetch_range after oversized literals. */
#define IMAP_MAX_RESTARTS 3
/* Reused range connections older than this are replaced, like libcurl's
 * CURLOPT_MAXAGE_CONN default: NAT boxes and servers drop idle ones. */
#define IMAP_RAW_MAXAGE_US ((gint64)118 * G_USEC_PER_SEC)
/* Bytes one imap_idle_check reads before it gives the caller control. */
#define IMAP_IDLE_MAX_READ ((size_t)1 << 20)

/* Positive returns of the raw reader's handlers: stop the response. */
#define RAW_STOP    1 /* the caller's callback returned < 0 */
#define RAW_RESTART 2 /* an oversized literal left us mid-response */
#define RAW_GAP     3 /* a UID that exists got no body before a later one */

/* A connect-only connection and what we did on it. */
struct sess {
	struct imap_conn_raw *c;   /* owned */
	struct imap_parse_src src; /* literals and lines come from c */
	char *mailbox;             /* owned: the EXAMINEd mailbox or NULL */
	uint32_t uidvalidity;      /* mailbox's, as its EXAMINE/SELECT said */
	uint32_t uidnext;          /* its EXAMINE's UIDNEXT (0: not sent) */
	bool idling;               /* IDLE sent and "+" received */
	bool pending;              /* a change seen while entering IDLE */
};

struct imap {
	struct imap_conn *conn; /* owned: settings, easy handle, caps */
	size_t max_message;
	struct sess fetch;   /* the range fast path */
	struct sess idle;    /* the doorbell */
	struct sess kw;      /* keywords: a SELECTed (read-write) mailbox */
	char permflags[512]; /* kw's mailbox: imap_parse_permflags or "" */
	bool has_permflags;  /* the SELECT sent PERMANENTFLAGS */
	bool range_off;      /* fast path disabled: its reader failed */
	bool warned_uidplus;
	char msg[512]; /* imap_error(); conn and parser write here too */
};

enum range_state { RS_ABSENT = 0, RS_FETCH, RS_BIG, RS_DONE };

/* One chunk of imap_fetch_range: at most IMAP_CHUNK_MAX UIDs. */
struct range {
	const uint32_t *uids; /* borrowed: the chunk, ascending */
	size_t n;
	uint64_t *size;   /* owned: RFC822.SIZE per uid, UINT64_MAX unknown */
	guint8 *state;    /* owned: enum range_state per uid */
	size_t next;      /* first index not yet reported to cb */
	GByteArray *body; /* owned: the message being read */
	size_t cap;
	imap_fetch_cb *cb;
	void *cbctx;
	int cb_r; /* what cb returned when it stopped us */
};

enum raw_mode { RAW_PLAIN = 0, RAW_SIZES, RAW_BODIES };

struct raw_ctx {
	enum raw_mode mode;
	uint32_t uidvalidity; /* from "* OK [UIDVALIDITY n]" */
	uint32_t uidnext;     /* from "* OK [UIDNEXT n]" */
	bool changed;         /* EXISTS, RECENT or EXPUNGE seen */
	bool want_cont;       /* return at a "+" continuation (IDLE) */
	bool cont;
	struct range *rg;  /* RAW_SIZES, RAW_BODIES */
	struct imap *perm; /* non-NULL: record PERMANENTFLAGS there */
};

static void imap_log(struct imap *im, int r, const char *object,
                     const char *fmt, ...) PRINTF_LIKE(4, 5);

/* imap_fail - record the reason for imap_error() in im->msg (through the
 * conn, which writes there too); returns r. */
#define imap_fail(im, ...) imap_conn_fail((im)->conn, __VA_ARGS__)

/* imap_log - the one log line of a failed public call. */
static void
imap_log(struct imap *im, int r, const char *object, const char *fmt, ...)
{
	char action[96], q[96];
	va_list ap;
	int prio = LOGP_ERR;

	va_start(ap, fmt);
	g_vsnprintf(action, sizeof(action), fmt, ap);
	va_end(ap);
	/* A vanished UID is an ordinary race with a human; a too-big mail is
	 * handled by the caller; everything else means an operation failed. */
	if (r == -ENOENT && strncmp(action, "fetch uid", 9) == 0)
		prio = LOGP_INFO;
	else if (r == -EFBIG || r == -ENOTSUP)
		prio = LOGP_WARNING;
	if (im->msg[0] == '\0')
		(void)imap_fail(im, r, "%s", g_strerror(-r));
	log_msg(prio, "imap: %s '%s': %s", action,
	        log_quote(object, q, sizeof(q)), im->msg);
}

/* quote - a log-safe excerpt of network text (per-thread buffer: one
 * use per statement). */
static const char *
quote(const char *s)
{
	static _Thread_local char buf[96];

	return log_quote(s, buf, sizeof(buf));
}

/* mbox_ok - a mailbox name we can put in a URL and a quoted string. */
static int
mbox_ok(struct imap *im, const char *mbox)
{
	size_t n = mbox ? strlen(mbox) : 0;

	if (n == 0 || n > 512)
		return imap_fail(im, -EINVAL, "bad mailbox name");
	for (const char *s = mbox; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return imap_fail(im, -EINVAL,
			                 "mailbox name is not printable ASCII "
			                 "(modified UTF-7 expected)");
	return 0;
}

/* mbox_quoted - mbox as an IMAP quoted string; caller frees. */
static char *
mbox_quoted(const char *mbox)
{
	GString *s = g_string_new("\"");

	for (; *mbox; mbox++) {
		if (*mbox == '"' || *mbox == '\\')
			g_string_append_c(s, '\\');
		g_string_append_c(s, *mbox);
	}
	g_string_append_c(s, '"');
	return g_string_free(s, FALSE);
}

/* imap_url - base/MBOX[;UIDVALIDITY=v][;UID=u]; caller frees.  The name
 * is %-encoded whole ('/' too): libcurl decodes it and quotes it. */
/* src_literal, src_line - the parser's byte source on a session. */
static int
src_literal(void *ctx, uint64_t n, GByteArray *dst)
{
	return imap_conn_raw_read_literal(ctx, n, dst);
}

static int
src_line(void *ctx, const char **s_r, size_t *len_r)
{
	int r = imap_conn_raw_read_line(ctx);

	if (r == 0)
		*s_r = imap_conn_raw_line(ctx, len_r);
	return r;
}

static void
sess_init(struct imap *im, struct sess *s, const char *name)
{
	s->c = imap_conn_raw_new(im->conn, name);
	s->src = (struct imap_parse_src){src_literal, src_line, s->c};
}

/* sess_drop - close without a word: after errors, or mid-response. */
static void
sess_drop(struct sess *s)
{
	if (s->c)
		imap_conn_raw_drop(s->c);
	g_free(s->mailbox);
	s->mailbox = NULL;
	s->uidvalidity = s->uidnext = 0;
	s->idling = s->pending = false;
}

static bool
sess_open(const struct sess *s)
{
	return s->c && imap_conn_raw_is_open(s->c);
}

/* sess_stale - an open session not to be used again: broken, or older
 * than IMAP_RAW_MAXAGE_US. */
static bool
sess_stale(const struct sess *s)
{
	return sess_open(s) &&
	       (imap_conn_raw_broken(s->c) ||
	        imap_conn_raw_age_us(s->c) > IMAP_RAW_MAXAGE_US);
}

/* cur_line - a cursor over the session's current line at offset p. */
static void
cur_line(struct imap *im, struct sess *s, struct imap_cur *k, size_t p,
         bool literals)
{
	size_t len;
	const char *line = imap_conn_raw_line(s->c, &len);

	imap_cur_init(k, line, len, p, literals ? &s->src : NULL, im->msg,
	              sizeof(im->msg));
}

/* --- imap_fetch_range: which UIDs were asked for, what was reported --- */

static bool
range_find(const struct range *rg, uint32_t uid, size_t *idx_r)
{
	size_t lo = 0, hi = rg->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (rg->uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < rg->n && rg->uids[lo] == uid) {
		*idx_r = lo;
		return true;
	}
	return false;
}

/*
 * range_flush - report oversized messages before index upto, so the
 * caller sees every UID in ascending order.  A UID that exists but has
 * not come yet stops it (RAW_GAP): delivering a later one first would
 * move the caller's cursor past it, and the server either skipped it
 * (expunged since the sizes were asked, or a server bug) or answers out
 * of order.  Either way nothing after it may be reported.
 */
static int
range_flush(struct range *rg, size_t upto)
{
	for (; rg->next < upto; rg->next++) {
		size_t i = rg->next;
		int r;

		if (rg->state[i] == RS_FETCH)
			return RAW_GAP;
		if (rg->state[i] != RS_BIG)
			continue;
		rg->state[i] = RS_DONE;
		r = rg->cb(rg->uids[i], NULL, (size_t)rg->size[i], rg->cbctx);
		if (r < 0) {
			rg->cb_r = r;
			rg->next++;
			return RAW_STOP;
		}
	}
	return 0;
}

static void
range_sized(struct range *rg, const struct imap_fetch_item *it, size_t cap)
{
	size_t i;

	if (!it->has_uid || !range_find(rg, it->uid, &i))
		return; /* an unsolicited FETCH (flags of another mail) */
	rg->size[i] = it->has_size ? it->size : UINT64_MAX;
	rg->state[i] = (it->has_size && it->size > cap) ? RS_BIG : RS_FETCH;
}

/* range_body - a complete FETCH with a body arrived: report it. */
static int
range_body(struct imap *im, struct range *rg, const struct imap_fetch_item *it)
{
	size_t i;
	int r;

	if (!it->has_uid)
		return imap_fail(im, -EPROTO, "FETCH body without UID");
	if (!range_find(rg, it->uid, &i) || rg->state[i] != RS_FETCH) {
		log_debug("imap: fetch_range: ignoring unrequested uid %u",
		          it->uid);
		return 0;
	}
	if (it->body_nil)
		return imap_fail(im, -EIO, "server sent no body for uid %u",
		                 it->uid);
	r = range_flush(rg, i);
	if (r)
		return r;
	rg->state[i] = RS_DONE;
	rg->next = i + 1;
	r = rg->cb(it->uid, rg->body->data, rg->body->len, rg->cbctx);
	if (r < 0) {
		rg->cb_r = r;
		return RAW_STOP;
	}
	return 0;
}

/* range_big - a literal over the cap although RFC822.SIZE said it fits:
 * report the UID as oversized and restart on a new connection. */
static int
range_big(struct imap *im, struct range *rg, const struct imap_fetch_item *it)
{
	size_t i;
	uint64_t size = it->body_len;
	int r;

	if (!it->has_uid || !range_find(rg, it->uid, &i) ||
	    rg->state[i] != RS_FETCH)
		return imap_fail(im, -EPROTO,
		                 "literal of %" G_GUINT64_FORMAT
		                 " bytes for no requested UID",
		                 it->body_len);
	r = range_flush(rg, i);
	if (r)
		return r;
	if (rg->size[i] != UINT64_MAX && rg->size[i] > size)
		size = rg->size[i];
	rg->state[i] = RS_DONE;
	rg->next = i + 1;
	log_warning("imap: fetch_range uid %u: literal of %" G_GUINT64_FORMAT
	            " bytes over the cap of %zu, reconnecting",
	            it->uid, it->body_len, rg->cap);
	r = rg->cb(it->uid, NULL, (size_t)MIN(size, (uint64_t)SIZE_MAX),
	           rg->cbctx);
	if (r < 0) {
		rg->cb_r = r;
		return RAW_STOP;
	}
	return RAW_RESTART;
}

/* raw_fetch - "* n FETCH (" seen, k just after "FETCH ". */
static int
raw_fetch(struct imap *im, struct raw_ctx *x, struct imap_cur *k)
{
	GByteArray *body = x->mode == RAW_BODIES ? x->rg->body : NULL;
	struct imap_fetch_item it = {0};
	int r;

	if (body)
		g_byte_array_set_size(body, 0);
	r = imap_parse_fetch(k, &it, body, body ? x->rg->cap : 0);
	if (r < 0)
		return r;
	switch (x->mode) {
	case RAW_SIZES:
		range_sized(x->rg, &it, x->rg->cap);
		return 0;
	case RAW_BODIES:
		if (r == IMAP_PARSE_BIG)
			return range_big(im, x->rg, &it);
		if (it.has_body)
			return range_body(im, x->rg, &it);
		return 0; /* FLAGS only: another client changed flags */
	default:
		return 0;
	}
}

/* raw_untagged - one "* ..." response (the session's current line). */
static int
raw_untagged(struct imap *im, struct sess *s, struct raw_ctx *x)
{
	struct imap_cur k;
	int kind;

	cur_line(im, s, &k, 2, true);
	kind = imap_parse_untagged(&k);
	switch (kind) {
	case IMAP_UNTAGGED_FETCH:
		if (imap_parse_getc(&k) != ' ')
			return imap_parse_bad(&k, "bad FETCH");
		return raw_fetch(im, x, &k);
	case IMAP_UNTAGGED_CHANGE:
		x->changed = true;
		return 0;
	case IMAP_UNTAGGED_OK: {
		/* resp-text: never a literal, whatever it ends with */
		int r = imap_parse_uidvalidity(&k, &x->uidvalidity);

		if (r == 0)
			r = imap_parse_uidnext(&k, &x->uidnext);
		if (r == 0 && x->perm != NULL)
			r = imap_parse_permflags(&k, x->perm->permflags,
			                         sizeof(x->perm->permflags),
			                         &x->perm->has_permflags);
		return r;
	}
	case IMAP_UNTAGGED_REFUSAL:
		return 0;
	case IMAP_UNTAGGED_BYE:
		imap_conn_raw_bye(s->c);
		log_debug("imap: %s < %s", imap_conn_raw_name(s->c),
		          quote(k.s));
		return 0;
	case IMAP_UNTAGGED_CAPABILITY:
		imap_conn_set_caps(im->conn, k.s + k.p);
		return 0;
	default:
		return kind < 0 ? kind : imap_parse_skip_rest(&k);
	}
}

/* raw_run - read the reply to the command in flight: untagged lines go
 * to raw_untagged, the tagged line ends it.  0, -E, or RAW_STOP/RAW_RESTART
 * (the connection is mid-response then). */
static int
raw_run(struct imap *im, struct sess *s, struct raw_ctx *x)
{
	int r;

	for (;;) {
		const char *l;
		size_t len;

		r = imap_conn_raw_read_line(s->c);
		if (r < 0)
			goto fail;
		l = imap_conn_raw_line(s->c, &len);
		if (l[0] == '*' && l[1] == ' ') {
			r = raw_untagged(im, s, x);
			if (r != 0)
				goto fail;
			continue;
		}
		if (l[0] == '+') {
			if (x->want_cont) {
				x->cont = true;
				return 0;
			}
			r = imap_fail(im, -EPROTO,
			              "unexpected continuation '%s'", quote(l));
			goto fail;
		}
		r = imap_parse_tagged(l, imap_conn_raw_tag(s->c));
		if (r != 0) {
			imap_conn_raw_done(s->c);
			if (r > 0)
				return 0;
			/* a NO/BAD leaves the connection usable */
			return imap_fail(im, r, "server said '%s'", quote(l));
		}
		r = imap_fail(im, -EPROTO, "unexpected reply line '%s'",
		              quote(l));
		goto fail;
	}
fail:
	imap_conn_raw_break(s->c);
	return r;
}

/* raw_simple - one command whose reply we only need to be OK. */
static int
raw_simple(struct imap *im, struct sess *s, const char *cmd, struct raw_ctx *x)
{
	int r = imap_conn_raw_cmd(s->c, cmd);

	if (r < 0)
		return r;
	return raw_run(im, s, x);
}

/* raw_connect - libcurl does greeting, CAPABILITY, STARTTLS and login;
 * from then on the socket is ours. */
static int
raw_connect(struct imap *im, struct sess *s)
{
	struct raw_ctx x = {.mode = RAW_PLAIN};
	int r;

	sess_drop(s);
	r = imap_conn_raw_open(s->c);
	if (r < 0)
		return r;
	/* The list libcurl saw may predate the login (greeting, or the
	 * CAPABILITY before AUTH): MOVE, IDLE only show up after it. */
	if (!imap_conn_caps_authed(im->conn))
		r = raw_simple(im, s, "CAPABILITY", &x);
	if (r < 0)
		sess_drop(s);
	return r;
}

/* raw_close - DONE if idling, LOGOUT, close: libcurl sends no LOGOUT on
 * connect-only connections.  Bounded by IMAP_BYE_MS per step. */
static void
raw_close(struct imap *im, struct sess *s)
{
	struct raw_ctx x = {.mode = RAW_PLAIN};

	if (!sess_open(s))
		return;
	if (!imap_conn_raw_broken(s->c)) {
		if (s->idling) {
			s->idling = false;
			imap_conn_raw_hurry(s->c, IMAP_BYE_MS);
			/* DONE ends the IDLE command, whose tag is current */
			if (imap_conn_raw_send(s->c, "DONE\r\n", 6) == 0)
				(void)raw_run(im, s, &x);
		}
		if (!imap_conn_raw_broken(s->c) &&
		    imap_conn_raw_cmd(s->c, "LOGOUT") == 0) {
			imap_conn_raw_hurry(s->c, IMAP_BYE_MS);
			(void)raw_run(im, s, &x);
		}
	}
	sess_drop(s);
}

/* raw_examine - EXAMINE (read-only: no \Seen, no \Recent taken from
 * humans), or SELECT when the session is to change flags (rw), and check
 * UIDVALIDITY when uidvalidity != 0. */
static int
raw_examine(struct imap *im, struct sess *s, const char *mailbox,
            uint32_t uidvalidity, struct raw_ctx *x, bool rw)
{
	char *q = mbox_quoted(mailbox);
	char *cmd = g_strdup_printf("%s %s", rw ? "SELECT" : "EXAMINE", q);
	int r;

	g_free(s->mailbox);
	s->mailbox = NULL;
	s->uidvalidity = s->uidnext = 0;
	r = raw_simple(im, s, cmd, x);
	if (r < 0)
		goto out;
	if (x->uidvalidity == 0) {
		r = imap_fail(im, -EPROTO, "EXAMINE gave no UIDVALIDITY");
		goto out;
	}
	if (uidvalidity && x->uidvalidity != uidvalidity) {
		r = imap_fail(im, -ESTALE, "UIDVALIDITY is %u, expected %u",
		              x->uidvalidity, uidvalidity);
		goto out;
	}
	s->mailbox = g_strdup(mailbox);
	s->uidvalidity = x->uidvalidity;
	s->uidnext = x->uidnext;
out:
	g_free(cmd);
	g_free(q);
	return r;
}

/* range_open - a connection with mailbox EXAMINEd under uidvalidity.
 * A reused connection the server closed meanwhile gets one fresh try.
 * *session_r: we got past the login (errors after it are our reader's
 * business, errors before it are the network's or TLS's). */
static int
range_open(struct imap *im, const char *mailbox, uint32_t uidvalidity,
           bool *session_r)
{
	struct sess *s = &im->fetch;
	int r = 0;

	if (sess_stale(s))
		raw_close(im, s);
	for (int attempt = 0; attempt < 2; attempt++) {
		struct raw_ctx x = {.mode = RAW_PLAIN};
		bool fresh = !sess_open(s);

		if (fresh) {
			r = raw_connect(im, s);
			if (r < 0)
				return r;
		}
		*session_r = true;
		r = raw_examine(im, s, mailbox, uidvalidity, &x, false);
		if (r >= 0 || fresh || !imap_conn_raw_broken(s->c))
			return r;
		sess_drop(s);
	}
	return r;
}

/* uidset_build - "3,5,7:9" from ascending unique uids, at most max_uids
 * of them and about IMAP_SET_MAX bytes; returns how many it used. */
static size_t
uidset_build(GString *s, const uint32_t *u, size_t n, size_t max_uids)
{
	size_t i = 0;

	g_string_truncate(s, 0);
	while (i < n && i < max_uids && s->len < IMAP_SET_MAX) {
		size_t j = i + 1;

		while (j < n && j < max_uids && u[j] == u[j - 1] + 1)
			j++;
		if (s->len)
			g_string_append_c(s, ',');
		if (j - i == 1)
			g_string_append_printf(s, "%u", u[i]);
		else
			g_string_append_printf(s, "%u:%u", u[i], u[j - 1]);
		i = j;
	}
	return i;
}

/* range_chunk - sizes first (no literal in that reply, so a huge mail
 * costs nothing), then the bodies that fit, in as many FETCH commands as
 * the set length needs. */
static int
range_chunk(struct imap *im, struct range *rg, GString *set)
{
	struct sess *s = &im->fetch;
	struct raw_ctx x = {.mode = RAW_SIZES, .rg = rg};
	uint32_t *want = g_new(uint32_t, rg->n);
	size_t nwant = 0, done = 0;
	char *cmd = g_strdup_printf("UID FETCH %s (UID RFC822.SIZE)", set->str);
	int r;

	memset(rg->state, RS_ABSENT, rg->n);
	rg->next = 0;
	r = raw_simple(im, s, cmd, &x);
	if (r != 0)
		goto out;
	for (size_t i = 0; i < rg->n; i++)
		if (rg->state[i] == RS_FETCH)
			want[nwant++] = rg->uids[i];
	x.mode = RAW_BODIES;
	while (done < nwant) {
		done += uidset_build(set, want + done, nwant - done, SIZE_MAX);
		g_free(cmd);
		cmd =
		    g_strdup_printf("UID FETCH %s (UID BODY.PEEK[])", set->str);
		r = raw_simple(im, s, cmd, &x);
		if (r != 0)
			goto out;
	}
	r = range_flush(rg, rg->n);
out:
	g_free(cmd);
	g_free(want);
	return r;
}

/* sort_unique - owned ascending copy without duplicates; NULL if a UID
 * is 0 (no UID is). */
static uint32_t *
sort_unique(const uint32_t *uids, size_t n, size_t *m_r)
{
	uint32_t *v = g_memdup2(uids, n * sizeof(*v));
	size_t m = 0;

	qsort(v, n, sizeof(*v), imap_parse_cmp_u32);
	if (v[0] == 0) {
		g_free(v);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		if (m == 0 || v[i] != v[m - 1])
			v[m++] = v[i];
	*m_r = m;
	return v;
}

/* uids_prepare - the checks imap_fetch_range and imap_mark share: 1
 * with *sorted_r (owned, *m_r UIDs ascending and unique) to go on, 0 for
 * nothing to do, -EINVAL for a bad mailbox name or UID 0. */
static int
uids_prepare(struct imap *im, const char *mailbox, const uint32_t *uids,
             size_t n, uint32_t **sorted_r, size_t *m_r)
{
	int r = mbox_ok(im, mailbox);

	if (r < 0 || n == 0)
		return r;
	*sorted_r = sort_unique(uids, n, m_r);
	if (!*sorted_r)
		return imap_fail(im, -EINVAL, "UID 0");
	return 1;
}

struct imap *
imap_new(const struct imap_params *p)
{
	struct imap *im = g_new0(struct imap, 1);

	im->conn = imap_conn_new(p, im->msg, sizeof(im->msg));
	if (!im->conn) {
		g_free(im);
		return NULL;
	}
	im->max_message =
	    p->max_message > 0 ? p->max_message : IMAP_DEF_MAX_MESSAGE;
	/* GByteArray lengths are guint */
	im->max_message = MIN(im->max_message, (size_t)G_MAXUINT / 2);
	sess_init(im, &im->fetch, "fetch");
	sess_init(im, &im->idle, "idle");
	sess_init(im, &im->kw, "keywords");
	return im;
}

void
imap_free(struct imap **pim)
{
	struct imap *im;

	if (!pim || !*pim)
		return;
	im = *pim;
	raw_close(im, &im->idle);
	imap_conn_raw_free(&im->idle.c);
	raw_close(im, &im->fetch);
	imap_conn_raw_free(&im->fetch.c);
	raw_close(im, &im->kw);
	imap_conn_raw_free(&im->kw.c);
	imap_conn_free(&im->conn);
	g_free(im);
	*pim = NULL;
}

const char *
imap_error(const struct imap *im)
{
	return im ? im->msg : "no client";
}

/*
 * status_sync - bring the easy handle's session up to date before a
 * STATUS.  Dovecot answers STATUS on the mailbox this session has SELECTed
 * (SEARCH/FETCH/STORE select it) from the session's own view, which moves
 * only when the session syncs: without the NOOP a poll never sees new
 * mail after the first fetch (measured: 40 s of stale UIDNEXT while mail
 * arrived).  NOOP syncs; one round trip.  A session that cannot sync (the
 * mailbox was deleted and created again under it: Dovecot 2.3.19 says
 * "* NO Internal error" to every NOOP) would answer STATUS and SEARCH from
 * the old mailbox for as long as it lives, and a poll every minute keeps
 * it alive: it is closed, and a new one takes over.  0 or -E.
 */
static int
status_sync(struct imap *im, const char *url, const char *mailbox)
{
	int r = imap_conn_custom(im->conn, url, "NOOP");

	if (r < 0 ||
	    (r = imap_parse_sync_failed(imap_conn_reply(im->conn), im->msg,
	                                sizeof(im->msg))) <= 0)
		return r;
	log_notice("imap: '%s': the server could not sync the selected "
	           "mailbox; reconnecting",
	           quote(mailbox));
	/* this NOOP closes it; the STATUS after it connects afresh */
	imap_conn_close_after(im->conn);
	return imap_conn_custom(im->conn, url, "NOOP");
}

/* status_do - imap_status without the log line. */
static int
status_do(struct imap *im, const char *mailbox, struct imap_status *st_r)
{
	struct imap_parse_status st;
	char *url = NULL, *q = NULL, *cmd = NULL;
	int r;

	r = mbox_ok(im, mailbox);
	if (r < 0)
		return r;
	url = imap_conn_url(im->conn, NULL, 0, 0);
	q = mbox_quoted(mailbox);
	cmd = g_strdup_printf("STATUS %s (UIDVALIDITY UIDNEXT MESSAGES)", q);
	r = status_sync(im, url, mailbox);
	if (r == 0)
		r = imap_conn_custom(im->conn, url, cmd);
	if (r == 0)
		r = imap_parse_status_reply(imap_conn_reply(im->conn), &st,
		                            im->msg, sizeof(im->msg));
	if (r == 0) {
		st_r->uidvalidity = st.uidvalidity;
		st_r->uidnext = st.uidnext;
		st_r->messages = st.messages;
	}
	g_free(cmd);
	g_free(q);
	g_free(url);
	return r;
}

int
imap_status(struct imap *im, const char *mailbox, struct imap_status *st_r)
{
	int r;

	im->msg[0] = '\0';
	if (!st_r)
		r = imap_fail(im, -EINVAL, "no result");
	else
		r = status_do(im, mailbox, st_r);
	if (r < 0)
		imap_log(im, r, mailbox ? mailbox : "", "status");
	return r;
}

int
imap_search(struct imap *im, const char *mailbox, uint32_t uidvalidity,
            uint32_t after_uid, GArray *uids)
{
	GArray *found = g_array_new(FALSE, FALSE, sizeof(uint32_t));
	struct imap_status st;
	char *url = NULL, cmd[64];
	uint64_t lo, hi, last, window;
	int r;

	im->msg[0] = '\0';
	if (!uids || g_array_get_element_size(uids) != sizeof(uint32_t) ||
	    uidvalidity == 0) {
		r = imap_fail(im, -EINVAL, "bad arguments");
		goto out;
	}
	/* STATUS gives the upper end of the windows; the UIDs of new
	 * arrivals after it are higher, so no window can exceed MESSAGES. */
	r = status_do(im, mailbox, &st);
	if (r < 0)
		goto out;
	if (st.uidvalidity != uidvalidity) {
		r = imap_fail(im, -ESTALE, "UIDVALIDITY is %u, expected %u",
		              st.uidvalidity, uidvalidity);
		goto out;
	}
	last = (uint64_t)st.uidnext - 1;
	if ((uint64_t)after_uid >= last || st.messages == 0)
		goto out;
	/* a small mailbox fits in one SEARCH whatever its UID spread */
	window = st.messages <= IMAP_SEARCH_WINDOW ? last : IMAP_SEARCH_WINDOW;
	url = imap_conn_url(im->conn, mailbox, uidvalidity, 0);
	for (lo = (uint64_t)after_uid + 1; lo <= last; lo = hi + 1) {
		hi = MIN(lo + window - 1, last);
		g_snprintf(cmd, sizeof(cmd), "UID SEARCH UID %u:%u",
		           (uint32_t)lo, (uint32_t)hi);
		r = imap_conn_custom(im->conn, url, cmd);
		if (r < 0)
			goto out;
		r = imap_parse_search_reply(
		    imap_conn_reply(im->conn), (uint32_t)lo, (uint32_t)hi,
		    MIN((size_t)st.messages, IMAP_SEARCH_WINDOW), found,
		    im->msg, sizeof(im->msg));
		if (r < 0)
			goto out;
	}
	g_array_append_vals(uids, found->data, found->len);
out:
	if (r < 0)
		imap_log(im, r, mailbox ? mailbox : "", "search");
	g_array_unref(found);
	g_free(url);
	return r;
}

/* fetch_precheck - size, existence and \\Seen of uid; no literal in the
 * reply, so this custom FETCH is safe on 7.88. */
static int
fetch_precheck(struct imap *im, const char *url, uint32_t uid,
               struct imap_fetch_item *it_r)
{
	char cmd[64];
	int r;

	g_snprintf(cmd, sizeof(cmd), "UID FETCH %u (UID RFC822.SIZE FLAGS)",
	           uid);
	r = imap_conn_custom(im->conn, url, cmd);
	if (r < 0)
		return r;
	return imap_parse_fetch_reply(imap_conn_reply(im->conn), uid, it_r,
	                              im->msg, sizeof(im->msg));
}

int
imap_fetch(struct imap *im, const char *mailbox, uint32_t uidvalidity,
           uint32_t uid, GByteArray *out)
{
	char *url = NULL, *url_uid = NULL;
	size_t orig = out ? out->len : 0;
	struct imap_fetch_item it = {0};
	int r;

	im->msg[0] = '\0';
	if (!out || uid == 0 || uidvalidity == 0) {
		r = imap_fail(im, -EINVAL, "bad arguments");
		goto out;
	}
	r = mbox_ok(im, mailbox);
	if (r < 0)
		goto out;
	url = imap_conn_url(im->conn, mailbox, uidvalidity, 0);
	r = fetch_precheck(im, url, uid, &it);
	if (r < 0)
		goto out;
	if (it.has_size && it.size > im->max_message) {
		r = imap_fail(im, -EFBIG,
		              "message of %" G_GUINT64_FORMAT " bytes, cap %zu",
		              it.size, im->max_message);
		goto out;
	}
	/* libcurl's own FETCH: the literal goes to the write callback
	 * byte-exact, capped there in case RFC822.SIZE lied */
	url_uid = imap_conn_url(im->conn, mailbox, uidvalidity, uid);
	r = imap_conn_fetch_url(im->conn, url_uid, out, orig + im->max_message);
	if (r == -EPROTO) {
		/* 7.88 fails on an unsolicited "* n FETCH (FLAGS ...)" that
		 * arrives before the body (a human changed flags meanwhile).
		 * libcurl has closed that connection; a new one has nothing
		 * pending, so one retry tells a race from a broken server. */
		g_byte_array_set_size(out, (guint)orig);
		r = imap_conn_fetch_url(im->conn, url_uid, out,
		                        orig + im->max_message);
	}
	if (r == -EFBIG)
		(void)imap_fail(im, -EFBIG, "message over the cap of %zu",
		                im->max_message);
	if (r < 0)
		goto out;
	if (!it.seen) {
		/* 7.88 sends BODY[], not BODY.PEEK[]: give back the unread
		 * state, so a crash before COMMIT does not leave a mail
		 * looking read to the humans sharing the mailbox. */
		char cmd[64];
		int r2;

		g_snprintf(cmd, sizeof(cmd),
		           "UID STORE %u -FLAGS.SILENT (\\Seen)", uid);
		r2 = imap_conn_custom(im->conn, url, cmd);
		if (r2 < 0)
			log_warning("imap: fetch uid %u '%s': cannot clear "
			            "\\Seen again: %s",
			            uid, quote(mailbox), im->msg);
		im->msg[0] = '\0';
	}
out:
	if (r < 0) {
		if (out)
			g_byte_array_set_size(out, (guint)orig);
		imap_log(im, r, mailbox ? mailbox : "", "fetch uid %u", uid);
	}
	g_free(url_uid);
	g_free(url);
	return r;
}

/*
 * range_examined - may the range connection fetch uids up to max_uid of
 * mailbox under uidvalidity without a new EXAMINE?  Yes when it has the
 * mailbox open under that UIDVALIDITY (UIDs do not change within a
 * session, RFC 3501 2.3.1.1) and every uid was below the UIDNEXT its
 * EXAMINE gave, so that its view holds them.  A new EXAMINE reads the
 * whole mailbox again (Dovecot syncs a Maildir's directory: 34 ms at
 * 23,000 mails), once per imap.batch mails it was most of a reply's time.
 */
static bool
range_examined(const struct imap *im, const char *mailbox, uint32_t uidvalidity,
               uint32_t max_uid)
{
	const struct sess *s = &im->fetch;

	return sess_open(s) && !sess_stale(s) && s->mailbox != NULL &&
	       strcmp(s->mailbox, mailbox) == 0 &&
	       s->uidvalidity == uidvalidity && max_uid < s->uidnext;
}

/*
 * range_all - the chunks of imap_fetch_range over sorted[0..m): EXAMINE
 * when needed (range_examined), a new connection after an oversized
 * literal (at most IMAP_MAX_RESTARTS), one fresh look after a gap.  0, -E,
 * or RAW_STOP.
 */
static int
range_all(struct imap *im, const char *mailbox, uint32_t uidvalidity,
          const uint32_t *sorted, size_t m, struct range *rg, bool *session)
{
	GString *set = g_string_new(NULL);
	size_t i = 0;
	int restarts = 0, r = 0;
	bool gap_retried = false;

	while (i < m) {
		if (range_examined(im, mailbox, uidvalidity, sorted[m - 1]))
			*session = true; /* (past its login) */
		else if ((r = range_open(im, mailbox, uidvalidity, session)) <
		         0)
			goto out;
		rg->uids = sorted + i;
		rg->n = uidset_build(set, sorted + i, m - i, IMAP_CHUNK_MAX);
		r = range_chunk(im, rg, set);
		if (r == RAW_RESTART) {
			sess_drop(&im->fetch);
			if (++restarts > IMAP_MAX_RESTARTS) {
				r = imap_fail(im, -EFBIG,
				              "server keeps sending literals "
				              "over the cap of %zu",
				              im->max_message);
				goto out;
			}
			i += rg->next;
			continue;
		}
		if (r == RAW_GAP && !gap_retried) {
			/* an expunge between the two FETCHes heals on a
			 * fresh look at the sizes; a reordering server does
			 * not, and gets the second gap */
			gap_retried = true;
			if (imap_conn_raw_broken(im->fetch.c))
				sess_drop(&im->fetch);
			i += rg->next;
			continue;
		}
		if (r == RAW_GAP) {
			r = imap_fail(im, -EPROTO,
			              "server skipped uid %u or answered out "
			              "of UID order",
			              rg->uids[rg->next]);
			goto out;
		}
		if (r != 0)
			goto out;
		i += rg->n;
	}
	r = 0;
out:
	g_string_free(set, TRUE);
	return r;
}

int
imap_fetch_range(struct imap *im, const char *mailbox, uint32_t uidvalidity,
                 const uint32_t *uids, size_t n, imap_fetch_cb *cb, void *ctx)
{
	struct range rg = {0};
	uint32_t *sorted = NULL;
	size_t m = 0;
	int r = 0;
	bool session = false;

	im->msg[0] = '\0';
	if (im->range_off) {
		/* no log: the caller switches to imap_fetch() */
		r = imap_fail(im, -ENOSYS,
		              "range fetch disabled after a "
		              "reader failure");
		goto out;
	}
	if (!cb || (!uids && n > 0) || uidvalidity == 0) {
		r = imap_fail(im, -EINVAL, "bad arguments");
		goto out;
	}
	r = uids_prepare(im, mailbox, uids, n, &sorted, &m);
	if (r <= 0)
		goto out;
	rg.body = g_byte_array_new();
	rg.cap = im->max_message;
	rg.cb = cb;
	rg.cbctx = ctx;
	rg.size = g_new(uint64_t, IMAP_CHUNK_MAX);
	rg.state = g_new(guint8, IMAP_CHUNK_MAX);
	r = range_all(im, mailbox, uidvalidity, sorted, m, &rg, &session);
out:
	if (r == RAW_STOP) {
		r = rg.cb_r; /* the caller's own code, not our failure */
		sess_drop(&im->fetch);
	} else if (r < 0 && r != -ENOSYS) {
		if (imap_conn_raw_broken(im->fetch.c))
			sess_drop(&im->fetch);
		if (r == -EPROTO && session) {
			/* our reader and this server disagree: the per-UID
			 * path through libcurl takes over from now on (a TLS
			 * failure before the login is not that) */
			im->range_off = true;
			g_strlcat(im->msg, "; range fetch disabled",
			          sizeof(im->msg));
		}
		imap_log(im, r, mailbox ? mailbox : "", "fetch_range");
	}
	if (rg.body)
		g_byte_array_unref(rg.body);
	g_free(rg.size);
	g_free(rg.state);
	g_free(sorted);
	return r;
}

int
imap_mark(struct imap *im, const char *mailbox, uint32_t uidvalidity,
          const uint32_t *uids, size_t n, const char *move_to)
{
	GString *set = g_string_new(NULL);
	uint32_t *sorted = NULL;
	char *url = NULL, *dst = NULL, *cmd = NULL;
	size_t i = 0, m = 0;
	int r;

	im->msg[0] = '\0';
	if ((!uids && n > 0) || uidvalidity == 0) {
		r = imap_fail(im, -EINVAL, "bad arguments");
		goto out;
	}
	r = move_to ? mbox_ok(im, move_to) : 0;
	if (r == 0)
		r = uids_prepare(im, mailbox, uids, n, &sorted, &m);
	if (r <= 0)
		goto out;
	if (move_to) {
		dst = mbox_quoted(move_to);
		if (!imap_conn_caps_authed(im->conn)) {
			r = imap_conn_capability(im->conn);
			if (r < 0)
				goto out;
		}
	}
	/* ;UIDVALIDITY= makes libcurl's SELECT fail with 78 if the UIDs
	 * now name other mail */
	url = imap_conn_url(im->conn, mailbox, uidvalidity, 0);
	while (i < m) {
		i += uidset_build(set, sorted + i, m - i, SIZE_MAX);
		g_free(cmd);
		if (!move_to) {
			cmd = g_strdup_printf(
			    "UID STORE %s +FLAGS.SILENT (\\Seen)", set->str);
			r = imap_conn_custom(im->conn, url, cmd);
		} else if (imap_conn_has_cap(im->conn, "MOVE")) {
			cmd = g_strdup_printf("UID MOVE %s %s", set->str, dst);
			r = imap_conn_custom(im->conn, url, cmd);
		} else {
			cmd = g_strdup_printf("UID COPY %s %s", set->str, dst);
			r = imap_conn_custom(im->conn, url, cmd);
			g_free(cmd);
			cmd = g_strdup_printf(
			    "UID STORE %s +FLAGS.SILENT (\\Deleted)", set->str);
			if (r == 0)
				r = imap_conn_custom(im->conn, url, cmd);
			g_free(cmd);
			/* UID EXPUNGE removes only these; a bare EXPUNGE
			 * would also remove what humans flagged \Deleted */
			cmd = g_strdup_printf("UID EXPUNGE %s", set->str);
			if (r == 0 && imap_conn_has_cap(im->conn, "UIDPLUS"))
				r = imap_conn_custom(im->conn, url, cmd);
			else if (r == 0 && !im->warned_uidplus) {
				im->warned_uidplus = true;
				log_warning("imap: mark '%s': server has "
				            "neither MOVE nor UIDPLUS, copies "
				            "stay flagged \\Deleted",
				            quote(mailbox));
			}
		}
		if (r < 0)
			goto out;
	}
out:
	if (r < 0)
		imap_log(im, r, mailbox ? mailbox : "", "mark %s%s",
		         move_to ? "move to " : "\\Seen",
		         move_to ? quote(move_to) : "");
	g_string_free(set, TRUE);
	g_free(sorted);
	g_free(cmd);
	g_free(dst);
	g_free(url);
	return r;
}

/* --- keywords: their own SELECTed session --- */

/* kw_open - the keyword session with mailbox SELECTed under uidvalidity
 * and its PERMANENTFLAGS read; a session already there is reused (its
 * flags stand: a server changes them only with a new SELECT). */
static int
kw_open(struct imap *im, const char *mailbox, uint32_t uidvalidity)
{
	struct sess *s = &im->kw;
	int r = 0;

	if (sess_stale(s))
		raw_close(im, s);
	if (sess_open(s) && s->mailbox && strcmp(s->mailbox, mailbox) == 0) {
		if (s->uidvalidity == uidvalidity)
			return 0;
		return imap_fail(im, -ESTALE, "UIDVALIDITY is %u, expected %u",
		                 s->uidvalidity, uidvalidity);
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		struct raw_ctx x = {.mode = RAW_PLAIN, .perm = im};
		bool fresh = !sess_open(s);

		if (fresh && (r = raw_connect(im, s)) < 0)
			return r;
		im->permflags[0] = '\0';
		im->has_permflags = false;
		r = raw_examine(im, s, mailbox, uidvalidity, &x, true);
		if (r >= 0 || fresh || !imap_conn_raw_broken(s->c))
			break;
		sess_drop(s);
	}
	return r;
}

/* kw_allowed - may keyword be stored permanently here?  RFC 3501: a
 * server without PERMANENTFLAGS keeps every flag; with them, a keyword
 * only when it is listed or "\*" (new keywords may be created) is. */
static bool
kw_allowed(const struct imap *im, const char *keyword)
{
	return !im->has_permflags ||
	       imap_parse_has_flag(im->permflags, "\\*") ||
	       imap_parse_has_flag(im->permflags, keyword);
}

/* kw_list - "(a b)" of the keywords in v (n) the server keeps; "" when
 * none.  g_free. */
static char *
kw_list(const struct imap *im, const char *const *v, size_t n)
{
	GString *s = g_string_new(NULL);

	for (size_t i = 0; i < n; i++) {
		if (!kw_allowed(im, v[i]))
			continue;
		g_string_append_c(s, s->len ? ' ' : '(');
		g_string_append(s, v[i]);
	}
	if (s->len)
		g_string_append_c(s, ')');
	return g_string_free(s, FALSE);
}

/* kw_ok - a keyword we may put on the wire: an atom of at most
 * IMAP_PARSE_MAX_FLAG bytes, no backslash (system flags are not ours). */
static bool
kw_ok(const char *k)
{
	size_t n = k ? strlen(k) : 0;

	if (n == 0 || n > IMAP_PARSE_MAX_FLAG)
		return false;
	for (; *k; k++)
		if (*k <= 0x20 || *k >= 0x7f || strchr("(){%*\"\\]", *k))
			return false;
	return true;
}

int
imap_keywords(struct imap *im, const char *mailbox, uint32_t uidvalidity,
              const uint32_t *uids, size_t n, const char *const *add,
              size_t nadd, const char *const *del, size_t ndel)
{
	GString *set = g_string_new(NULL);
	uint32_t *sorted = NULL;
	char *plus = NULL, *minus = NULL, *cmd = NULL;
	size_t i = 0, m = 0;
	int r;

	im->msg[0] = '\0';
	if ((!uids && n > 0) || uidvalidity == 0 || (!add && nadd > 0) ||
	    (!del && ndel > 0)) {
		r = imap_fail(im, -EINVAL, "bad arguments");
		goto out;
	}
	for (size_t k = 0; k < nadd + ndel; k++)
		if (!kw_ok(k < nadd ? add[k] : del[k - nadd])) {
			r = imap_fail(im, -EINVAL, "bad keyword");
			goto out;
		}
	if ((r = uids_prepare(im, mailbox, uids, n, &sorted, &m)) <= 0)
		goto out;
	if ((r = kw_open(im, mailbox, uidvalidity)) < 0)
		goto out;
	plus = kw_list(im, add, nadd);
	minus = kw_list(im, del, ndel);
	if (*plus == '\0' && nadd > 0) {
		r = imap_fail(im, -ENOTSUP,
		              "the mailbox keeps no new keywords "
		              "(PERMANENTFLAGS%s)",
		              im->permflags);
		goto out;
	}
	while (i < m) {
		struct raw_ctx x = {.mode = RAW_PLAIN};

		i += uidset_build(set, sorted + i, m - i, SIZE_MAX);
		/* remove first: a keyword in both lists ends up set */
		for (int pass = 0; pass < 2; pass++) {
			const char *l = pass == 0 ? minus : plus;

			if (*l == '\0')
				continue;
			g_free(cmd);
			cmd =
			    g_strdup_printf("UID STORE %s %cFLAGS.SILENT %s",
			                    set->str, pass == 0 ? '-' : '+', l);
			if ((r = raw_simple(im, &im->kw, cmd, &x)) < 0)
				goto out;
		}
	}
out:
	if (r < 0)
		imap_log(im, r, mailbox ? mailbox : "", "store keywords");
	g_string_free(set, TRUE);
	g_free(sorted);
	g_free(plus);
	g_free(minus);
	g_free(cmd);
	return r < 0 ? r : 0;
}

int
imap_append(struct imap *im, const char *mailbox, const void *raw, size_t len)
{
	char *url = NULL;
	int r;

	im->msg[0] = '\0';
	if (!raw || len == 0) {
		r = imap_fail(im, -EINVAL, "empty message");
		goto out;
	}
	r = mbox_ok(im, mailbox);
	if (r < 0)
		goto out;
	url = imap_conn_url(im->conn, mailbox, 0, 0);
	r = imap_conn_append(im->conn, url, raw, len);
out:
	if (r < 0)
		imap_log(im, r, mailbox ? mailbox : "", "append");
	g_free(url);
	return r;
}

int
imap_idle_start(struct imap *im, const char *mailbox)
{
	struct sess *s = &im->idle;
	struct raw_ctx x = {.mode = RAW_PLAIN};
	int r;

	im->msg[0] = '\0';
	imap_idle_stop(im);
	r = mbox_ok(im, mailbox);
	if (r < 0)
		goto out;
	r = raw_connect(im, s);
	if (r < 0)
		goto out;
	if (!imap_conn_has_cap(im->conn, "IDLE")) {
		r = imap_fail(im, -ENOSYS, "server lacks IDLE");
		goto out;
	}
	r = raw_examine(im, s, mailbox, 0, &x, false);
	if (r < 0)
		goto out;
	r = imap_conn_raw_cmd(s->c, "IDLE");
	if (r < 0)
		goto out;
	/* EXAMINE's own EXISTS/RECENT are the baseline, not news */
	x = (struct raw_ctx){.mode = RAW_PLAIN, .want_cont = true};
	r = raw_run(im, s, &x);
	if (r == 0 && !x.cont)
		r = imap_fail(im, -EPROTO, "IDLE ended at once");
	if (r < 0)
		goto out;
	s->idling = true;
	/* mail that arrived between EXAMINE and "+" rings at once */
	s->pending = x.changed;
out:
	if (r < 0) {
		if (r == -ENOSYS)
			log_notice("imap: idle '%s': server lacks IDLE, "
			           "polling only",
			           quote(mailbox ? mailbox : ""));
		else
			imap_log(im, r, mailbox ? mailbox : "", "idle");
		raw_close(im, s);
	}
	return r;
}

/* idling - the doorbell is up. */
static bool
idling(const struct sess *s)
{
	return sess_open(s) && s->idling && !imap_conn_raw_broken(s->c);
}

int
imap_idle_fd(const struct imap *im)
{
	return idling(&im->idle) ? imap_conn_raw_fd(im->idle.c) : -1;
}

/* idle_line - 1 for a change, 0 for noise, -E when IDLE is over. */
static int
idle_line(struct imap *im, struct sess *s)
{
	struct imap_cur k;
	uint64_t lit;
	int kind;

	cur_line(im, s, &k, 2, false);
	if (k.s[0] == '*' && k.s[1] == ' ') {
		kind = imap_parse_untagged(&k);
		if (kind < 0)
			return kind;
		if (kind == IMAP_UNTAGGED_CHANGE)
			return 1;
		if (kind == IMAP_UNTAGGED_BYE) {
			imap_conn_raw_bye(s->c);
			return imap_fail(im, -ENOTCONN, "server said '%s'",
			                 quote(k.s));
		}
		if (kind == IMAP_UNTAGGED_OK)
			return 0; /* "* OK Still here" */
		/* We cannot wait for a literal without blocking, and no
		 * server sends one in IDLE that we know of: start over. */
		if (imap_parse_line_literal(k.s, k.len, &lit))
			return imap_fail(im, -EPROTO, "literal during IDLE");
		return 0; /* FETCH (flags) and the like */
	}
	if (k.s[0] == '+')
		return 0;
	return imap_fail(im, -ENOTCONN, "IDLE ended by the server: '%s'",
	                 quote(k.s));
}

int
imap_idle_check(struct imap *im)
{
	struct sess *s = &im->idle;
	size_t got = 0;
	int changed = 0, r;

	im->msg[0] = '\0';
	if (!idling(s))
		return imap_fail(im, -ENOTCONN, "not idling");
	if (s->pending) {
		s->pending = false;
		changed = 1;
	}
	for (;;) {
		size_t n = 0;

		r = imap_conn_raw_take_line(s->c);
		if (r < 0)
			goto out;
		if (r > 0) {
			r = idle_line(im, s);
			if (r < 0)
				goto out;
			changed |= r;
			continue;
		}
		if (got >= IMAP_IDLE_MAX_READ) {
			/* a flood: let the caller fetch, ring again later */
			s->pending = true;
			break;
		}
		/* read until nothing is left: TLS may hold decrypted
		 * bytes */
		r = imap_conn_raw_recv_nowait(s->c, &n);
		if (r < 0)
			goto out;
		if (r == 0)
			break;
		got += n;
	}
	r = changed;
out:
	if (r < 0) {
		imap_conn_raw_break(s->c);
		imap_log(im, r, s->mailbox ? s->mailbox : "", "idle");
	}
	return r;
}

void
imap_idle_stop(struct imap *im)
{
	char saved[sizeof(im->msg)];

	/* a polite goodbye must not overwrite the error being reported */
	memcpy(saved, im->msg, sizeof(saved));
	raw_close(im, &im->idle);
	memcpy(im->msg, saved, sizeof(saved));
}
