//! Charts as data, and their one renderer.
//!
//! Every figure is first a [`Chart`]: its title, axes and layers of numbers (the points, lines,
//! bands, bars and cells it shows). The data behind a figure is therefore checked where it is
//! made (a test compares a chart's points with the table's rows, its h* with the optimiser's),
//! and one renderer draws every chart with plotters, to SVG or to PNG. Log axes are drawn as
//! linear axes over log10 of the values with ticks labelled in the values, so that every chart
//! has one coordinate type.

use plotters::coord::Shift;
use plotters::element::IntoDynElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::style::{self, Format};
use crate::error::{Error, Result};

/// One axis: its label (with units) and whether it is logarithmic.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Axis {
    /// The label, units included (`model size N (parameters)`).
    pub label: String,
    /// Drawn on a log scale (the data span decades).
    pub log: bool,
}

impl Axis {
    /// A linear axis.
    pub fn linear(label: impl Into<String>) -> Axis {
        Axis {
            label: label.into(),
            log: false,
        }
    }

    /// A log axis.
    pub fn log(label: impl Into<String>) -> Axis {
        Axis {
            label: label.into(),
            log: true,
        }
    }

    /// A log axis when `values` span more than a decade, else a linear one.
    pub fn auto(label: impl Into<String>, values: impl IntoIterator<Item = f64>) -> Axis {
        let (lo, hi) = range(values);
        Axis {
            label: label.into(),
            log: lo > 0.0 && hi / lo > 10.0,
        }
    }

    fn to(&self, v: f64) -> f64 {
        if self.log {
            v.log10()
        } else {
            v
        }
    }
}

/// How a layer's points are drawn.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mark {
    /// A marker per point.
    Points,
    /// A line through the points in order.
    Line,
    /// A dashed line through the points in order.
    Dashed,
    /// A shaded band between `lo` and `hi` at each point's x (the points are the middle).
    Band {
        /// Lower edge per point.
        lo: Vec<f64>,
        /// Upper edge per point.
        hi: Vec<f64>,
    },
    /// A vertical interval at each point: `lo` to `hi`, with the point marked.
    Intervals {
        /// Lower end per point.
        lo: Vec<f64>,
        /// Upper end per point.
        hi: Vec<f64>,
    },
    /// A bar from 0 (or the axis floor) to each point's y, `width` wide in x.
    Bars {
        /// Width of every bar, in x units.
        width: f64,
    },
    /// A large marker per point (an optimum).
    Star,
}

/// One layer of a chart: a name for the legend, a colour of the palette, a mark and points.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Layer {
    /// The legend's entry (empty: not in the legend).
    pub name: String,
    /// Index into the palette.
    pub colour: usize,
    /// How the points are drawn.
    pub mark: Mark,
    /// The points, (x, y) in data units.
    pub points: Vec<(f64, f64)>,
}

impl Layer {
    /// A layer of `mark` named `name` in colour `colour`.
    pub fn new(
        name: impl Into<String>,
        colour: usize,
        mark: Mark,
        points: Vec<(f64, f64)>,
    ) -> Layer {
        Layer {
            name: name.into(),
            colour,
            mark,
            points,
        }
    }
}

/// A map of values over cells: each cell a polygon in data coordinates, coloured by its value
/// on a colour scale (viridis, which reads in grey and to colour-blind eyes).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Cells {
    /// What the colour shows (the colour bar's label).
    pub label: String,
    /// Each cell's corners.
    pub polygons: Vec<Vec<(f64, f64)>>,
    /// Each cell's value.
    pub values: Vec<f64>,
}

/// A chart: a title saying what it shows and on which data, a caption, two axes, optional
/// cells under the layers, and category names for a bar chart's x axis.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Chart {
    /// What it shows, and on which data.
    pub title: String,
    /// A sentence under the figure (fit quality, what the marks mean).
    pub caption: String,
    /// The x axis.
    pub x: Axis,
    /// The y axis.
    pub y: Axis,
    /// Coloured cells drawn first (heat maps, ternary maps).
    pub cells: Option<Cells>,
    /// Names of integer x positions 0, 1, ... (bar charts); empty for a numeric x axis.
    pub categories: Vec<String>,
    /// Hide the axes (a ternary map draws its own).
    pub bare: bool,
    /// The layers, drawn in order.
    pub layers: Vec<Layer>,
    /// Text placed at data coordinates (a ternary map's corners).
    pub labels: Vec<(String, (f64, f64))>,
}

impl Chart {
    /// A chart with no layers yet.
    pub fn new(title: impl Into<String>, x: Axis, y: Axis) -> Chart {
        Chart {
            title: title.into(),
            caption: String::new(),
            x,
            y,
            cells: None,
            categories: Vec::new(),
            bare: false,
            layers: Vec::new(),
            labels: Vec::new(),
        }
    }

    /// The chart drawn in `format` at `size` pixels: an SVG document, or PNG bytes.
    pub fn render(&self, format: Format, size: (u32, u32)) -> Result<Vec<u8>> {
        style::fonts();
        match format {
            Format::Svg => {
                let mut text = String::new();
                {
                    let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
                    self.draw(&root)?;
                    root.present().map_err(drawing)?;
                }
                Ok(text.into_bytes())
            }
            Format::Png => {
                let mut rgb = vec![0u8; (size.0 * size.1 * 3) as usize];
                {
                    let root = BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
                    self.draw(&root)?;
                    root.present().map_err(drawing)?;
                }
                let mut png = Vec::new();
                let mut encoder = png::Encoder::new(&mut png, size.0, size.1);
                encoder.set_color(png::ColorType::Rgb);
                encoder.set_depth(png::BitDepth::Eight);
                let mut writer = encoder.write_header().map_err(drawing)?;
                writer.write_image_data(&rgb).map_err(drawing)?;
                writer.finish().map_err(drawing)?;
                Ok(png)
            }
        }
    }

    /// The data bounds of the chart in drawn (possibly log) coordinates, padded by 4 %.
    fn bounds(&self) -> ((f64, f64), (f64, f64)) {
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        for l in &self.layers {
            for (i, &(x, y)) in l.points.iter().enumerate() {
                xs.push(self.x.to(x));
                ys.push(self.y.to(y));
                match &l.mark {
                    Mark::Band { lo, hi } | Mark::Intervals { lo, hi } => {
                        ys.push(self.y.to(lo[i]));
                        ys.push(self.y.to(hi[i]));
                    }
                    Mark::Bars { width } => {
                        xs.push(self.x.to(x - width / 2.0));
                        xs.push(self.x.to(x + width / 2.0));
                        ys.push(0.0);
                    }
                    _ => {}
                }
            }
        }
        for (_, (x, y)) in &self.labels {
            xs.push(self.x.to(*x));
            ys.push(self.y.to(*y));
        }
        if let Some(c) = &self.cells {
            for p in c.polygons.iter().flatten() {
                xs.push(self.x.to(p.0));
                ys.push(self.y.to(p.1));
            }
        }
        let pad = |(lo, hi): (f64, f64)| {
            let span = if hi > lo { hi - lo } else { lo.abs().max(1.0) };
            (lo - 0.04 * span, hi + 0.04 * span)
        };
        (pad(range(xs)), pad(range(ys)))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        root.fill(&WHITE).map_err(drawing)?;
        let (root, bar) = match &self.cells {
            Some(_) => {
                let (w, _) = root.dim_in_pixel();
                let (main, bar) = root.split_horizontally(w.saturating_sub(90));
                (main, Some(bar))
            }
            None => (root.clone(), None),
        };
        let ((x0, x1), (y0, y1)) = self.bounds();
        let mut builder = ChartBuilder::on(&root);
        builder.caption(&self.title, (style::FONT, 17)).margin(12);
        if !self.bare {
            builder.x_label_area_size(44).y_label_area_size(64);
        }
        let mut chart = builder
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(drawing)?;
        if !self.bare {
            let fx = |v: &f64| tick(&self.x, &self.categories, *v);
            let fy = |v: &f64| tick(&self.y, &[], *v);
            let mut mesh = chart.configure_mesh();
            mesh.x_desc(&self.x.label)
                .y_desc(&self.y.label)
                .x_label_formatter(&fx)
                .y_label_formatter(&fy)
                .label_style((style::FONT, 13))
                .axis_desc_style((style::FONT, 14))
                .light_line_style(RGBColor(235, 235, 235))
                .bold_line_style(RGBColor(215, 215, 215));
            if !self.categories.is_empty() {
                mesh.x_labels(self.categories.len() * 2 + 1);
            }
            mesh.draw().map_err(drawing)?;
        }
        if let Some(c) = &self.cells {
            let (lo, hi) = range(c.values.iter().copied());
            chart
                .draw_series(c.polygons.iter().zip(&c.values).map(|(poly, &v)| {
                    let pts: Vec<(f64, f64)> = poly
                        .iter()
                        .map(|&(x, y)| (self.x.to(x), self.y.to(y)))
                        .collect();
                    Polygon::new(pts, style::scale(v, lo, hi).filled())
                }))
                .map_err(drawing)?;
            if let Some(bar) = &bar {
                colour_bar(bar, &c.label, lo, hi)?;
            }
        }
        let mut legend = false;
        for l in &self.layers {
            let colour = style::colour(l.colour);
            let pts: Vec<(f64, f64)> = l
                .points
                .iter()
                .map(|&(x, y)| (self.x.to(x), self.y.to(y)))
                .collect();
            let drawn =
                match &l.mark {
                    Mark::Points => chart
                        .draw_series(
                            pts.iter()
                                .map(|&p| Circle::new(p, 3, colour.mix(0.6).filled())),
                        )
                        .map_err(drawing)?,
                    Mark::Star => chart
                        .draw_series(pts.iter().flat_map(|&p| {
                            [
                                Circle::new(p, 7, WHITE.filled()),
                                Circle::new(p, 6, colour.filled()),
                            ]
                        }))
                        .map_err(drawing)?,
                    Mark::Line => chart
                        .draw_series(LineSeries::new(pts.clone(), colour.stroke_width(2)))
                        .map_err(drawing)?,
                    Mark::Dashed => chart
                        .draw_series(DashedLineSeries::new(
                            pts.clone(),
                            6,
                            4,
                            colour.stroke_width(2),
                        ))
                        .map_err(drawing)?,
                    Mark::Band { lo, hi } => {
                        let mut poly: Vec<(f64, f64)> = pts
                            .iter()
                            .zip(lo)
                            .map(|(&(x, _), &v)| (x, self.y.to(v)))
                            .collect();
                        poly.extend(
                            pts.iter()
                                .zip(hi)
                                .rev()
                                .map(|(&(x, _), &v)| (x, self.y.to(v))),
                        );
                        chart
                            .draw_series(std::iter::once(Polygon::new(
                                poly,
                                colour.mix(0.22).filled(),
                            )))
                            .map_err(drawing)?
                    }
                    Mark::Intervals { lo, hi } => chart
                        .draw_series(pts.iter().zip(lo.iter().zip(hi)).map(
                            |(&(x, y), (&a, &b))| {
                                ErrorBar::new_vertical(
                                    x,
                                    self.y.to(a),
                                    y,
                                    self.y.to(b),
                                    BLACK.stroke_width(1),
                                    6,
                                )
                            },
                        ))
                        .map_err(drawing)?,
                    Mark::Bars { width } => chart
                        .draw_series(pts.iter().map(|&(x, y)| {
                            Rectangle::new(
                                [(x - width / 2.0, 0.0f64.max(y0)), (x + width / 2.0, y)],
                                colour.filled(),
                            )
                        }))
                        .map_err(drawing)?,
                };
            if !l.name.is_empty() {
                legend = true;
                let mark = l.mark.clone();
                drawn
                    .label(l.name.clone())
                    .legend(move |(x, y)| match mark {
                        Mark::Line | Mark::Dashed | Mark::Band { .. } => {
                            PathElement::new(vec![(x - 8, y), (x + 8, y)], colour.stroke_width(3))
                                .into_dyn()
                        }
                        _ => Circle::new((x, y), 4, colour.filled()).into_dyn(),
                    });
            }
        }
        chart
            .draw_series(self.labels.iter().map(|(text, (x, y))| {
                Text::new(
                    text.clone(),
                    (self.x.to(*x), self.y.to(*y)),
                    TextStyle::from((style::FONT, 14).into_font())
                        .pos(Pos::new(HPos::Center, VPos::Center)),
                )
            }))
            .map_err(drawing)?;
        if legend {
            chart
                .configure_series_labels()
                .label_font((style::FONT, 13))
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(180, 180, 180))
                .position(SeriesLabelPosition::UpperRight)
                .draw()
                .map_err(drawing)?;
        }
        Ok(())
    }
}

/// A vertical colour bar from `lo` (bottom) to `hi` (top), labelled.
fn colour_bar<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    label: &str,
    lo: f64,
    hi: f64,
) -> Result<()> {
    let (lo, hi) = if hi > lo { (lo, hi) } else { (lo, lo + 1.0) };
    let mut chart = ChartBuilder::on(area)
        .margin_top(40)
        .margin_bottom(50)
        .margin_right(8)
        .y_label_area_size(52)
        .build_cartesian_2d(0.0..1.0, lo..hi)
        .map_err(drawing)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .disable_x_axis()
        .y_labels(6)
        .y_label_formatter(&|v| number(*v))
        .label_style((style::FONT, 12))
        .y_desc(label)
        .axis_desc_style((style::FONT, 13))
        .draw()
        .map_err(drawing)?;
    let steps = 64;
    chart
        .draw_series((0..steps).map(|i| {
            let a = lo + (hi - lo) * i as f64 / steps as f64;
            let b = lo + (hi - lo) * (i + 1) as f64 / steps as f64;
            Rectangle::new([(0.0, a), (1.0, b)], style::scale(a, lo, hi).filled())
        }))
        .map_err(drawing)?;
    Ok(())
}

/// A tick label: the category at an integer position, else the value (10^v on a log axis).
fn tick(axis: &Axis, categories: &[String], v: f64) -> String {
    if !categories.is_empty() {
        let i = v.round();
        return if (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < categories.len() {
            categories[i as usize].clone()
        } else {
            String::new()
        };
    }
    number(if axis.log { 10f64.powf(v) } else { v })
}

/// A number as a tick shows it: plain for moderate magnitudes, else `3.2e9`.
pub fn number(v: f64) -> String {
    let a = v.abs();
    // Below 1e-12 a tick is zero up to rounding (a grid step of 0.2 summed from -0.6).
    if a < 1e-12 {
        "0".into()
    } else if (1e-3..1e5).contains(&a) {
        let s = format!("{v:.4}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    } else {
        let s = format!("{v:.2e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let m = m.trim_end_matches('0').trim_end_matches('.');
        format!("{m}e{e}")
    }
}

/// The finite range of `values` ((0, 1) if there are none).
pub fn range(values: impl IntoIterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.into_iter().filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi {
        (0.0, 1.0)
    } else {
        (lo, hi)
    }
}

fn drawing(e: impl std::fmt::Display) -> Error {
    Error::usage(format!("drawing a figure failed: {e}"))
}
