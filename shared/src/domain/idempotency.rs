//! Idempotency-Key semantics (IETF httpapi idempotency-key draft), independent of where
//! the records live: what a new request finds, and what it must do about it.
//!
//! A record is IN_PROGRESS while its first request runs, with a lock that expires at the
//! request's deadline (never sooner, so a slow first attempt cannot run twice), then
//! COMPLETED with the response, kept for 24 h. Expiry is checked here, in code: TTL
//! deletion in DynamoDB lags by up to 48 h.

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};

/// How long a completed response is replayed.
pub const RETENTION_HOURS: i64 = 24;
/// Added to the request deadline, and the least an in-progress lock lasts.
pub const LOCK_FLOOR_SECS: i64 = 2;
pub const MAX_KEY_LEN: usize = 255;

/// A client's `Idempotency-Key`: 1 to 255 printable ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(s: &str) -> Option<Self> {
        // The draft sends it as a structured-field string: accept it quoted or bare.
        let s = s.trim();
        let s = s.strip_prefix('"').and_then(|x| x.strip_suffix('"')).unwrap_or(s);
        (!s.is_empty() && s.len() <= MAX_KEY_LEN && s.bytes().all(|b| (0x21..=0x7E).contains(&b)))
            .then(|| IdempotencyKey(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A response kept for replay.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredResponse {
    pub status: u16,
    /// Only the headers a replay needs (content type, location, ...).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A record as a store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub request_hash: [u8; 32],
    /// None while in progress.
    pub response: Option<StoredResponse>,
    /// In progress: when the lock lapses. Completed: when the record stops counting.
    pub expires_at: DateTime<Utc>,
}

/// What a request with a key must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// No live record: this request runs (the store has written an in-progress record).
    Run,
    /// Same request, already done: replay the stored response.
    Replay(StoredResponse),
    /// Same request, still running elsewhere: answer 409, retry after this many seconds.
    InProgress { retry_after_secs: i64 },
    /// The key was used for a different request: answer 422.
    Mismatch,
}

impl Record {
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.expires_at > now
    }

    /// What a request with `hash` finds in this (live) record.
    pub fn decide(&self, hash: &[u8; 32], now: DateTime<Utc>) -> Begin {
        if &self.request_hash != hash {
            return Begin::Mismatch;
        }
        match &self.response {
            Some(r) => Begin::Replay(r.clone()),
            None => Begin::InProgress { retry_after_secs: (self.expires_at - now).num_seconds().clamp(1, 60) },
        }
    }
}

/// When an in-progress lock taken `now` lapses: at the request's deadline plus a margin,
/// and never sooner than the floor, even with no time left.
pub fn lock_until(now: DateTime<Utc>, remaining: std::time::Duration) -> DateTime<Utc> {
    let remaining = Duration::from_std(remaining).unwrap_or(Duration::seconds(900));
    now + remaining.max(Duration::zero()) + Duration::seconds(LOCK_FLOOR_SECS)
}

pub fn retention_until(now: DateTime<Utc>) -> DateTime<Utc> {
    now + Duration::hours(RETENTION_HOURS)
}

/// SHA-256 of a request's canonical form: what "the same request again" means for
/// idempotent PUTs with a client-chosen id. Each request type defines its canonical form
/// once, beside it (`ChargeTerms::fingerprint`, `RefundRequest::fingerprint`,
/// `TransferRequest::fingerprint`); the stored fingerprints depend on those bytes.
pub fn fingerprint(canonical: &[u8]) -> [u8; 32] {
    Sha256::digest(canonical).into()
}

/// SHA-256 of method, path (with query) and body: what "the same request" means.
pub fn request_hash(method: &str, path_and_query: &str, body: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    for part in [method.as_bytes(), b"\n", path_and_query.as_bytes(), b"\n", body] {
        h.update(part);
    }
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(done: bool, expires_in: i64) -> Record {
        Record {
            request_hash: [1; 32],
            response: done.then(|| StoredResponse { status: 201, headers: vec![], body: b"{}".to_vec() }),
            expires_at: Utc::now() + Duration::seconds(expires_in),
        }
    }

    #[test]
    fn a_live_record_replays_blocks_or_refuses() {
        let now = Utc::now();
        assert!(matches!(record(true, 100).decide(&[1; 32], now), Begin::Replay(_)));
        assert!(matches!(record(false, 100).decide(&[1; 32], now), Begin::InProgress { retry_after_secs: 60 }));
        assert!(matches!(record(false, 3).decide(&[1; 32], now), Begin::InProgress { retry_after_secs: 1..=3 }));
        assert_eq!(record(true, 100).decide(&[2; 32], now), Begin::Mismatch);
        assert_eq!(record(false, 100).decide(&[2; 32], now), Begin::Mismatch);
    }

    #[test]
    fn expired_records_no_longer_count() {
        assert!(!record(true, -1).is_live(Utc::now()));
        assert!(record(true, 10).is_live(Utc::now()));
    }

    #[test]
    fn the_lock_never_lapses_before_the_deadline_nor_at_once() {
        let now = Utc::now();
        assert_eq!(lock_until(now, std::time::Duration::ZERO), now + Duration::seconds(LOCK_FLOOR_SECS));
        assert_eq!(lock_until(now, std::time::Duration::from_secs(10)), now + Duration::seconds(12));
    }

    #[test]
    fn keys_are_printable_ascii_up_to_255() {
        assert!(IdempotencyKey::parse("8e03978e-40d5-43e8-bc93-6894a57f9324").is_some());
        assert_eq!(IdempotencyKey::parse("\"abc\"").unwrap().as_str(), "abc");
        assert!(IdempotencyKey::parse("").is_none());
        assert!(IdempotencyKey::parse("a b").is_none());
        assert!(IdempotencyKey::parse(&"a".repeat(256)).is_none());
        assert!(IdempotencyKey::parse("chave-ç").is_none());
    }

    #[test]
    fn the_hash_covers_method_path_and_body() {
        let h = request_hash("POST", "/cob", b"{}");
        assert_eq!(h, request_hash("POST", "/cob", b"{}"));
        assert_ne!(h, request_hash("PUT", "/cob", b"{}"));
        assert_ne!(h, request_hash("POST", "/cob?x", b"{}"));
        assert_ne!(h, request_hash("POST", "/cob", b"{ }"));
    }
}
