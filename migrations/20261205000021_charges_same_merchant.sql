-- A key tying charges to the same merchant (see 20261205000017): one table at a time,
-- giving up after 5 s rather than queue the API behind a long transaction.
SET LOCAL lock_timeout = '5s';
ALTER TABLE charges
    ADD CONSTRAINT charges_location_same_merchant FOREIGN KEY (merchant_id, loc_id)
        REFERENCES locations (merchant_id, id) NOT VALID;
