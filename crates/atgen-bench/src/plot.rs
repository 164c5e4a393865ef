//! Learning-curve plots with `plotters`, as PNG and SVG: the mean of a metric
//! per strategy against labeled count (or money spent), with a ±1 standard
//! deviation band across seeds.
//!
//! PNG text is drawn with DejaVu Sans shipped in `assets/` (a Latin subset,
//! licence beside it) and registered with plotters' `ab_glyph` support, so no
//! system font is needed anywhere the binary runs.

use crate::aggregate::CurvePoint;
use crate::{BenchError, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use std::sync::OnceLock;

/// DejaVu Sans, printable ASCII + Latin-1 (see scripts/fonts/subset-dejavu.sh).
const FONT: &[u8] = include_bytes!("../assets/DejaVuSans-subset.ttf");

/// Pixel size of every plot.
pub const SIZE: (u32, u32) = (800, 500);

const COLORS: [RGBColor; 8] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xe3, 0x77, 0xc2),
    RGBColor(0x17, 0xbe, 0xcf),
];

/// What the horizontal axis shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XAxis {
    /// Labeled texts.
    Labels,
    /// Money spent on labels.
    Cost,
}

impl XAxis {
    fn of(self, p: &CurvePoint) -> f64 {
        match self {
            XAxis::Labels => p.n_labeled,
            XAxis::Cost => p.cost,
        }
    }

    fn name(self) -> &'static str {
        match self {
            XAxis::Labels => "labeled texts",
            XAxis::Cost => "money spent on labels",
        }
    }
}

fn register_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, FONT).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(BenchError::Invalid(
            "the bundled DejaVu Sans font could not be parsed".into(),
        ))
    }
}

/// The plot to draw: a title and one curve per strategy.
pub struct Plot<'a> {
    pub title: String,
    pub metric: &'a str,
    pub x: XAxis,
    pub series: Vec<(&'a str, &'a [CurvePoint])>,
}

/// Writes `<stem>.png` and `<stem>.svg` in `dir`.
pub fn write(plot: &Plot<'_>, dir: &Path, stem: &str) -> Result<()> {
    register_font()?;
    let png = dir.join(format!("{stem}.png"));
    let svg = dir.join(format!("{stem}.svg"));
    let err = |file: &Path, e: String| BenchError::Plot {
        file: file.display().to_string(),
        reason: e,
    };
    let root = BitMapBackend::new(&png, SIZE).into_drawing_area();
    draw(plot, &root).map_err(|e| err(&png, e))?;
    root.present().map_err(|e| err(&png, e.to_string()))?;
    drop(root);
    let root = SVGBackend::new(&svg, SIZE).into_drawing_area();
    draw(plot, &root).map_err(|e| err(&svg, e))?;
    root.present().map_err(|e| err(&svg, e.to_string()))?;
    Ok(())
}

/// Axis ranges covering every mean ± std, never empty.
fn ranges(plot: &Plot<'_>) -> (std::ops::Range<f64>, std::ops::Range<f64>) {
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for p in plot.series.iter().flat_map(|(_, c)| c.iter()) {
        let x = plot.x.of(p);
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(p.mean - p.std);
        y1 = y1.max(p.mean + p.std);
    }
    if x0 > x1 {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    let pad = ((y1 - y0) * 0.05).max(1e-3);
    (x0..x1, (y0 - pad)..(y1 + pad))
}

fn draw<DB: DrawingBackend>(
    plot: &Plot<'_>,
    root: &DrawingArea<DB, Shift>,
) -> std::result::Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(e)?;
    let (xr, yr) = ranges(plot);
    let mut chart = ChartBuilder::on(root)
        .caption(&plot.title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(xr, yr)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc(plot.x.name())
        .x_label_formatter(&|x| match plot.x {
            XAxis::Labels => format!("{x:.0}"),
            XAxis::Cost => format!("{x:.2}"),
        })
        .y_desc(plot.metric)
        .label_style(("sans-serif", 13))
        .draw()
        .map_err(e)?;
    for (i, (name, curve)) in plot.series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let mut band: Vec<(f64, f64)> = curve
            .iter()
            .map(|p| (plot.x.of(p), p.mean + p.std))
            .collect();
        band.extend(curve.iter().rev().map(|p| (plot.x.of(p), p.mean - p.std)));
        chart
            .draw_series(std::iter::once(Polygon::new(
                band,
                color.mix(0.15).filled(),
            )))
            .map_err(e)?;
        chart
            .draw_series(LineSeries::new(
                curve.iter().map(|p| (plot.x.of(p), p.mean)),
                color.stroke_width(2),
            ))
            .map_err(e)?
            .label(*name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart
            .draw_series(
                curve
                    .iter()
                    .map(|p| Circle::new((plot.x.of(p), p.mean), 3, color.filled())),
            )
            .map_err(e)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 13))
        .draw()
        .map_err(e)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curve(values: &[(f64, f64, f64)]) -> Vec<CurvePoint> {
        values
            .iter()
            .enumerate()
            .map(|(round, &(n, cost, mean))| CurvePoint {
                round,
                n_labeled: n,
                cost,
                mean,
                std: 0.05,
                seeds: 3,
            })
            .collect()
    }

    #[test]
    fn png_and_svg_are_written_well_formed_with_one_line_per_strategy() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let a = curve(&[(10.0, 0.1, 0.1), (20.0, 0.2, 0.3), (30.0, 0.3, 0.4)]);
        let b = curve(&[(10.0, 0.2, 0.2), (20.0, 0.4, 0.25), (30.0, 0.6, 0.5)]);
        for (x, stem) in [(XAxis::Labels, "labels"), (XAxis::Cost, "cost")] {
            let plot = Plot {
                title: "aeslc — rouge1".into(),
                metric: "rouge1",
                x,
                series: vec![("random", &a), ("huds", &b)],
            };
            write(&plot, dir.path(), stem)?;
            let png = fs_err::read(dir.path().join(format!("{stem}.png")))?;
            assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
            assert_eq!(&png[12..16], b"IHDR");
            let w = u32::from_be_bytes([png[16], png[17], png[18], png[19]]);
            let h = u32::from_be_bytes([png[20], png[21], png[22], png[23]]);
            assert_eq!((w, h), SIZE);
            // Text was rasterised: some pixels are neither white nor a series colour's tint.
            assert!(png.len() > 5_000, "{} bytes", png.len());
            let svg = fs_err::read_to_string(dir.path().join(format!("{stem}.svg")))?;
            let doc = roxmltree::Document::parse(&svg)
                .map_err(|e| BenchError::Invalid(format!("{stem}.svg does not parse: {e}")))?;
            assert_eq!(doc.root_element().tag_name().name(), "svg");
            let texts: Vec<&str> = doc
                .descendants()
                .filter(|n| n.has_tag_name("text"))
                .filter_map(|n| n.text())
                .map(str::trim)
                .collect();
            for want in ["random", "huds", "rouge1", x.name()] {
                assert!(texts.contains(&want), "{want} missing from {texts:?}");
            }
            let lines = doc
                .descendants()
                .filter(|n| n.has_tag_name("polyline"))
                .count();
            // Two strategy lines plus two legend samples (mesh lines are drawn as <line>).
            assert!(lines >= 2, "{lines} polylines");
        }
        Ok(())
    }
}
