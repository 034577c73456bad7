-- The application role: what the API's functions connect as, able to do only what the API
-- does. Migrations keep running as the schema owner (the cluster's master user in AWS).
--   * no DDL (PostgreSQL 15: PUBLIC may not create in schema public) and, not owning the
--     tables, no ALTER TABLE ... DISABLE TRIGGER; no session_replication_role (superuser);
--   * the ledger's journal (transactions, postings) is insert-only; accounts and balances
--     are read-only to it: balances move only through the posting trigger, which runs as
--     its owner (SECURITY DEFINER), as do the triggers that open a merchant's accounts;
--   * audit rows (charge revisions, rail notification claims) are insert-only.
-- A later migration's tables get the ordinary grants by default (below); a table that must
-- be insert-only revokes in its own migration. tests/ledger.rs checks every table is
-- reachable by the role and that the forbidden statements fail.
DO $$
BEGIN
    CREATE ROLE tucano_app LOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL; -- made by another database of this cluster (roles are cluster-wide)
END $$;

GRANT USAGE ON SCHEMA public TO tucano_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO tucano_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO tucano_app;
REVOKE ALL ON _sqlx_migrations FROM tucano_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO tucano_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE ON SEQUENCES TO tucano_app;

REVOKE UPDATE, DELETE, TRUNCATE ON ledger_transactions, ledger_postings, charge_revisions, rail_notifications
    FROM tucano_app;
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON ledger_accounts, ledger_balances FROM tucano_app;
-- A debit locks its account row (SELECT ... FOR NO KEY UPDATE), which needs UPDATE on some
-- column; the row itself stays immutable (ledger_accounts_immutable).
GRANT UPDATE (shards) ON ledger_accounts TO tucano_app;
REVOKE UPDATE, DELETE, TRUNCATE ON platform_keys FROM tucano_app;

ALTER FUNCTION ledger_apply_posting() SECURITY DEFINER SET search_path = public, pg_temp;
ALTER FUNCTION ledger_create_shards() SECURITY DEFINER SET search_path = public, pg_temp;
ALTER FUNCTION ledger_create_merchant_accounts() SECURITY DEFINER SET search_path = public, pg_temp;
