//! Use cases and the application state they run with.

pub mod charges;
pub mod config;
pub mod key_policy;
pub mod opaque_ids;
pub mod payments;
pub mod reconcile;
pub mod secrets;
mod state;
pub mod transfers;
pub mod webhooks;

pub use config::{CipherBackend, Config, ConfigError, IdempotencyBackend, WebhookSettings};
pub use state::AppState;

use sha2::{Digest, Sha256};

/// SHA-256 of a request's canonical form: what "the same request again" means for
/// idempotent PUTs with a client-chosen id.
pub fn fingerprint(canonical: &[u8]) -> [u8; 32] {
    Sha256::digest(canonical).into()
}
