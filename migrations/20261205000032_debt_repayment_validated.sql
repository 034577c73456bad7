-- Validates the entry kinds of 20261205000031 (a scan under a lock that lets writes go on).
ALTER TABLE ledger_transactions VALIDATE CONSTRAINT ledger_transactions_kind_check;
