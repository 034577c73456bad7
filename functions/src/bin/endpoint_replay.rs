//! Lambda for `POST /webhooks/{id}/reenviar`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tucano_functions::serve(tucano_shared::routes::RouteId::EndpointReplay).await
}
