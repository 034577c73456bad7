//! The sandbox Pix rail: a separate process that plays the payer's bank and the SPI.
//!
//! It pays BR Codes (reading dynamic payloads from their location, as a payer's bank
//! does), keeps a small DICT, takes refund and Pix orders from Tucano and settles or
//! rejects them (with final reason codes), sends back Pix it received (returns), keeps a
//! statement of the Pix it paid in, and tells Tucano about each event with signed
//! notifications, with retries when Tucano does not answer 2xx. Its fault profile
//! (`faults`) makes it misbehave on request: latency, throttles, server errors and
//! timeouts, dropped, duplicated and reordered notifications, contradictory verdicts.
//!
//! For Pix Automático it is the payer's bank (`automatico`): it shows confirmation requests
//! to a simulated payer who approves, rejects or leaves them for the developer, schedules
//! the attempts Tucano sends and debits them on their day by a simulated clock (shared with
//! Tucano through `SANDBOX_CLOCK_FILE`), and lets the payer cancel.

mod automatico;
mod dict;
pub mod faults;
mod notify;
mod orders;
mod pay;
mod statement;

use axum::routing::{get, post, put};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

/// ISPB the sandbox uses as the payer's bank in the ids it makes.
pub const SANDBOX_ISPB: &str = "SANDBOX0";

/// How the sandbox ends orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Decision {
    Liquidar,
    Rejeitar,
}

/// What `PUT /controle` sets.
#[derive(Debug, Clone)]
pub(crate) struct Control {
    refunds: Decision,
    transfers: Decision,
    notify: bool,
    /// How the simulated payer answers Pix Automático confirmation requests.
    recurrences: automatico::Approval,
    /// How many of the next debits fail for lack of funds.
    unfunded_debits: u32,
    /// The reason code of those failures.
    failure_code: String,
}

/// Sandbox configuration.
#[derive(Clone)]
pub struct RailConfig {
    /// Tucano's base URL: notifications go to `{tucano_url}/rail/notificacoes`.
    pub tucano_url: String,
    pub secret: Vec<u8>,
    /// Scheme used to read payload locations (`http` locally, `https` for real hosts).
    pub location_scheme: String,
    /// The CAs whose payload signatures the rail, as a payer's bank, accepts.
    pub trust: std::sync::Arc<tucano_shared::domain::jws::TrustStore>,
}

pub(crate) struct RailState {
    config: RailConfig,
    client: reqwest::Client,
    orders: Mutex<HashMap<String, orders::OrderRecord>>,
    control: Mutex<Control>,
    faults: Mutex<faults::Faults>,
    /// Every Pix paid in, whatever happened to its notifications.
    received: Mutex<Vec<tucano_shared::rail::protocol::PixRecebido>>,
    /// Pix Automático: requests, recurrences and scheduled attempts.
    automatico: Mutex<automatico::Book>,
    /// The simulated day attempts are debited on.
    clock: automatico::SimClock,
}

pub(crate) type Shared = Arc<RailState>;

/// Binds `addr` and serves the sandbox rail, misbehaving as `profile` says, until the
/// process ends; returns the address.
pub async fn spawn(
    addr: SocketAddr,
    config: RailConfig,
    profile: faults::FaultProfile,
) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    profile.validate().map_err(|e| anyhow::anyhow!("fault profile: {e}"))?;
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let state = Arc::new(RailState {
        config,
        client,
        orders: Mutex::new(HashMap::new()),
        control: Mutex::new(Control {
            refunds: Decision::Liquidar,
            transfers: Decision::Liquidar,
            notify: true,
            recurrences: automatico::Approval::Aprovar,
            unfunded_debits: 0,
            failure_code: automatico::DEFAULT_FAILURE.into(),
        }),
        faults: Mutex::new(faults::Faults::new(profile)),
        received: Mutex::new(vec![]),
        automatico: Mutex::new(automatico::Book::default()),
        clock: automatico::SimClock::from_env(),
    });
    let app = axum::Router::new()
        .route("/saude", get(|| async { "ok" }))
        .route("/pagamentos", post(pay::pay))
        .route("/devolucoes", post(orders::refund))
        .route("/devolucoes/{id}", get(orders::status))
        .route("/envios", post(orders::transfer))
        .route("/envios/{id}", get(orders::status))
        .route("/envios/{id}/devolucao", post(orders::send_back))
        .route("/recebidos", get(statement::received))
        .route("/falhas", get(orders::get_faults).put(orders::set_faults))
        .route("/dict/{chave}", get(dict::get))
        .route("/controle", put(orders::control).get(orders::undecided))
        .route("/recorrencias/solicitacoes", post(automatico::solicitation))
        .route("/recorrencias/solicitacoes/{id}/cancelamento", post(automatico::cancel_solicitation))
        .route("/recorrencias/{id}/cancelamento", post(automatico::cancel_recurrence))
        .route("/cobrancas-recorrentes", post(automatico::schedule))
        .route("/cobrancas-recorrentes/{id}", get(automatico::attempt_status))
        .route("/cobrancas-recorrentes/{id}/cancelamento", post(automatico::cancel_attempt))
        .route("/pagador", get(automatico::payer))
        .route("/pagador/solicitacoes/{id}/aprovar", post(automatico::approve))
        .route("/pagador/solicitacoes/{id}/rejeitar", post(automatico::reject))
        .route("/pagador/recorrencias/{id}/cancelamento", post(automatico::payer_cancel_recurrence))
        .route("/pagador/agendamentos/{id}/cancelamento", post(automatico::payer_cancel_attempt))
        .route("/relogio", get(automatico::clock))
        .route("/relogio/avancar", post(automatico::advance))
        .with_state(state.clone());
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    // Attempts fall due as the (simulated) days pass, not only when someone advances them.
    tokio::spawn(automatico::run_debits(state));
    let handle = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "sandbox rail stopped");
        }
    });
    Ok((local, handle))
}
