-- Merchants, their hashed API keys and the Pix keys registered to their accounts.

CREATE TABLE merchants (
    id          uuid PRIMARY KEY,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    city        text NOT NULL CHECK (length(city) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Only the SHA-256 of a key is kept; the key itself is shown once at creation.
CREATE TABLE api_keys (
    hash         bytea PRIMARY KEY CHECK (length(hash) = 32),
    merchant_id  uuid NOT NULL REFERENCES merchants (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);
CREATE INDEX api_keys_merchant ON api_keys (merchant_id);

-- A Pix key (DICT "chave") points at exactly one account.
CREATE TABLE merchant_pix_keys (
    chave        text PRIMARY KEY CHECK (length(chave) BETWEEN 1 AND 77),
    merchant_id  uuid NOT NULL REFERENCES merchants (id),
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX merchant_pix_keys_merchant ON merchant_pix_keys (merchant_id);
