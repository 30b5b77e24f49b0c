/*
 * json.c - minimal streaming JSON writer.  See json.h.
 */
#include "json.h"

#include <math.h>

void
json_init(struct json *j, GString *out, bool pretty)
{
	j->out = out;
	j->need_comma = false;
	j->key_pending = false;
	j->depth = 0;
	j->pretty = pretty;
}

static void
json_newline(struct json *j)
{
	if (!j->pretty)
		return;
	g_string_append_c(j->out, '\n');
	for (int i = 0; i < j->depth; i++)
		g_string_append(j->out, "  ");
}

/* json_before_value - comma and indentation before a value or a key. */
static void
json_before_value(struct json *j)
{
	if (j->need_comma)
		g_string_append_c(j->out, ',');
	if (j->depth > 0)
		json_newline(j);
}

void
json_escape(GString *out, const char *s)
{
	g_string_append_c(out, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			g_string_append(out, "\\\"");
			break;
		case '\\':
			g_string_append(out, "\\\\");
			break;
		case '\n':
			g_string_append(out, "\\n");
			break;
		case '\r':
			g_string_append(out, "\\r");
			break;
		case '\t':
			g_string_append(out, "\\t");
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				g_string_append_printf(out, "\\u%04x", *p);
			else
				g_string_append_c(out, (char)*p);
		}
	}
	g_string_append_c(out, '"');
}

/* json_value_start - handles the pending-key marker set by json_key. */
static void
json_value_start(struct json *j)
{
	if (j->key_pending) {
		j->key_pending = false;
		return;
	}
	json_before_value(j);
}

void
json_obj_open(struct json *j)
{
	json_value_start(j);
	g_string_append_c(j->out, '{');
	j->depth++;
	j->need_comma = false;
}

void
json_obj_close(struct json *j)
{
	j->depth--;
	if (j->need_comma)
		json_newline(j);
	g_string_append_c(j->out, '}');
	j->need_comma = true;
}

void
json_arr_open(struct json *j)
{
	json_value_start(j);
	g_string_append_c(j->out, '[');
	j->depth++;
	j->need_comma = false;
}

void
json_arr_close(struct json *j)
{
	json_obj_close(j);
	/* obj_close appended '}'; arrays end in ']' */
	j->out->str[j->out->len - 1] = ']';
}

void
json_key(struct json *j, const char *key)
{
	json_before_value(j);
	json_escape(j->out, key);
	g_string_append(j->out, j->pretty ? ": " : ":");
	/* The value that follows must not get its own comma. */
	j->key_pending = true;
}

void
json_str(struct json *j, const char *s)
{
	json_value_start(j);
	if (s == NULL)
		g_string_append(j->out, "null");
	else
		json_escape(j->out, s);
	j->need_comma = true;
}

void
json_int(struct json *j, long long v)
{
	json_value_start(j);
	g_string_append_printf(j->out, "%lld", v);
	j->need_comma = true;
}

void
json_double(struct json *j, double v)
{
	json_value_start(j);
	if (isfinite(v))
		g_string_append_printf(j->out, "%.3f", v);
	else
		g_string_append(j->out, "null");
	j->need_comma = true;
}

void
json_bool(struct json *j, bool v)
{
	json_value_start(j);
	g_string_append(j->out, v ? "true" : "false");
	j->need_comma = true;
}

void
json_null(struct json *j)
{
	json_value_start(j);
	g_string_append(j->out, "null");
	j->need_comma = true;
}
