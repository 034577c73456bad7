//! Typed configuration from the environment, checked once at start-up with clear messages.

use std::env;

/// Why the configuration is unusable. Start-up stops with this message.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is not set; {1}")]
    Missing(&'static str, &'static str),
    #[error("{0} is invalid: {1}")]
    Invalid(&'static str, String),
}

/// Everything a function or the local server needs to run.
#[derive(Clone)]
pub struct Config {
    /// Postgres connection string (through RDS Proxy in AWS).
    pub database_url: String,
    /// Pool size: small in Lambda (one request at a time), larger locally.
    pub db_max_connections: u32,
    /// Host and path prefix of payload locations, without scheme:
    /// `pix.example.com/qr/v2` gives `pix.example.com/qr/v2/{token}`.
    pub location_base: String,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &"***")
            .field("db_max_connections", &self.db_max_connections)
            .field("location_base", &self.location_base)
            .finish()
    }
}

/// A location is at most 77 characters; the token and its slash take 33.
const MAX_LOCATION_BASE: usize = 77 - 33;

impl Config {
    /// Reads `DATABASE_URL`, `DB_MAX_CONNECTIONS` (default 5) and `PIX_LOCATION_BASE`.
    pub fn from_env() -> Result<Self, ConfigError> {
        let database_url = env::var("DATABASE_URL").map_err(|_| {
            ConfigError::Missing(
                "DATABASE_URL",
                "set it to a Postgres URL, e.g. postgres://postgres@127.0.0.1:5432/tucano",
            )
        })?;
        let db_max_connections = match env::var("DB_MAX_CONNECTIONS") {
            Ok(s) => s
                .parse()
                .ok()
                .filter(|n| (1..=100).contains(n))
                .ok_or_else(|| {
                    ConfigError::Invalid(
                        "DB_MAX_CONNECTIONS",
                        "must be a whole number from 1 to 100".into(),
                    )
                })?,
            Err(_) => 5,
        };
        let location_base = env::var("PIX_LOCATION_BASE").map_err(|_| {
            ConfigError::Missing(
                "PIX_LOCATION_BASE",
                "set it to the public host and path of QR payloads, e.g. pix.example.com/qr/v2",
            )
        })?;
        Self::new(database_url, db_max_connections, location_base)
    }

    pub fn new(
        database_url: String,
        db_max_connections: u32,
        location_base: String,
    ) -> Result<Self, ConfigError> {
        let location_base = location_base.trim_end_matches('/').to_owned();
        let valid = !location_base.is_empty()
            && location_base.len() <= MAX_LOCATION_BASE
            && !location_base.contains("://")
            && location_base.bytes().all(|b| b.is_ascii_graphic());
        if !valid {
            return Err(ConfigError::Invalid(
                "PIX_LOCATION_BASE",
                format!("must be a host and path without scheme, at most {MAX_LOCATION_BASE} characters"),
            ));
        }
        Ok(Config {
            database_url,
            db_max_connections,
            location_base,
        })
    }
}
