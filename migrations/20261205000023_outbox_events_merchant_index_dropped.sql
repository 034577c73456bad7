-- no-transaction
-- outbox_events_merchant (merchant_id, id) is read by no query since the event feed reads
-- outbox_events_feed (migration 20261205000008), and every event written (one per credit)
-- paid for it. Dropped CONCURRENTLY: writes go on meanwhile.
DROP INDEX CONCURRENTLY IF EXISTS outbox_events_merchant;
