//! `GET /recebidos?desde=`: the rail's statement of the Pix it paid in to Tucano's keys,
//! signed like every rail call, so that Tucano's reconciler finds what a dropped
//! notification never told it.

use super::Shared;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde_json::json;
use tucano_shared::rail::signature::{verify, SIGNATURE_HEADER, TIMESTAMP_HEADER};

/// At most this many Pix in one answer, oldest first.
const PAGE: usize = 1000;

#[derive(serde::Deserialize)]
pub struct Since {
    desde: String,
}

pub async fn received(
    State(rail): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<Since>,
) -> (StatusCode, Json<serde_json::Value>) {
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    let now = chrono::Utc::now().timestamp();
    if verify(&rail.config.secret, h(TIMESTAMP_HEADER), h(SIGNATURE_HEADER), b"", now).is_err() {
        return (StatusCode::UNAUTHORIZED, Json(json!({"erro": "assinatura inválida"})));
    }
    let Ok(since) = chrono::DateTime::parse_from_rfc3339(&q.desde) else {
        return (StatusCode::BAD_REQUEST, Json(json!({"erro": "desde deve ser RFC 3339"})));
    };
    let at = |h: &str| chrono::DateTime::parse_from_rfc3339(h).ok();
    let pix: Vec<_> = rail
        .received
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .filter(|p| at(&p.horario).is_some_and(|t| t >= since))
        .take(PAGE)
        .cloned()
        .collect();
    (StatusCode::OK, Json(json!({"pix": pix})))
}
