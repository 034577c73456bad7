//! One contract for every IdempotencyStore: Postgres (local default) and DynamoDB (AWS,
//! here on moto server). Time is passed in, so expiry is tested without sleeping.

use chrono::{Duration, Utc};
use sqlx::PgPool;
use std::sync::Arc;
use tucano_shared::adapters::dynamodb::DynamoIdempotencyStore;
use tucano_shared::adapters::postgres::PgIdempotencyStore;
use tucano_shared::domain::idempotency::{Begin, IdempotencyKey, StoredResponse};
use tucano_shared::domain::merchant::MerchantId;
use tucano_shared::ports::IdempotencyStore;

fn key(s: &str) -> IdempotencyKey {
    IdempotencyKey::parse(s).unwrap()
}

fn response() -> StoredResponse {
    StoredResponse {
        status: 201,
        headers: vec![("content-type".into(), "application/json".into())],
        body: br#"{"txid":"abc"}"#.to_vec(),
    }
}

async fn contract(store: Arc<dyn IdempotencyStore>) {
    let m = MerchantId(uuid::Uuid::new_v4());
    let now = Utc::now();
    let lock = now + Duration::seconds(30);
    let (h1, h2) = ([1u8; 32], [2u8; 32]);

    // A fresh key runs; while it runs, the same request waits and another is refused.
    assert_eq!(store.begin(m, &key("k1"), &h1, lock, now).await.unwrap(), Begin::Run);
    assert!(matches!(
        store.begin(m, &key("k1"), &h1, lock, now).await.unwrap(),
        Begin::InProgress { retry_after_secs: 1..=60 }
    ));
    assert_eq!(store.begin(m, &key("k1"), &h2, lock, now).await.unwrap(), Begin::Mismatch);

    // Once completed, the same request replays the response; another is refused.
    store.complete(m, &key("k1"), &h1, &response(), now + Duration::hours(24)).await.unwrap();
    assert_eq!(store.begin(m, &key("k1"), &h1, lock, now).await.unwrap(), Begin::Replay(response()));
    assert_eq!(store.begin(m, &key("k1"), &h2, lock, now).await.unwrap(), Begin::Mismatch);

    // Keys are scoped per merchant.
    let other = MerchantId(uuid::Uuid::new_v4());
    assert_eq!(store.begin(other, &key("k1"), &h2, lock, now).await.unwrap(), Begin::Run);

    // A released key can be used again at once.
    assert_eq!(store.begin(m, &key("k2"), &h1, lock, now).await.unwrap(), Begin::Run);
    store.release(m, &key("k2"), &h1).await.unwrap();
    assert_eq!(store.begin(m, &key("k2"), &h2, lock, now).await.unwrap(), Begin::Run);
    // Releasing with the wrong request, or a completed record, does nothing.
    store.release(m, &key("k2"), &h1).await.unwrap();
    assert!(matches!(store.begin(m, &key("k2"), &h2, lock, now).await.unwrap(), Begin::InProgress { .. }));

    // A lock that lapsed (its request's deadline passed) is taken over, checked in code
    // (TTL deletion may lag by days).
    let later = lock + Duration::seconds(1);
    assert_eq!(store.begin(m, &key("k2"), &h1, later + Duration::seconds(30), later).await.unwrap(), Begin::Run);
    // The late first holder cannot complete over the new holder.
    store.complete(m, &key("k2"), &h2, &response(), later + Duration::hours(24)).await.unwrap();
    assert!(matches!(store.begin(m, &key("k2"), &h1, later, later).await.unwrap(), Begin::InProgress { .. }));

    // A completed record past its retention no longer counts.
    let next_day = now + Duration::hours(25);
    assert_eq!(store.begin(m, &key("k1"), &h2, next_day + Duration::seconds(30), next_day).await.unwrap(), Begin::Run);

    // Fifty racing requests with one key: exactly one runs.
    let racers = (0..50).map(|_| {
        let store = store.clone();
        tokio::spawn(async move { store.begin(m, &key("race"), &h1, lock, now).await.unwrap() })
    });
    let mut runs = 0;
    for r in racers {
        match r.await.unwrap() {
            Begin::Run => runs += 1,
            Begin::InProgress { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(runs, 1);
}

#[sqlx::test(migrations = "./migrations")]
async fn the_postgres_store_honours_the_contract(pool: PgPool) {
    contract(Arc::new(PgIdempotencyStore::new(pool))).await;
}

/// A completed record whose stored headers no longer parse is a fault (the request is not
/// replayed), never a replay with no headers: without its content type and encryption
/// marker a replay would hand the caller the sealed body.
#[sqlx::test(migrations = "./migrations")]
async fn a_stored_response_that_does_not_parse_is_an_error_not_an_empty_replay(pool: PgPool) {
    let store = PgIdempotencyStore::new(pool.clone());
    let (m, now) = (MerchantId(uuid::Uuid::new_v4()), Utc::now());
    let lock = now + Duration::seconds(30);
    assert_eq!(store.begin(m, &key("k"), &[1; 32], lock, now).await.unwrap(), Begin::Run);
    store.complete(m, &key("k"), &[1; 32], &response(), now + Duration::hours(24)).await.unwrap();
    sqlx::query("UPDATE idempotency_records SET response_headers = '\"not a header list\"'::jsonb")
        .execute(&pool)
        .await
        .unwrap();
    assert!(store.begin(m, &key("k"), &[1; 32], lock, now).await.is_err());
}

#[tokio::test]
async fn the_dynamodb_store_honours_the_contract() {
    let moto = crate::common::moto::Moto::start().await;
    let store = DynamoIdempotencyStore::new(&moto.aws(), format!("idem-{}", uuid::Uuid::new_v4().simple()));
    store.ensure_table().await.unwrap();
    contract(Arc::new(store)).await;
}

/// What a function reads from its environment in AWS (region, credentials, endpoint)
/// reaches DynamoDB, signed.
#[tokio::test]
async fn the_aws_context_the_functions_read_from_their_environment_reaches_dynamodb() {
    let moto = crate::common::moto::Moto::start().await;
    let vars = [
        ("AWS_REGION", "sa-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_SESSION_TOKEN", "session"),
        ("AWS_ENDPOINT_URL", moto.endpoint.as_str()),
    ];
    let lookup = |name: &str| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned());
    let aws = tucano_shared::adapters::aws::AwsContext::from_vars(lookup).unwrap();
    let store = DynamoIdempotencyStore::new(&aws, format!("idem-{}", uuid::Uuid::new_v4().simple()));
    store.ensure_table().await.unwrap();
    let (m, now) = (MerchantId(uuid::Uuid::new_v4()), Utc::now());
    assert_eq!(store.begin(m, &key("k"), &[1; 32], now + Duration::seconds(30), now).await.unwrap(), Begin::Run);
}

/// A loopback stand-in for DynamoDB in front of `upstream` (moto) that passes every call on
/// but loses the reply to the first PutItem (the write happens; the caller sees a 503, as
/// after a timeout). Counts the PutItems it passed on.
async fn losing_the_first_put_reply(upstream: String) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let puts = Arc::new(AtomicUsize::new(0));
    let seen = puts.clone();
    let pass_on = move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
        let (seen, upstream) = (seen.clone(), upstream.clone());
        async move {
            let mut req = reqwest::Client::new().post(&upstream).body(body.to_vec());
            for (name, value) in &headers {
                if name != "host" && name != "content-length" {
                    req = req.header(name.as_str(), value.as_bytes());
                }
            }
            let res = req.send().await.unwrap();
            let (status, kind) = (res.status().as_u16(), res.headers().get("content-type").cloned());
            let bytes = res.bytes().await.unwrap();
            let put = headers.get("x-amz-target").is_some_and(|t| t.as_bytes().ends_with(b".PutItem"));
            if put && seen.fetch_add(1, Ordering::SeqCst) == 0 {
                return (
                    axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    axum::http::HeaderMap::new(),
                    axum::body::Bytes::new(),
                );
            }
            let mut out = axum::http::HeaderMap::new();
            if let Some(kind) = kind {
                out.insert("content-type", kind);
            }
            (axum::http::StatusCode::from_u16(status).unwrap(), out, bytes)
        }
    };
    (crate::common::serve_on_loopback(axum::Router::new().fallback(pass_on)).await, puts)
}

/// A lock taken by a PutItem whose reply was lost is the caller's: the client's retry of that
/// write finds its own record and goes on (it answered "in progress" to its own request until
/// the lock lapsed), while another request with the key is still held off.
#[tokio::test]
async fn a_lock_whose_reply_was_lost_is_taken_by_the_retry_of_its_own_write() {
    let moto = crate::common::moto::Moto::start().await;
    let (endpoint, puts) = losing_the_first_put_reply(moto.endpoint.clone()).await;
    let vars = [
        ("AWS_REGION", "sa-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
    ];
    let lookup = |name: &str| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned());
    let aws = tucano_shared::adapters::aws::AwsContext::from_vars(lookup).unwrap();
    let store = DynamoIdempotencyStore::new(&aws, format!("idem-{}", uuid::Uuid::new_v4().simple()));
    store.ensure_table().await.unwrap();
    let (m, now) = (MerchantId(uuid::Uuid::new_v4()), Utc::now());
    let lock = now + Duration::seconds(30);
    assert_eq!(store.begin(m, &key("k"), &[1; 32], lock, now).await.unwrap(), Begin::Run);
    assert_eq!(puts.load(std::sync::atomic::Ordering::SeqCst), 2, "the write, its reply lost, then its retry");
    assert!(matches!(store.begin(m, &key("k"), &[1; 32], lock, now).await.unwrap(), Begin::InProgress { .. }));
    assert_eq!(store.begin(m, &key("k"), &[2; 32], lock, now).await.unwrap(), Begin::Mismatch);
}
