//! End-to-end: a payer pays on the sandbox rail (a separate process), Tucano is notified,
//! the charge concludes, the ledger credits the merchant, refunds go back through the rail.

use crate::common::*;
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::PgPool;

const KEY: &str = "loja@example.com";
const RANGE: &str = "inicio=2000-01-01T00:00:00Z&fim=2100-01-01T00:00:00Z";

async fn create_charge(app: &TestApp, m: &TestMerchant, n: u32, body: Value) -> Value {
    let (status, _, cob) = call(app.request(Method::PUT, &format!("/v2/cob/{}", txid(n)), m).json(&body)).await;
    assert_eq!(status, 201, "{cob}");
    cob
}

fn entries(extrato: &Value) -> Vec<(String, String, String, String)> {
    extrato["lancamentos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let s = |k: &str| l[k].as_str().unwrap().to_owned();
            (s("tipo"), s("conta"), s("natureza"), s("valor"))
        })
        .collect()
}

#[sqlx::test(migrations = "./migrations")]
async fn a_paid_charge_concludes_credits_the_merchant_net_of_fees_and_can_be_refunded(pool: PgPool) {
    let app = TestApp::spawn_with_rail(pool).await;
    let m = app.merchant_with_fees("Padaria", KEY, fees(100, "0.10")).await;
    let cob = create_charge(&app, &m, 1, charge_body(KEY, "100.00")).await;

    let paid = app.pay(json!({"pixCopiaECola": cob["pixCopiaECola"]})).await;
    assert_eq!(paid["statusCobranca"], "ATIVA");
    assert_eq!(paid["entregas"][0]["status"], 200);
    let e2eid = paid["endToEndId"].as_str().unwrap().to_owned();

    let cob_path = format!("/v2/cob/{}", txid(1));
    let concluded = app.eventually(&m, &cob_path, |c| c["status"] == "CONCLUIDA").await;
    assert_eq!(concluded["revisao"], 0, "payment is not a revision");

    let (_, _, list) = call(app.request(Method::GET, &format!("/v2/pix?{RANGE}"), &m)).await;
    assert_eq!(list["pix"].as_array().unwrap().len(), 1, "{list}");
    let pix = &list["pix"][0];
    assert_eq!(pix["endToEndId"], e2eid);
    assert_eq!(pix["txid"], txid(1));
    assert_eq!(pix["valor"], "100.00");
    assert_eq!(pix["tarifa"], "1.10");
    assert!(pix.get("alerta").is_none());
    let (_, _, past_end) =
        call(app.request(Method::GET, &format!("/v2/pix?{RANGE}&paginacao.paginaAtual=3"), &m)).await;
    assert_eq!(past_end["pix"], json!([]));
    assert_eq!(past_end["parametros"]["paginacao"]["quantidadeTotalDeItens"], 1);

    // 100.00 less 1% and 0.10.
    assert_eq!(app.saldo(&m).await, ("98.90".into(), "0.00".into()));
    let (_, _, extrato) = call(app.request(Method::GET, "/v2/extrato", &m)).await;
    assert_eq!(entries(&extrato), [("PIX_RECEBIDO".into(), "DISPONIVEL".into(), "CREDITO".into(), "98.90".into())]);
    assert_eq!(extrato["lancamentos"][0]["referencia"]["endToEndId"], e2eid);
    let line_id = extrato["lancamentos"][0]["id"].as_str().unwrap();
    assert!(line_id.len() == 22 && line_id.parse::<i64>().is_err(), "statement ids are opaque: {line_id}");

    // Refund half: reserved at once, settled when the rail confirms.
    let refund_path = format!("/v2/pix/{e2eid}/devolucao/dev1");
    let (status, _, refund) =
        call(app.request(Method::PUT, &refund_path, &m).json(&json!({"valor": "50.00", "descricao": "Troca"}))).await;
    assert_eq!(status, 201, "{refund}");
    assert_eq!(refund["id"], "dev1");
    assert_eq!(refund["valor"], "50.00");
    assert_eq!(refund["natureza"], "ORIGINAL");
    assert_eq!(refund["rtrId"].as_str().unwrap().len(), 32);
    let settled = app.eventually(&m, &refund_path, |r| r["status"] == "DEVOLVIDO").await;
    assert!(settled["horario"]["liquidacao"].is_string());
    assert_eq!(app.saldo(&m).await, ("48.90".into(), "0.00".into()));

    // A concluded charge read whole shows the Pix that paid it, with its refunds
    // (CobCompleta.pix); an active one has none.
    let (_, _, whole) = call(app.request(Method::GET, &cob_path, &m)).await;
    assert_eq!(whole["pix"].as_array().map(Vec::len), Some(1), "{whole}");
    assert_eq!(whole["pix"][0]["endToEndId"], e2eid);
    assert_eq!(whole["pix"][0]["devolucoes"][0]["id"], "dev1");
    assert_eq!(whole["pix"][0]["devolucoes"][0]["status"], "DEVOLVIDO");
    // So does the list (the spec's own list example shows a concluded charge's Pix); an
    // active charge beside it has none.
    create_charge(&app, &m, 2, charge_body(KEY, "5.00")).await;
    let (_, _, listed) = call(app.request(Method::GET, &format!("/v2/cob?{RANGE}"), &m)).await;
    assert!(listed["cobs"].is_array(), "{listed}");
    let by_txid =
        |t: String| listed["cobs"].as_array().unwrap().iter().find(|c| c["txid"] == t.as_str()).unwrap().clone();
    assert_eq!(by_txid(txid(1))["pix"], whole["pix"], "{listed}");
    assert!(by_txid(txid(2)).get("pix").is_none(), "{listed}");

    let (_, _, extrato) = call(app.request(Method::GET, "/v2/extrato", &m)).await;
    assert_eq!(
        entries(&extrato),
        [
            ("DEVOLUCAO_LIQUIDADA".into(), "PENDENTE".into(), "DEBITO".into(), "50.00".into()),
            ("DEVOLUCAO_RESERVADA".into(), "PENDENTE".into(), "CREDITO".into(), "50.00".into()),
            ("DEVOLUCAO_RESERVADA".into(), "DISPONIVEL".into(), "DEBITO".into(), "50.00".into()),
            ("PIX_RECEBIDO".into(), "DISPONIVEL".into(), "CREDITO".into(), "98.90".into()),
        ]
    );
    let refund_ids: Vec<&Value> =
        extrato["lancamentos"].as_array().unwrap()[..3].iter().map(|l| &l["referencia"]["id"]).collect();
    assert_eq!(refund_ids, [&json!("dev1"); 3], "one refund's lines share its reference: {extrato}");
    let (_, _, with_refund) = call(app.request(Method::GET, &format!("/v2/pix/{e2eid}"), &m)).await;
    assert_eq!(with_refund["devolucoes"][0]["status"], "DEVOLVIDO");
    assert_eq!(
        app.count("outbox_events").await,
        4,
        "pix.recebido, cob.concluida, devolucao.solicitada, devolucao.devolvido"
    );
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn twenty_duplicated_and_shuffled_notifications_credit_exactly_once(pool: PgPool) {
    let app = TestApp::spawn_with_rail(pool).await;
    let m = app.merchant("Loja", KEY).await;
    let cob = create_charge(&app, &m, 2, charge_body(KEY, "37.00")).await;

    let paid = app.pay(json!({"pixCopiaECola": cob["pixCopiaECola"], "duplicatas": 20, "embaralhar": true})).await;
    let deliveries = paid["entregas"].as_array().unwrap();
    assert_eq!(deliveries.len(), 20);
    assert!(deliveries.iter().all(|d| d["status"] == 200), "{paid}");

    assert_eq!(app.saldo(&m).await, ("37.00".into(), "0.00".into()));
    assert_eq!(app.count("received_pix").await, 1);
    assert_eq!(app.count("ledger_transactions").await, 1);
    let (_, _, c) = call(app.request(Method::GET, &format!("/v2/cob/{}", txid(2)), &m)).await;
    assert_eq!(c["status"], "CONCLUIDA");
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn a_bad_or_stale_signature_gets_401_and_changes_nothing(pool: PgPool) {
    use tucano_shared::rail::signature::sign;
    let app = TestApp::spawn(pool).await;
    let m = app.merchant("Loja", KEY).await;
    let body = json!({"tipo": "PIX_RECEBIDO", "id": "n1", "pix": {
        "endToEndId": "E9999999920261121130500000000001", "valor": "1000.00", "chave": KEY,
        "horario": "2026-11-21T13:05:00.000Z"}})
    .to_string();
    let now = chrono::Utc::now().timestamp();
    let post = |ts: i64, sig: String| {
        app.anonymous(Method::POST, "/rail/notificacoes")
            .header("content-type", "application/json")
            .header("x-rail-timestamp", ts.to_string())
            .header("x-rail-signature", sig)
            .body(body.clone())
    };
    let cases = [
        ("wrong secret", post(now, sign(b"not-the-secret-at-all", now, body.as_bytes()))),
        ("stale timestamp", post(now - 3600, sign(RAIL_SECRET.as_bytes(), now - 3600, body.as_bytes()))),
        ("signature of another body", post(now, sign(RAIL_SECRET.as_bytes(), now, b"{}"))),
        ("garbage signature", post(now, "v1=nothex".into())),
        ("no signature", app.anonymous(Method::POST, "/rail/notificacoes").body(body.clone())),
    ];
    for (case, req) in cases {
        let (status, ct, problem) = call(req).await;
        assert_eq!(status, 401, "{case}");
        assert_eq!(ct, "application/problem+json", "{case}");
        assert_eq!(problem["type"], "https://tucano.dev/problems/AssinaturaInvalida", "{case}");
    }
    assert_eq!(app.count("received_pix").await, 0);
    assert_eq!(app.count("rail_notifications").await, 0);
    assert_eq!(app.saldo(&m).await, ("0.00".into(), "0.00".into()));

    // The same body, rightly signed, is applied once; its replay changes nothing.
    let (status, _, first) = call(post(now, sign(RAIL_SECRET.as_bytes(), now, body.as_bytes()))).await;
    assert_eq!((status, first["resultado"].as_str()), (200, Some("APLICADA")));
    let (status, _, again) = call(post(now, sign(RAIL_SECRET.as_bytes(), now, body.as_bytes()))).await;
    assert_eq!((status, again["resultado"].as_str()), (200, Some("DUPLICADA")));
    assert_eq!(app.saldo(&m).await, ("1000.00".into(), "0.00".into()));
    app.assert_ledger_ok().await;
}

/// In AWS the rail secret lives in Secrets Manager (moto here), not in the function's
/// configuration: it is read when first needed and again when a notification fails to
/// verify, so a rotation is picked up without a deploy, and the previous value keeps
/// working while the rail switches over.
#[sqlx::test(migrations = "./migrations")]
async fn a_rail_secret_rotated_in_secrets_manager_is_picked_up_without_a_deploy(pool: PgPool) {
    use std::sync::Arc;
    use tucano_shared::adapters::secrets_manager::SecretsManagerSource;
    use tucano_shared::app::secrets::RotatingSecret;
    use tucano_shared::rail::signature::sign;
    let moto = crate::common::moto::Moto::start().await;
    let sm = moto.secrets_manager();
    let (old, new) = ("rail-secret-before-rotation", "rail-secret-after-rotation");
    sm.create_secret().name("tucano/test/rail-webhook-secret").secret_string(old).send().await.unwrap();
    let mut app = TestApp::spawn(pool).await;
    let source = Arc::new(SecretsManagerSource::new(&moto.aws()));
    let secret = RotatingSecret::from_source(source, "tucano/test/rail-webhook-secret".into(), 16)
        .reread_after(std::time::Duration::ZERO);
    app.state = app.state.clone().with_rail_secret(Arc::new(secret));
    let addr = tucano::server::spawn("127.0.0.1:0".parse().unwrap(), app.state.clone()).await.unwrap();
    let m = app.merchant("Loja", KEY).await;
    let notify = |n: u32, secret: &'static str| {
        let body = json!({"tipo": "PIX_RECEBIDO", "id": format!("rot-{n}"), "pix": {
            "endToEndId": format!("E99999999202611211305{n:011}"), "valor": "1.00", "chave": KEY,
            "horario": "2026-11-21T13:05:00.000Z"}})
        .to_string();
        let now = chrono::Utc::now().timestamp();
        reqwest::Client::new()
            .post(format!("http://{addr}/rail/notificacoes"))
            .header("content-type", "application/json")
            .header("x-rail-timestamp", now.to_string())
            .header("x-rail-signature", sign(secret.as_bytes(), now, body.as_bytes()))
            .body(body)
    };
    assert_eq!(call(notify(1, old)).await.0, 200);
    assert_eq!(call(notify(2, new)).await.0, 401, "not rotated yet");
    sm.put_secret_value().secret_id("tucano/test/rail-webhook-secret").secret_string(new).send().await.unwrap();
    assert_eq!(call(notify(3, new)).await.0, 200, "the rotation is read when a signature fails");
    assert_eq!(call(notify(4, old)).await.0, 200, "the previous value still verifies during the overlap");
    assert_eq!(call(notify(5, "some-other-secret-entirely")).await.0, 401);
    assert_eq!(app.saldo(&m).await, ("3.00".into(), "0.00".into()));
}

/// The rail endpoint is public: a flood of unsigned requests must cost no database work.
/// With the database unreachable, they are still refused as unsigned (401), while a rightly
/// signed one gets as far as the database (503).
#[tokio::test]
async fn unsigned_rail_notifications_are_refused_before_any_database_work() {
    use tucano_shared::rail::signature::sign;
    let config = tucano_shared::app::Config::new("postgres://unused".into(), 1, LOCATION_BASE.into())
        .and_then(|c| c.with_rail("http://127.0.0.1:9", RAIL_SECRET.as_bytes()))
        .unwrap();
    // Loopback port 1: nothing listens, every connection is refused.
    let nowhere = tucano_shared::adapters::postgres::lazy_pool("postgres://tucano@127.0.0.1:1/tucano", 1).unwrap();
    let state = tucano_shared::app::AppState::with_pool(config, nowhere).unwrap();
    let addr = tucano::server::spawn("127.0.0.1:0".parse().unwrap(), state).await.unwrap();
    let body = json!({"tipo": "PIX_RECEBIDO", "id": "n1", "pix": {
        "endToEndId": "E9999999920261121130500000000001", "valor": "1.00", "chave": KEY,
        "horario": "2026-11-21T13:05:00.000Z"}})
    .to_string();
    let now = chrono::Utc::now().timestamp();
    let post = |sig: &str| {
        reqwest::Client::new()
            .post(format!("http://{addr}/rail/notificacoes"))
            .header("content-type", "application/json")
            .header("x-rail-timestamp", now.to_string())
            .header("x-rail-signature", sig.to_owned())
            .body(body.clone())
    };
    assert_eq!(call(post("v1=00")).await.0, 401);
    assert_eq!(call(post(&sign(b"not-the-secret-at-all", now, body.as_bytes()))).await.0, 401);
    assert_eq!(call(post(&sign(RAIL_SECRET.as_bytes(), now, body.as_bytes()))).await.0, 503);
}

#[sqlx::test(migrations = "./migrations")]
async fn payments_that_cannot_conclude_their_charge_are_still_credited_and_flagged(pool: PgPool) {
    let app = TestApp::spawn_with_rail(pool).await;
    let m = app.merchant("Loja", KEY).await;

    // Wrong amount on a fixed-amount charge.
    let wrong = create_charge(&app, &m, 10, charge_body(KEY, "10.00")).await;
    app.pay(json!({"pixCopiaECola": wrong["pixCopiaECola"], "valor": "9.00"})).await;
    // Paid twice by two different payments.
    let twice = create_charge(&app, &m, 11, charge_body(KEY, "5.00")).await;
    app.pay(json!({"pixCopiaECola": twice["pixCopiaECola"]})).await;
    app.pay(json!({"pixCopiaECola": twice["pixCopiaECola"]})).await;
    // A removed or expired charge's location no longer serves it, so a payer's bank
    // cannot pay it by its dynamic code; a Pix naming its txid still arrives (the rail
    // notifies it here directly).
    let arrives_at = |n: u32, t: String, valor: &str, horario: chrono::DateTime<chrono::Utc>| {
        json!({"tipo": "PIX_RECEBIDO", "id": format!("late-{n}"), "pix": {
            "endToEndId": format!("E99999999202611211305{n:011}"), "valor": valor, "chave": KEY, "txid": t,
            "horario": horario.to_rfc3339()}})
    };
    let arrives = |n: u32, t: String, valor: &str| arrives_at(n, t, valor, chrono::Utc::now());
    // Removed before payment.
    create_charge(&app, &m, 12, charge_body(KEY, "3.00")).await;
    let remove = json!({"status": "REMOVIDA_PELO_USUARIO_RECEBEDOR"});
    call(app.request(Method::PATCH, &format!("/v2/cob/{}", txid(12)), &m).json(&remove)).await;
    assert_eq!(app.notify(&arrives(12, txid(12), "3.00")).await.0, 200);
    // Expired before payment: the Pix was made (its `horario`) after the charge's second.
    let mut short = charge_body(KEY, "2.00");
    short["calendario"]["expiracao"] = json!(1);
    create_charge(&app, &m, 13, short).await;
    let late = chrono::Utc::now() + chrono::Duration::seconds(2);
    assert_eq!(app.notify(&arrives_at(13, txid(13), "2.00", late)).await.0, 200);
    let receiver = tucano_shared::domain::brcode::Receiver { name: "Loja", city: "RECIFE" };
    // A static code naming a txid that has no charge.
    let code = tucano_shared::domain::brcode::BrCode::static_code(KEY, None, Some("semcobranca1"), None, &receiver)
        .unwrap()
        .encode()
        .unwrap();
    app.pay(json!({"pixCopiaECola": code, "valor": "1.00"})).await;
    // A key nobody here owns: the money is parked, no merchant is credited.
    let stranger =
        tucano_shared::domain::brcode::BrCode::static_code("ninguem@example.com", None, None, None, &receiver)
            .unwrap()
            .encode()
            .unwrap();
    app.pay(json!({"pixCopiaECola": stranger, "valor": "7.00"})).await;

    let (_, _, list) = call(app.request(Method::GET, &format!("/v2/pix?{RANGE}"), &m)).await;
    let mut alerts: Vec<String> =
        list["pix"].as_array().unwrap().iter().map(|p| p["alerta"].as_str().unwrap_or("-").to_owned()).collect();
    alerts.sort();
    assert_eq!(
        alerts,
        ["-", "COBRANCA_EXPIRADA", "COBRANCA_INEXISTENTE", "COBRANCA_JA_PAGA", "COBRANCA_REMOVIDA", "VALOR_DIVERGENTE"]
    );
    // Every centavo that arrived for the merchant was credited: 9 + 5 + 5 + 3 + 2 + 1.
    assert_eq!(app.saldo(&m).await, ("25.00".into(), "0.00".into()));
    assert_eq!(app.count("received_pix").await, 7);
    let parked: String = sqlx::query_scalar("SELECT alerta FROM received_pix WHERE merchant_id IS NULL")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(parked, "CHAVE_DESCONHECIDA");
    let (_, _, still) = call(app.request(Method::GET, &format!("/v2/cob/{}", txid(10)), &m)).await;
    assert_eq!(still["status"], "ATIVA", "a wrong amount does not conclude the charge");
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn refunds_that_break_the_rules_are_refused_and_move_no_money(pool: PgPool) {
    let app = TestApp::spawn_with_rail(pool).await;
    let m = app.merchant_with_fees("Loja", KEY, fees(0, "0.50")).await;
    let other = app.merchant("Outra", "+5581999990000").await;
    let cob = create_charge(&app, &m, 20, charge_body(KEY, "20.00")).await;
    let paid = app.pay(json!({"pixCopiaECola": cob["pixCopiaECola"]})).await;
    let e2eid = paid["endToEndId"].as_str().unwrap().to_owned();
    assert_eq!(app.saldo(&m).await, ("19.50".into(), "0.00".into()));
    let put =
        |id: &str, body: Value| app.request(Method::PUT, &format!("/v2/pix/{e2eid}/devolucao/{id}"), &m).json(&body);

    let refused = [
        ("above the received amount", "a1", json!({"valor": "20.01"}), Some("devolucao.valor")),
        ("the whole amount, above the balance net of fees", "a2", json!({"valor": "20.00"}), None),
        (
            "RETIRADA on a common Pix",
            "a3",
            json!({"valor": "1.00", "natureza": "RETIRADA"}),
            Some("devolucao.natureza"),
        ),
        ("zero", "a4", json!({"valor": "0.00"}), Some("devolucao.valor")),
        ("three decimals", "a5", json!({"valor": "1.005"}), Some("devolucao.valor")),
        ("unknown natureza", "a6", json!({"valor": "1.00", "natureza": "MED_FRAUDE"}), Some("devolucao.natureza")),
        ("bad refund id", "a-8", json!({"valor": "1.00"}), Some("id")),
    ];
    for (case, id, body, prop) in refused {
        let (status, _, problem) = call(put(id, body)).await;
        assert_eq!(status, 400, "{case}: {problem}");
        assert_eq!(problem["type"], format!("{BACEN_ERROR}PixDevolucaoInvalida"), "{case}");
        if let Some(prop) = prop {
            assert_eq!(problem["violacoes"][0]["propriedade"], prop, "{case}: {problem}");
        }
    }
    assert_eq!(app.saldo(&m).await, ("19.50".into(), "0.00".into()));
    assert_eq!(app.count("refunds").await, 0);

    // Someone else's Pix, or one that does not exist, is not found.
    let (status, _, problem) = call(
        app.request(Method::PUT, &format!("/v2/pix/{e2eid}/devolucao/x1"), &other).json(&json!({"valor": "1.00"})),
    )
    .await;
    assert_eq!((status, problem["type"].clone()), (404, json!(format!("{BACEN_ERROR}PixNaoEncontrado"))));
    // Reading a refund: whatever is not there is the one problem the spec gives it.
    for (path, who) in [
        (format!("/v2/pix/{e2eid}/devolucao/x1"), &other),
        ("/v2/pix/BAD/devolucao/x1".to_owned(), &m),
        (format!("/v2/pix/{e2eid}/devolucao/nada"), &m),
    ] {
        let (status, _, problem) = call(app.request(Method::GET, &path, who)).await;
        assert_eq!((status, problem["type"].clone()), (404, json!(format!("{BACEN_ERROR}PixDevolucaoNaoEncontrada"))));
    }

    // A rejection by the rail releases the reservation.
    app.rail_refunds("REJEITAR").await;
    let (status, _, _) = call(put("r1", json!({"valor": "5.00"}))).await;
    assert_eq!(status, 201);
    let path = format!("/v2/pix/{e2eid}/devolucao/r1");
    let rejected = app.eventually(&m, &path, |r| r["status"] == "NAO_REALIZADO").await;
    assert!(rejected["motivo"].is_string());
    assert_eq!(app.saldo(&m).await, ("19.50".into(), "0.00".into()));

    // The same PUT again returns the same refund; another body under the same id is refused.
    let (status, _, same) = call(put("r1", json!({"valor": "5.00"}))).await;
    assert_eq!((status, same["status"].as_str()), (201, Some("NAO_REALIZADO")));
    let (status, _, _) = call(put("r1", json!({"valor": "6.00"}))).await;
    assert_eq!(status, 400);

    // A rejected refund does not use up the refundable amount.
    app.rail_refunds("LIQUIDAR").await;
    let (status, _, _) = call(put("r2", json!({"valor": "19.50"}))).await;
    assert_eq!(status, 201);
    app.eventually(&m, &format!("/v2/pix/{e2eid}/devolucao/r2"), |r| r["status"] == "DEVOLVIDO").await;
    assert_eq!(app.saldo(&m).await, ("0.00".into(), "0.00".into()));
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn the_payload_location_serves_the_charge_to_the_payers_bank(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let m = app.merchant("Loja", KEY).await;
    let cob = create_charge(&app, &m, 30, charge_body(KEY, "12.34")).await;
    let location = cob["location"].as_str().unwrap();
    let token = location.rsplit('/').next().unwrap();
    // A JWS (application/jose) that an independent JOSE library verifies with our key set,
    // fetched where its header says, on the location's host.
    let res = app.anonymous(Method::GET, &format!("/qr/v2/{token}")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/jose");
    let jws = res.text().await.unwrap();
    let header = tucano_shared::domain::jws::parse(&jws).unwrap().header;
    let x5t = header.x5t.clone().unwrap_or_default();
    assert_eq!((header.alg.as_str(), header.kid.as_str()), ("RS256", x5t.as_str()), "kid: the thumbprint");
    assert_eq!(header.jku, "https://pix.tucano.test/.well-known/jwks.json");
    let (status, _, jwks) = call(app.anonymous(Method::GET, "/.well-known/jwks.json")).await;
    assert_eq!(status, 200);
    assert_eq!(jwks["keys"][0]["x5t"], x5t);
    let jwks: tucano_shared::domain::jws::JwkSet = serde_json::from_value(jwks).unwrap();
    let verified = crate::payload_signing::jwcrypto_verifies(&jws, &jwks).expect("jwcrypto verifies the payload");
    let payload: Value = serde_json::from_str(&verified).unwrap();
    assert_eq!(payload["txid"], txid(30));
    assert_eq!(payload["valor"]["original"], "12.34");
    assert_eq!(payload["chave"], KEY);
    assert!(payload["calendario"]["apresentacao"].is_string());
    let read =
        || async { app.anonymous(Method::GET, &format!("/qr/v2/{token}")).send().await.unwrap().text().await.unwrap() };
    assert_eq!(read().await, jws, "a burst of reads is served one signature");
    // A revision is signed anew at once.
    let revise = json!({"valor": {"original": "13.00"}});
    let (status, _, _) = call(app.request(Method::PATCH, &format!("/v2/cob/{}", txid(30)), &m).json(&revise)).await;
    assert_eq!(status, 200);
    let revised = tucano_shared::domain::jws::parse(&read().await).unwrap().verify(&jwks).is_ok();
    assert!(revised);
    let revised: Value =
        serde_json::from_slice(&tucano_shared::domain::jws::parse(&read().await).unwrap().payload).unwrap();
    assert_eq!((revised["revisao"].as_i64(), revised["valor"]["original"].as_str()), (Some(1), Some("13.00")));
    let (status, _, problem) = call(app.anonymous(Method::GET, "/qr/v2/00000000000000000000000000000000")).await;
    assert_eq!(status, 404);
    assert_eq!(problem["type"], format!("{BACEN_ERROR}CobPayloadNaoEncontrado"));

    // Removed, its location stops serving it (and its payer's document).
    let remove = json!({"status": "REMOVIDA_PELO_USUARIO_RECEBEDOR"});
    let (status, _, _) = call(app.request(Method::PATCH, &format!("/v2/cob/{}", txid(30)), &m).json(&remove)).await;
    assert_eq!(status, 200);
    let (status, _, problem) = call(app.anonymous(Method::GET, &format!("/qr/v2/{token}"))).await;
    assert_eq!(status, 404);
    assert_eq!(problem["type"], format!("{BACEN_ERROR}CobPayloadNaoEncontrado"));
}

/// A clock two hours ahead of the machine's.
struct TwoHoursOn;

impl tucano_shared::ports::Clock for TwoHoursOn {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now() + chrono::Duration::hours(2)
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn an_expired_charge_is_no_longer_served_at_its_location(pool: PgPool) {
    // Created now with an hour to live; its location read two hours on.
    let app = TestApp::spawn_with_rail_at(pool, std::sync::Arc::new(TwoHoursOn)).await;
    let m = app.merchant("Loja", KEY).await;
    let cob = create_charge(&app, &m, 31, charge_body(KEY, "12.34")).await;
    let token = cob["location"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
    let (status, _, payload) = call(app.anonymous(Method::GET, &format!("/qr/v2/{token}"))).await;
    assert_eq!(status, 404, "{payload}");
}

fn pix_notification(id: &str, e2eid: &str, valor: &str, horario: chrono::DateTime<chrono::Utc>) -> Value {
    json!({"tipo": "PIX_RECEBIDO", "id": id, "pix": {
        "endToEndId": e2eid, "valor": valor, "chave": KEY,
        "horario": horario.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)}})
}

#[sqlx::test(migrations = "./migrations")]
async fn a_refund_whose_order_did_not_reach_the_rail_keeps_its_reservation_until_an_explicit_verdict(pool: PgPool) {
    // No rail is listening: the order cannot be confirmed.
    let app = TestApp::spawn(pool).await;
    let m = app.merchant("Loja", KEY).await;
    let e2eid = "E9999999920261121130500000000042";
    app.notify(&pix_notification("n1", e2eid, "30.00", chrono::Utc::now())).await;

    let path = format!("/v2/pix/{e2eid}/devolucao/d1");
    let (status, _, refund) = call(app.request(Method::PUT, &path, &m).json(&json!({"valor": "30.00"}))).await;
    assert_eq!((status, refund["status"].as_str()), (201, Some("EM_PROCESSAMENTO")));
    assert_eq!(
        app.saldo(&m).await,
        ("0.00".into(), "30.00".into()),
        "the reservation stays while the outcome is unknown"
    );

    // The rail's verdicts arrive late and duplicated: those that agree change nothing.
    let verdict = |tipo: &str, id: &str| {
        json!({"tipo": tipo, "id": id, "devolucao": {"rtrId": refund["rtrId"], "endToEndId": e2eid, "valor": "30.00",
               "horario": "2026-11-21T13:10:00.000Z"}})
    };
    let (status, _, first) = app.notify(&verdict("DEVOLUCAO_LIQUIDADA", "v1")).await;
    assert_eq!((status, first["resultado"].as_str()), (200, Some("APLICADA")));
    for late in [verdict("DEVOLUCAO_LIQUIDADA", "v1"), verdict("DEVOLUCAO_LIQUIDADA", "v3")] {
        let (status, _, body) = app.notify(&late).await;
        assert_eq!((status, body["resultado"].as_str()), (200, Some("DUPLICADA")));
    }
    let (_, _, now) = call(app.request(Method::GET, &path, &m)).await;
    assert_eq!(now["status"], "DEVOLVIDO");
    assert_eq!(app.saldo(&m).await, ("0.00".into(), "0.00".into()));
    // A rejection without a final reason code is no verdict at all.
    let (status, _, problem) = app.notify(&verdict("DEVOLUCAO_REJEITADA", "v2")).await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(problem["violacoes"][0]["propriedade"], "devolucao.codigo");
    assert_eq!(app.saldo(&m).await, ("0.00".into(), "0.00".into()));
    // A verdict for a refund we never ordered changes nothing.
    let mut unknown = verdict("DEVOLUCAO_LIQUIDADA", "v4");
    unknown["devolucao"]["rtrId"] = json!("D9999999920261121131000000000099");
    let (status, _, _) = app.notify(&unknown).await;
    assert_eq!(status, 404);
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn a_pix_older_than_ninety_days_cannot_be_refunded(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let m = app.merchant("Loja", KEY).await;
    let e2eid = "E9999999920260801130500000000007";
    let long_ago = chrono::Utc::now() - chrono::Duration::days(91);
    let (status, _, _) = app.notify(&pix_notification("old", e2eid, "8.00", long_ago)).await;
    assert_eq!(status, 200);
    let (status, _, problem) =
        call(app.request(Method::PUT, &format!("/v2/pix/{e2eid}/devolucao/late1"), &m).json(&json!({"valor": "1.00"})))
            .await;
    assert_eq!(status, 400);
    assert_eq!(problem["type"], format!("{BACEN_ERROR}PixDevolucaoInvalida"));
    assert!(problem["detail"].as_str().unwrap().contains("90 days"));
    assert_eq!(app.saldo(&m).await, ("8.00".into(), "0.00".into()));
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn a_payers_name_with_control_characters_is_stored_readable_and_the_money_credited(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let m = app.merchant("Loja", KEY).await;
    let e2eid = "E9999999920261121130500000000009";
    let mut n = pix_notification("nul-name", e2eid, "4.00", chrono::Utc::now());
    n["pix"]["pagador"] = json!({"nome": "Fulano\u{0}de\nTal"});
    n["pix"]["infoPagador"] = json!("\u{0}");
    let (status, _, body) = app.notify(&n).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.saldo(&m).await.0, "4.00");
    let (_, _, pix) = call(app.request(Method::GET, &format!("/v2/pix/{e2eid}"), &m)).await;
    assert_eq!(pix["pagador"]["nome"], "Fulano de Tal", "{pix}");
    assert!(pix.get("infoPagador").is_none(), "{pix}");
}

#[sqlx::test(migrations = "./migrations")]
async fn a_notification_that_breaks_the_protocol_is_refused_and_changes_nothing(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let m = app.merchant("Loja", KEY).await;
    for bad in [
        pix_notification("b1", "E123", "1.00", chrono::Utc::now()),
        pix_notification("b2", "E9999999920261121130500000000001", "-1.00", chrono::Utc::now()),
        pix_notification("b3", "E9999999920261121130500000000001", "0.00", chrono::Utc::now()),
        json!({"tipo": "PIX_RECEBIDO", "id": "b4"}),
        json!({"tipo": "OUTRA_COISA", "id": "b5"}),
        json!(3),
        // An empty batch (a batch's items are answered one by one: see rail_batches.rs).
        json!([]),
        // Postgres's text cannot hold a NUL: refused, not a 500 the rail would retry for ever.
        pix_notification("b6\u{0}", "E9999999920261121130500000000001", "1.00", chrono::Utc::now()),
        {
            let mut n = pix_notification("b7", "E9999999920261121130500000000001", "1.00", chrono::Utc::now());
            n["pix"]["chave"] = json!(format!("{KEY}\u{0}"));
            n
        },
    ] {
        let (status, _, problem) = app.notify(&bad).await;
        assert_eq!(status, 400, "{bad}: {problem}");
        assert_eq!(problem["type"], format!("{BACEN_ERROR}RequisicaoInvalida"));
    }
    assert_eq!(app.count("received_pix").await, 0);
    assert_eq!(app.count("rail_notifications").await, 0);
    assert_eq!(app.saldo(&m).await, ("0.00".into(), "0.00".into()));
}

#[sqlx::test(migrations = "./migrations")]
async fn the_reconciler_finishes_a_refund_whose_verdict_was_lost(pool: PgPool) {
    let app = TestApp::spawn_with_rail(pool).await;
    let m = app.merchant("Loja", KEY).await;
    let cob = create_charge(&app, &m, 40, charge_body(KEY, "15.00")).await;
    let paid = app.pay(json!({"pixCopiaECola": cob["pixCopiaECola"]})).await;
    let e2eid = paid["endToEndId"].as_str().unwrap().to_owned();

    app.rail_control(json!({"notificar": false})).await;
    let path = format!("/v2/pix/{e2eid}/devolucao/lost1");
    let (status, _, _) = call(app.request(Method::PUT, &path, &m).json(&json!({"valor": "15.00"}))).await;
    assert_eq!(status, 201);
    app.rail_idle().await;
    let (_, _, waiting) = call(app.request(Method::GET, &path, &m)).await;
    assert_eq!(waiting["status"], "EM_PROCESSAMENTO");
    assert_eq!(app.saldo(&m).await, ("0.00".into(), "15.00".into()));

    let report = tucano_shared::app::reconcile::run(&app.state, chrono::Duration::zero()).await.unwrap();
    assert_eq!((report.checked, report.settled), (1, 1), "{report:?}");
    let (_, _, done) = call(app.request(Method::GET, &path, &m)).await;
    assert_eq!(done["status"], "DEVOLVIDO");
    assert_eq!(app.saldo(&m).await, ("0.00".into(), "0.00".into()));
    assert_eq!(app.rail_order(&format!("/devolucoes/{}", done["rtrId"].as_str().unwrap())).await["pedidos"], 1);
    app.assert_ledger_ok().await;
}

/// A clock that starts at the machine's time and moves only when told.

/// The 90-day refund window is judged by the service's clock, not by waiting.
#[sqlx::test(migrations = "./migrations")]
async fn a_refund_asked_for_more_than_90_days_after_the_pix_is_refused_and_moves_no_money(pool: PgPool) {
    let clock = std::sync::Arc::new(Movable(std::sync::Mutex::new(chrono::Utc::now())));
    let app = TestApp::spawn_with_rail_at(pool, clock.clone()).await;
    let m = app.merchant("Loja", KEY).await;
    let cob = create_charge(&app, &m, 50, charge_body(KEY, "30.00")).await;
    let e2eid =
        app.pay(json!({"pixCopiaECola": cob["pixCopiaECola"]})).await["endToEndId"].as_str().unwrap().to_owned();
    app.eventually(&m, &format!("/v2/cob/{}", txid(50)), |c| c["status"] == "CONCLUIDA").await;
    let refund = |id: &str| {
        app.request(Method::PUT, &format!("/v2/pix/{e2eid}/devolucao/{id}"), &m).json(&json!({"valor": "1.00"}))
    };

    // Days counted from the Pix as the rail dated it (a moment after the clock was set: the
    // two may fall on either side of midnight in Brasília).
    let (_, _, pix) = call(app.request(Method::GET, &format!("/v2/pix/{e2eid}"), &m)).await;
    let horario = chrono::DateTime::parse_from_rfc3339(pix["horario"].as_str().unwrap()).unwrap().to_utc();
    *clock.0.lock().unwrap() = horario + chrono::Duration::days(91);
    let (status, _, problem) = call(refund("tarde1")).await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(problem["type"], format!("{BACEN_ERROR}PixDevolucaoInvalida"));
    assert_eq!(app.saldo(&m).await, ("30.00".into(), "0.00".into()), "nothing reserved");

    *clock.0.lock().unwrap() -= chrono::Duration::days(2);
    let (status, _, created) = call(refund("atempo1")).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(app.saldo(&m).await.0, "29.00", "on day 89 the refund is taken from the balance");
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn a_refund_overtaken_by_a_larger_settlement_of_another_is_refused_not_a_server_error(pool: PgPool) {
    let app = TestApp::spawn_with_rail(pool).await;
    let m = app.merchant("Loja", KEY).await;
    let cob = create_charge(&app, &m, 30, charge_body(KEY, "10.00")).await;
    let paid = app.pay(json!({"pixCopiaECola": cob["pixCopiaECola"]})).await;
    let e2eid = paid["endToEndId"].as_str().unwrap().to_owned();
    let put =
        |id: &str, body: Value| app.request(Method::PUT, &format!("/v2/pix/{e2eid}/devolucao/{id}"), &m).json(&body);
    // Refund A of 5.00 waits for the rail's verdict.
    app.rail_control(json!({"notificar": false})).await;
    let (status, _, a) = call(put("A", json!({"valor": "5.00"}))).await;
    assert_eq!((status, a["status"].as_str()), (201, Some("EM_PROCESSAMENTO")), "{a}");
    // The rail settles A for 7.00 just after B's check read the refunds and before B is
    // written (the trigger plays the rail's commit landing in between).
    sqlx::raw_sql(
        "CREATE FUNCTION settle_a_first() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
             UPDATE refunds SET status = 'DEVOLVIDO', valor_liquidado = 700, settled_at = now()
              WHERE refund_id = 'A' AND status = 'EM_PROCESSAMENTO';
             RETURN NEW;
         END $$;
         CREATE TRIGGER a_settles_first BEFORE INSERT ON refunds FOR EACH ROW WHEN (NEW.refund_id = 'B')
             EXECUTE FUNCTION settle_a_first();",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let (status, _, problem) = call(put("B", json!({"valor": "5.00"}))).await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(problem["type"], format!("{BACEN_ERROR}PixDevolucaoInvalida"));
    assert_eq!(problem["violacoes"][0]["propriedade"], "devolucao.valor", "{problem}");
    assert_eq!(app.count("refunds").await, 1, "nothing written");
    app.assert_ledger_ok().await;
}
