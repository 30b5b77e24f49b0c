-- 031_ticket_fillfactor: room on each page of ticket for its next version.
--
-- Every mail on a ticket rewrites its row (updated, last_customer_at or
-- last_agent_at, first_response_at; no index names them).  With full pages
-- the new version goes to another page and each of the table's 13 indexes
-- gets an entry for it; with room on the same page the update is HOT: no
-- index entry at all.  pgbench, 50 such UPDATEs (with their triggers) a
-- transaction on 4,000 tickets: 13.6 and 12.9 ms at fillfactor 100, 12.5
-- and 11.0 ms at 70.  New pages only: the rows there stay where they are.
ALTER TABLE ticket SET (fillfactor = 70);
