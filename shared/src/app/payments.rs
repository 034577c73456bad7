//! Use cases of money coming in and going back: notifications from the rail (a Pix
//! received, a refund settled or rejected), refunds, received Pix, balance and statement.

use super::AppState;
use crate::domain::ids::{EndToEndId, RefundId, RtrId};
use crate::domain::merchant::Merchant;
use crate::domain::payment::{IncomingPix, ReceivedPix, Refund, RefundOrder, RefundRejection, RefundRequest};
use crate::ports::{
    Clock, ConcludeOutcome, Heard, Page, PixQuery, PixRail, PixStore, RailError, RailVerdict, RecordOutcome,
    RefundOutcome, StoreError,
};

/// The ports the payment use cases run with (the application state has them all).
pub trait PaymentPorts {
    fn pix(&self) -> &dyn PixStore;
    fn rail(&self) -> &dyn PixRail;
    fn clock(&self) -> &dyn Clock;
    /// Our ISPB, the first part of the refund ids we make.
    fn ispb(&self) -> &str;
}

impl PaymentPorts for AppState {
    fn pix(&self) -> &dyn PixStore {
        self.pix.as_ref()
    }
    fn rail(&self) -> &dyn PixRail {
        self.rail.as_ref()
    }
    fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }
    fn ispb(&self) -> &str {
        &self.config.ispb
    }
}

/// Why a payment use case did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    /// No received Pix with this endToEndId for this merchant.
    #[error("no such Pix")]
    PixNotFound,
    /// No refund with this id on that Pix for this merchant.
    #[error("no such refund")]
    RefundNotFound,
    /// The Pix already has a refund with this id and other content; the same content is a replay.
    #[error("the refund id is already used for a different refund")]
    RefundIdInUse,
    /// The refund breaks a Bacen rule or the balance does not cover it; nothing is reserved.
    #[error(transparent)]
    Rejected(#[from] RefundRejection),
    /// A rail notification about a refund we never ordered.
    #[error("unknown refund")]
    UnknownRefund,
    /// The store failed: answered 503 when it is unavailable, 500 otherwise.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Applies a Pix the rail reports. Replays are no-ops.
pub async fn receive_pix(
    ports: &impl PaymentPorts,
    notification_id: &str,
    pix: &IncomingPix,
) -> Result<RecordOutcome, PaymentError> {
    let outcome = ports.pix().record_incoming(notification_id, pix).await?;
    reported(&outcome, pix);
    Ok(outcome)
}

/// Records a batch of Pix the rail reported (see [`receive_pix`]), answering for each in
/// order.
pub async fn receive_all(
    ports: &impl PaymentPorts,
    batch: &[(&str, &IncomingPix)],
) -> Vec<Result<RecordOutcome, PaymentError>> {
    let outcomes = ports.pix().record_incoming_all(batch).await;
    outcomes
        .into_iter()
        .zip(batch)
        .map(|(outcome, (_, pix))| {
            let outcome = outcome?;
            reported(&outcome, pix);
            Ok(outcome)
        })
        .collect()
}

/// Logs and counts a received Pix as recorded.
fn reported(outcome: &RecordOutcome, pix: &IncomingPix) {
    match outcome {
        RecordOutcome::Recorded { merchant, alert } => {
            tracing::info!(
                merchant_id = merchant.map(|m| m.to_string()).unwrap_or_default(),
                alerta = alert.map(|a| a.as_str()).unwrap_or(""),
                "Pix received"
            );
            crate::telemetry::metrics(&[
                ("PixReceived", 1.0, crate::telemetry::Unit::Count),
                ("PixReceivedValue", pix.valor.centavos() as f64, crate::telemetry::Unit::None),
            ]);
        }
        RecordOutcome::Duplicate => tracing::info!("duplicate Pix notification ignored"),
        RecordOutcome::Divergent { .. } => {}
    }
}

/// Applies the rail's verdict on a refund. Replays are no-ops.
/// One that would reverse what was booked waits for the rail's status (see
/// [`conclude_notified`](super::verdicts::conclude_notified)); kept, if it cannot judge, with
/// the transfers' parked notifications.
pub async fn conclude_refund(
    ports: &(impl PaymentPorts + super::transfers::TransferPorts),
    notification_id: &str,
    rtr_id: &RtrId,
    result: &RailVerdict,
) -> Result<ConcludeOutcome, PaymentError> {
    let on = crate::ports::VerdictOn::Refund(rtr_id.clone());
    let outcome = super::verdicts::conclude_notified(
        result,
        |heard| ports.pix().conclude_refund(notification_id, rtr_id, result, heard),
        || PaymentPorts::rail(ports).refund_status(rtr_id.as_str()),
        || ports.transfers().park_verdict(notification_id, &on, result),
    )
    .await?;
    match outcome {
        ConcludeOutcome::Unknown => Err(PaymentError::UnknownRefund),
        other => Ok(other),
    }
}

/// The result of a refund request: the refund, and whether this call created it.
pub struct RefundCreated {
    pub refund: Refund,
    pub created: bool,
}

/// `PUT /pix/{e2eid}/devolucao/{id}`: reserve the amount, then order the refund from the
/// rail. The rail's notification settles or voids the reservation later.
pub async fn refund(
    ports: &impl PaymentPorts,
    merchant: &Merchant,
    e2eid: &EndToEndId,
    request: &RefundRequest,
    fingerprint: [u8; 32],
) -> Result<RefundCreated, PaymentError> {
    let now = ports.clock().now();
    let rtr_id = RtrId::generate(ports.ispb(), now);
    let refund = match ports.pix().request_refund(merchant.id, e2eid, request, &rtr_id, fingerprint, now).await? {
        RefundOutcome::Created(refund) => refund,
        RefundOutcome::Existing { refund, same_request: true } => return Ok(RefundCreated { refund, created: false }),
        RefundOutcome::Existing { .. } => return Err(PaymentError::RefundIdInUse),
        RefundOutcome::PixNotFound => return Err(PaymentError::PixNotFound),
        RefundOutcome::Rejected(r) => return Err(r.into()),
    };
    let order = RefundOrder {
        rtr_id: refund.rtr_id.clone(),
        end_to_end_id: e2eid.clone(),
        valor: refund.valor,
        descricao: refund.descricao.clone(),
    };
    match ports.rail().send_refund(&order).await {
        Ok(()) => {}
        // The order may or may not have arrived: the refund stays EM_PROCESSAMENTO and the
        // reservation stays in place until the rail's verdict (or the reconciler) decides.
        Err(RailError::Unavailable(e)) => {
            tracing::warn!(
                rtr_id = refund.rtr_id.as_str(),
                error = format!("{e:#}"),
                "refund order not confirmed by the rail"
            )
        }
        // Rejected with a final reason code: nothing will leave; release the reservation now.
        Err(RailError::Rejected(rejection)) => {
            let result = RailVerdict::Rejected(rejection);
            let id = format!("rejected-{}", refund.rtr_id.as_str());
            ports.pix().conclude_refund(&id, &refund.rtr_id, &result, Heard::FromRail).await?;
            let current = ports.pix().find_refund(merchant.id, e2eid, &request.id).await?.unwrap_or(refund);
            return Ok(RefundCreated { refund: current, created: true });
        }
    }
    Ok(RefundCreated { refund, created: true })
}

pub async fn get_refund(
    ports: &impl PaymentPorts,
    merchant: &Merchant,
    e2eid: &EndToEndId,
    id: &RefundId,
) -> Result<Refund, PaymentError> {
    ports.pix().find_refund(merchant.id, e2eid, id).await?.ok_or(PaymentError::RefundNotFound)
}

pub async fn get_pix(
    ports: &impl PaymentPorts,
    merchant: &Merchant,
    e2eid: &EndToEndId,
) -> Result<ReceivedPix, PaymentError> {
    ports.pix().find(merchant.id, e2eid).await?.ok_or(PaymentError::PixNotFound)
}

/// The Pix received for the charge `txid` created at `criacao` (with their refunds): what
/// `GET /cob/{txid}` and `GET /cobv/{txid}` show on a concluded charge.
pub async fn pix_of_charge(
    ports: &impl PaymentPorts,
    merchant: &Merchant,
    txid: &crate::domain::ids::Txid,
    criacao: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<ReceivedPix>, PaymentError> {
    pix_of_charges(ports, merchant, std::slice::from_ref(txid), criacao).await
}

/// The Pix of a page of charges (`GET /cob`, `GET /cobv`), by txid: those received for
/// its concluded ones (`CobCompleta.pix`, as the spec's list example shows them).
pub async fn pix_of_page<'a>(
    ports: &impl PaymentPorts,
    merchant: &Merchant,
    concluded: impl Iterator<Item = (&'a crate::domain::ids::Txid, chrono::DateTime<chrono::Utc>)>,
) -> Result<std::collections::HashMap<String, Vec<ReceivedPix>>, PaymentError> {
    let (txids, created): (Vec<_>, Vec<_>) = concluded.map(|(t, c)| (t.clone(), c)).unzip();
    let mut by_charge: std::collections::HashMap<String, Vec<ReceivedPix>> = std::collections::HashMap::new();
    let Some(since) = created.into_iter().min() else { return Ok(by_charge) };
    for pix in pix_of_charges(ports, merchant, &txids, since).await? {
        if let Some(txid) = pix.txid.as_ref().map(|t| t.as_str().to_owned()) {
            by_charge.entry(txid).or_default().push(pix);
        }
    }
    Ok(by_charge)
}

/// The Pix received for these charges (a page of `GET /cob` or `/cobv`: its concluded
/// ones), each with its refunds, in one read per thousand; `since`: the earliest charge's
/// creation. Every Pix after it, whenever it is dated (the sandbox dates a payment made
/// "as on" a later day on that day).
pub async fn pix_of_charges(
    ports: &impl PaymentPorts,
    merchant: &Merchant,
    txids: &[crate::domain::ids::Txid],
    since: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<ReceivedPix>, PaymentError> {
    const PAGE: u32 = 1000;
    let mut all = Vec::new();
    if txids.is_empty() {
        return Ok(all);
    }
    let mut query = PixQuery {
        inicio: since,
        fim: ports.clock().now().max(since) + chrono::Duration::days(3650),
        txids: txids.to_vec(),
        txid_presente: None,
        devolucao_presente: None,
        pagador: None,
        pagina: 0,
        itens_por_pagina: PAGE,
    };
    loop {
        let page = ports.pix().list(merchant.id, &query).await?;
        let last = page.items.len() < PAGE as usize;
        all.extend(page.items);
        if last {
            return Ok(all);
        }
        query.pagina += 1;
    }
}

pub async fn list_pix(
    ports: &impl PaymentPorts,
    merchant: &Merchant,
    query: &PixQuery,
) -> Result<Page<ReceivedPix>, PaymentError> {
    Ok(ports.pix().list(merchant.id, query).await?)
}
