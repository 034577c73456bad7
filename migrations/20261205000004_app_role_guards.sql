-- The cap on a Pix's refunds counts what each refund really sent back: a refund the rail
-- settled at another amount than ordered (flagged VALOR_LIQUIDADO_DIVERGENTE) took that
-- amount from the Pix, not the one ordered. Counting the order let a refund of 5.00 that
-- settled at 7.00 leave 5.00 more to refund of a 10.00 Pix (12.00 back in all).
-- The application role narrowed further (review of the grants and guards):
--   * a transfer's or a refund's terms never change, all of them: only its outcome moves
--     (status, settlement time and amount, motivo, alerta). The guards named a few columns
--     and left the destination account, the payee and the description open;
--   * a refund is of one of its merchant's received Pix, and none of a Pix flagged
--     NOTIFICACAO_DIVERGENTE (the API refused both; the database did not);
--   * (a recurring charge is concluded by one received Pix: migration 20261205000006);
--   * the role deletes only what the API deletes: released idempotency records, spent
--     rate windows, a location made for a charge that was then not created. Nothing else,
--     in any table,
--     now or added later (default privileges), so history cannot be erased and a freed
--     natural key reused.
-- Both functions are restated whole (earlier versions: 20261201000001).

CREATE OR REPLACE FUNCTION transfers_guard() RETURNS trigger LANGUAGE plpgsql
    SET search_path = public, pg_temp AS $$
BEGIN
    -- Only its outcome moves; everything else it was ordered with stays.
    IF (to_jsonb(NEW) - ARRAY['status', 'settled_at', 'valor_liquidado', 'valor_liquidado_informado',
                              'motivo', 'alerta'])
       IS DISTINCT FROM (to_jsonb(OLD) - ARRAY['status', 'settled_at', 'valor_liquidado',
                                               'valor_liquidado_informado', 'motivo', 'alerta']) THEN
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

CREATE OR REPLACE FUNCTION refunds_guard() RETURNS trigger LANGUAGE plpgsql
    SET search_path = public, pg_temp AS $$
DECLARE
    received bigint;
    refunded bigint;
    flagged text;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        -- Only its outcome moves; everything else it was asked with stays.
        IF (to_jsonb(NEW) - ARRAY['status', 'settled_at', 'valor_liquidado', 'valor_liquidado_informado',
                                  'motivo', 'alerta'])
           IS DISTINCT FROM (to_jsonb(OLD) - ARRAY['status', 'settled_at', 'valor_liquidado',
                                                   'valor_liquidado_informado', 'motivo', 'alerta']) THEN
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
    SELECT valor, alerta_rail INTO received, flagged FROM received_pix
     WHERE id = NEW.received_pix_id AND merchant_id = NEW.merchant_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'a refund is of one of its merchant''s received Pix' USING ERRCODE = 'check_violation';
    END IF;
    -- A Pix the rail reported twice differently waits for operations: more could go back
    -- than came in.
    IF flagged IS NOT NULL THEN
        RAISE EXCEPTION 'the received Pix is under review (%)', flagged USING ERRCODE = 'check_violation';
    END IF;
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

REVOKE DELETE, TRUNCATE ON ALL TABLES IN SCHEMA public FROM tucano_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE DELETE ON TABLES FROM tucano_app;
GRANT DELETE ON idempotency_records, rate_windows, locations TO tucano_app;
