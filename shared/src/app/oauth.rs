//! OAuth2 client credentials: issuing access tokens (`POST /oauth/token`) and checking
//! them on every request without a database read per request.
//!
//! The signing key is derived from the platform's index key (wrapped by KMS in AWS, the
//! DEV-ONLY local key otherwise) under its own label: it is never stored, every function
//! that holds a cipher can verify, and nothing readable in the database reveals it. Keys
//! carry a `kid`, so a new one can be added beside the old for a token lifetime.
//!
//! Per warm instance, the gate keeps the list of recently revoked clients (re-read every
//! `revocation_refresh`) and the merchants it has seen (for as long): a revoked client's
//! tokens stop working within that interval, and a request costs no database read.

use crate::app::AppState;
use crate::domain::merchant::{Merchant, MerchantId};
use crate::domain::oauth::{self, Claims, ClientId, Scopes, SigningKey, TokenError};
use crate::ports::wall_age;
use crate::ports::{Cipher, ClientStore, MerchantStore, StoreError};
use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};
use tokio::sync::Mutex;

/// The label the signing key is derived under (an index-key purpose of its own).
const SIGNING_KEY_LABEL: &str = "oauth-access-token";
/// The current key's id.
const CURRENT_KID: &str = "v1";

/// The keys tokens are signed and verified with, current first; none in a function that
/// holds no index key (its tokens neither issued nor accepted).
pub fn signing_keys(cipher: &dyn Cipher) -> Vec<SigningKey> {
    match cipher.blind_index(SIGNING_KEY_LABEL, CURRENT_KID.as_bytes()) {
        Ok(secret) => vec![SigningKey { kid: CURRENT_KID, secret }],
        Err(_) => vec![],
    }
}

/// A token as the endpoint answers it.
#[derive(Debug)]
pub struct Grant {
    pub access_token: String,
    pub expires_in: u64,
    pub scopes: Scopes,
}

/// Why no token was issued: the error codes of RFC 6749 §5.2.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// Unknown client, wrong secret, or a revoked client.
    #[error("invalid_client")]
    InvalidClient,
    /// A scope the client does not hold, or that does not exist.
    #[error("invalid_scope")]
    InvalidScope,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Issues a token to the client `client_id` presenting `secret`, for `requested` scopes
/// (all of the client's when absent; never more).
pub async fn issue(
    state: &AppState,
    client_id: &str,
    secret: &str,
    requested: Option<&str>,
) -> Result<Grant, GrantError> {
    let id = ClientId::parse(client_id).ok_or(GrantError::InvalidClient)?;
    let client = state.clients.get(&id).await?.ok_or(GrantError::InvalidClient)?;
    let now = state.clock.now();
    if !client.accepts(secret, now) {
        return Err(GrantError::InvalidClient);
    }
    let scopes = match requested {
        None => client.scopes,
        Some(list) => {
            let asked = Scopes::parse(list).map_err(|_| GrantError::InvalidScope)?;
            if asked.is_empty() {
                client.scopes
            } else if client.scopes.covers(asked) {
                asked
            } else {
                return Err(GrantError::InvalidScope);
            }
        }
    };
    let ttl = state.config.tokens.ttl;
    let claims = Claims {
        iss: oauth::ISSUER.into(),
        sub: client.id.to_string(),
        mid: client.merchant.0,
        scope: scopes.to_string(),
        iat: now.timestamp(),
        exp: now.timestamp() + i64::try_from(ttl.as_secs()).unwrap_or(3600),
        jti: uuid::Uuid::new_v4().simple().to_string(),
    };
    let key = state.tokens.keys.first().ok_or_else(|| {
        GrantError::Store(StoreError::Unexpected(anyhow::anyhow!("no token signing key is configured")))
    })?;
    Ok(Grant { access_token: oauth::sign(&claims, key), expires_in: ttl.as_secs(), scopes })
}

/// Why a presented token is refused.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// Bad, expired, or its client revoked: 401.
    #[error("invalid token")]
    Invalid,
    /// The revocation list could not be refreshed in time: 503.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks tokens for one warm instance (see the module's note on what it caches).
pub struct TokenGate {
    pub keys: Vec<SigningKey>,
    refresh: Duration,
    /// How far back revocations matter: a token issued before lives at most `ttl`.
    window: Duration,
    revoked: Mutex<Option<(SystemTime, HashSet<ClientId>)>>,
    merchants: Mutex<HashMap<MerchantId, (SystemTime, Merchant)>>,
}

impl TokenGate {
    pub fn new(keys: Vec<SigningKey>, settings: crate::app::TokenSettings) -> TokenGate {
        TokenGate {
            keys,
            refresh: settings.revocation_refresh,
            // A token may have been issued under the longest lifetime any instance allows, not
            // only this one's; plus a margin for clock skew between functions and the database.
            window: Duration::from_secs(crate::app::config::MAX_TOKEN_TTL_SECONDS + 600),
            revoked: Mutex::new(None),
            merchants: Mutex::new(HashMap::new()),
        }
    }

    /// The merchant and scopes of a valid, unexpired token whose client is not revoked.
    pub async fn admit(
        &self,
        token: &str,
        now: DateTime<Utc>,
        clients: &dyn ClientStore,
        merchants: &dyn MerchantStore,
    ) -> Result<(Merchant, Scopes), Refused> {
        let claims = oauth::verify(token, &self.keys, now.timestamp()).map_err(|e: TokenError| {
            tracing::debug!(reason = ?e, "access token refused");
            Refused::Invalid
        })?;
        // No token outlives the longest lifetime we issue: the revocation list looks back
        // that far and no further.
        if claims.exp.saturating_sub(claims.iat) > crate::app::config::MAX_TOKEN_TTL_SECONDS as i64 {
            return Err(Refused::Invalid);
        }
        let client = claims.client().ok_or(Refused::Invalid)?;
        if self.is_revoked(&client, clients).await? {
            return Err(Refused::Invalid);
        }
        let merchant = self.merchant(claims.merchant(), merchants).await?.ok_or(Refused::Invalid)?;
        Ok((merchant, claims.scopes()))
    }

    async fn is_revoked(&self, client: &ClientId, clients: &dyn ClientStore) -> Result<bool, StoreError> {
        let mut guard = self.revoked.lock().await;
        let fresh = guard.as_ref().is_some_and(|(at, _)| wall_age(*at) < self.refresh);
        if !fresh {
            // Stamped before the query: a revocation committed while it runs is within the
            // next refresh, so the bound stays `refresh`.
            let started = SystemTime::now();
            let since = Utc::now() - chrono::Duration::from_std(self.window).unwrap_or(chrono::Duration::days(2));
            let list = clients.revoked_since(since).await?;
            *guard = Some((started, list.into_iter().collect()));
        }
        Ok(guard.as_ref().is_some_and(|(_, set)| set.contains(client)))
    }

    async fn merchant(&self, id: MerchantId, merchants: &dyn MerchantStore) -> Result<Option<Merchant>, StoreError> {
        if let Some((at, m)) = self.merchants.lock().await.get(&id) {
            if wall_age(*at) < self.refresh {
                return Ok(Some(m.clone()));
            }
        }
        let found = merchants.by_id(id).await?;
        let mut cache = self.merchants.lock().await;
        // Bounded: a warm instance serves few merchants, but a flood of valid tokens for
        // many must not grow it without end.
        if cache.len() >= 10_000 {
            cache.clear();
        }
        if let Some(m) = &found {
            cache.insert(id, (SystemTime::now(), m.clone()));
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::oauth::{ClientSecret, Scope};
    use crate::ports::ClientRecord;

    #[test]
    fn a_rotated_client_accepts_its_previous_secret_only_within_the_overlap() {
        let (old, new) = (ClientSecret::generate(), ClientSecret::generate());
        let now = Utc::now();
        let client = ClientRecord {
            id: ClientId::generate(),
            merchant: MerchantId(uuid::Uuid::nil()),
            name: "erp".into(),
            scopes: Scopes::parse(Scope::CobRead.as_str()).unwrap(),
            secret_hash: new.hash(),
            previous: Some((old.hash(), now + chrono::Duration::minutes(5))),
            created_at: now,
            revoked_at: None,
        };
        assert!(client.accepts(new.expose(), now));
        assert!(client.accepts(old.expose(), now));
        assert!(!client.accepts(old.expose(), now + chrono::Duration::minutes(5)));
        let revoked = ClientRecord { revoked_at: Some(now), ..client };
        assert!(!revoked.accepts(new.expose(), now));
    }
}
