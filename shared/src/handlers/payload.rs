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
use crate::app::due_charges::{self, DueChargeError, PayloadDateError};
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
    let (key, payload) = match charges::payload(state, &token).await {
        Ok((charge, now)) => {
            let key =
                (token.as_str().to_owned(), charge.txid.as_str().to_owned(), charge.revisao, charge.status.as_str());
            (key, serde_json::to_vec(&Payload::of(&charge, now)))
        }
        Err(ChargeError::NotFound) => return due_payload(state, req, signer, &token).await,
        Err(e) => return Err(super::cob::map_error(e)),
    };
    sign_and_answer(state, signer, key, payload).await
}

fn payload_invalid(propriedade: &str, razao: &str) -> ApiError {
    ApiError::with_violations(
        ProblemKind::CobPayloadOperacaoInvalida,
        "The payload request is invalid for this charge.",
        vec![crate::http::problem::Violacao { propriedade: propriedade.into(), razao: razao.into() }],
    )
}

/// A charge with a due date at this location, priced for the payer's intended payment date
/// (`DPP`, default today in Brasília). `codMun` (the payer's municipality, IBGE's seven
/// digits) is checked for form; only national holidays are known (README).
async fn due_payload(
    state: &AppState,
    req: &Request,
    signer: &dyn PayloadSigner,
    token: &LocationToken,
) -> Result<Response, ApiError> {
    let mut dpp = None;
    for (name, value) in form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes()) {
        match name.as_ref() {
            "DPP" => {
                let parsed = crate::bacen::full_date(&value);
                dpp = Some(parsed.ok_or_else(|| payload_invalid("DPP", "must be a date YYYY-MM-DD"))?);
            }
            "codMun" if value.len() != 7 || !value.bytes().all(|b| b.is_ascii_digit()) => {
                return Err(payload_invalid("codMun", "must be an IBGE municipality code (seven digits)"))
            }
            _ => {}
        }
    }
    let found = match due_charges::payload(state, token, dpp).await {
        Ok(Some(Ok(found))) => found,
        Ok(Some(Err(PayloadDateError::Past))) => return Err(payload_invalid("DPP", "is before today")),
        Ok(Some(Err(PayloadDateError::AfterValidity))) => {
            return Err(payload_invalid("DPP", "is after the last day the charge can be paid"))
        }
        Ok(None) | Err(DueChargeError::NotFound | DueChargeError::ReceiverMissing) => {
            return rec_payload(state, signer, token).await
        }
        Err(DueChargeError::Store(e)) => return Err(e.into()),
        Err(e) => return Err(ApiError::internal(anyhow::Error::new(e).context("a cobv payload"))),
    };
    let (with, merchant, due, now) = found;
    let c = &with.charge;
    let date = dpp.map(|d| d.to_string()).unwrap_or_default();
    let key = (format!("{}@{date}", token.as_str()), c.txid.as_str().to_owned(), c.revisao, c.status.as_str());
    let recebedor = crate::bacen::cobv::RecebedorView::of(&merchant, &with.receiver);
    let payload = serde_json::to_vec(&crate::bacen::cobv::Payload::of(c, recebedor, &due, now));
    sign_and_answer(state, signer, key, payload).await
}

/// A recurrence at this location (Pix Automático, journeys 2 to 4): Bacen's `RecPayload`,
/// signed like a charge's. An expired, rejected or cancelled one answers 400
/// `RecPayloadOperacaoInvalida`, as the spec has it.
async fn rec_payload(
    state: &AppState,
    signer: &dyn PayloadSigner,
    token: &LocationToken,
) -> Result<Response, ApiError> {
    use crate::app::rec_locations::{self, PayloadRefusal};
    let found = rec_locations::payload(state, token).await.map_err(|e| match e {
        crate::app::recurrences::RecError::Store(s) => s.into(),
        _ => not_found(),
    })?;
    let (rec, merchant, cnpj) = match found {
        Ok(found) => found,
        Err(PayloadRefusal::Nothing) => return Err(not_found()),
        Err(PayloadRefusal::Unlinked) => {
            return Err(ApiError::new(ProblemKind::RecPayloadNaoEncontrado, "No recurrence at this location."))
        }
        Err(PayloadRefusal::Ended) => {
            return Err(ApiError::new(
                ProblemKind::RecPayloadOperacaoInvalida,
                "The recurrence at this location expired, was rejected or was cancelled.",
            ))
        }
    };
    let receiver = crate::bacen::rec::Receiver { cnpj: &cnpj, nome: &merchant.name };
    let body = crate::bacen::rec::payload(&rec, receiver, &state.config.ispb);
    let revision = i32::try_from(rec.atualizacao.len()).unwrap_or(i32::MAX);
    let key = (format!("rec/{}", token.as_str()), rec.id_rec.as_str().to_owned(), revision, rec.status.as_str());
    sign_and_answer(state, signer, key, serde_json::to_vec(&body)).await
}

/// `payload` as a JWS (kept a few seconds under `key`), answered as `application/jose`.
async fn sign_and_answer(
    state: &AppState,
    signer: &dyn PayloadSigner,
    key: crate::app::signed_payloads::CacheKey,
    payload: Result<Vec<u8>, serde_json::Error>,
) -> Result<Response, ApiError> {
    let jws = match state.signed_payloads.get(&key) {
        Some(jws) => jws,
        None => {
            let payload = payload.map_err(|e| ApiError::internal(anyhow::Error::new(e).context("payload JSON")))?;
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
