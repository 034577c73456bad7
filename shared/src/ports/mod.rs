//! Ports: the traits use cases depend on, in domain types, one file per family (all
//! re-exported here as `crate::ports::X`). Adapters (Postgres, DynamoDB, KMS, Secrets
//! Manager, SQS, the HTTP rail) implement them, so use cases run the same in Lambda,
//! locally and in tests.

use crate::domain::charge::{Charge, ChargePatch, ChargeStatus, ChargeTerms, RevisionError};
use crate::domain::cobv::{DueCharge, DuePatch, DueRevisionError, DueTerms};
use crate::domain::document::Document;
use crate::domain::ids::{LocationToken, Txid};
use crate::domain::merchant::{ApiKeyHash, Merchant, MerchantId};
use crate::domain::payload_location::{PayloadLocation, TipoCob};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// A storage failure. Callers never show its content to clients.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or timed out: worth retrying.
    #[error("storage unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// Anything else: a bug or a broken invariant.
    #[error("unexpected storage error")]
    Unexpected(#[source] anyhow::Error),
}

/// One page of results and the total count across pages.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
}

mod charges;
mod clients;
mod crypto;
mod idempotency;
mod payments;
mod platform;
mod recurrences;
mod transfers;
mod webhooks;

pub use charges::*;
pub use clients::*;
pub use crypto::*;
pub use idempotency::*;
pub use payments::*;
pub use platform::*;
pub use recurrences::*;
pub use transfers::*;
pub use webhooks::*;
