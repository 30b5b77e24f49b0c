/*
 * thread.h - pure threading helpers: the subject tag "[Tag #N]" and the
 * signed Message-IDs that tie tickd's outgoing mail to a ticket.
 *
 * A tickd Message-ID looks like  tickd.N.KIND.NONCE.MAC@domain  where MAC is
 * the first 20 hex digits (80 bits) of HMAC-SHA256(secret, "N.KIND.NONCE").
 * A reply whose In-Reply-To/References carry such an id proves the sender
 * saw our mail; a guessed ticket number alone proves nothing (no
 * hijacking, unlike Zammad #5064).  No I/O, no logging.
 */
#ifndef TICKD_THREAD_H
#define TICKD_THREAD_H

#include "common.h"

#include <glib.h>

/*
 * thread_subject_ticket - the N of the first "[tag #N]" in subject
 * (case-insensitive tag, spaces allowed around '#'), or 0 when none.
 */
gint64 thread_subject_ticket(const char *subject, const char *tag);

/*
 * thread_strip_subject - subject without leading Re:/AW:/SV:/Fwd:/WG:/TR:/
 * RE[2]: prefixes and without "[tag #N]"; new string, g_free.
 */
char *thread_strip_subject(const char *subject, const char *tag);

/*
 * thread_make_msgid - a new signed Message-ID (without <>) for ticket N;
 * kind is a short lower-case word ("ack", "notice") saying what the mail
 * was.  g_free.
 */
char *thread_make_msgid(const unsigned char *secret, size_t secret_len,
                        gint64 ticket, const char *kind, const char *domain);

/*
 * thread_token_next - the next word of s that starts "tickd." (a signed
 * token in a subject: up to a space, quote, comma, semicolon or bracket),
 * searching from *pos (start with *pos = s, the subject).  Words longer than
 * max are skipped, and no more than max + 1 bytes of any word are read, so a
 * subject full of "tickd." stays linear.  1 with the word in *tok_r
 * (g_free) and *pos past its start, 0 when there is none.
 */
int thread_token_next(const char **pos, size_t max, char **tok_r);

/*
 * thread_msgid_ticket - for an id (without <>) of tickd's shape: its ticket
 * number when the MAC is valid (> 0), 0 when the id is not ours at all,
 * -EBADMSG when it looks like ours but the MAC is wrong (forged or cut).
 */
gint64 thread_msgid_ticket(const unsigned char *secret, size_t secret_len,
                           const char *msgid);

#endif
