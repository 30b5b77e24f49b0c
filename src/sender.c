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
/* an empty round re-uses the outbox's next due time asked this recently
 * (ms): in a burst most rounds find nothing (another worker took the
 * commit's mails), and the question walks the dead versions of every
 * mail just sent (2 ms a time, measured) */
#define SENDER_DUE_REUSE_MS 1000
/* Mail handed to a worker as it is queued (sender_take): at most this
 * many wait for one worker, so that a slow one never holds much of a
 * burst, which the other workers could not claim until its leases ran
 * out; one not seen committed this long is dropped (rolled back, or its
 * lease went with a lost session: claimed as any other then). */
#define SENDER_HAND_MAX     (2 * SENDER_ROUND)
#define SENDER_HAND_KEEP_MS 30000
/* a worker claims at least this often (ms) when it runs, announced or
 * not */
#define SENDER_CLAIM_MS 1000
/* another worker "works" if it sent a mail this recently (ms) */
#define SENDER_WORKS_MS 10000
/* the smtp-connections row of tickctl status: at most this often (ms)
 * while sending; an idle round writes the final figures */
#define SENDER_SHOW_MS 5000

struct sender_worker {
	struct sender *s;
	GThread *thread;
	int index;
	char owner[128]; /* "instance#n": leases and the liveness lock */
	bool db_up, smtp_failing;
	gint64 last_ok; /* monotonic ms of its last accepted mail, 0 never */
	gint64 opened;  /* monotonic ms it was last let send */
	/* struct sender_hand: mail born leased to this worker, oldest first;
	 * appended by sender_take, trimmed by the worker (under s->lock) */
	GArray *hand;
};

struct sender_hand {
	gint64 mid; /* the mail's message row */
	gint64 at;  /* monotonic ms it was handed */
};

struct sender {
	const struct cfg *cfg;
	GMutex lock;
	GCond cond;
	bool stop;
	unsigned kicks; /* bumped by sender_kick: a wake-up is never lost */
	/* bumped by sender_kick, and by sender_wake after a mail sender_take
	 * did not take (untaken): mail may wait to be claimed (a wake for
	 * handed mail alone is not that) */
	unsigned claims;
	bool untaken;
	struct sender_worker *w;
	int n;
	int hand_next;   /* the worker sender_take tries first, 0-based */
	int cap_threads; /* workers allocated (s->w) */
	long long sent, retried, failed;
	long long commands; /* SMTP commands of all workers */
	char last_error[256];
	/* worker i (1-based) sends while i <= open; the others park with
	 * no connections.  Fixed: open = n.  Auto: pool decides. */
	bool autosize;
	int open, peak;
	struct sender_pool pool;
	char shown[192]; /* the smtp-connections row as last written */
	gint64 shown_at; /* monotonic ms */
	/* held over sender_publish's reading of the figures and its write,
	 * so the row written last is the newest one (taken before lock) */
	GMutex publish_lock;
};

/* sender_wait - wait up to secs, or until a kick after the kick count
 * seen (NULL: no kick wakes); false when stopping. */
static bool
sender_wait(struct sender *s, gint64 secs, const unsigned *seen)
{
	gint64 end = g_get_monotonic_time() + secs * G_USEC_PER_SEC;
	bool go;

	g_mutex_lock(&s->lock);
	while (!s->stop && (seen == NULL || s->kicks == *seen))
		if (!g_cond_wait_until(&s->cond, &s->lock, end))
			break;
	go = !s->stop;
	g_mutex_unlock(&s->lock);
	return go;
}

/* sender_sleep - wait up to secs, or until a kick when kickable; false
 * when stopping. */
static bool
sender_sleep(struct sender *s, gint64 secs, bool kickable)
{
	unsigned seen;

	g_mutex_lock(&s->lock);
	seen = s->kicks;
	g_mutex_unlock(&s->lock);
	return sender_wait(s, secs, kickable ? &seen : NULL);
}

/* ---- auto sizing: pure, times injected (ms, any monotonic clock) ---- */

void
sender_pool_init(struct sender_pool *p, int cap, gint64 now)
{
	memset(p, 0, sizeof(*p));
	p->cap = MAX(cap, 1);
	p->open = 1;
	p->changed = now - SENDER_GROW_MS; /* the first backlog may grow */
	p->busy = now;
}

bool
sender_backlog(const struct outbox_stats *os, gint64 now_s)
{
	/* a round that sent nothing says the server is failing, not that
	 * more connections would help */
	if (os->sent == 0)
		return false;
	return os->claimed >= SENDER_ROUND ||
	       (os->oldest > 0 && now_s - os->oldest > SENDER_LAG_S);
}

int
sender_pool_cap(const struct sender_pool *p, gint64 now)
{
	if (p->limit > 0 && now < p->limit_until)
		return MIN(p->cap, p->limit);
	return p->cap;
}

int
sender_pool_round(struct sender_pool *p, bool backlog, gint64 now)
{
	int cap;

	if (p->limit > 0 && now >= p->limit_until)
		p->limit = 0; /* the server may allow more by now: try */
	cap = sender_pool_cap(p, now);
	if (backlog) {
		p->busy = now;
		/* one at a time: the new one's rounds say whether more help */
		if (p->open < cap && now - p->changed >= SENDER_GROW_MS) {
			p->open++;
			p->changed = now;
		}
	} else if (p->open > 1 && now - p->busy >= SENDER_IDLE_MS &&
	           now - p->changed >= SENDER_IDLE_MS) {
		p->open--;
		p->changed = now;
	}
	if (p->open > cap) {
		p->open = cap;
		p->changed = now;
	}
	return p->open;
}

bool
sender_pool_refused(struct sender_pool *p, int working, gint64 now)
{
	bool news = p->limit == 0 || now >= p->limit_until;

	p->limit = MAX(working, 1);
	p->limit_until = now + SENDER_LIMIT_MS;
	if (p->open > p->limit) {
		p->open = p->limit;
		p->changed = now;
	}
	return news;
}

static gint64
sender_ms(void)
{
	return g_get_monotonic_time() / 1000;
}

static void
sender_note(struct sender *s, const struct outbox_stats *os, long long commands,
            const char *err)
{
	g_mutex_lock(&s->lock);
	s->sent += os->sent;
	s->retried += os->retried;
	s->failed += os->failed;
	s->commands += commands;
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

/* One sender thread's state between rounds. */
struct sender_run {
	struct sender_worker *w;
	struct sender *s;
	const struct cfg *cfg;
	struct smtp *smtp; /* owned */
	struct store *st;  /* owned; NULL until the first connect */
	int db_failures, smtp_failures;
	int due_failures;   /* store_outbox_next_due failed in a row */
	char db_error[256]; /* the last database failure, for tickctl status */
	const char *shown;  /* state last written for tickctl status */
	gint64 unrecorded;  /* accepted by SMTP, not yet marked sent */
	unsigned kicks;     /* sender_kick's count when this round began */
	unsigned claims;    /* s->claims when it last claimed */
	gint64 claimed_at;  /* monotonic ms of its last claim, 0 never */
	bool claim_more;    /* that claim filled its round: more may wait */
	gint64 due_asked;   /* monotonic ms of the last next-due answer */
	gint64 due_at;      /* ... and the monotonic ms it named */
	long long commands; /* smtp_commands(smtp) already counted */
};

/* sender_db - a database session, taking back this worker's leases of a
 * lost one: nobody else may hold its name, and it sends nothing
 * meanwhile.  1 connected, 0 after a backoff sleep, -1 when stopping. */
static int
sender_db(struct sender_run *x)
{
	int r;

	if (x->st != NULL && store_connected(x->st))
		return 1;
	if (x->st != NULL)
		r = store_reconnect(x->st);
	else if ((r = store_open(x->cfg->db_conninfo, &x->st)) == 0)
		/* A "sent" mark is a commit of its own per mail, whose
		 * wait for the WAL flush is not worth it: a database crash
		 * may lose the last ones, those mails go again (store.h). */
		store_lazy_commit(x->st);
	if (r == 0)
		r = store_instance_register(x->st, x->w->owner);
	if (r == 0 && x->unrecorded > 0 &&
	    (r = store_outbox_sent(x->st, x->unrecorded, 250)) == 0)
		x->unrecorded = 0;
	if (r == 0 && (r = store_outbox_release(x->st, x->w->owner)) > 0) {
		log_notice("sender %d: took back %d lease(s) of its lost "
		           "session",
		           x->w->index, r);
		r = 0;
	}
	sender_flags(x->w, r == 0, x->w->smtp_failing);
	if (r < 0) {
		gint64 d = backoff_secs(++x->db_failures, SENDER_MAX_BACKOFF);

		log_warning("sender %d: database: %s, retry in "
		            "%" G_GINT64_FORMAT "s",
		            x->w->index, x->st ? store_error(x->st) : "", d);
		g_strlcpy(x->db_error, x->st ? store_error(x->st) : "",
		          sizeof(x->db_error));
		return sender_sleep(x->s, d, false) ? 0 : -1;
	}
	if (x->db_failures > 0) {
		/* tickctl status shows the outage's error (the main loop's
		 * own connection may notice the outage later, or never) */
		log_notice("sender %d: database is back", x->w->index);
		(void)store_conn_state(x->st, x->cfg->instance, "database",
		                       "up",
		                       x->db_error[0] ? x->db_error : NULL);
	}
	x->db_failures = 0;
	return 1;
}

/* sender_show - record the SMTP state for tickctl status once per
 * change. */
static void
sender_show(struct sender_run *x, const char *state, const char *error)
{
	if (x->shown != NULL && strcmp(x->shown, state) == 0)
		return;
	if (store_conn_state(x->st, x->cfg->instance, "smtp", state, error) ==
	    0)
		x->shown = state;
}

/*
 * sender_publish - the smtp-connections row of tickctl status: how many
 * connections are open, the cap and the server's limit, and the SMTP
 * commands (round trips) per mail sent since start.  Written when it
 * changed, at most every SENDER_SHOW_MS unless force; err (NULL: none)
 * becomes its last_error.
 */
static void
sender_publish(struct sender_run *x, bool force, const char *err)
{
	struct sender *s = x->s;
	gint64 now = sender_ms();
	GString *t = g_string_new(NULL);
	bool write = false;

	g_mutex_lock(&s->publish_lock);
	g_mutex_lock(&s->lock);
	if (s->autosize) {
		g_string_printf(t, "%d open (auto, at most %d, peak %d)",
		                s->open, s->pool.cap, s->peak);
		if (s->pool.limit > 0 && now < s->pool.limit_until)
			g_string_append_printf(
			    t, ", server limit %d for %" G_GINT64_FORMAT " min",
			    s->pool.limit,
			    (s->pool.limit_until - now) / 60000 + 1);
	} else
		g_string_printf(t, "%d open (fixed)", s->open);
	if (s->sent > 0)
		g_string_append_printf(t, ", %.2f commands/mail over %lld",
		                       (double)s->commands / (double)s->sent,
		                       s->sent);
	if ((err != NULL || strcmp(t->str, s->shown) != 0) &&
	    (force || now - s->shown_at >= SENDER_SHOW_MS)) {
		g_strlcpy(s->shown, t->str, sizeof(s->shown));
		s->shown_at = now;
		write = true;
	}
	g_mutex_unlock(&s->lock);
	/* a failed write is retried with the next change */
	if (write && store_conn_state(x->st, x->cfg->instance,
	                              "smtp-connections", t->str, err) < 0) {
		g_mutex_lock(&s->lock);
		s->shown[0] = '\0';
		g_mutex_unlock(&s->lock);
	}
	g_mutex_unlock(&s->publish_lock);
	g_string_free(t, TRUE);
}

/* sender_resize - auto: feed the round's backlog to the pool; a change
 * wakes the parked workers (or the one to park). */
static void
sender_resize(struct sender_run *x, const struct outbox_stats *os)
{
	struct sender *s = x->s;
	bool backlog = sender_backlog(os, g_get_real_time() / G_USEC_PER_SEC);
	int was, now_open;

	g_mutex_lock(&s->lock);
	was = s->open;
	now_open = sender_pool_round(&s->pool, backlog, sender_ms());
	if (now_open != was) {
		s->open = now_open;
		s->peak = MAX(s->peak, now_open);
		s->kicks++;
		g_cond_broadcast(&s->cond);
	}
	g_mutex_unlock(&s->lock);
	if (now_open > was)
		log_notice("sender: mail is waiting, %d SMTP connections",
		           now_open);
	else if (now_open < was)
		log_info("sender: idle, %d SMTP connection(s)", now_open);
	sender_publish(x, now_open != was, NULL);
}

/* sender_others_work - how many other open workers work: not in SMTP
 * backoff, and sent a mail lately or were opened lately (one that took
 * the last free slot may not have finished its first round yet). */
static int
sender_others_work(struct sender_run *x)
{
	struct sender *s = x->s;
	gint64 now = sender_ms();
	int n = 0;

	g_mutex_lock(&s->lock);
	for (int i = 0; i < s->n; i++) {
		struct sender_worker *o = &s->w[i];

		n += o != x->w && o->index <= s->open && !o->smtp_failing &&
		     now - MAX(o->last_ok, o->opened) < SENDER_WORKS_MS;
	}
	g_mutex_unlock(&s->lock);
	return n;
}

/* sender_limit - auto: this extra connection was refused while working
 * others worked: that many is the server's limit for a while.  The mail
 * it tried is due again at once (outbox_record).  True when this worker
 * is now beyond the limit and parks; false when it is within it (it lost
 * a race for a slot) and backs off like any failing one. */
static bool
sender_limit(struct sender_run *x, int working)
{
	struct sender *s = x->s;
	bool news, park;

	g_mutex_lock(&s->lock);
	news = sender_pool_refused(&s->pool, working, sender_ms());
	s->open = s->pool.open;
	park = x->w->index > s->open;
	s->kicks++;
	g_cond_broadcast(&s->cond);
	g_mutex_unlock(&s->lock);
	if (news)
		log_notice("sender %d: the SMTP server refused a connection "
		           "while %d worked (%s): using at most %d for %d min",
		           x->w->index, working, smtp_error(x->smtp), working,
		           SENDER_LIMIT_MS / 60000);
	sender_publish(x, true, smtp_error(x->smtp));
	return park;
}

/*
 * sender_turn - wait while this worker is beyond the open count, with its
 * SMTP and database connections closed (a parked worker costs the
 * servers nothing).  A mail sent but not recorded keeps it working until
 * it is.  False when stopping.
 */
static bool
sender_turn(struct sender_run *x)
{
	struct sender *s = x->s;
	bool go, parked = false;

	g_mutex_lock(&s->lock);
	while (!s->stop && x->w->index > s->open && x->unrecorded == 0) {
		if (!parked) {
			x->w->smtp_failing = false;
			x->w->db_up = false;
			g_mutex_unlock(&s->lock);
			/* this worker may have counted the burst's last
			 * mails after the one still open last wrote the
			 * figures, and that one may now sleep a minute */
			if (x->st != NULL && s->autosize)
				sender_publish(x, true, NULL);
			smtp_close(x->smtp);
			store_free(&x->st);
			x->shown = NULL;
			parked = true;
			g_mutex_lock(&s->lock);
			continue;
		}
		g_cond_wait(&s->cond, &s->lock);
	}
	if (parked)
		x->w->opened = sender_ms();
	go = !s->stop;
	g_mutex_unlock(&s->lock);
	return go;
}

/*
 * sender_hand_trim - forget the first n handed mails that found lists
 * (sent or otherwise dealt with) or that were handed too long ago.
 */
static void
sender_hand_trim(struct sender_worker *w, guint n, const GArray *found,
                 gint64 now)
{
	GArray *h = w->hand;
	guint keep = 0;

	g_mutex_lock(&w->s->lock);
	n = MIN(n, h->len);
	for (guint i = 0; i < n; i++) {
		struct sender_hand e = g_array_index(h, struct sender_hand, i);
		bool gone = now - e.at >= SENDER_HAND_KEEP_MS;

		for (guint j = 0; j < found->len && !gone; j++)
			gone = g_array_index(found, gint64, j) == e.mid;
		if (!gone)
			g_array_index(h, struct sender_hand, keep++) = e;
	}
	/* (sender_take appended behind the n meanwhile) */
	if (keep < n)
		g_array_remove_range(h, keep, n - keep);
	g_mutex_unlock(&w->s->lock);
}

/*
 * sender_mine - send the mail handed to this worker (sender_take) that
 * has been committed since; 0 or -E from the store.
 */
static int
sender_mine(struct sender_run *x, struct outbox_stats *os)
{
	gint64 mids[SENDER_ROUND];
	g_autoptr(GArray) found = g_array_new(FALSE, FALSE, sizeof(gint64));
	guint n;
	int r;

	g_mutex_lock(&x->s->lock);
	n = MIN(x->w->hand->len, SENDER_ROUND);
	for (guint i = 0; i < n; i++)
		mids[i] = g_array_index(x->w->hand, struct sender_hand, i).mid;
	g_mutex_unlock(&x->s->lock);
	if (n == 0)
		return 0;
	r = outbox_drain_mine(x->cfg, x->st, x->smtp, x->w->owner, mids, (int)n,
	                      found, os);
	if (r < 0)
		return r;
	sender_hand_trim(x->w, n, found, sender_ms());
	return 0;
}

bool
sender_take(void *ctx, gint64 mid, char *owner, size_t n)
{
	struct sender *s = ctx;
	struct sender_hand e = {.mid = mid, .at = sender_ms()};
	bool took = false;

	g_mutex_lock(&s->lock);
	for (int k = 0; k < s->open && !took; k++) {
		int i = (s->hand_next + k) % s->open;
		struct sender_worker *w = &s->w[i];

		if (i >= s->n || !w->db_up || w->smtp_failing ||
		    w->hand->len >= SENDER_HAND_MAX)
			continue;
		g_array_append_val(w->hand, e);
		g_strlcpy(owner, w->owner, n);
		s->hand_next = (i + 1) % s->open;
		took = true;
	}
	if (!took)
		s->untaken = true; /* claimed after its COMMIT (sender_wake) */
	g_mutex_unlock(&s->lock);
	return took;
}

/* sender_smtp_failing - a round that only retried: the server is down or
 * refusing, so back off whatever the kicks say; false when stopping. */
static bool
sender_smtp_failing(struct sender_run *x)
{
	gint64 d = backoff_secs(++x->smtp_failures, SENDER_MAX_BACKOFF);
	int r;

	sender_flags(x->w, true, true);
	/* what was handed to this worker goes back to the queue, for the
	 * other workers (or instances) while this one waits */
	if ((r = store_outbox_release(x->st, x->w->owner)) > 0)
		log_info("sender %d: gave back %d handed mail(s)", x->w->index,
		         r);
	sender_show(x, "failing", smtp_error(x->smtp));
	log_notice("sender %d: SMTP failing (%s), next try in "
	           "%" G_GINT64_FORMAT "s",
	           x->w->index, smtp_error(x->smtp), d);
	return sender_sleep(x->s, d, false);
}

/*
 * sender_idle - nothing was sent: sleep until the next mail is due (at
 * most SENDER_IDLE_WAIT; a kick since the round began wakes us), or after
 * a database error a backoff (an error is not an empty outbox; a lost
 * connection is reconnected on the next round).  False when stopping.
 *
 * The due time asked less than SENDER_DUE_REUSE_MS ago is used again: a
 * mail committed since then comes with a kick, and the kick count taken
 * before the round's claim means one that came during the round is not
 * slept through.
 */
static bool
sender_idle(struct sender_run *x)
{
	gint64 now = sender_ms(), due = SENDER_IDLE_WAIT;
	int r = 0;

	if (x->due_asked > 0 && now - x->due_asked < SENDER_DUE_REUSE_MS)
		due = (MAX(x->due_at - now, 0) + 999) / 1000;
	else if ((r = store_outbox_next_due(x->st, &due)) == 0) {
		x->due_asked = now;
		x->due_at = now + due * 1000;
	}
	if (r < 0) {
		due = backoff_secs(++x->due_failures, SENDER_MAX_BACKOFF);
		sender_flags(x->w, store_connected(x->st), x->w->smtp_failing);
		g_strlcpy(x->db_error, store_error(x->st), sizeof(x->db_error));
		log_warning("sender %d: database: %s, retry in "
		            "%" G_GINT64_FORMAT "s",
		            x->w->index, store_error(x->st), due);
		return sender_sleep(x->s, due, false);
	}
	x->due_failures = 0;
	sender_publish(x, true, NULL); /* the figures after a burst */
	/* due 0 with nothing claimed: another sender holds those mails;
	 * look again a little later */
	return sender_wait(x->s, CLAMP(due, 1, SENDER_IDLE_WAIT), &x->kicks);
}

/* sender_round - one outbox_drain_as of up to SENDER_ROUND mails, then
 * the wait its outcome asks for; false when stopping.
 *
 * Rounds of SENDER_ROUND: a stop request waits for that many mails at
 * most (~0.1 s), several senders keep close to the order of age, and
 * each claim (an index scan that gets slower with the dead rows a busy
 * outbox leaves until autovacuum comes) serves many mails. */
static bool
sender_round(struct sender_run *x)
{
	struct outbox_stats os = {0};
	long long cmds;
	int r, working;
	gint64 now = sender_ms();
	bool claim;

	g_mutex_lock(&x->s->lock);
	x->kicks = x->s->kicks;
	/* A claim walks every mail in flight (and the dead versions of
	 * those just sent): only when mail may wait for one.  A wake for
	 * handed mail alone is not that; the timer catches what nobody
	 * announced (another instance's lease running out, a retry due). */
	claim = x->claims != x->s->claims || x->claim_more ||
	        now - x->claimed_at >= SENDER_CLAIM_MS;
	if (claim)
		x->claims = x->s->claims;
	g_mutex_unlock(&x->s->lock);
	/* what was handed to it first, then anything due; not again to a
	 * server just found down */
	r = sender_mine(x, &os);
	if (r == 0 && claim && os.retried == 0) {
		int before = os.claimed;

		r = outbox_drain_as(x->cfg, x->st, x->smtp, x->w->owner,
		                    SENDER_ROUND, &os);
		x->claimed_at = now;
		x->claim_more = os.claimed - before >= SENDER_ROUND;
	}
	cmds = smtp_commands(x->smtp);

	if (os.unrecorded > 0)
		x->unrecorded = os.unrecorded;
	sender_note(x->s, &os, cmds - x->commands,
	            os.retried > 0 || os.failed > 0 ? smtp_error(x->smtp)
	                                            : NULL);
	x->commands = cmds;
	if (os.sent > 0) {
		g_mutex_lock(&x->s->lock);
		x->w->last_ok = sender_ms();
		g_mutex_unlock(&x->s->lock);
	}
	/* an extra connection refused while others work: the server's
	 * limit, not an outage (the first connection's refusal is one) */
	if (x->s->autosize && os.refused > 0 && os.sent == 0 &&
	    x->w->index > 1 && (working = sender_others_work(x)) > 0 &&
	    sender_limit(x, working))
		return true; /* parks */
	if (x->s->autosize && r == 0)
		sender_resize(x, &os);
	if (r < 0) {
		/* the store: a lost connection is reconnected on the next
		 * round; any other error must not spin */
		if (store_connected(x->st))
			return sender_sleep(
			    x->s,
			    backoff_secs(++x->db_failures, SENDER_MAX_BACKOFF),
			    false);
		return true;
	}
	x->db_failures = 0;
	if (os.retried > 0 && os.sent == 0)
		return sender_smtp_failing(x);
	if (x->smtp_failures > 0)
		log_notice("sender %d: SMTP works again", x->w->index);
	x->smtp_failures = 0;
	sender_flags(x->w, true, false);
	if (os.sent > 0)
		sender_show(x, "up", NULL);
	if (os.sent + os.failed + os.retried > 0) {
		x->due_asked = 0; /* what was due has changed */
		return true;      /* there may be more right away */
	}
	return sender_idle(x);
}

static gpointer
sender_main(gpointer ud)
{
	struct sender_worker *w = ud;
	struct sender_run x = {.w = w, .s = w->s, .cfg = w->s->cfg};
	int r;

	x.smtp = sender_smtp_new(x.cfg);
	while (sender_turn(&x)) {
		r = sender_db(&x);
		if (r < 0 || (r > 0 && !sender_round(&x)))
			break;
	}
	smtp_free(&x.smtp);
	store_free(&x.st);
	return NULL;
}

struct sender *
sender_start(const struct cfg *cfg, int n)
{
	struct sender *s = g_new0(struct sender, 1);

	s->cfg = cfg;
	g_mutex_init(&s->lock);
	g_mutex_init(&s->publish_lock);
	g_cond_init(&s->cond);
	/* auto: a thread per possible connection, all but one parked */
	s->autosize = n == 0;
	if (s->autosize) {
		n = cfg->smtp.max_connections;
		sender_pool_init(&s->pool, n, sender_ms());
		s->open = s->peak = 1;
	} else
		s->open = s->peak = n;
	s->w = g_new0(struct sender_worker, MAX(n, 1));
	s->cap_threads = MAX(n, 1);
	for (int i = 0; i < MAX(n, 1); i++) {
		g_autoptr(GError) err = NULL;
		char name[16];
		struct sender_worker *w = &s->w[s->n];

		w->s = s;
		w->index = i + 1;
		w->hand = g_array_new(FALSE, FALSE, sizeof(struct sender_hand));
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
	if (s->autosize)
		s->pool.cap = s->n;
	return s;
}

/* sender_signal - wake the workers; to claim as well when claim (or when
 * sender_take left mail to be claimed). */
static void
sender_signal(struct sender *s, bool claim)
{
	if (s == NULL)
		return;
	g_mutex_lock(&s->lock);
	s->kicks++;
	if (claim || s->untaken)
		s->claims++;
	s->untaken = false;
	g_cond_broadcast(&s->cond);
	g_mutex_unlock(&s->lock);
}

void
sender_kick(struct sender *s)
{
	sender_signal(s, true);
}

void
sender_wake(struct sender *s)
{
	sender_signal(s, false);
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
	for (int i = 0; i < s->cap_threads; i++)
		if (s->w[i].hand != NULL)
			g_array_unref(s->w[i].hand);
	g_free(s->w);
	g_mutex_clear(&s->lock);
	g_mutex_clear(&s->publish_lock);
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
	out->open = s->open;
	out->limit = s->pool.limit;
	out->commands = s->commands;
	out->sent = s->sent;
	out->retried = s->retried;
	out->failed = s->failed;
	g_strlcpy(out->last_error, s->last_error, sizeof(out->last_error));
	g_mutex_unlock(&s->lock);
}
