//! One settle-or-void flow for money we send out (transfers and refunds): the rail's
//! verdict booked against what the books say, inside the caller's transaction with the
//! movement's row locked. A verdict that contradicts the books is booked as what really
//! happened (the money did leave, or did not) and flagged: a row in `rail_contradictions`,
//! the `alerta` on the movement, an error log line, a metric and a merchant event.

use super::ledger::{available_locked, movement_net, owed_by, post, AccountDirectory, PostError, Posted};
use super::pix::outbox;
use super::store_error;
use crate::domain::event::{DomainEvent, EventKind};
use crate::domain::ledger::{EntryKind, JournalEntry};
use crate::domain::merchant::MerchantId;
use crate::domain::money::Amount;
use crate::domain::verdict::{
    book, resettlement_postings, settlement_postings, undo_postings, Booked, Booking, Contradiction, Heard,
    RailVerdict, Standing,
};
use crate::ports::{ConcludeOutcome, StoreError};
use anyhow::anyhow;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sqlx::PgConnection;

/// A verdict as a parked notification keeps it (`parked_rail_verdicts.verdict`).
pub(crate) fn verdict_json(verdict: &RailVerdict) -> Value {
    match verdict {
        RailVerdict::Settled { at, valor } => {
            json!({"liquidado": {"horario": at.to_rfc3339(), "valor": valor.map(|v| v.to_string())}})
        }
        RailVerdict::Rejected(r) => json!({"rejeitado": {"codigo": r.code.as_str(), "motivo": r.detail}}),
    }
}

/// [`verdict_json`] read back; None if it is not one.
pub(crate) fn verdict_of(v: &Value) -> Option<RailVerdict> {
    if let Some(l) = v.get("liquidado") {
        let at = DateTime::parse_from_rfc3339(l.get("horario")?.as_str()?).ok()?.with_timezone(&Utc);
        let valor = match l.get("valor")? {
            Value::Null => None,
            Value::String(s) => Some(Amount::parse(s).ok()?),
            _ => return None,
        };
        return Some(RailVerdict::Settled { at, valor });
    }
    let r = v.get("rejeitado")?;
    let code = crate::domain::verdict::RejectionCode::parse(r.get("codigo")?.as_str()?)?;
    let detail = match r.get("motivo")? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        _ => return None,
    };
    Some(RailVerdict::Rejected(crate::domain::verdict::Rejection { code, detail }))
}

/// Which kind of outgoing movement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    Transfer,
    Refund,
}

impl Flow {
    /// The kinds of its settlement and of its corrections.
    fn kinds(self) -> (EntryKind, EntryKind) {
        match self {
            Flow::Transfer => (EntryKind::TransferSettle, EntryKind::TransferCorrection),
            Flow::Refund => (EntryKind::RefundSettle, EntryKind::RefundCorrection),
        }
    }

    /// Every entry kind of one movement of this flow.
    fn entry_kinds(self) -> [&'static str; 4] {
        match self {
            Flow::Transfer => ["transfer_reserve", "transfer_settle", "transfer_void", "transfer_correction"],
            Flow::Refund => ["refund_reserve", "refund_settle", "refund_void", "refund_correction"],
        }
    }

    /// The status names and event types of the flow: (settled, voided).
    fn statuses(self) -> (&'static str, &'static str) {
        match self {
            Flow::Transfer => ("REALIZADO", "NAO_REALIZADO"),
            Flow::Refund => ("DEVOLVIDO", "NAO_REALIZADO"),
        }
    }

    fn events(self) -> (EventKind, EventKind) {
        match self {
            Flow::Transfer => (EventKind::EnvioRealizado, EventKind::EnvioNaoRealizado),
            Flow::Refund => (EventKind::DevolucaoDevolvido, EventKind::DevolucaoNaoRealizado),
        }
    }

    pub(crate) fn booked(self, status: &str) -> Result<Booked, StoreError> {
        let (settled, voided) = self.statuses();
        match status {
            "EM_PROCESSAMENTO" => Ok(Booked::Pending),
            s if s == settled => Ok(Booked::Settled),
            s if s == voided => Ok(Booked::Voided),
            other => Err(StoreError::Unexpected(anyhow!("stored movement status {other}"))),
        }
    }
}

/// A movement as its store read it, locked.
pub(crate) struct Movement {
    pub flow: Flow,
    /// The row's id in `transfers` or `refunds`.
    pub id: i64,
    pub merchant: MerchantId,
    /// The natural key of its ledger entries: the end-to-end id of a transfer, the rtrId of a
    /// refund.
    pub key: String,
    pub valor: Amount,
    pub booked: Booked,
    /// The row's version (its `xmin`: the transaction that last changed it).
    pub version: i64,
    /// The amount booked as settled when it was assumed (the amount ordered) rather than
    /// reported by the rail.
    pub assumed: Option<Amount>,
    /// The ledger reference and the event payload's identifying fields.
    pub reference: Value,
}

/// A movement's settled amount when it was assumed rather than reported (its columns
/// `valor_liquidado` and `valor_liquidado_informado`).
pub(crate) fn assumed(valor_liquidado: Option<i64>, informado: Option<bool>) -> Result<Option<Amount>, StoreError> {
    match (valor_liquidado, informado) {
        (Some(v), Some(false)) => Amount::from_centavos(v).map(Some).map_err(|e| StoreError::Unexpected(e.into())),
        _ => Ok(None),
    }
}

/// What came back of `movement` so far (a transfer's returns; nothing for a refund).
async fn returned(conn: &mut PgConnection, movement: &Movement) -> Result<i64, StoreError> {
    match movement.flow {
        Flow::Transfer => sqlx::query_scalar!(
            r#"SELECT coalesce(sum(valor), 0)::bigint AS "sum!" FROM transfer_returns WHERE transfer_id = $1"#,
            movement.id
        )
        .fetch_one(&mut *conn)
        .await
        .map_err(store_error),
        Flow::Refund => Ok(0),
    }
}

/// Books `verdict` for `movement`; the caller commits.
pub(crate) async fn apply(
    conn: &mut PgConnection,
    accounts: &AccountDirectory,
    movement: &Movement,
    notification_id: &str,
    verdict: &RailVerdict,
    heard: Heard,
) -> Result<ConcludeOutcome, StoreError> {
    let standing = Standing { booked: movement.booked, version: movement.version };
    // A reversal confirmed by the rail's status is booked only if nothing was booked for
    // the movement since it was read: what was may be a word of the rail's newer than the
    // status read (the movement flipped and flipped back, even).
    if matches!(heard, Heard::Confirmed(then) if then != standing) {
        return Ok(ConcludeOutcome::Unconfirmed(standing));
    }
    let booking = book(movement.booked, movement.valor, movement.assumed, verdict, heard);
    let flag = booking.contradiction(movement.valor);
    let (settle_kind, correction_kind) = movement.flow.kinds();
    let m = movement.merchant;
    let reserved = movement.valor.centavos();
    let correction_key = |n: i64| format!("{}:{}", movement.key, n + 1);
    let (entry, settled) = match &booking {
        Booking::Agrees => return Ok(ConcludeOutcome::Duplicate),
        // A rejection of a transfer the receiving bank returned (some of) is contradicted by
        // the return itself, without the rail's status (see below).
        Booking::Unconfirmed
            if movement.booked == Booked::Settled
                && matches!(verdict, RailVerdict::Rejected(_))
                && returned(conn, movement).await? > 0 =>
        {
            tracing::warn!("a rejection of a transfer already returned was set aside");
            return Ok(ConcludeOutcome::Stale);
        }
        Booking::Unconfirmed => return Ok(ConcludeOutcome::Unconfirmed(standing)),
        Booking::Settle { settled } => {
            // More left than was reserved: the difference comes out of available.
            let available = if settled.centavos() > reserved { available_locked(conn, m).await? } else { 0 };
            let postings = settlement_postings(m, reserved, settled.centavos(), available);
            (balanced(settle_kind, &movement.key, postings)?, Some((*settled, settled_at(verdict)?)))
        }
        Booking::Void(_) => {
            let entry = match movement.flow {
                Flow::Transfer => JournalEntry::transfer_void(&movement.key, m, movement.valor),
                Flow::Refund => JournalEntry::refund_void(&movement.key, m, movement.valor),
            };
            (entry, None)
        }
        Booking::SettleAfterVoid { settled } => {
            let available = available_locked(conn, m).await?;
            let postings = settlement_postings(m, 0, settled.centavos(), available);
            let (_, corrections) = movement_net(conn, &movement.flow.entry_kinds(), &movement.key).await?;
            (balanced(correction_kind, &correction_key(corrections), postings)?, Some((*settled, settled_at(verdict)?)))
        }
        Booking::Resettle { from, to } => {
            let available = if to > from { available_locked(conn, m).await? } else { 0 };
            let returned = returned(conn, movement).await?;
            let postings = resettlement_postings(m, from.centavos(), to.centavos(), available, returned);
            let (_, corrections) = movement_net(conn, &movement.flow.entry_kinds(), &movement.key).await?;
            (balanced(correction_kind, &correction_key(corrections), postings)?, Some((*to, settled_at(verdict)?)))
        }
        // A transfer the receiving bank returned (some of) did leave: a rejection heard after
        // it is contradicted by the return (undone, the merchant would be credited twice:
        // by the undo and by the return). Set aside, as a notification the rail's status
        // contradicts is.
        Booking::VoidAfterSettle(_) if returned(conn, movement).await? > 0 => {
            tracing::warn!("a rejection of a transfer already returned was set aside");
            return Ok(ConcludeOutcome::Stale);
        }
        Booking::VoidAfterSettle(_) => {
            let (net, corrections) = movement_net(conn, &movement.flow.entry_kinds(), &movement.key).await?;
            // Against what the merchant owes now, under its account's lock (a repayment
            // waits, or is seen): a debt it repaid since is given back, not undone again.
            available_locked(conn, m).await?;
            let owed = owed_by(conn, m, 0).await?.owed;
            (balanced(correction_kind, &correction_key(corrections), undo_postings(m, &net, owed))?, None)
        }
    };
    let motivo = match verdict {
        RailVerdict::Rejected(r) => Some(r.motivo()),
        RailVerdict::Settled { .. } => None,
    };
    set_status(conn, movement, verdict, settled, motivo.as_deref(), flag).await?;
    let posted = match post(conn, accounts, &entry, &movement.reference).await {
        Ok(Posted::New(id)) => id,
        Ok(Posted::AlreadyPosted) => {
            return Err(StoreError::Unexpected(anyhow!("a verdict's ledger entry exists for a pending movement")))
        }
        Err(PostError::InsufficientFunds) => {
            return Err(StoreError::Unexpected(anyhow!("a verdict hit a minimum balance")))
        }
        Err(PostError::Store(e)) => return Err(e),
    };
    let (settled_status, voided_status) = movement.flow.statuses();
    let (settled_event, voided_event) = movement.flow.events();
    let (status, event) =
        if settled.is_some() { (settled_status, settled_event) } else { (voided_status, voided_event) };
    let event = DomainEvent::verdict(
        event,
        &movement.reference,
        movement.valor,
        status,
        settled.map(|(s, _)| s),
        flag.map(|c| c.as_str()),
    );
    outbox(conn, m, &event).await?;
    match flag {
        None => Ok(ConcludeOutcome::Applied),
        Some(c) => {
            let detail = json!({"verdict": verdict_name(verdict), "booked": format!("{:?}", movement.booked),
                                "valor": movement.valor.to_string(), "movement": event.payload});
            record(conn, c, &movement.key, Some(m), notification_id, Some(posted), detail).await?;
            Ok(ConcludeOutcome::Flagged(c))
        }
    }
}

fn balanced(
    kind: EntryKind,
    key: &str,
    postings: Vec<(crate::domain::ledger::Account, i64)>,
) -> Result<JournalEntry, StoreError> {
    JournalEntry::balanced(kind, key, postings)
        .ok_or_else(|| StoreError::Unexpected(anyhow!("a verdict's postings do not balance ({})", kind.as_str())))
}

/// When the rail settled: only a settlement is booked as settled, so a rejection here is
/// a bug, not a time to make up.
fn settled_at(v: &RailVerdict) -> Result<DateTime<Utc>, StoreError> {
    match v {
        RailVerdict::Settled { at, .. } => Ok(*at),
        RailVerdict::Rejected(_) => Err(StoreError::Unexpected(anyhow!("a settlement booked for a rejection"))),
    }
}

fn verdict_name(v: &RailVerdict) -> String {
    match v {
        RailVerdict::Settled { valor, .. } => {
            format!("settled {}", valor.map(|a| a.to_string()).unwrap_or_else(|| "(amount not given)".into()))
        }
        RailVerdict::Rejected(r) => format!("rejected {}", r.code.as_str()),
    }
}

async fn set_status(
    conn: &mut PgConnection,
    movement: &Movement,
    verdict: &RailVerdict,
    settled: Option<(Amount, DateTime<Utc>)>,
    motivo: Option<&str>,
    flag: Option<Contradiction>,
) -> Result<(), StoreError> {
    let (settled_status, voided_status) = movement.flow.statuses();
    let status = if settled.is_some() { settled_status } else { voided_status };
    let at = settled.map(|(_, at)| at);
    let valor_liquidado = settled.map(|(v, _)| v.centavos());
    // Reported by the rail, or assumed to be the amount ordered.
    let informado = settled.map(|_| matches!(verdict, RailVerdict::Settled { valor: Some(_), .. }));
    let alerta = flag.map(Contradiction::as_str);
    match movement.flow {
        Flow::Transfer => sqlx::query!(
            "UPDATE transfers SET status = $2, settled_at = $3, valor_liquidado = $4, valor_liquidado_informado = $7,
                    motivo = coalesce($5, motivo), alerta = coalesce($6, alerta)
              WHERE id = $1",
            movement.id,
            status,
            at,
            valor_liquidado,
            motivo,
            alerta,
            informado
        )
        .execute(&mut *conn)
        .await
        .map_err(store_error)?,
        Flow::Refund => sqlx::query!(
            "UPDATE refunds SET status = $2, settled_at = $3, valor_liquidado = $4, valor_liquidado_informado = $7,
                    motivo = coalesce($5, motivo), alerta = coalesce($6, alerta)
              WHERE id = $1",
            movement.id,
            status,
            at,
            valor_liquidado,
            motivo,
            alerta,
            informado
        )
        .execute(&mut *conn)
        .await
        .map_err(store_error)?,
    };
    Ok(())
}

/// Flags a contradiction for operations: its row, an error log line, a metric and, when it
/// concerns a merchant, a `contradicao.registrada` event.
pub(crate) async fn record(
    conn: &mut PgConnection,
    kind: Contradiction,
    subject: &str,
    merchant: Option<MerchantId>,
    notification_id: &str,
    ledger_transaction: Option<i64>,
    detail: Value,
) -> Result<(), StoreError> {
    sqlx::query!(
        "INSERT INTO rail_contradictions (kind, subject, merchant_id, notification_id, ledger_transaction_id, detail)
         VALUES ($1, $2, $3, $4, $5, $6)",
        kind.as_str(),
        subject,
        merchant.map(|m| m.0),
        notification_id,
        ledger_transaction,
        detail
    )
    .execute(&mut *conn)
    .await
    .map_err(store_error)?;
    tracing::error!(
        alerta = kind.as_str(),
        subject,
        notification_id,
        "the rail contradicted the books: booked as reported and flagged for operations"
    );
    crate::telemetry::metrics(&[("RailContradictions", 1.0, crate::telemetry::Unit::Count)]);
    if let Some(m) = merchant {
        outbox(conn, m, &DomainEvent::contradicao_registrada(kind.as_str(), subject)).await?;
    }
    Ok(())
}

#[cfg(test)]
mod parked_tests {
    use super::*;
    use crate::domain::verdict::{Rejection, RejectionCode};

    #[test]
    fn a_parked_verdict_reads_back_as_it_was_kept() {
        let at = DateTime::parse_from_rfc3339("2026-12-05T10:00:00.123456Z").unwrap().with_timezone(&Utc);
        for v in [
            RailVerdict::Settled { at, valor: None },
            RailVerdict::Settled { at, valor: Some(Amount::parse("20.01").unwrap()) },
            RailVerdict::Rejected(Rejection::new(RejectionCode::Ac07)),
            RailVerdict::Rejected(Rejection { code: RejectionCode::Ab03, detail: Some("timeout at the SPI".into()) }),
        ] {
            assert_eq!(verdict_of(&verdict_json(&v)), Some(v));
        }
        assert_eq!(verdict_of(&json!({"rejeitado": {"codigo": "XX99", "motivo": null}})), None);
        assert_eq!(verdict_of(&json!({})), None);
    }
}
