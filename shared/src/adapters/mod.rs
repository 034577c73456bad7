//! Adapters: implementations of the ports against real infrastructure.

pub mod dynamodb;
pub mod postgres;
pub mod rail_http;
