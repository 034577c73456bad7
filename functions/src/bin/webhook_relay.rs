//! Lambda (no HTTP route): the outbox relay: fans events out and enqueues due webhook deliveries (every minute).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tucano_functions::jobs::webhook_relay().await
}
