//! Parallel payments in, transfers out and refunds for one merchant: never a deadlock,
//! never a 5xx, and the money exact afterwards.

use crate::common::*;
use crate::{e2eid, pix_received, KEY, SUPPLIER};
use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Received Pix the refunds draw on, 10.00 each.
const REFUNDABLE: u32 = 40;

/// `ops` operations of 1.00 each — a third payments in, a third transfers out, a third
/// refunds — `concurrency` at a time; returns every status that was not a success.
async fn burst(app: &Arc<TestApp>, m: &Arc<TestMerchant>, ops: u32, concurrency: usize) -> Vec<(u32, u16, String)> {
    let gate = Arc::new(Semaphore::new(concurrency));
    let tasks: Vec<_> = (0..ops)
        .map(|i| {
            let (app, m, gate) = (app.clone(), m.clone(), gate.clone());
            tokio::spawn(async move {
                let _permit = gate.acquire().await.unwrap();
                let (status, _, body) = match i % 3 {
                    0 => app.notify(&pix_received(1_000 + i, "1.00")).await,
                    1 => {
                        let body = json!({"valor": "1.00", "favorecido": {"chave": SUPPLIER}});
                        call(app.request(Method::PUT, &format!("/v2/envio/par{i}"), &m).json(&body)).await
                    }
                    _ => {
                        let path = format!("/v2/pix/{}/devolucao/d{i}", e2eid(i % REFUNDABLE));
                        call(app.request(Method::PUT, &path, &m).json(&json!({"valor": "1.00"}))).await
                    }
                };
                (i, status, body.to_string())
            })
        })
        .collect();
    let mut failures = vec![];
    for t in tasks {
        let (i, status, body) = t.await.unwrap();
        if !(200..300).contains(&status) {
            failures.push((i, status, body));
        }
    }
    failures
}

async fn parallel_mix_settles_exactly(pool: PgPool, concurrency: usize) {
    let app = Arc::new(TestApp::spawn_with_rail(pool).await);
    let m = Arc::new(app.merchant("Loja", KEY).await);
    for n in 0..REFUNDABLE {
        assert_eq!(app.notify(&pix_received(n, "10.00")).await.0, 200);
    }
    let ops = 300;
    let failures = burst(&app, &m, ops, concurrency).await;
    assert!(failures.is_empty(), "{} of {ops} operations failed: {failures:?}", failures.len());

    // Every transfer and refund is settled by the rail; then the books are exact.
    for _ in 0..600 {
        if app.saldo(&m).await.1 == "0.00" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // 400.00 funded + 100 x 1.00 in - 100 x 1.00 out - 100 x 1.00 refunded.
    assert_eq!(app.saldo(&m).await, ("300.00".into(), "0.00".into()));
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn payments_in_transfers_and_refunds_sixteen_at_a_time_never_deadlock_or_fail(pool: PgPool) {
    parallel_mix_settles_exactly(pool, 16).await;
}

#[sqlx::test(migrations = "./migrations")]
async fn payments_in_transfers_and_refunds_sixty_four_at_a_time_never_deadlock_or_fail(pool: PgPool) {
    parallel_mix_settles_exactly(pool, 64).await;
}

#[sqlx::test(migrations = "./migrations")]
async fn a_charge_revised_while_its_payment_is_booked_is_assessed_at_its_new_revision(pool: PgPool) {
    use tucano_shared::domain::payment::Alert;
    use tucano_shared::ports::RecordOutcome;

    let (app, m) = with_charge(pool, "10.00").await;

    // The merchant's revision holds the charge's row while a payment of the old amount is
    // booked: the booking read revision 0 without a lock, and must not conclude revision 1.
    let mut revision = app.pool.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM charges WHERE txid = $1 FOR UPDATE")
        .bind(txid(1))
        .execute(&mut *revision)
        .await
        .unwrap();
    let pix = payment_of_charge(1, "10.00");
    let store = app.state.pix.clone();
    let booking = tokio::spawn(async move { store.record_incoming("in-revised", &pix).await });
    until_a_session_waits_for_a_lock(&app.pool).await;
    sqlx::query("UPDATE charges SET valor_original = 1200, revisao = revisao + 1 WHERE txid = $1")
        .bind(txid(1))
        .execute(&mut *revision)
        .await
        .unwrap();
    revision.commit().await.unwrap();

    let outcome = booking.await.unwrap().unwrap();
    assert!(
        matches!(outcome, RecordOutcome::Recorded { alert: Some(Alert::AmountMismatch), .. }),
        "10.00 does not pay revision 1 (12.00): {outcome:?}"
    );
    let (_, _, cob) = call(app.request(Method::GET, &format!("/v2/cob/{}", txid(1)), &m)).await;
    assert_eq!((cob["status"].as_str(), cob["revisao"].as_i64()), (Some("ATIVA"), Some(1)), "{cob}");
    assert_eq!(app.saldo(&m).await.0, "10.00", "the money is credited all the same");
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn a_payment_assessed_before_a_revision_that_it_pays_concludes_the_charge(pool: PgPool) {
    use tucano_shared::ports::RecordOutcome;

    let (app, m) = with_charge(pool, "12.00").await;

    // The merchant revises the charge to 10.00 while a payment of 10.00 is booked: the
    // booking reads revision 0 (12.00, a wrong amount) before the revision commits, and
    // books after it. Another session holds the notification's id meanwhile, which makes
    // a booking that went on from its first read wait there.
    let mut revision = app.pool.begin().await.unwrap();
    sqlx::query("UPDATE charges SET valor_original = 1000, revisao = revisao + 1 WHERE txid = $1")
        .bind(txid(1))
        .execute(&mut *revision)
        .await
        .unwrap();
    let mut holder = app.pool.begin().await.unwrap();
    sqlx::query("INSERT INTO rail_notifications (id, kind) VALUES ('in-revised', 'PIX_RECEBIDO')")
        .execute(&mut *holder)
        .await
        .unwrap();
    let store = app.state.pix.clone();
    let pix = payment_of_charge(1, "10.00");
    let booking = tokio::spawn(async move { store.record_incoming("in-revised", &pix).await });
    until_a_session_waits_for_a_lock(&app.pool).await;
    revision.commit().await.unwrap();
    holder.rollback().await.unwrap();

    let outcome = booking.await.unwrap().unwrap();
    assert!(
        matches!(outcome, RecordOutcome::Recorded { alert: None, .. }),
        "10.00 pays revision 1 (10.00), committed before the booking: {outcome:?}"
    );
    let (_, _, cob) = call(app.request(Method::GET, &format!("/v2/cob/{}", txid(1)), &m)).await;
    assert_eq!((cob["status"].as_str(), cob["revisao"].as_i64()), (Some("CONCLUIDA"), Some(1)), "{cob}");
    assert_eq!(app.saldo(&m).await.0, "10.00");
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn a_payment_that_loses_the_race_to_conclude_a_charge_is_credited_and_flagged(pool: PgPool) {
    use tucano_shared::domain::payment::Alert;
    use tucano_shared::ports::RecordOutcome;

    let (app, m) = with_charge(pool, "10.00").await;
    // Another payment of the charge is being booked: its row holds the charge's one
    // concluding slot (a unique index) until it commits, and it concludes the charge.
    let mut first = app.pool.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO received_pix (end_to_end_id, merchant_id, chave, txid, charge_id, valor, horario)
         SELECT $1, merchant_id, $2, txid, id, 1000, now() FROM charges WHERE txid = $3",
    )
    .bind(e2eid(2))
    .bind(KEY)
    .bind(txid(1))
    .execute(&mut *first)
    .await
    .unwrap();
    sqlx::query("UPDATE charges SET status = 'CONCLUIDA' WHERE txid = $1")
        .bind(txid(1))
        .execute(&mut *first)
        .await
        .unwrap();
    let store = app.state.pix.clone();
    let pix = payment_of_charge(1, "10.00");
    let booking = tokio::spawn(async move { store.record_incoming("in-second", &pix).await });
    until_a_session_waits_for_a_lock(&app.pool).await;
    first.commit().await.unwrap();

    // The second, read unlocked as concluding it, finds the slot taken: decided again under
    // the charge's lock, credited and flagged (it was a 500, and the rail's retry).
    let outcome = booking.await.unwrap().unwrap();
    assert!(matches!(outcome, RecordOutcome::Recorded { alert: Some(Alert::AlreadyPaid), .. }), "{outcome:?}");
    assert_eq!(app.saldo(&m).await.0, "10.00", "the second payment is credited");
}

/// A payment of `valor` to charge `txid(n)`, as the rail reports it.
fn payment_of_charge(n: u32, valor: &str) -> tucano_shared::domain::payment::IncomingPix {
    use tucano_shared::domain::ids::{EndToEndId, Txid};
    use tucano_shared::domain::money::Amount;
    use tucano_shared::domain::payment::{IncomingPix, Payer};
    IncomingPix {
        end_to_end_id: EndToEndId::parse(&e2eid(n)).unwrap(),
        chave: KEY.into(),
        txid: Some(Txid::parse(&txid(n)).unwrap()),
        valor: Amount::parse(valor).unwrap(),
        horario: chrono::Utc::now(),
        pagador: Payer { documento: None, nome: None },
        info_pagador: None,
    }
}

/// Returns once a session of the test's database waits for a lock (at most 20 s).
async fn until_a_session_waits_for_a_lock(pool: &PgPool) {
    let waiting = async {
        loop {
            let blocked: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            .fetch_one(pool)
            .await
            .unwrap();
            if blocked > 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(20), waiting).await.expect("no session ever waited for a lock");
}

/// The app with a merchant and its charge `txid(1)` of `valor`, active at revision 0.
async fn with_charge(pool: PgPool, valor: &str) -> (TestApp, TestMerchant) {
    let app = TestApp::spawn(pool).await;
    let m = app.merchant("Loja", KEY).await;
    let (status, _, cob) =
        call(app.request(Method::PUT, &format!("/v2/cob/{}", txid(1)), &m).json(&charge_body(KEY, valor))).await;
    assert_eq!(status, 201, "{cob}");
    (app, m)
}
