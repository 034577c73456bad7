//! The webhook transport over HTTP: one POST with a hard timeout, no redirects, only to
//! public addresses (checked on every resolution, so DNS cannot point us inside), and no
//! more of the answer read than a short excerpt.

use super::guarded_http::{self, Failure};
use super::lazy_client::LazyClient;
use crate::domain::webhook::ReceiverRules;
use crate::ports::{TransportResult, WebhookTransport};
use async_trait::async_trait;
use std::time::{Duration, Instant};

/// The most of a receiver's answer we keep.
pub const EXCERPT_BYTES: usize = 256;

pub struct HttpWebhookTransport {
    client: LazyClient,
    rules: ReceiverRules,
}

impl HttpWebhookTransport {
    pub fn new(rules: ReceiverRules, timeout: Duration) -> Self {
        let client = LazyClient::new(move || {
            guarded_http::client(rules, timeout, "Tucano-Webhooks/1").pool_max_idle_per_host(4)
        });
        Self { client, rules }
    }
}

/// `Retry-After` as seconds or an HTTP date.
fn retry_after(res: &reqwest::Response) -> Option<Duration> {
    let raw = res.headers().get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = raw.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(raw).ok()?;
    // The receiver's date is by its clock: wall time.
    (at.with_timezone(&chrono::Utc) - crate::ports::SystemClock::wall()).to_std().ok()
}

/// Why a request failed, in words safe to store and show to the merchant.
fn describe(e: &reqwest::Error) -> String {
    match Failure::of(e) {
        Failure::TimedOut => "timed out",
        Failure::Blocked => "blocked: the host resolves to no public address",
        Failure::Unreachable => "could not connect",
        Failure::Failed => "request failed",
    }
    .into()
}

#[async_trait]
impl WebhookTransport for HttpWebhookTransport {
    async fn post(&self, url: &str, headers: &[(&'static str, String)], body: &[u8]) -> TransportResult {
        let started = Instant::now();
        let elapsed = |s: Instant| u32::try_from(s.elapsed().as_millis()).unwrap_or(u32::MAX);
        let refused = |error: String| TransportResult {
            status_code: None,
            latency_ms: 0,
            error: Some(error),
            excerpt: None,
            retry_after: None,
        };
        // The URL was checked at registration; check again (IP literals skip the resolver).
        let parsed = match self.rules.check_url(url) {
            Ok(u) => u,
            Err(why) => return refused(format!("blocked: the URL {why}")),
        };
        let client = match self.client.get() {
            Ok(c) => c,
            Err(_) => return refused("the HTTP client could not start".into()),
        };
        let mut req = client.post(parsed).header(reqwest::header::CONTENT_TYPE, "application/json");
        for (name, value) in headers {
            req = req.header(*name, value);
        }
        let mut res = match req.body(body.to_vec()).send().await {
            Ok(res) => res,
            Err(e) => {
                return TransportResult {
                    status_code: None,
                    latency_ms: elapsed(started),
                    error: Some(describe(&e)),
                    excerpt: None,
                    retry_after: None,
                }
            }
        };
        let status = res.status();
        let retry_after = retry_after(&res);
        let mut excerpt = Vec::new();
        let mut error = None;
        while excerpt.len() < EXCERPT_BYTES {
            match res.chunk().await {
                Ok(Some(chunk)) => excerpt.extend_from_slice(&chunk[..chunk.len().min(EXCERPT_BYTES - excerpt.len())]),
                Ok(None) => break,
                Err(e) => {
                    error = Some(describe(&e));
                    break;
                }
            }
        }
        // Stored as text: what is no UTF-8 is replaced, control characters (a NUL, which
        // Postgres text cannot hold, would fail the attempt's record and resend for ever)
        // become spaces.
        let excerpt = crate::domain::text::free_text(&String::from_utf8_lossy(&excerpt), EXCERPT_BYTES);
        let error = error.or_else(|| (!status.is_success()).then(|| format!("receiver answered {}", status.as_u16())));
        TransportResult {
            status_code: Some(status.as_u16()),
            latency_ms: elapsed(started),
            error,
            excerpt,
            retry_after,
        }
    }
}
