//! Pix Automático's merchant routes (Bacen API Pix 2.9.0 tags Rec, SolicRec and CobR):
//! `/rec` (recurrences), `/solicrec` (confirmation requests to the payer's bank) and
//! `/cobr` (recurring charges, with retries).

pub(crate) mod input;

use crate::app::recurrences::{self, RecError};
use crate::app::AppState;
use crate::bacen::rec::{self as view, Receiver};
use crate::domain::ids::Txid;
use crate::domain::merchant::Merchant;
use crate::domain::rec::{IdRec, IdSolicRec, Violation};
use crate::http::auth::authenticated;
use crate::http::problem::{ApiError, ProblemKind, Violacao};
use crate::http::{json, param, Request, Response};
use http::StatusCode;
use input::{COBR_DETAIL, REC_DETAIL, SOLICREC_DETAIL};

/// The problem kinds of one resource.
#[derive(Clone, Copy)]
struct Kinds {
    invalid: ProblemKind,
    not_found: ProblemKind,
    detail: &'static str,
    missing: &'static str,
}

const REC: Kinds = Kinds {
    invalid: ProblemKind::RecOperacaoInvalida,
    not_found: ProblemKind::RecNaoEncontrada,
    detail: REC_DETAIL,
    missing: "No recurrence with this idRec.",
};
const SOLICREC: Kinds = Kinds {
    invalid: ProblemKind::SolicRecOperacaoInvalida,
    not_found: ProblemKind::SolicRecNaoEncontrada,
    detail: SOLICREC_DETAIL,
    missing: "No confirmation request with this idSolicRec.",
};
const COBR: Kinds = Kinds {
    invalid: ProblemKind::CobROperacaoInvalida,
    not_found: ProblemKind::CobRNaoEncontrado,
    detail: COBR_DETAIL,
    missing: "No recurring charge with this txid.",
};

fn violations(v: Vec<Violation>) -> Vec<Violacao> {
    v.into_iter().map(|(p, r)| Violacao { propriedade: p.into(), razao: r.into() }).collect()
}

impl Kinds {
    fn map(self, e: RecError) -> ApiError {
        match e {
            RecError::Invalid(v) => ApiError::with_violations(self.invalid, self.detail, violations(v)),
            RecError::NotFound => ApiError::new(self.not_found, self.missing),
            RecError::RailUnavailable(e) => ApiError::unavailable(anyhow::Error::new(e).context("the payer's bank")),
            RecError::Store(s) => s.into(),
        }
    }

    fn not_found(self) -> ApiError {
        ApiError::new(self.not_found, self.missing)
    }
}

async fn receiver(state: &AppState, merchant: &Merchant, kinds: Kinds) -> Result<String, ApiError> {
    recurrences::receiver_cnpj(state, merchant, "recebedor").await.map_err(|e| kinds.map(e))
}

fn path_id_rec(req: &Request) -> Result<IdRec, ApiError> {
    IdRec::parse(param(req, "idRec")).ok_or_else(|| REC.not_found())
}

/// `POST /rec`.
pub async fn rec_post(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let new = input::new_rec(req.body())?;
    // The receiver's CNPJ comes with it, read before the write (after it, a failure would
    // answer 5xx for a recurrence created).
    let (rec, cnpj) =
        recurrences::create_rec(state, &merchant, new.terms, new.loc, new.txid).await.map_err(|e| REC.map(e))?;
    tracing::info!(id_rec = rec.id_rec.as_str(), "recurrence created");
    Ok(json(StatusCode::CREATED, &view::rec(&rec, Receiver { cnpj: &cnpj, nome: &merchant.name })))
}

/// `GET /rec/{idRec}[?txid=]`: with `dadosQR` (the QR code a payer scans) when the
/// recurrence has a location.
pub async fn rec_get(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let id = path_id_rec(req)?;
    let mut q = crate::http::query::QueryParams::new(req.uri().query());
    let txid = q.parse("txid", "must have 26 to 35 letters and digits", |s| Txid::parse_for_charge(s).ok());
    let txid = q.finish(Some(txid), ProblemKind::RecConsultaInvalida, input::QUERY_DETAIL)?;
    let rec = recurrences::get_rec(state, &merchant, &id).await.map_err(|e| REC.map(e))?;
    let cnpj = receiver(state, &merchant, REC).await?;
    let mut body = view::rec(&rec, Receiver { cnpj: &cnpj, nome: &merchant.name });
    let qr = crate::app::rec_locations::qr(state, &merchant, &rec, txid.as_ref()).await.map_err(|e| match e {
        RecError::Invalid(v) => {
            ApiError::with_violations(ProblemKind::RecConsultaInvalida, input::QUERY_DETAIL, violations(v))
        }
        e => REC.map(e),
    })?;
    if let Some((jornada, code)) = qr {
        body["dadosQR"] = serde_json::json!({"jornada": jornada.as_str(), "pixCopiaECola": code});
    }
    Ok(json(StatusCode::OK, &body))
}

/// `PATCH /rec/{idRec}`: cancel, or change what may change.
pub async fn rec_patch(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let id = path_id_rec(req)?;
    let rec = match input::rec_patch(req.body())? {
        None => {
            let rec = recurrences::cancel_rec(state, &merchant, &id).await.map_err(|e| REC.map(e))?;
            tracing::info!(id_rec = rec.id_rec.as_str(), "recurrence cancelled by the receiver");
            rec
        }
        Some(revision) => recurrences::revise_rec(state, &merchant, &id, &revision).await.map_err(|e| REC.map(e))?,
    };
    let cnpj = receiver(state, &merchant, REC).await?;
    Ok(json(StatusCode::OK, &view::rec(&rec, Receiver { cnpj: &cnpj, nome: &merchant.name })))
}

/// `GET /rec`.
pub async fn rec_list(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let q = input::rec_query(req.uri().query())?;
    let page = recurrences::list_recs(state, &merchant, &q).await.map_err(|e| REC.map(e))?;
    let cnpj = receiver(state, &merchant, REC).await?;
    Ok(json(StatusCode::OK, &view::recs(&q, &page, Receiver { cnpj: &cnpj, nome: &merchant.name })))
}

fn path_id_solic(req: &Request) -> Result<IdSolicRec, ApiError> {
    IdSolicRec::parse(param(req, "idSolicRec")).ok_or_else(|| SOLICREC.not_found())
}

/// `POST /solicrec`.
pub async fn solicrec_post(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let (id_rec, expira, destinatario) = input::new_solicitation(req.body())?;
    let s = recurrences::create_solicitation(state, &merchant, &id_rec, expira, destinatario)
        .await
        .map_err(|e| SOLICREC.map(e))?;
    tracing::info!(id_solic_rec = s.id_solic_rec.as_str(), status = s.status.as_str(), "confirmation request created");
    Ok(json(StatusCode::CREATED, &view::solicitation(&s)))
}

/// `GET /solicrec/{idSolicRec}`.
pub async fn solicrec_get(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let id = path_id_solic(req)?;
    let s = recurrences::get_solicitation(state, &merchant, &id).await.map_err(|e| SOLICREC.map(e))?;
    Ok(json(StatusCode::OK, &view::solicitation(&s)))
}

/// `PATCH /solicrec/{idSolicRec}`: cancel.
pub async fn solicrec_patch(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let id = path_id_solic(req)?;
    input::cancellation(req.body(), "solicrec", SOLICREC.invalid, SOLICREC.detail)?;
    let s = recurrences::cancel_solicitation(state, &merchant, &id).await.map_err(|e| SOLICREC.map(e))?;
    // The spec answers this PATCH with 201.
    Ok(json(StatusCode::CREATED, &view::solicitation(&s)))
}

fn path_txid(req: &Request) -> Result<Txid, ApiError> {
    Txid::parse_for_charge(param(req, "txid")).map_err(|_| COBR.not_found())
}

async fn answer_charge(
    state: &AppState,
    merchant: &Merchant,
    status: StatusCode,
    c: &crate::domain::rec::RecurringCharge,
) -> Result<Response, ApiError> {
    let cnpj = receiver(state, merchant, COBR).await?;
    // The Pix that paid it: the debit of its paid attempt (another Pix naming its txid is
    // credited and flagged, not a payment of it).
    let mut pix = vec![];
    for a in c.attempts.iter().filter(|a| a.status == crate::domain::rec::AttemptStatus::Paga) {
        if let Some(p) = state.pix.find(merchant.id, &a.end_to_end_id).await? {
            pix.push(p);
        }
    }
    Ok(json(status, &view::charge(c, Receiver { cnpj: &cnpj, nome: &merchant.name }, &pix)))
}

async fn create_charge(state: &AppState, req: &Request, txid: Txid) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let terms = input::new_charge(req.body())?;
    // The body's canonical form (keys sorted, no spaces): the same request again, however
    // it is laid out, is recognised.
    let canonical = serde_json::from_slice::<serde_json::Value>(req.body()).map(|v| v.to_string()).unwrap_or_default();
    let hash = crate::app::fingerprint(canonical.as_bytes());
    let (c, created) =
        recurrences::create_charge(state, &merchant, txid, terms, hash).await.map_err(|e| COBR.map(e))?;
    tracing::info!(txid = c.txid.as_str(), created, "recurring charge created");
    answer_charge(state, &merchant, StatusCode::CREATED, &c).await
}

/// `PUT /cobr/{txid}`.
pub async fn cobr_put(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let txid = Txid::parse_for_charge(param(req, "txid")).map_err(|_| {
        let why = vec![("txid", "must have 26 to 35 letters and digits")];
        ApiError::with_violations(COBR.invalid, COBR.detail, violations(why))
    })?;
    create_charge(state, req, txid).await
}

/// `POST /cobr`: the PSP chooses the txid.
pub async fn cobr_post(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    create_charge(state, req, Txid::generate()).await
}

/// `GET /cobr/{txid}`.
pub async fn cobr_get(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let txid = path_txid(req)?;
    let c = recurrences::get_charge(state, &merchant, &txid).await.map_err(|e| COBR.map(e))?;
    answer_charge(state, &merchant, StatusCode::OK, &c).await
}

/// `PATCH /cobr/{txid}`: cancel.
pub async fn cobr_patch(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let txid = path_txid(req)?;
    input::cancellation(req.body(), "cobr", COBR.invalid, COBR.detail)?;
    let c = recurrences::cancel_charge(state, &merchant, &txid).await.map_err(|e| COBR.map(e))?;
    answer_charge(state, &merchant, StatusCode::OK, &c).await
}

/// `GET /cobr`.
pub async fn cobr_list(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let q = input::cobr_query(req.uri().query())?;
    let page = recurrences::list_charges(state, &merchant, &q).await.map_err(|e| COBR.map(e))?;
    let cnpj = receiver(state, &merchant, COBR).await?;
    Ok(json(StatusCode::OK, &view::charges(&q, &page, Receiver { cnpj: &cnpj, nome: &merchant.name })))
}

/// `POST /cobr/{txid}/retentativa/{data}`.
pub async fn cobr_retry(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let txid = path_txid(req)?;
    let data = crate::bacen::full_date(param(req, "data")).ok_or_else(|| {
        ApiError::with_violations(COBR.invalid, COBR.detail, violations(vec![("data", "must be a date YYYY-MM-DD")]))
    })?;
    let c = recurrences::retry_charge(state, &merchant, &txid, data).await.map_err(|e| COBR.map(e))?;
    tracing::info!(txid = c.txid.as_str(), "recurring charge retry requested");
    answer_charge(state, &merchant, StatusCode::CREATED, &c).await
}

const LOCREC_MISSING: &str = "No recurrence location with this id.";

fn locrec_error(e: RecError) -> ApiError {
    match e {
        RecError::NotFound => ApiError::new(ProblemKind::PayloadLocationRecNaoEncontrado, LOCREC_MISSING),
        e => REC.map(e),
    }
}

fn path_loc_id(req: &Request) -> Result<i64, ApiError> {
    param(req, "id")
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ApiError::new(ProblemKind::PayloadLocationRecNaoEncontrado, LOCREC_MISSING))
}

/// `POST /locrec`.
pub async fn locrec_post(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let loc = crate::app::rec_locations::create(state, &merchant).await.map_err(locrec_error)?;
    let mut res = json(StatusCode::CREATED, &view::location(&loc));
    if let Ok(at) = http::HeaderValue::from_str(&format!("/v2/locrec/{}", loc.id)) {
        res.headers_mut().insert(http::header::LOCATION, at);
    }
    Ok(res)
}

/// `GET /locrec/{id}`.
pub async fn locrec_get(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let loc = crate::app::rec_locations::get(state, &merchant, path_loc_id(req)?).await.map_err(locrec_error)?;
    Ok(json(StatusCode::OK, &view::location(&loc)))
}

/// `GET /locrec`.
pub async fn locrec_list(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let q = input::locrec_query(req.uri().query())?;
    let page = crate::app::rec_locations::list(state, &merchant, &q).await.map_err(locrec_error)?;
    Ok(json(StatusCode::OK, &view::locations(&q, &page)))
}

/// `DELETE /locrec/{id}/idRec`: the location stops serving its recurrence.
pub async fn locrec_unlink(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let loc = crate::app::rec_locations::unlink(state, &merchant, path_loc_id(req)?).await.map_err(locrec_error)?;
    Ok(json(StatusCode::OK, &view::location(&loc)))
}
