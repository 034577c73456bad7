//! A verdict that contradicts the books is never swallowed: it is booked as what really
//! happened, flagged on the resource, recorded for operations, announced as an event, and
//! the rail is told so. The ledger check sees every outgoing movement.

use crate::common::*;
use crate::{envio_returned, envio_verdict, fund, movements, send, KEY};
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::PgPool;
use tucano_shared::domain::money::Amount;

/// The API with a rail that decides orders but never notifies: the test plays the rail.
async fn quiet_rail(pool: PgPool) -> (TestApp, TestMerchant) {
    let app = TestApp::spawn_with_rail(pool).await;
    let m = app.merchant("Loja", KEY).await;
    app.rail_control(json!({"notificar": false})).await;
    (app, m)
}

async fn contradictions(app: &TestApp) -> Vec<(String, String)> {
    sqlx::query_as("SELECT kind, subject FROM rail_contradictions ORDER BY id").fetch_all(&app.pool).await.unwrap()
}

/// A refund of `centavos` of the Pix `e2eid(n)` written as the application role past the
/// API (its merchant's, or `merchant`'s), for the database's own guards to judge.
async fn refund_written_directly(
    app: &TestApp,
    n: u32,
    merchant: Option<uuid::Uuid>,
    refund_id: &str,
    centavos: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO refunds (received_pix_id, merchant_id, refund_id, rtr_id, valor, natureza, request_hash, requested_at)
         SELECT id, coalesce($2, merchant_id), $3, 'D' || substr(md5($1 || $3), 1, 31), $4, 'ORIGINAL', '\\x00', now()
           FROM received_pix WHERE end_to_end_id = $1",
    )
    .bind(crate::e2eid(n))
    .bind(merchant)
    .bind(refund_id)
    .bind(centavos)
    .execute(&as_application(&app.pool).await)
    .await
    .map(|_| ())
}

fn e2e(envio: &Value) -> String {
    envio["endToEndId"].as_str().unwrap().to_owned()
}

/// Waits until the rail has decided the order at `path` (`/envios/{e2eid}`,
/// `/devolucoes/{rtrId}`): a notification that reverses the books is booked only when the
/// rail's status says the same.
async fn rail_decided(app: &TestApp, path: &str) -> String {
    for _ in 0..1000 {
        let (status, order) = app.rail_call(Method::GET, path, None).await;
        assert_eq!(status, 200, "{order}");
        if order["status"] != "EM_PROCESSAMENTO" {
            return order["status"].as_str().unwrap().to_owned();
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the rail never decided {path}");
}

#[sqlx::test(migrations = "./migrations")]
async fn a_settlement_after_a_rejection_takes_the_money_from_the_merchant_and_is_flagged(pool: PgPool) {
    let (app, m) = quiet_rail(pool).await;
    fund(&app, 10, "50.00").await;
    let envio = send(&app, &m, "tarde1", "20.00").await;
    let (status, _, body) =
        app.notify(&envio_verdict("PIX_ENVIADO_REJEITADO", "v1", &e2e(&envio), "20.00", Some("AC07"))).await;
    assert_eq!((status, body["resultado"].as_str()), (200, Some("APLICADA")));
    assert_eq!(app.saldo(&m).await, ("50.00".into(), "0.00".into()));

    // The rail then says the money did leave (and its status says so too).
    assert_eq!(rail_decided(&app, &format!("/envios/{}", e2e(&envio))).await, "LIQUIDADO");
    let (status, _, body) =
        app.notify(&envio_verdict("PIX_ENVIADO_LIQUIDADO", "v2", &e2e(&envio), "20.00", None)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["resultado"], "CONTRADICAO_REGISTRADA");
    assert_eq!(body["alerta"], "LIQUIDADO_APOS_REJEICAO");
    let (_, _, now) = call(app.request(Method::GET, "/v2/envio/tarde1", &m)).await;
    assert_eq!((now["status"].as_str(), now["alerta"].as_str()), (Some("REALIZADO"), Some("LIQUIDADO_APOS_REJEICAO")));
    assert_eq!(app.saldo(&m).await, ("30.00".into(), "0.00".into()), "the money that left is debited");
    assert_eq!(contradictions(&app).await, vec![("LIQUIDADO_APOS_REJEICAO".into(), e2e(&envio))]);
    let events = app.events(&m, "contradicao.registrada").await;
    assert_eq!(events.len(), 1, "{events:?}");
    // The same verdict again agrees with the books now.
    let (_, _, again) = app.notify(&envio_verdict("PIX_ENVIADO_LIQUIDADO", "v3", &e2e(&envio), "20.00", None)).await;
    assert_eq!(again["resultado"], "DUPLICADA");
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn a_late_settlement_beyond_the_balance_leaves_the_rest_owed_to_operations(pool: PgPool) {
    late_settlement_beyond_the_balance(pool, "15.00", ("5.00", "15.00")).await;
}

#[sqlx::test(migrations = "./migrations")]
async fn a_late_settlement_with_nothing_available_is_owed_whole(pool: PgPool) {
    // Its entry then moves no account of the merchant's: only the rail and the receivable.
    late_settlement_beyond_the_balance(pool, "20.00", ("0.00", "20.00")).await;
}

/// A transfer of 20.00 is rejected, the merchant spends `spent` of the released money,
/// then the rail settles the first after all: (what was available before, what is owed).
async fn late_settlement_beyond_the_balance(pool: PgPool, spent: &str, (left, owed): (&str, &str)) {
    let (app, m) = owing(pool, spent).await;
    assert_eq!(app.saldo(&m).await, ("0.00".into(), "0.00".into()), "never below zero");
    let owed_centavos = Amount::parse(owed).unwrap().centavos();
    assert_eq!(app.platform_balance("operations_receivable").await, -owed_centavos, "owed by the merchant");
    assert_eq!(left, Amount::from_centavos(2000 - Amount::parse(spent).unwrap().centavos()).unwrap().to_string());
    // Operations see who owes it.
    assert_eq!(ledger_owed(&app), format!("{} owes {owed}\n", m.id.0));
    app.assert_ledger_ok().await;
}

/// A merchant left owing what it `spent` of a rejected transfer's 20.00 that then settled.
async fn owing(pool: PgPool, spent: &str) -> (TestApp, TestMerchant) {
    let (app, m) = quiet_rail(pool).await;
    fund(&app, 11, "20.00").await;
    let first = send(&app, &m, "primeiro", "20.00").await;
    app.notify(&envio_verdict("PIX_ENVIADO_REJEITADO", "r1", &e2e(&first), "20.00", Some("AC06"))).await;
    // The merchant spends the released money on another transfer.
    let second = send(&app, &m, "segundo", spent).await;
    app.notify(&envio_verdict("PIX_ENVIADO_LIQUIDADO", "s2", &e2e(&second), spent, None)).await;
    let left = Amount::from_centavos(2000 - Amount::parse(spent).unwrap().centavos()).unwrap().to_string();
    assert_eq!(app.saldo(&m).await, (left, "0.00".into()));

    assert_eq!(rail_decided(&app, &format!("/envios/{}", e2e(&first))).await, "LIQUIDADO");
    let (_, _, body) = app.notify(&envio_verdict("PIX_ENVIADO_LIQUIDADO", "s1", &e2e(&first), "20.00", None)).await;
    assert_eq!(body["resultado"], "CONTRADICAO_REGISTRADA");
    (app, m)
}

/// `tucano ledger owed`, as operations run it.
fn ledger_owed(app: &TestApp) -> String {
    let listed = std::process::Command::new(env!("CARGO_BIN_EXE_tucano"))
        .args(["ledger", "owed"])
        .env("DATABASE_URL", database_url_of(&app.pool))
        .output()
        .unwrap();
    String::from_utf8_lossy(&listed.stdout).into_owned()
}

/// The merchant's `/extrato` lines of `tipo`, as (natureza, valor).
async fn lines_of(app: &TestApp, m: &TestMerchant, tipo: &str) -> Vec<(String, String)> {
    let (_, _, extrato) = call(app.request(Method::GET, "/v2/extrato", m)).await;
    extrato["lancamentos"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["tipo"] == tipo)
        .map(|l| (l["natureza"].as_str().unwrap().to_owned(), l["valor"].as_str().unwrap().to_owned()))
        .collect()
}

#[sqlx::test(migrations = "./migrations")]
async fn what_a_merchant_owes_is_repaid_before_any_money_leaves_it(pool: PgPool) {
    let (app, m) = owing(pool, "15.00").await;
    fund(&app, 21, "25.00").await;
    assert_eq!(app.saldo(&m).await, ("25.00".into(), "0.00".into()));

    // 20.00 of the 25.00 cannot leave: 15.00 of it is owed. The debt is repaid all the same.
    let body = json!({"valor": "20.00", "favorecido": {"chave": crate::SUPPLIER}});
    let (status, _, refused) = call(app.request(Method::PUT, "/v2/envio/terceiro", &m).json(&body)).await;
    assert_eq!(
        (status, refused["detail"].as_str()),
        (400, Some("Nothing was moved: the available balance does not cover the transfer."))
    );
    assert_eq!(app.saldo(&m).await, ("10.00".into(), "0.00".into()));
    assert_eq!(lines_of(&app, &m, "SALDO_DEVEDOR_PAGO").await, vec![("DEBITO".to_owned(), "15.00".to_owned())]);
    assert_eq!(ledger_owed(&app), "no merchant owes operations anything\n");

    // What is left is the merchant's to send.
    send(&app, &m, "quarto", "10.00").await;
    assert_eq!(app.saldo(&m).await, ("0.00".into(), "10.00".into()));
    assert_eq!(lines_of(&app, &m, "SALDO_DEVEDOR_PAGO").await.len(), 1, "repaid once");
    assert_eq!(app.platform_balance("operations_receivable").await, 0);
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn the_reconciler_repays_what_a_merchant_owes_as_far_as_its_money_goes(pool: PgPool) {
    let (app, m) = owing(pool, "15.00").await;
    fund(&app, 22, "5.00").await;
    let report = tucano_shared::app::reconcile::run(&app.state, chrono::Duration::zero()).await.unwrap();
    assert_eq!(report.debts_repaid, 1, "{report:?}");
    assert_eq!(app.saldo(&m).await, ("0.00".into(), "0.00".into()));
    assert_eq!(ledger_owed(&app), format!("{} owes 10.00\n", m.id.0));
    // Nothing more to take: the next pass repays nothing.
    let report = tucano_shared::app::reconcile::run(&app.state, chrono::Duration::zero()).await.unwrap();
    assert_eq!(report.debts_repaid, 0, "{report:?}");
    // Not enough for the rest: in part at most once an hour (each repayment is an entry).
    fund(&app, 23, "4.00").await;
    let report = tucano_shared::app::reconcile::run(&app.state, chrono::Duration::zero()).await.unwrap();
    assert_eq!(report.debts_repaid, 0, "{report:?}");
    assert_eq!(app.saldo(&m).await, ("4.00".into(), "0.00".into()));
    // An hour on (the last repayment aged behind the ledger's back), in part again.
    sqlx::raw_sql(
        "SET session_replication_role = replica;
         UPDATE ledger_transactions SET created_at = created_at - interval '61 minutes' WHERE kind = 'debt_repayment';
         SET session_replication_role = origin;",
    )
    .execute(&mut *app.pool.acquire().await.unwrap())
    .await
    .unwrap();
    let report = tucano_shared::app::reconcile::run(&app.state, chrono::Duration::zero()).await.unwrap();
    assert_eq!(report.debts_repaid, 1, "{report:?}");
    assert_eq!(ledger_owed(&app), format!("{} owes 6.00\n", m.id.0));
    // Enough: in full at once.
    fund(&app, 26, "8.00").await;
    tucano_shared::app::reconcile::run(&app.state, chrono::Duration::zero()).await.unwrap();
    assert_eq!(app.saldo(&m).await, ("2.00".into(), "0.00".into()));
    assert_eq!(ledger_owed(&app), "no merchant owes operations anything\n");
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn a_debt_repaid_then_undone_by_the_rail_goes_back_to_the_merchant(pool: PgPool) {
    use tucano_shared::ports::{ConcludeOutcome, Contradiction, Heard, RailVerdict, Rejection, RejectionCode};
    let (app, m) = owing(pool, "15.00").await;
    fund(&app, 25, "20.00").await;
    tucano_shared::app::reconcile::run(&app.state, chrono::Duration::zero()).await.unwrap();
    assert_eq!(app.saldo(&m).await, ("5.00".into(), "0.00".into()), "the 15.00 owed was repaid");

    // The rail then rejects the late settlement after all, and its status confirms it (as
    // the notification path books a confirmed reversal).
    let (_, _, first) = call(app.request(Method::GET, "/v2/envio/primeiro", &m)).await;
    let e2eid = tucano_shared::domain::ids::EndToEndId::parse(&e2e(&first)).unwrap();
    let rejected = RailVerdict::Rejected(Rejection::new(RejectionCode::Ab03));
    let transfers = &app.state.transfers;
    let stood = match transfers.conclude("x1", &e2eid, &rejected, Heard::Notified).await.unwrap() {
        ConcludeOutcome::Unconfirmed(stood) => stood,
        other => panic!("{other:?}"),
    };
    let outcome = transfers.conclude("x1", &e2eid, &rejected, Heard::Confirmed(stood)).await.unwrap();
    assert_eq!(outcome, ConcludeOutcome::Flagged(Contradiction::VoidedAfterSettle));
    // Undone: the 5.00 it took and the 15.00 the merchant repaid come back to it; nothing is
    // taken off a debt already paid.
    assert_eq!(app.saldo(&m).await, ("25.00".into(), "0.00".into()));
    assert_eq!(ledger_owed(&app), "no merchant owes operations anything\n");
    assert_eq!(app.platform_balance("operations_receivable").await, 0);
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn payments_out_at_once_repay_a_debt_once(pool: PgPool) {
    let (app, m) = owing(pool, "15.00").await;
    fund(&app, 24, "40.00").await;
    // Transfers and refunds of one merchant at the same moment: each repays first, and only
    // the first to lock the merchant's balance finds anything owed.
    let refund = |n: u32| {
        let body = json!({"valor": "1.00"});
        let path = format!("/v2/pix/{}/devolucao/corrida{n}", crate::e2eid(24));
        call(app.request(Method::PUT, &path, &m).json(&body))
    };
    let envio = |id: &str| {
        let body = json!({"valor": "5.00", "favorecido": {"chave": crate::SUPPLIER}});
        call(app.request(Method::PUT, &format!("/v2/envio/{id}"), &m).json(&body))
    };
    let (a, b, c, d) = tokio::join!(envio("corridaA"), envio("corridaB"), refund(1), refund(2));
    let answers = [a, b, c, d];
    for (status, _, body) in &answers {
        assert_eq!(*status, 201, "{body}");
    }
    assert_eq!(lines_of(&app, &m, "SALDO_DEVEDOR_PAGO").await, vec![("DEBITO".to_owned(), "15.00".to_owned())]);
    assert_eq!(app.saldo(&m).await, ("13.00".into(), "12.00".into()));
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn a_rejection_after_a_settlement_gives_the_money_back_and_is_flagged(pool: PgPool) {
    let (app, m) = quiet_rail(pool).await;
    fund(&app, 12, "50.00").await;
    // The rail ends up rejecting it (its status says so), after notifying a settlement.
    app.rail_control(json!({"envios": "REJEITAR"})).await;
    let envio = send(&app, &m, "volta1", "20.00").await;
    app.notify(&envio_verdict("PIX_ENVIADO_LIQUIDADO", "a1", &e2e(&envio), "20.00", None)).await;
    assert_eq!(rail_decided(&app, &format!("/envios/{}", e2e(&envio))).await, "REJEITADO");
    assert_eq!(app.saldo(&m).await, ("30.00".into(), "0.00".into()));

    // Without a final code it is no verdict; with one it is booked.
    let (status, _, _) = app.notify(&envio_verdict("PIX_ENVIADO_REJEITADO", "a2", &e2e(&envio), "20.00", None)).await;
    assert_eq!(status, 400);
    let (_, _, body) =
        app.notify(&envio_verdict("PIX_ENVIADO_REJEITADO", "a3", &e2e(&envio), "20.00", Some("AB03"))).await;
    assert_eq!(body["alerta"], "REJEITADO_APOS_LIQUIDACAO");
    let (_, _, now) = call(app.request(Method::GET, "/v2/envio/volta1", &m)).await;
    assert_eq!(now["status"], "NAO_REALIZADO");
    assert_eq!(app.saldo(&m).await, ("50.00".into(), "0.00".into()));
    assert_eq!(movements(&app, "transfer_correction").await, 1);
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn a_late_notification_the_rails_status_contradicts_is_set_aside_and_one_it_cannot_judge_waits_for_it(
    pool: PgPool,
) {
    let (app, m) = quiet_rail(pool).await;
    fund(&app, 17, "50.00").await;
    let envio = send(&app, &m, "atrasada", "20.00").await;
    assert_eq!(rail_decided(&app, &format!("/envios/{}", e2e(&envio))).await, "LIQUIDADO");
    // The rail's two words arrive reordered: the rejection first (the transfer was
    // pending: booked), then the settlement, which would reverse it. The rail's status
    // cannot be read just then: nothing is booked on a guess; the notification is kept.
    app.rail_faults(json!({"consultas": {"erro500": 1.0}})).await;
    app.notify(&envio_verdict("PIX_ENVIADO_REJEITADO", "t1", &e2e(&envio), "20.00", Some("AC06"))).await;
    let settled = envio_verdict("PIX_ENVIADO_LIQUIDADO", "t2", &e2e(&envio), "20.00", None);
    let (status, _, body) = app.notify(&settled).await;
    assert_eq!((status, body["resultado"].as_str()), (200, Some("AGUARDANDO_CONFIRMACAO")), "{body}");
    assert_eq!(app.saldo(&m).await, ("50.00".into(), "0.00".into()), "the rejection stands");
    assert!(contradictions(&app).await.is_empty());
    // Kept once, however often the rail repeats it while its status stays unreadable.
    assert_eq!(app.notify(&settled).await.2["resultado"], "AGUARDANDO_CONFIRMACAO");
    assert_eq!(app.count("parked_rail_verdicts").await, 1);
    app.rail_faults(json!({})).await;

    // A pass with no time left for it leaves it waiting (and says so: the alarm's gauge).
    let report = tucano_shared::app::reconcile::run_within(&app.state, chrono::Duration::zero(), Default::default())
        .await
        .unwrap();
    assert_eq!((report.reversals_judged, report.reversals_waiting), (0, 1), "{report:?}");
    // The reconciler reads the status again: it confirms the settlement, which is booked
    // (the money left, flagged) and the notification judged.
    let report = tucano_shared::app::reconcile::run(&app.state, chrono::Duration::zero()).await.unwrap();
    assert_eq!((report.reversals_judged, report.reversals_waiting), (1, 0), "{report:?}");
    assert_eq!(app.saldo(&m).await, ("30.00".into(), "0.00".into()));
    let (_, _, now) = call(app.request(Method::GET, "/v2/envio/atrasada", &m)).await;
    assert_eq!((now["status"].as_str(), now["alerta"].as_str()), (Some("REALIZADO"), Some("LIQUIDADO_APOS_REJEICAO")));
    let resolution: Option<String> =
        sqlx::query_scalar("SELECT resolution FROM parked_rail_verdicts").fetch_one(&app.pool).await.unwrap();
    assert_eq!(resolution.as_deref(), Some("CONTRADICAO_REGISTRADA"));
    let report = tucano_shared::app::reconcile::run(&app.state, chrono::Duration::zero()).await.unwrap();
    assert_eq!((report.reversals_judged, report.reversals_waiting), (0, 0), "judged once: {report:?}");

    // The old rejection again, under another id: the rail's status says it settled, so it
    // is set aside (not booked, not a contradiction).
    let stale = envio_verdict("PIX_ENVIADO_REJEITADO", "t3", &e2e(&envio), "20.00", Some("AC06"));
    let (status, _, body) = app.notify(&stale).await;
    assert_eq!((status, body["resultado"].as_str()), (200, Some("OBSOLETA")), "{body}");
    let (_, _, now) = call(app.request(Method::GET, "/v2/envio/atrasada", &m)).await;
    assert_eq!(now["status"], "REALIZADO", "{now}");
    assert_eq!(app.saldo(&m).await, ("30.00".into(), "0.00".into()));
    assert_eq!(contradictions(&app).await.len(), 1, "only the confirmed one");
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn a_rejection_of_a_transfer_already_returned_is_set_aside_not_credited_twice(pool: PgPool) {
    let (app, m) = quiet_rail(pool).await;
    fund(&app, 18, "100.00").await;
    let envio = send(&app, &m, "devolvida", "100.00").await;
    app.notify(&envio_verdict("PIX_ENVIADO_LIQUIDADO", "w1", &e2e(&envio), "100.00", None)).await;
    let back = envio_returned("volta-w", "D9999999920261121130500000000018", &e2e(&envio), "100.00", "MD06");
    assert_eq!(app.notify(&back).await.0, 200);
    assert_eq!(app.saldo(&m).await, ("100.00".into(), "0.00".into()), "sent and returned");
    // A rejection arrives, and the rail's status cannot be read: the return proves the
    // money left, so the rejection is not booked (undone, the 100.00 would come back twice).
    app.rail_faults(json!({"consultas": {"erro500": 1.0}})).await;
    let (status, _, body) =
        app.notify(&envio_verdict("PIX_ENVIADO_REJEITADO", "w2", &e2e(&envio), "100.00", Some("AC06"))).await;
    assert_eq!((status, body["resultado"].as_str()), (200, Some("OBSOLETA")), "{body}");
    assert_eq!(app.saldo(&m).await, ("100.00".into(), "0.00".into()));
    let (_, _, now) = call(app.request(Method::GET, "/v2/envio/devolvida", &m)).await;
    assert_eq!(now["status"], "REALIZADO", "{now}");
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn a_settlement_of_another_amount_books_the_amount_that_left(pool: PgPool) {
    let (app, m) = quiet_rail(pool).await;
    fund(&app, 13, "50.00").await;
    let more = send(&app, &m, "mais", "10.00").await;
    let less = send(&app, &m, "menos", "10.00").await;
    let (_, _, body) = app.notify(&envio_verdict("PIX_ENVIADO_LIQUIDADO", "m1", &e2e(&more), "12.00", None)).await;
    assert_eq!(body["alerta"], "VALOR_LIQUIDADO_DIVERGENTE");
    let (_, _, body) = app.notify(&envio_verdict("PIX_ENVIADO_LIQUIDADO", "m2", &e2e(&less), "7.50", None)).await;
    assert_eq!(body["alerta"], "VALOR_LIQUIDADO_DIVERGENTE");
    // 50.00 - 12.00 - 7.50
    assert_eq!(app.saldo(&m).await, ("30.50".into(), "0.00".into()));
    // Only a transfer's outcome moves: what it was ordered with stays, whoever asks.
    let role = as_application(&app.pool).await;
    for change in ["descricao = 'outra'", "favorecido_nome = 'Outro'", "conta_ispb = '00000000'", "txid = 'x'"] {
        let refused =
            sqlx::query(&format!("UPDATE transfers SET {change} WHERE id_envio = 'mais'")).execute(&role).await;
        assert!(refused.is_err_and(|e| e.to_string().contains("never change")), "{change}");
    }
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn a_refund_settled_at_more_than_it_asked_uses_up_what_went_back(pool: PgPool) {
    let (app, m) = quiet_rail(pool).await;
    fund(&app, 16, "10.00").await;
    let path = |id: &str| format!("/v2/pix/{}/devolucao/{id}", crate::e2eid(16));
    let refund = |id: &str, valor: &str| app.request(Method::PUT, &path(id), &m).json(&json!({"valor": valor}));
    let (status, _, first) = call(refund("d1", "5.00")).await;
    assert_eq!(status, 201, "{first}");
    // The rail says 7.00 went back.
    let settled = json!({"tipo": "DEVOLUCAO_LIQUIDADA", "id": "liq-d1", "devolucao": {
        "rtrId": first["rtrId"], "endToEndId": crate::e2eid(16), "valor": "7.00",
        "horario": chrono::Utc::now().to_rfc3339()}});
    let (_, _, body) = app.notify(&settled).await;
    assert_eq!(body["alerta"], "VALOR_LIQUIDADO_DIVERGENTE", "{body}");
    assert_eq!(app.saldo(&m).await, ("3.00".into(), "0.00".into()));

    // Of the 10.00 received, 3.00 is left to refund, not 5.00.
    let (status, _, p) = call(refund("d2", "5.00")).await;
    assert_eq!(status, 400, "{p}");
    let (status, _, last) = call(refund("d3", "3.00")).await;
    assert_eq!(status, 201, "{last}");
    // The database counts the same way, whatever the code in front of it does.
    let direct = refund_written_directly(&app, 16, None, "d4", 1).await.expect_err("over the amount received");
    assert!(direct.to_string().contains("exceed"), "{direct}");
    // Nor is a refund of one merchant's Pix booked to another.
    let other = app.merchant("Outra", "outra@example.com").await;
    let foreign =
        refund_written_directly(&app, 16, Some(other.id.0), "d5", 1).await.expect_err("another merchant's Pix");
    assert!(foreign.to_string().contains("its merchant"), "{foreign}");
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn a_refund_rejected_after_its_settlement_is_credited_back_and_flagged(pool: PgPool) {
    let (app, m) = quiet_rail(pool).await;
    fund(&app, 14, "30.00").await;
    app.rail_control(json!({"devolucoes": "REJEITAR"})).await;
    let path = format!("/v2/pix/{}/devolucao/d1", crate::e2eid(14));
    let (_, _, refund) = call(app.request(Method::PUT, &path, &m).json(&json!({"valor": "10.00"}))).await;
    let verdict = |tipo: &str, id: &str, codigo: Option<&str>| {
        let mut d = json!({"rtrId": refund["rtrId"], "endToEndId": crate::e2eid(14), "valor": "10.00",
                           "horario": chrono::Utc::now().to_rfc3339()});
        if let Some(c) = codigo {
            d["codigo"] = json!(c);
        }
        json!({"tipo": tipo, "id": id, "devolucao": d})
    };
    app.notify(&verdict("DEVOLUCAO_LIQUIDADA", "f1", None)).await;
    assert_eq!(app.saldo(&m).await, ("20.00".into(), "0.00".into()));
    let rtr_id = refund["rtrId"].as_str().unwrap();
    assert_eq!(rail_decided(&app, &format!("/devolucoes/{rtr_id}")).await, "REJEITADO");
    let (_, _, body) = app.notify(&verdict("DEVOLUCAO_REJEITADA", "f2", Some("AC07"))).await;
    assert_eq!(body["resultado"], "CONTRADICAO_REGISTRADA");
    let (_, _, now) = call(app.request(Method::GET, &path, &m)).await;
    assert_eq!(
        (now["status"].as_str(), now["alerta"].as_str()),
        (Some("NAO_REALIZADO"), Some("REJEITADO_APOS_LIQUIDACAO"))
    );
    assert_eq!(app.saldo(&m).await, ("30.00".into(), "0.00".into()));
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn a_second_report_of_a_received_pix_with_another_amount_is_parked_in_suspense_and_flagged(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let m = app.merchant("Loja", KEY).await;
    fund(&app, 15, "10.00").await;
    let mut again = crate::pix_received(15, "12.00");
    again["id"] = json!("in-15-bis");
    let (status, _, body) = app.notify(&again).await;
    assert_eq!((status, body["resultado"].as_str()), (200, Some("CONTRADICAO_REGISTRADA")), "{body}");
    // The merchant's credit stands as first booked; the difference waits in suspense.
    assert_eq!(app.saldo(&m).await, ("10.00".into(), "0.00".into()));
    assert_eq!(app.platform_balance("suspense").await, 200);
    let (_, _, pix) = call(app.request(Method::GET, &format!("/v2/pix/{}", crate::e2eid(15)), &m)).await;
    assert_eq!(pix["alertaRail"], "NOTIFICACAO_DIVERGENTE", "{pix}");
    // The same divergent report under yet another id is booked once; the first report
    // again is a plain duplicate.
    again["id"] = json!("in-15-ter");
    assert_eq!(app.notify(&again).await.2["resultado"], "DUPLICADA");
    let mut first = crate::pix_received(15, "10.00");
    first["id"] = json!("in-15-quater");
    assert_eq!(app.notify(&first).await.2["resultado"], "DUPLICADA");
    assert_eq!(app.platform_balance("suspense").await, 200);
    assert_eq!(contradictions(&app).await.len(), 1);
    // A third amount: the books hold the rail's latest word (13.00), not the sum of the
    // differences from the first (10.00 + 2.00 + 3.00).
    let mut third = crate::pix_received(15, "13.00");
    third["id"] = json!("in-15-quinquies");
    assert_eq!(app.notify(&third).await.2["resultado"], "CONTRADICAO_REGISTRADA");
    assert_eq!(app.platform_balance("suspense").await, 300);
    assert_eq!(contradictions(&app).await.len(), 2);
    // Until operations settle which report was right, nothing goes back to the payer.
    let path = format!("/v2/pix/{}/devolucao/d1", crate::e2eid(15));
    let (status, _, p) = call(app.request(Method::PUT, &path, &m).json(&json!({"valor": "10.00"}))).await;
    assert_eq!(status, 400, "{p}");
    assert!(p["detail"].as_str().unwrap().contains("under review"), "{p}");
    // The database refuses it too, whatever the code in front of it does.
    let direct = refund_written_directly(&app, 15, None, "d9", 100).await.expect_err("a flagged Pix");
    assert!(direct.to_string().contains("under review"), "{direct}");
    assert_eq!(app.saldo(&m).await, ("10.00".into(), "0.00".into()));
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn a_settlement_heard_after_a_return_books_the_amount_that_really_left(pool: PgPool) {
    let (app, m) = quiet_rail(pool).await;
    fund(&app, 19, "50.00").await;
    let envio = send(&app, &m, "assumido", "10.00").await;
    // The receiver returns 5.00 before the settlement is heard: the transfer is settled at
    // the amount ordered, as the return proves the money left.
    let n = envio_returned("volta-assumido", "D9999999920261121130500000000019", &e2e(&envio), "5.00", "MD06");
    assert_eq!(app.notify(&n).await.0, 200);
    assert_eq!(app.saldo(&m).await, ("45.00".into(), "0.00".into()));

    // Then the settlement: 12.00 left, not 10.00.
    let (status, _, body) =
        app.notify(&envio_verdict("PIX_ENVIADO_LIQUIDADO", "liq-assumido", &e2e(&envio), "12.00", None)).await;
    assert_eq!((status, body["resultado"].as_str()), (200, Some("CONTRADICAO_REGISTRADA")), "{body}");
    assert_eq!(body["alerta"], "VALOR_LIQUIDADO_DIVERGENTE");
    assert_eq!(app.saldo(&m).await, ("43.00".into(), "0.00".into()), "the 2.00 more that left is the merchant's");
    let (_, _, now) = call(app.request(Method::GET, "/v2/envio/assumido", &m)).await;
    assert_eq!(now["status"], "REALIZADO", "{now}");
    // The same report again agrees with the books.
    let (_, _, again) =
        app.notify(&envio_verdict("PIX_ENVIADO_LIQUIDADO", "liq-assumido2", &e2e(&envio), "12.00", None)).await;
    assert_eq!(again["resultado"], "DUPLICADA");
    assert_eq!(movements(&app, "transfer_correction").await, 1);
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn a_return_parked_as_excess_goes_to_the_merchant_once_the_settlement_shows_it_was_sent(pool: PgPool) {
    let (app, m) = quiet_rail(pool).await;
    fund(&app, 20, "50.00").await;
    let envio = send(&app, &m, "excedente", "10.00").await;
    // 12.00 comes back of a transfer of 10.00 not yet heard settled: 2.00 waits in suspense.
    let n = envio_returned("volta-excedente", "D9999999920261121130500000000020", &e2e(&envio), "12.00", "MD06");
    assert_eq!(app.notify(&n).await.2["alerta"], "DEVOLUCAO_EXCEDENTE");
    assert_eq!(app.platform_balance("suspense").await, 200);

    // 12.00 had left: the 2.00 was the merchant's.
    let (_, _, body) =
        app.notify(&envio_verdict("PIX_ENVIADO_LIQUIDADO", "liq-excedente", &e2e(&envio), "12.00", None)).await;
    assert_eq!(body["alerta"], "VALOR_LIQUIDADO_DIVERGENTE", "{body}");
    assert_eq!(app.platform_balance("suspense").await, 0);
    assert_eq!(app.saldo(&m).await, ("50.00".into(), "0.00".into()), "sent 12.00, got 12.00 back");
    // A later report of the amount ordered does not move it back.
    let (_, _, again) =
        app.notify(&envio_verdict("PIX_ENVIADO_LIQUIDADO", "liq-excedente2", &e2e(&envio), "10.00", None)).await;
    assert_eq!(again["resultado"], "DUPLICADA", "{again}");
    assert_eq!(app.saldo(&m).await, ("50.00".into(), "0.00".into()));
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn a_status_read_older_than_the_rails_last_word_does_not_reverse_it(pool: PgPool) {
    use tucano_shared::domain::ids::EndToEndId;
    use tucano_shared::ports::{ConcludeOutcome, Heard, RailVerdict};

    let (app, m) = quiet_rail(pool).await;
    fund(&app, 18, "50.00").await;
    let envio = send(&app, &m, "lido1", "20.00").await;
    // The reconciler reads "settled" from the rail; before it books that, the rail's
    // newer word arrives: rejected after all.
    let read = RailVerdict::Settled { at: chrono::Utc::now(), valor: None };
    app.notify(&envio_verdict("PIX_ENVIADO_REJEITADO", "n1", &e2e(&envio), "20.00", Some("AC07"))).await;
    assert_eq!(app.saldo(&m).await, ("50.00".into(), "0.00".into()));

    let e2eid = EndToEndId::parse(&e2e(&envio)).unwrap();
    let outcome = app.state.transfers.conclude("reconcile-lido1", &e2eid, &read, Heard::OnStatusRead).await.unwrap();
    assert_eq!(outcome, ConcludeOutcome::Duplicate, "the read is older than the books");
    let (_, _, now) = call(app.request(Method::GET, "/v2/envio/lido1", &m)).await;
    assert_eq!((now["status"].as_str(), now.get("alerta")), (Some("NAO_REALIZADO"), None), "{now}");
    assert_eq!(app.saldo(&m).await, ("50.00".into(), "0.00".into()), "nothing taken on the stale read");
    assert!(contradictions(&app).await.is_empty());
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn a_confirmed_reversal_is_not_booked_over_words_heard_since_its_status_was_read(pool: PgPool) {
    use tucano_shared::domain::ids::EndToEndId;
    use tucano_shared::domain::verdict::{Rejection, RejectionCode};
    use tucano_shared::ports::{ConcludeOutcome, Heard, RailVerdict};

    let (app, m) = quiet_rail(pool).await;
    fund(&app, 19, "50.00").await;
    let envio = send(&app, &m, "virado", "20.00").await;
    app.notify(&envio_verdict("PIX_ENVIADO_LIQUIDADO", "liq", &e2e(&envio), "20.00", None)).await;
    let e2eid = EndToEndId::parse(&e2e(&envio)).unwrap();
    let transfers = &app.state.transfers;
    // A rejection arrives for the settled transfer: nothing is booked before the rail's
    // status is read.
    let rejected = RailVerdict::Rejected(Rejection::new(RejectionCode::Ac07));
    let ConcludeOutcome::Unconfirmed(read_at) =
        transfers.conclude("rej-late", &e2eid, &rejected, Heard::Notified).await.unwrap()
    else {
        panic!("a reversal was booked unconfirmed")
    };
    // While its status is read (it says rejected), the rail flips twice: rejected, then
    // settled again, its last word.
    let settled = RailVerdict::Settled { at: chrono::Utc::now(), valor: None };
    transfers.conclude("rej", &e2eid, &rejected, Heard::FromRail).await.unwrap();
    transfers.conclude("liq-again", &e2eid, &settled, Heard::FromRail).await.unwrap();
    assert_eq!(app.saldo(&m).await, ("30.00".into(), "0.00".into()));

    // The transfer stands settled as when the status was read, but was booked since: the
    // status is read again rather than the older read undoing the rail's last word.
    let outcome = transfers.conclude("rej-late", &e2eid, &rejected, Heard::Confirmed(read_at)).await.unwrap();
    assert!(matches!(outcome, ConcludeOutcome::Unconfirmed(now) if now.booked == read_at.booked && now != read_at));
    assert_eq!(app.saldo(&m).await, ("30.00".into(), "0.00".into()), "the 20.00 left, as the rail said last");
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn the_sandbox_can_contradict_itself_and_the_books_follow_what_it_said_last(pool: PgPool) {
    let app = TestApp::spawn_with_rail(pool).await;
    let m = app.merchant("Loja", KEY).await;
    fund(&app, 16, "50.00").await;
    app.rail_faults(json!({"roteiro": ["contradizer"]})).await;
    send(&app, &m, "contradito", "20.00").await;
    let done = app.eventually(&m, "/v2/envio/contradito", |e| e["alerta"] == "REJEITADO_APOS_LIQUIDACAO").await;
    assert_eq!(done["status"], "NAO_REALIZADO");
    assert_eq!(app.saldo(&m).await, ("50.00".into(), "0.00".into()));
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn the_ledger_check_finds_a_movement_booked_twice(pool: PgPool) {
    let (app, m) = quiet_rail(pool).await;
    fund(&app, 17, "50.00").await;
    let envio = send(&app, &m, "duplo", "20.00").await;
    app.notify(&envio_verdict("PIX_ENVIADO_LIQUIDADO", "d1", &e2e(&envio), "20.00", None)).await;
    app.assert_ledger_ok().await;
    // A second debit booked as a correction of this transfer (unique on its key, balanced,
    // so the database takes it): the check still sees that more left than was settled.
    let merchant: uuid::Uuid = sqlx::query_scalar("SELECT id FROM merchants").fetch_one(&app.pool).await.unwrap();
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM ledger_accounts WHERE (merchant_id = $1 AND kind = 'merchant_available') OR kind = 'rail_settlement' ORDER BY merchant_id NULLS LAST",
    )
    .bind(merchant)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let mut tx = app.pool.begin().await.unwrap();
    let t: i64 = sqlx::query_scalar(
        "INSERT INTO ledger_transactions (kind, natural_key) VALUES ('transfer_correction', $1) RETURNING id",
    )
    .bind(format!("{}:9", e2e(&envio)))
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO ledger_postings (transaction_id, account_id, amount) VALUES ($1, $2, -2000), ($1, $3, 2000)",
    )
    .bind(t)
    .bind(ids[0])
    .bind(ids[1])
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let failures = app.state.ledger.check().await.unwrap();
    assert!(
        failures.iter().any(|f| f.contains(&e2e(&envio)) && f.contains("through the rail but settled")),
        "{failures:#?}"
    );
}
