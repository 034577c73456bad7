//! The Postgres adapters (merchants, charges, ...), the connection pool and migrations.

mod charges;
mod clients;
mod documents;
mod due_charges;
pub mod iam_auth;
mod idempotency;
mod ledger;
pub mod liveness;
mod locations;
mod lotes;
mod merchants;
mod pix;
mod pix_batch;
pub mod platform_keys;
mod quotas;
mod recurrences;
pub mod scram;
mod transfers;
mod verdicts;
mod webhooks;

pub use charges::PgChargeStore;
pub use clients::PgClientStore;
pub use due_charges::PgDueChargeStore;
pub use idempotency::PgIdempotencyStore;
pub use ledger::{AccountDirectory, PgLedger};
pub use locations::PgLocationStore;
pub use lotes::PgLoteStore;
pub use merchants::PgMerchantStore;
pub use pix::{key_owner, PgPixStore};
pub use quotas::PgRateCounter;
pub use recurrences::PgRecurrenceStore;
pub use transfers::PgTransferStore;
pub use webhooks::PgWebhookStore;

use crate::ports::StoreError;
use sqlx::postgres::{PgPool, PgPoolOptions};
use std::time::Duration;

/// A list's total when its page tells it: a page that is not full, and not past the end.
/// `None`: count on its own (an index scan, cheaper than a window count over every
/// matching row).
pub(crate) fn total_from_page(rows: usize, limit: i64, offset: i64) -> Option<i64> {
    let rows = i64::try_from(rows).ok()?;
    (rows < limit && (rows > 0 || offset == 0)).then_some(offset + rows)
}

/// The schema migrations, embedded at compile time from `migrations/`.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// A lazy pool: no connection is opened until the first query, so a Lambda cold start
/// does not pay for one it may not need, and a database outage does not stop start-up.
pub fn lazy_pool(database_url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    Ok(lazy_pool_with(database_url.parse()?, max_connections))
}

/// The role the API's functions connect as (migration 20261201000003).
pub const APPLICATION_ROLE: &str = "tucano_app";

/// Waits up to `within` for the database to take a connection, asking every 10 s (and at
/// the deadline); the last error after that. (A migration that then fails is not retried.)
pub async fn wait_until_reachable(pool: &PgPool, within: std::time::Duration) -> Result<(), sqlx::Error> {
    let deadline = std::time::Instant::now() + within;
    loop {
        match sqlx::query("SELECT 1").execute(pool).await {
            Ok(_) => return Ok(()),
            Err(e) if std::time::Instant::now() < deadline => {
                tracing::warn!(error = %e, "the database does not take connections yet; trying again");
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                tokio::time::sleep(left.min(std::time::Duration::from_secs(10))).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Sets the application role's password (the one RDS Proxy logs in with) from its SCRAM
/// verifier: the password itself is in no statement, so not in the DDL log either.
pub async fn set_application_password(pool: &PgPool, password: &str) -> Result<(), sqlx::Error> {
    let verifier = scram::new_verifier(password);
    sqlx::query(&format!("ALTER ROLE {APPLICATION_ROLE} WITH LOGIN PASSWORD '{verifier}'")).execute(pool).await?;
    Ok(())
}

pub use sqlx::postgres::PgConnectOptions;

/// [`lazy_pool`] on parsed options (a password set apart from the URL).
pub fn lazy_pool_with(options: PgConnectOptions, max_connections: u32) -> PgPool {
    pool_options(max_connections).connect_lazy_with(options)
}

/// The pool settings of the API (and of the benchmarks, which measure its path): a
/// connection is pinged before use only after a pause ([`liveness`]), not on every acquire.
pub fn pool_options(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .min_connections(0)
        .acquire_timeout(Duration::from_secs(5))
        .idle_timeout(Duration::from_secs(300))
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if liveness::needs_ping(meta.idle_for, liveness::acquired_now()) {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
}

/// Applies every pending migration.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}

/// A read-only transaction over one snapshot (REPEATABLE READ), for reads made of several
/// statements — a transfer and its returns, a received Pix and its refunds — so that a
/// change committed between two of them cannot show half of itself.
pub(crate) async fn snapshot(pool: &PgPool) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, StoreError> {
    let mut tx = pool.begin().await.map_err(store_error)?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
    Ok(tx)
}

/// A fault that is not the store's availability: a row that does not parse, a broken
/// invariant (500, its cause logged, never shown).
pub(crate) fn unexpected(e: impl Into<anyhow::Error>) -> StoreError {
    StoreError::Unexpected(e.into())
}

/// Connection-level failures are worth a retry (503); anything else is a bug (500).
pub(crate) fn store_error(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => {
            StoreError::Unavailable(e.into())
        }
        other => StoreError::Unexpected(other.into()),
    }
}

/// Whether `e` is a unique violation of the named constraint.
pub(crate) fn is_unique_violation(e: &sqlx::Error, constraint: &str) -> bool {
    e.as_database_error().is_some_and(|d| d.is_unique_violation() && d.constraint() == Some(constraint))
}

/// A charge of another kind (immediate or due, versus recurring) has the txid: one txid
/// space per merchant (migration 20261204000006).
pub(crate) fn is_txid_taken_elsewhere(e: &sqlx::Error) -> bool {
    is_unique_violation(e, "txid_free_elsewhere")
}

#[cfg(test)]
mod tests {
    use super::total_from_page;

    #[test]
    fn a_page_that_is_not_full_tells_the_total_and_an_empty_one_past_the_end_does_not() {
        assert_eq!(total_from_page(3, 10, 20), Some(23));
        assert_eq!(total_from_page(0, 10, 0), Some(0), "nothing at all");
        assert_eq!(total_from_page(10, 10, 0), None, "a full page: more may follow");
        assert_eq!(total_from_page(0, 10, 30), None, "past the end: the total is unknown");
    }
}
