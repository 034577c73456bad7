//! The `Cipher` on AWS KMS: envelope encryption with data keys from `GenerateDataKey`
//! (bound to the merchant + purpose encryption context), decrypted with `Decrypt` and
//! cached within bounds. The blind-index key is itself a KMS-encrypted blob, decrypted
//! once at cold start.

use super::aws::{blob, blob_of, AwsClient, AwsContext, AwsError, Service};
use super::envelope::{aad, blind_index, decode, encode, open, seal, DataKey, KeyCache, PROVIDER_KMS};
use crate::ports::{Cipher, CipherContext, CipherError};
use async_trait::async_trait;
use serde_json::{json, Value};

pub struct KmsCipher {
    client: AwsClient,
    key_id: String,
    /// None in the functions that hold no index key (the public ones).
    index_key: Option<[u8; 32]>,
    cache: KeyCache,
}

use crate::ports::purpose::BLIND_INDEX_KEY as INDEX_KEY_PURPOSE;

fn kms_context(context: CipherContext) -> Value {
    let merchant = context.merchant.map(|m| m.0.to_string()).unwrap_or_else(|| "none".into());
    json!({"merchant": merchant, "purpose": context.purpose})
}

fn kms_error(e: AwsError) -> CipherError {
    match e.code() {
        Some("InvalidCiphertextException" | "IncorrectKeyException") => CipherError::Rejected,
        _ if e.is_transient() => CipherError::Unavailable(e.into()),
        _ => CipherError::Unexpected(e.into()),
    }
}

fn key32(v: &Value) -> Result<[u8; 32], CipherError> {
    blob_of(v).and_then(|b| b.try_into().ok()).ok_or(CipherError::Rejected)
}

/// `GenerateDataKey` (AES-256) under `key_id`, bound to `context`.
async fn generate_data_key(client: &AwsClient, key_id: &str, context: CipherContext) -> Result<Value, CipherError> {
    let input = json!({"KeyId": key_id, "KeySpec": "AES_256", "EncryptionContext": kms_context(context)});
    client.call("GenerateDataKey", &input).await.map_err(kms_error)
}

/// `Decrypt` of a data key made under `key_id` for `context`.
async fn decrypt_key(
    client: &AwsClient,
    key_id: &str,
    encrypted: &[u8],
    context: CipherContext,
) -> Result<[u8; 32], CipherError> {
    let input = json!({"KeyId": key_id, "CiphertextBlob": blob(encrypted), "EncryptionContext": kms_context(context)});
    key32(&client.call("Decrypt", &input).await.map_err(kms_error)?["Plaintext"])
}

impl KmsCipher {
    /// `wrapped_index_key`: 32 random bytes encrypted under `key_id` with the context
    /// `{merchant: none, purpose: blind-index-key}` (see `wrap_index_key`), decrypted now;
    /// None for a function that holds no index key.
    pub async fn new(
        aws: &AwsContext,
        key_id: impl Into<String>,
        wrapped_index_key: Option<&[u8]>,
    ) -> Result<Self, CipherError> {
        let client = aws.client(Service::Kms);
        let key_id = key_id.into();
        let context = CipherContext { merchant: None, purpose: INDEX_KEY_PURPOSE };
        let index_key = match wrapped_index_key {
            Some(wrapped) => Some(decrypt_key(&client, &key_id, wrapped, context).await?),
            None => None,
        };
        Ok(KmsCipher { index_key, client, key_id, cache: KeyCache::default() })
    }

    /// Makes a new wrapped blind-index key (done once per environment, kept as config).
    pub async fn wrap_index_key(aws: &AwsContext, key_id: &str) -> Result<Vec<u8>, CipherError> {
        let context = CipherContext { merchant: None, purpose: INDEX_KEY_PURPOSE };
        let out = generate_data_key(&aws.client(Service::Kms), key_id, context).await?;
        blob_of(&out["CiphertextBlob"]).ok_or(CipherError::Rejected)
    }
}

#[async_trait]
impl Cipher for KmsCipher {
    async fn encrypt(&self, plaintext: &[u8], context: CipherContext) -> Result<Vec<u8>, CipherError> {
        let aad = aad(context);
        let key = match self.cache.for_encryption(&aad) {
            Some(k) => k,
            None => {
                let out = generate_data_key(&self.client, &self.key_id, context).await?;
                let encrypted = blob_of(&out["CiphertextBlob"]).ok_or(CipherError::Rejected)?;
                let key = DataKey { plaintext: key32(&out["Plaintext"])?, encrypted };
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
                let k = decrypt_key(&self.client, &self.key_id, encrypted_key, context).await?;
                self.cache.keep_for_decryption(encrypted_key, k);
                k
            }
        };
        open(&key, sealed, &aad)
    }

    fn blind_index(&self, purpose: &'static str, value: &[u8]) -> Result<[u8; 32], CipherError> {
        let key = self
            .index_key
            .as_ref()
            .ok_or_else(|| CipherError::Unexpected(anyhow::anyhow!("this function holds no blind-index key")))?;
        Ok(blind_index(key, purpose, value))
    }
}
