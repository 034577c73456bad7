//! Adapters: implementations of the ports against real infrastructure.

pub mod aws;
pub mod dynamodb;
pub mod envelope;
pub mod guarded_http;
pub mod kms_cipher;
pub mod kms_signer;
pub mod lazy_client;
pub mod local_cipher;
pub mod local_signer;
pub mod location_http;
pub mod postgres;
pub mod rail_http;
pub mod sandbox_clock;
pub mod secrets_manager;
pub mod sqs;
pub mod webhook_http;
