//! The webhook delivery queue on SQS: the outbox relay sends delivery ids in batches of
//! ten; an SQS-triggered Lambda delivers them.

use crate::ports::DeliveryQueue;
use async_trait::async_trait;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use uuid::Uuid;

/// SQS takes at most ten messages per batch.
const SQS_BATCH: usize = 10;

pub struct SqsDeliveryQueue {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsDeliveryQueue {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: String) -> Self {
        Self { client, queue_url }
    }
}

#[async_trait]
impl DeliveryQueue for SqsDeliveryQueue {
    async fn enqueue(&self, ids: &[Uuid]) -> Result<Vec<Uuid>, anyhow::Error> {
        let mut failed = vec![];
        for chunk in ids.chunks(SQS_BATCH) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, id)| {
                    SendMessageBatchRequestEntry::builder().id(i.to_string()).message_body(id.to_string()).build()
                })
                .collect::<Result<Vec<_>, _>>()?;
            let out = match self
                .client
                .send_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
            {
                Ok(out) => out,
                Err(e) => {
                    tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&e), "enqueueing webhook deliveries failed");
                    failed.extend_from_slice(chunk);
                    continue;
                }
            };
            for f in out.failed() {
                if let Some(id) = f.id().parse::<usize>().ok().and_then(|i| chunk.get(i)) {
                    failed.push(*id);
                }
            }
        }
        Ok(failed)
    }
}
