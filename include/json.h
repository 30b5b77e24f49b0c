/*
 * json.h - a minimal streaming JSON writer into a GString, for tickctl's
 * --json output and reports.  It tracks commas itself; the caller opens and
 * closes objects and arrays in order.  Strings must be UTF-8 (every string
 * tickd holds is); control characters are escaped.
 */
#ifndef TICKD_JSON_H
#define TICKD_JSON_H

#include "common.h"

#include <glib.h>

struct json {
	GString *out;     /* borrowed, appended to */
	bool need_comma;  /* a value was written at this level */
	bool key_pending; /* json_key wrote a key; its value comes next */
	int depth;
	bool pretty;
};

void json_init(struct json *j, GString *out, bool pretty);
void json_obj_open(struct json *j);
void json_obj_close(struct json *j);
void json_arr_open(struct json *j);
void json_arr_close(struct json *j);
/* json_key - the key of the next value inside an object. */
void json_key(struct json *j, const char *key);
void json_str(struct json *j, const char *s); /* NULL writes null */
void json_int(struct json *j, long long v);
void json_bool(struct json *j, bool v);
void json_null(struct json *j);
void json_double(struct json *j, double v);

/* json_escape - append s as a quoted JSON string to out. */
void json_escape(GString *out, const char *s);

#endif
