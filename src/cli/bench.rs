//! `mixlaw bench`: objective+gradient throughput of each backend, side by side in one run.
//!
//! A synthetic problem (the additive law, k = 7 like SlimPajama, 1,376 rows (about as many as the paper's
//! train split), simulated by `mixlaw::simulate` so the command needs no data files) is evaluated
//! at batches of random parameter vectors. Throughput is (batch entries × rows) per second —
//! restart × row pairs — after one warm-up evaluation (which uploads the rows to a GPU).

use std::time::Instant;

use clap::Args;

use mixlaw::backend::{Backend, Cpu, Gpu};
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
    let pr = problem(law)?;
    let mut backends: Vec<Box<dyn Backend>> = vec![Box::new(Cpu)];
    if !c.cpu_only {
        match Gpu::new() {
            Ok(g) => backends.push(Box::new(g)),
            Err(e) => eprintln!("note: no GPU measured: {e}"),
        }
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
        for b in &backends {
            b.check(&pr)?;
            b.evaluate(&pr, &thetas, &sets, &mut f, &mut g);
            let mut times: Vec<f64> = (0..c.reps.max(1))
                .map(|_| {
                    let t = Instant::now();
                    b.evaluate(&pr, &thetas, &sets, &mut f, &mut g);
                    t.elapsed().as_secs_f64()
                })
                .collect();
            times.sort_by(f64::total_cmp);
            let seconds = times[times.len() / 2];
            out.push(Measurement {
                backend: b.describe(),
                batch,
                rows: pr.rows.len(),
                seconds,
                pairs_per_second: (batch * pr.rows.len()) as f64 / seconds,
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
    let mut t = Table::new(["backend", "batch", "seconds", "pairs/s", "vs cpu"]);
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
        ]);
    }
    print!("{}", t.render());
    Ok(())
}
