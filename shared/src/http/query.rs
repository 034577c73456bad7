//! Query strings: percent-decoded parameters read by name, each allowed once, unknown
//! ones refused, every problem collected as a violation.

use super::json::Violations;
use super::problem::{ApiError, ProblemKind};
use crate::domain::document::{Cnpj, Cpf, Document};
use chrono::{DateTime, Utc};

pub const DEFAULT_PAGE_SIZE: u32 = 100;
pub const MAX_PAGE_SIZE: u32 = 1000;
const MAX_PAGE: u32 = 1_000_000;

/// The parameters of one query string.
pub struct QueryParams {
    pairs: Vec<(String, String)>,
    used: Vec<&'static str>,
    pub violations: Violations,
}

fn shown(name: &str) -> String {
    name.chars().take(40).collect()
}

impl QueryParams {
    pub fn new(query: Option<&str>) -> Self {
        let pairs: Vec<(String, String)> =
            query.map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default();
        let mut violations = Violations::default();
        for (i, (name, _)) in pairs.iter().enumerate() {
            // Report each repeated name once, at its second occurrence.
            if pairs[..i].iter().filter(|(n, _)| n == name).count() == 1 {
                violations.add(shown(name), "is given more than once");
            }
        }
        QueryParams { pairs, used: vec![], violations }
    }

    /// The raw value of `name`, if given.
    pub fn get(&mut self, name: &'static str) -> Option<&str> {
        self.used.push(name);
        self.pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// `name` parsed by `parse`; a violation saying `razao` when it does not parse.
    pub fn parse<T>(&mut self, name: &'static str, razao: &str, parse: impl FnOnce(&str) -> Option<T>) -> Option<T> {
        let value = self.get(name)?.to_owned();
        let parsed = parse(&value);
        if parsed.is_none() {
            self.violations.add(name, razao);
        }
        parsed
    }

    /// An RFC 3339 timestamp. A positive offset sent with its `+` unencoded (as many HTTP
    /// clients do) arrives as a space, which form decoding makes of a `+`: read as the `+`.
    pub fn timestamp(&mut self, name: &'static str) -> Option<DateTime<Utc>> {
        self.parse(name, "must be an RFC 3339 timestamp", |s| {
            let parse = |s: &str| DateTime::parse_from_rfc3339(s).ok().map(|t| t.to_utc());
            parse(s).or_else(|| {
                // Only an offset's place: "...T12:00:00 03:00" or "...T12:00:00.5 03:00".
                let (time, offset) = s.rsplit_once(' ')?;
                (offset.len() == 5 && offset.as_bytes()[2] == b':').then(|| parse(&format!("{time}+{offset}")))?
            })
        })
    }

    pub fn required_timestamp(&mut self, name: &'static str) -> Option<DateTime<Utc>> {
        if self.pairs.iter().all(|(n, _)| n != name) {
            self.used.push(name);
            self.violations.add(name, "is required");
            return None;
        }
        self.timestamp(name)
    }

    pub fn boolean(&mut self, name: &'static str) -> Option<bool> {
        self.parse(name, "must be true or false", |s| match s {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        })
    }

    /// `fim`, optional, as applied ([`crate::bacen::fim_applied`]).
    pub fn fim(&mut self) -> Option<DateTime<Utc>> {
        self.timestamp("fim").map(crate::bacen::fim_applied)
    }

    /// `inicio` and `fim`, both required, `fim` (as stated) not before `inicio`; `fim` as
    /// applied ([`crate::bacen::fim_applied`]).
    pub fn interval(&mut self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let inicio = self.required_timestamp("inicio");
        let fim = self.required_timestamp("fim");
        let (inicio, fim) = (inicio?, fim?);
        if fim < inicio {
            self.violations.add("fim", "must not be before inicio");
        }
        Some((inicio, crate::bacen::fim_applied(fim)))
    }

    /// The `cpf` or `cnpj` filter (not both).
    pub fn document(&mut self) -> Option<Document> {
        let cpf = self.parse("cpf", "must be a valid CPF (11 digits)", |s| Cpf::parse(s).ok());
        let cnpj = self.parse("cnpj", "must be a valid CNPJ", |s| Cnpj::parse(s).ok());
        if self.pairs.iter().any(|(n, _)| n == "cpf") && self.pairs.iter().any(|(n, _)| n == "cnpj") {
            self.violations.add("cnpj", "cpf and cnpj cannot be used together");
            return None;
        }
        cpf.map(Document::Cpf).or(cnpj.map(Document::Cnpj))
    }

    /// `paginacao.paginaAtual` (default 0) and `paginacao.itensPorPagina` (default 100).
    pub fn pagination(&mut self) -> (u32, u32) {
        let page = self
            .parse("paginacao.paginaAtual", "must be a whole number from 0", |s| {
                s.parse::<u32>().ok().filter(|n| *n <= MAX_PAGE)
            })
            .unwrap_or(0);
        let size = self
            .parse("paginacao.itensPorPagina", "must be a whole number from 1 to 1000", |s| {
                s.parse::<u32>().ok().filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
            })
            .unwrap_or(DEFAULT_PAGE_SIZE);
        (page, size)
    }

    /// `Ok(value)` if every parameter was known and valid; else the problem of `kind`.
    pub fn finish<T>(mut self, value: Option<T>, kind: ProblemKind, detail: &str) -> Result<T, ApiError> {
        for (name, _) in &self.pairs {
            if !self.used.contains(&name.as_str()) && !self.violations.0.iter().any(|v| v.propriedade == shown(name)) {
                self.violations.add(shown(name), "is not a known parameter");
            }
        }
        match value {
            Some(v) if self.violations.is_empty() => Ok(v),
            _ => Err(ApiError::with_violations(kind, detail, self.violations.0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_known_parameters_and_refuses_the_rest() {
        let mut q = QueryParams::new(Some("inicio=2026-01-01T00:00:00Z&fim=2026-02-01T00:00:00%2B00:00&x=1&fim=2"));
        let interval = q.interval();
        assert!(interval.is_some());
        let err = q.finish(interval, ProblemKind::CobConsultaInvalida, "bad").unwrap_err();
        let props: Vec<_> = err.violacoes.iter().map(|v| v.propriedade.as_str()).collect();
        assert_eq!(props, ["fim", "x"]);
    }

    #[test]
    fn a_fim_stated_to_a_minutes_last_second_covers_that_whole_second() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        let fim = |query: &str| QueryParams::new(Some(query)).fim();
        assert_eq!(fim("fim=2026-12-05T23:59:59Z"), Some(at("2026-12-05T23:59:59.999999Z")));
        assert_eq!(fim("fim=2026-12-05T20:59:59-03:00"), Some(at("2026-12-05T23:59:59.999999Z")));
        assert_eq!(fim("fim=2026-12-05T23:59:59.250Z"), Some(at("2026-12-05T23:59:59.250Z")), "as precise as stated");
        assert_eq!(fim("fim=2026-12-05T11:00:00Z"), Some(at("2026-12-05T11:00:00Z")), "the next window's inicio");
        let mut q = QueryParams::new(Some("inicio=2026-12-05T23:59:59Z&fim=2026-12-05T23:59:59Z"));
        assert_eq!(q.interval(), Some((at("2026-12-05T23:59:59Z"), at("2026-12-05T23:59:59.999999Z"))));
        // Judged as stated: a fim before inicio is refused, whatever it covers.
        let mut q = QueryParams::new(Some("inicio=2026-12-05T23:59:59.5Z&fim=2026-12-05T23:59:59Z"));
        let interval = q.interval();
        assert!(q.finish(interval, ProblemKind::CobConsultaInvalida, "bad").is_err());
    }

    #[test]
    fn an_offset_whose_plus_was_sent_unencoded_is_read_as_the_offset() {
        let at = |query: &str| QueryParams::new(Some(query)).timestamp("inicio");
        let expected = DateTime::parse_from_rfc3339("2026-01-01T09:00:00Z").unwrap().to_utc();
        assert_eq!(at("inicio=2026-01-01T12:00:00+03:00"), Some(expected));
        assert_eq!(at("inicio=2026-01-01T12:00:00%2B03:00"), Some(expected));
        assert_eq!(at("inicio=2026-01-01T06:00:00-03:00"), Some(expected));
        let mut q = QueryParams::new(Some("inicio=2026-01-01T12:00:00+0300"));
        assert_eq!(q.timestamp("inicio"), None, "still RFC 3339 only");
        assert!(!q.violations.is_empty());
    }

    #[test]
    fn pagination_has_bacen_defaults_and_limits() {
        let mut q = QueryParams::new(None);
        assert_eq!(q.pagination(), (0, 100));
        let mut q = QueryParams::new(Some("paginacao.itensPorPagina=1001"));
        q.pagination();
        assert!(!q.violations.is_empty());
    }
}
