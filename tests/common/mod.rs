//! Test support: a real server on a random port over a fresh Postgres database, and
//! merchants to call it with.

#![allow(dead_code)]

use reqwest::{Client, Method, RequestBuilder, Response};
use serde_json::Value;
use sqlx::PgPool;
use tucano_shared::app::{AppState, Config};
use tucano_shared::domain::merchant::ApiKey;
use tucano_shared::ports::NewMerchant;

/// A running API and a client for it.
pub struct TestApp {
    pub base: String,
    pub pool: PgPool,
    pub state: AppState,
    client: Client,
}

/// A registered merchant: its API key and its receiving Pix key.
pub struct TestMerchant {
    pub api_key: String,
    pub pix_key: String,
}

pub const LOCATION_BASE: &str = "pix.tucano.test/qr/v2";

impl TestApp {
    pub async fn spawn(pool: PgPool) -> TestApp {
        let config = Config::new("postgres://unused".into(), 5, LOCATION_BASE.into()).unwrap();
        let state = AppState::with_pool(config, pool.clone());
        let addr = tucano::server::spawn("127.0.0.1:0".parse().unwrap(), state.clone())
            .await
            .unwrap();
        TestApp {
            base: format!("http://{addr}"),
            pool,
            state,
            client: Client::new(),
        }
    }

    pub async fn merchant(&self, name: &str, pix_key: &str) -> TestMerchant {
        let api_key = ApiKey::generate();
        self.state
            .merchants
            .register(NewMerchant {
                name: name.into(),
                city: "RECIFE".into(),
                pix_key: pix_key.into(),
                api_key_hash: api_key.hash(),
            })
            .await
            .unwrap();
        TestMerchant {
            api_key: api_key.expose().into(),
            pix_key: pix_key.into(),
        }
    }

    pub fn request(&self, method: Method, path: &str, m: &TestMerchant) -> RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&m.api_key)
    }

    pub fn anonymous(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base))
    }

    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }
}

/// Status, content type and JSON body of a response.
pub async fn read(res: Response) -> (u16, String, Value) {
    let status = res.status().as_u16();
    let ct = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
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

pub const BACEN_ERROR: &str = "https://pix.bcb.gov.br/api/v2/error/";
