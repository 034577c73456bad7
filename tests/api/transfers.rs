//! End-to-end: Pix transfers out through the sandbox rail — two-phase in the ledger,
//! limits, concurrency, and crash recovery by the reconciler.

use crate::common::*;
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::sync::Arc;

const KEY: &str = "loja@example.com";
const SUPPLIER: &str = "fornecedor@example.com";

/// Credits the merchant with `valor` as a received Pix.
async fn fund(app: &TestApp, e2e_suffix: u32, valor: &str) {
    let e2eid = format!("E99999999202611211305{e2e_suffix:011}");
    let n = json!({"tipo": "PIX_RECEBIDO", "id": format!("fund-{e2e_suffix}"), "pix": {
        "endToEndId": e2eid, "valor": valor, "chave": KEY, "horario": chrono::Utc::now().to_rfc3339()}});
    let (status, _, _) = app.notify(&n).await;
    assert_eq!(status, 200);
}

fn by_key(valor: &str, chave: &str) -> Value {
    json!({"valor": valor, "favorecido": {"chave": chave}, "descricao": "Pagamento fornecedor"})
}

async fn movements(app: &TestApp, kind: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM ledger_transactions WHERE kind = $1")
        .bind(kind)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = "./migrations")]
async fn a_transfer_by_key_is_reserved_then_settled_and_moves_money_exactly(pool: PgPool) {
    let app = TestApp::spawn_with_rail(pool).await;
    let m = app.merchant(KEY, KEY).await;
    fund(&app, 1, "100.00").await;

    // What a banking app shows before paying.
    let (status, _, dict) = call(app.request(Method::GET, &format!("/v2/dict/{SUPPLIER}"), &m)).await;
    assert_eq!(status, 200);
    assert_eq!(dict["nome"], "Fornecedor Exemplo Ltda");
    assert_eq!(dict["documento"], "12.***.***/0001-**");

    let (status, _, envio) =
        call(app.request(Method::PUT, "/v2/envio/pagamento1", &m).json(&by_key("30.00", SUPPLIER))).await;
    assert_eq!(status, 201, "{envio}");
    assert_eq!(envio["status"], "EM_PROCESSAMENTO");
    assert_eq!(envio["favorecido"]["nome"], "Fornecedor Exemplo Ltda");
    assert_eq!(envio["endToEndId"].as_str().unwrap().len(), 32);
    let done = app.eventually(&m, "/v2/envio/pagamento1", |e| e["status"] == "REALIZADO").await;
    assert!(done["horario"]["liquidacao"].is_string());
    assert_eq!(app.saldo(&m).await, ("70.00".into(), "0.00".into()));
    assert_eq!(movements(&app, "transfer_reserve").await, 1);
    assert_eq!(movements(&app, "transfer_settle").await, 1);

    let (_, _, list) =
        call(app.request(Method::GET, "/v2/envio?inicio=2000-01-01T00:00:00Z&fim=2100-01-01T00:00:00Z", &m)).await;
    assert_eq!(list["envios"].as_array().unwrap().len(), 1);
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn transfers_by_br_code_and_by_bank_account_settle(pool: PgPool) {
    let app = TestApp::spawn_with_rail(pool).await;
    let m = app.merchant("Loja", KEY).await;
    fund(&app, 2, "100.00").await;

    // A static code with an amount.
    let receiver = tucano_shared::domain::brcode::Receiver { name: "Maria Souza", city: "SAO PAULO" };
    let amount = tucano_shared::domain::money::Amount::parse("12.00").unwrap();
    let code = tucano_shared::domain::brcode::BrCode::static_code(
        "+5511988887777",
        Some(amount),
        Some("pedido9"),
        None,
        &receiver,
    )
    .unwrap()
    .encode()
    .unwrap();
    let (status, _, e) =
        call(app.request(Method::PUT, "/v2/envio/qr1/qrcode", &m).json(&json!({"pixCopiaECola": code}))).await;
    assert_eq!(status, 201, "{e}");
    assert_eq!(e["valor"], "12.00");
    assert_eq!(e["txid"], "pedido9");
    // Another amount than the code fixes is refused.
    let (status, _, problem) = call(
        app.request(Method::PUT, "/v2/envio/qr2/qrcode", &m).json(&json!({"pixCopiaECola": code, "valor": "13.00"})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(problem["type"], "https://tucano.dev/problems/EnvioOperacaoInvalida");
    // So is a code for nothing.
    let zero = tucano_shared::domain::money::Amount::ZERO;
    let code = tucano_shared::domain::brcode::BrCode::static_code("+5511988887777", Some(zero), None, None, &receiver)
        .unwrap()
        .encode()
        .unwrap();
    let (status, _, problem) =
        call(app.request(Method::PUT, "/v2/envio/qr0/qrcode", &m).json(&json!({"pixCopiaECola": code}))).await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(problem["violacoes"][0]["razao"], "the amount must be more than zero", "{problem}");

    // A dynamic code: another merchant's charge, read from its payload location.
    let seller = app.merchant("Joao Pereira", "52998224725").await;
    let (_, _, cob) = call(
        app.request(Method::PUT, &format!("/v2/cob/{}", txid(7)), &seller).json(&charge_body("52998224725", "8.50")),
    )
    .await;
    let (status, _, e) = call(
        app.request(Method::PUT, "/v2/envio/qr3/qrcode", &m).json(&json!({"pixCopiaECola": cob["pixCopiaECola"]})),
    )
    .await;
    assert_eq!(status, 201, "{e}");
    assert_eq!(e["valor"], "8.50");
    assert_eq!(e["txid"], txid(7));

    // A bank account given by hand; its holder's document is kept encrypted.
    let conta = json!({"valor": "10.00", "favorecido": {"contaBanco": {
        "ispb": "60701190", "agencia": "0001", "conta": "123456", "tipoConta": "CACC", "cpf": "12345678909", "nome": "Ana"}}});
    let (status, _, e) = call(app.request(Method::PUT, "/v2/envio/conta1", &m).json(&conta)).await;
    assert_eq!(status, 201, "{e}");
    assert_eq!(e["favorecido"]["contaBanco"]["documento"], "***.456.789-**");
    let dump: String =
        sqlx::query_scalar("SELECT string_agg(t::text, ' ') FROM transfers t").fetch_one(&app.pool).await.unwrap();
    assert!(!dump.contains("12345678909"));

    for id in ["qr1", "qr3", "conta1"] {
        app.eventually(&m, &format!("/v2/envio/{id}"), |e| e["status"] == "REALIZADO").await;
    }
    // Once the charge is no longer ATIVA (here its seller removes it), a retry of the
    // transfer that paid it still answers that transfer: it does not read the location
    // again, which would now refuse the code.
    let remove = json!({"status": "REMOVIDA_PELO_USUARIO_RECEBEDOR"});
    let (status, _, _) = call(app.request(Method::PATCH, &format!("/v2/cob/{}", txid(7)), &seller).json(&remove)).await;
    assert_eq!(status, 200);
    let retry = json!({"pixCopiaECola": cob["pixCopiaECola"]});
    let (status, _, again) = call(app.request(Method::PUT, "/v2/envio/qr3/qrcode", &m).json(&retry)).await;
    assert_eq!(status, 201, "{again}");
    let (_, _, paid) = call(app.request(Method::GET, "/v2/envio/qr3", &m)).await;
    assert_eq!(again["endToEndId"], paid["endToEndId"]);
    let other = json!({"pixCopiaECola": cob["pixCopiaECola"], "valor": "9.00"});
    let (status, _, _) = call(app.request(Method::PUT, "/v2/envio/qr3/qrcode", &m).json(&other)).await;
    assert_eq!(status, 400, "another amount under the same idEnvio is another request");
    assert_eq!(app.saldo(&m).await, ("69.50".into(), "0.00".into()));
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn a_br_code_whose_location_points_inside_the_network_is_refused_without_connecting(pool: PgPool) {
    // A listener on loopback stands for an address inside the VPC: with the production
    // rules (https, public addresses only) it must never see a connection.
    let inside = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = inside.local_addr().unwrap().port();
    let app = TestApp::spawn_configured(pool, |c| {
        c.location_base = format!("127.0.0.1:{port}/qr/v2");
        c.location_scheme = "https".into();
    })
    .await;
    let m = app.merchant("Loja", KEY).await;
    let seller = app.merchant("Joao Pereira", "52998224725").await;
    let (_, _, cob) = call(
        app.request(Method::PUT, &format!("/v2/cob/{}", txid(8)), &seller).json(&charge_body("52998224725", "8.50")),
    )
    .await;
    let code = cob["pixCopiaECola"].as_str().unwrap();
    assert!(code.contains(&format!("127.0.0.1:{port}")), "{code}");
    let (status, _, problem) =
        call(app.request(Method::PUT, "/v2/envio/inside/qrcode", &m).json(&json!({"pixCopiaECola": code}))).await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(problem["type"], "https://tucano.dev/problems/EnvioOperacaoInvalida");
    assert_eq!(problem["violacoes"][0]["razao"], "the payload location could not be read (LOCATION_BLOCKED)");
    let accepted = tokio::time::timeout(std::time::Duration::from_millis(300), inside.accept()).await;
    assert!(accepted.is_err(), "the reader connected to an internal address");
    let (status, _, _) = call(app.request(Method::GET, "/v2/envio/inside", &m)).await;
    assert_eq!(status, 404, "nothing was made");
}

#[sqlx::test(migrations = "./migrations")]
async fn a_rail_rejection_releases_the_reservation(pool: PgPool) {
    let app = TestApp::spawn_with_rail(pool).await;
    let m = app.merchant("Loja", KEY).await;
    fund(&app, 3, "50.00").await;
    app.rail_control(json!({"envios": "REJEITAR"})).await;
    let (status, _, _) = call(app.request(Method::PUT, "/v2/envio/r1", &m).json(&by_key("20.00", SUPPLIER))).await;
    assert_eq!(status, 201);
    let e = app.eventually(&m, "/v2/envio/r1", |e| e["status"] == "NAO_REALIZADO").await;
    assert!(e["motivo"].is_string());
    assert_eq!(app.saldo(&m).await, ("50.00".into(), "0.00".into()));
    assert_eq!(movements(&app, "transfer_void").await, 1);
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn fifty_concurrent_transfers_above_the_balance_send_exactly_what_is_affordable(pool: PgPool) {
    let app = Arc::new(TestApp::spawn_with_rail(pool).await);
    let m = Arc::new(app.merchant("Loja", KEY).await);
    fund(&app, 4, "100.00").await;
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let (app, m) = (app.clone(), m.clone());
            tokio::spawn(async move {
                let (status, _, _) =
                    call(app.request(Method::PUT, &format!("/v2/envio/lote{i}"), &m).json(&by_key("3.00", SUPPLIER)))
                        .await;
                status
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            201 => ok += 1,
            400 => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(ok, 33, "3.00 fits 33 times in 100.00");
    assert_eq!(movements(&app, "transfer_reserve").await, 33);
    for i in 0..50 {
        let (status, _, e) = call(app.request(Method::GET, &format!("/v2/envio/lote{i}"), &m)).await;
        if status == 200 {
            assert_ne!(e["status"], "NAO_REALIZADO");
        }
    }
    let (available, pending) = app.saldo(&m).await;
    assert_eq!(available, "1.00");
    assert!(pending == "0.00" || pending.parse::<f64>().is_ok());
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn the_same_id_envio_sent_twenty_times_at_once_moves_money_once(pool: PgPool) {
    let app = Arc::new(TestApp::spawn_with_rail(pool).await);
    let m = Arc::new(app.merchant("Loja", KEY).await);
    fund(&app, 5, "100.00").await;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (app, m) = (app.clone(), m.clone());
            tokio::spawn(async move {
                call(app.request(Method::PUT, "/v2/envio/unico", &m).json(&by_key("40.00", SUPPLIER))).await
            })
        })
        .collect();
    let mut e2eids = std::collections::HashSet::new();
    for t in tasks {
        let (status, _, e) = t.await.unwrap();
        assert_eq!(status, 201, "{e}");
        e2eids.insert(e["endToEndId"].as_str().unwrap().to_owned());
    }
    assert_eq!(e2eids.len(), 1, "every answer is the same transfer");
    app.eventually(&m, "/v2/envio/unico", |e| e["status"] == "REALIZADO").await;
    assert_eq!(movements(&app, "transfer_reserve").await, 1);
    assert_eq!(app.saldo(&m).await, ("60.00".into(), "0.00".into()));
    let e2eid = e2eids.into_iter().next().unwrap();
    assert_eq!(app.rail_order(&format!("/envios/{e2eid}")).await["pedidos"], 1, "one order reached the rail");
    // The same id with another body is refused.
    let (status, _, _) = call(app.request(Method::PUT, "/v2/envio/unico", &m).json(&by_key("41.00", SUPPLIER))).await;
    assert_eq!(status, 400);
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn limit_violations_bad_keys_and_bad_input_move_nothing(pool: PgPool) {
    // Midday: the daily total does not restart at midnight between two transfers.
    let midday = chrono::DateTime::parse_from_rfc3339("2026-11-23T12:00:00-03:00").unwrap().to_utc();
    let app = TestApp::spawn_with_rail_at(pool, Arc::new(Fixed(midday))).await;
    let m = app.merchant("Loja", KEY).await;
    fund(&app, 6, "1000.00").await;
    sqlx::query("UPDATE merchants SET limit_per_transfer = 50000, limit_daily = 60000")
        .execute(&app.pool)
        .await
        .unwrap();

    let cases = [
        ("above the per-transfer limit", "l1", by_key("500.01", SUPPLIER), 400, "EnvioOperacaoInvalida"),
        ("unknown key", "l2", by_key("1.00", "ninguem@example.com"), 404, "ChaveNaoEncontrada"),
        ("invalid key", "l3", by_key("1.00", "not a key"), 400, "EnvioOperacaoInvalida"),
        ("three decimals", "l4", by_key("1.005", SUPPLIER), 400, "EnvioOperacaoInvalida"),
        ("no receiver", "l5", json!({"valor": "1.00"}), 400, "EnvioOperacaoInvalida"),
        (
            "key and account",
            "l6",
            json!({"valor": "1.00", "favorecido": {"chave": SUPPLIER, "contaBanco": {}}}),
            400,
            "EnvioOperacaoInvalida",
        ),
        ("bad idEnvio", "l-7", by_key("1.00", SUPPLIER), 400, "EnvioOperacaoInvalida"),
    ];
    for (case, id, body, status, kind) in cases {
        let (got, ct, problem) = call(app.request(Method::PUT, &format!("/v2/envio/{id}"), &m).json(&body)).await;
        assert_eq!(got, status, "{case}: {problem}");
        assert_eq!(ct, "application/problem+json", "{case}");
        assert_eq!(problem["type"], format!("https://tucano.dev/problems/{kind}"), "{case}");
    }
    assert_eq!(app.count("transfers").await, 0);

    // Within limits it goes; the daily total then stops the next one.
    let (status, _, _) = call(app.request(Method::PUT, "/v2/envio/d1", &m).json(&by_key("500.00", SUPPLIER))).await;
    assert_eq!(status, 201);
    let (status, _, problem) =
        call(app.request(Method::PUT, "/v2/envio/d2", &m).json(&by_key("100.01", SUPPLIER))).await;
    assert_eq!(status, 400);
    assert_eq!(problem["violacoes"][0]["propriedade"], "valor");
    assert_eq!(app.count("transfers").await, 1);
    assert_eq!(movements(&app, "transfer_reserve").await, 1);
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn after_a_crash_between_reserve_and_settlement_the_reconciler_finishes_every_transfer_once(pool: PgPool) {
    use tucano_shared::app::{reconcile, transfers, AppState};
    let app = TestApp::spawn_with_rail(pool.clone()).await;
    let m = app.merchant("Loja", KEY).await;
    fund(&app, 7, "100.00").await;
    let merchant = app
        .state
        .merchants
        .by_api_key(&tucano_shared::domain::merchant::ApiKeyHash::of(&m.api_key))
        .await
        .unwrap()
        .unwrap();

    // 1. The process "dies" after reserving, before the order leaves: here, an instance
    //    whose rail is unreachable (the order is lost; the reservation is committed).
    let dead = tucano_shared::app::Config::new("postgres://unused".into(), 2, "x/qr".into())
        .and_then(|c| c.with_rail("http://127.0.0.1:9", RAIL_SECRET.as_bytes()))
        .unwrap();
    let crashed = AppState::with_parts(dead, pool, app.state.cipher.clone()).unwrap();
    let request = tucano_shared::domain::transfer::TransferRequest {
        id: tucano_shared::domain::transfer::IdEnvio::parse("crash1").unwrap(),
        valor: tucano_shared::domain::money::Amount::parse("25.00").unwrap(),
        favorecido: tucano_shared::domain::transfer::Receiver::Key(
            tucano_shared::domain::pix_key::PixKey::parse(SUPPLIER).unwrap(),
        ),
        descricao: None,
        txid: None,
    };
    // (The key lookup happens before the crash point; do it through the live rail.)
    let lost = match transfers::send(&crashed, &merchant, &request, [9; 32]).await {
        Err(transfers::TransferError::RailUnavailable(_)) => {
            // The dead rail also fails the DICT lookup: reserve directly, as `send` would.
            let e2eid = tucano_shared::domain::ids::EndToEndId::generate("99999999", chrono::Utc::now());
            match crashed
                .transfers
                .reserve(merchant.id, &request, Some("Fornecedor"), &e2eid, [9; 32], chrono::Utc::now())
                .await
                .unwrap()
            {
                tucano_shared::ports::TransferOutcome::Created(t) => t,
                other => panic!("{other:?}"),
            }
        }
        other => panic!("expected the dead rail to fail the lookup, got {:?}", other.map(|c| c.transfer)),
    };
    assert_eq!(app.saldo(&m).await, ("75.00".into(), "25.00".into()));

    // 2. The rail settles an order but its notification is lost.
    app.rail_control(json!({"notificar": false})).await;
    let (status, _, quiet) =
        call(app.request(Method::PUT, "/v2/envio/quiet1", &m).json(&by_key("10.00", SUPPLIER))).await;
    assert_eq!(status, 201);
    app.rail_idle().await;
    let (_, _, still) = call(app.request(Method::GET, "/v2/envio/quiet1", &m)).await;
    assert_eq!(still["status"], "EM_PROCESSAMENTO");
    app.rail_control(json!({"notificar": true})).await;

    // The reconciler asks the rail: resends what it never got, applies what it decided.
    let report = reconcile::run(&app.state, chrono::Duration::zero()).await.unwrap();
    assert_eq!((report.checked, report.resent, report.settled), (2, 1, 1), "{report:?}");
    app.eventually(&m, "/v2/envio/crash1", |e| e["status"] == "REALIZADO").await;
    let (_, _, q) = call(app.request(Method::GET, "/v2/envio/quiet1", &m)).await;
    assert_eq!(q["status"], "REALIZADO");

    // A second pass finds nothing; nothing was sent twice; the money moved exactly.
    let again = reconcile::run(&app.state, chrono::Duration::zero()).await.unwrap();
    assert_eq!(again.checked, 0);
    for e2eid in [lost.end_to_end_id.as_str(), quiet["endToEndId"].as_str().unwrap()] {
        assert_eq!(app.rail_order(&format!("/envios/{e2eid}")).await["pedidos"], 1);
    }
    assert_eq!(movements(&app, "transfer_settle").await, 2);
    assert_eq!(app.saldo(&m).await, ("65.00".into(), "0.00".into()));
    app.assert_ledger_ok().await;
}

/// A clock stuck at one instant.
struct Fixed(chrono::DateTime<chrono::Utc>);

impl tucano_shared::ports::Clock for Fixed {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.0
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn at_night_an_individual_may_not_send_more_than_the_night_limit(pool: PgPool) {
    let night = chrono::DateTime::parse_from_rfc3339("2026-11-21T22:30:00-03:00").unwrap().to_utc();
    let app = TestApp::spawn_with_rail_at(pool, Arc::new(Fixed(night))).await;
    let person = app.merchant("Ana Freelancer", KEY).await;
    let company = app.merchant("Empresa", "+5581999990000").await;
    sqlx::query("UPDATE merchants SET person_kind = 'PF' WHERE name = 'Ana Freelancer'")
        .execute(&app.pool)
        .await
        .unwrap();
    fund(&app, 8, "5000.00").await;
    let n = json!({"tipo": "PIX_RECEBIDO", "id": "fund-company", "pix": {"endToEndId": "E9999999920261121130500000000999",
        "valor": "5000.00", "chave": "+5581999990000", "horario": chrono::Utc::now().to_rfc3339()}});
    app.notify(&n).await;

    let (status, _, problem) =
        call(app.request(Method::PUT, "/v2/envio/noite1", &person).json(&by_key("1000.01", SUPPLIER))).await;
    assert_eq!(status, 400, "{problem}");
    assert!(problem["violacoes"][0]["razao"].as_str().unwrap().contains("20:00"));
    let (status, _, _) =
        call(app.request(Method::PUT, "/v2/envio/noite2", &person).json(&by_key("1000.00", SUPPLIER))).await;
    assert_eq!(status, 201);
    // Companies are not under the night limit.
    let (status, _, _) =
        call(app.request(Method::PUT, "/v2/envio/noite3", &company).json(&by_key("3000.00", SUPPLIER))).await;
    assert_eq!(status, 201);
    assert_eq!(movements(&app, "transfer_reserve").await, 2);
    app.assert_ledger_ok().await;
}

/// The DICT counts lookups per end user in a token bucket (a key found costs 1, a key not
/// found 20, a payment order sent gives 1 back, 2 tokens a minute refill it); each merchant
/// gets the same bucket here, charged by the lookup itself, so no merchant can enumerate
/// keys through us (by `/dict`, `/envio` or `/envio/{id}/qrcode`).
#[sqlx::test(migrations = "./migrations")]
async fn key_lookups_beyond_the_merchants_token_bucket_get_429_with_retry_after_and_never_reach_the_dict(pool: PgPool) {
    let start: chrono::DateTime<chrono::Utc> = "2026-12-01T13:15:20Z".parse().unwrap();
    let clock = Arc::new(Movable(std::sync::Mutex::new(start)));
    let app = TestApp::spawn_with_rail_configured(pool, clock.clone(), |c| {
        c.quotas.dict_tokens_company = 25;
        c.quotas.list_per_minute = 2;
    })
    .await;
    let m = app.merchant(KEY, KEY).await;
    let other = app.merchant("Outra", "outra@example.com").await;
    let lookup = |who: &TestMerchant, key: &str| app.request(Method::GET, &format!("/v2/dict/{key}"), who).send();
    assert_eq!(lookup(&m, SUPPLIER).await.unwrap().status(), 200, "25 -> 24");
    assert_eq!(lookup(&m, "ninguem@example.com").await.unwrap().status(), 404, "a miss costs 20: 24 -> 4");
    for _ in 0..4 {
        assert_eq!(lookup(&m, SUPPLIER).await.unwrap().status(), 200);
    }
    let over = lookup(&m, SUPPLIER).await.unwrap();
    assert_eq!(over.status(), 429);
    assert_eq!(over.headers()["content-type"], "application/problem+json");
    assert_eq!(over.headers()["retry-after"], "30", "two tokens a minute");
    let problem: Value = over.json().await.unwrap();
    assert!(problem["type"].as_str().unwrap().ends_with("/RateLimited"), "{problem}");
    // Sending to a key also reveals who holds it: the same bucket, and nothing is made.
    let (status, _, _) = call(app.request(Method::PUT, "/v2/envio/enumera1", &m).json(&by_key("1.00", SUPPLIER))).await;
    assert_eq!(status, 429);
    let transfers: i64 = sqlx::query_scalar("SELECT count(*) FROM transfers").fetch_one(&app.pool).await.unwrap();
    assert_eq!(transfers, 0);
    // Another merchant has its own bucket.
    assert_eq!(lookup(&other, SUPPLIER).await.unwrap().status(), 200);
    // Half a minute refills one token; a payment order sent gives back the one it took. A
    // request refused for the quota is not kept under its Idempotency-Key: the same key
    // after Retry-After runs it.
    fund(&app, 7, "10.00").await;
    let pay = || {
        app.request(Method::PUT, "/v2/envio/pago1", &m)
            .header("idempotency-key", "pago-1")
            .json(&by_key("1.00", SUPPLIER))
    };
    assert_eq!(call(pay()).await.0, 429);
    *clock.0.lock().unwrap() = start + chrono::Duration::seconds(30);
    let (status, _, envio) = call(pay()).await;
    assert_eq!(status, 201, "{envio}");
    assert_eq!(lookup(&m, SUPPLIER).await.unwrap().status(), 200, "the order gave its token back");
    assert_eq!(lookup(&m, SUPPLIER).await.unwrap().status(), 429);
    // A retry of the transfer asks the directory nothing, so costs nothing.
    let (status, _, again) =
        call(app.request(Method::PUT, "/v2/envio/pago1", &m).json(&by_key("1.00", SUPPLIER))).await;
    assert!((200..300).contains(&status), "{again}");
    assert_eq!(again["endToEndId"], envio["endToEndId"]);
    // Lists have a quota of their own, per minute.
    let lists = statuses(&app, &m, "/v2/cob?inicio=2026-11-01T00:00:00Z&fim=2026-12-31T00:00:00Z", 3).await;
    assert_eq!(lists, [200, 200, 429]);
}

/// The statuses of `n` GETs of `path`, one after another.
async fn statuses(app: &TestApp, m: &TestMerchant, path: &str, n: usize) -> Vec<u16> {
    let mut out = vec![];
    for _ in 0..n {
        out.push(app.request(Method::GET, path, m).send().await.unwrap().status().as_u16());
    }
    out
}
