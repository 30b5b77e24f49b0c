/*
 * cfg.h - the libconfig file as an immutable struct cfg.  Every string is
 * copied out of libconfig (its strings die with config_destroy), every
 * number is range-checked, credentials are read here.  A reload builds a
 * fresh struct cfg and the caller swaps it in only when cfg_load
 * succeeded, so a bad edit never takes down a running daemon.
 *
 * Errors are collected, not stopped at: each is one "file:line: message"
 * string, so `tickd --check-config` can list every problem at once.
 */
#ifndef TICKD_CFG_H
#define TICKD_CFG_H

#include "common.h"

#include <glib.h>

enum cfg_after {
	CFG_AFTER_SEEN = 0, /* UID STORE +FLAGS (\Seen) after commit */
	CFG_AFTER_MOVE,	    /* UID MOVE to imap.move_to after commit */
	CFG_AFTER_NONE,	    /* leave the mail as it is */
};

struct cfg_imap {
	char *url, *user, *password; /* password read from password_file */
	char *password_file;
	char *mailbox;	    /* default "INBOX" */
	char *sent_mailbox; /* NULL: agents' Sent folder not watched */
	enum cfg_after after;
	char *move_to; /* default "Processed" */
	int poll_interval; /* seconds */
	bool starttls, idle;
	int timeout; /* seconds per server response */
	int batch;   /* mails per fetch round trip and per commit */
};

struct cfg_smtp {
	char *url, *user, *password, *password_file;
	char *from, *from_name; /* the support address and its name */
	bool starttls;
	int timeout;
	int max_attempt_age; /* seconds a transient failure is retried */
	int connections;     /* outbox sender threads / SMTP connections */
};

struct cfg_tickets {
	char *subject_tag; /* "Example" in "[Example #1042]" */
	char *queue;	   /* queue name of the main mailbox */
	char *domain;	   /* right-hand side of tickd's Message-IDs */
	char *secret_file;
	unsigned char *secret; /* HMAC key for Message-ID tokens */
	size_t secret_len;
	bool acknowledge;	/* send acknowledgements for new tickets */
	bool trust_same_domain; /* requester's domain may write too */
	int reopen_days;
	gint64 max_mail_size; /* bytes; larger mails are noted, kept raw */
};

struct cfg_limits {
	int per_recipient_day; /* automatic mails to one address per day */
	int per_ticket_hour;   /* automatic mails per ticket per hour */
	int global_per_minute; /* circuit breaker for all automatic mail */
	int suppress_days;     /* how long a bounced address gets nothing */
};

enum cfg_role { CFG_ROLE_AGENT = 0, CFG_ROLE_MANAGER };

struct cfg_person {
	char *address; /* lower-cased */
	char *name;
	char *team;
	enum cfg_role role;
};

struct cfg {
	char *path;
	char *db_conninfo;
	char *instance; /* names this tickd in leases and loop headers */
	int log_level;
	struct cfg_imap imap;
	struct cfg_smtp smtp;
	struct cfg_tickets tickets;
	struct cfg_limits limits;
	GPtrArray *people; /* struct cfg_person*, agents and managers */
};

/*
 * cfg_load - read and check path.  On success returns 0 and *cfg_r (free
 * with cfg_free).  On failure returns -EINVAL (or -ENOENT when the file
 * cannot be read) and appends "file:line: message" strings (g_free'd by the
 * array's free func, which the caller sets up with g_ptr_array_new_with_
 * free_func(g_free)) to errors; *cfg_r is untouched.
 * With need_secrets false, credential files are not read at all (tickctl
 * commands that never log in, such as migrate and init-secret).
 */
int cfg_load(const char *path, bool need_secrets, struct cfg **cfg_r,
	     GPtrArray *errors);
void cfg_free(struct cfg **c);

/* cfg_person - the agent or manager with this address, or NULL. */
const struct cfg_person *cfg_person(const struct cfg *c, const char *addr);

/*
 * cfg_read_secret - the contents of a credential file, without a trailing
 * newline.  A name without '/' is looked up in $CREDENTIALS_DIRECTORY
 * (systemd LoadCredential=) first.  0 or -errno; *data_r is g_free'd.
 */
int cfg_read_secret(const char *name, char **data_r, size_t *len_r);

/* cfg_default_path - "/etc/tickd/tickd.conf" unless $TICKD_CONF is set. */
const char *cfg_default_path(void);

#endif
