/*
 * outbox.c - send what the outbox holds.  See outbox.h.
 */
#include "outbox.h"

#include "compose.h"
#include "limit.h"
#include "log.h"
#include "store_ingest.h"
#include "store_outbox.h"

#include <string.h>

/* Mails per lease round trip, and how long a lease protects a mail. */
#define OUTBOX_BATCH     50
#define OUTBOX_LEASE_SEC 300

int
outbox_backoff(int attempts)
{
	/* 30 s, 1 min, 2 min ... capped at 1 h; jitter spreads instances. */
	int base = 30 << MIN(attempts > 0 ? attempts - 1 : 0, 7);

	if (base > 3600)
		base = 3600;
	return base + g_random_int_range(0, base / 4 + 1);
}

int
outbox_queue(const struct cfg *cfg, struct store *st, gint64 ticket,
             const char *kind, const char *label, const char *rcpt,
             const char *msgid, GBytes *wire, gint64 now, const char *sender,
             bool is_repeat, gint64 *mid_r)
{
	return outbox_queue_handed(cfg, st, ticket, kind, label, rcpt, msgid,
	                           wire, now, sender, is_repeat, NULL, mid_r);
}

int
outbox_queue_handed(const struct cfg *cfg, struct store *st, gint64 ticket,
                    const char *kind, const char *label, const char *rcpt,
                    const char *msgid, GBytes *wire, gint64 now,
                    const char *sender, bool is_repeat,
                    const struct outbox_hand *hand, gint64 *mid_r)
{
	char owner[OUTBOX_OWNER_MAX];
	g_autofree char *key = g_strconcat("mid:", msgid, NULL);
	g_autofree char *tag = compose_tag(cfg, ticket);
	g_autofree char *subj = g_strdup_printf("%s %s", tag, label);
	g_autofree char *env = NULL;
	gsize wlen;
	const void *wdata = g_bytes_get_data(wire, &wlen);
	struct store_message sm = {
	    .ticket_id = ticket,
	    .dedupe_key = key,
	    .message_id = msgid,
	    .direction = "out",
	    .role = "system",
	    .cls = "auto-reply",
	    .source = "tickd",
	    .from_addr = cfg->smtp.from,
	    .from_name = cfg->smtp.from_name,
	    .to_addrs = rcpt,
	    .subject = subj,
	    .body_text = "",
	    .received = now,
	    .raw = wdata,
	    .raw_len = wlen,
	};
	int r;

	if ((r = store_message_add(st, &sm, mid_r)) < 0)
		return r;
	env = compose_bounce_address(cfg, ticket);
	if (hand == NULL || hand->take == NULL ||
	    !hand->take(hand->ctx, *mid_r, owner, sizeof(owner)))
		return store_outbox_add_auto(st, ticket, *mid_r, kind, env,
		                             rcpt, wdata, wlen, sender,
		                             is_repeat, NULL, 0);
	return store_outbox_add_auto(st, ticket, *mid_r, kind, env, rcpt, wdata,
	                             wlen, sender, is_repeat, owner,
	                             OUTBOX_LEASE_SEC);
}

/* outbox_limits - the send-side limits (limit.c records the verdict). */
static int
outbox_limits(const struct cfg *cfg, struct store *st,
              const struct store_outmail *o)
{
	const char *why = NULL;
	int r = limit_check_send(cfg, st, o, &why);

	if (r > 0)
		log_notice("outbox: %s %" G_GINT64_FORMAT " to '%s' %s: %s",
		           o->kind, o->id, o->rcpt,
		           r == LIMIT_HOLD ? "held" : "suppressed", why);
	return r;
}

/*
 * outbox_record - record what the SMTP server said about o (sr from
 * smtp_send, code its reply): sent; failed for good (a 5xx, with a
 * send-failed event on the ticket, or retried for longer than
 * smtp.max_attempt_age); or due again after a backoff, which closes the
 * session and, when the server gave no reply at all
 * or refused the session, sets *down_r and keeps the mail due (the server
 * is down or full, not this mail at fault).  0 or -E.
 */
static int
outbox_record(const struct cfg *cfg, struct store *st, struct smtp *smtp,
              const struct store_outmail *o, int sr, int code,
              struct outbox_stats *stats, bool *down_r)
{
	int r;

	if (sr == 0) {
		r = store_outbox_sent(st, o->id, code);
		if (r < 0)
			stats->unrecorded = o->id;
		stats->sent++;
		log_info("outbox: sent %s %" G_GINT64_FORMAT " to '%s'",
		         o->kind, o->id, o->rcpt);
	} else if (sr == -EBADMSG) {
		r = store_outbox_failed(st, o->id, code, smtp_error(smtp));
		if (r == 0 && o->ticket_id)
			r = store_event_add(st, o->ticket_id, "tickd",
			                    "send-failed", smtp_error(smtp), 0);
		stats->failed++;
		log_warning("outbox: send %s %" G_GINT64_FORMAT
		            " to '%s': %s, giving up",
		            o->kind, o->id, o->rcpt, smtp_error(smtp));
	} else if (g_get_real_time() / G_USEC_PER_SEC - o->created >
	           cfg->smtp.max_attempt_age) {
		r = store_outbox_failed(st, o->id, code, smtp_error(smtp));
		stats->failed++;
		log_warning("outbox: send %s %" G_GINT64_FORMAT
		            " to '%s': %s, too old, giving up",
		            o->kind, o->id, o->rcpt, smtp_error(smtp));
	} else {
		/* No reply at all says nothing about this mail:
		 * keep it due (the caller backs off from the
		 * server), so that it still goes before younger
		 * mails, in order of age. */
		/* a refused session (smtp.h) is not about this mail either */
		bool session = code == 0 || sr == -ECONNREFUSED;
		int delay = session ? 0 : outbox_backoff(o->attempts);
		r = store_outbox_retry(st, o->id, code, smtp_error(smtp),
		                       delay);
		stats->retried++;
		log_warning("outbox: send %s %" G_GINT64_FORMAT
		            " to '%s': %s, retry in %ds",
		            o->kind, o->id, o->rcpt, smtp_error(smtp), delay);
		/* 4xx for one recipient says nothing about the
		 * server; no reply at all means it is down. */
		if (session)
			*down_r = true;
		stats->refused += sr == -ECONNREFUSED;
		smtp_close(smtp);
	}
	return r;
}

int
outbox_drain(const struct cfg *cfg, struct store *st, struct smtp *smtp,
             int max, struct outbox_stats *stats)
{
	return outbox_drain_as(cfg, st, smtp, cfg->instance, max, stats);
}

/* One drain's progress over its batches.  (The SMTP session's own count
 * of mails, renewed before the server's limit, is smtp.c's.) */
struct outbox_run {
	int done; /* mails handed to the server */
	bool transport_down;
};

/*
 * outbox_send - send the mails of batch (leased to us: claimed, or born
 * leased), each past the send limits first; after a transport failure the
 * rest go back to the queue untried.  0 or -E from the store.
 */
static int
outbox_send(const struct cfg *cfg, struct store *st, struct smtp *smtp,
            GPtrArray *batch, struct outbox_stats *stats,
            struct outbox_run *run)
{
	int r;

	for (guint i = 0; i < batch->len; i++) {
		struct store_outmail *o = batch->pdata[i];
		gsize len;
		const void *data = g_bytes_get_data(o->data, &len);
		int code = 0, sr;

		if (run->transport_down) {
			/* give the rest of the lease back at once */
			r = store_outbox_retry(st, o->id, 0,
			                       "not tried: server down", 0);
			if (r < 0)
				return r;
			continue;
		}
		if (stats->oldest == 0 || o->created < stats->oldest)
			stats->oldest = o->created;
		stats->claimed++;
		if ((r = outbox_limits(cfg, st, o)) != LIMIT_SEND) {
			if (r < 0)
				return r;
			stats->held += r == LIMIT_HOLD;
			stats->suppressed += r == LIMIT_SUPPRESS;
			continue;
		}
		sr = smtp_send(smtp, o->env_from, o->rcpt, data, len, &code);
		run->done++;
		r = outbox_record(cfg, st, smtp, o, sr, code, stats,
		                  &run->transport_down);
		if (r < 0)
			return r;
	}
	return 0;
}

int
outbox_drain_as(const struct cfg *cfg, struct store *st, struct smtp *smtp,
                const char *owner, int max, struct outbox_stats *stats)
{
	g_autoptr(GPtrArray) batch =
	    g_ptr_array_new_with_free_func(store_outmail_free);
	struct outbox_run run = {0};
	int r = 0;

	while (!run.transport_down && (max == 0 || run.done < max)) {
		g_ptr_array_set_size(batch, 0);
		/* an open breaker puts the repeats aside; everything else,
		 * first acknowledgements and notices to our own people, goes
		 * on */
		if ((r = limit_outbox_gate(cfg, st)) < 0)
			return r;
		r = store_outbox_claim(st, owner, OUTBOX_LEASE_SEC,
		                       max ? MIN(OUTBOX_BATCH, max - run.done)
		                           : OUTBOX_BATCH,
		                       batch);
		if (r < 0 || batch->len == 0)
			break;
		if ((r = outbox_send(cfg, st, smtp, batch, stats, &run)) < 0)
			return r;
	}
	return r;
}

int
outbox_drain_mine(const struct cfg *cfg, struct store *st, struct smtp *smtp,
                  const char *owner, const gint64 *mids, int n, GArray *found,
                  struct outbox_stats *stats)
{
	g_autoptr(GPtrArray) batch =
	    g_ptr_array_new_with_free_func(store_outmail_free);
	struct outbox_run run = {0};
	int r;

	/* half the lease left at least: a mail is sent well within that
	 * (smtp.timeout), before anyone else may take it; an older one waits
	 * for its lease to end, then any sender claims it */
	r = store_outbox_mine(st, owner, OUTBOX_LEASE_SEC / 2, mids, n, batch,
	                      found);
	if (r < 0)
		return r;
	return outbox_send(cfg, st, smtp, batch, stats, &run);
}
