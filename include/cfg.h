/*
 * cfg.h - the libconfig file as an immutable struct cfg.  Every key is one
 * row of a table in cfg.c (path, type, default, range, check, the field
 * it fills); the known-key check, the loading and `tickctl config-keys`
 * all read that table.  Every string is copied out of libconfig (its
 * strings die with config_destroy), every number is range-checked,
 * credentials are read here.  A reload builds a fresh struct cfg and the
 * caller swaps it in only when cfg_load succeeded, so a bad edit never
 * takes down a running daemon.
 *
 * Errors are collected, not stopped at: each is one "file:line: message"
 * string, so `tickd --check-config` can list every problem at once.
 * Address keys take "name@domain" or "Name <name@domain>"; the name part
 * fills the matching name key (smtp.from_name, ...) when that is not set.
 */
#ifndef TICKD_CFG_H
#define TICKD_CFG_H

#include "common.h"
#include "sla.h"

#include <glib.h>
#include <stdio.h>

/* Which IMAP keywords tickd writes (keywords.h). */
enum cfg_keywords {
	CFG_KEYWORDS_OFF = 0,
	CFG_KEYWORDS_STATE, /* $Open ... and $Assigned-name: a fixed set */
	CFG_KEYWORDS_ALL,   /* and $Ticket<N>: one new keyword per ticket */
};

/* Who gets a new ticket of a queue (assign.h). */
enum cfg_assign {
	CFG_ASSIGN_OFF = 0,     /* nobody: the team picks */
	CFG_ASSIGN_ROUND_ROBIN, /* the queue's agents in turn */
	CFG_ASSIGN_FEWEST_OPEN, /* the one with the fewest open tickets */
};

enum cfg_after {
	CFG_AFTER_SEEN = 0, /* UID STORE +FLAGS (\Seen) after commit */
	CFG_AFTER_MOVE,     /* UID MOVE to imap.move_to after commit */
	CFG_AFTER_NONE,     /* leave the mail as it is */
};

/* What a mailbox's first poll (no cursor yet) does with the mail already
 * in it (imap.first_run). */
enum cfg_first_run {
	CFG_FIRST_HISTORY = 0, /* stored as closed history tickets, silent */
	CFG_FIRST_NEW,         /* handled as new mail (the age guard holds) */
	CFG_FIRST_SKIP,        /* left on the server, cursor at its end */
};

struct cfg_imap {
	char *url, *user, *password; /* password read from password_file */
	char *password_file;
	char *mailbox;      /* default "INBOX" */
	char *sent_mailbox; /* NULL: agents' Sent folder not watched */
	enum cfg_after after;
	char *move_to;     /* default "Processed" */
	int poll_interval; /* seconds */
	bool starttls, idle;
	int idle_max;           /* IDLE connections, one per watched folder */
	int idle_fallback_poll; /* seconds: poll of a folder without one */
	int timeout;            /* seconds per server response */
	int batch;              /* mails per fetch round trip and per commit */
	enum cfg_first_run first_run;
	int first_run_age; /* seconds: present mail younger than this is
	                      new on the first run; 0 = all of it history */
	enum cfg_keywords keywords; /* ticket state as IMAP keywords */
	char *closed_move_to; /* NULL: closed tickets' mail stays in INBOX */
};

struct cfg_smtp {
	char *url, *user, *password, *password_file;
	char *from, *from_name; /* the support address and its name */
	bool starttls;
	int timeout;
	int max_attempt_age; /* seconds a transient failure is retried */
	/* outbox sender threads / SMTP connections: 1..16 fixed, or 0
	 * ("auto"): one, more while a backlog waits, up to max_connections
	 * and below the server's limit (sender.h) */
	int connections;
	int max_connections;
};

struct cfg_tickets {
	char *subject_tag; /* "Example" in "[Example #1042]" */
	char *queue;       /* queue name of the main mailbox */
	char *domain;      /* right-hand side of tickd's Message-IDs */
	char *secret_file;
	unsigned char *secret; /* HMAC key for Message-ID tokens */
	size_t secret_len;
	bool acknowledge;         /* send acknowledgements for new tickets */
	bool forward_acknowledge; /* also for tickets a forward opened */
	bool trust_same_domain;   /* requester's domain may write too */
	int reopen_days;
	bool thanks_keeps_resolved; /* a thank-you reply does not reopen */
	bool search_index;          /* write message_search rows (search) */
	/* lifecycle.c, business days; 0 = that step off */
	int pending_remind_days, pending_close_days, resolved_close_days;
	gint64 max_mail_size; /* bytes; larger mails are noted, kept raw */
	bool list_drop;       /* list mail: kept without a ticket */
	bool spam_drop;       /* spam-flagged mail: likewise */
	char *template_set;   /* templates/<set>/..., default "default" */
	char *language;       /* the queue's default language, "en" */
	int retention_days;   /* closed tickets kept this long; 0 = forever */
	char *calendar, *sla; /* names for the SLA module to resolve */
	enum cfg_assign auto_assign; /* new tickets of the queue */
};

struct cfg_limits {
	int per_recipient_day; /* automatic mails to one address per day */
	int per_ticket_hour;   /* automatic mails per ticket per hour */
	int global_per_minute; /* circuit breaker: repeats per minute */
	int suppress_days;     /* how long a bounced address gets nothing */
	int breaker_cooldown;  /* seconds the breaker stays open; 0: reset */
	int max_mail_age;      /* seconds: no automatic mail about a mail whose
	                          Date (clamped to its arrival) is older */
};

/* Manager reports and CSAT. */
struct cfg_report {
	bool daily, weekly; /* digest schedules */
	int hour;           /* local hour the digest goes out, 0..23 */
	char *timezone;     /* IANA zone of the digest periods */
	/* "SLA met" targets in minutes (24x7 UTC) of the report when
	 * sla.policies is empty; 0 = no target */
	int fallback_first_response;
	int fallback_resolution;
};

struct cfg_csat {
	bool enabled; /* resolution mail with rating links (tickets.queue) */
	int max_age;  /* seconds: older resolutions get no mail */
	bool nps;     /* the mail also asks the 0-10 NPS question */
};

enum cfg_role { CFG_ROLE_AGENT = 0, CFG_ROLE_MANAGER };

/* How an INBOX mail from an agent address proves it is the agent's (the
 * Sent folder is always trusted: only mailbox users can write there). */
enum cfg_trust_from {
	CFG_TRUST_AUTHENTICATED = 0, /* Authentication-Results of our MTA */
	CFG_TRUST_HEADER,            /* the From header alone (forgeable) */
};

enum cfg_confirm {
	CFG_CONFIRM_ERRORS = 0, /* answer an agent's commands that failed */
	CFG_CONFIRM_ALL,        /* and those that worked */
	CFG_CONFIRM_NONE,
};

struct cfg_agents {
	char *authserv_id;  /* owned or NULL: our MTA's authserv-id */
	int authres_fields; /* topmost Authentication-Results fields that
	                       our own MTA and filters add (trusted) */
	enum cfg_trust_from trust_from;
	bool assign_on_first_reply; /* a ticket without assignee takes the
	                               person who first answered it */
	char *relay_from_name;      /* owned: From name of a relayed reply,
	                               "{agent} via {support}" */
	enum cfg_confirm confirm;   /* answers to an agent's commands */
	int collision_window;       /* seconds; 0: no collision check */
	bool away_unassign; /* #away hands the agent's open tickets back */
};

struct cfg_person {
	char *address; /* lower-cased */
	char *name;
	char *team;
	enum cfg_role role;
	char **identities; /* owned, NULL-terminated, lower-cased, or NULL:
	                      other addresses this person sends as */
	char **notify;     /* owned, NULL-terminated, or NULL (defaults):
	                      the events this person gets notices of
	                      (agentmail.h) */
	/* queues whose digest this manager gets (NULL-terminated, names of
	 * cfg queues); NULL = all queues */
	char **queues;
	/* teams (people.*.team values) whose members' tickets this
	 * manager's digest covers too (NULL-terminated), or NULL */
	char **teams;
};

/* Ticket priorities as sla.h's integers: bigger = more urgent. */
enum cfg_priority {
	CFG_PRIO_LOW = 0,
	CFG_PRIO_NORMAL,
	CFG_PRIO_HIGH,
	CFG_PRIO_URGENT,
};

/* A priority rule: a new customer mail matching any of its conditions
 * raises the ticket to priority (never lowers it) and, with escalate,
 * escalates at once to the chain's immediate addressees. */
struct cfg_rule {
	char *name;
	char **from;          /* owned, NULL-terminated: "a@b" or "@domain" */
	char **keywords;      /* owned, NULL-terminated, UTF-8 case-folded */
	bool importance_high; /* Importance: high / X-Priority: 1 or 2 */
	int priority;         /* enum cfg_priority */
	bool escalate;
};

struct cfg_chain {
	char *queue;                   /* owned; NULL = any queue */
	char **to[SLA_ESC_MAX_LEVELS]; /* owned, NULL-terminated addresses */
	char **immediate;              /* owned; NULL = the config's managers */
	struct sla_chain chain;        /* borrows queue and to */
};

struct cfg_sla {
	GPtrArray *calendars;        /* struct sla_calendar*, owned */
	struct sla_policy *policies; /* n_policies, queue strings owned */
	const struct sla_calendar **policy_cal; /* borrowed from calendars */
	size_t n_policies;
	GPtrArray *rules;  /* struct cfg_rule*, owned (defaults if unset) */
	GPtrArray *chains; /* struct cfg_chain*, owned */
	int batch_minutes; /* one notice/digest per addressee per window */
	int hold_seconds;  /* let a burst gather before the first notice */
	int tick_limit;    /* tickets evaluated per transaction */
};

/* cfg_priority_parse - "low".."urgent" -> enum cfg_priority, or -EINVAL. */
int cfg_priority_parse(const char *s);
/* cfg_first_run_name - "history", "new" or "skip"; static. */
const char *cfg_first_run_name(enum cfg_first_run f);
/* cfg_priority_name - the name of an enum cfg_priority; static. */
const char *cfg_priority_name(int prio);
struct template_lib;
struct cfg_queue;

struct cfg {
	char *path;
	char *db_conninfo;
	char *instance; /* names this tickd in leases and loop headers */
	int log_level;
	struct cfg_imap imap;
	struct cfg_smtp smtp;
	struct cfg_tickets tickets;
	struct cfg_limits limits;
	struct cfg_report report;
	struct cfg_csat csat;
	GPtrArray *people; /* struct cfg_person*, agents and managers */
	struct cfg_sla sla;
	struct cfg_agents agents;
	char **mime_fallback_charsets;  /* owned, NULL-terminated, or NULL:
	                                   mime.fallback_charsets */
	char *templates_dir;            /* NULL: built-in acknowledgement */
	struct template_lib *templates; /* every template, checked */
	GPtrArray *queues; /* struct cfg_queue*; one implicit without a list;
	                    * in a queue's view borrowed from the parent */
};

/*
 * One queue (mailbox): the per-queue keys, each resolved (a key the queue
 * leaves out holds the value of imap.*, smtp.from* or tickets.*).  Every
 * string is owned by the queue.
 *
 * view is a struct cfg whose imap.*, smtp.from*, tickets.* fields point
 * at this queue's values and whose other fields are the parent's, for
 * the modules that take a struct cfg for one mailbox (fetch, ingest,
 * compose).  It owns nothing; never cfg_free it; it lives as long as the
 * parent cfg.
 */
struct cfg_queue {
	char *name;
	char *url, *user, *password_file, *password; /* IMAP login */
	char *mailbox, *sent_mailbox; /* sent_mailbox NULL: not watched */
	char *subject_tag, *template_set, *language;
	char *from, *from_name; /* sender address of its mail, its name */
	char *calendar, *sla;   /* NULL: the SLA module's default */
	bool acknowledge;
	bool forward_acknowledge;
	int retention_days;
	enum cfg_first_run first_run;
	enum cfg_assign auto_assign;
	struct cfg *view; /* owned shell; its pointers are borrowed */
};

/* cfg_team_members - the addresses of the people whose team is team,
 * newline-separated, or NULL when nobody is in it.  g_free. */
char *cfg_team_members(const struct cfg *c, const char *team);

/* cfg_queue_by_name - the queue called name, or NULL. */
const struct cfg_queue *cfg_queue_by_name(const struct cfg *c,
                                          const char *name);

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
/* cfg_person_identity - the person whose address or one of whose
 * identities addr is (case-insensitive), or NULL.  Attribution only: an
 * identity never makes an INBOX mail an agent's. */
const struct cfg_person *cfg_person_identity(const struct cfg *c,
                                             const char *addr);

/*
 * cfg_agents_warning - when INBOX mail from agent addresses can never act
 * as the agent's (no agents.authserv_id) or is trusted on its From header
 * alone (agents.trust_from = "header"): a one-line warning for the start
 * log and --check-config; else NULL.  Static string.
 */
const char *cfg_agents_warning(const struct cfg *c);

/*
 * cfg_read_secret - the contents of a credential file, without a trailing
 * newline.  A name without '/' is looked up in $CREDENTIALS_DIRECTORY
 * (systemd LoadCredential=) first.  0 or -errno; *data_r is g_free'd.
 */
int cfg_read_secret(const char *name, char **data_r, size_t *len_r);

/*
 * cfg_keys_print - every key of the table, one a line: path, type,
 * default and range ("*" stands for a list index), for
 * `tickctl config-keys` and the man page's key list.
 */
void cfg_keys_print(FILE *out);

/*
 * cfg_keys_next - walk the table: *i starts at 0; returns the next key's
 * path (static) and advances *i, or NULL after the last.
 */
const char *cfg_keys_next(size_t *i);

/*
 * cfg_address_split - s as "name@domain" or "Name <name@domain>" (the
 * name may be in double quotes).  0 with *addr_r (g_free) and *name_r
 * (g_free; NULL when there is none), or -EINVAL when s is not one
 * address.  Pure; exported for the tests.
 */
int cfg_address_split(const char *s, char **addr_r, char **name_r);

/* cfg_default_path - "/etc/tickd/tickd.conf" unless $TICKD_CONF is set. */
const char *cfg_default_path(void);

#endif
