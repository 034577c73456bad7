//! `/lotecobv`: batches of charges with a due date (Bacen API Pix 2.9.0, tag LoteCobV). A
//! batch is accepted at once (202: its envelope checked, each item's request sealed) and
//! its charges are created or revised by a worker (`process_pending`, a scheduled function
//! in AWS, a loop beside `tucano dev`), each on its own: `CRIADA`, or `NEGADA` with the
//! problem `PUT /cobv/{txid}` would have answered. No request waits for 1,000 charges.

use crate::app::due_charges;
use crate::app::AppState;
use crate::bacen::{timestamp, Paginacao, Parametros};
use crate::domain::ids::Txid;
use crate::http::auth::authenticated;
use crate::http::json::{parse_body, Fields, Violations};
use crate::http::problem::{ApiError, ProblemKind};
use crate::http::query::QueryParams;
use crate::http::{json, param, Request, Response};
use crate::ports::{purpose::DEVEDOR, CipherContext, Lote, LoteOperation, LoteSubmitted, PendingItem};
use bytes::Bytes;
use http::StatusCode;
use serde_json::{json, Value};

/// At most this many charges in one batch.
pub const MAX_ITEMS: usize = 1_000;

/// At most this many batches in a page of `GET /lotecobv` (each may list 1,000 charges).
pub const MAX_BATCHES_PER_PAGE: u32 = 10;

const DETAIL: &str = "The batch request does not follow the schema or is semantically wrong.";

fn invalid(propriedade: impl Into<String>, razao: impl Into<String>) -> ApiError {
    let mut v = Violations::default();
    v.add(propriedade, razao);
    ApiError::with_violations(ProblemKind::LoteCobVOperacaoInvalida, DETAIL, v.0)
}

fn not_found() -> ApiError {
    ApiError::new(ProblemKind::LoteCobVNaoEncontrado, "No batch with this id.")
}

fn path_id(req: &Request) -> Option<i64> {
    param(req, "id").parse().ok().filter(|n: &i64| *n > 0)
}

/// The envelope of a PUT or PATCH: `descricao` and `cobsv`, each item's `txid` checked and
/// the rest of it (the charge's request) kept as JSON.
fn read_batch(body: &[u8], create: bool) -> Result<(Option<String>, Vec<(Txid, Value)>), ApiError> {
    let value = parse_body(body)?;
    let mut v = Violations::default();
    let mut out = (None, Vec::new());
    if let Some(mut root) = Fields::of(&value, "loteCobV", &mut v) {
        let descricao = root.string("descricao", 140, &mut v);
        let descricao = if create { root.require("descricao", descricao, &mut v) } else { descricao };
        match descricao {
            Ok(Some(d)) if d.trim().is_empty() => v.add("loteCobV.descricao", "must have 1 to 140 characters"),
            Ok(Some(d)) => out.0 = Some(d.to_owned()),
            _ => {}
        }
        // A PATCH may revise the description alone (the spec's revised batch requires nothing).
        let cobsv = root.array("cobsv", MAX_ITEMS, &mut v);
        let cobsv = if create { root.require("cobsv", cobsv, &mut v) } else { cobsv };
        if let Ok(Some(items)) = cobsv {
            if items.is_empty() {
                v.add("loteCobV.cobsv", "needs at least one charge");
            }
            let mut seen = std::collections::HashSet::new();
            for (i, item) in items.iter().enumerate() {
                let path = format!("loteCobV.cobsv[{i}]");
                let Some(mut f) = Fields::of(item, &path, &mut v) else { continue };
                let txid = f.string("txid", 35, &mut v);
                if let Ok(Some(t)) = f.require("txid", txid, &mut v) {
                    match Txid::parse_for_charge(t) {
                        Ok(t) if !seen.insert(t.as_str().to_owned()) => v.add(f.path_of("txid"), "appears twice"),
                        Ok(t) => {
                            let mut request = item.clone();
                            if let Some(map) = request.as_object_mut() {
                                map.remove("txid");
                            }
                            out.1.push((t, request));
                        }
                        Err(e) => v.add(f.path_of("txid"), e.to_string()),
                    }
                }
            }
        }
    }
    v.finish(out, ProblemKind::LoteCobVOperacaoInvalida, DETAIL)
}

/// Each item's request sealed under the merchant (it carries the devedor's data).
async fn seal(
    state: &AppState,
    merchant: crate::domain::merchant::MerchantId,
    items: Vec<(Txid, Value)>,
) -> Result<Vec<(Txid, Vec<u8>)>, ApiError> {
    let context = CipherContext { merchant: Some(merchant), purpose: DEVEDOR };
    let mut sealed = Vec::with_capacity(items.len());
    for (txid, request) in items {
        let bytes = serde_json::to_vec(&request).map_err(|e| ApiError::internal(e.into()))?;
        let enc = state.cipher.encrypt(&bytes, context).await.map_err(|e| match e {
            e @ crate::ports::CipherError::Unavailable(_) => ApiError::unavailable(e.into()),
            e => ApiError::internal(e.into()),
        })?;
        sealed.push((txid, enc));
    }
    Ok(sealed)
}

fn accepted() -> Response {
    let mut res = http::Response::new(Bytes::new());
    *res.status_mut() = StatusCode::ACCEPTED;
    res
}

fn answer_submitted(outcome: LoteSubmitted) -> Result<Response, ApiError> {
    match outcome {
        LoteSubmitted::Accepted | LoteSubmitted::Replay => Ok(accepted()),
        LoteSubmitted::IdInUse => Err(invalid(
            "loteCobV.cobsv",
            "a batch's charges cannot be added or removed: a PUT of an existing batch names exactly its charges",
        )),
        LoteSubmitted::TxidTaken(t) => {
            Err(invalid("loteCobV.cobsv", format!("the charge {t} already exists or is in another batch")))
        }
        LoteSubmitted::NotInBatch(t) => Err(invalid("loteCobV.cobsv", format!("the charge {t} is not in this batch"))),
        LoteSubmitted::StillPending(t) => Err(invalid(
            "loteCobV.cobsv",
            format!(
                "the charge {t} has a creation or revision still pending: correct it with a PUT of the batch, \
                 or revise it once the batch shows its outcome"
            ),
        )),
        LoteSubmitted::NotFound => Err(not_found()),
    }
}

/// `PUT /lotecobv/{id}`: a batch of new charges; 202, then each is created or refused.
pub async fn put(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let id = path_id(req).ok_or_else(|| invalid("id", "must be a positive integer"))?;
    let (descricao, items) = read_batch(req.body(), true)?;
    let fingerprint = crate::domain::idempotency::fingerprint(req.body());
    let sealed = seal(state, merchant.id, items).await?;
    let outcome =
        state.lotes.submit(merchant.id, id, descricao.as_deref().unwrap_or_default(), fingerprint, sealed).await?;
    tracing::info!(lote = id, ?outcome, "batch of charges with a due date submitted");
    answer_submitted(outcome)
}

/// `PATCH /lotecobv/{id}`: revisions of charges of the batch; 202, then each is applied.
pub async fn patch(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let id = path_id(req).ok_or_else(not_found)?;
    let (descricao, items) = read_batch(req.body(), false)?;
    let sealed = seal(state, merchant.id, items).await?;
    let outcome = state.lotes.revise(merchant.id, id, descricao.as_deref(), sealed).await?;
    answer_submitted(outcome)
}

fn lote_json(l: &Lote) -> Value {
    let cobsv: Vec<Value> = l
        .items
        .iter()
        .map(|i| {
            let mut item = json!({"txid": i.txid.as_str(), "status": i.status});
            if let Some(criacao) = i.criacao {
                item["criacao"] = json!(timestamp(criacao));
            }
            if let Some(p) = &i.problema {
                item["problema"] = p.clone();
            }
            item
        })
        .collect();
    json!({"id": l.id, "descricao": l.descricao, "criacao": timestamp(l.criacao), "cobsv": cobsv})
}

/// `GET /lotecobv/{id}`: the batch and each charge's status.
pub async fn get(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let id = path_id(req).ok_or_else(not_found)?;
    let lote = state.lotes.get(merchant.id, id).await?.ok_or_else(not_found)?;
    Ok(json(StatusCode::OK, &lote_json(&lote)))
}

/// `GET /lotecobv?inicio=...&fim=...`.
pub async fn list(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let mut q = QueryParams::new(req.uri().query());
    let interval = q.interval();
    let (pagina, itens_por_pagina) = q.pagination();
    // A batch carries up to 1,000 charges: a page holds at most ten batches.
    let itens_por_pagina = itens_por_pagina.min(MAX_BATCHES_PER_PAGE);
    let (inicio, fim) = q.finish(
        interval,
        ProblemKind::LoteCobVConsultaInvalida,
        "The query parameters do not follow the schema or make no sense together.",
    )?;
    let page = state.lotes.list(merchant.id, inicio, fim, pagina, itens_por_pagina).await?;
    let parametros = Parametros::new(inicio, fim, Paginacao::new(pagina, itens_por_pagina, page.total));
    let lotes: Vec<Value> = page.items.iter().map(lote_json).collect();
    Ok(json(StatusCode::OK, &json!({"parametros": parametros, "lotes": lotes})))
}

/// The faults after which the worker gives an item up (NEGADA): with waits doubling from
/// 1 s to an hour, over a day of tries.
pub const MAX_FAULTS: u32 = 36;

/// The worker: up to `limit` pending items, each created or revised as its own
/// `PUT`/`PATCH /cobv/{txid}` would be, and marked `CRIADA` or `NEGADA` with that problem.
/// Returns how many it finished. An item that meets a fault (the store, the cipher) stays
/// pending and waits before its next try (`LoteStore::postpone`).
pub async fn process_pending(state: &AppState, limit: i64) -> Result<usize, crate::ports::StoreError> {
    let mut done = 0;
    for item in state.lotes.pending(limit).await? {
        let problema = match process(state, &item).await {
            Ok(()) => None,
            Err(e) if e.kind.status().is_client_error() => Some(e.to_problem()),
            // A fault (the store, the cipher): the item waits and is tried again later, the
            // others go on (stuck items never hold up the batches behind them); after
            // MAX_FAULTS (a day and more of tries) it is denied with that problem.
            Err(e) => {
                let faults = state.lotes.postpone(&item).await?;
                tracing::warn!(lote = item.lote_id, kind = ?e.kind, faults, "a batch item could not be processed yet");
                if faults < MAX_FAULTS {
                    continue;
                }
                Some(e.to_problem())
            }
        };
        if state.lotes.finish(&item, problema.as_ref()).await? {
            done += 1;
        }
    }
    Ok(done)
}

async fn process(state: &AppState, item: &PendingItem) -> Result<(), ApiError> {
    let context = CipherContext { merchant: Some(item.merchant), purpose: DEVEDOR };
    let request = state.cipher.decrypt(&item.request_enc, context).await.map_err(|e| match e {
        e @ crate::ports::CipherError::Unavailable(_) => ApiError::unavailable(e.into()),
        e => ApiError::internal(e.into()),
    })?;
    let merchant = state
        .merchants
        .by_id(item.merchant)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("a batch's merchant is gone")))?;
    match item.operation {
        LoteOperation::Create => {
            let new = super::cobv::input::new_charge(&request)?;
            due_charges::create(
                state,
                &merchant,
                item.txid.clone(),
                &new.terms,
                new.loc,
                due_charges::Origin::Batch(item.lote_id),
            )
            .await
            .map_err(super::cobv::map_error)?;
        }
        LoteOperation::Revise => {
            let patch = super::cobv::input::patch(&request)?;
            due_charges::revise(state, &merchant, &item.txid, &patch).await.map_err(super::cobv::map_error)?;
        }
        LoteOperation::Replace => {
            let new = super::cobv::input::new_charge(&request)?;
            let current = due_charges::get(state, &merchant, &item.txid, None).await.map_err(super::cobv::map_error)?;
            due_charges::replace(state, &merchant, &current.charge, &new.terms, new.loc)
                .await
                .map_err(super::cobv::map_error)?;
        }
    }
    Ok(())
}
