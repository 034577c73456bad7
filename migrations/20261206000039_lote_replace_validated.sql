-- Validates 20261206000038's check without blocking writes (SHARE UPDATE EXCLUSIVE).
ALTER TABLE lote_cobv_items VALIDATE CONSTRAINT lote_cobv_items_operation_check;
