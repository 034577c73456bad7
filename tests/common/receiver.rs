//! A webhook receiver for tests: a real HTTP server on a loopback port that records every
//! request and answers as the test's script says (ok, fail, hang, redirect, 410).

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    pub fn header(&self, name: &str) -> String {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
    }

    /// Whether Standard Webhooks' reference verifier accepts it under `secret`.
    pub fn verifies_with(&self, secret: &str) -> bool {
        let mut headers = http::HeaderMap::new();
        for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
            headers.insert(name, self.header(name).parse().unwrap());
        }
        standardwebhooks::Webhook::new(secret).unwrap().verify(&self.body, &headers).is_ok()
    }
}

/// How to answer the n-th request (counting from 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Ok,
    Fail,
    /// Sleep past the dispatcher's timeout, then answer 200 (too late).
    Slow,
    /// Never answer (until the connection is dropped).
    Hang,
    Redirect,
    Gone,
    /// 503 with `Retry-After: 3600`.
    Busy,
    /// 200 with a binary body: NUL bytes and bytes that are no UTF-8.
    Binary,
    /// 200 once this many requests have arrived in all (until then, no answer: requests
    /// sent one after another never get there).
    Gather(usize),
}

type Script = Arc<dyn Fn(usize) -> Answer + Send + Sync>;

pub struct Receiver {
    pub url: String,
    log: Arc<Mutex<Vec<Received>>>,
    pub redirect_hits: Arc<Mutex<usize>>,
}

impl Receiver {
    pub async fn start(script: impl Fn(usize) -> Answer + Send + Sync + 'static) -> Receiver {
        let log: Arc<Mutex<Vec<Received>>> = Arc::default();
        let redirect_hits: Arc<Mutex<usize>> = Arc::default();
        let script: Script = Arc::new(script);
        let (l, r) = (log.clone(), redirect_hits.clone());
        let app = axum::Router::new()
            .route(
                "/redirected",
                axum::routing::any(move || {
                    let r = r.clone();
                    async move {
                        *r.lock().unwrap() += 1;
                        StatusCode::OK
                    }
                }),
            )
            .fallback(move |uri: axum::http::Uri, headers: HeaderMap, body: Bytes| {
                let (log, script) = (l.clone(), script.clone());
                async move {
                    let n = {
                        let mut log = log.lock().unwrap();
                        log.push(Received { path: uri.path().to_owned(), headers, body });
                        log.len() - 1
                    };
                    let a = script(n);
                    if let Answer::Gather(k) = a {
                        while log.lock().unwrap().len() < k {
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    }
                    answer(a).await
                }
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, log, redirect_hits }
    }

    pub fn received(&self) -> Vec<Received> {
        self.log.lock().unwrap().clone()
    }

    /// Waits until `done` holds for what arrived (up to 20 s).
    pub async fn wait_for(&self, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        for _ in 0..400 {
            let got = self.received();
            if done(&got) {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the receiver never got what was expected: {:#?}", self.received());
    }
}

async fn answer(a: Answer) -> Response {
    match a {
        Answer::Ok => (StatusCode::OK, "ok").into_response(),
        Answer::Fail => (StatusCode::INTERNAL_SERVER_ERROR, "x".repeat(10_000)).into_response(),
        Answer::Slow => {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            StatusCode::OK.into_response()
        }
        Answer::Hang => {
            std::future::pending::<()>().await;
            StatusCode::OK.into_response()
        }
        Answer::Redirect => (StatusCode::FOUND, [("location", "/redirected")]).into_response(),
        Answer::Gone => StatusCode::GONE.into_response(),
        Answer::Busy => (StatusCode::SERVICE_UNAVAILABLE, [("retry-after", "3600")]).into_response(),
        Answer::Gather(_) => (StatusCode::OK, "ok").into_response(),
        Answer::Binary => (StatusCode::OK, b"ok\0\xff\xfe\0\x01 received".to_vec()).into_response(),
    }
}
