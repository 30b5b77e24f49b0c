/*
 * tickd - the support-mailbox daemon.  Parses the command line and hands
 * over to loop_run() (src/loop.c); --check-config reports every problem
 * in the config as "file:line: message" and exits 1 (0 when clean).
 */
#include "cfg.h"
#include "ctl.h"
#include "log.h"
#include "loop.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

static void
usage(FILE *f)
{
	fputs("usage: tickd [-c FILE] [--once] [--check-config] [-v]\n"
	      "  -c, --config FILE   config file (default /etc/tickd/tickd.conf"
	      " or $TICKD_CONF)\n"
	      "  --once              process waiting mail and outbox, then "
	      "exit\n"
	      "  --check-config      report every config problem and exit\n"
	      "  -v, --verbose       log debug messages\n",
	      f);
}

/* check_config - every problem on stderr as "file:line: message", exit 1;
 * a clean config gives one summary line on stdout and exit 0. */
static int
check_config(const char *path)
{
	GPtrArray *errors = g_ptr_array_new_with_free_func(g_free);
	struct cfg *c = NULL;
	int rc;

	if (cfg_load(path, true, &c, errors) < 0) {
		for (guint i = 0; i < errors->len; i++)
			fprintf(stderr, "%s\n", (char *)errors->pdata[i]);
		fprintf(stderr, "%s: %u problem(s)\n", path, errors->len);
		rc = 1;
	} else {
		/* the line also says how agents prove their From, so a
		 * missing authserv-id is seen before a forged "#status" */
		const char *warn = cfg_agents_warning(c);
		g_autofree char *agents =
		    warn ? g_strconcat("; warning: ", warn, NULL)
		    : c->agents.authserv_id && c->people->len
		        ? g_strconcat(" (agents authenticated by ",
		                      c->agents.authserv_id, ")", NULL)
		        : g_strdup("");

		/* offline: how many mails wait is tickctl status's (an IMAP
		 * STATUS), the rule for them is said here */
		GString *first = g_string_new("; first run: ");
		for (guint i = 0; i < c->queues->len; i++) {
			const struct cfg_queue *q = c->queues->pdata[i];
			if (c->queues->len > 1)
				g_string_append_printf(
				    first, "%s%s=", i ? ", " : "", q->name);
			g_string_append(
			    first, cfg_first_run_name(q->view->imap.first_run));
		}
		printf("%s: ok: %s%s%s on %s as %s, poll %ds, smtp %s from "
		       "%s, queue %s, %u people%s%s\n",
		       path, c->imap.mailbox,
		       c->imap.sent_mailbox ? " and " : "",
		       c->imap.sent_mailbox ? c->imap.sent_mailbox : "",
		       c->imap.url, c->imap.user, c->imap.poll_interval,
		       c->smtp.url, c->smtp.from, c->tickets.queue,
		       c->people->len, agents, first->str);
		g_string_free(first, TRUE);
		rc = EX_OK;
	}
	cfg_free(&c);
	g_ptr_array_unref(errors);
	return rc;
}

int
main(int argc, char **argv)
{
	struct loop_opts o = {.config_path = cfg_default_path()};
	bool check = false;
	int opt;
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"once", no_argument, NULL, 'o'},
	    {"check-config", no_argument, NULL, 'C'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};

	while ((opt = getopt_long(argc, argv, "c:vh", longopts, NULL)) != -1)
		switch (opt) {
		case 'c':
			o.config_path = optarg;
			break;
		case 'o':
			o.once = true;
			break;
		case 'C':
			check = true;
			break;
		case 'v':
			o.log_level = LOGP_DEBUG;
			break;
		case 'h':
			usage(stdout);
			return EX_OK;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	if (optind != argc) {
		usage(stderr);
		return EX_USAGE;
	}
	log_init(LOGP_INFO);
	ctl_credentials_dir(o.config_path);
	if (check)
		return check_config(o.config_path);
	return loop_run(&o);
}
