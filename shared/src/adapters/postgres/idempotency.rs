//! Idempotency records on Postgres (the local default). The upsert that only overwrites a
//! record past its expiry is the lock.

use super::store_error;
use super::unexpected;
use crate::domain::idempotency::{Begin, IdempotencyKey, Record, StoredResponse};
use crate::domain::merchant::MerchantId;
use crate::ports::{IdempotencyStore, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::PgPool;

pub struct PgIdempotencyStore {
    pool: PgPool,
}

impl PgIdempotencyStore {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

#[async_trait]
impl IdempotencyStore for PgIdempotencyStore {
    async fn begin(
        &self,
        scope: MerchantId,
        key: &IdempotencyKey,
        hash: &[u8; 32],
        lock_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Begin, StoreError> {
        let claimed = sqlx::query_scalar!(
            r#"INSERT INTO idempotency_records (merchant_id, idempotency_key, request_hash, expires_at)
               VALUES ($1, $2, $3, $4)
               ON CONFLICT (merchant_id, idempotency_key) DO UPDATE
                  SET request_hash = EXCLUDED.request_hash, response_status = NULL, response_headers = NULL,
                      response_body = NULL, expires_at = EXCLUDED.expires_at
                WHERE idempotency_records.expires_at <= $5
               RETURNING true AS "claimed!""#,
            scope.0,
            key.as_str(),
            &hash[..],
            lock_until,
            now
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        if claimed.is_some() {
            return Ok(Begin::Run);
        }
        let r = sqlx::query!(
            r#"SELECT request_hash, response_status, response_headers, response_body, expires_at
                 FROM idempotency_records WHERE merchant_id = $1 AND idempotency_key = $2"#,
            scope.0,
            key.as_str()
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        // Released between the two statements (the request holding it failed): the client
        // retries, as with the DynamoDB store.
        let Some(r) = r else {
            return Err(StoreError::Unavailable(anyhow::anyhow!("idempotency record vanished; retry")));
        };
        // A completed record is written with its status, headers and body together: one
        // without the others, or headers that do not parse, is corrupt, never an empty replay.
        let response = match (r.response_status, r.response_headers, r.response_body) {
            (Some(status), Some(headers), Some(body)) => Some(StoredResponse {
                status: u16::try_from(status).map_err(unexpected)?,
                headers: serde_json::from_value(headers)
                    .map_err(|e| unexpected(anyhow::Error::new(e).context("stored response headers")))?,
                body,
            }),
            (None, None, None) => None,
            _ => return Err(unexpected(anyhow::anyhow!("an idempotency record with a partial stored response"))),
        };
        let request_hash: [u8; 32] =
            r.request_hash.try_into().map_err(|_| unexpected(anyhow::anyhow!("stored hash")))?;
        Ok(Record { request_hash, response, expires_at: r.expires_at }.decide(hash, now))
    }

    async fn complete(
        &self,
        scope: MerchantId,
        key: &IdempotencyKey,
        hash: &[u8; 32],
        response: &StoredResponse,
        keep_until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query!(
            r#"UPDATE idempotency_records
                  SET response_status = $4, response_headers = $5, response_body = $6, expires_at = $7
                WHERE merchant_id = $1 AND idempotency_key = $2 AND request_hash = $3 AND response_status IS NULL"#,
            scope.0,
            key.as_str(),
            &hash[..],
            i16::try_from(response.status).map_err(unexpected)?,
            serde_json::to_value(&response.headers).map_err(unexpected)?,
            &response.body,
            keep_until
        )
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(())
    }

    async fn release(&self, scope: MerchantId, key: &IdempotencyKey, hash: &[u8; 32]) -> Result<(), StoreError> {
        sqlx::query!(
            r#"DELETE FROM idempotency_records
                WHERE merchant_id = $1 AND idempotency_key = $2 AND request_hash = $3 AND response_status IS NULL"#,
            scope.0,
            key.as_str(),
            &hash[..]
        )
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(())
    }
}
