//! What every function runs on: database credentials, the clock, request quotas and secrets.

use super::*;

/// Keeps the credentials new database connections log in with valid: with IAM database
/// authentication, a token about to age out is replaced (a local signature, no network).
#[async_trait]
pub trait DatabaseAuth: Send + Sync {
    async fn keep_fresh(&self) -> Result<(), StoreError>;
}

/// The current time, as a port: tests fix it to check time-dependent rules (the Pix night
/// limit, the daily limit's reset) without waiting for the clock.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The real clock.
pub struct SystemClock;

impl SystemClock {
    /// Wall time, for what another party checks against its own clock (the timestamps of
    /// signed messages): never moved by a test's clock. Everything else asks the `Clock`.
    pub fn wall() -> DateTime<Utc> {
        Utc::now()
    }
}

/// How long ago `at` was, by the wall clock: what an in-process cache's age is judged by.
/// A Lambda environment is frozen between invocations, and its monotonic clock is not
/// promised to move meanwhile while the world does; a clock that went back counts as long
/// ago (stale).
pub fn wall_age(at: std::time::SystemTime) -> std::time::Duration {
    std::time::SystemTime::now().duration_since(at).unwrap_or(std::time::Duration::MAX)
}

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Self::wall()
    }
}

/// Counters of requests per merchant: fixed windows, and the key-lookup token bucket.
#[async_trait]
pub trait RateCounter: Send + Sync {
    /// Counts one request in the window and answers how many it now holds.
    async fn count(
        &self,
        merchant: MerchantId,
        quota: &'static str,
        window_start: DateTime<Utc>,
    ) -> Result<u32, StoreError>;
    /// Adds `delta` thousandths of a token to the merchant's bucket (refilled to `now`
    /// first; a new bucket starts full) — only if the result stays at or above `floor`.
    /// Answers the tokens it holds after, and whether `delta` was applied.
    async fn adjust_bucket(
        &self,
        merchant: MerchantId,
        bucket: crate::domain::quota::DictBucket,
        delta: i64,
        floor: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<(i64, bool), StoreError>;
}

/// A secret as the store holds it: its value now and, while a rotation overlaps, the one
/// before.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretVersions {
    pub current: Vec<u8>,
    pub previous: Option<Vec<u8>>,
}

impl std::fmt::Debug for SecretVersions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretVersions(***)")
    }
}

/// Where secrets are read from at run time (Secrets Manager in AWS), so that none sits
/// in a function's configuration.
#[async_trait]
pub trait SecretSource: Send + Sync {
    async fn read(&self, id: &str) -> Result<SecretVersions, StoreError>;
}

/// A secret held for signing and verifying (the rail's): its versions now, and a re-read
/// when the other side seems to have rotated it (at most once a minute, whatever asks).
#[async_trait]
pub trait HeldSecret: Send + Sync {
    async fn versions(&self) -> Result<SecretVersions, StoreError>;
    /// Reads the secret again if allowed now; whether it did.
    async fn reread(&self) -> bool;
}
