//! The rail's batches: several notifications in one signed request, each answered as it
//! would be alone, the plain credits booked together in one statement.

use crate::common::*;
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::PgPool;

const KEY: &str = "loja@example.com";

fn e2e(n: u32) -> String {
    format!("E99999999202612061030{n:011}")
}

/// A PIX_RECEBIDO notification `id` of `valor` to `chave`, end-to-end id number `n`, paid now.
fn received(id: &str, n: u32, chave: &str, valor: &str) -> Value {
    json!({"tipo": "PIX_RECEBIDO", "id": id, "pix": {
        "endToEndId": e2e(n), "valor": valor, "chave": chave,
        "horario": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "pagador": {"cpf": "12345678909", "nome": "Maria"}}})
}

/// The results of a batch, as (id, status, resultado or problem type).
fn results(body: &Value) -> Vec<(Value, u64, String)> {
    body["resultados"]
        .as_array()
        .unwrap_or_else(|| panic!("no results: {body}"))
        .iter()
        .map(|r| {
            let said = r["resultado"].as_str().or(r["type"].as_str()).unwrap_or("").to_owned();
            (r["id"].clone(), r["status"].as_u64().unwrap(), said)
        })
        .collect()
}

/// The merchant's charge `txid(1)` of `valor`, created.
async fn charge(app: &TestApp, m: &TestMerchant, valor: &str) -> Value {
    let (status, _, cob) =
        call(app.request(Method::PUT, &format!("/v2/cob/{}", txid(1)), m).json(&charge_body(KEY, valor))).await;
    assert_eq!(status, 201, "{cob}");
    cob
}

/// How many transactions wrote these received Pix (their rows' xmin).
async fn writing_transactions(app: &TestApp, numbers: &[u32]) -> i64 {
    let ids: Vec<String> = numbers.iter().map(|n| e2e(*n)).collect();
    sqlx::query_scalar("SELECT count(DISTINCT xmin::text) FROM received_pix WHERE end_to_end_id = ANY($1)")
        .bind(&ids)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = "./migrations")]
async fn a_batch_of_plain_credits_is_booked_together_and_each_answered(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let m = app.merchant_with_fees("Loja", KEY, fees(100, "0.00")).await;
    let batch = json!([
        received("b1", 1, KEY, "10.00"),
        received("b2", 2, KEY, "20.00"),
        received("b3", 3, "nobody@example.com", "5.00"),
        received("b4", 4, KEY, "30.00"),
    ]);
    let (status, _, body) = app.notify(&batch).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        results(&body),
        [
            (json!("b1"), 200, "APLICADA".into()),
            (json!("b2"), 200, "APLICADA".into()),
            (json!("b3"), 200, "APLICADA".into()),
            (json!("b4"), 200, "APLICADA".into()),
        ]
    );
    assert_eq!(writing_transactions(&app, &[1, 2, 3, 4]).await, 1, "one statement, one commit");
    // 60.00 less 1% to the merchant; the Pix to an unknown key to suspense.
    assert_eq!(app.saldo(&m).await, ("59.40".into(), "0.00".into()));
    assert_eq!(app.platform_balance("suspense").await, 500);
    assert_eq!(app.platform_balance("fee_revenue").await, 60);
    let (_, _, pix) = call(app.request(Method::GET, &format!("/v2/pix/{}", e2e(2)), &m)).await;
    assert_eq!((pix["valor"].as_str(), pix["pagador"]["cpf"].as_str()), (Some("20.00"), Some("12345678909")));
    assert_eq!(app.events(&m, "pix.recebido").await.len(), 3);

    // The same batch again, as a rail that did not hear the answer sends it: nothing changes.
    let (status, _, again) = app.notify(&batch).await;
    assert_eq!(status, 200);
    assert!(results(&again).iter().all(|(_, s, r)| *s == 200 && r == "DUPLICADA"), "{again}");
    assert_eq!(app.saldo(&m).await, ("59.40".into(), "0.00".into()));
    assert_eq!(app.count("received_pix").await, 4);
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn a_batch_that_repeats_a_known_pix_is_booked_one_by_one_and_the_repeat_judged(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let m = app.merchant("Loja", KEY).await;
    assert_eq!(app.notify(&received("first", 1, KEY, "10.00")).await.0, 200);
    let batch = json!([
        received("c1", 2, KEY, "1.00"),
        // The Pix already recorded, under another notification id: the same, then changed.
        received("c2", 1, KEY, "10.00"),
        received("c3", 3, KEY, "2.00"),
        // Twice in the batch: the second is a repeat of the first.
        received("c4", 4, KEY, "4.00"),
        received("c4", 4, KEY, "4.00"),
        received("c5", 4, KEY, "4.50"),
    ]);
    let (status, _, body) = app.notify(&batch).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        results(&body),
        [
            (json!("c1"), 200, "APLICADA".into()),
            (json!("c2"), 200, "DUPLICADA".into()),
            (json!("c3"), 200, "APLICADA".into()),
            (json!("c4"), 200, "APLICADA".into()),
            (json!("c4"), 200, "DUPLICADA".into()),
            (json!("c5"), 200, "CONTRADICAO_REGISTRADA".into()),
        ]
    );
    // The batch statement undid itself at the known Pix: each was booked alone.
    assert_eq!(writing_transactions(&app, &[2, 3, 4]).await, 3);
    assert_eq!(app.saldo(&m).await, ("17.00".into(), "0.00".into()));
    assert_eq!(app.platform_balance("suspense").await, 50, "the difference a contradicting report claims");
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn a_batch_mixes_kinds_and_a_bad_item_is_refused_alone(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let m = app.merchant("Loja", KEY).await;
    charge(&app, &m, "12.34").await;
    let mut pays_charge = received("d2", 2, KEY, "12.34");
    pays_charge["pix"]["txid"] = json!(txid(1));
    let mut bad_amount = received("d3", 3, KEY, "12.345");
    bad_amount["pix"]["valor"] = json!("-1.00");
    let batch = json!([
        received("d1", 1, KEY, "1.00"),
        pays_charge,
        bad_amount,
        {"tipo": "DEVOLUCAO_LIQUIDADA", "id": "d4", "devolucao": {"rtrId": "D99999999202612061030aaaaaaaaaaa",
            "endToEndId": e2e(1), "valor": "1.00", "horario": "2026-12-06T10:31:00.000Z"}},
        {"tipo": "NO_SUCH_KIND", "id": "d5"},
        received("d6", 6, KEY, "2.00"),
    ]);
    let (status, _, body) = app.notify(&batch).await;
    assert_eq!(status, 200, "{body}");
    let problem = |kind: &str| format!("https://pix.bcb.gov.br/api/v2/error/{kind}");
    assert_eq!(
        results(&body),
        [
            (json!("d1"), 200, "APLICADA".into()),
            (json!("d2"), 200, "APLICADA".into()),
            (json!("d3"), 400, problem("RequisicaoInvalida")),
            (json!("d4"), 404, problem("NaoEncontrado")),
            (Value::Null, 400, problem("RequisicaoInvalida")),
            (json!("d6"), 200, "APLICADA".into()),
        ]
    );
    assert_eq!(body["resultados"][2]["violacoes"][0]["propriedade"], "pix.valor", "{body}");
    let (_, _, c) = call(app.request(Method::GET, &format!("/v2/cob/{}", txid(1)), &m)).await;
    assert_eq!(c["status"], "CONCLUIDA", "the Pix that names a charge concludes it, booked alone");
    assert_eq!(app.saldo(&m).await, ("15.34".into(), "0.00".into()));
    assert_eq!(app.count("received_pix").await, 3);
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn an_empty_oversized_or_unsigned_batch_is_refused_whole_and_changes_nothing(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let m = app.merchant("Loja", KEY).await;
    let too_many: Vec<Value> = (0..101).map(|n| received(&format!("x{n}"), n, KEY, "1.00")).collect();
    for (case, batch) in [("empty", json!([])), ("101 notifications", json!(too_many)), ("not objects", json!([[]]))] {
        let (status, ct, problem) = app.notify(&batch).await;
        match case {
            "not objects" => {
                assert_eq!(status, 200, "{case}: {problem}");
                assert_eq!(
                    results(&problem),
                    [(Value::Null, 400, "https://pix.bcb.gov.br/api/v2/error/RequisicaoInvalida".into())]
                );
            }
            _ => {
                assert_eq!((status, ct.as_str()), (400, "application/problem+json"), "{case}: {problem}");
                assert_eq!(problem["type"], "https://pix.bcb.gov.br/api/v2/error/RequisicaoInvalida", "{case}");
            }
        }
    }
    let batch = json!([received("u1", 1, KEY, "1.00")]);
    let (status, _, _) = app.notify_signed(&batch, b"not-the-secret-at-all").await;
    assert_eq!(status, 401);
    assert_eq!(app.count("rail_notifications").await, 0);
    assert_eq!(app.saldo(&m).await, ("0.00".into(), "0.00".into()));
}

#[sqlx::test(migrations = "./migrations")]
async fn overlapping_batches_sent_at_once_credit_each_pix_exactly_once(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let m = app.merchant("Loja", KEY).await;
    // Twenty Pix of 1.00 to 20.00; eight batches of ten of them, overlapping, in
    // different orders, sent at the same moment (a rail resending what it did not hear).
    let all: Vec<Value> = (1..=20).map(|n| received(&format!("o{n}"), n, KEY, &format!("{n}.00"))).collect();
    let batches: Vec<Value> = (0..8)
        .map(|k| {
            let mut pick: Vec<Value> = (0..10).map(|i| all[(k * 3 + i * 7) % 20].clone()).collect();
            if k % 2 == 1 {
                pick.reverse();
            }
            json!(pick)
        })
        .collect();
    let sending: Vec<_> =
        batches.iter().map(|b| tokio::spawn(call(app.notification(b, RAIL_SECRET.as_bytes())))).collect();
    let mut answers = vec![];
    for s in sending {
        answers.push(s.await.unwrap());
    }
    let mut applied = std::collections::HashMap::<String, usize>::new();
    for (status, _, body) in &answers {
        assert_eq!(*status, 200, "{body}");
        for (id, status, said) in results(body) {
            assert_eq!(status, 200, "{body}");
            if said == "APLICADA" {
                *applied.entry(id.as_str().unwrap().to_owned()).or_default() += 1;
            } else {
                assert_eq!(said, "DUPLICADA", "{body}");
            }
        }
    }
    assert!(applied.values().all(|n| *n == 1), "each notification applied once: {applied:?}");
    let sent: std::collections::HashSet<u32> =
        (0..8).flat_map(|k| (0..10).map(move |i| (k * 3 + i * 7) % 20)).collect();
    let expected: u32 = sent.iter().map(|i| i + 1).sum();
    assert_eq!(applied.len(), sent.len());
    assert_eq!(app.saldo(&m).await, (format!("{expected}.00"), "0.00".into()));
    assert_eq!(app.count("received_pix").await, sent.len() as i64);
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn a_pix_booked_alone_is_booked_before_a_later_repeat_of_it_in_the_batch(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let m = app.merchant("Loja", KEY).await;
    charge(&app, &m, "12.34").await;
    let mut pays_charge = received("r1", 1, KEY, "12.34");
    pays_charge["pix"]["txid"] = json!(txid(1));
    // The same end-to-end id again, to another key: the rail contradicting itself.
    let batch = json!([
        pays_charge,
        received("r2", 1, "nobody@example.com", "12.34"),
        received("r3", 2, KEY, "1.00"),
        received("r4", 3, KEY, "2.00"),
    ]);
    let (status, _, body) = app.notify(&batch).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        results(&body),
        [
            (json!("r1"), 200, "APLICADA".into()),
            (json!("r2"), 200, "CONTRADICAO_REGISTRADA".into()),
            (json!("r3"), 200, "APLICADA".into()),
            (json!("r4"), 200, "APLICADA".into()),
        ]
    );
    let (_, _, c) = call(app.request(Method::GET, &format!("/v2/cob/{}", txid(1)), &m)).await;
    assert_eq!(c["status"], "CONCLUIDA", "the first report of the Pix stands: {body}");
    assert_eq!(app.saldo(&m).await, ("15.34".into(), "0.00".into()));
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn a_batch_is_applied_in_its_order_across_kinds(pool: PgPool) {
    let app = TestApp::spawn_with_rail(pool).await;
    let m = app.merchant("Loja", KEY).await;
    assert_eq!(app.notify(&received("paid", 1, KEY, "20.00")).await.0, 200);
    // A refund the rail settles without telling us, so the batch below brings its verdict.
    app.rail_control(json!({"notificar": false})).await;
    let path = format!("/v2/pix/{}/devolucao/dev1", e2e(1));
    let (status, _, refund) = call(app.request(Method::PUT, &path, &m).json(&json!({"valor": "5.00"}))).await;
    assert_eq!(status, 201, "{refund}");
    app.rail_idle().await;
    // Two notifications under one id (a rail's mistake): the first in the batch is applied,
    // the second is its duplicate, whatever their kinds.
    let batch = json!([
        {"tipo": "DEVOLUCAO_LIQUIDADA", "id": "k1", "devolucao": {"rtrId": refund["rtrId"], "endToEndId": e2e(1),
            "valor": "5.00", "horario": chrono::Utc::now().to_rfc3339()}},
        received("k1", 2, KEY, "1.00"),
    ]);
    let (status, _, body) = app.notify(&batch).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(results(&body), [(json!("k1"), 200, "APLICADA".into()), (json!("k1"), 200, "DUPLICADA".into())]);
    let (_, _, settled) = call(app.request(Method::GET, &path, &m)).await;
    assert_eq!(settled["status"], "DEVOLVIDO", "{settled}");
    assert_eq!(app.saldo(&m).await, ("15.00".into(), "0.00".into()));
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn a_batch_item_with_a_repeated_field_is_refused_as_it_would_be_alone(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let m = app.merchant("Loja", KEY).await;
    let one = received("f1", 1, KEY, "1.00").to_string();
    // The same notification with its id given twice: refused alone, and in a batch.
    let twice = one.replacen("\"id\":\"f1\"", "\"id\":\"f1\",\"id\":\"f9\"", 1);
    assert_ne!(one, twice);
    let (status, _, _) = call(app.signed_body(twice.clone(), RAIL_SECRET.as_bytes())).await;
    assert_eq!(status, 400);
    let (status, _, body) = call(app.signed_body(format!("[{twice},{one}]"), RAIL_SECRET.as_bytes())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        results(&body),
        [
            (Value::Null, 400, "https://pix.bcb.gov.br/api/v2/error/RequisicaoInvalida".into()),
            (json!("f1"), 200, "APLICADA".into()),
        ]
    );
    assert_eq!(app.saldo(&m).await, ("1.00".into(), "0.00".into()));
}

#[sqlx::test(migrations = "./migrations")]
async fn twenty_copies_sent_by_the_sandbox_rail_as_one_batch_credit_once(pool: PgPool) {
    let app = TestApp::spawn_with_rail(pool).await;
    let m = app.merchant("Loja", KEY).await;
    let cob = charge(&app, &m, "37.00").await;
    let paid = app
        .pay(json!({"pixCopiaECola": cob["pixCopiaECola"], "duplicatas": 20, "embaralhar": true, "emLote": true}))
        .await;
    let deliveries = paid["entregas"].as_array().unwrap();
    assert_eq!(deliveries.len(), 20);
    assert!(deliveries.iter().all(|d| d["status"] == 200 && d["attempts"] == 1), "{paid}");
    assert_eq!(app.saldo(&m).await, ("37.00".into(), "0.00".into()));
    assert_eq!(app.count("received_pix").await, 1);
    let (_, _, c) = call(app.request(Method::GET, &format!("/v2/cob/{}", txid(1)), &m)).await;
    assert_eq!(c["status"], "CONCLUIDA");
    app.assert_ledger_ok().await;
}

/// A stand-in for Tucano on loopback that answers the rail's first batch with 200, 503 and
/// 404 for its three items, and 200 for each item of any later one; it keeps the sizes of
/// the batches it was sent.
async fn flaky_tucano() -> (String, std::sync::Arc<std::sync::Mutex<Vec<usize>>>) {
    let sizes = std::sync::Arc::new(std::sync::Mutex::new(vec![]));
    let seen = sizes.clone();
    let answer = move |body: axum::body::Bytes| {
        let seen = seen.clone();
        async move {
            let items: Vec<Value> = serde_json::from_slice(&body).unwrap_or_default();
            let first = {
                let mut seen = seen.lock().unwrap();
                seen.push(items.len());
                seen.len() == 1
            };
            let statuses = if first { vec![200, 503, 404] } else { vec![200; items.len()] };
            let resultados: Vec<Value> =
                items.iter().zip(statuses).map(|(i, s)| json!({"id": i["id"], "status": s})).collect();
            axum::Json(json!({ "resultados": resultados }))
        }
    };
    let app = axum::Router::new().route("/rail/notificacoes", axum::routing::post(answer));
    (serve_on_loopback(app).await, sizes)
}

#[tokio::test]
async fn the_sandbox_rail_sends_a_batch_once_then_again_only_the_items_that_ask_for_it() {
    let (tucano, sizes) = flaky_tucano().await;
    let rail = Rail::spawn(&tucano, None).await;
    let receiver = tucano_shared::domain::brcode::Receiver { name: "Loja", city: "RECIFE" };
    let code =
        tucano_shared::domain::brcode::BrCode::static_code(KEY, None, None, None, &receiver).unwrap().encode().unwrap();
    let res = reqwest::Client::new()
        .post(format!("{}/pagamentos", rail.url))
        .json(&json!({"pixCopiaECola": code, "valor": "1.00", "duplicatas": 3, "emLote": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let paid: Value = res.json().await.unwrap();
    let told: Vec<(u64, u64)> = paid["entregas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["status"].as_u64().unwrap(), d["attempts"].as_u64().unwrap()))
        .collect();
    assert_eq!(told, [(200, 1), (200, 2), (200, 2)], "{paid}");
    assert_eq!(*sizes.lock().unwrap(), [3, 2], "one request of three, then one of the two to send again");
}

#[sqlx::test(migrations = "./migrations")]
async fn a_full_batch_with_every_field_at_its_longest_is_taken(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let m = app.merchant("Loja", KEY).await;
    let batch: Vec<Value> = (1..=100)
        .map(|n| {
            let mut item = received(&format!("{n:03}{}", "i".repeat(97)), n, KEY, "1000000.00");
            item["pix"]["pagador"]["nome"] = json!("N".repeat(200));
            item["pix"]["infoPagador"] = json!("I".repeat(140));
            item
        })
        .collect();
    let batch = json!(batch);
    assert!(batch.to_string().len() > 64 * 1024, "larger than any other notification body may be");
    let (status, _, body) = app.notify(&batch).await;
    assert_eq!(status, 200, "{body}");
    assert!(results(&body).iter().all(|(_, s, r)| *s == 200 && r == "APLICADA"), "{body}");
    assert_eq!(app.saldo(&m).await.0, "100000000.00");
    app.assert_ledger_ok().await;
}
