//! Lambda for `POST /webhooks/{id}/segredo`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tucano_functions::serve(tucano_shared::routes::RouteId::EndpointRotate).await
}
