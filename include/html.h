/*
 * html.h - HTML mail bodies to readable plain text, with libxml2's HTML
 * parser in recover mode.  Used by mime.c only; owns nothing beyond the
 * strings it returns.  No I/O, no logging, no network (HTML_PARSE_NONET).
 *
 * The walk over the parsed tree is iterative, so a hostile document nested
 * 100 000 elements deep costs time proportional to its size and no stack.
 */
#ifndef TICKD_HTML_H
#define TICKD_HTML_H

#include "common.h"

/*
 * html_to_text - readable text from len bytes of HTML (expected UTF-8;
 * invalid bytes become U+FFFD).  Block elements end lines, <li> items start
 * with "- ", links read "text <url>", script/style/head are dropped,
 * entities are decoded and whitespace is collapsed.  Returns a new valid
 * UTF-8 string without NUL bytes (g_free); "" for empty input, never NULL.
 */
char *html_to_text(const char *html, size_t len);

/*
 * html_meta_charset - the charset an HTML document declares for itself in a
 * <meta charset=...> or <meta http-equiv content="...; charset=..."> within
 * its first 2 KiB.  Copies it into out (NUL-terminated, lower-case) and
 * returns true; false when there is none or it does not fit.
 */
bool html_meta_charset(const char *html, size_t len, char *out, size_t outlen);

#endif
