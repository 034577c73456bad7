//! The `tucano` command's library: the local HTTP server, the sandbox rail, the admin
//! commands and the benchmarks, so that the end-to-end tests start exactly what the CLI
//! starts.

pub mod bench;
pub mod benches;
pub mod cli;
pub mod clients;
pub mod coldstart;
pub mod docs;
pub mod firstresponse;
pub mod roundtrips;
pub mod sandbox;
pub mod server;
