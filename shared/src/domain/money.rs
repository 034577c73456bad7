//! Exact money: integer centavos inside, the Bacen `"123.45"` string only at the edge.

use std::fmt;

/// The largest amount the Bacen string format can carry: ten integer digits.
const MAX_CENTAVOS: i64 = 999_999_999_999;

/// A non-negative amount of Brazilian reais, held as integer centavos.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Amount(i64);

/// Why a string is not a Bacen amount.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// Not `^\d{1,10}\.\d{2}$`: a sign, missing or extra decimals, too many digits, ...
    #[error("must be a decimal with 1 to 10 integer digits and exactly 2 decimals, like \"10.00\"")]
    Format,
    /// Centavos outside what the format can express (only reachable from integers).
    #[error("is out of range")]
    OutOfRange,
}

impl Amount {
    pub const ZERO: Amount = Amount(0);

    /// Parses the Bacen amount format `^\d{1,10}\.\d{2}$` exactly (the spec's regex is
    /// unanchored; we anchor it). No rounding ever happens: `"1.005"` is an error.
    pub fn parse(s: &str) -> Result<Self, AmountError> {
        let (int, frac) = s.split_once('.').ok_or(AmountError::Format)?;
        let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if int.is_empty() || int.len() > 10 || frac.len() != 2 || !digits(int) || !digits(frac) {
            return Err(AmountError::Format);
        }
        // At most 12 ASCII digits: always fits in an i64.
        let int: i64 = int.parse().map_err(|_| AmountError::Format)?;
        let frac: i64 = frac.parse().map_err(|_| AmountError::Format)?;
        Ok(Amount(int * 100 + frac))
    }

    /// An amount from integer centavos (as stored in the database).
    pub fn from_centavos(centavos: i64) -> Result<Self, AmountError> {
        if (0..=MAX_CENTAVOS).contains(&centavos) {
            Ok(Amount(centavos))
        } else {
            Err(AmountError::OutOfRange)
        }
    }

    pub fn centavos(self) -> i64 {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for Amount {
    /// The Bacen wire format: `"1234.56"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_the_bacen_format_into_centavos() {
        assert_eq!(Amount::parse("123.45").unwrap().centavos(), 12345);
        assert_eq!(Amount::parse("0.01").unwrap().centavos(), 1);
        assert_eq!(Amount::parse("9999999999.99").unwrap().centavos(), MAX_CENTAVOS);
    }

    #[test]
    fn rejects_everything_outside_the_anchored_format() {
        for bad in [
            "10",
            "-1.00",
            "1.005",
            "1.5",
            ".50",
            "1.",
            "+1.00",
            " 1.00",
            "1.00 ",
            "1,00",
            "10000000000.00",
            "1e2",
            "",
            "abc.de",
            "1.0a",
            "١.٠٠",
        ] {
            assert_eq!(Amount::parse(bad), Err(AmountError::Format), "{bad:?}");
        }
    }

    #[test]
    fn zero_parses_so_that_callers_decide_whether_it_is_allowed() {
        assert!(Amount::parse("0.00").unwrap().is_zero());
    }

    proptest! {
        #[test]
        fn display_and_parse_round_trip(c in 0i64..=MAX_CENTAVOS) {
            let a = Amount::from_centavos(c).unwrap();
            prop_assert_eq!(Amount::parse(&a.to_string()).unwrap(), a);
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,20}") {
            let _ = Amount::parse(&s);
        }
    }
}
