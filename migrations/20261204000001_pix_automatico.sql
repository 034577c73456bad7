-- Pix Automático: recurrences (authorisations a payer gives a receiver), the
-- confirmation requests sent to the payer's bank, recurring charges and their attempts.
-- Status histories (`atualizacao`) are append-only JSON arrays written in the same
-- statement as the status; each table's trigger allows only the spec's transitions.

-- A merchant's account number here, as a recurring charge names its receiver's account.
ALTER TABLE merchants ADD COLUMN account_number bigint GENERATED ALWAYS AS IDENTITY (START WITH 100001) UNIQUE;

CREATE TABLE recurrences (
    id                     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id            uuid NOT NULL REFERENCES merchants (id),
    id_rec                 text NOT NULL UNIQUE CHECK (id_rec ~ '^R[RN][0-9A-Z]{8}[0-9]{8}[a-zA-Z0-9]{11}$'),
    status                 text NOT NULL CHECK (status IN ('CRIADA', 'APROVADA', 'REJEITADA', 'EXPIRADA', 'CANCELADA')),
    objeto                 text CHECK (length(objeto) BETWEEN 1 AND 35),
    contrato               text NOT NULL CHECK (length(contrato) BETWEEN 1 AND 35),
    devedor_doc_kind       text NOT NULL CHECK (devedor_doc_kind IN ('cpf', 'cnpj')),
    devedor_doc_enc        bytea NOT NULL,
    devedor_doc_index      bytea NOT NULL CHECK (length(devedor_doc_index) = 32),
    devedor_nome           text NOT NULL CHECK (length(devedor_nome) BETWEEN 1 AND 140),
    data_inicial           date NOT NULL,
    data_final             date CHECK (data_final >= data_inicial),
    periodicidade          text NOT NULL CHECK (periodicidade IN ('SEMANAL', 'MENSAL', 'TRIMESTRAL', 'SEMESTRAL', 'ANUAL')),
    valor_rec              bigint CHECK (valor_rec > 0 AND valor_rec <= 999999999999),
    valor_minimo_recebedor bigint CHECK (valor_minimo_recebedor > 0 AND valor_minimo_recebedor <= 999999999999),
    convenio               text CHECK (length(convenio) BETWEEN 1 AND 60),
    politica_retentativa   text NOT NULL CHECK (politica_retentativa IN ('NAO_PERMITE', 'PERMITE_3R_7D')),
    tipo_jornada           text NOT NULL DEFAULT 'AGUARDANDO_DEFINICAO'
                           CHECK (tipo_jornada IN ('JORNADA_1', 'JORNADA_2', 'JORNADA_3', 'JORNADA_4', 'AGUARDANDO_DEFINICAO')),
    pagador_ispb           text CHECK (pagador_ispb ~ '^[0-9A-Z]{8}$'),
    pagador_doc_kind       text CHECK (pagador_doc_kind IN ('cpf', 'cnpj')),
    pagador_doc_enc        bytea,
    pagador_cod_mun        text CHECK (pagador_cod_mun ~ '^[0-9]{7}$'),
    encerramento           jsonb CHECK (jsonb_typeof(encerramento) = 'object'),
    atualizacao            jsonb NOT NULL CHECK (jsonb_typeof(atualizacao) = 'array' AND jsonb_array_length(atualizacao) >= 1),
    created_at             timestamptz NOT NULL,
    CHECK (num_nonnulls(valor_rec, valor_minimo_recebedor) <= 1),
    CHECK ((status = 'APROVADA' OR status = 'EXPIRADA' OR status = 'CANCELADA') OR pagador_ispb IS NULL),
    CHECK (status <> 'APROVADA' OR (pagador_ispb IS NOT NULL AND pagador_doc_enc IS NOT NULL)),
    CHECK ((pagador_doc_kind IS NULL) = (pagador_doc_enc IS NULL)),
    CHECK ((status IN ('REJEITADA', 'CANCELADA')) = (encerramento IS NOT NULL)),
    CHECK (id_rec ~ CASE politica_retentativa WHEN 'PERMITE_3R_7D' THEN '^RR' ELSE '^RN' END)
);
CREATE INDEX recurrences_merchant_created ON recurrences (merchant_id, created_at, id);

CREATE TABLE solicrecs (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id           uuid NOT NULL REFERENCES merchants (id),
    id_solic_rec          text NOT NULL UNIQUE CHECK (id_solic_rec ~ '^SC[0-9A-Z]{8}[0-9]{8}[a-zA-Z0-9]{11}$'),
    recurrence_id         bigint NOT NULL REFERENCES recurrences (id),
    status                text NOT NULL CHECK (status IN ('CRIADA', 'ENVIADA', 'RECEBIDA', 'ACEITA', 'REJEITADA', 'EXPIRADA', 'CANCELADA')),
    data_expiracao        timestamptz NOT NULL,
    destinatario_ispb     text NOT NULL CHECK (destinatario_ispb ~ '^[0-9A-Z]{8}$'),
    destinatario_agencia  text CHECK (destinatario_agencia ~ '^[0-9]{1,4}$'),
    destinatario_conta    text NOT NULL CHECK (length(destinatario_conta) BETWEEN 1 AND 20),
    destinatario_doc_kind text NOT NULL CHECK (destinatario_doc_kind IN ('cpf', 'cnpj')),
    destinatario_doc_enc  bytea NOT NULL,
    atualizacao           jsonb NOT NULL CHECK (jsonb_typeof(atualizacao) = 'array' AND jsonb_array_length(atualizacao) >= 1),
    created_at            timestamptz NOT NULL
);
-- At most one request in flight per recurrence.
CREATE UNIQUE INDEX solicrecs_one_active ON solicrecs (recurrence_id) WHERE status IN ('CRIADA', 'ENVIADA', 'RECEBIDA');
CREATE INDEX solicrecs_pending ON solicrecs (created_at) WHERE status IN ('CRIADA', 'ENVIADA', 'RECEBIDA');

CREATE TABLE recurring_charges (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id           uuid NOT NULL REFERENCES merchants (id),
    txid                  text NOT NULL CHECK (txid ~ '^[a-zA-Z0-9]{26,35}$'),
    recurrence_id         bigint NOT NULL REFERENCES recurrences (id),
    status                text NOT NULL CHECK (status IN ('CRIADA', 'ATIVA', 'CONCLUIDA', 'EXPIRADA', 'REJEITADA', 'CANCELADA')),
    valor_original        bigint NOT NULL CHECK (valor_original > 0 AND valor_original <= 999999999999),
    data_vencimento       date NOT NULL,
    ajuste_dia_util       boolean NOT NULL,
    -- The cycle of the recurrence the due date falls in (one live charge per cycle).
    ciclo                 integer NOT NULL CHECK (ciclo >= 0),
    criacao               date NOT NULL,
    info_adicional        text CHECK (length(info_adicional) <= 140),
    recebedor_conta       text NOT NULL CHECK (length(recebedor_conta) BETWEEN 1 AND 20),
    recebedor_agencia     text CHECK (length(recebedor_agencia) BETWEEN 1 AND 4),
    recebedor_tipo_conta  text NOT NULL CHECK (recebedor_tipo_conta IN ('CORRENTE', 'POUPANCA', 'PAGAMENTO')),
    devedor_contato_enc   bytea,
    encerramento          jsonb CHECK (jsonb_typeof(encerramento) = 'object'),
    atualizacao           jsonb NOT NULL CHECK (jsonb_typeof(atualizacao) = 'array' AND jsonb_array_length(atualizacao) >= 1),
    request_hash          bytea NOT NULL CHECK (length(request_hash) = 32),
    created_at            timestamptz NOT NULL,
    UNIQUE (merchant_id, txid),
    CHECK ((status IN ('REJEITADA', 'CANCELADA')) = (encerramento IS NOT NULL))
);
CREATE UNIQUE INDEX recurring_charges_one_per_cycle ON recurring_charges (recurrence_id, ciclo)
    WHERE status NOT IN ('REJEITADA', 'CANCELADA');
CREATE INDEX recurring_charges_merchant_created ON recurring_charges (merchant_id, created_at, id);
CREATE INDEX recurring_charges_open ON recurring_charges (data_vencimento) WHERE status IN ('CRIADA', 'ATIVA');

CREATE TABLE recurring_charge_attempts (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recurring_charge_id   bigint NOT NULL REFERENCES recurring_charges (id),
    end_to_end_id         text NOT NULL UNIQUE CHECK (end_to_end_id ~ '^[a-zA-Z0-9]{32}$'),
    data_liquidacao       date NOT NULL,
    tipo                  text NOT NULL CHECK (tipo IN ('AGND', 'NTAG', 'RIFL')),
    status                text NOT NULL CHECK (status IN ('SOLICITADA', 'AGENDADA', 'PAGA', 'CANCELADA', 'REJEITADA', 'EXPIRADA')),
    rejeicao              text CHECK (rejeicao ~ '^[A-Z0-9]{4}$'),
    atualizacao           jsonb NOT NULL CHECK (jsonb_typeof(atualizacao) = 'array' AND jsonb_array_length(atualizacao) >= 1),
    UNIQUE (recurring_charge_id, data_liquidacao),
    CHECK ((status = 'REJEITADA') = (rejeicao IS NOT NULL))
);
-- At most one attempt in flight per charge.
CREATE UNIQUE INDEX recurring_charge_attempts_one_open ON recurring_charge_attempts (recurring_charge_id)
    WHERE status IN ('SOLICITADA', 'AGENDADA');

-- A received Pix may name a recurring charge (instead of a cob or cobv): a Pix with a txid
-- names a charge of one kind or carries the alert saying why not.
ALTER TABLE received_pix ADD COLUMN recurring_charge_id bigint REFERENCES recurring_charges (id),
    ADD CONSTRAINT received_pix_one_kind_of_charge CHECK (charge_id IS NULL OR recurring_charge_id IS NULL);
DO $$
DECLARE
    old_check text;
BEGIN
    SELECT conname INTO old_check FROM pg_constraint
     WHERE conrelid = 'received_pix'::regclass AND contype = 'c'
       AND pg_get_constraintdef(oid) = 'CHECK (((alerta IS NOT NULL) OR (charge_id IS NOT NULL) OR (txid IS NULL)))';
    EXECUTE format('ALTER TABLE received_pix DROP CONSTRAINT %I', old_check);
END $$;
ALTER TABLE received_pix ADD CONSTRAINT received_pix_txid_names_a_charge
    CHECK (alerta IS NOT NULL OR charge_id IS NOT NULL OR recurring_charge_id IS NOT NULL OR txid IS NULL);

-- One txid space per merchant across charges of every kind: each insert takes the same
-- advisory lock as the other table's and looks there.
CREATE FUNCTION txid_free_elsewhere() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext(NEW.merchant_id::text || '/' || NEW.txid));
    IF TG_TABLE_NAME = 'charges' AND EXISTS (
           SELECT 1 FROM recurring_charges WHERE merchant_id = NEW.merchant_id AND txid = NEW.txid)
       OR TG_TABLE_NAME = 'recurring_charges' AND EXISTS (
           SELECT 1 FROM charges WHERE merchant_id = NEW.merchant_id AND txid = NEW.txid) THEN
        RAISE EXCEPTION 'txid % is already used by another charge', NEW.txid USING ERRCODE = 'unique_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER charges_txid_free BEFORE INSERT ON charges FOR EACH ROW EXECUTE FUNCTION txid_free_elsewhere();
CREATE TRIGGER recurring_charges_txid_free BEFORE INSERT ON recurring_charges
    FOR EACH ROW EXECUTE FUNCTION txid_free_elsewhere();

-- Status machines. Identity columns never change; a status moves only along these edges,
-- and each move appends to `atualizacao`.
CREATE FUNCTION pix_automatico_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    allowed text[];
BEGIN
    IF NEW.id <> OLD.id OR NEW.atualizacao IS DISTINCT FROM OLD.atualizacao
       AND NOT (NEW.atualizacao @> OLD.atualizacao
                AND jsonb_array_length(NEW.atualizacao) = jsonb_array_length(OLD.atualizacao) + 1) THEN
        RAISE EXCEPTION '% history is append-only', TG_TABLE_NAME USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.status = OLD.status THEN
        RETURN NEW;
    END IF;
    IF jsonb_array_length(NEW.atualizacao) <> jsonb_array_length(OLD.atualizacao) + 1 THEN
        RAISE EXCEPTION 'a status change is recorded in atualizacao' USING ERRCODE = 'check_violation';
    END IF;
    allowed := CASE TG_TABLE_NAME
        WHEN 'recurrences' THEN CASE OLD.status
            WHEN 'CRIADA' THEN ARRAY['APROVADA', 'REJEITADA', 'EXPIRADA', 'CANCELADA']
            WHEN 'APROVADA' THEN ARRAY['EXPIRADA', 'CANCELADA'] ELSE ARRAY[]::text[] END
        WHEN 'solicrecs' THEN CASE OLD.status
            WHEN 'CRIADA' THEN ARRAY['ENVIADA', 'RECEBIDA', 'ACEITA', 'REJEITADA', 'EXPIRADA', 'CANCELADA']
            WHEN 'ENVIADA' THEN ARRAY['RECEBIDA', 'ACEITA', 'REJEITADA', 'EXPIRADA', 'CANCELADA']
            WHEN 'RECEBIDA' THEN ARRAY['ACEITA', 'REJEITADA', 'EXPIRADA', 'CANCELADA'] ELSE ARRAY[]::text[] END
        WHEN 'recurring_charges' THEN CASE OLD.status
            WHEN 'CRIADA' THEN ARRAY['ATIVA', 'CONCLUIDA', 'EXPIRADA', 'REJEITADA', 'CANCELADA']
            WHEN 'ATIVA' THEN ARRAY['CONCLUIDA', 'EXPIRADA', 'REJEITADA', 'CANCELADA'] ELSE ARRAY[]::text[] END
        ELSE CASE OLD.status
            WHEN 'SOLICITADA' THEN ARRAY['AGENDADA', 'PAGA', 'CANCELADA', 'REJEITADA', 'EXPIRADA']
            WHEN 'AGENDADA' THEN ARRAY['PAGA', 'CANCELADA', 'REJEITADA', 'EXPIRADA'] ELSE ARRAY[]::text[] END
    END;
    IF NOT NEW.status = ANY (allowed) THEN
        RAISE EXCEPTION '% cannot go from % to %', TG_TABLE_NAME, OLD.status, NEW.status
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER recurrences_guard BEFORE UPDATE ON recurrences FOR EACH ROW EXECUTE FUNCTION pix_automatico_guard();
CREATE TRIGGER solicrecs_guard BEFORE UPDATE ON solicrecs FOR EACH ROW EXECUTE FUNCTION pix_automatico_guard();
CREATE TRIGGER recurring_charges_guard BEFORE UPDATE ON recurring_charges
    FOR EACH ROW EXECUTE FUNCTION pix_automatico_guard();
CREATE TRIGGER recurring_charge_attempts_guard BEFORE UPDATE ON recurring_charge_attempts
    FOR EACH ROW EXECUTE FUNCTION pix_automatico_guard();

-- Their scopes join those a client may hold.
ALTER TABLE oauth_clients DROP CONSTRAINT oauth_clients_scopes_check;
ALTER TABLE oauth_clients ADD CONSTRAINT oauth_clients_scopes_check CHECK (scopes <@ ARRAY[
    'cob.read', 'cob.write', 'pix.read', 'pix.write', 'webhook.read', 'webhook.write',
    'payloadlocation.read', 'payloadlocation.write', 'envio.read', 'envio.write',
    'saldo.read', 'extrato.read', 'dict.read', 'eventos.read', 'webhooks.read',
    'webhooks.write', 'cobv.read', 'cobv.write', 'lotecobv.read', 'lotecobv.write',
    'rec.read', 'rec.write', 'solicrec.read', 'solicrec.write', 'cobr.read', 'cobr.write']::text[]);
