/*
 * smtp.c - SMTP via libcurl.  See smtp.h.
 */
#include "smtp.h"

#include "log.h"

#include <curl/curl.h>
#include <glib.h>
#include <string.h>

struct smtp {
	CURL *h;
	char *url, *user, *password;
	bool starttls;
	long timeout;
	char err[CURL_ERROR_SIZE];
	char msg[CURL_ERROR_SIZE + 64];
	int in_session;     /* mails sent on the current connection */
	long long commands; /* SMTP commands sent, end of DATA included */
	bool mail_cmd;      /* this transfer got as far as MAIL FROM */
	bool timed_out;     /* this transfer ran into a timeout */
	/* upload state */
	const char *data;
	size_t len, off;
};

static size_t
smtp_read_cb(char *buf, size_t size, size_t n, void *ud)
{
	struct smtp *s = ud;
	size_t want = size * n, left = s->len - s->off;

	if (want > left)
		want = left;
	memcpy(buf, s->data + s->off, want);
	s->off += want;
	return want;
}

/* smtp_debug_cb - count the commands curl sends: each one is a round trip
 * (curl does not pipeline SMTP), so commands per mail is the figure that
 * says what connection re-use saves.  The greeting is a wait too, but
 * not a command: it is left out. */
static int
smtp_debug_cb(CURL *h, curl_infotype type, char *data, size_t size, void *ud)
{
	struct smtp *s = ud;

	(void)h;
	if (type != CURLINFO_HEADER_OUT)
		return 0;
	s->commands++;
	if (size >= 5 && g_ascii_strncasecmp(data, "MAIL ", 5) == 0)
		s->mail_cmd = true;
	return 0;
}

static void
smtp_setup(struct smtp *s)
{
	s->h = curl_easy_init();
	if (s->h == NULL)
		log_die("smtp: curl_easy_init failed");
	curl_easy_setopt(s->h, CURLOPT_URL, s->url);
	curl_easy_setopt(s->h, CURLOPT_ERRORBUFFER, s->err);
	curl_easy_setopt(s->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(s->h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(s->h, CURLOPT_READFUNCTION, smtp_read_cb);
	curl_easy_setopt(s->h, CURLOPT_READDATA, s);
	curl_easy_setopt(s->h, CURLOPT_CONNECTTIMEOUT, 15L);
	curl_easy_setopt(s->h, CURLOPT_SERVER_RESPONSE_TIMEOUT, s->timeout);
	/* A whole mail must not take forever even if every reply trickles. */
	curl_easy_setopt(s->h, CURLOPT_TIMEOUT, s->timeout * 4);
	curl_easy_setopt(s->h, CURLOPT_TCP_KEEPALIVE, 1L);
	/* VERBOSE only feeds smtp_debug_cb; nothing is printed */
	curl_easy_setopt(s->h, CURLOPT_DEBUGFUNCTION, smtp_debug_cb);
	curl_easy_setopt(s->h, CURLOPT_DEBUGDATA, s);
	curl_easy_setopt(s->h, CURLOPT_VERBOSE, 1L);
	/* Never CURLUSESSL_TRY: it silently sends in plain text. */
	if (s->starttls && g_str_has_prefix(s->url, "smtp://"))
		curl_easy_setopt(s->h, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	if (s->user != NULL) {
		curl_easy_setopt(s->h, CURLOPT_USERNAME, s->user);
		curl_easy_setopt(s->h, CURLOPT_PASSWORD, s->password);
	}
}

struct smtp *
smtp_new(const struct smtp_params *p)
{
	struct smtp *s = g_new0(struct smtp, 1);

	s->url = g_strdup(p->url);
	s->user = g_strdup(p->user);
	s->password = g_strdup(p->password);
	s->starttls = p->starttls;
	s->timeout = p->timeout > 0 ? p->timeout : 60;
	smtp_setup(s);
	return s;
}

void
smtp_free(struct smtp **sp)
{
	struct smtp *s = *sp;

	if (s == NULL)
		return;
	if (s->h)
		curl_easy_cleanup(s->h);
	g_free(s->url);
	g_free(s->user);
	if (s->password)
		explicit_bzero(s->password, strlen(s->password));
	g_free(s->password);
	g_free(s);
	*sp = NULL;
}

void
smtp_close(struct smtp *s)
{
	/* A new handle is the only way to make curl drop its connection. */
	curl_easy_cleanup(s->h);
	s->in_session = 0;
	smtp_setup(s);
}

const char *
smtp_error(const struct smtp *s)
{
	return s->msg;
}

long long
smtp_commands(const struct smtp *s)
{
	return s->commands;
}

/* OpenSMTPD ends a session after 100 mails (notes 9): reconnect first. */
#define SMTP_PER_SESSION 90

static int smtp_send_once(struct smtp *s, const char *env_from,
                          const char *rcpt, const void *data, size_t len,
                          int *code_r);

int
smtp_send(struct smtp *s, const char *env_from, const char *rcpt,
          const void *data, size_t len, int *code_r)
{
	int r, before;

	if (s->in_session >= SMTP_PER_SESSION)
		smtp_close(s);
	before = s->in_session;
	r = smtp_send_once(s, env_from, rcpt, data, len, code_r);
	/* 421, or 452 "too many messages" on a session that has sent mail
	 * already, is the server's per-session limit, not about this mail;
	 * no reply at all on a re-used session (not a timeout: the server
	 * may be busy with the mail) is one the server closed while it was
	 * idle: a fresh session, once. */
	if (r != 0 && r != -EBADMSG && before > 0 &&
	    (*code_r == 421 || *code_r == 452 ||
	     (*code_r == 0 && !s->timed_out))) {
		log_info("smtp: %s after %d mails in this session, "
		         "reconnecting",
		         s->msg, before);
		smtp_close(s);
		r = smtp_send_once(s, env_from, rcpt, data, len, code_r);
	}
	return r;
}

static int
smtp_send_once(struct smtp *s, const char *env_from, const char *rcpt,
               const void *data, size_t len, int *code_r)
{
	struct curl_slist *rcpts = NULL;
	g_autofree char *from = NULL, *to = NULL;
	CURLcode rc;
	long code = 0;
	int r;

	/* curl sends "MAIL FROM:<>" for an empty string (RFC 5321 null). */
	from = g_strdup_printf("<%s>", env_from);
	to = g_strdup_printf("<%s>", rcpt);
	rcpts = curl_slist_append(rcpts, to);
	s->data = data;
	s->len = len;
	s->off = 0;
	s->err[0] = '\0';
	s->mail_cmd = false;
	curl_easy_setopt(s->h, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(s->h, CURLOPT_MAIL_RCPT, rcpts);
	curl_easy_setopt(s->h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
	rc = curl_easy_perform(s->h);
	curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(rcpts);
	curl_easy_setopt(s->h, CURLOPT_MAIL_RCPT, NULL);
	*code_r = (int)code;
	s->timed_out = rc == CURLE_OPERATION_TIMEDOUT;
	if (rc == CURLE_OK) {
		s->msg[0] = '\0';
		s->in_session++;
		s->commands++; /* the end of DATA is not a HEADER_OUT */
		return 0;
	}
	/* after a failure curl sends QUIT; the next mail opens a session */
	s->in_session = 0;
	/* The reply code decides, not the CURLcode (notes 2): 5xx is the
	 * server's final word, everything else may work next time. */
	r = code >= 500 && code < 600 ? -EBADMSG : -EAGAIN;
	/* no MAIL FROM went out: the session itself failed (no connection,
	 * a 421 greeting, a 4xx to EHLO), which says nothing about this mail
	 * and, while other connections work, is the server's limit */
	if (r == -EAGAIN && !s->mail_cmd)
		r = -ECONNREFUSED;
	g_snprintf(s->msg, sizeof(s->msg), "%s (code %ld)",
	           s->err[0] ? s->err : curl_easy_strerror(rc), code);
	return r;
}
