//! `GET /qr/v2/{token}`: the payload location a dynamic BR Code points at, and
//! `GET /.well-known/jwks.json`, the key set its signature verifies with. Public: the
//! payer's bank reads both to show and pay the charge.
//!
//! The payload is Bacen's `PayloadCobImediata` as of now, served as `application/jose`: a
//! compact JWS (RS256) whose header names the key (`kid`, `x5t`) and where to find it
//! (`jku`, on this same host). A removed or expired charge answers 404
//! `CobPayloadNaoEncontrado` (the spec leaves it to the PSP); a concluded one is served with
//! its status, so the payer's app shows it paid. Signatures are kept a few seconds per
//! revision (`SignedCache`). Without a configured key the location answers 503: an
//! unsigned payload is one no bank would accept.

use crate::app::charges::{self, ChargeError};
use crate::app::signed_payloads;
use crate::app::AppState;
use crate::bacen::cob::Payload;
use crate::domain::ids::LocationToken;
use crate::http::problem::{ApiError, ProblemKind};
use crate::http::{json, param, Request, Response};
use crate::ports::{CipherError, PayloadSigner};
use bytes::Bytes;
use http::{header, HeaderValue, StatusCode};

fn not_found() -> ApiError {
    ApiError::new(ProblemKind::CobPayloadNaoEncontrado, "No charge at this location.")
}

fn signer(state: &AppState) -> Result<&dyn PayloadSigner, ApiError> {
    state
        .payload_signer
        .as_deref()
        .ok_or_else(|| ApiError::unavailable(anyhow::anyhow!("no payload signing key is configured (PAYLOAD_SIGNING)")))
}

pub async fn get(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let token = LocationToken::parse(param(req, "token")).ok_or_else(not_found)?;
    let signer = signer(state)?;
    let (charge, now) = match charges::payload(state, &token).await {
        Ok(found) => found,
        Err(ChargeError::NotFound) => return Err(not_found()),
        Err(e) => return Err(super::cob::map_error(e)),
    };
    let key = (token.as_str().to_owned(), charge.txid.as_str().to_owned(), charge.revisao, charge.status.as_str());
    let jws = match state.signed_payloads.get(&key) {
        Some(jws) => jws,
        None => {
            let payload = serde_json::to_vec(&Payload::of(&charge, now))
                .map_err(|e| ApiError::internal(anyhow::Error::new(e).context("payload JSON")))?;
            let jku = signed_payloads::jku(&state.config.location_scheme, &state.config.location_base);
            let jws: std::sync::Arc<str> = signed_payloads::sign(signer, &payload, &jku)
                .await
                .map_err(|e| match e {
                    e @ CipherError::Unavailable(_) => ApiError::unavailable(e.into()),
                    e => ApiError::internal(e.into()),
                })?
                .into();
            state.signed_payloads.put(key, jws.clone());
            jws
        }
    };
    let mut res = http::Response::new(Bytes::from(jws.as_bytes().to_vec()));
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/jose"));
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

/// `GET /.well-known/jwks.json`: every key payloads may be signed with (two while one
/// rotates in).
pub async fn jwks(state: &AppState, _req: &Request) -> Result<Response, ApiError> {
    let keys = signed_payloads::jwks(signer(state)?)
        .map_err(|e| ApiError::internal(anyhow::Error::new(e).context("the payload key set")))?;
    let mut res = json(StatusCode::OK, &keys);
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    Ok(res)
}
