//! `squeeze bench --plot FILE.svg`: the run as a horizontal bar chart — one bar per row, its
//! fraction of the copy bandwidth measured in the same run, coloured by kernel family, in run
//! order (top to bottom) — titled with the adapter, backend and date. Drawn with plotters' SVG
//! backend; text is left to the SVG viewer's fonts (plotters' built-in size estimate lays it
//! out), so no font library is linked.

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use squeeze::Error;
use squeeze_bench::{Report, Row};

const WIDTH: u32 = 1100;
/// Pixels per bar.
const ROW_HEIGHT: u32 = 18;
/// Title, axis and margins.
const FRAME_HEIGHT: u32 = 110;
/// Approximate pixels per character of 12-pixel sans-serif text, for the label column.
const CHAR_WIDTH: f64 = 6.6;

/// The SVG text of the chart of `report`.
pub fn svg(report: &Report) -> Result<String, Error> {
    let failed = |e: &dyn std::fmt::Display| Error::invalid("--plot", "chart", "drawable", e);
    let rows = &report.rows;
    let n = rows.len();
    let families = families(rows);
    let label = |r: &Row| format!("{} {}", r.kernel, r.shape);
    let label_width = rows
        .iter()
        .map(|r| label(r).chars().count())
        .max()
        .unwrap_or(0) as f64
        * CHAR_WIDTH
        + 16.0;
    let max = rows
        .iter()
        .map(|r| r.copy_fraction)
        .filter(|f| f.is_finite())
        .fold(1.0, f64::max)
        * 1.25; // room on the right for the legend
    let mut text = String::new();
    {
        let height = FRAME_HEIGHT + ROW_HEIGHT * n as u32;
        let root = SVGBackend::with_string(&mut text, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| failed(&e))?;
        let date = if report.date.is_empty() {
            String::new()
        } else {
            format!(", {}", report.date)
        };
        let title = format!(
            "squeeze bench — {} ({}){date}",
            report.adapter, report.backend
        );
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(label_width.min(f64::from(WIDTH) * 0.6) as u32)
            .build_cartesian_2d(0.0..max, (0..n).into_segmented())
            .map_err(|e| failed(&e))?;
        // Row i is drawn at y = n - 1 - i, so the run reads top to bottom.
        let row_at = |y: &SegmentValue<usize>| match y {
            SegmentValue::CenterOf(y) | SegmentValue::Exact(y) if *y < n => {
                rows.get(n - 1 - y).map(label).unwrap_or_default()
            }
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_max_light_lines(1)
            .y_labels(n)
            .y_label_formatter(&row_at)
            .y_label_style(("sans-serif", 12))
            .x_desc("fraction of copy bandwidth (1.0 = the copy kernel in the same run)")
            .draw()
            .map_err(|e| failed(&e))?;
        for (i, family) in families.iter().enumerate() {
            let colour = Palette99::pick(i).to_rgba();
            let bars = rows
                .iter()
                .enumerate()
                .filter(|(_, r)| &r.family == family)
                .map(move |(i, r)| {
                    let y = n - 1 - i;
                    let value = if r.copy_fraction.is_finite() {
                        r.copy_fraction
                    } else {
                        0.0
                    };
                    let mut bar = Rectangle::new(
                        [
                            (0.0, SegmentValue::Exact(y)),
                            (value, SegmentValue::Exact(y + 1)),
                        ],
                        colour.filled(),
                    );
                    bar.set_margin(2, 2, 0, 0);
                    bar
                });
            let name = if family.is_empty() { "other" } else { family };
            chart
                .draw_series(bars)
                .map_err(|e| failed(&e))?
                .label(name)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], colour.filled())
                });
        }
        chart
            .draw_series(rows.iter().enumerate().map(|(i, r)| {
                let value = if r.copy_fraction.is_finite() {
                    r.copy_fraction
                } else {
                    0.0
                };
                Text::new(
                    format!(" {:.2}", r.copy_fraction),
                    (value, SegmentValue::Exact(n - i)),
                    ("sans-serif", 11),
                )
            }))
            .map_err(|e| failed(&e))?;
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(1.0, SegmentValue::Exact(0)), (1.0, SegmentValue::Exact(n))],
                BLACK.stroke_width(1),
            )))
            .map_err(|e| failed(&e))?;
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .label_font(("sans-serif", 12))
            .draw()
            .map_err(|e| failed(&e))?;
        root.present().map_err(|e| failed(&e))?;
    }
    Ok(text)
}

/// The families of `rows`, in the order they first appear.
fn families(rows: &[Row]) -> Vec<String> {
    let mut all: Vec<String> = Vec::new();
    for row in rows {
        if !all.contains(&row.family) {
            all.push(row.family.clone());
        }
    }
    all
}
