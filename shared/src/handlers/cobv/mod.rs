//! `/cobv`: charges with a due date (Bacen API Pix 2.9.0, tag CobV).

pub mod input;

use crate::app::due_charges::{self, DueChargeError, WithReceiver};
use crate::app::AppState;
use crate::bacen::cobv::{CobV, CobsVConsultadas, RecebedorView};
use crate::domain::charge::RevisionError;
use crate::domain::ids::Txid;
use crate::domain::merchant::Merchant;
use crate::http::auth::authenticated;
use crate::http::problem::{ApiError, ProblemKind, Violacao};
use crate::http::query::QueryParams;
use crate::http::{json, param, Request, Response};
use crate::ports::ChargeQuery;
use http::StatusCode;

fn invalid(violations: Vec<(&str, &str)>) -> ApiError {
    ApiError::with_violations(
        ProblemKind::CobVOperacaoInvalida,
        input::DETAIL,
        violations.into_iter().map(|(p, r)| Violacao { propriedade: p.into(), razao: r.into() }).collect(),
    )
}

fn not_found() -> ApiError {
    ApiError::new(ProblemKind::CobVNaoEncontrada, "No charge with a due date with this txid.")
}

pub(crate) fn map_error(e: DueChargeError) -> ApiError {
    match e {
        DueChargeError::KeyNotOwned => invalid(vec![("cobv.chave", "the key does not belong to this receiver's account")]),
        DueChargeError::ReceiverMissing => invalid(vec![(
            "cobv.recebedor",
            "the receiver's document and address are not registered yet (tucano merchants receiver)",
        )]),
        DueChargeError::TxidInUse => {
            invalid(vec![("txid", "already used by a charge that is no longer ATIVA, or by an immediate charge")])
        }
        DueChargeError::LocationUnavailable => invalid(vec![(
            "cobv.loc.id",
            "no location of this receiver with this id is free for a charge with a due date (unknown, for cob, or serving another charge)",
        )]),
        DueChargeError::Invalid(v) => invalid(v),
        DueChargeError::NotFound => not_found(),
        DueChargeError::HeldByBatch => invalid(vec![(
            "txid",
            "belongs to a batch where it is EM_PROCESSAMENTO or NEGADA: create or revise it through PATCH /lotecobv/{id}",
        )]),
        DueChargeError::Revision(RevisionError::NotActive) => ApiError::new(
            ProblemKind::CobVOperacaoInvalida,
            "The charge is no longer ATIVA; only active charges can be revised.",
        ),
        DueChargeError::Revision(RevisionError::RemovalWithChanges) => {
            invalid(vec![("cobv.status", "a charge cannot be removed and changed in the same request")])
        }
        DueChargeError::Store(e) => e.into(),
    }
}

fn path_txid(req: &Request) -> Result<Txid, ApiError> {
    Txid::parse_for_charge(param(req, "txid")).map_err(|e| invalid(vec![("txid", &e.to_string())]))
}

fn answer(status: StatusCode, merchant: &Merchant, found: &WithReceiver) -> Response {
    json(status, &CobV::of(&found.charge, RecebedorView::of(merchant, &found.receiver)))
}

/// `PUT /cobv/{txid}`: create a charge with a due date (a repeated identical PUT returns the
/// same charge).
pub async fn put(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let txid = path_txid(req)?;
    let new = input::new_charge(req.body())?;
    due_charges::outside_batches(state, &merchant, &txid).await.map_err(map_error)?;
    let (found, created) =
        due_charges::create(state, &merchant, txid, &new.terms, new.loc, due_charges::Origin::Merchant)
            .await
            .map_err(map_error)?;
    tracing::info!(txid = %found.charge.txid, created, "charge with a due date created");
    Ok(answer(StatusCode::CREATED, &merchant, &found))
}

/// `PATCH /cobv/{txid}`: revise or remove.
pub async fn patch(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let txid = path_txid(req).map_err(|_| not_found())?;
    let patch = input::patch(req.body())?;
    due_charges::outside_batches(state, &merchant, &txid).await.map_err(map_error)?;
    let found = due_charges::revise(state, &merchant, &txid, &patch).await.map_err(map_error)?;
    tracing::info!(txid = %found.charge.txid, revisao = found.charge.revisao, "charge with a due date revised");
    Ok(answer(StatusCode::OK, &merchant, &found))
}

/// `GET /cobv/{txid}[?revisao=N]`.
pub async fn get(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let txid = path_txid(req).map_err(|_| not_found())?;
    let mut q = QueryParams::new(req.uri().query());
    let revisao = q.parse("revisao", "must be a whole number from 0", |s| s.parse::<i32>().ok().filter(|n| *n >= 0));
    let revisao = q.finish(Some(revisao), ProblemKind::CobVConsultaInvalida, QUERY_DETAIL)?;
    match due_charges::get(state, &merchant, &txid, revisao).await {
        Ok(found) if found.charge.status == crate::domain::charge::ChargeStatus::Concluida => {
            let c = &found.charge;
            let pix = crate::app::payments::pix_of_charge(state, &merchant, &c.txid, c.criacao)
                .await
                .map_err(crate::handlers::pix::map_error)?;
            let recebedor = RecebedorView::of(&merchant, &found.receiver);
            Ok(json(StatusCode::OK, &CobV::with_pix(c, recebedor, &pix)))
        }
        Ok(found) => Ok(answer(StatusCode::OK, &merchant, &found)),
        Err(DueChargeError::NotFound) if revisao.is_some() => {
            due_charges::get(state, &merchant, &txid, None).await.map_err(map_error)?;
            Err(ApiError::with_violations(
                ProblemKind::CobVConsultaInvalida,
                QUERY_DETAIL,
                vec![Violacao { propriedade: "revisao".into(), razao: "no such revision of this charge".into() }],
            ))
        }
        Err(e) => Err(map_error(e)),
    }
}

const QUERY_DETAIL: &str = "The query parameters do not follow the schema or make no sense together.";

/// `GET /cobv?inicio=...&fim=...`: a page of charges with a due date created in the interval.
pub async fn list(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let mut q = QueryParams::new(req.uri().query());
    let query = crate::handlers::cob::input::charge_query_fields(&mut q);
    let lote =
        q.parse("loteCobVId", "must be a batch id (a positive integer)", |s| s.parse::<i64>().ok().filter(|n| *n > 0));
    let query = query.map(|query| ChargeQuery { lote, ..query });
    let query = q.finish(query, ProblemKind::CobVConsultaInvalida, QUERY_DETAIL)?;
    let (page, receiver) = due_charges::list(state, &merchant, &query).await.map_err(map_error)?;
    let concluded = page
        .items
        .iter()
        .filter(|c| c.status == crate::domain::charge::ChargeStatus::Concluida)
        .map(|c| (&c.txid, c.criacao));
    let pix = crate::app::payments::pix_of_page(state, &merchant, concluded)
        .await
        .map_err(crate::handlers::pix::map_error)?;
    Ok(json(StatusCode::OK, &CobsVConsultadas::of(&query, &page, &merchant, &receiver, &pix)))
}
