//! Lambda for `GET /pix/{e2eid}`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tucano_functions::serve(tucano_shared::routes::RouteId::PixGet).await
}
