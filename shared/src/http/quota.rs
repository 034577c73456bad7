//! Admission against per-merchant quotas: a counted route's request is counted (a list in
//! its merchant's minute, a key lookup in its merchant's token bucket), and over the quota
//! it is answered 429 with `Retry-After` before the handler runs, so nothing changes and
//! nothing is looked up. A key lookup's answer then settles its cost (a miss costs more,
//! an order sent gives a token back).

use crate::app::AppState;
use crate::domain::merchant::Merchant;
use crate::domain::quota::{dict_settlement, window, Quota, MILLI};
use crate::http::problem::{ApiError, ProblemKind};
use http::{header, HeaderValue};

fn limited(detail: String, retry_after: u64) -> ApiError {
    let mut e = ApiError::new(ProblemKind::RateLimited, detail);
    e.headers.push((header::RETRY_AFTER, HeaderValue::from(retry_after)));
    e
}

/// Counts the request; `Err` with the 429 when the merchant's quota is used up. A counter
/// that cannot be reached lets the request through (logged): the stage's throttling still
/// bounds the whole API.
pub async fn admit(state: &AppState, quota: Quota, merchant: &Merchant) -> Result<(), ApiError> {
    let now = state.clock.now();
    let counters = &state.rate_counter;
    match quota {
        Quota::Unlimited => Ok(()),
        Quota::List => {
            let limit = state.config.quotas.list_per_minute;
            let (start, retry_after) = window(now);
            match counters.count(merchant.id, "list", start).await {
                Ok(used) if used > limit => Err(limited(
                    format!("At most {limit} list requests a minute; retry after {retry_after} s."),
                    retry_after,
                )),
                Ok(_) => Ok(()),
                Err(e) => Ok(tracing::warn!(quota = "list", error = %e, "quota counter unavailable: admitted")),
            }
        }
        Quota::Dict => {
            let bucket = state.config.quotas.dict_bucket(merchant.individual);
            match counters.adjust_bucket(merchant.id, bucket, -MILLI, Some(0), now).await {
                Ok((_, true)) => Ok(()),
                Ok((tokens, false)) => {
                    let retry_after = bucket.seconds_until_one(tokens);
                    Err(limited(
                        format!(
                            "The key-lookup quota is used up (a key not found costs 20); retry after {retry_after} s."
                        ),
                        retry_after,
                    ))
                }
                Err(e) => Ok(tracing::warn!(quota = "dict", error = %e, "quota counter unavailable: admitted")),
            }
        }
    }
}

/// After an admitted request was answered `status`: what its answer costs beyond admission.
pub async fn settle(state: &AppState, quota: Quota, merchant: &Merchant, status: u16) {
    let delta = match quota {
        Quota::Dict => dict_settlement(status),
        Quota::Unlimited | Quota::List => 0,
    };
    if delta == 0 {
        return;
    }
    let bucket = state.config.quotas.dict_bucket(merchant.individual);
    if let Err(e) = state.rate_counter.adjust_bucket(merchant.id, bucket, delta, None, state.clock.now()).await {
        tracing::warn!(quota = "dict", error = %e, "settling a key lookup's cost failed");
    }
}
