//! Pix Automático's store: recurrences, confirmation requests and recurring charges with
//! their attempts. Every status change appends to its `atualizacao` and writes its events
//! in the same transaction.

use super::*;
use crate::domain::ids::EndToEndId;
use crate::domain::rec::{
    Attempt, Encerramento, IdRec, IdSolicRec, Jornada, Payer, RecLoc, RecStatus, Recurrence, RecurringCharge, SolicRec,
    SolicRecStatus,
};
use chrono::NaiveDate;

/// The filters of `GET /rec`.
#[derive(Debug, Clone)]
pub struct RecQuery {
    pub inicio: DateTime<Utc>,
    pub fim: DateTime<Utc>,
    pub devedor: Option<Document>,
    pub status: Option<RecStatus>,
    pub convenio: Option<String>,
    pub location_presente: Option<bool>,
    pub pagina: u32,
    pub itens_por_pagina: u32,
}

/// The filters of `GET /locrec`.
#[derive(Debug, Clone)]
pub struct LocRecQuery {
    pub inicio: DateTime<Utc>,
    pub fim: DateTime<Utc>,
    pub id_rec_presente: Option<bool>,
    /// Only locations serving a recurrence under this agreement.
    pub convenio: Option<String>,
    pub pagina: u32,
    pub itens_por_pagina: u32,
}

/// The filters of `GET /cobr`.
#[derive(Debug, Clone)]
pub struct CobRQuery {
    pub inicio: DateTime<Utc>,
    pub fim: DateTime<Utc>,
    pub id_rec: Option<IdRec>,
    pub devedor: Option<Document>,
    pub status: Option<crate::domain::rec::CobRStatus>,
    /// Only charges under recurrences with this agreement.
    pub convenio: Option<String>,
    pub pagina: u32,
    pub itens_por_pagina: u32,
}

/// What ends or settles a recurrence's authorisation.
#[derive(Debug, Clone)]
pub enum RecDecision {
    /// The payer authorised it (from `CRIADA`).
    Approved { jornada: Jornada, payer: Payer },
    /// The payer refused it (from `CRIADA`).
    Rejected { codigo: String },
    /// Cancelled (from `CRIADA` or `APROVADA`): its open requests and charges end with it,
    /// except the charges of these attempts (the payer's bank already settled them: their
    /// outcome is on its way).
    Cancelled(Encerramento, Vec<EndToEndId>),
}

/// What applying a decision did.
#[derive(Debug)]
pub enum RecDecided {
    /// Applied; the owner and the recurrence after it, and the attempts that were open at
    /// the payer's bank (a cancellation ends them there too).
    Applied {
        owner: MerchantId,
        rec: Recurrence,
        open_attempts: Vec<EndToEndId>,
    },
    /// The recurrence's status does not take this decision (the owner and the recurrence
    /// as it is).
    NotApplicable {
        owner: MerchantId,
        rec: Recurrence,
    },
    NotFound,
}

/// What revising a recurrence did.
#[derive(Debug)]
pub enum RecRevised {
    Revised,
    NotFound,
    /// It ended meanwhile, or (for a new location) is no longer `CRIADA`.
    Ended,
    /// The location is not the merchant's or serves another recurrence.
    LocationUnavailable,
}

/// What inserting a recurring charge found.
#[derive(Debug)]
pub enum CobRInsert {
    Created(RecurringCharge),
    /// The same request again.
    Exists(RecurringCharge),
    /// The txid names another charge (of any kind) of this merchant.
    TxidTaken,
    /// The recurrence already has a live charge in this cycle.
    CycleTaken,
    /// The recurrence is not (or no longer) `APROVADA`.
    NotApproved,
}

/// What an attempt's outcome did to its charge.
#[derive(Debug)]
pub enum AttemptApplied {
    Applied {
        owner: MerchantId,
        charge: RecurringCharge,
    },
    /// Already in that state, or past it: nothing changed.
    Unchanged,
    /// Scheduled at the payer's bank although it was cancelled here (the cancellation
    /// crossed the order): it must be withdrawn there.
    Withdraw,
    NotFound,
}

/// How an attempt moved at the payer's bank.
#[derive(Debug, Clone)]
pub enum AttemptOutcome {
    Scheduled,
    /// Not debited, with the reason code; the charge ends too when `ends_charge`.
    Rejected {
        codigo: String,
    },
    /// Cancelled by the payer's side (and the charge with it).
    Cancelled(Encerramento),
    /// Past its day, the payer's bank says it never got it: a SOLICITADA attempt expires
    /// (it is never sent late).
    NeverReceived,
    /// The payer's bank debited it, and its Pix is booked here without having concluded the
    /// charge (another amount, or the rail's word on it divergent): the attempt is paid, the
    /// charge stays as its flagged Pix left it (operations look at the Pix).
    DebitedApart,
}

#[async_trait]
pub trait RecurrenceStore: Send + Sync {
    /// Inserts a recurrence at the merchant's location `loc` if given; false when that
    /// location is not the merchant's or serves another recurrence.
    async fn insert_rec(&self, merchant: MerchantId, rec: &Recurrence, loc: Option<i64>) -> Result<bool, StoreError>;
    async fn create_location(
        &self,
        merchant: MerchantId,
        token: &crate::domain::ids::LocationToken,
        location: &str,
        at: DateTime<Utc>,
    ) -> Result<RecLoc, StoreError>;
    async fn find_location(&self, merchant: MerchantId, id: i64) -> Result<Option<RecLoc>, StoreError>;
    async fn list_locations(&self, merchant: MerchantId, q: &LocRecQuery) -> Result<Page<RecLoc>, StoreError>;
    /// Unlinks the location's recurrence (the location is kept); None if unknown.
    async fn unlink_location(&self, merchant: MerchantId, id: i64) -> Result<Option<RecLoc>, StoreError>;
    /// The recurrence a location token serves, with its owner: `Ok(None)` for no recurrence
    /// location with that token, `Some(None)` for one that serves no recurrence (unlinked).
    async fn rec_at_location(
        &self,
        token: &crate::domain::ids::LocationToken,
    ) -> Result<Option<Option<(MerchantId, Recurrence)>>, StoreError>;
    async fn find_rec(&self, merchant: MerchantId, id: &IdRec) -> Result<Option<Recurrence>, StoreError>;
    async fn list_recs(&self, merchant: MerchantId, q: &RecQuery) -> Result<Page<Recurrence>, StoreError>;
    /// Applies `decision` to the recurrence (`owner` None: whoever owns it, for the rail)
    /// and ends the confirmation request `solicitation` answered, if any.
    async fn decide_rec(
        &self,
        owner: Option<MerchantId>,
        id: &IdRec,
        solicitation: Option<&IdSolicRec>,
        decision: RecDecision,
        at: DateTime<Utc>,
    ) -> Result<RecDecided, StoreError>;

    /// Revises a recurrence that has not ended (the caller checked the rules on the state it
    /// read; the store re-checks that it has not ended and that the location is free).
    async fn revise_rec(
        &self,
        merchant: MerchantId,
        id: &IdRec,
        revision: &crate::domain::rec::RecRevision,
    ) -> Result<RecRevised, StoreError>;

    /// The end-to-end ids of the open attempts of the recurrence's charges.
    /// (`merchant` None: whoever owns the recurrence, for the rail.)
    async fn open_attempts_of(&self, merchant: Option<MerchantId>, id: &IdRec) -> Result<Vec<EndToEndId>, StoreError>;
    /// The recurrence's open confirmation request, if any.
    async fn open_solicitation(&self, merchant: MerchantId, id: &IdRec) -> Result<Option<IdSolicRec>, StoreError>;
    /// Inserts a request in `CRIADA`; false if the recurrence has one open already.
    async fn insert_solicitation(&self, merchant: MerchantId, s: &SolicRec) -> Result<bool, StoreError>;
    /// A request, with its owner and its recurrence (`owner` None: whoever owns it).
    async fn find_solicitation(
        &self,
        owner: Option<MerchantId>,
        id: &IdSolicRec,
    ) -> Result<Option<(MerchantId, SolicRec, Recurrence)>, StoreError>;
    /// Moves an open request to `to` if the status machine allows it; answers the request
    /// after (unchanged if it did not), None if unknown.
    async fn move_solicitation(
        &self,
        owner: Option<MerchantId>,
        id: &IdSolicRec,
        to: SolicRecStatus,
        at: DateTime<Utc>,
    ) -> Result<Option<SolicRec>, StoreError>;
    /// Requests still `CRIADA` (never acknowledged by the rail), oldest first.
    async fn unsent_solicitations(&self, limit: i64) -> Result<Vec<(MerchantId, SolicRec, Recurrence)>, StoreError>;

    async fn insert_charge(
        &self,
        merchant: MerchantId,
        charge: &RecurringCharge,
        ciclo: u32,
        request_hash: &[u8; 32],
    ) -> Result<CobRInsert, StoreError>;
    async fn find_charge(&self, merchant: MerchantId, txid: &Txid) -> Result<Option<RecurringCharge>, StoreError>;
    async fn list_charges(&self, merchant: MerchantId, q: &CobRQuery) -> Result<Page<RecurringCharge>, StoreError>;
    /// Adds a retry attempt (in `SOLICITADA`) to an `ATIVA` charge with none open.
    async fn add_attempt(&self, merchant: MerchantId, txid: &Txid, attempt: &Attempt) -> Result<bool, StoreError>;
    /// The receiver cancels an open charge (and its open attempt): the charge after, and
    /// the attempt that was open.
    async fn cancel_charge(
        &self,
        merchant: MerchantId,
        txid: &Txid,
        encerramento: Encerramento,
        at: DateTime<Utc>,
    ) -> Result<Option<(RecurringCharge, Option<EndToEndId>)>, StoreError>;
    /// What the payer's bank did with an attempt.
    async fn attempt_outcome(
        &self,
        e2eid: &EndToEndId,
        outcome: AttemptOutcome,
        at: DateTime<Utc>,
    ) -> Result<AttemptApplied, StoreError>;
    /// Open attempts whose outcome never arrived: scheduled ones from the day after their
    /// settlement day (the bank debits during it), unsent ones from their day; a fair sample
    /// of at most `limit`.
    async fn overdue_attempts(&self, today: NaiveDate, limit: i64) -> Result<Vec<EndToEndId>, StoreError>;
    /// Attempts still `SOLICITADA` and due after `today`, with their charge and owner, oldest
    /// first.
    async fn unsent_attempts(
        &self,
        today: NaiveDate,
        limit: i64,
    ) -> Result<Vec<(MerchantId, RecurringCharge, Attempt)>, StoreError>;

    /// Ends what time ends, as of `now`: requests past their expiry, recurrences past
    /// their last day, charges past their last settlement day. Answers how many moved.
    async fn expire(&self, now: DateTime<Utc>, today: NaiveDate) -> Result<u64, StoreError>;
}
