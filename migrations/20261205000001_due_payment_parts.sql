-- What a Pix that paid a charge with a due date paid for, part by part, as computed when it
-- was booked (Bacen's componentesValor: valor = original + multa + juros - abatimento -
-- desconto). Kept, not recomputed on read: the charge's terms and the holiday calendar
-- decide the parts on the day of payment. NULL for every other Pix (and for those booked
-- before this migration), whose whole valor is the original.
-- The check is added NOT VALID (no scan of received_pix under this migration's exclusive
-- lock, which would hold every incoming Pix) and validated by the next migration, which
-- lets Pix be booked meanwhile; new rows are checked from now on.
ALTER TABLE received_pix
    ADD COLUMN multa      bigint,
    ADD COLUMN juros      bigint,
    ADD COLUMN abatimento bigint,
    ADD COLUMN desconto   bigint,
    ADD CONSTRAINT received_pix_due_parts CHECK (
        (multa IS NULL AND juros IS NULL AND abatimento IS NULL AND desconto IS NULL)
        OR (multa >= 0 AND juros >= 0 AND abatimento >= 0 AND desconto >= 0
            AND charge_id IS NOT NULL AND alerta IS NULL
            AND valor - multa - juros + abatimento + desconto > 0)) NOT VALID;
