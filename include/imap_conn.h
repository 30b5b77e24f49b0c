/*
 * imap_conn.h - the IMAP transport of one account over libcurl 7.88: the
 * only libcurl user of the IMAP client, and the only code that waits on
 * the network.  Owns the account's settings, the reused easy handle (a
 * command by URL or custom request, its untagged reply in a capped
 * buffer), the capability list, and connect-only connections
 * (struct imap_conn_raw) on which libcurl does greeting, STARTTLS and
 * login and the caller then speaks IMAP itself: tagged commands out,
 * lines and literals in, every wait our own poll() against a deadline,
 * every byte in a buffer with an explicit cap.  No CURL handle leaves
 * this module; what the bytes mean is imap_parse.c's business.
 *
 * Errors are negative errnos as imap.h lists them; each failure writes
 * its reason into the message buffer given to imap_conn_new (the
 * client's imap_error() text) and does not log: the client logs once.
 * Not thread-safe: one struct imap_conn per thread, with its raw
 * connections.
 */
#ifndef TICKD_IMAP_CONN_H
#define TICKD_IMAP_CONN_H

#include "common.h"

#include <glib.h>

/* The account, as imap_new (imap.h) takes it. */
struct imap_params {
	const char *url; /* "imaps://host:993" or "imap://host:143" */
	const char *user;
	const char *password;      /* may be NULL */
	bool starttls;             /* for imap:// : require STARTTLS (default);
	                              false = plaintext (loopback tests only) */
	bool insecure_skip_verify; /* tests only: accept self-signed certs */
	long connect_timeout;      /* seconds, default 15 */
	long timeout;              /* seconds per server response, default 60;
	                              one message must arrive within 10x this */
	size_t max_message;        /* bytes, default 25 MiB */
};

/* One command, or one whole message, must finish within this many
 * response timeouts: a server that trickles a byte now and then cannot
 * hold us forever. */
#define IMAP_CONN_TOTAL_FACTOR 10

struct imap_conn;
struct imap_conn_raw;

/*
 * imap_conn_new - the transport for p (strings copied); connects
 * lazily.  msg (msgsize bytes, borrowed, must outlive the conn) receives
 * failure texts.  NULL (logged) if p is unusable: no url/user, a scheme
 * other than imap or imaps, a path or user info in the url, or libcurl
 * refuses the setup.  Free with imap_conn_free.
 */
struct imap_conn *imap_conn_new(const struct imap_params *p, char *msg,
                                size_t msgsize);

/* imap_conn_free - close the easy handle (libcurl sends LOGOUT), wipe
 * the password, free; NULL-safe, sets *c to NULL.  Free the raw
 * connections first. */
void imap_conn_free(struct imap_conn **c);

/* imap_conn_fail - write the failure text into the message buffer;
 * returns r. */
int imap_conn_fail(struct imap_conn *c, int r, const char *fmt, ...)
    PRINTF_LIKE(3, 4);

/* imap_conn_timeout - the response timeout in seconds. */
long imap_conn_timeout(const struct imap_conn *c);

/* imap_conn_has_cap - cap (upper case) in the last capability list seen;
 * imap_conn_caps_authed - that list came after the login. */
bool imap_conn_has_cap(const struct imap_conn *c, const char *cap);
bool imap_conn_caps_authed(const struct imap_conn *c);

/* imap_conn_set_caps - a capability list seen after the login (the text
 * after "CAPABILITY"). */
void imap_conn_set_caps(struct imap_conn *c, const char *list);

/*
 * imap_conn_url - base/MBOX[;UIDVALIDITY=v][;UID=u] (0 leaves a part
 * out; mbox NULL: the server); caller frees with g_free.  The name is
 * %-encoded whole ('/' too): libcurl decodes and quotes it.
 */
char *imap_conn_url(const struct imap_conn *c, const char *mbox,
                    uint32_t uidvalidity, uint32_t uid);

/*
 * imap_conn_custom - custom command cmd on the easy handle at url (which
 * selects its mailbox).  Its untagged lines, each ending in '\n', are in
 * imap_conn_reply(c) (borrowed, valid until the next request on c, and
 * the caller may modify it in place).  A reply over 1 MiB is -EPROTO.
 */
int imap_conn_custom(struct imap_conn *c, const char *url, const char *cmd);
GByteArray *imap_conn_reply(struct imap_conn *c);

/*
 * imap_conn_close_after - the connection the next request on the easy
 * handle runs on is closed after it (CURLOPT_FORBID_REUSE, that request
 * only): the one after connects afresh.
 */
void imap_conn_close_after(struct imap_conn *c);

/*
 * imap_conn_capability - CAPABILITY on the easy handle, remembered as
 * the list after the login.  -EPROTO if the server sent none.
 */
int imap_conn_capability(struct imap_conn *c);

/*
 * imap_conn_fetch_url - libcurl's own FETCH of the message url names
 * (";UID=u"): its literal appended to out byte-exact while out->len
 * stays <= max, else -EFBIG (out may then hold part of it).
 */
int imap_conn_fetch_url(struct imap_conn *c, const char *url, GByteArray *out,
                        size_t max);

/* imap_conn_append - APPEND raw (len bytes, borrowed for the call) to
 * the mailbox url names. */
int imap_conn_append(struct imap_conn *c, const char *url, const void *raw,
                     size_t len);

/*
 * A connect-only connection.  imap_conn_raw_new - closed, name (a
 * borrowed literal: "fetch", "idle") is for logs; free with
 * imap_conn_raw_free (no goodbye: say LOGOUT first).  c must outlive it.
 */
struct imap_conn_raw *imap_conn_raw_new(struct imap_conn *c, const char *name);
void imap_conn_raw_free(struct imap_conn_raw **raw);

/*
 * imap_conn_raw_open - a new session: libcurl connects, does greeting,
 * CAPABILITY, STARTTLS and login (the capability lists it sees go to c);
 * from then on the socket is the caller's.  Drops what was open before.
 */
int imap_conn_raw_open(struct imap_conn_raw *raw);

/* imap_conn_raw_drop - close without a word: after errors, or
 * mid-response. */
void imap_conn_raw_drop(struct imap_conn_raw *raw);

/* State: open (libcurl connected), broken (mid-response or failed:
 * never reuse; imap_conn_raw_break marks it), the server's BYE seen
 * (then an EOF is -ENOTCONN, not -ECONNRESET). */
bool imap_conn_raw_is_open(const struct imap_conn_raw *raw);
bool imap_conn_raw_broken(const struct imap_conn_raw *raw);
void imap_conn_raw_break(struct imap_conn_raw *raw);
void imap_conn_raw_bye(struct imap_conn_raw *raw);
const char *imap_conn_raw_name(const struct imap_conn_raw *raw);

/* imap_conn_raw_fd - the socket to poll() while open, else -1. */
int imap_conn_raw_fd(const struct imap_conn_raw *raw);

/*
 * imap_conn_raw_cmd - send "<tag> cmd" under a fresh tag (unpredictable
 * per connection: a mail cannot guess one) and start the command's
 * deadline.  imap_conn_raw_tag - that tag (borrowed, until the next
 * command).  imap_conn_raw_send - bytes as they are (DONE).
 */
int imap_conn_raw_cmd(struct imap_conn_raw *raw, const char *cmd);
const char *imap_conn_raw_tag(const struct imap_conn_raw *raw);
int imap_conn_raw_send(struct imap_conn_raw *raw, const char *buf, size_t len);

/*
 * imap_conn_raw_read_line - wait for the next line (at most 64 KiB, no
 * NUL); it must arrive within one timeout and the command within its
 * deadline.  A longer "* FLAGS (" or "* OK [PERMANENTFLAGS (" line (a
 * mailbox's every keyword; up to 16 MiB) is read and stands as a short
 * one: "* FLAGS ()", "* OK [PERMANENTFLAGS (\*)] list cut" if "\*" was
 * in it, else with "()".  imap_conn_raw_take_line - the same without
 * waiting: 1 a line, 0 none buffered yet.  imap_conn_raw_line - the
 * current line (borrowed, NUL-terminated, without CRLF, until the next
 * read).
 */
int imap_conn_raw_read_line(struct imap_conn_raw *raw);
int imap_conn_raw_take_line(struct imap_conn_raw *raw);
const char *imap_conn_raw_line(const struct imap_conn_raw *raw, size_t *len_r);

/*
 * imap_conn_raw_read_literal - exactly n bytes into dst (NULL: discard),
 * within TOTAL_FACTOR timeouts.  The caller has checked n against its
 * cap; dst grows as bytes arrive.  A whole literal into dst is progress:
 * the command's deadline moves on.
 */
int imap_conn_raw_read_literal(struct imap_conn_raw *raw, uint64_t n,
                               GByteArray *dst);

/*
 * imap_conn_raw_recv_nowait - buffer what the server sent without
 * waiting: 1 bytes arrived (*n_r of them), 0 none (CURLE_AGAIN), -E (EOF
 * is -ECONNRESET, or -ENOTCONN after BYE).  With TLS, call it until 0:
 * OpenSSL may hold decrypted bytes poll() cannot see.
 */
int imap_conn_raw_recv_nowait(struct imap_conn_raw *raw, size_t *n_r);

/* imap_conn_raw_done - the command completed now (for the age).
 * imap_conn_raw_age_us - microseconds since the last completed one. */
void imap_conn_raw_done(struct imap_conn_raw *raw);
gint64 imap_conn_raw_age_us(const struct imap_conn_raw *raw);

/* imap_conn_raw_hurry - for goodbyes: every wait at most ms, and the
 * command in flight ends within ms from now. */
void imap_conn_raw_hurry(struct imap_conn_raw *raw, long ms);

#endif
