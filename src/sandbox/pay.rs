//! `POST /pagamentos`: pay a BR Code as the payer's bank would, then notify Tucano.

use super::notify::{deliver_all, Delivery};
use super::{Shared, SANDBOX_ISPB};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tucano_shared::app::signed_payloads;
use tucano_shared::domain::brcode::{BrCode, NO_TXID};
use tucano_shared::domain::ids::EndToEndId;
use tucano_shared::domain::location::LocationFailure;
use tucano_shared::domain::money::Amount;
use tucano_shared::rail::protocol::{Notificacao, Pagador, PixRecebido};

/// A payment order from the payer's side.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PayRequest {
    pub pix_copia_e_cola: String,
    /// Overrides the amount (required for static codes without one).
    #[serde(default)]
    pub valor: Option<String>,
    /// How many copies of the notification to send (default: as the fault profile says,
    /// one when it is off).
    #[serde(default)]
    pub duplicatas: Option<u32>,
    /// Wait this long before notifying.
    #[serde(default)]
    pub atraso_ms: Option<u64>,
    /// Send copies in random order, with some at the same moment.
    #[serde(default)]
    pub embaralhar: bool,
    #[serde(default)]
    pub pagador: Option<Pagador>,
    /// Pay as on this day (`YYYY-MM-DD`): the payload is asked for it (Bacen's `DPP`, which
    /// prices a charge with a due date) and the Pix is dated noon of it in Brasília.
    #[serde(default)]
    pub data_pagamento: Option<chrono::NaiveDate>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PayResponse {
    pub end_to_end_id: String,
    pub txid: Option<String>,
    pub valor: String,
    pub chave: String,
    /// The status the payload showed (dynamic codes).
    pub status_cobranca: Option<String>,
    pub entregas: Vec<Delivery>,
}

type Refusal = (StatusCode, Json<serde_json::Value>);

fn refuse(status: StatusCode, why: impl Into<String>) -> Refusal {
    (status, Json(serde_json::json!({"erro": why.into()})))
}

/// What the payer's bank learns from the code (and, for dynamic codes, the payload).
struct Resolved {
    chave: String,
    txid: Option<String>,
    valor: Option<String>,
    status: Option<String>,
}

async fn resolve(rail: &Shared, code: &BrCode, date: Option<chrono::NaiveDate>) -> Result<Resolved, Refusal> {
    if let Some(url) = &code.account.url {
        let base = format!("{}://{url}", rail.config.location_scheme);
        let location = url::Url::parse(&base).map_err(|_| refuse(StatusCode::UNPROCESSABLE_ENTITY, "bad location"))?;
        // The payer's bank says when it means to pay (it prices a charge with a due date).
        let full = match date {
            Some(d) => format!("{base}?DPP={d}"),
            None => base,
        };
        let res =
            rail.client.get(&full).send().await.map_err(|_| refuse(StatusCode::BAD_GATEWAY, "location unreachable"))?;
        if !res.status().is_success() {
            return Err(refuse(StatusCode::UNPROCESSABLE_ENTITY, format!("location answered {}", res.status())));
        }
        let body = res.bytes().await.map_err(|_| refuse(StatusCode::BAD_GATEWAY, "location unreachable"))?;
        // As a payer's bank must: the payload's signature, its key set on the location's
        // host and a trusted certificate for that host, or no payment.
        let now = chrono::Utc::now().timestamp().max(0) as u64;
        let payload = signed_payloads::open(&body, &location, &rail.config.trust, now, |jku| async move {
            let res = rail.client.get(jku).send().await.map_err(|_| LocationFailure::Unreachable)?;
            if !res.status().is_success() {
                return Err(LocationFailure::HttpError);
            }
            Ok(res.bytes().await.map_err(|_| LocationFailure::Unreachable)?.to_vec())
        })
        .await
        .map_err(|e| refuse(StatusCode::UNPROCESSABLE_ENTITY, format!("location payload refused: {}", e.code())))?;
        let payload: serde_json::Value = serde_json::from_slice(&payload)
            .map_err(|_| refuse(StatusCode::BAD_GATEWAY, "location payload is not JSON"))?;
        let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
        return Ok(Resolved {
            chave: text(&payload["chave"]).ok_or_else(|| refuse(StatusCode::BAD_GATEWAY, "payload without chave"))?,
            txid: text(&payload["txid"]),
            // A charge with a due date states what is due on the day asked (`final`).
            valor: text(&payload["valor"]["final"]).or_else(|| text(&payload["valor"]["original"])),
            status: text(&payload["status"]),
        });
    }
    let chave =
        code.account.chave.clone().ok_or_else(|| refuse(StatusCode::UNPROCESSABLE_ENTITY, "code without key"))?;
    let txid = (code.txid != NO_TXID).then(|| code.txid.clone());
    Ok(Resolved { chave, txid, valor: code.amount().map(|a| a.to_string()), status: None })
}

pub async fn pay(State(rail): State<Shared>, Json(req): Json<PayRequest>) -> Result<Json<PayResponse>, Refusal> {
    let code = BrCode::decode(req.pix_copia_e_cola.trim())
        .map_err(|e| refuse(StatusCode::UNPROCESSABLE_ENTITY, format!("invalid BR Code: {e}")))?;
    let resolved = resolve(&rail, &code, req.data_pagamento).await?;
    let valor = req
        .valor
        .clone()
        .or(resolved.valor.clone())
        .ok_or_else(|| refuse(StatusCode::UNPROCESSABLE_ENTITY, "the code has no amount: give valor"))?;
    Amount::parse(&valor).map_err(|_| refuse(StatusCode::UNPROCESSABLE_ENTITY, "valor is not a Bacen amount"))?;
    // Dated noon in Brasília (15:00 UTC) of a later day asked, else now.
    let now = chrono::Utc::now();
    let now = match req.data_pagamento {
        Some(d) if d > tucano_shared::domain::cobv::calendar::brasilia_date(now) => {
            d.and_hms_opt(15, 0, 0).map(|t| t.and_utc()).unwrap_or(now)
        }
        _ => now,
    };
    let e2eid = EndToEndId::generate(SANDBOX_ISPB, now);
    let pix = PixRecebido {
        end_to_end_id: e2eid.as_str().to_owned(),
        txid: resolved.txid.clone(),
        valor: valor.clone(),
        chave: resolved.chave.clone(),
        horario: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        pagador: req.pagador.clone().unwrap_or(Pagador {
            cpf: Some("12345678909".into()),
            cnpj: None,
            nome: Some("Pagador Sandbox".into()),
        }),
        info_pagador: None,
    };
    // The rail's own statement has it whatever happens to the notifications: a dropped
    // one is found by Tucano's reconciler there.
    rail.received.lock().unwrap_or_else(|p| p.into_inner()).push(pix.clone());
    // Copies: the same notification re-sent, and the same payment re-announced under a
    // fresh notification id, as a rail that lost track of its own deliveries would. Without
    // `duplicatas`, the fault profile decides (dropped, once, or three copies).
    let base = format!("ntf{}", uuid::Uuid::new_v4().simple());
    let delay = Duration::from_millis(req.atraso_ms.unwrap_or(0).min(60_000));
    let delays: Vec<Duration> = match req.duplicatas {
        Some(n) => (0..n.clamp(1, 100))
            .map(|_| {
                let jitter = if req.embaralhar { rand::thread_rng().gen_range(0..50) } else { 0 };
                delay + Duration::from_millis(jitter)
            })
            .collect(),
        None => rail.faults.lock().unwrap_or_else(|p| p.into_inner()).copies().into_iter().map(|d| d + delay).collect(),
    };
    let copies = delays
        .into_iter()
        .enumerate()
        .map(|(i, d)| {
            let id = if i % 2 == 0 { base.clone() } else { format!("{base}r{i}") };
            (Notificacao::PixRecebido { id, pix: pix.clone() }, d)
        })
        .collect();
    let entregas = deliver_all(&rail, copies).await;
    Ok(Json(PayResponse {
        end_to_end_id: pix.end_to_end_id,
        txid: resolved.txid,
        valor,
        chave: resolved.chave,
        status_cobranca: resolved.status,
        entregas,
    }))
}
