//! Field selectors: the `fieldSelector` query syntax and matching against an object's fields.

use std::fmt;

/// How a field requirement compares the object's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldOperator {
    /// `f=v` or `f==v`
    Equals,
    /// `f!=v`
    NotEquals,
}

/// One ANDed term of a field selector, with its value already unescaped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldRequirement {
    pub field: String,
    pub operator: FieldOperator,
    pub value: String,
}

impl FieldRequirement {
    /// `get` returns the object's value for a field, `None` when it has no such field; an
    /// unknown field never equals anything and so always satisfies `!=`.
    fn matches(&self, get: &impl Fn(&str) -> Option<String>) -> bool {
        let have = get(&self.field);
        match self.operator {
            FieldOperator::Equals => have.as_deref() == Some(self.value.as_str()),
            FieldOperator::NotEquals => have.as_deref() != Some(self.value.as_str()),
        }
    }
}

impl fmt::Display for FieldRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.operator {
            FieldOperator::Equals => "=",
            FieldOperator::NotEquals => "!=",
        };
        write!(f, "{}{op}{}", self.field, escape_value(&self.value))
    }
}

/// A conjunction of field requirements; the empty selector matches everything.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct FieldSelector {
    /// In the order upstream evaluates them: sorted by their raw text.
    requirements: Vec<FieldRequirement>,
}

impl FieldSelector {
    /// Parses the `fieldSelector` query form: comma = AND; `k=v`, `k==v`, `k!=v`. Values may be
    /// empty, and `\,` `\=` `\\` escape the special characters in values as upstream does.
    /// Nothing is trimmed: whitespace belongs to the field name or value, as upstream.
    pub fn parse(s: &str) -> Result<FieldSelector, String> {
        let mut terms = split_terms(s);
        terms.sort_unstable();
        let mut requirements = Vec::with_capacity(terms.len());
        for term in terms.into_iter().filter(|t| !t.is_empty()) {
            let Some((field, operator, raw_value)) = split_term(term) else {
                return Err(format!("invalid selector: '{s}'; can't understand '{term}'"));
            };
            let value = unescape_value(raw_value)?;
            requirements.push(FieldRequirement { field: field.to_string(), operator, value });
        }
        Ok(FieldSelector { requirements })
    }

    /// A selector requiring each `(field, value)` pair to be equal.
    pub fn from_equalities<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> FieldSelector {
        let requirements = pairs
            .into_iter()
            .map(|(field, value)| FieldRequirement {
                field: field.to_string(),
                operator: FieldOperator::Equals,
                value: value.to_string(),
            })
            .collect();
        FieldSelector { requirements }
    }

    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.requirements
    }

    /// The field names it refers to, in evaluation order, repeated if a field appears more than
    /// once (for checking them against the resource's supported field labels).
    pub fn fields(&self) -> Vec<&str> {
        self.requirements.iter().map(|r| r.field.as_str()).collect()
    }

    /// Whether an object satisfies every term; `get(label)` returns the object's value for that
    /// field label. A label `get` does not know (`None`) never matches `=` and always matches `!=`.
    pub fn matches(&self, get: impl Fn(&str) -> Option<String>) -> bool {
        self.requirements.iter().all(|r| r.matches(&get))
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// If the selector requires `metadata.name=<x>` (exact equality), returns x, so storage
    /// reads can be narrowed to one object.
    pub fn required_name(&self) -> Option<&str> {
        self.requires_exact_match("metadata.name")
    }

    /// The value the first `=`/`==` term on `field` requires, as upstream's `RequiresExactMatch`.
    pub fn requires_exact_match(&self, field: &str) -> Option<&str> {
        self.requirements
            .iter()
            .find(|r| r.field == field && r.operator == FieldOperator::Equals)
            .map(|r| r.value.as_str())
    }
}

impl fmt::Display for FieldSelector {
    /// Upstream's text form, values escaped so it parses back to the same selector.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

/// Splits on commas that are not escaped; the escapes stay in the terms for `unescape_value`.
fn split_terms(selector: &str) -> Vec<&str> {
    if selector.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in selector.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == ',' {
            terms.push(&selector[start..i]);
            start = i + 1;
        }
    }
    terms.push(&selector[start..]);
    terms
}

/// Splits a term at the first operator; the field part cannot escape anything, so the first
/// `!=`, `==` or `=` (tried in that order at each position) is the split point.
fn split_term(term: &str) -> Option<(&str, FieldOperator, &str)> {
    const OPERATORS: [(&str, FieldOperator); 3] =
        [("!=", FieldOperator::NotEquals), ("==", FieldOperator::Equals), ("=", FieldOperator::Equals)];
    (0..term.len()).find_map(|i| {
        let rest = &term.as_bytes()[i..];
        OPERATORS
            .iter()
            .find(|(op, _)| rest.starts_with(op.as_bytes()))
            .map(|(op, operator)| (&term[..i], *operator, &term[i + op.len()..]))
    })
}

/// Undoes `\\`, `\,` and `\=`; any other escape, a trailing lone backslash, or an unescaped `,`
/// or `=` is an error worded as upstream's.
fn unescape_value(raw: &str) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut escaped = false;
    for c in raw.chars() {
        if escaped {
            match c {
                '\\' | ',' | '=' => out.push(c),
                other => return Err(format!("invalid field selector: invalid escape sequence: \\{other}")),
            }
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            // Upstream prints the rune with %v, i.e. as its code point number.
            ',' | '=' => return Err(format!("invalid field selector: unescaped character in value: {}", c as u32)),
            c => out.push(c),
        }
    }
    if escaped {
        return Err("invalid field selector: invalid escape sequence: \\".to_string());
    }
    Ok(out)
}

/// Escapes `\`, `,` and `=` so an arbitrary value can be written into a field selector.
pub fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn req(field: &str, operator: FieldOperator, value: &str) -> FieldRequirement {
        FieldRequirement { field: field.to_string(), operator, value: value.to_string() }
    }

    #[test]
    fn parse_successes() {
        use FieldOperator::{Equals, NotEquals};
        let cases: Vec<(&str, Vec<FieldRequirement>)> = vec![
            ("", vec![]),
            (",", vec![]),
            (",,", vec![]),
            ("metadata.name=foo", vec![req("metadata.name", Equals, "foo")]),
            ("metadata.name==foo", vec![req("metadata.name", Equals, "foo")]),
            ("metadata.name!=foo", vec![req("metadata.name", NotEquals, "foo")]),
            ("involvedObject.namespace=", vec![req("involvedObject.namespace", Equals, "")]),
            ("a!=", vec![req("a", NotEquals, "")]),
            ("a==", vec![req("a", Equals, "")]),
            ("=", vec![req("", Equals, "")]),
            // Sorted by raw text, as upstream evaluates them.
            ("b=2,a=1", vec![req("a", Equals, "1"), req("b", Equals, "2")]),
            ("a=1,,b=2,", vec![req("a", Equals, "1"), req("b", Equals, "2")]),
            // Whitespace is not trimmed.
            (" a = b ", vec![req(" a ", Equals, " b ")]),
            // Escapes in values.
            (r"a=x\,y", vec![req("a", Equals, "x,y")]),
            (r"a=x\=y", vec![req("a", Equals, "x=y")]),
            (r"a=x\\y", vec![req("a", Equals, r"x\y")]),
            (r"a=\\", vec![req("a", Equals, r"\")]),
            (r"a=x\,y,b=z", vec![req("a", Equals, "x,y"), req("b", Equals, "z")]),
            (r"a!=\=\,\\", vec![req("a", NotEquals, r"=,\")]),
            // The first operator wins; the rest belongs to the value.
            ("a=!b", vec![req("a", Equals, "!b")]),
            ("spec.nodeName=é", vec![req("spec.nodeName", Equals, "é")]),
        ];
        for (input, want) in cases {
            let sel = FieldSelector::parse(input).unwrap_or_else(|e| panic!("parse {input:?}: {e}"));
            assert_eq!(sel.requirements(), want.as_slice(), "input {input:?}");
            assert_eq!(sel.is_empty(), want.is_empty(), "input {input:?}");
        }
    }

    #[test]
    fn parse_failures() {
        let cases = [
            ("a", "invalid selector: 'a'; can't understand 'a'"),
            ("x=1,a", "invalid selector: 'x=1,a'; can't understand 'a'"),
            ("a!b", "invalid selector: 'a!b'; can't understand 'a!b'"),
            ("a=b=c", "invalid field selector: unescaped character in value: 61"),
            ("a==b=c", "invalid field selector: unescaped character in value: 61"),
            ("a===b", "invalid field selector: unescaped character in value: 61"),
            ("a=!=b", "invalid field selector: unescaped character in value: 61"),
            (r"a=x\y", r"invalid field selector: invalid escape sequence: \y"),
            (r"a=x\", r"invalid field selector: invalid escape sequence: \"),
        ];
        for (input, want) in cases {
            assert_eq!(FieldSelector::parse(input), Err(want.to_string()), "input {input:?}");
        }
    }

    #[test]
    fn matching() {
        let object: BTreeMap<&str, &str> = [
            ("metadata.name", "web"),
            ("metadata.namespace", "default"),
            ("involvedObject.namespace", ""),
            ("reason", "a,b=c"),
        ]
        .into_iter()
        .collect();
        let get = |field: &str| object.get(field).map(|v| v.to_string());
        let cases = [
            ("", true),
            ("metadata.name=web", true),
            ("metadata.name==web", true),
            ("metadata.name=db", false),
            ("metadata.name!=db", true),
            ("metadata.name!=web", false),
            ("involvedObject.namespace=", true),
            ("involvedObject.namespace!=", false),
            ("metadata.namespace=", false),
            (r"reason=a\,b\=c", true),
            ("metadata.name=web,metadata.namespace=default", true),
            ("metadata.name=web,metadata.namespace!=default", false),
            // Fields the object does not know: never equal, always unequal.
            ("spec.unknown=", false),
            ("spec.unknown=x", false),
            ("spec.unknown!=x", true),
            ("spec.unknown!=", true),
        ];
        for (selector, want) in cases {
            let sel = FieldSelector::parse(selector).unwrap();
            assert_eq!(sel.matches(get), want, "selector {selector:?}");
        }
    }

    #[test]
    fn fields_and_required_name() {
        let cases: Vec<(&str, Vec<&str>, Option<&str>)> = vec![
            ("", vec![], None),
            ("metadata.name=web", vec!["metadata.name"], Some("web")),
            ("metadata.name==web", vec!["metadata.name"], Some("web")),
            ("metadata.name=", vec!["metadata.name"], Some("")),
            ("metadata.name!=web", vec!["metadata.name"], None),
            ("type=Warning,metadata.name=web", vec!["metadata.name", "type"], Some("web")),
            ("metadata.name!=a,metadata.name=b", vec!["metadata.name", "metadata.name"], Some("b")),
            ("metadata.namespace=web", vec!["metadata.namespace"], None),
            (r"metadata.name=a\,b", vec!["metadata.name"], Some("a,b")),
        ];
        for (selector, fields, name) in cases {
            let sel = FieldSelector::parse(selector).unwrap();
            assert_eq!(sel.fields(), fields, "selector {selector:?}");
            assert_eq!(sel.required_name(), name, "selector {selector:?}");
        }
    }

    #[test]
    fn display_round_trips_through_parse() {
        let cases = [
            ("", ""),
            ("b=2,a!=1", "a!=1,b=2"),
            ("a==x", "a=x"),
            (r"a=x\,y\=z\\", r"a=x\,y\=z\\"),
            ("a=", "a="),
        ];
        for (input, want) in cases {
            let sel = FieldSelector::parse(input).unwrap();
            assert_eq!(sel.to_string(), want, "input {input:?}");
            assert_eq!(FieldSelector::parse(&sel.to_string()).unwrap(), sel, "input {input:?}");
        }
    }

    #[test]
    fn escaping() {
        let cases = [("plain", "plain"), ("a,b", r"a\,b"), ("a=b", r"a\=b"), (r"a\b", r"a\\b"), ("", "")];
        for (value, want) in cases {
            assert_eq!(escape_value(value), want, "value {value:?}");
            assert_eq!(unescape_value(want).as_deref(), Ok(value), "escaped {want:?}");
        }
    }
}
