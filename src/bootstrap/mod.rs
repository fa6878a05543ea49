//! Bootstrap uncertainty studies: refit a law on many resampled tables and summarise the spread.
//!
//! # Why it is shaped this way
//!
//! * **A replicate is a weight set, not a table.** Resampling draws rows (or whole runs) with
//!   replacement; the counts become the replicate's row weights ([`plan`]). Every replicate of a
//!   target is then one weight set of a single [`Problem`](crate::objective::Problem) whose rows are uploaded once, and all
//!   replicates' starts run through the same batched optimiser as a fit — the executor streams
//!   replicates in as others finish, so a GPU sees full batches throughout.
//! * **Warm starts.** Each replicate starts from the full-data optimum plus `starts − 1` starts
//!   drawn as the fit draws them (random, or points of Hoffmann's grid): a resample moves the
//!   optimum a little, and the extra starts catch the replicates where it moves to another basin.
//!   The best few minima are polished in f64 on the CPU, as in a fit.
//! * **Reproducible per replicate.** Replicate `j`'s weights and starts come from `(seed, j)`
//!   alone and its fit depends on nothing else (the backend contract), so `--shard i/n` runs
//!   replicates `j ≡ i (mod n)` and the merge of the shards is the whole study, byte for byte.
//! * **Written as they finish.** Records go to the study file ([`record`]) as replicates
//!   complete; an interrupted study resumes from what it wrote.
//! * **A study's lifecycle is the library's** ([`run`], [`merge`]): start (checking the study
//!   file's destination before the full-data fit), resume with its checks, shard, and merge, so that every front end
//!   gets the same guarantees.
//! * **One table, one study.** A table grouped by a column (several studies in one table) is
//!   refused rather than bootstrapped as one: a study file holds one set of full-data fits and
//!   one data digest, so each group is its own study (`--where` chooses its rows).
//! * **Summaries are derived.** Intervals, predictions at given points and the distribution of
//!   the optimal mixture are computed from the records ([`summary`]), so `merge` and a whole run
//!   summarise identically.

pub mod plan;
pub mod record;
mod study;
pub mod summary;

use std::collections::HashSet;
use std::ops::ControlFlow;

use rayon::prelude::*;

pub use plan::{Plan, Resample};
pub use record::{FullDataFit, Header, Record, Shard, StudyFile, StudySettings};
pub use study::{merge, run, Destination, Event, Study};
pub use summary::{quantile, At, Interval, Prediction, Summary, TargetSummary};

use crate::backend::{Backend, Cpu};
use crate::data::Dataset;
use crate::fit::batch::{self, Job};
use crate::fit::problem::{Starts, TargetRows};
use crate::fit::{self, FitSettings, Params, Units};
use crate::law::{registry, Law, Point};
use crate::mixture::{self, Bounds, Laws, Search, Weighting};
use crate::{Error, Result};

/// Starts in flight at once: enough to fill a GPU, few enough that the L-BFGS states of the
/// larger laws stay within a few hundred MB.
const CAPACITY: usize = 8192;
/// Weights per problem at most (replicates × rows): larger studies run in blocks.
const MAX_WEIGHTS: usize = 1 << 24;
/// Lattice points swept per optimal-mixture search before mirror descent refines the best.
const OPTIMUM_LATTICE: u128 = 3000;

/// The header of a study on `ds`, without its full-data fits (see [`fit_full`]). A usage error
/// for grouped rows: a study is of one table.
pub fn header(
    ds: &Dataset,
    law: &Law,
    study: &StudySettings,
    shard: Option<Shard>,
) -> Result<Header> {
    study.check()?;
    if let Some(g) = &ds.groups {
        let example = g.names.first().map_or("", String::as_str);
        return Err(Error::usage(format!(
            "bootstrap does not take grouped rows (--group-by {}): a study is of one table; run \
             one study per group, choosing its rows with --where \"{} == '{example}'\"",
            g.column, g.column
        )));
    }
    check_memory(ds, law, study, shard)?;
    let mut study = study.clone();
    study.optimum_at = match (law.uses_mixture(), study.optimum_at) {
        (false, _) => None,
        (true, Some(at)) => Some(at),
        // By default the largest model and token count of the table: the scale the study's
        // user is extrapolating towards.
        (true, None) => Some([
            ds.n.iter().copied().fold(0.0, f64::max),
            ds.d.iter().copied().fold(0.0, f64::max),
        ]),
    };
    Ok(Header {
        mixlaw_bootstrap: record::STUDY_VERSION,
        law: law.name().to_string(),
        formula: law.formula().to_string(),
        law_file: law.source().map(str::to_string),
        domains: ds.domains.clone(),
        units: Units {
            n: study.fit.n_unit,
            d: study.fit.d_unit,
        },
        data: record::DataId::of(ds),
        study,
        shard,
        full: Vec::new(),
    })
}

/// An error unless a study's records (held until its file is rewritten in order) and the
/// optimiser states of the replicates in flight fit in memory, before any work.
fn check_memory(
    ds: &Dataset,
    law: &Law,
    study: &StudySettings,
    shard: Option<Shard>,
) -> Result<()> {
    let dim = law.params(&ds.domains).len();
    let owned = study.replicates.div_ceil(shard.map_or(1, |s| s.count)) as u128;
    let record = 128 + 48 * (dim + ds.k()) as u128;
    let records = owned * ds.targets.len() as u128 * record;
    crate::memory::check(
        &format!("--replicates {}", study.replicates),
        records,
        "use fewer replicates, or shard the study (--shard i/n)",
    )?;
    let in_flight = study.starts.max(CAPACITY) as u128;
    crate::memory::check(
        &format!("--starts {} per replicate", study.starts),
        in_flight * crate::memory::per_start(dim, study.fit.solver.memory),
        "use fewer starts",
    )
}

/// Fit every target on the full data and find its optimal mixture, into `header.full`: the
/// estimates the replicates warm-start from and the intervals are centred on.
pub fn fit_full(
    header: &mut Header,
    ds: &Dataset,
    law: &Law,
    backend: &dyn Backend,
    progress: &mut (dyn FnMut(&str, usize, usize) + Send),
) -> Result<()> {
    let s = &header.study.fit;
    let mut full = Vec::with_capacity(ds.targets.len());
    for t in 0..ds.targets.len() {
        let name = ds.targets[t].name.clone();
        let f = fit::fit_target(ds, t, law, s, backend, &mut |d, n| progress(&name, d, n))?;
        let values = f.params.values();
        let optimum = match header.study.optimum_at {
            Some(at) => {
                let (h, loss) = optimum(law, &ds.domains, &values, at, s);
                // A scale where the law overflows (a subnormal N) has no optimal mixture: every
                // replicate's "optimum" was the same meaningless point, with no spread at all.
                if !loss.is_finite() {
                    return Err(Error::usage(format!(
                        "--optimum-at {:e},{:e}: the full-data fit of {name} predicts a loss of \
                         {loss} there even at its optimal mixture: the law cannot be evaluated \
                         there in f64",
                        at[0], at[1]
                    )));
                }
                Some(h)
            }
            None => None,
        };
        full.push(FullDataFit {
            target: name,
            objective: f.objective,
            optimum,
            params: f.params,
        });
    }
    header.full = full;
    Ok(())
}

/// Fit every replicate of the header's shard, except the (replicate, target) pairs in `skip`
/// (already written). Records go to `sink` in batches as replicates finish; `progress(target,
/// done, total)` counts replicates.
pub fn replicate(
    ds: &Dataset,
    law: &Law,
    header: &Header,
    backend: &dyn Backend,
    skip: &HashSet<(usize, String)>,
    sink: &mut (dyn FnMut(Vec<Record>) -> Result<()> + Send),
    progress: &mut (dyn FnMut(&str, usize, usize) + Send),
) -> Result<()> {
    let study = &header.study;
    let s = &study.fit;
    let starts = Starts::new(law, s)?;
    let owned: Vec<usize> = (0..study.replicates)
        .filter(|&j| header.shard.is_none_or(|sh| sh.owns(j)))
        .collect();
    for (t, full) in header.full.iter().enumerate() {
        let name = &full.target;
        let setup = TargetRows::new(ds, t, law, s)?;
        let plan = Plan::new(ds, &setup.ids, study.resample, study.seed);
        let todo: Vec<usize> = owned
            .iter()
            .copied()
            .filter(|&j| !skip.contains(&(j, name.clone())))
            .collect();
        let total = owned.len();
        let mut done = total - todo.len();
        progress(name, done, total);
        let specs = &setup.specs;
        let full_params: Vec<f64> = specs
            .iter()
            .map(|sp| full.params.get(&sp.name).unwrap_or(f64::NAN))
            .collect();
        for block in todo.chunks((MAX_WEIGHTS / setup.rows.len().max(1)).max(1)) {
            let weights: Vec<f64> = block.iter().flat_map(|&j| plan.weights(j as u64)).collect();
            let observed = setup
                .observed
                .is_some()
                .then(|| setup.observed_problem(law, s, weights.clone()));
            let problem = setup.problem(law, s, weights);
            backend.check(&problem)?;
            let coords = problem.coords();
            let warm = coords.to_internal(&full_params);
            let jobs = block.iter().enumerate().map(|(i, &j)| {
                let mut rng = plan::rng(study.seed, j as u64, 1);
                let drawn = (1..study.starts)
                    .map(|_| coords.to_internal(&starts.draw(law, ds.k(), &mut rng)));
                Job {
                    set: i as u32,
                    starts: std::iter::once(warm.clone()).chain(drawn).collect(),
                }
            });
            let mut failure = None;
            batch::run(
                &problem,
                jobs,
                CAPACITY,
                &s.solver,
                backend,
                &mut |mut finished| {
                    let mut groups: Vec<(u32, &mut [batch::Outcome])> = finished
                        .iter_mut()
                        .map(|(i, o)| (*i as u32, o.as_mut_slice()))
                        .collect();
                    fit::polish_groups(&problem, &mut groups, s.polish, &s.polish_solver);
                    // A stop that came while polishing cut the polish short: these replicates
                    // are not finished, so none is written (a resume fits them again).
                    if crate::interrupt::requested() {
                        return ControlFlow::Break(());
                    }
                    let records: Vec<Record> = finished
                        .par_iter()
                        .map(|(i, outcomes)| {
                            let best = outcomes
                                .iter()
                                .min_by(|a, b| a.f.total_cmp(&b.f))
                                .expect("every replicate has starts");
                            let p = problem.coords().to_natural(&best.theta);
                            let objective = observed
                                .as_ref()
                                .unwrap_or(&problem)
                                .objective_natural(&p, *i);
                            let ok = objective.is_finite() && problem.weights().sum(*i) > 0.0;
                            Record {
                                replicate: block[*i],
                                target: name.clone(),
                                objective: ok.then_some(objective),
                                optimum: study
                                    .optimum_at
                                    .filter(|_| ok)
                                    .map(|at| optimum(law, &ds.domains, &p, at, s).0),
                                params: Params(
                                    specs.iter().map(|sp| sp.name.clone()).zip(p).collect(),
                                ),
                            }
                        })
                        .collect();
                    done += records.len();
                    progress(name, done, total);
                    match sink(records) {
                        Ok(()) => ControlFlow::Continue(()),
                        Err(e) => {
                            failure = Some(e);
                            ControlFlow::Break(())
                        }
                    }
                },
                &mut |_| {},
            );
            if let Some(e) = failure {
                return Err(e);
            }
            crate::interrupt::check()?;
        }
    }
    Ok(())
}

/// The optimal mixture of one fitted target at raw `[N, D]`, and the loss there: a coarse
/// lattice sweep (a few thousand points) refined by mirror descent, in f64 on the CPU.
fn optimum(
    law: &Law,
    domains: &[String],
    params: &[f64],
    at: [f64; 2],
    s: &FitSettings,
) -> (Params, f64) {
    let k = domains.len();
    let resolution = (1..)
        .take_while(|&r| mixture::lattice::count(k, r) <= OPTIMUM_LATTICE)
        .last()
        .unwrap_or(1);
    let laws = Laws {
        law: law.clone(),
        domains: domains.to_vec(),
        params: vec![params.to_vec()],
        n: at[0] / s.n_unit,
        d: at[1] / s.d_unit,
    };
    let weighting = Weighting {
        name: String::new(),
        weights: vec![1.0],
    };
    let search = Search {
        resolution,
        top: 3,
        max_iter: 10_000,
    };
    let solution = mixture::minimize(&laws, &[weighting], &Bounds::free(k), &search, &Cpu)
        .expect("the free simplex is feasible")
        .remove(0);
    (
        Params(domains.iter().cloned().zip(solution.h).collect()),
        solution.loss,
    )
}

/// An error unless `level` is a confidence level strictly between 0 and 1.
pub fn check_level(level: f64) -> Result<()> {
    if level > 0.0 && level < 1.0 {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "--level must be between 0 and 1, got {level}"
        )))
    }
}

/// Summarise a study's records at confidence `level`, with predicted losses at `at`.
pub fn summarise(header: &Header, records: &[Record], level: f64, at: &[At]) -> Result<Summary> {
    check_level(level)?;
    let law = registry::stored(&header.law, header.law_file.as_deref()).map_err(Error::usage)?;
    let specs = law.params(&header.domains);
    let k = header.domains.len();
    for a in at {
        a.check(&law, k)?;
    }
    let mut records = records.to_vec();
    record::sort(header, &mut records);
    let units = header.units;
    let predict = |p: &Params, a: &At| {
        let values: Vec<f64> = specs
            .iter()
            .map(|s| p.get(&s.name).unwrap_or(f64::NAN))
            .collect();
        law.eval(
            &values,
            &Point::new(a.n / units.n, a.d / units.d, &a.h),
            None,
        )
    };
    let mut targets = Vec::new();
    for full in &header.full {
        let mine: Vec<&Record> = records.iter().filter(|r| r.target == full.target).collect();
        let ok: Vec<&Record> = mine
            .iter()
            .copied()
            .filter(|r| r.objective.is_some())
            .collect();
        // A shard may hold no replicates at all (more shards than replicates): its summary
        // is the full-data estimates with empty intervals, and its file merges as it is.
        if ok.is_empty() && !mine.is_empty() {
            return Err(Error::usage(format!(
                "no replicate of target {} reached a finite objective: nothing to summarise",
                full.target
            )));
        }
        let over = |f: &dyn Fn(&Record) -> f64| ok.iter().map(|r| f(r)).collect::<Vec<f64>>();
        let params = specs
            .iter()
            .map(|sp| {
                let get = |p: &Params| p.get(&sp.name).unwrap_or(f64::NAN);
                Interval::new(
                    sp.name.clone(),
                    get(&full.params),
                    &over(&|r| get(&r.params)),
                    level,
                )
            })
            .collect();
        let predictions = at
            .iter()
            .map(|a| Prediction {
                at: a.clone(),
                loss: Interval::new(
                    full.target.clone(),
                    predict(&full.params, a),
                    &over(&|r| predict(&r.params, a)),
                    level,
                ),
            })
            .collect();
        let optimum = match &full.optimum {
            Some(h) => header
                .domains
                .iter()
                .map(|d| {
                    let get =
                        |p: &Option<Params>| p.as_ref().and_then(|p| p.get(d)).unwrap_or(f64::NAN);
                    Interval::new(
                        d.clone(),
                        h.get(d).unwrap_or(f64::NAN),
                        &over(&|r| get(&r.optimum)),
                        level,
                    )
                })
                .collect(),
            None => Vec::new(),
        };
        targets.push(TargetSummary {
            target: full.target.clone(),
            replicates: ok.len(),
            failed: mine.len() - ok.len(),
            params,
            predictions,
            optimum,
        });
    }
    Ok(Summary {
        law: header.law.clone(),
        level,
        resample: header.study.resample,
        replicates: header.study.replicates,
        starts: header.study.starts,
        seed: header.study.seed,
        optimum_at: header.study.optimum_at,
        targets,
    })
}
