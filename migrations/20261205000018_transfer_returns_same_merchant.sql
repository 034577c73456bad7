-- A key tying transfer_returns to the same merchant (see 20261205000017): one table at a time,
-- giving up after 5 s rather than queue the API behind a long transaction.
SET LOCAL lock_timeout = '5s';
ALTER TABLE transfer_returns
    ADD CONSTRAINT transfer_returns_transfer_same_merchant FOREIGN KEY (merchant_id, transfer_id)
        REFERENCES transfers (merchant_id, id) NOT VALID;
