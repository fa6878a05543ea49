//! Pictures of fits, evaluations, mixtures and bootstrap studies: single figures (SVG or PNG)
//! and one self-contained HTML report.
//!
//! Figures are drawn with plotters (its SVG and bitmap backends; a crate made for plotting
//! rather than an SVG writer of our own), from [`Chart`]s that hold the numbers they show, so
//! tests check a figure's data where it is made. The report inlines every figure as SVG with
//! inline styles and no script, font or link to fetch: the file opens offline and can be
//! attached to an email. Figures render in parallel (rayon); the SlimPajama table with a
//! 1,000-replicate study is well under the two seconds the report may take.

pub mod chart;
pub mod figures;
mod report;
pub mod style;

pub use chart::{Axis, Cells, Chart, Layer, Mark};
pub use figures::Role;
pub use report::{kebab as kind_name, report, Inputs};
pub use style::Format;

use crate::data::{self, DataSpec, Table};
use crate::fit::{FitFile, Predictions};
use crate::law::Law;
use crate::Result;

/// A figure of the report: where it goes and what it shows.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Figure {
    /// The section it belongs to (`summary`, or a target's name).
    pub section: String,
    /// Its kind, as `mixlaw plot` names it.
    pub kind: Kind,
    /// The chart.
    pub chart: Chart,
}

/// The kinds of figure, as `mixlaw plot KIND` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Predicted against observed loss per target (needs a table).
    Observed,
    /// Residuals against N, D and each domain weight (needs a table).
    Residuals,
    /// Loss against model size and tokens with the law's extrapolation (needs a table).
    Scaling,
    /// Loss along each domain's weight through h* (needs an optimum).
    Along,
    /// A ternary map (three domains) or slices through h* (more) (needs an optimum).
    Simplex,
    /// Optimal mixtures as bars, with bootstrap intervals (needs an optimum).
    Optimum,
    /// h*(N, D) as a heat map per domain (needs an optimum on an N × D grid).
    OptimumGrid,
    /// A histogram per parameter over the replicates (needs a study).
    Histograms,
    /// α against β over the replicates (needs a study).
    AlphaBeta,
}

/// The predictions of `fit` for `table` and each row's role: the rows the fit's own filters
/// select (`train`, else the fit file's `--where`) were fitted, the others held out (`test`,
/// when given, keeps only those).
pub fn predictions(
    fit: &FitFile,
    law: &Law,
    table: &Table,
    spec: &DataSpec,
    train: &[String],
    test: &[String],
) -> Result<(Predictions, Vec<Role>)> {
    let p = crate::fit::predict(fit, law, table, spec)?;
    let fitted: &[String] = if train.is_empty() {
        &fit.data.filters
    } else {
        train
    };
    let mut spec = spec.clone().for_law(law);
    spec.targets_optional = true;
    spec.filters.clear();
    spec.group_by = fit.data.group_by.clone();
    let ds = data::load(table, &spec)?;
    let in_fit = data::mask(&ds, table, fitted)?;
    let in_test = data::mask(&ds, table, test)?;
    let role_of: std::collections::HashMap<usize, (bool, bool)> = ds
        .row_ids
        .iter()
        .zip(in_fit.iter().zip(&in_test))
        .map(|(&r, (&f, &t))| (r, (f, t)))
        .collect();
    let mut keep = Vec::new();
    let mut roles = Vec::new();
    for (i, r) in p.rows.iter().enumerate() {
        let (f, t) = role_of.get(r).copied().unwrap_or((false, false));
        if test.is_empty() || f || t {
            keep.push(i);
            roles.push(if f { Role::Fit } else { Role::Held });
        }
    }
    Ok((subset(p, &keep), roles))
}

/// The rows `keep` of `p`.
fn subset(p: Predictions, keep: &[usize]) -> Predictions {
    let k = p.domains.len();
    Predictions {
        rows: keep.iter().map(|&i| p.rows[i]).collect(),
        n: keep.iter().map(|&i| p.n[i]).collect(),
        d: keep.iter().map(|&i| p.d[i]).collect(),
        h: keep
            .iter()
            .flat_map(|&i| p.h[i * k..(i + 1) * k].to_vec())
            .collect(),
        groups: p.groups.map(|g| data::Groups {
            of_row: keep.iter().map(|&i| g.of_row[i]).collect(),
            ..g
        }),
        targets: p
            .targets
            .into_iter()
            .map(|t| crate::fit::PredictedTarget {
                observed: keep.iter().map(|&i| t.observed[i]).collect(),
                predicted: keep.iter().map(|&i| t.predicted[i]).collect(),
                target: t.target,
            })
            .collect(),
        domains: p.domains,
        notices: p.notices,
    }
}
