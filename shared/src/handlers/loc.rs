//! `/loc`: payload locations on their own (Bacen API Pix 2.9.0, tag PayloadLocation) —
//! create, read, list, unlink their charge — and `GET /loc/{id}/qrcode`, a location's BR
//! Code and QR image as merchants show it (the shape PSPs use:
//! `{"qrcode": <BR Code>, "imagemQrcode": "data:image/png;base64,..."}`), or the image
//! alone as SVG when `Accept` asks for `image/svg+xml`.

use crate::app::locations;
use crate::bacen::loc::{Loc, LocsConsultadas};
use crate::domain::payload_location::{PayloadLocation, TipoCob};
use crate::domain::qr_image;
use crate::http::auth::authenticated;
use crate::http::json::{parse_body, Fields, Violations};
use crate::http::problem::{ApiError, ProblemKind};
use crate::http::query::QueryParams;
use crate::http::{json, param, Request, Response};
use crate::ports::LocationQuery;
use base64::Engine;
use bytes::Bytes;
use http::{header, HeaderValue, StatusCode};

fn not_found() -> ApiError {
    ApiError::new(ProblemKind::PayloadLocationNaoEncontrado, "No location with this id.")
}

/// The path's `id`: anything but a positive integer names no location.
fn path_id(req: &Request) -> Result<i64, ApiError> {
    param(req, "id").parse().ok().filter(|n: &i64| *n > 0).ok_or_else(not_found)
}

/// This merchant's location `id`, or 404.
async fn location(state: &crate::app::AppState, req: &Request) -> Result<PayloadLocation, ApiError> {
    let merchant = authenticated(req)?;
    locations::get(state, &merchant, path_id(req)?).await?.ok_or_else(not_found)
}

/// `POST /loc` `{"tipoCob": "cob"|"cobv"}`: a location serving nothing yet.
pub async fn post(state: &crate::app::AppState, req: &Request) -> Result<Response, ApiError> {
    const DETAIL: &str = "The location request does not follow the schema.";
    let merchant = authenticated(req)?;
    let value = parse_body(req.body())?;
    let mut v = Violations::default();
    let mut tipo_cob = None;
    if let Some(mut root) = Fields::of(&value, "loc", &mut v) {
        let field = root.string("tipoCob", 4, &mut v);
        if let Ok(Some(s)) = root.require("tipoCob", field, &mut v) {
            tipo_cob = TipoCob::parse(s);
            if tipo_cob.is_none() {
                v.add("loc.tipoCob", "must be cob or cobv");
            }
        }
    }
    let tipo_cob = v.finish(tipo_cob, ProblemKind::PayloadLocationOperacaoInvalida, DETAIL)?;
    let tipo_cob = tipo_cob.ok_or_else(|| ApiError::new(ProblemKind::PayloadLocationOperacaoInvalida, DETAIL))?;
    let created = locations::create(state, &merchant, tipo_cob).await?;
    tracing::info!(location_id = created.id, tipo_cob = tipo_cob.as_str(), "location created");
    let mut res = json(StatusCode::CREATED, &Loc::of(&created));
    if let Ok(at) = HeaderValue::from_str(&format!("/v2/loc/{}", created.id)) {
        res.headers_mut().insert(header::LOCATION, at);
    }
    Ok(res)
}

/// `GET /loc/{id}`: the location and the charge it serves, if any.
pub async fn get(state: &crate::app::AppState, req: &Request) -> Result<Response, ApiError> {
    Ok(json(StatusCode::OK, &Loc::of(&location(state, req).await?)))
}

/// `GET /loc?inicio=...&fim=...`: a page of locations created in the interval.
pub async fn list(state: &crate::app::AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let mut q = QueryParams::new(req.uri().query());
    let interval = q.interval();
    let txid_presente = q.boolean("txIdPresente");
    let tipo_cob = q.parse("tipoCob", "must be cob or cobv", TipoCob::parse);
    let (pagina, itens_por_pagina) = q.pagination();
    let query =
        interval.map(|(inicio, fim)| LocationQuery { inicio, fim, txid_presente, tipo_cob, pagina, itens_por_pagina });
    let query = q.finish(
        query,
        ProblemKind::PayloadLocationConsultaInvalida,
        "The query parameters do not follow the schema or make no sense together.",
    )?;
    let page = locations::list(state, &merchant, &query).await?;
    Ok(json(StatusCode::OK, &LocsConsultadas::of(&query, &page)))
}

/// `DELETE /loc/{id}/txid`: the location stops serving its charge, which keeps its status
/// and loses its location; the location may then serve another. Unlinking a location that
/// serves nothing changes nothing and answers the same.
pub async fn unlink(state: &crate::app::AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let unlinked = locations::unlink(state, &merchant, path_id(req)?).await?.ok_or_else(not_found)?;
    Ok(json(StatusCode::OK, &Loc::of(&unlinked)))
}

/// `GET /loc/{id}/qrcode`: the location's BR Code (whether or not it serves a charge now:
/// it is what gets printed) and its image.
pub async fn qrcode(state: &crate::app::AppState, req: &Request) -> Result<Response, ApiError> {
    let found = location(state, req).await?;
    let code = found.pix_copia_e_cola.as_str();
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
