//! The steps every fit of a target shares, a plain fit's and a bootstrap replicate's alike:
//! the target's rows in fit units, the problem under given weight sets, and the starts.

use super::FitSettings;
use crate::data::{median, Dataset, FAR_OUTLIER};
use crate::error::Location;
use crate::law::{Init, Law, ParamSpec};
use crate::loss::{LossKind, Residual};
use crate::objective::{Problem, Rows};
use crate::rng::Rng;
use crate::{Error, Result};

/// One target's rows in fit units and the law's parameters over the table's domains: what every
/// problem of that target shares.
pub(crate) struct TargetRows {
    /// The table rows the target is fitted on (those with a value for it).
    pub ids: Vec<usize>,
    /// The rows the optimiser sees: as observed, or with far outliers' losses replaced by
    /// stand-ins ([`stand_ins`]).
    pub rows: Rows,
    /// The rows as observed, when `rows` holds stand-ins: what a fit's objective and errors
    /// are reported on.
    pub observed: Option<Rows>,
    pub specs: Vec<ParamSpec>,
}

impl TargetRows {
    /// Target `t` of `ds` for `law`: an error unless there are at least as many rows as
    /// parameters.
    pub fn new(ds: &Dataset, t: usize, law: &Law, s: &FitSettings) -> Result<Self> {
        let target = &ds.targets[t];
        let ids = row_ids(ds, t);
        let rows = target_rows(ds, t, s.n_unit, s.d_unit);
        let specs = law
            .distinct_params(&ds.domains)
            .map_err(|msg| Error::Data {
                at: Location {
                    file: ds.source.clone(),
                    row: None,
                    column: None,
                },
                msg,
            })?;
        if rows.len() < specs.len() {
            return Err(Error::Data {
                at: Location {
                    file: ds.source.clone(),
                    row: None,
                    column: Some(target.name.clone()),
                },
                msg: format!(
                    "{} rows for target {} but the {} law has {} parameters: a fit needs at least as many rows as parameters",
                    rows.len(),
                    target.name,
                    law.name(),
                    specs.len()
                ),
            });
        }
        let bounded = s.residual == Residual::Raw && s.loss != LossKind::Mse;
        let (rows, observed) = match stand_ins(rows.y()).filter(|_| bounded) {
            Some(y) => (rows.with_y(y), Some(rows)),
            None => (rows, None),
        };
        Ok(TargetRows {
            ids,
            rows,
            observed,
            specs,
        })
    }

    /// The problem whose objective a fit reports: on the rows as observed.
    pub fn observed_problem(&self, law: &Law, s: &FitSettings, weights: Vec<f64>) -> Problem {
        Problem::new(
            law,
            self.specs.clone(),
            self.observed.as_ref().unwrap_or(&self.rows).clone(),
            weights,
            s.residual,
            s.reduce,
            s.loss(),
        )
    }

    /// The problem of fitting `law` to these rows under `weights` (whole weight sets).
    pub fn problem(&self, law: &Law, s: &FitSettings, weights: Vec<f64>) -> Problem {
        Problem::new(
            law,
            self.specs.clone(),
            self.rows.clone(),
            weights,
            s.residual,
            s.reduce,
            s.loss(),
        )
    }
}

/// Stand-ins for far outliers' losses (above [`FAR_OUTLIER`] times the median), or `None` when
/// there are none.
///
/// A Huber (or absolute-error) row whose residual stays beyond δ on one side contributes the
/// linear term `δ·(y − L̂)` less a constant: its gradient is bounded and its value is `δ·y` plus
/// a part that varies. At `y = 1e40` that constant is all f64 can hold: the objective's other
/// rows round away, every step "gains" nothing, and every start stops where it began, reporting
/// convergence. The optimiser sees the loss at `2·max` of the other rows (at most `y`) instead.
/// Huber lies above each of its tangent lines, so the objective with the stand-in is the
/// observed one less a constant wherever the row's prediction stays below the stand-in, and
/// above it elsewhere: its minimiser is the observed objective's whenever that prediction is
/// like the other rows' losses, as it is at any fit worth having. The reported objective and
/// errors are those of the observed rows.
pub fn stand_ins(y: &[f64]) -> Option<Vec<f64>> {
    let limit = FAR_OUTLIER * median(y)?;
    if !y.iter().any(|v| *v > limit) {
        return None;
    }
    let top = y
        .iter()
        .copied()
        .filter(|v| *v <= limit)
        .fold(0.0, f64::max);
    Some(
        y.iter()
            .map(|&v| if v > limit { v.min(2.0 * top) } else { v })
            .collect(),
    )
}

/// The table rows target `t` is fitted on (those with a value for it).
pub fn row_ids(ds: &Dataset, t: usize) -> Vec<usize> {
    let y = &ds.targets[t].y;
    (0..ds.rows()).filter(|&r| y[r].is_finite()).collect()
}

/// The rows of target `t` in fit units (rows with an empty or dropped cell left out).
pub fn target_rows(ds: &Dataset, t: usize, n_unit: f64, d_unit: f64) -> Rows {
    let y = &ds.targets[t].y;
    let keep = row_ids(ds, t);
    Rows::new(
        keep.iter().map(|&r| (ds.n[r] / n_unit).ln()).collect(),
        keep.iter().map(|&r| (ds.d[r] / d_unit).ln()).collect(),
        keep.iter()
            .flat_map(|&r| ds.h_row(r).iter().copied())
            .collect(),
        keep.iter().map(|&r| y[r]).collect(),
        ds.k(),
    )
}

/// Where a fit's starting points come from: the law's grid or its random draws.
pub(crate) enum Starts {
    Grid(Vec<Vec<f64>>),
    Random,
}

impl Starts {
    /// The source `s.init` names for `law`: an error if it names a grid the law does not have,
    /// or random starts and none of them.
    pub fn new(law: &Law, s: &FitSettings) -> Result<Self> {
        match s.init {
            Init::Grid => law
                .grid(s.n_unit, s.d_unit)
                .map(Starts::Grid)
                .ok_or_else(|| {
                    Error::usage(format!(
                        "--init grid needs a law with a start grid (chinchilla has Hoffmann's); \
                     use --init random for {}",
                        law.name()
                    ))
                }),
            Init::Random if s.starts == 0 => Err(Error::usage("--starts must be at least 1")),
            Init::Random => Ok(Starts::Random),
        }
    }

    /// How many starts [`Starts::initial`] gives.
    pub fn count(&self, s: &FitSettings) -> usize {
        match self {
            Starts::Grid(g) if s.starts > 0 => s.starts.min(g.len()),
            Starts::Grid(g) => g.len(),
            Starts::Random => s.starts,
        }
    }

    /// An error unless `starts` optimiser states of `dim` parameters, all held at once, fit in
    /// memory.
    pub fn check_memory(starts: usize, dim: usize, s: &FitSettings) -> Result<()> {
        crate::memory::check(
            &format!("--starts {starts}"),
            starts as u128 * crate::memory::per_start(dim, s.solver.memory),
            "use fewer starts",
        )
    }

    /// A fit's starts, natural parameters: the first `s.starts` grid points (all for 0), or
    /// `s.starts` draws, the `i`-th from stream `i` of the seed.
    pub fn initial(&self, law: &Law, k: usize, s: &FitSettings) -> Vec<Vec<f64>> {
        match self {
            Starts::Grid(g) => g[..if s.starts > 0 {
                s.starts.min(g.len())
            } else {
                g.len()
            }]
                .to_vec(),
            Starts::Random => (0..s.starts as u64)
                .map(|i| law.sample_start(k, &mut Rng::new(s.seed, i)))
                .collect(),
        }
    }

    /// One start drawn from `rng`: a random grid point, or a random draw.
    pub fn draw(&self, law: &Law, k: usize, rng: &mut Rng) -> Vec<f64> {
        match self {
            Starts::Grid(g) => g[rng.below(g.len())].clone(),
            Starts::Random => law.sample_start(k, rng),
        }
    }
}
