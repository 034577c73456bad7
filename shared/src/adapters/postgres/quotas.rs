//! Request counters for per-merchant quotas: one row per merchant, quota and window for the
//! lists, one token bucket per merchant for key lookups.

use super::store_error;
use crate::domain::merchant::MerchantId;
use crate::domain::quota::DictBucket;
use crate::ports::{RateCounter, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::PgPool;

pub struct PgRateCounter {
    pool: PgPool,
}

impl PgRateCounter {
    pub fn new(pool: PgPool) -> Self {
        PgRateCounter { pool }
    }
}

#[async_trait]
impl RateCounter for PgRateCounter {
    async fn count(
        &self,
        merchant: MerchantId,
        quota: &'static str,
        window_start: DateTime<Utc>,
    ) -> Result<u32, StoreError> {
        // One statement: the merchant's finished windows go, this one counts one more.
        let used = sqlx::query_scalar!(
            r#"WITH finished AS (
                   DELETE FROM rate_windows WHERE merchant_id = $1 AND quota = $2 AND window_start < $3
               )
               INSERT INTO rate_windows (merchant_id, quota, window_start, used) VALUES ($1, $2, $3, 1)
               ON CONFLICT (merchant_id, quota, window_start) DO UPDATE SET used = rate_windows.used + 1
               RETURNING used"#,
            merchant.0,
            quota,
            window_start
        )
        .fetch_one(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(u32::try_from(used).unwrap_or(u32::MAX))
    }

    async fn adjust_bucket(
        &self,
        merchant: MerchantId,
        bucket: DictBucket,
        delta: i64,
        floor: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<(i64, bool), StoreError> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        // A new bucket starts full (two first requests at once: the second insert waits for
        // the first and does nothing); then the row is held while it is refilled and charged.
        sqlx::query!(
            "INSERT INTO dict_buckets (merchant_id, tokens_milli, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (merchant_id) DO NOTHING",
            merchant.0,
            bucket.capacity_milli,
            now
        )
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        let row = sqlx::query!(
            "SELECT tokens_milli, updated_at FROM dict_buckets WHERE merchant_id = $1 FOR UPDATE",
            merchant.0
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(store_error)?;
        let (refilled, used_ms) = bucket.refill(row.tokens_milli, (now - row.updated_at).num_milliseconds());
        let refilled_to = row.updated_at + chrono::Duration::milliseconds(used_ms);
        let after = refilled.saturating_add(delta).min(bucket.capacity_milli);
        let applied = floor.is_none_or(|f| after >= f);
        let tokens = if applied { after } else { refilled };
        // The time the refill used up (never ahead of `now`, never behind the stored time).
        sqlx::query!(
            "UPDATE dict_buckets SET tokens_milli = $2, updated_at = $3 WHERE merchant_id = $1",
            merchant.0,
            tokens,
            refilled_to
        )
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        Ok((tokens, applied))
    }
}
