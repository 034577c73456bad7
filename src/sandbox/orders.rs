//! Orders from Tucano (refunds and Pix out): accepted once per id (repeats are counted,
//! never applied twice), settled or rejected a moment later, then notified back, signed.

use super::notify::deliver;
use super::{Decision, Shared};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde_json::json;
use std::time::Duration;
use tucano_shared::rail::protocol::{
    DevolucaoResultado, EnvioResultado, Notificacao, OrdemDevolucao, OrdemPagamento, StatusOrdem,
};
use tucano_shared::rail::signature::{verify, SIGNATURE_HEADER, TIMESTAMP_HEADER};

/// How long the sandbox "takes" to settle an order.
const SETTLE_AFTER: Duration = Duration::from_millis(100);

/// One order as the rail keeps it.
#[derive(Debug, Clone)]
pub struct OrderRecord {
    pub status: StatusOrdem,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Refund,
    Transfer,
}

type Answer = (StatusCode, Json<serde_json::Value>);

fn signed(rail: &Shared, headers: &HeaderMap, body: &[u8]) -> bool {
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    verify(&rail.config.secret, h(TIMESTAMP_HEADER), h(SIGNATURE_HEADER), body, chrono::Utc::now().timestamp()).is_ok()
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Records an order (or counts a repeat) and schedules its outcome.
fn accept(rail: &Shared, kind: Kind, id: String, e2eid: String, valor: String) -> Answer {
    let mut orders = rail.orders.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(existing) = orders.get_mut(&id) {
        existing.status.pedidos += 1;
        return (StatusCode::OK, Json(serde_json::to_value(&existing.status).unwrap_or_default()));
    }
    let status = StatusOrdem { status: "EM_PROCESSAMENTO".into(), horario: None, motivo: None, pedidos: 1 };
    orders.insert(id.clone(), OrderRecord { status: status.clone() });
    drop(orders);
    let control = *rail.control.lock().unwrap_or_else(|p| p.into_inner());
    let decision = match kind {
        Kind::Refund => control.refunds,
        Kind::Transfer => control.transfers,
    };
    let bg = rail.clone();
    tokio::spawn(async move {
        tokio::time::sleep(SETTLE_AFTER).await;
        let horario = now();
        let motivo = (decision == Decision::Rejeitar).then(|| "Conta do recebedor encerrada (sandbox)".to_owned());
        if let Some(r) = bg.orders.lock().unwrap_or_else(|p| p.into_inner()).get_mut(&id) {
            r.status.status = if decision == Decision::Liquidar { "LIQUIDADO" } else { "REJEITADO" }.into();
            r.status.horario = Some(horario.clone());
            r.status.motivo = motivo.clone();
        }
        if !control.notify {
            return;
        }
        let nid = format!("ntf{}", uuid::Uuid::new_v4().simple());
        let n = match (kind, decision) {
            (Kind::Refund, d) => {
                let devolucao = DevolucaoResultado { rtr_id: id, end_to_end_id: e2eid, valor, horario, motivo };
                if d == Decision::Liquidar {
                    Notificacao::DevolucaoLiquidada { id: nid, devolucao }
                } else {
                    Notificacao::DevolucaoRejeitada { id: nid, devolucao }
                }
            }
            (Kind::Transfer, d) => {
                let envio = EnvioResultado { end_to_end_id: e2eid, valor, horario, motivo };
                if d == Decision::Liquidar {
                    Notificacao::PixEnviadoLiquidado { id: nid, envio }
                } else {
                    Notificacao::PixEnviadoRejeitado { id: nid, envio }
                }
            }
        };
        deliver(&bg, &n).await;
    });
    (StatusCode::ACCEPTED, Json(serde_json::to_value(&status).unwrap_or_default()))
}

/// `POST /devolucoes`: a refund order (pacs.004), idempotent on rtrId.
pub async fn refund(State(rail): State<Shared>, headers: HeaderMap, body: Bytes) -> Answer {
    if !signed(&rail, &headers, &body) {
        return (StatusCode::UNAUTHORIZED, Json(json!({"erro": "assinatura inválida"})));
    }
    let Ok(o) = serde_json::from_slice::<OrdemDevolucao>(&body) else {
        return (StatusCode::BAD_REQUEST, Json(json!({"erro": "ordem inválida"})));
    };
    accept(&rail, Kind::Refund, o.rtr_id, o.end_to_end_id, o.valor)
}

/// `POST /envios`: a Pix order (pacs.008), idempotent on the end-to-end id. Unknown keys
/// are refused, as the SPI would.
pub async fn transfer(State(rail): State<Shared>, headers: HeaderMap, body: Bytes) -> Answer {
    if !signed(&rail, &headers, &body) {
        return (StatusCode::UNAUTHORIZED, Json(json!({"erro": "assinatura inválida"})));
    }
    let Ok(o) = serde_json::from_slice::<OrdemPagamento>(&body) else {
        return (StatusCode::BAD_REQUEST, Json(json!({"erro": "ordem inválida"})));
    };
    if let Some(chave) = &o.chave {
        if super::dict::lookup(chave).is_none() {
            return (StatusCode::UNPROCESSABLE_ENTITY, Json(json!({"erro": "chave não encontrada no DICT"})));
        }
    }
    accept(&rail, Kind::Transfer, o.end_to_end_id.clone(), o.end_to_end_id, o.valor)
}

/// `GET /devolucoes/{rtrId}` and `GET /envios/{e2eid}`: where an order stands.
pub async fn status(State(rail): State<Shared>, Path(id): Path<String>) -> Answer {
    match rail.orders.lock().unwrap_or_else(|p| p.into_inner()).get(&id) {
        Some(r) => (StatusCode::OK, Json(serde_json::to_value(&r.status).unwrap_or_default())),
        None => (StatusCode::NOT_FOUND, Json(json!({"erro": "ordem desconhecida"}))),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlRequest {
    #[serde(default)]
    devolucoes: Option<Decision>,
    #[serde(default)]
    envios: Option<Decision>,
    /// false: settle without telling Tucano (a lost notification).
    #[serde(default)]
    notificar: Option<bool>,
}

/// `PUT /controle`: how the next orders end, and whether Tucano is told.
pub async fn control(State(rail): State<Shared>, Json(c): Json<ControlRequest>) -> StatusCode {
    let mut control = rail.control.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(d) = c.devolucoes {
        control.refunds = d;
    }
    if let Some(d) = c.envios {
        control.transfers = d;
    }
    if let Some(n) = c.notificar {
        control.notify = n;
    }
    StatusCode::NO_CONTENT
}
