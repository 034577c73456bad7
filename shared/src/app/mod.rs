//! Use cases and the application state they run with.

pub mod charges;
mod config;
pub mod payments;
mod state;

pub use config::{Config, ConfigError};
pub use state::AppState;
