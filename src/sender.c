/*
 * sender.c - outbox sender threads.  See sender.h.
 */
#include "sender.h"

#include "log.h"
#include "outbox.h"
#include "smtp.h"
#include "store.h"
#include "store_admin.h"
#include "store_outbox.h"

#include <string.h>

#define SENDER_MAX_BACKOFF 300 /* seconds */
#define SENDER_IDLE_WAIT   60  /* seconds: a slow safety net */
#define SENDER_ROUND       32  /* mails per outbox_drain call */

struct sender_worker {
	struct sender *s;
	GThread *thread;
	int index;
	char owner[128]; /* "instance#n": leases and the liveness lock */
	bool db_up, smtp_failing;
	char db_error[256]; /* the last database failure, for tickctl status */
};

struct sender {
	const struct cfg *cfg;
	GMutex lock;
	GCond cond;
	bool stop;
	unsigned kicks; /* bumped by sender_kick: a wake-up is never lost */
	struct sender_worker *w;
	int n;
	long long sent, retried, failed;
	char last_error[256];
};

/* sender_sleep - wait up to secs, or until a kick when kickable; false
 * when stopping. */
static bool
sender_sleep(struct sender *s, gint64 secs, bool kickable)
{
	gint64 end = g_get_monotonic_time() + secs * G_USEC_PER_SEC;
	bool go;

	g_mutex_lock(&s->lock);
	unsigned seen = s->kicks;
	while (!s->stop && (!kickable || s->kicks == seen))
		if (!g_cond_wait_until(&s->cond, &s->lock, end))
			break;
	go = !s->stop;
	g_mutex_unlock(&s->lock);
	return go;
}

static void
sender_note(struct sender *s, const struct outbox_stats *os, const char *err)
{
	g_mutex_lock(&s->lock);
	s->sent += os->sent;
	s->retried += os->retried;
	s->failed += os->failed;
	if (err != NULL)
		g_strlcpy(s->last_error, err, sizeof(s->last_error));
	g_mutex_unlock(&s->lock);
}

static void
sender_flags(struct sender_worker *w, bool db_up, bool smtp_failing)
{
	g_mutex_lock(&w->s->lock);
	w->db_up = db_up;
	w->smtp_failing = smtp_failing;
	g_mutex_unlock(&w->s->lock);
}

struct smtp *
sender_smtp_new(const struct cfg *cfg)
{
	struct smtp_params sp = {
	    .url = cfg->smtp.url,
	    .user = cfg->smtp.user,
	    .password = cfg->smtp.password,
	    .starttls = cfg->smtp.starttls,
	    .timeout = cfg->smtp.timeout,
	};

	return smtp_new(&sp);
}

/* sender_db_back - the database is back after failures: tickctl status
 * shows the outage's error (the main loop's own connection may notice the
 * outage only later, or never). */
static void
sender_db_back(struct sender_worker *w, struct store *st)
{
	log_notice("sender %d: database is back", w->index);
	(void)store_conn_state(st, w->s->cfg->instance, "database", "up",
	                       w->db_error[0] ? w->db_error : NULL);
}

/*
 * sender_idle_wait - how long to sleep with nothing sent: until the next
 * mail is due (at most SENDER_IDLE_WAIT; kickable), or after a database
 * error a backoff (not kickable): an error is not an empty outbox.  A lost
 * connection is reconnected on the next round.
 */
static gint64
sender_idle_wait(struct sender_worker *w, struct store *st, int *failures,
                 bool *kickable_r)
{
	gint64 due = SENDER_IDLE_WAIT;
	int r = store_outbox_next_due(st, &due);

	*kickable_r = r >= 0;
	if (r < 0) {
		due = backoff_secs(++*failures, SENDER_MAX_BACKOFF);
		sender_flags(w, store_connected(st), w->smtp_failing);
		g_strlcpy(w->db_error, store_error(st), sizeof(w->db_error));
		log_warning("sender %d: database: %s, retry in "
		            "%" G_GINT64_FORMAT "s",
		            w->index, store_error(st), due);
		return due;
	}
	*failures = 0;
	/* due 0 with nothing claimed: another sender holds those mails;
	 * look again a little later */
	return CLAMP(due, 1, SENDER_IDLE_WAIT);
}

static gpointer
sender_main(gpointer ud)
{
	struct sender_worker *w = ud;
	struct sender *s = w->s;
	const struct cfg *cfg = s->cfg;
	struct smtp *smtp = sender_smtp_new(cfg);
	struct store *st = NULL;
	int db_failures = 0, smtp_failures = 0, due_failures = 0;
	const char *shown = NULL; /* state last written for tickctl status */
	gint64 unrecorded = 0;    /* accepted by SMTP, not yet marked sent */

	for (;;) {
		struct outbox_stats os = {0};
		gint64 due;
		bool kickable;
		int r;

		g_mutex_lock(&s->lock);
		bool stop = s->stop;
		g_mutex_unlock(&s->lock);
		if (stop)
			break;
		if (st == NULL || !store_connected(st)) {
			r = st ? store_reconnect(st)
			       : store_open(cfg->db_conninfo, &st);
			/* our leases from before a lost session: nobody
			 * else may hold this name, and we send nothing now */
			if (r == 0)
				r = store_instance_register(st, w->owner);
			if (r == 0 && unrecorded > 0 &&
			    (r = store_outbox_sent(st, unrecorded, 250)) == 0)
				unrecorded = 0;
			if (r == 0 &&
			    (r = store_outbox_release(st, w->owner)) > 0) {
				log_notice(
				    "sender %d: took back %d lease(s) of "
				    "its lost session",
				    w->index, r);
				r = 0;
			}
			sender_flags(w, r == 0, w->smtp_failing);
			if (r < 0) {
				gint64 d = backoff_secs(++db_failures,
				                        SENDER_MAX_BACKOFF);
				log_warning("sender %d: database: %s, retry in "
				            "%" G_GINT64_FORMAT "s",
				            w->index, st ? store_error(st) : "",
				            d);
				g_strlcpy(w->db_error,
				          st ? store_error(st) : "",
				          sizeof(w->db_error));
				if (!sender_sleep(s, d, false))
					break;
				continue;
			}
			if (db_failures > 0)
				sender_db_back(w, st);
			db_failures = 0;
		}
		/* Rounds of SENDER_ROUND: a stop request waits for that many
		 * mails at most (~0.1 s), several senders keep close to the
		 * order of age, and each claim (an index scan that gets
		 * slower with the dead rows a busy outbox leaves until
		 * autovacuum comes) serves many mails. */
		r = outbox_drain_as(cfg, st, smtp, w->owner, SENDER_ROUND, &os);
		if (os.unrecorded > 0)
			unrecorded = os.unrecorded;
		sender_note(s, &os,
		            os.retried > 0 || os.failed > 0 ? smtp_error(smtp)
		                                            : NULL);
		if (r < 0) {
			/* the store: a lost connection is reconnected on the
			 * next round; any other error must not spin */
			if (store_connected(st) &&
			    !sender_sleep(
			        s,
			        backoff_secs(++db_failures, SENDER_MAX_BACKOFF),
			        false))
				break;
			continue;
		}
		db_failures = 0;
		if (os.retried > 0 && os.sent == 0) {
			/* the server is down or refusing: back off, whatever
			 * the kicks say */
			gint64 d =
			    backoff_secs(++smtp_failures, SENDER_MAX_BACKOFF);
			sender_flags(w, true, true);
			if (shown == NULL || strcmp(shown, "failing") != 0)
				if (store_conn_state(st, cfg->instance, "smtp",
				                     "failing",
				                     smtp_error(smtp)) == 0)
					shown = "failing";
			log_notice("sender %d: SMTP failing (%s), next try in "
			           "%" G_GINT64_FORMAT "s",
			           w->index, smtp_error(smtp), d);
			if (!sender_sleep(s, d, false))
				break;
			continue;
		}
		if (smtp_failures > 0)
			log_notice("sender %d: SMTP works again", w->index);
		smtp_failures = 0;
		sender_flags(w, true, false);
		if (os.sent > 0 && (shown == NULL || strcmp(shown, "up") != 0))
			if (store_conn_state(st, cfg->instance, "smtp", "up",
			                     NULL) == 0)
				shown = "up";
		if (os.sent + os.failed + os.retried > 0)
			continue; /* there may be more right away */
		due = sender_idle_wait(w, st, &due_failures, &kickable);
		if (!sender_sleep(s, due, kickable))
			break;
	}
	smtp_free(&smtp);
	store_free(&st);
	return NULL;
}

struct sender *
sender_start(const struct cfg *cfg, int n)
{
	struct sender *s = g_new0(struct sender, 1);

	s->cfg = cfg;
	g_mutex_init(&s->lock);
	g_cond_init(&s->cond);
	s->w = g_new0(struct sender_worker, MAX(n, 1));
	for (int i = 0; i < MAX(n, 1); i++) {
		g_autoptr(GError) err = NULL;
		char name[16];
		struct sender_worker *w = &s->w[s->n];

		w->s = s;
		w->index = i + 1;
		g_snprintf(w->owner, sizeof(w->owner), "%s#%d", cfg->instance,
		           i + 1);
		g_snprintf(name, sizeof(name), "sender%d", i + 1);
		w->thread = g_thread_try_new(name, sender_main, w, &err);
		if (w->thread == NULL) {
			log_err("sender: cannot start a thread: %s",
			        err->message);
			break;
		}
		s->n++;
	}
	if (s->n == 0) {
		sender_stop(&s);
		return NULL;
	}
	return s;
}

void
sender_kick(struct sender *s)
{
	if (s == NULL)
		return;
	g_mutex_lock(&s->lock);
	s->kicks++;
	g_cond_broadcast(&s->cond);
	g_mutex_unlock(&s->lock);
}

void
sender_stop(struct sender **sp)
{
	struct sender *s = *sp;

	if (s == NULL)
		return;
	g_mutex_lock(&s->lock);
	s->stop = true;
	g_cond_broadcast(&s->cond);
	g_mutex_unlock(&s->lock);
	for (int i = 0; i < s->n; i++)
		g_thread_join(s->w[i].thread);
	g_free(s->w);
	g_mutex_clear(&s->lock);
	g_cond_clear(&s->cond);
	g_free(s);
	*sp = NULL;
}

void
sender_state(struct sender *s, struct sender_state *out)
{
	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return;
	g_mutex_lock(&s->lock);
	out->threads = s->n;
	for (int i = 0; i < s->n; i++) {
		out->db_up += s->w[i].db_up;
		out->smtp_failing += s->w[i].smtp_failing;
	}
	out->sent = s->sent;
	out->retried = s->retried;
	out->failed = s->failed;
	g_strlcpy(out->last_error, s->last_error, sizeof(out->last_error));
	g_mutex_unlock(&s->lock);
}
