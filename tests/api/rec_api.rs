//! End-to-end: Pix Automático over real HTTP on a real Postgres, with the sandbox rail as
//! the payer's bank, both on the sandbox's simulated clock: a monthly subscription
//! authorised through a confirmation request (journey 1), a year of recurring charges paid
//! by debit, one that fails and is paid on retry, one the payer cancels; and the rules each
//! resource enforces.

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
    let m = app.merchant_with_fees("Academia Forte", KEY, fees(100, "0.10")).await;
    let receiver = tucano_shared::domain::merchant::Recebedor::parse(
        "11222333000181",
        None,
        "Rua das Flores, 10",
        "PE",
        "50000000",
    )
    .unwrap();
    assert!(app.state.merchants.set_receiver(m.id, &receiver).await.unwrap());
    m
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
    let steps: Vec<&str> = solic["atualizacao"].as_array().unwrap().iter().map(|u| u["status"].as_str().unwrap()).collect();
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
    let first = today(&app).await + Days::new(5);
    let id_rec = approved_subscription(&app, &m, first).await;

    let (mut paid, mut cancelled) = (0, 0);
    for month in 0..13u32 {
        let due = first + Months::new(month);
        if month > 0 {
            advance_to(&app, due - Days::new(5)).await;
        }
        let txid = format!("academia{month:02}mensalidade2027abcd");
        let (status, _, c) = call(app.request(Method::PUT, &format!("/v2/cobr/{txid}"), &m).json(&charge(&id_rec, due, &conta))).await;
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
                let retry_on = settles + Days::new(1);
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
    let (status, _, c) = call(app.request(Method::PUT, &format!("/v2/cobr/{txid}"), &m).json(&charge(&id_rec, first, &conta))).await;
    assert_eq!(status, 201, "{c}");
    app.eventually(&m, &format!("/v2/cobr/{txid}"), |c| c["status"] == "ATIVA").await;

    let (status, body) = app.rail_call(Method::POST, &format!("/pagador/recorrencias/{id_rec}/cancelamento"), None).await;
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
    let (status, _, e) = call(app.request(Method::PATCH, &format!("/v2/rec/{id_rec}"), &m).json(&json!({"status": "CANCELADA"}))).await;
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
    let props: Vec<&str> = e["violacoes"].as_array().unwrap().iter().map(|v| v["propriedade"].as_str().unwrap()).collect();
    assert_eq!(props, ["rec.calendario.dataInicial", "rec.calendario.dataFinal"]);

    // Unknown ids are 404 with each resource's type.
    for (path, kind) in [
        ("/v2/rec/RR9999999920270101abcdefghijk", "RecNaoEncontrada"),
        ("/v2/solicrec/SC9999999920270101abcdefghijk", "SolicRecNaoEncontrada"),
        ("/v2/cobr/naoexistenenhumacobranca0001", "CobRNaoEncontrado"),
    ] {
        let (status, _, e) = call(app.request(Method::GET, path, &m)).await;
        assert_eq!(status, 404, "{path}: {e}");
        assert_eq!(e["type"], format!("https://pix.bcb.gov.br/api/v2/error/{kind}"));
    }

    // A charge under a recurrence the payer has not approved yet.
    let (_, _, rec) = call(app.request(Method::POST, "/v2/rec", &m).json(&subscription(first))).await;
    let id_rec = rec["idRec"].as_str().unwrap();
    let (status, _, e) = call(app.request(Method::PUT, "/v2/cobr/academiaantesdaaprovacao00001", &m).json(&charge(id_rec, first, &conta))).await;
    assert_eq!(status, 400, "{e}");
    assert_eq!(e["violacoes"][0]["propriedade"], "cobr.idRec");

    // A request that expires in the past; one naming an unknown recurrence.
    let past = (app.state.clock.now() - chrono::Duration::hours(1)).to_rfc3339();
    let body = json!({"idRec": id_rec, "calendario": {"dataExpiracaoSolicitacao": past},
                      "destinatario": {"ispbParticipante": "SANDBOX0", "conta": "1", "cpf": CPF}});
    let (status, _, e) = call(app.request(Method::POST, "/v2/solicrec", &m).json(&body)).await;
    assert_eq!(status, 400, "{e}");
    assert_eq!(e["violacoes"][0]["propriedade"], "solicrec.calendario.dataExpiracaoSolicitacao");

    // A receiver may cancel a recurrence nobody answered yet: CRIADA -> CANCELADA.
    let (status, _, rec) = call(app.request(Method::PATCH, &format!("/v2/rec/{id_rec}"), &m).json(&json!({"status": "CANCELADA"}))).await;
    assert_eq!(status, 200, "{rec}");
    assert_eq!(rec["encerramento"]["cancelamento"]["solicitante"], "USUARIO_RECEBEDOR");
    assert_eq!(app.count("solicrecs").await, 0);
    assert_eq!(app.count("recurring_charges").await, 0);
}
