//! Test support: a real server on a random port over a fresh Postgres database, and
//! merchants to call it with; a moto server for the AWS adapters.

#![allow(dead_code, unused_imports)]

pub mod certs;
pub mod moto;
pub mod receiver;

use reqwest::{Client, Method, RequestBuilder, Response};
use serde_json::{json, Value};
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncBufReadExt;
use tucano_shared::app::{AppState, Config};
use tucano_shared::domain::ledger::FeePlan;
use tucano_shared::domain::merchant::ApiKey;
use tucano_shared::domain::money::Amount;
use tucano_shared::ports::{Ledger, NewMerchant};

/// A running API and a client for it.
pub struct TestApp {
    pub base: String,
    pub pool: PgPool,
    pub state: AppState,
    client: Client,
    /// The sandbox rail, a separate process, when started.
    pub rail: Option<Rail>,
}

/// The sandbox rail process (killed when dropped).
pub struct Rail {
    pub url: String,
    _child: tokio::process::Child,
}

impl Rail {
    /// The sandbox rail (its own process, as `make dev` runs it) notifying `tucano_url`,
    /// on the sandbox clock in `clock_file` if given.
    pub async fn spawn(tucano_url: &str, clock_file: Option<&std::path::Path>) -> Rail {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_tucano"));
        if let Some(file) = clock_file {
            command.env(tucano_shared::adapters::sandbox_clock::CLOCK_FILE_ENV, file);
        }
        let mut child = command
            .args(["sandbox-rail", "--port", "0", "--tucano-url", tucano_url])
            .env("RAIL_WEBHOOK_SECRET", RAIL_SECRET)
            .env("PAYLOAD_TRUST_STORE", fixture("jws/ca.pem"))
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await.unwrap().unwrap().unwrap();
        let rail_addr = first.rsplit(' ').next().unwrap().to_owned();
        Rail { url: format!("http://{rail_addr}"), _child: child }
    }
}

/// Serves `app` on a new loopback port; its base URL.
pub async fn serve_on_loopback(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

pub const RAIL_SECRET: &str = "test-rail-secret-0123456789";
/// The local cipher's key in tests that start other processes on the same database.
pub const TEST_MASTER_KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/// Webhooks to the loopback test receivers, a 1 s timeout and ten attempts (as in
/// production) less than a second apart.
/// A file of `tests/fixtures/`.
pub fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Payloads signed with the TEST-ONLY key (`tests/fixtures/jws/`), other PSPs' trusted
/// when signed by its CA.
pub fn test_payload_signing() -> tucano_shared::app::PayloadSigning {
    tucano_shared::app::PayloadSigning::local_files(
        &fixture("jws/leaf.pk8.pem"),
        &fixture("jws/chain.pem"),
        Some(&fixture("jws/ca.pem")),
    )
    .unwrap()
}

pub fn test_webhooks() -> tucano_shared::app::WebhookSettings {
    tucano_shared::app::WebhookSettings {
        rules: tucano_shared::domain::webhook::ReceiverRules { allow_local: true },
        // Long enough for a loaded machine (a test that wants a receiver to time out
        // shortens it).
        timeout: Duration::from_secs(5),
        retry: tucano_shared::domain::webhook::RetryPolicy::parse("0.05,0.05,0.05,0.1,0.1,0.1,0.1,0.1,0.1").unwrap(),
    }
}

/// A registered merchant: its API key and its receiving Pix key.
pub struct TestMerchant {
    pub id: tucano_shared::domain::merchant::MerchantId,
    /// Its first OAuth client (every scope): what `request` authenticates as.
    pub client_id: String,
    /// Its legacy API key (an alias for a client with every scope).
    pub api_key: String,
    pub pix_key: String,
}

pub const LOCATION_BASE: &str = "pix.tucano.test/qr/v2";

impl TestApp {
    /// The API alone (no rail).
    pub async fn spawn(pool: PgPool) -> TestApp {
        Self::spawn_configured(pool, |_| {}).await
    }

    /// The API alone, its configuration changed by `change` first.
    pub async fn spawn_configured(pool: PgPool, change: impl FnOnce(&mut Config)) -> TestApp {
        Self::spawn_configured_at(pool, Arc::new(tucano_shared::ports::SystemClock), change).await
    }

    /// The API alone, configured by `change`, on the given clock.
    pub async fn spawn_configured_at(
        pool: PgPool,
        clock: Arc<dyn tucano_shared::ports::Clock>,
        change: impl FnOnce(&mut Config),
    ) -> TestApp {
        let mut config = Config::new("postgres://unused".into(), 5, LOCATION_BASE.into())
            .map(|mut c| {
                c.payloads = test_payload_signing();
                c
            })
            .and_then(|c| c.with_rail("http://127.0.0.1:9", RAIL_SECRET.as_bytes()))
            .unwrap();
        change(&mut config);
        let state = AppState::with_pool(config, as_application(&pool).await).unwrap().with_clock(clock);
        let addr = tucano::server::spawn("127.0.0.1:0".parse().unwrap(), state.clone()).await.unwrap();
        TestApp { base: format!("http://{addr}"), pool, state, client: Client::new(), rail: None }
    }

    /// The API and the sandbox rail as a separate process, talking HTTP both ways.
    pub async fn spawn_with_rail(pool: PgPool) -> TestApp {
        Self::spawn_with_rail_at(pool, Arc::new(tucano_shared::ports::SystemClock)).await
    }

    /// The same, with the API's clock fixed (for time-dependent rules).
    pub async fn spawn_with_rail_at(pool: PgPool, clock: Arc<dyn tucano_shared::ports::Clock>) -> TestApp {
        Self::spawn_with_rail_configured(pool, clock, |_| {}).await
    }

    /// The API and the sandbox rail on one simulated clock (the sandbox's clock file, in a
    /// fresh directory), which `POST /relogio/avancar` on the rail moves for both.
    pub async fn spawn_with_rail_on_sandbox_clock(pool: PgPool) -> TestApp {
        let dir = std::env::temp_dir().join(format!("tucano-clock-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("clock");
        let clock = Arc::new(tucano_shared::adapters::sandbox_clock::SandboxClock::new(&file));
        Self::spawn_rail(pool, clock, Some(file), |_| {}).await
    }

    /// The same, its configuration changed by `change` last.
    pub async fn spawn_with_rail_configured(
        pool: PgPool,
        clock: Arc<dyn tucano_shared::ports::Clock>,
        change: impl FnOnce(&mut Config),
    ) -> TestApp {
        Self::spawn_rail(pool, clock, None, change).await
    }

    async fn spawn_rail(
        pool: PgPool,
        clock: Arc<dyn tucano_shared::ports::Clock>,
        clock_file: Option<std::path::PathBuf>,
        change: impl FnOnce(&mut Config),
    ) -> TestApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let rail = Rail::spawn(&format!("http://{addr}"), clock_file.as_deref()).await;
        let mut config = Config::new("postgres://unused".into(), 10, format!("{addr}/qr/v2"))
            .and_then(|c| c.with_rail(&rail.url, RAIL_SECRET.as_bytes()))
            .unwrap();
        config.location_scheme = "http".into();
        config.cipher = tucano_shared::app::CipherBackend::local_from_hex(TEST_MASTER_KEY).unwrap();
        config.webhooks = test_webhooks();
        config.payloads = test_payload_signing();
        change(&mut config);
        let state = AppState::with_pool(config, as_application(&pool).await).unwrap().with_clock(clock);
        tokio::spawn(tucano::server::serve(listener, state.clone()));
        TestApp { base: format!("http://{addr}"), pool, state, client: Client::new(), rail: Some(rail) }
    }

    /// Registers `m`'s receiver details (CNPJ 11.222.333/0001-81, in Recife), as a charge with
    /// a due date or Pix Automático shows them; `m` is returned.
    pub async fn with_receiver(&self, m: TestMerchant, nome_fantasia: Option<&str>) -> TestMerchant {
        let receiver = tucano_shared::domain::merchant::Recebedor::parse(
            "11222333000181",
            nome_fantasia,
            "Rua das Flores, 10",
            "PE",
            "50000000",
        )
        .unwrap();
        assert!(self.state.merchants.set_receiver(m.id, &receiver).await.unwrap());
        m
    }

    pub async fn merchant(&self, name: &str, pix_key: &str) -> TestMerchant {
        self.merchant_with_fees(name, pix_key, FeePlan::default()).await
    }

    /// A merchant charged `percent_bps` basis points plus `fixed` per received Pix.
    pub async fn merchant_with_fees(&self, name: &str, pix_key: &str, fees: FeePlan) -> TestMerchant {
        let api_key = ApiKey::generate();
        let scopes = tucano_shared::domain::oauth::Scopes::all();
        let (client, _) = tucano_shared::app::clients::new_client("tests", scopes).unwrap();
        let client_id = client.id.to_string();
        let id = self
            .state
            .merchants
            .register(NewMerchant {
                name: name.into(),
                city: "RECIFE".into(),
                pix_key: pix_key.into(),
                api_key_hash: api_key.hash(),
                fees,
                individual: false,
                limits: Default::default(),
                first_client: Some(client),
            })
            .await
            .unwrap();
        TestMerchant { id, client_id, api_key: api_key.expose().into(), pix_key: pix_key.into() }
    }

    /// A new OAuth client of `m` with `scopes`: (client_id, client_secret).
    pub async fn oauth_client(&self, m: &TestMerchant, scopes: &str) -> (String, String) {
        let scopes = tucano_shared::domain::oauth::Scopes::parse(scopes).unwrap();
        let (client, secret) =
            tucano_shared::app::clients::create(&*self.state.clients, m.id, "test", scopes).await.unwrap();
        (client.id.to_string(), secret.expose().to_owned())
    }

    /// `POST /oauth/token` with HTTP Basic and a form body: the status and the JSON answer.
    pub async fn token_request(&self, id: &str, secret: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let res = self
            .client
            .post(format!("{}/oauth/token", self.base))
            .basic_auth(id, Some(secret))
            .form(form)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap())
    }

    /// An access token for the client, with all its scopes.
    pub async fn token(&self, id: &str, secret: &str) -> String {
        let (status, body) = self.token_request(id, secret, &[("grant_type", "client_credentials")]).await;
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// A request with a bearer token instead of a merchant's API key.
    pub fn with_token(&self, method: Method, path: &str, token: &str) -> RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base)).bearer_auth(token)
    }

    /// A merchant's request, authenticated as a Bacen client is: `Bearer` with an access
    /// token of its client, signed as `POST /oauth/token` signs them, as of the service's
    /// clock (so tests that move the clock keep valid tokens). The endpoint itself is
    /// tested in `oauth.rs`.
    pub fn request(&self, method: Method, path: &str, m: &TestMerchant) -> RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base)).bearer_auth(self.access_token(m))
    }

    /// A fresh access token for `m`'s client, with every scope.
    pub fn access_token(&self, m: &TestMerchant) -> String {
        use tucano_shared::domain::oauth::{self, Claims, Scopes};
        let now = self.state.clock.now().timestamp();
        let claims = Claims {
            iss: oauth::ISSUER.into(),
            sub: m.client_id.clone(),
            mid: m.id.0,
            scope: Scopes::all().to_string(),
            iat: now,
            exp: now + 3600,
            jti: uuid::Uuid::new_v4().simple().to_string(),
        };
        oauth::sign(&claims, &self.state.tokens.keys[0])
    }

    pub fn anonymous(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base))
    }

    /// Asks the sandbox rail to pay a BR Code; returns its answer.
    pub async fn pay(&self, body: Value) -> Value {
        let rail = self.rail.as_ref().expect("started with the rail");
        let res = self.client.post(format!("{}/pagamentos", rail.url)).json(&body).send().await.unwrap();
        assert!(res.status().is_success(), "rail refused: {}", res.text().await.unwrap());
        res.json().await.unwrap()
    }

    /// Tells the sandbox rail how to end the next refunds.
    pub async fn rail_refunds(&self, decision: &str) {
        self.rail_control(json!({"devolucoes": decision})).await;
    }

    /// Sets the sandbox rail's behaviour (`devolucoes`, `envios`, `notificar`).
    pub async fn rail_control(&self, control: Value) {
        let rail = self.rail.as_ref().expect("started with the rail");
        let res = self.client.put(format!("{}/controle", rail.url)).json(&control).send().await.unwrap();
        assert_eq!(res.status(), 204);
    }

    /// What a payer's bank reads at a payload location (`host/qr/v2/{token}`, with `query`):
    /// the status, and the signed payload (its JWS payload, not verified here) or the problem.
    pub async fn read_location(&self, location: &str, query: &str) -> (u16, Value) {
        let token = location.rsplit('/').next().unwrap();
        let res = self.anonymous(Method::GET, &format!("/qr/v2/{token}{query}")).send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        if status != 200 {
            return (status, serde_json::from_str(&text).unwrap());
        }
        let jws = tucano_shared::domain::jws::parse(&text).unwrap();
        (status, serde_json::from_slice(&jws.payload).unwrap())
    }

    /// Stops the sandbox rail (the payer's bank becomes unreachable).
    pub async fn stop_rail(&mut self) {
        let rail = self.rail.as_mut().expect("started with the rail");
        rail._child.kill().await.unwrap();
    }

    /// Any call to the sandbox rail (the payer's bank, its clock): status and JSON answer.
    pub async fn rail_call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let rail = self.rail.as_ref().expect("started with the rail");
        let mut req = self.client.request(method, format!("{}{path}", rail.url));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// Waits (up to 20 s) until the sandbox rail has decided every order it took: it decides
    /// each a moment after taking it, in a task of its own, which a loaded machine may hold
    /// up for longer than any fixed sleep.
    pub async fn rail_idle(&self) {
        for _ in 0..400 {
            let (status, body) = self.rail_call(Method::GET, "/controle", None).await;
            assert_eq!(status, 200, "{body}");
            if body["ordensEmProcessamento"] == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the sandbox rail never decided its orders");
    }

    /// Sets the sandbox rail's fault profile (`PUT /falhas`; `{}` turns faults off).
    pub async fn rail_faults(&self, profile: Value) {
        let rail = self.rail.as_ref().expect("started with the rail");
        let res = self.client.put(format!("{}/falhas", rail.url)).json(&profile).send().await.unwrap();
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    }

    /// The receiving bank returns (part of) a Pix we sent (`POST /envios/{e2eid}/devolucao`).
    pub async fn rail_return(&self, e2eid: &str, body: Value) -> Value {
        let rail = self.rail.as_ref().expect("started with the rail");
        let res = self.client.post(format!("{}/envios/{e2eid}/devolucao", rail.url)).json(&body).send().await.unwrap();
        assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());
        res.json().await.unwrap()
    }

    /// What the rail knows of an order (`/envios/{e2eid}` or `/devolucoes/{rtrId}`).
    pub async fn rail_order(&self, path: &str) -> Value {
        let rail = self.rail.as_ref().expect("started with the rail");
        self.client.get(format!("{}{path}", rail.url)).send().await.unwrap().json().await.unwrap()
    }

    /// Posts a rail notification to Tucano, rightly signed.
    pub async fn notify(&self, notification: &Value) -> (u16, String, Value) {
        self.notify_signed(notification, RAIL_SECRET.as_bytes()).await
    }

    /// Posts a rail notification signed with `secret`.
    pub async fn notify_signed(&self, notification: &Value, secret: &[u8]) -> (u16, String, Value) {
        call(self.notification(notification, secret)).await
    }

    /// A rail notification (or batch) signed with `secret`, ready to send.
    pub fn notification(&self, notification: &Value, secret: &[u8]) -> RequestBuilder {
        self.signed_body(notification.to_string(), secret)
    }

    /// Any body, signed with `secret` as the rail signs, to the rail's endpoint.
    pub fn signed_body(&self, body: String, secret: &[u8]) -> RequestBuilder {
        let ts = chrono::Utc::now().timestamp();
        self.anonymous(Method::POST, "/rail/notificacoes")
            .header("content-type", "application/json")
            .header("x-rail-timestamp", ts.to_string())
            .header("x-rail-signature", tucano_shared::rail::signature::sign(secret, ts, body.as_bytes()))
            .body(body)
    }

    /// The merchant's events of one type, oldest first (`GET /eventos?tipo=`).
    ///
    /// The log serves an event once every transaction of the cluster older than its own has
    /// ended; tests run side by side, so this reads until it shows every event of the type
    /// the outbox holds for the merchant (a few seconds at most).
    pub async fn events(&self, m: &TestMerchant, tipo: &str) -> Vec<Value> {
        let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox_events WHERE merchant_id = $1 AND kind = $2")
            .bind(m.id.0)
            .bind(tipo)
            .fetch_one(&self.pool)
            .await
            .unwrap();
        let mut shown = vec![];
        for _ in 0..200 {
            let (status, _, body) = call(self.request(Method::GET, &format!("/v2/eventos?tipo={tipo}"), m)).await;
            assert_eq!(status, 200, "{body}");
            shown = body["eventos"].as_array().unwrap().clone();
            if shown.len() as i64 >= stored {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        shown
    }

    /// The balance of a platform ledger account (`suspense`, `operations_receivable`, ...).
    pub async fn platform_balance(&self, kind: &str) -> i64 {
        sqlx::query_scalar(
            "SELECT coalesce(sum(b.balance), 0)::bigint FROM ledger_balances b JOIN ledger_accounts a ON a.id = b.account_id
              WHERE a.merchant_id IS NULL AND a.kind = $1",
        )
        .bind(kind)
        .fetch_one(&self.pool)
        .await
        .unwrap()
    }

    /// Polls `path` until `done` holds for its body (the rail works asynchronously).
    pub async fn eventually(&self, m: &TestMerchant, path: &str, done: impl Fn(&Value) -> bool) -> Value {
        let mut last = Value::Null;
        // Up to 30 s: the sandbox retries a notification for a few seconds, and a loaded
        // machine runs every test at once.
        for _ in 0..600 {
            let (_, _, body) = call(self.request(Method::GET, path, m)).await;
            if done(&body) {
                return body;
            }
            last = body;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{path} never reached the expected state; last: {last}");
    }

    /// Available and pending balance, as the API reports them.
    pub async fn saldo(&self, m: &TestMerchant) -> (String, String) {
        let (status, _, b) = call(self.request(Method::GET, "/v2/saldo", m)).await;
        assert_eq!(status, 200, "{b}");
        (b["disponivel"].as_str().unwrap().to_owned(), b["pendente"].as_str().unwrap().to_owned())
    }

    /// Every ledger invariant holds (run after each scenario).
    pub async fn assert_ledger_ok(&self) {
        let failures = self.state.ledger.check().await.unwrap();
        assert!(failures.is_empty(), "ledger check failed: {failures:#?}");
    }

    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(&format!("SELECT count(*) FROM {table}")).fetch_one(&self.pool).await.unwrap()
    }
}

/// Status, content type and JSON body of a response.
pub async fn read(res: Response) -> (u16, String, Value) {
    let status = res.status().as_u16();
    let ct = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let body = res.json::<Value>().await.unwrap_or(Value::Null);
    (status, ct, body)
}

/// Sends a request and reads its status, content type and JSON body.
pub async fn call(req: RequestBuilder) -> (u16, String, Value) {
    read(req.send().await.unwrap()).await
}

/// A charge body for `key` with `valor`.
pub fn charge_body(key: &str, valor: &str) -> Value {
    serde_json::json!({
        "calendario": {"expiracao": 3600},
        "valor": {"original": valor},
        "chave": key,
        "solicitacaoPagador": "Pedido 42",
    })
}

pub fn txid(n: u32) -> String {
    format!("tucanotest{n:020}")
}

pub fn fees(bps: u32, fixed: &str) -> FeePlan {
    FeePlan { bps, fixed: Amount::parse(fixed).unwrap() }
}

pub const BACEN_ERROR: &str = "https://pix.bcb.gov.br/api/v2/error/";

/// The database URL of a test's own database, for a child process.
/// The role the API connects as (migration `application_role`): the test servers run as
/// it, so every end-to-end test also shows its grants are enough for what the API does.
pub const APPLICATION_ROLE: &str = "tucano_app";

/// A pool on `pool`'s database connected as the application role.
pub async fn as_application(pool: &PgPool) -> PgPool {
    let mut url = url::Url::parse(&database_url_of(pool)).unwrap();
    url.set_username(APPLICATION_ROLE).unwrap();
    url.set_password(None).unwrap();
    // Idle connections close quickly: the test harness drops the database after the test,
    // and Postgres waits up to 5 s for sessions still connected to it.
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(10)
        .idle_timeout(Duration::from_millis(200))
        .connect(url.as_str())
        .await
        .unwrap()
}

pub fn database_url_of(pool: &PgPool) -> String {
    let db = pool.connect_options().get_database().unwrap().to_owned();
    let mut url = url::Url::parse(&std::env::var("DATABASE_URL").unwrap()).unwrap();
    url.set_path(&format!("/{db}"));
    url.to_string()
}

/// A clock the test sets and moves (`Movable(Mutex::new(t))`).
pub struct Movable(pub std::sync::Mutex<chrono::DateTime<chrono::Utc>>);

impl Movable {
    pub fn at(t: chrono::DateTime<chrono::Utc>) -> Arc<Movable> {
        Arc::new(Movable(std::sync::Mutex::new(t)))
    }
}

impl tucano_shared::ports::Clock for Movable {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        *self.0.lock().unwrap()
    }
}
