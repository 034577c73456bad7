//! The cold-start floor: a bare `lambda_http` hello world, built like the functions, that
//! `tucano bench coldstart` measures every function against.

use lambda_http::{service_fn, Body, Error, Request, Response};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::run(service_fn(|_req: Request| async {
        Ok::<_, Error>(Response::builder().status(200).body(Body::Text("hello".into())).expect("static response"))
    }))
    .await
}
