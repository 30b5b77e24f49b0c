/*
 * testutil.c - helpers shared by the unit tests.  See testutil.h.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *scratch; /* owned: the scratch directory */

const char *
testutil_dir_make(const char *name)
{
	char *p;

	g_free(scratch);
	scratch = g_strdup_printf("/tmp/tickd-%s-XXXXXX", name);
	if (mkdtemp(scratch) == NULL) {
		g_free(scratch);
		scratch = NULL;
		return NULL;
	}
	p = g_strdup_printf("%s/secret", scratch);
	g_file_set_contents(p, "0123456789abcdef0123456789abcdef\n", -1, NULL);
	g_free(p);
	return scratch;
}

void
testutil_dir_remove(void)
{
	static const char *const files[] = {"secret", "t.conf"};

	if (!scratch)
		return;
	for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
		char *p = g_strdup_printf("%s/%s", scratch, files[i]);

		unlink(p);
		g_free(p);
	}
	rmdir(scratch);
	g_free(scratch);
	scratch = NULL;
}

char *
testutil_write_conf(const char *base, const char *extra)
{
	char *path = g_strdup_printf("%s/t.conf", scratch);
	char **parts = g_strsplit(base, "%s", -1);
	char *text = g_strjoinv(scratch, parts);
	char *all = g_strconcat(text, extra, NULL);

	g_file_set_contents(path, all, -1, NULL);
	g_strfreev(parts);
	g_free(text);
	g_free(all);
	return path;
}

char *
testutil_load(const char *base, const char *extra, struct cfg **c_r)
{
	char *path = testutil_write_conf(base, extra);
	GPtrArray *errs = g_ptr_array_new_with_free_func(g_free);
	struct cfg *c = NULL;
	char *out;

	if (cfg_load(path, true, &c, errs) == 0) {
		out = g_strdup("");
	} else {
		c = NULL;
		g_ptr_array_add(errs, NULL);
		out = g_strjoinv("\n", (char **)errs->pdata);
	}
	if (c_r != NULL)
		*c_r = c;
	else
		cfg_free(&c);
	g_ptr_array_unref(errs);
	g_free(path);
	return out;
}

bool
testutil_has(const char *text, const char *needle)
{
	if (strstr(text, needle) == NULL) {
		fprintf(stderr, "  missing '%s' in:\n%s\n", needle, text);
		return false;
	}
	return true;
}
