-- Webhooks to merchants: endpoints (Bacen /webhook/{chave} and signed event webhooks),
-- deliveries fanned out from the event outbox, and every delivery attempt.

ALTER TABLE outbox_events ADD COLUMN fanned_out_at timestamptz;
-- Rows from before this migration had no endpoint to go to.
UPDATE outbox_events SET fanned_out_at = created_at;
CREATE INDEX outbox_events_unfanned ON outbox_events (id) WHERE fanned_out_at IS NULL;

CREATE TABLE webhook_endpoints (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    merchant_id          uuid NOT NULL REFERENCES merchants (id),
    -- BACEN: the API Pix callback for one receiving key; EVENTOS: signed event webhooks.
    kind                 text NOT NULL CHECK (kind IN ('BACEN', 'EVENTOS')),
    chave                text CHECK (length(chave) BETWEEN 1 AND 77),
    url                  text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    tipos                text[] NOT NULL DEFAULT '{}',
    -- The signing secret, encrypted through the Cipher port (purpose webhook-secret).
    secret_enc           bytea NOT NULL,
    -- After a rotation the previous secret keeps signing until previous_valid_until.
    previous_secret_enc  bytea,
    previous_valid_until timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    -- Set when the receiver answered 410 Gone; deliveries wait until it is re-enabled.
    disabled_at          timestamptz,
    disabled_reason      text CHECK (length(disabled_reason) <= 200),
    deleted_at           timestamptz,
    CHECK ((kind = 'BACEN') = (chave IS NOT NULL)),
    CHECK ((previous_secret_enc IS NULL) = (previous_valid_until IS NULL))
);
CREATE UNIQUE INDEX webhook_endpoints_bacen_key ON webhook_endpoints (merchant_id, chave)
    WHERE kind = 'BACEN' AND deleted_at IS NULL;
CREATE INDEX webhook_endpoints_merchant ON webhook_endpoints (merchant_id, created_at) WHERE deleted_at IS NULL;

CREATE TABLE webhook_deliveries (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    endpoint_id      uuid NOT NULL REFERENCES webhook_endpoints (id),
    event_id         bigint NOT NULL REFERENCES outbox_events (id),
    -- PENDENTE until acknowledged (ENTREGUE) or out of attempts (FALHOU, replayable).
    status           text NOT NULL DEFAULT 'PENDENTE' CHECK (status IN ('PENDENTE', 'ENTREGUE', 'FALHOU')),
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    -- A dispatcher holds a delivery until this time; if it dies, another takes over after it.
    locked_until     timestamptz,
    delivered_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (endpoint_id, event_id),
    CHECK ((status = 'ENTREGUE') = (delivered_at IS NOT NULL))
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'PENDENTE';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, status);

CREATE TABLE webhook_attempts (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id  uuid NOT NULL REFERENCES webhook_deliveries (id),
    number       integer NOT NULL CHECK (number >= 1),
    started_at   timestamptz NOT NULL,
    -- NULL when no HTTP answer came (refused, timed out, blocked address).
    status_code  integer CHECK (status_code BETWEEN 100 AND 599),
    latency_ms   integer NOT NULL CHECK (latency_ms >= 0),
    error        text CHECK (length(error) <= 300),
    -- The first bytes of the receiver's answer, never more.
    excerpt      text CHECK (length(excerpt) <= 256),
    UNIQUE (delivery_id, number)
);
