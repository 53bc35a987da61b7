//! The charts, each written as SVG and PNG: throughput against threads per
//! workload, and epoch-cache's hit ratio minus the best other cache's, one
//! bar per trace and capacity.

use std::path::{Path, PathBuf};

use bench_support::contenders::Kind;
use bench_support::Workload;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::hit_ratio::{short_name, Difference};
use crate::is_epoch;
use crate::throughput::Throughput;

pub fn chart_dir() -> PathBuf {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from);
    target.join("compare")
}

pub type ChartResult = Result<(), Box<dyn std::error::Error>>;

/// Fonts tried, in order, after `$COMPARE_FONT`: the charts measure and
/// draw their text with a TrueType font read at run time.
const FONTS: [&str; 6] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "C:\\Windows\\Fonts\\arial.ttf",
];

/// Registers the first font found as "sans-serif".
pub fn load_font() -> Result<PathBuf, String> {
    let candidates = std::env::var_os("COMPARE_FONT")
        .map(PathBuf::from)
        .into_iter()
        .chain(FONTS.iter().map(PathBuf::from));
    for path in candidates {
        if let Ok(bytes) = std::fs::read(&path) {
            // The font lives as long as the process: plotters keeps a borrow.
            let bytes: &'static [u8] = Vec::leak(bytes);
            if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                return Ok(path);
            }
        }
    }
    Err("no TrueType font found (set COMPARE_FONT to a .ttf file)".to_string())
}

/// A chart that can be drawn on any backend.
pub trait Chart {
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> ChartResult
    where
        DB::ErrorType: 'static;
}

/// Writes `chart` to `{stem}.svg` and `{stem}.png`.
pub fn render(dir: &Path, stem: &str, chart: &impl Chart) -> ChartResult {
    let svg = dir.join(format!("{stem}.svg"));
    let root = SVGBackend::new(&svg, chart.size()).into_drawing_area();
    chart.draw(&root)?;
    root.present()?;
    let png = dir.join(format!("{stem}.png"));
    let root = BitMapBackend::new(&png, chart.size()).into_drawing_area();
    chart.draw(&root)?;
    root.present()?;
    Ok(())
}

/// A contender's line colour: epoch-cache in a strong blue, the others in
/// distinct muted colours.
fn colour(kind: Kind) -> RGBColor {
    match kind {
        Kind::EpochCrossbeam => RGBColor(0, 90, 200),
        Kind::EpochSeize => RGBColor(0, 170, 220),
        Kind::MutexLru => RGBColor(150, 150, 150),
        Kind::ShardedLru => RGBColor(90, 90, 90),
        Kind::RwLockArc => RGBColor(190, 140, 40),
        Kind::DashMapArc => RGBColor(140, 80, 170),
        Kind::Moka => RGBColor(220, 60, 40),
        Kind::Quick => RGBColor(40, 160, 70),
        Kind::MiniMoka => RGBColor(240, 150, 150),
    }
}

pub struct ThroughputChart<'a> {
    pub workload: Workload,
    pub threads: &'a [usize],
    pub kinds: &'a [Kind],
    pub data: &'a Throughput,
}

impl Chart for ThroughputChart<'_> {
    fn size(&self) -> (u32, u32) {
        (1000, 560)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> ChartResult
    where
        DB::ErrorType: 'static,
    {
        let (workload, threads, data) = (self.workload, self.threads, self.data);
        root.fill(&WHITE)?;
        let (plot, legend) = root.split_horizontally(760);
        let top = self
            .kinds
            .iter()
            .flat_map(|&k| threads.iter().map(move |&t| data[&(workload, k, t)]))
            .fold(0.0_f64, f64::max);
        let mut chart = ChartBuilder::on(&plot)
            .caption(
                format!("{}: throughput against threads", workload.name()),
                ("sans-serif", 24),
            )
            .margin(14)
            .x_label_area_size(46)
            .y_label_area_size(64)
            .build_cartesian_2d(-0.2_f64..(threads.len() as f64 - 0.8), 0.0..top * 1.1)?;
        let labels: Vec<String> = threads.iter().map(|t| t.to_string()).collect();
        chart
            .configure_mesh()
            .x_desc("threads")
            .y_desc("million operations/s, all threads")
            .x_labels(threads.len() + 1)
            .x_label_formatter(&|x| category(*x, &labels))
            .label_style(("sans-serif", 15))
            .axis_desc_style(("sans-serif", 16))
            .light_line_style(WHITE)
            .draw()?;
        for &kind in self.kinds {
            let width = if is_epoch(kind) { 4 } else { 2 };
            let points: Vec<(f64, f64)> = threads
                .iter()
                .enumerate()
                .map(|(x, &t)| (x as f64, data[&(workload, kind, t)]))
                .collect();
            let style = colour(kind).stroke_width(width);
            chart.draw_series(LineSeries::new(points.clone(), style))?;
            chart.draw_series(
                points
                    .iter()
                    .map(|&p| Circle::new(p, width + 1, colour(kind).filled())),
            )?;
        }
        let entries: Vec<(String, RGBColor)> = self
            .kinds
            .iter()
            .map(|&k| (k.name().to_string(), colour(k)))
            .collect();
        draw_legend(&legend, &entries)
    }
}

/// A legend in its own area, right of the plot: nothing to overlap.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[(String, RGBColor)],
) -> ChartResult
where
    DB::ErrorType: 'static,
{
    let style = ("sans-serif", 16).into_font().color(&BLACK);
    for (i, (name, colour)) in entries.iter().enumerate() {
        let y = 70 + 28 * i as i32;
        area.draw(&Rectangle::new([(4, y - 6), (28, y + 6)], colour.filled()))?;
        area.draw(&Text::new(
            name.clone(),
            (36, y),
            style.pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
    }
    Ok(())
}

/// `points`, or 0 where it rounds to zero at `decimals` places: a tie
/// prints as +0.0, never -0.0.
pub fn no_negative_zero(points: f64, decimals: i32) -> f64 {
    let scale = 10_f64.powi(decimals);
    if (points * scale).round() == 0.0 {
        0.0
    } else {
        points
    }
}

/// The label of category `x` (an integer position), or nothing between them.
fn category(x: f64, names: &[String]) -> String {
    let i = x.round();
    if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < names.len() {
        names[i as usize].clone()
    } else {
        String::new()
    }
}

/// epoch-cache's hit ratio minus the best other cache's: one horizontal bar
/// per row, green where epoch-cache hits more, red where it hits less, rows
/// of one trace on a shared band, the mean over all rows last.
pub struct DifferenceChart<'a> {
    pub title: &'a str,
    pub rows: &'a [Difference],
    /// The mean of epoch-cache's hit ratios minus the highest other mean.
    pub mean: &'a Difference,
}

impl Chart for DifferenceChart<'_> {
    fn size(&self) -> (u32, u32) {
        (1000, 150 + 26 * (self.rows.len() as u32 + 1))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> ChartResult
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        let rows: Vec<&Difference> = self.rows.iter().chain([self.mean]).collect();
        let n = rows.len();
        let low = rows.iter().map(|r| r.points).fold(0.0_f64, f64::min);
        let high = rows.iter().map(|r| r.points).fold(0.0_f64, f64::max);
        let widest = (high - low).max(4.0);
        // Room past the longest bars for their labels, on both sides.
        let (left, right) = ((low - 0.45 * widest).floor(), (high + 0.45 * widest).ceil());
        let labels: Vec<String> = rows.iter().rev().map(|r| r.label.clone()).collect();
        let mut chart = ChartBuilder::on(root)
            .caption(self.title, ("sans-serif", 22))
            .margin(14)
            .x_label_area_size(50)
            .y_label_area_size(130)
            .build_cartesian_2d(left..right, -0.5_f64..(n as f64 - 0.5))?;
        // Bands: the rows of every other trace on light grey.
        let mut trace_of_previous = String::new();
        let mut shaded = true;
        for (i, row) in rows.iter().enumerate() {
            let trace = row.label.split('@').next().unwrap_or_default().to_string();
            if trace != trace_of_previous {
                shaded = !shaded;
                trace_of_previous = trace;
            }
            if shaded {
                let y = (n - 1 - i) as f64;
                chart.draw_series([Rectangle::new(
                    [(left, y - 0.5), (right, y + 0.5)],
                    RGBColor(238, 238, 238).filled(),
                )])?;
            }
        }
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n + 1)
            .y_label_formatter(&|y| category(*y, &labels))
            .x_desc("percentage points: epoch-cache's hit ratio minus the best other cache's (named on each bar)")
            .x_label_formatter(&|x| {
                if (x - x.round()).abs() < 1e-9 {
                    format!("{:+.0}", no_negative_zero(*x, 0))
                } else {
                    format!("{x:+.1}")
                }
            })
            .label_style(("sans-serif", 15))
            .axis_desc_style(("sans-serif", 15))
            .light_line_style(TRANSPARENT)
            .draw()?;
        chart.draw_series([PathElement::new(
            [(0.0, -0.5), (0.0, n as f64 - 0.5)],
            BLACK.stroke_width(1),
        )])?;
        let label_style = ("sans-serif", 15).into_font().color(&BLACK);
        for (i, row) in rows.iter().enumerate() {
            let y = (n - 1 - i) as f64;
            let is_mean = i == n - 1;
            let fill = match (is_mean, row.points >= 0.0) {
                (true, _) => RGBColor(60, 60, 60),
                (false, true) => RGBColor(40, 150, 70),
                (false, false) => RGBColor(210, 60, 50),
            };
            chart.draw_series([Rectangle::new(
                [(0.0, y - 0.36), (row.points, y + 0.36)],
                fill.filled(),
            )])?;
            let shown = no_negative_zero(row.points, 1);
            let (gap, anchor) = if shown >= 0.0 {
                (widest * 0.01, HPos::Left)
            } else {
                (-widest * 0.01, HPos::Right)
            };
            chart.draw_series([Text::new(
                format!(
                    "{:+.1} vs {}",
                    no_negative_zero(row.points, 1),
                    short_name(row.best)
                ),
                (row.points + gap, y),
                label_style.pos(Pos::new(anchor, VPos::Center)),
            )])?;
        }
        Ok(())
    }
}
