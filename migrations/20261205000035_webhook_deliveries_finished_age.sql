-- no-transaction
-- Finished deliveries by age, for the history's pruning (20261205000037). Built
-- CONCURRENTLY; a failed build leaves an invalid index: drop it and deploy again.
CREATE INDEX CONCURRENTLY IF NOT EXISTS webhook_deliveries_finished_age
    ON webhook_deliveries (created_at) WHERE status <> 'PENDENTE';
