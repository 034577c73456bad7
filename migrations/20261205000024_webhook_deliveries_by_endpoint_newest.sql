-- no-transaction
-- GET /webhooks/{id}/entregas lists an endpoint's newest deliveries: with only
-- (endpoint_id, status) it read and sorted every delivery the endpoint ever had. Built
-- CONCURRENTLY; a failed build leaves an invalid index: drop it and deploy again.
CREATE INDEX CONCURRENTLY IF NOT EXISTS webhook_deliveries_endpoint_newest
    ON webhook_deliveries (endpoint_id, created_at DESC, id);
