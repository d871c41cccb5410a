//! Just enough of `resource.Quantity` to compare quantities and print them in canonical form.

use std::cmp::Ordering;

const NANO: i128 = 1_000_000_000;

/// Upstream's `ErrFormatWrong`.
pub const FORMAT_ERROR: &str = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

/// How a quantity was written, which decides how it prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    DecimalSI,
    BinarySI,
    DecimalExponent,
}

/// A parsed quantity held in nano-units (rounded up, as upstream rounds sub-nano values).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quantity {
    nanos: i128,
    format: Format,
}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

fn pow(base: i128, exp: u32) -> i128 {
    base.checked_pow(exp).unwrap_or(i128::MAX)
}

/// Parses `1.5Gi`, `500m`, `1e3`, `-2`.
pub fn parse(s: &str) -> Result<Quantity, String> {
    let (negative, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(num_len);
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if (whole.is_empty() && frac.is_empty()) || frac.contains('.') {
        return Err(FORMAT_ERROR.to_string());
    }
    let (format, exp10, exp2): (Format, i32, u32) = match suffix {
        "" => (Format::DecimalSI, 0, 0),
        "n" => (Format::DecimalSI, -9, 0),
        "u" => (Format::DecimalSI, -6, 0),
        "m" => (Format::DecimalSI, -3, 0),
        "k" => (Format::DecimalSI, 3, 0),
        "M" => (Format::DecimalSI, 6, 0),
        "G" => (Format::DecimalSI, 9, 0),
        "T" => (Format::DecimalSI, 12, 0),
        "P" => (Format::DecimalSI, 15, 0),
        "E" => (Format::DecimalSI, 18, 0),
        "Ki" => (Format::BinarySI, 0, 10),
        "Mi" => (Format::BinarySI, 0, 20),
        "Gi" => (Format::BinarySI, 0, 30),
        "Ti" => (Format::BinarySI, 0, 40),
        "Pi" => (Format::BinarySI, 0, 50),
        "Ei" => (Format::BinarySI, 0, 60),
        s if s.starts_with(['e', 'E']) => {
            let exp = &s[1..];
            let digits = exp.strip_prefix(['+', '-']).unwrap_or(exp);
            if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
                return Err(FORMAT_ERROR.to_string());
            }
            let e: i32 = exp.parse().map_err(|_| "unable to parse quantity's suffix".to_string())?;
            (Format::DecimalExponent, e.clamp(-60, 60), 0)
        }
        s if s.chars().all(|c| "eEinumkKMGTP".contains(c)) => return Err("unable to parse quantity's suffix".to_string()),
        _ => return Err(FORMAT_ERROR.to_string()),
    };
    // Digits beyond what i128 holds cannot change a comparison that matters here.
    let digits: String = format!("{whole}{frac}").chars().take(36).collect();
    let dropped = (whole.len() + frac.len()).saturating_sub(36) as i32;
    let mantissa: i128 = if digits.is_empty() { 0 } else { digits.parse().map_err(|_| FORMAT_ERROR.to_string())? };
    let scaled = mantissa.saturating_mul(pow(2, exp2));
    let shift = exp10 + 9 - frac.len() as i32 + dropped;
    let nanos = if shift >= 0 {
        scaled.saturating_mul(pow(10, shift as u32))
    } else {
        let d = pow(10, (-shift) as u32);
        scaled / d + i128::from(scaled % d != 0)
    };
    Ok(Quantity { nanos: if negative { -nanos } else { nanos }, format })
}

impl Quantity {
    pub fn zero() -> Quantity {
        Quantity { nanos: 0, format: Format::DecimalSI }
    }

    pub fn is_negative(&self) -> bool {
        self.nanos < 0
    }

    pub fn is_positive(&self) -> bool {
        self.nanos > 0
    }

    /// Whether the value is a whole number (upstream's integer-resource check uses milli-units,
    /// so sub-milli remainders also count as fractional).
    pub fn is_integer(&self) -> bool {
        self.nanos % NANO == 0
    }

    /// The value rounded away from zero to a whole number, as `Quantity.Value()` returns it.
    pub fn value(&self) -> i128 {
        let whole = self.nanos / NANO;
        match self.nanos % NANO {
            0 => whole,
            r => whole + r.signum(),
        }
    }

    /// `ceil(value * 10^scale)`: upstream's `Value()` (scale 0) and `MilliValue()` (scale 3)
    /// as the scheduler counts resources.
    pub fn ceil_scaled(&self, scale: u32) -> i128 {
        let n = self.nanos.saturating_mul(pow(10, scale));
        n.div_euclid(NANO) + i128::from(n.rem_euclid(NANO) != 0)
    }

    /// The canonical string, as `Quantity.String()` prints it.
    pub fn canonical(&self) -> String {
        let sign = if self.nanos < 0 { "-" } else { "" };
        let abs = self.nanos.unsigned_abs() as i128;
        let binary = self.format == Format::BinarySI && abs >= 1024 * NANO && abs % NANO == 0;
        if binary {
            let mut amount = abs / NANO;
            let mut exp = 0;
            while exp < 6 && amount % 1024 == 0 {
                amount /= 1024;
                exp += 1;
            }
            let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][exp];
            return format!("{sign}{amount}{suffix}");
        }
        if abs == 0 {
            return "0".to_string();
        }
        let (mut mantissa, mut exp) = (abs, -9i32);
        while exp < 18 && mantissa % 1000 == 0 {
            mantissa /= 1000;
            exp += 3;
        }
        let suffix = match self.format {
            Format::DecimalExponent if exp == 0 => String::new(),
            Format::DecimalExponent => format!("e{exp}"),
            _ => match exp {
                -9 => "n",
                -6 => "u",
                -3 => "m",
                0 => "",
                3 => "k",
                6 => "M",
                9 => "G",
                12 => "T",
                15 => "P",
                _ => "E",
            }
            .to_string(),
        };
        format!("{sign}{mantissa}{suffix}")
    }
}

impl std::fmt::Display for Quantity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.canonical())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        let cases = [
            ("1", "1"),
            ("1000m", "1"),
            ("0.5", "500m"),
            ("100m", "100m"),
            ("1.5", "1500m"),
            ("1000", "1k"),
            ("1500", "1500"),
            ("2000000", "2M"),
            ("1Gi", "1Gi"),
            ("1024Mi", "1Gi"),
            ("1.5Gi", "1536Mi"),
            ("100Mi", "100Mi"),
            ("512", "512"),
            ("0.5Ki", "512"),
            ("1e3", "1e3"),
            ("1E6", "1e6"),
            ("-2", "-2"),
            ("+3k", "3k"),
            ("0", "0"),
            ("0Gi", "0"),
            ("128974848", "128974848"),
            ("129e6", "129e6"),
            ("0.1n", "1n"),
        ];
        for (input, want) in cases {
            assert_eq!(parse(input).unwrap().canonical(), want, "{input}");
        }
    }

    #[test]
    fn comparisons_and_predicates() {
        let q = |s: &str| parse(s).unwrap();
        assert!(q("1Gi") > q("1G"));
        assert!(q("500m") < q("1"));
        assert_eq!(q("1000m").cmp(&q("1")), Ordering::Equal);
        assert!(q("-1").is_negative());
        assert!(!q("0").is_positive());
        assert!(q("2").is_integer());
        assert!(!q("1500m").is_integer());
        assert_eq!(q("1500m").value(), 2);
        assert_eq!(q("-500m").value(), -1);
    }

    #[test]
    fn malformed_quantities() {
        let cases = [
            ("", FORMAT_ERROR),
            ("abc", FORMAT_ERROR),
            ("1..2", FORMAT_ERROR),
            ("1x", FORMAT_ERROR),
            ("1Kb", FORMAT_ERROR),
            ("1mi", "unable to parse quantity's suffix"),
            ("Gi", FORMAT_ERROR),
        ];
        for (input, want) in cases {
            assert_eq!(parse(input).unwrap_err(), want, "{input}");
        }
    }
}
