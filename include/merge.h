/*
 * merge.h - pure rules of a ticket merge (`tickctl merge A B`, an agent's
 * "#merge B"): which merges are refused and the words that say why.  No
 * I/O: store_merge.c reads the two tickets (locked) and asks here before
 * it moves anything.
 *
 * A merged ticket stays a number that points at its survivor: subject
 * tags, signed tokens and references naming it thread to the survivor.
 * Every alias is one hop (a survivor is never itself merged), so a
 * look-up never walks a chain: merging into a merged ticket, or merging a
 * ticket twice, is refused; a survivor that is merged later takes its own
 * aliases with it (store_merge re-points them), so no chain forms.
 */
#ifndef TICKD_MERGE_H
#define TICKD_MERGE_H

#include "common.h"

#include <glib.h>

/* One side of a merge as the store read it. */
struct merge_side {
	gint64 id;          /* the ticket number asked for */
	bool exists;        /* a ticket row with that number */
	gint64 merged_into; /* its survivor when already merged, else 0 */
};

/*
 * merge_refusal - NULL when `from` may be merged into `into`, else why
 * not, written into buf (size bytes, NUL-terminated) and returned: a
 * sentence for the person who asked, naming the tickets.
 */
const char *merge_refusal(const struct merge_side *from,
                          const struct merge_side *into, char *buf,
                          size_t size);

#endif
