//! A real DynamoDB/KMS/SQS-compatible server for the AWS adapters' tests: moto_server from the
//! project's venv (installed by `make test`), on a free port, stopped when dropped.
//! `AWS_ENDPOINT_URL` set in the environment is used instead.

use std::time::Duration;

pub struct Moto {
    pub endpoint: String,
    _child: Option<tokio::process::Child>,
}

fn moto_binary() -> String {
    if let Ok(bin) = std::env::var("MOTO_SERVER") {
        return bin;
    }
    let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/moto_server");
    if std::path::Path::new(venv).exists() {
        return venv.to_owned();
    }
    "moto_server".to_owned()
}

/// The SDK's HTTP client on rustls + ring (its default would bring aws-lc).
fn sdk_http_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https()
}

impl Moto {
    pub async fn start() -> Moto {
        if let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL") {
            return Moto { endpoint, _child: None };
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = tokio::process::Command::new(moto_binary())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("moto_server not found: run `make test` (it installs moto into .venv) or set MOTO_SERVER");
        let endpoint = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        for _ in 0..1200 {
            if client.get(format!("{endpoint}/moto-api/")).send().await.is_ok() {
                return Moto { endpoint, _child: Some(child) };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("moto_server did not start on {endpoint}");
    }

    /// The service's own AWS context, pointed at this server (what a function reads from
    /// its environment in AWS).
    pub fn aws(&self) -> tucano_shared::adapters::aws::AwsContext {
        let credentials = aws_credential_types::Credentials::new("test", "test", None, None, "moto");
        tucano_shared::adapters::aws::AwsContext::new("sa-east-1", credentials, Some(self.endpoint.clone())).unwrap()
    }
}

impl Moto {
    pub fn kms(&self) -> aws_sdk_kms::Client {
        let config = aws_sdk_kms::Config::builder()
            .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
            .region(aws_sdk_kms::config::Region::new("sa-east-1"))
            .endpoint_url(&self.endpoint)
            .http_client(sdk_http_client())
            .credentials_provider(aws_sdk_kms::config::Credentials::new("test", "test", None, None, "moto"))
            .build();
        aws_sdk_kms::Client::from_conf(config)
    }
}

impl Moto {
    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        let config = aws_sdk_sqs::Config::builder()
            .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
            .region(aws_sdk_sqs::config::Region::new("sa-east-1"))
            .endpoint_url(&self.endpoint)
            .http_client(sdk_http_client())
            .credentials_provider(aws_sdk_sqs::config::Credentials::new("test", "test", None, None, "moto"))
            .build();
        aws_sdk_sqs::Client::from_conf(config)
    }
}

impl Moto {
    pub fn secrets_manager(&self) -> aws_sdk_secretsmanager::Client {
        let config = aws_sdk_secretsmanager::Config::builder()
            .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
            .region(aws_sdk_secretsmanager::config::Region::new("sa-east-1"))
            .endpoint_url(&self.endpoint)
            .http_client(sdk_http_client())
            .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new("test", "test", None, None, "moto"))
            .build();
        aws_sdk_secretsmanager::Client::from_conf(config)
    }
}
