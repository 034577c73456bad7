//! Batches of charges with a due date (`/lotecobv`) on Postgres: the batch, its items and
//! their sealed requests until the worker has processed them.

use super::store_error;
use crate::domain::ids::Txid;
use crate::domain::merchant::MerchantId;
use crate::ports::{Lote, LoteItem, LoteOperation, LoteStore, LoteSubmitted, Page, PendingItem, StoreError};
use anyhow::{anyhow, Context};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::PgPool;

pub struct PgLoteStore {
    pool: PgPool,
}

impl PgLoteStore {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

fn unexpected(e: anyhow::Error) -> StoreError {
    StoreError::Unexpected(e)
}

/// Why a revision of these charges of the batch is refused, if it is: every charge named
/// must be in the batch. A `PUT` of the batch (`whole`) corrects whatever is pending: its
/// new creation request replaces the old one (should the worker have made the charge from
/// the old one meanwhile, it makes that charge, the batch's own, what the new one says). A
/// `PATCH` names what to change in a charge: it waits while a creation or revision of that
/// charge is pending (it would replace it, and what that one changed would be lost). (A
/// `PATCH` naming a creation denied is a creation request again, as the spec's PATCH may
/// carry one.)
async fn refusal(
    conn: &mut sqlx::PgConnection,
    merchant: MerchantId,
    id: i64,
    txids: &[String],
    whole: bool,
) -> Result<Option<LoteSubmitted>, StoreError> {
    let refused = sqlx::query!(
        r#"SELECT t AS "t!", i.txid IS NOT NULL AS "in_batch!" FROM unnest($3::text[]) t
             LEFT JOIN lote_cobv_items i ON i.merchant_id = $1 AND i.lote_id = $2 AND i.txid = t
            WHERE i.txid IS NULL OR NOT $4 AND i.status = 'EM_PROCESSAMENTO'
            ORDER BY i.txid IS NULL DESC, i.position
            LIMIT 1"#,
        merchant.0,
        id,
        txids,
        whole
    )
    .fetch_optional(&mut *conn)
    .await
    .map_err(store_error)?;
    Ok(refused.map(|r| if r.in_batch { LoteSubmitted::StillPending(r.t) } else { LoteSubmitted::NotInBatch(r.t) }))
}

/// The batch's items with these new requests, each pending again at its next version: a
/// charge the batch made is revised (`whole`: replaced by its new creation request, as a
/// `PUT` of the batch says), any other created.
async fn requeue(
    conn: &mut sqlx::PgConnection,
    merchant: MerchantId,
    id: i64,
    txids: &[String],
    items: Vec<(Txid, Vec<u8>)>,
    whole: bool,
) -> Result<(), StoreError> {
    let requests: Vec<Vec<u8>> = items.into_iter().map(|(_, r)| r).collect();
    let revision = if whole { "replace" } else { "revise" };
    // A creation denied or still pending stays a creation while no charge of the batch's
    // exists (one the worker made since is then made what the new request says).
    sqlx::query!(
        r#"UPDATE lote_cobv_items i
              SET operation = CASE WHEN EXISTS (SELECT 1 FROM charges c WHERE c.merchant_id = i.merchant_id
                                                   AND c.txid = i.txid AND c.kind = 'cobv' AND made_by_batch(c.lote_id, i))
                                   THEN $5 ELSE 'create' END,
                  status = 'EM_PROCESSAMENTO', request_enc = u.r, problema = NULL, version = i.version + 1,
                  faults = 0, retry_at = NULL, updated_at = now()
             FROM unnest($3::text[], $4::bytea[]) AS u(t, r)
            WHERE i.merchant_id = $1 AND i.lote_id = $2 AND i.txid = u.t"#,
        merchant.0,
        id,
        txids,
        &requests,
        revision
    )
    .execute(&mut *conn)
    .await
    .map_err(store_error)?;
    Ok(())
}

#[async_trait]
impl LoteStore for PgLoteStore {
    async fn submit(
        &self,
        merchant: MerchantId,
        id: i64,
        descricao: &str,
        fingerprint: [u8; 32],
        items: Vec<(Txid, Vec<u8>)>,
    ) -> Result<LoteSubmitted, StoreError> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        let inserted = sqlx::query_scalar!(
            r#"INSERT INTO lotes_cobv (merchant_id, id, descricao, request_hash) VALUES ($1, $2, $3, $4)
               ON CONFLICT (merchant_id, id) DO NOTHING RETURNING id"#,
            merchant.0,
            id,
            descricao,
            &fingerprint[..]
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_error)?;
        let txids: Vec<String> = items.iter().map(|(t, _)| t.as_str().to_owned()).collect();
        if inserted.is_none() {
            let hash = sqlx::query_scalar!(
                "SELECT request_hash FROM lotes_cobv WHERE merchant_id = $1 AND id = $2 FOR UPDATE",
                merchant.0,
                id
            )
            .fetch_one(&mut *tx)
            .await
            .map_err(store_error)?;
            if hash == fingerprint {
                return Ok(LoteSubmitted::Replay);
            }
            // The spec's PUT of an existing batch alters it, naming exactly its charges
            // (none added or removed), as a PATCH of them all would.
            let same_charges = sqlx::query_scalar!(
                r#"SELECT (SELECT array_agg(txid ORDER BY txid) FROM lote_cobv_items WHERE merchant_id = $1 AND lote_id = $2)
                          = (SELECT array_agg(t ORDER BY t) FROM unnest($3::text[]) t) AS "same!""#,
                merchant.0,
                id,
                &txids
            )
            .fetch_one(&mut *tx)
            .await
            .map_err(store_error)?;
            if !same_charges {
                return Ok(LoteSubmitted::IdInUse);
            }
            if let Some(refused) = refusal(&mut tx, merchant, id, &txids, true).await? {
                return Ok(refused);
            }
            sqlx::query!(
                "UPDATE lotes_cobv SET descricao = $3, request_hash = $4 WHERE merchant_id = $1 AND id = $2",
                merchant.0,
                id,
                descricao,
                &fingerprint[..]
            )
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
            requeue(&mut tx, merchant, id, &txids, items, true).await?;
            tx.commit().await.map_err(store_error)?;
            return Ok(LoteSubmitted::Accepted);
        }
        // A charge of the batch must not exist yet (of any kind: one txid space), nor be
        // pending in another batch.
        let taken = sqlx::query_scalar!(
            r#"SELECT t AS "t!" FROM unnest($2::text[]) t
                WHERE EXISTS (SELECT 1 FROM charges c WHERE c.merchant_id = $1 AND c.txid = t)
                   OR EXISTS (SELECT 1 FROM recurring_charges r WHERE r.merchant_id = $1 AND r.txid = t)
                   OR EXISTS (SELECT 1 FROM lote_cobv_items i WHERE i.merchant_id = $1 AND i.txid = t)
                LIMIT 1"#,
            merchant.0,
            &txids
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_error)?;
        if let Some(t) = taken {
            return Ok(LoteSubmitted::TxidTaken(t));
        }
        let positions: Vec<i32> = (0..items.len()).map(|i| i32::try_from(i).unwrap_or(i32::MAX)).collect();
        let requests: Vec<Vec<u8>> = items.into_iter().map(|(_, r)| r).collect();
        let inserted = sqlx::query!(
            r#"INSERT INTO lote_cobv_items (merchant_id, lote_id, txid, position, operation, request_enc)
               SELECT $1, $2, t, p, 'create', r FROM unnest($3::text[], $4::int[], $5::bytea[]) AS u(t, p, r)"#,
            merchant.0,
            id,
            &txids,
            &positions,
            &requests
        )
        .execute(&mut *tx)
        .await;
        match inserted {
            // Another batch took one of these charges meanwhile (one batch per charge).
            Err(sqlx::Error::Database(d)) if d.constraint() == Some("lote_cobv_items_one_batch_per_charge") => {
                return Ok(LoteSubmitted::TxidTaken("(submitted concurrently by another batch)".into()))
            }
            other => other.map_err(store_error)?,
        };
        tx.commit().await.map_err(store_error)?;
        Ok(LoteSubmitted::Accepted)
    }

    async fn revise(
        &self,
        merchant: MerchantId,
        id: i64,
        descricao: Option<&str>,
        items: Vec<(Txid, Vec<u8>)>,
    ) -> Result<LoteSubmitted, StoreError> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        let found = sqlx::query_scalar!(
            "SELECT id FROM lotes_cobv WHERE merchant_id = $1 AND id = $2 FOR UPDATE",
            merchant.0,
            id
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_error)?;
        if found.is_none() {
            return Ok(LoteSubmitted::NotFound);
        }
        let txids: Vec<String> = items.iter().map(|(t, _)| t.as_str().to_owned()).collect();
        if let Some(refused) = refusal(&mut tx, merchant, id, &txids, false).await? {
            return Ok(refused);
        }
        // A revised charge: the batch's last PUT no longer says what its charges are, and
        // the same PUT again is applied, not answered as a replay (no request hashes to
        // zeros). A new description alone leaves the charges as that PUT made them.
        sqlx::query!(
            r#"UPDATE lotes_cobv SET descricao = coalesce($3, descricao),
                      request_hash = CASE WHEN $4 THEN decode(repeat('00', 32), 'hex') ELSE request_hash END
                WHERE merchant_id = $1 AND id = $2"#,
            merchant.0,
            id,
            descricao,
            !items.is_empty()
        )
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        requeue(&mut tx, merchant, id, &txids, items, false).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(LoteSubmitted::Accepted)
    }

    async fn pending(&self, limit: i64) -> Result<Vec<PendingItem>, StoreError> {
        let rows = sqlx::query!(
            r#"SELECT merchant_id, lote_id, txid, operation, request_enc AS "request_enc!", version
                 FROM lote_cobv_items WHERE status = 'EM_PROCESSAMENTO' AND (retry_at IS NULL OR retry_at <= now())
                ORDER BY created_at, merchant_id, lote_id, position
                LIMIT $1"#,
            limit
        )
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.into_iter()
            .map(|r| {
                Ok(PendingItem {
                    merchant: MerchantId(r.merchant_id),
                    lote_id: r.lote_id,
                    txid: Txid::parse(&r.txid).context("stored txid").map_err(unexpected)?,
                    operation: match r.operation.as_str() {
                        "create" => LoteOperation::Create,
                        "revise" => LoteOperation::Revise,
                        "replace" => LoteOperation::Replace,
                        other => return Err(unexpected(anyhow!("a batch item's operation {other:?}"))),
                    },
                    request_enc: r.request_enc,
                    version: r.version,
                })
            })
            .collect()
    }

    async fn postpone(&self, item: &PendingItem) -> Result<u32, StoreError> {
        let faults = sqlx::query_scalar!(
            r#"UPDATE lote_cobv_items
                  SET faults = faults + 1,
                      retry_at = now() + least(interval '1 second' * power(2, least(faults, 12)), interval '1 hour')
                WHERE merchant_id = $1 AND lote_id = $2 AND txid = $3 AND status = 'EM_PROCESSAMENTO' AND version = $4
            RETURNING faults"#,
            item.merchant.0,
            item.lote_id,
            item.txid.as_str(),
            item.version
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(faults.map_or(0, |f| u32::try_from(f).unwrap_or(0)))
    }

    async fn held_else_forgotten(&self, merchant: MerchantId, txid: &Txid) -> Result<bool, StoreError> {
        sqlx::query_scalar!(
            // A creation the batch was denied because a charge with the txid was made
            // outside it (the two raced) does not hold that charge: it never was the batch's.
            r#"WITH held AS (
                   SELECT EXISTS (SELECT 1 FROM lote_cobv_items i WHERE i.merchant_id = $1 AND i.txid = $2
                                    AND (i.status = 'EM_PROCESSAMENTO'
                                         OR i.status = 'NEGADA' AND NOT (i.operation = 'create' AND EXISTS (
                                                SELECT 1 FROM charges c WHERE c.merchant_id = $1 AND c.txid = $2
                                                   AND NOT made_by_batch(c.lote_id, i)))))
                          AS held
               ), forgotten AS (
                   UPDATE lotes_cobv l SET request_hash = decode(repeat('00', 32), 'hex')
                     FROM lote_cobv_items i, held
                    WHERE NOT held.held AND i.merchant_id = $1 AND i.txid = $2
                      AND l.merchant_id = i.merchant_id AND l.id = i.lote_id
                      AND l.request_hash <> decode(repeat('00', 32), 'hex')
               )
               SELECT held AS "held!" FROM held"#,
            merchant.0,
            txid.as_str()
        )
        .fetch_one(&self.pool)
        .await
        .map_err(store_error)
    }

    async fn finish(&self, item: &PendingItem, problema: Option<&serde_json::Value>) -> Result<bool, StoreError> {
        let status = if problema.is_some() { "NEGADA" } else { "CRIADA" };
        let done = sqlx::query!(
            r#"UPDATE lote_cobv_items SET status = $4, problema = $5, request_enc = NULL, updated_at = now()
                WHERE merchant_id = $1 AND lote_id = $2 AND txid = $3 AND status = 'EM_PROCESSAMENTO'
                  AND version = $6"#,
            item.merchant.0,
            item.lote_id,
            item.txid.as_str(),
            status,
            problema,
            item.version
        )
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn get(&self, merchant: MerchantId, id: i64) -> Result<Option<Lote>, StoreError> {
        let lote = sqlx::query!(
            "SELECT id, descricao, created_at FROM lotes_cobv WHERE merchant_id = $1 AND id = $2",
            merchant.0,
            id
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        let Some(lote) = lote else { return Ok(None) };
        let items = self.items(merchant, &[lote.id]).await?.into_iter().map(|(_, i)| i).collect();
        Ok(Some(Lote { id: lote.id, descricao: lote.descricao, criacao: lote.created_at, items }))
    }

    async fn list(
        &self,
        merchant: MerchantId,
        inicio: DateTime<Utc>,
        fim: DateTime<Utc>,
        pagina: u32,
        itens_por_pagina: u32,
    ) -> Result<Page<Lote>, StoreError> {
        let limit = i64::from(itens_por_pagina);
        let offset = i64::from(pagina) * limit;
        let rows = sqlx::query!(
            r#"SELECT id, descricao, created_at FROM lotes_cobv
                WHERE merchant_id = $1 AND created_at >= $2 AND created_at <= $3
                ORDER BY created_at, id LIMIT $4 OFFSET $5"#,
            merchant.0,
            inicio,
            fim,
            limit,
            offset
        )
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        let total = if let Some(total) = super::total_from_page(rows.len(), limit, offset) {
            total
        } else {
            sqlx::query_scalar!(
                r#"SELECT count(*) AS "n!" FROM lotes_cobv WHERE merchant_id = $1 AND created_at >= $2 AND created_at <= $3"#,
                merchant.0,
                inicio,
                fim
            )
            .fetch_one(&self.pool)
            .await
            .map_err(store_error)?
        };
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let mut by_lote: std::collections::HashMap<i64, Vec<LoteItem>> = std::collections::HashMap::new();
        for (lote, item) in self.items(merchant, &ids).await? {
            by_lote.entry(lote).or_default().push(item);
        }
        let lotes = rows
            .into_iter()
            .map(|r| Lote {
                items: by_lote.remove(&r.id).unwrap_or_default(),
                id: r.id,
                descricao: r.descricao,
                criacao: r.created_at,
            })
            .collect();
        Ok(Page { items: lotes, total: u64::try_from(total).unwrap_or(0) })
    }
}

impl PgLoteStore {
    /// The items of these batches with their batch ids, each batch's in its order.
    async fn items(&self, merchant: MerchantId, lotes: &[i64]) -> Result<Vec<(i64, LoteItem)>, StoreError> {
        let rows = sqlx::query!(
            // A charge made outside the batch with that txid is not the batch's.
            r#"SELECT i.lote_id, i.txid, i.status, i.problema,
                      CASE WHEN made_by_batch(c.lote_id, i) THEN c.created_at END AS criacao
                 FROM lote_cobv_items i
                 LEFT JOIN charges c ON c.merchant_id = i.merchant_id AND c.txid = i.txid AND c.kind = 'cobv'
                WHERE i.merchant_id = $1 AND i.lote_id = ANY($2) ORDER BY i.lote_id, i.position"#,
            merchant.0,
            lotes
        )
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let txid = Txid::parse(&r.txid).map_err(|_| unexpected(anyhow!("a stored batch txid")))?;
            out.push((r.lote_id, LoteItem { txid, status: r.status, problema: r.problema, criacao: r.criacao }));
        }
        Ok(out)
    }
}
