//! The `PixRail` port over HTTP: orders go to a rail (the sandbox locally, a sponsor bank
//! adapter in production) as signed JSON.

use crate::ports::{PixRail, RailError};
use crate::rail::protocol::OrdemDevolucao;
use crate::rail::signature::{sign, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use anyhow::anyhow;
use async_trait::async_trait;
use std::time::Duration;

pub struct HttpRail {
    base: String,
    secret: Vec<u8>,
    client: reqwest::Client,
}

impl HttpRail {
    /// A client for the rail at `base` (e.g. `http://127.0.0.1:3100`), built once.
    pub fn new(base: &str, secret: &[u8]) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(3))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(HttpRail { base: base.trim_end_matches('/').to_owned(), secret: secret.to_vec(), client })
    }
}

#[async_trait]
impl PixRail for HttpRail {
    async fn send_refund(&self, order: &OrdemDevolucao) -> Result<(), RailError> {
        let body = serde_json::to_vec(order).map_err(|e| RailError::Unavailable(e.into()))?;
        let ts = chrono::Utc::now().timestamp();
        let res = self
            .client
            .post(format!("{}/devolucoes", self.base))
            .header("content-type", "application/json")
            .header(TIMESTAMP_HEADER, ts.to_string())
            .header(SIGNATURE_HEADER, sign(&self.secret, ts, &body))
            .body(body)
            .send()
            .await
            .map_err(|e| RailError::Unavailable(e.into()))?;
        let status = res.status();
        if status.is_success() {
            Ok(())
        } else if status.is_client_error() {
            let text = res.text().await.unwrap_or_default();
            Err(RailError::Refused(text.chars().take(200).collect()))
        } else {
            Err(RailError::Unavailable(anyhow!("rail answered {status}")))
        }
    }
}
