//! Lambda for `POST /webhooks`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tucano_functions::serve(tucano_shared::routes::RouteId::EndpointPost).await
}
