-- The cap on a Pix's refunds counts what each refund really sent back: a refund the rail
-- settled at another amount than ordered (flagged VALOR_LIQUIDADO_DIVERGENTE) took that
-- amount from the Pix, not the one ordered. Counting the order let a refund of 5.00 that
-- settled at 7.00 leave 5.00 more to refund of a 10.00 Pix (12.00 back in all). The
-- function is restated whole (migration 20261201000001 has the rest of it unchanged).
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
    -- What each refund took back: the amount settled once the rail reported it, else the
    -- amount ordered (still on its way).
    SELECT coalesce(sum(coalesce(valor_liquidado, valor)), 0) INTO refunded FROM refunds
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
