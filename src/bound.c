/*
 * bound.c - length bounds on a parsed mail.  See bound.h.
 *
 * Why cut instead of refusing: a mail whose values are too long is still
 * somebody's mail; it is stored (raw bytes intact) and its ticket flagged
 * for review, while the next mail in the queue goes on.
 */
#include "bound.h"

#include <string.h>

bool
bound_utf8(char *s, size_t max)
{
	size_t n;

	if (s == NULL || (n = strlen(s)) <= max)
		return false;
	n = max;
	/* back off continuation bytes (10xxxxxx) to a character start */
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	s[n] = '\0';
	return true;
}

char *
bound_msgid(char *id, bool *replaced_r)
{
	g_autofree char *hex = NULL;

	if (replaced_r != NULL)
		*replaced_r = false;
	if (id == NULL || strlen(id) <= BOUND_MSGID)
		return id;
	hex = g_compute_checksum_for_string(G_CHECKSUM_SHA256, id, -1);
	if (replaced_r != NULL)
		*replaced_r = true;
	return g_strconcat("sha256.", hex, "@long-id.invalid", NULL);
}

char *
bound_dedupe_key(const char *msgid, const void *raw, size_t len)
{
	g_autofree char *h = NULL;
	char *id;
	bool hashed;

	if (msgid != NULL && *msgid != '\0') {
		id = bound_msgid((char *)msgid, &hashed);
		h = g_strconcat("mid:", id, NULL);
		if (hashed)
			g_free(id);
		return g_steal_pointer(&h);
	}
	h = g_compute_checksum_for_data(G_CHECKSUM_SHA256, raw, len);
	return g_strconcat("sha256:", h, NULL);
}

bool
bound_addr_ok(const char *addr)
{
	return addr != NULL && strlen(addr) <= BOUND_ADDR;
}

/* bound_note - append one finding to the "what was cut" line. */
static void PRINTF_LIKE(2, 3) bound_note(GString *why, const char *fmt, ...)
{
	va_list ap;

	if (why->len > 0)
		g_string_append(why, "; ");
	va_start(ap, fmt);
	g_string_append_vprintf(why, fmt, ap);
	va_end(ap);
}

/* bound_id - *id through bound_msgid, the old one freed when replaced. */
static bool
bound_id(char **id)
{
	bool replaced;
	char *n = bound_msgid(*id, &replaced);

	if (replaced) {
		g_free(*id);
		*id = n;
	}
	return replaced;
}

/* bound_ids - every id of a list bounded; the list cut to keep_first +
 * the newest (last) max - keep_first entries.  Number of ids hashed. */
static size_t
bound_ids(GPtrArray *ids, guint max, guint keep_first)
{
	size_t hashed = 0;

	if (ids->len > max)
		/* one memmove: linear however long the list */
		g_ptr_array_remove_range(ids, keep_first, ids->len - max);
	for (guint i = 0; i < ids->len; i++)
		hashed += bound_id((char **)&ids->pdata[i]);
	return hashed;
}

/* bound_addrs - drop over-long addresses (a truncated address could be
 * someone else's) and keep at most max, in order; *over_r gets the number
 * of over-long ones.  One pass: the kept move to the front, the rest to
 * the tail, where the list's free function takes them. */
static void
bound_addrs(GPtrArray *list, guint max, size_t *over_r)
{
	guint j = 0;

	*over_r = 0;
	for (guint i = 0; i < list->len; i++) {
		struct mime_addr *a = list->pdata[i];
		if (!bound_addr_ok(a->addr)) {
			(*over_r)++;
			continue;
		}
		if (j >= max)
			continue;
		list->pdata[i] = list->pdata[j];
		list->pdata[j++] = a;
	}
	g_ptr_array_set_size(list, j);
}

char *
bound_msg(struct mime_msg *m, bool *suspect_r)
{
	GString *why = g_string_new(NULL);
	struct {
		const char *name;
		GPtrArray *list;
	} lists[] = {{"From", m->from},
	             {"Reply-To", m->reply_to},
	             {"To", m->to},
	             {"Cc", m->cc}};
	size_t n;
	guint len;

	*suspect_r = false;
	if (bound_id(&m->message_id)) {
		bound_note(why, "Message-ID over %d bytes hashed", BOUND_MSGID);
		*suspect_r = true;
	}
	if (bound_id(&m->original_message_id))
		bound_note(why, "original Message-ID over %d bytes hashed",
		           BOUND_MSGID);
	len = m->references->len;
	n = bound_ids(m->references, BOUND_REFS, 1);
	if (len > BOUND_REFS)
		bound_note(why, "%u References, kept %d", len, BOUND_REFS);
	if (n > 0)
		bound_note(why, "%zu References over %d bytes hashed", n,
		           BOUND_MSGID);
	len = m->in_reply_to->len;
	n = bound_ids(m->in_reply_to, BOUND_IN_REPLY, BOUND_IN_REPLY);
	if (len > BOUND_IN_REPLY || n > 0)
		bound_note(why, "In-Reply-To bounded (%u ids)", len);
	for (size_t l = 0; l < G_N_ELEMENTS(lists); l++) {
		GPtrArray *list = lists[l].list;
		size_t names = 0;
		if (list == NULL)
			continue;
		len = list->len;
		bound_addrs(list, BOUND_RCPTS, &n);
		*suspect_r |= n > 0;
		if (n > 0)
			bound_note(
			    why, "%zu %s address%s over %d bytes dropped", n,
			    lists[l].name, n == 1 ? "" : "es", BOUND_ADDR);
		if (len - n > list->len)
			bound_note(why, "%u %s addresses, kept %d", len,
			           lists[l].name, BOUND_RCPTS);
		for (guint i = 0; i < list->len; i++) {
			struct mime_addr *a = list->pdata[i];
			names += bound_utf8(a->name, BOUND_NAME);
		}
		if (names > 0)
			bound_note(why, "%zu %s names clipped to %d bytes",
			           names, lists[l].name, BOUND_NAME);
	}
	if (bound_utf8(m->subject, BOUND_SUBJECT))
		bound_note(why, "Subject clipped to %d bytes", BOUND_SUBJECT);
	if (bound_utf8(m->language, BOUND_LANGUAGE))
		bound_note(why, "Content-Language clipped to %d bytes",
		           BOUND_LANGUAGE);
	n = 0;
	for (guint i = 0; i < m->attachments->len; i++) {
		struct mime_attachment *a = m->attachments->pdata[i];
		n += bound_utf8(a->filename, BOUND_FILENAME);
		n += bound_utf8(a->content_type, BOUND_CTYPE);
		n += bound_id(&a->content_id);
	}
	if (n > 0)
		bound_note(why, "%zu attachment names or types bounded", n);
	return g_string_free(why, why->len == 0);
}
