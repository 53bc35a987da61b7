//! The SVG charts: throughput against threads per workload, and hit ratios
//! as grouped bars.

use std::path::{Path, PathBuf};

use bench_support::contenders::Kind;
use bench_support::Workload;

use crate::hit_ratio::{HitRatios, Trace};
use crate::throughput::Throughput;

pub fn chart_dir() -> PathBuf {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from);
    target.join("compare")
}

pub type ChartResult = Result<(), Box<dyn std::error::Error>>;

pub fn throughput_chart(
    path: &Path,
    workload: Workload,
    threads: &[usize],
    data: &Throughput,
) -> ChartResult {
    use plotters::prelude::*;
    let top = Kind::ALL
        .iter()
        .flat_map(|&k| threads.iter().map(move |&t| data[&(workload, k, t)]))
        .fold(0.0_f64, f64::max);
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{}: throughput against threads", workload.name()),
            ("sans-serif", 22),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.2_f64..(threads.len() as f64 - 0.8), 0.0..top * 1.45)?;
    let labels: Vec<String> = threads.iter().map(|t| t.to_string()).collect();
    chart
        .configure_mesh()
        .x_desc("threads")
        .y_desc("Mops/s (all threads)")
        .x_labels(threads.len() + 1)
        .x_label_formatter(&|x| category(*x, &labels))
        .draw()?;
    for (i, kind) in Kind::ALL.into_iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let points: Vec<(f64, f64)> = threads
            .iter()
            .enumerate()
            .map(|(x, &t)| (x as f64, data[&(workload, kind, t)]))
            .collect();
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(kind.name())
            .legend(legend_mark(color));
    }
    finish_chart(&mut chart, &root)
}

/// A chart with f64 coordinates on an SVG file, as both charts here draw.
type SvgChart<'a, 'b> = plotters::prelude::ChartContext<
    'a,
    plotters::prelude::SVGBackend<'b>,
    plotters::prelude::Cartesian2d<
        plotters::coord::types::RangedCoordf64,
        plotters::coord::types::RangedCoordf64,
    >,
>;

/// Draws the legend of `chart` and writes the file behind `root`.
fn finish_chart<'a, 'b: 'a>(
    chart: &mut SvgChart<'a, 'b>,
    root: &plotters::prelude::DrawingArea<
        plotters::prelude::SVGBackend<'b>,
        plotters::coord::Shift,
    >,
) -> ChartResult {
    use plotters::prelude::*;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// The legend mark of a series drawn in `color`.
fn legend_mark(
    color: plotters::style::RGBAColor,
) -> impl Fn((i32, i32)) -> plotters::element::Rectangle<(i32, i32)> {
    use plotters::prelude::*;
    move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], color.filled())
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

pub fn hit_ratio_chart(
    path: &Path,
    title: &str,
    traces: &[Trace],
    kinds: &[Kind],
    ratios: &HitRatios,
) -> ChartResult {
    use plotters::prelude::*;
    let groups: Vec<(String, usize)> = traces
        .iter()
        .flat_map(|t| t.capacities.iter().map(|&c| (t.name.clone(), c)))
        .collect();
    let names: Vec<String> = groups.iter().map(|(n, c)| format!("{n}@{c}")).collect();
    let width = (160 + 90 * groups.len()).max(700) as u32;
    let root = SVGBackend::new(path, (width, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(-0.5_f64..(groups.len() as f64 - 0.5), 0.0_f64..135.0)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(groups.len() + 1)
        .x_label_formatter(&|x| category(*x, &names))
        // The band above 100% holds the legend.
        .y_label_formatter(&|y| {
            if *y <= 100.0 {
                format!("{y:.0}")
            } else {
                String::new()
            }
        })
        .y_desc("hit ratio (%)")
        .draw()?;
    let bar = 0.8 / kinds.len() as f64;
    for (i, kind) in kinds.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let bars = groups.iter().enumerate().map(|(g, (name, capacity))| {
            let x0 = g as f64 - 0.4 + i as f64 * bar;
            let value = ratios[&(name.clone(), *capacity, *kind)];
            Rectangle::new([(x0, 0.0), (x0 + bar, value)], color.filled())
        });
        chart
            .draw_series(bars)?
            .label(kind.name())
            .legend(legend_mark(color));
    }
    finish_chart(&mut chart, &root)
}
