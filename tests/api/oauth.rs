//! OAuth2 client credentials end to end: the token endpoint as RFC 6749 defines it, scopes
//! on every route, expired and revoked tokens, secret rotation, and the CLI that issues
//! clients.

use crate::common::{call, charge_body, database_url_of, txid, Movable, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tucano_shared::ports::Clock;

const KEY: &str = "loja@example.com";

#[sqlx::test(migrations = "./migrations")]
async fn a_client_gets_a_token_with_basic_auth_and_may_do_only_what_its_scopes_allow(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let m = app.merchant("Loja", KEY).await;
    let (id, secret) = app.oauth_client(&m, "cob.read cob.write").await;

    let res = app
        .anonymous(Method::POST, "/oauth/token")
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let grant: Value = res.json().await.unwrap();
    assert_eq!(grant["token_type"], "Bearer");
    assert_eq!(grant["expires_in"], 3600);
    assert_eq!(grant["scope"], "cob.read cob.write");
    let token = grant["access_token"].as_str().unwrap();

    let path = format!("/v2/cob/{}", txid(1));
    let (status, _, cob) = call(app.with_token(Method::PUT, &path, token).json(&charge_body(KEY, "10.00"))).await;
    assert_eq!(status, 201, "{cob}");
    let (status, _, _) = call(app.with_token(Method::GET, &path, token)).await;
    assert_eq!(status, 200);

    // A scope the token lacks: 403, with the scope it would need.
    let res = app
        .with_token(Method::GET, "/v2/pix?inicio=2020-01-01T00:00:00Z&fim=2030-01-01T00:00:00Z", token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(res.headers()["www-authenticate"], r#"Bearer error="insufficient_scope", scope="pix.read""#);
    let problem: Value = res.json().await.unwrap();
    assert_eq!(problem["type"], "https://pix.bcb.gov.br/api/v2/error/AcessoNegado");
    let (status, _, _) = call(app.with_token(Method::GET, "/v2/saldo", token)).await;
    assert_eq!(status, 403);
}

#[sqlx::test(migrations = "./migrations")]
async fn client_secret_post_and_json_bodies_work_and_a_token_can_ask_for_fewer_scopes(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let m = app.merchant("Loja", KEY).await;
    let (id, secret) = app.oauth_client(&m, "cob.read cob.write pix.read").await;

    // As several PSP SDKs send it: JSON, credentials in the body.
    let body =
        json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret, "scope": "cob.read"});
    let (status, _, grant) = call(app.anonymous(Method::POST, "/oauth/token").json(&body)).await;
    assert_eq!(status, 200, "{grant}");
    assert_eq!(grant["scope"], "cob.read");
    let token = grant["access_token"].as_str().unwrap();
    let (status, _, _) =
        call(app.with_token(Method::PUT, &format!("/v2/cob/{}", txid(2)), token).json(&charge_body(KEY, "1.00"))).await;
    assert_eq!(status, 403, "a token narrowed to cob.read cannot write");

    // The RFC's form, credentials in the body.
    let form = [("grant_type", "client_credentials"), ("client_id", &id), ("client_secret", &secret)];
    let res = app.anonymous(Method::POST, "/oauth/token").form(&form).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["scope"], "cob.read cob.write pix.read");
}

#[sqlx::test(migrations = "./migrations")]
async fn the_token_endpoint_answers_the_errors_of_rfc_6749(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let m = app.merchant("Loja", KEY).await;
    let (id, secret) = app.oauth_client(&m, "cob.read").await;
    let grant = [("grant_type", "client_credentials")];

    let res = app
        .anonymous(Method::POST, "/oauth/token")
        .basic_auth(&id, Some("cs_wrong"))
        .form(&grant)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.headers()["www-authenticate"].to_str().unwrap().starts_with("Basic"));
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_client");

    let cases: Vec<(&str, &str, Vec<(&str, &str)>, u16, &str)> = vec![
        ("cli_unknown0000000000000000", secret.as_str(), grant.to_vec(), 401, "invalid_client"),
        (&id, &secret, vec![("grant_type", "password")], 400, "unsupported_grant_type"),
        (&id, &secret, vec![], 400, "invalid_request"),
        (&id, &secret, vec![("grant_type", "client_credentials"), ("scope", "cob.write")], 400, "invalid_scope"),
        (&id, &secret, vec![("grant_type", "client_credentials"), ("scope", "cob.admin")], 400, "invalid_scope"),
        (&id, &secret, vec![("grant_type", "client_credentials"), ("client_secret", "x")], 400, "invalid_request"),
    ];
    for (client, secret, form, status, error) in cases {
        let (got, body) = app.token_request(client, secret, &form).await;
        assert_eq!((got, body["error"].as_str().unwrap()), (status, error), "{form:?}");
        assert!(body["error_description"].is_string());
    }
    let (status, _, body) = call(app.anonymous(Method::POST, "/oauth/token").form(&grant)).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")), "no credentials at all");
}

#[sqlx::test(migrations = "./migrations")]
async fn missing_tampered_and_expired_tokens_get_401(pool: PgPool) {
    let clock = Arc::new(Movable(Mutex::new(chrono::Utc::now())));
    let app = TestApp::spawn_configured_at(pool, clock.clone(), |_| {}).await;
    let m = app.merchant("Loja", KEY).await;
    let (id, secret) = app.oauth_client(&m, "cob.read").await;
    let token = app.token(&id, &secret).await;
    let path = format!("/v2/cob/{}", txid(3));
    assert_eq!(call(app.with_token(Method::GET, &path, &token)).await.0, 404, "valid: the charge just does not exist");

    let res = app.anonymous(Method::GET, &path).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["www-authenticate"], "Bearer");

    let mut tampered: Vec<char> = token.chars().collect();
    let middle = tampered.len() / 2;
    tampered[middle] = if tampered[middle] == 'A' { 'B' } else { 'A' };
    let tampered: String = tampered.into_iter().collect();
    let res = app.with_token(Method::GET, &path, &tampered).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["www-authenticate"], r#"Bearer error="invalid_token""#);

    // A token claiming to live longer than any we issue (the revocation list looks back no
    // further) is refused, even well signed.
    let now = clock.now().timestamp();
    let claims = tucano_shared::domain::oauth::Claims {
        iss: tucano_shared::domain::oauth::ISSUER.into(),
        sub: id.clone(),
        mid: m.id.0,
        scope: "cob.read".into(),
        iat: now,
        exp: now + 86_401,
        jti: "long".into(),
    };
    let long = tucano_shared::domain::oauth::sign(&claims, &app.state.tokens.keys[0]);
    assert_eq!(call(app.with_token(Method::GET, &path, &long)).await.0, 401);

    *clock.0.lock().unwrap() += chrono::Duration::seconds(3600);
    let (status, _, problem) = call(app.with_token(Method::GET, &path, &token)).await;
    assert_eq!(status, 401, "an hour later the token has expired");
    assert_eq!(problem["type"], "https://tucano.dev/problems/NaoAutenticado");
    let fresh = app.token(&id, &secret).await;
    assert_eq!(call(app.with_token(Method::GET, &path, &fresh)).await.0, 404);
}

#[sqlx::test(migrations = "./migrations")]
async fn a_revoked_client_gets_no_token_and_its_tokens_stop_working(pool: PgPool) {
    let app = TestApp::spawn_configured(pool, |c| c.tokens.revocation_refresh = Duration::ZERO).await;
    let m = app.merchant("Loja", KEY).await;
    let (id, secret) = app.oauth_client(&m, "saldo.read").await;
    let (other_id, other_secret) = app.oauth_client(&m, "saldo.read").await;
    let token = app.token(&id, &secret).await;
    let other = app.token(&other_id, &other_secret).await;
    assert_eq!(call(app.with_token(Method::GET, "/v2/saldo", &token)).await.0, 200);

    let client = tucano_shared::domain::oauth::ClientId::parse(&id).unwrap();
    tucano_shared::app::clients::revoke(&*app.state.clients, &client).await.unwrap();

    assert_eq!(call(app.with_token(Method::GET, "/v2/saldo", &token)).await.0, 401);
    let (status, body) = app.token_request(&id, &secret, &[("grant_type", "client_credentials")]).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")));
    assert_eq!(call(app.with_token(Method::GET, "/v2/saldo", &other)).await.0, 200, "other clients are untouched");

    // Revocation is for good, even against the schema owner's own UPDATE.
    let undo =
        sqlx::query("UPDATE oauth_clients SET revoked_at = NULL WHERE id = $1").bind(&id).execute(&app.pool).await;
    assert!(undo.unwrap_err().to_string().contains("stays revoked"));
}

#[sqlx::test(migrations = "./migrations")]
async fn a_rotated_secret_leaves_the_old_one_valid_for_the_overlap_only(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let m = app.merchant("Loja", KEY).await;
    let (id, old) = app.oauth_client(&m, "cob.read").await;
    let client = tucano_shared::domain::oauth::ClientId::parse(&id).unwrap();
    let now = chrono::Utc::now();
    let clients = &*app.state.clients;
    let (_, new) = tucano_shared::app::clients::rotate(clients, &client, Duration::from_secs(3600), now).await.unwrap();
    let grant = [("grant_type", "client_credentials")];
    assert_eq!(app.token_request(&id, new.expose(), &grant).await.0, 200);
    assert_eq!(app.token_request(&id, &old, &grant).await.0, 200, "within the overlap");

    let (_, newest) = tucano_shared::app::clients::rotate(clients, &client, Duration::ZERO, now).await.unwrap();
    assert_eq!(app.token_request(&id, newest.expose(), &grant).await.0, 200);
    assert_eq!(app.token_request(&id, new.expose(), &grant).await.0, 401, "no overlap asked");
    assert_eq!(app.token_request(&id, &old, &grant).await.0, 401);
}

fn tucano(database_url: &str, args: &[&str]) -> Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tucano"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

#[sqlx::test(migrations = "./migrations")]
async fn the_cli_issues_a_merchants_first_client_and_more_with_scopes(pool: PgPool) {
    let url = database_url_of(&pool);
    let created = tucano(&url, &["merchants", "create", "--name", "Loja", "--pix-key", KEY, "--json"]);
    let merchant = created["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created["scope"].as_str().unwrap().split(' ').count(),
        tucano_shared::domain::oauth::Scope::ALL.len(),
        "the first client has every scope"
    );
    let app = TestApp::spawn(pool.clone()).await;
    let first = app.token(created["client_id"].as_str().unwrap(), created["client_secret"].as_str().unwrap()).await;
    assert_eq!(call(app.with_token(Method::GET, "/v2/saldo", &first)).await.0, 200);

    let reader =
        tucano(&url, &["clients", "create", "--merchant", &merchant, "--name", "erp", "--scope", "cob.read", "--json"]);
    let (id, secret) = (reader["client_id"].as_str().unwrap(), reader["client_secret"].as_str().unwrap());
    assert_eq!(reader["scope"], "cob.read");
    let hashes: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT secret_hash FROM oauth_clients").fetch_all(&pool).await.unwrap();
    assert!(hashes.iter().all(|h| h.len() == 32 && *h != secret.as_bytes()), "only hashes are stored");
    let token = app.token(id, secret).await;
    assert_eq!(call(app.with_token(Method::GET, "/v2/saldo", &token)).await.0, 403);

    let rotated = tucano(&url, &["clients", "rotate", id, "--overlap-secs", "0", "--json"]);
    let grant = [("grant_type", "client_credentials")];
    assert_eq!(app.token_request(id, secret, &grant).await.0, 401);
    assert_eq!(app.token_request(id, rotated["client_secret"].as_str().unwrap(), &grant).await.0, 200);
    tucano(&url, &["clients", "revoke", id]);
    assert_eq!(app.token_request(id, rotated["client_secret"].as_str().unwrap(), &grant).await.0, 401);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tucano"))
        .args(["clients", "list", "--merchant", &merchant])
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    let listed = String::from_utf8(out.stdout).unwrap();
    assert_eq!(listed.lines().count(), 2);
    assert!(!listed.contains(secret) && listed.contains("revoked_at\":\"20"));
}
