//! The `Cipher` on AWS KMS: envelope encryption with data keys from `GenerateDataKey`
//! (bound to the merchant + purpose encryption context), decrypted with `Decrypt` and
//! cached within bounds. The blind-index key is itself a KMS-encrypted blob, decrypted
//! once at cold start.

use super::envelope::{aad, blind_index, decode, encode, open, seal, DataKey, KeyCache, PROVIDER_KMS};
use crate::ports::{Cipher, CipherContext, CipherError};
use async_trait::async_trait;
use aws_sdk_kms::error::SdkError;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use aws_sdk_kms::Client;
use std::collections::HashMap;

pub struct KmsCipher {
    client: Client,
    key_id: String,
    index_key: [u8; 32],
    cache: KeyCache,
}

use crate::ports::purpose::BLIND_INDEX_KEY as INDEX_KEY_PURPOSE;

fn kms_context(context: CipherContext) -> HashMap<String, String> {
    let merchant = context.merchant.map(|m| m.0.to_string()).unwrap_or_else(|| "none".into());
    HashMap::from([("merchant".to_owned(), merchant), ("purpose".to_owned(), context.purpose.to_owned())])
}

fn kms_error<E: std::error::Error + Send + Sync + 'static, R: std::fmt::Debug + Send + Sync + 'static>(
    e: SdkError<E, R>,
) -> CipherError {
    let text = format!("{e:?}");
    if text.contains("InvalidCiphertextException") || text.contains("IncorrectKeyException") {
        CipherError::Rejected
    } else if matches!(e, SdkError::TimeoutError(_) | SdkError::DispatchFailure(_)) || text.contains("Throttling") {
        CipherError::Unavailable(anyhow::Error::new(e))
    } else {
        CipherError::Unexpected(anyhow::Error::new(e))
    }
}

fn key32(blob: Option<Blob>) -> Result<[u8; 32], CipherError> {
    blob.and_then(|b| b.into_inner().try_into().ok()).ok_or(CipherError::Rejected)
}

impl KmsCipher {
    /// `wrapped_index_key`: 32 random bytes encrypted under `key_id` with the context
    /// `{merchant: none, purpose: blind-index-key}` (see `wrap_index_key`).
    pub async fn new(client: Client, key_id: impl Into<String>, wrapped_index_key: &[u8]) -> Result<Self, CipherError> {
        let key_id = key_id.into();
        let context = CipherContext { merchant: None, purpose: INDEX_KEY_PURPOSE };
        let out = client
            .decrypt()
            .key_id(&key_id)
            .ciphertext_blob(Blob::new(wrapped_index_key))
            .set_encryption_context(Some(kms_context(context)))
            .send()
            .await
            .map_err(kms_error)?;
        Ok(KmsCipher { index_key: key32(out.plaintext)?, client, key_id, cache: KeyCache::default() })
    }

    /// Makes a new wrapped blind-index key (done once per environment, kept as config).
    pub async fn wrap_index_key(client: &Client, key_id: &str) -> Result<Vec<u8>, CipherError> {
        let context = CipherContext { merchant: None, purpose: INDEX_KEY_PURPOSE };
        let out = client
            .generate_data_key()
            .key_id(key_id)
            .key_spec(DataKeySpec::Aes256)
            .set_encryption_context(Some(kms_context(context)))
            .send()
            .await
            .map_err(kms_error)?;
        out.ciphertext_blob.map(Blob::into_inner).ok_or(CipherError::Rejected)
    }
}

#[async_trait]
impl Cipher for KmsCipher {
    async fn encrypt(&self, plaintext: &[u8], context: CipherContext) -> Result<Vec<u8>, CipherError> {
        let aad = aad(context);
        let key = match self.cache.for_encryption(&aad) {
            Some(k) => k,
            None => {
                let out = self
                    .client
                    .generate_data_key()
                    .key_id(&self.key_id)
                    .key_spec(DataKeySpec::Aes256)
                    .set_encryption_context(Some(kms_context(context)))
                    .send()
                    .await
                    .map_err(kms_error)?;
                let encrypted = out.ciphertext_blob.map(Blob::into_inner).ok_or(CipherError::Rejected)?;
                let key = DataKey { plaintext: key32(out.plaintext)?, encrypted };
                self.cache.keep_for_encryption(&aad, &key);
                key
            }
        };
        encode(PROVIDER_KMS, &key, &seal(&key.plaintext, plaintext, &aad)?)
    }

    async fn decrypt(&self, envelope: &[u8], context: CipherContext) -> Result<Vec<u8>, CipherError> {
        let aad = aad(context);
        let (provider, encrypted_key, sealed) = decode(envelope)?;
        if provider != PROVIDER_KMS {
            return Err(CipherError::Rejected);
        }
        let key = match self.cache.for_decryption(encrypted_key) {
            Some(k) => k,
            None => {
                let out = self
                    .client
                    .decrypt()
                    .key_id(&self.key_id)
                    .ciphertext_blob(Blob::new(encrypted_key))
                    .set_encryption_context(Some(kms_context(context)))
                    .send()
                    .await
                    .map_err(kms_error)?;
                let k = key32(out.plaintext)?;
                self.cache.keep_for_decryption(encrypted_key, k);
                k
            }
        };
        open(&key, sealed, &aad)
    }

    fn blind_index(&self, purpose: &'static str, value: &[u8]) -> [u8; 32] {
        blind_index(&self.index_key, purpose, value)
    }
}
