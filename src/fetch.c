/*
 * fetch.c - poll one mailbox.  See fetch.h.
 */
#include "fetch.h"

#include "ingest.h"
#include "keywords.h"
#include "log.h"
#include "notify.h"
#include "store.h"
#include "store_ingest.h"

#include <string.h>

struct fetch_ctx {
	const struct cfg *cfg;
	struct store *st;
	const struct fetch_mailbox *mb;
	struct fetch_stats *stats;
	volatile sig_atomic_t *stop;
	struct imap *im;
	gint64 uidvalidity;
	gint64 history_uid; /* store_cursor.history_uid */
	GArray *pending;    /* uint32_t UIDs ingested in the open transaction */
	GPtrArray *pending_logs; /* their ingest_log lines, for after COMMIT */
	size_t pending_bytes;
	guint commit_max; /* mails per transaction */
	GArray *done;     /* uint32_t UIDs committed, not yet marked */
	guint done_told;  /* of them, those on_commit was called for */
	gint64 marked_at; /* monotonic: the last fetch_mark, or the start */
	GArray *copies;   /* struct store_kw_copy since the last COMMIT */
	int err; /* the last store (not IMAP) failure inside the callback */
	/* The mail ingested last in a batch, until store_mail_fate says its
	 * work all landed (fetch_settle): a copy of it, to ingest again
	 * should it not have. */
	struct fetch_prov {
		GBytes *raw; /* NULL: none */
		uint32_t uid;
		gint64 now;
		guint64 seq; /* store_mail_seq */
		struct ingest_outcome out;
	} prov;
};

/*
 * Several mails share one transaction (one WAL flush), each in its own
 * savepoint (store_batch_begin), the cursor at the last one.  At most
 * FETCH_COMMIT_MAX mails: PostgreSQL caches 64 subtransaction ids per
 * backend and gets slower for everyone beyond that.  The byte bound keeps
 * a batch of big mails from holding much memory and WAL in one piece.
 */
#define FETCH_COMMIT_MAX   60u
#define FETCH_COMMIT_BYTES ((size_t)8 << 20)

/*
 * Committed mails are marked on the server (\Seen or MOVE) at the end of
 * a poll, and during a long one once FETCH_MARK_MAX of them wait or
 * FETCH_MARK_US passed: a STORE waits for the server (3-7 ms at 100 mails
 * for Dovecot on a 20,000-mail Maildir), which marking every imap.batch
 * made 13% of a reply's time.  The mark is a courtesy, never state: one
 * left undone by a crash is made by the next poll (fetch_repair_marks).
 */
#define FETCH_MARK_MAX 1000u
#define FETCH_MARK_US  G_USEC_PER_SEC

static int fetch_mark(struct fetch_ctx *x, struct imap *im,
                      const uint32_t *uids, size_t n, gint64 upto);

/* fetch_flush - COMMIT the open batch (fetch_commit), then (only then)
 * mark what it and the batches committed before it held on the server:
 * when all, or when the marks are due (FETCH_MARK_MAX, FETCH_MARK_US).
 * 0 or -E; on a failed COMMIT nothing of it is marked and its mails are
 * fetched again on the next poll (dedupe makes a COMMIT that did land
 * harmless). */
static int fetch_settle(struct fetch_ctx *x);
static int fetch_fail(struct fetch_ctx *x, int r);

/* fetch_max_uid - the highest of a batch's UIDs (they come in order; the
 * cursor must never be set below one of them all the same). */
static uint32_t
fetch_max_uid(const GArray *uids)
{
	uint32_t m = 0;

	for (guint i = 0; i < uids->len; i++)
		m = MAX(m, g_array_index(uids, uint32_t, i));
	return m;
}

/* fetch_commit - COMMIT the open batch; its UIDs join x->done, to be
 * marked by the next fetch_flush.  0 or -E. */
static int
fetch_commit(struct fetch_ctx *x)
{
	int r = 0;

	if (x->prov.raw != NULL && (r = fetch_settle(x)) < 0)
		return fetch_fail(x, r); /* (commits the mails before it) */
	if (store_in_batch(x->st)) {
		/* the cursor past the batch's mails, in its transaction
		 * (ingest_source.batch_cursor) */
		if (x->pending->len > 0 &&
		    (r = store_cursor_set(x->st, x->mb->key, x->uidvalidity,
		                          fetch_max_uid(x->pending))) < 0)
			(void)store_batch_end(x->st, false);
		else
			r = store_batch_end(x->st, true);
		if (r == 0) {
			g_array_append_vals(x->done, x->pending->data,
			                    x->pending->len);
			/* only now are they facts */
			for (guint i = 0; i < x->pending_logs->len; i++)
				ingest_log(x->pending_logs->pdata[i]);
			(void)keywords_record(x->st, x->mb->key, x->uidvalidity,
			                      x->copies);
		} else if (x->pending->len > 0)
			log_warning("fetch: '%s': COMMIT of %u mails failed, "
			            "they are fetched again",
			            x->mb->folder, x->pending->len);
	} else { /* one transaction per mail: each committed already */
		(void)keywords_record(x->st, x->mb->key, x->uidvalidity,
		                      x->copies);
	}
	g_array_set_size(x->copies, 0);
	if (x->done->len > x->done_told && x->mb->on_commit != NULL)
		x->mb->on_commit(x->mb->on_commit_ctx);
	x->done_told = x->done->len;
	g_array_set_size(x->pending, 0);
	g_ptr_array_set_size(x->pending_logs, 0);
	x->pending_bytes = 0;
	return r;
}

static int
fetch_flush(struct fetch_ctx *x, bool all)
{
	int r = fetch_commit(x), mr;

	if (x->done->len == 0 ||
	    (!all && x->done->len < FETCH_MARK_MAX &&
	     g_get_monotonic_time() - x->marked_at < FETCH_MARK_US))
		return r;
	x->marked_at = g_get_monotonic_time();
	mr = fetch_mark(x, x->im, (uint32_t *)(void *)x->done->data,
	                x->done->len,
	                g_array_index(x->done, uint32_t, x->done->len - 1));
	g_array_set_size(x->done, 0);
	x->done_told = 0;
	return r < 0 ? r : mr;
}

/* fetch_oversized - a placeholder mail for one the server may not even
 * hand us (over the IMAP size cap): the ticket says so, the mail stays
 * on the server, nothing is silently skipped. */
static GBytes *
fetch_oversized(const struct fetch_mailbox *mb, uint32_t uid, size_t size)
{
	g_autofree char *s = g_strdup_printf(
	    "From: tickd <tickd@localhost>\r\n"
	    "Subject: [tickd] mail too large to fetch (%zu bytes)\r\n"
	    "X-Tickd-Oversize: %zu\r\n\r\n"
	    "The mail with UID %u in '%s' is %zu bytes, more than tickd "
	    "fetches.\r\nIt is still on the IMAP server; please look at it "
	    "there.\r\n",
	    size, size, uid, mb->folder, size);
	return g_bytes_new(s, strlen(s));
}

/* fetch_count - one imported mail in the poll's figures, by its outcome. */
static void
fetch_count(struct fetch_stats *stats, enum ingest_kind kind)
{
	switch (kind) {
	case INGEST_NEW_TICKET:
		stats->new_tickets++;
		break;
	case INGEST_FOLLOW_UP:
		stats->follow_ups++;
		break;
	case INGEST_DUPLICATE:
		stats->duplicates++;
		break;
	case INGEST_QUARANTINED:
		stats->quarantined++;
		break;
	default:
		stats->other++;
	}
}

/* fetch_source - what ingest_mail is told of mail uid. */
static void
fetch_source(const struct fetch_ctx *x, uint32_t uid, gint64 now,
             struct ingest_source *src)
{
	*src = (struct ingest_source){
	    .label = x->mb->key,
	    .mailbox = x->mb->key,
	    .uidvalidity = x->uidvalidity,
	    .uid = uid,
	    .sent_folder = x->mb->sent,
	    .batch_cursor = store_in_batch(x->st),
	    .hand = x->mb->hand,
	};
	if (uid < x->history_uid) /* there before tickd's first poll */
		src->history_before = x->cfg->imap.first_run_age > 0
		                          ? now - x->cfg->imap.first_run_age
		                          : G_MAXINT64;
}

/* fetch_accept - mail uid (size bytes) is ingested for good: counted, to
 * be committed and marked with the rest of its batch. */
static void
fetch_accept(struct fetch_ctx *x, uint32_t uid, size_t size,
             const struct ingest_outcome *out)
{
	if (store_in_batch(x->st)) {
		g_array_append_val(x->pending, uid);
		g_ptr_array_add(x->pending_logs, g_strdup(out->summary));
		x->pending_bytes += size;
	} else {
		g_array_append_val(x->done, uid);
	}
	keywords_note(x->cfg, x->copies, uid, out->ticket, out->history);
	x->stats->fetched++;
	fetch_count(x->stats, out->kind);
}

/* fetch_full - the open batch is to be committed now. */
static bool
fetch_full(const struct fetch_ctx *x)
{
	return x->pending->len + (x->prov.raw != NULL) >= x->commit_max ||
	       x->pending_bytes >= FETCH_COMMIT_BYTES;
}

/*
 * fetch_fail - ingesting a mail failed with r (transient: ingest_mail
 * quarantines a mail that fails for good and returns 0): only this mail's
 * savepoint was undone, so commit the mails before it (unless the
 * connection took them along) and fetch it again later.  Returns r.
 */
static int
fetch_fail(struct fetch_ctx *x, int r)
{
	x->err = r;
	g_clear_pointer(&x->prov.raw, g_bytes_unref);
	if (r == -ENOTCONN) {
		(void)store_batch_end(x->st, false);
		if (x->pending->len > 0)
			log_warning("fetch: '%s': database gone, %u "
			            "uncommitted mails are fetched again",
			            x->mb->folder, x->pending->len);
		g_array_set_size(x->pending, 0);
		g_ptr_array_set_size(x->pending_logs, 0);
		g_array_set_size(x->copies, 0);
	}
	(void)fetch_flush(x, true);
	return r;
}

/*
 * fetch_settle - the provisional mail (x->prov): accepted when all its
 * work landed; else, its work undone (store_mail_fate), ingested again
 * with every statement waited for, so that ingest_mail sees its own
 * failure (a retry after a taken dedupe key, or the quarantine).  0 or
 * -E; the caller then goes the failure path (fetch_fail).
 */
static int
fetch_settle(struct fetch_ctx *x)
{
	g_autoptr(GBytes) raw = g_steal_pointer(&x->prov.raw);
	struct ingest_source src;
	struct ingest_outcome out;
	const void *data;
	size_t size;
	char q[96];
	int r;

	if (raw == NULL)
		return 0;
	data = g_bytes_get_data(raw, &size);
	r = store_mail_fate(x->st, x->prov.seq);
	if (r == 0) {
		fetch_accept(x, x->prov.uid, size, &x->prov.out);
		return 0;
	}
	if (r != -ESTALE)
		return r;
	log_notice("fetch: '%s': uid %u failed as it was committed (%s): "
	           "ingesting it again, one statement at a time",
	           x->mb->folder, x->prov.uid,
	           log_quote(store_error(x->st), q, sizeof(q)));
	fetch_source(x, x->prov.uid, x->prov.now, &src);
	store_batch_careful(x->st, true);
	r = ingest_mail(x->cfg, x->st, data, size, &src, x->prov.now, &out);
	store_batch_careful(x->st, false);
	if (r == 0)
		fetch_accept(x, x->prov.uid, size, &out);
	return r;
}

static int
fetch_ingest_cb(uint32_t uid, const void *data, size_t size, void *ud)
{
	struct fetch_ctx *x = ud;
	struct ingest_source src;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	struct ingest_outcome out;
	g_autoptr(GBytes) placeholder = NULL;
	int r, pr;

	if (*x->stop)
		return -ECANCELED;
	notify_watchdog(); /* a long fetch is progress, not a hang */
	if (x->commit_max > 1 && !store_in_batch(x->st)) {
		if ((r = store_batch_begin(x->st)) < 0)
			return r;
		store_batch_careful(x->st, false); /* fetch_settle settles */
	}
	if (data == NULL) {
		log_warning("fetch: uid %u '%s': %zu bytes is over the limit, "
		            "recorded for review",
		            uid, x->mb->folder, size);
		placeholder = fetch_oversized(x->mb, uid, size);
		data = g_bytes_get_data(placeholder, &size);
	}
	fetch_source(x, uid, now, &src);
	/* its first wait also reads the end of the mail before */
	r = ingest_mail(x->cfg, x->st, data, size, &src, now, &out);
	if (x->prov.raw != NULL) {
		if ((pr = fetch_settle(x)) < 0)
			return fetch_fail(x, pr); /* (this one: next poll) */
		if (r == -ESTALE) /* it waited for the one before: again */
			r = ingest_mail(x->cfg, x->st, data, size, &src, now,
			                &out);
	}
	if (r < 0)
		return fetch_fail(x, r);
	if (!store_in_batch(x->st)) {
		fetch_accept(x, uid, size, &out);
		return 0;
	}
	/* committed as far as the batch goes, its fate not known yet: kept
	 * until the next mail or the batch's end settles it */
	x->prov.raw = g_bytes_new(data, size);
	x->prov.uid = uid;
	x->prov.now = now;
	x->prov.seq = store_mail_seq(x->st);
	x->prov.out = out;
	/* (marked on the server when due, after a range: fetch_flush) */
	return fetch_full(x) ? fetch_commit(x) : 0;
}

/* fetch_one_by_one - the n mails of batch with one round trip each (the
 * server has no fast path). */
static int
fetch_one_by_one(struct fetch_ctx *x, const uint32_t *batch, guint n)
{
	g_autoptr(GByteArray) buf = g_byte_array_new();
	int r = 0;

	for (guint k = 0; k < n && r == 0 && !*x->stop; k++) {
		g_byte_array_set_size(buf, 0);
		r = imap_fetch(x->im, x->mb->folder, (uint32_t)x->uidvalidity,
		               batch[k], buf);
		if (r == -ENOENT) { /* expunged meanwhile */
			r = 0;
			continue;
		}
		if (r == -EFBIG)
			r = fetch_ingest_cb(batch[k], NULL, 0, x);
		else if (r == 0)
			r = fetch_ingest_cb(batch[k], buf->data, buf->len, x);
	}
	return r;
}

/*
 * fetch_uids - fetch and ingest uids, imap.batch at a time; what was
 * ingested is committed as each range ends and marked when due
 * (fetch_flush), all of it by the end, even if the fetch broke off.  0,
 * or -E with *server_r true when the IMAP server failed
 * (timeouts, garbage, refused literals: recorded for tickctl status),
 * false when the store did (the loop's business).
 */
static int
fetch_uids(struct fetch_ctx *x, GArray *uids, bool *server_r)
{
	int r, fr;

	x->marked_at = g_get_monotonic_time();
	for (guint i = 0; i < uids->len && !*x->stop;) {
		guint n = MIN(uids->len - i, (guint)x->cfg->imap.batch);
		const uint32_t *batch = &g_array_index(uids, uint32_t, i);

		x->err = 0;
		r = imap_fetch_range(x->im, x->mb->folder,
		                     (uint32_t)x->uidvalidity, batch, n,
		                     fetch_ingest_cb, x);
		if (r == -ENOSYS)
			r = fetch_one_by_one(x, batch, n);
		/* (all marked when it breaks off; else when due, and at the
		 * end, below) */
		fr = fetch_flush(x, r != 0);
		if ((r == 0 || r == -ECANCELED) && fr < 0)
			r = fr;
		if (r == -ECANCELED)
			r = 0;
		if (r < 0) {
			*server_r = r != x->err && r != -ENOTCONN;
			return r;
		}
		i += n;
	}
	if (x->done->len > 0 && (r = fetch_flush(x, true)) < 0) {
		*server_r = r != x->err && r != -ENOTCONN;
		return r;
	}
	return 0;
}

/* fetch_mark - the after-COMMIT side effect for uids, then remember it. */
static int
fetch_mark(struct fetch_ctx *x, struct imap *im, const uint32_t *uids, size_t n,
           gint64 upto)
{
	const char *move_to = NULL;
	int r;

	if (n > 0 && x->cfg->imap.after != CFG_AFTER_NONE) {
		if (x->cfg->imap.after == CFG_AFTER_MOVE)
			move_to = x->cfg->imap.move_to;
		r = imap_mark(im, x->mb->folder, (uint32_t)x->uidvalidity, uids,
		              n, move_to);
		if (r < 0)
			return r;
	}
	return store_cursor_marked(x->st, x->mb->key, upto);
}

/*
 * fetch_first - a mailbox's first poll (no cursor yet): imap.first_run
 * decides what the mail already in it is.  "history" records UIDNEXT as
 * the history boundary, "skip" puts the cursor at the end, "new" starts
 * at UID 0 as every poll did before.  0 or -E (store).
 */
static int
fetch_first(struct fetch_ctx *x, struct store_cursor *c,
            const struct imap_status *status, gint64 end)
{
	const struct cfg *cfg = x->cfg;

	c->uidvalidity = status->uidvalidity;
	c->last_uid = c->marked_uid = c->history_uid = 0;
	switch (cfg->imap.first_run) {
	case CFG_FIRST_NEW:
		log_notice("fetch: '%s': first poll, the %u mails there are "
		           "new mail (imap.first_run = new)",
		           x->mb->folder, status->messages);
		return store_cursor_reset(x->st, x->mb->key,
		                          status->uidvalidity);
	case CFG_FIRST_SKIP:
		c->last_uid = c->marked_uid = end;
		log_notice("fetch: '%s': first poll, %u mails left alone "
		           "(imap.first_run = skip), reading from uid "
		           "%" G_GINT64_FORMAT,
		           x->mb->folder, status->messages, end + 1);
		break;
	case CFG_FIRST_HISTORY:
		c->history_uid = end + 1;
		log_notice("fetch: '%s': first poll, the %u mails below uid "
		           "%" G_GINT64_FORMAT " are history (imap.first_run = "
		           "history)",
		           x->mb->folder, status->messages, end + 1);
		break;
	}
	return store_cursor_first(x->st, x->mb->key, c->uidvalidity,
	                          c->last_uid, c->history_uid);
}

/* fetch_repair_marks - a crash between COMMIT and the mark left UIDs in
 * (marked_uid, last_uid]: mark them now (marking is idempotent). */
static int
fetch_repair_marks(struct fetch_ctx *x, struct imap *im,
                   const struct store_cursor *c)
{
	g_autoptr(GArray) uids = g_array_new(FALSE, FALSE, sizeof(uint32_t));
	int r;

	if (c->marked_uid >= c->last_uid)
		return 0;
	r = imap_search(im, x->mb->folder, (uint32_t)c->uidvalidity,
	                (uint32_t)c->marked_uid, uids);
	if (r < 0)
		return r;
	while (uids->len > 0 &&
	       g_array_index(uids, uint32_t, uids->len - 1) > c->last_uid)
		g_array_set_size(uids, uids->len - 1);
	return fetch_mark(x, im, (uint32_t *)(void *)uids->data, uids->len,
	                  c->last_uid);
}

/*
 * fetch_first_end - the last UID present as the first poll begins:
 * UIDNEXT - 1, or, as UIDNEXT is optional in a STATUS reply, the newest
 * UID a SEARCH finds.  uids is scratch space, left empty.  <0 when IMAP
 * failed (imap_error tells why).
 */
static int
fetch_first_end(struct imap *im, const struct fetch_mailbox *mb,
                const struct imap_status *status, GArray *uids, gint64 *end_r)
{
	int r;

	*end_r = status->uidnext > 0 ? (gint64)status->uidnext - 1 : 0;
	if (status->uidnext != 0)
		return 0;
	r = imap_search(im, mb->folder, status->uidvalidity, 0, uids);
	if (r < 0)
		return r;
	if (uids->len > 0)
		*end_r = g_array_index(uids, uint32_t, uids->len - 1);
	g_array_set_size(uids, 0);
	return 0;
}

/*
 * fetch_rescan - UIDVALIDITY changed: the folder's UIDs mean other mails
 * now, so the cursor starts again from 0 (a mail already stored is
 * skipped as a duplicate on import).  <0 when the store failed.
 */
static int
fetch_rescan(struct store *st, const struct fetch_mailbox *mb,
             struct store_cursor *c, const struct imap_status *status)
{
	int r;

	if (c->uidvalidity != 0)
		log_err("fetch: '%s': UIDVALIDITY changed from "
		        "%" G_GINT64_FORMAT
		        " to %u, re-scanning (duplicates are skipped)",
		        mb->folder, c->uidvalidity, status->uidvalidity);
	if ((r = store_cursor_reset(st, mb->key, status->uidvalidity)) < 0)
		return r;
	c->uidvalidity = status->uidvalidity;
	c->last_uid = c->marked_uid = 0;
	return 0;
}

int
fetch_mailbox(const struct cfg *cfg, struct store *st, struct imap *im,
              const struct fetch_mailbox *mb, struct fetch_stats *stats,
              volatile sig_atomic_t *stop)
{
	struct fetch_ctx x = {
	    .cfg = cfg, .st = st, .mb = mb, .stats = stats, .stop = stop};
	struct store_cursor c = {0};
	struct imap_status status;
	g_autoptr(GArray) uids = g_array_new(FALSE, FALSE, sizeof(uint32_t));
	bool server = false;
	bool first;
	int r;

	x.im = im;
	x.commit_max = MIN((guint)cfg->imap.batch, FETCH_COMMIT_MAX);
	x.done = g_array_new(FALSE, FALSE, sizeof(uint32_t));
	x.copies = g_array_new(FALSE, FALSE, sizeof(struct store_kw_copy));
	x.pending = g_array_new(FALSE, FALSE, sizeof(uint32_t));
	x.pending_logs = g_ptr_array_new_with_free_func(g_free);
	r = store_cursor_get(st, mb->key, &c);
	if (r < 0 && r != -ENOENT)
		goto out;
	/* a failed first poll leaves a row with uidvalidity 0: still first */
	first = r == -ENOENT || (c.uidvalidity == 0 && c.last_uid == 0);
	if ((r = imap_status(im, mb->folder, &status)) < 0)
		goto imap_fail;
	if (first) {
		gint64 end;

		if ((r = fetch_first_end(im, mb, &status, uids, &end)) < 0)
			goto imap_fail;
		if ((r = fetch_first(&x, &c, &status, end)) < 0)
			goto out;
	} else if (c.uidvalidity != status.uidvalidity) {
		if ((r = fetch_rescan(st, mb, &c, &status)) < 0)
			goto out;
	}
	x.uidvalidity = c.uidvalidity;
	x.history_uid = c.history_uid;
	if ((r = fetch_repair_marks(&x, im, &c)) < 0)
		goto imap_fail;
	if (status.uidnext != 0 && status.uidnext <= c.last_uid + 1)
		goto done;
	r = imap_search(im, mb->folder, (uint32_t)c.uidvalidity,
	                (uint32_t)c.last_uid, uids);
	if (r == -ESTALE) /* changed between STATUS and SEARCH: next poll */
		goto imap_fail;
	if (r < 0)
		goto imap_fail;

	if ((r = fetch_uids(&x, uids, &server)) < 0) {
		if (server)
			goto imap_fail;
		goto out;
	}
done:
	r = store_cursor_result(st, mb->key, NULL);
	goto out;
imap_fail:
	log_warning("fetch: '%s': %s", mb->folder, imap_error(im));
	(void)store_cursor_result(st, mb->key, imap_error(im));
out:
	if (store_in_batch(st)) /* an early exit: never half a batch */
		(void)store_batch_end(st, false);
	if (x.prov.raw != NULL)
		g_bytes_unref(x.prov.raw);
	g_array_unref(x.done);
	g_array_unref(x.copies);
	g_array_unref(x.pending);
	g_ptr_array_unref(x.pending_logs);
	return r;
}
