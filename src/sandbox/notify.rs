//! Delivering signed notifications to Tucano, with retries (a real rail keeps trying
//! while Tucano is down), duplicates and shuffling.

use super::Shared;
use serde::Serialize;
use std::time::Duration;
use tucano_shared::rail::protocol::Notificacao;
use tucano_shared::rail::signature::{sign, SIGNATURE_HEADER, TIMESTAMP_HEADER};

/// About 20 s of retries: 0.1, 0.2, 0.4, 0.8, 1.6 s, then every 2 s.
const ATTEMPTS: u32 = 14;
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// What happened to one copy of a notification.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub id: String,
    /// Tucano's final HTTP status, or 0 if it was never reached.
    pub status: u16,
    pub attempts: u32,
}

/// Sends `n` once, retrying with backoff until Tucano answers 2xx or a 4xx that a retry
/// cannot fix (401 and 400 are final; 404/409 are retried: the state may catch up).
pub async fn deliver(rail: &Shared, n: &Notificacao) -> Delivery {
    let body = serde_json::to_vec(n).unwrap_or_default();
    let url = format!("{}/rail/notificacoes", rail.config.tucano_url.trim_end_matches('/'));
    let mut status = 0;
    let mut attempts = 0;
    while attempts < ATTEMPTS {
        attempts += 1;
        let ts = chrono::Utc::now().timestamp();
        let sent = rail
            .client
            .post(&url)
            .header("content-type", "application/json")
            .header(TIMESTAMP_HEADER, ts.to_string())
            .header(SIGNATURE_HEADER, sign(&rail.config.secret, ts, &body))
            .body(body.clone())
            .send()
            .await;
        status = sent.map(|r| r.status().as_u16()).unwrap_or(0);
        if (200..300).contains(&status) || status == 400 || status == 401 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50 * 2u64.pow(attempts.min(6))).min(MAX_BACKOFF)).await;
    }
    Delivery { id: n.id().to_owned(), status, attempts }
}

/// Delivers each copy concurrently after its own delay, so copies can arrive in any order
/// and some at the same moment; returns what happened to each.
pub async fn deliver_all(rail: &Shared, copies: Vec<(Notificacao, Duration)>) -> Vec<Delivery> {
    let tasks = copies.into_iter().map(|(n, delay)| {
        let rail = rail.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            deliver(&rail, &n).await
        })
    });
    let mut out = vec![];
    for t in tasks.collect::<Vec<_>>() {
        if let Ok(d) = t.await {
            out.push(d);
        }
    }
    out
}
