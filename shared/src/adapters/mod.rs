//! Adapters: implementations of the ports against real infrastructure.

pub mod postgres;
