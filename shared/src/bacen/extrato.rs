//! Balance and statement (our extensions, in the API Pix's style): `Saldo`, `Extrato`.

use super::{timestamp, Parametros};
use crate::domain::money::Amount;
use serde::Serialize;

/// `GET /saldo`.
#[derive(Debug, Serialize)]
pub struct Saldo {
    pub disponivel: String,
    pub pendente: String,
    pub horario: String,
}

/// One posting on the merchant's accounts.
#[derive(Debug, Serialize)]
pub struct Lancamento<'a> {
    /// Opaque and this merchant's: not the platform-wide posting sequence.
    pub id: String,
    pub horario: String,
    pub tipo: &'static str,
    pub conta: &'static str,
    pub natureza: &'static str,
    pub valor: String,
    pub referencia: &'a serde_json::Value,
}

impl<'a> Lancamento<'a> {
    /// `amount` in signed centavos (positive: a credit).
    pub fn new(
        id: String,
        at: chrono::DateTime<chrono::Utc>,
        tipo: &'static str,
        available: bool,
        amount: Amount,
        credit: bool,
        referencia: &'a serde_json::Value,
    ) -> Self {
        Lancamento {
            id,
            horario: timestamp(at),
            tipo,
            conta: if available { "DISPONIVEL" } else { "PENDENTE" },
            natureza: if credit { "CREDITO" } else { "DEBITO" },
            valor: amount.to_string(),
            referencia,
        }
    }
}

/// `GET /extrato`.
#[derive(Debug, Serialize)]
pub struct Extrato<'a> {
    pub parametros: Parametros,
    pub lancamentos: Vec<Lancamento<'a>>,
}
