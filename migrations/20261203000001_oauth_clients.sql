-- OAuth2 clients (client credentials grant, RFC 6749 §4.4): each acts for one merchant
-- with a set of scopes. Only the SHA-256 of a secret is kept (the secret is shown once);
-- after a rotation the previous secret stays valid until previous_valid_until.
CREATE TABLE oauth_clients (
    id                    text PRIMARY KEY CHECK (id ~ '^cli_[A-Za-z0-9]{22}$'),
    merchant_id           uuid NOT NULL REFERENCES merchants (id),
    name                  text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    scopes                text[] NOT NULL CHECK (scopes <@ ARRAY[
        'cob.read', 'cob.write', 'pix.read', 'pix.write', 'webhook.read', 'webhook.write',
        'payloadlocation.read', 'payloadlocation.write', 'envio.read', 'envio.write',
        'saldo.read', 'extrato.read', 'dict.read', 'eventos.read', 'webhooks.read',
        'webhooks.write']::text[]),
    secret_hash           bytea NOT NULL CHECK (length(secret_hash) = 32),
    previous_secret_hash  bytea CHECK (length(previous_secret_hash) = 32),
    previous_valid_until  timestamptz,
    created_at            timestamptz NOT NULL DEFAULT now(),
    revoked_at            timestamptz,
    CHECK ((previous_secret_hash IS NULL) = (previous_valid_until IS NULL))
);
CREATE INDEX oauth_clients_merchant ON oauth_clients (merchant_id);
-- Every function reads the recently revoked clients every few seconds.
CREATE INDEX oauth_clients_revoked ON oauth_clients (revoked_at) WHERE revoked_at IS NOT NULL;

-- A revoked client stays revoked, and a client is never deleted: functions refuse the
-- still-unexpired tokens of the clients they find revoked, so a deleted row would
-- silently revive them.
CREATE FUNCTION oauth_clients_stay_revoked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.revoked_at IS NOT NULL AND NEW.revoked_at IS DISTINCT FROM OLD.revoked_at THEN
        RAISE EXCEPTION 'a revoked OAuth client stays revoked' USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.id <> OLD.id OR NEW.merchant_id <> OLD.merchant_id THEN
        RAISE EXCEPTION 'an OAuth client keeps its id and merchant' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER oauth_clients_stay_revoked BEFORE UPDATE ON oauth_clients
    FOR EACH ROW EXECUTE FUNCTION oauth_clients_stay_revoked();
REVOKE DELETE, TRUNCATE ON oauth_clients FROM tucano_app;
