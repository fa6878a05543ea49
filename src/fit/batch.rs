//! The lock-step executor: many L-BFGS starts, one backend call per round.

use rayon::prelude::*;

use super::lbfgs::{Lbfgs, Settings, Status};
use super::Problem;
use crate::backend::Backend;

/// A finished start: its internal coordinates, scaled objective and how it ended.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub theta: Vec<f64>,
    /// The optimiser's (scaled) objective at `theta`.
    pub f: f64,
    pub status: Status,
    pub iterations: usize,
    pub evaluations: usize,
}

/// Minimise from every start at once; `progress(finished, total)` is called after each round.
pub fn minimize(
    problem: &Problem,
    starts: Vec<Vec<f64>>,
    settings: &Settings,
    backend: &dyn Backend,
    progress: &mut dyn FnMut(usize, usize),
) -> Vec<Outcome> {
    let dim = problem.dim();
    let total = starts.len();
    let mut states: Vec<Lbfgs> = starts
        .into_iter()
        .map(|x| Lbfgs::new(x, &problem.lo, &problem.hi))
        .collect();
    let mut thetas = Vec::new();
    let mut f = Vec::new();
    let mut g = Vec::new();
    loop {
        let active: Vec<usize> = (0..total).filter(|&i| states[i].running()).collect();
        progress(total - active.len(), total);
        if active.is_empty() {
            break;
        }
        thetas.clear();
        for &i in &active {
            thetas.extend_from_slice(states[i].trial());
        }
        f.resize(active.len(), 0.0);
        g.resize(active.len() * dim, 0.0);
        backend.evaluate(problem, &thetas, &mut f, &mut g);
        let mut running: Vec<&mut Lbfgs> = states.iter_mut().filter(|s| s.running()).collect();
        running.par_iter_mut().enumerate().for_each(|(b, s)| {
            s.feed(
                f[b],
                &g[b * dim..(b + 1) * dim],
                &problem.lo,
                &problem.hi,
                settings,
            )
        });
    }
    states
        .into_iter()
        .map(|s| {
            let (x, fx) = s.best();
            Outcome {
                theta: x.to_vec(),
                f: fx,
                status: s.status,
                iterations: s.iterations,
                evaluations: s.evaluations,
            }
        })
        .collect()
}
