//! The reconciler: finishes orders (Pix out and refunds) left EM_PROCESSAMENTO (a crash
//! between reserve and order, a lost notification, an unreachable rail) by asking the rail
//! where each stands. The rail is idempotent on order ids, so re-sending an order it never
//! got cannot send twice; verdicts are applied at most once, so a late notification
//! changes nothing.

use super::AppState;
use crate::domain::ids::RtrId;
use crate::domain::transfer::Transfer;
use crate::ports::{RailError, RailStatus, RailVerdict, StoreError};
use crate::rail::protocol::OrdemDevolucao;
use chrono::Duration;

/// What one reconciliation pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    pub checked: u32,
    pub settled: u32,
    pub rejected: u32,
    pub resent: u32,
    pub still_pending: u32,
    pub errors: u32,
}

/// An order waiting for its verdict.
enum Pending {
    Transfer(Transfer),
    Refund(RtrId, OrdemDevolucao),
}

impl Pending {
    fn id(&self) -> &str {
        match self {
            Pending::Transfer(t) => t.end_to_end_id.as_str(),
            Pending::Refund(rtr, _) => rtr.as_str(),
        }
    }

    async fn status(&self, state: &AppState) -> Result<RailStatus, RailError> {
        match self {
            Pending::Transfer(t) => state.rail.transfer_status(t.end_to_end_id.as_str()).await,
            Pending::Refund(rtr, _) => state.rail.refund_status(rtr.as_str()).await,
        }
    }

    /// Sends the order again (the rail applies an order id once).
    async fn resend(&self, state: &AppState) -> Result<(), anyhow::Error> {
        match self {
            Pending::Transfer(t) => super::transfers::dispatch(state, t).await.map_err(anyhow::Error::new),
            Pending::Refund(_, order) => state.rail.send_refund(order).await.map_err(anyhow::Error::new),
        }
    }

    async fn conclude(&self, state: &AppState, verdict: &RailVerdict) -> Result<(), StoreError> {
        let notification = format!("reconcile-{}", self.id());
        match self {
            Pending::Transfer(t) => state.transfers.conclude(&notification, &t.end_to_end_id, verdict).await?,
            Pending::Refund(rtr, _) => state.pix.conclude_refund(&notification, rtr, verdict).await?,
        };
        Ok(())
    }
}

/// Reconciles transfers and refunds older than `grace` (so in-flight requests are left
/// alone).
pub async fn run(state: &AppState, grace: Duration) -> Result<Report, StoreError> {
    let before = state.clock.now() - grace;
    let mut pending: Vec<Pending> = state.transfers.pending(before).await?.into_iter().map(Pending::Transfer).collect();
    for order in state.pix.pending_refunds(before).await? {
        match RtrId::parse(&order.rtr_id) {
            Ok(rtr) => pending.push(Pending::Refund(rtr, order)),
            Err(_) => tracing::error!("a stored refund has an invalid rtrId"),
        }
    }
    let mut report = Report::default();
    for p in &pending {
        report.checked += 1;
        let verdict = match p.status(state).await {
            Ok(RailStatus::Settled { at }) => RailVerdict::Settled { at },
            Ok(RailStatus::Rejected { motivo }) => RailVerdict::Rejected { motivo },
            Ok(RailStatus::Pending) => {
                report.still_pending += 1;
                continue;
            }
            Ok(RailStatus::Unknown) => {
                match p.resend(state).await {
                    Ok(()) => report.resent += 1,
                    Err(e) => {
                        tracing::warn!(order = p.id(), error = %e, "reconciler could not resend");
                        report.errors += 1;
                    }
                }
                continue;
            }
            Err(e) => {
                tracing::warn!(order = p.id(), error = %e, "reconciler could not reach the rail");
                report.errors += 1;
                continue;
            }
        };
        match verdict {
            RailVerdict::Settled { .. } => report.settled += 1,
            RailVerdict::Rejected { .. } => report.rejected += 1,
        }
        p.conclude(state, &verdict).await?;
    }
    tracing::info!(?report, "reconciliation pass");
    Ok(report)
}
