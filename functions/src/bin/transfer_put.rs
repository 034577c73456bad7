//! Lambda for `PUT /envio/{idEnvio}`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tucano_functions::serve(tucano_shared::routes::RouteId::TransferPut).await
}
