//! The local HTTP server: every route of the shared table in one process, the same
//! handlers the Lambda functions run, and the API reference page (`/docs`).

use axum::body::{to_bytes, Body};
use axum::extract::State;
use bytes::Bytes;
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tucano_shared::app::AppState;
use tucano_shared::http::MAX_BODY_BYTES;
use tucano_shared::routes::{handle, resolve, too_large, unrouted, Resolved};

/// Serves the API on `listener` until the process ends.
pub async fn serve(listener: TcpListener, state: AppState) -> std::io::Result<()> {
    let app = axum::Router::new()
        .route("/docs", axum::routing::get(crate::docs::page))
        .route("/docs/{file}", axum::routing::get(crate::docs::asset))
        .fallback(route)
        .with_state(state);
    axum::serve(listener, app).await
}

/// Binds `addr` and serves in the background; returns the bound address (port 0 picks one).
pub async fn spawn(addr: SocketAddr, state: AppState) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = serve(listener, state).await {
            tracing::error!(error = %e, "local server stopped");
        }
    });
    Ok(local)
}

async fn route(State(state): State<AppState>, req: axum::extract::Request) -> axum::response::Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let (parts, body) = req.into_parts();
    let resolved = resolve(&parts.method, parts.uri.path());
    let response = match resolved {
        Resolved::Found(route, params) => match to_bytes(body, route.max_body()).await {
            Ok(bytes) => handle(&state, route, http::Request::from_parts(parts, bytes), params, request_id).await,
            Err(_) => too_large(&request_id, route.max_body()),
        },
        other => unrouted(other, &request_id).unwrap_or_else(|| too_large(&request_id, MAX_BODY_BYTES)),
    };
    response.map(|b: Bytes| Body::from(b))
}
