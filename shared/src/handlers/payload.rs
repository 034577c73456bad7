//! `GET /qr/v2/{token}`: the payload location a dynamic BR Code points at. Public: the
//! payer's bank reads it to show and pay the charge (Bacen `CobPayload`).
//!
//! Served as JSON for now; the Bacen manual wants a JWS signed with the PSP's key, which
//! comes with the signing key in KMS. A removed or expired charge answers 404.

use crate::app::charges::{self, ChargeError};
use crate::app::AppState;
use crate::bacen::cob::Payload;
use crate::domain::ids::LocationToken;
use crate::http::problem::{ApiError, ProblemKind};
use crate::http::{json, param, Request, Response};
use http::StatusCode;

fn not_found() -> ApiError {
    ApiError::new(ProblemKind::CobPayloadNaoEncontrado, "No charge at this location.")
}

pub async fn get(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let token = LocationToken::parse(param(req, "token")).ok_or_else(not_found)?;
    match charges::payload(state, &token).await {
        Ok((charge, now)) => Ok(json(StatusCode::OK, &Payload::of(&charge, now))),
        Err(ChargeError::NotFound) => Err(not_found()),
        Err(e) => Err(super::cob::map_error(e)),
    }
}
