//! Logging and metrics: JSON lines for CloudWatch (or compact text for people), every line
//! passed through a redactor that masks CPF/CNPJ-like numbers and e-mail addresses, and
//! business metrics as CloudWatch Embedded Metric Format lines (no API calls).

use std::io::{self, Write};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `json` for Lambda and machines; text for people.
/// The level comes from `RUST_LOG` (default `info`). Safe to call twice.
pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_writer(RedactedStdout);
    let _ = if json {
        builder.json().flatten_event(true).with_current_span(true).with_span_list(false).try_init()
    } else {
        builder.compact().with_ansi(false).try_init()
    };
}

/// Standard output through `redact`.
#[derive(Clone, Copy)]
pub struct RedactedStdout;

impl<'a> MakeWriter<'a> for RedactedStdout {
    type Writer = Redacting;
    fn make_writer(&'a self) -> Self::Writer {
        Redacting
    }
}

/// A writer that masks personal data in what it writes (one formatted event per write).
pub struct Redacting;

impl Write for Redacting {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        io::stdout().lock().write_all(redact(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stdout().flush()
    }
}

/// Masks what could be a CPF (11 digits), a CNPJ (14 digits or 12 alphanumerics and 2
/// digits, punctuated or not), a Brazilian phone key (`+55` and 10 or 11 digits) or an
/// e-mail address, also inside URLs (`/dict/52998224725`, and percent-encoded: `%40` for
/// `@`, `%2B` for `+`, `%2F` for `/`, ...) — a last line of defence: no code should log
/// them in the first place. Longer digit runs (ids, timestamps) are left alone.
pub fn redact(line: &str) -> String {
    let decoded;
    let line = if line.contains('%') {
        decoded = decode_printable(line);
        decoded.as_str()
    } else {
        line
    };
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < chars.len() {
        if let Some((prefix, len)) = phone_at(&chars, i) {
            out.extend(&chars[i..i + prefix]);
            out.push_str(&mask(&chars[i + prefix..i + len]));
            i += len;
        } else if let Some(len) = document_at(&chars, i) {
            out.push_str(&mask(&chars[i..i + len]));
            i += len;
        } else if let Some((local, total)) = email_at(&chars, i) {
            out.push(chars[i]);
            out.push_str("***");
            out.extend(&chars[i + local..i + total]);
            i += total;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// `%XX` escapes that stand for a printable ASCII character, decoded (so that a document
/// or an address cannot hide behind its URL form); any other escape is kept as written, so
/// decoding never adds a control character to a log line — nor a `"`, `\` or `%`, which
/// would break out of a JSON string (or make a new escape) in a JSON log line.
fn decode_printable(line: &str) -> String {
    let bytes = line.as_bytes();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| line.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            .filter(|b| (0x20..0x7f).contains(b) && !matches!(b, b'"' | b'\\' | b'%'));
        match escaped {
            Some(b) => {
                out.push(char::from(b));
                i += 3;
            }
            None => {
                let c = line[i..].chars().next().unwrap_or('\u{fffd}');
                out.push(c);
                i += c.len_utf8().max(1);
            }
        }
    }
    out
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Whether `chars` holds `pat` at `i`, ignoring ASCII case.
fn holds(chars: &[char], i: usize, pat: &str) -> bool {
    pat.chars().enumerate().all(|(k, p)| chars.get(i + k).is_some_and(|c| c.eq_ignore_ascii_case(&p)))
}

/// (length of the `+` before the digits, length of the whole key) of a phone key at `i`:
/// `+55` and 10 or 11 more digits, not inside a longer word.
fn phone_at(chars: &[char], i: usize) -> Option<(usize, usize)> {
    if chars[i] != '+' {
        return None;
    }
    let prefix = 1;
    if i > 0 && is_word(chars[i - 1]) {
        return None;
    }
    let digits = chars[i + prefix..].iter().take_while(|c| c.is_ascii_digit()).count();
    let end = i + prefix + digits;
    let whole = end >= chars.len() || !is_word(chars[end]);
    (holds(chars, i + prefix, "55") && (12..=13).contains(&digits) && whole).then_some((prefix, prefix + digits))
}

/// The length of a CPF/CNPJ-shaped token starting at `i`, if there is one there. (A `/`
/// may come before one: a URL path.)
fn document_at(chars: &[char], i: usize) -> Option<usize> {
    if i > 0 && (is_word(chars[i - 1]) || matches!(chars[i - 1], '.' | '-')) {
        return None;
    }
    let mut digits = 0;
    let mut alnum = 0;
    let mut j = i;
    while j < chars.len() && (chars[j].is_ascii_alphanumeric() || (matches!(chars[j], '.' | '/' | '-') && j > i)) {
        if chars[j].is_ascii_digit() {
            digits += 1;
        }
        if chars[j].is_ascii_alphanumeric() {
            alnum += 1;
        }
        j += 1;
    }
    // Trailing punctuation is not part of the token.
    while j > i && matches!(chars[j - 1], '.' | '/' | '-') {
        j -= 1;
    }
    if j < chars.len() && is_word(chars[j]) {
        return None;
    }
    let token = &chars[i..j];
    let all_digits = digits == alnum;
    let cnpj_alnum = alnum == 14
        && token.iter().filter(|c| c.is_ascii_alphanumeric()).skip(12).all(|c| c.is_ascii_digit())
        && token.iter().any(|c| c.is_ascii_digit());
    let upper = token.iter().all(|c| !c.is_ascii_lowercase());
    ((all_digits && (alnum == 11 || alnum == 14)) || (cnpj_alnum && upper && digits >= 2)).then_some(j - i)
}

/// Keeps the punctuation and the last two characters; stars the rest.
fn mask(token: &[char]) -> String {
    let n = token.len();
    token.iter().enumerate().map(|(k, c)| if c.is_ascii_alphanumeric() && k + 2 < n { '*' } else { *c }).collect()
}

/// (length of the local part, length of the whole address) of an e-mail at `i`.
fn email_at(chars: &[char], i: usize) -> Option<(usize, usize)> {
    let local_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-');
    if i > 0 && local_char(chars[i - 1]) || !chars[i].is_ascii_alphanumeric() {
        return None;
    }
    let mut j = i;
    while j < chars.len() && local_char(chars[j]) {
        j += 1;
    }
    if chars.get(j) != Some(&'@') {
        return None;
    }
    let local = j - i;
    let mut k = j + 1;
    while k < chars.len() && (chars[k].is_ascii_alphanumeric() || matches!(chars[k], '.' | '-')) {
        k += 1;
    }
    let domain = &chars[j + 1..k];
    (domain.contains(&'.') && domain.len() >= 3).then_some((local, k - i))
}

/// The X-Ray trace id of this invocation (Lambda sets `_X_AMZN_TRACE_ID`), or of the
/// request's `x-amzn-trace-id` header: `Root=1-...;Parent=...;Sampled=...` → its root.
pub fn trace_id(header: Option<&str>) -> Option<String> {
    let raw = header.map(str::to_owned).or_else(|| std::env::var("_X_AMZN_TRACE_ID").ok())?;
    let root = raw.split(';').find_map(|p| p.trim().strip_prefix("Root=")).unwrap_or(raw.as_str());
    let ok = !root.is_empty() && root.len() <= 64 && root.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    ok.then(|| root.to_owned())
}

/// The CloudWatch namespace of business metrics.
pub const NAMESPACE: &str = "Tucano";

/// A CloudWatch unit.
#[derive(Debug, Clone, Copy)]
pub enum Unit {
    Count,
    Milliseconds,
    /// Amounts, in centavos (exact integers).
    None,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
            Unit::None => "None",
        }
    }
}

/// One Embedded Metric Format line: CloudWatch Logs turns it into metrics (dimension
/// `Function`), with no API call from the function. Never carries personal data.
pub fn emf_line(metrics: &[(&str, f64, Unit)], function: &str, timestamp_ms: i64) -> String {
    let defs: Vec<serde_json::Value> =
        metrics.iter().map(|(n, _, u)| serde_json::json!({"Name": n, "Unit": u.as_str()})).collect();
    let mut line = serde_json::json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{"Namespace": NAMESPACE, "Dimensions": [["Function"]], "Metrics": defs}],
        },
        "Function": function,
    });
    for (name, value, _) in metrics {
        line[*name] = serde_json::json!(value);
    }
    line.to_string()
}

/// Writes business metrics as one EMF line on standard output.
pub fn metrics(metrics: &[(&str, f64, Unit)]) {
    let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "local".into());
    let line = emf_line(metrics, &function, chrono::Utc::now().timestamp_millis());
    let _ = writeln!(io::stdout().lock(), "{line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_and_emails_are_masked_ids_and_timestamps_are_not() {
        assert_eq!(redact("cpf=52998224725 ok"), "cpf=*********25 ok");
        assert_eq!(redact(r#"{"cpf":"529.982.247-25"}"#), r#"{"cpf":"***.***.***-25"}"#);
        assert_eq!(redact("cnpj 11.222.333/0001-81."), "cnpj **.***.***/****-81.");
        assert_eq!(redact("12ABC34501DE35"), "************35");
        assert_eq!(redact("key fornecedor@example.com here"), "key f***@example.com here");
        // Inside URLs: a path segment, a percent-encoded @ or +.
        assert_eq!(redact("GET /dict/52998224725 404"), "GET /dict/*********25 404");
        assert_eq!(redact("/dict/fornecedor%40example.com"), "/dict/f***@example.com");
        assert_eq!(redact("/dict/+5511988887777?x"), "/dict/+***********77?x");
        assert_eq!(redact("/dict/%2B5511988887777"), "/dict/+***********77");
        // Any escape that hides a separator: %2F before a CPF, %2E in a domain, %3D.
        assert_eq!(redact("GET /dict%2F52998224725"), "GET /dict/*********25");
        assert_eq!(redact("q=ana%40example%2Ecom"), "q=a***@example.com");
        assert_eq!(redact("cpf%3D52998224725"), "cpf=*********25");
        // An escape for a control character stays escaped: no line break gets in; nor
        // does a quote or backslash that would end a JSON string early.
        assert_eq!(redact("a%0Ab %zz %4"), "a%0Ab %zz %4");
        assert_eq!(
            redact(r#"{"path":"/x%22,%22level%22:%22ERROR%5Cn"}"#),
            r#"{"path":"/x%22,%22level%22:%22ERROR%5Cn"}"#
        );
        assert_eq!(redact("a%2540example.com"), "a%2540example.com", "one decoding pass, and %25 stays");
        assert_eq!(redact("phone +55 11"), "phone +55 11");
        for kept in [
            "E99999999202611221305000000000001",
            "2026-11-22T02:39:15.321Z",
            "request_id=8bb542c5-70dd-4720-8373-496508822c89",
            "latency_ms=12.5",
            "tucanotest00000000000000000001",
            "version 1.2.3",
        ] {
            assert_eq!(redact(kept), kept);
        }
    }

    #[test]
    fn trace_ids_come_from_the_header_or_lambda_environment() {
        let h = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
        assert_eq!(trace_id(Some(h)).as_deref(), Some("1-5759e988-bd862e3fe1be46a994272793"));
        assert_eq!(trace_id(Some("Root=bad value")), None);
    }

    #[test]
    fn an_emf_line_declares_its_metrics_and_carries_their_values() {
        let line = emf_line(&[("PixReceived", 1.0, Unit::Count), ("PixReceivedValue", 1234.0, Unit::None)], "f", 7);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["_aws"]["Timestamp"], 7);
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Tucano");
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Metrics"][1]["Name"], "PixReceivedValue");
        assert_eq!(v["PixReceivedValue"], 1234.0);
        assert_eq!(v["Function"], "f");
    }
}
