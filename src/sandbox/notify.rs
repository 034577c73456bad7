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

/// Whether Tucano's answer ends the deliveries of a notification: a 2xx, or a 4xx that a
/// retry cannot fix (401 and 400 are final; 404/409 are retried: the state may catch up).
fn settled(status: u16) -> bool {
    (200..300).contains(&status) || status == 400 || status == 401
}

/// The pause before attempt `attempts + 1`.
fn backoff(attempts: u32) -> Duration {
    Duration::from_millis(50 * 2u64.pow(attempts.min(6))).min(MAX_BACKOFF)
}

/// Posts `body` to Tucano's notification endpoint, signed now; its status (0 if Tucano was
/// not reached) and JSON body.
async fn post(rail: &Shared, body: &[u8]) -> (u16, Option<serde_json::Value>) {
    let url = format!("{}/rail/notificacoes", rail.config.tucano_url.trim_end_matches('/'));
    let ts = chrono::Utc::now().timestamp();
    let sent = rail
        .client
        .post(&url)
        .header("content-type", "application/json")
        .header(TIMESTAMP_HEADER, ts.to_string())
        .header(SIGNATURE_HEADER, sign(&rail.config.secret, ts, body))
        .body(body.to_vec())
        .send()
        .await;
    match sent {
        Ok(res) => (res.status().as_u16(), res.json().await.ok()),
        Err(_) => (0, None),
    }
}

/// Sends `n` once, retrying with backoff until Tucano's answer settles it.
pub async fn deliver(rail: &Shared, n: &Notificacao) -> Delivery {
    let body = serde_json::to_vec(n).unwrap_or_default();
    let mut status = 0;
    let mut attempts = 0;
    while attempts < ATTEMPTS {
        attempts += 1;
        status = post(rail, &body).await.0;
        if settled(status) || attempts == ATTEMPTS {
            break;
        }
        tokio::time::sleep(backoff(attempts)).await;
    }
    Delivery { id: n.id().to_owned(), status, attempts }
}

/// Sends `notifications` as one batch (a JSON array in one signed request), retrying with
/// backoff those whose own result does not settle them (or all, while Tucano does not
/// answer the batch); returns what happened to each, in order.
pub async fn deliver_batch(rail: &Shared, notifications: &[Notificacao]) -> Vec<Delivery> {
    let mut out: Vec<Delivery> =
        notifications.iter().map(|n| Delivery { id: n.id().to_owned(), status: 0, attempts: 0 }).collect();
    let mut pending: Vec<usize> = (0..notifications.len()).collect();
    let mut round = 0;
    while !pending.is_empty() && round < ATTEMPTS {
        round += 1;
        let batch: Vec<&Notificacao> = pending.iter().map(|i| &notifications[*i]).collect();
        let (status, body) = post(rail, &serde_json::to_vec(&batch).unwrap_or_default()).await;
        let results = body.as_ref().and_then(|b| b["resultados"].as_array()).filter(|r| r.len() == batch.len());
        for (k, i) in pending.iter().enumerate() {
            out[*i].attempts += 1;
            // A 200 without one result per item tells nothing of each: sent again.
            out[*i].status = match results {
                Some(r) if status == 200 => r[k]["status"].as_u64().and_then(|s| u16::try_from(s).ok()).unwrap_or(0),
                _ if status == 200 => 0,
                _ => status,
            };
        }
        pending.retain(|i| !settled(out[*i].status));
        if !pending.is_empty() && round < ATTEMPTS {
            tokio::time::sleep(backoff(round)).await;
        }
    }
    out
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
