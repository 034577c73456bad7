//! Pix keys (DICT "chaves"): CPF, CNPJ, phone, email and random (EVP), in DICT format.

use super::document::{Cnpj, Cpf};
use std::fmt;

/// The five DICT key types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PixKeyType {
    Cpf,
    Cnpj,
    Phone,
    Email,
    Evp,
}

/// Why a string is not a Pix key in DICT format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PixKeyError {
    /// Matches none of the five DICT formats (e.g. an email with capitals, a phone without `+`).
    #[error("is not a Pix key (CPF, CNPJ, phone as +<country code><number>, lowercase email or EVP)")]
    Unrecognized,
    /// Shaped like a CPF (11 digits) or CNPJ (14 characters) but not a valid one, e.g. wrong check digits.
    #[error("looks like a CPF or CNPJ key but its check digits are invalid")]
    Document,
}

/// A valid Pix key. Keys can be personal data; `Debug` masks them.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PixKey {
    kind: PixKeyType,
    value: String,
}

const MAX_EMAIL_LEN: usize = 77;

fn is_evp(s: &str) -> bool {
    // Lowercase hex UUID; DICT does not require version 4.
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => matches!(c, b'0'..=b'9' | b'a'..=b'f'),
        })
}

fn is_phone(s: &str) -> bool {
    // ^\+[1-9][0-9]\d{1,14}$
    let b = s.as_bytes();
    (4..=17).contains(&b.len())
        && b[0] == b'+'
        && (b'1'..=b'9').contains(&b[1])
        && b[2..].iter().all(|c| c.is_ascii_digit())
}

fn is_email(s: &str) -> bool {
    if s.len() > MAX_EMAIL_LEN {
        return false;
    }
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b".!#$&'*+/=?^_`{|}~-".contains(&c));
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
    };
    local_ok && domain.contains('.') && domain.split('.').all(label_ok)
}

impl PixKey {
    pub fn parse(s: &str) -> Result<Self, PixKeyError> {
        let kind = if s.starts_with('+') {
            is_phone(s).then_some(PixKeyType::Phone)
        } else if s.contains('@') {
            is_email(s).then_some(PixKeyType::Email)
        } else if is_evp(s) {
            Some(PixKeyType::Evp)
        } else if s.len() == 11 && s.bytes().all(|b| b.is_ascii_digit()) {
            Cpf::parse(s).map_err(|_| PixKeyError::Document)?;
            Some(PixKeyType::Cpf)
        } else if s.len() == 14 && s.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()) {
            Cnpj::parse(s).map_err(|_| PixKeyError::Document)?;
            Some(PixKeyType::Cnpj)
        } else {
            None
        };
        let kind = kind.ok_or(PixKeyError::Unrecognized)?;
        Ok(PixKey { kind, value: s.to_owned() })
    }

    pub fn kind(&self) -> PixKeyType {
        self.kind
    }

    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// A form safe for logs: the type and a short hint, never the whole key.
    pub fn masked(&self) -> String {
        let v = &self.value;
        match self.kind {
            PixKeyType::Cpf => format!("cpf:***{}**", &v[3..9]),
            PixKeyType::Cnpj => format!("cnpj:{}***", &v[..8]),
            PixKeyType::Phone => format!("phone:{}****{}", &v[..3], &v[v.len() - 2..]),
            PixKeyType::Email => format!("email:{}***", &v[..1]),
            PixKeyType::Evp => format!("evp:{}...", &v[..8]),
        }
    }
}

impl fmt::Debug for PixKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PixKey({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn recognises_each_key_type() {
        let kind = |s| PixKey::parse(s).map(|k| k.kind());
        assert_eq!(kind("12345678909"), Ok(PixKeyType::Cpf));
        assert_eq!(kind("11222333000181"), Ok(PixKeyType::Cnpj));
        assert_eq!(kind("12ABC34501DE35"), Ok(PixKeyType::Cnpj));
        assert_eq!(kind("+5511987654321"), Ok(PixKeyType::Phone));
        assert_eq!(kind("loja@example.com.br"), Ok(PixKeyType::Email));
        assert_eq!(kind("123e4567-e89b-12d3-a456-426614174000"), Ok(PixKeyType::Evp));
    }

    #[test]
    fn rejects_what_dict_would_reject() {
        for bad in [
            "Loja@Example.com",
            "loja@localhost",
            "5511987654321",
            "+0511987654321",
            "123E4567-E89B-12D3-A456-426614174000",
            "",
            "12345678900",
        ] {
            assert!(PixKey::parse(bad).is_err(), "{bad:?}");
        }
        let long = format!("{}@example.com", "a".repeat(70));
        assert!(PixKey::parse(&long).is_err());
    }

    #[test]
    fn debug_masks_the_key() {
        let k = PixKey::parse("loja@example.com.br").unwrap();
        assert!(!format!("{k:?}").contains("loja@example"));
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,80}") {
            if let Ok(k) = PixKey::parse(&s) {
                let _ = k.masked();
            }
        }
    }
}
