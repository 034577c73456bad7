//! Lambda for `PATCH /cob/{txid}`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tucano_functions::serve(tucano_shared::routes::RouteId::CobPatch).await
}
