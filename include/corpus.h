/*
 * corpus.h - the parser's test bench on real mail: `tickctl corpus-report
 * DIR [--json FILE]` runs every mail file below DIR (mbox files split into
 * messages) through mime_parse and classify_msg and prints one line of
 * counts per corpus (top-level folder); `tickctl parse FILE... [--json]`
 * shows what tickd makes of single mails.  Owns nothing between calls.
 */
#ifndef TICKD_CORPUS_H
#define TICKD_CORPUS_H

#include "common.h"

/*
 * corpus_main - run a subcommand; argv[0] is its name ("corpus-report" or
 * "parse").  mime_init() must have been called; corpus_main calls
 * mime_shutdown() before it returns, so the process should exit then.
 * Output goes to stdout, usage errors to stderr.  Returns the exit code:
 * 0 ok, 1 when a parse broke the mime_msg contract (invalid UTF-8, a NULL
 * where one is never allowed) or a file could not be read, 2 usage.
 */
int corpus_main(int argc, char **argv);

#endif
