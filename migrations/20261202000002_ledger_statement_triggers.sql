-- The ledger's invariants, enforced with less work per movement (BENCHMARKS.md, "where a
-- credit's time goes": the per-row triggers were about half of a credit's statement time).
-- What the database guarantees is unchanged:
--   * postings join only an entry made in the same database transaction;
--   * every posting names an existing account;
--   * a debit never takes an account with a minimum below it (debits of one account are
--     serialised on the account row);
--   * balances move only through postings, by exactly the postings' amounts, on the
--     first balance shard no other open transaction holds, accounts locked in id order;
--   * every entry sums to zero with at least two postings.
-- How: one statement-level trigger over the inserted postings (a transition table) instead
-- of one trigger call per posting, each account's legs applied as one update. The zero-sum
-- check moves from a deferred trigger per posting (three identical checks per credit) to
-- that statement: every statement that adds postings must leave each entry it touches
-- balanced — the API posts an entry's legs in one statement — and, being no constraint
-- trigger, no SET CONSTRAINTS can move or skip it. An entry left without any posting is
-- still refused at commit, by the entry's own deferred trigger (fired early by SET
-- CONSTRAINTS ... IMMEDIATE it refuses the entry then; later postings go through the
-- statement check). The balance guard is not called at all for the posting trigger's own
-- updates (a WHEN clause).

DROP TRIGGER ledger_postings_apply ON ledger_postings;
DROP FUNCTION ledger_apply_posting();

CREATE FUNCTION ledger_apply_postings() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    leg record;
    unbalanced record;
    total bigint;
    target smallint;
BEGIN
    -- Savepoints would give the entry a subtransaction's id; the API makes none.
    IF EXISTS (SELECT 1 FROM new_postings n
                WHERE NOT EXISTS (SELECT 1 FROM ledger_transactions t
                                   WHERE t.id = n.transaction_id AND t.xmin = pg_current_xact_id()::xid)) THEN
        RAISE EXCEPTION 'a ledger transaction is closed (or missing): postings join only an entry made in the same transaction'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_entry_closed';
    END IF;
    -- Each entry the statement touched, with all its postings so far, balances.
    SELECT e.transaction_id, s.total, s.legs INTO unbalanced
      FROM (SELECT DISTINCT transaction_id FROM new_postings) e
      CROSS JOIN LATERAL (SELECT coalesce(sum(p.amount), 0)::bigint AS total, count(*) AS legs
                            FROM ledger_postings p WHERE p.transaction_id = e.transaction_id) s
     WHERE s.total <> 0 OR s.legs < 2
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger transaction % does not balance (sum %, % postings)',
            unbalanced.transaction_id, unbalanced.total, unbalanced.legs
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_zero_sum';
    END IF;
    -- Accounts in id order: every movement takes its account and shard locks in one
    -- global order, so two movements of the same accounts wait but never deadlock.
    FOR leg IN SELECT n.account_id, sum(n.amount)::bigint AS amount, a.id AS known, a.min_balance, a.shards
                 FROM new_postings n LEFT JOIN ledger_accounts a ON a.id = n.account_id
                GROUP BY n.account_id, a.id, a.min_balance, a.shards
                ORDER BY n.account_id
    LOOP
        IF leg.known IS NULL THEN
            RAISE EXCEPTION 'no ledger account %', leg.account_id USING ERRCODE = 'foreign_key_violation';
        END IF;
        IF leg.amount < 0 AND leg.min_balance IS NOT NULL THEN
            -- Serialises debits of this account; credits (no lock) go on in parallel.
            PERFORM 1 FROM ledger_accounts WHERE id = leg.account_id FOR NO KEY UPDATE;
            SELECT sum(balance) INTO total FROM ledger_balances WHERE account_id = leg.account_id;
            IF total + leg.amount < leg.min_balance THEN
                RAISE EXCEPTION 'insufficient funds' USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_min_balance';
            END IF;
        END IF;
        IF leg.amount <> 0 THEN
            -- The first shard no other open transaction holds (20261201000002); when every
            -- shard is held, wait for a random one.
            SELECT shard INTO target FROM ledger_balances WHERE account_id = leg.account_id
             ORDER BY shard LIMIT 1 FOR NO KEY UPDATE SKIP LOCKED;
            IF NOT FOUND THEN
                target := floor(random() * leg.shards)::smallint;
            END IF;
            UPDATE ledger_balances SET balance = balance + leg.amount
             WHERE account_id = leg.account_id AND shard = target;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'no balance shard % for account %', target, leg.account_id;
            END IF;
        END IF;
    END LOOP;
    RETURN NULL;
END $$;
CREATE TRIGGER ledger_postings_apply AFTER INSERT ON ledger_postings
    REFERENCING NEW TABLE AS new_postings
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_apply_postings();

-- At commit: every new entry has postings (and, again, balances).
DROP TRIGGER ledger_postings_balanced ON ledger_postings;
DROP FUNCTION ledger_check_balanced();
CREATE OR REPLACE FUNCTION ledger_check_has_postings() RETURNS trigger
    LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    total bigint;
    legs integer;
BEGIN
    SELECT sum(amount), count(*) INTO total, legs FROM ledger_postings WHERE transaction_id = NEW.id;
    IF legs < 2 OR total <> 0 THEN
        RAISE EXCEPTION 'ledger transaction % does not balance (sum %, % postings)', NEW.id, total, legs
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_zero_sum';
    END IF;
    RETURN NULL;
END $$;

-- Balance rows change only through postings: the guard runs for any change not made by a
-- trigger (the posting trigger's own updates skip it).
DROP TRIGGER ledger_balances_guard ON ledger_balances;
CREATE TRIGGER ledger_balances_guard BEFORE UPDATE OR DELETE ON ledger_balances
    FOR EACH ROW WHEN (pg_trigger_depth() < 1) EXECUTE FUNCTION ledger_balances_guard();
