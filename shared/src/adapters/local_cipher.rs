//! DEV-ONLY cipher: the same envelope format as KMS, with the master key in memory (from
//! `TUCANO_DEV_MASTER_KEY` or a `.tucano/` file). Never use it in production: whoever has
//! the file has every secret.

use super::envelope::{aad, blind_index, decode, encode, open, seal, DataKey, KeyCache, PROVIDER_LOCAL};
use crate::ports::{Cipher, CipherContext, CipherError};
use async_trait::async_trait;
use rand::RngCore;

pub struct LocalCipher {
    master: [u8; 32],
    index_key: [u8; 32],
    cache: KeyCache,
}

impl LocalCipher {
    /// A cipher under `master` (32 bytes). The blind-index key is derived from it.
    pub fn new(master: [u8; 32]) -> Self {
        tracing::warn!("using the LOCAL DEV-ONLY cipher: secrets are protected by a key on this machine");
        let index_key = blind_index(&master, "tucano-blind-index-key", b"");
        LocalCipher { master, index_key, cache: KeyCache::default() }
    }

    fn data_key(&self, aad: &[u8]) -> Result<DataKey, CipherError> {
        if let Some(k) = self.cache.for_encryption(aad) {
            return Ok(k);
        }
        let mut plaintext = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut plaintext);
        let key = DataKey { plaintext, encrypted: seal(&self.master, &plaintext, aad)? };
        self.cache.keep_for_encryption(aad, &key);
        Ok(key)
    }
}

#[async_trait]
impl Cipher for LocalCipher {
    async fn encrypt(&self, plaintext: &[u8], context: CipherContext) -> Result<Vec<u8>, CipherError> {
        let aad = aad(context);
        let key = self.data_key(&aad)?;
        encode(PROVIDER_LOCAL, &key, &seal(&key.plaintext, plaintext, &aad)?)
    }

    async fn decrypt(&self, envelope: &[u8], context: CipherContext) -> Result<Vec<u8>, CipherError> {
        let aad = aad(context);
        let (provider, encrypted_key, sealed) = decode(envelope)?;
        if provider != PROVIDER_LOCAL {
            return Err(CipherError::Rejected);
        }
        let key = match self.cache.for_decryption(encrypted_key) {
            Some(k) => k,
            None => {
                let k: [u8; 32] =
                    open(&self.master, encrypted_key, &aad)?.try_into().map_err(|_| CipherError::Rejected)?;
                self.cache.keep_for_decryption(encrypted_key, k);
                k
            }
        };
        open(&key, sealed, &aad)
    }

    fn blind_index(&self, purpose: &'static str, value: &[u8]) -> Result<[u8; 32], CipherError> {
        Ok(blind_index(&self.index_key, purpose, value))
    }
}
