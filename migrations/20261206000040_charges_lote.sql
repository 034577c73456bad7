-- The batch (`/lotecobv`) that made a charge with a due date, if one did: a PUT of the batch
-- correcting a creation still pending may land after the worker made the charge from the
-- request it corrects and before it recorded that; the worker then makes its own charge what
-- the correction says, where one made outside the batch (the merchant's own PUT racing the
-- batch) is refused. Set once, at creation. The foreign key is checked for new rows at
-- once and validated for the others in 20261206000041; giving up after 5 s on the lock.
SET LOCAL lock_timeout = '5s';
ALTER TABLE charges
    ADD COLUMN lote_id bigint,
    ADD CONSTRAINT charges_lote_fkey FOREIGN KEY (merchant_id, lote_id) REFERENCES lotes_cobv (merchant_id, id) NOT VALID;

-- Charges batches made before: those of items their batch created (or revised since).
UPDATE charges c SET lote_id = i.lote_id
  FROM lote_cobv_items i
 WHERE i.merchant_id = c.merchant_id AND i.txid = c.txid AND c.kind = 'cobv'
   AND (i.status = 'CRIADA' OR i.operation <> 'create');

CREATE FUNCTION charges_lote_fixed() RETURNS trigger LANGUAGE plpgsql
    SET search_path = public, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'the batch that made a charge never changes' USING ERRCODE = 'check_violation';
END $$;

CREATE TRIGGER charges_lote_fixed BEFORE UPDATE OF lote_id ON charges
    FOR EACH ROW WHEN (NEW.lote_id IS DISTINCT FROM OLD.lote_id) EXECUTE FUNCTION charges_lote_fixed();
