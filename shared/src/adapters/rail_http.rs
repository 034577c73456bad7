//! The `PixRail` port over HTTP: orders go to a rail (the sandbox locally, a sponsor bank
//! adapter in production) as signed JSON.

use super::lazy_client::LazyClient;
use crate::ports::{PixRail, RailError, RailStatus};
use crate::rail::protocol::{EntradaDict, OrdemDevolucao, OrdemPagamento, StatusOrdem};
use crate::rail::signature::{sign, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use anyhow::anyhow;
use async_trait::async_trait;
use std::time::Duration;

pub struct HttpRail {
    base: String,
    secret: Vec<u8>,
    client: LazyClient,
}

impl HttpRail {
    /// A client for the rail at `base` (e.g. `http://127.0.0.1:3100`), built on first use.
    pub fn new(base: &str, secret: &[u8]) -> Self {
        let client = LazyClient::new(|| {
            reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .connect_timeout(Duration::from_secs(3))
                .redirect(reqwest::redirect::Policy::none())
        });
        HttpRail { base: base.trim_end_matches('/').to_owned(), secret: secret.to_vec(), client }
    }
}

impl HttpRail {
    /// A signed request (the signature covers the body; GETs sign an empty body).
    fn signed(&self, method: reqwest::Method, path: &str, body: Vec<u8>) -> Result<reqwest::RequestBuilder, RailError> {
        let ts = chrono::Utc::now().timestamp();
        let client = self.client.get().map_err(|e| RailError::Unavailable(e.into()))?;
        Ok(client
            .request(method, format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .header(TIMESTAMP_HEADER, ts.to_string())
            .header(SIGNATURE_HEADER, sign(&self.secret, ts, &body))
            .body(body))
    }

    async fn order(&self, path: &str, body: Vec<u8>) -> Result<(), RailError> {
        let res = self
            .signed(reqwest::Method::POST, path, body)?
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

    async fn status(&self, path: &str) -> Result<RailStatus, RailError> {
        let res = self
            .signed(reqwest::Method::GET, path, vec![])?
            .send()
            .await
            .map_err(|e| RailError::Unavailable(e.into()))?;
        if res.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(RailStatus::Unknown);
        }
        if !res.status().is_success() {
            return Err(RailError::Unavailable(anyhow!("rail answered {}", res.status())));
        }
        let s: StatusOrdem = res.json().await.map_err(|e| RailError::Unavailable(e.into()))?;
        let at = s.horario.as_deref().and_then(|h| chrono::DateTime::parse_from_rfc3339(h).ok()).map(|t| t.to_utc());
        Ok(match s.status.as_str() {
            "LIQUIDADO" => RailStatus::Settled { at: at.unwrap_or_else(chrono::Utc::now) },
            "REJEITADO" => RailStatus::Rejected { motivo: s.motivo },
            _ => RailStatus::Pending,
        })
    }
}

#[async_trait]
impl PixRail for HttpRail {
    async fn send_refund(&self, order: &OrdemDevolucao) -> Result<(), RailError> {
        let body = serde_json::to_vec(order).map_err(|e| RailError::Unavailable(e.into()))?;
        self.order("/devolucoes", body).await
    }

    async fn send_pix(&self, order: &OrdemPagamento) -> Result<(), RailError> {
        let body = serde_json::to_vec(order).map_err(|e| RailError::Unavailable(e.into()))?;
        self.order("/envios", body).await
    }

    async fn lookup_key(&self, chave: &str) -> Result<Option<EntradaDict>, RailError> {
        let path =
            format!("/dict/{}", percent_encoding::utf8_percent_encode(chave, percent_encoding::NON_ALPHANUMERIC));
        let res = self
            .signed(reqwest::Method::GET, &path, vec![])?
            .send()
            .await
            .map_err(|e| RailError::Unavailable(e.into()))?;
        match res.status() {
            reqwest::StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => res.json().await.map(Some).map_err(|e| RailError::Unavailable(e.into())),
            s => Err(RailError::Unavailable(anyhow!("rail answered {s}"))),
        }
    }

    async fn refund_status(&self, rtr_id: &str) -> Result<RailStatus, RailError> {
        self.status(&format!("/devolucoes/{rtr_id}")).await
    }

    async fn transfer_status(&self, e2eid: &str) -> Result<RailStatus, RailError> {
        self.status(&format!("/envios/{e2eid}")).await
    }
}
