/*
 * limit.c - send limits and the circuit breaker.  See limit.h.
 *
 * Two checkpoints, because either alone leaks: at queue time (inside the
 * ingest transaction: nothing is queued that a limit forbids, and the
 * audit trail says so on the ticket) and at send time (counts what was
 * really sent, so mail queued by any code path, or by an older instance,
 * or released after a hold, still obeys the limits).
 */
#include "limit.h"

#include "log.h"
#include "store_ingest.h"
#include "store_outbox.h"

#include <string.h>

#define LIMIT_DAY    86400
#define LIMIT_HOUR   3600
#define LIMIT_MINUTE 60

enum limit_verdict
limit_decide(const struct cfg_limits *l, const struct limit_counts *c,
             bool *trip_r, const char **why_r)
{
	*trip_r = false;
	*why_r = NULL;
	/* A mail a per-address/per-ticket limit forbids would never go out:
	 * suppress it even while the breaker holds everything else. */
	if (c->rcpt_day >= l->per_recipient_day) {
		*why_r = "limits.per_recipient_day reached";
		return LIMIT_SUPPRESS;
	}
	/* one sender behind many addresses (150 Reply-To, one From) */
	if (c->sender_day >= l->per_recipient_day) {
		*why_r = "limits.per_recipient_day reached for the sender";
		return LIMIT_SUPPRESS;
	}
	if (c->ticket_hour >= l->per_ticket_hour) {
		*why_r = "limits.per_ticket_hour reached";
		return LIMIT_SUPPRESS;
	}
	/* volume is not a loop: a first mail is never held and never
	 * trips the breaker, however many arrive at once */
	if (!c->repeat)
		return LIMIT_SEND;
	if (c->breaker_open) {
		*why_r = "held: circuit breaker open";
		return LIMIT_HOLD;
	}
	if (c->global_minute >= l->global_per_minute) {
		*trip_r = true;
		*why_r = "held: limits.global_per_minute repeats exceeded, "
		         "circuit breaker tripped";
		return LIMIT_HOLD;
	}
	return LIMIT_SEND;
}

/* limit_cap - how far the per-address, per-sender and per-ticket counts
 * need to go: limit_decide only asks whether one reached its limit (and,
 * for the repeat, whether it is above 0). */
static gint64
limit_cap(const struct cfg_limits *l)
{
	return MAX(MAX(l->per_recipient_day, l->per_ticket_hour), 1);
}

/* limit_hold_secs - how long to put held mail aside: until the breaker's
 * cool-down ends, but at most LIMIT_HOLD_SECS (an admin may reset it, or
 * another instance may trip it again, at any time). */
static int
limit_hold_secs(const struct store_breaker *b)
{
	gint64 left;

	if (b->until == 0)
		return LIMIT_HOLD_SECS;
	left = b->until - g_get_real_time() / G_USEC_PER_SEC;
	return (int)CLAMP(left, 1, LIMIT_HOLD_SECS);
}

/* limit_trip - open the breaker (once per storm: the caller saw it closed). */
static int
limit_trip(const struct cfg *cfg, struct store *st, gint64 ticket, gint64 count,
           const char *where)
{
	g_autofree char *why = g_strdup_printf(
	    "%" G_GINT64_FORMAT " or more repeated automatic mails (to a "
	    "recipient or sender that had one today) %s in the last minute, "
	    "limits.global_per_minute is %d",
	    count, where, cfg->limits.global_per_minute);
	int r = store_breaker_trip(st, LIMIT_BREAKER,
	                           cfg->limits.breaker_cooldown, why);

	if (r == 0 && ticket > 0)
		r = store_event_add(st, ticket, "tickd", "breaker-tripped", why,
		                    0);
	if (r == 0) {
		if (cfg->limits.breaker_cooldown > 0)
			log_warning("limit: circuit breaker tripped: %s; "
			            "automatic mail held for %ds",
			            why, cfg->limits.breaker_cooldown);
		else
			log_warning("limit: circuit breaker tripped: %s; "
			            "automatic mail held until `tickctl "
			            "breaker reset`",
			            why);
	}
	return r;
}

char *
limit_identity(const char *addr)
{
	const char *at, *plus;

	if (addr == NULL)
		return NULL;
	at = strrchr(addr, '@');
	plus = memchr(addr, '+', at ? (size_t)(at - addr) : strlen(addr));
	if (at == NULL || plus == NULL || plus == addr)
		return g_ascii_strdown(addr, -1);
	{
		g_autofree char *s =
		    g_strdup_printf("%.*s%s", (int)(plus - addr), addr, at);
		return g_ascii_strdown(s, -1);
	}
}

int
limit_check_queue(const struct cfg *cfg, struct store *st, gint64 ticket,
                  const char *rcpt, const char *sender, bool suppression,
                  bool *repeat_r, const char **why_r)
{
	struct limit_counts c = {0};
	struct store_queue_counts q;
	g_autofree char *who = limit_identity(sender ? sender : rcpt);
	enum limit_verdict v;
	bool trip;
	int r;

	*repeat_r = false;
	if ((r = store_queue_counts(st, rcpt, who, MAX(ticket, 0), LIMIT_DAY,
	                            LIMIT_HOUR, limit_cap(&cfg->limits),
	                            LIMIT_BREAKER, &q)) < 0)
		return r;
	if (suppression && q.suppressed) {
		*why_r = "address is suppressed after a bounce or complaint";
		return LIMIT_SUPPRESS;
	}
	c.rcpt_day = q.rcpt;
	c.ticket_hour = q.ticket;
	c.sender_day = q.sender;
	c.repeat = c.rcpt_day > 0 || c.sender_day > 0;
	*repeat_r = c.repeat;
	if ((c.global_minute = store_auto_count_global(
	         st, LIMIT_MINUTE, cfg->limits.global_per_minute)) < 0)
		return (int)c.global_minute;
	c.breaker_open = q.breaker_open;
	v = limit_decide(&cfg->limits, &c, &trip, why_r);
	if (trip &&
	    (r = limit_trip(cfg, st, ticket, c.global_minute, "queued")) < 0)
		return r;
	return (int)v;
}

/* limit_internal - mail to our own people: the kinds addressed to the
 * config's people only, and anything to an address in `people`. */
static bool
limit_internal(const struct cfg *cfg, const struct store_outmail *o)
{
	return strcmp(o->kind, "escalation") == 0 ||
	       strcmp(o->kind, "digest") == 0 ||
	       cfg_person(cfg, o->rcpt) != NULL;
}

int
limit_check_send(const struct cfg *cfg, struct store *st,
                 const struct store_outmail *o, const char **why_r)
{
	struct limit_counts c = {0};
	struct store_send_counts sc;
	struct store_breaker *b = &sc.breaker;
	enum limit_verdict v;
	bool trip;
	int r;

	/* Escalation notices and digests go to our own people: the limits
	 * guard customers (and a manager must hear about the eleventh breach
	 * of the day too), and a breaker tripped by customer-facing mail
	 * must never hold them; escalate.c batches them. */
	*why_r = NULL;
	if (limit_internal(cfg, o))
		return LIMIT_SEND;
	if ((r = store_send_counts(st, o->rcpt, MAX(o->ticket_id, 0), LIMIT_DAY,
	                           LIMIT_HOUR, limit_cap(&cfg->limits),
	                           LIMIT_BREAKER, &sc)) < 0)
		return r;
	c.rcpt_day = sc.rcpt;
	c.ticket_hour = sc.ticket;
	c.repeat = o->is_repeat;
	c.global_minute = store_sent_count_global(
	    st, LIMIT_MINUTE, cfg->limits.global_per_minute);
	if (c.global_minute < 0)
		return (int)c.global_minute;
	c.breaker_open = b->open;
	v = limit_decide(&cfg->limits, &c, &trip, why_r);
	if (trip && (r = limit_trip(cfg, st, o->ticket_id, c.global_minute,
	                            "sent")) < 0)
		return r;
	if (v == LIMIT_SUPPRESS) {
		r = store_outbox_suppress(st, o->id, *why_r);
		if (r == 0 && o->ticket_id > 0) {
			g_autofree char *d =
			    g_strdup_printf("%s %" G_GINT64_FORMAT " to %s: %s",
			                    o->kind, o->id, o->rcpt, *why_r);
			r = store_event_add(st, o->ticket_id, "tickd",
			                    "send-suppressed", d, 0);
		}
	} else if (v == LIMIT_HOLD) {
		if (trip && (r = store_breaker_get(st, LIMIT_BREAKER, b)) < 0)
			return r;
		r = store_outbox_retry(st, o->id, 0, *why_r,
		                       limit_hold_secs(b));
	}
	return r < 0 ? r : (int)v;
}

int
limit_outbox_gate(const struct cfg *cfg, struct store *st)
{
	struct store_breaker b;
	gint64 n;
	int r;

	(void)cfg;
	if ((r = store_breaker_get(st, LIMIT_BREAKER, &b)) < 0)
		return r;
	if (!b.open)
		return 0;
	n = store_outbox_hold(st, limit_hold_secs(&b),
	                      "held: circuit breaker open");
	return n < 0 ? (int)n : 1;
}

int
limit_breaker_reset(struct store *st, const char *actor)
{
	int was = store_breaker_reset(st, LIMIT_BREAKER, actor);
	gint64 n;

	if (was < 0)
		return was;
	if ((n = store_outbox_unhold(st)) < 0)
		return (int)n;
	return was;
}
