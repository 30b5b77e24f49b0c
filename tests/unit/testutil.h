/*
 * testutil.h - helpers shared by the unit tests, linked into every unit
 * binary: a scratch directory holding a token secret for config files,
 * config files written from a base text plus extra lines, cfg_load with
 * its errors joined into one string, and a substring check that prints
 * what it missed.  Owns the scratch directory (one per test binary).
 */
#ifndef TICKD_TESTUTIL_H
#define TICKD_TESTUTIL_H

#include "cfg.h"

#include <stdbool.h>

/*
 * testutil_dir_make - mkdtemp "/tmp/tickd-<name>-XXXXXX" with a 32-byte
 * "secret" file in it; the path (static, until testutil_dir_remove) or
 * NULL.  testutil_dir_remove - removes the secret, "t.conf" and the
 * directory (which must be empty otherwise).
 */
const char *testutil_dir_make(const char *name);
void testutil_dir_remove(void);

/*
 * testutil_write_conf - base (every "%s" in it stands for the scratch
 * directory) followed by extra, written to <dir>/t.conf; the path, caller
 * frees with g_free.
 */
char *testutil_write_conf(const char *base, const char *extra);

/*
 * testutil_load - cfg_load of testutil_write_conf(base, extra): the
 * errors joined by '\n', "" when the config loaded (caller frees with
 * g_free).  With c_r the loaded config (NULL on errors; caller frees
 * with cfg_free), without it the config is freed.
 */
char *testutil_load(const char *base, const char *extra, struct cfg **c_r);

/* testutil_has - needle is in text; else prints both and returns false. */
bool testutil_has(const char *text, const char *needle);

#endif
