//! The HTTP edge shared by the local server and the Lambda functions: request and
//! response types, problem+json errors, JSON and query parsing, authentication.

pub mod auth;
pub mod idempotency;
pub mod json;
pub mod problem;
pub mod query;
pub mod quota;

use bytes::Bytes;
use http::{header, HeaderValue, StatusCode};
use serde::Serialize;

/// A request as every handler sees it, whatever carried it (hyper locally, API Gateway in AWS).
pub type Request = http::Request<Bytes>;
/// A response as every handler returns it.
pub type Response = http::Response<Bytes>;

/// The largest request body a route accepts (`Route::max_body`).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// The largest body of a batch of up to 1,000 charges (`/lotecobv`): well under Lambda's
/// 6 MB request payload.
pub const MAX_BATCH_BODY_BYTES: usize = 2 * 1024 * 1024;
/// The largest body of the rail's notifications: a batch of up to 100, each at most about
/// 1 KiB with every field at its longest (a single one stays far below).
pub const MAX_RAIL_BODY_BYTES: usize = 256 * 1024;

/// Path parameters extracted by the route table (percent-decoded).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathParams(pub Vec<(&'static str, String)>);

impl PathParams {
    pub fn get(&self, name: &str) -> &str {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str()).unwrap_or("")
    }
}

/// The percent-decoded path parameter `name` ("" if the route has none of that name).
pub fn param<'a>(req: &'a Request, name: &str) -> &'a str {
    req.extensions().get::<PathParams>().map(|p| p.get(name)).unwrap_or("")
}

/// When the platform will stop this request (Lambda's deadline); absent locally.
#[derive(Debug, Clone, Copy)]
pub struct Deadline(pub std::time::Instant);

impl Deadline {
    pub fn remaining(&self) -> std::time::Duration {
        self.0.saturating_duration_since(std::time::Instant::now())
    }
}

/// The id of one request, echoed in `x-request-id` and in problem `correlationId`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

impl RequestId {
    pub fn of(req: &Request) -> String {
        req.extensions().get::<RequestId>().map(|r| r.0.clone()).unwrap_or_default()
    }
}

/// A JSON response with the given status.
pub fn json<T: Serialize + ?Sized>(status: StatusCode, body: &T) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut res = http::Response::new(Bytes::from(bytes));
    *res.status_mut() = status;
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}
