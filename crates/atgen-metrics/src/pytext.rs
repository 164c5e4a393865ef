//! Python `str` semantics that the reference implementations rely on.
//!
//! `rouge-score` and `sacreBLEU` are Python; to match them to the last digit we
//! must split on exactly the characters `str.split()` splits on, and strip what
//! `str.rstrip()` strips. Python's whitespace (`Py_UNICODE_ISSPACE`) is Unicode
//! `White_Space` plus the four ASCII separators U+001C..U+001F, which Rust's
//! [`char::is_whitespace`] does not include.

/// `True` for the characters Python's `str.isspace()` accepts.
#[inline]
pub fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `s.split()` (no argument): runs of whitespace separate, no empty parts.
pub fn py_split(s: &str) -> impl Iterator<Item = &str> {
    // Byte-level fast path for ASCII text; both arms split at the same places.
    let ascii = s.is_ascii();
    s.split(move |c: char| {
        if ascii {
            matches!(
                c,
                ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r' | '\x1c'..='\x1f'
            )
        } else {
            is_py_space(c)
        }
    })
    .filter(|t| !t.is_empty())
}

/// Python's `s.rstrip()` (no argument).
pub fn py_rstrip(s: &str) -> &str {
    s.trim_end_matches(is_py_space)
}

/// Python's `s.lower()`. Rust's full Unicode lowercase mapping (with the
/// final-sigma rule) is the same algorithm; the two may differ only for
/// characters added to Unicode after Python 3.11's Unicode 14 tables.
pub fn py_lower(s: &str) -> String {
    if s.is_ascii() {
        s.to_ascii_lowercase()
    } else {
        s.to_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_matches_python_whitespace() {
        // Python: 'a\x1cb\u00a0c\u3000d  e'.split() == ['a', 'b', 'c', 'd', 'e']
        let v: Vec<&str> = py_split("a\u{1c}b\u{a0}c\u{3000}d  e").collect();
        assert_eq!(v, ["a", "b", "c", "d", "e"]);
        // U+200B ZERO WIDTH SPACE is not whitespace for Python.
        assert_eq!(py_split("a\u{200b}b").count(), 1);
    }

    #[test]
    fn rstrip_and_lower() {
        assert_eq!(py_rstrip("ab \u{1f}\n"), "ab");
        // Python: 'ΣΑΣ'.lower() == 'σας' (final sigma), 'K'.lower() (Kelvin) == 'k'
        assert_eq!(py_lower("ΣΑΣ"), "σας");
        assert_eq!(py_lower("\u{212a}"), "k");
    }
}
