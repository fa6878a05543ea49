//! The CPU backend: f64, batch entries spread over rayon's thread pool.

use rayon::prelude::*;

use super::Backend;
use crate::objective::Problem;

/// Evaluates batch entries in parallel, each one a sequential pass over the rows in f64.
#[derive(Clone, Copy, Debug, Default)]
pub struct Cpu;

impl Backend for Cpu {
    fn describe(&self) -> String {
        format!("cpu (rayon, {} threads, f64)", rayon::current_num_threads())
    }

    fn evaluate(
        &self,
        problem: &Problem,
        thetas: &[f64],
        sets: &[u32],
        f: &mut [f64],
        g: &mut [f64],
    ) {
        let dim = problem.dim();
        f.par_iter_mut()
            .zip(g.par_chunks_mut(dim))
            .zip(thetas.par_chunks(dim))
            .zip(sets.par_iter())
            .for_each(|(((fb, gb), theta), &set)| *fb = problem.eval(theta, set as usize, gb));
    }
}
