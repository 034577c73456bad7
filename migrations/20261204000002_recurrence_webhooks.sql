-- Bacen's Pix Automático callbacks: one `/webhookrec` and one `/webhookcobr` registration
-- per merchant (no key: they cover all its recurrences, all its recurring charges).
ALTER TABLE webhook_endpoints DROP CONSTRAINT webhook_endpoints_kind_check;
ALTER TABLE webhook_endpoints ADD CONSTRAINT webhook_endpoints_kind_check
    CHECK (kind IN ('BACEN', 'EVENTOS', 'BACEN_REC', 'BACEN_COBR'));
CREATE UNIQUE INDEX webhook_endpoints_one_per_kind ON webhook_endpoints (merchant_id, kind)
    WHERE kind IN ('BACEN_REC', 'BACEN_COBR') AND deleted_at IS NULL;

-- Their scopes join those a client may hold.
ALTER TABLE oauth_clients DROP CONSTRAINT oauth_clients_scopes_check;
ALTER TABLE oauth_clients ADD CONSTRAINT oauth_clients_scopes_check CHECK (scopes <@ ARRAY[
    'cob.read', 'cob.write', 'pix.read', 'pix.write', 'webhook.read', 'webhook.write',
    'payloadlocation.read', 'payloadlocation.write', 'envio.read', 'envio.write',
    'saldo.read', 'extrato.read', 'dict.read', 'eventos.read', 'webhooks.read',
    'webhooks.write', 'cobv.read', 'cobv.write', 'lotecobv.read', 'lotecobv.write',
    'rec.read', 'rec.write', 'solicrec.read', 'solicrec.write', 'cobr.read', 'cobr.write',
    'webhookrec.read', 'webhookrec.write', 'webhookcobr.read', 'webhookcobr.write']::text[]);
