//! SCRAM-SHA-256 password verifiers (RFC 7677, as Postgres stores them): a role's password
//! is set from its verifier, so the password itself never appears in a statement (which
//! the database's DDL log would keep).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Postgres's default iteration count.
pub const ITERATIONS: u32 = 4096;

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// PBKDF2-HMAC-SHA256 with one output block (32 bytes, the hash's length).
fn salted_password(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut u = hmac(password, &[salt, &1u32.to_be_bytes()]);
    let mut out = u;
    for _ in 1..iterations {
        u = hmac(password, &[&u]);
        out.iter_mut().zip(u).for_each(|(o, x)| *o ^= x);
    }
    out
}

/// `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`.
pub fn verifier(password: &str, salt: &[u8; 16], iterations: u32) -> String {
    let salted = salted_password(password.as_bytes(), salt, iterations);
    let stored: [u8; 32] = Sha256::digest(hmac(&salted, &[b"Client Key"])).into();
    let server = hmac(&salted, &[b"Server Key"]);
    format!("SCRAM-SHA-256${iterations}:{}${}:{}", B64.encode(salt), B64.encode(stored), B64.encode(server))
}

/// A verifier under a fresh random salt.
pub fn new_verifier(password: &str) -> String {
    let mut salt = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut salt);
    verifier(password, &salt, ITERATIONS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verifier_has_postgres_form_and_depends_on_password_and_salt() {
        let v = verifier("pencil", &[7; 16], 4096);
        assert!(v.starts_with("SCRAM-SHA-256$4096:BwcHBwcHBwcHBwcHBwcHBw==$"), "{v}");
        assert_ne!(v, verifier("pencil2", &[7; 16], 4096));
        assert_ne!(v, verifier("pencil", &[8; 16], 4096));
        assert!(!v.contains('\''), "safe inside a SQL literal");
    }
}
