//! The idempotency record store.

use super::*;

use crate::domain::idempotency::{Begin, IdempotencyKey, StoredResponse};

/// Where idempotency records live (Postgres locally, DynamoDB in AWS). One contract test
/// suite runs against every implementation. The conditional write is the lock.
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims `key` for a request with `hash` (writing an in-progress record locked until
    /// `lock_until`) unless a live record exists, in which case it says what that means.
    async fn begin(
        &self,
        scope: MerchantId,
        key: &IdempotencyKey,
        hash: &[u8; 32],
        lock_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Begin, StoreError>;
    /// Stores the response of the request that holds the key, kept until `keep_until`.
    async fn complete(
        &self,
        scope: MerchantId,
        key: &IdempotencyKey,
        hash: &[u8; 32],
        response: &StoredResponse,
        keep_until: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Drops the in-progress record of a request that failed before any effect, so that
    /// the client can retry with the same key.
    async fn release(&self, scope: MerchantId, key: &IdempotencyKey, hash: &[u8; 32]) -> Result<(), StoreError>;
}
