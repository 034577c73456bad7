//! The double-entry ledger on Postgres: posting journal entries (inside the caller's
//! transaction), balances, statements and the whole-database invariant check.

use super::store_error;
use crate::domain::ledger::{Account, Balance, EntryKind, JournalEntry};
use crate::domain::merchant::MerchantId;
use crate::domain::money::Amount;
use crate::ports::{Ledger, Page, StatementLine, StatementQuery, StoreError};
use anyhow::anyhow;
use async_trait::async_trait;
use sqlx::{PgConnection, PgPool};
use std::collections::HashMap;
use std::sync::Mutex;

/// Account ids by account. Accounts are immutable once created, so ids are cached.
#[derive(Default)]
pub struct AccountDirectory {
    cache: Mutex<HashMap<Account, i64>>,
}

const MAX_CACHED_ACCOUNTS: usize = 100_000;

impl AccountDirectory {
    fn cached(&self, account: &Account) -> Option<i64> {
        self.cache.lock().ok()?.get(account).copied()
    }

    async fn ids(&self, conn: &mut PgConnection, accounts: &[Account]) -> Result<Vec<i64>, StoreError> {
        if let Some(ids) = accounts.iter().map(|a| self.cached(a)).collect::<Option<Vec<_>>>() {
            return Ok(ids);
        }
        let merchants: Vec<uuid::Uuid> = accounts
            .iter()
            .filter_map(|a| match a {
                Account::MerchantAvailable(m) | Account::MerchantPending(m) => Some(m.0),
                Account::RailSettlement | Account::FeeRevenue | Account::Suspense | Account::OperationsReceivable => {
                    None
                }
            })
            .collect();
        let rows = sqlx::query!(
            "SELECT id, merchant_id, kind FROM ledger_accounts WHERE merchant_id IS NULL OR merchant_id = ANY($1)",
            &merchants
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(store_error)?;
        let mut found = HashMap::new();
        for r in rows {
            let Some(account) = account_of(r.merchant_id, &r.kind) else { continue };
            found.insert(account, r.id);
        }
        let ids = accounts
            .iter()
            .map(|a| {
                found.get(a).copied().ok_or_else(|| StoreError::Unexpected(anyhow!("no ledger account for {a:?}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() > MAX_CACHED_ACCOUNTS {
                cache.clear();
            }
            cache.extend(found);
        }
        Ok(ids)
    }
}

/// The account a `ledger_accounts` row stands for.
pub(crate) fn account_of(merchant_id: Option<uuid::Uuid>, kind: &str) -> Option<Account> {
    Some(match (merchant_id, kind) {
        (Some(m), "merchant_available") => Account::MerchantAvailable(MerchantId(m)),
        (Some(m), "merchant_pending") => Account::MerchantPending(MerchantId(m)),
        (None, "rail_settlement") => Account::RailSettlement,
        (None, "fee_revenue") => Account::FeeRevenue,
        (None, "suspense") => Account::Suspense,
        (None, "operations_receivable") => Account::OperationsReceivable,
        _ => return None,
    })
}

/// A merchant's available balance, with its account locked against other debits until
/// the caller's transaction ends (as a debit posting would lock it).
pub(crate) async fn available_locked(conn: &mut PgConnection, merchant: MerchantId) -> Result<i64, StoreError> {
    sqlx::query!(
        "SELECT id FROM ledger_accounts WHERE merchant_id = $1 AND kind = 'merchant_available' FOR NO KEY UPDATE",
        merchant.0
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(store_error)?;
    sqlx::query_scalar!(
        r#"SELECT coalesce(sum(b.balance), 0)::bigint AS "total!"
             FROM ledger_balances b JOIN ledger_accounts a ON a.id = b.account_id
            WHERE a.merchant_id = $1 AND a.kind = 'merchant_available'"#,
        merchant.0
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(store_error)
}

/// What the entries of one movement (its natural key, and its corrections keyed
/// `{key}:{n}`) of the given kinds net to, per account; and how many corrections it has.
pub(crate) async fn movement_net(
    conn: &mut PgConnection,
    kinds: &[&str],
    key: &str,
) -> Result<(Vec<(Account, i64)>, i64), StoreError> {
    let kinds: Vec<String> = kinds.iter().map(|k| (*k).to_owned()).collect();
    let rows = sqlx::query!(
        r#"SELECT a.merchant_id, a.kind, sum(p.amount)::bigint AS "net!"
             FROM ledger_transactions t
             JOIN ledger_postings p ON p.transaction_id = t.id
             JOIN ledger_accounts a ON a.id = p.account_id
            WHERE t.kind = ANY($1) AND (t.natural_key = $2 OR t.natural_key LIKE $2 || ':%')
            GROUP BY a.merchant_id, a.kind"#,
        &kinds,
        key
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(store_error)?;
    let mut net = vec![];
    for r in rows {
        let account = account_of(r.merchant_id, &r.kind)
            .ok_or_else(|| StoreError::Unexpected(anyhow!("unknown ledger account kind {}", r.kind)))?;
        if r.net != 0 {
            net.push((account, r.net));
        }
    }
    let corrections = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM ledger_transactions WHERE kind = ANY($1) AND natural_key LIKE $2 || ':%'"#,
        &kinds,
        key
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(store_error)?;
    Ok((net, corrections))
}

/// Why an entry was not posted.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PostError {
    /// A debit would take an account below its minimum. The caller's transaction is
    /// aborted and must be rolled back.
    #[error("insufficient funds")]
    InsufficientFunds,
    /// Any other database failure, from resolving the accounts or from the insert.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Whether the entry was new.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Posted {
    New(i64),
    /// An entry of this kind and natural key exists: nothing was posted again.
    AlreadyPosted,
}

/// An entry's postings as the two arrays its insert unnests: account ids and amounts.
pub(crate) async fn legs(
    conn: &mut PgConnection,
    accounts: &AccountDirectory,
    entry: &JournalEntry,
) -> Result<(Vec<i64>, Vec<i64>), StoreError> {
    let postings = entry.postings();
    let ids = accounts.ids(conn, &postings.iter().map(|(a, _)| *a).collect::<Vec<_>>()).await?;
    Ok((ids, postings.iter().map(|(_, v)| *v).collect()))
}

/// Posts `entry` inside the caller's transaction, in one round trip.
///
/// Postings are applied in account-id order: every transaction takes its account and
/// balance-shard locks in that one global order, so two movements of the same accounts
/// (a reservation and a settlement, a credit and a refund) wait for each other but never
/// deadlock.
pub(crate) async fn post(
    conn: &mut PgConnection,
    accounts: &AccountDirectory,
    entry: &JournalEntry,
    reference: &serde_json::Value,
) -> Result<Posted, PostError> {
    let (ids, amounts) = legs(conn, accounts, entry).await?;
    let rows = sqlx::query_scalar!(
        r#"WITH tx AS (
               INSERT INTO ledger_transactions (kind, natural_key, reference) VALUES ($1, $2, $3)
               ON CONFLICT (kind, natural_key) DO NOTHING
               RETURNING id
           )
           INSERT INTO ledger_postings (transaction_id, account_id, amount)
           SELECT tx.id, p.account_id, p.amount
             FROM tx, unnest($4::bigint[], $5::bigint[]) AS p(account_id, amount)
            ORDER BY p.account_id
           RETURNING transaction_id"#,
        entry.kind().as_str(),
        entry.natural_key(),
        reference,
        &ids,
        &amounts
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| {
        if e.as_database_error().and_then(|d| d.constraint()) == Some("ledger_min_balance") {
            PostError::InsufficientFunds
        } else {
            PostError::Store(store_error(e))
        }
    })?;
    Ok(rows.first().map_or(Posted::AlreadyPosted, |id| Posted::New(*id)))
}

pub struct PgLedger {
    pool: PgPool,
    accounts: AccountDirectory,
}

impl PgLedger {
    pub fn new(pool: PgPool) -> Self {
        Self { pool, accounts: AccountDirectory::default() }
    }
}

/// What `merchant` owes operations (the receivable's postings of its movements, net of its
/// repayments), how many repayments it has made, and whether one was made in the last
/// `recent_secs` seconds (by the database's clock).
pub(crate) async fn owed_by(
    conn: &mut PgConnection,
    merchant: MerchantId,
    recent_secs: i64,
) -> Result<Owed, StoreError> {
    let r = sqlx::query!(
        r#"SELECT coalesce(-sum(amount), 0)::bigint AS "owed!",
                  count(*) FILTER (WHERE kind = 'debt_repayment') AS "repayments!",
                  coalesce(bool_or(kind = 'debt_repayment' AND created_at > now() - make_interval(secs => $2)), false)
                      AS "recently_repaid!"
             FROM receivable_postings WHERE merchant_id = $1"#,
        merchant.0,
        recent_secs as f64
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(store_error)?;
    Ok(Owed { owed: r.owed, repayments: r.repayments, recently_repaid: r.recently_repaid })
}

/// [`owed_by`]'s answer.
pub(crate) struct Owed {
    pub owed: i64,
    pub repayments: i64,
    pub recently_repaid: bool,
}

/// How often a merchant repays part of its debt when it is not spending: the reconciler's
/// sweep repays in part at most this often (each repayment is an entry: a merchant owing
/// much and paid a little every minute would add one a minute), in full whenever it can.
pub const PARTIAL_REPAYMENT_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Repays what `merchant` owes operations from its available balance, as far as that goes,
/// in a transaction of its own (committed whatever the caller does next); returns the
/// centavos repaid. Called before money leaves a merchant (a transfer or a refund is
/// reserved; `partial_every` None: whatever is there), and by the reconciler's sweep
/// (`partial_every` Some: in part only if no repayment was made that recently). Most
/// merchants owe nothing: one read, no lock, says so.
pub(crate) async fn repay_owed(
    pool: &PgPool,
    accounts: &AccountDirectory,
    merchant: MerchantId,
    partial_every: Option<std::time::Duration>,
) -> Result<i64, StoreError> {
    let recent_secs = partial_every.map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let mut conn = pool.acquire().await.map_err(store_error)?;
    if owed_by(&mut conn, merchant, recent_secs).await?.owed <= 0 {
        return Ok(0);
    }
    let mut tx = sqlx::Connection::begin(&mut *conn).await.map_err(store_error)?;
    // Locked first, then read again: a repayment that committed while this one waited is
    // seen, so two never repay the same debt.
    let available = available_locked(&mut tx, merchant).await?;
    let Owed { owed, repayments, recently_repaid } = owed_by(&mut tx, merchant, recent_secs).await?;
    let repaid = owed.min(available);
    if repaid <= 0 || (repaid < owed && partial_every.is_some() && recently_repaid) {
        return Ok(0);
    }
    let entry = JournalEntry::debt_repayment(merchant, repayments + 1, amount(repaid)?);
    let reference = serde_json::json!({ "saldoDevedor": amount(owed)?.to_string() });
    match post(&mut tx, accounts, &entry, &reference).await {
        Ok(Posted::New(_)) => {}
        Ok(Posted::AlreadyPosted) => return Err(StoreError::Unexpected(anyhow!("a repayment's number was taken"))),
        Err(PostError::InsufficientFunds) => {
            return Err(StoreError::Unexpected(anyhow!("a repayment beyond the locked balance")))
        }
        Err(PostError::Store(e)) => return Err(e),
    }
    tx.commit().await.map_err(store_error)?;
    tracing::info!(merchant_id = %merchant.0, repaid, "debt to operations repaid");
    Ok(repaid)
}

fn amount(centavos: i64) -> Result<Amount, StoreError> {
    Amount::from_centavos(centavos).map_err(|_| StoreError::Unexpected(anyhow!("balance out of range: {centavos}")))
}

#[async_trait]
impl Ledger for PgLedger {
    async fn balance(&self, merchant: MerchantId) -> Result<Balance, StoreError> {
        let rows = sqlx::query!(
            r#"SELECT a.kind, coalesce(sum(b.balance), 0)::bigint AS "total!"
                 FROM ledger_accounts a JOIN ledger_balances b ON b.account_id = a.id
                WHERE a.merchant_id = $1
                GROUP BY a.kind"#,
            merchant.0
        )
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        let of = |kind: &str| rows.iter().find(|r| r.kind == kind).map_or(0, |r| r.total);
        Ok(Balance { available: amount(of("merchant_available"))?, pending: amount(of("merchant_pending"))? })
    }

    async fn statement(&self, merchant: MerchantId, q: &StatementQuery) -> Result<Page<StatementLine>, StoreError> {
        let limit = i64::from(q.itens_por_pagina);
        let offset = i64::from(q.pagina) * limit;
        // The page and its total from one snapshot, so that they agree while entries arrive.
        let mut tx = super::snapshot(&self.pool).await?;
        let rows = sqlx::query!(
            r#"SELECT p.id, t.created_at, t.kind, a.kind AS account_kind, p.amount, t.reference
                 FROM ledger_postings p
                 JOIN ledger_accounts a ON a.id = p.account_id
                 JOIN ledger_transactions t ON t.id = p.transaction_id
                WHERE a.merchant_id = $1
                  AND ($2::timestamptz IS NULL OR t.created_at >= $2)
                  AND ($3::timestamptz IS NULL OR t.created_at <= $3)
                ORDER BY p.id DESC
                LIMIT $4 OFFSET $5"#,
            merchant.0,
            q.inicio,
            q.fim,
            limit,
            offset
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(store_error)?;
        let total = if let Some(total) = super::total_from_page(rows.len(), limit, offset) {
            total
        } else {
            sqlx::query_scalar!(
                r#"SELECT count(*) AS "n!" FROM ledger_postings p
                     JOIN ledger_accounts a ON a.id = p.account_id
                     JOIN ledger_transactions t ON t.id = p.transaction_id
                    WHERE a.merchant_id = $1
                      AND ($2::timestamptz IS NULL OR t.created_at >= $2)
                      AND ($3::timestamptz IS NULL OR t.created_at <= $3)"#,
                merchant.0,
                q.inicio,
                q.fim
            )
            .fetch_one(&mut *tx)
            .await
            .map_err(store_error)?
        };
        let items = rows
            .into_iter()
            .map(|r| {
                Ok(StatementLine {
                    id: r.id,
                    at: r.created_at,
                    kind: EntryKind::parse(&r.kind).ok_or_else(|| StoreError::Unexpected(anyhow!("entry kind")))?,
                    available: r.account_kind == "merchant_available",
                    amount: r.amount,
                    reference: r.reference,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Page { items, total: u64::try_from(total).unwrap_or(0) })
    }

    async fn owed(&self) -> Result<Vec<(MerchantId, Amount)>, StoreError> {
        let rows = sqlx::query!(
            r#"SELECT merchant_id AS "merchant_id!", (-sum(amount))::bigint AS "owed!"
                 FROM receivable_postings WHERE merchant_id IS NOT NULL
                GROUP BY 1 HAVING sum(amount) < 0
                ORDER BY 2 DESC, 1"#
        )
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.into_iter().map(|r| Ok((MerchantId(r.merchant_id), amount(r.owed)?))).collect()
    }

    async fn repay_owed(&self, merchant: MerchantId) -> Result<Amount, StoreError> {
        amount(repay_owed(&self.pool, &self.accounts, merchant, Some(PARTIAL_REPAYMENT_EVERY)).await?)
    }

    async fn check(&self) -> Result<Vec<String>, StoreError> {
        let mut failures = vec![];
        let unbalanced = sqlx::query!(
            r#"SELECT t.id, t.kind, t.natural_key, coalesce(sum(p.amount), 0)::bigint AS "sum!", count(p.id) AS "legs!"
                 FROM ledger_transactions t LEFT JOIN ledger_postings p ON p.transaction_id = t.id
                GROUP BY t.id HAVING coalesce(sum(p.amount), 0) <> 0 OR count(p.id) < 2"#
        )
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        for r in unbalanced {
            failures.push(format!(
                "zero-sum: transaction {} ({} {}) sums to {} over {} postings",
                r.id, r.kind, r.natural_key, r.sum, r.legs
            ));
        }
        // What a merchant owes operations is read from the entries that touch the
        // receivable (`tucano ledger owed`): each must book a transfer or a refund, or be a
        // repayment of its merchant's available balance to the receivable, and no merchant
        // repays more than it owed.
        let unattributed = sqlx::query_scalar!(
            r#"SELECT 'owed: entry ' || transaction_id || ' moves the operations receivable for no transfer or refund'
                      AS "line!"
                 FROM receivable_postings WHERE merchant_id IS NULL
               UNION ALL
               SELECT 'owed: merchant ' || merchant_id || ' repaid ' || sum(amount) || ' more than it owed'
                 FROM receivable_postings WHERE merchant_id IS NOT NULL GROUP BY merchant_id HAVING sum(amount) > 0
               UNION ALL
               SELECT 'owed: repayment ' || t.id || ' is not ' || x.repaid || ' from its merchant''s available balance'
                 FROM ledger_transactions t
                CROSS JOIN LATERAL (
                   SELECT coalesce(sum(p.amount) FILTER (WHERE a.kind = 'operations_receivable'), 0) AS repaid,
                          count(*) FILTER (WHERE a.kind = 'merchant_available'
                                             AND a.merchant_id::text = split_part(t.natural_key, ':', 1)) AS merchant_legs,
                          count(*) AS legs,
                          coalesce(sum(p.amount) FILTER (WHERE a.kind = 'merchant_available'), 0) AS taken
                     FROM ledger_postings p JOIN ledger_accounts a ON a.id = p.account_id
                    WHERE p.transaction_id = t.id) x
                WHERE t.kind = 'debt_repayment'
                  AND (x.repaid <= 0 OR x.legs <> 2 OR x.merchant_legs <> 1 OR x.taken <> -x.repaid)"#
        )
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        failures.extend(unattributed);
        // Neither reference is a foreign key: the posting trigger checks both (20261204000005).
        let orphans = sqlx::query_scalar!(
            r#"SELECT 'accounts: posting ' || p.id || ' points at no account' AS "line!"
                 FROM ledger_postings p LEFT JOIN ledger_accounts a ON a.id = p.account_id WHERE a.id IS NULL
               UNION ALL
               SELECT 'entries: posting ' || p.id || ' belongs to no ledger entry'
                 FROM ledger_postings p LEFT JOIN ledger_transactions t ON t.id = p.transaction_id WHERE t.id IS NULL"#
        )
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        failures.extend(orphans);
        let accounts = sqlx::query!(
            r#"SELECT a.id, a.kind, a.merchant_id, a.min_balance,
                      coalesce(b.total, 0)::bigint AS "balance!", coalesce(p.total, 0)::bigint AS "postings!"
                 FROM ledger_accounts a
                 LEFT JOIN (SELECT account_id, sum(balance) AS total FROM ledger_balances GROUP BY account_id) b
                        ON b.account_id = a.id
                 LEFT JOIN (SELECT account_id, sum(amount) AS total FROM ledger_postings GROUP BY account_id) p
                        ON p.account_id = a.id
                WHERE coalesce(b.total, 0) <> coalesce(p.total, 0)
                   OR (a.min_balance IS NOT NULL AND coalesce(p.total, 0) < a.min_balance)"#
        )
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        for r in accounts {
            let owner = r.merchant_id.map_or_else(|| "platform".to_owned(), |m| format!("merchant {m}"));
            if r.balance != r.postings {
                failures.push(format!(
                    "balances: account {} ({}, {owner}) holds {} but its postings sum to {}",
                    r.id, r.kind, r.balance, r.postings
                ));
            }
            if r.min_balance.is_some_and(|min| r.postings < min) {
                failures.push(format!("negative: account {} ({}, {owner}) is at {}", r.id, r.kind, r.postings));
            }
        }
        let business = sqlx::query_scalar!(
            r#"SELECT 'received Pix ' || r.end_to_end_id || ' has no ledger entry' AS "line!"
                 FROM received_pix r
                 LEFT JOIN ledger_transactions t ON t.kind = 'pix_received' AND t.natural_key = r.end_to_end_id
                WHERE t.id IS NULL
               UNION ALL
               SELECT 'ledger entry ' || t.id || ' (pix_received) has no received Pix'
                 FROM ledger_transactions t
                 LEFT JOIN received_pix r ON r.end_to_end_id = t.natural_key
                WHERE t.kind = 'pix_received' AND r.id IS NULL
               UNION ALL
               SELECT 'transfer return ' || r.rtr_id || ' has no ledger entry'
                 FROM transfer_returns r
                 LEFT JOIN ledger_transactions t ON t.kind = 'transfer_return' AND t.natural_key = r.rtr_id
                WHERE t.id IS NULL
               UNION ALL
               SELECT 'ledger entry ' || t.id || ' (transfer_return) has no transfer return'
                 FROM ledger_transactions t
                 LEFT JOIN transfer_returns r ON r.rtr_id = t.natural_key
                WHERE t.kind = 'transfer_return' AND r.id IS NULL
               UNION ALL
               -- A received Pix's entry books its amount at the rail, its fee as revenue and
               -- the rest to its merchant (all of it to suspense when no merchant owns the key).
               SELECT 'received Pix ' || r.end_to_end_id || ' of ' || r.valor || ' (fee ' || r.fee || ') is booked as '
                      || x.rail || ' at the rail, ' || x.fee || ' in fees, ' || x.merchant || ' to its merchant'
                 FROM received_pix r
                 JOIN ledger_transactions t ON t.kind = 'pix_received' AND t.natural_key = r.end_to_end_id
                CROSS JOIN LATERAL (
                   SELECT coalesce(sum(p.amount) FILTER (WHERE a.kind = 'rail_settlement'), 0) AS rail,
                          coalesce(sum(p.amount) FILTER (WHERE a.kind = 'fee_revenue'), 0) AS fee,
                          coalesce(sum(p.amount) FILTER (WHERE a.kind = 'merchant_available'
                                                           AND a.merchant_id = r.merchant_id), 0) AS merchant
                     FROM ledger_postings p JOIN ledger_accounts a ON a.id = p.account_id
                    WHERE p.transaction_id = t.id) x
                WHERE x.rail <> -r.valor
                   OR x.fee <> CASE WHEN r.merchant_id IS NULL THEN 0 ELSE r.fee END
                   OR x.merchant <> CASE WHEN r.merchant_id IS NULL THEN 0 ELSE r.valor - r.fee END
               UNION ALL
               -- A return books its amount at the rail, and credits no other merchant.
               SELECT 'transfer return ' || r.rtr_id || ' of ' || r.valor || ' is booked as ' || x.rail
                      || ' at the rail' || CASE WHEN x.others <> 0 THEN ' and moves another merchant''s money' ELSE '' END
                 FROM transfer_returns r
                 JOIN ledger_transactions t ON t.kind = 'transfer_return' AND t.natural_key = r.rtr_id
                CROSS JOIN LATERAL (
                   SELECT coalesce(sum(p.amount) FILTER (WHERE a.kind = 'rail_settlement'), 0) AS rail,
                          count(*) FILTER (WHERE a.merchant_id IS NOT NULL AND a.merchant_id <> r.merchant_id) AS others
                     FROM ledger_postings p JOIN ledger_accounts a ON a.id = p.account_id
                    WHERE p.transaction_id = t.id) x
                WHERE x.rail <> -r.valor OR x.others <> 0
               UNION ALL
               -- Refunds never send back more than the Pix brought in (a rail that settles one
               -- after rejecting it can make them: operations must see it).
               SELECT 'received Pix ' || r.end_to_end_id || ' of ' || r.valor || ' had ' || f.back || ' refunded'
                 FROM received_pix r
                 JOIN (SELECT received_pix_id, sum(coalesce(valor_liquidado, valor)) AS back FROM refunds
                        WHERE status = 'DEVOLVIDO' GROUP BY received_pix_id) f ON f.received_pix_id = r.id
                WHERE f.back > r.valor"#
        )
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        failures.extend(business.into_iter().map(|l| format!("records: {l}")));
        // Money out (transfers and refunds): exactly one reservation of the movement's
        // amount; a pending one has nothing else; a final one exactly one settle or void,
        // nothing left reserved, and what left through the rail is what it settled (none
        // for a voided one). Corrections count toward the sums.
        let movements = sqlx::query_scalar!(
            r#"WITH e AS (
                   SELECT t.id, split_part(t.kind, '_', 1) AS flow, split_part(t.kind, '_', 2) AS step,
                          split_part(t.natural_key, ':', 1) AS key
                     FROM ledger_transactions t
                    WHERE t.kind IN ('transfer_reserve', 'transfer_settle', 'transfer_void', 'transfer_correction',
                                     'refund_reserve', 'refund_settle', 'refund_void', 'refund_correction')),
               s AS (
                   SELECT e.flow, e.key,
                          count(DISTINCT e.id) FILTER (WHERE e.step = 'reserve') AS reserves,
                          count(DISTINCT e.id) FILTER (WHERE e.step IN ('settle', 'void')) AS finals,
                          count(DISTINCT e.id) FILTER (WHERE e.step = 'correction') AS corrections,
                          coalesce(sum(p.amount) FILTER (WHERE e.step = 'reserve' AND a.kind = 'merchant_pending'), 0) AS reserved,
                          coalesce(sum(p.amount) FILTER (WHERE a.kind = 'merchant_pending'), 0) AS pending,
                          coalesce(sum(p.amount) FILTER (WHERE a.kind = 'rail_settlement'), 0) AS rail
                     FROM e JOIN ledger_postings p ON p.transaction_id = e.id
                     JOIN ledger_accounts a ON a.id = p.account_id
                    GROUP BY e.flow, e.key)
               SELECT m.flow || ' ' || m.key || ' (' || m.booked || ') ' || c.problem AS "line!"
                 FROM outgoing_movements m
                 LEFT JOIN s ON s.flow = m.flow AND s.key = m.key
                CROSS JOIN LATERAL (VALUES
                   (coalesce(s.reserves, 0) <> 1, 'has ' || coalesce(s.reserves, 0) || ' reservations'),
                   (coalesce(s.reserved, 0) <> m.valor, 'reserved ' || coalesce(s.reserved, 0) || ' of ' || m.valor),
                   (m.booked = 'pending' AND coalesce(s.finals, 0) + coalesce(s.corrections, 0) > 0,
                    'is pending but has a verdict booked'),
                   (m.booked = 'pending' AND coalesce(s.pending, 0) <> m.valor,
                    'is pending but holds ' || coalesce(s.pending, 0) || ' reserved'),
                   (m.booked <> 'pending' AND coalesce(s.finals, 0) <> 1,
                    'has ' || coalesce(s.finals, 0) || ' settlements or voids'),
                   (m.booked <> 'pending' AND coalesce(s.pending, 0) <> 0,
                    'is final but leaves ' || coalesce(s.pending, 0) || ' reserved'),
                   (m.booked = 'settled' AND coalesce(s.rail, 0) IS DISTINCT FROM m.valor_liquidado,
                    'sent ' || coalesce(s.rail, 0) || ' through the rail but settled ' || coalesce(m.valor_liquidado::text, 'nothing')),
                   (m.booked = 'voided' AND coalesce(s.rail, 0) <> 0,
                    'was not made but ' || coalesce(s.rail, 0) || ' went through the rail')
                ) AS c(failed, problem)
                WHERE c.failed
               UNION ALL
               SELECT s.flow || ' ledger entries for ' || s.key || ' have no ' || s.flow
                 FROM s LEFT JOIN outgoing_movements m ON m.flow = s.flow AND m.key = s.key
                WHERE m.key IS NULL"#
        )
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        failures.extend(movements.into_iter().map(|l| format!("movements: {l}")));
        Ok(failures)
    }
}
