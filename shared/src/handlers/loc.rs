//! `GET /loc/{id}/qrcode`: a location's BR Code and its QR image, as merchants show it
//! (the shape PSPs use: `{"qrcode": <BR Code>, "imagemQrcode": "data:image/png;base64,..."}`),
//! or the image alone as SVG when `Accept` asks for `image/svg+xml`.

use crate::app::charges::{self, ChargeError};
use crate::app::AppState;
use crate::domain::qr_image;
use crate::http::auth::authenticated;
use crate::http::problem::{ApiError, ProblemKind};
use crate::http::{json, param, Request, Response};
use base64::Engine;
use bytes::Bytes;
use http::{header, HeaderValue, StatusCode};

fn not_found() -> ApiError {
    ApiError::new(ProblemKind::PayloadLocationNaoEncontrado, "No location with this id.")
}

pub async fn qrcode(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let id: i64 = param(req, "id").parse().ok().filter(|n| *n > 0).ok_or_else(not_found)?;
    let charge = match charges::at_location(state, &merchant, id).await {
        Ok(charge) => charge,
        Err(ChargeError::NotFound) => return Err(not_found()),
        Err(e) => return Err(super::cob::map_error(e)),
    };
    let code = charge.pix_copia_e_cola.as_deref().ok_or_else(not_found)?;
    let drawn = |e: qr_image::TooLong| ApiError::internal(anyhow::Error::new(e).context("drawing a BR Code"));
    let wants_svg = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.split(',').any(|t| t.trim().starts_with("image/svg+xml")));
    if wants_svg {
        let mut res = http::Response::new(Bytes::from(qr_image::svg(code).map_err(drawn)?));
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("image/svg+xml"));
        return Ok(res);
    }
    let png = qr_image::png(code).map_err(drawn)?;
    let image = format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(png));
    Ok(json(StatusCode::OK, &serde_json::json!({"qrcode": code, "imagemQrcode": image})))
}
