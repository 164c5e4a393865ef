//! Learning curves as inline SVG, drawn on the server: one metric against the number of
//! labels or against money spent, one point per evaluated round.

use atgen_engine::record::RoundMetrics;
use std::fmt::Write;

/// The x axis of a curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    Labeled,
    Cost,
}

impl Axis {
    /// `labeled` or `cost`.
    pub fn parse(s: &str) -> Option<Axis> {
        match s {
            "labeled" | "" => Some(Axis::Labeled),
            "cost" => Some(Axis::Cost),
            _ => None,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Axis::Labeled => "labeled texts",
            Axis::Cost => "money spent ($)",
        }
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Metric names present in any round.
pub fn metric_names(curve: &[RoundMetrics]) -> Vec<String> {
    let mut v: Vec<String> = curve
        .iter()
        .flat_map(|c| c.metrics.keys().cloned())
        .collect();
    v.sort();
    v.dedup();
    v
}

/// An SVG of `metric` over `curve` (rounds without the metric are left out).
pub fn svg(curve: &[RoundMetrics], metric: &str, axis: Axis) -> String {
    let pts: Vec<(f64, f64)> = curve
        .iter()
        .filter_map(|c| {
            let y = *c.metrics.get(metric)?;
            let x = match axis {
                Axis::Labeled => c.n_labeled as f64,
                Axis::Cost => c.cost,
            };
            (x.is_finite() && y.is_finite()).then_some((x, y))
        })
        .collect();
    let (w, h, left, bottom, top, right) = (360.0, 220.0, 48.0, 36.0, 24.0, 12.0);
    let (xmax, _) = nice_ceil(pts.iter().map(|p| p.0).fold(0.0f64, f64::max));
    let (ymin, ymax) = y_range(pts.iter().map(|p| p.1));
    let sx = |x: f64| left + x / xmax * (w - left - right);
    let sy = |y: f64| h - bottom - (y - ymin) / (ymax - ymin) * (h - bottom - top);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="curve" data-metric="{m}" data-axis="{a}" data-points="{n}" viewBox="0 0 {w} {h}" role="img" aria-label="{m} vs {al}">"#,
        m = esc(metric),
        a = if axis == Axis::Labeled {
            "labeled"
        } else {
            "cost"
        },
        n = pts.len(),
        al = axis.label(),
    );
    let _ = write!(
        s,
        r#"<text x="{left}" y="16" class="title">{}</text>"#,
        esc(metric)
    );
    // Money not spent yet: a message, not an axis squeezed onto zero.
    if axis == Axis::Cost && !pts.is_empty() && pts.iter().all(|p| p.0 == 0.0) {
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" class="tick empty" text-anchor="middle">nothing spent yet</text></svg>"#,
            w / 2.0,
            h / 2.0
        );
        return s;
    }
    let _ = write!(
        s,
        r#"<line x1="{left}" y1="{b}" x2="{r}" y2="{b}" class="axis"/><line x1="{left}" y1="{top}" x2="{left}" y2="{b}" class="axis"/>"#,
        b = h - bottom,
        r = w - right
    );
    let _ = write!(
        s,
        r#"<text x="{}" y="{}" class="tick" text-anchor="middle">{}</text>"#,
        (w + left) / 2.0,
        h - 4.0,
        axis.label()
    );
    for y in ticks(ymin, ymax) {
        let _ = write!(
            s,
            r#"<text x="{}" y="{:.1}" class="tick y" text-anchor="end">{}</text>"#,
            left - 4.0,
            sy(y) + 3.0,
            fmt_tick(y, ymax - ymin)
        );
    }
    for x in ticks(0.0, xmax) {
        let text = match axis {
            Axis::Labeled => fmt_tick(x, xmax.max(4.0)),
            Axis::Cost => format!("${}", fmt_tick(x, xmax)),
        };
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{}" class="tick x" text-anchor="middle">{text}</text>"#,
            sx(x),
            h - bottom + 14.0,
        );
    }
    if pts.len() > 1 {
        let line: Vec<String> = pts
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
            .collect();
        let _ = write!(s, r#"<polyline points="{}" class="line"/>"#, line.join(" "));
    }
    for &(x, y) in &pts {
        let _ = write!(
            s,
            r#"<circle class="pt" cx="{:.1}" cy="{:.1}" r="3.5"><title>{} → {y:.4}</title></circle>"#,
            sx(x),
            sy(y),
            fmt_x(x, axis)
        );
    }
    if pts.is_empty() {
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" class="tick" text-anchor="middle">no evaluated round yet</text>"#,
            (w + left) / 2.0,
            h / 2.0
        );
    }
    s.push_str("</svg>");
    s
}

/// The smallest "nice" number (1, 2 or 5 times a power of ten) at or above `v`, and its step
/// for four or five ticks; `(1, 0.25)` for nothing above zero.
fn nice_ceil(v: f64) -> (f64, f64) {
    if v <= 0.0 || !v.is_finite() {
        return (1.0, 0.25);
    }
    let p = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if m * p >= v * (1.0 - 1e-9) {
            let step = if m == 2.0 { 0.5 * p } else { m * p / 5.0 };
            return (m * p, step);
        }
    }
    (10.0 * p, 2.0 * p)
}

/// The y range: 0..1 for values within [0, 1] (scores, rates), 0..nice maximum for other
/// non-negative values, nice bounds around negative ones; never an empty or inverted range.
fn y_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    if !lo.is_finite() || (lo >= 0.0 && hi <= 1.0) {
        return (0.0, 1.0);
    }
    if lo >= 0.0 {
        return (0.0, nice_ceil(hi).0);
    }
    let down = -nice_ceil(-lo).0;
    let up = if hi <= 0.0 { 0.0 } else { nice_ceil(hi).0 };
    (down, up)
}

/// Evenly spaced tick values from `lo` to `hi`, both included (zero among them when in range).
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let (_, step) = nice_ceil(hi - lo);
    let n = ((hi - lo) / step).round() as usize;
    (0..=n.min(20)).map(|i| lo + i as f64 * step).collect()
}

/// A tick label with as many decimals as the axis span needs.
fn fmt_tick(v: f64, span: f64) -> String {
    let v = if v.abs() < 1e-12 { 0.0 } else { v };
    if span >= 4.0 {
        format!("{v:.0}")
    } else if span >= 0.4 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn fmt_x(x: f64, axis: Axis) -> String {
    match axis {
        Axis::Labeled => format!("{x:.0}"),
        Axis::Cost => format!("${x:.4}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rm(round: usize, n: usize, cost: f64, v: f64) -> RoundMetrics {
        RoundMetrics {
            round,
            n_labeled: n,
            cost,
            metrics: [("exact_match".to_string(), v)].into_iter().collect(),
            train: Default::default(),
        }
    }

    #[test]
    fn one_circle_per_round_and_names_are_escaped() {
        let c = vec![rm(0, 4, 0.0, 0.1), rm(1, 8, 0.5, 0.3)];
        let s = svg(&c, "exact_match", Axis::Cost);
        assert_eq!(s.matches("<circle").count(), 2);
        assert!(s.contains(r#"data-points="2""#));
        assert!(s.contains("$0.5000"));
        assert!(svg(&c, "<b>", Axis::Labeled).contains("&lt;b&gt;"));
        assert!(svg(&[], "x", Axis::Labeled).contains("no evaluated round yet"));
    }

    fn tick_texts(svg: &str, class: &str) -> Vec<String> {
        svg.split(&format!(r#"class="tick {class}""#))
            .skip(1)
            .filter_map(|p| Some(p.split('>').nth(1)?.split('<').next()?.to_string()))
            .collect()
    }

    #[test]
    fn a_score_uses_zero_to_one_with_ticks_on_both_axes_from_zero() {
        // All zero: 0..1, never a range below zero.
        let s = svg(
            &[rm(0, 3, 0.0, 0.0), rm(1, 5, 0.0, 0.0)],
            "exact_match",
            Axis::Labeled,
        );
        assert_eq!(
            tick_texts(&s, "y"),
            ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]
        );
        assert_eq!(tick_texts(&s, "x"), ["0", "1", "2", "3", "4", "5"]);
        assert!(!s.contains(">-"), "{s}");
        // A metric past 1 (sacreBLEU's 0..100): 0 up to a nice maximum.
        let s = svg(
            &[rm(0, 30, 0.0, 12.0), rm(1, 70, 0.0, 37.5)],
            "exact_match",
            Axis::Labeled,
        );
        assert_eq!(tick_texts(&s, "y"), ["0", "10", "20", "30", "40", "50"]);
        assert_eq!(tick_texts(&s, "x"), ["0", "20", "40", "60", "80", "100"]);
        // Negative scores (log-likelihoods) get bounds around them that include 0.
        assert_eq!(y_range([-3.2, -0.4].into_iter()), (-5.0, 0.0));
    }

    #[test]
    fn the_money_chart_says_nothing_spent_instead_of_a_degenerate_axis() {
        let c = vec![rm(0, 4, 0.0, 0.1), rm(1, 8, 0.0, 0.3)];
        let s = svg(&c, "exact_match", Axis::Cost);
        assert!(s.contains("nothing spent yet"));
        assert!(!s.contains("<circle"));
        let s = svg(
            &[rm(0, 4, 0.0, 0.1), rm(1, 8, 0.03, 0.3)],
            "exact_match",
            Axis::Cost,
        );
        assert_eq!(
            tick_texts(&s, "x").first().map(String::as_str),
            Some("$0.00")
        );
        assert_eq!(s.matches("<circle").count(), 2);
    }
}
