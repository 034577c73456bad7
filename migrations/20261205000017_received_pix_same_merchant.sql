-- A row that names another merchant-owned row names one of its own merchant's: a received
-- Pix its charge or recurring charge, a return its transfer, a recurrence's charge or
-- solicitation its recurrence, a charge or recurrence its location. The API never mixes
-- merchants; from now on the database refuses it too (the single-column keys stay and
-- still cover a Pix to a key that is not ours, whose merchant is unknown). Refunds are
-- tied to their Pix's merchant by refunds_guard: the unique (merchant_id, id) index on
-- received_pix that a key would need costs every credit.
--
-- One table per migration (20261205000017 to 22): adding a key locks its table and the
-- one it references against writes, briefly (NOT VALID: no scan; validated without
-- blocking writes in 20261205000030); one pair at a time, each giving up after 5 s
-- rather than queue the API behind a long transaction (the deploy then fails: deploy
-- again).

-- The indexes built concurrently before (the unique ones of 20261205000011 to 16, the event
-- feed's of 20261205000008, which 20261205000023 relies on) must be valid: a build that
-- failed leaves an invalid one, which IF NOT EXISTS then kept. The check is a function
-- for the migrations that build indexes concurrently after this one.
CREATE FUNCTION assert_indexes_valid() RETURNS void LANGUAGE plpgsql SET search_path = public AS $$
DECLARE
    invalid text;
BEGIN
    SELECT string_agg(c.relname, ', ') INTO invalid
      FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
     WHERE c.relnamespace = 'public'::regnamespace AND NOT i.indisvalid;
    IF invalid IS NOT NULL THEN
        RAISE EXCEPTION 'invalid indexes (a concurrent build failed): %; drop them and deploy again', invalid;
    END IF;
END $$;
SELECT assert_indexes_valid();

SET LOCAL lock_timeout = '5s';
ALTER TABLE received_pix
    ADD CONSTRAINT received_pix_charge_same_merchant FOREIGN KEY (merchant_id, charge_id)
        REFERENCES charges (merchant_id, id) NOT VALID,
    ADD CONSTRAINT received_pix_recurring_charge_same_merchant FOREIGN KEY (merchant_id, recurring_charge_id)
        REFERENCES recurring_charges (merchant_id, id) NOT VALID;
