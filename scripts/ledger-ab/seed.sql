INSERT INTO merchants (id, name, city, fee_bps) VALUES ('11111111-1111-1111-1111-111111111111', 'Bench', 'SAO PAULO', 99);
INSERT INTO merchant_pix_keys (chave, merchant_id) VALUES ('bench-key', '11111111-1111-1111-1111-111111111111');
