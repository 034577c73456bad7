//! Lambda (no HTTP route): delivers the webhooks named by SQS messages.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tucano_functions::jobs::webhook_deliver().await
}
