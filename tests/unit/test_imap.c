/*
 * test_imap.c - the pure response parser (src/imap_parse.c) on recorded
 * server bytes, then the range reader and the IDLE doorbell of src/imap.c
 * against a scripted IMAP server in a thread on 127.0.0.1: no Dovecot, no
 * Python, no network.  The full hostile set (trickle, flood, 100 MB
 * literals ...) is tests/imapfake.py; this keeps the parser honest in
 * `make unit` in a few seconds.
 */
#include "imap.h"
#include "imap_parse.h"
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
	GPtrArray *stores; /* the UID STORE lines received, without tag */
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

/* fake_bigflags - "bigflags": a mailbox with 9,000 keywords lists them
 * all in FLAGS and PERMANENTFLAGS (over 100 KB a line; "\\*" last). */
static void
fake_bigflags(struct fake *f, int fd, bool perm)
{
	GString *s;

	if (strcmp(f->scenario, "bigflags") != 0)
		return;
	s = g_string_new(perm ? "* OK [PERMANENTFLAGS (\\Seen"
	                      : "* FLAGS (\\Seen");
	for (int i = 0; i < 9000; i++)
		g_string_append_printf(s, " $Ticket%d", 10000 + i);
	g_string_append(s, perm ? " \\*)] many\r\n" : ")\r\n");
	fake_send(fd, s->str, s->len);
	g_string_free(s, TRUE);
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
			fake_bigflags(f, fd, false);
			fake_bigflags(f, fd, true);
			fake_printf(fd,
			            "* 3 EXISTS\r\n* OK [UIDVALIDITY 42] v\r\n"
			            "* OK [UIDNEXT 4] n {5}\r\n"
			            "%s OK [READ-ONLY] examined\r\n",
			            tag);
		} else if (strcmp(cmd, "SELECT") == 0) {
			/* "kw": new keywords may be created; "kw-none": only
			 * $Open is kept; "bigflags": see fake_bigflags */
			fake_bigflags(f, fd, false);
			fake_bigflags(f, fd, true);
			fake_printf(fd,
			            "* FLAGS (\\Seen $Open)\r\n"
			            "* OK [PERMANENTFLAGS (\\Seen %s)] p\r\n"
			            "* 3 EXISTS\r\n* OK [UIDVALIDITY 42] v\r\n"
			            "%s OK [READ-WRITE] selected\r\n",
			            strcmp(f->scenario, "kw-none") != 0
			                ? "\\*"
			                : "$Open",
			            tag);
		} else if (strcmp(cmd, "UID") == 0 && strstr(line, "STORE")) {
			g_ptr_array_add(f->stores,
			                g_strdup(line + strlen(tag) + 1));
			fake_printf(
			    fd,
			    "* 2 FETCH (FLAGS (\\Seen))\r\n%s OK stored\r\n",
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
	f->stores = g_ptr_array_new_with_free_func(g_free);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (f->lfd < 0 || bind(f->lfd, (struct sockaddr *)&sa, slen) < 0 ||
	    listen(f->lfd, 4) < 0 ||
	    getsockname(f->lfd, (struct sockaddr *)&sa, &slen) < 0)
		log_die("test_imap: cannot listen on 127.0.0.1");
	f->port = ntohs(sa.sin_port);
	f->th = g_thread_new("fake", fake_main, f);
}

/* fake_join - wait for the server thread (its connections end when
 * the client hangs up); what it recorded stays readable. */
static void
fake_join(struct fake *f)
{
	g_atomic_int_set(&f->stop, 1);
	g_thread_join(f->th);
	close(f->lfd);
}

static void
fake_stop(struct fake *f)
{
	fake_join(f);
	g_ptr_array_unref(f->stores);
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

/* --- the parser, on bytes held in memory --- */

static char perr[256];

/* parse_fetch - the "* n FETCH (...)" response at the start of wire,
 * literals read from the same bytes; body gets BODY[] up to cap. */
static int
parse_fetch(const char *wire, struct imap_fetch_item *it, GByteArray *body,
            size_t cap)
{
	struct imap_parse_mem m;
	struct imap_cur k;
	const char *l;
	size_t len;
	int r;

	perr[0] = '\0';
	imap_parse_mem_init(&m, wire, strlen(wire), perr, sizeof(perr));
	r = imap_parse_mem_line(&m, &l, &len);
	if (r == 0) {
		imap_cur_init(&k, l, len, 2, &m.src, perr, sizeof(perr));
		r = imap_parse_untagged(&k);
		if (r == IMAP_UNTAGGED_FETCH)
			r = imap_parse_getc(&k) == ' '
			        ? imap_parse_fetch(&k, it, body, cap)
			        : -EPROTO;
		else if (r >= 0)
			r = -EINVAL;
	}
	imap_parse_mem_clear(&m);
	return r;
}

static void
test_parse_fetch(void)
{
	GByteArray *b = g_byte_array_new();
	struct imap_fetch_item it;
	static const char nested[] =
	    "* 1 FETCH (X ((((((((((((((((((a)))))))))))))))))) UID 1)\r\n";

	TEST_INTEQ(parse_fetch("* 1 FETCH (UID 7 RFC822.SIZE 5 BODY[] "
	                       "{5}\r\nhello)\r\n",
	                       &it, b, 100),
	           0);
	TEST_CHECK(it.has_uid && it.uid == 7 && it.has_size && it.size == 5);
	TEST_CHECK(it.has_body && !it.seen);
	TEST_INTEQ(b->len, 5);
	TEST_CHECK(memcmp(b->data, "hello", 5) == 0);
	/* a server line inside the literal stays mail */
	g_byte_array_set_size(b, 0);
	TEST_INTEQ(parse_fetch("* 2 FETCH (BODY[] {17}\r\nA004 OK fake\r\n)\r\n"
	                       " UID 9 FLAGS (\\Answered \\Seen))\r\n",
	                       &it, b, 100),
	           0);
	TEST_CHECK(it.uid == 9 && it.seen && b->len == 17);
	/* over the cap: announced, never read */
	g_byte_array_set_size(b, 0);
	TEST_INTEQ(parse_fetch("* 3 FETCH (UID 4 BODY[] {999999999999}\r\n",
	                       &it, b, 100),
	           IMAP_PARSE_BIG);
	TEST_CHECK(it.body_big && it.body_len == 999999999999ULL &&
	           b->len == 0);
	TEST_INTEQ(parse_fetch("* 3 FETCH (UID 4 BODY[] \"abc\\\"d\")\r\n", &it,
	                       b, 100),
	           0);
	TEST_INTEQ(b->len, 5);
	TEST_INTEQ(parse_fetch("* 3 FETCH (UID 4 BODY[] NIL)\r\n", &it, b, 100),
	           0);
	TEST_CHECK(it.body_nil);
	TEST_INTEQ(parse_fetch("* 3 FETCH ()\r\n", &it, NULL, 0), 0);
	TEST_CHECK(!it.has_uid);
	/* what a hostile or broken server may send */
	TEST_INTEQ(parse_fetch("* 1 FETCH (UID 0)\r\n", &it, NULL, 0), -EPROTO);
	TEST_INTEQ(parse_fetch("* 1 FETCH (UID 4294967296)\r\n", &it, NULL, 0),
	           -EPROTO);
	TEST_CHECK(strstr(perr, "number over 32 bits") != NULL);
	TEST_INTEQ(
	    parse_fetch("* 1 FETCH (RFC822.SIZE 99999999999999999999)\r\n", &it,
	                NULL, 0),
	    -EPROTO);
	TEST_INTEQ(
	    parse_fetch("* 1 FETCH (BODY[] NIL BODY[] NIL)\r\n", &it, NULL, 0),
	    -EPROTO);
	TEST_CHECK(strstr(perr, "BODY[] twice") != NULL);
	TEST_INTEQ(parse_fetch("* 1 FETCH (UID 1) junk\r\n", &it, NULL, 0),
	           -EPROTO);
	TEST_INTEQ(parse_fetch("* 1 FETCH (UID 1\r\n", &it, NULL, 0), -EPROTO);
	TEST_INTEQ(parse_fetch("* 1 FETCH UID 1\r\n", &it, NULL, 0), -EPROTO);
	TEST_INTEQ(parse_fetch(nested, &it, NULL, 0), -EPROTO);
	TEST_CHECK(strstr(perr, "nested too deep") != NULL);
	TEST_INTEQ(parse_fetch("* 1 FETCH (BODY[] {70000}\r\n", &it, NULL, 0),
	           -EPROTO);
	/* the literal promised more than the server sent */
	TEST_INTEQ(parse_fetch("* 1 FETCH (BODY[] {10}\r\nabc", &it, b, 100),
	           -ECONNRESET);
	/* an unknown item with a small literal inside is drained */
	TEST_INTEQ(
	    parse_fetch("* 1 FETCH (X-GM {3}\r\nabc UID 5)\r\n", &it, NULL, 0),
	    0);
	TEST_INTEQ(it.uid, 5);
	g_byte_array_unref(b);
}

static void
test_parse_untagged(void)
{
	static const struct {
		const char *line;
		int kind;
	} cases[] = {
	    {"* 3 EXISTS", IMAP_UNTAGGED_CHANGE},
	    {"* 1 expunge", IMAP_UNTAGGED_CHANGE},
	    {"* 0 RECENT", IMAP_UNTAGGED_CHANGE},
	    {"* 3 FETCH (UID 1)", IMAP_UNTAGGED_FETCH},
	    {"* 5 OK odd", IMAP_UNTAGGED_OTHER},
	    {"* EXISTS", IMAP_UNTAGGED_OTHER},
	    {"* OK [UIDVALIDITY 42] ok", IMAP_UNTAGGED_OK},
	    {"* NO [ALERT] full", IMAP_UNTAGGED_REFUSAL},
	    {"* PREAUTH", IMAP_UNTAGGED_REFUSAL},
	    {"* BYE shutting down", IMAP_UNTAGGED_BYE},
	    {"* CAPABILITY IMAP4rev1 IDLE", IMAP_UNTAGGED_CAPABILITY},
	    {"* FLAGS (\\Seen)", IMAP_UNTAGGED_OTHER},
	    {"* 5x", -EPROTO},
	    {"* 99999999999 EXISTS", -EPROTO},
	};
	struct imap_cur k;
	uint32_t v = 0;
	uint64_t n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		imap_cur_init(&k, cases[i].line, strlen(cases[i].line), 2, NULL,
		              perr, sizeof(perr));
		TEST_INTEQ(imap_parse_untagged(&k), cases[i].kind);
	}
	imap_cur_init(&k, cases[6].line, strlen(cases[6].line), 2, NULL, perr,
	              sizeof(perr));
	TEST_INTEQ(imap_parse_untagged(&k), IMAP_UNTAGGED_OK);
	TEST_INTEQ(imap_parse_uidvalidity(&k, &v), 0);
	TEST_INTEQ(v, 42);
	imap_cur_init(&k, "* OK [UIDVALIDITY x]", 20, 4, NULL, perr,
	              sizeof(perr));
	TEST_INTEQ(imap_parse_uidvalidity(&k, &v), -EPROTO);
	imap_cur_init(&k, "* OK", 4, 4, NULL, perr, sizeof(perr));
	TEST_INTEQ(imap_parse_uidvalidity(&k, &v), 0);
	TEST_INTEQ(v, 42);
	/* UIDNEXT: the same shape, and never taken for UIDVALIDITY */
	imap_cur_init(&k, "* OK [UIDNEXT 4711] Predicted next UID", 38, 4, NULL,
	              perr, sizeof(perr));
	TEST_INTEQ(imap_parse_uidvalidity(&k, &v), 0);
	TEST_INTEQ(v, 42);
	TEST_INTEQ(imap_parse_uidnext(&k, &v), 0);
	TEST_INTEQ(v, 4711);
	imap_cur_init(&k, "* OK [uidnext 9]", 16, 4, NULL, perr, sizeof(perr));
	TEST_INTEQ(imap_parse_uidnext(&k, &v), 0);
	TEST_INTEQ(v, 9);
	imap_cur_init(&k, "* OK [UIDNEXT 99999999999]", 26, 4, NULL, perr,
	              sizeof(perr));
	TEST_INTEQ(imap_parse_uidnext(&k, &v), -EPROTO);
	imap_cur_init(&k, "* OK [UIDVALIDITY 7]", 20, 4, NULL, perr,
	              sizeof(perr));
	TEST_INTEQ(imap_parse_uidnext(&k, &v), 0);
	TEST_INTEQ(v, 9);
	/* a response we skip: its small literal is drained, a large one not */
	{
		static const char w[] = "* 1 LIST () \"/\" {3}\r\nabc\r\n"
		                        "* 2 LIST () \"/\" {70000}\r\n";
		struct imap_parse_mem m;
		const char *l;
		size_t len;

		imap_parse_mem_init(&m, w, sizeof(w) - 1, perr, sizeof(perr));
		TEST_INTEQ(imap_parse_mem_line(&m, &l, &len), 0);
		imap_cur_init(&k, l, len, 2, &m.src, perr, sizeof(perr));
		TEST_INTEQ(imap_parse_untagged(&k), IMAP_UNTAGGED_OTHER);
		TEST_INTEQ(imap_parse_skip_rest(&k), 0);
		TEST_INTEQ(imap_parse_mem_line(&m, &l, &len), 0);
		imap_cur_init(&k, l, len, 2, &m.src, perr, sizeof(perr));
		TEST_INTEQ(imap_parse_skip_rest(&k), -EPROTO);
		imap_parse_mem_clear(&m);
	}
	TEST_CHECK(imap_parse_line_literal("x {12}", 6, &n) && n == 12);
	TEST_CHECK(!imap_parse_line_literal("x {}", 4, &n));
	TEST_CHECK(!imap_parse_line_literal("{12} x", 6, &n));
	TEST_CHECK(!imap_parse_line_literal("{1234567890123456789}", 21, &n));
}

/* PERMANENTFLAGS as Dovecot, Cyrus and a read-only EXAMINE send them,
 * and what a hostile server may send instead. */
static void
test_parse_permflags(void)
{
	static const struct {
		const char *line;
		int r;
		bool found;
		const char *flags;
	} cases[] = {
	    {"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen "
	     "\\Draft \\*)] Flags permitted.",
	     0, true, " \\ANSWERED \\FLAGGED \\DELETED \\SEEN \\DRAFT \\* "},
	    {"* OK [PERMANENTFLAGS ()] Read-only mailbox.", 0, true, " "},
	    {"* OK [PERMANENTFLAGS (\\Seen $Ticket1042 $Open)]", 0, true,
	     " \\SEEN $TICKET1042 $OPEN "},
	    {"* OK [UNSEEN 3] first unseen", 0, false, ""},
	    {"* OK [PERMANENTFLAGS (\\Seen", -EPROTO, false, ""},
	    {"* OK [PERMANENTFLAGS (\\Seen)", -EPROTO, false, ""},
	    {"* OK [PERMANENTFLAGS (\\ \\Seen)]", -EPROTO, false, ""},
	    {"* OK [PERMANENTFLAGS (a(b)]", -EPROTO, false, ""},
	    {"* OK [PERMANENTFLAGS (\\Seen  $x)]", -EPROTO, false, ""},
	    {"* OK [PERMANENTFLAGS (\"$x\")]", -EPROTO, false, ""},
	};
	struct imap_cur k;
	char flags[64];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		bool found = false;

		flags[0] = '\0';
		imap_cur_init(&k, cases[i].line, strlen(cases[i].line), 4, NULL,
		              perr, sizeof(perr));
		TEST_INTEQ(
		    imap_parse_permflags(&k, flags, sizeof(flags), &found),
		    cases[i].r);
		TEST_CHECK(found == cases[i].found);
		if (cases[i].found)
			TEST_STREQ(flags, cases[i].flags);
	}
	imap_cur_init(&k, cases[0].line, strlen(cases[0].line), 4, NULL, perr,
	              sizeof(perr));
	{
		bool found = false;
		TEST_INTEQ(
		    imap_parse_permflags(&k, flags, sizeof(flags), &found), 0);
	}
	TEST_CHECK(imap_parse_has_flag(flags, "\\*"));
	TEST_CHECK(imap_parse_has_flag(flags, "\\seen"));
	TEST_CHECK(!imap_parse_has_flag(flags, "$Open"));
	TEST_CHECK(!imap_parse_has_flag(flags, "SEEN"));
	TEST_CHECK(!imap_parse_has_flag(flags, ""));
	/* a list longer than the buffer is cut at a name: the rest is "not
	 * permitted" */
	{
		static const char l[] = "* OK [PERMANENTFLAGS ($aaaaaaaaaa "
		                        "$bbbbbbbbbb $cccccccccc \\*)]";
		char small[28];
		bool found = false;

		imap_cur_init(&k, l, strlen(l), 4, NULL, perr, sizeof(perr));
		TEST_INTEQ(
		    imap_parse_permflags(&k, small, sizeof(small), &found), 0);
		TEST_STREQ(small, " $AAAAAAAAAA $BBBBBBBBBB ");
		TEST_CHECK(!imap_parse_has_flag(small, "\\*"));
	}
}

static void
test_parse_caps_tagged(void)
{
	char caps[32];

	imap_parse_caps("IMAP4rev1 idle  Move]ignored", caps, sizeof(caps));
	TEST_STREQ(caps, " IMAP4REV1 IDLE MOVE ");
	TEST_CHECK(imap_parse_has_cap(caps, "MOVE"));
	TEST_CHECK(!imap_parse_has_cap(caps, "UIDPLUS"));
	/* a list longer than the buffer is cut at a name */
	imap_parse_caps("AAAAAAAAAA BBBBBBBBBB CCCCCCCCCC", caps, sizeof(caps));
	TEST_STREQ(caps, " AAAAAAAAAA BBBBBBBBBB ");
	TEST_INTEQ(imap_parse_tagged("t1.1 OK done", "t1.1"), 1);
	TEST_INTEQ(imap_parse_tagged("t1.1 OK", "t1.1"), 1);
	TEST_INTEQ(imap_parse_tagged("t1.10 OK", "t1.1"), 0);
	TEST_INTEQ(imap_parse_tagged("t1.1 OKAY", "t1.1"), -EIO);
	TEST_INTEQ(imap_parse_tagged("t1.1 NO [NONEXISTENT] x", "t1.1"),
	           -ENOENT);
	TEST_INTEQ(imap_parse_tagged("t1.1 BAD what", "t1.1"), -EPROTO);
	TEST_INTEQ(imap_parse_tagged_err("A1 NO Mailbox doesn't exist: X"),
	           -ENOENT);
	TEST_INTEQ(imap_parse_tagged_err("A1 NO [OVERQUOTA] full"), -EAGAIN);
	TEST_INTEQ(imap_parse_tagged_err("A1 NO [AUTHENTICATIONFAILED] x"),
	           -EACCES);
	TEST_INTEQ(imap_parse_tagged_err("A1 NO busy"), -EIO);
}

/* reply - a reply buffer as the easy handle leaves it. */
static GByteArray *
reply(const char *s, size_t len)
{
	GByteArray *b = g_byte_array_new();

	g_byte_array_append(b, (const guint8 *)s, (guint)len);
	return b;
}

#define REPLY(s) reply(s, sizeof(s) - 1)

static void
test_parse_replies(void)
{
	struct imap_parse_status st = {0};
	struct imap_fetch_item it;
	GArray *u = g_array_new(FALSE, FALSE, sizeof(uint32_t));
	GByteArray *b;
	char caps[64] = "";

	b = REPLY("* 4 EXISTS\r\n* STATUS \"a (b)\" (UIDVALIDITY 3 UIDNEXT 10 "
	          "MESSAGES 4)\r\n");
	TEST_INTEQ(imap_parse_status_reply(b, &st, perr, sizeof(perr)), 0);
	TEST_CHECK(st.uidvalidity == 3 && st.uidnext == 10 && st.messages == 4);
	g_byte_array_unref(b);
	b = REPLY("* STATUS INBOX (UIDVALIDITY 3 UIDNEXT 10)\r\n");
	TEST_INTEQ(imap_parse_status_reply(b, &st, perr, sizeof(perr)),
	           -EPROTO);
	g_byte_array_unref(b);
	b = REPLY("* STATUS INBOX (UIDVALIDITY 3 UIDNEXT 10 MESSAGES x)\r\n");
	TEST_INTEQ(imap_parse_status_reply(b, &st, perr, sizeof(perr)),
	           -EPROTO);
	g_byte_array_unref(b);
	b = REPLY("* STATUS INBOX (UIDVALIDITY 3 UIDNEXT\0 10 MESSAGES 1)\r\n");
	TEST_INTEQ(imap_parse_status_reply(b, &st, perr, sizeof(perr)),
	           -EPROTO);
	TEST_STREQ(perr, "NUL byte in a reply line");
	g_byte_array_unref(b);

	b = REPLY(
	    "* SEARCH 9 3 100 5\r\n* 4 EXISTS\r\n* SEARCH 4 (MODSEQ 7)\r\n");
	TEST_INTEQ(imap_parse_search_reply(b, 3, 9, 10, u, perr, sizeof(perr)),
	           0);
	TEST_INTEQ(u->len, 4);
	TEST_CHECK(u->len == 4 && g_array_index(u, uint32_t, 0) == 3 &&
	           g_array_index(u, uint32_t, 1) == 4 &&
	           g_array_index(u, uint32_t, 3) == 9);
	g_byte_array_unref(b);
	g_array_set_size(u, 0);
	b = REPLY("* SEARCH 3 4 5\r\n");
	TEST_INTEQ(imap_parse_search_reply(b, 1, 9, 2, u, perr, sizeof(perr)),
	           -EPROTO);
	g_byte_array_unref(b);
	g_array_set_size(u, 0);
	b = REPLY("* SEARCH\r\n* SEARCHES 5\r\n");
	TEST_INTEQ(imap_parse_search_reply(b, 1, 9, 2, u, perr, sizeof(perr)),
	           0);
	TEST_INTEQ(u->len, 0);
	g_byte_array_unref(b);

	/* nothing found into an array never appended to (data NULL): the
	 * fuzzer's first find, NULL + 0 before the sort */
	{
		GArray *none = g_array_new(FALSE, FALSE, sizeof(uint32_t));

		b = REPLY("* OK nothing\r\n");
		TEST_INTEQ(imap_parse_search_reply(b, 1, 9, 2, none, perr,
		                                   sizeof(perr)),
		           0);
		TEST_INTEQ(none->len, 0);
		g_byte_array_unref(b);
		g_array_unref(none);
	}

	b = REPLY(
	    "* 1 FETCH (FLAGS (\\Seen))\r\n* 2 FETCH (FLAGS (\\Seen) UID 8 "
	    "RFC822.SIZE 100)\r\n");
	TEST_INTEQ(imap_parse_fetch_reply(b, 8, &it, perr, sizeof(perr)), 0);
	TEST_CHECK(it.seen && it.size == 100 && it.uid == 8);
	g_byte_array_unref(b);
	b = REPLY("* 2 FETCH (UID 8 RFC822.SIZE 100)\r\n");
	TEST_INTEQ(imap_parse_fetch_reply(b, 9, &it, perr, sizeof(perr)),
	           -ENOENT);
	TEST_STREQ(perr, "no message with UID 9");
	g_byte_array_unref(b);
	b = REPLY("* 2 FETCH (UID 8 BODY[] {3}\r\nabc)\r\n");
	TEST_INTEQ(imap_parse_fetch_reply(b, 8, &it, perr, sizeof(perr)),
	           -EPROTO);
	g_byte_array_unref(b);

	b = REPLY("* OK x\r\n* CAPABILITY IMAP4rev1 MOVE\r\n");
	TEST_INTEQ(
	    imap_parse_caps_reply(b, caps, sizeof(caps), perr, sizeof(perr)),
	    1);
	TEST_STREQ(caps, " IMAP4REV1 MOVE ");
	g_byte_array_unref(b);
	b = REPLY("* OK x\r\n");
	TEST_INTEQ(
	    imap_parse_caps_reply(b, caps, sizeof(caps), perr, sizeof(perr)),
	    0);
	g_byte_array_unref(b);

	/* a NOOP's reply: a session that could not sync (Dovecot 2.3.19's
	 * words), and the untagged lines that are not that */
	{
		static const struct {
			const char *s;
			size_t len;
			int want;
		} sync[] = {
#define SYNC_CASE(s, want) {s, sizeof(s) - 1, want}
		    SYNC_CASE("* OK [CLIENTBUG] x\r\n* NO Internal error "
		              "occurred. Refer to server log.\r\n",
		              1),
		    SYNC_CASE("* no\r\n", 1),
		    SYNC_CASE("* 3 EXISTS\r\n* NO [ALERT] Mailbox is almost "
		              "full\r\n* NOTE x\r\n* OK NO\r\n",
		              0),
		    SYNC_CASE("", 0),
		    SYNC_CASE("* OK a\0b\r\n* NO x\r\n", -EPROTO),
#undef SYNC_CASE
		};

		for (size_t i = 0; i < ARRAY_SIZE(sync); i++) {
			b = reply(sync[i].s, sync[i].len);
			TEST_INTEQ(
			    imap_parse_sync_failed(b, perr, sizeof(perr)),
			    sync[i].want);
			g_byte_array_unref(b);
		}
	}
	g_array_unref(u);
}

static const char *
store_line(const struct fake *f, guint i)
{
	return i < f->stores->len ? f->stores->pdata[i] : "";
}

/* imap_keywords: SELECT (read-write), PERMANENTFLAGS honoured, removal
 * before addition, nothing but keywords on the wire. */
static void
test_keywords(void)
{
	static const uint32_t u[] = {3, 1, 2, 2};
	const char *add[] = {"$Ticket7", "$Open"}, *del[] = {"$New", "$Open"};
	const char *bad1[] = {"a b"}, *bad2[] = {"\\Seen"}, *bad3[] = {"$x)"};
	struct fake f;
	struct imap *im;

	fake_start(&f, "kw");
	im = client(&f, 0);
	TEST_INTEQ(imap_keywords(im, "INBOX", 42, u, 4, add, 2, del, 1), 0);
	TEST_INTEQ(imap_keywords(im, "INBOX", 43, u, 4, add, 2, del, 1),
	           -ESTALE);
	TEST_INTEQ(imap_keywords(im, "INBOX", 42, u, 4, bad1, 1, NULL, 0),
	           -EINVAL);
	TEST_INTEQ(imap_keywords(im, "INBOX", 42, u, 4, add, 2, bad2, 1),
	           -EINVAL);
	TEST_INTEQ(imap_keywords(im, "INBOX", 42, u, 4, bad3, 1, NULL, 0),
	           -EINVAL);
	imap_free(&im);
	fake_join(&f);
	TEST_INTEQ(f.stores->len, 2);
	TEST_STREQ(store_line(&f, 0), "UID STORE 1:3 -FLAGS.SILENT ($New)");
	TEST_STREQ(store_line(&f, 1),
	           "UID STORE 1:3 +FLAGS.SILENT ($Ticket7 $Open)");
	g_ptr_array_unref(f.stores);

	fake_start(&f, "kw-none");
	im = client(&f, 0);
	/* only what PERMANENTFLAGS lists goes out */
	TEST_INTEQ(imap_keywords(im, "INBOX", 42, u, 2, add, 2, del, 2), 0);
	/* a mailbox that keeps none of them: nothing is sent */
	TEST_INTEQ(imap_keywords(im, "INBOX", 42, u, 2, add, 1, NULL, 0),
	           -ENOTSUP);
	imap_free(&im);
	fake_join(&f);
	TEST_INTEQ(f.stores->len, 2);
	TEST_STREQ(store_line(&f, 0), "UID STORE 1,3 -FLAGS.SILENT ($Open)");
	TEST_STREQ(store_line(&f, 1), "UID STORE 1,3 +FLAGS.SILENT ($Open)");
	g_ptr_array_unref(f.stores);
}

/* A flag list over the line bound (a mailbox's every keyword) is read
 * to its end and not kept: the range fetch and the keywords go on,
 * "\\*" at its very end still counts. */
static void
test_bigflags(void)
{
	const char *add[] = {"$Open"};
	struct fake f;
	struct got g = {0};
	struct imap *im;

	fake_start(&f, "bigflags");
	im = client(&f, 0);
	TEST_INTEQ(imap_fetch_range(im, "INBOX", 42, uids, 4, collect, &g), 0);
	TEST_INTEQ(g.n, 3);
	TEST_CHECK(same(g.data[2], M3));
	got_clear(&g);
	/* the fake serves one connection at a time */
	imap_free(&im);
	im = client(&f, 0);
	TEST_INTEQ(imap_keywords(im, "INBOX", 42, uids, 4, add, 1, NULL, 0), 0);
	imap_free(&im);
	fake_join(&f);
	TEST_INTEQ(f.stores->len, 1);
	TEST_STREQ(store_line(&f, 0), "UID STORE 1:3 +FLAGS.SILENT ($Open)");
	g_ptr_array_unref(f.stores);
}

int
main(void)
{
	static const struct test_case cases[] = {
	    {"parse_fetch", test_parse_fetch},
	    {"parse_untagged", test_parse_untagged},
	    {"parse_caps_tagged", test_parse_caps_tagged},
	    {"parse_permflags", test_parse_permflags},
	    {"parse_replies", test_parse_replies},
	    {"range_normal", test_range_normal},
	    {"range_oversized", test_range_oversized},
	    {"range_hostile", test_range_hostile},
	    {"idle", test_idle},
	    {"arguments", test_arguments},
	    {"keywords", test_keywords},
	    {"big flag lists", test_bigflags},
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
