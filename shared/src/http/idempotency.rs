//! `Idempotency-Key` on mutating routes (IETF httpapi draft): the same key and request
//! replay the stored response (`Idempotent-Replayed: true`); the same key with another
//! request is 422; the same key while the first is still running is 409 with
//! `Retry-After`. A request that fails server-side (5xx) releases its key so the client can
//! retry; 2xx and 4xx answers are kept for 24 hours.
//!
//! Money never depends on this alone: every movement is also unique on its natural key in
//! Postgres, so a lost record cannot make a retry move money twice.

use super::problem::{ApiError, ProblemKind};
use super::{Deadline, Request, Response};
use crate::app::AppState;
use crate::domain::idempotency::{lock_until, request_hash, retention_until, Begin, IdempotencyKey, StoredResponse};
use crate::domain::merchant::Merchant;
use crate::ports::CipherContext;
use bytes::Bytes;
use http::{header, HeaderName, HeaderValue, StatusCode};
use std::future::Future;
use std::time::Duration;

pub const HEADER: &str = "idempotency-key";
pub const REPLAYED: &str = "idempotent-replayed";
/// The in-progress lock when nothing says how long the request may run (local server).
const DEFAULT_REMAINING: Duration = Duration::from_secs(30);
/// Response headers worth replaying.
const KEPT_HEADERS: [header::HeaderName; 2] = [header::CONTENT_TYPE, header::LOCATION];
/// A stored pseudo-header saying the body is sealed (every body is; a record stored before
/// they all were may be plain).
const SEALED: &str = "x-tucano-sealed";
use crate::app::key_policy::IDEMPOTENCY_RESPONSE as SEALED_PURPOSE;

fn sealing(merchant: &Merchant) -> CipherContext {
    CipherContext { merchant: Some(merchant.id), purpose: SEALED_PURPOSE }
}

/// Opens a sealed body before replaying it.
async fn unseal(state: &AppState, merchant: &Merchant, mut stored: StoredResponse) -> Result<Response, ApiError> {
    if stored.headers.iter().any(|(n, _)| n == SEALED) {
        stored.body =
            state.cipher.decrypt(&stored.body, sealing(merchant)).await.map_err(|e| ApiError::unavailable(e.into()))?;
        stored.headers.retain(|(n, _)| n != SEALED);
    }
    Ok(replay(stored))
}

/// A response as stored for replay, its body sealed under the merchant's key: what a
/// response shows — a payer's or debtor's document and name, a webhook secret — is
/// personal data or a secret, kept encrypted as it is in Postgres.
async fn seal(
    state: &AppState,
    merchant: &Merchant,
    res: &Response,
) -> Result<StoredResponse, crate::ports::CipherError> {
    let mut s = stored(res);
    s.body = state.cipher.encrypt(&s.body, sealing(merchant)).await?;
    s.headers.push((SEALED.to_owned(), "1".to_owned()));
    Ok(s)
}

/// `op`, and up to twice more after a short wait (50, then 250 ms) while it fails and the
/// request has over a second left: its last result.
async fn thrice<T, E, Fut: std::future::Future<Output = Result<T, E>>>(
    deadline: Option<&Deadline>,
    mut op: impl FnMut() -> Fut,
) -> Result<T, E> {
    let mut result = op().await;
    for wait_ms in [50, 250] {
        if result.is_ok() || deadline.is_some_and(|d| d.remaining() < Duration::from_millis(wait_ms + 1_000)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(wait_ms)).await;
        result = op().await;
    }
    result
}

fn replay(stored: StoredResponse) -> Response {
    let mut res = http::Response::new(Bytes::from(stored.body));
    *res.status_mut() = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    for (name, value) in stored.headers {
        if let (Ok(n), Ok(v)) = (HeaderName::try_from(name), HeaderValue::from_str(&value)) {
            res.headers_mut().insert(n, v);
        }
    }
    res.headers_mut().insert(REPLAYED, HeaderValue::from_static("true"));
    res
}

fn stored(res: &Response) -> StoredResponse {
    let headers = KEPT_HEADERS
        .iter()
        .filter_map(|h| {
            res.headers().get(h).and_then(|v| v.to_str().ok()).map(|v| (h.as_str().to_owned(), v.to_owned()))
        })
        .collect();
    StoredResponse { status: res.status().as_u16(), headers, body: res.body().to_vec() }
}

/// Runs `run` at most once per (merchant, key), unless it failed server-side.
pub async fn guard<F, Fut>(
    state: &AppState,
    merchant: &Merchant,
    required: bool,
    req: &Request,
    request_id: &str,
    run: F,
) -> Result<Response, ApiError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Response, ApiError>>,
{
    let key = match req.headers().get(HEADER) {
        None if required => {
            return Err(ApiError::new(
                ProblemKind::RequisicaoInvalida,
                "This request needs an Idempotency-Key header (1 to 255 printable ASCII characters).",
            ))
        }
        None => return run().await,
        Some(v) => v.to_str().ok().and_then(IdempotencyKey::parse).ok_or_else(|| {
            ApiError::new(
                ProblemKind::RequisicaoInvalida,
                "Idempotency-Key must be 1 to 255 printable ASCII characters.",
            )
        })?,
    };
    let path = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let hash = request_hash(req.method().as_str(), path, req.body());
    let now = state.clock.now();
    let remaining = req.extensions().get::<Deadline>().map_or(DEFAULT_REMAINING, Deadline::remaining);
    match state.idempotency.begin(merchant.id, &key, &hash, lock_until(now, remaining), now).await? {
        Begin::Run => {}
        Begin::Replay(stored) => return unseal(state, merchant, stored).await,
        Begin::InProgress { retry_after_secs } => {
            let mut e = ApiError::new(
                ProblemKind::ChaveIdempotenciaEmUso,
                "A request with this Idempotency-Key is still being processed; retry later.",
            );
            e.headers.push((header::RETRY_AFTER, HeaderValue::from(retry_after_secs)));
            return Err(e);
        }
        Begin::Mismatch => {
            return Err(ApiError::new(
                ProblemKind::ChaveIdempotenciaReutilizada,
                "This Idempotency-Key was used for a different request.",
            ))
        }
    }
    let res = run().await.unwrap_or_else(|e| e.into_response(request_id));
    // A request that failed or was only asked to wait (429: a quota) changed nothing: its
    // key is released, so a retry after `Retry-After` runs it instead of replaying the
    // refusal. So is a response we could not seal, asked twice more while the request has
    // time (it is never stored in the clear).
    let retry_later = res.status().is_server_error() || res.status() == http::StatusCode::TOO_MANY_REQUESTS;
    let deadline = req.extensions().get::<Deadline>().cloned();
    let sealed = if retry_later {
        None
    } else {
        thrice(deadline.as_ref(), || seal(state, merchant, &res))
            .await
            .map_err(|e| tracing::warn!(error = %e, "a response to keep for replay not sealed"))
            .ok()
    };
    let outcome = match sealed {
        // A record left in progress lapses with its lock, and a retry after that would run
        // the request again: a store that fails for a moment is asked twice more, while the
        // request has time left. (A release is not repeated: once the key is free another
        // request may claim it, and a second release would free that.)
        Some(kept) => {
            thrice(deadline.as_ref(), || {
                state.idempotency.complete(merchant.id, &key, &hash, &kept, retention_until(state.clock.now()))
            })
            .await
        }
        None => state.idempotency.release(merchant.id, &key, &hash).await,
    };
    if let Err(e) = outcome {
        // The request itself is done; a record we could not update lapses with its lock.
        tracing::warn!(error = %e, "idempotency record not updated");
    }
    Ok(res)
}
