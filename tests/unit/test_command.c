/* Unit tests for command.c: the command block at the top of an agent's
 * mail, what is rejected and why, and the text left for the customer. */
#include "command.h"

#include "test.h"

#include <string.h>

static const struct command *
cmd(const struct command_list *l, guint i)
{
	return i < l->cmds->len ? l->cmds->pdata[i] : NULL;
}

static const struct command_reject *
rej(const struct command_list *l, guint i)
{
	return i < l->rejected->len ? l->rejected->pdata[i] : NULL;
}

static void
test_status_and_assign(void)
{
	struct command_list l;

	command_parse("#status resolved\r\n#assign bob\r\n\r\nHello Carla,\r\n"
	              "fixed.\r\n",
	              &l);
	TEST_INTEQ(l.cmds->len, 2);
	TEST_INTEQ(l.rejected->len, 0);
	TEST_INTEQ(cmd(&l, 0)->kind, COMMAND_STATUS);
	TEST_STREQ(cmd(&l, 0)->arg, "resolved");
	TEST_STREQ(cmd(&l, 0)->line, "#status resolved");
	TEST_INTEQ(cmd(&l, 1)->kind, COMMAND_ASSIGN);
	TEST_STREQ(cmd(&l, 1)->arg, "bob");
	TEST_STREQ(l.text, "Hello Carla,\r\nfixed.\r\n");
	TEST_CHECK(!l.note);
	command_list_clear(&l);
}

static void
test_case_colon_and_spaces(void)
{
	struct command_list l;

	command_parse("\n  #STATUS: Pending  \n#Priority :  URGENT\n"
	              "#assign   Bob Smith \ntext\n",
	              &l);
	TEST_INTEQ(l.cmds->len, 3);
	TEST_STREQ(cmd(&l, 0)->arg, "pending");
	TEST_INTEQ(cmd(&l, 1)->kind, COMMAND_PRIORITY);
	TEST_STREQ(cmd(&l, 1)->arg, "urgent");
	TEST_STREQ(cmd(&l, 2)->arg, "Bob Smith");
	TEST_STREQ(l.text, "text\n");
	command_list_clear(&l);
}

static void
test_no_block_keeps_text(void)
{
	struct command_list l;
	const char *t = "\n\nHello,\n#status closed\nbye\n";

	/* a command below the first line of text is text (a quote, a
	 * customer's own words): never parsed, never cut */
	command_parse(t, &l);
	TEST_INTEQ(l.cmds->len, 0);
	TEST_INTEQ(l.rejected->len, 0);
	TEST_STREQ(l.text, t);
	command_list_clear(&l);

	command_parse(NULL, &l);
	TEST_STREQ(l.text, "");
	TEST_INTEQ(l.cmds->len, 0);
	command_list_clear(&l);

	command_parse("   \n \n", &l);
	TEST_STREQ(l.text, "   \n \n");
	command_list_clear(&l);

	/* '#' and a digit is a ticket number, "# x" a heading: text */
	command_parse("#1042 is still broken\n", &l);
	TEST_INTEQ(l.cmds->len + l.rejected->len, 0);
	TEST_STREQ(l.text, "#1042 is still broken\n");
	command_list_clear(&l);
	command_parse("# Heading\n", &l);
	TEST_INTEQ(l.cmds->len + l.rejected->len, 0);
	command_list_clear(&l);
}

static void
test_rejections(void)
{
	struct command_list l;

	command_parse("#status done\n#priority 5\n#assign\n#close\n"
	              "#wow!\n#note\nbody",
	              &l);
	TEST_INTEQ(l.cmds->len, 1);
	TEST_INTEQ(cmd(&l, 0)->kind, COMMAND_NOTE);
	TEST_CHECK(l.note);
	TEST_INTEQ(l.rejected->len, 5);
	TEST_STREQ(rej(&l, 0)->line, "#status done");
	TEST_CHECK(strstr(rej(&l, 0)->reason, "resolved") != NULL);
	TEST_CHECK(!rej(&l, 0)->unknown);
	TEST_STREQ(rej(&l, 1)->line, "#priority 5");
	TEST_CHECK(!rej(&l, 1)->unknown);
	TEST_STREQ(rej(&l, 2)->line, "#assign");
	TEST_CHECK(!rej(&l, 2)->unknown);
	TEST_STREQ(rej(&l, 3)->line, "#close");
	TEST_STREQ(rej(&l, 3)->reason, "unknown command");
	TEST_CHECK(rej(&l, 3)->unknown);
	TEST_STREQ(rej(&l, 4)->line, "#wow!");
	TEST_CHECK(rej(&l, 4)->unknown);
	/* every line of the block is cut, rejected ones too */
	TEST_STREQ(l.text, "body");
	command_list_clear(&l);
}

static void
test_requester(void)
{
	struct command_list l;

	command_parse("#requester <Rita@Customer.EXAMPLE>\n#Requester: "
	              "x@y.example\n#requester\n#requester two words@x\n"
	              "#requester nobody\n\nHi team",
	              &l);
	TEST_INTEQ(l.cmds->len, 2);
	TEST_INTEQ(cmd(&l, 0)->kind, COMMAND_REQUESTER);
	TEST_STREQ(cmd(&l, 0)->arg, "rita@customer.example");
	TEST_STREQ(cmd(&l, 1)->arg, "x@y.example");
	TEST_STREQ(command_kind_name(COMMAND_REQUESTER), "requester");
	TEST_INTEQ(l.rejected->len, 3);
	for (guint i = 0; i < l.rejected->len; i++) {
		TEST_STREQ(rej(&l, i)->reason, "#requester takes one address");
		TEST_CHECK(!rej(&l, i)->unknown);
	}
	TEST_CHECK(!l.question);
	TEST_STREQ(l.text, "Hi team");
	command_list_clear(&l);
}

static void
test_note_with_text(void)
{
	struct command_list l;

	command_parse("#note Called her, she will send logs.\n#status pending\n"
	              "\nmore\n",
	              &l);
	TEST_CHECK(l.note);
	TEST_INTEQ(l.cmds->len, 2);
	TEST_CHECK(cmd(&l, 0)->arg == NULL);
	TEST_STREQ(cmd(&l, 1)->arg, "pending");
	TEST_STREQ(l.text, "Called her, she will send logs.\nmore\n");
	command_list_clear(&l);
}

static void
test_only_commands(void)
{
	struct command_list l;

	command_parse("#status closed", &l);
	TEST_INTEQ(l.cmds->len, 1);
	TEST_STREQ(l.text, "");
	command_list_clear(&l);
	command_parse("#status closed\n\n\n", &l);
	TEST_STREQ(l.text, "");
	command_list_clear(&l);
}

static void
test_bounds(void)
{
	struct command_list l;
	GString *s = g_string_new(NULL);
	char *longline;

	for (int i = 0; i < COMMAND_MAX_LINES + 5; i++)
		g_string_append(s, "#priority high\n");
	g_string_append(s, "text\n");
	command_parse(s->str, &l);
	TEST_INTEQ(l.cmds->len, COMMAND_MAX_LINES);
	TEST_INTEQ(l.rejected->len, 0);
	TEST_INTEQ(l.excess, 5);
	TEST_STREQ(l.text, "text\n");
	command_list_clear(&l);

	g_string_truncate(s, 0);
	g_string_append(s, "#assign ");
	for (int i = 0; i < 100000; i++)
		g_string_append_c(s, 'x');
	g_string_append(s, "\nhi\n");
	command_parse(s->str, &l);
	TEST_INTEQ(l.cmds->len, 0);
	TEST_INTEQ(l.rejected->len, 1);
	TEST_STREQ(rej(&l, 0)->reason, "command line too long");
	TEST_INTEQ(strlen(rej(&l, 0)->line), COMMAND_MAX_LINE);
	TEST_STREQ(l.text, "hi\n");
	command_list_clear(&l);

	/* invalid UTF-8 in a rejected line is made valid for the trail */
	longline = g_strdup("#st\xff\xfe x\nhi");
	command_parse(longline, &l);
	TEST_INTEQ(l.rejected->len, 1);
	TEST_CHECK(g_utf8_validate(rej(&l, 0)->line, -1, NULL));
	command_list_clear(&l);
	g_free(longline);
	g_string_free(s, TRUE);
}

/* a customer's body of 400k "#a" lines: 16 read, the rest counted, in
 * one pass (the caller writes one summary event for them) */
static void
test_huge_block(void)
{
	struct command_list l;
	GString *s = g_string_new(NULL);

	for (int i = 0; i < 400000; i++)
		g_string_append(s, "#a\n");
	g_string_append(s, "text\n");
	command_parse(s->str, &l);
	TEST_INTEQ(l.cmds->len, 0);
	TEST_INTEQ(l.rejected->len, COMMAND_MAX_LINES);
	TEST_INTEQ(l.excess, 400000 - COMMAND_MAX_LINES);
	TEST_STREQ(l.text, "text\n");
	command_list_clear(&l);
	g_string_free(s, TRUE);
}

static void
test_kind_names(void)
{
	TEST_STREQ(command_kind_name(COMMAND_STATUS), "status");
	TEST_STREQ(command_kind_name(COMMAND_PRIORITY), "priority");
	TEST_STREQ(command_kind_name(COMMAND_ASSIGN), "assign");
	TEST_STREQ(command_kind_name(COMMAND_NOTE), "note");
}

static void
test_questions(void)
{
	struct command_list l;

	command_parse("#show\n#show #1042\n#SEARCH \"march invoice\" bug*\n"
	              "#list mine\n#list Queue billing-de\n#list breached\n",
	              &l);
	TEST_INTEQ(l.cmds->len, 6);
	TEST_INTEQ(l.rejected->len, 0);
	TEST_CHECK(l.question);
	TEST_INTEQ(cmd(&l, 0)->kind, COMMAND_SHOW);
	TEST_CHECK(cmd(&l, 0)->arg == NULL);
	TEST_STREQ(cmd(&l, 1)->arg, "1042");
	TEST_INTEQ(cmd(&l, 2)->kind, COMMAND_SEARCH);
	TEST_STREQ(cmd(&l, 2)->arg, "\"march invoice\" bug*");
	TEST_INTEQ(cmd(&l, 3)->kind, COMMAND_LIST);
	TEST_STREQ(cmd(&l, 3)->arg, "mine");
	TEST_STREQ(cmd(&l, 4)->arg, "queue billing-de");
	TEST_STREQ(cmd(&l, 5)->arg, "breached");
	TEST_STREQ(command_kind_name(COMMAND_SHOW), "show");
	TEST_STREQ(command_kind_name(COMMAND_LIST), "list");
	command_list_clear(&l);

	/* a question beside a change is not a question mail */
	command_parse("#show\n#status closed\n", &l);
	TEST_INTEQ(l.cmds->len, 2);
	TEST_CHECK(!l.question);
	command_list_clear(&l);

	/* bad arguments are rejected, and then the mail asks nothing */
	command_parse("#show 12x\n#list everything\n#list queue a;b\n"
	              "#search\n",
	              &l);
	TEST_INTEQ(l.cmds->len, 0);
	TEST_INTEQ(l.rejected->len, 4);
	TEST_CHECK(!l.question);
	TEST_CHECK(!rej(&l, 0)->unknown);
	command_list_clear(&l);

	/* no command at all: no question */
	command_parse("Hello\n#show\n", &l);
	TEST_CHECK(!l.question);
	command_list_clear(&l);
}

/* #away and #back are about the sender: they ride the questions' path;
 * the date must exist and be written YYYY-MM-DD. */
static void
test_away_back(void)
{
	static const char *const bad[] = {
	    "#away tomorrow\n",         "#away until\n",
	    "#away until 2026-02-30\n", "#away until 2026-12-24x\n",
	    "#away until 26-12-24\n",   "#away until 2026-1-024\n",
	    "#away until +026-12-24\n", "#back now\n",
	    "#away until 1999-12-24\n",
	};
	struct command_list l;

	command_parse("#away until 2026-12-24\n#Away:\n#back\nSee you\n", &l);
	TEST_INTEQ(l.cmds->len, 3);
	TEST_INTEQ(l.rejected->len, 0);
	TEST_CHECK(l.question);
	TEST_INTEQ(cmd(&l, 0)->kind, COMMAND_AWAY);
	TEST_STREQ(cmd(&l, 0)->arg, "2026-12-24");
	TEST_INTEQ(cmd(&l, 1)->kind, COMMAND_AWAY);
	TEST_CHECK(cmd(&l, 1)->arg == NULL);
	TEST_INTEQ(cmd(&l, 2)->kind, COMMAND_BACK);
	TEST_STREQ(command_kind_name(COMMAND_AWAY), "away");
	TEST_STREQ(command_kind_name(COMMAND_BACK), "back");
	command_list_clear(&l);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		command_parse(bad[i], &l);
		TEST_INTEQ(l.cmds->len, 0);
		TEST_INTEQ(l.rejected->len, 1);
		TEST_CHECK(!l.question);
		command_list_clear(&l);
	}
	/* beside a ticket change it is no question mail */
	command_parse("#away\n#status pending\n", &l);
	TEST_CHECK(!l.question);
	command_list_clear(&l);
}

static void
test_merge(void)
{
	struct command_list l;

	command_parse("#merge 1042\n#MERGE: #77\nSame problem as 1042.\n", &l);
	TEST_INTEQ(l.cmds->len, 2);
	TEST_INTEQ(cmd(&l, 0)->kind, COMMAND_MERGE);
	TEST_STREQ(cmd(&l, 0)->arg, "1042");
	TEST_STREQ(cmd(&l, 1)->arg, "77");
	TEST_STREQ(command_kind_name(COMMAND_MERGE), "merge");
	TEST_CHECK(!command_is_question(COMMAND_MERGE));
	TEST_CHECK(!l.question);
	TEST_STREQ(l.text, "Same problem as 1042.\n");
	command_list_clear(&l);

	/* no number, not a number, zero, 16 digits, a tag: rejected, with
	 * the reason, not unknown */
	command_parse("#merge\n#merge bob\n#merge 0\n"
	              "#merge 1234567890123456\n#merge [Example #1042]\n"
	              "#merge 10 42\n",
	              &l);
	TEST_INTEQ(l.cmds->len, 0);
	TEST_INTEQ(l.rejected->len, 6);
	for (guint i = 0; i < l.rejected->len; i++) {
		TEST_CHECK(!rej(&l, i)->unknown);
		TEST_CHECK(strstr(rej(&l, i)->reason, "#merge") != NULL);
	}
	command_list_clear(&l);
}

int
main(void)
{
	static const struct test_case cases[] = {
	    {"status and assign", test_status_and_assign},
	    {"case, colon, spaces", test_case_colon_and_spaces},
	    {"no block keeps text", test_no_block_keeps_text},
	    {"rejections", test_rejections},
	    {"note with text", test_note_with_text},
	    {"requester", test_requester},
	    {"only commands", test_only_commands},
	    {"bounds", test_bounds},
	    {"huge block", test_huge_block},
	    {"kind names", test_kind_names},
	    {"questions", test_questions},
	    {"away and back", test_away_back},
	    {"merge", test_merge},
	};

	return test_run("command", cases, ARRAY_SIZE(cases));
}
