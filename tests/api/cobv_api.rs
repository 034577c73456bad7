//! End-to-end: charges with a due date (`/cobv`) over real HTTP on a real Postgres
//! database, on a clock set to Tuesday 1 September 2026, 09:00 in Brasília.

use crate::common::*;
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::PgPool;

const KEY: &str = "escola@example.com";

pub(crate) fn tuesday_morning() -> std::sync::Arc<Movable> {
    Movable::at("2026-09-01T12:00:00Z".parse().unwrap())
}

/// A merchant whose registration has the receiver details a cobv shows.
pub(crate) async fn school(app: &TestApp) -> TestMerchant {
    app.with_receiver(app.merchant("Escola Aprender", KEY).await, Some("Escolinha")).await
}

/// Due Thursday 10 September: 2% fine, 1% a calendar day, 5.00 off until the 5th.
pub(crate) fn tuition(original: &str) -> Value {
    json!({
        "calendario": {"dataDeVencimento": "2026-09-10"},
        "devedor": {"cpf": "12345678909", "nome": "Maria Souza", "logradouro": "Rua A, 1", "cidade": "Recife",
                    "uf": "PE", "cep": "50000001", "email": "maria@example.com"},
        "valor": {"original": original,
                  "multa": {"modalidade": 2, "valorPerc": "2.00"},
                  "juros": {"modalidade": 2, "valorPerc": "1.00"},
                  "desconto": {"modalidade": 1, "descontoDataFixa": [{"data": "2026-09-05", "valorPerc": "5.00"}]}},
        "chave": KEY,
        "solicitacaoPagador": "Mensalidade de setembro"
    })
}

/// The payload a payer's bank reads for `DPP` (or its problem).
async fn payload(app: &TestApp, cobv: &Value, query: &str) -> (u16, Value) {
    app.read_location(cobv["location"].as_str().unwrap(), query).await
}

#[sqlx::test(migrations = "./migrations")]
async fn a_charge_with_a_due_date_is_created_priced_by_payment_date_revised_listed_and_removed(pool: PgPool) {
    let app = TestApp::spawn_configured_at(pool, tuesday_morning(), |_| {}).await;
    let m = school(&app).await;
    let path = format!("/v2/cobv/{}", txid(1));

    let (status, _, cobv) = call(app.request(Method::PUT, &path, &m).json(&tuition("100.00"))).await;
    assert_eq!(status, 201, "{cobv}");
    assert_eq!(cobv["calendario"]["dataDeVencimento"], "2026-09-10");
    assert_eq!(cobv["calendario"]["validadeAposVencimento"], 30, "Bacen's default");
    assert_eq!((cobv["revisao"].as_i64(), cobv["status"].as_str()), (Some(0), Some("ATIVA")));
    assert_eq!(cobv["loc"]["tipoCob"], "cobv");
    assert_eq!(cobv["devedor"]["logradouro"], "Rua A, 1");
    let r = &cobv["recebedor"];
    assert_eq!(
        (r["cnpj"].as_str(), r["nome"].as_str(), r["nomeFantasia"].as_str(), r["cidade"].as_str(), r["uf"].as_str()),
        (Some("11222333000181"), Some("Escola Aprender"), Some("Escolinha"), Some("RECIFE"), Some("PE"))
    );
    assert_eq!(cobv["valor"]["multa"], json!({"modalidade": 2, "valorPerc": "2.00"}));
    assert_eq!(cobv["valor"]["desconto"]["descontoDataFixa"][0], json!({"data": "2026-09-05", "valorPerc": "5.00"}));
    assert!(cobv["pixCopiaECola"].as_str().unwrap().contains(cobv["location"].as_str().unwrap()));
    // At the spec's path for charges with a due date, which tells a payer's bank from the
    // URL alone to send DPP and codMun (it is read there below).
    assert!(cobv["location"].as_str().unwrap().contains("/qr/v2/cobv/"), "{cobv}");

    // The same PUT is the same charge; other content alters one still ATIVA (the spec's PUT:
    // the whole request, what it leaves out removed) and is refused once it is not.
    let (status, _, again) = call(app.request(Method::PUT, &path, &m).json(&tuition("100.00"))).await;
    assert_eq!((status, &again), (201, &cobv));
    let other = format!("/v2/cobv/{}", txid(9));
    assert_eq!(call(app.request(Method::PUT, &other, &m).json(&tuition("100.00"))).await.0, 201);
    let mut cheaper = tuition("99.00");
    cheaper["valor"].as_object_mut().unwrap().remove("multa");
    let (status, _, altered) = call(app.request(Method::PUT, &other, &m).json(&cheaper)).await;
    assert_eq!(
        (status, altered["revisao"].as_i64(), altered["valor"]["original"].as_str()),
        (201, Some(1), Some("99.00"))
    );
    assert!(altered["valor"].get("multa").is_none(), "{altered}");
    let remove = json!({"status": "REMOVIDA_PELO_USUARIO_RECEBEDOR"});
    assert_eq!(call(app.request(Method::PATCH, &other, &m).json(&remove)).await.0, 200);
    let (status, _, problem) = call(app.request(Method::PUT, &other, &m).json(&tuition("98.00"))).await;
    assert_eq!((status, problem["violacoes"][0]["propriedade"].as_str()), (400, Some("txid")));

    // The payer's bank prices it for its payment date: early (the discount), on the due
    // date (the original), late (2.00 fine + 1% a day for 4 days, from the 10th).
    let (_, early) = payload(&app, &cobv, "?DPP=2026-09-04&codMun=2611606").await;
    assert_eq!(early["valor"]["final"], "95.00", "{early}");
    assert_eq!(early["valor"]["desconto"], "5.00");
    assert_eq!(early["recebedor"]["logradouro"], "Rua das Flores, 10");
    assert!(early["devedor"].get("logradouro").is_none(), "the payer's bank sees no contact data");
    let (_, on_time) = payload(&app, &cobv, "?DPP=2026-09-10").await;
    assert_eq!(on_time["valor"]["final"], "100.00");
    let (_, late) = payload(&app, &cobv, "?DPP=2026-09-14").await;
    assert_eq!((late["valor"]["multa"].as_str(), late["valor"]["juros"].as_str()), (Some("2.00"), Some("4.00")));
    assert_eq!(late["valor"]["final"], "106.00");
    let (_, today) = payload(&app, &cobv, "").await;
    assert_eq!(today["valor"]["final"], "95.00", "no DPP: today, 1 September");
    for (query, prop) in
        [("?DPP=2026-08-31", "DPP"), ("?DPP=2026-10-14", "DPP"), ("?DPP=10/09/2026", "DPP"), ("?codMun=123", "codMun")]
    {
        let (status, problem) = payload(&app, &cobv, query).await;
        assert_eq!(status, 400, "{query}");
        assert_eq!(problem["type"], format!("{BACEN_ERROR}CobPayloadOperacaoInvalida"));
        assert_eq!(problem["violacoes"][0]["propriedade"], prop);
    }

    // Revised: a new revision, the old one still readable; a revision that does not exist
    // is a bad query.
    let (status, _, revised) =
        call(app.request(Method::PATCH, &path, &m).json(&json!({"valor": {"original": "120.00"}}))).await;
    assert_eq!(status, 200, "{revised}");
    assert_eq!((revised["revisao"].as_i64(), revised["valor"]["original"].as_str()), (Some(1), Some("120.00")));
    assert_eq!(revised["valor"]["multa"]["valorPerc"], "2.00", "what the PATCH left out stays");
    let (_, _, first) = call(app.request(Method::GET, &format!("{path}?revisao=0"), &m)).await;
    assert_eq!(first["valor"]["original"], "100.00");
    let (status, _, problem) = call(app.request(Method::GET, &format!("{path}?revisao=7"), &m)).await;
    assert_eq!((status, problem["type"].as_str()), (400, Some(&*format!("{BACEN_ERROR}CobVConsultaInvalida"))));
    let (_, late) = payload(&app, &cobv, "?DPP=2026-09-14").await;
    assert_eq!(late["valor"]["final"], "127.20", "120.00 + 2.40 + 4.80: the new revision at once");
    // A term sent as null is removed (the others stay): the same day owes no fine.
    let (status, _, revised) =
        call(app.request(Method::PATCH, &path, &m).json(&json!({"valor": {"multa": null}}))).await;
    assert_eq!(status, 200, "{revised}");
    assert!(revised["valor"].get("multa").is_none() && revised["valor"]["juros"].is_object(), "{revised}");
    let (_, late) = payload(&app, &cobv, "?DPP=2026-09-14").await;
    assert_eq!(late["valor"]["final"], "124.80", "120.00 + 4.80");

    // A cobv is not a cob; the lists keep to their kind.
    let (status, _, _) = call(app.request(Method::GET, &format!("/v2/cob/{}", txid(1)), &m)).await;
    assert_eq!(status, 404);
    // (Charges are listed by when they were created, which is the database's time, not the
    // test's clock.)
    let range = "inicio=2020-01-01T00:00:00Z&fim=2099-01-01T00:00:00Z";
    let (_, _, list) = call(app.request(Method::GET, &format!("/v2/cobv?{range}&status=ATIVA"), &m)).await;
    assert_eq!(list["cobs"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["parametros"]["status"], "ATIVA");
    let (_, _, cobs) = call(app.request(Method::GET, &format!("/v2/cob?{range}"), &m)).await;
    assert_eq!(cobs["cobs"], json!([]));

    // Removed: its location serves nothing.
    let (status, _, removed) =
        call(app.request(Method::PATCH, &path, &m).json(&json!({"status": "REMOVIDA_PELO_USUARIO_RECEBEDOR"}))).await;
    assert_eq!((status, removed["status"].as_str()), (200, Some("REMOVIDA_PELO_USUARIO_RECEBEDOR")));
    let (status, _) = payload(&app, &cobv, "").await;
    assert_eq!(status, 404);
}

#[sqlx::test(migrations = "./migrations")]
async fn bad_cobv_requests_are_refused_with_their_violations_and_store_nothing(pool: PgPool) {
    let app = TestApp::spawn_configured_at(pool, tuesday_morning(), |_| {}).await;
    let m = school(&app).await;
    let unregistered = app.merchant("Sem Cadastro", "+5581987654321").await;
    let cob_location = {
        let (_, _, loc) = call(app.request(Method::POST, "/v2/loc", &m).json(&json!({"tipoCob": "cob"}))).await;
        loc["id"].clone()
    };
    let with = |change: &dyn Fn(&mut Value)| {
        let mut body = tuition("100.00");
        change(&mut body);
        body
    };
    let cases: Vec<(Value, &str)> = vec![
        (with(&|b| b.as_object_mut().unwrap().remove("devedor").map(|_| ()).unwrap()), "cobv.devedor"),
        (with(&|b| b["calendario"]["dataDeVencimento"] = json!("2026-08-31")), "cobv.calendario.dataDeVencimento"),
        (with(&|b| b["calendario"]["dataDeVencimento"] = json!("31/08/2026")), "cobv.calendario.dataDeVencimento"),
        (
            with(&|b| b["valor"]["abatimento"] = json!({"modalidade": 1, "valorPerc": "100.00"})),
            "cobv.valor.abatimento",
        ),
        (with(&|b| b["valor"]["multa"] = json!({"modalidade": 3, "valorPerc": "1.00"})), "cobv.valor.multa.modalidade"),
        (with(&|b| b["valor"]["juros"] = json!({"modalidade": 9, "valorPerc": "1.00"})), "cobv.valor.juros.modalidade"),
        (
            with(&|b| {
                b["valor"]["desconto"] = json!({"modalidade": 1, "valorPerc": "1.00",
                "descontoDataFixa": [{"data": "2026-09-05", "valorPerc": "5.00"}]})
            }),
            "cobv.valor.desconto.valorPerc",
        ),
        (
            with(&|b| {
                b["valor"]["desconto"] = json!({"modalidade": 3, "valorPerc": "1.00",
                "descontoDataFixa": [{"data": "2026-09-05", "valorPerc": "5.00"}]})
            }),
            "cobv.valor.desconto.descontoDataFixa",
        ),
        (
            with(&|b| {
                b["valor"]["desconto"] = json!({"modalidade": 1,
                "descontoDataFixa": [{"data": "2026-09-15", "valorPerc": "5.00"}]})
            }),
            "cobv.valor.desconto.descontoDataFixa",
        ),
        (
            // chrono alone reads a signed year; the calendar could not place it.
            with(&|b| {
                b["valor"]["desconto"] = json!({"modalidade": 1,
                "descontoDataFixa": [{"data": "-993-06-15", "valorPerc": "5.00"}]})
            }),
            "cobv.valor.desconto.descontoDataFixa[0].data",
        ),
        (with(&|b| b["devedor"]["uf"] = json!("Pernambuco")), "cobv.devedor.uf"),
        (with(&|b| b["loc"] = json!({"id": cob_location.clone()})), "cobv.loc.id"),
        (with(&|b| b["chave"] = json!("outra@example.com")), "cobv.chave"),
    ];
    for (i, (body, prop)) in cases.iter().enumerate() {
        let (status, _, p) =
            call(app.request(Method::PUT, &format!("/v2/cobv/{}", txid(10 + i as u32)), &m).json(body)).await;
        assert_eq!(status, 400, "{prop}: {p}");
        assert_eq!(p["type"], format!("{BACEN_ERROR}CobVOperacaoInvalida"), "{prop}");
        let props: Vec<&str> =
            p["violacoes"].as_array().unwrap().iter().map(|v| v["propriedade"].as_str().unwrap()).collect();
        assert!(props.contains(prop), "{prop} not in {props:?}");
    }
    let mut body = tuition("100.00");
    body["chave"] = json!("+5581987654321");
    let (status, _, p) =
        call(app.request(Method::PUT, &format!("/v2/cobv/{}", txid(40)), &unregistered).json(&body)).await;
    assert_eq!((status, p["violacoes"][0]["propriedade"].as_str()), (400, Some("cobv.recebedor")), "{p}");
    assert_eq!(app.count("charges").await, 0);

    // A txid is one space across both kinds.
    let (status, _, _) =
        call(app.request(Method::PUT, &format!("/v2/cob/{}", txid(50)), &m).json(&charge_body(KEY, "1.00"))).await;
    assert_eq!(status, 201);
    let (status, _, p) =
        call(app.request(Method::PUT, &format!("/v2/cobv/{}", txid(50)), &m).json(&tuition("100.00"))).await;
    assert_eq!((status, p["violacoes"][0]["propriedade"].as_str()), (400, Some("txid")));
}

/// The sandbox pays as a payer's bank would on a given day: it asks the payload for that
/// day (`DPP`) and pays its final amount, which concludes the charge; after the charge's
/// validity the payer's side refuses; another amount is credited and flagged.
#[sqlx::test(migrations = "./migrations")]
async fn a_charge_with_a_due_date_is_paid_its_final_amount_on_the_day_the_payer_pays(pool: PgPool) {
    use tucano_shared::domain::cobv::{calendar, Days, Desconto, Juros, Multa, Percent, PriceTerms};
    use tucano_shared::domain::money::Amount;
    let app = TestApp::spawn_with_rail(pool).await;
    let m = school(&app).await;
    let today = calendar::brasilia_date(chrono::Utc::now());
    // A business day, so that paying three days after it is three days late (a due date on
    // a weekend or holiday moves to the next business day, and the interest with it).
    let due = calendar::business_day_on_or_after(today + chrono::Duration::days(20));
    let body = |original: &str| {
        let mut b = tuition(original);
        b["calendario"]["dataDeVencimento"] = json!(due.to_string());
        b["valor"]["desconto"] = json!({"modalidade": 1,
            "descontoDataFixa": [{"data": due.to_string(), "valorPerc": "5.00"}]});
        b
    };
    // The same terms in the domain, to price each day (its worked examples are its own tests).
    let price = |original: &str| PriceTerms {
        original: Amount::parse(original).unwrap(),
        vencimento: due,
        validade_apos_vencimento: 30,
        multa: Some(Multa::Percent(Percent(200))),
        juros: Some(Juros::Rate(Percent(100), tucano_shared::domain::cobv::Period::Day, Days::Calendar)),
        abatimento: None,
        desconto: Some(Desconto::UntilDates { percent: false, tiers: vec![(due, 500)] }),
    };
    let create = |n: u32, original: &'static str| {
        let req = app.request(Method::PUT, &format!("/v2/cobv/{}", txid(n)), &m).json(&body(original));
        async move {
            let (status, _, cobv) = call(req).await;
            assert_eq!(status, 201, "{cobv}");
            cobv
        }
    };

    // Early: the discount (the day before the due date: not today, which midnight could
    // turn into yesterday between the charge and its payment).
    let early = create(1, "100.00").await;
    let day_before = due - chrono::Duration::days(1);
    let paid = app.pay(json!({"pixCopiaECola": early["pixCopiaECola"], "dataPagamento": day_before.to_string()})).await;
    assert_eq!(paid["valor"], "95.00", "{paid}");
    let concluded = app.eventually(&m, &format!("/v2/cobv/{}", txid(1)), |c| c["status"] == "CONCLUIDA").await;
    assert_eq!(concluded["pix"][0]["valor"], "95.00", "{concluded}");
    assert_eq!(concluded["revisao"], 0, "payment is not a revision");
    // The Pix says what its amount is made of (Bacen's componentesValor).
    let parts = json!({"original": {"valor": "100.00"}, "desconto": {"valor": "5.00"}});
    assert_eq!(concluded["pix"][0]["componentesValor"], parts, "{concluded}");

    // Late: the fine and the interest of each day.
    let late_day = due + chrono::Duration::days(3);
    let owed = price("200.00").amount_due(late_day).unwrap();
    let expected = owed.final_.to_string();
    let late = create(2, "200.00").await;
    let paid = app.pay(json!({"pixCopiaECola": late["pixCopiaECola"], "dataPagamento": late_day.to_string()})).await;
    assert_eq!(paid["valor"], expected.as_str());
    assert!(Amount::parse(&expected).unwrap() > Amount::parse("204.00").unwrap(), "2% fine and 3 days: {expected}");
    app.eventually(&m, &format!("/v2/cobv/{}", txid(2)), |c| c["status"] == "CONCLUIDA").await;
    let range = "inicio=2020-01-01T00:00:00Z&fim=2099-01-01T00:00:00Z";
    let (_, _, listed) = call(app.request(Method::GET, &format!("/v2/pix?{range}&txid={}", txid(2)), &m)).await;
    let e2eid = listed["pix"][0]["endToEndId"].as_str().unwrap().to_owned();
    let (status, _, late_pix) = call(app.request(Method::GET, &format!("/v2/pix/{e2eid}"), &m)).await;
    assert_eq!(status, 200, "{late_pix}");
    let parts = json!({"original": {"valor": "200.00"}, "multa": {"valor": owed.multa.to_string()},
                       "juros": {"valor": owed.juros.to_string()}});
    assert_eq!(late_pix["componentesValor"], parts, "{late_pix}");
    assert_eq!(listed["pix"][0]["componentesValor"], parts, "the list says the same: {listed}");

    // On the due date, without a discount: the original.
    let mut plain = body("300.00");
    plain["valor"].as_object_mut().unwrap().remove("desconto");
    let (status, _, on_time) = call(app.request(Method::PUT, &format!("/v2/cobv/{}", txid(5)), &m).json(&plain)).await;
    assert_eq!(status, 201, "{on_time}");
    let paid = app.pay(json!({"pixCopiaECola": on_time["pixCopiaECola"], "dataPagamento": due.to_string()})).await;
    assert_eq!(paid["valor"], "300.00");
    let concluded = app.eventually(&m, &format!("/v2/cobv/{}", txid(5)), |c| c["status"] == "CONCLUIDA").await;
    assert_eq!(concluded["pix"][0]["componentesValor"], json!({"original": {"valor": "300.00"}}), "{concluded}");

    // After its validity the payer's side cannot even read what is due.
    let expired = create(3, "300.00").await;
    let after = price("300.00").last_day() + chrono::Duration::days(1);
    let res = reqwest::Client::new()
        .post(format!("{}/pagamentos", app.rail.as_ref().unwrap().url))
        .json(&json!({"pixCopiaECola": expired["pixCopiaECola"], "dataPagamento": after.to_string()}))
        .send()
        .await
        .unwrap();
    assert!(!res.status().is_success(), "refused by the payer's side");

    // Another amount: credited, flagged, the charge still open.
    let wrong = create(4, "400.00").await;
    app.pay(json!({"pixCopiaECola": wrong["pixCopiaECola"], "valor": "1.00"})).await;
    let flagged = app
        .eventually(&m, &format!("/v2/pix?{range}&txid={}", txid(4)), |l| {
            l["pix"].as_array().is_some_and(|p| !p.is_empty())
        })
        .await;
    assert_eq!(flagged["pix"][0]["alerta"], "VALOR_DIVERGENTE", "{flagged}");
    assert_eq!(flagged["pix"][0]["componentesValor"], json!({"original": {"valor": "1.00"}}), "{flagged}");
    let (_, _, still) = call(app.request(Method::GET, &format!("/v2/cobv/{}", txid(4)), &m)).await;
    assert_eq!(still["status"], "ATIVA");

    // The list shows each concluded charge's Pix, as reading it whole does.
    let (_, _, listed) = call(app.request(Method::GET, &format!("/v2/cobv?{range}&status=CONCLUIDA"), &m)).await;
    let listed = listed["cobs"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 3);
    for c in &listed {
        let (_, _, whole) =
            call(app.request(Method::GET, &format!("/v2/cobv/{}", c["txid"].as_str().unwrap()), &m)).await;
        assert_eq!(c["pix"], whole["pix"]);
        assert_eq!(c["pix"].as_array().map(Vec::len), Some(1), "{c}");
    }

    let events = app.events(&m, "cobv.concluida").await;
    assert_eq!(events.len(), 3, "{events:?}");
    let total =
        Amount::parse("95.00").unwrap().centavos() + Amount::parse(&expected).unwrap().centavos() + 30_000 + 100;
    assert_eq!(app.saldo(&m).await.0, Amount::from_centavos(total).unwrap().to_string());
    app.assert_ledger_ok().await;

    // A merchant of ours paying such a charge by its code (`PUT /envio/{id}/qrcode`, no
    // valor) sends what is due today, as the payload's `valor.final` says: the discount
    // taken, not the original.
    let family = app.merchant("Familia Souza", "familia@example.com").await;
    let funding = json!({"tipo": "PIX_RECEBIDO", "id": "fund-family", "pix": {
        "endToEndId": "E9999999920261121130500000000777", "valor": "150.00", "chave": "familia@example.com",
        "horario": chrono::Utc::now().to_rfc3339()}});
    assert_eq!(app.notify(&funding).await.0, 200);
    // The receiver's key is one the sandbox's directory knows.
    let supplier = app.with_receiver(app.merchant("Fornecedor", "fornecedor@example.com").await, None).await;
    let mut bill = body("100.00");
    bill["chave"] = json!("fornecedor@example.com");
    let path = format!("/v2/cobv/{}", txid(6));
    let (status, _, owed) = call(app.request(Method::PUT, &path, &supplier).json(&bill)).await;
    assert_eq!(status, 201, "{owed}");
    let (status, _, sent) = call(
        app.request(Method::PUT, "/v2/envio/mensalidade/qrcode", &family)
            .json(&json!({"pixCopiaECola": owed["pixCopiaECola"]})),
    )
    .await;
    assert_eq!(status, 201, "{sent}");
    assert_eq!(sent["valor"], "95.00", "{sent}");
    let done = app.eventually(&family, "/v2/envio/mensalidade", |e| e["status"] == "REALIZADO").await;
    assert_eq!(done["valor"], "95.00", "{done}");
}

/// A location made for a charge with a due date (`POST /loc` with `tipoCob: cobv`) serves
/// the one that names it, and only such a charge.
#[sqlx::test(migrations = "./migrations")]
async fn a_cobv_location_serves_the_charge_with_a_due_date_that_names_it(pool: PgPool) {
    let app = TestApp::spawn_configured_at(pool, tuesday_morning(), |_| {}).await;
    let m = school(&app).await;
    let (_, _, loc) = call(app.request(Method::POST, "/v2/loc", &m).json(&json!({"tipoCob": "cobv"}))).await;
    let mut body = tuition("100.00");
    body["loc"] = json!({"id": loc["id"]});
    let (status, _, cobv) = call(app.request(Method::PUT, &format!("/v2/cobv/{}", txid(1)), &m).json(&body)).await;
    assert_eq!(status, 201, "{cobv}");
    assert_eq!((cobv["loc"]["id"].clone(), cobv["location"].clone()), (loc["id"].clone(), loc["location"].clone()));
    let (_, linked) = (0, call(app.request(Method::GET, &format!("/v2/loc/{}", loc["id"]), &m)).await.2);
    assert_eq!(linked["txid"], txid(1));
    let (status, payload) = payload(&app, &cobv, "?DPP=2026-09-10").await;
    assert_eq!((status, payload["txid"].as_str()), (200, Some(&*txid(1))));
    // An immediate charge cannot take it.
    let mut cob = charge_body(KEY, "1.00");
    cob["loc"] = json!({"id": loc["id"]});
    let (status, _, _) = call(app.request(Method::PUT, &format!("/v2/cob/{}", txid(2)), &m).json(&cob)).await;
    assert_eq!(status, 400);
}

/// A PUT repeated after the day moved past the charge's due date (a client's retry, or the
/// batch worker's after a crash before it recorded its outcome) answers the charge it
/// created.
#[sqlx::test(migrations = "./migrations")]
async fn a_put_repeated_after_its_due_date_passed_answers_the_charge_it_created(pool: PgPool) {
    let clock = tuesday_morning();
    let app = TestApp::spawn_configured_at(pool, clock.clone(), |_| {}).await;
    let m = school(&app).await;
    let path = format!("/v2/cobv/{}", txid(1));
    let mut due_today = tuition("100.00");
    due_today["calendario"]["dataDeVencimento"] = json!("2026-09-01");
    due_today["valor"].as_object_mut().unwrap().remove("desconto");
    let (status, _, created) = call(app.request(Method::PUT, &path, &m).json(&due_today)).await;
    assert_eq!(status, 201, "{created}");

    *clock.0.lock().unwrap() += chrono::Duration::days(1);
    let (status, _, again) = call(app.request(Method::PUT, &path, &m).json(&due_today)).await;
    assert_eq!(status, 201, "{again}");
    assert_eq!(again, created);
    // Other content that restates the due date alters it, as a PATCH would (the date, past
    // now, is not judged again); one that moves the date into the past is refused.
    let mut other = due_today.clone();
    other["valor"]["original"] = json!("101.00");
    let (status, _, altered) = call(app.request(Method::PUT, &path, &m).json(&other)).await;
    assert_eq!((status, altered["revisao"].as_i64()), (201, Some(1)), "{altered}");
    other["calendario"]["dataDeVencimento"] = json!("2026-08-31");
    let (status, _, problem) = call(app.request(Method::PUT, &path, &m).json(&other)).await;
    assert_eq!(status, 400, "{problem}");
}
