-- Pix Automático's guards, tightened: a received Pix may be flagged for naming a recurring
-- charge but none of its open attempts; and each table's trigger now also keeps what never
-- changes (everything but the columns its life moves), makes `atualizacao` grow by exactly
-- one entry at the end, and requires that entry to be the new status.
ALTER TABLE received_pix DROP CONSTRAINT received_pix_alerta_check;
ALTER TABLE received_pix ADD CONSTRAINT received_pix_alerta_check CHECK (alerta IN (
    'COBRANCA_INEXISTENTE', 'COBRANCA_EXPIRADA', 'COBRANCA_REMOVIDA', 'COBRANCA_JA_PAGA',
    'VALOR_DIVERGENTE', 'CHAVE_DESCONHECIDA', 'TENTATIVA_INEXISTENTE'));

CREATE OR REPLACE FUNCTION pix_automatico_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    mutable text[] := CASE TG_TABLE_NAME
        WHEN 'recurrences' THEN ARRAY['status', 'encerramento', 'atualizacao', 'tipo_jornada', 'pagador_ispb',
                                      'pagador_doc_kind', 'pagador_doc_enc', 'pagador_cod_mun', 'devedor_nome',
                                      'data_inicial', 'loc_id', 'jornada_txid']
        WHEN 'solicrecs' THEN ARRAY['status', 'atualizacao']
        WHEN 'recurring_charges' THEN ARRAY['status', 'encerramento', 'atualizacao']
        ELSE ARRAY['status', 'rejeicao', 'atualizacao'] END;
    allowed text[];
BEGIN
    IF (to_jsonb(NEW) - mutable) IS DISTINCT FROM (to_jsonb(OLD) - mutable) THEN
        RAISE EXCEPTION '% rows keep their identity and terms', TG_TABLE_NAME USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.atualizacao IS DISTINCT FROM OLD.atualizacao
       AND (jsonb_array_length(NEW.atualizacao) <> jsonb_array_length(OLD.atualizacao) + 1
            OR NEW.atualizacao <> OLD.atualizacao || jsonb_build_array(NEW.atualizacao -> -1)) THEN
        RAISE EXCEPTION '% history only grows at its end', TG_TABLE_NAME USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.status = OLD.status THEN
        IF NEW.atualizacao IS DISTINCT FROM OLD.atualizacao THEN
            RAISE EXCEPTION 'atualizacao grows with a status change only' USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END IF;
    IF NEW.atualizacao IS NOT DISTINCT FROM OLD.atualizacao OR NEW.atualizacao -> -1 ->> 'status' <> NEW.status THEN
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
