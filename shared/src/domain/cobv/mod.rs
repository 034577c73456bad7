//! Charges with a due date (Bacen "cobrança com vencimento", `cobv`): their price terms
//! (fine, interest, rebate, discount) and the amount due on the day of payment.

pub mod calendar;
mod charge;
mod due;

pub use charge::*;
pub use due::*;
