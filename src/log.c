/*
 * log.c - journald-prefixed stderr logging.  See log.h.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int log_level = LOGP_INFO;

void
log_init(int max_prio)
{
	log_level = max_prio;
	/* One record per line even when stderr is a pipe to journald. */
	setvbuf(stderr, NULL, _IOLBF, 0);
}

int
log_get_level(void)
{
	return log_level;
}

static void
log_vmsg(int prio, const char *fmt, va_list ap)
{
	char line[1024];
	int n;

	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		return;
	/* Embedded newlines would split one event into several records. */
	for (char *p = line; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	fprintf(stderr, "<%d>%s\n", prio, line);
}

void
log_msg(int prio, const char *fmt, ...)
{
	va_list ap;

	if (prio > log_level)
		return;
	va_start(ap, fmt);
	log_vmsg(prio, fmt, ap);
	va_end(ap);
}

void
log_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOGP_ERR, fmt, ap);
	va_end(ap);
	exit(EXIT_FAILURE);
}

const char *
log_quote(const char *s, char *buf, size_t bufsize)
{
	size_t i = 0;

	if (bufsize == 0)
		return buf;
	if (s == NULL)
		s = "(null)";
	for (; *s && i + 1 < bufsize && i < 80; s++)
		buf[i++] =
		    ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '\'') ? '?'
		                                                           : *s;
	buf[i] = '\0';
	return buf;
}
