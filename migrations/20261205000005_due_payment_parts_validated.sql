-- Validates the check migration 20261205000001 added NOT VALID: a scan under a lock that
-- lets received Pix be booked meanwhile (SHARE UPDATE EXCLUSIVE), in its own transaction.
ALTER TABLE received_pix VALIDATE CONSTRAINT received_pix_due_parts;
