//! Webhooks to merchants, end to end: the API Pix callback and signed event webhooks after a
//! payment on the sandbox rail, delivery to flaky receivers, a dispatcher killed
//! mid-delivery, receiver safety, secrets and replays.

use crate::common::receiver::{Answer, Receiver};
use crate::common::*;
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tucano_shared::app::webhooks::dispatch_once;

const KEY: &str = "loja@example.com";
const RANGE: &str = "inicio=2000-01-01T00:00:00Z&fim=2100-01-01T00:00:00Z";

/// Registers an event endpoint; returns (id, secret).
async fn subscribe(app: &TestApp, m: &TestMerchant, url: &str, eventos: Option<Value>) -> (String, String) {
    let mut body = json!({"webhookUrl": url});
    if let Some(e) = eventos {
        body["eventos"] = e;
    }
    let key = uuid::Uuid::new_v4().to_string();
    let (status, _, b) =
        call(app.request(Method::POST, "/v2/webhooks", m).header("idempotency-key", key).json(&body)).await;
    assert_eq!(status, 201, "{b}");
    (b["id"].as_str().unwrap().to_owned(), b["segredo"].as_str().unwrap().to_owned())
}

/// Runs dispatcher passes until `done` holds for the receiver (up to 20 s).
pub(crate) async fn dispatch_until(
    app: &TestApp,
    receiver: &Receiver,
    done: impl Fn(&[crate::common::receiver::Received]) -> bool,
) {
    // Held to the delivery worker's key policy, as in the function.
    for _ in 0..400 {
        tucano_shared::routes::within_job("webhook_deliver", dispatch_once(&app.state)).await.unwrap();
        if done(&receiver.received()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("not delivered: {:#?}", receiver.received());
}

/// A received Pix with no charge, as the rail reports it.
async fn receive(app: &TestApp, n: u32, valor: &str) -> String {
    let e2eid = format!("E99999999202611221305{n:011}");
    let note = json!({"tipo": "PIX_RECEBIDO", "id": format!("in-{n}"), "pix": {
        "endToEndId": e2eid, "valor": valor, "chave": KEY, "horario": chrono::Utc::now().to_rfc3339()}});
    assert_eq!(app.notify(&note).await.0, 200);
    e2eid
}

/// An event `{"n": n}` written straight into the outbox, as any booking writes one.
fn outbox_event(m: &TestMerchant, n: i32) -> sqlx::query::Query<'static, sqlx::Postgres, sqlx::postgres::PgArguments> {
    sqlx::query("INSERT INTO outbox_events (merchant_id, kind, payload) VALUES ($1, 'pix.recebido', $2)")
        .bind(m.id.0)
        .bind(json!({"n": n}))
}

async fn deliveries_by_status(app: &TestApp) -> Vec<(String, i64)> {
    sqlx::query_as("SELECT status, count(*) FROM webhook_deliveries GROUP BY status ORDER BY status")
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = "./migrations")]
async fn a_paid_charge_reaches_the_api_pix_callback_and_the_event_webhook_both_signed(pool: PgPool) {
    let app = TestApp::spawn_with_rail(pool).await;
    let m = app.merchant("Padaria", KEY).await;
    let receiver = Receiver::start(|_| Answer::Ok).await;

    let register = || {
        app.request(Method::PUT, &format!("/v2/webhook/{KEY}"), &m)
            .header("idempotency-key", "registra-1")
            .json(&json!({"webhookUrl": format!("{}/bacen", receiver.url)}))
    };
    let (status, _, hook) = call(register()).await;
    assert_eq!(status, 200, "{hook}");
    assert_eq!(hook["chave"], KEY);
    let bacen_secret = hook["segredo"].as_str().unwrap().to_owned();
    assert!(bacen_secret.starts_with("whsec_"));
    // A client that lost the answer retries with its key and gets the same secret back
    // (the stored answer is sealed: the function may use that purpose).
    let (status, _, replayed) = call(register()).await;
    assert_eq!((status, replayed["segredo"].as_str()), (200, Some(bacen_secret.as_str())), "{replayed}");
    let (_, _, shown) = call(app.request(Method::GET, &format!("/v2/webhook/{KEY}"), &m)).await;
    assert_eq!(shown["webhookUrl"], format!("{}/bacen", receiver.url));
    assert!(shown.get("segredo").is_none(), "a secret is shown once");
    let (_, _, list) = call(app.request(Method::GET, &format!("/v2/webhook?{RANGE}"), &m)).await;
    assert_eq!(list["webhooks"].as_array().unwrap().len(), 1, "{list}");
    let (_, events_secret) =
        subscribe(&app, &m, &format!("{}/eventos", receiver.url), Some(json!(["pix.recebido", "cob.concluida"]))).await;

    let (status, _, cob) =
        call(app.request(Method::PUT, &format!("/v2/cob/{}", txid(1)), &m).json(&charge_body(KEY, "25.00"))).await;
    assert_eq!(status, 201);
    let paid = app.pay(json!({"pixCopiaECola": cob["pixCopiaECola"]})).await;
    let e2eid = paid["endToEndId"].as_str().unwrap().to_owned();
    app.eventually(&m, &format!("/v2/cob/{}", txid(1)), |c| c["status"] == "CONCLUIDA").await;

    dispatch_until(&app, &receiver, |r| r.len() >= 3).await;
    let got = receiver.received();
    let callback = got.iter().find(|r| r.path == "/bacen/pix").expect("the API Pix callback goes to {url}/pix");
    assert!(callback.verifies_with(&bacen_secret), "the callback carries a valid Standard Webhooks signature");
    let body = callback.json();
    assert_eq!(body["pix"][0]["endToEndId"], e2eid);
    assert_eq!(body["pix"][0]["txid"], txid(1));
    assert_eq!(body["pix"][0]["valor"], "25.00");

    let events: Vec<_> = got.iter().filter(|r| r.path == "/eventos").collect();
    let types: BTreeSet<_> = events.iter().map(|r| r.json()["type"].as_str().unwrap().to_owned()).collect();
    assert_eq!(types, BTreeSet::from(["cob.concluida".to_owned(), "pix.recebido".to_owned()]));
    for e in &events {
        assert!(e.verifies_with(&events_secret));
        assert!(!e.verifies_with(&bacen_secret), "each endpoint signs with its own secret");
        // The webhook id is the event id, which the event log serves too.
        let id = e.header("webhook-id");
        let (status, _, logged) = call(app.request(Method::GET, &format!("/v2/eventos/{id}"), &m)).await;
        assert_eq!(status, 200);
        assert_eq!(logged, e.json());
    }

    // A refund reaching DEVOLVIDO calls back again, with the refund in the Pix.
    let (status, _, _) =
        call(app.request(Method::PUT, &format!("/v2/pix/{e2eid}/devolucao/d1"), &m).json(&json!({"valor": "5.00"})))
            .await;
    assert_eq!(status, 201);
    app.eventually(&m, &format!("/v2/pix/{e2eid}/devolucao/d1"), |r| r["status"] == "DEVOLVIDO").await;
    dispatch_until(&app, &receiver, |r| r.iter().filter(|x| x.path == "/bacen/pix").count() == 2).await;
    let second = receiver.received().into_iter().filter(|r| r.path == "/bacen/pix").nth(1).unwrap();
    assert!(second.verifies_with(&bacen_secret));
    assert_eq!(second.json()["pix"][0]["devolucoes"][0]["status"], "DEVOLVIDO");
    assert_eq!(receiver.received().iter().filter(|r| r.path == "/eventos").count(), 2, "not subscribed to refunds");
}

#[sqlx::test(migrations = "./migrations")]
async fn an_event_whose_transaction_commits_after_a_later_ones_is_not_passed_by_the_cursor(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let m = app.merchant("Padaria", KEY).await;
    let event = |n: i32| outbox_event(&m, n);
    // A writes its event first (the lower id) but commits after B.
    let mut a = app.pool.begin().await.unwrap();
    event(1).execute(&mut *a).await.unwrap();
    let mut b = app.pool.begin().await.unwrap();
    event(2).execute(&mut *b).await.unwrap();
    b.commit().await.unwrap();
    // While A runs, B's event waits: served now, a cursor past it would pass A's for good.
    let (status, _, page) = call(app.request(Method::GET, "/v2/eventos?limite=1", &m)).await;
    assert_eq!((status, &page["eventos"]), (200, &json!([])), "{page}");
    a.commit().await.unwrap();
    // (Any transaction of the cluster still open when a page is read holds the feed back a
    // moment: tests run side by side. The client keeps paging, as a client polls.)
    let mut seen = vec![];
    let mut path = "/v2/eventos?limite=1".to_owned();
    for _ in 0..200 {
        let (_, _, page) = call(app.request(Method::GET, &path, &m)).await;
        seen.extend(page["eventos"].as_array().unwrap().iter().map(|e| e["data"]["n"].as_i64().unwrap()));
        if let Some(c) = page["proximoCursor"].as_str() {
            path = format!("/v2/eventos?limite=1&cursor={c}");
        }
        if seen.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(seen, [1, 2], "every event, once, in the order their transactions began");
}

#[sqlx::test(migrations = "./migrations")]
async fn an_endpoint_gets_an_event_whose_transaction_began_before_it_and_committed_after(pool: PgPool) {
    let app = TestApp::spawn_with_rail(pool).await;
    let m = app.merchant("Padaria", KEY).await;
    let event = |n: i32| outbox_event(&m, n);
    // Committed before the endpoint exists: not the endpoint's.
    event(0).execute(&app.pool).await.unwrap();
    // Begun before the endpoint exists (it has written something), its event written and
    // committed after: the endpoint's.
    let mut open = app.pool.begin().await.unwrap();
    sqlx::query("SELECT pg_current_xact_id()").execute(&mut *open).await.unwrap();
    let receiver = Receiver::start(|_| Answer::Ok).await;
    subscribe(&app, &m, &receiver.url, None).await;
    event(1).execute(&mut *open).await.unwrap();
    open.commit().await.unwrap();
    // Begun after: the endpoint's.
    event(2).execute(&app.pool).await.unwrap();

    app.state.webhooks.fan_out(100).await.unwrap();
    let sent: Vec<i64> = sqlx::query_scalar(
        "SELECT (o.payload ->> 'n')::bigint FROM webhook_deliveries d JOIN outbox_events o ON o.id = d.event_id ORDER BY 1",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(sent, [1, 2], "the events that committed after the endpoint was created");
}

#[sqlx::test(migrations = "./migrations")]
async fn the_event_log_pages_with_a_cursor_and_filters_by_type(pool: PgPool) {
    let app = TestApp::spawn_with_rail(pool).await;
    let m = app.merchant("Padaria", KEY).await;
    let other = app.merchant("Outra", "outra@example.com").await;
    for n in 0..5 {
        receive(&app, n, "1.00").await;
    }
    assert_eq!(app.events(&m, "pix.recebido").await.len(), 5, "all of them in the log");
    let (status, _, page) = call(app.request(Method::GET, "/v2/eventos?limite=3", &m)).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["eventos"].as_array().unwrap().len(), 3);
    let cursor = page["proximoCursor"].as_str().unwrap();
    let (_, _, rest) = call(app.request(Method::GET, &format!("/v2/eventos?limite=3&cursor={cursor}"), &m)).await;
    assert_eq!(rest["eventos"].as_array().unwrap().len(), 2);
    assert_eq!(rest["proximoCursor"], Value::Null, "the last page has no next cursor");
    let ids: BTreeSet<_> = page["eventos"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest["eventos"].as_array().unwrap())
        .map(|e| e["id"].to_string())
        .collect();
    assert_eq!(ids.len(), 5);

    let (_, _, none) = call(app.request(Method::GET, "/v2/eventos?tipo=cob.concluida", &m)).await;
    assert_eq!(none["eventos"], json!([]));
    let (status, ct, bad) = call(app.request(Method::GET, "/v2/eventos?limite=0&tipo=nope&x=1", &m)).await;
    assert_eq!((status, ct.as_str()), (400, "application/problem+json"));
    assert_eq!(bad["violacoes"].as_array().unwrap().len(), 3, "{bad}");

    // Another merchant sees none of them.
    let (_, _, theirs) = call(app.request(Method::GET, "/v2/eventos", &other)).await;
    assert_eq!(theirs["eventos"], json!([]));
    let id = page["eventos"][0]["id"].as_str().unwrap();
    assert_eq!(call(app.request(Method::GET, &format!("/v2/eventos/{id}"), &other)).await.0, 404);

    // The cursor is opaque and the merchant's own: not the platform-wide sequence (which
    // would tell any merchant how many events everyone makes), useless to another
    // merchant, and a number does not work as one.
    assert!(cursor.parse::<i64>().is_err(), "{cursor}");
    assert_eq!(call(app.request(Method::GET, &format!("/v2/eventos?cursor={cursor}"), &other)).await.0, 400);
    assert_eq!(call(app.request(Method::GET, "/v2/eventos?cursor=3", &m)).await.0, 400);
}

#[sqlx::test(migrations = "./migrations")]
async fn a_flaky_receiver_gets_every_event_at_least_once_and_every_attempt_is_recorded(pool: PgPool) {
    let app = TestApp::spawn_with_rail_configured(pool, Arc::new(tucano_shared::ports::SystemClock), |c| {
        c.webhooks.timeout = Duration::from_secs(1);
    })
    .await;
    let m = app.merchant("Padaria", KEY).await;
    // Every other request fails; every fifth is slower than the 1 s timeout; some succeed
    // with a binary answer (which Postgres text cannot hold as it is).
    let receiver = Receiver::start(|n| match n % 5 {
        4 => Answer::Slow,
        2 => Answer::Binary,
        _ if n % 2 == 1 => Answer::Fail,
        _ => Answer::Ok,
    })
    .await;
    subscribe(&app, &m, &receiver.url, None).await;
    for n in 0..12 {
        receive(&app, n, "2.00").await;
    }
    let expected: BTreeSet<String> = sqlx::query_scalar("SELECT event_id::text FROM outbox_events")
        .fetch_all(&app.pool)
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(expected.len(), 12);

    for _ in 0..600 {
        dispatch_once(&app.state).await.unwrap();
        if deliveries_by_status(&app).await == [("ENTREGUE".to_owned(), 12)] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(deliveries_by_status(&app).await, [("ENTREGUE".to_owned(), 12)], "every event delivered");
    let seen: BTreeSet<String> = receiver.received().iter().map(|r| r.header("webhook-id")).collect();
    assert_eq!(seen, expected, "nothing lost");

    let attempts: Vec<(Option<i32>, Option<String>, Option<String>)> =
        sqlx::query_as("SELECT status_code, error, excerpt FROM webhook_attempts").fetch_all(&app.pool).await.unwrap();
    assert!(attempts.len() > 12, "failures were retried");
    assert!(attempts.iter().any(|a| a.0 == Some(500) && a.1.as_deref() == Some("receiver answered 500")));
    assert!(attempts.iter().any(|a| a.0.is_none() && a.1.as_deref() == Some("timed out")));
    assert!(attempts.iter().all(|a| a.2.as_ref().is_none_or(|e| e.len() <= 256)), "only an excerpt is kept");
    assert!(attempts.iter().any(|a| a.2.as_deref() == Some("ok \u{fffd}\u{fffd}   received")), "{attempts:?}");

    // The merchant sees the same story.
    let (_, _, list) = call(app.request(Method::GET, "/v2/webhooks", &m)).await;
    let id = list["webhooks"][0]["id"].as_str().unwrap();
    let (_, _, entregas) = call(app.request(Method::GET, &format!("/v2/webhooks/{id}/entregas"), &m)).await;
    let entregas = entregas["entregas"].as_array().unwrap();
    assert_eq!(entregas.len(), 12);
    assert!(entregas.iter().all(|e| e["status"] == "ENTREGUE" && e["ultimoStatus"] == 200));
    assert!(entregas.iter().any(|e| e["tentativas"].as_u64().unwrap() > 1));
}

/// `tucano webhooks dispatch` on the test's database, its receivers given `timeout_ms`.
fn start_dispatcher(pool: &PgPool, timeout_ms: u32) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_tucano"))
        .args(["webhooks", "dispatch", "--idle-ms", "50"])
        .env("DATABASE_URL", database_url_of(pool))
        .env("RAIL_WEBHOOK_SECRET", RAIL_SECRET)
        .env("CIPHER", "local")
        .env("TUCANO_DEV_MASTER_KEY", TEST_MASTER_KEY)
        .env("WEBHOOK_ALLOW_LOCAL", "true")
        .env("WEBHOOK_TIMEOUT_MS", timeout_ms.to_string())
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

#[sqlx::test(migrations = "./migrations")]
async fn a_dispatcher_killed_mid_delivery_leaves_the_delivery_to_the_next_one(pool: PgPool) {
    let app = TestApp::spawn_with_rail(pool.clone()).await;
    let m = app.merchant("Padaria", KEY).await;
    // The first request never gets an answer; later ones do.
    let receiver = Receiver::start(|n| if n == 0 { Answer::Hang } else { Answer::Ok }).await;
    let (_, secret) = subscribe(&app, &m, &receiver.url, Some(json!(["pix.recebido"]))).await;
    receive(&app, 1, "9.99").await;

    // Killed long before its receiver would time out, however slow the machine.
    let mut first = start_dispatcher(&pool, 30_000);
    receiver.wait_for(|r| r.len() == 1).await;
    first.kill().await.unwrap();
    let leased: (String, bool) = sqlx::query_as("SELECT status, locked_until IS NOT NULL FROM webhook_deliveries")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(leased, ("PENDENTE".to_owned(), true), "killed mid-delivery: unacknowledged, still leased");
    // The lease (the timeout and 5 s) lapses.
    sqlx::query("UPDATE webhook_deliveries SET locked_until = now()").execute(&pool).await.unwrap();

    let mut second = start_dispatcher(&pool, 1000);
    let got = receiver.wait_for(|r| r.len() == 2).await;
    assert_eq!(got[0].header("webhook-id"), got[1].header("webhook-id"), "the same event, redelivered");
    assert!(got[1].verifies_with(&secret));
    for _ in 0..100 {
        if deliveries_by_status(&app).await == [("ENTREGUE".to_owned(), 1)] {
            second.kill().await.unwrap();
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("not recorded as delivered: {:?}", deliveries_by_status(&app).await);
}

#[sqlx::test(migrations = "./migrations")]
async fn receivers_on_private_or_loopback_addresses_are_refused_without_the_dev_flag(pool: PgPool) {
    let app = TestApp::spawn(pool).await; // production rules
    let m = app.merchant("Padaria", KEY).await;
    for url in [
        "http://127.0.0.1:8080/hook",
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://10.0.0.7/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "http://loja.example.com/hook",
        "https://user:pw@loja.example.com/hook",
    ] {
        let (status, ct, problem) = call(
            app.request(Method::POST, "/v2/webhooks", &m)
                .header("idempotency-key", url)
                .json(&json!({"webhookUrl": url})),
        )
        .await;
        assert_eq!((status, ct.as_str()), (400, "application/problem+json"), "{url}");
        assert_eq!(problem["type"], format!("{BACEN_ERROR}WebhookOperacaoInvalida"));
        assert_eq!(problem["violacoes"][0]["propriedade"], "webhookUrl");
        let (status, _, _) =
            call(app.request(Method::PUT, &format!("/v2/webhook/{KEY}"), &m).json(&json!({"webhookUrl": url}))).await;
        assert_eq!(status, 400, "{url}");
    }
    assert_eq!(app.count("webhook_endpoints").await, 0, "nothing stored");
    let (status, _, ok) = call(
        app.request(Method::POST, "/v2/webhooks", &m)
            .header("idempotency-key", "public")
            .json(&json!({"webhookUrl": "https://loja.example.com/hook"})),
    )
    .await;
    assert_eq!(status, 201, "{ok}");
}

#[sqlx::test(migrations = "./migrations")]
async fn a_callback_whose_pix_cannot_be_read_does_not_hold_back_the_others_nor_retry_for_ever(pool: PgPool) {
    let app = TestApp::spawn_with_rail(pool).await;
    let m = app.merchant("Padaria", KEY).await;
    // The receiver answers once the two readable Pix are both in flight: sent one after
    // another, the first would wait past the timeout.
    let receiver = Receiver::start(|_| Answer::Gather(2)).await;
    let url = json!({"webhookUrl": format!("{}/bacen", receiver.url)});
    let (status, _, _) = call(app.request(Method::PUT, &format!("/v2/webhook/{KEY}"), &m).json(&url)).await;
    assert_eq!(status, 200);
    // (The API Pix callback is for Pix with a txid: these name charges that do not exist.)
    let paid_by = |n: u32| {
        json!({"tipo": "PIX_RECEBIDO", "id": format!("in-{n}"), "pix": {
            "endToEndId": format!("E99999999202611221305{n:011}"), "valor": "1.00", "chave": KEY,
            "txid": format!("pedido{n}"), "horario": chrono::Utc::now().to_rfc3339(),
            "pagador": {"cpf": "12345678909", "nome": "Maria"}}})
    };
    for n in 1..=3 {
        assert_eq!(app.notify(&paid_by(n)).await.0, 200);
    }
    // The first Pix's sealed payer document no longer opens (a damaged row, a key gone).
    let mut tx = app.pool.begin().await.unwrap();
    sqlx::query("SET LOCAL session_replication_role = replica").execute(&mut *tx).await.unwrap();
    sqlx::query("UPDATE received_pix SET pagador_doc_enc = '\\x00' WHERE end_to_end_id LIKE '%00000000001'")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // The other Pix is delivered all the same; the unreadable one is a failed attempt on
    // the retry schedule, not one on every pass.
    dispatch_until(&app, &receiver, |r| r.iter().filter(|r| r.path == "/bacen/pix").count() == 2).await;
    let mut sent: Vec<String> = receiver
        .received()
        .iter()
        .flat_map(|r| r.json()["pix"].as_array().unwrap().clone())
        .map(|p| p["endToEndId"].as_str().unwrap().to_owned())
        .collect();
    sent.sort();
    assert_eq!(sent, ["E9999999920261122130500000000002", "E9999999920261122130500000000003"]);
    assert_eq!(
        deliveries_by_status(&app).await,
        [("ENTREGUE".to_owned(), 2), ("PENDENTE".to_owned(), 1)],
        "both delivered at their first attempt"
    );
    let (attempts, tried, next): (i32, chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) = sqlx::query_as(
        "SELECT d.attempts, a.started_at, d.next_attempt_at
           FROM webhook_deliveries d JOIN outbox_events o ON o.id = d.event_id
           JOIN webhook_attempts a ON a.delivery_id = d.id
          WHERE o.payload->>'endToEndId' LIKE '%00000000001'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(attempts, 1, "recorded as a failed attempt");
    // The tests' schedule waits 50 ms (±10%) after a first failure: compared with the
    // attempt, not with the clock, which a loaded machine may carry past it.
    assert!(next - tried >= chrono::Duration::milliseconds(45), "retried later, on the schedule: {tried} → {next}");
}

#[sqlx::test(migrations = "./migrations")]
async fn callbacks_only_for_own_keys_and_bad_requests_change_nothing(pool: PgPool) {
    let app = TestApp::spawn_with_rail(pool).await;
    let m = app.merchant("Padaria", KEY).await;
    let other = app.merchant("Outra", "outra@example.com").await;
    let url = json!({"webhookUrl": "http://127.0.0.1:9/x"});
    let (status, _, p) = call(app.request(Method::PUT, "/v2/webhook/outra@example.com", &m).json(&url)).await;
    assert_eq!((status, p["violacoes"][0]["propriedade"].as_str()), (400, Some("chave")));
    for body in [json!({}), json!({"webhookUrl": 5})] {
        let (status, ct, _) = call(app.request(Method::PUT, &format!("/v2/webhook/{KEY}"), &m).json(&body)).await;
        assert_eq!((status, ct.as_str()), (400, "application/problem+json"), "{body}");
    }
    let (status, _, _) = call(
        app.request(Method::POST, "/v2/webhooks", &m)
            .header("idempotency-key", "k")
            .json(&json!({"webhookUrl": "http://127.0.0.1:9/x", "eventos": ["pix.inventado"]})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(app.count("webhook_endpoints").await, 0);

    // Repointing keeps the callback (and its secret); another merchant cannot see or delete it.
    let (status, _, created) = call(app.request(Method::PUT, &format!("/v2/webhook/{KEY}"), &m).json(&url)).await;
    assert_eq!(status, 200);
    assert!(created["segredo"].is_string());
    let moved = json!({"webhookUrl": "http://127.0.0.1:10/y"});
    let (_, _, repointed) = call(app.request(Method::PUT, &format!("/v2/webhook/{KEY}"), &m).json(&moved)).await;
    assert_eq!(repointed["webhookUrl"], "http://127.0.0.1:10/y");
    assert!(repointed.get("segredo").is_none());
    assert_eq!(app.count("webhook_endpoints").await, 1);
    assert_eq!(call(app.request(Method::GET, &format!("/v2/webhook/{KEY}"), &other)).await.0, 404);
    assert_eq!(call(app.request(Method::DELETE, &format!("/v2/webhook/{KEY}"), &other)).await.0, 404);
    let (_, _, theirs) = call(app.request(Method::GET, "/v2/webhook", &other)).await;
    assert_eq!(theirs["webhooks"], json!([]));
    assert_eq!(call(app.request(Method::DELETE, &format!("/v2/webhook/{KEY}"), &m)).await.0, 204);
    let (status, _, gone) = call(app.request(Method::GET, &format!("/v2/webhook/{KEY}"), &m)).await;
    assert_eq!(
        (status, gone["type"].as_str()),
        (404, Some("https://pix.bcb.gov.br/api/v2/error/WebhookNaoEncontrado"))
    );
    // Bad queries: Bacen's type on its list, ours on the event log.
    let (status, _, p) = call(app.request(Method::GET, "/v2/webhook?inicio=ontem", &m)).await;
    assert_eq!(
        (status, p["type"].as_str()),
        (400, Some("https://pix.bcb.gov.br/api/v2/error/WebhookConsultaInvalida"))
    );
    let (status, _, p) = call(app.request(Method::GET, "/v2/eventos?limite=0", &m)).await;
    assert_eq!((status, p["type"].as_str()), (400, Some("https://tucano.dev/problems/EventosConsultaInvalida")));
}

#[sqlx::test(migrations = "./migrations")]
async fn a_rotated_secret_signs_beside_the_old_one_and_a_replayed_create_returns_the_sealed_secret(pool: PgPool) {
    let app = TestApp::spawn_with_rail(pool).await;
    let m = app.merchant("Padaria", KEY).await;
    let other = app.merchant("Outra", "outra@example.com").await;
    let receiver = Receiver::start(|_| Answer::Ok).await;
    let body = json!({"webhookUrl": receiver.url, "eventos": ["pix.recebido"]});
    let create = || app.request(Method::POST, "/v2/webhooks", &m).header("idempotency-key", "create-1").json(&body);
    let (status, _, first) = call(create()).await;
    assert_eq!(status, 201);
    let res = create().send().await.unwrap();
    assert_eq!(res.headers()["idempotent-replayed"], "true");
    let replayed: Value = res.json().await.unwrap();
    assert_eq!(replayed, first, "a retried create returns the same endpoint and secret");
    let old = first["segredo"].as_str().unwrap();
    let stored: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT response_body FROM idempotency_records").fetch_all(&app.pool).await.unwrap();
    assert!(!stored.iter().any(|b| String::from_utf8_lossy(b).contains(&old[6..])), "kept only sealed");

    let id = first["id"].as_str().unwrap();
    assert_eq!(call(app.request(Method::GET, &format!("/v2/webhooks/{id}"), &other)).await.0, 404);
    let rotate = |who: &TestMerchant| {
        app.request(Method::POST, &format!("/v2/webhooks/{id}/segredo"), who).header("idempotency-key", "rot-1")
    };
    assert_eq!(call(rotate(&other)).await.0, 404);
    let (status, _, rotated) = call(rotate(&m)).await;
    assert_eq!(status, 200, "{rotated}");
    let new = rotated["segredo"].as_str().unwrap();
    assert_ne!(new, old);

    receive(&app, 1, "3.00").await;
    dispatch_until(&app, &receiver, |r| !r.is_empty()).await;
    let got = &receiver.received()[0];
    assert!(got.verifies_with(new) && got.verifies_with(old), "both sign during the grace period");
    assert_eq!(got.header("webhook-signature").split(' ').count(), 2);

    // A second rotation within the grace period: the original secret (the one receivers
    // may still hold) keeps signing beside the newest; the one in between stops.
    let (status, _, again) =
        call(app.request(Method::POST, &format!("/v2/webhooks/{id}/segredo"), &m).header("idempotency-key", "rot-2"))
            .await;
    assert_eq!(status, 200, "{again}");
    let newest = again["segredo"].as_str().unwrap();
    receive(&app, 2, "4.00").await;
    dispatch_until(&app, &receiver, |r| r.len() >= 2).await;
    let got = &receiver.received()[1];
    assert!(got.verifies_with(newest) && got.verifies_with(old), "the newest and the original sign");
    assert!(!got.verifies_with(new), "the secret in between was replaced");
}

#[sqlx::test(migrations = "./migrations")]
async fn gone_disables_the_endpoint_give_up_is_replayable_and_redirects_are_not_followed(pool: PgPool) {
    let app = TestApp::spawn_with_rail(pool).await;
    let m = app.merchant("Padaria", KEY).await;
    let gone = Receiver::start(|n| if n == 0 { Answer::Gone } else { Answer::Ok }).await;
    let (gone_id, _) = subscribe(&app, &m, &gone.url, None).await;
    let redirect = Receiver::start(|_| Answer::Redirect).await;
    let (redirect_id, _) = subscribe(&app, &m, &redirect.url, None).await;
    receive(&app, 1, "4.00").await;

    // The redirecting receiver uses up its ten attempts; the 410 one stops after one.
    for _ in 0..100 {
        dispatch_once(&app.state).await.unwrap();
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    assert_eq!(gone.received().len(), 1);
    assert_eq!(redirect.received().len(), 10);
    assert_eq!(*redirect.redirect_hits.lock().unwrap(), 0, "the redirect target is never called");
    let (_, _, g) = call(app.request(Method::GET, &format!("/v2/webhooks/{gone_id}"), &m)).await;
    assert_eq!(g["status"], "DESATIVADO");
    let (_, _, r) = call(app.request(Method::GET, &format!("/v2/webhooks/{redirect_id}/entregas"), &m)).await;
    assert_eq!(r["entregas"][0]["status"], "FALHOU");
    assert_eq!(r["entregas"][0]["ultimoStatus"], 302);

    // Replay re-enables the endpoint and delivers what waited.
    let (status, _, n) = call(
        app.request(Method::POST, &format!("/v2/webhooks/{gone_id}/reenviar"), &m).header("idempotency-key", "again"),
    )
    .await;
    assert_eq!((status, n["reagendadas"].as_u64()), (202, Some(1)));
    dispatch_until(&app, &gone, |r| r.len() == 2).await;
    let (_, _, g) = call(app.request(Method::GET, &format!("/v2/webhooks/{gone_id}"), &m)).await;
    assert_eq!(g["status"], "ATIVO");

    // Deleting an endpoint stops its deliveries.
    assert_eq!(call(app.request(Method::DELETE, &format!("/v2/webhooks/{redirect_id}"), &m)).await.0, 204);
    let (_, _, list) = call(app.request(Method::GET, "/v2/webhooks", &m)).await;
    assert_eq!(list["webhooks"].as_array().unwrap().len(), 1);
}

#[sqlx::test(migrations = "./migrations")]
async fn a_put_brings_back_an_api_pix_callback_a_410_disabled_with_what_waited(pool: PgPool) {
    let app = TestApp::spawn_with_rail(pool).await;
    let m = app.merchant("Padaria", KEY).await;
    let receiver = Receiver::start(|n| if n == 0 { Answer::Gone } else { Answer::Ok }).await;
    let put = |key: &str| {
        app.request(Method::PUT, &format!("/v2/webhook/{KEY}"), &m)
            .header("idempotency-key", key)
            .json(&json!({"webhookUrl": format!("{}/bacen", receiver.url)}))
    };
    assert_eq!(call(put("liga")).await.0, 200);
    // API Pix callbacks are for Pix that pay a charge.
    let pay_charge = |n: u32| {
        let app = &app;
        let m = &m;
        async move {
            let path = format!("/v2/cob/{}", txid(n));
            let (_, _, cob) = call(app.request(Method::PUT, &path, m).json(&charge_body(KEY, "1.00"))).await;
            let paid = app.pay(json!({"pixCopiaECola": cob["pixCopiaECola"]})).await;
            paid["endToEndId"].as_str().unwrap().to_owned()
        }
    };
    let first = pay_charge(1).await;
    dispatch_until(&app, &receiver, |r| r.len() == 1).await;
    // Gone: the endpoint is off, and the next Pix waits.
    let second = pay_charge(2).await;
    for _ in 0..5 {
        dispatch_once(&app.state).await.unwrap();
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    assert_eq!(receiver.received().len(), 1, "nothing goes to a disabled endpoint");
    // What waits is parked at the end of the queue, not read over on every pass.
    let due: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM webhook_deliveries WHERE status = 'PENDENTE' AND next_attempt_at < 'infinity'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(due, 0);

    // The merchant registers the callback again: both Pix are sent.
    assert_eq!(call(put("religa")).await.0, 200);
    let delivered = |r: &[crate::common::receiver::Received]| {
        let e2eids: Vec<String> = r[1..]
            .iter()
            .flat_map(|x| x.json()["pix"].as_array().cloned().unwrap_or_default())
            .filter_map(|p| p["endToEndId"].as_str().map(str::to_owned))
            .collect();
        e2eids.contains(&first) && e2eids.contains(&second)
    };
    dispatch_until(&app, &receiver, delivered).await;
}

#[sqlx::test(migrations = "./migrations")]
async fn in_aws_the_relay_enqueues_due_deliveries_on_sqs_and_the_worker_delivers_them(pool: PgPool) {
    use tucano_shared::adapters::sqs::SqsDeliveryQueue;
    let app = TestApp::spawn_with_rail(pool).await;
    let m = app.merchant("Padaria", KEY).await;
    let moto = crate::common::moto::Moto::start().await;
    let sqs = moto.sqs();
    let queue_url = sqs
        .create_queue()
        .queue_name(format!("webhooks-{}", uuid::Uuid::new_v4()))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let queue = SqsDeliveryQueue::new(&moto.aws(), queue_url.clone());
    // The first attempt fails, the second succeeds.
    let receiver = Receiver::start(|n| if n == 0 { Answer::Fail } else { Answer::Ok }).await;
    let (_, secret) = subscribe(&app, &m, &receiver.url, Some(json!(["pix.recebido"]))).await;
    receive(&app, 1, "7.00").await;

    let take = || async {
        let out = sqs.receive_message().queue_url(&queue_url).max_number_of_messages(10).send().await.unwrap();
        let msgs = out.messages.unwrap_or_default();
        for msg in &msgs {
            sqs.delete_message()
                .queue_url(&queue_url)
                .receipt_handle(msg.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
        msgs.iter().map(|m| m.body().unwrap().parse::<uuid::Uuid>().unwrap()).collect::<Vec<_>>()
    };
    let lease = Duration::from_secs(300);
    let first = relay_once(&app.state, &queue, lease).await.unwrap();
    assert_eq!((first.fanned_out, first.enqueued), (1, 1));
    assert_eq!(relay_once(&app.state, &queue, lease).await.unwrap().enqueued, 0, "leased while queued");
    let ids = take().await;
    assert_eq!(ids.len(), 1);
    // The queue hands the message over twice in one batch (it delivers at least once):
    // sent once, one attempt spent.
    let twice = [ids[0], ids[0]];
    assert!(deliver_queued(&app.state, &twice).await.is_empty(), "a receiver failure is recorded, not a queue failure");
    assert_eq!(receiver.received().len(), 1);
    let attempts: i32 =
        sqlx::query_scalar("SELECT attempts FROM webhook_deliveries").fetch_one(&app.pool).await.unwrap();
    assert_eq!(attempts, 1);
    // A worker holding it is not joined by another (a copy of the message elsewhere).
    // (Asked as if a day later, when its retry is due; held a minute past that.)
    let due = chrono::Utc::now() + chrono::Duration::days(1);
    let hold = due + chrono::Duration::seconds(60);
    assert!(app.state.webhooks.claim(ids[0], due, hold).await.unwrap().is_some());
    assert!(app.state.webhooks.claim(ids[0], due, hold).await.unwrap().is_none(), "held by the first worker");
    sqlx::query("UPDATE webhook_deliveries SET locked_until = NULL").execute(&app.pool).await.unwrap();

    // Once its retry is due, the relay enqueues it again and the worker delivers it.
    let mut delivered = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        relay_once(&app.state, &queue, lease).await.unwrap();
        let ids = take().await;
        if !ids.is_empty() {
            deliver_queued(&app.state, &ids).await;
            delivered = true;
            break;
        }
    }
    assert!(delivered);
    let got = receiver.received();
    assert_eq!(got.len(), 2);
    assert!(got[1].verifies_with(&secret));
    assert_eq!(deliveries_by_status(&app).await, [("ENTREGUE".to_owned(), 1)]);
    // A stale message for a finished delivery does nothing.
    assert!(deliver_queued(&app.state, &[ids_of(&app).await[0]]).await.is_empty());
    assert_eq!(receiver.received().len(), 2);
}

async fn ids_of(app: &TestApp) -> Vec<uuid::Uuid> {
    sqlx::query_scalar("SELECT id FROM webhook_deliveries").fetch_all(&app.pool).await.unwrap()
}

/// Runs the README's Python verifier on one message.
fn readme_verifier(secret: &str, headers: &Value, body: &str) -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme.split("### Checking a webhook's signature").nth(1).unwrap();
    let code = section.split("```python\n").nth(1).unwrap().split("```").next().unwrap();
    let script = format!(
        "{code}\nimport json, sys\na = json.loads(sys.argv[1])\nprint(verify(a['secret'], a['headers'], a['body'].encode()))\n"
    );
    let arg = json!({"secret": secret, "headers": headers, "body": body}).to_string();
    let out = std::process::Command::new("python3").args(["-c", &script, &arg]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn the_readme_verifier_accepts_our_signatures_and_refuses_tampered_bodies() {
    use tucano_shared::domain::webhook::{signature_header, WebhookSecret};
    let (old, new) = (WebhookSecret::generate(), WebhookSecret::generate());
    let body = r#"{"type":"pix.recebido","data":{"valor":"10.00"}}"#;
    let ts = chrono::Utc::now().timestamp();
    let headers = json!({
        "webhook-id": "evt_1",
        "webhook-timestamp": ts.to_string(),
        "webhook-signature": signature_header(&[new.clone(), old.clone()], "evt_1", ts, body.as_bytes()),
    });
    assert_eq!(readme_verifier(&new.expose(), &headers, body), "True");
    assert_eq!(readme_verifier(&old.expose(), &headers, body), "True", "either secret during a rotation");
    assert_eq!(readme_verifier(&new.expose(), &headers, &body.replace("10.00", "99.00")), "False");
    assert_eq!(readme_verifier(&WebhookSecret::generate().expose(), &headers, body), "False");
}

#[sqlx::test(migrations = "./migrations")]
async fn a_receiver_asking_to_retry_later_is_left_alone_that_long(pool: PgPool) {
    let app = TestApp::spawn_with_rail(pool).await;
    let m = app.merchant("Padaria", KEY).await;
    let receiver = Receiver::start(|_| Answer::Busy).await;
    subscribe(&app, &m, &receiver.url, None).await;
    receive(&app, 1, "1.00").await;
    dispatch_until(&app, &receiver, |r| r.len() == 1).await;
    let wait: f64 =
        sqlx::query_scalar("SELECT extract(epoch FROM next_attempt_at - now())::float8 FROM webhook_deliveries")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    // The schedule says 50 ms; the receiver said an hour.
    assert!((3500.0..=3600.0).contains(&wait), "next attempt in {wait} s");
    for _ in 0..10 {
        dispatch_once(&app.state).await.unwrap();
    }
    assert_eq!(receiver.received().len(), 1);
}

/// The relay's pass, held to its function's key policy as in AWS.
async fn relay_once(
    state: &tucano_shared::app::AppState,
    queue: &dyn tucano_shared::ports::DeliveryQueue,
    lease: Duration,
) -> Result<tucano_shared::app::webhooks::RelayReport, tucano_shared::ports::StoreError> {
    tucano_shared::routes::within_job("webhook_relay", tucano_shared::app::webhooks::relay_once(state, queue, lease))
        .await
}

/// The delivery worker's batch, held to its function's key policy as in AWS.
async fn deliver_queued(state: &tucano_shared::app::AppState, ids: &[uuid::Uuid]) -> Vec<uuid::Uuid> {
    tucano_shared::routes::within_job("webhook_deliver", tucano_shared::app::webhooks::deliver_queued(state, ids)).await
}

/// A stored endpoint that does not read back whole (disabled, with no reason recorded) is
/// a fault: answered 500 with a correlation id, never shown with an empty reason.
#[sqlx::test(migrations = "./migrations")]
async fn an_endpoint_row_that_does_not_read_back_whole_is_a_fault_not_an_empty_field(pool: PgPool) {
    let app = TestApp::spawn_configured(pool, |c| c.webhooks.rules.allow_local = true).await;
    let m = app.merchant("Loja", KEY).await;
    let (id, _) = subscribe(&app, &m, "http://127.0.0.1:9/hook", None).await;
    let (status, _, shown) = call(app.request(Method::GET, &format!("/v2/webhooks/{id}"), &m)).await;
    assert_eq!((status, shown["status"].as_str()), (200, Some("ATIVO")));

    sqlx::query("UPDATE webhook_endpoints SET disabled_at = now(), disabled_reason = NULL")
        .execute(&app.pool)
        .await
        .unwrap();
    let (status, _, problem) = call(app.request(Method::GET, &format!("/v2/webhooks/{id}"), &m)).await;
    assert_eq!(status, 500, "{problem}");
    assert!(problem["correlationId"].is_string(), "{problem}");
    assert!(!problem.to_string().contains("disabled"), "no internals in the answer: {problem}");
}

#[sqlx::test(migrations = "./migrations")]
async fn a_paid_charge_with_a_due_date_reaches_the_api_pix_callback_and_its_event(pool: PgPool) {
    let app = TestApp::spawn_with_rail(pool).await;
    let m = app.merchant("Escola", KEY).await;
    let receiver_details =
        tucano_shared::domain::merchant::Recebedor::parse("11222333000181", None, "Rua A, 1", "PE", "50000000")
            .unwrap();
    assert!(app.state.merchants.set_receiver(m.id, &receiver_details).await.unwrap());
    let receiver = Receiver::start(|_| Answer::Ok).await;
    let (status, _, hook) = call(
        app.request(Method::PUT, &format!("/v2/webhook/{KEY}"), &m)
            .json(&json!({"webhookUrl": format!("{}/bacen", receiver.url)})),
    )
    .await;
    assert_eq!(status, 200, "{hook}");
    subscribe(&app, &m, &format!("{}/eventos", receiver.url), Some(json!(["cobv.concluida"]))).await;

    let today = tucano_shared::domain::cobv::calendar::brasilia_date(chrono::Utc::now());
    let mut body = crate::cobv_api::tuition("80.00");
    body["chave"] = json!(KEY);
    body["calendario"]["dataDeVencimento"] = json!((today + chrono::Duration::days(10)).to_string());
    body["valor"].as_object_mut().unwrap().remove("desconto");
    let (status, _, cobv) = call(app.request(Method::PUT, &format!("/v2/cobv/{}", txid(1)), &m).json(&body)).await;
    assert_eq!(status, 201, "{cobv}");
    let paid = app.pay(json!({"pixCopiaECola": cobv["pixCopiaECola"]})).await;
    assert_eq!(paid["valor"], "80.00");

    dispatch_until(&app, &receiver, |r| r.len() >= 2).await;
    let got = receiver.received();
    let callback = got.iter().find(|r| r.path == "/bacen/pix").expect("the API Pix callback");
    assert_eq!(callback.json()["pix"][0]["txid"], txid(1));
    assert_eq!(callback.json()["pix"][0]["valor"], "80.00");
    let event = got.iter().find(|r| r.path == "/eventos").expect("the event webhook");
    assert_eq!(event.json()["type"], "cobv.concluida");
    assert_eq!(event.json()["data"]["txid"], txid(1));
}

/// Two deliveries to one endpoint answered 410 at once: both are recorded (neither waits for
/// the other for ever: each takes the endpoint, then its delivery), the endpoint is disabled
/// and nothing of it is left due.
#[sqlx::test(migrations = "./migrations")]
async fn two_410s_recorded_at_once_for_one_endpoint_both_complete_and_park_what_waits(pool: PgPool) {
    use tucano_shared::ports::{AttemptReport, AttemptVerdict};
    let app = TestApp::spawn_with_rail(pool).await;
    let m = app.merchant("Padaria", KEY).await;
    let receiver = Receiver::start(|_| Answer::Ok).await;
    subscribe(&app, &m, &receiver.url, Some(json!(["pix.recebido"]))).await;
    for n in 1..=3 {
        receive(&app, n, "1.00").await;
    }
    app.state.webhooks.fan_out(100).await.unwrap();
    let ids = ids_of(&app).await;
    assert_eq!(ids.len(), 3);
    let report = AttemptReport {
        started_at: chrono::Utc::now(),
        status_code: Some(410),
        latency_ms: 1,
        error: None,
        excerpt: None,
    };
    let gone = |id| {
        let (state, report) = (app.state.clone(), report.clone());
        tokio::spawn(async move { state.webhooks.record_attempt(id, &report, AttemptVerdict::EndpointGone).await })
    };
    let (a, b) = (gone(ids[0]), gone(ids[1]));
    for recorded in [a.await.unwrap(), b.await.unwrap()] {
        assert!(recorded.is_ok(), "{recorded:?}");
    }
    let disabled: bool =
        sqlx::query_scalar("SELECT disabled_at IS NOT NULL FROM webhook_endpoints").fetch_one(&app.pool).await.unwrap();
    assert!(disabled);
    let due: i64 = sqlx::query_scalar("SELECT count(*) FROM webhook_deliveries WHERE next_attempt_at <> 'infinity'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(due, 0, "everything of the endpoint waits, parked");
}

#[sqlx::test(migrations = "./migrations")]
async fn a_delivery_in_flight_when_its_endpoint_is_deleted_stays_parked_whatever_its_attempt_says(pool: PgPool) {
    use tucano_shared::ports::{AttemptReport, AttemptVerdict};
    let app = TestApp::spawn_with_rail(pool).await;
    let m = app.merchant("Padaria", KEY).await;
    let receiver = Receiver::start(|_| Answer::Fail).await;
    let (endpoint, _) = subscribe(&app, &m, &receiver.url, Some(json!(["pix.recebido"]))).await;
    receive(&app, 1, "1.00").await;
    app.state.webhooks.fan_out(100).await.unwrap();
    let now = chrono::Utc::now();
    let claimed = app.state.webhooks.claim_due(now, now + chrono::Duration::seconds(30), 10, false).await.unwrap();
    assert_eq!(claimed.len(), 1);
    // Deleted while its POST is on the way; the POST then fails and asks for a retry.
    assert_eq!(call(app.request(Method::DELETE, &format!("/v2/webhooks/{endpoint}"), &m)).await.0, 204);
    let report = AttemptReport { started_at: now, status_code: Some(500), latency_ms: 1, error: None, excerpt: None };
    let retry = AttemptVerdict::RetryAt(now + chrono::Duration::seconds(60));
    app.state.webhooks.record_attempt(claimed[0].id, &report, retry).await.unwrap();
    let parked: bool = sqlx::query_scalar("SELECT next_attempt_at = 'infinity' FROM webhook_deliveries")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(parked, "not due again: no one would send it, and every pass would read it");
}

#[sqlx::test(migrations = "./migrations")]
async fn history_past_its_retention_is_pruned_and_nothing_younger_unfinished_or_of_money(pool: PgPool) {
    let app = TestApp::spawn_with_rail(pool).await;
    let m = app.merchant("Padaria", KEY).await;
    let receiver = Receiver::start(|_| Answer::Ok).await;
    subscribe(&app, &m, &receiver.url, None).await;
    for n in 0..3 {
        receive(&app, n, "2.00").await;
    }
    dispatch_until(&app, &receiver, |r| r.len() >= 3).await;
    // One more Pix, whose event is not fanned out yet.
    receive(&app, 3, "2.00").await;
    // A hundred days pass (the rows are aged behind the guards' backs).
    let mut conn = app.pool.acquire().await.unwrap();
    sqlx::raw_sql(
        "SET session_replication_role = replica;
         UPDATE outbox_events SET created_at = created_at - interval '100 days';
         UPDATE webhook_deliveries SET created_at = created_at - interval '100 days';
         UPDATE webhook_attempts SET started_at = started_at - interval '100 days';
         UPDATE rail_notifications SET received_at = received_at - interval '100 days';
         -- A divergent report's claim, as old: it stays.
         INSERT INTO rail_notifications (id, kind, received_at)
         VALUES ('divergent-E1:0123456789abcdef', 'PIX_RECEBIDO', now() - interval '100 days');
         SET session_replication_role = origin;
         -- The first event's delivery is parked (its endpoint turned off: never attempted
         -- again); the second's is due again (a replay): it stays, and its event.
         UPDATE webhook_deliveries SET status = 'PENDENTE', delivered_at = NULL, next_attempt_at = 'infinity'
          WHERE event_id = (SELECT min(id) FROM outbox_events);
         UPDATE webhook_deliveries SET status = 'PENDENTE', delivered_at = NULL, next_attempt_at = now()
          WHERE event_id = (SELECT min(id) + 1 FROM outbox_events);",
    )
    .execute(&mut *conn)
    .await
    .unwrap();
    drop(conn);
    let fresh = outbox_event(&m, 9);
    fresh.execute(&app.pool).await.unwrap();

    let pruned = tucano_shared::app::retention::prune(&app.state).await.unwrap();
    assert_eq!((pruned.attempts, pruned.deliveries, pruned.events, pruned.notifications), (2, 2, 2, 4), "{pruned:?}");
    assert_eq!((app.count("webhook_attempts").await, app.count("webhook_deliveries").await), (1, 1), "the due one");
    assert_eq!(app.count("outbox_events").await, 3, "the due delivery's, the one not fanned out, the fresh one");
    assert_eq!(app.count("received_pix").await, 4, "money's records stay");
    app.assert_ledger_ok().await;
    // Nothing more to prune.
    let again = tucano_shared::app::retention::prune(&app.state).await.unwrap();
    assert_eq!(again, tucano_shared::ports::PrunedHistory::default());

    // The application role deletes nothing the retention does not allow, whatever it asks:
    // not the old event still to fan out, not a young one fanned out.
    sqlx::query("UPDATE outbox_events SET fanned_out_at = now() WHERE payload = '{\"n\": 9}'")
        .execute(&app.pool)
        .await
        .unwrap();
    let application = as_application(&app.pool).await;
    // Refused by the guard (check_violation), or not the application's to delete at all.
    let refused = |sql: &'static str, code: &'static str| {
        let application = application.clone();
        async move {
            let error = sqlx::query(sql).execute(&application).await.expect_err(sql);
            assert_eq!(error.as_database_error().and_then(|e| e.code()).as_deref(), Some(code), "{sql}: {error}");
        }
    };
    refused("DELETE FROM outbox_events WHERE fanned_out_at IS NULL", "23514").await;
    refused("DELETE FROM outbox_events WHERE fanned_out_at IS NOT NULL", "23514").await;
    // A young delivery, its attempt and its claim; and money's records.
    receive(&app, 4, "2.00").await;
    dispatch_until(&app, &receiver, |r| r.len() >= 4).await;
    refused("DELETE FROM webhook_attempts", "23514").await;
    // (Deliveries of attempts that stay: the guard judges a row before its references.)
    refused("DELETE FROM webhook_deliveries", "23514").await;
    refused("DELETE FROM rail_notifications", "23514").await;
    refused("DELETE FROM rail_notifications WHERE id LIKE 'divergent-%'", "23514").await;
    refused("DELETE FROM received_pix", "42501").await;
    refused("DELETE FROM ledger_postings", "42501").await;
    assert_eq!(app.count("rail_notifications").await, 2, "the young claim and the divergent one");
}

/// Whether `task` waits for a lock: false once it finishes; true once `sessions` sessions of
/// the test's database wait for a lock (its own among them) and it has not finished. Up to
/// 20 s: on a loaded machine a task may take long to reach its lock.
async fn still_waiting<T>(pool: &PgPool, task: &tokio::task::JoinHandle<T>, sessions: i64) -> bool {
    for _ in 0..1000 {
        if task.is_finished() {
            return false;
        }
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        if waiting >= sessions {
            return !task.is_finished();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("neither finished nor waiting for a lock");
}

/// An endpoint a PUT or a replay is bringing back (its transaction not yet committed) gets
/// the events fanned out meanwhile as due, not parked as for a disabled endpoint: fan-out
/// waits for that transaction and reads the endpoint as it leaves it.
#[sqlx::test(migrations = "./migrations")]
async fn an_event_fanned_out_while_its_endpoint_is_brought_back_is_due_not_parked(pool: PgPool) {
    let app = TestApp::spawn_with_rail(pool).await;
    let m = app.merchant("Padaria", KEY).await;
    let receiver = Receiver::start(|_| Answer::Ok).await;
    let (endpoint, _) = subscribe(&app, &m, &receiver.url, None).await;
    let id: uuid::Uuid = endpoint.parse().unwrap();
    sqlx::query("UPDATE webhook_endpoints SET disabled_at = now() WHERE id = $1")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();

    let mut bringing_back = app.pool.begin().await.unwrap();
    sqlx::query("UPDATE webhook_endpoints SET disabled_at = NULL WHERE id = $1")
        .bind(id)
        .execute(&mut *bringing_back)
        .await
        .unwrap();
    outbox_event(&m, 1).execute(&app.pool).await.unwrap();
    let state = app.state.clone();
    let fan_out = tokio::spawn(async move { state.webhooks.fan_out(100).await.unwrap() });
    assert!(still_waiting(&app.pool, &fan_out, 1).await, "fan-out waits for the endpoint's writer");
    bringing_back.commit().await.unwrap();
    assert_eq!(fan_out.await.unwrap(), 1);
    let parked: bool = sqlx::query_scalar("SELECT next_attempt_at = 'infinity' FROM webhook_deliveries")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(!parked, "due: the endpoint is back");
}

/// Recording an attempt waits for a delete of its endpoint in flight, and then parks the
/// delivery: it never reads the endpoint as it was before the delete (which would leave
/// the delivery due for ever on an endpoint no one sends to).
#[sqlx::test(migrations = "./migrations")]
async fn an_attempt_recorded_while_its_endpoint_is_deleted_waits_and_parks_the_delivery(pool: PgPool) {
    use tucano_shared::ports::{AttemptReport, AttemptVerdict};
    let app = TestApp::spawn_with_rail(pool).await;
    let m = app.merchant("Padaria", KEY).await;
    let receiver = Receiver::start(|_| Answer::Fail).await;
    let (endpoint, _) = subscribe(&app, &m, &receiver.url, None).await;
    let id: uuid::Uuid = endpoint.parse().unwrap();
    outbox_event(&m, 1).execute(&app.pool).await.unwrap();
    app.state.webhooks.fan_out(100).await.unwrap();
    let now = chrono::Utc::now();
    let claimed = app.state.webhooks.claim_due(now, now + chrono::Duration::seconds(30), 10, false).await.unwrap();

    // A delete has taken the endpoint (its first step) and not finished.
    let mut deleting = app.pool.begin().await.unwrap();
    sqlx::query("SELECT id FROM webhook_endpoints WHERE id = $1 FOR NO KEY UPDATE")
        .bind(id)
        .execute(&mut *deleting)
        .await
        .unwrap();
    let state = app.state.clone();
    let delivery = claimed[0].id;
    let record = tokio::spawn(async move {
        let report =
            AttemptReport { started_at: now, status_code: Some(500), latency_ms: 1, error: None, excerpt: None };
        let retry = AttemptVerdict::RetryAt(now + chrono::Duration::seconds(60));
        state.webhooks.record_attempt(delivery, &report, retry).await.unwrap()
    });
    assert!(still_waiting(&app.pool, &record, 1).await, "the record waits for the endpoint");
    sqlx::query("UPDATE webhook_deliveries SET next_attempt_at = 'infinity' WHERE endpoint_id = $1")
        .bind(id)
        .execute(&mut *deleting)
        .await
        .unwrap();
    sqlx::query("UPDATE webhook_endpoints SET deleted_at = now() WHERE id = $1")
        .bind(id)
        .execute(&mut *deleting)
        .await
        .unwrap();
    deleting.commit().await.unwrap();
    record.await.unwrap();
    let (parked, attempts): (bool, i32) =
        sqlx::query_as("SELECT next_attempt_at = 'infinity', attempts FROM webhook_deliveries")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((parked, attempts), (true, 1), "recorded, and parked");
}

/// Fan-out does not run while an endpoint is being created: an event committed between the
/// endpoint's snapshot and its commit may be the endpoint's, and fan-out must see it first.
#[sqlx::test(migrations = "./migrations")]
async fn fan_out_waits_for_an_endpoint_being_created(pool: PgPool) {
    let app = TestApp::spawn_with_rail(pool).await;
    let m = app.merchant("Padaria", KEY).await;
    let receiver = Receiver::start(|_| Answer::Ok).await;
    // The creation is held inside its transaction: the merchant row it counts endpoints
    // under is locked here (not against the key share every booking takes on it).
    let mut holding = app.pool.begin().await.unwrap();
    sqlx::query("SELECT id FROM merchants WHERE id = $1 FOR NO KEY UPDATE")
        .bind(m.id.0)
        .execute(&mut *holding)
        .await
        .unwrap();
    let body = json!({"webhookUrl": receiver.url, "eventos": ["pix.recebido"]});
    let create = tokio::spawn(
        app.request(Method::POST, "/v2/webhooks", &m).header("idempotency-key", "create-1").json(&body).send(),
    );
    assert!(still_waiting(&app.pool, &create, 1).await, "the creation waits for the merchant row");
    outbox_event(&m, 1).execute(&app.pool).await.unwrap();
    let state = app.state.clone();
    let fan_out = tokio::spawn(async move { state.webhooks.fan_out(100).await.unwrap() });
    assert!(still_waiting(&app.pool, &fan_out, 2).await, "fan-out waits for the creation in flight");
    holding.commit().await.unwrap();
    assert_eq!(create.await.unwrap().unwrap().status(), 201);
    assert_eq!(fan_out.await.unwrap(), 1);
}

/// A PUT of an API Pix callback while a 410 for it is being recorded: the PUT waits for it,
/// then resumes what it parked, so the endpoint it brings back gets what waited.
#[sqlx::test(migrations = "./migrations")]
async fn a_put_while_a_410_is_recorded_brings_back_what_it_parked(pool: PgPool) {
    let app = TestApp::spawn_with_rail(pool).await;
    let m = app.merchant("Padaria", KEY).await;
    let receiver = Receiver::start(|_| Answer::Ok).await;
    let url = json!({"webhookUrl": format!("{}/bacen", receiver.url)});
    let path = format!("/v2/webhook/{KEY}");
    assert_eq!(call(app.request(Method::PUT, &path, &m).json(&url)).await.0, 200);
    let paid = json!({"tipo": "PIX_RECEBIDO", "id": "in-1", "pix": {
        "endToEndId": "E9999999920261122130500000000001", "valor": "1.00", "chave": KEY,
        "txid": "pedido1", "horario": chrono::Utc::now().to_rfc3339()}});
    assert_eq!(app.notify(&paid).await.0, 200);
    app.state.webhooks.fan_out(100).await.unwrap();
    assert_eq!(deliveries_by_status(&app).await, [("PENDENTE".to_owned(), 1)]);

    // The 410's record, as it does it: the endpoint, its deliveries parked, disabled.
    let mut gone = app.pool.begin().await.unwrap();
    sqlx::query("SELECT id FROM webhook_endpoints FOR NO KEY UPDATE").execute(&mut *gone).await.unwrap();
    sqlx::query("UPDATE webhook_deliveries SET next_attempt_at = 'infinity'").execute(&mut *gone).await.unwrap();
    sqlx::query("UPDATE webhook_endpoints SET disabled_at = now()").execute(&mut *gone).await.unwrap();
    let put = tokio::spawn(app.request(Method::PUT, &path, &m).json(&url).send());
    assert!(still_waiting(&app.pool, &put, 1).await, "the PUT waits for the 410's record");
    gone.commit().await.unwrap();
    assert_eq!(put.await.unwrap().unwrap().status(), 200);
    let (enabled, parked): (bool, bool) = sqlx::query_as(
        "SELECT e.disabled_at IS NULL, d.next_attempt_at = 'infinity'
           FROM webhook_endpoints e JOIN webhook_deliveries d ON d.endpoint_id = e.id",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((enabled, parked), (true, false), "back, and what waited is due");
}
