/* Unit tests for thanks.c: thank-you and confirmation replies in English,
 * German, French and Spanish, and the look-alikes that must reopen. */
#include "thanks.h"

#include "test.h"

#include <string.h>

static const char *const yes[] = {
    "Thanks, that fixed it!",
    "Thank you!",
    "Thank you so much, it works now.",
    "thx",
    "Many thanks, all good now.",
    "Perfect, thanks a lot!",
    "Great, that worked. Cheers, Bob",
    "Got it, thank you.",
    "Awesome, problem solved! Thanks",
    "Thanks again, no worries.",
    "Confirmed, it works. Thank you!",
    "Thank you \xe2\x80\x94 sorted.",
    "Brilliant, thanks!\n\n-- \nBob Buyer\nACME Corp\nCall me: 555-1234?",
    "Thanks!\r\n\r\nOn Tue, 24 Nov 2026 at 10:00, Example Support "
    "<support@example.com> wrote:\r\n> Is it still broken? Please check.\r\n",
    "Thanks, works!\n> but does it still fail?\n",
    "Vielen Dank, es funktioniert wieder!",
    "Danke, hat geklappt.",
    "Super, danke! Problem gelöst.",
    "Danke schön, passt so.",
    "Vielen Dank für die schnelle Hilfe!",
    "Perfekt, danke. Viele Grüße, Anna",
    "Danke, kein Problem mehr.",
    "Prima, läuft. Danke!",
    "Merci beaucoup, ça marche !",
    "Merci, c'est parfait.",
    "Parfait, merci pour votre aide.",
    "Merci, problème résolu.",
    "Muchas gracias, ya funciona.",
    "Gracias, todo resuelto.",
    "Perfecto, muchas gracias!",
    "¡Genial, gracias!",
    "Gracias, solucionado. Saludos, Juan",
    "THANK YOU!!!",
    "Thanks\n\n-----Original Message-----\nFrom: Support\nIt is not "
    "working? Please.\n",
    "Hi Bob,\n\nthanks, works now.",
    "Hallo Frau Meier,\n\nvielen Dank, jetzt klappt es.",
    "Danke!\n\nAm 24.11.2026 um 10:00 schrieb Support <s@example.com>:\n"
    "> Funktioniert es nicht?\n",
};

static const char *const no[] = {
    "Thanks, but it still fails",
    "Thanks, but it still fails.",
    "Thank you. Can you also check the invoice?",
    "Thanks. Could you also check the invoice.",
    "Thanks, it does not work.",
    "Thanks, it doesn't work",
    "Thanks, it doesn\xe2\x80\x99t work",
    "Thanks for the answer. Unfortunately the error is back.",
    "Thanks! Another question: the printer on floor 2 is broken as well.",
    "It works now, however the export still crashes.",
    "The problem is still there",
    "Please call me",
    "Hello, I have a new problem with my account.",
    "Thank you, please send me the invoice again.",
    "Thanks?",
    "Danke, aber es geht immer noch nicht.",
    "Danke, leider funktioniert es nicht.",
    "Vielen Dank. Könnten Sie bitte auch die Rechnung prüfen",
    "Danke, der Fehler ist wieder da.",
    "Merci, mais ça ne marche toujours pas.",
    "Merci, j'ai encore une erreur.",
    "Merci. Pourriez-vous aussi vérifier la facture",
    "Gracias, pero sigue sin funcionar.",
    "Gracias, todavía no funciona.",
    "Gracias. ¿Pueden revisar la factura",
    "Gracias, por favor revisen la factura.",
    "",
    "Ok",
    /* a thanks only as the sign-off of a new request (corpus cases) */
    "Fred,\n\nFire up Air Force One!  We're going South!\n\nThanks,\nAl",
    "Plain email.\n\nHope it works well!\n\nMikel",
    "Hi,\n\nThis mail is composed in html format.\n\nCheers,\nErik",
    "See attached.",
    /* long: a real mail that happens to start with thanks */
    "Thanks for getting back to me. I have looked at the settings you "
    "mentioned and changed the proxy to the one from the documentation, "
    "restarted the machine twice, cleared the cache, reinstalled the client "
    "from the download page and logged in with my colleague's account to "
    "compare, and tried the same on my laptop at home over a different "
    "network connection as well as on my phone.",
};

static void
test_thanks_phrases(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		bool r = thanks_only(yes[i]);
		if (!r)
			fprintf(stderr, "  expected thanks: '%s'\n", yes[i]);
		TEST_CHECK(r);
	}
	for (size_t i = 0; i < ARRAY_SIZE(no); i++) {
		bool r = thanks_only(no[i]);
		if (r)
			fprintf(stderr, "  expected no thanks: '%s'\n", no[i]);
		TEST_CHECK(!r);
	}
}

static void
test_thanks_bounds(void)
{
	g_autofree char *big = g_strnfill(THANKS_SCAN + 1, 'a');
	char bad[] = "Thanks \xff\xfe fixed";

	TEST_CHECK(!thanks_only(NULL));
	memcpy(big, "thanks ", 7);
	TEST_CHECK(!thanks_only(big));
	/* invalid UTF-8 is made valid, not trusted */
	TEST_CHECK(thanks_only(bad));
}

int
main(void)
{
	static const struct test_case cases[] = {
	    {"phrases in four languages", test_thanks_phrases},
	    {"bounds", test_thanks_bounds},
	};

	return test_run("thanks", cases, ARRAY_SIZE(cases));
}
