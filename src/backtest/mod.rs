//! Backtests: how well a law fitted on the smaller runs of a table predicts its larger runs.
//!
//! # Why it is shaped this way
//!
//! * **Rolling origin by scale.** A scaling law is used to predict a run larger than any it was
//!   fitted on, so the honest test of it is the same move made inside the table: the values of a
//!   scale column (`--by`, model size by default; token budget or FLOPs as well) are sorted, and
//!   each *step* fits the law on the rows up to one value and predicts every row beyond it. The
//!   first step's rows hold the two smallest values (a law with an `A/N^α` term cannot be
//!   identified from one size); a table with many distinct values (Epoch's 240 models) takes at
//!   most `steps` cut points, evenly spaced in rank.
//! * **Every step is an ordinary fit.** A step calls [`crate::fit()`] on its rows with the
//!   user's settings, so it runs through the same batched optimiser, on either backend, and
//!   starts from the law's usual starts, never from a fit that saw the held-out rows.
//! * **Distance says how far out a prediction is.** Each held-out prediction carries its
//!   distance from the step's training rows: the Euclidean distance, in decades of `N` and `D`
//!   (`log10`), to the nearest row the target was fitted on. Errors grow with it; the
//!   calibrated intervals of [`crate::interval`] are built on exactly this relation.
//! * **Mixture laws are judged as they are used.** A mixture law is used to rank mixtures, so at
//!   each held-out scale point (one `N`, and `D` within 1 %) with at least three runs the
//!   backtest reports the Spearman correlation between predicted and observed losses and the
//!   *regret* of the law's pick: the observed loss of the run the law ranks best minus the best
//!   observed loss there.

mod metrics;

use std::time::Instant;

use serde::Serialize;

pub use metrics::{spearman, ScalePoint};

use crate::backend::Backend;
use crate::data::{self, Dataset, Table};
use crate::fit::{self, FitFile, FitSettings};
use crate::law::{Law, Point};
use crate::{Error, Result};

/// What a backtest rolls over.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The scale column (`None`: the table's `N`, as the law reads it).
    pub by: Option<String>,
    /// Cut points at most (evenly spaced in rank when the column has more values).
    pub steps: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { by: None, steps: 8 }
    }
}

/// One held-out prediction.
#[derive(Clone, Debug, Serialize)]
pub struct Prediction {
    /// The row's 1-based data row in its file.
    pub row: usize,
    /// Raw `N` and `D`.
    pub n: f64,
    /// Raw `D`.
    pub d: f64,
    /// The row's value of the scale column.
    pub by: f64,
    /// The observed loss.
    pub observed: f64,
    /// The step's prediction.
    pub predicted: f64,
    /// Distance in decades of `N` and `D` from the nearest row the step was fitted on.
    pub distance: f64,
}

impl Prediction {
    /// The error as a log ratio, `ln(observed / predicted)`: a relative error that is symmetric
    /// in over- and under-prediction.
    pub fn log_error(&self) -> f64 {
        (self.observed / self.predicted).ln()
    }
}

/// The held-out rows of one scale value at one step.
#[derive(Clone, Debug, Serialize)]
pub struct HeldOut {
    /// The scale column's value.
    pub by: f64,
    /// Rows predicted.
    pub rows: usize,
    /// Mean relative error (%).
    pub mre_pct: f64,
    /// The median distance of its rows from the training rows (decades; the upper median).
    pub median_distance: f64,
    /// Mixture laws: the scale points (one `N`, `D` within 1 %) with at least three runs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scale_points: Vec<ScalePoint>,
    /// The mean Spearman correlation over `scale_points`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spearman: Option<f64>,
    /// The mean regret over `scale_points` (loss units).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regret: Option<f64>,
}

/// One target at one step.
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    /// The training rows are those whose scale value is at most this.
    pub up_to: f64,
    /// Rows fitted.
    pub train_rows: usize,
    /// Mean relative error (%) over every held-out row.
    pub mre_pct: f64,
    /// Per held-out scale value, smallest first.
    pub held_out: Vec<HeldOut>,
    /// Every held-out prediction.
    pub predictions: Vec<Prediction>,
}

/// One target's backtest.
#[derive(Clone, Debug, Serialize)]
pub struct TargetBacktest {
    /// The target column.
    pub target: String,
    /// Its group, in a table grouped by a column.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// One entry per step, smallest cut first.
    pub steps: Vec<Step>,
    /// How the error grows with distance: the median, over every held-out prediction at a
    /// positive distance, of `|ln(observed / predicted)| / distance`, in % per decade.
    pub median_error_per_decade_pct: f64,
    /// The 90th percentile of the same.
    pub p90_error_per_decade_pct: f64,
}

impl TargetBacktest {
    /// Every held-out prediction over every step.
    pub fn predictions(&self) -> impl Iterator<Item = &Prediction> {
        self.steps.iter().flat_map(|s| s.predictions.iter())
    }
}

/// A backtest of a law on a table.
#[derive(Clone, Debug, Serialize)]
pub struct Backtest {
    /// The law's name.
    pub law: String,
    /// The scale column rolled over.
    pub by: String,
    /// Per target (per group and target when the rows are grouped).
    pub targets: Vec<TargetBacktest>,
    /// What the backtest skipped, and why, in sentences.
    pub notes: Vec<String>,
    /// The backend that explored.
    pub backend: String,
    /// Seconds the backtest took.
    pub wall_s: f64,
}

impl Backtest {
    /// The backtest of `target` in `group`, if it has one.
    pub fn target(&self, target: &str, group: Option<&str>) -> Option<&TargetBacktest> {
        self.targets
            .iter()
            .find(|t| t.target == target && t.group.as_deref() == group)
    }
}

/// Backtest `law` on the rows of `ds` (loaded from `table`) by rolling the fit's origin over the
/// scale column `settings.by`: every step fitted with `fit_settings` on `backend`.
/// `progress(target, done, total)` reports starts, the target named `step i/n: target`.
pub fn run(
    table: &Table,
    ds: &Dataset,
    law: &Law,
    fit_settings: &FitSettings,
    settings: &Settings,
    backend: &dyn Backend,
    progress: &mut (dyn FnMut(&str, usize, usize) + Send),
) -> Result<Backtest> {
    fit_settings.check()?;
    if !law.uses_scale() {
        return Err(Error::usage(format!(
            "law '{}' does not read N and D: a backtest predicts larger runs from smaller ones, \
             which needs a law of the scale",
            law.name()
        )));
    }
    if settings.steps == 0 {
        return Err(Error::usage("--steps must be at least 1"));
    }
    let clock = Instant::now();
    let by_name = settings.by.clone().unwrap_or_else(|| "N".to_string());
    let scale = match &settings.by {
        Some(col) => data::column_values(ds, table, col, "--by")?,
        None => ds.n.clone(),
    };
    let mut targets = Vec::new();
    let mut notes = Vec::new();
    let row_of: std::collections::HashMap<usize, usize> = ds
        .row_ids
        .iter()
        .enumerate()
        .map(|(r, &id)| (id, r))
        .collect();
    for (group, part) in ds.by_group() {
        let values: Vec<f64> = part.row_ids.iter().map(|id| scale[row_of[id]]).collect();
        let cuts = cut_points(&values, settings.steps);
        let in_group = group.map_or(String::new(), |g| format!("group '{g}': "));
        if cuts.is_empty() {
            return Err(Error::usage(format!(
                "{in_group}the backtest needs at least three distinct values of {by_name} (fit \
                 on two, predict the third); the rows have {}",
                distinct(&values).len()
            )));
        }
        let mut per_target: Vec<TargetBacktest> = part
            .targets
            .iter()
            .map(|t| TargetBacktest {
                target: t.name.clone(),
                group: group.map(str::to_string),
                steps: Vec::new(),
                median_error_per_decade_pct: f64::NAN,
                p90_error_per_decade_pct: f64::NAN,
            })
            .collect();
        for (i, &cut) in cuts.iter().enumerate() {
            let keep: Vec<bool> = values.iter().map(|&v| v <= cut).collect();
            let train = part.subset(&keep);
            let params = law.params(&train.domains).len();
            if let Some(t) = train
                .targets
                .iter()
                .find(|t| t.y.iter().filter(|y| y.is_finite()).count() < params)
            {
                notes.push(format!(
                    "{in_group}step {by_name} <= {cut}: skipped, target {} has fewer rows than \
                     the law's {params} parameters",
                    t.name
                ));
                continue;
            }
            let label = format!("step {}/{}", i + 1, cuts.len());
            let file = fit::fit(&train, law, fit_settings, backend, &[], &mut |t, d, n| {
                progress(&format!("{label}: {t}"), d, n)
            })?;
            for (t, tb) in per_target.iter_mut().enumerate() {
                tb.steps
                    .push(step(&part, &values, &keep, cut, &file, law, t));
            }
        }
        for tb in &mut per_target {
            let mut per_decade: Vec<f64> = tb
                .predictions()
                .filter(|p| p.distance > 0.0)
                .map(|p| 100.0 * p.log_error().abs() / p.distance)
                .collect();
            per_decade.sort_by(f64::total_cmp);
            if !per_decade.is_empty() {
                let n = per_decade.len();
                let at = |q: f64| per_decade[((q * n as f64) as usize).min(n - 1)];
                tb.median_error_per_decade_pct = at(0.5);
                tb.p90_error_per_decade_pct = at(0.9);
            }
        }
        targets.extend(per_target);
    }
    Ok(Backtest {
        law: law.name().to_string(),
        by: by_name,
        targets,
        notes,
        backend: backend.describe(),
        wall_s: clock.elapsed().as_secs_f64(),
    })
}

/// The distinct values of `v`, ascending.
fn distinct(v: &[f64]) -> Vec<f64> {
    let mut d = v.to_vec();
    d.sort_by(f64::total_cmp);
    d.dedup();
    d
}

/// The cut points: every distinct value from the second to the second-largest (so that the
/// training rows hold two values and some rows lie beyond), or `steps` of them evenly spaced in
/// rank, the largest always among them.
fn cut_points(values: &[f64], steps: usize) -> Vec<f64> {
    let d = distinct(values);
    if d.len() < 3 {
        return Vec::new();
    }
    let candidates = &d[1..d.len() - 1];
    if candidates.len() <= steps {
        return candidates.to_vec();
    }
    let last = candidates.len() - 1;
    let mut picked: Vec<usize> = (0..steps)
        .map(|i| (last * (i + 1) + steps / 2) / steps)
        .collect();
    picked.dedup();
    picked.into_iter().map(|i| candidates[i]).collect()
}

/// Target `t`'s results at one step: `file` fitted on the rows `keep` marks, predicting the rest.
fn step(
    ds: &Dataset,
    values: &[f64],
    keep: &[bool],
    cut: f64,
    file: &FitFile,
    law: &Law,
    t: usize,
) -> Step {
    let y = &ds.targets[t].y;
    let p = file.param_vector(law, t);
    let (nu, du) = (file.units.n, file.units.d);
    let train: Vec<[f64; 2]> = (0..ds.rows())
        .filter(|&r| keep[r] && y[r].is_finite())
        .map(|r| scale_of(ds.n[r], ds.d[r]))
        .collect();
    let mut predictions: Vec<Prediction> = (0..ds.rows())
        .filter(|&r| !keep[r] && y[r].is_finite())
        .map(|r| {
            let distance = distance(&train, ds.n[r], ds.d[r]);
            Prediction {
                row: ds.row_ids[r],
                n: ds.n[r],
                d: ds.d[r],
                by: values[r],
                observed: y[r],
                predicted: law.eval(
                    &p,
                    &Point::new(ds.n[r] / nu, ds.d[r] / du, ds.h_row(r)),
                    None,
                ),
                distance,
            }
        })
        .collect();
    predictions.sort_by(|a, b| a.by.total_cmp(&b.by).then(a.row.cmp(&b.row)));
    let mixtures: std::collections::HashMap<usize, &[f64]> = (0..ds.rows())
        .map(|r| (ds.row_ids[r], ds.h_row(r)))
        .collect();
    let held_out = distinct(&predictions.iter().map(|p| p.by).collect::<Vec<_>>())
        .into_iter()
        .map(|v| {
            let mine: Vec<&Prediction> = predictions.iter().filter(|p| p.by == v).collect();
            let mut dist: Vec<f64> = mine.iter().map(|p| p.distance).collect();
            dist.sort_by(f64::total_cmp);
            let scale_points = if law.uses_mixture() {
                metrics::scale_points(&mine, &|row| mixtures[&row])
            } else {
                Vec::new()
            };
            let mean = |f: &dyn Fn(&ScalePoint) -> f64| {
                (!scale_points.is_empty())
                    .then(|| scale_points.iter().map(f).sum::<f64>() / scale_points.len() as f64)
            };
            HeldOut {
                by: v,
                rows: mine.len(),
                mre_pct: mre_pct(&mine),
                median_distance: dist[dist.len() / 2],
                spearman: mean(&|s| s.spearman),
                regret: mean(&|s| s.regret),
                scale_points,
            }
        })
        .collect();
    Step {
        up_to: cut,
        train_rows: train.len(),
        mre_pct: mre_pct(&predictions.iter().collect::<Vec<_>>()),
        held_out,
        predictions,
    }
}

/// A run's place on the scale axes: `[log10 N, log10 D]`.
pub fn scale_of(n: f64, d: f64) -> [f64; 2] {
    [n.log10(), d.log10()]
}

/// The distance, in decades of `N` and `D`, from raw `(n, d)` to the nearest of `train` (points
/// made by [`scale_of`]); infinite when `train` is empty.
pub fn distance(train: &[[f64; 2]], n: f64, d: f64) -> f64 {
    let [x, y] = scale_of(n, d);
    train
        .iter()
        .map(|[a, b]| (x - a).hypot(y - b))
        .fold(f64::INFINITY, f64::min)
}

/// Mean relative error (%) of predictions.
fn mre_pct(p: &[&Prediction]) -> f64 {
    if p.is_empty() {
        return f64::NAN;
    }
    100.0
        * p.iter()
            .map(|p| ((p.predicted - p.observed) / p.observed).abs())
            .sum::<f64>()
        / p.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_points_leave_two_values_below_and_one_above() {
        assert!(cut_points(&[1.0, 2.0, 1.0], 8).is_empty());
        assert_eq!(cut_points(&[1.0, 2.0, 3.0, 2.0], 8), vec![2.0]);
        assert_eq!(
            cut_points(&[5.0, 1.0, 2.0, 3.0, 4.0], 8),
            vec![2.0, 3.0, 4.0]
        );
        // 99 candidates (2..=100), 4 steps: evenly spaced in rank, the largest included.
        let v: Vec<f64> = (1..=101).map(f64::from).collect();
        let c = cut_points(&v, 4);
        assert_eq!(c.len(), 4);
        assert_eq!(*c.last().unwrap(), 100.0);
        assert!(c.windows(2).all(|w| w[1] - w[0] >= 24.0), "{c:?}");
    }
}
