//! The Lambda glue: an API Gateway HTTP API (v2) event goes through the same handler as
//! the local server, on a real database.

use crate::common::merchant;
use lambda_http::request::from_str;
use sqlx::PgPool;
use tucano_shared::app::{AppState, Config};
use tucano_shared::routes::RouteId;

fn event(method: &str, path: &str, api_key: &str, body: Option<&str>) -> String {
    serde_json::json!({
        "version": "2.0",
        "routeKey": format!("{method} {path}"),
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"authorization": format!("Bearer {api_key}"), "content-type": "application/json"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "api", "domainName": "api.example.com", "domainPrefix": "api",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "test"},
            "requestId": "req-1", "routeKey": format!("{method} {path}"), "stage": "$default",
            "time": "21/Nov/2026:12:00:00 +0000", "timeEpoch": 1795000000000u64
        },
        "pathParameters": {"txid": "tucanolambda0000000000000000"},
        "body": body,
        "isBase64Encoded": false
    })
    .to_string()
}

#[sqlx::test(migrations = "../migrations")]
async fn an_api_gateway_event_creates_and_reads_a_charge(pool: PgPool) {
    let config = Config::new("postgres://unused".into(), 2, "pix.example.com/qr/v2".into())
        .and_then(|c| c.with_rail("http://127.0.0.1:9", b"0123456789abcdef"))
        .unwrap();
    let (key, _) = merchant(&pool).await;
    let state = AppState::with_pool(config, pool).unwrap();

    let body = r#"{"valor":{"original":"9.99"},"chave":"loja@example.com"}"#;
    let put = from_str(&event("PUT", "/v2/cob/tucanolambda0000000000000000", key.expose(), Some(body))).unwrap();
    let res = tucano_functions::respond(&state, RouteId::CobPut.route().unwrap(), put).await;
    assert_eq!(res.status(), 201);
    let created: serde_json::Value = serde_json::from_slice(res.body()).unwrap();
    assert_eq!(created["valor"]["original"], "9.99");
    assert_eq!(created["calendario"]["expiracao"], 86400);

    let get = from_str(&event("GET", "/v2/cob/tucanolambda0000000000000000", key.expose(), None)).unwrap();
    let res = tucano_functions::respond(&state, RouteId::CobGet.route().unwrap(), get).await;
    assert_eq!(res.status(), 200);
    assert_eq!(serde_json::from_slice::<serde_json::Value>(res.body()).unwrap(), created);

    // No authorizer stands in front of the function (API Gateway's own answers a token it
    // refuses with 403 {"message":"Forbidden"}): a key or a token that is not, or no longer,
    // valid gets the standard 401, which tells an OAuth client to fetch a new token.
    let forged_token = "eyJhbGciOiJIUzI1NiIsInR5cCI6ImF0K2p3dCJ9.eyJleHAiOjF9.c2lnbmF0dXJl";
    for presented in ["tk_nope", forged_token] {
        let unauthorized = from_str(&event("GET", "/v2/cob/tucanolambda0000000000000000", presented, None)).unwrap();
        let res = tucano_functions::respond(&state, RouteId::CobGet.route().unwrap(), unauthorized).await;
        assert_eq!(res.status(), 401, "{presented}");
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        let challenge = res.headers()["www-authenticate"].to_str().unwrap();
        assert!(challenge.starts_with("Bearer") && challenge.contains("invalid_token"), "{challenge}");
    }
}
