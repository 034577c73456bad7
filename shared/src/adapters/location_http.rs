//! Reading a dynamic BR Code's payload from its location (another PSP's server), as a
//! payer's bank does before paying it.

use super::lazy_client::LazyClient;
use async_trait::async_trait;
use std::time::Duration;

/// The port: a payload location's JSON.
#[async_trait]
pub trait LocationReader: Send + Sync {
    async fn read(&self, location: &str) -> anyhow::Result<serde_json::Value>;
}

/// Over HTTP(S). `scheme` is `https` in production; `http` for local locations.
pub struct HttpLocationReader {
    client: LazyClient,
    scheme: String,
}

impl HttpLocationReader {
    pub fn new(scheme: &str) -> Self {
        let client = LazyClient::new(|| {
            reqwest::Client::builder().timeout(Duration::from_secs(5)).redirect(reqwest::redirect::Policy::none())
        });
        HttpLocationReader { client, scheme: scheme.to_owned() }
    }
}

#[async_trait]
impl LocationReader for HttpLocationReader {
    async fn read(&self, location: &str) -> anyhow::Result<serde_json::Value> {
        let res = self.client.get()?.get(format!("{}://{location}", self.scheme)).send().await?;
        anyhow::ensure!(res.status().is_success(), "the location answered {}", res.status());
        let bytes = res.bytes().await?;
        anyhow::ensure!(bytes.len() <= 64 * 1024, "the payload is too large");
        Ok(serde_json::from_slice(&bytes)?)
    }
}
