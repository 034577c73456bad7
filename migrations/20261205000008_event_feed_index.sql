-- no-transaction
-- The feed's order (migration 20261205000007), per merchant. Built CONCURRENTLY (outside a
-- transaction, hence the marker above): events keep being written while it builds. If a
-- build fails it leaves an invalid index: drop it and deploy again.
CREATE INDEX CONCURRENTLY IF NOT EXISTS outbox_events_feed
    ON outbox_events (merchant_id, (coalesce(writer, 0)), id);
