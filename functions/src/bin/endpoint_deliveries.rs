//! Lambda for `GET /webhooks/{id}/entregas`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tucano_functions::serve(tucano_shared::routes::RouteId::EndpointDeliveries).await
}
