//! `GET /qr/v2/{token}`: the payload location a dynamic BR Code points at. Public: the
//! payer's bank reads it to show and pay the charge (Bacen `CobPayload`).
//!
//! Served as JSON for now; the Bacen manual wants a JWS signed with the PSP's key, which
//! comes with the signing key in KMS. A removed or expired charge answers 404.

use crate::app::AppState;
use crate::domain::charge::ChargeStatus;
use crate::domain::ids::LocationToken;
use crate::handlers::cob::view::{append_terms, terms, timestamp};
use crate::http::problem::{ApiError, ProblemKind};
use crate::http::{json, param, Request, Response};
use http::StatusCode;
use serde_json::{json as j, Map, Value};

fn not_found() -> ApiError {
    ApiError::new(ProblemKind::CobPayloadNaoEncontrado, "No charge at this location.")
}

pub async fn get(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let token = LocationToken::parse(param(req, "token")).ok_or_else(not_found)?;
    let charge = state.charges.find_by_location(&token).await?.ok_or_else(not_found)?;
    let now = state.clock.now();
    // A removed or expired charge is no longer served: nothing to pay, and its terms carry
    // the payer's full document.
    let removed = matches!(charge.status, ChargeStatus::RemovidaPeloUsuarioRecebedor | ChargeStatus::RemovidaPeloPsp);
    if removed || (charge.status == ChargeStatus::Ativa && charge.expires_at() <= now) {
        return Err(not_found());
    }
    let terms = terms(&charge.terms);
    let mut m = Map::new();
    m.insert(
        "calendario".into(),
        j!({"criacao": timestamp(charge.criacao), "apresentacao": timestamp(now), "expiracao": charge.terms.expiracao}),
    );
    m.insert("txid".into(), j!(charge.txid.as_str()));
    m.insert("revisao".into(), j!(charge.revisao));
    m.insert("status".into(), j!(charge.status.as_str()));
    append_terms(&mut m, terms);
    Ok(json(StatusCode::OK, &Value::Object(m)))
}
