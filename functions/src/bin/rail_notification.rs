//! Lambda for `POST /rail/notificacoes`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tucano_functions::serve(tucano_shared::routes::RouteId::RailNotification).await
}
