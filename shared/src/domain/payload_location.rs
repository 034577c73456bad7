//! A payload location (`/loc`): the URL a dynamic BR Code points at. A merchant owns it;
//! it serves the charge linked to it, if any, and may be unlinked and linked again, so a
//! printed QR code can serve one charge after another.

use super::ids::Txid;
use chrono::{DateTime, Utc};

/// Which kind of charge a location serves (`tipoCob`): immediate (`cob`) or with a due
/// date (`cobv`). A location only ever serves its own kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TipoCob {
    Cob,
    Cobv,
}

impl TipoCob {
    pub fn as_str(self) -> &'static str {
        match self {
            TipoCob::Cob => "cob",
            TipoCob::Cobv => "cobv",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "cob" => Some(TipoCob::Cob),
            "cobv" => Some(TipoCob::Cobv),
            _ => None,
        }
    }
}

/// A location as `GET /loc/{id}` shows it (`PayloadLocationCompleta`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadLocation {
    pub id: i64,
    /// URL without scheme, as Bacen writes it: `pix.example.com/qr/v2/{token}`.
    pub location: String,
    pub tipo_cob: TipoCob,
    pub criacao: DateTime<Utc>,
    /// The charge it serves now, if any.
    pub txid: Option<Txid>,
    /// The dynamic BR Code pointing at it (its receiver's name and city included).
    pub pix_copia_e_cola: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tipo_cob_round_trips_through_its_bacen_name() {
        for t in [TipoCob::Cob, TipoCob::Cobv] {
            assert_eq!(TipoCob::parse(t.as_str()), Some(t));
        }
        assert_eq!(TipoCob::parse("COB"), None);
        assert_eq!(TipoCob::parse("cobr"), None);
    }
}
