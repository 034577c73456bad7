//! Use cases and the application state they run with.

pub mod account;
pub mod admin;
pub mod charges;
pub mod clients;
pub mod config;
pub mod due_charges;
pub mod key_policy;
pub mod locations;
pub mod oauth;
pub mod opaque_ids;
pub mod payments;
pub mod rec_locations;
pub mod reconcile;
pub mod recurrences;
pub mod retention;
pub mod secrets;
pub mod signed_payloads;
mod state;
pub mod transfers;
mod verdicts;
pub mod webhooks;

pub use config::{
    AlsoPublish, CipherBackend, Config, ConfigError, IdempotencyBackend, PayloadKey, PayloadSigning, TokenSettings,
    WebhookSettings,
};
pub use state::AppState;

pub use crate::domain::idempotency::fingerprint;
