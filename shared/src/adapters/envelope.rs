//! The envelope format shared by every `Cipher`, and the AES-256-GCM under it.
//!
//! `0x01 | provider | u16 length of the encrypted data key | encrypted data key | 12-byte
//! nonce | AES-256-GCM ciphertext and tag`. The associated data is the context
//! (`merchant=...;purpose=...`), so an envelope moved to another merchant or purpose
//! fails to decrypt. Data keys are cached (bounded in entries, age and uses) so that
//! KMS is not called for every value.

use crate::ports::wall_age;
use crate::ports::{CipherContext, CipherError};
use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use rand::RngCore;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

const VERSION: u8 = 1;
pub const PROVIDER_LOCAL: u8 = 1;
pub const PROVIDER_KMS: u8 = 2;
const NONCE_LEN: usize = 12;

/// A data key: the plaintext (only in memory) and the same key encrypted by the master key.
#[derive(Clone)]
pub struct DataKey {
    pub plaintext: [u8; 32],
    pub encrypted: Vec<u8>,
}

pub fn aad(context: CipherContext) -> Vec<u8> {
    let merchant = context.merchant.map(|m| m.0.to_string()).unwrap_or_else(|| "none".into());
    format!("merchant={merchant};purpose={}", context.purpose).into_bytes()
}

/// AES-256-GCM with a fresh random nonce: `nonce | ciphertext+tag`.
pub fn seal(key: &[u8; 32], plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, CipherError> {
    let cipher = Aes256Gcm::new_from_slice(key).map_err(|e| CipherError::Unexpected(anyhow::anyhow!("{e}")))?;
    let mut nonce = [0u8; NONCE_LEN];
    rand::thread_rng().fill_bytes(&mut nonce);
    let ct = cipher
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad })
        .map_err(|_| CipherError::Unexpected(anyhow::anyhow!("AES-GCM encryption failed")))?;
    Ok([nonce.as_slice(), &ct].concat())
}

pub fn open(key: &[u8; 32], sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, CipherError> {
    if sealed.len() < NONCE_LEN + 16 {
        return Err(CipherError::Rejected);
    }
    let cipher = Aes256Gcm::new_from_slice(key).map_err(|e| CipherError::Unexpected(anyhow::anyhow!("{e}")))?;
    let (nonce, ct) = sealed.split_at(NONCE_LEN);
    cipher.decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad }).map_err(|_| CipherError::Rejected)
}

pub fn encode(provider: u8, key: &DataKey, sealed: &[u8]) -> Result<Vec<u8>, CipherError> {
    let len = u16::try_from(key.encrypted.len())
        .map_err(|_| CipherError::Unexpected(anyhow::anyhow!("data key too long")))?;
    Ok([&[VERSION, provider][..], &len.to_be_bytes(), &key.encrypted, sealed].concat())
}

/// (provider, encrypted data key, sealed payload)
pub fn decode(envelope: &[u8]) -> Result<(u8, &[u8], &[u8]), CipherError> {
    if envelope.len() < 4 || envelope[0] != VERSION {
        return Err(CipherError::Rejected);
    }
    let len = usize::from(u16::from_be_bytes([envelope[2], envelope[3]]));
    let rest = &envelope[4..];
    if rest.len() < len {
        return Err(CipherError::Rejected);
    }
    let (key, sealed) = rest.split_at(len);
    Ok((envelope[1], key, sealed))
}

/// Bounded caches of data keys: for encryption, one per context, reused for a while; for
/// decryption, by encrypted key.
pub struct KeyCache {
    encrypt: Mutex<HashMap<Vec<u8>, (DataKey, SystemTime, u32)>>,
    decrypt: Mutex<HashMap<Vec<u8>, ([u8; 32], SystemTime)>>,
}

const MAX_ENTRIES: usize = 1_000;
const MAX_AGE: Duration = Duration::from_secs(300);
const MAX_USES: u32 = 10_000;

impl Default for KeyCache {
    fn default() -> Self {
        KeyCache { encrypt: Mutex::new(HashMap::new()), decrypt: Mutex::new(HashMap::new()) }
    }
}

impl KeyCache {
    pub fn for_encryption(&self, aad: &[u8]) -> Option<DataKey> {
        let mut map = self.encrypt.lock().ok()?;
        let entry = map.get_mut(aad)?;
        if wall_age(entry.1) > MAX_AGE || entry.2 >= MAX_USES {
            map.remove(aad);
            return None;
        }
        entry.2 += 1;
        Some(entry.0.clone())
    }

    pub fn keep_for_encryption(&self, aad: &[u8], key: &DataKey) {
        if let Ok(mut map) = self.encrypt.lock() {
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
            map.insert(aad.to_vec(), (key.clone(), SystemTime::now(), 1));
        }
    }

    pub fn for_decryption(&self, encrypted: &[u8]) -> Option<[u8; 32]> {
        let map = self.decrypt.lock().ok()?;
        map.get(encrypted).filter(|(_, at)| wall_age(*at) <= MAX_AGE).map(|(k, _)| *k)
    }

    pub fn keep_for_decryption(&self, encrypted: &[u8], key: [u8; 32]) {
        if let Ok(mut map) = self.decrypt.lock() {
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
            map.insert(encrypted.to_vec(), (key, SystemTime::now()));
        }
    }
}

/// HMAC-SHA256(index key, purpose || 0 || value).
pub fn blind_index(index_key: &[u8; 32], purpose: &str, value: &[u8]) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(index_key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(purpose.as_bytes());
    mac.update(&[0]);
    mac.update(value);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ages the cache's entries by `by` of wall time, as a frozen environment finds them.
    fn age(cache: &KeyCache, by: Duration) {
        for (_, at, _) in cache.encrypt.lock().unwrap().values_mut() {
            *at -= by;
        }
        for (_, at) in cache.decrypt.lock().unwrap().values_mut() {
            *at -= by;
        }
    }

    #[test]
    fn a_data_key_is_reused_until_it_is_too_old_by_the_wall_clock() {
        let cache = KeyCache::default();
        let key = DataKey { plaintext: [7; 32], encrypted: vec![1, 2, 3] };
        cache.keep_for_encryption(b"ctx", &key);
        cache.keep_for_decryption(&key.encrypted, key.plaintext);
        assert!(cache.for_encryption(b"ctx").is_some());
        assert_eq!(cache.for_decryption(&key.encrypted), Some(key.plaintext));
        age(&cache, MAX_AGE + Duration::from_secs(1));
        assert!(cache.for_encryption(b"ctx").is_none());
        assert_eq!(cache.for_decryption(&key.encrypted), None);
    }

    #[test]
    fn a_wall_clock_that_went_back_makes_an_entry_stale() {
        assert_eq!(wall_age(SystemTime::now() + Duration::from_secs(60)), Duration::MAX);
        assert!(wall_age(SystemTime::now() - Duration::from_secs(5)) >= Duration::from_secs(5));
    }
}
