/*
 * log.h - one-line log records on stderr with journald "<N>" priority
 * prefixes (sd-daemon.h SD_ERR ...), no timestamps: journald adds them.
 * Shape: "module: action 'object': reason".  Never log bodies or secrets;
 * use log_quote() for strings that came from the network.
 */
#ifndef TICKD_LOG_H
#define TICKD_LOG_H

#include "common.h"

enum log_prio {
	LOGP_ERR = 3,
	LOGP_WARNING = 4,
	LOGP_NOTICE = 5,
	LOGP_INFO = 6,
	LOGP_DEBUG = 7,
};

/* log_init - set the highest priority that is printed (default LOGP_INFO). */
void log_init(int max_prio);
int log_get_level(void);

void log_msg(int prio, const char *fmt, ...) PRINTF_LIKE(2, 3);
NORETURN void log_die(const char *fmt, ...) PRINTF_LIKE(1, 2);

#define log_err(...)     log_msg(LOGP_ERR, __VA_ARGS__)
#define log_warning(...) log_msg(LOGP_WARNING, __VA_ARGS__)
#define log_notice(...)  log_msg(LOGP_NOTICE, __VA_ARGS__)
#define log_info(...)    log_msg(LOGP_INFO, __VA_ARGS__)
#define log_debug(...)   log_msg(LOGP_DEBUG, __VA_ARGS__)

/*
 * log_quote - copy at most 80 characters of an untrusted string into buf,
 * replacing control characters, for use inside '...'.  Returns buf.
 */
const char *log_quote(const char *s, char *buf, size_t bufsize);

#endif
