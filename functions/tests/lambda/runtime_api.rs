//! The function binary as Lambda runs it: the built `bootstrap` executable started under
//! our Lambda Runtime API emulator with the `cob_put` and `cob_get` handlers, handed API
//! Gateway HTTP API (v2) events, answering through the Runtime API, on a real database.

use crate::common::{database_url_of, merchant};
use sqlx::PgPool;
use tucano::coldstart::{event, function_env, start_once, Start};

const TXID: &str = "lambdabinary00000000000000001";
const BOOTSTRAP: &str = env!("CARGO_BIN_EXE_bootstrap");

/// The function environment, as the function with this handler gets it.
fn env_of(pool: &PgPool, handler: &str) -> Vec<(String, String)> {
    let mut env = function_env(&database_url_of(pool));
    env.push(("_HANDLER".into(), handler.into()));
    env
}

fn body_of(start: &Start) -> serde_json::Value {
    serde_json::from_str(start.response["body"].as_str().expect("a text body")).expect("a JSON body")
}

#[sqlx::test(migrations = "../migrations")]
async fn the_cob_put_handler_creates_a_charge_from_an_api_gateway_event_and_cob_get_reads_it(pool: PgPool) {
    let (key, _) = merchant(&pool).await;
    let path = format!("/v2/cob/{TXID}");

    let put = event("PUT", &path, key.expose(), Some(r#"{"valor":{"original":"9.99"},"chave":"loja@example.com"}"#));
    let created = start_once(BOOTSTRAP.as_ref(), &env_of(&pool, "cob_put"), &put).await.unwrap();
    assert_eq!(created.status, 201, "{}", created.response);
    let charge = body_of(&created);
    assert_eq!(charge["txid"], TXID);
    assert_eq!(charge["valor"]["original"], "9.99");
    assert_eq!(charge["status"], "ATIVA");
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM charges").fetch_one(&pool).await.unwrap();
    assert_eq!(stored, 1, "the charge is in the database");

    let got = start_once(BOOTSTRAP.as_ref(), &env_of(&pool, "cob_get"), &event("GET", &path, key.expose(), None))
        .await
        .unwrap();
    assert_eq!(got.status, 200, "{}", got.response);
    assert_eq!(body_of(&got), charge);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_cob_put_handler_answers_bad_keys_and_bad_bodies_with_problems_and_writes_nothing(pool: PgPool) {
    let (key, _) = merchant(&pool).await;
    let env = env_of(&pool, "cob_put");
    let path = format!("/v2/cob/{TXID}");
    let binary = BOOTSTRAP;

    let body = r#"{"valor":{"original":"9.99"},"chave":"loja@example.com"}"#;
    let stranger = start_once(binary.as_ref(), &env, &event("PUT", &path, "tk_nope", Some(body))).await.unwrap();
    assert_eq!(stranger.status, 401);
    assert_eq!(stranger.response["headers"]["content-type"], "application/problem+json");

    let bad =
        start_once(binary.as_ref(), &env, &event("PUT", &path, key.expose(), Some(r#"{"valor":{"original":"9.9"}}"#)))
            .await
            .unwrap();
    assert_eq!(bad.status, 400, "{}", bad.response);
    assert_eq!(body_of(&bad)["type"], "https://pix.bcb.gov.br/api/v2/error/CobOperacaoInvalida");

    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM charges").fetch_one(&pool).await.unwrap();
    assert_eq!(stored, 0);
}

/// The admin function as an operator runs it (`aws lambda invoke` with IAM): the binary
/// under the Runtime API emulator, one operation per invocation, on a real database.
#[sqlx::test(migrations = "../migrations")]
async fn the_admin_handler_registers_merchants_and_manages_their_clients(pool: PgPool) {
    let env = env_of(&pool, "admin");
    let invoke = |op: serde_json::Value| {
        let env = env.clone();
        async move { start_once(BOOTSTRAP.as_ref(), &env, &op.to_string()).await.unwrap().response }
    };
    let created =
        invoke(serde_json::json!({"op": "merchants.create", "name": "Loja Admin", "pixKey": "admin@example.com",
                                            "feePercent": "0.99"}))
        .await;
    let merchant = created["ok"]["id"].as_str().expect("a merchant id").to_owned();
    assert!(created["ok"]["client_secret"].as_str().is_some_and(|s| s.starts_with("cs_")), "{created}");
    let fee: i32 = sqlx::query_scalar("SELECT fee_bps FROM merchants").fetch_one(&pool).await.unwrap();
    assert_eq!(fee, 99);

    let reader =
        invoke(serde_json::json!({"op": "clients.create", "merchant": merchant, "name": "erp", "scope": "cob.read"}))
            .await;
    assert_eq!(reader["ok"]["scope"], "cob.read", "{reader}");
    let id = reader["ok"]["client_id"].as_str().unwrap().to_owned();
    let revoked = invoke(serde_json::json!({"op": "clients.revoke", "clientId": id})).await;
    assert_eq!(revoked, serde_json::json!({"ok": {"revoked": true}}));
    let listed = invoke(serde_json::json!({"op": "clients.list", "merchant": merchant})).await;
    let clients = listed["ok"]["clients"].as_array().unwrap();
    assert_eq!(clients.len(), 2);
    assert!(!listed.to_string().contains("cs_"), "a list never shows a secret");

    for (op, says) in [
        (
            serde_json::json!({"op": "merchants.create", "name": "X", "pixKey": "admin@example.com"}),
            "already registered",
        ),
        (serde_json::json!({"op": "clients.revoke", "clientId": id}), "no such"),
        (serde_json::json!({"op": "clients.create", "merchant": merchant, "scope": "cob.admin"}), "scope"),
        (serde_json::json!({"op": "drop.tables"}), "unknown op"),
    ] {
        let refused = invoke(op.clone()).await;
        assert!(refused["error"].as_str().is_some_and(|e| e.contains(says)), "{op}: {refused}");
    }
    let merchants: i64 = sqlx::query_scalar("SELECT count(*) FROM merchants").fetch_one(&pool).await.unwrap();
    assert_eq!(merchants, 1, "a refused operation writes nothing");
}
