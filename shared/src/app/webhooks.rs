//! Webhooks to merchants: registering endpoints (the API Pix callback per receiving key,
//! and signed event webhooks), rotating their secrets, and the dispatcher that turns
//! outbox events into signed deliveries with retries.
//!
//! Delivery is at least once: an event is acknowledged only by a 2xx, and a dispatcher that
//! dies mid-delivery leaves its lease to lapse so that another delivers again. Receivers
//! deduplicate on `webhook-id`.

use super::config::WebhookSettings;
use super::AppState;
use crate::domain::ids::EndToEndId;
use crate::domain::merchant::{Merchant, MerchantId};
use crate::domain::webhook::{event_types, is_event_type, signature_header, UrlRejection, WebhookSecret};
use crate::ports::{
    AttemptReport, AttemptVerdict, Cipher, CipherContext, ClaimedDelivery, Clock, DeliverySummary, EndpointKind, Event,
    Page, PixStore, SealedSecrets, StoreError, WebhookEndpoint, WebhookStore, WebhookTransport,
};
use chrono::{DateTime, Utc};
use rand::Rng;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use uuid::Uuid;

use super::key_policy::WEBHOOK_SECRET as SECRET_PURPOSE;

/// The ports the webhook use cases and jobs run with (the application state has them all).
/// Cloned into the delivery tasks a pass spawns.
pub trait WebhookPorts: Clone + Send + Sync + 'static {
    fn webhooks(&self) -> &dyn WebhookStore;
    fn webhook_transport(&self) -> &dyn WebhookTransport;
    fn cipher(&self) -> &dyn Cipher;
    /// The received Pix an API Pix callback shows.
    fn pix(&self) -> &dyn PixStore;
    /// The recurrences and recurring charges Pix Automático's callbacks show.
    fn recurrences(&self) -> &dyn crate::ports::RecurrenceStore;
    fn clock(&self) -> &dyn Clock;
    fn webhook_settings(&self) -> &WebhookSettings;
}

impl WebhookPorts for AppState {
    fn webhooks(&self) -> &dyn WebhookStore {
        self.webhooks.as_ref()
    }
    fn webhook_transport(&self) -> &dyn WebhookTransport {
        self.webhook_transport.as_ref()
    }
    fn cipher(&self) -> &dyn Cipher {
        self.cipher.as_ref()
    }
    fn pix(&self) -> &dyn PixStore {
        self.pix.as_ref()
    }
    fn recurrences(&self) -> &dyn crate::ports::RecurrenceStore {
        self.recurrences.as_ref()
    }
    fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }
    fn webhook_settings(&self) -> &WebhookSettings {
        &self.config.webhooks
    }
}
/// How long the previous secret keeps signing after a rotation.
pub const ROTATION_GRACE: Duration = Duration::from_secs(24 * 3600);
/// Pix per API Pix callback, at most.
const MAX_BATCH: usize = 50;

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The receiver URL breaks the receiver rules (https, a public host, ...); carries why.
    #[error("the webhook URL {0}")]
    BadUrl(UrlRejection),
    /// `PUT /webhook/{chave}` names a key that is not one of the merchant's Pix keys.
    #[error("this Pix key is not registered to the merchant")]
    NotYourKey,
    /// An event endpoint asks for a type that is not an `EventKind`; carries the first such type.
    #[error("unknown event type {0}")]
    BadEventType(String),
    /// The merchant already has `MAX_ENDPOINTS` event endpoints (API Pix callbacks do not count).
    #[error("at most {0} webhook endpoints per merchant")]
    TooMany(i64),
    /// No such callback, event endpoint or event for this merchant; a callback's id names no endpoint.
    #[error("no such webhook")]
    NotFound,
    /// A secret could not be sealed or opened: handlers answer 503, the dispatcher tries again later.
    #[error("the secret could not be sealed or opened")]
    Cipher(#[from] crate::ports::CipherError),
    /// The store failed: answered 503 when it is unavailable, 500 otherwise.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn context(merchant: MerchantId) -> CipherContext {
    CipherContext { merchant: Some(merchant), purpose: SECRET_PURPOSE }
}

async fn seal(
    ports: &impl WebhookPorts,
    merchant: MerchantId,
    secret: &WebhookSecret,
) -> Result<Vec<u8>, WebhookError> {
    Ok(ports.cipher().encrypt(secret.as_bytes(), context(merchant)).await?)
}

async fn open(ports: &impl WebhookPorts, merchant: MerchantId, sealed: &[u8]) -> Result<WebhookSecret, WebhookError> {
    let raw = ports.cipher().decrypt(sealed, context(merchant)).await?;
    WebhookSecret::from_bytes(raw).ok_or(WebhookError::Cipher(crate::ports::CipherError::Rejected))
}

fn check_url(ports: &impl WebhookPorts, url: &str) -> Result<String, WebhookError> {
    Ok(ports.webhook_settings().rules.check_url(url).map_err(WebhookError::BadUrl)?.to_string())
}

/// `PUT /webhook/{chave}`: the secret is returned only when the callback is created.
pub async fn put_bacen(
    ports: &impl WebhookPorts,
    merchant: &Merchant,
    chave: &str,
    url: &str,
) -> Result<(WebhookEndpoint, Option<WebhookSecret>), WebhookError> {
    if !merchant.owns_key(chave) {
        return Err(WebhookError::NotYourKey);
    }
    let url = check_url(ports, url)?;
    let secret = WebhookSecret::generate();
    let sealed = seal(ports, merchant.id, &secret).await?;
    let (endpoint, created) = ports.webhooks().put_bacen(merchant.id, chave, &url, sealed).await?;
    Ok((endpoint, created.then_some(secret)))
}

/// `PUT /webhookrec` and `PUT /webhookcobr`: the merchant's one callback of that kind.
pub async fn put_keyless(
    ports: &impl WebhookPorts,
    merchant: &Merchant,
    kind: &EndpointKind,
    url: &str,
) -> Result<(WebhookEndpoint, Option<WebhookSecret>), WebhookError> {
    let url = check_url(ports, url)?;
    let secret = WebhookSecret::generate();
    let sealed = seal(ports, merchant.id, &secret).await?;
    let (endpoint, created) = ports.webhooks().put_keyless(merchant.id, kind, &url, sealed).await?;
    Ok((endpoint, created.then_some(secret)))
}

pub async fn keyless(
    ports: &impl WebhookPorts,
    merchant: &Merchant,
    kind: &EndpointKind,
) -> Result<WebhookEndpoint, WebhookError> {
    ports.webhooks().keyless(merchant.id, kind).await?.ok_or(WebhookError::NotFound)
}

pub async fn delete_keyless(
    ports: &impl WebhookPorts,
    merchant: &Merchant,
    kind: &EndpointKind,
) -> Result<(), WebhookError> {
    let endpoint = keyless(ports, merchant, kind).await?;
    ports.webhooks().delete(merchant.id, endpoint.id).await?.then_some(()).ok_or(WebhookError::NotFound)
}

pub async fn bacen(
    ports: &impl WebhookPorts,
    merchant: &Merchant,
    chave: &str,
) -> Result<WebhookEndpoint, WebhookError> {
    ports.webhooks().bacen(merchant.id, chave).await?.ok_or(WebhookError::NotFound)
}

pub async fn delete_bacen(ports: &impl WebhookPorts, merchant: &Merchant, chave: &str) -> Result<(), WebhookError> {
    let endpoint = bacen(ports, merchant, chave).await?;
    ports.webhooks().delete(merchant.id, endpoint.id).await?.then_some(()).ok_or(WebhookError::NotFound)
}

pub async fn list_bacen(
    ports: &impl WebhookPorts,
    merchant: &Merchant,
    inicio: Option<DateTime<Utc>>,
    fim: Option<DateTime<Utc>>,
    pagina: u32,
    itens_por_pagina: u32,
) -> Result<Page<WebhookEndpoint>, WebhookError> {
    Ok(ports.webhooks().list_bacen(merchant.id, inicio, fim, pagina, itens_por_pagina).await?)
}

/// `POST /webhooks`: an event endpoint and its secret, shown this once. No `tipos` means
/// every event type.
pub async fn create(
    ports: &impl WebhookPorts,
    merchant: &Merchant,
    url: &str,
    tipos: Option<Vec<String>>,
) -> Result<(WebhookEndpoint, WebhookSecret), WebhookError> {
    let url = check_url(ports, url)?;
    let mut tipos = tipos.unwrap_or_else(|| event_types().map(str::to_owned).collect());
    if let Some(bad) = tipos.iter().find(|t| !is_event_type(t)) {
        return Err(WebhookError::BadEventType(bad.clone()));
    }
    tipos.sort();
    tipos.dedup();
    let secret = WebhookSecret::generate();
    let sealed = seal(ports, merchant.id, &secret).await?;
    let endpoint = ports
        .webhooks()
        .create_endpoint(merchant.id, &url, &tipos, sealed)
        .await?
        .ok_or(WebhookError::TooMany(crate::ports::MAX_ENDPOINTS))?;
    Ok((endpoint, secret))
}

/// An event endpoint (not an API Pix callback) of this merchant.
pub async fn endpoint(
    ports: &impl WebhookPorts,
    merchant: &Merchant,
    id: Uuid,
) -> Result<WebhookEndpoint, WebhookError> {
    match ports.webhooks().endpoint(merchant.id, id).await? {
        Some(e) if matches!(e.kind, EndpointKind::Eventos { .. }) => Ok(e),
        _ => Err(WebhookError::NotFound),
    }
}

pub async fn list(ports: &impl WebhookPorts, merchant: &Merchant) -> Result<Vec<WebhookEndpoint>, WebhookError> {
    Ok(ports.webhooks().list_endpoints(merchant.id).await?)
}

pub async fn delete(ports: &impl WebhookPorts, merchant: &Merchant, id: Uuid) -> Result<(), WebhookError> {
    endpoint(ports, merchant, id).await?;
    ports.webhooks().delete(merchant.id, id).await?.then_some(()).ok_or(WebhookError::NotFound)
}

/// A new secret, shown once; the old one keeps signing for `ROTATION_GRACE`.
pub async fn rotate(
    ports: &impl WebhookPorts,
    merchant: &Merchant,
    id: Uuid,
) -> Result<(WebhookSecret, DateTime<Utc>), WebhookError> {
    endpoint(ports, merchant, id).await?;
    let secret = WebhookSecret::generate();
    let sealed = seal(ports, merchant.id, &secret).await?;
    let now = ports.clock().now();
    let grace_until = now + ROTATION_GRACE;
    if !ports.webhooks().rotate(merchant.id, id, sealed, now, grace_until).await? {
        return Err(WebhookError::NotFound);
    }
    Ok((secret, grace_until))
}

/// Re-enables an endpoint and schedules its failed deliveries again; how many.
pub async fn replay(ports: &impl WebhookPorts, merchant: &Merchant, id: Uuid) -> Result<u64, WebhookError> {
    endpoint(ports, merchant, id).await?;
    ports.webhooks().replay(merchant.id, id).await?.ok_or(WebhookError::NotFound)
}

pub async fn deliveries(
    ports: &impl WebhookPorts,
    merchant: &Merchant,
    id: Uuid,
    limit: u32,
) -> Result<Vec<DeliverySummary>, WebhookError> {
    endpoint(ports, merchant, id).await?;
    Ok(ports.webhooks().deliveries(merchant.id, id, limit).await?)
}

pub async fn events(
    ports: &impl WebhookPorts,
    merchant: &Merchant,
    after: (i64, i64),
    tipo: Option<&str>,
    limit: u32,
) -> Result<Vec<Event>, WebhookError> {
    Ok(ports.webhooks().events(merchant.id, after, tipo, limit).await?)
}

pub async fn event(ports: &impl WebhookPorts, merchant: &Merchant, id: Uuid) -> Result<Event, WebhookError> {
    ports.webhooks().event(merchant.id, id).await?.ok_or(WebhookError::NotFound)
}

/// The JSON of an event, as `GET /eventos` shows it and event webhooks carry it
/// (Standard Webhooks' `type`, `timestamp`, `data`).
pub fn event_json(e: &Event) -> Value {
    json!({
        "id": e.id,
        "type": e.kind,
        "timestamp": crate::bacen::timestamp(e.created_at),
        "data": e.data,
    })
}

// ---- The dispatcher ----

/// What one dispatcher pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PassReport {
    pub fanned_out: u32,
    pub attempted: u32,
    pub delivered: u32,
}

/// Deliveries a pass takes at most.
const CLAIM_LIMIT: u32 = 64;

/// The lease on claimed deliveries: the POST timeout plus room to record the result.
fn lease(ports: &impl WebhookPorts) -> chrono::Duration {
    chrono::Duration::from_std(ports.webhook_settings().timeout + Duration::from_secs(5))
        .unwrap_or(chrono::Duration::seconds(15))
}

/// Fans every new outbox event out into deliveries, 500 at a time; how many events.
async fn fan_out(ports: &impl WebhookPorts) -> Result<u32, StoreError> {
    let mut total = 0;
    loop {
        let n = ports.webhooks().fan_out(500).await?;
        total += n;
        if n < 500 {
            return Ok(total);
        }
    }
}

/// One pass: fan new outbox events out into deliveries, then attempt every due delivery.
pub async fn dispatch_once(ports: &impl WebhookPorts) -> Result<PassReport, StoreError> {
    let mut report = PassReport { fanned_out: fan_out(ports).await?, ..Default::default() };
    let now = ports.clock().now();
    let claimed = ports.webhooks().claim_due(now, now + lease(ports), CLAIM_LIMIT, false).await?;
    let (attempted, delivered) = deliver_all(ports, claimed).await;
    report.attempted = attempted;
    report.delivered = delivered;
    Ok(report)
}

/// Delivers claimed deliveries, one request per event endpoint delivery and one batched
/// request per API Pix callback; (attempted, delivered).
pub async fn deliver_all(ports: &impl WebhookPorts, claimed: Vec<ClaimedDelivery>) -> (u32, u32) {
    let mut batches: BTreeMap<Uuid, Vec<ClaimedDelivery>> = BTreeMap::new();
    let mut singles = vec![];
    for d in claimed {
        if d.endpoint.kind.is_bacen() {
            batches.entry(d.endpoint.id).or_default().push(d);
        } else {
            singles.push(vec![d]);
        }
    }
    let mut groups: Vec<Vec<ClaimedDelivery>> = singles;
    for (_, mut batch) in batches {
        while !batch.is_empty() {
            let rest = batch.split_off(batch.len().min(MAX_BATCH));
            groups.push(std::mem::replace(&mut batch, rest));
        }
    }
    deliver_groups(ports, groups).await
}

/// Each group at once (one signed POST each), so that all are done within one timeout of
/// the receivers, well inside the deliveries' lease.
fn deliver_groups<'a, P: WebhookPorts>(
    ports: &'a P,
    groups: Vec<Vec<ClaimedDelivery>>,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = (u32, u32)> + Send + 'a>> {
    Box::pin(async move {
        let mut tasks = tokio::task::JoinSet::new();
        for group in groups {
            let ports = ports.clone();
            tasks.spawn(super::key_policy::inherit(async move { deliver_group(&ports, group).await }));
        }
        let (mut attempted, mut delivered) = (0, 0);
        while let Some(done) = tasks.join_next().await {
            if let Ok((a, d)) = done {
                attempted += a;
                delivered += d;
            }
        }
        (attempted, delivered)
    })
}

/// The body of an API Pix callback: each Pix once, as `GET /pix/{e2eid}` shows it now
/// (with its refunds).
async fn bacen_body(ports: &impl WebhookPorts, group: &[ClaimedDelivery]) -> Result<Vec<u8>, StoreError> {
    let mut seen = std::collections::BTreeSet::new();
    let mut pix = vec![];
    for d in group {
        let Some(e2eid) = d.event.data["endToEndId"].as_str().and_then(|s| EndToEndId::parse(s).ok()) else { continue };
        if seen.insert(e2eid.as_str().to_owned()) {
            if let Some(p) = ports.pix().find(d.endpoint.merchant, &e2eid).await? {
                pix.push(p);
            }
        }
    }
    let views: Vec<_> = pix.iter().map(crate::bacen::pix::Pix::of).collect();
    serde_json::to_vec(&json!({ "pix": views })).map_err(|e| StoreError::Unexpected(e.into()))
}

/// The body of a `/webhookrec` callback: each recurrence once, as it is now (Bacen's
/// `RecNotification`).
async fn rec_body(ports: &impl WebhookPorts, group: &[ClaimedDelivery]) -> Result<Vec<u8>, StoreError> {
    let mut seen = std::collections::BTreeSet::new();
    let mut recs = vec![];
    for d in group {
        let Some(id) = d.event.data["idRec"].as_str().and_then(crate::domain::rec::IdRec::parse) else { continue };
        if seen.insert(id.as_str().to_owned()) {
            if let Some(rec) = ports.recurrences().find_rec(d.endpoint.merchant, &id).await? {
                recs.push(crate::bacen::rec::rec_notification(&rec));
            }
        }
    }
    serde_json::to_vec(&json!({ "recs": recs })).map_err(|e| StoreError::Unexpected(e.into()))
}

/// The body of a `/webhookcobr` callback: each recurring charge once, as it is now, with
/// the Pix that paid it (Bacen's `CobRNotification`).
async fn cobr_body(ports: &impl WebhookPorts, group: &[ClaimedDelivery]) -> Result<Vec<u8>, StoreError> {
    let mut seen = std::collections::BTreeSet::new();
    let mut charges = vec![];
    for d in group {
        let Some(txid) = d.event.data["txid"].as_str().and_then(|t| crate::domain::ids::Txid::parse(t).ok()) else {
            continue;
        };
        if !seen.insert(txid.as_str().to_owned()) {
            continue;
        }
        let Some(c) = ports.recurrences().find_charge(d.endpoint.merchant, &txid).await? else { continue };
        let mut pix = vec![];
        for a in c.attempts.iter().filter(|a| a.status == crate::domain::rec::AttemptStatus::Paga) {
            if let Some(p) = ports.pix().find(d.endpoint.merchant, &a.end_to_end_id).await? {
                pix.push(p);
            }
        }
        charges.push(crate::bacen::rec::charge_notification(&c, &pix));
    }
    serde_json::to_vec(&json!({ "cobsr": charges })).map_err(|e| StoreError::Unexpected(e.into()))
}

async fn secrets(
    ports: &impl WebhookPorts,
    merchant: MerchantId,
    sealed: &SealedSecrets,
    now: DateTime<Utc>,
) -> Result<Vec<WebhookSecret>, WebhookError> {
    let mut out = vec![open(ports, merchant, &sealed.current).await?];
    if let Some((prev, until)) = &sealed.previous {
        if *until > now {
            out.push(open(ports, merchant, prev).await?);
        }
    }
    Ok(out)
}

/// The `webhook-id` of a callback batch: its delivery's id when alone; otherwise one drawn
/// from every delivery in it, whatever their order. Receivers drop a message id they have
/// seen, and a retried delivery may go out again batched with newer ones: a batch named
/// after one of its deliveries would be dropped with those newer ones in it.
fn message_id(ids: &[uuid::Uuid]) -> String {
    let mut ids = ids.to_vec();
    match ids.as_slice() {
        [one] => one.to_string(),
        _ => {
            ids.sort_unstable();
            let joined: Vec<u8> = ids.iter().flat_map(|id| *id.as_bytes()).collect();
            let digest = crate::domain::idempotency::fingerprint(&joined);
            let mut bytes = [0u8; 16];
            bytes.copy_from_slice(&digest[..16]);
            // A version-8 (custom) UUID, so it reads like the ids of single deliveries.
            uuid::Builder::from_custom_bytes(bytes).into_uuid().to_string()
        }
    }
}

/// After a failed attempt: the next one on the retry schedule (jittered; not sooner than a
/// `Retry-After`), or none once the schedule is spent.
fn retry_verdict(
    ports: &impl WebhookPorts,
    d: &ClaimedDelivery,
    retry_after: Option<std::time::Duration>,
) -> AttemptVerdict {
    let unit: f64 = rand::thread_rng().gen();
    match ports.webhook_settings().retry.next_delay(d.attempts + 1, retry_after, unit) {
        Some(wait) => AttemptVerdict::RetryAt(
            ports.clock().now() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::days(1)),
        ),
        None => AttemptVerdict::GiveUp,
    }
}

/// One signed POST for a group (one event, or one callback batch); records the attempt on
/// every delivery of the group.
async fn deliver_group(ports: &impl WebhookPorts, group: Vec<ClaimedDelivery>) -> (u32, u32) {
    let Some(first) = group.first() else { return (0, 0) };
    let endpoint = first.endpoint.clone();
    let started_at = ports.clock().now();
    let prepared = async {
        let (msg_id, url, body) = match &endpoint.kind {
            EndpointKind::Bacen { .. } => (
                message_id(&group.iter().map(|d| d.id).collect::<Vec<_>>()),
                format!("{}/pix", endpoint.url.trim_end_matches('/')),
                bacen_body(ports, &group).await?,
            ),
            EndpointKind::Eventos { .. } => (
                first.event.id.to_string(),
                endpoint.url.clone(),
                serde_json::to_vec(&event_json(&first.event)).map_err(|e| StoreError::Unexpected(e.into()))?,
            ),
            EndpointKind::BacenRec => (
                message_id(&group.iter().map(|d| d.id).collect::<Vec<_>>()),
                format!("{}/rec", endpoint.url.trim_end_matches('/')),
                rec_body(ports, &group).await?,
            ),
            EndpointKind::BacenCobr => (
                message_id(&group.iter().map(|d| d.id).collect::<Vec<_>>()),
                format!("{}/cobr", endpoint.url.trim_end_matches('/')),
                cobr_body(ports, &group).await?,
            ),
        };
        let keys = secrets(ports, endpoint.merchant, &first.secrets, started_at).await?;
        Ok::<_, WebhookError>((msg_id, url, body, keys))
    }
    .await;
    let (msg_id, url, body, keys) = match prepared {
        Ok(p) => p,
        Err(e) if group.len() > 1 => {
            // One delivery whose content cannot be read (a Pix, a charge, a sealed document)
            // must not hold back the rest of its batch: each goes alone, all at once (one
            // after another, a slow receiver would keep the last past their lease).
            tracing::warn!(error = %e, endpoint = %endpoint.id, "a callback batch not prepared; sent one by one");
            return deliver_groups(ports, group.into_iter().map(|d| vec![d]).collect()).await;
        }
        Err(e) => {
            // Nothing was sent: a failed attempt on the retry schedule (unrecorded, it would
            // be tried again on every pass, for ever).
            tracing::warn!(error = %e, endpoint = %endpoint.id, "webhook delivery not prepared");
            let report = AttemptReport {
                started_at,
                status_code: None,
                latency_ms: 0,
                error: Some("the delivery could not be prepared".into()),
                excerpt: None,
            };
            for d in &group {
                if let Err(e) = ports.webhooks().record_attempt(d.id, &report, retry_verdict(ports, d, None)).await {
                    tracing::warn!(error = %e, delivery = %d.id, "webhook attempt not recorded; the lease will lapse");
                }
            }
            crate::telemetry::metrics(&[("WebhooksFailed", group.len() as f64, crate::telemetry::Unit::Count)]);
            return (group.len() as u32, 0);
        }
    };
    // The receiver checks the signature's timestamp against its own clock: wall time on
    // purpose, whatever clock the application runs on.
    let timestamp = crate::ports::SystemClock::wall().timestamp();
    let headers = [
        ("webhook-id", msg_id.clone()),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", signature_header(&keys, &msg_id, timestamp, &body)),
    ];
    let result = ports.webhook_transport().post(&url, &headers, &body).await;
    let report = AttemptReport {
        started_at,
        status_code: result.status_code,
        latency_ms: result.latency_ms,
        error: result.error.clone(),
        excerpt: result.excerpt.clone(),
    };
    let ok = result.status_code.is_some_and(|s| (200..300).contains(&s));
    let mut delivered = 0;
    for d in &group {
        let verdict = if ok {
            AttemptVerdict::Delivered
        } else if result.status_code == Some(410) {
            AttemptVerdict::EndpointGone
        } else {
            retry_verdict(ports, d, result.retry_after)
        };
        if let Err(e) = ports.webhooks().record_attempt(d.id, &report, verdict).await {
            tracing::warn!(error = %e, delivery = %d.id, "webhook attempt not recorded; the lease will lapse");
            continue;
        }
        delivered += u32::from(ok);
    }
    let done_at = ports.clock().now();
    let lag_ms = group.iter().map(|d| (done_at - d.event.created_at).num_milliseconds()).max().unwrap_or(0);
    let n = group.len() as f64;
    let outcome = if ok { ("WebhooksDelivered", n) } else { ("WebhooksFailed", n) };
    let mut metrics = vec![(outcome.0, outcome.1, crate::telemetry::Unit::Count)];
    if ok {
        metrics.push(("WebhookLag", lag_ms.max(0) as f64, crate::telemetry::Unit::Milliseconds));
    }
    crate::telemetry::metrics(&metrics);
    tracing::info!(
        endpoint = %endpoint.id,
        events = group.len(),
        status = result.status_code,
        latency_ms = result.latency_ms,
        delivered = ok,
        "webhook attempt"
    );
    (group.len() as u32, delivered)
}

/// What one relay pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RelayReport {
    pub fanned_out: u32,
    pub enqueued: u32,
    pub failed: u32,
}

/// The outbox relay (AWS): fans new events out, leases due deliveries for `queue_lease`
/// and puts their ids on the queue. A message that is lost, or a worker that dies, only
/// delays a delivery until the lease lapses and the relay enqueues it again.
pub async fn relay_once(
    ports: &impl WebhookPorts,
    queue: &dyn crate::ports::DeliveryQueue,
    queue_lease: Duration,
) -> Result<RelayReport, StoreError> {
    let mut report = RelayReport { fanned_out: fan_out(ports).await?, ..Default::default() };
    let now = ports.clock().now();
    let lease_until = now + chrono::Duration::from_std(queue_lease).unwrap_or(chrono::Duration::minutes(5));
    let due = ports.webhooks().claim_due(now, lease_until, 500, true).await?;
    let ids: Vec<Uuid> = due.iter().map(|d| d.id).collect();
    let failed = queue.enqueue(&ids).await.map_err(StoreError::Unavailable)?;
    report.enqueued = (ids.len() - failed.len()) as u32;
    report.failed = failed.len() as u32;
    Ok(report)
}

/// The delivery worker (AWS): delivers the deliveries named by queue messages. Returns the
/// ids that could not be processed, for the queue to redeliver (batch item failures); a
/// receiver's failure is not one of them — it is recorded and retried on schedule.
pub async fn deliver_queued(ports: &impl WebhookPorts, ids: &[Uuid]) -> Vec<Uuid> {
    let now = ports.clock().now();
    let mut claimed = vec![];
    let mut failed = vec![];
    // A queue may hand one message over twice, even in one batch.
    let ids: std::collections::BTreeSet<&Uuid> = ids.iter().collect();
    for id in ids {
        match ports.webhooks().claim(*id, now, now + lease(ports)).await {
            Ok(Some(d)) => claimed.push(d),
            // Delivered, rescheduled or disabled since it was enqueued: nothing to do.
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, delivery = %id, "could not take a queued delivery");
                failed.push(*id);
            }
        }
    }
    deliver_all(ports, claimed).await;
    failed
}

/// Runs passes until `stop` resolves; sleeps `idle` when a pass found nothing to do.
pub async fn run_dispatcher(ports: impl WebhookPorts, idle: Duration, stop: impl std::future::Future<Output = ()>) {
    tokio::pin!(stop);
    loop {
        let busy = match dispatch_once(&ports).await {
            Ok(r) => r.fanned_out + r.attempted > 0,
            Err(e) => {
                tracing::warn!(error = %e, "webhook dispatcher pass failed");
                false
            }
        };
        let pause = if busy { Duration::ZERO } else { idle };
        tokio::select! {
            biased;
            _ = &mut stop => return,
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::message_id;
    use uuid::Uuid;

    #[test]
    fn a_batch_is_named_after_all_its_deliveries_and_a_lone_delivery_after_itself() {
        let (x, w, v) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(message_id(&[x]), x.to_string(), "a retry alone keeps its id");
        assert_eq!(message_id(&[x, w]), message_id(&[w, x]), "whatever the order");
        for batch in [message_id(&[x, w]), message_id(&[x, w, v])] {
            assert!(![x, w, v].iter().any(|d| d.to_string() == batch), "named after one delivery: {batch}");
        }
        assert_ne!(message_id(&[x, w]), message_id(&[x, w, v]), "another batch, another id");
    }
}
