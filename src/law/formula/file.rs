//! Law files (TOML) and inline formulas: a formula with its parameters' bounds, starts and roles,
//! and optionally the fitting conventions, made into a [`Law`].
//!
//! ```toml
//! name = "chinchilla-shared"
//! formula = "E + A/N^alpha + B/D^beta"
//!
//! [fit]                     # optional; defaults are the paper's (raw residual, mean, 100 starts)
//! residual = "raw"          # or "log"
//! reduce = "mean"           # or "sum"
//! starts = 100
//!
//! [parameters]              # in the order of the parameter vector
//! E     = { bounds = [0, 10],  start = { uniform = [1, 3] }, amplitude = true }
//! A     = { bounds = [0, 1e4], start = { log_uniform = [0.1, 100] }, amplitude = true }
//! alpha = { bounds = [0, 3],   start = { uniform = [0.1, 1] } }
//! "C[i]" = { ... }          # a per-domain family, one value per domain
//! ```
//!
//! TOML is read with the `toml` crate (order-preserving tables: the declaration order is the
//! parameter order, which is also the order starts are drawn in).

use std::path::Path;

use super::{compile, Compiled, Decl, Grid, Start};
use crate::error::Location;
use crate::law::{Conventions, Definition, Init, Kernel, Law, Tolerances};
use crate::loss::{Reduce, Residual};
use crate::{Error, Result};

/// The `[fit]` table.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FitTable {
    residual: Option<Residual>,
    reduce: Option<Reduce>,
    init: Option<Init>,
    starts: Option<usize>,
    tolerances: Option<String>,
    /// For `init = "grid"`: the order of the grid's product (outermost first).
    grid_order: Option<Vec<String>>,
}

/// One entry of `[parameters]`.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ParamTable {
    bounds: [f64; 2],
    start: Start,
    #[serde(default)]
    amplitude: bool,
    /// Grid values in raw units.
    grid: Option<Vec<f64>>,
    /// Grid values as natural logarithms of raw-unit values.
    grid_ln: Option<Vec<f64>>,
}

/// The whole file.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LawTable {
    name: String,
    formula: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    fit: FitTable,
    parameters: toml::Table,
}

/// Reads the law file at `path`.
pub fn load(path: &Path) -> Result<Law> {
    load_warned(path).map(|(law, _)| law)
}

/// Reads the law file at `path`, with the formula's warnings (parameters it does not use).
pub fn load_warned(path: &Path) -> Result<(Law, Vec<String>)> {
    let text = crate::memory::read_text(path)?;
    read(&text, path)
}

/// The law a law file's text defines; `path` names it in errors.
pub fn from_toml(text: &str, path: &Path) -> Result<Law> {
    read(text, path).map(|(law, _)| law)
}

/// [`from_toml`] with the formula's warnings.
fn read(text: &str, path: &Path) -> Result<(Law, Vec<String>)> {
    let bad = |msg: String| Error::Data {
        at: Location {
            file: path.to_path_buf(),
            row: None,
            column: None,
        },
        msg,
    };
    let table: LawTable = toml::from_str(text).map_err(|e| bad(format!("not a law file: {e}")))?;
    let mut decls = Vec::new();
    for (key, value) in &table.parameters {
        let (name, per_domain) = match key.strip_suffix("[i]") {
            Some(n) => (n, true),
            None => (key.as_str(), false),
        };
        let ok = name
            .chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_alphanumeric() || c == '_');
        if !ok {
            return Err(bad(format!(
                "parameter '{key}': a name is letters, digits and '_' (and '[i]' for a \
                 per-domain family)"
            )));
        }
        if super::INPUTS.contains(&name) || super::FUNCTIONS.iter().any(|f| f.0 == name) {
            return Err(bad(format!(
                "parameter '{key}': '{name}' is an input or a function of the formula language"
            )));
        }
        if decls.iter().any(|d: &Decl| d.name == name) {
            return Err(bad(format!("parameter '{name}' is declared twice")));
        }
        let p: ParamTable = value
            .clone()
            .try_into()
            .map_err(|e| bad(format!("parameter '{key}': {e}")))?;
        let grid = match (p.grid, p.grid_ln) {
            (Some(_), Some(_)) => {
                return Err(bad(format!(
                    "parameter '{key}': give grid or grid_ln, not both"
                )))
            }
            (Some(g), None) => Some(Grid::Values(g)),
            (None, Some(g)) => Some(Grid::Ln(g)),
            (None, None) => None,
        };
        decls.push(Decl {
            name: name.to_string(),
            per_domain,
            bounds: p.bounds,
            start: p.start,
            amplitude: p.amplitude,
            grid,
        });
    }
    check_decls(&decls).map_err(bad)?;
    let compiled =
        compile(&table.formula, decls, false).map_err(|e| bad(format!("formula: {e}")))?;
    let f = &table.fit;
    let mut conventions = Conventions::SHUKOR;
    if let Some(r) = f.residual {
        conventions.residual = r;
    }
    if let Some(r) = f.reduce {
        conventions.reduce = r;
    }
    if let Some(i) = f.init {
        conventions.init = i;
        if i == Init::Grid {
            conventions.starts = 0;
        }
    }
    if let Some(s) = f.starts {
        conventions.starts = s;
    }
    if let Some(t) = &f.tolerances {
        conventions.tolerances = match t.as_str() {
            "scipy" => Tolerances::Scipy,
            "tight" => Tolerances::Tight,
            other => {
                return Err(bad(format!(
                    "[fit] tolerances: '{other}' is not one of scipy, tight"
                )))
            }
        };
    }
    let grid_order = grid_order(&compiled, f, conventions.init).map_err(bad)?;
    let warnings = compiled.warnings.clone();
    let law = law(
        &table.name,
        table.description,
        compiled,
        conventions,
        grid_order,
        text.to_string(),
    );
    Ok((law, warnings))
}

/// The errors a set of declarations can have by itself: none at all (a law with no parameter has
/// nothing to fit, and every fit would hand the optimiser zero-length points), empty bounds,
/// empty or misplaced starts.
fn check_decls(decls: &[Decl]) -> std::result::Result<(), String> {
    if decls.is_empty() {
        return Err(
            "the law has no parameters (every name in the formula is an input: N, D, h[i]), so \
             there is nothing to fit"
                .into(),
        );
    }
    for d in decls {
        let [lo, hi] = d.bounds;
        let [slo, shi] = d.start.range();
        let name = &d.name;
        if lo.partial_cmp(&hi) != Some(std::cmp::Ordering::Less) {
            return Err(format!("parameter '{name}': bounds [{lo}, {hi}] are empty"));
        }
        if slo.partial_cmp(&shi) != Some(std::cmp::Ordering::Less)
            || !slo.is_finite()
            || !shi.is_finite()
        {
            return Err(format!(
                "parameter '{name}': start range [{slo}, {shi}] is empty"
            ));
        }
        // A start is drawn as lo + u·(hi − lo): a width beyond f64 ([-1e308, 1e308]) drew
        // infinite and NaN starts, whose fit then could not be written.
        if !(shi - slo).is_finite() {
            return Err(format!(
                "parameter '{name}': start range [{slo:e}, {shi:e}] is wider than a double holds"
            ));
        }
        if slo < lo || shi > hi {
            return Err(format!(
                "parameter '{name}': start range [{slo}, {shi}] lies outside the bounds [{lo}, {hi}]"
            ));
        }
        if matches!(d.start, Start::LogUniform(_)) && slo <= 0.0 {
            return Err(format!(
                "parameter '{name}': a log-uniform start range must be positive, not [{slo}, {shi}]"
            ));
        }
        if d.amplitude && lo < 0.0 {
            return Err(format!(
                "parameter '{name}': an amplitude is positive, but its bounds [{lo}, {hi}] allow \
                 negative values"
            ));
        }
        if let Some(g) = &d.grid {
            if g.numbers().is_empty() || g.numbers().iter().any(|v| !v.is_finite()) {
                return Err(format!(
                    "parameter '{name}': the grid must be finite numbers"
                ));
            }
        }
    }
    Ok(())
}

/// The grid's product order for a law that starts from a grid (declaration indices).
fn grid_order(
    c: &Compiled,
    f: &FitTable,
    init: Init,
) -> std::result::Result<Option<Vec<usize>>, String> {
    if init != Init::Grid {
        return Ok(None);
    }
    let order: Vec<usize> = match &f.grid_order {
        Some(names) => names
            .iter()
            .map(|n| {
                c.decls
                    .iter()
                    .position(|d| &d.name == n)
                    .ok_or_else(|| format!("[fit] grid_order: no parameter '{n}'"))
            })
            .collect::<std::result::Result<_, _>>()?,
        None => (0..c.decls.len()).collect(),
    };
    for (i, d) in c.decls.iter().enumerate() {
        if d.per_domain {
            return Err(format!(
                "init = \"grid\" needs scalar parameters; '{}' is per domain",
                d.name
            ));
        }
        if d.grid.is_none() {
            return Err(format!(
                "init = \"grid\": parameter '{}' has no grid (grid = [...] or grid_ln = [...])",
                d.name
            ));
        }
        if order.iter().filter(|&&o| o == i).count() != 1 {
            return Err(format!(
                "[fit] grid_order must name every parameter once ('{}')",
                d.name
            ));
        }
    }
    // Every point of the product grid is built before the starts are taken from it: its size is
    // checked as `--starts` is (`crate::memory`), in 128-bit arithmetic; three grids of 1,000
    // values aborted allocating a billion points.
    let points = c.decls.iter().fold(1u128, |n, d| {
        n.saturating_mul(d.grid.as_ref().map_or(1, |g| g.numbers().len() as u128))
    });
    crate::memory::check(
        &format!("the start grid of {points} points"),
        points.saturating_mul(24 + 8 * c.decls.len() as u128),
        "give the grids fewer values",
    )
    .map_err(|e| e.to_string())?;
    Ok(Some(order))
}

/// The law around a compiled formula.
fn law(
    name: &str,
    description: Option<String>,
    mut compiled: Compiled,
    conventions: Conventions,
    grid_order: Option<Vec<usize>>,
    source: String,
) -> Law {
    compiled.grid_order = grid_order;
    let scalars = compiled.decls.iter().filter(|d| !d.per_domain).count();
    let families = compiled.decls.len() - scalars;
    let parameters = match (scalars, families) {
        (s, 0) => s.to_string(),
        (0, 1) => "k".to_string(),
        (0, f) => format!("{f}k"),
        (s, 1) => format!("{s}+k"),
        (s, f) => format!("{s}+{f}k"),
    };
    let formula = match description {
        Some(d) => format!("L = {} ({d})", compiled.text),
        None => format!("L = {}", compiled.text),
    };
    let kernel = Kernel::Generated(compiled.wgsl().into());
    Law::new(Definition {
        name: name.to_string(),
        formula,
        parameters,
        uses_mixture: compiled.uses_mixture,
        uses_scale: compiled.uses_scale,
        kernel: Some(kernel),
        conventions,
        nested: None,
        source: Some(source),
        family: Box::new(compiled),
    })
}

/// An inline formula (`--formula`) with bound overrides `NAME=LO,HI` (`bounds`): unknown names
/// become parameters ([`Decl::inline`]); an override also moves the start range inside the new
/// bounds. Returns the law and the formula's warnings.
pub fn inline(text: &str, bounds: &[(String, [f64; 2])]) -> Result<(Law, Vec<String>)> {
    let usage = |msg: String| Error::usage(msg);
    let mut compiled =
        compile(text, Vec::new(), true).map_err(|e| usage(format!("--formula: {e}")))?;
    for (i, (name, [lo, hi])) in bounds.iter().enumerate() {
        if bounds[..i].iter().any(|(n, _)| n == name) {
            return Err(usage(format!(
                "--bound {name} is given twice: give each parameter's bounds once"
            )));
        }
        let Some(d) = compiled.decls.iter_mut().find(|d| &d.name == name) else {
            let names: Vec<&str> = compiled.decls.iter().map(|d| d.name.as_str()).collect();
            return Err(usage(format!(
                "--bound {name}: the formula has no parameter '{name}' (its parameters are {})",
                names.join(", ")
            )));
        };
        d.bounds = [*lo, *hi];
        if d.amplitude && *lo < 0.0 {
            d.amplitude = false;
        }
        let [slo, shi] = d.start.range();
        let (slo, shi) = (slo.max(*lo), shi.min(*hi));
        d.start = if slo < shi {
            match d.start {
                Start::LogUniform(_) if slo > 0.0 => Start::LogUniform([slo, shi]),
                _ => Start::Uniform([slo, shi]),
            }
        } else {
            Start::Uniform([*lo, *hi])
        };
    }
    check_decls(&compiled.decls).map_err(|e| usage(format!("--formula: {e}")))?;
    let warnings = compiled.warnings.clone();
    let source = to_toml("formula", &compiled);
    // Recompile from the file text: the law is then exactly what its stored text gives.
    let law = from_toml(&source, Path::new("--formula"))?;
    Ok((law, warnings))
}

/// A law file's text for a compiled formula (what a fit file of an inline formula stores).
fn to_toml(name: &str, c: &Compiled) -> String {
    let q = |s: &str| toml::Value::String(s.to_string()).to_string();
    let mut s = format!(
        "name = {}\nformula = {}\n\n[parameters]\n",
        q(name),
        q(&c.text)
    );
    for d in &c.decls {
        // Quoted, as every key may need: TOML's bare keys are ASCII, a formula's names need not
        // be (`A/N^α`).
        let key = if d.per_domain {
            q(&format!("{}[i]", d.name))
        } else {
            q(&d.name)
        };
        let (kind, [lo, hi]) = match d.start {
            Start::Uniform(r) => ("uniform", r),
            Start::LogUniform(r) => ("log_uniform", r),
        };
        s.push_str(&format!(
            "{key} = {{ bounds = [{:?}, {:?}], start = {{ {kind} = [{lo:?}, {hi:?}] }}, amplitude = {} }}\n",
            d.bounds[0], d.bounds[1], d.amplitude
        ));
    }
    s
}

impl Compiled {
    /// The product grid of a grid-started law in fit units: amplitudes that multiply a power of
    /// the scale (`A` in `A/N^alpha`) converted from raw units as `A · unit^−alpha`, the exponent
    /// taken from the same grid point.
    pub(super) fn grid_points(&self, n_unit: f64, d_unit: f64) -> Option<Vec<Vec<f64>>> {
        let order = self.grid_order.as_ref()?;
        let decls = &self.decls;
        let axes: Vec<&[f64]> = order
            .iter()
            .map(|&d| decls[d].grid.as_ref().expect("checked").numbers())
            .collect();
        let total: usize = axes.iter().map(|a| a.len()).product();
        // A grid number of an exponent is its value whichever way the grid is written.
        let value = |d: usize, v: f64| match decls[d].grid {
            Some(Grid::Ln(_)) => v.exp(),
            _ => v,
        };
        let mut out = Vec::with_capacity(total);
        let mut idx = vec![0usize; axes.len()];
        for _ in 0..total {
            let mut raw = vec![0.0; decls.len()];
            for (a, &d) in order.iter().enumerate() {
                raw[d] = axes[a][idx[a]];
            }
            let point = raw
                .iter()
                .enumerate()
                .map(|(d, &v)| match self.powers[d] {
                    Some((e, axis)) => {
                        let unit = match axis {
                            crate::law::Axis::N => n_unit,
                            crate::law::Axis::D => d_unit,
                        };
                        let exponent = value(e, raw[e]);
                        match decls[d].grid {
                            Some(Grid::Ln(_)) => (v - exponent * unit.ln()).exp(),
                            _ => v * (-exponent * unit.ln()).exp(),
                        }
                    }
                    None => value(d, v),
                })
                .collect();
            out.push(point);
            // Odometer, the last axis fastest (itertools.product order).
            for a in (0..axes.len()).rev() {
                idx[a] += 1;
                if idx[a] < axes[a].len() {
                    break;
                }
                idx[a] = 0;
            }
        }
        Some(out)
    }
}
