//! Identifiers from the Bacen API Pix: txid and the payload location token.
//! The spec's regexes are unanchored; every parser here anchors them.

use rand::{distributions::Alphanumeric, Rng};
use std::fmt;

/// Why a string is not a valid txid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TxidError {
    /// Not `^[a-zA-Z0-9]{26,35}$` (charges) or `^[a-zA-Z0-9]{1,35}$` (Pix objects).
    #[error("must be {min} to 35 letters or digits")]
    Format { min: usize },
}

/// A transaction id (`txid`), the merchant's reference for a charge.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Txid(String);

fn alnum(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

impl Txid {
    /// A txid of an immediate or due-date charge: `^[a-zA-Z0-9]{26,35}$`.
    pub fn parse_for_charge(s: &str) -> Result<Self, TxidError> {
        if alnum(s, 26, 35) {
            Ok(Txid(s.to_owned()))
        } else {
            Err(TxidError::Format { min: 26 })
        }
    }

    /// A txid as found on a received Pix: `^[a-zA-Z0-9]{1,35}$`.
    pub fn parse(s: &str) -> Result<Self, TxidError> {
        if alnum(s, 1, 35) {
            Ok(Txid(s.to_owned()))
        } else {
            Err(TxidError::Format { min: 1 })
        }
    }

    /// A fresh random 32-character txid, for `POST /cob` where the PSP chooses it.
    pub fn generate() -> Self {
        let s: String = rand::thread_rng()
            .sample_iter(&Alphanumeric)
            .take(32)
            .map(char::from)
            .collect();
        Txid(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Txid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The unguessable token in a payload location URL (`.../qr/v2/{token}`): 32 lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LocationToken(String);

impl LocationToken {
    pub fn generate() -> Self {
        LocationToken(uuid::Uuid::new_v4().simple().to_string())
    }

    pub fn parse(s: &str) -> Option<Self> {
        (s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .then(|| LocationToken(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charge_txids_need_26_to_35_alphanumerics() {
        assert!(Txid::parse_for_charge(&"a".repeat(26)).is_ok());
        assert!(Txid::parse_for_charge(&"Z9".repeat(17)).is_ok());
        assert!(Txid::parse_for_charge(&"a".repeat(25)).is_err());
        assert!(Txid::parse_for_charge(&"a".repeat(36)).is_err());
        assert!(Txid::parse_for_charge("abcdefghijklmnopqrstuvwxy-").is_err());
        assert!(Txid::parse_for_charge("abcdefghijklmnopqrstuvwxyzá").is_err());
    }

    #[test]
    fn generated_txids_are_valid_charge_txids() {
        for _ in 0..100 {
            let t = Txid::generate();
            assert_eq!(Txid::parse_for_charge(t.as_str()), Ok(t));
        }
    }

    #[test]
    fn location_tokens_round_trip() {
        let t = LocationToken::generate();
        assert_eq!(LocationToken::parse(t.as_str()), Some(t));
        assert_eq!(LocationToken::parse("XYZ"), None);
    }
}
