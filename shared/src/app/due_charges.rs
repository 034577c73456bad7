//! Use cases of charges with a due date (`cobv`): create (PUT with the merchant's txid),
//! revise, read one (optionally at a revision), list, and what a payload location serves
//! for a payment date.

use super::AppState;
use crate::domain::charge::ChargeStatus;
use crate::domain::cobv::{calendar, AmountDue, DueCharge, DuePatch, DueRevisionError, DueTerms, Violation};
use crate::domain::ids::{LocationToken, Txid};
use crate::domain::merchant::{Merchant, Recebedor};
use crate::domain::payload_location::TipoCob;
use crate::ports::{
    ChargeLocation, ChargeQuery, Clock, CreateOutcome, DueChargeStore, LoteStore, MerchantStore, NewDueCharge, Page,
    ReviseOutcome, StoreError,
};
use chrono::{DateTime, NaiveDate, Utc};

/// The ports the cobv use cases run with.
pub trait DueChargePorts {
    fn due_charges(&self) -> &dyn DueChargeStore;
    fn merchants(&self) -> &dyn MerchantStore;
    fn clock(&self) -> &dyn Clock;
    fn location_base(&self) -> &str;
    fn lotes(&self) -> &dyn LoteStore;
}

impl DueChargePorts for AppState {
    fn due_charges(&self) -> &dyn DueChargeStore {
        self.due_charges.as_ref()
    }
    fn merchants(&self) -> &dyn MerchantStore {
        self.merchants.as_ref()
    }
    fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }
    fn location_base(&self) -> &str {
        &self.config.location_base
    }
    fn lotes(&self) -> &dyn LoteStore {
        self.lotes.as_ref()
    }
}

/// Why a cobv use case did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum DueChargeError {
    #[error("the Pix key does not belong to this receiver")]
    KeyNotOwned,
    /// The merchant's registration lacks what a cobv shows of its receiver.
    #[error("the receiver's document and address are not registered")]
    ReceiverMissing,
    #[error("the txid is already used by another charge")]
    TxidInUse,
    #[error("the location cannot serve this charge")]
    LocationUnavailable,
    #[error("the terms break the charge rules")]
    Invalid(Vec<Violation>),
    #[error("charge not found")]
    NotFound,
    /// A batch holds the txid, its creation or revision pending or denied: the batch
    /// decides it (Bacen's CobVOperacaoInvalida for `PUT|PATCH /cobv/{txid}`).
    #[error("the charge belongs to a batch that has not settled it")]
    HeldByBatch,
    #[error(transparent)]
    Revision(#[from] crate::domain::charge::RevisionError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A cobv and the receiver it shows.
pub struct WithReceiver {
    pub charge: DueCharge,
    pub receiver: Recebedor,
}

async fn receiver(ports: &impl DueChargePorts, merchant: &Merchant) -> Result<Recebedor, DueChargeError> {
    ports.merchants().receiver(merchant.id).await?.ok_or(DueChargeError::ReceiverMissing)
}

/// Who asks for a cobv's creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The merchant's own `PUT /cobv/{txid}`.
    Merchant,
    /// The worker, for an item of this batch (`/lotecobv`).
    Batch(i64),
}

/// `PUT /cobv/{txid}`: create, at the merchant's location `loc` when the request names one.
/// The same PUT again returns the same charge. Other content for an existing charge makes it
/// what the request says (its whole creation request) where the origin may alter it: a
/// merchant's PUT one still ATIVA, as the spec's PUT does (only one no longer ATIVA is
/// refused); a batch one it made itself (a correction of a creation the worker had made but
/// not yet recorded), never one made outside it.
pub async fn create(
    ports: &impl DueChargePorts,
    merchant: &Merchant,
    txid: Txid,
    terms: &DueTerms,
    loc: Option<i64>,
    origin: Origin,
) -> Result<(WithReceiver, bool), DueChargeError> {
    let fingerprint = terms.fingerprint_at(loc);
    let violations = terms.violations(calendar::brasilia_date(ports.clock().now()));
    let refusal = if !merchant.owns_key(terms.chave.as_str()) {
        Some(DueChargeError::KeyNotOwned)
    } else {
        (!violations.is_empty()).then_some(DueChargeError::Invalid(violations))
    };
    if let Some(refusal) = refusal {
        // A replay of the PUT that created the charge, never revised since (the client's
        // retry, or the batch worker's after a crash before it recorded the outcome) answers
        // that charge, though today's rules would refuse the request now: its due date has
        // passed since, or the merchant has dropped the key.
        if let Some(charge) = ports.due_charges().created_by(merchant.id, &txid, fingerprint).await? {
            if answers_to(ports, merchant, &txid, origin).await? {
                return Ok((WithReceiver { charge, receiver: receiver(ports, merchant).await? }, false));
            }
        }
        // An alteration is judged as a revision is (a due date it restates is not judged
        // again once past).
        if matches!(refusal, DueChargeError::Invalid(_)) {
            if let Some(current) = ports.due_charges().find(merchant.id, &txid, None).await? {
                if alterable(&current, origin) && answers_to(ports, merchant, &txid, origin).await? {
                    return Ok((replace(ports, merchant, &current, terms, loc).await?, false));
                }
            }
        }
        return Err(refusal);
    }
    let receiver = receiver(ports, merchant).await?;
    let location = match loc {
        Some(id) => ChargeLocation::Existing(id),
        None => ChargeLocation::New(super::locations::fresh(ports.location_base(), merchant, TipoCob::Cobv)?),
    };
    let lote = match origin {
        Origin::Merchant => None,
        Origin::Batch(id) => Some(id),
    };
    let new = NewDueCharge { txid: &txid, terms, fingerprint, location, lote };
    let (charge, created) = match ports.due_charges().create(merchant.id, new).await? {
        CreateOutcome::Created(charge) => (charge, true),
        CreateOutcome::Exists { .. } if !answers_to(ports, merchant, &txid, origin).await? => {
            return Err(DueChargeError::TxidInUse)
        }
        // The same request, and the charge never revised since: a replay. Revised since,
        // the request asks for the charge to be what it says again.
        CreateOutcome::Exists { charge, same_request: true } if charge.revisao == 0 => (charge, false),
        CreateOutcome::Exists { charge, .. } if alterable(&charge, origin) => {
            return Ok((replace(ports, merchant, &charge, terms, loc).await?, false));
        }
        CreateOutcome::Exists { .. } | CreateOutcome::TxidTaken => return Err(DueChargeError::TxidInUse),
        CreateOutcome::LocationUnavailable => return Err(DueChargeError::LocationUnavailable),
    };
    Ok((WithReceiver { charge, receiver }, created))
}

/// Whether a creation request from `origin` may answer for the existing charge `txid` (a
/// replay) or make it what it says: a merchant's PUT any of its charges; a batch only one
/// it made (one made outside it, though with the same request, is not its to claim).
async fn answers_to(
    ports: &impl DueChargePorts,
    merchant: &Merchant,
    txid: &Txid,
    origin: Origin,
) -> Result<bool, DueChargeError> {
    Ok(match origin {
        Origin::Merchant => true,
        Origin::Batch(id) => ports.due_charges().made_by_batch(merchant.id, txid, id).await?,
    })
}

/// Whether a creation request from `origin` may alter the charge `current` it answers to: a
/// merchant's PUT one still ATIVA (the spec's PUT violation is one no longer ATIVA); a batch
/// goes on to the revision, which is left alone when identical and refused otherwise.
fn alterable(current: &DueCharge, origin: Origin) -> bool {
    matches!(origin, Origin::Batch(_)) || current.status == ChargeStatus::Ativa
}

/// Makes the charge `current` what a whole creation request says (`DuePatch::replacing`):
/// a `PUT` of it, or of its batch. One already as the request says is left alone (paid,
/// removed or past its due date since, the request is no revision of it); a key it keeps
/// is not named anew (one the merchant has dropped since does not refuse it).
pub async fn replace(
    ports: &impl DueChargePorts,
    merchant: &Merchant,
    current: &DueCharge,
    terms: &DueTerms,
    loc: Option<i64>,
) -> Result<WithReceiver, DueChargeError> {
    let same_place = loc.is_none_or(|id| current.loc.as_ref().is_some_and(|l| l.id == id));
    if current.terms == *terms && same_place {
        return Ok(WithReceiver { charge: current.clone(), receiver: receiver(ports, merchant).await? });
    }
    let mut patch = DuePatch::replacing(terms, loc);
    if current.terms.chave == terms.chave {
        patch.chave = None;
    }
    revise(ports, merchant, &current.txid, &patch).await
}

/// Refuses `PUT|PATCH /cobv/{txid}` for a txid a batch holds pending or denied (the batch
/// worker itself creates and revises through [`create`] and [`revise`]). Otherwise the
/// charge may change outside its batch, whose next `PUT` is then applied again: forgotten
/// before the change, so that a crash after it cannot leave an identical `PUT` of the batch
/// answered as a replay while the charge no longer is what that `PUT` said.
pub async fn outside_batches(
    ports: &impl DueChargePorts,
    merchant: &Merchant,
    txid: &Txid,
) -> Result<(), DueChargeError> {
    if ports.lotes().held_else_forgotten(merchant.id, txid).await? {
        return Err(DueChargeError::HeldByBatch);
    }
    Ok(())
}

/// `PATCH /cobv/{txid}`.
pub async fn revise(
    ports: &impl DueChargePorts,
    merchant: &Merchant,
    txid: &Txid,
    patch: &DuePatch,
) -> Result<WithReceiver, DueChargeError> {
    if patch.chave.as_ref().is_some_and(|k| !merchant.owns_key(k.as_str())) {
        return Err(DueChargeError::KeyNotOwned);
    }
    let receiver = receiver(ports, merchant).await?;
    let today = calendar::brasilia_date(ports.clock().now());
    match ports.due_charges().revise(merchant.id, txid, patch, today).await? {
        ReviseOutcome::Revised(charge) => Ok(WithReceiver { charge, receiver }),
        ReviseOutcome::Rejected(DueRevisionError::Revision(e)) => Err(e.into()),
        ReviseOutcome::Rejected(DueRevisionError::Invalid(v)) => Err(DueChargeError::Invalid(v)),
        ReviseOutcome::NotFound => Err(DueChargeError::NotFound),
        ReviseOutcome::LocationUnavailable => Err(DueChargeError::LocationUnavailable),
    }
}

/// `GET /cobv/{txid}[?revisao=N]`.
pub async fn get(
    ports: &impl DueChargePorts,
    merchant: &Merchant,
    txid: &Txid,
    revisao: Option<i32>,
) -> Result<WithReceiver, DueChargeError> {
    let charge = ports.due_charges().find(merchant.id, txid, revisao).await?.ok_or(DueChargeError::NotFound)?;
    Ok(WithReceiver { charge, receiver: receiver(ports, merchant).await? })
}

/// `GET /cobv`.
pub async fn list(
    ports: &impl DueChargePorts,
    merchant: &Merchant,
    query: &ChargeQuery,
) -> Result<(Page<DueCharge>, Recebedor), DueChargeError> {
    let receiver = receiver(ports, merchant).await?;
    Ok((ports.due_charges().list(merchant.id, query).await?, receiver))
}

/// Why a payload location cannot price a cobv for the date asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadDateError {
    /// `DPP` before today.
    Past,
    /// `DPP` after the charge's last payable day.
    AfterValidity,
}

/// What a cobv's payload location serves: the charge while it can be paid, with its
/// receiver (and owner) and the amount due on `dpp` (default today, Brasília). A removed,
/// paid or expired charge is not served.
pub async fn payload(
    ports: &impl DueChargePorts,
    token: &LocationToken,
    dpp: Option<NaiveDate>,
) -> Result<Option<Result<(WithReceiver, Merchant, AmountDue, DateTime<Utc>), PayloadDateError>>, DueChargeError> {
    let Some((charge, owner)) = ports.due_charges().find_by_location(token).await? else { return Ok(None) };
    let now = ports.clock().now();
    let today = calendar::brasilia_date(now);
    if charge.status != ChargeStatus::Ativa || today > charge.terms.price.last_day() {
        return Ok(None);
    }
    let date = dpp.unwrap_or(today);
    if date < today {
        return Ok(Some(Err(PayloadDateError::Past)));
    }
    let Ok(due) = charge.terms.price.amount_due(date) else {
        return Ok(Some(Err(PayloadDateError::AfterValidity)));
    };
    let Some(merchant) = ports.merchants().by_id(owner).await? else { return Ok(None) };
    let receiver = receiver(ports, &merchant).await?;
    Ok(Some(Ok((WithReceiver { charge, receiver }, merchant, due, now))))
}
