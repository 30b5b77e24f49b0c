/*
 * thanks.c - is a reply only a thank-you or a confirmation?  See
 * thanks.h.  The word lists are case-folded; a trailing '*' matches any
 * word ending ("thank*" matches "thanks", "thankful").
 */
#include "thanks.h"

#include <string.h>

/* Thanks and confirmations. */
static const char *const thanks_yes[] = {
    /* en */
    "thank*",
    "thx",
    "ty",
    "cheers",
    "appreciate*",
    "great",
    "perfect*",
    "works",
    "working",
    "worked",
    "fixed",
    "solved",
    "resolved",
    "sorted",
    "awesome",
    "brilliant",
    "excellent",
    "wonderful",
    "amazing",
    "confirmed",
    "all good",
    "got it",
    "many thanks",
    /* de */
    "danke*",
    "dank",
    "funktioniert",
    "klappt",
    "geklappt",
    "gelöst",
    "behoben",
    "erledigt",
    "super",
    "perfekt",
    "prima",
    "toll",
    "klasse",
    "bestens",
    "passt",
    "läuft",
    "geht wieder",
    /* fr */
    "merci*",
    "parfait*",
    "fonctionne",
    "marche",
    "résolu*",
    "réglé*",
    "génial",
    "nickel",
    "impeccable",
    /* es */
    "gracias",
    "perfecto",
    "funciona",
    "funcionó",
    "resuelto",
    "solucionado",
    "genial",
    "estupendo",
    "excelente",
    "vale",
};

/* Negation, contrast, a new request: any of them and it is not only a
 * thank-you. */
static const char *const thanks_no[] = {
    /* en */
    "but",
    "however",
    "still",
    "not",
    "no",
    "doesn't",
    "doesnt",
    "don't",
    "dont",
    "didn't",
    "didnt",
    "isn't",
    "isnt",
    "won't",
    "wont",
    "can't",
    "cant",
    "cannot",
    "couldn't",
    "wasn't",
    "aren't",
    "never",
    "anymore",
    "problem*",
    "error*",
    "issue*",
    "fail*",
    "broken",
    "wrong",
    "unfortunately",
    "except",
    "although",
    "though",
    "yet",
    "please",
    "could you",
    "can you",
    "would you",
    "another",
    "one more",
    "also need",
    "reopen*",
    "crash*",
    "bug",
    /* de */
    "aber",
    "jedoch",
    "immer noch",
    "nicht",
    "nichts",
    "kein*",
    "leider",
    "fehler*",
    "problem*",
    "trotzdem",
    "allerdings",
    "bitte",
    "könnten",
    "können sie",
    "außerdem",
    "zusätzlich",
    "weiterhin",
    "nie",
    "absturz",
    "kaputt",
    "falsch",
    /* fr */
    "mais",
    "toujours",
    "pas",
    "ne",
    "n'",
    "plus",
    "erreur*",
    "problème*",
    "malheureusement",
    "cependant",
    "pourtant",
    "encore un*",
    "autre",
    "pourriez",
    "pouvez",
    "s'il vous plaît",
    "svp",
    "jamais",
    /* es */
    "pero",
    "todavía",
    "aún",
    "sigue",
    "sigo",
    "error*",
    "problema*",
    "falla*",
    "fallo",
    "sin embargo",
    "desafortunadamente",
    "lamentablemente",
    "otra",
    "otro",
    "por favor",
    "puede",
    "podría*",
    "nunca",
    "tampoco",
};

/* Set phrases that only look negative: taken out before thanks_no. */
static const char *const thanks_neutral[] = {
    /* a problem named as gone */
    "problem solved",
    "problem fixed",
    "issue resolved",
    "issue fixed",
    "problem gelöst",
    "problem behoben",
    "fehler behoben",
    "problème résolu",
    "problème réglé",
    "problema resuelto",
    "problema solucionado",
    /* polite formulas */
    "no problem",
    "no worries",
    "not a problem",
    "no problems",
    "kein problem",
    "keine ursache",
    "nicht mehr nötig",
    "pas de problème",
    "de rien",
    "pas de souci",
    "no hay problema",
    "sin problema",
    "ningún problema",
    "thanks again",
    "danke nochmal",
    "merci encore",
    "gracias de nuevo",
    "thank you again",
};

/* Where quoted history starts (folded line starts / ends). */
static const char *const thanks_history_start[] = {
    "-----original message",
    "-----ursprüngliche nachricht",
    "-----message d'origine",
    "-----mensaje original",
    "from:",
    "von:",
    "de:",
    "-- ",
    "--\n",
    "________________",
};
static const char *const thanks_history_end[] = {
    "wrote:", "schrieb:", "a écrit :", "a écrit:", "escribió:",
};

static bool
thanks_wordchar(gunichar c)
{
	return g_unichar_isalnum(c) || c == '_' || c == '\'';
}

/* thanks_find - kw (folded; trailing '*': any ending) at word boundaries
 * in hay; the start of the hit or NULL. */
static const char *
thanks_find(const char *hay, const char *kw)
{
	size_t kl = strlen(kw);
	bool prefix = kl > 0 && kw[kl - 1] == '*';
	size_t nl = prefix ? kl - 1 : kl;
	g_autofree char *needle = g_strndup(kw, nl);
	bool ends_apos = nl > 0 && needle[nl - 1] == '\'';

	if (nl == 0)
		return NULL;
	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++) {
		const char *end = p + nl;

		if (p > hay && thanks_wordchar(g_utf8_get_char(
		                   g_utf8_find_prev_char(hay, p))))
			continue;
		if (!prefix && !ends_apos && *end &&
		    thanks_wordchar(g_utf8_get_char(end)))
			continue;
		return p;
	}
	return NULL;
}

static bool
thanks_any(const char *hay, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (thanks_find(hay, list[i]) != NULL)
			return true;
	return false;
}

/* thanks_new_part - the folded lines before quoted history; the
 * apostrophes of "don’t" made plain.  g_free. */
static char *
thanks_new_part(const char *folded)
{
	g_auto(GStrv) lines = g_strsplit(folded, "\n", -1);
	GString *out = g_string_new(NULL);

	for (size_t i = 0; lines[i] != NULL; i++) {
		char *l = lines[i];
		bool stop = false;

		g_strdelimit(l, "\r", ' ');
		if (strcmp(l, "-- ") == 0 || strcmp(l, "--") == 0)
			break;
		g_strstrip(l);
		if (*l == '>')
			continue;
		for (size_t k = 0;
		     !stop && k < ARRAY_SIZE(thanks_history_start); k++)
			stop = g_str_has_prefix(l, thanks_history_start[k]);
		for (size_t k = 0; !stop && k < ARRAY_SIZE(thanks_history_end);
		     k++)
			stop = g_str_has_suffix(l, thanks_history_end[k]);
		if (stop)
			break;
		g_string_append(out, l);
		g_string_append_c(out, '\n');
	}
	return g_string_free(out, FALSE);
}

/* thanks_plain_apostrophes - ’ and ` as ' (in place; same length or
 * shorter). */
static void
thanks_plain_apostrophes(char *s)
{
	char *w = s;

	for (const char *r = s; *r;) {
		if (strncmp(r, "\xe2\x80\x99", 3) == 0) { /* U+2019 */
			*w++ = '\'';
			r += 3;
		} else if (*r == '`') {
			*w++ = '\'';
			r++;
		} else
			*w++ = *r++;
	}
	*w = '\0';
}

static size_t
thanks_words(const char *s)
{
	size_t n = 0;
	bool in = false;

	for (const char *p = s; *p; p = g_utf8_next_char(p)) {
		bool w = thanks_wordchar(g_utf8_get_char(p));
		if (w && !in)
			n++;
		in = w;
	}
	return n;
}

/* thanks_greeting - a salutation line ("hi bob,", "hallo frau meier,",
 * "fred,"): short and ending in a comma, or opening with a greeting. */
static bool
thanks_greeting(const char *l)
{
	static const char *const open[] = {
	    "hi",    "hello",  "hey",           "dear",      "hallo",
	    "liebe", "lieber", "sehr geehrte*", "guten tag", "bonjour",
	    "salut", "hola",   "buenos días",   "estimado*"};
	size_t n = strlen(l);

	if (n > 0 && l[n - 1] == ',' && thanks_words(l) <= 3)
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(open); i++) {
		const char *p = thanks_find(l, open[i]);
		if (p == l)
			return !thanks_any(l, thanks_yes,
			                   ARRAY_SIZE(thanks_yes));
	}
	return false;
}

/* thanks_first_line_thanks - the first line after the salutation has a
 * thank or confirm word. */
static bool
thanks_first_line_thanks(const char *s)
{
	g_auto(GStrv) lines = g_strsplit(s, "\n", -1);

	for (size_t i = 0; lines[i] != NULL; i++) {
		g_strstrip(lines[i]);
		if (*lines[i] == '\0' || thanks_greeting(lines[i]))
			continue;
		return thanks_any(lines[i], thanks_yes, ARRAY_SIZE(thanks_yes));
	}
	return false;
}

bool
thanks_only(const char *text)
{
	size_t len = text ? strlen(text) : 0;
	g_autofree char *valid = NULL, *norm = NULL, *folded = NULL;
	g_autofree char *s = NULL;

	if (len == 0 || len > THANKS_SCAN)
		return false;
	valid = g_utf8_make_valid(text, (gssize)len);
	norm = g_utf8_normalize(valid, -1, G_NORMALIZE_ALL_COMPOSE);
	folded = g_utf8_casefold(norm ? norm : valid, -1);
	thanks_plain_apostrophes(folded);
	s = thanks_new_part(folded);
	g_strstrip(s);
	if (*s == '\0' || g_utf8_strlen(s, -1) > THANKS_MAX_CHARS ||
	    thanks_words(s) > THANKS_MAX_WORDS)
		return false;
	/* ? ¿ and the full-width ？: a question is not a thank-you */
	if (strchr(s, '?') || strstr(s, "\xc2\xbf") ||
	    strstr(s, "\xef\xbc\x9f"))
		return false;
	/* the thanks must open the reply: "Thanks," as a sign-off under a
	 * new request ("Fire up the server! Thanks, Al") is no thank-you */
	if (!thanks_first_line_thanks(s))
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(thanks_neutral); i++) {
		const char *p;
		while ((p = thanks_find(s, thanks_neutral[i])) != NULL)
			memset((char *)p, ' ', strlen(thanks_neutral[i]));
	}
	return !thanks_any(s, thanks_no, ARRAY_SIZE(thanks_no));
}
