/*
 * action.h - the signed "act on this ticket" links of the managers' digest
 * (pure: no I/O, no config, the secret is passed in).  A link is a
 * mailto: to the support address whose Subject carries the ticket's tag
 * and a thread.c signed id of kind "act" (tickd.N.act.NONCE.MAC@domain),
 * and whose body holds a ready "#assign" / "#priority" command block.
 * Following it sends an ordinary agent mail; ingest.c runs its commands
 * only when the sender is a proven agent or manager (ingest_is_agent) AND
 * the token is valid AND names the ticket of the subject's tag.  A
 * tampered token (wrong MAC, another ticket) makes the mail do nothing:
 * it is kept without a ticket and an 'action-forged' event is recorded.
 * Like the CSAT tokens, the token proves the link came from a digest;
 * who may act is still decided by the sender's proof.
 */
#ifndef TICKD_ACTION_H
#define TICKD_ACTION_H

#include "common.h"

#include <glib.h>

/* action_token - a new signed token for ticket (> 0).  g_free. */
char *action_token(const unsigned char *secret, size_t secret_len,
                   gint64 ticket, const char *domain);

/*
 * action_link - "mailto:TO?subject=...&body=..." for ticket: subject
 * "[tag #N] Action: <token>", body `body` (the command block, e.g.
 * "#assign me\n#priority high\n"), both percent-encoded.  g_free.
 */
char *action_link(const unsigned char *secret, size_t secret_len,
                  const char *domain, const char *to, const char *tag,
                  gint64 ticket, const char *body);

/*
 * action_match - look for an action token in subject.  Returns the
 * ticket (> 0) when a valid token is there and the subject's "[tag #N]"
 * (if any) names the same ticket; 0 when there is no action token;
 * -EBADMSG when one is there but its MAC is wrong or it names another
 * ticket than the tag (tampered).
 */
gint64 action_match(const unsigned char *secret, size_t secret_len,
                    const char *subject, const char *tag);

#endif
