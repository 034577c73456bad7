//! Signed payloads, both ways: what our payload locations answer (the charge's payload as
//! an RS256 JWS with `kid`, `x5t` and `jku`; the JWK Set at `jku`), and how we open another
//! PSP's before paying it (as a payer's bank must): a compact JWS, its `jku` on the
//! location's own host, the key of its `kid` and `x5t`, a valid signature, and a signing
//! certificate that chains to a trusted CA and names that host.

use crate::domain::jws::{self, Header, JwkSet, JwsError, TrustStore};
use crate::domain::location::LocationFailure;
use crate::ports::{CipherError, PayloadSigner};
use std::future::Future;

/// Where our JWK Set is published, on every location host.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

/// The `jku` for payloads served under `location_base` (host and path, no scheme).
pub fn jku(scheme: &str, location_base: &str) -> String {
    let host = location_base.split('/').next().unwrap_or(location_base);
    format!("{scheme}://{host}{JWKS_PATH}")
}

/// `payload` (the JSON a location serves) signed with the signer's current key.
pub async fn sign(signer: &dyn PayloadSigner, payload: &[u8], jku: &str) -> Result<String, CipherError> {
    let key = signer.current();
    let header = Header::new(&key.kid, &key.chain.x5t(), jku);
    let input = jws::signing_input(&header, payload);
    let signature = signer.sign(input.as_bytes()).await?;
    Ok(jws::compact(&input, &signature))
}

/// A signer whose key set also publishes another key: the next one a while before it
/// starts signing (payers' banks may hold our key set in a cache), or the previous one a
/// while after. Signing is the inner signer's.
pub struct AlsoPublishing {
    inner: std::sync::Arc<dyn PayloadSigner>,
    published: Vec<crate::ports::PublishedKey>,
}

impl AlsoPublishing {
    /// `inner` publishing `other` too, unless it is the same key.
    pub fn new(inner: std::sync::Arc<dyn PayloadSigner>, other: crate::ports::PublishedKey) -> Self {
        let mut published = inner.published().to_vec();
        if published.iter().all(|k| k.kid != other.kid && k.chain.x5t() != other.chain.x5t()) {
            published.push(other);
        }
        AlsoPublishing { inner, published }
    }
}

#[async_trait::async_trait]
impl PayloadSigner for AlsoPublishing {
    fn current(&self) -> &crate::ports::PublishedKey {
        self.inner.current()
    }

    fn published(&self) -> &[crate::ports::PublishedKey] {
        &self.published
    }

    async fn sign(&self, input: &[u8]) -> Result<Vec<u8>, CipherError> {
        self.inner.sign(input).await
    }
}

/// The JWK Set of every key the signer publishes.
pub fn jwks(signer: &dyn PayloadSigner) -> Result<JwkSet, JwsError> {
    let keys = signer.published().iter().map(|k| k.chain.jwk(&k.kid)).collect::<Result<_, _>>()?;
    Ok(JwkSet { keys })
}

/// The payload inside the JWS `body` read from `location_url` (with its scheme), once its
/// signature, key set and certificate check out; `fetch` reads the key set at a URL (the
/// caller's guarded client). `now` is Unix seconds, for the certificate's validity.
pub async fn open<F, Fut>(
    body: &[u8],
    location_url: &url::Url,
    trust: &TrustStore,
    now: u64,
    fetch: F,
) -> Result<Vec<u8>, LocationFailure>
where
    F: FnOnce(url::Url) -> Fut,
    Fut: Future<Output = Result<Vec<u8>, LocationFailure>>,
{
    let text = std::str::from_utf8(body).map_err(|_| LocationFailure::NotSigned)?;
    let parsed = jws::parse(text).map_err(|e| match e {
        JwsError::Algorithm => LocationFailure::NotSigned,
        _ if text.trim_start().starts_with('{') => LocationFailure::NotSigned,
        _ => LocationFailure::NotAPayload,
    })?;
    // The key set must be on the location's own host (same scheme, host and port): anyone
    // can publish a key set somewhere else.
    let jku = url::Url::parse(&parsed.header.jku).map_err(|_| LocationFailure::BadSignature)?;
    let same_site = jku.scheme() == location_url.scheme()
        && jku.host_str().is_some()
        && jku.host_str() == location_url.host_str()
        && jku.port_or_known_default() == location_url.port_or_known_default();
    if !same_site {
        return Err(LocationFailure::BadSignature);
    }
    let host = location_url.host_str().unwrap_or_default().trim_matches(|c| c == '[' || c == ']').to_owned();
    let keys = JwkSet::from_json(&fetch(jku).await.map_err(|_| LocationFailure::BadSignature)?)
        .map_err(|_| LocationFailure::BadSignature)?;
    let jwk = parsed.verify(&keys).map_err(|_| LocationFailure::BadSignature)?;
    trust.check(jwk, &host, now).map_err(|_| LocationFailure::BadSignature)?;
    Ok(parsed.payload)
}

/// Signed payloads kept a few seconds per location, charge revision and status, so a burst
/// of reads of one QR code (payers' apps polling it) does not call KMS for each; a revision
/// or a status change is a new entry at once. `apresentacao` is then up to `ttl` old.
pub struct SignedCache {
    ttl: std::time::Duration,
    entries: std::sync::Mutex<std::collections::HashMap<CacheKey, (std::time::SystemTime, std::sync::Arc<str>)>>,
}

/// (location token, txid, revision, status): a location may serve another charge after
/// an unlink, and each charge has its own revisions.
pub type CacheKey = (String, String, i32, &'static str);

/// At most this many entries; a full cache is emptied (a burst is what it serves).
const CACHE_MAX: usize = 10_000;

impl SignedCache {
    pub fn new(ttl: std::time::Duration) -> Self {
        SignedCache { ttl, entries: Default::default() }
    }

    pub fn get(&self, key: &CacheKey) -> Option<std::sync::Arc<str>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.get(key).filter(|(at, _)| crate::ports::wall_age(*at) < self.ttl).map(|(_, jws)| jws.clone())
    }

    pub fn put(&self, key: CacheKey, jws: std::sync::Arc<str>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= CACHE_MAX {
            entries.clear();
        }
        entries.insert(key, (std::time::SystemTime::now(), jws));
    }
}
