//! `mixlaw bench`: objective+gradient throughput of each backend, side by side in one run.
//!
//! A synthetic problem (the additive law, k = 7 like SlimPajama, 1,376 rows (about as many as the paper's
//! train split), simulated by `mixlaw::simulate` so the command needs no data files) is evaluated
//! at batches of random parameter vectors. Throughput is (batch entries × rows) per second —
//! restart × row pairs — after one warm-up evaluation (which uploads the rows to a GPU).
//!
//! The wall clock around a GPU evaluation includes the host's share (coordinates, the upload of
//! θ, submit, wait, read-back), so GPU rows also give the kernel's own device time, from the
//! adapter's timestamp queries ([`Gpu::kernel_time`]), and the throughput that time implies:
//! `kernel_seconds` and `kernel_pairs_per_second` in `--json`. They are absent on CPU rows and
//! on adapters without timestamp queries (the table says which).
//!
//! With `--bandwidth GB/s` (the card's memory bandwidth, e.g. 3350 for an H100 SXM) it also
//! states the memory-bandwidth bound: each (entry, row) pair reads the row and its weight,
//! [`gpu::bytes_per_pair`] bytes, so the kernel cannot beat `bandwidth / bytes_per_pair` pairs
//! per second unless the rows stay in cache; GPU rows give their kernel throughput (or, without
//! timestamps, their wall-clock throughput) as a fraction of it (`of_bound` in `--json`).

use std::time::{Duration, Instant};

use clap::Args;

use mixlaw::backend::{gpu, Backend, Cpu, Gpu};
use mixlaw::fit::{Problem, Reduce, Residual, Rows};
use mixlaw::report::Table;
use mixlaw::rng::Rng;
use mixlaw::simulate::{simulate, Design};
use mixlaw::{Error, Result};

#[derive(Args)]
pub struct BenchCmd {
    /// Batch sizes (parameter vectors per evaluation).
    #[arg(long, value_delimiter = ',', default_value = "1000,4000,16000,64000")]
    batches: Vec<usize>,
    /// Law to evaluate.
    #[arg(long, default_value = "additive")]
    law: String,
    /// Evaluations timed per batch size (the median is reported).
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Skip the GPU even if an adapter exists.
    #[arg(long)]
    cpu_only: bool,
    /// The GPU's memory bandwidth in GB/s: states the bandwidth bound on kernel throughput and
    /// each GPU measurement's fraction of it.
    #[arg(long, value_name = "GB/S")]
    bandwidth: Option<f64>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(serde::Serialize)]
struct Measurement {
    backend: String,
    batch: usize,
    rows: usize,
    seconds: f64,
    pairs_per_second: f64,
    /// Median device time of the kernels of one evaluation (GPU with timestamp queries only).
    #[serde(skip_serializing_if = "Option::is_none")]
    kernel_seconds: Option<f64>,
    /// Pairs per second of kernel time.
    #[serde(skip_serializing_if = "Option::is_none")]
    kernel_pairs_per_second: Option<f64>,
    /// With `--bandwidth`, GPU rows: kernel pairs/s (wall-clock pairs/s without timestamps)
    /// over the bandwidth bound.
    #[serde(skip_serializing_if = "Option::is_none")]
    of_bound: Option<f64>,
    /// Measured on the GPU (whose kernel columns say "n/a" rather than "-" when untimed).
    #[serde(skip)]
    gpu: bool,
}

/// The median of `v` (not empty).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn problem(law: &'static dyn mixlaw::law::Law) -> Result<Problem> {
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
        1e-3,
    ))
}

pub fn run(c: BenchCmd) -> Result<()> {
    let law = mixlaw::law::by_name(&c.law)
        .ok_or_else(|| Error::usage(format!("unknown law '{}'", c.law)))?;
    if let Some(b) = c.bandwidth.filter(|b| !(b.is_finite() && *b > 0.0)) {
        return Err(Error::usage(format!(
            "--bandwidth must be a positive number of GB/s, not {b}"
        )));
    }
    let pr = problem(law)?;
    // Pairs per second the memory bandwidth allows, if every row were read from memory.
    let bound = c
        .bandwidth
        .map(|gbs| gbs * 1e9 / gpu::bytes_per_pair(pr.rows.k) as f64);
    let gpu = if c.cpu_only {
        None
    } else {
        Gpu::new()
            .inspect_err(|e| eprintln!("note: no GPU measured: {e}"))
            .ok()
    };
    // Each backend, and for the GPU the handle that reads its kernel time.
    let mut backends: Vec<(&dyn Backend, Option<&Gpu>)> = vec![(&Cpu, None)];
    if let Some(g) = &gpu {
        backends.push((g, Some(g)));
    }
    let dim = pr.dim();
    let mut rng = Rng::new(11, 0);
    let k = pr.rows.k;
    let mut out = Vec::new();
    for &batch in &c.batches {
        let thetas: Vec<f64> = (0..batch)
            .flat_map(|_| pr.to_internal(&law.sample_start(k, &mut rng)))
            .collect();
        let (mut f, mut g) = (vec![0.0; batch], vec![0.0; batch * dim]);
        let sets = vec![0; batch];
        let pairs = (batch * pr.rows.len()) as f64;
        for &(b, timer) in &backends {
            b.check(&pr)?;
            b.evaluate(&pr, &thetas, &sets, &mut f, &mut g);
            let (times, kernel): (Vec<f64>, Vec<Option<Duration>>) = (0..c.reps.max(1))
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
                rows: pr.rows.len(),
                seconds,
                pairs_per_second: pairs / seconds,
                kernel_seconds,
                kernel_pairs_per_second,
                of_bound: bound.filter(|_| timer.is_some()).map(|b| achieved / b),
                gpu: timer.is_some(),
            });
        }
    }
    if c.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&out).expect("serialisable")
        );
        return Ok(());
    }
    println!(
        "{} law, k = {k}, {} rows, {dim} parameters; median of {} evaluations\n",
        law.name(),
        pr.rows.len(),
        c.reps.max(1)
    );
    if let (Some(gbs), Some(b)) = (c.bandwidth, bound) {
        println!(
            "memory-bandwidth bound: {gbs} GB/s / {} bytes per pair (a row of {} floats and its \
             weight) = {b:.3e} pairs/s\n",
            gpu::bytes_per_pair(k),
            gpu::bytes_per_pair(k) / 4 - 1
        );
    }
    let mut t = Table::new([
        "backend",
        "batch",
        "seconds",
        "pairs/s",
        "vs cpu",
        "kernel seconds",
        "kernel pairs/s",
        "of bound",
    ]);
    // Kernel columns: "-" on the CPU, "n/a" on a GPU without timestamp queries.
    let kernel_cell = |m: &Measurement, v: Option<f64>, fmt: fn(f64) -> String| match v {
        Some(v) => fmt(v),
        None if m.gpu => "n/a".to_string(),
        None => "-".to_string(),
    };
    for m in &out {
        let cpu = out
            .iter()
            .find(|x| x.batch == m.batch)
            .map_or(f64::NAN, |x| x.pairs_per_second);
        t.row([
            m.backend.clone(),
            m.batch.to_string(),
            format!("{:.4}", m.seconds),
            format!("{:.3e}", m.pairs_per_second),
            format!("{:.2}", m.pairs_per_second / cpu),
            kernel_cell(m, m.kernel_seconds, |v| format!("{v:.4}")),
            kernel_cell(m, m.kernel_pairs_per_second, |v| format!("{v:.3e}")),
            m.of_bound
                .map_or("-".to_string(), |v| format!("{:.1} %", 100.0 * v)),
        ]);
    }
    print!("{}", t.render());
    if let Some(g) = &gpu {
        if g.kernel_time().is_some() {
            println!(
                "\nkernel: device time of the objective kernel per evaluation, from the \
                 adapter's timestamp queries"
            );
        } else {
            println!("\nkernel: n/a, no timestamp queries on this adapter");
        }
    }
    Ok(())
}
