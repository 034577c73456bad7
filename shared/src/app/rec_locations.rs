//! Pix Automático's locations (`/locrec`): create, read, list and unlink; what a location
//! serves (the recurrence's signed `RecPayload`); and the QR code of a recurrence for the
//! journeys that start from one (`dadosQR` of `GET /rec/{idRec}`).

use super::recurrences::{receiver_cnpj, RecError};
use super::AppState;
use crate::domain::brcode::{BrCode, Receiver};
use crate::domain::ids::{LocationToken, Txid};
use crate::domain::merchant::Merchant;
use crate::domain::rec::{Jornada, RecLoc, RecStatus, Recurrence};
use crate::ports::{LocRecQuery, Page};

/// `POST /locrec`: a location on the payload host (`{base}/{token}`, as charges' are).
pub async fn create(state: &AppState, merchant: &Merchant) -> Result<RecLoc, RecError> {
    let token = LocationToken::generate();
    let location = format!("{}/{}", state.config.location_base, token.as_str());
    let now = state.clock.now();
    Ok(state.recurrences.create_location(merchant.id, &token, &location, now).await?)
}

pub async fn get(state: &AppState, merchant: &Merchant, id: i64) -> Result<RecLoc, RecError> {
    state.recurrences.find_location(merchant.id, id).await?.ok_or(RecError::NotFound)
}

pub async fn list(state: &AppState, merchant: &Merchant, q: &LocRecQuery) -> Result<Page<RecLoc>, RecError> {
    Ok(state.recurrences.list_locations(merchant.id, q).await?)
}

/// `DELETE /locrec/{id}/idRec`.
pub async fn unlink(state: &AppState, merchant: &Merchant, id: i64) -> Result<RecLoc, RecError> {
    state.recurrences.unlink_location(merchant.id, id).await?.ok_or(RecError::NotFound)
}

/// Why a location does not serve its recurrence's payload.
#[derive(Debug)]
pub enum PayloadRefusal {
    /// No recurrence location with this token.
    Nothing,
    /// A recurrence location serving no recurrence (unlinked, or never linked).
    Unlinked,
    /// The recurrence is expired, rejected or cancelled.
    Ended,
}

/// What a recurrence's location serves: the recurrence while it can be authorised or runs,
/// its owner, and the receiver's CNPJ.
pub async fn payload(
    state: &AppState,
    token: &LocationToken,
) -> Result<Result<(Recurrence, Merchant, String), PayloadRefusal>, RecError> {
    let (owner, rec) = match state.recurrences.rec_at_location(token).await? {
        None => return Ok(Err(PayloadRefusal::Nothing)),
        Some(None) => return Ok(Err(PayloadRefusal::Unlinked)),
        Some(Some(found)) => found,
    };
    if !matches!(rec.status, RecStatus::Criada | RecStatus::Aprovada) {
        return Ok(Err(PayloadRefusal::Ended));
    }
    let Some(merchant) = state.merchants.by_id(owner).await? else { return Ok(Err(PayloadRefusal::Nothing)) };
    let cnpj = receiver_cnpj(state, &merchant, "recebedor").await?;
    Ok(Ok((rec, merchant, cnpj)))
}

/// The QR code a payer scans to authorise `rec` (Bacen's `dadosQR`): the recurrence alone
/// (journey 2), or with the charge `txid` to pay — an immediate one activates it (journey
/// 3, the one named at creation), one with a due date offers it (journey 4). None when the
/// recurrence has no location, or `txid` names no charge with a location.
pub async fn qr(
    state: &AppState,
    merchant: &Merchant,
    rec: &Recurrence,
    txid: Option<&Txid>,
) -> Result<Option<(Jornada, String)>, RecError> {
    let Some(loc) = &rec.loc else { return Ok(None) };
    let receiver = Receiver { name: &merchant.name, city: &merchant.city };
    let invalid = |why: &'static str| RecError::Invalid(vec![("txid", why)]);
    let Some(txid) = txid else {
        let code = BrCode::recurrence_only(&loc.location, &receiver).and_then(|c| c.encode());
        return Ok(code.ok().map(|c| (Jornada::Jornada2, c)));
    };
    let (jornada, charge_location) = match state.charges.find(merchant.id, txid, None).await? {
        Some(cob) => {
            if rec.jornada_txid.as_ref() != Some(txid) {
                return Err(invalid("is not the immediate charge named in ativacao.dadosJornada.txid"));
            }
            (Jornada::Jornada3, cob.loc.map(|l| l.location))
        }
        None => match state.due_charges.find(merchant.id, txid, None).await? {
            Some(cobv) => (Jornada::Jornada4, cobv.loc.map(|l| l.location)),
            None => return Err(invalid("names no charge of this receiver")),
        },
    };
    let Some(charge_location) = charge_location else { return Ok(None) };
    let code = BrCode::dynamic(&charge_location, &receiver)
        .and_then(|c| c.with_recurrence(&loc.location))
        .and_then(|c| c.encode());
    Ok(code.ok().map(|c| (jornada, c)))
}
