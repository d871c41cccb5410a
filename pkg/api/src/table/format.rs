//! Cell formatting shared by the printers: JSON field access, ages, label maps and selectors.

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

/// The string at a JSON pointer (`/spec/nodeName`), or "" when absent, as Go's zero value.
pub(crate) fn text<'a>(obj: &'a Value, pointer: &str) -> &'a str {
    obj.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// The integer at a JSON pointer, or 0 when absent.
pub(crate) fn int(obj: &Value, pointer: &str) -> i64 {
    obj.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

/// The array at a JSON pointer, or an empty slice.
pub(crate) fn list<'a>(obj: &'a Value, pointer: &str) -> &'a [Value] {
    obj.pointer(pointer)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// How many keys the object at a JSON pointer has (0 when absent).
pub(crate) fn key_count(obj: &Value, pointer: &str) -> i64 {
    obj.pointer(pointer)
        .and_then(Value::as_object)
        .map_or(0, |m| m.len() as i64)
}

pub(crate) fn name(obj: &Value) -> &str {
    text(obj, "/metadata/name")
}

pub(crate) fn annotation<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj.pointer("/metadata/annotations")
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
}

pub(crate) fn has_deletion_timestamp(obj: &Value) -> bool {
    obj.pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null())
}

/// `s`, or `placeholder` when it is empty.
pub(crate) fn or<'a>(s: &'a str, placeholder: &'a str) -> &'a str {
    if s.is_empty() {
        placeholder
    } else {
        s
    }
}

/// A metav1.Time or MicroTime; `None` for absent, null, unparseable or Go's zero time, all of
/// which upstream treats as unset.
pub(crate) fn parse_time(value: Option<&Value>) -> Option<Timestamp> {
    // 0001-01-01T00:00:00Z, what a Go zero time serializes to when not omitted.
    const GO_ZERO_SECOND: i64 = -62_135_596_800;
    let t: Timestamp = value?.as_str()?.parse().ok()?;
    (t.as_second() != GO_ZERO_SECOND || t.subsec_nanosecond() != 0).then_some(t)
}

/// The age of a timestamp as upstream's translateTimestampSince: `<unknown>` when unset.
pub(crate) fn since(value: Option<&Value>, now: Timestamp) -> String {
    match parse_time(value) {
        Some(t) => elapsed(t, now),
        None => "<unknown>".to_string(),
    }
}

/// The human duration from `t` to `now`.
pub(crate) fn elapsed(t: Timestamp, now: Timestamp) -> String {
    human_signed(now.duration_since(t))
}

/// The AGE cell: time since `metadata.creationTimestamp`.
pub(crate) fn age(obj: &Value, now: Timestamp) -> Value {
    Value::String(since(obj.pointer("/metadata/creationTimestamp"), now))
}

/// Upstream's HumanDuration over a signed duration: small negative skews (down to -1s) are
/// clock noise and print as `0s`; anything earlier is `<invalid>`.
pub(crate) fn human_signed(d: SignedDuration) -> String {
    // as_secs truncates toward zero, like Go's int(d.Seconds()).
    let seconds = d.as_secs();
    if seconds < -1 {
        return "<invalid>".to_string();
    }
    if seconds < 0 {
        return "0s".to_string();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        return with_remainder(minutes, "m", seconds % 60, "s");
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        return with_remainder(hours, "h", minutes % 60, "m");
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    let days = hours / 24;
    if hours < 24 * 8 {
        return with_remainder(days, "d", hours % 24, "h");
    }
    if hours < 24 * 365 * 2 {
        return format!("{days}d");
    }
    if hours < 24 * 365 * 8 {
        return with_remainder(days / 365, "y", days % 365, "d");
    }
    format!("{}y", days / 365)
}

/// `3m` or `3m20s`: the smaller unit is dropped when it is zero.
fn with_remainder(major: i64, major_unit: &str, minor: i64, minor_unit: &str) -> String {
    if minor == 0 {
        format!("{major}{major_unit}")
    } else {
        format!("{major}{major_unit}{minor}{minor_unit}")
    }
}

/// A string map as upstream's labels.FormatLabels: `k=v` pairs sorted as strings, comma-joined,
/// `<none>` when empty.
pub(crate) fn format_labels(map: Option<&Value>) -> String {
    let mut pairs: Vec<String> = map
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    pairs.sort();
    if pairs.is_empty() {
        "<none>".to_string()
    } else {
        pairs.join(",")
    }
}

/// A metav1.LabelSelector in selector syntax, as upstream's LabelSelectorAsSelector(..).String():
/// requirements sorted by key, set values sorted; "" for a nil or empty selector; `Err` for an
/// operator or value list the selector cannot hold.
pub(crate) fn label_selector(selector: Option<&Value>) -> Result<String, ()> {
    let Some(selector) = selector.filter(|s| !s.is_null()) else {
        return Ok(String::new());
    };
    // (key, rendered requirement)
    let mut requirements: Vec<(String, String)> = Vec::new();
    if let Some(labels) = selector.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in labels {
            requirements.push((k.clone(), format!("{k}={}", v.as_str().unwrap_or(""))));
        }
    }
    for expr in selector
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = text(expr, "/key");
        let mut values: Vec<&str> = list(expr, "/values")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        values.sort_unstable();
        let rendered = match (text(expr, "/operator"), values.is_empty()) {
            ("In", false) => format!("{key} in ({})", values.join(",")),
            ("NotIn", false) => format!("{key} notin ({})", values.join(",")),
            ("Exists", true) => key.to_string(),
            ("DoesNotExist", true) => format!("!{key}"),
            _ => return Err(()),
        };
        requirements.push((key.to_string(), rendered));
    }
    requirements.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(requirements
        .into_iter()
        .map(|(_, r)| r)
        .collect::<Vec<_>>()
        .join(","))
}

/// A label selector cell as upstream's FormatLabelSelector: `<none>` when it selects by nothing,
/// `<error>` when it cannot be parsed.
pub(crate) fn format_label_selector(selector: Option<&Value>) -> String {
    match label_selector(selector) {
        Ok(s) if s.is_empty() => "<none>".to_string(),
        Ok(s) => s,
        Err(()) => "<error>".to_string(),
    }
}

/// The CONTAINERS and IMAGES cells of a pod template: names and images, comma-joined.
pub(crate) fn container_cells(containers: &[Value]) -> (String, String) {
    let names: Vec<&str> = containers.iter().map(|c| text(c, "/name")).collect();
    let images: Vec<&str> = containers.iter().map(|c| text(c, "/image")).collect();
    (names.join(","), images.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn human_signed_matches_upstream_thresholds() {
        let cases: &[(i64, &str)] = &[
            (-5, "<invalid>"),
            (-2, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (59, "59s"),
            (119, "119s"),
            (120, "2m"),
            (123, "2m3s"),
            (599, "9m59s"),
            (600, "10m"),
            (90 * 60, "90m"),
            (179 * 60 + 59, "179m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 5 * 60, "3h5m"),
            (7 * 3600 + 59 * 60, "7h59m"),
            (8 * 3600, "8h"),
            (25 * 3600, "25h"),
            (47 * 3600 + 3599, "47h"),
            (48 * 3600, "2d"),
            (50 * 3600, "2d2h"),
            (7 * 86400 + 23 * 3600, "7d23h"),
            (8 * 86400, "8d"),
            (400 * 86400, "400d"),
            (729 * 86400, "729d"),
            (730 * 86400, "2y"),
            (731 * 86400, "2y1d"),
            (8 * 365 * 86400, "8y"),
            (20 * 365 * 86400, "20y"),
        ];
        for &(secs, want) in cases {
            assert_eq!(
                human_signed(SignedDuration::from_secs(secs)),
                want,
                "{secs}s"
            );
        }
        // Truncation toward zero: -1.5s is still within the tolerated skew.
        assert_eq!(human_signed(SignedDuration::from_millis(-1500)), "0s");
    }

    #[test]
    fn since_handles_unset_and_zero_times() {
        let now: Timestamp = "2024-05-01T12:00:00Z".parse().unwrap();
        let cases = [
            (None, "<unknown>"),
            (Some(json!(null)), "<unknown>"),
            (Some(json!("0001-01-01T00:00:00Z")), "<unknown>"),
            (Some(json!("not a time")), "<unknown>"),
            (Some(json!("2024-05-01T11:57:00Z")), "3m"),
            (Some(json!("2024-05-01T11:59:59.500000Z")), "0s"),
            (Some(json!("2024-05-01T12:00:10Z")), "<invalid>"),
        ];
        for (value, want) in cases {
            assert_eq!(since(value.as_ref(), now), want, "{value:?}");
        }
    }

    #[test]
    fn labels_and_selectors_render_like_upstream() {
        assert_eq!(format_labels(None), "<none>");
        assert_eq!(format_labels(Some(&json!({}))), "<none>");
        assert_eq!(format_labels(Some(&json!({"b": "2", "a": "1"}))), "a=1,b=2");

        let cases = [
            (json!(null), Ok(String::new()), "<none>"),
            (json!({}), Ok(String::new()), "<none>"),
            (
                json!({"matchLabels": {"app": "web"}}),
                Ok("app=web".into()),
                "app=web",
            ),
            (
                json!({"matchLabels": {"tier": "fe"}, "matchExpressions": [
                    {"key": "env", "operator": "In", "values": ["prod", "dev"]},
                    {"key": "zone", "operator": "NotIn", "values": ["b"]},
                    {"key": "gpu", "operator": "Exists"},
                    {"key": "legacy", "operator": "DoesNotExist"}]}),
                Ok("env in (dev,prod),gpu,!legacy,tier=fe,zone notin (b)".into()),
                "env in (dev,prod),gpu,!legacy,tier=fe,zone notin (b)",
            ),
            (
                json!({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}),
                Err(()),
                "<error>",
            ),
            (
                json!({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}),
                Err(()),
                "<error>",
            ),
        ];
        for (selector, raw, formatted) in cases {
            assert_eq!(label_selector(Some(&selector)), raw, "{selector}");
            assert_eq!(
                format_label_selector(Some(&selector)),
                formatted,
                "{selector}"
            );
        }
    }
}
