-- What a merchant owes operations is repaid from its available balance (a `debt_repayment`
-- entry: the merchant's available balance to the operations receivable), before money
-- leaves it and by the reconciler's sweep.
--
-- The entry kind, allowed without a scan under the table's lock (validated in
-- 20261205000032), giving up after 5 s rather than queue the API behind a long transaction.
SET LOCAL lock_timeout = '5s';
ALTER TABLE ledger_transactions
    DROP CONSTRAINT ledger_transactions_kind_check,
    ADD CONSTRAINT ledger_transactions_kind_check CHECK (kind IN (
        'pix_received', 'refund_reserve', 'refund_settle', 'refund_void',
        'transfer_reserve', 'transfer_settle', 'transfer_void',
        'transfer_correction', 'refund_correction', 'transfer_return', 'pix_received_correction',
        'debt_repayment')) NOT VALID;

-- The operations receivable's postings, each with the merchant it is owed by: the merchant
-- of the movement its entry books (a transfer's end-to-end id or a refund's rtrId, a
-- correction's key adding ":n"), or the one a repayment names (its key: "{merchant}:{n}").
-- Not the entry's other legs: with nothing available, a late settlement moves no account
-- of the merchant's at all. A merchant owes minus the sum of its rows; a posting no
-- merchant owes has none (`tucano ledger check` fails on it). One definition for what
-- `tucano ledger owed`, the repayments and the check read.
CREATE VIEW receivable_postings AS
SELECT p.id AS posting_id, t.id AS transaction_id, t.kind, t.created_at, p.amount,
       CASE WHEN t.kind = 'debt_repayment' THEN split_part(t.natural_key, ':', 1)::uuid
            ELSE coalesce(tr.merchant_id, rf.merchant_id) END AS merchant_id
  FROM ledger_postings p
  JOIN ledger_accounts r ON r.id = p.account_id AND r.kind = 'operations_receivable'
  JOIN ledger_transactions t ON t.id = p.transaction_id
  LEFT JOIN transfers tr ON t.kind <> 'debt_repayment' AND tr.end_to_end_id = split_part(t.natural_key, ':', 1)
  LEFT JOIN refunds rf ON t.kind <> 'debt_repayment' AND rf.rtr_id = split_part(t.natural_key, ':', 1);
