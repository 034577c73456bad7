//! `RecurrenceStore` on Postgres: recurrences, confirmation requests, recurring charges
//! and their attempts. Status changes lock the row, append to `atualizacao` and write
//! their outbox events in one transaction; the tables' triggers refuse any transition
//! the status machines do not have.

use super::documents::{self, cipher_error, DEVEDOR, PAGADOR};
use super::{snapshot, store_error, unexpected};
use crate::domain::charge::Devedor;
use crate::domain::cobv::Contato;
use crate::domain::event::{DomainEvent, EventKind};
use crate::domain::ids::{EndToEndId, Txid};
use crate::domain::merchant::MerchantId;
use crate::domain::money::Amount;
use crate::domain::rec::recurrence::Destinatario;
use crate::domain::rec::{
    Attempt, AttemptKind, AttemptStatus, CobRStatus, CobRTerms, ContaRecebedor, Encerramento, IdRec, IdSolicRec,
    Jornada, Payer, Periodicidade, RecLoc, RecStatus, RecTerms, RecValue, Recurrence, RecurringCharge, RetryPolicy,
    SolicRec, SolicRecStatus, Solicitante, TipoConta, Update,
};
use crate::ports::{
    AttemptApplied, AttemptOutcome, Cipher, CipherContext, CobRInsert, CobRQuery, LocRecQuery, Page, RecDecided,
    RecDecision, RecQuery, RecRevised, RecurrenceStore, StoreError,
};
use anyhow::anyhow;
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Value};
use sqlx::{PgConnection, PgPool};
use std::sync::Arc;
use uuid::Uuid;

pub struct PgRecurrenceStore {
    pool: PgPool,
    cipher: Arc<dyn Cipher>,
}

impl PgRecurrenceStore {
    pub fn new(pool: PgPool, cipher: Arc<dyn Cipher>) -> Self {
        Self { pool, cipher }
    }
}

/// One `atualizacao` entry, as appended with `||`.
fn entry(status: &str, at: DateTime<Utc>) -> Value {
    json!([{"status": status, "data": at}])
}

fn history<S>(v: Value, parse: impl Fn(&str) -> Option<S>) -> Result<Vec<Update<S>>, StoreError> {
    #[derive(serde::Deserialize)]
    struct Raw {
        status: String,
        data: DateTime<Utc>,
    }
    let raw: Vec<Raw> = serde_json::from_value(v).map_err(|e| unexpected(anyhow!(e).context("stored atualizacao")))?;
    raw.into_iter()
        .map(|r| {
            let status = parse(&r.status).ok_or_else(|| unexpected(anyhow!("unknown stored status")))?;
            Ok(Update { status, data: r.data })
        })
        .collect()
}

fn encerramento(v: Option<Value>) -> Result<Option<Encerramento>, StoreError> {
    v.map(|v| serde_json::from_value(v).map_err(|e| unexpected(anyhow!(e).context("stored encerramento")))).transpose()
}

fn to_json(e: &Encerramento) -> Value {
    serde_json::to_value(e).unwrap_or(Value::Null)
}

fn amount(centavos: Option<i64>) -> Result<Option<Amount>, StoreError> {
    centavos.map(|c| Amount::from_centavos(c).map_err(unexpected)).transpose()
}

async fn write_events(conn: &mut PgConnection, merchant: MerchantId, events: &[DomainEvent]) -> Result<(), StoreError> {
    for e in events {
        sqlx::query!(
            "INSERT INTO outbox_events (merchant_id, kind, payload) VALUES ($1, $2, $3)",
            merchant.0,
            e.kind.as_str(),
            e.payload
        )
        .execute(&mut *conn)
        .await
        .map_err(store_error)?;
    }
    Ok(())
}

/// A recurrence as selected below.
struct RecRow {
    id: i64,
    merchant_id: Uuid,
    id_rec: String,
    status: String,
    objeto: Option<String>,
    contrato: String,
    devedor_doc_kind: String,
    devedor_doc_enc: Vec<u8>,
    devedor_nome: String,
    data_inicial: NaiveDate,
    data_final: Option<NaiveDate>,
    periodicidade: String,
    valor_rec: Option<i64>,
    valor_minimo_recebedor: Option<i64>,
    convenio: Option<String>,
    politica_retentativa: String,
    tipo_jornada: String,
    pagador_ispb: Option<String>,
    pagador_doc_kind: Option<String>,
    pagador_doc_enc: Option<Vec<u8>>,
    pagador_cod_mun: Option<String>,
    encerramento: Option<Value>,
    atualizacao: Value,
    jornada_txid: Option<String>,
    loc_id: Option<i64>,
    loc_location: Option<String>,
    loc_criacao: Option<DateTime<Utc>>,
}

impl RecRow {
    async fn into_rec(self, cipher: &dyn Cipher) -> Result<(i64, MerchantId, Recurrence), StoreError> {
        let merchant = MerchantId(self.merchant_id);
        let devedor =
            documents::open(cipher, Some(&self.devedor_doc_kind), Some(&self.devedor_doc_enc), Some(merchant), DEVEDOR)
                .await?
                .ok_or_else(|| unexpected(anyhow!("a recurrence without its devedor")))?;
        let pagador_doc = documents::open(
            cipher,
            self.pagador_doc_kind.as_deref(),
            self.pagador_doc_enc.as_deref(),
            Some(merchant),
            PAGADOR,
        )
        .await?;
        let pagador = match (self.pagador_ispb, pagador_doc) {
            (Some(ispb), Some(documento)) => Some(Payer { ispb, documento, cod_mun: self.pagador_cod_mun }),
            _ => None,
        };
        let bad = |what: &str| unexpected(anyhow!("a stored recurrence has an unknown {what}"));
        let valor = match (amount(self.valor_rec)?, amount(self.valor_minimo_recebedor)?) {
            (Some(v), _) => RecValue::Fixed(v),
            (None, Some(m)) => RecValue::Minimum(m),
            (None, None) => RecValue::Free,
        };
        let id_rec = IdRec::parse(&self.id_rec).ok_or_else(|| bad("idRec"))?;
        let loc = match (self.loc_id, self.loc_location, self.loc_criacao) {
            (Some(id), Some(location), Some(criacao)) => {
                Some(RecLoc { id, location, criacao, id_rec: Some(id_rec.clone()) })
            }
            _ => None,
        };
        let jornada_txid = self.jornada_txid.map(|t| Txid::parse(&t)).transpose().map_err(unexpected)?;
        let rec = Recurrence {
            id_rec,
            loc,
            jornada_txid,
            status: RecStatus::parse(&self.status).ok_or_else(|| bad("status"))?,
            terms: RecTerms {
                objeto: self.objeto,
                contrato: self.contrato,
                devedor: Devedor { documento: devedor, nome: self.devedor_nome },
                data_inicial: self.data_inicial,
                data_final: self.data_final,
                periodicidade: Periodicidade::parse(&self.periodicidade).ok_or_else(|| bad("periodicidade"))?,
                valor,
                convenio: self.convenio,
                politica: RetryPolicy::parse(&self.politica_retentativa).ok_or_else(|| bad("policy"))?,
            },
            jornada: Jornada::parse(&self.tipo_jornada).ok_or_else(|| bad("journey"))?,
            pagador,
            encerramento: encerramento(self.encerramento)?,
            atualizacao: history(self.atualizacao, RecStatus::parse)?,
        };
        Ok((self.id, merchant, rec))
    }
}

/// Selects recurrences with their location: `$1` idRec (or NULL), `$2` merchant (or
/// NULL), `$3` row id (or NULL); `$suffix` ends the statement (a lock).
macro_rules! select_recs {
    ($id_rec:expr, $merchant:expr, $row:expr, $suffix:literal) => {
        sqlx::query_as!(
            RecRow,
            r#"SELECT r.id AS "id!", r.merchant_id AS "merchant_id!", r.id_rec AS "id_rec!", r.status AS "status!",
                      r.objeto, r.contrato AS "contrato!", r.devedor_doc_kind AS "devedor_doc_kind!",
                      r.devedor_doc_enc AS "devedor_doc_enc!", r.devedor_nome AS "devedor_nome!",
                      r.data_inicial AS "data_inicial!", r.data_final, r.periodicidade AS "periodicidade!", r.valor_rec,
                      r.valor_minimo_recebedor, r.convenio, r.politica_retentativa AS "politica_retentativa!",
                      r.tipo_jornada AS "tipo_jornada!", r.pagador_ispb, r.pagador_doc_kind, r.pagador_doc_enc,
                      r.pagador_cod_mun, r.encerramento, r.atualizacao AS "atualizacao!", r.jornada_txid,
                      l.id AS "loc_id?", l.location AS "loc_location?", l.created_at AS "loc_criacao?"
                 FROM recurrences r LEFT JOIN rec_locations l ON l.id = r.loc_id
                WHERE ($1::text IS NULL OR r.id_rec = $1) AND ($2::uuid IS NULL OR r.merchant_id = $2)
                  AND ($3::bigint IS NULL OR r.id = $3)"#
                + $suffix,
            $id_rec,
            $merchant,
            $row
        )
    };
}

async fn lock_rec(
    conn: &mut PgConnection,
    owner: Option<MerchantId>,
    id: &IdRec,
) -> Result<Option<RecRow>, StoreError> {
    select_recs!(Some(id.as_str()), owner.map(|m| m.0), None::<i64>, " FOR UPDATE OF r")
        .fetch_optional(&mut *conn)
        .await
        .map_err(store_error)
}

async fn rec_by_row_id(conn: &mut PgConnection, cipher: &dyn Cipher, row_id: i64) -> Result<Recurrence, StoreError> {
    let row =
        select_recs!(None::<&str>, None::<Uuid>, Some(row_id), "").fetch_one(&mut *conn).await.map_err(store_error)?;
    Ok(row.into_rec(cipher).await?.2)
}

fn rec_event(kind: EventKind, rec: &Recurrence) -> DomainEvent {
    DomainEvent::recurrence(kind, rec.id_rec.as_str(), rec.status.as_str())
}

fn charge_event(kind: EventKind, txid: &str, id_rec: &str, status: &str) -> DomainEvent {
    DomainEvent::recurring_charge(kind, txid, id_rec, status)
}

/// A recurring charge's cancellation code for its recurrence's.
fn charge_code_for(rec_code: &str) -> &'static str {
    match rec_code {
        "SLDB" => "SLBD",
        "SLCR" => "SLCR",
        _ => "CCLD",
    }
}

/// Sets a recurrence's status (with its ending or payer) and appends the history.
async fn set_rec_status(
    conn: &mut PgConnection,
    row_id: i64,
    to: RecStatus,
    ending: Option<&Encerramento>,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE recurrences SET status = $2, encerramento = coalesce($3, encerramento), atualizacao = atualizacao || $4
          WHERE id = $1",
        row_id,
        to.as_str(),
        ending.map(to_json),
        entry(to.as_str(), at)
    )
    .execute(&mut *conn)
    .await
    .map_err(store_error)?;
    Ok(())
}

/// Ends a recurrence's open requests with `to`.
async fn end_open_solicitations(
    conn: &mut PgConnection,
    recurrence_id: i64,
    only: Option<&IdSolicRec>,
    to: SolicRecStatus,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE solicrecs SET status = $3, atualizacao = atualizacao || $4
          WHERE recurrence_id = $1 AND ($2::text IS NULL OR id_solic_rec = $2)
            AND status IN ('CRIADA', 'ENVIADA', 'RECEBIDA')",
        recurrence_id,
        only.map(IdSolicRec::as_str),
        to.as_str(),
        entry(to.as_str(), at)
    )
    .execute(&mut *conn)
    .await
    .map_err(store_error)?;
    Ok(())
}

/// Cancels a recurrence's open charges and their open attempts; answers those attempts.
async fn cancel_open_charges(
    conn: &mut PgConnection,
    merchant: MerchantId,
    recurrence_id: i64,
    id_rec: &str,
    ending: &Encerramento,
    keep: &[EndToEndId],
    at: DateTime<Utc>,
) -> Result<Vec<EndToEndId>, StoreError> {
    let keep: Vec<String> = keep.iter().map(|e| e.as_str().to_owned()).collect();
    // Charges before their attempts, in id order: the order every other writer locks in.
    sqlx::query_scalar!(
        "SELECT id FROM recurring_charges WHERE recurrence_id = $1 AND status IN ('CRIADA', 'ATIVA')
          ORDER BY id FOR UPDATE",
        recurrence_id
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(store_error)?;
    let attempts = sqlx::query_scalar!(
        r#"UPDATE recurring_charge_attempts a SET status = 'CANCELADA', atualizacao = a.atualizacao || $2
             FROM recurring_charges c
            WHERE a.recurring_charge_id = c.id AND c.recurrence_id = $1 AND a.status IN ('SOLICITADA', 'AGENDADA')
              AND NOT a.end_to_end_id = ANY ($3)
           RETURNING a.end_to_end_id"#,
        recurrence_id,
        entry("CANCELADA", at),
        &keep
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(store_error)?;
    let txids = sqlx::query_scalar!(
        "UPDATE recurring_charges SET status = 'CANCELADA', encerramento = $2, atualizacao = atualizacao || $3
          WHERE recurrence_id = $1 AND status IN ('CRIADA', 'ATIVA')
            AND NOT EXISTS (SELECT 1 FROM recurring_charge_attempts a
                             WHERE a.recurring_charge_id = recurring_charges.id AND a.end_to_end_id = ANY ($4))
          RETURNING txid",
        recurrence_id,
        to_json(ending),
        entry("CANCELADA", at),
        &keep
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(store_error)?;
    let events: Vec<_> = txids.iter().map(|t| charge_event(EventKind::CobrCancelada, t, id_rec, "CANCELADA")).collect();
    write_events(conn, merchant, &events).await?;
    attempts.iter().map(|e| EndToEndId::parse(e).map_err(unexpected)).collect()
}

/// A confirmation request as selected below.
struct SolicRow {
    merchant_id: Uuid,
    id_solic_rec: String,
    recurrence_id: i64,
    status: String,
    data_expiracao: DateTime<Utc>,
    destinatario_ispb: String,
    destinatario_agencia: Option<String>,
    destinatario_conta: String,
    destinatario_doc_kind: String,
    destinatario_doc_enc: Vec<u8>,
    atualizacao: Value,
}

impl SolicRow {
    async fn into_solicitation(
        self,
        conn: &mut PgConnection,
        cipher: &dyn Cipher,
    ) -> Result<(MerchantId, SolicRec, Recurrence), StoreError> {
        let merchant = MerchantId(self.merchant_id);
        let documento = documents::open(
            cipher,
            Some(&self.destinatario_doc_kind),
            Some(&self.destinatario_doc_enc),
            Some(merchant),
            PAGADOR,
        )
        .await?
        .ok_or_else(|| unexpected(anyhow!("a request without its destinatario")))?;
        let rec = rec_by_row_id(conn, cipher, self.recurrence_id).await?;
        let s = SolicRec {
            id_solic_rec: IdSolicRec::parse(&self.id_solic_rec)
                .ok_or_else(|| unexpected(anyhow!("a stored idSolicRec is malformed")))?,
            id_rec: rec.id_rec.clone(),
            status: SolicRecStatus::parse(&self.status).ok_or_else(|| unexpected(anyhow!("unknown request status")))?,
            data_expiracao: self.data_expiracao,
            destinatario: Destinatario {
                ispb: self.destinatario_ispb,
                agencia: self.destinatario_agencia,
                conta: self.destinatario_conta,
                documento,
            },
            atualizacao: history(self.atualizacao, SolicRecStatus::parse)?,
        };
        Ok((merchant, s, rec))
    }
}

/// A recurring charge as selected below, with its recurrence's id and policy and its
/// attempts as JSON.
struct ChargeRow {
    id: i64,
    merchant_id: Uuid,
    txid: String,
    id_rec: String,
    politica_retentativa: String,
    status: String,
    valor_original: i64,
    data_vencimento: NaiveDate,
    ajuste_dia_util: bool,
    criacao: NaiveDate,
    info_adicional: Option<String>,
    recebedor_conta: String,
    recebedor_agencia: Option<String>,
    recebedor_tipo_conta: String,
    devedor_contato_enc: Option<Vec<u8>>,
    encerramento: Option<Value>,
    atualizacao: Value,
    attempts: Value,
}

#[derive(serde::Deserialize)]
struct AttemptJson {
    end_to_end_id: String,
    data_liquidacao: NaiveDate,
    tipo: String,
    status: String,
    rejeicao: Option<String>,
    atualizacao: Value,
}

impl ChargeRow {
    async fn into_charge(self, cipher: &dyn Cipher) -> Result<(i64, MerchantId, RecurringCharge), StoreError> {
        let merchant = MerchantId(self.merchant_id);
        let devedor = match &self.devedor_contato_enc {
            None => Contato::default(),
            Some(enc) => {
                let plain = cipher
                    .decrypt(enc, CipherContext { merchant: Some(merchant), purpose: DEVEDOR })
                    .await
                    .map_err(cipher_error)?;
                serde_json::from_slice(&plain).map_err(|e| unexpected(anyhow!(e).context("stored contact")))?
            }
        };
        let bad = |what: &str| unexpected(anyhow!("a stored recurring charge has an unknown {what}"));
        let raw: Vec<AttemptJson> =
            serde_json::from_value(self.attempts).map_err(|e| unexpected(anyhow!(e).context("stored attempts")))?;
        let attempts = raw
            .into_iter()
            .map(|a| {
                Ok(Attempt {
                    end_to_end_id: EndToEndId::parse(&a.end_to_end_id).map_err(unexpected)?,
                    data_liquidacao: a.data_liquidacao,
                    tipo: AttemptKind::parse(&a.tipo).ok_or_else(|| bad("attempt kind"))?,
                    status: AttemptStatus::parse(&a.status).ok_or_else(|| bad("attempt status"))?,
                    rejeicao: a.rejeicao,
                    atualizacao: history(a.atualizacao, AttemptStatus::parse)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let charge = RecurringCharge {
            txid: Txid::parse(&self.txid).map_err(unexpected)?,
            terms: CobRTerms {
                id_rec: IdRec::parse(&self.id_rec).ok_or_else(|| bad("idRec"))?,
                info_adicional: self.info_adicional,
                data_vencimento: self.data_vencimento,
                valor: Amount::from_centavos(self.valor_original).map_err(unexpected)?,
                ajuste_dia_util: self.ajuste_dia_util,
                recebedor: ContaRecebedor {
                    conta: self.recebedor_conta,
                    agencia: self.recebedor_agencia,
                    tipo_conta: TipoConta::parse(&self.recebedor_tipo_conta).ok_or_else(|| bad("account type"))?,
                },
                devedor,
            },
            status: CobRStatus::parse(&self.status).ok_or_else(|| bad("status"))?,
            politica: RetryPolicy::parse(&self.politica_retentativa).ok_or_else(|| bad("policy"))?,
            criacao: self.criacao,
            attempts,
            encerramento: encerramento(self.encerramento)?,
            atualizacao: history(self.atualizacao, CobRStatus::parse)?,
        };
        Ok((self.id, merchant, charge))
    }
}

/// Selects recurring charges: `$1` merchant (or NULL), `$2` txid (or NULL), `$3` an
/// attempt's end-to-end id (or NULL), `$4` row id (or NULL).
macro_rules! select_charges {
    ($conn:expr, $merchant:expr, $txid:expr, $e2eid:expr, $row:expr, $suffix:literal) => {
        sqlx::query_as!(
            ChargeRow,
            r#"SELECT c.id, c.merchant_id, c.txid, r.id_rec, r.politica_retentativa, c.status, c.valor_original,
                      c.data_vencimento, c.ajuste_dia_util, c.criacao, c.info_adicional, c.recebedor_conta,
                      c.recebedor_agencia, c.recebedor_tipo_conta, c.devedor_contato_enc, c.encerramento, c.atualizacao,
                      (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                  'end_to_end_id', a.end_to_end_id, 'data_liquidacao', a.data_liquidacao,
                                  'tipo', a.tipo, 'status', a.status, 'rejeicao', a.rejeicao,
                                  'atualizacao', a.atualizacao) ORDER BY a.id), '[]'::jsonb)
                         FROM recurring_charge_attempts a WHERE a.recurring_charge_id = c.id) AS "attempts!"
                 FROM recurring_charges c JOIN recurrences r ON r.id = c.recurrence_id
                WHERE ($1::uuid IS NULL OR c.merchant_id = $1) AND ($2::text IS NULL OR c.txid = $2)
                  AND ($3::text IS NULL OR c.id = (SELECT recurring_charge_id FROM recurring_charge_attempts
                                                    WHERE end_to_end_id = $3))
                  AND ($4::bigint IS NULL OR c.id = $4)"#
                + $suffix,
            $merchant,
            $txid,
            $e2eid,
            $row
        )
        .fetch_optional($conn)
    };
}

async fn charge_where(
    conn: &mut PgConnection,
    cipher: &dyn Cipher,
    merchant: Option<MerchantId>,
    txid: Option<&str>,
    e2eid: Option<&str>,
    lock: bool,
) -> Result<Option<(i64, MerchantId, RecurringCharge)>, StoreError> {
    let row = if lock {
        select_charges!(&mut *conn, merchant.map(|m| m.0), txid, e2eid, None::<i64>, " FOR UPDATE OF c").await
    } else {
        select_charges!(&mut *conn, merchant.map(|m| m.0), txid, e2eid, None::<i64>, "").await
    }
    .map_err(store_error)?;
    match row {
        Some(row) => Ok(Some(row.into_charge(cipher).await?)),
        None => Ok(None),
    }
}

async fn charge_by_row_id(
    conn: &mut PgConnection,
    cipher: &dyn Cipher,
    row_id: i64,
) -> Result<RecurringCharge, StoreError> {
    let row = select_charges!(&mut *conn, None::<Uuid>, None::<&str>, None::<&str>, Some(row_id), "")
        .await
        .map_err(store_error)?
        .ok_or_else(|| unexpected(anyhow!("a recurring charge vanished")))?;
    Ok(row.into_charge(cipher).await?.2)
}

/// Sets a recurring charge's status and appends the history, with its event.
async fn set_charge_status(
    conn: &mut PgConnection,
    merchant: MerchantId,
    row_id: i64,
    charge: &RecurringCharge,
    to: CobRStatus,
    ending: Option<&Encerramento>,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE recurring_charges SET status = $2, encerramento = coalesce($3, encerramento),
                atualizacao = atualizacao || $4
          WHERE id = $1",
        row_id,
        to.as_str(),
        ending.map(to_json),
        entry(to.as_str(), at)
    )
    .execute(&mut *conn)
    .await
    .map_err(store_error)?;
    let kind = match to {
        CobRStatus::Ativa => EventKind::CobrAtiva,
        CobRStatus::Concluida => EventKind::CobrConcluida,
        CobRStatus::Expirada => EventKind::CobrExpirada,
        CobRStatus::Rejeitada => EventKind::CobrRejeitada,
        CobRStatus::Cancelada => EventKind::CobrCancelada,
        CobRStatus::Criada => return Ok(()),
    };
    let event = charge_event(kind, charge.txid.as_str(), charge.terms.id_rec.as_str(), to.as_str());
    write_events(conn, merchant, &[event]).await
}

async fn set_attempt_status(
    conn: &mut PgConnection,
    e2eid: &EndToEndId,
    to: AttemptStatus,
    rejeicao: Option<&str>,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE recurring_charge_attempts SET status = $2, rejeicao = coalesce($3, rejeicao),
                atualizacao = atualizacao || $4
          WHERE end_to_end_id = $1",
        e2eid.as_str(),
        to.as_str(),
        rejeicao,
        entry(to.as_str(), at)
    )
    .execute(&mut *conn)
    .await
    .map_err(store_error)?;
    Ok(())
}

async fn insert_attempt(conn: &mut PgConnection, charge_row: i64, a: &Attempt) -> Result<(), StoreError> {
    let history = serde_json::to_value(
        a.atualizacao.iter().map(|u| json!({"status": u.status.as_str(), "data": u.data})).collect::<Vec<_>>(),
    )
    .map_err(unexpected)?;
    sqlx::query!(
        "INSERT INTO recurring_charge_attempts (recurring_charge_id, end_to_end_id, data_liquidacao, tipo, status,
                                                atualizacao)
         VALUES ($1, $2, $3, $4, $5, $6)",
        charge_row,
        a.end_to_end_id.as_str(),
        a.data_liquidacao,
        a.tipo.as_str(),
        a.status.as_str(),
        history
    )
    .execute(&mut *conn)
    .await
    .map_err(store_error)?;
    Ok(())
}

#[async_trait]
impl RecurrenceStore for PgRecurrenceStore {
    async fn insert_rec(&self, merchant: MerchantId, rec: &Recurrence, loc: Option<i64>) -> Result<bool, StoreError> {
        let t = &rec.terms;
        let sealed = documents::seal(self.cipher.as_ref(), Some(&t.devedor.documento), Some(merchant), DEVEDOR)
            .await?
            .ok_or_else(|| unexpected(anyhow!("a devedor document sealed to nothing")))?;
        let (valor_rec, minimo) = match t.valor {
            RecValue::Fixed(v) => (Some(v.centavos()), None),
            RecValue::Minimum(m) => (None, Some(m.centavos())),
            RecValue::Free => (None, None),
        };
        let created = rec.criacao().ok_or_else(|| unexpected(anyhow!("a new recurrence without its creation")))?;
        // The location must be the merchant's; the unique loc_id keeps it to one recurrence.
        let result = sqlx::query!(
            "INSERT INTO recurrences (merchant_id, id_rec, status, objeto, contrato, devedor_doc_kind, devedor_doc_enc,
                                      devedor_doc_index, devedor_nome, data_inicial, data_final, periodicidade,
                                      valor_rec, valor_minimo_recebedor, convenio, politica_retentativa, tipo_jornada,
                                      atualizacao, created_at, loc_id, jornada_txid)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21
              WHERE $20::bigint IS NULL
                 OR EXISTS (SELECT 1 FROM rec_locations WHERE id = $20 AND merchant_id = $1)",
            merchant.0,
            rec.id_rec.as_str(),
            rec.status.as_str(),
            t.objeto,
            t.contrato,
            sealed.kind,
            sealed.enc,
            sealed.index,
            t.devedor.nome,
            t.data_inicial,
            t.data_final,
            t.periodicidade.as_str(),
            valor_rec,
            minimo,
            t.convenio,
            t.politica.as_str(),
            rec.jornada.as_str(),
            entry(rec.status.as_str(), created),
            created,
            loc,
            rec.jornada_txid.as_ref().map(Txid::as_str)
        )
        .execute(&self.pool)
        .await;
        match result {
            Ok(done) => Ok(done.rows_affected() == 1),
            Err(e) if super::is_unique_violation(&e, "recurrences_loc_id_key") => Ok(false),
            Err(e) => Err(store_error(e)),
        }
    }

    async fn create_location(
        &self,
        merchant: MerchantId,
        token: &crate::domain::ids::LocationToken,
        location: &str,
        at: DateTime<Utc>,
    ) -> Result<RecLoc, StoreError> {
        let id = sqlx::query_scalar!(
            "INSERT INTO rec_locations (merchant_id, token, location, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
            merchant.0,
            token.as_str(),
            location,
            at
        )
        .fetch_one(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(RecLoc { id, location: location.to_owned(), criacao: at, id_rec: None })
    }

    async fn find_location(&self, merchant: MerchantId, id: i64) -> Result<Option<RecLoc>, StoreError> {
        let row = sqlx::query!(
            r#"SELECT l.id, l.location, l.created_at, r.id_rec AS "id_rec?"
                 FROM rec_locations l LEFT JOIN recurrences r ON r.loc_id = l.id
                WHERE l.id = $1 AND l.merchant_id = $2"#,
            id,
            merchant.0
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(row.map(|r| RecLoc {
            id: r.id,
            location: r.location,
            criacao: r.created_at,
            id_rec: r.id_rec.as_deref().and_then(IdRec::parse),
        }))
    }

    async fn list_locations(&self, merchant: MerchantId, q: &LocRecQuery) -> Result<Page<RecLoc>, StoreError> {
        let mut conn = snapshot(&self.pool).await?;
        let limit = i64::from(q.itens_por_pagina);
        let offset = i64::from(q.pagina) * limit;
        let rows = sqlx::query!(
            r#"SELECT l.id, l.location, l.created_at, r.id_rec AS "id_rec?"
                 FROM rec_locations l LEFT JOIN recurrences r ON r.loc_id = l.id
                WHERE l.merchant_id = $1 AND l.created_at >= $2 AND l.created_at <= $3
                  AND ($4::boolean IS NULL OR (r.id IS NOT NULL) = $4) AND ($7::text IS NULL OR r.convenio = $7)
                ORDER BY l.created_at, l.id LIMIT $5 OFFSET $6"#,
            merchant.0,
            q.inicio,
            q.fim,
            q.id_rec_presente,
            limit,
            offset,
            q.convenio
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(store_error)?;
        let total = match super::total_from_page(rows.len(), limit, offset) {
            Some(total) => total,
            None => sqlx::query_scalar!(
                r#"SELECT count(*) AS "n!" FROM rec_locations l LEFT JOIN recurrences r ON r.loc_id = l.id
                    WHERE l.merchant_id = $1 AND l.created_at >= $2 AND l.created_at <= $3
                      AND ($4::boolean IS NULL OR (r.id IS NOT NULL) = $4) AND ($5::text IS NULL OR r.convenio = $5)"#,
                merchant.0,
                q.inicio,
                q.fim,
                q.id_rec_presente,
                q.convenio,
            )
            .fetch_one(&mut *conn)
            .await
            .map_err(store_error)?,
        };
        let items = rows
            .into_iter()
            .map(|r| RecLoc {
                id: r.id,
                location: r.location,
                criacao: r.created_at,
                id_rec: r.id_rec.as_deref().and_then(IdRec::parse),
            })
            .collect();
        Ok(Page { items, total: u64::try_from(total).unwrap_or(0) })
    }

    async fn unlink_location(&self, merchant: MerchantId, id: i64) -> Result<Option<RecLoc>, StoreError> {
        sqlx::query!(
            "UPDATE recurrences SET loc_id = NULL
              WHERE loc_id = (SELECT id FROM rec_locations WHERE id = $1 AND merchant_id = $2)",
            id,
            merchant.0
        )
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        self.find_location(merchant, id).await
    }

    async fn rec_at_location(
        &self,
        token: &crate::domain::ids::LocationToken,
    ) -> Result<Option<Option<(MerchantId, Recurrence)>>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        let found = sqlx::query_scalar!(
            r#"SELECT r.id AS "rec?" FROM rec_locations l LEFT JOIN recurrences r ON r.loc_id = l.id
                WHERE l.token = $1"#,
            token.as_str()
        )
        .fetch_optional(&mut *conn)
        .await
        .map_err(store_error)?;
        let Some(found) = found else { return Ok(None) };
        let Some(row_id) = found else { return Ok(Some(None)) };
        let row = sqlx::query_scalar!("SELECT merchant_id FROM recurrences WHERE id = $1", row_id)
            .fetch_one(&mut *conn)
            .await
            .map_err(store_error)?;
        let rec = rec_by_row_id(&mut conn, self.cipher.as_ref(), row_id).await?;
        Ok(Some(Some((MerchantId(row), rec))))
    }

    async fn find_rec(&self, merchant: MerchantId, id: &IdRec) -> Result<Option<Recurrence>, StoreError> {
        let row = select_recs!(Some(id.as_str()), Some(merchant.0), None::<i64>, "")
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        match row {
            Some(row) => Ok(Some(row.into_rec(self.cipher.as_ref()).await?.2)),
            None => Ok(None),
        }
    }

    async fn list_recs(&self, merchant: MerchantId, q: &RecQuery) -> Result<Page<Recurrence>, StoreError> {
        let mut conn = snapshot(&self.pool).await?;
        let index = documents::index_of(self.cipher.as_ref(), q.devedor.as_ref())?;
        let limit = i64::from(q.itens_por_pagina);
        let offset = i64::from(q.pagina) * limit;
        let rows = sqlx::query_as!(
            RecRow,
            r#"SELECT r.id, r.merchant_id, r.id_rec, r.status, r.objeto, r.contrato, r.devedor_doc_kind, r.devedor_doc_enc,
                  r.devedor_nome, r.data_inicial, r.data_final, r.periodicidade, r.valor_rec, r.valor_minimo_recebedor,
                  r.convenio, r.politica_retentativa, r.tipo_jornada, r.pagador_ispb, r.pagador_doc_kind,
                  r.pagador_doc_enc, r.pagador_cod_mun, r.encerramento, r.atualizacao, r.jornada_txid,
                  l.id AS "loc_id?", l.location AS "loc_location?", l.created_at AS "loc_criacao?"
             FROM recurrences r LEFT JOIN rec_locations l ON l.id = r.loc_id
                WHERE r.merchant_id = $1 AND r.created_at >= $2 AND r.created_at <= $3
                  AND ($4::bytea IS NULL OR r.devedor_doc_index = $4) AND ($5::text IS NULL OR r.status = $5)
                  AND ($6::text IS NULL OR r.convenio = $6) AND ($9::boolean IS NULL OR (r.loc_id IS NOT NULL) = $9)
                ORDER BY r.created_at, r.id LIMIT $7 OFFSET $8"#,
            merchant.0,
            q.inicio,
            q.fim,
            index,
            q.status.map(RecStatus::as_str),
            q.convenio,
            limit,
            offset,
            q.location_presente
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(store_error)?;
        let total = match super::total_from_page(rows.len(), limit, offset) {
            Some(total) => total,
            None => sqlx::query_scalar!(
                r#"SELECT count(*) AS "n!" FROM recurrences
                    WHERE merchant_id = $1 AND created_at >= $2 AND created_at <= $3
                      AND ($4::bytea IS NULL OR devedor_doc_index = $4) AND ($5::text IS NULL OR status = $5)
                      AND ($6::text IS NULL OR convenio = $6) AND ($7::boolean IS NULL OR (loc_id IS NOT NULL) = $7)"#,
                merchant.0,
                q.inicio,
                q.fim,
                index,
                q.status.map(RecStatus::as_str),
                q.convenio,
                q.location_presente,
            )
            .fetch_one(&mut *conn)
            .await
            .map_err(store_error)?,
        };
        let mut items = Vec::with_capacity(rows.len());
        for row in rows {
            items.push(row.into_rec(self.cipher.as_ref()).await?.2);
        }
        Ok(Page { items, total: u64::try_from(total).unwrap_or(0) })
    }

    async fn decide_rec(
        &self,
        owner: Option<MerchantId>,
        id: &IdRec,
        solicitation: Option<&IdSolicRec>,
        decision: RecDecision,
        at: DateTime<Utc>,
    ) -> Result<RecDecided, StoreError> {
        let cipher = self.cipher.as_ref();
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        let Some(row) = lock_rec(&mut tx, owner, id).await? else { return Ok(RecDecided::NotFound) };
        let (row_id, merchant, rec) = row.into_rec(cipher).await?;
        // An answer to a request counts only while that request is open (one the receiver
        // withdrew, or that expired, is not an authorisation).
        let request_open = match solicitation {
            Some(sid) => sqlx::query_scalar!(
                r#"SELECT status IN ('CRIADA', 'ENVIADA', 'RECEBIDA') AS "open!" FROM solicrecs
                    WHERE id_solic_rec = $1 AND recurrence_id = $2 FOR UPDATE"#,
                sid.as_str(),
                row_id
            )
            .fetch_optional(&mut *tx)
            .await
            .map_err(store_error)?
            .unwrap_or(false),
            None => true,
        };
        let applicable = match &decision {
            RecDecision::Approved { .. } | RecDecision::Rejected { .. } => {
                rec.status == RecStatus::Criada && request_open
            }
            RecDecision::Cancelled(..) => !rec.status.is_final(),
        };
        if !applicable {
            return Ok(RecDecided::NotApplicable { owner: merchant, rec });
        }
        let mut open_attempts = vec![];
        let kind = match &decision {
            RecDecision::Approved { jornada, payer } => {
                let sealed = documents::seal(cipher, Some(&payer.documento), Some(merchant), PAGADOR)
                    .await?
                    .ok_or_else(|| unexpected(anyhow!("a payer document sealed to nothing")))?;
                sqlx::query!(
                    "UPDATE recurrences SET status = 'APROVADA', tipo_jornada = $2, pagador_ispb = $3,
                            pagador_doc_kind = $4, pagador_doc_enc = $5, pagador_cod_mun = $6,
                            atualizacao = atualizacao || $7
                      WHERE id = $1",
                    row_id,
                    jornada.as_str(),
                    payer.ispb,
                    sealed.kind,
                    sealed.enc,
                    payer.cod_mun,
                    entry("APROVADA", at)
                )
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
                end_open_solicitations(&mut tx, row_id, solicitation, SolicRecStatus::Aceita, at).await?;
                EventKind::RecAprovada
            }
            RecDecision::Rejected { codigo } => {
                set_rec_status(&mut tx, row_id, RecStatus::Rejeitada, Some(&Encerramento::rejeicao(codigo)), at)
                    .await?;
                end_open_solicitations(&mut tx, row_id, solicitation, SolicRecStatus::Rejeitada, at).await?;
                EventKind::RecRejeitada
            }
            RecDecision::Cancelled(ending, keep) => {
                set_rec_status(&mut tx, row_id, RecStatus::Cancelada, Some(ending), at).await?;
                end_open_solicitations(&mut tx, row_id, None, SolicRecStatus::Cancelada, at).await?;
                let (solicitante, codigo) = match ending {
                    Encerramento::Cancelamento { solicitante, codigo, .. } => (solicitante.as_str(), codigo.as_str()),
                    Encerramento::Rejeicao { codigo, .. } => ("PSP_RECEBEDOR", codigo.as_str()),
                };
                let solicitante = Solicitante::parse(solicitante).unwrap_or(Solicitante::PspRecebedor);
                let charge_ending = Encerramento::cancelamento(solicitante, charge_code_for(codigo));
                open_attempts =
                    cancel_open_charges(&mut tx, merchant, row_id, rec.id_rec.as_str(), &charge_ending, keep, at)
                        .await?;
                EventKind::RecCancelada
            }
        };
        let after = rec_by_row_id(&mut tx, cipher, row_id).await?;
        write_events(&mut tx, merchant, &[rec_event(kind, &after)]).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(RecDecided::Applied { owner: merchant, rec: after, open_attempts })
    }

    async fn revise_rec(
        &self,
        merchant: MerchantId,
        id: &IdRec,
        revision: &crate::domain::rec::RecRevision,
    ) -> Result<RecRevised, StoreError> {
        // Only a recurrence that has not ended; a new location or first day only while CRIADA.
        let result = sqlx::query!(
            "UPDATE recurrences SET devedor_nome = coalesce($3, devedor_nome),
                    data_inicial = coalesce($4, data_inicial), jornada_txid = coalesce($5, jornada_txid),
                    loc_id = coalesce($6, loc_id)
              WHERE id_rec = $1 AND merchant_id = $2 AND status IN ('CRIADA', 'APROVADA')
                AND (($4::date IS NULL AND $6::bigint IS NULL) OR status = 'CRIADA')
                AND ($6::bigint IS NULL OR EXISTS (SELECT 1 FROM rec_locations WHERE id = $6 AND merchant_id = $2))",
            id.as_str(),
            merchant.0,
            revision.devedor_nome,
            revision.data_inicial,
            revision.txid.as_ref().map(Txid::as_str),
            revision.loc
        )
        .execute(&self.pool)
        .await;
        match result {
            Ok(done) if done.rows_affected() == 1 => Ok(RecRevised::Revised),
            Ok(_) => {
                let exists = sqlx::query_scalar!(
                    "SELECT status FROM recurrences WHERE id_rec = $1 AND merchant_id = $2",
                    id.as_str(),
                    merchant.0
                )
                .fetch_optional(&self.pool)
                .await
                .map_err(store_error)?;
                Ok(match exists {
                    None => RecRevised::NotFound,
                    Some(status) if revision.loc.is_some() && status == "CRIADA" => RecRevised::LocationUnavailable,
                    Some(_) => RecRevised::Ended,
                })
            }
            Err(e) if super::is_unique_violation(&e, "recurrences_loc_id_key") => Ok(RecRevised::LocationUnavailable),
            Err(e) => Err(store_error(e)),
        }
    }

    async fn open_attempts_of(&self, merchant: Option<MerchantId>, id: &IdRec) -> Result<Vec<EndToEndId>, StoreError> {
        let ids = sqlx::query_scalar!(
            "SELECT a.end_to_end_id FROM recurring_charge_attempts a
               JOIN recurring_charges c ON c.id = a.recurring_charge_id JOIN recurrences r ON r.id = c.recurrence_id
              WHERE r.id_rec = $1 AND ($2::uuid IS NULL OR r.merchant_id = $2) AND a.status IN ('SOLICITADA', 'AGENDADA')
              ORDER BY a.id",
            id.as_str(),
            merchant.map(|m| m.0)
        )
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        ids.iter().map(|e| EndToEndId::parse(e).map_err(unexpected)).collect()
    }

    async fn open_solicitation(&self, merchant: MerchantId, id: &IdRec) -> Result<Option<IdSolicRec>, StoreError> {
        let found = sqlx::query_scalar!(
            "SELECT s.id_solic_rec FROM solicrecs s JOIN recurrences r ON r.id = s.recurrence_id
              WHERE r.id_rec = $1 AND r.merchant_id = $2 AND s.status IN ('CRIADA', 'ENVIADA', 'RECEBIDA')",
            id.as_str(),
            merchant.0
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(found.as_deref().and_then(IdSolicRec::parse))
    }

    async fn insert_solicitation(&self, merchant: MerchantId, s: &SolicRec) -> Result<bool, StoreError> {
        let sealed = documents::seal(self.cipher.as_ref(), Some(&s.destinatario.documento), Some(merchant), PAGADOR)
            .await?
            .ok_or_else(|| unexpected(anyhow!("a destinatario document sealed to nothing")))?;
        let created = s.atualizacao.first().map(|u| u.data).ok_or_else(|| unexpected(anyhow!("no creation")))?;
        let d = &s.destinatario;
        let result = sqlx::query!(
            "INSERT INTO solicrecs (merchant_id, id_solic_rec, recurrence_id, status, data_expiracao, destinatario_ispb,
                                    destinatario_agencia, destinatario_conta, destinatario_doc_kind,
                                    destinatario_doc_enc, atualizacao, created_at)
             SELECT $1, $2, r.id, $4, $5, $6, $7, $8, $9, $10, $11, $12
               FROM recurrences r WHERE r.id_rec = $3 AND r.merchant_id = $1",
            merchant.0,
            s.id_solic_rec.as_str(),
            s.id_rec.as_str(),
            s.status.as_str(),
            s.data_expiracao,
            d.ispb,
            d.agencia,
            d.conta,
            sealed.kind,
            sealed.enc,
            entry(s.status.as_str(), created),
            created
        )
        .execute(&self.pool)
        .await;
        match result {
            Ok(done) if done.rows_affected() == 1 => Ok(true),
            Ok(_) => Err(unexpected(anyhow!("a request for a recurrence that is not there"))),
            Err(e) if super::is_unique_violation(&e, "solicrecs_one_active") => Ok(false),
            Err(e) => Err(store_error(e)),
        }
    }

    async fn find_solicitation(
        &self,
        owner: Option<MerchantId>,
        id: &IdSolicRec,
    ) -> Result<Option<(MerchantId, SolicRec, Recurrence)>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        let row = sqlx::query_as!(
            SolicRow,
            "SELECT merchant_id, id_solic_rec, recurrence_id, status, data_expiracao, destinatario_ispb,
                    destinatario_agencia, destinatario_conta, destinatario_doc_kind, destinatario_doc_enc, atualizacao
               FROM solicrecs WHERE id_solic_rec = $1 AND ($2::uuid IS NULL OR merchant_id = $2)",
            id.as_str(),
            owner.map(|m| m.0)
        )
        .fetch_optional(&mut *conn)
        .await
        .map_err(store_error)?;
        match row {
            Some(row) => Ok(Some(row.into_solicitation(&mut conn, self.cipher.as_ref()).await?)),
            None => Ok(None),
        }
    }

    async fn move_solicitation(
        &self,
        owner: Option<MerchantId>,
        id: &IdSolicRec,
        to: SolicRecStatus,
        at: DateTime<Utc>,
    ) -> Result<Option<SolicRec>, StoreError> {
        // Forward only: a request already past `to` (a late ENVIADA after RECEBIDA) stays.
        let order = |s: &str| match s {
            "CRIADA" => 0,
            "ENVIADA" => 1,
            "RECEBIDA" => 2,
            _ => 3,
        };
        let from: Vec<String> = ["CRIADA", "ENVIADA", "RECEBIDA"]
            .into_iter()
            .filter(|s| order(s) < order(to.as_str()))
            .map(str::to_owned)
            .collect();
        sqlx::query!(
            "UPDATE solicrecs SET status = $3, atualizacao = atualizacao || $4
              WHERE id_solic_rec = $1 AND ($2::uuid IS NULL OR merchant_id = $2) AND status = ANY($5)",
            id.as_str(),
            owner.map(|m| m.0),
            to.as_str(),
            entry(to.as_str(), at),
            &from
        )
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(self.find_solicitation(owner, id).await?.map(|(_, s, _)| s))
    }

    async fn unsent_solicitations(&self, limit: i64) -> Result<Vec<(MerchantId, SolicRec, Recurrence)>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        let rows = sqlx::query_as!(
            SolicRow,
            "SELECT merchant_id, id_solic_rec, recurrence_id, status, data_expiracao, destinatario_ispb,
                    destinatario_agencia, destinatario_conta, destinatario_doc_kind, destinatario_doc_enc, atualizacao
               FROM solicrecs WHERE status = 'CRIADA' ORDER BY created_at LIMIT $1",
            limit
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(store_error)?;
        let mut out = vec![];
        for row in rows {
            out.push(row.into_solicitation(&mut conn, self.cipher.as_ref()).await?);
        }
        Ok(out)
    }

    async fn insert_charge(
        &self,
        merchant: MerchantId,
        charge: &RecurringCharge,
        ciclo: u32,
        request_hash: &[u8; 32],
    ) -> Result<CobRInsert, StoreError> {
        let cipher = self.cipher.as_ref();
        let t = &charge.terms;
        let contato = if t.devedor.is_empty() {
            None
        } else {
            let plain = serde_json::to_vec(&t.devedor).map_err(unexpected)?;
            let context = CipherContext { merchant: Some(merchant), purpose: DEVEDOR };
            Some(cipher.encrypt(&plain, context).await.map_err(cipher_error)?)
        };
        let created = charge.atualizacao.first().map(|u| u.data).ok_or_else(|| unexpected(anyhow!("no creation")))?;
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        let inserted = sqlx::query_scalar!(
            "INSERT INTO recurring_charges (merchant_id, txid, recurrence_id, status, valor_original, data_vencimento,
                                            ajuste_dia_util, ciclo, criacao, info_adicional, recebedor_conta,
                                            recebedor_agencia, recebedor_tipo_conta, devedor_contato_enc, atualizacao,
                                            request_hash, created_at)
             SELECT $1, $2, r.id, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17
               FROM recurrences r WHERE r.id_rec = $3 AND r.merchant_id = $1 AND r.status = 'APROVADA'
                FOR SHARE
             RETURNING id",
            merchant.0,
            charge.txid.as_str(),
            t.id_rec.as_str(),
            charge.status.as_str(),
            t.valor.centavos(),
            t.data_vencimento,
            t.ajuste_dia_util,
            i32::try_from(ciclo).map_err(unexpected)?,
            charge.criacao,
            t.info_adicional,
            t.recebedor.conta,
            t.recebedor.agencia,
            t.recebedor.tipo_conta.as_str(),
            contato,
            entry(charge.status.as_str(), created),
            &request_hash[..],
            created
        )
        .fetch_optional(&mut *tx)
        .await;
        let row_id = match inserted {
            Ok(Some(id)) => id,
            Ok(None) => return Ok(CobRInsert::NotApproved),
            Err(e) if super::is_unique_violation(&e, "recurring_charges_one_per_cycle") => {
                return Ok(CobRInsert::CycleTaken)
            }
            Err(e) if e.as_database_error().and_then(|d| d.code()).as_deref() == Some("23505") => {
                drop(tx);
                let same = sqlx::query_scalar!(
                    "SELECT request_hash FROM recurring_charges WHERE merchant_id = $1 AND txid = $2",
                    merchant.0,
                    charge.txid.as_str()
                )
                .fetch_optional(&self.pool)
                .await
                .map_err(store_error)?;
                return match same {
                    Some(hash) if hash == request_hash[..] => {
                        let mut conn = self.pool.acquire().await.map_err(store_error)?;
                        let found =
                            charge_where(&mut conn, cipher, Some(merchant), Some(charge.txid.as_str()), None, false)
                                .await?
                                .ok_or_else(|| unexpected(anyhow!("a charge vanished")))?;
                        Ok(CobRInsert::Exists(found.2))
                    }
                    _ => Ok(CobRInsert::TxidTaken),
                };
            }
            Err(e) => return Err(store_error(e)),
        };
        for a in &charge.attempts {
            insert_attempt(&mut tx, row_id, a).await?;
        }
        let after = charge_by_row_id(&mut tx, cipher, row_id).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(CobRInsert::Created(after))
    }

    async fn find_charge(&self, merchant: MerchantId, txid: &Txid) -> Result<Option<RecurringCharge>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        Ok(charge_where(&mut conn, self.cipher.as_ref(), Some(merchant), Some(txid.as_str()), None, false)
            .await?
            .map(|c| c.2))
    }

    async fn list_charges(&self, merchant: MerchantId, q: &CobRQuery) -> Result<Page<RecurringCharge>, StoreError> {
        let mut conn = snapshot(&self.pool).await?;
        let index = documents::index_of(self.cipher.as_ref(), q.devedor.as_ref())?;
        let limit = i64::from(q.itens_por_pagina);
        let offset = i64::from(q.pagina) * limit;
        let id_rec = q.id_rec.as_ref().map(IdRec::as_str);
        let status = q.status.map(CobRStatus::as_str);
        let ids = sqlx::query_scalar!(
            "SELECT c.id FROM recurring_charges c JOIN recurrences r ON r.id = c.recurrence_id
              WHERE c.merchant_id = $1 AND c.created_at >= $2 AND c.created_at <= $3
                AND ($4::text IS NULL OR r.id_rec = $4) AND ($5::bytea IS NULL OR r.devedor_doc_index = $5)
                AND ($6::text IS NULL OR c.status = $6) AND ($9::text IS NULL OR r.convenio = $9)
              ORDER BY c.created_at, c.id LIMIT $7 OFFSET $8",
            merchant.0,
            q.inicio,
            q.fim,
            id_rec,
            index,
            status,
            limit,
            offset,
            q.convenio
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(store_error)?;
        let total = match super::total_from_page(ids.len(), limit, offset) {
            Some(total) => total,
            None => sqlx::query_scalar!(
                r#"SELECT count(*) AS "n!" FROM recurring_charges c JOIN recurrences r ON r.id = c.recurrence_id
                    WHERE c.merchant_id = $1 AND c.created_at >= $2 AND c.created_at <= $3
                      AND ($4::text IS NULL OR r.id_rec = $4) AND ($5::bytea IS NULL OR r.devedor_doc_index = $5)
                      AND ($6::text IS NULL OR c.status = $6) AND ($7::text IS NULL OR r.convenio = $7)"#,
                merchant.0,
                q.inicio,
                q.fim,
                id_rec,
                index,
                status,
                q.convenio,
            )
            .fetch_one(&mut *conn)
            .await
            .map_err(store_error)?,
        };
        let mut items = Vec::with_capacity(ids.len());
        for id in ids {
            items.push(charge_by_row_id(&mut conn, self.cipher.as_ref(), id).await?);
        }
        Ok(Page { items, total: u64::try_from(total).unwrap_or(0) })
    }

    async fn add_attempt(&self, merchant: MerchantId, txid: &Txid, attempt: &Attempt) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        let found =
            charge_where(&mut tx, self.cipher.as_ref(), Some(merchant), Some(txid.as_str()), None, true).await?;
        let Some((row_id, _, charge)) = found else { return Ok(false) };
        if charge.status != CobRStatus::Ativa || charge.attempts.iter().any(|a| a.status.is_open()) {
            return Ok(false);
        }
        insert_attempt(&mut tx, row_id, attempt).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(true)
    }

    async fn cancel_charge(
        &self,
        merchant: MerchantId,
        txid: &Txid,
        ending: Encerramento,
        at: DateTime<Utc>,
    ) -> Result<Option<(RecurringCharge, Option<EndToEndId>)>, StoreError> {
        let cipher = self.cipher.as_ref();
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        let found = charge_where(&mut tx, cipher, Some(merchant), Some(txid.as_str()), None, true).await?;
        let Some((row_id, _, charge)) = found else { return Ok(None) };
        if !charge.status.is_open() {
            return Ok(Some((charge, None)));
        }
        let open = charge.attempts.iter().find(|a| a.status.is_open()).map(|a| a.end_to_end_id.clone());
        if let Some(e2eid) = &open {
            set_attempt_status(&mut tx, e2eid, AttemptStatus::Cancelada, None, at).await?;
        }
        set_charge_status(&mut tx, merchant, row_id, &charge, CobRStatus::Cancelada, Some(&ending), at).await?;
        let after = charge_by_row_id(&mut tx, cipher, row_id).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(Some((after, open)))
    }

    async fn attempt_outcome(
        &self,
        e2eid: &EndToEndId,
        outcome: AttemptOutcome,
        at: DateTime<Utc>,
    ) -> Result<AttemptApplied, StoreError> {
        let cipher = self.cipher.as_ref();
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        let found = charge_where(&mut tx, cipher, None, None, Some(e2eid.as_str()), true).await?;
        let Some((row_id, merchant, charge)) = found else { return Ok(AttemptApplied::NotFound) };
        let Some(attempt) = charge.attempts.iter().find(|a| &a.end_to_end_id == e2eid) else {
            return Ok(AttemptApplied::NotFound);
        };
        match outcome {
            AttemptOutcome::Scheduled => {
                // Cancelled here, or given up here as never received (a resend was on its way
                // when the payer's bank said it had none): it must not be debited there.
                if matches!(attempt.status, AttemptStatus::Cancelada | AttemptStatus::Expirada) {
                    return Ok(AttemptApplied::Withdraw);
                }
                if attempt.status != AttemptStatus::Solicitada {
                    return Ok(AttemptApplied::Unchanged);
                }
                set_attempt_status(&mut tx, e2eid, AttemptStatus::Agendada, None, at).await?;
                if charge.status == CobRStatus::Criada {
                    set_charge_status(&mut tx, merchant, row_id, &charge, CobRStatus::Ativa, None, at).await?;
                }
            }
            AttemptOutcome::Rejected { codigo } => {
                if !attempt.status.is_open() {
                    return Ok(AttemptApplied::Unchanged);
                }
                set_attempt_status(&mut tx, e2eid, AttemptStatus::Rejeitada, Some(&codigo), at).await?;
                let event = DomainEvent::attempt_rejected(
                    charge.txid.as_str(),
                    charge.terms.id_rec.as_str(),
                    e2eid.as_str(),
                    &codigo,
                );
                write_events(&mut tx, merchant, &[event]).await?;
                if charge.status.is_open() && charge.failure_ends_it(&codigo) {
                    let ending = Encerramento::rejeicao(&codigo);
                    set_charge_status(&mut tx, merchant, row_id, &charge, CobRStatus::Rejeitada, Some(&ending), at)
                        .await?;
                } else if charge.status == CobRStatus::Criada {
                    // Its scheduling notice was lost, and it failed: live, with a retry to come.
                    set_charge_status(&mut tx, merchant, row_id, &charge, CobRStatus::Ativa, None, at).await?;
                }
            }
            AttemptOutcome::NeverReceived => {
                if attempt.status != AttemptStatus::Solicitada {
                    return Ok(AttemptApplied::Unchanged);
                }
                set_attempt_status(&mut tx, e2eid, AttemptStatus::Expirada, None, at).await?;
            }
            AttemptOutcome::DebitedApart => {
                if !attempt.status.is_open() {
                    return Ok(AttemptApplied::Unchanged);
                }
                set_attempt_status(&mut tx, e2eid, AttemptStatus::Paga, None, at).await?;
            }
            AttemptOutcome::Cancelled(ending) => {
                if !attempt.status.is_open() {
                    return Ok(AttemptApplied::Unchanged);
                }
                set_attempt_status(&mut tx, e2eid, AttemptStatus::Cancelada, None, at).await?;
                if charge.status.is_open() {
                    set_charge_status(&mut tx, merchant, row_id, &charge, CobRStatus::Cancelada, Some(&ending), at)
                        .await?;
                }
            }
        }
        let after = charge_by_row_id(&mut tx, cipher, row_id).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(AttemptApplied::Applied { owner: merchant, charge: after })
    }

    async fn overdue_attempts(&self, today: NaiveDate, limit: i64) -> Result<Vec<EndToEndId>, StoreError> {
        let ids = sqlx::query_scalar!(
            "SELECT end_to_end_id FROM recurring_charge_attempts
              WHERE (status = 'AGENDADA' AND data_liquidacao < $1) OR (status = 'SOLICITADA' AND data_liquidacao <= $1)
              ORDER BY random() LIMIT $2",
            today,
            limit
        )
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        ids.iter().map(|e| EndToEndId::parse(e).map_err(unexpected)).collect()
    }

    async fn unsent_attempts(
        &self,
        today: NaiveDate,
        limit: i64,
    ) -> Result<Vec<(MerchantId, RecurringCharge, Attempt)>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        let rows = sqlx::query!(
            "SELECT recurring_charge_id, end_to_end_id FROM recurring_charge_attempts
              WHERE status = 'SOLICITADA' AND data_liquidacao > $2 ORDER BY id LIMIT $1",
            limit,
            today
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(store_error)?;
        let mut out = vec![];
        for row in rows {
            let found =
                charge_where(&mut conn, self.cipher.as_ref(), None, None, Some(&row.end_to_end_id), false).await?;
            let Some((_, owner, charge)) = found else { continue };
            if let Some(a) = charge.attempts.iter().find(|a| a.end_to_end_id.as_str() == row.end_to_end_id).cloned() {
                out.push((owner, charge, a));
            }
        }
        Ok(out)
    }

    async fn expire(&self, now: DateTime<Utc>, today: NaiveDate) -> Result<u64, StoreError> {
        // Each kind in its own transaction, recurrences before their requests (the order
        // decisions lock in); attempts are never expired: an attempt the payer's bank may
        // hold has an outcome it will report (or the reconciler will find).
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        let recs = sqlx::query!(
            r#"UPDATE recurrences SET status = 'EXPIRADA', atualizacao = atualizacao || $2
                WHERE status IN ('CRIADA', 'APROVADA') AND data_final < $1
               RETURNING merchant_id, id_rec"#,
            today,
            entry("EXPIRADA", now)
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(store_error)?;
        for r in &recs {
            let event = DomainEvent::recurrence(EventKind::RecExpirada, &r.id_rec, "EXPIRADA");
            write_events(&mut tx, MerchantId(r.merchant_id), &[event]).await?;
        }
        tx.commit().await.map_err(store_error)?;
        let requests = sqlx::query!(
            "UPDATE solicrecs SET status = 'EXPIRADA', atualizacao = atualizacao || $2
              WHERE status IN ('CRIADA', 'ENVIADA', 'RECEBIDA') AND data_expiracao < $1",
            now,
            entry("EXPIRADA", now)
        )
        .execute(&self.pool)
        .await
        .map_err(store_error)?
        .rows_affected();
        // A charge not paid by its last settlement day (five days' slack for the business-day
        // adjustment) and with no attempt open (its attempts all failed, or it has none
        // left) expires.
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        let charges = sqlx::query!(
            r#"SELECT c.id, c.merchant_id, c.txid, r.id_rec FROM recurring_charges c
                 JOIN recurrences r ON r.id = c.recurrence_id
                WHERE c.status IN ('CRIADA', 'ATIVA')
                  AND c.data_vencimento + CASE r.politica_retentativa WHEN 'PERMITE_3R_7D' THEN 7 ELSE 0 END
                      + 5 < $1
                  AND NOT EXISTS (SELECT 1 FROM recurring_charge_attempts a
                                   WHERE a.recurring_charge_id = c.id AND a.status IN ('SOLICITADA', 'AGENDADA'))
                ORDER BY c.id
                FOR UPDATE OF c"#,
            today
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(store_error)?;
        for c in &charges {
            sqlx::query!(
                "UPDATE recurring_charges SET status = 'EXPIRADA', atualizacao = atualizacao || $2 WHERE id = $1",
                c.id,
                entry("EXPIRADA", now)
            )
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
            let event = charge_event(EventKind::CobrExpirada, &c.txid, &c.id_rec, "EXPIRADA");
            write_events(&mut tx, MerchantId(c.merchant_id), &[event]).await?;
        }
        tx.commit().await.map_err(store_error)?;
        Ok(requests + recs.len() as u64 + charges.len() as u64)
    }
}

/// The recurring charge a received Pix concludes, read for its booking: the charge's row
/// id and revision-free state, and the attempt it pays.
pub(crate) async fn select_for_payment(
    conn: &mut PgConnection,
    cipher: &dyn Cipher,
    merchant: MerchantId,
    txid: &Txid,
    for_update: bool,
) -> Result<Option<(i64, RecurringCharge)>, StoreError> {
    Ok(charge_where(conn, cipher, Some(merchant), Some(txid.as_str()), None, for_update)
        .await?
        .map(|(id, _, c)| (id, c)))
}
