//! Text normalisation: for the BR Code (accents stripped, only printable ASCII kept), and
//! free text another party sends us (control characters, which Postgres's text refuses
//! when NUL and logs should never carry, become spaces).

use unicode_normalization::UnicodeNormalization;

/// `"São Paulo"` -> `"Sao Paulo"`: decompose, drop combining marks, replace anything that
/// is still not printable ASCII by a space, collapse runs of spaces and trim.
pub fn ascii_fold(s: &str) -> String {
    let folded: String = s
        .nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .map(|c| if (' '..='~').contains(&c) { c } else { ' ' })
        .collect();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Free text from another party, stored: control characters as spaces, at most `max`
/// characters, surrounding spaces trimmed; None when nothing is left.
pub fn free_text(s: &str, max: usize) -> Option<String> {
    let text: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).take(max).collect();
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// The first `max` characters of an ASCII string (BR Code limits count characters).
pub fn truncate_ascii(s: &str, max: usize) -> &str {
    // Only called on ascii_fold output, where bytes are characters.
    &s[..s.len().min(max)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_text_turns_control_characters_into_spaces_and_keeps_the_rest() {
        assert_eq!(free_text("Jo\u{0}ão\tda Silva", 200).as_deref(), Some("Jo ão da Silva"));
        assert_eq!(free_text(" \u{0}\n", 200), None);
        assert_eq!(free_text("Maria Souza", 5).as_deref(), Some("Maria"));
    }

    #[test]
    fn strips_portuguese_accents() {
        assert_eq!(ascii_fold("São Paulo"), "Sao Paulo");
        assert_eq!(ascii_fold("Açaí da Conceição"), "Acai da Conceicao");
        assert_eq!(ascii_fold("  Ênio   Ü  "), "Enio U");
    }

    #[test]
    fn replaces_what_cannot_be_folded() {
        assert_eq!(ascii_fold("Café ☕ Bom"), "Cafe Bom");
        assert_eq!(ascii_fold("東京"), "");
    }
}
