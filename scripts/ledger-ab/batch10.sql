-- Ten plain credits booked in one statement, as a rail batch is (pix_batch.rs), for pgbench:
-- the same rows and triggers as new.sql, ten at a time.
\set n random(1, 9999999999)
SELECT m.id FROM merchant_pix_keys k JOIN merchants m ON m.id = k.merchant_id WHERE k.chave = 'bench-key';
WITH input AS (
  SELECT 'E99999999202612012225' || lpad((:n::bigint * 10 + g)::text, 11, '0') AS e FROM generate_series(0, 9) g
), claim AS (
  INSERT INTO rail_notifications (id, kind) SELECT e, 'PIX_RECEBIDO' FROM input ON CONFLICT (id) DO NOTHING RETURNING id
), pix AS (
  INSERT INTO received_pix (end_to_end_id, merchant_id, chave, valor, fee, horario)
  SELECT claim.id, '11111111-1111-1111-1111-111111111111', 'bench-key', 1000, 10, now() FROM claim
  ON CONFLICT (end_to_end_id) DO NOTHING RETURNING id, end_to_end_id
), entry AS (
  INSERT INTO ledger_transactions (kind, natural_key, reference) SELECT 'pix_received', end_to_end_id, '{"a":1}'::jsonb FROM pix RETURNING id
), postings AS (
  INSERT INTO ledger_postings (transaction_id, account_id, amount)
  SELECT entry.id, p.account_id, p.amount FROM entry, unnest('{1,2,5}'::bigint[], '{-1000,10,990}'::bigint[]) AS p(account_id, amount)
  ORDER BY p.account_id RETURNING id
), events AS (
  INSERT INTO outbox_events (merchant_id, kind, payload) SELECT '11111111-1111-1111-1111-111111111111', 'pix.recebido', '{"a":1}'::jsonb FROM pix RETURNING id
) SELECT (SELECT count(*) FROM claim), (SELECT count(*) FROM pix), (SELECT count(*) FROM postings);
SELECT 1;
