-- The batch (`/lotecobv`) that made a charge with a due date, if one did: a PUT of the batch
-- correcting a creation still pending may land after the worker made the charge from the
-- request it corrects and before it recorded that; the worker then makes its own charge what
-- the correction says, where one made outside the batch (the merchant's own PUT racing the
-- batch) is refused. Set once, at creation. The foreign key is checked for new rows at
-- once and validated for the others in 20261206000041; giving up after 5 s on the lock.
--
-- Not backfilled (an UPDATE of every batch's charge would hold this table's lock through
-- it), and code deployed before this migration may still make charges without it for a
-- while: a charge without a batch counts as made by the batch item holding its txid when
-- that item says so, as it did before (created, or revised since), `made_by_batch`.
SET LOCAL lock_timeout = '5s';
ALTER TABLE charges
    ADD COLUMN lote_id bigint,
    ADD CONSTRAINT charges_lote_fkey FOREIGN KEY (merchant_id, lote_id) REFERENCES lotes_cobv (merchant_id, id) NOT VALID;

CREATE FUNCTION charges_lote_fixed() RETURNS trigger LANGUAGE plpgsql
    SET search_path = public, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'the batch that made a charge never changes' USING ERRCODE = 'check_violation';
END $$;

CREATE TRIGGER charges_lote_fixed BEFORE UPDATE OF lote_id ON charges
    FOR EACH ROW WHEN (NEW.lote_id IS DISTINCT FROM OLD.lote_id) EXECUTE FUNCTION charges_lote_fixed();

-- Whether a charge whose batch is `charge_lote` was made by the batch item `item` holding
-- its txid (a txid is in at most one batch). Plain SQL, inlined where it is used.
CREATE FUNCTION made_by_batch(charge_lote bigint, item lote_cobv_items) RETURNS boolean
    LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(charge_lote = item.lote_id, item.status = 'CRIADA' OR item.operation <> 'create')
$$;
