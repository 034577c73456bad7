//! Reading a dynamic BR Code's payload from its location (another PSP's server), as a
//! payer's bank does before paying it. The location is whatever a BR Code says, so it is
//! fetched like a webhook is delivered (`guarded_http`): public addresses only, no
//! redirects, a deadline, and the body read in pieces up to a cap.

use super::guarded_http::{self, Failure};
use super::lazy_client::LazyClient;
use crate::domain::location::{LocationFailure, LocationPayload};
use crate::domain::money::Amount;
use crate::domain::webhook::ReceiverRules;
use crate::ports::LocationReader;
use async_trait::async_trait;
use serde_json::Value;
use std::time::Duration;

/// The largest payload read; a location answering more is refused without reading on
/// (`LocationFailure::TooLarge`).
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;

impl From<Failure> for LocationFailure {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Blocked => LocationFailure::Blocked,
            Failure::TimedOut => LocationFailure::TimedOut,
            Failure::Unreachable | Failure::Failed => LocationFailure::Unreachable,
        }
    }
}

/// Over HTTPS, or plain HTTP to loopback where `rules` allow local addresses (development).
pub struct HttpLocationReader {
    client: LazyClient,
    rules: ReceiverRules,
    scheme: &'static str,
}

impl HttpLocationReader {
    pub fn new(rules: ReceiverRules) -> Self {
        let client = LazyClient::new(move || guarded_http::client(rules, Duration::from_secs(5), "Tucano-Pix/1"));
        let scheme = if rules.allow_local { "http" } else { "https" };
        HttpLocationReader { client, rules, scheme }
    }
}

#[async_trait]
impl LocationReader for HttpLocationReader {
    async fn read(&self, location: &str) -> Result<LocationPayload, LocationFailure> {
        // The URL's host is checked here (IP literals skip the resolver), names on resolution.
        let url =
            self.rules.check_url(&format!("{}://{location}", self.scheme)).map_err(|_| LocationFailure::Blocked)?;
        let client = self.client.get().map_err(|_| LocationFailure::Unreachable)?;
        let mut res = client.get(url).send().await.map_err(|e| LocationFailure::from(Failure::of(&e)))?;
        if !res.status().is_success() {
            return Err(LocationFailure::HttpError);
        }
        if res.content_length().is_some_and(|n| n > MAX_PAYLOAD_BYTES as u64) {
            return Err(LocationFailure::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(|e| LocationFailure::from(Failure::of(&e)))? {
            if body.len() + chunk.len() > MAX_PAYLOAD_BYTES {
                return Err(LocationFailure::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        let payload: Value = serde_json::from_slice(&body).map_err(|_| LocationFailure::NotAPayload)?;
        Ok(terms(&payload))
    }
}

/// The terms of a Bacen charge payload (`PayloadCobImediata`); what is missing or invalid
/// is left out, for the use case to judge.
fn terms(p: &Value) -> LocationPayload {
    let s = |v: &Value| v.as_str().map(str::to_owned);
    LocationPayload {
        ativa: p["status"] == "ATIVA",
        chave: s(&p["chave"]),
        txid: s(&p["txid"]),
        valor: p["valor"]["original"].as_str().and_then(|v| Amount::parse(v).ok()),
        valor_alteravel: p["valor"]["modalidadeAlteracao"] == 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A loopback server answering every connection with `answer`; its address.
    async fn serving(answer: Vec<u8>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let answer = answer.clone();
                tokio::spawn(async move {
                    let mut request = [0u8; 4096];
                    let _ = socket.read(&mut request).await;
                    let _ = socket.write_all(&answer).await;
                });
            }
        });
        addr.to_string()
    }

    fn dev() -> HttpLocationReader {
        HttpLocationReader::new(ReceiverRules { allow_local: true })
    }

    #[tokio::test]
    async fn a_payload_is_read_as_json() {
        let body = br#"{"status":"ATIVA"}"#;
        let mut answer = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len()).into_bytes();
        answer.extend_from_slice(body);
        let at = serving(answer).await;
        assert!(dev().read(&format!("{at}/qr/v2/x")).await.unwrap().ativa);
    }

    #[tokio::test]
    async fn a_redirect_is_not_followed() {
        let target = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let to = target.local_addr().unwrap();
        let at =
            serving(format!("HTTP/1.1 302 Found\r\nlocation: http://{to}/\r\ncontent-length: 0\r\n\r\n").into()).await;
        assert_eq!(dev().read(&format!("{at}/x")).await.unwrap_err(), LocationFailure::HttpError);
        let followed = tokio::time::timeout(Duration::from_millis(200), target.accept()).await;
        assert!(followed.is_err(), "the redirect was followed");
    }

    #[tokio::test]
    async fn reading_stops_at_the_cap_even_without_a_length() {
        let mut answer = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
        for _ in 0..20 {
            answer.extend_from_slice(format!("{:x}\r\n{}\r\n", 8192, "a".repeat(8192)).as_bytes());
        }
        answer.extend_from_slice(b"0\r\n\r\n");
        let at = serving(answer).await;
        assert_eq!(dev().read(&format!("{at}/x")).await.unwrap_err(), LocationFailure::TooLarge);
        let declared = serving(b"HTTP/1.1 200 OK\r\ncontent-length: 10000000\r\n\r\n{".to_vec()).await;
        assert_eq!(dev().read(&format!("{declared}/x")).await.unwrap_err(), LocationFailure::TooLarge);
    }

    #[tokio::test]
    async fn failures_are_told_by_reason_code_only() {
        let closed = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
        let unreachable = dev().read(&format!("{closed}/x")).await.unwrap_err();
        assert_eq!(unreachable.code(), "LOCATION_UNREACHABLE");
        let at = serving(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabc".to_vec()).await;
        assert_eq!(dev().read(&format!("{at}/x")).await.unwrap_err().code(), "LOCATION_NOT_A_PAYLOAD");
        // Production rules: loopback, private and metadata addresses are refused before
        // any connection (the address filter itself is tested in domain::webhook).
        let production = HttpLocationReader::new(ReceiverRules::default());
        for location in [format!("{at}/x"), "169.254.169.254/latest".into(), "[::ffff:10.0.0.1]/x".into()] {
            assert_eq!(production.read(&location).await.unwrap_err(), LocationFailure::Blocked, "{location}");
        }
    }
}
