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
    let xmax = pts.iter().map(|p| p.0).fold(0.0f64, f64::max).max(1e-9);
    let (ymin, ymax) = pts
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(p.1), b.max(p.1))
        });
    let (ymin, ymax) = if pts.is_empty() {
        (0.0, 1.0)
    } else if (ymax - ymin).abs() < 1e-12 {
        (ymin - 0.5, ymax + 0.5)
    } else {
        (ymin, ymax)
    };
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
    let _ = write!(
        s,
        r#"<text x="{}" y="{}" class="tick" text-anchor="end">{ymax:.3}</text>"#,
        left - 4.0,
        top + 4.0
    );
    let _ = write!(
        s,
        r#"<text x="{}" y="{}" class="tick" text-anchor="end">{ymin:.3}</text>"#,
        left - 4.0,
        h - bottom
    );
    let _ = write!(
        s,
        r#"<text x="{}" y="{}" class="tick" text-anchor="end">{}</text>"#,
        w - right,
        h - bottom + 14.0,
        fmt_x(xmax, axis)
    );
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
}
