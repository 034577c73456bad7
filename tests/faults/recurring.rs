//! Pix Automático under a misbehaving rail: a recurring charge's debit whose notification
//! is lost is learnt from the payer's bank and its Pix booked from the rail's statement; a debit announced three times is credited once; a failed debit whose notice is
//! lost is learnt from the payer's bank, and its retry is paid.

use crate::common::*;
use chrono::Days;
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::PgPool;

const GYM_KEY: &str = "academia@example.com";

async fn simulated_today(app: &TestApp) -> chrono::NaiveDate {
    let (_, clock) = app.rail_call(Method::GET, "/relogio", None).await;
    clock["hoje"].as_str().unwrap().parse().unwrap()
}

/// A monthly recurrence of 50.00 the sandbox payer authorised (journey 1), the merchant's
/// account number and the recurrence's first day.
async fn subscription(app: &TestApp, m: &TestMerchant) -> (String, String, chrono::NaiveDate) {
    let first = simulated_today(app).await + Days::new(5);
    let body = json!({
        "vinculo": {"contrato": "CT-1", "devedor": {"cpf": "12345678909", "nome": "Maria Souza"}},
        "calendario": {"dataInicial": first.to_string(), "periodicidade": "MENSAL"},
        "valor": {"valorRec": "50.00"}, "politicaRetentativa": "PERMITE_3R_7D"});
    let (status, _, rec) = call(app.request(Method::POST, "/v2/rec", m).json(&body)).await;
    assert_eq!(status, 201, "{rec}");
    let id_rec = rec["idRec"].as_str().unwrap().to_owned();
    let expira = (app.state.clock.now() + chrono::Duration::days(2)).to_rfc3339();
    let body = json!({"idRec": id_rec, "calendario": {"dataExpiracaoSolicitacao": expira},
                      "destinatario": {"ispbParticipante": "SANDBOX0", "conta": "1", "cpf": "12345678909"}});
    let (status, _, s) = call(app.request(Method::POST, "/v2/solicrec", m).json(&body)).await;
    assert_eq!(status, 201, "{s}");
    app.eventually(m, &format!("/v2/rec/{id_rec}"), |r| r["status"] == "APROVADA").await;
    let conta: i64 = sqlx::query_scalar("SELECT account_number FROM merchants WHERE id = $1")
        .bind(m.id.0)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    (id_rec, conta.to_string(), first)
}

/// The gym, registered as a receiver, with its authorised subscription (as above).
async fn gym_subscription(app: &TestApp) -> (TestMerchant, String, String, chrono::NaiveDate) {
    let m = app.merchant("Academia", GYM_KEY).await;
    let receiver =
        tucano_shared::domain::merchant::Recebedor::parse("11222333000181", None, "Rua A, 1", "PE", "50000000")
            .unwrap();
    assert!(app.state.merchants.set_receiver(m.id, &receiver).await.unwrap());
    let (id_rec, conta, first) = subscription(app, &m).await;
    (m, id_rec, conta, first)
}

/// A charge due in five days, scheduled at the payer's bank; its settlement day.
async fn scheduled_charge(app: &TestApp, m: &TestMerchant, id_rec: &str, conta: &str, txid: &str) -> chrono::NaiveDate {
    let due = simulated_today(app).await + Days::new(5);
    let body = json!({"idRec": id_rec, "calendario": {"dataDeVencimento": due.to_string()},
                      "valor": {"original": "50.00"}, "recebedor": {"conta": conta, "tipoConta": "PAGAMENTO"}});
    let (status, _, c) = call(app.request(Method::PUT, &format!("/v2/cobr/{txid}"), m).json(&body)).await;
    assert_eq!(status, 201, "{c}");
    let c = app.eventually(m, &format!("/v2/cobr/{txid}"), |c| c["status"] == "ATIVA").await;
    c["tentativas"][0]["dataLiquidacao"].as_str().unwrap().parse().unwrap()
}

async fn advance_to(app: &TestApp, day: chrono::NaiveDate) -> Value {
    let days = (day - simulated_today(app).await).num_days();
    let (status, body) = app.rail_call(Method::POST, "/relogio/avancar", Some(json!({"dias": days}))).await;
    assert_eq!(status, 200, "{body}");
    body
}

#[sqlx::test(migrations = "./migrations")]
async fn a_recurring_debit_lost_repeated_or_failed_in_silence_is_settled_exactly_once(pool: PgPool) {
    let app = TestApp::spawn_with_rail_on_sandbox_clock(pool).await;
    let (m, id_rec, conta, first) = gym_subscription(&app).await;

    // The debit's notification never arrives: the charge waits (its outcome is unknown,
    // not guessed), even two weeks on (past the reconciler's one-day look at the rail's
    // statement), until the sweep asks the payer's bank, learns it was debited, and books
    // its Pix from the statement.
    let lost = "academiaperdida2027abcdefghij";
    let settles = scheduled_charge(&app, &m, &id_rec, &conta, lost).await;
    app.rail_faults(json!({"notificacoes": {"descartar": 1.0}})).await;
    let advanced = advance_to(&app, settles).await;
    assert_eq!(advanced["debitos"][0]["entrega"], 0, "{advanced}");
    let (_, _, c) = call(app.request(Method::GET, &format!("/v2/cobr/{lost}"), &m)).await;
    assert_eq!((c["status"].as_str(), c["tentativas"][0]["status"].as_str()), (Some("ATIVA"), Some("AGENDADA")));
    advance_to(&app, settles + Days::new(15)).await;
    let report = tucano_shared::app::reconcile::run(&app.state, chrono::Duration::zero()).await.unwrap();
    assert_eq!(report.received_recovered, 0, "out of the reconciler's look-back: {report:?}");
    let (_, _, c) = call(app.request(Method::GET, &format!("/v2/cobr/{lost}"), &m)).await;
    assert_eq!(c["status"], "ATIVA", "a scheduled attempt's charge never expires: {c}");
    tucano_shared::app::recurrences::sweep(&app.state).await.unwrap();
    let c = app.eventually(&m, &format!("/v2/cobr/{lost}"), |c| c["status"] == "CONCLUIDA").await;
    assert_eq!(c["tentativas"][0]["status"], "PAGA");
    assert_eq!(c["pix"][0]["valor"], "50.00");

    // Announced three times (twice under the same id, once under another): one credit.
    let repeated = "academiarepetida2027abcdefghi";
    app.rail_faults(json!({})).await;
    advance_to(&app, first + chrono::Months::new(1) - Days::new(5)).await;
    let settles = scheduled_charge(&app, &m, &id_rec, &conta, repeated).await;
    app.rail_faults(json!({"notificacoes": {"duplicar": 1.0}})).await;
    advance_to(&app, settles).await;
    app.eventually(&m, &format!("/v2/cobr/{repeated}"), |c| c["status"] == "CONCLUIDA").await;
    assert_eq!(app.count("received_pix").await, 2);
    assert_eq!(app.saldo(&m).await.0, "100.00");

    // A failed debit whose notice is lost: past its day the sweep asks the payer's bank,
    // records the failure (the charge stays ATIVA), and a retry is paid.
    let failed = "academiafalhou2027abcdefghijk";
    app.rail_faults(json!({})).await;
    advance_to(&app, first + chrono::Months::new(2) - Days::new(5)).await;
    let settles = scheduled_charge(&app, &m, &id_rec, &conta, failed).await;
    app.rail_control(json!({"debitosSemSaldo": 1})).await;
    app.rail_faults(json!({"notificacoes": {"descartar": 1.0}})).await;
    advance_to(&app, settles + Days::new(1)).await;
    let (_, _, c) = call(app.request(Method::GET, &format!("/v2/cobr/{failed}"), &m)).await;
    assert_eq!(c["tentativas"][0]["status"], "AGENDADA", "its outcome has not arrived: {c}");
    tucano_shared::app::recurrences::sweep(&app.state).await.unwrap();
    let (_, _, c) = call(app.request(Method::GET, &format!("/v2/cobr/{failed}"), &m)).await;
    assert_eq!(
        (c["status"].as_str(), c["tentativas"][0]["status"].as_str()),
        (Some("ATIVA"), Some("REJEITADA")),
        "{c}"
    );
    assert_eq!(c["tentativas"][0]["rejeicao"]["codigo"], "AM02");
    app.rail_faults(json!({})).await;
    // Two days after the clock: a retry must be after today, and midnight may pass meanwhile.
    let retry_on = settles + Days::new(3);
    let (status, _, c) =
        call(app.request(Method::POST, &format!("/v2/cobr/{failed}/retentativa/{retry_on}"), &m)).await;
    assert_eq!(status, 201, "{c}");
    app.eventually(&m, &format!("/v2/cobr/{failed}"), |c| c["tentativas"][1]["status"] == "AGENDADA").await;
    advance_to(&app, retry_on).await;
    app.eventually(&m, &format!("/v2/cobr/{failed}"), |c| c["status"] == "CONCLUIDA").await;
    assert_eq!(app.saldo(&m).await.0, "150.00");
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn a_payer_cancelling_after_a_debit_whose_notice_is_in_flight_leaves_that_charge_to_be_paid(pool: PgPool) {
    let app = TestApp::spawn_with_rail_on_sandbox_clock(pool).await;
    let (m, id_rec, conta, _) = gym_subscription(&app).await;
    let txid = "academiadebitada2027abcdefghi";
    let settles = scheduled_charge(&app, &m, &id_rec, &conta, txid).await;
    // Debited at the payer's bank, its notice not (yet) here; then the payer cancels.
    app.rail_faults(json!({"notificacoes": {"descartar": 1.0}})).await;
    advance_to(&app, settles).await;
    let (status, body) =
        app.rail_call(Method::POST, &format!("/pagador/recorrencias/{id_rec}/cancelamento"), None).await;
    assert_eq!(status, 200, "{body}");
    app.eventually(&m, &format!("/v2/rec/{id_rec}"), |r| r["status"] == "CANCELADA").await;
    let (_, _, c) = call(app.request(Method::GET, &format!("/v2/cobr/{txid}"), &m)).await;
    assert_eq!(c["status"], "ATIVA", "the debited charge is not cancelled: {c}");
    // The Pix, found in the rail's statement, pays it.
    let report = tucano_shared::app::reconcile::run(&app.state, chrono::Duration::zero()).await.unwrap();
    assert_eq!(report.received_recovered, 1, "{report:?}");
    app.eventually(&m, &format!("/v2/cobr/{txid}"), |c| c["status"] == "CONCLUIDA").await;
    assert_eq!(app.saldo(&m).await.0, "50.00");
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn a_debit_whose_pix_did_not_conclude_its_charge_leaves_the_attempt_paid_not_asked_about_forever(pool: PgPool) {
    let app = TestApp::spawn_with_rail_on_sandbox_clock(pool).await;
    let (m, id_rec, conta, _) = gym_subscription(&app).await;
    let txid = "academiadivergente2027abcdef";
    let settles = scheduled_charge(&app, &m, &id_rec, &conta, txid).await;
    // Debited at the payer's bank (50.00, its own notice lost); a notification of the same
    // debit with another amount arrives: credited, flagged, the charge still open.
    app.rail_faults(json!({"notificacoes": {"descartar": 1.0}})).await;
    advance_to(&app, settles).await;
    let (_, _, c) = call(app.request(Method::GET, &format!("/v2/cobr/{txid}"), &m)).await;
    let e2eid = c["tentativas"][0]["endToEndId"].as_str().unwrap().to_owned();
    let odd = json!({"tipo": "PIX_RECEBIDO", "id": "debito-divergente", "pix": {"endToEndId": e2eid,
        "txid": txid, "valor": "49.00", "chave": GYM_KEY, "horario": chrono::Utc::now().to_rfc3339()}});
    let (status, _, body) = app.notify(&odd).await;
    assert_eq!(status, 200, "{body}");
    let (_, _, c) = call(app.request(Method::GET, &format!("/v2/cobr/{txid}"), &m)).await;
    assert_eq!((c["status"].as_str(), c["tentativas"][0]["status"].as_str()), (Some("ATIVA"), Some("AGENDADA")));

    // Past its day the sweep asks the payer's bank: debited. Its Pix is here already, so
    // the attempt is paid (the charge stays as the flagged Pix left it), and the next
    // pass has nothing to ask.
    advance_to(&app, settles + Days::new(1)).await;
    let moved = tucano_shared::app::recurrences::sweep(&app.state).await.unwrap();
    assert_eq!(moved, 1);
    let (_, _, c) = call(app.request(Method::GET, &format!("/v2/cobr/{txid}"), &m)).await;
    assert_eq!((c["status"].as_str(), c["tentativas"][0]["status"].as_str()), (Some("ATIVA"), Some("PAGA")), "{c}");
    assert_eq!(tucano_shared::app::recurrences::sweep(&app.state).await.unwrap(), 0);
    let (status, _, p) =
        call(app.request(Method::POST, &format!("/v2/cobr/{txid}/retentativa/{}", settles + Days::new(2)), &m)).await;
    assert_eq!(status, 400, "a paid charge is not debited again: {p}");
    app.assert_ledger_ok().await;
}

/// Row-level security on `recurrences` whose read policy fails for one contract: the
/// database refusing a read right after a write, as a failover or a dropped connection
/// would.
async fn fail_reading_contract(app: &TestApp, contrato: &str) {
    for statement in [
        format!(
            "CREATE FUNCTION injected_read_fault(c text) RETURNS boolean LANGUAGE plpgsql AS $$
             BEGIN IF c = '{contrato}' THEN RAISE EXCEPTION 'injected read fault'; END IF; RETURN true; END $$"
        ),
        "ALTER TABLE recurrences ENABLE ROW LEVEL SECURITY".into(),
        "CREATE POLICY writes ON recurrences FOR INSERT WITH CHECK (true)".into(),
        "CREATE POLICY changes ON recurrences FOR UPDATE USING (true)".into(),
        "CREATE POLICY reads ON recurrences FOR SELECT USING (injected_read_fault(contrato))".into(),
    ] {
        sqlx::query(&statement).execute(&app.pool).await.unwrap();
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn a_recurrence_created_whose_read_back_fails_is_answered_once_and_not_created_again(pool: PgPool) {
    let app = TestApp::spawn_with_rail_on_sandbox_clock(pool).await;
    let m = app.merchant("Academia", GYM_KEY).await;
    let receiver =
        tucano_shared::domain::merchant::Recebedor::parse("11222333000181", None, "Rua A, 1", "PE", "50000000")
            .unwrap();
    assert!(app.state.merchants.set_receiver(m.id, &receiver).await.unwrap());
    fail_reading_contract(&app, "CT-FALHA").await;
    let first = simulated_today(&app).await + Days::new(5);
    let body = json!({
        "vinculo": {"contrato": "CT-FALHA", "devedor": {"cpf": "12345678909", "nome": "Maria Souza"}},
        "calendario": {"dataInicial": first.to_string(), "periodicidade": "MENSAL"},
        "valor": {"valorRec": "50.00"}, "politicaRetentativa": "NAO_PERMITE"});
    let post = || app.request(Method::POST, "/v2/rec", &m).header("idempotency-key", "rec-1").json(&body);
    let (status, _, rec) = call(post()).await;
    assert_eq!(status, 201, "written, so answered as written: {rec}");
    assert_eq!((rec["status"].as_str(), rec["vinculo"]["contrato"].as_str()), (Some("CRIADA"), Some("CT-FALHA")));
    // The client's retry replays that answer; it does not create a second recurrence.
    let (status, _, again) = call(post()).await;
    assert_eq!((status, &again["idRec"]), (201, &rec["idRec"]), "{again}");
    assert_eq!(app.count("recurrences").await, 1);
}

#[sqlx::test(migrations = "./migrations")]
async fn an_attempt_given_up_here_that_the_payers_bank_schedules_after_all_is_withdrawn_there(pool: PgPool) {
    let app = TestApp::spawn_with_rail_on_sandbox_clock(pool).await;
    let (m, id_rec, conta, _) = gym_subscription(&app).await;
    let txid = "academiaexpirada2027abcdefgh";
    scheduled_charge(&app, &m, &id_rec, &conta, txid).await;
    // Here it was given up as never received (the payer's bank had no trace of it on its
    // day), while a resend was on its way; the bank then schedules it after all.
    let e2eid: String = sqlx::query_scalar(
        "UPDATE recurring_charge_attempts SET status = 'EXPIRADA',
                atualizacao = atualizacao || jsonb_build_object('status', 'EXPIRADA', 'data', now())
          WHERE status = 'AGENDADA' RETURNING end_to_end_id",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let (_, at_bank) = app.rail_call(Method::GET, &format!("/cobrancas-recorrentes/{e2eid}"), None).await;
    assert_eq!(at_bank["status"], "AGENDADA", "{at_bank}");
    let id = tucano_shared::domain::ids::EndToEndId::parse(&e2eid).unwrap();
    let scheduled = tucano_shared::ports::AttemptOutcome::Scheduled;
    assert!(tucano_shared::app::recurrences::on_attempt(&app.state, &id, scheduled).await.unwrap());
    // Withdrawn at the payer's bank: the payer is not debited for a charge shown unpaid here.
    let (_, at_bank) = app.rail_call(Method::GET, &format!("/cobrancas-recorrentes/{e2eid}"), None).await;
    assert_eq!(at_bank["status"], "CANCELADA", "{at_bank}");
    let (_, _, c) = call(app.request(Method::GET, &format!("/v2/cobr/{txid}"), &m)).await;
    assert_eq!(c["tentativas"][0]["status"], "EXPIRADA", "{c}");
}
