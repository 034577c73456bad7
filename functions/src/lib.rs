//! The Lambda glue: which route or job a function serves (by its handler name), building
//! the state once at cold start, then turning each API Gateway event into a shared-crate
//! request for that route.

pub mod jobs;

/// What a function's handler name stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handler {
    Route(RouteId),
    Job(&'static str),
}

/// The route or job named `name` in the route table (`Route::function`, `Job::function`).
pub fn handler(name: &str) -> Option<Handler> {
    if let Some(r) = tucano_shared::routes::ROUTES.iter().find(|r| r.function == name) {
        return Some(Handler::Route(r.id));
    }
    tucano_shared::routes::JOBS.iter().find(|j| j.function == name).map(|j| Handler::Job(j.function))
}

/// Runs the function whose handler is `name`.
pub async fn run(name: &str) -> Result<(), Error> {
    match handler(name) {
        Some(Handler::Route(id)) => serve(id).await,
        Some(Handler::Job("reconciler")) => jobs::reconciler().await,
        Some(Handler::Job("webhook_relay")) => jobs::webhook_relay().await,
        Some(Handler::Job("lotecobv_worker")) => jobs::lotecobv_worker().await,
        Some(Handler::Job("webhook_deliver")) => jobs::webhook_deliver().await,
        Some(Handler::Job("migrate")) => jobs::migrate().await,
        Some(Handler::Job("admin")) => jobs::admin().await,
        Some(Handler::Job(other)) => Err(format!("the job {other} has no entry point").into()),
        None => Err(format!("no route or job is called {name:?}").into()),
    }
}

use bytes::Bytes;
use lambda_http::{service_fn, Body, Error, Request, RequestExt};
use tucano_shared::app::{AppState, Config};
use tucano_shared::http::Deadline;
use tucano_shared::routes::{handle, too_large, Route, RouteId};

/// Runs the Lambda runtime loop for one route. Configuration errors stop the cold start
/// with a clear message instead of failing every request.
pub async fn serve(route: RouteId) -> Result<(), Error> {
    tucano_shared::telemetry::init(true);
    let route = route.route().ok_or("this function's route is missing from the route table")?;
    let mut config = Config::from_env()?;
    if route.holds_index_key() {
        config = config.requiring_index_key()?;
    }
    let state = AppState::new(config).await?;
    let state = &state;
    lambda_http::run(service_fn(move |req: Request| async move { Ok::<_, Error>(respond(state, route, req).await) }))
        .await
}

/// One API Gateway request through the route's handler.
pub async fn respond(state: &AppState, route: &'static Route, req: Request) -> lambda_http::Response<Body> {
    let context = req.lambda_context_ref();
    let request_id = context.map(|c| c.request_id.clone()).unwrap_or_default();
    // Lambda's deadline (ms since the epoch) bounds how long the idempotency lock lasts.
    let deadline = context.map(|c| {
        let now_ms =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
        let left = u64::try_from(u128::from(c.deadline).saturating_sub(now_ms)).unwrap_or(0);
        Deadline(std::time::Instant::now() + std::time::Duration::from_millis(left))
    });
    let (parts, body) = req.into_parts();
    let bytes = match body {
        Body::Empty => Bytes::new(),
        Body::Text(s) => Bytes::from(s),
        Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    let response = if bytes.len() > route.max_body() {
        too_large(&request_id, route.max_body())
    } else {
        // API Gateway routed by the same template; match again to decode parameters the
        // same way the local server does.
        let params = route.matches(parts.uri.path()).unwrap_or_default();
        let mut req = http::Request::from_parts(parts, bytes);
        if let Some(d) = deadline {
            req.extensions_mut().insert(d);
        }
        handle(state, route, req, params, request_id).await
    };
    response.map(|b| String::from_utf8(b.to_vec()).map(Body::Text).unwrap_or_else(|e| Body::Binary(e.into_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_and_job_has_a_handler_and_nothing_else_does() {
        for r in tucano_shared::routes::ROUTES {
            assert_eq!(handler(r.function), Some(Handler::Route(r.id)), "{}", r.function);
        }
        for j in tucano_shared::routes::JOBS {
            assert_eq!(handler(j.function), Some(Handler::Job(j.function)), "{}", j.function);
        }
        for unknown in ["", "bootstrap", "cob", "COB_GET", "cob_get "] {
            assert_eq!(handler(unknown), None, "{unknown:?}");
        }
    }

    #[tokio::test]
    async fn an_unknown_handler_stops_the_cold_start_with_its_name() {
        let e = run("nope").await.unwrap_err();
        assert!(e.to_string().contains("\"nope\""), "{e}");
    }
}
