//! Use cases of immediate charges: create (PUT with the merchant's txid, POST with ours),
//! revise, read one (optionally at a revision) and list.

use super::AppState;
use crate::domain::charge::{Charge, ChargePatch, ChargeStatus, ChargeTerms, RevisionError};
use crate::domain::ids::{LocationToken, Txid};
use crate::domain::merchant::Merchant;
use crate::domain::payload_location::TipoCob;
use crate::ports::{
    ChargeLocation, ChargeQuery, ChargeStore, Clock, CreateOutcome, NewCharge, Page, ReviseOutcome, StoreError,
};
use crate::telemetry::Unit;
use chrono::{DateTime, Utc};

/// The ports the charge use cases run with (the application state has them all).
pub trait ChargePorts {
    fn charges(&self) -> &dyn ChargeStore;
    fn clock(&self) -> &dyn Clock;
    /// Where payload locations live (`host/path`, no scheme), for new charges' BR Codes.
    fn location_base(&self) -> &str;
}

impl ChargePorts for AppState {
    fn charges(&self) -> &dyn ChargeStore {
        self.charges.as_ref()
    }
    fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }
    fn location_base(&self) -> &str {
        &self.config.location_base
    }
}

/// Why a charge use case did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum ChargeError {
    /// `chave` is not one of the merchant's Pix keys.
    #[error("the Pix key does not belong to this receiver")]
    KeyNotOwned,
    /// PUT with a txid this merchant already used for a different charge.
    #[error("the txid is already used by another charge")]
    TxidInUse,
    /// `loc.id` names no location of this merchant, one for another kind of charge, or one
    /// that serves another charge.
    #[error("the location cannot serve this charge")]
    LocationUnavailable,
    /// No charge with that txid (or revision) for this merchant.
    #[error("charge not found")]
    NotFound,
    /// The revision breaks the Bacen rules.
    #[error(transparent)]
    Revision(#[from] RevisionError),
    /// The store failed, or the charge's BR Code could not be built: 503 when the store is
    /// unavailable, 500 otherwise.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The result of a create: the charge, and whether this call created it (false: a replay).
pub struct Created {
    pub charge: Charge,
    pub created: bool,
}

/// The txid of a charge to create.
pub enum NewTxid {
    /// The merchant's (`PUT /cob/{txid}`).
    Chosen(Txid),
    /// Ours (`POST /cob`), drawn for the request's `Idempotency-Key` when it has one
    /// ([`NewTxid::ours`]).
    Ours(Option<Txid>),
}

impl NewTxid {
    /// The txid `POST /cob` tries first: for a request with an `Idempotency-Key`, one drawn
    /// from the merchant and the key, so that a retry the key's record no longer answers (the
    /// function stopped after making the charge, and the record's lock lapsed) finds the
    /// charge it made instead of making a second; without a key, a random one.
    pub fn ours(merchant: &Merchant, idempotency_key: Option<&str>) -> Self {
        NewTxid::Ours(
            idempotency_key.map(|key| Txid::derived(format!("POST /cob\0{}\0{key}", merchant.id.0).as_bytes())),
        )
    }
}

/// `PUT /cob/{txid}` (txid given) or `POST /cob` (txid ours), served at the merchant's
/// location `loc` when the request names one (`loc.id`), else at a new one.
///
/// `fingerprint` identifies the request's content: the same PUT sent again returns the
/// existing charge instead of failing, so retries are safe; so does a `POST` with the same
/// `Idempotency-Key`.
pub async fn create(
    ports: &impl ChargePorts,
    merchant: &Merchant,
    txid: NewTxid,
    terms: &ChargeTerms,
    loc: Option<i64>,
    fingerprint: [u8; 32],
) -> Result<Created, ChargeError> {
    if !merchant.owns_key(terms.chave.as_str()) {
        return Err(ChargeError::KeyNotOwned);
    }
    let chosen = matches!(txid, NewTxid::Chosen(_));
    let mut keyed = matches!(txid, NewTxid::Ours(Some(_)));
    let mut txid = match txid {
        NewTxid::Chosen(t) | NewTxid::Ours(Some(t)) => t,
        NewTxid::Ours(None) => Txid::generate(),
    };
    loop {
        let location = match loc {
            Some(id) => ChargeLocation::Existing(id),
            None => ChargeLocation::New(super::locations::fresh(ports.location_base(), merchant, TipoCob::Cob)?),
        };
        let new = NewCharge { txid: &txid, terms, fingerprint, location };
        match ports.charges().create(merchant.id, new).await? {
            CreateOutcome::Created(charge) => {
                crate::telemetry::metrics(&[("ChargesCreated", 1.0, Unit::Count)]);
                return Ok(Created { charge, created: true });
            }
            // The same request, and the charge never revised since: a replay. Revised since,
            // the request asks for the charge to be what it says again.
            CreateOutcome::Exists { charge, same_request: true } if chosen && charge.revisao == 0 => {
                return Ok(Created { charge, created: false })
            }
            // The charge this key's request made, and the retry within the key's life: a
            // replay. (A key sent again later, once its record expired, asks for a new
            // charge, as for any other POST: the old one may be long paid or expired.)
            CreateOutcome::Exists { charge, same_request: true }
                if keyed
                    && charge.revisao == 0
                    && charge.status == ChargeStatus::Ativa
                    && within_key_life(ports, &charge) =>
            {
                return Ok(Created { charge, created: false })
            }
            // The spec's PUT of an existing charge still ATIVA alters it (only one no longer
            // ATIVA is refused): the request is its whole new terms.
            CreateOutcome::Exists { charge, .. } if chosen && charge.status == ChargeStatus::Ativa => {
                let patch = ChargePatch { replace: Some(terms.clone()), loc, ..Default::default() };
                let charge = revise(ports, merchant, &txid, &patch).await?;
                return Ok(Created { charge, created: false });
            }
            CreateOutcome::Exists { .. } if chosen => return Err(ChargeError::TxidInUse),
            CreateOutcome::LocationUnavailable => return Err(ChargeError::LocationUnavailable),
            CreateOutcome::TxidTaken if chosen => return Err(ChargeError::TxidInUse),
            // A random txid collided (about 2^-190), or the key's holds another charge (the
            // key used again for another request once its record expired, or the charge
            // revised since): draw another.
            CreateOutcome::Exists { .. } | CreateOutcome::TxidTaken => {
                keyed = false;
                txid = Txid::generate();
            }
        }
    }
}

/// Whether `charge` was made within an `Idempotency-Key`'s life (its record's retention and
/// the longest in-progress lock), so that a `POST` with the key is a retry of the one that
/// made it.
fn within_key_life(ports: &impl ChargePorts, charge: &Charge) -> bool {
    let life = chrono::Duration::hours(crate::domain::idempotency::RETENTION_HOURS + 1);
    ports.clock().now() - charge.criacao < life
}

/// `PATCH /cob/{txid}`.
pub async fn revise(
    ports: &impl ChargePorts,
    merchant: &Merchant,
    txid: &Txid,
    patch: &ChargePatch,
) -> Result<Charge, ChargeError> {
    if let Some(chave) = &patch.chave {
        if !merchant.owns_key(chave.as_str()) {
            return Err(ChargeError::KeyNotOwned);
        }
    }
    match ports.charges().revise(merchant.id, txid, patch).await? {
        ReviseOutcome::Revised(charge) => Ok(charge),
        ReviseOutcome::Rejected(e) => Err(e.into()),
        ReviseOutcome::NotFound => Err(ChargeError::NotFound),
        ReviseOutcome::LocationUnavailable => Err(ChargeError::LocationUnavailable),
    }
}

/// `GET /cob/{txid}[?revisao=N]`.
pub async fn get(
    ports: &impl ChargePorts,
    merchant: &Merchant,
    txid: &Txid,
    revisao: Option<i32>,
) -> Result<Charge, ChargeError> {
    ports.charges().find(merchant.id, txid, revisao).await?.ok_or(ChargeError::NotFound)
}

/// `GET /cob`.
pub async fn list(
    ports: &impl ChargePorts,
    merchant: &Merchant,
    query: &ChargeQuery,
) -> Result<Page<Charge>, ChargeError> {
    Ok(ports.charges().list(merchant.id, query).await?)
}

/// What a charge's payload location serves, and as of when (`GET /qr/v2/{token}`): the
/// charge while it can be paid. A removed or expired charge is no longer served: nothing to
/// pay, and its terms carry the payer's full document.
pub async fn payload(ports: &impl ChargePorts, token: &LocationToken) -> Result<(Charge, DateTime<Utc>), ChargeError> {
    let charge = ports.charges().find_by_location(token).await?.ok_or(ChargeError::NotFound)?;
    let now = ports.clock().now();
    let removed = matches!(charge.status, ChargeStatus::RemovidaPeloUsuarioRecebedor | ChargeStatus::RemovidaPeloPsp);
    if removed || (charge.status == ChargeStatus::Ativa && charge.expires_at() <= now) {
        return Err(ChargeError::NotFound);
    }
    Ok((charge, now))
}
