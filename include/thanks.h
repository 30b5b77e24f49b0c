/*
 * thanks.h - is a reply only a thank-you or a confirmation?  Pure: no
 * I/O, no config, no clock.  Owns nothing.
 *
 * Used by ingest so that "Thanks, that fixed it!" on a resolved ticket
 * does not reopen it (and inflate the reopen rate), while "Thanks, but it
 * still fails" does.  The detector is deliberately conservative: when in
 * doubt it says no, and the ticket reopens as before - a wrongly kept
 * "resolved" would hide a customer who still needs help, a wrong reopen
 * only costs an agent a glance.
 *
 * English, German, French and Spanish.  A reply counts as a thank-you
 * when, after quoted history (lines starting with '>' and everything
 * from an "On ... wrote:" / "Am ... schrieb" / "Le ... a écrit" /
 * "El ... escribió" / "-----Original Message-----" line or a "-- "
 * signature on) is cut:
 *   - it is short: at most THANKS_MAX_CHARS characters and
 *     THANKS_MAX_WORDS words;
 *   - it has no question mark ('?', '¿', full-width);
 *   - it has a thank or confirm word ("thanks", "danke", "merci",
 *     "gracias", "fixed", "funktioniert", "resuelto", ...);
 *   - it has no word that negates, contrasts or asks for more ("but",
 *     "still", "not", "aber", "nicht", "leider", "mais", "pas", "pero",
 *     "no", "please", "bitte", "another", ...), after set phrases that
 *     only sound negative ("no problem", "kein Problem", "de rien") are
 *     taken out.
 */
#ifndef TICKD_THANKS_H
#define TICKD_THANKS_H

#include "common.h"

#include <glib.h>

#define THANKS_MAX_CHARS 300
#define THANKS_MAX_WORDS 40

/* thanks_only - does text (UTF-8 or not; at most THANKS_SCAN bytes are
 * looked at, a longer text is not a thank-you) only thank or confirm?
 * NULL or empty: false. */
#define THANKS_SCAN (16 * 1024)
bool thanks_only(const char *text);

#endif
