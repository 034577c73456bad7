//! Returned Pix: a Pix we sent that the receiving bank sends back (a devolução, MED
//! included) is credited to the merchant with a reference to the transfer — in the
//! ledger, on the transfer, in /extrato and as an event — once.

use crate::common::*;
use crate::{e2eid, fund, movements, send, KEY};
use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test(migrations = "./migrations")]
async fn a_returned_pix_is_credited_back_with_a_reference_to_the_transfer(pool: PgPool) {
    let app = TestApp::spawn_with_rail(pool).await;
    let m = app.merchant("Loja", KEY).await;
    fund(&app, 20, "50.00").await;
    let envio = send(&app, &m, "devolvido1", "20.00").await;
    app.eventually(&m, "/v2/envio/devolvido1", |e| e["status"] == "REALIZADO").await;
    let e2e = envio["endToEndId"].as_str().unwrap();

    // Part of it comes back (asked by the receiver), then the rest under MED (fraud).
    let first = app.rail_return(e2e, json!({"valor": "5.00", "codigo": "MD06"})).await;
    app.eventually(&m, "/v2/envio/devolvido1", |e| e["devolucoes"].as_array().is_some_and(|d| d.len() == 1)).await;
    app.rail_return(e2e, json!({"codigo": "FR01", "valor": "15.00", "motivo": "MED"})).await;
    let back =
        app.eventually(&m, "/v2/envio/devolvido1", |e| e["devolucoes"].as_array().is_some_and(|d| d.len() == 2)).await;
    assert_eq!(back["status"], "REALIZADO");
    assert_eq!(back["devolucoes"][0]["rtrId"], first["rtrId"]);
    assert_eq!(back["devolucoes"][0]["valor"], "5.00");
    assert_eq!(back["devolucoes"][1]["codigo"], "FR01");
    assert!(back.get("alerta").is_none());
    assert_eq!(app.saldo(&m).await, ("50.00".into(), "0.00".into()));

    let (_, _, extrato) = call(app.request(Method::GET, "/v2/extrato", &m)).await;
    let line = extrato["lancamentos"]
        .as_array()
        .and_then(|l| l.iter().find(|l| l["tipo"] == "ENVIO_DEVOLVIDO").cloned())
        .unwrap_or_else(|| panic!("no ENVIO_DEVOLVIDO line: {extrato}"));
    assert_eq!(line["referencia"]["idEnvio"], "devolvido1");
    assert_eq!(line["natureza"], "CREDITO");
    assert_eq!(app.events(&m, "envio.devolvido").await.len(), 2);

    // The same return announced again changes nothing.
    let again = json!({"tipo": "PIX_ENVIADO_DEVOLVIDO", "id": "replay", "devolucao": first});
    let (status, _, body) = app.notify(&again).await;
    assert_eq!((status, body["resultado"].as_str()), (200, Some("DUPLICADA")));
    assert_eq!(movements(&app, "transfer_return").await, 2);
    assert_eq!(app.saldo(&m).await, ("50.00".into(), "0.00".into()));
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn a_return_of_a_transfer_whose_settlement_was_never_heard_settles_it_first(pool: PgPool) {
    let app = TestApp::spawn_with_rail(pool).await;
    let m = app.merchant("Loja", KEY).await;
    fund(&app, 21, "50.00").await;
    app.rail_control(json!({"notificar": false})).await;
    let envio = send(&app, &m, "silencioso", "20.00").await;
    let e2e = envio["endToEndId"].as_str().unwrap().to_owned();
    app.rail_idle().await;
    app.rail_control(json!({"notificar": true})).await;

    app.rail_return(&e2e, json!({})).await;
    let back = app.eventually(&m, "/v2/envio/silencioso", |e| e["devolucoes"].is_array()).await;
    assert_eq!(back["status"], "REALIZADO");
    assert_eq!(back["devolucoes"][0]["valor"], "20.00");
    assert_eq!(app.saldo(&m).await, ("50.00".into(), "0.00".into()));
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn a_return_of_more_than_was_sent_parks_the_excess_in_suspense_and_is_flagged(pool: PgPool) {
    let app = TestApp::spawn_with_rail(pool).await;
    let m = app.merchant("Loja", KEY).await;
    fund(&app, 22, "50.00").await;
    let envio = send(&app, &m, "excesso", "10.00").await;
    app.eventually(&m, "/v2/envio/excesso", |e| e["status"] == "REALIZADO").await;
    let sent = envio["endToEndId"].as_str().unwrap();
    let n = crate::envio_returned("excesso1", "D9999999920261121130500000000077", sent, "12.00", "BE08");
    let (_, _, body) = app.notify(&n).await;
    assert_eq!(body["alerta"], "DEVOLUCAO_EXCEDENTE", "{body}");
    assert_eq!(app.saldo(&m).await, ("50.00".into(), "0.00".into()), "the merchant gets back what it sent");
    assert_eq!(app.platform_balance("suspense").await, 200);
    let (_, _, now) = call(app.request(Method::GET, "/v2/envio/excesso", &m)).await;
    assert_eq!(now["alerta"], "DEVOLUCAO_EXCEDENTE");
    // A return for a transfer we never sent is refused (the rail retries, changes nothing).
    let mut unknown = n.clone();
    unknown["id"] = json!("excesso2");
    unknown["devolucao"]["rtrId"] = json!("D9999999920261121130500000000078");
    unknown["devolucao"]["endToEndId"] = json!(e2eid(99));
    assert_eq!(app.notify(&unknown).await.0, 404);
    app.assert_ledger_ok().await;
}
