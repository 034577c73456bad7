//! The application state: the ports every request and job runs with, built once (at cold
//! start, or when the local server starts) by the composition root (`crate::wiring`) and
//! lent to every request. Holds ports, never a concrete adapter or a per-request client.

use super::secrets::RotatingSecret;
use super::Config;
use crate::ports::{
    ChargeStore, Cipher, ClientStore, Clock, DatabaseAuth, IdempotencyStore, Ledger, LocationReader, LocationStore,
    MerchantStore, PixRail, PixStore, RateCounter, TransferStore, WebhookStore, WebhookTransport,
};
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub merchants: Arc<dyn MerchantStore>,
    pub clients: Arc<dyn ClientStore>,
    /// Signs our payload locations; none when no key is configured (they answer 503).
    pub payload_signer: Option<Arc<dyn crate::ports::PayloadSigner>>,
    /// Signed payloads kept a few seconds per charge revision.
    pub signed_payloads: Arc<crate::app::signed_payloads::SignedCache>,
    /// Checks OAuth access tokens (signing keys, revoked clients, seen merchants).
    pub tokens: Arc<crate::app::oauth::TokenGate>,
    pub charges: Arc<dyn ChargeStore>,
    /// Batches of charges with a due date (`/lotecobv`).
    pub lotes: Arc<dyn crate::ports::LoteStore>,
    /// Charges with a due date (`cobv`).
    pub due_charges: Arc<dyn crate::ports::DueChargeStore>,
    pub recurrences: Arc<dyn crate::ports::RecurrenceStore>,
    /// Payload locations on their own (`/loc`).
    pub payload_locations: Arc<dyn LocationStore>,
    pub pix: Arc<dyn PixStore>,
    pub ledger: Arc<dyn Ledger>,
    pub rail: Arc<dyn PixRail>,
    pub idempotency: Arc<dyn IdempotencyStore>,
    pub cipher: Arc<dyn Cipher>,
    pub transfers: Arc<dyn TransferStore>,
    pub locations: Arc<dyn LocationReader>,
    pub clock: Arc<dyn Clock>,
    pub webhooks: Arc<dyn WebhookStore>,
    pub webhook_transport: Arc<dyn WebhookTransport>,
    pub rate_counter: Arc<dyn RateCounter>,
    /// The secret rail messages are signed with, in both directions.
    pub rail_secret: Arc<RotatingSecret>,
    /// With IAM database authentication: keeps the pool's password a fresh token.
    pub db_auth: Option<Arc<dyn DatabaseAuth>>,
}

impl AppState {
    /// Before a request or job touches the database: with IAM authentication, a token
    /// about to age out is replaced (a local signature, no network).
    pub async fn keep_db_auth_fresh(&self) -> Result<(), crate::ports::StoreError> {
        match &self.db_auth {
            Some(auth) => auth.keep_fresh().await,
            None => Ok(()),
        }
    }

    /// The same state with another clock (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The same state with another idempotency store.
    pub fn with_idempotency(mut self, store: Arc<dyn IdempotencyStore>) -> Self {
        self.idempotency = store;
        self
    }
}
