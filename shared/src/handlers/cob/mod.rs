//! `/cob`: immediate charges (Bacen API Pix 2.9.0, tag Cob).

pub(crate) mod input;

use crate::app::charges::{self, ChargeError, NewTxid};
use crate::app::AppState;
use crate::bacen::cob::{Cob, CobsConsultadas};
use crate::domain::charge::{ChargeStatus, RevisionError};
use crate::domain::ids::Txid;
use crate::http::auth::authenticated;
use crate::http::problem::{ApiError, ProblemKind, Violacao};
use crate::http::query::QueryParams;
use crate::http::{json, PathParams, Request, Response};
use http::StatusCode;

fn invalid(propriedade: &str, razao: &str) -> ApiError {
    ApiError::with_violations(
        ProblemKind::CobOperacaoInvalida,
        "The charge request does not follow the schema or is semantically wrong.",
        vec![Violacao { propriedade: propriedade.into(), razao: razao.into() }],
    )
}

fn path_txid(req: &Request) -> Result<Txid, ApiError> {
    let raw = req.extensions().get::<PathParams>().map(|p| p.get("txid")).unwrap_or("");
    Txid::parse_for_charge(raw).map_err(|e| invalid("txid", &e.to_string()))
}

/// For reads, a txid that cannot exist is simply not found.
fn path_txid_to_read(req: &Request) -> Result<Txid, ApiError> {
    path_txid(req).map_err(|_| not_found())
}

fn not_found() -> ApiError {
    ApiError::new(ProblemKind::CobNaoEncontrado, "No charge with this txid.")
}

pub(super) fn map_error(e: ChargeError) -> ApiError {
    match e {
        ChargeError::KeyNotOwned => invalid("cob.chave", "the key does not belong to this receiver's account"),
        ChargeError::TxidInUse => {
            invalid("txid", "already used by a charge that is no longer ATIVA, or by a charge with a due date")
        }
        ChargeError::NotFound => not_found(),
        ChargeError::LocationUnavailable => invalid(
            "cob.loc.id",
            "no location of this receiver with this id is free for an immediate charge (unknown, for cobv, or serving another charge)",
        ),
        ChargeError::Revision(RevisionError::NotActive) => ApiError::new(
            ProblemKind::CobOperacaoInvalida,
            "The charge is no longer ATIVA; only active charges can be revised.",
        ),
        ChargeError::Revision(RevisionError::RemovalWithChanges) => {
            invalid("cob.status", "a charge cannot be removed and changed in the same request")
        }
        ChargeError::Store(e) => e.into(),
    }
}

/// `PUT /cob/{txid}` (`txid` given; a repeated identical PUT returns the same charge) and
/// `POST /cob` (a txid chosen by us).
async fn create(state: &AppState, req: &Request, txid: Option<Txid>) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let txid = match txid {
        Some(t) => NewTxid::Chosen(t),
        None => {
            // The key as the idempotency layer reads it (trimmed, unquoted): one record, one txid.
            let key = req
                .headers()
                .get(crate::http::idempotency::HEADER)
                .and_then(|v| v.to_str().ok())
                .and_then(crate::domain::idempotency::IdempotencyKey::parse);
            NewTxid::ours(&merchant, key.as_ref().map(|k| k.as_str()))
        }
    };
    let cob = input::new_charge(req.body())?;
    let fingerprint = cob
        .terms
        .fingerprint_at(cob.loc)
        .map_err(|e| ApiError::internal(anyhow::Error::new(e).context("charge fingerprint")))?;
    let created = charges::create(state, &merchant, txid, &cob.terms, cob.loc, fingerprint).await.map_err(map_error)?;
    tracing::info!(txid = %created.charge.txid, created = created.created, "charge created");
    Ok(json(StatusCode::CREATED, &Cob::of(&created.charge)))
}

/// `PUT /cob/{txid}`: create a charge with the merchant's txid.
pub async fn put(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let txid = path_txid(req)?;
    create(state, req, Some(txid)).await
}

/// `POST /cob`: create a charge with a txid chosen by us.
pub async fn post(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    create(state, req, None).await
}

/// `PATCH /cob/{txid}`: revise or remove a charge.
pub async fn patch(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let txid = path_txid_to_read(req)?;
    let patch = input::patch(req.body())?;
    let charge = charges::revise(state, &merchant, &txid, &patch).await.map_err(map_error)?;
    tracing::info!(txid = %charge.txid, revisao = charge.revisao, "charge revised");
    Ok(json(StatusCode::OK, &Cob::of(&charge)))
}

/// `GET /cob/{txid}[?revisao=N]`.
pub async fn get(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let txid = path_txid_to_read(req)?;
    let revisao = input::revisao(QueryParams::new(req.uri().query()))?;
    match charges::get(state, &merchant, &txid, revisao).await {
        Ok(charge) if charge.status == ChargeStatus::Concluida => {
            let pix = crate::app::payments::pix_of_charge(state, &merchant, &charge.txid, charge.criacao)
                .await
                .map_err(crate::handlers::pix::map_error)?;
            Ok(json(StatusCode::OK, &Cob::with_pix(&charge, &pix)))
        }
        Ok(charge) => Ok(json(StatusCode::OK, &Cob::of(&charge))),
        Err(ChargeError::NotFound) if revisao.is_some() => {
            // A missing charge is 404; an existing one without that revision is a bad query.
            charges::get(state, &merchant, &txid, None).await.map_err(map_error)?;
            Err(ApiError::with_violations(
                ProblemKind::CobConsultaInvalida,
                "The query parameters do not follow the schema or make no sense together.",
                vec![Violacao { propriedade: "revisao".into(), razao: "no such revision of this charge".into() }],
            ))
        }
        Err(e) => Err(map_error(e)),
    }
}

/// `GET /cob?inicio=...&fim=...`: a page of charges created in the interval.
pub async fn list(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let q = input::charge_query(QueryParams::new(req.uri().query()))?;
    let page = charges::list(state, &merchant, &q).await.map_err(map_error)?;
    let concluded = page.items.iter().filter(|c| c.status == ChargeStatus::Concluida).map(|c| (&c.txid, c.criacao));
    let pix = crate::app::payments::pix_of_page(state, &merchant, concluded)
        .await
        .map_err(crate::handlers::pix::map_error)?;
    Ok(json(StatusCode::OK, &CobsConsultadas::of(&q, &page, &pix)))
}
