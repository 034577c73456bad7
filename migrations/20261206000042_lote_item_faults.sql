-- A batch item the worker cannot process for a fault (the store, the cipher; not a refusal,
-- which ends it NEGADA) waits before its next try, longer after each (`retry_at`), and ends
-- NEGADA after `faults` reaches the worker's limit: before, it was taken again on every
-- pass, and a hundred such items, the oldest, held up every batch behind them for ever.
-- Both reset when a new request for the item arrives. (Constant defaults: no rewrite.)
SET LOCAL lock_timeout = '5s';
ALTER TABLE lote_cobv_items
    ADD COLUMN faults integer NOT NULL DEFAULT 0 CHECK (faults >= 0),
    ADD COLUMN retry_at timestamptz;
