//! Payload signing with an asymmetric KMS key (`RSA_2048`+, `SIGN_VERIFY`): KMS signs the
//! SHA-256 digest (`RSASSA_PKCS1_V1_5_SHA_256`, i.e. RS256); the private key never leaves
//! it. The certificate chain is the PSP's (a stage parameter); at cold start the key's
//! public half is checked against the chain's leaf, so a mismatch stops the function
//! instead of publishing signatures nobody can verify.

use super::aws::{blob, blob_of, AwsClient, AwsContext, AwsError, Service};
use crate::domain::jws::CertificateChain;
use crate::ports::{CipherError, PayloadSigner, PublishedKey};
use async_trait::async_trait;
use rsa::pkcs8::DecodePublicKey;
use serde_json::json;
use sha2::Digest;

/// The longest message KMS signs as it is.
const RAW_MESSAGE_MAX: usize = 4096;

pub struct KmsSigner {
    client: AwsClient,
    key_id: String,
    published: Vec<PublishedKey>,
}

fn kms_error(e: AwsError) -> CipherError {
    if e.is_transient() {
        CipherError::Unavailable(e.into())
    } else {
        CipherError::Unexpected(e.into())
    }
}

impl KmsSigner {
    /// Signs with `key_id`, publishing `chain` under `kid` (by default the leaf's thumbprint).
    pub async fn new(
        aws: &AwsContext,
        key_id: &str,
        chain: CertificateChain,
        kid: Option<&str>,
    ) -> anyhow::Result<Self> {
        let client = aws.client(Service::Kms);
        let answer = client.call("GetPublicKey", &json!({"KeyId": key_id})).await?;
        let der = blob_of(&answer["PublicKey"]).ok_or_else(|| anyhow::anyhow!("KMS GetPublicKey: no PublicKey"))?;
        let kms_key = rsa::RsaPublicKey::from_public_key_der(&der)
            .map_err(|_| anyhow::anyhow!("the KMS signing key is not an RSA key"))?;
        anyhow::ensure!(
            kms_key == chain.public_key()?,
            "the KMS signing key is not the key of the certificate chain's leaf"
        );
        Ok(KmsSigner { client, key_id: key_id.into(), published: vec![PublishedKey::new(chain, kid)] })
    }
}

#[async_trait]
impl PayloadSigner for KmsSigner {
    fn current(&self) -> &PublishedKey {
        &self.published[0]
    }

    fn published(&self) -> &[PublishedKey] {
        &self.published
    }

    async fn sign(&self, input: &[u8]) -> Result<Vec<u8>, CipherError> {
        // KMS hashes a RAW message itself (up to 4 KiB); a longer input goes as its SHA-256
        // (DIGEST). Both give the same RS256 signature.
        let (message, kind) = if input.len() <= RAW_MESSAGE_MAX {
            (input.to_vec(), "RAW")
        } else {
            (sha2::Sha256::digest(input).to_vec(), "DIGEST")
        };
        let request = json!({"KeyId": self.key_id, "Message": blob(&message), "MessageType": kind,
                             "SigningAlgorithm": "RSASSA_PKCS1_V1_5_SHA_256"});
        let answer = self.client.call("Sign", &request).await.map_err(kms_error)?;
        blob_of(&answer["Signature"]).ok_or_else(|| CipherError::Unexpected(anyhow::anyhow!("KMS Sign: no Signature")))
    }
}
