//! Number and table formatting for the report.

use std::fmt::Write as _;

/// Seconds with a unit that keeps three significant digits.
pub(super) fn fmt_secs(s: f64) -> String {
    let (v, unit) = if s >= 1.0 {
        (s, "s")
    } else if s >= 1e-3 {
        (s * 1e3, "ms")
    } else if s >= 1e-6 {
        (s * 1e6, "µs")
    } else {
        (s * 1e9, "ns")
    };
    if v >= 100.0 {
        format!("{v:.0} {unit}")
    } else if v >= 10.0 {
        format!("{v:.1} {unit}")
    } else {
        format!("{v:.2} {unit}")
    }
}

/// `+1.23 ms` / `−1.23 ms`: `s` against `base`.
pub(super) fn delta(s: f64, base: f64) -> String {
    if s >= base {
        format!("+{}", fmt_secs(s - base))
    } else {
        format!("−{}", fmt_secs(base - s))
    }
}

pub(super) fn fmt_range(min: f64, max: f64) -> String {
    format!("{} – {}", fmt_secs(min), fmt_secs(max))
}

pub(super) fn fmt_rate(per_sec: f64) -> String {
    if per_sec >= 1e6 {
        format!("{:.2} M", per_sec / 1e6)
    } else if per_sec >= 1e3 {
        format!("{:.1} k", per_sec / 1e3)
    } else {
        format!("{per_sec:.1}")
    }
}

pub(super) fn fmt_kib(kib: Option<u64>) -> String {
    match kib {
        #[allow(clippy::cast_precision_loss)]
        Some(k) => format!("{:.1} MiB", k as f64 / 1024.0),
        None => "n/a".into(),
    }
}

#[allow(clippy::cast_precision_loss)]
pub(super) fn fmt_mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// `100000` as `100,000`.
pub(super) fn fmt_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A Markdown table: the first `text` columns left-aligned, the others
/// (numbers) right-aligned. `|` in cells is escaped.
pub(super) fn table(columns: &[&str], text: usize, rows: &[Vec<String>]) -> String {
    let mut t = format!("| {} |\n", columns.join(" | "));
    let align: Vec<&str> = (0..columns.len())
        .map(|i| if i < text { "---" } else { "---:" })
        .collect();
    let _ = writeln!(t, "| {} |", align.join(" | "));
    for r in rows {
        let cells: Vec<String> = r.iter().map(|c| c.replace('|', "\\|")).collect();
        let _ = writeln!(t, "| {} |", cells.join(" | "));
    }
    t
}

/// Megabytes (10^6 bytes) per second, no decimals.
#[allow(clippy::cast_precision_loss)]
pub(super) fn mb_per_s(bytes: u64, secs: f64) -> String {
    format!("{:.0}", bytes as f64 / secs / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_have_thousands_separators() {
        assert_eq!(fmt_count(100_000), "100,000");
        assert_eq!(fmt_count(999), "999");
    }
}
