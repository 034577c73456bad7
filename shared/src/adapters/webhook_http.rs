//! The webhook transport over HTTP: one POST with a hard timeout, no redirects, only to
//! public addresses (checked on every resolution, so DNS cannot point us inside), and no
//! more of the answer read than a short excerpt.

use super::lazy_client::LazyClient;
use crate::domain::webhook::ReceiverRules;
use crate::ports::{TransportResult, WebhookTransport};
use async_trait::async_trait;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The most of a receiver's answer we keep.
pub const EXCERPT_BYTES: usize = 256;

/// A resolver that drops every address the rules refuse, and fails when none is left.
struct GuardedResolver {
    rules: ReceiverRules,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let rules = self.rules;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found.into_iter().filter(|a| rules.check_ip(a.ip()).is_ok()).collect();
            if allowed.is_empty() {
                return Err("the receiver's host resolves to no public address".into());
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

pub struct HttpWebhookTransport {
    client: LazyClient,
    rules: ReceiverRules,
}

impl HttpWebhookTransport {
    pub fn new(rules: ReceiverRules, timeout: Duration) -> Self {
        let client = LazyClient::new(move || {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(timeout)
                .connect_timeout(timeout.min(Duration::from_secs(5)))
                .dns_resolver(Arc::new(GuardedResolver { rules }))
                .user_agent("Tucano-Webhooks/1")
                .pool_max_idle_per_host(4)
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
    (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).to_std().ok()
}

/// Why a request failed, in words safe to store and show to the merchant.
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        let blocked =
            std::error::Error::source(e).map(|s| format!("{s:?}")).is_some_and(|s| s.contains("no public address"));
        if blocked {
            "blocked: the host resolves to no public address".into()
        } else {
            "could not connect".into()
        }
    } else {
        "request failed".into()
    }
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
        if let Some(ip) = parsed.host_str().and_then(|h| h.trim_matches(['[', ']']).parse::<IpAddr>().ok()) {
            if self.rules.check_ip(ip).is_err() {
                return refused("blocked: not a public address".into());
            }
        }
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
        let excerpt = (!excerpt.is_empty()).then(|| String::from_utf8_lossy(&excerpt).into_owned());
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
