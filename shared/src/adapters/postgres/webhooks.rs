//! Webhook endpoints, the fan-out of outbox events into deliveries, leases on due
//! deliveries and the record of every attempt, on Postgres.

use super::store_error;
use crate::domain::event::EventKind;
use crate::domain::merchant::MerchantId;
use crate::ports::{
    AttemptReport, AttemptVerdict, ClaimedDelivery, DeliverySummary, EndpointKind, Event, Page, PrunedHistory,
    SealedSecrets, StoreError, WebhookEndpoint, WebhookStore, MAX_ENDPOINTS,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

pub struct PgWebhookStore {
    pool: PgPool,
}

impl PgWebhookStore {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Leases up to `limit` due deliveries with their endpoint and event, skipping rows
    /// another dispatcher holds; `for_queue`: held for the queue (the relay), else for
    /// sending. With `only`, that one delivery for sending, even if the relay holds it for
    /// the queue (a queue message carries it to the worker that takes it over), but not if
    /// another worker holds it (a second copy of the message).
    async fn lease(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
        only: Option<Uuid>,
        for_queue: bool,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let rows = sqlx::query_as!(
            ClaimRow,
            r#"WITH due AS (
                   SELECT d.id FROM webhook_deliveries d
                   JOIN webhook_endpoints e ON e.id = d.endpoint_id
                   WHERE d.status = 'PENDENTE' AND d.next_attempt_at <= $1
                     AND (d.locked_until IS NULL OR d.locked_until <= $1)
                     AND ($4::uuid IS NOT NULL OR d.queued_until IS NULL OR d.queued_until <= $1)
                     AND e.disabled_at IS NULL AND e.deleted_at IS NULL
                     AND ($4::uuid IS NULL OR d.id = $4)
                   ORDER BY d.next_attempt_at LIMIT $3 FOR UPDATE OF d SKIP LOCKED
               ), leased AS (
                   UPDATE webhook_deliveries d
                      SET locked_until = CASE WHEN $5 THEN d.locked_until ELSE $2 END,
                          queued_until = CASE WHEN $5 THEN $2 ELSE d.queued_until END
                     FROM due WHERE d.id = due.id
                   RETURNING d.id, d.attempts, d.endpoint_id, d.event_id
               )
               SELECT l.id AS "id!", l.attempts AS "attempts!", e.id AS "endpoint_id!", e.merchant_id AS "merchant_id!",
                      e.kind AS "endpoint_kind!", e.chave, e.url AS "url!", e.tipos AS "tipos!",
                      e.created_at AS "endpoint_created_at!", e.secret_enc AS "secret_enc!",
                      e.previous_secret_enc, e.previous_valid_until,
                      o.id AS "seq!", coalesce(o.writer, 0) AS "writer!", o.event_id AS "event_id!", o.kind AS "event_kind!", o.payload AS "payload!",
                      o.created_at AS "event_created_at!"
               FROM leased l JOIN webhook_endpoints e ON e.id = l.endpoint_id JOIN outbox_events o ON o.id = l.event_id
               ORDER BY o.id"#,
            now,
            lease_until,
            i64::from(limit),
            only,
            for_queue
        )
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.into_iter().map(TryInto::try_into).collect()
    }
}

struct EndpointRow {
    id: Uuid,
    merchant_id: Uuid,
    kind: String,
    chave: Option<String>,
    url: String,
    tipos: Vec<String>,
    created_at: DateTime<Utc>,
    disabled_at: Option<DateTime<Utc>>,
    disabled_reason: Option<String>,
}

/// An endpoint as an upsert returns it, with whether the upsert created it.
struct UpsertedRow {
    id: Uuid,
    merchant_id: Uuid,
    kind: String,
    chave: Option<String>,
    url: String,
    tipos: Vec<String>,
    created_at: DateTime<Utc>,
    disabled_at: Option<DateTime<Utc>>,
    disabled_reason: Option<String>,
    created: bool,
}

impl UpsertedRow {
    fn split(self) -> (EndpointRow, bool) {
        let row = EndpointRow {
            id: self.id,
            merchant_id: self.merchant_id,
            kind: self.kind,
            chave: self.chave,
            url: self.url,
            tipos: self.tipos,
            created_at: self.created_at,
            disabled_at: self.disabled_at,
            disabled_reason: self.disabled_reason,
        };
        (row, self.created)
    }
}

impl TryFrom<EndpointRow> for WebhookEndpoint {
    type Error = StoreError;

    /// A row whose kind and key disagree, or disabled without a reason, is corrupt: an
    /// error, never an endpoint of a guessed kind or an empty reason.
    fn try_from(r: EndpointRow) -> Result<Self, StoreError> {
        let id = r.id;
        let corrupt = |what: &str| StoreError::Unexpected(anyhow::anyhow!("webhook endpoint {id}: {what}"));
        let kind = match (r.kind.as_str(), r.chave) {
            ("BACEN", Some(chave)) => EndpointKind::Bacen { chave },
            ("EVENTOS", None) => EndpointKind::Eventos { tipos: r.tipos },
            ("BACEN_REC", None) => EndpointKind::BacenRec,
            ("BACEN_COBR", None) => EndpointKind::BacenCobr,
            _ => return Err(corrupt("its kind and key disagree")),
        };
        let disabled = match (r.disabled_at, r.disabled_reason) {
            (Some(at), Some(reason)) => Some((at, reason)),
            (Some(_), None) => return Err(corrupt("disabled without a reason")),
            (None, _) => None,
        };
        Ok(WebhookEndpoint {
            id,
            merchant: MerchantId(r.merchant_id),
            kind,
            url: r.url,
            created_at: r.created_at,
            disabled,
        })
    }
}

struct EventRow {
    id: i64,
    writer: i64,
    event_id: Uuid,
    merchant_id: Uuid,
    kind: String,
    payload: serde_json::Value,
    created_at: DateTime<Utc>,
}

impl From<EventRow> for Event {
    fn from(r: EventRow) -> Self {
        Event {
            seq: r.id,
            writer: r.writer,
            id: r.event_id,
            merchant: MerchantId(r.merchant_id),
            kind: r.kind,
            data: r.payload,
            created_at: r.created_at,
        }
    }
}

struct ClaimRow {
    id: Uuid,
    attempts: i32,
    endpoint_id: Uuid,
    merchant_id: Uuid,
    endpoint_kind: String,
    chave: Option<String>,
    url: String,
    tipos: Vec<String>,
    endpoint_created_at: DateTime<Utc>,
    secret_enc: Vec<u8>,
    previous_secret_enc: Option<Vec<u8>>,
    previous_valid_until: Option<DateTime<Utc>>,
    seq: i64,
    writer: i64,
    event_id: Uuid,
    event_kind: String,
    payload: serde_json::Value,
    event_created_at: DateTime<Utc>,
}

impl TryFrom<ClaimRow> for ClaimedDelivery {
    type Error = StoreError;

    fn try_from(r: ClaimRow) -> Result<Self, StoreError> {
        let merchant = MerchantId(r.merchant_id);
        Ok(ClaimedDelivery {
            id: r.id,
            attempts: r.attempts.max(0) as u32,
            endpoint: EndpointRow {
                id: r.endpoint_id,
                merchant_id: r.merchant_id,
                kind: r.endpoint_kind,
                chave: r.chave,
                url: r.url,
                tipos: r.tipos,
                created_at: r.endpoint_created_at,
                disabled_at: None,
                disabled_reason: None,
            }
            .try_into()?,
            secrets: SealedSecrets {
                current: r.secret_enc,
                previous: r.previous_secret_enc.zip(r.previous_valid_until),
            },
            event: Event {
                seq: r.seq,
                writer: r.writer,
                id: r.event_id,
                merchant,
                kind: r.event_kind,
                data: r.payload,
                created_at: r.event_created_at,
            },
        })
    }
}

/// The endpoint's waiting deliveries (and its failed ones too, with `failed_too`) start a
/// fresh schedule, due at once; how many.
async fn resume(conn: &mut sqlx::PgConnection, endpoint: Uuid, failed_too: bool) -> Result<u64, StoreError> {
    let done = sqlx::query!(
        r#"UPDATE webhook_deliveries SET status = 'PENDENTE', next_attempt_at = now(), attempts = 0
           WHERE endpoint_id = $1 AND (status = 'PENDENTE' OR ($2 AND status = 'FALHOU'))"#,
        endpoint,
        failed_too
    )
    .execute(&mut *conn)
    .await
    .map_err(store_error)?;
    Ok(done.rows_affected())
}

/// The order every writer of an endpoint's deliveries takes its locks in: the endpoint's row
/// first (`FOR NO KEY UPDATE`), then its deliveries. Recording an attempt, parking on a 410
/// or a delete, and resuming on a PUT or a replay each hold the endpoint while they read or
/// change its state, so none reads the endpoint as it was before another's change commits
/// (a delivery left due on a deleted endpoint, or parked on one a PUT brought back). Fan-out
/// reads endpoints `FOR SHARE`, so it waits for them too. `merchant`: the endpoint must be
/// its; false when there is no such endpoint (or it is deleted).
async fn lock_endpoint(
    conn: &mut sqlx::PgConnection,
    merchant: Option<MerchantId>,
    endpoint: Uuid,
) -> Result<bool, StoreError> {
    let found = sqlx::query_scalar!(
        r#"SELECT id FROM webhook_endpoints WHERE id = $1 AND ($2::uuid IS NULL OR merchant_id = $2)
              AND deleted_at IS NULL FOR NO KEY UPDATE"#,
        endpoint,
        merchant.map(|m| m.0)
    )
    .fetch_optional(&mut *conn)
    .await
    .map_err(store_error)?;
    Ok(found.is_some())
}

/// Held (shared) by a transaction that creates an endpoint, and (exclusive) by fan-out: an
/// event committed while an endpoint is being created can belong to it (its writer had not
/// committed when the endpoint's snapshot was taken), and fan-out must not pass over such
/// an event before the endpoint is visible to it. Fan-out waits for creations in flight;
/// a creation that starts while fan-out runs waits, and its snapshot then sees the events
/// fan-out handled as committed (not its own).
const ENDPOINT_CREATION_LOCK: i64 = 0x7475_6361_6e6f_0f01;

async fn creating_endpoint(conn: &mut sqlx::PgConnection) -> Result<(), StoreError> {
    sqlx::query!("SELECT pg_advisory_xact_lock_shared($1)", ENDPOINT_CREATION_LOCK)
        .execute(&mut *conn)
        .await
        .map_err(store_error)?;
    Ok(())
}

/// Parks an endpoint's pending deliveries at the end of the queue (`next_attempt_at`
/// infinity): they are not due until `resume` makes them so. `merchant`: the endpoint must
/// be its. The caller holds the endpoint's lock ([`lock_endpoint`]), so no attempt is
/// being recorded on them meanwhile: a record waits for it, then reads the endpoint as
/// this transaction leaves it.
async fn park(conn: &mut sqlx::PgConnection, merchant: Option<MerchantId>, endpoint: Uuid) -> Result<(), StoreError> {
    sqlx::query!(
        r#"UPDATE webhook_deliveries SET next_attempt_at = 'infinity'
            WHERE id IN (SELECT d.id FROM webhook_deliveries d
                          WHERE d.endpoint_id = $1 AND d.status = 'PENDENTE' AND d.next_attempt_at <> 'infinity'
                            AND ($2::uuid IS NULL
                                 OR EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.id = $1 AND e.merchant_id = $2))
                          FOR UPDATE OF d)"#,
        endpoint,
        merchant.map(|m| m.0)
    )
    .execute(&mut *conn)
    .await
    .map_err(store_error)?;
    Ok(())
}

/// Before a PUT of an API Pix, `webhookrec` or `webhookcobr` callback (whose upsert then
/// re-enables it): if a 410 disabled the endpoint, what waited meanwhile is due at once.
/// The endpoint is locked first ([`lock_endpoint`]'s order), until the upsert commits, and
/// whether it is disabled read once it is locked: a 410 being recorded when the PUT came
/// is waited for, and what it parked is resumed.
async fn resume_if_disabled(
    conn: &mut sqlx::PgConnection,
    merchant: MerchantId,
    kind: &str,
    chave: Option<&str>,
) -> Result<(), StoreError> {
    let found = sqlx::query!(
        r#"SELECT id, disabled_at IS NOT NULL AS "disabled!" FROM webhook_endpoints
            WHERE merchant_id = $1 AND kind = $2 AND chave IS NOT DISTINCT FROM $3 AND deleted_at IS NULL
            FOR NO KEY UPDATE"#,
        merchant.0,
        kind,
        chave
    )
    .fetch_optional(&mut *conn)
    .await
    .map_err(store_error)?;
    if let Some(endpoint) = found.filter(|e| e.disabled) {
        resume(conn, endpoint.id, false).await?;
    }
    Ok(())
}

#[async_trait]
impl WebhookStore for PgWebhookStore {
    async fn put_bacen(
        &self,
        merchant: MerchantId,
        chave: &str,
        url: &str,
        secret: Vec<u8>,
    ) -> Result<(WebhookEndpoint, bool), StoreError> {
        // The partial unique index makes concurrent PUTs for one key converge on one row.
        // A PUT is how a receiver of the API Pix says it is back (these endpoints have no
        // replay): it re-enables an endpoint a 410 disabled, and what waited is sent.
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        creating_endpoint(&mut tx).await?;
        resume_if_disabled(&mut tx, merchant, "BACEN", Some(chave)).await?;
        let row = sqlx::query_as!(
            UpsertedRow,
            r#"INSERT INTO webhook_endpoints (merchant_id, kind, chave, url, secret_enc)
               VALUES ($1, 'BACEN', $2, $3, $4)
               ON CONFLICT (merchant_id, chave) WHERE kind = 'BACEN' AND deleted_at IS NULL
               DO UPDATE SET url = EXCLUDED.url, disabled_at = NULL, disabled_reason = NULL, updated_at = now()
               RETURNING id, merchant_id, kind, chave, url, tipos, created_at, disabled_at, disabled_reason,
                         (xmax = 0) AS "created!""#,
            merchant.0,
            chave,
            url,
            secret
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        let (endpoint, created) = row.split();
        Ok((endpoint.try_into()?, created))
    }

    async fn create_endpoint(
        &self,
        merchant: MerchantId,
        url: &str,
        tipos: &[String],
        secret: Vec<u8>,
    ) -> Result<Option<WebhookEndpoint>, StoreError> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        creating_endpoint(&mut tx).await?;
        // One merchant's endpoints are counted under a lock on the merchant row.
        sqlx::query!("SELECT id FROM merchants WHERE id = $1 FOR UPDATE", merchant.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(store_error)?;
        let row = sqlx::query_as!(
            EndpointRow,
            r#"INSERT INTO webhook_endpoints (merchant_id, kind, url, tipos, secret_enc)
               SELECT $1, 'EVENTOS', $2, $3, $4
               WHERE (SELECT count(*) FROM webhook_endpoints
                      WHERE merchant_id = $1 AND kind = 'EVENTOS' AND deleted_at IS NULL) < $5
               RETURNING id, merchant_id, kind, chave, url, tipos, created_at, disabled_at, disabled_reason"#,
            merchant.0,
            url,
            tipos,
            secret,
            MAX_ENDPOINTS
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        row.map(TryInto::try_into).transpose()
    }

    async fn put_keyless(
        &self,
        merchant: MerchantId,
        kind: &EndpointKind,
        url: &str,
        secret: Vec<u8>,
    ) -> Result<(WebhookEndpoint, bool), StoreError> {
        // As put_bacen: a PUT re-enables the endpoint and sends what waited.
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        creating_endpoint(&mut tx).await?;
        resume_if_disabled(&mut tx, merchant, kind.as_str(), None).await?;
        let row = sqlx::query_as!(
            UpsertedRow,
            r#"INSERT INTO webhook_endpoints (merchant_id, kind, url, secret_enc)
               VALUES ($1, $2, $3, $4)
               ON CONFLICT (merchant_id, kind) WHERE kind IN ('BACEN_REC', 'BACEN_COBR') AND deleted_at IS NULL
               DO UPDATE SET url = EXCLUDED.url, disabled_at = NULL, disabled_reason = NULL, updated_at = now()
               RETURNING id, merchant_id, kind, chave, url, tipos, created_at, disabled_at, disabled_reason,
                         (xmax = 0) AS "created!""#,
            merchant.0,
            kind.as_str(),
            url,
            secret
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        let (endpoint, created) = row.split();
        Ok((endpoint.try_into()?, created))
    }

    async fn keyless(&self, merchant: MerchantId, kind: &EndpointKind) -> Result<Option<WebhookEndpoint>, StoreError> {
        let row = sqlx::query_as!(
            EndpointRow,
            r#"SELECT id, merchant_id, kind, chave, url, tipos, created_at, disabled_at, disabled_reason
               FROM webhook_endpoints WHERE merchant_id = $1 AND kind = $2 AND deleted_at IS NULL"#,
            merchant.0,
            kind.as_str()
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        row.map(TryInto::try_into).transpose()
    }

    async fn bacen(&self, merchant: MerchantId, chave: &str) -> Result<Option<WebhookEndpoint>, StoreError> {
        let row = sqlx::query_as!(
            EndpointRow,
            r#"SELECT id, merchant_id, kind, chave, url, tipos, created_at, disabled_at, disabled_reason
               FROM webhook_endpoints
               WHERE merchant_id = $1 AND kind = 'BACEN' AND chave = $2 AND deleted_at IS NULL"#,
            merchant.0,
            chave
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        row.map(TryInto::try_into).transpose()
    }

    async fn endpoint(&self, merchant: MerchantId, id: Uuid) -> Result<Option<WebhookEndpoint>, StoreError> {
        let row = sqlx::query_as!(
            EndpointRow,
            r#"SELECT id, merchant_id, kind, chave, url, tipos, created_at, disabled_at, disabled_reason
               FROM webhook_endpoints WHERE merchant_id = $1 AND id = $2 AND deleted_at IS NULL"#,
            merchant.0,
            id
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        row.map(TryInto::try_into).transpose()
    }

    async fn list_bacen(
        &self,
        merchant: MerchantId,
        inicio: Option<DateTime<Utc>>,
        fim: Option<DateTime<Utc>>,
        pagina: u32,
        itens_por_pagina: u32,
    ) -> Result<Page<WebhookEndpoint>, StoreError> {
        let total = sqlx::query_scalar!(
            r#"SELECT count(*) AS "n!" FROM webhook_endpoints
               WHERE merchant_id = $1 AND kind = 'BACEN' AND deleted_at IS NULL
                 AND ($2::timestamptz IS NULL OR created_at >= $2) AND ($3::timestamptz IS NULL OR created_at <= $3)"#,
            merchant.0,
            inicio,
            fim
        )
        .fetch_one(&self.pool)
        .await
        .map_err(store_error)?;
        let rows = sqlx::query_as!(
            EndpointRow,
            r#"SELECT id, merchant_id, kind, chave, url, tipos, created_at, disabled_at, disabled_reason
               FROM webhook_endpoints
               WHERE merchant_id = $1 AND kind = 'BACEN' AND deleted_at IS NULL
                 AND ($2::timestamptz IS NULL OR created_at >= $2) AND ($3::timestamptz IS NULL OR created_at <= $3)
               ORDER BY created_at, id LIMIT $4 OFFSET $5"#,
            merchant.0,
            inicio,
            fim,
            i64::from(itens_por_pagina),
            i64::from(pagina) * i64::from(itens_por_pagina)
        )
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(Page {
            items: rows.into_iter().map(TryInto::try_into).collect::<Result<_, _>>()?,
            total: total.max(0) as u64,
        })
    }

    async fn list_endpoints(&self, merchant: MerchantId) -> Result<Vec<WebhookEndpoint>, StoreError> {
        let rows = sqlx::query_as!(
            EndpointRow,
            r#"SELECT id, merchant_id, kind, chave, url, tipos, created_at, disabled_at, disabled_reason
               FROM webhook_endpoints WHERE merchant_id = $1 AND kind = 'EVENTOS' AND deleted_at IS NULL
               ORDER BY created_at, id"#,
            merchant.0
        )
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    async fn delete(&self, merchant: MerchantId, id: Uuid) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        // What waited is never sent: parked at the end of the queue, where the dispatchers'
        // reads of what is due do not pass over it. The endpoint first, then its deliveries.
        if !lock_endpoint(&mut tx, Some(merchant), id).await? {
            return Ok(false);
        }
        park(&mut tx, Some(merchant), id).await?;
        let done = sqlx::query!(
            "UPDATE webhook_endpoints SET deleted_at = now() WHERE merchant_id = $1 AND id = $2 AND deleted_at IS NULL",
            merchant.0,
            id
        )
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn rotate(
        &self,
        merchant: MerchantId,
        id: Uuid,
        secret: Vec<u8>,
        now: DateTime<Utc>,
        grace_until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query!(
            r#"UPDATE webhook_endpoints
               SET previous_secret_enc = CASE WHEN previous_valid_until > $5 THEN previous_secret_enc ELSE secret_enc END,
                   previous_valid_until = CASE WHEN previous_valid_until > $5 THEN previous_valid_until ELSE $4 END,
                   secret_enc = $3, updated_at = now()
               WHERE merchant_id = $1 AND id = $2 AND deleted_at IS NULL"#,
            merchant.0,
            id,
            secret,
            grace_until,
            now
        )
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn replay(&self, merchant: MerchantId, id: Uuid) -> Result<Option<u64>, StoreError> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        // The endpoint first, then its deliveries ([`lock_endpoint`]'s order).
        if !lock_endpoint(&mut tx, Some(merchant), id).await? {
            return Ok(None);
        }
        let resumed = resume(&mut tx, id, true).await?;
        let enabled = sqlx::query!(
            "UPDATE webhook_endpoints SET disabled_at = NULL, disabled_reason = NULL, updated_at = now()
              WHERE id = $1 AND deleted_at IS NULL",
            id
        )
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        if enabled.rows_affected() == 0 {
            return Ok(None);
        }
        tx.commit().await.map_err(store_error)?;
        Ok(Some(resumed))
    }

    async fn deliveries(&self, merchant: MerchantId, id: Uuid, limit: u32) -> Result<Vec<DeliverySummary>, StoreError> {
        let rows = sqlx::query!(
            r#"SELECT d.id, o.event_id, o.kind, d.status, d.attempts, d.next_attempt_at, d.delivered_at,
                      a.status_code AS "status_code?", a.error AS "error?"
               FROM webhook_deliveries d
               JOIN webhook_endpoints e ON e.id = d.endpoint_id
               JOIN outbox_events o ON o.id = d.event_id
               LEFT JOIN LATERAL (SELECT status_code, error FROM webhook_attempts
                                  WHERE delivery_id = d.id ORDER BY number DESC LIMIT 1) a ON true
               WHERE e.merchant_id = $1 AND e.id = $2 AND d.endpoint_id = $2
               ORDER BY d.created_at DESC, d.id LIMIT $3"#,
            merchant.0,
            id,
            i64::from(limit)
        )
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(rows
            .into_iter()
            .map(|r| DeliverySummary {
                id: r.id,
                event_id: r.event_id,
                event_kind: r.kind,
                next_attempt_at: (r.status == "PENDENTE").then_some(r.next_attempt_at),
                status: r.status,
                attempts: r.attempts.max(0) as u32,
                delivered_at: r.delivered_at,
                last_status_code: r.status_code.and_then(|s| u16::try_from(s).ok()),
                last_error: r.error,
            })
            .collect())
    }

    async fn events(
        &self,
        merchant: MerchantId,
        after: (i64, i64),
        tipo: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Event>, StoreError> {
        // Every transaction older than the snapshot's xmin has ended: its events, and all
        // older ones, are as they will stay (migration 20261205000007).
        let rows = sqlx::query_as!(
            EventRow,
            r#"SELECT id, coalesce(writer, 0) AS "writer!", event_id, merchant_id, kind, payload, created_at
                 FROM outbox_events
                WHERE merchant_id = $1 AND (coalesce(writer, 0), id) > ($2, $3)
                  AND coalesce(writer, 0) < pg_snapshot_xmin(pg_current_snapshot())::text::bigint
                  AND ($4::text IS NULL OR kind = $4)
                ORDER BY coalesce(writer, 0), id LIMIT $5"#,
            merchant.0,
            after.0,
            after.1,
            tipo,
            i64::from(limit)
        )
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn event(&self, merchant: MerchantId, id: Uuid) -> Result<Option<Event>, StoreError> {
        let row = sqlx::query_as!(
            EventRow,
            r#"SELECT id, coalesce(writer, 0) AS "writer!", event_id, merchant_id, kind, payload, created_at
                 FROM outbox_events WHERE merchant_id = $1 AND event_id = $2"#,
            merchant.0,
            id
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(row.map(Into::into))
    }

    async fn fan_out(&self, limit: u32) -> Result<u32, StoreError> {
        // Events and their deliveries in one statement: an event is marked only together
        // with the deliveries it produced. An endpoint gets the events whose transactions
        // had not committed when it was created (one begun before it and committed after
        // is new to it); rows from before those columns existed compare start times. After
        // the endpoints being created are visible (ENDPOINT_CREATION_LOCK, taken before the
        // statement's snapshot); each endpoint read FOR SHARE, so that one a PUT is bringing
        // back or a 410 is disabling is read as that transaction leaves it.
        let bacen: Vec<String> = EventKind::BACEN_CALLBACK.iter().map(|k| k.as_str().to_owned()).collect();
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        sqlx::query!("SELECT pg_advisory_xact_lock($1)", ENDPOINT_CREATION_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        let taken = sqlx::query_scalar!(
            r#"WITH ev AS (
                   SELECT id, merchant_id, kind, payload, created_at, writer FROM outbox_events
                   WHERE fanned_out_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
               ), ins AS (
                   INSERT INTO webhook_deliveries (endpoint_id, event_id, next_attempt_at)
                   -- A disabled endpoint's waits, parked at the end of the queue, until it is
                   -- brought back (resume makes its deliveries due).
                   SELECT e.id, ev.id, CASE WHEN e.disabled_at IS NULL THEN now() ELSE 'infinity' END FROM ev
                   JOIN webhook_endpoints e ON e.merchant_id = ev.merchant_id AND e.deleted_at IS NULL
                                           AND CASE WHEN e.created_snapshot IS NULL OR ev.writer IS NULL
                                                    THEN e.created_at <= ev.created_at
                                                    ELSE NOT pg_visible_in_snapshot(ev.writer::text::xid8, e.created_snapshot)
                                               END
                   WHERE (e.kind = 'EVENTOS' AND ev.kind = ANY (e.tipos))
                      OR (e.kind = 'BACEN_REC' AND ev.kind LIKE 'rec.%')
                      OR (e.kind = 'BACEN_COBR' AND ev.kind LIKE 'cobr.%')
                      OR (e.kind = 'BACEN' AND ev.kind = ANY ($2::text[]) AND EXISTS (
                            SELECT 1 FROM received_pix p
                            WHERE p.end_to_end_id = ev.payload ->> 'endToEndId'
                              AND p.merchant_id = ev.merchant_id AND p.txid IS NOT NULL AND p.chave = e.chave))
                   FOR SHARE OF e
                   ON CONFLICT (endpoint_id, event_id) DO NOTHING
               )
               UPDATE outbox_events o SET fanned_out_at = now() FROM ev WHERE o.id = ev.id RETURNING o.id"#,
            i64::from(limit),
            &bacen
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        Ok(taken.len() as u32)
    }

    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
        for_queue: bool,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        self.lease(now, lease_until, limit, None, for_queue).await
    }

    async fn claim(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<ClaimedDelivery>, StoreError> {
        Ok(self.lease(now, lease_until, 1, Some(id), false).await?.into_iter().next())
    }

    async fn record_attempt(
        &self,
        delivery: Uuid,
        report: &AttemptReport,
        verdict: AttemptVerdict,
    ) -> Result<(), StoreError> {
        let (status, next_at) = match verdict {
            AttemptVerdict::Delivered => ("ENTREGUE", None),
            AttemptVerdict::RetryAt(at) => ("PENDENTE", Some(at)),
            AttemptVerdict::GiveUp => ("FALHOU", None),
            AttemptVerdict::EndpointGone => ("PENDENTE", None),
        };
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        // The endpoint first, then the delivery ([`lock_endpoint`]'s order): the update below
        // reads the endpoint as a delete, a 410, a PUT or a replay in flight leaves it (a
        // replay that brought it back leaves the delivery due; a delete, parked).
        sqlx::query!(
            r#"SELECT e.id FROM webhook_endpoints e JOIN webhook_deliveries d ON d.endpoint_id = e.id
                WHERE d.id = $1 FOR NO KEY UPDATE OF e"#,
            delivery
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_error)?;
        sqlx::query!("SELECT id FROM webhook_deliveries WHERE id = $1 FOR UPDATE", delivery)
            .fetch_optional(&mut *tx)
            .await
            .map_err(store_error)?;
        // Only a delivery still pending takes the attempt: one that another dispatcher
        // finished after our lease lapsed is left as it is. One whose endpoint was disabled
        // or deleted while it was in flight stays parked (due, it would never be sent and
        // would be read on every pass).
        let updated = sqlx::query_scalar!(
            r#"UPDATE webhook_deliveries d
               SET status = $2, attempts = attempts + 1, locked_until = NULL, queued_until = NULL,
                   next_attempt_at = CASE WHEN EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.id = d.endpoint_id
                                                        AND (e.disabled_at IS NOT NULL OR e.deleted_at IS NOT NULL))
                                          THEN 'infinity' ELSE COALESCE($3, d.next_attempt_at) END,
                   delivered_at = CASE WHEN $2 = 'ENTREGUE' THEN now() END
               WHERE d.id = $1 AND d.status = 'PENDENTE'
               RETURNING d.endpoint_id"#,
            delivery,
            status,
            next_at
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_error)?;
        let Some(endpoint_id) = updated else {
            return Ok(());
        };
        let error: Option<String> = report.error.as_ref().map(|e| e.chars().take(300).collect());
        let excerpt: Option<String> = report.excerpt.as_ref().map(|e| e.chars().take(256).collect());
        sqlx::query!(
            r#"INSERT INTO webhook_attempts (delivery_id, number, started_at, status_code, latency_ms, error, excerpt)
               SELECT $1, coalesce(max(number), 0) + 1, $2, $3, $4, $5, $6
               FROM webhook_attempts WHERE delivery_id = $1"#,
            delivery,
            report.started_at,
            report.status_code.map(i32::from),
            i32::try_from(report.latency_ms).unwrap_or(i32::MAX),
            error,
            excerpt
        )
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        if verdict == AttemptVerdict::EndpointGone {
            // What waits for it is parked until the endpoint is brought back.
            park(&mut tx, None, endpoint_id).await?;
            sqlx::query!(
                r#"UPDATE webhook_endpoints SET disabled_at = now(), disabled_reason = 'receiver answered 410 Gone'
                   WHERE id = $1 AND disabled_at IS NULL"#,
                endpoint_id
            )
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        }
        tx.commit().await.map_err(store_error)?;
        Ok(())
    }

    async fn prune_history(&self, batch: i64) -> Result<PrunedHistory, StoreError> {
        // The cutoff is the database's own (the guard trigger judges by it too), not the
        // application's clock, which a sandbox can move. Deliveries go once they will not
        // be attempted again: finished, or parked for an endpoint turned off or deleted.
        let attempts = sqlx::query!(
            "DELETE FROM webhook_attempts WHERE id IN (
                 SELECT a.id FROM webhook_deliveries d JOIN webhook_attempts a ON a.delivery_id = d.id
                  WHERE (d.status <> 'PENDENTE' OR d.next_attempt_at = 'infinity')
                    AND d.created_at < now() - history_retention()
                    AND a.started_at < now() - history_retention()
                  ORDER BY d.created_at LIMIT $1)",
            batch
        )
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        let deliveries = sqlx::query!(
            "DELETE FROM webhook_deliveries WHERE id IN (
                 SELECT d.id FROM webhook_deliveries d
                  WHERE (d.status <> 'PENDENTE' OR d.next_attempt_at = 'infinity')
                    AND d.created_at < now() - history_retention()
                    AND NOT EXISTS (SELECT 1 FROM webhook_attempts a WHERE a.delivery_id = d.id)
                  ORDER BY d.created_at LIMIT $1)",
            batch
        )
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        let events = sqlx::query!(
            "DELETE FROM outbox_events WHERE id IN (
                 SELECT e.id FROM outbox_events e
                  WHERE e.created_at < now() - history_retention() AND e.fanned_out_at IS NOT NULL
                    AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id)
                    -- The scan stops at the first event young enough to keep (no index on the
                    -- events' time: every booking would pay for it).
                    AND e.id < coalesce((SELECT min(y.id) FROM outbox_events y
                                          WHERE y.created_at >= now() - history_retention()),
                                        9223372036854775807)
                  ORDER BY e.id LIMIT $1)",
            batch
        )
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(PrunedHistory {
            attempts: attempts.rows_affected(),
            deliveries: deliveries.rows_affected(),
            events: events.rows_affected(),
            notifications: 0,
        })
    }
}
