//! The one Lambda binary (`bootstrap`) every function runs: it serves the route or job its
//! function's handler names (`_HANDLER`, from `handler:` in serverless.yml). Linked once,
//! uploaded once; each function keeps its own role, log group, alarms and concurrency.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let handler =
        std::env::var("_HANDLER").map_err(|_| "_HANDLER is not set: Lambda sets it from the function's handler")?;
    tucano_functions::run(&handler).await
}
