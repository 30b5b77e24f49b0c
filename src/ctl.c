/*
 * ctl.c - tickctl commands.  See ctl.h.
 */
#include "ctl.h"

#include "cfg.h"
#include "corpus.h"
#include "digest.h"
#include "escalate.h"
#include "history.h"
#include "imap.h"
#include "ingest.h"
#include "limit.h"
#include "lifecycle.h"
#include "log.h"
#include "mime.h"
#include "report.h"
#include "store.h"
#include "store_admin.h"
#include "store_ingest.h"
#include "store_outbox.h"
#include "store_merge.h"
#include "store_search.h"

#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

struct ctl {
	const char *config_path;
	struct cfg *cfg;
	struct store *st;
	bool json;
	const struct cfg *qcfg; /* import --queue Q: that queue's view */
	gint64 at;              /* --at WHEN: the time to act at, 0: now */
};

static void
ctl_usage(FILE *f)
{
	fputs(
	    "usage: tickctl [-c FILE] [-v] COMMAND [ARGS]\n"
	    "commands:\n"
	    "  migrate               create or upgrade the database schema\n"
	    "  import [--queue Q] [--at WHEN] [FILE...]  ingest raw mails "
	    "(stdin\n"
	    "          when no FILE), as if at WHEN (unix seconds, ISO 8601)\n"
	    "  import --history [--queue Q] PATH...  mbox files, Maildirs or "
	    "mails as\n"
	    "                        closed history (nothing sent; "
	    "resumable)\n"
	    "  tick [--at WHEN]      pending reminders, auto-close, SLA clocks "
	    "now\n"
	    "  tickets [--json] [--status S] [--queue Q] [--priority P]\n"
	    "          [--assignee ADDR|-] [--breached] [--requester "
	    "ADDR|@DOMAIN]\n"
	    "  ticket N [--json]     one ticket with messages and events\n"
	    "  search WORDS [--queue Q] [--status S] [--from T] [--to T] "
	    "[--limit N]\n"
	    "         [--kept] [--json]  full-text search (\"a phrase\", "
	    "-word, or, word*);\n"
	    "                        --kept: stored mail without a ticket\n"
	    "  close N               set the ticket's status to closed\n"
	    "  assign N ADDR|-       assign to a person of the config (- = "
	    "nobody)\n"
	    "  priority N P          low, normal, high or urgent\n"
	    "  note N TEXT...        add an internal note\n"
	    "  merge A B             merge ticket A into B (A's number "
	    "stays an alias)\n"
	    "  outbox [--all] [--json] [--retry ID]\n"
	    "  status [--json]       mailboxes, outbox, suppressions, breaker\n"
	    "  quarantine [--json]   mail that could not be stored, kept "
	    "for review\n"
	    "  quarantine raw ID     its raw bytes (e.g. to import again)\n"
	    "  breaker reset         close the circuit breaker, send held "
	    "mail\n"
	    "  init-secret           create tickets.secret_file\n"
	    "  purge [--queue Q]     retention: strip tickets closed longer "
	    "than\n"
	    "                        their queue's retention_days\n"
	    "  forget ADDRESS        erase everything about one person\n"
	    "  export ADDRESS [-o DIR]  one person's data as JSON (+ .eml "
	    "in DIR)\n"
	    "  parse FILE [--json]   show how tickd parses a mail\n"
	    "  corpus-report DIR     parse every mail below DIR\n"
	    "  report [--from T] [--to T] [--queue Q] [--agent A] "
	    "[--json|--csv|--html FILE]\n"
	    "                        KPIs of [from, to) and the period "
	    "before it\n"
	    "                        (T: YYYY-MM-DD = midnight UTC, or ISO "
	    "8601,\n"
	    "                        UTC unless it names a zone; default "
	    "the last 7 days)\n"
	    "  config-keys           every config key: path, type, default, "
	    "range\n"
	    "exit codes (sysexits.h): 0 ok, 64 usage, 65 bad data, 66 no "
	    "such ticket,\n"
	    "  69 database unavailable, 75 try again, 78 config error\n",
	    f);
}

/* ctl_open - config (secrets only if asked) and database. */
static int
ctl_open(struct ctl *c, bool secrets, bool db)
{
	g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);

	if (cfg_load(c->config_path, secrets, &c->cfg, errors) < 0) {
		for (guint i = 0; i < errors->len; i++)
			fprintf(stderr, "%s\n", (char *)errors->pdata[i]);
		return EX_CONFIG;
	}
	if (db && store_open(c->cfg->db_conninfo, &c->st) < 0) {
		fprintf(stderr, "tickctl: database unavailable\n");
		return EX_UNAVAILABLE;
	}
	return EX_OK;
}

static int
ctl_migrate(struct ctl *c)
{
	int applied = 0, rc = ctl_open(c, false, true);

	if (rc != EX_OK)
		return rc;
	if (store_migrate(c->st, &applied) < 0)
		return EX_SOFTWARE;
	printf("migrate: %d migration(s) applied, schema is current\n",
	       applied);
	return EX_OK;
}

/* ctl_read_all - all of fd into a GByteArray, at most max bytes. */
static int
ctl_read_all(int fd, size_t max, GByteArray *out)
{
	guint8 buf[65536];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (out->len + (size_t)n > max)
			return -EFBIG;
		g_byte_array_append(out, buf, (guint)n);
	}
	return 0;
}

static int
ctl_import_one(struct ctl *c, const char *name, int fd)
{
	g_autoptr(GByteArray) raw = g_byte_array_new();
	struct ingest_source src = {.label = "tickctl import"};
	struct ingest_outcome out;
	int r;

	r = ctl_read_all(fd, 1024u * 1024 * 1024, raw);
	if (r < 0) {
		fprintf(stderr, "tickctl: import '%s': %s\n", name,
		        g_strerror(-r));
		return EX_IOERR;
	}
	r = ingest_mail(
	    c->qcfg ? c->qcfg : c->cfg, c->st, raw->data, raw->len, &src,
	    c->at ? c->at : g_get_real_time() / G_USEC_PER_SEC, &out);
	if (r < 0) {
		fprintf(stderr, "tickctl: import '%s': %s\n", name,
		        store_error(c->st));
		return err_is_transient(r) || r == -ENOTCONN ? EX_TEMPFAIL
		                                             : EX_SOFTWARE;
	}
	if (out.kind == INGEST_QUARANTINED)
		/* stored all the same: an MTA must not retry or bounce it */
		fprintf(stderr, "tickctl: import '%s': quarantined: %s\n", name,
		        out.error);
	if (c->json)
		printf("{\"file\":\"%s\",\"result\":\"%s\",\"ticket\":"
		       "%" G_GINT64_FORMAT
		       ",\"acknowledged\":%s,\"class\":\"%s\"}\n",
		       name, ingest_kind_name(out.kind), out.ticket,
		       out.acknowledged ? "true" : "false", out.cls);
	else
		printf("%s: %s %" G_GINT64_FORMAT "%s\n", name,
		       ingest_kind_name(out.kind), out.ticket,
		       out.acknowledged ? " (acknowledged)" : "");
	return EX_OK;
}

/* ctl_take_at - "--at WHEN" (unix seconds or ISO 8601 with a zone)
 * anywhere in argv: the instant import and tick act at, so that mail
 * from the past and business-day timers can be replayed (and tested)
 * without waiting.  Removes it from argv.  EX_OK or EX_USAGE. */
static int
ctl_take_at(struct ctl *c, int *argc, char **argv)
{
	for (int i = 0; i < *argc; i++) {
		g_autoptr(GDateTime) d = NULL;
		char *end = NULL;
		gint64 v;

		if (strcmp(argv[i], "--at") != 0)
			continue;
		if (i + 1 >= *argc) {
			fprintf(stderr, "tickctl: --at needs a time\n");
			return EX_USAGE;
		}
		v = g_ascii_strtoll(argv[i + 1], &end, 10);
		if (end && *end == '\0' && v > 0)
			c->at = v;
		else if ((d = g_date_time_new_from_iso8601(argv[i + 1],
		                                           NULL)) != NULL)
			c->at = g_date_time_to_unix(d);
		else {
			fprintf(stderr,
			        "tickctl: --at '%s': not unix seconds or ISO "
			        "8601 with a zone\n",
			        argv[i + 1]);
			return EX_USAGE;
		}
		memmove(&argv[i], &argv[i + 2],
		        (size_t)(*argc - i - 2) * sizeof(char *));
		*argc -= 2;
		i--;
	}
	return EX_OK;
}

/* ctl_import_history - `import --history PATH...`: the summary on stdout
 * (JSON with --json), the progress line on stderr when it is a terminal.
 * 0 when every mail was stored or a duplicate, 65 when some failed (the
 * others are stored), 75 when the database went away (run again: what
 * was committed is skipped). */
static int
ctl_import_history(struct ctl *c, int argc, char **argv)
{
	struct history_stats s;
	int r;

	if (argc == 0) {
		fprintf(stderr, "usage: tickctl import --history [--queue Q] "
		                "MBOX|MAILDIR|FILE...\n");
		return EX_USAGE;
	}
	r = history_import(c->qcfg ? c->qcfg : c->cfg, c->st, argv, argc,
	                   isatty(STDERR_FILENO) && isatty(STDOUT_FILENO), &s);
	if (c->json)
		printf("{\"total\":%" G_GINT64_FORMAT
		       ",\"imported\":%" G_GINT64_FORMAT
		       ",\"duplicates\":%" G_GINT64_FORMAT
		       ",\"machine\":%" G_GINT64_FORMAT
		       ",\"failed\":%" G_GINT64_FORMAT
		       ",\"seconds\":%.3f,\"complete\":%s}\n",
		       s.total, s.imported, s.duplicates, s.machine, s.failed,
		       s.seconds, r == 0 ? "true" : "false");
	else
		printf("import --history: %" G_GINT64_FORMAT
		       " mails in %.1f s (%.0f/s): %" G_GINT64_FORMAT
		       " imported, %" G_GINT64_FORMAT
		       " duplicates, %" G_GINT64_FORMAT
		       " machine mail, %" G_GINT64_FORMAT " failed\n",
		       s.total, s.seconds,
		       s.seconds > 0 ? (double)(s.imported + s.duplicates +
		                                s.machine + s.failed) /
		                           s.seconds
		                     : 0.0,
		       s.imported, s.duplicates, s.machine, s.failed);
	for (guint i = 0; i < s.failures->len; i++)
		fprintf(stderr, "tickctl: import --history: failed: %s\n",
		        (char *)s.failures->pdata[i]);
	if ((gint64)s.failures->len < s.failed)
		fprintf(stderr,
		        "tickctl: import --history: ... and %" G_GINT64_FORMAT
		        " more failed\n",
		        s.failed - (gint64)s.failures->len);
	history_stats_clear(&s);
	if (r == -ENOENT || r == -ENOTDIR || r == -EIO || r == -EACCES)
		return EX_NOINPUT;
	if (r < 0) {
		fprintf(stderr,
		        "tickctl: import --history: stopped: %s; run it again "
		        "to go on (stored mails are skipped)\n",
		        store_error(c->st));
		return EX_TEMPFAIL;
	}
	return s.failed > 0 ? EX_DATAERR : EX_OK;
}

static int
ctl_import(struct ctl *c, int argc, char **argv)
{
	int rc = ctl_open(c, true, true);
	bool history = false;

	/* An MTA bounces on 69 but retries on 75: a database that is down
	 * must not lose the mail. */
	if (rc == EX_UNAVAILABLE)
		return EX_TEMPFAIL;
	if (rc != EX_OK)
		return rc;
	if (argc >= 1 && strcmp(argv[0], "--history") == 0) {
		history = true;
		argc--;
		argv++;
	}
	if ((rc = ctl_take_at(c, &argc, argv)) != EX_OK)
		return rc;
	if (argc >= 2 && strcmp(argv[0], "--queue") == 0) {
		const struct cfg_queue *q = cfg_queue_by_name(c->cfg, argv[1]);
		if (q == NULL) {
			fprintf(stderr, "tickctl: no queue '%s'\n", argv[1]);
			return EX_USAGE;
		}
		c->qcfg = q->view;
		argc -= 2;
		argv += 2;
	} else if (c->cfg->queues->len > 0) {
		/* the first queue, as before queues existed */
		c->qcfg =
		    ((const struct cfg_queue *)c->cfg->queues->pdata[0])->view;
	}
	if (argc >= 1 && strcmp(argv[0], "--history") == 0) {
		history = true;
		argc--;
		argv++;
	}
	mime_init();
	if (history)
		return ctl_import_history(c, argc, argv);
	if (argc == 0)
		return ctl_import_one(c, "-", STDIN_FILENO);
	for (int i = 0; i < argc && rc == EX_OK; i++) {
		int fd = open(argv[i], O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			fprintf(stderr, "tickctl: import '%s': %s\n", argv[i],
			        g_strerror(errno));
			return EX_NOINPUT;
		}
		rc = ctl_import_one(c, argv[i], fd);
		close(fd);
	}
	return rc;
}

/* ctl_tick - tickctl tick [--at WHEN]: one lifecycle pass (pending
 * reminders, auto-close) at WHEN or now; the daemon runs it every minute.
 * With --at, business-day timers can be tested and caught up at once. */
static int
ctl_tick(struct ctl *c, int argc, char **argv)
{
	int rc = ctl_open(c, true, true), r, e = 0;
	gint64 now;

	if (rc != EX_OK)
		return rc;
	if ((rc = ctl_take_at(c, &argc, argv)) != EX_OK)
		return rc;
	if (argc != 0) {
		ctl_usage(stderr);
		return EX_USAGE;
	}
	mime_init(); /* the reminders are built with GMime */
	now = c->at ? c->at : g_get_real_time() / G_USEC_PER_SEC;
	r = lifecycle_tick(c->cfg, c->st, now);
	/* and the SLA clocks: escalations and warnings due at WHEN */
	if (r >= 0 && (e = escalate_tick(c->cfg, c->st, now, NULL)) < 0)
		r = e;
	if (r < 0) {
		fprintf(stderr, "tickctl: tick: %s\n", store_error(c->st));
		return EX_TEMPFAIL;
	}
	printf("tick: %d ticket(s) moved on, %d SLA mail(s) queued\n", r, e);
	return EX_OK;
}

/* ctl_exit - the sysexits code for a store error. */
static int
ctl_exit(int r)
{
	if (r >= 0)
		return EX_OK;
	if (r == -ENOENT)
		return EX_NOINPUT;
	if (err_is_transient(r))
		return r == -ENOTCONN ? EX_UNAVAILABLE : EX_TEMPFAIL;
	return EX_SOFTWARE;
}

static int
ctl_print_json(int r, GString *out)
{
	if (r < 0) /* -ENOENT: the caller names what was not found */
		return ctl_exit(r);
	fputs(out->str, stdout);
	fputc('\n', stdout);
	return EX_OK;
}

/* ctl_table - print t as aligned columns with a header; "-" for NULL. */
static void
ctl_table(const struct store_table *t, const char *empty)
{
	g_autofree int *w = g_new0(int, t->cols->len);

	if (t->rows->len == 0) {
		printf("%s\n", empty);
		return;
	}
	for (guint c = 0; c < t->cols->len; c++)
		w[c] = (int)g_utf8_strlen(t->cols->pdata[c], -1);
	for (guint r = 0; r < t->rows->len; r++) {
		GPtrArray *row = t->rows->pdata[r];
		for (guint c = 0; c < row->len; c++) {
			const char *v = row->pdata[c] ? row->pdata[c] : "-";
			w[c] = MAX(w[c], (int)g_utf8_strlen(v, -1));
		}
	}
	for (guint c = 0; c < t->cols->len; c++) {
		g_autofree char *h = g_ascii_strup(t->cols->pdata[c], -1);
		printf("%s%-*s", c ? "  " : "", c + 1 < t->cols->len ? w[c] : 0,
		       h);
	}
	putchar('\n');
	for (guint r = 0; r < t->rows->len; r++) {
		GPtrArray *row = t->rows->pdata[r];
		for (guint c = 0; c < row->len; c++) {
			const char *v = row->pdata[c] ? row->pdata[c] : "-";
			/* %-*s pads by bytes: add what UTF-8 takes extra. */
			int pad =
			    w[c] + (int)strlen(v) - (int)g_utf8_strlen(v, -1);
			printf("%s%-*s", c ? "  " : "",
			       c + 1 < row->len ? pad : 0, v);
		}
		putchar('\n');
	}
}

/* ctl_arg - the value of option argv[*i] ("--status S"); NULL and a
 * message when it is missing. */
static const char *
ctl_arg(int argc, char **argv, int *i)
{
	if (*i + 1 >= argc ||
	    (argv[*i + 1][0] == '-' && argv[*i + 1][1] != '\0')) {
		fprintf(stderr, "tickctl: %s needs a value\n", argv[*i]);
		return NULL;
	}
	return argv[++*i];
}

static bool
ctl_one_of(const char *v, const char *const *allowed)
{
	for (; *allowed; allowed++)
		if (strcmp(v, *allowed) == 0)
			return true;
	return false;
}

static const char *const ctl_statuses[] = {"new",      "open",   "pending",
                                           "resolved", "closed", NULL};
static const char *const ctl_priorities[] = {"low", "normal", "high", "urgent",
                                             NULL};

static int
ctl_tickets(struct ctl *c, int argc, char **argv)
{
	g_autoptr(GString) out = g_string_new(NULL);
	struct store_ticket_filter f = {0};
	struct store_table t;
	int rc, r;

	for (int i = 0; i < argc; i++) {
		const char **dst = NULL;
		if (strcmp(argv[i], "--json") == 0)
			continue;
		if (strcmp(argv[i], "--breached") == 0) {
			f.breached = true; /* as of the last SLA tick */
			continue;
		}
		if (strcmp(argv[i], "--status") == 0)
			dst = &f.status;
		else if (strcmp(argv[i], "--queue") == 0)
			dst = &f.queue;
		else if (strcmp(argv[i], "--priority") == 0)
			dst = &f.priority;
		else if (strcmp(argv[i], "--assignee") == 0)
			dst = &f.assignee;
		else if (strcmp(argv[i], "--requester") == 0)
			dst = &f.requester;
		else {
			fprintf(stderr,
			        "tickctl: tickets: unknown option "
			        "'%s'\n",
			        argv[i]);
			return EX_USAGE;
		}
		if ((*dst = ctl_arg(argc, argv, &i)) == NULL)
			return EX_USAGE;
	}
	if (f.status && !ctl_one_of(f.status, ctl_statuses)) {
		fprintf(stderr,
		        "tickctl: status '%s' is not new, open, "
		        "pending, resolved or closed\n",
		        f.status);
		return EX_DATAERR;
	}
	if (f.priority && !ctl_one_of(f.priority, ctl_priorities)) {
		fprintf(stderr,
		        "tickctl: priority '%s' is not low, normal, "
		        "high or urgent\n",
		        f.priority);
		return EX_DATAERR;
	}
	if ((rc = ctl_open(c, false, true)) != EX_OK)
		return rc;
	if (c->json)
		return ctl_print_json(
		    store_tickets_list(c->st, &f, NULL, out, false), out);
	store_table_init(&t);
	r = store_tickets_list(c->st, &f, &t, NULL, false);
	if (r == 0)
		ctl_table(&t, "no tickets");
	store_table_clear(&t);
	return ctl_exit(r);
}

/* ctl_id - a ticket or outbox number from s; 0 (and a message) if bad. */
static gint64
ctl_id(const char *s)
{
	char *end;
	gint64 id = g_ascii_strtoll(s, &end, 10);

	if (*s == '\0' || *end != '\0' || id <= 0) {
		fprintf(stderr, "tickctl: '%s' is not a number\n", s);
		return 0;
	}
	return id;
}

static int
ctl_ticket(struct ctl *c, int argc, char **argv)
{
	g_autoptr(GString) out = g_string_new(NULL);
	gint64 id;
	int rc;

	if (argc < 1 || (id = ctl_id(argv[0])) == 0) {
		ctl_usage(stderr);
		return EX_USAGE;
	}
	if ((rc = ctl_open(c, false, true)) != EX_OK)
		return rc;
	/* The text view is the pretty JSON: every field, readable. */
	rc = ctl_print_json(store_ticket_json(c->st, id, out, !c->json), out);
	if (rc == EX_NOINPUT)
		fprintf(stderr, "tickctl: no ticket %" G_GINT64_FORMAT "\n",
		        id);
	return rc;
}

/* ctl_actor - who is changing tickets, for the audit trail: the admin
 * behind sudo, else the login, as "tickctl:NAME". */
static char *
ctl_actor(void)
{
	const char *u = getenv("SUDO_USER");

	if (u == NULL || *u == '\0')
		u = getenv("USER");
	if (u == NULL || *u == '\0')
		u = getenv("LOGNAME");
	if (u == NULL || *u == '\0') {
		/* cron, systemd-run: no login variables, but a uid */
		const struct passwd *pw = getpwuid(getuid());
		u = pw ? pw->pw_name : NULL;
	}
	return u && *u ? g_strdup_printf("tickctl:%s", u) : g_strdup("tickctl");
}

enum ctl_change { CTL_CLOSE, CTL_ASSIGN, CTL_PRIORITY, CTL_NOTE };

static const char *const ctl_change_names[] = {"close", "assign", "priority",
                                               "note"};

/* ctl_change_args - check the words after the command: the ticket number
 * into *id_r, a note's text into *value_r.  EX_OK, EX_USAGE or
 * EX_DATAERR (after a message). */
static int
ctl_change_args(enum ctl_change what, int argc, char **argv, gint64 *id_r,
                char **value_r)
{
	if (argc < 1 || (*id_r = ctl_id(argv[0])) == 0 ||
	    (what == CTL_CLOSE && argc != 1) ||
	    ((what == CTL_ASSIGN || what == CTL_PRIORITY) && argc != 2) ||
	    (what == CTL_NOTE && argc < 2)) {
		fprintf(stderr, "usage: tickctl %s N%s\n",
		        ctl_change_names[what],
		        what == CTL_ASSIGN     ? " ADDRESS|-"
		        : what == CTL_PRIORITY ? " low|normal|high|urgent"
		        : what == CTL_NOTE     ? " TEXT..."
		                               : "");
		return EX_USAGE;
	}
	if (what == CTL_PRIORITY && !ctl_one_of(argv[1], ctl_priorities)) {
		fprintf(stderr,
		        "tickctl: priority '%s' is not low, normal, "
		        "high or urgent\n",
		        argv[1]);
		return EX_DATAERR;
	}
	if (what == CTL_NOTE) {
		*value_r = g_strjoinv(" ", argv + 1);
		if (!g_utf8_validate(*value_r, -1, NULL) ||
		    *g_strstrip(*value_r) == '\0') {
			fprintf(stderr, "tickctl: note: empty or not UTF-8\n");
			return EX_DATAERR;
		}
	}
	return EX_OK;
}

/* ctl_change_assignee - only people of the config: a typo must not park
 * a ticket with nobody.  Their address into *value_r, or EX_DATAERR. */
static int
ctl_change_assignee(const struct ctl *c, const char *who, char **value_r)
{
	const struct cfg_person *p = cfg_person(c->cfg, who);

	if (p == NULL) {
		fprintf(stderr, "tickctl: '%s' is not in people of %s\n", who,
		        c->cfg->path);
		return EX_DATAERR;
	}
	*value_r = g_strdup(p->address);
	return EX_OK;
}

/* ctl_change_apply - the change itself, inside the transaction: the
 * event's action into *action_r, its value into *value, and whether the
 * ticket already was so into *noop_r.  0 or -errno. */
static int
ctl_change_apply(struct ctl *c, enum ctl_change what, gint64 id,
                 const struct store_ticket *t, char **argv, char **value,
                 const char **action_r, bool *noop_r)
{
	g_autofree char *old_assignee = NULL;
	int r;

	switch (what) {
	case CTL_CLOSE:
		*action_r = "status";
		*value = g_strdup("closed");
		*noop_r = strcmp(t->status, "closed") == 0;
		if (*noop_r)
			return 0;
		return store_ticket_set_status(
		    c->st, id, "closed", g_get_real_time() / G_USEC_PER_SEC);
	case CTL_ASSIGN:
		*action_r = "assign";
		if ((r = store_ticket_assignee(c->st, id, &old_assignee)) < 0)
			return r;
		*noop_r = g_strcmp0(old_assignee, *value) == 0;
		if (*noop_r)
			return 0;
		return store_ticket_set_field(c->st, id, "assignee", *value);
	case CTL_PRIORITY:
		*action_r = "priority";
		*value = g_strdup(argv[1]);
		*noop_r = strcmp(t->priority, *value) == 0;
		if (*noop_r)
			return 0;
		return store_ticket_set_field(c->st, id, "priority", *value);
	case CTL_NOTE:
		*action_r = "note";
		*noop_r = false;
		return 0;
	}
	return -EINVAL;
}

/*
 * ctl_change - close/assign/priority/note N ...: the change and its event
 * row (actor, action status|assign|priority|note, detail) in one
 * transaction, like an agent's mail command.
 */
static int
ctl_change(struct ctl *c, enum ctl_change what, int argc, char **argv)
{
	struct store_ticket t = {0};
	g_autofree char *actor = ctl_actor();
	g_autofree char *value = NULL;
	const char *action = NULL;
	gint64 id = 0;
	int rc, r;
	bool noop = false;

	if ((rc = ctl_change_args(what, argc, argv, &id, &value)) != EX_OK)
		return rc;
	if ((rc = ctl_open(c, false, true)) != EX_OK)
		return rc;
	if (what == CTL_ASSIGN && strcmp(argv[1], "-") != 0 &&
	    (rc = ctl_change_assignee(c, argv[1], &value)) != EX_OK)
		return rc;
	if ((r = store_begin(c->st)) < 0)
		return ctl_exit(r);
	/* a merged ticket's number means its survivor, as in mail */
	if ((r = store_ticket_resolve(c->st, id, &t)) < 0)
		goto fail;
	if (t.id != id) {
		fprintf(stderr,
		        "tickctl: ticket %" G_GINT64_FORMAT
		        " was merged into %" G_GINT64_FORMAT
		        "; changing %" G_GINT64_FORMAT "\n",
		        id, t.id, t.id);
		id = t.id;
	}
	if ((r = ctl_change_apply(c, what, id, &t, argv, &value, &action,
	                          &noop)) < 0)
		goto fail;
	if (!noop && (r = store_event_add(c->st, id, actor, action,
	                                  value ? value : "-", 0)) < 0)
		goto fail;
	if ((r = store_commit(c->st)) < 0)
		goto fail;
	if (noop)
		printf("ticket %" G_GINT64_FORMAT ": %s is already %s\n", id,
		       action, value ? value : "nobody");
	else
		printf(
		    "ticket %" G_GINT64_FORMAT ": %s %s (by %s)\n", id, action,
		    what == CTL_NOTE ? "added" : (value ? value : "-"), actor);
	store_ticket_clear(&t);
	return EX_OK;
fail:
	store_rollback(c->st);
	store_ticket_clear(&t);
	if (r == -ENOENT)
		fprintf(stderr, "tickctl: no ticket %" G_GINT64_FORMAT "\n",
		        id);
	return ctl_exit(r);
}

/*
 * ctl_merge - merge A B: ticket A into B in one transaction (store_merge:
 * mails, participants, events, outbox and search rows move, A is closed
 * and stays an alias of B, an event on both).  A refusal (itself, an
 * already merged ticket) is EX_DATAERR with the reason.
 */
static int
ctl_merge(struct ctl *c, int argc, char **argv)
{
	g_autofree char *actor = ctl_actor();
	char why[160];
	gint64 from, into;
	int rc, r, n = 0;

	if (argc != 2 || (from = ctl_id(argv[0])) == 0 ||
	    (into = ctl_id(argv[1])) == 0) {
		fprintf(stderr, "usage: tickctl merge A B  (A into B)\n");
		return EX_USAGE;
	}
	if ((rc = ctl_open(c, false, true)) != EX_OK)
		return rc;
	if ((r = store_begin(c->st)) < 0)
		return ctl_exit(r);
	r = store_merge(c->st, from, into, actor, 0,
	                g_get_real_time() / G_USEC_PER_SEC, why, sizeof(why),
	                &n);
	if (r == 0)
		r = store_commit(c->st);
	if (r < 0) {
		store_rollback(c->st);
		if (r == -EINVAL || r == -ENOENT)
			fprintf(stderr, "tickctl: merge: %s\n", why);
		return r == -EINVAL ? EX_DATAERR : ctl_exit(r);
	}
	printf("ticket %" G_GINT64_FORMAT " merged into %" G_GINT64_FORMAT
	       " (%d mails moved, by %s)\n",
	       from, into, n, actor);
	return EX_OK;
}

static int
ctl_outbox(struct ctl *c, int argc, char **argv)
{
	g_autoptr(GString) out = g_string_new(NULL);
	g_autofree char *actor = ctl_actor();
	g_autofree char *detail = NULL;
	struct store_table t;
	gint64 retry = 0, ticket = 0;
	bool all = false;
	int rc, r;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			continue;
		if (strcmp(argv[i], "--all") == 0)
			all = true;
		else if (strcmp(argv[i], "--retry") == 0 && i + 1 < argc) {
			if ((retry = ctl_id(argv[++i])) == 0)
				return EX_USAGE;
		} else {
			fprintf(stderr,
			        "usage: tickctl outbox [--all] [--json] "
			        "[--retry ID]\n");
			return EX_USAGE;
		}
	}
	if ((rc = ctl_open(c, false, true)) != EX_OK)
		return rc;
	if (retry == 0) {
		enum store_view v =
		    all ? STORE_VIEW_OUTBOX_ALL : STORE_VIEW_OUTBOX_PENDING;
		if (c->json)
			return ctl_print_json(
			    store_view(c->st, v, NULL, out, false), out);
		store_table_init(&t);
		r = store_view(c->st, v, &t, NULL, false);
		if (r == 0)
			ctl_table(&t, all ? "outbox is empty"
			                  : "nothing waiting or failed");
		store_table_clear(&t);
		return ctl_exit(r);
	}
	if ((r = store_begin(c->st)) < 0)
		return ctl_exit(r);
	r = store_outbox_requeue(c->st, retry, &ticket);
	if (r == 0 && ticket > 0) {
		detail = g_strdup_printf("outbox %" G_GINT64_FORMAT, retry);
		r = store_event_add(c->st, ticket, actor, "retry", detail, 0);
	}
	if (r == 0)
		r = store_commit(c->st);
	if (r < 0)
		store_rollback(c->st);
	switch (r) {
	case 0:
		printf("outbox %" G_GINT64_FORMAT ": queued, due now\n", retry);
		return EX_OK;
	case -ENOENT:
		fprintf(stderr,
		        "tickctl: no outbox mail %" G_GINT64_FORMAT "\n",
		        retry);
		return EX_NOINPUT;
	case -EALREADY:
		fprintf(stderr,
		        "tickctl: outbox %" G_GINT64_FORMAT " is sent "
		        "or being sent\n",
		        retry);
		return EX_DATAERR;
	case -EPERM:
		fprintf(stderr,
		        "tickctl: outbox %" G_GINT64_FORMAT " was "
		        "suppressed (the address bounced); not "
		        "sending it\n",
		        retry);
		return EX_DATAERR;
	default:
		return ctl_exit(r);
	}
}

/* ctl_status_queues - the configured queues; their fetch
 * state is in the mailboxes table as "queue:folder". */
static void
ctl_status_queues(const struct ctl *c)
{
	static const char *const cols[] = {
	    "queue", "user", "folders", "tag", "ack", "templates", "retention"};
	struct store_table t;

	store_table_init(&t);
	for (size_t i = 0; i < ARRAY_SIZE(cols); i++)
		g_ptr_array_add(t.cols, g_strdup(cols[i]));
	for (guint i = 0; i < c->cfg->queues->len; i++) {
		const struct cfg_queue *q = c->cfg->queues->pdata[i];
		GPtrArray *row = g_ptr_array_new_with_free_func(g_free);

		g_ptr_array_add(row, g_strdup(q->name));
		g_ptr_array_add(row, g_strdup(q->user));
		g_ptr_array_add(row, q->sent_mailbox
		                         ? g_strdup_printf("%s, %s", q->mailbox,
		                                           q->sent_mailbox)
		                         : g_strdup(q->mailbox));
		g_ptr_array_add(row, g_strdup(q->subject_tag));
		g_ptr_array_add(row, g_strdup(q->acknowledge ? "yes" : "no"));
		g_ptr_array_add(row, g_strdup_printf("%s/%s", q->template_set,
		                                     q->language));
		g_ptr_array_add(
		    row, q->retention_days > 0
		             ? g_strdup_printf("%d days", q->retention_days)
		             : NULL);
		g_ptr_array_add(t.rows, row);
	}
	printf("queues:\n");
	ctl_table(&t, "none");
	store_table_clear(&t);
}

/* ctl_first_run_what - what imap.first_run does with present mail. */
static const char *
ctl_first_run_what(const struct cfg *v, char *buf, size_t len)
{
	switch (v->imap.first_run) {
	case CFG_FIRST_HISTORY:
		if (v->imap.first_run_age > 0)
			snprintf(
			    buf, len,
			    "history: mail older than %d s stored as closed "
			    "history, nothing sent; younger mail is new",
			    v->imap.first_run_age);
		else
			snprintf(buf, len,
			         "history: stored as closed history, "
			         "nothing sent");
		break;
	case CFG_FIRST_NEW:
		snprintf(
		    buf, len,
		    "new: handled as new mail; no acknowledgement for mail "
		    "older than %d s (limits.max_mail_age)",
		    v->limits.max_mail_age);
		break;
	case CFG_FIRST_SKIP:
		snprintf(buf, len, "skip: left on the server, not imported");
		break;
	}
	return buf;
}

/*
 * ctl_first_run_unpolled - the status line of a folder never polled: how
 * many mails wait, asked of the IMAP server with the secrets of sc (the
 * configuration read again with its password files; NULL when that failed,
 * errors says why).  Newly allocated.
 */
static char *
ctl_first_run_unpolled(const struct cfg *sc, guint i, const char *folder,
                       const char *key, const char *what,
                       const GPtrArray *errors)
{
	const struct cfg *sv;
	struct imap_params ip;
	struct imap_status ist;
	struct imap *im;
	char *line;

	if (sc == NULL || i >= sc->queues->len)
		return g_strdup_printf(
		    "%s: not polled yet (cannot count "
		    "its mail: %s); first run: %s",
		    key, errors->len ? (char *)errors->pdata[0] : "no password",
		    what);
	sv = ((const struct cfg_queue *)sc->queues->pdata[i])->view;
	ip = (struct imap_params){
	    .url = sv->imap.url,
	    .user = sv->imap.user,
	    .password = sv->imap.password,
	    .starttls = sv->imap.starttls,
	    .connect_timeout = 10,
	    .timeout = 20,
	};
	im = imap_new(&ip);
	if (imap_status(im, folder, &ist) == 0)
		line = g_strdup_printf("%s: not polled yet, %u "
		                       "mails wait; first run: %s",
		                       key, ist.messages, what);
	else
		line = g_strdup_printf("%s: not polled yet (IMAP "
		                       "STATUS failed: %s); first "
		                       "run: %s",
		                       key, imap_error(im), what);
	imap_free(&im);
	return line;
}

/* ctl_status_first_run - mailboxes tickd has not polled yet: how many
 * mails wait in them (an IMAP STATUS; the passwords are read only for
 * this) and what imap.first_run will do with them; and first runs still
 * going on.  A line per such mailbox; nothing when there is none. */
static int
ctl_status_first_run(struct ctl *c)
{
	g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
	struct cfg *sc = NULL;
	bool header = false, secrets_tried = false;
	char what[160];
	int r = 0;

	for (guint i = 0; i < c->cfg->queues->len && r >= 0; i++) {
		const struct cfg *v =
		    ((const struct cfg_queue *)c->cfg->queues->pdata[i])->view;
		const char *folders[] = {v->imap.mailbox, v->imap.sent_mailbox};
		for (int f = 0; f < 2; f++) {
			g_autofree char *key = NULL, *line = NULL;
			struct store_cursor cur = {0};
			if (folders[f] == NULL || *folders[f] == '\0')
				continue;
			key = g_strdup_printf("%s:%s", v->tickets.queue,
			                      folders[f]);
			r = store_cursor_get(c->st, key, &cur);
			if (r < 0 && r != -ENOENT)
				break;
			ctl_first_run_what(v, what, sizeof(what));
			if (r == 0 &&
			    !(cur.uidvalidity == 0 && cur.last_uid == 0)) {
				r = 0;
				if (cur.history_uid <= cur.last_uid + 1)
					continue;
				line = g_strdup_printf(
				    "%s: first run going on, uid "
				    "%" G_GINT64_FORMAT " of %" G_GINT64_FORMAT
				    "; %s",
				    key, cur.last_uid, cur.history_uid - 1,
				    what);
			} else {
				r = 0;
				if (!secrets_tried) {
					secrets_tried = true;
					if (cfg_load(c->config_path, true, &sc,
					             errors) < 0)
						sc = NULL;
				}
				line = ctl_first_run_unpolled(
				    sc, i, folders[f], key, what, errors);
			}
			if (!header)
				printf("\nfirst run:\n");
			header = true;
			printf("%s\n", line);
		}
	}
	cfg_free(&sc);
	return r;
}

static int
ctl_status(struct ctl *c)
{
	g_autoptr(GString) out = g_string_new(NULL);
	static const struct {
		enum store_view v;
		const char *title, *empty;
	} parts[] = {
	    {STORE_VIEW_MAILBOXES, "mailboxes", "no mailbox fetched yet"},
	    {STORE_VIEW_OUTBOX, "outbox", ""},
	    {STORE_VIEW_CONNECTIONS, "connections", "none recorded yet"},
	    {STORE_VIEW_SUPPRESSED, "suppressed addresses", "none"},
	    {STORE_VIEW_REVIEW, "review (tickctl quarantine)", ""},
	};
	int rc = ctl_open(c, false, true), r = 0;

	if (rc != EX_OK)
		return rc;
	if (c->json)
		return ctl_print_json(store_status_json(c->st, out, false),
		                      out);
	ctl_status_queues(c);
	if ((r = ctl_status_first_run(c)) < 0)
		return ctl_exit(r);
	for (size_t i = 0; i < ARRAY_SIZE(parts) && r == 0; i++) {
		struct store_table t;
		store_table_init(&t);
		r = store_view(c->st, parts[i].v, &t, NULL, false);
		if (r == 0) {
			printf("\n%s:\n", parts[i].title);
			ctl_table(&t, parts[i].empty);
		}
		store_table_clear(&t);
	}
	return ctl_exit(r);
}

/* ctl_quarantine - `tickctl quarantine [--json]` lists the mails that
 * could not be stored; `tickctl quarantine raw ID` writes one's raw bytes
 * to stdout, to look at or to import again once the cause is fixed. */
static int
ctl_quarantine(struct ctl *c, int argc, char **argv)
{
	g_autoptr(GString) out = g_string_new(NULL);
	g_autoptr(GBytes) raw = NULL;
	struct store_table t;
	gint64 id;
	int rc, r;

	if (argc > 0 && (strcmp(argv[0], "raw") != 0 || argc != 2 ||
	                 (id = ctl_id(argv[1])) == 0)) {
		fprintf(stderr, "usage: tickctl quarantine [--json] | "
		                "quarantine raw ID\n");
		return EX_USAGE;
	}
	if ((rc = ctl_open(c, false, true)) != EX_OK)
		return rc;
	if (argc > 0) {
		gsize n;
		const void *p;
		if ((r = store_quarantine_raw(c->st, id, &raw)) == -ENOENT)
			fprintf(stderr,
			        "tickctl: no quarantined mail %" G_GINT64_FORMAT
			        "\n",
			        id);
		if (r < 0)
			return ctl_exit(r);
		p = g_bytes_get_data(raw, &n);
		return fwrite(p, 1, n, stdout) == n && fflush(stdout) == 0
		           ? EX_OK
		           : EX_IOERR;
	}
	if (c->json)
		return ctl_print_json(
		    store_quarantine_list(c->st, NULL, out, false), out);
	store_table_init(&t);
	r = store_quarantine_list(c->st, &t, NULL, false);
	if (r == 0)
		ctl_table(&t, "no quarantined mail");
	store_table_clear(&t);
	return ctl_exit(r);
}

/* ctl_breaker - `tickctl breaker reset`: an admin closes the circuit
 * breaker for automatic mail; the mail it held is due at once. */
static int
ctl_breaker(struct ctl *c, int argc, char **argv)
{
	g_autofree char *actor = NULL;
	int rc, r;

	if (argc < 1 || strcmp(argv[0], "reset") != 0) {
		fprintf(stderr, "usage: tickctl breaker reset\n");
		return EX_USAGE;
	}
	if ((rc = ctl_open(c, false, true)) != EX_OK)
		return rc;
	actor = ctl_actor(); /* the admin behind sudo, as for tickets */
	r = limit_breaker_reset(c->st, actor);
	if (r < 0) {
		fprintf(stderr, "tickctl: breaker reset: %s\n",
		        store_error(c->st));
		return EX_TEMPFAIL;
	}
	printf("breaker: %s\n", r > 0 ? "was open, now closed; held mail is due"
	                              : "was not open");
	return EX_OK;
}

static int
ctl_init_secret(struct ctl *c)
{
	guint8 key[32];
	char hex[65];
	g_autofree char *spath = NULL;
	const char *path;
	int fd;
	FILE *f;

	/* Loaded without secrets: the secret is missing, that is why we
	 * are here. */
	int rc = ctl_open(c, false, false);

	if (rc != EX_OK)
		return rc;
	/* a bare name: see ctl_credentials_dir */
	if (strchr(c->cfg->tickets.secret_file, '/') == NULL)
		path = spath =
		    g_build_filename(getenv("CREDENTIALS_DIRECTORY"),
		                     c->cfg->tickets.secret_file, NULL);
	else
		path = c->cfg->tickets.secret_file;
	if (access(path, F_OK) == 0) {
		fprintf(stderr,
		        "tickctl: '%s' exists; not overwriting it "
		        "(that would break every reference in "
		        "mails already sent)\n",
		        path);
		return EX_CANTCREAT;
	}
	if (getentropy(key, sizeof(key)) < 0) {
		perror("tickctl: getentropy");
		return EX_OSERR;
	}
	for (size_t i = 0; i < sizeof(key); i++)
		g_snprintf(hex + 2 * i, 3, "%02x", key[i]);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		fprintf(stderr, "tickctl: create '%s': %s\n", path,
		        g_strerror(errno));
		return EX_CANTCREAT;
	}
	fprintf(f, "%s\n", hex);
	if (fflush(f) != 0 || fsync(fd) != 0 || fclose(f) != 0) {
		fprintf(stderr, "tickctl: write '%s': %s\n", path,
		        g_strerror(errno));
		return EX_IOERR;
	}
	explicit_bzero(key, sizeof(key));
	explicit_bzero(hex, sizeof(hex));
	printf("init-secret: wrote %s (mode 0600)\n", path);
	return EX_OK;
}

/*
 * ctl_credentials_dir - credential files named without a '/' are looked up
 * in $CREDENTIALS_DIRECTORY (systemd LoadCredential=).  An admin's shell
 * has none: there the names mean files next to the config, which is where
 * the unit's LoadCredential= lines take them from (/etc/tickd).
 */
void
ctl_credentials_dir(const char *config_path)
{
	g_autofree char *dir = NULL;
	const char *cur = getenv("CREDENTIALS_DIRECTORY");

	if (cur != NULL && *cur != '\0')
		return;
	dir = g_path_get_dirname(config_path);
	(void)setenv("CREDENTIALS_DIRECTORY", dir, 1);
}

/* ctl_time - "YYYY-MM-DD" (00:00 UTC) or ISO 8601 (UTC when no zone). */
static int
ctl_time(const char *s, gint64 *t_r)
{
	g_autoptr(GTimeZone) utc = g_time_zone_new_utc();
	g_autoptr(GDateTime) d = NULL;
	g_autofree char *iso = NULL;

	if (strlen(s) == 10)
		iso = g_strconcat(s, "T00:00:00", NULL);
	d = g_date_time_new_from_iso8601(iso ? iso : s, utc);
	if (d == NULL)
		return -EINVAL;
	*t_r = g_date_time_to_unix(d);
	return 0;
}

/* ctl_report_html - the digest's page for [from, to) into path: the
 * same renderer as the managers' mail (digest_render). */
static int
ctl_report_html(struct ctl *c, const char *path, gint64 from, gint64 to,
                gint64 now, const char *queue)
{
	g_autoptr(GString) page = g_string_new(NULL);
	g_autoptr(GError) err = NULL;
	g_autoptr(GDateTime) f = g_date_time_new_from_unix_utc(from);
	g_autoptr(GDateTime) t = g_date_time_new_from_unix_utc(to);
	g_autofree char *fs = g_date_time_format(f, "%Y-%m-%d %H:%M");
	g_autofree char *ts = g_date_time_format(t, "%Y-%m-%d %H:%M");
	g_autofree char *title =
	    g_strdup_printf("[%s] Support report %s .. %s UTC",
	                    c->cfg->tickets.subject_tag, fs, ts);

	struct digest_scope sc = {.queues = queue};

	if (digest_render_page(c->cfg, c->st, from, to, now, &sc, title, page) <
	    0) {
		fprintf(stderr, "tickctl: report: %s\n", store_error(c->st));
		return EX_SOFTWARE;
	}
	if (!g_file_set_contents(path, page->str, (gssize)page->len, &err)) {
		fprintf(stderr, "tickctl: report: %s\n", err->message);
		return EX_CANTCREAT;
	}
	return EX_OK;
}

static int
ctl_report(struct ctl *c, int argc, char **argv)
{
	g_autoptr(GString) out = g_string_new(NULL);
	const char *queue = NULL, *agent = NULL, *html = NULL;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	gint64 from = 0, to = now;
	bool csv = false, have_from = false, unrolled = false;
	struct sla_policy pol;
	struct report *r = NULL;
	int rc;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		bool val = i + 1 < argc;

		if (strcmp(a, "--json") == 0)
			continue;
		if (strcmp(a, "--csv") == 0)
			csv = true;
		else if (strcmp(a, "--unrolled") == 0)
			unrolled = true; /* the reference computation */
		else if (strcmp(a, "--from") == 0 && val) {
			if (ctl_time(argv[++i], &from) < 0)
				goto bad_time;
			have_from = true;
		} else if (strcmp(a, "--to") == 0 && val) {
			if (ctl_time(argv[++i], &to) < 0)
				goto bad_time;
		} else if (strcmp(a, "--queue") == 0 && val)
			queue = argv[++i];
		else if (strcmp(a, "--agent") == 0 && val)
			agent = argv[++i];
		else if (strcmp(a, "--html") == 0 && val)
			html = argv[++i];
		else {
			fprintf(stderr,
			        "tickctl: report: unknown argument "
			        "'%s'\n",
			        a);
			return EX_USAGE;
		}
		continue;
	bad_time:
		fprintf(stderr,
		        "tickctl: report: '%s' is not a date "
		        "(YYYY-MM-DD, midnight UTC, or ISO 8601)\n",
		        argv[i]);
		return EX_USAGE;
	}
	if (!have_from)
		from = to - 7 * 86400;
	if (to <= from) {
		fprintf(stderr, "tickctl: report: --to must be after --from\n");
		return EX_USAGE;
	}
	if ((rc = ctl_open(c, false, true)) != EX_OK)
		return rc;
	if (html != NULL)
		return ctl_report_html(c, html, from, to, now, queue);
	/* the digest's own set-up: the same numbers for the same period */
	if (digest_report(c->cfg, c->st, from, to, queue, agent, NULL, unrolled,
	                  &pol, &r) < 0) {
		fprintf(stderr, "tickctl: report: %s\n", store_error(c->st));
		rc = EX_SOFTWARE;
		goto out;
	}
	if (c->json)
		report_json(r, out, false);
	else if (csv)
		report_csv(r, out);
	else
		report_table(r, out);
	fputs(out->str, stdout);
	if (c->json)
		fputc('\n', stdout);
	rc = EX_OK;
out:
	report_free(&r);
	return rc;
}

/*
 * ctl_search_args - read the search options and words into f; the words
 * are collected in words (f->words points into it).  EX_OK, or EX_USAGE
 * after telling stderr what is wrong.  Apart from ctl_search so the
 * command reads as parse, open, query.
 */
static int
ctl_search_args(int argc, char **argv, struct store_search_filter *f,
                GString *words)
{
	const char *v;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--kept") == 0) {
			f->kept = true;
			continue;
		}
		if (strcmp(a, "--queue") != 0 && strcmp(a, "--status") != 0 &&
		    strcmp(a, "--from") != 0 && strcmp(a, "--to") != 0 &&
		    strcmp(a, "--limit") != 0) {
			if (a[0] == '-' && a[1] == '-') {
				fprintf(stderr,
				        "tickctl: search: unknown option "
				        "'%s'\n",
				        a);
				return EX_USAGE;
			}
			g_string_append_printf(words, "%s%s",
			                       words->len ? " " : "", a);
			continue;
		}
		if ((v = ctl_arg(argc, argv, &i)) == NULL)
			return EX_USAGE;
		if (strcmp(a, "--queue") == 0)
			f->queue = v;
		else if (strcmp(a, "--status") == 0)
			f->status = v;
		else if (strcmp(a, "--limit") == 0) {
			char *end;
			gint64 l = g_ascii_strtoll(v, &end, 10);
			f->limit =
			    *end == '\0' && l >= 1 && l <= 1000 ? (int)l : 0;
			if (f->limit == 0) {
				fprintf(stderr, "tickctl: search: --limit "
				                "is 1..1000\n");
				return EX_USAGE;
			}
		} else if (ctl_time(v, strcmp(a, "--from") == 0 ? &f->from
		                                                : &f->to) < 0) {
			fprintf(stderr,
			        "tickctl: search: '%s' is not a date "
			        "(YYYY-MM-DD or ISO 8601)\n",
			        v);
			return EX_USAGE;
		}
	}
	/* a bounded query: the words reach PostgreSQL as one parameter */
	if (words->len > 1000) {
		fprintf(stderr, "tickctl: search: words too long\n");
		return EX_USAGE;
	}
	f->words = words->len ? words->str : NULL;
	if (f->words == NULL && !f->kept) {
		fprintf(stderr, "tickctl: search: what words?\n");
		return EX_USAGE;
	}
	if (f->status && (f->kept || !ctl_one_of(f->status, ctl_statuses))) {
		fprintf(stderr, "tickctl: search: --status is one of new, "
		                "open, pending, resolved, closed, and not "
		                "with --kept\n");
		return EX_USAGE;
	}
	return EX_OK;
}

/* ctl_search - search WORDS... [--queue Q] [--status S] [--from T]
 * [--to T] [--limit N] [--kept]: the words are every argument that is
 * not an option, joined by spaces. */
static int
ctl_search(struct ctl *c, int argc, char **argv)
{
	g_autoptr(GString) out = g_string_new(NULL);
	g_autoptr(GString) words = g_string_new(NULL);
	struct store_search_filter f = {.limit = 20};
	struct store_table t;
	int rc, r;

	if ((rc = ctl_search_args(argc, argv, &f, words)) != EX_OK)
		return rc;
	if ((rc = ctl_open(c, false, true)) != EX_OK)
		return rc;
	if (c->json)
		return ctl_print_json(store_search(c->st, &f, NULL, out, false),
		                      out);
	store_table_init(&t);
	r = store_search(c->st, &f, &t, NULL, false);
	if (r == 0)
		ctl_table(&t, f.kept ? "no stored mail without a ticket matches"
		                     : "no tickets match");
	store_table_clear(&t);
	return ctl_exit(r);
}

/* ---- retention and the data subject's rights ---- */

/* ctl_purge - purge [--queue Q]: every queue with retention_days (or Q). */
static int
ctl_purge(struct ctl *c, int argc, char **argv)
{
	g_autofree char *actor = ctl_actor();
	const char *only = NULL;
	int rc, r = 0, done = 0;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--queue") == 0) {
			if ((only = ctl_arg(argc, argv, &i)) == NULL)
				return EX_USAGE;
		} else {
			fprintf(stderr, "usage: tickctl purge [--queue Q] "
			                "[--json]\n");
			return EX_USAGE;
		}
	}
	if ((rc = ctl_open(c, false, true)) != EX_OK)
		return rc;
	if (only != NULL && cfg_queue_by_name(c->cfg, only) == NULL) {
		fprintf(stderr, "tickctl: no queue '%s' in %s\n", only,
		        c->cfg->path);
		return EX_DATAERR;
	}
	if (c->json)
		fputs("[", stdout);
	for (guint i = 0; i < c->cfg->queues->len && r == 0; i++) {
		const struct cfg_queue *q = c->cfg->queues->pdata[i];
		g_autoptr(GString) out = g_string_new(NULL);
		int days = q->retention_days;

		if (only != NULL && strcmp(only, q->name) != 0)
			continue;
		if (days <= 0) {
			if (!c->json)
				printf("purge: queue '%s' keeps tickets "
				       "forever (no retention_days)\n",
				       q->name);
			continue;
		}
		r = store_purge(c->st, q->name, days, actor, out);
		if (r < 0)
			break;
		log_notice("purge: queue '%s' (%d days): %s", q->name, days,
		           out->str);
		if (c->json)
			printf("%s%s", done++ ? "," : "", out->str);
		else
			printf("purge: queue '%s' (retention %d days): %s\n",
			       q->name, days, out->str);
	}
	if (c->json)
		puts("]");
	return ctl_exit(r);
}

/* ctl_address - argv[0] must be one address; lower-cased copy or NULL. */
static char *
ctl_address(int argc, char **argv, const char *cmd)
{
	if (argc < 1 || strchr(argv[0], '@') == NULL ||
	    strpbrk(argv[0], " \t\r\n<>,") != NULL) {
		fprintf(stderr, "usage: tickctl %s ADDRESS\n", cmd);
		return NULL;
	}
	return g_ascii_strdown(argv[0], -1);
}

static int
ctl_forget(struct ctl *c, int argc, char **argv)
{
	g_autofree char *addr = ctl_address(argc, argv, "forget");
	g_autofree char *actor = ctl_actor();
	g_autoptr(GString) out = g_string_new(NULL);
	int rc, r;

	if (addr == NULL || argc != 1)
		return EX_USAGE;
	if ((rc = ctl_open(c, false, true)) != EX_OK)
		return rc;
	if (cfg_person(c->cfg, addr) != NULL) {
		fprintf(stderr,
		        "tickctl: %s is an agent or manager in the "
		        "config; remove them from people first\n",
		        addr);
		return EX_DATAERR;
	}
	r = store_forget(c->st, addr, actor, out);
	if (r < 0)
		return ctl_exit(r);
	/* the log says that an erasure happened, not whom it concerned */
	log_notice("forget: erased one person: %s", out->str);
	if (c->json)
		puts(out->str);
	else
		printf("forget: erased: %s\n", out->str);
	return EX_OK;
}

struct ctl_eml {
	const char *dir;
	int n;
};

static int
ctl_write_private(const char *dir, const char *name, const void *data,
                  size_t len)
{
	g_autofree char *path = g_build_filename(dir, name, NULL);
	GError *err = NULL;

	if (!g_file_set_contents_full(path, data, (gssize)len,
	                              G_FILE_SET_CONTENTS_CONSISTENT, 0600,
	                              &err)) {
		fprintf(stderr, "tickctl: export: %s\n", err->message);
		g_error_free(err);
		return -EIO;
	}
	return 0;
}

static int
ctl_export_eml(gint64 id, const void *raw, size_t len, void *ud)
{
	struct ctl_eml *e = ud;
	g_autofree char *name =
	    g_strdup_printf("message-%" G_GINT64_FORMAT ".eml", id);
	int r = ctl_write_private(e->dir, name, raw, len);

	if (r == 0)
		e->n++;
	return r;
}

/* ctl_export - export ADDRESS [-o DIR]: JSON on stdout, or DIR/data.json
 * and DIR/message-N.eml (mode 0600: it is personal data). */
static int
ctl_export(struct ctl *c, int argc, char **argv)
{
	g_autofree char *addr = ctl_address(argc, argv, "export");
	g_autoptr(GString) out = g_string_new(NULL);
	const char *dir = NULL;
	struct ctl_eml e = {0};
	int rc, r;

	if (addr == NULL)
		return EX_USAGE;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-o") == 0 ||
		    strcmp(argv[i], "--output") == 0) {
			if ((dir = ctl_arg(argc, argv, &i)) == NULL)
				return EX_USAGE;
		} else {
			fprintf(stderr, "usage: tickctl export ADDRESS "
			                "[-o DIR]\n");
			return EX_USAGE;
		}
	}
	if ((rc = ctl_open(c, false, true)) != EX_OK)
		return rc;
	if ((r = store_export_json(c->st, addr, out)) < 0)
		return ctl_exit(r);
	if (dir == NULL) {
		puts(out->str);
		return EX_OK;
	}
	if (g_mkdir_with_parents(dir, 0700) < 0) {
		fprintf(stderr, "tickctl: export: %s: %s\n", dir,
		        g_strerror(errno));
		return EX_CANTCREAT;
	}
	g_string_append_c(out, '\n');
	if (ctl_write_private(dir, "data.json", out->str, out->len) < 0)
		return EX_IOERR;
	e.dir = dir;
	r = store_export_raw(c->st, addr, ctl_export_eml, &e);
	if (r < 0)
		return r == -EIO ? EX_IOERR : ctl_exit(r);
	printf("export: %s/data.json and %d mail(s) as .eml\n", dir, e.n);
	return EX_OK;
}

/* Commands with one signature, for the dispatch table. */
static int
ctl_cmd_migrate(struct ctl *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return ctl_migrate(c);
}

static int
ctl_cmd_status(struct ctl *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return ctl_status(c);
}

static int
ctl_cmd_init_secret(struct ctl *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return ctl_init_secret(c);
}

static int
ctl_cmd_close(struct ctl *c, int argc, char **argv)
{
	return ctl_change(c, CTL_CLOSE, argc, argv);
}

static int
ctl_cmd_assign(struct ctl *c, int argc, char **argv)
{
	return ctl_change(c, CTL_ASSIGN, argc, argv);
}

static int
ctl_cmd_priority(struct ctl *c, int argc, char **argv)
{
	return ctl_change(c, CTL_PRIORITY, argc, argv);
}

static int
ctl_cmd_note(struct ctl *c, int argc, char **argv)
{
	return ctl_change(c, CTL_NOTE, argc, argv);
}

/* The commands that open the config (and most the database). */
static const struct {
	const char *name;
	int (*fn)(struct ctl *c, int argc, char **argv);
} ctl_commands[] = {
    {"migrate", ctl_cmd_migrate},
    {"import", ctl_import},
    {"tickets", ctl_tickets},
    {"ticket", ctl_ticket},
    {"search", ctl_search},
    {"status", ctl_cmd_status},
    {"close", ctl_cmd_close},
    {"assign", ctl_cmd_assign},
    {"priority", ctl_cmd_priority},
    {"note", ctl_cmd_note},
    {"merge", ctl_merge}, /* A into B */
    {"outbox", ctl_outbox},
    {"breaker", ctl_breaker},
    {"init-secret", ctl_cmd_init_secret},
    {"purge", ctl_purge},
    {"forget", ctl_forget},
    {"export", ctl_export},
    {"report", ctl_report},
    {"quarantine", ctl_quarantine},
    {"tick", ctl_tick},
};

/* ctl_options - -c, -v, -h before the command; -1 to go on with argv[
 * optind] as the command, else the exit code. */
static int
ctl_options(struct ctl *c, int argc, char **argv, int *verbose)
{
	int opt;
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};

	/* '+': options stop at the command; its own options follow it. */
	while ((opt = getopt_long(argc, argv, "+c:vh", longopts, NULL)) != -1)
		switch (opt) {
		case 'c':
			c->config_path = optarg;
			break;
		case 'v':
			(*verbose)++;
			break;
		case 'h':
			ctl_usage(stdout);
			return EX_OK;
		default:
			ctl_usage(stderr);
			return EX_USAGE;
		}
	if (optind >= argc) {
		ctl_usage(stderr);
		return EX_USAGE;
	}
	return -1;
}

/* ctl_take_json - set c->json and drop every --json from argv: the
 * commands see only their own words.  The new argc. */
static int
ctl_take_json(struct ctl *c, int argc, char **argv)
{
	int n = 0;

	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], "--json") == 0)
			c->json = true;
		else
			argv[n++] = argv[i];
	return n;
}

int
ctl_main(int argc, char **argv)
{
	struct ctl c = {.config_path = cfg_default_path()};
	const char *cmd;
	int rc, verbose = 0;

	if ((rc = ctl_options(&c, argc, argv, &verbose)) >= 0)
		return rc;
	log_init(verbose ? LOGP_DEBUG : LOGP_WARNING);
	ctl_credentials_dir(c.config_path);
	cmd = argv[optind];
	argc -= optind + 1;
	argv += optind + 1;
	if (strcmp(cmd, "config-keys") == 0) {
		cfg_keys_print(stdout);
		return EX_OK;
	}
	if (strcmp(cmd, "corpus-report") == 0 || strcmp(cmd, "parse") == 0) {
		mime_init();
		return corpus_main(argc + 1, argv - 1); /* sees its --json */
	}
	argc = ctl_take_json(&c, argc, argv);
	rc = -1;
	for (size_t i = 0; i < ARRAY_SIZE(ctl_commands) && rc < 0; i++)
		if (strcmp(cmd, ctl_commands[i].name) == 0)
			rc = ctl_commands[i].fn(&c, argc, argv);
	if (rc < 0) {
		fprintf(stderr, "tickctl: unknown command '%s'\n", cmd);
		ctl_usage(stderr);
		rc = EX_USAGE;
	}
	store_free(&c.st);
	cfg_free(&c.cfg);
	return rc;
}
