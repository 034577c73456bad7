//! Pix transfers out on Postgres: limits, reservation and verdicts, each one transaction
//! with its ledger entry and outbox event.

use super::documents::{self, SealedDocument};
use super::ledger::{post, repay_owed, AccountDirectory, PostError, Posted};
use super::pix::{claim_notification, outbox};
use super::unexpected;
use super::verdicts::{self, Flow, Movement};
use super::{snapshot, store_error};
use crate::domain::event::DomainEvent;
use crate::domain::ids::{EndToEndId, RtrId, Txid};
use crate::domain::ledger::JournalEntry;
use crate::domain::merchant::MerchantId;
use crate::domain::money::Amount;
use crate::domain::pix_key::PixKey;
use crate::domain::transfer::{
    day_start, AccountType, BankAccount, IdEnvio, Limits, Receiver, Transfer, TransferRequest, TransferReturn,
    TransferStatus,
};
use crate::domain::verdict::{Booked, Contradiction};
use crate::ports::{
    Cipher, ConcludeOutcome, Heard, Page, ParkedVerdict, RailVerdict, ReturnedPix, StoreError, TransferOutcome,
    TransferQuery, TransferRejection, TransferStore, VerdictOn,
};
use anyhow::anyhow;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use std::sync::Arc;

use crate::ports::purpose::FAVORECIDO;

pub struct PgTransferStore {
    pool: PgPool,
    accounts: Arc<AccountDirectory>,
    cipher: Arc<dyn Cipher>,
}

impl PgTransferStore {
    pub fn new(pool: PgPool, accounts: Arc<AccountDirectory>, cipher: Arc<dyn Cipher>) -> Self {
        Self { pool, accounts, cipher }
    }
}

struct TransferRow {
    id: i64,
    merchant_id: uuid::Uuid,
    id_envio: String,
    end_to_end_id: String,
    valor: i64,
    chave: Option<String>,
    conta_ispb: Option<String>,
    conta_agencia: Option<String>,
    conta_numero: Option<String>,
    conta_tipo: Option<String>,
    favorecido_nome: Option<String>,
    favorecido_doc_kind: Option<String>,
    favorecido_doc_enc: Option<Vec<u8>>,
    txid: Option<String>,
    descricao: Option<String>,
    status: String,
    motivo: Option<String>,
    created_at: DateTime<Utc>,
    settled_at: Option<DateTime<Utc>>,
    request_hash: Vec<u8>,
    alerta: Option<String>,
}

/// The returns of these transfers, oldest first, with the transfer each belongs to.
/// A merchant's transfer by its idEnvio, as stored.
async fn row_by_id(
    conn: &mut PgConnection,
    merchant: MerchantId,
    id: &IdEnvio,
) -> Result<Option<TransferRow>, StoreError> {
    sqlx::query_as!(
        TransferRow,
        r#"SELECT id, merchant_id, id_envio, end_to_end_id, valor, chave, conta_ispb, conta_agencia, conta_numero,
                  conta_tipo, favorecido_nome, favorecido_doc_kind, favorecido_doc_enc, txid, descricao, status,
                  motivo, created_at, settled_at, request_hash, alerta
             FROM transfers WHERE merchant_id = $1 AND id_envio = $2"#,
        merchant.0,
        id.as_str()
    )
    .fetch_optional(conn)
    .await
    .map_err(store_error)
}

async fn returns_of(conn: &mut PgConnection, ids: &[i64]) -> Result<Vec<(i64, TransferReturn)>, StoreError> {
    let rows = sqlx::query!(
        "SELECT transfer_id, rtr_id, valor, codigo, motivo, horario FROM transfer_returns
          WHERE transfer_id = ANY($1) ORDER BY id",
        ids
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(store_error)?;
    rows.into_iter()
        .map(|r| {
            Ok((
                r.transfer_id,
                TransferReturn {
                    rtr_id: RtrId::parse(&r.rtr_id).map_err(unexpected)?,
                    valor: Amount::from_centavos(r.valor).map_err(unexpected)?,
                    horario: r.horario,
                    codigo: r.codigo,
                    motivo: r.motivo,
                },
            ))
        })
        .collect()
}

impl PgTransferStore {
    /// The transfer of a row, its returns read on `conn` (the caller's transaction, when
    /// it holds one: a second connection could wait on a pool that waits on its locks).
    async fn to_transfer(&self, conn: &mut PgConnection, r: TransferRow) -> Result<Transfer, StoreError> {
        let returns = returns_of(conn, &[r.id]).await?;
        self.with_returns(r, &returns).await
    }

    async fn with_returns(&self, r: TransferRow, returns: &[(i64, TransferReturn)]) -> Result<Transfer, StoreError> {
        let merchant = Some(MerchantId(r.merchant_id));
        let favorecido = match (r.chave, r.conta_numero) {
            (Some(chave), None) => Receiver::Key(PixKey::parse(&chave).map_err(unexpected)?),
            (None, Some(conta)) => {
                let documento = documents::open(
                    self.cipher.as_ref(),
                    r.favorecido_doc_kind.as_deref(),
                    r.favorecido_doc_enc.as_deref(),
                    merchant,
                    FAVORECIDO,
                )
                .await?
                .ok_or_else(|| unexpected(anyhow!("bank-account transfer without a document")))?;
                // Every part of a stored bank account was written with it: a missing or
                // unreadable one is a corrupt row, never an empty or guessed field.
                let missing = |what: &str| unexpected(anyhow!("bank-account transfer without its {what}"));
                Receiver::Account(BankAccount {
                    ispb: r.conta_ispb.ok_or_else(|| missing("ispb"))?,
                    agencia: r.conta_agencia.ok_or_else(|| missing("agencia"))?,
                    conta,
                    tipo: r.conta_tipo.as_deref().and_then(AccountType::parse).ok_or_else(|| missing("tipoConta"))?,
                    documento,
                    nome: r.favorecido_nome.clone().ok_or_else(|| missing("nome"))?,
                })
            }
            _ => return Err(unexpected(anyhow!("transfer without exactly one receiver"))),
        };
        Ok(Transfer {
            id: IdEnvio::parse(&r.id_envio).ok_or_else(|| unexpected(anyhow!("stored idEnvio")))?,
            end_to_end_id: EndToEndId::parse(&r.end_to_end_id).map_err(unexpected)?,
            valor: Amount::from_centavos(r.valor).map_err(unexpected)?,
            favorecido,
            favorecido_nome: r.favorecido_nome,
            descricao: r.descricao,
            txid: r.txid.as_deref().map(Txid::parse).transpose().map_err(unexpected)?,
            status: TransferStatus::parse(&r.status).ok_or_else(|| unexpected(anyhow!("stored status")))?,
            motivo: r.motivo,
            solicitacao: r.created_at,
            liquidacao: r.settled_at,
            alerta: r
                .alerta
                .as_deref()
                .map(|a| Contradiction::parse(a).ok_or_else(|| unexpected(anyhow!("stored transfer alerta"))))
                .transpose()?,
            devolucoes: returns.iter().filter(|(id, _)| *id == r.id).map(|(_, d)| d.clone()).collect(),
        })
    }

    async fn many(&self, conn: &mut PgConnection, rows: Vec<TransferRow>) -> Result<Vec<Transfer>, StoreError> {
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let returns = returns_of(conn, &ids).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(self.with_returns(r, &returns).await?);
        }
        Ok(out)
    }
}

/// The transfer with this end-to-end id, locked, as a movement to book verdicts on.
async fn locked_movement(conn: &mut PgConnection, e2eid: &EndToEndId) -> Result<Option<Movement>, StoreError> {
    let t = sqlx::query!(
        r#"SELECT id, merchant_id, id_envio, valor, valor_liquidado, valor_liquidado_informado, status,
                  xmin::text::bigint AS "version!"
             FROM transfers WHERE end_to_end_id = $1 FOR UPDATE"#,
        e2eid.as_str()
    )
    .fetch_optional(&mut *conn)
    .await
    .map_err(store_error)?;
    let Some(t) = t else { return Ok(None) };
    Ok(Some(Movement {
        flow: Flow::Transfer,
        id: t.id,
        merchant: MerchantId(t.merchant_id),
        key: e2eid.as_str().to_owned(),
        valor: Amount::from_centavos(t.valor).map_err(unexpected)?,
        booked: Flow::Transfer.booked(&t.status)?,
        version: t.version,
        assumed: verdicts::assumed(t.valor_liquidado, t.valor_liquidado_informado)?,
        reference: json!({"idEnvio": t.id_envio, "endToEndId": e2eid.as_str()}),
    }))
}

#[async_trait]
impl TransferStore for PgTransferStore {
    async fn reserve(
        &self,
        merchant: MerchantId,
        request: &TransferRequest,
        favorecido_nome: Option<&str>,
        e2eid: &EndToEndId,
        fingerprint: [u8; 32],
        now: DateTime<Utc>,
    ) -> Result<TransferOutcome, StoreError> {
        // The receiver's document is sealed before the transaction: no call to the key
        // service while the merchant is locked.
        let (chave, conta, sealed) = match &request.favorecido {
            Receiver::Key(k) => (Some(k.as_str().to_owned()), None, None),
            Receiver::Account(a) => {
                let sealed =
                    documents::seal(self.cipher.as_ref(), Some(&a.documento), Some(merchant), FAVORECIDO).await?;
                (None, Some(a), sealed)
            }
        };
        let (doc_kind, doc_enc) = match sealed {
            Some(SealedDocument { kind, enc, .. }) => (Some(kind), Some(enc)),
            None => (None, None),
        };
        // What the merchant owes operations is repaid first, so money it owes does not leave
        // (a debt booked at this very moment is repaid by the next reservation or pass).
        repay_owed(&self.pool, &self.accounts, merchant, None).await?;
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        // One transfer of a merchant at a time: limits are checked against committed totals.
        // FOR NO KEY UPDATE, not FOR UPDATE: it does not conflict with the key-share locks
        // that inserts referencing the merchant take (received Pix, refunds, outbox events),
        // so payments in and verdicts go on while a transfer is being reserved.
        let m = sqlx::query!(
            "SELECT person_kind, limit_per_transfer, limit_daily, limit_night FROM merchants WHERE id = $1 FOR NO KEY UPDATE",
            merchant.0
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(store_error)?;
        let existing = row_by_id(&mut tx, merchant, &request.id).await?;
        if let Some(row) = existing {
            let same_request = row.request_hash == fingerprint;
            return Ok(TransferOutcome::Existing { transfer: self.to_transfer(&mut tx, row).await?, same_request });
        }
        let sent_today = sqlx::query_scalar!(
            r#"SELECT coalesce(sum(valor), 0)::bigint AS "sum!" FROM transfers
                WHERE merchant_id = $1 AND created_at >= $2 AND status <> 'NAO_REALIZADO'"#,
            merchant.0,
            day_start(now)
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(store_error)?;
        let limits = Limits {
            per_transfer: Amount::from_centavos(m.limit_per_transfer).map_err(unexpected)?,
            daily: Amount::from_centavos(m.limit_daily).map_err(unexpected)?,
            night: (m.person_kind == "PF")
                .then(|| Amount::from_centavos(m.limit_night))
                .transpose()
                .map_err(unexpected)?,
        };
        if let Err(v) = limits.check(request.valor, sent_today, now) {
            return Ok(TransferOutcome::Rejected(v.into()));
        }
        let nome = favorecido_nome.map(str::to_owned).or_else(|| conta.map(|a| a.nome.clone()));
        let created_at = sqlx::query_scalar!(
            r#"INSERT INTO transfers (merchant_id, id_envio, end_to_end_id, valor, chave, conta_ispb, conta_agencia,
                                      conta_numero, conta_tipo, favorecido_nome, favorecido_doc_kind, favorecido_doc_enc,
                                      txid, descricao, request_hash, created_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
               RETURNING created_at"#,
            merchant.0,
            request.id.as_str(),
            e2eid.as_str(),
            request.valor.centavos(),
            chave,
            conta.map(|a| a.ispb.clone()),
            conta.map(|a| a.agencia.clone()),
            conta.map(|a| a.conta.clone()),
            conta.map(|a| a.tipo.as_str()),
            nome,
            doc_kind,
            doc_enc,
            request.txid.as_ref().map(Txid::as_str),
            request.descricao,
            &fingerprint[..],
            now,
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(store_error)?;
        let entry = JournalEntry::transfer_reserve(e2eid.as_str(), merchant, request.valor);
        let reference = json!({"idEnvio": request.id.as_str(), "endToEndId": e2eid.as_str()});
        match post(&mut tx, &self.accounts, &entry, &reference).await {
            Ok(Posted::New(_)) => {}
            Ok(Posted::AlreadyPosted) => return Err(unexpected(anyhow!("transfer reserve exists for a new e2eid"))),
            Err(PostError::InsufficientFunds) => {
                return Ok(TransferOutcome::Rejected(TransferRejection::InsufficientFunds))
            }
            Err(PostError::Store(e)) => return Err(e),
        }
        let event = DomainEvent::envio_em_processamento(&request.id, e2eid, request.valor);
        outbox(&mut tx, merchant, &event).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(TransferOutcome::Created(Transfer {
            id: request.id.clone(),
            end_to_end_id: e2eid.clone(),
            valor: request.valor,
            favorecido: request.favorecido.clone(),
            favorecido_nome: nome,
            descricao: request.descricao.clone(),
            txid: request.txid.clone(),
            status: TransferStatus::EmProcessamento,
            motivo: None,
            solicitacao: created_at,
            liquidacao: None,
            alerta: None,
            devolucoes: vec![],
        }))
    }

    async fn find(&self, merchant: MerchantId, id: &IdEnvio) -> Result<Option<Transfer>, StoreError> {
        let mut tx = snapshot(&self.pool).await?;
        let row = row_by_id(&mut tx, merchant, id).await?;
        match row {
            Some(r) => Ok(Some(self.to_transfer(&mut tx, r).await?)),
            None => Ok(None),
        }
    }

    async fn list(&self, merchant: MerchantId, q: &TransferQuery) -> Result<Page<Transfer>, StoreError> {
        let limit = i64::from(q.itens_por_pagina);
        let status = q.status.map(TransferStatus::as_str);
        let mut tx = snapshot(&self.pool).await?;
        let total = sqlx::query_scalar!(
            r#"SELECT count(*) AS "count!" FROM transfers
                WHERE merchant_id = $1 AND created_at >= $2 AND created_at <= $3 AND ($4::text IS NULL OR status = $4)"#,
            merchant.0,
            q.inicio,
            q.fim,
            status
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(store_error)?;
        let rows = sqlx::query_as!(
            TransferRow,
            r#"SELECT id, merchant_id, id_envio, end_to_end_id, valor, chave, conta_ispb, conta_agencia, conta_numero,
                      conta_tipo, favorecido_nome, favorecido_doc_kind, favorecido_doc_enc, txid, descricao, status,
                      motivo, created_at, settled_at, request_hash, alerta
                 FROM transfers
                WHERE merchant_id = $1 AND created_at >= $2 AND created_at <= $3 AND ($4::text IS NULL OR status = $4)
                ORDER BY created_at, id LIMIT $5 OFFSET $6"#,
            merchant.0,
            q.inicio,
            q.fim,
            status,
            limit,
            i64::from(q.pagina) * limit
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(store_error)?;
        Ok(Page { items: self.many(&mut tx, rows).await?, total: u64::try_from(total).unwrap_or(0) })
    }

    async fn conclude(
        &self,
        notification_id: &str,
        e2eid: &EndToEndId,
        verdict: &RailVerdict,
        heard: Heard,
    ) -> Result<ConcludeOutcome, StoreError> {
        let kind = match verdict {
            RailVerdict::Settled { .. } => "PIX_ENVIADO_LIQUIDADO",
            RailVerdict::Rejected(_) => "PIX_ENVIADO_REJEITADO",
        };
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        if !claim_notification(&mut tx, notification_id, kind).await? {
            return Ok(ConcludeOutcome::Duplicate);
        }
        // Unknown: roll back, so that the notification can be applied if it is retried later.
        let Some(movement) = locked_movement(&mut tx, e2eid).await? else { return Ok(ConcludeOutcome::Unknown) };
        let outcome = verdicts::apply(&mut tx, &self.accounts, &movement, notification_id, verdict, heard).await?;
        // Unconfirmed: roll back the claim too, so that the notification is applied once
        // the rail's status confirms it.
        if !matches!(outcome, ConcludeOutcome::Unconfirmed(_)) {
            tx.commit().await.map_err(store_error)?;
        }
        Ok(outcome)
    }

    async fn record_return(
        &self,
        notification_id: &str,
        returned: &ReturnedPix,
    ) -> Result<ConcludeOutcome, StoreError> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        if !claim_notification(&mut tx, notification_id, "PIX_ENVIADO_DEVOLVIDO").await? {
            return Ok(ConcludeOutcome::Duplicate);
        }
        let Some(mut movement) = locked_movement(&mut tx, &returned.end_to_end_id).await? else {
            return Ok(ConcludeOutcome::Unknown);
        };
        let known = sqlx::query_scalar!("SELECT id FROM transfer_returns WHERE rtr_id = $1", returned.rtr_id.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(store_error)?;
        if known.is_some() {
            tx.commit().await.map_err(store_error)?;
            return Ok(ConcludeOutcome::Duplicate);
        }
        // A return proves the money left: a transfer still pending (its verdict lost) or
        // voided (a contradiction) is settled first.
        let mut flag = None;
        if movement.booked != Booked::Settled {
            let settled = RailVerdict::Settled { at: returned.horario, valor: None };
            if let ConcludeOutcome::Flagged(c) =
                verdicts::apply(&mut tx, &self.accounts, &movement, notification_id, &settled, Heard::FromRail).await?
            {
                flag = Some(c);
            }
            movement.booked = Booked::Settled;
            movement.assumed = Some(movement.valor);
        }
        let sent = sqlx::query_scalar!(
            r#"SELECT coalesce(valor_liquidado, valor) AS "sent!" FROM transfers WHERE id = $1"#,
            movement.id
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(store_error)?;
        let returned_before = sqlx::query_scalar!(
            r#"SELECT coalesce(sum(valor), 0)::bigint AS "sum!" FROM transfer_returns WHERE transfer_id = $1"#,
            movement.id
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(store_error)?;
        // More back than was sent: the excess is not the merchant's; it waits in suspense.
        let room = (sent - returned_before).max(0);
        let excess = Amount::from_centavos((returned.valor.centavos() - room).max(0)).map_err(unexpected)?;
        sqlx::query!(
            "INSERT INTO transfer_returns (transfer_id, merchant_id, rtr_id, valor, codigo, motivo, horario)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            movement.id,
            movement.merchant.0,
            returned.rtr_id.as_str(),
            returned.valor.centavos(),
            returned.codigo,
            returned.motivo.as_ref().map(|m| m.chars().take(140).collect::<String>()),
            returned.horario,
        )
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        let entry = JournalEntry::transfer_return(returned.rtr_id.as_str(), movement.merchant, returned.valor, excess);
        let mut reference = movement.reference.clone();
        reference["rtrId"] = json!(returned.rtr_id.as_str());
        let posted = match post(&mut tx, &self.accounts, &entry, &reference).await {
            Ok(Posted::New(id)) => id,
            Ok(Posted::AlreadyPosted) => {
                return Err(unexpected(anyhow!("a return's ledger entry exists for a new rtrId")))
            }
            Err(PostError::InsufficientFunds) => return Err(unexpected(anyhow!("a return hit a minimum balance"))),
            Err(PostError::Store(e)) => return Err(e),
        };
        let event = DomainEvent::envio_devolvido(&reference, returned.valor, returned.codigo.as_deref());
        outbox(&mut tx, movement.merchant, &event).await?;
        if !excess.is_zero() {
            sqlx::query!(
                "UPDATE transfers SET alerta = coalesce(alerta, 'DEVOLUCAO_EXCEDENTE') WHERE id = $1",
                movement.id
            )
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
            let detail = json!({"devolucao": event.payload, "excedente": excess.to_string()});
            let c = Contradiction::ReturnExceedsTransfer;
            verdicts::record(&mut tx, c, &movement.key, Some(movement.merchant), notification_id, Some(posted), detail)
                .await?;
            flag = Some(c);
        }
        tx.commit().await.map_err(store_error)?;
        Ok(flag.map_or(ConcludeOutcome::Applied, ConcludeOutcome::Flagged))
    }

    async fn park_verdict(
        &self,
        notification_id: &str,
        on: &VerdictOn,
        verdict: &RailVerdict,
    ) -> Result<(), StoreError> {
        let (flow, subject) = match on {
            VerdictOn::Transfer(e2eid) => ("transfer", e2eid.as_str()),
            VerdictOn::Refund(rtr_id) => ("refund", rtr_id.as_str()),
        };
        let parked = sqlx::query!(
            "INSERT INTO parked_rail_verdicts (notification_id, flow, subject, verdict) VALUES ($1, $2, $3, $4)
             ON CONFLICT (notification_id) DO UPDATE SET parked_at = now(), resolved_at = NULL, resolution = NULL
                 WHERE parked_rail_verdicts.resolved_at IS NOT NULL",
            notification_id,
            flow,
            subject,
            verdicts::verdict_json(verdict)
        )
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        if parked.rows_affected() == 1 {
            crate::telemetry::metrics(&[("ParkedRailVerdicts", 1.0, crate::telemetry::Unit::Count)]);
        }
        Ok(())
    }

    async fn parked_verdicts(&self, limit: i64) -> Result<Vec<ParkedVerdict>, StoreError> {
        let rows = sqlx::query!(
            "SELECT notification_id, flow, subject, verdict, parked_at FROM parked_rail_verdicts
              WHERE resolved_at IS NULL ORDER BY parked_at, notification_id LIMIT $1",
            limit
        )
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.into_iter()
            .map(|r| {
                let on = match r.flow.as_str() {
                    "transfer" => EndToEndId::parse(&r.subject).ok().map(VerdictOn::Transfer),
                    _ => RtrId::parse(&r.subject).ok().map(VerdictOn::Refund),
                };
                let verdict = verdicts::verdict_of(&r.verdict);
                match (on, verdict) {
                    (Some(on), Some(verdict)) => {
                        Ok(ParkedVerdict { notification_id: r.notification_id, on, verdict, parked_at: r.parked_at })
                    }
                    _ => Err(unexpected(anyhow!("a parked verdict does not parse"))),
                }
            })
            .collect()
    }

    async fn unpark_verdict(&self, notification_id: &str, resolution: &str) -> Result<(), StoreError> {
        sqlx::query!(
            "UPDATE parked_rail_verdicts SET resolved_at = now(), resolution = $2
              WHERE notification_id = $1 AND resolved_at IS NULL",
            notification_id,
            resolution
        )
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(())
    }

    async fn pending(&self, before: DateTime<Utc>, limit: i64, pass: i64) -> Result<Vec<Transfer>, StoreError> {
        let mut tx = snapshot(&self.pool).await?;
        let rows = sqlx::query_as!(
            TransferRow,
            r#"SELECT id, merchant_id, id_envio, end_to_end_id, valor, chave, conta_ispb, conta_agencia, conta_numero,
                      conta_tipo, favorecido_nome, favorecido_doc_kind, favorecido_doc_enc, txid, descricao, status,
                      motivo, created_at, settled_at, request_hash, alerta
                 FROM transfers WHERE status = 'EM_PROCESSAMENTO' AND created_at < $1
                ORDER BY md5(end_to_end_id || $3::bigint::text) LIMIT $2"#,
            before,
            limit,
            pass
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(store_error)?;
        // One transfer that does not read back (its document does not open) must not stop
        // the reconciler from finishing the others: logged as the fault it is.
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let returns = returns_of(&mut tx, &ids).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            match self.with_returns(r, &returns).await {
                Ok(t) => out.push(t),
                Err(e) => tracing::error!(error = %e, "a pending transfer does not read back: left for operations"),
            }
        }
        Ok(out)
    }
}
