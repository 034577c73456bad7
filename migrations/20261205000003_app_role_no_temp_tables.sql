-- Tightening the application role (review of 20261201000003 and 20261201000004):
--   * no temporary tables. A temporary table is searched before schema public for the
--     names a trigger reads, so the role could shadow `received_pix` with a table of its own
--     and pass the refund cap (refunds_guard), or shadow `recurring_charges` and reuse a
--     recurring charge's txid (txid_free_elsewhere). The API makes none;
--   * every function of ours names its search_path (schema public, temporary tables
--     last), so none reads a table of the caller's choosing whatever the role may create.
--     A function replaced later (CREATE OR REPLACE) must say SET search_path again: a test
--     (tests/api/ledger.rs) finds any that does not;
--   * API keys are issued, never moved to another merchant nor revived once revoked:
--     the role may insert and read them only.
DO $$
BEGIN
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM tucano_app', current_database());
END $$;

DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
              WHERE p.pronamespace = 'public'::regnamespace
                AND p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'plpgsql')
                AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%')
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = public, pg_temp', f);
    END LOOP;
END $$;

REVOKE UPDATE, DELETE, TRUNCATE ON api_keys FROM tucano_app;
