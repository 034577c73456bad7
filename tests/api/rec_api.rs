//! End-to-end: Pix Automático over real HTTP on a real Postgres, with the sandbox rail as
//! the payer's bank, both on the sandbox's simulated clock: a monthly subscription
//! authorised through a confirmation request (journey 1), a year of recurring charges paid
//! by debit, one that fails and is paid on retry, one the payer cancels; and the rules each
//! resource enforces.

use crate::common::receiver::{Answer, Receiver};
use crate::common::*;
use chrono::{Datelike, Days, Months, NaiveDate};
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::PgPool;

const KEY: &str = "academia@example.com";
const CPF: &str = "12345678909";

/// A gym whose registration has its CNPJ (Pix Automático receivers are companies), charged
/// 1% + 0.10 per received Pix.
async fn gym(app: &TestApp) -> TestMerchant {
    app.with_receiver(app.merchant_with_fees("Academia Forte", KEY, fees(100, "0.10")).await, None).await
}

async fn account_number(app: &TestApp, m: &TestMerchant) -> String {
    let n: i64 = sqlx::query_scalar("SELECT account_number FROM merchants WHERE id = $1")
        .bind(m.id.0)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    n.to_string()
}

/// The simulated day (Brasília), as the sandbox tells it.
async fn today(app: &TestApp) -> NaiveDate {
    let (status, clock) = app.rail_call(Method::GET, "/relogio", None).await;
    assert_eq!(status, 200, "{clock}");
    clock["hoje"].as_str().unwrap().parse().unwrap()
}

/// Moves the simulated clock to `day`, the payer's bank debiting what falls due.
async fn advance_to(app: &TestApp, day: NaiveDate) -> Value {
    let days = (day - today(app).await).num_days();
    assert!(days >= 1, "the clock only moves forward");
    let (status, body) = app.rail_call(Method::POST, "/relogio/avancar", Some(json!({"dias": days}))).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn subscription(first: NaiveDate) -> Value {
    json!({
        "vinculo": {"objeto": "Plano mensal", "contrato": "CT-2027-001",
                    "devedor": {"cpf": CPF, "nome": "Maria Souza"}},
        "calendario": {"dataInicial": first.to_string(), "periodicidade": "MENSAL"},
        "valor": {"valorRec": "50.00"},
        "politicaRetentativa": "PERMITE_3R_7D"
    })
}

/// A recurrence created and approved by the payer through a confirmation request.
async fn approved_subscription(app: &TestApp, m: &TestMerchant, first: NaiveDate) -> String {
    let (status, _, rec) = call(app.request(Method::POST, "/v2/rec", m).json(&subscription(first))).await;
    assert_eq!(status, 201, "{rec}");
    assert_eq!(rec["status"], "CRIADA");
    assert_eq!(rec["ativacao"]["tipoJornada"], "AGUARDANDO_DEFINICAO");
    let id_rec = rec["idRec"].as_str().unwrap().to_owned();
    assert!(id_rec.starts_with("RR99999999"), "{id_rec}: retries allowed, our ISPB");
    let expira = (app.state.clock.now() + chrono::Duration::days(3)).to_rfc3339();
    let body = json!({
        "idRec": id_rec,
        "calendario": {"dataExpiracaoSolicitacao": expira},
        "destinatario": {"ispbParticipante": "SANDBOX0", "agencia": "0001", "conta": "123456", "cpf": CPF}
    });
    let (status, _, solic) = call(app.request(Method::POST, "/v2/solicrec", m).json(&body)).await;
    assert_eq!(status, 201, "{solic}");
    let id_solic = solic["idSolicRec"].as_str().unwrap().to_owned();
    let rec = app.eventually(m, &format!("/v2/rec/{id_rec}"), |r| r["status"] == "APROVADA").await;
    assert_eq!(rec["ativacao"]["tipoJornada"], "JORNADA_1");
    assert_eq!(rec["pagador"], json!({"cpf": CPF, "ispbParticipante": "SANDBOX0", "codMun": "2611606"}));
    let solic = app.eventually(m, &format!("/v2/solicrec/{id_solic}"), |s| s["status"] == "ACEITA").await;
    let steps: Vec<&str> =
        solic["atualizacao"].as_array().unwrap().iter().map(|u| u["status"].as_str().unwrap()).collect();
    assert_eq!(steps.first(), Some(&"CRIADA"));
    assert!(steps.contains(&"RECEBIDA"), "{steps:?}");
    id_rec
}

fn charge(id_rec: &str, due: NaiveDate, conta: &str) -> Value {
    json!({
        "idRec": id_rec,
        "calendario": {"dataDeVencimento": due.to_string()},
        "valor": {"original": "50.00"},
        "recebedor": {"conta": conta, "tipoConta": "PAGAMENTO", "agencia": "0001"},
        "infoAdicional": format!("Mensalidade {}/{}", due.month(), due.year())
    })
}

fn status_of(c: &Value, n: usize) -> &str {
    c["tentativas"][n]["status"].as_str().unwrap_or("")
}

#[sqlx::test(migrations = "./migrations")]
async fn a_monthly_subscription_runs_for_a_year_with_a_retry_and_a_charge_the_payer_cancels(pool: PgPool) {
    let app = TestApp::spawn_with_rail_on_sandbox_clock(pool).await;
    let m = gym(&app).await;
    let conta = account_number(&app, &m).await;
    // Bacen's callbacks for recurrences and recurring charges, to a receiver on loopback.
    let receiver = Receiver::start(|_| Answer::Ok).await;
    for (path, url) in [("/v2/webhookrec", "rec-hooks"), ("/v2/webhookcobr", "cobr-hooks")] {
        let body = json!({"webhookUrl": format!("{}/{url}", receiver.url)});
        let (status, _, hook) = call(app.request(Method::PUT, path, &m).json(&body)).await;
        assert_eq!(status, 200, "{hook}");
        assert!(hook["segredo"].is_string(), "the secret, shown once: {hook}");
        assert!(hook.get("chave").is_none());
    }
    let first = today(&app).await + Days::new(5);
    let id_rec = approved_subscription(&app, &m, first).await;

    let (mut paid, mut cancelled) = (0, 0);
    for month in 0..13u32 {
        let due = first + Months::new(month);
        if month > 0 {
            advance_to(&app, due - Days::new(5)).await;
        }
        let txid = format!("academia{month:02}mensalidade2027abcd");
        let (status, _, c) =
            call(app.request(Method::PUT, &format!("/v2/cobr/{txid}"), &m).json(&charge(&id_rec, due, &conta))).await;
        assert_eq!(status, 201, "month {month}: {c}");
        assert_eq!(c["tentativas"][0]["tipo"], "AGND");
        let c = app.eventually(&m, &format!("/v2/cobr/{txid}"), |c| c["status"] == "ATIVA").await;
        assert_eq!(status_of(&c, 0), "AGENDADA");
        let settles: NaiveDate = c["tentativas"][0]["dataLiquidacao"].as_str().unwrap().parse().unwrap();
        let e2eid = c["tentativas"][0]["endToEndId"].as_str().unwrap().to_owned();

        match month {
            6 => {
                // The payer cancels this one in the app of their bank, before it settles.
                let path = format!("/pagador/agendamentos/{e2eid}/cancelamento");
                let (status, body) = app.rail_call(Method::POST, &path, None).await;
                assert_eq!(status, 200, "{body}");
                let c = app.eventually(&m, &format!("/v2/cobr/{txid}"), |c| c["status"] == "CANCELADA").await;
                assert_eq!(
                    c["encerramento"]["cancelamento"],
                    json!({"solicitante": "USUARIO_PAGADOR", "codigo": "SLBD", "descricao": "Cancelled at the payer's request."})
                );
                assert_eq!(status_of(&c, 0), "CANCELADA");
                let advanced = advance_to(&app, settles).await;
                assert_eq!(advanced["debitos"], json!([]), "a cancelled attempt is not debited");
                cancelled += 1;
                continue;
            }
            3 => {
                // The payer has no funds on the due date: the debit fails, the charge stays
                // ATIVA (retries allowed), and a retry the next day is paid.
                app.rail_control(json!({"debitosSemSaldo": 1})).await;
                let advanced = advance_to(&app, settles).await;
                assert_eq!(advanced["debitos"][0]["status"], "REJEITADA", "{advanced}");
                let c = app.eventually(&m, &format!("/v2/cobr/{txid}"), |c| status_of(c, 0) == "REJEITADA").await;
                assert_eq!(c["status"], "ATIVA");
                assert_eq!(c["tentativas"][0]["rejeicao"]["codigo"], "AM02");
                // Two days on: a retry must be after today, and midnight may pass meanwhile.
                let retry_on = settles + Days::new(2);
                let path = format!("/v2/cobr/{txid}/retentativa/{retry_on}");
                let (status, _, c) = call(app.request(Method::POST, &path, &m)).await;
                assert_eq!(status, 201, "{c}");
                assert_eq!(c["tentativas"][1]["tipo"], "RIFL");
                app.eventually(&m, &format!("/v2/cobr/{txid}"), |c| status_of(c, 1) == "AGENDADA").await;
                let advanced = advance_to(&app, retry_on).await;
                assert_eq!(advanced["debitos"][0]["status"], "PAGA", "{advanced}");
            }
            _ => {
                let advanced = advance_to(&app, settles).await;
                assert_eq!(advanced["debitos"][0]["status"], "PAGA", "month {month}: {advanced}");
            }
        }
        let c = app.eventually(&m, &format!("/v2/cobr/{txid}"), |c| c["status"] == "CONCLUIDA").await;
        assert_eq!(c["pix"][0]["valor"], "50.00", "{c}");
        assert_eq!(c["pix"][0]["txid"], txid.as_str());
        let last = c["tentativas"].as_array().unwrap().len() - 1;
        assert_eq!(status_of(&c, last), "PAGA");
        paid += 1;
    }
    assert_eq!((paid, cancelled), (12, 1));

    // Twelve Pix of 50.00, each less its 0.60 fee.
    let (disponivel, _) = app.saldo(&m).await;
    assert_eq!(disponivel, "592.80");
    app.assert_ledger_ok().await;
    assert_eq!(app.events(&m, "cobr.concluida").await.len(), 12);
    assert_eq!(app.events(&m, "cobr.cancelada").await.len(), 1);
    let failed = app.events(&m, "cobr.tentativa_rejeitada").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["data"]["codigo"], "AM02");
    assert_eq!(app.events(&m, "rec.aprovada").await.len(), 1);
    assert_eq!(app.events(&m, "pix.recebido").await.len(), 12);

    // The callbacks: the approval to {url}/rec; every charge's changes to {url}/cobr, each
    // body showing the charge as it is when sent.
    crate::webhooks::dispatch_until(&app, &receiver, |got| {
        let cobr = got.iter().filter(|r| r.path == "/cobr-hooks/cobr");
        let seen: std::collections::BTreeSet<String> =
            cobr.flat_map(|r| r.json()["cobsr"].as_array().unwrap().clone()).map(|c| c["txid"].to_string()).collect();
        seen.len() == 13 && got.iter().any(|r| r.path == "/rec-hooks/rec")
    })
    .await;
    let got = receiver.received();
    let recs: Vec<Value> = got
        .iter()
        .filter(|r| r.path == "/rec-hooks/rec")
        .flat_map(|r| r.json()["recs"].as_array().unwrap().clone())
        .collect();
    assert_eq!(recs[0]["idRec"], id_rec.as_str());
    assert_eq!(recs[0]["status"], "APROVADA");
    assert_eq!(recs[0]["ativacao"]["tipoJornada"], "JORNADA_1");
    let mut last: std::collections::BTreeMap<String, Value> = Default::default();
    for r in got.iter().filter(|r| r.path == "/cobr-hooks/cobr") {
        for c in r.json()["cobsr"].as_array().unwrap() {
            assert_eq!(c["idRec"], id_rec.as_str());
            last.insert(c["txid"].as_str().unwrap().to_owned(), c.clone());
        }
    }
    let finals: Vec<&str> = last.values().map(|c| c["status"].as_str().unwrap()).collect();
    assert_eq!(finals.iter().filter(|s| **s == "CONCLUIDA").count(), 12, "{finals:?}");
    assert_eq!(finals.iter().filter(|s| **s == "CANCELADA").count(), 1, "{finals:?}");
    let retried = &last["academia03mensalidade2027abcd"];
    let attempts: Vec<&str> =
        retried["tentativas"].as_array().unwrap().iter().map(|t| t["status"].as_str().unwrap()).collect();
    assert_eq!(retried["status"], "CONCLUIDA");
    assert_eq!(attempts, ["REJEITADA", "PAGA"]);
    assert_eq!(retried["pix"][0]["valor"], "50.00");

    // The year's charges, listed by recurrence.
    let path = format!("/v2/cobr?inicio=2000-01-01T00:00:00Z&fim=2100-01-01T00:00:00Z&idRec={id_rec}");
    let (status, _, list) = call(app.request(Method::GET, &path, &m)).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["parametros"]["paginacao"]["quantidadeTotalDeItens"], 13);
    let concluded = list["cobsr"].as_array().unwrap().iter().filter(|c| c["status"] == "CONCLUIDA").count();
    assert_eq!(concluded, 12);
}

#[sqlx::test(migrations = "./migrations")]
async fn when_the_payer_cancels_the_recurrence_its_open_charge_ends_with_it(pool: PgPool) {
    let app = TestApp::spawn_with_rail_on_sandbox_clock(pool).await;
    let m = gym(&app).await;
    let conta = account_number(&app, &m).await;
    let first = today(&app).await + Days::new(5);
    let id_rec = approved_subscription(&app, &m, first).await;
    let txid = "academiacancelamento2027abcdef";
    let (status, _, c) =
        call(app.request(Method::PUT, &format!("/v2/cobr/{txid}"), &m).json(&charge(&id_rec, first, &conta))).await;
    assert_eq!(status, 201, "{c}");
    app.eventually(&m, &format!("/v2/cobr/{txid}"), |c| c["status"] == "ATIVA").await;

    // Its txid is taken for charges of every kind, and a batch cannot claim it.
    let (status, _, p) =
        call(app.request(Method::PUT, &format!("/v2/cob/{txid}"), &m).json(&charge_body(KEY, "1.00"))).await;
    assert_eq!(status, 400, "{p}");
    let batch = json!({"descricao": "x", "cobsv": [{"txid": txid}]});
    let (status, _, p) = call(app.request(Method::PUT, "/v2/lotecobv/1", &m).json(&batch)).await;
    assert_eq!(status, 400, "{p}");

    // A Pix that names the charge but none of its attempts is credited and flagged; the
    // charge stays ATIVA and its scheduled attempt stays where it is.
    let stray = json!({"tipo": "PIX_RECEBIDO", "id": "stray-1", "pix": {
        "endToEndId": "E9999999920270101120000000000001", "txid": txid, "valor": "50.00", "chave": KEY,
        "horario": app.state.clock.now().to_rfc3339()}});
    assert_eq!(app.notify(&stray).await.0, 200);
    let c = app.eventually(&m, &format!("/v2/cobr/{txid}"), |c| c["status"] == "ATIVA").await;
    assert_eq!(status_of(&c, 0), "AGENDADA");
    let credited = app.events(&m, "pix.recebido").await;
    assert_eq!(credited[0]["data"]["alerta"], "TENTATIVA_INEXISTENTE", "{credited:?}");

    let (status, body) =
        app.rail_call(Method::POST, &format!("/pagador/recorrencias/{id_rec}/cancelamento"), None).await;
    assert_eq!(status, 200, "{body}");
    let rec = app.eventually(&m, &format!("/v2/rec/{id_rec}"), |r| r["status"] == "CANCELADA").await;
    assert_eq!(rec["encerramento"]["cancelamento"]["solicitante"], "USUARIO_PAGADOR");
    assert_eq!(rec["encerramento"]["cancelamento"]["codigo"], "SLDB");
    let c = app.eventually(&m, &format!("/v2/cobr/{txid}"), |c| c["status"] == "CANCELADA").await;
    assert_eq!(c["encerramento"]["cancelamento"]["codigo"], "SLBD");
    assert_eq!(app.events(&m, "rec.cancelada").await.len(), 1);

    // Nothing more can be charged under it, and the receiver cannot cancel it again.
    let next = charge(&id_rec, first + Months::new(1) - Days::new(20), &conta);
    let (status, _, e) = call(app.request(Method::POST, "/v2/cobr", &m).json(&next)).await;
    assert_eq!(status, 400, "{e}");
    assert_eq!(e["type"], "https://pix.bcb.gov.br/api/v2/error/CobROperacaoInvalida");
    let (status, _, e) =
        call(app.request(Method::PATCH, &format!("/v2/rec/{id_rec}"), &m).json(&json!({"status": "CANCELADA"}))).await;
    assert_eq!(status, 400, "{e}");
    assert_eq!(e["type"], "https://pix.bcb.gov.br/api/v2/error/RecOperacaoInvalida");
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn a_payer_who_rejects_the_request_leaves_the_recurrence_rejected(pool: PgPool) {
    let app = TestApp::spawn_with_rail_on_sandbox_clock(pool).await;
    let m = gym(&app).await;
    app.rail_control(json!({"recorrencias": "REJEITAR"})).await;
    let first = today(&app).await + Days::new(5);
    let (_, _, rec) = call(app.request(Method::POST, "/v2/rec", &m).json(&subscription(first))).await;
    let id_rec = rec["idRec"].as_str().unwrap();
    let expira = (app.state.clock.now() + chrono::Duration::days(3)).to_rfc3339();
    let body = json!({"idRec": id_rec, "calendario": {"dataExpiracaoSolicitacao": expira},
                      "destinatario": {"ispbParticipante": "SANDBOX0", "conta": "123456", "cpf": CPF}});
    let (status, _, solic) = call(app.request(Method::POST, "/v2/solicrec", &m).json(&body)).await;
    assert_eq!(status, 201, "{solic}");
    let rec = app.eventually(&m, &format!("/v2/rec/{id_rec}"), |r| r["status"] == "REJEITADA").await;
    assert_eq!(rec["encerramento"]["rejeicao"]["codigo"], "AP13");
    let path = format!("/v2/solicrec/{}", solic["idSolicRec"].as_str().unwrap());
    app.eventually(&m, &path, |s| s["status"] == "REJEITADA").await;
    // A rejected recurrence takes no new request.
    let (status, _, e) = call(app.request(Method::POST, "/v2/solicrec", &m).json(&body)).await;
    assert_eq!(status, 400, "{e}");
    assert_eq!(e["type"], "https://pix.bcb.gov.br/api/v2/error/SolicRecOperacaoInvalida");
}

#[sqlx::test(migrations = "./migrations")]
async fn bad_requests_get_the_specs_problem_types_and_change_nothing(pool: PgPool) {
    let app = TestApp::spawn_with_rail_on_sandbox_clock(pool).await;
    let m = gym(&app).await;
    let conta = account_number(&app, &m).await;
    let first = today(&app).await + Days::new(5);

    // A recurrence starting yesterday, ending before it starts.
    let mut body = subscription(today(&app).await - Days::new(1));
    body["calendario"]["dataFinal"] = json!((today(&app).await - Days::new(2)).to_string());
    let (status, ct, e) = call(app.request(Method::POST, "/v2/rec", &m).json(&body)).await;
    assert_eq!((status, ct.as_str()), (400, "application/problem+json"));
    let props: Vec<&str> =
        e["violacoes"].as_array().unwrap().iter().map(|v| v["propriedade"].as_str().unwrap()).collect();
    assert_eq!(props, ["rec.calendario.dataInicial", "rec.calendario.dataFinal"]);

    // Unknown ids are 404 with each resource's type.
    for (path, kind) in [
        ("/v2/rec/RR9999999920270101abcdefghijk", "RecNaoEncontrada"),
        ("/v2/solicrec/SC9999999920270101abcdefghijk", "SolicRecNaoEncontrada"),
        ("/v2/cobr/naoexistenenhumacobranca0001", "CobRNaoEncontrado"),
        ("/v2/locrec/999999", "PayloadLocationRecNaoEncontrado"),
        ("/v2/locrec/x", "PayloadLocationRecNaoEncontrado"),
    ] {
        let (status, _, e) = call(app.request(Method::GET, path, &m)).await;
        assert_eq!(status, 404, "{path}: {e}");
        assert_eq!(e["type"], format!("https://pix.bcb.gov.br/api/v2/error/{kind}"));
    }

    // A charge under a recurrence the payer has not approved yet.
    let (_, _, rec) = call(app.request(Method::POST, "/v2/rec", &m).json(&subscription(first))).await;
    let id_rec = rec["idRec"].as_str().unwrap();
    let (status, _, e) = call(
        app.request(Method::PUT, "/v2/cobr/academiaantesdaaprovacao00001", &m).json(&charge(id_rec, first, &conta)),
    )
    .await;
    assert_eq!(status, 400, "{e}");
    assert_eq!(e["violacoes"][0]["propriedade"], "cobr.idRec");

    // A request that expires in the past; one naming an unknown recurrence.
    let past = (app.state.clock.now() - chrono::Duration::hours(1)).to_rfc3339();
    let body = json!({"idRec": id_rec, "calendario": {"dataExpiracaoSolicitacao": past},
                      "destinatario": {"ispbParticipante": "SANDBOX0", "conta": "1", "cpf": CPF}});
    let (status, _, e) = call(app.request(Method::POST, "/v2/solicrec", &m).json(&body)).await;
    assert_eq!(status, 400, "{e}");
    assert_eq!(e["violacoes"][0]["propriedade"], "solicrec.calendario.dataExpiracaoSolicitacao");

    // The database keeps each status machine whatever the code does: no move without its
    // history entry, no rewritten history, no change of terms.
    for (bad, why) in [
        ("UPDATE recurrences SET status = 'APROVADA' WHERE id_rec = $1", "a status change is recorded in atualizacao"),
        ("UPDATE recurrences SET atualizacao = '[]' WHERE id_rec = $1", "history only grows at its end"),
        ("UPDATE recurrences SET contrato = 'outro' WHERE id_rec = $1", "keep their identity and terms"),
        (
            "UPDATE recurrences SET status = 'EXPIRADA', atualizacao = atualizacao || '[{\"status\":\"APROVADA\",\"data\":\"2027-01-01T00:00:00Z\"}]' WHERE id_rec = $1",
            "a status change is recorded in atualizacao",
        ),
    ] {
        let refused = sqlx::query(bad).bind(id_rec).execute(&app.pool).await;
        let message = refused.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains(why), "{bad}: {message}");
    }

    // A receiver may cancel a recurrence nobody answered yet: CRIADA -> CANCELADA.
    let (status, _, rec) =
        call(app.request(Method::PATCH, &format!("/v2/rec/{id_rec}"), &m).json(&json!({"status": "CANCELADA"}))).await;
    assert_eq!(status, 200, "{rec}");
    assert_eq!(rec["encerramento"]["cancelamento"]["solicitante"], "USUARIO_RECEBEDOR");
    assert_eq!(app.count("solicrecs").await, 0);
    assert_eq!(app.count("recurring_charges").await, 0);
}

/// The payload a payer's bank reads at a location (status, and the JWS payload or problem).
async fn read_location(app: &TestApp, location: &str) -> (u16, Value) {
    app.read_location(location, "").await
}

/// A recurrence at a new location of its own, optionally activated by paying `txid`.
async fn recurrence_at_location(app: &TestApp, m: &TestMerchant, txid: Option<&str>) -> (String, Value) {
    let res = app.request(Method::POST, "/v2/locrec", m).send().await.unwrap();
    let at = res.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let (status, _, loc) = read(res).await;
    assert_eq!(status, 201, "{loc}");
    assert_eq!(at, format!("/v2/locrec/{}", loc["id"]));
    assert!(loc.get("idRec").is_none());
    let mut body = subscription(today(app).await + Days::new(5));
    body["loc"] = loc["id"].clone();
    if let Some(t) = txid {
        body["ativacao"] = json!({"dadosJornada": {"txid": t}});
    }
    let (status, _, rec) = call(app.request(Method::POST, "/v2/rec", m).json(&body)).await;
    assert_eq!(status, 201, "{rec}");
    assert_eq!(rec["loc"]["id"], loc["id"]);
    (rec["idRec"].as_str().unwrap().to_owned(), loc)
}

#[sqlx::test(migrations = "./migrations")]
async fn journey_2_the_payer_scans_a_recurrence_qr_code_and_authorises_it(pool: PgPool) {
    let app = TestApp::spawn_with_rail_on_sandbox_clock(pool).await;
    let m = gym(&app).await;
    let (id_rec, loc) = recurrence_at_location(&app, &m, None).await;
    let location = loc["location"].as_str().unwrap();
    let (status, _, got) = call(app.request(Method::GET, &format!("/v2/locrec/{}", loc["id"]), &m)).await;
    assert_eq!((status, got["idRec"].as_str()), (200, Some(id_rec.as_str())));

    // The location serves the signed recurrence, with the receiver a payer's bank shows.
    let (status, payload) = read_location(&app, location).await;
    assert_eq!(status, 200, "{payload}");
    assert_eq!(payload["idRec"], id_rec.as_str());
    assert_eq!(
        payload["recebedor"],
        json!({"cnpj": "11222333000181", "nome": "Academia Forte", "ispbParticipante": "99999999"})
    );
    assert_eq!(payload["valor"]["valorRec"], "50.00");

    // The QR code: the recurrence alone, decoded back by the BR Code reader.
    let (_, _, rec) = call(app.request(Method::GET, &format!("/v2/rec/{id_rec}"), &m)).await;
    assert_eq!(rec["dadosQR"]["jornada"], "JORNADA_2");
    let code = rec["dadosQR"]["pixCopiaECola"].as_str().unwrap();
    let decoded = tucano_shared::domain::brcode::BrCode::decode(code).unwrap();
    assert_eq!(decoded.recurrence_urls, [location.to_owned()]);
    assert_eq!(decoded.account.url, None);

    let scanned = app.pay(json!({"pixCopiaECola": code})).await;
    assert_eq!(scanned["recorrencia"]["jornada"], "JORNADA_2", "{scanned}");
    assert_eq!(scanned["recorrencia"]["decisao"], "APROVADA");
    assert!(scanned.get("endToEndId").is_none(), "nothing is paid: {scanned}");
    let rec = app.eventually(&m, &format!("/v2/rec/{id_rec}"), |r| r["status"] == "APROVADA").await;
    assert_eq!(rec["ativacao"]["tipoJornada"], "JORNADA_2");

    // Its first charge is debited like any recurring charge.
    let conta = account_number(&app, &m).await;
    let due = today(&app).await + Days::new(5);
    let (status, _, c) = call(app.request(Method::POST, "/v2/cobr", &m).json(&charge(&id_rec, due, &conta))).await;
    assert_eq!(status, 201, "{c}");
    let txid = c["txid"].as_str().unwrap().to_owned();
    let c = app.eventually(&m, &format!("/v2/cobr/{txid}"), |c| c["status"] == "ATIVA").await;
    advance_to(&app, c["tentativas"][0]["dataLiquidacao"].as_str().unwrap().parse().unwrap()).await;
    let c = app.eventually(&m, &format!("/v2/cobr/{txid}"), |c| c["status"] == "CONCLUIDA").await;
    // Its Pix is refunded like any received Pix, and the charge shows the refund.
    let e2eid = c["pix"][0]["endToEndId"].as_str().unwrap().to_owned();
    let refund = json!({"valor": "10.00", "descricao": "Desconto"});
    let (status, _, d) =
        call(app.request(Method::PUT, &format!("/v2/pix/{e2eid}/devolucao/d1"), &m).json(&refund)).await;
    assert_eq!(status, 201, "{d}");
    let c = app
        .eventually(&m, &format!("/v2/cobr/{txid}"), |c| c["pix"][0]["devolucoes"][0]["status"] == "DEVOLVIDO")
        .await;
    assert_eq!(c["pix"][0]["devolucoes"][0]["valor"], "10.00");

    // Unlinked, the location serves nothing; a cancelled recurrence is refused by name.
    let (status, _, unlinked) = call(app.request(Method::DELETE, &format!("/v2/locrec/{}/idRec", loc["id"]), &m)).await;
    assert_eq!(status, 200, "{unlinked}");
    assert!(unlinked.get("idRec").is_none());
    let (status, nothing) = read_location(&app, location).await;
    assert_eq!((status, nothing["type"].as_str()), (404, Some(&*format!("{BACEN_ERROR}RecPayloadNaoEncontrado"))));
    let (status, _, e) = call(app.request(Method::GET, "/v2/locrec?inicio=x&fim=y", &m)).await;
    assert_eq!((status, e["type"].as_str()), (400, Some(&*format!("{BACEN_ERROR}PayloadLocationRecConsultaInvalida"))));
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn journeys_3_and_4_pay_a_charge_and_authorise_the_recurrence_with_one_qr_code(pool: PgPool) {
    let app = TestApp::spawn_with_rail_on_sandbox_clock(pool).await;
    let m = gym(&app).await;

    // Journey 3: the first month paid now (an immediate charge) activates the recurrence.
    let cob_txid = "academiaadesao2027abcdefghij";
    let (status, _, cob) =
        call(app.request(Method::PUT, &format!("/v2/cob/{cob_txid}"), &m).json(&charge_body(KEY, "50.00"))).await;
    assert_eq!(status, 201, "{cob}");
    let (id_rec, loc) = recurrence_at_location(&app, &m, Some(cob_txid)).await;
    let (_, _, rec) = call(app.request(Method::GET, &format!("/v2/rec/{id_rec}?txid={cob_txid}"), &m)).await;
    assert_eq!(rec["dadosQR"]["jornada"], "JORNADA_3", "{rec}");
    assert_eq!(rec["ativacao"]["dadosJornada"]["txid"], cob_txid);
    let code = rec["dadosQR"]["pixCopiaECola"].as_str().unwrap();
    let decoded = tucano_shared::domain::brcode::BrCode::decode(code).unwrap();
    assert_eq!(decoded.account.url.as_deref(), cob["loc"]["location"].as_str());
    assert_eq!(decoded.recurrence_urls, [loc["location"].as_str().unwrap().to_owned()]);
    let paid = app.pay(json!({"pixCopiaECola": code})).await;
    assert_eq!(paid["valor"], "50.00", "{paid}");
    assert_eq!(paid["recorrencia"]["jornada"], "JORNADA_3");
    app.eventually(&m, &format!("/v2/cob/{cob_txid}"), |c| c["status"] == "CONCLUIDA").await;
    let rec = app.eventually(&m, &format!("/v2/rec/{id_rec}"), |r| r["status"] == "APROVADA").await;
    assert_eq!(rec["ativacao"]["tipoJornada"], "JORNADA_3");
    // Another immediate charge is not the one that activates it.
    let other = "academiaoutracobranca2027abcd";
    let (status, _, _) =
        call(app.request(Method::PUT, &format!("/v2/cob/{other}"), &m).json(&charge_body(KEY, "50.00"))).await;
    assert_eq!(status, 201);
    let (status, _, e) = call(app.request(Method::GET, &format!("/v2/rec/{id_rec}?txid={other}"), &m)).await;
    assert_eq!(status, 400, "{e}");
    assert_eq!(e["type"], "https://pix.bcb.gov.br/api/v2/error/RecConsultaInvalida");
    assert_eq!(e["violacoes"][0]["razao"], "is not the immediate charge named in ativacao.dadosJornada.txid");

    // Journey 4: a charge with a due date offers the recurrence.
    let cobv_txid = "academiacobvadesao2027abcdef";
    let mut body = crate::cobv_api::tuition("50.00");
    body["chave"] = json!(KEY);
    body["calendario"]["dataDeVencimento"] = json!((today(&app).await + Days::new(10)).to_string());
    body["valor"] = json!({"original": "50.00"});
    let (status, _, cobv) = call(app.request(Method::PUT, &format!("/v2/cobv/{cobv_txid}"), &m).json(&body)).await;
    assert_eq!(status, 201, "{cobv}");
    let (id_rec, _) = recurrence_at_location(&app, &m, None).await;
    let (_, _, rec) = call(app.request(Method::GET, &format!("/v2/rec/{id_rec}?txid={cobv_txid}"), &m)).await;
    assert_eq!(rec["dadosQR"]["jornada"], "JORNADA_4", "{rec}");
    let paid = app.pay(json!({"pixCopiaECola": rec["dadosQR"]["pixCopiaECola"]})).await;
    assert_eq!(paid["valor"], "50.00", "{paid}");
    assert_eq!(paid["recorrencia"]["jornada"], "JORNADA_4");
    app.eventually(&m, &format!("/v2/cobv/{cobv_txid}"), |c| c["status"] == "CONCLUIDA").await;
    app.eventually(&m, &format!("/v2/rec/{id_rec}"), |r| r["ativacao"]["tipoJornada"] == "JORNADA_4").await;

    // A recurrence ended is refused at its location by name.
    let (status, _, _) =
        call(app.request(Method::PATCH, &format!("/v2/rec/{id_rec}"), &m).json(&json!({"status": "CANCELADA"}))).await;
    assert_eq!(status, 200);
    let (_, _, rec) = call(app.request(Method::GET, &format!("/v2/rec/{id_rec}"), &m)).await;
    let (status, problem) = read_location(&app, rec["loc"]["location"].as_str().unwrap()).await;
    assert_eq!(status, 400);
    assert_eq!(problem["type"], "https://pix.bcb.gov.br/api/v2/error/RecPayloadOperacaoInvalida");
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn a_recurrence_not_yet_authorised_may_change_its_first_day_location_and_debtor_name(pool: PgPool) {
    let app = TestApp::spawn_with_rail_on_sandbox_clock(pool).await;
    let m = gym(&app).await;
    let first = today(&app).await + Days::new(5);
    let (_, _, rec) = call(app.request(Method::POST, "/v2/rec", &m).json(&subscription(first))).await;
    let id_rec = rec["idRec"].as_str().unwrap().to_owned();
    let (_, _, loc) = call(app.request(Method::POST, "/v2/locrec", &m)).await;
    let later = first + Days::new(3);
    let change = json!({"calendario": {"dataInicial": later.to_string()}, "loc": loc["id"],
                        "vinculo": {"devedor": {"nome": "Maria S. Souza"}}});
    let (status, _, rec) = call(app.request(Method::PATCH, &format!("/v2/rec/{id_rec}"), &m).json(&change)).await;
    assert_eq!(status, 200, "{rec}");
    assert_eq!(rec["calendario"]["dataInicial"], later.to_string());
    assert_eq!(rec["vinculo"]["devedor"]["nome"], "Maria S. Souza");
    assert_eq!(rec["loc"]["id"], loc["id"]);
    assert_eq!(rec["status"], "CRIADA", "a change is not a status move");

    // Not before its creation; not cancelled and changed at once; a location serving
    // another recurrence is refused.
    let past = json!({"calendario": {"dataInicial": (today(&app).await - Days::new(1)).to_string()}});
    let (status, _, e) = call(app.request(Method::PATCH, &format!("/v2/rec/{id_rec}"), &m).json(&past)).await;
    assert_eq!((status, e["violacoes"][0]["propriedade"].as_str()), (400, Some("rec.calendario.dataInicial")), "{e}");
    let both = json!({"status": "CANCELADA", "vinculo": {"devedor": {"nome": "X"}}});
    let (status, _, e) = call(app.request(Method::PATCH, &format!("/v2/rec/{id_rec}"), &m).json(&both)).await;
    assert_eq!(status, 400, "{e}");
    let (_, _, other) = call(app.request(Method::POST, "/v2/rec", &m).json(&subscription(first))).await;
    let taken = json!({"loc": loc["id"]});
    let path = format!("/v2/rec/{}", other["idRec"].as_str().unwrap());
    let (status, _, e) = call(app.request(Method::PATCH, &path, &m).json(&taken)).await;
    assert_eq!((status, e["violacoes"][0]["propriedade"].as_str()), (400, Some("rec.loc")), "{e}");

    // Once authorised, its first day and location are fixed; its debtor's name is not.
    let scanned = app.pay(json!({"pixCopiaECola": call(app.request(Method::GET, &format!("/v2/rec/{id_rec}"), &m)).await.2["dadosQR"]["pixCopiaECola"]})).await;
    assert_eq!(scanned["recorrencia"]["decisao"], "APROVADA", "{scanned}");
    app.eventually(&m, &format!("/v2/rec/{id_rec}"), |r| r["status"] == "APROVADA").await;
    let (status, _, e) = call(
        app.request(Method::PATCH, &format!("/v2/rec/{id_rec}"), &m)
            .json(&json!({"calendario": {"dataInicial": later.to_string()}})),
    )
    .await;
    assert_eq!(status, 400, "{e}");
    let rename = json!({"vinculo": {"devedor": {"nome": "Maria Silva Souza"}}});
    let (status, _, rec) = call(app.request(Method::PATCH, &format!("/v2/rec/{id_rec}"), &m).json(&rename)).await;
    assert_eq!((status, rec["vinculo"]["devedor"]["nome"].as_str()), (200, Some("Maria Silva Souza")), "{rec}");
}

#[sqlx::test(migrations = "./migrations")]
async fn a_request_the_receiver_withdraws_can_no_longer_be_answered_by_the_payer(pool: PgPool) {
    let app = TestApp::spawn_with_rail_on_sandbox_clock(pool).await;
    let m = gym(&app).await;
    app.rail_control(json!({"recorrencias": "MANUAL"})).await;
    let first = today(&app).await + Days::new(5);
    let expira = (app.state.clock.now() + chrono::Duration::days(3)).to_rfc3339();
    let mut ids = vec![];
    for _ in 0..2 {
        let (_, _, rec) = call(app.request(Method::POST, "/v2/rec", &m).json(&subscription(first))).await;
        let id_rec = rec["idRec"].as_str().unwrap().to_owned();
        let body = json!({"idRec": id_rec, "calendario": {"dataExpiracaoSolicitacao": expira},
                          "destinatario": {"ispbParticipante": "SANDBOX0", "conta": "123456", "cpf": CPF}});
        let (status, _, solic) = call(app.request(Method::POST, "/v2/solicrec", &m).json(&body)).await;
        assert_eq!(status, 201, "{solic}");
        let id_solic = solic["idSolicRec"].as_str().unwrap().to_owned();
        app.eventually(&m, &format!("/v2/solicrec/{id_solic}"), |s| s["status"] == "RECEBIDA").await;
        ids.push((id_rec, id_solic));
    }

    // The request is withdrawn at the payer's bank before here: the payer cannot accept it.
    let (rec_a, solic_a) = &ids[0];
    let (status, _, s) =
        call(app.request(Method::PATCH, &format!("/v2/solicrec/{solic_a}"), &m).json(&json!({"status": "CANCELADA"})))
            .await;
    assert_eq!((status, s["status"].as_str()), (201, Some("CANCELADA")), "{s}");
    let (status, _) = app.rail_call(Method::POST, &format!("/pagador/solicitacoes/{solic_a}/aprovar"), None).await;
    assert_eq!(status, 409);
    // And an approval of it that crossed the withdrawal is no authorisation here.
    let crossed = json!({"tipo": "REC_APROVADA", "id": "crossed-1", "aprovacao": {
        "idRec": rec_a, "idSolicRec": solic_a, "tipoJornada": "JORNADA_1",
        "pagador": {"ispbParticipante": "SANDBOX0", "cpf": CPF}, "horario": app.state.clock.now().to_rfc3339()}});
    assert_eq!(app.notify(&crossed).await.0, 200);
    let (_, _, rec) = call(app.request(Method::GET, &format!("/v2/rec/{rec_a}"), &m)).await;
    assert_eq!(rec["status"], "CRIADA");

    // Cancelling a recurrence withdraws its open request there too.
    let (rec_b, solic_b) = &ids[1];
    let (status, _, rec) =
        call(app.request(Method::PATCH, &format!("/v2/rec/{rec_b}"), &m).json(&json!({"status": "CANCELADA"}))).await;
    assert_eq!((status, rec["status"].as_str()), (200, Some("CANCELADA")), "{rec}");
    let (_, payer) = app.rail_call(Method::GET, "/pagador", None).await;
    let at_bank =
        payer["solicitacoes"].as_array().unwrap().iter().find(|s| s["idSolicRec"] == solic_b.as_str()).unwrap().clone();
    assert_eq!(at_bank["status"], "CANCELADA", "{at_bank}");
    let (_, _, s) = call(app.request(Method::GET, &format!("/v2/solicrec/{solic_b}"), &m)).await;
    assert_eq!(s["status"], "CANCELADA");
}

#[sqlx::test(migrations = "./migrations")]
async fn a_cancellation_the_payers_bank_cannot_hear_changes_nothing(pool: PgPool) {
    let mut app = TestApp::spawn_with_rail_on_sandbox_clock(pool).await;
    let m = gym(&app).await;
    let conta = account_number(&app, &m).await;
    let first = today(&app).await + Days::new(5);
    let id_rec = approved_subscription(&app, &m, first).await;
    let txid = "academiasemresposta2027abcdef";
    let (status, _, _) =
        call(app.request(Method::PUT, &format!("/v2/cobr/{txid}"), &m).json(&charge(&id_rec, first, &conta))).await;
    assert_eq!(status, 201);
    app.eventually(&m, &format!("/v2/cobr/{txid}"), |c| c["status"] == "ATIVA").await;

    // The payer's bank is down: a cancellation answers 503 and changes nothing here.
    app.stop_rail().await;
    let cancel = json!({"status": "CANCELADA"});
    let (status, _, e) = call(app.request(Method::PATCH, &format!("/v2/cobr/{txid}"), &m).json(&cancel)).await;
    assert_eq!(status, 503, "{e}");
    let (status, _, e) = call(app.request(Method::PATCH, &format!("/v2/rec/{id_rec}"), &m).json(&cancel)).await;
    assert_eq!(status, 503, "{e}");
    let (_, _, c) = call(app.request(Method::GET, &format!("/v2/cobr/{txid}"), &m)).await;
    assert_eq!((c["status"].as_str(), c["tentativas"][0]["status"].as_str()), (Some("ATIVA"), Some("AGENDADA")));
    let (_, _, rec) = call(app.request(Method::GET, &format!("/v2/rec/{id_rec}"), &m)).await;
    assert_eq!(rec["status"], "APROVADA");
}
