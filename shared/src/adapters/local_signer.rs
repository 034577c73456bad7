//! DEV-ONLY payload signing with an RSA key held in memory (PEM, PKCS#8), for `make dev`
//! and tests; in AWS the key stays in KMS (`kms_signer`).

use crate::domain::jws::{CertificateChain, JwsError};
use crate::ports::{CipherError, PayloadSigner, PublishedKey};
use async_trait::async_trait;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use rsa::traits::PublicKeyParts;

pub struct LocalSigner {
    key: SigningKey<sha2::Sha256>,
    published: Vec<PublishedKey>,
}

/// Why a local key cannot sign.
#[derive(Debug, thiserror::Error)]
pub enum LocalKeyError {
    #[error("the private key is not an RSA key in PKCS#8 PEM")]
    BadKey,
    #[error(transparent)]
    Chain(#[from] JwsError),
    #[error("the private key does not belong to the chain's leaf certificate")]
    Mismatch,
}

impl LocalSigner {
    /// The key in `key_pem` publishing `chain_pem` (leaf first) under `kid` (by default the
    /// leaf's thumbprint); the key must be the leaf's.
    pub fn new(key_pem: &str, chain_pem: &[u8], kid: Option<&str>) -> Result<Self, LocalKeyError> {
        let key = rsa::RsaPrivateKey::from_pkcs8_pem(key_pem).map_err(|_| LocalKeyError::BadKey)?;
        let chain = CertificateChain::from_pem(chain_pem)?;
        let leaf = chain.public_key()?;
        if leaf.n() != key.n() || leaf.e() != key.e() {
            return Err(LocalKeyError::Mismatch);
        }
        Ok(LocalSigner { key: SigningKey::new(key), published: vec![PublishedKey::new(chain, kid)] })
    }
}

#[async_trait]
impl PayloadSigner for LocalSigner {
    fn current(&self) -> &PublishedKey {
        &self.published[0]
    }

    fn published(&self) -> &[PublishedKey] {
        &self.published
    }

    async fn sign(&self, input: &[u8]) -> Result<Vec<u8>, CipherError> {
        Ok(self.key.try_sign(input).map_err(|e| CipherError::Unexpected(anyhow::anyhow!("RSA signing: {e}")))?.to_vec())
    }
}
