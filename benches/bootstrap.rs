//! Bootstrap benchmark: 4,000 replicates of the chinchilla law on Epoch's 240 points, 10 starts
//! each, per backend, optionally against the scipy peer run once per replicate.
//!
//! `cargo bench --bench bootstrap` times the whole study (the full-data fit from Hoffmann's grid,
//! then the replicates) on the CPU backend and, when wgpu finds an adapter, on the GPU backend
//! (on a CPU rasteriser such as lavapipe the GPU figure measures nothing useful), and prints the
//! ratio. `MIXLAW_BENCH_REPLICATES` changes the count.
//!
//! With `MIXLAW_BENCH_PEERS=1` it also runs `benches/peers/scipy_chinchilla.py --jac --limit 10`
//! (one 10-start fit, what a replicate costs a scipy loop) 20 times, and scales its time to the
//! study's replicate count: the process's wall time (what a shell loop pays, interpreter start
//! included) and the optimisation time the script reports (what a Python loop over replicates
//! would pay). The peer runs are bracketed by CPU studies before and after, compared with their
//! mean. Machines are shared and noisy: compare only numbers from one run.

use std::time::Instant;

use mixlaw::backend::{Backend, Cpu, Gpu};
use mixlaw::bootstrap::{self, Destination, Resample, StudySettings};
use mixlaw::data::Dataset;
use mixlaw::fit::FitSettings;
use mixlaw::law::registry;

#[path = "../tests/suite/common/published.rs"]
#[allow(dead_code)]
mod published;

/// Run the whole study on `backend`: (wall seconds, mean α over the replicates).
fn study(ds: &Dataset, s: &StudySettings, backend: &dyn Backend) -> (f64, f64) {
    let law = registry::by_name("chinchilla").unwrap();
    let t = Instant::now();
    let study = bootstrap::run(
        ds,
        &law,
        s,
        None,
        backend,
        &Destination::default(),
        &mut |_| {},
    )
    .unwrap();
    let wall = t.elapsed().as_secs_f64();
    let summary = study.summarise(0.95, &[]).unwrap();
    (wall, summary.targets[0].params[2].mean)
}

fn main() {
    let replicates: usize = std::env::var("MIXLAW_BENCH_REPLICATES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4000);
    let Some(ds) = published::epoch() else {
        return;
    };
    let law = registry::by_name("chinchilla").unwrap();
    let mut fit = FitSettings::defaults_for(&law);
    fit.polish = 2;
    let s = StudySettings {
        replicates,
        starts: 10,
        seed: 0,
        resample: Resample::Rows,
        optimum_at: None,
        fit,
    };
    println!(
        "bootstrap: chinchilla, {} points, {replicates} replicates x 10 starts",
        mixlaw::fit::row_ids(&ds, 0).len()
    );
    let mut backends: Vec<Box<dyn Backend>> = vec![Box::new(Cpu)];
    match Gpu::new() {
        Ok(g) => backends.push(Box::new(g)),
        Err(e) => println!("no GPU: {e}"),
    }
    let mut walls = Vec::new();
    for b in &backends {
        let (wall, alpha) = study(&ds, &s, b.as_ref());
        println!(
            "{}: {wall:.2} s, {:.2} ms per replicate (the full-data fit included); mean alpha {alpha:.6}",
            b.describe(),
            1e3 * wall / replicates as f64
        );
        walls.push(wall);
    }
    if walls.len() == 2 {
        println!("cpu / gpu wall time: {:.2}", walls[0] / walls[1]);
    }
    if std::env::var("MIXLAW_BENCH_PEERS").is_ok_and(|v| v == "1") {
        let runs = 20;
        let (mut process, mut reported) = (0.0, 0.0);
        for _ in 0..runs {
            let t = Instant::now();
            let out = published::scipy_chinchilla_on_epoch(&["--jac", "--limit", "10"])
                .expect("Epoch's table, read above")
                .output()
                .expect("python3 runs");
            process += t.elapsed().as_secs_f64();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
            reported += v["wall_s"].as_f64().unwrap();
        }
        let (after, _) = study(&ds, &s, &Cpu);
        let ours = (walls[0] + after) / 2.0;
        let scale = replicates as f64 / runs as f64;
        println!(
            "scipy_chinchilla.py --jac --limit 10, x{replicates}: {:.1} s as processes ({:.3} s each), {:.1} s of optimisation ({:.4} s each)",
            process * scale,
            process / runs as f64,
            reported * scale,
            reported / runs as f64
        );
        println!(
            "mixlaw cpu before/after {:.2}/{after:.2} s: {:.0}x faster than the process loop, {:.0}x faster than the optimisation alone",
            walls[0],
            process * scale / ours,
            reported * scale / ours
        );
    }
}
