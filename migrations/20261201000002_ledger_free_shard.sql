-- A posting goes to a balance shard no other open transaction holds, instead of a random
-- one. A shard's row lock is held until commit (through the commit's WAL flush), so with
-- random shards concurrent credits to one account queued behind each other: at 16
-- concurrent credits, 78% of the booking statement's time was spent waiting on shard
-- locks (BENCHMARKS.md, "Ledger: where a credit's time goes"). SKIP LOCKED takes the first
-- free shard without waiting; only when every shard is taken does a posting wait, on a
-- random one. Locks are still taken in account-id order (postings are inserted in that
-- order), and a posting never waits while holding a shard of a later account, so credits
-- cannot deadlock.
CREATE OR REPLACE FUNCTION ledger_apply_posting() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    acct ledger_accounts%ROWTYPE;
    total bigint;
    target smallint;
BEGIN
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
    SELECT shard INTO target FROM ledger_balances WHERE account_id = NEW.account_id
     ORDER BY shard LIMIT 1 FOR NO KEY UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        -- Every shard is held by an open transaction: wait for one (drawn once: random()
        -- inside the WHERE clause would be drawn again for every row).
        target := floor(random() * acct.shards)::smallint;
    END IF;
    UPDATE ledger_balances SET balance = balance + NEW.amount WHERE account_id = NEW.account_id AND shard = target;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no balance shard % for account %', target, NEW.account_id;
    END IF;
    RETURN NEW;
END $$;
