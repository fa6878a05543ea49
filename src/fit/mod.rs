//! Fitting: from a dataset and a law to the best parameters of every target.
//!
//! One path serves every command: build a [`Problem`] per target, draw starts (random, or
//! Hoffmann's grid for chinchilla), run them all through the lock-step L-BFGS executor on a
//! [`Backend`], optionally basin-hop from the best few, and summarise. The summary says not only
//! which start won but how much the starts agree: when near-best starts disagree on a parameter,
//! that parameter sits in a flat (weakly identified) direction — E and γB in the paper's laws
//! often do — and the report names it rather than pretending to a precision the data lacks.

pub mod batch;
mod hop;
pub mod lbfgs;
pub mod objective;

use std::time::Instant;

pub use hop::HopSettings;
pub use objective::{huber, mre_pct, Problem, Reduce, Residual, Rows};

use crate::backend::{Backend, Cpu};
use crate::data::Dataset;
use crate::law::{Law, ParamSpec};
use crate::report::Params;
use crate::rng::Rng;
use crate::{Error, Result};
use batch::Outcome;
use lbfgs::Status;

/// How starting points are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Init {
    /// Hoffmann et al.'s 4,500-point grid (chinchilla only).
    Grid,
    /// Draws from the law's start ranges (those of the paper's code base).
    Random,
}

/// Everything that decides a fit besides the data. Stored in fit files.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct FitSettings {
    pub residual: Residual,
    pub reduce: Reduce,
    pub delta: f64,
    pub init: Init,
    /// Random starts, or for the grid the first `starts` grid points (0: all).
    pub starts: usize,
    pub seed: u64,
    pub hop: HopSettings,
    /// How many of the best starts basin-hop.
    pub hop_chains: usize,
    /// Tolerances for exploring from every start.
    pub solver: lbfgs::Settings,
    /// How many of the best distinct minima are polished afterwards.
    pub polish: usize,
    /// Tolerances for polishing.
    pub polish_solver: lbfgs::Settings,
    /// Fit the law nested in this one first (additive inside joint, joint inside full) and add
    /// its optimum as one more start.
    pub nest: bool,
    /// N is divided by this before the law sees it (1e6: N in millions).
    pub n_unit: f64,
    /// D is divided by this before the law sees it (1e9: D in billions).
    pub d_unit: f64,
}

impl FitSettings {
    /// The conventions of each law's home literature: Hoffmann/Epoch's log-residual, summed,
    /// grid-started fit for chinchilla; the paper's mean Huber on raw loss with random starts
    /// for the mixture laws.
    pub fn defaults_for(law: &dyn Law) -> Self {
        let chinchilla = law.name() == "chinchilla";
        FitSettings {
            residual: if chinchilla {
                Residual::Log
            } else {
                Residual::Raw
            },
            reduce: if chinchilla {
                Reduce::Sum
            } else {
                Reduce::Mean
            },
            delta: 1e-3,
            init: if chinchilla { Init::Grid } else { Init::Random },
            starts: if chinchilla { 0 } else { 100 },
            seed: 0,
            hop: HopSettings {
                hops: 0,
                step: 0.5,
                temperature: 1.0,
            },
            hop_chains: 8,
            solver: if chinchilla {
                lbfgs::Settings::scipy()
            } else {
                lbfgs::Settings::default()
            },
            polish: 8,
            nest: true,
            polish_solver: lbfgs::Settings::polish(),
            n_unit: 1e6,
            d_unit: 1e9,
        }
    }
}

/// The fit of one target.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct TargetFit {
    pub target: String,
    /// Best parameters by name, in the law's order (natural coordinates, fit units).
    pub params: Params,
    /// The unscaled objective at `values`, recomputed in f64.
    pub objective: f64,
    pub train_mre_pct: f64,
    pub rows: usize,
    /// Rows whose cell for this target was empty or dropped.
    pub rows_skipped: usize,
    pub starts: usize,
    /// The nested law whose optimum was an extra start, and the objective it reached.
    pub nested_start: Option<(String, f64)>,
    pub converged: usize,
    pub stalled: usize,
    pub max_iter: usize,
    pub failed: usize,
    /// The lowest few objectives found by distinct starts (how far apart the best few are).
    pub best_objectives: Vec<f64>,
    /// Starts within 1e-6 relative of the best objective.
    pub near_best: usize,
    /// Parameters that near-best starts (within 1e-4 relative) disagree on by over 1%: a flat
    /// or weakly identified direction.
    pub flat: Vec<String>,
    /// Parameters sitting on a bound of the box.
    pub at_bounds: Vec<String>,
    pub evaluations: usize,
    pub wall_s: f64,
}

/// The table rows target `t` is fitted on (those with a value for it).
pub fn target_row_ids(ds: &Dataset, t: usize) -> Vec<usize> {
    let y = &ds.targets[t].y;
    (0..ds.rows()).filter(|&r| y[r].is_finite()).collect()
}

/// The rows of target `t` in fit units (rows with an empty or dropped cell left out).
pub fn target_rows(ds: &Dataset, t: usize, n_unit: f64, d_unit: f64) -> Rows {
    let y = &ds.targets[t].y;
    let k = ds.k();
    let keep = target_row_ids(ds, t);
    Rows::new(
        keep.iter().map(|&r| (ds.n[r] / n_unit).ln()).collect(),
        keep.iter().map(|&r| (ds.d[r] / d_unit).ln()).collect(),
        keep.iter()
            .flat_map(|&r| ds.h_row(r).iter().copied())
            .collect(),
        keep.iter().map(|&r| y[r]).collect(),
        k,
    )
}

/// Starting points in internal coordinates.
fn starts(
    law: &'static dyn Law,
    problem: &Problem,
    k: usize,
    s: &FitSettings,
) -> Result<Vec<Vec<f64>>> {
    let natural: Vec<Vec<f64>> = match s.init {
        Init::Grid => {
            if law.name() != "chinchilla" {
                return Err(Error::usage(format!(
                    "--init grid is Hoffmann's grid for the chinchilla law; use --init random for {}",
                    law.name()
                )));
            }
            let mut g = crate::law::Chinchilla::grid(s.n_unit, s.d_unit);
            if s.starts > 0 {
                g.truncate(s.starts);
            }
            g
        }
        Init::Random => {
            if s.starts == 0 {
                return Err(Error::usage("--starts must be at least 1"));
            }
            (0..s.starts as u64)
                .map(|i| law.sample_start(k, &mut Rng::new(s.seed, i)))
                .collect()
        }
    };
    Ok(natural.iter().map(|p| problem.to_internal(p)).collect())
}

/// Fit target `t` of `ds`.
pub fn fit_target(
    ds: &Dataset,
    t: usize,
    law: &'static dyn Law,
    s: &FitSettings,
    backend: &dyn Backend,
    progress: &mut (dyn FnMut(usize, usize) + Send),
) -> Result<TargetFit> {
    let clock = Instant::now();
    let target = &ds.targets[t];
    let rows = target_rows(ds, t, s.n_unit, s.d_unit);
    let specs = law.params(&ds.domains);
    if rows.len() < specs.len() {
        return Err(Error::Data {
            at: crate::error::Location {
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
    let weights = vec![1.0; rows.len()];
    let problem = Problem::new(law, specs, rows, weights, s.residual, s.reduce, s.delta);
    backend.check(&problem)?;
    let mut x0 = starts(law, &problem, ds.k(), s)?;
    let n_starts = x0.len();
    let mut nested_start = None;
    if let (true, Some(nested)) = (s.nest, law.nested()) {
        let inner = fit_target(ds, t, nested.law, s, backend, progress)?;
        x0.push(problem.to_internal(&(nested.embed)(&inner.params.values(), ds.k())));
        nested_start = Some((nested.law.name().to_string(), inner.objective));
    }
    let mut outcomes = batch::minimize(&problem, x0, &s.solver, backend, progress);
    if s.hop.hops > 0 {
        let mut order: Vec<usize> = (0..outcomes.len()).collect();
        order.sort_by(|&a, &b| outcomes[a].f.total_cmp(&outcomes[b].f));
        let chains: Vec<Outcome> = order
            .iter()
            .take(s.hop_chains.max(1))
            .map(|&i| outcomes[i].clone())
            .collect();
        let mut rng = Rng::new(s.seed, u64::MAX);
        let hopped = hop::basin_hop(
            &problem, chains, &s.hop, &s.solver, backend, &mut rng, progress,
        );
        outcomes.extend(hopped);
    }
    polish(&problem, &mut outcomes, s);
    let mut fit = summarise(
        &problem,
        target.name.clone(),
        target.missing + target.dropped_highest,
        n_starts,
        outcomes,
        clock,
    );
    fit.nested_start = nested_start;
    Ok(fit)
}

/// Re-minimise the best `s.polish` distinct minima with tight tolerances, in place, on the f64
/// CPU backend whatever backend explored. Exploring every start to the last digit would spend
/// most of the time on starts that lose; polishing only the contenders gives the winner full
/// f64 precision at a fraction of the cost — and an f32 GPU exploration f64 quality.
fn polish(problem: &Problem, outcomes: &mut [Outcome], s: &FitSettings) {
    polish_groups(problem, &mut [(0, outcomes)], s.polish, &s.polish_solver);
}

/// [`polish`] for several groups of outcomes at once, each under its own weight set (the
/// replicates of a bootstrap study): one re-scoring batch and one polishing run for all.
pub(crate) fn polish_groups(
    problem: &Problem,
    groups: &mut [(u32, &mut [Outcome])],
    count: usize,
    solver: &lbfgs::Settings,
) {
    // Re-score every minimum in f64 first: an f32 exploration's objectives are only good to
    // ~1e-6 relative (`Backend::noise` allows 1e-5), too coarse to rank minima that close.
    let dim = problem.dim();
    let mut thetas = Vec::new();
    let mut sets = Vec::new();
    for (set, outcomes) in groups.iter() {
        for o in outcomes.iter() {
            thetas.extend_from_slice(&o.theta);
            sets.push(*set);
        }
    }
    let mut f = vec![0.0; sets.len()];
    let mut g = vec![0.0; sets.len() * dim];
    Cpu.evaluate(problem, &thetas, &sets, &mut f, &mut g);
    let mut f = f.into_iter();
    for (_, outcomes) in groups.iter_mut() {
        for o in outcomes.iter_mut() {
            o.f = f.next().expect("one value per outcome");
        }
    }
    let chosen: Vec<Vec<usize>> = groups
        .iter()
        .map(|(_, outcomes)| contenders(outcomes, count))
        .collect();
    let jobs: Vec<batch::Job> = groups
        .iter()
        .zip(&chosen)
        .map(|((set, outcomes), c)| batch::Job {
            set: *set,
            starts: c.iter().map(|&i| outcomes[i].theta.clone()).collect(),
        })
        .collect();
    batch::run(
        problem,
        jobs.into_iter(),
        usize::MAX,
        solver,
        &Cpu,
        &mut |finished| {
            for (j, polished) in finished {
                let outcomes = &mut groups[j].1;
                for (&i, p) in chosen[j].iter().zip(polished) {
                    // L-BFGS never ends above its start, so the polished point is at least as good.
                    outcomes[i].theta = p.theta;
                    outcomes[i].f = p.f;
                    outcomes[i].evaluations += p.evaluations;
                }
            }
            std::ops::ControlFlow::Continue(())
        },
        &mut |_| {},
    );
}

/// Indices of the best `count` finite outcomes whose parameters differ (best first).
fn contenders(outcomes: &[Outcome], count: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..outcomes.len())
        .filter(|&i| outcomes[i].f.is_finite())
        .collect();
    order.sort_by(|&a, &b| outcomes[a].f.total_cmp(&outcomes[b].f));
    let mut chosen: Vec<usize> = Vec::new();
    for i in order {
        if chosen.len() == count {
            break;
        }
        let distinct = chosen.iter().all(|&c| {
            outcomes[c]
                .theta
                .iter()
                .zip(&outcomes[i].theta)
                .any(|(a, b)| (a - b).abs() > 1e-6 * a.abs().max(1.0))
        });
        if distinct {
            chosen.push(i);
        }
    }
    chosen
}

fn summarise(
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
    let values = problem.to_natural(&best.theta);
    let objective = problem.objective_natural(&values, 0);
    let rel = |o: &Outcome| (o.f - best.f) / best.f.abs().max(f64::MIN_POSITIVE);
    let near_best = outcomes.iter().filter(|o| rel(o) <= 1e-6).count();
    let mut best_objectives: Vec<f64> = Vec::new();
    for o in outcomes.iter().filter(|o| o.f.is_finite()) {
        let v = o.f * problem.delta;
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
        .map(|o| problem.to_natural(&o.theta))
        .collect();
    let flat = flat_directions(&problem.specs, &close);
    let at_bounds = problem
        .specs
        .iter()
        .zip(&values)
        .zip(&problem.log_coord)
        .filter(|((s, &v), &log)| !log && on_bound(s, v))
        .map(|((s, _), _)| s.name.clone())
        .collect();
    TargetFit {
        target,
        params: Params(
            problem
                .specs
                .iter()
                .map(|s| s.name.clone())
                .zip(values.iter().copied())
                .collect(),
        ),
        train_mre_pct: problem.mre_pct(&values),
        objective,
        rows: problem.rows.len(),
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
        evaluations,
        wall_s: clock.elapsed().as_secs_f64(),
    }
}

fn on_bound(s: &ParamSpec, v: f64) -> bool {
    let tol = 1e-9 * (s.hi - s.lo).abs().clamp(1e-12, 1.0);
    (v - s.lo).abs() <= tol || (s.hi - v).abs() <= tol
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
