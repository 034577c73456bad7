//! AWS over its JSON protocols (DynamoDB, KMS, Secrets Manager, SQS): one signed POST per
//! operation (`X-Amz-Target`, SigV4 by `aws-sigv4`), on the reqwest/rustls client the rest
//! of the service uses. The SDK's generated crates were 42% of a release build's CPU time
//! (316 of 758 core-seconds, BENCHMARKS.md) for the dozen operations used here, and its
//! configuration chain took part of every cold start that called AWS.
//!
//! Credentials and region come from the environment Lambda sets; `AWS_ENDPOINT_URL` (or
//! `AWS_ENDPOINT_URL_<SERVICE>`) points every service at a local stand-in such as moto.
//! As in the SDK's standard mode, a call is tried up to three times when the failure is
//! transient (throttling, a 500/502/503/504, no answer), with full-jitter backoff; the
//! waits are shorter than the SDK's (whose throttling backoff starts at 1 s) and each
//! attempt has 3 s, so that three attempts fit in an API function's 10 s. Redirects are
//! never followed (a redirected signed request would carry its session token elsewhere).

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use serde_json::Value;
use std::time::{Duration, SystemTime};

/// The services Tucano calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    DynamoDb,
    Kms,
    SecretsManager,
    Sqs,
    Ssm,
}

impl Service {
    /// The signing name, which is also the endpoint's first label.
    fn name(self) -> &'static str {
        match self {
            Service::DynamoDb => "dynamodb",
            Service::Kms => "kms",
            Service::SecretsManager => "secretsmanager",
            Service::Sqs => "sqs",
            Service::Ssm => "ssm",
        }
    }

    fn target_prefix(self) -> &'static str {
        match self {
            Service::DynamoDb => "DynamoDB_20120810",
            Service::Kms => "TrentService",
            Service::SecretsManager => "secretsmanager",
            Service::Sqs => "AmazonSQS",
            Service::Ssm => "AmazonSSM",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Service::DynamoDb | Service::Sqs => "application/x-amz-json-1.0",
            Service::Kms | Service::SecretsManager | Service::Ssm => "application/x-amz-json-1.1",
        }
    }

    /// The suffix of its own endpoint variable (`AWS_ENDPOINT_URL_DYNAMODB`, ...).
    fn env_suffix(self) -> &'static str {
        match self {
            Service::DynamoDb => "DYNAMODB",
            Service::Kms => "KMS",
            Service::SecretsManager => "SECRETS_MANAGER",
            Service::Sqs => "SQS",
            Service::Ssm => "SSM",
        }
    }
}

/// Region, credentials and endpoints: what a function loads once, at cold start.
#[derive(Clone)]
pub struct AwsContext {
    region: String,
    credentials: Credentials,
    /// One endpoint for every service (a local stand-in), when set.
    endpoint: Option<String>,
    /// Endpoints named for one service (`AWS_ENDPOINT_URL_<SERVICE>`).
    service_endpoints: Vec<(Service, String)>,
    http: reqwest::Client,
}

impl std::fmt::Debug for AwsContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsContext").field("region", &self.region).field("endpoint", &self.endpoint).finish()
    }
}

/// The HTTP client AWS calls go through: rustls on ring, no proxy from the environment,
/// no redirects, bounded waits (the SDK's connect timeout; an attempt within 3 s).
fn http_client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_millis(3100))
        .timeout(Duration::from_secs(3))
        .build()?)
}

/// An endpoint as both the signature and the request will use it: http(s), a host, no
/// user info, no path; normalised once (lower-case host, explicit trailing slash).
fn endpoint_url(raw: &str) -> anyhow::Result<String> {
    let url = url::Url::parse(raw).map_err(|e| anyhow::anyhow!("AWS endpoint {raw:?} is not a URL: {e}"))?;
    anyhow::ensure!(matches!(url.scheme(), "http" | "https"), "AWS endpoint {raw:?} is not http(s)");
    anyhow::ensure!(url.host_str().is_some_and(|h| !h.is_empty()), "AWS endpoint {raw:?} has no host");
    anyhow::ensure!(url.username().is_empty() && url.password().is_none(), "AWS endpoint {raw:?} carries user info");
    anyhow::ensure!(url.path() == "/" && url.query().is_none(), "AWS endpoint {raw:?} has a path or query");
    Ok(url.to_string())
}

impl AwsContext {
    /// From the environment Lambda sets: `AWS_REGION` (or `AWS_DEFAULT_REGION`),
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`; and
    /// `AWS_ENDPOINT_URL` for a local stand-in.
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// The same, from the variables `var` looks up.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let var = |name: &str| var(name).filter(|v| !v.is_empty());
        let region = var("AWS_REGION")
            .or_else(|| var("AWS_DEFAULT_REGION"))
            .ok_or_else(|| anyhow::anyhow!("AWS_REGION is not set"))?;
        let (Some(id), Some(secret)) = (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) else {
            anyhow::bail!("AWS credentials are not in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)");
        };
        let credentials = Credentials::new(id, secret, var("AWS_SESSION_TOKEN"), None, "environment");
        let mut context = Self::new(region, credentials, var("AWS_ENDPOINT_URL"))?;
        context.service_endpoints =
            [Service::DynamoDb, Service::Kms, Service::SecretsManager, Service::Sqs, Service::Ssm]
                .into_iter()
                .filter_map(|s| var(&format!("AWS_ENDPOINT_URL_{}", s.env_suffix())).map(|e| (s, e)))
                .map(|(s, e)| endpoint_url(&e).map(|e| (s, e)))
                .collect::<anyhow::Result<_>>()?;
        Ok(context)
    }

    /// Explicit settings (tests, tools).
    pub fn new(region: impl Into<String>, credentials: Credentials, endpoint: Option<String>) -> anyhow::Result<Self> {
        let endpoint = endpoint.as_deref().map(endpoint_url).transpose()?;
        Ok(AwsContext { region: region.into(), credentials, endpoint, service_endpoints: vec![], http: http_client()? })
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// The credentials, for what signs on its own (RDS IAM tokens).
    pub fn credentials_provider(&self) -> SharedCredentialsProvider {
        SharedCredentialsProvider::new(self.credentials.clone())
    }

    /// A client for one service.
    pub fn client(&self, service: Service) -> AwsClient {
        let own = self.service_endpoints.iter().find(|(s, _)| *s == service).map(|(_, e)| e.clone());
        let endpoint = own
            .or_else(|| self.endpoint.clone())
            .unwrap_or_else(|| format!("https://{}.{}.amazonaws.com", service.name(), self.region));
        let endpoint = if endpoint.ends_with('/') { endpoint } else { format!("{endpoint}/") };
        AwsClient { context: self.clone(), service, endpoint }
    }
}

/// Why an AWS call failed. Never carries credentials or the request body; its `Debug`
/// leaves out the service's answer too (a DynamoDB condition failure carries the item).
#[derive(thiserror::Error)]
pub enum AwsError {
    /// The service answered with an error (`code` is its exception's name, without the
    /// namespace, e.g. `ConditionalCheckFailedException`); `body` is its whole answer.
    #[error("{code} ({status}): {message}")]
    Service { status: u16, code: String, message: String, body: Value },
    /// No answer: connection, TLS or timeout (the URL is left out).
    #[error("no answer from AWS: {0}")]
    Transport(String),
    /// The request could not be signed or the answer was not JSON.
    #[error("{0}")]
    Protocol(String),
}

impl std::fmt::Debug for AwsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AwsError::Service { status, code, message, .. } => {
                f.debug_struct("Service").field("status", status).field("code", code).field("message", message).finish()
            }
            AwsError::Transport(t) => f.debug_tuple("Transport").field(t).finish(),
            AwsError::Protocol(p) => f.debug_tuple("Protocol").field(p).finish(),
        }
    }
}

/// A transport error with its causes (reqwest's own text says only "error sending
/// request"), without the URL; a request that could not even be built is a protocol fault.
fn transport(e: reqwest::Error) -> AwsError {
    let builder = e.is_builder();
    let e = e.without_url();
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    if builder {
        AwsError::Protocol(text)
    } else {
        AwsError::Transport(text)
    }
}

impl AwsError {
    /// The service's error code, when it answered one.
    pub fn code(&self) -> Option<&str> {
        match self {
            AwsError::Service { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Throttled: worth a longer wait before trying again.
    pub fn is_throttling(&self) -> bool {
        match self {
            AwsError::Service { status, code, .. } => {
                *status == 429
                    || matches!(
                        code.as_str(),
                        "ThrottlingException"
                            | "Throttling"
                            | "ThrottledException"
                            | "RequestThrottledException"
                            | "RequestLimitExceeded"
                            | "ProvisionedThroughputExceededException"
                            | "TooManyRequestsException"
                            | "BandwidthLimitExceeded"
                            | "LimitExceededException"
                            | "RequestThrottled"
                            | "SlowDown"
                            | "PriorRequestNotComplete"
                            | "TransactionInProgressException"
                    )
            }
            _ => false,
        }
    }

    /// Worth trying again: throttled, a server error, a timeout, or no answer.
    pub fn is_transient(&self) -> bool {
        match self {
            AwsError::Transport(_) => true,
            AwsError::Service { status, code, .. } => {
                self.is_throttling()
                    || matches!(status, 500 | 502 | 503 | 504)
                    || matches!(code.as_str(), "RequestTimeout" | "RequestTimeoutException")
            }
            AwsError::Protocol(_) => false,
        }
    }
}

/// A client of one service's JSON protocol.
#[derive(Clone)]
pub struct AwsClient {
    context: AwsContext,
    service: Service,
    endpoint: String,
}

/// Attempts per call, as the SDK's standard retry mode.
const ATTEMPTS: u32 = 3;

impl AwsClient {
    /// Calls `operation` (e.g. `PutItem`) with `input`; its JSON output.
    pub async fn call(&self, operation: &str, input: &Value) -> Result<Value, AwsError> {
        let body = serde_json::to_vec(input).map_err(|e| AwsError::Protocol(e.to_string()))?;
        let mut attempt = 1;
        loop {
            match self.once(operation, &body).await {
                Err(e) if e.is_transient() && attempt < ATTEMPTS => {
                    // Exponential backoff with full jitter: up to 50 ms, then 100 ms; when
                    // throttled, up to 250 ms, then 500 ms.
                    let base = if e.is_throttling() { 250u64 } else { 50 };
                    let cap = base << (attempt - 1);
                    tokio::time::sleep(Duration::from_millis(rand::random::<u64>() % (cap + 1))).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn once(&self, operation: &str, body: &[u8]) -> Result<Value, AwsError> {
        let target = format!("{}.{operation}", self.service.target_prefix());
        let content_type = self.service.content_type();
        let headers = [("content-type", content_type), ("x-amz-target", target.as_str())];
        let identity = self.context.credentials.clone().into();
        let params: aws_sigv4::http_request::SigningParams<'_> = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.context.region)
            .name(self.service.name())
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| AwsError::Protocol(e.to_string()))?
            .into();
        let signable = SignableRequest::new("POST", &self.endpoint, headers.into_iter(), SignableBody::Bytes(body))
            .map_err(|e| AwsError::Protocol(e.to_string()))?;
        let (instructions, _) = sign(signable, &params).map_err(|e| AwsError::Protocol(e.to_string()))?.into_parts();
        let mut request = self.context.http.post(&self.endpoint).body(body.to_vec());
        for (name, value) in headers.into_iter().chain(instructions.headers()) {
            request = request.header(name, value);
        }
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        let header_code = response.headers().get("x-amzn-errortype").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let bytes = response.bytes().await.map_err(transport)?;
        let json: Value = if bytes.is_empty() {
            Value::Object(Default::default())
        } else {
            match serde_json::from_slice(&bytes) {
                Ok(v) => v,
                Err(_) if !status.is_success() => Value::Null,
                Err(e) => return Err(AwsError::Protocol(format!("{operation}: the answer is not JSON ({e})"))),
            }
        };
        if status.is_success() {
            return Ok(json);
        }
        Err(service_error(status.as_u16(), header_code, json))
    }
}

/// The error a service answered, its code found as the JSON protocols say: the
/// `x-amzn-ErrorType` header, else the body's `code`, else its `__type`; each without a
/// `namespace#` prefix or a `:uri` suffix. Its message is `message` or `Message`.
fn service_error(status: u16, header_code: Option<String>, body: Value) -> AwsError {
    let sanitise = |raw: &str| {
        let name = raw.split(':').next().unwrap_or(raw);
        name.rsplit('#').next().unwrap_or(name).trim().to_owned()
    };
    let code = header_code
        .as_deref()
        .or_else(|| body["code"].as_str())
        .or_else(|| body["__type"].as_str())
        .map(sanitise)
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| format!("HTTP {status}"));
    let message = body["message"].as_str().or_else(|| body["Message"].as_str()).unwrap_or("").to_owned();
    AwsError::Service { status, code, message, body }
}

/// Bytes as the JSON protocols carry blobs: standard base64.
pub fn blob(bytes: &[u8]) -> Value {
    use base64::Engine;
    Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// A blob field of an answer, decoded.
pub fn blob_of(v: &Value) -> Option<Vec<u8>> {
    use base64::Engine;
    v.as_str().and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_errors_are_told_by_their_code_without_the_namespace() {
        let e = service_error(
            400,
            None,
            serde_json::json!({"__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException", "message": "no"}),
        );
        assert_eq!(e.code(), Some("ConditionalCheckFailedException"));
        assert!(!e.is_transient());
        let throttled = service_error(400, Some("ThrottlingException".into()), Value::Null);
        assert_eq!(throttled.code(), Some("ThrottlingException"));
        assert!(throttled.is_transient());
        assert!(service_error(503, None, Value::Null).is_transient());
        assert!(!service_error(501, None, Value::Null).is_transient(), "not implemented is final");
        let header = service_error(
            400,
            Some("ResourceNotFoundException:http://internal.amazon.com/coral/".into()),
            serde_json::json!({"__type": "ignored"}),
        );
        assert_eq!(header.code(), Some("ResourceNotFoundException"), "the header comes first, without its uri");
        let debug = format!("{:?}", service_error(400, None, serde_json::json!({"Item": {"secret": 1}})));
        assert!(!debug.contains("secret"), "Debug leaves the answer out: {debug}");
        let kms =
            service_error(400, None, serde_json::json!({"__type": "InvalidCiphertextException", "Message": "bad"}));
        assert_eq!((kms.code(), kms.to_string().contains("bad")), (Some("InvalidCiphertextException"), true));
    }

    #[test]
    fn blobs_round_trip_as_base64() {
        assert_eq!(blob(b"\x00\xffab"), Value::String("AP9hYg==".into()));
        assert_eq!(blob_of(&blob(b"\x00\xffab")), Some(b"\x00\xffab".to_vec()));
        assert_eq!(blob_of(&Value::Null), None);
    }

    #[test]
    fn endpoints_follow_the_region_unless_a_stand_in_is_named() {
        let creds = Credentials::new("a", "b", None, None, "test");
        let real = AwsContext::new("sa-east-1", creds.clone(), None).unwrap();
        assert_eq!(real.client(Service::Kms).endpoint, "https://kms.sa-east-1.amazonaws.com/");
        let local = AwsContext::new("sa-east-1", creds, Some("http://127.0.0.1:5000".into())).unwrap();
        assert_eq!(local.client(Service::Sqs).endpoint, "http://127.0.0.1:5000/");
        let vars = |name: &str| match name {
            "AWS_REGION" => Some("sa-east-1".to_owned()),
            "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" => Some("x".to_owned()),
            "AWS_ENDPOINT_URL_KMS" => Some("http://127.0.0.1:4566".to_owned()),
            _ => None,
        };
        let mixed = AwsContext::from_vars(vars).unwrap();
        assert_eq!(mixed.client(Service::Kms).endpoint, "http://127.0.0.1:4566/");
        assert_eq!(mixed.client(Service::DynamoDb).endpoint, "https://dynamodb.sa-east-1.amazonaws.com/");
        assert!(AwsContext::from_vars(|_| None).is_err(), "no region, no credentials");
        for bad in ["ftp://x", "http://user:pw@127.0.0.1:1", "http://127.0.0.1:1/path", "not a url"] {
            assert!(
                AwsContext::new("sa-east-1", Credentials::new("a", "b", None, None, "t"), Some(bad.into())).is_err(),
                "{bad}"
            );
        }
        let upper = AwsContext::new(
            "sa-east-1",
            Credentials::new("a", "b", None, None, "t"),
            Some("http://LOCALHOST:9".into()),
        );
        assert_eq!(upper.unwrap().client(Service::Kms).endpoint, "http://localhost:9/", "signed as sent");
    }
}
