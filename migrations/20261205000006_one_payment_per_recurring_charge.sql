-- no-transaction
-- A recurring charge is concluded by one received Pix, as an immediate or due charge is
-- (received_pix_one_per_charge). Built CONCURRENTLY (outside a transaction, hence the
-- marker above): received Pix keep being booked while it builds. If a build fails it
-- leaves an invalid index: drop it and deploy again.
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS received_pix_one_per_recurring_charge
    ON received_pix (recurring_charge_id) WHERE alerta IS NULL AND recurring_charge_id IS NOT NULL;
