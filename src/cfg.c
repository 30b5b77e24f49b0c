/*
 * cfg.c - libconfig -> struct cfg.  See cfg.h.
 *
 * Every key is one row of cfg_keys[] below: its path ("*" stands for a
 * list index), its type, the field it fills, its default and range and an
 * optional check.  The known-key check (libconfig itself happily accepts
 * "pol_interval"), the loading, the freeing of owned strings and
 * `tickctl config-keys` all walk that table.  The rows of a list entry
 * (queues, people, ...) fill the entry's struct; the list loaders below
 * add only what spans keys (duplicates, cross references).
 *
 * Reading a row records "file:line: message" for a wrong type or range
 * and falls back to the default, so one pass reports every problem.
 */
#include "cfg.h"

#include "authres.h"
#include "template.h"

#include <libconfig.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <unistd.h>

struct cfg_ctx {
	config_t *lc;
	const char *path;
	GPtrArray *errors;
	bool need_secrets;
};

/* ---- the key table ---- */

enum cfg_kt {
	CFG_KT_GROUP,  /* { ... }: only its members are read */
	CFG_KT_LIST,   /* ( { ... }, ... ): read by its list loader */
	CFG_KT_STR,    /* char *, owned */
	CFG_KT_INT,    /* int, min..max */
	CFG_KT_INT64,  /* gint64, min..max */
	CFG_KT_BOOL,   /* bool */
	CFG_KT_CHOICE, /* one of choices: its index into an int or bool */
	CFG_KT_ADDR,   /* char *, owned: "a@b" or "Name <a@b>" -> "a@b" */
	CFG_KT_STRS,   /* char **, owned, NULL-terminated; NULL if unset */
	CFG_KT_DAY,    /* calendars.*.hours.<day>: read by the calendar */
};

/* The struct a row's field is in: the base its loader hands over. */
enum cfg_in {
	CFG_IN_NONE = 0, /* groups, lists: no field */
	CFG_IN_CFG,      /* struct cfg */
	CFG_IN_QUEUE,    /* struct cfg_queue (queues.*) */
	CFG_IN_PERSON,   /* struct cfg_person (people.*) */
	CFG_IN_CALENDAR, /* struct cfg_cal_in (calendars.*) */
	CFG_IN_POLICY,   /* struct cfg_policy_in (sla.policies.*) */
	CFG_IN_RULE,     /* struct cfg_rule (priority_rules.*) */
	CFG_IN_CHAIN,    /* struct cfg_chain (escalation.chains.*) */
	CFG_IN_LEVEL,    /* struct cfg_level_in (...chains.*.levels.*) */
};

#define CFG_F_REQUIRED 0x01u  /* must be set and non-empty */
#define CFG_F_SINGLE   0x02u  /* required without a queues list */
#define CFG_F_KEEP     0x04u  /* unset: keep the value already there */
#define CFG_F_LOWER    0x08u  /* ADDR, STRS: ASCII lower case */
#define CFG_F_FOLD     0x10u  /* STRS: NFC, case-folded (keywords) */
#define CFG_F_ADDRS    0x20u  /* STRS: each entry an address */
#define CFG_F_DOMAIN   0x40u  /* STRS with ADDRS: "@domain" too */
#define CFG_F_SECRET   0x80u  /* STR: a credential file, read into aux */
#define CFG_F_ICASE    0x100u /* CHOICE: ASCII case-insensitive */
#define CFG_F_EXPECT   0x200u /* CHOICE: say 'expected "a" or "b", not 'x'' */
#define CFG_F_AUTO     0x400u /* INT: "auto" is 0 (decided at run time) */

struct cfg_key;
/* cfg_check_fn - false (after cfg_error) when v is not acceptable. */
typedef bool cfg_check_fn(struct cfg_ctx *x, const struct cfg_key *k,
                          const config_setting_t *s, const char *v);

struct cfg_key {
	const char *path;
	enum cfg_kt type;
	enum cfg_in in;
	size_t off, size; /* the field in the in struct */
	const char *def;  /* STR, ADDR default; NULL: none */
	gint64 idef, min, max;
	const char *const *choices; /* CHOICE; idef is the default index */
	cfg_check_fn *check;
	unsigned flags;
	/* ADDR: the name field its "Name <...>" fills when that key is not
	 * set (a row of the same struct, listed before this one).  SECRET:
	 * where the file's contents (aux) and length (aux2) go.  -1: none */
	long aux, aux2;
};

/* Entries of lists whose fields are converted after reading. */
struct cfg_cal_in {
	char *name, *timezone;
	char **holidays;
};
struct cfg_policy_in {
	char *queue, *calendar;
	int priority; /* index into cfg_policy_prios */
	int first_response, next_response, resolution, warn_percent;
};
struct cfg_level_in {
	int after;
	char **to;
};

static cfg_check_fn cfg_check_imap_url, cfg_check_smtp_url, cfg_check_tag,
    cfg_check_timezone, cfg_check_authserv_id, cfg_check_queue_name,
    cfg_check_charset, cfg_check_notify;

static const char *const cfg_after_names[] = {"seen", "move", "none", NULL};
static const char *const cfg_first_run_names[] = {"history", "new", "skip",
                                                  NULL};
static const char *const cfg_drop_names[] = {"ticket", "drop", NULL};
static const char *const cfg_keywords_names[] = {"off", "state", "all", NULL};
static const char *const cfg_assign_names[] = {"off", "round_robin",
                                               "fewest_open", NULL};
static const char *const cfg_trust_names[] = {"authenticated", "header", NULL};
static const char *const cfg_confirm_names[] = {"errors", "all", "none", NULL};
static const char *const cfg_role_names[] = {"agent", "manager", NULL};
static const char *const cfg_prio_names[] = {"low", "normal", "high", "urgent",
                                             NULL};
/* sla.policies: the priorities, and "*" (any) last */
static const char *const cfg_policy_prios[] = {"low",    "normal", "high",
                                               "urgent", "*",      NULL};

#define AT(T, in_, f)                                                          \
	.in = in_, .off = offsetof(T, f), .size = sizeof(((T *)0)->f)
#define C_(f)     AT(struct cfg, CFG_IN_CFG, f)
#define Q_(f)     AT(struct cfg_queue, CFG_IN_QUEUE, f)
#define P_(f)     AT(struct cfg_person, CFG_IN_PERSON, f)
#define CAL_(f)   AT(struct cfg_cal_in, CFG_IN_CALENDAR, f)
#define POL_(f)   AT(struct cfg_policy_in, CFG_IN_POLICY, f)
#define R_(f)     AT(struct cfg_rule, CFG_IN_RULE, f)
#define CH_(f)    AT(struct cfg_chain, CFG_IN_CHAIN, f)
#define LV_(f)    AT(struct cfg_level_in, CFG_IN_LEVEL, f)
#define OFF(T, f) ((long)offsetof(T, f))

/* One line per key; "at" is one of the *_() field macros above. */
#define K_GROUP(p)                                                             \
	{                                                                      \
		.path = p, .type = CFG_KT_GROUP, .aux = -1, .aux2 = -1         \
	}
#define K_LIST(p)                                                              \
	{                                                                      \
		.path = p, .type = CFG_KT_LIST, .aux = -1, .aux2 = -1          \
	}
#define K_STR(p, at, d, chk, fl)                                               \
	{                                                                      \
		.path = p, .type = CFG_KT_STR, at, .def = d, .check = chk,     \
		.flags = fl, .aux = -1, .aux2 = -1                             \
	}
#define K_SECRET(p, at, fl, data, len)                                         \
	{                                                                      \
		.path = p, .type = CFG_KT_STR, at,                             \
		.flags = (fl) | CFG_F_SECRET, .aux = data, .aux2 = len         \
	}
#define K_INT(p, at, d, lo, hi)                                                \
	{                                                                      \
		.path = p, .type = CFG_KT_INT, at, .idef = d, .min = lo,       \
		.max = hi, .aux = -1, .aux2 = -1                               \
	}
#define K_AUTOINT(p, at, lo, hi)                                               \
	{                                                                      \
		.path = p, .type = CFG_KT_INT, at, .idef = 0, .min = lo,       \
		.max = hi, .flags = CFG_F_AUTO, .aux = -1, .aux2 = -1          \
	}
#define K_INT64(p, at, d, lo, hi)                                              \
	{                                                                      \
		.path = p, .type = CFG_KT_INT64, at, .idef = d, .min = lo,     \
		.max = hi, .aux = -1, .aux2 = -1                               \
	}
#define K_BOOL(p, at, d)                                                       \
	{                                                                      \
		.path = p, .type = CFG_KT_BOOL, at, .idef = d, .aux = -1,      \
		.aux2 = -1                                                     \
	}
#define K_KEEPBOOL(p, at)                                                      \
	{                                                                      \
		.path = p, .type = CFG_KT_BOOL, at, .flags = CFG_F_KEEP,       \
		.aux = -1, .aux2 = -1                                          \
	}
#define K_KEEPINT(p, at, lo, hi)                                               \
	{                                                                      \
		.path = p, .type = CFG_KT_INT, at, .min = lo, .max = hi,       \
		.flags = CFG_F_KEEP, .aux = -1, .aux2 = -1                     \
	}
#define K_ELEM(p)                                                              \
	{                                                                      \
		.path = p, .type = CFG_KT_STR, .aux = -1, .aux2 = -1           \
	}
#define K_CHOICE(p, at, ch, d, fl)                                             \
	{                                                                      \
		.path = p, .type = CFG_KT_CHOICE, at, .choices = ch,           \
		.idef = d, .flags = fl, .aux = -1, .aux2 = -1                  \
	}
#define K_ADDR(p, at, d, fl, name)                                             \
	{                                                                      \
		.path = p, .type = CFG_KT_ADDR, at, .def = d, .flags = fl,     \
		.aux = name, .aux2 = -1                                        \
	}
#define K_STRS(p, at, fl)                                                      \
	{                                                                      \
		.path = p, .type = CFG_KT_STRS, at, .flags = fl, .aux = -1,    \
		.aux2 = -1                                                     \
	}
#define K_STRS_CHECK(p, at, fl, chk)                                           \
	{                                                                      \
		.path = p, .type = CFG_KT_STRS, at, .flags = fl, .check = chk, \
		.aux = -1, .aux2 = -1                                          \
	}
#define K_DAY(p, d)                                                            \
	{                                                                      \
		.path = p, .type = CFG_KT_DAY, .idef = d, .aux = -1,           \
		.aux2 = -1                                                     \
	}

#define ADDR_LIST (CFG_F_ADDRS | CFG_F_LOWER)
#define QK        CFG_F_KEEP /* a queue key: unset means the top-level value */

/*
 * Every key tickd reads.  Adding one is one line here plus the field in
 * cfg.h, a line in conf/tickd.conf.5 and one in conf/tickd.conf.example
 * (test_cfg checks both).  Order matters only where a row's loader says
 * so: a name key comes before the address key that may fill it.
 */
static const struct cfg_key cfg_keys[] = {
    K_GROUP("database"),
    K_STR("database.conninfo", C_(db_conninfo), NULL, NULL, CFG_F_REQUIRED),
    K_STR("instance", C_(instance), NULL, NULL, 0), /* default: host name */
    K_INT("log_level", C_(log_level), 6, 3, 7),

    K_GROUP("imap"),
    K_STR("imap.url", C_(imap.url), NULL, cfg_check_imap_url, CFG_F_SINGLE),
    K_STR("imap.user", C_(imap.user), NULL, NULL, CFG_F_SINGLE),
    K_SECRET("imap.password_file", C_(imap.password_file), 0,
             OFF(struct cfg, imap.password), -1),
    K_STR("imap.mailbox", C_(imap.mailbox), "INBOX", NULL, 0),
    K_STR("imap.sent_mailbox", C_(imap.sent_mailbox), NULL, NULL, 0),
    K_CHOICE("imap.after", C_(imap.after), cfg_after_names, CFG_AFTER_SEEN, 0),
    K_STR("imap.move_to", C_(imap.move_to), "Processed", NULL, 0),
    K_INT("imap.poll_interval", C_(imap.poll_interval), 60, 1, 86400),
    K_BOOL("imap.starttls", C_(imap.starttls), true),
    K_BOOL("imap.idle", C_(imap.idle), true),
    /* IDLE connections of one instance (one per watched folder) */
    K_INT("imap.idle_max", C_(imap.idle_max), 8, 0, 100),
    K_INT("imap.idle_fallback_poll", C_(imap.idle_fallback_poll), 30, 1, 86400),
    K_INT("imap.timeout", C_(imap.timeout), 60, 1, 3600),
    K_INT("imap.batch", C_(imap.batch), 100, 1, 10000),
    K_CHOICE("imap.first_run", C_(imap.first_run), cfg_first_run_names,
             CFG_FIRST_HISTORY, 0),
    K_INT("imap.first_run_age", C_(imap.first_run_age), 0, 0, 3650 * 86400),
    /* off by default: it writes on the shared mailbox's mail and costs a
     * connection and a STORE per changed ticket; "all" makes a keyword per
     * ticket, which servers list in every SELECT's FLAGS */
    K_CHOICE("imap.keywords", C_(imap.keywords), cfg_keywords_names,
             CFG_KEYWORDS_OFF, CFG_F_EXPECT),
    /* unset: off; rides the keywords' pass (keywords.h) */
    K_STR("imap.closed_move_to", C_(imap.closed_move_to), NULL, NULL, 0),

    K_GROUP("smtp"),
    K_STR("smtp.url", C_(smtp.url), NULL, cfg_check_smtp_url, CFG_F_REQUIRED),
    K_STR("smtp.user", C_(smtp.user), NULL, NULL, 0),
    K_SECRET("smtp.password_file", C_(smtp.password_file), 0,
             OFF(struct cfg, smtp.password), -1),
    K_STR("smtp.from_name", C_(smtp.from_name), "Support", NULL, 0),
    K_ADDR("smtp.from", C_(smtp.from), NULL, CFG_F_REQUIRED,
           OFF(struct cfg, smtp.from_name)),
    K_BOOL("smtp.starttls", C_(smtp.starttls), true),
    K_INT("smtp.timeout", C_(smtp.timeout), 60, 1, 3600),
    K_INT("smtp.max_attempt_age", C_(smtp.max_attempt_age), 5 * 86400, 60,
          30 * 86400),
    /* "auto" (0): sender.c sizes it, up to smtp.max_connections */
    K_AUTOINT("smtp.connections", C_(smtp.connections), 1, 16),
    K_INT("smtp.max_connections", C_(smtp.max_connections), 4, 1, 16),

    K_GROUP("tickets"),
    K_STR("tickets.subject_tag", C_(tickets.subject_tag), "Ticket",
          cfg_check_tag, 0),
    K_STR("tickets.queue", C_(tickets.queue), "support", NULL, 0),
    /* default: the domain of smtp.from */
    K_STR("tickets.domain", C_(tickets.domain), NULL, NULL, 0),
    K_SECRET("tickets.secret_file", C_(tickets.secret_file), CFG_F_REQUIRED,
             OFF(struct cfg, tickets.secret),
             OFF(struct cfg, tickets.secret_len)),
    K_BOOL("tickets.acknowledge", C_(tickets.acknowledge), true),
    K_BOOL("tickets.forward_acknowledge", C_(tickets.forward_acknowledge),
           false),
    K_BOOL("tickets.trust_same_domain", C_(tickets.trust_same_domain), false),
    K_BOOL("tickets.search_index", C_(tickets.search_index), true),
    K_INT("tickets.reopen_days", C_(tickets.reopen_days), 14, 0, 3650),
    K_BOOL("tickets.thanks_keeps_resolved", C_(tickets.thanks_keeps_resolved),
           true),
    K_INT("tickets.pending_remind_days", C_(tickets.pending_remind_days), 3, 0,
          365),
    K_INT("tickets.pending_close_days", C_(tickets.pending_close_days), 4, 0,
          365),
    K_INT("tickets.resolved_close_days", C_(tickets.resolved_close_days), 7, 0,
          365),
    K_INT64("tickets.max_mail_size", C_(tickets.max_mail_size),
            25 * 1024 * 1024, 1024, (gint64)1 << 31),
    K_CHOICE("tickets.list_mail", C_(tickets.list_drop), cfg_drop_names, 0,
             CFG_F_EXPECT),
    K_CHOICE("tickets.spam_mail", C_(tickets.spam_drop), cfg_drop_names, 0,
             CFG_F_EXPECT),
    K_STR("tickets.template_set", C_(tickets.template_set), "default", NULL, 0),
    K_STR("tickets.language", C_(tickets.language), "en", NULL, 0),
    K_INT("tickets.retention_days", C_(tickets.retention_days), 0, 0, 36500),
    K_STR("tickets.calendar", C_(tickets.calendar), NULL, NULL, 0),
    K_STR("tickets.sla", C_(tickets.sla), NULL, NULL, 0),
    K_CHOICE("tickets.auto_assign", C_(tickets.auto_assign), cfg_assign_names,
             CFG_ASSIGN_OFF, CFG_F_EXPECT),

    K_GROUP("limits"),
    K_INT("limits.per_recipient_day", C_(limits.per_recipient_day), 10, 0,
          100000),
    K_INT("limits.per_ticket_hour", C_(limits.per_ticket_hour), 5, 0, 100000),
    K_INT("limits.global_per_minute", C_(limits.global_per_minute), 100, 0,
          1000000),
    K_INT("limits.suppress_days", C_(limits.suppress_days), 30, 0, 3650),
    K_INT("limits.breaker_cooldown", C_(limits.breaker_cooldown), 900, 0,
          7 * 86400),
    /* 3 days: a weekend's mail read on Monday is still answered, a
     * restored backup or a re-synced folder is not */
    K_INT("limits.max_mail_age", C_(limits.max_mail_age), 3 * 86400, 3600,
          20000 * 86400),

    K_GROUP("report"),
    K_BOOL("report.daily", C_(report.daily), false),
    K_BOOL("report.weekly", C_(report.weekly), false),
    K_INT("report.hour", C_(report.hour), 7, 0, 23),
    K_STR("report.timezone", C_(report.timezone), "UTC", cfg_check_timezone, 0),
    K_INT("report.fallback_first_response", C_(report.fallback_first_response),
          240, 0, 525600),
    K_INT("report.fallback_resolution", C_(report.fallback_resolution), 2880, 0,
          525600),

    K_GROUP("csat"),
    K_BOOL("csat.enabled", C_(csat.enabled), false),
    K_INT("csat.max_age", C_(csat.max_age), 3 * 86400, 60, 365 * 86400),
    K_BOOL("csat.nps", C_(csat.nps), false),

    K_LIST("people"),
    K_GROUP("people.*"),
    K_STR("people.*.name", P_(name), NULL, NULL, 0), /* default: address */
    K_ADDR("people.*.address", P_(address), NULL, CFG_F_LOWER,
           OFF(struct cfg_person, name)),
    K_STR("people.*.team", P_(team), NULL, NULL, 0),
    K_CHOICE("people.*.role", P_(role), cfg_role_names, CFG_ROLE_AGENT, 0),
    /* the shared mailbox's Sent folder: which From a person's reply has */
    K_STRS("people.*.identities", P_(identities), ADDR_LIST),
    K_ELEM("people.*.identities.*"),
    /* which notices (agentmail.h); unset: assigned, customer-reply */
    K_STRS_CHECK("people.*.notify", P_(notify), 0, cfg_check_notify),
    K_ELEM("people.*.notify.*"),
    /* managers: the queues their digest covers (checked by
     * cfg_check_people_queues once the queues are known) */
    K_STRS("people.*.queues", P_(queues), 0),
    K_ELEM("people.*.queues.*"),
    /* managers: the teams (people.*.team values) whose tickets their
     * digest covers besides the queues (cfg_check_people_queues) */
    K_STRS("people.*.teams", P_(teams), 0),
    K_ELEM("people.*.teams.*"),

    K_GROUP("agents"),
    K_STR("agents.authserv_id", C_(agents.authserv_id), NULL,
          cfg_check_authserv_id, 0),
    /* how many Authentication-Results fields the site itself prepends
     * (authres.h); the bound keeps the scan of the raw header short */
    K_INT("agents.authres_fields", C_(agents.authres_fields), 1, 1,
          AUTHRES_MAX_FIELDS),
    K_CHOICE("agents.trust_from", C_(agents.trust_from), cfg_trust_names,
             CFG_TRUST_AUTHENTICATED, CFG_F_EXPECT),
    K_BOOL("agents.assign_on_first_reply", C_(agents.assign_on_first_reply),
           false),
    K_STR("agents.relay_from_name", C_(agents.relay_from_name),
          "{agent} via {support}", NULL, 0),
    K_CHOICE("agents.confirm", C_(agents.confirm), cfg_confirm_names,
             CFG_CONFIRM_ERRORS, CFG_F_EXPECT),
    K_INT("agents.collision_window", C_(agents.collision_window), 900, 0,
          7 * 86400),
    K_BOOL("agents.away_unassign", C_(agents.away_unassign), false),

    /* charsets for raw 8-bit header bytes that are neither UTF-8 nor a
     * charset the mail declares (a Chinese or Japanese team's mail) */
    K_GROUP("mime"),
    K_STRS_CHECK("mime.fallback_charsets", C_(mime_fallback_charsets), 0,
                 cfg_check_charset),
    K_ELEM("mime.fallback_charsets.*"),

    K_LIST("calendars"),
    K_GROUP("calendars.*"),
    K_STR("calendars.*.name", CAL_(name), NULL, NULL, 0),
    K_STR("calendars.*.timezone", CAL_(timezone), NULL, NULL, 0),
    K_GROUP("calendars.*.hours"),
    K_DAY("calendars.*.hours.mon", SLA_MON),
    K_DAY("calendars.*.hours.tue", SLA_TUE),
    K_DAY("calendars.*.hours.wed", SLA_WED),
    K_DAY("calendars.*.hours.thu", SLA_THU),
    K_DAY("calendars.*.hours.fri", SLA_FRI),
    K_DAY("calendars.*.hours.sat", SLA_SAT),
    K_DAY("calendars.*.hours.sun", SLA_SUN),
    K_STRS("calendars.*.holidays", CAL_(holidays), 0),
    K_ELEM("calendars.*.holidays.*"),

    K_GROUP("sla"),
    K_LIST("sla.policies"),
    K_GROUP("sla.policies.*"),
    K_STR("sla.policies.*.queue", POL_(queue), NULL, NULL, 0),
    K_CHOICE("sla.policies.*.priority", POL_(priority), cfg_policy_prios, 4,
             CFG_F_ICASE),
    /* default: the first calendar */
    K_STR("sla.policies.*.calendar", POL_(calendar), NULL, NULL, 0),
    K_INT("sla.policies.*.first_response", POL_(first_response), 0, 0, 525600),
    K_INT("sla.policies.*.next_response", POL_(next_response), 0, 0, 525600),
    K_INT("sla.policies.*.resolution", POL_(resolution), 0, 0, 525600),
    K_INT("sla.policies.*.warn_percent", POL_(warn_percent), 80, 0, 99),

    K_LIST("priority_rules"), /* unset: the built-in rules */
    K_GROUP("priority_rules.*"),
    K_STR("priority_rules.*.name", R_(name), "rule", NULL, 0),
    K_STRS("priority_rules.*.from", R_(from), ADDR_LIST | CFG_F_DOMAIN),
    K_ELEM("priority_rules.*.from.*"),
    K_STRS("priority_rules.*.keywords", R_(keywords), CFG_F_FOLD),
    K_ELEM("priority_rules.*.keywords.*"),
    K_BOOL("priority_rules.*.importance_high", R_(importance_high), false),
    K_CHOICE("priority_rules.*.priority", R_(priority), cfg_prio_names,
             CFG_PRIO_HIGH, CFG_F_ICASE),
    K_BOOL("priority_rules.*.escalate", R_(escalate), false),

    K_GROUP("escalation"),
    K_INT("escalation.batch_minutes", C_(sla.batch_minutes), 15, 0, 1440),
    K_INT("escalation.hold_seconds", C_(sla.hold_seconds), 0, 0, 3600),
    K_INT("escalation.tick_limit", C_(sla.tick_limit), 500, 1, 100000),
    K_LIST("escalation.chains"),
    K_GROUP("escalation.chains.*"),
    /* unset: any queue */
    K_STR("escalation.chains.*.queue", CH_(queue), NULL, NULL, 0),
    K_STRS("escalation.chains.*.immediate", CH_(immediate), ADDR_LIST),
    K_ELEM("escalation.chains.*.immediate.*"),
    K_LIST("escalation.chains.*.levels"),
    K_GROUP("escalation.chains.*.levels.*"),
    K_INT("escalation.chains.*.levels.*.after", LV_(after), 0, 0, 525600),
    K_STRS("escalation.chains.*.levels.*.to", LV_(to), ADDR_LIST),
    K_ELEM("escalation.chains.*.levels.*.to.*"),

    K_GROUP("templates"),
    /* default: templates/ beside the file */
    K_STR("templates.dir", C_(templates_dir), NULL, NULL, 0),

    /* A queue key left out holds the top-level value (QK). */
    K_LIST("queues"),
    K_GROUP("queues.*"),
    K_STR("queues.*.name", Q_(name), NULL, cfg_check_queue_name, 0),
    K_STR("queues.*.url", Q_(url), NULL, cfg_check_imap_url, QK),
    K_STR("queues.*.user", Q_(user), NULL, NULL, QK),
    K_SECRET("queues.*.password_file", Q_(password_file), QK,
             OFF(struct cfg_queue, password), -1),
    K_STR("queues.*.mailbox", Q_(mailbox), NULL, NULL, QK),
    /* "": none */
    K_STR("queues.*.sent_mailbox", Q_(sent_mailbox), NULL, NULL, QK),
    K_STR("queues.*.subject_tag", Q_(subject_tag), NULL, cfg_check_tag, QK),
    K_KEEPBOOL("queues.*.acknowledge", Q_(acknowledge)),
    K_KEEPBOOL("queues.*.forward_acknowledge", Q_(forward_acknowledge)),
    K_STR("queues.*.template_set", Q_(template_set), NULL, NULL, QK),
    K_STR("queues.*.language", Q_(language), NULL, NULL, QK),
    K_STR("queues.*.from_name", Q_(from_name), NULL, NULL, QK),
    K_ADDR("queues.*.from", Q_(from), NULL, QK,
           OFF(struct cfg_queue, from_name)),
    K_STR("queues.*.calendar", Q_(calendar), NULL, NULL, QK),
    K_STR("queues.*.sla", Q_(sla), NULL, NULL, QK),
    K_KEEPINT("queues.*.retention_days", Q_(retention_days), 0, 36500),
    K_CHOICE("queues.*.first_run", Q_(first_run), cfg_first_run_names, 0, QK),
    K_CHOICE("queues.*.auto_assign", Q_(auto_assign), cfg_assign_names, 0,
             QK | CFG_F_EXPECT),
};

#define CFG_NKEYS ARRAY_SIZE(cfg_keys)

static void PRINTF_LIKE(3, 4)
    cfg_error(struct cfg_ctx *x, const config_setting_t *s, const char *fmt,
              ...)
{
	va_list ap;
	char *msg;
	const char *file = x->path;
	unsigned line = 1;

	if (s != NULL) {
		if (config_setting_source_file(s) != NULL)
			file = config_setting_source_file(s);
		line = config_setting_source_line(s);
	}
	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_ptr_array_add(x->errors,
	                g_strdup_printf("%s:%u: %s", file, line, msg));
	g_free(msg);
}

/* cfg_parent - the closest existing group above path, for error lines. */
static const config_setting_t *
cfg_parent(struct cfg_ctx *x, const char *path)
{
	char *p = g_strdup(path);
	const config_setting_t *s = NULL;

	for (char *dot; s == NULL && (dot = strrchr(p, '.')) != NULL;) {
		*dot = '\0';
		s = config_lookup(x->lc, p);
	}
	g_free(p);
	return s;
}

/* cfg_label - how messages name a key: its path without list indices
 * ("queues.*.from" -> "queues.from").  g_free. */
static char *
cfg_label(const struct cfg_key *k)
{
	g_auto(GStrv) parts = g_strsplit(k->path, ".*", -1);

	return g_strjoinv("", parts);
}

/* cfg_leaf - the member name of a key inside its list entry or group. */
static const char *
cfg_leaf(const struct cfg_key *k)
{
	const char *dot = strrchr(k->path, '.');

	return dot ? dot + 1 : k->path;
}

/* cfg_addr_ok - an addr-spec as an SMTP envelope takes it without
 * SMTPUTF8: one '@' with something on both sides, printable ASCII, no
 * space or special character (a quoted local part is not supported; an
 * IDN domain is written in its xn-- form). */
static bool
cfg_addr_ok(const char *a)
{
	const char *at = strchr(a, '@');

	if (at == NULL || at == a || at[1] == '\0' || strchr(at + 1, '@'))
		return false;
	for (const unsigned char *p = (const unsigned char *)a; *p; p++)
		if (*p <= ' ' || *p >= 0x7f || strchr("<>()[],;:\\\"", *p))
			return false;
	return true;
}

/* cfg_domain_ok - the domain of "@domain" in priority_rules.from. */
static bool
cfg_domain_ok(const char *d)
{
	g_autofree char *a = g_strconcat("x@", d, NULL);

	return cfg_addr_ok(a);
}

int
cfg_address_split(const char *s, char **addr_r, char **name_r)
{
	g_autofree char *t = g_strstrip(g_strdup(s));
	char *lt = strrchr(t, '<'), *name = NULL, *addr;
	size_t n = strlen(t);

	if (lt != NULL) {
		if (n < 2 || t[n - 1] != '>')
			return -EINVAL;
		t[n - 1] = '\0';
		*lt = '\0';
		addr = g_strstrip(lt + 1);
		name = g_strstrip(t);
		n = strlen(name);
		if (n >= 2 && name[0] == '"' && name[n - 1] == '"') {
			name[n - 1] = '\0';
			name++;
		}
		if (strpbrk(name, "\r\n\"<>") != NULL)
			return -EINVAL;
	} else
		addr = t;
	if (!cfg_addr_ok(addr))
		return -EINVAL;
	*addr_r = g_strdup(addr);
	*name_r = name && *name ? g_strdup(name) : NULL;
	return 0;
}

/* cfg_put_int - store v in an int, enum or bool field. */
static void
cfg_put_int(char *field, size_t size, gint64 v)
{
	if (size == sizeof(bool))
		*(bool *)field = v != 0;
	else if (size == sizeof(int))
		*(int *)field = (int)v;
	else {
		g_assert(size == sizeof(gint64));
		*(gint64 *)field = v;
	}
}

/* cfg_key_by_off - the row that fills field off of struct in. */
static const struct cfg_key *
cfg_key_by_off(enum cfg_in in, long off)
{
	for (size_t i = 0; i < CFG_NKEYS; i++)
		if (cfg_keys[i].in == in && (long)cfg_keys[i].off == off &&
		    cfg_keys[i].type != CFG_KT_GROUP)
			return &cfg_keys[i];
	return NULL;
}

/* cfg_choices - "seen, move or none" (quoted: "\"seen\", ...") for
 * messages. g_free. */
static char *
cfg_choices(const char *const *ch, bool quoted)
{
	GString *s = g_string_new(NULL);
	const char *q = quoted ? "\"" : "";

	for (size_t i = 0; ch[i]; i++)
		g_string_append_printf(s, "%s%s%s%s",
		                       i == 0      ? ""
		                       : ch[i + 1] ? ", "
		                                   : " or ",
		                       q, ch[i], q);
	return g_string_free(s, FALSE);
}

/* cfg_read_string - the string at s, or NULL after an error. */
static const char *
cfg_read_string(struct cfg_ctx *x, const struct cfg_key *k,
                const config_setting_t *s, const char *label)
{
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		cfg_error(x, s, "%s: expected a string in double quotes",
		          label);
		return NULL;
	}
	if ((k->flags & CFG_F_REQUIRED) && *config_setting_get_string(s) == 0) {
		cfg_error(x, s, "%s: must not be empty", label);
		return NULL;
	}
	return config_setting_get_string(s);
}

/* cfg_read_secret_key - read the credential file named by a SECRET row. */
static void
cfg_read_secret_key(struct cfg_ctx *x, const struct cfg_key *k,
                    const config_setting_t *s, char *base, const char *file,
                    const char *label)
{
	char *data, **out = (char **)(base + k->aux);
	size_t len;
	int r;

	/* Commands that never log in do not need (or may not read) them. */
	if (file == NULL || !x->need_secrets)
		return;
	r = cfg_read_secret(file, &data, &len);
	if (r < 0) {
		cfg_error(x, s, "%s: cannot read '%s': %s", label, file,
		          g_strerror(-r));
		return;
	}
	if (*out != NULL)
		explicit_bzero(*out, strlen(*out));
	g_free(*out);
	*out = data;
	if (k->aux2 >= 0)
		*(size_t *)(base + k->aux2) = len;
}

/* cfg_read_addr - an ADDR row: the address into the field; its display
 * name into the row's name field when the file does not set that key. */
static void
cfg_read_addr(struct cfg_ctx *x, const struct cfg_key *k,
              const config_setting_t *s, const config_setting_t *group,
              char *base, const char *v, const char *label)
{
	char **field = (char **)(base + k->off);
	char *addr, *name;

	if (cfg_address_split(v, &addr, &name) < 0) {
		cfg_error(x, s, "%s: '%s' is not an address", label, v);
		return;
	}
	if (k->flags & CFG_F_LOWER) {
		char *l = g_ascii_strdown(addr, -1);
		g_free(addr);
		addr = l;
	}
	g_free(*field);
	*field = addr;
	if (name != NULL && k->aux >= 0) {
		const struct cfg_key *nk = cfg_key_by_off(k->in, k->aux);
		char **nf = (char **)(base + k->aux);

		g_assert(nk != NULL);
		if (config_setting_get_member(group, cfg_leaf(nk)) == NULL) {
			g_free(*nf);
			*nf = g_steal_pointer(&name);
		}
	}
	g_free(name);
}

/* cfg_read_strs - a STRS row: [ "...", ... ] as a NULL-terminated vector. */
static void
cfg_read_strs(struct cfg_ctx *x, const struct cfg_key *k,
              const config_setting_t *a, char *base, const char *label)
{
	GPtrArray *v;
	int n = config_setting_length(a);

	if (!config_setting_is_array(a) && !config_setting_is_list(a)) {
		cfg_error(x, a, "%s: expected [ \"...\", ... ]", label);
		return;
	}
	v = g_ptr_array_new();
	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(a, i);
		const char *str = config_setting_get_string(s);
		char *out = NULL, *name = NULL;

		if (str == NULL || *str == '\0' ||
		    !g_utf8_validate(str, -1, NULL)) {
			cfg_error(x, s,
			          "%s: entry %d must be a non-empty "
			          "UTF-8 string",
			          label, i + 1);
			continue;
		}
		if (!(k->flags & CFG_F_ADDRS))
			out = g_strdup(str);
		else if ((k->flags & CFG_F_DOMAIN) && str[0] == '@' &&
		         cfg_domain_ok(str + 1))
			out = g_strdup(str); /* "@domain" */
		else if (cfg_address_split(str, &out, &name) < 0) {
			cfg_error(
			    x, s, "%s: '%s' is not an address%s", label, str,
			    (k->flags & CFG_F_DOMAIN) ? " or @domain" : "");
			continue;
		}
		g_free(name);
		if (k->check != NULL && !k->check(x, k, s, out)) {
			g_free(out);
			continue;
		}
		if (k->flags & CFG_F_FOLD) {
			g_autofree char *nfc =
			    g_utf8_normalize(out, -1, G_NORMALIZE_ALL_COMPOSE);
			g_free(out);
			out = g_utf8_casefold(nfc ? nfc : "", -1);
		} else if (k->flags & CFG_F_LOWER) {
			char *l = g_ascii_strdown(out, -1);
			g_free(out);
			out = l;
		}
		g_ptr_array_add(v, out);
	}
	g_ptr_array_add(v, NULL);
	g_strfreev(*(char ***)(base + k->off));
	*(char ***)(base + k->off) = (char **)g_ptr_array_free(v, FALSE);
}

/* cfg_read_number - INT, INT64: whole number in min..max, else idef. */
static void
cfg_read_number(struct cfg_ctx *x, const struct cfg_key *k,
                const config_setting_t *s, char *field, const char *label)
{
	gint64 v;

	/* int64 lookups: config_lookup_int silently truncates (notes 5). */
	if ((k->flags & CFG_F_AUTO) &&
	    config_setting_type(s) == CONFIG_TYPE_STRING) {
		if (strcmp(config_setting_get_string(s), "auto") == 0) {
			cfg_put_int(field, k->size, 0);
			return;
		}
		cfg_error(x, s,
		          "%s: expected \"auto\" or %" G_GINT64_FORMAT
		          "..%" G_GINT64_FORMAT ", not '%s'",
		          label, k->min, k->max, config_setting_get_string(s));
		return;
	}
	if (config_setting_type(s) == CONFIG_TYPE_INT)
		v = config_setting_get_int(s);
	else if (config_setting_type(s) == CONFIG_TYPE_INT64)
		v = config_setting_get_int64(s);
	else {
		cfg_error(x, s, "%s: expected a whole number", label);
		return;
	}
	if (v < k->min || v > k->max) {
		cfg_error(x, s,
		          "%s: %" G_GINT64_FORMAT
		          " is out of range (%" G_GINT64_FORMAT
		          "..%" G_GINT64_FORMAT ")",
		          label, v, k->min, k->max);
		return;
	}
	cfg_put_int(field, k->size, v);
}

/* cfg_read_choice - CHOICE: the index of the value among k->choices. */
static void
cfg_read_choice(struct cfg_ctx *x, const struct cfg_key *k,
                const config_setting_t *s, char *field, const char *label)
{
	const char *v = cfg_read_string(x, k, s, label);
	g_autofree char *all = NULL;

	if (v == NULL)
		return;
	for (size_t i = 0; k->choices[i]; i++)
		if ((k->flags & CFG_F_ICASE)
		        ? g_ascii_strcasecmp(v, k->choices[i]) == 0
		        : strcmp(v, k->choices[i]) == 0) {
			cfg_put_int(field, k->size, (gint64)i);
			return;
		}
	all = cfg_choices(k->choices, false);
	if (k->flags & CFG_F_EXPECT) {
		/* the wording these keys always had */
		g_autofree char *quoted = cfg_choices(k->choices, true);

		cfg_error(x, s, "%s: expected %s, not '%s'", label, quoted, v);
	} else if (k->in == CFG_IN_CFG)
		cfg_error(x, s, "%s: '%s' is not %s", label, v, all);
	else /* "people: role 'boss' is not agent or manager" */
		cfg_error(x, s, "%.*s: %s '%s' is not %s",
		          (int)(strlen(label) - strlen(cfg_leaf(k)) - 1), label,
		          cfg_leaf(k), v, all);
}

/* cfg_set_default - an unset key: its default, unless it keeps. */
static void
cfg_set_default(const struct cfg_key *k, char *field)
{
	if (k->flags & CFG_F_KEEP)
		return;
	switch (k->type) {
	case CFG_KT_STR:
	case CFG_KT_ADDR:
		g_free(*(char **)field);
		*(char **)field = g_strdup(k->def);
		break;
	case CFG_KT_STRS:
		g_strfreev(*(char ***)field);
		*(char ***)field = NULL;
		break;
	case CFG_KT_INT:
	case CFG_KT_INT64:
	case CFG_KT_BOOL:
	case CFG_KT_CHOICE:
		cfg_put_int(field, k->size, k->idef);
		break;
	default:
		break;
	}
}

/*
 * cfg_read_key - fill k's field in base from s (NULL: the key is unset);
 * group is where s is or would be.  A wrong value is reported and leaves
 * the default.
 */
static void
cfg_read_key(struct cfg_ctx *x, const struct cfg_key *k,
             const config_setting_t *s, const config_setting_t *group,
             char *base, bool required)
{
	char *field = base + k->off;
	g_autofree char *label = cfg_label(k);
	const char *v;

	if (s == NULL && required)
		cfg_error(x, group, "%s: required setting is missing", label);
	if (s == NULL || !(k->flags & CFG_F_KEEP))
		cfg_set_default(k, field);
	if (s == NULL)
		return;
	switch (k->type) {
	case CFG_KT_STR:
		if ((v = cfg_read_string(x, k, s, label)) == NULL)
			break;
		if (k->check != NULL && !k->check(x, k, s, v))
			break;
		g_free(*(char **)field);
		*(char **)field = g_strdup(v);
		if (k->flags & CFG_F_SECRET)
			cfg_read_secret_key(x, k, s, base, v, label);
		break;
	case CFG_KT_ADDR:
		if ((v = cfg_read_string(x, k, s, label)) != NULL)
			cfg_read_addr(x, k, s, group, base, v, label);
		break;
	case CFG_KT_INT:
	case CFG_KT_INT64:
		cfg_read_number(x, k, s, field, label);
		break;
	case CFG_KT_BOOL:
		if (config_setting_type(s) != CONFIG_TYPE_BOOL)
			cfg_error(x, s, "%s: expected true or false", label);
		else
			cfg_put_int(field, k->size, config_setting_get_bool(s));
		break;
	case CFG_KT_CHOICE:
		cfg_read_choice(x, k, s, field, label);
		break;
	case CFG_KT_STRS:
		cfg_read_strs(x, k, s, base, label);
		break;
	default:
		break;
	}
}

/* cfg_read_scope - every row of struct in: from the file's paths for
 * struct cfg, from the members of list entry e otherwise. */
static void
cfg_read_scope(struct cfg_ctx *x, enum cfg_in in, const config_setting_t *e,
               void *base, bool has_queues)
{
	for (size_t i = 0; i < CFG_NKEYS; i++) {
		const struct cfg_key *k = &cfg_keys[i];
		const config_setting_t *s, *group = e;
		bool req = (k->flags & CFG_F_REQUIRED) ||
		           ((k->flags & CFG_F_SINGLE) && !has_queues);

		if (k->in != in || k->type == CFG_KT_GROUP)
			continue;
		if (in == CFG_IN_CFG) {
			s = config_lookup(x->lc, k->path);
			if (s == NULL)
				group = cfg_parent(x, k->path);
		} else
			s = config_setting_get_member(e, cfg_leaf(k));
		cfg_read_key(x, k, s, s ? config_setting_parent(s) : group,
		             base, req);
	}
}

/* cfg_clear_scope - free the strings the rows of struct in own. */
static void
cfg_clear_scope(enum cfg_in in, void *base)
{
	for (size_t i = 0; i < CFG_NKEYS; i++) {
		const struct cfg_key *k = &cfg_keys[i];
		char *field = (char *)base + k->off;

		if (k->in != in)
			continue;
		if (k->type == CFG_KT_STR || k->type == CFG_KT_ADDR)
			g_clear_pointer((char **)field, g_free);
		else if (k->type == CFG_KT_STRS)
			g_clear_pointer((char ***)field, g_strfreev);
	}
}

/* cfg_path_known - is this setting path (indices as "*") a known key? */
static bool
cfg_path_known(const char *path)
{
	for (size_t i = 0; i < CFG_NKEYS; i++)
		if (strcmp(cfg_keys[i].path, path) == 0)
			return true;
	return false;
}

static void
cfg_check_unknown(struct cfg_ctx *x, const config_setting_t *s,
                  const char *prefix)
{
	int n = config_setting_length(s);

	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, i);
		const char *name = config_setting_name(e);
		g_autofree char *path = NULL;

		if (name == NULL)
			path = *prefix ? g_strdup_printf("%s.*", prefix)
			               : g_strdup("*");
		else
			path = *prefix ? g_strdup_printf("%s.%s", prefix, name)
			               : g_strdup(name);
		if (!cfg_path_known(path)) {
			cfg_error(x, e, "unknown setting '%s'", path);
			continue;
		}
		if (config_setting_is_aggregate(e))
			cfg_check_unknown(x, e, path);
	}
}

const char *
cfg_keys_next(size_t *i)
{
	return *i < CFG_NKEYS ? cfg_keys[(*i)++].path : NULL;
}

void
cfg_keys_print(FILE *out)
{
	static const char *const types[] = {
	    [CFG_KT_GROUP] = "group",   [CFG_KT_LIST] = "list",
	    [CFG_KT_STR] = "string",    [CFG_KT_INT] = "integer",
	    [CFG_KT_INT64] = "integer", [CFG_KT_BOOL] = "bool",
	    [CFG_KT_CHOICE] = "choice", [CFG_KT_ADDR] = "address",
	    [CFG_KT_STRS] = "strings",  [CFG_KT_DAY] = "hours",
	};

	for (size_t i = 0; i < CFG_NKEYS; i++) {
		const struct cfg_key *k = &cfg_keys[i];
		g_autofree char *all = NULL;

		fprintf(out, "%s\t%s", k->path, types[k->type]);
		switch (k->type) {
		case CFG_KT_INT:
		case CFG_KT_INT64:
			if (k->flags & CFG_F_KEEP)
				fprintf(out, "\t(top level)");
			else if ((k->flags & CFG_F_AUTO) && k->idef == 0)
				fprintf(out, "\tauto");
			else
				fprintf(out, "\t%" G_GINT64_FORMAT, k->idef);
			fprintf(out,
			        "\t%" G_GINT64_FORMAT "..%" G_GINT64_FORMAT,
			        k->min, k->max);
			break;
		case CFG_KT_BOOL:
			fprintf(out, "\t%s",
			        (k->flags & CFG_F_KEEP) ? "(top level)"
			        : k->idef               ? "true"
			                                : "false");
			break;
		case CFG_KT_CHOICE:
			all = cfg_choices(k->choices, false);
			fprintf(out, "\t%s\t%s", k->choices[k->idef], all);
			break;
		case CFG_KT_STR:
		case CFG_KT_ADDR:
			if (k->flags & CFG_F_KEEP)
				fprintf(out, "\t(top level)");
			else if (k->def != NULL)
				fprintf(out, "\t\"%s\"", k->def);
			else if (k->flags & CFG_F_REQUIRED)
				fprintf(out, "\t(required)");
			else if (k->flags & CFG_F_SINGLE)
				fprintf(out, "\t(required without queues)");
			break;
		default:
			break;
		}
		fputc('\n', out);
	}
}

/* ---- checks of single values ---- */

static bool
cfg_check_url(struct cfg_ctx *x, const config_setting_t *s, const char *key,
              const char *url, const char *plain, const char *tls)
{
	if (*url == '\0' || g_str_has_prefix(url, plain) ||
	    g_str_has_prefix(url, tls))
		return true;
	cfg_error(x, s, "%s: '%s' must start with %s or %s", key, url, plain,
	          tls);
	return false;
}

static bool
cfg_check_imap_url(struct cfg_ctx *x, const struct cfg_key *k,
                   const config_setting_t *s, const char *v)
{
	(void)k;
	return cfg_check_url(x, s, "imap.url", v, "imap://", "imaps://");
}

static bool
cfg_check_smtp_url(struct cfg_ctx *x, const struct cfg_key *k,
                   const config_setting_t *s, const char *v)
{
	(void)k;
	return cfg_check_url(x, s, "smtp.url", v, "smtp://", "smtps://");
}

/* cfg_check_tag - the tag goes between '[' and '#' of every subject. */
static bool
cfg_check_tag(struct cfg_ctx *x, const struct cfg_key *k,
              const config_setting_t *s, const char *v)
{
	g_autofree char *label = cfg_label(k);

	if (*v != '\0' && strpbrk(v, "[]#") == NULL)
		return true;
	cfg_error(x, s, "%s: must be non-empty and without '[', ']' or '#'",
	          label);
	return true; /* kept as before; the load fails anyway */
}

static bool
cfg_check_timezone(struct cfg_ctx *x, const struct cfg_key *k,
                   const config_setting_t *s, const char *v)
{
	GTimeZone *tz = *v ? g_time_zone_new_identifier(v) : NULL;

	(void)k;
	if (tz != NULL) {
		g_time_zone_unref(tz);
		return true;
	}
	cfg_error(x, s, "report.timezone: unknown zone '%s'", v);
	return true;
}

/* agents.authserv_id: a token as MTAs write it in Authentication-Results */
static bool
cfg_check_authserv_id(struct cfg_ctx *x, const struct cfg_key *k,
                      const config_setting_t *s, const char *v)
{
	(void)k;
	if (*v != '\0' && strpbrk(v, " \t;()\"\\") == NULL)
		return true;
	cfg_error(x, s,
	          "agents.authserv_id: '%s' is not a host name such "
	          "as \"mx.example.com\"",
	          v);
	return false;
}

/* mime.fallback_charsets: each a charset iconv knows. */
static bool
cfg_check_charset(struct cfg_ctx *x, const struct cfg_key *k,
                  const config_setting_t *s, const char *v)
{
	GIConv cd = g_iconv_open("UTF-8", v);

	(void)k;
	if (cd == (GIConv)-1) {
		cfg_error(x, s, "mime.fallback_charsets: unknown charset '%s'",
		          v);
		return false;
	}
	g_iconv_close(cd);
	return true;
}

/* people.*.notify: the events agentmail.h knows ("none" alone: none). */
static bool
cfg_check_notify(struct cfg_ctx *x, const struct cfg_key *k,
                 const config_setting_t *s, const char *v)
{
	static const char *const ok[] = {"assigned", "customer-reply",
	                                 "new-ticket", "sla-warning", "none"};

	(void)k;
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++)
		if (strcmp(v, ok[i]) == 0)
			return true;
	cfg_error(x, s,
	          "people.*.notify: unknown event '%s' (assigned, "
	          "customer-reply, new-ticket, sla-warning or none)",
	          v);
	return false;
}

/* A queue name is a word in logs, in tickctl --queue and in SQL rows. */
static bool
cfg_check_queue_name(struct cfg_ctx *x, const struct cfg_key *k,
                     const config_setting_t *s, const char *v)
{
	(void)x;
	(void)k;
	(void)s;
	return *v != '\0' &&
	       strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789_-") == strlen(v);
}

/* ---- credentials ---- */

int
cfg_read_secret(const char *name, char **data_r, size_t *len_r)
{
	g_autofree char *path = NULL;
	char *data = NULL;
	gsize len = 0;
	const char *credir = getenv("CREDENTIALS_DIRECTORY");

	if (strchr(name, '/') == NULL && credir != NULL && *credir)
		path = g_build_filename(credir, name, NULL);
	else
		path = g_strdup(name);
	if (!g_file_get_contents(path, &data, &len, NULL))
		return access(path, R_OK) == 0 ? -EIO : -errno;
	/* A secret with a NUL would be cut short by every C string user. */
	if (memchr(data, '\0', len) != NULL && len > 0) {
		g_free(data);
		return -EINVAL;
	}
	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
		data[--len] = '\0';
	*data_r = data;
	*len_r = len;
	return 0;
}

/* ---- people ---- */

static void
cfg_person_free(gpointer p)
{
	cfg_clear_scope(CFG_IN_PERSON, p);
	g_free(p);
}

static void
cfg_load_people(struct cfg_ctx *x, struct cfg *c)
{
	const config_setting_t *list = config_lookup(x->lc, "people");
	int n;

	if (list == NULL)
		return;
	if (!config_setting_is_list(list)) {
		cfg_error(x, list, "people: expected a list ( {...}, {...} )");
		return;
	}
	n = config_setting_length(list);
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(list, i);
		struct cfg_person *p;
		guint nerr = x->errors->len;

		if (!config_setting_is_group(e)) {
			cfg_error(x, e, "people: each entry must be { ... }");
			continue;
		}
		p = g_new0(struct cfg_person, 1);
		cfg_read_scope(x, CFG_IN_PERSON, e, p, false);
		if (p->address == NULL || *p->address == '\0') {
			if (x->errors->len == nerr)
				cfg_error(x, e,
				          "people: entry %d needs address = "
				          "\"name@domain\"",
				          i + 1);
		} else if (cfg_person(c, p->address) != NULL) {
			const config_setting_t *a = config_setting_get_member(
			    e, cfg_leaf(cfg_key_by_off(
			           CFG_IN_PERSON,
			           OFF(struct cfg_person, address))));
			cfg_error(x, a, "people: '%s' is listed twice",
			          config_setting_get_string(a));
		} else if (x->errors->len == nerr) {
			if (p->name == NULL)
				p->name = g_strdup(p->address);
			g_ptr_array_add(c->people, g_steal_pointer(&p));
		}
		if (p != NULL)
			cfg_person_free(p);
	}
}

/* cfg_check_people_queues - every people.*.queues entry names a queue
 * (after cfg_load_queues). */
static void
cfg_check_people_queues(struct cfg_ctx *x, struct cfg *c)
{
	const config_setting_t *list = config_lookup(x->lc, "people");
	int n = list && config_setting_is_list(list)
	            ? config_setting_length(list)
	            : 0;

	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(list, i);
		const config_setting_t *a =
		    config_setting_is_group(e)
		        ? config_setting_get_member(e, "queues")
		        : NULL;
		int m = a && config_setting_is_aggregate(a)
		            ? config_setting_length(a)
		            : 0;

		for (int k = 0; k < m; k++) {
			const config_setting_t *q =
			    config_setting_get_elem(a, k);
			const char *name = config_setting_get_string(q);

			if (name != NULL && *name != '\0' &&
			    cfg_queue_by_name(c, name) == NULL)
				cfg_error(x, q,
				          "people.queues: no queue named '%s'",
				          name);
		}
		a = config_setting_is_group(e)
		        ? config_setting_get_member(e, "teams")
		        : NULL;
		m = a && config_setting_is_aggregate(a)
		        ? config_setting_length(a)
		        : 0;
		for (int k = 0; k < m; k++) {
			const config_setting_t *t =
			    config_setting_get_elem(a, k);
			const char *name = config_setting_get_string(t);

			if (name != NULL && cfg_team_members(c, name) == NULL)
				cfg_error(x, t,
				          "people.teams: no person has team = "
				          "\"%s\"",
				          name);
		}
	}
}

char *
cfg_team_members(const struct cfg *c, const char *team)
{
	GString *out = NULL;

	for (guint i = 0; team != NULL && i < c->people->len; i++) {
		const struct cfg_person *p = c->people->pdata[i];

		if (p->team == NULL || strcmp(p->team, team) != 0)
			continue;
		if (out == NULL)
			out = g_string_new(NULL);
		else
			g_string_append_c(out, '\n');
		g_string_append(out, p->address);
	}
	return out ? g_string_free(out, FALSE) : NULL;
}

const char *
cfg_agents_warning(const struct cfg *c)
{
	if (c->people->len == 0)
		return NULL;
	if (c->agents.trust_from == CFG_TRUST_HEADER)
		return "agents.trust_from = \"header\": anyone who writes an "
		       "agent's address into From can act as that agent "
		       "(commands, replies)";
	if (c->agents.authserv_id == NULL)
		return "agents.authserv_id is not set: INBOX mail from agent "
		       "addresses is treated as customer mail (commands "
		       "ignored); only the Sent folder acts as an agent";
	return NULL;
}

/* cfg_load_templates - templates.dir (default: "templates" beside the
 * config file; without that directory the built-in English
 * acknowledgement is used).  Every template error is a config error. */
static void
cfg_load_templates(struct cfg_ctx *x, struct cfg *c, const char *confdir)
{
	char *dir = g_steal_pointer(&c->templates_dir);
	bool given = dir != NULL;
	int r;

	if (dir == NULL)
		dir = g_build_filename(confdir, "templates", NULL);
	else if (!g_path_is_absolute(dir)) {
		char *abs = g_build_filename(confdir, dir, NULL);
		g_free(dir);
		dir = abs;
	}
	r = template_lib_load(dir, &c->templates, x->errors);
	if (r == -ENOENT && given)
		cfg_error(x, config_lookup(x->lc, "templates.dir"),
		          "templates.dir: '%s' is not a readable directory",
		          dir);
	if (r == 0)
		c->templates_dir = g_steal_pointer(&dir);
	g_free(dir);
}

/* ---- queues ---- */

static void
cfg_queue_free(gpointer p)
{
	struct cfg_queue *q = p;

	if (q->password != NULL)
		explicit_bzero(q->password, strlen(q->password));
	g_free(q->password);
	cfg_clear_scope(CFG_IN_QUEUE, q);
	g_free(q->view);
	g_free(q);
}

const struct cfg_queue *
cfg_queue_by_name(const struct cfg *c, const char *name)
{
	for (guint i = 0; c->queues && name && i < c->queues->len; i++) {
		const struct cfg_queue *q = c->queues->pdata[i];
		if (q->name != NULL && strcmp(q->name, name) == 0)
			return q;
	}
	return NULL;
}

/* cfg_queue_inherit - a new queue holding the top-level values; the
 * queue's own keys then overwrite what they set. */
static struct cfg_queue *
cfg_queue_inherit(const struct cfg *c)
{
	struct cfg_queue *q = g_new0(struct cfg_queue, 1);

	q->name = g_strdup(c->tickets.queue);
	q->url = g_strdup(c->imap.url);
	q->user = g_strdup(c->imap.user);
	q->password_file = g_strdup(c->imap.password_file);
	q->password = g_strdup(c->imap.password);
	q->mailbox = g_strdup(c->imap.mailbox);
	q->sent_mailbox = g_strdup(c->imap.sent_mailbox);
	q->subject_tag = g_strdup(c->tickets.subject_tag);
	q->template_set = g_strdup(c->tickets.template_set);
	q->language = g_strdup(c->tickets.language);
	q->from = g_strdup(c->smtp.from);
	q->from_name = g_strdup(c->smtp.from_name);
	q->calendar = g_strdup(c->tickets.calendar);
	q->sla = g_strdup(c->tickets.sla);
	q->acknowledge = c->tickets.acknowledge;
	q->forward_acknowledge = c->tickets.forward_acknowledge;
	q->retention_days = c->tickets.retention_days;
	q->first_run = c->imap.first_run;
	q->auto_assign = c->tickets.auto_assign;
	return q;
}

/* cfg_queue_view - the struct cfg the one-mailbox modules are handed:
 * the parent's fields with this queue's values (borrowed from q). */
static void
cfg_queue_view(const struct cfg *c, struct cfg_queue *q)
{
	struct cfg *v = g_new(struct cfg, 1);

	*v = *c;
	v->imap.url = q->url;
	v->imap.user = q->user;
	v->imap.password_file = q->password_file;
	v->imap.password = q->password;
	v->imap.mailbox = q->mailbox;
	v->imap.sent_mailbox = q->sent_mailbox;
	v->tickets.queue = q->name;
	v->tickets.subject_tag = q->subject_tag;
	v->tickets.template_set = q->template_set;
	v->tickets.language = q->language;
	v->tickets.calendar = q->calendar;
	v->tickets.sla = q->sla;
	v->tickets.acknowledge = q->acknowledge;
	v->tickets.forward_acknowledge = q->forward_acknowledge;
	v->tickets.retention_days = q->retention_days;
	v->imap.first_run = q->first_run;
	v->tickets.auto_assign = q->auto_assign;
	v->smtp.from = q->from;
	v->smtp.from_name = q->from_name;
	q->view = v;
}

/* cfg_check_queue_templates - a queue that acknowledges needs an "ack"
 * template in its set (when templates are in use at all). */
static void
cfg_check_queue_templates(struct cfg_ctx *x, const struct cfg *c,
                          const struct cfg_queue *q, const config_setting_t *s)
{
	if (c->templates == NULL || !q->acknowledge)
		return;
	if (!template_has_set(c->templates, q->template_set, "ack"))
		cfg_error(x, s,
		          "queue '%s': template set '%s' has no ack.txt "
		          "under %s/%s/<lang>/",
		          q->name, q->template_set, c->templates_dir,
		          q->template_set);
}

/* cfg_load_queue - entry i of the queues list; NULL after an error that
 * leaves no queue to check further. */
static struct cfg_queue *
cfg_load_queue(struct cfg_ctx *x, const struct cfg *c,
               const config_setting_t *e, int i)
{
	struct cfg_queue *q;

	if (!config_setting_is_group(e)) {
		cfg_error(x, e, "queues: each entry must be { ... }");
		return NULL;
	}
	q = cfg_queue_inherit(c);
	cfg_read_scope(x, CFG_IN_QUEUE, e, q, true);
	if (q->name == NULL) {
		cfg_error(x, e,
		          "queues: entry %d needs name = "
		          "\"lower-case letters, digits, - or _\"",
		          i + 1);
		cfg_queue_free(q);
		return NULL;
	}
	if (cfg_queue_by_name(c, q->name) != NULL) {
		cfg_error(x, e, "queues: '%s' is listed twice", q->name);
		cfg_queue_free(q);
		return NULL;
	}
	if (q->sent_mailbox != NULL && *q->sent_mailbox == '\0')
		g_clear_pointer(&q->sent_mailbox, g_free);
	if (q->url == NULL || q->user == NULL)
		cfg_error(x, e,
		          "queue '%s': needs url and user (or imap.url "
		          "and imap.user)",
		          q->name);
	cfg_check_queue_templates(x, c, q, e);
	return q;
}

/* cfg_check_same_mailbox - two queues on one folder would race for the
 * same mails. */
static void
cfg_check_same_mailbox(struct cfg_ctx *x, const struct cfg *c, GPtrArray *elems)
{
	for (guint k = 1; k < c->queues->len; k++)
		for (guint i = 0; i < k; i++) {
			const struct cfg_queue *a = c->queues->pdata[i],
			                       *b = c->queues->pdata[k];
			if (a->url && b->url && a->user && b->user &&
			    strcmp(a->url, b->url) == 0 &&
			    strcmp(a->user, b->user) == 0 &&
			    strcmp(a->mailbox, b->mailbox) == 0) {
				cfg_error(x, elems->pdata[k],
				          "queues: '%s' reads the same mailbox "
				          "as '%s' (%s %s)",
				          b->name, a->name, b->user,
				          b->mailbox);
				break;
			}
		}
}

/*
 * cfg_load_queues - the `queues` list, or one implicit queue made of the
 * single-mailbox keys (imap.*, tickets.queue, ...).  A queue's unset keys
 * fall back to imap.*, smtp.* and tickets.*.
 */
static void
cfg_load_queues(struct cfg_ctx *x, struct cfg *c)
{
	const config_setting_t *list = config_lookup(x->lc, "queues");
	g_autoptr(GPtrArray) elems = g_ptr_array_new(); /* setting per queue */

	c->queues = g_ptr_array_new_with_free_func(cfg_queue_free);
	if (list == NULL) {
		struct cfg_queue *q = cfg_queue_inherit(c);

		g_ptr_array_add(c->queues, q);
		cfg_check_queue_templates(
		    x, c, q, config_lookup(x->lc, "tickets.template_set"));
	} else if (!config_setting_is_list(list)) {
		cfg_error(x, list, "queues: expected a list ( {...}, {...} )");
		return;
	} else {
		for (int i = 0; i < config_setting_length(list); i++) {
			const config_setting_t *e =
			    config_setting_get_elem(list, i);
			struct cfg_queue *q = cfg_load_queue(x, c, e, i);

			if (q == NULL)
				continue;
			g_ptr_array_add(c->queues, q);
			g_ptr_array_add(elems, (gpointer)e);
		}
		if (c->queues->len == 0)
			cfg_error(x, list, "queues: the list is empty");
		cfg_check_same_mailbox(x, c, elems);
	}
	for (guint i = 0; i < c->queues->len; i++)
		cfg_queue_view(c, c->queues->pdata[i]);
}

/* ---- SLA and escalation ---- */

int
cfg_priority_parse(const char *s)
{
	for (size_t i = 0; s != NULL && cfg_prio_names[i]; i++)
		if (g_ascii_strcasecmp(s, cfg_prio_names[i]) == 0)
			return (int)i;
	return -EINVAL;
}

const char *
cfg_priority_name(int prio)
{
	if (prio < 0 || prio > CFG_PRIO_URGENT)
		return "?";
	return cfg_prio_names[prio];
}

/*
 * The default priority rules, used when the file has no priority_rules:
 * the phrases of a customer who is about to leave escalate at once; the
 * merely urgent ones raise the priority.  A '*' at the end of a keyword
 * matches any word ending (German inflection).
 */
static const char *const cfg_default_churn[] = {"speak to your manager",
                                                "manager",
                                                "complaint",
                                                "lawyer",
                                                "cancel my",
                                                "vorgesetzte*",
                                                "ihren chef",
                                                "ihrem chef",
                                                "geschäftsführ*",
                                                "beschwerde",
                                                "anwalt",
                                                "kündig*",
                                                NULL};
static const char *const cfg_default_urgent[] = {
    "refund",   "urgent", "rückerstattung", "erstattung", "geld zurück",
    "dringend", NULL};

/* cfg_fold - what keyword matching compares: NFC, case-folded. g_free. */
static char *
cfg_fold(const char *s)
{
	g_autofree char *n = g_utf8_normalize(s, -1, G_NORMALIZE_ALL_COMPOSE);

	return g_utf8_casefold(n ? n : "", -1);
}

static void
cfg_rule_free(gpointer p)
{
	cfg_clear_scope(CFG_IN_RULE, p);
	g_free(p);
}

static void
cfg_chain_free(gpointer p)
{
	struct cfg_chain *ch = p;

	for (size_t i = 0; i < SLA_ESC_MAX_LEVELS; i++)
		g_strfreev(ch->to[i]);
	cfg_clear_scope(CFG_IN_CHAIN, ch);
	g_free(ch);
}

static void
cfg_calendar_free(gpointer p)
{
	struct sla_calendar *cal = p;

	sla_calendar_free(&cal);
}

static void
cfg_sla_free(struct cfg_sla *s)
{
	if (s->calendars)
		g_ptr_array_unref(s->calendars);
	for (size_t i = 0; i < s->n_policies; i++)
		g_free((char *)s->policies[i].queue);
	g_free(s->policies);
	g_free(s->policy_cal);
	if (s->rules)
		g_ptr_array_unref(s->rules);
	if (s->chains)
		g_ptr_array_unref(s->chains);
	memset(s, 0, sizeof(*s));
}

/* cfg_calendar_hours - the hours.<day> members of a calendar; false after
 * an error. */
static bool
cfg_calendar_hours(struct cfg_ctx *x, const config_setting_t *hs,
                   const char *name, struct sla_hours *hours, size_t *nh_r)
{
	size_t nh = 0;
	bool ok = true;

	for (size_t i = 0; i < CFG_NKEYS; i++) {
		const struct cfg_key *k = &cfg_keys[i];
		const config_setting_t *ds;
		char err[256];
		size_t n = 0;

		if (k->type != CFG_KT_DAY ||
		    (ds = config_setting_get_member(hs, cfg_leaf(k))) == NULL)
			continue;
		if (config_setting_type(ds) != CONFIG_TYPE_STRING ||
		    sla_hours_parse((int)k->idef, config_setting_get_string(ds),
		                    hours + nh, SLA_DAY_MAX_INTERVALS, &n, err,
		                    sizeof(err)) < 0) {
			cfg_error(x, ds, "calendars: '%s' hours.%s: %s", name,
			          cfg_leaf(k),
			          config_setting_type(ds) == CONFIG_TYPE_STRING
			              ? err
			              : "expected \"HH:MM-HH:MM, ...\"");
			ok = false;
			continue;
		}
		nh += n;
	}
	*nh_r = nh;
	return ok;
}

static const struct sla_calendar *
cfg_calendar_find(const struct cfg_sla *sla, const char *name)
{
	for (guint j = 0; j < sla->calendars->len; j++) {
		const struct sla_calendar *cal = sla->calendars->pdata[j];
		if (name == NULL || strcmp(cal->name, name) == 0)
			return cal;
	}
	return NULL;
}

/* cfg_load_calendar - entry i of calendars, or NULL after an error. */
static struct sla_calendar *
cfg_load_calendar(struct cfg_ctx *x, const struct cfg_sla *sla,
                  const config_setting_t *e, int i)
{
	struct cfg_cal_in in = {0};
	const config_setting_t *hs;
	struct sla_hours hours[SLA_WEEKDAY__COUNT * SLA_DAY_MAX_INTERVALS];
	struct sla_calendar *cal = NULL;
	size_t nh = 0;
	char err[256];

	if (config_setting_is_group(e))
		cfg_read_scope(x, CFG_IN_CALENDAR, e, &in, false);
	if (!config_setting_is_group(e) || in.name == NULL ||
	    in.timezone == NULL) {
		cfg_error(x, e,
		          "calendars: entry %d needs name = "
		          "\"...\" and timezone = \"Area/City\"",
		          i + 1);
		goto out;
	}
	hs = config_setting_get_member(e, "hours");
	if (hs == NULL || !config_setting_is_group(hs)) {
		cfg_error(x, hs ? hs : e,
		          "calendars: '%s' needs hours = { mon = "
		          "\"09:00-17:00\"; ... }",
		          in.name);
		goto out;
	}
	if (!cfg_calendar_hours(x, hs, in.name, hours, &nh))
		goto out;
	if (cfg_calendar_find(sla, in.name) != NULL) {
		cfg_error(x, e, "calendars: '%s' is defined twice", in.name);
		goto out;
	}
	if (sla_calendar_new(in.name, in.timezone, hours, nh,
	                     (const char *const *)in.holidays,
	                     in.holidays ? g_strv_length(in.holidays) : 0, &cal,
	                     err, sizeof(err)) < 0) {
		cfg_error(x, e, "calendars: %s", err);
		cal = NULL;
	}
out:
	cfg_clear_scope(CFG_IN_CALENDAR, &in);
	return cal;
}

static void
cfg_load_calendars(struct cfg_ctx *x, struct cfg_sla *sla)
{
	const config_setting_t *list = config_lookup(x->lc, "calendars");

	if (list == NULL)
		return;
	if (!config_setting_is_list(list)) {
		cfg_error(x, list, "calendars: expected a list ( {...}, ... )");
		return;
	}
	for (int i = 0; i < config_setting_length(list); i++) {
		struct sla_calendar *cal = cfg_load_calendar(
		    x, sla, config_setting_get_elem(list, i), i);

		if (cal != NULL)
			g_ptr_array_add(sla->calendars, cal);
	}
}

/* cfg_load_policy - entry e of sla.policies into the next free slot. */
static void
cfg_load_policy(struct cfg_ctx *x, struct cfg_sla *sla,
                const config_setting_t *e)
{
	struct cfg_policy_in in = {0};
	struct sla_policy p = {0};
	const struct sla_calendar *cal;
	guint nerr = x->errors->len;
	char err[256];

	if (!config_setting_is_group(e)) {
		cfg_error(x, e, "sla.policies: each entry must be { ... }");
		return;
	}
	cfg_read_scope(x, CFG_IN_POLICY, e, &in, false);
	if (x->errors->len > nerr)
		goto out;
	cal = cfg_calendar_find(sla, in.calendar);
	if (cal == NULL) {
		if (in.calendar != NULL)
			cfg_error(x, config_setting_get_member(e, "calendar"),
			          "sla.policies: unknown calendar '%s'",
			          in.calendar);
		else
			cfg_error(x, e,
			          "sla.policies: no calendars are defined");
		goto out;
	}
	p.priority = cfg_policy_prios[in.priority][0] == '*' ? SLA_ANY_PRIORITY
	                                                     : in.priority;
	p.first_response_min = in.first_response;
	p.next_response_min = in.next_response;
	p.resolution_min = in.resolution;
	p.warn_pct = in.warn_percent;
	if (sla_policy_check(&p, err, sizeof(err)) < 0) {
		cfg_error(x, e, "sla.policies: %s", err);
		goto out;
	}
	p.queue = g_steal_pointer(&in.queue);
	sla->policy_cal[sla->n_policies] = cal;
	sla->policies[sla->n_policies++] = p;
out:
	cfg_clear_scope(CFG_IN_POLICY, &in);
}

static void
cfg_load_policies(struct cfg_ctx *x, struct cfg_sla *sla)
{
	const config_setting_t *list = config_lookup(x->lc, "sla.policies");
	int n;

	if (list == NULL)
		return;
	if (!config_setting_is_list(list)) {
		cfg_error(x, list, "sla.policies: expected a list ( {...} )");
		return;
	}
	n = config_setting_length(list);
	sla->policies = g_new0(struct sla_policy, MAX(n, 1));
	sla->policy_cal = g_new0(const struct sla_calendar *, MAX(n, 1));
	for (int i = 0; i < n; i++)
		cfg_load_policy(x, sla, config_setting_get_elem(list, i));
}

/* cfg_rule_new - a built-in rule. */
static struct cfg_rule *
cfg_rule_new(const char *name, const char *const *keywords, bool escalate)
{
	struct cfg_rule *r = g_new0(struct cfg_rule, 1);

	r->name = g_strdup(name);
	if (keywords != NULL) {
		size_t n = g_strv_length((char **)keywords);

		r->keywords = g_new0(char *, n + 1);
		for (size_t i = 0; i < n; i++)
			r->keywords[i] = cfg_fold(keywords[i]);
	} else
		r->importance_high = true;
	r->priority = CFG_PRIO_HIGH;
	r->escalate = escalate;
	return r;
}

static void
cfg_load_rules(struct cfg_ctx *x, struct cfg_sla *sla)
{
	const config_setting_t *list = config_lookup(x->lc, "priority_rules");

	if (list == NULL) {
		g_ptr_array_add(
		    sla->rules,
		    cfg_rule_new("churn risk", cfg_default_churn, true));
		g_ptr_array_add(
		    sla->rules,
		    cfg_rule_new("urgent", cfg_default_urgent, false));
		g_ptr_array_add(sla->rules,
		                cfg_rule_new("importance header", NULL, false));
		return;
	}
	if (!config_setting_is_list(list)) {
		cfg_error(x, list, "priority_rules: expected a list ( {...} )");
		return;
	}
	for (int i = 0; i < config_setting_length(list); i++) {
		const config_setting_t *e = config_setting_get_elem(list, i);
		struct cfg_rule *r;

		if (!config_setting_is_group(e)) {
			cfg_error(x, e,
			          "priority_rules: each entry must be "
			          "{ ... }");
			continue;
		}
		r = g_new0(struct cfg_rule, 1);
		cfg_read_scope(x, CFG_IN_RULE, e, r, false);
		if (r->from == NULL && r->keywords == NULL &&
		    !r->importance_high)
			cfg_error(x, e,
			          "priority_rules: '%s' needs from, "
			          "keywords or importance_high",
			          r->name);
		g_ptr_array_add(sla->rules, r);
	}
}

/* cfg_check_people - every address in v must be one of the people. */
static void
cfg_check_people(struct cfg_ctx *x, const struct cfg *c,
                 const config_setting_t *arr, char **v, const char *what)
{
	for (int i = 0; v && v[i]; i++)
		if (cfg_person(c, v[i]) == NULL)
			cfg_error(
			    x,
			    config_setting_get_elem(arr, (unsigned)i)
			        ? config_setting_get_elem(arr, (unsigned)i)
			        : arr,
			    "%s: '%s' is not in people", what, v[i]);
}

/* cfg_load_level - level l of chain ch from setting le. */
static void
cfg_load_level(struct cfg_ctx *x, const struct cfg *c, struct cfg_chain *ch,
               int l, const config_setting_t *le)
{
	const char *w = "escalation.chains";
	struct cfg_level_in in = {0};
	const struct cfg_key *tk =
	    cfg_key_by_off(CFG_IN_LEVEL, OFF(struct cfg_level_in, to));

	if (!config_setting_is_group(le)) {
		cfg_error(x, le,
		          "%s: each level must be { after = N; to = "
		          "[...]; }",
		          w);
		return;
	}
	cfg_read_scope(x, CFG_IN_LEVEL, le, &in, false);
	if (in.to == NULL || in.to[0] == NULL)
		cfg_error(x, le, "%s: level %d needs to = [ \"person@...\" ]",
		          w, l + 1);
	cfg_check_people(x, c, config_setting_get_member(le, cfg_leaf(tk)),
	                 in.to, "escalation.chains.levels.to");
	ch->to[l] = g_steal_pointer(&in.to);
	ch->chain.level[l].after_min = in.after;
	ch->chain.level[l].to = (const char *const *)ch->to[l];
	cfg_clear_scope(CFG_IN_LEVEL, &in);
}

/* cfg_load_chain - entry i of escalation.chains, or NULL. */
static struct cfg_chain *
cfg_load_chain(struct cfg_ctx *x, const struct cfg *c,
               const config_setting_t *e, int i)
{
	const char *w = "escalation.chains";
	const config_setting_t *lv = NULL;
	const struct cfg_key *ik =
	    cfg_key_by_off(CFG_IN_CHAIN, OFF(struct cfg_chain, immediate));
	struct cfg_chain *ch;
	char err[256];
	int n;

	if (!config_setting_is_group(e) ||
	    (lv = config_setting_get_member(e, "levels")) == NULL ||
	    !config_setting_is_list(lv)) {
		cfg_error(x, e,
		          "%s: entry %d needs levels = ( { after "
		          "= 0; to = [ \"lead@...\" ]; }, ... )",
		          w, i + 1);
		return NULL;
	}
	n = config_setting_length(lv);
	if (n < 1 || n > SLA_ESC_MAX_LEVELS) {
		cfg_error(x, lv, "%s: 1..%d levels, not %d", w,
		          SLA_ESC_MAX_LEVELS, n);
		return NULL;
	}
	ch = g_new0(struct cfg_chain, 1);
	cfg_read_scope(x, CFG_IN_CHAIN, e, ch, false);
	cfg_check_people(x, c, config_setting_get_member(e, cfg_leaf(ik)),
	                 ch->immediate, "escalation.chains.immediate");
	for (int l = 0; l < n; l++)
		cfg_load_level(x, c, ch, l,
		               config_setting_get_elem(lv, (unsigned)l));
	ch->chain.n_levels = (size_t)n;
	ch->chain.queue = ch->queue;
	if (sla_chain_check(&ch->chain, err, sizeof(err)) < 0)
		cfg_error(x, e, "%s: %s", w, err);
	return ch;
}

static void
cfg_load_chains(struct cfg_ctx *x, struct cfg *c)
{
	const config_setting_t *list =
	    config_lookup(x->lc, "escalation.chains");

	if (list == NULL)
		return;
	if (!config_setting_is_list(list)) {
		cfg_error(x, list,
		          "escalation.chains: expected a list ( {...} )");
		return;
	}
	for (int i = 0; i < config_setting_length(list); i++) {
		struct cfg_chain *ch =
		    cfg_load_chain(x, c, config_setting_get_elem(list, i), i);

		if (ch != NULL)
			g_ptr_array_add(c->sla.chains, ch);
	}
}

static void
cfg_load_sla(struct cfg_ctx *x, struct cfg *c)
{
	struct cfg_sla *sla = &c->sla;

	sla->calendars = g_ptr_array_new_with_free_func(cfg_calendar_free);
	sla->rules = g_ptr_array_new_with_free_func(cfg_rule_free);
	sla->chains = g_ptr_array_new_with_free_func(cfg_chain_free);
	cfg_load_calendars(x, sla);
	cfg_load_policies(x, sla);
	cfg_load_rules(x, sla);
	cfg_load_chains(x, c);
}

/* ---- the whole file ---- */

/* cfg_read_file - parse path into lc; on failure the one libconfig error
 * as "file:line: message" and -ENOENT (unreadable) or -EINVAL. */
static int
cfg_read_file(config_t *lc, const char *path, const char *dir,
              GPtrArray *errors)
{
	bool io;

	config_init(lc);
	/* @include is relative to the file, not to systemd's cwd "/". */
	config_set_include_dir(lc, dir);
	if (config_read_file(lc, path))
		return 0;
	io = config_error_type(lc) == CONFIG_ERR_FILE_IO;
	if (io)
		g_ptr_array_add(errors,
		                g_strdup_printf("%s:0: cannot read: %s", path,
		                                g_strerror(errno)));
	else
		g_ptr_array_add(
		    errors,
		    g_strdup_printf(
		        "%s:%d: %s",
		        config_error_file(lc) ? config_error_file(lc) : path,
		        config_error_line(lc), config_error_text(lc)));
	config_destroy(lc);
	return io ? -ENOENT : -EINVAL;
}

/* cfg_derive - the defaults that depend on other keys. */
static void
cfg_derive(struct cfg_ctx *x, struct cfg *c)
{
	const char *at;

	if (c->instance == NULL)
		c->instance = g_strdup(g_get_host_name());
	if (c->tickets.domain == NULL && c->smtp.from != NULL &&
	    (at = strchr(c->smtp.from, '@')) != NULL)
		c->tickets.domain = g_ascii_strdown(at + 1, -1);
	if (c->tickets.domain == NULL)
		c->tickets.domain = g_strdup("localhost");
	if (x->need_secrets && c->tickets.secret != NULL &&
	    c->tickets.secret_len < 16)
		cfg_error(x, config_lookup(x->lc, "tickets.secret_file"),
		          "tickets.secret_file: secret is shorter than 16 "
		          "bytes; run tickctl init-secret");
}

int
cfg_load(const char *path, bool need_secrets, struct cfg **cfg_r,
         GPtrArray *errors)
{
	config_t lc;
	struct cfg_ctx x = {&lc, path, errors, need_secrets};
	struct cfg *c;
	guint nerr = errors->len;
	g_autofree char *dir = g_path_get_dirname(path);
	int r = cfg_read_file(&lc, path, dir, errors);

	if (r < 0)
		return r;
	c = g_new0(struct cfg, 1);
	c->path = g_strdup(path);
	c->people = g_ptr_array_new_with_free_func(cfg_person_free);
	cfg_check_unknown(&x, config_root_setting(&lc), "");
	cfg_read_scope(&x, CFG_IN_CFG, NULL, c,
	               config_lookup(&lc, "queues") != NULL);
	cfg_derive(&x, c);
	cfg_load_people(&x, c);
	cfg_load_sla(&x, c);
	cfg_load_templates(&x, c, dir);
	cfg_load_queues(&x, c);
	cfg_check_people_queues(&x, c);
	config_destroy(&lc);

	if (errors->len > nerr) {
		cfg_free(&c);
		return -EINVAL;
	}
	*cfg_r = c;
	return 0;
}

void
cfg_free(struct cfg **cp)
{
	struct cfg *c = *cp;

	if (c == NULL)
		return;
	/* the queues' views point into c: they go first */
	if (c->queues)
		g_ptr_array_unref(c->queues);
	if (c->imap.password)
		explicit_bzero(c->imap.password, strlen(c->imap.password));
	g_free(c->imap.password);
	if (c->smtp.password)
		explicit_bzero(c->smtp.password, strlen(c->smtp.password));
	g_free(c->smtp.password);
	if (c->tickets.secret)
		explicit_bzero(c->tickets.secret, c->tickets.secret_len);
	g_free(c->tickets.secret);
	cfg_clear_scope(CFG_IN_CFG, c);
	g_free(c->path);
	g_ptr_array_unref(c->people);
	cfg_sla_free(&c->sla);
	template_lib_free(&c->templates);
	g_free(c);
	*cp = NULL;
}

const struct cfg_person *
cfg_person(const struct cfg *c, const char *addr)
{
	if (addr == NULL)
		return NULL;
	for (guint i = 0; i < c->people->len; i++) {
		const struct cfg_person *p = c->people->pdata[i];
		if (g_ascii_strcasecmp(p->address, addr) == 0)
			return p;
	}
	return NULL;
}

const struct cfg_person *
cfg_person_identity(const struct cfg *c, const char *addr)
{
	const struct cfg_person *p = cfg_person(c, addr);

	for (guint i = 0; p == NULL && addr && i < c->people->len; i++) {
		const struct cfg_person *q = c->people->pdata[i];
		for (char **id = q->identities; id && *id; id++)
			if (g_ascii_strcasecmp(*id, addr) == 0)
				return q;
	}
	return p;
}

const char *
cfg_default_path(void)
{
	const char *p = getenv("TICKD_CONF");

	return p && *p ? p : "/etc/tickd/tickd.conf";
}

const char *
cfg_first_run_name(enum cfg_first_run f)
{
	if ((size_t)f >= ARRAY_SIZE(cfg_first_run_names) - 1)
		return "?";
	return cfg_first_run_names[f];
}
