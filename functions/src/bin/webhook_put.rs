//! Lambda for `PUT /webhook/{chave}`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tucano_functions::serve(tucano_shared::routes::RouteId::WebhookPut).await
}
