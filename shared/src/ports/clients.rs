//! OAuth clients: their store.

use super::*;
use crate::domain::oauth::{ClientId, Scopes, SecretHash};

/// A client to register for a merchant.
#[derive(Debug, Clone)]
pub struct NewClient {
    pub id: ClientId,
    pub name: String,
    pub scopes: Scopes,
    pub secret_hash: SecretHash,
}

/// A client as stored: what the token endpoint checks and operators list.
#[derive(Debug, Clone)]
pub struct ClientRecord {
    pub id: ClientId,
    pub merchant: MerchantId,
    pub name: String,
    pub scopes: Scopes,
    pub secret_hash: SecretHash,
    /// After a rotation, the previous secret and until when it is still accepted.
    pub previous: Option<(SecretHash, DateTime<Utc>)>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ClientRecord {
    /// Whether `presented` is this client's secret at `now` (the current one, or the
    /// previous one within its overlap). A revoked client has none.
    pub fn accepts(&self, presented: &str, now: DateTime<Utc>) -> bool {
        if self.revoked_at.is_some() {
            return false;
        }
        // Both compared, whatever the first says: no timing difference between them.
        let current = self.secret_hash.matches(presented);
        let previous = self.previous.is_some_and(|(hash, until)| hash.matches(presented) && now < until);
        current | previous
    }
}

#[async_trait]
pub trait ClientStore: Send + Sync {
    async fn create(&self, merchant: MerchantId, new: NewClient) -> Result<ClientRecord, StoreError>;
    async fn get(&self, id: &ClientId) -> Result<Option<ClientRecord>, StoreError>;
    async fn list(&self, merchant: MerchantId) -> Result<Vec<ClientRecord>, StoreError>;
    /// A new current secret; the current one stays accepted until `previous_until`.
    /// None when there is no such live client.
    async fn rotate(
        &self,
        id: &ClientId,
        secret_hash: SecretHash,
        previous_until: DateTime<Utc>,
    ) -> Result<Option<ClientRecord>, StoreError>;
    /// Revokes for good; false when there is no such live client.
    async fn revoke(&self, id: &ClientId) -> Result<bool, StoreError>;
    /// The clients revoked at or after `since` (the database's clock).
    async fn revoked_since(&self, since: DateTime<Utc>) -> Result<Vec<ClientId>, StoreError>;
}
