//! Use cases of Pix Automático: recurrences (create, read, list, cancel), confirmation
//! requests (create and send, read, cancel), recurring charges (create and send, read,
//! list, cancel, retry), what the payer's bank reports about them, and the sweep that
//! resends what the rail never acknowledged and ends what time ends.
//!
//! A message to the payer's bank whose outcome is unknown is not guessed: the request or
//! attempt stays as it was (`CRIADA`, `SOLICITADA`) and the sweep sends it again (the
//! rail takes each once, by its id) until the payer's bank acknowledges it.

use super::AppState;
use crate::domain::cobv::calendar::brasilia_date;
use crate::domain::document::Document;
use crate::domain::ids::{EndToEndId, Txid};
use crate::domain::merchant::{Merchant, MerchantId};
use crate::domain::rec::recurrence::Destinatario;
use crate::domain::rec::{
    Attempt, AttemptKind, AttemptStatus, CobRStatus, CobRTerms, Encerramento, IdRec, IdSolicRec, Jornada, Payer,
    RecLoc, RecStatus, RecTerms, RecValue, Recurrence, RecurringCharge, SolicRec, SolicRecStatus, Solicitante, Update,
    Violation,
};
use crate::ports::{
    AttemptApplied, AttemptOutcome, CobRInsert, CobRQuery, Page, RecDecided, RecDecision, RecQuery, StoreError,
};
use crate::rail::protocol as wire;
use chrono::{DateTime, NaiveDate, Utc};

/// Why a Pix Automático use case did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum RecError {
    #[error("the request breaks the rules")]
    Invalid(Vec<Violation>),
    #[error("not found")]
    NotFound,
    /// The payer's bank could not be reached: nothing changed here (ask again).
    #[error("the payer's bank is unreachable")]
    RailUnavailable(#[source] crate::ports::RailError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(field: &'static str, why: &'static str) -> RecError {
    RecError::Invalid(vec![(field, why)])
}

fn now_and_today(state: &AppState) -> (DateTime<Utc>, NaiveDate) {
    let now = state.clock.now();
    (now, brasilia_date(now))
}

/// The receiver a recurrence shows: a company (CNPJ) with its registered details.
pub async fn receiver_cnpj(state: &AppState, merchant: &Merchant, field: &'static str) -> Result<String, RecError> {
    match state.merchants.receiver(merchant.id).await? {
        Some(r) => match r.documento {
            Document::Cnpj(c) => Ok(c.as_str().to_owned()),
            Document::Cpf(_) => {
                Err(invalid(field, "Pix Automático receivers are companies: the registered document is a CPF"))
            }
        },
        None => Err(invalid(
            field,
            "the receiver's document and address are not registered yet (tucano merchants receiver)",
        )),
    }
}

/// `POST /rec`: at the merchant's location `loc` when given (journeys 2 to 4), activated by
/// paying the immediate charge `txid` when given (journey 3). Answers the recurrence and the
/// receiver's CNPJ it shows (read before the write).
pub async fn create_rec(
    state: &AppState,
    merchant: &Merchant,
    terms: RecTerms,
    loc: Option<i64>,
    txid: Option<crate::domain::ids::Txid>,
) -> Result<(Recurrence, String), RecError> {
    let (now, today) = now_and_today(state);
    let cnpj = receiver_cnpj(state, merchant, "rec.recebedor").await?;
    let violations = terms.violations(today);
    if !violations.is_empty() {
        return Err(RecError::Invalid(violations));
    }
    // The location as it will be served, read before the write (see below).
    let location = match loc {
        Some(id) => state.recurrences.find_location(merchant.id, id).await?,
        None => None,
    };
    let rec = Recurrence {
        id_rec: IdRec::generate(terms.politica, &state.config.ispb, today),
        status: RecStatus::Criada,
        terms,
        loc: None,
        jornada_txid: txid,
        jornada: Jornada::AguardandoDefinicao,
        pagador: None,
        encerramento: None,
        atualizacao: vec![Update { status: RecStatus::Criada, data: now }],
    };
    if !state.recurrences.insert_rec(merchant.id, &rec, loc).await? {
        return Err(invalid("rec.loc", "no location of this receiver with this id is free for a recurrence"));
    }
    // Created: a read that fails now must not answer 5xx, which frees the request's
    // Idempotency-Key, and its retry would create a second recurrence. What was written
    // is answered instead.
    let rec = match get_rec(state, merchant, &rec.id_rec).await {
        Err(RecError::Store(e)) => {
            tracing::warn!(error = %e, "a new recurrence could not be read back; answered as written");
            let loc = location.map(|l| RecLoc { id_rec: Some(rec.id_rec.clone()), ..l });
            Recurrence { loc, ..rec }
        }
        read => read?,
    };
    Ok((rec, cnpj))
}

pub async fn get_rec(state: &AppState, merchant: &Merchant, id: &IdRec) -> Result<Recurrence, RecError> {
    state.recurrences.find_rec(merchant.id, id).await?.ok_or(RecError::NotFound)
}

pub async fn list_recs(state: &AppState, merchant: &Merchant, q: &RecQuery) -> Result<Page<Recurrence>, RecError> {
    Ok(state.recurrences.list_recs(merchant.id, q).await?)
}

/// The receiver's cancellation code and who asked, as the rail carries them.
fn receiver_cancels() -> wire::Cancelamento {
    wire::Cancelamento { solicitante: Solicitante::UsuarioRecebedor.as_str().into(), codigo: "SLCR".into() }
}

/// `PATCH /rec/{idRec}` with `status: CANCELADA`: the receiver cancels. The payer's bank is
/// told first (an authorised recurrence ends there with its scheduled attempts; an open
/// request is withdrawn, and if the payer accepted it meanwhile, the authorisation is
/// cancelled too); if it cannot be reached, nothing changes here and the caller asks again.
pub async fn cancel_rec(state: &AppState, merchant: &Merchant, id: &IdRec) -> Result<Recurrence, RecError> {
    let (now, _) = now_and_today(state);
    let current = get_rec(state, merchant, id).await?;
    if current.status.is_final() {
        return Err(invalid("rec.status", "the recurrence is already EXPIRADA, REJEITADA or CANCELADA"));
    }
    let rail = state.rail.as_ref();
    let unavailable = RecError::RailUnavailable;
    if let Some(open) = state.recurrences.open_solicitation(merchant.id, id).await? {
        rail.cancel_solicitation(open.as_str()).await.map_err(unavailable)?;
    }
    // The authorisation first, always, whatever was read before (an approval may have
    // crossed the withdrawal; a recurrence the bank does not hold answers "unknown"): the
    // bank ends its scheduled attempts with it.
    rail.cancel_recurrence(id.as_str(), &receiver_cancels()).await.map_err(unavailable)?;
    // Then each attempt, to learn which the bank has debited or may still debit: those
    // keep their charge open for the Pix on its way.
    let mut settled = vec![];
    for e2eid in state.recurrences.open_attempts_of(Some(merchant.id), id).await? {
        if may_be_debited(&rail.cancel_attempt(e2eid.as_str()).await.map_err(unavailable)?) {
            settled.push(e2eid);
        }
    }
    let ending = Encerramento::cancelamento(Solicitante::UsuarioRecebedor, "SLCR");
    let decision = RecDecision::Cancelled(ending, settled);
    let decided = state.recurrences.decide_rec(Some(merchant.id), id, None, decision, now).await?;
    match decided {
        RecDecided::Applied { rec, .. } => Ok(rec),
        RecDecided::NotApplicable { .. } => {
            Err(invalid("rec.status", "the recurrence is already EXPIRADA, REJEITADA or CANCELADA"))
        }
        RecDecided::NotFound => Err(RecError::NotFound),
    }
}

/// Whether an attempt the payer's bank was asked to cancel may yet bring its Pix: paid
/// there, or still scheduled (too late to withdraw). Only a cancellation, a refusal, an
/// expiry or a bank that never had it say no.
fn may_be_debited(answer: &crate::ports::RailCancel) -> bool {
    match answer {
        crate::ports::RailCancel::Cancelled | crate::ports::RailCancel::Unknown => false,
        crate::ports::RailCancel::AlreadyEnded(s) => !matches!(s.as_str(), "REJEITADA" | "EXPIRADA"),
    }
}

/// `PATCH /rec/{idRec}` with changes: the debtor's name, its location and first day (while
/// `CRIADA`), the charge that activates it.
pub async fn revise_rec(
    state: &AppState,
    merchant: &Merchant,
    id: &IdRec,
    revision: &crate::domain::rec::RecRevision,
) -> Result<Recurrence, RecError> {
    let current = get_rec(state, merchant, id).await?;
    let violations = revision.violations(&current);
    if !violations.is_empty() {
        return Err(RecError::Invalid(violations));
    }
    match state.recurrences.revise_rec(merchant.id, id, revision).await? {
        crate::ports::RecRevised::Revised => get_rec(state, merchant, id).await,
        crate::ports::RecRevised::NotFound => Err(RecError::NotFound),
        crate::ports::RecRevised::Ended => {
            Err(invalid("rec.status", "the recurrence changed meanwhile; read it again"))
        }
        crate::ports::RecRevised::LocationUnavailable => {
            Err(invalid("rec.loc", "no location of this receiver with this id is free for a recurrence"))
        }
    }
}

/// The message a confirmation request travels as.
async fn solicitation_message(
    state: &AppState,
    merchant: &Merchant,
    s: &SolicRec,
    rec: &Recurrence,
) -> Result<wire::SolicitacaoRec, RecError> {
    let t = &rec.terms;
    let (valor_rec, valor_minimo_recebedor) = match t.valor {
        RecValue::Fixed(v) => (Some(v.to_string()), None),
        RecValue::Minimum(m) => (None, Some(m.to_string())),
        RecValue::Free => (None, None),
    };
    let doc = |d: &Document| match d {
        Document::Cpf(c) => (Some(c.as_str().to_owned()), None),
        Document::Cnpj(c) => (None, Some(c.as_str().to_owned())),
    };
    let (devedor_cpf, devedor_cnpj) = doc(&t.devedor.documento);
    let (cpf, cnpj) = doc(&s.destinatario.documento);
    Ok(wire::SolicitacaoRec {
        id_solic_rec: s.id_solic_rec.as_str().to_owned(),
        id_rec: rec.id_rec.as_str().to_owned(),
        recebedor: wire::RecebedorRec {
            cnpj: receiver_cnpj(state, merchant, "rec.recebedor").await?,
            nome: merchant.name.clone(),
            ispb_participante: state.config.ispb.clone(),
        },
        vinculo: wire::VinculoRec {
            objeto: t.objeto.clone(),
            contrato: t.contrato.clone(),
            devedor: wire::Pagador { cpf: devedor_cpf, cnpj: devedor_cnpj, nome: Some(t.devedor.nome.clone()) },
        },
        calendario: wire::CalendarioRec {
            data_inicial: t.data_inicial,
            data_final: t.data_final,
            periodicidade: t.periodicidade.as_str().to_owned(),
        },
        valor_rec,
        valor_minimo_recebedor,
        politica_retentativa: t.politica.as_str().to_owned(),
        destinatario: wire::DestinatarioRec {
            ispb_participante: s.destinatario.ispb.clone(),
            agencia: s.destinatario.agencia.clone(),
            conta: s.destinatario.conta.clone(),
            cpf,
            cnpj,
        },
        data_expiracao_solicitacao: s.data_expiracao.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
}

/// Sends a request; on the rail's acknowledgement it becomes `ENVIADA`.
async fn send_solicitation(
    state: &AppState,
    merchant: &Merchant,
    s: &SolicRec,
    rec: &Recurrence,
) -> Result<(), RecError> {
    let message = solicitation_message(state, merchant, s, rec).await?;
    deliver_solicitation(state, merchant, &s.id_solic_rec, &message).await.map(|_| ())
}

/// Hands a confirmation request to the rail and records it ENVIADA (answers when); one the
/// rail does not take stays CRIADA, for the sweep to resend.
async fn deliver_solicitation(
    state: &AppState,
    merchant: &Merchant,
    id: &IdSolicRec,
    message: &wire::SolicitacaoRec,
) -> Result<Option<DateTime<Utc>>, RecError> {
    match state.rail.send_solicitation(message).await {
        Ok(()) => {
            let (now, _) = now_and_today(state);
            state.recurrences.move_solicitation(Some(merchant.id), id, SolicRecStatus::Enviada, now).await?;
            Ok(Some(now))
        }
        Err(e) => {
            tracing::warn!(error = %e, "a confirmation request stays CRIADA until the rail takes it");
            Ok(None)
        }
    }
}

/// `POST /solicrec`.
pub async fn create_solicitation(
    state: &AppState,
    merchant: &Merchant,
    id_rec: &IdRec,
    data_expiracao: DateTime<Utc>,
    destinatario: Destinatario,
) -> Result<SolicRec, RecError> {
    let (now, today) = now_and_today(state);
    let rec = state
        .recurrences
        .find_rec(merchant.id, id_rec)
        .await?
        .ok_or_else(|| invalid("solicrec.idRec", "no recurrence of this receiver has this idRec"))?;
    let violations = crate::domain::rec::recurrence::solicitation_violations(&rec, data_expiracao, now);
    if !violations.is_empty() {
        return Err(RecError::Invalid(violations));
    }
    let s = SolicRec {
        id_solic_rec: IdSolicRec::generate(&state.config.ispb, today),
        id_rec: rec.id_rec.clone(),
        status: SolicRecStatus::Criada,
        data_expiracao,
        destinatario,
        atualizacao: vec![Update { status: SolicRecStatus::Criada, data: now }],
    };
    // Built before the write, so a request that cannot be sent (the receiver's registration)
    // is refused having changed nothing.
    let message = solicitation_message(state, merchant, &s, &rec).await?;
    if !state.recurrences.insert_solicitation(merchant.id, &s).await? {
        return Err(invalid("solicrec.idRec", "the recurrence already has an open confirmation request"));
    }
    // Created: from here a failure must not answer 5xx (the Idempotency-Key would be freed
    // and the retry refused, the request being open); the sweep resends one not sent.
    let sent = match deliver_solicitation(state, merchant, &s.id_solic_rec, &message).await {
        Ok(sent) => sent,
        Err(e) => {
            tracing::warn!(error = %e, "a new confirmation request was not recorded as sent; the sweep resends it");
            None
        }
    };
    match get_solicitation(state, merchant, &s.id_solic_rec).await {
        Err(RecError::Store(e)) => {
            tracing::warn!(error = %e, "a new confirmation request could not be read back; answered as written");
            let mut s = s;
            if let Some(at) = sent {
                s.status = SolicRecStatus::Enviada;
                s.atualizacao.push(Update { status: SolicRecStatus::Enviada, data: at });
            }
            Ok(s)
        }
        read => read,
    }
}

pub async fn get_solicitation(state: &AppState, merchant: &Merchant, id: &IdSolicRec) -> Result<SolicRec, RecError> {
    let found = state.recurrences.find_solicitation(Some(merchant.id), id).await?;
    found.map(|(_, s, _)| s).ok_or(RecError::NotFound)
}

/// `PATCH /solicrec/{idSolicRec}` with `status: CANCELADA`: withdrawn at the payer's bank
/// first; refused if the payer answered meanwhile (the answer is on its way).
pub async fn cancel_solicitation(state: &AppState, merchant: &Merchant, id: &IdSolicRec) -> Result<SolicRec, RecError> {
    let current = get_solicitation(state, merchant, id).await?;
    if !current.status.is_open() {
        return Err(invalid("solicrec.status", "only a CRIADA, ENVIADA or RECEBIDA request can be cancelled"));
    }
    match state.rail.cancel_solicitation(id.as_str()).await.map_err(RecError::RailUnavailable)? {
        crate::ports::RailCancel::Cancelled | crate::ports::RailCancel::Unknown => {}
        crate::ports::RailCancel::AlreadyEnded(_) => {
            return Err(invalid("solicrec.status", "the payer answered the request meanwhile"))
        }
    }
    let (now, _) = now_and_today(state);
    let after = state
        .recurrences
        .move_solicitation(Some(merchant.id), id, SolicRecStatus::Cancelada, now)
        .await?
        .ok_or(RecError::NotFound)?;
    if after.status != SolicRecStatus::Cancelada {
        return Err(invalid("solicrec.status", "the payer answered the request meanwhile"));
    }
    Ok(after)
}

/// The message an attempt travels as.
fn attempt_message(merchant: &Merchant, charge: &RecurringCharge, a: &Attempt) -> Option<wire::AgendamentoCobR> {
    Some(wire::AgendamentoCobR {
        end_to_end_id: a.end_to_end_id.as_str().to_owned(),
        id_rec: charge.terms.id_rec.as_str().to_owned(),
        txid: charge.txid.as_str().to_owned(),
        valor: charge.terms.valor.to_string(),
        data_liquidacao: a.data_liquidacao,
        tipo: a.tipo.as_str().to_owned(),
        chave: merchant.pix_keys.first()?.clone(),
        info_adicional: charge.terms.info_adicional.clone(),
    })
}

/// Sends an attempt to the payer's bank; it stays `SOLICITADA` until the bank schedules it.
async fn send_attempt(state: &AppState, merchant: &Merchant, charge: &RecurringCharge, a: &Attempt) {
    let Some(message) = attempt_message(merchant, charge, a) else {
        tracing::warn!("a merchant without a Pix key cannot be credited a recurring charge");
        return;
    };
    if let Err(e) = state.rail.send_attempt(&message).await {
        tracing::warn!(error = %e, "an attempt stays SOLICITADA until the rail takes it");
    }
}

fn new_attempt(state: &AppState, day: NaiveDate, tipo: AttemptKind, now: DateTime<Utc>) -> Attempt {
    Attempt {
        end_to_end_id: EndToEndId::generate(&state.config.ispb, now),
        data_liquidacao: day,
        tipo,
        status: AttemptStatus::Solicitada,
        rejeicao: None,
        atualizacao: vec![Update { status: AttemptStatus::Solicitada, data: now }],
    }
}

/// `PUT /cobr/{txid}` and `POST /cobr`: create, and send its first attempt to the payer's
/// bank. The same request again answers the same charge (`false`: not created now).
pub async fn create_charge(
    state: &AppState,
    merchant: &Merchant,
    txid: Txid,
    terms: CobRTerms,
    request_hash: [u8; 32],
) -> Result<(RecurringCharge, bool), RecError> {
    let (now, today) = now_and_today(state);
    let rec = state
        .recurrences
        .find_rec(merchant.id, &terms.id_rec)
        .await?
        .ok_or_else(|| invalid("cobr.idRec", "no recurrence of this receiver has this idRec"))?;
    let account = state.merchants.account_number(merchant.id).await?;
    let mut violations = terms.violations(&rec, today);
    if account.map(|a| a.to_string()).as_deref() != Some(terms.recebedor.conta.as_str())
        || terms.recebedor.agencia.as_deref().is_some_and(|a| a != crate::domain::rec::charge::AGENCIA)
    {
        violations.push(("cobr.recebedor.conta", "is not this receiver's account here"));
    }
    if !violations.is_empty() {
        return Err(RecError::Invalid(violations));
    }
    let t = &rec.terms;
    let ciclo = t
        .periodicidade
        .cycle_of(t.data_inicial, terms.data_vencimento)
        .ok_or_else(|| invalid("cobr.calendario.dataDeVencimento", "is outside the recurrence's calendar"))?;
    let first = new_attempt(state, terms.settlement(), AttemptKind::Agnd, now);
    let charge = RecurringCharge {
        txid,
        politica: t.politica,
        terms,
        status: CobRStatus::Criada,
        criacao: today,
        attempts: vec![first],
        encerramento: None,
        atualizacao: vec![Update { status: CobRStatus::Criada, data: now }],
    };
    match state.recurrences.insert_charge(merchant.id, &charge, ciclo, &request_hash).await? {
        CobRInsert::Created(created) => {
            if let Some(a) = created.attempts.first() {
                send_attempt(state, merchant, &created, a).await;
            }
            let after = state.recurrences.find_charge(merchant.id, &created.txid).await?;
            Ok((after.unwrap_or(created), true))
        }
        CobRInsert::Exists(existing) => Ok((existing, false)),
        CobRInsert::TxidTaken => Err(invalid("cobr.txid", "is already used by another charge of this receiver")),
        CobRInsert::NotApproved => Err(invalid("cobr.idRec", "the recurrence is not APROVADA")),
        CobRInsert::CycleTaken => {
            Err(invalid("cobr.calendario.dataDeVencimento", "the recurrence already has a live charge in this cycle"))
        }
    }
}

pub async fn get_charge(state: &AppState, merchant: &Merchant, txid: &Txid) -> Result<RecurringCharge, RecError> {
    state.recurrences.find_charge(merchant.id, txid).await?.ok_or(RecError::NotFound)
}

pub async fn list_charges(
    state: &AppState,
    merchant: &Merchant,
    q: &CobRQuery,
) -> Result<Page<RecurringCharge>, RecError> {
    Ok(state.recurrences.list_charges(merchant.id, q).await?)
}

/// `PATCH /cobr/{txid}` with `status: CANCELADA`: only before its first settlement day,
/// and only once the payer's bank has withdrawn its open attempt (if the attempt was
/// already debited or refused there, the charge is not cancelled: that outcome is on its
/// way; if the bank cannot be reached, nothing changes and the caller asks again).
pub async fn cancel_charge(state: &AppState, merchant: &Merchant, txid: &Txid) -> Result<RecurringCharge, RecError> {
    let (now, today) = now_and_today(state);
    let charge = get_charge(state, merchant, txid).await?;
    if !charge.status.is_open() {
        return Err(invalid("cobr.status", "only a CRIADA or ATIVA charge can be cancelled"));
    }
    if today >= charge.first_settlement() {
        return Err(invalid("cobr.status", "a charge cannot be cancelled on or after its first settlement date"));
    }
    if let Some(open) = charge.attempts.iter().find(|a| a.status.is_open()) {
        let answer = state.rail.cancel_attempt(open.end_to_end_id.as_str()).await.map_err(RecError::RailUnavailable)?;
        if let crate::ports::RailCancel::AlreadyEnded(_) = answer {
            return Err(invalid("cobr.status", "the payer's bank already settled or refused its attempt"));
        }
    }
    let ending = Encerramento::cancelamento(Solicitante::UsuarioRecebedor, "SLCR");
    let (after, _) =
        state.recurrences.cancel_charge(merchant.id, txid, ending, now).await?.ok_or(RecError::NotFound)?;
    Ok(after)
}

/// `POST /cobr/{txid}/retentativa/{data}`.
pub async fn retry_charge(
    state: &AppState,
    merchant: &Merchant,
    txid: &Txid,
    data: NaiveDate,
) -> Result<RecurringCharge, RecError> {
    let (now, today) = now_and_today(state);
    let charge = get_charge(state, merchant, txid).await?;
    let violations = charge.retry_violations(data, today);
    if !violations.is_empty() {
        return Err(RecError::Invalid(violations));
    }
    let attempt = new_attempt(state, data, AttemptKind::Rifl, now);
    if !state.recurrences.add_attempt(merchant.id, txid, &attempt).await? {
        return Err(invalid("cobr.tentativas", "the charge changed meanwhile; read it again"));
    }
    send_attempt(state, merchant, &charge, &attempt).await;
    get_charge(state, merchant, txid).await
}

/// What the payer's bank reported, applied. Answers whether it named something here.
pub async fn on_solicitation_received(state: &AppState, id: &IdSolicRec) -> Result<bool, RecError> {
    let (now, _) = now_and_today(state);
    Ok(state.recurrences.move_solicitation(None, id, SolicRecStatus::Recebida, now).await?.is_some())
}

pub async fn on_decision(
    state: &AppState,
    id_rec: &IdRec,
    solicitation: Option<&IdSolicRec>,
    decision: RecDecision,
) -> Result<bool, RecError> {
    let (now, _) = now_and_today(state);
    let approval = matches!(decision, RecDecision::Approved { .. });
    match state.recurrences.decide_rec(None, id_rec, solicitation, decision, now).await? {
        RecDecided::Applied { .. } => Ok(true),
        RecDecided::NotApplicable { rec, .. } => {
            // Authorised at the payer's bank for a recurrence (or request) that ended here:
            // end it there too, so nothing is debited under it.
            if approval && rec.status != RecStatus::Aprovada {
                if let Err(e) = state.rail.cancel_recurrence(id_rec.as_str(), &receiver_cancels()).await {
                    tracing::warn!(error = %e, "an approval of an ended recurrence could not be withdrawn; the rail will repeat it");
                    return Err(RecError::RailUnavailable(e));
                }
            }
            Ok(true)
        }
        RecDecided::NotFound => Ok(false),
    }
}

/// An approval: the payer as reported.
pub fn payer_of(p: &wire::PagadorRec) -> Option<Payer> {
    let documento = match (&p.cpf, &p.cnpj) {
        (Some(c), None) => Document::Cpf(crate::domain::document::Cpf::parse(c).ok()?),
        (None, Some(c)) => Document::Cnpj(crate::domain::document::Cnpj::parse(c).ok()?),
        _ => return None,
    };
    let ispb_ok = p.ispb_participante.len() == 8
        && p.ispb_participante.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase());
    let mun_ok = p.cod_mun.as_ref().is_none_or(|m| m.len() == 7 && m.bytes().all(|b| b.is_ascii_digit()));
    (ispb_ok && mun_ok).then(|| Payer { ispb: p.ispb_participante.clone(), documento, cod_mun: p.cod_mun.clone() })
}

pub async fn on_attempt(state: &AppState, e2eid: &EndToEndId, outcome: AttemptOutcome) -> Result<bool, RecError> {
    let (now, _) = now_and_today(state);
    match state.recurrences.attempt_outcome(e2eid, outcome, now).await? {
        AttemptApplied::NotFound => Ok(false),
        // Scheduled although cancelled or expired here (the order crossed the cancellation,
        // or a resend arrived after the bank had said it had none): withdraw it there, or
        // the rail repeats the notice until it can be.
        AttemptApplied::Withdraw => {
            state.rail.cancel_attempt(e2eid.as_str()).await.map_err(RecError::RailUnavailable)?;
            Ok(true)
        }
        AttemptApplied::Applied { .. } | AttemptApplied::Unchanged => Ok(true),
    }
}

/// Where an overdue attempt stands at the payer's bank, applied: a refusal or cancellation
/// recorded; a debit's Pix looked up in the rail's statement from its day and booked (as a
/// lost notification would have been); one the bank never got expires if it was never
/// acknowledged. Answers whether anything moved.
async fn settle_overdue(state: &AppState, e2eid: &EndToEndId, now: DateTime<Utc>) -> Result<bool, RecError> {
    use crate::ports::AttemptAtBank;
    let outcome = match state.rail.attempt_status(e2eid.as_str()).await.map_err(RecError::RailUnavailable)? {
        AttemptAtBank::Rejected(codigo) => AttemptOutcome::Rejected { codigo },
        AttemptAtBank::Cancelled => {
            AttemptOutcome::Cancelled(Encerramento::cancelamento(Solicitante::PspPagador, "CCLD"))
        }
        AttemptAtBank::Unknown => AttemptOutcome::NeverReceived,
        AttemptAtBank::Scheduled => return Ok(false),
        AttemptAtBank::Paid => return book_debit_from_statement(state, e2eid, now).await,
    };
    Ok(matches!(state.recurrences.attempt_outcome(e2eid, outcome, now).await?, AttemptApplied::Applied { .. }))
}

/// A debit the payer's bank made whose attempt is still open here: its Pix from the rail's
/// statement (read back to the attempt's creation, which its end-to-end id carries, a day
/// earlier for clocks; 400 days when the id does not say), booked once. A Pix booked that
/// did not conclude the charge (now or before: another amount, a divergent report) leaves
/// the attempt paid all the same, or every pass would ask the bank about it again.
async fn book_debit_from_statement(state: &AppState, e2eid: &EndToEndId, now: DateTime<Utc>) -> Result<bool, RecError> {
    let longest = now - chrono::Duration::days(400);
    let since = e2eid.minted_at().map_or(longest, |t| (t - chrono::Duration::days(1)).max(longest));
    let statement = state.rail.received_since(since).await.map_err(RecError::RailUnavailable)?;
    let Some(pix) = statement.iter().find(|p| &p.end_to_end_id == e2eid) else { return Ok(false) };
    let notification = format!("statement-{}", e2eid.as_str());
    let booked = match crate::app::payments::receive_pix(state, &notification, pix).await {
        Ok(crate::ports::RecordOutcome::Recorded { alert: None, .. }) => return Ok(true),
        Ok(outcome) => outcome,
        Err(crate::app::payments::PaymentError::Store(e)) => return Err(e.into()),
        Err(e) => {
            tracing::warn!(error = %e, "a debit from the rail's statement could not be booked");
            return Ok(false);
        }
    };
    let applied = state.recurrences.attempt_outcome(e2eid, AttemptOutcome::DebitedApart, now).await?;
    Ok(matches!(booked, crate::ports::RecordOutcome::Recorded { .. })
        || matches!(applied, AttemptApplied::Applied { .. }))
}

/// One pass of the sweep: ends what time ended, and resends requests and attempts the
/// rail never acknowledged. Answers how many things it moved or sent.
/// The merchant an item of the sweep is for; a fault reading it is logged and the item
/// left for the next pass (the others go on).
async fn merchant_of(state: &AppState, owner: MerchantId) -> Option<Merchant> {
    match state.merchants.by_id(owner).await {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(error = %e, "a sweep item's merchant could not be read; next pass");
            None
        }
    }
}

pub async fn sweep(state: &AppState) -> Result<u64, RecError> {
    let (now, today) = now_and_today(state);
    let mut moved = match state.recurrences.expire(now, today).await {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "expiring Pix Automático records failed; resending all the same");
            0
        }
    };
    // Each item on its own: one that fails (a merchant's registration, the rail) is logged
    // and retried next pass, without holding the others back.
    for (owner, s, rec) in state.recurrences.unsent_solicitations(100).await? {
        let Some(merchant) = merchant_of(state, owner).await else { continue };
        match send_solicitation(state, &merchant, &s, &rec).await {
            Ok(()) => moved += 1,
            Err(e) => tracing::warn!(error = %e, "a confirmation request could not be resent"),
        }
    }
    // Attempts due by today whose outcome never arrived: asked of the payer's bank.
    match state.recurrences.overdue_attempts(today, 100).await {
        Ok(due) => {
            for e2eid in due {
                match settle_overdue(state, &e2eid, now).await {
                    Ok(true) => moved += 1,
                    Ok(false) => {}
                    Err(e) => tracing::warn!(error = %e, "an overdue attempt could not be settled; next pass"),
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "reading overdue attempts failed"),
    }
    for (owner, charge, a) in state.recurrences.unsent_attempts(today, 100).await? {
        let Some(merchant) = merchant_of(state, owner).await else { continue };
        send_attempt(state, &merchant, &charge, &a).await;
        moved += 1;
    }
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::may_be_debited;
    use crate::ports::RailCancel;

    #[test]
    fn a_recurrence_cancelled_keeps_open_the_charges_whose_attempt_the_bank_paid_or_still_holds() {
        let ended = |s: &str| RailCancel::AlreadyEnded(s.to_owned());
        assert!(may_be_debited(&ended("PAGA")));
        assert!(may_be_debited(&ended("AGENDADA")), "too late to withdraw: it will be debited");
        for no in [RailCancel::Cancelled, RailCancel::Unknown, ended("REJEITADA"), ended("EXPIRADA")] {
            assert!(!may_be_debited(&no), "{no:?}");
        }
    }
}
