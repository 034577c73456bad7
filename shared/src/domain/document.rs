//! Brazilian taxpayer documents: CPF (people) and CNPJ (companies, including the
//! alphanumeric CNPJ introduced in 2026), each with its mod-11 check digits verified.
//!
//! Documents are personal data: `Debug` prints them masked, so they never reach a log
//! by accident. The full value is only available through `as_str`.

use std::fmt;

/// Why a string is not a valid CPF or CNPJ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    /// Wrong length or characters (CPF: 11 digits; CNPJ: 12 of `[0-9A-Z]` then 2 digits).
    #[error("does not have the document's format")]
    Format,
    /// The format is right but the check digits do not match.
    #[error("has invalid check digits")]
    CheckDigits,
}

/// A CPF: 11 digits, check digits verified, not a repeated-digit placeholder.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Cpf(String);

/// A CNPJ: 12 alphanumeric characters (`[0-9A-Z]`) followed by 2 numeric check digits.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Cnpj(String);

/// Either kind of document, as found in `devedor`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Document {
    Cpf(Cpf),
    Cnpj(Cnpj),
}

/// The mod-11 check digit used by both CPF and CNPJ over `values` with `weights`.
fn mod11_digit(values: &[u32], weights: impl Iterator<Item = u32>) -> u32 {
    let sum: u32 = values.iter().zip(weights).map(|(v, w)| v * w).sum();
    match sum % 11 {
        0 | 1 => 0,
        r => 11 - r,
    }
}

impl Cpf {
    pub fn parse(s: &str) -> Result<Self, DocumentError> {
        if s.len() != 11 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DocumentError::Format);
        }
        let d: Vec<u32> = s.bytes().map(|b| u32::from(b - b'0')).collect();
        if d.iter().all(|&x| x == d[0]) {
            // 000.000.000-00, 111.111.111-11, ... pass the checksum but are not CPFs.
            return Err(DocumentError::CheckDigits);
        }
        let dv1 = mod11_digit(&d[..9], (2..=10).rev());
        let dv2 = mod11_digit(&d[..10], (2..=11).rev());
        if d[9] != dv1 || d[10] != dv2 {
            return Err(DocumentError::CheckDigits);
        }
        Ok(Cpf(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `***.456.789-**`: the middle six digits, as the Bacen manuals mask a CPF.
    pub fn masked(&self) -> String {
        format!("***.{}.{}-**", &self.0[3..6], &self.0[6..9])
    }
}

/// CNPJ weights: 2..=9 repeating from the right.
fn cnpj_weights(len: usize) -> impl Iterator<Item = u32> {
    (0..len).rev().map(|i| (i as u32 % 8) + 2)
}

impl Cnpj {
    pub fn parse(s: &str) -> Result<Self, DocumentError> {
        let b = s.as_bytes();
        let base_ok = b.len() == 14
            && b[..12].iter().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
            && b[12..].iter().all(|c| c.is_ascii_digit());
        if !base_ok {
            return Err(DocumentError::Format);
        }
        // Each character counts as its ASCII code minus 48 ('0' = 0, 'A' = 17, ...).
        let v: Vec<u32> = b.iter().map(|&c| u32::from(c) - 48).collect();
        if v.iter().all(|&x| x == v[0]) {
            return Err(DocumentError::CheckDigits);
        }
        let dv1 = mod11_digit(&v[..12], cnpj_weights(12));
        let dv2 = mod11_digit(&v[..13], cnpj_weights(13));
        if v[12] != dv1 || v[13] != dv2 {
            return Err(DocumentError::CheckDigits);
        }
        Ok(Cnpj(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `12.***.***/0001-**`: root prefix and branch visible, the rest hidden.
    pub fn masked(&self) -> String {
        format!("{}.***.***/{}-**", &self.0[..2], &self.0[8..12])
    }
}

impl Document {
    pub fn as_str(&self) -> &str {
        match self {
            Document::Cpf(c) => c.as_str(),
            Document::Cnpj(c) => c.as_str(),
        }
    }

    pub fn masked(&self) -> String {
        match self {
            Document::Cpf(c) => c.masked(),
            Document::Cnpj(c) => c.masked(),
        }
    }

    /// A document as another system reported it, as a merchant may see it: a CPF or CNPJ
    /// in full is masked here; one already masked (digits, `*` and `.-/`, with a `*`) is
    /// kept; anything else is None.
    pub fn shown(raw: &str) -> Option<String> {
        if let Ok(c) = Cpf::parse(raw) {
            return Some(c.masked());
        }
        if let Ok(c) = Cnpj::parse(raw) {
            return Some(c.masked());
        }
        let masked_form =
            raw.len() <= 18 && raw.contains('*') && raw.bytes().all(|b| b.is_ascii_digit() || b"*.-/".contains(&b));
        masked_form.then(|| raw.to_owned())
    }
}

impl fmt::Debug for Cpf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cpf({})", self.masked())
    }
}

impl fmt::Debug for Cnpj {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cnpj({})", self.masked())
    }
}

/// Check-digit generators, for tests and for the sandbox's synthetic people.
pub mod generate {
    use super::*;

    /// The CPF whose first nine digits are `base` (each 0..=9).
    pub fn cpf(base: [u8; 9]) -> String {
        let mut d: Vec<u32> = base.iter().map(|&x| u32::from(x)).collect();
        d.push(mod11_digit(&d, (2..=10).rev()));
        d.push(mod11_digit(&d, (2..=11).rev()));
        d.iter().map(|x| char::from(b'0' + *x as u8)).collect()
    }

    /// The CNPJ whose first twelve characters are `base` (each `[0-9A-Z]`).
    pub fn cnpj(base: &str) -> String {
        let mut v: Vec<u32> = base.bytes().map(|c| u32::from(c) - 48).collect();
        v.push(mod11_digit(&v, cnpj_weights(12)));
        v.push(mod11_digit(&v, cnpj_weights(13)));
        let dv: String = v[12..].iter().map(|x| char::from(b'0' + *x as u8)).collect();
        format!("{base}{dv}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_reported_document_is_shown_masked_whether_it_came_masked_or_not() {
        assert_eq!(Document::shown("52998224725").as_deref(), Some("***.982.247-**"));
        assert_eq!(Document::shown("11222333000181").as_deref(), Some("11.***.***/0001-**"));
        assert_eq!(Document::shown("***.456.789-**").as_deref(), Some("***.456.789-**"));
        for garbled in ["", "52998224726", "Maria", "***\u{0}", "1234567890123456789*"] {
            assert_eq!(Document::shown(garbled), None, "{garbled:?}");
        }
    }

    #[test]
    fn known_valid_documents_parse() {
        // Published examples: a CPF, a numeric CNPJ and the Receita's alphanumeric example.
        assert!(Cpf::parse("12345678909").is_ok());
        assert!(Cnpj::parse("11222333000181").is_ok());
        assert!(Cnpj::parse("12ABC34501DE35").is_ok());
    }

    #[test]
    fn wrong_check_digits_are_rejected() {
        assert_eq!(Cpf::parse("12345678900"), Err(DocumentError::CheckDigits));
        assert_eq!(Cnpj::parse("11222333000182"), Err(DocumentError::CheckDigits));
        assert_eq!(Cnpj::parse("12ABC34501DE36"), Err(DocumentError::CheckDigits));
    }

    #[test]
    fn repeated_digits_are_not_documents() {
        assert_eq!(Cpf::parse("11111111111"), Err(DocumentError::CheckDigits));
        assert_eq!(Cnpj::parse("00000000000000"), Err(DocumentError::CheckDigits));
    }

    #[test]
    fn formats_are_anchored() {
        for bad in ["123.456.789-09", "1234567890", "123456789090", " 12345678909", "1234567890a"] {
            assert_eq!(Cpf::parse(bad), Err(DocumentError::Format), "{bad:?}");
        }
        for bad in ["12abc34501de35", "12ABC34501DEAB", "1122233300018", "11.222.333/0001-81"] {
            assert_eq!(Cnpj::parse(bad), Err(DocumentError::Format), "{bad:?}");
        }
    }

    #[test]
    fn debug_output_never_shows_the_whole_document() {
        let cpf = Cpf::parse("12345678909").unwrap();
        let shown = format!("{:?}", Document::Cpf(cpf));
        assert!(!shown.contains("12345678909"), "{shown}");
        assert!(shown.contains("***.456.789-**"));
    }

    proptest! {
        #[test]
        fn every_generated_cpf_is_valid(base in proptest::array::uniform9(0u8..10)) {
            prop_assume!(base.iter().any(|&d| d != base[0]));
            prop_assert!(Cpf::parse(&generate::cpf(base)).is_ok());
        }

        #[test]
        fn changing_a_cpf_check_digit_breaks_it(base in proptest::array::uniform9(0u8..10), pos in 9usize..11, delta in 1u8..10) {
            prop_assume!(base.iter().any(|&d| d != base[0]));
            let mut s = generate::cpf(base).into_bytes();
            s[pos] = b'0' + (s[pos] - b'0' + delta) % 10;
            let s = String::from_utf8(s).unwrap();
            prop_assert!(Cpf::parse(&s).is_err());
        }

        #[test]
        fn every_generated_cnpj_is_valid(base in "[0-9A-Z]{12}") {
            let cnpj = generate::cnpj(&base);
            prop_assume!(!cnpj.bytes().all(|c| c == cnpj.as_bytes()[0]));
            prop_assert!(Cnpj::parse(&cnpj).is_ok());
        }

        #[test]
        fn changing_a_cnpj_check_digit_breaks_it(base in "[0-9A-Z]{12}", pos in 12usize..14, delta in 1u8..10) {
            let mut s = generate::cnpj(&base).into_bytes();
            s[pos] = b'0' + (s[pos] - b'0' + delta) % 10;
            let s = String::from_utf8(s).unwrap();
            prop_assert!(Cnpj::parse(&s).is_err());
        }

        #[test]
        fn parsers_never_panic(s in "\\PC{0,20}") {
            let _ = Cpf::parse(&s);
            let _ = Cnpj::parse(&s);
        }
    }
}
