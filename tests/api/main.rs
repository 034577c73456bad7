//! The API end to end, one test binary (linked once): charges, payments and refunds over
//! HTTP with the sandbox rail, transfers, webhooks, idempotency (and its contract on
//! Postgres and DynamoDB), the ledger's database guarantees, encryption, logs, the CLI and
//! the route table. The fault tests (`tests/faults/`) and the template's (`template.rs`,
//! run after the template is packaged) are their own binaries.

#[path = "../common/mod.rs"]
mod common;

mod cipher;
mod cli;
mod cob_api;
mod cobv_api;
mod docs;
mod idempotency_api;
mod idempotency_contract;
mod ledger;
mod loc_api;
mod logs;
mod lotecobv_api;
mod oauth;
mod payload_signing;
mod payments;
mod rail_batches;
mod rec_api;
mod route_table;
mod transfers;
mod webhooks;
