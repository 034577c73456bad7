-- The double-entry ledger. The database enforces its invariants:
--   * postings and journal transactions are immutable;
--   * each journal transaction's postings sum to zero (checked at commit);
--   * each transaction is unique on its natural key (kind + e2eid / refund id / ...);
--   * an account with a minimum balance (merchant accounts: 0) never goes below it;
--   * balances always equal the sum of postings (maintained by trigger).
--
-- Hot accounts: a balance is split over `shards` rows. A credit adds to one random shard
-- and takes no account-wide lock, so many concurrent credits to one merchant do not queue
-- on a single row. A debit locks the account (FOR NO KEY UPDATE, which does not block
-- credits) and checks the sum of the shards before applying. Postings reference accounts
-- without a foreign key (a trigger checks existence; accounts are never deleted) so that
-- credits do not pile share-locks on the hot account row.

ALTER TABLE merchants
    ADD COLUMN fee_bps integer NOT NULL DEFAULT 0 CHECK (fee_bps BETWEEN 0 AND 10000),
    ADD COLUMN fee_fixed bigint NOT NULL DEFAULT 0 CHECK (fee_fixed >= 0);

CREATE TABLE ledger_accounts (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id  uuid REFERENCES merchants (id),
    kind         text NOT NULL CHECK (kind IN ('merchant_available', 'merchant_pending',
                                               'rail_settlement', 'fee_revenue', 'suspense')),
    min_balance  bigint,
    shards       smallint NOT NULL CHECK (shards BETWEEN 1 AND 64),
    UNIQUE NULLS NOT DISTINCT (merchant_id, kind),
    CHECK ((merchant_id IS NULL) = (kind IN ('rail_settlement', 'fee_revenue', 'suspense'))),
    CHECK ((merchant_id IS NULL) = (min_balance IS NULL))
);

CREATE TABLE ledger_balances (
    account_id  bigint NOT NULL REFERENCES ledger_accounts (id),
    shard       smallint NOT NULL,
    balance     bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, shard)
);

CREATE TABLE ledger_transactions (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('pix_received', 'refund_reserve', 'refund_settle', 'refund_void')),
    natural_key  text NOT NULL CHECK (length(natural_key) BETWEEN 1 AND 100),
    reference    jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (kind, natural_key)
);

CREATE TABLE ledger_postings (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transaction_id  bigint NOT NULL REFERENCES ledger_transactions (id),
    account_id      bigint NOT NULL,
    amount          bigint NOT NULL CHECK (amount <> 0)
);
CREATE INDEX ledger_postings_account ON ledger_postings (account_id, id);
CREATE INDEX ledger_postings_transaction ON ledger_postings (transaction_id);

-- New accounts get their balance shards.
CREATE FUNCTION ledger_create_shards() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ledger_balances (account_id, shard) SELECT NEW.id, s FROM generate_series(0, NEW.shards - 1) s;
    RETURN NULL;
END $$;
CREATE TRIGGER ledger_accounts_shards AFTER INSERT ON ledger_accounts
    FOR EACH ROW EXECUTE FUNCTION ledger_create_shards();

-- Every merchant gets its two accounts.
CREATE FUNCTION ledger_create_merchant_accounts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ledger_accounts (merchant_id, kind, min_balance, shards)
    VALUES (NEW.id, 'merchant_available', 0, 16), (NEW.id, 'merchant_pending', 0, 4);
    RETURN NULL;
END $$;
CREATE TRIGGER merchants_ledger_accounts AFTER INSERT ON merchants
    FOR EACH ROW EXECUTE FUNCTION ledger_create_merchant_accounts();

INSERT INTO ledger_accounts (merchant_id, kind, min_balance, shards)
SELECT NULL, k, NULL, 64 FROM unnest(ARRAY['rail_settlement', 'fee_revenue', 'suspense']) k;

INSERT INTO ledger_accounts (merchant_id, kind, min_balance, shards)
SELECT id, k, 0, CASE k WHEN 'merchant_available' THEN 16 ELSE 4 END
  FROM merchants, unnest(ARRAY['merchant_available', 'merchant_pending']) k;

-- Applies a posting to its account's balance, refusing to take an account below its minimum.
CREATE FUNCTION ledger_apply_posting() RETURNS trigger LANGUAGE plpgsql AS $$
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
    -- Drawn once: random() inside the WHERE clause would be drawn again for every row.
    target := floor(random() * acct.shards)::smallint;
    UPDATE ledger_balances SET balance = balance + NEW.amount WHERE account_id = NEW.account_id AND shard = target;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no balance shard % for account %', target, NEW.account_id;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER ledger_postings_apply BEFORE INSERT ON ledger_postings
    FOR EACH ROW EXECUTE FUNCTION ledger_apply_posting();

-- At commit: the transaction of each new posting balances to zero with at least two legs.
CREATE FUNCTION ledger_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    total bigint;
    legs integer;
BEGIN
    SELECT sum(amount), count(*) INTO total, legs FROM ledger_postings WHERE transaction_id = NEW.transaction_id;
    IF total <> 0 OR legs < 2 THEN
        RAISE EXCEPTION 'ledger transaction % does not balance (sum %, % postings)', NEW.transaction_id, total, legs
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_zero_sum';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER ledger_postings_balanced AFTER INSERT ON ledger_postings
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced();

-- A transaction without postings is caught at commit too.
CREATE FUNCTION ledger_check_has_postings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM ledger_postings WHERE transaction_id = NEW.id) THEN
        RAISE EXCEPTION 'ledger transaction % has no postings', NEW.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_zero_sum';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER ledger_transactions_have_postings AFTER INSERT ON ledger_transactions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_has_postings();

CREATE TRIGGER ledger_postings_immutable BEFORE UPDATE OR DELETE ON ledger_postings
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER ledger_transactions_immutable BEFORE UPDATE OR DELETE ON ledger_transactions
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER ledger_accounts_immutable BEFORE UPDATE OR DELETE ON ledger_accounts
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
-- Balance rows change only through postings.
CREATE FUNCTION ledger_balances_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF pg_trigger_depth() < 2 THEN
        RAISE EXCEPTION 'ledger balances change only through postings' USING ERRCODE = 'check_violation';
    END IF;
    RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END $$;
CREATE TRIGGER ledger_balances_guard BEFORE UPDATE OR DELETE ON ledger_balances
    FOR EACH ROW EXECUTE FUNCTION ledger_balances_guard();
