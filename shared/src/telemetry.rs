//! Logging set-up: JSON lines (CloudWatch) or compact text (local terminals).

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `json` for Lambda and machines; text for people.
/// The level comes from `RUST_LOG` (default `info`). Safe to call twice.
pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    let _ = if json {
        builder.json().flatten_event(true).with_current_span(true).with_span_list(false).try_init()
    } else {
        builder.compact().try_init()
    };
}
