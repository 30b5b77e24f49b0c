/*
 * command.c - agents' mail commands.  See command.h.
 *
 * Only the top of the mail is read, so a command quoted further down (the
 * customer's own "#status closed" in a reply, a signature) never counts,
 * and the parse stops after COMMAND_MAX_LINES lines whatever the input.
 */
#include "command.h"

#include <stdio.h>
#include <string.h>

static const char *const command_status[] = {"open", "pending", "resolved",
                                             "closed"};
static const char *const command_priority[] = {"low", "normal", "high",
                                               "urgent"};

const char *
command_kind_name(enum command_kind k)
{
	switch (k) {
	case COMMAND_STATUS:
		return "status";
	case COMMAND_PRIORITY:
		return "priority";
	case COMMAND_ASSIGN:
		return "assign";
	case COMMAND_NOTE:
		return "note";
	case COMMAND_MERGE:
		return "merge";
	case COMMAND_SHOW:
		return "show";
	case COMMAND_SEARCH:
		return "search";
	case COMMAND_LIST:
		return "list";
	case COMMAND_AWAY:
		return "away";
	case COMMAND_BACK:
		return "back";
	case COMMAND_REQUESTER:
		return "requester";
	}
	return "?";
}

bool
command_is_question(enum command_kind k)
{
	return k == COMMAND_SHOW || k == COMMAND_SEARCH || k == COMMAND_LIST ||
	       k == COMMAND_AWAY || k == COMMAND_BACK;
}

/* command_away_arg - "until YYYY-MM-DD" (a date that exists) as
 * "YYYY-MM-DD"; NULL when not. */
static char *
command_away_arg(const char *arg)
{
	unsigned y, m, d;
	char tail;

	if (g_ascii_strncasecmp(arg, "until", 5) != 0 ||
	    !g_ascii_isspace(arg[5]))
		return NULL;
	arg += 5;
	while (g_ascii_isspace(*arg))
		arg++;
	if (strlen(arg) != 10 ||
	    sscanf(arg, "%4u-%2u-%2u%c", &y, &m, &d, &tail) != 3 ||
	    !g_ascii_isdigit(arg[0]) || arg[4] != '-' || arg[7] != '-' ||
	    !g_date_valid_dmy((GDateDay)d, (GDateMonth)m, (GDateYear)y) ||
	    y < 2000)
		return NULL;
	return g_strdup_printf("%04u-%02u-%02u", y, m, d);
}

/* command_list_arg - "mine", "breached", "queue NAME" (a queue name is
 * letters, digits, '-', '_' and '.'), normalised; NULL when not. */
static char *
command_list_arg(const char *arg)
{
	const char *q;

	if (g_ascii_strcasecmp(arg, "mine") == 0)
		return g_strdup("mine");
	if (g_ascii_strcasecmp(arg, "breached") == 0)
		return g_strdup("breached");
	if (g_ascii_strncasecmp(arg, "queue", 5) != 0 ||
	    !g_ascii_isspace(arg[5]))
		return NULL;
	q = arg + 5;
	while (g_ascii_isspace(*q))
		q++;
	if (*q == '\0' || strlen(q) > 64)
		return NULL;
	for (const char *p = q; *p; p++)
		if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_' && *p != '.')
			return NULL;
	return g_strconcat("queue ", q, NULL);
}

/* command_ticket_arg - "1042" or "#1042" (at most 15 digits, > 0) as
 * canonical digits; NULL when arg is anything else. */
static char *
command_ticket_arg(const char *arg)
{
	char *end;
	gint64 n;

	if (*arg == '#')
		arg++;
	if (!g_ascii_isdigit(*arg) || strlen(arg) > 15)
		return NULL;
	n = g_ascii_strtoll(arg, &end, 10);
	if (*end != '\0' || n <= 0)
		return NULL;
	return g_strdup_printf("%" G_GINT64_FORMAT, n);
}

static void
command_free(gpointer p)
{
	struct command *c = p;

	g_free(c->arg);
	g_free(c->line);
	g_free(c);
}

static void
command_reject_free(gpointer p)
{
	struct command_reject *j = p;

	g_free(j->line);
	g_free(j);
}

void
command_list_clear(struct command_list *l)
{
	if (l->cmds)
		g_ptr_array_unref(l->cmds);
	if (l->rejected)
		g_ptr_array_unref(l->rejected);
	g_free(l->text);
	memset(l, 0, sizeof(*l));
}

static void
command_reject(struct command_list *l, const char *line, size_t len,
               const char *reason, bool unknown)
{
	struct command_reject *j = g_new0(struct command_reject, 1);

	/* clipped: the audit trail needs the gist, not a 1 MB line */
	j->line = g_strndup(line, MIN(len, (size_t)COMMAND_MAX_LINE));
	if (!g_utf8_validate(j->line, -1, NULL)) {
		char *v = g_utf8_make_valid(j->line, -1);
		g_free(j->line);
		j->line = v;
	}
	j->reason = reason;
	j->unknown = unknown;
	g_ptr_array_add(l->rejected, j);
}

/* command_word - arg matches one of words (case-insensitive), or NULL. */
static const char *
command_word(const char *arg, const char *const *words, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (g_ascii_strcasecmp(arg, words[i]) == 0)
			return words[i];
	return NULL;
}

/*
 * command_fill - c's kind and argument from the command's name and the
 * rest of its line (arg, writable).  NULL when the line is well formed,
 * else why it is rejected; *unknown_r is set for a name that is no
 * command at all.
 */
static const char *
command_fill(struct command *c, const char *name, char *arg,
             struct command_list *l, char **note_text_r, bool *unknown_r)
{
	const char *w;

	if (g_ascii_strcasecmp(name, "status") == 0) {
		c->kind = COMMAND_STATUS;
		w = command_word(arg, command_status,
		                 ARRAY_SIZE(command_status));
		if (w == NULL) {
			return "#status takes open, pending, "
			       "resolved or closed";
		}
		c->arg = g_strdup(w);
	} else if (g_ascii_strcasecmp(name, "priority") == 0) {
		c->kind = COMMAND_PRIORITY;
		w = command_word(arg, command_priority,
		                 ARRAY_SIZE(command_priority));
		if (w == NULL) {
			return "#priority takes low, normal, high or "
			       "urgent";
		}
		c->arg = g_strdup(w);
	} else if (g_ascii_strcasecmp(name, "assign") == 0) {
		c->kind = COMMAND_ASSIGN;
		if (*arg == '\0') {
			return "#assign needs an agent's address or "
			       "name";
		}
		c->arg = g_strdup(arg);
	} else if (g_ascii_strcasecmp(name, "note") == 0) {
		c->kind = COMMAND_NOTE;
		l->note = true;
		if (*arg != '\0' && *note_text_r == NULL)
			*note_text_r = g_strdup(arg);
	} else if (g_ascii_strcasecmp(name, "merge") == 0) {
		c->kind = COMMAND_MERGE;
		if ((c->arg = command_ticket_arg(arg)) == NULL) {
			return "#merge takes the number of the ticket this "
			       "one joins";
		}
	} else if (g_ascii_strcasecmp(name, "show") == 0) {
		char *end;
		gint64 n;
		c->kind = COMMAND_SHOW;
		if (*arg == '#')
			arg++;
		if (*arg != '\0') {
			n = g_ascii_strtoll(arg, &end, 10);
			if (*end != '\0' || n <= 0) {
				return "#show takes a ticket number or "
				       "nothing (the mail's ticket)";
			}
			c->arg = g_strdup_printf("%" G_GINT64_FORMAT, n);
		}
	} else if (g_ascii_strcasecmp(name, "search") == 0) {
		c->kind = COMMAND_SEARCH;
		if (*arg == '\0' || strlen(arg) > COMMAND_MAX_WORDS) {
			return "#search needs words (at most 200 "
			       "bytes)";
		}
		c->arg = g_strdup(arg);
	} else if (g_ascii_strcasecmp(name, "list") == 0) {
		c->kind = COMMAND_LIST;
		if ((c->arg = command_list_arg(arg)) == NULL) {
			return "#list takes mine, breached or queue "
			       "NAME";
		}
	} else if (g_ascii_strcasecmp(name, "away") == 0) {
		c->kind = COMMAND_AWAY;
		if (*arg != '\0' && (c->arg = command_away_arg(arg)) == NULL)
			return "#away takes nothing or until YYYY-MM-DD";
	} else if (g_ascii_strcasecmp(name, "back") == 0) {
		c->kind = COMMAND_BACK;
		if (*arg != '\0')
			return "#back takes nothing";
	} else if (g_ascii_strcasecmp(name, "requester") == 0) {
		size_t n = strlen(arg);
		c->kind = COMMAND_REQUESTER;
		if (n > 2 && arg[0] == '<' && arg[n - 1] == '>') {
			arg[n - 1] = '\0';
			arg++;
			n -= 2;
		}
		/* the caller checks the address itself (forward_addr) */
		if (n == 0 || n > 254 || strchr(arg, '@') == NULL ||
		    strpbrk(arg, " \t") != NULL) {
			return "#requester takes one address";
		}
		c->arg = g_ascii_strdown(arg, -1);
	} else {
		*unknown_r = true;
		return "unknown command";
	}
	return NULL;
}

/*
 * command_line - one "#name arg" line (trimmed, len bytes, starts with
 * '#' and a letter).  Appends to cmds or rejected; *note_text_r gets the
 * text after "#note" (owned) when there is some.
 */
static void
command_line(struct command_list *l, const char *line, size_t len,
             char **note_text_r)
{
	g_autofree char *s = g_strndup(line, len);
	char *name = s + 1, *arg = name;
	const char *why;
	bool unknown = false;
	struct command *c;

	while (g_ascii_isalnum(*arg) || *arg == '-' || *arg == '_')
		arg++;
	if (*arg != '\0' && *arg != ':' && !g_ascii_isspace(*arg)) {
		command_reject(l, line, len,
		               "not a command: '#' and a word "
		               "followed by a space or ':'",
		               true);
		return;
	}
	if (*arg == ':')
		*arg++ = '\0';
	else if (*arg != '\0')
		*arg++ = '\0';
	arg = g_strstrip(arg);
	if (*arg == ':') /* "#status : resolved" */
		arg = g_strstrip(arg + 1);

	c = g_new0(struct command, 1);
	c->line = g_strndup(line, len);
	why = command_fill(c, name, arg, l, note_text_r, &unknown);
	if (why != NULL) {
		command_reject(l, line, len, why, unknown);
		command_free(c);
		return;
	}
	g_ptr_array_add(l->cmds, c);
}

void
command_parse(const char *text, struct command_list *out)
{
	const char *p = text ? text : "", *body;
	g_autofree char *note_text = NULL;
	unsigned lines = 0;

	memset(out, 0, sizeof(*out));
	out->cmds = g_ptr_array_new_with_free_func(command_free);
	out->rejected = g_ptr_array_new_with_free_func(command_reject_free);
	body = p;

	for (const char *line = p;;) {
		const char *nl = strchr(line, '\n');
		const char *end = nl ? nl : line + strlen(line);
		const char *a = line, *b = end;

		while (a < b && g_ascii_isspace(*a))
			a++;
		while (b > a && g_ascii_isspace(b[-1]))
			b--;
		if (a < b &&
		    (a[0] != '#' || b - a < 2 || !g_ascii_isalpha(a[1]))) {
			/* the first line of text ends the block; without a
			 * block the text stays exactly as it was */
			if (lines > 0)
				body = line;
			break;
		}
		if (a < b) {
			if (++lines > COMMAND_MAX_LINES)
				out->excess++;
			else if (b - a > COMMAND_MAX_LINE)
				command_reject(out, a, (size_t)(b - a),
				               "command line too long", false);
			else
				command_line(out, a, (size_t)(b - a),
				             &note_text);
		}
		if (nl == NULL) {
			if (lines > 0)
				body = end;
			break;
		}
		line = nl + 1;
	}
	out->question = out->cmds->len > 0 && out->rejected->len == 0;
	for (guint i = 0; i < out->cmds->len; i++)
		if (!command_is_question(
		        ((struct command *)out->cmds->pdata[i])->kind))
			out->question = false;
	if (note_text != NULL)
		out->text = g_strconcat(note_text, "\n", body, NULL);
	else
		out->text = g_strdup(body);
}
