//! Medians, percentiles and the report format (`name: value unit`, details indented below).

use std::fmt::Write as _;

/// The median of `xs` (the mean of the two middle values for an even count); NaN when empty.
pub fn median(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The `p`-th percentile (0..=100) of `xs` by the nearest-rank method; NaN when empty.
pub fn percentile(xs: &[f64], p: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

/// Formats the runs of a repeated measurement for a detail line: `min .. max (n runs)`.
pub fn spread(xs: &[f64]) -> String {
    let min = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let max = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!(
        "runs: {} .. {} ({} runs)",
        fmt_num(min),
        fmt_num(max),
        xs.len()
    )
}

/// A number with a precision that suits its size.
pub fn fmt_num(x: f64) -> String {
    if !x.is_finite() {
        return "n/a".into();
    }
    let a = x.abs();
    if a >= 100.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// One headline figure and its detail lines.
pub struct Figure {
    /// The figure's name, e.g. `engine_ns_per_event`.
    pub name: &'static str,
    /// Its value; NaN when it could not be measured.
    pub value: f64,
    /// Its unit, e.g. `ns`.
    pub unit: &'static str,
    /// Lines printed indented below the figure.
    pub details: Vec<String>,
}

impl Figure {
    /// A figure with no details yet.
    pub fn new(name: &'static str, value: f64, unit: &'static str) -> Self {
        Figure {
            name,
            value,
            unit,
            details: Vec::new(),
        }
    }

    /// A figure that could not be measured, with the reason as its detail.
    pub fn missing(name: &'static str, unit: &'static str, why: impl Into<String>) -> Self {
        Figure {
            name,
            value: f64::NAN,
            unit,
            details: vec![why.into()],
        }
    }

    /// Adds a detail line.
    pub fn detail(mut self, line: impl Into<String>) -> Self {
        self.details.push(line.into());
        self
    }

    /// The figure as printed: the headline, then each detail indented by two spaces.
    pub fn render(&self) -> String {
        let mut s = format!("{}: {} {}\n", self.name, fmt_num(self.value), self.unit);
        for d in &self.details {
            let _ = writeln!(s, "  {d}");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_odd_even_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn percentile_nearest_rank() {
        let xs: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&xs, 50.0), 50.0);
        assert_eq!(percentile(&xs, 99.0), 99.0);
        assert_eq!(percentile(&xs, 100.0), 100.0);
        assert_eq!(percentile(&xs, 0.0), 1.0);
    }

    #[test]
    fn render_format() {
        let f = Figure::new("x_ns", 812.4, "ns").detail("a b");
        assert_eq!(f.render(), "x_ns: 812 ns\n  a b\n");
        assert_eq!(
            Figure::missing("y", "us", "why").render(),
            "y: n/a us\n  why\n"
        );
    }
}
