-- A batch item is revised under the worker's feet: each PATCH bumps its version, and the
-- worker records an outcome only for the version it processed (a stale one leaves the
-- item pending for the next pass). A charge sits in at most one batch.
ALTER TABLE lote_cobv_items ADD COLUMN version integer NOT NULL DEFAULT 0 CHECK (version >= 0);
CREATE UNIQUE INDEX lote_cobv_items_one_batch_per_charge ON lote_cobv_items (merchant_id, txid);
