//! Webhooks to merchants: endpoints, the outbox and deliveries, the transport and the queue.

use super::*;

/// What an endpoint receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointKind {
    /// The API Pix callback (`PUT /webhook/{chave}`): `{"pix": [...]}` to `{url}/pix`.
    Bacen { chave: String },
    /// Signed event webhooks (`POST /webhooks`) for these event types.
    Eventos { tipos: Vec<String> },
    /// Pix Automático's recurrence callback (`PUT /webhookrec`): `{"recs": [...]}` to
    /// `{url}/rec` on each `rec.*` event.
    BacenRec,
    /// Pix Automático's recurring-charge callback (`PUT /webhookcobr`): `{"cobsr": [...]}`
    /// to `{url}/cobr` on each `cobr.*` event.
    BacenCobr,
}

impl EndpointKind {
    /// Its `kind` in the store.
    pub fn as_str(&self) -> &'static str {
        match self {
            EndpointKind::Bacen { .. } => "BACEN",
            EndpointKind::Eventos { .. } => "EVENTOS",
            EndpointKind::BacenRec => "BACEN_REC",
            EndpointKind::BacenCobr => "BACEN_COBR",
        }
    }

    /// A Bacen callback (batched per endpoint), not an event webhook.
    pub fn is_bacen(&self) -> bool {
        !matches!(self, EndpointKind::Eventos { .. })
    }
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
    /// Position in the outbox.
    pub seq: i64,
    /// The transaction that wrote it (0 for events written before that was kept): with
    /// `seq`, its place in the feed of `GET /eventos`.
    pub writer: i64,
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
    /// Registers (or points elsewhere) the merchant's one callback of a keyless kind
    /// (`BacenRec`, `BacenCobr`); true when it was created now.
    async fn put_keyless(
        &self,
        merchant: MerchantId,
        kind: &EndpointKind,
        url: &str,
        secret: Vec<u8>,
    ) -> Result<(WebhookEndpoint, bool), StoreError>;
    async fn keyless(&self, merchant: MerchantId, kind: &EndpointKind) -> Result<Option<WebhookEndpoint>, StoreError>;
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
    /// Events after the cursor `after` (a `(writer, seq)`), in the order their transactions
    /// began; only those whose transaction and every older one have ended (so a page never
    /// passes an event that commits later).
    async fn events(
        &self,
        merchant: MerchantId,
        after: (i64, i64),
        tipo: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Event>, StoreError>;
    async fn event(&self, merchant: MerchantId, id: uuid::Uuid) -> Result<Option<Event>, StoreError>;

    /// Creates the deliveries of up to `limit` new outbox events; how many events it took.
    async fn fan_out(&self, limit: u32) -> Result<u32, StoreError>;
    /// Leases up to `limit` due deliveries (pending, not leased, endpoint enabled) until
    /// `lease_until`, for sending or (`for_queue`, the relay) for the queue. A dispatcher
    /// that dies leaves them to the next one after that time.
    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
        for_queue: bool,
    ) -> Result<Vec<ClaimedDelivery>, StoreError>;
    /// Leases one delivery by id for sending if it is still pending and due and no other
    /// sender holds it (the queue worker's path: the relay held it for the queue).
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
    /// Deletes, oldest first and at most `batch` rows of each, the webhook history past the
    /// database's retention: attempts and finished deliveries, then events fanned out that no
    /// delivery references any more.
    async fn prune_history(&self, batch: i64) -> Result<PrunedHistory, StoreError>;
}

/// What one pruning of the history deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PrunedHistory {
    pub attempts: u64,
    pub deliveries: u64,
    pub events: u64,
    pub notifications: u64,
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
