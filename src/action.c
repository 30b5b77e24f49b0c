/*
 * action.c - signed action links of the managers' digest.  See action.h.
 */
#include "action.h"

#include "thread.h"

#include <string.h>

#define ACTION_KIND      "act"
#define ACTION_TOKEN_MAX 200 /* longer "tickd." words are not ours */

char *
action_token(const unsigned char *secret, size_t secret_len, gint64 ticket,
             const char *domain)
{
	if (ticket <= 0)
		return NULL;
	return thread_make_msgid(secret, secret_len, ticket, ACTION_KIND,
	                         domain);
}

char *
action_link(const unsigned char *secret, size_t secret_len, const char *domain,
            const char *to, const char *tag, gint64 ticket, const char *body)
{
	g_autofree char *tok = action_token(secret, secret_len, ticket, domain);
	g_autofree char *subj = NULL, *esubj = NULL, *ebody = NULL;

	if (tok == NULL)
		return NULL;
	subj = g_strdup_printf("[%s #%" G_GINT64_FORMAT "] Action: %s", tag,
	                       ticket, tok);
	esubj = g_uri_escape_string(subj, NULL, FALSE);
	ebody = g_uri_escape_string(body ? body : "", NULL, FALSE);
	return g_strdup_printf("mailto:%s?subject=%s&body=%s", to, esubj,
	                       ebody);
}

gint64
action_match(const unsigned char *secret, size_t secret_len,
             const char *subject, const char *tag)
{
	const char *pos = subject, *kind;
	char *word;
	gint64 t, named;

	if (subject == NULL)
		return 0;
	while (thread_token_next(&pos, ACTION_TOKEN_MAX, &word) == 1) {
		g_autofree char *tok = word;

		kind = strchr(tok + 6, '.');
		if (kind == NULL ||
		    strncmp(kind + 1, ACTION_KIND ".", strlen(ACTION_KIND) + 1))
			continue; /* another kind of tickd id */
		t = thread_msgid_ticket(secret, secret_len, tok);
		if (t <= 0)
			return -EBADMSG;
		named = tag ? thread_subject_ticket(subject, tag) : 0;
		if (named != 0 && named != t)
			return -EBADMSG; /* a valid token moved to another tag
			                  */
		return t;
	}
	return 0;
}
