//! Fit benchmarks on the published tables, optionally timed side by side with the scipy peers.
//!
//! `cargo bench --bench fit` times, on the CPU backend:
//! * the chinchilla law on Epoch's 240 points from Hoffmann's full 4,500-point grid;
//! * the additive law with 1,000 random starts on the SlimPajama paper train split (c4 target).
//!
//! With `MIXLAW_BENCH_BACKENDS=1` it times, per backend (the CPU and, when wgpu finds an
//! adapter, the GPU), the chinchilla grid fit and a 10,000-start additive fit on the same split,
//! and prints the GPU/CPU ratio (on a CPU rasteriser such as lavapipe this measures nothing
//! useful; it is meant for real GPUs).
//!
//! With `MIXLAW_BENCH_PEERS=1` it also runs `benches/peers/scipy_chinchilla.py --jac` on the
//! same grid and `scipy_mixture.py` with 20 starts on the same target (its per-start time times
//! 1,000: a full 1,000-start scipy run takes about half an hour), and prints the ratios. Each peer
//! run is bracketed by mixlaw runs (before and after) and compared with them (the chinchilla fit,
//! a third of a second, with the median of five runs before and five after), so that a change of
//! load during the run biases neither side. Machines are shared and noisy: compare only numbers
//! from one run.

use std::process::Command;
use std::time::Instant;

use mixlaw::backend::Cpu;
use mixlaw::fit::FitSettings;
use mixlaw::law::registry;

#[path = "../tests/suite/common/published.rs"]
#[allow(dead_code)]
mod published;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Run a peer and return its JSON lines.
fn peer(mut command: Command) -> Vec<serde_json::Value> {
    let out = command.output().expect("python3 runs");
    assert!(
        out.status.success(),
        "peer failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn main() {
    let with_peers = std::env::var("MIXLAW_BENCH_PEERS").is_ok_and(|v| v == "1");
    println!("backend: {}", mixlaw::backend::Backend::describe(&Cpu));

    // Chinchilla, 4,500-point grid.
    let law = registry::by_name("chinchilla").unwrap();
    let Some(ds) = published::epoch() else {
        return;
    };
    let settings = FitSettings::defaults_for(&law);
    let chinchilla = || {
        let t = Instant::now();
        let fit = mixlaw::fit::fit(&ds, &law, &settings, &Cpu, &[], &mut |_, _, _| {}).unwrap();
        (t.elapsed().as_secs_f64(), fit.targets[0].objective)
    };
    let runs = |n: usize| -> Vec<f64> { (0..n).map(|_| chinchilla().0).collect() };
    let objective = chinchilla().1;
    let before = runs(5);
    println!(
        "chinchilla 4500-grid fit: median {:.3} s of {before:.3?}, objective {objective:.16e}",
        median(before.clone())
    );
    if with_peers {
        let p = peer(
            published::scipy_chinchilla_on_epoch(&["--jac"]).expect("Epoch's table, read above"),
        );
        let after = runs(5);
        let ours = median([before.clone(), after.clone()].concat());
        let wall = p[0]["wall_s"].as_f64().unwrap();
        println!(
            "  scipy_chinchilla.py --jac: {wall:.2} s, objective {:.16e}; mixlaw median {ours:.3} s of 5 runs before and 5 after ({after:.3?} after): {:.1}x faster",
            p[0]["objective"].as_f64().unwrap(),
            wall / ours
        );
    }

    // Additive, 1,000 random starts, c4 target, paper train split.
    let Some(slim) = published::dataset(published::SLIMPAJAMA) else {
        return;
    };
    let law = registry::by_name("additive").unwrap();
    let train = published::slimpajama_train("c4_loss").expect("the SlimPajama table, read above");
    let mut settings = FitSettings::defaults_for(&law);
    settings.starts = 1000;
    let additive = || {
        let t = Instant::now();
        let fit = mixlaw::fit::fit(&train, &law, &settings, &Cpu, &[], &mut |_, _, _| {}).unwrap();
        (t.elapsed().as_secs_f64(), fit)
    };
    let (ours_add, fit) = additive();
    println!(
        "additive 1000-start fit (c4, {} rows): {ours_add:.2} s, objective {:.16e}",
        train.rows(),
        fit.targets[0].objective
    );
    if with_peers {
        let mut c = Command::new("python3");
        c.arg(published::peer_script("scipy_mixture.py"))
            .arg(&slim)
            .args([
                "--law",
                "additive",
                "--split",
                "paper-llm",
                "--starts",
                "20",
                "--targets",
                "c4",
            ]);
        let p = peer(c);
        let (after, _) = additive();
        let per_start = p[0]["wall_s"].as_f64().unwrap() / 20.0;
        println!(
            "  scipy_mixture.py: {:.3} s per start (20 starts, objective {:.16e}) -> {:.0} s for 1000; mixlaw before/after {ours_add:.2}/{after:.2} s: {:.1}x faster",
            per_start,
            p[0]["objective"].as_f64().unwrap(),
            per_start * 1000.0,
            per_start * 1000.0 / ((ours_add + after) / 2.0)
        );
    }

    if std::env::var("MIXLAW_BENCH_BACKENDS").is_ok_and(|v| v == "1") {
        backends(&ds, &train);
    }
}

/// The chinchilla grid on `epoch` and a 10,000-start additive fit on `train`, per backend.
fn backends(epoch: &mixlaw::data::Dataset, train: &mixlaw::data::Dataset) {
    use mixlaw::backend::{Backend, Gpu};
    let mut list: Vec<Box<dyn Backend>> = vec![Box::new(Cpu)];
    match Gpu::new() {
        Ok(g) => list.push(Box::new(g)),
        Err(e) => println!("no GPU: {e}"),
    }
    let chin = registry::by_name("chinchilla").unwrap();
    let add = registry::by_name("additive").unwrap();
    let mut s_add = FitSettings::defaults_for(&add);
    s_add.starts = 10_000;
    let mut rows = Vec::new();
    for b in &list {
        let time = |ds, law: &mixlaw::law::Law, s: &FitSettings| {
            let t = Instant::now();
            let f = mixlaw::fit::fit(ds, law, s, b.as_ref(), &[], &mut |_, _, _| {}).unwrap();
            (t.elapsed().as_secs_f64(), f.targets[0].objective)
        };
        let c = time(epoch, &chin, &FitSettings::defaults_for(&chin));
        let a = time(train, &add, &s_add);
        println!("{}: chinchilla grid {:.2} s (objective {:.12e}); additive 10,000 starts {:.2} s (objective {:.12e})", b.describe(), c.0, c.1, a.0, a.1);
        rows.push((c.0, a.0));
    }
    if rows.len() == 2 {
        println!(
            "gpu vs cpu: chinchilla {:.2}x, additive {:.2}x faster",
            rows[0].0 / rows[1].0,
            rows[0].1 / rows[1].1
        );
    }
}
