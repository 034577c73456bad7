//! Money that cannot be lost: concurrency without deadlocks, rail faults (throttles,
//! errors, timeouts, explicit rejections), contradictory verdicts, returned Pix, and a
//! chaos run that kills the server and Postgres mid-burst. One test binary for all of
//! them, so the suite links it once.

#[path = "../common/mod.rs"]
mod common;

mod concurrency;
