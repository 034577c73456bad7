//! `Idempotency-Key` over HTTP: replays, conflicts, races, and money that never moves
//! twice even when an idempotency record is lost.

use crate::common::*;
use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;
use std::sync::Arc;

const KEY: &str = "loja@example.com";

#[sqlx::test(migrations = "./migrations")]
async fn a_repeated_keyed_post_replays_the_first_answer(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let m = app.merchant("Loja", KEY).await;
    let body = charge_body(KEY, "10.00");

    let (status, _, problem) =
        call(app.request(Method::POST, "/v2/cob", &m).header("idempotency-key", "a b").json(&body)).await;
    assert_eq!(status, 400);
    assert_eq!(problem["type"], format!("{BACEN_ERROR}RequisicaoInvalida"));
    assert_eq!(app.count("charges").await, 0);

    let first = app
        .request(Method::POST, "/v2/cob", &m)
        .header("idempotency-key", "pedido-42")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first_body = first.text().await.unwrap();

    let again = app
        .request(Method::POST, "/v2/cob", &m)
        .header("idempotency-key", "pedido-42")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.headers()["content-type"], "application/json");
    assert_eq!(again.text().await.unwrap(), first_body);
    assert_eq!(app.count("charges").await, 1);
    // What a response shows (here a debtor's document and name) is kept sealed.
    let mut with_debtor = body.clone();
    with_debtor["devedor"] = json!({"cpf": "52998224725", "nome": "Maria Souza"});
    let (status, _, shown) =
        call(app.request(Method::POST, "/v2/cob", &m).header("idempotency-key", "pedido-43").json(&with_debtor)).await;
    assert_eq!((status, shown["devedor"]["cpf"].as_str()), (201, Some("52998224725")), "{shown}");
    let stored: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT response_body FROM idempotency_records").fetch_all(&app.pool).await.unwrap();
    assert_eq!(stored.len(), 2);
    for body in &stored {
        let text = String::from_utf8_lossy(body);
        assert!(!text.contains("52998224725") && !text.contains("Maria") && !text.contains("Pedido 42"), "{text}");
    }
    let (_, _, replayed) =
        call(app.request(Method::POST, "/v2/cob", &m).header("idempotency-key", "pedido-43").json(&with_debtor)).await;
    assert_eq!(replayed, shown, "opened for the replay");
    assert_eq!(app.count("charges").await, 2);

    let other = charge_body(KEY, "11.00");
    let (status, ct, problem) =
        call(app.request(Method::POST, "/v2/cob", &m).header("idempotency-key", "pedido-42").json(&other)).await;
    assert_eq!((status, ct.as_str()), (422, "application/problem+json"));
    assert_eq!(problem["type"], "https://tucano.dev/problems/ChaveIdempotenciaReutilizada");
    assert_eq!(app.count("charges").await, 2);

    // Keys belong to one merchant: another merchant's identical key is independent.
    let b = app.merchant("Outra", "+5581999990000").await;
    let (status, _, _) = call(
        app.request(Method::POST, "/v2/cob", &b)
            .header("idempotency-key", "pedido-42")
            .json(&charge_body("+5581999990000", "1.00")),
    )
    .await;
    assert_eq!(status, 201);
}

/// A Bacen client sends `POST /cob` without the header (the spec has none): it works, as
/// any POST does without one — each is a new charge.
#[sqlx::test(migrations = "./migrations")]
async fn post_cob_works_without_a_key_and_our_own_posts_still_need_one(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let m = app.merchant("Loja", KEY).await;
    for _ in 0..2 {
        let (status, _, cob) = call(app.request(Method::POST, "/v2/cob", &m).json(&charge_body(KEY, "10.00"))).await;
        assert_eq!(status, 201, "{cob}");
    }
    assert_eq!(app.count("charges").await, 2);
    let (status, _, problem) = call(
        app.request(Method::POST, "/v2/webhooks", &m).json(&serde_json::json!({"webhookUrl": "https://example.com/h"})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(problem["type"], format!("{BACEN_ERROR}RequisicaoInvalida"));
    assert_eq!(app.count("webhook_endpoints").await, 0);
}

#[sqlx::test(migrations = "./migrations")]
async fn two_hundred_concurrent_identical_posts_run_once(pool: PgPool) {
    let app = Arc::new(TestApp::spawn(pool).await);
    let m = Arc::new(app.merchant("Loja", KEY).await);
    let body = charge_body(KEY, "10.00");
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let (app, m, body) = (app.clone(), m.clone(), body.clone());
            tokio::spawn(async move {
                let res = app
                    .request(Method::POST, "/v2/cob", &m)
                    .header("idempotency-key", "storm")
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                let replayed = res.headers().contains_key("idempotent-replayed");
                (res.status().as_u16(), replayed, res.text().await.unwrap())
            })
        })
        .collect();
    let mut executed = vec![];
    let mut replays = vec![];
    let mut conflicts = 0;
    for t in tasks {
        match t.await.unwrap() {
            (201, false, body) => executed.push(body),
            (201, true, body) => replays.push(body),
            (409, _, _) => conflicts += 1,
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert_eq!(executed.len(), 1, "exactly one execution");
    assert!(replays.iter().all(|r| *r == executed[0]), "replays are identical");
    assert_eq!(1 + replays.len() + conflicts, 200);
    assert_eq!(app.count("charges").await, 1);
}

/// A received Pix of 30.00 for the merchant, as the rail would notify it.
async fn received(app: &TestApp, e2eid: &str) {
    let n = json!({"tipo": "PIX_RECEBIDO", "id": format!("n-{e2eid}"), "pix": {
        "endToEndId": e2eid, "valor": "30.00", "chave": KEY, "horario": chrono::Utc::now().to_rfc3339()}});
    let (status, _, _) = app.notify(&n).await;
    assert_eq!(status, 200);
}

async fn refund_movements(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM ledger_transactions WHERE kind = 'refund_reserve'")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = "./migrations")]
async fn two_hundred_concurrent_refund_requests_move_money_once(pool: PgPool) {
    let app = Arc::new(TestApp::spawn(pool).await);
    let m = Arc::new(app.merchant("Loja", KEY).await);
    let e2eid = "E9999999920261121130500000000077";
    received(&app, e2eid).await;
    let path = format!("/v2/pix/{e2eid}/devolucao/d1");
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let (app, m, path) = (app.clone(), m.clone(), path.clone());
            tokio::spawn(async move {
                let req = app
                    .request(Method::PUT, &path, &m)
                    .header("idempotency-key", "refund-storm")
                    .json(&json!({"valor": "10.00"}));
                req.send().await.unwrap().status().as_u16()
            })
        })
        .collect();
    for t in tasks {
        let status = t.await.unwrap();
        assert!(status == 201 || status == 409, "{status}");
    }
    assert_eq!(refund_movements(&app).await, 1);
    assert_eq!(app.saldo(&m).await, ("20.00".into(), "10.00".into()));
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn a_lost_idempotency_record_cannot_make_money_move_twice(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let m = app.merchant("Loja", KEY).await;
    let e2eid = "E9999999920261121130500000000078";
    received(&app, e2eid).await;
    let path = format!("/v2/pix/{e2eid}/devolucao/d1");
    let put =
        || app.request(Method::PUT, &path, &m).header("idempotency-key", "k-refund").json(&json!({"valor": "10.00"}));

    let (status, _, first) = call(put()).await;
    assert_eq!(status, 201);
    // The record disappears (TTL, a table restore, an operator...) mid-flight...
    sqlx::query("DELETE FROM idempotency_records").execute(&app.pool).await.unwrap();
    // ...and the client retries: the refund's natural key (its id on this Pix) holds.
    let res = put().send().await.unwrap();
    assert_eq!(res.status(), 201);
    assert!(res.headers().get("idempotent-replayed").is_none(), "the record was really gone");
    let again: serde_json::Value = res.json().await.unwrap();
    assert_eq!(again["rtrId"], first["rtrId"]);
    assert_eq!(refund_movements(&app).await, 1);
    assert_eq!(app.saldo(&m).await, ("20.00".into(), "10.00".into()));
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn a_request_that_fails_server_side_releases_its_key_for_a_retry(pool: PgPool) {
    use tucano_shared::domain::merchant::ApiKeyHash;
    use tucano_shared::http::idempotency::guard;
    use tucano_shared::http::problem::ApiError;
    let app = TestApp::spawn(pool).await;
    let m = app.merchant("Loja", KEY).await;
    let merchant = app.state.merchants.by_api_key(&ApiKeyHash::of(&m.api_key)).await.unwrap().unwrap();
    let req = || {
        http::Request::builder()
            .method("POST")
            .uri("/v2/cob")
            .header("idempotency-key", "flaky")
            .body(bytes::Bytes::from_static(b"{}"))
            .unwrap()
    };

    // The first attempt dies with a 500 before any effect...
    let first = guard(&app.state, &merchant, true, &req(), "r1", || async {
        Err(ApiError::internal(anyhow::anyhow!("database went away")))
    })
    .await
    .unwrap();
    assert_eq!(first.status(), 500);
    // ...so the retry with the same key runs (not 409, not a replayed 500).
    let ran = std::sync::atomic::AtomicBool::new(false);
    let second = guard(&app.state, &merchant, true, &req(), "r2", || async {
        ran.store(true, std::sync::atomic::Ordering::SeqCst);
        Ok(http::Response::builder().status(201).body(bytes::Bytes::from_static(b"{}")).unwrap())
    })
    .await
    .unwrap();
    assert!(ran.load(std::sync::atomic::Ordering::SeqCst));
    assert_eq!(second.status(), 201);
    // And that success is what a third attempt replays.
    let third =
        guard(&app.state, &merchant, true, &req(), "r3", || async { panic!("must not run again") }).await.unwrap();
    assert_eq!(third.headers()["idempotent-replayed"], "true");
}

/// A `POST /cob` retried with its `Idempotency-Key` after the key's record no longer answers
/// (the function stopped after making the charge and its lock lapsed; here the record is
/// gone) finds the charge it made: no second charge. The key used again for another request
/// makes a new one.
#[sqlx::test(migrations = "./migrations")]
async fn a_keyed_post_retried_after_its_record_lapsed_finds_the_charge_it_made(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let m = app.merchant("Loja", KEY).await;
    let post = |body: serde_json::Value| {
        call(app.request(Method::POST, "/v2/cob", &m).header("idempotency-key", "pedido-77").json(&body))
    };
    let (status, _, first) = post(charge_body(KEY, "10.00")).await;
    assert_eq!(status, 201, "{first}");
    sqlx::query("DELETE FROM idempotency_records").execute(&app.pool).await.unwrap();
    // (The key quoted, as the idempotency layer reads it too: the same key.)
    let (status, _, again) = call(
        app.request(Method::POST, "/v2/cob", &m)
            .header("idempotency-key", "\"pedido-77\"")
            .json(&charge_body(KEY, "10.00")),
    )
    .await;
    assert_eq!(status, 201, "{again}");
    assert_eq!(again["txid"], first["txid"], "the same charge");
    assert_eq!(app.count("charges").await, 1);

    sqlx::query("DELETE FROM idempotency_records").execute(&app.pool).await.unwrap();
    let (status, _, other) = post(charge_body(KEY, "12.00")).await;
    assert_eq!(status, 201, "{other}");
    assert_ne!(other["txid"], first["txid"]);
    assert_eq!(app.count("charges").await, 2);

    // The key sent again days later, its record long expired, asks for a new charge (the
    // old one may be paid or expired by now).
    let mut tx = app.pool.begin().await.unwrap();
    sqlx::query("SET LOCAL session_replication_role = replica").execute(&mut *tx).await.unwrap();
    sqlx::query("UPDATE charges SET created_at = created_at - interval '3 days'").execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    sqlx::query("DELETE FROM idempotency_records").execute(&app.pool).await.unwrap();
    let (status, _, later) = post(charge_body(KEY, "10.00")).await;
    assert_eq!(status, 201, "{later}");
    assert_ne!(later["txid"], first["txid"]);
    assert_eq!(app.count("charges").await, 3);
    // Another merchant's same key is its own.
    let b = app.merchant("Outra", "+5581999990000").await;
    let (_, _, theirs) = call(
        app.request(Method::POST, "/v2/cob", &b)
            .header("idempotency-key", "pedido-77")
            .json(&charge_body("+5581999990000", "10.00")),
    )
    .await;
    assert_ne!(theirs["txid"], first["txid"]);
}
