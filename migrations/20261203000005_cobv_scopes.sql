-- The scopes of charges with a due date (Bacen `cobv.read`, `cobv.write`) join those a
-- client may hold.
ALTER TABLE oauth_clients DROP CONSTRAINT oauth_clients_scopes_check;
ALTER TABLE oauth_clients ADD CONSTRAINT oauth_clients_scopes_check CHECK (scopes <@ ARRAY[
    'cob.read', 'cob.write', 'pix.read', 'pix.write', 'webhook.read', 'webhook.write',
    'payloadlocation.read', 'payloadlocation.write', 'envio.read', 'envio.write',
    'saldo.read', 'extrato.read', 'dict.read', 'eventos.read', 'webhooks.read',
    'webhooks.write', 'cobv.read', 'cobv.write']::text[]);
