/*
 * fuzz_command.c - libFuzzer target for the agents' command block
 * (include/command.h, public API only): the input as the text of an
 * agent's mail.  Everything is freed, so LeakSanitizer reports any leak.
 *
 * Besides the sanitizers it checks the contract: out is always filled,
 * at most COMMAND_MAX_LINES commands, every command has a known kind and
 * its line, status/priority arguments are lower case, a note has no
 * argument and sets note, and the remaining text is no longer than the
 * input.
 */
#include "command.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = g_strndup((const char *)data, size);
	struct command_list l = {0};
	bool note = false;

	command_parse(text, &l);
	if (!l.cmds || !l.rejected || !l.text ||
	    strlen(l.text) > strlen(text) || l.cmds->len > COMMAND_MAX_LINES)
		abort();
	for (guint i = 0; i < l.cmds->len; i++) {
		const struct command *c = g_ptr_array_index(l.cmds, i);

		if (!c->line || !command_kind_name(c->kind))
			abort();
		if (c->kind == COMMAND_NOTE) {
			note = true;
			if (c->arg)
				abort();
		} else if (!c->arg) {
			abort();
		}
		if (c->kind == COMMAND_STATUS || c->kind == COMMAND_PRIORITY)
			for (const char *s = c->arg; *s; s++)
				if (g_ascii_isupper(*s))
					abort();
		/* a ticket number: digits only, never empty */
		if (c->kind == COMMAND_MERGE &&
		    (!c->arg || !*c->arg ||
		     strspn(c->arg, "0123456789") != strlen(c->arg)))
			abort();
	}
	if (note != l.note)
		abort();
	for (guint i = 0; i < l.rejected->len; i++) {
		const struct command_reject *rj =
		    g_ptr_array_index(l.rejected, i);

		if (!rj->line || !rj->reason)
			abort();
	}
	command_list_clear(&l);
	command_parse(NULL, &l);
	command_list_clear(&l);
	g_free(text);
	return 0;
}
