/*
 * imap.c - IMAP client over libcurl 7.88.  See imap.h for the contract.
 *
 * Three connections, each shaped by a pitfall verified on 7.88 (notes
 * c-building-blocks.md section 1):
 *  - the easy handle does only what libcurl's IMAP code does safely:
 *    STATUS as a custom request (no SELECT), UID SEARCH in bounded windows
 *    (a long SEARCH line is clipped without an error, KNOWN_BUGS 3.1), the
 *    FETCH of one UID by URL, STORE/MOVE/COPY/EXPUNGE, APPEND.  Never a
 *    custom FETCH of a body: 7.88 runs literals through its line reader,
 *    clips them, and lets a mail line "A004 OK" end the command early.
 *  - the range connection is CONNECT_ONLY: libcurl does the greeting,
 *    CAPABILITY, STARTTLS and AUTH, then the reader below speaks EXAMINE
 *    and UID FETCH (BODY.PEEK[]) itself and reads literals by length, so
 *    nothing inside a mail is ever taken for a server response.
 *  - the IDLE connection, also CONNECT_ONLY, is only a doorbell.
 * curl_easy_send/recv have no timeouts (curl/curl#18991): every wait on a
 * connect-only handle is our own poll() against a deadline, and every byte
 * from the network lands in a buffer with an explicit cap.
 */
#include "imap.h"

#include "log.h"

#include <curl/curl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define IMAP_DEF_CONNECT_TIMEOUT 15L
#define IMAP_DEF_TIMEOUT         60L
#define IMAP_DEF_MAX_MESSAGE     ((size_t)25 << 20)
/* KNOWN_BUGS 3.1: libcurl clips reply lines longer than its buffer. */
#define IMAP_CURL_BUFSIZE (256L * 1024)
/* One message, or one whole command, must finish within 10 x timeout:
 * a server that trickles a byte now and then cannot hold us forever. */
#define IMAP_TOTAL_FACTOR 10
/* Untagged lines of one custom request (STATUS, a SEARCH window ...). */
#define IMAP_MAX_REPLY ((size_t)1 << 20)
/* UIDs per SEARCH window: <= 4096 numbers of <= 11 bytes, far below the
 * 256 KiB libcurl buffer, so no SEARCH line is ever clipped. */
#define IMAP_SEARCH_WINDOW 4096u
/* Bytes of UID set per command, so command lines stay short for any
 * server (Dovecot allows 64 KiB, some servers 8 KiB). */
#define IMAP_SET_MAX 1000
/* UIDs per range FETCH command: bounds the per-chunk arrays. */
#define IMAP_CHUNK_MAX 5000
/* The raw reader: longest response line, and the longest literal we
 * accept anywhere but in BODY[] (nothing we ask for has one). */
#define IMAP_MAX_LINE      ((size_t)64 * 1024)
#define IMAP_MAX_SMALL_LIT ((size_t)64 * 1024)
#define IMAP_RECV_CHUNK    ((size_t)64 * 1024)
#define IMAP_BODY_CHUNK    ((size_t)256 * 1024)
#define IMAP_MAX_DEPTH     16
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
#define FETCH_BIG   1 /* fetch_parse: BODY[] over the cap, left unread */

/* A connect-only connection on which we speak IMAP ourselves. */
struct imap_raw {
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
	bool idling;         /* IDLE sent and "+" received */
	bool pending;        /* a change seen while entering IDLE */
	char *mailbox;       /* owned: the EXAMINEd mailbox or NULL */
};

struct imap {
	char *base;     /* owned: "imap://host:port", no trailing slash */
	char *user;     /* owned */
	char *password; /* owned or NULL, wiped before free */
	bool starttls;  /* imap:// must upgrade (always true for imaps) */
	bool insecure;  /* skip certificate checks (tests) */
	long connect_timeout, timeout; /* seconds */
	size_t max_message;

	CURL *h;                   /* owned: the reused easy handle */
	char err[CURL_ERROR_SIZE]; /* h's CURLOPT_ERRORBUFFER */
	GByteArray *sink;          /* borrowed for one perform: write target */
	size_t sink_max;           /* length sink may reach */
	bool sink_full;            /* the write callback refused bytes */
	const guint8 *up;          /* borrowed for one APPEND */
	size_t up_len, up_pos;
	GByteArray *reply; /* owned: untagged lines of a custom request */
	char tagged[256];  /* first tagged NO/BAD of the request (error text) */

	char caps[2048];  /* " CAP1 CAP2 ", upper case, last list seen */
	bool caps_authed; /* caps came after login */

	struct imap_raw fetch; /* the range fast path */
	struct imap_raw idle;  /* the doorbell */
	bool range_off;        /* fast path disabled: its reader failed */
	bool warned_uidplus;
	char msg[512]; /* imap_error() */
};

/* A cursor over one response; c is where literals and the lines after
 * them come from (NULL: a single line from the easy handle). */
struct cur {
	struct imap_raw *c;
	const char *s;
	size_t len, p;
};

struct fetch_item {
	uint32_t uid;
	uint64_t size;     /* RFC822.SIZE */
	uint64_t body_len; /* announced literal length when body_big */
	bool has_uid, has_size, has_body, body_nil, body_big, seen;
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
	bool changed;         /* EXISTS, RECENT or EXPUNGE seen */
	bool want_cont;       /* return at a "+" continuation (IDLE) */
	bool cont;
	struct range *rg; /* RAW_SIZES, RAW_BODIES */
};

static int imap_fail(struct imap *im, int r, const char *fmt, ...)
    PRINTF_LIKE(3, 4);
static void imap_log(struct imap *im, int r, const char *object,
                     const char *fmt, ...) PRINTF_LIKE(4, 5);

/* imap_fail - record the reason for imap_error(); returns r. */
static int
imap_fail(struct imap *im, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	g_vsnprintf(im->msg, sizeof(im->msg), fmt, ap);
	va_end(ap);
	return r;
}

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
	else if (r == -EFBIG)
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

/* imap_tagged_err - errno for a tagged NO/BAD, by its RFC 5530 code. */
static int
imap_tagged_err(const char *text)
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

/* imap_curl_err - map a CURLcode of an easy perform to -E, with detail. */
static int
imap_curl_err(struct imap *im, CURLcode rc, const char *errbuf)
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
		r = im->tagged[0] ? imap_tagged_err(im->tagged) : -EIO;
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
		return imap_fail(im, r, "%s (server: '%s')", detail,
		                 quote(im->tagged));
	return imap_fail(im, r, "%s", detail);
}

/* caps_set - remember a capability list (text after "CAPABILITY "). */
static void
caps_set(struct imap *im, const char *s, bool authed)
{
	size_t o = 0;

	im->caps[o++] = ' ';
	while (*s && *s != ']') {
		const char *e;

		while (*s == ' ')
			s++;
		for (e = s; *e && *e != ' ' && *e != ']'; e++)
			;
		if (e == s || o + (size_t)(e - s) + 2 >= sizeof(im->caps))
			break;
		for (; s < e; s++)
			im->caps[o++] = g_ascii_toupper(*s);
		im->caps[o++] = ' ';
	}
	im->caps[o] = '\0';
	im->caps_authed = authed;
}

static bool
imap_has_cap(const struct imap *im, const char *cap)
{
	char want[64];

	g_snprintf(want, sizeof(want), " %s ", cap);
	return strstr(im->caps, want) != NULL;
}

/* imap_header_cb - every server line libcurl reads: catch capability
 * lists and the last tagged reply (error text).  Never a literal: we
 * never let libcurl read one through this path. */
static size_t
imap_header_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct imap *im = ud;
	size_t n = size * nmemb, len = MIN(n, sizeof(im->caps) - 1);
	char line[sizeof(im->caps)];
	const char *s;

	memcpy(line, ptr, len);
	line[len] = '\0';
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		line[--len] = '\0';
	if (g_ascii_strncasecmp(line, "* CAPABILITY ", 13) == 0)
		caps_set(im, line + 13, false);
	else if (line[0] != '*' && (s = strstr(line, "[CAPABILITY ")))
		caps_set(im, s + 12, true); /* tagged OK of the login */
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
	struct imap *im = ud;
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
	struct imap *im = ud;
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
imap_setup(struct imap *im, CURL *h, char *errbuf, const char *name)
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
	                        im->timeout * IMAP_TOTAL_FACTOR);
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
		return imap_fail(im, -EINVAL, "libcurl rejected an option");
	return 0;
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
static char *
imap_url(const struct imap *im, const char *mbox, uint32_t uidvalidity,
         uint32_t uid)
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
imap_perform(struct imap *im, const char *url, const char *custom,
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
	bad |= curl_easy_setopt(im->h, CURLOPT_UPLOAD, im->up ? 1L : 0L);
	bad |=
	    curl_easy_setopt(im->h, CURLOPT_INFILESIZE_LARGE,
	                     im->up ? (curl_off_t)im->up_len : (curl_off_t)-1);
	if (bad)
		return imap_fail(im, -EINVAL, "libcurl rejected an option");
	rc = curl_easy_perform(im->h);
	im->sink = NULL;
	return imap_curl_err(im, rc, im->err);
}

/* imap_custom - a custom command; its untagged lines end up in
 * im->reply, each ending in '\n'. */
static int
imap_custom(struct imap *im, const char *url, const char *cmd)
{
	int r;

	g_byte_array_set_size(im->reply, 0);
	r = imap_perform(im, url, cmd, im->reply, IMAP_MAX_REPLY);
	if (r == -EFBIG)
		return imap_fail(im, -EPROTO, "reply to '%s' over %zu bytes",
		                 cmd, IMAP_MAX_REPLY);
	if (r == 0 && im->reply->len > 0 &&
	    im->reply->data[im->reply->len - 1] != '\n')
		g_byte_array_append(im->reply, (const guint8 *)"\n", 1);
	return r;
}

/* reply_next - the next line of im->reply, NUL-terminated in place and
 * without CR; NULL at the end.  -EPROTO (via *r) on a NUL byte. */
static char *
reply_next(struct imap *im, size_t *pos, size_t *len_r, int *r)
{
	char *s, *nl;
	size_t len;

	*r = 0;
	if (*pos >= im->reply->len)
		return NULL;
	s = (char *)im->reply->data + *pos;
	nl = memchr(s, '\n', im->reply->len - *pos);
	if (!nl) /* imap_custom ends the reply with '\n' */
		return NULL;
	len = (size_t)(nl - s);
	*pos += len + 1;
	*nl = '\0';
	if (len > 0 && s[len - 1] == '\r')
		s[--len] = '\0';
	if (strlen(s) != len) {
		*r = imap_fail(im, -EPROTO, "NUL byte in a reply line");
		return NULL;
	}
	*len_r = len;
	return s;
}

/* --- a small cursor over IMAP response syntax (RFC 3501 section 9) --- */

static int
cur_peek(const struct cur *k)
{
	return k->p < k->len ? (unsigned char)k->s[k->p] : -1;
}

static int
cur_getc(struct cur *k)
{
	return k->p < k->len ? (unsigned char)k->s[k->p++] : -1;
}

static int
cur_bad(struct imap *im, const struct cur *k, const char *what)
{
	if (k->c)
		k->c->broken = true;
	return imap_fail(im, -EPROTO, "%s at '%s'", what,
	                 quote(k->s + MIN(k->p, k->len)));
}

static int
cur_u64(struct imap *im, struct cur *k, uint64_t *v_r)
{
	uint64_t v = 0;
	size_t start = k->p;

	while (k->p < k->len && g_ascii_isdigit(k->s[k->p])) {
		unsigned int d = (unsigned int)(k->s[k->p] - '0');

		if (v > (UINT64_MAX - d) / 10)
			return cur_bad(im, k, "number too large");
		v = v * 10 + d;
		k->p++;
	}
	if (k->p == start)
		return cur_bad(im, k, "number expected");
	*v_r = v;
	return 0;
}

static int
cur_u32(struct imap *im, struct cur *k, uint32_t *v_r)
{
	uint64_t v;
	int r = cur_u64(im, k, &v);

	if (r < 0)
		return r;
	if (v > UINT32_MAX)
		return cur_bad(im, k, "number over 32 bits");
	*v_r = (uint32_t)v;
	return 0;
}

/* cur_word - letters only ("FETCH", "EXISTS" ...); "" if none or if
 * too long to be one we know. */
static void
cur_word(struct cur *k, char *buf, size_t size)
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

/* cur_name - a FETCH item name, brackets included ("BODY[]<0>"). */
static int
cur_name(struct imap *im, struct cur *k, char *buf, size_t size)
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
			return cur_bad(im, k, "item name too long");
		buf[n++] = ch;
		k->p++;
	}
	buf[n] = '\0';
	if (n == 0 || br)
		return cur_bad(im, k, "item name expected");
	return 0;
}

/* line_literal - does the line end in "{n}"?  Then a literal of n bytes
 * follows it.  Only for response types that can carry one. */
static bool
line_literal(const char *s, size_t len, uint64_t *n_r)
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

/* --- the raw connection: bytes in and out with our own deadlines --- */

static void
raw_init(struct imap_raw *c, const char *name)
{
	memset(c, 0, sizeof(*c));
	c->name = name;
	c->fd = CURL_SOCKET_BAD;
	c->in = g_byte_array_new();
	c->line = g_malloc(IMAP_MAX_LINE + 1);
	c->line[0] = '\0';
}

/* raw_drop - close without a word: after errors, or mid-response. */
static void
raw_drop(struct imap_raw *c)
{
	if (c->h)
		curl_easy_cleanup(c->h);
	c->h = NULL;
	c->fd = CURL_SOCKET_BAD;
	g_free(c->mailbox);
	c->mailbox = NULL;
	if (c->in)
		g_byte_array_set_size(c->in, 0);
	c->pos = 0;
	c->broken = c->bye = c->idling = c->pending = false;
}

static void
raw_clear(struct imap_raw *c)
{
	raw_drop(c);
	if (c->in)
		g_byte_array_unref(c->in);
	c->in = NULL;
	g_free(c->line);
	c->line = NULL;
}

/* raw_wait - poll for events until the deadline, at most io_ms. */
static int
raw_wait(struct imap *im, struct imap_raw *c, short events, gint64 deadline)
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
			return imap_fail(im, -e, "poll: %s", g_strerror(e));
		}
	}
	c->broken = true;
	return imap_fail(im, -ETIMEDOUT,
	                 "%s connection: server silent or "
	                 "too slow (timeout %lds)",
	                 c->name, im->timeout);
}

/* raw_late - the deadline passed.  Checked before every read, not
 * only in poll(): a server that floods never lets us reach poll(). */
static int
raw_late(struct imap *im, struct imap_raw *c, gint64 deadline)
{
	if (g_get_monotonic_time() <= deadline)
		return 0;
	c->broken = true;
	return imap_fail(im, -ETIMEDOUT,
	                 "%s connection: reply not complete "
	                 "within %ld s",
	                 c->name, im->timeout * IMAP_TOTAL_FACTOR);
}

/* raw_recv - some bytes (n_r > 0) or -E. */
static int
raw_recv(struct imap *im, struct imap_raw *c, void *buf, size_t len,
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
			return imap_fail(im, c->bye ? -ENOTCONN : -ECONNRESET,
			                 "server closed the %s connection%s",
			                 c->name, c->bye ? " after BYE" : "");
		}
		if (rc != CURLE_AGAIN) {
			c->broken = true;
			return imap_fail(im, -EIO, "recv: %s",
			                 curl_easy_strerror(rc));
		}
		/* Only after CURLE_AGAIN: with TLS, OpenSSL may hold
		 * decrypted bytes that poll() cannot see. */
		r = raw_wait(im, c, POLLIN, deadline);
		if (r < 0)
			return r;
	}
}

static int
raw_send(struct imap *im, struct imap_raw *c, const char *buf, size_t len)
{
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
			return imap_fail(im, -EIO, "send: %s",
			                 curl_easy_strerror(rc));
		}
		r = raw_wait(im, c, POLLOUT, deadline);
		if (r < 0)
			return r;
	}
	return 0;
}

/* raw_fill - append what the server sends next to c->in. */
static int
raw_fill(struct imap *im, struct imap_raw *c, gint64 deadline)
{
	size_t old, n = 0;
	int r;

	if (c->pos > 0) {
		memmove(c->in->data, c->in->data + c->pos, c->in->len - c->pos);
		g_byte_array_set_size(c->in, c->in->len - c->pos);
		c->pos = 0;
	}
	old = c->in->len;
	g_byte_array_set_size(c->in, old + IMAP_RECV_CHUNK);
	r = raw_recv(im, c, c->in->data + old, IMAP_RECV_CHUNK, deadline, &n);
	g_byte_array_set_size(c->in, old + n);
	return r;
}

/* raw_take_line - move one complete line from c->in to c->line: 1 done,
 * 0 need more bytes, -EPROTO for a line over IMAP_MAX_LINE or a NUL. */
static int
raw_take_line(struct imap *im, struct imap_raw *c)
{
	const guint8 *s = c->in->data + c->pos;
	size_t avail = c->in->len - c->pos, len;
	const guint8 *nl;

	if (avail == 0) /* data may be NULL before the first read */
		return 0;
	nl = memchr(s, '\n', MIN(avail, IMAP_MAX_LINE + 2));
	if (!nl) {
		if (avail >= IMAP_MAX_LINE + 2) {
			c->broken = true;
			return imap_fail(im, -EPROTO,
			                 "response line over %zu bytes",
			                 IMAP_MAX_LINE);
		}
		return 0;
	}
	len = (size_t)(nl - s);
	c->pos += len + 1;
	if (len > 0 && s[len - 1] == '\r')
		len--;
	if (len > IMAP_MAX_LINE || memchr(s, '\0', len)) {
		c->broken = true;
		return imap_fail(im, -EPROTO,
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
static int
raw_read_line(struct imap *im, struct imap_raw *c)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)c->io_ms * 1000;

	if (deadline > c->cmd_deadline)
		deadline = c->cmd_deadline;
	for (;;) {
		int r = raw_late(im, c, c->cmd_deadline);

		if (r < 0)
			return r;
		r = raw_take_line(im, c);

		if (r != 0)
			return r < 0 ? r : 0;
		r = raw_fill(im, c, deadline);
		if (r < 0)
			return r;
	}
}

/* raw_read_literal - exactly n bytes into dst (NULL: discard).  The
 * caller has checked n against its cap; dst grows as bytes arrive. */
static int
raw_read_literal(struct imap *im, struct imap_raw *c, uint64_t n,
                 GByteArray *dst)
{
	gint64 now = g_get_monotonic_time();
	gint64 deadline = now + (gint64)c->io_ms * 1000 * IMAP_TOTAL_FACTOR;
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
		      (gint64)c->io_ms * 1000 * IMAP_TOTAL_FACTOR;
		if (c->cmd_deadline < now)
			c->cmd_deadline = now;
	}
	return 0;
}

/* raw_cmd - send "<tag> cmd".  Tags are unpredictable per connection:
 * the reader never needs that, but a mail cannot guess one either. */
static int
raw_cmd(struct imap *im, struct imap_raw *c, const char *cmd)
{
	char *line;
	int r;

	g_snprintf(c->tag, sizeof(c->tag), "%s.%u", c->tagpfx, ++c->seq);
	line = g_strdup_printf("%s %s\r\n", c->tag, cmd);
	log_debug("imap: %s > %s %s", c->name, c->tag, quote(cmd));
	c->cmd_deadline = g_get_monotonic_time() +
	                  (gint64)c->io_ms * 1000 * IMAP_TOTAL_FACTOR;
	r = raw_send(im, c, line, strlen(line));
	g_free(line);
	return r;
}

/* cur_next_line - after a literal, the line that continues the reply. */
static int
cur_next_line(struct imap *im, struct cur *k)
{
	int r;

	if (!k->c)
		return cur_bad(im, k, "literal where none can be read");
	r = raw_read_line(im, k->c);
	if (r < 0)
		return r;
	k->s = k->c->line;
	k->len = k->c->line_len;
	k->p = 0;
	return 0;
}

/* cur_literal - "{n}" at k, which must end the line. */
static int
cur_literal(struct imap *im, struct cur *k, uint64_t *n_r)
{
	uint64_t n;
	int r;

	if (cur_getc(k) != '{')
		return cur_bad(im, k, "literal expected");
	r = cur_u64(im, k, &n);
	if (r < 0)
		return r;
	if (cur_getc(k) != '}' || k->p != k->len)
		return cur_bad(im, k, "bad literal");
	if (!k->c)
		return cur_bad(im, k, "literal where none can be read");
	*n_r = n;
	return 0;
}

/* cur_quoted - a quoted string; unescaped into dst when dst is set. */
static int
cur_quoted(struct imap *im, struct cur *k, GByteArray *dst)
{
	k->p++; /* the opening quote */
	for (;;) {
		int ch = cur_getc(k);

		if (ch < 0)
			return cur_bad(im, k, "unterminated string");
		if (ch == '"')
			return 0;
		if (ch == '\\' && (ch = cur_getc(k)) < 0)
			return cur_bad(im, k, "unterminated string");
		if (dst) {
			guint8 b = (guint8)ch;

			g_byte_array_append(dst, &b, 1);
		}
	}
}

/* cur_skip - one value of any shape; small literals are drained. */
static int
cur_skip(struct imap *im, struct cur *k, int depth)
{
	uint64_t n;
	int r, ch;

	if (depth > IMAP_MAX_DEPTH)
		return cur_bad(im, k, "lists nested too deep");
	switch (cur_peek(k)) {
	case '(':
		k->p++;
		if (cur_peek(k) == ')') {
			k->p++;
			return 0;
		}
		for (;;) {
			r = cur_skip(im, k, depth + 1);
			if (r < 0)
				return r;
			ch = cur_getc(k);
			if (ch == ')')
				return 0;
			if (ch != ' ')
				return cur_bad(im, k, "bad list");
		}
	case '"':
		return cur_quoted(im, k, NULL);
	case '{':
		r = cur_literal(im, k, &n);
		if (r < 0)
			return r;
		if (n > IMAP_MAX_SMALL_LIT)
			return cur_bad(im, k, "unexpected large literal");
		r = raw_read_literal(im, k->c, n, NULL);
		if (r < 0)
			return r;
		return cur_next_line(im, k);
	case -1:
	case ' ':
	case ')':
		return cur_bad(im, k, "value expected");
	default:
		while (k->p < k->len && !strchr(" ()", k->s[k->p]))
			k->p++;
		return 0;
	}
}

/* cur_flags - "(\Seen \Answered ...)": only \Seen matters here. */
static int
cur_flags(struct imap *im, struct cur *k, struct fetch_item *it)
{
	if (cur_getc(k) != '(')
		return cur_bad(im, k, "flag list expected");
	while (cur_peek(k) != ')') {
		size_t start = k->p;

		while (k->p < k->len && !strchr(" ()", k->s[k->p]))
			k->p++;
		if (k->p == start)
			return cur_bad(im, k, "bad flag list");
		if (k->p - start == 5 &&
		    g_ascii_strncasecmp(k->s + start, "\\Seen", 5) == 0)
			it->seen = true;
		if (cur_peek(k) == ' ')
			k->p++;
	}
	k->p++;
	return 0;
}

static bool
fetch_is_body(const char *name)
{
	return g_ascii_strcasecmp(name, "BODY[]") == 0 ||
	       g_ascii_strncasecmp(name, "BODY[]<", 7) == 0;
}

/* cur_body - the value of BODY[]: into body when it fits in cap; a
 * bigger literal is left unread (FETCH_BIG).  body NULL: drain a small
 * one, refuse a large one (we did not ask for it). */
static int
cur_body(struct imap *im, struct cur *k, struct fetch_item *it,
         GByteArray *body, size_t cap)
{
	uint64_t n;
	int r;

	switch (cur_peek(k)) {
	case '{':
		r = cur_literal(im, k, &n);
		if (r < 0)
			return r;
		if (!body && n > IMAP_MAX_SMALL_LIT)
			return cur_bad(im, k, "unrequested BODY[] literal");
		if (body && n > cap) {
			/* Never allocate or read what the wire announces
			 * beyond the cap: leave it, the caller drops the
			 * connection. */
			it->body_big = true;
			it->body_len = n;
			return FETCH_BIG;
		}
		r = raw_read_literal(im, k->c, n, body);
		if (r < 0)
			return r;
		return cur_next_line(im, k);
	case '"':
		r = cur_quoted(im, k, body);
		if (r < 0)
			return r;
		if (body && body->len > cap) {
			it->body_big = true;
			it->body_len = body->len;
			return FETCH_BIG;
		}
		return 0;
	default:
		if (k->len - k->p >= 3 &&
		    g_ascii_strncasecmp(k->s + k->p, "NIL", 3) == 0) {
			k->p += 3;
			it->body_nil = true;
			return 0;
		}
		return cur_bad(im, k, "bad BODY[] value");
	}
}

/*
 * fetch_parse - the list of "* n FETCH (...)" at k, items in any order.
 * With body set, BODY[] goes there (at most cap bytes; a bigger literal
 * is left unread and FETCH_BIG returned).  0, FETCH_BIG or -EPROTO/-E.
 */
static int
fetch_parse(struct imap *im, struct cur *k, struct fetch_item *it,
            GByteArray *body, size_t cap)
{
	char name[128];
	int r, ch;

	memset(it, 0, sizeof(*it));
	if (cur_getc(k) != '(')
		return cur_bad(im, k, "FETCH without '('");
	for (bool first = true;; first = false) {
		if (first && cur_peek(k) == ')') { /* "()" */
			k->p++;
			break;
		}
		r = cur_name(im, k, name, sizeof(name));
		if (r < 0)
			return r;
		if (cur_getc(k) != ' ')
			return cur_bad(im, k, "FETCH item without value");
		if (g_ascii_strcasecmp(name, "UID") == 0) {
			r = cur_u32(im, k, &it->uid);
			if (r == 0 && it->uid == 0)
				r = cur_bad(im, k, "UID 0");
			it->has_uid = true;
		} else if (g_ascii_strcasecmp(name, "RFC822.SIZE") == 0) {
			r = cur_u64(im, k, &it->size);
			it->has_size = true;
		} else if (fetch_is_body(name)) {
			if (it->has_body)
				return cur_bad(im, k, "BODY[] twice");
			it->has_body = true;
			r = cur_body(im, k, it, body, cap);
			if (r == FETCH_BIG)
				return r;
		} else if (g_ascii_strcasecmp(name, "FLAGS") == 0) {
			r = cur_flags(im, k, it);
		} else {
			r = cur_skip(im, k, 0);
		}
		if (r < 0)
			return r;
		ch = cur_getc(k);
		if (ch == ')')
			break;
		if (ch != ' ')
			return cur_bad(im, k, "junk between FETCH items");
	}
	if (k->p != k->len)
		return cur_bad(im, k, "junk after FETCH");
	return 0;
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
range_sized(struct range *rg, const struct fetch_item *it, size_t cap)
{
	size_t i;

	if (!it->has_uid || !range_find(rg, it->uid, &i))
		return; /* an unsolicited FETCH (flags of another mail) */
	rg->size[i] = it->has_size ? it->size : UINT64_MAX;
	rg->state[i] = (it->has_size && it->size > cap) ? RS_BIG : RS_FETCH;
}

/* range_body - a complete FETCH with a body arrived: report it. */
static int
range_body(struct imap *im, struct range *rg, const struct fetch_item *it)
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
range_big(struct imap *im, struct range *rg, const struct fetch_item *it)
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
raw_fetch(struct imap *im, struct raw_ctx *x, struct cur *k)
{
	GByteArray *body = x->mode == RAW_BODIES ? x->rg->body : NULL;
	struct fetch_item it = {0};
	int r;

	if (body)
		g_byte_array_set_size(body, 0);
	r = fetch_parse(im, k, &it, body, body ? x->rg->cap : 0);
	if (r < 0)
		return r;
	switch (x->mode) {
	case RAW_SIZES:
		range_sized(x->rg, &it, x->rg->cap);
		return 0;
	case RAW_BODIES:
		if (r == FETCH_BIG)
			return range_big(im, x->rg, &it);
		if (it.has_body)
			return range_body(im, x->rg, &it);
		return 0; /* FLAGS only: another client changed flags */
	default:
		return 0;
	}
}

/* raw_skip - the rest of a response we do not use, literals drained. */
static int
raw_skip(struct imap *im, struct cur *k)
{
	uint64_t n;
	int r;

	while (line_literal(k->s, k->len, &n)) {
		if (n > IMAP_MAX_SMALL_LIT)
			return cur_bad(im, k, "unexpected large literal");
		r = raw_read_literal(im, k->c, n, NULL);
		if (r < 0)
			return r;
		r = cur_next_line(im, k);
		if (r < 0)
			return r;
	}
	return 0;
}

/* raw_untagged - one "* ..." response (the line is in c->line). */
static int
raw_untagged(struct imap *im, struct imap_raw *c, struct raw_ctx *x)
{
	struct cur k = {c, c->line, c->line_len, 2};
	char word[32];
	uint32_t num;
	int r;

	if (g_ascii_isdigit(cur_peek(&k))) {
		r = cur_u32(im, &k, &num);
		if (r < 0)
			return r;
		if (cur_getc(&k) != ' ')
			return cur_bad(im, &k, "bad untagged response");
		cur_word(&k, word, sizeof(word));
		if (g_ascii_strcasecmp(word, "FETCH") == 0) {
			if (cur_getc(&k) != ' ')
				return cur_bad(im, &k, "bad FETCH");
			return raw_fetch(im, x, &k);
		}
		if (g_ascii_strcasecmp(word, "EXISTS") == 0 ||
		    g_ascii_strcasecmp(word, "RECENT") == 0 ||
		    g_ascii_strcasecmp(word, "EXPUNGE") == 0) {
			x->changed = true;
			return 0;
		}
		return raw_skip(im, &k);
	}
	cur_word(&k, word, sizeof(word));
	if (g_ascii_strcasecmp(word, "OK") == 0) {
		/* resp-text: never a literal, whatever it ends with */
		const char *t = c->line + k.p;

		if (g_ascii_strncasecmp(t, " [UIDVALIDITY ", 14) == 0) {
			k.p += 14;
			r = cur_u32(im, &k, &x->uidvalidity);
			if (r < 0)
				return r;
		}
		return 0;
	}
	if (g_ascii_strcasecmp(word, "NO") == 0 ||
	    g_ascii_strcasecmp(word, "BAD") == 0 ||
	    g_ascii_strcasecmp(word, "PREAUTH") == 0)
		return 0;
	if (g_ascii_strcasecmp(word, "BYE") == 0) {
		c->bye = true;
		log_debug("imap: %s < %s", c->name, quote(c->line));
		return 0;
	}
	if (g_ascii_strcasecmp(word, "CAPABILITY") == 0) {
		caps_set(im, c->line + k.p, true);
		return 0;
	}
	return raw_skip(im, &k);
}

/* raw_run - read the reply to the command in flight: untagged lines go
 * to raw_untagged, the tagged line ends it.  0, -E, or RAW_STOP/RAW_RESTART
 * (the connection is mid-response then). */
static int
raw_run(struct imap *im, struct imap_raw *c, struct raw_ctx *x)
{
	size_t taglen = strlen(c->tag);
	int r;

	for (;;) {
		const char *l;

		r = raw_read_line(im, c);
		if (r < 0)
			goto fail;
		l = c->line;
		if (l[0] == '*' && l[1] == ' ') {
			r = raw_untagged(im, c, x);
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
		if (strncmp(l, c->tag, taglen) == 0 && l[taglen] == ' ') {
			const char *t = l + taglen + 1;

			c->last_used = g_get_monotonic_time();
			if (g_ascii_strncasecmp(t, "OK", 2) == 0 &&
			    (t[2] == ' ' || t[2] == '\0'))
				return 0;
			/* a NO/BAD leaves the connection usable */
			return imap_fail(im, imap_tagged_err(l),
			                 "server said '%s'", quote(l));
		}
		r = imap_fail(im, -EPROTO, "unexpected reply line '%s'",
		              quote(l));
		goto fail;
	}
fail:
	c->broken = true;
	return r;
}

/* raw_simple - one command whose reply we only need to be OK. */
static int
raw_simple(struct imap *im, struct imap_raw *c, const char *cmd,
           struct raw_ctx *x)
{
	int r = raw_cmd(im, c, cmd);

	if (r < 0)
		return r;
	return raw_run(im, c, x);
}

/* raw_connect - libcurl does greeting, CAPABILITY, STARTTLS and login;
 * from then on the socket is ours. */
static int
raw_connect(struct imap *im, struct imap_raw *c)
{
	struct raw_ctx x = {.mode = RAW_PLAIN};
	guint32 rnd[2];
	char *url = NULL;
	CURLcode rc;
	int r;

	raw_drop(c);
	c->h = curl_easy_init();
	if (!c->h)
		return imap_fail(im, -ENOMEM, "curl_easy_init failed");
	r = imap_setup(im, c->h, c->err, c->name);
	if (r < 0)
		goto out;
	url = imap_url(im, NULL, 0, 0);
	if (curl_easy_setopt(c->h, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(c->h, CURLOPT_CONNECT_ONLY, 1L) != CURLE_OK) {
		r = imap_fail(im, -EINVAL, "libcurl rejected an option");
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
		r = imap_fail(im, -ENOTCONN, "no socket after connect");
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
	/* The list libcurl saw may predate the login (greeting, or the
	 * CAPABILITY before AUTH): MOVE, IDLE only show up after it. */
	if (!im->caps_authed)
		r = raw_simple(im, c, "CAPABILITY", &x);
out:
	g_free(url);
	if (r < 0)
		raw_drop(c);
	return r;
}

/* raw_close - DONE if idling, LOGOUT, close: libcurl sends no LOGOUT on
 * connect-only connections.  Bounded by IMAP_BYE_MS per step. */
static void
raw_close(struct imap *im, struct imap_raw *c)
{
	struct raw_ctx x = {.mode = RAW_PLAIN};

	if (!c->h)
		return;
	if (!c->broken) {
		c->io_ms = MIN(c->io_ms, IMAP_BYE_MS);
		if (c->idling) {
			c->idling = false;
			c->cmd_deadline =
			    g_get_monotonic_time() + IMAP_BYE_MS * 1000;
			/* DONE ends the IDLE command, whose tag is c->tag */
			if (raw_send(im, c, "DONE\r\n", 6) == 0)
				(void)raw_run(im, c, &x);
		}
		if (!c->broken && raw_cmd(im, c, "LOGOUT") == 0) {
			c->cmd_deadline =
			    g_get_monotonic_time() + IMAP_BYE_MS * 1000;
			(void)raw_run(im, c, &x);
		}
	}
	raw_drop(c);
}

/* raw_examine - EXAMINE (read-only: no \Seen, no \Recent taken from
 * humans) and check UIDVALIDITY when uidvalidity != 0. */
static int
raw_examine(struct imap *im, struct imap_raw *c, const char *mailbox,
            uint32_t uidvalidity, struct raw_ctx *x)
{
	char *q = mbox_quoted(mailbox);
	char *cmd = g_strdup_printf("EXAMINE %s", q);
	int r;

	g_free(c->mailbox);
	c->mailbox = NULL;
	r = raw_simple(im, c, cmd, x);
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
	c->mailbox = g_strdup(mailbox);
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
	struct imap_raw *c = &im->fetch;
	int r = 0;

	if (c->h && (c->broken || g_get_monotonic_time() - c->last_used >
	                              IMAP_RAW_MAXAGE_US))
		raw_close(im, c);
	for (int attempt = 0; attempt < 2; attempt++) {
		struct raw_ctx x = {.mode = RAW_PLAIN};
		bool fresh = !c->h;

		if (fresh) {
			r = raw_connect(im, c);
			if (r < 0)
				return r;
		}
		*session_r = true;
		r = raw_examine(im, c, mailbox, uidvalidity, &x);
		if (r >= 0 || fresh || !c->broken)
			return r;
		raw_drop(c);
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
	struct imap_raw *c = &im->fetch;
	struct raw_ctx x = {.mode = RAW_SIZES, .rg = rg};
	uint32_t *want = g_new(uint32_t, rg->n);
	size_t nwant = 0, done = 0;
	char *cmd = g_strdup_printf("UID FETCH %s (UID RFC822.SIZE)", set->str);
	int r;

	memset(rg->state, RS_ABSENT, rg->n);
	rg->next = 0;
	r = raw_simple(im, c, cmd, &x);
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
		r = raw_simple(im, c, cmd, &x);
		if (r != 0)
			goto out;
	}
	r = range_flush(rg, rg->n);
out:
	g_free(cmd);
	g_free(want);
	return r;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* sort_unique - owned ascending copy without duplicates; NULL if a UID
 * is 0 (no UID is). */
static uint32_t *
sort_unique(const uint32_t *uids, size_t n, size_t *m_r)
{
	uint32_t *v = g_memdup2(uids, n * sizeof(*v));
	size_t m = 0;

	qsort(v, n, sizeof(*v), cmp_u32);
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

/* is_loopback - plaintext is only for tests on this machine. */
static bool
is_loopback(const char *host)
{
	return strcmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0 ||
	       strncmp(host, "127.", 4) == 0;
}

struct imap *
imap_new(const struct imap_params *p)
{
	struct imap *im = NULL;
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
	im = g_new0(struct imap, 1);
	raw_init(&im->fetch, "fetch");
	raw_init(&im->idle, "idle");
	im->base = port ? g_strdup_printf("%s://%s:%s", scheme, host, port)
	                : g_strdup_printf("%s://%s", scheme, host);
	im->user = g_strdup(p->user);
	im->password = g_strdup(p->password);
	im->starttls = implicit || p->starttls;
	im->insecure = p->insecure_skip_verify;
	im->connect_timeout = p->connect_timeout > 0 ? p->connect_timeout
	                                             : IMAP_DEF_CONNECT_TIMEOUT;
	im->timeout = p->timeout > 0 ? p->timeout : IMAP_DEF_TIMEOUT;
	im->max_message =
	    p->max_message > 0 ? p->max_message : IMAP_DEF_MAX_MESSAGE;
	/* GByteArray lengths are guint */
	im->max_message = MIN(im->max_message, (size_t)G_MAXUINT / 2);
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
		imap_free(&im);
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
	raw_clear(&im->idle);
	raw_close(im, &im->fetch);
	raw_clear(&im->fetch);
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
	*pim = NULL;
}

const char *
imap_error(const struct imap *im)
{
	return im ? im->msg : "no client";
}

/* status_do - imap_status without the log line. */
static int
status_do(struct imap *im, const char *mailbox, struct imap_status *st_r)
{
	struct imap_status st = {0};
	bool got_v = false, got_n = false, got_m = false;
	char *url = NULL, *q = NULL, *cmd = NULL, *l;
	size_t pos = 0, len;
	int r;

	r = mbox_ok(im, mailbox);
	if (r < 0)
		return r;
	url = imap_url(im, NULL, 0, 0);
	q = mbox_quoted(mailbox);
	cmd = g_strdup_printf("STATUS %s (UIDVALIDITY UIDNEXT MESSAGES)", q);
	/* Dovecot answers STATUS on the mailbox this session has SELECTed
	 * (SEARCH/FETCH/STORE select it) from the session's own view, which
	 * moves only when the session syncs: without the NOOP a poll never
	 * sees new mail after the first fetch (measured: 40 s of stale
	 * UIDNEXT while mail arrived).  NOOP syncs; one round trip. */
	r = imap_custom(im, url, "NOOP");
	if (r == 0)
		r = imap_custom(im, url, cmd);
	if (r < 0)
		goto out;
	while ((l = reply_next(im, &pos, &len, &r))) {
		/* the name may contain '(' too: the list is the last one */
		const char *o = strrchr(l, '(');
		struct cur k;

		if (g_ascii_strncasecmp(l, "* STATUS ", 9) != 0 || !o)
			continue;
		k = (struct cur){NULL, o, strlen(o), 1};
		while (cur_peek(&k) != ')') {
			char name[32];
			uint64_t v;

			r = cur_name(im, &k, name, sizeof(name));
			if (r == 0 && cur_getc(&k) != ' ')
				r = cur_bad(im, &k, "bad STATUS");
			if (r == 0)
				r = cur_u64(im, &k, &v);
			if (r < 0)
				goto out;
			if (v > UINT32_MAX)
				v = 0; /* makes the check below fail */
			if (g_ascii_strcasecmp(name, "UIDVALIDITY") == 0)
				st.uidvalidity = (uint32_t)v, got_v = true;
			else if (g_ascii_strcasecmp(name, "UIDNEXT") == 0)
				st.uidnext = (uint32_t)v, got_n = true;
			else if (g_ascii_strcasecmp(name, "MESSAGES") == 0)
				st.messages = (uint32_t)v, got_m = true;
			if (cur_peek(&k) == ' ')
				k.p++;
			else if (cur_peek(&k) != ')') {
				r = cur_bad(im, &k, "bad STATUS");
				goto out;
			}
		}
	}
	if (r < 0)
		goto out;
	if (!got_v || !got_n || !got_m || st.uidvalidity == 0 ||
	    st.uidnext == 0) {
		r = imap_fail(im, -EPROTO,
		              "STATUS reply without UIDVALIDITY, "
		              "UIDNEXT and MESSAGES");
		goto out;
	}
	*st_r = st;
out:
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

/* search_parse - "* SEARCH a b c" lines of one window [lo, hi]. */
static int
search_parse(struct imap *im, uint32_t lo, uint32_t hi, size_t max,
             GArray *found)
{
	size_t pos = 0, len, start = found->len;
	char *l;
	int r;

	while ((l = reply_next(im, &pos, &len, &r))) {
		struct cur k = {NULL, l, len, 8};

		if (g_ascii_strncasecmp(l, "* SEARCH", 8) != 0 ||
		    (len > 8 && l[8] != ' '))
			continue; /* unsolicited EXISTS and the like */
		while (cur_getc(&k) == ' ') {
			uint32_t u;

			/* "(MODSEQ n)", or a trailing space */
			if (cur_peek(&k) == '(' || cur_peek(&k) < 0)
				break;
			r = cur_u32(im, &k, &u);
			if (r < 0)
				return r;
			/* "n:*" always matches the highest UID, and a
			 * sloppy server may answer outside the window */
			if (u < lo || u > hi)
				continue;
			if (found->len - start >= max)
				return imap_fail(im, -EPROTO,
				                 "more SEARCH results than "
				                 "messages");
			g_array_append_val(found, u);
		}
	}
	if (r < 0)
		return r;
	/* RFC 3501 does not promise order */
	qsort(found->data + start * sizeof(uint32_t), found->len - start,
	      sizeof(uint32_t), cmp_u32);
	return 0;
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
	url = imap_url(im, mailbox, uidvalidity, 0);
	for (lo = (uint64_t)after_uid + 1; lo <= last; lo = hi + 1) {
		hi = MIN(lo + window - 1, last);
		g_snprintf(cmd, sizeof(cmd), "UID SEARCH UID %u:%u",
		           (uint32_t)lo, (uint32_t)hi);
		r = imap_custom(im, url, cmd);
		if (r < 0)
			goto out;
		r = search_parse(im, (uint32_t)lo, (uint32_t)hi,
		                 MIN((size_t)st.messages, IMAP_SEARCH_WINDOW),
		                 found);
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

/* fetch_precheck - size, existence and \Seen of uid; no literal in the
 * reply, so this custom FETCH is safe on 7.88. */
static int
fetch_precheck(struct imap *im, const char *url, uint32_t uid,
               struct fetch_item *it_r)
{
	char cmd[64], *l;
	size_t pos = 0, len;
	int r;

	g_snprintf(cmd, sizeof(cmd), "UID FETCH %u (UID RFC822.SIZE FLAGS)",
	           uid);
	r = imap_custom(im, url, cmd);
	if (r < 0)
		return r;
	while ((l = reply_next(im, &pos, &len, &r))) {
		struct cur k = {NULL, l, len, 2};
		struct fetch_item it;
		uint32_t seq;
		char word[16];

		if (l[0] != '*' || l[1] != ' ' || !g_ascii_isdigit(l[2]))
			continue;
		r = cur_u32(im, &k, &seq);
		if (r < 0 || cur_getc(&k) != ' ')
			continue;
		cur_word(&k, word, sizeof(word));
		if (g_ascii_strcasecmp(word, "FETCH") != 0 ||
		    cur_getc(&k) != ' ')
			continue;
		r = fetch_parse(im, &k, &it, NULL, 0);
		if (r < 0)
			return r;
		if (it.has_uid && it.uid == uid) {
			*it_r = it;
			return 0;
		}
	}
	if (r < 0)
		return r;
	return imap_fail(im, -ENOENT, "no message with UID %u", uid);
}

int
imap_fetch(struct imap *im, const char *mailbox, uint32_t uidvalidity,
           uint32_t uid, GByteArray *out)
{
	char *url = NULL, *url_uid = NULL;
	size_t orig = out ? out->len : 0;
	struct fetch_item it = {0};
	int r;

	im->msg[0] = '\0';
	if (!out || uid == 0 || uidvalidity == 0) {
		r = imap_fail(im, -EINVAL, "bad arguments");
		goto out;
	}
	r = mbox_ok(im, mailbox);
	if (r < 0)
		goto out;
	url = imap_url(im, mailbox, uidvalidity, 0);
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
	url_uid = imap_url(im, mailbox, uidvalidity, uid);
	r = imap_perform(im, url_uid, NULL, out, orig + im->max_message);
	if (r == -EPROTO) {
		/* 7.88 fails on an unsolicited "* n FETCH (FLAGS ...)" that
		 * arrives before the body (a human changed flags meanwhile).
		 * libcurl has closed that connection; a new one has nothing
		 * pending, so one retry tells a race from a broken server. */
		g_byte_array_set_size(out, (guint)orig);
		r = imap_perform(im, url_uid, NULL, out,
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
		r2 = imap_custom(im, url, cmd);
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

int
imap_fetch_range(struct imap *im, const char *mailbox, uint32_t uidvalidity,
                 const uint32_t *uids, size_t n, imap_fetch_cb *cb, void *ctx)
{
	struct range rg = {0};
	GString *set = g_string_new(NULL);
	uint32_t *sorted = NULL;
	size_t i = 0, m = 0;
	int restarts = 0, r = 0;
	bool gap_retried = false, session = false;

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
	r = mbox_ok(im, mailbox);
	if (r < 0 || n == 0)
		goto out;
	sorted = sort_unique(uids, n, &m);
	if (!sorted) {
		r = imap_fail(im, -EINVAL, "UID 0");
		goto out;
	}
	rg.body = g_byte_array_new();
	rg.cap = im->max_message;
	rg.cb = cb;
	rg.cbctx = ctx;
	rg.size = g_new(uint64_t, IMAP_CHUNK_MAX);
	rg.state = g_new(guint8, IMAP_CHUNK_MAX);
	while (i < m) {
		if (!im->fetch.h || !im->fetch.mailbox ||
		    strcmp(im->fetch.mailbox, mailbox) != 0 || i == 0) {
			/* EXAMINE again on every call: a fresh UIDVALIDITY
			 * check costs one round trip */
			r = range_open(im, mailbox, uidvalidity, &session);
			if (r < 0)
				goto out;
		}
		rg.uids = sorted + i;
		rg.n = uidset_build(set, sorted + i, m - i, IMAP_CHUNK_MAX);
		r = range_chunk(im, &rg, set);
		if (r == RAW_RESTART) {
			raw_drop(&im->fetch);
			if (++restarts > IMAP_MAX_RESTARTS) {
				r = imap_fail(im, -EFBIG,
				              "server keeps sending literals "
				              "over the cap of %zu",
				              im->max_message);
				goto out;
			}
			i += rg.next;
			continue;
		}
		if (r == RAW_GAP && !gap_retried) {
			/* an expunge between the two FETCHes heals on a
			 * fresh look at the sizes; a reordering server does
			 * not, and gets the second gap */
			gap_retried = true;
			if (im->fetch.broken)
				raw_drop(&im->fetch);
			i += rg.next;
			continue;
		}
		if (r == RAW_GAP) {
			r = imap_fail(im, -EPROTO,
			              "server skipped uid %u or answered out "
			              "of UID order",
			              rg.uids[rg.next]);
			goto out;
		}
		if (r != 0)
			goto out;
		i += rg.n;
	}
	r = 0;
out:
	if (r == RAW_STOP) {
		r = rg.cb_r; /* the caller's own code, not our failure */
		raw_drop(&im->fetch);
	} else if (r < 0 && r != -ENOSYS) {
		if (im->fetch.broken)
			raw_drop(&im->fetch);
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
	g_string_free(set, TRUE);
	if (rg.body)
		g_byte_array_unref(rg.body);
	g_free(rg.size);
	g_free(rg.state);
	g_free(sorted);
	return r;
}

/* caps_fetch - CAPABILITY after login on the easy handle. */
static int
caps_fetch(struct imap *im)
{
	char *url = imap_url(im, NULL, 0, 0), *l;
	size_t pos = 0, len;
	int r = imap_custom(im, url, "CAPABILITY");

	while (r == 0 && (l = reply_next(im, &pos, &len, &r)))
		if (g_ascii_strncasecmp(l, "* CAPABILITY ", 13) == 0)
			caps_set(im, l + 13, true);
	g_free(url);
	if (r == 0 && !im->caps_authed)
		r = imap_fail(im, -EPROTO, "no CAPABILITY reply");
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
	r = mbox_ok(im, mailbox);
	if (r == 0 && move_to)
		r = mbox_ok(im, move_to);
	if (r < 0 || n == 0)
		goto out;
	sorted = sort_unique(uids, n, &m);
	if (!sorted) {
		r = imap_fail(im, -EINVAL, "UID 0");
		goto out;
	}
	if (move_to) {
		dst = mbox_quoted(move_to);
		if (!im->caps_authed) {
			r = caps_fetch(im);
			if (r < 0)
				goto out;
		}
	}
	/* ;UIDVALIDITY= makes libcurl's SELECT fail with 78 if the UIDs
	 * now name other mail */
	url = imap_url(im, mailbox, uidvalidity, 0);
	while (i < m) {
		i += uidset_build(set, sorted + i, m - i, SIZE_MAX);
		g_free(cmd);
		if (!move_to) {
			cmd = g_strdup_printf(
			    "UID STORE %s +FLAGS.SILENT (\\Seen)", set->str);
			r = imap_custom(im, url, cmd);
		} else if (imap_has_cap(im, "MOVE")) {
			cmd = g_strdup_printf("UID MOVE %s %s", set->str, dst);
			r = imap_custom(im, url, cmd);
		} else {
			cmd = g_strdup_printf("UID COPY %s %s", set->str, dst);
			r = imap_custom(im, url, cmd);
			g_free(cmd);
			cmd = g_strdup_printf(
			    "UID STORE %s +FLAGS.SILENT (\\Deleted)", set->str);
			if (r == 0)
				r = imap_custom(im, url, cmd);
			g_free(cmd);
			/* UID EXPUNGE removes only these; a bare EXPUNGE
			 * would also remove what humans flagged \Deleted */
			cmd = g_strdup_printf("UID EXPUNGE %s", set->str);
			if (r == 0 && imap_has_cap(im, "UIDPLUS"))
				r = imap_custom(im, url, cmd);
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
	url = imap_url(im, mailbox, 0, 0);
	im->up = raw;
	im->up_len = len;
	im->up_pos = 0;
	g_byte_array_set_size(im->reply, 0);
	r = imap_perform(im, url, NULL, im->reply, IMAP_MAX_REPLY);
	im->up = NULL;
out:
	if (r < 0)
		imap_log(im, r, mailbox ? mailbox : "", "append");
	g_free(url);
	return r;
}

int
imap_idle_start(struct imap *im, const char *mailbox)
{
	struct imap_raw *c = &im->idle;
	struct raw_ctx x = {.mode = RAW_PLAIN};
	int r;

	im->msg[0] = '\0';
	imap_idle_stop(im);
	r = mbox_ok(im, mailbox);
	if (r < 0)
		goto out;
	r = raw_connect(im, c);
	if (r < 0)
		goto out;
	if (!imap_has_cap(im, "IDLE")) {
		r = imap_fail(im, -ENOSYS, "server lacks IDLE");
		goto out;
	}
	r = raw_examine(im, c, mailbox, 0, &x);
	if (r < 0)
		goto out;
	r = raw_cmd(im, c, "IDLE");
	if (r < 0)
		goto out;
	/* EXAMINE's own EXISTS/RECENT are the baseline, not news */
	x = (struct raw_ctx){.mode = RAW_PLAIN, .want_cont = true};
	r = raw_run(im, c, &x);
	if (r == 0 && !x.cont)
		r = imap_fail(im, -EPROTO, "IDLE ended at once");
	if (r < 0)
		goto out;
	c->idling = true;
	/* mail that arrived between EXAMINE and "+" rings at once */
	c->pending = x.changed;
out:
	if (r < 0) {
		if (r == -ENOSYS)
			log_notice("imap: idle '%s': server lacks IDLE, "
			           "polling only",
			           quote(mailbox ? mailbox : ""));
		else
			imap_log(im, r, mailbox ? mailbox : "", "idle");
		raw_close(im, c);
	}
	return r;
}

int
imap_idle_fd(const struct imap *im)
{
	const struct imap_raw *c = &im->idle;

	return c->h && c->idling && !c->broken ? (int)c->fd : -1;
}

/* idle_line - 1 for a change, 0 for noise, -E when IDLE is over. */
static int
idle_line(struct imap *im, struct imap_raw *c)
{
	struct cur k = {NULL, c->line, c->line_len, 2};
	uint64_t lit;
	char word[32];
	uint32_t num;

	if (c->line[0] == '*' && c->line[1] == ' ') {
		if (g_ascii_isdigit(cur_peek(&k))) {
			if (cur_u32(im, &k, &num) < 0 || cur_getc(&k) != ' ')
				return -EPROTO;
			cur_word(&k, word, sizeof(word));
			if (g_ascii_strcasecmp(word, "EXISTS") == 0 ||
			    g_ascii_strcasecmp(word, "RECENT") == 0 ||
			    g_ascii_strcasecmp(word, "EXPUNGE") == 0)
				return 1;
		} else {
			cur_word(&k, word, sizeof(word));
			if (g_ascii_strcasecmp(word, "BYE") == 0) {
				c->bye = true;
				return imap_fail(im, -ENOTCONN,
				                 "server said '%s'",
				                 quote(c->line));
			}
			if (g_ascii_strcasecmp(word, "OK") == 0)
				return 0; /* "* OK Still here" */
		}
		/* We cannot wait for a literal without blocking, and no
		 * server sends one in IDLE that we know of: start over. */
		if (line_literal(c->line, c->line_len, &lit))
			return imap_fail(im, -EPROTO, "literal during IDLE");
		return 0; /* FETCH (flags) and the like */
	}
	if (c->line[0] == '+')
		return 0;
	return imap_fail(im, -ENOTCONN, "IDLE ended by the server: '%s'",
	                 quote(c->line));
}

int
imap_idle_check(struct imap *im)
{
	struct imap_raw *c = &im->idle;
	size_t got = 0;
	int changed = 0, r;

	im->msg[0] = '\0';
	if (!c->h || !c->idling || c->broken)
		return imap_fail(im, -ENOTCONN, "not idling");
	if (c->pending) {
		c->pending = false;
		changed = 1;
	}
	for (;;) {
		size_t old, n = 0;
		CURLcode rc;

		r = raw_take_line(im, c);
		if (r < 0)
			goto out;
		if (r > 0) {
			r = idle_line(im, c);
			if (r < 0)
				goto out;
			changed |= r;
			continue;
		}
		if (got >= IMAP_IDLE_MAX_READ) {
			/* a flood: let the caller fetch, ring again later */
			c->pending = true;
			break;
		}
		if (c->pos > 0) {
			memmove(c->in->data, c->in->data + c->pos,
			        c->in->len - c->pos);
			g_byte_array_set_size(c->in, c->in->len - c->pos);
			c->pos = 0;
		}
		old = c->in->len;
		g_byte_array_set_size(c->in, old + IMAP_RECV_CHUNK);
		/* read until CURLE_AGAIN: TLS may hold decrypted bytes */
		rc = curl_easy_recv(c->h, c->in->data + old, IMAP_RECV_CHUNK,
		                    &n);
		g_byte_array_set_size(c->in, old + (rc == CURLE_OK ? n : 0));
		if (rc == CURLE_AGAIN)
			break;
		if (rc != CURLE_OK) {
			r = imap_fail(im, -EIO, "recv: %s",
			              curl_easy_strerror(rc));
			goto out;
		}
		if (n == 0) {
			r = imap_fail(im, c->bye ? -ENOTCONN : -ECONNRESET,
			              "server closed the idle connection");
			goto out;
		}
		got += n;
	}
	r = changed;
out:
	if (r < 0) {
		c->broken = true;
		imap_log(im, r, c->mailbox ? c->mailbox : "", "idle");
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
