//! Tucano's shared library: everything the local server and the Lambda functions share.
//!
//! The folders follow the hexagonal split: `domain` (pure types and rules, no I/O),
//! `ports` (the traits use cases depend on), `adapters` (Postgres, ...), `app` (use cases
//! and the application state), `http` (request/response, problem+json, auth, the route
//! table) and `handlers` (parse -> authorize -> use case -> response, one file per resource).
//! `wiring` is the composition root: the only module besides `adapters` that names an
//! adapter. ARCHITECTURE.md at the root draws the layers.

pub mod adapters;
pub mod app;
pub mod bacen;
pub mod domain;
pub mod handlers;
pub mod http;
pub mod ports;
pub mod rail;
pub mod routes;
pub mod telemetry;
pub mod wiring;
