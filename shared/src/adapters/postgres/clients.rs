//! OAuth clients on Postgres (`oauth_clients`): secrets as SHA-256 hashes, revocation for
//! good (a trigger refuses un-revoking; the application role cannot delete).

use super::store_error;
use crate::domain::merchant::MerchantId;
use crate::domain::oauth::{ClientId, Scopes, SecretHash};
use crate::ports::{ClientRecord, ClientStore, NewClient, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

pub struct PgClientStore {
    pool: PgPool,
}

impl PgClientStore {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

/// Inserts `client` for `merchant` inside `tx` (also used when a merchant is registered).
pub(super) async fn insert(
    tx: &mut Transaction<'_, Postgres>,
    merchant: MerchantId,
    client: &NewClient,
) -> Result<(), StoreError> {
    let scopes: Vec<String> = client.scopes.names().into_iter().map(str::to_owned).collect();
    sqlx::query!(
        "INSERT INTO oauth_clients (id, merchant_id, name, scopes, secret_hash) VALUES ($1, $2, $3, $4, $5)",
        client.id.as_str(),
        merchant.0,
        client.name,
        &scopes,
        &client.secret_hash.0[..]
    )
    .execute(&mut **tx)
    .await
    .map_err(store_error)?;
    Ok(())
}

struct Row {
    id: String,
    merchant_id: Uuid,
    name: String,
    scopes: Vec<String>,
    secret_hash: Vec<u8>,
    previous_secret_hash: Option<Vec<u8>>,
    previous_valid_until: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
}

fn hash(bytes: &[u8]) -> Result<SecretHash, StoreError> {
    <[u8; 32]>::try_from(bytes)
        .map(SecretHash)
        .map_err(|_| StoreError::Unexpected(anyhow::anyhow!("a stored secret hash is not 32 bytes")))
}

impl TryFrom<Row> for ClientRecord {
    type Error = StoreError;

    fn try_from(r: Row) -> Result<Self, StoreError> {
        let unexpected = |what: &str| StoreError::Unexpected(anyhow::anyhow!("stored OAuth client: {what}"));
        let id = ClientId::parse(&r.id).ok_or_else(|| unexpected("bad id"))?;
        let scopes = Scopes::parse(&r.scopes.join(" ")).map_err(|_| unexpected("unknown scope"))?;
        let previous = match (r.previous_secret_hash, r.previous_valid_until) {
            (Some(h), Some(until)) => Some((hash(&h)?, until)),
            _ => None,
        };
        Ok(ClientRecord {
            id,
            merchant: MerchantId(r.merchant_id),
            name: r.name,
            scopes,
            secret_hash: hash(&r.secret_hash)?,
            previous,
            created_at: r.created_at,
            revoked_at: r.revoked_at,
        })
    }
}

#[async_trait]
impl ClientStore for PgClientStore {
    async fn create(&self, merchant: MerchantId, new: NewClient) -> Result<ClientRecord, StoreError> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        insert(&mut tx, merchant, &new).await?;
        tx.commit().await.map_err(store_error)?;
        self.get(&new.id).await?.ok_or_else(|| StoreError::Unexpected(anyhow::anyhow!("a created client is gone")))
    }

    async fn get(&self, id: &ClientId) -> Result<Option<ClientRecord>, StoreError> {
        sqlx::query_as!(
            Row,
            r#"SELECT id, merchant_id, name, scopes, secret_hash, previous_secret_hash, previous_valid_until,
                      created_at, revoked_at
                 FROM oauth_clients WHERE id = $1"#,
            id.as_str()
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?
        .map(ClientRecord::try_from)
        .transpose()
    }

    async fn list(&self, merchant: MerchantId) -> Result<Vec<ClientRecord>, StoreError> {
        sqlx::query_as!(
            Row,
            r#"SELECT id, merchant_id, name, scopes, secret_hash, previous_secret_hash, previous_valid_until,
                      created_at, revoked_at
                 FROM oauth_clients WHERE merchant_id = $1 ORDER BY created_at, id"#,
            merchant.0
        )
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?
        .into_iter()
        .map(ClientRecord::try_from)
        .collect()
    }

    async fn rotate(
        &self,
        id: &ClientId,
        secret_hash: SecretHash,
        previous_until: DateTime<Utc>,
    ) -> Result<Option<ClientRecord>, StoreError> {
        let updated = sqlx::query!(
            r#"UPDATE oauth_clients
                  SET previous_secret_hash = secret_hash, previous_valid_until = $3, secret_hash = $2
                WHERE id = $1 AND revoked_at IS NULL"#,
            id.as_str(),
            &secret_hash.0[..],
            previous_until
        )
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        if updated.rows_affected() == 0 {
            return Ok(None);
        }
        self.get(id).await
    }

    async fn revoke(&self, id: &ClientId) -> Result<bool, StoreError> {
        let updated = sqlx::query!(
            "UPDATE oauth_clients SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL",
            id.as_str()
        )
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(updated.rows_affected() == 1)
    }

    async fn revoked_since(&self, since: DateTime<Utc>) -> Result<Vec<ClientId>, StoreError> {
        let ids = sqlx::query_scalar!("SELECT id FROM oauth_clients WHERE revoked_at >= $1", since)
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(ids.iter().filter_map(|id| ClientId::parse(id)).collect())
    }
}
