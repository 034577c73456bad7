//! Only an explicit rejection voids: a rail that throttles, fails, times out or answers
//! without a final reason code leaves the movement EM_PROCESSAMENTO with its reservation,
//! and the reconciler finishes it; a final code voids at once. Also: notifications signed
//! with the rail's previous secret are accepted during a rotation.

use crate::common::*;
use crate::{fund, movements, send, KEY};
use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;
use std::sync::Arc;
use tucano_shared::app::reconcile;
use tucano_shared::ports::SystemClock;

#[sqlx::test(migrations = "./migrations")]
async fn a_rail_that_answers_429_but_took_the_order_settles_it_and_the_balance_is_debited_once(pool: PgPool) {
    let app = TestApp::spawn_with_rail(pool).await;
    let m = app.merchant("Loja", KEY).await;
    fund(&app, 1, "50.00").await;
    app.rail_faults(json!({"roteiro": ["429-aceita"]})).await;

    let envio = send(&app, &m, "throttled1", "20.00").await;
    assert_eq!(envio["status"], "EM_PROCESSAMENTO", "a 429 is no verdict");
    let done = app.eventually(&m, "/v2/envio/throttled1", |e| e["status"] == "REALIZADO").await;
    assert!(done.get("alerta").is_none());
    assert_eq!(app.saldo(&m).await, ("30.00".into(), "0.00".into()));
    assert_eq!(movements(&app, "transfer_settle").await, 1);
    assert_eq!(movements(&app, "transfer_void").await, 0);
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn throttles_errors_and_timeouts_leave_the_transfer_pending_until_the_reconciler_settles_it(pool: PgPool) {
    // A rail call that takes more than a second has an unknown outcome (the sandbox's
    // timeout fault waits 1.5 s).
    let app = TestApp::spawn_with_rail_configured(pool, Arc::new(SystemClock), |c| {
        c.rail_timeout = std::time::Duration::from_secs(1);
    })
    .await;
    let m = app.merchant("Loja", KEY).await;
    fund(&app, 2, "100.00").await;
    // 408, 425, 429 and a 422 without a final code: the rail did not take the order.
    // 500, a timeout and a 409 ("I already have it"): it did, and decides it (its
    // notification is lost here).
    let faults = ["408", "425", "429", "422", "500", "timeout", "409-aceita"];
    app.rail_faults(json!({"roteiro": faults, "timeoutMs": 1500})).await;
    app.rail_control(json!({"notificar": false})).await;
    for (i, fault) in faults.iter().enumerate() {
        let envio = send(&app, &m, &format!("falha{i}"), "10.00").await;
        assert_eq!(envio["status"], "EM_PROCESSAMENTO", "{fault}: {envio}");
    }
    app.rail_idle().await;
    assert_eq!(app.saldo(&m).await, ("30.00".into(), "70.00".into()), "every reservation stays");
    assert_eq!(movements(&app, "transfer_void").await, 0, "nothing was voided on a guess");

    // The reconciler asks: sends again what the rail never took, applies what it decided.
    app.rail_control(json!({"notificar": true})).await;
    let report = reconcile::run(&app.state, chrono::Duration::zero()).await.unwrap();
    assert_eq!((report.checked, report.resent, report.settled), (7, 4, 3), "{report:?}");
    for i in 0..faults.len() {
        app.eventually(&m, &format!("/v2/envio/falha{i}"), |e| e["status"] == "REALIZADO").await;
    }
    assert_eq!(app.saldo(&m).await, ("30.00".into(), "0.00".into()));
    assert_eq!(movements(&app, "transfer_settle").await, 7);
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn an_explicit_rejection_code_voids_the_transfer_at_once_and_names_the_code(pool: PgPool) {
    let app = TestApp::spawn_with_rail(pool).await;
    let m = app.merchant("Loja", KEY).await;
    fund(&app, 3, "50.00").await;
    app.rail_faults(json!({"roteiro": ["rejeitar:AC03"]})).await;

    let envio = send(&app, &m, "rejeitado1", "20.00").await;
    assert_eq!(envio["status"], "NAO_REALIZADO", "{envio}");
    assert!(envio["motivo"].as_str().unwrap().starts_with("AC03"), "{envio}");
    assert_eq!(app.saldo(&m).await, ("50.00".into(), "0.00".into()));
    assert_eq!(movements(&app, "transfer_void").await, 1);
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn a_refund_the_rail_throttled_but_took_is_settled_once_and_a_coded_rejection_voids_one(pool: PgPool) {
    let app = TestApp::spawn_with_rail(pool).await;
    let m = app.merchant("Loja", KEY).await;
    fund(&app, 4, "30.00").await;
    let e2eid = crate::e2eid(4);
    app.rail_faults(json!({"roteiro": ["429-aceita", "rejeitar:AC07"]})).await;

    let path = format!("/v2/pix/{e2eid}/devolucao/d1");
    let (status, _, refund) = call(app.request(Method::PUT, &path, &m).json(&json!({"valor": "10.00"}))).await;
    assert_eq!((status, refund["status"].as_str()), (201, Some("EM_PROCESSAMENTO")), "{refund}");
    app.eventually(&m, &path, |r| r["status"] == "DEVOLVIDO").await;

    let path = format!("/v2/pix/{e2eid}/devolucao/d2");
    let (status, _, refund) = call(app.request(Method::PUT, &path, &m).json(&json!({"valor": "5.00"}))).await;
    assert_eq!((status, refund["status"].as_str()), (201, Some("NAO_REALIZADO")), "{refund}");
    assert!(refund["motivo"].as_str().unwrap().starts_with("AC07"));
    assert_eq!(app.saldo(&m).await, ("20.00".into(), "0.00".into()));
    assert_eq!(movements(&app, "refund_settle").await, 1);
    assert_eq!(movements(&app, "refund_void").await, 1);
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn a_refund_the_rail_refuses_when_the_reconciler_sends_it_again_is_released_at_once(pool: PgPool) {
    let app = TestApp::spawn_with_rail(pool).await;
    let m = app.merchant("Loja", KEY).await;
    fund(&app, 9, "30.00").await;
    // The first order fails before the rail takes it; sent again, it is refused for good.
    app.rail_faults(json!({"roteiro": ["500-antes", "rejeitar:AC07"]})).await;
    let path = format!("/v2/pix/{}/devolucao/r1", crate::e2eid(9));
    let (status, _, refund) = call(app.request(Method::PUT, &path, &m).json(&json!({"valor": "10.00"}))).await;
    assert_eq!((status, refund["status"].as_str()), (201, Some("EM_PROCESSAMENTO")), "{refund}");

    let report = reconcile::run(&app.state, chrono::Duration::zero()).await.unwrap();
    assert_eq!((report.checked, report.resent, report.errors), (1, 1, 0), "{report:?}");
    let (_, _, refund) = call(app.request(Method::GET, &path, &m)).await;
    assert_eq!(refund["status"], "NAO_REALIZADO", "{refund}");
    assert!(refund["motivo"].as_str().unwrap().starts_with("AC07"), "{refund}");
    assert_eq!(app.saldo(&m).await, ("30.00".into(), "0.00".into()));
    assert_eq!(movements(&app, "refund_void").await, 1);
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn a_pending_transfer_that_does_not_read_back_does_not_stop_the_reconciler(pool: PgPool) {
    let app = TestApp::spawn_with_rail(pool).await;
    let m = app.merchant("Loja", KEY).await;
    fund(&app, 10, "50.00").await;
    app.rail_control(json!({"notificar": false})).await;
    let to_account = json!({"valor": "10.00", "favorecido": {"contaBanco": {
        "ispb": "60701190", "agencia": "0001", "conta": "123456", "tipoConta": "CACC", "cpf": "12345678909", "nome": "Ana"}}});
    let (status, _, e) = call(app.request(Method::PUT, "/v2/envio/ilegivel", &m).json(&to_account)).await;
    assert_eq!(status, 201, "{e}");
    send(&app, &m, "legivel", "5.00").await;
    app.rail_idle().await;
    // One row's sealed document no longer opens (a damaged row, a key gone).
    // (Past the guard that keeps a transfer's terms, as only damage would be.)
    let mut tx = app.pool.begin().await.unwrap();
    sqlx::query("SET LOCAL session_replication_role = replica").execute(&mut *tx).await.unwrap();
    sqlx::query("UPDATE transfers SET favorecido_doc_enc = '\\x00' WHERE id_envio = 'ilegivel'")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let report = reconcile::run(&app.state, chrono::Duration::zero()).await.unwrap();
    assert_eq!((report.checked, report.settled), (1, 1), "the other is reconciled: {report:?}");
    let (_, _, other) = call(app.request(Method::GET, "/v2/envio/legivel", &m)).await;
    assert_eq!(other["status"], "REALIZADO", "{other}");
}

#[sqlx::test(migrations = "./migrations")]
async fn an_order_the_store_cannot_book_fails_the_pass_after_the_others_are_finished(pool: PgPool) {
    let app = TestApp::spawn_with_rail(pool).await;
    let m = app.merchant("Loja", KEY).await;
    fund(&app, 11, "50.00").await;
    app.rail_control(json!({"notificar": false})).await;
    send(&app, &m, "quebrado", "10.00").await;
    send(&app, &m, "inteiro", "5.00").await;
    app.rail_idle().await;
    // The store refuses to write one of them (a fault only the database knows).
    sqlx::raw_sql(
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$;
         CREATE TRIGGER refuse BEFORE UPDATE ON transfers FOR EACH ROW WHEN (OLD.id_envio = 'quebrado')
             EXECUTE FUNCTION refuse();",
    )
    .execute(&app.pool)
    .await
    .unwrap();

    assert!(reconcile::run(&app.state, chrono::Duration::zero()).await.is_err(), "the pass reports the fault");
    let (_, _, other) = call(app.request(Method::GET, "/v2/envio/inteiro", &m)).await;
    assert_eq!(other["status"], "REALIZADO", "the other order was finished: {other}");
    let (_, _, stuck) = call(app.request(Method::GET, "/v2/envio/quebrado", &m)).await;
    assert_eq!(stuck["status"], "EM_PROCESSAMENTO", "{stuck}");
    // The reconciler function's minute: Pix Automático's sweep runs after the failed pass
    // (it used to return at the pass's fault, every minute the fault lasted).
    let minute = reconcile::minute(&app.state, chrono::Duration::zero()).await;
    assert!(minute.pass.is_err(), "the fault is still reported");
    assert_eq!(minute.swept.ok(), Some(0), "the sweep ran (nothing to do)");
    assert!(minute.pruned.is_ok(), "and the pruning");
}

#[sqlx::test(migrations = "./migrations")]
async fn during_a_rail_secret_rotation_both_secrets_are_accepted_and_no_other(pool: PgPool) {
    const OLD: &str = "the-previous-rail-secret-0001";
    let app = TestApp::spawn_configured(pool, |c| c.rail_secret_previous = Some(OLD.as_bytes().to_vec())).await;
    app.merchant("Loja", KEY).await;

    let (status, _, _) = app.notify(&crate::pix_received(5, "1.00")).await;
    assert_eq!(status, 200, "the new secret");
    let (status, _, _) = app.notify_signed(&crate::pix_received(6, "1.00"), OLD.as_bytes()).await;
    assert_eq!(status, 200, "the previous secret, during the overlap");
    let (status, _, problem) = app.notify_signed(&crate::pix_received(7, "1.00"), b"a-secret-nobody-shares-00").await;
    assert_eq!(status, 401, "{problem}");
    assert_eq!(app.count("received_pix").await, 2);
}

/// A merchant with 50.00, then a rail that tells nothing: a transfer `envio` of 20.00
/// waits for its verdict, and a Pix of 7.00 paid in is unheard of.
async fn unheard(pool: PgPool, envio: &str) -> (TestApp, TestMerchant) {
    let app = TestApp::spawn_with_rail(pool).await;
    let m = app.merchant("Loja", KEY).await;
    fund(&app, 9, "50.00").await;
    app.rail_control(json!({"notificar": false})).await;
    send(&app, &m, envio, "20.00").await;
    let (_, _, cob) =
        call(app.request(Method::PUT, &format!("/v2/cob/{}", txid(91)), &m).json(&charge_body(KEY, "7.00"))).await;
    app.rail_faults(json!({"notificacoes": {"descartar": 1.0}})).await;
    app.pay(json!({"pixCopiaECola": cob["pixCopiaECola"]})).await;
    app.rail_faults(json!({})).await;
    app.rail_idle().await;
    (app, m)
}

#[sqlx::test(migrations = "./migrations")]
async fn a_pass_out_of_time_for_orders_still_credits_the_statement_and_leaves_them_to_the_next(pool: PgPool) {
    let (app, m) = unheard(pool, "fila1").await;

    let report = reconcile::run_within(&app.state, chrono::Duration::zero(), std::time::Duration::ZERO).await.unwrap();
    assert_eq!((report.received_recovered, report.checked, report.left_for_next_pass), (1, 0, 1), "{report:?}");
    let report = reconcile::run(&app.state, chrono::Duration::zero()).await.unwrap();
    assert_eq!((report.checked, report.settled, report.left_for_next_pass), (1, 1, 0), "{report:?}");
    assert_eq!(app.saldo(&m).await, ("37.00".into(), "0.00".into()));
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn a_statement_the_store_cannot_book_fails_the_pass_after_the_orders_are_finished(pool: PgPool) {
    let (app, m) = unheard(pool, "aguarda").await;
    // The store refuses to book the Pix the statement shows (a fault only the database knows).
    sqlx::raw_sql(
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$;
         CREATE TRIGGER refuse BEFORE INSERT ON received_pix FOR EACH ROW EXECUTE FUNCTION refuse();",
    )
    .execute(&app.pool)
    .await
    .unwrap();

    assert!(reconcile::run(&app.state, chrono::Duration::zero()).await.is_err(), "the pass reports the fault");
    let (_, _, sent) = call(app.request(Method::GET, "/v2/envio/aguarda", &m)).await;
    assert_eq!(sent["status"], "REALIZADO", "the order was reconciled all the same: {sent}");
}

#[sqlx::test(migrations = "./migrations")]
async fn a_status_query_that_fails_is_asked_again_and_nothing_is_guessed(pool: PgPool) {
    let app = TestApp::spawn_with_rail(pool).await;
    let m = app.merchant("Loja", KEY).await;
    fund(&app, 8, "50.00").await;
    app.rail_control(json!({"notificar": false})).await;
    send(&app, &m, "consulta1", "20.00").await;
    app.rail_idle().await;
    app.rail_faults(json!({"consultas": {"erro500": 1.0}})).await;
    let report = reconcile::run(&app.state, chrono::Duration::zero()).await.unwrap();
    assert_eq!((report.checked, report.errors, report.settled), (1, 1, 0), "{report:?}");
    let (_, _, still) = call(app.request(Method::GET, "/v2/envio/consulta1", &m)).await;
    assert_eq!(still["status"], "EM_PROCESSAMENTO");
    app.rail_faults(json!({})).await;
    let report = reconcile::run(&app.state, chrono::Duration::zero()).await.unwrap();
    assert_eq!(report.settled, 1, "{report:?}");
    assert_eq!(app.saldo(&m).await, ("30.00".into(), "0.00".into()));
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn a_pix_paid_in_whose_notification_was_dropped_is_credited_from_the_rails_statement(pool: PgPool) {
    let app = TestApp::spawn_with_rail(pool).await;
    let m = app.merchant("Loja", KEY).await;
    let (_, _, cob) =
        call(app.request(Method::PUT, &format!("/v2/cob/{}", txid(81)), &m).json(&charge_body(KEY, "7.00"))).await;
    app.rail_faults(json!({"notificacoes": {"descartar": 1.0}})).await;
    let paid = app.pay(json!({"pixCopiaECola": cob["pixCopiaECola"]})).await;
    assert_eq!(paid["entregas"].as_array().unwrap().len(), 0, "nothing told Tucano");
    assert_eq!(app.saldo(&m).await, ("0.00".into(), "0.00".into()));

    // Another Pix, told as usual: on the statement too, booked already.
    app.rail_faults(json!({})).await;
    let (_, _, told) =
        call(app.request(Method::PUT, &format!("/v2/cob/{}", txid(82)), &m).json(&charge_body(KEY, "3.00"))).await;
    app.pay(json!({"pixCopiaECola": told["pixCopiaECola"]})).await;
    app.eventually(&m, &format!("/v2/cob/{}", txid(82)), |c| c["status"] == "CONCLUIDA").await;

    let report = reconcile::run(&app.state, chrono::Duration::zero()).await.unwrap();
    assert_eq!(report.received_recovered, 1, "{report:?}");
    assert_eq!(app.saldo(&m).await, ("10.00".into(), "0.00".into()));
    let (_, _, now) = call(app.request(Method::GET, &format!("/v2/cob/{}", txid(81)), &m)).await;
    assert_eq!(now["status"], "CONCLUIDA");
    // A second pass finds it booked.
    let again = reconcile::run(&app.state, chrono::Duration::zero()).await.unwrap();
    assert_eq!(again.received_recovered, 0);
    // What was booked as reported is passed over, not recorded again on every pass: only
    // the recovered Pix went through the booking from the statement.
    let from_statement: i64 = sqlx::query_scalar("SELECT count(*) FROM rail_notifications WHERE id LIKE 'statement-%'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(from_statement, 1);
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn under_a_backlog_every_pending_order_is_drawn_by_some_pass(pool: PgPool) {
    // Five transfers wait for their verdicts; each pass reads two (as it reads at most
    // reconcile::PENDING_PER_PASS). Orders the rail never answers clearly must not keep the
    // same places pass after pass.
    let app = TestApp::spawn_with_rail(pool).await;
    let m = app.merchant("Loja", KEY).await;
    fund(&app, 11, "50.00").await;
    app.rail_control(json!({"notificar": false})).await;
    let mut sent = std::collections::BTreeSet::new();
    for n in 0..5 {
        sent.insert(send(&app, &m, &format!("fila{n}"), "1.00").await["endToEndId"].as_str().unwrap().to_owned());
    }
    let later = chrono::Utc::now() + chrono::Duration::minutes(1);
    let mut drawn = std::collections::BTreeSet::new();
    for pass in 0..40 {
        let some = app.state.transfers.pending(later, 2, pass).await.unwrap();
        assert_eq!(some.len(), 2);
        drawn.extend(some.into_iter().map(|t| t.end_to_end_id.as_str().to_owned()));
    }
    assert_eq!(drawn, sent, "every one drawn within 40 passes");
    assert_eq!(app.state.transfers.pending(later, 1000, 0).await.unwrap().len(), 5, "all of them without a backlog");
}
