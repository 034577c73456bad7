//! The functions' tests, one test binary (linked once): the API Gateway event glue, the
//! jobs (migrations resource), and the built `bootstrap` under the Runtime API
//! emulator.

#[path = "../common/mod.rs"]
mod common;

mod apigw_event;
mod jobs;
mod runtime_api;
