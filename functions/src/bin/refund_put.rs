//! Lambda for `PUT /pix/{e2eid}/devolucao/{id}`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tucano_functions::serve(tucano_shared::routes::RouteId::RefundPut).await
}
