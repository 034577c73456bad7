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
                        call(app.request(Method::PUT, &format!("/envio/par{i}"), &m).json(&body)).await
                    }
                    _ => {
                        let path = format!("/pix/{}/devolucao/d{i}", e2eid(i % REFUNDABLE));
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
    for _ in 0..200 {
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
