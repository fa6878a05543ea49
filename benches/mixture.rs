//! Mixture search benchmark, side by side with the numpy peer (`benches/peers/numpy_sweep.py`)
//! in the same run: the lattice sweep of the paper's additive fit (8 targets, k = 7 SlimPajama
//! domains, `tests/fixtures/golden/fit_additive_slimpajama.json`) at N = 7e9, D = 1.5e11, for every
//! target and their average (what the peer computes).
//!
//! * r = 50 (C(56, 6) = 32,468,436 points): the separable sweep (median of 3), the batched sweep
//!   that evaluates every point on each backend (the route of laws without a separable form, and
//!   every law's before the separable sweep), and the numpy peer; the lattice bests must agree.
//! * r = 100 (1,705,904,746 points): the separable sweep alone (the peer would take ~50x its
//!   r = 50 time).
//!
//! `cargo bench --bench mixture` (`-- --quick` skips r = 100 and the batched sweeps). Prints
//! candidates per second (lattice points × targets / s) and ratios to the peer.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use mixlaw::backend::{Backend, Cpu, Gpu};
use mixlaw::fit::FitFile;
use mixlaw::mixture::{
    lattice, lattice_best, lattice_best_batched, lattice_best_device, Bounds, Laws, Search,
    Weighting,
};

type Best = Vec<Vec<(f64, Vec<f64>)>>;

fn timed(f: impl Fn() -> Best, runs: usize) -> (f64, Best) {
    let mut times = Vec::new();
    let mut out = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        out = f();
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    (times[runs / 2], out)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fit_path = root.join("tests/fixtures/golden/fit_additive_slimpajama.json");
    let (fit, law) = FitFile::read(&fit_path).unwrap();
    let (n, d) = (7e9, 1.5e11);
    let laws = Laws::new(&fit, &law, n, d).unwrap();
    let (k, targets) = (fit.domains.len(), fit.targets.len());
    let weightings = Weighting::each_and_avg(&fit);
    let avg = weightings.len() - 1;
    let free = Bounds::free(k);
    let search = |r| Search {
        resolution: r,
        top: 4,
        max_iter: 0,
    };
    println!(
        "{} (k = {k}, {targets} targets), {} threads",
        fit_path.display(),
        rayon::current_num_threads()
    );

    let r = 50;
    let points = lattice::count(k, r) as f64;
    let rate = |secs: f64| points * targets as f64 / secs;
    let (ours, best) = timed(
        || lattice_best(&laws, &weightings, &free, &search(r), &Cpu),
        3,
    );
    println!(
        "r = {r}: {points:.0} points x {targets} targets\n  separable sweep (cpu, f64): {ours:.3} s = {:.3e} candidates/s",
        rate(ours)
    );
    match Gpu::new() {
        Ok(gpu) => {
            // The device's sweep alone (the weightings it vouches for), then the route a search
            // takes on this backend (the CPU sweeps the weightings the device declines).
            let (secs, own) = timed(
                || {
                    let own = lattice_best_device(&laws, &weightings, &free, &search(r), &gpu);
                    own.into_iter().map(Option::unwrap_or_default).collect()
                },
                3,
            );
            let swept: Vec<usize> = (0..own.len()).filter(|&w| !own[w].is_empty()).collect();
            let rate_of = |secs: f64, n: usize| points * n as f64 / secs;
            println!(
                "  separable sweep ({}) of the {} weightings it vouches for, f64 re-score: {secs:.3} s = {:.3e} point-weightings/s; same bests as the cpu: {}",
                gpu.describe(),
                swept.len(),
                rate_of(secs, swept.len()),
                swept.iter().all(|&w| own[w] == best[w])
            );
            let (secs, got) = timed(
                || lattice_best(&laws, &weightings, &free, &search(r), &gpu),
                3,
            );
            println!(
                "  separable sweep, gpu backend (declined weightings on the cpu): {secs:.3} s = {:.3e} candidates/s ({:.2}x the cpu's time); same bests: {}",
                rate(secs),
                secs / ours,
                got == best
            );
        }
        Err(e) => println!("  no GPU: {e}"),
    }
    let peer = Command::new("python3")
        .arg(root.join("benches/peers/numpy_sweep.py"))
        .arg(&fit_path)
        .args([
            "--n",
            "7e9",
            "--d",
            "1.5e11",
            "--resolution",
            &r.to_string(),
        ])
        .env("OPENBLAS_NUM_THREADS", "1")
        .output();
    match peer {
        Ok(o) if o.status.success() => {
            let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            let wall = v["wall_s"].as_f64().unwrap();
            println!(
                "  numpy peer: {wall:.3} s = {:.3e} candidates/s; the separable sweep is {:.1}x faster",
                rate(wall),
                wall / ours
            );
            let peer_loss = v["avg"]["loss"].as_f64().unwrap();
            let peer_h: Vec<f64> = fit
                .domains
                .iter()
                .map(|dm| v["avg"]["h"][dm].as_f64().unwrap())
                .collect();
            let (our_loss, our_h) = &best[avg][0];
            println!("  avg lattice best: ours {our_loss:.15} at {our_h:?}, peer {peer_loss:.15} at {peer_h:?}");
            assert_eq!(*our_h, peer_h, "the same lattice best as the peer");
        }
        Ok(o) => println!(
            "  numpy peer failed: {}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => println!("  numpy peer did not run: {e}"),
    }
    if !quick {
        let mut backends: Vec<Box<dyn Backend>> = vec![Box::new(Cpu)];
        match Gpu::new() {
            Ok(g) => backends.push(Box::new(g)),
            Err(e) => println!("  no GPU: {e}"),
        }
        for b in &backends {
            let (secs, got) = timed(
                || lattice_best_batched(&laws, &weightings, &free, &search(r), b.as_ref()),
                1,
            );
            println!(
                "  batched sweep ({}): {secs:.3} s = {:.3e} candidates/s ({:.1}x the separable sweep's time); same avg best: {}",
                b.describe(),
                rate(secs),
                secs / ours,
                got[avg][0].1 == best[avg][0].1
            );
        }
        let r = 100;
        let points = lattice::count(k, r) as f64;
        let (secs, _) = timed(
            || lattice_best(&laws, &weightings, &free, &search(r), &Cpu),
            1,
        );
        println!(
            "r = {r}: {points:.0} points x {targets} targets\n  separable sweep (cpu, f64): {secs:.3} s = {:.3e} candidates/s",
            points * targets as f64 / secs
        );
    }
}
