//! Idempotency records on DynamoDB (AWS). The conditional PutItem is the lock; when it
//! fails, `ReturnValuesOnConditionCheckFailure=ALL_OLD` hands back the record that won, so
//! no second read is needed (a consistent GetItem covers servers that omit it).
//!
//! Item: `pk` = "{merchant}#{key}", `request_hash` (B), `record_state` (IN_PROGRESS |
//! COMPLETED), `expires_at_ms` (N, checked in code), `ttl_epoch` (N, for DynamoDB TTL,
//! which only cleans up and may lag by days), `response_status` / `response_headers` /
//! `response_body` once completed, `owner` (S: the begin call that wrote it).
//!
//! A PutItem that took the lock but whose reply was lost is sent again (the client retries
//! transient failures): its condition then fails on its own record. The `owner` token, new
//! for each begin, tells that record from another request's, so the call goes on instead of
//! answering "in progress" to its own client until the lock lapses.

use super::aws::{blob, blob_of, AwsClient, AwsContext, AwsError, Service};
use crate::domain::idempotency::{Begin, IdempotencyKey, Record, StoredResponse};
use crate::domain::merchant::MerchantId;
use crate::ports::{IdempotencyStore, StoreError};
use anyhow::anyhow;
use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Value};

const IN_PROGRESS: &str = "IN_PROGRESS";
const COMPLETED: &str = "COMPLETED";
const CONDITION_FAILED: &str = "ConditionalCheckFailedException";

pub struct DynamoIdempotencyStore {
    client: AwsClient,
    table: String,
}

/// Throttling, timeouts and connection failures are worth a retry (503); the rest is a bug.
fn aws_error(e: AwsError) -> StoreError {
    if e.is_transient() {
        StoreError::Unavailable(e.into())
    } else {
        StoreError::Unexpected(e.into())
    }
}

fn pk(scope: MerchantId, key: &IdempotencyKey) -> Value {
    json!({"S": format!("{}#{}", scope.0, key.as_str())})
}

fn millis(t: DateTime<Utc>) -> Value {
    json!({"N": t.timestamp_millis().to_string()})
}

fn ttl(t: DateTime<Utc>) -> Value {
    json!({"N": t.timestamp().to_string()})
}

fn b(bytes: &[u8]) -> Value {
    json!({"B": blob(bytes)})
}

fn s(text: &str) -> Value {
    json!({"S": text})
}

/// An item's attribute of one DynamoDB type (`S`, `N`, `B`).
fn attr<'a>(item: &'a Value, name: &str, kind: &str) -> Option<&'a Value> {
    item.get(name).and_then(|v| v.get(kind))
}

fn record_of(item: &Value) -> Result<Record, StoreError> {
    let bad = |what: &str| StoreError::Unexpected(anyhow!("idempotency item without a valid {what}"));
    let request_hash: [u8; 32] = attr(item, "request_hash", "B")
        .and_then(blob_of)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| bad("request_hash"))?;
    let number = |name: &str| attr(item, name, "N").and_then(Value::as_str).and_then(|n| n.parse::<i64>().ok());
    let expires_ms = number("expires_at_ms").ok_or_else(|| bad("expiry"))?;
    let expires_at = Utc.timestamp_millis_opt(expires_ms).single().ok_or_else(|| bad("expiry"))?;
    let state = attr(item, "record_state", "S").and_then(Value::as_str).ok_or_else(|| bad("state"))?;
    let response = if state == COMPLETED {
        let status =
            number("response_status").and_then(|n| u16::try_from(n).ok()).ok_or_else(|| bad("response_status"))?;
        let headers = attr(item, "response_headers", "S")
            .and_then(Value::as_str)
            .and_then(|s| serde_json::from_str(s).ok())
            .ok_or_else(|| bad("response_headers"))?;
        let body = attr(item, "response_body", "B").and_then(blob_of).ok_or_else(|| bad("response_body"))?;
        Some(StoredResponse { status, headers, body })
    } else {
        None
    };
    Ok(Record { request_hash, response, expires_at })
}

impl DynamoIdempotencyStore {
    pub fn new(aws: &AwsContext, table: impl Into<String>) -> Self {
        Self { client: aws.client(Service::DynamoDb), table: table.into() }
    }

    /// Creates the table with TTL on `ttl_epoch` if it does not exist (local and tests;
    /// in AWS the deployment creates it).
    pub async fn ensure_table(&self) -> anyhow::Result<()> {
        let exists = self.client.call("DescribeTable", &json!({"TableName": self.table})).await.is_ok();
        if !exists {
            self.client
                .call(
                    "CreateTable",
                    &json!({
                        "TableName": self.table,
                        "BillingMode": "PAY_PER_REQUEST",
                        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                    }),
                )
                .await?;
            self.client
                .call(
                    "UpdateTimeToLive",
                    &json!({
                        "TableName": self.table,
                        "TimeToLiveSpecification": {"Enabled": true, "AttributeName": "ttl_epoch"},
                    }),
                )
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
        let owner = uuid::Uuid::new_v4().simple().to_string();
        let put = self
            .client
            .call(
                "PutItem",
                &json!({
                    "TableName": self.table,
                    "Item": {
                        "pk": pk(scope, key),
                        "request_hash": b(hash),
                        "record_state": s(IN_PROGRESS),
                        "expires_at_ms": millis(lock_until),
                        "ttl_epoch": ttl(lock_until),
                        "owner": s(&owner),
                    },
                    "ConditionExpression": "attribute_not_exists(pk) OR expires_at_ms <= :now",
                    "ExpressionAttributeValues": {":now": millis(now)},
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }),
            )
            .await;
        let old = match put {
            Ok(_) => return Ok(Begin::Run),
            Err(AwsError::Service { code, body, .. }) if code == CONDITION_FAILED => {
                body.get("Item").filter(|i| i.is_object()).cloned()
            }
            Err(e) => return Err(aws_error(e)),
        };
        let item = match old {
            Some(item) => item,
            None => self
                .client
                .call(
                    "GetItem",
                    &json!({"TableName": self.table, "Key": {"pk": pk(scope, key)}, "ConsistentRead": true}),
                )
                .await
                .map_err(aws_error)?
                .get("Item")
                .filter(|i| i.is_object())
                .cloned()
                .ok_or_else(|| StoreError::Unavailable(anyhow!("idempotency record vanished; retry")))?,
        };
        if attr(&item, "owner", "S").and_then(Value::as_str) == Some(owner.as_str()) {
            // Our own write, sent again after its reply was lost: the lock is ours.
            return Ok(Begin::Run);
        }
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
            .call(
                "UpdateItem",
                &json!({
                    "TableName": self.table,
                    "Key": {"pk": pk(scope, key)},
                    "UpdateExpression": "SET record_state = :done, response_status = :status, response_headers = :headers, \
                                         response_body = :body, expires_at_ms = :expires, ttl_epoch = :ttl",
                    "ConditionExpression": "request_hash = :hash AND record_state = :in_progress",
                    "ExpressionAttributeValues": {
                        ":done": s(COMPLETED),
                        ":status": {"N": response.status.to_string()},
                        ":headers": s(&headers),
                        ":body": b(&response.body),
                        ":expires": millis(keep_until),
                        ":ttl": ttl(keep_until),
                        ":hash": b(hash),
                        ":in_progress": s(IN_PROGRESS),
                    },
                }),
            )
            .await;
        match updated {
            Ok(_) => Ok(()),
            // Our lock lapsed and another request took the key: its record stands.
            Err(e) if e.code() == Some(CONDITION_FAILED) => Ok(()),
            Err(e) => Err(aws_error(e)),
        }
    }

    async fn release(&self, scope: MerchantId, key: &IdempotencyKey, hash: &[u8; 32]) -> Result<(), StoreError> {
        let deleted = self
            .client
            .call(
                "DeleteItem",
                &json!({
                    "TableName": self.table,
                    "Key": {"pk": pk(scope, key)},
                    "ConditionExpression": "request_hash = :hash AND record_state = :in_progress",
                    "ExpressionAttributeValues": {":hash": b(hash), ":in_progress": s(IN_PROGRESS)},
                }),
            )
            .await;
        match deleted {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some(CONDITION_FAILED) => Ok(()),
            Err(e) => Err(aws_error(e)),
        }
    }
}
