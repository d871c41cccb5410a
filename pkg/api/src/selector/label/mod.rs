//! Label selectors: the model (requirements, selectors, matching, `metav1.LabelSelector`);
//! `scanner` and `parser` read the `labelSelector` query syntax, `syntax` checks keys and values.

mod parser;
mod scanner;
pub(super) mod set;
pub(super) mod syntax;

use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1 as metav1;

use parser::Parser;
use set::Labels;
use syntax::{aggregate, invalid, json_string_list, label_key_errors, label_value_errors};
use crate::quote::go_quote;

/// How a requirement relates a label key to its values (upstream `selection.Operator`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operator {
    /// `k=v`
    Equals,
    /// `k==v`
    DoubleEquals,
    /// `k!=v`: also true when the key is absent.
    NotEquals,
    /// `k in (a,b)`
    In,
    /// `k notin (a,b)`: also true when the key is absent.
    NotIn,
    /// `k`
    Exists,
    /// `!k`
    DoesNotExist,
    /// `k>n`: the label's value is an integer greater than n.
    GreaterThan,
    /// `k<n`: the label's value is an integer less than n.
    LessThan,
}

impl Operator {
    /// Upstream's spelling, as used in error messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::In => "in",
            Operator::NotIn => "notin",
            Operator::Exists => "exists",
            Operator::DoesNotExist => "!",
            Operator::GreaterThan => "gt",
            Operator::LessThan => "lt",
        }
    }
}

/// One ANDed term of a label selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    key: String,
    operator: Operator,
    /// Sorted and without duplicates, so equal selectors compare equal.
    values: Vec<String>,
}

impl Requirement {
    /// Builds a requirement after checking it as upstream's `NewRequirement` does; the error is
    /// the aggregated field-error text (paths `key`, `values`, `values[i][key]`).
    pub fn new(key: &str, operator: Operator, values: Vec<String>) -> Result<Requirement, String> {
        let mut errs = Vec::new();
        let key_errs = label_key_errors(key);
        if !key_errs.is_empty() {
            errs.push(invalid("key", &go_quote(key), &key_errs.join("; ")));
        }
        match operator {
            Operator::In | Operator::NotIn if values.is_empty() => errs.push(invalid(
                "values",
                &json_string_list(&values),
                "for 'in', 'notin' operators, values set can't be empty",
            )),
            Operator::Equals | Operator::DoubleEquals | Operator::NotEquals if values.len() != 1 => errs.push(
                invalid("values", &json_string_list(&values), "exact-match compatibility requires one single value"),
            ),
            Operator::Exists | Operator::DoesNotExist if !values.is_empty() => errs.push(invalid(
                "values",
                &json_string_list(&values),
                "values set must be empty for exists and does not exist",
            )),
            Operator::GreaterThan | Operator::LessThan => {
                if values.len() != 1 {
                    errs.push(invalid(
                        "values",
                        &json_string_list(&values),
                        "for 'Gt', 'Lt' operators, exactly one value is required",
                    ));
                }
                for (i, value) in values.iter().enumerate() {
                    if value.parse::<i64>().is_err() {
                        errs.push(invalid(
                            &format!("values[{i}]"),
                            &go_quote(value),
                            "for 'Gt', 'Lt' operators, the value must be an integer",
                        ));
                    }
                }
            }
            _ => {}
        }
        for (i, value) in values.iter().enumerate() {
            let value_errs = label_value_errors(value);
            if !value_errs.is_empty() {
                errs.push(invalid(&format!("values[{i}][{key}]"), &go_quote(value), &value_errs.join("; ")));
            }
        }
        if let Some(err) = aggregate(errs) {
            return Err(err);
        }
        let mut values = values;
        values.sort();
        values.dedup();
        Ok(Requirement { key: key.to_string(), operator, values })
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn operator(&self) -> Operator {
        self.operator
    }

    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// Whether a label set satisfies this term; `!=` and `notin` hold when the key is absent.
    pub fn matches<L: Labels + ?Sized>(&self, labels: &L) -> bool {
        let label = labels.label(&self.key);
        let listed = |v: &str| self.values.iter().any(|w| w == v);
        match self.operator {
            Operator::In | Operator::Equals | Operator::DoubleEquals => label.is_some_and(listed),
            Operator::NotIn | Operator::NotEquals => label.is_none_or(|v| !listed(v)),
            Operator::Exists => label.is_some(),
            Operator::DoesNotExist => label.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let (Some(have), [want]) = (label.and_then(|v| v.parse::<i64>().ok()), self.values.as_slice()) else {
                    return false;
                };
                let Ok(want) = want.parse::<i64>() else {
                    return false;
                };
                if self.operator == Operator::GreaterThan {
                    have > want
                } else {
                    have < want
                }
            }
        }
    }
}

impl fmt::Display for Requirement {
    /// Upstream's canonical text, e.g. `!a`, `a=b`, `a in (x,y)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let values = self.values.join(",");
        match self.operator {
            Operator::Exists => write!(f, "{}", self.key),
            Operator::DoesNotExist => write!(f, "!{}", self.key),
            Operator::Equals => write!(f, "{}={values}", self.key),
            Operator::DoubleEquals => write!(f, "{}=={values}", self.key),
            Operator::NotEquals => write!(f, "{}!={values}", self.key),
            Operator::GreaterThan => write!(f, "{}>{values}", self.key),
            Operator::LessThan => write!(f, "{}<{values}", self.key),
            Operator::In => write!(f, "{} in ({values})", self.key),
            Operator::NotIn => write!(f, "{} notin ({values})", self.key),
        }
    }
}

/// A conjunction of label requirements; the empty selector matches every label set.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct LabelSelector {
    /// Sorted by key (stably), as upstream sorts them, so equal selectors compare equal.
    requirements: Vec<Requirement>,
}

impl LabelSelector {
    /// Parses the `labelSelector` query string form: comma = AND; `k=v`, `k==v`, `k!=v`,
    /// `k in (a,b)`, `k notin (a,b)`, `k` (exists), `!k` (does not exist), and upstream's
    /// integer comparisons `k>n`, `k<n`. Whitespace is tolerated as upstream does. The error is
    /// upstream's message, suitable for a 400 BadRequest body.
    pub fn parse(s: &str) -> Result<LabelSelector, String> {
        let requirements = Parser::new(s).parse()?;
        Ok(LabelSelector::from_requirements(requirements))
    }

    /// Converts a `metav1.LabelSelector` as upstream's `LabelSelectorAsSelector` does: every
    /// `matchLabels` entry becomes `k=v`, `matchExpressions` take `In`, `NotIn`, `Exists` and
    /// `DoesNotExist`. An empty selector matches everything (a missing one matching nothing is
    /// the caller's business).
    pub fn from_metav1(sel: &metav1::LabelSelector) -> Result<LabelSelector, String> {
        let mut requirements = Vec::new();
        for (key, value) in sel.match_labels.iter().flatten() {
            requirements.push(Requirement::new(key, Operator::Equals, vec![value.clone()])?);
        }
        for expr in sel.match_expressions.iter().flatten() {
            let operator = match expr.operator.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => return Err(format!("{} is not a valid label selector operator", go_quote(other))),
            };
            requirements.push(Requirement::new(&expr.key, operator, expr.values.clone().unwrap_or_default())?);
        }
        Ok(LabelSelector::from_requirements(requirements))
    }

    /// A selector ANDing the given requirements.
    pub fn from_requirements(mut requirements: Vec<Requirement>) -> LabelSelector {
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        LabelSelector { requirements }
    }

    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    pub fn matches<L: Labels + ?Sized>(&self, labels: &L) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// If the selector pins `key` to one value (`=`, `==`, or `in` with a single value), returns
    /// it. Like upstream, only the first requirement on `key` is considered.
    pub fn requires_exact_match(&self, key: &str) -> Option<&str> {
        let r = self.requirements.iter().find(|r| r.key == key)?;
        match (r.operator, r.values.as_slice()) {
            (Operator::Equals | Operator::DoubleEquals | Operator::In, [value]) => Some(value),
            _ => None,
        }
    }
}

impl fmt::Display for LabelSelector {
    /// Upstream's canonical text: the requirements joined by `,`.
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    const VALUE_SHAPE: &str = "a valid label must be an empty string or consist of alphanumeric characters, \
         '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or \
         'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
    const NAME_SHAPE: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must \
         start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex \
         used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

    #[test]
    fn parse_successes_render_canonically() {
        // (input, canonical text of the parsed selector)
        let cases = [
            ("", ""),
            ("   ", ""),
            ("x=a", "x=a"),
            ("x==a", "x==a"),
            ("x!=a", "x!=a"),
            ("x", "x"),
            ("!x", "!x"),
            ("! x", "!x"),
            ("x in (a)", "x in (a)"),
            ("x in (b,a,b)", "x in (a,b)"),
            ("x notin (a, b)", "x notin (a,b)"),
            ("x in()", "x in ()"),
            ("x in (,a)", "x in (,a)"),
            ("x in (a,)", "x in (,a)"),
            ("x in (a,,b)", "x in (,a,b)"),
            ("x in (in, notin)", "x in (in,notin)"),
            ("in in (in)", "in in (in)"),
            ("notin", "notin"),
            ("x=", "x="),
            ("x=,y=b", "x=,y=b"),
            ("x!=", "x!="),
            ("x=in", "x=in"),
            ("x>1", "x>1"),
            ("x<10", "x<10"),
            ("y=b,x=a", "x=a,y=b"),
            ("  x = a ,  y != b  ", "x=a,y!=b"),
            ("\tx\n=\ra", "x=a"),
            ("z,!y,x in (a),w notin (b),v==c", "v==c,w notin (b),x in (a),!y,z"),
            ("example.com/app=web", "example.com/app=web"),
            ("x in (a),x notin (b)", "x in (a),x notin (b)"),
        ];
        for (input, want) in cases {
            let sel = LabelSelector::parse(input).unwrap_or_else(|e| panic!("parse {input:?}: {e}"));
            assert_eq!(sel.to_string(), want, "input {input:?}");
            assert_eq!(sel.is_empty(), want.is_empty(), "input {input:?}");
        }
    }

    #[test]
    fn parse_failures_use_upstream_messages() {
        let cases: Vec<(&str, String)> = vec![
            ("x=a,", "found '', expected: identifier after ','".into()),
            ("x=a,,y", "found ',', expected: identifier after ','".into()),
            (",x", "found ',', expected: !, identifier, or 'end of string'".into()),
            ("=a", "found '=', expected: !, identifier, or 'end of string'".into()),
            ("(x)", "found '(', expected: !, identifier, or 'end of string'".into()),
            ("x=a b", "found 'b', expected: ',' or 'end of string'".into()),
            ("!x=a", "found '=', expected: ',' or 'end of string'".into()),
            ("x a", "unable to parse requirement: found 'a', expected: in, notin, =, ==, !=, gt, lt".into()),
            ("x (a)", "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt".into()),
            ("!", "unable to parse requirement: found '', expected: identifier".into()),
            ("!!x", "unable to parse requirement: found '!', expected: identifier".into()),
            ("x in a", "unable to parse requirement: found 'a' expected: '('".into()),
            ("x in", "unable to parse requirement: found '' expected: '('".into()),
            ("x notin (a", "unable to parse requirement: found '', expected: ',' or ')'".into()),
            ("x in (a b)", "unable to parse requirement: found 'b', expected: ',' or ')'".into()),
            ("x in (=)", "unable to parse requirement: found '=', expected: ',', ')' or identifier".into()),
            ("x in (a,=)", "unable to parse requirement: found '=', expected: ',', or identifier".into()),
            ("x=(a)", "unable to parse requirement: found '(', expected: identifier".into()),
            ("x==!a", "unable to parse requirement: found '!', expected: identifier".into()),
            ("x===a", "unable to parse requirement: found '=', expected: identifier".into()),
            (
                "x=a b c",
                "found 'b', expected: ',' or 'end of string'".into(),
            ),
            (
                "-x=a",
                format!("unable to parse requirement: <nil>: Invalid value: \"-x\": {NAME_SHAPE}"),
            ),
            (
                "a/b/c",
                "unable to parse requirement: <nil>: Invalid value: \"a/b/c\": a qualified name must consist of \
                 alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric \
                 character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is \
                 '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' \
                 (e.g. 'example.com/MyName')"
                    .into(),
            ),
            (
                "/x",
                "unable to parse requirement: <nil>: Invalid value: \"/x\": prefix part must be non-empty".into(),
            ),
            (
                "x=a/b",
                format!("unable to parse requirement: values[0][x]: Invalid value: \"a/b\": {VALUE_SHAPE}"),
            ),
            (
                "x in (ok,-bad,_worse)",
                format!(
                    "unable to parse requirement: [values[0][x]: Invalid value: \"-bad\": {VALUE_SHAPE}, \
                     values[1][x]: Invalid value: \"_worse\": {VALUE_SHAPE}]"
                ),
            ),
            (
                "x<-1",
                format!("unable to parse requirement: values[0][x]: Invalid value: \"-1\": {VALUE_SHAPE}"),
            ),
            (
                "x>a",
                "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the \
                 value must be an integer"
                    .into(),
            ),
            (
                "x<",
                "unable to parse requirement: values[0]: Invalid value: \"\": for 'Gt', 'Lt' operators, the \
                 value must be an integer"
                    .into(),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(LabelSelector::parse(input), Err(want), "input {input:?}");
        }
        let long = "v".repeat(64);
        assert_eq!(
            LabelSelector::parse(&format!("x={long}")),
            Err(format!("unable to parse requirement: values[0][x]: Invalid value: \"{long}\": must be no more than 63 characters"))
        );
    }

    /// (selector, labels, matches?)
    type MatchCase<'a> = (&'a str, Vec<(&'a str, &'a str)>, bool);

    /// (matchLabels, matchExpressions, the canonical text or the error)
    type Metav1Case<'a, T> = (Vec<(&'a str, &'a str)>, Vec<metav1::LabelSelectorRequirement>, T);

    #[test]
    fn matching() {
        let cases: Vec<MatchCase> = vec![
            ("", vec![], true),
            ("", vec![("a", "b")], true),
            ("x=a", vec![("x", "a")], true),
            ("x=a", vec![("x", "b")], false),
            ("x=a", vec![], false),
            ("x==a", vec![("x", "a")], true),
            ("x!=a", vec![("x", "a")], false),
            ("x!=a", vec![("x", "b")], true),
            ("x!=a", vec![], true),
            ("x=", vec![("x", "")], true),
            ("x=", vec![], false),
            ("x!=", vec![("x", "")], false),
            ("x!=", vec![("x", "a")], true),
            ("x", vec![("x", "")], true),
            ("x", vec![("y", "a")], false),
            ("!x", vec![("y", "a")], true),
            ("!x", vec![("x", "")], false),
            ("x in (a,b)", vec![("x", "b")], true),
            ("x in (a,b)", vec![("x", "c")], false),
            ("x in (a,b)", vec![], false),
            ("x in ()", vec![("x", "")], true),
            ("x in (,a)", vec![("x", "")], true),
            ("x notin (a,b)", vec![("x", "b")], false),
            ("x notin (a,b)", vec![("x", "c")], true),
            ("x notin (a,b)", vec![], true),
            ("x>5", vec![("x", "6")], true),
            ("x>5", vec![("x", "5")], false),
            ("x>5", vec![("x", "six")], false),
            ("x>5", vec![], false),
            ("x<5", vec![("x", "-3")], true),
            ("x<5", vec![("x", "5")], false),
            ("x=a,y", vec![("x", "a"), ("y", "")], true),
            ("x=a,y", vec![("x", "a")], false),
            ("x in (a,b),y notin (c),!z", vec![("x", "a"), ("y", "d")], true),
            ("x in (a,b),y notin (c),!z", vec![("x", "a"), ("y", "c")], false),
            ("x in (a,b),y notin (c),!z", vec![("x", "a"), ("z", "")], false),
            ("example.com/app=web", vec![("example.com/app", "web")], true),
        ];
        for (selector, pairs, want) in cases {
            let sel = LabelSelector::parse(selector).unwrap();
            assert_eq!(sel.matches(&labels(&pairs)), want, "selector {selector:?} on {pairs:?}");
        }
    }

    #[test]
    fn equal_selectors_compare_equal() {
        let cases = [
            ("x=a,y=b", "y=b,x=a"),
            ("x in (b,a)", "x in (a,b,a)"),
            ("  x  ", "x"),
            ("", ""),
        ];
        for (a, b) in cases {
            assert_eq!(LabelSelector::parse(a).unwrap(), LabelSelector::parse(b).unwrap(), "{a:?} vs {b:?}");
        }
        assert_eq!(LabelSelector::parse("").unwrap(), LabelSelector::default());
        assert_ne!(LabelSelector::parse("x=a").unwrap(), LabelSelector::parse("x==a").unwrap());
    }

    #[test]
    fn exact_match() {
        let cases = [
            ("x=a", "x", Some("a")),
            ("x==a", "x", Some("a")),
            ("x in (a)", "x", Some("a")),
            ("x in (a,b)", "x", None),
            ("x!=a", "x", None),
            ("x", "x", None),
            ("y=a", "x", None),
            ("x=", "x", Some("")),
        ];
        for (selector, key, want) in cases {
            let sel = LabelSelector::parse(selector).unwrap();
            assert_eq!(sel.requires_exact_match(key), want, "selector {selector:?} key {key:?}");
        }
    }

    fn requirement(key: &str, operator: &str, values: Option<&[&str]>) -> metav1::LabelSelectorRequirement {
        metav1::LabelSelectorRequirement {
            key: key.to_string(),
            operator: operator.to_string(),
            values: values.map(|vs| vs.iter().map(|v| v.to_string()).collect()),
        }
    }

    #[test]
    fn from_metav1_successes() {
        let cases: Vec<Metav1Case<&str>> = vec![
            (vec![], vec![], ""),
            (vec![("b", "2"), ("a", "1")], vec![], "a=1,b=2"),
            (vec![("a", "")], vec![], "a="),
            (
                vec![("app", "web")],
                vec![
                    requirement("tier", "In", Some(&["front", "back"])),
                    requirement("env", "NotIn", Some(&["prod"])),
                    requirement("canary", "DoesNotExist", None),
                    requirement("zone", "Exists", Some(&[])),
                ],
                "app=web,!canary,env notin (prod),tier in (back,front),zone",
            ),
        ];
        for (match_labels, match_expressions, want) in cases {
            let sel = metav1::LabelSelector {
                match_labels: Some(match_labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
                match_expressions: Some(match_expressions),
            };
            assert_eq!(LabelSelector::from_metav1(&sel).unwrap().to_string(), want);
        }
        assert!(LabelSelector::from_metav1(&metav1::LabelSelector::default()).unwrap().is_empty());
    }

    #[test]
    fn from_metav1_matching() {
        let sel = metav1::LabelSelector {
            match_labels: Some(labels(&[("app", "web")])),
            match_expressions: Some(vec![
                requirement("tier", "In", Some(&["front"])),
                requirement("canary", "DoesNotExist", None),
            ]),
        };
        let sel = LabelSelector::from_metav1(&sel).unwrap();
        let cases = [
            (vec![("app", "web"), ("tier", "front")], true),
            (vec![("app", "web"), ("tier", "front"), ("canary", "yes")], false),
            (vec![("app", "web")], false),
            (vec![("app", "db"), ("tier", "front")], false),
        ];
        for (pairs, want) in cases {
            assert_eq!(sel.matches(&labels(&pairs)), want, "labels {pairs:?}");
        }
    }

    #[test]
    fn from_metav1_failures() {
        let cases: Vec<Metav1Case<String>> = vec![
            (
                vec![],
                vec![requirement("a", "Equals", Some(&["b"]))],
                "\"Equals\" is not a valid label selector operator".into(),
            ),
            (
                vec![],
                vec![requirement("a", "In", None)],
                "values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty".into(),
            ),
            (
                vec![],
                vec![requirement("a", "NotIn", Some(&[]))],
                "values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty".into(),
            ),
            (
                vec![],
                vec![requirement("a", "Exists", Some(&["x"]))],
                "values: Invalid value: [\"x\"]: values set must be empty for exists and does not exist".into(),
            ),
            (
                vec![("-a", "b")],
                vec![],
                format!("key: Invalid value: \"-a\": {NAME_SHAPE}"),
            ),
            (
                vec![("a", "b c")],
                vec![],
                format!("values[0][a]: Invalid value: \"b c\": {VALUE_SHAPE}"),
            ),
            (
                vec![],
                vec![requirement("", "In", None)],
                format!(
                    "[key: Invalid value: \"\": name part must be non-empty; {NAME_SHAPE}, values: Invalid \
                     value: null: for 'in', 'notin' operators, values set can't be empty]"
                ),
            ),
        ];
        for (match_labels, match_expressions, want) in cases {
            let sel = metav1::LabelSelector {
                match_labels: Some(match_labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
                match_expressions: Some(match_expressions),
            };
            assert_eq!(LabelSelector::from_metav1(&sel), Err(want));
        }
    }
}
