//! The `tucano` command's library: the local HTTP server and the admin commands, so the
//! end-to-end tests can start the same server the CLI starts.

pub mod cli;
pub mod server;
