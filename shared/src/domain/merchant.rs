//! Merchants (the receivers who use the API) and their API keys.
//!
//! An API key is 32 random bytes, shown once as `tk_<base62>`; only its SHA-256 is stored.
//! A slow password hash is not needed: the key has 256 bits of entropy.

use rand::{distributions::Alphanumeric, Rng};
use sha2::{Digest, Sha256};
use std::fmt;
use uuid::Uuid;

/// A merchant's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MerchantId(pub Uuid);

impl fmt::Display for MerchantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An authenticated merchant, as a request sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merchant {
    pub id: MerchantId,
    /// Legal or trade name; goes (folded, cut to 25) into BR Codes.
    pub name: String,
    /// City; goes (folded, cut to 15) into BR Codes.
    pub city: String,
    /// The Pix keys registered to this merchant's account.
    pub pix_keys: Vec<String>,
    /// Fees on received Pix.
    pub fees: super::ledger::FeePlan,
    /// A person (PF) rather than a company (PJ): smaller transfer and key-lookup limits.
    pub individual: bool,
}

/// The receiver as a charge with a due date shows it (Bacen `recebedor`), beside the
/// merchant's name and city: its document and address, from its registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recebedor {
    pub documento: super::document::Document,
    pub nome_fantasia: Option<String>,
    pub logradouro: String,
    /// Two capital letters.
    pub uf: String,
    /// Eight digits.
    pub cep: String,
}

/// Why receiver details are refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecebedorError {
    #[error("the document must be a valid CPF or CNPJ")]
    Documento,
    #[error("logradouro and nomeFantasia must have 1 to 200 characters")]
    Texto,
    #[error("uf must be two capital letters")]
    Uf,
    #[error("cep must be eight digits")]
    Cep,
}

impl Recebedor {
    pub fn parse(
        documento: &str,
        nome_fantasia: Option<&str>,
        logradouro: &str,
        uf: &str,
        cep: &str,
    ) -> Result<Self, RecebedorError> {
        use super::document::{Cnpj, Cpf, Document};
        let documento = match documento.len() {
            11 => Cpf::parse(documento).map(Document::Cpf),
            _ => Cnpj::parse(documento).map(Document::Cnpj),
        }
        .map_err(|_| RecebedorError::Documento)?;
        let text = |t: &str| {
            let n = t.trim().chars().count();
            (1..=200).contains(&n) && !t.chars().any(char::is_control)
        };
        if !text(logradouro) || nome_fantasia.is_some_and(|n| !text(n)) {
            return Err(RecebedorError::Texto);
        }
        if uf.len() != 2 || !uf.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(RecebedorError::Uf);
        }
        if cep.len() != 8 || !cep.bytes().all(|b| b.is_ascii_digit()) {
            return Err(RecebedorError::Cep);
        }
        Ok(Recebedor {
            documento,
            nome_fantasia: nome_fantasia.map(|n| n.trim().to_owned()),
            logradouro: logradouro.trim().to_owned(),
            uf: uf.to_owned(),
            cep: cep.to_owned(),
        })
    }
}

impl Merchant {
    pub fn owns_key(&self, chave: &str) -> bool {
        self.pix_keys.iter().any(|k| k == chave)
    }
}

const API_KEY_PREFIX: &str = "tk_";
const API_KEY_RANDOM_CHARS: usize = 43; // 43 base62 characters ~ 256 bits

/// A freshly generated API key. `Debug` hides it; `expose` is for showing it once.
pub struct ApiKey(String);

/// The stored form of an API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiKeyHash(pub [u8; 32]);

impl ApiKey {
    pub fn generate() -> Self {
        let random: String =
            rand::thread_rng().sample_iter(&Alphanumeric).take(API_KEY_RANDOM_CHARS).map(char::from).collect();
        ApiKey(format!("{API_KEY_PREFIX}{random}"))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> ApiKeyHash {
        ApiKeyHash::of(&self.0)
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

impl ApiKeyHash {
    /// The hash of whatever a caller presented as a key.
    pub fn of(presented: &str) -> Self {
        ApiKeyHash(Sha256::digest(presented.as_bytes()).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_hash_deterministically() {
        let a = ApiKey::generate();
        let b = ApiKey::generate();
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.hash(), ApiKeyHash::of(a.expose()));
        assert!(a.expose().starts_with("tk_") && a.expose().len() == 46);
        assert_eq!(format!("{a:?}"), "ApiKey(***)");
    }
}
