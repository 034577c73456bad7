-- The one-txid-space trigger (20261204000001) names what it enforces, as a unique
-- constraint would: the store tells "a charge of another kind has this txid" (a 400 for
-- the client, a denied item for a batch) from a fault (a 500, retried for ever by the
-- batch worker) by this name. Behaviour is otherwise unchanged.

CREATE OR REPLACE FUNCTION txid_free_elsewhere() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext(NEW.merchant_id::text || '/' || NEW.txid));
    IF TG_TABLE_NAME = 'charges' AND EXISTS (
           SELECT 1 FROM recurring_charges WHERE merchant_id = NEW.merchant_id AND txid = NEW.txid)
       OR TG_TABLE_NAME = 'recurring_charges' AND EXISTS (
           SELECT 1 FROM charges WHERE merchant_id = NEW.merchant_id AND txid = NEW.txid) THEN
        RAISE EXCEPTION 'txid % is already used by another charge', NEW.txid
            USING ERRCODE = 'unique_violation', CONSTRAINT = 'txid_free_elsewhere';
    END IF;
    RETURN NEW;
END $$;
