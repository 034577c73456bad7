//! Pix transfers out (envios): who receives, the statuses, and the limits a transfer must
//! respect (per transfer, per day, and the Pix night limit for individuals).

use super::document::Document;
use super::ids::{EndToEndId, Txid};
use super::money::Amount;
use super::pix_key::PixKey;
use chrono::{DateTime, Duration, FixedOffset, NaiveTime, TimeZone, Timelike, Utc};

pub const MAX_DESCRICAO: usize = 140;
/// The longest holder name a transfer keeps (its record's limit).
pub const MAX_HOLDER_NAME: usize = 200;

/// The client's id of a transfer (`/envio/{idEnvio}`): `^[a-zA-Z0-9]{1,35}$`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdEnvio(String);

impl IdEnvio {
    pub fn parse(s: &str) -> Option<Self> {
        ((1..=35).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric())).then(|| IdEnvio(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// SPI account types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountType {
    Cacc,
    Tran,
    Slry,
    Svgs,
}

impl AccountType {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountType::Cacc => "CACC",
            AccountType::Tran => "TRAN",
            AccountType::Slry => "SLRY",
            AccountType::Svgs => "SVGS",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [AccountType::Cacc, AccountType::Tran, AccountType::Slry, AccountType::Svgs]
            .into_iter()
            .find(|t| t.as_str() == s)
    }
}

/// A bank account given by hand (when the receiver has no key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankAccount {
    pub ispb: String,
    pub agencia: String,
    pub conta: String,
    pub tipo: AccountType,
    pub documento: Document,
    pub nome: String,
}

/// Who receives a transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Receiver {
    Key(PixKey),
    Account(BankAccount),
}

/// Transfer statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferStatus {
    EmProcessamento,
    Realizado,
    NaoRealizado,
}

impl TransferStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TransferStatus::EmProcessamento => "EM_PROCESSAMENTO",
            TransferStatus::Realizado => "REALIZADO",
            TransferStatus::NaoRealizado => "NAO_REALIZADO",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [TransferStatus::EmProcessamento, TransferStatus::Realizado, TransferStatus::NaoRealizado]
            .into_iter()
            .find(|t| t.as_str() == s)
    }
}

/// What a merchant asks to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferRequest {
    pub id: IdEnvio,
    pub valor: Amount,
    pub favorecido: Receiver,
    pub descricao: Option<String>,
    /// The charge's txid when paying a BR Code.
    pub txid: Option<Txid>,
}

impl TransferRequest {
    /// What "the same transfer again" means for an idempotent `PUT /envio/{idEnvio}` (with
    /// the BR Code it pays, when it pays one). Transfers keep the fingerprint of the request
    /// that made them: these bytes must not change.
    pub fn fingerprint(&self, code: Option<&str>) -> [u8; 32] {
        let fav = match &self.favorecido {
            Receiver::Key(k) => serde_json::json!({"chave": k.as_str()}),
            Receiver::Account(a) => serde_json::json!({
                "ispb": a.ispb, "agencia": a.agencia, "conta": a.conta, "tipo": a.tipo.as_str(), "doc": a.documento.as_str()
            }),
        };
        let canonical = serde_json::json!({"valor": self.valor.to_string(), "favorecido": fav, "descricao": self.descricao, "qr": code});
        super::idempotency::fingerprint(canonical.to_string().as_bytes())
    }
}

/// Who holds a Pix key, as the directory (DICT) tells a payer's bank: the name, and the
/// document masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DictEntry {
    pub chave: String,
    pub tipo_chave: String,
    pub nome: String,
    pub documento: String,
    pub ispb: String,
}

/// A transfer as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    pub id: IdEnvio,
    pub end_to_end_id: EndToEndId,
    pub valor: Amount,
    pub favorecido: Receiver,
    /// The receiver's name as the directory (or the merchant) gave it.
    pub favorecido_nome: Option<String>,
    pub descricao: Option<String>,
    pub txid: Option<Txid>,
    pub status: TransferStatus,
    pub motivo: Option<String>,
    pub solicitacao: DateTime<Utc>,
    pub liquidacao: Option<DateTime<Utc>>,
    /// Set when the rail contradicted itself about this transfer (operations look at it).
    pub alerta: Option<super::verdict::Contradiction>,
    /// What the receiving bank sent back, oldest first.
    pub devolucoes: Vec<TransferReturn>,
}

/// A Pix we sent that the receiving bank returned (in part or whole).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferReturn {
    pub rtr_id: super::ids::RtrId,
    pub valor: Amount,
    pub horario: DateTime<Utc>,
    /// The return's reason code (MD06, FR01, BE08, ...).
    pub codigo: Option<String>,
    pub motivo: Option<String>,
}

/// A merchant's transfer limits (centavos).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub per_transfer: Amount,
    pub daily: Amount,
    /// Per transfer between 20:00 and 06:00 in Brasília, for individuals only.
    pub night: Option<Amount>,
}

/// Why a transfer breaks a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LimitViolation {
    /// The amount is above the per-transfer limit, which it carries.
    #[error("the amount is above the limit of {0} per transfer")]
    PerTransfer(Amount),
    /// With today's transfers not refused (since midnight in Brasília), the total passes the daily limit.
    #[error("the transfer would take today's total above the daily limit of {0}")]
    Daily(Amount),
    /// Between 20:00 and 06:00 in Brasília, an individual's transfer is above the night limit.
    #[error("between 20:00 and 06:00 (Brasília) a transfer may not exceed {0}")]
    Night(Amount),
}

/// Brasília time (no daylight saving since 2019).
pub(crate) fn brasilia() -> FixedOffset {
    FixedOffset::west_opt(3 * 3600).unwrap_or_else(|| unreachable!("-03:00 is a valid offset"))
}

/// Whether `at` falls in the Pix night period (20:00 to 06:00, Brasília).
pub fn is_night(at: DateTime<Utc>) -> bool {
    let hour = at.with_timezone(&brasilia()).hour();
    !(6..20).contains(&hour)
}

/// The start of `at`'s day in Brasília, in UTC: where the daily limit restarts.
pub fn day_start(at: DateTime<Utc>) -> DateTime<Utc> {
    let local = at.with_timezone(&brasilia()).date_naive().and_time(NaiveTime::MIN);
    brasilia().from_local_datetime(&local).single().map(|t| t.to_utc()).unwrap_or(at - Duration::days(1))
}

impl Limits {
    /// Checks a transfer of `valor` at `at`, given what was already sent (or is on its
    /// way) today.
    pub fn check(&self, valor: Amount, sent_today: i64, at: DateTime<Utc>) -> Result<(), LimitViolation> {
        if valor > self.per_transfer {
            return Err(LimitViolation::PerTransfer(self.per_transfer));
        }
        if let Some(night) = self.night {
            if is_night(at) && valor > night {
                return Err(LimitViolation::Night(night));
            }
        }
        if sent_today + valor.centavos() > self.daily.centavos() {
            return Err(LimitViolation::Daily(self.daily));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn amount(s: &str) -> Amount {
        Amount::parse(s).unwrap()
    }

    #[test]
    fn the_night_runs_from_20h_to_6h_in_brasilia() {
        assert!(!is_night(at("2026-11-21T12:00:00-03:00")));
        assert!(!is_night(at("2026-11-21T06:00:00-03:00")));
        assert!(!is_night(at("2026-11-21T19:59:59-03:00")));
        assert!(is_night(at("2026-11-21T20:00:00-03:00")));
        assert!(is_night(at("2026-11-22T05:59:59-03:00")));
        assert!(is_night(at("2026-11-21T23:30:00Z")), "20:30 in Brasília");
    }

    #[test]
    fn the_day_starts_at_midnight_in_brasilia() {
        assert_eq!(day_start(at("2026-11-22T02:00:00Z")), at("2026-11-21T03:00:00Z"));
        assert_eq!(day_start(at("2026-11-22T03:00:00Z")), at("2026-11-22T03:00:00Z"));
    }

    #[test]
    fn limits_apply_per_transfer_per_day_and_at_night_for_individuals() {
        let pf = Limits { per_transfer: amount("5000.00"), daily: amount("8000.00"), night: Some(amount("1000.00")) };
        let noon = at("2026-11-21T12:00:00-03:00");
        let night = at("2026-11-21T22:00:00-03:00");
        assert_eq!(pf.check(amount("5000.00"), 0, noon), Ok(()));
        assert_eq!(pf.check(amount("5000.01"), 0, noon), Err(LimitViolation::PerTransfer(amount("5000.00"))));
        assert_eq!(pf.check(amount("3000.01"), 500_000, noon), Err(LimitViolation::Daily(amount("8000.00"))));
        assert_eq!(pf.check(amount("1000.00"), 0, night), Ok(()));
        assert_eq!(pf.check(amount("1000.01"), 0, night), Err(LimitViolation::Night(amount("1000.00"))));
        let pj = Limits { night: None, ..pf };
        assert_eq!(pj.check(amount("4000.00"), 0, night), Ok(()));
    }

    #[test]
    fn ids_envio_are_anchored() {
        assert!(IdEnvio::parse("pagamento123").is_some());
        assert!(IdEnvio::parse("").is_none());
        assert!(IdEnvio::parse("a-b").is_none());
        assert!(IdEnvio::parse(&"a".repeat(36)).is_none());
    }
}
