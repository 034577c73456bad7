//! `POST /rail/notificacoes`: signed notifications from the Pix rail (a Pix received, a
//! refund settled or rejected). Authenticated by signature, not by API key; every
//! notification is applied at most once, so duplicates and replays answer 200 and change
//! nothing.

use crate::app::payments::{self, PaymentError};
use crate::app::AppState;
use crate::domain::document::{Cnpj, Cpf, Document};
use crate::domain::ids::{EndToEndId, RtrId, Txid};
use crate::domain::money::Amount;
use crate::domain::payment::{IncomingPix, Payer};
use crate::http::json::Violations;
use crate::http::problem::{ApiError, ProblemKind};
use crate::http::{json, Request, Response};
use crate::ports::{ConcludeOutcome, RailVerdict, RecordOutcome};
use crate::rail::protocol::{DevolucaoResultado, Notificacao, PixRecebido};
use crate::rail::signature::{verify, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use chrono::{DateTime, Utc};
use http::StatusCode;
use serde_json::json as j;

const DETAIL: &str = "The notification does not follow the rail protocol.";

fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

fn time(s: &str, field: &str, v: &mut Violations) -> Option<DateTime<Utc>> {
    let t = DateTime::parse_from_rfc3339(s).ok().map(|t| t.to_utc());
    if t.is_none() {
        v.add(field, "must be an RFC 3339 timestamp");
    }
    t
}

fn positive_amount(s: &str, field: &str, v: &mut Violations) -> Option<Amount> {
    match Amount::parse(s) {
        Ok(a) if !a.is_zero() => Some(a),
        _ => {
            v.add(field, "must be a positive Bacen amount");
            None
        }
    }
}

fn incoming(p: &PixRecebido) -> Result<IncomingPix, ApiError> {
    let mut v = Violations::default();
    let e2eid = EndToEndId::parse(&p.end_to_end_id).map_err(|e| v.add("pix.endToEndId", e.to_string())).ok();
    let txid = match p.txid.as_deref() {
        Some(t) => Txid::parse(t).map(Some).map_err(|e| v.add("pix.txid", e.to_string())).ok(),
        None => Some(None),
    };
    let valor = positive_amount(&p.valor, "pix.valor", &mut v);
    let horario = time(&p.horario, "pix.horario", &mut v);
    if p.chave.is_empty() || p.chave.len() > 77 {
        v.add("pix.chave", "must have 1 to 77 characters");
    }
    let documento = match (&p.pagador.cpf, &p.pagador.cnpj) {
        (Some(c), None) => {
            Cpf::parse(c).map(|c| Some(Document::Cpf(c))).map_err(|_| v.add("pix.pagador.cpf", "invalid")).ok()
        }
        (None, Some(c)) => {
            Cnpj::parse(c).map(|c| Some(Document::Cnpj(c))).map_err(|_| v.add("pix.pagador.cnpj", "invalid")).ok()
        }
        (None, None) => Some(None),
        (Some(_), Some(_)) => {
            v.add("pix.pagador", "cpf and cnpj cannot both be given");
            None
        }
    };
    let nome = p.pagador.nome.as_ref().map(|n| n.chars().take(200).collect::<String>());
    let info = p.info_pagador.as_ref().map(|i| i.chars().take(140).collect::<String>());
    let pix = match (e2eid, txid, valor, horario, documento) {
        (Some(end_to_end_id), Some(txid), Some(valor), Some(horario), Some(documento)) if v.is_empty() => {
            Some(IncomingPix {
                end_to_end_id,
                chave: p.chave.clone(),
                txid,
                valor,
                horario,
                pagador: Payer { documento, nome },
                info_pagador: info,
            })
        }
        _ => None,
    };
    v.finish(pix, ProblemKind::RequisicaoInvalida, DETAIL)?
        .ok_or_else(|| ApiError::new(ProblemKind::RequisicaoInvalida, DETAIL))
}

fn rtr_id(d: &DevolucaoResultado) -> Result<RtrId, ApiError> {
    RtrId::parse(&d.rtr_id).map_err(|_| ApiError::new(ProblemKind::RequisicaoInvalida, DETAIL))
}

fn answer(applied: bool) -> Response {
    json(StatusCode::OK, &j!({"resultado": if applied { "APLICADA" } else { "DUPLICADA" }}))
}

pub async fn notification(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let now = Utc::now().timestamp();
    let signed = verify(
        &state.config.rail_secret,
        header(req, TIMESTAMP_HEADER),
        header(req, SIGNATURE_HEADER),
        req.body(),
        now,
    );
    if let Err(e) = signed {
        tracing::warn!(reason = %e, "rail notification refused");
        return Err(ApiError::new(
            ProblemKind::AssinaturaInvalida,
            "The notification's signature is missing, wrong or stale.",
        ));
    }
    let notification: Notificacao =
        serde_json::from_slice(req.body()).map_err(|_| ApiError::new(ProblemKind::RequisicaoInvalida, DETAIL))?;
    let id = notification.id();
    if id.is_empty() || id.len() > 100 {
        return Err(ApiError::new(ProblemKind::RequisicaoInvalida, DETAIL));
    }
    tracing::info!(notification_id = id, kind = notification.kind(), "rail notification");
    let map = |e: PaymentError| match e {
        PaymentError::UnknownRefund => ApiError::new(ProblemKind::NaoEncontrado, "No refund with this rtrId."),
        PaymentError::Store(s) => s.into(),
        other => ApiError::internal(other.into()),
    };
    match &notification {
        Notificacao::PixRecebido { pix, .. } => {
            let pix = incoming(pix)?;
            let outcome = payments::receive_pix(state, id, &pix).await.map_err(map)?;
            Ok(answer(outcome != RecordOutcome::Duplicate))
        }
        Notificacao::DevolucaoLiquidada { devolucao, .. } => {
            let mut v = Violations::default();
            let at = time(&devolucao.horario, "devolucao.horario", &mut v);
            let at = v.finish(at, ProblemKind::RequisicaoInvalida, DETAIL)?.unwrap_or_else(Utc::now);
            let outcome = payments::conclude_refund(state, id, &rtr_id(devolucao)?, &RailVerdict::Settled { at })
                .await
                .map_err(map)?;
            Ok(answer(outcome == ConcludeOutcome::Applied))
        }
        Notificacao::PixEnviadoLiquidado { envio, .. } | Notificacao::PixEnviadoRejeitado { envio, .. } => {
            let e2eid = EndToEndId::parse(&envio.end_to_end_id)
                .map_err(|_| ApiError::new(ProblemKind::RequisicaoInvalida, DETAIL))?;
            let verdict = match &notification {
                Notificacao::PixEnviadoLiquidado { .. } => {
                    let mut v = Violations::default();
                    let at = time(&envio.horario, "envio.horario", &mut v);
                    RailVerdict::Settled {
                        at: v.finish(at, ProblemKind::RequisicaoInvalida, DETAIL)?.unwrap_or_else(Utc::now),
                    }
                }
                _ => RailVerdict::Rejected { motivo: envio.motivo.clone() },
            };
            match crate::app::transfers::conclude(state, id, &e2eid, &verdict).await? {
                ConcludeOutcome::Unknown => {
                    Err(ApiError::new(ProblemKind::NaoEncontrado, "No transfer with this endToEndId."))
                }
                outcome => Ok(answer(outcome == ConcludeOutcome::Applied)),
            }
        }
        Notificacao::DevolucaoRejeitada { devolucao, .. } => {
            let result = RailVerdict::Rejected { motivo: devolucao.motivo.clone() };
            let outcome = payments::conclude_refund(state, id, &rtr_id(devolucao)?, &result).await.map_err(map)?;
            Ok(answer(outcome == ConcludeOutcome::Applied))
        }
    }
}
