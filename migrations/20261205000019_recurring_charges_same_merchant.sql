-- A key tying recurring_charges to the same merchant (see 20261205000017): one table at a time,
-- giving up after 5 s rather than queue the API behind a long transaction.
SET LOCAL lock_timeout = '5s';
ALTER TABLE recurring_charges
    ADD CONSTRAINT recurring_charges_recurrence_same_merchant FOREIGN KEY (merchant_id, recurrence_id)
        REFERENCES recurrences (merchant_id, id) NOT VALID;
