//! Ports: the traits use cases depend on. Adapters (Postgres today; DynamoDB, KMS and the
//! rail later) implement them, so use cases run the same in Lambda, locally and in tests.

use crate::domain::charge::{Charge, ChargePatch, ChargeStatus, ChargeTerms, RevisionError};
use crate::domain::document::Document;
use crate::domain::ids::{LocationToken, Txid};
use crate::domain::merchant::{ApiKeyHash, Merchant, MerchantId};
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
}

/// A new charge, ready to store.
pub struct NewCharge<'a> {
    pub txid: &'a Txid,
    pub terms: &'a ChargeTerms,
    /// SHA-256 of the canonical request: a repeated PUT with the same content is a replay.
    pub fingerprint: [u8; 32],
    pub location_token: LocationToken,
    pub location_url: String,
    /// The dynamic BR Code pointing at `location_url`.
    pub pix_copia_e_cola: String,
}

/// What storing a new charge did.
#[derive(Debug)]
pub enum CreateOutcome {
    Created(Charge),
    /// The txid was already used by this merchant.
    Exists {
        charge: Charge,
        same_request: bool,
    },
}

/// What a revision did.
#[derive(Debug)]
pub enum ReviseOutcome {
    /// The charge after the PATCH (unchanged when the PATCH changed nothing).
    Revised(Charge),
    Rejected(RevisionError),
    NotFound,
}

/// Filters of `GET /cob` (the Bacen parameters, already parsed).
#[derive(Debug, Clone)]
pub struct ChargeQuery {
    pub inicio: DateTime<Utc>,
    pub fim: DateTime<Utc>,
    pub devedor: Option<Document>,
    pub status: Option<ChargeStatus>,
    pub location_presente: Option<bool>,
    pub pagina: u32,
    pub itens_por_pagina: u32,
}

/// One page of results and the total count across pages.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
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

// ---- Received Pix, refunds, ledger, rail ----

use crate::domain::ids::{EndToEndId, RefundId, RtrId};
use crate::domain::ledger::Balance;
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

pub use crate::domain::verdict::{Contradiction, RailVerdict, Rejection, RejectionCode};

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
}

/// Filters of `GET /pix`.
#[derive(Debug, Clone)]
pub struct PixQuery {
    pub inicio: DateTime<Utc>,
    pub fim: DateTime<Utc>,
    pub txid: Option<Txid>,
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
    /// Refund orders still EM_PROCESSAMENTO that were requested before `before`, as orders.
    async fn pending_refunds(
        &self,
        before: DateTime<Utc>,
    ) -> Result<Vec<crate::domain::payment::RefundOrder>, StoreError>;
    /// Settles or voids a refund's reservation, at most once.
    async fn conclude_refund(
        &self,
        notification_id: &str,
        rtr_id: &RtrId,
        result: &RailVerdict,
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
}

// ---- Idempotency ----

use crate::domain::idempotency::{Begin, IdempotencyKey, StoredResponse};

/// Where idempotency records live (Postgres locally, DynamoDB in AWS). One contract test
/// suite runs against every implementation. The conditional write is the lock.
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims `key` for a request with `hash` (writing an in-progress record locked until
    /// `lock_until`) unless a live record exists, in which case it says what that means.
    async fn begin(
        &self,
        scope: MerchantId,
        key: &IdempotencyKey,
        hash: &[u8; 32],
        lock_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Begin, StoreError>;
    /// Stores the response of the request that holds the key, kept until `keep_until`.
    async fn complete(
        &self,
        scope: MerchantId,
        key: &IdempotencyKey,
        hash: &[u8; 32],
        response: &StoredResponse,
        keep_until: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Drops the in-progress record of a request that failed before any effect, so that
    /// the client can retry with the same key.
    async fn release(&self, scope: MerchantId, key: &IdempotencyKey, hash: &[u8; 32]) -> Result<(), StoreError>;
}

// ---- Encryption of personal data and secrets ----

/// What an encrypted value is bound to: decrypting under another merchant or purpose
/// fails. Sent to KMS as its encryption context and used as AES-GCM associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CipherContext {
    /// None for data that belongs to no merchant (money parked in suspense).
    pub merchant: Option<MerchantId>,
    pub purpose: &'static str,
}

/// Why a value could not be encrypted or decrypted. Never carries the value.
#[derive(Debug, thiserror::Error)]
pub enum CipherError {
    /// Tampered, truncated, or under another context or key: never garbage.
    #[error("ciphertext rejected")]
    Rejected,
    /// The key service is unreachable or throttling.
    #[error("key service unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// Anything else: a bug, a misconfigured key, or a purpose outside the key policy.
    #[error("unexpected cipher failure")]
    Unexpected(#[source] anyhow::Error),
}

/// Envelope encryption (a data key per context, itself encrypted by a master key held in
/// KMS in AWS or locally for development) and keyed blind indexes for lookups.
#[async_trait]
pub trait Cipher: Send + Sync {
    async fn encrypt(&self, plaintext: &[u8], context: CipherContext) -> Result<Vec<u8>, CipherError>;
    async fn decrypt(&self, envelope: &[u8], context: CipherContext) -> Result<Vec<u8>, CipherError>;
    /// HMAC-SHA256 of `value` under a secret index key, per purpose: equal values give
    /// equal indexes, so `WHERE index = $1` finds them without storing the value.
    fn blind_index(&self, purpose: &'static str, value: &[u8]) -> [u8; 32];
}

/// The encryption purposes (`purpose` in the encryption context): what a sealed value is
/// for. Each function may use only those its route-table entry lists (`app::key_policy`).
pub mod purpose {
    /// The devedor's document on a charge.
    pub const DEVEDOR: &str = "devedor";
    /// The pagador's document on a received Pix.
    pub const PAGADOR: &str = "pagador";
    /// A bank-account receiver's document on a transfer.
    pub const FAVORECIDO: &str = "favorecido";
    /// Webhook signing secrets.
    pub const WEBHOOK_SECRET: &str = "webhook-secret";
    /// Responses kept for idempotent replay.
    pub const IDEMPOTENCY_RESPONSE: &str = "idempotency-response";
    /// The blind-index key, decrypted once at cold start by every function that holds a
    /// cipher (and made once by the migrations function).
    pub const BLIND_INDEX_KEY: &str = "blind-index-key";

    /// Every purpose, for the functions that are trusted with all of them (none are today:
    /// the migrations function only makes the blind-index key).
    pub const ALL: &[&str] = &[DEVEDOR, PAGADOR, FAVORECIDO, WEBHOOK_SECRET, IDEMPOTENCY_RESPONSE, BLIND_INDEX_KEY];
}

// ---- Pix transfers out ----

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
    ) -> Result<ConcludeOutcome, StoreError>;
    /// Transfers still EM_PROCESSAMENTO that were requested before `before`.
    async fn pending(&self, before: DateTime<Utc>) -> Result<Vec<Transfer>, StoreError>;
    /// Credits a returned Pix back to the merchant, at most once per return id. A return
    /// of a transfer not yet settled settles it first (the money did leave).
    async fn record_return(&self, notification_id: &str, returned: &ReturnedPix)
        -> Result<ConcludeOutcome, StoreError>;
}

// ---- Payload locations (paying a dynamic BR Code) ----

pub use crate::domain::location::{LocationFailure, LocationPayload};

/// Reads the payload a dynamic BR Code points at, as a payer's bank does.
#[async_trait]
pub trait LocationReader: Send + Sync {
    async fn read(&self, location: &str) -> Result<LocationPayload, LocationFailure>;
}

// ---- Database credentials ----

/// Keeps the credentials new database connections log in with valid: with IAM database
/// authentication, a token about to age out is replaced (a local signature, no network).
#[async_trait]
pub trait DatabaseAuth: Send + Sync {
    async fn keep_fresh(&self) -> Result<(), StoreError>;
}

// ---- Time ----

/// The current time, as a port: tests fix it to check time-dependent rules (the Pix night
/// limit, the daily limit's reset) without waiting for the clock.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The real clock.
pub struct SystemClock;

impl SystemClock {
    /// Wall time, for what another party checks against its own clock (the timestamps of
    /// signed messages): never moved by a test's clock. Everything else asks the `Clock`.
    pub fn wall() -> DateTime<Utc> {
        Utc::now()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Self::wall()
    }
}

// ---- Webhooks to merchants ----

/// What an endpoint receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointKind {
    /// The API Pix callback (`PUT /webhook/{chave}`): `{"pix": [...]}` to `{url}/pix`.
    Bacen { chave: String },
    /// Signed event webhooks (`POST /webhooks`) for these event types.
    Eventos { tipos: Vec<String> },
}

/// A merchant's webhook endpoint (its secrets stay in the store, encrypted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub id: uuid::Uuid,
    pub merchant: MerchantId,
    pub kind: EndpointKind,
    pub url: String,
    pub created_at: DateTime<Utc>,
    /// When and why deliveries stopped (the receiver answered 410 Gone).
    pub disabled: Option<(DateTime<Utc>, String)>,
}

/// An endpoint's signing secrets as stored: encrypted through the `Cipher` port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedSecrets {
    pub current: Vec<u8>,
    /// The secret before the last rotation, still signing until the given time.
    pub previous: Option<(Vec<u8>, DateTime<Utc>)>,
}

/// An event from the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Position in the outbox: the cursor of `GET /eventos`.
    pub seq: i64,
    pub id: uuid::Uuid,
    pub merchant: MerchantId,
    pub kind: String,
    pub data: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// A delivery a dispatcher holds until its lease ends.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub id: uuid::Uuid,
    /// Attempts made before this one.
    pub attempts: u32,
    pub endpoint: WebhookEndpoint,
    pub secrets: SealedSecrets,
    pub event: Event,
}

/// What one attempt saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptReport {
    pub started_at: DateTime<Utc>,
    /// None when no HTTP answer came.
    pub status_code: Option<u16>,
    pub latency_ms: u32,
    pub error: Option<String>,
    /// The first bytes of the answer.
    pub excerpt: Option<String>,
}

/// What follows an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptVerdict {
    Delivered,
    RetryAt(DateTime<Utc>),
    /// Out of attempts: kept as FALHOU until replayed.
    GiveUp,
    /// 410 Gone: the endpoint is disabled; its deliveries wait for it to be re-enabled.
    EndpointGone,
}

/// Delivery status of one event to one endpoint, as the merchant sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliverySummary {
    pub id: uuid::Uuid,
    pub event_id: uuid::Uuid,
    pub event_kind: String,
    pub status: String,
    pub attempts: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<u16>,
    pub last_error: Option<String>,
}

/// The most event-webhook endpoints one merchant may have.
pub const MAX_ENDPOINTS: i64 = 20;

#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Creates or repoints the callback of a receiving key; `true` when created (a new
    /// endpoint gets `secret`; a repointed one keeps its own).
    async fn put_bacen(
        &self,
        merchant: MerchantId,
        chave: &str,
        url: &str,
        secret: Vec<u8>,
    ) -> Result<(WebhookEndpoint, bool), StoreError>;
    /// None when the merchant already has `MAX_ENDPOINTS`.
    async fn create_endpoint(
        &self,
        merchant: MerchantId,
        url: &str,
        tipos: &[String],
        secret: Vec<u8>,
    ) -> Result<Option<WebhookEndpoint>, StoreError>;
    async fn bacen(&self, merchant: MerchantId, chave: &str) -> Result<Option<WebhookEndpoint>, StoreError>;
    async fn endpoint(&self, merchant: MerchantId, id: uuid::Uuid) -> Result<Option<WebhookEndpoint>, StoreError>;
    /// Callbacks created in [inicio, fim], oldest first.
    async fn list_bacen(
        &self,
        merchant: MerchantId,
        inicio: Option<DateTime<Utc>>,
        fim: Option<DateTime<Utc>>,
        pagina: u32,
        itens_por_pagina: u32,
    ) -> Result<Page<WebhookEndpoint>, StoreError>;
    async fn list_endpoints(&self, merchant: MerchantId) -> Result<Vec<WebhookEndpoint>, StoreError>;
    /// Deletes an endpoint; its pending deliveries stop. False when there was none.
    async fn delete(&self, merchant: MerchantId, id: uuid::Uuid) -> Result<bool, StoreError>;
    /// Makes `secret` current and keeps the old one signing until `grace_until`. If a
    /// previous secret is still in its grace period at `now` (a second rotation within
    /// it), that one — the secret receivers may still hold — keeps signing until its own
    /// grace ends, and the one being replaced stops.
    async fn rotate(
        &self,
        merchant: MerchantId,
        id: uuid::Uuid,
        secret: Vec<u8>,
        now: DateTime<Utc>,
        grace_until: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Re-enables the endpoint and schedules every delivery that gave up (or waited for it)
    /// for now; how many. None when there is no such endpoint.
    async fn replay(&self, merchant: MerchantId, id: uuid::Uuid) -> Result<Option<u64>, StoreError>;
    /// The latest deliveries to an endpoint, newest first.
    async fn deliveries(
        &self,
        merchant: MerchantId,
        id: uuid::Uuid,
        limit: u32,
    ) -> Result<Vec<DeliverySummary>, StoreError>;
    /// Events after the cursor `after` (a `seq`), oldest first.
    async fn events(
        &self,
        merchant: MerchantId,
        after: i64,
        tipo: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Event>, StoreError>;
    async fn event(&self, merchant: MerchantId, id: uuid::Uuid) -> Result<Option<Event>, StoreError>;

    /// Creates the deliveries of up to `limit` new outbox events; how many events it took.
    async fn fan_out(&self, limit: u32) -> Result<u32, StoreError>;
    /// Leases up to `limit` due deliveries (pending, not leased, endpoint enabled) until
    /// `lease_until`. A dispatcher that dies leaves them to the next one after that time.
    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ClaimedDelivery>, StoreError>;
    /// Leases one delivery by id if it is still pending and due, whoever leased it (the
    /// queue worker's path: the relay leased it when it enqueued it).
    async fn claim(
        &self,
        id: uuid::Uuid,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<ClaimedDelivery>, StoreError>;
    /// Records an attempt and what follows it, releasing the lease.
    async fn record_attempt(
        &self,
        delivery: uuid::Uuid,
        report: &AttemptReport,
        verdict: AttemptVerdict,
    ) -> Result<(), StoreError>;
}

/// The last mile: one signed POST to a receiver.
#[async_trait]
pub trait WebhookTransport: Send + Sync {
    /// Posts `body` to `url` with `headers`; never follows redirects.
    async fn post(&self, url: &str, headers: &[(&'static str, String)], body: &[u8]) -> TransportResult;
}

/// What the receiver did with a POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportResult {
    pub status_code: Option<u16>,
    pub latency_ms: u32,
    pub error: Option<String>,
    pub excerpt: Option<String>,
    pub retry_after: Option<std::time::Duration>,
}

/// The queue between the outbox relay and the delivery workers (SQS in AWS).
#[async_trait]
pub trait DeliveryQueue: Send + Sync {
    /// Enqueues deliveries by id; the ids it could not enqueue are returned.
    async fn enqueue(&self, ids: &[uuid::Uuid]) -> Result<Vec<uuid::Uuid>, anyhow::Error>;
}

// ---- Per-merchant request quotas ----

/// Counters of requests per merchant: fixed windows, and the key-lookup token bucket.
#[async_trait]
pub trait RateCounter: Send + Sync {
    /// Counts one request in the window and answers how many it now holds.
    async fn count(
        &self,
        merchant: MerchantId,
        quota: &'static str,
        window_start: DateTime<Utc>,
    ) -> Result<u32, StoreError>;
    /// Adds `delta` thousandths of a token to the merchant's bucket (refilled to `now`
    /// first; a new bucket starts full) — only if the result stays at or above `floor`.
    /// Answers the tokens it holds after, and whether `delta` was applied.
    async fn adjust_bucket(
        &self,
        merchant: MerchantId,
        bucket: crate::domain::quota::DictBucket,
        delta: i64,
        floor: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<(i64, bool), StoreError>;
}

// ---- Secrets ----

/// A secret as the store holds it: its value now and, while a rotation overlaps, the one
/// before.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretVersions {
    pub current: Vec<u8>,
    pub previous: Option<Vec<u8>>,
}

impl std::fmt::Debug for SecretVersions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretVersions(***)")
    }
}

/// Where secrets are read from at run time (Secrets Manager in AWS), so that none sits
/// in a function's configuration.
#[async_trait]
pub trait SecretSource: Send + Sync {
    async fn read(&self, id: &str) -> Result<SecretVersions, StoreError>;
}

/// A secret held for signing and verifying (the rail's): its versions now, and a re-read
/// when the other side seems to have rotated it (at most once a minute, whatever asks).
#[async_trait]
pub trait HeldSecret: Send + Sync {
    async fn versions(&self) -> Result<SecretVersions, StoreError>;
    /// Reads the secret again if allowed now; whether it did.
    async fn reread(&self) -> bool;
}
