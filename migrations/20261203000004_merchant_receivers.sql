-- What a charge with a due date shows of its receiver (Bacen `recebedor`: document, name,
-- trade name, address): the merchant's registration, set by an operator
-- (`tucano merchants receiver`, or the admin function's `merchants.receiver`). A merchant
-- without it cannot issue cobv. The receiver's own document is published by design in
-- every cobv and its payload, so it is kept as is.
ALTER TABLE merchants
    ADD COLUMN recebedor_documento text CHECK (recebedor_documento ~ '^([0-9]{11}|[0-9A-Z]{12}[0-9]{2})$'),
    ADD COLUMN recebedor_nome_fantasia text CHECK (length(recebedor_nome_fantasia) BETWEEN 1 AND 200),
    ADD COLUMN recebedor_logradouro text CHECK (length(recebedor_logradouro) BETWEEN 1 AND 200),
    ADD COLUMN recebedor_uf text CHECK (recebedor_uf ~ '^[A-Z]{2}$'),
    ADD COLUMN recebedor_cep text CHECK (recebedor_cep ~ '^[0-9]{8}$'),
    ADD CONSTRAINT merchants_recebedor_whole CHECK (
        num_nulls(recebedor_documento, recebedor_logradouro, recebedor_uf, recebedor_cep) IN (0, 4)
        AND (recebedor_nome_fantasia IS NULL OR recebedor_documento IS NOT NULL));
