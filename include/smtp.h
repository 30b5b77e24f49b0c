/*
 * smtp.h - SMTP submission over libcurl (the only curl SMTP user).  One
 * easy handle keeps one connection open across mails; curl reconnects
 * after a failure by itself.  One recipient per transaction, so that each
 * reply code belongs to exactly one mail.
 *
 * smtp_send returns 0 (accepted, *code_r 250), -EAGAIN (transient: 4xx,
 * connection or timeout; retry later), -ECONNREFUSED (transient, and not
 * about this mail: no session could be opened, before MAIL FROM: no
 * connection, a 421 greeting, a 4xx to EHLO), -EBADMSG (permanent: 5xx;
 * record, never retry).  *code_r is the SMTP reply code, 0 when none came.
 * A session is re-used across calls and renewed before the server's
 * per-session limit (and once after a 421/452 on a re-used session).
 */
#ifndef TICKD_SMTP_H
#define TICKD_SMTP_H

#include "common.h"

#include <stddef.h>

struct smtp_params {
	const char *url; /* "smtps://host:465" or "smtp://host:587" */
	const char *user, *password; /* NULL: no AUTH */
	bool starttls;               /* smtp:// : require STARTTLS */
	long timeout;                /* seconds per response */
};

struct smtp;

struct smtp *smtp_new(const struct smtp_params *p);
void smtp_free(struct smtp **s);

/* env_from "" sends the null reverse-path <>. data must use CRLF. */
int smtp_send(struct smtp *s, const char *env_from, const char *rcpt,
              const void *data, size_t len, int *code_r);

/* smtp_commands - SMTP commands sent since smtp_new (each a round trip;
 * the end of DATA counts as one). */
long long smtp_commands(const struct smtp *s);

/* smtp_error - text of the last failure (borrowed). */
const char *smtp_error(const struct smtp *s);

/* smtp_close - drop the connection (after the MTA's per-session limit). */
void smtp_close(struct smtp *s);

#endif
