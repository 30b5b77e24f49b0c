/*
 * ctl.h - tickctl, the admin CLI: the same config and core library as the
 * daemon, talking to the database directly (no daemon socket).  Exit codes
 * follow sysexits.h: 64 usage, 65 bad input, 69 unavailable, 75 try again
 * later (an MTA pipe then retries `tickctl import`), 78 config.
 */
#ifndef TICKD_CTL_H
#define TICKD_CTL_H

/* ctl_main - run "tickctl ARGS"; returns the exit code. */
int ctl_main(int argc, char **argv);

/* ctl_credentials_dir - outside systemd, set $CREDENTIALS_DIRECTORY to the
 * config file's directory so that bare credential names ("imap-password",
 * as the unit's LoadCredential= names them) resolve there.  Used by
 * tickctl and tickd. */
void ctl_credentials_dir(const char *config_path);

#endif
