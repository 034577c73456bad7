//! Pix transfers out, and the payload locations a dynamic BR Code points at.

use super::*;

use crate::domain::ids::{EndToEndId, RtrId};
use crate::domain::transfer::{IdEnvio, LimitViolation, Transfer, TransferRequest, TransferStatus};

/// Why a transfer was refused before anything moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransferRejection {
    /// Reserving the amount would take the merchant's account below its minimum balance.
    #[error("the available balance does not cover the transfer")]
    InsufficientFunds,
    /// The amount breaks one of the merchant's limits: per transfer, daily or at night.
    #[error(transparent)]
    Limit(#[from] LimitViolation),
}

/// What reserving a transfer did.
#[derive(Debug)]
pub enum TransferOutcome {
    /// Reserved in the ledger; the order must now go to the rail.
    Created(Transfer),
    /// The idEnvio was already used by this merchant.
    Existing {
        transfer: Transfer,
        same_request: bool,
    },
    Rejected(TransferRejection),
}

/// The movement a notified verdict is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerdictOn {
    Transfer(EndToEndId),
    Refund(RtrId),
}

/// A notification that would reverse a decided movement, kept because the rail's status
/// could not judge it; the reconciler judges it again on each pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParkedVerdict {
    pub notification_id: String,
    pub on: VerdictOn,
    pub verdict: RailVerdict,
    pub parked_at: DateTime<Utc>,
}

/// Filters of `GET /envio`.
#[derive(Debug, Clone)]
pub struct TransferQuery {
    pub inicio: DateTime<Utc>,
    pub fim: DateTime<Utc>,
    pub status: Option<TransferStatus>,
    pub pagina: u32,
    pub itens_por_pagina: u32,
}

#[async_trait]
pub trait TransferStore: Send + Sync {
    /// Checks the merchant's limits and reserves the amount, atomically; idempotent on
    /// (merchant, idEnvio).
    async fn reserve(
        &self,
        merchant: MerchantId,
        request: &TransferRequest,
        favorecido_nome: Option<&str>,
        e2eid: &EndToEndId,
        fingerprint: [u8; 32],
        now: DateTime<Utc>,
    ) -> Result<TransferOutcome, StoreError>;
    async fn find(&self, merchant: MerchantId, id: &IdEnvio) -> Result<Option<Transfer>, StoreError>;
    async fn list(&self, merchant: MerchantId, query: &TransferQuery) -> Result<Page<Transfer>, StoreError>;
    /// Settles or voids a transfer's reservation, at most once.
    async fn conclude(
        &self,
        notification_id: &str,
        e2eid: &EndToEndId,
        verdict: &RailVerdict,
        heard: Heard,
    ) -> Result<ConcludeOutcome, StoreError>;
    /// Transfers still EM_PROCESSAMENTO that were requested before `before`: all of them,
    /// or `limit` of them drawn by `pass` (another draw each pass, so that orders that never
    /// finish cannot hold the others out for ever).
    async fn pending(&self, before: DateTime<Utc>, limit: i64, pass: i64) -> Result<Vec<Transfer>, StoreError>;
    /// Credits a returned Pix back to the merchant, at most once per return id. A return
    /// of a transfer not yet settled settles it first (the money did leave).
    async fn record_return(&self, notification_id: &str, returned: &ReturnedPix)
        -> Result<ConcludeOutcome, StoreError>;
    /// Keeps a reversing notification the rail's status could not judge (once per
    /// notification id: kept again while waiting, it stays as first kept; sent again after
    /// it was judged, and still not judgeable, it waits again).
    async fn park_verdict(
        &self,
        notification_id: &str,
        on: &VerdictOn,
        verdict: &RailVerdict,
    ) -> Result<(), StoreError>;
    /// Parked notifications still waiting, oldest first, at most `limit`.
    async fn parked_verdicts(&self, limit: i64) -> Result<Vec<ParkedVerdict>, StoreError>;
    /// A parked notification judged: `resolution` is what the rail would be answered now
    /// (`APLICADA`, `CONTRADICAO_REGISTRADA`, `DUPLICADA`, `OBSOLETA`).
    async fn unpark_verdict(&self, notification_id: &str, resolution: &str) -> Result<(), StoreError>;
}

pub use crate::domain::location::{LocationFailure, LocationPayload};

/// Reads the payload a dynamic BR Code points at, as a payer's bank does.
#[async_trait]
pub trait LocationReader: Send + Sync {
    async fn read(&self, location: &str) -> Result<LocationPayload, LocationFailure>;
}
