-- Immediate charges (Bacen "cob"), their payload locations and their revision history.
-- The database enforces the revision rules, not only the Rust code:
--   * any change to a charge's terms or status bumps `revisao` by exactly one;
--   * paid or removed charges are final;
--   * every revision is kept, immutable, in charge_revisions.

CREATE TABLE locations (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id  uuid NOT NULL REFERENCES merchants (id),
    token        text NOT NULL UNIQUE CHECK (token ~ '^[0-9a-f]{32}$'),
    location     text NOT NULL CHECK (length(location) <= 77),
    tipo_cob     text NOT NULL CHECK (tipo_cob IN ('cob', 'cobv')),
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE charges (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id           uuid NOT NULL REFERENCES merchants (id),
    txid                  text NOT NULL CHECK (txid ~ '^[a-zA-Z0-9]{26,35}$'),
    revisao               integer NOT NULL DEFAULT 0 CHECK (revisao >= 0),
    status                text NOT NULL DEFAULT 'ATIVA'
                          CHECK (status IN ('ATIVA', 'CONCLUIDA', 'REMOVIDA_PELO_USUARIO_RECEBEDOR', 'REMOVIDA_PELO_PSP')),
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    expiracao             integer NOT NULL CHECK (expiracao > 0),
    devedor_cpf           text CHECK (devedor_cpf ~ '^[0-9]{11}$'),
    devedor_cnpj          text CHECK (devedor_cnpj ~ '^[0-9A-Z]{12}[0-9]{2}$'),
    devedor_nome          text CHECK (length(devedor_nome) BETWEEN 1 AND 200),
    valor_original        bigint NOT NULL CHECK (valor_original > 0 AND valor_original <= 999999999999),
    modalidade_alteracao  smallint NOT NULL DEFAULT 0 CHECK (modalidade_alteracao IN (0, 1)),
    chave                 text NOT NULL CHECK (length(chave) BETWEEN 1 AND 77),
    solicitacao_pagador   text CHECK (length(solicitacao_pagador) <= 140),
    info_adicionais       jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(info_adicionais) = 'array'),
    loc_id                bigint UNIQUE REFERENCES locations (id),
    pix_copia_e_cola      text CHECK (length(pix_copia_e_cola) <= 512),
    request_hash          bytea NOT NULL CHECK (length(request_hash) = 32),
    UNIQUE (merchant_id, txid),
    CHECK (num_nonnulls(devedor_cpf, devedor_cnpj) <= 1),
    CHECK ((devedor_nome IS NULL) = (devedor_cpf IS NULL AND devedor_cnpj IS NULL))
);
CREATE INDEX charges_merchant_created ON charges (merchant_id, created_at, id);

CREATE TABLE charge_revisions (
    charge_id             bigint NOT NULL REFERENCES charges (id),
    revisao               integer NOT NULL,
    status                text NOT NULL,
    revised_at            timestamptz NOT NULL DEFAULT now(),
    expiracao             integer NOT NULL,
    devedor_cpf           text,
    devedor_cnpj          text,
    devedor_nome          text,
    valor_original        bigint NOT NULL,
    modalidade_alteracao  smallint NOT NULL,
    chave                 text NOT NULL,
    solicitacao_pagador   text,
    info_adicionais       jsonb NOT NULL,
    PRIMARY KEY (charge_id, revisao)
);

CREATE FUNCTION charges_guard_revision() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    terms_changed boolean :=
        (NEW.expiracao, NEW.devedor_cpf, NEW.devedor_cnpj, NEW.devedor_nome, NEW.valor_original,
         NEW.modalidade_alteracao, NEW.chave, NEW.solicitacao_pagador, NEW.info_adicionais)
        IS DISTINCT FROM
        (OLD.expiracao, OLD.devedor_cpf, OLD.devedor_cnpj, OLD.devedor_nome, OLD.valor_original,
         OLD.modalidade_alteracao, OLD.chave, OLD.solicitacao_pagador, OLD.info_adicionais);
BEGIN
    IF (NEW.id, NEW.merchant_id, NEW.txid, NEW.created_at, NEW.request_hash)
       IS DISTINCT FROM (OLD.id, OLD.merchant_id, OLD.txid, OLD.created_at, OLD.request_hash) THEN
        RAISE EXCEPTION 'a charge''s identity never changes' USING ERRCODE = 'check_violation';
    END IF;
    IF OLD.status <> 'ATIVA' AND (terms_changed OR NEW.status <> OLD.status) THEN
        RAISE EXCEPTION 'charge % is final (%)', OLD.id, OLD.status USING ERRCODE = 'check_violation';
    END IF;
    -- Payment (ATIVA -> CONCLUIDA) is not a revision; anything else the merchant changes is.
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

CREATE TRIGGER charges_guard_revision BEFORE UPDATE ON charges
    FOR EACH ROW EXECUTE FUNCTION charges_guard_revision();

CREATE FUNCTION charges_record_revision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.revisao <> OLD.revisao THEN
        INSERT INTO charge_revisions (charge_id, revisao, status, expiracao, devedor_cpf, devedor_cnpj,
            devedor_nome, valor_original, modalidade_alteracao, chave, solicitacao_pagador, info_adicionais)
        VALUES (NEW.id, NEW.revisao, NEW.status, NEW.expiracao, NEW.devedor_cpf, NEW.devedor_cnpj,
            NEW.devedor_nome, NEW.valor_original, NEW.modalidade_alteracao, NEW.chave,
            NEW.solicitacao_pagador, NEW.info_adicionais);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER charges_record_revision AFTER INSERT OR UPDATE ON charges
    FOR EACH ROW EXECUTE FUNCTION charges_record_revision();

CREATE FUNCTION forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are immutable', TG_TABLE_NAME USING ERRCODE = 'check_violation';
END $$;

CREATE TRIGGER charge_revisions_immutable BEFORE UPDATE OR DELETE ON charge_revisions
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
