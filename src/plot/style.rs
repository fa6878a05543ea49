//! The look every figure shares: the palette, the colour scale, the font and the formats.
//!
//! Colours come from Okabe and Ito's palette, which stays distinguishable to the common forms of
//! colour blindness and in grey; maps use viridis, which reads the same way. PNGs are rendered
//! with DejaVu Sans embedded in the binary (the `dejavu` crate), so a figure looks the same on a
//! machine without fonts; SVGs name the font family and let the viewer draw the text.

use plotters::prelude::*;
use plotters::style::colors::colormaps::ViridisRGB;

/// The font family figures use (registered from the embedded DejaVu Sans).
pub const FONT: &str = "sans-serif";

/// Okabe–Ito, black last (for reference lines).
const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),   // blue
    RGBColor(230, 159, 0),   // orange
    RGBColor(0, 158, 115),   // bluish green
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(213, 94, 0),    // vermillion
    RGBColor(240, 228, 66),  // yellow
    RGBColor(0, 0, 0),       // black
];

/// The palette's colour for reference lines (y = x, estimates).
pub const BLACK_INDEX: usize = 7;

/// Colour `i` of the palette (cycling past its eight).
pub fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// The colour of `v` on the viridis scale from `lo` to `hi`.
pub fn scale(v: f64, lo: f64, hi: f64) -> RGBColor {
    let t = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
    ViridisRGB::get_color(t.clamp(0.0, 1.0))
}

/// The file format of a figure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// An SVG document.
    Svg,
    /// A PNG image.
    Png,
}

impl Format {
    /// The format a path's extension names (`.svg` or `.png`).
    pub fn of(path: &std::path::Path) -> crate::Result<Format> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
        {
            Some(e) if e == "svg" => Ok(Format::Svg),
            Some(e) if e == "png" => Ok(Format::Png),
            _ => Err(crate::Error::usage(format!(
                "{}: a figure is written as .svg or .png",
                path.display()
            ))),
        }
    }
}

/// Register the embedded font, once per process.
pub fn fonts() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        for style in [FontStyle::Normal, FontStyle::Bold] {
            let registered = plotters::style::register_font(FONT, style, dejavu::sans::regular());
            assert!(registered.is_ok(), "the embedded DejaVu Sans parses");
        }
    });
}
