//! Received Pix and refunds on Postgres. Recording a payment, reserving a refund and
//! concluding it are each one transaction with their ledger entries and outbox events.

use super::charges::select_current;
use super::documents::{self, PAGADOR};
use super::ledger::{legs, post, repay_owed, AccountDirectory, PostError, Posted};
use super::unexpected;
use super::verdicts::{self, Flow, Movement};
use super::{snapshot, store_error};
use crate::domain::cobv::AmountDue;
use crate::domain::event::DomainEvent;
use crate::domain::ids::{EndToEndId, RefundId, RtrId, Txid};
use crate::domain::ledger::{FeePlan, JournalEntry};
use crate::domain::merchant::MerchantId;
use crate::domain::money::Amount;
use crate::domain::payment::{
    decide_credit, Alert, IncomingPix, Natureza, Payer, ReceivedPix, Refund, RefundOrder, RefundRejection,
    RefundRequest, RefundStatus,
};
use crate::domain::verdict::Contradiction;
use crate::ports::{
    Cipher, ConcludeOutcome, Heard, Page, PixQuery, PixStore, RailVerdict, RecordOutcome, RefundOutcome, StoreError,
};
use anyhow::anyhow;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use std::sync::Arc;

pub struct PgPixStore {
    pool: PgPool,
    accounts: Arc<AccountDirectory>,
    cipher: Arc<dyn Cipher>,
}

impl PgPixStore {
    pub fn new(pool: PgPool, accounts: Arc<AccountDirectory>, cipher: Arc<dyn Cipher>) -> Self {
        Self { pool, accounts, cipher }
    }
}

fn post_error(e: PostError) -> StoreError {
    match e {
        PostError::InsufficientFunds => unexpected(anyhow!("a credit or settlement hit a minimum balance")),
        PostError::Store(s) => s,
    }
}

/// How a received Pix is booked: first optimistically, then under lock if that failed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Booking {
    /// Outside an explicit transaction, from an unlocked read of the charge; undoes
    /// itself (the statement answers None) if the charge or the end-to-end id changed.
    /// Only for a Pix that names no charge or concludes the one it names: a charge it
    /// names but does not conclude is assessed again under its lock.
    Optimistic,
    /// Inside the caller's transaction, with the charge's row locked.
    Locked,
}

/// SQLSTATE of `booking_retry()` (migration 20261202000001).
pub(super) const BOOKING_RETRY: &str = "TU001";

/// What the booking statement reports.
struct Booked {
    claimed: bool,
    recorded: bool,
    postings: i64,
    /// Why the Pix did not conclude what it names, as assessed for this booking.
    alert: Option<Alert>,
}

/// The charge a received Pix names, of either kind, as read for its booking, with its row
/// id.
enum Named {
    Immediate(crate::domain::charge::Charge, i64),
    Due(crate::domain::cobv::DueCharge, i64),
    Recurring(crate::domain::rec::RecurringCharge, i64),
}

impl Named {
    fn payable(&self) -> crate::domain::payment::Payable<'_> {
        match self {
            Named::Immediate(c, _) => crate::domain::payment::Payable::Immediate(c),
            Named::Due(c, _) => crate::domain::payment::Payable::Due(c),
            Named::Recurring(c, _) => crate::domain::payment::Payable::Recurring(c),
        }
    }

    /// Its row in `charges` (an immediate charge or one with a due date).
    fn charge_row(&self) -> Option<i64> {
        match self {
            Named::Immediate(_, id) | Named::Due(_, id) => Some(*id),
            Named::Recurring(..) => None,
        }
    }

    /// Its row in `recurring_charges`.
    fn recurring_row(&self) -> Option<i64> {
        match self {
            Named::Recurring(_, id) => Some(*id),
            Named::Immediate(..) | Named::Due(..) => None,
        }
    }

    /// Whether it may still change: an active charge (a revision, a payment), an open
    /// recurring charge (its attempts). Concluded, removed, cancelled or expired ones do not.
    fn may_change(&self) -> bool {
        match self {
            Named::Immediate(c, _) => c.status == crate::domain::charge::ChargeStatus::Ativa,
            Named::Due(c, _) => c.status == crate::domain::charge::ChargeStatus::Ativa,
            Named::Recurring(c, _) => c.status.is_open(),
        }
    }

    fn revisao(&self) -> Option<i32> {
        match self {
            Named::Immediate(c, _) => Some(c.revisao),
            Named::Due(c, _) => Some(c.revisao),
            Named::Recurring(..) => None,
        }
    }

    /// The merchant's charge with this txid, immediate or with a due date (one txid space),
    /// locked when `for_update`.
    async fn select(
        conn: &mut PgConnection,
        cipher: &dyn crate::ports::Cipher,
        merchant: MerchantId,
        txid: &Txid,
        for_update: bool,
    ) -> Result<Option<Named>, StoreError> {
        if let Some((c, _, id)) = select_current(conn, cipher, merchant, txid, for_update).await? {
            return Ok(Some(Named::Immediate(c, id)));
        }
        if let Some((c, _, id)) = super::due_charges::select_current(conn, cipher, merchant, txid, for_update).await? {
            return Ok(Some(Named::Due(c, id)));
        }
        let recurring = super::recurrences::select_for_payment(conn, cipher, merchant, txid, for_update).await?;
        Ok(recurring.map(|(id, c)| Named::Recurring(c, id)))
    }
}

/// A received Pix ready to book: its owner, fee, sealed payer document and ledger legs.
struct Credit<'a> {
    notification_id: &'a str,
    pix: &'a IncomingPix,
    merchant: Option<MerchantId>,
    fee: Amount,
    sealed: Option<documents::SealedDocument>,
    account_ids: Vec<i64>,
    amounts: Vec<i64>,
}

/// The parameters every booking statement takes, $1 to $27 in this order.
struct BookingArgs<'a> {
    notification_id: &'a str,
    end_to_end_id: &'a str,
    merchant: Option<uuid::Uuid>,
    chave: &'a str,
    txid: Option<&'a str>,
    charge_id: Option<i64>,
    valor: i64,
    fee: i64,
    horario: DateTime<Utc>,
    doc_kind: Option<&'a str>,
    doc_enc: Option<&'a [u8]>,
    doc_index: Option<&'a [u8]>,
    pagador_nome: Option<&'a str>,
    info_pagador: Option<&'a str>,
    alert: Option<&'a str>,
    reference: serde_json::Value,
    account_ids: &'a [i64],
    amounts: &'a [i64],
    event_kinds: &'a [String],
    event_payloads: &'a [serde_json::Value],
    optimistic: bool,
    legs: i64,
    recurring_id: Option<i64>,
    /// A due charge's parts it paid: multa, juros, abatimento, desconto (centavos).
    due_parts: [Option<i64>; 4],
}

/// The booking statement of a received Pix: `$a`, its [`BookingArgs`] ($1 to $27); the
/// charge's part spliced in (`$charge`: CTEs after `pix`; `$checks`: what the optimistic
/// booking re-checks of them), with its own parameters from $28 (`[...]`). An optimistic
/// booking that would not conclude the charge as it was assessed, or that finds
/// the end-to-end id already recorded, calls booking_retry(), whose error undoes the
/// statement.
macro_rules! booking {
    ($conn:expr, $a:expr, $charge:tt, $checks:tt, [$($arg:expr),* $(,)?]) => {
        sqlx::query!(
            r#"WITH claim AS (
                   INSERT INTO rail_notifications (id, kind) VALUES ($1, 'PIX_RECEBIDO')
                   ON CONFLICT (id) DO NOTHING
                   RETURNING id
               ), pix AS (
                   INSERT INTO received_pix (end_to_end_id, merchant_id, chave, txid, charge_id, valor, fee, horario,
                                             pagador_doc_kind, pagador_doc_enc, pagador_doc_index, pagador_nome,
                                             info_pagador, alerta, recurring_charge_id, multa, juros, abatimento, desconto)
                   SELECT $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $23, $24, $25, $26, $27
                     FROM claim
                   ON CONFLICT (end_to_end_id) DO NOTHING
                   RETURNING id
               )"# + $charge + r#", entry AS (
                   INSERT INTO ledger_transactions (kind, natural_key, reference)
                   SELECT 'pix_received', $2, $16 FROM pix
                   RETURNING id
               ), postings AS (
                   INSERT INTO ledger_postings (transaction_id, account_id, amount)
                   SELECT entry.id, p.account_id, p.amount
                     FROM entry, unnest($17::bigint[], $18::bigint[]) AS p(account_id, amount)
                    ORDER BY p.account_id
                   RETURNING id
               ), events AS (
                   INSERT INTO outbox_events (merchant_id, kind, payload)
                   SELECT $3, e.kind, e.payload FROM pix, unnest($19::text[], $20::jsonb[]) AS e(kind, payload)
                   RETURNING id
               )
               SELECT EXISTS (SELECT 1 FROM claim) AS "claimed!", EXISTS (SELECT 1 FROM pix) AS "recorded!",
                      (SELECT count(*) FROM postings) AS "postings!",
                      CASE WHEN $21::boolean AND EXISTS (SELECT 1 FROM claim)
                                AND (NOT EXISTS (SELECT 1 FROM pix)"# + $checks + r#"
                                     OR (SELECT count(*) FROM postings) <> $22::bigint)
                           THEN booking_retry('the charge or the end-to-end id changed')
                           ELSE true END AS "checked!""#,
            $a.notification_id,
            $a.end_to_end_id,
            $a.merchant,
            $a.chave,
            $a.txid,
            $a.charge_id,
            $a.valor,
            $a.fee,
            $a.horario,
            $a.doc_kind,
            $a.doc_enc,
            $a.doc_index,
            $a.pagador_nome,
            $a.info_pagador,
            $a.alert,
            $a.reference,
            $a.account_ids,
            $a.amounts,
            $a.event_kinds,
            $a.event_payloads,
            $a.optimistic,
            $a.legs,
            $a.recurring_id,
            $a.due_parts[0],
            $a.due_parts[1],
            $a.due_parts[2],
            $a.due_parts[3],
            $($arg),*
        )
        .fetch_one(&mut *$conn)
        .await
        .map(|row| (row.claimed, row.recorded, row.postings))
    };
}

impl Credit<'_> {
    /// The booking, in one statement: the notification claimed, the received Pix, the
    /// charge concluded, the ledger entry (its triggers move the balances) and the outbox
    /// events. Each step runs only if the one before it wrote its row; the statement
    /// reports which did. `charge` is the charge the Pix names, as read by the caller.
    /// Answers None when the booking undid itself (only an optimistic one does).
    async fn book(
        &self,
        conn: &mut PgConnection,
        charge: Option<&Named>,
        mode: Booking,
    ) -> Result<Option<Booked>, StoreError> {
        let pix = self.pix;
        let decision = decide_credit(pix, self.merchant.is_some(), charge.map(Named::payable), self.fee);
        let alert = decision.alert;
        let due_parts = decision
            .due
            .map_or([None; 4], |d| [d.multa, d.juros, d.abatimento, d.desconto].map(|a| Some(a.centavos())));
        let charge_id = charge.and_then(Named::charge_row);
        let recurring_id = charge.and_then(Named::recurring_row);
        let concludes = charge.filter(|_| decision.concludes);
        if mode == Booking::Optimistic && charge.is_some_and(Named::may_change) && concludes.is_none() {
            // Only a concluding booking re-checks the charge it read (status and revision):
            // a Pix assessed as not paying a charge that may still change, read without a
            // lock, could miss a revision committed since that it does pay. Rare (a wrong
            // amount, an expired charge): decided again under the charge's lock. A charge
            // already concluded or removed cannot change: its replays stay optimistic.
            return Ok(None);
        }
        let (event_kinds, event_payloads): (Vec<String>, Vec<serde_json::Value>) =
            decision.events.into_iter().map(|e| (e.kind.as_str().to_owned(), e.payload)).unzip();
        let (doc_kind, doc_enc, doc_index) = match &self.sealed {
            Some(d) => (Some(d.kind.as_str()), Some(d.enc.as_slice()), Some(d.index.as_slice())),
            None => (None, None, None),
        };
        let args = BookingArgs {
            notification_id: self.notification_id,
            end_to_end_id: pix.end_to_end_id.as_str(),
            merchant: self.merchant.map(|m| m.0),
            chave: &pix.chave,
            txid: pix.txid.as_ref().map(Txid::as_str),
            charge_id,
            valor: pix.valor.centavos(),
            fee: self.fee.centavos(),
            horario: pix.horario,
            doc_kind,
            doc_enc,
            doc_index,
            pagador_nome: pix.pagador.nome.as_deref(),
            info_pagador: pix.info_pagador.as_deref(),
            alert: alert.map(Alert::as_str),
            reference: pix_reference(pix),
            account_ids: &self.account_ids,
            amounts: &self.amounts,
            event_kinds: &event_kinds,
            event_payloads: &event_payloads,
            optimistic: mode == Booking::Optimistic,
            legs: i64::try_from(self.account_ids.len()).map_err(unexpected)?,
            recurring_id,
            due_parts,
        };
        // The booking's two shapes share every part but the charge's: a Pix that concludes
        // nothing (a plain credit, or a charge it does not pay) runs without the updates of
        // the three charge tables, which would change no row but still open those tables
        // and their indexes (about 15% of a plain credit's time, measured with pgbench).
        let result = match concludes {
            None => booking!(conn, args, "", "", []),
            Some(charge) => booking!(
                conn,
                args,
                // The charge concludes only as it was read (ATIVA, same revision); a
                // recurring charge only by the payment of one of its open attempts.
                r#", concluded AS (
                       UPDATE charges SET status = 'CONCLUIDA'
                        WHERE id = $28 AND status = 'ATIVA' AND revisao = $29 AND EXISTS (SELECT 1 FROM pix)
                       RETURNING id
                   ), concluded_r AS (
                       UPDATE recurring_charges SET status = 'CONCLUIDA', atualizacao = atualizacao || $31
                        WHERE id = $30 AND status IN ('CRIADA', 'ATIVA') AND EXISTS (SELECT 1 FROM pix)
                          AND EXISTS (SELECT 1 FROM recurring_charge_attempts
                                       WHERE recurring_charge_id = $30 AND end_to_end_id = $2
                                         AND status IN ('SOLICITADA', 'AGENDADA'))
                       RETURNING id
                   ), attempt_paid AS (
                       UPDATE recurring_charge_attempts SET status = 'PAGA', atualizacao = atualizacao || $32
                        WHERE end_to_end_id = $2 AND recurring_charge_id = $30 AND status IN ('SOLICITADA', 'AGENDADA')
                          AND EXISTS (SELECT 1 FROM concluded_r)
                       RETURNING id
                   )"#,
                r#" OR ($28::bigint IS NOT NULL AND NOT EXISTS (SELECT 1 FROM concluded))
                    OR ($30::bigint IS NOT NULL AND NOT EXISTS (SELECT 1 FROM concluded_r))
                    OR ($30::bigint IS NOT NULL AND NOT EXISTS (SELECT 1 FROM attempt_paid))"#,
                [
                    charge.charge_row(),
                    charge.revisao(),
                    charge.recurring_row(),
                    json!([{"status": "CONCLUIDA", "data": pix.horario}]),
                    json!([{"status": "PAGA", "data": pix.horario}]),
                ]
            ),
        };
        match result {
            Ok((claimed, recorded, postings)) => Ok(Some(Booked { claimed, recorded, postings, alert })),
            Err(e) if e.as_database_error().and_then(|d| d.code()).as_deref() == Some(BOOKING_RETRY) => Ok(None),
            // Another Pix concluded the charge while this one was being booked unlocked: its
            // row is unique per charge, so this one is decided again under the charge's
            // lock (where it is credited and flagged as paid twice).
            Err(e)
                if mode == Booking::Optimistic
                    && (super::is_unique_violation(&e, "received_pix_one_per_charge")
                        || super::is_unique_violation(&e, "received_pix_one_per_recurring_charge")) =>
            {
                Ok(None)
            }
            Err(e) => Err(store_error(e)),
        }
    }

    /// The outcome of a booking that claimed its notification and recorded the Pix (or
    /// found the notification already claimed).
    fn outcome(&self, booked: Booked) -> Result<RecordOutcome, StoreError> {
        if !booked.claimed {
            return Ok(RecordOutcome::Duplicate);
        }
        if usize::try_from(booked.postings).ok() != Some(self.account_ids.len()) {
            return Err(unexpected(anyhow!("the entry of a received Pix did not post all its legs")));
        }
        Ok(RecordOutcome::Recorded { merchant: self.merchant, alert: booked.alert })
    }
}

/// A received Pix row as selected below.
struct PixRow {
    id: i64,
    end_to_end_id: String,
    txid: Option<String>,
    chave: String,
    valor: i64,
    fee: i64,
    horario: DateTime<Utc>,
    merchant_id: Option<uuid::Uuid>,
    pagador_doc_kind: Option<String>,
    pagador_doc_enc: Option<Vec<u8>>,
    pagador_nome: Option<String>,
    info_pagador: Option<String>,
    alerta: Option<String>,
    alerta_rail: Option<String>,
    multa: Option<i64>,
    juros: Option<i64>,
    abatimento: Option<i64>,
    desconto: Option<i64>,
}

struct RefundRow {
    received_pix_id: i64,
    refund_id: String,
    rtr_id: String,
    valor: i64,
    natureza: String,
    descricao: Option<String>,
    status: String,
    motivo: Option<String>,
    requested_at: DateTime<Utc>,
    settled_at: Option<DateTime<Utc>>,
    valor_liquidado: Option<i64>,
    request_hash: Vec<u8>,
    alerta: Option<String>,
}

impl TryFrom<&RefundRow> for Refund {
    type Error = StoreError;

    fn try_from(r: &RefundRow) -> Result<Self, StoreError> {
        Ok(Refund {
            id: RefundId::parse(&r.refund_id).map_err(unexpected)?,
            rtr_id: RtrId::parse(&r.rtr_id).map_err(unexpected)?,
            valor: Amount::from_centavos(r.valor).map_err(unexpected)?,
            natureza: Natureza::parse(&r.natureza).ok_or_else(|| unexpected(anyhow!("stored natureza")))?,
            descricao: r.descricao.clone(),
            status: RefundStatus::parse(&r.status).ok_or_else(|| unexpected(anyhow!("stored refund status")))?,
            motivo: r.motivo.clone(),
            solicitacao: r.requested_at,
            liquidacao: r.settled_at,
            valor_liquidado: r.valor_liquidado.map(Amount::from_centavos).transpose().map_err(unexpected)?,
            alerta: r
                .alerta
                .as_deref()
                .map(|a| Contradiction::parse(a).ok_or_else(|| unexpected(anyhow!("stored refund alerta"))))
                .transpose()?,
        })
    }
}

/// The parts a Pix that paid a charge with a due date paid for, as booked.
fn due_parts(row: &PixRow) -> Result<Option<AmountDue>, StoreError> {
    let (Some(multa), Some(juros), Some(abatimento), Some(desconto)) =
        (row.multa, row.juros, row.abatimento, row.desconto)
    else {
        return Ok(None);
    };
    let amount = |c: i64| Amount::from_centavos(c).map_err(unexpected);
    Ok(Some(AmountDue {
        original: amount(row.valor - multa - juros + abatimento + desconto)?,
        abatimento: amount(abatimento)?,
        desconto: amount(desconto)?,
        multa: amount(multa)?,
        juros: amount(juros)?,
        final_: amount(row.valor)?,
    }))
}

async fn to_received(row: PixRow, refunds: &[RefundRow], cipher: &dyn Cipher) -> Result<ReceivedPix, StoreError> {
    let merchant = row.merchant_id.map(MerchantId);
    let due = due_parts(&row)?;
    let documento =
        documents::open(cipher, row.pagador_doc_kind.as_deref(), row.pagador_doc_enc.as_deref(), merchant, PAGADOR)
            .await?;
    Ok(ReceivedPix {
        end_to_end_id: EndToEndId::parse(&row.end_to_end_id).map_err(unexpected)?,
        txid: row.txid.as_deref().map(Txid::parse).transpose().map_err(unexpected)?,
        chave: row.chave,
        valor: Amount::from_centavos(row.valor).map_err(unexpected)?,
        fee: Amount::from_centavos(row.fee).map_err(unexpected)?,
        horario: row.horario,
        pagador: Payer { documento, nome: row.pagador_nome },
        info_pagador: row.info_pagador,
        alert: row
            .alerta
            .as_deref()
            .map(|a| Alert::parse(a).ok_or_else(|| unexpected(anyhow!("stored alerta"))))
            .transpose()?,
        rail_alert: row
            .alerta_rail
            .as_deref()
            .map(|a| Contradiction::parse(a).ok_or_else(|| unexpected(anyhow!("stored alerta_rail"))))
            .transpose()?,
        due,
        refunds: refunds
            .iter()
            .filter(|r| r.received_pix_id == row.id)
            .map(Refund::try_from)
            .collect::<Result<_, _>>()?,
    })
}

async fn refunds_of(conn: &mut PgConnection, pix_ids: &[i64]) -> Result<Vec<RefundRow>, StoreError> {
    sqlx::query_as!(
        RefundRow,
        r#"SELECT received_pix_id, refund_id, rtr_id, valor, natureza, descricao, status, motivo, requested_at,
                  settled_at, valor_liquidado, request_hash, alerta
             FROM refunds WHERE received_pix_id = ANY($1) ORDER BY id"#,
        pix_ids
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(store_error)
}

/// Who owns the Pix key `chave`, and the fee plan a Pix received on it is charged (None:
/// no merchant has the key).
pub async fn key_owner(conn: &mut PgConnection, chave: &str) -> Result<Option<(MerchantId, FeePlan)>, StoreError> {
    let owner = sqlx::query!(
        r#"SELECT m.id, m.fee_bps, m.fee_fixed FROM merchant_pix_keys k JOIN merchants m ON m.id = k.merchant_id
                WHERE k.chave = $1"#,
        chave
    )
    .fetch_optional(&mut *conn)
    .await
    .map_err(store_error)?;
    owner.map(|o| Ok((MerchantId(o.id), super::merchants::fee_plan(o.fee_bps, o.fee_fixed)?))).transpose()
}

/// What a received Pix's ledger entry refers to.
pub(super) fn pix_reference(pix: &IncomingPix) -> serde_json::Value {
    json!({"endToEndId": pix.end_to_end_id.as_str(), "txid": pix.txid.as_ref().map(Txid::as_str)})
}

/// Claims a rail notification id; false if it was already applied.
pub(crate) async fn claim_notification(conn: &mut PgConnection, id: &str, kind: &str) -> Result<bool, StoreError> {
    let claimed = sqlx::query_scalar!(
        "INSERT INTO rail_notifications (id, kind) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING RETURNING id",
        id,
        kind
    )
    .fetch_optional(&mut *conn)
    .await
    .map_err(store_error)?;
    Ok(claimed.is_some())
}

pub(crate) async fn outbox(
    conn: &mut PgConnection,
    merchant: MerchantId,
    event: &DomainEvent,
) -> Result<(), StoreError> {
    sqlx::query!(
        "INSERT INTO outbox_events (merchant_id, kind, payload) VALUES ($1, $2, $3)",
        merchant.0,
        event.kind.as_str(),
        event.payload
    )
    .execute(&mut *conn)
    .await
    .map_err(store_error)?;
    Ok(())
}

impl PgPixStore {
    /// A second report of a known end-to-end id. The same amount and key: a duplicate.
    /// Otherwise the rail contradicts itself: the difference between the amount reported
    /// and what the books hold at the rail for it (the first amount and the differences of
    /// earlier divergent reports) is booked between the rail and suspense (the merchant's
    /// credit stands as first booked), the Pix is flagged, and operations settle it from
    /// the sponsor bank's statement. So reports of 100.00, 120.00 and 130.00 hold 130.00
    /// at the rail (30.00 in suspense), never 150.00.
    async fn known_again(
        &self,
        tx: &mut PgConnection,
        notification_id: &str,
        pix: &IncomingPix,
    ) -> Result<RecordOutcome, StoreError> {
        let known = sqlx::query!(
            "SELECT id, merchant_id, chave, valor FROM received_pix WHERE end_to_end_id = $1 FOR UPDATE",
            pix.end_to_end_id.as_str()
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(store_error)?;
        if known.valor == pix.valor.centavos() && known.chave == pix.chave {
            return Ok(RecordOutcome::Duplicate);
        }
        // One booking per distinct divergent report, whatever its notification id.
        let digest = crate::domain::idempotency::fingerprint(format!("{}|{}", pix.valor, pix.chave).as_bytes());
        let key = format!("{}:{}", pix.end_to_end_id.as_str(), &hex::encode(digest)[..16]);
        if !claim_notification(tx, &format!("divergent-{key}"), "PIX_RECEBIDO").await? {
            return Ok(RecordOutcome::Duplicate);
        }
        let merchant = known.merchant_id.map(MerchantId);
        let parked = sqlx::query_scalar!(
            r#"SELECT coalesce(sum(p.amount), 0)::bigint AS "parked!"
                 FROM rail_contradictions c
                 JOIN ledger_postings p ON p.transaction_id = c.ledger_transaction_id
                 JOIN ledger_accounts a ON a.id = p.account_id AND a.kind = 'suspense'
                WHERE c.subject = $1 AND c.kind = 'NOTIFICACAO_DIVERGENTE'"#,
            pix.end_to_end_id.as_str()
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(store_error)?;
        let difference = pix.valor.centavos() - (known.valor + parked);
        let reference = json!({"endToEndId": pix.end_to_end_id.as_str(), "valorReportado": pix.valor.to_string(),
                               "chaveReportada": pix.chave});
        let posted = match JournalEntry::pix_received_correction(&key, difference) {
            Some(entry) => match post(tx, &self.accounts, &entry, &reference).await.map_err(post_error)? {
                Posted::New(id) => Some(id),
                Posted::AlreadyPosted => return Ok(RecordOutcome::Duplicate),
            },
            None => None,
        };
        sqlx::query!(
            "UPDATE received_pix SET alerta_rail = 'NOTIFICACAO_DIVERGENTE' WHERE id = $1 AND alerta_rail IS NULL",
            known.id
        )
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        let detail = json!({"valorRegistrado": Amount::from_centavos(known.valor).map_err(unexpected)?.to_string(),
                            "chaveRegistrada": known.chave, "valorReportado": pix.valor.to_string(),
                            "chaveReportada": pix.chave});
        let c = Contradiction::DivergentNotification;
        verdicts::record(tx, c, pix.end_to_end_id.as_str(), merchant, notification_id, posted, detail).await?;
        Ok(RecordOutcome::Divergent { merchant })
    }
}

#[async_trait]
impl PixStore for PgPixStore {
    async fn record_incoming(&self, notification_id: &str, pix: &IncomingPix) -> Result<RecordOutcome, StoreError> {
        // One connection for the whole credit. In steady state a credit to a key is two
        // round trips (the key's owner, then the booking as one autocommitted statement),
        // three with a charge to read; BENCHMARKS.md counts them.
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        // Who owns the key, and the payer's document sealed for them, before any row is
        // locked: no call to the key service while rows are locked. (A key's owner never
        // changes: keys are registered once.)
        let owner = key_owner(&mut conn, &pix.chave).await?;
        let merchant = owner.as_ref().map(|(m, _)| *m);
        let sealed = documents::seal(self.cipher.as_ref(), pix.pagador.documento.as_ref(), merchant, PAGADOR).await?;
        let fee = owner.map_or(Amount::ZERO, |(_, plan)| plan.fee(pix.valor));
        let entry = JournalEntry::pix_received(pix.end_to_end_id.as_str(), merchant, pix.valor, fee);
        let (account_ids, amounts) = legs(&mut conn, &self.accounts, &entry).await?;
        let credit = Credit { notification_id, pix, merchant, fee, sealed, account_ids, amounts };
        let charge_txid = pix.txid.as_ref().and_then(|t| Txid::parse_for_charge(t.as_str()).ok());

        // Optimistically: the charge as read now, without a lock, and the booking in one
        // statement outside any explicit transaction (its own commit, no BEGIN or COMMIT
        // round trips, its locks held only while it runs). The statement re-checks what the
        // read gave; if anything changed in between it undoes itself (SQLSTATE TU001).
        let charge = match (merchant, &charge_txid) {
            (Some(m), Some(t)) => Named::select(&mut conn, self.cipher.as_ref(), m, t, false).await?,
            _ => None,
        };
        if let Some(booked) = credit.book(&mut conn, charge.as_ref(), Booking::Optimistic).await? {
            return credit.outcome(booked);
        }
        // Something changed under the optimistic booking: book under the charge's row lock,
        // so that two payments cannot both conclude it.
        let mut tx = sqlx::Connection::begin(&mut *conn).await.map_err(store_error)?;
        let charge = match (merchant, &charge_txid) {
            (Some(m), Some(t)) => Named::select(&mut tx, self.cipher.as_ref(), m, t, true).await?,
            _ => None,
        };
        let Some(booked) = credit.book(&mut tx, charge.as_ref(), Booking::Locked).await? else {
            return Err(unexpected(anyhow!("a locked booking asked to be retried")));
        };
        if booked.claimed && !booked.recorded {
            // Another notification already brought this end-to-end id: the same Pix again,
            // or a report that contradicts the first.
            let outcome = self.known_again(&mut tx, notification_id, pix).await?;
            tx.commit().await.map_err(store_error)?;
            return Ok(outcome);
        }
        let outcome = credit.outcome(booked)?;
        tx.commit().await.map_err(store_error)?;
        Ok(outcome)
    }

    async fn record_incoming_all(&self, batch: &[(&str, &IncomingPix)]) -> Vec<Result<RecordOutcome, StoreError>> {
        let together = match self.pool.acquire().await {
            Ok(mut conn) => {
                super::pix_batch::book_together(&mut conn, &self.accounts, self.cipher.as_ref(), batch).await
            }
            Err(e) => Err(store_error(e)),
        };
        // Whatever was not booked together (or all of it, if the batch could not even be
        // prepared) is booked alone, in the batch's order, and reports its own error.
        let mut together = together.unwrap_or_else(|e| {
            let kind = match e {
                StoreError::Unavailable(_) => "unavailable",
                StoreError::Unexpected(_) => "unexpected",
            };
            tracing::warn!(error = kind, "a batch of received Pix could not be prepared to book together");
            batch.iter().map(|_| None).collect()
        });
        let mut outcomes = Vec::with_capacity(batch.len());
        for (i, (notification_id, pix)) in batch.iter().enumerate() {
            outcomes.push(match together.get_mut(i).and_then(Option::take) {
                Some(outcome) => Ok(outcome),
                None => self.record_incoming(notification_id, pix).await,
            });
        }
        outcomes
    }

    async fn booked_as_reported(
        &self,
        reported: &[IncomingPix],
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        let ids: Vec<&str> = reported.iter().map(|p| p.end_to_end_id.as_str()).collect();
        let valores: Vec<i64> = reported.iter().map(|p| p.valor.centavos()).collect();
        let chaves: Vec<&str> = reported.iter().map(|p| p.chave.as_str()).collect();
        let booked = sqlx::query_scalar!(
            r#"SELECT p.end_to_end_id FROM unnest($1::text[], $2::bigint[], $3::text[]) AS r (e2e, valor, chave)
               JOIN received_pix p ON p.end_to_end_id = r.e2e AND p.valor = r.valor AND p.chave = r.chave"#,
            &ids as &[&str],
            &valores,
            &chaves as &[&str]
        )
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(booked.into_iter().collect())
    }

    async fn find(&self, merchant: MerchantId, e2eid: &EndToEndId) -> Result<Option<ReceivedPix>, StoreError> {
        let mut conn = snapshot(&self.pool).await?;
        let row = sqlx::query_as!(
            PixRow,
            r#"SELECT id, end_to_end_id, txid, chave, valor, fee, horario, merchant_id, pagador_doc_kind, pagador_doc_enc,
                      pagador_nome,
                      info_pagador, alerta, alerta_rail, multa, juros, abatimento, desconto
                 FROM received_pix WHERE merchant_id = $1 AND end_to_end_id = $2"#,
            merchant.0,
            e2eid.as_str()
        )
        .fetch_optional(&mut *conn)
        .await
        .map_err(store_error)?;
        let Some(row) = row else { return Ok(None) };
        let refunds = refunds_of(&mut conn, &[row.id]).await?;
        to_received(row, &refunds, self.cipher.as_ref()).await.map(Some)
    }

    async fn list(&self, merchant: MerchantId, q: &PixQuery) -> Result<Page<ReceivedPix>, StoreError> {
        let mut conn = snapshot(&self.pool).await?;
        let doc_index = documents::index_of(self.cipher.as_ref(), q.pagador.as_ref())?;
        let limit = i64::from(q.itens_por_pagina);
        let offset = i64::from(q.pagina) * limit;
        let txids: Vec<String> = q.txids.iter().map(|t| t.as_str().to_owned()).collect();
        let rows = sqlx::query!(
            r#"SELECT id, end_to_end_id, txid, chave, valor, fee, horario, merchant_id, pagador_doc_kind, pagador_doc_enc,
                      pagador_nome,
                      info_pagador, alerta, alerta_rail, multa, juros, abatimento, desconto
                 FROM received_pix r
                WHERE merchant_id = $1 AND horario >= $2 AND horario <= $3
                  AND (cardinality($4::text[]) = 0 OR txid = ANY($4))
                  AND ($5::boolean IS NULL OR (txid IS NOT NULL) = $5)
                  AND ($6::boolean IS NULL OR EXISTS (SELECT 1 FROM refunds f WHERE f.received_pix_id = r.id) = $6)
                  AND ($7::bytea IS NULL OR pagador_doc_index = $7)
                ORDER BY horario, id
                LIMIT $8 OFFSET $9"#,
            merchant.0,
            q.inicio,
            q.fim,
            &txids,
            q.txid_presente,
            q.devolucao_presente,
            doc_index,
            limit,
            offset
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(store_error)?;
        let total = if let Some(total) = super::total_from_page(rows.len(), limit, offset) {
            total
        } else {
            sqlx::query_scalar!(
                r#"SELECT count(*) AS "n!" FROM received_pix r
                    WHERE merchant_id = $1 AND horario >= $2 AND horario <= $3
                      AND (cardinality($4::text[]) = 0 OR txid = ANY($4))
                      AND ($5::boolean IS NULL OR (txid IS NOT NULL) = $5)
                      AND ($6::boolean IS NULL OR EXISTS (SELECT 1 FROM refunds f WHERE f.received_pix_id = r.id) = $6)
                      AND ($7::bytea IS NULL OR pagador_doc_index = $7)"#,
                merchant.0,
                q.inicio,
                q.fim,
                &txids,
                q.txid_presente,
                q.devolucao_presente,
                doc_index,
            )
            .fetch_one(&mut *conn)
            .await
            .map_err(store_error)?
        };
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let refunds = refunds_of(&mut conn, &ids).await?;
        let mut items = Vec::with_capacity(rows.len());
        for r in rows {
            let row = PixRow {
                id: r.id,
                end_to_end_id: r.end_to_end_id,
                txid: r.txid,
                chave: r.chave,
                valor: r.valor,
                fee: r.fee,
                horario: r.horario,
                merchant_id: r.merchant_id,
                pagador_doc_kind: r.pagador_doc_kind,
                pagador_doc_enc: r.pagador_doc_enc,
                pagador_nome: r.pagador_nome,
                info_pagador: r.info_pagador,
                alerta: r.alerta,
                alerta_rail: r.alerta_rail,
                multa: r.multa,
                juros: r.juros,
                abatimento: r.abatimento,
                desconto: r.desconto,
            };
            items.push(to_received(row, &refunds, self.cipher.as_ref()).await?);
        }
        Ok(Page { items, total: u64::try_from(total).unwrap_or(0) })
    }

    async fn request_refund(
        &self,
        merchant: MerchantId,
        e2eid: &EndToEndId,
        request: &RefundRequest,
        rtr_id: &RtrId,
        fingerprint: [u8; 32],
        now: DateTime<Utc>,
    ) -> Result<RefundOutcome, StoreError> {
        // What the merchant owes operations is repaid first, so money it owes does not leave
        // (a debt booked at this very moment is repaid by the next reservation or pass).
        repay_owed(&self.pool, &self.accounts, merchant, None).await?;
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        let row = sqlx::query_as!(
            PixRow,
            r#"SELECT id, end_to_end_id, txid, chave, valor, fee, horario, merchant_id, pagador_doc_kind, pagador_doc_enc,
                      pagador_nome,
                      info_pagador, alerta, alerta_rail, multa, juros, abatimento, desconto
                 FROM received_pix WHERE merchant_id = $1 AND end_to_end_id = $2 FOR UPDATE"#,
            merchant.0,
            e2eid.as_str()
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_error)?;
        let Some(row) = row else { return Ok(RefundOutcome::PixNotFound) };
        let pix_id = row.id;
        let refunds = refunds_of(&mut tx, &[pix_id]).await?;
        if let Some(existing) = refunds.iter().find(|r| r.refund_id == request.id.as_str()) {
            let same_request = existing.request_hash == fingerprint;
            return Ok(RefundOutcome::Existing { refund: Refund::try_from(existing)?, same_request });
        }
        let received = to_received(row, &refunds, self.cipher.as_ref()).await?;
        if let Err(rejection) = received.check_refund(request, now) {
            return Ok(RefundOutcome::Rejected(rejection));
        }
        let requested_at = sqlx::query_scalar!(
            r#"INSERT INTO refunds (received_pix_id, merchant_id, refund_id, rtr_id, valor, natureza, descricao, request_hash,
                                    requested_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
               RETURNING requested_at"#,
            pix_id,
            merchant.0,
            request.id.as_str(),
            rtr_id.as_str(),
            request.valor.centavos(),
            request.natureza.as_str(),
            request.descricao,
            &fingerprint[..],
            now,
        )
        .fetch_one(&mut *tx)
        .await;
        let requested_at = match requested_at {
            Ok(at) => at,
            // The database's own sum (refunds_guard) found more refunded than received: a
            // refund settled for more than it asked since the check above read them.
            Err(e) if e.as_database_error().and_then(|d| d.constraint()) == Some("refunds_within_received") => {
                return Ok(RefundOutcome::Rejected(RefundRejection::ExceedsReceived))
            }
            Err(e) => return Err(store_error(e)),
        };
        let entry = JournalEntry::refund_reserve(rtr_id.as_str(), merchant, request.valor);
        // The same reference as the refund's verdict entries (`id`, as Bacen names a refund's
        // id), so that a statement's lines of one refund share it.
        let reference = json!({"endToEndId": e2eid.as_str(), "id": request.id.as_str(), "rtrId": rtr_id.as_str()});
        match post(&mut tx, &self.accounts, &entry, &reference).await {
            Ok(Posted::New(_)) => {}
            Ok(Posted::AlreadyPosted) => return Err(unexpected(anyhow!("refund reserve exists for a new rtrId"))),
            Err(PostError::InsufficientFunds) => {
                return Ok(RefundOutcome::Rejected(RefundRejection::InsufficientFunds))
            }
            Err(PostError::Store(e)) => return Err(e),
        }
        let event = DomainEvent::devolucao_solicitada(e2eid, &request.id, rtr_id, request.valor);
        outbox(&mut tx, merchant, &event).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(RefundOutcome::Created(Refund {
            id: request.id.clone(),
            rtr_id: rtr_id.clone(),
            valor: request.valor,
            natureza: request.natureza,
            descricao: request.descricao.clone(),
            status: RefundStatus::EmProcessamento,
            motivo: None,
            solicitacao: requested_at,
            liquidacao: None,
            valor_liquidado: None,
            alerta: None,
        }))
    }

    async fn prune_notifications(&self, batch: i64) -> Result<u64, StoreError> {
        // By the database's clock, as its guard trigger judges (see prune_history). A
        // divergent report's claim stays: it alone keeps a replay of the report from being
        // recorded and announced as a contradiction again (its money is keyed apart).
        let pruned = sqlx::query!(
            "DELETE FROM rail_notifications WHERE id IN (
                 SELECT id FROM rail_notifications WHERE received_at < now() - history_retention()
                    AND NOT starts_with(id, 'divergent-')
                  ORDER BY received_at LIMIT $1)",
            batch
        )
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(pruned.rows_affected())
    }

    async fn pending_refunds(
        &self,
        before: DateTime<Utc>,
        limit: i64,
        pass: i64,
    ) -> Result<Vec<RefundOrder>, StoreError> {
        let rows = sqlx::query!(
            r#"SELECT f.rtr_id, r.end_to_end_id, f.valor, f.descricao
                 FROM refunds f JOIN received_pix r ON r.id = f.received_pix_id
                WHERE f.status = 'EM_PROCESSAMENTO' AND f.requested_at < $1
                ORDER BY md5(f.rtr_id || $3::bigint::text) LIMIT $2"#,
            before,
            limit,
            pass
        )
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        // One unreadable row must not stop the reconciler from finishing the others: it is
        // logged as the fault it is and left for operations.
        let mut orders = Vec::with_capacity(rows.len());
        for r in rows {
            let order = (|| {
                Ok::<_, StoreError>(RefundOrder {
                    rtr_id: RtrId::parse(&r.rtr_id).map_err(unexpected)?,
                    end_to_end_id: EndToEndId::parse(&r.end_to_end_id).map_err(unexpected)?,
                    valor: Amount::from_centavos(r.valor).map_err(unexpected)?,
                    descricao: r.descricao,
                })
            })();
            match order {
                Ok(o) => orders.push(o),
                Err(e) => tracing::error!(error = %e, "a pending refund does not read back: left for operations"),
            }
        }
        Ok(orders)
    }

    async fn find_refund(
        &self,
        merchant: MerchantId,
        e2eid: &EndToEndId,
        id: &RefundId,
    ) -> Result<Option<Refund>, StoreError> {
        let row = sqlx::query_as!(
            RefundRow,
            r#"SELECT f.received_pix_id, f.refund_id, f.rtr_id, f.valor, f.natureza, f.descricao, f.status, f.motivo,
                      f.requested_at, f.settled_at, f.valor_liquidado, f.request_hash, f.alerta
                 FROM refunds f JOIN received_pix r ON r.id = f.received_pix_id
                WHERE f.merchant_id = $1 AND r.end_to_end_id = $2 AND f.refund_id = $3"#,
            merchant.0,
            e2eid.as_str(),
            id.as_str()
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        row.as_ref().map(Refund::try_from).transpose()
    }

    async fn conclude_refund(
        &self,
        notification_id: &str,
        rtr_id: &RtrId,
        result: &RailVerdict,
        heard: Heard,
    ) -> Result<ConcludeOutcome, StoreError> {
        let kind = match result {
            RailVerdict::Settled { .. } => "DEVOLUCAO_LIQUIDADA",
            RailVerdict::Rejected(_) => "DEVOLUCAO_REJEITADA",
        };
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        if !claim_notification(&mut tx, notification_id, kind).await? {
            return Ok(ConcludeOutcome::Duplicate);
        }
        let refund = sqlx::query!(
            r#"SELECT f.id, f.merchant_id, f.refund_id, f.valor, f.valor_liquidado, f.valor_liquidado_informado, f.status,
                      f.xmin::text::bigint AS "version!", r.end_to_end_id
                 FROM refunds f JOIN received_pix r ON r.id = f.received_pix_id
                WHERE f.rtr_id = $1 FOR UPDATE OF f"#,
            rtr_id.as_str()
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_error)?;
        // Unknown: roll back, so that the notification can be applied if it is retried later.
        let Some(refund) = refund else { return Ok(ConcludeOutcome::Unknown) };
        let movement = Movement {
            flow: Flow::Refund,
            id: refund.id,
            merchant: MerchantId(refund.merchant_id),
            key: rtr_id.as_str().to_owned(),
            valor: Amount::from_centavos(refund.valor).map_err(unexpected)?,
            booked: Flow::Refund.booked(&refund.status)?,
            version: refund.version,
            assumed: verdicts::assumed(refund.valor_liquidado, refund.valor_liquidado_informado)?,
            reference: json!({"endToEndId": refund.end_to_end_id, "id": refund.refund_id, "rtrId": rtr_id.as_str()}),
        };
        let outcome = verdicts::apply(&mut tx, &self.accounts, &movement, notification_id, result, heard).await?;
        // Unconfirmed: roll back the claim too, so that the notification is applied once
        // the rail's status confirms it.
        if !matches!(outcome, ConcludeOutcome::Unconfirmed(_)) {
            tx.commit().await.map_err(store_error)?;
        }
        Ok(outcome)
    }
}
