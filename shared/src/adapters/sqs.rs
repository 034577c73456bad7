//! The webhook delivery queue on SQS: the outbox relay sends delivery ids in batches of
//! ten; an SQS-triggered Lambda delivers them.

use super::aws::{AwsClient, AwsContext, Service};
use crate::ports::DeliveryQueue;
use async_trait::async_trait;
use serde_json::{json, Value};
use uuid::Uuid;

/// SQS takes at most ten messages per batch.
const SQS_BATCH: usize = 10;

pub struct SqsDeliveryQueue {
    client: AwsClient,
    queue_url: String,
}

impl SqsDeliveryQueue {
    pub fn new(aws: &AwsContext, queue_url: String) -> Self {
        Self { client: aws.client(Service::Sqs), queue_url }
    }
}

#[async_trait]
impl DeliveryQueue for SqsDeliveryQueue {
    async fn enqueue(&self, ids: &[Uuid]) -> Result<Vec<Uuid>, anyhow::Error> {
        let mut failed = vec![];
        for chunk in ids.chunks(SQS_BATCH) {
            let entries: Vec<Value> = chunk
                .iter()
                .enumerate()
                .map(|(i, id)| json!({"Id": i.to_string(), "MessageBody": id.to_string()}))
                .collect();
            let input = json!({"QueueUrl": self.queue_url, "Entries": entries});
            let out = match self.client.call("SendMessageBatch", &input).await {
                Ok(out) => out,
                Err(e) => {
                    tracing::warn!(error = %e, "enqueueing webhook deliveries failed");
                    failed.extend_from_slice(chunk);
                    continue;
                }
            };
            for f in out["Failed"].as_array().into_iter().flatten() {
                if let Some(id) = f["Id"].as_str().and_then(|i| i.parse::<usize>().ok()).and_then(|i| chunk.get(i)) {
                    failed.push(*id);
                }
            }
        }
        Ok(failed)
    }
}
