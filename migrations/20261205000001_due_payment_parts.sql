-- What a Pix that paid a charge with a due date paid for, part by part, as computed when it
-- was booked (Bacen's componentesValor: valor = original + multa + juros - abatimento -
-- desconto). Kept, not recomputed on read: the charge's terms and the holiday calendar
-- decide the parts on the day of payment. NULL for every other Pix (and for those booked
-- before this migration), whose whole valor is the original.
ALTER TABLE received_pix
    ADD COLUMN multa      bigint CHECK (multa >= 0),
    ADD COLUMN juros      bigint CHECK (juros >= 0),
    ADD COLUMN abatimento bigint CHECK (abatimento >= 0),
    ADD COLUMN desconto   bigint CHECK (desconto >= 0),
    ADD CONSTRAINT received_pix_due_parts CHECK (
        (multa IS NULL AND juros IS NULL AND abatimento IS NULL AND desconto IS NULL)
        OR (multa IS NOT NULL AND juros IS NOT NULL AND abatimento IS NOT NULL AND desconto IS NOT NULL
            AND charge_id IS NOT NULL AND alerta IS NULL
            AND valor - multa - juros + abatimento + desconto > 0));
