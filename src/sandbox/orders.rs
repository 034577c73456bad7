//! Orders from Tucano (refunds and Pix out): accepted once per id (repeats are counted,
//! never applied twice), settled or rejected with a final reason code a moment later, then
//! notified back, signed — all under the fault profile. Also the returns of Pix we settled
//! (`POST /envios/{e2eid}/devolucao`), as a receiving bank sends them back.

use super::faults::{FaultProfile, OrderFault};
use super::notify::deliver_all;
use super::{Decision, Shared, SANDBOX_ISPB};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde_json::json;
use std::time::Duration;
use tucano_shared::domain::ids::RtrId;
use tucano_shared::domain::money::Amount;
use tucano_shared::rail::protocol::{
    DevolucaoRecebida, DevolucaoResultado, EnvioResultado, Notificacao, OrdemDevolucao, OrdemPagamento, Rejeicao,
    StatusOrdem,
};
use tucano_shared::rail::signature::{verify, SIGNATURE_HEADER, TIMESTAMP_HEADER};

/// How long the sandbox "takes" to settle an order.
const SETTLE_AFTER: Duration = Duration::from_millis(100);
/// How long after its verdict a contradicted order gets the opposite one.
const CONTRADICT_AFTER: Duration = Duration::from_millis(200);
/// The code of the sandbox's own rejections (Decision::Rejeitar).
const DEFAULT_REJECTION: &str = "AC07";

/// One order as the rail keeps it.
#[derive(Debug, Clone)]
pub struct OrderRecord {
    pub kind: Kind,
    pub end_to_end_id: String,
    pub status: StatusOrdem,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
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

fn status_json(s: &StatusOrdem) -> Json<serde_json::Value> {
    Json(serde_json::to_value(s).unwrap_or_default())
}

fn profile(rail: &Shared) -> FaultProfile {
    rail.faults.lock().unwrap_or_else(|p| p.into_inner()).profile.clone()
}

/// The answer a fault gives instead of the normal one (after a timeout's wait).
async fn fault_answer(rail: &Shared, fault: &OrderFault) -> Option<Answer> {
    match fault {
        OrderFault::Http { status, .. } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            Some((status, Json(json!({"erro": format!("falha simulada {} (sandbox)", status.as_u16())}))))
        }
        OrderFault::Timeout => {
            tokio::time::sleep(profile(rail).timeout()).await;
            None
        }
        OrderFault::Reject(_) | OrderFault::Contradict | OrderFault::SettleAmount(_) => None,
    }
}

fn rejection(code: &str) -> Answer {
    let body = Rejeicao { codigo: code.to_owned(), motivo: Some("rejeitada pelo recebedor (sandbox)".into()) };
    (StatusCode::UNPROCESSABLE_ENTITY, Json(serde_json::to_value(body).unwrap_or_default()))
}

/// Records an order (or counts a repeat), schedules its outcome and answers — as the
/// fault profile says.
async fn accept(rail: &Shared, kind: Kind, id: String, e2eid: String, valor: String, refuse: Option<&str>) -> Answer {
    tokio::time::sleep(profile(rail).latency()).await;
    let fault = rail.faults.lock().unwrap_or_else(|p| p.into_inner()).next_order();
    let repeat = {
        let mut orders = rail.orders.lock().unwrap_or_else(|p| p.into_inner());
        match orders.get_mut(&id) {
            Some(existing) => {
                existing.status.pedidos += 1;
                Some(existing.status.clone())
            }
            None => None,
        }
    };
    if let Some(status) = repeat {
        if let Some(f) = &fault {
            if let Some(answer) = fault_answer(rail, f).await {
                return answer;
            }
        }
        return (StatusCode::OK, status_json(&status));
    }
    let code = refuse.map(str::to_owned).or_else(|| match &fault {
        Some(OrderFault::Reject(code)) => Some(code.clone()),
        _ => None,
    });
    if let Some(code) = code {
        let status = StatusOrdem {
            status: "REJEITADO".into(),
            horario: Some(now()),
            codigo: Some(code.clone()),
            motivo: Some("rejeitada pelo recebedor (sandbox)".into()),
            valor: None,
            pedidos: 1,
        };
        rail.orders
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, OrderRecord { kind, end_to_end_id: e2eid, status });
        return rejection(&code);
    }
    // A fault that does not take the order answers now; the order is forgotten.
    if let Some(f) = fault.as_ref().filter(|f| !f.taken()) {
        if let Some(answer) = fault_answer(rail, f).await {
            return answer;
        }
    }
    let status = StatusOrdem {
        status: "EM_PROCESSAMENTO".into(),
        horario: None,
        codigo: None,
        motivo: None,
        valor: None,
        pedidos: 1,
    };
    rail.orders
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(id.clone(), OrderRecord { kind, end_to_end_id: e2eid.clone(), status: status.clone() });
    let control = rail.control.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let decision = match kind {
        Kind::Refund => control.refunds,
        Kind::Transfer => control.transfers,
    };
    let settled_valor = match &fault {
        Some(OrderFault::SettleAmount(v)) => v.clone(),
        _ => valor,
    };
    let contradict = matches!(fault, Some(OrderFault::Contradict));
    let bg = rail.clone();
    tokio::spawn(async move {
        tokio::time::sleep(SETTLE_AFTER).await;
        decide(&bg, &id, decision == Decision::Liquidar, &settled_valor).await;
        if contradict {
            tokio::time::sleep(CONTRADICT_AFTER).await;
            decide(&bg, &id, decision != Decision::Liquidar, &settled_valor).await;
        }
    });
    match &fault {
        Some(f) => fault_answer(rail, f).await.unwrap_or((StatusCode::ACCEPTED, status_json(&status))),
        None => (StatusCode::ACCEPTED, status_json(&status)),
    }
}

/// Decides order `id` (settled for `valor`, or rejected) and tells Tucano, unless told
/// not to.
async fn decide(rail: &Shared, id: &str, settle: bool, valor: &str) {
    let horario = now();
    let (code, motivo) = if settle {
        (None, None)
    } else {
        (Some(DEFAULT_REJECTION.to_owned()), Some("Conta do recebedor encerrada (sandbox)".to_owned()))
    };
    let record = {
        let mut orders = rail.orders.lock().unwrap_or_else(|p| p.into_inner());
        let Some(r) = orders.get_mut(id) else { return };
        r.status.status = if settle { "LIQUIDADO" } else { "REJEITADO" }.into();
        r.status.horario = Some(horario.clone());
        r.status.codigo = code.clone();
        r.status.motivo = motivo.clone();
        r.status.valor = settle.then(|| valor.to_owned());
        r.clone()
    };
    if !rail.control.lock().unwrap_or_else(|p| p.into_inner()).notify {
        return;
    }
    let nid = format!("ntf{}", uuid::Uuid::new_v4().simple());
    let e2eid = record.end_to_end_id;
    let valor = valor.to_owned();
    let n = match record.kind {
        Kind::Refund => {
            let devolucao = DevolucaoResultado {
                rtr_id: id.to_owned(),
                end_to_end_id: e2eid,
                valor,
                horario,
                codigo: code,
                motivo,
            };
            if settle {
                Notificacao::DevolucaoLiquidada { id: nid, devolucao }
            } else {
                Notificacao::DevolucaoRejeitada { id: nid, devolucao }
            }
        }
        Kind::Transfer => {
            let envio = EnvioResultado { end_to_end_id: e2eid, valor, horario, codigo: code, motivo };
            if settle {
                Notificacao::PixEnviadoLiquidado { id: nid, envio }
            } else {
                Notificacao::PixEnviadoRejeitado { id: nid, envio }
            }
        }
    };
    notify(rail, n).await;
}

/// Sends a notification as the fault profile says: dropped, once, or three copies (two
/// under its id, one under a fresh id), each maybe delayed.
pub async fn notify(rail: &Shared, n: Notificacao) {
    let delays = rail.faults.lock().unwrap_or_else(|p| p.into_inner()).copies();
    let copies: Vec<(Notificacao, Duration)> = delays
        .into_iter()
        .enumerate()
        .map(|(i, delay)| {
            let copy = if i == 2 { n.clone().with_id(&format!("{}r", n.id())) } else { n.clone() };
            (copy, delay)
        })
        .collect();
    deliver_all(rail, copies).await;
}

/// `POST /devolucoes`: a refund order (pacs.004), idempotent on rtrId.
pub async fn refund(State(rail): State<Shared>, headers: HeaderMap, body: Bytes) -> Answer {
    if !signed(&rail, &headers, &body) {
        return (StatusCode::UNAUTHORIZED, Json(json!({"erro": "assinatura inválida"})));
    }
    let Ok(o) = serde_json::from_slice::<OrdemDevolucao>(&body) else {
        return (StatusCode::BAD_REQUEST, Json(json!({"erro": "ordem inválida"})));
    };
    accept(&rail, Kind::Refund, o.rtr_id, o.end_to_end_id, o.valor, None).await
}

/// `POST /envios`: a Pix order (pacs.008), idempotent on the end-to-end id. Unknown keys
/// are rejected (AC03, no such account), as the SPI would.
pub async fn transfer(State(rail): State<Shared>, headers: HeaderMap, body: Bytes) -> Answer {
    if !signed(&rail, &headers, &body) {
        return (StatusCode::UNAUTHORIZED, Json(json!({"erro": "assinatura inválida"})));
    }
    let Ok(o) = serde_json::from_slice::<OrdemPagamento>(&body) else {
        return (StatusCode::BAD_REQUEST, Json(json!({"erro": "ordem inválida"})));
    };
    let unknown_key = o.chave.as_deref().is_some_and(|c| super::dict::lookup(c).is_none());
    let refuse = unknown_key.then_some("AC03");
    accept(&rail, Kind::Transfer, o.end_to_end_id.clone(), o.end_to_end_id, o.valor, refuse).await
}

/// `GET /devolucoes/{rtrId}` and `GET /envios/{e2eid}`: where an order stands.
pub async fn status(State(rail): State<Shared>, Path(id): Path<String>) -> Answer {
    tokio::time::sleep(profile(&rail).latency()).await;
    let fault = rail.faults.lock().unwrap_or_else(|p| p.into_inner()).next_query();
    if let Some(f) = &fault {
        if let Some(answer) = fault_answer(&rail, f).await {
            return answer;
        }
    }
    match rail.orders.lock().unwrap_or_else(|p| p.into_inner()).get(&id) {
        Some(r) => (StatusCode::OK, status_json(&r.status)),
        None => (StatusCode::NOT_FOUND, Json(json!({"erro": "ordem desconhecida"}))),
    }
}

/// What `POST /envios/{e2eid}/devolucao` takes: the amount (default all of it), the
/// reason code (default MD06, asked by the receiver; FR01 for a MED fraud return) and
/// words.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ReturnRequest {
    valor: Option<String>,
    codigo: Option<String>,
    motivo: Option<String>,
}

/// `POST /envios/{e2eid}/devolucao`: the receiving bank sends back (part of) a Pix it got.
pub async fn send_back(State(rail): State<Shared>, Path(e2eid): Path<String>, body: Bytes) -> Answer {
    let req: ReturnRequest = if body.is_empty() {
        ReturnRequest::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(_) => return (StatusCode::BAD_REQUEST, Json(json!({"erro": "pedido inválido"}))),
        }
    };
    let settled = rail
        .orders
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&e2eid)
        .filter(|r| r.kind == Kind::Transfer && r.status.status == "LIQUIDADO")
        .and_then(|r| r.status.valor.clone());
    let Some(sent) = settled else {
        return (StatusCode::NOT_FOUND, Json(json!({"erro": "nenhum Pix liquidado com este endToEndId"})));
    };
    let valor = req.valor.unwrap_or(sent);
    if Amount::parse(&valor).map_or(true, |a| a.is_zero()) {
        return (StatusCode::BAD_REQUEST, Json(json!({"erro": "valor inválido"})));
    }
    let rtr_id = RtrId::generate(SANDBOX_ISPB, chrono::Utc::now());
    let devolucao = DevolucaoRecebida {
        rtr_id: rtr_id.as_str().to_owned(),
        end_to_end_id: e2eid,
        valor,
        horario: now(),
        codigo: Some(req.codigo.unwrap_or_else(|| "MD06".into())),
        motivo: req.motivo,
    };
    let n = Notificacao::PixEnviadoDevolvido {
        id: format!("ntf{}", uuid::Uuid::new_v4().simple()),
        devolucao: devolucao.clone(),
    };
    let bg = rail.clone();
    tokio::spawn(async move { notify(&bg, n).await });
    (StatusCode::ACCEPTED, Json(serde_json::to_value(devolucao).unwrap_or_default()))
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
    /// How the simulated payer answers Pix Automático requests: APROVAR, REJEITAR, MANUAL.
    #[serde(default)]
    recorrencias: Option<super::automatico::Approval>,
    /// The next N debits of Pix Automático attempts fail (no funds).
    #[serde(default, rename = "debitosSemSaldo")]
    debitos_sem_saldo: Option<u32>,
    /// The reason code of those failures (default AM02).
    #[serde(default, rename = "codigoFalha")]
    codigo_falha: Option<String>,
}

/// `PUT /controle`: how the next orders end, whether Tucano is told, and how the simulated
/// payer of Pix Automático behaves.
pub async fn control(State(rail): State<Shared>, Json(c): Json<ControlRequest>) -> StatusCode {
    if c.codigo_falha.as_deref().is_some_and(|code| code.is_empty() || code.len() > 10) {
        return StatusCode::BAD_REQUEST;
    }
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
    if let Some(r) = c.recorrencias {
        control.recurrences = r;
    }
    if let Some(n) = c.debitos_sem_saldo {
        control.unfunded_debits = n;
    }
    if let Some(code) = c.codigo_falha {
        control.failure_code = code;
    }
    StatusCode::NO_CONTENT
}

/// `GET /controle`: how many orders taken are not decided yet (each is decided a moment
/// after it is taken, by a task of its own): a test waits for none before it asks.
pub async fn undecided(State(rail): State<Shared>) -> Answer {
    let orders = rail.orders.lock().unwrap_or_else(|p| p.into_inner());
    let n = orders.values().filter(|o| o.status.status == "EM_PROCESSAMENTO").count();
    (StatusCode::OK, Json(json!({"ordensEmProcessamento": n})))
}

/// `PUT /falhas`: replaces the fault profile (`{}` turns every fault off).
pub async fn set_faults(State(rail): State<Shared>, body: Bytes) -> Answer {
    let profile: FaultProfile = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => return (StatusCode::BAD_REQUEST, Json(json!({"erro": format!("perfil inválido: {e}")}))),
    };
    if let Err(e) = profile.validate() {
        return (StatusCode::BAD_REQUEST, Json(json!({"erro": e})));
    }
    *rail.faults.lock().unwrap_or_else(|p| p.into_inner()) = super::faults::Faults::new(profile.clone());
    (StatusCode::OK, Json(serde_json::to_value(profile).unwrap_or_default()))
}

/// `GET /falhas`: the fault profile in force (the script shows what is left of it).
pub async fn get_faults(State(rail): State<Shared>) -> Answer {
    (StatusCode::OK, Json(serde_json::to_value(profile(&rail)).unwrap_or_default()))
}
