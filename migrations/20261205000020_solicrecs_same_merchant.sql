-- A key tying solicrecs to the same merchant (see 20261205000017): one table at a time,
-- giving up after 5 s rather than queue the API behind a long transaction.
SET LOCAL lock_timeout = '5s';
ALTER TABLE solicrecs
    ADD CONSTRAINT solicrecs_recurrence_same_merchant FOREIGN KEY (merchant_id, recurrence_id)
        REFERENCES recurrences (merchant_id, id) NOT VALID;
