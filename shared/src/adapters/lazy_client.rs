//! An outbound HTTP client built on its first request rather than at cold start: most
//! functions never call out (a charge read, a balance), and building a reqwest client
//! sets up its TLS configuration and connection pool for nothing (BENCHMARKS.md, cold start).

use std::sync::OnceLock;

type Configure = Box<dyn Fn() -> reqwest::ClientBuilder + Send + Sync>;

/// A reqwest client made from `configure` the first time it is asked for, then shared.
pub struct LazyClient {
    configure: Configure,
    client: OnceLock<reqwest::Client>,
}

impl LazyClient {
    /// Nothing is built until the first `get`.
    pub fn new(configure: impl Fn() -> reqwest::ClientBuilder + Send + Sync + 'static) -> Self {
        LazyClient { configure: Box::new(configure), client: OnceLock::new() }
    }

    /// The client, built now if this is its first use. Building only fails when the TLS
    /// backend cannot start, which the caller reports as its peer being unavailable.
    pub fn get(&self) -> Result<&reqwest::Client, reqwest::Error> {
        if let Some(client) = self.client.get() {
            return Ok(client);
        }
        let built = (self.configure)().build()?;
        // Two first requests at once may both build; one client is kept, the other dropped.
        Ok(self.client.get_or_init(|| built))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn the_client_is_built_on_first_use_and_only_once() {
        let builds = Arc::new(AtomicUsize::new(0));
        let counter = builds.clone();
        let lazy = LazyClient::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            reqwest::Client::builder()
        });
        assert_eq!(builds.load(Ordering::SeqCst), 0, "nothing built at construction");
        let first: *const reqwest::Client = lazy.get().unwrap();
        let second: *const reqwest::Client = lazy.get().unwrap();
        assert_eq!(builds.load(Ordering::SeqCst), 1);
        assert_eq!(first, second, "the same client is shared");
    }
}
