//! The `SecretSource` on AWS Secrets Manager: a secret's `AWSCURRENT` version and, while a
//! rotation overlaps (the current version is less than [`OVERLAP`] old), its
//! `AWSPREVIOUS` one — so a leaked value stops verifying a day after the rotation that
//! replaced it, not at the next rotation.

use super::aws::{blob_of, AwsClient, AwsContext, Service};
use crate::ports::{SecretSource, SecretVersions, StoreError};
use async_trait::async_trait;
use serde_json::json;

/// How long the previous value keeps verifying after a rotation.
pub const OVERLAP: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

pub struct SecretsManagerSource {
    client: AwsClient,
}

/// A version's value and when it was made.
struct Version {
    value: Vec<u8>,
    created: Option<std::time::SystemTime>,
}

impl SecretsManagerSource {
    pub fn new(aws: &AwsContext) -> Self {
        SecretsManagerSource { client: aws.client(Service::SecretsManager) }
    }

    async fn stage(&self, id: &str, stage: &str) -> Result<Option<Version>, StoreError> {
        match self.client.call("GetSecretValue", &json!({"SecretId": id, "VersionStage": stage})).await {
            Ok(out) => {
                // CreatedDate is epoch seconds, with a fraction.
                let created = out["CreatedDate"]
                    .as_f64()
                    .and_then(|s| std::time::Duration::try_from_secs_f64(s).ok())
                    .and_then(|d| std::time::UNIX_EPOCH.checked_add(d));
                let value = out["SecretString"]
                    .as_str()
                    .map(|s| s.as_bytes().to_vec())
                    .or_else(|| blob_of(&out["SecretBinary"]));
                Ok(value.map(|value| Version { value, created }))
            }
            Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(None),
            Err(e) if e.is_transient() => Err(StoreError::Unavailable(e.into())),
            Err(e) => Err(StoreError::Unexpected(e.into())),
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
