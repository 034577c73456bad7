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
        let s: String = rand::thread_rng().sample_iter(&Alphanumeric).take(32).map(char::from).collect();
        Txid(s)
    }

    /// A txid drawn from `seed` (the same seed, the same txid): 32 hexadecimal digits of its
    /// SHA-256.
    pub fn derived(seed: &[u8]) -> Self {
        let digest = crate::domain::idempotency::fingerprint(seed);
        Txid(digest[..16].iter().map(|b| format!("{b:02x}")).collect())
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

/// Why a string is not a valid Pix identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// An endToEndId or rtrId that is not exactly 32 ASCII letters or digits.
    #[error("must be 32 letters or digits")]
    EndToEnd,
    /// A refund id that is not 1 to 35 ASCII letters or digits.
    #[error("must be 1 to 35 letters or digits")]
    RefundId,
}

fn random_alnum(n: usize) -> String {
    rand::thread_rng().sample_iter(&Alphanumeric).take(n).map(char::from).collect()
}

/// `E|D` + ISPB (8) + UTC `yyyyMMddHHmm` + 11 random alphanumerics: the SPI id format.
fn spi_id(prefix: char, ispb: &str, at: chrono::DateTime<chrono::Utc>) -> String {
    format!("{prefix}{ispb}{}{}", at.format("%Y%m%d%H%M"), random_alnum(11))
}

/// The end-to-end id of a Pix (`^[a-zA-Z0-9]{32}$`; `E` + ISPB + timestamp + 11 chars).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EndToEndId(String);

impl EndToEndId {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        if alnum(s, 32, 32) {
            Ok(EndToEndId(s.to_owned()))
        } else {
            Err(IdError::EndToEnd)
        }
    }

    /// A new id as the payer's PSP (ISPB `ispb`, 8 characters) would make it.
    pub fn generate(ispb: &str, at: chrono::DateTime<chrono::Utc>) -> Self {
        EndToEndId(spi_id('E', ispb, at))
    }

    /// The minute it was made, as its SPI format carries it (None if those characters are
    /// not a timestamp: the id is only checked as 32 alphanumerics).
    pub fn minted_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        let stamp = self.0.get(9..21)?;
        chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%d%H%M").ok().map(|t| t.and_utc())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The id a merchant gives a refund (`devolucao/{id}`): `^[a-zA-Z0-9]{1,35}$`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RefundId(String);

impl RefundId {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        if alnum(s, 1, 35) {
            Ok(RefundId(s.to_owned()))
        } else {
            Err(IdError::RefundId)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The return id of a refund in the SPI (pacs.004 `RtrId`): `D` + ISPB + timestamp + 11 chars.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RtrId(String);

impl RtrId {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        if alnum(s, 32, 32) {
            Ok(RtrId(s.to_owned()))
        } else {
            Err(IdError::EndToEnd)
        }
    }

    pub fn generate(ispb: &str, at: chrono::DateTime<chrono::Utc>) -> Self {
        RtrId(spi_id('D', ispb, at))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod spi_id_tests {
    use super::*;

    #[test]
    fn generated_spi_ids_have_the_bacen_shape() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-21T13:05:00Z").unwrap().to_utc();
        let e = EndToEndId::generate("9999999A", at);
        assert_eq!(e.as_str().len(), 32);
        assert!(e.as_str().starts_with("E9999999A202611211305"));
        assert_eq!(EndToEndId::parse(e.as_str()), Ok(e));
        let d = RtrId::generate("12345678", at);
        assert!(d.as_str().starts_with("D12345678202611211305"));
        assert_eq!(RtrId::parse(d.as_str()), Ok(d));
        assert!(EndToEndId::parse("E123").is_err());
        assert!(RefundId::parse("dev-1").is_err());
        assert!(RefundId::parse("D1").is_ok());
    }

    #[test]
    fn an_end_to_end_id_says_the_minute_it_was_made_when_it_carries_one() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-21T13:05:00Z").unwrap().to_utc();
        assert_eq!(EndToEndId::generate("9999999A", at).minted_at(), Some(at));
        let odd = EndToEndId::parse("E9999999AXXXXXXXXXXXXabcdefghijk").unwrap();
        assert_eq!(odd.minted_at(), None);
    }
}
