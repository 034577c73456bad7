//! The reconciler: finishes orders (Pix out and refunds) left EM_PROCESSAMENTO (a crash
//! between reserve and order, a lost notification, an unreachable rail) by asking the rail
//! where each stands, and credits Pix paid in whose notification never arrived, from the
//! rail's statement. The rail is idempotent on order ids, so re-sending an order it never
//! got cannot send twice; verdicts are applied at most once, so a late notification
//! changes nothing. Then what merchants owe operations is repaid from what they have.

use super::account::AccountPorts;
use super::payments::PaymentPorts;
use super::transfers::TransferPorts;
use crate::domain::ids::RtrId;
use crate::domain::payment::RefundOrder;
use crate::domain::transfer::Transfer;
use crate::ports::{
    ConcludeOutcome, Heard, ParkedVerdict, RailError, RailStatus, RailVerdict, RecordOutcome, StoreError, VerdictOn,
};
use chrono::Duration;

/// The ports the reconciler runs with: a transfer's, a payment's and the ledger (the
/// application state has them all).
pub trait ReconcilePorts: TransferPorts + PaymentPorts + AccountPorts {}

impl<P: TransferPorts + PaymentPorts + AccountPorts> ReconcilePorts for P {}

/// What one reconciliation pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    pub checked: u32,
    pub settled: u32,
    pub rejected: u32,
    pub resent: u32,
    pub still_pending: u32,
    pub errors: u32,
    /// Pix paid in found on the rail's statement but not in our books, now credited.
    pub received_recovered: u32,
    /// Statement entries that contradict what we booked (flagged).
    pub received_flagged: u32,
    /// Orders the pass had no time for.
    pub left_for_next_pass: u32,
    /// Merchants who repaid some of what they owe operations.
    pub debts_repaid: u32,
    /// Parked reversing notifications the rail's status now judged (booked or set aside).
    pub reversals_judged: u32,
    /// Parked reversing notifications its status still cannot judge.
    pub reversals_waiting: u32,
}

/// Where a pass over `len` orders starts, pass number `pass` (the minute): scattered (a
/// pass that checks only a few orders must not leave the next to check the same ones).
fn first_of(len: usize, pass: i64) -> usize {
    match u64::try_from(len) {
        Ok(n) if n > 0 => {
            // The golden ratio's steps around the circle, scaled to the orders: successive
            // passes land far apart and, over many, everywhere.
            let turn = pass.unsigned_abs().wrapping_mul(0x9E37_79B9_7F4A_7C15);
            usize::try_from((u128::from(turn) * u128::from(n)) >> 64).unwrap_or(0)
        }
        _ => 0,
    }
}

/// How far back the rail's statement of Pix paid in is read on each pass.
pub const STATEMENT_LOOKBACK_HOURS: i64 = 24;

/// An order waiting for its verdict.
enum Pending {
    Transfer(Transfer),
    Refund(RtrId, RefundOrder),
}

impl Pending {
    fn id(&self) -> &str {
        match self {
            Pending::Transfer(t) => t.end_to_end_id.as_str(),
            Pending::Refund(rtr, _) => rtr.as_str(),
        }
    }

    async fn status(&self, ports: &impl ReconcilePorts) -> Result<RailStatus, RailError> {
        match self {
            Pending::Transfer(t) => TransferPorts::rail(ports).transfer_status(t.end_to_end_id.as_str()).await,
            Pending::Refund(rtr, _) => TransferPorts::rail(ports).refund_status(rtr.as_str()).await,
        }
    }

    /// Sends the order again (the rail applies an order id once). A final rejection of
    /// the order releases its reservation, as on the request path.
    async fn resend(&self, ports: &impl ReconcilePorts) -> Result<(), anyhow::Error> {
        match self {
            Pending::Transfer(t) => super::transfers::dispatch(ports, t).await.map_err(anyhow::Error::new),
            Pending::Refund(rtr, order) => match TransferPorts::rail(ports).send_refund(order).await {
                Err(RailError::Rejected(rejection)) => {
                    let id = format!("rejected-{}", rtr.as_str());
                    let verdict = RailVerdict::Rejected(rejection);
                    ports.pix().conclude_refund(&id, rtr, &verdict, Heard::FromRail).await?;
                    Ok(())
                }
                other => other.map_err(anyhow::Error::new),
            },
        }
    }

    async fn conclude(&self, ports: &impl ReconcilePorts, verdict: &RailVerdict) -> Result<(), StoreError> {
        let notification = format!("reconcile-{}", self.id());
        match self {
            Pending::Transfer(t) => {
                ports.transfers().conclude(&notification, &t.end_to_end_id, verdict, Heard::OnStatusRead).await?
            }
            Pending::Refund(rtr, _) => {
                ports.pix().conclude_refund(&notification, rtr, verdict, Heard::OnStatusRead).await?
            }
        };
        Ok(())
    }
}

/// Orders of each kind a pass reads at most: all of them in a normal day; under a backlog,
/// a draw that changes every pass (orders the rail never answers clearly would otherwise
/// keep the oldest places, and the newer ones out, for ever).
pub const PENDING_PER_PASS: i64 = 1000;

/// How long into a pass it still starts an order (the function runs 55 s, the recurrences
/// sweep after the pass; one order can take a status read, a re-send and its booking, a
/// few rail timeouts). Orders left over wait for the next pass.
pub const ORDERS_BUDGET: std::time::Duration = std::time::Duration::from_secs(20);

/// Reconciles transfers and refunds older than `grace` (so in-flight requests are left
/// alone), starting orders for up to [`ORDERS_BUDGET`], after crediting what the rail's
/// statement shows.
pub async fn run(ports: &impl ReconcilePorts, grace: Duration) -> Result<Report, StoreError> {
    run_within(ports, grace, ORDERS_BUDGET).await
}

/// [`run`], starting no order once `budget` has passed since the pass began. The
/// statement comes first: a slow rail and many orders must not keep Pix paid in from being
/// credited (nor its fault keep the orders from being reconciled); then the parked
/// reversing notifications, for at most [`PARKED_BUDGET`] of that `budget`. Each pass
/// starts at another order, picked by the minute, so orders that never finish do not hold
/// the others back.
pub async fn run_within(
    ports: &impl ReconcilePorts,
    grace: Duration,
    budget: std::time::Duration,
) -> Result<Report, StoreError> {
    let started = std::time::Instant::now();
    let now = TransferPorts::clock(ports).now();
    let mut report = Report::default();
    // One order's fault is counted and logged, and the others are still reconciled; a
    // fault of the store (not the rail's: those are expected) then fails the pass, so
    // that the function's error alarm sees it. The statement's likewise.
    let mut store_fault = None;
    if let Err(e) = recover_received(ports, &mut report).await {
        tracing::error!(error = %e, "reconciler could not book the rail's statement");
        report.errors += 1;
        store_fault = Some(e);
    }
    // Passes are told apart by the minute: where they start, what they draw.
    let pass = now.timestamp() / 60;
    // Then the reversing notifications kept for want of the rail's status: few, and each
    // a movement booked against the rail's word until judged.
    if let Err(e) = judge_parked(ports, pass, budget.min(PARKED_BUDGET), &mut report).await {
        tracing::error!(error = %e, "reconciler could not judge the parked notifications");
        store_fault.get_or_insert(e);
    }
    let before = now - grace;
    let mut pending: Vec<Pending> =
        ports.transfers().pending(before, PENDING_PER_PASS, pass).await?.into_iter().map(Pending::Transfer).collect();
    for order in ports.pix().pending_refunds(before, PENDING_PER_PASS, pass).await? {
        pending.push(Pending::Refund(order.rtr_id.clone(), order));
    }
    let first = first_of(pending.len(), pass);
    pending.rotate_left(first);
    for p in &pending {
        if started.elapsed() >= budget {
            report.left_for_next_pass += 1;
            continue;
        }
        report.checked += 1;
        match reconcile(ports, p, &mut report).await {
            Ok(()) => {}
            Err(Fault::Rail(e)) => {
                tracing::warn!(order = p.id(), error = %e, "reconciler could not finish an order");
                report.errors += 1;
            }
            Err(Fault::Store(e)) => {
                tracing::error!(order = p.id(), error = %e, "reconciler could not book an order");
                report.errors += 1;
                store_fault.get_or_insert(e);
            }
        }
    }
    // Last, as settlements booked above may leave a merchant owing.
    if let Err(e) = repay_debts(ports, &mut report).await {
        tracing::error!(error = %e, "reconciler could not repay what merchants owe");
        report.errors += 1;
        store_fault.get_or_insert(e);
    }
    tracing::info!(?report, "reconciliation pass");
    // Every pass, zero included: an alarm watches orders being left over pass after pass
    // (a rail too slow, or too many orders, for the pass's budget).
    let left = f64::from(report.left_for_next_pass);
    crate::telemetry::metrics(&[("ReconcilerOrdersLeft", left, crate::telemetry::Unit::Count)]);
    match store_fault {
        Some(e) => Err(e),
        None => Ok(report),
    }
}

/// How long into its step the reconciler still starts judging a parked notification (each
/// is a status read: a rail timeout at worst). Those left over are judged next pass.
pub const PARKED_BUDGET: std::time::Duration = std::time::Duration::from_secs(10);

/// Notifications that would reverse a decided movement, kept because the rail's status
/// could not judge them: judged again as the notification was (booked if the status now
/// confirms it, set aside if it contradicts it, kept if it still cannot say), starting for
/// up to `budget`, at a place picked by `pass` (the minute) so that ones the rail never
/// judges do not hold the others back. One's fault is counted and the others go on; a
/// fault of the store is returned after them.
async fn judge_parked(
    ports: &impl ReconcilePorts,
    pass: i64,
    budget: std::time::Duration,
    report: &mut Report,
) -> Result<(), StoreError> {
    let started = std::time::Instant::now();
    let mut parked = match ports.transfers().parked_verdicts(100).await {
        Ok(parked) => parked,
        Err(e) => {
            report.errors += 1;
            return Err(e);
        }
    };
    let first = first_of(parked.len(), pass);
    parked.rotate_left(first);
    let mut store_fault = None;
    for p in &parked {
        if started.elapsed() >= budget {
            report.reversals_waiting += 1;
            continue;
        }
        match judge_one(ports, p).await {
            Ok(true) => report.reversals_judged += 1,
            Ok(false) => report.reversals_waiting += 1,
            Err(e) => {
                tracing::error!(error = %e, "reconciler could not judge a parked notification");
                report.errors += 1;
                report.reversals_waiting += 1;
                store_fault.get_or_insert(e);
            }
        }
    }
    if report.reversals_waiting > 0 {
        tracing::warn!(waiting = report.reversals_waiting, "reversing notifications still wait for the rail's status");
    }
    // Every pass, zero included: an alarm watches it stay above zero.
    let waiting = f64::from(report.reversals_waiting);
    crate::telemetry::metrics(&[("RailVerdictsWaiting", waiting, crate::telemetry::Unit::Count)]);
    store_fault.map_or(Ok(()), Err)
}

/// Judges one parked notification again; whether it is judged (booked or set aside, and
/// its resolution recorded) rather than still waiting.
async fn judge_one(ports: &impl ReconcilePorts, parked: &ParkedVerdict) -> Result<bool, StoreError> {
    let id = parked.notification_id.as_str();
    let outcome = match &parked.on {
        VerdictOn::Transfer(e2eid) => super::transfers::conclude(ports, id, e2eid, &parked.verdict).await?,
        VerdictOn::Refund(rtr_id) => match super::payments::conclude_refund(ports, id, rtr_id, &parked.verdict).await {
            Ok(outcome) => outcome,
            Err(super::payments::PaymentError::Store(e)) => return Err(e),
            Err(e) => return Err(StoreError::Unexpected(e.into())),
        },
    };
    if outcome == ConcludeOutcome::Parked {
        return Ok(false);
    }
    ports.transfers().unpark_verdict(id, outcome.resultado()).await?;
    Ok(true)
}

/// Repays what each merchant owes operations from its available balance, as far as it
/// goes (a transfer or a refund repays first as well; this catches the money that came in
/// since). Debts come from contradictory verdicts: a handful of merchants at most.
async fn repay_debts(ports: &impl ReconcilePorts, report: &mut Report) -> Result<(), StoreError> {
    for (merchant, _) in AccountPorts::ledger(ports).owed().await? {
        if !AccountPorts::ledger(ports).repay_owed(merchant).await?.is_zero() {
            report.debts_repaid += 1;
        }
    }
    Ok(())
}

/// What the reconciler does each minute (the scheduled function, `tucano dev`'s task): the
/// pass, then Pix Automático's sweep and the history's pruning, each whatever the steps
/// before it met — a store fault in one order fails the pass (for the function's error
/// alarm) but must not stop every merchant's recurring charges. Every outcome is returned.
pub async fn minute(state: &super::AppState, grace: Duration) -> Minute {
    let pass = run(state, grace).await;
    let swept = super::recurrences::sweep(state).await;
    let pruned = super::retention::prune(state).await;
    Minute { pass, swept, pruned }
}

/// The outcomes of one [`minute`].
pub struct Minute {
    pub pass: Result<Report, StoreError>,
    pub swept: Result<u64, super::recurrences::RecError>,
    pub pruned: Result<crate::ports::PrunedHistory, StoreError>,
}

/// Why one order was not finished.
enum Fault {
    /// The rail did not answer, or not usefully (a re-send it refused is no fault).
    Rail(anyhow::Error),
    Store(StoreError),
}

impl From<StoreError> for Fault {
    fn from(e: StoreError) -> Self {
        Fault::Store(e)
    }
}

/// Asks the rail where one order stands and books what it says, or sends the order again
/// if the rail never got it.
async fn reconcile(ports: &impl ReconcilePorts, p: &Pending, report: &mut Report) -> Result<(), Fault> {
    let verdict = match p.status(ports).await.map_err(|e| Fault::Rail(e.into()))? {
        RailStatus::Decided(verdict) => verdict,
        RailStatus::Pending => {
            report.still_pending += 1;
            return Ok(());
        }
        RailStatus::Unknown => {
            p.resend(ports).await.map_err(Fault::Rail)?;
            report.resent += 1;
            return Ok(());
        }
    };
    p.conclude(ports, &verdict).await?;
    match verdict {
        RailVerdict::Settled { .. } => report.settled += 1,
        RailVerdict::Rejected(_) => report.rejected += 1,
    }
    Ok(())
}

/// Credits what the rail's statement shows paid in and our books miss, and flags what it
/// reports otherwise than booked. What is booked as reported is passed over in one query:
/// the statement covers a day, and the pass runs every minute.
async fn recover_received(ports: &impl ReconcilePorts, report: &mut Report) -> Result<(), StoreError> {
    let since = TransferPorts::clock(ports).now() - Duration::hours(STATEMENT_LOOKBACK_HOURS);
    let statement = match TransferPorts::rail(ports).received_since(since).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "reconciler could not read the rail's statement");
            report.errors += 1;
            return Ok(());
        }
    };
    let booked = ports.pix().booked_as_reported(&statement).await?;
    for pix in statement.iter().filter(|p| !booked.contains(p.end_to_end_id.as_str())) {
        let notification = format!("statement-{}", pix.end_to_end_id.as_str());
        match ports.pix().record_incoming(&notification, pix).await? {
            RecordOutcome::Recorded { .. } => {
                tracing::warn!(e2eid = pix.end_to_end_id.as_str(), "Pix paid in recovered from the rail's statement");
                report.received_recovered += 1;
            }
            RecordOutcome::Divergent { .. } => report.received_flagged += 1,
            RecordOutcome::Duplicate => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::first_of;

    #[test]
    fn passes_start_at_every_order_and_far_from_where_the_last_one_did() {
        let starts: Vec<usize> = (1_000..1_100).map(|minute| first_of(300, minute)).collect();
        let distinct: std::collections::BTreeSet<_> = starts.iter().collect();
        assert!(distinct.len() > 60, "{distinct:?}");
        let next_door = starts.windows(2).filter(|w| w[1].abs_diff(w[0]) <= 5).count();
        assert!(next_door < 10, "{starts:?}");
        assert!((0..50).all(|minute| first_of(1, minute) == 0));
        assert_eq!(first_of(0, 7), 0, "nothing pending");
    }
}
