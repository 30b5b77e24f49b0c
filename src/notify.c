/*
 * notify.c - sd_notify without libsystemd.  See notify.h.
 */
#include "notify.h"

#include <glib.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int
notify_send(const char *msg)
{
	const char *p = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t n, len = strlen(msg);
	socklen_t salen;
	ssize_t w;
	int fd, e;

	if (p == NULL || *p == '\0')
		return 0;
	if (p[0] != '/' && p[0] != '@')
		return -EAFNOSUPPORT;
	n = strlen(p);
	if (n >= sizeof(sa.sun_path))
		return -E2BIG;
	memcpy(sa.sun_path, p, n);
	if (sa.sun_path[0] == '@') /* abstract namespace: exact length */
		sa.sun_path[0] = '\0';
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
	                    (p[0] == '/'));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	w = sendto(fd, msg, len, MSG_NOSIGNAL, (struct sockaddr *)&sa, salen);
	e = errno;
	close(fd);
	if (w < 0)
		return -e;
	return w == (ssize_t)len ? 1 : -EPROTO;
}

int
notify_sendf(const char *fmt, ...)
{
	va_list ap;
	g_autofree char *msg = NULL;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	return notify_send(msg);
}

uint64_t
notify_watchdog_usec(void)
{
	const char *us = getenv("WATCHDOG_USEC");
	const char *pid = getenv("WATCHDOG_PID");

	if (us == NULL)
		return 0;
	if (pid != NULL && g_ascii_strtoll(pid, NULL, 10) != getpid())
		return 0;
	return g_ascii_strtoull(us, NULL, 10) / 2;
}

void
notify_watchdog(void)
{
	static uint64_t every = UINT64_MAX;
	static gint64 last;
	gint64 now;

	if (every == UINT64_MAX)
		every = notify_watchdog_usec();
	if (every == 0)
		return;
	now = g_get_monotonic_time();
	if (last != 0 && (uint64_t)(now - last) < every)
		return;
	last = now;
	(void)notify_send("WATCHDOG=1");
}
