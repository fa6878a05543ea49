//! Fitting: from a dataset and a law to the best parameters of every target, as a fit file.
//!
//! One path serves every command: build a [`Problem`](crate::objective::Problem) per target, draw starts (random, or the
//! law's grid), run them all through the lock-step L-BFGS executor ([`batch`], [`lbfgs`]) on a
//! [`Backend`], optionally basin-hop from the best few, polish the best minima in f64 on the CPU,
//! and summarise ([`TargetFit`]). [`fit()`] does that for every target of a table (of every group
//! of a table grouped by a column, each group alone, as if it were a table of its own) and
//! returns the [`FitFile`], the contract with every command that uses a fit; a bootstrap study runs its
//! replicates through the same steps (the shared setup of `problem.rs`, [`batch::run`],
//! polishing).

pub mod batch;
mod eval;
mod file;
mod hop;
pub mod lbfgs;
mod polish;
mod predict;
pub(crate) mod problem;
mod settings;
mod summary;

use std::time::Instant;

pub use eval::{eval, split, EvalReport, TargetScore};
pub use file::{
    check_domains, check_params, check_units, DataSummary, FitFile, Params, Units, FIT_FILE_VERSION,
};
pub use hop::HopSettings;
pub use predict::{predict, PredictedTarget, Predictions};
pub use problem::row_ids;
pub(crate) use problem::target_rows;
pub use settings::FitSettings;
pub use summary::TargetFit;

pub(crate) use polish::polish_groups;

use crate::backend::Backend;
use crate::data::Dataset;
use crate::law::Law;

use crate::rng::Rng;
use crate::Result;
use batch::Outcome;
use problem::{Starts, TargetRows};

/// The objective a fit reports, of `law` at natural parameters `p` (fit units) on target `t` of
/// `ds` under `settings`: to score given parameters, or compare two laws at one point.
pub fn objective_at(
    ds: &Dataset,
    t: usize,
    law: &Law,
    settings: &FitSettings,
    p: &[f64],
) -> Result<f64> {
    let target = problem::TargetRows::new(ds, t, law, settings)?;
    let weights = vec![1.0; target.rows.len()];
    Ok(target
        .observed_problem(law, settings, weights)
        .objective_natural(p, 0))
}

/// Fit `law` to every target of `ds` with `settings`, exploring on `backend`; when the rows of
/// `ds` are grouped, every target of every group in turn, on that group's rows. `filters` are
/// recorded in the fit file (the expressions that chose the rows); `progress(target, done,
/// total)` reports starts finished (the target named `group: target` in a grouped fit).
pub fn fit(
    ds: &Dataset,
    law: &Law,
    settings: &FitSettings,
    backend: &dyn Backend,
    filters: &[String],
    progress: &mut (dyn FnMut(&str, usize, usize) + Send),
) -> Result<FitFile> {
    settings.check()?;
    let clock = Instant::now();
    let mut targets = Vec::with_capacity(ds.targets.len());
    let group_by = ds.groups.as_ref().map(|g| g.column.as_str());
    for (group, part) in ds.by_group() {
        let context = |e| in_group(e, group_by.zip(group));
        for (t, target) in part.targets.iter().enumerate() {
            let name = match group {
                Some(g) => format!("{g}: {}", target.name),
                None => target.name.clone(),
            };
            let mut fitted = fit_target(&part, t, law, settings, backend, &mut |d, n| {
                progress(&name, d, n)
            })
            .map_err(context)?;
            // A law that is not finite at any start (a formula such as sqrt(-A)) fits nothing:
            // say so rather than report an infinite objective.
            if !fitted.objective.is_finite() {
                return Err(context(crate::Error::usage(format!(
                    "law '{}' is not finite at any of its {} starts on target {}: check its \
                     formula and bounds (N and D are in fit units: --n-unit, --d-unit)",
                    law.name(),
                    fitted.starts,
                    target.name
                ))));
            }
            fitted.group = group.map(str::to_string);
            targets.push(fitted);
        }
    }
    Ok(FitFile {
        version: FIT_FILE_VERSION,
        mixlaw: env!("CARGO_PKG_VERSION").to_string(),
        law: law.name().to_string(),
        formula: law.formula().to_string(),
        law_file: law.source().map(str::to_string),
        domains: ds.domains.clone(),
        units: Units {
            n: settings.n_unit,
            d: settings.d_unit,
        },
        backend: backend.describe(),
        settings: settings.clone(),
        data: DataSummary {
            source: ds.source.display().to_string(),
            rows: ds.rows(),
            duplicates_dropped: ds.duplicates_dropped,
            filtered_out: ds.filtered_out,
            filters: filters.to_vec(),
            group_by: group_by.map(str::to_string),
            notices: ds.notices.clone(),
        },
        targets,
        wall_s: clock.elapsed().as_secs_f64(),
    })
}

/// `e`, which arose in group `(column, value)`, saying so first: in a long table the message
/// alone must tell which study failed.
fn in_group(e: crate::Error, group: Option<(&str, &str)>) -> crate::Error {
    let Some((column, value)) = group else {
        return e;
    };
    let context = format!("in group {column} = '{value}': ");
    match e {
        crate::Error::Data { at, msg } => crate::Error::Data {
            at,
            msg: context + &msg,
        },
        crate::Error::Usage(msg) => crate::Error::Usage(context + &msg),
        e => e,
    }
}

/// Fit target `t` of `ds`.
pub fn fit_target(
    ds: &Dataset,
    t: usize,
    law: &Law,
    s: &FitSettings,
    backend: &dyn Backend,
    progress: &mut (dyn FnMut(usize, usize) + Send),
) -> Result<TargetFit> {
    let clock = Instant::now();
    let target = &ds.targets[t];
    let setup = TargetRows::new(ds, t, law, s)?;
    let problem = setup.problem(law, s, vec![1.0; setup.rows.len()]);
    backend.check(&problem)?;
    let coords = problem.coords();
    let starts = Starts::new(law, s)?;
    Starts::check_memory(starts.count(s), problem.dim(), s)?;
    let mut x0: Vec<Vec<f64>> = starts
        .initial(law, ds.k(), s)
        .iter()
        .map(|p| coords.to_internal(p))
        .collect();
    let n_starts = x0.len();
    let mut nested_start = None;
    if let (true, Some((nested, embed))) = (s.nest, law.nested()) {
        let inner = fit_target(ds, t, &nested, s, backend, progress)?;
        x0.push(coords.to_internal(&embed(&inner.params.values(), ds.k())));
        nested_start = Some((nested.name().to_string(), inner.objective));
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
    crate::interrupt::check()?;
    polish::polish(&problem, &mut outcomes, s);
    // A stop that came while polishing cut it short: the minimum is not the fit's.
    crate::interrupt::check()?;
    let mut fit = summary::summarise(
        &problem,
        target.name.clone(),
        target.missing + target.dropped_highest,
        n_starts,
        outcomes,
        clock,
    );
    fit.nested_start = nested_start;
    if setup.observed.is_some() {
        // Fitted on stand-ins for far outliers: reported on the rows as observed, the lowest
        // objectives shifted by the same constant.
        let observed = setup.observed_problem(law, s, vec![1.0; setup.rows.len()]);
        let values = fit.params.values();
        let shift = observed.objective_natural(&values, 0) - fit.objective;
        fit.objective += shift;
        fit.best_objectives.iter_mut().for_each(|o| *o += shift);
        fit.train_mre_pct = observed.mre_pct(&values);
    }
    Ok(fit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::law::{registry, Point};
    use crate::loss::{Loss, Reduce, Residual};
    use crate::objective::{Problem, Rows};

    /// Centred, the optimiser's coordinates are the same in any fit units (a unit of N rescales
    /// `A` by the same factor as the term's value at the mean scale, which is what it sees), so
    /// Hoffmann's grid takes the same path to the same minimum whatever the units, up to
    /// rounding. Uncentred, this fit took from 140,000 to 221,000 evaluations in these units.
    #[test]
    fn the_chinchilla_grid_fit_takes_the_same_path_in_any_units() {
        let law = &registry::by_name("chinchilla").unwrap();
        let truth = [1.7, 4.0, 0.34, 1.1, 0.28]; // N in millions, D in billions
        let mut rng = Rng::new(11, 0);
        let mut raw = Vec::new();
        for n in [2e7, 5e7, 1e8, 3e8, 1e9, 3e9] {
            for d in [1e9, 3e9, 1e10, 3e10, 1e11] {
                let v = law.eval(&truth, &Point::new(n / 1e6, d / 1e9, &[]), None);
                raw.push((n, d, v * (1.0 + 0.01 * rng.normal())));
            }
        }
        let fit = |n_unit: f64, d_unit: f64| {
            let rows = Rows::new(
                raw.iter().map(|r| (r.0 / n_unit).ln()).collect(),
                raw.iter().map(|r| (r.1 / d_unit).ln()).collect(),
                Vec::new(),
                raw.iter().map(|r| r.2).collect(),
                0,
            );
            let pr = Problem::new(
                law,
                law.params(&[]),
                rows,
                vec![1.0; raw.len()],
                Residual::Log,
                Reduce::Sum,
                Loss::huber(1e-3),
            );
            let starts = law
                .grid(n_unit, d_unit)
                .expect("chinchilla's grid")
                .iter()
                .map(|p| pr.coords().to_internal(p))
                .collect();
            let settings = crate::fit::lbfgs::Settings::scipy();
            let out = crate::fit::batch::minimize(
                &pr,
                starts,
                &settings,
                &crate::backend::Cpu,
                &mut |_, _| {},
            );
            let best = out.iter().map(|o| o.f).fold(f64::INFINITY, f64::min);
            let evals: usize = out.iter().map(|o| o.evaluations).sum();
            (best, evals as f64)
        };
        let runs = [fit(1e6, 1e9), fit(1.0, 1.0), fit(1e9, 1e12)];
        let evals: Vec<f64> = runs.iter().map(|r| r.1).collect();
        let (lo, hi) = (
            evals.iter().cloned().fold(f64::INFINITY, f64::min),
            evals.iter().cloned().fold(0.0, f64::max),
        );
        assert!(hi / lo < 1.02, "evaluations by units: {evals:?}");
        // The same minimum, to the precision at which scipy's tolerances stop a start.
        for r in &runs[1..] {
            assert!((r.0 - runs[0].0).abs() < 1e-7 * runs[0].0, "{runs:?}");
        }
    }
}
