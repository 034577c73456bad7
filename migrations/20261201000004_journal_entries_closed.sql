-- Tightening the application role (review of 20261201000003):
--   * a journal entry is closed once its database transaction commits: a posting may only
--     join a ledger transaction created in the current database transaction, so balanced
--     pairs cannot be added to an old entry (which would sidestep both the entry's
--     immutability and its uniqueness on its natural key);
--   * a Pix key's owner never changes (a credit is booked to the key's owner): the role
--     may register keys, not move or drop them;
--   * nobody but the owner creates objects in schema public (already PostgreSQL 15's
--     default; a database upgraded from an older version would keep the old grant).
REVOKE UPDATE, DELETE, TRUNCATE ON merchant_pix_keys FROM tucano_app;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

CREATE OR REPLACE FUNCTION ledger_apply_posting() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    acct ledger_accounts%ROWTYPE;
    total bigint;
    target smallint;
BEGIN
    -- Savepoints would give the entry a subtransaction's id; the API makes none.
    IF NOT EXISTS (SELECT 1 FROM ledger_transactions
                    WHERE id = NEW.transaction_id AND xmin = pg_current_xact_id()::xid) THEN
        RAISE EXCEPTION 'ledger transaction % is closed (or missing): postings join only an entry made in the same transaction',
            NEW.transaction_id USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_entry_closed';
    END IF;
    SELECT * INTO acct FROM ledger_accounts WHERE id = NEW.account_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no ledger account %', NEW.account_id USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF NEW.amount < 0 AND acct.min_balance IS NOT NULL THEN
        -- Serialises debits of this account; credits (no lock) go on in parallel.
        PERFORM 1 FROM ledger_accounts WHERE id = NEW.account_id FOR NO KEY UPDATE;
        SELECT sum(balance) INTO total FROM ledger_balances WHERE account_id = NEW.account_id;
        IF total + NEW.amount < acct.min_balance THEN
            RAISE EXCEPTION 'insufficient funds' USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_min_balance';
        END IF;
    END IF;
    -- The first shard no other open transaction holds (20261201000002).
    SELECT shard INTO target FROM ledger_balances WHERE account_id = NEW.account_id
     ORDER BY shard LIMIT 1 FOR NO KEY UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        target := floor(random() * acct.shards)::smallint;
    END IF;
    UPDATE ledger_balances SET balance = balance + NEW.amount WHERE account_id = NEW.account_id AND shard = target;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no balance shard % for account %', target, NEW.account_id;
    END IF;
    RETURN NEW;
END $$;
