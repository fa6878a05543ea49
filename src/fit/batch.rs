//! The lock-step executor: many L-BFGS starts, one backend call per round.
//!
//! Work comes as *jobs*: the starts of one fit under one weight set (a plain fit is one job; a
//! bootstrap study is one job per replicate). The executor keeps up to `capacity` starts in
//! flight, refilling from the job stream as starts finish, so a device sees full batches until
//! the stream runs dry instead of a batch that thins out as the slow starts of one big lock-step
//! run straggle. A job is handed back as soon as its last start finishes, which is what lets a
//! bootstrap study write replicates as they complete. Each start's trajectory depends only on its
//! own θ and weight set (the [`Backend`] contract), never on what else shares its rounds.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use rayon::prelude::*;

use super::lbfgs::{Lbfgs, Settings, Status};
use crate::backend::Backend;
use crate::objective::Problem;

/// A finished start: its internal coordinates, scaled objective and how it ended.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The start's final iterate, in internal (optimiser) coordinates.
    pub theta: Vec<f64>,
    /// The optimiser's (scaled) objective at `theta`.
    pub f: f64,
    /// How the start ended.
    pub status: Status,
    /// Accepted L-BFGS steps.
    pub iterations: usize,
    /// Objective and gradient evaluations.
    pub evaluations: usize,
}

/// The starts of one fit, all scored under weight set `set` of the problem.
pub struct Job {
    /// The problem's weight set the starts are scored under.
    pub set: u32,
    /// The start points, in internal (optimiser) coordinates.
    pub starts: Vec<Vec<f64>>,
}

/// Minimise from every start at once under weight set 0; `progress(finished, total)` is called
/// after each round.
pub fn minimize(
    problem: &Problem,
    starts: Vec<Vec<f64>>,
    settings: &Settings,
    backend: &dyn Backend,
    progress: &mut (dyn FnMut(usize, usize) + Send),
) -> Vec<Outcome> {
    let total = starts.len();
    let mut result = Vec::new();
    run(
        problem,
        [Job { set: 0, starts }].into_iter(),
        usize::MAX,
        settings,
        backend,
        &mut |mut finished| {
            result = finished.pop().expect("the one job").1;
            ControlFlow::Continue(())
        },
        &mut |finished| progress(finished, total),
    );
    result
}

/// Run every job of `jobs`, at most `capacity` starts in flight (a job's starts are admitted
/// together, so one job larger than `capacity` still runs). After each round in which jobs
/// finished, `done` receives them as `(j, outcomes)`: the `j`-th job's outcomes in the order of
/// its starts; it may stop the run with `ControlFlow::Break`. `progress(finished)` receives the
/// count of finished starts after each round.
///
/// The rounds run on a thread of rayon's pool (the caller waits). A parallel loop started from
/// outside the pool hands its work to the pool and puts the caller to sleep until it is done:
/// some 40 µs a loop on the 2-core development machine, which a round pays twice (evaluate,
/// then digest), hundreds of rounds a fit. Started from a worker, the loop runs on that worker
/// and the others join in.
pub fn run(
    problem: &Problem,
    jobs: impl Iterator<Item = Job> + Send,
    capacity: usize,
    settings: &Settings,
    backend: &dyn Backend,
    done: &mut (dyn FnMut(Vec<(usize, Vec<Outcome>)>) -> ControlFlow<()> + Send),
    progress: &mut (dyn FnMut(usize) + Send),
) {
    rayon::scope(|_| rounds(problem, jobs, capacity, settings, backend, done, progress));
}

/// [`run`] on the thread it is called from.
fn rounds(
    problem: &Problem,
    mut jobs: impl Iterator<Item = Job>,
    capacity: usize,
    settings: &Settings,
    backend: &dyn Backend,
    done: &mut (dyn FnMut(Vec<(usize, Vec<Outcome>)>) -> ControlFlow<()> + Send),
    progress: &mut (dyn FnMut(usize) + Send),
) {
    struct Slot {
        job: usize,
        index: usize,
        set: u32,
        state: Lbfgs,
    }
    let settings = &Settings {
        noise: backend.noise(),
        ..*settings
    };
    let dim = problem.dim();
    let mut slots: Vec<Slot> = Vec::new();
    // Per admitted job: its outcomes so far (by start index) and how many are still running.
    let mut open: BTreeMap<usize, (Vec<Option<Outcome>>, usize)> = BTreeMap::new();
    let mut admitted = 0;
    let mut finished = 0;
    let (mut thetas, mut sets, mut f, mut g) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut finished_jobs = Vec::new();
    loop {
        // Stopped on request: the caller's `interrupt::check` turns the unfinished run into an
        // error.
        if crate::interrupt::requested() {
            return;
        }
        while slots.len() < capacity {
            let Some(job) = jobs.next() else { break };
            let n = job.starts.len();
            if n == 0 {
                finished_jobs.push((admitted, Vec::new()));
            } else {
                open.insert(admitted, (vec![None; n], n));
                slots.extend(job.starts.into_iter().enumerate().map(|(index, x)| Slot {
                    job: admitted,
                    index,
                    set: job.set,
                    state: Lbfgs::new(x, problem.coords().lower(), problem.coords().upper()),
                }));
            }
            admitted += 1;
        }
        if !finished_jobs.is_empty() && done(std::mem::take(&mut finished_jobs)).is_break() {
            return;
        }
        progress(finished);
        if slots.is_empty() {
            break;
        }
        thetas.clear();
        sets.clear();
        for s in &slots {
            thetas.extend_from_slice(s.state.trial());
            sets.push(s.set);
        }
        f.resize(slots.len(), 0.0);
        g.resize(slots.len() * dim, 0.0);
        backend.evaluate(problem, &thetas, &sets, &mut f, &mut g);
        slots.par_iter_mut().enumerate().for_each(|(b, s)| {
            s.state.feed(
                f[b],
                &g[b * dim..(b + 1) * dim],
                problem.coords().lower(),
                problem.coords().upper(),
                settings,
            )
        });
        let mut i = 0;
        while i < slots.len() {
            if slots[i].state.running() {
                i += 1;
                continue;
            }
            let s = slots.swap_remove(i);
            finished += 1;
            let entry = open.get_mut(&s.job).expect("an admitted job");
            let (x, fx) = s.state.best();
            entry.0[s.index] = Some(Outcome {
                theta: x.to_vec(),
                f: fx,
                status: s.state.status,
                iterations: s.state.iterations,
                evaluations: s.state.evaluations,
            });
            entry.1 -= 1;
            if entry.1 == 0 {
                let (outcomes, _) = open.remove(&s.job).expect("an admitted job");
                finished_jobs.push((s.job, outcomes.into_iter().map(Option::unwrap).collect()));
            }
        }
    }
}
