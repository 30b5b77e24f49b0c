/*
 * merge.c - pure rules of a ticket merge.  See merge.h.
 */
#include "merge.h"

const char *
merge_refusal(const struct merge_side *from, const struct merge_side *into,
              char *buf, size_t size)
{
	if (from->id <= 0 || into->id <= 0)
		g_snprintf(buf, size, "ticket numbers must be positive");
	else if (from->id == into->id)
		g_snprintf(buf, size,
		           "ticket %" G_GINT64_FORMAT
		           " cannot be merged into itself",
		           from->id);
	else if (!from->exists)
		g_snprintf(buf, size, "no ticket %" G_GINT64_FORMAT, from->id);
	else if (!into->exists)
		g_snprintf(buf, size, "no ticket %" G_GINT64_FORMAT, into->id);
	else if (from->merged_into > 0)
		g_snprintf(buf, size,
		           "ticket %" G_GINT64_FORMAT
		           " was already merged into %" G_GINT64_FORMAT,
		           from->id, from->merged_into);
	else if (into->merged_into == from->id)
		g_snprintf(buf, size,
		           "ticket %" G_GINT64_FORMAT
		           " was merged into %" G_GINT64_FORMAT
		           "; merging back would make a loop",
		           into->id, from->id);
	else if (into->merged_into > 0)
		g_snprintf(buf, size,
		           "ticket %" G_GINT64_FORMAT
		           " was merged into %" G_GINT64_FORMAT
		           "; merge into %" G_GINT64_FORMAT
		           " instead (no chains)",
		           into->id, into->merged_into, into->merged_into);
	else
		return NULL;
	return buf;
}
