//! Lambda (no HTTP route): finishes transfers and refunds left EM_PROCESSAMENTO (every minute).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tucano_functions::jobs::reconciler().await
}
