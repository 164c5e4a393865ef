//! A dependency-free SVG learning-curve plot: mean per strategy against labeled
//! count, with a ±1 std band across seeds.

use super::Aggregate;

const COLORS: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The plot of `metric` on `data` for every strategy.
pub fn learning_curves(agg: &Aggregate, data: &str, metric: &str) -> String {
    let (w, h, left, right, top, bottom) = (640.0, 400.0, 60.0, 150.0, 30.0, 45.0);
    let series: Vec<(&String, &Vec<super::CurvePoint>)> = agg
        .curves
        .iter()
        .filter(|((d, _, m), _)| d == data && m == metric)
        .map(|((_, s, _), c)| (s, c))
        .collect();
    let pts = series.iter().flat_map(|(_, c)| c.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for p in pts {
        x0 = x0.min(p.n_labeled);
        x1 = x1.max(p.n_labeled);
        y0 = y0.min(p.mean - p.std);
        y1 = y1.max(p.mean + p.std);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    if y1 <= y0 {
        y1 = y0 + 1.0;
    }
    let sx = |x: f64| left + (x - x0) / (x1 - x0) * (w - left - right);
    let sy = |y: f64| h - bottom - (y - y0) / (y1 - y0) * (h - top - bottom);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{}\" y=\"18\" text-anchor=\"middle\">{} — {}</text>\n\
         <line x1=\"{left}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/>\n\
         <line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{}\" stroke=\"black\"/>\n\
         <text x=\"{}\" y=\"{}\" text-anchor=\"middle\">labeled texts</text>\n",
        (w - right + left) / 2.0,
        esc(data),
        esc(metric),
        h - bottom,
        w - right,
        h - bottom,
        h - bottom,
        (w - right + left) / 2.0,
        h - 8.0
    );
    for (x, anchor) in [(x0, "start"), (x1, "end")] {
        svg.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{x:.0}</text>\n",
            sx(x),
            h - bottom + 16.0
        ));
    }
    for y in [y0, y1] {
        svg.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{y:.3}</text>\n",
            left - 4.0,
            sy(y) + 4.0
        ));
    }
    for (i, (name, curve)) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let upper: Vec<String> = curve
            .iter()
            .map(|p| format!("{:.1},{:.1}", sx(p.n_labeled), sy(p.mean + p.std)))
            .collect();
        let lower: Vec<String> = curve
            .iter()
            .rev()
            .map(|p| format!("{:.1},{:.1}", sx(p.n_labeled), sy(p.mean - p.std)))
            .collect();
        svg.push_str(&format!(
            "<polygon points=\"{} {}\" fill=\"{color}\" fill-opacity=\"0.15\" stroke=\"none\"/>\n",
            upper.join(" "),
            lower.join(" ")
        ));
        let line: Vec<String> = curve
            .iter()
            .map(|p| format!("{:.1},{:.1}", sx(p.n_labeled), sy(p.mean)))
            .collect();
        svg.push_str(&format!("<polyline class=\"strategy\" points=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"/>\n", line.join(" ")));
        let ly = top + 16.0 * i as f64 + 10.0;
        svg.push_str(&format!(
            "<line x1=\"{0}\" y1=\"{ly}\" x2=\"{1}\" y2=\"{ly}\" stroke=\"{color}\" stroke-width=\"2\"/><text x=\"{2}\" y=\"{3}\">{4}</text>\n",
            w - right + 10.0,
            w - right + 30.0,
            w - right + 35.0,
            ly + 4.0,
            esc(name)
        ));
    }
    svg.push_str("</svg>\n");
    svg
}
