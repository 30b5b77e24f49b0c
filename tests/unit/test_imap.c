/*
 * test_imap.c - the range reader and the IDLE doorbell of src/imap.c
 * against a scripted IMAP server in a thread on 127.0.0.1: no Dovecot, no
 * Python, no network.  The full hostile set (trickle, flood, 100 MB
 * literals ...) is tests/imapfake.py; this keeps the parser honest in
 * `make unit` in a few seconds.
 */
#include "imap.h"
#include "log.h"
#include "test.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <unistd.h>

/* message 1 carries what must never be taken for a server response */
static const char M1[] = "From: a@example.com\r\nSubject: one\r\n\r\n"
                         "A004 OK fake\r\n* 99 EXISTS\r\n)\r\n";
static const char M3[] = "X-Three: \"quoted\" \\ and {5} braces";
static char m2[30040];

struct fake {
	int lfd;
	int port;
	const char *scenario;
	GThread *th;
	gint stop;
};

static void
fake_send(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n <= 0)
			return;
		p += n;
		len -= (size_t)n;
	}
}

static void fake_printf(int fd, const char *fmt, ...) PRINTF_LIKE(2, 3);

static void
fake_printf(int fd, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	fake_send(fd, s, strlen(s));
	g_free(s);
}

/* fake_line - one command line (CRLF stripped) or NULL at EOF/5 s. */
static char *
fake_line(int fd, GString *in)
{
	for (;;) {
		char *nl = memchr(in->str, '\n', in->len), buf[4096];
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (nl) {
			char *line = g_strndup(in->str, (gsize)(nl - in->str));

			g_string_erase(in, 0, nl - in->str + 1);
			g_strchomp(line);
			return line;
		}
		if (poll(&pfd, 1, 5000) <= 0)
			return NULL;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			return NULL;
		g_string_append_len(in, buf, n);
	}
}

static void
fake_body(int fd, int seq, int uid, const char *data, size_t len)
{
	fake_printf(fd, "* %d FETCH (UID %d BODY[] {%zu}\r\n", seq, uid, len);
	fake_send(fd, data, len);
	fake_send(fd, ")\r\n", 3);
}

/* set_has - is uid in the IMAP sequence set "1,3:5"? */
static bool
set_has(const char *set, unsigned int uid)
{
	char **parts = g_strsplit(set, ",", -1);
	bool found = false;

	for (char **p = parts; *p && !found; p++) {
		unsigned int lo = 0, hi = 0;
		int n = sscanf(*p, "%u:%u", &lo, &hi);

		found = n == 1 ? uid == lo : n == 2 && uid >= lo && uid <= hi;
	}
	g_strfreev(parts);
	return found;
}

/* fake_bodies - the answer to "UID FETCH set (UID BODY.PEEK[])", per
 * scenario; false: the connection is done */
static bool
fake_bodies(struct fake *f, int fd, const char *tag, const char *set)
{
	const char *s = f->scenario;
	unsigned int first = 1;

	if (strcmp(s, "stall") == 0) {
		fake_printf(fd, "* 1 FETCH (UID 1 BODY[] {100}\r\n0123456789");
		return false; /* the caller waits for the client to give up */
	}
	if (strcmp(s, "garbage") == 0) {
		char junk[70000];

		memset(junk, 'x', sizeof(junk));
		fake_send(fd, junk, sizeof(junk));
		return false;
	}
	if (strcmp(s, "biglit") == 0) {
		(void)sscanf(set, "%u", &first);
		fake_printf(fd, "* %u FETCH (UID %u BODY[] {104857600}\r\n",
		            first, first);
		return false;
	}
	if (strcmp(s, "reverse") == 0) {
		fake_body(fd, 3, 3, M3, strlen(M3));
		fake_body(fd, 2, 2, m2, strlen(m2));
		fake_body(fd, 1, 1, M1, strlen(M1));
	} else { /* normal: odd item order, unsolicited lines, quoted body */
		fake_printf(fd, "* 1 FETCH (FLAGS (\\Seen))\r\n* 5 EXISTS\r\n");
		if (set_has(set, 1)) { /* UID after the body */
			fake_printf(fd, "* 1 FETCH (BODY[] {%zu}\r\n",
			            strlen(M1));
			fake_send(fd, M1, strlen(M1));
			fake_printf(fd, " UID 1 FLAGS (\\Seen))\r\n"
			                "* 9 RECENT\r\n");
		}
		if (set_has(set, 2)) { /* a literal inside a list */
			fake_printf(fd,
			            "* 2 FETCH (UID 2 X-LIST (a {3}\r\nb c) "
			            "BODY[]<0> {%zu}\r\n",
			            strlen(m2));
			fake_send(fd, m2, strlen(m2));
			fake_printf(fd, " MODSEQ (12))\r\n* 4 EXPUNGE\r\n");
		}
		if (set_has(set, 3)) /* a quoted string */
			fake_printf(
			    fd, "* 3 FETCH (UID 3 BODY[] \"X-Three: "
			        "\\\"quoted\\\" \\\\ and {5} braces\")\r\n");
	}
	fake_printf(fd, "%s OK fetch\r\n", tag);
	return true;
}

/* fake_serve - one connection: libcurl's login, then our commands */
static void
fake_serve(struct fake *f, int fd)
{
	GString *in = g_string_new(NULL);
	char *line;

	fake_printf(fd, "* OK [CAPABILITY IMAP4rev1 SASL-IR IDLE AUTH=PLAIN] "
	                "unit fake\r\n");
	while ((line = fake_line(fd, in))) {
		char **w = g_strsplit(line, " ", 4);
		const char *tag = w[0], *cmd = w[1] ? w[1] : "";
		bool go_on = true;

		if (strcmp(cmd, "CAPABILITY") == 0) {
			fake_printf(
			    fd,
			    "* CAPABILITY IMAP4rev1 SASL-IR IDLE AUTH=PLAIN\r\n"
			    "%s OK caps\r\n",
			    tag);
		} else if (strcmp(cmd, "AUTHENTICATE") == 0 ||
		           strcmp(cmd, "LOGIN") == 0) {
			fake_printf(fd,
			            "%s OK [CAPABILITY IMAP4rev1 IDLE] in\r\n",
			            tag);
		} else if (strcmp(cmd, "EXAMINE") == 0) {
			fake_printf(fd,
			            "* 3 EXISTS\r\n* OK [UIDVALIDITY 42] v\r\n"
			            "* OK [UIDNEXT 4] n {5}\r\n"
			            "%s OK [READ-ONLY] examined\r\n",
			            tag);
		} else if (strcmp(cmd, "UID") == 0 && strstr(line, "BODY")) {
			go_on = fake_bodies(f, fd, tag, w[3] ? w[3] : "");
		} else if (strcmp(cmd, "UID") == 0) {
			fake_printf(fd,
			            "* 1 FETCH (UID 1 RFC822.SIZE %zu)\r\n"
			            "* 2 FETCH (UID 2 RFC822.SIZE %zu)\r\n"
			            "* 3 FETCH (UID 3 RFC822.SIZE %zu)\r\n"
			            "%s OK sizes\r\n",
			            strlen(M1), strlen(m2), strlen(M3), tag);
		} else if (strcmp(cmd, "IDLE") == 0) {
			fake_printf(fd, "+ idling\r\n");
			g_usleep(100 * 1000);
			if (strcmp(f->scenario, "idle-bye") == 0) {
				fake_printf(fd, "* BYE going away\r\n");
				go_on = false;
			} else {
				fake_printf(fd, "* OK Still here\r\n"
				                "* 4 EXISTS\r\n");
				g_free(fake_line(fd, in)); /* DONE */
				fake_printf(fd, "%s OK idle\r\n", tag);
			}
		} else if (strcmp(cmd, "LOGOUT") == 0) {
			fake_printf(fd, "* BYE bye\r\n%s OK out\r\n", tag);
			go_on = false;
		} else {
			fake_printf(fd, "%s BAD what\r\n", tag);
		}
		g_strfreev(w);
		g_free(line);
		if (!go_on)
			break;
	}
	/* wait for the client to hang up: a stall stays a stall */
	while ((line = fake_line(fd, in)))
		g_free(line);
	g_string_free(in, TRUE);
	close(fd);
}

static gpointer
fake_main(gpointer ud)
{
	struct fake *f = ud;

	while (!g_atomic_int_get(&f->stop)) {
		struct pollfd pfd = {.fd = f->lfd, .events = POLLIN};
		int fd;

		if (poll(&pfd, 1, 50) <= 0)
			continue;
		fd = accept(f->lfd, NULL, NULL);
		if (fd >= 0)
			fake_serve(f, fd);
	}
	return NULL;
}

static void
fake_start(struct fake *f, const char *scenario)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t slen = sizeof(sa);

	memset(f, 0, sizeof(*f));
	f->scenario = scenario;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (f->lfd < 0 || bind(f->lfd, (struct sockaddr *)&sa, slen) < 0 ||
	    listen(f->lfd, 4) < 0 ||
	    getsockname(f->lfd, (struct sockaddr *)&sa, &slen) < 0)
		log_die("test_imap: cannot listen on 127.0.0.1");
	f->port = ntohs(sa.sin_port);
	f->th = g_thread_new("fake", fake_main, f);
}

static void
fake_stop(struct fake *f)
{
	g_atomic_int_set(&f->stop, 1);
	g_thread_join(f->th);
	close(f->lfd);
}

static struct imap *
client(const struct fake *f, size_t max_message)
{
	char url[64];
	struct imap_params p = {.url = url,
	                        .user = "u",
	                        .password = "pw",
	                        .timeout = 1,
	                        .connect_timeout = 1,
	                        .max_message = max_message};

	g_snprintf(url, sizeof(url), "imap://127.0.0.1:%d", f->port);
	return imap_new(&p);
}

struct got {
	int n;
	uint32_t uid[8];
	size_t size[8];
	GByteArray *data[8];
};

static int
collect(uint32_t uid, const void *data, size_t size, void *ctx)
{
	struct got *g = ctx;

	if (g->n < 8) {
		g->uid[g->n] = uid;
		g->size[g->n] = size;
		g->data[g->n] = data ? g_byte_array_append(g_byte_array_new(),
		                                           data, (guint)size)
		                     : NULL;
	}
	g->n++;
	return 0;
}

static void
got_clear(struct got *g)
{
	for (int i = 0; i < g->n && i < 8; i++)
		if (g->data[i])
			g_byte_array_unref(g->data[i]);
	memset(g, 0, sizeof(*g));
}

static bool
same(const GByteArray *b, const char *s)
{
	return b && b->len == strlen(s) && memcmp(b->data, s, b->len) == 0;
}

static const uint32_t uids[] = {3, 1, 2, 2};

static void
test_range_normal(void)
{
	struct fake f;
	struct got g = {0};
	struct imap *im;

	fake_start(&f, "normal");
	im = client(&f, 0);
	TEST_INTEQ(imap_fetch_range(im, "INBOX", 42, uids, 4, collect, &g), 0);
	TEST_INTEQ(g.n, 3);
	TEST_INTEQ(g.uid[0], 1);
	TEST_INTEQ(g.uid[2], 3);
	TEST_CHECK(same(g.data[0], M1));
	TEST_CHECK(same(g.data[1], m2));
	TEST_CHECK(same(g.data[2], M3));
	got_clear(&g);
	/* the connection is reused, and EXAMINE checks UIDVALIDITY */
	TEST_INTEQ(imap_fetch_range(im, "INBOX", 43, uids, 4, collect, &g),
	           -ESTALE);
	TEST_INTEQ(g.n, 0);
	imap_free(&im);
	TEST_CHECK(im == NULL);
	fake_stop(&f);
}

static void
test_range_oversized(void)
{
	struct fake f;
	struct got g = {0};
	struct imap *im;

	/* RFC822.SIZE says message 2 (30 KB) is over a 1000-byte cap: it
	 * is reported, in order, without its bytes ever being asked for */
	fake_start(&f, "normal");
	im = client(&f, 1000);
	TEST_INTEQ(imap_fetch_range(im, "INBOX", 42, uids, 4, collect, &g), 0);
	TEST_INTEQ(g.n, 3);
	TEST_INTEQ(g.uid[1], 2);
	TEST_CHECK(g.data[1] == NULL);
	TEST_INTEQ(g.size[1], strlen(m2));
	TEST_CHECK(same(g.data[2], M3));
	got_clear(&g);
	imap_free(&im);
	fake_stop(&f);

	/* a 100 MB literal where RFC822.SIZE promised little */
	fake_start(&f, "biglit");
	im = client(&f, 1000);
	TEST_INTEQ(imap_fetch_range(im, "INBOX", 42, uids, 1, collect, &g), 0);
	TEST_INTEQ(g.n, 1);
	TEST_CHECK(g.data[0] == NULL);
	TEST_INTEQ(g.size[0], 104857600);
	got_clear(&g);
	imap_free(&im);
	fake_stop(&f);
}

static void
test_range_hostile(void)
{
	struct fake f;
	struct got g = {0};
	struct imap *im;
	gint64 t0;

	fake_start(&f, "stall");
	im = client(&f, 0);
	t0 = g_get_monotonic_time();
	TEST_INTEQ(imap_fetch_range(im, "INBOX", 42, uids, 4, collect, &g),
	           -ETIMEDOUT);
	TEST_CHECK(g_get_monotonic_time() - t0 < 3 * G_USEC_PER_SEC);
	imap_free(&im);
	fake_stop(&f);

	fake_start(&f, "garbage");
	im = client(&f, 0);
	TEST_INTEQ(imap_fetch_range(im, "INBOX", 42, uids, 4, collect, &g),
	           -EPROTO);
	TEST_INTEQ(imap_fetch_range(im, "INBOX", 42, uids, 4, collect, &g),
	           -ENOSYS);
	imap_free(&im);
	fake_stop(&f);

	/* descending answers: uid 3 must not be delivered before 1 and 2 */
	fake_start(&f, "reverse");
	im = client(&f, 0);
	TEST_INTEQ(imap_fetch_range(im, "INBOX", 42, uids, 4, collect, &g),
	           -EPROTO);
	TEST_INTEQ(g.n, 0);
	imap_free(&im);
	fake_stop(&f);
	got_clear(&g);
}

static void
test_idle(void)
{
	struct fake f;
	struct imap *im;
	struct pollfd pfd = {.events = POLLIN};
	int r = 0;

	fake_start(&f, "idle");
	im = client(&f, 0);
	TEST_INTEQ(imap_idle_start(im, "INBOX"), 0);
	TEST_INTEQ(imap_idle_check(im), 0);
	pfd.fd = imap_idle_fd(im);
	for (int i = 0; i < 10 && r == 0; i++) {
		(void)poll(&pfd, 1, 500);
		r = imap_idle_check(im);
	}
	TEST_INTEQ(r, 1);
	imap_idle_stop(im);
	TEST_INTEQ(imap_idle_fd(im), -1);
	imap_free(&im);
	fake_stop(&f);

	fake_start(&f, "idle-bye");
	im = client(&f, 0);
	TEST_INTEQ(imap_idle_start(im, "INBOX"), 0);
	pfd.fd = imap_idle_fd(im);
	(void)poll(&pfd, 1, 2000);
	TEST_INTEQ(imap_idle_check(im), -ENOTCONN);
	imap_free(&im);
	fake_stop(&f);
}

static void
test_arguments(void)
{
	struct imap_params p = {.url = "imap://127.0.0.1:1", .user = "u"};
	struct imap *im = imap_new(&p);
	struct got g = {0};
	const uint32_t zero = 0;
	struct imap_status st;

	TEST_CHECK(im != NULL);
	TEST_INTEQ(imap_status(im, "bad\r\nname", &st), -EINVAL);
	TEST_INTEQ(imap_status(im, "", &st), -EINVAL);
	TEST_INTEQ(imap_fetch_range(im, "INBOX", 42, &zero, 1, collect, &g),
	           -EINVAL);
	TEST_INTEQ(imap_fetch_range(im, "INBOX", 42, NULL, 0, collect, &g), 0);
	TEST_INTEQ(imap_mark(im, "INBOX", 0, uids, 1, NULL), -EINVAL);
	TEST_INTEQ(imap_status(im, "INBOX", &st), -ECONNREFUSED);
	TEST_CHECK(imap_error(im)[0] != '\0');
	imap_free(&im);
	imap_free(&im);
	p.url = "pop3://127.0.0.1/";
	TEST_CHECK(imap_new(&p) == NULL);
	p.url = "imap://user:secret@127.0.0.1/";
	TEST_CHECK(imap_new(&p) == NULL);
	p.url = "imap://127.0.0.1/INBOX";
	TEST_CHECK(imap_new(&p) == NULL);
}

int
main(void)
{
	static const struct test_case cases[] = {
	    {"range_normal", test_range_normal},
	    {"range_oversized", test_range_oversized},
	    {"range_hostile", test_range_hostile},
	    {"idle", test_idle},
	    {"arguments", test_arguments},
	};
	int r;

	/* the failures provoked here log at err; keep the output short */
	log_init(LOGP_ERR - 1);
	memcpy(m2, "From: b@example.com\r\n\r\n", 23);
	memset(m2 + 23, 'y', sizeof(m2) - 23 - 3);
	memcpy(m2 + sizeof(m2) - 3, "\r\n", 3);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	r = test_run("imap", cases, ARRAY_SIZE(cases));
	curl_global_cleanup();
	return r;
}
