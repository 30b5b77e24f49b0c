/*
 * store.c - PostgreSQL access.  See store.h.
 *
 * Statements are named in one table and prepared lazily on the current
 * connection: after a reconnect every "prepared" flag is cleared, so the
 * next use prepares again (a reset loses prepared statements, SQLSTATE
 * 26000 otherwise).
 */
#include "store.h"

#include "json.h"
#include "log.h"
#include "report.h"

#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

enum store_stmt {
	S_CURSOR_GET,
	S_CURSOR_SET,
	S_CURSOR_RESET,
	S_CURSOR_MARKED,
	S_CURSOR_OK,
	S_CURSOR_ERR,
	S_DEDUPE,
	S_BY_MSGIDS,
	S_TICKET_GET,
	S_IS_PART,
	S_PART_DOMAIN,
	S_TICKET_NEW,
	S_TOUCH_CUST,
	S_TOUCH_AGENT,
	S_SET_STATUS,
	S_PART_ADD,
	S_MSG_ADD,
	S_ATT_ADD,
	S_EVENT_ADD,
	S_OUT_ADD,
	S_SUPPRESSED,
	S_SUPPRESS,
	S_OUT_CLAIM,
	S_OUT_SENT,
	S_OUT_RETRY,
	S_OUT_FAILED,
	S_OUT_NEXT,
	S_AGENT_TOUCH,
	S_EVENT_ATTACH,
	S_PART_SET,
	S_CSAT_DUE,
	S_CSAT_REQUEST,
	S_CSAT_RATE,
	S_DIGEST_CLAIM,
	S_EVENT_GLOBAL,
	S_AUTO_GLOBAL,
	S_AUTO_COUNTS,
	S_AUTO_SENDER,
	S_SENT_COUNTS,
	S_SENT_GLOBAL,
	S_OUT_SUPPRESS,
	S_OUT_HOLD,
	S_OUT_UNHOLD,
	S_BREAKER_GET,
	S_BREAKER_TRIP,
	S_BREAKER_RESET,
	S_OUT_RCPT_BY_MSGID,
	/* SLA and escalation (issue 7) */
	S_SLA_LOCK,
	S_SLA_DUE,
	S_SLA_CHANGES,
	S_SLA_CHANGE_DEL,
	S_SLA_SAVE,
	S_SLA_NOTICE_ADD,
	S_SLA_PENDING,
	S_SLA_DIGESTS,
	S_SLA_NOTICE_SENT,
	S_SLA_DIGEST_SET,
	S_SLA_NEXT,
	S_SLA_IMMEDIATE,
	S_SLA_INFO,
	S_QUARANTINE_ADD,
	S__COUNT
};

/*
 * A live instance holds a shared advisory lock on (STORE_INSTANCE_CLASS,
 * hash of its name) on every connection that may hold outbox leases
 * (store_instance_register).  A lease whose owner holds no such lock any
 * more belongs to a dead instance (kill -9, lost machine: PostgreSQL ends
 * its sessions) and is taken over at once instead of after the expiry.
 */
#define STORE_INSTANCE_CLASS     "29801"
#define STORE_INSTANCE_KEY(name) "(hashtext(" name ") & 2147483647)"
#define STORE_INSTANCE_ALIVE                                                   \
	"SELECT 1 FROM pg_locks k WHERE k.locktype = 'advisory' AND "          \
	"k.granted AND k.database = (SELECT oid FROM pg_database WHERE "       \
	"datname = current_database()) AND k.classid = " STORE_INSTANCE_CLASS  \
	" AND k.objsubid = 2 AND k.objid = " STORE_INSTANCE_KEY(               \
	    "outbox.leased_by") "::oid"

static const char *const store_sql[S__COUNT] = {
    [S_CURSOR_GET] = "SELECT uidvalidity, last_uid, marked_uid "
                     "FROM mailbox_state WHERE mailbox = $1",
    [S_CURSOR_SET] =
        "INSERT INTO mailbox_state (mailbox, uidvalidity, last_uid) "
        "VALUES ($1, $2, $3) ON CONFLICT (mailbox) DO UPDATE SET "
        "uidvalidity = $2, last_uid = GREATEST(CASE WHEN "
        "mailbox_state.uidvalidity = $2 THEN mailbox_state.last_uid "
        "ELSE 0 END, $3), updated = now()",
    [S_CURSOR_RESET] =
        "INSERT INTO mailbox_state (mailbox, uidvalidity) VALUES ($1, $2) "
        "ON CONFLICT (mailbox) DO UPDATE SET uidvalidity = $2, "
        "last_uid = 0, marked_uid = 0, updated = now()",
    [S_CURSOR_MARKED] = "UPDATE mailbox_state SET marked_uid = "
                        "GREATEST(marked_uid, $2) WHERE mailbox = $1",
    [S_CURSOR_OK] = "UPDATE mailbox_state SET last_fetch = now(), "
                    "last_ok = now(), failures = 0 WHERE mailbox = $1",
    [S_CURSOR_ERR] =
        "INSERT INTO mailbox_state (mailbox, uidvalidity, last_fetch, "
        "last_error, last_error_at, failures) VALUES ($1, 0, now(), $2, "
        "now(), 1) ON CONFLICT (mailbox) DO UPDATE SET last_fetch = "
        "now(), last_error = $2, last_error_at = now(), failures = "
        "mailbox_state.failures + 1",
    [S_DEDUPE] = "SELECT COALESCE(ticket_id, 0) FROM message WHERE "
                 "dedupe_key = $1",
    /* MATERIALIZED: a generic plan guesses ~900 matches for ANY($1)
     * and would walk message_pkey backwards through every message
     * instead of looking the few ids up in message_msgid_idx. */
    [S_BY_MSGIDS] = "WITH m AS MATERIALIZED (SELECT id, ticket_id FROM "
                    "message WHERE message_id = ANY($1::text[])) SELECT "
                    "ticket_id FROM m ORDER BY id DESC LIMIT 1",
    [S_TICKET_GET] = "SELECT id, status, priority, requester, subject, queue, "
                     "COALESCE(extract(epoch FROM closed_at)::bigint, 0), "
                     "COALESCE(extract(epoch FROM resolved_at)::bigint, 0) "
                     "FROM ticket WHERE id = $1",
    [S_IS_PART] = "SELECT 1 FROM participant WHERE ticket_id = $1 AND "
                  "addr = $2",
    [S_PART_DOMAIN] = "SELECT 1 FROM participant WHERE ticket_id = $1 AND "
                      "role <> 'agent' AND split_part(addr, '@', 2) = $2 "
                      "LIMIT 1",
    [S_TICKET_NEW] =
        "INSERT INTO ticket (queue, subject, requester, requester_name, "
        "priority, language, needs_review, review_reason, "
        "linked_ticket, created, updated, last_customer_at) VALUES ($1, "
        "$2, $3, $4, $5, $6, $7, $8, NULLIF($9, 0), to_timestamp($10), "
        "to_timestamp($10), to_timestamp($10)) RETURNING id",
    [S_TOUCH_CUST] = "UPDATE ticket SET updated = to_timestamp($2), "
                     "last_customer_at = to_timestamp($2) WHERE id = $1",
    [S_TOUCH_AGENT] =
        "UPDATE ticket SET updated = to_timestamp($2), last_agent_at = "
        "to_timestamp($2), first_response_at = "
        "COALESCE(first_response_at, to_timestamp($2)) WHERE id = $1",
    [S_SET_STATUS] =
        "UPDATE ticket SET status = $2, updated = to_timestamp($3), "
        "resolved_at = CASE WHEN $2 = 'resolved' THEN to_timestamp($3) "
        "WHEN $2 IN ('new', 'open', 'pending') THEN NULL ELSE "
        "resolved_at END, closed_at = CASE WHEN $2 = 'closed' THEN "
        "to_timestamp($3) WHEN $2 IN ('new', 'open', 'pending') THEN "
        "NULL ELSE closed_at END, reopen_count = reopen_count + CASE "
        "WHEN status IN ('resolved', 'closed') AND $2 IN ('open', "
        "'new', 'pending') THEN 1 ELSE 0 END WHERE id = $1",
    [S_PART_ADD] = "INSERT INTO participant (ticket_id, addr, name, role) "
                   "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    [S_MSG_ADD] =
        "INSERT INTO message (ticket_id, dedupe_key, message_id, "
        "direction, role, class, class_reason, source, from_addr, "
        "from_name, to_addrs, cc_addrs, subject, body_text, body_new, "
        "body_html, defects, sent_date, received, unparsed, size, raw) "
        "VALUES (NULLIF($1, 0), $2, $3, $4, $5, $6, $7, $8, $9, $10, "
        "$11, $12, $13, "
        "$14, $15, $16, $17::text[], to_timestamp(NULLIF($18, 0)), "
        "to_timestamp($19), $20, $21, $22) "
        "ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
    [S_ATT_ADD] = "INSERT INTO attachment (message_id, filename, "
                  "content_type, content_id, is_inline, size, data) VALUES "
                  "($1, $2, $3, $4, $5, $6, $7)",
    [S_EVENT_ADD] = "INSERT INTO event (ticket_id, actor, action, detail, "
                    "message_id) VALUES ($1, $2, $3, $4, NULLIF($5, 0))",
    [S_OUT_ADD] = "INSERT INTO outbox (ticket_id, message_id, kind, "
                  "env_from, rcpt, data, sender, is_repeat) VALUES "
                  "(NULLIF($1, 0), NULLIF($2, 0), $3, $4, $5, $6, "
                  "NULLIF($7, ''), $8::boolean)",
    [S_SUPPRESSED] = "SELECT 1 FROM suppression WHERE addr = $1 AND "
                     "until > now()",
    [S_SUPPRESS] =
        "INSERT INTO suppression (addr, reason, until) VALUES ($1, $2, "
        "now() + make_interval(days => $3)) ON CONFLICT (addr) DO "
        "UPDATE SET reason = $2, until = GREATEST(suppression.until, "
        "now() + make_interval(days => $3))",
    /* Oldest first, in the order of outbox_pending_idx, so that the scan
     * stops after $3 rows and marks the dead entries it passes (queued
     * and sending versions of sent mail, until autovacuum comes) for the
     * next scan to skip; a bitmap scan would read them all, every time.
     * next_attempt <= now() holds for every claimable row (a lease is
     * taken only when due). */
    [S_OUT_CLAIM] =
        "UPDATE outbox o SET state = 'sending', leased_by = $1, "
        "lease_until = now() + make_interval(secs => $2), attempts = "
        "attempts + 1 FROM (SELECT id FROM outbox WHERE state IN "
        "('queued', 'sending') AND next_attempt <= now() AND (state = "
        "'queued' OR lease_until < now() OR NOT EXISTS (" STORE_INSTANCE_ALIVE
        ")) ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED) due WHERE o.id = "
        "due.id RETURNING o.id, COALESCE(o.ticket_id, 0), o.kind, "
        "o.env_from, o.rcpt, o.data, o.attempts, extract(epoch FROM "
        "o.created)::bigint, o.is_repeat",
    [S_OUT_SENT] = "UPDATE outbox SET state = 'sent', sent_at = now(), "
                   "last_code = $2, lease_until = NULL WHERE id = $1 "
                   "RETURNING is_repeat::int",
    [S_OUT_RETRY] = "UPDATE outbox SET state = 'queued', last_code = $2, "
                    "last_error = $3, next_attempt = now() + "
                    "make_interval(secs => $4), lease_until = NULL "
                    "WHERE id = $1",
    [S_OUT_FAILED] = "UPDATE outbox SET state = 'failed', last_code = $2, "
                     "last_error = $3, lease_until = NULL WHERE id = $1",
    /* two index scans that stop at their first live row (see
     * S_OUT_CLAIM); no row (-1) when nothing is pending: GREATEST(0,
     * NULL) is 0, which made the idle daemon spin */
    [S_OUT_NEXT] =
        "SELECT GREATEST(0, ceil(extract(epoch FROM t - now())))::bigint "
        "FROM (SELECT LEAST((SELECT min(next_attempt) FROM outbox WHERE "
        "state IN ('queued', 'sending') AND state = 'queued'), (SELECT "
        "min(lease_until) FROM outbox WHERE state = 'sending')) t) x WHERE "
        "t IS NOT NULL",
    /* The row lock in "old" makes "was this the first response"
     * exact even with two instances ingesting agent mail at once. */
    [S_AGENT_TOUCH] =
        "WITH old AS (SELECT id, first_response_at FROM ticket WHERE "
        "id = $1 FOR UPDATE) UPDATE ticket t SET updated = "
        "to_timestamp($2), last_agent_at = to_timestamp($2), "
        "first_response_at = COALESCE(t.first_response_at, "
        "to_timestamp($2)), last_customer_at = CASE WHEN $3::boolean "
        "THEN NULL ELSE t.last_customer_at END FROM old WHERE t.id = "
        "old.id RETURNING (old.first_response_at IS NULL)::int",
    /* events written earlier in this transaction, before the message
     * row existed, get the message that caused them */
    [S_EVENT_ATTACH] =
        /* same (sub)transaction as the message row: in a fetch batch
         * each mail has its own savepoint, whose xid is not the
         * top-level pg_current_xact_id() */
    "UPDATE event SET message_id = $2 WHERE ticket_id = $1 AND "
    "message_id IS NULL AND xmin = (SELECT m.xmin FROM message m "
    "WHERE m.id = $2)",
    [S_PART_SET] = "INSERT INTO participant (ticket_id, addr, name, role) "
                   "VALUES ($1, $2, $3, $4) ON CONFLICT (ticket_id, addr) "
                   "DO UPDATE SET role = $4",
    /* report (issue 11): resolved, not too long ago, no resolution mail
     * for this resolution yet, not rated */
    [S_CSAT_DUE] =
        "SELECT t.id, extract(epoch FROM t.resolved_at)::bigint, "
        "t.requester, t.requester_name, t.subject, t.queue FROM ticket "
        "t WHERE t.status = 'resolved' AND t.resolved_at > now() - "
        "make_interval(secs => $1) AND NOT EXISTS (SELECT 1 FROM "
        "csat_request c WHERE c.ticket_id = t.id AND c.resolved_at = "
        "t.resolved_at) AND NOT EXISTS (SELECT 1 FROM csat_rating r "
        "WHERE r.ticket_id = t.id) AND t.queue = $3 ORDER BY "
        "t.resolved_at LIMIT $2",
    [S_CSAT_REQUEST] =
        "INSERT INTO csat_request (ticket_id, resolved_at) SELECT id, "
        "resolved_at FROM ticket WHERE id = $1 AND status = 'resolved' "
        "ON CONFLICT DO NOTHING RETURNING 1",
    [S_CSAT_RATE] =
        "INSERT INTO csat_rating (ticket_id, rating, comment, "
        "from_addr, message_id, at) VALUES ($1, $2, $3, $4, NULLIF($5, "
        "0), to_timestamp($6)) ON CONFLICT DO NOTHING RETURNING 1",
    [S_DIGEST_CLAIM] =
        "INSERT INTO digest_log (schedule, period_start, period_end) "
        "VALUES ($1, to_timestamp($2), to_timestamp($3)) ON CONFLICT "
        "DO NOTHING RETURNING 1",
    [S_EVENT_GLOBAL] = "INSERT INTO event (actor, action, detail, "
                       "message_id) VALUES ($1, $2, $3, NULLIF($4, 0))",
    /* ---- send limits and the circuit breaker (002_limits) ---- */
    /* the breaker counts only repeats, the shape of a loop (010) */
    [S_AUTO_GLOBAL] = "SELECT count(*) FROM outbox WHERE is_repeat AND "
                      "created > now() - make_interval(secs => $1) AND "
                      "state <> 'suppressed'",
    /* S_AUTO_COUNTS and the sender identity's count in one round trip
     * (limit_check_queue, every acknowledgement) */
    [S_AUTO_SENDER] =
        "SELECT (SELECT count(*) FROM outbox WHERE rcpt = $1 AND created > "
        "now() - make_interval(secs => $3::int) AND state <> "
        "'suppressed'), (SELECT count(*) FROM outbox WHERE ticket_id = "
        "$2::bigint AND created > now() - make_interval(secs => $4::int) "
        "AND state <> 'suppressed'), (SELECT count(*) FROM outbox WHERE "
        "sender = $5 AND created > now() - make_interval(secs => $3::int) "
        "AND state <> 'suppressed')",
    /* Both per-address and per-ticket counts in one statement (they run
     * for every acknowledgement), each subquery on its own index; not
     * one WHERE with ($1 = 0 OR ...), whose generic plan can use no
     * index and scanned the whole outbox for every mail. */
    [S_AUTO_COUNTS] =
        "SELECT (SELECT count(*) FROM outbox WHERE rcpt = $1 AND created > "
        "now() - make_interval(secs => $3::int) AND state <> "
        "'suppressed'), (SELECT count(*) FROM outbox WHERE ticket_id = "
        "$2::bigint AND created > now() - make_interval(secs => $4::int) "
        "AND state <> 'suppressed')",
    [S_SENT_COUNTS] =
        "SELECT (SELECT count(*) FROM outbox WHERE rcpt = $1 AND state = "
        "'sent' AND sent_at > now() - make_interval(secs => $3::int) AND "
        "kind NOT IN ('escalation', 'digest')), (SELECT count(*) FROM "
        "outbox WHERE ticket_id = $2::bigint AND state = 'sent' AND sent_at "
        "> now() - make_interval(secs => $4::int) AND kind NOT IN "
        "('escalation', 'digest'))",
    /* mail to our own people counts here, but not against a customer's
     * or a ticket's allowance above (limit.c) */
    [S_SENT_GLOBAL] = "SELECT count(*) FROM outbox WHERE is_repeat AND "
                      "state = 'sent' AND sent_at > now() - "
                      "make_interval(secs => $1::int)",
    [S_OUT_SUPPRESS] = "UPDATE outbox SET state = 'suppressed', "
                       "last_error = $2, lease_until = NULL WHERE id = $1",
    [S_OUT_HOLD] = "UPDATE outbox SET next_attempt = now() + "
                   "make_interval(secs => $1::int), last_error = $2 WHERE "
                   "is_repeat AND state = 'queued' AND next_attempt < now() "
                   "+ make_interval(secs => $1::int)",
    [S_OUT_UNHOLD] = "UPDATE outbox SET next_attempt = now() WHERE state = "
                     "'queued' AND last_error LIKE 'held:%'",
    [S_BREAKER_GET] = "SELECT state = 'open' AND (until IS NULL OR until > "
                      "now()), COALESCE(extract(epoch FROM until)::bigint, "
                      "0), COALESCE(reason, '') FROM breaker WHERE name = $1",
    [S_BREAKER_TRIP] =
        "INSERT INTO breaker (name, state, tripped_at, until, reason, "
        "trips) VALUES ($1, 'open', now(), CASE WHEN $2::int > 0 THEN "
        "now() + make_interval(secs => $2::int) END, $3, 1) ON CONFLICT "
        "(name) DO UPDATE SET state = 'open', tripped_at = now(), until "
        "= EXCLUDED.until, reason = $3, trips = breaker.trips + 1",
    [S_BREAKER_RESET] = "UPDATE breaker SET state = 'closed', until = NULL, "
                        "reset_at = now(), reset_by = $2 WHERE name = $1 "
                        "AND state = 'open'",
    [S_OUT_RCPT_BY_MSGID] =
        "SELECT o.rcpt FROM outbox o JOIN message m ON m.id = "
        "o.message_id WHERE m.message_id = $1 AND m.direction = 'out' "
        "ORDER BY o.id LIMIT 1",
    /* One escalation pass at a time across instances; released at the
     * end of the transaction, so a dead instance never blocks it. */
    [S_SLA_LOCK] = "SELECT pg_try_advisory_xact_lock(hashtext("
                   "'tickd:escalate'))::int",
    /* "< now + 1": now is whole seconds, next_check has fractions */
    [S_SLA_DUE] =
        "SELECT c.ticket_id, t.queue, t.priority, t.status, "
        "extract(epoch FROM t.created)::bigint, COALESCE((SELECT "
        "m.role = 'agent' FROM message m WHERE m.ticket_id = t.id "
        "ORDER BY m.id LIMIT 1), false), c.initialized, c.status, "
        "c.first_response_at, c.last_customer_at, c.last_agent_at, "
        "c.resolved_at, c.run_since, c.paused_since, "
        "c.resolution_run_secs, c.awaiting_since, c.response_run_secs, "
        "c.first_response_secs, c.esc_start[1], c.esc_start[2], "
        "c.esc_start[3], c.esc_fired[1], c.esc_fired[2], "
        "c.esc_fired[3], c.immediate FROM sla_clock c JOIN ticket t ON "
        "t.id = c.ticket_id WHERE c.next_check < to_timestamp($1 + 1) "
        "ORDER BY c.next_check, c.ticket_id LIMIT $2 FOR UPDATE OF c "
        "SKIP LOCKED",
    [S_SLA_CHANGES] = "SELECT id, at, kind, COALESCE(status, '') FROM "
                      "sla_change WHERE ticket_id = $1 ORDER BY id "
                      "LIMIT " G_STRINGIFY(STORE_SLA_CHANGES_MAX),
    [S_SLA_CHANGE_DEL] = "DELETE FROM sla_change WHERE id = "
                         "ANY($1::bigint[])",
    [S_SLA_SAVE] =
        "UPDATE sla_clock SET initialized = true, status = $2, "
        "first_response_at = $3, last_customer_at = $4, last_agent_at "
        "= $5, resolved_at = $6, run_since = $7, paused_since = $8, "
        "resolution_run_secs = $9, awaiting_since = $10, "
        "response_run_secs = $11, first_response_secs = $12, esc_start "
        "= $13::bigint[], esc_fired = $14::bigint[], immediate = NULL, "
        "next_check = CASE WHEN $15::bigint = 0 THEN NULL ELSE "
        "to_timestamp($15::bigint) END, view = $16::jsonb, "
        "evaluated_at = to_timestamp($17) WHERE ticket_id = $1",
    [S_SLA_NOTICE_ADD] =
        "INSERT INTO sla_notice (ticket_id, rcpt, kind, level, "
        "breach_at, reason, queued_at) VALUES ($1, $2, $3, $4, $5, $6, "
        "$7)",
    [S_SLA_PENDING] =
        "SELECT id, ticket_id, rcpt, kind, level, breach_at, "
        "COALESCE(reason, ''), queued_at FROM sla_notice WHERE sent_at "
        "IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
    [S_SLA_DIGESTS] = "SELECT rcpt, last_at FROM sla_digest WHERE rcpt = "
                      "ANY($1::text[])",
    [S_SLA_NOTICE_SENT] = "UPDATE sla_notice SET sent_at = $2 WHERE id = "
                          "ANY($1::bigint[])",
    [S_SLA_DIGEST_SET] = "INSERT INTO sla_digest (rcpt, last_at) VALUES "
                         "($1, $2) ON CONFLICT (rcpt) DO UPDATE SET "
                         "last_at = $2",
    [S_SLA_NEXT] = "SELECT extract(epoch FROM min(next_check))::bigint "
                   "FROM sla_clock WHERE next_check IS NOT NULL",
    /* once per ticket: not when an immediate notice exists already */
    [S_SLA_IMMEDIATE] = "UPDATE sla_clock SET immediate = $2, next_check "
                        "= now() WHERE ticket_id = $1 AND immediate IS "
                        "NULL AND NOT EXISTS (SELECT 1 FROM sla_notice n "
                        "WHERE n.ticket_id = $1 AND n.kind = 'immediate') "
                        "RETURNING 1",
    [S_SLA_INFO] =
        "SELECT t.subject, t.requester, COALESCE(t.requester_name, ''), "
        "t.queue, t.priority, COALESCE(t.assignee, ''), t.status, "
        "extract(epoch FROM t.created)::bigint, COALESCE((SELECT "
        "left(m.body_new, 4000) FROM message m WHERE m.ticket_id = t.id "
        "AND m.role = 'customer' ORDER BY m.id DESC LIMIT 1), '') FROM "
        "ticket t WHERE t.id = $1",
    /* the quarantine (sql/011): kept once per raw mail; the mailbox's
     * last error says why, for tickctl status */
    [S_QUARANTINE_ADD] =
        "WITH q AS (INSERT INTO quarantine (mailbox, source, uidvalidity, "
        "uid, raw_sha256, error, size, raw, received) VALUES ($1, $2, $3, "
        "$4, encode(sha256($8), 'hex'), $5, $6, $8, to_timestamp($7)) ON "
        "CONFLICT (raw_sha256) DO NOTHING RETURNING id), s AS (UPDATE "
        "mailbox_state SET last_error = $5, last_error_at = now() WHERE "
        "mailbox = $1) SELECT count(*) FROM q",
};

/*
 * A count of the repeats (the breaker's, 010) in the last minute, re-read at
 * most once a second.  Counting it afresh for every mail costs O(rate x 60)
 * rows a mail, 18,000 at 300 mails/s.  This connection's own additions since
 * the read are added at once, so one instance sees its own burst exactly and
 * other instances' within a second: the breaker stops storms, for which
 * that is noise.
 */
#define STORE_MINUTE_TTL_US   G_USEC_PER_SEC
#define STORE_PLAN_TTL_MIN_US G_USEC_PER_SEC
#define STORE_PLAN_TTL_MAX_US (60 * G_USEC_PER_SEC)
struct store_minute {
	gint64 n;
	gint64 read_at; /* g_get_monotonic_time(), 0: never read */
	int seconds;
};

struct store {
	PGconn *conn;
	char *conninfo;
	bool prepared[S__COUNT];
	unsigned generation;
	bool batch;   /* store_batch_begin: begin/commit are savepoints */
	bool pipe;    /* in libpq pipeline mode (a batch), see store_send */
	int deferred; /* commands sent in pipeline mode, results unread */
	gint64 planned_at; /* store_replan */
	gint64 plan_ttl;
	struct store_minute queued; /* store_auto_count_global */
	struct store_minute sent;   /* store_sent_count_global */
	char err[256];
};

/* atoi_safe - a small decimal column (PostgreSQL wrote it). */
static int
atoi_safe(const char *s)
{
	return (int)g_ascii_strtoll(s, NULL, 10);
}

/* store_i64 - decimal text of v in buf (a libpq text parameter). */
static const char *
store_i64(char buf[24], gint64 v)
{
	g_snprintf(buf, 24, "%" G_GINT64_FORMAT, v);
	return buf;
}

static void
store_set_err(struct store *st, const char *what)
{
	const char *e = st->conn ? PQerrorMessage(st->conn) : "no connection";

	g_snprintf(st->err, sizeof(st->err), "%s: %s", what, e);
	g_strchomp(st->err);
}

const char *
store_error(const struct store *st)
{
	return st->err;
}

unsigned
store_generation(const struct store *st)
{
	return st->generation;
}

bool
store_connected(const struct store *st)
{
	return st->conn != NULL && PQstatus(st->conn) == CONNECTION_OK;
}

/*
 * store_not_the_mail - SQLSTATE classes that are the server's or the
 * schema's trouble, never one mail's: retried (transient), so that a full
 * disk or a broken migration stops the mailbox instead of quarantining
 * every mail.  53: disk full, out of memory, too many connections; 58:
 * I/O error; 42: undefined table/column (statements take mail values
 * only as parameters); 0A, 3D, 3F, 28, 55: feature, database, schema,
 * authorization, object state.
 */
static bool
store_not_the_mail(const char *state)
{
	static const char *const classes[] = {"53", "58", "42", "0A",
	                                      "3D", "3F", "28", "55"};

	for (size_t i = 0; i < ARRAY_SIZE(classes); i++)
		if (strncmp(state, classes[i], 2) == 0)
			return true;
	return false;
}

/* store_classify - the errno for a failed result, logged once here. */
static int
store_fail(struct store *st, PGresult *res, const char *what)
{
	const char *state =
	    res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorMessage(res) : "";
	int r;

	/* the result's own text: in pipeline mode the connection's may be
	 * another command's, or empty */
	if (msg[0] != '\0') {
		g_snprintf(st->err, sizeof(st->err), "%s: %s", what, msg);
		g_strchomp(st->err);
	} else
		store_set_err(st, what);
	if (PQstatus(st->conn) != CONNECTION_OK ||
	    (state && strncmp(state, "08", 2) == 0) ||
	    (state && strncmp(state, "57P", 3) == 0))
		r = -ENOTCONN;
	else if (state &&
	         (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
	          store_not_the_mail(state)))
		r = -EAGAIN;
	else if (state && strcmp(state, "23505") == 0)
		r = -EEXIST;
	else
		r = -EPROTO;
	if (r != -EEXIST)
		log_err("store: %s: %s", what, st->err + strlen(what) + 2);
	PQclear(res);
	return r;
}

static void
store_notice_ignore(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

static int
store_connect(struct store *st)
{
	if (st->conn != NULL)
		PQfinish(st->conn);
	memset(st->prepared, 0, sizeof(st->prepared));
	st->queued.read_at = st->sent.read_at = 0;
	st->planned_at = g_get_monotonic_time();
	st->plan_ttl = STORE_PLAN_TTL_MIN_US;
	st->generation++;
	st->batch = false; /* a lost connection took the batch with it */
	st->pipe = false;
	st->deferred = 0;
	/* Our defaults first, so that the admin's conninfo overrides them:
	 * never hang forever on a dead host, notice a dead peer in ~1 min. */
	const char *const keys[] = {"connect_timeout",
	                            "keepalives_idle",
	                            "keepalives_interval",
	                            "keepalives_count",
	                            "application_name",
	                            "dbname",
	                            NULL};
	const char *const vals[] = {"10",    "30",         "10", "3",
	                            "tickd", st->conninfo, NULL};
	st->conn = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(st->conn) != CONNECTION_OK) {
		store_set_err(st, "connect");
		return -ENOTCONN;
	}
	/* Notices ("relation already exists, skipping") are not errors. */
	PQsetNoticeProcessor(st->conn, store_notice_ignore, NULL);
	st->err[0] = '\0';
	return 0;
}

int
store_open(const char *conninfo, struct store **st_r)
{
	struct store *st = g_new0(struct store, 1);
	int r;

	st->conninfo = g_strdup(conninfo);
	r = store_connect(st);
	if (r < 0) {
		log_err("store: connect: %s", st->err + 9);
		store_free(&st);
		return r;
	}
	*st_r = st;
	return 0;
}

void
store_free(struct store **stp)
{
	struct store *st = *stp;

	if (st == NULL)
		return;
	if (st->conn)
		PQfinish(st->conn);
	g_free(st->conninfo);
	g_free(st);
	*stp = NULL;
}

int
store_reconnect(struct store *st)
{
	if (store_connected(st))
		return 0;
	return store_connect(st);
}

/*
 * Pipeline mode (libpq 14+), only inside a batch (store_batch_begin).  A
 * statement whose rows the caller does not look at (store_send: events,
 * participants, the cursor, the outbox, SAVEPOINT) is sent and not waited
 * for; the next statement whose result is needed, and the end of every
 * mail (store_commit), first read the queued results in order.  Of a new
 * ticket's ~16 statements, 7 no longer wait (perf trace: the fetch
 * thread's poll() waits per new ticket went from 16.4 to 12).
 *
 * An error of a deferred statement is returned by that next call.  In a
 * batch every caller treats any error alike (store_rollback of the mail),
 * and the transaction was doomed by the error anyway, so nothing that
 * worked before can go wrong silently.  After an error the server skips
 * everything up to a sync point, which store_pipe_sync supplies.
 * STORE_PIPE_MAX bounds what is queued: with a blocking socket, a client
 * that only writes while the server's replies pile up could deadlock.
 */
#define STORE_PIPE_MAX 256

/* store_pipe_next - the (last) result of the next queued command, or NULL
 * when the connection broke.  Caller PQclears. */
static PGresult *
store_pipe_next(struct store *st)
{
	PGresult *res, *last = NULL;

	while ((res = PQgetResult(st->conn)) != NULL) {
		PQclear(last);
		last = res;
	}
	return last;
}

/* store_pipe_sync - a sync point: read what is left up to it, so that the
 * server accepts commands again after an error. */
static void
store_pipe_sync(struct store *st)
{
	PGresult *res;
	ExecStatusType es;

	st->deferred = 0;
	if (PQpipelineSync(st->conn) != 1)
		return;
	for (;;) {
		if ((res = PQgetResult(st->conn)) == NULL) {
			if (PQstatus(st->conn) != CONNECTION_OK)
				return;
			continue; /* the end of one command's results */
		}
		es = PQresultStatus(res);
		PQclear(res);
		if (es == PGRES_PIPELINE_SYNC)
			return;
	}
}

/*
 * store_pipe_drain - read the results of all deferred commands, in order.
 * With last_r, the last one's result is handed over as it is (the caller
 * PQclears it, also when it failed).  0, or the first failure (-E) among
 * the others; after any failure the pipeline has been synced.
 */
static int
store_pipe_drain(struct store *st, PGresult **last_r)
{
	PGresult *res;
	ExecStatusType es;
	bool failed = false;
	int r = 0;

	if (last_r != NULL)
		*last_r = NULL;
	if (st->deferred == 0)
		return 0;
	if (PQsendFlushRequest(st->conn) != 1 || PQflush(st->conn) != 0) {
		store_set_err(st, "pipeline");
		st->deferred = 0;
		return -ENOTCONN;
	}
	while (st->deferred > 0) {
		res = store_pipe_next(st);
		es = PQresultStatus(res);
		st->deferred--;
		if (es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK)
			failed = true;
		if (st->deferred == 0 && last_r != NULL)
			*last_r = res;
		else if (r == 0 && es != PGRES_COMMAND_OK &&
		         es != PGRES_TUPLES_OK)
			r = store_fail(st, res, "query");
		else
			PQclear(res);
	}
	if (failed)
		store_pipe_sync(st);
	return r;
}

/* store_pipe_queued - count a command just sent (sent is PQsend*'s
 * return); 0 or -ENOTCONN. */
static int
store_pipe_queued(struct store *st, int sent)
{
	if (sent != 1) {
		store_set_err(st, "pipeline");
		return -ENOTCONN;
	}
	st->deferred++;
	return st->deferred >= STORE_PIPE_MAX ? store_pipe_drain(st, NULL) : 0;
}

/*
 * store_query - PQexecParams, also in pipeline mode (waits for the
 * result).  Returns what PQexecParams would (NULL or a failed result when
 * it failed; the caller checks and PQclears).
 */
static PGresult *
store_query(struct store *st, const char *sql, int n, const char *const *vals)
{
	PGresult *res;

	if (!st->pipe)
		return PQexecParams(st->conn, sql, n, NULL, vals, NULL, NULL,
		                    0);
	if (store_pipe_drain(st, NULL) < 0 ||
	    store_pipe_queued(st, PQsendQueryParams(st->conn, sql, n, NULL,
	                                            vals, NULL, NULL, 0)) < 0)
		return NULL;
	if (store_pipe_drain(st, &res) < 0) {
		PQclear(res);
		return NULL;
	}
	return res;
}

/* store_query_exec - store_query for a statement whose rows do not
 * matter: 0, or -E with what in the log. */
static int
store_query_exec(struct store *st, const char *what, const char *sql, int n,
                 const char *const *vals)
{
	PGresult *res = store_query(st, sql, n, vals);
	ExecStatusType es = PQresultStatus(res);

	if (es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK)
		return store_fail(st, res, what);
	PQclear(res);
	return 0;
}

/* store_cmd - run plain SQL with no parameters and no result rows
 * (deferred in pipeline mode). */
static int
store_cmd(struct store *st, const char *sql)
{
	PGresult *res;

	if (st->pipe)
		return store_pipe_queued(st, PQsendQueryParams(st->conn, sql, 0,
		                                               NULL, NULL, NULL,
		                                               NULL, 0));
	res = PQexec(st->conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK)
		return store_fail(st, res, sql);
	PQclear(res);
	return 0;
}

/*
 * store_replan - drop this connection's cached plans now and then.
 * PostgreSQL keeps a prepared statement's generic plan until the table's
 * statistics change, and autovacuum may not analyze for a minute or more:
 * plans made while the tables were small (a fresh install's first flood)
 * would seq-scan the outbox and message tables for every mail.  Re-planned
 * after 1, 2, 4 ... seconds, then every STORE_PLAN_TTL_MAX_US; a re-plan
 * costs a few ms, and the prepared statements stay.
 */
static void
store_replan(struct store *st)
{
	gint64 now = g_get_monotonic_time();

	if (now - st->planned_at < st->plan_ttl)
		return;
	/* (not in a failed transaction: it would fail too) */
	if (PQtransactionStatus(st->conn) != PQTRANS_IDLE &&
	    PQtransactionStatus(st->conn) != PQTRANS_INTRANS)
		return;
	st->planned_at = now;
	st->plan_ttl = MIN(st->plan_ttl * 2, STORE_PLAN_TTL_MAX_US);
	(void)store_cmd(st, "DISCARD PLANS"); /* (only ever slower without) */
}

/* store_prepare - statement s prepared on this connection (once per
 * connection; in pipeline mode after the queue is read, so that a failed
 * PREPARE is told apart from a failed deferred statement). */
static int
store_prepare(struct store *st, enum store_stmt s, const char *name)
{
	PGresult *res;
	int r;

	if (st->prepared[s])
		return 0;
	if (st->pipe) {
		if ((r = store_pipe_drain(st, NULL)) < 0 ||
		    (r = store_pipe_queued(st, PQsendPrepare(st->conn, name,
		                                             store_sql[s], 0,
		                                             NULL))) < 0)
			return r;
		if ((r = store_pipe_drain(st, NULL)) < 0)
			return r;
	} else {
		res = PQprepare(st->conn, name, store_sql[s], 0, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			return store_fail(st, res, "prepare");
		PQclear(res);
	}
	st->prepared[s] = true;
	return 0;
}

/*
 * store_run - execute statement s with text parameters (binary where
 * fmts[i] is 1) and wait for its result.  Returns the result (caller
 * PQclears) or NULL with *r_r set to the -errno.
 */
static PGresult *
store_run(struct store *st, enum store_stmt s, int n, const char *const *vals,
          const int *lens, const int *fmts, int *r_r)
{
	char name[8];
	PGresult *res;
	ExecStatusType es;

	if (st->conn == NULL || PQstatus(st->conn) != CONNECTION_OK) {
		store_set_err(st, "query");
		*r_r = -ENOTCONN;
		return NULL;
	}
	store_replan(st);
	g_snprintf(name, sizeof(name), "s%d", (int)s);
	if ((*r_r = store_prepare(st, s, name)) < 0)
		return NULL;
	if (st->pipe) {
		if ((*r_r = store_pipe_queued(
		         st, PQsendQueryPrepared(st->conn, name, n, vals, lens,
		                                 fmts, 0))) < 0 ||
		    (*r_r = store_pipe_drain(st, &res)) < 0) {
			PQclear(res);
			return NULL;
		}
	} else
		res = PQexecPrepared(st->conn, name, n, vals, lens, fmts, 0);
	es = PQresultStatus(res);
	if (es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK) {
		*r_r = store_fail(st, res, "query");
		return NULL;
	}
	*r_r = 0;
	return res;
}

/*
 * store_send - statement s for its effect only: deferred in pipeline mode
 * (its failure is returned by a later call), else run at once.  0 or -E.
 */
static int
store_send(struct store *st, enum store_stmt s, int n, const char *const *vals,
           const int *lens, const int *fmts)
{
	char name[8];
	int r;

	if (!st->pipe) {
		PQclear(store_run(st, s, n, vals, lens, fmts, &r));
		return r;
	}
	if (PQstatus(st->conn) != CONNECTION_OK) {
		store_set_err(st, "query");
		return -ENOTCONN;
	}
	g_snprintf(name, sizeof(name), "s%d", (int)s);
	if ((r = store_prepare(st, s, name)) < 0)
		return r;
	return store_pipe_queued(
	    st, PQsendQueryPrepared(st->conn, name, n, vals, lens, fmts, 0));
}

/* store_exec - store_send with text parameters. */
static int
store_exec(struct store *st, enum store_stmt s, int n, const char *const *vals)
{
	return store_send(st, s, n, vals, NULL, NULL);
}

/* store_int - the first column of the first row as a number, def if none. */
static gint64
store_int(struct store *st, enum store_stmt s, int n, const char *const *vals,
          gint64 def)
{
	int r;
	PGresult *res = store_run(st, s, n, vals, NULL, NULL, &r);
	gint64 v = def;

	if (res == NULL)
		return r;
	if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
		v = g_ascii_strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return v;
}

int
store_begin(struct store *st)
{
	return store_cmd(st, st->batch ? "SAVEPOINT tickd_one" : "BEGIN");
}

int
store_commit(struct store *st)
{
	int r;

	if (!st->batch)
		return store_cmd(st, "COMMIT");
	/* the end of a mail: every deferred statement's fate is known here */
	if ((r = store_cmd(st, "RELEASE SAVEPOINT tickd_one")) < 0)
		return r;
	return store_pipe_drain(st, NULL);
}

void
store_rollback(struct store *st)
{
	if (!store_connected(st))
		return;
	if (!st->batch) {
		(void)store_cmd(st, "ROLLBACK");
		return;
	}
	/* In a batch only this mail's work goes; the mails before it stay.
	 * (Two commands: the extended protocol of pipeline mode takes one
	 * statement per command.) */
	(void)store_pipe_drain(st, NULL);
	(void)store_cmd(st, "ROLLBACK TO SAVEPOINT tickd_one");
	(void)store_cmd(st, "RELEASE SAVEPOINT tickd_one");
	(void)store_pipe_drain(st, NULL);
}

int
store_batch_begin(struct store *st)
{
	int r;

	if (st->batch)
		return -EINVAL;
	if ((r = store_cmd(st, "BEGIN")) < 0)
		return r;
	st->batch = true;
	st->pipe = PQenterPipelineMode(st->conn) == 1;
	return 0;
}

/* store_pipe_end - leave pipeline mode, the queue read and synced (so that
 * PQtransactionStatus is true again). */
static void
store_pipe_end(struct store *st)
{
	if (!st->pipe)
		return;
	st->pipe = false;
	if (!store_connected(st))
		return;
	(void)store_pipe_drain(st, NULL);
	store_pipe_sync(st);
	(void)PQexitPipelineMode(st->conn);
}

int
store_batch_end(struct store *st, bool commit)
{
	int r = 0;

	if (!st->batch)
		return 0;
	store_pipe_end(st);
	st->batch = false;
	/* COMMIT of a transaction in error "succeeds" as a ROLLBACK: never
	 * let that pass for a commit. */
	if (commit && store_connected(st) &&
	    PQtransactionStatus(st->conn) == PQTRANS_INERROR) {
		g_strlcpy(st->err, "batch: transaction in error, rolled back",
		          sizeof(st->err));
		log_err("store: %s", st->err);
		r = -EPROTO;
	} else if (commit)
		r = store_cmd(st, "COMMIT");
	if (!commit || r < 0)
		store_rollback(st);
	return r;
}

bool
store_in_batch(const struct store *st)
{
	return st->batch;
}

int
store_try_lock(struct store *st, const char *name)
{
	const char *vals[] = {name};
	PGresult *res;
	int got;

	if (!store_connected(st))
		return -ENOTCONN;
	res = store_query(
	    st, "SELECT pg_try_advisory_lock(hashtext('tickd:' || $1))", 1,
	    vals);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return store_fail(st, res, "advisory lock");
	got = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return got;
}

void
store_unlock(struct store *st, const char *name)
{
	const char *vals[] = {name};

	if (!store_connected(st))
		return;
	PQclear(store_query(
	    st, "SELECT pg_advisory_unlock(hashtext('tickd:' || $1))", 1,
	    vals));
}

/* ---- migrations ---- */

int
store_migrate(struct store *st, int *applied_r)
{
	int r, applied = 0;

	/* Two tickctl migrate at once: the second waits, then finds all done.
	 */
	r = store_cmd(st, "CREATE TABLE IF NOT EXISTS schema_version ("
	                  "version integer PRIMARY KEY, name text NOT NULL, "
	                  "applied timestamptz NOT NULL DEFAULT now())");
	if (r < 0)
		return r;
	for (const struct store_migration *m = store_migrations; m->sql; m++) {
		char v[24];
		const char *vals[] = {store_i64(v, m->version), m->name};
		PGresult *res;
		bool done;

		if ((r = store_begin(st)) < 0)
			return r;
		if ((r = store_cmd(st, "LOCK TABLE schema_version IN EXCLUSIVE "
		                       "MODE")) < 0)
			goto fail;
		res = store_query(st,
		                  "SELECT 1 FROM schema_version "
		                  "WHERE version = $1",
		                  1, vals);
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			r = store_fail(st, res, "migrate");
			goto fail;
		}
		done = PQntuples(res) > 0;
		PQclear(res);
		if (!done) {
			if ((r = store_cmd(st, m->sql)) < 0)
				goto fail;
			res =
			    store_query(st,
			                "INSERT INTO schema_version (version, "
			                "name) VALUES ($1, $2)",
			                2, vals);
			if (PQresultStatus(res) != PGRES_COMMAND_OK) {
				r = store_fail(st, res, "migrate");
				goto fail;
			}
			PQclear(res);
			applied++;
			log_notice("store: migrate '%s': applied", m->name);
		}
		if ((r = store_commit(st)) < 0)
			goto fail;
	}
	*applied_r = applied;
	return 0;
fail:
	store_rollback(st);
	return r;
}

int
store_schema_check(struct store *st)
{
	int want = 0, missing = 0, first_missing = 0;
	PGresult *res;
	gint64 have;

	for (const struct store_migration *m = store_migrations; m->sql; m++)
		want = m->version;
	res = PQexec(st->conn, "SELECT max(version) FROM schema_version");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		PQclear(res);
		log_err("store: schema check: no schema_version table; run "
		        "'tickctl migrate'");
		return -EPROTO;
	}
	have = PQgetisnull(res, 0, 0)
	           ? 0
	           : g_ascii_strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	if (have > want) {
		log_err("store: schema check: database is at version "
		        "%" G_GINT64_FORMAT
		        ", this tickd knows only up to %d; run the newer tickd",
		        have, want);
		return -EPROTO;
	}
	/* Not only the newest: migrations developed side by side may land
	 * in any order, so every one this build has must be applied. */
	for (const struct store_migration *m = store_migrations; m->sql; m++) {
		char v[24];
		const char *vals[] = {store_i64(v, m->version)};

		res = store_query(st,
		                  "SELECT 1 FROM schema_version "
		                  "WHERE version = $1",
		                  1, vals);
		if (PQresultStatus(res) == PGRES_TUPLES_OK &&
		    PQntuples(res) == 0 && missing++ == 0)
			first_missing = m->version;
		PQclear(res);
	}
	if (missing > 0) {
		log_err("store: schema check: %d migration(s) missing, the "
		        "first is %d; run 'tickctl migrate'",
		        missing, first_missing);
		return -EPROTO;
	}
	return 0;
}

/* ---- cursor ---- */

int
store_cursor_get(struct store *st, const char *mailbox,
                 struct store_cursor *c_r)
{
	const char *vals[] = {mailbox};
	int r;
	PGresult *res = store_run(st, S_CURSOR_GET, 1, vals, NULL, NULL, &r);

	if (res == NULL)
		return r;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return -ENOENT;
	}
	c_r->uidvalidity = g_ascii_strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	c_r->last_uid = g_ascii_strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	c_r->marked_uid = g_ascii_strtoll(PQgetvalue(res, 0, 2), NULL, 10);
	PQclear(res);
	return 0;
}

int
store_cursor_set(struct store *st, const char *mailbox, gint64 uidvalidity,
                 gint64 last_uid)
{
	char a[24], b[24];
	const char *vals[] = {mailbox, store_i64(a, uidvalidity),
	                      store_i64(b, last_uid)};

	return store_exec(st, S_CURSOR_SET, 3, vals);
}

int
store_cursor_reset(struct store *st, const char *mailbox, gint64 uidvalidity)
{
	char a[24];
	const char *vals[] = {mailbox, store_i64(a, uidvalidity)};

	return store_exec(st, S_CURSOR_RESET, 2, vals);
}

int
store_cursor_marked(struct store *st, const char *mailbox, gint64 marked_uid)
{
	char a[24];
	const char *vals[] = {mailbox, store_i64(a, marked_uid)};

	return store_exec(st, S_CURSOR_MARKED, 2, vals);
}

int
store_cursor_result(struct store *st, const char *mailbox, const char *err)
{
	const char *vals[] = {mailbox, err};

	return store_exec(st, err ? S_CURSOR_ERR : S_CURSOR_OK, err ? 2 : 1,
	                  vals);
}

/* ---- ingestion ---- */

void
store_ticket_clear(struct store_ticket *t)
{
	g_free(t->requester);
	g_free(t->subject);
	g_free(t->queue);
	memset(t, 0, sizeof(*t));
}

int
store_dedupe(struct store *st, const char *dedupe_key, gint64 *ticket_r)
{
	const char *vals[] = {dedupe_key};
	gint64 t = store_int(st, S_DEDUPE, 1, vals, -1);

	if (t == -1)
		return 0;
	if (t < 0)
		return (int)t;
	*ticket_r = t;
	return 1;
}

/* store_text_array - a PostgreSQL text[] literal of ids. */
static char *
store_text_array(GPtrArray *ids)
{
	GString *s = g_string_new("{");

	for (guint i = 0; i < ids->len; i++) {
		if (i)
			g_string_append_c(s, ',');
		g_string_append_c(s, '"');
		for (const char *p = ids->pdata[i]; *p; p++) {
			if (*p == '"' || *p == '\\')
				g_string_append_c(s, '\\');
			g_string_append_c(s, *p);
		}
		g_string_append_c(s, '"');
	}
	g_string_append_c(s, '}');
	return g_string_free(s, FALSE);
}

gint64
store_ticket_by_msgids(struct store *st, GPtrArray *ids)
{
	g_autofree char *arr = NULL;
	const char *vals[1];

	if (ids == NULL || ids->len == 0)
		return 0;
	arr = store_text_array(ids);
	vals[0] = arr;
	return store_int(st, S_BY_MSGIDS, 1, vals, 0);
}

int
store_ticket_get(struct store *st, gint64 id, struct store_ticket *t_r)
{
	char a[24];
	const char *vals[] = {store_i64(a, id)};
	int r;
	PGresult *res = store_run(st, S_TICKET_GET, 1, vals, NULL, NULL, &r);

	if (res == NULL)
		return r;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return -ENOENT;
	}
	memset(t_r, 0, sizeof(*t_r));
	t_r->id = id;
	g_strlcpy(t_r->status, PQgetvalue(res, 0, 1), sizeof(t_r->status));
	g_strlcpy(t_r->priority, PQgetvalue(res, 0, 2), sizeof(t_r->priority));
	t_r->requester = g_strdup(PQgetvalue(res, 0, 3));
	t_r->subject = g_strdup(PQgetvalue(res, 0, 4));
	t_r->queue = g_strdup(PQgetvalue(res, 0, 5));
	t_r->closed_at = g_ascii_strtoll(PQgetvalue(res, 0, 6), NULL, 10);
	t_r->resolved_at = g_ascii_strtoll(PQgetvalue(res, 0, 7), NULL, 10);
	PQclear(res);
	return 0;
}

int
store_is_participant(struct store *st, gint64 ticket, const char *addr)
{
	char a[24];
	const char *vals[] = {store_i64(a, ticket), addr};

	return (int)store_int(st, S_IS_PART, 2, vals, 0);
}

int
store_participant_domain(struct store *st, gint64 ticket, const char *domain)
{
	char a[24];
	const char *vals[] = {store_i64(a, ticket), domain};

	return (int)store_int(st, S_PART_DOMAIN, 2, vals, 0);
}

int
store_ticket_create(struct store *st, const struct store_new_ticket *n,
                    gint64 *id_r)
{
	char a[24], b[24];
	const char *vals[] = {n->queue,
	                      n->subject,
	                      n->requester,
	                      n->requester_name,
	                      n->priority ? n->priority : "normal",
	                      n->language,
	                      n->needs_review ? "t" : "f",
	                      n->review_reason,
	                      store_i64(a, n->linked_ticket),
	                      store_i64(b, n->at)};
	gint64 id = store_int(st, S_TICKET_NEW, 10, vals, -EPROTO);

	if (id < 0)
		return (int)id;
	*id_r = id;
	return 0;
}

int
store_ticket_touch(struct store *st, gint64 id, bool customer, gint64 at)
{
	char a[24], b[24];
	const char *vals[] = {store_i64(a, id), store_i64(b, at)};

	return store_exec(st, customer ? S_TOUCH_CUST : S_TOUCH_AGENT, 2, vals);
}

int
store_ticket_set_status(struct store *st, gint64 id, const char *status,
                        gint64 at)
{
	char a[24], b[24];
	const char *vals[] = {store_i64(a, id), status, store_i64(b, at)};

	return store_exec(st, S_SET_STATUS, 3, vals);
}

int
store_ticket_set_field(struct store *st, gint64 id, const char *field,
                       const char *value)
{
	char a[24];
	const char *vals[] = {store_i64(a, id), value};
	const char *sql;

	/* Only these columns can be set by name; never SQL from input. */
	if (strcmp(field, "priority") == 0)
		sql = "UPDATE ticket SET priority = $2, updated = now() "
		      "WHERE id = $1";
	else if (strcmp(field, "assignee") == 0)
		sql = "UPDATE ticket SET assignee = $2, updated = now() "
		      "WHERE id = $1";
	else if (strcmp(field, "language") == 0)
		sql = "UPDATE ticket SET language = $2 WHERE id = $1";
	else
		return -EINVAL;
	return store_query_exec(st, "set field", sql, 2, vals);
}

int
store_ticket_agent_touch(struct store *st, gint64 id, gint64 at,
                         bool opened_by_agent)
{
	char a[24], b[24];
	const char *vals[] = {store_i64(a, id), store_i64(b, at),
	                      opened_by_agent ? "t" : "f"};
	gint64 v = store_int(st, S_AGENT_TOUCH, 3, vals, -ENOENT);

	return v < 0 ? (int)v : v > 0;
}

int
store_event_attach(struct store *st, gint64 ticket, gint64 message)
{
	char a[24], b[24];
	const char *vals[] = {store_i64(a, ticket), store_i64(b, message)};

	return store_exec(st, S_EVENT_ATTACH, 2, vals);
}

int
store_participant_set(struct store *st, gint64 ticket, const char *addr,
                      const char *name, const char *role)
{
	char a[24];
	const char *vals[] = {store_i64(a, ticket), addr, name, role};

	return store_exec(st, S_PART_SET, 4, vals);
}

int
store_participant_add(struct store *st, gint64 ticket, const char *addr,
                      const char *name, const char *role)
{
	char a[24];
	const char *vals[] = {store_i64(a, ticket), addr, name, role};

	return store_exec(st, S_PART_ADD, 4, vals);
}

int
store_message_add(struct store *st, const struct store_message *m, gint64 *id_r)
{
	char a[24], b[24], c[24], d[24];
	g_autofree char *defects = NULL;
	const char *vals[22];
	int lens[22] = {0}, fmts[22] = {0};
	int r;
	PGresult *res;

	if (m->defects && m->defects->len > 0)
		defects = store_text_array(m->defects);
	vals[0] = store_i64(a, m->ticket_id);
	vals[1] = m->dedupe_key;
	vals[2] = m->message_id;
	vals[3] = m->direction;
	vals[4] = m->role;
	vals[5] = m->cls ? m->cls : "human";
	vals[6] = m->class_reason;
	vals[7] = m->source;
	vals[8] = m->from_addr;
	vals[9] = m->from_name;
	vals[10] = m->to_addrs;
	vals[11] = m->cc_addrs;
	vals[12] = m->subject ? m->subject : "";
	vals[13] = m->body_text ? m->body_text : "";
	vals[14] = m->body_new ? m->body_new : "";
	vals[15] = m->body_html;
	vals[16] = defects;
	vals[17] = store_i64(b, m->sent_date);
	vals[18] = store_i64(c, m->received);
	vals[19] = m->unparsed ? "t" : "f";
	vals[20] = store_i64(d, (gint64)m->raw_len);
	/* The raw mail goes in binary: no escaping cost, every byte kept. */
	vals[21] = m->raw;
	lens[21] = (int)m->raw_len;
	fmts[21] = 1;
	res = store_run(st, S_MSG_ADD, 22, vals, lens, fmts, &r);
	if (res == NULL)
		return r;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return -EEXIST;
	}
	*id_r = g_ascii_strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

/* ---- quarantine: mail that could not be stored (sql/011) ---- */

static int store_rows(struct store *st, const char *sql, int n,
                      const char *const *vals, struct store_table *t,
                      GString *out, bool pretty);

int
store_quarantine_add(struct store *st, const struct store_quarantine *q)
{
	char a[24], b[24], c[24], d[24];
	const char *vals[8] = {q->mailbox,
	                       q->source,
	                       q->mailbox ? store_i64(a, q->uidvalidity) : NULL,
	                       q->mailbox ? store_i64(b, q->uid) : NULL,
	                       q->error,
	                       store_i64(c, (gint64)q->raw_len),
	                       store_i64(d, q->received),
	                       q->raw};
	int lens[8] = {0, 0, 0, 0, 0, 0, 0, (int)q->raw_len};
	int fmts[8] = {0, 0, 0, 0, 0, 0, 0, 1};
	int r;
	PGresult *res =
	    store_run(st, S_QUARANTINE_ADD, 8, vals, lens, fmts, &r);

	if (res == NULL)
		return r;
	r = PQntuples(res) > 0 && strcmp(PQgetvalue(res, 0, 0), "0") != 0;
	PQclear(res);
	return r;
}

int
store_quarantine_list(struct store *st, struct store_table *t, GString *out,
                      bool pretty)
{
	return store_rows(
	    st,
	    "SELECT id, COALESCE(mailbox, source) AS mailbox, uid, "
	    "to_char(received, 'YYYY-MM-DD HH24:MI:SS') AS received, size, "
	    "left(error, 100) AS error FROM quarantine ORDER BY id",
	    0, NULL, t, out, pretty);
}

int
store_quarantine_raw(struct store *st, gint64 id, GBytes **raw_r)
{
	char a[24];
	const char *vals[] = {store_i64(a, id)};
	PGresult *res;

	if (!store_connected(st))
		return -ENOTCONN;
	/* binary result: the bytes as they came, no bytea escaping */
	res = PQexecParams(st->conn, "SELECT raw FROM quarantine WHERE id = $1",
	                   1, NULL, vals, NULL, NULL, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return store_fail(st, res, "quarantine raw");
	if (PQntuples(res) == 0) {
		PQclear(res);
		return -ENOENT;
	}
	*raw_r =
	    g_bytes_new(PQgetvalue(res, 0, 0), (gsize)PQgetlength(res, 0, 0));
	PQclear(res);
	return 0;
}

int
store_attachment_add(struct store *st, gint64 message, const char *name,
                     const char *type, const char *cid, bool is_inline,
                     const void *data, size_t len, bool keep_data)
{
	char a[24], b[24];
	const char *vals[] = {store_i64(a, message),
	                      name,
	                      type,
	                      cid,
	                      is_inline ? "t" : "f",
	                      store_i64(b, (gint64)len),
	                      keep_data ? data : NULL};
	int lens[7] = {0, 0, 0, 0, 0, 0, (int)len};
	int fmts[7] = {0, 0, 0, 0, 0, 0, 1};

	return store_send(st, S_ATT_ADD, 7, vals, lens, fmts);
}

int
store_event_add(struct store *st, gint64 ticket, const char *actor,
                const char *action, const char *detail, gint64 message)
{
	char a[24], b[24];
	const char *vals[] = {store_i64(a, ticket), actor, action, detail,
	                      store_i64(b, message)};

	return store_exec(st, S_EVENT_ADD, 5, vals);
}

/* ---- outbox ---- */

int
store_outbox_add(struct store *st, gint64 ticket, gint64 message,
                 const char *kind, const char *env_from, const char *rcpt,
                 const void *data, size_t len)
{
	return store_outbox_add_auto(st, ticket, message, kind, env_from, rcpt,
	                             data, len, NULL, false);
}

int
store_outbox_add_auto(struct store *st, gint64 ticket, gint64 message,
                      const char *kind, const char *env_from, const char *rcpt,
                      const void *data, size_t len, const char *sender,
                      bool is_repeat)
{
	char a[24], b[24];
	const char *vals[] = {store_i64(a, ticket),
	                      store_i64(b, message),
	                      kind,
	                      env_from,
	                      rcpt,
	                      data,
	                      sender ? sender : "",
	                      is_repeat ? "true" : "false"};
	int lens[8] = {0, 0, 0, 0, 0, (int)len, 0, 0};
	int fmts[8] = {0, 0, 0, 0, 0, 1, 0, 0};
	int r = store_send(st, S_OUT_ADD, 8, vals, lens, fmts);

	/* only repeats count for the breaker (S_AUTO_GLOBAL) */
	if (r == 0 && is_repeat)
		st->queued.n++;
	return r;
}

int
store_suppressed(struct store *st, const char *addr)
{
	const char *vals[] = {addr};

	return (int)store_int(st, S_SUPPRESSED, 1, vals, 0);
}

int
store_suppress(struct store *st, const char *addr, const char *reason, int days)
{
	char a[24];
	const char *vals[] = {addr, reason, store_i64(a, days)};

	return store_exec(st, S_SUPPRESS, 3, vals);
}

void
store_outmail_free(gpointer p)
{
	struct store_outmail *o = p;

	g_free(o->kind);
	g_free(o->env_from);
	g_free(o->rcpt);
	if (o->data)
		g_bytes_unref(o->data);
	g_free(o);
}

static gint
store_outmail_cmp(gconstpointer a, gconstpointer b)
{
	const struct store_outmail *x = *(struct store_outmail *const *)a;
	const struct store_outmail *y = *(struct store_outmail *const *)b;

	return x->id < y->id ? -1 : x->id > y->id;
}

int
store_outbox_claim(struct store *st, const char *owner, int lease_secs,
                   int limit, GPtrArray *out)
{
	char a[24], b[24];
	const char *vals[] = {owner, store_i64(a, lease_secs),
	                      store_i64(b, limit)};
	int r;
	PGresult *res = store_run(st, S_OUT_CLAIM, 3, vals, NULL, NULL, &r);

	if (res == NULL)
		return r;
	for (int i = 0; i < PQntuples(res); i++) {
		struct store_outmail *o = g_new0(struct store_outmail, 1);
		size_t len = 0;
		unsigned char *bin = PQunescapeBytea(
		    (const unsigned char *)PQgetvalue(res, i, 5), &len);

		o->id = g_ascii_strtoll(PQgetvalue(res, i, 0), NULL, 10);
		o->ticket_id = g_ascii_strtoll(PQgetvalue(res, i, 1), NULL, 10);
		o->kind = g_strdup(PQgetvalue(res, i, 2));
		o->env_from = g_strdup(PQgetvalue(res, i, 3));
		o->rcpt = g_strdup(PQgetvalue(res, i, 4));
		o->data = g_bytes_new(bin, len);
		PQfreemem(bin);
		o->attempts =
		    (int)g_ascii_strtoll(PQgetvalue(res, i, 6), NULL, 10);
		o->created = g_ascii_strtoll(PQgetvalue(res, i, 7), NULL, 10);
		o->is_repeat = PQgetvalue(res, i, 8)[0] == 't';
		g_ptr_array_add(out, o);
	}
	PQclear(res);
	/* RETURNING rows come in no particular order; send oldest first. */
	g_ptr_array_sort(out, store_outmail_cmp);
	return 0;
}

int
store_conn_state(struct store *st, const char *instance, const char *name,
                 const char *state, const char *err)
{
	const char *vals[] = {instance, name, state, err};

	if (!store_connected(st))
		return -ENOTCONN;
	return store_query_exec(
	    st, "connection state",
	    "INSERT INTO connection_state (instance, name, state, "
	    "last_error, last_error_at) VALUES ($1, $2, $3, $4, CASE WHEN "
	    "$4::text IS NULL THEN NULL ELSE now() END) ON CONFLICT "
	    "(instance, name) DO UPDATE SET state = $3, since = now(), "
	    "last_error = COALESCE($4, connection_state.last_error), "
	    "last_error_at = CASE WHEN $4::text IS NULL THEN "
	    "connection_state.last_error_at ELSE now() END",
	    4, vals);
}

int
store_instance_register(struct store *st, const char *name)
{
	const char *vals[] = {name};

	if (!store_connected(st))
		return -ENOTCONN;
	return store_query_exec(
	    st, "instance lock",
	    "SELECT pg_advisory_lock_shared(" STORE_INSTANCE_CLASS
	    ", " STORE_INSTANCE_KEY("$1::text") ")",
	    1, vals);
}

int
store_outbox_release(struct store *st, const char *owner)
{
	const char *vals[] = {owner};
	PGresult *res = store_query(st,
	                            "UPDATE outbox SET state = 'queued', "
	                            "lease_until = NULL WHERE state = "
	                            "'sending' AND (leased_by = $1 OR "
	                            "left(leased_by, length($1) + 1) = $1 "
	                            "|| '#')",
	                            1, vals);
	int n;

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		return store_fail(st, res, "release leases");
	n = (int)g_ascii_strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return n;
}

int
store_outbox_sent(struct store *st, gint64 id, int code)
{
	char a[24], b[24];
	const char *vals[] = {store_i64(a, id), store_i64(b, code)};
	gint64 r = store_int(st, S_OUT_SENT, 2, vals, 0);

	/* a repeat counts for the breaker at once (S_SENT_GLOBAL is re-read
	 * only once a second: a burst of repeats must not slip through) */
	if (r == 1)
		st->sent.n++;
	return r < 0 ? (int)r : 0;
}

int
store_outbox_retry(struct store *st, gint64 id, int code, const char *err,
                   int delay_secs)
{
	char a[24], b[24], c[24];
	const char *vals[] = {store_i64(a, id), store_i64(b, code), err,
	                      store_i64(c, delay_secs)};

	return store_exec(st, S_OUT_RETRY, 4, vals);
}

int
store_outbox_failed(struct store *st, gint64 id, int code, const char *err)
{
	char a[24], b[24];
	const char *vals[] = {store_i64(a, id), store_i64(b, code), err};

	return store_exec(st, S_OUT_FAILED, 3, vals);
}

gint64
store_outbox_next_due(struct store *st)
{
	return store_int(st, S_OUT_NEXT, 0, NULL, -1);
}

/* ---- send limits and the circuit breaker ---- */

/* store_minute_count - m's count, re-read by statement s when stale. */
static gint64
store_minute_count(struct store *st, struct store_minute *m, enum store_stmt s,
                   int seconds)
{
	gint64 now = g_get_monotonic_time();
	char a[24];
	const char *vals[] = {store_i64(a, seconds)};
	gint64 n;

	if (m->read_at != 0 && m->seconds == seconds &&
	    now - m->read_at < STORE_MINUTE_TTL_US)
		return m->n;
	if ((n = store_int(st, s, 1, vals, 0)) < 0)
		return n;
	m->n = n;
	m->read_at = now;
	m->seconds = seconds;
	return n;
}

int
store_limit_counts_sender(struct store *st, const char *rcpt,
                          const char *sender, gint64 ticket, int rcpt_secs,
                          int ticket_secs, gint64 *rcpt_r, gint64 *ticket_r,
                          gint64 *sender_r)
{
	char a[24], b[24], c[24];
	const char *vals[] = {rcpt, store_i64(a, ticket),
	                      store_i64(b, rcpt_secs),
	                      store_i64(c, ticket_secs), sender};
	int r;
	PGresult *res = store_run(st, S_AUTO_SENDER, 5, vals, NULL, NULL, &r);

	if (res == NULL)
		return r;
	*rcpt_r = g_ascii_strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	*ticket_r = g_ascii_strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	*sender_r = g_ascii_strtoll(PQgetvalue(res, 0, 2), NULL, 10);
	PQclear(res);
	return 0;
}

gint64
store_auto_count_global(struct store *st, int seconds)
{
	return store_minute_count(st, &st->queued, S_AUTO_GLOBAL, seconds);
}

gint64
store_sent_count_global(struct store *st, int seconds)
{
	return store_minute_count(st, &st->sent, S_SENT_GLOBAL, seconds);
}

int
store_limit_counts(struct store *st, bool sent, const char *rcpt, gint64 ticket,
                   int rcpt_secs, int ticket_secs, gint64 *rcpt_r,
                   gint64 *ticket_r)
{
	char a[24], b[24], c[24];
	const char *vals[] = {rcpt, store_i64(a, ticket),
	                      store_i64(b, rcpt_secs),
	                      store_i64(c, ticket_secs)};
	int r;
	PGresult *res = store_run(st, sent ? S_SENT_COUNTS : S_AUTO_COUNTS, 4,
	                          vals, NULL, NULL, &r);

	if (res == NULL)
		return r;
	*rcpt_r = g_ascii_strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	*ticket_r = g_ascii_strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	PQclear(res);
	return 0;
}

int
store_outbox_suppress(struct store *st, gint64 id, const char *why)
{
	char a[24];
	const char *vals[] = {store_i64(a, id), why};

	return store_exec(st, S_OUT_SUPPRESS, 2, vals);
}

/* store_changed - store_run for an UPDATE: the number of rows it changed. */
static gint64
store_changed(struct store *st, enum store_stmt s, int n,
              const char *const *vals)
{
	int r;
	PGresult *res = store_run(st, s, n, vals, NULL, NULL, &r);
	gint64 v;

	if (res == NULL)
		return r;
	v = g_ascii_strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return v;
}

gint64
store_outbox_hold(struct store *st, int secs, const char *why)
{
	char a[24];
	const char *vals[] = {store_i64(a, secs), why};

	return store_changed(st, S_OUT_HOLD, 2, vals);
}

gint64
store_outbox_unhold(struct store *st)
{
	return store_changed(st, S_OUT_UNHOLD, 0, NULL);
}

int
store_breaker_get(struct store *st, const char *name, struct store_breaker *b_r)
{
	const char *vals[] = {name};
	int r;
	PGresult *res = store_run(st, S_BREAKER_GET, 1, vals, NULL, NULL, &r);

	if (res == NULL)
		return r;
	memset(b_r, 0, sizeof(*b_r));
	if (PQntuples(res) > 0) {
		b_r->open = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
		b_r->until = g_ascii_strtoll(PQgetvalue(res, 0, 1), NULL, 10);
		g_strlcpy(b_r->reason, PQgetvalue(res, 0, 2),
		          sizeof(b_r->reason));
	}
	PQclear(res);
	return 0;
}

int
store_breaker_trip(struct store *st, const char *name, int cooldown,
                   const char *reason)
{
	char a[24];
	const char *vals[] = {name, store_i64(a, cooldown), reason};

	return store_exec(st, S_BREAKER_TRIP, 3, vals);
}

int
store_breaker_reset(struct store *st, const char *name, const char *actor)
{
	const char *vals[] = {name, actor};

	return (int)store_changed(st, S_BREAKER_RESET, 2, vals);
}

char *
store_out_rcpt_by_msgid(struct store *st, const char *message_id)
{
	const char *vals[] = {message_id};
	int r;
	PGresult *res;
	char *v = NULL;

	res = store_run(st, S_OUT_RCPT_BY_MSGID, 1, vals, NULL, NULL, &r);
	if (res == NULL)
		return NULL;
	if (PQntuples(res) > 0)
		v = g_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

/* ---- tickctl views: PostgreSQL builds the JSON ---- */

/* store_json - run a one-row, one-column json query into out. */
static int
store_json(struct store *st, const char *sql, int n, const char *const *vals,
           GString *out, bool pretty)
{
	g_autofree char *q = pretty ? g_strdup_printf("SELECT jsonb_pretty((%s)"
	                                              "::jsonb)",
	                                              sql)
	                            : g_strdup_printf("SELECT (%s)::text", sql);
	PGresult *res = store_query(st, q, n, vals);

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return store_fail(st, res, "report");
	if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0)) {
		PQclear(res);
		return -ENOENT;
	}
	g_string_append(out, PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

#define STORE_TICKET_COLS                                                      \
	"'number', t.id, 'queue', t.queue, 'status', t.status, 'priority', "   \
	"t.priority, 'subject', t.subject, 'requester', t.requester, "         \
	"'requester_name', t.requester_name, 'assignee', t.assignee, "         \
	"'needs_review', t.needs_review, 'review_reason', t.review_reason, "   \
	"'linked_ticket', t.linked_ticket, 'created', t.created, "             \
	"'updated', t.updated, 'first_response_at', t.first_response_at, "     \
	"'resolved_at', t.resolved_at, 'closed_at', t.closed_at, "             \
	"'reopen_count', t.reopen_count, 'message_count', (SELECT count(*) "   \
	"FROM message m WHERE m.ticket_id = t.id)"

int
store_tickets_json(struct store *st, const char *status, GString *out,
                   bool pretty)
{
	const char *vals[] = {status};

	return store_json(
	    st,
	    "SELECT COALESCE(json_agg(json_build_object(" STORE_TICKET_COLS
	    ") ORDER BY t.id), '[]') FROM "
	    "ticket t WHERE $1::text IS NULL OR t.status = $1",
	    1, vals, out, pretty);
}

/* SLA due times and breach state as of the last escalation tick (sla.c
 * does the business-time math, so the tick writes them), and every
 * escalation notice of the ticket. */
#define STORE_SLA_JSON                                                         \
	"'sla', (SELECT c.view || jsonb_build_object('evaluated_at', "         \
	"c.evaluated_at) FROM sla_clock c WHERE c.ticket_id = t.id), "         \
	"'escalations', (SELECT COALESCE(json_agg(json_build_object('rcpt', "  \
	"n.rcpt, 'kind', n.kind, 'level', n.level, 'breach_at', "              \
	"to_timestamp(n.breach_at), 'reason', n.reason, 'queued_at', "         \
	"to_timestamp(n.queued_at), 'sent_at', to_timestamp(n.sent_at)) "      \
	"ORDER BY n.id), '[]') FROM sla_notice n WHERE n.ticket_id = t.id)"

int
store_ticket_json(struct store *st, gint64 id, GString *out, bool pretty)
{
	char a[24];
	const char *vals[] = {store_i64(a, id)};

	return store_json(
	    st,
	    "SELECT json_build_object(" STORE_TICKET_COLS
	    ", 'last_customer_at', t.last_customer_at, 'last_agent_at', "
	    "t.last_agent_at, 'participants', (SELECT "
	    "COALESCE(json_agg(json_build_object("
	    "'addr', p.addr, 'name', p.name, 'role', p.role) ORDER BY "
	    "p.addr), '[]') FROM participant p WHERE p.ticket_id = t.id), "
	    "'messages', (SELECT COALESCE(json_agg(json_build_object('id', "
	    "m.id, 'message_id', m.message_id, 'direction', m.direction, "
	    "'role', m.role, 'class', m.class, 'class_reason', "
	    "m.class_reason, 'from', m.from_addr, 'from_name', m.from_name, "
	    "'to', m.to_addrs, 'cc', m.cc_addrs, 'subject', m.subject, "
	    "'text', m.body_text, 'text_new', m.body_new, 'has_html', "
	    "m.body_html IS NOT NULL, 'date', m.sent_date, 'received', "
	    "m.received, 'source', m.source, 'unparsed', m.unparsed, "
	    "'defects', m.defects, 'size', m.size, 'attachments', (SELECT "
	    "COALESCE(json_agg(json_build_object('name', a.filename, "
	    "'type', a.content_type, 'size', a.size, 'inline', a.is_inline, "
	    "'content_id', a.content_id) ORDER BY a.id), '[]') FROM "
	    "attachment a WHERE a.message_id = m.id)) ORDER BY m.id), '[]') "
	    "FROM message m WHERE m.ticket_id = t.id), 'events', (SELECT "
	    "COALESCE(json_agg(json_build_object('at', e.at, 'actor', "
	    "e.actor, 'action', e.action, 'detail', e.detail, 'message', "
	    "e.message_id) ORDER BY e.id), '[]') FROM event e WHERE "
	    "e.ticket_id = t.id), 'outbox', (SELECT COALESCE(json_agg("
	    "json_build_object('id', o.id, 'kind', o.kind, 'rcpt', o.rcpt, "
	    "'state', o.state, 'attempts', o.attempts, 'last_code', "
	    "o.last_code, 'last_error', o.last_error, 'created', o.created, "
	    "'sent_at', o.sent_at) ORDER BY o.id), '[]') FROM outbox o "
	    "WHERE o.ticket_id = t.id), " STORE_SLA_JSON ") FROM ticket t "
	    "WHERE t.id = $1",
	    1, vals, out, pretty);
}

/* The circuit breaker (002_limits) for tickctl status: open or not, why,
 * until when (null: until `tickctl breaker reset`), mails held. */
#define STORE_BREAKER_JSON                                                     \
	"(SELECT json_build_object('open', COALESCE(bool_or(b.state = "        \
	"'open' AND (b.until IS NULL OR b.until > now())), false), "           \
	"'tripped_at', max(b.tripped_at), 'until', max(b.until), 'reason', "   \
	"max(b.reason), 'trips', COALESCE(max(b.trips), 0), 'reset_at', "      \
	"max(b.reset_at), 'reset_by', max(b.reset_by), 'held', (SELECT "       \
	"count(*) FROM outbox WHERE state = 'queued' AND last_error LIKE "     \
	"'held:%')) FROM breaker b WHERE b.name = 'auto')"

int
store_status_json(struct store *st, GString *out, bool pretty)
{
	return store_json(
	    st,
	    "SELECT json_build_object('mailboxes', (SELECT COALESCE("
	    "json_agg(json_build_object('mailbox', s.mailbox, "
	    "'uidvalidity', s.uidvalidity, 'last_uid', s.last_uid, "
	    "'marked_uid', s.marked_uid, 'last_fetch', s.last_fetch, "
	    "'last_ok', s.last_ok, 'lag_seconds', extract(epoch FROM now() "
	    "- s.last_ok)::bigint, 'last_error', s.last_error, "
	    "'last_error_at', s.last_error_at, 'failures', s.failures, "
	    "'quarantined', (SELECT count(*) FROM quarantine q WHERE "
	    "q.mailbox = s.mailbox)) ORDER BY s.mailbox), '[]') FROM "
	    "mailbox_state s), 'quarantine', (SELECT json_build_object("
	    "'count', count(*), 'last_error', (SELECT error FROM quarantine "
	    "ORDER BY id DESC LIMIT 1), 'last_at', max(received)) FROM "
	    "quarantine), 'needs_review', (SELECT count(*) FROM ticket WHERE "
	    "needs_review), 'outbox', "
	    "(SELECT json_build_object('queued', count(*) FILTER (WHERE "
	    "state IN ('queued', 'sending')), 'failed', count(*) FILTER "
	    "(WHERE state = 'failed'), 'sent', count(*) FILTER (WHERE state "
	    "= 'sent'), 'suppressed', count(*) FILTER (WHERE state = "
	    "'suppressed'), 'oldest_queued', min(created) FILTER (WHERE "
	    "state IN ('queued', 'sending')), 'last_error', (SELECT "
	    "last_error FROM outbox WHERE last_error IS NOT NULL AND state "
	    "IN ('queued', 'sending', 'failed') ORDER BY id DESC LIMIT 1)) "
	    "FROM outbox), 'tickets', (SELECT json_object_agg(status, n) "
	    "FROM (SELECT status, count(*) n FROM ticket GROUP BY status) "
	    "x), 'suppressed_addresses', (SELECT count(*) FROM suppression "
	    "WHERE until > now()), 'suppressed', (SELECT COALESCE(json_agg("
	    "json_build_object('addr', addr, 'reason', reason, 'until', "
	    "until) ORDER BY addr), '[]') FROM suppression WHERE until > "
	    "now()), 'breaker', " STORE_BREAKER_JSON ", 'connections', "
	    "(SELECT COALESCE(json_agg(c ORDER BY c.instance, c.name), "
	    "'[]') FROM connection_state c))",
	    0, NULL, out, pretty);
}

/* ---- tickctl admin views and changes (issue 8) ---- */

void
store_table_init(struct store_table *t)
{
	t->cols = g_ptr_array_new_with_free_func(g_free);
	t->rows =
	    g_ptr_array_new_with_free_func((GDestroyNotify)g_ptr_array_unref);
}

void
store_table_clear(struct store_table *t)
{
	if (t->cols)
		g_ptr_array_unref(t->cols);
	if (t->rows)
		g_ptr_array_unref(t->rows);
	t->cols = t->rows = NULL;
}

/* store_rows - run one query either into t (text cells) or, with t NULL,
 * as a JSON array of row objects into out: one SQL text serves both. */
static int
store_rows(struct store *st, const char *sql, int n, const char *const *vals,
           struct store_table *t, GString *out, bool pretty)
{
	g_autofree char *q = NULL;
	PGresult *res;

	if (!store_connected(st))
		return -ENOTCONN;
	if (t == NULL) {
		q = g_strdup_printf("SELECT COALESCE(json_agg(row_to_json(x)), "
		                    "'[]') FROM (%s) x",
		                    sql);
		return store_json(st, q, n, vals, out, pretty);
	}
	res = store_query(st, sql, n, vals);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return store_fail(st, res, "report");
	for (int c = 0; c < PQnfields(res); c++)
		g_ptr_array_add(t->cols, g_strdup(PQfname(res, c)));
	for (int r = 0; r < PQntuples(res); r++) {
		GPtrArray *row = g_ptr_array_new_with_free_func(g_free);
		for (int c = 0; c < PQnfields(res); c++)
			g_ptr_array_add(row,
			                PQgetisnull(res, r, c)
			                    ? NULL
			                    : g_strdup(PQgetvalue(res, r, c)));
		g_ptr_array_add(t->rows, row);
	}
	PQclear(res);
	return 0;
}

#define STORE_TICKET_WHERE                                                     \
	" WHERE ($1::text IS NULL OR t.status = $1) AND ($2::text IS NULL OR " \
	"t.queue = $2) AND ($3::text IS NULL OR t.priority = $3) AND "         \
	"($4::text IS NULL OR t.assignee = lower($4) OR ($4 = '-' AND "        \
	"t.assignee IS NULL)) AND ($5::text IS NULL OR EXISTS (SELECT 1 "      \
	"FROM sla_clock c WHERE c.ticket_id = t.id AND "                       \
	"(c.view->>'breached')::boolean))"

int
store_tickets_list(struct store *st, const struct store_ticket_filter *f,
                   struct store_table *t, GString *out, bool pretty)
{
	const char *vals[] = {f->status, f->queue, f->priority, f->assignee,
	                      f->breached ? "t" : NULL};

	/* --json: every column `tickets --json` always had (one object per
	 * ticket); the table: the columns that fit a terminal. */
	if (t == NULL)
		return store_json(
		    st,
		    "SELECT "
		    "COALESCE(json_agg(json_build_object(" STORE_TICKET_COLS
		    ") ORDER BY t.id), '[]') "
		    "FROM ticket t" STORE_TICKET_WHERE,
		    5, vals, out, pretty);
	return store_rows(st,
	                  "SELECT t.id AS number, t.status, t.priority, "
	                  "t.queue, COALESCE(t.assignee, '-') AS assignee, "
	                  "t.requester, to_char(t.updated, 'YYYY-MM-DD "
	                  "HH24:MI') AS updated, left(t.subject, 40) AS "
	                  "subject FROM ticket t" STORE_TICKET_WHERE
	                  " ORDER BY t.id",
	                  5, vals, t, out, pretty);
}

static const char *const store_views[] = {
    [STORE_VIEW_MAILBOXES] =
        "SELECT mailbox, uidvalidity, last_uid AS cursor, marked_uid, "
        "to_char(last_ok, 'YYYY-MM-DD HH24:MI:SS') AS last_ok, "
        "extract(epoch FROM now() - last_ok)::bigint AS lag_seconds, "
        "failures, (SELECT count(*) FROM quarantine q WHERE q.mailbox = "
        "s.mailbox) AS quarantined, left(last_error, 80) AS last_error, "
        "to_char(last_error_at, 'YYYY-MM-DD HH24:MI:SS') AS "
        "last_error_at FROM mailbox_state s ORDER BY mailbox",
    [STORE_VIEW_REVIEW] =
        "SELECT (SELECT count(*) FROM quarantine) AS quarantined_mails, "
        "(SELECT left(error, 80) FROM quarantine ORDER BY id DESC LIMIT "
        "1) AS last_quarantined, (SELECT count(*) FROM ticket WHERE "
        "needs_review) AS tickets_needing_review",
    [STORE_VIEW_OUTBOX] =
        "SELECT count(*) FILTER (WHERE state IN ('queued', 'sending')) "
        "AS backlog, to_char(min(created) FILTER (WHERE state IN "
        "('queued', 'sending')), 'YYYY-MM-DD HH24:MI:SS') AS "
        "oldest_queued, COALESCE(extract(epoch FROM now() - "
        "min(created) FILTER (WHERE state IN ('queued', 'sending')))"
        "::bigint, 0) AS oldest_age_seconds, count(*) FILTER (WHERE "
        "state = 'failed') AS failed, count(*) FILTER (WHERE state = "
        "'suppressed') AS suppressed, count(*) FILTER (WHERE state = "
        "'sent') AS sent FROM outbox",
    [STORE_VIEW_SUPPRESSED] =
        "SELECT addr, left(reason, 60) AS reason, to_char(until, "
        "'YYYY-MM-DD HH24:MI') AS until FROM suppression WHERE until > "
        "now() ORDER BY addr",
    [STORE_VIEW_OUTBOX_PENDING] =
        "SELECT id, ticket_id AS ticket, kind, rcpt, state, attempts, "
        "to_char(next_attempt, 'YYYY-MM-DD HH24:MI:SS') AS "
        "next_attempt, last_code, left(last_error, 60) AS last_error, "
        "to_char(created, 'YYYY-MM-DD HH24:MI:SS') AS created FROM "
        "outbox WHERE state IN ('queued', 'sending', 'failed') ORDER BY "
        "id",
    [STORE_VIEW_OUTBOX_ALL] =
        "SELECT * FROM (SELECT id, ticket_id AS ticket, kind, rcpt, "
        "state, attempts, to_char(next_attempt, 'YYYY-MM-DD "
        "HH24:MI:SS') AS next_attempt, last_code, left(last_error, 60) "
        "AS last_error, to_char(created, 'YYYY-MM-DD HH24:MI:SS') AS "
        "created FROM outbox ORDER BY id DESC LIMIT 100) o ORDER BY id",
};

int
store_view(struct store *st, enum store_view v, struct store_table *t,
           GString *out, bool pretty)
{
	if ((size_t)v >= ARRAY_SIZE(store_views))
		return -EINVAL;
	return store_rows(st, store_views[v], 0, NULL, t, out, pretty);
}

gint64
store_outbox_backlog(struct store *st)
{
	PGresult *res;
	gint64 n;

	if (!store_connected(st))
		return -ENOTCONN;
	res = PQexec(st->conn, "SELECT count(*) FROM outbox WHERE state IN "
	                       "('queued', 'sending')");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return store_fail(st, res, "outbox backlog");
	n = g_ascii_strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return n;
}

int
store_outbox_requeue(struct store *st, gint64 id, gint64 *ticket_r)
{
	char a[24];
	const char *vals[] = {store_i64(a, id)};
	PGresult *res;
	const char *state;
	int r = 0;

	if (!store_connected(st))
		return -ENOTCONN;
	/* A row another instance is sending right now is left alone: its
	 * lease decides.  Only the state we saw is changed (no race). */
	res = store_query(st,
	                  "WITH o AS (SELECT id, state, COALESCE(ticket_id, 0) "
	                  "t FROM outbox WHERE id = $1), u AS (UPDATE outbox "
	                  "SET state = 'queued', next_attempt = now(), "
	                  "lease_until = NULL FROM o WHERE outbox.id = o.id "
	                  "AND o.state IN ('failed', 'queued') RETURNING "
	                  "outbox.id) SELECT o.state, o.t, (SELECT count(*) "
	                  "FROM u) FROM o",
	                  1, vals);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return store_fail(st, res, "outbox requeue");
	if (PQntuples(res) == 0) {
		PQclear(res);
		return -ENOENT;
	}
	state = PQgetvalue(res, 0, 0);
	if (strcmp(state, "sent") == 0 || strcmp(state, "sending") == 0)
		r = -EALREADY;
	else if (strcmp(state, "suppressed") == 0)
		r = -EPERM;
	*ticket_r = g_ascii_strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	PQclear(res);
	return r;
}

int
store_ticket_assignee(struct store *st, gint64 id, char **assignee_r)
{
	char a[24];
	const char *vals[] = {store_i64(a, id)};
	PGresult *res;

	if (!store_connected(st))
		return -ENOTCONN;
	res = store_query(st, "SELECT assignee FROM ticket WHERE id = $1", 1,
	                  vals);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return store_fail(st, res, "ticket assignee");
	if (PQntuples(res) == 0) {
		PQclear(res);
		return -ENOENT;
	}
	*assignee_r =
	    PQgetisnull(res, 0, 0) ? NULL : g_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

/* ---- reports and CSAT (issue 11) ---- */

/* The SLA clock (004_sla.sql) next to each ticket: usable when the tick
 * has initialised it and replayed every change (no sla_change row left);
 * the changes table holds only the unreplayed ones, so it hashes small.
 * Column 11 says usable, 12.. are the fields report.c reads (the cursor
 * moves every byte of them for every ticket: no more). */
#define STORE_REPORT_CLOCK                                                     \
	"COALESCE(c.initialized AND pc.ticket_id IS NULL, false), "            \
	"COALESCE(c.status, 0), COALESCE(c.first_response_at, 0), "            \
	"COALESCE(c.run_since, 0), COALESCE(c.paused_since, 0), "              \
	"COALESCE(c.resolution_run_secs, 0), COALESCE(c.awaiting_since, 0), "  \
	"COALESCE(c.response_run_secs, 0), COALESCE(c.first_response_secs, 0)"
/*
 * The ticket rows of a report: everything created before `to` that was
 * not resolved before the previous period began (created or resolved in
 * either period, or in the backlog at either end).  The OR of the two
 * partial/expression indexes of 005_report.sql keeps a short period over
 * a large history an index scan.
 */
#define STORE_REPORT_TICKETS                                                   \
	"SELECT t.id, t.queue, t.assignee, t.subject, t.priority, "            \
	"extract(epoch FROM t.created)::bigint, COALESCE(extract(epoch "       \
	"FROM t.first_response_at)::bigint, 0), COALESCE(extract(epoch "       \
	"FROM t.last_customer_at)::bigint, 0), COALESCE(extract(epoch FROM "   \
	"t.last_agent_at)::bigint, 0), COALESCE(extract(epoch FROM "           \
	"COALESCE(t.resolved_at, t.closed_at))::bigint, 0), "                  \
	"t.reopen_count, " STORE_REPORT_CLOCK " FROM ticket t LEFT JOIN "      \
	"sla_clock c ON c.ticket_id = t.id LEFT JOIN (SELECT DISTINCT "        \
	"ticket_id FROM sla_change) pc ON pc.ticket_id = t.id "                \
	"WHERE t.created < to_timestamp($2) "                                  \
	"AND ((t.resolved_at IS NULL AND t.closed_at IS NULL) OR "             \
	"COALESCE(t.resolved_at, t.closed_at) >= to_timestamp($1)) AND "       \
	"($3::text IS NULL OR t.queue = $3) AND ($4::text IS NULL OR "         \
	"t.assignee = $4)"

/*
 * Pre-counted rows: kind, sub, period (0 current, 1 previous), queue,
 * assignee, n.  Escalations as escalate.c writes them: one event with
 * action 'escalated' per fired level, detail "level N: ..." (a priority
 * rule's immediate one, "immediate: ...", is level 1); not the
 * 'escalation-requested' / 'escalation-skipped' events.  The LIKE lets
 * the partial index of 005_report.sql serve the scan.  Machine mail is
 * inbound mail stored with role 'other' (classify said machine), except
 * rating replies (class 'rating').
 */
#define STORE_PERIOD(col)                                                      \
	"CASE WHEN " col " >= to_timestamp($2) THEN 0 ELSE 1 END"
#define STORE_RANGE(col)                                                       \
	col " >= to_timestamp($1) AND " col " < to_timestamp($3)"
#define STORE_FILTER                                                           \
	"($4::text IS NULL OR t.queue = $4) AND ($5::text IS NULL OR "         \
	"t.assignee = $5)"
/* Customer mails per (period, ticket) first, then per queue/assignee: a
 * hash aggregate instead of a sort for count(DISTINCT ticket). */
#define STORE_REPORT_CONTACTS                                                  \
	"WITH cm AS (SELECT x.p, t.queue, t.assignee, sum(x.n) AS mails, "     \
	"count(*) AS tickets FROM (SELECT m.ticket_id, " STORE_PERIOD(         \
	    "m.received") " AS p, count(*) AS n FROM message m WHERE "         \
	                  "m.direction = 'in' AND m.role = 'customer' "        \
	                  "AND " STORE_RANGE(                                  \
	                      "m.received") " GROUP BY 1, 2) x JOIN ticket t " \
	                                    "ON "                              \
	                                    "t.id = x.ticket_id "              \
	                                    "WHERE " STORE_FILTER              \
	                                    " GROUP BY 1, 2, 3) "
#define STORE_REPORT_COUNTS                                                                                                                                  \
	STORE_REPORT_CONTACTS                                                                                                                                \
	"SELECT 0, LEAST(COALESCE(substring(e.detail FROM "                                                                                                  \
	"'^level ([0-9]{1,6})')::int, 1), 99), " STORE_PERIOD(                                                                                               \
	    "e.at") ", "                                                                                                                                     \
	            "t.queue, t.assignee, count(*) FROM event e JOIN ticket "                                                                                \
	            "t ON t.id = "                                                                                                                           \
	            "e.ticket_id WHERE e.action LIKE 'escalat%' AND e.action "                                                                               \
	            "= "                                                                                                                                     \
	            "'escalated' AND " STORE_RANGE(                                                                                                          \
	                "e.at") " AND " STORE_FILTER " GROUP BY 2, 3, 4, 5 "                                                                                 \
	                        "UNION ALL SELECT 1, CASE r.rating WHEN "                                                                                    \
	                        "'good' THEN 1 WHEN 'okay' "                                                                                                 \
	                        "THEN 2 ELSE 3 END, " STORE_PERIOD(                                                                                          \
	                            "r.at") ", t.queue, t.assignee, "                                                                                        \
	                                    "count(*) FROM csat_rating r "                                                                                   \
	                                    "JOIN ticket t ON t.id = "                                                                                       \
	                                    "r.ticket_id "                                                                                                   \
	                                    "WHERE " STORE_RANGE(                                                                                            \
	                                        "r.at") " AND " STORE_FILTER                                                                                 \
	                                                " GROUP BY 2, 3, "                                                                                   \
	                                                "4, 5 "                                                                                              \
	                                                "UNION ALL SELECT 2, "                                                                               \
	                                                "0, " STORE_PERIOD(                                                                                  \
	                                                    "m.received") ", "                                                                               \
	                                                                  "t."                                                                               \
	                                                                  "qu"                                                                               \
	                                                                  "eu"                                                                               \
	                                                                  "e,"                                                                               \
	                                                                  " "                                                                                \
	                                                                  "t."                                                                               \
	                                                                  "as"                                                                               \
	                                                                  "si"                                                                               \
	                                                                  "gn"                                                                               \
	                                                                  "ee"                                                                               \
	                                                                  ", "                                                                               \
	                                                                  "co"                                                                               \
	                                                                  "un"                                                                               \
	                                                                  "t("                                                                               \
	                                                                  "*)"                                                                               \
	                                                                  " F"                                                                               \
	                                                                  "RO"                                                                               \
	                                                                  "M "                                                                               \
	                                                                  "me"                                                                               \
	                                                                  "ss"                                                                               \
	                                                                  "ag"                                                                               \
	                                                                  "e "                                                                               \
	                                                                  "m "                                                                               \
	                                                                  "LE"                                                                               \
	                                                                  "FT"                                                                               \
	                                                                  " J"                                                                               \
	                                                                  "OI"                                                                               \
	                                                                  "N "                                                                               \
	                                                                  "ti"                                                                               \
	                                                                  "ck"                                                                               \
	                                                                  "et"                                                                               \
	                                                                  " t"                                                                               \
	                                                                  " O"                                                                               \
	                                                                  "N "                                                                               \
	                                                                  "t."                                                                               \
	                                                                  "id"                                                                               \
	                                                                  " ="                                                                               \
	                                                                  " "                                                                                \
	                                                                  "m."                                                                               \
	                                                                  "ti"                                                                               \
	                                                                  "ck"                                                                               \
	                                                                  "et"                                                                               \
	                                                                  "_i"                                                                               \
	                                                                  "d "                                                                               \
	                                                                  "WH"                                                                               \
	                                                                  "ER"                                                                               \
	                                                                  "E "                                                                               \
	                                                                  "m."                                                                               \
	                                                                  "di"                                                                               \
	                                                                  "re"                                                                               \
	                                                                  "ct"                                                                               \
	                                                                  "io"                                                                               \
	                                                                  "n "                                                                               \
	                                                                  "= "                                                                               \
	                                                                  "'i"                                                                               \
	                                                                  "n'"                                                                               \
	                                                                  " A"                                                                               \
	                                                                  "ND"                                                                               \
	                                                                  " m"                                                                               \
	                                                                  ".r"                                                                               \
	                                                                  "ol"                                                                               \
	                                                                  "e "                                                                               \
	                                                                  "= "                                                                               \
	                                                                  "'o"                                                                               \
	                                                                  "th"                                                                               \
	                                                                  "er"                                                                               \
	                                                                  "' "                                                                               \
	                                                                  "AN"                                                                               \
	                                                                  "D "                                                                               \
	                                                                  "m."                                                                               \
	                                                                  "cl"                                                                               \
	                                                                  "as"                                                                               \
	                                                                  "s "                                                                               \
	                                                                  "<>"                                                                               \
	                                                                  " '"                                                                               \
	                                                                  "ra"                                                                               \
	                                                                  "ti"                                                                               \
	                                                                  "ng"                                                                               \
	                                                                  "' "                                                                               \
	                                                                  "AN"                                                                               \
	                                                                  "D"                                                                                \
	                                                                  " " STORE_RANGE(                                                                   \
	                                                                      "m.received") " AND "                                                          \
	                                                                                    "(($4::text IS NULL AND $5::text IS NULL) OR (t.id IS NOT NULL " \
	                                                                                    "AND " STORE_FILTER                                              \
	                                                                                    ")) GROUP BY 2, 3, 4, 5 "                                        \
	                                                                                    "UNION ALL SELECT 3, 0, p, queue, assignee, mails FROM cm "      \
	                                                                                    "UNION ALL SELECT 4, 0, p, queue, assignee, tickets FROM cm"

#define STORE_REPORT_FETCH 20000

static int
store_report_fetch_tickets(struct store *st, struct report *r,
                           const char *const *vals)
{
	PGresult *res;
	int rc = 0;

	if ((rc = store_query_exec(st, "report",
	                           "DECLARE tickd_report NO SCROLL CURSOR "
	                           "FOR " STORE_REPORT_TICKETS,
	                           4, vals)) < 0)
		return rc;
	for (;;) {
		int n;

		res = PQexec(st->conn, "FETCH " G_STRINGIFY(
		                           STORE_REPORT_FETCH) " FROM "
		                                               "tickd_report");
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			return store_fail(st, res, "report");
		n = PQntuples(res);
		for (int i = 0; i < n && rc == 0; i++) {
			struct report_row row = {
			    .id = g_ascii_strtoll(PQgetvalue(res, i, 0), NULL,
			                          10),
			    .queue = PQgetvalue(res, i, 1),
			    .agent = PQgetisnull(res, i, 2)
			                 ? NULL
			                 : PQgetvalue(res, i, 2),
			    .subject = PQgetvalue(res, i, 3),
			    .priority = report_priority(PQgetvalue(res, i, 4)),
			    .reopen_count = atoi_safe(PQgetvalue(res, i, 10)),
			};
			gint64 *tv[] = {&row.created, &row.first_response,
			                &row.last_customer, &row.last_agent,
			                &row.resolved};
			gint64 *cv[] = {&row.clock.first_response_at,
			                &row.clock.run_since,
			                &row.clock.paused_since,
			                &row.clock.resolution_run_secs,
			                &row.clock.awaiting_since,
			                &row.clock.response_run_secs,
			                &row.clock.first_response_secs};
			for (int c = 0; c < 5; c++)
				*tv[c] = g_ascii_strtoll(
				    PQgetvalue(res, i, 5 + c), NULL, 10);
			/* the SLA clock (STORE_REPORT_CLOCK) */
			row.has_clock =
			    strcmp(PQgetvalue(res, i, 11), "t") == 0;
			row.clock.created = row.created;
			row.clock.priority = row.priority;
			row.clock.status = atoi_safe(PQgetvalue(res, i, 12));
			for (size_t c = 0; c < ARRAY_SIZE(cv); c++)
				*cv[c] = g_ascii_strtoll(
				    PQgetvalue(res, i, 13 + (int)c), NULL, 10);
			rc = report_add_ticket(r, &row);
		}
		PQclear(res);
		if (rc < 0)
			return rc;
		if (n < STORE_REPORT_FETCH)
			break;
	}
	return store_cmd(st, "CLOSE tickd_report");
}

int
store_report_load(struct store *st, struct report *r, const char *queue,
                  const char *agent)
{
	char a[24], b[24], c[24];
	const char *tv[] = {store_i64(a, r->prev_from), store_i64(b, r->p.to),
	                    queue, agent};
	const char *cv[] = {tv[0], store_i64(c, r->p.from), tv[1], queue,
	                    agent};
	bool own_tx =
	    st->conn != NULL && PQtransactionStatus(st->conn) == PQTRANS_IDLE;
	PGresult *res = NULL;
	int rc;

	if (!store_connected(st))
		return -ENOTCONN;
	/* one snapshot for both queries; a cursor needs a transaction */
	if (own_tx && (rc = store_cmd(st, "BEGIN ISOLATION LEVEL REPEATABLE "
	                                  "READ READ ONLY")) < 0)
		return rc;
	/* the cursor reads every row: plan for all of them, not the first
	 * 10%; let the per-ticket aggregates hash in memory; the joins to
	 * ticket of a short period are index lookups of cached pages (the
	 * default random_page_cost makes them a scan of every ticket); JIT
	 * compiling costs more than it saves on these queries */
	if ((rc = store_cmd(st, "SET LOCAL cursor_tuple_fraction = 1")) < 0 ||
	    (rc = store_cmd(st, "SET LOCAL work_mem = '64MB'")) < 0 ||
	    (rc = store_cmd(st, "SET LOCAL random_page_cost = 1.1")) < 0 ||
	    (rc = store_cmd(st, "SET LOCAL jit = off")) < 0)
		goto out;
	if ((rc = store_report_fetch_tickets(st, r, tv)) < 0)
		goto out;
	res = store_query(st, STORE_REPORT_COUNTS, 5, cv);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = store_fail(st, res, "report");
		res = NULL;
		goto out;
	}
	for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
		struct report_count cnt = {
		    .kind = atoi_safe(PQgetvalue(res, i, 0)),
		    .sub = atoi_safe(PQgetvalue(res, i, 1)),
		    .period = atoi_safe(PQgetvalue(res, i, 2)),
		    .queue =
		        PQgetisnull(res, i, 3) ? NULL : PQgetvalue(res, i, 3),
		    .agent =
		        PQgetisnull(res, i, 4) ? NULL : PQgetvalue(res, i, 4),
		    .n = g_ascii_strtoll(PQgetvalue(res, i, 5), NULL, 10),
		};
		rc = report_add_count(r, &cnt);
	}
out:
	PQclear(res);
	if (own_tx) {
		if (rc == 0)
			rc = store_cmd(st, "COMMIT");
		else
			store_rollback(st);
	}
	return rc;
}

void
store_resolved_free(gpointer p)
{
	struct store_resolved *t = p;

	g_free(t->requester);
	g_free(t->requester_name);
	g_free(t->subject);
	g_free(t->queue);
	g_free(t);
}

int
store_csat_due(struct store *st, const char *queue, int max_age_secs, int limit,
               GPtrArray *out)
{
	char a[24], b[24];
	const char *vals[] = {store_i64(a, max_age_secs), store_i64(b, limit),
	                      queue};
	int r;
	PGresult *res = store_run(st, S_CSAT_DUE, 3, vals, NULL, NULL, &r);

	if (res == NULL)
		return r;
	for (int i = 0; i < PQntuples(res); i++) {
		struct store_resolved *t = g_new0(struct store_resolved, 1);
		t->id = g_ascii_strtoll(PQgetvalue(res, i, 0), NULL, 10);
		t->resolved_at =
		    g_ascii_strtoll(PQgetvalue(res, i, 1), NULL, 10);
		t->requester = g_strdup(PQgetvalue(res, i, 2));
		t->requester_name = PQgetisnull(res, i, 3)
		                        ? NULL
		                        : g_strdup(PQgetvalue(res, i, 3));
		t->subject = g_strdup(PQgetvalue(res, i, 4));
		t->queue = g_strdup(PQgetvalue(res, i, 5));
		g_ptr_array_add(out, t);
	}
	PQclear(res);
	return 0;
}

/* store_has_row - run s; 1 when it returned a row, 0 when none, -E. */
static int
store_has_row(struct store *st, enum store_stmt s, int n,
              const char *const *vals)
{
	int r;
	PGresult *res = store_run(st, s, n, vals, NULL, NULL, &r);

	if (res == NULL)
		return r;
	r = PQntuples(res) > 0;
	PQclear(res);
	return r;
}

int
store_csat_request(struct store *st, gint64 ticket)
{
	char a[24];
	const char *vals[] = {store_i64(a, ticket)};

	return store_has_row(st, S_CSAT_REQUEST, 1, vals);
}

int
store_csat_rate(struct store *st, gint64 ticket, const char *rating,
                const char *comment, const char *from, gint64 message,
                gint64 at)
{
	char a[24], b[24], c[24];
	const char *vals[] = {
	    store_i64(a, ticket),  rating,          comment, from,
	    store_i64(b, message), store_i64(c, at)};

	return store_has_row(st, S_CSAT_RATE, 6, vals);
}

int
store_digest_claim(struct store *st, const char *schedule, gint64 start,
                   gint64 end)
{
	char a[24], b[24];
	const char *vals[] = {schedule, store_i64(a, start), store_i64(b, end)};

	return store_has_row(st, S_DIGEST_CLAIM, 3, vals);
}

int
store_event_global(struct store *st, const char *actor, const char *action,
                   const char *detail, gint64 message)
{
	char a[24];
	const char *vals[] = {actor, action, detail, store_i64(a, message)};

	return store_exec(st, S_EVENT_GLOBAL, 4, vals);
}

/* ---- SLA clocks and escalation (issue 7) ---- */

/* store_i64_array - "{1,2,3}" for a bigint[] parameter.  g_free. */
static char *
store_i64_array(const gint64 *v, size_t n)
{
	GString *s = g_string_new("{");

	for (size_t i = 0; i < n; i++)
		g_string_append_printf(s, "%s%" G_GINT64_FORMAT, i ? "," : "",
		                       v[i]);
	g_string_append_c(s, '}');
	return g_string_free(s, FALSE);
}

static gint64
store_col(PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return 0;
	return g_ascii_strtoll(PQgetvalue(res, row, col), NULL, 10);
}

int
store_sla_lock(struct store *st)
{
	return (int)store_int(st, S_SLA_LOCK, 0, NULL, 0);
}

void
store_sla_row_free(gpointer p)
{
	struct store_sla_row *r = p;

	g_free(r->queue);
	g_free(r->immediate);
	g_free(r);
}

int
store_sla_due(struct store *st, gint64 now, int limit, GPtrArray *out)
{
	char a[24], b[24];
	const char *vals[] = {store_i64(a, now), store_i64(b, limit)};
	int r;
	PGresult *res = store_run(st, S_SLA_DUE, 2, vals, NULL, NULL, &r);

	if (res == NULL)
		return r;
	for (int i = 0; i < PQntuples(res); i++) {
		struct store_sla_row *row = g_new0(struct store_sla_row, 1);

		row->ticket_id = store_col(res, i, 0);
		row->queue = g_strdup(PQgetvalue(res, i, 1));
		g_strlcpy(row->priority, PQgetvalue(res, i, 2),
		          sizeof(row->priority));
		g_strlcpy(row->status, PQgetvalue(res, i, 3),
		          sizeof(row->status));
		row->created = store_col(res, i, 4);
		row->agent_opened = strcmp(PQgetvalue(res, i, 5), "t") == 0;
		row->initialized = strcmp(PQgetvalue(res, i, 6), "t") == 0;
		for (int k = 0; k < STORE_SLA_NV; k++)
			row->v[k] = store_col(res, i, 7 + k);
		for (int k = 0; k < 3; k++) {
			row->esc_start[k] = store_col(res, i, 18 + k);
			row->esc_fired[k] = store_col(res, i, 21 + k);
		}
		if (!PQgetisnull(res, i, 24))
			row->immediate = g_strdup(PQgetvalue(res, i, 24));
		g_ptr_array_add(out, row);
	}
	PQclear(res);
	return 0;
}

int
store_sla_changes(struct store *st, gint64 ticket, GArray *out)
{
	char a[24];
	const char *vals[] = {store_i64(a, ticket)};
	int r;
	PGresult *res = store_run(st, S_SLA_CHANGES, 1, vals, NULL, NULL, &r);

	if (res == NULL)
		return r;
	for (int i = 0; i < PQntuples(res); i++) {
		struct store_sla_change c = {0};

		c.id = store_col(res, i, 0);
		c.at = store_col(res, i, 1);
		g_strlcpy(c.kind, PQgetvalue(res, i, 2), sizeof(c.kind));
		g_strlcpy(c.status, PQgetvalue(res, i, 3), sizeof(c.status));
		g_array_append_val(out, c);
	}
	PQclear(res);
	return 0;
}

int
store_sla_save(struct store *st, const struct store_sla_row *row,
               const gint64 *change_ids, size_t n_changes, gint64 next_check,
               const char *view, gint64 now)
{
	char b[STORE_SLA_NV][24], a[24], nc[24], nw[24];
	g_autofree char *starts = store_i64_array(row->esc_start, 3);
	g_autofree char *fired = store_i64_array(row->esc_fired, 3);
	const char *vals[17];
	int r;

	if (n_changes > 0) {
		g_autofree char *ids = store_i64_array(change_ids, n_changes);
		const char *dv[] = {ids};
		if ((r = store_exec(st, S_SLA_CHANGE_DEL, 1, dv)) < 0)
			return r;
	}
	vals[0] = store_i64(a, row->ticket_id);
	for (int k = 0; k < STORE_SLA_NV; k++)
		vals[1 + k] = store_i64(b[k], row->v[k]);
	vals[12] = starts;
	vals[13] = fired;
	vals[14] = store_i64(nc, next_check);
	vals[15] = view;
	vals[16] = store_i64(nw, now);
	return store_exec(st, S_SLA_SAVE, 17, vals);
}

int
store_sla_notice_add(struct store *st, gint64 ticket, const char *rcpt,
                     const char *kind, int level, gint64 breach_at,
                     const char *reason, gint64 now)
{
	char a[24], b[24], c[24], d[24];
	const char *vals[] = {store_i64(a, ticket),
	                      rcpt,
	                      kind,
	                      store_i64(b, level),
	                      store_i64(c, breach_at),
	                      reason,
	                      store_i64(d, now)};

	return store_exec(st, S_SLA_NOTICE_ADD, 7, vals);
}

void
store_sla_notice_free(gpointer p)
{
	struct store_sla_notice *n = p;

	g_free(n->rcpt);
	g_free(n->kind);
	g_free(n->reason);
	g_free(n);
}

int
store_sla_pending(struct store *st, int limit, GPtrArray *out)
{
	char a[24];
	const char *vals[] = {store_i64(a, limit)};
	int r;
	PGresult *res = store_run(st, S_SLA_PENDING, 1, vals, NULL, NULL, &r);

	if (res == NULL)
		return r;
	for (int i = 0; i < PQntuples(res); i++) {
		struct store_sla_notice *n = g_new0(struct store_sla_notice, 1);

		n->id = store_col(res, i, 0);
		n->ticket_id = store_col(res, i, 1);
		n->rcpt = g_strdup(PQgetvalue(res, i, 2));
		n->kind = g_strdup(PQgetvalue(res, i, 3));
		n->level = (int)store_col(res, i, 4);
		n->breach_at = store_col(res, i, 5);
		n->reason = g_strdup(PQgetvalue(res, i, 6));
		n->queued_at = store_col(res, i, 7);
		g_ptr_array_add(out, n);
	}
	PQclear(res);
	return 0;
}

int
store_sla_digest_times(struct store *st, GPtrArray *rcpts, GArray *at_out)
{
	g_autofree char *arr = store_text_array(rcpts);
	const char *vals[] = {arr};
	int r;
	PGresult *res = store_run(st, S_SLA_DIGESTS, 1, vals, NULL, NULL, &r);

	if (res == NULL)
		return r;
	g_array_set_size(at_out, rcpts->len);
	for (guint j = 0; j < rcpts->len; j++)
		g_array_index(at_out, gint64, j) = 0;
	for (int i = 0; i < PQntuples(res); i++)
		for (guint j = 0; j < rcpts->len; j++)
			if (strcmp(PQgetvalue(res, i, 0), rcpts->pdata[j]) == 0)
				g_array_index(at_out, gint64, j) =
				    store_col(res, i, 1);
	PQclear(res);
	return 0;
}

int
store_sla_notices_sent(struct store *st, const gint64 *ids, size_t n,
                       const char *rcpt, gint64 now)
{
	g_autofree char *arr = store_i64_array(ids, n);
	char a[24];
	const char *vals[] = {arr, store_i64(a, now)};
	const char *dv[] = {rcpt, a};
	int r = store_exec(st, S_SLA_NOTICE_SENT, 2, vals);

	return r < 0 ? r : store_exec(st, S_SLA_DIGEST_SET, 2, dv);
}

gint64
store_sla_next(struct store *st)
{
	return store_int(st, S_SLA_NEXT, 0, NULL, 0);
}

int
store_sla_immediate(struct store *st, gint64 ticket, const char *reason)
{
	char a[24];
	const char *vals[] = {store_i64(a, ticket), reason};

	return (int)store_int(st, S_SLA_IMMEDIATE, 2, vals, 0);
}

void
store_sla_info_clear(struct store_sla_info *i)
{
	g_free(i->subject);
	g_free(i->requester);
	g_free(i->requester_name);
	g_free(i->queue);
	g_free(i->assignee);
	g_free(i->last_text);
	memset(i, 0, sizeof(*i));
}

int
store_sla_info(struct store *st, gint64 ticket, struct store_sla_info *i_r)
{
	char a[24];
	const char *vals[] = {store_i64(a, ticket)};
	int r;
	PGresult *res = store_run(st, S_SLA_INFO, 1, vals, NULL, NULL, &r);

	if (res == NULL)
		return r;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return -ENOENT;
	}
	memset(i_r, 0, sizeof(*i_r));
	i_r->subject = g_strdup(PQgetvalue(res, 0, 0));
	i_r->requester = g_strdup(PQgetvalue(res, 0, 1));
	i_r->requester_name = g_strdup(PQgetvalue(res, 0, 2));
	i_r->queue = g_strdup(PQgetvalue(res, 0, 3));
	g_strlcpy(i_r->priority, PQgetvalue(res, 0, 4), sizeof(i_r->priority));
	i_r->assignee = g_strdup(PQgetvalue(res, 0, 5));
	g_strlcpy(i_r->status, PQgetvalue(res, 0, 6), sizeof(i_r->status));
	i_r->created = store_col(res, 0, 7);
	i_r->last_text = g_strdup(PQgetvalue(res, 0, 8));
	PQclear(res);
	return 0;
}

/* ---- issue 12: queues, templates, privacy ----
 * The erasure, retention and export logic lives in PL/pgSQL functions in
 * sql/006_queues.sql, so that it runs in one statement (one transaction)
 * and a later migration can extend it to tables added after 006. */

/* store_text - run sql with n text parameters; the first cell of the
 * first row into *out_r (g_free; NULL for SQL NULL or no row). 0/-E. */
static int
store_text(struct store *st, const char *what, const char *sql, int n,
           const char *const *vals, char **out_r)
{
	PGresult *res;

	*out_r = NULL;
	if (!store_connected(st))
		return -ENOTCONN;
	res = store_query(st, sql, n, vals);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return store_fail(st, res, what);
	if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
		*out_r = g_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

int
store_requester_language(struct store *st, const char *addr, gint64 except,
                         char **lang_r)
{
	char e[24];
	const char *vals[] = {addr, store_i64(e, except)};

	return store_text(st, "requester language",
	                  "SELECT language FROM ticket WHERE requester = "
	                  "lower($1) AND id <> $2 AND language IS NOT NULL "
	                  "AND language <> '' ORDER BY created DESC, id DESC "
	                  "LIMIT 1",
	                  2, vals, lang_r);
}

int
store_forget(struct store *st, const char *addr, const char *actor,
             GString *out)
{
	const char *vals[] = {addr, actor};
	g_autofree char *s = NULL;
	int r = store_text(st, "forget", "SELECT tickd_forget($1, $2)::text", 2,
	                   vals, &s);

	if (r == 0)
		g_string_append(out, s ? s : "{}");
	return r;
}

int
store_purge(struct store *st, const char *queue, int days, const char *actor,
            GString *out)
{
	char d[24];
	const char *vals[] = {queue, store_i64(d, days), actor};
	g_autofree char *s = NULL;
	int r =
	    store_text(st, "purge", "SELECT tickd_purge($1, $2::int, $3)::text",
	               3, vals, &s);

	if (r == 0)
		g_string_append(out, s ? s : "{}");
	return r;
}

int
store_export_json(struct store *st, const char *addr, GString *out)
{
	const char *vals[] = {addr};
	g_autofree char *s = NULL;
	int r = store_text(
	    st, "export", "SELECT jsonb_pretty(tickd_export($1))", 1, vals, &s);

	if (r == 0)
		g_string_append(out, s ? s : "{}");
	return r;
}

int
store_export_raw(struct store *st, const char *addr,
                 int (*fn)(gint64 id, const void *raw, size_t len, void *ud),
                 void *ud)
{
	const char *vals[] = {addr};
	const int fmts[] = {0};
	PGresult *res;
	int r = 0;

	if (!store_connected(st))
		return -ENOTCONN;
	/* binary results: raw mail is bytes, not text */
	res = PQexecParams(st->conn,
	                   "SELECT id, raw FROM message WHERE raw IS NOT NULL "
	                   "AND id IN (SELECT (m->>'id')::bigint FROM "
	                   "jsonb_array_elements(tickd_export($1)->'messages') "
	                   "m) ORDER BY id",
	                   1, NULL, vals, NULL, fmts, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return store_fail(st, res, "export raw");
	for (int i = 0; i < PQntuples(res) && r == 0; i++) {
		guint64 be;
		gint64 id;

		memcpy(&be, PQgetvalue(res, i, 0), sizeof(be));
		id = (gint64)GUINT64_FROM_BE(be);
		r = fn(id, PQgetvalue(res, i, 1),
		       (size_t)PQgetlength(res, i, 1), ud);
	}
	PQclear(res);
	return r;
}
