//! Reading a dynamic BR Code's payload from its location (another PSP's server), as a
//! payer's bank does before paying it. The location is whatever a BR Code says, so it is
//! fetched like a webhook is delivered (`guarded_http`): public addresses only, no
//! redirects, a deadline, and the body read in pieces up to a cap. The payload must be a
//! JWS whose key set is on the location's host and whose certificate we trust
//! (`app::signed_payloads::open`); the key set is fetched the same guarded way.

use super::guarded_http::{self, Failure};
use super::lazy_client::LazyClient;
use crate::app::signed_payloads;
use crate::domain::jws::TrustStore;
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
    trust: TrustStore,
}

impl HttpLocationReader {
    pub fn new(rules: ReceiverRules, trust: TrustStore) -> Self {
        let client = LazyClient::new(move || guarded_http::client(rules, Duration::from_secs(5), "Tucano-Pix/1"));
        let scheme = if rules.allow_local { "http" } else { "https" };
        HttpLocationReader { client, rules, scheme, trust }
    }

    /// The body at `url` (already checked), up to the cap.
    async fn fetch(&self, url: url::Url) -> Result<Vec<u8>, LocationFailure> {
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
        Ok(body)
    }
}

#[async_trait]
impl LocationReader for HttpLocationReader {
    async fn read(&self, location: &str) -> Result<LocationPayload, LocationFailure> {
        // The URL's host is checked here (IP literals skip the resolver), names on resolution.
        let url =
            self.rules.check_url(&format!("{}://{location}", self.scheme)).map_err(|_| LocationFailure::Blocked)?;
        let body = self.fetch(url.clone()).await?;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let payload = signed_payloads::open(&body, &url, &self.trust, now, |jku| async move {
            let jku = self.rules.check_url(jku.as_str()).map_err(|_| LocationFailure::Blocked)?;
            self.fetch(jku).await
        })
        .await?;
        let payload: Value = serde_json::from_slice(&payload).map_err(|_| LocationFailure::NotAPayload)?;
        Ok(terms(&payload, chrono::Utc::now()))
    }
}

/// The terms of a Bacen charge payload (`PayloadCobImediata`, `PayloadCobV`) as they stand
/// at `now`; what is missing or invalid is left out, for the use case to judge.
///
/// The amount to pay is `valor.final` when the payload states one: a charge with a due
/// date states its original and what is due on the payment date (fine, interest, rebate
/// and discount applied), and only `final` is required of it. A charge's status can still
/// read `ATIVA` after its expiry (the spec lets the receiving PSP serve it anyway), so a
/// payload whose `calendario.criacao` plus `expiracao` seconds has passed is not payable.
fn terms(p: &Value, now: chrono::DateTime<chrono::Utc>) -> LocationPayload {
    let s = |v: &Value| v.as_str().map(str::to_owned);
    let amount = |v: &Value| v.as_str().and_then(|v| Amount::parse(v).ok());
    let valor = if p["valor"]["final"].is_null() { &p["valor"]["original"] } else { &p["valor"]["final"] };
    LocationPayload {
        ativa: p["status"] == "ATIVA" && !expired(&p["calendario"], now),
        chave: s(&p["chave"]),
        txid: s(&p["txid"]),
        valor: amount(valor),
        valor_alteravel: p["valor"]["modalidadeAlteracao"] == 1,
    }
}

/// Whether an immediate charge's `calendario` says it expired before `now`: its creation
/// plus `expiracao` seconds. A calendar without both (a charge with a due date has none)
/// is judged by its status alone.
fn expired(calendario: &Value, now: chrono::DateTime<chrono::Utc>) -> bool {
    let criacao = calendario["criacao"].as_str().and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok());
    match (criacao, calendario["expiracao"].as_i64()) {
        (Some(criacao), Some(secs)) => chrono::TimeDelta::try_seconds(secs)
            .and_then(|d| criacao.checked_add_signed(d))
            .is_none_or(|end| end <= now),
        _ => false,
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

    fn dev_ca() -> TrustStore {
        TrustStore::from_pem(include_bytes!("../../../tests/fixtures/jws/ca.pem")).unwrap()
    }

    fn dev() -> HttpLocationReader {
        HttpLocationReader::new(ReceiverRules { allow_local: true }, dev_ca())
    }

    fn ok(body: &[u8], content_type: &str) -> Vec<u8> {
        let mut answer =
            format!("HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n", body.len())
                .into_bytes();
        answer.extend_from_slice(body);
        answer
    }

    /// A loopback "PSP": its payload at `/qr/v2/x` (what `payload` makes of the key set
    /// URL, given this server's address) and the test key's set at `/jwks`.
    async fn psp(payload: impl FnOnce(&str) -> Vec<u8>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let signer = test_signer();
        let jwks = serde_json::to_vec(&signed_payloads::jwks(&signer).unwrap()).unwrap();
        let body = payload(&format!("http://{addr}/jwks"));
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let (body, jwks) = (body.clone(), jwks.clone());
                tokio::spawn(async move {
                    let mut request = [0u8; 4096];
                    let n = socket.read(&mut request).await.unwrap_or(0);
                    let line = String::from_utf8_lossy(&request[..n]).lines().next().unwrap_or("").to_owned();
                    let answer = if line.contains(" /jwks ") {
                        ok(&jwks, "application/json")
                    } else {
                        ok(&body, "application/jose")
                    };
                    let _ = socket.write_all(&answer).await;
                });
            }
        });
        addr
    }

    fn test_signer() -> crate::adapters::local_signer::LocalSigner {
        crate::adapters::local_signer::LocalSigner::new(
            include_str!("../../../tests/fixtures/jws/leaf.pk8.pem"),
            include_bytes!("../../../tests/fixtures/jws/chain.pem"),
            Some("test-1"),
        )
        .unwrap()
    }

    fn signed(payload: &[u8], jku: &str) -> Vec<u8> {
        let signer = test_signer();
        let rt = tokio::runtime::Handle::current();
        tokio::task::block_in_place(|| rt.block_on(signed_payloads::sign(&signer, payload, jku))).unwrap().into_bytes()
    }

    const PAYLOAD: &[u8] =
        br#"{"status":"ATIVA","txid":"tucanotest00000000000000000001","valor":{"original":"10.00"}}"#;

    #[tokio::test(flavor = "multi_thread")]
    async fn a_signed_payload_is_read_once_its_signature_and_certificate_check_out() {
        let at = psp(|jku| signed(PAYLOAD, jku)).await;
        let read = dev().read(&format!("{at}/qr/v2/x")).await.unwrap();
        assert!(read.ativa);
        assert_eq!(read.txid.as_deref(), Some("tucanotest00000000000000000001"));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn unsigned_tampered_foreign_and_untrusted_payloads_are_refused() {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let unsigned = psp(|_| PAYLOAD.to_vec()).await;
        assert_eq!(dev().read(&format!("{unsigned}/qr/v2/x")).await.unwrap_err(), LocationFailure::NotSigned);

        let tampered = psp(|jku| {
            let jws = String::from_utf8(signed(PAYLOAD, jku)).unwrap();
            let mut parts: Vec<String> = jws.split('.').map(str::to_owned).collect();
            parts[1] = b64.encode(br#"{"status":"ATIVA","valor":{"original":"0.01"}}"#);
            parts.join(".").into_bytes()
        })
        .await;
        assert_eq!(dev().read(&format!("{tampered}/qr/v2/x")).await.unwrap_err(), LocationFailure::BadSignature);

        // A key set on another host is never fetched: a loopback listener that must see no
        // connection stands in for it.
        let elsewhere = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let foreign_jku = format!("http://localhost:{}/jwks", elsewhere.local_addr().unwrap().port());
        let foreign = psp(move |_| signed(PAYLOAD, &foreign_jku)).await;
        assert_eq!(dev().read(&format!("{foreign}/qr/v2/x")).await.unwrap_err(), LocationFailure::BadSignature);
        let contacted = tokio::time::timeout(Duration::from_millis(200), elsewhere.accept()).await;
        assert!(contacted.is_err(), "the foreign key set was fetched");

        let none = psp(|jku| {
            let header = b64.encode(format!(r#"{{"alg":"none","kid":"test-1","x5t":"x","jku":"{jku}"}}"#));
            format!("{header}.{}.", b64.encode(PAYLOAD)).into_bytes()
        })
        .await;
        assert_eq!(dev().read(&format!("{none}/qr/v2/x")).await.unwrap_err(), LocationFailure::NotSigned);

        // Signed with a key whose CA we do not trust.
        let good = psp(|jku| signed(PAYLOAD, jku)).await;
        let strict = HttpLocationReader::new(ReceiverRules { allow_local: true }, TrustStore::public_roots());
        assert_eq!(strict.read(&format!("{good}/qr/v2/x")).await.unwrap_err(), LocationFailure::BadSignature);
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

    fn at(rfc3339: &str) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::parse_from_rfc3339(rfc3339).unwrap().into()
    }

    #[test]
    fn a_charge_with_a_due_date_is_paid_its_final_amount_not_its_original() {
        let payload = serde_json::json!({
            "status": "ATIVA", "chave": "k", "txid": "t",
            "calendario": {"dataDeVencimento": "2026-12-01", "validadeAposVencimento": 30},
            "valor": {"original": "100.00", "multa": "2.00", "juros": "1.50", "final": "103.50"}
        });
        let t = terms(&payload, at("2026-12-03T12:00:00Z"));
        assert!(t.ativa);
        assert_eq!(t.valor, Some(Amount::parse("103.50").unwrap()));
        // Only `final` is required of a charge with a due date.
        let only_final = serde_json::json!({"status": "ATIVA", "valor": {"final": "95.00"}});
        assert_eq!(terms(&only_final, at("2026-12-03T12:00:00Z")).valor, Some(Amount::parse("95.00").unwrap()));
    }

    #[test]
    fn an_immediate_charge_past_its_expiry_is_not_payable_though_its_status_reads_ativa() {
        let payload = serde_json::json!({
            "status": "ATIVA", "chave": "k", "txid": "t",
            "calendario": {"criacao": "2026-12-03T12:00:00-03:00", "apresentacao": "2026-12-03T12:00:05-03:00", "expiracao": 3600},
            "valor": {"original": "10.00"}
        });
        assert!(terms(&payload, at("2026-12-03T15:59:59Z")).ativa);
        assert!(!terms(&payload, at("2026-12-03T16:00:00Z")).ativa);
        assert_eq!(terms(&payload, at("2026-12-03T15:00:00Z")).valor, Some(Amount::parse("10.00").unwrap()));
        // An expiry too far off to reckon is treated as passed, not as never.
        let absurd = serde_json::json!({"status": "ATIVA", "calendario": {"criacao": "2026-12-03T12:00:00Z", "expiracao": i64::MAX}});
        assert!(!terms(&absurd, at("2026-12-03T12:00:01Z")).ativa);
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
        let production = HttpLocationReader::new(ReceiverRules::default(), TrustStore::public_roots());
        for location in [format!("{at}/x"), "169.254.169.254/latest".into(), "[::ffff:10.0.0.1]/x".into()] {
            assert_eq!(production.read(&location).await.unwrap_err(), LocationFailure::Blocked, "{location}");
        }
    }
}
