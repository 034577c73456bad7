//! What a payer's bank reads at a dynamic BR Code's payload location, before it pays.

use super::money::Amount;

/// The terms a payload location states for the charge it serves, as far as paying it
/// needs them. Fields the payload lacks or gets wrong are `None`: the use case decides
/// what a payment can do without them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationPayload {
    /// The charge is `ATIVA` and not past its expiry (anything else, or no status, cannot be paid).
    pub ativa: bool,
    /// The receiver's Pix key.
    pub chave: Option<String>,
    pub txid: Option<String>,
    /// What is to be paid: `valor.final` (a charge with a due date, on the payment date),
    /// else `valor.original`, when it is a valid amount.
    pub valor: Option<Amount>,
    /// `valor.modalidadeAlteracao` is 1: the payer may change the amount.
    pub valor_alteravel: bool,
}

/// Why a payload location could not be read. Stable reasons, safe to show a merchant:
/// never the transport's own text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LocationFailure {
    /// The rules refuse the location: a bad URL, or a host that is or resolves to a non-public address.
    #[error("LOCATION_BLOCKED")]
    Blocked,
    /// No connection (refused, name unknown, TLS failed) or the answer broke off.
    #[error("LOCATION_UNREACHABLE")]
    Unreachable,
    /// No whole answer within the 5 s deadline.
    #[error("LOCATION_TIMEOUT")]
    TimedOut,
    /// The location answered a status other than 2xx; a redirect counts, as it is not followed.
    #[error("LOCATION_HTTP_ERROR")]
    HttpError,
    /// The body is, or says it is, over the reader's cap.
    #[error("LOCATION_TOO_LARGE")]
    TooLarge,
    /// The body is not a payload (not JSON inside).
    #[error("LOCATION_NOT_A_PAYLOAD")]
    NotAPayload,
    /// The payload is not a JWS (Bacen requires it signed), or is signed with `none`, `HS*`
    /// or anything but RS256.
    #[error("LOCATION_NOT_SIGNED")]
    NotSigned,
    /// The signature does not verify, its key set is not on the location's host or cannot be
    /// read, or the signing certificate is not trusted for that host.
    #[error("LOCATION_SIGNATURE_INVALID")]
    BadSignature,
}

impl LocationFailure {
    /// The reason code (the variant's display).
    pub fn code(self) -> String {
        self.to_string()
    }
}
