//! The application state: built once (at cold start, or when the local server starts) and
//! lent to every request. Holds the ports, never a per-request client.

use super::Config;
use crate::adapters::postgres::{lazy_pool, AccountDirectory, PgChargeStore, PgLedger, PgMerchantStore, PgPixStore};
use crate::adapters::rail_http::HttpRail;
use crate::ports::{ChargeStore, Ledger, MerchantStore, PixRail, PixStore};
use sqlx::PgPool;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub pool: PgPool,
    pub merchants: Arc<dyn MerchantStore>,
    pub charges: Arc<dyn ChargeStore>,
    pub pix: Arc<dyn PixStore>,
    pub ledger: Arc<dyn Ledger>,
    pub rail: Arc<dyn PixRail>,
}

impl AppState {
    /// The production wiring on Postgres; opens no connection until the first request.
    pub fn new(config: Config) -> anyhow::Result<Self> {
        let pool = lazy_pool(&config.database_url, config.db_max_connections)?;
        Self::with_pool(config, pool)
    }

    /// The same wiring on an existing pool (tests, the local server).
    pub fn with_pool(config: Config, pool: PgPool) -> anyhow::Result<Self> {
        let accounts = Arc::new(AccountDirectory::default());
        let rail = HttpRail::new(&config.rail_url, &config.rail_secret)?;
        Ok(AppState {
            config: Arc::new(config),
            merchants: Arc::new(PgMerchantStore::new(pool.clone())),
            charges: Arc::new(PgChargeStore::new(pool.clone())),
            pix: Arc::new(PgPixStore::new(pool.clone(), accounts)),
            ledger: Arc::new(PgLedger::new(pool.clone())),
            rail: Arc::new(rail),
            pool,
        })
    }
}
