//! Encryption of personal data and secrets, and the purposes each function may use.

use super::*;

/// What an encrypted value is bound to: decrypting under another merchant or purpose
/// fails. Sent to KMS as its encryption context and used as AES-GCM associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CipherContext {
    /// None for data that belongs to no merchant (money parked in suspense).
    pub merchant: Option<MerchantId>,
    pub purpose: &'static str,
}

/// Why a value could not be encrypted or decrypted. Never carries the value.
#[derive(Debug, thiserror::Error)]
pub enum CipherError {
    /// Tampered, truncated, or under another context or key: never garbage.
    #[error("ciphertext rejected")]
    Rejected,
    /// The key service is unreachable or throttling.
    #[error("key service unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// Anything else: a bug, a misconfigured key, or a purpose outside the key policy.
    #[error("unexpected cipher failure")]
    Unexpected(#[source] anyhow::Error),
}

/// Envelope encryption (a data key per context, itself encrypted by a master key held in
/// KMS in AWS or locally for development) and keyed blind indexes for lookups.
#[async_trait]
pub trait Cipher: Send + Sync {
    async fn encrypt(&self, plaintext: &[u8], context: CipherContext) -> Result<Vec<u8>, CipherError>;
    async fn decrypt(&self, envelope: &[u8], context: CipherContext) -> Result<Vec<u8>, CipherError>;
    /// HMAC-SHA256 of `value` under a secret index key, per purpose: equal values give
    /// equal indexes, so `WHERE index = $1` finds them without storing the value. An
    /// error where this function holds no index key (the public ones: the key also derives
    /// the access tokens' signing key).
    fn blind_index(&self, purpose: &'static str, value: &[u8]) -> Result<[u8; 32], CipherError>;
}

/// The encryption purposes (`purpose` in the encryption context): what a sealed value is
/// for. Each function may use only those its route-table entry lists (`app::key_policy`).
pub mod purpose {
    /// The devedor's document on a charge.
    pub const DEVEDOR: &str = "devedor";
    /// The pagador's document on a received Pix.
    pub const PAGADOR: &str = "pagador";
    /// A bank-account receiver's document on a transfer.
    pub const FAVORECIDO: &str = "favorecido";
    /// Webhook signing secrets.
    pub const WEBHOOK_SECRET: &str = "webhook-secret";
    /// Responses kept for idempotent replay.
    pub const IDEMPOTENCY_RESPONSE: &str = "idempotency-response";
    /// The blind-index key, decrypted once at cold start by every function that holds a
    /// cipher (and made once by the migrations function).
    pub const BLIND_INDEX_KEY: &str = "blind-index-key";

    /// Not a KMS purpose: the rail's shared secret (in Secrets Manager), which can sign a
    /// received Pix. Listed with a function's purposes only when it signs or verifies rail
    /// messages: its role may read the secret, and the secret refuses every other function
    /// here as IAM does in AWS.
    pub const RAIL_SECRET: &str = "rail-secret";

    /// Every purpose, for the functions that are trusted with all of them (none are today:
    /// the migrations function only makes the blind-index key).
    pub const ALL: &[&str] = &[DEVEDOR, PAGADOR, FAVORECIDO, WEBHOOK_SECRET, IDEMPOTENCY_RESPONSE, BLIND_INDEX_KEY];
}

/// A key payload locations are signed with, as published: its `kid` and certificate chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedKey {
    pub kid: String,
    pub chain: crate::domain::jws::CertificateChain,
}

impl PublishedKey {
    /// `chain` under `kid`, or by default under its leaf's thumbprint (`x5t`): distinct for
    /// every certificate, so a key rotating in never shares a `kid` with the one going out.
    pub fn new(chain: crate::domain::jws::CertificateChain, kid: Option<&str>) -> Self {
        let kid = kid.map(str::to_owned).unwrap_or_else(|| chain.x5t());
        PublishedKey { kid, chain }
    }
}

/// Signs the JWS a dynamic BR Code's payload location answers (RS256, `domain::jws`) with
/// the PSP's key: an asymmetric KMS key in AWS (the private key never leaves KMS), a PEM
/// key locally (DEV-ONLY).
#[async_trait]
pub trait PayloadSigner: Send + Sync {
    /// The key new signatures are made with.
    fn current(&self) -> &PublishedKey;
    /// Every key to publish in the JWK Set, the current one first (and, while one rotates
    /// in or out, the other: `signed_payloads::AlsoPublishing`).
    fn published(&self) -> &[PublishedKey];
    /// The RS256 signature of `input` with the current key.
    async fn sign(&self, input: &[u8]) -> Result<Vec<u8>, CipherError>;
}
