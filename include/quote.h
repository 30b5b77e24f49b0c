/*
 * quote.h - find where a reply stops being new text: attribution lines
 * ("On ... wrote:", "Le ... a écrit :", "Am ... schrieb ...:"), Outlook
 * header blocks (From:/Sent:, Von:/Gesendet:, De:/Envoyé:), "-----Original
 * Message-----", trailing ">" quotes and a "-- " signature.  Pure string
 * work on UTF-8 text, no allocation beyond the returned string.
 */
#ifndef TICKD_QUOTE_H
#define TICKD_QUOTE_H

#include "common.h"

/*
 * quote_split - the text above the first quote marker, trimmed of leading
 * and trailing whitespace.  When the sender answered below the quote
 * (bottom-posting) the text after the quoted block is returned instead.
 * Returns a new string (g_free), never NULL; the whole text, trimmed, when
 * nothing is quoted or nothing else would be left.
 */
char *quote_split(const char *text);

#endif
