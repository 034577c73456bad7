-- Payer documents (devedor / pagador CPF and CNPJ) are kept encrypted: an envelope from
-- the Cipher port (KMS in AWS), plus a keyed blind index (HMAC) so that `GET /cob?cpf=`
-- and `GET /pix?cpf=` can still find them. The plaintext columns go away.
--
-- This runs before any release: plaintext documents already in a development database
-- cannot be encrypted by SQL, so they are dropped with the devedor they belonged to.

ALTER TABLE charges DISABLE TRIGGER USER;
UPDATE charges SET devedor_nome = NULL WHERE devedor_cpf IS NOT NULL OR devedor_cnpj IS NOT NULL;
ALTER TABLE charges ENABLE TRIGGER USER;

ALTER TABLE charges
    DROP COLUMN devedor_cpf,
    DROP COLUMN devedor_cnpj,
    ADD COLUMN devedor_doc_kind text CHECK (devedor_doc_kind IN ('cpf', 'cnpj')),
    ADD COLUMN devedor_doc_enc bytea,
    ADD COLUMN devedor_doc_index bytea CHECK (length(devedor_doc_index) = 32),
    ADD CHECK (num_nulls(devedor_doc_kind, devedor_doc_enc, devedor_doc_index, devedor_nome) IN (0, 4));
CREATE INDEX charges_devedor_index ON charges (merchant_id, devedor_doc_index) WHERE devedor_doc_index IS NOT NULL;

ALTER TABLE charge_revisions
    DROP COLUMN devedor_cpf,
    DROP COLUMN devedor_cnpj,
    ADD COLUMN devedor_doc_kind text,
    ADD COLUMN devedor_doc_enc bytea;
ALTER TABLE charge_revisions DISABLE TRIGGER USER;
UPDATE charge_revisions SET devedor_nome = NULL WHERE devedor_doc_enc IS NULL;
ALTER TABLE charge_revisions ENABLE TRIGGER USER;

ALTER TABLE received_pix
    DROP COLUMN pagador_cpf,
    DROP COLUMN pagador_cnpj,
    ADD COLUMN pagador_doc_kind text CHECK (pagador_doc_kind IN ('cpf', 'cnpj')),
    ADD COLUMN pagador_doc_enc bytea,
    ADD COLUMN pagador_doc_index bytea CHECK (length(pagador_doc_index) = 32),
    ADD CHECK (num_nulls(pagador_doc_kind, pagador_doc_enc, pagador_doc_index) IN (0, 3));
CREATE INDEX received_pix_pagador_index ON received_pix (merchant_id, pagador_doc_index) WHERE pagador_doc_index IS NOT NULL;

CREATE OR REPLACE FUNCTION charges_guard_revision() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    terms_changed boolean :=
        (NEW.expiracao, NEW.devedor_doc_kind, NEW.devedor_doc_enc, NEW.devedor_doc_index, NEW.devedor_nome,
         NEW.valor_original, NEW.modalidade_alteracao, NEW.chave, NEW.solicitacao_pagador, NEW.info_adicionais)
        IS DISTINCT FROM
        (OLD.expiracao, OLD.devedor_doc_kind, OLD.devedor_doc_enc, OLD.devedor_doc_index, OLD.devedor_nome,
         OLD.valor_original, OLD.modalidade_alteracao, OLD.chave, OLD.solicitacao_pagador, OLD.info_adicionais);
BEGIN
    IF (NEW.id, NEW.merchant_id, NEW.txid, NEW.created_at, NEW.request_hash)
       IS DISTINCT FROM (OLD.id, OLD.merchant_id, OLD.txid, OLD.created_at, OLD.request_hash) THEN
        RAISE EXCEPTION 'a charge''s identity never changes' USING ERRCODE = 'check_violation';
    END IF;
    IF OLD.status <> 'ATIVA' AND (terms_changed OR NEW.status <> OLD.status) THEN
        RAISE EXCEPTION 'charge % is final (%)', OLD.id, OLD.status USING ERRCODE = 'check_violation';
    END IF;
    IF (terms_changed OR (NEW.status <> OLD.status AND NEW.status <> 'CONCLUIDA'))
       AND NEW.revisao <> OLD.revisao + 1 THEN
        RAISE EXCEPTION 'a revised charge must go to revisao %', OLD.revisao + 1 USING ERRCODE = 'check_violation';
    END IF;
    IF NOT terms_changed AND NEW.status = OLD.status AND NEW.revisao <> OLD.revisao THEN
        RAISE EXCEPTION 'revisao changes only with the charge' USING ERRCODE = 'check_violation';
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION charges_record_revision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.revisao <> OLD.revisao THEN
        INSERT INTO charge_revisions (charge_id, revisao, status, expiracao, devedor_doc_kind, devedor_doc_enc,
            devedor_nome, valor_original, modalidade_alteracao, chave, solicitacao_pagador, info_adicionais)
        VALUES (NEW.id, NEW.revisao, NEW.status, NEW.expiracao, NEW.devedor_doc_kind, NEW.devedor_doc_enc,
            NEW.devedor_nome, NEW.valor_original, NEW.modalidade_alteracao, NEW.chave,
            NEW.solicitacao_pagador, NEW.info_adicionais);
    END IF;
    RETURN NULL;
END $$;
