//! Handlers: parse -> authorize -> use case -> response. One folder per resource.
//! No SQL or SDK call here: handlers speak to use cases in `app`.

pub mod cob;
