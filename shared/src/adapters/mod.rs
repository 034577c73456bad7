//! Adapters: implementations of the ports against real infrastructure.

pub mod postgres;
pub mod rail_http;
