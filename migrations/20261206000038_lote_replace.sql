-- A PUT of an existing batch replaces each charge it created by the new creation request
-- (what that leaves out is removed), where a PATCH of the batch revises it (what it leaves
-- out stays): a third operation for the batch's items. Allowed without a scan under the
-- table's lock (validated in 20261206000039), giving up after 5 s.
SET LOCAL lock_timeout = '5s';
ALTER TABLE lote_cobv_items
    DROP CONSTRAINT lote_cobv_items_operation_check,
    ADD CONSTRAINT lote_cobv_items_operation_check CHECK (operation IN ('create', 'revise', 'replace')) NOT VALID;
