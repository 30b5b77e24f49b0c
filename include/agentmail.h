/*
 * agentmail.h - mail tickd writes to its own agents: the notice that a
 * ticket was assigned to them, that its customer wrote again, or that a
 * new ticket arrived.  Which events a person wants (people.*.notify) and
 * the wire form; ingest.c decides when and queues it (outbox.h: mail to
 * people is never limited or held).  Owns nothing beyond its return values.
 */
#ifndef TICKD_AGENTMAIL_H
#define TICKD_AGENTMAIL_H

#include "cfg.h"

/* The events a notice can be about (people.*.notify entries). */
#define AGENTMAIL_ASSIGNED       "assigned"
#define AGENTMAIL_CUSTOMER_REPLY "customer-reply"
#define AGENTMAIL_NEW_TICKET     "new-ticket"
/* a ticket's SLA clock passed sla.policies.*.warn_percent (escalate.c) */
#define AGENTMAIL_SLA_WARNING "sla-warning"
/* two agents answered the same customer mail: always sent */
#define AGENTMAIL_COLLISION "collision"

/* agentmail_wants - does p want notices about event?  Without
 * people.*.notify: assigned and customer-reply (new-ticket and
 * sla-warning are off). */
bool agentmail_wants(const struct cfg_person *p, const char *event);

/*
 * agentmail_covers - is queue (a queue name) p's?  people.*.queues when
 * set, else the queue named like people.*.team, else (neither set) every
 * queue: a one-queue site names neither.  Decides who hears of a new
 * ticket or an unassigned ticket's SLA warning.
 */
bool agentmail_covers(const struct cfg_person *p, const char *queue);

/* One notice; strings borrowed, NULL where unknown. */
struct agentmail_notice {
	gint64 ticket;
	const char *event;   /* AGENTMAIL_* */
	const char *to_addr; /* required */
	const char *to_name;
	const char *subject; /* the ticket's */
	const char *status;  /* the ticket's state after this mail */
	const char *priority;
	const char *customer;   /* the requester's address */
	const char *by;         /* who assigned (assigned) */
	const char *note;       /* a line above the text, or NULL */
	const char *what;       /* the subject's "(...)", NULL: by event */
	const char *text;       /* the customer's new text, quotes cut */
	const char *message_id; /* signed (thread_make_msgid), without <> */
	gint64 now;
};

/* agentmail_notice - its wire form with the RFC 3834 headers of every
 * automatic mail (compose_auto_headers).  g_bytes_unref. */
GBytes *agentmail_notice(const struct cfg *cfg,
                         const struct agentmail_notice *n);

/* An agent's reply to a notice, relayed to the customer. */
struct agentmail_relay {
	gint64 ticket;
	const char *agent_name; /* the person's name */
	const char *to_addr;    /* the requester, required */
	const char *subject;    /* the ticket's */
	const char *text;       /* the agent's new text: quotes, commands cut */
	const char *in_reply_to; /* the customer's last Message-ID or NULL */
	const char *message_id;  /* signed, without <> */
	gint64 now;
};

/* agentmail_relay_name - the From name of a relayed reply:
 * agents.relay_from_name with {agent} and {support} filled in.  g_free. */
char *agentmail_relay_name(const struct cfg *cfg, const char *agent_name);

/* agentmail_relay - the wire form: From the support address under
 * agentmail_relay_name, Subject "Re: [Tag #N] subject", threaded to the
 * customer's mail.  A person's answer, so no Auto-Submitted.
 * g_bytes_unref. */
GBytes *agentmail_relay(const struct cfg *cfg, const struct agentmail_relay *r);

/* The answer to an agent's commands. */
struct agentmail_confirm {
	gint64 ticket;
	const char *to_addr, *to_name; /* the person */
	const char *subject;           /* of the agent's mail */
	const char *failed;            /* "line: why\n"..., may be "" */
	const char *done;              /* "line: what\n"..., may be "" */
	const char *in_reply_to;       /* the agent's Message-ID or NULL */
	const char *message_id;        /* signed, without <> */
	gint64 now;
};

/* agentmail_confirm - its wire form, an auto-reply (RFC 3834
 * headers).  g_bytes_unref. */
GBytes *agentmail_confirm(const struct cfg *cfg,
                          const struct agentmail_confirm *c);

#endif
