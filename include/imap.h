/*
 * imap.h - IMAP client operations for one account: STATUS, SEARCH,
 * FETCH (one UID, or a range in few round trips), \Seen/MOVE after the
 * caller's COMMIT, APPEND, and the IDLE doorbell.  Owns one struct
 * imap_conn (imap_conn.h: the libcurl transport with its reused easy
 * handle) and two connect-only connections on it, one for the range
 * fetch and one for IDLE; what the server's bytes mean comes from the
 * pure parser imap_parse.h.  Nothing here knows about tickets or the
 * database: the caller keeps the cursor and commits before calling
 * imap_mark().
 *
 * Every operation is bounded: connect and response timeouts, a cap on the
 * size of one message, on a response line and on a SEARCH result.
 * Errors: -ETIMEDOUT/-ECONNREFUSED/-EIO/-ENOTCONN/-EHOSTUNREACH/-EAGAIN
 * transient (reconnect and retry later), -EACCES login refused, -ESTALE
 * UIDVALIDITY changed, -ENOENT no such UID or mailbox, -EFBIG message over
 * the size cap, -EPROTO server spoke garbage (or TLS could not be
 * established or verified), -EINVAL bad argument.  Each public function
 * logs its own failure once ("imap: action 'object': reason"); callers do
 * not log it again.  imap_error() gives the detail text.
 *
 * Mailbox names are IMAP wire names (modified UTF-7, printable ASCII);
 * anything else is -EINVAL.  A struct imap is not thread-safe: use one per
 * thread.  loop_run() (the daemon) and the tests call curl_global_init()
 * once, before any imap_new() and before other threads start.
 */
#ifndef TICKD_IMAP_H
#define TICKD_IMAP_H

#include "common.h"
#include "imap_conn.h" /* struct imap_params */

#include <glib.h>

struct imap;

struct imap_status {
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint32_t messages;
};

/*
 * imap_new - a client; connects lazily.  The strings in p are copied.
 * NULL (logged) if p is unusable: no url/user, a scheme other than imap
 * or imaps, or a path in the url.  Free with imap_free.
 */
struct imap *imap_new(const struct imap_params *p);

/* imap_free - LOGOUT, close every connection, free; NULL-safe, sets NULL. */
void imap_free(struct imap **im);

/*
 * imap_error - text of the last failure ("" after a success); borrowed,
 * valid until the next imap_* call on im.
 */
const char *imap_error(const struct imap *im);

/* imap_status - STATUS of mailbox (no SELECT). 0 or -E. */
int imap_status(struct imap *im, const char *mailbox, struct imap_status *st_r);

/*
 * imap_search - UIDs > after_uid in mailbox, ascending, into uids
 * (GArray of uint32_t, appended).  Searches in bounded windows up to the
 * UIDNEXT of a STATUS, so that a long SEARCH line is never silently
 * truncated.  -ESTALE if the mailbox's UIDVALIDITY is not uidvalidity.
 * On failure uids is left as it was.
 */
int imap_search(struct imap *im, const char *mailbox, uint32_t uidvalidity,
                uint32_t after_uid, GArray *uids);

/*
 * imap_fetch - the raw bytes of one message appended to out, through
 * libcurl's own FETCH (independent of the range reader, so it is the
 * fallback).  libcurl 7.88 sends BODY[], which sets \Seen; when the
 * message was unseen before, imap_fetch clears \Seen again.  -ENOENT if
 * the UID is gone, -EFBIG if larger than max_message.  On any failure
 * nothing is appended.
 */
int imap_fetch(struct imap *im, const char *mailbox, uint32_t uidvalidity,
               uint32_t uid, GByteArray *out);

/*
 * imap_fetch_range - few round trips for many messages: calls cb for each
 * UID in uids that still exists, in ascending UID order, with its raw
 * bytes (borrowed for the call).  uids need not be sorted; duplicates are
 * ignored.  Uses BODY.PEEK[] on an EXAMINEd (read-only) mailbox, so no
 * flag changes.  UIDs that no longer exist get no call.  Messages over
 * max_message are reported with data NULL and size = their RFC822.SIZE
 * (or the announced literal size).  A cb return < 0 stops and is
 * returned.  cb may call the other imap_* functions on im (they use the
 * easy handle), but not imap_fetch_range or imap_free.  On any error the
 * calls already made stand; retry the rest.  -ENOSYS if the fast path is
 * unavailable (after the server answered something our reader could not
 * parse, that call returned -EPROTO); the caller then uses imap_fetch().
 */
typedef int imap_fetch_cb(uint32_t uid, const void *data, size_t size,
                          void *ctx);
int imap_fetch_range(struct imap *im, const char *mailbox, uint32_t uidvalidity,
                     const uint32_t *uids, size_t n, imap_fetch_cb *cb,
                     void *ctx);

/*
 * imap_mark - after the caller's COMMIT: set \Seen on uids (move_to NULL)
 * or MOVE them to move_to (COPY + \Deleted + UID EXPUNGE without MOVE;
 * without UIDPLUS the copies stay flagged \Deleted, never a bare EXPUNGE
 * that would also remove what humans flagged).  uidvalidity is the one
 * the UIDs were fetched under: -ESTALE instead of touching other mail.
 * Idempotent: UIDs already gone are not an error.  -ENOENT if move_to
 * does not exist.
 */
int imap_mark(struct imap *im, const char *mailbox, uint32_t uidvalidity,
              const uint32_t *uids, size_t n, const char *move_to);

/*
 * imap_keywords - after the caller's COMMIT: add the keywords add (nadd)
 * to uids and remove del (ndel), on a connection of its own that SELECTs
 * mailbox (read-write: EXAMINE would report no permanent flags).  Only
 * keywords the server keeps are sent: PERMANENTFLAGS lists them or "\*"
 * (none at all: RFC 3501 says every flag is kept).  Keywords must be
 * atoms of at most 64 bytes without '\' (-EINVAL).  -ENOTSUP when the
 * mailbox keeps none of add (nothing is stored), -ESTALE when UIDVALIDITY
 * is not uidvalidity.  UIDs already gone are not an error.  Never
 * touches \Seen or any other flag.
 */
int imap_keywords(struct imap *im, const char *mailbox, uint32_t uidvalidity,
                  const uint32_t *uids, size_t n, const char *const *add,
                  size_t nadd, const char *const *del, size_t ndel);

/*
 * imap_append - APPEND raw to mailbox (tests, Sent copies). 0 or -E.
 * libcurl 7.88 always sets \Seen on the appended message.
 */
int imap_append(struct imap *im, const char *mailbox, const void *raw,
                size_t len);

/*
 * IDLE doorbell on a separate connect-only connection.  imap_idle_start
 * EXAMINEs mailbox and enters IDLE; imap_idle_fd is the socket to poll()
 * for POLLIN (-1 when not idling); imap_idle_check reads what arrived
 * without blocking: 1 = something changed (EXISTS, RECENT, EXPUNGE), 0 =
 * nothing yet, -E = connection lost (call imap_idle_stop and start again
 * later).  Call imap_idle_check after every wake-up: with TLS the library
 * may hold decrypted bytes the socket no longer shows.  imap_idle_start
 * returns -ENOSYS when the server lacks IDLE.  Re-IDLE before 29 minutes
 * is the caller's job: imap_idle_stop + imap_idle_start.  imap_idle_stop
 * sends DONE and LOGOUT (bounded wait) and is safe to call at any time.
 */
int imap_idle_start(struct imap *im, const char *mailbox);
int imap_idle_fd(const struct imap *im);
int imap_idle_check(struct imap *im);
void imap_idle_stop(struct imap *im);

#endif
