//! `GET /docs`: the API reference page of the local server, rendered in the browser by
//! Swagger UI from `/openapi.json`. Swagger UI's files come from npm (`swagger-ui-dist`,
//! pinned in package.json, installed by `npm ci`) and are served from here: no CDN.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use std::path::PathBuf;

/// The files the page loads, and their types: nothing else is served.
const ASSETS: &[(&str, &str)] = &[
    ("swagger-ui.css", "text/css; charset=utf-8"),
    ("swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
    ("favicon-32x32.png", "image/png"),
];

const PAGE: &str = r##"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Tucano API reference</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
  <link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
  </script>
</body>
</html>
"##;

/// Where swagger-ui-dist is: `TUCANO_DOCS_DIR`, else `node_modules/swagger-ui-dist` here.
fn dir() -> PathBuf {
    std::env::var_os("TUCANO_DOCS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("node_modules/swagger-ui-dist"))
}

pub async fn page() -> Response {
    if !dir().join("swagger-ui-bundle.js").exists() {
        let msg = "The API reference needs swagger-ui-dist from npm: run `npm ci` in the checkout (make dev does).\n";
        return (StatusCode::SERVICE_UNAVAILABLE, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], msg)
            .into_response();
    }
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], PAGE).into_response()
}

pub async fn asset(Path(name): Path<String>) -> Response {
    let Some((file, content_type)) = ASSETS.iter().find(|(f, _)| *f == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match tokio::fs::read(dir().join(file)).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, *content_type)], bytes).into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}
