/*
 * loop.c - the daemon's tick.  See loop.h.
 *
 * Every remote party can be down; none of that ends the process.  Each
 * has its own "next try" time with capped exponential backoff and jitter;
 * the loop sleeps in poll() until the earliest of them, an IDLE doorbell
 * or a signal (through a self-pipe, so no signal is missed).
 *
 * Doorbells: libcurl's connect-only IDLE watches one mailbox per
 * connection, so every watched folder (each queue's mailbox, then each
 * Sent folder) gets its own, up to imap.idle_max per instance; a folder
 * without one (over the bound, no IDLE on its server, or its connection
 * down) is polled every imap.idle_fallback_poll seconds instead.  A
 * doorbell only makes its folder due; the fetch runs on the queue's own
 * client.
 */
#define _GNU_SOURCE /* pipe2 */
#include "loop.h"

#include "cfg.h"
#include "csat.h"
#include "digest.h"
#include "escalate.h"
#include "fetch.h"
#include "keywords.h"
#include "imap.h"
#include "lifecycle.h"
#include "log.h"
#include "mime.h"
#include "notify.h"
#include "outbox.h"
#include "sender.h"
#include "smtp.h"
#include "store.h"
#include "store_admin.h"
#include "store_outbox.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#define LOOP_MAX_BACKOFF   300       /* seconds */
#define LOOP_REIDLE        (25 * 60) /* RFC 2177: re-IDLE before 29 min */
#define LOOP_ONCE_DB_TRIES 5         /* --once: connection attempts */

static volatile sig_atomic_t loop_stop, loop_reload;
static int loop_pipe[2] = {-1, -1};

static void
loop_signal(int sig)
{
	int e = errno;
	char c = (char)sig;

	if (sig == SIGHUP)
		loop_reload = 1;
	else
		loop_stop = 1;
	(void)!write(loop_pipe[1], &c, 1);
	errno = e;
}

struct loop_box {
	struct fetch_mailbox mb;
	char *key;
	const struct cfg *qcfg; /* the queue's view of l->cfg */
	struct imap *imap;      /* the queue's client, owned by l->imaps */
	gint64 next_try;        /* monotonic seconds */
	int failures;
	unsigned locked_gen; /* store generation the advisory lock is from */
	bool locked;
	/* the IDLE doorbell: a client of its own (it holds one connection),
	 * NULL when the folder is polled (imap.idle_max, no IDLE) */
	struct imap *bell; /* owned */
	bool idle_on;
	gint64 idle_since;    /* monotonic: when IDLE began, for re-IDLE */
	gint64 bell_next_try; /* monotonic: backoff of a failing doorbell */
	int bell_failures;
};

struct loop {
	struct cfg *cfg;
	struct store *st;
	struct imap *imap;
	struct smtp *smtp;
	struct sender *sender;   /* NULL: --once drains synchronously */
	struct outbox_hand hand; /* to sender: the boxes' automatic mail */
	struct loop_box *boxes;  /* inbox (+ Sent) of every queue */
	int nboxes;
	GPtrArray *imaps;  /* struct imap* per queue; [0] is l->imap */
	int nbells;        /* boxes with a doorbell, idling or not */
	gint64 purge_next; /* monotonic: the daily retention job */
	gint64 db_next_try, smtp_next_try;
	int db_failures, smtp_failures;
	int due_failures;     /* store_outbox_next_due failed in a row */
	char db_error[256];   /* the outage's error, recorded once back */
	char idle_state[160]; /* what store_conn_state last heard */
	gint64 last_fetch_ok;
	gint64 esc_next;  /* unix seconds the SLA tick wants to run, 0 = none */
	gint64 life_next; /* unix seconds of the next lifecycle pass */
	bool once;
};

static gint64
loop_now(void)
{
	return g_get_monotonic_time() / G_USEC_PER_SEC;
}

static void
loop_clients_free(struct loop *l)
{
	sender_stop(&l->sender);
	for (int i = 0; i < l->nboxes; i++)
		imap_free(&l->boxes[i].bell); /* DONE and LOGOUT */
	l->imap = NULL;
	if (l->imaps)
		for (guint i = 0; i < l->imaps->len; i++) {
			struct imap *im = l->imaps->pdata[i];
			imap_free(&im);
		}
	g_clear_pointer(&l->imaps, g_ptr_array_unref);
	smtp_free(&l->smtp);
	for (int i = 0; i < l->nboxes; i++)
		g_free(l->boxes[i].key);
	g_clear_pointer(&l->boxes, g_free);
	l->nboxes = 0;
	l->nbells = 0;
	l->idle_state[0] = '\0';
}

/* after a COMMIT of fetched mail: its automatic mail was handed to the
 * senders (sender_take; what it did not take, it counted for a claim) */
static void
loop_wake_sender(void *ctx)
{
	sender_wake(ctx);
}

/* loop_queue_new - one queue's IMAP client and its mailboxes (inbox and
 * Sent), appended to l->boxes. */
static void
loop_queue_new(struct loop *l, const struct cfg_queue *q,
               struct imap_params *ip_r)
{
	const struct cfg *c = l->cfg;
	struct imap_params ip = {
	    .url = q->url,
	    .user = q->user,
	    .password = q->password,
	    .starttls = c->imap.starttls,
	    .timeout = c->imap.timeout,
	    /* tickets.max_mail_size decides what is parsed; the fetch cap
	     * only protects memory from a hostile server. */
	    .max_message =
	        (size_t)MAX(c->tickets.max_mail_size * 2, 64 * 1024 * 1024),
	};
	const char *folders[] = {q->mailbox, q->sent_mailbox};
	struct imap *im = imap_new(&ip);

	*ip_r = ip;
	g_ptr_array_add(l->imaps, im);
	for (int i = 0; i < 2; i++) {
		struct loop_box *b = &l->boxes[l->nboxes];
		if (folders[i] == NULL || *folders[i] == '\0')
			continue;
		memset(b, 0, sizeof(*b));
		b->key = g_strdup_printf("%s:%s", q->name, folders[i]);
		b->mb.key = b->key;
		b->mb.folder = folders[i];
		b->mb.sent = i == 1;
		b->qcfg = q->view;
		b->imap = im;
		if (l->sender != NULL) {
			b->mb.on_commit = loop_wake_sender;
			b->mb.on_commit_ctx = l->sender;
			b->mb.hand = &l->hand;
		}
		l->nboxes++;
	}
}

/* loop_clients_new - IMAP/SMTP clients and mailboxes from l->cfg: one
 * IMAP client per queue, so that one failing mailbox (bad password,
 * server down) only backs off its own boxes. */
static void
loop_clients_new(struct loop *l)
{
	const struct cfg *c = l->cfg;
	struct imap_params *params;
	g_autofree guint *qof = g_new0(guint, 2 * MAX(c->queues->len, 1));

	l->smtp = sender_smtp_new(c);
	/* the sender threads start first: the boxes' on_commit wakes them */
	if (!l->once)
		l->sender = sender_start(c, c->smtp.connections);
	l->hand = (struct outbox_hand){sender_take, l->sender};
	l->nboxes = 0;
	l->imaps = g_ptr_array_new();
	l->boxes = g_new0(struct loop_box, 2 * MAX(c->queues->len, 1));
	params = g_new0(struct imap_params, c->queues->len + 1);
	for (guint q = 0; q < c->queues->len; q++) {
		int first = l->nboxes;

		loop_queue_new(l, c->queues->pdata[q], &params[q]);
		for (int i = first; i < l->nboxes; i++)
			qof[i] = q;
	}
	l->imap = l->imaps->len > 0 ? l->imaps->pdata[0] : NULL;
	/* doorbells: customers' mail first, then the agents' Sent folders */
	for (int pass = 0; pass < 2 && c->imap.idle && !l->once; pass++)
		for (int i = 0; i < l->nboxes; i++) {
			struct loop_box *b = &l->boxes[i];

			if (b->mb.sent != (pass == 1) ||
			    l->nbells >= c->imap.idle_max)
				continue;
			b->bell = imap_new(&params[qof[i]]);
			l->nbells += b->bell != NULL;
		}
	g_free(params);
}

/* loop_db - make sure the database is there; false while it is not. */
static bool
loop_db(struct loop *l)
{
	gint64 now = loop_now();

	if (store_connected(l->st))
		return true;
	if (now < l->db_next_try)
		return false;
	if (store_reconnect(l->st) == 0) {
		/* --once sends on this connection: its leases are ours */
		(void)store_instance_register(l->st, l->cfg->instance);
		(void)store_conn_state(l->st, l->cfg->instance, "database",
		                       "up",
		                       l->db_failures > 0 ? l->db_error : NULL);
		if (l->db_failures > 0)
			log_notice("loop: database is back after %d failures",
			           l->db_failures);
		l->db_failures = 0;
		return true;
	}
	l->db_failures++;
	g_strlcpy(l->db_error, store_error(l->st), sizeof(l->db_error));
	l->db_next_try = now + backoff_secs(l->db_failures, LOOP_MAX_BACKOFF);
	log_warning("loop: database: %s, retry in %" G_GINT64_FORMAT "s",
	            store_error(l->st), l->db_next_try - now);
	(void)notify_send("STATUS=database unreachable, retrying");
	return false;
}

/* loop_interval - seconds between two polls of b: imap.poll_interval as
 * a safety net behind its doorbell; without a ringing doorbell while
 * imap.idle is on, imap.idle_fallback_poll. */
static gint64
loop_interval(const struct loop *l, const struct loop_box *b)
{
	const struct cfg_imap *ic = &l->cfg->imap;

	if (!ic->idle || l->once || b->idle_on)
		return ic->poll_interval;
	return MIN(ic->poll_interval, ic->idle_fallback_poll);
}

static void
loop_fetch(struct loop *l, bool force)
{
	gint64 now = loop_now();

	for (int i = 0; i < l->nboxes && !loop_stop; i++) {
		struct loop_box *b = &l->boxes[i];
		struct fetch_stats fs = {0};
		int r;

		if (!force && now < b->next_try)
			continue;
		if (!loop_db(l))
			return;
		/* One fetcher per mailbox across all instances; the lock dies
		 * with the session, so take it again after a reconnect. */
		if (!b->locked || b->locked_gen != store_generation(l->st)) {
			r = store_try_lock(l->st, b->key);
			b->locked = r > 0;
			b->locked_gen = store_generation(l->st);
			if (r == 0 && !l->once)
				log_debug("loop: '%s' is fetched by another "
				          "instance",
				          b->key);
		}
		if (!b->locked) {
			b->next_try = now + l->cfg->imap.poll_interval;
			if (b->idle_on) /* the other instance listens */
				imap_idle_stop(b->bell);
			b->idle_on = false;
			continue;
		}
		r = fetch_mailbox(b->qcfg, l->st, b->imap, &b->mb, &fs,
		                  &loop_stop);
		if (r < 0) {
			b->failures++;
			b->next_try =
			    now + backoff_secs(b->failures, LOOP_MAX_BACKOFF);
			continue;
		}
		if (b->failures > 0)
			log_notice("loop: '%s' works again", b->key);
		b->failures = 0;
		b->next_try = now + loop_interval(l, b);
		l->last_fetch_ok = g_get_real_time() / G_USEC_PER_SEC;
		if (fs.fetched > 0)
			log_info("loop: '%s': %d mails, %d new tickets, %d "
			         "follow-ups, %d duplicates, %d quarantined",
			         b->key, fs.fetched, fs.new_tickets,
			         fs.follow_ups, fs.duplicates, fs.quarantined);
	}
	/* after every box's COMMITs (a Sent-folder reply changes the state
	 * of INBOX copies too), each box by its fetcher, under its lock */
	for (int i = 0; i < l->nboxes && !loop_stop; i++) {
		struct loop_box *b = &l->boxes[i];

		if (keywords_on(b->qcfg) && b->locked && b->failures == 0 &&
		    store_connected(l->st))
			(void)keywords_pass(b->qcfg, l->st, b->imap, b->key,
			                    b->mb.folder);
	}
}

static void
loop_outbox(struct loop *l)
{
	struct outbox_stats os = {0};
	gint64 now = loop_now();
	int r;

	if (l->sender != NULL) { /* the sender threads do it */
		sender_kick(l->sender);
		return;
	}
	if (now < l->smtp_next_try || !loop_db(l))
		return;
	r = outbox_drain(l->cfg, l->st, l->smtp, 0, &os);
	if (r < 0)
		return;
	if (os.retried > 0 && os.sent == 0) {
		l->smtp_failures++;
		l->smtp_next_try =
		    now + backoff_secs(l->smtp_failures, LOOP_MAX_BACKOFF);
	} else {
		l->smtp_failures = 0;
	}
}

/* loop_reports - resolution mails with rating links for newly resolved
 * tickets, and the managers' digests when due.  Both find
 * their work in the database, so whoever resolves a ticket needs no hook,
 * and both are safe with several instances. */
static void
loop_reports(struct loop *l)
{
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;

	if (!loop_db(l))
		return;
	(void)csat_tick(l->cfg, l->st, now);
	(void)digest_tick(l->cfg, l->st, now);
	/* pending reminders and auto-close count in business days: once a
	 * minute is plenty (and each pass is one indexed query) */
	if (now >= l->life_next) {
		(void)lifecycle_tick(l->cfg, l->st, now);
		l->life_next = now + 60;
	}
}

/* loop_escalate - SLA clocks and escalation notices (escalate.c); cheap
 * when nothing is due, so it runs on every pass of the loop. */
static void
loop_escalate(struct loop *l)
{
	gint64 now = g_get_real_time() / G_USEC_PER_SEC, next = 0;

	if (!loop_db(l))
		return;
	/* at most one pass a second: a due row locked by another instance
	 * must not make the loop spin */
	l->esc_next = escalate_tick(l->cfg, l->st, now, &next) < 0
	                  ? now + LOOP_MAX_BACKOFF / 10
	                  : (next > 0 ? MAX(next, now + 1) : 0);
}

/* loop_purge - the daily retention job: every queue with
 * retention_days, run at start and then every 24 hours. */
static void
loop_purge(struct loop *l)
{
	gint64 now = loop_now();

	if (l->once || now < l->purge_next || !loop_db(l))
		return;
	l->purge_next = now + 86400;
	for (guint i = 0; i < l->cfg->queues->len; i++) {
		const struct cfg_queue *q = l->cfg->queues->pdata[i];
		g_autoptr(GString) out = g_string_new(NULL);
		int days = q->retention_days;

		if (days <= 0)
			continue;
		if (store_purge(l->st, q->name, days, "tickd", out) < 0) {
			l->purge_next = now + 3600; /* try again sooner */
			continue;
		}
		log_notice("loop: retention purge of queue '%s' (%d days): %s",
		           q->name, days, out->str);
	}
}

/* loop_bell - keep b's doorbell ringing-ready: start it, re-IDLE before
 * RFC 2177's 29 minutes, back off while it fails.  -ENOSYS: the server
 * has no IDLE (the folder is polled from now on). */
static int
loop_bell(struct loop *l, struct loop_box *b, gint64 now)
{
	int r;

	if (b->idle_on && now - b->idle_since < LOOP_REIDLE)
		return 0;
	if (b->idle_on)
		imap_idle_stop(b->bell);
	b->idle_on = false;
	/* only where this instance fetches, and not while the mailbox
	 * itself is failing (its backoff) or the doorbell is */
	if (!b->locked || b->failures > 0 || now < b->bell_next_try)
		return 0;
	r = imap_idle_start(b->bell, b->mb.folder);
	if (r == 0) {
		b->idle_on = true;
		b->idle_since = now;
		b->bell_failures = 0;
		/* mail that came while the bell was down: look once now */
		if (b->next_try > now + 1)
			b->next_try = now;
		return 0;
	}
	if (r == -ENOSYS) {
		log_notice("loop: '%s': server has no IDLE; polling every "
		           "%" G_GINT64_FORMAT "s",
		           b->key, loop_interval(l, b));
		imap_free(&b->bell);
		l->nbells--;
		return r;
	}
	b->bell_failures++;
	b->bell_next_try =
	    now + backoff_secs(b->bell_failures, LOOP_MAX_BACKOFF);
	/* polled at the fallback interval until the bell works again */
	b->next_try = MIN(b->next_try, now + loop_interval(l, b));
	return r;
}

/* loop_idle - every doorbell up, and what they do in tickctl status. */
static void
loop_idle(struct loop *l)
{
	gint64 now = loop_now();
	int on = 0, err = 0, nosys = 0;
	char state[sizeof(l->idle_state)];
	const char *why = NULL;

	if (!l->cfg->imap.idle || l->once || l->nboxes == 0)
		return;
	for (int i = 0; i < l->nboxes; i++) {
		struct loop_box *b = &l->boxes[i];
		int r;

		if (b->bell == NULL)
			continue;
		r = loop_bell(l, b, now);
		nosys += r == -ENOSYS;
		if (r < 0 && r != -ENOSYS) {
			err++;
			why = imap_error(b->bell);
		}
		on += b->idle_on;
	}
	g_snprintf(state, sizeof(state), "%s %d/%d",
	           err  ? "failing"
	           : on ? "idle"
	                : "polling",
	           on, l->nboxes);
	if (strcmp(state, l->idle_state) == 0 && nosys == 0)
		return;
	g_strlcpy(l->idle_state, state, sizeof(l->idle_state));
	/* tickctl status: "idle 3/4" says how many folders ring, the rest
	 * are polled every imap.idle_fallback_poll seconds */
	if (store_connected(l->st))
		(void)store_conn_state(l->st, l->cfg->instance, "imap-idle",
		                       on == l->nboxes && !err ? "idle" : state,
		                       err ? why : NULL);
}

/* loop_status - STATUS= one line: mailboxes, last fetch, outbox backlog;
 * sent when it changes (systemctl status shows it). */
static void
loop_status(struct loop *l)
{
	static char last[256];
	char line[256], when[32] = "never", backlog[48] = "unknown";
	gint64 n = store_connected(l->st) ? store_outbox_backlog(l->st) : -1;
	int failing = 0, on = 0;
	char idle[32] = "";

	for (int i = 0; i < l->nboxes; i++)
		on += l->boxes[i].idle_on;
	if (on > 0)
		g_snprintf(idle, sizeof(idle), ", IDLE on %d", on);
	if (l->last_fetch_ok) {
		g_autoptr(GDateTime) t =
		    g_date_time_new_from_unix_local(l->last_fetch_ok);
		g_autofree char *s = g_date_time_format(t, "%H:%M:%S");
		g_strlcpy(when, s, sizeof(when));
	}
	if (n >= 0)
		g_snprintf(backlog, sizeof(backlog), "%" G_GINT64_FORMAT, n);
	for (int i = 0; i < l->nboxes; i++)
		failing += l->boxes[i].failures > 0;
	g_snprintf(
	    line, sizeof(line),
	    "STATUS=%d mailbox(es)%s, last fetch %s, outbox backlog %s%s%s",
	    l->nboxes, failing ? " (failing)" : "", when, backlog,
	    store_connected(l->st) ? "" : ", database unreachable",
	    idle[0] ? idle : "");
	if (strcmp(line, last) == 0)
		return;
	g_strlcpy(last, line, sizeof(last));
	(void)notify_send(line);
}

/* loop_reload_cfg - SIGHUP: load a fresh config; keep the old one unless
 * the new one is entirely good. */
static void
loop_reload_cfg(struct loop *l)
{
	g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
	struct cfg *fresh = NULL;

	(void)notify_send("RELOADING=1");
	if (cfg_load(l->cfg->path, true, &fresh, errors) < 0) {
		for (guint i = 0; i < errors->len; i++)
			log_err("loop: reload: %s", (char *)errors->pdata[i]);
		log_err("loop: reload '%s' failed, keeping the running "
		        "configuration",
		        l->cfg->path);
		(void)notify_send("READY=1");
		return;
	}
	loop_clients_free(l);
	if (strcmp(fresh->db_conninfo, l->cfg->db_conninfo) != 0) {
		store_free(&l->st);
		if (store_open(fresh->db_conninfo, &l->st) < 0) {
			/* keep a handle that reconnects later */
			(void)store_open("", &l->st);
		}
	}
	cfg_free(&l->cfg);
	l->cfg = fresh;
	log_init(l->cfg->log_level);
	loop_clients_new(l);
	log_notice("loop: reloaded '%s' (poll every %ds)", l->cfg->path,
	           l->cfg->imap.poll_interval);
	if (cfg_agents_warning(l->cfg) != NULL)
		log_warning("loop: %s", cfg_agents_warning(l->cfg));
	(void)notify_send("READY=1");
}

/* loop_ring - read what b's doorbell has (also bytes TLS holds already,
 * which poll() does not show): a change makes b due now; a lost
 * connection is started again by the next loop_idle.  true when it
 * rang. */
static bool
loop_ring(struct loop_box *b)
{
	int r = imap_idle_check(b->bell);

	if (r < 0) {
		imap_idle_stop(b->bell);
		b->idle_on = false;
		b->next_try = 0; /* look now: something may have come */
		return true;
	}
	if (r > 0)
		b->next_try = 0;
	return r > 0;
}

/* loop_wait - sleep until deadline, a signal or a doorbell.  The boxes
 * whose doorbell rang are due (next_try 0) on return. */
static void
loop_wait(struct loop *l, gint64 deadline)
{
	g_autofree struct pollfd *fds = g_new0(struct pollfd, l->nboxes + 1);
	g_autofree int *box = g_new0(int, l->nboxes + 1);
	nfds_t nfds = 1;
	gint64 ms = (deadline - loop_now()) * 1000;
	bool rang = false;
	int r;

	fds[0] = (struct pollfd){.fd = loop_pipe[0], .events = POLLIN};
	for (int i = 0; i < l->nboxes; i++) {
		struct loop_box *b = &l->boxes[i];
		int fd = b->idle_on ? imap_idle_fd(b->bell) : -1;

		if (fd < 0)
			continue;
		/* TLS may hold decoded bytes already: check before sleeping */
		rang |= loop_ring(b);
		if (!b->idle_on)
			continue;
		fds[nfds] = (struct pollfd){.fd = fd, .events = POLLIN};
		box[nfds++] = i;
	}
	if (rang)
		return;
	if (ms < 0)
		ms = 0;
	r = poll(fds, nfds, (int)MIN(ms, 3600 * 1000));
	if (r <= 0)
		return;
	if (fds[0].revents & POLLIN) {
		char buf[16];
		(void)!read(loop_pipe[0], buf, sizeof(buf));
	}
	for (nfds_t k = 1; k < nfds; k++)
		if (fds[k].revents)
			(void)loop_ring(&l->boxes[box[k]]);
}

static int
loop_setup_signals(void)
{
	struct sigaction sa = {.sa_handler = loop_signal};

	if (pipe2(loop_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

/* loop_open_db - connect and check the schema.  READY=1 means: config,
 * database and schema are fine, so until then keep trying (PostgreSQL
 * may start after us), but say so; --once gives up after
 * LOOP_ONCE_DB_TRIES attempts.  EX_OK, EX_TEMPFAIL or EX_CONFIG. */
static int
loop_open_db(struct loop *l)
{
	int tries = 0;

	(void)notify_send("STATUS=connecting to the database");
	while (store_open(l->cfg->db_conninfo, &l->st) < 0) {
		tries++;
		if (loop_stop || (l->once && tries >= LOOP_ONCE_DB_TRIES)) {
			if (loop_stop)
				(void)notify_send("STOPPING=1");
			return EX_TEMPFAIL;
		}
		(void)notify_send("STATUS=waiting for the database");
		sleep((unsigned)MIN(2 << MIN(tries - 1, 5), 30));
	}
	if (store_schema_check(l->st) < 0)
		return EX_CONFIG;
	(void)store_instance_register(l->st, l->cfg->instance);
	(void)store_conn_state(l->st, l->cfg->instance, "database", "up", NULL);
	return EX_OK;
}

/* loop_take_back_leases - our name on a lease means our previous run died
 * holding it (two live instances must have different names): send those
 * mails now rather than after the lease expires.  At most one may go
 * twice. */
static void
loop_take_back_leases(struct loop *l)
{
	int released = store_outbox_release(l->st, l->cfg->instance);

	if (released > 0)
		log_notice("loop: took back %d outbox lease(s) of a previous "
		           "run",
		           released);
}

/* loop_once - --once: one fetch of every mailbox, the reports, the SLA
 * tick and the outbox, each once.  EX_TEMPFAIL when a mailbox or the
 * SMTP server failed, so that a cron job retries. */
static int
loop_once(struct loop *l)
{
	loop_fetch(l, true);
	loop_reports(l);
	loop_escalate(l);
	loop_outbox(l);
	for (int i = 0; i < l->nboxes; i++)
		if (l->boxes[i].failures > 0)
			return EX_TEMPFAIL;
	return l->smtp_failures > 0 ? EX_TEMPFAIL : EX_OK;
}

/* loop_outbox_next - when the outbox wants the loop again (no sender
 * threads): its next due mail, never when it is empty, or after a
 * database error a retry with backoff (an error is not an empty outbox). */
static gint64
loop_outbox_next(struct loop *l, gint64 now)
{
	gint64 due = 0, d;
	int r = store_outbox_next_due(l->st, &due);

	if (r >= 0) {
		l->due_failures = 0;
		return r > 0 ? MAX(now + due, l->smtp_next_try) : G_MAXINT64;
	}
	d = backoff_secs(++l->due_failures, LOOP_MAX_BACKOFF);
	log_warning("loop: database: %s, retry in %" G_GINT64_FORMAT "s",
	            store_error(l->st), d);
	return now + d;
}

/* loop_deadline - when the next pass is due (monotonic seconds): the
 * earliest mailbox, outbox row, database retry, SLA tick or watchdog. */
static gint64
loop_deadline(struct loop *l, gint64 now, uint64_t wd)
{
	gint64 deadline = now + 3600;

	for (int i = 0; i < l->nboxes; i++) {
		const struct loop_box *b = &l->boxes[i];

		deadline = MIN(deadline, b->next_try);
		/* a doorbell waiting out its backoff, or due for re-IDLE */
		if (b->bell != NULL && !b->idle_on && b->locked &&
		    b->failures == 0)
			deadline =
			    MIN(deadline, MAX(b->bell_next_try, now + 1));
		if (b->idle_on)
			deadline = MIN(deadline, b->idle_since + LOOP_REIDLE);
	}
	if (l->sender == NULL && store_connected(l->st))
		deadline = MIN(deadline, loop_outbox_next(l, now));
	if (!store_connected(l->st))
		deadline = MIN(deadline, l->db_next_try);
	if (l->esc_next > 0)
		deadline = MIN(deadline,
		               now + MAX(0, l->esc_next - g_get_real_time() /
		                                              G_USEC_PER_SEC));
	if (wd)
		deadline =
		    MIN(deadline, now + MAX(1, (gint64)(wd / G_USEC_PER_SEC)));
	return deadline;
}

/* loop_pass - one pass of the daemon: every job that is due. */
static void
loop_pass(struct loop *l)
{
	if (loop_reload) {
		loop_reload = 0;
		loop_reload_cfg(l);
	}
	loop_fetch(l, false);
	loop_reports(l);
	loop_escalate(l);
	loop_outbox(l);
	loop_purge(l);
	loop_idle(l);
	/* also called per fetched mail (fetch.c), so that a long fetch does
	 * not look like a hang */
	notify_watchdog();
	loop_status(l);
}

/* loop_forever - passes until SIGTERM/SIGINT, sleeping until the next
 * deadline, the IDLE doorbell or a signal. */
static void
loop_forever(struct loop *l)
{
	uint64_t wd = notify_watchdog_usec();

	while (!loop_stop) {
		gint64 deadline;

		loop_pass(l);
		deadline = loop_deadline(l, loop_now(), wd);
		if (deadline > loop_now())
			loop_wait(l, deadline);
	}
	(void)notify_send("STOPPING=1");
	log_notice("loop: stopping");
}

int
loop_run(const struct loop_opts *o)
{
	g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
	struct loop l = {.once = o->once};
	int rc;

	if (cfg_load(o->config_path, true, &l.cfg, errors) < 0) {
		for (guint i = 0; i < errors->len; i++)
			log_err("loop: config: %s", (char *)errors->pdata[i]);
		return EX_CONFIG;
	}
	log_init(o->log_level ? o->log_level : l.cfg->log_level);
	if (loop_setup_signals() < 0) {
		cfg_free(&l.cfg);
		return EX_OSERR;
	}
	mime_init();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if ((rc = loop_open_db(&l)) != EX_OK)
		goto out;
	loop_take_back_leases(&l);
	loop_clients_new(&l);
	log_notice("loop: started, %d mailbox(es), poll every %ds%s", l.nboxes,
	           l.cfg->imap.poll_interval, o->once ? ", once" : "");
	if (cfg_agents_warning(l.cfg) != NULL)
		log_warning("loop: %s", cfg_agents_warning(l.cfg));
	(void)notify_send("READY=1");
	if (o->once)
		rc = loop_once(&l);
	else
		loop_forever(&l);
out:
	loop_clients_free(&l);
	store_free(&l.st);
	cfg_free(&l.cfg);
	curl_global_cleanup();
	return rc;
}
