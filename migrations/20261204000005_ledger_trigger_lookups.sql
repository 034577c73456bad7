-- The ledger's triggers look rows up by key, whatever the tables' size.
--
-- PL/pgSQL plans a trigger's queries once per session and keeps the plans until the
-- tables' statistics are next refreshed (autovacuum looks at a database once a minute).
-- Planned while the ledger was small, the "postings join only an entry made in this
-- transaction" check scanned ledger_transactions whole, and went on doing so as the ledger
-- grew: in 8 seconds of the ledger benchmark, 5,143 sequential scans read 17 million rows
-- (`pg_stat_user_tables`), a credit's cost growing with the number of entries ever booked.
-- Every query of these triggers reads a few rows by key, so they now run with sequential
-- scans disabled: their plans use the indexes from the first call, however small the
-- tables were then. The entry check and the zero-sum check are one query, and a balance
-- shard is picked and moved in one statement instead of two.
--
-- The postings' foreign key to ledger_transactions goes: the trigger's check is stronger
-- (the entry must exist and have been made in the posting's own transaction), entries are
-- never deleted (ledger_transactions_immutable; the application role may not delete or
-- truncate them), and `tucano ledger check` reports any posting without its entry. The key
-- cost each credit three more lookups and three row locks (each written to the WAL).
-- What the database guarantees is otherwise unchanged (see 20261202000002).

CREATE OR REPLACE FUNCTION ledger_apply_postings() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp SET enable_seqscan = off AS $$
DECLARE
    leg record;
    bad record;
    total bigint;
    target smallint;
BEGIN
    -- Each entry the statement touched: made in this transaction (savepoints would give it
    -- a subtransaction's id; the API makes none), and balanced with all its postings so far.
    SELECT e.transaction_id, s.total, s.legs, s.open INTO bad
      FROM (SELECT DISTINCT transaction_id FROM new_postings) e
      CROSS JOIN LATERAL (
          SELECT coalesce(sum(p.amount), 0)::bigint AS total, count(*) AS legs,
                 (SELECT t.xmin = pg_current_xact_id()::xid FROM ledger_transactions t
                   WHERE t.id = e.transaction_id) AS open
            FROM ledger_postings p WHERE p.transaction_id = e.transaction_id) s
     WHERE s.open IS NOT TRUE OR s.total <> 0 OR s.legs < 2
     ORDER BY s.open IS NOT TRUE DESC
     LIMIT 1;
    IF FOUND AND bad.open IS NOT TRUE THEN
        RAISE EXCEPTION 'a ledger transaction is closed (or missing): postings join only an entry made in the same transaction'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_entry_closed';
    ELSIF FOUND THEN
        RAISE EXCEPTION 'ledger transaction % does not balance (sum %, % postings)',
            bad.transaction_id, bad.total, bad.legs
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
            -- The first shard no other open transaction holds (20261201000002), taken and
            -- moved in one statement.
            UPDATE ledger_balances SET balance = balance + leg.amount
             WHERE account_id = leg.account_id
               AND shard = (SELECT b.shard FROM ledger_balances b WHERE b.account_id = leg.account_id
                             ORDER BY b.shard LIMIT 1 FOR NO KEY UPDATE SKIP LOCKED);
            IF NOT FOUND THEN
                -- Every shard is held: wait for a random one (drawn once).
                target := floor(random() * leg.shards)::smallint;
                UPDATE ledger_balances SET balance = balance + leg.amount
                 WHERE account_id = leg.account_id AND shard = target;
                IF NOT FOUND THEN
                    RAISE EXCEPTION 'no balance shard % for account %', target, leg.account_id;
                END IF;
            END IF;
        END IF;
    END LOOP;
    RETURN NULL;
END $$;

-- At commit, each new entry's postings, by the entry's index.
ALTER FUNCTION ledger_check_has_postings() SET enable_seqscan = off;

-- Dropping the key locks both tables: rather fail the migration (and retry it) than queue
-- every credit behind a long read of the ledger.
SET LOCAL lock_timeout = '10s';
ALTER TABLE ledger_postings DROP CONSTRAINT ledger_postings_transaction_id_fkey;
