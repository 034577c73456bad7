-- Batches of charges with a due date (Bacen `/lotecobv`): a merchant submits up to 1,000
-- charges at once under a batch id of its choosing; each is created (CRIADA) or refused on
-- its own (NEGADA, with its problem) by a worker, never inside the request that submitted
-- them (API Gateway stops a request at 29 s). Each item's request is kept sealed until it
-- is processed (it carries the devedor's document and contact), then dropped.
CREATE TABLE lotes_cobv (
    merchant_id  uuid NOT NULL REFERENCES merchants (id),
    id           bigint NOT NULL CHECK (id > 0),
    descricao    text NOT NULL CHECK (length(descricao) BETWEEN 1 AND 140),
    request_hash bytea NOT NULL CHECK (length(request_hash) = 32),
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, id)
);
CREATE INDEX lotes_cobv_created ON lotes_cobv (merchant_id, created_at, id);

CREATE TABLE lote_cobv_items (
    merchant_id  uuid NOT NULL,
    lote_id      bigint NOT NULL,
    txid         text NOT NULL CHECK (txid ~ '^[a-zA-Z0-9]{26,35}$'),
    position     integer NOT NULL CHECK (position >= 0),
    -- What to do with the charge: create it (PUT) or revise it (PATCH).
    operation    text NOT NULL CHECK (operation IN ('create', 'revise')),
    status       text NOT NULL DEFAULT 'EM_PROCESSAMENTO' CHECK (status IN ('EM_PROCESSAMENTO', 'CRIADA', 'NEGADA')),
    request_enc  bytea,
    problema     jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, lote_id, txid),
    FOREIGN KEY (merchant_id, lote_id) REFERENCES lotes_cobv (merchant_id, id),
    CHECK ((status = 'EM_PROCESSAMENTO') = (request_enc IS NOT NULL)),
    CHECK ((status = 'NEGADA') = (problema IS NOT NULL))
);
-- The worker takes the oldest pending items first.
CREATE INDEX lote_cobv_items_pending ON lote_cobv_items (created_at, merchant_id, lote_id, position)
    WHERE status = 'EM_PROCESSAMENTO';

-- Their scopes (Bacen `lotecobv.read`, `lotecobv.write`) join those a client may hold.
ALTER TABLE oauth_clients DROP CONSTRAINT oauth_clients_scopes_check;
ALTER TABLE oauth_clients ADD CONSTRAINT oauth_clients_scopes_check CHECK (scopes <@ ARRAY[
    'cob.read', 'cob.write', 'pix.read', 'pix.write', 'webhook.read', 'webhook.write',
    'payloadlocation.read', 'payloadlocation.write', 'envio.read', 'envio.write',
    'saldo.read', 'extrato.read', 'dict.read', 'eventos.read', 'webhooks.read',
    'webhooks.write', 'cobv.read', 'cobv.write', 'lotecobv.read', 'lotecobv.write']::text[]);
