\set n random(1, 99999999999)
SELECT 'E99999999202612012225' || lpad(:n::text, 11, '0') AS e \gset
SELECT 1;
SELECT m.id FROM merchant_pix_keys k JOIN merchants m ON m.id = k.merchant_id WHERE k.chave = 'bench-key';
BEGIN;
WITH claim AS (    INSERT INTO rail_notifications (id, kind) VALUES (:e, 'PIX_RECEBIDO') ON CONFLICT (id) DO NOTHING RETURNING id ), pix AS (    INSERT INTO received_pix (end_to_end_id, merchant_id, chave, valor, fee, horario)    SELECT :e, '11111111-1111-1111-1111-111111111111', 'bench-key', 1000, 10, now() FROM claim ON CONFLICT (end_to_end_id) DO NOTHING RETURNING id ), entry AS (    INSERT INTO ledger_transactions (kind, natural_key, reference) SELECT 'pix_received', :e, '{"a":1}'::jsonb FROM pix RETURNING id ), postings AS (    INSERT INTO ledger_postings (transaction_id, account_id, amount)    SELECT entry.id, p.account_id, p.amount FROM entry, unnest('{1,2,5}'::bigint[], '{-1000,10,990}'::bigint[]) AS p(account_id, amount) ORDER BY p.account_id RETURNING id ), events AS (    INSERT INTO outbox_events (merchant_id, kind, payload) SELECT '11111111-1111-1111-1111-111111111111', 'pix.recebido', '{"a":1}'::jsonb FROM pix RETURNING id ) SELECT EXISTS (SELECT 1 FROM claim), EXISTS (SELECT 1 FROM pix), (SELECT count(*) FROM postings); 
COMMIT;
SELECT 1;
