//! Operating OAuth clients (the CLI locally, the admin function in AWS): create with
//! scopes, list, rotate a secret with an overlap, revoke. Secrets are returned once and
//! stored only as hashes.

use crate::domain::merchant::MerchantId;
use crate::domain::oauth::{ClientId, ClientSecret, Scopes};
use crate::ports::{ClientRecord, ClientStore, NewClient, StoreError};
use chrono::{DateTime, Utc};
use std::time::Duration;

/// The longest overlap a rotation may give the previous secret.
pub const MAX_OVERLAP: Duration = Duration::from_secs(7 * 24 * 3600);

/// Why an operation on clients failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientAdminError {
    #[error("a client name has 1 to 100 characters")]
    BadName,
    #[error("a client needs at least one scope")]
    NoScope,
    #[error("the overlap is at most 7 days")]
    OverlapTooLong,
    #[error("no such live client")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A new client (not yet stored) and its secret, shown once.
pub fn new_client(name: &str, scopes: Scopes) -> Result<(NewClient, ClientSecret), ClientAdminError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ClientAdminError::BadName);
    }
    if scopes.is_empty() {
        return Err(ClientAdminError::NoScope);
    }
    let secret = ClientSecret::generate();
    Ok((NewClient { id: ClientId::generate(), name: name.to_owned(), scopes, secret_hash: secret.hash() }, secret))
}

pub async fn create(
    clients: &dyn ClientStore,
    merchant: MerchantId,
    name: &str,
    scopes: Scopes,
) -> Result<(ClientRecord, ClientSecret), ClientAdminError> {
    let (new, secret) = new_client(name, scopes)?;
    Ok((clients.create(merchant, new).await?, secret))
}

/// A new secret; the current one keeps working for `overlap` after `now`.
pub async fn rotate(
    clients: &dyn ClientStore,
    id: &ClientId,
    overlap: Duration,
    now: DateTime<Utc>,
) -> Result<(ClientRecord, ClientSecret), ClientAdminError> {
    if overlap > MAX_OVERLAP {
        return Err(ClientAdminError::OverlapTooLong);
    }
    let secret = ClientSecret::generate();
    let until = now + chrono::Duration::from_std(overlap).map_err(|_| ClientAdminError::OverlapTooLong)?;
    let record = clients.rotate(id, secret.hash(), until).await?.ok_or(ClientAdminError::NotFound)?;
    Ok((record, secret))
}

pub async fn revoke(clients: &dyn ClientStore, id: &ClientId) -> Result<(), ClientAdminError> {
    if clients.revoke(id).await? {
        Ok(())
    } else {
        Err(ClientAdminError::NotFound)
    }
}

/// A client as operators see it (no hash).
pub fn describe(c: &ClientRecord) -> serde_json::Value {
    serde_json::json!({
        "client_id": c.id.as_str(),
        "merchant_id": c.merchant.to_string(),
        "name": c.name,
        "scope": c.scopes.to_string(),
        "created_at": c.created_at.to_rfc3339(),
        "previous_secret_valid_until": c.previous.map(|(_, until)| until.to_rfc3339()),
        "revoked_at": c.revoked_at.map(|t| t.to_rfc3339()),
    })
}
