/*
 * imap_conn.c - the IMAP transport over libcurl 7.88.  See imap_conn.h
 * for the contract.
 *
 * Two kinds of connection, each shaped by a pitfall verified on 7.88
 * (notes c-building-blocks.md section 1):
 *  - the easy handle does only what libcurl's IMAP code does safely: a
 *    custom request whose reply has no literal (STATUS, UID SEARCH in
 *    bounded windows: a long SEARCH line is clipped without an error,
 *    KNOWN_BUGS 3.1), the FETCH of one UID by URL, STORE/MOVE/COPY/
 *    EXPUNGE, APPEND.  Never a custom FETCH of a body: 7.88 runs
 *    literals through its line reader, clips them, and lets a mail line
 *    "A004 OK" end the command early.
 *  - a raw connection is CONNECT_ONLY: libcurl does the greeting,
 *    CAPABILITY, STARTTLS and AUTH, then the caller speaks IMAP itself
 *    and reads literals by length, so nothing inside a mail is ever
 *    taken for a server response.
 * curl_easy_send/recv have no timeouts (curl/curl#18991): every wait on a
 * connect-only handle is our own poll() against a deadline, and every byte
 * from the network lands in a buffer with an explicit cap.
 */
#include "imap_conn.h"

#include "imap_parse.h"
#include "log.h"

#include <curl/curl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define IMAP_DEF_CONNECT_TIMEOUT 15L
#define IMAP_DEF_TIMEOUT         60L
/* KNOWN_BUGS 3.1: libcurl clips reply lines longer than its buffer. */
#define IMAP_CURL_BUFSIZE (256L * 1024)
/* Untagged lines of one custom request (STATUS, a SEARCH window ...). */
#define IMAP_MAX_REPLY ((size_t)1 << 20)
/* The raw reader's read sizes. */
#define IMAP_RECV_CHUNK ((size_t)64 * 1024)
#define IMAP_BODY_CHUNK ((size_t)256 * 1024)

struct imap_conn {
	char *base;     /* owned: "imap://host:port", no trailing slash */
	char *user;     /* owned */
	char *password; /* owned or NULL, wiped before free */
	bool starttls;  /* imap:// must upgrade (always true for imaps) */
	bool insecure;  /* skip certificate checks (tests) */
	long connect_timeout, timeout; /* seconds */

	CURL *h;                   /* owned: the reused easy handle */
	char err[CURL_ERROR_SIZE]; /* h's CURLOPT_ERRORBUFFER */
	GByteArray *sink;          /* borrowed for one perform: write target */
	size_t sink_max;           /* length sink may reach */
	bool sink_full;            /* the write callback refused bytes */
	const guint8 *up;          /* borrowed for one APPEND */
	size_t up_len, up_pos;
	GByteArray *reply; /* owned: untagged lines of a custom request */
	bool close_after;  /* imap_conn_close_after: for the next request */
	char tagged[256];  /* first tagged NO/BAD of the request (error text) */

	char caps[2048];  /* " CAP1 CAP2 ", upper case, last list seen */
	bool caps_authed; /* caps came after login */
	char *msg;        /* borrowed: the client's error text */
	size_t msgsize;
};

/* A connect-only connection on which the caller speaks IMAP. */
struct imap_conn_raw {
	struct imap_conn *conn;    /* borrowed: settings, messages, caps */
	CURL *h;                   /* owned; NULL when closed */
	curl_socket_t fd;          /* borrowed from h */
	char err[CURL_ERROR_SIZE]; /* h's CURLOPT_ERRORBUFFER */
	const char *name;          /* borrowed literal, for logs */
	GByteArray *in;            /* owned: received bytes, unread from pos */
	size_t pos;
	char *line; /* owned: the current line, NUL-terminated */
	size_t line_len;
	char tagpfx[24]; /* random per connection */
	char tag[40];    /* tag of the command in flight */
	unsigned int seq;
	long io_ms;          /* longest wait for any byte */
	gint64 cmd_deadline; /* monotonic: the command in flight ends by */
	gint64 last_used;    /* monotonic: end of the last command */
	bool broken;         /* mid-response or failed: never reuse */
	bool bye;            /* the server said BYE */
	/* inside an over-long flag list (raw_skip_start): 0 no, else which
	 * kind, whether "\*" was in it, and the byte before */
	int skipping;
	bool skip_star;
	guint8 skip_prev;
	size_t skip_len; /* bytes skipped so far */
};

int
imap_conn_fail(struct imap_conn *c, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	g_vsnprintf(c->msg, c->msgsize, fmt, ap);
	va_end(ap);
	return r;
}

/* quote - a log-safe excerpt of network text (per-thread buffer: one
 * use per statement). */
static const char *
quote(const char *s)
{
	static _Thread_local char buf[96];

	return log_quote(s, buf, sizeof(buf));
}

/* imap_curl_err - map a CURLcode of an easy perform to -E, with detail. */
static int
imap_curl_err(struct imap_conn *im, CURLcode rc, const char *errbuf)
{
	const char *detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);
	bool server = false;
	int r;

	switch (rc) {
	case CURLE_OK:
		return 0;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_BAD_FUNCTION_ARGUMENT:
		r = -EINVAL;
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
		r = -EHOSTUNREACH;
		break;
	case CURLE_COULDNT_CONNECT:
		r = -ECONNREFUSED;
		break;
	case CURLE_OPERATION_TIMEDOUT:
		r = -ETIMEDOUT;
		break;
	case CURLE_LOGIN_DENIED:
		r = -EACCES;
		server = true;
		break;
	case CURLE_REMOTE_FILE_NOT_FOUND:
		/* 7.88 uses 78 for both; only the text tells them apart. */
		r = strstr(detail, "UIDVALIDITY") ? -ESTALE : -ENOENT;
		break;
	case CURLE_WRITE_ERROR:
		r = im->sink_full ? -EFBIG : -EIO;
		break;
	case CURLE_QUOTE_ERROR:   /* a tagged NO/BAD to a custom request */
	case CURLE_UPLOAD_FAILED: /* ... or to APPEND */
		r = im->tagged[0] ? imap_parse_tagged_err(im->tagged) : -EIO;
		server = true;
		break;
	case CURLE_WEIRD_SERVER_REPLY:
		r = -EPROTO;
		break;
	case CURLE_RECV_ERROR:
		/* a reply over libcurl's 300 KB line budget (CVE-2023-38039
		 * fix) is the server's fault, not the network's */
		r = strstr(detail, "Too large response") ? -EPROTO : -EIO;
		break;
	/* TLS could not be had or not be trusted: retrying will not help
	 * until someone fixes the server or the configuration. */
	case CURLE_USE_SSL_FAILED:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
		r = -EPROTO;
		break;
	case CURLE_OUT_OF_MEMORY:
		r = -ENOMEM;
		break;
	default: /* send/recv errors, TLS handshake resets, EOF ... */
		r = -EIO;
		break;
	}
	if (server && im->tagged[0])
		return imap_conn_fail(im, r, "%s (server: '%s')", detail,
		                      quote(im->tagged));
	return imap_conn_fail(im, r, "%s", detail);
}

/* imap_header_cb - every server line libcurl reads: catch capability
 * lists and the last tagged reply (error text).  Never a literal: we
 * never let libcurl read one through this path. */
static size_t
imap_header_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct imap_conn *im = ud;
	size_t n = size * nmemb, len = MIN(n, sizeof(im->caps) - 1);
	char line[sizeof(im->caps)];
	const char *s;

	memcpy(line, ptr, len);
	line[len] = '\0';
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		line[--len] = '\0';
	if (g_ascii_strncasecmp(line, "* CAPABILITY ", 13) == 0) {
		imap_parse_caps(line + 13, im->caps, sizeof(im->caps));
		im->caps_authed = false;
	} else if (line[0] != '*' && (s = strstr(line, "[CAPABILITY "))) {
		/* tagged OK of the login */
		imap_parse_caps(s + 12, im->caps, sizeof(im->caps));
		im->caps_authed = true;
	}
	/* Only the first NO/BAD: after a failure libcurl closes the
	 * connection, and the OK of its LOGOUT must not hide the reason. */
	if (line[0] != '*' && line[0] != '+' && im->tagged[0] == '\0') {
		const char *sp = strchr(line, ' ');

		if (sp && (g_ascii_strncasecmp(sp + 1, "NO", 2) == 0 ||
		           g_ascii_strncasecmp(sp + 1, "BAD", 3) == 0))
			g_strlcpy(im->tagged, line, sizeof(im->tagged));
	}
	return n;
}

/* imap_write_cb - reply lines or the FETCH literal, up to sink_max. */
static size_t
imap_write_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct imap_conn *im = ud;
	size_t n = size * nmemb;

	if (!im->sink || n > im->sink_max - im->sink->len) {
		/* 7.88 ignores CURLOPT_MAXFILESIZE for IMAP: this is the cap.
		 * Returning short aborts with CURLE_WRITE_ERROR. */
		im->sink_full = true;
		return 0;
	}
	g_byte_array_append(im->sink, (const guint8 *)ptr, (guint)n);
	return n;
}

/* imap_read_cb - the APPEND source. */
static size_t
imap_read_cb(char *buf, size_t size, size_t nitems, void *ud)
{
	struct imap_conn *im = ud;
	size_t n = MIN(size * nitems, im->up_len - im->up_pos);

	memcpy(buf, im->up + im->up_pos, n);
	im->up_pos += n;
	return n;
}

/* imap_debug_cb - the protocol at debug level, without credentials:
 * AUTHENTICATE/LOGIN arguments and SASL continuation lines are redacted,
 * bodies (DATA_*) and TLS records are never logged. */
static int
imap_debug_cb(CURL *h, curl_infotype type, char *data, size_t size, void *ud)
{
	const char *name = ud, *dir, *sp;
	char line[256], q[96];
	size_t n = MIN(size, sizeof(line) - 1);

	(void)h;
	switch (type) {
	case CURLINFO_TEXT:
		dir = "*";
		break;
	case CURLINFO_HEADER_IN:
		dir = "<";
		break;
	case CURLINFO_HEADER_OUT:
		dir = ">";
		break;
	default:
		return 0;
	}
	memcpy(line, data, n);
	line[n] = '\0';
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	if (type == CURLINFO_HEADER_OUT) {
		sp = strchr(line, ' ');
		if (!sp) {
			/* no "tag command": a SASL response line */
			g_strlcpy(line, "<redacted>", sizeof(line));
		} else if (g_ascii_strncasecmp(sp + 1, "AUTHENTICATE ", 13) ==
		           0) {
			const char *mech = sp + 14;
			size_t keep =
			    (size_t)(mech - line) + strcspn(mech, " ");

			line[MIN(keep, sizeof(line) - 16)] = '\0';
			g_strlcat(line, " <redacted>", sizeof(line));
		} else if (g_ascii_strncasecmp(sp + 1, "LOGIN ", 6) == 0) {
			line[sp + 6 - line] = '\0';
			g_strlcat(line, " <redacted>", sizeof(line));
		}
	}
	log_debug("imap: %s %s %s", name, dir, log_quote(line, q, sizeof(q)));
	return 0;
}

/* imap_setup - the options every handle shares: TLS policy, auth,
 * timeouts, buffers.  -EINVAL if libcurl rejects one. */
static int
imap_setup(struct imap_conn *im, CURL *h, char *errbuf, const char *name)
{
	unsigned int bad = 0;

	bad |= curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	/* a daemon with threads and its own signal handling */
	bad |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	bad |= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "imap,imaps");
	bad |= curl_easy_setopt(h, CURLOPT_USERNAME, im->user);
	if (im->password)
		bad |= curl_easy_setopt(h, CURLOPT_PASSWORD, im->password);
	/* ALL, never TRY: TRY silently continues in plaintext when a
	 * man in the middle strips STARTTLS from the capability list. */
	bad |= curl_easy_setopt(h, CURLOPT_USE_SSL,
	                        im->starttls ? (long)CURLUSESSL_ALL
	                                     : (long)CURLUSESSL_NONE);
	if (im->insecure) {
		bad |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		bad |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	bad |= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, im->connect_timeout);
	bad |=
	    curl_easy_setopt(h, CURLOPT_SERVER_RESPONSE_TIMEOUT, im->timeout);
	bad |= curl_easy_setopt(h, CURLOPT_TIMEOUT,
	                        im->timeout * IMAP_CONN_TOTAL_FACTOR);
	/* The response timeout does not cover a FETCH literal, which
	 * libcurl reads in its transfer phase: this catches a stall. */
	bad |= curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	bad |= curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, im->timeout);
	bad |= curl_easy_setopt(h, CURLOPT_BUFFERSIZE, IMAP_CURL_BUFSIZE);
	/* finds a dead peer under a long IDLE or a NAT that forgot us */
	bad |= curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	bad |= curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 60L);
	bad |= curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 20L);
	bad |= curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, imap_header_cb);
	bad |= curl_easy_setopt(h, CURLOPT_HEADERDATA, im);
	if (log_get_level() >= LOGP_DEBUG) {
		bad |=
		    curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, imap_debug_cb);
		bad |= curl_easy_setopt(h, CURLOPT_DEBUGDATA, name);
		bad |= curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
	}
	if (bad)
		return imap_conn_fail(im, -EINVAL,
		                      "libcurl rejected an option");
	return 0;
}

char *
imap_conn_url(const struct imap_conn *im, const char *mbox,
              uint32_t uidvalidity, uint32_t uid)
{
	GString *s = g_string_new(im->base);

	g_string_append_c(s, '/');
	if (mbox) {
		char *esc = g_uri_escape_string(mbox, NULL, FALSE);

		g_string_append(s, esc);
		g_free(esc);
	}
	if (uidvalidity)
		g_string_append_printf(s, ";UIDVALIDITY=%u", uidvalidity);
	if (uid)
		g_string_append_printf(s, ";UID=%u", uid);
	return g_string_free(s, FALSE);
}

/* imap_perform - one request on the easy handle.  custom NULL lets
 * libcurl build the command from the URL (FETCH, APPEND).  Reply lines or
 * the FETCH literal go to sink, which may grow to sink_max bytes. */
static int
imap_perform(struct imap_conn *im, const char *url, const char *custom,
             GByteArray *sink, size_t sink_max)
{
	unsigned int bad = 0;
	CURLcode rc;

	im->err[0] = '\0';
	im->tagged[0] = '\0';
	im->sink = sink;
	im->sink_max = sink_max;
	im->sink_full = false;
	/* every per-request option, every time: the handle is reused */
	bad |= curl_easy_setopt(im->h, CURLOPT_URL, url);
	bad |= curl_easy_setopt(im->h, CURLOPT_CUSTOMREQUEST, custom);
	bad |= curl_easy_setopt(im->h, CURLOPT_FORBID_REUSE,
	                        im->close_after ? 1L : 0L);
	im->close_after = false;
	bad |= curl_easy_setopt(im->h, CURLOPT_UPLOAD, im->up ? 1L : 0L);
	bad |=
	    curl_easy_setopt(im->h, CURLOPT_INFILESIZE_LARGE,
	                     im->up ? (curl_off_t)im->up_len : (curl_off_t)-1);
	if (bad)
		return imap_conn_fail(im, -EINVAL,
		                      "libcurl rejected an option");
	rc = curl_easy_perform(im->h);
	im->sink = NULL;
	return imap_curl_err(im, rc, im->err);
}

int
imap_conn_custom(struct imap_conn *im, const char *url, const char *cmd)
{
	int r;

	g_byte_array_set_size(im->reply, 0);
	r = imap_perform(im, url, cmd, im->reply, IMAP_MAX_REPLY);
	if (r == -EFBIG)
		return imap_conn_fail(im, -EPROTO,
		                      "reply to '%s' over %zu bytes", cmd,
		                      IMAP_MAX_REPLY);
	if (r == 0 && im->reply->len > 0 &&
	    im->reply->data[im->reply->len - 1] != '\n')
		g_byte_array_append(im->reply, (const guint8 *)"\n", 1);
	return r;
}

GByteArray *
imap_conn_reply(struct imap_conn *im)
{
	return im->reply;
}

void
imap_conn_close_after(struct imap_conn *im)
{
	im->close_after = true;
}

int
imap_conn_capability(struct imap_conn *im)
{
	char *url = imap_conn_url(im, NULL, 0, 0);
	int r = imap_conn_custom(im, url, "CAPABILITY");

	if (r == 0)
		r = imap_parse_caps_reply(im->reply, im->caps, sizeof(im->caps),
		                          im->msg, im->msgsize);
	g_free(url);
	if (r > 0)
		im->caps_authed = true;
	if (r == 0 && !im->caps_authed)
		r = imap_conn_fail(im, -EPROTO, "no CAPABILITY reply");
	return r < 0 ? r : 0;
}

int
imap_conn_fetch_url(struct imap_conn *im, const char *url, GByteArray *out,
                    size_t max)
{
	return imap_perform(im, url, NULL, out, max);
}

int
imap_conn_append(struct imap_conn *im, const char *url, const void *raw,
                 size_t len)
{
	int r;

	im->up = raw;
	im->up_len = len;
	im->up_pos = 0;
	g_byte_array_set_size(im->reply, 0);
	r = imap_perform(im, url, NULL, im->reply, IMAP_MAX_REPLY);
	im->up = NULL;
	return r;
}

long
imap_conn_timeout(const struct imap_conn *im)
{
	return im->timeout;
}

bool
imap_conn_has_cap(const struct imap_conn *im, const char *cap)
{
	return imap_parse_has_cap(im->caps, cap);
}

bool
imap_conn_caps_authed(const struct imap_conn *im)
{
	return im->caps_authed;
}

void
imap_conn_set_caps(struct imap_conn *im, const char *list)
{
	imap_parse_caps(list, im->caps, sizeof(im->caps));
	im->caps_authed = true;
}

/* --- raw connections --- */

struct imap_conn_raw *
imap_conn_raw_new(struct imap_conn *conn, const char *name)
{
	struct imap_conn_raw *c = g_new0(struct imap_conn_raw, 1);

	c->conn = conn;
	c->name = name;
	c->fd = CURL_SOCKET_BAD;
	c->in = g_byte_array_new();
	c->line = g_malloc(IMAP_PARSE_MAX_LINE + 1);
	c->line[0] = '\0';
	return c;
}

void
imap_conn_raw_drop(struct imap_conn_raw *c)
{
	if (c->h)
		curl_easy_cleanup(c->h);
	c->h = NULL;
	c->fd = CURL_SOCKET_BAD;
	g_byte_array_set_size(c->in, 0);
	c->pos = 0;
	c->broken = c->bye = false;
	c->skipping = 0;
}

void
imap_conn_raw_free(struct imap_conn_raw **pc)
{
	struct imap_conn_raw *c;

	if (!pc || !*pc)
		return;
	c = *pc;
	imap_conn_raw_drop(c);
	g_byte_array_unref(c->in);
	g_free(c->line);
	g_free(c);
	*pc = NULL;
}

bool
imap_conn_raw_is_open(const struct imap_conn_raw *c)
{
	return c->h != NULL;
}

bool
imap_conn_raw_broken(const struct imap_conn_raw *c)
{
	return c->broken;
}

void
imap_conn_raw_break(struct imap_conn_raw *c)
{
	c->broken = true;
}

void
imap_conn_raw_bye(struct imap_conn_raw *c)
{
	c->bye = true;
}

const char *
imap_conn_raw_name(const struct imap_conn_raw *c)
{
	return c->name;
}

int
imap_conn_raw_fd(const struct imap_conn_raw *c)
{
	return c->h ? (int)c->fd : -1;
}

const char *
imap_conn_raw_tag(const struct imap_conn_raw *c)
{
	return c->tag;
}

const char *
imap_conn_raw_line(const struct imap_conn_raw *c, size_t *len_r)
{
	*len_r = c->line_len;
	return c->line;
}

void
imap_conn_raw_done(struct imap_conn_raw *c)
{
	c->last_used = g_get_monotonic_time();
}

gint64
imap_conn_raw_age_us(const struct imap_conn_raw *c)
{
	return g_get_monotonic_time() - c->last_used;
}

void
imap_conn_raw_hurry(struct imap_conn_raw *c, long ms)
{
	c->io_ms = MIN(c->io_ms, ms);
	c->cmd_deadline = g_get_monotonic_time() + (gint64)ms * 1000;
}

/* raw_wait - poll for events until the deadline, at most io_ms. */
static int
raw_wait(struct imap_conn *im, struct imap_conn_raw *c, short events,
         gint64 deadline)
{
	struct pollfd pfd = {.fd = c->fd, .events = events};

	for (;;) {
		gint64 left = (deadline - g_get_monotonic_time()) / 1000;
		int pr;

		if (left > c->io_ms)
			left = c->io_ms;
		if (left <= 0)
			break;
		pr = poll(&pfd, 1, (int)left);
		if (pr > 0)
			return 0; /* POLLERR/POLLHUP: recv reports it */
		if (pr == 0)
			break;
		if (errno != EINTR) {
			int e = errno;

			c->broken = true;
			return imap_conn_fail(im, -e, "poll: %s",
			                      g_strerror(e));
		}
	}
	c->broken = true;
	return imap_conn_fail(im, -ETIMEDOUT,
	                      "%s connection: server silent or "
	                      "too slow (timeout %lds)",
	                      c->name, im->timeout);
}

/* raw_late - the deadline passed.  Checked before every read, not
 * only in poll(): a server that floods never lets us reach poll(). */
static int
raw_late(struct imap_conn *im, struct imap_conn_raw *c, gint64 deadline)
{
	if (g_get_monotonic_time() <= deadline)
		return 0;
	c->broken = true;
	return imap_conn_fail(im, -ETIMEDOUT,
	                      "%s connection: reply not complete "
	                      "within %ld s",
	                      c->name, im->timeout * IMAP_CONN_TOTAL_FACTOR);
}

/* raw_recv - some bytes (n_r > 0) or -E. */
static int
raw_recv(struct imap_conn *im, struct imap_conn_raw *c, void *buf, size_t len,
         gint64 deadline, size_t *n_r)
{
	for (;;) {
		size_t n = 0;
		CURLcode rc;
		int r = raw_late(im, c, deadline);

		if (r < 0)
			return r;
		rc = curl_easy_recv(c->h, buf, len, &n);

		if (rc == CURLE_OK && n > 0) {
			*n_r = n;
			return 0;
		}
		if (rc == CURLE_OK) {
			c->broken = true;
			return imap_conn_fail(
			    im, c->bye ? -ENOTCONN : -ECONNRESET,
			    "server closed the %s connection%s", c->name,
			    c->bye ? " after BYE" : "");
		}
		if (rc != CURLE_AGAIN) {
			c->broken = true;
			return imap_conn_fail(im, -EIO, "recv: %s",
			                      curl_easy_strerror(rc));
		}
		/* Only after CURLE_AGAIN: with TLS, OpenSSL may hold
		 * decrypted bytes that poll() cannot see. */
		r = raw_wait(im, c, POLLIN, deadline);
		if (r < 0)
			return r;
	}
}

int
imap_conn_raw_send(struct imap_conn_raw *c, const char *buf, size_t len)
{
	struct imap_conn *im = c->conn;
	gint64 deadline = g_get_monotonic_time() + (gint64)c->io_ms * 1000;

	while (len > 0) {
		size_t n = 0;
		CURLcode rc = curl_easy_send(c->h, buf, len, &n);
		int r;

		if (rc == CURLE_OK && n > 0) {
			buf += n;
			len -= n;
			continue;
		}
		if (rc != CURLE_OK && rc != CURLE_AGAIN) {
			c->broken = true;
			return imap_conn_fail(im, -EIO, "send: %s",
			                      curl_easy_strerror(rc));
		}
		r = raw_wait(im, c, POLLOUT, deadline);
		if (r < 0)
			return r;
	}
	return 0;
}

/* raw_room - drop the bytes already taken from c->in and make room for
 * one read at its end; *old_r is the length before that room. */
static guint8 *
raw_room(struct imap_conn_raw *c, size_t *old_r)
{
	if (c->pos > 0) {
		memmove(c->in->data, c->in->data + c->pos, c->in->len - c->pos);
		g_byte_array_set_size(c->in, c->in->len - c->pos);
		c->pos = 0;
	}
	*old_r = c->in->len;
	g_byte_array_set_size(c->in, *old_r + IMAP_RECV_CHUNK);
	return c->in->data + *old_r;
}

/* raw_fill - append what the server sends next to c->in. */
static int
raw_fill(struct imap_conn *im, struct imap_conn_raw *c, gint64 deadline)
{
	size_t old, n = 0;
	guint8 *p = raw_room(c, &old);
	int r = raw_recv(im, c, p, IMAP_RECV_CHUNK, deadline, &n);

	g_byte_array_set_size(c->in, old + n);
	return r;
}

/*
 * The one kind of response line that honestly outgrows any bound: a
 * mailbox's keywords, all of them, in the FLAGS and PERMANENTFLAGS of
 * every SELECT and EXAMINE.  Dovecot 2.3 keeps every keyword a mailbox
 * ever had: after 7,000 distinct ones (added and removed again) both
 * lines were 84 KB.  Such a line is read to its end without being kept
 * and stands as a short one: "* FLAGS ()" (tickd uses none), or
 * PERMANENTFLAGS with only "\*" if the list had it (new keywords may be
 * created; whether one of ours was listed is lost, the safe side).
 */
enum { RAW_SKIP_NONE = 0, RAW_SKIP_FLAGS, RAW_SKIP_PERM };
/* A flag list longer than this is garbage, not keywords. */
#define RAW_SKIP_MAX ((size_t)16 << 20)

/* raw_skip_start - is the over-long line at s a flag list?  Then start
 * skipping it. */
static bool
raw_skip_start(struct imap_conn_raw *c, const guint8 *s)
{
	static const char flags[] = "* FLAGS (",
	                  perm[] = "* OK [PERMANENTFLAGS (";

	if (g_ascii_strncasecmp((const char *)s, flags, sizeof(flags) - 1) == 0)
		c->skipping = RAW_SKIP_FLAGS;
	else if (g_ascii_strncasecmp((const char *)s, perm, sizeof(perm) - 1) ==
	         0)
		c->skipping = RAW_SKIP_PERM;
	else
		return false;
	c->skip_star = false;
	c->skip_prev = 0;
	c->skip_len = 0;
	return true;
}

/* raw_skip - consume the skipped line's bytes in c->in: 1 and the short
 * line in c->line at its end, 0 need more bytes, -EPROTO past
 * RAW_SKIP_MAX. */
static int
raw_skip(struct imap_conn_raw *c)
{
	const guint8 *s = c->in->data + c->pos;
	size_t avail = c->in->len - c->pos, i;

	for (i = 0; i < avail && s[i] != '\n'; i++) {
		if (c->skip_prev == '\\' && s[i] == '*')
			c->skip_star = true;
		c->skip_prev = s[i];
	}
	c->pos += i;
	c->skip_len += i;
	if (c->skip_len > RAW_SKIP_MAX) {
		c->broken = true;
		return imap_conn_fail(c->conn, -EPROTO,
		                      "flag list over %zu bytes", RAW_SKIP_MAX);
	}
	if (i == avail)
		return 0;
	c->pos++;
	c->line_len = (size_t)g_snprintf(
	    c->line, IMAP_PARSE_MAX_LINE + 1, "%s",
	    c->skipping == RAW_SKIP_FLAGS ? "* FLAGS ()"
	    : c->skip_star ? "* OK [PERMANENTFLAGS (\\*)] list cut"
	                   : "* OK [PERMANENTFLAGS ()] list cut");
	c->skipping = RAW_SKIP_NONE;
	return 1;
}

/* raw_take_line - move one complete line from c->in to c->line: 1 done,
 * 0 need more bytes, -EPROTO for a line over IMAP_PARSE_MAX_LINE (but a
 * flag list, see above) or a NUL. */
int
imap_conn_raw_take_line(struct imap_conn_raw *c)
{
	struct imap_conn *im = c->conn;
	const guint8 *s = c->in->data + c->pos;
	size_t avail = c->in->len - c->pos, len;
	const guint8 *nl;

	if (avail == 0) /* data may be NULL before the first read */
		return 0;
	if (c->skipping)
		return raw_skip(c);
	nl = memchr(s, '\n', MIN(avail, IMAP_PARSE_MAX_LINE + 2));
	if (!nl) {
		if (avail >= IMAP_PARSE_MAX_LINE + 2 && raw_skip_start(c, s))
			return raw_skip(c);
		if (avail >= IMAP_PARSE_MAX_LINE + 2) {
			c->broken = true;
			return imap_conn_fail(im, -EPROTO,
			                      "response line over %zu bytes",
			                      IMAP_PARSE_MAX_LINE);
		}
		return 0;
	}
	len = (size_t)(nl - s);
	c->pos += len + 1;
	if (len > 0 && s[len - 1] == '\r')
		len--;
	if (len > IMAP_PARSE_MAX_LINE || memchr(s, '\0', len)) {
		c->broken = true;
		return imap_conn_fail(im, -EPROTO,
		                      "response line too long or "
		                      "with a NUL byte");
	}
	memcpy(c->line, s, len);
	c->line[len] = '\0';
	c->line_len = len;
	return 1;
}

/* raw_read_line - the next line; the whole line must arrive within one
 * timeout and the command within its own deadline. */
int
imap_conn_raw_read_line(struct imap_conn_raw *c)
{
	struct imap_conn *im = c->conn;
	gint64 deadline = g_get_monotonic_time() + (gint64)c->io_ms * 1000;

	if (deadline > c->cmd_deadline)
		deadline = c->cmd_deadline;
	for (;;) {
		int r = raw_late(im, c, c->cmd_deadline);

		if (r < 0)
			return r;
		r = imap_conn_raw_take_line(c);

		if (r != 0)
			return r < 0 ? r : 0;
		r = raw_fill(im, c, deadline);
		if (r < 0)
			return r;
	}
}

/* raw_read_literal - exactly n bytes into dst (NULL: discard).  The
 * caller has checked n against its cap; dst grows as bytes arrive. */
int
imap_conn_raw_read_literal(struct imap_conn_raw *c, uint64_t n, GByteArray *dst)
{
	struct imap_conn *im = c->conn;
	gint64 now = g_get_monotonic_time();
	gint64 deadline =
	    now + (gint64)c->io_ms * 1000 * IMAP_CONN_TOTAL_FACTOR;
	size_t take = (size_t)MIN((uint64_t)(c->in->len - c->pos), n);

	if (dst)
		g_byte_array_append(dst, c->in->data + c->pos, (guint)take);
	c->pos += take;
	n -= take;
	while (n > 0) {
		size_t want, got = 0, old = 0;
		guint8 *p;
		int r;

		/* c->in is drained now; big bodies go straight to dst */
		g_byte_array_set_size(c->in, 0);
		c->pos = 0;
		if (dst) {
			want = (size_t)MIN(n, (uint64_t)IMAP_BODY_CHUNK);
			old = dst->len;
			g_byte_array_set_size(dst, (guint)(old + want));
			p = dst->data + old;
		} else {
			want = (size_t)MIN(n, (uint64_t)IMAP_RECV_CHUNK);
			g_byte_array_set_size(c->in, (guint)want);
			p = c->in->data;
		}
		r = raw_recv(im, c, p, want, deadline, &got);
		if (dst)
			g_byte_array_set_size(dst, (guint)(old + got));
		else
			g_byte_array_set_size(c->in, 0);
		if (r < 0)
			return r;
		n -= got;
	}
	if (dst) {
		/* a whole message arrived: that is progress, so the command
		 * may run on (a long range is many messages) */
		now = g_get_monotonic_time() +
		      (gint64)c->io_ms * 1000 * IMAP_CONN_TOTAL_FACTOR;
		if (c->cmd_deadline < now)
			c->cmd_deadline = now;
	}
	return 0;
}

int
imap_conn_raw_cmd(struct imap_conn_raw *c, const char *cmd)
{
	char *line;
	int r;

	g_snprintf(c->tag, sizeof(c->tag), "%s.%u", c->tagpfx, ++c->seq);
	line = g_strdup_printf("%s %s\r\n", c->tag, cmd);
	log_debug("imap: %s > %s %s", c->name, c->tag, quote(cmd));
	c->cmd_deadline = g_get_monotonic_time() +
	                  (gint64)c->io_ms * 1000 * IMAP_CONN_TOTAL_FACTOR;
	r = imap_conn_raw_send(c, line, strlen(line));
	g_free(line);
	return r;
}

int
imap_conn_raw_recv_nowait(struct imap_conn_raw *c, size_t *n_r)
{
	size_t old, n = 0;
	guint8 *p = raw_room(c, &old);
	CURLcode rc = curl_easy_recv(c->h, p, IMAP_RECV_CHUNK, &n);

	g_byte_array_set_size(c->in, old + (rc == CURLE_OK ? n : 0));
	if (rc == CURLE_AGAIN)
		return 0;
	if (rc != CURLE_OK)
		return imap_conn_fail(c->conn, -EIO, "recv: %s",
		                      curl_easy_strerror(rc));
	if (n == 0)
		return imap_conn_fail(c->conn, c->bye ? -ENOTCONN : -ECONNRESET,
		                      "server closed the %s connection",
		                      c->name);
	*n_r = n;
	return 1;
}

int
imap_conn_raw_open(struct imap_conn_raw *c)
{
	struct imap_conn *im = c->conn;
	guint32 rnd[2];
	char *url = NULL;
	CURLcode rc;
	int r;

	imap_conn_raw_drop(c);
	c->h = curl_easy_init();
	if (!c->h)
		return imap_conn_fail(im, -ENOMEM, "curl_easy_init failed");
	r = imap_setup(im, c->h, c->err, c->name);
	if (r < 0)
		goto out;
	url = imap_conn_url(im, NULL, 0, 0);
	if (curl_easy_setopt(c->h, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(c->h, CURLOPT_CONNECT_ONLY, 1L) != CURLE_OK) {
		r = imap_conn_fail(im, -EINVAL, "libcurl rejected an option");
		goto out;
	}
	c->err[0] = '\0';
	im->tagged[0] = '\0';
	rc = curl_easy_perform(c->h);
	r = imap_curl_err(im, rc, c->err);
	if (r < 0)
		goto out;
	if (curl_easy_getinfo(c->h, CURLINFO_ACTIVESOCKET, &c->fd) !=
	        CURLE_OK ||
	    c->fd == CURL_SOCKET_BAD) {
		r = imap_conn_fail(im, -ENOTCONN, "no socket after connect");
		goto out;
	}
	if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd)) {
		rnd[0] = g_random_int();
		rnd[1] = g_random_int();
	}
	g_snprintf(c->tagpfx, sizeof(c->tagpfx), "t%08x%08x", rnd[0], rnd[1]);
	c->seq = 0;
	c->io_ms = im->timeout * 1000;
	c->last_used = g_get_monotonic_time();
out:
	g_free(url);
	if (r < 0)
		imap_conn_raw_drop(c);
	return r;
}

/* is_loopback - plaintext is only for tests on this machine. */
static bool
is_loopback(const char *host)
{
	return strcmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0 ||
	       strncmp(host, "127.", 4) == 0;
}

struct imap_conn *
imap_conn_new(const struct imap_params *p, char *msg, size_t msgsize)
{
	struct imap_conn *im = NULL;
	CURLU *u = NULL;
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
	char *uinfo = NULL;
	bool implicit, ok = false;

	if (!p || !p->url || !p->user) {
		log_err("imap: new: url and user are required");
		goto out;
	}
	u = curl_url();
	if (!u || curl_url_set(u, CURLUPART_URL, p->url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		log_err("imap: new: url is not imap(s)://host[:port]");
		goto out;
	}
	(void)curl_url_get(u, CURLUPART_PORT, &port, 0);
	(void)curl_url_get(u, CURLUPART_PATH, &path, 0);
	(void)curl_url_get(u, CURLUPART_USER, &uinfo, 0);
	if ((strcmp(scheme, "imap") != 0 && strcmp(scheme, "imaps") != 0) ||
	    (path && strcmp(path, "/") != 0 && path[0] != '\0') || uinfo) {
		/* no echo of the url: it might hold a password */
		log_err("imap: new: url is not imap(s)://host[:port]");
		goto out;
	}
	implicit = strcmp(scheme, "imaps") == 0;
	im = g_new0(struct imap_conn, 1);
	im->msg = msg;
	im->msgsize = msgsize;
	im->base = port ? g_strdup_printf("%s://%s:%s", scheme, host, port)
	                : g_strdup_printf("%s://%s", scheme, host);
	im->user = g_strdup(p->user);
	im->password = g_strdup(p->password);
	im->starttls = implicit || p->starttls;
	im->insecure = p->insecure_skip_verify;
	im->connect_timeout = p->connect_timeout > 0 ? p->connect_timeout
	                                             : IMAP_DEF_CONNECT_TIMEOUT;
	im->timeout = p->timeout > 0 ? p->timeout : IMAP_DEF_TIMEOUT;
	im->reply = g_byte_array_new();
	if (!im->starttls && !is_loopback(host))
		log_warning("imap: new '%s': plaintext IMAP, the password "
		            "crosses the network in clear",
		            im->base);
	if (im->insecure)
		log_warning("imap: new '%s': certificate checks are off",
		            im->base);
	im->h = curl_easy_init();
	if (!im->h || imap_setup(im, im->h, im->err, "main") < 0 ||
	    curl_easy_setopt(im->h, CURLOPT_WRITEFUNCTION, imap_write_cb) ||
	    curl_easy_setopt(im->h, CURLOPT_WRITEDATA, im) ||
	    curl_easy_setopt(im->h, CURLOPT_READFUNCTION, imap_read_cb) ||
	    curl_easy_setopt(im->h, CURLOPT_READDATA, im)) {
		log_err("imap: new '%s': cannot set up libcurl", im->base);
		goto out;
	}
	ok = true;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_free(uinfo);
	curl_url_cleanup(u);
	if (!ok)
		imap_conn_free(&im);
	return im;
}

void
imap_conn_free(struct imap_conn **pc)
{
	struct imap_conn *im;

	if (!pc || !*pc)
		return;
	im = *pc;
	if (im->h)
		curl_easy_cleanup(im->h); /* sends LOGOUT itself */
	if (im->reply)
		g_byte_array_unref(im->reply);
	if (im->password) {
		explicit_bzero(im->password, strlen(im->password));
		g_free(im->password);
	}
	g_free(im->user);
	g_free(im->base);
	g_free(im);
	*pc = NULL;
}
