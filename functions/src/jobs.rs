//! The functions no HTTP route calls: the reconciler and the webhook relay (on a schedule)
//! and the webhook delivery worker (fed by SQS). Each builds its state once at cold start.

use lambda_http::lambda_runtime::{self, service_fn, Error, LambdaEvent};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};
use tucano_shared::app::{AppState, Config};
use tucano_shared::routes::{within_job, JOBS};

/// The state of the job `function`, built once at cold start: with the blind-index key
/// where its function holds one (`routes::NO_INDEX_KEY`).
async fn state(function: &str) -> Result<AppState, Error> {
    tucano_shared::telemetry::init(true);
    let config = Config::from_env()?;
    let holds_index = JOBS.iter().find(|j| j.function == function).is_none_or(|j| j.holds_index_key());
    let config = if holds_index { config.requiring_index_key()? } else { config };
    Ok(AppState::new(config).await?)
}

/// How long an invocation may still run (Lambda's deadline, in ms since the epoch).
fn remaining(ctx: &lambda_runtime::Context) -> Duration {
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    Duration::from_millis(u64::try_from(u128::from(ctx.deadline).saturating_sub(now_ms)).unwrap_or(0))
}

/// Every minute: finishes transfers and refunds left EM_PROCESSAMENTO, sweeps Pix
/// Automático (resends what the payer's bank never acknowledged, ends what expired) and
/// prunes the history past its retention.
pub async fn reconciler() -> Result<(), Error> {
    let state = state("reconciler").await?;
    let state = &state;
    lambda_runtime::run(service_fn(move |_: LambdaEvent<serde_json::Value>| async move {
        state.keep_db_auth_fresh().await?;
        let minute = tucano_shared::app::reconcile::minute(state, chrono::Duration::seconds(30));
        let m = within_job("reconciler", minute).await;
        Ok::<_, Error>(
            serde_json::json!({"reconciliation": m.pass?, "recurrencesSwept": m.swept?, "pruned": m.pruned?}),
        )
    }))
    .await
}

/// Every minute, for most of the minute: fans outbox events out and enqueues due
/// deliveries (`WEBHOOK_QUEUE_URL`), polling every second, so that a webhook leaves
/// within about a second of its event.
pub async fn webhook_relay() -> Result<(), Error> {
    let state = state("webhook_relay").await?;
    let queue_url = std::env::var("WEBHOOK_QUEUE_URL").map_err(|_| "WEBHOOK_QUEUE_URL is not set")?;
    let aws = tucano_shared::adapters::aws::AwsContext::from_env().map_err(|e| e.to_string())?;
    let queue = tucano_shared::adapters::sqs::SqsDeliveryQueue::new(&aws, queue_url);
    let (state, queue) = (&state, &queue);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        let stop_at = Instant::now() + remaining(&event.context).saturating_sub(Duration::from_secs(5));
        let mut total = tucano_shared::app::webhooks::RelayReport::default();
        while Instant::now() < stop_at {
            state.keep_db_auth_fresh().await?;
            let pass = tucano_shared::app::webhooks::relay_once(state, queue, Duration::from_secs(300));
            let r = within_job("webhook_relay", pass).await?;
            total.fanned_out += r.fanned_out;
            total.enqueued += r.enqueued;
            total.failed += r.failed;
            if r.fanned_out + r.enqueued == 0 {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        Ok::<_, Error>(
            serde_json::json!({"fannedOut": total.fanned_out, "enqueued": total.enqueued, "failed": total.failed}),
        )
    }))
    .await
}

/// Every minute, for most of the minute: creates or revises the charges of submitted
/// batches (`/lotecobv`), a hundred at a time, polling every second.
pub async fn lotecobv_worker() -> Result<(), Error> {
    let state = state("lotecobv_worker").await?;
    let state = &state;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        let stop_at = Instant::now() + remaining(&event.context).saturating_sub(Duration::from_secs(10));
        let mut total = 0;
        // At least one pass, however short the run.
        let mut first = true;
        while first || Instant::now() < stop_at {
            first = false;
            state.keep_db_auth_fresh().await?;
            let pass = tucano_shared::handlers::lotecobv::process_pending(state, 100);
            let done = within_job("lotecobv_worker", pass).await?;
            total += done;
            if done == 0 {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        Ok::<_, Error>(serde_json::json!({"processed": total}))
    }))
    .await
}

/// The SQS event a queue-triggered Lambda receives (the fields used here).
#[derive(Debug, Deserialize)]
pub struct SqsEvent {
    #[serde(rename = "Records", default)]
    pub records: Vec<SqsRecord>,
}

#[derive(Debug, Deserialize)]
pub struct SqsRecord {
    #[serde(rename = "messageId")]
    pub message_id: String,
    #[serde(default)]
    pub body: String,
}

/// The partial-batch answer: only these messages return to the queue (and, after the
/// queue's maxReceiveCount, go to its dead-letter queue).
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct BatchResponse {
    #[serde(rename = "batchItemFailures")]
    pub failures: Vec<BatchItemFailure>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct BatchItemFailure {
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

/// Delivers the deliveries named by one SQS batch. A message that is not a delivery id,
/// or whose delivery could not be taken (database down), is reported as failed.
pub async fn deliver_batch(state: &AppState, event: SqsEvent) -> BatchResponse {
    let mut failures = vec![];
    let mut ids = vec![];
    for r in &event.records {
        match uuid::Uuid::parse_str(r.body.trim()) {
            Ok(id) => ids.push((id, r.message_id.clone())),
            Err(_) => failures.push(BatchItemFailure { item_identifier: r.message_id.clone() }),
        }
    }
    let all: Vec<uuid::Uuid> = ids.iter().map(|(id, _)| *id).collect();
    let failed = tucano_shared::app::webhooks::deliver_queued(state, &all).await;
    for (id, message_id) in ids {
        if failed.contains(&id) {
            failures.push(BatchItemFailure { item_identifier: message_id });
        }
    }
    BatchResponse { failures }
}

/// Fed by the webhook queue (`functionResponseType: ReportBatchItemFailures`).
pub async fn webhook_deliver() -> Result<(), Error> {
    let state = state("webhook_deliver").await?;
    let state = &state;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        state.keep_db_auth_fresh().await?;
        Ok::<_, Error>(within_job("webhook_deliver", deliver_batch(state, event.payload)).await)
    }))
    .await
}

/// The admin function: one operation on merchants or OAuth clients per invocation
/// (`app::admin::run`), invoked by an operator with IAM (`aws lambda invoke`); answers
/// `{"ok": ...}` or `{"error": "..."}` (a refused operation is an answer, not a failure:
/// Lambda would otherwise retry nothing but show a stack of noise). Secrets appear in the
/// answer once and never in its logs.
pub async fn admin() -> Result<(), Error> {
    let state = state("admin").await?;
    let state = &state;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        state.keep_db_auth_fresh().await?;
        let op = event.payload;
        let name = op["op"].as_str().unwrap_or("").chars().take(40).collect::<String>();
        let now = state.clock.now();
        let answer =
            within_job("admin", tucano_shared::app::admin::run(&*state.merchants, &*state.clients, now, &op)).await;
        match answer {
            Ok(value) => {
                tracing::info!(op = %name, "admin operation done");
                Ok::<_, Error>(serde_json::json!({"ok": value}))
            }
            Err(tucano_shared::app::admin::AdminError::Store(e)) => Err(Error::from(e)),
            Err(e) => {
                tracing::info!(op = %name, "admin operation refused");
                Ok(serde_json::json!({"error": e.to_string()}))
            }
        }
    }))
    .await
}

/// The migrations custom resource: on Create and Update, applies pending migrations and
/// makes sure the environment has its blind-index key (made under `KMS_KEY_ID` on the
/// first deploy, kept wrapped in the database), then answers CloudFormation at the
/// pre-signed `ResponseURL` with `BlindIndexKeyWrapped` for the other functions. A failure
/// fails the deploy before they change. Delete leaves the database alone.
pub async fn migrate() -> Result<(), Error> {
    tucano_shared::telemetry::init(true);
    let database_url = std::env::var("DATABASE_URL").map_err(|_| "DATABASE_URL is not set")?;
    let key_id = std::env::var("KMS_KEY_ID").ok();
    // In AWS the schema owner's password and the application role's are read from Secrets
    // Manager per invocation (never configured), inside the resource's answer: a failure
    // fails the deploy at once instead of leaving CloudFormation waiting.
    let owner_secret = std::env::var("DATABASE_PASSWORD_SECRET_ID").ok();
    let app_secret = std::env::var("APP_DB_PASSWORD_SECRET_ID").ok();
    // One AWS context for both, read only when either is configured.
    let aws = if key_id.is_some() || owner_secret.is_some() || app_secret.is_some() {
        Some(tucano_shared::adapters::aws::AwsContext::from_env().map_err(|e| e.to_string())?)
    } else {
        None
    };
    let kms = aws.clone().zip(key_id);
    let source = aws
        .as_ref()
        .filter(|_| owner_secret.is_some() || app_secret.is_some())
        .map(tucano_shared::adapters::secrets_manager::SecretsManagerSource::new);
    let client = reqwest::Client::builder().timeout(ANSWER_TIME / 2).build()?;
    let (database_url, client, kms) = (&database_url, &client, &kms);
    let secrets = source.as_ref().map(|source| MigrationSecrets {
        source,
        owner_password: owner_secret.clone(),
        app_password: app_secret.clone(),
    });
    let secrets = &secrets;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        let kms = kms.as_ref().map(|(c, k)| (c, k.as_str()));
        // Boxed: the migrations future is deep enough to overflow the compiler's type limit.
        // On a first deploy the proxy may be ready before the cluster's writer is
        // (CloudFormation's order is kept by DependsOn, readiness is not): the database is
        // given 150 s to take a connection. The work stops in time to answer CloudFormation
        // before the function's own timeout (unanswered, it would wait an hour, and Lambda
        // would run the event again).
        let times = MigrationTimes {
            reachable_within: Duration::from_secs(150),
            finish_within: remaining(&event.context).saturating_sub(ANSWER_TIME),
        };
        Box::pin(run_migrations_resource(database_url, client, kms, secrets.as_ref(), times, &event.payload)).await?;
        Ok::<_, Error>(())
    }))
    .await
}

/// What the migrations function keeps of its time to answer CloudFormation (closing the
/// pool, one PUT to the pre-signed URL).
const ANSWER_TIME: Duration = Duration::from_secs(20);

/// How long the migrations resource waits for the database to take a connection, and for
/// all of its work, before it answers FAILED.
#[derive(Debug, Clone, Copy)]
pub struct MigrationTimes {
    pub reachable_within: Duration,
    pub finish_within: Duration,
}

/// Where the migrations function finds its passwords: the schema owner's (the secret RDS
/// manages for the master user) and the application role's (the one RDS Proxy logs in
/// with), both JSON secrets `{"username", "password"}`.
pub struct MigrationSecrets<'a> {
    pub source: &'a dyn tucano_shared::ports::SecretSource,
    pub owner_password: Option<String>,
    pub app_password: Option<String>,
}

/// The `password` of the JSON secret `id`.
pub async fn secret_password(source: &dyn tucano_shared::ports::SecretSource, id: &str) -> anyhow::Result<String> {
    let secret = source.read(id).await?;
    let fields: serde_json::Value =
        serde_json::from_slice(&secret.current).map_err(|_| anyhow::anyhow!("a database secret is not JSON"))?;
    Ok(fields["password"].as_str().ok_or_else(|| anyhow::anyhow!("a database secret has no password"))?.to_owned())
}

/// Applies migrations (and, with KMS, ensures the blind-index key; with `app_password`,
/// sets the application role's password from its SCRAM verifier, so the password itself
/// is in no statement the DDL log keeps) for a CloudFormation custom resource event, and
/// reports the outcome.
pub async fn run_migrations_resource(
    database_url: &str,
    client: &reqwest::Client,
    kms: Option<(&tucano_shared::adapters::aws::AwsContext, &str)>,
    secrets: Option<&MigrationSecrets<'_>>,
    times: MigrationTimes,
    event: &serde_json::Value,
) -> Result<(), Error> {
    let outcome: Result<serde_json::Value, ()> = match event["RequestType"].as_str() {
        Some("Delete") => Ok(serde_json::json!({})),
        _ => async {
            let mut options: tucano_shared::adapters::postgres::PgConnectOptions = database_url.parse()?;
            if let Some(id) = secrets.and_then(|s| s.owner_password.as_deref().map(|id| (s.source, id))) {
                options = options.password(&secret_password(id.0, id.1).await?);
            }
            let pool = tucano_shared::adapters::postgres::lazy_pool_with(options, 1);
            let work = async {
                tucano_shared::adapters::postgres::wait_until_reachable(&pool, times.reachable_within).await?;
                tucano_shared::adapters::postgres::migrate(&pool).await?;
                if let Some((source, id)) = secrets.and_then(|s| s.app_password.as_deref().map(|id| (s.source, id))) {
                    let password = secret_password(source, id).await?;
                    tucano_shared::adapters::postgres::set_application_password(&pool, &password).await?;
                }
                let mut data = serde_json::json!({});
                if let Some((kms, key_id)) = kms {
                    let wrapped =
                        tucano_shared::adapters::postgres::platform_keys::ensure_blind_index_key(&pool, kms, key_id)
                            .await?;
                    data["BlindIndexKeyWrapped"] = serde_json::json!(hex::encode(wrapped));
                }
                Ok::<_, anyhow::Error>(data)
            };
            // Stopped at its deadline, the work's connection closes with it: the migration in
            // flight rolls back (each runs in its transaction; an index being built
            // concurrently is left invalid, as any failed build: drop it and deploy again).
            let done = match tokio::time::timeout(times.finish_within, work).await {
                Ok(done) => done,
                Err(_) => Err(anyhow::anyhow!("the migrations did not finish within the function's time")),
            };
            pool.close().await;
            done
        }
        .await
        .map_err(|e| {
            tracing::error!(error = format!("{e:#}"), "migrations failed");
        }),
    };
    let mut body = serde_json::json!({
        "Status": if outcome.is_ok() { "SUCCESS" } else { "FAILED" },
        "Reason": if outcome.is_ok() { "migrations applied" } else { "migrations failed; see the function's log" },
        "PhysicalResourceId": "tucano-migrations",
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
    });
    if let Ok(data) = outcome {
        body["Data"] = data;
    }
    let url = event["ResponseURL"].as_str().ok_or("the event has no ResponseURL")?;
    // The pre-signed URL expects no content type.
    client.put(url).body(body.to_string()).send().await?.error_for_status()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offline_state() -> AppState {
        let config = Config::new("postgres://unused".into(), 1, "pix.example.com/qr/v2".into()).unwrap();
        let pool = tucano_shared::adapters::postgres::lazy_pool("postgres://127.0.0.1:1/none", 1).unwrap();
        AppState::with_pool(config, pool).unwrap()
    }

    #[tokio::test]
    async fn messages_that_are_not_delivery_ids_are_reported_as_failed_batch_items() {
        let event: SqsEvent = serde_json::from_value(serde_json::json!({"Records": [
            {"messageId": "m1", "body": "not-a-uuid", "eventSource": "aws:sqs"},
            {"messageId": "m2", "body": ""},
        ]}))
        .unwrap();
        let res = deliver_batch(&offline_state(), event).await;
        assert_eq!(serde_json::to_value(&res).unwrap()["batchItemFailures"][1]["itemIdentifier"], "m2");
        assert_eq!(res.failures.len(), 2);
    }

    #[tokio::test]
    async fn a_delivery_that_cannot_be_taken_returns_to_the_queue() {
        let id = uuid::Uuid::new_v4();
        let event: SqsEvent =
            serde_json::from_value(serde_json::json!({"Records": [{"messageId": "m1", "body": id.to_string()}]}))
                .unwrap();
        // The database is unreachable: the message must come back, not be dropped.
        let res = deliver_batch(&offline_state(), event).await;
        assert_eq!(res.failures, [BatchItemFailure { item_identifier: "m1".into() }]);
    }
}
