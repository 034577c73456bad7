//! Opaque, per-merchant forms of internal sequence numbers (event cursors, statement line
//! ids): one AES block of the number and eight zero bytes, under a key derived for the
//! merchant and the id's use from the blind-index key. A merchant sees tokens that say
//! nothing about platform volume, another merchant's token does not open under its key,
//! and a made-up token fails the zero check (one in 2^64 passes).

use crate::domain::merchant::MerchantId;
use crate::ports::Cipher;
use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use aes::Aes256;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;

/// What an opaque id stands for: each use has its own keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdSpace {
    EventCursor,
    StatementLine,
}

impl IdSpace {
    fn purpose(self) -> &'static str {
        match self {
            IdSpace::EventCursor => "opaque-id:event-cursor",
            IdSpace::StatementLine => "opaque-id:statement-line",
        }
    }
}

/// The last four bytes of a pair token (a number token has zeros there).
const PAIR: [u8; 4] = [0xff; 4];

/// The sealing key of one merchant and space; make it once per page.
pub struct OpaqueIds(Aes256);

impl OpaqueIds {
    pub fn new(cipher: &dyn Cipher, space: IdSpace, merchant: MerchantId) -> Result<Self, crate::ports::CipherError> {
        let key = cipher.blind_index(space.purpose(), merchant.0.as_bytes())?;
        Ok(OpaqueIds(Aes256::new(&key.into())))
    }

    /// 22 URL-safe characters.
    pub fn seal(&self, n: i64) -> String {
        let mut block = [0u8; 16];
        block[..8].copy_from_slice(&n.to_be_bytes());
        let mut block = block.into();
        self.0.encrypt_block(&mut block);
        B64URL.encode(block)
    }

    /// A token for a pair of numbers from 0 to 2^48 - 1 (a feed position: a transaction id
    /// and an event id), with four marker bytes that a token of another merchant or space
    /// opens to only by chance (2^-32).
    pub fn seal_pair(&self, a: i64, b: i64) -> String {
        debug_assert!((0..1 << 48).contains(&a) && (0..1 << 48).contains(&b));
        let mut block = [0u8; 16];
        block[..6].copy_from_slice(&a.to_be_bytes()[2..]);
        block[6..12].copy_from_slice(&b.to_be_bytes()[2..]);
        block[12..].copy_from_slice(&PAIR);
        let mut block = block.into();
        self.0.encrypt_block(&mut block);
        B64URL.encode(block)
    }

    /// The pair behind a token of [`seal_pair`](Self::seal_pair); a token of
    /// [`seal`](Self::seal) (`n`, given before pairs were) opens as `(0, n)`.
    pub fn open_pair(&self, token: &str) -> Option<(i64, i64)> {
        let bytes: [u8; 16] = B64URL.decode(token.as_bytes()).ok()?.try_into().ok()?;
        let mut block = bytes.into();
        self.0.decrypt_block(&mut block);
        let number = |b: &[u8]| {
            let mut be = [0u8; 8];
            be[8 - b.len()..].copy_from_slice(b);
            i64::from_be_bytes(be)
        };
        if block[12..] == PAIR {
            return Some((number(&block[..6]), number(&block[6..12])));
        }
        let n = number(&block[..8]);
        (block[8..].iter().all(|b| *b == 0) && n >= 0).then_some((0, n))
    }

    /// The number behind a token this merchant was given in this space; None otherwise.
    pub fn open(&self, token: &str) -> Option<i64> {
        let bytes: [u8; 16] = B64URL.decode(token.as_bytes()).ok()?.try_into().ok()?;
        let mut block = bytes.into();
        self.0.decrypt_block(&mut block);
        let (n, zeros) = block.split_at(8);
        zeros.iter().all(|b| *b == 0).then(|| i64::from_be_bytes(n.try_into().unwrap_or_default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn merchant(n: u128) -> MerchantId {
        MerchantId(uuid::Uuid::from_u128(n))
    }

    #[test]
    fn a_token_opens_only_for_its_merchant_and_space_and_hides_the_number() {
        let cipher = crate::wiring::local_cipher([9; 32]);
        let ids = OpaqueIds::new(&cipher, IdSpace::EventCursor, merchant(1)).unwrap();
        let token = ids.seal(41);
        assert_eq!(token.len(), 22);
        assert_eq!(ids.open(&token), Some(41));
        assert_ne!(ids.seal(41), ids.seal(42));
        assert_eq!(OpaqueIds::new(&cipher, IdSpace::EventCursor, merchant(2)).unwrap().open(&token), None);
        assert_eq!(OpaqueIds::new(&cipher, IdSpace::StatementLine, merchant(1)).unwrap().open(&token), None);
        for bad in ["", "41", "not-a-token", "AAAAAAAAAAAAAAAAAAAAAA", &format!("{token}A")] {
            assert_eq!(ids.open(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_pair_token_opens_as_its_pair_and_a_number_token_given_before_as_the_first_position() {
        let cipher = crate::wiring::local_cipher([9; 32]);
        let ids = OpaqueIds::new(&cipher, IdSpace::EventCursor, merchant(1)).unwrap();
        let pair = ids.seal_pair(7_000_123, 41);
        assert_eq!(pair.len(), 22);
        assert_eq!(ids.open_pair(&pair), Some((7_000_123, 41)));
        assert_eq!(ids.open(&pair), None, "not a number token");
        assert_eq!(ids.open_pair(&ids.seal(41)), Some((0, 41)));
        let other = OpaqueIds::new(&cipher, IdSpace::EventCursor, merchant(2)).unwrap();
        assert_eq!(other.open_pair(&pair), None);
    }

    #[test]
    fn consecutive_numbers_give_unrelated_tokens() {
        let cipher = crate::wiring::local_cipher([9; 32]);
        let ids = OpaqueIds::new(&cipher, IdSpace::StatementLine, merchant(1)).unwrap();
        let (a, b) = (ids.seal(1000), ids.seal(1001));
        let common = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
        assert!(common < 4, "{a} {b}");
    }
}
