//! `POST /rail/notificacoes`: signed notifications from the Pix rail (a Pix received, a
//! refund or a Pix out settled or rejected, a Pix out returned). Authenticated by signature, not by API key; every
//! notification is applied at most once, so duplicates and replays answer 200 and change
//! nothing.

use crate::app::payments::{self, PaymentError};
use crate::app::AppState;
use crate::domain::ids::{EndToEndId, RtrId};
use crate::domain::text::free_text;
use crate::http::json::Violations;
use crate::http::problem::{ApiError, ProblemKind};
use crate::http::{json, Request, Response};
use crate::ports::{ConcludeOutcome, Contradiction, RailVerdict, RecordOutcome, Rejection, RejectionCode, ReturnedPix};
use crate::rail::incoming::{incoming, positive_amount, time};
use crate::rail::protocol::{DevolucaoRecebida, DevolucaoResultado, Notificacao};
use crate::rail::signature::{verify_any, SIGNATURE_HEADER, TIMESTAMP_HEADER};

use http::StatusCode;
use serde_json::json as j;

const DETAIL: &str = "The notification does not follow the rail protocol.";

fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

fn rtr_id(d: &DevolucaoResultado) -> Result<RtrId, ApiError> {
    RtrId::parse(&d.rtr_id).map_err(|_| ApiError::new(ProblemKind::RequisicaoInvalida, DETAIL))
}

/// What the rail is told: the notification was applied, was a duplicate, or contradicted
/// the books (applied as reported and flagged — the rail is told so, honestly).
fn answer(outcome: &ConcludeOutcome) -> Response {
    // OBSOLETA: an old word of the rail's, contradicted by its status now, set aside.
    // AGUARDANDO_CONFIRMACAO: a reversal its status could not judge, kept for the reconciler.
    let body = match outcome {
        ConcludeOutcome::Flagged(c) => j!({"resultado": outcome.resultado(), "alerta": c.as_str()}),
        _ => j!({"resultado": outcome.resultado()}),
    };
    json(StatusCode::OK, &body)
}

/// A settlement: its time, and the amount the rail says it settled.
fn settled(horario: &str, valor: &str, prefix: &str) -> Result<RailVerdict, ApiError> {
    let mut v = Violations::default();
    let at = time(horario, &format!("{prefix}.horario"), &mut v);
    let valor = positive_amount(valor, &format!("{prefix}.valor"), &mut v);
    let verdict = match (at, valor) {
        (Some(at), Some(valor)) => Some(RailVerdict::Settled { at, valor: Some(valor) }),
        _ => None,
    };
    v.finish(verdict, ProblemKind::RequisicaoInvalida, DETAIL)?
        .ok_or_else(|| ApiError::new(ProblemKind::RequisicaoInvalida, DETAIL))
}

/// A rejection: only with a final reason code (anything else is not a verdict).
fn rejected(codigo: Option<&str>, motivo: Option<&str>, prefix: &str) -> Result<RailVerdict, ApiError> {
    match codigo.and_then(RejectionCode::parse) {
        Some(code) => Ok(RailVerdict::Rejected(Rejection { code, detail: motivo.and_then(|m| free_text(m, 140)) })),
        None => {
            let mut v = Violations::default();
            v.add(format!("{prefix}.codigo"), "a rejection must carry a final reason code");
            Err(ApiError::with_violations(ProblemKind::RequisicaoInvalida, DETAIL, v.0))
        }
    }
}

fn returned(d: &DevolucaoRecebida) -> Result<ReturnedPix, ApiError> {
    let mut v = Violations::default();
    let rtr_id = RtrId::parse(&d.rtr_id).map_err(|e| v.add("devolucao.rtrId", e.to_string())).ok();
    let e2eid = EndToEndId::parse(&d.end_to_end_id).map_err(|e| v.add("devolucao.endToEndId", e.to_string())).ok();
    let valor = positive_amount(&d.valor, "devolucao.valor", &mut v);
    let horario = time(&d.horario, "devolucao.horario", &mut v);
    let codigo =
        d.codigo.clone().filter(|c| c.len() == 4 && c.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
    if d.codigo.is_some() && codigo.is_none() {
        v.add("devolucao.codigo", "must be a 4-character reason code");
    }
    let r = match (rtr_id, e2eid, valor, horario) {
        (Some(rtr_id), Some(end_to_end_id), Some(valor), Some(horario)) => Some(ReturnedPix {
            rtr_id,
            end_to_end_id,
            valor,
            horario,
            codigo,
            motivo: d.motivo.as_deref().and_then(|m| free_text(m, 140)),
        }),
        _ => None,
    };
    v.finish(r, ProblemKind::RequisicaoInvalida, DETAIL)?
        .ok_or_else(|| ApiError::new(ProblemKind::RequisicaoInvalida, DETAIL))
}

pub async fn notification(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    // The rail signs with its own clock: freshness is checked against wall time on purpose,
    // whatever clock the application runs on.
    let now = crate::ports::SystemClock::wall().timestamp();
    let verify = |secrets: &crate::ports::SecretVersions| {
        verify_any(&secrets.all(), header(req, TIMESTAMP_HEADER), header(req, SIGNATURE_HEADER), req.body(), now)
    };
    let mut signed = verify(&state.rail_secret.versions().await?);
    // A rotation the function has not seen yet looks like a bad signature: read the secret
    // again (at most once a minute, whatever arrives) and check once more.
    if signed.is_err() && state.rail_secret.reread().await {
        signed = verify(&state.rail_secret.versions().await?);
    }
    if let Err(e) = signed {
        tracing::warn!(reason = %e, "rail notification refused");
        return Err(ApiError::new(
            ProblemKind::AssinaturaInvalida,
            "The notification's signature is missing, wrong or stale.",
        ));
    }
    if is_batch(req.body()) {
        return batch(state, req).await;
    }
    let notification: Notificacao =
        serde_json::from_slice(req.body()).map_err(|_| ApiError::new(ProblemKind::RequisicaoInvalida, DETAIL))?;
    apply(state, &notification).await
}

/// The most notifications one batch may carry.
pub const MAX_BATCH: usize = 100;

/// Whether the body is a batch (a JSON array) rather than one notification (an object).
fn is_batch(body: &[u8]) -> bool {
    body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[')
}

/// The notification's id, if it is one the rail may use: 1 to 100 printable characters.
fn valid_id(notification: &Notificacao) -> Result<&str, ApiError> {
    let id = notification.id();
    if id.is_empty() || id.len() > 100 || id.chars().any(char::is_control) {
        return Err(ApiError::new(ProblemKind::RequisicaoInvalida, DETAIL));
    }
    Ok(id)
}

/// A batch of notifications (a JSON array of 1 to [`MAX_BATCH`]), answered 200 with one
/// result per notification, in order: `{"resultados": [{"id", "status", ...}]}`, each the
/// answer that notification alone would have had (its status, and its body: `resultado`,
/// or the problem's fields). Each is applied at most once, as alone; the received Pix that
/// name no charge are booked together, in one statement. The rail sends again only those
/// whose status asks for it.
async fn batch(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    // Each item is parsed as a notification alone would be (a repeated field is refused).
    let items: Vec<Box<serde_json::value::RawValue>> =
        serde_json::from_slice(req.body()).map_err(|_| ApiError::new(ProblemKind::RequisicaoInvalida, DETAIL))?;
    if items.is_empty() || items.len() > MAX_BATCH {
        return Err(ApiError::new(
            ProblemKind::RequisicaoInvalida,
            format!("A batch carries 1 to {MAX_BATCH} notifications."),
        ));
    }
    let bad = || ApiError::new(ProblemKind::RequisicaoInvalida, DETAIL);
    let parsed: Vec<Option<Notificacao>> = items.iter().map(|item| serde_json::from_str(item.get()).ok()).collect();
    let mut answers: Vec<Option<Result<Response, ApiError>>> = parsed.iter().map(|_| None).collect();
    // In the batch's order: each run of received Pix is recorded together, then the
    // notification that ends it is applied alone. (A refused item changes nothing, so it
    // ends no run.)
    let mut run = vec![];
    for (i, n) in parsed.iter().enumerate() {
        let other = match n {
            None => {
                answers[i] = Some(Err(bad()));
                continue;
            }
            Some(n @ Notificacao::PixRecebido { pix, .. }) => {
                match (valid_id(n), incoming(pix)) {
                    (Ok(id), Ok(pix)) => run.push((i, id, pix)),
                    (Err(e), _) => answers[i] = Some(Err(e)),
                    (_, Err(v)) => {
                        answers[i] = Some(Err(ApiError::with_violations(ProblemKind::RequisicaoInvalida, DETAIL, v.0)))
                    }
                }
                continue;
            }
            Some(other) => other,
        };
        record_run(state, std::mem::take(&mut run), &mut answers).await;
        answers[i] = Some(apply(state, other).await);
    }
    record_run(state, run, &mut answers).await;
    let request_id = crate::http::RequestId::of(req);
    let resultados: Vec<serde_json::Value> = parsed
        .iter()
        .zip(answers)
        .map(|(n, answer)| {
            let res = match answer {
                Some(Ok(res)) => res,
                Some(Err(e)) => e.into_response(&request_id),
                // Never left unanswered; if it were, the rail must send it again.
                None => ApiError::internal(anyhow::anyhow!("a batch item was not answered")).into_response(&request_id),
            };
            let mut body = match serde_json::from_slice::<serde_json::Value>(res.body()) {
                Ok(serde_json::Value::Object(o)) => o,
                _ => serde_json::Map::new(),
            };
            body.insert("id".into(), n.as_ref().map_or(serde_json::Value::Null, |n| j!(n.id())));
            body.insert("status".into(), j!(res.status().as_u16()));
            serde_json::Value::Object(body)
        })
        .collect();
    Ok(json(StatusCode::OK, &j!({ "resultados": resultados })))
}

/// Records a run of a batch's received Pix together, answering each at its place.
async fn record_run(
    state: &AppState,
    run: Vec<(usize, &str, crate::domain::payment::IncomingPix)>,
    answers: &mut [Option<Result<Response, ApiError>>],
) {
    if run.is_empty() {
        return;
    }
    let together: Vec<(&str, &crate::domain::payment::IncomingPix)> =
        run.iter().map(|(_, id, pix)| (*id, pix)).collect();
    let mut outcomes = payments::receive_all(state, &together).await.into_iter();
    for (i, id, _) in &run {
        tracing::info!(notification_id = *id, kind = "PIX_RECEBIDO", "rail notification");
        answers[*i] = outcomes.next().map(|o| o.map(|o| answer(&received_outcome(o))).map_err(payment_error));
    }
}

/// How a received Pix's record is told to the rail.
fn received_outcome(outcome: RecordOutcome) -> ConcludeOutcome {
    match outcome {
        RecordOutcome::Recorded { .. } => ConcludeOutcome::Applied,
        RecordOutcome::Duplicate => ConcludeOutcome::Duplicate,
        RecordOutcome::Divergent { .. } => ConcludeOutcome::Flagged(Contradiction::DivergentNotification),
    }
}

fn payment_error(e: PaymentError) -> ApiError {
    match e {
        PaymentError::UnknownRefund => ApiError::new(ProblemKind::NaoEncontrado, "No refund with this rtrId."),
        PaymentError::Store(s) => s.into(),
        other => ApiError::internal(other.into()),
    }
}

/// Applies one notification (alone, or one of a batch's that is not booked together).
async fn apply(state: &AppState, notification: &Notificacao) -> Result<Response, ApiError> {
    let id = valid_id(notification)?;
    tracing::info!(notification_id = id, kind = notification.kind(), "rail notification");
    let map = payment_error;
    let unknown_transfer = || ApiError::new(ProblemKind::NaoEncontrado, "No transfer with this endToEndId.");
    let bad = || ApiError::new(ProblemKind::RequisicaoInvalida, DETAIL);
    match notification {
        Notificacao::PixRecebido { pix, .. } => {
            let pix =
                incoming(pix).map_err(|v| ApiError::with_violations(ProblemKind::RequisicaoInvalida, DETAIL, v.0))?;
            let outcome = payments::receive_pix(state, id, &pix).await.map_err(map)?;
            Ok(answer(&received_outcome(outcome)))
        }
        Notificacao::DevolucaoLiquidada { devolucao: d, .. } | Notificacao::DevolucaoRejeitada { devolucao: d, .. } => {
            let verdict = match notification {
                Notificacao::DevolucaoLiquidada { .. } => settled(&d.horario, &d.valor, "devolucao")?,
                _ => rejected(d.codigo.as_deref(), d.motivo.as_deref(), "devolucao")?,
            };
            let outcome = payments::conclude_refund(state, id, &rtr_id(d)?, &verdict).await.map_err(map)?;
            Ok(answer(&outcome))
        }
        Notificacao::PixEnviadoLiquidado { envio, .. } | Notificacao::PixEnviadoRejeitado { envio, .. } => {
            let e2eid = EndToEndId::parse(&envio.end_to_end_id).map_err(|_| bad())?;
            let verdict = match notification {
                Notificacao::PixEnviadoLiquidado { .. } => settled(&envio.horario, &envio.valor, "envio")?,
                _ => rejected(envio.codigo.as_deref(), envio.motivo.as_deref(), "envio")?,
            };
            match crate::app::transfers::conclude(state, id, &e2eid, &verdict).await? {
                ConcludeOutcome::Unknown => Err(unknown_transfer()),
                outcome => Ok(answer(&outcome)),
            }
        }
        Notificacao::PixEnviadoDevolvido { devolucao, .. } => {
            let r = returned(devolucao)?;
            match crate::app::transfers::record_return(state, id, &r).await? {
                ConcludeOutcome::Unknown => Err(unknown_transfer()),
                outcome => Ok(answer(&outcome)),
            }
        }
        other => {
            super::rail_rec::apply(state, other).await?;
            Ok(answer(&ConcludeOutcome::Applied))
        }
    }
}
