//! Merchants and immediate charges: their stores.

use super::*;
/// A merchant to register.
pub struct NewMerchant {
    pub name: String,
    pub city: String,
    pub pix_key: String,
    pub api_key_hash: ApiKeyHash,
    pub fees: crate::domain::ledger::FeePlan,
    /// A person (CPF) rather than a company: the Pix night limit applies.
    pub individual: bool,
    pub limits: MerchantLimits,
    /// The merchant's first OAuth client, registered with it.
    pub first_client: Option<super::NewClient>,
}

/// Transfer limits set at registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MerchantLimits {
    pub per_transfer: crate::domain::money::Amount,
    pub daily: crate::domain::money::Amount,
    /// Per transfer between 20:00 and 06:00 (Brasília), for individuals.
    pub night: crate::domain::money::Amount,
}

impl Default for MerchantLimits {
    /// R$ 100,000.00 per transfer, R$ 500,000.00 a day, R$ 1,000.00 at night.
    fn default() -> Self {
        let reais = |r: i64| crate::domain::money::Amount::from_centavos(r * 100).unwrap_or_default();
        MerchantLimits { per_transfer: reais(100_000), daily: reais(500_000), night: reais(1_000) }
    }
}

/// Why a merchant could not be registered.
#[derive(Debug, thiserror::Error)]
pub enum RegisterMerchantError {
    /// A Pix key belongs to exactly one account.
    #[error("that Pix key is already registered")]
    PixKeyTaken,
    /// The database failed; nothing is registered.
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[async_trait]
pub trait MerchantStore: Send + Sync {
    async fn register(&self, new: NewMerchant) -> Result<MerchantId, RegisterMerchantError>;
    /// The merchant owning an active API key with this hash.
    async fn by_api_key(&self, hash: &ApiKeyHash) -> Result<Option<Merchant>, StoreError>;
    /// The merchant with this id (for a verified access token).
    async fn by_id(&self, id: MerchantId) -> Result<Option<Merchant>, StoreError>;
    /// Sets the receiver details charges with a due date show; false: no such merchant.
    async fn set_receiver(
        &self,
        id: MerchantId,
        receiver: &crate::domain::merchant::Recebedor,
    ) -> Result<bool, StoreError>;
    /// The receiver details, when an operator has set them.
    async fn receiver(&self, id: MerchantId) -> Result<Option<crate::domain::merchant::Recebedor>, StoreError>;
    /// The merchant's account number here (a recurring charge names it as `recebedor.conta`).
    async fn account_number(&self, id: MerchantId) -> Result<Option<i64>, StoreError>;
}

/// A new charge, ready to store.
pub struct NewCharge<'a> {
    pub txid: &'a Txid,
    pub terms: &'a ChargeTerms,
    /// SHA-256 of the canonical request: a repeated PUT with the same content is a replay.
    pub fingerprint: [u8; 32],
    pub location: ChargeLocation,
}

/// Where a new charge's payload is served.
pub enum ChargeLocation {
    /// A location created with the charge.
    New(NewLocation),
    /// The merchant's location `id` (`loc.id`): it must exist, be for `cob` and serve no
    /// other charge.
    Existing(i64),
}

/// A payload location, ready to store.
pub struct NewLocation {
    pub token: LocationToken,
    pub tipo_cob: TipoCob,
    /// `host/path/{token}`, no scheme.
    pub location_url: String,
    /// The dynamic BR Code pointing at `location_url`.
    pub pix_copia_e_cola: String,
}

/// What storing a new charge (of either kind, `C`) did.
#[derive(Debug)]
pub enum CreateOutcome<C = Charge> {
    Created(C),
    /// The txid was already used by this merchant.
    Exists {
        charge: C,
        same_request: bool,
    },
    /// The location asked for does not exist for this merchant, is not for `cob`, or
    /// serves another charge. Nothing was stored.
    LocationUnavailable,
    /// A charge of the other kind has this txid: txids are one space per merchant.
    TxidTaken,
}

/// What a revision (of a charge of either kind, `C`, refused for `E`) did.
#[derive(Debug)]
pub enum ReviseOutcome<C = Charge, E = RevisionError> {
    /// The charge after the PATCH (unchanged when the PATCH changed nothing).
    Revised(C),
    Rejected(E),
    NotFound,
    /// As for a create: the location asked for cannot serve this charge. Nothing changed.
    LocationUnavailable,
}

/// Filters of `GET /cob` (the Bacen parameters, already parsed).
#[derive(Debug, Clone)]
pub struct ChargeQuery {
    pub inicio: DateTime<Utc>,
    pub fim: DateTime<Utc>,
    pub devedor: Option<Document>,
    pub status: Option<ChargeStatus>,
    pub location_presente: Option<bool>,
    /// Only the charges of this batch (`GET /cobv?loteCobVId=`).
    pub lote: Option<i64>,
    pub pagina: u32,
    pub itens_por_pagina: u32,
}

#[async_trait]
pub trait ChargeStore: Send + Sync {
    async fn create(&self, merchant: MerchantId, new: NewCharge<'_>) -> Result<CreateOutcome, StoreError>;
    /// The charge now, or at revision `revisao`.
    async fn find(&self, merchant: MerchantId, txid: &Txid, revisao: Option<i32>)
        -> Result<Option<Charge>, StoreError>;
    /// Applies `patch` atomically under the domain revision rules.
    async fn revise(&self, merchant: MerchantId, txid: &Txid, patch: &ChargePatch)
        -> Result<ReviseOutcome, StoreError>;
    async fn list(&self, merchant: MerchantId, query: &ChargeQuery) -> Result<Page<Charge>, StoreError>;
    /// The charge behind a payload location (public: the payer's bank reads it).
    async fn find_by_location(&self, token: &LocationToken) -> Result<Option<Charge>, StoreError>;
}

/// A new charge with a due date, ready to store.
pub struct NewDueCharge<'a> {
    pub txid: &'a Txid,
    pub terms: &'a DueTerms,
    /// SHA-256 of the canonical request: a repeated PUT with the same content is a replay.
    pub fingerprint: [u8; 32],
    pub location: ChargeLocation,
    /// The batch (`/lotecobv`) that makes it, if one does.
    pub lote: Option<i64>,
}

/// Charges with a due date (`cobv`), in the same table as immediate ones.
#[async_trait]
pub trait DueChargeStore: Send + Sync {
    async fn create(&self, merchant: MerchantId, new: NewDueCharge<'_>)
        -> Result<CreateOutcome<DueCharge>, StoreError>;
    /// The charge now, or at revision `revisao`.
    async fn find(
        &self,
        merchant: MerchantId,
        txid: &Txid,
        revisao: Option<i32>,
    ) -> Result<Option<DueCharge>, StoreError>;
    /// The charge `txid` if a request with this fingerprint created it and it was never
    /// revised since (a replay).
    async fn created_by(
        &self,
        merchant: MerchantId,
        txid: &Txid,
        fingerprint: [u8; 32],
    ) -> Result<Option<DueCharge>, StoreError>;
    /// Whether the batch `lote` made the charge `txid`.
    async fn made_by_batch(&self, merchant: MerchantId, txid: &Txid, lote: i64) -> Result<bool, StoreError>;
    /// Applies `patch` atomically under the domain revision rules, as of `today`.
    async fn revise(
        &self,
        merchant: MerchantId,
        txid: &Txid,
        patch: &DuePatch,
        today: chrono::NaiveDate,
    ) -> Result<ReviseOutcome<DueCharge, DueRevisionError>, StoreError>;
    async fn list(&self, merchant: MerchantId, query: &ChargeQuery) -> Result<Page<DueCharge>, StoreError>;
    /// The charge behind a payload location and its merchant (public: the payer's bank
    /// reads it).
    async fn find_by_location(&self, token: &LocationToken) -> Result<Option<(DueCharge, MerchantId)>, StoreError>;
}

/// Filters of `GET /loc` (the Bacen parameters, already parsed).
#[derive(Debug, Clone)]
pub struct LocationQuery {
    pub inicio: DateTime<Utc>,
    pub fim: DateTime<Utc>,
    pub txid_presente: Option<bool>,
    pub tipo_cob: Option<TipoCob>,
    pub pagina: u32,
    pub itens_por_pagina: u32,
}

/// Payload locations on their own (`/loc`); a charge's own location is stored with it.
#[async_trait]
pub trait LocationStore: Send + Sync {
    async fn create(&self, merchant: MerchantId, new: NewLocation) -> Result<PayloadLocation, StoreError>;
    async fn get(&self, merchant: MerchantId, id: i64) -> Result<Option<PayloadLocation>, StoreError>;
    async fn list(&self, merchant: MerchantId, query: &LocationQuery) -> Result<Page<PayloadLocation>, StoreError>;
    /// Unlinks the charge the location serves, if any (the charge keeps its status, loses
    /// its location); the location afterwards. `None`: no such location for this merchant.
    async fn unlink(&self, merchant: MerchantId, id: i64) -> Result<Option<PayloadLocation>, StoreError>;
}

/// A batch of charges with a due date (`/lotecobv`) as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Lote {
    pub id: i64,
    pub descricao: String,
    pub criacao: DateTime<Utc>,
    pub items: Vec<LoteItem>,
}

/// One charge of a batch: `EM_PROCESSAMENTO`, `CRIADA` or `NEGADA` (with its problem).
#[derive(Debug, Clone, PartialEq)]
pub struct LoteItem {
    pub txid: Txid,
    pub status: String,
    pub problema: Option<serde_json::Value>,
    /// When its charge was created; none while the batch has not created it, nor when the
    /// batch was denied its creation.
    pub criacao: Option<DateTime<Utc>>,
}

/// What a batch item asks: create the charge, revise it (a `PATCH` of the batch: what the
/// request leaves out stays), or replace it (a `PUT` of an existing batch: the request is
/// the charge's whole creation request, and what it leaves out is removed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoteOperation {
    Create,
    Revise,
    Replace,
}

/// An item waiting for the worker: its request, sealed under the merchant.
#[derive(Debug, Clone)]
pub struct PendingItem {
    pub merchant: MerchantId,
    pub lote_id: i64,
    pub txid: Txid,
    pub operation: LoteOperation,
    pub request_enc: Vec<u8>,
    /// Bumped by each revision: an outcome counts only for the version processed.
    pub version: i32,
}

/// What submitting a batch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoteSubmitted {
    Accepted,
    /// The same request again.
    Replay,
    /// A PUT of an existing batch names other charges than the batch's.
    IdInUse,
    /// A charge of the batch already exists (or is in another batch): its txid.
    TxidTaken(String),
    /// A revision names a charge the batch does not have, or no such batch.
    NotInBatch(String),
    /// A `PATCH` of the batch names a charge whose creation or revision is still pending:
    /// its txid (it would replace that request; a `PUT` of the batch corrects it whole).
    StillPending(String),
    NotFound,
}

#[async_trait]
pub trait LoteStore: Send + Sync {
    /// A new batch (`items`: txid and sealed request), every item pending.
    async fn submit(
        &self,
        merchant: MerchantId,
        id: i64,
        descricao: &str,
        fingerprint: [u8; 32],
        items: Vec<(Txid, Vec<u8>)>,
    ) -> Result<LoteSubmitted, StoreError>;
    /// Revisions of charges of the batch, each pending again.
    async fn revise(
        &self,
        merchant: MerchantId,
        id: i64,
        descricao: Option<&str>,
        items: Vec<(Txid, Vec<u8>)>,
    ) -> Result<LoteSubmitted, StoreError>;
    /// Up to `limit` pending items due (not waiting after a fault), oldest first.
    async fn pending(&self, limit: i64) -> Result<Vec<PendingItem>, StoreError>;
    /// After a fault processing `item`: it waits before its next try, longer after each
    /// fault (1 s, doubling, at most an hour). How many faults it has met, with this one (0 if
    /// it was no longer pending at this version).
    async fn postpone(&self, item: &PendingItem) -> Result<u32, StoreError>;
    /// Before `PUT|PATCH /cobv/{txid}` changes a charge outside its batch: whether a batch
    /// holds it EM_PROCESSAMENTO or NEGADA (refused then; a denied creation of a charge made
    /// outside the batch holds nothing). When none does, the batch that has it forgets its
    /// last `PUT`, which no longer says what the charge is: its next `PUT`, even one
    /// identical to the last, is applied again instead of being answered as a replay.
    async fn held_else_forgotten(&self, merchant: MerchantId, txid: &Txid) -> Result<bool, StoreError>;
    /// An item's outcome (its sealed request dropped); false if it was no longer pending.
    async fn finish(&self, item: &PendingItem, problema: Option<&serde_json::Value>) -> Result<bool, StoreError>;
    async fn get(&self, merchant: MerchantId, id: i64) -> Result<Option<Lote>, StoreError>;
    async fn list(
        &self,
        merchant: MerchantId,
        inicio: DateTime<Utc>,
        fim: DateTime<Utc>,
        pagina: u32,
        itens_por_pagina: u32,
    ) -> Result<Page<Lote>, StoreError>;
}
