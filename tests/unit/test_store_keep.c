/* Unit tests for store_keep.c's one pure question: does a statement name a
 * table whose rows a batch keeps (then those rows are written before it
 * runs)?  A miss would let a statement read a batch's rows before they
 * exist; a false hit only costs an early write. */
#include "../../src/store_int.h"

#include "test.h"

#include <string.h>

static void
test_store_keep_reads_tables(void)
{
	/* readers and writers of the kept tables, as the store files say */
	TEST_CHECK(store_keep_reads("SELECT 1 FROM participant WHERE "
	                            "ticket_id = $1 AND lower(addr) = $2"));
	TEST_CHECK(store_keep_reads("UPDATE event SET message_id = $2"));
	TEST_CHECK(store_keep_reads("SELECT e.at FROM event e JOIN ticket t"));
	TEST_CHECK(store_keep_reads("ts_rank_cd(s.doc, q.q) FROM "
	                            "message_search s JOIN q ON"));
	TEST_CHECK(store_keep_reads("SELECT tickd_merge($1, $2, $3)"));
	TEST_CHECK(store_keep_reads("INSERT INTO event(ticket_id) VALUES (1)"));
	TEST_CHECK(store_keep_reads("event"));
	TEST_CHECK(store_keep_reads("(participant)"));
	/* the kept table named decides which rows are written first */
	TEST_CHECK(store_keep_reads("UPDATE event SET message_id = $2") ==
	           1u << STORE_KEEP_EVENT);
	TEST_CHECK(store_keep_reads("SELECT e.at FROM event e JOIN ticket t") ==
	           (1u << STORE_KEEP_EVENT | 1u << STORE_KEEP_TOUCH));
	TEST_CHECK(store_keep_reads("SELECT tickd_merge($1, $2, $3)") ==
	           (1u << STORE_KEEP_N) - 1);
}

static void
test_store_keep_reads_touch(void)
{
	/* a kept touch: the ticket and what its triggers write */
	TEST_CHECK(store_keep_reads("UPDATE ticket SET status = $2 WHERE "
	                            "id = $1") == 1u << STORE_KEEP_TOUCH);
	TEST_CHECK(store_keep_reads("SELECT next_check FROM sla_clock") ==
	           1u << STORE_KEEP_TOUCH);
	TEST_CHECK(store_keep_reads("DELETE FROM sla_change WHERE id = 1") ==
	           1u << STORE_KEEP_TOUCH);
	TEST_CHECK(store_keep_reads("SELECT ticket_id FROM report_stale") ==
	           1u << STORE_KEEP_TOUCH);
	/* not a word inside another */
	TEST_CHECK(store_keep_reads("SELECT ticket_id, tickets FROM message "
	                            "JOIN ticket_response r") == 0);
	/* blind: only the statement that opens with the mark, and only
	 * for the touch */
	TEST_CHECK(store_keep_reads(STORE_TOUCH_BLIND
	                            "SELECT " STORE_TICKET_COLUMNS
	                            " FROM ticket t WHERE t.id = $1") == 0);
	TEST_CHECK(store_keep_reads(STORE_TOUCH_BLIND
	                            "INSERT INTO ticket (queue) VALUES ($1) "
	                            "RETURNING id") == 0);
	TEST_CHECK(store_keep_reads(STORE_TOUCH_BLIND
	                            "SELECT 1 FROM event JOIN ticket") ==
	           1u << STORE_KEEP_EVENT);
	TEST_CHECK(store_keep_reads("SELECT 1 " STORE_TOUCH_BLIND
	                            "FROM ticket") == 1u << STORE_KEEP_TOUCH);
	/* what the blind statements read is none of what a touch writes */
	TEST_CHECK(strstr(STORE_TICKET_COLUMNS, "updated") == NULL);
	TEST_CHECK(strstr(STORE_TICKET_COLUMNS, "last_customer_at") == NULL);
	TEST_CHECK(strstr(STORE_TICKET_COLUMNS, "live_since") == NULL);
}

static void
test_store_keep_reads_others(void)
{
	/* what a new ticket runs besides them: no early write */
	TEST_CHECK(!store_keep_reads("INSERT INTO message (ticket_id, "
	                             "dedupe_key, message_id) VALUES ($1)"));
	TEST_CHECK(store_keep_reads("INSERT INTO ticket (queue, subject) "
	                            "VALUES ($1, $2) RETURNING id") ==
	           1u << STORE_KEEP_TOUCH);
	TEST_CHECK(!store_keep_reads("SELECT COALESCE(ticket_id, 0) FROM "
	                             "message WHERE dedupe_key = $1"));
	TEST_CHECK(!store_keep_reads("INSERT INTO outbox (ticket_id, kind) "
	                             "VALUES ($1, $2)"));
	/* a word inside another is not the table */
	TEST_CHECK(!store_keep_reads("SELECT prevent, events, event_id, "
	                             "participants, message_searches"));
	TEST_CHECK(!store_keep_reads("SELECT eventual FROM x_event"));
	TEST_CHECK(!store_keep_reads("SELECT tickd_merged FROM t"));
	TEST_CHECK(!store_keep_reads(""));
}

int
main(void)
{
	static const struct test_case cases[] = {
	    {"kept tables named", test_store_keep_reads_tables},
	    {"other statements", test_store_keep_reads_others},
	    {"a kept touch", test_store_keep_reads_touch},
	};

	return test_run("store_keep", cases, ARRAY_SIZE(cases));
}
