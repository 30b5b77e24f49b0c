/*
 * history.h - `tickctl import --history`: an old helpdesk's archive (mbox
 * files, Maildir folders, single mails) through the same ingest path as
 * IMAP, every mail stored as history (closed, silent: see
 * ingest_source.history_before), committed in batches like a fetch.
 * Resumable: a mail stored before is a duplicate (its dedupe key), so a
 * second run imports nothing twice.  Owns the mbox splitter (mboxrd/mboxo
 * `>From ` unquoting) and the progress line; no library objects.
 */
#ifndef TICKD_HISTORY_H
#define TICKD_HISTORY_H

#include "cfg.h"
#include "common.h"
#include "store.h"

struct history_stats {
	gint64 total;        /* mails found in the sources */
	gint64 imported;     /* stored: human mail */
	gint64 machine;      /* stored: machine mail (bounces, lists, ...) */
	gint64 duplicates;   /* stored before (an earlier run, IMAP) */
	gint64 failed;       /* not stored; reasons in failures */
	GPtrArray *failures; /* "source#n: reason" (owned), the first 50 */
	double seconds;      /* wall time of the import */
};
void history_stats_clear(struct history_stats *s);

/*
 * history_import - import every mail of paths[0..n): a file that starts
 * with "From " is an mbox, another file one mail, a directory with cur/
 * or new/ a Maildir.  A progress line (count, rate, ETA) goes to stderr
 * when progress is true.  0 when every source was read (some mails may
 * have failed: s->failed), -ENOENT/-EIO/-ENOTDIR for a source that cannot
 * be read (nothing imported yet: every source is checked first), or a
 * store -E when the database went away or a COMMIT failed (what was
 * committed stays; run again to resume).  *s is filled in either case.
 */
int history_import(const struct cfg *cfg, struct store *st, char *const *paths,
                   int n, bool progress, struct history_stats *s);

/*
 * history_mbox_split - the mails of an mbox in data[0..len): calls
 * cb(mail, mail_len, ctx) for each, with the From_ line and the blank line
 * before the next one removed and `>From ` lines unquoted (mboxrd: one '>'
 * comes off every `>...>From `).  A mail starts at a "From " line at the
 * start of the data or after an empty line.  Stops at the first non-zero
 * cb return and returns it; 0 at the end.  Pure, for tests.
 */
typedef int history_mail_cb(const char *mail, size_t len, void *ctx);
int history_mbox_split(const char *data, size_t len, history_mail_cb *cb,
                       void *ctx);

#endif
