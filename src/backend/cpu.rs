//! The CPU backend: f64, batch entries spread over rayon's thread pool.

use rayon::prelude::*;

/// Size rayon's global pool from `RAYON_NUM_THREADS`, capped at the machine's cores: threads
/// beyond them only contend (a batch's entries are all compute). Returns a note when the
/// variable asked for more, or could not be read as a count. A front end calls it before any
/// parallel work; afterwards the pool exists and this does nothing.
pub fn cap_threads() -> Option<String> {
    let value = std::env::var("RAYON_NUM_THREADS").ok()?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let asked: usize = match value.trim().parse() {
        Ok(n) => n,
        Err(_) => {
            return Some(format!(
                "RAYON_NUM_THREADS='{value}' is not a number of threads; using {cores} (the cores)"
            ))
        }
    };
    if asked <= cores {
        return None;
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(cores)
        .build_global()
        .ok()?;
    Some(format!(
        "RAYON_NUM_THREADS={asked} is more than the {cores} cores; using {cores} threads"
    ))
}

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
