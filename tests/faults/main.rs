//! Money that cannot be lost: concurrency without deadlocks, rail faults (throttles,
//! errors, timeouts, explicit rejections), contradictory verdicts, returned Pix, and a
//! chaos run that kills the server and Postgres mid-burst. One test binary for all of
//! them, so the suite links it once.

#[path = "../common/mod.rs"]
mod common;

mod chaos;
mod concurrency;
mod contradictions;
mod recurring;
mod rejections;
mod returns;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};

pub const KEY: &str = "loja@example.com";
pub const SUPPLIER: &str = "fornecedor@example.com";

/// An end-to-end id of a Pix paid in, numbered.
pub fn e2eid(n: u32) -> String {
    format!("E99999999202611211305{n:011}")
}

/// A Pix of `valor` to the merchant's key, as the rail reports it.
pub fn pix_received(n: u32, valor: &str) -> Value {
    json!({"tipo": "PIX_RECEBIDO", "id": format!("in-{n}"), "pix": {
        "endToEndId": e2eid(n), "valor": valor, "chave": KEY, "horario": chrono::Utc::now().to_rfc3339()}})
}

/// Credits the merchant with a received Pix.
pub async fn fund(app: &TestApp, n: u32, valor: &str) {
    let (status, _, body) = app.notify(&pix_received(n, valor)).await;
    assert_eq!(status, 200, "{body}");
}

/// `PUT /envio/{id}` of `valor` to the supplier's key; the transfer as answered.
pub async fn send(app: &TestApp, m: &TestMerchant, id: &str, valor: &str) -> Value {
    let body = json!({"valor": valor, "favorecido": {"chave": SUPPLIER}});
    let (status, _, envio) = call(app.request(Method::PUT, &format!("/v2/envio/{id}"), m).json(&body)).await;
    assert_eq!(status, 201, "{envio}");
    envio
}

/// A verdict on a Pix we sent, as the rail notifies it.
pub fn envio_verdict(tipo: &str, id: &str, e2eid: &str, valor: &str, codigo: Option<&str>) -> Value {
    let mut envio = json!({"endToEndId": e2eid, "valor": valor, "horario": chrono::Utc::now().to_rfc3339()});
    if let Some(c) = codigo {
        envio["codigo"] = json!(c);
    }
    json!({"tipo": tipo, "id": id, "envio": envio})
}

/// A Pix we sent, returned by the receiving bank (`valor` back, reason `codigo`), as the
/// rail notifies it under notification `id`.
pub fn envio_returned(id: &str, rtr_id: &str, e2eid: &str, valor: &str, codigo: &str) -> Value {
    json!({"tipo": "PIX_ENVIADO_DEVOLVIDO", "id": id, "devolucao": {
        "rtrId": rtr_id, "endToEndId": e2eid, "valor": valor,
        "horario": chrono::Utc::now().to_rfc3339(), "codigo": codigo}})
}

/// How many ledger entries of `kind` there are.
pub async fn movements(app: &TestApp, kind: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM ledger_transactions WHERE kind = $1")
        .bind(kind)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}
