//! The platform's own wrapped keys in Postgres: the blind-index key is made once per
//! environment (on the first deploy) and read back on every later one.

use super::store_error;
use crate::adapters::kms_cipher::KmsCipher;
use crate::ports::StoreError;
use sqlx::PgPool;

/// The wrapped blind-index key of this database, made under `key_id` if there is none yet.
/// Concurrent callers converge on the first one stored.
pub async fn ensure_blind_index_key(
    pool: &PgPool,
    aws: &crate::adapters::aws::AwsContext,
    key_id: &str,
) -> Result<Vec<u8>, StoreError> {
    let existing = sqlx::query_scalar!("SELECT wrapped FROM platform_keys WHERE name = 'blind-index'")
        .fetch_optional(pool)
        .await
        .map_err(store_error)?;
    if let Some(wrapped) = existing {
        return Ok(wrapped);
    }
    let fresh =
        KmsCipher::wrap_index_key(aws, key_id).await.map_err(|e| StoreError::Unavailable(anyhow::Error::new(e)))?;
    sqlx::query!(
        "INSERT INTO platform_keys (name, wrapped) VALUES ('blind-index', $1) ON CONFLICT (name) DO NOTHING",
        fresh
    )
    .execute(pool)
    .await
    .map_err(store_error)?;
    sqlx::query_scalar!("SELECT wrapped FROM platform_keys WHERE name = 'blind-index'")
        .fetch_one(pool)
        .await
        .map_err(store_error)
}
