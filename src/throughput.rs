//! Objective+gradient throughput of each backend, side by side in one run (`mixlaw bench`).
//!
//! A synthetic problem (a law at k = 7 like SlimPajama, 1,376 rows, about as many as the
//! paper's train split, simulated by [`crate::simulate`] so that no data file is needed) is
//! evaluated at batches of random parameter vectors. Throughput is (batch entries × rows) per
//! second — restart × row pairs — after one warm-up evaluation (which uploads the rows to a GPU).
//!
//! The wall clock around a GPU evaluation includes the host's share (coordinates, the upload of
//! θ, submit, wait, read-back), so GPU measurements also give the kernel's own device time, from
//! the adapter's timestamp queries ([`Gpu::kernel_time`]), and the throughput that time implies.
//! With the card's memory bandwidth they also state the memory-bandwidth bound: each (entry, row)
//! pair reads the row and its weight, [`gpu::bytes_per_pair`] bytes, so the kernel cannot beat
//! `bandwidth / bytes_per_pair` pairs per second unless the rows stay in cache.

use std::time::{Duration, Instant};

use crate::backend::{gpu, Backend, Cpu, Gpu};
use crate::law::Law;
use crate::loss::{Loss, Reduce, Residual};
use crate::objective::{Problem, Rows};
use crate::rng::Rng;
use crate::simulate::{simulate, Design};
use crate::{Error, Result};

/// One backend at one batch size.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Measurement {
    /// The backend's description.
    pub backend: String,
    /// Parameter vectors per evaluation.
    pub batch: usize,
    /// Rows of the problem.
    pub rows: usize,
    /// Median wall-clock seconds of one evaluation.
    pub seconds: f64,
    /// (entry, row) pairs per second of wall clock.
    pub pairs_per_second: f64,
    /// Median device time of the kernels of one evaluation (GPU with timestamp queries only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_seconds: Option<f64>,
    /// Pairs per second of kernel time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_pairs_per_second: Option<f64>,
    /// With `--bandwidth`, GPU rows: kernel pairs/s (wall-clock pairs/s without timestamps)
    /// over the bandwidth bound.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub of_bound: Option<f64>,
    /// Measured on the GPU (whose kernel columns say "n/a" rather than "-" when untimed).
    #[serde(skip)]
    pub gpu: bool,
}

/// The median of `v` (not empty).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The benchmark's problem: `law` on a simulated table like the paper's train split.
pub fn problem(law: &Law) -> Result<Problem> {
    let domains: Vec<String> = (0..7).map(|i| format!("d{i}")).collect();
    let mut rng = Rng::new(7, 0);
    let truth = law.sample_start(7, &mut rng);
    let design = Design {
        domains: domains.clone(),
        mixtures: 86,
        min_weight: 0.02,
        sizes: vec![310e6, 680e6, 937e6, 1235e6],
        tokens: vec![5e9, 10e9, 20e9, 40e9],
        noise: 0.005,
        seed: 7,
        n_unit: 1e6,
        d_unit: 1e9,
    };
    let sim = simulate(law, &truth, &design)?;
    let rows = Rows::new(
        sim.n.iter().map(|n| (n / 1e6).ln()).collect(),
        sim.d.iter().map(|d| (d / 1e9).ln()).collect(),
        sim.h.concat(),
        sim.loss.clone(),
        if law.uses_mixture() { 7 } else { 0 },
    );
    let n = rows.len();
    Ok(Problem::new(
        law,
        law.params(&domains),
        rows,
        vec![1.0; n],
        Residual::Raw,
        Reduce::Mean,
        Loss::huber(1e-3),
    ))
}

/// What [`measure`] found: the problem's shape, the bandwidth bound, and the measurements.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Throughput {
    /// Domains of the problem.
    pub k: usize,
    /// Rows of the problem.
    pub rows: usize,
    /// Parameters of the law at `k` domains.
    pub dim: usize,
    /// Bytes each (entry, row) pair reads on the GPU.
    pub bytes_per_pair: usize,
    /// Pairs per second the memory bandwidth allows, if every row were read from memory.
    pub bound: Option<f64>,
    /// Backend by backend, batch size by batch size.
    pub measurements: Vec<Measurement>,
}

/// An error unless `bandwidth` (GB/s) is a positive number.
pub fn check_bandwidth(bandwidth: Option<f64>) -> Result<()> {
    match bandwidth.filter(|b| !(b.is_finite() && *b > 0.0)) {
        Some(b) => Err(Error::usage(format!(
            "--bandwidth must be a positive number of GB/s, not {b}"
        ))),
        None => Ok(()),
    }
}

/// Objective+gradient throughput of the CPU backend and of `gpu` (if given) on [`problem`]`(law)`,
/// at each batch size of `batches`, the median of `reps` timed evaluations after one warm-up;
/// with `bandwidth` (GB/s), each GPU measurement's fraction of the memory-bandwidth bound.
pub fn measure(
    law: &Law,
    batches: &[usize],
    reps: usize,
    gpu: Option<&Gpu>,
    bandwidth: Option<f64>,
) -> Result<Throughput> {
    check_bandwidth(bandwidth)?;
    let pr = problem(law)?;
    let k = pr.rows().k();
    let bytes_per_pair = gpu::bytes_per_pair(k);
    let bound = bandwidth.map(|gbs| gbs * 1e9 / bytes_per_pair as f64);
    // Each backend, and for the GPU the handle that reads its kernel time.
    let mut backends: Vec<(&dyn Backend, Option<&Gpu>)> = vec![(&Cpu, None)];
    if let Some(g) = gpu {
        backends.push((g, Some(g)));
    }
    let dim = pr.dim();
    // Sizes are checked before any work, as every command checks them (`crate::memory`): a
    // batch of 1e12 aborted allocating its points, 2^64 reps overflowed the vector of times, and
    // a batch of 0 measured nothing and called it NaN times the CPU's speed.
    for &batch in batches {
        if batch == 0 {
            return Err(Error::usage(
                "--batches: a batch holds at least one parameter vector",
            ));
        }
        // The points, values, gradients and weight sets of one batch.
        crate::memory::check(
            &format!("--batches {batch}"),
            batch as u128 * (16 * dim as u128 + 12),
            "use smaller batches",
        )?;
    }
    crate::memory::check(
        &format!("--reps {reps}"),
        reps as u128 * 24,
        "time fewer evaluations",
    )?;
    let mut rng = Rng::new(11, 0);
    let mut out = Vec::new();
    for &batch in batches {
        let thetas: Vec<f64> = (0..batch)
            .flat_map(|_| pr.coords().to_internal(&law.sample_start(k, &mut rng)))
            .collect();
        let (mut f, mut g) = (vec![0.0; batch], vec![0.0; batch * dim]);
        let sets = vec![0; batch];
        let pairs = (batch * pr.rows().len()) as f64;
        for &(b, timer) in &backends {
            b.check(&pr)?;
            b.evaluate(&pr, &thetas, &sets, &mut f, &mut g);
            let (times, kernel): (Vec<f64>, Vec<Option<Duration>>) = (0..reps.max(1))
                .map(|_| {
                    if let Some(t) = timer {
                        t.reset_kernel_time();
                    }
                    let t = Instant::now();
                    b.evaluate(&pr, &thetas, &sets, &mut f, &mut g);
                    let wall = t.elapsed().as_secs_f64();
                    (wall, timer.and_then(Gpu::kernel_time))
                })
                .unzip();
            let seconds = median(times);
            let kernel_seconds = kernel
                .into_iter()
                .map(|k| k.map(|d| d.as_secs_f64()))
                .collect::<Option<Vec<f64>>>()
                .map(median);
            let kernel_pairs_per_second = kernel_seconds.map(|k| pairs / k);
            let achieved = kernel_pairs_per_second.unwrap_or(pairs / seconds);
            out.push(Measurement {
                backend: b.describe(),
                batch,
                rows: pr.rows().len(),
                seconds,
                pairs_per_second: pairs / seconds,
                kernel_seconds,
                kernel_pairs_per_second,
                of_bound: bound.filter(|_| timer.is_some()).map(|b| achieved / b),
                gpu: timer.is_some(),
            });
        }
    }
    Ok(Throughput {
        k,
        rows: pr.rows().len(),
        dim,
        bytes_per_pair,
        bound,
        measurements: out,
    })
}
