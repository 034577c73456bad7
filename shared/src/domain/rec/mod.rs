//! Pix Automático (API Pix 2.9.0 tags Rec, SolicRec and CobR): the recurrence a payer
//! authorises, the confirmation request sent to the payer's bank, and the recurring
//! charges made under an authorised recurrence, with their settlement attempts.

pub mod charge;
pub mod ids;
pub mod recurrence;
pub mod schedule;

pub use charge::{
    Attempt, AttemptKind, AttemptStatus, CobRStatus, CobRTerms, ContaRecebedor, RecurringCharge, TipoConta,
};
pub use ids::{IdRec, IdSolicRec};
pub use recurrence::{
    Destinatario, Encerramento, Jornada, Payer, RecLoc, RecRevision, RecStatus, RecTerms, RecValue, Recurrence,
    RetryPolicy, SolicRec, SolicRecStatus, Solicitante, Update,
};
pub use schedule::Periodicidade;

/// A broken rule: the field and why (a Bacen `violacoes` entry).
pub type Violation = (&'static str, &'static str);
