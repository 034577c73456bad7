//! Pure domain types and rules: money, documents, Pix keys, identifiers, BR Code, charges.
//! Nothing in here does I/O; every type is parsed once at the edge and valid afterwards.

pub mod brcode;
pub mod charge;
pub mod cobv;
pub mod document;
pub mod event;
pub mod idempotency;
pub mod ids;
pub mod jws;
pub mod ledger;
pub mod location;
pub mod merchant;
pub mod money;
pub mod oauth;
pub mod payload_location;
pub mod payment;
pub mod pix_key;
pub mod qr_image;
pub mod quota;
pub mod rec;
pub mod text;
pub mod transfer;
pub mod verdict;
pub mod webhook;
