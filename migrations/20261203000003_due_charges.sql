-- Charges with a due date (Bacen "cobrança com vencimento", cobv) live in `charges` beside
-- the immediate ones, marked by `kind`: one txid space per merchant (a received Pix names
-- its charge by txid alone), one location per charge (charges.loc_id is unique), one
-- received Pix per charge, and the revision rules below, all shared.
--
-- A cobv has a due date and the days it stays payable after it instead of `expiracao`, a
-- devedor (required), whose address and e-mail are sealed like its document (personal
-- data), and its price terms: fine, interest, rebate and discount, each a Bacen modalidade
-- and its `valorPerc` in hundredths (centavos, or hundredths of a percent); fixed-date
-- discounts keep their dates and values in `desconto_datas`.

ALTER TABLE charges
    ADD COLUMN kind text NOT NULL DEFAULT 'cob' CHECK (kind IN ('cob', 'cobv')),
    ALTER COLUMN expiracao DROP NOT NULL,
    ADD COLUMN vencimento date,
    ADD COLUMN validade_apos_vencimento integer CHECK (validade_apos_vencimento BETWEEN 0 AND 3650),
    ADD COLUMN devedor_contato_enc bytea,
    ADD COLUMN multa_modalidade smallint CHECK (multa_modalidade IN (1, 2)),
    ADD COLUMN multa_valor bigint CHECK (multa_valor >= 0),
    ADD COLUMN juros_modalidade smallint CHECK (juros_modalidade BETWEEN 1 AND 8),
    ADD COLUMN juros_valor bigint CHECK (juros_valor >= 0),
    ADD COLUMN abatimento_modalidade smallint CHECK (abatimento_modalidade IN (1, 2)),
    ADD COLUMN abatimento_valor bigint CHECK (abatimento_valor >= 0),
    ADD COLUMN desconto_modalidade smallint CHECK (desconto_modalidade BETWEEN 1 AND 6),
    ADD COLUMN desconto_valor bigint CHECK (desconto_valor >= 0),
    ADD COLUMN desconto_datas jsonb CHECK (jsonb_typeof(desconto_datas) = 'array'),
    ADD CONSTRAINT charges_kind_calendar CHECK (
        CASE kind WHEN 'cob' THEN expiracao IS NOT NULL AND vencimento IS NULL AND validade_apos_vencimento IS NULL
                  ELSE expiracao IS NULL AND vencimento IS NOT NULL AND validade_apos_vencimento IS NOT NULL END),
    ADD CONSTRAINT charges_cobv_has_devedor CHECK (kind = 'cob' OR devedor_nome IS NOT NULL),
    ADD CONSTRAINT charges_cob_has_no_price_terms CHECK (kind = 'cobv' OR num_nonnulls(
        devedor_contato_enc, multa_modalidade, juros_modalidade, abatimento_modalidade, desconto_modalidade) = 0),
    ADD CONSTRAINT charges_price_terms_whole CHECK (
        (multa_modalidade IS NULL) = (multa_valor IS NULL)
        AND (juros_modalidade IS NULL) = (juros_valor IS NULL)
        AND (abatimento_modalidade IS NULL) = (abatimento_valor IS NULL)
        AND (desconto_modalidade IS NULL OR CASE WHEN desconto_modalidade IN (1, 2)
                 THEN desconto_datas IS NOT NULL AND desconto_valor IS NULL
                 ELSE desconto_datas IS NULL AND desconto_valor IS NOT NULL END)
        AND (desconto_modalidade IS NOT NULL OR (desconto_datas IS NULL AND desconto_valor IS NULL)));

CREATE INDEX charges_merchant_kind_created ON charges (merchant_id, kind, created_at, id);

ALTER TABLE charge_revisions
    ALTER COLUMN expiracao DROP NOT NULL,
    ADD COLUMN vencimento date,
    ADD COLUMN validade_apos_vencimento integer,
    ADD COLUMN devedor_contato_enc bytea,
    ADD COLUMN multa_modalidade smallint,
    ADD COLUMN multa_valor bigint,
    ADD COLUMN juros_modalidade smallint,
    ADD COLUMN juros_valor bigint,
    ADD COLUMN abatimento_modalidade smallint,
    ADD COLUMN abatimento_valor bigint,
    ADD COLUMN desconto_modalidade smallint,
    ADD COLUMN desconto_valor bigint,
    ADD COLUMN desconto_datas jsonb;

-- The revision rules of 20261121000002 (as 20261122000004 left them), over every term of
-- either kind; a charge's kind is part of its identity.
CREATE OR REPLACE FUNCTION charges_guard_revision() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    terms_changed boolean :=
        (NEW.expiracao, NEW.devedor_doc_kind, NEW.devedor_doc_enc, NEW.devedor_doc_index, NEW.devedor_nome,
         NEW.valor_original, NEW.modalidade_alteracao, NEW.chave, NEW.solicitacao_pagador, NEW.info_adicionais,
         NEW.vencimento, NEW.validade_apos_vencimento, NEW.devedor_contato_enc, NEW.multa_modalidade, NEW.multa_valor,
         NEW.juros_modalidade, NEW.juros_valor, NEW.abatimento_modalidade, NEW.abatimento_valor,
         NEW.desconto_modalidade, NEW.desconto_valor, NEW.desconto_datas)
        IS DISTINCT FROM
        (OLD.expiracao, OLD.devedor_doc_kind, OLD.devedor_doc_enc, OLD.devedor_doc_index, OLD.devedor_nome,
         OLD.valor_original, OLD.modalidade_alteracao, OLD.chave, OLD.solicitacao_pagador, OLD.info_adicionais,
         OLD.vencimento, OLD.validade_apos_vencimento, OLD.devedor_contato_enc, OLD.multa_modalidade, OLD.multa_valor,
         OLD.juros_modalidade, OLD.juros_valor, OLD.abatimento_modalidade, OLD.abatimento_valor,
         OLD.desconto_modalidade, OLD.desconto_valor, OLD.desconto_datas);
BEGIN
    IF (NEW.id, NEW.merchant_id, NEW.txid, NEW.created_at, NEW.request_hash, NEW.kind)
       IS DISTINCT FROM (OLD.id, OLD.merchant_id, OLD.txid, OLD.created_at, OLD.request_hash, OLD.kind) THEN
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
            devedor_nome, valor_original, modalidade_alteracao, chave, solicitacao_pagador, info_adicionais,
            vencimento, validade_apos_vencimento, devedor_contato_enc, multa_modalidade, multa_valor,
            juros_modalidade, juros_valor, abatimento_modalidade, abatimento_valor, desconto_modalidade,
            desconto_valor, desconto_datas)
        VALUES (NEW.id, NEW.revisao, NEW.status, NEW.expiracao, NEW.devedor_doc_kind, NEW.devedor_doc_enc,
            NEW.devedor_nome, NEW.valor_original, NEW.modalidade_alteracao, NEW.chave,
            NEW.solicitacao_pagador, NEW.info_adicionais, NEW.vencimento, NEW.validade_apos_vencimento,
            NEW.devedor_contato_enc, NEW.multa_modalidade, NEW.multa_valor, NEW.juros_modalidade, NEW.juros_valor,
            NEW.abatimento_modalidade, NEW.abatimento_valor, NEW.desconto_modalidade, NEW.desconto_valor,
            NEW.desconto_datas);
    END IF;
    RETURN NULL;
END $$;
