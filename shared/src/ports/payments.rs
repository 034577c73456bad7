//! Received Pix, refunds, the ledger and the Pix rail.

use super::*;

use crate::domain::ids::{EndToEndId, RefundId, RtrId};
use crate::domain::ledger::Balance;
use crate::domain::money::Amount;
use crate::domain::payment::{Alert, IncomingPix, ReceivedPix, Refund, RefundRejection, RefundRequest};

/// What recording an incoming Pix did.
#[derive(Debug, PartialEq, Eq)]
pub enum RecordOutcome {
    /// Recorded and credited; `alert` says why it did not conclude a charge, if it did not.
    Recorded { merchant: Option<MerchantId>, alert: Option<Alert> },
    /// This notification or this end-to-end id was already applied: nothing changed.
    Duplicate,
    /// A known end-to-end id reported again with another amount or key: the difference
    /// is booked to suspense and the Pix flagged.
    Divergent { merchant: Option<MerchantId> },
}

/// What a refund request did.
#[derive(Debug)]
pub enum RefundOutcome {
    /// Reserved in the ledger; the order must now go to the rail.
    Created(Refund),
    /// The refund id was already used for this Pix.
    Existing {
        refund: Refund,
        same_request: bool,
    },
    PixNotFound,
    Rejected(RefundRejection),
}

pub use crate::domain::verdict::{Contradiction, Heard, RailVerdict, Rejection, RejectionCode, Standing};

/// What applying a verdict (or a returned Pix) did.
#[derive(Debug, PartialEq, Eq)]
pub enum ConcludeOutcome {
    Applied,
    /// Applied, but it contradicted what was booked: booked as what really happened and
    /// flagged for operations.
    Flagged(Contradiction),
    /// The verdict agrees with the final state (or this notification was already
    /// applied): nothing changed.
    Duplicate,
    /// No such order here.
    Unknown,
    /// A notification that would reverse what was booked (the movement as it stood):
    /// nothing changed (not even its claim) before the rail's status is read.
    Unconfirmed(Standing),
    /// The rail's status (or a return of the transfer) contradicts the notification (an
    /// old word, arrived late): nothing changed.
    Stale,
    /// A notification that would reverse what was booked, which the rail's status could not
    /// judge (unreachable, still processing, unknown there): nothing booked, kept for the
    /// reconciler to judge when the status can.
    Parked,
}

impl ConcludeOutcome {
    /// What the rail is told of it, and what a parked notification became once judged.
    pub fn resultado(&self) -> &'static str {
        match self {
            ConcludeOutcome::Applied => "APLICADA",
            ConcludeOutcome::Flagged(_) => "CONTRADICAO_REGISTRADA",
            ConcludeOutcome::Duplicate | ConcludeOutcome::Unknown => "DUPLICADA",
            ConcludeOutcome::Stale | ConcludeOutcome::Unconfirmed(_) => "OBSOLETA",
            ConcludeOutcome::Parked => "AGUARDANDO_CONFIRMACAO",
        }
    }
}

/// Filters of `GET /pix`.
#[derive(Debug, Clone)]
pub struct PixQuery {
    pub inicio: DateTime<Utc>,
    pub fim: DateTime<Utc>,
    /// The Pix of these charges only (none: of any).
    pub txids: Vec<Txid>,
    pub txid_presente: Option<bool>,
    pub devolucao_presente: Option<bool>,
    pub pagador: Option<Document>,
    pub pagina: u32,
    pub itens_por_pagina: u32,
}

#[async_trait]
pub trait PixStore: Send + Sync {
    /// Records a Pix the rail reported, credits the ledger, concludes its charge when it
    /// can and writes the outbox events, all in one transaction. Idempotent on both the
    /// notification id and the end-to-end id.
    async fn record_incoming(&self, notification_id: &str, pix: &IncomingPix) -> Result<RecordOutcome, StoreError>;

    /// Records several received Pix, each exactly as [`record_incoming`](Self::record_incoming)
    /// would, answering for each in order: a batch from the rail. Those that can be booked
    /// together (none names a charge to read) are, in one statement and one commit.
    async fn record_incoming_all(&self, batch: &[(&str, &IncomingPix)]) -> Vec<Result<RecordOutcome, StoreError>>;
    /// The end-to-end ids of those of `reported` already booked as reported (the same
    /// amount and key): recording them again would be a duplicate.
    async fn booked_as_reported(
        &self,
        reported: &[IncomingPix],
    ) -> Result<std::collections::HashSet<String>, StoreError>;
    async fn find(&self, merchant: MerchantId, e2eid: &EndToEndId) -> Result<Option<ReceivedPix>, StoreError>;
    async fn list(&self, merchant: MerchantId, query: &PixQuery) -> Result<Page<ReceivedPix>, StoreError>;
    /// Checks the refund rules as of `now` (the 90-day window) and reserves the amount in
    /// the ledger, atomically; the refund is requested at `now`.
    async fn request_refund(
        &self,
        merchant: MerchantId,
        e2eid: &EndToEndId,
        request: &RefundRequest,
        rtr_id: &RtrId,
        fingerprint: [u8; 32],
        now: DateTime<Utc>,
    ) -> Result<RefundOutcome, StoreError>;
    async fn find_refund(
        &self,
        merchant: MerchantId,
        e2eid: &EndToEndId,
        id: &RefundId,
    ) -> Result<Option<Refund>, StoreError>;
    /// Refund orders still EM_PROCESSAMENTO that were requested before `before`, as orders:
    /// all of them, or `limit` of them drawn by `pass` (as `TransferStore::pending`).
    async fn pending_refunds(
        &self,
        before: DateTime<Utc>,
        limit: i64,
        pass: i64,
    ) -> Result<Vec<crate::domain::payment::RefundOrder>, StoreError>;
    /// Deletes, oldest first and at most `batch`, the rail's notification claims past the
    /// database's retention.
    async fn prune_notifications(&self, batch: i64) -> Result<u64, StoreError>;
    /// Settles or voids a refund's reservation, at most once.
    async fn conclude_refund(
        &self,
        notification_id: &str,
        rtr_id: &RtrId,
        result: &RailVerdict,
        heard: Heard,
    ) -> Result<ConcludeOutcome, StoreError>;
}

/// A Pix we sent that the receiving bank returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnedPix {
    /// The return's own id.
    pub rtr_id: RtrId,
    /// Our transfer's end-to-end id.
    pub end_to_end_id: EndToEndId,
    pub valor: crate::domain::money::Amount,
    pub horario: DateTime<Utc>,
    /// The return's reason code (MD06, FR01, BE08, ...), when given.
    pub codigo: Option<String>,
    pub motivo: Option<String>,
}

/// One line of a merchant's statement: a posting on one of its accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementLine {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub kind: crate::domain::ledger::EntryKind,
    /// True for the available account, false for pending.
    pub available: bool,
    /// Signed centavos: positive is a credit.
    pub amount: i64,
    pub reference: serde_json::Value,
}

/// Statement filters.
#[derive(Debug, Clone)]
pub struct StatementQuery {
    pub inicio: Option<DateTime<Utc>>,
    pub fim: Option<DateTime<Utc>>,
    pub pagina: u32,
    pub itens_por_pagina: u32,
}

#[async_trait]
pub trait Ledger: Send + Sync {
    async fn balance(&self, merchant: MerchantId) -> Result<Balance, StoreError>;
    /// Newest first.
    async fn statement(&self, merchant: MerchantId, query: &StatementQuery) -> Result<Page<StatementLine>, StoreError>;
    /// Every ledger invariant over the whole database; each failure described in a line.
    async fn check(&self) -> Result<Vec<String>, StoreError>;
    /// What each merchant owes operations, most first: what the operations receivable took
    /// in the entries of its transfers and refunds (a settlement beyond its available
    /// balance), net of what their corrections gave back and of its repayments. Collections
    /// made outside the ledger are not netted.
    async fn owed(&self) -> Result<Vec<(MerchantId, Amount)>, StoreError>;
    /// Repays what `merchant` owes operations from its available balance: in full if it
    /// can, in part at most once an hour; returns what was repaid.
    async fn repay_owed(&self, merchant: MerchantId) -> Result<Amount, StoreError>;
}

/// Why the rail did not confirm an order.
#[derive(Debug, thiserror::Error)]
pub enum RailError {
    /// Unreachable, timed out, throttled, a server error or any answer that is not an
    /// explicit rejection: the order may or may not have arrived, and the reconciler
    /// finds out. Never voids anything.
    #[error("rail outcome unknown")]
    Unavailable(#[source] anyhow::Error),
    /// The rail rejected the order with a final reason code: nothing will leave.
    #[error("rail rejected the order ({})", .0.code.as_str())]
    Rejected(Rejection),
}

/// Where an order stands at the rail, for the reconciler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RailStatus {
    /// The rail never got it: it may be sent again (orders are idempotent).
    Unknown,
    Pending,
    /// Final: the rail's verdict.
    Decided(RailVerdict),
}

/// The port to the Pix network (sponsor bank / SPI; the sandbox locally).
#[async_trait]
pub trait PixRail: Send + Sync {
    /// Orders a refund. Idempotent on `rtr_id` at the rail.
    async fn send_refund(&self, order: &crate::domain::payment::RefundOrder) -> Result<(), RailError>;
    /// Orders a reserved transfer's Pix out. Idempotent on the end-to-end id at the rail.
    async fn send_pix(&self, transfer: &crate::domain::transfer::Transfer) -> Result<(), RailError>;
    /// Looks a key up in the DICT; None when nobody holds it.
    async fn lookup_key(&self, chave: &str) -> Result<Option<crate::domain::transfer::DictEntry>, RailError>;
    async fn refund_status(&self, rtr_id: &str) -> Result<RailStatus, RailError>;
    async fn transfer_status(&self, e2eid: &str) -> Result<RailStatus, RailError>;
    /// The rail's statement: every Pix it paid in to our keys since `since` (oldest first),
    /// so that one whose notification was lost is still credited. Entries that do not
    /// parse are left out and logged.
    async fn received_since(&self, since: DateTime<Utc>) -> Result<Vec<IncomingPix>, RailError>;
    /// Sends a confirmation request to the payer's bank (Pix Automático, pain.009).
    /// Idempotent on `idSolicRec`.
    async fn send_solicitation(&self, s: &crate::rail::protocol::SolicitacaoRec) -> Result<(), RailError>;
    /// Withdraws a confirmation request the payer has not answered.
    async fn cancel_solicitation(&self, id_solic_rec: &str) -> Result<RailCancel, RailError>;
    /// Tells the payer's bank that the receiver cancelled an authorised recurrence (its
    /// scheduled attempts end with it there).
    async fn cancel_recurrence(
        &self,
        id_rec: &str,
        cancelamento: &crate::rail::protocol::Cancelamento,
    ) -> Result<RailCancel, RailError>;
    /// Sends a recurring charge's attempt to the payer's bank to be debited on its date
    /// (pain.013). Idempotent on its end-to-end id.
    async fn send_attempt(&self, a: &crate::rail::protocol::AgendamentoCobR) -> Result<(), RailError>;
    /// Withdraws a scheduled attempt (the receiver cancelled its charge).
    async fn cancel_attempt(&self, e2eid: &str) -> Result<RailCancel, RailError>;
    /// Where a scheduled attempt stands at the payer's bank (its outcome never arrived).
    async fn attempt_status(&self, e2eid: &str) -> Result<AttemptAtBank, RailError>;
}

/// A recurring charge's attempt as the payer's bank reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptAtBank {
    Scheduled,
    /// Debited: the Pix is in the rail's statement.
    Paid,
    /// Not debited, with its reason code.
    Rejected(String),
    Cancelled,
    /// The bank does not know it.
    Unknown,
}

/// What the payer's bank says of something Tucano asked it to cancel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RailCancel {
    Cancelled,
    /// It had already ended otherwise (its status there: `PAGA`, `ACEITA`, ...): its
    /// outcome is on its way as a notification.
    AlreadyEnded(String),
    /// The payer's bank never got it.
    Unknown,
}
