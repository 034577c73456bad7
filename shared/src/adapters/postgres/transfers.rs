//! Pix transfers out on Postgres: limits, reservation and verdicts, each one transaction
//! with its ledger entry and outbox event.

use super::documents::{self, SealedDocument};
use super::ledger::{post, AccountDirectory, PostError, Posted};
use super::pix::{claim_notification, outbox};
use super::store_error;
use crate::domain::ids::{EndToEndId, Txid};
use crate::domain::ledger::JournalEntry;
use crate::domain::merchant::MerchantId;
use crate::domain::money::Amount;
use crate::domain::pix_key::PixKey;
use crate::domain::transfer::{
    day_start, AccountType, BankAccount, IdEnvio, Limits, Receiver, Transfer, TransferRequest, TransferStatus,
};
use crate::ports::{
    Cipher, ConcludeOutcome, Page, RailVerdict, StoreError, TransferOutcome, TransferQuery, TransferRejection,
    TransferStore,
};
use anyhow::anyhow;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgPool;
use std::sync::Arc;

/// Encryption purpose of a bank-account receiver's document.
const FAVORECIDO: &str = "favorecido";

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

fn unexpected(e: impl Into<anyhow::Error>) -> StoreError {
    StoreError::Unexpected(e.into())
}

struct TransferRow {
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
}

const COLUMNS: &str = "merchant_id, id_envio, end_to_end_id, valor, chave, conta_ispb, conta_agencia, conta_numero, \
    conta_tipo, favorecido_nome, favorecido_doc_kind, favorecido_doc_enc, txid, descricao, status, motivo, created_at, \
    settled_at, request_hash";

impl<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> for TransferRow {
    fn from_row(r: &'r sqlx::postgres::PgRow) -> Result<Self, sqlx::Error> {
        use sqlx::Row;
        Ok(TransferRow {
            merchant_id: r.try_get("merchant_id")?,
            id_envio: r.try_get("id_envio")?,
            end_to_end_id: r.try_get("end_to_end_id")?,
            valor: r.try_get("valor")?,
            chave: r.try_get("chave")?,
            conta_ispb: r.try_get("conta_ispb")?,
            conta_agencia: r.try_get("conta_agencia")?,
            conta_numero: r.try_get("conta_numero")?,
            conta_tipo: r.try_get("conta_tipo")?,
            favorecido_nome: r.try_get("favorecido_nome")?,
            favorecido_doc_kind: r.try_get("favorecido_doc_kind")?,
            favorecido_doc_enc: r.try_get("favorecido_doc_enc")?,
            txid: r.try_get("txid")?,
            descricao: r.try_get("descricao")?,
            status: r.try_get("status")?,
            motivo: r.try_get("motivo")?,
            created_at: r.try_get("created_at")?,
            settled_at: r.try_get("settled_at")?,
            request_hash: r.try_get("request_hash")?,
        })
    }
}

impl PgTransferStore {
    async fn to_transfer(&self, r: TransferRow) -> Result<Transfer, StoreError> {
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
                Receiver::Account(BankAccount {
                    ispb: r.conta_ispb.unwrap_or_default(),
                    agencia: r.conta_agencia.unwrap_or_default(),
                    conta,
                    tipo: r.conta_tipo.as_deref().and_then(AccountType::parse).unwrap_or(AccountType::Cacc),
                    documento,
                    nome: r.favorecido_nome.clone().unwrap_or_default(),
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
        })
    }

    async fn many(&self, rows: Vec<TransferRow>) -> Result<Vec<Transfer>, StoreError> {
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(self.to_transfer(r).await?);
        }
        Ok(out)
    }
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
        let existing = sqlx::query_as::<_, TransferRow>(&format!(
            "SELECT {COLUMNS} FROM transfers WHERE merchant_id = $1 AND id_envio = $2"
        ))
        .bind(merchant.0)
        .bind(request.id.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_error)?;
        if let Some(row) = existing {
            let same_request = row.request_hash == fingerprint;
            return Ok(TransferOutcome::Existing { transfer: self.to_transfer(row).await?, same_request });
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
        let event = json!({"idEnvio": request.id.as_str(), "endToEndId": e2eid.as_str(), "valor": request.valor.to_string(),
                           "status": TransferStatus::EmProcessamento.as_str()});
        outbox(&mut tx, merchant, "envio.em_processamento", event).await?;
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
        }))
    }

    async fn find(&self, merchant: MerchantId, id: &IdEnvio) -> Result<Option<Transfer>, StoreError> {
        let row = sqlx::query_as::<_, TransferRow>(&format!(
            "SELECT {COLUMNS} FROM transfers WHERE merchant_id = $1 AND id_envio = $2"
        ))
        .bind(merchant.0)
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        match row {
            Some(r) => Ok(Some(self.to_transfer(r).await?)),
            None => Ok(None),
        }
    }

    async fn list(&self, merchant: MerchantId, q: &TransferQuery) -> Result<Page<Transfer>, StoreError> {
        let limit = i64::from(q.itens_por_pagina);
        let filter = "merchant_id = $1 AND created_at >= $2 AND created_at <= $3 AND ($4::text IS NULL OR status = $4)";
        let status = q.status.map(TransferStatus::as_str);
        let total: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM transfers WHERE {filter}"))
            .bind(merchant.0)
            .bind(q.inicio)
            .bind(q.fim)
            .bind(status)
            .fetch_one(&self.pool)
            .await
            .map_err(store_error)?;
        let rows = sqlx::query_as::<_, TransferRow>(&format!(
            "SELECT {COLUMNS} FROM transfers WHERE {filter} ORDER BY created_at, id LIMIT $5 OFFSET $6"
        ))
        .bind(merchant.0)
        .bind(q.inicio)
        .bind(q.fim)
        .bind(status)
        .bind(limit)
        .bind(i64::from(q.pagina) * limit)
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(Page { items: self.many(rows).await?, total: u64::try_from(total).unwrap_or(0) })
    }

    async fn conclude(
        &self,
        notification_id: &str,
        e2eid: &EndToEndId,
        verdict: &RailVerdict,
    ) -> Result<ConcludeOutcome, StoreError> {
        let kind = match verdict {
            RailVerdict::Settled { .. } => "PIX_ENVIADO_LIQUIDADO",
            RailVerdict::Rejected { .. } => "PIX_ENVIADO_REJEITADO",
        };
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        if !claim_notification(&mut tx, notification_id, kind).await? {
            return Ok(ConcludeOutcome::Duplicate);
        }
        let t = sqlx::query!(
            "SELECT id, merchant_id, id_envio, valor, status FROM transfers WHERE end_to_end_id = $1 FOR UPDATE",
            e2eid.as_str()
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_error)?;
        let Some(t) = t else { return Ok(ConcludeOutcome::Unknown) };
        if t.status != TransferStatus::EmProcessamento.as_str() {
            tx.commit().await.map_err(store_error)?;
            return Ok(ConcludeOutcome::Duplicate);
        }
        let merchant = MerchantId(t.merchant_id);
        let valor = Amount::from_centavos(t.valor).map_err(unexpected)?;
        let (status, entry) = match verdict {
            RailVerdict::Settled { at } => {
                sqlx::query!("UPDATE transfers SET status = 'REALIZADO', settled_at = $2 WHERE id = $1", t.id, at)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
                (TransferStatus::Realizado, JournalEntry::transfer_settle(e2eid.as_str(), merchant, valor))
            }
            RailVerdict::Rejected { motivo } => {
                let motivo: Option<String> = motivo.as_ref().map(|m| m.chars().take(140).collect());
                sqlx::query!("UPDATE transfers SET status = 'NAO_REALIZADO', motivo = $2 WHERE id = $1", t.id, motivo)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
                (TransferStatus::NaoRealizado, JournalEntry::transfer_void(e2eid.as_str(), merchant, valor))
            }
        };
        let reference = json!({"idEnvio": t.id_envio, "endToEndId": e2eid.as_str()});
        post(&mut tx, &self.accounts, &entry, &reference).await.map_err(|e| match e {
            PostError::InsufficientFunds => unexpected(anyhow!("a transfer verdict hit a minimum balance")),
            PostError::Store(s) => s,
        })?;
        let event = json!({"idEnvio": t.id_envio, "endToEndId": e2eid.as_str(), "valor": valor.to_string(), "status": status.as_str()});
        let kind = if status == TransferStatus::Realizado { "envio.realizado" } else { "envio.nao_realizado" };
        outbox(&mut tx, merchant, kind, event).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(ConcludeOutcome::Applied)
    }

    async fn pending(&self, before: DateTime<Utc>) -> Result<Vec<Transfer>, StoreError> {
        let rows = sqlx::query_as::<_, TransferRow>(&format!(
            "SELECT {COLUMNS} FROM transfers WHERE status = 'EM_PROCESSAMENTO' AND created_at < $1 ORDER BY created_at LIMIT 1000"
        ))
        .bind(before)
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        self.many(rows).await
    }
}
