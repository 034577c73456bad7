//! The one Lambda binary (`bootstrap`) every function runs: it serves the route or job its
//! function's handler names (`_HANDLER`, from `handler:` in serverless.yml). Linked once,
//! uploaded once; each function keeps its own role, log group, alarms and concurrency.

/// One thread: a Lambda execution environment handles one event at a time, so worker
/// threads would only add to the cold start (and Lambda gives < 1 vCPU below 1.8 GB).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let handler =
        std::env::var("_HANDLER").map_err(|_| "_HANDLER is not set: Lambda sets it from the function's handler")?;
    tucano_functions::run(&handler).await
}
