-- Money that cannot be lost: verdicts that contradict the books are booked as what really
-- happened and flagged; Pix we sent can come back (returns, MED included); merchants can
-- owe the platform (operations receivable) when money left beyond their balance.

-- What merchants owe the platform.
ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_kind_check;
ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_kind_check CHECK (kind IN (
    'merchant_available', 'merchant_pending', 'rail_settlement', 'fee_revenue', 'suspense', 'operations_receivable'));
ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_check;
ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_platform_check CHECK (
    (merchant_id IS NULL) = (kind IN ('rail_settlement', 'fee_revenue', 'suspense', 'operations_receivable')));
INSERT INTO ledger_accounts (merchant_id, kind, min_balance, shards) VALUES (NULL, 'operations_receivable', NULL, 16);

ALTER TABLE ledger_transactions DROP CONSTRAINT ledger_transactions_kind_check;
ALTER TABLE ledger_transactions ADD CONSTRAINT ledger_transactions_kind_check CHECK (kind IN (
    'pix_received', 'refund_reserve', 'refund_settle', 'refund_void',
    'transfer_reserve', 'transfer_settle', 'transfer_void',
    'transfer_correction', 'refund_correction', 'transfer_return', 'pix_received_correction'));

-- Transfers and refunds: the amount the rail settled, and the flag a contradictory verdict
-- raises. A flagged movement may change its final status once per contradictory verdict;
-- an unflagged one never leaves its final status.
ALTER TABLE transfers
    ADD COLUMN valor_liquidado bigint CHECK (valor_liquidado > 0),
    ADD COLUMN alerta text CHECK (alerta IN ('LIQUIDADO_APOS_REJEICAO', 'REJEITADO_APOS_LIQUIDACAO',
                                             'VALOR_LIQUIDADO_DIVERGENTE', 'DEVOLUCAO_EXCEDENTE'));
-- Existing settled movements: what they settled is what they reserved.
UPDATE transfers SET valor_liquidado = valor WHERE status = 'REALIZADO';
ALTER TABLE transfers DROP CONSTRAINT transfers_check2;
ALTER TABLE transfers ADD CONSTRAINT transfers_settled_check CHECK (
    (status = 'REALIZADO') = (settled_at IS NOT NULL AND valor_liquidado IS NOT NULL) OR alerta IS NOT NULL);

ALTER TABLE refunds
    ADD COLUMN valor_liquidado bigint CHECK (valor_liquidado > 0),
    ADD COLUMN alerta text CHECK (alerta IN ('LIQUIDADO_APOS_REJEICAO', 'REJEITADO_APOS_LIQUIDACAO',
                                             'VALOR_LIQUIDADO_DIVERGENTE'));
UPDATE refunds SET valor_liquidado = valor WHERE status = 'DEVOLVIDO';
ALTER TABLE refunds DROP CONSTRAINT refunds_check;
ALTER TABLE refunds ADD CONSTRAINT refunds_settled_check CHECK (
    (status = 'DEVOLVIDO') = (settled_at IS NOT NULL AND valor_liquidado IS NOT NULL) OR alerta IS NOT NULL);

CREATE OR REPLACE FUNCTION transfers_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.id, NEW.merchant_id, NEW.id_envio, NEW.end_to_end_id, NEW.valor, NEW.chave, NEW.conta_numero,
        NEW.request_hash, NEW.created_at)
       IS DISTINCT FROM (OLD.id, OLD.merchant_id, OLD.id_envio, OLD.end_to_end_id, OLD.valor, OLD.chave,
        OLD.conta_numero, OLD.request_hash, OLD.created_at) THEN
        RAISE EXCEPTION 'a transfer''s terms never change' USING ERRCODE = 'check_violation';
    END IF;
    IF OLD.alerta IS NOT NULL AND NEW.alerta IS NULL THEN
        RAISE EXCEPTION 'a transfer''s alert is never cleared' USING ERRCODE = 'check_violation';
    END IF;
    IF OLD.status <> 'EM_PROCESSAMENTO' AND NEW.status <> OLD.status AND NEW.alerta IS NULL THEN
        RAISE EXCEPTION 'transfer % is final (%)', OLD.id, OLD.status USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.status = 'EM_PROCESSAMENTO' AND OLD.status <> 'EM_PROCESSAMENTO' THEN
        RAISE EXCEPTION 'transfer % cannot go back to EM_PROCESSAMENTO', OLD.id USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION refunds_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    received bigint;
    refunded bigint;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF (NEW.id, NEW.received_pix_id, NEW.merchant_id, NEW.refund_id, NEW.rtr_id, NEW.valor, NEW.natureza,
            NEW.request_hash, NEW.requested_at)
           IS DISTINCT FROM (OLD.id, OLD.received_pix_id, OLD.merchant_id, OLD.refund_id, OLD.rtr_id, OLD.valor,
            OLD.natureza, OLD.request_hash, OLD.requested_at) THEN
            RAISE EXCEPTION 'a refund''s terms never change' USING ERRCODE = 'check_violation';
        END IF;
        IF OLD.alerta IS NOT NULL AND NEW.alerta IS NULL THEN
            RAISE EXCEPTION 'a refund''s alert is never cleared' USING ERRCODE = 'check_violation';
        END IF;
        IF OLD.status <> 'EM_PROCESSAMENTO' AND NEW.status <> OLD.status AND NEW.alerta IS NULL THEN
            RAISE EXCEPTION 'refund % is final (%)', OLD.id, OLD.status USING ERRCODE = 'check_violation';
        END IF;
        IF NEW.status = 'EM_PROCESSAMENTO' AND OLD.status <> 'EM_PROCESSAMENTO' THEN
            RAISE EXCEPTION 'refund % cannot go back to EM_PROCESSAMENTO', OLD.id USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END IF;
    SELECT valor INTO received FROM received_pix WHERE id = NEW.received_pix_id FOR UPDATE;
    SELECT coalesce(sum(valor), 0) INTO refunded FROM refunds
     WHERE received_pix_id = NEW.received_pix_id AND status <> 'NAO_REALIZADO';
    IF refunded + NEW.valor > received THEN
        RAISE EXCEPTION 'refunds would exceed the received amount'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'refunds_within_received';
    END IF;
    IF NEW.status <> 'EM_PROCESSAMENTO' THEN
        RAISE EXCEPTION 'a refund starts EM_PROCESSAMENTO' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;

-- A received Pix stays immutable but for one thing: the flag a divergent notification of
-- the same end-to-end id raises (set once, never cleared).
ALTER TABLE received_pix
    ADD COLUMN alerta_rail text CHECK (alerta_rail IN ('NOTIFICACAO_DIVERGENTE'));
DROP TRIGGER received_pix_immutable ON received_pix;
CREATE FUNCTION received_pix_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR OLD.alerta_rail IS NOT NULL
       OR (to_jsonb(NEW) - 'alerta_rail') IS DISTINCT FROM (to_jsonb(OLD) - 'alerta_rail') THEN
        RAISE EXCEPTION 'received Pix are immutable' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER received_pix_guard BEFORE UPDATE OR DELETE ON received_pix
    FOR EACH ROW EXECUTE FUNCTION received_pix_guard();

-- Pix we sent that came back from the receiving bank.
CREATE TABLE transfer_returns (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transfer_id  bigint NOT NULL REFERENCES transfers (id),
    merchant_id  uuid NOT NULL REFERENCES merchants (id),
    rtr_id       text NOT NULL UNIQUE CHECK (rtr_id ~ '^[a-zA-Z0-9]{32}$'),
    valor        bigint NOT NULL CHECK (valor > 0),
    -- The return's reason code (e.g. MD06 asked by the receiver, FR01 fraud under MED, BE08 bank error).
    codigo       text CHECK (codigo ~ '^[A-Z0-9]{4}$'),
    motivo       text CHECK (length(motivo) <= 140),
    horario      timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX transfer_returns_transfer ON transfer_returns (transfer_id);
CREATE TRIGGER transfer_returns_immutable BEFORE UPDATE OR DELETE ON transfer_returns
    FOR EACH ROW EXECUTE FUNCTION forbid_change();

-- Every contradiction the rail showed us, for operations to look at.
CREATE TABLE rail_contradictions (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind             text NOT NULL CHECK (kind IN ('LIQUIDADO_APOS_REJEICAO', 'REJEITADO_APOS_LIQUIDACAO',
                                                   'VALOR_LIQUIDADO_DIVERGENTE', 'DEVOLUCAO_EXCEDENTE',
                                                   'NOTIFICACAO_DIVERGENTE')),
    -- What it is about: a transfer's endToEndId, a refund's rtrId, a received Pix's endToEndId.
    subject          text NOT NULL CHECK (length(subject) BETWEEN 1 AND 100),
    merchant_id      uuid REFERENCES merchants (id),
    notification_id  text NOT NULL CHECK (length(notification_id) BETWEEN 1 AND 100),
    -- The ledger entry that booked what really happened (none when no money moved).
    ledger_transaction_id bigint REFERENCES ledger_transactions (id),
    detail           jsonb NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rail_contradictions_created ON rail_contradictions (created_at);
CREATE TRIGGER rail_contradictions_immutable BEFORE UPDATE OR DELETE ON rail_contradictions
    FOR EACH ROW EXECUTE FUNCTION forbid_change();

-- Transfers and refunds side by side, for the ledger check: one shape for every movement
-- of money out (reserve, then exactly one settle or void, then any corrections).
CREATE VIEW outgoing_movements AS
SELECT 'transfer' AS flow, end_to_end_id AS key, valor, valor_liquidado,
       CASE status WHEN 'EM_PROCESSAMENTO' THEN 'pending' WHEN 'REALIZADO' THEN 'settled' ELSE 'voided' END AS booked
  FROM transfers
UNION ALL
SELECT 'refund', rtr_id, valor, valor_liquidado,
       CASE status WHEN 'EM_PROCESSAMENTO' THEN 'pending' WHEN 'DEVOLVIDO' THEN 'settled' ELSE 'voided' END
  FROM refunds;
