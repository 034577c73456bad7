//! The `SecretSource` on AWS Secrets Manager: a secret's `AWSCURRENT` version and, while a
//! rotation overlaps (the current version is less than [`OVERLAP`] old), its
//! `AWSPREVIOUS` one — so a leaked value stops verifying a day after the rotation that
//! replaced it, not at the next rotation.

use crate::ports::{SecretSource, SecretVersions, StoreError};
use async_trait::async_trait;
use aws_sdk_secretsmanager::error::SdkError;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use aws_sdk_secretsmanager::Client;

/// How long the previous value keeps verifying after a rotation.
pub const OVERLAP: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

pub struct SecretsManagerSource {
    client: Client,
}

/// A version's value and when it was made.
struct Version {
    value: Vec<u8>,
    created: Option<std::time::SystemTime>,
}

impl SecretsManagerSource {
    pub fn new(client: Client) -> Self {
        SecretsManagerSource { client }
    }

    async fn stage(&self, id: &str, stage: &str) -> Result<Option<Version>, StoreError> {
        match self.client.get_secret_value().secret_id(id).version_stage(stage).send().await {
            Ok(out) => {
                let created = out.created_date.and_then(|d| std::time::SystemTime::try_from(d).ok());
                let value =
                    out.secret_string.map(String::into_bytes).or_else(|| out.secret_binary.map(|b| b.into_inner()));
                Ok(value.map(|value| Version { value, created }))
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
        // Without a creation date the overlap cannot be bounded: no previous value then.
        // (A creation date a little ahead of this clock is a fresh rotation, not none.)
        let age = |c: std::time::SystemTime| c.elapsed().unwrap_or(std::time::Duration::ZERO);
        let overlapping = current.created.map(age).is_some_and(|age| age < OVERLAP);
        let previous = if overlapping { self.stage(id, "AWSPREVIOUS").await?.map(|v| v.value) } else { None };
        Ok(SecretVersions { current: current.value, previous })
    }
}
