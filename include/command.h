/*
 * command.h - pure parser for the commands agents write at the top of a
 * mail ("#status resolved", "#priority high", "#assign bob", "#note",
 * "#merge 1042").
 * Owns nothing but what it returns; no I/O, no logging, no config: who
 * may run a command and what "bob" means is decided by the caller
 * (ingest.c), which also records every command in the audit trail.
 *
 * The command block is the run of lines at the very top of the text
 * (blank lines allowed in between) that start with '#' and a letter.  The
 * first other line ends it, so "#1042 still broken" or a '#' further down
 * is plain text.  The block is cut from the text shown to customers.
 */
#ifndef TICKD_COMMAND_H
#define TICKD_COMMAND_H

#include "common.h"

#include <glib.h>

/* At most this many command lines are read; the block's further lines
 * are only counted (command_list.excess), so a mail of 400k "#a" lines
 * costs one summary event, not one per line. */
#define COMMAND_MAX_LINES 16
/* A command line longer than this (bytes) is rejected, not parsed. */
#define COMMAND_MAX_LINE 256

enum command_kind {
	COMMAND_STATUS,   /* arg: open | pending | resolved | closed */
	COMMAND_PRIORITY, /* arg: low | normal | high | urgent */
	COMMAND_ASSIGN,   /* arg: an address or a name, as written */
	COMMAND_NOTE,     /* no arg: the mail is an internal note */
	COMMAND_MERGE,    /* arg: the surviving ticket's number, digits */
	/* questions: answered by mail to the asking agent, change nothing */
	COMMAND_SHOW,   /* arg: a ticket number, or NULL: the mail's ticket */
	COMMAND_SEARCH, /* arg: the words, as written */
	COMMAND_LIST,   /* arg: "mine", "breached" or "queue NAME" */
	/* about the sender, not a ticket: they ride the questions' path
	 * (kept without a ticket, answered) */
	COMMAND_AWAY, /* arg: "YYYY-MM-DD" (a valid date), NULL: until #back */
	COMMAND_BACK, /* no arg */
	/* in a forward: whose mail it is (forward.h) */
	COMMAND_REQUESTER, /* arg: an address, lower case, without <> */
};
/* At most this many bytes of #search words are kept (longer: rejected). */
#define COMMAND_MAX_WORDS 200

struct command {
	enum command_kind kind;
	char *arg;  /* owned; lower case for status/priority; NULL for note */
	char *line; /* owned; the line as written, trimmed */
};

struct command_reject {
	char *line;         /* owned; the line as written, trimmed, clipped */
	const char *reason; /* static text */
	bool unknown;       /* the command name is not one tickd knows */
};

struct command_list {
	GPtrArray *cmds;     /* struct command*, in the mail's order, owned */
	GPtrArray *rejected; /* struct command_reject*, owned */
	char *text;          /* owned; the text without the command block */
	bool note;           /* a #note was among cmds */
	size_t excess;       /* command lines of the block past the first
	                        COMMAND_MAX_LINES: counted, never parsed */
	/* every command is a question (#show/#search/#list) and none was
	 * rejected: the mail asks, it is not a reply */
	bool question;
};

/*
 * command_parse - the command block at the top of text (NULL = "").
 * Always fills *out (clear it with command_list_clear); with no command
 * block, out->text is a copy of text and both arrays are empty.
 * Recognised names are case-insensitive and may be followed by ':'.
 */
void command_parse(const char *text, struct command_list *out);
void command_list_clear(struct command_list *l);

/* command_is_question - #show, #search, #list, #away or #back: a mail
 * of only these changes no ticket. */
bool command_is_question(enum command_kind k);

/* command_kind_name - "status", "priority", "assign", "note", "merge",
 * "show", "search", "list", "away", "back", "requester"; static. */
const char *command_kind_name(enum command_kind k);

#endif
