//! Text normalisation for the BR Code: accents stripped, only printable ASCII kept.

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

/// The first `max` characters of an ASCII string (BR Code limits count characters).
pub fn truncate_ascii(s: &str, max: usize) -> &str {
    // Only called on ascii_fold output, where bytes are characters.
    &s[..s.len().min(max)]
}

#[cfg(test)]
mod tests {
    use super::*;

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
