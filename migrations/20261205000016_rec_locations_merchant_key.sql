-- no-transaction
-- (merchant_id, id) of rec_locations, unique, for the foreign keys that tie a row naming one of
-- them to the same merchant (migration 20261205000017). Built CONCURRENTLY, one index per
-- migration (a migration outside a transaction still runs as one implicit transaction if
-- it holds several statements): writes go on while it builds. A failed build leaves an
-- invalid index: drop it and deploy again.
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS rec_locations_merchant_key ON rec_locations (merchant_id, id);
