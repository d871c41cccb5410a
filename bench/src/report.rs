//! Results: one row per figure, with its same-run etcd baseline, the ratio and the target.

use serde_json::{json, Value};

use crate::load::num;

/// How a row's figure is judged.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// corekube / etcd ≥ x (higher is better, e.g. throughput).
    RatioAtLeast(f64),
    /// corekube / etcd ≤ x (lower is better, e.g. latency).
    RatioAtMost(f64),
    /// corekube's figure ≤ x in the row's unit.
    AtMost(f64),
    /// corekube's figure ≥ x in the row's unit.
    AtLeast(f64),
}

impl Target {
    fn text(&self, unit: &str) -> String {
        match self {
            Target::RatioAtLeast(x) => format!(">= {x}x etcd"),
            Target::RatioAtMost(x) => format!("<= {x}x etcd"),
            Target::AtMost(x) => format!("<= {} {unit}", fmt(*x)),
            Target::AtLeast(x) => format!(">= {} {unit}", fmt(*x)),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Row {
    pub section: String,
    pub name: String,
    pub unit: String,
    pub corekube: Option<f64>,
    pub etcd: Option<f64>,
    pub target: Option<Target>,
    pub note: String,
}

impl Row {
    pub fn new(section: &str, name: impl Into<String>, unit: &str, corekube: Option<f64>, etcd: Option<f64>) -> Row {
        Row { section: section.into(), name: name.into(), unit: unit.into(), corekube, etcd, target: None, note: String::new() }
    }

    pub fn target(mut self, t: Target) -> Row {
        self.target = Some(t);
        self
    }

    pub fn note(mut self, n: impl Into<String>) -> Row {
        self.note = n.into();
        self
    }

    pub fn ratio(&self) -> Option<f64> {
        match (self.corekube, self.etcd) {
            (Some(c), Some(e)) if e > 0.0 && c.is_finite() && e.is_finite() => Some(c / e),
            _ => None,
        }
    }

    /// Some(true/false) when the row has a target and the figures to judge it.
    pub fn met(&self) -> Option<bool> {
        let c = self.corekube.filter(|c| c.is_finite())?;
        match self.target? {
            Target::RatioAtLeast(x) => self.ratio().map(|r| r >= x),
            Target::RatioAtMost(x) => self.ratio().map(|r| r <= x),
            Target::AtMost(x) => Some(c <= x),
            Target::AtLeast(x) => Some(c >= x),
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "section": self.section,
            "name": self.name,
            "unit": self.unit,
            "corekube": self.corekube.map(num),
            "etcd": self.etcd.map(num),
            "ratio": self.ratio().map(num),
            "target": self.target.map(|t| t.text(&self.unit)),
            "met": self.met(),
            "note": self.note,
        })
    }
}

pub fn fmt(x: f64) -> String {
    if !x.is_finite() {
        "n/a".into()
    } else if x.abs() >= 1000.0 {
        format!("{x:.0}")
    } else if x.abs() >= 100.0 {
        format!("{x:.1}")
    } else if x.abs() >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

fn cell(x: Option<f64>) -> String {
    x.map(fmt).unwrap_or_else(|| "-".into())
}

/// Prints one row as soon as it is measured.
pub fn print_row(r: &Row) {
    let verdict = match r.met() {
        Some(true) => "met",
        Some(false) => "NOT MET",
        None if r.target.is_some() => "n/a",
        None => "",
    };
    println!(
        "  {:<44} {:>11} {:>11} {:>7}  {:<16} {:<7} {}",
        format!("{} ({})", r.name, r.unit),
        cell(r.corekube),
        cell(r.etcd),
        r.ratio().map(|x| format!("{x:.2}")).unwrap_or_else(|| "-".into()),
        r.target.map(|t| t.text(&r.unit)).unwrap_or_default(),
        verdict,
        r.note
    );
}

/// The column titles, as the rows are laid out.
pub fn print_header() {
    println!("  {:<44} {:>11} {:>11} {:>7}  {:<16} {:<7} note", "measurement (unit)", "corekube", "etcd", "ratio", "target", "result");
}

pub fn print_table(rows: &[Row]) {
    println!();
    print_header();
    let mut section = "";
    for r in rows {
        if r.section != section {
            section = &r.section;
            println!("{section}");
        }
        print_row(r);
    }
    let met = rows.iter().filter(|r| r.met() == Some(true)).count();
    let missed = rows.iter().filter(|r| r.met() == Some(false)).count();
    let unjudged = rows.iter().filter(|r| r.target.is_some() && r.met().is_none()).count();
    println!();
    println!("targets: {met} met, {missed} NOT MET, {unjudged} not measured");
}

/// Prints a row and keeps it for the final table.
pub fn emit(rows: &mut Vec<Row>, r: Row) {
    print_row(&r);
    rows.push(r);
}
