-- Pix transfers out (envios): two-phase in the ledger (reserve, then settle or void by the
-- rail's verdict), unique per merchant on the client's idEnvio and globally on the
-- end-to-end id, with per-merchant limits.

ALTER TABLE merchants
    ADD COLUMN person_kind text NOT NULL DEFAULT 'PJ' CHECK (person_kind IN ('PF', 'PJ')),
    ADD COLUMN limit_per_transfer bigint NOT NULL DEFAULT 10000000 CHECK (limit_per_transfer > 0),
    ADD COLUMN limit_daily bigint NOT NULL DEFAULT 50000000 CHECK (limit_daily > 0),
    ADD COLUMN limit_night bigint NOT NULL DEFAULT 100000 CHECK (limit_night > 0);

ALTER TABLE ledger_transactions DROP CONSTRAINT ledger_transactions_kind_check;
ALTER TABLE ledger_transactions ADD CONSTRAINT ledger_transactions_kind_check CHECK (kind IN (
    'pix_received', 'refund_reserve', 'refund_settle', 'refund_void',
    'transfer_reserve', 'transfer_settle', 'transfer_void'));

CREATE TABLE transfers (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id         uuid NOT NULL REFERENCES merchants (id),
    id_envio            text NOT NULL CHECK (id_envio ~ '^[a-zA-Z0-9]{1,35}$'),
    end_to_end_id       text NOT NULL UNIQUE CHECK (end_to_end_id ~ '^[a-zA-Z0-9]{32}$'),
    valor               bigint NOT NULL CHECK (valor > 0),
    -- The receiver: a Pix key, or a bank account (document encrypted, blind-indexed).
    chave               text CHECK (length(chave) BETWEEN 1 AND 77),
    conta_ispb          text CHECK (conta_ispb ~ '^[0-9A-Z]{8}$'),
    conta_agencia       text CHECK (conta_agencia ~ '^[0-9]{1,4}$'),
    conta_numero        text CHECK (conta_numero ~ '^[0-9]{1,20}$'),
    conta_tipo          text CHECK (conta_tipo IN ('CACC', 'TRAN', 'SLRY', 'SVGS')),
    favorecido_nome     text CHECK (length(favorecido_nome) <= 200),
    favorecido_doc_kind text CHECK (favorecido_doc_kind IN ('cpf', 'cnpj')),
    favorecido_doc_enc  bytea,
    -- A transfer that pays a BR Code keeps the charge's txid.
    txid                text CHECK (txid ~ '^[a-zA-Z0-9]{1,35}$'),
    descricao           text CHECK (length(descricao) <= 140),
    status              text NOT NULL DEFAULT 'EM_PROCESSAMENTO'
                        CHECK (status IN ('EM_PROCESSAMENTO', 'REALIZADO', 'NAO_REALIZADO')),
    motivo              text CHECK (length(motivo) <= 140),
    created_at          timestamptz NOT NULL DEFAULT now(),
    settled_at          timestamptz,
    request_hash        bytea NOT NULL CHECK (length(request_hash) = 32),
    UNIQUE (merchant_id, id_envio),
    CHECK ((chave IS NULL) <> (conta_numero IS NULL)),
    CHECK ((conta_numero IS NULL) = (conta_ispb IS NULL) AND (conta_numero IS NULL) = (conta_agencia IS NULL)),
    CHECK ((status = 'REALIZADO') = (settled_at IS NOT NULL))
);
CREATE INDEX transfers_merchant_created ON transfers (merchant_id, created_at, id);
CREATE INDEX transfers_pending ON transfers (created_at) WHERE status = 'EM_PROCESSAMENTO';
CREATE INDEX refunds_pending ON refunds (requested_at) WHERE status = 'EM_PROCESSAMENTO';

-- A transfer's terms never change, and its status only moves from EM_PROCESSAMENTO.
CREATE FUNCTION transfers_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.id, NEW.merchant_id, NEW.id_envio, NEW.end_to_end_id, NEW.valor, NEW.chave, NEW.conta_numero,
        NEW.request_hash, NEW.created_at)
       IS DISTINCT FROM (OLD.id, OLD.merchant_id, OLD.id_envio, OLD.end_to_end_id, OLD.valor, OLD.chave,
        OLD.conta_numero, OLD.request_hash, OLD.created_at) THEN
        RAISE EXCEPTION 'a transfer''s terms never change' USING ERRCODE = 'check_violation';
    END IF;
    IF OLD.status <> 'EM_PROCESSAMENTO' AND NEW.status <> OLD.status THEN
        RAISE EXCEPTION 'transfer % is final (%)', OLD.id, OLD.status USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER transfers_guard BEFORE UPDATE ON transfers FOR EACH ROW EXECUTE FUNCTION transfers_guard();
CREATE TRIGGER transfers_no_delete BEFORE DELETE ON transfers FOR EACH ROW EXECUTE FUNCTION forbid_change();
