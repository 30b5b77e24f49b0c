/* Unit tests for store_keep.c's one pure question: does a statement name a
 * table whose rows a batch keeps (then those rows are written before it
 * runs)?  A miss would let a statement read a batch's rows before they
 * exist; a false hit only costs an early write. */
#include "../../src/store_int.h"

#include "test.h"

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
}

static void
test_store_keep_reads_others(void)
{
	/* what a new ticket runs besides them: no early write */
	TEST_CHECK(!store_keep_reads("INSERT INTO message (ticket_id, "
	                             "dedupe_key, message_id) VALUES ($1)"));
	TEST_CHECK(!store_keep_reads("INSERT INTO ticket (queue, subject) "
	                             "VALUES ($1, $2) RETURNING id"));
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
	};

	return test_run("store_keep", cases, ARRAY_SIZE(cases));
}
