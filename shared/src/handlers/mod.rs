//! Handlers: parse -> authorize -> use case -> response. One module per resource.
//! No SQL or SDK call here: handlers speak to use cases in `app`.

pub mod account;
pub mod cob;
pub mod cobv;
pub mod envio;
pub mod loc;
pub mod lotecobv;
pub mod oauth;
pub mod openapi;
pub mod payload;
pub mod pix;
pub mod rail;
mod rail_rec;
pub mod rec;
pub mod webhooks;
