//! Admission against the per-merchant list quota: a heavy list's request is counted in its
//! merchant's minute and, over the quota, answered 429 with `Retry-After` before the handler
//! runs. (Key lookups are charged where they happen: `app::transfers::lookup`.)

use crate::app::AppState;
use crate::domain::merchant::Merchant;
use crate::domain::quota::{window, Quota};
use crate::http::problem::{ApiError, ProblemKind};
use http::{header, HeaderValue};

/// The 429 problem with its `Retry-After`.
pub fn limited(detail: String, retry_after: u64) -> ApiError {
    let mut e = ApiError::new(ProblemKind::RateLimited, detail);
    e.headers.push((header::RETRY_AFTER, HeaderValue::from(retry_after)));
    e
}

/// Counts a list request; `Err` with the 429 when the merchant's minute is used up. A
/// counter that cannot be reached lets the request through (logged): the stage's
/// throttling still bounds each route.
pub async fn admit(state: &AppState, quota: Quota, merchant: &Merchant) -> Result<(), ApiError> {
    if quota != Quota::List {
        return Ok(());
    }
    let limit = state.config.quotas.list_per_minute;
    let (start, retry_after) = window(state.clock.now());
    match state.rate_counter.count(merchant.id, "list", start).await {
        Ok(used) if used > limit => {
            Err(limited(format!("At most {limit} list requests a minute; retry after {retry_after} s."), retry_after))
        }
        Ok(_) => Ok(()),
        Err(e) => {
            tracing::warn!(quota = "list", error = %e, "quota counter unavailable: admitted");
            Ok(())
        }
    }
}
