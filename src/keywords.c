/*
 * keywords.c - IMAP keywords of tickets.  See keywords.h.
 */
#include "keywords.h"

#include <string.h>

void
keywords_name(const char *addr, char *buf, size_t size)
{
	size_t o = 0;

	g_assert(size > KEYWORDS_MAX_NAME);
	for (const char *s = addr ? addr : ""; *s && *s != '@'; s++) {
		char c = g_ascii_tolower(*s);

		if (o >= KEYWORDS_MAX_NAME)
			break;
		if (g_ascii_isalnum(c) || c == '-' || c == '_' || c == '.')
			buf[o++] = c;
	}
	buf[o] = '\0';
}

void
keywords_for(gint64 ticket, const char *status, const char *assignee,
             struct keywords_set *out)
{
	static const char *const states[][2] = {
	    {"new", "$New"},         {"open", "$Open"},
	    {"pending", "$Pending"}, {"resolved", "$Resolved"},
	    {"closed", "$Closed"},
	};
	char name[KEYWORDS_MAX_NAME + 1];

	g_snprintf(out->ticket, sizeof(out->ticket), "$Ticket%" G_GINT64_FORMAT,
	           ticket);
	out->state = NULL;
	for (size_t i = 0; status && i < G_N_ELEMENTS(states); i++)
		if (strcmp(status, states[i][0]) == 0)
			out->state = states[i][1];
	keywords_name(assignee, name, sizeof(name));
	out->assigned[0] = '\0';
	if (*name)
		g_snprintf(out->assigned, sizeof(out->assigned), "$Assigned-%s",
		           name);
}

size_t
keywords_stale(const struct keywords_set *k, const char *old_assigned,
               const char **del)
{
	static const char *const states[] = {"$New", "$Open", "$Pending",
	                                     "$Resolved", "$Closed"};
	size_t n = 0;

	for (size_t i = 0; i < G_N_ELEMENTS(states); i++)
		if (k->state == NULL || strcmp(k->state, states[i]) != 0)
			del[n++] = states[i];
	if (old_assigned && *old_assigned &&
	    g_ascii_strcasecmp(old_assigned, k->assigned) != 0)
		del[n++] = old_assigned;
	return n;
}

bool
keywords_on(const struct cfg *cfg)
{
	return cfg->imap.keywords != CFG_KEYWORDS_OFF ||
	       cfg->imap.closed_move_to != NULL;
}

void
keywords_note(const struct cfg *cfg, GArray *copies, uint32_t uid,
              gint64 ticket, bool history)
{
	struct store_kw_copy c = {
	    .uid = uid, .ticket = ticket, .due = !history};

	if (keywords_on(cfg) && ticket > 0)
		g_array_append_val(copies, c);
}

int
keywords_record(struct store *st, const char *mailbox, gint64 uidvalidity,
                GArray *copies)
{
	int r = 0;

	if (copies->len > 0)
		r = store_kw_copies(
		    st, mailbox, uidvalidity,
		    (const struct store_kw_copy *)(void *)copies->data,
		    copies->len);
	g_array_set_size(copies, 0);
	return r;
}

/* keywords_one - write one ticket's keywords on its copies (mode
 * CFG_KEYWORDS_OFF: only work out what they are). */
static int
keywords_one(struct imap *im, const char *folder, enum cfg_keywords mode,
             const struct store_kw_row *row, struct keywords_set *k)
{
	const char *add[3], *del[KEYWORDS_MAX_STALE];
	size_t nadd = 0, ndel;

	keywords_for(row->ticket, row->status, row->assignee, k);
	if (mode == CFG_KEYWORDS_OFF)
		return 0;
	if (mode == CFG_KEYWORDS_ALL)
		add[nadd++] = k->ticket;
	if (k->state)
		add[nadd++] = k->state;
	if (*k->assigned)
		add[nadd++] = k->assigned;
	ndel = keywords_stale(k, row->assigned_kw, del);
	if (row->uids->len == 0 || row->uidvalidity <= 0 ||
	    row->uidvalidity > G_MAXUINT32)
		return 0;
	return imap_keywords(im, folder, (uint32_t)row->uidvalidity,
	                     (const uint32_t *)(void *)row->uids->data,
	                     row->uids->len, add, nadd, del, ndel);
}

/* keywords_move - a closed ticket's copies in the queue's inbox to
 * imap.closed_move_to (MOVE keeps their keywords), then forgotten. */
static int
keywords_move(const struct cfg *cfg, struct store *st, struct imap *im,
              const char *mailbox, const char *folder,
              const struct store_kw_row *row)
{
	const uint32_t *u = (const uint32_t *)(void *)row->uids->data;
	int r;

	if (cfg->imap.closed_move_to == NULL || row->uids->len == 0 ||
	    strcmp(row->status, "closed") != 0 ||
	    strcmp(folder, cfg->imap.mailbox) != 0 || row->uidvalidity <= 0 ||
	    row->uidvalidity > G_MAXUINT32)
		return 0;
	r = imap_mark(im, folder, (uint32_t)row->uidvalidity, u, row->uids->len,
	              cfg->imap.closed_move_to);
	if (r < 0)
		return r;
	return store_kw_forget(st, mailbox, row->uidvalidity, u,
	                       row->uids->len);
}

int
keywords_pass(const struct cfg *cfg, struct store *st, struct imap *im,
              const char *mailbox, const char *folder)
{
	g_autoptr(GPtrArray) rows =
	    g_ptr_array_new_with_free_func(store_kw_row_free);
	int r, first = 0, failed = 0;

	if ((r = store_kw_due(st, mailbox, KEYWORDS_PASS_MAX, rows)) < 0)
		return r;
	for (guint i = 0; i < rows->len; i++) {
		const struct store_kw_row *row = rows->pdata[i];
		struct keywords_set k;

		r = keywords_one(im, folder, cfg->imap.keywords, row, &k);
		if (r == 0)
			r = keywords_move(cfg, st, im, mailbox, folder, row);
		if (r == 0) {
			failed = 0;
			r = store_kw_done(st, mailbox, row,
			                  *k.assigned ? k.assigned : NULL);
		} else if (!err_is_transient(r)) {
			/* no keywords kept there (-ENOTSUP), the UIDs mean
			 * other mail now (-ESTALE): trying again would not
			 * help */
			r = store_kw_done(st, mailbox, row, row->assigned_kw);
		} else if (++failed < 3) {
			/* one ticket's NO must not hold up the others: it
			 * stays due; three in a row is the server's trouble */
			first = first ? first : r;
			continue;
		}
		if (r < 0)
			return r;
	}
	return first;
}
