//! Outbound HTTP to addresses other people choose (merchants' webhook receivers, other
//! PSPs' payload locations): public addresses only (checked in the URL and again on every
//! resolution, so DNS cannot point us inside the network), no redirects, bounded time, and
//! failures told by kind, never by the transport's own text (a port scanner's oracle).

use crate::domain::webhook::ReceiverRules;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// A resolver that drops every address the rules refuse, and fails when none is left.
struct GuardedResolver {
    rules: ReceiverRules,
}

const NO_PUBLIC_ADDRESS: &str = "the host resolves to no public address";

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let rules = self.rules;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found.into_iter().filter(|a| rules.check_ip(a.ip()).is_ok()).collect();
            if allowed.is_empty() {
                return Err(NO_PUBLIC_ADDRESS.into());
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

/// A client builder that only reaches what `rules` allow, never follows a redirect, and
/// gives up after `timeout` (connecting within at most 5 s of it).
pub fn client(rules: ReceiverRules, timeout: Duration, user_agent: &'static str) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        // A proxy from the environment would resolve the host itself, past the guard.
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .dns_resolver(Arc::new(GuardedResolver { rules }))
        .user_agent(user_agent)
}

/// What went wrong with an outbound request, as far as the caller may know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The host resolved only to addresses the rules refuse.
    Blocked,
    /// The connection or the whole request took longer than the client's timeout.
    TimedOut,
    /// No connection (refused, unreachable, TLS handshake failed, name unknown).
    Unreachable,
    /// Anything else (the answer broke off, ...).
    Failed,
}

impl Failure {
    pub fn of(e: &reqwest::Error) -> Self {
        if e.is_timeout() {
            Failure::TimedOut
        } else if e.is_connect() {
            let blocked =
                std::error::Error::source(e).map(|s| format!("{s:?}")).is_some_and(|s| s.contains(NO_PUBLIC_ADDRESS));
            if blocked {
                Failure::Blocked
            } else {
                Failure::Unreachable
            }
        } else {
            Failure::Failed
        }
    }
}
