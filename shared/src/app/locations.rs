//! Use cases of payload locations (`/loc`): create one on its own, read, list, unlink its
//! charge. A new charge without `loc.id` gets a fresh location from `fresh` too.

use super::AppState;
use crate::domain::brcode::{BrCode, Receiver};
use crate::domain::ids::LocationToken;
use crate::domain::merchant::Merchant;
use crate::domain::payload_location::{PayloadLocation, TipoCob};
use crate::ports::{LocationQuery, LocationStore, NewLocation, Page, StoreError};
use anyhow::Context;

/// The ports the location use cases run with.
pub trait LocationPorts {
    fn payload_locations(&self) -> &dyn LocationStore;
    /// Where payload locations live (`host/path`, no scheme).
    fn location_base(&self) -> &str;
}

impl LocationPorts for AppState {
    fn payload_locations(&self) -> &dyn LocationStore {
        self.payload_locations.as_ref()
    }
    fn location_base(&self) -> &str {
        &self.config.location_base
    }
}

/// A new location under `base` for this merchant, with its BR Code: `base/{token}`, and
/// for a charge with a due date `base/cobv/{token}`, the spec's own endpoint for those
/// (a payer's bank tells from the URL alone that it should send the payment date `DPP`
/// and its `codMun`). The stored kind says which payload a token serves.
pub fn fresh(base: &str, merchant: &Merchant, tipo_cob: TipoCob) -> Result<NewLocation, StoreError> {
    let token = LocationToken::generate();
    let location_url = match tipo_cob {
        TipoCob::Cob => format!("{base}/{}", token.as_str()),
        TipoCob::Cobv => format!("{base}/cobv/{}", token.as_str()),
    };
    let receiver = Receiver { name: &merchant.name, city: &merchant.city };
    let pix_copia_e_cola = BrCode::dynamic(&location_url, &receiver)
        .and_then(|c| c.encode())
        .context("building the dynamic BR Code")
        .map_err(StoreError::Unexpected)?;
    Ok(NewLocation { token, tipo_cob, location_url, pix_copia_e_cola })
}

/// `POST /loc`: a location serving nothing yet.
pub async fn create(
    ports: &impl LocationPorts,
    merchant: &Merchant,
    tipo_cob: TipoCob,
) -> Result<PayloadLocation, StoreError> {
    let new = fresh(ports.location_base(), merchant, tipo_cob)?;
    ports.payload_locations().create(merchant.id, new).await
}

/// `GET /loc/{id}` (and its QR code).
pub async fn get(
    ports: &impl LocationPorts,
    merchant: &Merchant,
    id: i64,
) -> Result<Option<PayloadLocation>, StoreError> {
    ports.payload_locations().get(merchant.id, id).await
}

/// `GET /loc`.
pub async fn list(
    ports: &impl LocationPorts,
    merchant: &Merchant,
    query: &LocationQuery,
) -> Result<Page<PayloadLocation>, StoreError> {
    ports.payload_locations().list(merchant.id, query).await
}

/// `DELETE /loc/{id}/txid`: the location no longer serves its charge (if it had one).
pub async fn unlink(
    ports: &impl LocationPorts,
    merchant: &Merchant,
    id: i64,
) -> Result<Option<PayloadLocation>, StoreError> {
    let location = ports.payload_locations().unlink(merchant.id, id).await?;
    if location.is_some() {
        tracing::info!(location_id = id, "location unlinked from its charge");
    }
    Ok(location)
}
