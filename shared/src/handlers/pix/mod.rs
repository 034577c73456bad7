//! `/pix`: received Pix and their refunds (Bacen API Pix 2.9.0, tag Pix).

mod input;

use crate::app::payments::{self, PaymentError};
use crate::app::AppState;
use crate::bacen::pix::{Devolucao, Pix, PixConsultados};
use crate::domain::ids::{EndToEndId, RefundId};
use crate::domain::payment::RefundRejection;
use crate::http::auth::authenticated;
use crate::http::problem::{ApiError, ProblemKind, Violacao};
use crate::http::query::QueryParams;
use crate::http::{json, param, Request, Response};
use http::StatusCode;

fn pix_not_found() -> ApiError {
    ApiError::new(ProblemKind::PixNaoEncontrado, "No received Pix with this endToEndId.")
}

fn refund_invalid(propriedade: &str, razao: &str) -> ApiError {
    ApiError::with_violations(
        ProblemKind::PixDevolucaoInvalida,
        "The refund request does not follow the schema or makes no sense.",
        vec![Violacao { propriedade: propriedade.into(), razao: razao.into() }],
    )
}

pub(crate) fn map_error(e: PaymentError) -> ApiError {
    match e {
        PaymentError::PixNotFound => pix_not_found(),
        PaymentError::RefundNotFound => {
            ApiError::new(ProblemKind::PixDevolucaoNaoEncontrada, "No refund with this id.")
        }
        PaymentError::RefundIdInUse => refund_invalid("id", "already used for a refund with different content"),
        PaymentError::Rejected(r @ RefundRejection::InsufficientFunds) => {
            ApiError::new(ProblemKind::PixDevolucaoInvalida, format!("Nothing was moved: {r}."))
        }
        PaymentError::Rejected(r @ RefundRejection::ExceedsReceived) => {
            refund_invalid("devolucao.valor", &r.to_string())
        }
        PaymentError::Rejected(r @ RefundRejection::NaturezaNotApplicable) => {
            refund_invalid("devolucao.natureza", &r.to_string())
        }
        PaymentError::Rejected(r @ (RefundRejection::WindowClosed | RefundRejection::UnderReview)) => {
            ApiError::new(ProblemKind::PixDevolucaoInvalida, format!("Nothing was moved: {r}."))
        }
        PaymentError::UnknownRefund => {
            ApiError::new(ProblemKind::PixDevolucaoNaoEncontrada, "No refund with this rtrId.")
        }
        PaymentError::Store(e) => e.into(),
    }
}

/// For reads, an id that cannot exist is simply not found.
fn path_e2eid(req: &Request) -> Result<EndToEndId, ApiError> {
    EndToEndId::parse(param(req, "e2eid")).map_err(|_| pix_not_found())
}

/// `GET /pix/{e2eid}`.
pub async fn get(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let e2eid = path_e2eid(req)?;
    let pix = payments::get_pix(state, &merchant, &e2eid).await.map_err(map_error)?;
    Ok(json(StatusCode::OK, &Pix::of(&pix)))
}

/// `GET /pix?inicio=...&fim=...`.
pub async fn list(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let q = input::pix_query(QueryParams::new(req.uri().query()))?;
    let page = payments::list_pix(state, &merchant, &q).await.map_err(map_error)?;
    Ok(json(StatusCode::OK, &PixConsultados::of(&q, &page)))
}

/// `PUT /pix/{e2eid}/devolucao/{id}`: request a refund (a repeated identical PUT returns it).
pub async fn refund_put(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let e2eid = EndToEndId::parse(param(req, "e2eid")).map_err(|e| refund_invalid("e2eid", &e.to_string()))?;
    let id = RefundId::parse(param(req, "id")).map_err(|e| refund_invalid("id", &e.to_string()))?;
    let request = input::refund_request(id, req.body())?;
    let done = payments::refund(state, &merchant, &e2eid, &request, request.fingerprint()).await.map_err(map_error)?;
    tracing::info!(rtr_id = done.refund.rtr_id.as_str(), created = done.created, "refund requested");
    Ok(json(StatusCode::CREATED, &Devolucao::of(&done.refund)))
}

/// `GET /pix/{e2eid}/devolucao/{id}`: whatever is not there (the Pix, or its refund) is
/// the one problem the spec gives this operation, `PixDevolucaoNaoEncontrada`.
pub async fn refund_get(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let not_found =
        || ApiError::new(ProblemKind::PixDevolucaoNaoEncontrada, "No refund with this id for this endToEndId.");
    let e2eid = EndToEndId::parse(param(req, "e2eid")).map_err(|_| not_found())?;
    let id = RefundId::parse(param(req, "id")).map_err(|_| not_found())?;
    let refund = payments::get_refund(state, &merchant, &e2eid, &id).await.map_err(|e| match e {
        PaymentError::PixNotFound | PaymentError::RefundNotFound => not_found(),
        other => map_error(other),
    })?;
    Ok(json(StatusCode::OK, &Devolucao::of(&refund)))
}
