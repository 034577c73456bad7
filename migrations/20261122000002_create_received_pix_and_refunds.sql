-- Received Pix, refunds (devoluções), inbound rail notifications and the event outbox.

CREATE TABLE received_pix (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    end_to_end_id  text NOT NULL UNIQUE CHECK (end_to_end_id ~ '^[a-zA-Z0-9]{32}$'),
    -- NULL when the key is not ours: the money is parked in the suspense account.
    merchant_id    uuid REFERENCES merchants (id),
    chave          text NOT NULL CHECK (length(chave) BETWEEN 1 AND 77),
    txid           text CHECK (txid ~ '^[a-zA-Z0-9]{1,35}$'),
    charge_id      bigint REFERENCES charges (id),
    valor          bigint NOT NULL CHECK (valor > 0),
    fee            bigint NOT NULL DEFAULT 0 CHECK (fee >= 0 AND fee <= valor),
    horario        timestamptz NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now(),
    pagador_cpf    text CHECK (pagador_cpf ~ '^[0-9]{11}$'),
    pagador_cnpj   text CHECK (pagador_cnpj ~ '^[0-9A-Z]{12}[0-9]{2}$'),
    pagador_nome   text CHECK (length(pagador_nome) <= 200),
    info_pagador   text CHECK (length(info_pagador) <= 140),
    -- Why the payment did not conclude a charge (it is still money received).
    alerta         text CHECK (alerta IN ('COBRANCA_INEXISTENTE', 'COBRANCA_EXPIRADA', 'COBRANCA_REMOVIDA',
                                          'COBRANCA_JA_PAGA', 'VALOR_DIVERGENTE', 'CHAVE_DESCONHECIDA')),
    CHECK ((merchant_id IS NULL) = (alerta IS NOT DISTINCT FROM 'CHAVE_DESCONHECIDA')),
    CHECK (alerta IS NOT NULL OR charge_id IS NOT NULL OR txid IS NULL)
);
CREATE INDEX received_pix_merchant_horario ON received_pix (merchant_id, horario, id);
-- A charge concludes with exactly one payment.
CREATE UNIQUE INDEX received_pix_one_per_charge ON received_pix (charge_id) WHERE alerta IS NULL;

CREATE TRIGGER received_pix_immutable BEFORE UPDATE OR DELETE ON received_pix
    FOR EACH ROW EXECUTE FUNCTION forbid_change();

CREATE TABLE refunds (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_pix_id  bigint NOT NULL REFERENCES received_pix (id),
    merchant_id      uuid NOT NULL REFERENCES merchants (id),
    refund_id        text NOT NULL CHECK (refund_id ~ '^[a-zA-Z0-9]{1,35}$'),
    rtr_id           text NOT NULL UNIQUE CHECK (rtr_id ~ '^[a-zA-Z0-9]{32}$'),
    valor            bigint NOT NULL CHECK (valor > 0),
    natureza         text NOT NULL CHECK (natureza IN ('ORIGINAL', 'RETIRADA')),
    descricao        text CHECK (length(descricao) <= 140),
    status           text NOT NULL DEFAULT 'EM_PROCESSAMENTO'
                     CHECK (status IN ('EM_PROCESSAMENTO', 'DEVOLVIDO', 'NAO_REALIZADO')),
    motivo           text CHECK (length(motivo) <= 140),
    requested_at     timestamptz NOT NULL DEFAULT now(),
    settled_at       timestamptz,
    request_hash     bytea NOT NULL CHECK (length(request_hash) = 32),
    UNIQUE (received_pix_id, refund_id),
    CHECK ((status = 'DEVOLVIDO') = (settled_at IS NOT NULL))
);

-- The refunds of a Pix never add up to more than it (rejected ones do not count), and a
-- refund's status only moves from EM_PROCESSAMENTO to a final one.
CREATE FUNCTION refunds_guard() RETURNS trigger LANGUAGE plpgsql AS $$
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
        IF OLD.status <> 'EM_PROCESSAMENTO' AND NEW.status <> OLD.status THEN
            RAISE EXCEPTION 'refund % is final (%)', OLD.id, OLD.status USING ERRCODE = 'check_violation';
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
CREATE TRIGGER refunds_guard BEFORE INSERT OR UPDATE ON refunds
    FOR EACH ROW EXECUTE FUNCTION refunds_guard();
CREATE TRIGGER refunds_no_delete BEFORE DELETE ON refunds
    FOR EACH ROW EXECUTE FUNCTION forbid_change();

-- Every signed notification from the rail, once: a replayed id is a no-op.
CREATE TABLE rail_notifications (
    id           text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 100),
    kind         text NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now()
);

-- Events for merchants, written in the same transaction as the change they describe.
CREATE TABLE outbox_events (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id     uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    merchant_id  uuid NOT NULL REFERENCES merchants (id),
    kind         text NOT NULL,
    payload      jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_events_merchant ON outbox_events (merchant_id, id);
