//! Label key/value syntax checks and the Go-style `field.Error` text selector errors are made of.
//!
//! Upstream reports bad selector keys and values through `field.ErrorList`, so the wording here
//! (paths such as `values[0][app]`, `%q`-quoted bad values, `; `-joined details and the
//! `[a, b]` aggregate form) follows that package so clients see the messages they expect.

/// Longest name part of a label key, and longest label value.
const QUALIFIED_NAME_MAX_LEN: usize = 63;
/// Longest DNS-1123 subdomain, the optional prefix of a label key.
const DNS1123_SUBDOMAIN_MAX_LEN: usize = 253;

const QUALIFIED_NAME_ERR_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', \
     and must start and end with an alphanumeric character";
const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_VALUE_ERR_MSG: &str = "a valid label must be an empty string or consist of alphanumeric \
     characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const DNS1123_SUBDOMAIN_ERR_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case \
     alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_FMT: &str = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";

/// Upstream's `RegexError`: the human message, examples, then the regex itself.
fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{msg} (regex used for validation is '{fmt}')");
    }
    let mut out = format!("{msg} (e.g. ");
    for (i, example) in examples.iter().enumerate() {
        if i > 0 {
            out.push_str(" or ");
        }
        out.push_str(&format!("'{example}', "));
    }
    out.push_str(&format!("regex used for validation is '{fmt}')"));
    out
}

fn max_len_error(max: usize) -> String {
    format!("must be no more than {max} characters")
}

const EMPTY_ERROR: &str = "must be non-empty";

/// `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`, the shape of a key's name part and of a value.
fn is_qualified_name_shape(s: &str) -> bool {
    let bytes = s.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    first.is_ascii_alphanumeric()
        && last.is_ascii_alphanumeric()
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// One DNS-1123 label: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`.
fn is_dns1123_label_shape(s: &str) -> bool {
    let bytes = s.as_bytes();
    let lower_alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    lower_alnum(first) && lower_alnum(last) && bytes.iter().all(|b| lower_alnum(b) || *b == b'-')
}

/// Upstream's `IsDNS1123Subdomain`: the problems with `s`, none when it is valid.
fn dns1123_subdomain_errors(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > DNS1123_SUBDOMAIN_MAX_LEN {
        errs.push(max_len_error(DNS1123_SUBDOMAIN_MAX_LEN));
    }
    if !s.split('.').all(is_dns1123_label_shape) {
        errs.push(regex_error(DNS1123_SUBDOMAIN_ERR_MSG, DNS1123_SUBDOMAIN_FMT, &["example.com"]));
    }
    errs
}

/// Upstream's `IsQualifiedName` (the label key rule): `[prefix/]name`, prefix a DNS-1123
/// subdomain, name at most 63 characters of the qualified-name shape.
pub(crate) fn label_key_errors(key: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = key.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push(format!("prefix part {EMPTY_ERROR}"));
            } else {
                errs.extend(dns1123_subdomain_errors(prefix).into_iter().map(|m| format!("prefix part {m}")));
            }
            *name
        }
        _ => {
            let shape = regex_error(QUALIFIED_NAME_ERR_MSG, QUALIFIED_NAME_FMT, &["MyName", "my.name", "123-abc"]);
            errs.push(format!(
                "a qualified name {shape} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            ));
            return errs;
        }
    };
    if name.is_empty() {
        errs.push(format!("name part {EMPTY_ERROR}"));
    } else if name.len() > QUALIFIED_NAME_MAX_LEN {
        errs.push(format!("name part {}", max_len_error(QUALIFIED_NAME_MAX_LEN)));
    }
    if !is_qualified_name_shape(name) {
        let shape = regex_error(QUALIFIED_NAME_ERR_MSG, QUALIFIED_NAME_FMT, &["MyName", "my.name", "123-abc"]);
        errs.push(format!("name part {shape}"));
    }
    errs
}

/// Upstream's `IsValidLabelValue`: empty, or at most 63 characters of the qualified-name shape.
pub(crate) fn label_value_errors(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > QUALIFIED_NAME_MAX_LEN {
        errs.push(max_len_error(QUALIFIED_NAME_MAX_LEN));
    }
    if !value.is_empty() && !is_qualified_name_shape(value) {
        errs.push(regex_error(LABEL_VALUE_ERR_MSG, LABEL_VALUE_FMT, &["MyValue", "my_value", "12345"]));
    }
    errs
}

/// Text of `field.Invalid(path, value, detail)`; `bad_value` is already rendered (`%q` for a
/// string, JSON for a list).
pub(crate) fn invalid(path: &str, bad_value: &str, detail: &str) -> String {
    if detail.is_empty() {
        format!("{path}: Invalid value: {bad_value}")
    } else {
        format!("{path}: Invalid value: {bad_value}: {detail}")
    }
}

/// Go's `json.Marshal` of a `[]string` (nil renders as `null`).
pub(crate) fn json_string_list(values: &[String]) -> String {
    if values.is_empty() {
        "null".to_string()
    } else {
        serde_json::to_string(values).unwrap_or_else(|_| "null".to_string())
    }
}

/// `field.ErrorList.ToAggregate().Error()`: duplicates dropped, one error as is, several as
/// `[a, b]`. `None` when there is nothing to report.
pub(crate) fn aggregate(errs: Vec<String>) -> Option<String> {
    let mut unique: Vec<String> = Vec::with_capacity(errs.len());
    for e in errs {
        if !unique.contains(&e) {
            unique.push(e);
        }
    }
    match unique.len() {
        0 => None,
        1 => unique.pop(),
        _ => Some(format!("[{}]", unique.join(", "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_keys() {
        let name_shape = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start \
             and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used \
             for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
        let max_name = "a".repeat(63);
        let long_name = "a".repeat(64);
        let long_prefix = format!("{}/a", "a".repeat(254));
        let cases: Vec<(&str, Vec<String>)> = vec![
            ("app", vec![]),
            ("App_1.x-y", vec![]),
            ("a", vec![]),
            ("example.com/app", vec![]),
            ("k8s.io/a", vec![]),
            (&max_name, vec![]),
            ("-app", vec![name_shape.to_string()]),
            ("app-", vec![name_shape.to_string()]),
            ("a b", vec![name_shape.to_string()]),
            ("", vec!["name part must be non-empty".to_string(), name_shape.to_string()]),
            ("example.com/", vec!["name part must be non-empty".to_string(), name_shape.to_string()]),
            ("/app", vec!["prefix part must be non-empty".to_string()]),
            (&long_name, vec!["name part must be no more than 63 characters".to_string()]),
            (
                "Example.com/app",
                vec!["prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric \
                      characters, '-' or '.', and must start and end with an alphanumeric character (e.g. \
                      'example.com', regex used for validation is \
                      '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
                    .to_string()],
            ),
            (&long_prefix, vec!["prefix part must be no more than 253 characters".to_string()]),
            (
                "a/b/c",
                vec!["a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must \
                      start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or \
                      '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') \
                      with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
                    .to_string()],
            ),
        ];
        for (key, want) in cases {
            assert_eq!(label_key_errors(key), want, "key {key:?}");
        }
    }

    #[test]
    fn label_values() {
        let shape = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' \
             or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or \
             'my_value',  or '12345', regex used for validation is \
             '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
        let cases: Vec<(String, Vec<String>)> = vec![
            (String::new(), vec![]),
            ("v".into(), vec![]),
            ("V_1.2-x".into(), vec![]),
            ("a".repeat(63), vec![]),
            ("a".repeat(64), vec!["must be no more than 63 characters".into()]),
            ("_v".into(), vec![shape.into()]),
            ("v.".into(), vec![shape.into()]),
            ("a/b".into(), vec![shape.into()]),
            ("é".into(), vec![shape.into()]),
        ];
        for (value, want) in cases {
            assert_eq!(label_value_errors(&value), want, "value {value:?}");
        }
    }

    #[test]
    fn aggregates() {
        let cases: Vec<(Vec<&str>, Option<&str>)> = vec![
            (vec![], None),
            (vec!["a"], Some("a")),
            (vec!["a", "a"], Some("a")),
            (vec!["a", "b", "a"], Some("[a, b]")),
        ];
        for (errs, want) in cases {
            let errs: Vec<String> = errs.into_iter().map(String::from).collect();
            assert_eq!(aggregate(errs.clone()).as_deref(), want, "errs {errs:?}");
        }
    }
}
