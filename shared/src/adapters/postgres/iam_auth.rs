//! IAM authentication to RDS Proxy: the password of each new connection is a token the
//! function mints from its own credentials (a SigV4-presigned `connect` request, signed
//! locally, valid 15 minutes), so no database password exists in the function at all.

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings};
use aws_sigv4::sign::v4;
use sqlx::postgres::PgConnectOptions;
use sqlx::PgPool;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// How long RDS accepts a token for a new connection.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(900);
/// A token is replaced well before it expires: a connection opened with it must not race
/// its expiry.
pub const TOKEN_REFRESH: Duration = Duration::from_secs(600);

/// The token for `user` at `host:port` in `region`, signed at `at`: the presigned URL
/// without its scheme, as RDS expects it in the password field.
pub fn auth_token(
    host: &str,
    port: u16,
    user: &str,
    region: &str,
    credentials: &Credentials,
    at: SystemTime,
) -> anyhow::Result<String> {
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(TOKEN_LIFETIME);
    let identity = credentials.clone().into();
    let params: aws_sigv4::http_request::SigningParams<'_> = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("rds-db")
        .time(at)
        .settings(settings)
        .build()?
        .into();
    let mut url = url::Url::parse(&format!("https://{host}:{port}/"))?;
    url.query_pairs_mut().append_pair("Action", "connect").append_pair("DBUser", user);
    let request = SignableRequest::new("GET", url.as_str(), std::iter::empty(), SignableBody::Bytes(&[]))?;
    let (instructions, _) = sign(request, &params)?.into_parts();
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in instructions.params() {
            query.append_pair(name, value);
        }
    }
    Ok(url.as_str().trim_start_matches("https://").to_owned())
}

/// A token for the user, host and port of `options`, signed now.
async fn token_for(
    options: &PgConnectOptions,
    region: &str,
    provider: &SharedCredentialsProvider,
) -> anyhow::Result<String> {
    let credentials = provider.provide_credentials().await?;
    auth_token(options.get_host(), options.get_port(), options.get_username(), region, &credentials, SystemTime::now())
}

/// Keeps a pool's password a fresh token: new connections take the options set last.
pub struct IamPassword {
    pool: PgPool,
    options: PgConnectOptions,
    region: String,
    credentials: SharedCredentialsProvider,
    /// When the token in use was signed: wall-clock time, as RDS judges it (a frozen
    /// Lambda's monotonic clock may not have moved while the wall clock did).
    minted: Mutex<Option<SystemTime>>,
}

impl IamPassword {
    pub fn new(
        pool: PgPool,
        options: PgConnectOptions,
        region: String,
        credentials: SharedCredentialsProvider,
    ) -> Self {
        IamPassword { pool, options, region, credentials, minted: Mutex::new(None) }
    }

    fn due(&self) -> bool {
        let age = |at: SystemTime| SystemTime::now().duration_since(at).unwrap_or(TOKEN_REFRESH);
        self.minted.lock().map(|m| m.is_none_or(|at| age(at) >= TOKEN_REFRESH)).unwrap_or(true)
    }

    /// Before a request or job uses the pool: a token older than [`TOKEN_REFRESH`] is
    /// replaced (local signing; the credentials are cached by their provider).
    pub async fn keep_fresh(&self) -> anyhow::Result<()> {
        if !self.due() {
            return Ok(());
        }
        let token = token_for(&self.options, &self.region, &self.credentials).await?;
        self.pool.set_connect_options(self.options.clone().password(&token));
        if let Ok(mut m) = self.minted.lock() {
            *m = Some(SystemTime::now());
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl crate::ports::DatabaseAuth for IamPassword {
    async fn keep_fresh(&self) -> Result<(), crate::ports::StoreError> {
        IamPassword::keep_fresh(self).await.map_err(crate::ports::StoreError::Unavailable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vector botocore's `generate_db_auth_token` gives for these inputs (and the AWS
    /// SDK for Rust's own test of its token generator): an independent implementation.
    #[test]
    fn the_token_is_the_one_aws_sdks_sign_for_the_same_request() {
        let credentials = Credentials::new("akid", "secret", None, None, "test");
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_724_709_600); // 2024-08-26T22:00:00Z
        let token =
            auth_token("prod-instance.us-east-1.rds.amazonaws.com", 3306, "peccy", "us-east-1", &credentials, at)
                .unwrap();
        assert!(token.starts_with("prod-instance.us-east-1.rds.amazonaws.com:3306/?Action=connect&DBUser=peccy&"));
        assert!(token.contains("X-Amz-Expires=900"), "{token}");
        assert!(token.contains("X-Amz-Credential=akid%2F20240826%2Fus-east-1%2Frds-db%2Faws4_request"), "{token}");
        assert!(
            token.ends_with("X-Amz-Signature=dd0cba843009474347af724090233265628ace491ea17ce3eb3da098b983ad89"),
            "{token}"
        );
    }
}
