//! Weightings of the fitted targets: what a mixture search minimises.

use crate::data::{Table, AVG};
use crate::fit::FitFile;
use crate::{Error, Result};

/// What a mixture minimises: a weighting of the fitted targets (one-hot for a single target,
/// uniform for `avg`).
#[derive(Clone, Debug)]
pub struct Weighting {
    /// What the weighting is called: a target's name, `avg`, or a row's `name`.
    pub name: String,
    /// One weight per fitted target.
    pub weights: Vec<f64>,
}

impl Weighting {
    /// Target `t` of `fit` alone.
    pub fn target(fit: &FitFile, t: usize) -> Weighting {
        let mut weights = vec![0.0; fit.targets.len()];
        weights[t] = 1.0;
        Weighting {
            name: fit.targets[t].target.clone(),
            weights,
        }
    }

    /// The uniform mean of `fit`'s targets, `avg`.
    pub fn avg(fit: &FitFile) -> Weighting {
        let n = fit.targets.len() as f64;
        Weighting {
            name: AVG.into(),
            weights: vec![1.0 / n; fit.targets.len()],
        }
    }

    /// Every target of `fit` alone, then `avg`.
    pub fn each_and_avg(fit: &FitFile) -> Vec<Weighting> {
        (0..fit.targets.len())
            .map(|t| Weighting::target(fit, t))
            .chain([Weighting::avg(fit)])
            .collect()
    }

    /// The weightings `names` name: a fitted target (its column name, or the name without
    /// `_loss`), or `avg`.
    pub fn named(names: &[String], fit: &FitFile) -> Result<Vec<Weighting>> {
        let weightings = names
            .iter()
            .map(|t| {
                if t == AVG {
                    return Ok(Weighting::avg(fit));
                }
                fit.targets
                    .iter()
                    .position(|x| x.target == *t || x.target == format!("{t}_loss"))
                    .map(|i| Weighting::target(fit, i))
                    .ok_or_else(|| {
                        let names: Vec<&str> =
                            fit.targets.iter().map(|x| x.target.as_str()).collect();
                        Error::usage(format!(
                            "no fitted target '{t}'; the fit has {} (or avg)",
                            names.join(", ")
                        ))
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        // One weighting twice (`--target web --target web_loss`) is one result, reported twice.
        if let Some((i, w)) = weightings
            .iter()
            .enumerate()
            .find(|(i, w)| weightings[..*i].iter().any(|o| o.name == w.name))
        {
            return Err(Error::usage(format!(
                "--target {} names {}, as an earlier --target does",
                names[i], w.name
            )));
        }
        Ok(weightings)
    }

    /// Weightings from a table with a column per fitted target (missing columns weigh 0) and an
    /// optional `name` column, one weighting per row. Every weight must be a non-negative
    /// number and every row must weigh something; errors name the row and column.
    pub fn read(table: &Table, fit: &FitFile) -> Result<Vec<Weighting>> {
        let header = table.header();
        let fitted = || {
            fit.targets
                .iter()
                .map(|t| t.target.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        for h in header.iter().filter(|h| *h != "name") {
            if !fit.targets.iter().any(|t| t.target == *h) {
                return Err(table.error(
                    None,
                    Some(h),
                    format!("not a fitted target; the fit has {}", fitted()),
                ));
            }
        }
        let mut out = Vec::new();
        for r in 0..table.len() {
            let mut weights = vec![0.0; fit.targets.len()];
            let mut name = format!("row{}", r + 1);
            for (c, h) in header.iter().enumerate() {
                let cell = table.cell(r, c);
                if h == "name" {
                    name = cell.to_string();
                    continue;
                }
                let v: f64 = cell
                    .trim()
                    .parse()
                    .ok()
                    .filter(|v: &f64| v.is_finite() && *v >= 0.0)
                    .ok_or_else(|| {
                        table.cell_error(r, c, format!("'{cell}' is not a non-negative number"))
                    })?;
                let t = fit
                    .targets
                    .iter()
                    .position(|t| t.target == *h)
                    .expect("checked");
                weights[t] = v;
            }
            if weights.iter().all(|&w| w == 0.0) {
                return Err(table.error(Some(r + 1), None, "every weight is 0".into()));
            }
            // Results are reported by name: two weightings of one name could not be told apart.
            if let Some(first) = out.iter().position(|w: &Weighting| w.name == name) {
                return Err(table.error(
                    Some(r + 1),
                    header.iter().any(|h| h == "name").then_some("name"),
                    format!("the name '{name}' is also row {}'s", first + 1),
                ));
            }
            out.push(Weighting { name, weights });
        }
        Ok(out)
    }
}
