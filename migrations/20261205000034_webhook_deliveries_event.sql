-- no-transaction
-- webhook_deliveries by event: deleting an old event checks that no delivery references it
-- (the foreign key), which without this index read every delivery. Built CONCURRENTLY; a
-- failed build leaves an invalid index: drop it and deploy again.
CREATE INDEX CONCURRENTLY IF NOT EXISTS webhook_deliveries_event ON webhook_deliveries (event_id);
