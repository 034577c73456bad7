//! The `PixRail` port over HTTP: orders go to a rail (the sandbox locally, a sponsor bank
//! adapter in production) as signed JSON.
//!
//! What an answer means, and nothing more: 2xx accepted; 409 "I already have this order"
//! accepted too (orders are idempotent); 422 with a final rejection code rejected; every
//! other answer — a timeout, a connection error, 408, 425, 429, 5xx, a 4xx without a known
//! code — is an unknown outcome, left to the reconciler. Nothing is voided on a guess.

use super::lazy_client::LazyClient;
use crate::domain::document::Document;
use crate::domain::money::Amount;
use crate::domain::payment::IncomingPix;
use crate::domain::payment::RefundOrder;
use crate::domain::rec::charge::is_attempt_rejection_code;
use crate::domain::text::free_text;
use crate::domain::transfer::{DictEntry, Receiver, Transfer, MAX_HOLDER_NAME};
use crate::domain::verdict::{RailVerdict, Rejection, RejectionCode};
use crate::ports::{PixRail, RailCancel, RailError, RailStatus};
use crate::rail::incoming::incoming;
use crate::rail::protocol::{
    ContaDestino, EntradaDict, OrdemDevolucao, OrdemPagamento, PixRecebido, Rejeicao, StatusOrdem,
};

/// The rail's statement of Pix paid in.
#[derive(serde::Deserialize)]
struct Extrato {
    pix: Vec<PixRecebido>,
}
use crate::ports::HeldSecret;
use crate::rail::signature::{sign, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use anyhow::anyhow;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

/// A transport failure, without its URL: a DICT lookup's URL carries the Pix key looked up
/// (a CPF, an e-mail), and these errors are logged.
fn transport(e: reqwest::Error) -> RailError {
    RailError::Unavailable(e.without_url().into())
}

pub struct HttpRail {
    base: String,
    secret: Arc<dyn HeldSecret>,
    client: LazyClient,
}

impl HttpRail {
    /// A client for the rail at `base` (e.g. `http://127.0.0.1:3100`), built on first use;
    /// a call that takes longer than `timeout` has an unknown outcome.
    pub fn new(base: &str, secret: Arc<dyn HeldSecret>, timeout: Duration) -> Self {
        let client = LazyClient::new(move || {
            reqwest::Client::builder()
                .timeout(timeout)
                .connect_timeout(Duration::from_secs(3))
                .redirect(reqwest::redirect::Policy::none())
        });
        HttpRail { base: base.trim_end_matches('/').to_owned(), secret, client }
    }
}

impl HttpRail {
    /// A signed request (the signature covers the body; GETs sign an empty body).
    async fn signed(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Vec<u8>,
    ) -> Result<reqwest::RequestBuilder, RailError> {
        // The rail checks our timestamp against its own clock: wall time.
        let ts = crate::ports::SystemClock::wall().timestamp();
        let client = self.client.get().map_err(transport)?;
        let secret = self.secret.versions().await.map_err(|e| RailError::Unavailable(e.into()))?.current;
        Ok(client
            .request(method, format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .header(TIMESTAMP_HEADER, ts.to_string())
            .header(SIGNATURE_HEADER, sign(&secret, ts, &body))
            .body(body))
    }

    /// Sends a signed request. A 401 may mean the rail moved to a rotated secret this
    /// function has not read yet: the secret is read again (at most once a minute) and,
    /// if it changed, the request goes once more (orders are idempotent on their ids).
    async fn send(&self, method: reqwest::Method, path: &str, body: Vec<u8>) -> Result<reqwest::Response, RailError> {
        let res = self.signed(method.clone(), path, body.clone()).await?.send().await.map_err(transport)?;
        if res.status() == reqwest::StatusCode::UNAUTHORIZED && self.secret.reread().await {
            return self.signed(method, path, body).await?.send().await.map_err(transport);
        }
        Ok(res)
    }

    async fn order(&self, path: &str, body: Vec<u8>) -> Result<(), RailError> {
        let res = self.send(reqwest::Method::POST, path, body).await?;
        let status = res.status();
        if status.is_success() || status == reqwest::StatusCode::CONFLICT {
            return Ok(());
        }
        if status == reqwest::StatusCode::UNPROCESSABLE_ENTITY {
            let body = res.bytes().await.map_err(transport)?;
            if let Some(rejection) = rejection_of(&body) {
                return Err(RailError::Rejected(rejection));
            }
            return Err(RailError::Unavailable(anyhow!("rail answered 422 without a final rejection code")));
        }
        Err(RailError::Unavailable(anyhow!("rail answered {status}")))
    }

    /// A cancellation: what the payer's bank answers of it (`{"status": ...}`; 404: it never
    /// got the thing). Anything else is an unknown outcome.
    async fn cancel(&self, path: &str, body: Vec<u8>) -> Result<RailCancel, RailError> {
        let res = self.send(reqwest::Method::POST, path, body).await?;
        if res.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(RailCancel::Unknown);
        }
        if !res.status().is_success() {
            return Err(RailError::Unavailable(anyhow!("rail answered {}", res.status())));
        }
        #[derive(serde::Deserialize)]
        struct Answer {
            status: String,
        }
        let answer: Answer = res.json().await.map_err(transport)?;
        match answer.status.as_str() {
            "CANCELADA" => Ok(RailCancel::Cancelled),
            s if ENDED_OTHERWISE.contains(&s) => Ok(RailCancel::AlreadyEnded(answer.status)),
            // Neither cancelled nor a status we know: no outcome, asked again.
            _ => Err(RailError::Unavailable(anyhow!("rail answered a cancellation with an unknown status"))),
        }
    }

    async fn status(&self, path: &str) -> Result<RailStatus, RailError> {
        let res = self.send(reqwest::Method::GET, path, vec![]).await?;
        if res.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(RailStatus::Unknown);
        }
        if !res.status().is_success() {
            return Err(RailError::Unavailable(anyhow!("rail answered {}", res.status())));
        }
        let s: StatusOrdem = res.json().await.map_err(transport)?;
        status_of(&s)
    }
}

/// The statuses a cancellation may find its subject in instead of cancelled: a request the
/// payer answered or that expired, a recurrence still active, an attempt still scheduled
/// (too late to withdraw), paid or refused.
const ENDED_OTHERWISE: [&str; 7] = ["ACEITA", "REJEITADA", "EXPIRADA", "ATIVA", "AGENDADA", "PAGA", "RECEBIDA"];

/// A final rejection in a 422 body, if it carries a code we know to be final.
fn rejection_of(body: &[u8]) -> Option<Rejection> {
    let r: Rejeicao = serde_json::from_slice(body).ok()?;
    Some(Rejection { code: RejectionCode::parse(&r.codigo)?, detail: r.motivo })
}

/// What a status answer says. A REJEITADO without a final code, a LIQUIDADO without its
/// time or with an amount that does not parse, or a status we do not know is not a verdict.
fn status_of(s: &StatusOrdem) -> Result<RailStatus, RailError> {
    let unclear = |why: &str| Err(RailError::Unavailable(anyhow!("rail status unclear: {why}")));
    match s.status.as_str() {
        "EM_PROCESSAMENTO" => Ok(RailStatus::Pending),
        "LIQUIDADO" => {
            let Some(at) = s.horario.as_deref().and_then(|h| chrono::DateTime::parse_from_rfc3339(h).ok()) else {
                return unclear("LIQUIDADO without a valid horario");
            };
            let valor = match s.valor.as_deref().map(Amount::parse) {
                None => None,
                Some(Ok(v)) if !v.is_zero() => Some(v),
                Some(_) => return unclear("LIQUIDADO with an invalid valor"),
            };
            Ok(RailStatus::Decided(RailVerdict::Settled { at: at.to_utc(), valor }))
        }
        "REJEITADO" => match s.codigo.as_deref().and_then(RejectionCode::parse) {
            Some(code) => Ok(RailStatus::Decided(RailVerdict::Rejected(Rejection { code, detail: s.motivo.clone() }))),
            None => unclear("REJEITADO without a final code"),
        },
        _ => unclear("unknown status"),
    }
}

/// A refund order on the wire.
fn refund_order(o: &RefundOrder) -> OrdemDevolucao {
    OrdemDevolucao {
        rtr_id: o.rtr_id.as_str().to_owned(),
        end_to_end_id: o.end_to_end_id.as_str().to_owned(),
        valor: o.valor.to_string(),
        descricao: o.descricao.clone(),
    }
}

/// A transfer's payment order on the wire: to its key, or to its bank account.
fn payment_order(t: &Transfer) -> OrdemPagamento {
    let (chave, conta) = match &t.favorecido {
        Receiver::Key(k) => (Some(k.as_str().to_owned()), None),
        Receiver::Account(a) => {
            let (cpf, cnpj) = match &a.documento {
                Document::Cpf(c) => (Some(c.as_str().to_owned()), None),
                Document::Cnpj(c) => (None, Some(c.as_str().to_owned())),
            };
            let conta = ContaDestino {
                ispb: a.ispb.clone(),
                agencia: a.agencia.clone(),
                conta: a.conta.clone(),
                tipo_conta: a.tipo.as_str().to_owned(),
                cpf,
                cnpj,
                nome: a.nome.clone(),
            };
            (None, Some(conta))
        }
    };
    OrdemPagamento {
        end_to_end_id: t.end_to_end_id.as_str().to_owned(),
        valor: t.valor.to_string(),
        chave,
        conta,
        descricao: t.descricao.clone(),
    }
}

fn segment(s: &str) -> percent_encoding::PercentEncode<'_> {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC)
}

fn body_of(value: &impl serde::Serialize) -> Result<Vec<u8>, RailError> {
    serde_json::to_vec(value).map_err(|e| RailError::Unavailable(e.into()))
}

#[async_trait]
impl PixRail for HttpRail {
    async fn send_solicitation(&self, s: &crate::rail::protocol::SolicitacaoRec) -> Result<(), RailError> {
        self.order("/recorrencias/solicitacoes", body_of(s)?).await
    }

    async fn cancel_solicitation(&self, id_solic_rec: &str) -> Result<RailCancel, RailError> {
        self.cancel(&format!("/recorrencias/solicitacoes/{}/cancelamento", segment(id_solic_rec)), vec![]).await
    }

    async fn cancel_recurrence(
        &self,
        id_rec: &str,
        cancelamento: &crate::rail::protocol::Cancelamento,
    ) -> Result<RailCancel, RailError> {
        self.cancel(&format!("/recorrencias/{}/cancelamento", segment(id_rec)), body_of(cancelamento)?).await
    }

    async fn send_attempt(&self, a: &crate::rail::protocol::AgendamentoCobR) -> Result<(), RailError> {
        self.order("/cobrancas-recorrentes", body_of(a)?).await
    }

    async fn attempt_status(&self, e2eid: &str) -> Result<crate::ports::AttemptAtBank, RailError> {
        use crate::ports::AttemptAtBank;
        let res =
            self.send(reqwest::Method::GET, &format!("/cobrancas-recorrentes/{}", segment(e2eid)), vec![]).await?;
        if res.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(AttemptAtBank::Unknown);
        }
        if !res.status().is_success() {
            return Err(RailError::Unavailable(anyhow!("rail answered {}", res.status())));
        }
        #[derive(serde::Deserialize)]
        struct Answer {
            status: String,
            codigo: Option<String>,
        }
        let a: Answer = res.json().await.map_err(transport)?;
        Ok(match (a.status.as_str(), a.codigo) {
            ("AGENDADA", _) => AttemptAtBank::Scheduled,
            ("PAGA", _) => AttemptAtBank::Paid,
            ("CANCELADA", _) => AttemptAtBank::Cancelled,
            // Only a code of the spec's list: another would be stored, announced and judged
            // retryable, or refused by the database on every pass.
            ("REJEITADA", Some(code)) if is_attempt_rejection_code(&code) => AttemptAtBank::Rejected(code),
            _ => return Err(RailError::Unavailable(anyhow!("the rail's answer is not a verdict"))),
        })
    }

    async fn cancel_attempt(&self, e2eid: &str) -> Result<RailCancel, RailError> {
        self.cancel(&format!("/cobrancas-recorrentes/{}/cancelamento", segment(e2eid)), vec![]).await
    }

    async fn send_refund(&self, order: &RefundOrder) -> Result<(), RailError> {
        let body = serde_json::to_vec(&refund_order(order)).map_err(|e| RailError::Unavailable(e.into()))?;
        self.order("/devolucoes", body).await
    }

    async fn send_pix(&self, transfer: &Transfer) -> Result<(), RailError> {
        let body = serde_json::to_vec(&payment_order(transfer)).map_err(|e| RailError::Unavailable(e.into()))?;
        self.order("/envios", body).await
    }

    async fn lookup_key(&self, chave: &str) -> Result<Option<DictEntry>, RailError> {
        let path =
            format!("/dict/{}", percent_encoding::utf8_percent_encode(chave, percent_encoding::NON_ALPHANUMERIC));
        let res = self.send(reqwest::Method::GET, &path, vec![]).await?;
        match res.status() {
            reqwest::StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => {
                let e: EntradaDict = res.json().await.map_err(transport)?;
                // A holder's document reaches the merchant masked whatever the DICT sent (it
                // sends tax ids in full), and a name that would not fit a transfer's record
                // is no answer: the lookup is asked again, not half-stored.
                let unclear = |what: &str| RailError::Unavailable(anyhow!("the DICT's answer has an unusable {what}"));
                Ok(Some(DictEntry {
                    chave: e.chave,
                    tipo_chave: e.tipo_chave,
                    nome: free_text(&e.nome, MAX_HOLDER_NAME).ok_or_else(|| unclear("name"))?,
                    documento: Document::shown(&e.documento).ok_or_else(|| unclear("document"))?,
                    ispb: e.ispb,
                }))
            }
            s => Err(RailError::Unavailable(anyhow!("rail answered {s}"))),
        }
    }

    async fn refund_status(&self, rtr_id: &str) -> Result<RailStatus, RailError> {
        self.status(&format!("/devolucoes/{rtr_id}")).await
    }

    async fn transfer_status(&self, e2eid: &str) -> Result<RailStatus, RailError> {
        self.status(&format!("/envios/{e2eid}")).await
    }

    async fn received_since(&self, since: chrono::DateTime<chrono::Utc>) -> Result<Vec<IncomingPix>, RailError> {
        let desde = since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let path = format!(
            "/recebidos?desde={}",
            percent_encoding::utf8_percent_encode(&desde, percent_encoding::NON_ALPHANUMERIC)
        );
        let res = self.send(reqwest::Method::GET, &path, vec![]).await?;
        if !res.status().is_success() {
            return Err(RailError::Unavailable(anyhow!("rail answered {}", res.status())));
        }
        let statement: Extrato = res.json().await.map_err(transport)?;
        let mut out = Vec::with_capacity(statement.pix.len());
        for p in &statement.pix {
            match incoming(p) {
                Ok(pix) => out.push(pix),
                Err(_) => tracing::error!("the rail's statement has a Pix that does not parse; left out"),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failed_key_lookup_does_not_carry_the_key_in_its_error() {
        // The key is in the request's URL; the error (which is logged) must not repeat it.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let rail = HttpRail::new(
            &format!("http://{closed}"),
            Arc::new(crate::app::secrets::RotatingSecret::fixed(b"secret".to_vec(), None)),
            Duration::from_secs(1),
        );
        let Err(RailError::Unavailable(e)) = rail.lookup_key("52998224725").await else { panic!("not unavailable") };
        let text = format!("{e:#} {e:?}");
        assert!(!text.contains("52998224725") && !text.contains("/dict"), "{text}");
    }

    /// A secret store whose value the test rotates.
    struct Store(std::sync::Mutex<&'static [u8]>);

    #[async_trait]
    impl crate::ports::SecretSource for Store {
        async fn read(&self, _: &str) -> Result<crate::ports::SecretVersions, crate::ports::StoreError> {
            Ok(crate::ports::SecretVersions { current: self.0.lock().unwrap().to_vec(), previous: None })
        }
    }

    #[tokio::test]
    async fn after_the_rail_moves_to_a_rotated_secret_the_next_call_reads_it_and_goes_through() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        const NEW: &[u8] = b"rail-secret-after-rotation";
        // A loopback rail that accepts only messages signed with the new secret.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut buf = vec![0u8; 8192];
                let n = socket.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).to_lowercase();
                let header = |name: &str| {
                    head.lines()
                        .find_map(|l| l.strip_prefix(&format!("{name}: ")).map(str::to_owned))
                        .unwrap_or_default()
                };
                let ts: i64 = header(TIMESTAMP_HEADER).trim().parse().unwrap_or(0);
                let answer: &[u8] = if header(SIGNATURE_HEADER).trim() == sign(NEW, ts, b"") {
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 10\r\nconnection: close\r\n\r\n{\"pix\":[]}"
                } else {
                    b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                };
                let _ = socket.write_all(answer).await;
            }
        });
        let store = Arc::new(Store(std::sync::Mutex::new(b"rail-secret-before-rotation")));
        let secret = crate::app::secrets::RotatingSecret::from_source(store.clone(), "rail".into(), 16)
            .reread_after(Duration::ZERO);
        let rail = HttpRail::new(&format!("http://{addr}"), Arc::new(secret), Duration::from_secs(2));
        let first = rail.received_since(chrono::Utc::now()).await;
        assert!(matches!(first, Err(RailError::Unavailable(_))), "the old secret is refused");
        *store.0.lock().unwrap() = NEW;
        let statement = rail.received_since(chrono::Utc::now()).await;
        assert!(statement.is_ok_and(|pix| pix.is_empty()), "a 401 leads to a re-read and one more try");
    }

    /// A loopback rail that answers every request 200 with `body`.
    async fn answering(body: &'static str) -> HttpRail {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut buf = vec![0u8; 8192];
                let _ = socket.read(&mut buf).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(format!("{head}{body}").as_bytes()).await;
            }
        });
        let secret = Arc::new(crate::app::secrets::RotatingSecret::fixed(b"secret".to_vec(), None));
        HttpRail::new(&format!("http://{addr}"), secret, Duration::from_secs(2))
    }

    #[tokio::test]
    async fn a_dict_answer_reaches_the_merchant_masked_and_clean_or_not_at_all() {
        let full = r#"{"chave": "52998224725", "tipoChave": "CPF", "nome": "Joao\u0000Pereira",
                       "documento": "52998224725", "ispb": "00360305"}"#;
        let entry = answering(full).await.lookup_key("52998224725").await.unwrap().unwrap();
        assert_eq!((entry.documento.as_str(), entry.nome.as_str()), ("***.982.247-**", "Joao Pereira"));
        let garbled = r#"{"chave": "52998224725", "tipoChave": "CPF", "nome": "Joao",
                          "documento": "Joao Pereira, 52998224725", "ispb": "00360305"}"#;
        assert!(matches!(answering(garbled).await.lookup_key("52998224725").await, Err(RailError::Unavailable(_))));
    }

    #[tokio::test]
    async fn a_cancellation_answered_with_a_status_we_do_not_know_has_no_outcome() {
        let cancelled = answering(r#"{"status": "CANCELADA"}"#).await;
        assert_eq!(cancelled.cancel_attempt("E1").await.ok(), Some(RailCancel::Cancelled));
        let too_late = answering(r#"{"status": "AGENDADA"}"#).await;
        assert_eq!(too_late.cancel_attempt("E1").await.ok(), Some(RailCancel::AlreadyEnded("AGENDADA".into())));
        for body in [r#"{"status": "cancelada"}"#, r#"{"status": "EM_ANALISE"}"#, r#"{"status": ""}"#] {
            let garbled = answering(body).await;
            assert!(matches!(garbled.cancel_attempt("E1").await, Err(RailError::Unavailable(_))), "{body}");
        }
    }

    #[tokio::test]
    async fn an_attempt_rejected_with_a_code_outside_the_spec_is_no_verdict() {
        let known = answering(r#"{"status": "REJEITADA", "codigo": "AM02"}"#).await;
        assert!(
            matches!(known.attempt_status("E1").await, Ok(crate::ports::AttemptAtBank::Rejected(c)) if c == "AM02")
        );
        for body in [r#"{"status": "REJEITADA", "codigo": "ZZZZ"}"#, r#"{"status": "REJEITADA", "codigo": "bad-code"}"#]
        {
            assert!(
                matches!(answering(body).await.attempt_status("E1").await, Err(RailError::Unavailable(_))),
                "{body}"
            );
        }
    }

    fn status(json: serde_json::Value) -> Result<RailStatus, RailError> {
        status_of(&serde_json::from_value(json).unwrap())
    }

    #[test]
    fn only_a_known_final_code_in_a_422_is_a_rejection() {
        let r = rejection_of(br#"{"codigo": "AC07", "motivo": "encerrada"}"#).unwrap();
        assert_eq!(r.code, RejectionCode::Ac07);
        for body in [&br#"{"codigo": "XX99"}"#[..], br#"{"erro": "chave"}"#, b"", b"<html>"] {
            assert!(rejection_of(body).is_none(), "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn a_status_is_a_verdict_only_when_it_is_explicit() {
        assert!(matches!(status(serde_json::json!({"status": "EM_PROCESSAMENTO"})), Ok(RailStatus::Pending)));
        assert!(matches!(
            status(serde_json::json!({"status": "REJEITADO", "codigo": "AC03"})),
            Ok(RailStatus::Decided(RailVerdict::Rejected(_)))
        ));
        assert!(matches!(
            status(serde_json::json!({"status": "LIQUIDADO", "horario": "2026-12-01T10:00:00Z", "valor": "1.00"})),
            Ok(RailStatus::Decided(RailVerdict::Settled { valor: Some(_), .. }))
        ));
        for unclear in [
            serde_json::json!({"status": "REJEITADO"}),
            serde_json::json!({"status": "REJEITADO", "codigo": "TIMEOUT"}),
            serde_json::json!({"status": "LIQUIDADO"}),
            serde_json::json!({"status": "LIQUIDADO", "horario": "2026-12-01T10:00:00Z", "valor": "abc"}),
            serde_json::json!({"status": "CANCELADO"}),
        ] {
            assert!(matches!(status(unclear.clone()), Err(RailError::Unavailable(_))), "{unclear}");
        }
    }
}
