//! The one AWS SDK configuration every adapter (DynamoDB, KMS, SQS) is built from: the
//! SDK's hyper client with rustls on *ring*, the crypto provider sqlx and reqwest already
//! use. The SDK's default client would bring aws-lc, a second crypto library whose C build
//! alone was 85 s of a release build's critical path (BENCHMARKS.md).

use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use aws_smithy_http_client::Builder;

pub use aws_config::SdkConfig;
pub use aws_smithy_runtime_api::client::http::SharedHttpClient;

/// The HTTP client every AWS SDK client uses (https with the platform's roots, and plain
/// http for a local endpoint such as moto).
pub fn http_client() -> SharedHttpClient {
    Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https()
}

/// The SDK's default configuration chain (region, credentials, endpoint from the
/// environment) with [`http_client`]; callers may add to it before loading.
pub fn config_loader() -> aws_config::ConfigLoader {
    aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(http_client())
}

/// [`config_loader`], loaded: what a function does once, at cold start, when it calls AWS.
pub async fn load_config() -> SdkConfig {
    config_loader().load().await
}
