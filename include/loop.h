/*
 * loop.h - the daemon: one single-threaded tick (Redis serverCron shape)
 * that polls the mailboxes (woken early by IMAP IDLE), drains the outbox,
 * keeps the database connection alive with backoff, reloads the config on
 * SIGHUP and talks to systemd (READY, STATUS, WATCHDOG, STOPPING).
 */
#ifndef TICKD_LOOP_H
#define TICKD_LOOP_H

#include "common.h"

struct loop_opts {
	const char *config_path;
	bool once;     /* process what is waiting, then exit 0 */
	int log_level; /* 0 = from the config */
};

/* loop_run - returns the process exit code (sysexits.h). */
int loop_run(const struct loop_opts *o);

#endif
