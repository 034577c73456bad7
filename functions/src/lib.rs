//! The Lambda glue shared by every function binary: build the state once at cold start,
//! then turn each API Gateway event into a shared-crate request for one route.

use bytes::Bytes;
use lambda_http::{service_fn, Body, Error, Request, RequestExt};
use tucano_shared::app::{AppState, Config};
use tucano_shared::http::MAX_BODY_BYTES;
use tucano_shared::routes::{handle, too_large, Route, RouteId};

/// Runs the Lambda runtime loop for one route. Configuration errors stop the cold start
/// with a clear message instead of failing every request.
pub async fn serve(route: RouteId) -> Result<(), Error> {
    tucano_shared::telemetry::init(true);
    let route = route.route().ok_or("this function's route is missing from the route table")?;
    let config = Config::from_env()?;
    let state = AppState::new(config)?;
    let state = &state;
    lambda_http::run(service_fn(move |req: Request| async move { Ok::<_, Error>(respond(state, route, req).await) }))
        .await
}

/// One API Gateway request through the route's handler.
pub async fn respond(state: &AppState, route: &'static Route, req: Request) -> lambda_http::Response<Body> {
    let request_id = req.lambda_context_ref().map(|c| c.request_id.clone()).unwrap_or_default();
    let (parts, body) = req.into_parts();
    let bytes = match body {
        Body::Empty => Bytes::new(),
        Body::Text(s) => Bytes::from(s),
        Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    let response = if bytes.len() > MAX_BODY_BYTES {
        too_large(&request_id)
    } else {
        // API Gateway routed by the same template; match again to decode parameters the
        // same way the local server does.
        let params = route.matches(parts.uri.path()).unwrap_or_default();
        handle(state, route, http::Request::from_parts(parts, bytes), params, request_id).await
    };
    response.map(|b| String::from_utf8(b.to_vec()).map(Body::Text).unwrap_or_else(|e| Body::Binary(e.into_bytes())))
}
