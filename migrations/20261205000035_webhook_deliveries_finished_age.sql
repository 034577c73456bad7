-- no-transaction
-- Deliveries that will not be attempted again (finished, or parked for an endpoint turned off
-- or deleted) by age, for the history's pruning (20261205000037). Built CONCURRENTLY; a
-- failed build leaves an invalid index: drop it and deploy again.
CREATE INDEX CONCURRENTLY IF NOT EXISTS webhook_deliveries_finished_age
    ON webhook_deliveries (created_at) WHERE status <> 'PENDENTE' OR next_attempt_at = 'infinity';
