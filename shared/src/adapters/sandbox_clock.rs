//! The sandbox's simulated time: wall time shifted by a number of seconds kept in a file,
//! so the local API and the sandbox rail (two processes) agree on "today" and
//! `tucano sandbox advance --days N` moves both. Only local runs use it; a deployed
//! function always runs on the system clock.

use crate::ports::{Clock, SystemClock};
use chrono::{DateTime, Duration, Utc};
use std::path::PathBuf;

/// The environment variable that names the offset file.
pub const CLOCK_FILE_ENV: &str = "SANDBOX_CLOCK_FILE";

/// A clock `offset` seconds ahead of wall time, the offset read from its file at each
/// reading (a missing or unreadable file is no offset).
#[derive(Debug, Clone)]
pub struct SandboxClock {
    path: PathBuf,
}

impl SandboxClock {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The clock named by `SANDBOX_CLOCK_FILE`, if it is set.
    pub fn from_env() -> Option<Self> {
        std::env::var_os(CLOCK_FILE_ENV).filter(|p| !p.is_empty()).map(Self::new)
    }

    /// How far ahead of wall time it runs, in seconds.
    pub fn offset(&self) -> i64 {
        std::fs::read_to_string(&self.path).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0)
    }

    /// Moves it: written to a file beside and renamed over, so a reader never sees half.
    pub fn set_offset(&self, seconds: i64) -> std::io::Result<()> {
        let partial = self.path.with_extension("partial");
        std::fs::write(&partial, seconds.to_string())?;
        std::fs::rename(partial, &self.path)
    }
}

impl Clock for SandboxClock {
    fn now(&self) -> DateTime<Utc> {
        SystemClock::wall() + Duration::seconds(self.offset())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_runs_as_far_ahead_as_its_file_says_and_a_missing_file_is_wall_time() {
        let dir = std::env::temp_dir().join(format!("sandbox-clock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let clock = SandboxClock::new(dir.join("clock"));
        assert!((clock.now() - Utc::now()).num_seconds().abs() < 5);
        clock.set_offset(30 * 86_400).unwrap();
        assert_eq!(clock.offset(), 30 * 86_400);
        let ahead = clock.now() - Utc::now();
        assert!(ahead > Duration::days(29) && ahead < Duration::days(31));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
