//! End-to-end: payload locations on their own (`/loc`) — created alone, linked to a charge
//! with `loc.id`, unlinked, linked again — and the payload and payment that follow the
//! link, over HTTP with the sandbox rail on a real Postgres database.

use crate::common::*;
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::PgPool;
use tucano_shared::domain::brcode::BrCode;

const KEY: &str = "loja.loc@example.com";
const RANGE: &str = "inicio=2020-01-01T00:00:00Z&fim=2099-01-01T00:00:00Z";

async fn new_location(app: &TestApp, m: &TestMerchant, tipo_cob: &str) -> Value {
    let res = app.request(Method::POST, "/v2/loc", m).json(&json!({"tipoCob": tipo_cob})).send().await.unwrap();
    let at = res.headers().get("location").map(|v| v.to_str().unwrap().to_owned());
    let (status, _, loc) = read(res).await;
    assert_eq!(status, 201, "{loc}");
    assert_eq!(at, Some(format!("/v2/loc/{}", loc["id"])));
    loc
}

fn at_location(valor: &str, id: &Value) -> Value {
    let mut body = charge_body(KEY, valor);
    body["loc"] = json!({"id": id});
    body
}

/// The charge a location's payload names right now (its JWS payload), or the status.
async fn served_txid(app: &TestApp, loc: &Value) -> Result<String, u16> {
    let token = loc["location"].as_str().unwrap().rsplit('/').next().unwrap();
    let res = app.anonymous(Method::GET, &format!("/qr/v2/{token}")).send().await.unwrap();
    if res.status() != 200 {
        return Err(res.status().as_u16());
    }
    let jws = tucano_shared::domain::jws::parse(&res.text().await.unwrap()).unwrap();
    let payload: Value = serde_json::from_slice(&jws.payload).unwrap();
    Ok(payload["txid"].as_str().unwrap().to_owned())
}

#[sqlx::test(migrations = "./migrations")]
async fn a_printed_location_serves_one_charge_after_another(pool: PgPool) {
    let app = TestApp::spawn_with_rail(pool).await;
    let m = app.merchant("Balcao", KEY).await;

    // A location on its own: its BR Code exists before any charge (it is what gets printed).
    let loc = new_location(&app, &m, "cob").await;
    let id = loc["id"].clone();
    assert_eq!(loc["tipoCob"], "cob");
    assert!(loc.get("txid").is_none(), "{loc}");
    assert!(loc["location"].as_str().unwrap().starts_with(&app.state.config.location_base));
    let (status, _, read_back) = call(app.request(Method::GET, &format!("/v2/loc/{id}"), &m)).await;
    assert_eq!((status, &read_back), (200, &loc));
    let (status, _, qr) = call(app.request(Method::GET, &format!("/v2/loc/{id}/qrcode"), &m)).await;
    assert_eq!(status, 200, "{qr}");
    let printed = qr["qrcode"].as_str().unwrap().to_owned();
    assert_eq!(BrCode::decode(&printed).unwrap().account.url.as_deref(), loc["location"].as_str());
    assert_eq!(served_txid(&app, &loc).await, Err(404), "nothing to pay yet");

    // A charge at that location: its location and code are the location's.
    let (status, _, first) =
        call(app.request(Method::PUT, &format!("/v2/cob/{}", txid(1)), &m).json(&at_location("10.00", &id))).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["loc"]["id"], id);
    assert_eq!(first["loc"]["txid"], txid(1));
    assert_eq!(first["location"], loc["location"]);
    assert_eq!(first["pixCopiaECola"], printed.as_str());
    let (_, _, linked) = call(app.request(Method::GET, &format!("/v2/loc/{id}"), &m)).await;
    assert_eq!(linked["txid"], txid(1));
    assert_eq!(served_txid(&app, &loc).await, Ok(txid(1)));

    // The same PUT again is the same charge; one location serves one charge at a time.
    let (status, _, again) =
        call(app.request(Method::PUT, &format!("/v2/cob/{}", txid(1)), &m).json(&at_location("10.00", &id))).await;
    assert_eq!((status, &again), (201, &first));
    let (status, _, problem) =
        call(app.request(Method::PUT, &format!("/v2/cob/{}", txid(2)), &m).json(&at_location("20.00", &id))).await;
    assert_eq!(status, 400);
    assert_eq!(problem["type"], format!("{BACEN_ERROR}CobOperacaoInvalida"));
    assert_eq!(problem["violacoes"][0]["propriedade"], "cob.loc.id");
    assert_eq!(app.count("charges").await, 1);

    // Unlinked: the charge keeps its status and revision and loses its location, which
    // serves nothing until it is linked again.
    let (status, _, unlinked) = call(app.request(Method::DELETE, &format!("/v2/loc/{id}/txid"), &m)).await;
    assert_eq!(status, 200, "{unlinked}");
    assert!(unlinked.get("txid").is_none());
    assert_eq!(unlinked["location"], loc["location"]);
    let (_, _, orphan) = call(app.request(Method::GET, &format!("/v2/cob/{}", txid(1)), &m)).await;
    assert_eq!((orphan["status"].as_str(), orphan["revisao"].as_i64()), (Some("ATIVA"), Some(0)));
    for gone in ["loc", "location", "pixCopiaECola"] {
        assert!(orphan.get(gone).is_none(), "{gone} in {orphan}");
    }
    assert_eq!(served_txid(&app, &loc).await, Err(404));
    let (status, _, twice) = call(app.request(Method::DELETE, &format!("/v2/loc/{id}/txid"), &m)).await;
    assert_eq!((status, &twice), (200, &unlinked), "unlinking twice changes nothing");
    let (_, _, without) = call(app.request(Method::GET, &format!("/v2/cob?{RANGE}&locationPresente=false"), &m)).await;
    assert_eq!(without["cobs"][0]["txid"], txid(1));

    // Linked to the next charge, the same printed code pays the next charge (within the
    // 5 s the first charge's signature is kept: the cache must not serve it).
    let (status, second) = {
        let (s, _, c) =
            call(app.request(Method::PUT, &format!("/v2/cob/{}", txid(2)), &m).json(&at_location("20.00", &id))).await;
        (s, c)
    };
    assert_eq!(status, 201, "{second}");
    assert_eq!(second["pixCopiaECola"], printed.as_str());
    assert_eq!(served_txid(&app, &loc).await, Ok(txid(2)));
    app.pay(json!({"pixCopiaECola": printed})).await;
    let concluded = app.eventually(&m, &format!("/v2/cob/{}", txid(2)), |c| c["status"] == "CONCLUIDA").await;
    assert_eq!(concluded["pix"][0]["valor"], "20.00");
    let (_, _, first_now) = call(app.request(Method::GET, &format!("/v2/cob/{}", txid(1)), &m)).await;
    assert_eq!(first_now["status"], "ATIVA", "the unlinked charge was not paid");
    assert_eq!(app.saldo(&m).await.0, "20.00");
    app.assert_ledger_ok().await;

    // A PATCH moves a charge to a free location; it is not a revision.
    let other = new_location(&app, &m, "cob").await;
    let (status, _, moved) = call(
        app.request(Method::PATCH, &format!("/v2/cob/{}", txid(1)), &m).json(&json!({"loc": {"id": other["id"]}})),
    )
    .await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!((moved["loc"]["id"].clone(), moved["revisao"].as_i64()), (other["id"].clone(), Some(0)));
    assert_eq!(moved["location"], other["location"]);
    assert_eq!(served_txid(&app, &other).await, Ok(txid(1)));
    let (status, _, problem) =
        call(app.request(Method::PATCH, &format!("/v2/cob/{}", txid(1)), &m).json(&json!({"loc": {"id": id}}))).await;
    assert_eq!((status, problem["violacoes"][0]["propriedade"].as_str()), (400, Some("cob.loc.id")), "{problem}");

    // The list: filters, their echo, the txid of each linked location.
    let (status, _, all) = call(app.request(Method::GET, &format!("/v2/loc?{RANGE}"), &m)).await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["parametros"]["paginacao"]["quantidadeTotalDeItens"], 2);
    let (_, _, linked) =
        call(app.request(Method::GET, &format!("/v2/loc?{RANGE}&txIdPresente=true&tipoCob=cob"), &m)).await;
    let txids: Vec<_> = linked["loc"].as_array().unwrap().iter().map(|l| l["txid"].as_str().unwrap()).collect();
    assert_eq!(txids, [txid(2), txid(1)]);
    assert_eq!(
        (&linked["parametros"]["txIdPresente"], &linked["parametros"]["tipoCob"]),
        (&json!(true), &json!("cob"))
    );
    let (_, _, cobv) = call(app.request(Method::GET, &format!("/v2/loc?{RANGE}&tipoCob=cobv"), &m)).await;
    assert_eq!(cobv["loc"], json!([]));
}

#[sqlx::test(migrations = "./migrations")]
async fn bad_location_requests_are_refused_with_their_problem_and_change_nothing(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let m = app.merchant("Loja", KEY).await;
    let other = app.merchant("Outra", "+5581987654321").await;
    let theirs = new_location(&app, &other, "cob").await;
    let cobv = new_location(&app, &m, "cobv").await;
    let before = app.count("locations").await;

    for (body, razao) in [
        (json!({}), "is required"),
        (json!({"tipoCob": "cobr"}), "must be cob or cobv"),
        (json!({"tipoCob": 1}), "must be a string"),
        (json!([]), ""),
    ] {
        let (status, _, p) = call(app.request(Method::POST, "/v2/loc", &m).json(&body)).await;
        assert_eq!(status, 400, "{body}: {p}");
        assert_eq!(p["type"], format!("{BACEN_ERROR}PayloadLocationOperacaoInvalida"), "{body}");
        assert!(p["violacoes"][0]["razao"].as_str().unwrap().contains(razao), "{body}: {p}");
    }
    for query in
        ["", "inicio=2020-01-01T00:00:00Z", &format!("{RANGE}&tipoCob=x"), &format!("{RANGE}&txIdPresente=talvez")]
    {
        let (status, _, p) = call(app.request(Method::GET, &format!("/v2/loc?{query}"), &m)).await;
        assert_eq!(
            (status, p["type"].as_str()),
            (400, Some(&*format!("{BACEN_ERROR}PayloadLocationConsultaInvalida"))),
            "{query}"
        );
    }
    // Another merchant's location, or one that cannot exist, is not found — to read, to
    // unlink or to show; and no charge can take it.
    for path in [
        format!("/v2/loc/{}", theirs["id"]),
        "/v2/loc/abc".into(),
        "/v2/loc/0".into(),
        "/v2/loc/99999999999999999999".into(),
        format!("/v2/loc/{}/qrcode", theirs["id"]),
    ] {
        let (status, _, p) = call(app.request(Method::GET, &path, &m)).await;
        assert_eq!(
            (status, p["type"].as_str()),
            (404, Some(&*format!("{BACEN_ERROR}PayloadLocationNaoEncontrado"))),
            "{path}"
        );
    }
    let (status, _, _) = call(app.request(Method::DELETE, &format!("/v2/loc/{}/txid", theirs["id"]), &m)).await;
    assert_eq!(status, 404);
    for (loc, n) in [(json!({"id": theirs["id"]}), 1), (json!({"id": cobv["id"]}), 2), (json!({"id": 424242}), 3)] {
        let mut body = charge_body(KEY, "1.00");
        body["loc"] = loc.clone();
        let (status, _, p) = call(app.request(Method::PUT, &format!("/v2/cob/{}", txid(n)), &m).json(&body)).await;
        assert_eq!((status, p["violacoes"][0]["propriedade"].as_str()), (400, Some("cob.loc.id")), "{loc}: {p}");
    }
    for (loc, prop) in [
        (json!({"id": theirs["id"], "tipoCob": "cobv"}), "cob.loc.tipoCob"),
        (json!({"tipoCob": "cob"}), "cob.loc.id"),
        (json!({"id": "7"}), "cob.loc.id"),
        (json!({"id": 0}), "cob.loc.id"),
        (json!(7), "cob.loc"),
    ] {
        let mut body = charge_body(KEY, "1.00");
        body["loc"] = loc.clone();
        let (status, _, p) = call(app.request(Method::PUT, &format!("/v2/cob/{}", txid(9)), &m).json(&body)).await;
        assert_eq!((status, p["violacoes"][0]["propriedade"].as_str()), (400, Some(prop)), "{loc}: {p}");
    }
    assert_eq!(app.count("charges").await, 0);
    assert_eq!(app.count("locations").await, before);
    let (_, _, still_theirs) = call(app.request(Method::GET, &format!("/v2/loc/{}", theirs["id"]), &other)).await;
    assert!(still_theirs.get("txid").is_none());
}

/// Many charges racing for one free location: exactly one gets it; the others are told
/// why, none is a server error, and no location serves two charges.
#[sqlx::test(migrations = "./migrations")]
async fn charges_racing_for_one_location_leave_it_serving_exactly_one(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let m = app.merchant("Loja", KEY).await;
    let loc = new_location(&app, &m, "cob").await;
    let attempts: Vec<_> = (1..=8)
        .map(|n| {
            let req =
                app.request(Method::PUT, &format!("/v2/cob/{}", txid(n)), &m).json(&at_location("5.00", &loc["id"]));
            tokio::spawn(call(req))
        })
        .collect();
    let mut statuses = Vec::new();
    for attempt in attempts {
        statuses.push(attempt.await.unwrap().0);
    }
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 400).count(), 7, "{statuses:?}");
    assert_eq!(app.count("charges").await, 1);
}
