//! Predictions of a fit for every row of a table.
//!
//! A fit is applied by name: the table's domains are matched to the fit's by name (its weight
//! columns may come in any order), its targets by column name, and in a fit grouped by a column
//! every row is predicted with the laws of its own group, read from the same column. A row of a
//! group the fit does not have is an error at that cell rather than a row left out: a user who
//! means to predict only some groups says so with `--where`.

use super::FitFile;
use crate::data::{load, DataSpec, Groups, Table};
use crate::law::{Law, Point};
use crate::{Error, Result};

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
    /// The domains of the mixture columns, in the fit's order (empty for a law without a
    /// mixture).
    pub domains: Vec<String>,
    /// The mixture per row, `rows × domains`, row-major.
    pub h: Vec<f64>,
    /// Each row's group, when the fit is grouped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Groups>,
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
    /// The fit's prediction per row (of the row's group's law, in a grouped fit).
    pub predicted: Vec<f64>,
}

/// The predictions of `fit` (of `law`) for the rows of `table`, read by `spec`; with no targets
/// named, the fit's targets are read where the table has them. A grouped fit reads the rows'
/// groups from its own `group_by` column (a different `spec.group_by` is a usage error).
pub fn predict(fit: &FitFile, law: &Law, table: &Table, spec: &DataSpec) -> Result<Predictions> {
    let mut spec = spec.clone().for_law(law);
    match (&spec.group_by, &fit.data.group_by) {
        (Some(asked), Some(fitted)) if asked != fitted => {
            return Err(Error::usage(format!(
                "the fit is grouped by column '{fitted}', not '{asked}'"
            )))
        }
        (Some(asked), None) => {
            return Err(Error::usage(format!(
                "the fit is not grouped, so its laws cannot be chosen by column '{asked}'"
            )))
        }
        _ => spec.group_by = fit.data.group_by.clone(),
    }
    if spec.targets.is_empty() {
        let mut names: Vec<String> = Vec::new();
        for t in &fit.targets {
            if !names.contains(&t.target) {
                names.push(t.target.clone());
            }
        }
        spec.targets = names;
    }
    spec.targets_optional = true;
    let mut ds = load(table, &spec)?;
    if law.uses_mixture() {
        // Domains are matched by name: the table's weight columns may come in any order.
        ds = ds.with_domains(&fit.domains, "the fit")?;
    }
    let row_groups: Vec<Option<&str>> = match &ds.groups {
        Some(g) => g
            .of_row
            .iter()
            .map(|&i| Some(g.names[i].as_str()))
            .collect(),
        None => vec![None; ds.rows()],
    };
    if let Some(g) = &ds.groups {
        let known = fit.groups();
        if let Some(r) = row_groups
            .iter()
            .position(|x| !known.contains(&x.expect("grouped")))
        {
            let value = row_groups[r].expect("grouped");
            return Err(table.error(
                Some(ds.row_ids[r]),
                Some(&g.column),
                format!(
                    "group '{value}' is not in the fit, whose groups are: {} (leave its rows out \
                     with --where \"{} != '{value}'\")",
                    known.join(", "),
                    g.column
                ),
            ));
        }
    }
    let params: Vec<Vec<f64>> = (0..fit.targets.len())
        .map(|t| fit.param_vector(law, t))
        .collect();
    let mut names: Vec<&str> = Vec::new();
    for t in &fit.targets {
        if !names.contains(&t.target.as_str()) {
            names.push(&t.target);
        }
    }
    let targets = names
        .iter()
        .map(|&name| {
            let observed = ds.targets.iter().find(|x| x.name == name).map(|x| &x.y);
            PredictedTarget {
                target: name.to_string(),
                observed: (0..ds.rows())
                    .map(|r| observed.map(|y| y[r]).filter(|v| v.is_finite()))
                    .collect(),
                predicted: (0..ds.rows())
                    .map(|r| {
                        let t = fit
                            .target_index(row_groups[r], name)
                            .expect("every group of a fit file fits the same targets");
                        let x =
                            Point::new(ds.n[r] / fit.units.n, ds.d[r] / fit.units.d, ds.h_row(r));
                        law.eval(&params[t], &x, None)
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
        groups: ds.groups.clone(),
        targets,
        notices: ds.notices.clone(),
    })
}
