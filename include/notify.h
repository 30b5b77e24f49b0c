/*
 * notify.h - the systemd notify protocol written by hand (one datagram to
 * $NOTIFY_SOCKET; the protocol is systemd's stable interface, and it saves
 * linking libsystemd).  Also the watchdog interval from $WATCHDOG_USEC.
 */
#ifndef TICKD_NOTIFY_H
#define TICKD_NOTIFY_H

#include "common.h"

/* notify_send - send msg ("READY=1", "STATUS=..."); 0 when not under
 * systemd, 1 sent, -errno. */
int notify_send(const char *msg);
int notify_sendf(const char *fmt, ...) PRINTF_LIKE(1, 2);

/* notify_watchdog_usec - how often to send WATCHDOG=1 (half the unit's
 * WatchdogSec), or 0 when the watchdog is off or not for this process. */
uint64_t notify_watchdog_usec(void);

/* notify_watchdog - WATCHDOG=1 if half of WatchdogSec passed since the last
 * one (no-op without a watchdog).  Call it where work makes progress: the
 * loop's tick and each fetched mail, so a long fetch is not a hang. */
void notify_watchdog(void);

#endif
