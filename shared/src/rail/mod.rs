//! The Pix rail protocol: the messages Tucano and a rail (the sandbox, or a sponsor bank
//! adapter) exchange over HTTP, and how both sides sign them.

pub mod incoming;
pub mod protocol;
pub mod signature;
