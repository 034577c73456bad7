//! The history's retention: what grows with every movement and is read only while recent
//! (webhook attempts and deliveries, outbox events, the rail's notification claims) is
//! deleted once past the database's retention (90 days, `history_retention()`), a batch of
//! each per reconciler minute. Money's records are never pruned.

use super::AppState;
use crate::ports::{PrunedHistory, StoreError};

/// Rows of each kind deleted per pass at most: 7.2 million a day, more than the history
/// grows, in statements short enough not to hold the tables' locks for long.
pub const BATCH: i64 = 5_000;

/// One pruning pass. The webhook history and the notification claims are pruned apart: a
/// fault in one (a replay that turned a delivery back while it was being pruned: the batch
/// is refused whole, and pruned next minute) does not hold the other back.
pub async fn prune(state: &AppState) -> Result<PrunedHistory, StoreError> {
    let history = state.webhooks.prune_history(BATCH).await;
    let notifications = state.pix.prune_notifications(BATCH).await;
    let pruned = PrunedHistory {
        notifications: notifications.as_ref().copied().unwrap_or(0),
        ..history.as_ref().copied().unwrap_or_default()
    };
    if pruned != PrunedHistory::default() {
        tracing::info!(?pruned, "history past its retention pruned");
    }
    history?;
    notifications?;
    Ok(pruned)
}
