//! Extrapolation scores: fit on one split of a table, score the mean relative error on another
//! — the paper's protocol (fit small models, predict larger ones). A table grouped by a column
//! is split, fitted and scored group by group: each group's law is scored on that group's test
//! rows only.

use super::{fit, target_rows, FitFile, FitSettings, Params};
use crate::backend::Backend;
use crate::data::{mask, Dataset, Table};
use crate::law::Law;
use crate::{Error, Result};

/// One target's scores.
#[derive(Clone, Debug, serde::Serialize)]
pub struct TargetScore {
    /// The target column.
    pub target: String,
    /// The group (of a table grouped by a column); absent when the rows are not grouped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Mean relative error (%) on the train split.
    pub train_mre_pct: f64,
    /// Mean relative error (%) on the test split (`None` when the target has no test rows).
    pub test_mre_pct: Option<f64>,
    /// The fit's objective on the train split (the exact loss, [`super::TargetFit::objective`]).
    pub objective: f64,
    /// Rows fitted.
    pub train_rows: usize,
    /// Rows scored.
    pub test_rows: usize,
    /// The fitted parameters.
    pub params: Params,
}

/// An evaluation: per-target scores and their means.
#[derive(Clone, Debug, serde::Serialize)]
pub struct EvalReport {
    /// The law's name.
    pub law: String,
    /// The train split's expressions.
    pub train: Vec<String>,
    /// The test split's expressions.
    pub test: Vec<String>,
    /// The objective in words (`mean asymmetric MAE, W = 10, raw residual`), for every loss but
    /// the default symmetric Huber (`None`, not written: reports read as they always have).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub objective_name: Option<String>,
    /// Per target (per group and target when the rows are grouped).
    pub targets: Vec<TargetScore>,
    /// The mean of the targets' train MRE (%).
    pub mean_train_mre_pct: f64,
    /// The mean of the targets' test MRE (%), over targets with test rows.
    pub mean_test_mre_pct: Option<f64>,
    /// The backend that explored.
    pub backend: String,
    /// Seconds the fit took.
    pub wall_s: f64,
}

/// The rows of `ds` (loaded from `table`) where the `train` expressions hold, and those where
/// the `test` expressions hold: an error when either split is empty, or when a group of grouped
/// rows has no train rows.
pub fn split(
    table: &Table,
    ds: &Dataset,
    train: &[String],
    test: &[String],
) -> Result<(Dataset, Dataset)> {
    let split = |exprs: &[String], which: &str| -> Result<Dataset> {
        let keep = mask(ds, table, exprs)?;
        if !keep.iter().any(|&k| k) {
            return Err(Error::usage(format!(
                "no rows of {} satisfy the --{which} expression(s) {}",
                table.source().display(),
                exprs.join(" and ")
            )));
        }
        Ok(ds.subset(&keep))
    };
    let train_ds = split(train, "train")?;
    let test_ds = split(test, "test")?;
    if let (Some(all), Some(fitted)) = (&ds.groups, &train_ds.groups) {
        if let Some(g) = all.names.iter().find(|g| !fitted.names.contains(g)) {
            return Err(Error::usage(format!(
                "group {} = '{g}' has no rows in the --train split {}: every group is fitted \
                 on its own rows (leave the group out with --where)",
                all.column,
                train.join(" and ")
            )));
        }
    }
    Ok((train_ds, test_ds))
}

/// Fit `law` on the rows of `ds` where the `train` expressions hold and score it on those
/// where the `test` expressions hold. The expressions refer to columns of `table`, the table
/// `ds` was loaded from. When the rows of `ds` are grouped, each group is fitted on its train
/// rows and scored on its test rows; a group without train rows is an error. Returns the fit
/// (on the train split) and the scores.
#[allow(clippy::too_many_arguments)]
pub fn eval(
    table: &Table,
    ds: &Dataset,
    law: &Law,
    settings: &FitSettings,
    train: &[String],
    test: &[String],
    backend: &dyn Backend,
    progress: &mut (dyn FnMut(&str, usize, usize) + Send),
) -> Result<(FitFile, EvalReport)> {
    let (train_ds, test_ds) = split(table, ds, train, test)?;
    let file = fit(&train_ds, law, settings, backend, train, progress)?;
    let test_parts = test_ds.by_group();
    let targets: Vec<TargetScore> = file
        .targets
        .iter()
        .enumerate()
        .map(|(t, f)| {
            // The group's test rows, if it has any.
            let rows = test_parts
                .iter()
                .find(|(g, _)| *g == f.group.as_deref())
                .map(|(_, part)| {
                    let i = part
                        .targets
                        .iter()
                        .position(|x| x.name == f.target)
                        .expect("every group has the table's targets");
                    target_rows(part, i, settings.n_unit, settings.d_unit)
                })
                .filter(|rows| !rows.is_empty());
            let p = file.param_vector(law, t);
            TargetScore {
                target: f.target.clone(),
                group: f.group.clone(),
                train_mre_pct: f.train_mre_pct,
                test_mre_pct: rows.as_ref().map(|rows| rows.mre_pct(law, &p)),
                objective: f.objective,
                train_rows: f.rows,
                test_rows: rows.as_ref().map_or(0, |rows| rows.len()),
                params: f.params.clone(),
            }
        })
        .collect();
    let mean = |v: Vec<f64>| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
    let report = EvalReport {
        law: law.name().into(),
        train: train.to_vec(),
        test: test.to_vec(),
        objective_name: (!settings.default_loss()).then(|| settings.objective_name()),
        mean_train_mre_pct: mean(targets.iter().map(|t| t.train_mre_pct).collect())
            .unwrap_or(f64::NAN),
        mean_test_mre_pct: mean(targets.iter().filter_map(|t| t.test_mre_pct).collect()),
        targets,
        backend: file.backend.clone(),
        wall_s: file.wall_s,
    };
    Ok((file, report))
}
