//! HMAC-SHA256 signatures of rail messages, in both directions.
//!
//! `x-rail-timestamp: <unix seconds>` and `x-rail-signature: v1=<hex HMAC-SHA256 of
//! "{timestamp}.{body}">`. A verifier refuses timestamps outside a tolerance window, so a
//! captured message cannot be replayed later; replays inside the window are harmless
//! because every notification is applied at most once. During a rotation a verifier
//! accepts the new and the previous secret; a signer uses the new one only.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const TIMESTAMP_HEADER: &str = "x-rail-timestamp";
pub const SIGNATURE_HEADER: &str = "x-rail-signature";
/// How far a message's timestamp may be from our clock.
pub const TOLERANCE_SECS: i64 = 300;

/// Why a message's signature is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A header is missing, the timestamp is not an integer, or the signature is not `v1=<hex>`.
    #[error("signature headers missing or malformed")]
    Malformed,
    /// The timestamp is more than `TOLERANCE_SECS` from our clock, either way: a replay or a skewed clock.
    #[error("timestamp outside the tolerance window")]
    Stale,
    /// Neither the current nor the previous secret gives this signature: a wrong secret, or an
    /// altered body or timestamp.
    #[error("signature does not match")]
    Mismatch,
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length; new_from_slice cannot fail for it.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The signature header value for `body` sent at `timestamp`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    format!("v1={}", hex::encode(mac(secret, timestamp, body).finalize().into_bytes()))
}

/// Checks the two header values against `body`, at time `now` (unix seconds).
pub fn verify(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    verify_any(&[secret], timestamp, signature, body, now)
}

/// The same, accepting a signature by any of `secrets` (a rotation's new and previous).
pub fn verify_any(
    secrets: &[&[u8]],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let ts: i64 = timestamp.and_then(|t| t.trim().parse().ok()).ok_or(SignatureError::Malformed)?;
    let given = signature
        .and_then(|s| s.trim().strip_prefix("v1="))
        .and_then(|h| hex::decode(h).ok())
        .ok_or(SignatureError::Malformed)?;
    // abs_diff: a timestamp near i64::MIN or MAX cannot overflow the subtraction.
    if now.abs_diff(ts) > TOLERANCE_SECS.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    if secrets.iter().any(|secret| mac(secret, ts, body).verify_slice(&given).is_ok()) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"test-secret";

    #[test]
    fn during_a_rotation_both_secrets_verify_and_no_other() {
        let (new, old) = (&b"new-secret-0123456789"[..], &b"old-secret-0123456789"[..]);
        for secret in [new, old] {
            let sig = sign(secret, 1_000, b"{}");
            assert_eq!(verify_any(&[new, old], Some("1000"), Some(&sig), b"{}", 1_000), Ok(()));
        }
        let stranger = sign(b"another-secret-000000", 1_000, b"{}");
        assert_eq!(verify_any(&[new, old], Some("1000"), Some(&stranger), b"{}", 1_000), Err(SignatureError::Mismatch));
        // Once the previous secret is dropped, its signatures stop verifying.
        let sig = sign(old, 1_000, b"{}");
        assert_eq!(verify_any(&[new], Some("1000"), Some(&sig), b"{}", 1_000), Err(SignatureError::Mismatch));
    }

    #[test]
    fn a_signed_message_verifies() {
        let sig = sign(SECRET, 1_000, b"{}");
        assert_eq!(verify(SECRET, Some("1000"), Some(&sig), b"{}", 1_100), Ok(()));
    }

    #[test]
    fn tampering_a_wrong_key_or_an_old_timestamp_is_refused() {
        let sig = sign(SECRET, 1_000, b"{\"valor\":\"1.00\"}");
        assert_eq!(
            verify(SECRET, Some("1000"), Some(&sig), b"{\"valor\":\"9.00\"}", 1_000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"other", Some("1000"), Some(&sig), b"{\"valor\":\"1.00\"}", 1_000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(SECRET, Some("1000"), Some(&sig), b"{\"valor\":\"1.00\"}", 1_301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(SECRET, Some("1001"), Some(&sig), b"{\"valor\":\"1.00\"}", 1_000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(verify(SECRET, None, Some(&sig), b"", 1_000), Err(SignatureError::Malformed));
        assert_eq!(verify(SECRET, Some("-9223372036854775808"), Some(&sig), b"", 1_000), Err(SignatureError::Stale));
        assert_eq!(verify(SECRET, Some("9223372036854775807"), Some(&sig), b"", -1_000), Err(SignatureError::Stale));
        assert_eq!(verify(SECRET, Some("1000"), Some("v1=zz"), b"", 1_000), Err(SignatureError::Malformed));
    }
}
