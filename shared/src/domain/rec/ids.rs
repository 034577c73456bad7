//! Pix Automático's ids: `idRec` (`R`, the retry flag `R` or `N`, the ISPB, the creation
//! date `yyyyMMdd` and 11 alphanumerics) and `idSolicRec` (`SC`, the ISPB, the date and 11
//! alphanumerics), 29 characters each.

use super::recurrence::RetryPolicy;
use chrono::NaiveDate;
use rand::{distributions::Alphanumeric, Rng};

fn random_alnum(n: usize) -> String {
    rand::thread_rng().sample_iter(&Alphanumeric).take(n).map(char::from).collect()
}

fn well_formed(s: &str, prefix_ok: impl Fn(&str) -> bool) -> bool {
    s.len() == 29
        && s.bytes().all(|b| b.is_ascii_alphanumeric())
        && prefix_ok(&s[..2])
        && s[2..10].bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
        && NaiveDate::parse_from_str(&s[10..18], "%Y%m%d").is_ok()
}

/// A recurrence's id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdRec(String);

impl IdRec {
    pub fn generate(policy: RetryPolicy, ispb: &str, created: NaiveDate) -> Self {
        let flag = match policy {
            RetryPolicy::Permite3R7D => 'R',
            RetryPolicy::NaoPermite => 'N',
        };
        Self(format!("R{flag}{ispb}{}{}", created.format("%Y%m%d"), random_alnum(11)))
    }

    pub fn parse(s: &str) -> Option<Self> {
        well_formed(s, |p| p == "RR" || p == "RN").then(|| Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A confirmation request's id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdSolicRec(String);

impl IdSolicRec {
    pub fn generate(ispb: &str, created: NaiveDate) -> Self {
        Self(format!("SC{ispb}{}{}", created.format("%Y%m%d"), random_alnum(11)))
    }

    pub fn parse(s: &str) -> Option<Self> {
        well_formed(s, |p| p == "SC").then(|| Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_follow_the_formation_rule_and_parse_back() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
        let rec = IdRec::generate(RetryPolicy::Permite3R7D, "99999999", day);
        assert!(rec.as_str().starts_with("RR9999999920261204"));
        assert_eq!(IdRec::parse(rec.as_str()), Some(rec));
        let no_retry = IdRec::generate(RetryPolicy::NaoPermite, "99999999", day);
        assert!(no_retry.as_str().starts_with("RN"));
        let solic = IdSolicRec::generate("99999999", day);
        assert_eq!(IdSolicRec::parse(solic.as_str()), Some(solic));
    }

    #[test]
    fn malformed_ids_are_refused() {
        for bad in
            ["", "RX9999999920261204abcdefghijk", "RR9999999920261340abcdefghijk", "RR99999999202612041bcdefghij"]
        {
            assert_eq!(IdRec::parse(bad), None, "{bad}");
        }
        assert_eq!(IdSolicRec::parse("RR9999999920261204abcdefghijk"), None);
    }
}
