-- Validates 20261206000040's foreign key without blocking writes (SHARE UPDATE EXCLUSIVE).
ALTER TABLE charges VALIDATE CONSTRAINT charges_lote_fkey;
