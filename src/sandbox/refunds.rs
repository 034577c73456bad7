//! Refund orders from Tucano: accepted (idempotent on rtrId), then settled or rejected a
//! moment later, with a signed notification back.

use super::notify::deliver;
use super::{RefundDecision, Shared};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::Serialize;
use std::time::Duration;
use tucano_shared::rail::protocol::{DevolucaoResultado, Notificacao, OrdemDevolucao};
use tucano_shared::rail::signature::{verify, SIGNATURE_HEADER, TIMESTAMP_HEADER};

/// What the sandbox knows of a refund.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundRecord {
    pub rtr_id: String,
    pub end_to_end_id: String,
    pub valor: String,
    /// EM_PROCESSAMENTO, DEVOLVIDO or NAO_REALIZADO.
    pub status: String,
}

/// How long the sandbox "takes" to settle a refund.
const SETTLE_AFTER: Duration = Duration::from_millis(100);

pub async fn order(
    State(rail): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Json<serde_json::Value>) {
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    if verify(&rail.config.secret, h(TIMESTAMP_HEADER), h(SIGNATURE_HEADER), &body, chrono::Utc::now().timestamp())
        .is_err()
    {
        return (StatusCode::UNAUTHORIZED, Json(serde_json::json!({"erro": "assinatura inválida"})));
    }
    let Ok(ordem) = serde_json::from_slice::<OrdemDevolucao>(&body) else {
        return (StatusCode::BAD_REQUEST, Json(serde_json::json!({"erro": "ordem inválida"})));
    };
    let record = {
        let mut refunds = rail.refunds.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(existing) = refunds.get(&ordem.rtr_id) {
            return (StatusCode::OK, Json(serde_json::to_value(existing).unwrap_or_default()));
        }
        let record = RefundRecord {
            rtr_id: ordem.rtr_id.clone(),
            end_to_end_id: ordem.end_to_end_id.clone(),
            valor: ordem.valor.clone(),
            status: "EM_PROCESSAMENTO".into(),
        };
        refunds.insert(ordem.rtr_id.clone(), record.clone());
        record
    };
    let decision = *rail.decision.lock().unwrap_or_else(|p| p.into_inner());
    let bg = rail.clone();
    tokio::spawn(async move {
        tokio::time::sleep(SETTLE_AFTER).await;
        let devolucao = DevolucaoResultado {
            rtr_id: ordem.rtr_id.clone(),
            end_to_end_id: ordem.end_to_end_id.clone(),
            valor: ordem.valor.clone(),
            horario: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            motivo: (decision == RefundDecision::Rejeitar).then(|| "Conta do pagador encerrada (sandbox)".to_owned()),
        };
        let id = format!("ntf{}", uuid::Uuid::new_v4().simple());
        let (n, status) = match decision {
            RefundDecision::Liquidar => (Notificacao::DevolucaoLiquidada { id, devolucao }, "DEVOLVIDO"),
            RefundDecision::Rejeitar => (Notificacao::DevolucaoRejeitada { id, devolucao }, "NAO_REALIZADO"),
        };
        if let Some(r) = bg.refunds.lock().unwrap_or_else(|p| p.into_inner()).get_mut(&ordem.rtr_id) {
            r.status = status.into();
        }
        deliver(&bg, &n).await;
    });
    (StatusCode::ACCEPTED, Json(serde_json::to_value(record).unwrap_or_default()))
}

pub async fn status(State(rail): State<Shared>, Path(rtr_id): Path<String>) -> (StatusCode, Json<serde_json::Value>) {
    match rail.refunds.lock().unwrap_or_else(|p| p.into_inner()).get(&rtr_id) {
        Some(r) => (StatusCode::OK, Json(serde_json::to_value(r).unwrap_or_default())),
        None => (StatusCode::NOT_FOUND, Json(serde_json::json!({"erro": "devolução desconhecida"}))),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Control {
    devolucoes: RefundDecision,
}

/// `PUT /controle {"devolucoes": "LIQUIDAR" | "REJEITAR"}`: how the next refunds end.
pub async fn control(State(rail): State<Shared>, Json(c): Json<Control>) -> StatusCode {
    *rail.decision.lock().unwrap_or_else(|p| p.into_inner()) = c.devolucoes;
    StatusCode::NO_CONTENT
}
