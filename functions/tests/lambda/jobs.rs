//! The functions no route calls: the migrations custom resource, on a real database and a real HTTP endpoint standing in for CloudFormation's
//! pre-signed response URL.

use crate::common::database_url_of;
use sqlx::PgPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A one-shot HTTP server: answers 200 to the first request and returns its body.
async fn response_url() -> (String, tokio::task::JoinHandle<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/presigned?sig=x", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        loop {
            let mut chunk = [0u8; 4096];
            let n = sock.read(&mut chunk).await.unwrap();
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf).to_string();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len = head
                    .lines()
                    .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned()))
                    .and_then(|v| v.parse::<usize>().ok())
                    .unwrap_or(0);
                if body.len() >= len {
                    sock.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await.unwrap();
                    return body.to_owned();
                }
            }
            if n == 0 {
                return String::new();
            }
        }
    });
    (url, task)
}

#[sqlx::test(migrations = false)]
async fn the_migrations_resource_migrates_on_deploy_and_tells_cloudformation(pool: PgPool) {
    let (url, answer) = response_url().await;
    let event = serde_json::json!({
        "RequestType": "Create", "ResponseURL": url, "StackId": "arn:aws:cloudformation:sa-east-1:1:stack/t/1",
        "RequestId": "r-1", "LogicalResourceId": "Migrations", "ResourceType": "Custom::Migrations",
        "ResourceProperties": {"Version": "abc"},
    });
    let client = reqwest::Client::new();
    tucano_functions::jobs::run_migrations_resource(&database_url_of(&pool), &client, None, None, NO_WAIT, &event)
        .await
        .unwrap();
    let body: serde_json::Value = serde_json::from_str(&answer.await.unwrap()).unwrap();
    assert_eq!(body["Status"], "SUCCESS");
    assert_eq!(body["RequestId"], "r-1");
    assert_eq!(body["LogicalResourceId"], "Migrations");
    let tables: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE tablename IN ('charges', 'ledger_postings')")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(tables, 2, "the schema is there");

    // A database it cannot reach fails the deploy instead of pretending.
    let (url, answer) = response_url().await;
    let event = serde_json::json!({"RequestType": "Update", "ResponseURL": url, "RequestId": "r-2",
                                   "StackId": "s", "LogicalResourceId": "Migrations"});
    tucano_functions::jobs::run_migrations_resource(
        "postgres://postgres@127.0.0.1:1/none",
        &client,
        None,
        None,
        NO_WAIT,
        &event,
    )
    .await
    .unwrap();
    let body: serde_json::Value = serde_json::from_str(&answer.await.unwrap()).unwrap();
    assert_eq!(body["Status"], "FAILED");
    assert!(!body["Reason"].as_str().unwrap().contains("127.0.0.1"), "no internals in the reason");

    // Work that cannot finish before the function must answer fails the deploy, answered
    // (unanswered, CloudFormation would wait an hour): here a database that never takes
    // the connection, given longer than the function has.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_url = format!("postgres://postgres@{}/none", silent.local_addr().unwrap());
    let (url, answer) = response_url().await;
    let event = serde_json::json!({"RequestType": "Update", "ResponseURL": url, "RequestId": "r-3",
                                   "StackId": "s", "LogicalResourceId": "Migrations"});
    let times = tucano_functions::jobs::MigrationTimes {
        reachable_within: std::time::Duration::from_secs(600),
        finish_within: std::time::Duration::from_millis(500),
    };
    let answered = tucano_functions::jobs::run_migrations_resource(&silent_url, &client, None, None, times, &event);
    tokio::time::timeout(std::time::Duration::from_secs(120), answered)
        .await
        .expect("answered at its deadline, not after the database's 600 s")
        .unwrap();
    let body: serde_json::Value = serde_json::from_str(&answer.await.unwrap()).unwrap();
    assert_eq!(body["Status"], "FAILED", "{body}");
}

/// Tests do not wait for a database to come up (the Lambda gives it 150 s), and give the
/// work a minute.
const NO_WAIT: tucano_functions::jobs::MigrationTimes = tucano_functions::jobs::MigrationTimes {
    reachable_within: std::time::Duration::ZERO,
    finish_within: std::time::Duration::from_secs(60),
};

/// Secrets Manager stand-in: the JSON secrets RDS and the template keep.
struct Secrets(std::collections::HashMap<&'static str, &'static str>);

#[async_trait::async_trait]
impl tucano_shared::ports::SecretSource for Secrets {
    async fn read(&self, id: &str) -> Result<tucano_shared::ports::SecretVersions, tucano_shared::ports::StoreError> {
        let value = self.0.get(id).ok_or_else(|| {
            tucano_shared::ports::StoreError::Unavailable(anyhow::anyhow!("secret store unreachable"))
        })?;
        Ok(tucano_shared::ports::SecretVersions { current: value.as_bytes().to_vec(), previous: None })
    }
}

#[sqlx::test(migrations = false)]
async fn the_migrations_set_the_application_roles_password_from_its_secret_and_fail_the_deploy_without_it(
    pool: PgPool,
) {
    use tucano_functions::jobs::{run_migrations_resource, MigrationSecrets};
    let source = Secrets(std::collections::HashMap::from([
        ("owner", r#"{"username": "postgres", "password": "not-checked-on-trust"}"#),
        ("app", r#"{"username": "tucano_app", "password": "correct-horse-battery-staple-0123"}"#),
    ]));
    let event = |url: &str| {
        serde_json::json!({"RequestType": "Create", "ResponseURL": url, "RequestId": "r-1",
                                               "StackId": "s", "LogicalResourceId": "Migrations"})
    };
    let client = reqwest::Client::new();
    let secrets =
        MigrationSecrets { source: &source, owner_password: Some("owner".into()), app_password: Some("app".into()) };
    let (url, answer) = response_url().await;
    run_migrations_resource(&database_url_of(&pool), &client, None, Some(&secrets), NO_WAIT, &event(&url))
        .await
        .unwrap();
    let body: serde_json::Value = serde_json::from_str(&answer.await.unwrap()).unwrap();
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    // The role's password is the secret's, stored as a SCRAM verifier (so the statement
    // that set it carried no password).
    let stored: String = sqlx::query_scalar("SELECT rolpassword FROM pg_authid WHERE rolname = 'tucano_app'")
        .fetch_one(&pool)
        .await
        .unwrap();
    let (head, _) = stored.strip_prefix("SCRAM-SHA-256$").unwrap().split_once('$').unwrap();
    let (iterations, salt) = head.split_once(':').unwrap();
    let salt: [u8; 16] =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, salt).unwrap().try_into().unwrap();
    let expected = tucano_shared::adapters::postgres::scram::verifier(
        "correct-horse-battery-staple-0123",
        &salt,
        iterations.parse().unwrap(),
    );
    assert_eq!(stored, expected);

    // A secret that cannot be read fails the deploy at once (CloudFormation is answered).
    let missing = MigrationSecrets { source: &source, owner_password: Some("gone".into()), app_password: None };
    let (url, answer) = response_url().await;
    run_migrations_resource(&database_url_of(&pool), &client, None, Some(&missing), NO_WAIT, &event(&url))
        .await
        .unwrap();
    let body: serde_json::Value = serde_json::from_str(&answer.await.unwrap()).unwrap();
    assert_eq!(body["Status"], "FAILED");
}
