//! Idempotency records on DynamoDB (AWS). The conditional PutItem is the lock; when it
//! fails, `ReturnValuesOnConditionCheckFailure=ALL_OLD` hands back the record that won, so
//! no second read is needed (a consistent GetItem covers servers that omit it).
//!
//! Item: `pk` = "{merchant}#{key}", `request_hash` (B), `record_state` (IN_PROGRESS |
//! COMPLETED), `expires_at_ms` (N, checked in code), `ttl_epoch` (N, for DynamoDB TTL,
//! which only cleans up and may lag by days), `response_status` / `response_headers` /
//! `response_body` once completed.

use crate::domain::idempotency::{Begin, IdempotencyKey, Record, StoredResponse};
use crate::domain::merchant::MerchantId;
use crate::ports::{IdempotencyStore, StoreError};
use anyhow::anyhow;
use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ReturnValuesOnConditionCheckFailure,
    ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, TimeZone, Utc};
use std::collections::HashMap;

const IN_PROGRESS: &str = "IN_PROGRESS";
const COMPLETED: &str = "COMPLETED";

pub struct DynamoIdempotencyStore {
    client: Client,
    table: String,
}

type Item = HashMap<String, AttributeValue>;

/// Throttling, timeouts and connection failures are worth a retry (503); the rest is a bug.
fn sdk_error<E: std::error::Error + Send + Sync + 'static, R: std::fmt::Debug + Send + Sync + 'static>(
    e: SdkError<E, R>,
) -> StoreError {
    let retryable = matches!(e, SdkError::TimeoutError(_) | SdkError::DispatchFailure(_))
        || format!("{e:?}").contains("ThrottlingException")
        || format!("{e:?}").contains("ProvisionedThroughputExceeded")
        || format!("{e:?}").contains("RequestLimitExceeded");
    if retryable {
        StoreError::Unavailable(anyhow::Error::new(e))
    } else {
        StoreError::Unexpected(anyhow::Error::new(e))
    }
}

fn pk(scope: MerchantId, key: &IdempotencyKey) -> AttributeValue {
    AttributeValue::S(format!("{}#{}", scope.0, key.as_str()))
}

fn millis(t: DateTime<Utc>) -> AttributeValue {
    AttributeValue::N(t.timestamp_millis().to_string())
}

fn ttl(t: DateTime<Utc>) -> AttributeValue {
    AttributeValue::N(t.timestamp().to_string())
}

fn record_of(item: &Item) -> Result<Record, StoreError> {
    let bad = |what: &str| StoreError::Unexpected(anyhow!("idempotency item without a valid {what}"));
    let request_hash: [u8; 32] = item
        .get("request_hash")
        .and_then(|v| v.as_b().ok())
        .and_then(|b| b.as_ref().try_into().ok())
        .ok_or_else(|| bad("request_hash"))?;
    let expires_ms: i64 = item
        .get("expires_at_ms")
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| bad("expiry"))?;
    let expires_at = Utc.timestamp_millis_opt(expires_ms).single().ok_or_else(|| bad("expiry"))?;
    let state = item.get("record_state").and_then(|v| v.as_s().ok()).ok_or_else(|| bad("state"))?;
    let response = if state == COMPLETED {
        let status = item
            .get("response_status")
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| bad("response_status"))?;
        let headers = item
            .get("response_headers")
            .and_then(|v| v.as_s().ok())
            .and_then(|s| serde_json::from_str(s).ok())
            .ok_or_else(|| bad("response_headers"))?;
        let body = item
            .get("response_body")
            .and_then(|v| v.as_b().ok())
            .map(|b| b.as_ref().to_vec())
            .ok_or_else(|| bad("response_body"))?;
        Some(StoredResponse { status, headers, body })
    } else {
        None
    };
    Ok(Record { request_hash, response, expires_at })
}

impl DynamoIdempotencyStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// Creates the table with TTL on `ttl_epoch` if it does not exist (local and tests;
    /// in AWS the deployment creates it).
    pub async fn ensure_table(&self) -> anyhow::Result<()> {
        let exists = self.client.describe_table().table_name(&self.table).send().await.is_ok();
        if !exists {
            self.client
                .create_table()
                .table_name(&self.table)
                .billing_mode(BillingMode::PayPerRequest)
                .attribute_definitions(
                    AttributeDefinition::builder()
                        .attribute_name("pk")
                        .attribute_type(ScalarAttributeType::S)
                        .build()?,
                )
                .key_schema(KeySchemaElement::builder().attribute_name("pk").key_type(KeyType::Hash).build()?)
                .send()
                .await?;
            self.client
                .update_time_to_live()
                .table_name(&self.table)
                .time_to_live_specification(
                    TimeToLiveSpecification::builder().enabled(true).attribute_name("ttl_epoch").build()?,
                )
                .send()
                .await?;
        }
        Ok(())
    }
}

#[async_trait]
impl IdempotencyStore for DynamoIdempotencyStore {
    async fn begin(
        &self,
        scope: MerchantId,
        key: &IdempotencyKey,
        hash: &[u8; 32],
        lock_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Begin, StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", pk(scope, key))
            .item("request_hash", AttributeValue::B(Blob::new(hash.to_vec())))
            .item("record_state", AttributeValue::S(IN_PROGRESS.into()))
            .item("expires_at_ms", millis(lock_until))
            .item("ttl_epoch", ttl(lock_until))
            .condition_expression("attribute_not_exists(pk) OR expires_at_ms <= :now")
            .expression_attribute_values(":now", millis(now))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let old = match put {
            Ok(_) => return Ok(Begin::Run),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => match e.into_err() {
                aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c) => c.item,
                _ => None,
            },
            Err(e) => return Err(sdk_error(e)),
        };
        let item = match old {
            Some(item) => item,
            None => self
                .client
                .get_item()
                .table_name(&self.table)
                .key("pk", pk(scope, key))
                .consistent_read(true)
                .send()
                .await
                .map_err(sdk_error)?
                .item
                .ok_or_else(|| StoreError::Unavailable(anyhow!("idempotency record vanished; retry")))?,
        };
        let record = record_of(&item)?;
        if !record.is_live(now) {
            // Expired between the write and the read: the client may simply retry.
            return Ok(Begin::InProgress { retry_after_secs: 1 });
        }
        Ok(record.decide(hash, now))
    }

    async fn complete(
        &self,
        scope: MerchantId,
        key: &IdempotencyKey,
        hash: &[u8; 32],
        response: &StoredResponse,
        keep_until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let headers = serde_json::to_string(&response.headers).map_err(|e| StoreError::Unexpected(e.into()))?;
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", pk(scope, key))
            .update_expression(
                "SET record_state = :done, response_status = :status, response_headers = :headers, \
                 response_body = :body, expires_at_ms = :expires, ttl_epoch = :ttl",
            )
            .condition_expression("request_hash = :hash AND record_state = :in_progress")
            .expression_attribute_values(":done", AttributeValue::S(COMPLETED.into()))
            .expression_attribute_values(":status", AttributeValue::N(response.status.to_string()))
            .expression_attribute_values(":headers", AttributeValue::S(headers))
            .expression_attribute_values(":body", AttributeValue::B(Blob::new(response.body.clone())))
            .expression_attribute_values(":expires", millis(keep_until))
            .expression_attribute_values(":ttl", ttl(keep_until))
            .expression_attribute_values(":hash", AttributeValue::B(Blob::new(hash.to_vec())))
            .expression_attribute_values(":in_progress", AttributeValue::S(IN_PROGRESS.into()))
            .send()
            .await;
        match updated {
            Ok(_) => Ok(()),
            // Our lock lapsed and another request took the key: its record stands.
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => Ok(()),
            Err(e) => Err(sdk_error(e)),
        }
    }

    async fn release(&self, scope: MerchantId, key: &IdempotencyKey, hash: &[u8; 32]) -> Result<(), StoreError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", pk(scope, key))
            .condition_expression("request_hash = :hash AND record_state = :in_progress")
            .expression_attribute_values(":hash", AttributeValue::B(Blob::new(hash.to_vec())))
            .expression_attribute_values(":in_progress", AttributeValue::S(IN_PROGRESS.into()))
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => Ok(()),
            Err(e) => Err(sdk_error(e)),
        }
    }
}
