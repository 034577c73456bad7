//! The `SecretSource` on AWS Secrets Manager: a secret's `AWSCURRENT` version and, while a
//! rotation overlaps, its `AWSPREVIOUS` one.

use crate::ports::{SecretSource, SecretVersions, StoreError};
use async_trait::async_trait;
use aws_sdk_secretsmanager::error::SdkError;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use aws_sdk_secretsmanager::Client;

pub struct SecretsManagerSource {
    client: Client,
}

impl SecretsManagerSource {
    pub fn new(client: Client) -> Self {
        SecretsManagerSource { client }
    }

    async fn stage(&self, id: &str, stage: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self.client.get_secret_value().secret_id(id).version_stage(stage).send().await {
            Ok(out) => {
                Ok(out.secret_string.map(String::into_bytes).or_else(|| out.secret_binary.map(|b| b.into_inner())))
            }
            Err(SdkError::ServiceError(e)) if matches!(e.err(), GetSecretValueError::ResourceNotFoundException(_)) => {
                Ok(None)
            }
            Err(e @ (SdkError::TimeoutError(_) | SdkError::DispatchFailure(_))) => {
                Err(StoreError::Unavailable(anyhow::Error::new(e)))
            }
            // The error names the secret, never its value.
            Err(e) => Err(StoreError::Unexpected(anyhow::Error::new(e))),
        }
    }
}

#[async_trait]
impl SecretSource for SecretsManagerSource {
    async fn read(&self, id: &str) -> Result<SecretVersions, StoreError> {
        let current = self
            .stage(id, "AWSCURRENT")
            .await?
            .ok_or_else(|| StoreError::Unexpected(anyhow::anyhow!("secret {id} has no current value")))?;
        let previous = self.stage(id, "AWSPREVIOUS").await?;
        Ok(SecretVersions { current, previous })
    }
}
