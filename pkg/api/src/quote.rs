//! Go's `strconv.Quote` (what `%q` prints), for messages that must read as upstream's do.

use std::fmt::Write;

/// Double-quotes `s` with Go's escapes: `\a \b \f \n \r \t \v`, `\"` and `\\`, `\xNN` for other
/// ASCII controls, `\uNNNN` / `\UNNNNNNNN` for other characters Go does not print (controls,
/// spaces other than U+0020, the soft hyphen); everything printable is kept as is.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if is_unprintable(c) && (c as u32) <= 0xffff => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if is_unprintable(c) => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Characters Go's `strconv.IsPrint` rejects, as far as Rust's character classes tell them.
fn is_unprintable(c: char) -> bool {
    c.is_control() || (c.is_whitespace() && c != ' ') || c == '\u{ad}'
}

#[cfg(test)]
mod tests {
    use super::go_quote;

    #[test]
    fn escapes_like_strconv_quote() {
        let cases = [
            ("plain", r#""plain""#),
            ("a\"b\\c", r#""a\"b\\c""#),
            ("tab\t\u{b}", r#""tab\t\v""#),
            ("\u{1}\u{7f}", r#""\x01\x7f""#),
            ("ünï 日本", r#""ünï 日本""#),
            ("nb\u{a0}sp\u{85}", r#""nb\u00a0sp\u0085""#),
        ];
        for (input, want) in cases {
            assert_eq!(go_quote(input), want, "{input:?}");
        }
    }
}
