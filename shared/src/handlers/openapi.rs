//! `GET /openapi.json`: the API's OpenAPI 3.1 document, as committed (`openapi.json`,
//! written by `scripts/openapi.py` from the route table and Bacen's API Pix; a test checks
//! it against the route table both ways).

use crate::http::Response;
use bytes::Bytes;
use http::{header, HeaderValue, StatusCode};

/// The document, compiled in.
pub const DOCUMENT: &str = include_str!("../../../openapi.json");

pub fn get() -> Response {
    let mut res = http::Response::new(Bytes::from_static(DOCUMENT.as_bytes()));
    *res.status_mut() = StatusCode::OK;
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    res
}
