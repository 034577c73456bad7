-- Keys of the platform itself, kept wrapped (encrypted under a KMS key): today the
-- blind-index key, made on the first deploy by the migrations function.
CREATE TABLE platform_keys (
    name        text PRIMARY KEY CHECK (name IN ('blind-index')),
    wrapped     bytea NOT NULL CHECK (length(wrapped) BETWEEN 32 AND 1024),
    created_at  timestamptz NOT NULL DEFAULT now()
);
