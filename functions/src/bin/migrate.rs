//! Lambda (no HTTP route): applies migrations on every deploy (a CloudFormation custom resource).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tucano_functions::jobs::migrate().await
}
