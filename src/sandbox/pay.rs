//! `POST /pagamentos`: pay a BR Code as the payer's bank would, then notify Tucano. A Pix
//! Automático code's recurrence is answered too, after its charge (if any) was paid.

use super::automatico::{self, Journey, QrAnswer, RecPayload};
use super::notify::{deliver_all, deliver_batch, Delivery};
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
    /// Send the copies together, as one batch (one signed request carrying them all, after
    /// `atrasoMs`), as a bank's message interface hands several over at once.
    #[serde(default)]
    pub em_lote: bool,
    #[serde(default)]
    pub pagador: Option<Pagador>,
    /// Pay as on this day (`YYYY-MM-DD`): the payload is asked for it (Bacen's `DPP`, which
    /// prices a charge with a due date) and the Pix is dated noon of it in Brasília.
    #[serde(default)]
    pub data_pagamento: Option<chrono::NaiveDate>,
}

/// What was paid and told. The Pix fields are absent when nothing was paid (journey 2).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PayResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_to_end_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub txid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chave: Option<String>,
    /// The status the payload showed (dynamic codes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_cobranca: Option<String>,
    pub entregas: Vec<Delivery>,
    /// The recurrence a Pix Automático code carried, and the payer's answer to it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recorrencia: Option<QrAnswer>,
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
    /// The payload is an immediate charge's (it has `calendario.expiracao`), not one with a
    /// due date's.
    immediate: bool,
}

/// Reads the signed payload at `location` (a URL without scheme) as a payer's bank must: the
/// payload's signature, its key set on the location's host and a trusted certificate for that
/// host, or nothing. `date` asks for the payload as on that day (Bacen's `DPP`).
async fn fetch_payload(
    rail: &Shared,
    location: &str,
    date: Option<chrono::NaiveDate>,
) -> Result<serde_json::Value, Refusal> {
    let base = format!("{}://{location}", rail.config.location_scheme);
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
    serde_json::from_slice(&payload).map_err(|_| refuse(StatusCode::BAD_GATEWAY, "location payload is not JSON"))
}

/// The receiver, txid and amount: from the charge's payload for a dynamic code, else from the
/// code itself (a static code, which must then carry a key).
async fn resolve(rail: &Shared, code: &BrCode, date: Option<chrono::NaiveDate>) -> Result<Resolved, Refusal> {
    if let Some(url) = &code.account.url {
        let payload = fetch_payload(rail, url, date).await?;
        let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
        return Ok(Resolved {
            chave: text(&payload["chave"]).ok_or_else(|| refuse(StatusCode::BAD_GATEWAY, "payload without chave"))?,
            txid: text(&payload["txid"]),
            // A charge with a due date states what is due on the day asked (`final`).
            valor: text(&payload["valor"]["final"]).or_else(|| text(&payload["valor"]["original"])),
            status: text(&payload["status"]),
            immediate: !payload["calendario"]["expiracao"].is_null(),
        });
    }
    let chave =
        code.account.chave.clone().ok_or_else(|| refuse(StatusCode::UNPROCESSABLE_ENTITY, "code without key"))?;
    let txid = (code.txid != NO_TXID).then(|| code.txid.clone());
    Ok(Resolved { chave, txid, valor: code.amount().map(|a| a.to_string()), status: None, immediate: false })
}

/// Reads and verifies the recurrence a Pix Automático code points at (its first 80-99
/// template), if it has one.
async fn scan_recurrence(rail: &Shared, code: &BrCode) -> Result<Option<RecPayload>, Refusal> {
    match code.recurrence_urls.first() {
        Some(location) => Ok(Some(automatico::read_recurrence(fetch_payload(rail, location, None).await?)?)),
        None => Ok(None),
    }
}

/// Pays the code (and answers its recurrence, if any): a code with a recurrence and no charge
/// location pays nothing (journey 2); one with both pays the charge first (journeys 3, 4).
pub async fn pay(State(rail): State<Shared>, Json(req): Json<PayRequest>) -> Result<Json<PayResponse>, Refusal> {
    let code = BrCode::decode(req.pix_copia_e_cola.trim())
        .map_err(|e| refuse(StatusCode::UNPROCESSABLE_ENTITY, format!("invalid BR Code: {e}")))?;
    let recurrence = scan_recurrence(&rail, &code).await?;
    let payer = req.pagador.as_ref();
    match recurrence {
        Some(rec) if code.account.url.is_none() => {
            let answer = automatico::answer_qr(&rail, rec, Journey::QrOnly, payer).await;
            Ok(Json(PayResponse::nothing_paid(answer)))
        }
        recurrence => {
            let (mut response, immediate) = pay_charge(&rail, &code, &req).await?;
            if let Some(rec) = recurrence {
                // The charge's notifications were awaited above: Tucano sees the payment first.
                let journey = if immediate { Journey::QrImmediate } else { Journey::QrDueDate };
                response.recorrencia = Some(automatico::answer_qr(&rail, rec, journey, payer).await);
            }
            Ok(Json(response))
        }
    }
}

impl PayResponse {
    /// Journey 2: no Pix, only the recurrence's answer.
    fn nothing_paid(answer: QrAnswer) -> Self {
        PayResponse {
            end_to_end_id: None,
            txid: None,
            valor: None,
            chave: None,
            status_cobranca: None,
            entregas: vec![],
            recorrencia: Some(answer),
        }
    }
}

/// Pays the code's charge (or key) and delivers its PIX_RECEBIDO copies, awaiting them.
/// Also says whether the charge was an immediate one.
async fn pay_charge(rail: &Shared, code: &BrCode, req: &PayRequest) -> Result<(PayResponse, bool), Refusal> {
    let resolved = resolve(rail, code, req.data_pagamento).await?;
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
            cpf: Some(automatico::DEFAULT_PAYER_CPF.into()),
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
    let copies: Vec<(Notificacao, Duration)> = delays
        .into_iter()
        .enumerate()
        .map(|(i, d)| {
            let id = if i % 2 == 0 { base.clone() } else { format!("{base}r{i}") };
            (Notificacao::PixRecebido { id, pix: pix.clone() }, d)
        })
        .collect();
    let entregas = if req.em_lote && !copies.is_empty() {
        tokio::time::sleep(delay).await;
        let mut batch: Vec<Notificacao> = copies.into_iter().map(|(n, _)| n).collect();
        if req.embaralhar {
            use rand::seq::SliceRandom;
            batch.shuffle(&mut rand::thread_rng());
        }
        deliver_batch(rail, &batch).await
    } else {
        deliver_all(rail, copies).await
    };
    let response = PayResponse {
        end_to_end_id: Some(pix.end_to_end_id),
        txid: resolved.txid,
        valor: Some(valor),
        chave: Some(resolved.chave),
        status_cobranca: resolved.status,
        entregas,
        recorrencia: None,
    };
    Ok((response, resolved.immediate))
}
