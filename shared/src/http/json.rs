//! Reading JSON request bodies field by field, collecting every violation at once.
//!
//! Bodies are first parsed as `serde_json::Value` (syntax errors give a position, never a
//! value), then read with `Fields`, which records a `Violacao` for each missing or
//! mistyped field (and, where a route asks, each unknown one), so a client sees all its
//! mistakes in one answer and no personal data is ever echoed back.

use super::problem::{ApiError, ProblemKind, Violacao};
use serde_json::{Map, Value};

/// The violations found while reading one body.
#[derive(Debug, Default)]
pub struct Violations(pub Vec<Violacao>);

impl Violations {
    pub fn add(&mut self, propriedade: impl Into<String>, razao: impl Into<String>) {
        self.0.push(Violacao { propriedade: propriedade.into(), razao: razao.into() });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` when nothing was violated, else the problem of `kind`.
    pub fn finish<T>(self, value: T, kind: ProblemKind, detail: &str) -> Result<T, ApiError> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(ApiError::with_violations(kind, detail, self.0))
        }
    }
}

/// Parses a body as JSON. Empty bodies and syntax errors are `RequisicaoInvalida`.
pub fn parse_body(body: &[u8]) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(
            ProblemKind::RequisicaoInvalida,
            "The request body is empty; a JSON object is expected.",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            ProblemKind::RequisicaoInvalida,
            format!("The request body is not valid JSON (line {}, column {}).", e.line(), e.column()),
        )
    })
}

/// The fields of one JSON object at `path`, read once each.
pub struct Fields<'a> {
    map: &'a Map<String, Value>,
    path: String,
    read: Vec<&'static str>,
}

/// A field's value: absent (or `null`), present and valid, or invalid (already recorded).
pub type Field<T> = Result<Option<T>, ()>;

impl<'a> Fields<'a> {
    /// The object `value` at `path`; records a violation if it is not an object.
    pub fn of(value: &'a Value, path: &str, v: &mut Violations) -> Option<Self> {
        match value {
            Value::Object(map) => Some(Fields { map, path: path.to_owned(), read: vec![] }),
            _ => {
                v.add(path, "must be a JSON object");
                None
            }
        }
    }

    pub fn path_of(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The raw value of `key`, `null` counting as absent.
    pub fn raw(&mut self, key: &'static str) -> Option<&'a Value> {
        self.read.push(key);
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// A string of at most `max_chars` characters, without control characters.
    pub fn string(&mut self, key: &'static str, max_chars: usize, v: &mut Violations) -> Field<&'a str> {
        let Some(value) = self.raw(key) else {
            return Ok(None);
        };
        let path = self.path_of(key);
        let Some(s) = value.as_str() else {
            v.add(path, "must be a string");
            return Err(());
        };
        if s.chars().count() > max_chars {
            v.add(path, format!("must have at most {max_chars} characters"));
            return Err(());
        }
        if s.chars().any(char::is_control) {
            v.add(path, "must not contain control characters");
            return Err(());
        }
        Ok(Some(s))
    }

    /// An integer within `range`.
    pub fn integer(
        &mut self,
        key: &'static str,
        range: std::ops::RangeInclusive<i64>,
        v: &mut Violations,
    ) -> Field<i64> {
        let Some(value) = self.raw(key) else {
            return Ok(None);
        };
        let path = self.path_of(key);
        match value.as_i64() {
            Some(n) if range.contains(&n) => Ok(Some(n)),
            Some(_) => {
                v.add(path, format!("must be between {} and {}", range.start(), range.end()));
                Err(())
            }
            None => {
                v.add(path, "must be an integer");
                Err(())
            }
        }
    }

    /// A nested object.
    pub fn object(&mut self, key: &'static str, v: &mut Violations) -> Field<Fields<'a>> {
        let Some(value) = self.raw(key) else {
            return Ok(None);
        };
        Fields::of(value, &self.path_of(key), v).map(Some).ok_or(())
    }

    /// An array of at most `max` items.
    pub fn array(&mut self, key: &'static str, max: usize, v: &mut Violations) -> Field<&'a Vec<Value>> {
        let Some(value) = self.raw(key) else {
            return Ok(None);
        };
        let path = self.path_of(key);
        match value.as_array() {
            Some(items) if items.len() <= max => Ok(Some(items)),
            Some(_) => {
                v.add(path, format!("must have at most {max} items"));
                Err(())
            }
            None => {
                v.add(path, "must be an array");
                Err(())
            }
        }
    }

    /// Records a violation for a required field that is absent.
    pub fn require<T>(&self, key: &'static str, field: Field<T>, v: &mut Violations) -> Field<T> {
        if let Ok(None) = field {
            v.add(self.path_of(key), "is required");
            return Err(());
        }
        field
    }

    /// Records every field that was never read. Bacen's resources do not call it (a
    /// tolerant reader: the spec counts new optional fields as compatible); our own
    /// extensions that move money or register receivers do, so a misspelt field is never
    /// silently dropped.
    pub fn deny_unknown(self, v: &mut Violations) {
        for key in self.map.keys() {
            if !self.read.iter().any(|r| r == key) {
                let shown: String = key.chars().take(40).collect();
                v.add(self.path_of(&shown), "is not a known field");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn collects_every_violation_in_one_pass() {
        let body = json!({"a": 1, "b": "x".repeat(5), "extra": true});
        let mut v = Violations::default();
        let mut f = Fields::of(&body, "cob", &mut v).unwrap();
        assert_eq!(f.string("a", 10, &mut v), Err(()));
        assert_eq!(f.string("b", 3, &mut v), Err(()));
        let missing = f.string("c", 3, &mut v);
        assert_eq!(f.require("c", missing, &mut v), Err(()));
        f.deny_unknown(&mut v);
        let props: Vec<_> = v.0.iter().map(|x| x.propriedade.as_str()).collect();
        assert_eq!(props, ["cob.a", "cob.b", "cob.c", "cob.extra"]);
    }

    #[test]
    fn syntax_errors_report_a_position_but_not_the_content() {
        let err = parse_body(br#"{"cpf": "12345678909",}"#).unwrap_err();
        assert_eq!(err.kind, ProblemKind::RequisicaoInvalida);
        assert!(!err.detail.contains("12345678909"));
        assert!(err.detail.contains("line 1"));
    }
}
