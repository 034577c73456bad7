-- Idempotency records for the local (Postgres) store; AWS keeps the same records in
-- DynamoDB. `expires_at` is the in-progress lock while `response_status` is NULL, then
-- the end of the 24 h retention. Expiry is checked by the queries, not by a cleaner.

CREATE TABLE idempotency_records (
    merchant_id       uuid NOT NULL,
    idempotency_key   text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    request_hash      bytea NOT NULL CHECK (length(request_hash) = 32),
    response_status   smallint,
    response_headers  jsonb,
    response_body     bytea,
    expires_at        timestamptz NOT NULL,
    PRIMARY KEY (merchant_id, idempotency_key)
);
CREATE INDEX idempotency_records_expiry ON idempotency_records (expires_at);
