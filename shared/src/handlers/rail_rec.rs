//! The rail's Pix Automático notifications: what the payer's bank did with a
//! confirmation request, a recurrence or a recurring charge's attempt. Each is applied
//! through the status machines, so a repeated notification changes nothing; one that
//! names nothing here answers 404 (the rail retries: the state may catch up).

use crate::app::recurrences::{self, RecError};
use crate::app::AppState;
use crate::domain::ids::EndToEndId;
use crate::domain::rec::charge::{is_attempt_rejection_code, is_charge_cancellation_code};
use crate::domain::rec::recurrence::{is_rec_cancellation_code, is_rec_rejection_code};
use crate::domain::rec::{Encerramento, IdRec, IdSolicRec, Jornada, Solicitante};
use crate::http::problem::{ApiError, ProblemKind};
use crate::ports::{AttemptOutcome, RecDecision};
use crate::rail::protocol::{Cancelamento, Notificacao};

const DETAIL: &str = "The notification does not follow the rail protocol.";

fn bad() -> ApiError {
    ApiError::new(ProblemKind::RequisicaoInvalida, DETAIL)
}

fn map(e: RecError) -> ApiError {
    match e {
        RecError::Store(s) => s.into(),
        // Not applied: the rail repeats the notification.
        RecError::RailUnavailable(e) => ApiError::unavailable(anyhow::Error::new(e).context("the payer's bank")),
        _ => bad(),
    }
}

fn found(applied: bool, what: &str) -> Result<(), ApiError> {
    if applied {
        Ok(())
    } else {
        Err(ApiError::new(ProblemKind::NaoEncontrado, format!("No {what} with this id.")))
    }
}

fn solicitation(id: Option<&String>) -> Result<Option<IdSolicRec>, ApiError> {
    id.map(|s| IdSolicRec::parse(s).ok_or_else(bad)).transpose()
}

fn ending(c: &Cancelamento, code_ok: fn(&str) -> bool) -> Result<Encerramento, ApiError> {
    let solicitante = Solicitante::parse(&c.solicitante).ok_or_else(bad)?;
    if !code_ok(&c.codigo) {
        return Err(bad());
    }
    Ok(Encerramento::cancelamento(solicitante, &c.codigo))
}

/// Applies a Pix Automático notification (any other kind is not for this module).
pub async fn apply(state: &AppState, n: &Notificacao) -> Result<(), ApiError> {
    match n {
        Notificacao::SolicRecRecebida { id_solic_rec, .. } => {
            let id = IdSolicRec::parse(id_solic_rec).ok_or_else(bad)?;
            found(recurrences::on_solicitation_received(state, &id).await.map_err(map)?, "confirmation request")
        }
        Notificacao::RecAprovada { aprovacao: a, .. } => {
            let id = IdRec::parse(&a.id_rec).ok_or_else(bad)?;
            let jornada = Jornada::parse(&a.tipo_jornada).filter(|j| *j != Jornada::AguardandoDefinicao);
            let decision = RecDecision::Approved {
                jornada: jornada.ok_or_else(bad)?,
                payer: recurrences::payer_of(&a.pagador).ok_or_else(bad)?,
            };
            let solic = solicitation(a.id_solic_rec.as_ref())?;
            found(recurrences::on_decision(state, &id, solic.as_ref(), decision).await.map_err(map)?, "recurrence")
        }
        Notificacao::RecRejeitada { rejeicao: r, .. } => {
            let id = IdRec::parse(&r.id_rec).ok_or_else(bad)?;
            if !is_rec_rejection_code(&r.codigo) {
                return Err(bad());
            }
            let solic = solicitation(r.id_solic_rec.as_ref())?;
            let decision = RecDecision::Rejected { codigo: r.codigo.clone() };
            found(recurrences::on_decision(state, &id, solic.as_ref(), decision).await.map_err(map)?, "recurrence")
        }
        Notificacao::RecCancelada { id_rec, cancelamento, tentativas_canceladas, .. } => {
            let id = IdRec::parse(id_rec).ok_or_else(bad)?;
            // The attempts the payer's bank did not end (it debited them) keep their charges.
            let keep = match tentativas_canceladas {
                Some(ended) => state
                    .recurrences
                    .open_attempts_of(None, &id)
                    .await?
                    .into_iter()
                    .filter(|e| !ended.iter().any(|x| x == e.as_str()))
                    .collect(),
                None => vec![],
            };
            let decision = RecDecision::Cancelled(ending(cancelamento, is_rec_cancellation_code)?, keep);
            found(recurrences::on_decision(state, &id, None, decision).await.map_err(map)?, "recurrence")
        }
        Notificacao::CobRAgendada { end_to_end_id, .. } => {
            let e2eid = EndToEndId::parse(end_to_end_id).map_err(|_| bad())?;
            found(recurrences::on_attempt(state, &e2eid, AttemptOutcome::Scheduled).await.map_err(map)?, "attempt")
        }
        Notificacao::CobRTentativaRejeitada { end_to_end_id, codigo, .. } => {
            let e2eid = EndToEndId::parse(end_to_end_id).map_err(|_| bad())?;
            if !is_attempt_rejection_code(codigo) {
                return Err(bad());
            }
            let outcome = AttemptOutcome::Rejected { codigo: codigo.clone() };
            found(recurrences::on_attempt(state, &e2eid, outcome).await.map_err(map)?, "attempt")
        }
        Notificacao::CobRCancelada { end_to_end_id, cancelamento, .. } => {
            let e2eid = EndToEndId::parse(end_to_end_id).map_err(|_| bad())?;
            let outcome = AttemptOutcome::Cancelled(ending(cancelamento, is_charge_cancellation_code)?);
            found(recurrences::on_attempt(state, &e2eid, outcome).await.map_err(map)?, "attempt")
        }
        _ => Err(bad()),
    }
}
