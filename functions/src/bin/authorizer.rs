//! Lambda (no HTTP route): the HTTP API's Lambda authorizer: API key to merchant.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tucano_functions::jobs::authorizer().await
}
