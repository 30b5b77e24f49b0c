/*
 * history.c - import an archive as history.  See history.h.
 */
#define _GNU_SOURCE /* memmem */
#include "history.h"

#include "ingest.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Like a fetch batch (fetch.c): one transaction per 60 mails or 8 MB,
 * each mail in its own savepoint. */
#define HISTORY_COMMIT_MAX   60u
#define HISTORY_COMMIT_BYTES ((size_t)8 << 20)
#define HISTORY_FAILURES_MAX 50u
/* the progress line is redrawn at most this often */
#define HISTORY_DRAW_US (G_USEC_PER_SEC / 5)

void
history_stats_clear(struct history_stats *s)
{
	g_clear_pointer(&s->failures, g_ptr_array_unref);
}

/* history_from_line - p (at a line start) is a From_ line. */
static bool
history_from_line(const char *p, const char *end)
{
	return end - p >= 5 && memcmp(p, "From ", 5) == 0;
}

/* history_mbox_scan - split; unquote into a buffer only when asked. */
static int
history_mbox_scan(const char *data, size_t len, history_mail_cb *cb, void *ctx,
                  bool unquote)
{
	const char *p = data, *end = data + len;
	g_autoptr(GString) buf = unquote ? g_string_new(NULL) : NULL;
	int r;

	while (p < end && history_from_line(p, end)) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *body = nl ? nl + 1 : end, *q = body, *stop = end;
		const char *f, *mend;

		/* the next From_ line after an empty line ends this mail */
		while ((f = memmem(q, (size_t)(end - q), "\nFrom ", 6)) !=
		       NULL) {
			if (f > body &&
			    (f[-1] == '\n' || (f[-1] == '\r' && f - 1 > body &&
			                       f[-2] == '\n'))) {
				stop = f + 1;
				break;
			}
			q = f + 1;
		}
		/* the empty line before the next From_ (and at the end of
		 * the file, if there is one) belongs to the format */
		mend = stop;
		if (mend - body >= 2 && mend[-1] == '\n' &&
		    (mend[-2] == '\n' ||
		     (mend[-2] == '\r' && mend - body >= 3 &&
		      mend[-3] == '\n'))) {
			mend--;
			if (mend[-1] == '\r')
				mend--;
		}
		if (!unquote) {
			r = cb(body, (size_t)(mend - body), ctx);
		} else {
			const char *l = body;
			g_string_truncate(buf, 0);
			while (l < mend) {
				const char *e =
				    memchr(l, '\n', (size_t)(mend - l));
				const char *a = l;
				e = e ? e + 1 : mend;
				while (a < e && *a == '>')
					a++;
				/* mboxrd: >From, >>From ... lose one '>' */
				if (a > l && history_from_line(a, e))
					l++;
				g_string_append_len(buf, l, e - l);
				l = e;
			}
			r = cb(buf->str, buf->len, ctx);
		}
		if (r != 0)
			return r;
		p = stop;
	}
	return 0;
}

int
history_mbox_split(const char *data, size_t len, history_mail_cb *cb, void *ctx)
{
	return history_mbox_scan(data, len, cb, ctx, true);
}

/* ---- sources ---- */

enum history_kind { HISTORY_MAIL, HISTORY_MBOX, HISTORY_MAILDIR };

struct history_source {
	char *path; /* owned */
	enum history_kind kind;
	GPtrArray *files; /* Maildir: the mails' paths (owned), sorted */
	gint64 count;
};

static void
history_source_free(gpointer p)
{
	struct history_source *s = p;

	g_free(s->path);
	if (s->files)
		g_ptr_array_unref(s->files);
	g_free(s);
}

static int
history_count_cb(const char *mail, size_t len, void *ctx)
{
	(void)mail;
	(void)len;
	(*(gint64 *)ctx)++;
	return 0;
}

/* history_maildir_list - the files of dir/sub (new or cur) into files. */
static void
history_maildir_list(const char *dir, const char *sub, GPtrArray *files)
{
	g_autofree char *d = g_build_filename(dir, sub, NULL);
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	GDir *gd = g_dir_open(d, 0, NULL);
	const char *n;

	if (gd == NULL)
		return;
	while ((n = g_dir_read_name(gd)) != NULL)
		if (n[0] != '.')
			g_ptr_array_add(names, g_strdup(n));
	g_dir_close(gd);
	/* Maildir names begin with the delivery time: sorted is in order */
	g_ptr_array_sort(names, (GCompareFunc)(void (*)(void))g_strcmp0);
	for (guint i = 0; i < names->len; i++)
		g_ptr_array_add(files,
		                g_build_filename(d, names->pdata[i], NULL));
}

/* history_open - what path is, and how many mails it holds.  0 or -E,
 * with a message on stderr. */
static int
history_open(const char *path, struct history_source **src_r)
{
	struct history_source *s = g_new0(struct history_source, 1);
	struct stat sb;

	s->path = g_strdup(path);
	if (stat(path, &sb) < 0) {
		int e = errno;
		fprintf(stderr, "tickctl: import '%s': %s\n", path,
		        g_strerror(e));
		history_source_free(s);
		return -e;
	}
	if (S_ISDIR(sb.st_mode)) {
		g_autofree char *cur = g_build_filename(path, "cur", NULL);
		g_autofree char *nw = g_build_filename(path, "new", NULL);
		if (!g_file_test(cur, G_FILE_TEST_IS_DIR) &&
		    !g_file_test(nw, G_FILE_TEST_IS_DIR)) {
			fprintf(stderr,
			        "tickctl: import '%s': a directory without "
			        "cur/ or new/ is not a Maildir\n",
			        path);
			history_source_free(s);
			return -ENOTDIR;
		}
		s->kind = HISTORY_MAILDIR;
		s->files = g_ptr_array_new_with_free_func(g_free);
		history_maildir_list(path, "new", s->files);
		history_maildir_list(path, "cur", s->files);
		s->count = s->files->len;
	} else {
		g_autoptr(GError) err = NULL;
		GMappedFile *mf = g_mapped_file_new(path, FALSE, &err);
		const char *d;
		size_t len;

		if (mf == NULL) {
			fprintf(stderr, "tickctl: import '%s': %s\n", path,
			        err->message);
			history_source_free(s);
			return -EIO;
		}
		d = g_mapped_file_get_contents(mf);
		len = g_mapped_file_get_length(mf);
		if (d != NULL && history_from_line(d, d + len)) {
			s->kind = HISTORY_MBOX;
			(void)history_mbox_scan(d, len, history_count_cb,
			                        &s->count, false);
		} else {
			s->kind = HISTORY_MAIL;
			s->count = 1;
		}
		g_mapped_file_unref(mf);
	}
	*src_r = s;
	return 0;
}

/* ---- the import ---- */

struct history_run {
	const struct cfg *cfg;
	struct store *st;
	struct history_stats *s;
	const char *name; /* the current source */
	gint64 index;     /* of the current mail in its source, from 1 */
	guint pending;    /* mails in the open batch */
	size_t pending_bytes;
	size_t max_mail;
	bool progress;
	gint64 start_us, drawn_us;
};

static void
history_fail(struct history_run *x, const char *why)
{
	x->s->failed++;
	if (x->s->failures->len < HISTORY_FAILURES_MAX)
		g_ptr_array_add(x->s->failures,
		                g_strdup_printf("%s#%" G_GINT64_FORMAT ": %s",
		                                x->name, x->index, why));
}

/* history_draw - the progress line: count, percent, rate, ETA. */
static void
history_draw(struct history_run *x, bool last)
{
	gint64 now = g_get_monotonic_time();
	gint64 done =
	    x->s->imported + x->s->machine + x->s->duplicates + x->s->failed;
	double secs, rate;
	gint64 eta;

	if (!x->progress || (!last && now - x->drawn_us < HISTORY_DRAW_US))
		return;
	x->drawn_us = now;
	secs = (double)(now - x->start_us) / G_USEC_PER_SEC;
	rate = secs > 0 ? (double)done / secs : 0;
	eta = rate > 0 ? (gint64)((double)(x->s->total - done) / rate) : 0;
	fprintf(stderr,
	        "\r\033[Kimport: %" G_GINT64_FORMAT "/%" G_GINT64_FORMAT
	        " mails (%d%%), %.0f/s, ETA %" G_GINT64_FORMAT
	        ":%02" G_GINT64_FORMAT "%s",
	        done, x->s->total,
	        x->s->total ? (int)(done * 100 / x->s->total) : 100, rate,
	        eta / 60, eta % 60, last ? "\n" : "");
	fflush(stderr);
}

/* history_flush - COMMIT the open batch.  0 or -E. */
static int
history_flush(struct history_run *x)
{
	int r = 0;

	if (store_in_batch(x->st))
		r = store_batch_end(x->st, true);
	x->pending = 0;
	x->pending_bytes = 0;
	return r;
}

/* history_mail - one mail of the archive.  0 (stored, duplicate or
 * failed alone) or a store -E that ends the import. */
static int
history_mail(const char *mail, size_t len, void *ctx)
{
	struct history_run *x = ctx;
	struct ingest_source src = {
	    .label = "tickctl import --history",
	    .history_before = G_MAXINT64,
	};
	struct ingest_outcome out;
	int r;

	x->index++;
	if (len > x->max_mail) {
		g_autofree char *why =
		    g_strdup_printf("%zu bytes, more than the %zu tickd reads",
		                    len, x->max_mail);
		history_fail(x, why);
		goto done;
	}
	if (!store_in_batch(x->st) && (r = store_batch_begin(x->st)) < 0)
		return r;
	r = ingest_mail(x->cfg, x->st, mail, len, &src,
	                g_get_real_time() / G_USEC_PER_SEC, &out);
	if (r == -ENOTCONN) {
		/* the open batch went with the connection */
		(void)store_batch_end(x->st, false);
		return r;
	}
	if (r < 0) { /* only this mail's savepoint was undone */
		history_fail(x, store_error(x->st));
	} else if (out.kind == INGEST_DUPLICATE) {
		x->s->duplicates++;
	} else if (out.machine) {
		x->s->machine++;
	} else {
		x->s->imported++;
	}
	x->pending++;
	x->pending_bytes += len;
	if ((x->pending >= HISTORY_COMMIT_MAX ||
	     x->pending_bytes >= HISTORY_COMMIT_BYTES) &&
	    (r = history_flush(x)) < 0)
		return r;
done:
	history_draw(x, false);
	return 0;
}

/* history_source - every mail of one source.  0 or -E. */
static int
history_source(struct history_run *x, const struct history_source *s)
{
	g_autoptr(GError) err = NULL;
	int r = 0;

	x->name = s->path;
	x->index = 0;
	if (s->kind == HISTORY_MAILDIR) {
		for (guint i = 0; i < s->files->len && r == 0; i++) {
			g_autofree char *data = NULL;
			gsize len;
			struct stat sb;
			const char *f = s->files->pdata[i];

			x->name = f;
			x->index = 0;
			if (stat(f, &sb) == 0 &&
			    (size_t)sb.st_size > x->max_mail) {
				r = history_mail("", (size_t)sb.st_size, x);
				continue;
			}
			if (!g_file_get_contents(f, &data, &len, &err)) {
				x->index = 1;
				history_fail(x, err->message);
				g_clear_error(&err);
				continue;
			}
			r = history_mail(data, len, x);
		}
		return r;
	}
	GMappedFile *mf = g_mapped_file_new(s->path, FALSE, &err);
	if (mf == NULL) {
		x->index = 1;
		history_fail(x, err->message);
		return 0;
	}
	if (s->kind == HISTORY_MBOX)
		r = history_mbox_split(g_mapped_file_get_contents(mf),
		                       g_mapped_file_get_length(mf),
		                       history_mail, x);
	else
		r = history_mail(g_mapped_file_get_contents(mf),
		                 g_mapped_file_get_length(mf), x);
	g_mapped_file_unref(mf);
	return r;
}

int
history_import(const struct cfg *cfg, struct store *st, char *const *paths,
               int n, bool progress, struct history_stats *s)
{
	g_autoptr(GPtrArray) srcs =
	    g_ptr_array_new_with_free_func(history_source_free);
	struct history_run x = {
	    .cfg = cfg,
	    .st = st,
	    .s = s,
	    .progress = progress,
	    /* the IMAP fetch cap (loop.c): oversized mails are kept in part
	     * by ingest; beyond this not even that */
	    .max_mail =
	        (size_t)MAX(cfg->tickets.max_mail_size * 2, 64 * 1024 * 1024),
	};
	int r = 0;

	memset(s, 0, sizeof(*s));
	s->failures = g_ptr_array_new_with_free_func(g_free);
	for (int i = 0; i < n; i++) {
		struct history_source *src = NULL;
		if ((r = history_open(paths[i], &src)) < 0)
			return r;
		g_ptr_array_add(srcs, src);
		s->total += src->count;
	}
	x.start_us = x.drawn_us = g_get_monotonic_time();
	x.drawn_us -= HISTORY_DRAW_US;
	for (guint i = 0; i < srcs->len && r == 0; i++)
		r = history_source(&x, srcs->pdata[i]);
	if (r == 0)
		r = history_flush(&x);
	else if (store_in_batch(st))
		(void)store_batch_end(st, false);
	history_draw(&x, true);
	s->seconds =
	    (double)(g_get_monotonic_time() - x.start_us) / G_USEC_PER_SEC;
	return r;
}
