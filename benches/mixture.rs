//! Mixture search benchmark: k = 7 domains at lattice resolution r = 50 (C(56, 6) = 32,468,436
//! candidates) for 8 targets at once, lattice sweep plus mirror-descent refinement, on each
//! backend (the CPU, and the GPU when wgpu finds an adapter).
//!
//! `cargo bench --bench mixture`. Prints candidates per second (lattice points × targets / s).

use std::time::Instant;

use mixlaw::backend::{Backend, Cpu, Gpu};
use mixlaw::law::registry::by_name;
use mixlaw::mixture::{lattice, minimize, Bounds, Laws, Search, Weighting};
use mixlaw::rng::Rng;

fn main() {
    let law = by_name("additive").unwrap();
    let (k, targets, r) = (7, 8, 50);
    let mut rng = Rng::new(3, 0);
    let laws = Laws {
        domains: (0..k).map(|i| format!("d{i}")).collect(),
        params: (0..targets)
            .map(|_| law.sample_start(k, &mut rng))
            .collect(),
        law,
        n: 1000.0,
        d: 100.0,
    };
    let weightings: Vec<Weighting> = (0..targets)
        .map(|t| {
            let mut weights = vec![0.0; targets];
            weights[t] = 1.0;
            Weighting {
                name: format!("t{t}"),
                weights,
            }
        })
        .collect();
    let search = Search {
        resolution: r,
        top: 4,
        max_iter: 100_000,
    };
    let mut backends: Vec<Box<dyn Backend>> = vec![Box::new(Cpu)];
    match Gpu::new() {
        Ok(g) => backends.push(Box::new(g)),
        Err(e) => println!("no GPU: {e}"),
    }
    let candidates = lattice::count(k, r) as f64;
    let mut first = None;
    for b in &backends {
        let t = Instant::now();
        let sols = minimize(&laws, &weightings, &Bounds::free(k), &search, b.as_ref()).unwrap();
        let secs = t.elapsed().as_secs_f64();
        let base = *first.get_or_insert(secs);
        println!(
            "{}: k = {k}, r = {r}: {candidates:.0} candidates x {targets} targets in {secs:.2} s = {:.3e} candidates/s ({:.2}x the first backend)",
            b.describe(),
            candidates / secs,
            base / secs
        );
        let gap = sols
            .iter()
            .map(|s| s.lattice_loss - s.loss)
            .fold(0.0f64, f64::max);
        println!("  largest lattice-to-refined gap: {gap:.3e}");
    }
}
