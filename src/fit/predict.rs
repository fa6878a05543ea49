//! Predictions of a fit for every row of a table.

use super::FitFile;
use crate::data::{load, DataSpec, Table};
use crate::law::{Law, Point};
use crate::Result;

/// A fit's predictions for the rows of a table, with the observed values where the table has
/// them.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Predictions {
    /// The 1-based source row of each row.
    pub rows: Vec<usize>,
    /// N per row (raw).
    pub n: Vec<f64>,
    /// D per row (raw).
    pub d: Vec<f64>,
    /// The domains of the mixture columns (empty for a law without a mixture).
    pub domains: Vec<String>,
    /// The mixture per row, `rows × domains`, row-major.
    pub h: Vec<f64>,
    /// Per fitted target.
    pub targets: Vec<PredictedTarget>,
    /// What loading the table did, in sentences.
    pub notices: Vec<String>,
}

/// One fitted target's predictions.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PredictedTarget {
    /// The target column.
    pub target: String,
    /// The table's value per row, where it has one.
    pub observed: Vec<Option<f64>>,
    /// The fit's prediction per row.
    pub predicted: Vec<f64>,
}

/// The predictions of `fit` (of `law`) for the rows of `table`, read by `spec`; with no targets
/// named, the fit's targets are read where the table has them.
pub fn predict(fit: &FitFile, law: &Law, table: &Table, spec: &DataSpec) -> Result<Predictions> {
    let mut spec = spec.clone().for_law(law);
    if spec.targets.is_empty() {
        spec.targets = fit.targets.iter().map(|t| t.target.clone()).collect();
    }
    spec.targets_optional = true;
    let mut ds = load(table, &spec)?;
    if law.uses_mixture() {
        // Domains are matched by name: the table's weight columns may come in any order.
        ds = ds.with_domains(&fit.domains, "the fit")?;
    }
    let targets = fit
        .targets
        .iter()
        .enumerate()
        .map(|(t, f)| {
            let observed = ds.targets.iter().find(|x| x.name == f.target).map(|x| &x.y);
            let p = fit.param_vector(law, t);
            PredictedTarget {
                target: f.target.clone(),
                observed: (0..ds.rows())
                    .map(|r| observed.map(|y| y[r]).filter(|v| v.is_finite()))
                    .collect(),
                predicted: (0..ds.rows())
                    .map(|r| {
                        let x =
                            Point::new(ds.n[r] / fit.units.n, ds.d[r] / fit.units.d, ds.h_row(r));
                        law.eval(&p, &x, None)
                    })
                    .collect(),
            }
        })
        .collect();
    Ok(Predictions {
        rows: ds.row_ids.clone(),
        n: ds.n.clone(),
        d: ds.d.clone(),
        domains: ds.domains.clone(),
        h: ds.h.clone(),
        targets,
        notices: ds.notices.clone(),
    })
}
