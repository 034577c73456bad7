-- Payload locations of recurrences (`/locrec`): the URL a Pix Automático QR code points
-- at (journeys 2 to 4), serving the recurrence it is linked to as a signed `RecPayload`.
CREATE TABLE rec_locations (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id  uuid NOT NULL REFERENCES merchants (id),
    token        text NOT NULL UNIQUE CHECK (token ~ '^[0-9a-f]{32}$'),
    location     text NOT NULL CHECK (length(location) <= 77),
    created_at   timestamptz NOT NULL
);
CREATE INDEX rec_locations_merchant_created ON rec_locations (merchant_id, created_at, id);

-- A recurrence's location (one recurrence per location), and the charge whose payment
-- activates it (journey 3: `ativacao.dadosJornada.txid`).
ALTER TABLE recurrences
    ADD COLUMN loc_id bigint UNIQUE REFERENCES rec_locations (id),
    ADD COLUMN jornada_txid text CHECK (jornada_txid ~ '^[a-zA-Z0-9]{26,35}$');

-- Their scopes join those a client may hold.
ALTER TABLE oauth_clients DROP CONSTRAINT oauth_clients_scopes_check;
ALTER TABLE oauth_clients ADD CONSTRAINT oauth_clients_scopes_check CHECK (scopes <@ ARRAY[
    'cob.read', 'cob.write', 'pix.read', 'pix.write', 'webhook.read', 'webhook.write',
    'payloadlocation.read', 'payloadlocation.write', 'envio.read', 'envio.write',
    'saldo.read', 'extrato.read', 'dict.read', 'eventos.read', 'webhooks.read',
    'webhooks.write', 'cobv.read', 'cobv.write', 'lotecobv.read', 'lotecobv.write',
    'rec.read', 'rec.write', 'solicrec.read', 'solicrec.write', 'cobr.read', 'cobr.write',
    'webhookrec.read', 'webhookrec.write', 'webhookcobr.read', 'webhookcobr.write',
    'payloadlocationrec.read', 'payloadlocationrec.write']::text[]);
