//! Lambda for `GET /qr/v2/{token}`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tucano_functions::serve(tucano_shared::routes::RouteId::PayloadGet).await
}
