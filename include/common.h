/*
 * common.h - attributes, small macros and the error-code contract shared by
 * every module.  No logic lives here.
 *
 * Return contract used throughout tickd (systemd style):
 *   0 (or a positive count)  success
 *   -EAGAIN, -ETIMEDOUT, -ECONNREFUSED, -ENOTCONN, -EIO
 *                            transient: retry later (err_is_transient)
 *   -EINVAL, -EBADMSG, -EPROTO, -EFBIG, -ENOENT
 *                            permanent: record, do not retry
 * Output parameters end in _r and are written only on success.
 * Memory: GLib's allocators (g_malloc, g_strdup ...) abort on OOM, and
 * systemd restarts us; no caller checks for NULL from them.
 */
#ifndef TICKD_COMMON_H
#define TICKD_COMMON_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#define NORETURN          __attribute__((noreturn))
#define WARN_UNUSED       __attribute__((warn_unused_result))
#define ARRAY_SIZE(a)     (sizeof(a) / sizeof((a)[0]))

/* backoff_secs - how long to wait after the failures-th failure in a
 * row: 2, 4, 8 ... max seconds, +-25% jitter so that several instances
 * (and the sender threads) do not knock in step. */
static inline gint64
backoff_secs(int failures, gint64 max)
{
	gint64 d = (gint64)2 << MIN(failures, 10);

	if (d > max)
		d = max;
	return d * 3 / 4 + g_random_int_range(0, (gint32)(d / 2) + 1);
}

/* err_is_transient - true when a negative errno means "try again later". */
static inline bool
err_is_transient(int r)
{
	return r == -EAGAIN || r == -ETIMEDOUT || r == -ECONNREFUSED ||
	       r == -ENOTCONN || r == -EIO || r == -ECONNRESET ||
	       r == -EHOSTUNREACH || r == -ENETUNREACH || r == -EPIPE;
}

#endif
