-- no-transaction
-- The recurrences sweep expires, every minute, recurrences still waiting (CRIADA or
-- APROVADA) past their final date: without an index it read every recurrence ever made.
-- Built CONCURRENTLY; a failed build leaves an invalid index: drop it and deploy again.
CREATE INDEX CONCURRENTLY IF NOT EXISTS recurrences_expiring
    ON recurrences (data_final) WHERE status IN ('CRIADA', 'APROVADA');
