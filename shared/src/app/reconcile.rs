//! The reconciler: finishes orders (Pix out and refunds) left EM_PROCESSAMENTO (a crash between reserve and
//! order, a lost notification, an unreachable rail) by asking the rail where each stands.
//! The rail is idempotent on order ids, so re-sending an order it never got cannot send
//! twice; verdicts are applied at most once, so a late notification changes nothing.

use super::AppState;
use crate::domain::ids::RtrId;
use crate::ports::{RailStatus, RailVerdict, StoreError};
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

/// Reconciles transfers and refunds older than `grace` (so in-flight requests are left
/// alone).
pub async fn run(state: &AppState, grace: Duration) -> Result<Report, StoreError> {
    let mut report = Report::default();
    for order in state.pix.pending_refunds(state.clock.now() - grace).await? {
        report.checked += 1;
        let Ok(rtr_id) = RtrId::parse(&order.rtr_id) else {
            report.errors += 1;
            continue;
        };
        let verdict = match state.rail.refund_status(&order.rtr_id).await {
            Ok(RailStatus::Settled { at }) => RailVerdict::Settled { at },
            Ok(RailStatus::Rejected { motivo }) => RailVerdict::Rejected { motivo },
            Ok(RailStatus::Pending) => {
                report.still_pending += 1;
                continue;
            }
            Ok(RailStatus::Unknown) => {
                match state.rail.send_refund(&order).await {
                    Ok(()) => report.resent += 1,
                    Err(e) => {
                        tracing::warn!(rtr_id = order.rtr_id, error = %e, "reconciler could not resend a refund");
                        report.errors += 1;
                    }
                }
                continue;
            }
            Err(e) => {
                tracing::warn!(rtr_id = order.rtr_id, error = %e, "reconciler could not reach the rail");
                report.errors += 1;
                continue;
            }
        };
        let settled = matches!(verdict, RailVerdict::Settled { .. });
        state.pix.conclude_refund(&format!("reconcile-{}", order.rtr_id), &rtr_id, &verdict).await?;
        if settled {
            report.settled += 1;
        } else {
            report.rejected += 1;
        }
    }
    for t in state.transfers.pending(state.clock.now() - grace).await? {
        report.checked += 1;
        let e2eid = t.end_to_end_id.as_str();
        let verdict = match state.rail.transfer_status(e2eid).await {
            Ok(RailStatus::Settled { at }) => RailVerdict::Settled { at },
            Ok(RailStatus::Rejected { motivo }) => RailVerdict::Rejected { motivo },
            Ok(RailStatus::Pending) => {
                report.still_pending += 1;
                continue;
            }
            Ok(RailStatus::Unknown) => {
                // The order never reached the rail: send it now (idempotent on e2eid).
                match super::transfers::dispatch(state, &t).await {
                    Ok(()) => report.resent += 1,
                    Err(e) => {
                        tracing::warn!(e2eid, error = %e, "reconciler could not resend");
                        report.errors += 1;
                    }
                }
                continue;
            }
            Err(e) => {
                tracing::warn!(e2eid, error = %e, "reconciler could not reach the rail");
                report.errors += 1;
                continue;
            }
        };
        let settled = matches!(verdict, RailVerdict::Settled { .. });
        state.transfers.conclude(&format!("reconcile-{e2eid}"), &t.end_to_end_id, &verdict).await?;
        if settled {
            report.settled += 1;
        } else {
            report.rejected += 1;
        }
    }
    tracing::info!(?report, "reconciliation pass");
    Ok(report)
}
