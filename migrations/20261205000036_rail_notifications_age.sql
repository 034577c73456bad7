-- no-transaction
-- Rail notification claims by age, for the history's pruning (20261205000037). Built
-- CONCURRENTLY; a failed build leaves an invalid index: drop it and deploy again.
CREATE INDEX CONCURRENTLY IF NOT EXISTS rail_notifications_age ON rail_notifications (received_at);
