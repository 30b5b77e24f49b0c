/*
 * ctl.c - tickctl commands.  See ctl.h.
 */
#include "ctl.h"

#include "cfg.h"
#include "corpus.h"
#include "ingest.h"
#include "limit.h"
#include "log.h"
#include "mime.h"
#include "store.h"

#include <fcntl.h>
#include <getopt.h>
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
};

static void
ctl_usage(FILE *f)
{
	fputs("usage: tickctl [-c FILE] [-v] COMMAND [ARGS]\n"
	      "commands:\n"
	      "  migrate               create or upgrade the database schema\n"
	      "  import [FILE...]      ingest raw mails (stdin when no FILE)\n"
	      "  tickets [--json] [--status S]\n"
	      "  ticket N [--json]     one ticket with messages and events\n"
	      "  status [--json]       mailboxes, outbox, suppressions, breaker\n"
	      "  breaker reset         close the circuit breaker, send held mail\n"
	      "  init-secret           create tickets.secret_file\n"
	      "  parse FILE [--json]   show how tickd parses a mail\n"
	      "  corpus-report DIR     parse every mail below DIR\n",
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
	if (db && store_open(c->cfg->db_conninfo, &c->st) < 0)
		return EX_UNAVAILABLE;
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
	r = ingest_mail(c->cfg, c->st, raw->data, raw->len, &src,
			g_get_real_time() / G_USEC_PER_SEC, &out);
	if (r < 0) {
		fprintf(stderr, "tickctl: import '%s': %s\n", name,
			store_error(c->st));
		return err_is_transient(r) || r == -ENOTCONN ? EX_TEMPFAIL
							     : EX_SOFTWARE;
	}
	if (c->json)
		printf("{\"file\":\"%s\",\"result\":\"%s\",\"ticket\":%" G_GINT64_FORMAT
		       ",\"acknowledged\":%s,\"class\":\"%s\"}\n",
		       name, ingest_kind_name(out.kind), out.ticket,
		       out.acknowledged ? "true" : "false", out.cls);
	else
		printf("%s: %s %" G_GINT64_FORMAT "%s\n", name,
		       ingest_kind_name(out.kind), out.ticket,
		       out.acknowledged ? " (acknowledged)" : "");
	return EX_OK;
}

static int
ctl_import(struct ctl *c, int argc, char **argv)
{
	int rc = ctl_open(c, true, true);

	if (rc != EX_OK)
		return rc;
	mime_init();
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

static int
ctl_print_json(int r, GString *out)
{
	if (r == -ENOENT) {
		fprintf(stderr, "tickctl: not found\n");
		return EX_DATAERR;
	}
	if (r < 0)
		return EX_SOFTWARE;
	fputs(out->str, stdout);
	fputc('\n', stdout);
	return EX_OK;
}

static int
ctl_tickets(struct ctl *c, int argc, char **argv)
{
	g_autoptr(GString) out = g_string_new(NULL);
	const char *status = NULL;
	int rc = ctl_open(c, false, true);

	if (rc != EX_OK)
		return rc;
	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], "--status") == 0 && i + 1 < argc)
			status = argv[++i];
	return ctl_print_json(store_tickets_json(c->st, status, out, !c->json),
			      out);
}

static int
ctl_ticket(struct ctl *c, int argc, char **argv)
{
	g_autoptr(GString) out = g_string_new(NULL);
	char *end;
	gint64 id;
	int rc;

	if (argc < 1) {
		ctl_usage(stderr);
		return EX_USAGE;
	}
	id = g_ascii_strtoll(argv[0], &end, 10);
	if (*end != '\0' || id <= 0) {
		fprintf(stderr, "tickctl: '%s' is not a ticket number\n",
			argv[0]);
		return EX_USAGE;
	}
	if ((rc = ctl_open(c, false, true)) != EX_OK)
		return rc;
	return ctl_print_json(store_ticket_json(c->st, id, out, !c->json), out);
}

static int
ctl_status(struct ctl *c)
{
	g_autoptr(GString) out = g_string_new(NULL);
	int rc = ctl_open(c, false, true);

	if (rc != EX_OK)
		return rc;
	return ctl_print_json(store_status_json(c->st, out, !c->json), out);
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
	actor = g_strdup_printf("tickctl:%s", g_get_user_name());
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
	const char *path;
	int fd;
	FILE *f;

	/* Loaded without secrets: the secret is missing, that is why we
	 * are here. */
	int rc = ctl_open(c, false, false);

	if (rc != EX_OK)
		return rc;
	path = c->cfg->tickets.secret_file;
	if (access(path, F_OK) == 0) {
		fprintf(stderr, "tickctl: '%s' exists; not overwriting it "
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

int
ctl_main(int argc, char **argv)
{
	struct ctl c = {.config_path = cfg_default_path()};
	const char *cmd;
	int opt, rc, verbose = 0;
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};

	/* '+': options stop at the command; its own options follow it. */
	while ((opt = getopt_long(argc, argv, "+c:vh", longopts, NULL)) != -1)
		switch (opt) {
		case 'c':
			c.config_path = optarg;
			break;
		case 'v':
			verbose++;
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
	log_init(verbose ? LOGP_DEBUG : LOGP_WARNING);
	cmd = argv[optind];
	argc -= optind + 1;
	argv += optind + 1;
	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], "--json") == 0)
			c.json = true;

	if (strcmp(cmd, "corpus-report") == 0 || strcmp(cmd, "parse") == 0) {
		mime_init();
		return corpus_main(argc + 1, argv - 1);
	}
	if (strcmp(cmd, "migrate") == 0)
		rc = ctl_migrate(&c);
	else if (strcmp(cmd, "import") == 0) {
		/* drop our own flags from the file list */
		int n = 0;
		for (int i = 0; i < argc; i++)
			if (strcmp(argv[i], "--json") != 0)
				argv[n++] = argv[i];
		rc = ctl_import(&c, n, argv);
	} else if (strcmp(cmd, "tickets") == 0)
		rc = ctl_tickets(&c, argc, argv);
	else if (strcmp(cmd, "ticket") == 0)
		rc = ctl_ticket(&c, argc, argv);
	else if (strcmp(cmd, "status") == 0)
		rc = ctl_status(&c);
	else if (strcmp(cmd, "breaker") == 0)
		rc = ctl_breaker(&c, argc, argv);
	else if (strcmp(cmd, "init-secret") == 0)
		rc = ctl_init_secret(&c);
	else {
		fprintf(stderr, "tickctl: unknown command '%s'\n", cmd);
		ctl_usage(stderr);
		rc = EX_USAGE;
	}
	store_free(&c.st);
	cfg_free(&c.cfg);
	return rc;
}
