//! A fit's summary: the best minimum, and how much the starts agree.
//!
//! The summary says not only which start won but how much the starts agree: when near-best
//! starts disagree on a parameter, that parameter sits in a flat (weakly identified) direction
//! — E and γB in the paper's laws often do — and the report names it rather than pretending to a
//! precision the data lacks.

use std::time::Instant;

use super::batch::Outcome;
use super::file::Params;
use super::lbfgs::Status;
use crate::law::ParamSpec;
use crate::objective::Problem;

/// The fit of one target.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct TargetFit {
    /// The target column.
    pub target: String,
    /// The group fitted (its value of the fit file's `data.group_by` column); absent when the rows
    /// are not grouped, as in every fit file written before grouping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Best parameters by name, in the law's order (natural coordinates, fit units).
    pub params: Params,
    /// The objective at `values`, recomputed in f64: the exact loss (for mae the exact mean or
    /// sum of `|r|`, never the smoothed stand-in the optimiser saw).
    pub objective: f64,
    /// Mean relative error in percent on the rows fitted.
    pub train_mre_pct: f64,
    /// Rows fitted.
    pub rows: usize,
    /// Rows whose cell for this target was empty or dropped.
    pub rows_skipped: usize,
    /// Starts explored (the nested law's optimum not counted).
    pub starts: usize,
    /// The nested law whose optimum was an extra start, and the objective it reached.
    pub nested_start: Option<(String, f64)>,
    /// Starts that met a tolerance.
    pub converged: usize,
    /// Starts whose line search found no decrease (usually the objective's rounding floor).
    pub stalled: usize,
    /// Starts that used up their iterations.
    pub max_iter: usize,
    /// Starts whose objective was not finite at the start point.
    pub failed: usize,
    /// The lowest few objectives found by distinct starts (how far apart the best few are;
    /// exact for every loss, as minima are ranked).
    pub best_objectives: Vec<f64>,
    /// Starts within 1e-6 relative of the best objective.
    pub near_best: usize,
    /// Parameters that near-best starts (within 1e-4 relative) disagree on by over 1%: a flat
    /// or weakly identified direction.
    pub flat: Vec<String>,
    /// Parameters sitting on a bound of the box.
    pub at_bounds: Vec<String>,
    /// The near-equivalent minima: the natural parameters of every start within 1e-4 relative
    /// of the best objective (those `flat` is judged on), best first. Held in memory for the
    /// calibrated intervals ([`crate::interval`] takes the spread of their predictions); not
    /// written to fit files, which record the best minimum.
    #[serde(skip)]
    pub near_minima: Vec<Vec<f64>>,
    /// Objective evaluations, over every start, hop and polish.
    pub evaluations: usize,
    /// Seconds the target took.
    pub wall_s: f64,
}

pub(crate) fn summarise(
    problem: &Problem,
    target: String,
    rows_skipped: usize,
    n_starts: usize,
    mut outcomes: Vec<Outcome>,
    clock: Instant,
) -> TargetFit {
    let count = |st: Status| {
        outcomes
            .iter()
            .take(n_starts)
            .filter(|o| o.status == st)
            .count()
    };
    let (converged, stalled, max_iter, failed) = (
        count(Status::Converged),
        count(Status::Stalled),
        count(Status::MaxIter),
        count(Status::Failed),
    );
    let evaluations = outcomes.iter().map(|o| o.evaluations).sum();
    outcomes.sort_by(|a, b| a.f.total_cmp(&b.f));
    let best = &outcomes[0];
    let values = problem.coords().to_natural(&best.theta);
    let objective = problem.objective_natural(&values, 0);
    let rel = |o: &Outcome| (o.f - best.f) / best.f.abs().max(f64::MIN_POSITIVE);
    let near_best = outcomes.iter().filter(|o| rel(o) <= 1e-6).count();
    let mut best_objectives: Vec<f64> = Vec::new();
    for o in outcomes.iter().filter(|o| o.f.is_finite()) {
        let v = problem.loss().unscale(o.f);
        if best_objectives
            .last()
            .is_none_or(|&l| (v - l) > 1e-9 * l.abs())
        {
            best_objectives.push(v);
        }
        if best_objectives.len() == 5 {
            break;
        }
    }
    let close: Vec<Vec<f64>> = outcomes
        .iter()
        .filter(|o| rel(o) <= 1e-4)
        .map(|o| problem.coords().to_natural(&o.theta))
        .collect();
    let specs = problem.coords().specs();
    let flat = flat_directions(specs, &close);
    let at_bounds = specs
        .iter()
        .enumerate()
        .filter(|&(j, _)| problem.coords().on_bound(j, values[j]))
        .map(|(_, s)| s.name.clone())
        .collect();
    TargetFit {
        target,
        group: None,
        params: Params(
            specs
                .iter()
                .map(|s| s.name.clone())
                .zip(values.iter().copied())
                .collect(),
        ),
        train_mre_pct: problem.mre_pct(&values),
        objective,
        rows: problem.rows().len(),
        rows_skipped,
        starts: n_starts,
        nested_start: None,
        converged,
        stalled,
        max_iter,
        failed,
        best_objectives,
        near_best,
        flat,
        at_bounds,
        near_minima: close,
        evaluations,
        wall_s: clock.elapsed().as_secs_f64(),
    }
}

/// Parameters on which a set of near-optimal solutions disagree by more than 1% (relative to
/// the larger magnitude, or absolutely for values near 0).
fn flat_directions(specs: &[ParamSpec], close: &[Vec<f64>]) -> Vec<String> {
    if close.len() < 2 {
        return Vec::new();
    }
    specs
        .iter()
        .enumerate()
        .filter(|(j, _)| {
            let (lo, hi) = close
                .iter()
                .map(|p| p[*j])
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                    (a.min(v), b.max(v))
                });
            (hi - lo) > 0.01 * lo.abs().max(hi.abs()).max(1e-2)
        })
        .map(|(_, s)| s.name.clone())
        .collect()
}
